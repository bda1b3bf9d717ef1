/* main.c: the `rnn` command: train, sample, eval (and help). Turns library
 * failures into one-line errors and non-zero exits; the library itself never
 * exits. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "gemm.h"
#include "options.h"
#include "sample.h"
#include "tokenizer.h"
#include "train.h"

#define RNN_VERSION "0.1.0"

static int die(const char *msg) {
    fprintf(stderr, "rnn: %s\n", msg);
    return 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "rnn %s: recurrent networks (RNN, LSTM, GRU) in C\n"
            "usage:\n"
            "  rnn train  [--config FILE] [--data FILE] [--OPTION VALUE ...]   (rnn train --help)\n"
            "  rnn sample CKPT [--prime TEXT] [--length N] [--temperature X] [--top-k K]\n"
            "                  [--top-p P] [--seed S] [--stop STRING]\n"
            "  rnn eval   CKPT --data FILE [--json]\n"
            "With no --data, rnn train learns the built-in human-numbers corpus.\n",
            RNN_VERSION);
}

static void on_sigint(int sig) {
    (void)sig;
    rnn_train_interrupt();
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills at once */
}

/* Applies --name value pairs from argv to o. Returns 0, or 1 after printing. */
static int apply_flags(rnn_opts *o, int argc, char **argv, int skip_config) {
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
        if (!strcmp(name, "config")) {
            if (!val) i++;
            if (!skip_config) continue;
            continue;
        }
        int flag = rnn_opts_is_flag(name);
        if (flag < 0) return die(rnn_last_error());
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
                   "A config file holds 'name = value' lines with the names below; flags override it.\n"
                   "--resume RUNDIR continues a run (its config.txt, then these flags).\n\n");
            rnn_opts_help(stdout);
            return 0;
        }
    rnn_opts o;
    rnn_opts_default(&o);
    /* Order: defaults < --resume RUNDIR/config.txt < --config FILE < flags. */
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--resume") && i + 1 < argc) v = argv[i + 1];
        if (!strncmp(argv[i], "--resume=", 9)) v = argv[i] + 9;
        if (v) {
            char path[1024];
            snprintf(path, sizeof path, "%s/config.txt", v);
            if (rnn_opts_load_file(&o, path)) return die(rnn_last_error());
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) return die("option --config needs a value");
            v = argv[i + 1];
        }
        if (!strncmp(argv[i], "--config=", 9)) v = argv[i] + 9;
        if (v && rnn_opts_load_file(&o, v)) return die(rnn_last_error());
    }
    if (apply_flags(&o, argc, argv, 0)) return 1;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    if (rnn_train(&o, NULL)) return die(rnn_last_error());
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
        if (strncmp(argv[i], "--", 2)) {
            if (*positional) {
                fprintf(stderr, "rnn %s: unexpected argument '%s'\n", cmd, argv[i]);
                return 1;
            }
            *positional = argv[i];
            continue;
        }
        int k = 0;
        while (k < n && strcmp(argv[i] + 2, opts[k].name)) k++;
        if (k == n) {
            fprintf(stderr, "rnn %s: unknown option %s\n", cmd, argv[i]);
            return 1;
        }
        if (opts[k].is_flag) {
            *opts[k].val = "1";
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "rnn %s: option %s needs a value\n", cmd, argv[i]);
                return 1;
            }
            *opts[k].val = argv[++i];
        }
    }
    return 0;
}

static int parse_num(const char *cmd, const char *flag, const char *s, double lo, double hi,
                     double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "rnn %s: --%s '%s' must be a number in [%g, %g]\n", cmd, flag, s, lo, hi);
        return 1;
    }
    *out = v;
    return 0;
}

static int cmd_sample(int argc, char **argv) {
    const char *prime = NULL, *length = "500", *temp = "1", *topk = "0", *topp = "1",
               *seed = "1337", *stop = NULL;
    small_opt opts[] = {{"prime", &prime, 0}, {"length", &length, 0}, {"temperature", &temp, 0},
                        {"top-k", &topk, 0},  {"top-p", &topp, 0},    {"seed", &seed, 0},
                        {"stop", &stop, 0}};
    const char *ckpt;
    if (parse_small("sample", argc, argv, opts, 7, &ckpt)) return 1;
    if (!ckpt) return die("sample: which checkpoint? usage: rnn sample CKPT [--prime TEXT] ...");
    double len, t, k, p, sd;
    if (parse_num("sample", "length", length, 0, 1e9, &len) ||
        parse_num("sample", "temperature", temp, 0, 100, &t) ||
        parse_num("sample", "top-k", topk, 0, 1e9, &k) || parse_num("sample", "top-p", topp, 0, 1, &p) ||
        parse_num("sample", "seed", seed, 0, 1.8e19, &sd))
        return 1;
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) return die(rnn_last_error());
    if (!ck.tok) {
        rnn_checkpoint_free(&ck);
        return die("sample: the checkpoint has no tokenizer");
    }
    rnn_sampler *s = rnn_sampler_create(ck.model, ck.tok, (uint64_t)sd);
    if (!s) {
        rnn_checkpoint_free(&ck);
        return die(rnn_last_error());
    }
    int rc = 0;
    if (prime && *prime) {
        if (rnn_sampler_prime(s, prime, strlen(prime)) < 0) {
            rc = die(rnn_last_error());
            goto out;
        }
        fputs(prime, stdout);
    }
    rnn_sample_opts so = {(float)t, (int)k, (float)p};
    size_t piece_cap = rnn_tokenizer_max_piece(ck.tok) + 1;
    char *piece = malloc(piece_cap);
    if (!piece) {
        rc = die("out of memory");
        goto out;
    }
    size_t stop_len = stop ? strlen(stop) : 0, tail_len = 0;
    char tail[256] = {0};
    for (long i = 0; i < (long)len; i++) {
        int32_t prev = rnn_sampler_last(s);
        int32_t id = rnn_sampler_next(s, &so);
        size_t n = rnn_tokenizer_piece(ck.tok, prime && *prime ? prev : (i ? prev : -1), id, piece,
                                       piece_cap);
        fwrite(piece, 1, n, stdout);
        fflush(stdout);
        if (stop_len && stop_len < sizeof tail) {
            /* Keep the last stop_len bytes written to test for the stop string. */
            for (size_t j = 0; j < n; j++) {
                if (tail_len == stop_len) memmove(tail, tail + 1, --tail_len);
                tail[tail_len++] = piece[j];
            }
            if (tail_len == stop_len && !memcmp(tail, stop, stop_len)) break;
        }
    }
    fputc('\n', stdout);
    free(piece);
out:
    rnn_sampler_free(s);
    rnn_checkpoint_free(&ck);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *json = NULL;
    small_opt opts[] = {{"data", &data, 0}, {"json", &json, 1}};
    const char *ckpt;
    if (parse_small("eval", argc, argv, opts, 2, &ckpt)) return 1;
    if (!ckpt) return die("eval: which checkpoint? usage: rnn eval CKPT --data FILE [--json]");
    if (!data) return die("eval: --data FILE is required");
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, ckpt)) return die(rnn_last_error());
    int rc = 1;
    size_t len, n = 0, unk = 0;
    int32_t *ids = NULL;
    char *text = rnn_read_file(data, &len);
    if (!text) {
        die(rnn_last_error());
        goto out;
    }
    if (!ck.tok || ck.model->c.task != RNN_TASK_LM) {
        die("eval: this build evaluates language models only");
        goto out;
    }
    if (rnn_tokenizer_encode(ck.tok, text, len, &ids, &n, &unk)) {
        fprintf(stderr, "rnn: %s: %s\n", data, rnn_last_error());
        goto out;
    }
    if (n < 2) {
        fprintf(stderr, "rnn: %s: needs at least 2 tokens to evaluate (has %zu)\n", data, n);
        goto out;
    }
    double loss, acc;
    long count;
    if (rnn_lm_evaluate(ck.model, ids, n, 1, 256, &loss, &acc, &count)) {
        die(rnn_last_error());
        goto out;
    }
    int is_char = rnn_tokenizer_type(ck.tok) == RNN_TOK_CHAR || rnn_tokenizer_type(ck.tok) == RNN_TOK_BYTE;
    if (json) {
        printf("{\"loss\": %.6f, \"perplexity\": %.6f, \"accuracy\": %.6f, \"tokens\": %ld, \"unk\": %zu",
               loss, exp(loss), acc, count, unk);
        if (is_char) printf(", \"bits_per_char\": %.6f", loss / log(2.0));
        printf("}\n");
    } else {
        printf("%s: %ld tokens predicted, loss %.4f nats, perplexity %.3f, accuracy %.4f", data,
               count, loss, exp(loss), acc);
        if (is_char) printf(", %.4f bits per %s", loss / log(2.0),
                            rnn_tokenizer_type(ck.tok) == RNN_TOK_CHAR ? "char" : "byte");
        printf("\n");
        if (unk) printf("(%zu tokens were not in the vocabulary)\n", unk);
    }
    rc = 0;
out:
    free(text);
    free(ids);
    rnn_checkpoint_free(&ck);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("rnn %s (gemm backend: %s)\n", RNN_VERSION, rnn_gemm_backend());
        return 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "sample")) return cmd_sample(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    fprintf(stderr, "rnn: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
