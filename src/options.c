/* options.c: the option table (see options.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer.h"
#include "util.h"

typedef enum { K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_BOOL, K_STR, K_CHOICE } kind;

typedef struct {
    const char *name;
    kind k;
    size_t off, size;
    const char *choices; /* K_CHOICE: "a|b|c" */
    const char *help;
} opt_def;

#define F(field) offsetof(rnn_opts, field), sizeof(((rnn_opts *)0)->field)
static const opt_def defs[] = {
    {"data", K_STR, F(data), NULL, "training text (lm: a file, or a directory whose files are read as one text, in name order, subdirectories too) or labelled data (classify); default: built-in human numbers"},
    {"val", K_STR, F(val), NULL, "validation file (lm: or directory) (default: the last --val-frac of --data)"},
    {"val-frac", K_FLOAT, F(val_frac), NULL, "fraction of --data held out for validation when --val is absent"},
    {"tokenizer", K_STR, F(tokenizer), NULL, "char | byte | word | wordpiece:VOCAB.txt (default: char for a language model on --data; word for a classifier and for the built-in corpus)"},
    {"min-count", K_INT, F(min_count), NULL, "char and word tokenizers: keep tokens seen at least this often"},
    {"max-vocab", K_INT, F(max_vocab), NULL, "char and word tokenizers: keep at most this many tokens (0: all)"},
    {"lowercase", K_BOOL, F(lowercase), NULL, "lowercase text before tokenizing (char, word, wordpiece; default: on for word and wordpiece, off for char; --lowercase false turns it off)"},
    {"split-punct", K_BOOL, F(split_punct), NULL, "word tokenizer: punctuation as separate tokens (default: on; --split-punct false keeps it in the words)"},
    {"strip-html", K_BOOL, F(strip_html), NULL, "remove HTML tags such as <br /> before tokenizing (char: each becomes a space; word, wordpiece)"},
    {"replace-invalid", K_BOOL, F(replace_invalid), NULL, "replace invalid UTF-8 with U+FFFD instead of failing"},
    {"format", K_CHOICE, F(format), "auto|tsv|csv|jsonl|dir", "classify: data format"},
    {"header", K_CHOICE, F(header), "auto|yes|no", "classify: is the first TSV/CSV row a header to skip (auto: when it looks like column names and its label is no real one; said in the log)"},
    {"label-col", K_INT, F(label_col), NULL, "classify: 1-based label column (default 1; 0: the same)"},
    {"text-col", K_STR, F(text_cols), NULL, "classify: text column(s), e.g. 3 or 2,3 (default: TSV the last, CSV all after the label)"},
    {"label-names", K_STR, F(label_names), NULL, "classify: file with one class name per line for integer labels"},
    {"label-base", K_CHOICE, F(label_base), "auto|0|1", "classify, with --label-names: 0 if label 0 names the first class, 1 if label 1 does (auto: 0 when a training label is 0, 1 when one is the number of names)"},
    {"max-len", K_INT, F(max_len), NULL, "classify: read each text by this many of its tokens (0: no limit); saved with the model, so rnn eval, rnn classify and rnn_classify read texts so too"},
    {"truncate", K_CHOICE, F(truncate), "head|tail", "classify: keep the head or the tail of long texts (saved with the model too)"},
    {"vectors", K_STR, F(vectors), NULL, "initialise embeddings from GloVe/word2vec text vectors (--embed then defaults to their width)"},
    {"task", K_CHOICE, F(task), "lm|classify", "language model or classifier"},
    {"cell", K_CHOICE, F(cell), "lstm|gru|rnn_tanh|rnn_relu|none", "recurrent cell (none: bag of embeddings)"},
    {"layers", K_INT, F(layers), NULL, "stacked recurrent layers"},
    {"hidden", K_INT, F(hidden), NULL, "hidden units per direction"},
    {"embed", K_INT, F(embed), NULL, "embedding width (default 64, or the width of --vectors)"},
    {"bidirectional", K_BOOL, F(bidirectional), NULL, "bidirectional layers"},
    {"residual", K_BOOL, F(residual), NULL, "residual connections between stacked layers of equal width"},
    {"tie-weights", K_BOOL, F(tie_weights), NULL, "lm: the output layer shares the embedding matrix (needs --embed equal to --hidden)"},
    {"dropout", K_FLOAT, F(dropout), NULL, "dropout between stacked layers"},
    {"embed-dropout", K_FLOAT, F(embed_dropout), NULL, "dropout on the embedding output (the first layer's input)"},
    {"head-dropout", K_FLOAT, F(head_dropout), NULL, "dropout before the output layer (lm: on the top layer's output)"},
    {"weight-drop", K_FLOAT, F(weight_drop), NULL, "DropConnect on the recurrent weights W_hh, one mask per batch (AWD-LSTM)"},
    {"recurrent-dropout", K_FLOAT, F(recurrent_dropout), NULL, "lstm/gru: dropout on the cell's candidate (LSTM g, GRU n) per unit and step, never on the carried state (Semeniuta et al. 2016)"},
    {"locked-dropout", K_BOOL, F(locked_dropout), NULL, "lm: --embed-dropout, --dropout and --head-dropout draw one mask per stream and batch, the same at every step (variational; AWD-LSTM's locked dropout)"},
    {"random-offset", K_BOOL, F(random_offset), NULL, "lm: each epoch after the first starts the --batch streams at a random offset into the text, so that the --seq-len segments and the batches differ from epoch to epoch"},
    {"word-dropout", K_FLOAT, F(word_dropout), NULL, "training: each input token becomes <unk> with this probability (whole tokens; the targets stay)"},
    {"forget-bias", K_FLOAT, F(forget_bias), NULL, "LSTM: added to the forget gate bias at init (default 0, as PyTorch)"},
    {"cache", K_INT, F(cache), NULL, "lm: validate and evaluate with a neural cache (Grave et al. 2017) of this many recent (hidden state, next token) pairs, saved with the model for rnn eval (0: none; fine-tuning keeps the model's cache and its theta and lambda unless given, and --cache 0 turns it off)"},
    {"cache-theta", K_FLOAT, F(cache_theta), NULL, "lm: the cache's sharpness, the scale of h_t . h_i"},
    {"cache-lambda", K_FLOAT, F(cache_lambda), NULL, "lm: the cache's share of the prediction, in [0, 1)"},
    {"pool", K_CHOICE, F(pool), "last|mean|max|meanmax|attention", "classify: pooling over time"},
    {"attention-dim", K_INT, F(attention_dim), NULL, "classify: attention pooling width"},
    {"loss", K_CHOICE, F(loss), "ce|bce", "classify: softmax cross-entropy or binary (one logit)"},
    {"class-weight", K_STR, F(class_weight), NULL, "classify: the classes' weights in the training loss: none, balanced (w_c = n_examples / (n_classes * count_c) over the training split) or W1,W2,... (one positive number per class, in the class order the log's \"classes (N):\" line shows: the labels sorted numerically if all are integers, else bytewise; with --label-names the file's order). ce: sum of w_y*loss / sum of w_y over the batch (PyTorch's CrossEntropyLoss(weight=w)); bce: mean of w_y*loss (BCEWithLogitsLoss(weight=w_y)). Validation (loss, accuracy, macro-F1, best model, early stopping) stays unweighted, as Keras's class_weight"},
    {"label-smoothing", K_FLOAT, F(label_smoothing), NULL, "training loss only: label smoothing X in [0, 1) as PyTorch's CrossEntropyLoss(label_smoothing=X): (1-X)*CE + X*(mean over classes of -log p_c), weighted by --class-weight as PyTorch weighs it; ignored targets stay ignored; bce: targets y*(1-X) + X/2 (Keras's). Validation and rnn eval report the plain loss"},
    {"freeze-embedding", K_BOOL, F(freeze_embedding), NULL, "do not train the embedding"},
    {"grow-vocab", K_BOOL, F(grow_vocab), NULL, "when fine-tuning (--init-from), add the tokens of the training text (--data less its validation split) the model's tokenizer lacks (seen --min-count times; up to --max-vocab in all), their embedding and output rows starting at the mean of the others' (--vectors may give the new rows instead)"},
    {"optimizer", K_CHOICE, F(optimizer), "adam|adamw|sgd|rmsprop", "optimizer"},
    {"lr", K_FLOAT, F(lr), NULL, "learning rate"},
    {"weight-decay", K_FLOAT, F(weight_decay), NULL, "weight decay (decoupled for adamw)"},
    {"momentum", K_FLOAT, F(momentum), NULL, "sgd/rmsprop momentum"},
    {"nesterov", K_BOOL, F(nesterov), NULL, "sgd: Nesterov momentum"},
    {"beta1", K_FLOAT, F(beta1), NULL, "adam: beta1"},
    {"beta2", K_FLOAT, F(beta2), NULL, "adam: beta2"},
    {"eps", K_FLOAT, F(eps), NULL, "adam/rmsprop epsilon"},
    {"clip", K_FLOAT, F(clip), NULL, "clip gradients to this global L2 norm (0: off)"},
    {"clip-value", K_FLOAT, F(clip_value), NULL, "clip each gradient to [-v, v] (0: off; after --clip's norm, as clip_grad_norm_ then clip_grad_value_)"},
    {"schedule", K_CHOICE, F(schedule), "constant|step|cosine|plateau", "learning-rate schedule"},
    {"warmup", K_INT, F(warmup), NULL, "linear warm-up: update k of the first N uses --lr x k/N (any schedule; PyTorch's LinearLR(start_factor=1/N, total_iters=N-1))"},
    {"min-lr", K_FLOAT, F(min_lr), NULL, "cosine: the learning rate it falls to at the run's end (as CosineAnnealingLR); plateau: the lowest it cuts to"},
    {"step-size", K_INT, F(step_size), NULL, "step: multiply the lr by --gamma every this many steps"},
    {"gamma", K_FLOAT, F(gamma), NULL, "step: lr factor"},
    {"factor", K_FLOAT, F(factor), NULL, "plateau: lr factor"},
    {"lr-patience", K_INT, F(lr_patience), NULL, "plateau: cut the lr after more than this many evaluations without a validation loss lower by more than 1e-4 of the best (ReduceLROnPlateau's patience and threshold; a classifier's too, whose best model goes by accuracy)"},
    {"freeze-epochs", K_INT, F(freeze_epochs), NULL, "classify: epochs training only the head first (the rest has no gradient then, so --clip measures the head; each part's optimizer steps count from its first, as PyTorch's per-tensor state)"},
    {"encoder-lr-mult", K_FLOAT, F(encoder_lr_mult), NULL, "lr multiplier for the embedding and recurrent layers"},
    {"ema", K_FLOAT, F(ema), NULL, "validate and save an exponential moving average of the weights with this decay, e.g. 0.999 (0: off)"},
    {"seq-len", K_INT, F(seq_len), NULL, "lm: truncated-BPTT length"},
    {"batch", K_INT, F(batch), NULL, "batch size"},
    {"epochs", K_INT, F(epochs), NULL, "stop after this many epochs (with --steps or --time: whichever comes first; with none of the three: 10 epochs for a language model, 5 for a classifier)"},
    {"steps", K_LONG, F(steps), NULL, "stop after this many optimizer steps in all (with --epochs or --time: whichever comes first; 0: no limit of its own)"},
    {"time", K_DOUBLE, F(time), NULL, "stop after this many seconds of training in all (a resume counts the time before it; the final validation comes on top; 0: no limit of its own)"},
    {"eval-every", K_INT, F(eval_every), NULL, "validate every N steps (0: once per epoch)"},
    {"log-every", K_INT, F(log_every), NULL,
     "log a line every N steps (its loss: the mean over those steps; tok/s: their pace; 0: none, only the validations' lines)"},
    {"patience", K_INT, F(patience), NULL, "early stopping: stop at this many evaluations in a row without a better model (an LM's: a lower validation loss; a classifier's: a higher accuracy, or the same with a lower loss; 0: off)"},
    {"init-from", K_STR, F(init_from), NULL, "start from this checkpoint's weights (fine-tuning, transfer)"},
    {"reverse", K_BOOL, F(reverse), NULL, "lm: learn the text read right to left (a backward LM for --init-backward)"},
    {"init-backward", K_STR, F(init_backward), NULL, "classify: with --init-from FORWARD_LM, a bidirectional classifier whose backward direction starts from this --reverse LM (1 layer)"},
    {"resume", K_STR, F(resume), NULL, "continue the run in this directory exactly where it stopped"},
    {"out", K_STR, F(out), NULL, "run directory (default runs/<time>); one that holds a run's checkpoints is refused"},
    {"overwrite", K_BOOL, F(overwrite), NULL, "train into an --out that holds a run, replacing its checkpoints"},
    {"progress", K_CHOICE, F(progress), "auto|bar|log|quiet", "progress bar on a terminal, log lines otherwise (quiet: train.log only)"},
    {"threads", K_INT, F(threads), NULL, "threads, at most 4096 (0: all cores)"},
    {"precision", K_CHOICE, F(precision), "fp32|bf16", "matrix products in fp32, or bf16 with fp32 accumulation and master weights (CPUs with AVX512-BF16; on AMX tiles where there)"},
    {"seed", K_LONG, F(seed), NULL, "random seed"},
};
#undef F
#define NDEFS (int)(sizeof defs / sizeof defs[0])
_Static_assert(sizeof defs / sizeof defs[0] <= RNN_OPT_MAX, "rnn_opts.given needs room for every option");

void rnn_opts_default(rnn_opts *o) {
    memset(o, 0, sizeof *o);
    o->val_frac = 0.1f;
    o->tokenizer[0] = 0; /* auto: char for --data files, word for the built-in corpus */
    strcpy(o->format, "auto");
    o->min_count = 1;
    /* -1: the tokenizer's own default (word: lowercase and split punctuation). */
    o->lowercase = o->split_punct = o->strip_html = -1;
    strcpy(o->label_base, "auto");
    strcpy(o->header, "auto");
    o->max_len = 0;
    strcpy(o->truncate, "head");
    strcpy(o->task, "lm");
    strcpy(o->cell, "lstm");
    o->layers = 2;
    o->hidden = 256;
    o->embed = 64;
    o->forget_bias = 0.0f;
    o->cache_theta = 0.3f;
    o->cache_lambda = 0.2f;
    strcpy(o->pool, "meanmax");
    o->attention_dim = 64;
    strcpy(o->loss, "ce");
    strcpy(o->class_weight, "none");
    strcpy(o->optimizer, "adam");
    o->lr = 2e-3f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->clip = 5.0f;
    strcpy(o->schedule, "constant");
    o->gamma = 0.1f;
    o->factor = 0.5f;
    o->lr_patience = 2;
    o->step_size = 1000;
    o->encoder_lr_mult = 1.0f;
    o->seq_len = 64;
    o->batch = 32;
    o->epochs = 0;
    o->eval_every = 0;
    o->log_every = 50;
    strcpy(o->progress, "auto");
    strcpy(o->precision, "fp32");
    o->seed = 1337;
}

static const opt_def *find(const char *name) {
    for (int i = 0; i < NDEFS; i++)
        if (!strcmp(defs[i].name, name)) return &defs[i];
    return NULL;
}

int rnn_opts_is_flag(const char *name) {
    const opt_def *d = find(name);
    if (!d) return rnn_errorf("unknown option --%s (rnn train --help lists them)", name);
    return d->k == K_BOOL;
}

static int in_choices(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && !strncmp(c, v, n)) return 1;
        c += len + (bar ? 1 : 0);
    }
    return 0;
}

void rnn_opts_overlay(rnn_opts *dst, const rnn_opts *src) {
    for (int i = 0; i < NDEFS; i++)
        if (src->given[i]) {
            memcpy((char *)dst + defs[i].off, (const char *)src + defs[i].off, defs[i].size);
            dst->given[i] = 1;
        }
}

void rnn_opts_forget(rnn_opts *o, const char *name) {
    const opt_def *d = find(name);
    if (d) o->given[d - defs] = 0;
}

int rnn_opts_given(const rnn_opts *o, const char *name) {
    const opt_def *d = find(name);
    return d && o->given[d - defs];
}

static int set_value(rnn_opts *o, const opt_def *d, const char *name, const char *value);

int rnn_opts_bool_word(const char *s) {
    static const char *const words[][2] = {{"1", "0"}, {"true", "false"}, {"yes", "no"}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        for (int v = 0; v < 2; v++)
            if (!strcmp(s, words[i][v])) return !v;
    return !strcmp(s, "auto") ? -1 : 2;
}

/* A flag's default: -1 where "auto" (the tokenizer's choice) is one. */
static int bool_default(const opt_def *d) {
    rnn_opts def;
    rnn_opts_default(&def);
    return *(const int *)((const char *)&def + d->off);
}

int rnn_opts_set(rnn_opts *o, const char *name, const char *value) {
    const opt_def *d = find(name);
    if (!d) return rnn_errorf("unknown option --%s (rnn train --help lists them)", name);
    /* checked here, not when the run starts, so that a config file's bad
     * tokenizer is named by its file and line as any other bad value is */
    rnn_tok_options tok;
    if (!strcmp(d->name, "tokenizer") && value && *value && rnn_tok_parse_type(value, &tok))
        return rnn_error_prefix("option --tokenizer");
    int n_weights;
    if (!strcmp(d->name, "class-weight") && value && *value && rnn_class_weight_parse(value, NULL, 0, &n_weights) < 0)
        return -1;
    if (set_value(o, d, name, value)) return -1;
    o->given[d - defs] = 1;
    return 0;
}

static int set_value(rnn_opts *o, const opt_def *d, const char *name, const char *value) {
    char *p = (char *)o + d->off, *end = NULL;
    if (d->k != K_BOOL && (!value || !*value))
        return rnn_errorf("option --%s needs a value%s", name, value ? " (an empty one reads as none)" : "");
    errno = 0;
    switch (d->k) {
    case K_INT:
    case K_LONG: {
        /* digits (exact to 2^63: a seed), or a decimal number that is whole,
         * as the other commands read counts ("1e5" steps) */
        end = (char *)value;
        long long v = value[0] >= '0' && value[0] <= '9' ? strtoll(value, &end, 10) : -1;
        int ok = v >= 0 && !*end && !errno;
        double dv;
        if (!ok && !rnn_parse_decimal(value, &dv) && dv >= 0 && dv <= 9007199254740992.0 && dv == floor(dv)) {
            v = (long long)dv;
            ok = 1;
        }
        if (!ok || (d->k == K_INT && v > INT_MAX))
            return rnn_errorf("option --%s: '%s' is not a whole number from 0 to %lld", name, value,
                              d->k == K_INT ? (long long)INT_MAX : (long long)LONG_MAX);
        if (d->k == K_INT)
            *(int *)p = (int)v;
        else
            *(long *)p = (long)v;
        return 0;
    }
    case K_FLOAT:
    case K_DOUBLE: {
        double v;
        const int bad = rnn_parse_decimal(value, &v);
        if (bad == -1) return rnn_errorf("option --%s: '%s' is not a number", name, value);
        if (bad && d->k == K_DOUBLE)
            return rnn_errorf("option --%s: '%s' is out of range (%g to %g in size)", name, value, DBL_MIN, DBL_MAX);
        if (bad || (d->k == K_FLOAT && (fabs(v) > FLT_MAX || (v != 0 && (float)v == 0))))
            return rnn_errorf("option --%s: '%s' is out of a float's range (%g to %g in size)", name, value,
                              (double)FLT_TRUE_MIN, (double)FLT_MAX);
        if (d->k == K_FLOAT)
            *(float *)p = (float)v;
        else
            *(double *)p = v;
        return 0;
    }
    case K_BOOL: {
        const int v = value ? rnn_opts_bool_word(value) : 1;
        if (v == 2 || (v == -1 && bool_default(d) >= 0)) /* auto: only the tokenizer's own default */
            return rnn_errorf("option --%s: '%s' is not true/false%s", name, value,
                              bool_default(d) < 0 ? "/auto" : "");
        *(int *)p = v;
        return 0;
    }
    case K_CHOICE:
        if (!in_choices(d->choices, value))
            return rnn_errorf("option --%s: '%s' is not one of %s", name, value, d->choices);
        /* fall through */
    case K_STR:
        if (strlen(value) >= d->size)
            return rnn_errorf("option --%s: value too long (%zu characters, max %zu)", name,
                              strlen(value), d->size - 1);
        strcpy(p, value);
        return 0;
    }
    return 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
    return s;
}

/* `name = value` lines from f, named `path` in messages. lenient: names
 * this build does not know are skipped (a state saved by another version). */
/* saved: text a run saved (its resume state's options), where a name that
 * is no option is damage, or an option of a newer rnn.c that this build
 * would silently not apply (options have only been added since states kept
 * them), said as such; in a config file it is refused as a flag would be. */
static int load_stream(rnn_opts *o, FILE *f, const char *path, int saved) {
    char *line = NULL;
    size_t cap = 0;
    long got;
    int lineno = 0, rc = 0, seen[NDEFS] = {0}; /* the line that set each option */
    while ((got = rnn_getline(&line, &cap, f, RNN_OPT_LIST + 4096, 1)) >= 0) {
        lineno++;
        if (memchr(line, 0, (size_t)got)) {
            rc = rnn_errorf("%s:%d: a NUL byte (not a text file?)", path, lineno);
            break;
        }
        char *s = line;
        if (lineno == 1) s += rnn_bom_len(s, (size_t)got);
        s = trim(s);
        if (strchr(s, '\r')) { /* (trim took a CRLF's) */
            rc = rnn_errorf("%s:%d: a carriage return inside the line (do its lines end in a carriage return "
                            "alone? end them in \\n)", path, lineno);
            break;
        }
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        const opt_def *flag = eq ? NULL : find(s);
        if (!eq && !(flag && flag->k == K_BOOL)) { /* a flag alone is on, as on the command line */
            rc = flag ? rnn_errorf("%s:%d: expected '%s = VALUE'", path, lineno, s)
                      : rnn_errorf("%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        if (eq) *eq = 0;
        char *key = trim(s), *val = eq ? trim(eq + 1) : "true";
        if (!strcmp(key, "config")) {
            rc = rnn_errorf("%s:%d: a config file cannot include another", path, lineno);
            break;
        }
        if (!strcmp(key, "resume")) { /* its checks of the run's config.txt need the flag */
            rc = rnn_errorf("%s:%d: resume goes on the command line (--resume DIR), not in a config file", path,
                            lineno);
            break;
        }
        const opt_def *d = find(key);
        if (saved && !d) {
            rc = rnn_errorf("%s line %d names no option (\"%.60s\"): a damaged file, or one from a newer rnn.c", path,
                            lineno, key);
            break;
        }
        if (d && seen[d - defs]) {
            rc = rnn_errorf("%s:%d: %s is set twice (first on line %d)", path, lineno, key, seen[d - defs]);
            break;
        }
        if (d) seen[d - defs] = lineno;
        if (rnn_opts_set(o, key, val)) {
            rc = rnn_error_prefix("%s:%d", path, lineno);
            break;
        }
    }
    if (!rc && got == -3)
        rc = rnn_errorf("%s:%d: a line of over %d bytes (not a config file?)", path, lineno + 1, RNN_OPT_LIST + 4096);
    else if (!rc && got == -2)
        rc = rnn_errorf("%s: cannot read config file: %s", path, strerror(errno));
    free(line);
    return rc;
}

int rnn_opts_load_file(rnn_opts *o, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return rnn_errorf("%s: cannot open config file: %s", path, strerror(errno));
    int rc = load_stream(o, f, path, 0);
    fclose(f);
    return rc;
}

int rnn_opts_load_string(rnn_opts *o, const char *text, const char *name) {
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f) return rnn_errorf("%s: %s", name, strerror(errno));
    int rc = load_stream(o, f, name, 1);
    fclose(f);
    return rc;
}

/* v with the fewest significant digits that read back as the same float
 * (is_float) or double: 0.002, not 0.00200000009; 9 and 17 always do. */
static void shortest_g(char *buf, size_t cap, double v, int is_float) {
    for (int digits = is_float ? 6 : 15; digits <= (is_float ? 9 : 17); digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if ((is_float ? (double)strtof(buf, NULL) : strtod(buf, NULL)) == v) return;
    }
}

/* An option's value in o as config.txt spells it (exact: 9 digits for a
 * float), or for a message (short: 7 digits, 0.9 and not 0.899999976). */
static void format_value_as(const opt_def *d, const rnn_opts *o, char *buf, size_t cap, int exact) {
    const char *p = (const char *)o + d->off;
    switch (d->k) {
    case K_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case K_LONG: snprintf(buf, cap, "%ld", *(const long *)p); break;
    case K_FLOAT:
        if (exact)
            shortest_g(buf, cap, *(const float *)p, 1);
        else
            snprintf(buf, cap, "%.7g", *(const float *)p);
        break;
    case K_DOUBLE: shortest_g(buf, cap, *(const double *)p, 0); break;
    case K_BOOL: snprintf(buf, cap, "%s", *(const int *)p < 0 ? "auto" : *(const int *)p ? "true" : "false"); break;
    default: snprintf(buf, cap, "%s", p);
    }
}

static void format_value(const opt_def *d, const rnn_opts *o, char *buf, size_t cap) {
    format_value_as(d, o, buf, cap, 1);
}

char *rnn_opts_to_string(const rnn_opts *o) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) {
        rnn_errorf("out of memory");
        return NULL;
    }
    int bad = rnn_opts_write(o, f);
    if (fclose(f) || bad) {
        free(buf);
        rnn_errorf("out of memory");
        return NULL;
    }
    return buf;
}

int rnn_opts_write(const rnn_opts *o, FILE *f) {
    char v[RNN_OPT_LIST + 32];
    for (int i = 0; i < NDEFS; i++) {
        const opt_def *d = &defs[i];
        /* a config reused elsewhere must not carry these */
        if (d->off == offsetof(rnn_opts, overwrite) || d->off == offsetof(rnn_opts, resume)) continue;
        format_value(d, o, v, sizeof v);
        if (*v) fprintf(f, "%s = %s\n", d->name, v);
    }
    return ferror(f) ? rnn_errorf("write error") : 0;
}

/* 1 if option d of o differs from its value in def, with o's value in is
 * as a message shows it; else 0. */
static int off_default(const opt_def *d, const rnn_opts *o, const rnn_opts *def, char *is, size_t cap) {
    char dflt[RNN_OPT_LIST + 32];
    format_value(d, o, is, cap);
    format_value(d, def, dflt, sizeof dflt);
    if (!strcmp(is, dflt)) return 0;
    format_value_as(d, o, is, cap, 0);
    return 1;
}

int rnn_opts_check_task(const rnn_opts *o) {
    const int lm = !strcmp(o->task, "lm");
    const char *other = lm ? "classify" : "lm";
    const size_t n = strlen(other);
    rnn_opts def;
    rnn_opts_default(&def);
    char is[RNN_OPT_LIST + 32];
    for (int i = 0; i < NDEFS; i++) {
        const opt_def *d = &defs[i];
        if (strncmp(d->help, other, n) || (d->help[n] != ':' && d->help[n] != ',')) continue;
        if (off_default(d, o, &def, is, sizeof is))
            return rnn_errorf("--%s%s%s is for %s (--task %s)", d->name, d->k == K_BOOL ? "" : " ",
                              d->k == K_BOOL ? "" : is, lm ? "classifiers" : "language models", other);
    }
    return 0;
}

int rnn_opts_check_unused(const rnn_opts *o) {
    /* A value out of its range is that error first, not "does nothing" (the
     * model's config checks the same ranges again, for a checkpoint's). */
    const struct {
        const char *name;
        float v;
    } fractions[] = {{"dropout", o->dropout}, {"weight-drop", o->weight_drop}, {"cache-lambda", o->cache_lambda}};
    for (size_t i = 0; i < sizeof fractions / sizeof *fractions; i++)
        if (!(fractions[i].v >= 0 && fractions[i].v < 1))
            return rnn_errorf("--%s must be in [0, 1) (got %.7g)", fractions[i].name, fractions[i].v);
    const int sgd = !strcmp(o->optimizer, "sgd"), rms = !strcmp(o->optimizer, "rmsprop"), adam = !sgd && !rms;
    const int step = !strcmp(o->schedule, "step"), plateau = !strcmp(o->schedule, "plateau");
    const int cosine = !strcmp(o->schedule, "cosine"), none = !strcmp(o->cell, "none");
    const int stacked = !none && o->layers >= 2;
    const int dropout = o->dropout > 0 || o->embed_dropout > 0 || o->head_dropout > 0;
    const struct {
        const char *name;
        int applies;
        const char *needs;
    } rules[] = {
        {"momentum", sgd || rms, "--optimizer sgd or rmsprop"},
        {"nesterov", sgd, "--optimizer sgd"},
        {"beta1", adam, "--optimizer adam or adamw"},
        {"beta2", adam, "--optimizer adam or adamw"},
        {"eps", !sgd, "--optimizer adam, adamw or rmsprop"},
        {"step-size", step, "--schedule step"},
        {"gamma", step, "--schedule step"},
        {"factor", plateau, "--schedule plateau"},
        {"lr-patience", plateau, "--schedule plateau"},
        {"min-lr", cosine || plateau, "--schedule cosine or plateau"},
        {"forget-bias", !strcmp(o->cell, "lstm"), "--cell lstm"},
        {"layers", !none, "a recurrent --cell"},
        {"hidden", !none, "a recurrent --cell"},
        {"bidirectional", !none, "a recurrent --cell"},
        {"weight-drop", !none, "a recurrent --cell"},
        {"residual", stacked, "2 or more recurrent --layers"},
        {"dropout", stacked, "2 or more recurrent --layers (it drops between stacked layers)"},
        {"attention-dim", !strcmp(o->pool, "attention"), "--pool attention"},
        {"truncate", o->max_len > 0, "--max-len"},
        {"locked-dropout", dropout, "--dropout, --embed-dropout or --head-dropout"},
        {"cache-theta", o->cache > 0, "--cache"},
        {"cache-lambda", o->cache > 0, "--cache"},
        {"val-frac", !o->val[0], "no --val (it splits --data when --val does not give the validation text)"},
    };
    rnn_opts def;
    rnn_opts_default(&def);
    char is[RNN_OPT_LIST + 32];
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        if (rules[i].applies) continue;
        const opt_def *d = find(rules[i].name);
        if (off_default(d, o, &def, is, sizeof is))
            return rnn_errorf("--%s%s%s does nothing in this run: it needs %s", d->name, d->k == K_BOOL ? "" : " ",
                              d->k == K_BOOL ? "" : is, rules[i].needs);
    }
    return 0;
}

/* The options that name files: a run records them as absolute paths, so
 * that it resumes from any directory (and --resume, not recorded, so that a
 * resume names the run's directory as the run's start did). */
static const char *const path_opts[] = {"data", "val", "vectors", "label-names", "init-from", "init-backward", "out",
                                        "resume"};

/* p as an absolute path in dst (cap bytes; "" for ""): realpath's for a
 * file that exists, else the current directory before a relative one and
 * "." and ".." parts and repeated slashes resolved in the text. -1 when the
 * directory cannot be read, or the result would not fit. */
static int absolute(char *dst, size_t cap, const char *p) {
    char buf[2 * 4096 + 2];
    if (!*p) return cap ? (*dst = 0, 0) : -1;
    /* A file that exists: the kernel's own reading (a link's ".." is its
     * target's parent, which the text cannot tell). */
    char *real = realpath(p, NULL);
    if (real) {
        const int fits = strlen(real) < cap;
        if (fits) strcpy(dst, real);
        free(real);
        return fits ? 0 : -1;
    }
    /* "file.txt/" or "file.txt/.": a file taken for a directory names
     * nothing (ENOTDIR), and stays so, a '/' after it, for the command that
     * reads it to say so as every command does. */
    const int not_dir = errno == ENOTDIR;
    if (*p == '/') {
        if (strlen(p) >= sizeof buf) return -1;
        strcpy(buf, p);
    } else {
        char cwd[4096 + 1];
        if (!getcwd(cwd, sizeof cwd) || (size_t)snprintf(buf, sizeof buf, "%s/%s", cwd, p) >= sizeof buf) return -1;
    }
    size_t n = 0; /* dst[0..n): the parts so far, each after a '/' */
    for (char *part = buf, *next; part; part = next) {
        next = strchr(part, '/');
        if (next) *next++ = 0;
        if (!*part || !strcmp(part, ".")) continue;
        if (!strcmp(part, "..")) {
            while (n > 0 && dst[n - 1] != '/') n--;
            if (n > 0) n--; /* the '/' before it: the root stays */
            continue;
        }
        const size_t l = strlen(part);
        if (n + 1 + l + 1 > cap) return -1;
        dst[n++] = '/';
        memcpy(dst + n, part, l);
        n += l;
    }
    if (n == 0 || not_dir) {
        if (n + 2 > cap) return -1;
        dst[n++] = '/';
    }
    dst[n] = 0;
    return 0;
}

int rnn_opts_absolute_paths(rnn_opts *o) {
    for (size_t i = 0; i < sizeof path_opts / sizeof *path_opts; i++) {
        const opt_def *d = find(path_opts[i]);
        char *p = (char *)o + d->off, abs[2 * 4096 + 2];
        const size_t n = strlen(p);
        if (n && (isspace((unsigned char)p[0]) || isspace((unsigned char)p[n - 1]))) /* config.txt trims values */
            return rnn_errorf("option --%s: \"%s\" begins or ends with a space, which config.txt cannot keep (a "
                              "resume would read another path): rename it", d->name, p);
        if (absolute(abs, sizeof abs, p))
            return rnn_errorf("option --%s: %s cannot be made an absolute path (the current directory cannot be "
                              "read, or the path is too long)", d->name, p);
        if (strpbrk(abs, "\n\r")) continue; /* a config.txt line cannot hold it: kept as given */
        if (strlen(abs) >= d->size)
            return rnn_errorf("option --%s: %s is too long as an absolute path (%zu characters, max %zu)", d->name, p,
                              strlen(abs), d->size - 1);
        strcpy(p, abs);
    }
    /* and the vocabulary file of --tokenizer wordpiece:VOCAB.txt */
    static const char wp[] = "wordpiece:";
    char abs[2 * 4096 + 2];
    if (strncmp(o->tokenizer, wp, sizeof wp - 1) || !o->tokenizer[sizeof wp - 1]) return 0;
    if (absolute(abs, sizeof abs, o->tokenizer + sizeof wp - 1))
        return rnn_errorf("option --tokenizer: %s cannot be made an absolute path (the current directory cannot be "
                          "read, or the path is too long)", o->tokenizer + sizeof wp - 1);
    if (strpbrk(abs, "\n\r")) return 0;
    if (strlen(abs) + sizeof wp - 1 >= sizeof o->tokenizer)
        return rnn_errorf("option --tokenizer: %s is too long as an absolute path (%zu characters, max %zu)",
                          o->tokenizer + sizeof wp - 1, strlen(abs), sizeof o->tokenizer - sizeof wp);
    memcpy(o->tokenizer + sizeof wp - 1, abs, strlen(abs) + 1); /* after the "wordpiece:" it has; length checked above */
    return 0;
}

/* 1 if the paths a and b name the same file: the same device and inode
 * where both exist, else the same absolute path. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    const int ea = *a && stat(a, &sa) == 0, eb = *b && stat(b, &sb) == 0;
    if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb) return 0;
    char aa[2 * 4096 + 2], ab[2 * 4096 + 2];
    return !absolute(aa, sizeof aa, a) && !absolute(ab, sizeof ab, b) && !strcmp(aa, ab);
}

/* What defines the run's data, model, batches and directory: its state
 * holds them, so a different value on resuming could only be ignored. The
 * first of them that differs between a and b: its definition, and the two
 * values in was / is; NULL when they all agree. */
static const opt_def *first_fixed_diff(const rnn_opts *a, const rnn_opts *b, char *was, char *is, size_t cap) {
    static const char *const fixed[] = {
        "task",   "data",          "val",       "val-frac",    "format",     "label-col",  "text-col",
        "label-names", "label-base", "header", "max-len",  "truncate",  "tokenizer",   "min-count",  "max-vocab",  "lowercase", "grow-vocab",
        "split-punct", "strip-html", "replace-invalid", "cell", "layers",    "hidden",     "embed",
        "bidirectional", "residual", "tie-weights", "reverse", "pool",       "attention-dim", "loss",
        "vectors", "optimizer",    "batch",     "seq-len",     "seed",       "out"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        const opt_def *d = find(fixed[i]);
        format_value(d, a, was, cap);
        format_value(d, b, is, cap);
        if (!strcmp(was, is)) continue;
        int path = 0; /* a file named relative to here and absolute in config.txt is the same file */
        for (size_t k = 0; k < sizeof path_opts / sizeof *path_opts; k++) path |= !strcmp(fixed[i], path_opts[k]);
        if (!strcmp(fixed[i], "tokenizer") && !strncmp(was, "wordpiece:", 10) && !strncmp(is, "wordpiece:", 10)) {
            if (!same_file(was + 10, is + 10)) return d;
            continue;
        }
        if (!path || !same_file(was, is)) return d;
    }
    return NULL;
}

int rnn_opts_check_resume(const rnn_opts *run, const rnn_opts *now, const char *dir) {
    char was[RNN_OPT_LIST + 32], is[RNN_OPT_LIST + 32];
    const opt_def *d = first_fixed_diff(run, now, was, is, sizeof was);
    if (d)
        return rnn_errorf("--%s cannot change when resuming %s (its config.txt has \"%s\", here \"%s\"): "
                          "train a new run, or fine-tune its model with --init-from",
                          d->name, dir, was, is);
    return 0;
}

int rnn_opts_check_state(const rnn_opts *saved, const rnn_opts *now, const char *dir) {
    char was[RNN_OPT_LIST + 32], is[RNN_OPT_LIST + 32];
    const opt_def *d = first_fixed_diff(saved, now, was, is, sizeof was);
    if (d)
        return rnn_errorf("the options of this resume (%s/config.txt, then any settings) do not match the "
                          "run's saved state: %s = \"%s\" here, \"%s\" in the state (was config.txt edited or "
                          "damaged? restore that line)",
                          dir, d->name, is, was);
    return 0;
}

int rnn_class_weight_parse(const char *s, float *w, int cap, int *n) {
    *n = 0;
    if (!strcmp(s, "none")) return RNN_CW_NONE;
    if (!strcmp(s, "balanced")) return RNN_CW_BALANCED;
    for (const char *p = s;; p++) {
        const char *comma = strchr(p, ',');
        const size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char num[64], *v0;
        double v;
        snprintf(num, sizeof num, "%.*s", (int)(len < sizeof num ? len : sizeof num - 1), p);
        v0 = trim(num); /* "1, 2.5" reads as "1,2.5" */
        if (len >= sizeof num || rnn_parse_decimal(v0, &v) || !(v > 0) || v > FLT_MAX || (float)v == 0)
            return rnn_errorf("option --class-weight: '%.*s' is not a positive number (give none, balanced, or one "
                              "positive weight per class, comma-separated: 1,2.5,1)", (int)(len < 40 ? len : 40), p);
        if (*n < cap) w[*n] = (float)v;
        ++*n;
        if (!comma) return RNN_CW_LIST;
        p = comma;
    }
}

void rnn_opts_help(FILE *f) {
    rnn_opts def;
    rnn_opts_default(&def);
    for (int i = 0; i < NDEFS; i++) {
        const opt_def *d = &defs[i];
        char flag[64], v[RNN_OPT_LIST + 32];
        snprintf(flag, sizeof flag, "--%s%s", d->name, d->k == K_BOOL ? "" : " X");
        format_value_as(d, &def, v, sizeof v, 0); /* the default, unless the help says it (or a flag: off) */
        const int show = d->k != K_BOOL && *v && !strstr(d->help, "default");
        fprintf(f, "  %-22s %s%s%s%s%s%s\n", flag, d->help, d->choices ? ": " : "", d->choices ? d->choices : "",
                show ? " (default " : "", show ? v : "", show ? ")" : "");
    }
}
