/* cache.c: see cache.h. */
#include "cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "util.h"

struct rnn_lm_cache {
    int streams, size, width, vocab;
    float theta, lambda;
    float *h;        /* (streams, size, width): ring of top outputs */
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

/* a . b in 16 independent lanes (which GCC vectorises), summed at the end. */
static float dot(const float *restrict a, const float *restrict b, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0;
    for (; i < n; i++) s += a[i] * b[i];
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

void rnn_lm_cache_probs(rnn_lm_cache *c, int b, const float *h, const float *logits, float *p) {
    const int V = c->vocab, n = c->count[b];
    memcpy(p, logits, sizeof(float) * (size_t)V);
    rnn_softmax_row(p, V);
    if (n == 0 || c->lambda == 0) return;
    const float *hs = c->h + (size_t)b * c->size * c->width;
    const int32_t *next = c->next + (size_t)b * c->size;
    float *score = c->score + (size_t)b * c->size, mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        score[i] = c->theta * dot(h, hs + (size_t)i * c->width, c->width);
        if (score[i] > mx) mx = score[i];
    }
    double z = 0;
    for (int i = 0; i < n; i++) z += score[i] = expf(score[i] - mx);
    const float keep = 1 - c->lambda, w = (float)(c->lambda / z);
    for (int v = 0; v < V; v++) p[v] *= keep;
    for (int i = 0; i < n; i++) p[next[i]] += w * score[i];
}

void rnn_lm_cache_push(rnn_lm_cache *c, int b, const float *h, int32_t next) {
    if (next < 0 || next >= c->vocab) return; /* not a token the model predicts */
    const int s = c->slot[b];
    memcpy(c->h + ((size_t)b * c->size + s) * c->width, h, sizeof(float) * (size_t)c->width);
    c->next[(size_t)b * c->size + s] = next;
    c->slot[b] = (s + 1) % c->size;
    if (c->count[b] < c->size) c->count[b]++;
}
