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

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "recurrent.h"
#include "simd.h"
#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define BR 16

/* A matrix in interleaved blocks, fp32 or bf16. */
typedef struct {
    int rows, K, nblk;
    float *w;     /* fp32: nblk * K * BR */
    uint16_t *h;  /* bf16: nblk * K * BR */
} blocks;

size_t rnn_blocks_floats(int rows, int K) { return (size_t)((rows + BR - 1) / BR) * K * BR; }

void rnn_blocks_pack(float *restrict w, const float *restrict W, int rows, int K) {
    /* Block b is the 16-wide panel of W^T at rows 16b.., transposed 16 x 16
     * (AVX-512) in registers: 4x faster than value by value, which matters
     * where a text's W_hh is copied for every text. */
    for (int blk = 0; blk * BR < rows; blk++)
        rnn_transpose_panel(K, rows - blk * BR < BR ? rows - blk * BR : BR, BR, W, K, blk * BR,
                            w + (size_t)blk * K * BR);
}


static void blocks_pack_bf16(uint16_t *restrict h, const float *restrict W, int rows, int K);

static int blocks_make(blocks *b, const float *W, int rows, int K, rnn_precision p) {
    b->rows = rows, b->K = K, b->nblk = (rows + BR - 1) / BR;
    size_t n = rnn_blocks_floats(rows, K);
    b->w = NULL, b->h = NULL;
    if (p == RNN_BF16) {
        if (!(b->h = rnn_alloc(n * sizeof(uint16_t)))) return -1;
    } else if (!(b->w = rnn_alloc(n * sizeof(float)))) {
        return -1;
    }
    if (b->h)
        blocks_pack_bf16(b->h, W, rows, K);
    else
        rnn_blocks_pack(b->w, W, rows, K);
    return 0;
}

static void blocks_free(blocks *b) {
    rnn_free(b->w);
    rnn_free(b->h);
}

/* 16 rows of W times x: w (or h, bf16) points at one block, K columns of 16
 * values. Four accumulators hide the multiply-add latency; bf16 weights
 * widen to fp32 in registers (a 16-bit shift or mask: PAIR_LOOP), so only the bytes read
 * change. The loop prefetches PF bytes ahead: the weights of a token are laid
 * out in the order they are read (see layer below), so that is the next
 * thing needed, and it lifts the stream from L3 by ~20% over the hardware
 * prefetcher alone (measured on Zen 5). */
#ifndef PF
#define PF 2048
#endif
/* Vectors of the machine's own width (simd.h; NW floats: AVX-512 16, AVX 8,
 * SSE 4): a block's 16 values are NS of them. */
#define NW RNN_VW
#define NS (BR / NW)
typedef rnn_vf vn;
typedef uint32_t vnu32 __attribute__((vector_size(NW * 4)));
typedef uint16_t vnh_u __attribute__((vector_size(NW * 2), aligned(2), may_alias));
/* KU columns at a time, each into its own NS accumulators: 4 with AVX-512
 * (4 x 1), 8 with AVX (4 x 2), 8 with SSE (2 x 4), within the 16 registers
 * with room for the loads. */
#define KU (NS <= 2 ? 4 : 2)
/* bf16 to fp32: one zero-extending load and a shift (GCC's convertvector
 * takes five). */
#if NW == 16
#define WIDEN(p) ((vn)_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#elif defined(__AVX2__) && NW == 8
#define WIDEN(p) ((vn)_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#else
#define WIDEN(p) ((vn)(__builtin_convertvector(*(const vnh_u *)(p), vnu32) << 16))
#endif
/* Columns a dot16 or dotg16 loop takes at a time, each into its own
 * accumulators: GU_OF(G) for G gates (dot16: 1 gate, KU), and for bf16
 * weights PGU_OF(G), a whole number of pairs (PAIR_LOOP). */
#define GU_OF(G) ((G) == 1 ? KU : (NS == 1 ? 2 : 1))
#define PGU_OF(G) (GU_OF(G) < 2 ? 2 : GU_OF(G))
typedef uint32_t vnu32_u __attribute__((vector_size(NW * 4), aligned(2), may_alias));

/* Where a bf16 stream keeps column k's weight of gate g, unit row r, in a
 * run of K columns of G gates read PGU columns at a time: within each PGU
 * columns, in pairs of columns (k, k + 1) whose two weights of a row sit
 * side by side, one 32-bit lane (PAIR_LOOP); past the last whole PGU, one
 * column at a time, as fp32 streams are laid out (G x 16 a column). */
static int pgu_of(int G) { return PGU_OF(G); }
static size_t bf16_at(int k, int g, int r, int K, int G, int PGU) {
    if (k >= K / PGU * PGU) return ((size_t)k * G + g) * BR + r;
    const int q = k % PGU;
    return (size_t)(k - q) * G * BR + (((size_t)(q / 2) * G + g) * BR + r) * 2 + (q & 1);
}

/* rnn_blocks_pack's blocks with each weight rounded to bf16 (the stepper's
 * bf16 weights) in bf16_at's pairs (dot16: 1 gate, KU columns at a time),
 * value by value: done once per stepper. */
static void blocks_pack_bf16(uint16_t *restrict h, const float *restrict W, int rows, int K) {
    const int nblk = (rows + BR - 1) / BR;
    for (int blk = 0; blk < nblk; blk++)
        for (int k = 0; k < K; k++)
            for (int r = 0; r < BR; r++) {
                const int row = blk * BR + r;
                h[(size_t)blk * K * BR + bf16_at(k, 0, r, K, 1, PGU_OF(1))] =
                    rnn_bf16_round(row < rows ? W[(size_t)row * K + k] : 0.0f);
            }
}

/* bf16 weights at p, PGU columns at a time in pairs (bf16_at): one load of
 * 2 x NW weights is NW lanes of (column k's, column k + 1's), which a shift
 * and a mask make the two columns' fp32 vectors: a load and two integer
 * operations for two vectors, where WIDEN takes a widening load and a shift
 * for each. Column u goes into accumulator ACC(u % GU, g, v): the same
 * products added in the same order as one column at a time, so the same
 * sums. The columns left over go one at a time (WIDEN). On the Zen 4,
 * bf16 2x512 LSTM sampling (4 alternated runs each): 13,450-14,770 ->
 * 16,950-20,340 tokens/s on two threads, 7,700-7,860 -> 10,770-10,880 on
 * one, the logits bit for bit the same. */
#define PAIR_LOOP(p, G, GU, PGU, DO_PF, ACC)                                                       \
    for (; k + PGU <= K; k += PGU, p += PGU * G * BR) {                                            \
        if (DO_PF)                                                                                 \
            for (int b = 0; b < PGU * G * BR * 2; b += 64) __builtin_prefetch((const char *)p + PF + b); \
        _Pragma("GCC unroll 4") for (int q = 0; q < PGU; q += 2) {                                 \
            const vn x0 = rnn_vbcast(x[k + q]), x1 = rnn_vbcast(x[k + q + 1]);                      \
            _Pragma("GCC unroll 4") for (int g = 0; g < G; g++)                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < NS; v++) {                             \
                    const vnu32 two = *(const vnu32_u *)(p + (((q / 2) * G + g) * BR + v * NW) * 2); \
                    ACC(q % GU, g, v) = rnn_vfma((vn)(two << 16), x0, ACC(q % GU, g, v));          \
                    ACC((q + 1) % GU, g, v) = rnn_vfma((vn)(two & 0xFFFF0000u), x1, ACC((q + 1) % GU, g, v)); \
                }                                                                                  \
        }                                                                                          \
    }
/* dot16's loop over the weights at p, read by LOAD (fp32, or bf16 widened)
 * at ESZ bytes each; KU columns at a time, then the rest one by one. */
#define DOT16_LOOP(p, LOAD, ESZ)                                                                   \
    for (; k + KU <= K; k += KU, p += KU * BR) {                                                   \
        for (int b = 0; b < KU * BR * (ESZ); b += 64) __builtin_prefetch((const char *)p + PF + b); \
        _Pragma("GCC unroll 4") for (int u = 0; u < KU; u++) {                                     \
            const vn xk = rnn_vbcast(x[k + u]);                                                    \
            _Pragma("GCC unroll 4") for (int v = 0; v < NS; v++)                                   \
                acc[u][v] = rnn_vfma(LOAD(p + u * BR + v * NW), xk, acc[u][v]);                    \
        }                                                                                          \
    }                                                                                              \
    for (; k < K; k++, p += BR)                                                                    \
        for (int v = 0; v < NS; v++) acc[0][v] = rnn_vfma(LOAD(p + v * NW), rnn_vbcast(x[k]), acc[0][v]);
static void dot16(const float *w, const uint16_t *h, int K, const float *x, float *out) {
    vn acc[KU][NS];
    for (int u = 0; u < KU; u++)
        for (int v = 0; v < NS; v++) acc[u][v] = (vn){0};
    int k = 0;
    if (w) {
        DOT16_LOOP(w, rnn_vload, 4)
    } else {
#define ACC16(u, g, v) acc[u][v]
        PAIR_LOOP(h, 1, KU, PGU_OF(1), 1, ACC16)
#undef ACC16
        DOT16_LOOP(h, WIDEN, 2)
    }
    for (int v = 0; v < NS; v++) {
        /* the KU partial sums pairwise: (a0 + a1) + (a2 + a3) */
        vn sum = KU == 4 ? (acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v]) : acc[0][v] + acc[1][v];
        rnn_vstore(out + v * NW, sum);
    }
}

/* The G gate blocks of a unit block at once: w (or h) holds, for each
 * column k, gate 0's 16 values, then gate 1's, ...; out gets G x 16 sums.
 * One broadcast of x[k] serves G multiply-adds, so a token issues about
 * half the loads dot16 does over the same weights, which leaves the core
 * more room to keep the stream from L3 going. GU columns at a time, each
 * into its own G x NS accumulators (GU * G * NS <= 8 with AVX-512 and AVX). */
#define DOTG_LOOP(p, LOAD, ESZ, G, GU)                                                            \
    for (; k + GU <= K; k += GU, p += GU * G * BR) {                                               \
        if (pf)                                                                                    \
            for (int b = 0; b < GU * G * BR * (ESZ); b += 64) __builtin_prefetch((const char *)p + PF + b); \
        _Pragma("GCC unroll 4") for (int u = 0; u < GU; u++) {                                     \
            const vn xk = rnn_vbcast(x[k + u]);                                                    \
            _Pragma("GCC unroll 4") for (int g = 0; g < G; g++)                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < NS; v++)                               \
                    acc[u][g][v] = rnn_vfma(LOAD(p + (u * G + g) * BR + v * NW), xk, acc[u][g][v]); \
        }                                                                                          \
    }                                                                                              \
    for (; k < K; k++, p += G * BR) {                                                              \
        const vn xk = rnn_vbcast(x[k]);                                                            \
        for (int g = 0; g < G; g++)                                                                \
            for (int v = 0; v < NS; v++) acc[0][g][v] = rnn_vfma(LOAD(p + g * BR + v * NW), xk, acc[0][g][v]); \
    }
#define DOTG(NAME, G, GU)                                                                          \
    static void NAME(const float *w, const uint16_t *h, int K, const float *x, float *out, int pf) { \
        vn acc[GU][G][NS];                                                                         \
        for (int u = 0; u < GU; u++)                                                               \
            for (int g = 0; g < G; g++)                                                            \
                for (int v = 0; v < NS; v++) acc[u][g][v] = (vn){0};                               \
        int k = 0;                                                                                 \
        if (w) {                                                                                   \
            DOTG_LOOP(w, rnn_vload, 4, G, GU)                                                      \
        } else {                                                                                   \
            PAIR_LOOP(h, G, GU, PGU_OF(G), pf, ACCG)                                               \
            DOTG_LOOP(h, WIDEN, 2, G, GU)                                                          \
        }                                                                                          \
        for (int g = 0; g < G; g++)                                                                \
            for (int v = 0; v < NS; v++) {                                                         \
                vn sum = acc[0][g][v];                                                             \
                for (int u = 1; u < GU; u++) sum += acc[u][g][v];                                  \
                rnn_vstore(out + g * BR + v * NW, sum);                                            \
            }                                                                                      \
    }
/* LSTM (4 gates), GRU (3), RNN (1): 8, 6 and 4 accumulators with AVX-512. */
#define ACCG(u, g, v) acc[u][g][v]
DOTG(dotg4, 4, GU_OF(4))
DOTG(dotg3, 3, GU_OF(3))
DOTG(dotg1, 1, GU_OF(1))
#undef ACCG
static void dotg16(int G, const float *w, const uint16_t *h, int K, const float *x, float *out, int pf) {
    if (G == 4)
        dotg4(w, h, K, x, out, pf);
    else if (G == 3)
        dotg3(w, h, K, x, out, pf);
    else
        dotg1(w, h, K, x, out, pf);
}
#undef DOTG
#undef DOTG_LOOP
#undef PAIR_LOOP
#undef DOT16_LOOP
#undef WIDEN
#undef KU
#undef NS
#undef NW

void rnn_blocks_gemv(const float *w, int rows, int K, const float *x, float *y, int r0, int r1) {
    if (r1 > rows) r1 = rows;
    for (int blk = r0 / BR; blk * BR < r1; blk++) {
        const int a = blk * BR, lo = a > r0 ? a : r0, hi = a + BR < r1 ? a + BR : r1;
        const float *wb = w + (size_t)blk * K * BR;
        if (lo == a && hi == a + BR) {
            dot16(wb, NULL, K, x, y + a);
        } else { /* part of a block: its 16 sums, then the rows asked for */
            float t[BR];
            dot16(wb, NULL, K, x, t);
            memcpy(y + lo, t + (lo - a), sizeof(float) * (hi - lo));
        }
    }
}

/* Rows 16*blk .. 16*blk+15 of a matrix in blocks, into out. */
static void blocks_dot(const blocks *b, int blk, const float *x, float *out) {
    size_t at = (size_t)blk * b->K * BR;
    dot16(b->w ? b->w + at : NULL, b->h ? b->h + at : NULL, b->K, x, out);
}

/* A recurrent layer's weights in the order a token reads them: for each
 * block u of 16 units, W_ih's rows g*H + 16u .. g*H + 16u + 15 of every gate
 * g, column by column (for k < in: gate 0's 16 values at column k, gate 1's,
 * ...; dotg16's layout; a bf16 stream in bf16_at's pairs of columns), then
 * the same rows of W_hh (H columns).
 * The units a thread owns are then one contiguous stream, which the
 * prefetch in dot16 runs ahead on. Layer 0 of a model whose vocabulary is
 * small next to its embedding (a char model) reads no W_ih at all: its input
 * projection of every token id is a table computed once (the same dot16 on
 * the same weights, so the same values), and a token reads one row of it. */
typedef struct {
    int in;          /* W_ih columns in the stream; 0 with a table */
    size_t ustride;  /* elements per unit block: G * (in + H) * BR */
    float *w;        /* fp32 stream, or NULL */
    uint16_t *h;     /* bf16 stream, or NULL */
    float *table;    /* (V, G * Hp): W_ih times each embedding row, or NULL */
    const float *bx; /* (G * Hp) the input side's bias: b_ih, + b_hh for an LSTM; 0 past H */
    const float *b_hh; /* (G * H) */
} layer;

/* The stream of layer y from W (G*H, in) and U (G*H, H); in = 0 leaves W out. */
static int layer_make(layer *y, const float *W, int in, const float *U, int G, int H, int nub,
                      rnn_precision p) {
    y->in = in;
    y->ustride = (size_t)G * (in + H) * BR;
    size_t n = (size_t)nub * y->ustride, at = 0;
    y->w = NULL, y->h = NULL;
    if (p == RNN_BF16) {
        if (!(y->h = rnn_alloc(n * sizeof(uint16_t)))) return -1;
    } else if (!(y->w = rnn_alloc(n * sizeof(float)))) {
        return -1;
    }
    for (int u = 0; u < nub; u++)
        for (int part = 0; part < 2; part++) {
            const float *src = part ? U : W;
            const int K = part ? H : in;
            for (int k = 0; k < K; k++)
                for (int g = 0; g < G; g++)
                    for (int r = 0; r < BR; r++) {
                        int unit = u * BR + r;
                        float v = unit < H ? src[((size_t)g * H + unit) * K + k] : 0.0f;
                        if (y->h)
                            y->h[at + bf16_at(k, g, r, K, G, pgu_of(G))] = rnn_bf16_round(v);
                        else
                            y->w[at + ((size_t)k * G + g) * BR + r] = v;
                    }
            at += (size_t)K * G * BR;
        }
    return 0;
}

struct rnn_stepper {
    rnn_config cfg;
    int L, G, H, E, V, nub, nt;
    rnn_cell cell;
    layer lay[RNN_MAX_LAYERS];
    blocks head;
    const float *emb;            /* m's own (vocab, E): a token's row is read as it is */
    float *head_b, *bias;        /* copies: (V), all layers' bx, b_hh */
    float *mem;                 /* state and scratch, one block */
    float *h[2], *c[2];         /* (L, Hp) each: the state before / after a token */
    float *out;                 /* (L, Hp) each layer's output (h, or h + input when residual) */
    float *logits;              /* (Vp) */
    float *r0;                  /* (nub, G, 16) W_hh0 h[cur]'s layer 0: its recurrent sums, ahead */
    int cur;                    /* h[cur], c[cur]: the current state */
    int Hp;
    int pf;                     /* the layers' streams prefetch in software (prefetch_start) */
    int bf16;                   /* the weights are bf16 */
    int pf_trial;               /* tokens into the prefetch trial, or -1: none (prefetch_trial) */
    double pf_best[2], pf_block; /* the trial's fastest block each way; this block's time so far */
    int back;                   /* this token walks its units from the last (token_part) */
};

void rnn_stepper_free(rnn_stepper *s) {
    if (!s) return;
    for (int l = 0; l < s->L; l++) {
        rnn_free(s->lay[l].w);
        rnn_free(s->lay[l].h);
        rnn_free(s->lay[l].table);
    }
    blocks_free(&s->head);
    rnn_free(s->head_b);
    rnn_free(s->bias);
    rnn_free(s->mem);
    free(s);
}

/* Layer 0's input projection of every token id: (V, G * Hp). */
static float *input_table(const rnn_stepper *s, const float *w_ih, const float *emb, rnn_precision p) {
    const int G = s->G, H = s->H, Hp = s->Hp, E = s->E, V = s->cfg.vocab_size;
    float *padded = rnn_calloc(sizeof(float) * (size_t)G * Hp * E);
    float *table = rnn_alloc(sizeof(float) * (size_t)V * G * Hp);
    blocks b = {0};
    int ok = padded && table;
    if (ok) {
        for (int g = 0; g < G; g++)
            memcpy(padded + (size_t)g * Hp * E, w_ih + (size_t)g * H * E, sizeof(float) * H * E);
        ok = blocks_make(&b, padded, G * Hp, E, p) == 0;
    }
    if (ok)
        for (int v = 0; v < V; v++)
            for (int blk = 0; blk < b.nblk; blk++) {
                blocks_dot(&b, blk, emb + (size_t)v * E, table + ((size_t)v * G * Hp + (size_t)blk * BR));
            }
    blocks_free(&b);
    rnn_free(padded);
    if (!ok) {
        rnn_free(table);
        return NULL;
    }
    return table;
}

/* Whether the layers' streams should prefetch in software, a property of
 * the CPU: on a Zen 5, 2 KB ahead read the weights from L3 ~20% faster than
 * its hardware prefetcher alone; on a Zen 4 the same prefetches made fp32
 * sampling 15-25% slower (2x512 LSTM: 5,830 against 4,860 tokens/s on one
 * thread, 11,000-12,200 against 8,500-9,700 on two) and bf16 sampling ~9%
 * faster. So the first stepper of a process whose streams outgrow a core's
 * L2 (4 MB and more) times its own first tokens: after one block of
 * PF_BLOCK tokens to warm up, PF_ROUNDS blocks each way, alternated, and the
 * process keeps the way whose fastest block was faster, per weight
 * precision. Real tokens on the real team of threads: a one-thread pass over
 * the weights, timed three times each way when the stepper was made (what
 * this replaced), chose wrong in 3 of 16 processes here. A smaller
 * model prefetches. Timing decides only the speed: the sums are the same. */
#define PF_TRIAL_BYTES ((size_t)4 << 20)
#define PF_BLOCK 8
#define PF_ROUNDS 4
static _Atomic int stream_pf[2] = {-1, -1}; /* fp32, bf16: -1 not decided yet */

/* The stepper's prefetch, or its trial (pf_trial 0) when its precision's
 * is not decided yet. */
static void prefetch_start(rnn_stepper *s) {
    size_t bytes = 0;
    for (int l = 0; l < s->L; l++) bytes += (size_t)s->nub * s->lay[l].ustride * (s->bf16 ? 2 : 4);
    const int known = stream_pf[s->bf16];
    s->pf = bytes < PF_TRIAL_BYTES ? 1 : known >= 0 ? known : 0;
    s->pf_trial = bytes >= PF_TRIAL_BYTES && known < 0 ? 0 : -1;
    s->pf_best[0] = s->pf_best[1] = INFINITY;
    s->pf_block = 0;
}

/* One token of the trial took dt seconds. */
static void prefetch_trial(rnn_stepper *s, double dt) {
    s->pf_block += dt;
    if (++s->pf_trial % PF_BLOCK) return;
    if (s->pf_trial > PF_BLOCK) { /* (the first block warms up) */
        if (s->pf_block < s->pf_best[s->pf]) s->pf_best[s->pf] = s->pf_block;
        s->pf = !s->pf;
    }
    s->pf_block = 0;
    if (s->pf_trial < PF_BLOCK * (1 + 2 * PF_ROUNDS)) return;
    int undecided = -1; /* the first stepper to decide decides for the process */
    atomic_compare_exchange_strong(&stream_pf[s->bf16], &undecided, s->pf_best[1] < s->pf_best[0]);
    s->pf = stream_pf[s->bf16];
    s->pf_trial = -1;
}

/* The threads a token runs on: they pay from a few hundred thousand weights
 * per token (a team wake-up and barriers cost microseconds). */
static void stepper_threads(rnn_stepper *s) {
    const size_t per_token = (size_t)s->G * s->Hp * (s->E + (size_t)s->H * (2 * s->L - 1));
    s->nt = per_token >= 200000 ? rnn_get_threads() : 1;
    if (s->nt > s->nub) s->nt = s->nub;
    if (s->nt < 1) s->nt = 1;
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
    /* The table costs V rows where W_ih has E columns: worth it while it is
     * no bigger than twice what it replaces. */
    const int table = c->vocab_size <= 2 * s->E;
    int ok = 1;
    for (int l = 0; l < s->L && ok; l++) {
        const rnn_dir *d = &m->dirs[l];
        layer *y = &s->lay[l];
        if (l == 0 && table) ok = (y->table = input_table(s, d->w.w_ih, m->emb, weights)) != NULL;
        ok = ok && layer_make(y, d->w.w_ih, y->table ? 0 : d->in, d->w.w_hh, s->G, s->H, s->nub,
                              weights) == 0;
    }
    ok = ok && blocks_make(&s->head, m->head_w, s->V, m->F, weights) == 0;
    s->emb = m->emb; /* (not copied: a word model's is most of the file) */
    s->head_b = rnn_alloc(sizeof(float) * s->V);
    const size_t nbias = (size_t)s->G * s->Hp + GH; /* per layer */
    s->bias = rnn_calloc(sizeof(float) * s->L * nbias);
    size_t nmem = 5 * (size_t)s->L * s->Hp + (size_t)s->G * s->Hp + (size_t)s->head.nblk * BR;
    s->mem = rnn_calloc(sizeof(float) * nmem);
    if (!ok || !s->head_b || !s->bias || !s->mem) {
        rnn_stepper_free(s);
        rnn_errorf("out of memory");
        return NULL;
    }
    memcpy(s->head_b, m->head_b, sizeof(float) * s->V);
    for (int l = 0; l < s->L; l++) {
        const rnn_dir_weights *w = &m->dirs[l].w;
        float *bx = s->bias + l * nbias, *bh = bx + (size_t)s->G * s->Hp;
        const int lstm = s->cell == RNN_CELL_LSTM;
        for (int g = 0; g < s->G; g++)
            for (int j = 0; j < s->H; j++)
                bx[g * s->Hp + j] = w->b_ih[g * s->H + j] + (lstm ? w->b_hh[g * s->H + j] : 0.0f);
        memcpy(bh, w->b_hh, sizeof(float) * GH);
        s->lay[l].bx = bx;
        s->lay[l].b_hh = bh;
    }
    float *p = s->mem;
    size_t LH = (size_t)s->L * s->Hp;
    s->h[0] = p, s->h[1] = p + LH, s->c[0] = p + 2 * LH, s->c[1] = p + 3 * LH;
    s->r0 = p + 4 * LH;
    s->out = s->r0 + (size_t)s->G * s->Hp;
    s->logits = s->out + LH;
    stepper_threads(s);
    s->bf16 = weights == RNN_BF16;
    prefetch_start(s);
    return s;
}

void rnn_stepper_reset(rnn_stepper *s) {
    /* h, c and r0 (W_hh0 times a zero h: zeros) */
    memset(s->mem, 0, sizeof(float) * (4 * (size_t)s->L * s->Hp + (size_t)s->G * s->Hp));
    s->cur = 0;
    const int nt = s->nt;
    stepper_threads(s); /* the process's count now (rnn_threads may have changed it) */
    if (s->pf_trial > 0 && s->nt != nt) prefetch_start(s); /* (a trial's blocks compare one team) */
}

/* Layer l's unit block u (units 16u .. 16u+15): every gate's sums of those
 * units, then the cell (recurrent.h) on them. x: the layer's input (id: the
 * token, for layer 0's table); hp/cp: the state before, hn/cn after; out:
 * the layer's output (h + x when residual); rec: the recurrent side's G x 16
 * sums when they were made ahead (layer 0's, r0), or NULL to make them. */
static void layer_unit(const rnn_stepper *s, int l, int u, int32_t id, const float *x, const float *hp,
                       const float *cp, float *hn, float *cn, float *out, int residual, const float *rec) {
    const layer *y = &s->lay[l];
    const int H = s->H, G = s->G;
    const float *row = y->table ? y->table + (size_t)id * G * s->Hp : NULL;
    const int j0 = u * BR, n = H - j0 < BR ? H - j0 : BR;
    float gx[4][BR] __attribute__((aligned(64))), gh[4][BR] __attribute__((aligned(64)));
    size_t at = (size_t)u * y->ustride;
    /* gx: the input side plus bx; gh: the recurrent side, kept apart
     * for the GRU (r scales it) and the RNN (the row function adds
     * b_hh), added in for the LSTM. */
    if (!row) {
        dotg16(G, y->w ? y->w + at : NULL, y->h ? y->h + at : NULL, y->in, x, gx[0], s->pf);
        at += (size_t)G * y->in * BR;
    }
    if (rec)
        memcpy(gh, rec, sizeof(float) * G * BR);
    else
        dotg16(G, y->w ? y->w + at : NULL, y->h ? y->h + at : NULL, H, hp, gh[0], s->pf);
    for (int g = 0; g < G; g++) {
        const size_t gj = (size_t)g * s->Hp + j0;
        const float *in = row ? row + gj : gx[g]; /* the input side before bx */
        for (int r = 0; r < BR; r++) gx[g][r] = y->bx[gj + r] + in[r];
        if (s->cell == RNN_CELL_LSTM)
            for (int r = 0; r < BR; r++) gx[g][r] += gh[g][r];
    }
    float ghn[BR];
    switch (s->cell) {
    case RNN_CELL_LSTM:
        rnn_lstm_row_forward(n, gx[0], gx[1], gx[2], gx[3], cp + j0, cn + j0, hn + j0);
        break;
    case RNN_CELL_GRU:
        rnn_gru_row_forward(n, gx[0], gx[1], gx[2], gh[0], gh[1], gh[2], 1.0f, y->b_hh + j0,
                            y->b_hh + H + j0, y->b_hh + 2 * H + j0, hp + j0, ghn, hn + j0);
        break;
    default:
        rnn_vanilla_row_forward(n, s->cell == RNN_CELL_RNN_RELU, gx[0], gh[0], 1.0f, y->b_hh + j0,
                                hn + j0);
    }
    for (int j = 0; j < n; j++) out[j0 + j] = residual ? hn[j0 + j] + x[j0 + j] : hn[j0 + j];
}

/* r0's unit block u: W_hh0's rows of those units times layer 0's new h, the
 * recurrent sums the next token's layer 0 starts from (the same dotg16 on
 * the same weights as layer_unit would run then, so the same values). */
static void r0_unit(const rnn_stepper *s, int u, const float *h0) {
    const layer *y = &s->lay[0];
    const size_t at = (size_t)u * y->ustride + (size_t)s->G * y->in * BR;
    dotg16(s->G, y->w ? y->w + at : NULL, y->h ? y->h + at : NULL, s->H, h0, s->r0 + (size_t)u * s->G * BR,
           s->pf);
}

/* Thread t of nt: its share of one token (layers, then the head), its units
 * [u0, u1) of every layer. Layer 0's recurrent sums were made by the token
 * before (r0), so layer 0 reads no W_hh0 and its new h feeds two things at
 * once: layer 1 (W_ih1, with W_hh1 and layer 1's old h) and r0 for the next
 * token (W_hh0), one pass over a thread's whole share of the weights (the
 * head, for a one-layer model). Every other token walks that pass from its
 * last unit block, so it starts on the blocks the token before read last,
 * still in the core's L2: fewer bytes from L3. Only the order of whole
 * blocks changes: the sums are the same. Measured on the Zen 4 (fp32 2x512
 * LSTM sampling, 12 alternated runs each): one thread 6% faster (5,750
 * against 5,410 tokens/s, medians), two the same (11,440 against 11,410):
 * there each core's fills, from L2 or L3 alike, are the limit. */
static void token_part(rnn_stepper *s, int32_t id, int t, int nt) {
    const int cur = s->cur, nxt = !cur, Hp = s->Hp, L = s->L;
    const int u0 = s->nub * t / nt, u1 = s->nub * (t + 1) / nt, n = u1 - u0, back = s->back;
    const float *x = s->emb + (size_t)id * s->E, *h0 = s->h[nxt];
    for (int l = 0; l < L; l++) {
        const int residual = s->cfg.residual && l > 0; /* widths match: H in and out */
        const size_t lo = (size_t)l * Hp;
        for (int i = 0; i < n; i++) {
            const int u = back ? u1 - 1 - i : u0 + i;
            if (l == 1 && back) r0_unit(s, u, h0);
            layer_unit(s, l, u, id, x, s->h[cur] + lo, s->c[cur] + lo, s->h[nxt] + lo, s->c[nxt] + lo,
                       s->out + lo, residual, l == 0 ? s->r0 + (size_t)u * s->G * BR : NULL);
            if (l == 1 && !back) r0_unit(s, u, h0);
        }
        x = s->out + lo;
#ifdef _OPENMP
        if (nt > 1) {
#pragma omp barrier
        }
#endif
    }
    const int b0 = s->head.nblk * t / nt, b1 = s->head.nblk * (t + 1) / nt;
    for (int b = b0; b < b1; b++) blocks_dot(&s->head, b, x, s->logits + (size_t)b * BR);
    if (L == 1)
        for (int i = 0; i < n; i++) r0_unit(s, back ? u1 - 1 - i : u0 + i, h0);
}

const float *rnn_stepper_feed(rnn_stepper *s, int32_t id) {
    const double t0 = s->pf_trial >= 0 ? rnn_now() : 0;
#ifdef _OPENMP
    if (s->nt > 1) {
#pragma omp parallel num_threads(s->nt)
        token_part(s, id, omp_get_thread_num(), omp_get_num_threads());
    } else
#endif
    {
        token_part(s, id, 0, 1);
    }
    for (int v = 0; v < s->V; v++) s->logits[v] += s->head_b[v];
    s->cur = !s->cur;
    s->back = !s->back;
    if (s->pf_trial >= 0) prefetch_trial(s, rnn_now() - t0);
    return s->logits;
}

void rnn_stepper_set_prefetch(rnn_stepper *s, int pf) {
    s->pf = pf != 0;
    s->pf_trial = -1;
}

int rnn_stepper_prefetch(const rnn_stepper *s) { return s->pf_trial >= 0 ? -1 : s->pf; }

const float *rnn_stepper_top(const rnn_stepper *s) { return s->out + (size_t)(s->L - 1) * s->Hp; }
