/* infer.c: see infer.h.
 *
 * Weight layout ("interleaved blocks"): a matrix of R rows and K columns is
 * cut into blocks of BR = 16 rows; block b stores, for k = 0..K-1, the 16
 * values W[16b + r][k] (r = 0..15) side by side. y = W x is then, per block,
 * sum_k x[k] * column k: one vector multiply-add per 16 weights, no
 * horizontal sums, and the block is one contiguous stream. Rows past R are
 * zero. For a recurrent layer the blocks of gate g cover units 16u..16u+15,
 * so the thread that owns units [16u0, 16u1) owns the same blocks of every
 * gate and can apply the cell to its units at once.
 */
#include "infer.h"

#include <stdlib.h>
#include <string.h>

#include "recurrent.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define BR 16
typedef float vf __attribute__((vector_size(BR * 4)));
typedef uint16_t vh __attribute__((vector_size(BR * 2)));
typedef uint32_t vu __attribute__((vector_size(BR * 4)));
/* The same, at any alignment. */
typedef float vfu __attribute__((vector_size(BR * 4), aligned(4), may_alias));
typedef uint16_t vhu __attribute__((vector_size(BR * 2), aligned(2), may_alias));

/* A matrix in interleaved blocks, fp32 or bf16. */
typedef struct {
    int rows, K, nblk;
    float *w;     /* fp32: nblk * K * BR */
    uint16_t *h;  /* bf16: nblk * K * BR */
} blocks;

static int blocks_make(blocks *b, const float *W, int rows, int K, rnn_precision p) {
    b->rows = rows, b->K = K, b->nblk = (rows + BR - 1) / BR;
    size_t n = (size_t)b->nblk * K * BR;
    b->w = NULL, b->h = NULL;
    if (p == RNN_BF16) {
        if (!(b->h = rnn_alloc(n * sizeof(uint16_t)))) return -1;
    } else if (!(b->w = rnn_alloc(n * sizeof(float)))) {
        return -1;
    }
    for (int blk = 0; blk < b->nblk; blk++)
        for (int k = 0; k < K; k++)
            for (int r = 0; r < BR; r++) {
                int row = blk * BR + r;
                float v = row < rows ? W[(size_t)row * K + k] : 0.0f;
                size_t at = ((size_t)blk * K + k) * BR + r;
                if (b->h)
                    b->h[at] = rnn_bf16_round(v);
                else
                    b->w[at] = v;
            }
    return 0;
}

static void blocks_free(blocks *b) {
    rnn_free(b->w);
    rnn_free(b->h);
}

/* Rows 16*blk .. 16*blk+15 of W times x (K values). Four accumulators hide
 * the multiply-add latency; bf16 weights widen to fp32 in registers (a
 * 16-bit shift), so only the bytes read change. */
#if defined(__AVX512F__)
#include <immintrin.h>
static vf block_dot(const blocks *b, int blk, const float *x) {
    const int K = b->K;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    if (b->w) {
        const float *w = b->w + (size_t)blk * K * BR;
        for (; k + 4 <= K; k += 4, w += 4 * BR) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w), _mm512_set1_ps(x[k]), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + BR), _mm512_set1_ps(x[k + 1]), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 2 * BR), _mm512_set1_ps(x[k + 2]), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 3 * BR), _mm512_set1_ps(x[k + 3]), a3);
        }
        for (; k < K; k++, w += BR) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w), _mm512_set1_ps(x[k]), a0);
    } else {
        const uint16_t *w = b->h + (size_t)blk * K * BR;
#define WIDEN(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
        for (; k + 4 <= K; k += 4, w += 4 * BR) {
            a0 = _mm512_fmadd_ps(WIDEN(w), _mm512_set1_ps(x[k]), a0);
            a1 = _mm512_fmadd_ps(WIDEN(w + BR), _mm512_set1_ps(x[k + 1]), a1);
            a2 = _mm512_fmadd_ps(WIDEN(w + 2 * BR), _mm512_set1_ps(x[k + 2]), a2);
            a3 = _mm512_fmadd_ps(WIDEN(w + 3 * BR), _mm512_set1_ps(x[k + 3]), a3);
        }
        for (; k < K; k++, w += BR) a0 = _mm512_fmadd_ps(WIDEN(w), _mm512_set1_ps(x[k]), a0);
#undef WIDEN
    }
    __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    vf out;
    memcpy(&out, &sum, sizeof out);
    return out;
}
#else
static vf block_dot(const blocks *b, int blk, const float *x) {
    const int K = b->K;
    vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int k = 0;
    if (b->w) {
        const float *w = b->w + (size_t)blk * K * BR;
        for (; k + 4 <= K; k += 4) {
            a0 += *(const vfu *)(w + (size_t)k * BR) * x[k];
            a1 += *(const vfu *)(w + (size_t)(k + 1) * BR) * x[k + 1];
            a2 += *(const vfu *)(w + (size_t)(k + 2) * BR) * x[k + 2];
            a3 += *(const vfu *)(w + (size_t)(k + 3) * BR) * x[k + 3];
        }
        for (; k < K; k++) a0 += *(const vfu *)(w + (size_t)k * BR) * x[k];
    } else {
        const uint16_t *w = b->h + (size_t)blk * K * BR;
#define WIDEN(p) ((vf)(__builtin_convertvector(*(const vhu *)(p), vu) << 16))
        for (; k + 4 <= K; k += 4) {
            a0 += WIDEN(w + (size_t)k * BR) * x[k];
            a1 += WIDEN(w + (size_t)(k + 1) * BR) * x[k + 1];
            a2 += WIDEN(w + (size_t)(k + 2) * BR) * x[k + 2];
            a3 += WIDEN(w + (size_t)(k + 3) * BR) * x[k + 3];
        }
        for (; k < K; k++) a0 += WIDEN(w + (size_t)k * BR) * x[k];
#undef WIDEN
    }
    return (a0 + a1) + (a2 + a3);
}
#endif

typedef struct {
    blocks wx, wh;   /* (G*H, in) and (G*H, H); gate g's blocks are g*nub.. */
    const float *b_ih, *b_hh;
} layer;

struct rnn_stepper {
    rnn_config cfg;
    int L, G, H, E, V, nub, nt;
    rnn_cell cell;
    layer lay[RNN_MAX_LAYERS];
    blocks head;
    float *emb, *head_b, *bias; /* copies: (V, E), (V), all layers' b_ih, b_hh */
    float *mem;                 /* state and scratch, one block */
    float *h[2], *c[2];         /* (L, Hp) each: the state before / after a token */
    float *out;                 /* (L, Hp) each layer's output (h, or h + input when residual) */
    float *logits;              /* (Vp) */
    int cur;                    /* h[cur], c[cur]: the current state */
    int Hp;
};

void rnn_stepper_free(rnn_stepper *s) {
    if (!s) return;
    for (int l = 0; l < s->L; l++) {
        blocks_free(&s->lay[l].wx);
        blocks_free(&s->lay[l].wh);
    }
    blocks_free(&s->head);
    rnn_free(s->emb);
    rnn_free(s->head_b);
    rnn_free(s->bias);
    rnn_free(s->mem);
    free(s);
}

rnn_stepper *rnn_stepper_create(const rnn_model *m, rnn_precision weights) {
    const rnn_config *c = &m->c;
    if (c->task != RNN_TASK_LM || m->D != 1 || c->cell == RNN_CELL_NONE) {
        rnn_errorf("the batch-1 stepper needs a unidirectional recurrent language model");
        return NULL;
    }
    rnn_stepper *s = calloc(1, sizeof *s);
    if (!s) {
        rnn_errorf("out of memory");
        return NULL;
    }
    s->cfg = *c;
    s->L = c->num_layers, s->G = rnn_cell_gates(c->cell), s->H = c->hidden_dim;
    s->E = c->embed_dim, s->V = m->n_out, s->cell = c->cell;
    s->nub = (s->H + BR - 1) / BR;
    s->Hp = s->nub * BR;
    const int GH = s->G * s->H;
    int ok = 1;
    /* Each gate is its own (H, K) matrix, so a gate's blocks start at a
     * multiple of 16 units even when H is not one. */
    for (int l = 0; l < s->L && ok; l++) {
        const rnn_dir *d = &m->dirs[l];
        layer *y = &s->lay[l];
        float *wx = rnn_alloc((size_t)s->G * s->Hp * d->in * sizeof(float));
        float *wh = rnn_alloc((size_t)s->G * s->Hp * s->H * sizeof(float));
        ok = wx && wh;
        if (ok) {
            memset(wx, 0, (size_t)s->G * s->Hp * d->in * sizeof(float));
            memset(wh, 0, (size_t)s->G * s->Hp * s->H * sizeof(float));
            for (int g = 0; g < s->G; g++) {
                memcpy(wx + (size_t)g * s->Hp * d->in, d->w.w_ih + (size_t)g * s->H * d->in,
                       sizeof(float) * s->H * d->in);
                memcpy(wh + (size_t)g * s->Hp * s->H, d->w.w_hh + (size_t)g * s->H * s->H,
                       sizeof(float) * s->H * s->H);
            }
            ok = blocks_make(&y->wx, wx, s->G * s->Hp, d->in, weights) == 0 &&
                 blocks_make(&y->wh, wh, s->G * s->Hp, s->H, weights) == 0;
        }
        rnn_free(wx);
        rnn_free(wh);
    }
    ok = ok && blocks_make(&s->head, m->head_w, s->V, m->F, weights) == 0;
    s->emb = rnn_alloc(sizeof(float) * (size_t)c->vocab_size * s->E);
    s->head_b = rnn_alloc(sizeof(float) * s->V);
    s->bias = rnn_alloc(sizeof(float) * 2 * (size_t)s->L * GH);
    size_t nmem = 5 * (size_t)s->L * s->Hp + (size_t)s->head.nblk * BR;
    s->mem = rnn_calloc(sizeof(float) * nmem);
    if (!ok || !s->emb || !s->head_b || !s->bias || !s->mem) {
        rnn_stepper_free(s);
        rnn_errorf("out of memory");
        return NULL;
    }
    memcpy(s->emb, m->emb, sizeof(float) * (size_t)c->vocab_size * s->E);
    memcpy(s->head_b, m->head_b, sizeof(float) * s->V);
    for (int l = 0; l < s->L; l++) {
        float *b = s->bias + (size_t)l * 2 * GH;
        memcpy(b, m->dirs[l].w.b_ih, sizeof(float) * GH);
        memcpy(b + GH, m->dirs[l].w.b_hh, sizeof(float) * GH);
        s->lay[l].b_ih = b;
        s->lay[l].b_hh = b + GH;
    }
    float *p = s->mem;
    size_t LH = (size_t)s->L * s->Hp;
    s->h[0] = p, s->h[1] = p + LH, s->c[0] = p + 2 * LH, s->c[1] = p + 3 * LH, s->out = p + 4 * LH;
    s->logits = p + 5 * LH;
    /* Threads pay from a few hundred thousand weights per token (a team
     * wake-up and barriers cost microseconds). */
    size_t per_token = (size_t)s->G * s->Hp * (s->E + (size_t)s->H * (2 * s->L - 1));
    s->nt = per_token >= 200000 ? rnn_get_threads() : 1;
    if (s->nt > s->nub) s->nt = s->nub;
    if (s->nt < 1) s->nt = 1;
    return s;
}

void rnn_stepper_reset(rnn_stepper *s) {
    memset(s->mem, 0, sizeof(float) * 4 * (size_t)s->L * s->Hp);
    s->cur = 0;
}

/* Layer l for units [16 u0, 16 u1): every gate's blocks of those units, then
 * the cell (recurrent.h) on them. x: the layer's input; hp/cp: the state
 * before, hn/cn after; out: the layer's output (h + x when residual). */
static void layer_units(const rnn_stepper *s, int l, int u0, int u1, const float *x, const float *hp,
                        const float *cp, float *hn, float *cn, float *out, int residual) {
    const layer *y = &s->lay[l];
    const int H = s->H, G = s->G, nub = s->nub;
    for (int u = u0; u < u1; u++) {
        const int j0 = u * BR, n = H - j0 < BR ? H - j0 : BR;
        float gx[4][BR] __attribute__((aligned(64))), gh[4][BR] __attribute__((aligned(64)));
        for (int g = 0; g < G; g++) {
            vf vx = block_dot(&y->wx, g * nub + u, x), vh_ = block_dot(&y->wh, g * nub + u, hp);
            memcpy(gx[g], &vx, sizeof vx);
            memcpy(gh[g], &vh_, sizeof vh_);
        }
        float ghn[BR];
        switch (s->cell) {
        case RNN_CELL_LSTM:
            for (int g = 0; g < 4; g++)
                for (int j = 0; j < n; j++)
                    gx[g][j] += gh[g][j] + y->b_ih[g * H + j0 + j] + y->b_hh[g * H + j0 + j];
            rnn_lstm_row_forward(n, gx[0], gx[1], gx[2], gx[3], cp + j0, cn + j0, hn + j0);
            break;
        case RNN_CELL_GRU:
            for (int g = 0; g < 3; g++)
                for (int j = 0; j < n; j++) gx[g][j] += y->b_ih[g * H + j0 + j];
            rnn_gru_row_forward(n, gx[0], gx[1], gx[2], gh[0], gh[1], gh[2], 1.0f, y->b_hh + j0,
                                y->b_hh + H + j0, y->b_hh + 2 * H + j0, hp + j0, ghn, hn + j0);
            break;
        default:
            for (int j = 0; j < n; j++) gx[0][j] += y->b_ih[j0 + j];
            rnn_rnn_row_forward(n, s->cell == RNN_CELL_RNN_RELU, gx[0], gh[0], 1.0f, y->b_hh + j0,
                                hn + j0);
        }
        for (int j = 0; j < n; j++) out[j0 + j] = residual ? hn[j0 + j] + x[j0 + j] : hn[j0 + j];
    }
}

/* Thread t of nt: its share of one token (layers, then the head). */
static void token_part(rnn_stepper *s, const float *x0, int t, int nt) {
    const int cur = s->cur, nxt = !cur, Hp = s->Hp;
    const float *x = x0;
    for (int l = 0; l < s->L; l++) {
        const int u0 = s->nub * t / nt, u1 = s->nub * (t + 1) / nt;
        const int residual = s->cfg.residual && l > 0; /* widths match: H in and out */
        layer_units(s, l, u0, u1, x, s->h[cur] + (size_t)l * Hp, s->c[cur] + (size_t)l * Hp,
                    s->h[nxt] + (size_t)l * Hp, s->c[nxt] + (size_t)l * Hp,
                    s->out + (size_t)l * Hp, residual);
        x = s->out + (size_t)l * Hp;
#ifdef _OPENMP
        if (nt > 1) {
#pragma omp barrier
        }
#endif
    }
    const int b0 = s->head.nblk * t / nt, b1 = s->head.nblk * (t + 1) / nt;
    for (int b = b0; b < b1; b++) {
        vf v = block_dot(&s->head, b, x);
        memcpy(s->logits + (size_t)b * BR, &v, sizeof v);
    }
}

const float *rnn_stepper_feed(rnn_stepper *s, int32_t id) {
    const float *x0 = s->emb + (size_t)id * s->E;
#ifdef _OPENMP
    if (s->nt > 1) {
#pragma omp parallel num_threads(s->nt)
        token_part(s, x0, omp_get_thread_num(), omp_get_num_threads());
    } else
#endif
    {
        token_part(s, x0, 0, 1);
    }
    for (int v = 0; v < s->V; v++) s->logits[v] += s->head_b[v];
    s->cur = !s->cur;
    return s->logits;
}
