/* sample.c: see sample.h. */
#include "sample.h"

#include "cache.h"
#include "infer.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rnn_sampler {
    const rnn_model *m;
    const rnn_tokenizer *tok;
    rnn_stepper *st; /* the batch-1 path (infer.h) */
    rnn_acts *a;     /* T = 1, B = 1: the general path, for models the stepper does not take */
    rnn_pack pack;
    const float *logits; /* after the last token fed */
    rnn_rng rng;
    long fed;
    int32_t last;
    float *probs;    /* (V) scratch */
    int32_t *order;  /* (V) scratch */
    rnn_lm_cache *cache; /* the model's neural cache (cache.h), or NULL */
    float *h_prev;   /* (F) the top output before the last token fed: its pair's key */
    float *mixed;    /* (V) log of the cache's mixture, what sampling draws from */
};

rnn_sampler *rnn_sampler_create(const rnn_model *m, const rnn_tokenizer *tok, uint64_t seed) {
    return rnn_sampler_create_ex(m, tok, seed, RNN_FP32);
}

int rnn_sampler_check(const rnn_model *m) {
    if (m->c.task != RNN_TASK_LM)
        return rnn_errorf("sampling needs a language model (this checkpoint is a classifier)");
    if (m->c.reverse)
        return rnn_errorf("this is a backward (--reverse) language model: it predicts text right to left "
                          "and cannot continue a prime; sample from a forward one");
    return 0;
}

rnn_sampler *rnn_sampler_create_ex(const rnn_model *m, const rnn_tokenizer *tok, uint64_t seed,
                                   rnn_precision weights) {
    if (rnn_sampler_check(m)) return NULL;
    rnn_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        rnn_errorf("out of memory");
        return NULL;
    }
    s->m = m;
    s->tok = tok;
    s->last = -1;
    rnn_rng_seed(&s->rng, seed);
    s->probs = malloc(sizeof(float) * m->n_out);
    s->order = malloc(sizeof(int32_t) * m->n_out);
    if (!s->probs || !s->order) {
        rnn_sampler_free(s);
        rnn_errorf("out of memory");
        return NULL;
    }
    if (m->D == 1 && m->c.cell != RNN_CELL_NONE) {
        if (!(s->st = rnn_stepper_create(m, weights))) {
            rnn_sampler_free(s);
            return NULL;
        }
        return s;
    }
    if (weights != RNN_FP32) {
        rnn_sampler_free(s);
        rnn_errorf("bf16 weights need a unidirectional recurrent language model");
        return NULL;
    }
    if (!(s->a = rnn_acts_create(m, 1, 1))) {
        rnn_sampler_free(s);
        return NULL;
    }
    s->a->lengths[0] = 1;
    rnn_pack_init(&s->pack, 1, 1, s->a->lengths, s->a->batch_sizes, s->a->offsets);
    return s;
}

void rnn_sampler_free(rnn_sampler *s) {
    if (!s) return;
    rnn_stepper_free(s->st);
    rnn_acts_free(s->a);
    free(s->probs);
    free(s->order);
    rnn_lm_cache_free(s->cache);
    free(s->h_prev);
    free(s->mixed);
    free(s);
}

int32_t rnn_sampler_last(const rnn_sampler *s) { return s->last; }
const float *rnn_sampler_logits(const rnn_sampler *s) { return s->logits; }

int rnn_sampler_set_cache(rnn_sampler *s, int size, float theta, float lambda) {
    if (s->fed > 0) return rnn_errorf("the cache must be set before any text is fed");
    rnn_lm_cache_free(s->cache);
    s->cache = NULL;
    if (size == 0) return 0;
    const rnn_model *m = s->m;
    if (!(s->cache = rnn_lm_cache_create(1, size, m->F, m->n_out, theta, lambda))) return -1;
    free(s->h_prev);
    free(s->mixed);
    s->h_prev = malloc(sizeof(float) * m->F);
    s->mixed = malloc(sizeof(float) * m->n_out);
    if (!s->h_prev || !s->mixed) {
        rnn_lm_cache_free(s->cache);
        s->cache = NULL;
        return rnn_errorf("out of memory");
    }
    return 0;
}

/* Feeds one token: the state moves on and a->logits predicts the next. */
static void feed(rnn_sampler *s, int32_t id) {
    const rnn_model *m = s->m;
    if (s->cache && s->fed > 0) rnn_lm_cache_push(s->cache, 0, s->h_prev, id);
    const float *top;
    if (s->st) {
        s->logits = rnn_stepper_feed(s->st, id);
        top = rnn_stepper_top(s->st);
    } else {
        s->a->ids[0] = id;
        rnn_model_forward(m, s->a, &s->pack, s->a->ids, s->fed > 0, 0, NULL);
        rnn_model_carry_state(m, s->a, 1);
        s->logits = s->a->logits;
        top = s->a->top;
    }
    if (s->cache) { /* draw from log p of the mixture: temperature 1 samples p itself */
        memcpy(s->h_prev, top, sizeof(float) * m->F);
        rnn_lm_cache_probs(s->cache, 0, top, s->logits, s->mixed);
        for (int v = 0; v < m->n_out; v++) s->mixed[v] = logf(fmaxf(s->mixed[v], FLT_MIN));
        s->logits = s->mixed;
    }
    s->fed++;
    s->last = id;
}

long rnn_sampler_prime(rnn_sampler *s, const char *text, size_t len, size_t *n_unk) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (rnn_tokenizer_encode(s->tok, text, len, &ids, &n, n_unk)) return -1;
    for (size_t i = 0; i < n; i++) feed(s, ids[i]);
    free(ids);
    return (long)n;
}

static int cmp_desc(const void *a, const void *b, void *probs) {
    const float *p = probs;
    float x = p[*(const int32_t *)a], y = p[*(const int32_t *)b];
    return x < y ? 1 : x > y ? -1 : *(const int32_t *)a - *(const int32_t *)b;
}

/* Insertion sort would be quadratic for word vocabularies; qsort_r is a GNU
 * extension, so sort indices with a plain merge sort keyed on probs. */
static void sort_desc(int32_t *idx, int n, const float *p, int32_t *tmp) {
    for (int w = 1; w < n; w *= 2)
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = cmp_desc(&idx[j], &idx[i], (void *)p) < 0 ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
            memcpy(idx + lo, tmp + lo, sizeof(int32_t) * (hi - lo));
        }
}

int32_t rnn_sample_logits(const float *logits, int n, const rnn_sample_opts *o, float *probs,
                          int32_t *order, float u) {
    if (o->temperature <= 0) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    for (int i = 0; i < n; i++) probs[i] = logits[i] / o->temperature;
    rnn_softmax_row(probs, n);
    int keep = n;
    int need_sort = (o->top_k > 0 && o->top_k < n) || (o->top_p > 0 && o->top_p < 1);
    if (!need_sort) {
        double c = 0;
        for (int i = 0; i < n; i++) {
            c += probs[i];
            if (u < c) return i;
        }
        return n - 1;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    int32_t *tmp = malloc(sizeof(int32_t) * n);
    if (!tmp) return order[0];
    sort_desc(order, n, probs, tmp);
    free(tmp);
    if (o->top_k > 0 && o->top_k < keep) keep = o->top_k;
    if (o->top_p > 0 && o->top_p < 1) {
        /* The smallest prefix whose mass reaches top_p (at least one token). */
        double c = 0;
        for (int i = 0; i < keep; i++) {
            c += probs[order[i]];
            if (c >= o->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += probs[order[i]];
    double target = u * mass, c = 0;
    for (int i = 0; i < keep; i++) {
        c += probs[order[i]];
        if (target < c) return order[i];
    }
    return order[keep - 1];
}

int32_t rnn_sampler_next(rnn_sampler *s, const rnn_sample_opts *o) {
    if (s->fed == 0) {
        int nl = rnn_tokenizer_find(s->tok, "\n");
        if (nl < 0) {
            nl = 0;
            while (nl < s->m->n_out - 1 &&
                   (nl == rnn_tokenizer_pad_id(s->tok) || nl == rnn_tokenizer_unk_id(s->tok)))
                nl++;
        }
        feed(s, nl);
    }
    int32_t id = rnn_sample_logits(s->logits, s->m->n_out, o, s->probs, s->order,
                                   rnn_rng_uniform(&s->rng));
    feed(s, id);
    return id;
}
