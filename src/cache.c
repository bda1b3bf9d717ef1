/* cache.c: see cache.h. */
#include "cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "layers.h"
#include "util.h"

struct rnn_lm_cache {
    int streams, size, width, vocab;
    float theta, lambda;
    /* (streams, width, size): the ring of top outputs, stored by column (one
     * row per unit), so that the scores of every held pair are sums of
     * whole rows times one unit each: vector work at any width */
    float *h;
    int32_t *next;   /* (streams, size): the token that followed each */
    int *count;      /* (streams): pairs held */
    int *slot;       /* (streams): where the next pair goes */
    float *score;    /* (streams, size) scratch, so streams can run in parallel */
};

rnn_lm_cache *rnn_lm_cache_create(int streams, int size, int width, int vocab, float theta,
                                  float lambda) {
    if (size < 1) {
        rnn_errorf("cache: size must be >= 1 (got %d)", size);
        return NULL;
    }
    if (streams < 1 || width < 1 || vocab < 1) {
        rnn_errorf("cache: %d streams of width %d over %d tokens", streams, width, vocab);
        return NULL;
    }
    if (!(theta >= 0 && theta <= RNN_CACHE_MAX_THETA)) {
        rnn_errorf("cache: theta must be in [0, %g] (got %.9g)", RNN_CACHE_MAX_THETA, theta);
        return NULL;
    }
    if (!(lambda >= 0 && lambda < 1)) {
        rnn_errorf("cache: lambda must be in [0, 1) (got %.9g)", lambda);
        return NULL;
    }
    rnn_lm_cache *c = calloc(1, sizeof *c);
    if (!c) {
        rnn_errorf("out of memory");
        return NULL;
    }
    *c = (rnn_lm_cache){streams, size, width, vocab, theta, lambda, NULL, NULL, NULL, NULL, NULL};
    size_t pairs = (size_t)streams * (size_t)size;
    c->h = rnn_alloc(sizeof(float) * pairs * (size_t)width);
    c->next = rnn_alloc(sizeof(int32_t) * pairs);
    c->count = rnn_calloc(sizeof(int) * (size_t)streams);
    c->slot = rnn_calloc(sizeof(int) * (size_t)streams);
    c->score = rnn_alloc(sizeof(float) * pairs);
    if (!c->h || !c->next || !c->count || !c->slot || !c->score) {
        rnn_lm_cache_free(c);
        return NULL;
    }
    return c;
}

void rnn_lm_cache_free(rnn_lm_cache *c) {
    if (!c) return;
    rnn_free(c->h);
    rnn_free(c->next);
    rnn_free(c->count);
    rnn_free(c->slot);
    rnn_free(c->score);
    free(c);
}

#define LANES 16

void rnn_lm_cache_probs(rnn_lm_cache *c, int b, const float *h, const float *logits, float *p) {
    const int V = c->vocab, n = c->count[b], S = c->size;
    memcpy(p, logits, sizeof(float) * (size_t)V);
    rnn_softmax_row(p, V);
    if (n == 0 || c->lambda == 0) return;
    const float *hs = c->h + (size_t)b * S * c->width;
    const int32_t *next = c->next + (size_t)b * S;
    float *restrict score = c->score + (size_t)b * S;
    /* score_i = theta h . h_i, unit by unit over all i */
    for (int i = 0; i < n; i++) score[i] = 0;
    for (int k = 0; k < c->width; k++) {
        const float hk = c->theta * h[k], *restrict row = hs + (size_t)k * S;
        for (int i = 0; i < n; i++) score[i] += hk * row[i];
    }
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = score[i] > mx ? score[i] : mx;
    /* the exps in LANES independent sums (which GCC vectorises), added in double */
    float lane[LANES] = {0};
    double z = 0;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] += score[i + j] = rnn_expf(score[i + j] - mx);
    for (; i < n; i++) z += score[i] = rnn_expf(score[i] - mx);
    for (int j = 0; j < LANES; j++) z += lane[j];
    const float keep = 1 - c->lambda, w = (float)(c->lambda / z);
    for (int v = 0; v < V; v++) p[v] *= keep;
    for (i = 0; i < n; i++) p[next[i]] += w * score[i];
}

/* theta h . h_i of pair i of stream b, in double. */
static double score_of(const rnn_lm_cache *c, int b, const float *h, int i) {
    const float *col = c->h + (size_t)b * c->size * c->width + i;
    double s = 0;
    for (int k = 0; k < c->width; k++) s += (double)h[k] * col[(size_t)k * c->size];
    return (double)c->theta * s;
}

double rnn_lm_cache_logprob(const rnn_lm_cache *c, int b, const float *h, const float *logits, int32_t y) {
    const int n = c->count[b];
    const double model = rnn_log_softmax_at(logits, c->vocab, y);
    if (n == 0 || c->lambda == 0) return model;
    /* the cache's vote for y: log of the softmax weight of the pairs followed by y */
    const int32_t *next = c->next + (size_t)b * c->size;
    /* One pass, the sums kept relative to the largest score so far: a new
     * largest rescales them (the first, from -inf, scales zeros by 0). */
    double smax = -INFINITY, all = 0, for_y = 0;
    for (int i = 0; i < n; i++) {
        const double s = score_of(c, b, h, i);
        if (s > smax) {
            const double r = exp(smax - s);
            all *= r, for_y *= r, smax = s;
        }
        const double e = exp(s - smax);
        all += e;
        if (next[i] == y) for_y += e;
    }
    const double vote = for_y > 0 ? log(for_y / all) : -INFINITY;
    return rnn_log_add(log1p(-(double)c->lambda) + model, log((double)c->lambda) + vote);
}

void rnn_lm_cache_push(rnn_lm_cache *c, int b, const float *h, int32_t next) {
    if (next < 0 || next >= c->vocab) return; /* not a token the model predicts */
    const int s = c->slot[b];
    float *col = c->h + (size_t)b * c->size * c->width + s;
    for (int k = 0; k < c->width; k++) col[(size_t)k * c->size] = h[k];
    c->next[(size_t)b * c->size + s] = next;
    c->slot[b] = (s + 1) % c->size;
    if (c->count[b] < c->size) c->count[b]++;
}
