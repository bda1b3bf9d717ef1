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
    int32_t *order;  /* (2V) scratch */
    uint8_t *banned; /* (V) 1: an id text never encodes to (rnn_tokenizer_producible), never drawn */
    rnn_lm_cache *cache; /* the model's neural cache (cache.h), or NULL */
    float *h_prev;   /* (F) the top output before the last token fed: its pair's key */
    float *mixed;    /* (V) log of the cache's mixture, what sampling draws from */
    /* A byte model draws valid UTF-8 (rnn_sampler_set_utf8): after a lead
     * byte, u8_need continuation bytes must follow, the next in
     * [u8_lo, u8_hi]; u8_mask is this draw's banned | not-UTF-8. */
    int utf8, u8_need;
    uint8_t u8_lo, u8_hi;
    uint8_t *u8_mask;
    /* The repeat penalty's memory (rnn_sampler_next): the last
     * RNN_REPEAT_LAST_MAX tokens fed, a ring (n_recent fed in all, the start
     * token that rnn_sampler_next feeds unasked left out); seen[v], whether
     * v was ever fed; stamp, which ids one draw has penalised; pen (V), the
     * penalised logits. */
    int32_t *recent;
    long n_recent;
    uint8_t *seen;
    uint32_t *stamp, stamp_now;
    float *pen;
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
    s->order = malloc(sizeof(int32_t) * 2 * (size_t)m->n_out);
    s->banned = malloc((size_t)m->n_out);
    s->recent = malloc(sizeof(int32_t) * RNN_REPEAT_LAST_MAX);
    s->seen = calloc((size_t)m->n_out, 1);
    s->stamp = calloc((size_t)m->n_out, sizeof(uint32_t));
    s->pen = malloc(sizeof(float) * m->n_out);
    if (!s->probs || !s->order || !s->banned || !s->recent || !s->seen || !s->stamp || !s->pen) {
        rnn_sampler_free(s);
        rnn_errorf("out of memory");
        return NULL;
    }
    for (int v = 0; v < m->n_out; v++) s->banned[v] = !rnn_tokenizer_producible(tok, v);
    if (rnn_tokenizer_type(tok) == RNN_TOK_BYTE && m->n_out == 256) {
        if (!(s->u8_mask = malloc(256))) {
            rnn_sampler_free(s);
            rnn_errorf("out of memory");
            return NULL;
        }
        s->utf8 = 1;
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
    if (!(s->a = rnn_acts_create_infer(m, 1, 1, 1))) {
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
    free(s->banned);
    free(s->u8_mask);
    free(s->recent);
    free(s->seen);
    free(s->stamp);
    free(s->pen);
    rnn_lm_cache_free(s->cache);
    free(s->h_prev);
    free(s->mixed);
    free(s);
}

int32_t rnn_sampler_last(const rnn_sampler *s) { return s->last; }

void rnn_sampler_reset(rnn_sampler *s, uint64_t seed) {
    rnn_rng_seed(&s->rng, seed);
    s->fed = 0; /* the general path's next forward starts from a zero state */
    s->last = -1;
    s->logits = NULL;
    s->n_recent = 0;
    memset(s->seen, 0, (size_t)s->m->n_out);
    rnn_lm_cache_free(s->cache);
    s->cache = NULL;
    s->utf8 = s->u8_mask != NULL, s->u8_need = 0, s->u8_lo = s->u8_hi = 0;
    if (s->st) rnn_stepper_reset(s->st);
}
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

int rnn_sampler_set_utf8(rnn_sampler *s, int on) {
    if (on && !s->u8_mask) return rnn_errorf("only a byte model's text can be held to UTF-8");
    s->utf8 = on;
    return 0;
}

int rnn_sampler_utf8_pending(const rnn_sampler *s) { return s->utf8 && s->u8_need > 0; }

int rnn_sampler_allow_unk(rnn_sampler *s, int allow) {
    const int unk = rnn_tokenizer_unk_id(s->tok);
    if (unk < 0 || unk >= s->m->n_out) return allow ? 0 : rnn_errorf("this model's tokenizer has no unknown token");
    s->banned[unk] = !allow || !rnn_tokenizer_producible(s->tok, unk);
    return 0;
}

/* The UTF-8 state after byte b (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF). A byte that breaks a sequence (a prime may hold
 * invalid UTF-8) starts afresh. */
static void utf8_step(rnn_sampler *s, unsigned b) {
    if (s->u8_need > 0 && b >= s->u8_lo && b <= s->u8_hi) {
        s->u8_need--, s->u8_lo = 0x80, s->u8_hi = 0xBF;
        return;
    }
    s->u8_need = 0, s->u8_lo = 0x80, s->u8_hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) s->u8_need = 1;
    else if (b >= 0xE0 && b <= 0xEF) s->u8_need = 2;
    else if (b >= 0xF0 && b <= 0xF4) s->u8_need = 3;
    if (b == 0xE0) s->u8_lo = 0xA0;
    if (b == 0xED) s->u8_hi = 0x9F;
    if (b == 0xF0) s->u8_lo = 0x90;
    if (b == 0xF4) s->u8_hi = 0x8F;
}

/* This draw's bans: the tokenizer's, and for UTF-8 every byte that cannot
 * come next (a continuation byte out of place, C0, C1, F5-FF, NUL). */
static const uint8_t *draw_bans(rnn_sampler *s) {
    if (!s->utf8) return s->banned;
    for (unsigned v = 0; v < 256; v++) {
        const int ok = s->u8_need > 0 ? v >= s->u8_lo && v <= s->u8_hi
                                      : (v > 0 && v < 0x80) || (v >= 0xC2 && v <= 0xF4);
        s->u8_mask[v] = s->banned[v] || !ok;
    }
    return s->u8_mask;
}

/* Feeds one token: the state moves on and a->logits predicts the next.
 * remember: 0 for the start token rnn_sampler_next feeds unasked, which
 * the repeat penalty leaves out. */
static void feed(rnn_sampler *s, int32_t id, int remember) {
    if (remember) {
        s->recent[s->n_recent++ % RNN_REPEAT_LAST_MAX] = id;
        s->seen[id] = 1;
    }
    if (s->u8_mask) utf8_step(s, (unsigned)id);
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
    for (size_t i = 0; i < n; i++) feed(s, ids[i], 1);
    free(ids);
    return (long)n;
}

/* Ranks ids by weight, heavier first, ties to the lower id. */
static inline int heavier(const float *w, int32_t a, int32_t b) {
    return w[a] > w[b] || (w[a] == w[b] && a < b);
}

/* Merge sort of ids, heaviest first (qsort_r is a GNU extension). */
static void sort_desc(int32_t *idx, int n, const float *w, int32_t *tmp) {
    for (int step = 1; step < n; step *= 2)
        for (int lo = 0; lo < n; lo += 2 * step) {
            int mid = lo + step < n ? lo + step : n, hi = lo + 2 * step < n ? lo + 2 * step : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = heavier(w, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
            memcpy(idx + lo, tmp + lo, sizeof(int32_t) * (size_t)(hi - lo));
        }
}

/* Keeps the k heaviest of the n ids in idx (in idx[0..k), any order): a heap
 * whose root is the lightest kept, O(n log k). */
static int keep_heaviest(int32_t *idx, int n, int k, const float *w) {
    if (k >= n) return n;
    for (int i = 0; i < n; i++) {
        int32_t v = idx[i];
        int at;
        if (i < k) { /* sift up */
            at = i;
            while (at > 0 && heavier(w, idx[(at - 1) / 2], v)) idx[at] = idx[(at - 1) / 2], at = (at - 1) / 2;
        } else if (heavier(w, v, idx[0])) { /* replaces the root, sifts down */
            at = 0;
            for (;;) {
                int c = 2 * at + 1;
                if (c >= k) break;
                if (c + 1 < k && heavier(w, idx[c], idx[c + 1])) c++;
                if (!heavier(w, v, idx[c])) break;
                idx[at] = idx[c], at = c;
            }
        } else {
            continue;
        }
        idx[at] = v;
    }
    return k;
}

/* The bits of a weight, which order as its value does for w >= 0. */
static inline uint32_t wbits(float w) {
    uint32_t b;
    memcpy(&b, &w, sizeof b);
    return b;
}

/* u's id on the cumulative weight of w (sum in all), walked in id order;
 * last: the id for a u * sum rounded past the total, when no weight is there. */
static int32_t draw_in_order(const float *w, int n, double sum, float u, int32_t last) {
    double target = u * sum, c = 0;
    for (int i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        c += w[i];
        last = i;
        if (target < c) return i;
    }
    return last; /* u * sum rounded past the total: the last id with weight */
}

/* min-p on weights w = p / p_max: those under min_p become 0; their new sum. */
static double keep_min_p(float *w, int n, float min_p) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (w[i] < min_p) w[i] = 0;
        sum += w[i];
    }
    return sum;
}

/* Top-p alone, without sorting the vocabulary: the nucleus (the fewest
 * heaviest ids whose weight reaches p of sum, ties to the lower id) is the
 * ids heavier than some w*, and the r lowest-numbered of those equal to it.
 * w*'s bits are found a byte at a time, most significant first, from the
 * weight each byte value holds (a radix select by mass); then u draws from
 * the nucleus, walked in id order. With min_p above w* min-p keeps less:
 * the ids of weight min_p and more, all in the nucleus. list is n ints of
 * scratch. */
static int32_t nucleus_draw(float *w, int n, double sum, double p, float min_p, int32_t *list, float u) {
    double need = p * sum; /* weight the nucleus still needs from ids matching the bits so far */
    double above = 0;      /* the weight of ids heavier than those */
    uint32_t want = 0, mask = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (w[i] > 0) list[m++] = i;
    for (int shift = 24; shift >= 0; shift -= 8) {
        /* four histograms, summed after: neighbours tend to share a byte
         * value, and one would make each add wait for the last */
        double h[4][256] = {{0}}, mass[256];
        for (int i = 0; i < m; i++) h[i & 3][(wbits(w[list[i]]) >> shift) & 255] += w[list[i]];
        for (int v = 0; v < 256; v++) mass[v] = (h[0][v] + h[1][v]) + (h[2][v] + h[3][v]);
        int b = -1, lowest = -1; /* the byte value where the nucleus ends, walking down */
        for (int v = 255; v >= 0; v--) {
            if (mass[v] <= 0) continue;
            lowest = v;
            if (mass[v] >= need) {
                b = v;
                break;
            }
            need -= mass[v];
            above += mass[v];
        }
        if (b < 0) { /* rounding ran past the total: all of the last */
            b = lowest, need = mass[lowest];
            above -= mass[lowest];
        }
        want |= (uint32_t)b << shift, mask |= 255u << shift;
        int k = 0;
        for (int i = 0; i < m; i++)
            if ((wbits(w[list[i]]) & mask) == want) list[k++] = list[i];
        m = k;
    }
    /* list: the m ids of weight exactly w* (ascending); r of them are in */
    const double ws = w[list[0]];
    if (min_p > ws) return draw_in_order(w, n, keep_min_p(w, n, min_p), u, list[0]);
    long r = (long)ceil(need / ws - 1e-9);
    if (r < 1) r = 1;
    if (r > m) r = m;
    const double kept = above + (double)r * ws;
    long tie = 0;
    double target = u * kept, c = 0;
    int32_t last = list[0];
    for (int i = 0; i < n; i++) {
        uint32_t bi = wbits(w[i]);
        if (!(w[i] > 0 && (bi > want || (bi == want && tie++ < r)))) continue;
        c += w[i];
        last = i;
        if (target < c) return i;
    }
    return last;
}

int32_t rnn_sample_logits(const float *logits, int n, const rnn_sample_opts *o, const uint8_t *banned,
                          float *w, int32_t *order, float u) {
    /* The most likely id that may be drawn: no ban, no NaN (NaN reads as -inf). */
    int best = -1;
    for (int i = 0; i < n; i++)
        if (!(banned && banned[i]) && !isnan(logits[i]) && (best < 0 || logits[i] > logits[best])) best = i;
    if (best < 0) { /* every logit NaN: the first id allowed */
        best = 0;
        while (banned && best < n - 1 && banned[best]) best++;
        return best;
    }
    const float mx = logits[best], T = o->temperature;
    if (T <= 0 || isinf(mx)) return best; /* greedy; +inf outweighs the rest; all -inf */
    /* Unnormalised weights exp((logit - max) / T): each in [0, 1], the best 1,
     * at any temperature (dividing first would overflow for T < ~1e-38). */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        w[i] = banned && banned[i] ? 0.0f : isnan(logits[i]) ? 0.0f : expf((logits[i] - mx) / T);
        sum += w[i];
    }
    const int top_k = o->top_k > 0 && o->top_k < n ? o->top_k : 0;
    const int top_p = o->top_p > 0 && o->top_p < 1;
    /* min-p: w is p / p_max (the best's is 1), so the ids kept have w >= min_p */
    const float min_p = o->min_p > 0 && o->min_p <= 1 ? o->min_p : 0;
    if (!top_k && !top_p) return draw_in_order(w, n, min_p > 0 ? keep_min_p(w, n, min_p) : sum, u, best);
    if (!top_k) return nucleus_draw(w, n, sum, o->top_p, min_p, order, u);
    /* The top k, heaviest first. */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (w[i] > 0) order[m++] = i;
    m = keep_heaviest(order, m, top_k, w);
    sort_desc(order, m, w, order + n);
    /* Top-p over what top-k kept, renormalised (Hugging Face's order:
     * temperature, top-k, top-p): the shortest prefix reaching p of it. */
    int keep = m;
    if (top_p) {
        double kept = 0, c = 0;
        for (int i = 0; i < m; i++) kept += w[order[i]];
        for (int i = 0; i < m; i++) {
            c += w[order[i]];
            if (c >= o->top_p * kept) {
                keep = i + 1;
                break;
            }
        }
    }
    while (keep > 1 && w[order[keep - 1]] < min_p) keep--;
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += w[order[i]];
    double target = u * mass, c = 0;
    for (int i = 0; i < keep; i++) {
        c += w[order[i]];
        if (target < c) return order[i];
    }
    return order[keep - 1];
}

/* The logits to draw from: the model's, or with o's repeat penalty P those
 * of the tokens among the last o->repeat_last fed (0: all) divided by P
 * where positive and multiplied by it where not, once each (sample.h). */
static const float *penalised(rnn_sampler *s, const rnn_sample_opts *o) {
    const float P = o->repeat_penalty;
    const int V = s->m->n_out;
    if (!(P > 0 && P != 1) || s->n_recent == 0) return s->logits;
    float *pen = s->pen;
    memcpy(pen, s->logits, sizeof(float) * V);
    if (o->repeat_last <= 0) {
        for (int v = 0; v < V; v++)
            if (s->seen[v]) pen[v] = pen[v] > 0 ? pen[v] / P : pen[v] * P;
        return pen;
    }
    if (++s->stamp_now == 0) { /* (after 2^32 draws: the stamps start over) */
        memset(s->stamp, 0, sizeof(uint32_t) * V);
        s->stamp_now = 1;
    }
    long w = o->repeat_last < RNN_REPEAT_LAST_MAX ? o->repeat_last : RNN_REPEAT_LAST_MAX;
    if (w > s->n_recent) w = s->n_recent;
    for (long j = s->n_recent - w; j < s->n_recent; j++) {
        const int32_t v = s->recent[j % RNN_REPEAT_LAST_MAX];
        if (s->stamp[v] == s->stamp_now) continue;
        s->stamp[v] = s->stamp_now;
        pen[v] = pen[v] > 0 ? pen[v] / P : pen[v] * P;
    }
    return pen;
}

int32_t rnn_sampler_next(rnn_sampler *s, const rnn_sample_opts *o) {
    if (s->fed == 0) {
        int nl = rnn_tokenizer_find(s->tok, "\n");
        if (nl < 0) {
            nl = 0;
            while (nl < s->m->n_out - 1 && (s->banned[nl] || nl == rnn_tokenizer_unk_id(s->tok))) nl++;
        }
        feed(s, nl, 0);
    }
    for (int v = 0; v < s->m->n_out; v++) /* a draw from NaN would be a token all the same */
        if (!isfinite(s->logits[v]))
            return rnn_errorf("the model's logits are not finite (%g at token %d): a damaged or diverged model",
                              s->logits[v], v);
    int32_t id = rnn_sample_logits(penalised(s, o), s->m->n_out, o, draw_bans(s), s->probs, s->order,
                                   rnn_rng_uniform(&s->rng));
    feed(s, id, 1);
    return id;
}

/* The stop string's match after byte c, q bytes of it having matched
 * (Knuth-Morris-Pratt: fail as rnn_sampler_text builds it). */
static size_t stop_step(const char *stop, const size_t *fail, size_t q, char c) {
    while (q && c != stop[q]) q = fail[q - 1];
    return c == stop[q] ? q + 1 : q;
}

int rnn_sampler_text(rnn_sampler *s, const rnn_sample_opts *o, long length, const char *prime, size_t plen,
                     const char *stop, size_t stop_len, int (*emit)(const char *bytes, size_t n, void *user),
                     void *user) {
    const rnn_tokenizer *tok = s->tok;
    const size_t cap = rnn_tokenizer_max_piece(tok) + 1;
    /* the stop, and the prime it may begin in, as the model writes text (a
     * lowercasing tokenizer's text never holds "ROMEO:") */
    size_t wn = 0;
    char *piece = malloc(cap), *stop_w = stop_len ? rnn_tokenizer_as_written(tok, stop, stop_len, &stop_len) : NULL,
         *pw = stop_len && plen ? rnn_tokenizer_as_written(tok, prime, plen, &wn) : NULL;
    size_t *fail = stop_len ? malloc(sizeof(size_t) * stop_len) : NULL;
    stop = stop_w;
    if (!piece || (stop_len && (!stop_w || !fail)) || (stop_len && plen && !pw)) {
        free(piece), free(fail), free(stop_w), free(pw);
        return rnn_errorf("out of memory");
    }
    /* The stop string is found as Knuth-Morris-Pratt does, a byte at a time:
     * q bytes of it matched so far; fail[i], the longest proper prefix of
     * stop[0..i] that also ends it, is where a mismatch after i + 1 goes on. */
    size_t q = 0;
    if (stop_len) {
        fail[0] = 0;
        for (size_t i = 1, k = 0; i < stop_len; i++) {
            while (k && stop[i] != stop[k]) k = fail[k - 1];
            if (stop[i] == stop[k]) k++;
            fail[i] = k;
        }
    }
    for (size_t j = 0; j < wn; j++) { /* a match may begin in the prime, not end there */
        q = stop_step(stop, fail, q, pw[j]);
        if (q == stop_len) q = fail[q - 1];
    }
    free(pw);
    int spaced = rnn_tokenizer_ends_in_space(tok, prime, plen); /* "word ", "word\n", "word\u3000" */
    int rc = 0, stopped = 0, quotes = 0;
    int squote = 0; /* an apostrophe that opened a quotation in the prime ("he said 'no"): the next one closes */
    for (size_t j = 0; j < plen; j++) {
        quotes ^= prime[j] == '"'; /* one open in the prime: the next one closes */
        if (prime[j] == '`') squote = 1;
        if (prime[j] == '\n') squote = 0;
        if (prime[j] != '\'') continue;
        /* (at the prime's end, the sample's first word comes after it: "he said '" opens) */
        const unsigned char b = j ? (unsigned char)prime[j - 1] : ' ', a = j + 1 < plen ? (unsigned char)prime[j + 1] : 'a';
        const int space_before = b == ' ' || b == '\n' || b == '\t' || b == '(' || b == '"';
        const int letter_after = ((a | 32) >= 'a' && (a | 32) <= 'z') || a >= 0x80;
        if (space_before && letter_after) squote = 1;
        else if (!space_before && !letter_after && !(a >= '0' && a <= '9')) squote = 0;
    }
    quotes |= squote << 1;
    /* Without a prime the sampler starts by feeding a newline, after which
     * a word model's first piece takes no space: no token before it. */
    rnn_detok dt;
    rnn_detok_init(&dt, plen ? rnn_sampler_last(s) : -1, quotes);
    /* A byte model held to UTF-8 finishes a character it began (at most 3
     * bytes more; not one the prime left open, when length is 0). The last
     * round writes an apostrophe the text ended with. */
    for (long i = 0; !rc && !stopped; i++) {
        const int more = i < length || (i > 0 && rnn_sampler_utf8_pending(s) && i < length + 3);
        size_t n;
        if (more) {
            int32_t id = rnn_sampler_next(s, o);
            if (id < 0) {
                rc = -1;
                break;
            }
            n = rnn_detok_put(tok, &dt, id, piece, cap);
        } else {
            n = rnn_detok_end(tok, &dt, piece, cap);
        }
        const char *p = piece;
        if (spaced && n && p[0] == ' ') p++, n--; /* the prime's own space separates it */
        if (n) spaced = 0;
        for (size_t j = 0; j < n && stop_len && !stopped; j++)
            if ((q = stop_step(stop, fail, q, p[j])) == stop_len) n = j + 1, stopped = 1;
        if (n) rc = emit(p, n, user);
        if (!more) break;
    }
    free(piece);
    free(fail);
    free(stop_w);
    return rc;
}
