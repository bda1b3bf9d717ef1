/* layers.c: embedding, linear, dropout, pooling and losses (see layers.h). */
#include "layers.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "activations.h"
#include "gemm.h"

/* Below this many elements a thread team costs more than it saves. */
#define PAR_MIN 32768

void rnn_embedding_forward(float *out, const float *W, const int32_t *ids, int N, int E) {
#pragma omp parallel for if ((size_t)N * E > PAR_MIN)
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * E, W + (size_t)ids[n] * E, sizeof(float) * E);
}

void rnn_embedding_backward(float *dW, const float *dout, const int32_t *ids, int N, int E,
                            int padding_id) {
    /* Each thread sums its own columns (whole cache lines) over all rows, in
     * row order: repeated ids never race, and every thread count gives the
     * same sums. model.c's layer-0 lookup sums N x G*H gradients so. */
#pragma omp parallel if ((size_t)N * E > PAR_MIN)
    {
        int nt = 1, t = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads(), t = omp_get_thread_num();
#endif
        const int lines = (E + 15) / 16;
        const int e0 = lines * t / nt * 16, e1 = lines * (t + 1) / nt * 16 < E ? lines * (t + 1) / nt * 16 : E;
        for (int n = 0; n < N; n++) {
            if (ids[n] == padding_id) continue;
            float *restrict row = dW + (size_t)ids[n] * E;
            const float *restrict d = dout + (size_t)n * E;
            for (int e = e0; e < e1; e++) row[e] += d[e];
        }
    }
}

void rnn_linear_forward(float *out, const float *in, const float *W, const float *b, int N, int I,
                        int O) {
    rnn_gemm(0, 1, N, O, I, 1.0f, in, I, W, I, 0.0f, out, O);
    if (!b) return;
#pragma omp parallel for if ((size_t)N * O > PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *r = out + (size_t)n * O;
        for (int o = 0; o < O; o++) r[o] += b[o];
    }
}

void rnn_linear_backward(float *din, int accumulate, float *dW, float *db, const float *dout,
                         const float *in, const float *W, int N, int I, int O) {
    rnn_gemm(1, 0, O, I, N, 1.0f, dout, O, in, I, 1.0f, dW, I);
    if (db) { /* column sums, read along the rows: 512 columns per task */
        const int nb = (O + 511) / 512;
#pragma omp parallel for if ((size_t)N * O > PAR_MIN)
        for (int b = 0; b < nb; b++) {
            const int o0 = b * 512, w = O - o0 < 512 ? O - o0 : 512;
            double s[512] = {0};
            for (int n = 0; n < N; n++) {
                const float *r = dout + (size_t)n * O + o0;
                for (int o = 0; o < w; o++) s[o] += r[o];
            }
            for (int o = 0; o < w; o++) db[o0 + o] += (float)s[o];
        }
    }
    if (din) rnn_gemm(0, 0, N, I, O, 1.0f, dout, O, W, I, accumulate ? 1.0f : 0.0f, din, I);
}

/* The masks come from a counter-based generator: element i of a call's mask
 * is a hash of (one draw from rng, i), so a large mask is made by all threads
 * at once and is the same whatever their number. Two elements per 64-bit
 * hash: pair j gets splitmix64's output mix64(key + (j + 1) * gamma), gamma
 * = 0x9e3779b97f4a7c15 (splitmix64's increment, 2^64 over the golden
 * ratio); each element is kept when its 32 bits are >= p * 2^32. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* x == NULL: fill the mask only. */
static void dropout(float *x, float *mask, size_t n, float p, rnn_rng *rng) {
    const float keep = 1.0f / (1.0f - p);
    const uint64_t key = rnn_rng_next(rng);
    const double t = (double)p * 4294967296.0;
    const uint32_t thr = t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
    const size_t pairs = n / 2;
#pragma omp parallel for if (n > PAR_MIN)
    for (size_t j = 0; j < pairs; j++) {
        const uint64_t r = mix64(key + (j + 1) * 0x9e3779b97f4a7c15ULL);
        const float m0 = (uint32_t)r < thr ? 0.0f : keep, m1 = (uint32_t)(r >> 32) < thr ? 0.0f : keep;
        mask[2 * j] = m0;
        mask[2 * j + 1] = m1;
        if (x) {
            x[2 * j] *= m0;
            x[2 * j + 1] *= m1;
        }
    }
    if (n % 2) {
        const uint32_t r = (uint32_t)mix64(key + (pairs + 1) * 0x9e3779b97f4a7c15ULL);
        mask[n - 1] = r < thr ? 0.0f : keep;
        if (x) x[n - 1] *= mask[n - 1];
    }
}

void rnn_dropout_forward(float *x, float *mask, size_t n, float p, rnn_rng *rng) {
    dropout(x, mask, n, p, rng);
}

void rnn_dropout_mask(float *mask, size_t n, float p, rnn_rng *rng) { dropout(NULL, mask, n, p, rng); }

void rnn_dropout_locked(float *x, float *mask, size_t n, size_t period, float p, rnn_rng *rng) {
    if (!period || period >= n) {
        dropout(x, mask, n, p, rng);
        return;
    }
    dropout(NULL, mask, period, p, rng);
    for (size_t at = period; at < n; at += period) memcpy(mask + at, mask, sizeof(float) * period);
#pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= mask[i];
}

void rnn_dropout_backward(float *dx, const float *mask, size_t n) {
#pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] *= mask[i];
}

/* ------------------------------------------------------------------------ */
static const char *const pool_names[] = {"last", "mean", "max", "meanmax", "attention"};

const char *rnn_pool_name(rnn_pool k) { return pool_names[k]; }

int rnn_pool_parse(const char *s, rnn_pool *k) {
    for (int i = 0; i <= RNN_POOL_ATTENTION; i++)
        if (!strcmp(s, pool_names[i])) {
            *k = (rnn_pool)i;
            return 0;
        }
    return rnn_errorf("unknown pooling '%s' (expected last, mean, max, meanmax or attention)", s);
}

int rnn_pool_width(rnn_pool k, int F) { return k == RNN_POOL_MEANMAX ? 2 * F : F; }

size_t rnn_pool_cache_floats(const rnn_pooler *pl, int N, int B, int u_rows) {
    size_t n = 0;
    if (pl->kind == RNN_POOL_MAX || pl->kind == RNN_POOL_MEANMAX) n += (size_t)B * pl->F;
    if (pl->kind == RNN_POOL_ATTENTION) n += (size_t)u_rows * pl->A + N + 2 * (size_t)B;
    return n;
}

void rnn_pool_cache_bind(rnn_pool_cache *c, const rnn_pooler *pl, int B, int u_rows, float *mem) {
    memset(c, 0, sizeof *c);
    if (pl->kind == RNN_POOL_MAX || pl->kind == RNN_POOL_MEANMAX) {
        c->argmax = (int32_t *)mem;
        mem += (size_t)B * pl->F;
    }
    if (pl->kind == RNN_POOL_ATTENTION) {
        c->u = mem;
        c->u_rows = u_rows;
        c->run_max = mem + (size_t)u_rows * pl->A;
        c->run_sum = c->run_max + B;
        c->alpha = c->run_sum + B;
    }
}

size_t rnn_pool_scratch_floats(const rnn_pooler *pl, int N, int B) {
    (void)B;
    return pl->kind == RNN_POOL_ATTENTION ? (size_t)N * pl->A + N : 0;
}

/* Row of step t of sequence b in the packed layout. */
static inline size_t prow(const rnn_pack *p, int t, int b) { return (size_t)p->offsets[t] + b; }

/* Pooling over chunks of time steps (layers.h): begin sets the accumulators,
 * each chunk adds its rows, end finishes. */
void rnn_pool_begin(const rnn_pooler *pl, int B, float *out, const rnn_pool_cache *c) {
    const int F = pl->F, P = rnn_pool_width(pl->kind, F);
    for (int b = 0; b < B; b++) {
        float *ob = out + (size_t)b * P;
        if (pl->kind == RNN_POOL_MAX || pl->kind == RNN_POOL_MEANMAX) {
            float *mx = pl->kind == RNN_POOL_MAX ? ob : ob + F;
            int32_t *am = c->argmax + (size_t)b * F;
            for (int f = 0; f < F; f++) mx[f] = -FLT_MAX, am[f] = -1;
        }
        if (pl->kind != RNN_POOL_MAX) memset(ob, 0, sizeof(float) * F);
        if (pl->kind == RNN_POOL_ATTENTION) c->run_max[b] = -FLT_MAX, c->run_sum[b] = 0;
    }
}

/* Sums (mean) and maxima (max) of w features of each sequence's rows of o
 * (stride ldo) into out (stride ldout); argmax (stride ldam) gets each
 * maximum's packed row. */
static void pool_sum(const rnn_pack *q, int w, float *out, int ldout, const float *o, int ldo) {
    for (int b = 0; b < q->B; b++) {
        float *ob = out + (size_t)b * ldout;
        for (int t = 0; t < q->lengths[b]; t++) {
            const float *r = o + prow(q, t, b) * ldo;
            for (int f = 0; f < w; f++) ob[f] += r[f];
        }
    }
}

static void pool_max(const rnn_pack *q, int r0, int w, float *out, int ldout, const float *o, int ldo,
                     int32_t *argmax, int ldam) {
    for (int b = 0; b < q->B; b++) {
        float *ob = out + (size_t)b * ldout;
        int32_t *am = argmax + (size_t)b * ldam;
        for (int t = 0; t < q->lengths[b]; t++) {
            size_t row = prow(q, t, b);
            const float *r = o + row * ldo;
            for (int f = 0; f < w; f++)
                if (r[f] > ob[f]) ob[f] = r[f], am[f] = (int32_t)(r0 + row);
        }
    }
}

/* Attention over a chunk: each row's score into alpha (at its packed row),
 * then softmax online (Milakov & Gimelshein 2018): per sequence the largest
 * score so far m and out = Σ e^(s_t - m) o_t, sum = Σ e^(s_t - m), both
 * rescaled when a chunk raises m. */
static void pool_attention(const rnn_pooler *pl, const rnn_pack *q, int r0, float *out, const float *o,
                           const rnn_pool_cache *c) {
    const int N = q->N, A = pl->A, F = pl->F;
    /* u = tanh(o W1^T + b1); score = u · w2, u_rows rows of u at a time */
    for (int n0 = 0; n0 < N; n0 += c->u_rows) {
        const int rows = N - n0 < c->u_rows ? N - n0 : c->u_rows;
        rnn_linear_forward(c->u, o + (size_t)n0 * F, pl->w1, pl->b1, rows, F, A);
        for (size_t i = 0; i < (size_t)rows * A; i++) c->u[i] = tanhf(c->u[i]);
        for (int n = 0; n < rows; n++) {
            float s = 0;
            for (int a = 0; a < A; a++) s += c->u[(size_t)n * A + a] * pl->w2[a];
            c->alpha[r0 + n0 + n] = s;
        }
    }
    for (int b = 0; b < q->B; b++) {
        float *ob = out + (size_t)b * F, mx = c->run_max[b], sum = c->run_sum[b];
        float top = mx;
        for (int t = 0; t < q->lengths[b]; t++) top = fmaxf(top, c->alpha[r0 + prow(q, t, b)]);
        if (top > mx) {
            if (sum > 0) {
                const float scale = expf(mx - top);
                sum *= scale;
                for (int f = 0; f < F; f++) ob[f] *= scale;
            }
            mx = top;
        }
        for (int t = 0; t < q->lengths[b]; t++) {
            const size_t row = prow(q, t, b);
            const float w = expf(c->alpha[r0 + row] - mx), *r = o + row * F;
            sum += w;
            for (int f = 0; f < F; f++) ob[f] += w * r[f];
        }
        c->run_max[b] = mx, c->run_sum[b] = sum;
    }
}

void rnn_pool_chunk_dir(const rnn_pooler *pl, const rnn_pack *q, int t0, int r0, const int *lengths, int d,
                        float *out, const float *o, int ldo, const rnn_pool_cache *c) {
    const int F = pl->F, H = F / pl->D;
    switch (pl->kind) {
    case RNN_POOL_LAST: /* [h_fwd at the last step ; h_bwd at step 0] */
        for (int b = 0; b < q->B; b++)
            if (d ? t0 == 0 : lengths[b] - t0 == q->lengths[b])
                memcpy(out + (size_t)b * F + d * H, o + prow(q, d ? 0 : q->lengths[b] - 1, b) * ldo,
                       sizeof(float) * H);
        break;
    case RNN_POOL_MEAN: pool_sum(q, H, out + d * H, F, o, ldo); break;
    case RNN_POOL_MAX: pool_max(q, r0, H, out + d * H, F, o, ldo, c->argmax + d * H, F); break;
    case RNN_POOL_MEANMAX:
        pool_sum(q, H, out + d * H, 2 * F, o, ldo);
        pool_max(q, r0, H, out + F + d * H, 2 * F, o, ldo, c->argmax + d * H, F);
        break;
    case RNN_POOL_ATTENTION: assert(0 && "attention reads both directions of a row: rnn_pool_chunk"); break;
    }
}

void rnn_pool_chunk(const rnn_pooler *pl, const rnn_pack *q, int t0, int r0, const int *lengths, float *out,
                    const float *o, const rnn_pool_cache *c) {
    const int F = pl->F, H = F / pl->D;
    if (pl->kind == RNN_POOL_ATTENTION) pool_attention(pl, q, r0, out, o, c);
    else
        for (int d = 0; d < pl->D; d++) rnn_pool_chunk_dir(pl, q, t0, r0, lengths, d, out, o + d * H, F, c);
}

void rnn_pool_end(const rnn_pooler *pl, const rnn_pack *p, float *out, const rnn_pool_cache *c) {
    const int F = pl->F, P = rnn_pool_width(pl->kind, F);
    if (pl->kind == RNN_POOL_MEAN || pl->kind == RNN_POOL_MEANMAX)
        for (int b = 0; b < p->B; b++) {
            float *ob = out + (size_t)b * P, inv = 1.0f / p->lengths[b];
            for (int f = 0; f < F; f++) ob[f] *= inv;
        }
    if (pl->kind == RNN_POOL_ATTENTION)
        for (int b = 0; b < p->B; b++) { /* alpha: the scores made weights */
            float *ob = out + (size_t)b * F;
            const float mx = c->run_max[b], sum = c->run_sum[b];
            for (int f = 0; f < F; f++) ob[f] /= sum;
            for (int t = 0; t < p->lengths[b]; t++) {
                float *a = &c->alpha[prow(p, t, b)];
                *a = expf(*a - mx) / sum;
            }
        }
}

void rnn_pool_forward(const rnn_pooler *pl, const rnn_pack *p, float *out, const float *o,
                      const rnn_pool_cache *c, float *scratch) {
    (void)scratch;
    rnn_pool_begin(pl, p->B, out, c);
    rnn_pool_chunk(pl, p, 0, 0, p->lengths, out, o, c);
    rnn_pool_end(pl, p, out, c);
}

static void unpool_mean(const rnn_pack *p, int F, float *do_, const float *dout, int lddout) {
    for (int b = 0; b < p->B; b++) {
        const float *db = dout + (size_t)b * lddout;
        float inv = 1.0f / p->lengths[b];
        for (int t = 0; t < p->lengths[b]; t++) {
            float *r = do_ + prow(p, t, b) * F;
            for (int f = 0; f < F; f++) r[f] += db[f] * inv;
        }
    }
}

static void unpool_max(const rnn_pack *p, int F, float *do_, const float *dout, int lddout,
                       const int32_t *argmax) {
    for (int b = 0; b < p->B; b++)
        for (int f = 0; f < F; f++)
            do_[(size_t)argmax[(size_t)b * F + f] * F + f] += dout[(size_t)b * lddout + f];
}

void rnn_pool_backward(const rnn_pooler *pl, const rnn_pack *p, float *do_, float *dw1, float *db1,
                       float *dw2, const float *dout, const float *o, const rnn_pool_cache *c,
                       float *scratch) {
    const int F = pl->F, H = F / pl->D, N = p->N;
    memset(do_, 0, sizeof(float) * N * F);
    switch (pl->kind) {
    case RNN_POOL_LAST:
        for (int b = 0; b < p->B; b++) {
            const float *db = dout + (size_t)b * F;
            float *r = do_ + prow(p, p->lengths[b] - 1, b) * F;
            for (int f = 0; f < H; f++) r[f] += db[f];
            if (pl->D == 2) {
                r = do_ + prow(p, 0, b) * F;
                for (int f = H; f < F; f++) r[f] += db[f];
            }
        }
        break;
    case RNN_POOL_MEAN: unpool_mean(p, F, do_, dout, F); break;
    case RNN_POOL_MAX: unpool_max(p, F, do_, dout, F, c->argmax); break;
    case RNN_POOL_MEANMAX:
        unpool_mean(p, F, do_, dout, 2 * F);
        unpool_max(p, F, do_, dout + F, 2 * F, c->argmax);
        break;
    case RNN_POOL_ATTENTION: {
        const int A = pl->A;
        assert(c->u_rows >= N && "the backward reads every row's u: bind the cache with u_rows = N");
        float *du = scratch;                  /* (N, A) gradient of W1 o + b1 */
        float *dscore = scratch + (size_t)N * A; /* (N) */
        /* out = Σ α_t o_t: do_t = α_t dout; dα_t = dout · o_t;
         * dscore_t = α_t (dα_t - Σ_s α_s dα_s). */
        for (int b = 0; b < p->B; b++) {
            const float *db = dout + (size_t)b * F;
            double dot_sum = 0;
            for (int t = 0; t < p->lengths[b]; t++) {
                size_t row = prow(p, t, b);
                const float *r = o + row * F;
                float *dr = do_ + row * F;
                float da = 0;
                for (int f = 0; f < F; f++) {
                    da += db[f] * r[f];
                    dr[f] += c->alpha[row] * db[f];
                }
                dscore[row] = da;
                dot_sum += c->alpha[row] * da;
            }
            for (int t = 0; t < p->lengths[b]; t++) {
                size_t row = prow(p, t, b);
                dscore[row] = c->alpha[row] * (dscore[row] - (float)dot_sum);
            }
        }
        /* score = u · w2, u = tanh(pre): dw2 += Σ dscore u; dpre = dscore w2 (1 - u²). */
        for (int n = 0; n < N; n++) {
            const float *u = c->u + (size_t)n * A;
            float *d = du + (size_t)n * A;
            for (int a = 0; a < A; a++) {
                dw2[a] += dscore[n] * u[a];
                d[a] = dscore[n] * pl->w2[a] * (1.0f - u[a] * u[a]);
            }
        }
        rnn_linear_backward(do_, 1, dw1, db1, du, o, pl->w1, N, F, A);
        break;
    }
    }
}

/* ------------------------------------------------------------------------ */
void rnn_softmax_row(float *x, int n) {
    float mx = -FLT_MAX;
    for (int i = 0; i < n; i++) mx = fmaxf(mx, x[i]);
    double s = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        s += x[i];
    }
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* One row of softmax cross-entropy: returns logsumexp(x) - x[target] and sets
 * *correct to argmax(x) == target (the first maximum, as torch.argmax). With
 * grad it overwrites x with d(loss * scale)/dx = (softmax(x) - onehot) *
 * scale. Written for a word model's 20,000-wide rows: LANES independent
 * lanes (which GCC vectorises without -ffast-math), one max pass and one
 * exp pass (rnn_expf: relative error < 2e-7), the exps summed in float over
 * blocks of 1024 and the blocks in double. */
#define LANES 16
static double xent_row(float *restrict x, int C, int target, float scale, int grad, int *correct) {
    float m[LANES];
    for (int j = 0; j < LANES; j++) m[j] = -FLT_MAX;
    int c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int j = 0; j < LANES; j++) m[j] = x[c + j] > m[j] ? x[c + j] : m[j];
    float mx = -FLT_MAX;
    for (int j = 0; j < LANES; j++) mx = m[j] > mx ? m[j] : mx;
    for (; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    const float xt = x[target];
    int ok = xt == mx;
    for (int k = 0; ok && k < target; k++) ok = x[k] != mx;
    *correct = ok;
    double total = 0;
    for (int b = 0; b < C; b += 1024) {
        const int e = C - b < 1024 ? C : b + 1024;
        float acc[LANES] = {0};
        for (c = b; c + LANES <= e; c += LANES)
            for (int j = 0; j < LANES; j++) {
                const float v = rnn_expf(x[c + j] - mx);
                acc[j] += v;
                if (grad) x[c + j] = v;
            }
        for (; c < e; c++) {
            const float v = rnn_expf(x[c] - mx);
            acc[0] += v;
            if (grad) x[c] = v;
        }
        float blk = 0;
        for (int j = 0; j < LANES; j++) blk += acc[j];
        total += blk;
    }
    if (grad) {
        const float k = (float)(scale / total);
        for (c = 0; c < C; c++) x[c] *= k;
        x[target] -= scale;
    }
    return log(total) + ((double)mx - xt); /* mx - xt first: with huge logits log(total) would be lost */
}
#undef LANES

static double xent(float *logits, const int32_t *targets, int N, int C, int *n_valid,
                   int *n_correct, int grad) {
    int valid = 0, correct = 0;
    for (int n = 0; n < N; n++) valid += targets[n] >= 0;
    double total = 0;
    const float scale = valid ? 1.0f / valid : 0.0f;
#pragma omp parallel for reduction(+ : total, correct) if ((size_t)N * C > PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *x = logits + (size_t)n * C;
        if (targets[n] < 0) {
            if (grad) memset(x, 0, sizeof(float) * C);
            continue;
        }
        int ok;
        total += xent_row(x, C, targets[n], scale, grad, &ok);
        correct += ok;
    }
    if (n_valid) *n_valid = valid;
    if (n_correct) *n_correct = correct;
    return valid ? total / valid : 0.0;
}

double rnn_softmax_xent(float *logits, const int32_t *targets, int N, int C, int *n_valid,
                        int *n_correct) {
    return xent(logits, targets, N, C, n_valid, n_correct, 1);
}

double rnn_softmax_xent_eval(const float *logits, const int32_t *targets, int N, int C,
                             int *n_valid, int *n_correct) {
    return xent((float *)logits, targets, N, C, n_valid, n_correct, 0);
}

double rnn_log_add(double a, double b) {
    if (a < b) {
        const double t = a;
        a = b, b = t;
    }
    return a == -INFINITY ? a : a + log1p(exp(b - a));
}

double rnn_log_softmax_at(const float *x, int C, int y) {
    double mx = -INFINITY, z = 0;
    for (int c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    for (int c = 0; c < C; c++) z += exp(x[c] - mx);
    return x[y] - mx - log(z);
}

/* One row of rnn_softmax_xent_cfg: returns
 *   (1-s) w_y (lse - x_y) + (s/C) sum_c w_c (lse - x_c),
 * with grad overwriting x with scale times its gradient,
 *   p_j ((1-s) w_y + (s/C) sw) - (s/C) w_j - (1-s) w_y [j = y],  sw = sum_c w_c
 * (w NULL: every w_c = 1). xent_row makes the softmax part, its scale
 * carrying the first factor, and lse - x_y; the smoothing's terms go on
 * around it, so the plain loss's row function stays as it is. */
static double xent_row_cfg(float *restrict x, int C, int y, const float *restrict w, double sw, float s,
                           double scale, int grad, int *correct) {
    const double wy = w ? w[y] : 1.0, k = (double)s / C;
    double spread = 0; /* sum_c w_c (x_y - x_c), as lse - x_c = (lse - x_y) + (x_y - x_c) */
    if (s > 0) {
        const double xy = x[y];
        if (w)
            for (int c = 0; c < C; c++) spread += w[c] * (xy - x[c]);
        else
            for (int c = 0; c < C; c++) spread += xy - x[c];
    }
    const double nll = xent_row(x, C, y, (float)(scale * ((1 - s) * wy + k * sw)), grad, correct);
    if (grad && s > 0) { /* (in double: scale is 1 / the batch's weights, which may be far from 1) */
        const double ks = scale * k;
        if (w)
            for (int c = 0; c < C; c++) x[c] -= (float)(ks * w[c]);
        else
            for (int c = 0; c < C; c++) x[c] -= (float)ks;
        x[y] += (float)(scale * k * sw);
    }
    return (1 - s) * wy * nll + k * (sw * nll + spread);
}

/* rnn_softmax_xent_cfg's weighted or smoothed case: PyTorch's mean divides
 * by the target weights' sum, sum_n w_y over the rows counted. */
static double xent_cfg(float *logits, const int32_t *targets, int N, int C, const rnn_loss_cfg *lc, int *n_valid,
                       int *n_correct) {
    const float *w = lc->class_weight, s = lc->label_smoothing;
    int valid = 0, correct = 0;
    double wsum = 0, sw = C;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) valid++, wsum += w ? w[targets[n]] : 1.0;
    if (w) {
        sw = 0;
        for (int c = 0; c < C; c++) sw += w[c];
    }
    const double scale = wsum > 0 ? 1.0 / wsum : 0.0;
    double total = 0;
#pragma omp parallel for reduction(+ : total, correct) if ((size_t)N * C > PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *x = logits + (size_t)n * C;
        if (targets[n] < 0) {
            memset(x, 0, sizeof(float) * C);
            continue;
        }
        int ok;
        total += xent_row_cfg(x, C, targets[n], w, sw, s, scale, 1, &ok);
        correct += ok;
    }
    if (n_valid) *n_valid = valid;
    if (n_correct) *n_correct = correct;
    return wsum > 0 ? total / wsum : 0.0;
}

static int plain_loss(const rnn_loss_cfg *lc) { return !lc || (!lc->class_weight && lc->label_smoothing == 0); }

double rnn_softmax_xent_cfg(float *logits, const int32_t *targets, int N, int C, const rnn_loss_cfg *lc,
                            int *n_valid, int *n_correct) {
    if (plain_loss(lc)) return xent(logits, targets, N, C, n_valid, n_correct, 1);
    return xent_cfg(logits, targets, N, C, lc, n_valid, n_correct);
}

/* Binary cross-entropy on logits, each example's term times its class's
 * weight w (NULL: 1), targets smoothed by s: the mean over the batch. */
static double bce(float *logits, const float *targets, int N, const float *w, float s, int *n_correct) {
    double total = 0;
    int correct = 0;
    for (int n = 0; n < N; n++) {
        const int pos = targets[n] > 0.5f;
        const float x = logits[n], y = targets[n] * (1 - s) + 0.5f * s, wn = w ? w[pos] : 1.0f; /* (s 0: y exact) */
        /* max(x,0) - x y + log(1 + e^-|x|): never overflows. */
        total += (double)wn * (fmaxf(x, 0.0f) - x * y + log1pf(expf(-fabsf(x))));
        correct += (x > 0) == pos;
        const float sig = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        logits[n] = wn * (sig - y) / N;
    }
    if (n_correct) *n_correct = correct;
    return N ? total / N : 0.0;
}

double rnn_bce_logits_cfg(float *logits, const float *targets, int N, const rnn_loss_cfg *lc, int *n_correct) {
    return lc ? bce(logits, targets, N, lc->class_weight, lc->label_smoothing, n_correct)
              : bce(logits, targets, N, NULL, 0, n_correct);
}

double rnn_bce_logits(float *logits, const float *targets, int N, int *n_correct) {
    return bce(logits, targets, N, NULL, 0, n_correct);
}
