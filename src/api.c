/* api.c: the public API of include/rnn.h over the internal modules. */
#include "rnn.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "classify.h"
#include "gemm.h"
#include "options.h"
#include "sample.h"
#include "train.h"

/* Activations kept between rnn_classify calls: for texts of up to KEEP_T
 * tokens (a few MB for typical models); a longer text's are freed after it. */
#define KEEP_T 4096

struct rnn_handle {
    rnn_checkpoint ck;
    char *path;    /* as given to rnn_open */
    char *about;   /* rnn_describe's JSON, made on its first call */
    rnn_acts *a;   /* classifier activations, grown to the longest text seen */
    int a_T;
    float *probs;  /* (num_classes) scratch for rnn_classify */
    rnn_sampler *gen; /* a language model's sampler, its weights packed by the first generation, reset by each */
    int gen_busy;     /* gen is generating: a call from its emit callback makes a sampler of its own */
    /* rnn_set's settings: generation's (no-unk, precision: gen's weights),
     * a classifier's precision (cls_bf16) and cut (max-len, truncate; the
     * model's at first), read
     * once per call (rnn_classify_batch's threads take no claim: the cut is
     * one atomic word, max_len * 2 + tail, so that a call never reads one
     * setting's old value beside the other's new one) */
    int no_unk, recase;
    float min_p, repeat_penalty; /* min-p, repeat-penalty (0 and 1: off) */
    int repeat_last;             /* repeat-last (64 at rnn_open) */
    rnn_precision gen_prec, gen_made; /* asked for; gen's */
    _Atomic int cls_bf16; /* a classifier's precision "bf16": rnn_classify(_batch)'s products in bf16 */
    _Atomic int64_t cut;
    _Atomic uintptr_t owner; /* the thread whose call is under way (its thread_mark's address), or 0 */
};

/* A handle serves one thread at a time (its scratch, its sampler): a call
 * while another thread's call on it runs is refused, where sharing a handle
 * used to give wrong probabilities without a word. The same thread may call
 * again from inside a call (a generation's emit callback). */
static _Thread_local char thread_mark;

/* 0 with *fresh 1 when this call took the handle (release gives it back), 0
 * with *fresh 0 inside this thread's own call; -1 + message when another
 * thread holds it. */
static int claim(rnn_t *m, const char *fn, int *fresh) {
    uintptr_t none = 0, me = (uintptr_t)&thread_mark;
    *fresh = atomic_compare_exchange_strong(&m->owner, &none, me);
    if (*fresh || none == me) return 0;
    return rnn_errorf("%s: the handle is in use by another thread's call (a handle serves one thread at a time: "
                      "open one for each thread)", fn);
}

static void release(rnn_t *m, int fresh) {
    if (fresh) atomic_store(&m->owner, 0);
}

const char *rnn_error(void) { return rnn_last_error(); }

const char *rnn_version(void) { return RNN_VERSION; }

const char *rnn_describe(rnn_t *m) {
    if (!m) {
        rnn_errorf("rnn_describe: no model (rnn_open failed?)");
        return NULL;
    }
    int fresh;
    if (claim(m, "rnn_describe", &fresh)) return NULL;
    if (!m->about && !(m->about = rnn_checkpoint_describe(&m->ck, m->path))) rnn_error_prefix("rnn_describe");
    release(m, fresh);
    return m->about;
}

/* The library reads and writes numbers the C way ("0.05") whatever locale the
 * host set: under a decimal comma (setlocale(LC_ALL, "") on a German desktop)
 * strtod stops at "0.05"'s point, and config.txt and metrics.csv would be
 * written with commas. uselocale switches the calling thread alone. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Puts the calling thread in the C locale; returns the locale to put back
 * with c_locale_leave ((locale_t)0: none made, nothing changed). */
static locale_t c_locale_enter(void) {
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}
static void c_locale_leave(locale_t host) {
    if (host) uselocale(host);
}

int rnn_threads(int n) {
    if (n < 0 || n > 4096) return rnn_errorf("rnn_threads: n must be in [0, 4096] (0: all cores), not %d", n);
    rnn_set_threads(n);
    return rnn_get_threads();
}

static rnn_t *open_checkpoint(const char *checkpoint_path) {
    if (!checkpoint_path || !checkpoint_path[0]) { /* ("" would read ": cannot open") */
        rnn_errorf("rnn_open: no checkpoint path%s", checkpoint_path ? " (an empty string)" : "");
        return NULL;
    }
    rnn_t *m = calloc(1, sizeof *m);
    if (!m) {
        rnn_errorf("rnn_open: out of memory");
        return NULL;
    }
    if (rnn_checkpoint_load(&m->ck, checkpoint_path)) {
        free(m);
        rnn_error_prefix("rnn_open");
        return NULL;
    }
    if (!m->ck.tok) {
        rnn_checkpoint_free(&m->ck);
        free(m);
        rnn_errorf("rnn_open: %s: the checkpoint has no tokenizer", checkpoint_path);
        return NULL;
    }
    if (!(m->probs = malloc(sizeof(float) * (size_t)(m->ck.model->c.num_classes + 1))) ||
        !(m->path = strdup(checkpoint_path)) ||
        /* a classifier's W_hh packed once for the texts read one at a time
         * (rnn_classify); here, before any call may share the handle */
        (m->ck.model->c.task == RNN_TASK_CLASSIFY && rnn_model_keep_blocks(m->ck.model))) {
        rnn_close(m);
        rnn_errorf("rnn_open: out of memory");
        return NULL;
    }
    m->gen_prec = RNN_FP32;
    m->repeat_penalty = 1, m->repeat_last = 64;
    atomic_init(&m->cut, (int64_t)m->ck.model->c.max_len * 2 + (m->ck.model->c.truncate_tail != 0));
    return m;
}

rnn_t *rnn_open(const char *checkpoint_path) {
    rnn_threads_sync(); /* the loading's parallel work on the process's count, as every call */
    const locale_t host = c_locale_enter();
    rnn_t *m = open_checkpoint(checkpoint_path);
    c_locale_leave(host);
    return m;
}

void rnn_close(rnn_t *m) {
    if (!m) return;
    rnn_acts_free(m->a);
    free(m->probs);
    rnn_sampler_free(m->gen);
    free(m->path);
    free(m->about);
    rnn_checkpoint_free(&m->ck);
    free(m);
}

const char *rnn_get_task(const rnn_t *m) {
    if (!m) {
        rnn_errorf("rnn_get_task: no model (rnn_open failed?)");
        return NULL;
    }
    return rnn_task_name(m->ck.model->c.task);
}

int rnn_num_classes(const rnn_t *m) {
    if (!m) return rnn_errorf("rnn_num_classes: no model (rnn_open failed?)"), 0;
    if (m->ck.model->c.task != RNN_TASK_CLASSIFY)
        return rnn_errorf("rnn_num_classes: this model is a language model, with no classes"), 0;
    return m->ck.model->c.num_classes;
}

const char *rnn_label(const rnn_t *m, int i) {
    if (!m || m->ck.model->c.task != RNN_TASK_CLASSIFY || i < 0 || i >= m->ck.n_labels) {
        if (!m) rnn_errorf("rnn_label: no model (rnn_open failed?)");
        else if (m->ck.model->c.task != RNN_TASK_CLASSIFY) rnn_errorf("rnn_label: this model is a language model");
        else rnn_errorf("rnn_label: class %d is not in [0, %d)", i, m->ck.n_labels);
        return NULL;
    }
    return m->ck.labels[i];
}

/* rnn_set's value of a count of tokens in [0, max] (0 meaning zero_is). */
static int token_count(const char *name, const char *value, long max, const char *zero_is, long *out) {
    char *end;
    errno = 0;
    *out = strtol(value, &end, 10);
    if (end == value || *end || errno || *out < 0 || *out > max)
        return rnn_errorf("%s: expected a whole number of tokens in [0, %ld] (0: %s), not \"%s\"", name, max, zero_is,
                          value);
    return 0;
}

/* rnn_set's work, the handle claimed. */
static int set_claimed(rnn_t *m, const char *name, const char *value) {
    const int lm = m->ck.model->c.task == RNN_TASK_LM;
    const char *task = NULL; /* the task the setting is for, where it is not this model's */
    static const char *const gen_names[] = {"no-unk", "precision", "recase", "min-p", "repeat-penalty", "repeat-last"};
    int gen = 0;
    for (size_t i = 0; i < sizeof gen_names / sizeof *gen_names; i++) gen |= !strcmp(name, gen_names[i]);
    if (!strcmp(name, "precision") && !lm) { /* a classifier's products */
        rnn_precision p;
        if (!value) return rnn_errorf("precision needs a value");
        if (rnn_precision_parse(value, &p)) return rnn_error_prefix("precision");
        if (p == RNN_BF16 && !rnn_gemm_bf16_available()) /* bf16 only where the CPU has its products */
            return rnn_errorf("precision: bf16 products need %s", rnn_gemm_bf16_missing());
        m->cls_bf16 = p == RNN_BF16;
        return 0;
    }
    if (gen) task = lm ? NULL : "language models";
    else if (!strcmp(name, "max-len") || !strcmp(name, "truncate")) task = lm ? "classifiers" : NULL;
    else
        return rnn_errorf("unknown setting \"%s\" (no-unk, recase, precision, min-p, repeat-penalty, repeat-last, "
                          "max-len, truncate)", name);
    if (task) return rnn_errorf("%s is for %s (this model is a %s)", name, task, lm ? "language model" : "classifier");
    if (!strcmp(name, "no-unk") || !strcmp(name, "recase")) { /* flags: NULL is true */
        const int on = value ? rnn_opts_bool_word(value) : 1, no_unk = name[0] == 'n';
        if (on != 0 && on != 1) return rnn_errorf("%s: expected true or false, not \"%s\"", name, value);
        const int unk = rnn_tokenizer_unk_id(m->ck.tok);
        if (on && no_unk && (unk < 0 || unk >= m->ck.model->n_out))
            return rnn_errorf("no-unk: this model's tokenizer has no unknown token");
        if (on && !no_unk && rnn_recase_check(m->ck.tok)) return -1;
        *(no_unk ? &m->no_unk : &m->recase) = on;
        return 0;
    }
    if (!value) return rnn_errorf("%s needs a value", name);
    if (!strcmp(name, "precision")) return rnn_precision_parse(value, &m->gen_prec) ? rnn_error_prefix("precision") : 0;
    if (!strcmp(name, "min-p") || !strcmp(name, "repeat-penalty")) {
        const int pen = name[0] == 'r';
        double v;
        if (rnn_parse_decimal(value, &v) || !(pen ? v >= 0.01 && v <= 100 : v >= 0 && v <= 1))
            return rnn_errorf("%s: expected a number in %s, not \"%s\"", name, pen ? "[0.01, 100] (1: off)" : "[0, 1] (0: off)",
                              value);
        *(pen ? &m->repeat_penalty : &m->min_p) = (float)v;
        return 0;
    }
    long v;
    if (!strcmp(name, "repeat-last")) {
        if (token_count(name, value, RNN_REPEAT_LAST_MAX, "all the text", &v)) return -1;
        m->repeat_last = (int)v;
        return 0;
    }
    if (!strcmp(name, "max-len")) {
        if (token_count(name, value, RNN_MAX_TEXT_LEN, "whole texts", &v)) return -1;
        /* (the side stays: max-len 0 reads whole texts, and a later max-len N
         * keeps the side it kept, as rnn classify --max-len N does; rnn_set
         * alone writes the word, under the handle's claim) */
        atomic_store(&m->cut, (int64_t)v * 2 + (atomic_load(&m->cut) & 1));
        return 0;
    }
    const int tail = !strcmp(value, "tail");
    if (!tail && strcmp(value, "head")) return rnn_errorf("truncate: expected head or tail, not \"%s\"", value);
    const int64_t cut = atomic_load(&m->cut);
    if (cut < 2)
        return rnn_errorf("truncate %s: the texts are read whole (max-len 0): set max-len N first, the tokens to keep",
                          value);
    atomic_store(&m->cut, (cut & ~(int64_t)1) | tail);
    return 0;
}

int rnn_set(rnn_t *m, const char *name, const char *value) {
    int fresh;
    if (!m) return rnn_errorf("rnn_set: no model (rnn_open failed?)");
    if (!name) return rnn_errorf("rnn_set: no setting name");
    if (claim(m, "rnn_set", &fresh)) return -1;
    const int rc = set_claimed(m, name, value);
    release(m, fresh);
    return rc ? rnn_error_prefix("rnn_set") : 0;
}

/* A handle's cut: its max_len (0: none) and which end it keeps. */
typedef struct {
    int max_len, tail;
} text_cut;

static text_cut handle_cut(const rnn_t *m) {
    const int64_t cut = atomic_load(&m->cut);
    return (text_cut){(int)(cut >> 1), (int)(cut & 1)};
}

/* A text's ids as the classifier m reads it (cut as cut says: as it was
 * trained, unless rnn_set changed it), *len of them; -1 with a message that
 * starts with fn and names the text by what ("the text", "text 3"). */
static int encode_text(const rnn_t *m, text_cut cut, const char *fn, const char *what, const char *text,
                       int32_t **ids, size_t *len) {
    const size_t n = strlen(text), bom = rnn_bom_len(text, n); /* a byte order mark is no text, as in a file */
    *ids = NULL, *len = 0;
    if (rnn_tokenizer_encode(m->ck.tok, text + bom, n - bom, ids, len, NULL)) {
        rnn_tok_text_error(rnn_tokenizer_options(m->ck.tok), NULL, text, n); /* named where the text has it */
        return rnn_error_prefix("%s: %s", fn, what);
    }
    if (*len == 0) { /* one filler token (<unk>), as training and rnn classify read such a text */
        free(*ids);
        if (!(*ids = malloc(sizeof **ids))) return rnn_errorf("%s: out of memory", fn);
        **ids = rnn_tokenizer_filler_id(m->ck.tok, NULL);
        *len = 1;
    }
    *len = rnn_cls_cut(*ids, *len, cut.max_len, cut.tail);
    if (*len > RNN_MAX_TEXT_LEN) {
        free(*ids), *ids = NULL;
        return rnn_errorf("%s: %s has %zu tokens, more than %d", fn, what, *len, RNN_MAX_TEXT_LEN);
    }
    return 0;
}

/* The class of the highest probability in p (C of them; the first of equals). */
static int argmax(const float *p, int C) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

static int classify_one(rnn_t *m, const char *text, float *probs, int n) {
    if (!text) return rnn_errorf("rnn_classify: no text");
    if (probs && n < 0) return rnn_errorf("rnn_classify: n must be >= 0 (the room in probs), not %d", n);
    const rnn_model *md = m->ck.model;
    if (md->c.task != RNN_TASK_CLASSIFY) return rnn_errorf("rnn_classify: this model is a language model");
    int32_t *ids;
    size_t len;
    if (encode_text(m, handle_cut(m), "rnn_classify", "the text", text, &ids, &len)) return -1;
    const int bad = rnn_cls_text_probs(md, &m->a, &m->a_T, ids, (int)len, m->probs);
    free(ids);
    if (bad) return rnn_error_prefix("rnn_classify");
    const int C = md->c.num_classes;
    if (probs) memcpy(probs, m->probs, sizeof(float) * (size_t)(n < C ? n : C));
    if (m->a_T > KEEP_T) { /* a long text's activations are not kept for the next call */
        rnn_acts_free(m->a);
        m->a = NULL;
        m->a_T = 0;
    }
    return argmax(m->probs, C);
}

/* The calling thread's products in bf16 (the handle's setting, read once
 * by the call) or fp32; returns the thread's own, for cls_precision_end. */
static rnn_precision cls_precision_begin(int bf16) {
    const rnn_precision run = rnn_gemm_precision();
    if (rnn_gemm_set_precision(bf16 ? RNN_BF16 : RNN_FP32)) rnn_gemm_set_precision(RNN_FP32);
    return run;
}

static void cls_precision_end(rnn_precision run) { rnn_gemm_set_precision(run); }

int rnn_classify(rnn_t *m, const char *text, float *probs, int n) {
    rnn_threads_sync();
    int fresh;
    if (!m) return rnn_errorf("rnn_classify: no model (rnn_open failed?)");
    if (claim(m, "rnn_classify", &fresh)) return -1;
    const rnn_precision run = cls_precision_begin(m->cls_bf16);
    const int r = classify_one(m, text, probs, n);
    cls_precision_end(run);
    release(m, fresh);
    return r;
}

/* rnn_classify_batch reads this many texts at a time: their tokens and
 * activations are what it holds. */
#define BATCH_BLOCK 256

/* (It holds nothing of the handle's but the model, which it reads: threads
 * may share a handle for it, and it takes none.) */
int rnn_classify_batch(rnn_t *m, const char *const *texts, int n_texts, int *best, float *probs) {
    rnn_threads_sync();
    const char *fn = "rnn_classify_batch";
    if (!m) return rnn_errorf("%s: no model (rnn_open failed?)", fn);
    if (n_texts < 0) return rnn_errorf("%s: n_texts must be >= 0, not %d", fn, n_texts);
    if (n_texts > 0 && (!texts || !best)) return rnn_errorf("%s: no %s", fn, !texts ? "texts" : "room for the classes (best)");
    const rnn_model *md = m->ck.model;
    if (md->c.task != RNN_TASK_CLASSIFY) return rnn_errorf("%s: this model is a language model", fn);
    const int C = md->c.num_classes;
    const text_cut cut = handle_cut(m); /* (one for all the texts, whatever rnn_set does meanwhile) */
    const int bf16 = m->cls_bf16;       /* (the same) */
    rnn_cls_data d = {0};
    size_t cap = 0;
    rnn_acts *a = NULL;
    /* the block's probabilities: in place in probs when given, else here */
    float *own = probs ? NULL : malloc(sizeof(float) * ((size_t)BATCH_BLOCK * C + 1));
    d.start = malloc(sizeof(size_t) * BATCH_BLOCK), d.len = malloc(sizeof(int) * BATCH_BLOCK);
    d.label = calloc(BATCH_BLOCK, sizeof(int));
    int rc = (probs || own) && d.start && d.len && d.label ? 0 : rnn_errorf("%s: out of memory", fn);
    for (int i0 = 0; i0 < n_texts && !rc; i0 += BATCH_BLOCK) {
        const int nb = n_texts - i0 < BATCH_BLOCK ? n_texts - i0 : BATCH_BLOCK;
        d.n = 0, d.max_len = 0;
        for (int i = 0; i < nb && !rc; i++) {
            char what[32];
            snprintf(what, sizeof what, "text %d", i0 + i);
            int32_t *ids;
            size_t len;
            if (!texts[i0 + i]) rc = rnn_errorf("%s: %s is NULL", fn, what);
            else if (encode_text(m, cut, fn, what, texts[i0 + i], &ids, &len)) rc = -1;
            if (rc) break;
            if (rnn_cls_append(&d, &cap, ids, len, 0)) rc = rnn_error_prefix("%s", fn);
            free(ids);
        }
        if (rc) break;
        float *p = probs ? probs + (size_t)i0 * C : own;
        const rnn_precision run = cls_precision_begin(bf16);
        const int bad = rnn_cls_batch_probs(md, &d, 64, &a, p, NULL);
        cls_precision_end(run);
        if (bad) {
            rc = rnn_error_prefix("%s", fn);
            break;
        }
        for (int i = 0; i < nb; i++) best[i0 + i] = argmax(p + (size_t)i * C, C);
    }
    rnn_acts_free(a);
    rnn_cls_data_free(&d);
    free(own);
    return rc;
}

/* rnn_generate's output, appended to a string. */
static int gen_append(const char *bytes, size_t n, void *user) { return rnn_sbuf_put(user, bytes, n); }

/* rnn_generate_stream's host callback: any non-zero return of the host's
 * stops the text as 1, told apart from the sampler's own -1 (out of
 * memory) by its sign. */
typedef struct {
    int (*emit)(const char *text, size_t len, void *user);
    void *user;
} gen_host;

static int gen_to_host(const char *bytes, size_t n, void *user) {
    const gen_host *h = user;
    return n && h->emit(bytes, n, h->user) ? 1 : 0;
}

/* The generators' common part: the prime, then the continuation, to emit;
 * fn names the caller in messages. 0, emit's non-zero value (it stopped),
 * or -1 + message. */
static int generate_claimed(const char *fn, rnn_t *m, const char *prime, size_t prime_len, int length,
                            float temperature, int top_k, float top_p, uint64_t seed, const char *stop,
                            size_t stop_len, int (*emit)(const char *bytes, size_t n, void *user), void *user);

static int generate(const char *fn, rnn_t *m, const char *prime, size_t prime_len, int length, float temperature,
                    int top_k, float top_p, uint64_t seed, const char *stop, size_t stop_len,
                    int (*emit)(const char *bytes, size_t n, void *user), void *user) {
    rnn_threads_sync();
    int fresh;
    if (m && claim(m, fn, &fresh)) return -1;
    const int rc = generate_claimed(fn, m, prime, prime_len, length, temperature, top_k, top_p, seed, stop, stop_len,
                                    emit, user);
    if (m) release(m, fresh);
    return rc;
}

/* rnn_set's "recase": the text handed on in sentence case (rnn_recase_emit). */
typedef struct {
    int (*emit)(const char *bytes, size_t n, void *user);
    void *user;
    rnn_recase rc;
} recasing;

static int emit_recased(const char *bytes, size_t n, void *user) {
    recasing *r = user;
    return rnn_recase_emit(&r->rc, bytes, n, r->emit, r->user);
}

static int generate_claimed(const char *fn, rnn_t *m, const char *prime, size_t prime_len, int length,
                            float temperature, int top_k, float top_p, uint64_t seed, const char *stop,
                            size_t stop_len, int (*emit)(const char *bytes, size_t n, void *user), void *user) {
    /* The ranges of rnn sample's flags. */
    const char *bad = NULL;
    if (!m) bad = "no model (rnn_open failed?)";
    else if (length < 0) bad = "length must be >= 0";
    else if (!(temperature >= 0 && temperature <= 100)) bad = "temperature must be in [0, 100] (0: greedy)";
    else if (top_k < 0) bad = "top_k must be >= 0 (0: off)";
    else if (!(top_p > 0 && top_p <= 1)) bad = "top_p must be in (0, 1] (1: off)";
    else if (prime_len && !prime) bad = "prime is NULL but prime_len is not 0";
    else if (stop_len && !stop) bad = "stop is NULL but stop_len is not 0";
    if (bad) return rnn_errorf("%s: %s", fn, bad);
    /* The text is valid UTF-8 without NUL bytes (a byte model's too, held to
     * it): a stop that is not would never end it, as rnn sample --stop says. */
    const long stop_bad = stop_len ? rnn_utf8_bad_at(stop, stop_len) : -1;
    if (stop_bad >= 0) {
        rnn_utf8_error(stop, stop_len, (size_t)stop_bad);
        return rnn_error_prefix("%s: the stop string, which this model's text never holds", fn);
    }
    const size_t bom = prime ? rnn_bom_len(prime, prime_len) : 0; /* no text, as for the other calls */
    prime += bom, prime_len -= bom;
    /* The sampler's weights (packed for reading one token at a time) are
     * made once per handle: a 2x1024 LSTM took 45 ms a call to pack them. */
    const int own = m->gen_busy; /* (a call from the host's emit, during a generation) */
    if (!own && m->gen && m->gen_made != m->gen_prec) { /* rnn_set changed it */
        rnn_sampler_free(m->gen);
        m->gen = NULL;
    }
    rnn_sampler *s = own ? NULL : m->gen;
    if (s) rnn_sampler_reset(s, seed);
    else if (!(s = rnn_sampler_create_ex(m->ck.model, m->ck.tok, seed, m->gen_prec))) return rnn_error_prefix("%s", fn);
    if (!own) m->gen = s, m->gen_busy = 1, m->gen_made = m->gen_prec;
    rnn_sampler_allow_unk(s, !m->no_unk); /* (as rnn_set says now; no_unk is set only where there is one) */
    rnn_sample_opts o = {temperature, top_k, top_p, m->min_p, m->repeat_penalty, m->repeat_last};
    const int bad_prime = prime_len && rnn_sampler_prime(s, prime, prime_len, NULL) < 0;
    int rc = bad_prime ? -1 : emit(prime, prime_len, user);
    recasing rc_to = {.emit = emit, .user = user};
    const int recase = m->recase; /* (read once: the emit callback may rnn_set it) */
    if (recase) rnn_recase_init(&rc_to.rc, prime, prime_len);
    if (!rc)
        rc = rnn_sampler_text(s, &o, length, prime, prime_len, stop, stop_len, recase ? emit_recased : emit,
                              recase ? (void *)&rc_to : user);
    char tail[1];
    if (!rc && recase && rnn_recase_end(&rc_to.rc, tail)) rc = emit(tail, 1, user);
    if (rc < 0) rnn_error_prefix(bad_prime ? "%s: the prime" : "%s", fn);
    if (own) rnn_sampler_free(s);
    else m->gen_busy = 0;
    return rc;
}

/* rnn_generate and rnn_generate_ex: the text in a string. */
static char *generate_string(const char *fn, rnn_t *m, const char *prime, size_t prime_len, int length,
                             float temperature, int top_k, float top_p, uint64_t seed, const char *stop,
                             size_t stop_len, size_t *out_len) {
    rnn_sbuf g = {0};
    if (generate(fn, m, prime, prime_len, length, temperature, top_k, top_p, seed, stop, stop_len, gen_append,
                 &g)) {
        free(g.p);
        return NULL;
    }
    if (out_len) *out_len = g.n; /* (g.p is a string even for an empty text: the prime's put made it) */
    return g.p;
}

int rnn_generate_stream(rnn_t *m, const char *prime, size_t prime_len, int length, float temperature, int top_k,
                        float top_p, uint64_t seed, const char *stop, size_t stop_len,
                        int (*emit)(const char *text, size_t len, void *user), void *user) {
    if (!emit) return rnn_errorf("rnn_generate_stream: no emit callback");
    gen_host h = {emit, user};
    const int rc = generate("rnn_generate_stream", m, prime, prime_len, length, temperature, top_k, top_p, seed,
                            stop, stop_len, gen_to_host, &h);
    return rc < 0 ? -1 : 0; /* (> 0: the host stopped it) */
}

char *rnn_generate(rnn_t *m, const char *prime, int length, float temperature, int top_k,
                   float top_p, uint64_t seed) {
    return generate_string("rnn_generate", m, prime, prime ? strlen(prime) : 0, length, temperature, top_k, top_p,
                           seed, NULL, 0, NULL);
}

char *rnn_generate_ex(rnn_t *m, const char *prime, size_t prime_len, int length, float temperature, int top_k,
                      float top_p, uint64_t seed, const char *stop, size_t stop_len, size_t *out_len) {
    return generate_string("rnn_generate_ex", m, prime, prime_len, length, temperature, top_k, top_p, seed, stop,
                           stop_len, out_len);
}

static int score_claimed(rnn_t *m, const char *text, size_t len, double *loss, long *count);

int rnn_score(rnn_t *m, const char *text, size_t len, double *loss, long *count) {
    rnn_threads_sync();
    if (!m || (!text && len) || !loss)
        return rnn_errorf("rnn_score: no %s", !m ? "model (rnn_open failed?)" : !loss ? "place for the loss" : "text");
    int fresh;
    if (claim(m, "rnn_score", &fresh)) return -1;
    const int rc = score_claimed(m, text, len, loss, count);
    release(m, fresh);
    return rc;
}

static int score_claimed(rnn_t *m, const char *text, size_t len, double *loss, long *count) {
    const rnn_model *md = m->ck.model;
    if (md->c.task != RNN_TASK_LM) return rnn_errorf("rnn_score: this model is a classifier");
    int32_t *ids = NULL;
    size_t n = 0, bom = text ? rnn_bom_len(text, len) : 0; /* a byte order mark is no text, as for rnn eval */
    if (rnn_tokenizer_encode(m->ck.tok, text ? text + bom : "", len - bom, &ids, &n, NULL)) {
        rnn_tok_text_error(rnn_tokenizer_options(m->ck.tok), NULL, text, len); /* named where the text has it */
        return rnn_error_prefix("rnn_score: the text");
    }
    if (n < 2) {
        free(ids);
        return rnn_errorf("rnn_score: the text has %zu token%s; at least 2 are needed (the first is not predicted)",
                          n, n == 1 ? "" : "s");
    }
    if (md->c.reverse) rnn_reverse_ids(ids, n);
    /* W_hh packed once for every text (a language model's handle: no call
     * reads the layers while this one holds it) */
    if (rnn_model_keep_blocks(m->ck.model)) {
        free(ids);
        return rnn_error_prefix("rnn_score");
    }
    rnn_lm_eval ev;
    const int bad = rnn_lm_evaluate(md, ids, n, 1, rnn_lm_eval_steps(1, md->n_out), &ev);
    free(ids);
    if (bad) return rnn_error_prefix("rnn_score");
    *loss = ev.loss;
    if (count) *count = ev.count;
    return 0;
}

/* ---- training ------------------------------------------------------------ */

/* Runs under way in this process, and the thread count the first of them
 * found (what the last to end puts back): a run sets the process's count for
 * its length, so two runs that overlap must not each restore what the other
 * set, or the count stays at one of theirs for good. */
static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;
static int runs_active, runs_setting;

/* The calling thread's OpenMP count before its run, for run_ends. */
static int run_begins(void) {
    pthread_mutex_lock(&runs_lock);
    if (runs_active++ == 0) runs_setting = rnn_threads_setting();
    const int own = rnn_omp_threads();
    pthread_mutex_unlock(&runs_lock);
    return own;
}

/* The host's count (rnn_threads'; 0: none set): while runs are under way
 * the process's count is theirs, and the host's is the one the first found. */
static int host_threads(void) {
    pthread_mutex_lock(&runs_lock);
    const int n = runs_active ? runs_setting : rnn_threads_setting();
    pthread_mutex_unlock(&runs_lock);
    return n;
}

/* The last run to end puts back the count the first found (and own, its
 * thread's, where none was set); one that ends before another puts back
 * its own thread's count alone. */
static void run_ends(int own) {
    pthread_mutex_lock(&runs_lock);
    if (--runs_active == 0) rnn_threads_restore(runs_setting, own);
    else rnn_omp_set_threads(runs_setting > 0 ? runs_setting : own);
    pthread_mutex_unlock(&runs_lock);
}

struct rnn_trainer {
    int loaded;   /* a config file was loaded */
    rnn_opts cfg; /* the config files loaded, in order */
    rnn_opts set; /* rnn_trainer_set's options: they win over the files, as flags do */
    char dir[RNN_OPT_STR + 16];
};

rnn_trainer *rnn_trainer_new(void) {
    rnn_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        rnn_errorf("rnn_trainer_new: out of memory");
        return NULL;
    }
    rnn_opts_default(&t->cfg);
    rnn_opts_default(&t->set);
    return t;
}

void rnn_trainer_free(rnn_trainer *t) { free(t); }

int rnn_trainer_set(rnn_trainer *t, const char *name, const char *value) {
    if (!t) return rnn_errorf("rnn_trainer_set: no trainer (rnn_trainer_new failed?)");
    if (!name || !name[0]) return rnn_errorf("rnn_trainer_set: no option name%s", name ? " (an empty string)" : "");
    if (!strncmp(name, "--", 2)) /* (it said "unknown option ----hidden") */
        return rnn_errorf("rnn_trainer_set: an option is named without \"--\": \"%s\", not \"%s\"", name + 2, name);
    const locale_t host = c_locale_enter();
    const int rc = rnn_opts_set(&t->set, name, value);
    c_locale_leave(host);
    return rc ? rnn_error_prefix("rnn_trainer_set") : 0; /* ("option --hidden: ...", said by the call) */
}

int rnn_trainer_load_config(rnn_trainer *t, const char *path) {
    if (!t) return rnn_errorf("rnn_trainer_load_config: no trainer (rnn_trainer_new failed?)");
    if (!path) return rnn_errorf("rnn_trainer_load_config: no config file path");
    rnn_opts o = t->cfg; /* a file that fails changes nothing */
    const locale_t host = c_locale_enter();
    const int bad = rnn_opts_load_file(&o, path);
    c_locale_leave(host);
    if (bad) return rnn_error_prefix("rnn_trainer_load_config");
    t->cfg = o;
    t->loaded = 1;
    return 0;
}

/* The options of a run as `rnn train` orders them: defaults < a resumed
 * run's config.txt (read here unless a config file was loaded: the old way,
 * a copy of it) < config files < options set. A resume drops how the run
 * started (init-from, init-backward), from its config.txt and from a config
 * file loaded for it, and keeps what defines the run (rnn_opts_check_resume). */
static int trainer_options(const rnn_trainer *t, rnn_opts *o) {
    rnn_opts_default(o);
    const char *resume = t->set.resume; /* (a config file may not hold one) */
    rnn_opts run, cfg = t->cfg;
    if (resume[0]) {
        char path[RNN_OPT_STR + 16];
        snprintf(path, sizeof path, "%s/config.txt", resume);
        /* the run's config.txt, then a loaded file over it, as rnn train --resume DIR --config F;
         * a loaded copy of config.txt stands in for one that is gone (the old way) */
        if (t->loaded && access(path, F_OK) != 0) *o = cfg;
        else if (rnn_opts_load_file(o, path)) return -1;
        o->init_from[0] = o->init_backward[0] = 0;
        run = *o;
        rnn_opts_forget(&cfg, "init-from");
        rnn_opts_forget(&cfg, "init-backward");
    }
    rnn_opts_overlay(o, &cfg);
    rnn_opts_overlay(o, &t->set);
    if (resume[0] && rnn_opts_check_resume(&run, o, resume)) return -1;
    /* threads: the host's rnn_threads() unless set on the trainer (a config
     * file's, as config.txt records the count a run had, is not a request) */
    if (!rnn_opts_given(&t->set, "threads")) o->threads = host_threads();
    /* progress: quiet unless set on the trainer: a library writes nothing on
     * the host's stderr by itself (the callback has every step; train.log
     * too), and a run's config.txt, loaded, says "auto" as its command did */
    if (!rnn_opts_given(&t->set, "progress")) strcpy(o->progress, "quiet");
    return 0;
}

/* The host's callback, run in the host's locale (its printf's numbers as it
 * writes them) while the run is in the C one, and in fp32: a --precision
 * bf16 run sets its thread's products to bf16, and the host's own calls in
 * the callback (rnn_classify on a handle it holds) would otherwise compute
 * in bf16 there and in fp32 everywhere else. */
typedef struct {
    rnn_train_callback cb;
    void *user;
    locale_t host;
} host_callback;

static int call_host(const rnn_train_event *e, void *arg) {
    const host_callback *h = arg;
    const rnn_precision run = rnn_gemm_precision();
    rnn_gemm_set_precision(RNN_FP32);
    if (h->host) uselocale(h->host);
    const int stop = h->cb(e, h->user);
    if (h->host) uselocale(c_locale);
    rnn_gemm_set_precision(run);
    return stop;
}

int rnn_trainer_run(rnn_trainer *t, rnn_train_callback cb, void *user) {
    if (!t) return rnn_errorf("rnn_trainer_run: no trainer (rnn_trainer_new failed?)");
    const locale_t host = c_locale_enter();
    rnn_opts o;
    int rc = -1;
    t->dir[0] = 0; /* (a run that fails before its directory leaves none named) */
    if (!trainer_options(t, &o)) {
        host_callback h = {cb, user, host};
        const int own = run_begins();
        rc = rnn_train(&o, cb ? call_host : NULL, &h, t->dir, sizeof t->dir);
        run_ends(own);
    }
    c_locale_leave(host);
    return rc ? rnn_error_prefix("rnn_trainer_run") : 0;
}

const char *rnn_trainer_dir(const rnn_trainer *t) {
    if (!t) rnn_errorf("rnn_trainer_dir: no trainer (rnn_trainer_new failed?)");
    return t ? t->dir : "";
}
