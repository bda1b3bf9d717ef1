/* classify.c: see classify.h. */
#include "classify.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rnn_cls_data_free(rnn_cls_data *d) {
    free(d->tokens);
    free(d->start);
    free(d->len);
    free(d->label);
    free(d->order);
    memset(d, 0, sizeof *d);
}

int rnn_cls_append(rnn_cls_data *d, size_t *cap, const int32_t *ids, size_t n, int label) {
    const size_t used = d->n ? d->start[d->n - 1] + (size_t)d->len[d->n - 1] : 0;
    if (used + n > *cap) {
        size_t c2 = *cap ? 2 * *cap : 4096;
        while (c2 < used + n) c2 *= 2;
        int32_t *g = realloc(d->tokens, c2 * sizeof *g);
        if (!g) return rnn_errorf("out of memory");
        d->tokens = g, *cap = c2;
    }
    memcpy(d->tokens + used, ids, n * sizeof *ids);
    d->start[d->n] = used;
    d->len[d->n] = (int)n;
    if (d->label) d->label[d->n] = label;
    if ((int)n > d->max_len) d->max_len = (int)n;
    d->n++;
    return 0;
}

int rnn_cls_encode(rnn_cls_data *d, const rnn_dataset *ds, const rnn_tokenizer *tok, int max_len,
                   int keep_tail, size_t *n_unk, size_t *n_cut, size_t *n_empty) {
    memset(d, 0, sizeof *d);
    size_t cap = 0, unk = 0, cut = 0, empty = 0;
    d->start = malloc((ds->n + 1) * sizeof(size_t));
    d->len = malloc((ds->n + 1) * sizeof(int));
    d->label = malloc((ds->n + 1) * sizeof(int));
    if (!d->start || !d->len || !d->label) goto oom;
    const int32_t filler = rnn_tokenizer_filler_id(tok, NULL);
    for (size_t i = 0; i < ds->n; i++) {
        int32_t *ids = NULL;
        size_t n = 0, u = 0;
        if (rnn_tokenizer_encode(tok, ds->ex[i].text, strlen(ds->ex[i].text), &ids, &n, &u)) {
            rnn_cls_data_free(d);
            return rnn_error_prefix("example %zu", i + 1);
        }
        unk += u;
        d->n_read += n;
        const size_t whole = n;
        if ((n = rnn_cls_cut(ids, n, max_len, keep_tail)) < whole) cut++;
        if (n == 0) empty++;
        const int r = rnn_cls_append(d, &cap, n ? ids : &filler, n ? n : 1, ds->ex[i].label);
        free(ids);
        if (r) goto oom;
    }
    if (n_unk) *n_unk = unk;
    if (n_cut) *n_cut = cut;
    if (n_empty) *n_empty = empty;
    return 0;
oom:
    rnn_cls_data_free(d);
    return rnn_errorf("out of memory encoding the examples");
}

size_t rnn_cls_cut(int32_t *ids, size_t n, int max_len, int keep_tail) {
    if (max_len <= 0 || n <= (size_t)max_len) return n;
    if (keep_tail) memmove(ids, ids + (n - max_len), sizeof(int32_t) * (size_t)max_len);
    return (size_t)max_len;
}

int rnn_cls_text_probs(const rnn_model *m, rnn_acts **a, int *a_T, const int32_t *ids, int n, float *probs) {
    if (!*a || *a_T < n) {
        rnn_acts_free(*a);
        *a_T = 0;
        if (!(*a = rnn_acts_create_infer(m, n, 1, n))) return -1;
        *a_T = n;
    }
    rnn_pack p;
    (*a)->lengths[0] = n;
    rnn_pack_init(&p, n, 1, (*a)->lengths, (*a)->batch_sizes, (*a)->offsets);
    rnn_model_forward(m, *a, &p, ids, 0, 0, NULL);
    rnn_cls_probs(m, (*a)->logits, probs);
    return 0;
}

/* What forward_batches hands on for each example: its index i in d, and the
 * batch it was in (its logits: row b of x->logits; its steps: rows
 * p->offsets[t] + b). */
typedef void (*example_fn)(void *user, size_t i, const rnn_acts *x, const rnn_pack *p, int b);

/* Runs every example of d through m in batches of B sorted by length, as
 * rnn eval reads them (d's plan is replaced), and calls each for every
 * example. *a: activations kept between calls (NULL at first), replaced by
 * a larger one when d needs more. */
static int forward_batches(const rnn_model *m, rnn_cls_data *d, int B, rnn_acts **a, example_fn each,
                           void *user) {
    if (rnn_cls_plan_epoch(d, B, 0, 0, 0)) return -1;
    rnn_acts *have = *a;
    if (!have || have->T < d->max_len || have->B < B || have->N < d->max_rows) {
        /* grown to the largest seen, so that blocks of texts of mixed lengths
         * settle on one allocation */
        const int T = have && have->T > d->max_len ? have->T : d->max_len;
        const int N = have && have->N > d->max_rows ? have->N : d->max_rows;
        rnn_acts_free(have);
        if (!(*a = rnn_acts_create_infer(m, T, B, N))) return rnn_errorf("out of memory");
    }
    rnn_acts *x = *a;
    const int bce = m->c.loss == RNN_LOSS_BCE;
    rnn_pack p;
    for (long k = 0; k < d->n_batches; k++) {
        const int nb = rnn_cls_fill(d, k, x, &p, bce);
        rnn_model_forward(m, x, &p, x->ids, 0, 0, NULL);
        for (int b = 0; b < nb; b++) each(user, d->order[(size_t)k * d->B + b], x, &p, b);
    }
    return 0;
}

typedef struct {
    const rnn_model *m;
    const rnn_cls_data *d;
    float *probs, *alpha;
} batch_out;

static void keep_probs(void *user, size_t i, const rnn_acts *x, const rnn_pack *p, int b) {
    const batch_out *o = user;
    rnn_cls_probs(o->m, x->logits + (size_t)b * o->m->n_out, o->probs + i * o->m->c.num_classes);
    /* packed rows: sequence b's step t is row offsets[t] + b */
    if (o->alpha)
        for (int t = 0; t < o->d->len[i]; t++)
            o->alpha[o->d->start[i] + t] = x->pool_cache.alpha[p->offsets[t] + b];
}

int rnn_cls_batch_probs(const rnn_model *m, rnn_cls_data *d, int B, rnn_acts **a, float *probs, float *alpha) {
    batch_out o = {m, d, probs, alpha};
    return forward_batches(m, d, B, a, keep_probs, &o);
}

/* qsort has no context argument: set before each sort. Per thread, as two
 * threads may plan batches at once (two rnn_t handles in rnn_classify_batch,
 * a trainer beside them): one sorting by the other's lengths packed its
 * batches wrong, out of bounds. */
static _Thread_local const int *sort_len;
static int by_len_desc(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (sort_len[x] != sort_len[y]) return sort_len[y] - sort_len[x];
    return x < y ? -1 : x > y;
}

int rnn_cls_note_header(char *buf, size_t n, const char *path, const rnn_dataset *ds) {
    if (ds->lone_first) {
        snprintf(buf, n, "note: %s:%d is read as an example, of a class no other line has (a header? --header yes "
                 "skips it)", path, ds->lone_first);
        return 1;
    }
    if (!ds->header_line && ds->header_repeats) { /* --header yes */
        snprintf(buf, n, "note: %s: %d more lines just like its header are skipped (files joined)", path,
                 ds->header_repeats);
        return 1;
    }
    if (!ds->header_line) return 0;
    char again[96] = "";
    if (ds->header_repeats)
        snprintf(again, sizeof again, ", and %d more lines just like it (files joined)", ds->header_repeats);
    snprintf(buf, n, "note: %s:%d looks like a header row and is skipped%s (--header no reads it as data)", path,
             ds->header_line, again);
    return 1;
}

int rnn_cls_note_empty(char *buf, size_t n, const char *what, size_t empty, size_t total,
                       const rnn_tokenizer *tok) {
    if (!empty) return 0;
    const char *filler;
    rnn_tokenizer_filler_id(tok, &filler);
    snprintf(buf, n, "warning: %s: %zu of %zu texts have no tokens; each reads as one %s", what, empty, total,
             filler);
    return 1;
}

int rnn_cls_plan_epoch(rnn_cls_data *d, int B, uint64_t seed, long epoch, int shuffle) {
    free(d->order);
    d->order = malloc((d->n + 1) * sizeof(size_t));
    if (!d->order) return rnn_errorf("out of memory");
    d->B = B;
    d->n_batches = (long)((d->n + B - 1) / B);
    for (size_t i = 0; i < d->n; i++) d->order[i] = i;
    sort_len = d->len;
    if (!shuffle) {
        qsort(d->order, d->n, sizeof(size_t), by_len_desc);
    } else {
        rnn_rng rng;
        rnn_rng_seed(&rng, seed * 1000003u + (uint64_t)epoch * 7919u + 17u);
        for (size_t i = d->n; i > 1; i--) {
            size_t j = (size_t)(rnn_rng_next(&rng) % i), t = d->order[i - 1];
            d->order[i - 1] = d->order[j];
            d->order[j] = t;
        }
        size_t pool = (size_t)B * 50;
        for (size_t p0 = 0; p0 < d->n; p0 += pool) {
            size_t m = d->n - p0 < pool ? d->n - p0 : pool;
            qsort(d->order + p0, m, sizeof(size_t), by_len_desc);
        }
        /* Shuffle whole batches (the last, partial one included). */
        long nb = d->n_batches;
        size_t *tmp = malloc((size_t)B * sizeof(size_t));
        if (!tmp) return rnn_errorf("out of memory");
        for (long i = nb - 1; i > 0; i--) {
            long j = (long)(rnn_rng_next(&rng) % (uint64_t)(i + 1));
            if (i == j) continue;
            size_t ni = (size_t)i * B, nj = (size_t)j * B;
            size_t ci = d->n - ni < (size_t)B ? d->n - ni : (size_t)B;
            size_t cj = d->n - nj < (size_t)B ? d->n - nj : (size_t)B;
            if (ci != cj) continue; /* keep the partial batch where it is */
            memcpy(tmp, d->order + ni, ci * sizeof(size_t));
            memcpy(d->order + ni, d->order + nj, ci * sizeof(size_t));
            memcpy(d->order + nj, tmp, ci * sizeof(size_t));
        }
        free(tmp);
    }
    /* Rows the largest batch needs (each batch is sorted longest first):
     * an int, as the packed rows' offsets are, so counted wider and refused
     * past it (texts of up to RNN_MAX_TEXT_LEN tokens fit two to a batch). */
    d->max_rows = 0;
    for (long k = 0; k < d->n_batches; k++) {
        size_t b0 = (size_t)k * B, nb = d->n - b0 < (size_t)B ? d->n - b0 : (size_t)B;
        qsort(d->order + b0, nb, sizeof(size_t), by_len_desc);
        long long rows = 0;
        for (size_t i = 0; i < nb; i++) rows += d->len[d->order[b0 + i]];
        if (rows > INT_MAX)
            return rnn_errorf("a batch of %zu texts holds %lld tokens, more than %d: fewer texts to a batch, or "
                              "shorter ones", nb, rows, INT_MAX);
        if (rows > d->max_rows) d->max_rows = (int)rows;
    }
    return 0;
}

int rnn_cls_fill(const rnn_cls_data *d, long k, rnn_acts *a, rnn_pack *p, int bce) {
    size_t b0 = (size_t)k * d->B;
    int nb = (int)(d->n - b0 < (size_t)d->B ? d->n - b0 : (size_t)d->B);
    const size_t *ex = d->order + b0;
    int T = d->len[ex[0]];
    for (int b = 0; b < nb; b++) {
        a->lengths[b] = d->len[ex[b]];
        if (bce)
            a->ftargets[b] = (float)d->label[ex[b]];
        else
            a->targets[b] = d->label[ex[b]];
    }
    rnn_pack_init(p, T, nb, a->lengths, a->batch_sizes, a->offsets);
    for (int t = 0; t < T; t++) {
        int32_t *row = a->ids + p->offsets[t];
        for (int b = 0; b < p->batch_sizes[t]; b++) row[b] = d->tokens[d->start[ex[b]] + t];
    }
    return nb;
}

void rnn_cls_probs(const rnn_model *m, const float *logits, float *probs) {
    if (m->c.loss == RNN_LOSS_BCE) {
        float x = logits[0];
        probs[1] = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        probs[0] = 1.0f - probs[1];
        return;
    }
    memcpy(probs, logits, sizeof(float) * m->c.num_classes);
    rnn_softmax_row(probs, m->c.num_classes);
}

void rnn_cls_metrics_free(rnn_cls_metrics *mt) {
    free(mt->confusion);
    mt->confusion = NULL;
}

int rnn_cls_evaluate(const rnn_model *m, rnn_cls_data *d, int B, rnn_cls_metrics *out) {
    const rnn_model *ms[1] = {m};
    const rnn_cls_data *ds[1] = {d};
    return rnn_cls_evaluate_mean(ms, ds, 1, B, out);
}

typedef struct {
    const rnn_model *m;
    int K;
    float *row;
    double *sum;
    const int *label; /* the examples' labels */
    double *lp;       /* log of the mean probability of each example's label */
} mean_out;

static void add_mean(void *user, size_t i, const rnn_acts *x, const rnn_pack *p, int b) {
    (void)p;
    const mean_out *o = user;
    const int C = o->m->c.num_classes, y = o->label[i];
    const float *lg = x->logits + (size_t)b * o->m->n_out;
    double *out = o->sum + i * C, lp;
    if (o->m->c.loss == RNN_LOSS_BCE) {
        out[1] += 1.0 / (1.0 + exp(-(double)lg[0])) / o->K;
        out[0] += 1.0 / (1.0 + exp((double)lg[0])) / o->K;
        const double z = y ? -(double)lg[0] : (double)lg[0]; /* log sigmoid(-z) = -log(e^0 + e^z) */
        lp = -rnn_log_add(0.0, z);
    } else {
        rnn_cls_probs(o->m, lg, o->row);
        for (int c = 0; c < C; c++) out[c] += (double)o->row[c] / o->K;
        lp = rnn_log_softmax_at(lg, C, y);
    }
    /* the loss from the logits in double: the probabilities above underflow
     * to 0 for a confidently wrong model, whose loss is then still exact */
    o->lp[i] = rnn_log_add(o->lp[i], lp - log((double)o->K));
}

/* Adds 1/K of model m's class probabilities of examples [i0, i1) of d into
 * sum ((i1 - i0, C) doubles, in example order; a bce model's pair computed
 * in double, so that neither side rounds to 0), and to lp (i1 - i0) the
 * log of 1/K of its probability of each example's label (log-sum-exp). *a: m's activations, kept
 * from block to block (NULL at first; the caller frees them). */
static int add_probs(const rnn_model *m, const rnn_cls_data *d, size_t i0, size_t i1, int B, int K, rnn_acts **a,
                     double *sum, double *lp) {
    /* a view of the block's examples */
    rnn_cls_data v = {.tokens = d->tokens, .start = d->start + i0, .len = d->len + i0, .label = d->label + i0,
                      .n = i1 - i0, .max_len = d->max_len};
    mean_out o = {m, K, malloc(sizeof(float) * (m->c.num_classes + 1)), sum, v.label, lp};
    const int rc = o.row ? forward_batches(m, &v, B, a, add_mean, &o) : rnn_errorf("out of memory");
    free(o.row);
    free(v.order);
    return rc;
}

/* Probabilities are kept for a block of at most this many numbers (32 MB)
 * at a time, whatever the examples times classes: 25,000 texts of 10,000
 * classes held all at once were 2 GB. */
#define PROBS_BLOCK ((size_t)1 << 22)

int rnn_cls_evaluate_mean(const rnn_model *const *m, const rnn_cls_data *const *d, int K, int B,
                          rnn_cls_metrics *out) {
    const int C = m[0]->c.num_classes;
    const size_t n = d[0]->n;
    memset(out, 0, sizeof *out);
    size_t block = PROBS_BLOCK / (size_t)C;
    if (block < (size_t)B) block = (size_t)B;
    if (block > n) block = n;
    /* (calloc's pages of a large matrix stay unmapped until a count lands on them) */
    if (C <= RNN_CONFUSION_MAX_CLASSES) out->confusion = calloc((size_t)C * C, sizeof(long));
    /* per class: true, predicted, right */
    long *seen = calloc(3 * (size_t)C, sizeof(long)), *said = seen + C, *hit = said + C;
    double *sum = malloc(sizeof(double) * (block * (C + 1) + 1)), *lp = sum + block * C;
    rnn_acts **acts = calloc((size_t)K, sizeof *acts); /* each model's, kept from block to block */
    int rc = (out->confusion || C > RNN_CONFUSION_MAX_CLASSES) && seen && sum && acts ? 0 : rnn_errorf("out of memory");
    double total = 0;
    long right = 0;
    const int *label = d[0]->label;
    for (size_t i0 = 0; i0 < n && !rc; i0 += block) {
        const size_t i1 = n - i0 < block ? n : i0 + block;
        memset(sum, 0, sizeof(double) * (i1 - i0) * C);
        for (size_t i = 0; i < i1 - i0; i++) lp[i] = -INFINITY;
        for (int k = 0; k < K && !rc; k++) rc = add_probs(m[k], d[k], i0, i1, B, K, &acts[k], sum, lp);
        if (rc) break;
        for (size_t i = i0; i < i1; i++) {
            const double *p = sum + (i - i0) * C;
            int pred = 0, finite = isfinite(p[0]) != 0;
            for (int c = 1; c < C; c++) {
                if (p[c] > p[pred]) pred = c;
                finite &= isfinite(p[c]) != 0;
            }
            if (out->confusion) out->confusion[(size_t)label[i] * C + pred]++;
            seen[label[i]]++, said[pred]++, hit[pred] += pred == label[i], right += pred == label[i];
            total += finite ? -lp[i - i0] : NAN; /* a model whose outputs overflow: NaN */
        }
    }
    /* F1 = 2tp / (2tp + fp + fn) = 2tp / (seen + said); a class never seen nor predicted
     * counts 0. Per class from the counts: summing the matrix's columns cost O(C^2) strided
     * reads, minutes for thousands of classes. */
    for (int k = 0; acts && k < K; k++) rnn_acts_free(acts[k]);
    free(acts), free(sum);
    if (rc) {
        free(seen);
        rnn_cls_metrics_free(out);
        return -1;
    }
    double f1 = 0;
    for (int c = 0; c < C; c++)
        if (seen[c] + said[c] > 0) f1 += 2.0 * hit[c] / (double)(seen[c] + said[c]);
    free(seen);
    out->n = (long)n;
    out->C = C;
    out->loss = n ? total / n : 0;
    out->accuracy = n ? (double)right / n : 0;
    out->macro_f1 = f1 / C;
    return 0;
}
