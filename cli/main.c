/* main.c: the `rnn` command: train, sample, classify, eval, plot, info (and help). Turns library
 * failures into one-line errors and non-zero exits; the library itself never
 * exits. */
#define _XOPEN_SOURCE 700 /* wcwidth */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>
#include <locale.h>

#include "cache.h"
#include "checkpoint.h"
#include "classify.h"
#include "textdata.h"
#include "gemm.h"
#include "options.h"
#include "plot.h"
#include "sample.h"
#include "tokenizer.h"
#include "train.h"


static void print_json_string(const char *s);

static int die(const char *msg) {
    fprintf(stderr, "rnn: %s\n", msg);
    return 1;
}

/* One line on stderr: "rnn: ..." (cmd NULL), or a command's own, "rnn CMD: ...". */
static int vreport(const char *cmd, const char *fmt, va_list ap) {
    if (cmd)
        fprintf(stderr, "rnn %s: ", cmd);
    else
        fputs("rnn: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return 1;
}

static int dief(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int dief(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(NULL, fmt, ap);
    va_end(ap);
    return 1;
}

/* A command's own message: "rnn CMD: ...", as its option errors read. */
static int cmdf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cmdf(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "rnn %s: recurrent networks (RNN, LSTM, GRU) in C\n"
            "usage:\n"
            "  rnn train  [--config FILE] [--data FILE] [--OPTION VALUE ...]   (rnn train --help)\n"
            "  rnn sample CKPT [--prime TEXT|--prime-file FILE] [--dynamic LR] [--length N] [--temperature X] [--top-k K]\n"
            "                  [--top-p P] [--min-p P] [--repeat-penalty X] [--repeat-last N] [--seed S] [--stop STRING] [--no-unk] [--recase] [--precision fp32|bf16] [--raw-bytes] [--threads N]\n"
            "  rnn classify CKPT [--json] [--attention] [--ensemble A,B] [--files] [--precision fp32|bf16] [TEXT ...]   (no TEXT: one per line on stdin)\n"
            "  rnn eval   CKPT --data FILE [--json] [--ensemble A,B] [--dynamic LR] [--streams N] [--precision fp32|bf16]\n"
            "  rnn plot   RUNDIR|metrics.csv [--out FILE.svg]   (loss, accuracy and lr against step)\n"
            "  rnn info   CKPT [--json]   (task, classes, architecture, parameters, tokenizer)\n"
            "  rnn tokenize CKPT [--json] < TEXTS   (the token ids of each line, as the model reads it)\n"
            "With no --data, rnn train learns the built-in human-numbers corpus.\n"
            "rnn COMMAND --help lists a command's options.\n",
            RNN_VERSION);
}

/* `rnn CMD --help`: one command's usage and options. 0 if cmd has none. */
static int command_help(const char *cmd) {
    static const char *const help[][2] = {
        {"sample",
         "usage: rnn sample CKPT [options]: generate text from a language model (streamed to stdout)\n"
         "  --prime TEXT        text to start from (default: none)\n"
         "  --prime-file FILE   the same, read from a file\n"
         "  --dynamic LR        first adapt the model to the prime by dynamic evaluation (rnn eval --help:\n"
         "                      --dynamic, --dynamic-seg, -decay, -clip, -rms), then write on in its manner\n"
         "  --length N          tokens to generate (default 500)\n"
         "  --temperature X     divide the logits by X; 0 = greedy (default 1)\n"
         "  --top-k K           sample among the K most likely tokens (0: all), after the temperature\n"
         "  --top-p P           then among the fewest most likely of those whose probability reaches P of\n                      theirs (1: all). Tokens no text encodes to (<pad>, [CLS], ...) are never drawn\n"
         "  --min-p P           then among those at least P times as likely as the likeliest (0: all; 0.05-0.1\n"
         "                      cuts the unlikely tail, more at a high temperature)\n"
         "  --repeat-penalty X  first make the tokens of the last --repeat-last tokens (the prime's too) less\n"
         "                      likely: each one's logit divided by X where positive, multiplied where not\n"
         "                      (CTRL's penalty; 1: off, the default; 1.1-1.3 stops a word model's loops)\n"
         "  --repeat-last N     the tokens --repeat-penalty looks back on (default 64, at most 65536; 0: all the text)\n"
         "  --seed S            random seed, 0 to 2^64-1: the same seed gives the same text on the same\n                      machine and build (default 1337)\n"
         "  --stop STRING       stop where the text first ends with STRING (which may begin in the prime;\n"
         "                      given once; lowercased for a lowercasing tokenizer, as it writes text).\n"
         "                      The output ends in a newline (one is added where the text\n"
         "                      lacks it; none with --raw-bytes)\n"
         "  --precision fp32|bf16  weights stored in bf16 (sums in fp32): half the memory read per token, on any CPU\n"
         "  --no-unk            never draw the unknown token (<unk>, [UNK]; a char model's U+FFFD)\n"
         "  --recase            a lowercasing tokenizer's text in sentence case: capitals at the start of\n"
         "                      the text, a line and a sentence, and for the word \"i\" (the prime as given)\n"
         "  --raw-bytes         a byte model draws from all 256 bytes; by default its text is held to valid\n"
         "                      UTF-8 without NUL (it finishes a character begun at the end of --length)\n"
         "  --threads N         threads (0: all cores, the default)\n"
         "  --cache N           mix a neural cache of the last N states into each draw (off unless given,\n"
         "                      even for a model trained with one: it makes text repeat itself)\n"
         "  --cache-theta X, --cache-lambda X   its sharpness and share (default: the model's, else 0.3, 0.2)\n"},
        {"classify",
         "usage: rnn classify CKPT [--json] [--attention] [--ensemble A,B] [--files] [--max-len N] [--truncate head|tail] [--threads N] [--precision fp32|bf16] [TEXT ...]: label texts with a classifier\n"
         "  TEXT ...            texts to classify; none: one text per line from stdin (a prompt on a terminal)\n"
         "                      (given or piped, texts go through the model in batches, as rnn eval's, printed in order)\n"
         "  --files             the TEXTs are files, each read whole as one text (newlines and all), or\n"
         "                      directories, each file of theirs ending in .txt one text (subdirectories too, in\n"
         "                      name order; hidden ones, run directories and what is no regular file skipped,\n"
         "                      as rnn train's dir format reads a class); each line or object names its file\n"
         "                      first (PATH<TAB>LABEL<TAB>P, a tab or newline in PATH written \\t, \\n; or\n"
         "                      {\"file\": PATH, ...})\n"
         "  --json              one JSON object per text: {\"label\": NAME, \"probabilities\": [p_0, ...]}\n"
         "  --attention         also show the tokens attention pooling weighted most\n"
         "  --ensemble A,B,...  the mean probabilities of CKPT and these classifiers (same classes, same order)\n"
         "  --max-len N         read each text by N of its tokens (0: whole texts; default: as the model was\n"
         "                      trained, rnn train --max-len; rnn info shows it)\n"
         "  --truncate head|tail  keep the first or the last of them (default: the model's side, else head)\n"
         "  --threads N         threads (0: all cores, the default)\n"
         "  --precision fp32|bf16  bf16 products with fp32 sums, as rnn train --precision bf16 (AMX or\n"
         "                      AVX512-BF16: ~1.7x the texts a second in batches; probabilities move by\n"
         "                      ~1e-3, a few 1e-3 at most; elsewhere a warning and fp32; default fp32)\n"
         "  --                  ends the options (for a text that starts with --)\n"},
        {"eval",
         "usage: rnn eval CKPT --data FILE [options]: score a model on a file\n"
         "  --data FILE         language model: a text, or a directory of them read as one (as rnn train reads\n"
         "                      one): loss, perplexity, accuracy, bits per char or byte;\n"
         "                      classifier: labelled data (loss, accuracy, macro-F1 over all the model's classes,\n"
         "                      a class neither in the data nor predicted counting 0; confusion matrix)\n"
         "  --json              one JSON object\n"
         "  --format, --header, --label-col, --text-col, --label-names, --label-base   as for rnn train (classifier data)\n"
         "  --max-len N, --truncate head|tail   classifier: read each text by its first or last N tokens\n"
         "                      (0: whole texts; default: as each model was trained, rnn train --max-len)\n"
         "  --ensemble A,B,...  classifier: score the mean class probabilities of CKPT and these checkpoints\n"
         "                      (same classes in the same order; each reads the data with its own tokenizer)\n"
         "  --cache N           language model: with a neural cache of the last N states (0: none; default:\n"
         "                      the model's own, from rnn train --cache); the model's own scores are printed too\n"
         "  --cache-theta X, --cache-lambda X   its sharpness and share (default: the model's, else 0.3, 0.2)\n"
         "  --dynamic LR        language model: dynamic evaluation (Krause et al. 2018): read the file in\n"
         "                      segments, score each, then take a gradient step of LR on its loss (SGD: 0.1\n"
         "                      suits char models); every token is still predicted from the tokens before it\n"
         "  --dynamic-rms B     divide each step by the root of the gradient's running mean square with decay B\n"
         "                      (RMSprop; 0: plain SGD, the default; 0.999 with --dynamic 2e-4 suits char models)\n"
         "  --dynamic-seg N     tokens per segment (default 20)\n"
         "  --dynamic-decay X   each step also moves the weights X of the way back to the checkpoint's (default 0)\n"
         "  --dynamic-clip X    clip each step's gradient norm to X (0: off; default 5)\n"
         "  --streams N         language model: read the file as N streams side by side, each from a zero\n"
         "                      state, as training's validation reads its text as --batch streams (N = the\n"
         "                      run's --batch gives its validation loss); faster, though the n mod N last\n"
         "                      tokens and each stream's first go unpredicted (default 1: one stream)\n"
         "  --threads N         threads (0: all cores, the default)\n"
         "  --precision fp32|bf16  bf16 products with fp32 sums, as rnn train --precision bf16 (AMX or\n"
         "                      AVX512-BF16: ~1.7x a classifier's texts a second, 3x a language model's tokens\n"
         "                      with --streams 32; losses move by 1e-5 to 1e-3; one stream keeps its step products in\n"
         "                      fp32; elsewhere a warning and fp32; default fp32)\n"},
        {"plot",
         "usage: rnn plot RUNDIR|metrics.csv [--out FILE.svg]: draw a run's metrics\n"
         "  loss (train, validation), validation accuracy (and macro-F1), learning rate against step;\n"
         "  written to RUNDIR/metrics.svg (FILE.svg for FILE.csv) unless --out; prints the path\n"},
        {"info",
         "usage: rnn info CKPT [--json]: what a checkpoint holds\n"
         "  task, classes, architecture, parameter count, tokenizer; --json adds the config\n"},
        {"tokenize",
         "usage: rnn tokenize CKPT [--json] < TEXTS: the token ids the model reads each line of stdin as\n"
         "  one line of ids per text, separated by spaces (a wordpiece model's for PyTorch, say); a classifier's\n"
         "  as it reads a text: cut to its --max-len (its head or tail, as trained), an empty text as one\n"
         "  unknown token (a byte model's: a space)\n"
         "  --json              {\"ids\": [...], \"tokens\": [...]} per text (a classifier's with \"cut\": the\n"
         "                      tokens --max-len left out)\n"},
    };
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++)
        if (!strcmp(cmd, help[i][0])) {
            fputs(help[i][1], stdout);
            return 1;
        }
    return 0;
}

static volatile sig_atomic_t got_signal;

static void on_sigint(int sig) {
    got_signal = sig;
    rnn_train_interrupt();
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills at once */
}

/* Ctrl-C and SIGTERM during training: taken by one thread of their own
 * (sigwait), blocked in every other thread, so that no handler ever runs on
 * a thread that computes. oneDNN 2.6's JIT sgemm points the stack pointer
 * into the heap, and a handler run inside it wrote its frame there: the run
 * aborted on a corrupted heap (oneDNN issue 4845) instead of saving. */
static sigset_t stop_signals;

static void *watch_signals(void *arg) {
    (void)arg;
    int sig;
    if (sigwait(&stop_signals, &sig)) return NULL;
    got_signal = sig;
    rnn_train_interrupt();
    /* A large model's step can take minutes, and the run stops only after
     * it: past a second without a word, say so (and how to stop at once). */
    const struct timespec second = {1, 0};
    int again = sigtimedwait(&stop_signals, NULL, &second);
    if (again < 0 && rnn_train_interrupt_pending())
        fprintf(stderr, "\nrnn: %s: the run stops, and is saved, when its current step (or validation) ends (%s "
                "again stops it at once, unsaved)\n", sig == SIGINT ? "Ctrl-C" : "SIGTERM", sig == SIGINT ? "Ctrl-C" : "SIGTERM");
    if (again > 0) sig = again;
    else if (sigwait(&stop_signals, &sig)) return NULL;
    signal(sig, SIG_DFL); /* a second one kills at once */
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    raise(sig);
    return NULL;
}

/* Before any other thread starts: the threads made later (OpenMP's) inherit
 * the block. on_sigint stays for a thread made before (a BLAS's own pool),
 * which does not block them. */
static void watch_stop_signals(void) {
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    pthread_t w;
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) == 0 && pthread_create(&w, NULL, watch_signals, NULL) != 0)
        pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL); /* no watcher: the handler, as before */
}

/* Applies --name value (or --name=value) pairs from argv to o. Returns 0, or
 * 1 after printing the error. */
static int apply_flags(rnn_opts *o, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            fprintf(stderr, "rnn train: unexpected argument '%s' (options are --name value)\n", a);
            return 1;
        }
        const char *name = a + 2;
        char key[64];
        const char *eq = strchr(name, '=');
        const char *val = NULL;
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - name), name);
            name = key;
            val = eq + 1;
        }
        if (!strcmp(name, "config")) { /* already read, before the flags */
            if (!val) i++;
            continue;
        }
        int flag = rnn_opts_is_flag(name);
        if (flag < 0) return die(rnn_last_error());
        if (flag && !val && i + 1 < argc && rnn_opts_bool_word(argv[i + 1]) != 2)
            val = argv[++i]; /* --lowercase false: rnn train takes no other words */
        if (!flag && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "rnn train: option --%s needs a value\n", name);
                return 1;
            }
            val = argv[++i];
        }
        if (rnn_opts_set(o, name, val)) return die(rnn_last_error());
    }
    return 0;
}

static int cmd_train(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: rnn train [--config FILE] [--OPTION VALUE ...]\n"
                   "A config file holds 'name = value' lines with the names below, and '#' comment lines\n"
                   "(a '#' after a value is part of it); flags override it.\n"
                   "--resume RUNDIR continues a run (its config.txt, then these flags).\n\n");
            rnn_opts_help(stdout);
            return 0;
        }
    rnn_opts o;
    rnn_opts_default(&o);
    /* Order: defaults < --resume RUNDIR/config.txt < --config FILE < flags. */
    const char *resume_dir = NULL;
    rnn_opts run; /* the resumed run's own options */
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--resume") && i + 1 < argc) v = argv[i + 1];
        if (!strncmp(argv[i], "--resume=", 9)) v = argv[i] + 9;
        if (v) {
            if (!*v) return die("option --resume needs a value (the run's directory)");
            if (strlen(v) >= RNN_OPT_STR)
                return dief("option --resume: value too long (%zu characters, max %d)", strlen(v), RNN_OPT_STR - 1);
            char path[RNN_OPT_STR + 16];
            snprintf(path, sizeof path, "%s/config.txt", v);
            struct stat st;
            if (stat(v, &st) != 0)
                return dief("--resume %s: %s (the directory of the run to continue)", v, strerror(errno));
            if (!S_ISDIR(st.st_mode)) return dief("--resume %s: not a directory (the run's, not a file in it)", v);
            if (access(path, F_OK) != 0 && errno == ENOENT)
                return dief("--resume %s: no run there (it has no config.txt; rnn train --out makes one)", v);
            if (rnn_opts_load_file(&o, path)) return die(rnn_last_error());
            /* How the run started, not how it goes on: its state holds the
             * weights now (an --init-from given here is still refused). */
            o.init_from[0] = o.init_backward[0] = 0;
            run = o;
            resume_dir = v;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) return die("option --config needs a value");
            v = argv[i + 1];
        }
        if (!strncmp(argv[i], "--config=", 9)) v = argv[i] + 9;
        if (v && !*v) return die("option --config needs a value");
        if (v && rnn_opts_load_file(&o, v)) return die(rnn_last_error());
    }
    if (apply_flags(&o, argc, argv)) return 1;
    if (resume_dir && rnn_opts_check_resume(&run, &o, resume_dir)) return die(rnn_last_error());
    watch_stop_signals();
    if (rnn_train(&o, NULL, NULL, NULL, 0)) return die(rnn_last_error());
    if (got_signal) { /* saved; now die of the signal, so that a calling script stops too */
        fflush(NULL);
        signal(got_signal, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
        raise(got_signal);
    }
    return 0;
}

/* Parses "--name value" pairs for the small commands. */
typedef struct {
    const char *name;
    const char **val;
    int is_flag;
} small_opt;

static int parse_small(const char *cmd, int argc, char **argv, const small_opt *opts, int n,
                       const char **positional) {
    *positional = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") && command_help(cmd)) exit(0); /* as before CKPT, and as classify */
        if (strncmp(argv[i], "--", 2)) {
            if (*positional) {
                fprintf(stderr, "rnn %s: unexpected argument '%s'\n", cmd, argv[i]);
                return 1;
            }
            *positional = argv[i];
            continue;
        }
        if (!strcmp(argv[i], "--help") && command_help(cmd)) exit(0); /* as an option, not a value */
        const char *name = argv[i] + 2, *eq = strchr(name, '='); /* --name value, or --name=value */
        const size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = 0;
        while (k < n && (strlen(opts[k].name) != len || strncmp(name, opts[k].name, len))) k++;
        if (k == n) {
            fprintf(stderr, "rnn %s: unknown option --%.*s\n", cmd, (int)len, name);
            return 1;
        }
        const char *val;
        if (opts[k].is_flag) {
            if (eq) {
                fprintf(stderr, "rnn %s: option --%s takes no value\n", cmd, opts[k].name);
                return 1;
            }
            val = "1";
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            val = NULL;
        }
        /* "" is no value (a script's unset variable), except for the prime: none */
        if (!val || (!*val && strcmp(opts[k].name, "prime"))) {
            fprintf(stderr, "rnn %s: option --%s needs a value%s\n", cmd, opts[k].name,
                    val ? " (an empty one reads as none)" : "");
            return 1;
        }
        /* the last of a flag given twice counts; but a second --ensemble would drop the first one's
         * models, and a second --stop the first string */
        if (*opts[k].val && (!strcmp(opts[k].name, "ensemble") || !strcmp(opts[k].name, "stop"))) {
            fprintf(stderr, "rnn %s: option --%s is given twice (%s)\n", cmd, opts[k].name,
                    opts[k].name[0] == 'e' ? "list the models in one: A,B" : "one stop string: the text ends where it first holds it");
            return 1;
        }
        *opts[k].val = val;
    }
    return 0;
}

static int parse_num(const char *cmd, const char *flag, const char *s, double lo, double hi,
                     double *out) {
    double v;
    if (rnn_parse_decimal(s, &v) || v < lo || v > hi) {
        fprintf(stderr, "rnn %s: --%s '%s' must be a number in [%g, %g]\n", cmd, flag, s, lo, hi);
        return 1;
    }
    *out = v;
    return 0;
}

/* The same for a count: a whole number ("5.5" is an error, not 5). */
static int parse_count(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    if (parse_num(cmd, flag, s, lo, hi, out)) return 1;
    if (floor(*out) != *out) {
        fprintf(stderr, "rnn %s: --%s '%s' must be a whole number in [%g, %g]\n", cmd, flag, s, lo, hi);
        return 1;
    }
    return 0;
}

/* --cache N / --cache-theta / --cache-lambda of eval and sample: override
 * the neural cache the checkpoint's config sets (--cache 0 turns it off). */
static int set_cache(const char *cmd, rnn_checkpoint *ck, const char *size, const char *theta,
                     const char *lambda) {
    if (!size && !theta && !lambda) return 0;
    rnn_config *c = &ck->model->c;
    if (c->task != RNN_TASK_LM) {
        fprintf(stderr, "rnn %s: --cache%s is for language models; this checkpoint is a classifier\n",
                cmd, size ? "" : theta ? "-theta" : "-lambda");
        return 1;
    }
    double v;
    if (size) {
        if (parse_num(cmd, "cache", size, 0, RNN_CACHE_MAX_SIZE, &v)) return 1;
        if (v != (int)v) {
            fprintf(stderr, "rnn %s: --cache '%s' must be a whole number of pairs\n", cmd, size);
            return 1;
        }
        c->cache_size = (int)v;
    }
    if (theta) {
        if (parse_num(cmd, "cache-theta", theta, 0, RNN_CACHE_MAX_THETA, &v)) return 1;
        c->cache_theta = (float)v;
    }
    if (lambda) { /* below 1: rnn_config_validate, below */
        if (parse_num(cmd, "cache-lambda", lambda, 0, 1, &v)) return 1;
        c->cache_lambda = (float)v;
    }
    if (c->cache_size == 0 && (theta || lambda) && !size) {
        fprintf(stderr, "rnn %s: --cache-theta/--cache-lambda need a cache: add --cache N\n", cmd);
        return 1;
    }
    if (rnn_config_validate(c)) { /* the checkpoint's own settings with the flags' */
        fprintf(stderr, "rnn %s: %s\n", cmd, rnn_last_error());
        return 1;
    }
    return 0;
}

/* Dynamic evaluation's flags (--dynamic LR and its --dynamic-* settings;
 * NULL: not given) into d with rnn eval's defaults. 0, or 1 after the error. */
static int parse_dynamic(const char *cmd, const char *lr, const char *seg, const char *decay,
                         const char *clip, const char *rms, rnn_dynamic_cfg *d) {
    *d = (rnn_dynamic_cfg){.seg = 20, .lr = 0, .decay = 0, .clip = 5, .rms = 0};
    if (!lr && (seg || decay || clip || rms)) {
        fprintf(stderr, "rnn %s: --dynamic-%s needs --dynamic LR\n", cmd,
                seg ? "seg" : decay ? "decay" : clip ? "clip" : "rms");
        return 1;
    }
    double v;
    if (!lr) return 0;
    if (parse_num(cmd, "dynamic", lr, 0, 1e3, &v)) return 1;
    d->lr = (float)v;
    if (seg) {
        if (parse_num(cmd, "dynamic-seg", seg, 1, 1e6, &v)) return 1;
        if (v != (int)v) {
            fprintf(stderr, "rnn %s: --dynamic-seg '%s' must be a whole number of tokens\n", cmd, seg);
            return 1;
        }
        d->seg = (int)v;
    }
    if (decay) {
        if (parse_num(cmd, "dynamic-decay", decay, 0, 0.999999, &v)) return 1;
        d->decay = (float)v;
    }
    if (clip) {
        if (parse_num(cmd, "dynamic-clip", clip, 0, 1e9, &v)) return 1;
        d->clip = (float)v;
    }
    if (rms) {
        if (parse_num(cmd, "dynamic-rms", rms, 0, 0.999999, &v)) return 1;
        d->rms = (float)v;
    }
    return 0;
}

/* rnn sample --dynamic: dynamic evaluation over the prime (its n bytes),
 * leaving ck's model adapted to it. 0, or 1 after the error. */
static int adapt_to_prime(rnn_checkpoint *ck, const char *prime, size_t n, const char *file,
                          const rnn_dynamic_cfg *dc) {
    const char *what = file ? file : "--prime";
    if (rnn_sampler_check(ck->model)) return die(rnn_last_error()); /* before adapting, not after */
    int32_t *ids = NULL;
    size_t k = 0, unk = 0;
    if (rnn_tokenizer_encode(ck->tok, prime, n, &ids, &k, &unk)) return cmdf("sample", "%s: %s", what, rnn_last_error());
    const rnn_lm_stream stream = rnn_lm_view(ids, k);
    rnn_lm_eval ev;
    int rc = 0;
    if (k < 2)
        rc = cmdf("sample", "%s: --dynamic needs a prime of at least 2 tokens (has %zu)", what, k);
    else if (rnn_lm_evaluate_dynamic(ck->model, &stream, dc, NULL, NULL, &ev))
        rc = die(rnn_last_error());
    else
        fprintf(stderr, "rnn sample: adapted to the prime (%zu tokens; %.4f nats per token while reading it)\n",
                k, ev.loss);
    free(ids);
    return rc;
}

/* rnn sample's output: each piece written and flushed as it comes; a write
 * that fails (a closed pipe, a full disk) stops generation. */
static int emit_stdout(const char *bytes, size_t n, void *user) {
    if (fwrite(bytes, 1, n, stdout) != n || fflush(stdout) || ferror(stdout)) return 1;
    *(char *)user = bytes[n - 1];
    return 0;
}

/* --recase: emit_stdout's text in sentence case (rnn_recase). */
typedef struct {
    rnn_recase rc;
    char last;
} recased;

static int emit_recased(const char *bytes, size_t n, void *user) {
    recased *r = user;
    return rnn_recase_emit(&r->rc, bytes, n, emit_stdout, &r->last);
}

/* A whole number in [0, 2^64) for --seed: every seed its own stream. */
static int parse_seed(const char *cmd, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || !isdigit((unsigned char)s[0])) {
        fprintf(stderr, "rnn %s: --seed '%s' must be a whole number in [0, 18446744073709551615]\n", cmd, s);
        return 1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int cmd_sample(int argc, char **argv) {
    const char *prime = NULL, *length = "500", *temp = "1", *topk = "0", *topp = "1",
               *seed = "1337", *stop = NULL, *precision = "fp32", *threads = "0", *cache = NULL,
               *theta = NULL, *lambda = NULL, *prime_file = NULL, *dyn = NULL, *dyn_seg = NULL,
               *dyn_decay = NULL, *dyn_clip = NULL, *dyn_rms = NULL, *raw_bytes = NULL, *no_unk = NULL,
               *recase = NULL, *minp = "0", *rpen = NULL, *rlast = NULL;
    small_opt opts[] = {{"prime", &prime, 0}, {"length", &length, 0},       {"temperature", &temp, 0},
                        {"top-k", &topk, 0},  {"top-p", &topp, 0},          {"seed", &seed, 0},
                        {"stop", &stop, 0},   {"precision", &precision, 0}, {"threads", &threads, 0},
                        {"cache", &cache, 0}, {"cache-theta", &theta, 0},   {"cache-lambda", &lambda, 0},
                        {"prime-file", &prime_file, 0}, {"dynamic", &dyn, 0}, {"dynamic-seg", &dyn_seg, 0},
                        {"dynamic-decay", &dyn_decay, 0}, {"dynamic-clip", &dyn_clip, 0},
                        {"dynamic-rms", &dyn_rms, 0}, {"raw-bytes", &raw_bytes, 1}, {"no-unk", &no_unk, 1},
                        {"recase", &recase, 1}, {"min-p", &minp, 0}, {"repeat-penalty", &rpen, 0},
                        {"repeat-last", &rlast, 0}};
    const char *ckpt;
    if (parse_small("sample", argc, argv, opts, 24, &ckpt)) return 1;
    rnn_dynamic_cfg dc;
    if (parse_dynamic("sample", dyn, dyn_seg, dyn_decay, dyn_clip, dyn_rms, &dc)) return 1;
    if (prime && prime_file) return cmdf("sample", "--prime and --prime-file: give one of them");
    if (!ckpt) return cmdf("sample", "which checkpoint? usage: rnn sample CKPT [--prime TEXT] ...");
    double len, t, k, p, mp, rp, rl;
    uint64_t sd;
    if (parse_count("sample", "length", length, 0, 1e9, &len) ||
        parse_num("sample", "temperature", temp, 0, 100, &t) ||
        parse_count("sample", "top-k", topk, 0, 1e9, &k) || parse_seed("sample", seed, &sd) ||
        parse_num("sample", "min-p", minp, 0, 1, &mp) ||
        parse_count("sample", "repeat-last", rlast ? rlast : "64", 0, RNN_REPEAT_LAST_MAX, &rl))
        return 1;
    if (rlast && !rpen)
        return cmdf("sample", "--repeat-last sets the window of --repeat-penalty: give --repeat-penalty X too");
    if (!rpen) rpen = "1";
    /* (at least 0.01: a logit over a tiny one overflowed to +inf, every draw that token) */
    if (rnn_parse_decimal(rpen, &rp) || !(rp >= 0.01 && rp <= 100))
        return cmdf("sample", "--repeat-penalty '%s' must be a number in [0.01, 100]: 1 is off, above 1 makes the last "
                    "--repeat-last tokens less likely", rpen);
    if (rnn_parse_decimal(topp, &p) || !((float)p > 0 && p <= 1)) /* > 0 as the sampler's float, too */
        return cmdf("sample", "--top-p '%s' must be a number in (0, 1]: the smallest set of tokens whose probability "
                    "reaches it (1: all)",
                    topp);
    double nth;
    rnn_precision prec;
    if (parse_count("sample", "threads", threads, 0, 4096, &nth)) return 1; /* set below, after the other checks */
    if (rnn_precision_parse(precision, &prec)) {
        fprintf(stderr, "rnn sample: --precision: %s\n", rnn_last_error());
        return 1;
    }
    if (dyn && !prime && !prime_file)
        return cmdf("sample", "--dynamic adapts the model to the prime: give --prime TEXT or --prime-file FILE");
    rnn_set_threads((int)nth);
    char *prime_text = NULL, *stop_written = NULL; /* --prime-file's contents; --stop as the model writes */
    size_t prime_len = prime ? strlen(prime) : 0;
    if (prime) { /* a byte order mark is no text, as at the start of --prime-file */
        const size_t bom = rnn_bom_len(prime, prime_len);
        prime += bom, prime_len -= bom;
    }
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) return die(rnn_last_error());
    if (!ck.tok) {
        rnn_checkpoint_free(&ck);
        return cmdf("sample", "%s: the checkpoint has no tokenizer (metadata \"tokenizer\")", ckpt);
    }
    /* Text for a model that reads UTF-8 ends at a NUL byte, which its
     * encoding refuses (so /dev/zero is not read to the size limit). */
    if (prime_file) {
        if (!(prime_text = rnn_read_text_file_ex(prime_file, &prime_len, rnn_tokenizer_needs_utf8(ck.tok)))) {
            rnn_checkpoint_free(&ck);
            return die(rnn_last_error());
        }
        prime = prime_text;
    }
    rnn_sampler *s = NULL;
    int rc = 1;
    if ((theta || lambda) && !cache) {
        cmdf("sample", "--cache-theta/--cache-lambda need --cache N (sampling uses no cache unless asked)");
        goto out;
    }
    if (!cache) ck.model->c.cache_size = 0; /* (a model trained with one: --dynamic's loss without it too) */
    if (set_cache("sample", &ck, cache, theta, lambda)) goto out;
    if (dyn && adapt_to_prime(&ck, prime, prime_len, prime_file, &dc)) goto out;
    if (!(s = rnn_sampler_create_ex(ck.model, ck.tok, sd, prec))) {
        cmdf("sample", "%s: %s", ckpt, rnn_last_error());
        goto out;
    }
    rc = 0;
    if (raw_bytes && rnn_tokenizer_type(ck.tok) != RNN_TOK_BYTE) {
        rc = cmdf("sample", "--raw-bytes is for byte models (this one's tokenizer is not byte)");
        goto out;
    }
    if (raw_bytes) rnn_sampler_set_utf8(s, 0);
    if (no_unk && rnn_sampler_allow_unk(s, 0)) {
        rc = cmdf("sample", "--no-unk: %s", rnn_last_error());
        goto out;
    }
    if (recase && rnn_recase_check(ck.tok)) {
        rc = cmdf("sample", "--%s", rnn_last_error());
        goto out;
    }
    /* text is valid UTF-8 (a byte model's too, but with --raw-bytes): a stop string that is not never matches */
    const long stop_bad = stop && !raw_bytes ? rnn_utf8_bad_at(stop, strlen(stop)) : -1;
    if (stop_bad >= 0) {
        rc = cmdf("sample", "--stop is not valid UTF-8 (at byte offset %ld), so this model's text never holds it",
                  stop_bad);
        goto out;
    }
    const rnn_config *mc = &ck.model->c;
    if (cache && rnn_sampler_set_cache(s, mc->cache_size, mc->cache_theta, mc->cache_lambda)) {
        rc = die(rnn_last_error());
        goto out;
    }
    const char *prime_what = prime_file ? prime_file : "--prime";
    if (prime_file && !prime_len)
        fprintf(stderr, "rnn sample: warning: %s is empty: sampling from a zero state, as without a prime\n",
                prime_file);
    if (prime_len) {
        size_t unk = 0;
        long fed = rnn_sampler_prime(s, prime, prime_len, &unk);
        if (fed < 0) {
            rc = cmdf("sample", "%s: %s", prime_what, rnn_last_error());
            goto out;
        }
        if (unk) {
            const char *name;
            rnn_tokenizer_filler_id(ck.tok, &name);
            fprintf(stderr, "rnn sample: warning: %s: %zu of its %ld tokens are not in the model's vocabulary "
                            "and read as %s\n", prime_what, unk, fed, name);
        }
        fwrite(prime, 1, prime_len, stdout);
    }
    rnn_sample_opts so = {(float)t, (int)k, (float)p, (float)mp, (float)rp, (int)rl};
    char last = prime_len ? prime[prime_len - 1] : 0;
    /* the sampler looks for the stop as the model writes text (a lowercasing
     * tokenizer's never holds "ROMEO:"): said where that is another string */
    size_t written_len = 0;
    if (stop && !(stop_written = rnn_tokenizer_as_written(ck.tok, stop, strlen(stop), &written_len))) {
        rc = die(rnn_last_error());
        goto out;
    }
    if (stop && strcmp(stop, stop_written))
        fprintf(stderr, "rnn sample: note: --stop \"%s\" is looked for as \"%s\", as this model writes text\n", stop,
                stop_written);
    recased rec = {.last = last};
    if (recase) rnn_recase_init(&rec.rc, prime, prime_len);
    int w = rnn_sampler_text(s, &so, (long)len, prime, prime_len, stop, stop ? strlen(stop) : 0,
                             recase ? emit_recased : emit_stdout, recase ? (void *)&rec : (void *)&last);
    if (recase && w == 0) {
        char tail[1];
        const size_t m = rnn_recase_end(&rec.rc, tail);
        if (m) w = emit_stdout(tail, m, &rec.last);
    }
    if (recase) last = rec.last;
    if (w < 0) {
        rc = die(rnn_last_error());
        goto out;
    }
    if (!w && last != '\n' && !raw_bytes) fputc('\n', stdout); /* ends the line, unless the text did */
    if (w || fflush(stdout) || ferror(stdout)) {
        rc = cmdf("sample", "write error: %s", strerror(errno ? errno : EIO));
        goto out;
    }
out:
    rnn_sampler_free(s);
    rnn_checkpoint_free(&ck);
    free(prime_text);
    free(stop_written);
    return rc;
}

/* A classifier and the checkpoints given with --ensemble beside it. */
#define MAX_ENSEMBLE 64

typedef struct {
    rnn_checkpoint ck[MAX_ENSEMBLE + 1];
    char *path[MAX_ENSEMBLE + 1];
    int K;      /* loaded */
    char *list; /* the --ensemble list, split in place */
} ensemble;

static void ensemble_free(ensemble *e) {
    for (int k = 0; k < e->K; k++) rnn_checkpoint_free(&e->ck[k]);
    free(e->list);
    e->K = 0, e->list = NULL;
}

/* Takes ownership of ck (a classifier with a tokenizer, loaded from path) as
 * member 0 and loads the comma-separated list (NULL: none) beside it; each
 * must have the same classes in the same order. -1 after printing an error;
 * the ensemble is then freed. */
static int ensemble_load(ensemble *e, const char *cmd, rnn_checkpoint ck, const char *path,
                         const char *list) {
    e->ck[0] = ck, e->path[0] = (char *)path, e->K = 1, e->list = NULL;
    if (list && !(e->list = strdup(list))) {
        ensemble_free(e);
        return -die("out of memory");
    }
    for (char *p = e->list, *end; p; p = end) {
        if ((end = strchr(p, ','))) *end++ = 0;
        int bad = 1;
        if (!*p)
            cmdf(cmd, "--ensemble '%s': an empty checkpoint name", list);
        else if (e->K > MAX_ENSEMBLE)
            cmdf(cmd, "--ensemble: at most %d more checkpoints", MAX_ENSEMBLE);
        else if (rnn_checkpoint_load(&e->ck[e->K], p))
            cmdf(cmd, "--ensemble: %s", rnn_last_error());
        else
            bad = 0;
        if (bad) {
            ensemble_free(e);
            return -1;
        }
        const rnn_checkpoint *m = &e->ck[e->K];
        e->path[e->K++] = p;
        int same = m->model->c.task == RNN_TASK_CLASSIFY && m->tok && m->n_labels == ck.n_labels;
        for (int i = 0; same && i < ck.n_labels; i++) same = !strcmp(m->labels[i], ck.labels[i]);
        if (!same) {
            cmdf(cmd, "--ensemble: %s must be a classifier with a tokenizer and the classes of %s, in the "
                      "same order", p, path);
            ensemble_free(e);
            return -1;
        }
    }
    return 0;
}

/* --threads N of eval and classify (NULL: all cores). 1 after printing an error. */
static int set_threads(const char *cmd, const char *threads) {
    double n;
    if (!threads) return 0;
    if (parse_count(cmd, "threads", threads, 0, 4096, &n)) return 1;
    rnn_set_threads((int)n);
    return 0;
}

/* --precision fp32|bf16 of eval and classify (NULL: fp32): bf16 products,
 * fp32 sums, as rnn train --precision bf16 computes (a batch of one row
 * keeps its step products in fp32: recurrent.c). On a CPU without bf16
 * products, a warning and fp32. 1 after printing an error. */
static int set_precision(const char *cmd, const char *v) {
    rnn_precision p;
    if (!v) return 0;
    if (rnn_precision_parse(v, &p)) return cmdf(cmd, "--precision: %s", rnn_last_error());
    if (rnn_gemm_set_precision(p)) {
        fprintf(stderr, "rnn %s: warning: %s; computing in fp32\n", cmd, rnn_last_error()); /* ("--precision bf16 needs ...") */
        rnn_gemm_set_precision(RNN_FP32);
    }
    return 0;
}

/* --max-len N / --truncate head|tail of eval and classify: how long texts
 * are cut, for every model of e. Without them each model cuts as its config
 * says (rnn train's --max-len and --truncate); --max-len alone keeps each
 * model's side. check_cut checks the values alone, before any checkpoint
 * is read. 1 after printing an error. */
static int check_cut(const char *cmd, const char *len, const char *side, int *max_len) {
    double v = 0;
    if (len && parse_count(cmd, "max-len", len, 0, RNN_MAX_TEXT_LEN, &v)) return 1;
    if (max_len) *max_len = (int)v;
    if (side && strcmp(side, "head") && strcmp(side, "tail"))
        return cmdf(cmd, "--truncate '%s': expected head or tail", side);
    if (side && len && v == 0)
        return cmdf(cmd, "--truncate %s needs --max-len above 0 (--max-len 0 reads whole texts)", side);
    return 0;
}

static int set_cut(const char *cmd, ensemble *e, const char *len, const char *side) {
    int max_len;
    if (check_cut(cmd, len, side, &max_len)) return 1;
    for (int k = 0; k < e->K; k++) {
        rnn_config *c = &e->ck[k].model->c;
        if (len) c->max_len = max_len;
        if (side && !c->max_len)
            return cmdf(cmd, "--truncate: %s%s was trained on whole texts: give --max-len N, the tokens to "
                             "keep", k ? "the --ensemble member " : "", e->path[k]);
        if (side) c->truncate_tail = !strcmp(side, "tail");
        if (!c->max_len) c->truncate_tail = 0;
    }
    return 0;
}

/* The note that cut[k] of n texts (read from what; may be NULL) were longer
 * than model k's max_len. */
static void note_cut(const char *cmd, const char *what, const ensemble *e, const size_t *cut, size_t n,
                     int flag) {
    int any = 0;
    for (int k = 0; k < e->K; k++) any |= cut[k] > 0;
    if (!any) return;
    const rnn_config *c = &e->ck[0].model->c;
    if (e->K == 1) {
        fprintf(stderr, "rnn %s: note: %s%s%zu of %zu texts are longer than %d tokens and were read by their "
                        "%s %d (%s; --max-len 0 reads them whole)\n",
                cmd, what ? what : "", what ? ": " : "", cut[0], n, c->max_len, c->truncate_tail ? "last" : "first", c->max_len,
                flag ? "as the options ask" : "as the model was trained");
        return;
    }
    fprintf(stderr, "rnn %s: note: %s%stexts longer than each model's max_len were cut (%s); of %zu texts, "
                    "the models cut", cmd, what ? what : "", what ? ": " : "", flag ? "as the options ask" : "as each was trained", n);
    for (int k = 0; k < e->K; k++) fprintf(stderr, "%s %zu", k ? "," : "", cut[k]);
    fprintf(stderr, " (--max-len 0 reads them whole)\n");
}

/* The metrics of the mean of the K models' class probabilities (K = 1: the
 * model's own), each model reading the examples with its own tokenizer and
 * max_len; d0 holds them encoded with model 0's. cut[k] gets the texts
 * model k cut (k > 0). */
static int eval_ensemble(rnn_checkpoint *cks, char *const *paths, int K, const rnn_dataset *ds,
                         rnn_cls_data *d0, rnn_cls_metrics *mt, size_t *cut, size_t *unk, size_t *ntok) {
    rnn_cls_data dk[MAX_ENSEMBLE + 1];
    const rnn_cls_data *d[MAX_ENSEMBLE + 1] = {d0};
    const rnn_model *m[MAX_ENSEMBLE + 1];
    int k, rc = -1;
    for (k = 0; k < K; k++) {
        m[k] = cks[k].model;
        if (k == 0) continue;
        const rnn_config *c = &cks[k].model->c;
        if (rnn_cls_encode(&dk[k], ds, cks[k].tok, c->max_len, c->truncate_tail, &unk[k], &cut[k], NULL)) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", rnn_last_error());
            rnn_errorf("%s: %s", paths[k], msg);
            goto out;
        }
        d[k] = &dk[k];
        ntok[k] = dk[k].n_read;
    }
    rc = rnn_cls_evaluate_mean(m, d, K, 64, mt);
out:
    while (--k > 0) rnn_cls_data_free(&dk[k]);
    return rc;
}

/* rnn eval's error for a loss that is not finite: the model's outputs overflow. */
static int die_nonfinite_loss(const char *ckpt, const char *data, double loss, const char *why) {
    return cmdf("eval", "%s: the loss on %s is %s: the model's outputs are not finite (%s)", ckpt, data,
                isnan(loss) ? "not a number" : "infinite", why);
}

/* A JSON number: null for one JSON cannot hold (an overflowing perplexity). */
static void print_json_num(double v) {
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

/* A perplexity for people: fixed decimals, or an exponent where that would
 * print a hundred digits. */
static void print_ppl(double v) {
    if (v < 1e9) printf("%.3f", v);
    else printf("%.4g", v);
}

/* s in a column of w characters: cut after w code points (never inside
 * one, as printf's precision would), padded with spaces. */
/* Prints s in w terminal columns: cut at a character that would pass them,
 * padded with spaces after it (before it when right). A character's width (2 for CJK, 0 for a combining
 * mark) is glibc's, from its C.UTF-8 locale, set for this thread alone;
 * where that locale is missing each character counts as one column. */
static void print_cut(const char *s, int w, int right) {
    static locale_t utf8;
    static int tried;
    if (!tried) tried = 1, utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    const locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    const size_t n = strlen(s);
    size_t pos = 0;
    int cols = 0;
    while (pos < n) {
        size_t next = pos;
        const int32_t cp = rnn_utf8_next((const unsigned char *)s, n, &next);
        if (cp < 0) break;
        int cw = utf8 ? wcwidth((wchar_t)cp) : 1;
        if (cw < 0) cw = 1;
        if (cols + cw > w) break;
        cols += cw;
        pos = next;
    }
    if (utf8) uselocale(old);
    if (right) printf("%*s%.*s", w - cols, "", (int)pos, s);
    else printf("%.*s%*s", (int)pos, s, w - cols, "");
}

/* The confusion matrix, its columns headed by the class names. */
static void print_confusion(const rnn_cls_metrics *mt, char *const *labels) {
    const int C = mt->C;
    printf("confusion (rows: true class, columns: predicted):\n%18s", "");
    for (int j = 0; j < C; j++) {
        printf(" ");
        print_cut(labels[j], 7, 1);
    }
    printf("\n");
    for (int i = 0; i < C; i++) {
        printf("  ");
        print_cut(labels[i], 16, 0);
        for (int j = 0; j < C; j++) printf(" %7ld", mt->confusion[(size_t)i * C + j]);
        printf("\n");
    }
}

/* Classifier evaluation: loss, accuracy, macro-F1 and the confusion matrix,
 * of one model or of the mean prediction of e's (its first gives the classes). */
static int eval_classifier(ensemble *e, const char *data, int json, rnn_data_opts *dop, int cut_flag) {
    rnn_checkpoint *ck = &e->ck[0];
    size_t cut[MAX_ENSEMBLE + 1] = {0}, unks[MAX_ENSEMBLE + 1] = {0}, ntok[MAX_ENSEMBLE + 1] = {0};
    dop->check_utf8 = rnn_tokenizer_needs_utf8(ck->tok);
    dop->strip_html = rnn_tokenizer_options(ck->tok)->strip_html;
    rnn_dataset ds;
    if (rnn_dataset_load(&ds, data, dop, ck->labels, ck->n_labels)) return die(rnn_last_error());
    char note[4400];
    if (rnn_cls_note_header(note, sizeof note, data, &ds)) fprintf(stderr, "rnn: %s\n", note);
    rnn_cls_data d;
    int rc = 1;
    size_t empty = 0, unk = 0;
    if (rnn_cls_encode(&d, &ds, ck->tok, ck->model->c.max_len, ck->model->c.truncate_tail, &unk, &cut[0],
                       &empty)) {
        fprintf(stderr, "rnn: %s: %s\n", data, rnn_last_error());
        rnn_dataset_free(&ds);
        return 1;
    }
    if (rnn_cls_note_empty(note, sizeof note, data, empty, d.n, ck->tok)) fprintf(stderr, "rnn: %s\n", note);
    rnn_cls_metrics mt;
    const int K = e->K;
    unks[0] = unk, ntok[0] = d.n_read;
    if (eval_ensemble(e->ck, e->path, K, &ds, &d, &mt, cut, unks, ntok)) {
        die(rnn_last_error());
        goto out;
    }
    note_cut("eval", data, e, cut, d.n, cut_flag);
    const int C = mt.C;
    if (!isfinite(mt.loss)) {
        die_nonfinite_loss(e->path[0], data, mt.loss, "a damaged or diverged model");
        rnn_cls_metrics_free(&mt);
        goto out;
    }
    if (json) {
        printf("{\"loss\": %.9g, \"accuracy\": %.9g, \"macro_f1\": %.9g, \"examples\": %ld, \"tokens\": %zu, \"unk\": %zu, ",
               mt.loss, mt.accuracy, mt.macro_f1, mt.n, d.n_read, unk);
        if (K > 1) { /* each model reads the texts with its own tokenizer */
            printf("\"ensemble\": %d, \"members_tokens\": [", K);
            for (int k = 0; k < K; k++) printf("%s%zu", k ? ", " : "", ntok[k]);
            printf("], \"members_unk\": [");
            for (int k = 0; k < K; k++) printf("%s%zu", k ? ", " : "", unks[k]);
            printf("], ");
        }
        printf("\"labels\": [");
        for (int i = 0; i < C; i++) {
            printf("%s\"", i ? ", " : "");
            print_json_string(ck->labels[i]);
            printf("\"");
        }
        printf("], \"confusion\": %s", mt.confusion ? "[" : "null");
        for (int i = 0; mt.confusion && i < C; i++) {
            printf("%s[", i ? ", " : "");
            for (int j = 0; j < C; j++) printf("%s%ld", j ? ", " : "", mt.confusion[(size_t)i * C + j]);
            printf("]");
        }
        printf("%s}\n", mt.confusion ? "]" : "");
    } else {
        printf("%s: %ld examples, loss %.4f, accuracy %.4f, macro-F1 %.4f", data, mt.n, mt.loss,
               mt.accuracy, mt.macro_f1);
        if (K > 1) printf(" (the mean prediction of %d models)", K);
        printf("\n");
        if (!mt.confusion)
            printf("confusion: %d classes, too many to keep (at most %d)\n", C, RNN_CONFUSION_MAX_CLASSES);
        else if (C > 40) /* more than a screenful: C^2 numbers */
            printf("confusion: %d classes, too many to print (--json has the matrix)\n", C);
        else
            print_confusion(&mt, ck->labels);
        int any = 0;
        for (int k = 0; k < K; k++) any |= unks[k] != 0;
        if (K == 1 && unk) {
            printf("(%zu of %zu tokens were not in the vocabulary)\n", unk, d.n_read);
        } else if (any) { /* each model reads the texts with its own tokenizer */
            printf("(tokens not in each model's vocabulary:");
            for (int k = 0; k < K; k++) printf("%s %s %zu of %zu", k ? ";" : "", e->path[k], unks[k], ntok[k]);
            printf(")\n");
        }
    }
    rnn_cls_metrics_free(&mt);
    rc = 0;
out:
    rnn_cls_data_free(&d);
    rnn_dataset_free(&ds);
    return rc;
}

/* rnn eval's progress line on a terminal (stderr), at most twice a second. */
typedef struct {
    int on, shown;
    double t0, last;
} eval_meter;

static void eval_progress(size_t done, size_t total, void *user) {
    eval_meter *e = user;
    double now = rnn_now();
    if (!e->on || now - e->last < 0.5 || done >= total) return;
    e->last = now;
    e->shown = 1;
    double rate = done / (now - e->t0);
    fprintf(stderr, "\r\033[Krnn eval: %.0f%% (%zu of %zu tokens, %.0f tokens/s, %.0f s left)",
            100.0 * done / total, done, total, rate, (total - done) / rate);
    fflush(stderr);
}

static int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *json = NULL, *format = NULL, *label_col = NULL, *text_col = NULL,
               *label_names = NULL, *label_base = NULL, *header = NULL, *cache = NULL, *theta = NULL, *lambda = NULL, *list = NULL,
               *dyn = NULL, *dyn_decay = NULL, *dyn_seg = NULL, *dyn_clip = NULL, *dyn_rms = NULL,
               *max_len = NULL, *truncate = NULL, *threads = NULL, *streams = NULL, *precision = NULL;
    small_opt opts[] = {{"data", &data, 0},          {"json", &json, 1},
                        {"format", &format, 0},      {"label-col", &label_col, 0},
                        {"text-col", &text_col, 0},  {"label-names", &label_names, 0},
                        {"cache", &cache, 0},        {"cache-theta", &theta, 0},
                        {"cache-lambda", &lambda, 0}, {"ensemble", &list, 0},
                        {"dynamic", &dyn, 0},        {"dynamic-decay", &dyn_decay, 0},
                        {"dynamic-seg", &dyn_seg, 0}, {"dynamic-clip", &dyn_clip, 0},
                        {"dynamic-rms", &dyn_rms, 0}, {"label-base", &label_base, 0}, {"header", &header, 0},
                        {"max-len", &max_len, 0},    {"truncate", &truncate, 0},
                        {"threads", &threads, 0},    {"streams", &streams, 0},
                        {"precision", &precision, 0}};
    const char *ckpt;
    if (parse_small("eval", argc, argv, opts, (int)(sizeof opts / sizeof *opts), &ckpt)) return 1;
    rnn_data_opts dop;
    rnn_data_opts_default(&dop);
    double col = 0, base = -1, nstreams = 1;
    if ((label_col && parse_count("eval", "label-col", label_col, 0, 1e6, &col)) || /* 0: auto, as in train */
        (streams && parse_count("eval", "streams", streams, 1, 1e6, &nstreams)) ||
        (label_base && strcmp(label_base, "auto") && parse_count("eval", "label-base", label_base, 0, 1, &base)))
        return 1;
    if (label_base && !label_names) return cmdf("eval", "--label-base numbers the classes of --label-names: give both");
    if (header) {
        if (strcmp(header, "auto") && strcmp(header, "yes") && strcmp(header, "no"))
            return cmdf("eval", "--header '%s': expected auto, yes or no", header);
        dop.header = !strcmp(header, "auto") ? -1 : !strcmp(header, "yes");
    }
    if (format) dop.format = format;
    dop.label_col = (int)col;
    dop.label_base = (int)base;
    if (text_col) dop.text_cols = text_col;
    if (label_names) dop.label_names = label_names;
    rnn_dynamic_cfg dc;
    if (parse_dynamic("eval", dyn, dyn_seg, dyn_decay, dyn_clip, dyn_rms, &dc) || check_cut("eval", max_len, truncate, NULL) ||
        set_threads("eval", threads) || set_precision("eval", precision))
        return 1;
    /* (--streams 1, the default, given as such is no conflict) */
    if (nstreams > 1 && dyn) return cmdf("eval", "--dynamic reads the file as one stream; drop --streams");
    if (!ckpt) return cmdf("eval", "which checkpoint? usage: rnn eval CKPT --data FILE [--json]");
    if (!data) return cmdf("eval", "--data FILE is required");
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) return die(rnn_last_error());
    if (!ck.tok) {
        rnn_checkpoint_free(&ck);
        return cmdf("eval", "%s: the checkpoint has no tokenizer (metadata \"tokenizer\")", ckpt);
    }
    if (!label_base) dop.label_base = ck.label_base; /* integer labels numbered as in training */
    /* the columns its training read, where that run gave them: the same file reads the same;
     * each flag given wins over its own, and a JSON lines file or a directory has none */
    if (ck.has_layout && ck.model->c.task == RNN_TASK_CLASSIFY) {
        char used[200] = "";
        size_t u = 0;
        struct stat ds;
        const size_t dl = strlen(data);
        const int tabular = !(stat(data, &ds) == 0 && S_ISDIR(ds.st_mode)) &&
                            !(dl >= 6 && !strcmp(data + dl - 6, ".jsonl")) && !(dl >= 5 && !strcmp(data + dl - 5, ".json"));
        if (!format && tabular)
            dop.format = ck.layout_format, u += snprintf(used + u, sizeof used - u, " --format %s", ck.layout_format);
        if (!header && tabular) {
            dop.header = !strcmp(ck.layout_header, "auto") ? -1 : !strcmp(ck.layout_header, "yes");
            u += snprintf(used + u, sizeof used - u, " --header %s", ck.layout_header);
        }
        if (!label_col && tabular)
            dop.label_col = ck.layout_label_col, u += snprintf(used + u, sizeof used - u, " --label-col %d", ck.layout_label_col);
        if (!text_col && tabular && ck.layout_text_cols[0])
            dop.text_cols = ck.layout_text_cols, u += snprintf(used + u, sizeof used - u, " --text-col %s", ck.layout_text_cols);
        dop.columns_soft = !label_col && !text_col && !header;
        if (u)
            fprintf(stderr, "rnn eval: note: %s is read as the model's training data was:%s (these flags read it "
                            "otherwise)\n", data, used);
    }
    if (set_cache("eval", &ck, cache, theta, lambda)) {
        rnn_checkpoint_free(&ck);
        return 1;
    }
    if (dyn && ck.model->c.task != RNN_TASK_LM) {
        rnn_checkpoint_free(&ck);
        return cmdf("eval", "--dynamic is for language models (%s is a classifier)", ckpt);
    }
    if (list && ck.model->c.task != RNN_TASK_CLASSIFY) {
        rnn_checkpoint_free(&ck);
        return cmdf("eval", "--ensemble is for classifiers (%s is a language model)", ckpt);
    }
    if ((format || label_col || text_col || label_names || header) && ck.model->c.task != RNN_TASK_CLASSIFY) {
        rnn_checkpoint_free(&ck);
        return cmdf("eval", "--%s reads labelled data, for classifiers (%s is a language model: --data is plain text)",
                    format ? "format" : label_col ? "label-col" : text_col ? "text-col" : header ? "header" : "label-names", ckpt);
    }
    if ((max_len || truncate) && ck.model->c.task != RNN_TASK_CLASSIFY) {
        rnn_checkpoint_free(&ck);
        return cmdf("eval", "--%s cuts a classifier's texts (%s is a language model)", max_len ? "max-len" : "truncate",
                    ckpt);
    }
    if (nstreams > 1 && ck.model->c.task != RNN_TASK_LM) {
        rnn_checkpoint_free(&ck);
        return cmdf("eval", "--streams reads a language model's text (%s is a classifier: each text is its own)", ckpt);
    }
    if (ck.model->c.task == RNN_TASK_CLASSIFY) {
        ensemble e;
        if (ensemble_load(&e, "eval", ck, ckpt, list)) return 1;
        if (set_cut("eval", &e, max_len, truncate)) {
            ensemble_free(&e);
            return 1;
        }
        int rc = eval_classifier(&e, data, json != NULL, &dop, max_len || truncate);
        ensemble_free(&e);
        return rc;
    }
    int rc = 1;
    size_t len, n = 0, unk = 0;
    rnn_lm_stream ids = {0};
    char *text = rnn_read_text_tree(data, &len, rnn_tokenizer_needs_utf8(ck.tok) ? rnn_tok_refused : NULL,
                                    rnn_tokenizer_options(ck.tok)); /* a file or a directory */
    if (!text) {
        die(rnn_last_error());
        goto out;
    }
    /* at the vocabulary's width, in pieces, as rnn train holds its text */
    const int enc = rnn_lm_encode(ck.tok, text, len, RNN_LM_PIECE, 0, &ids, &unk);
    if (enc) { /* a bad byte named where the file has it (after a byte order mark reading dropped) */
        rnn_tok_text_error(rnn_tokenizer_options(ck.tok), data, text, len);
        fprintf(stderr, "rnn: %s\n", rnn_last_error());
        goto out;
    }
    free(text);
    text = NULL;
    n = ids.n;
    if (n < 2 * (size_t)nstreams) {
        if (nstreams > 1)
            fprintf(stderr, "rnn: %s: %zu tokens make no %d streams of at least 2 tokens (--streams)\n", data, n,
                    (int)nstreams);
        else
            fprintf(stderr, "rnn: %s: needs at least 2 tokens to evaluate (has %zu)\n", data, n);
        goto out;
    }
    if (ck.model->c.reverse) rnn_lm_reverse(&ids); /* a backward LM reads the file right to left */
    rnn_lm_eval ev;
    eval_meter em = {.on = isatty(2), .t0 = rnn_now()};
    em.last = em.t0;
    const int B = (int)nstreams, T = rnn_lm_eval_steps(B, ck.model->n_out);
    const int bad = dyn ? rnn_lm_evaluate_dynamic(ck.model, &ids, &dc, eval_progress, &em, &ev)
                        : rnn_lm_evaluate_stream(ck.model, &ids, B, T, eval_progress, &em, &ev);
    if (em.shown) fputs("\r\033[K", stderr); /* the progress line goes before the result */
    if (bad) {
        die(rnn_last_error());
        goto out;
    }
    int is_char = rnn_tokenizer_type(ck.tok) == RNN_TOK_CHAR || rnn_tokenizer_type(ck.tok) == RNN_TOK_BYTE;
    const double loss = ev.loss;
    if (!isfinite(loss)) {
        die_nonfinite_loss(ckpt, data, loss,
                           dyn ? "dynamic evaluation diverged: a smaller --dynamic-lr" : "a damaged or diverged model");
        goto out;
    }
    const int cached = ck.model->c.cache_size > 0;
    if (json) {
        printf("{\"loss\": %.9g, \"perplexity\": ", loss);
        print_json_num(exp(loss));
        printf(", \"accuracy\": %.9g, \"tokens\": %ld, \"unk\": %zu, \"streams\": %d", ev.accuracy, ev.count, unk,
               (int)nstreams);
        if (is_char)
            printf(", \"bits_per_%s\": %.9g", rnn_tokenizer_type(ck.tok) == RNN_TOK_CHAR ? "char" : "byte",
                   loss / log(2.0));
        if (cached)
            printf(", \"cache\": {\"size\": %d, \"theta\": %g, \"lambda\": %g}, \"loss_without_cache\": %.9g, "
                   "\"accuracy_without_cache\": %.9g",
                   ck.model->c.cache_size, ck.model->c.cache_theta, ck.model->c.cache_lambda,
                   ev.model_loss, ev.model_accuracy);
        if (dyn)
            printf(", \"dynamic\": {\"lr\": %g, \"seg\": %d, \"decay\": %g, \"clip\": %g, \"rms\": %g}", dc.lr,
                   dc.seg, dc.decay, dc.clip, dc.rms);
        printf("}\n");
    } else {
        printf("%s: %ld tokens predicted", data, ev.count);
        if (nstreams > 1) printf(" in %d streams", (int)nstreams);
        printf(", loss %.4f nats, perplexity ", loss);
        print_ppl(exp(loss));
        printf(", accuracy %.4f", ev.accuracy);
        if (is_char) printf(", %.4f bits per %s", loss / log(2.0),
                            rnn_tokenizer_type(ck.tok) == RNN_TOK_CHAR ? "char" : "byte");
        if (cached)
            printf("\n  with a neural cache of %d (theta %g, lambda %g); without it: loss %.4f, accuracy %.4f",
                   ck.model->c.cache_size, ck.model->c.cache_theta, ck.model->c.cache_lambda,
                   ev.model_loss, ev.model_accuracy);
        if (dyn)
            printf("\n  dynamic evaluation: %s step (lr %g, rms %g, decay %g, clip %g) after every %d tokens",
                   dc.rms > 0 ? "an RMS-scaled" : "an SGD", dc.lr, dc.rms, dc.decay, dc.clip, dc.seg);
        printf("\n");
        const char *unk_name;
        rnn_tokenizer_filler_id(ck.tok, &unk_name);
        if (unk && n && unk * 20 >= n) /* 5% and more: say what that does to the scores */
            printf("(%zu of %zu tokens were not in the vocabulary, %.0f%%: each is scored as %s, one token, so the "
                   "perplexity does not compare with a model's of another vocabulary)\n",
                   unk, n, 100.0 * (double)unk / (double)n, unk_name);
        else if (unk)
            printf("(%zu tokens were not in the vocabulary)\n", unk);
    }
    rc = 0;
out:
    free(text);
    rnn_lm_stream_free(&ids);
    rnn_checkpoint_free(&ck);
    return rc;
}

/* rnn tokenize: each line of stdin as the model's tokenizer reads it (as
 * rnn eval and rnn classify read a line: a line's end is no text, a byte
 * order mark at the start of the input neither). */
static int cmd_tokenize(int argc, char **argv) {
    const char *json = NULL, *ckpt;
    small_opt opts[] = {{"json", &json, 1}};
    if (parse_small("tokenize", argc, argv, opts, 1, &ckpt)) return 1;
    if (!ckpt) return cmdf("tokenize", "which checkpoint? usage: rnn tokenize CKPT [--json] < TEXTS (one per line)");
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) return die(rnn_last_error());
    int rc = 0, line_no = 0;
    const int classify = ck.model->c.task == RNN_TASK_CLASSIFY;
    if (!ck.tok) rc = cmdf("tokenize", "%s: the checkpoint has no tokenizer (metadata \"tokenizer\")", ckpt);
    char *line = NULL;
    size_t cap = 0;
    long got = 0;
    while (!rc && (got = rnn_getline(&line, &cap, stdin, rnn_read_limit(), rnn_tokenizer_needs_utf8(ck.tok))) >= 0) {
        line_no++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        const size_t bom = line_no == 1 ? rnn_bom_len(line, (size_t)got) : 0;
        int32_t *ids = NULL, filler;
        size_t n = 0;
        if (rnn_tokenizer_encode(ck.tok, line + bom, (size_t)got - bom, &ids, &n, NULL)) {
            rnn_tok_text_error(rnn_tokenizer_options(ck.tok), NULL, line + bom, (size_t)got - bom);
            rc = cmdf("tokenize", "stdin line %d: %s", line_no, rnn_last_error());
            break;
        }
        const size_t whole = n;
        int32_t *read = ids;
        if (classify) { /* as rnn_cls_encode reads a text */
            n = rnn_cls_cut(ids, n, ck.model->c.max_len, ck.model->c.truncate_tail);
            if (n == 0) filler = rnn_tokenizer_filler_id(ck.tok, NULL), read = &filler, n = 1;
        }
        printf(json ? "{\"ids\": [" : "");
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? (json ? ", " : " ") : "", (int)read[i]);
        if (json) {
            printf("], \"tokens\": [");
            for (size_t i = 0; i < n; i++) {
                printf("%s\"", i ? ", " : "");
                print_json_string(rnn_tokenizer_token(ck.tok, read[i]));
                printf("\"");
            }
            printf("]");
            if (classify) printf(", \"cut\": %zu", whole > n ? whole - n : 0);
            printf("}");
        }
        printf("\n");
        free(ids);
    }
    if (!rc && got < -1)
        rc = cmdf("tokenize", "stdin line %d: %s", line_no + 1, got == -3 ? "too long to read into memory" : strerror(errno));
    free(line);
    rnn_checkpoint_free(&ck);
    return rc; /* (main checks what went to stdout) */
}

/* rnn info CKPT [--json]: what a checkpoint holds, without loading its data
 * into a model by hand: task, classes, architecture, parameter count,
 * tokenizer. --json prints one object with the checkpoint's own config. */
static int cmd_info(int argc, char **argv) {
    const char *json = NULL, *ckpt;
    small_opt opts[] = {{"json", &json, 1}};
    if (parse_small("info", argc, argv, opts, 1, &ckpt)) return 1;
    if (!ckpt) return cmdf("info", "which checkpoint? usage: rnn info CKPT [--json]");
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) return die(rnn_last_error());
    const rnn_config *c = &ck.model->c;
    const rnn_tok_options *to = ck.tok ? rnn_tokenizer_options(ck.tok) : NULL;
    const char *tok = ck.tok ? rnn_tok_type_name(rnn_tokenizer_type(ck.tok)) : "none";
    int vocab = ck.tok ? rnn_tokenizer_vocab_size(ck.tok) : c->vocab_size;
    size_t params = rnn_model_num_weights(ck.model);
    int classify = c->task == RNN_TASK_CLASSIFY, rnn = c->cell != RNN_CELL_NONE;
    if (json) {
        char *d = rnn_checkpoint_describe(&ck, ckpt);
        if (!d) {
            rnn_checkpoint_free(&ck);
            return die(rnn_last_error());
        }
        printf("%s\n", d);
        free(d);
    } else {
        printf("%s\n", ckpt);
        if (classify) {
            printf("  task        classifier, %d classes:", c->num_classes);
            for (int i = 0; i < ck.n_labels; i++) printf(" %s", ck.labels[i]);
            printf("\n");
        } else {
            printf("  task        %slanguage model (%s token of %d)\n", c->reverse ? "backward " : "",
                   c->reverse ? "previous" : "next", c->vocab_size);
        }
        printf("  model       embedding %d x %d", c->vocab_size, c->embed_dim);
        if (rnn)
            printf(" -> %s %d layer%s x %d%s%s", rnn_cell_name(c->cell), c->num_layers,
                   c->num_layers > 1 ? "s" : "", c->hidden_dim, c->bidirectional ? " bidirectional" : "",
                   c->residual ? " residual" : "");
        if (classify)
            printf(" -> %s pooling -> %s head", rnn_pool_name(c->pool), c->loss == RNN_LOSS_BCE ? "one-logit (bce)" : "softmax");
        else
            printf(" -> softmax over %d", c->vocab_size);
        if (c->tie_weights) printf(" (tied to the embedding)");
        printf("\n  parameters  %zu (%.3g MB in fp32)%s\n", params, params * 4.0 / 1e6,
               c->tie_weights ? "; the tied matrix counted once (the file also holds its copy, head.weight)" : "");
        printf("  tokenizer   %s, %d tokens", tok, vocab);
        const char *sep = " (";
        if (to && to->lowercase) printf("%slowercase", sep), sep = ", ";
        if (to && to->split_punct) printf("%ssplit punctuation", sep), sep = ", ";
        if (to && to->strip_html) printf("%sstrip HTML", sep), sep = ", ";
        if (to && to->keep_newlines) printf("%sline breaks as tokens", sep), sep = ", ";
        if (sep[0] == ',') printf(")");
        printf("\n  dropout     embedding %g, between layers %g, head %g", c->embed_dropout, c->dropout, c->head_dropout);
        if (c->weight_drop > 0) printf(", weight drop %g", c->weight_drop);
        if (c->recurrent_dropout > 0) printf(", recurrent (candidate) %g", c->recurrent_dropout);
        printf("\n");
        if (classify && c->max_len)
            printf("  texts       read by their %s %d tokens, as trained (rnn eval and classify: --max-len "
                   "changes it)\n", c->truncate_tail ? "last" : "first", c->max_len);
        else if (classify)
            printf("  texts       read whole\n");
        if (classify && ck.has_layout)
            printf("  data        --format %s --header %s --label-col %d%s%s, as trained (rnn eval reads files so)\n",
                   ck.layout_format, ck.layout_header, ck.layout_label_col, ck.layout_text_cols[0] ? " --text-col " : "",
                   ck.layout_text_cols);
        if (c->cache_size > 0)
            printf("  cache       neural cache of the last %d states (theta %g, lambda %g): validation and rnn eval "
                   "use it, rnn sample with --cache N\n",
                   c->cache_size, c->cache_theta, c->cache_lambda);
    }
    rnn_checkpoint_free(&ck);
    return 0;
}

/* rnn plot RUN (a run directory or a metrics.csv) [--out FILE.svg]. */
static int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *run;
    small_opt opts[] = {{"out", &out, 0}};
    if (parse_small("plot", argc, argv, opts, 1, &run)) return 1;
    if (!run) return cmdf("plot", "which run? usage: rnn plot RUNDIR|metrics.csv [--out FILE.svg]");
    char csv[4096], svg[4096];
    struct stat st;
    if (stat(run, &st)) {
        fprintf(stderr, "rnn: %s: %s\n", run,
                errno == ENOENT ? "no such run directory or metrics.csv" : strerror(errno));
        return 1;
    }
    int is_dir = S_ISDIR(st.st_mode);
    if (snprintf(csv, sizeof csv, is_dir ? "%s/metrics.csv" : "%s", run) >= (int)sizeof csv)
        return cmdf("plot", "path too long");
    if (out) {
        /* The plot replaces the file: only ever an .svg, and a regular file (a
         * checkpoint or /dev/null given by mistake stays as it is). */
        size_t n = strlen(out);
        if (n < 5 || strcasecmp(out + n - 4, ".svg"))
            return cmdf("plot", "--out %s: the plot replaces that file, so it must be named *.svg", out);
        if (!stat(out, &st) && !S_ISREG(st.st_mode))
            return cmdf("plot", "--out %s: %s", out, S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file");
        if (snprintf(svg, sizeof svg, "%s", out) >= (int)sizeof svg) return cmdf("plot", "--out path too long");
    } else { /* beside the csv: metrics.csv -> metrics.svg, anything else + .svg */
        size_t n = strlen(csv);
        int csv_ext = n > 4 && !strcmp(csv + n - 4, ".csv");
        if (snprintf(svg, sizeof svg, "%.*s.svg", (int)(csv_ext ? n - 4 : n), csv) >= (int)sizeof svg)
            return cmdf("plot", "path too long");
    }
    if (rnn_plot_metrics(csv, svg, is_dir ? run : csv)) return die(rnn_last_error());
    printf("%s\n", svg);
    return 0;
}

/* Prints s as the inside of a JSON string. */
static void print_json_string(const char *s) {
    static rnn_sbuf b; /* (kept between calls: one per text printed) */
    b.n = 0;
    if (rnn_sbuf_json_string(&b, s) == 0) fwrite(b.p, 1, b.n, stdout);
}

/* rnn classify reads its texts in blocks and runs each block through each
 * model in batches sorted by length, as rnn eval reads its data: one text at
 * a time, at batch 1, it ran 2-4 times slower than rnn eval on the same
 * texts. A block ends at CLS_BLOCK_TEXTS texts (fewer with many classes: it
 * holds each text's probabilities), once it holds CLS_BLOCK_BYTES bytes of
 * text (so one line may pass that, up to rnn_read_limit, as before), or
 * where the next line of stdin has not come yet, so that a program that
 * writes a line and waits for its answer gets it. At a terminal a block is
 * one line. */
#define CLS_BLOCK_TEXTS 256
#define CLS_BLOCK_BYTES ((size_t)1 << 20)
#define CLS_BLOCK_PROBS ((size_t)1 << 20) /* texts times classes */
#define CLS_BATCH 64                      /* rnn eval's */

/* One model's share of a block. */
typedef struct {
    rnn_cls_data d; /* the block's texts in the model's tokens, cut as the model reads them */
    size_t cap;     /* int32s d.tokens holds */
    size_t a_cap;   /* model 0 with --attention: floats the block's alpha holds */
    rnn_acts *a;    /* kept from block to block (rnn_cls_batch_probs) */
} cls_member;

typedef struct {
    int max, n;             /* texts a block may hold; texts in this one */
    const char **text;      /* (max) each text, */
    size_t *len;            /* (max) its bytes (a NUL byte in it is the tokenizer's error, not its end) */
    int *no;                /* (max) and its number: the argument, or the line of stdin */
    size_t *off;            /* (max) where each line of stdin starts in buf */
    char *buf;              /* the lines of stdin, each ended by a NUL */
    size_t cap;
    float *probs;           /* (max, C) one model's probabilities */
    double *sum;            /* (max, C) the mean of the models' */
    float *alpha;           /* --attention: a weight per token of model 0's d.tokens (cap of them) */
    unsigned char *was_cut; /* (K, max) text i cut by model k */
    int *empty;             /* (max) 1 + the first model that found no tokens in text i, or 0 */
    size_t *dropped;        /* (max) the tokens model 0 cut from the front of text i */
    long held;              /* a long line read, left in the line buffer for a block of its own (-1: none) */
    const char **name;      /* (max) --files: each text's path; NULL otherwise */
    char **owned;           /* (max) --files: each text's bytes, read for this block */
    char *held_file;        /* --files: a long file read, waiting for a block of its own */
    size_t held_len;
    int K;
    cls_member m[MAX_ENSEMBLE + 1];
} cls_block;

/* Frees the texts --files read for the block just done. */
static void cls_block_drop_files(cls_block *b) {
    for (int i = 0; b->owned && i < b->max; i++) free(b->owned[i]), b->owned[i] = NULL;
}

static void cls_block_free(cls_block *b) {
    cls_block_drop_files(b);
    free(b->text), free(b->len), free(b->no), free(b->off), free(b->buf), free(b->probs), free(b->sum);
    free(b->alpha), free(b->was_cut), free(b->empty), free(b->dropped), free(b->name), free(b->owned);
    free(b->held_file);
    for (int k = 0; k < b->K; k++) {
        rnn_cls_data_free(&b->m[k].d);
        rnn_acts_free(b->m[k].a);
    }
    memset(b, 0, sizeof *b);
}

/* A block of up to max texts for K models of C classes (files: texts read
 * from files). -1 when out of memory. */
static int cls_block_init(cls_block *b, int max, int C, int K, int files) {
    memset(b, 0, sizeof *b);
    const size_t n = (size_t)max;
    b->max = max, b->K = K, b->held = -1;
    b->text = malloc(n * sizeof *b->text), b->len = malloc(n * sizeof *b->len);
    b->no = malloc(n * sizeof *b->no), b->off = malloc(n * sizeof *b->off);
    b->probs = malloc(n * C * sizeof *b->probs), b->sum = malloc(n * C * sizeof *b->sum);
    b->was_cut = malloc(n * K), b->empty = malloc(n * sizeof *b->empty), b->dropped = malloc(n * sizeof *b->dropped);
    int ok = b->text && b->len && b->no && b->off && b->probs && b->sum && b->was_cut && b->empty && b->dropped;
    if (files) {
        b->name = calloc(n, sizeof *b->name), b->owned = calloc(n, sizeof *b->owned);
        ok = ok && b->name && b->owned;
    }
    for (int k = 0; k < K && ok; k++) {
        rnn_cls_data *d = &b->m[k].d;
        d->start = malloc(n * sizeof *d->start), d->len = malloc(n * sizeof *d->len);
        d->label = calloc(n, sizeof *d->label); /* rnn_cls_fill copies them as targets: unused here */
        ok = d->start && d->len && d->label;
    }
    if (!ok) cls_block_free(b);
    return ok ? 0 : -1;
}

/* Appends a text to model ck's share r of the block: its tokens cut to the
 * model's max_len (*dropped: the tokens cut from its front), a text with
 * none read as the one filler token, as in training (*empty set). alpha
 * (NULL or model 0's --attention weights) grows beside r's tokens. 1 when
 * the text was cut, 0 when not, -1 with a message on a tokenizer error or
 * out of memory. */
static int cls_member_add(cls_member *r, const rnn_checkpoint *ck, float **alpha, const char *text, size_t len,
                          int *empty, size_t *dropped) {
    const rnn_model *m = ck->model;
    int32_t *ids = NULL;
    size_t n = 0;
    *dropped = 0;
    if (rnn_tokenizer_encode(ck->tok, text, len, &ids, &n, NULL)) return -1;
    const size_t whole = n;
    n = rnn_cls_cut(ids, n, m->c.max_len, m->c.truncate_tail);
    if (m->c.truncate_tail) *dropped = whole - n;
    if (n > RNN_MAX_TEXT_LEN) {
        free(ids);
        return rnn_errorf("%zu tokens, more than %d (--max-len cuts it)", n, RNN_MAX_TEXT_LEN);
    }
    const int32_t filler = rnn_tokenizer_filler_id(ck->tok, NULL);
    if (!n) *empty = 1;
    const int rc = rnn_cls_append(&r->d, &r->cap, n ? ids : &filler, n ? n : 1, 0);
    free(ids);
    if (rc) return -1;
    if (alpha && r->a_cap < r->cap) { /* --attention's weights: one per token */
        float *h = realloc(*alpha, r->cap * sizeof *h);
        if (!h) return rnn_errorf("out of memory");
        *alpha = h, r->a_cap = r->cap;
    }
    return whole > n;
}

/* Whether stdin has input now (or has ended), so that reading waits for no
 * one: lines stdio has already read ahead, or bytes in the pipe. (glibc's
 * FILE says how much it holds; a burst of lines that stdio read at once
 * would otherwise go through one at a time while the pipe stays empty.) */
static int stdin_ready(void) {
#ifdef __GLIBC__
    if (stdin->_IO_read_ptr < stdin->_IO_read_end) return 1;
#endif
    struct pollfd p = {.fd = 0, .events = POLLIN};
    return poll(&p, 1, 0) != 0; /* (-1: let the read say what is wrong) */
}

/* Reads the next block of texts: the arguments texts[*next ...] (n_texts
 * of them; with --files, the files they name, each read whole: a file
 * longer than CLS_BLOCK_BYTES after others waits for a block of its own, and
 * a file that cannot be read returns -4 with the message, after the block's
 * files before it), or lines of stdin (*line_no: those read so far; a line of
 * limit bytes at most, read as rnn_getline reads it into *line), one with
 * a prompt when interactive. *eof set at the end of the input. 0, or the
 * failed read's rnn_getline code (-2 with *err its errno, -3 too long): the
 * block holds the lines before it. A line longer than CLS_BLOCK_BYTES after
 * others waits in *line for the next block, its own: a text that needs more
 * memory than there is fails alone, the lines before it answered. */
static long cls_read_block(cls_block *b, char **texts, int n_texts, int *next, int interactive, int stop_at_nul,
                           size_t limit, char **line, size_t *cap, int *line_no, int *eof, int *err) {
    long rc = 0;
    size_t used = 0;
    b->n = 0;
    cls_block_drop_files(b);
    if (b->cap > 2 * CLS_BLOCK_BYTES) { /* left by a long line: not kept for every block after it */
        free(b->buf);
        b->buf = NULL, b->cap = 0;
    }
    for (size_t bytes = 0; b->n < b->max && bytes < CLS_BLOCK_BYTES;) {
        const int i = b->n;
        if (n_texts) {
            if (*next >= n_texts) {
                *eof = 1;
                break;
            }
            if (b->name) { /* --files */
                char *t = b->held_file;
                size_t len = b->held_len;
                b->held_file = NULL;
                if (!t && !(t = rnn_read_text_file_ex(texts[*next], &len, stop_at_nul))) {
                    rc = -4;
                    break;
                }
                if (i > 0 && len > CLS_BLOCK_BYTES) {
                    b->held_file = t, b->held_len = len;
                    break;
                }
                b->owned[i] = t, b->text[i] = t, b->len[i] = len, b->name[i] = texts[*next];
            } else {
                b->text[i] = texts[*next];
                b->len[i] = strlen(texts[*next]);
            }
            b->no[i] = ++*next;
            bytes += b->len[b->n++];
            continue;
        }
        long got = b->held;
        if (got >= 0) {
            b->held = -1;
        } else {
            if (i > 0 && !stdin_ready()) break; /* answer the lines that came before waiting for more */
            if (interactive) fprintf(stderr, "> "), fflush(stderr);
            /* a NUL byte ends the read where the tokenizer refuses it (its
             * message follows), so binary input stops at its first one */
            got = rnn_getline(line, cap, stdin, limit, stop_at_nul);
            if (got > 0) ++*line_no;
        }
        if (got == -1) {
            *eof = 1;
            break;
        }
        if (got < 0) {
            *err = errno;
            rc = got;
            break;
        }
        while (got > 0 && ((*line)[got - 1] == '\n' || (*line)[got - 1] == '\r')) (*line)[--got] = 0;
        const size_t bom = *line_no == 1 ? rnn_bom_len(*line, (size_t)got) : 0; /* no text, as in a file */
        if (bom) memmove(*line, *line + bom, (size_t)(got -= (long)bom) + 1);
        if (interactive && !got) continue; /* another prompt */
        if (i > 0 && (size_t)got > CLS_BLOCK_BYTES) {
            b->held = got;
            break;
        }
        if (used + (size_t)got + 1 > b->cap) {
            size_t nc = b->cap ? 2 * b->cap : CLS_BLOCK_BYTES;
            if (nc < used + (size_t)got + 1) nc = used + (size_t)got + 1;
            char *g = realloc(b->buf, nc);
            if (!g) {
                *err = ENOMEM;
                rc = -2;
                break;
            }
            b->buf = g, b->cap = nc;
        }
        memcpy(b->buf + used, *line, (size_t)got + 1);
        b->off[i] = used;
        b->len[i] = (size_t)got;
        b->no[i] = *line_no;
        used += (size_t)got + 1;
        bytes += b->len[b->n++];
    }
    if (!n_texts)
        for (int i = 0; i < b->n; i++) b->text[i] = b->buf + b->off[i];
    return rc;
}

/* How messages and plain output lines name text i of block b, in buf (n
 * bytes): its path (--files) as one line (rnn_escape: a newline, a tab or a
 * byte of no UTF-8 as a C escape), else what and its number ("text 2",
 * "stdin line 7"). */
#define CLS_WHERE (4 * 4096 + 64) /* a path of PATH_MAX bytes, each written as \\xNN */
static const char *cls_where(const cls_block *b, const char *what, int i, char *buf, size_t n) {
    if (b->name) rnn_escape(buf, n, b->name[i]);
    else snprintf(buf, n, "%s %d", what, b->no[i]);
    return buf;
}

/* What cls_run_block says besides 0 (all printed) and -1 (a fatal error, printed). */
enum { CLS_BAD_TEXT = 1, CLS_STOP = 2 };

/* Classifies the block's texts with each model of e, in batches, and
 * prints each text's line in the order of the texts. A text that cannot be
 * read (invalid UTF-8, a NUL byte) ends the block: the texts before it are
 * printed, and its error, naming it by what ("stdin line" or "text") and
 * number, goes to bad_msg (cap bytes) for the caller to print; CLS_BAD_TEXT
 * then (a prompt goes on to the next line). CLS_STOP
 * after probabilities that are not finite, or a write error. cut[k] and
 * *n_done count the texts each model cut and the texts printed. */
static int cls_run_block(cls_block *b, ensemble *e, const char *what, int json, int attention, size_t *cut,
                         size_t *n_done, char *bad_msg, size_t cap) {
    const int K = e->K, C = e->ck[0].model->c.num_classes;
    char msg[8192]; /* the bad text's error, kept while the texts before it are printed */
    int n_ok = b->n, bad_k = -1;
    for (int k = 0; k < K; k++) b->m[k].d.n = 0, b->m[k].d.max_len = 0;
    for (int i = 0; i < b->n && bad_k < 0; i++) {
        b->empty[i] = 0;
        for (int k = 0; k < K; k++) {
            int none = 0;
            size_t dk;
            const int r = cls_member_add(&b->m[k], &e->ck[k], attention && !k ? &b->alpha : NULL, b->text[i], b->len[i],
                                         &none, &dk);
            if (r < 0) {
                n_ok = i, bad_k = k;
                snprintf(msg, sizeof msg, "%s", rnn_last_error());
                break;
            }
            b->was_cut[(size_t)k * b->max + i] = r > 0;
            if (none && !b->empty[i]) b->empty[i] = k + 1;
            if (k == 0) b->dropped[i] = dk;
        }
    }
    for (size_t x = 0; x < (size_t)n_ok * C; x++) b->sum[x] = 0;
    for (int k = 0; k < K && n_ok > 0; k++) {
        /* the models before bad_k read the bad text too: it is not
         * classified, nor does its length size the activations (out of
         * memory for it would name another text) */
        b->m[k].d.n = (size_t)n_ok;
        b->m[k].d.max_len = 0;
        for (int i = 0; i < n_ok; i++)
            if (b->m[k].d.len[i] > b->m[k].d.max_len) b->m[k].d.max_len = b->m[k].d.len[i];
        if (rnn_cls_batch_probs(e->ck[k].model, &b->m[k].d, CLS_BATCH, &b->m[k].a, b->probs,
                                attention && !k ? b->alpha : NULL)) {
            /* (out of memory, most likely for the longest text's activations: named) */
            int longest = 0;
            for (int i = 1; i < n_ok; i++)
                if (b->m[k].d.len[i] > b->m[k].d.len[longest]) longest = i;
            fflush(stdout);
            char buf[CLS_WHERE];
            return -cmdf("classify", "%s: %s (a text of %d tokens%s)", cls_where(b, what, longest, buf, sizeof buf),
                         rnn_last_error(), b->m[k].d.len[longest],
                         e->ck[k].model->c.max_len > 0 ? "" : "; --max-len N cuts it");
        }
        const double w = 1.0 / K;
        for (size_t x = 0; x < (size_t)n_ok * C; x++) b->sum[x] += w * b->probs[x];
    }
    for (int i = 0; i < n_ok; i++) {
        char buf[CLS_WHERE];
        const char *where = cls_where(b, what, i, buf, sizeof buf);
        for (int k = 0; k < K; k++) cut[k] += b->was_cut[(size_t)k * b->max + i];
        if (b->empty[i]) { /* still classified, so that each text keeps its output line */
            const char *filler;
            rnn_tokenizer_filler_id(e->ck[b->empty[i] - 1].tok, &filler);
            fflush(stdout); /* (the lines before it first, where both go to one place) */
            fprintf(stderr, "rnn classify: warning: %s: no tokens in the text; read as one %s\n", where, filler);
        }
        const double *sum = b->sum + (size_t)i * C;
        int best = 0, finite = 1;
        for (int c = 0; c < C; c++) finite &= isfinite(sum[c]) != 0;
        if (!finite) {
            fflush(stdout);
            fprintf(stderr, "rnn classify: %s: the model's probabilities are not finite (a damaged or diverged model)\n",
                    where);
            return CLS_STOP;
        }
        for (int c = 1; c < C; c++)
            if (sum[c] > sum[best]) best = c;
        if (json) {
            printf("{");
            if (b->name) printf("\"file\": \""), print_json_string(b->name[i]), printf("\", ");
            printf("\"label\": \"");
            print_json_string(e->ck[0].labels[best]);
            printf("\", \"probabilities\": [");
            for (int c = 0; c < C; c++) printf("%s%.9g", c ? ", " : "", sum[c]); /* float's every digit */
            printf("]");
        } else {
            if (b->name) printf("%s\t", where);
            printf("%s\t%.4f", e->ck[0].labels[best], sum[best]);
        }
        if (attention) {
            /* The tokens the attention pooling weighted most, heaviest first. */
            const rnn_cls_data *d = &b->m[0].d;
            const int n = d->len[i];
            const int32_t *ids = d->tokens + d->start[i];
            const float *alpha = b->alpha + d->start[i];
            int top[5], k = 0;
            for (; k < 5 && k < n; k++) {
                int arg = -1;
                for (int t = 0; t < n; t++) {
                    int used = 0;
                    for (int j = 0; j < k; j++) used |= top[j] == t;
                    if (!used && (arg < 0 || alpha[t] > alpha[arg])) arg = t;
                }
                top[k] = arg;
            }
            printf(json ? ", \"attention\": [" : "\tattention:");
            for (int j = 0; j < k; j++) {
                const char *tokname = rnn_tokenizer_token(e->ck[0].tok, ids[top[j]]);
                if (json) {
                    printf("%s{\"token\": \"", j ? ", " : "");
                    print_json_string(tokname);
                    printf("\", \"position\": %zu, \"weight\": %.6g}", b->dropped[i] + top[j], alpha[top[j]]);
                } else {
                    printf(" %s(%.2f)", tokname, alpha[top[j]]);
                }
            }
            if (json) printf("]");
        }
        printf(json ? "}\n" : "\n");
        ++*n_done;
    }
    const int flushed = fflush(stdout) == 0, err = errno;
    if (!flushed || ferror(stdout)) { /* no one reads the rest: stop here */
        cmdf("classify", "write error on standard output%s%s", flushed ? "" : ": ", flushed ? "" : strerror(err));
        return CLS_STOP;
    }
    if (bad_k < 0) return 0;
    char buf[CLS_WHERE];
    const char *where = cls_where(b, what, n_ok, buf, sizeof buf);
    if (K > 1) /* msg is a one-line text's: "input has invalid UTF-8 at byte offset 8" */
        snprintf(bad_msg, cap, "classify: %s: %s: %s", where, e->path[bad_k], msg);
    else
        snprintf(bad_msg, cap, "classify: %s: %s", where, msg);
    return CLS_BAD_TEXT;
}

/* argv[*i] as one of opts (n options that take a value), "--name V" or
 * "--name=V": the option, with its value (NULL when missing) in *v and *i
 * moved past it; NULL when argv[*i] is none of them. */
static const small_opt *valued_opt(const small_opt *opts, int n, char **argv, int argc, int *i, const char **v) {
    const char *a = argv[*i];
    if (strncmp(a, "--", 2)) return NULL;
    for (int k = 0; k < n; k++) {
        const size_t len = strlen(opts[k].name);
        if (strncmp(a + 2, opts[k].name, len) || (a[2 + len] && a[2 + len] != '=')) continue;
        *v = a[2 + len] == '=' ? a + 3 + len : *i + 1 < argc ? argv[++*i] : NULL;
        return &opts[k];
    }
    return NULL;
}

/* --files: each path a file, or a directory's .txt files (its
 * subdirectories' too, in name order, as rnn train's dir format reads a
 * class). The paths into *out (rnn_free_names it): their count, or -1 with
 * a message naming a path that cannot be opened or a directory without a
 * .txt file. */
typedef struct {
    char **names;
    int n, cap;
} path_list;

static int add_txt(const char *path, void *user) {
    path_list *l = user;
    const size_t n = strlen(path);
    return n >= 4 && !strcmp(path + n - 4, ".txt") ? rnn_names_push(&l->names, &l->n, &l->cap, path) : 0;
}

static int expand_files(char **paths, int n_paths, char ***out) {
    path_list l = {NULL, 0, 0};
    int rc = 0;
    for (int i = 0; i < n_paths && !rc; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            rc = rnn_errorf("%s: cannot open: %s", paths[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            const int before = l.n;
            rc = rnn_walk_files(paths[i], add_txt, NULL, &l);
            if (!rc && l.n == before) rc = rnn_errorf("%s: a directory with no .txt files", paths[i]);
        } else {
            rc = rnn_names_push(&l.names, &l.n, &l.cap, paths[i]);
        }
    }
    if (rc) {
        rnn_free_names(l.names, l.n);
        return -1;
    }
    *out = l.names;
    return l.n;
}

static void free_texts(char **texts, int n, int owned) {
    if (owned) rnn_free_names(texts, n);
    else free(texts);
}

/* rnn classify CKPT [TEXT ...]: label and probability per text; with no
 * text, one text per line from stdin (a prompt on a terminal). With
 * --ensemble, the mean probabilities of CKPT and the listed classifiers. */
static int cmd_classify(int argc, char **argv) {
    const char *json = NULL, *attention = NULL, *files = NULL, *ckpt = NULL, *list = NULL, *max_len = NULL,
               *truncate = NULL, *threads = NULL, *precision = NULL;
    /* Options may come anywhere; every other argument is a text ("--" ends
     * the options, for a text that starts with "--"). */
    char **texts = malloc(sizeof(char *) * (size_t)(argc + 1));
    int n_texts = 0, opts_done = 0;
    const small_opt valued[] = {{"ensemble", &list, 0}, {"max-len", &max_len, 0}, {"truncate", &truncate, 0},
                                {"threads", &threads, 0}, {"precision", &precision, 0}};
    const small_opt *opt;
    const char *v;
    if (!texts) return die("out of memory");
    for (int i = 0; i < argc; i++) {
        if (!opts_done && !strcmp(argv[i], "--")) opts_done = 1;
        else if (!opts_done && !strcmp(argv[i], "--json")) json = "1";
        else if (!opts_done && !strcmp(argv[i], "--attention")) attention = "1";
        else if (!opts_done && !strcmp(argv[i], "--files")) files = "1";
        else if (!opts_done && (opt = valued_opt(valued, (int)(sizeof valued / sizeof *valued), argv, argc, &i, &v))) {
            /* the last of a flag given twice counts, as for every command; but a
             * second --ensemble would drop the first one's models */
            const char *bad = *opt->val && opt->val == &list ? "is given twice (list the models in one: A,B)"
                              : !v                           ? "needs a value"
                              : !*v                          ? "needs a value (an empty one reads as none)"
                                                             : NULL;
            if (bad) {
                free(texts);
                fprintf(stderr, "rnn classify: option --%s %s\n", opt->name, bad);
                return 1;
            }
            *opt->val = v;
        } else if (!opts_done && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) && command_help("classify")) {
            free(texts);
            return 0;
        }
        else if (!opts_done && !strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "rnn classify: unknown option %s\n", argv[i]);
            free(texts);
            return 1;
        } else if (!ckpt) ckpt = argv[i];
        else texts[n_texts++] = argv[i];
    }
    if (!ckpt) {
        free(texts);
        return cmdf("classify", "which checkpoint? usage: rnn classify CKPT [--json] [--attention] [--ensemble A,B] [--files] "
                   "[--max-len N] [--truncate head|tail] [--threads N] [--precision fp32|bf16] [TEXT ...]");
    }
    if (check_cut("classify", max_len, truncate, NULL) || set_threads("classify", threads) ||
        set_precision("classify", precision)) { /* before reading the checkpoint: a value taken for it */
        free(texts);
        return 1;
    }
    char **paths = NULL; /* --files: the files, directories' read out */
    if (files) {
        const int n = n_texts ? expand_files(texts, n_texts, &paths) : -1;
        free(texts);
        if (n < 0)
            return cmdf("classify", "%s", n_texts ? rnn_last_error() : "--files: which files? (rnn classify CKPT --files FILE|DIR ...)");
        texts = paths, n_texts = n;
    }
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) {
        free_texts(texts, n_texts, files != NULL);
        return die(rnn_last_error());
    }
    const char *refuse = NULL;
    char why[2 * RNN_OPT_STR];
    if (ck.model->c.task != RNN_TASK_CLASSIFY || !ck.tok) {
        snprintf(why, sizeof why, "%s: %s", ckpt,
                 ck.model->c.task != RNN_TASK_CLASSIFY ? "not a classifier (rnn sample runs language models)"
                                                       : "the checkpoint has no tokenizer (metadata \"tokenizer\")");
        refuse = why;
    }
    else if (attention && list)
        refuse = "--attention shows one model's weights: not with --ensemble";
    else if (attention && ck.model->c.pool != RNN_POOL_ATTENTION)
        refuse = "--attention needs a model trained with --pool attention";
    if (refuse) {
        rnn_checkpoint_free(&ck);
        free_texts(texts, n_texts, files != NULL);
        return cmdf("classify", "%s", refuse);
    }
    ensemble e;
    if (ensemble_load(&e, "classify", ck, ckpt, list)) {
        free_texts(texts, n_texts, files != NULL);
        return 1;
    }
    if (set_cut("classify", &e, max_len, truncate)) {
        ensemble_free(&e);
        free_texts(texts, n_texts, files != NULL);
        return 1;
    }
    size_t cut[MAX_ENSEMBLE + 1] = {0}, n_done = 0;
    const int C = ck.model->c.num_classes;
    /* rc: a fatal error; failed: a text could not be classified (the
     * session goes on at a prompt, and exits 1 at the end). */
    int rc = 0, failed = 0, interactive = n_texts == 0 && isatty(0), eof = 0, next = 0, line_no = 0;
    char *line = NULL;
    size_t cap = 0;
    const size_t read_limit = n_texts ? 0 : rnn_read_limit(); /* (two system calls: once, not a line) */
    const size_t fit = CLS_BLOCK_PROBS / (size_t)C;
    cls_block b;
    if (cls_block_init(&b, interactive ? 1 : fit < 1 ? 1 : fit > CLS_BLOCK_TEXTS ? CLS_BLOCK_TEXTS : (int)fit, C, e.K,
                       files != NULL))
        rc = die("out of memory");
    /* a bad text's error; printed after the note on cut texts when it ends
     * the run, so that the error is the last line, as for every failure */
    char bad[CLS_WHERE + 8400] = ""; /* (a path, and its error of up to 8192 bytes) */
    int stopped = 0; /* by a failure cls_run_block printed: then no note after it */
    while (!rc && !eof) {
        int err = 0;
        const long got = cls_read_block(&b, texts, n_texts, &next, interactive, rnn_tokenizer_needs_utf8(ck.tok),
                                        read_limit, &line, &cap, &line_no, &eof, &err);
        char unread[4200] = ""; /* --files: a file that could not be read, after the block before it */
        if (got == -4) snprintf(unread, sizeof unread, "%s", rnn_last_error());
        const int r = b.n ? cls_run_block(&b, &e, n_texts ? "text" : "stdin line", json != NULL, attention != NULL,
                                          cut, &n_done, bad, sizeof bad)
                          : 0;
        if (r < 0) rc = 1;
        if (r) failed = 1;
        if (r == CLS_BAD_TEXT && interactive) fprintf(stderr, "rnn %s\n", bad), bad[0] = 0; /* the prompt goes on */
        stopped = r < 0 || r == CLS_STOP;
        if (stopped || (r == CLS_BAD_TEXT && !interactive)) break;
        if (got == -4)
            rc = cmdf("classify", "%s", unread);
        else if (got < 0)
            rc = cmdf("classify", "stdin line %d: %s", line_no + 1,
                      got == -3 ? "too long to read into memory" : strerror(err));
    }
    if (!stopped && !rc) note_cut("classify", n_texts ? NULL : "stdin", &e, cut, n_done, max_len || truncate);
    if (bad[0]) fprintf(stderr, "rnn %s\n", bad); /* ("classify: ...") */
    free(line);
    free_texts(texts, n_texts, files != NULL);
    cls_block_free(&b);
    ensemble_free(&e);
    return rc || failed;
}

/* OpenMP threads that reach a barrier first spin before they sleep: libgomp
 * turns 300,000 times by default. On a machine where another program keeps a
 * core busy, the thread being waited for is often not running, and the
 * spinning one burns its time slice: training on 2 threads beside one busy
 * process ran 30x slower (757 against 23,800 tokens/s for `make run`'s
 * model). With a short spin (GOMP_SPINCOUNT=1000) the busy case runs at the
 * speed of an idle machine (21,400 tokens/s). libgomp reads its
 * settings when it loads, before main, so the command runs itself again
 * once with them, unless the user set a wait policy or a spin count. */
static void short_openmp_spin(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "1000", 1)) return;
    execv("/proc/self/exe", argv); /* only returns on failure: then as before */
    unsetenv("GOMP_SPINCOUNT");
}

/* rc, or 1 with a message where what went to stdout was not all written
 * (a full disk, a closed pipe): results lost must not look like success. */
static int stdout_done(const char *cmd, int rc) {
    const int flushed = fflush(stdout) == 0, e = errno;
    if (rc || (flushed && !ferror(stdout))) return rc;
    fprintf(stderr, "rnn %s: write error on standard output%s%s\n", cmd, flushed ? "" : ": ",
            flushed ? "" : strerror(e));
    return 1;
}

static int run_command(const char *cmd, int argc, char **argv) {
    if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) && command_help(cmd)) return 0;
    if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
    if (!strcmp(cmd, "sample")) return cmd_sample(argc, argv);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc, argv);
    if (!strcmp(cmd, "classify")) return cmd_classify(argc, argv);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc, argv);
    if (!strcmp(cmd, "info")) return cmd_info(argc, argv);
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(argc, argv);
    fprintf(stderr, "rnn: unknown command '%s' (commands: train, sample, eval, classify, plot, info, tokenize; rnn --help)\n",
            cmd);
    return 2;
}

int main(int argc, char **argv) {
    short_openmp_spin(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : stdout_done("help", 0);
    }
    if (!strcmp(argv[1], "--version")) {
        if (argc > 2) return dief("--version takes no arguments (got '%s')", argv[2]);
        const char *wp = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT");
        printf("rnn %s (gemm backend: %s; OpenMP waits: %s%s)\n", RNN_VERSION, rnn_gemm_backend(),
               wp ? "OMP_WAIT_POLICY=" : sc ? "GOMP_SPINCOUNT=" : "libgomp's default", wp ? wp : sc ? sc : "");
        return stdout_done("--version", 0);
    }
    return stdout_done(argv[1], run_command(argv[1], argc - 2, argv + 2));
}
