/* gemm.c: see gemm.h.
 *
 * The built-in kernel follows the BLIS/GotoBLAS structure (Van Zee & van de
 * Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality",
 * TOMS 2015), transposed for row-major C so that vectors run along N:
 *
 *   for jc in N step NC:                      B block kc x nc packed, lives in L2
 *     for pc in K step KC:
 *       pack B block into NR-wide slivers     Bp[k][0..NR)
 *       for ir in M step MR:
 *         pack A micro-panel (MR x kc)        Ap[k][0..MR), stays in L1
 *         for jr in nc step NR:
 *           micro-kernel: MR x NR tile of C += Ap @ Bp sliver
 *
 * The micro-kernel keeps MR x NR accumulators in registers: per k it loads
 * NR/VW vectors of B and broadcasts MR scalars of A. Threads split C into a
 * grid of sub-blocks (one per thread) and run that loop nest independently,
 * each with its own packing buffer.
 *
 * Two shapes skip packing: small M with B not transposed reads B in place
 * (the packed copy would be used only M/MR times), and small M with B
 * transposed uses a dot-product kernel along K (C = h @ W^T, the recurrent
 * step), which needs no transposition at all. M == 1 or N == 1 is a
 * matrix-vector product and gets its own loop.
 */
#include "gemm.h"

#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__) || defined(__AVX__) || defined(__FMA__)
#include <immintrin.h>
#endif
#ifdef RNN_HAVE_DNNL
#include <dnnl.h>
#endif
#ifdef RNN_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* ---------------------------------------------------------------------------
 * Backend selection and thread count
 * ------------------------------------------------------------------------- */

enum { BACKEND_BUILTIN, BACKEND_OPENBLAS, BACKEND_DNNL, BACKEND_COUNT };

static const struct {
    const char *name;
    int compiled;
} backends[BACKEND_COUNT] = {
    [BACKEND_BUILTIN] = {"builtin", 1},
#ifdef RNN_HAVE_OPENBLAS
    [BACKEND_OPENBLAS] = {"openblas", 1},
#else
    [BACKEND_OPENBLAS] = {"openblas", 0},
#endif
#ifdef RNN_HAVE_DNNL
    [BACKEND_DNNL] = {"dnnl", 1},
#else
    [BACKEND_DNNL] = {"dnnl", 0},
#endif
};

/* -1 until first use; then one of the BACKEND_* values. */
static _Atomic int current_backend = -1;
/* 0 until rnn_set_threads is called; then the thread count. */
static _Atomic int current_threads = 0;

static int backend_by_name(const char *name) {
    for (int b = 0; b < BACKEND_COUNT; b++)
        if (strcmp(name, backends[b].name) == 0) return b;
    return -1;
}

static int default_backend(void) {
    int best = BACKEND_BUILTIN;
    for (int b = 0; b < BACKEND_COUNT; b++)
        if (backends[b].compiled) best = b; /* the enum is ordered worst to best */
    const char *env = getenv("RNN_GEMM");
    if (env && *env) {
        int b = backend_by_name(env);
        if (b >= 0 && backends[b].compiled) return b;
        /* A typo here would silently benchmark the wrong library, so say so. */
        fprintf(stderr, "rnn: RNN_GEMM=%s is not a compiled-in backend; using %s\n", env,
                backends[best].name);
    }
    return best;
}

static int backend_now(void) {
    int b = current_backend;
    if (b < 0) {
        /* Racing threads compute the same default; the compare-exchange only
         * keeps a set_backend that happened meanwhile. */
        int expect = -1;
        atomic_compare_exchange_strong(&current_backend, &expect, default_backend());
        b = current_backend;
    }
    return b;
}

const char *rnn_gemm_backend(void) { return backends[backend_now()].name; }

int rnn_gemm_set_backend(const char *name) {
    int b = name ? backend_by_name(name) : -1;
    if (b < 0)
        return rnn_errorf("unknown GEMM backend '%s' (builtin, openblas or dnnl)",
                          name ? name : "(null)");
    if (!backends[b].compiled)
        return rnn_errorf("GEMM backend '%s' was not compiled in (rebuild with it installed)",
                          name);
    current_backend = b;
    return 0;
}

void rnn_set_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    n = 1;
#endif
#ifdef RNN_HAVE_OPENBLAS
    openblas_set_num_threads(n);
#endif
    current_threads = n;
}

int rnn_get_threads(void) {
    int n = current_threads;
#ifdef _OPENMP
    if (n <= 0) n = omp_get_max_threads();
#else
    if (n <= 0) n = 1;
#endif
    return n;
}

/* ---------------------------------------------------------------------------
 * Reference
 * ------------------------------------------------------------------------- */

void rnn_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}

/* ---------------------------------------------------------------------------
 * Built-in kernel: vector type and micro-kernel shape
 * ------------------------------------------------------------------------- */

/* VW floats per vector register; the tile is MR rows x NV vectors. MR * NV
 * accumulators + NV loaded B vectors + 1 broadcast must fit the register file
 * (32 zmm with AVX-512, 16 ymm/xmm otherwise). */
#if defined(__AVX512F__)
#define VW 16
#define MR 8
#define NV 2
#elif defined(__AVX__)
#define VW 8
#define MR 6
#define NV 2
#else
#define VW 4
#define MR 6
#define NV 2
#endif
#define NR (NV * VW)

typedef float vf __attribute__((vector_size(VW * 4)));
/* Same vector, for loads/stores at any float alignment. */
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));

/* Cache blocking: a kc x nc block of packed B (KC*NC*4 bytes) stays in L2, an
 * MR x kc micro-panel of A (MR*KC*4 bytes) in L1. Tuned on Zen 4 (1 MB L2,
 * 32 KB L1d); see bench/bench_gemm.c. */
#ifndef RNN_GEMM_KC
#define RNN_GEMM_KC 256
#endif
#ifndef RNN_GEMM_NC
#define RNN_GEMM_NC 768
#endif
#define KC RNN_GEMM_KC
#define NC (RNN_GEMM_NC / NR * NR)

/* Below this many multiply-adds one thread is faster than waking the team. */
#define PAR_MIN_WORK (1L << 17)
/* Up to this M, B (not transposed) is read in place rather than packed. */
#define SMALL_M_DIRECT_B 64
/* Up to this M, C = A @ B^T uses the dot-product kernel. */
#define SMALL_M_DOT 64

/* The ISO C modes of GCC turn off floating-point contraction, so the FMA is
 * spelled out where the target has one. */
static inline vf vfma(vf a, vf b, vf c) {
#if defined(__AVX512F__)
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__) && VW == 8
    return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

static inline vf vload(const float *p) { return *(const vfu *)p; }
static inline void vstore(float *p, vf v) { *(vfu *)p = v; }
/* x - 0 folds to x exactly (unlike x + 0, which differs for -0), so this is a
 * bare broadcast. */
static inline vf vbcast(float x) { return x - (vf){0}; }

/* ---------------------------------------------------------------------------
 * Per-thread packing buffer
 * ------------------------------------------------------------------------- */

static _Thread_local float *tl_buf;
static _Thread_local size_t tl_cap; /* floats */

/* A buffer of at least n floats owned by the calling thread, or NULL. It is
 * kept for the thread's lifetime so the step loop never allocates. */
static float *thread_buffer(size_t n) {
    if (n <= tl_cap) return tl_buf;
    float *p = rnn_alloc(n * sizeof(float));
    if (!p) return NULL;
    rnn_free(tl_buf);
    tl_buf = p;
    tl_cap = n;
    return p;
}

/* ---------------------------------------------------------------------------
 * Packing
 * ------------------------------------------------------------------------- */

/* Ap[k*MR + r] = op(A)(i0 + r, p0 + k) for r < mr, zero for mr <= r < MR. */
static void pack_a(int trans_a, int mr, int kc, const float *A, int lda, int i0, int p0,
                   float *restrict Ap) {
    if (trans_a) {
        for (int k = 0; k < kc; k++) {
            const float *src = A + (size_t)(p0 + k) * lda + i0;
            float *dst = Ap + (size_t)k * MR;
            int r = 0;
            for (; r < mr; r++) dst[r] = src[r];
            for (; r < MR; r++) dst[r] = 0;
        }
    } else {
        for (int r = 0; r < mr; r++) {
            const float *src = A + (size_t)(i0 + r) * lda + p0;
            for (int k = 0; k < kc; k++) Ap[(size_t)k * MR + r] = src[k];
        }
        for (int r = mr; r < MR; r++)
            for (int k = 0; k < kc; k++) Ap[(size_t)k * MR + r] = 0;
    }
}

/* Packs the kc x nc block of op(B) at (p0, j0) into NR-wide slivers:
 * Bp[s*kc*NR + k*NR + c] = op(B)(p0 + k, j0 + s*NR + c), zero past nc. */
static void pack_b(int trans_b, int kc, int nc, const float *B, int ldb, int p0, int j0,
                   float *restrict Bp) {
    for (int s = 0; s * NR < nc; s++) {
        int w = nc - s * NR < NR ? nc - s * NR : NR;
        float *dst = Bp + (size_t)s * kc * NR;
        if (!trans_b) {
            for (int k = 0; k < kc; k++) {
                const float *src = B + (size_t)(p0 + k) * ldb + j0 + s * NR;
                float *d = dst + (size_t)k * NR;
                if (w == NR) {
                    for (int v = 0; v < NV; v++) vstore(d + v * VW, vload(src + v * VW));
                } else {
                    int c = 0;
                    for (; c < w; c++) d[c] = src[c];
                    for (; c < NR; c++) d[c] = 0;
                }
            }
        } else {
            for (int c = 0; c < w; c++) {
                const float *src = B + (size_t)(j0 + s * NR + c) * ldb + p0;
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + c] = src[k];
            }
            for (int c = w; c < NR; c++)
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + c] = 0;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Micro-kernel
 * ------------------------------------------------------------------------- */

/* C tile (mr x nr, row stride ldc) = alpha * Ap @ Bs + beta * C, where Ap is
 * a packed MR x kc micro-panel and Bs has kc rows of NR floats, bs apart
 * (bs == NR when packed, ldb when read in place). beta == 0 never reads C. */
static void micro_kernel(int kc, const float *restrict Ap, const float *restrict Bs, size_t bs,
                         float *restrict C, int ldc, int mr, int nr, float alpha, float beta) {
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) acc[r][v] = (vf){0};

    for (int k = 0; k < kc; k++) {
        vf b[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) b[v] = vload(Bs + v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            vf a = vbcast(Ap[r]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[r][v] = vfma(a, b[v], acc[r][v]);
        }
        Ap += MR;
        Bs += bs;
    }

    if (mr == MR && nr == NR) {
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            float *c = C + (size_t)r * ldc;
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) {
                vf x = acc[r][v] * alpha;
                if (beta == 0.0f)
                    vstore(c + v * VW, x);
                else if (beta == 1.0f)
                    vstore(c + v * VW, vload(c + v * VW) + x);
                else
                    vstore(c + v * VW, vfma(vload(c + v * VW), vbcast(beta), x));
            }
        }
    } else {
        float t[MR][NR] __attribute__((aligned(64)));
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) *(vf *)&t[r][v * VW] = acc[r][v];
        for (int r = 0; r < mr; r++) {
            float *c = C + (size_t)r * ldc;
            for (int j = 0; j < nr; j++)
                c[j] = alpha * t[r][j] + (beta == 0.0f ? 0.0f : beta * c[j]);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Blocked GEMM on one thread's sub-block
 * ------------------------------------------------------------------------- */

/* Floats of packing buffer gemm_blocked needs. */
static size_t blocked_buffer_floats(void) { return (size_t)KC * NC + (size_t)MR * KC + (size_t)KC * NR; }

static void gemm_blocked(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc,
                         float *buf) {
    float *Bp = buf;                          /* KC x NC packed B block */
    float *Ap = Bp + (size_t)KC * NC;         /* MR x KC A micro-panel */
    float *Bedge = Ap + (size_t)MR * KC;      /* KC x NR: partial sliver of in-place B */
    int direct_b = !tb && M <= SMALL_M_DIRECT_B;

    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            float beta_k = pc == 0 ? beta : 1.0f; /* later k-blocks accumulate */
            int nfull = nc / NR * NR;
            if (!direct_b) {
                pack_b(tb, kc, nc, B, ldb, pc, jc, Bp);
            } else if (nfull < nc) {
                pack_b(0, kc, nc - nfull, B, ldb, pc, jc + nfull, Bedge);
            }
            for (int ir = 0; ir < M; ir += MR) {
                int mr = M - ir < MR ? M - ir : MR;
                pack_a(ta, mr, kc, A, lda, ir, pc, Ap);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    float *c = C + (size_t)ir * ldc + jc + jr;
                    if (!direct_b)
                        micro_kernel(kc, Ap, Bp + (size_t)jr * kc, NR, c, ldc, mr, nr, alpha,
                                     beta_k);
                    else if (nr == NR)
                        micro_kernel(kc, Ap, B + (size_t)pc * ldb + jc + jr, (size_t)ldb, c, ldc,
                                     mr, nr, alpha, beta_k);
                    else
                        micro_kernel(kc, Ap, Bedge, NR, c, ldc, mr, nr, alpha, beta_k);
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Dot-product kernel for C = A @ B^T with small M (no packing)
 * ------------------------------------------------------------------------- */

#define DOT_MI 4 /* rows of A per tile */
#define DOT_NJ 6 /* rows of B per tile */

static inline float hsum(vf v) {
    float s = 0;
    for (int l = 0; l < VW; l++) s += v[l];
    return s;
}

/* C (M x N) = alpha * A (M x K, rows lda apart) @ B^T (B is N x K) + beta C. */
static void gemm_dot(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    int kv = K / VW * VW;
    for (int j0 = 0; j0 < N; j0 += DOT_NJ) {
        int nj = N - j0 < DOT_NJ ? N - j0 : DOT_NJ;
        for (int i0 = 0; i0 < M; i0 += DOT_MI) {
            int mi = M - i0 < DOT_MI ? M - i0 : DOT_MI;
            float out[DOT_MI][DOT_NJ];
            if (mi == DOT_MI && nj == DOT_NJ) {
                vf acc[DOT_MI][DOT_NJ];
                const float *a[DOT_MI], *b[DOT_NJ];
#pragma GCC unroll 8
                for (int i = 0; i < DOT_MI; i++) a[i] = A + (size_t)(i0 + i) * lda;
#pragma GCC unroll 8
                for (int j = 0; j < DOT_NJ; j++) b[j] = B + (size_t)(j0 + j) * ldb;
#pragma GCC unroll 8
                for (int i = 0; i < DOT_MI; i++)
#pragma GCC unroll 8
                    for (int j = 0; j < DOT_NJ; j++) acc[i][j] = (vf){0};
                for (int k = 0; k < kv; k += VW) {
                    vf bv[DOT_NJ];
#pragma GCC unroll 8
                    for (int j = 0; j < DOT_NJ; j++) bv[j] = vload(b[j] + k);
#pragma GCC unroll 8
                    for (int i = 0; i < DOT_MI; i++) {
                        vf av = vload(a[i] + k);
#pragma GCC unroll 8
                        for (int j = 0; j < DOT_NJ; j++) acc[i][j] = vfma(av, bv[j], acc[i][j]);
                    }
                }
                for (int i = 0; i < DOT_MI; i++)
                    for (int j = 0; j < DOT_NJ; j++) {
                        float s = hsum(acc[i][j]);
                        for (int k = kv; k < K; k++) s += a[i][k] * b[j][k];
                        out[i][j] = s;
                    }
            } else {
                for (int i = 0; i < mi; i++) {
                    const float *a = A + (size_t)(i0 + i) * lda;
                    for (int j = 0; j < nj; j++) {
                        const float *b = B + (size_t)(j0 + j) * ldb;
                        vf acc = (vf){0};
                        for (int k = 0; k < kv; k += VW) acc = vfma(vload(a + k), vload(b + k), acc);
                        float s = hsum(acc);
                        for (int k = kv; k < K; k++) s += a[k] * b[k];
                        out[i][j] = s;
                    }
                }
            }
            for (int i = 0; i < mi; i++) {
                float *c = C + (size_t)(i0 + i) * ldc + j0;
                for (int j = 0; j < nj; j++)
                    c[j] = alpha * out[i][j] + (beta == 0.0f ? 0.0f : beta * c[j]);
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Matrix-vector products (M == 1 or N == 1)
 * ------------------------------------------------------------------------- */

/* y[i*incy] = alpha * sum_j X[i*ldx + j] * x[j*incx] + beta * y[i*incy], i < n, j < m:
 * rows of X are contiguous, so each output is a dot product. */
static void gemv_rows(int n, int m, float alpha, const float *X, int ldx, const float *x,
                      int incx, float beta, float *y, int incy, float *xbuf) {
    if (incx != 1) {
        for (int j = 0; j < m; j++) xbuf[j] = x[(size_t)j * incx];
        x = xbuf;
    }
    int mv = m / VW * VW;
    for (int i = 0; i < n; i++) {
        const float *row = X + (size_t)i * ldx;
        vf acc0 = (vf){0}, acc1 = (vf){0};
        int j = 0;
        for (; j + 2 * VW <= mv; j += 2 * VW) {
            acc0 = vfma(vload(row + j), vload(x + j), acc0);
            acc1 = vfma(vload(row + j + VW), vload(x + j + VW), acc1);
        }
        for (; j < mv; j += VW) acc0 = vfma(vload(row + j), vload(x + j), acc0);
        float s = hsum(acc0 + acc1);
        for (; j < m; j++) s += row[j] * x[j];
        float *yi = y + (size_t)i * incy;
        *yi = alpha * s + (beta == 0.0f ? 0.0f : beta * *yi);
    }
}

/* y[i*incy] = alpha * sum_j X[j*ldx + i] * x[j*incx] + beta * y[i*incy], i < n, j < m:
 * columns of X are contiguous, so y accumulates scaled rows (axpy form). */
static void gemv_cols(int n, int m, float alpha, const float *X, int ldx, const float *x,
                      int incx, float beta, float *y, int incy, float *ybuf) {
    float *acc = incy == 1 && beta == 0.0f ? y : ybuf;
    memset(acc, 0, (size_t)n * sizeof(float));
    int nv = n / VW * VW;
    for (int j = 0; j < m; j++) {
        const float *row = X + (size_t)j * ldx;
        float xj = x[(size_t)j * incx];
        vf xv = vbcast(xj);
        int i = 0;
        for (; i < nv; i += VW) vstore(acc + i, vfma(xv, vload(row + i), vload(acc + i)));
        for (; i < n; i++) acc[i] += xj * row[i];
    }
    for (int i = 0; i < n; i++) {
        float *yi = y + (size_t)i * incy;
        *yi = alpha * acc[i] + (beta == 0.0f ? 0.0f : beta * *yi);
    }
}

/* ---------------------------------------------------------------------------
 * Built-in driver
 * ------------------------------------------------------------------------- */

/* One thread's share of C: rows [i0, i0+m), columns [j0, j0+n). */
static void gemm_part(int ta, int tb, int m, int n, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc, int i0, int j0) {
    const float *a = ta ? A + i0 : A + (size_t)i0 * lda;
    const float *b = tb ? B + (size_t)j0 * ldb : B + j0;
    float *c = C + (size_t)i0 * ldc + j0;
    if (m <= 0 || n <= 0) return;

    if (m == 1 || n == 1) {
        /* C row (m == 1): c[j] = sum_k a(k) op(B)(k, j); column (n == 1): c[i] =
         * sum_k op(A)(i, k) b(k). Either way a matrix times a strided vector. */
        float *tmp = thread_buffer((size_t)K + (size_t)(m > n ? m : n));
        if (!tmp) goto fallback;
        if (m == 1) {
            int incx = ta ? lda : 1;
            if (tb)
                gemv_rows(n, K, alpha, b, ldb, a, incx, beta, c, 1, tmp);
            else
                gemv_cols(n, K, alpha, b, ldb, a, incx, beta, c, 1, tmp);
        } else {
            int incx = tb ? 1 : ldb;
            if (!ta)
                gemv_rows(m, K, alpha, a, lda, b, incx, beta, c, ldc, tmp);
            else
                gemv_cols(m, K, alpha, a, lda, b, incx, beta, c, ldc, tmp);
        }
        return;
    }
    if (!ta && tb && m <= SMALL_M_DOT) {
        gemm_dot(m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    float *buf = thread_buffer(blocked_buffer_floats());
    if (!buf) goto fallback;
    gemm_blocked(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc, buf);
    return;
fallback:
    /* Out of memory for the packing buffer: still give the right answer. */
    rnn_gemm_ref(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Splits nt threads into a tm x tn grid over C, minimising one thread's
 * multiply-adds plus the packing it repeats (~16 multiply-adds per float). */
static void thread_grid(int nt, int M, int N, int *tm, int *tn) {
    double best = -1;
    for (int a = 1; a <= nt; a++) {
        if (nt % a) continue;
        int b = nt / a;
        double m = (double)((M + MR - 1) / MR + a - 1) / a * MR;
        double n = (double)((N + NR - 1) / NR + b - 1) / b * NR;
        double cost = m * n + 16.0 * (m + n);
        if (best < 0 || cost < best) {
            best = cost;
            *tm = a;
            *tn = b;
        }
    }
}

/* Start of part p of q when `units` blocks of `unit` elements are shared out. */
static int split(int total, int unit, int p, int q) {
    int units = (total + unit - 1) / unit;
    int s = (int)((long)units * p / q) * unit;
    return s < total ? s : total;
}

static void gemm_builtin(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    long work = (long)M * N * K;
    int nt = rnn_get_threads();
    if (nt > 1 && work / PAR_MIN_WORK < nt) nt = (int)(work / PAR_MIN_WORK);
    if (nt <= 1) {
        gemm_part(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0, 0);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int tid = 0, team = 1, tm = 1, tn = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        thread_grid(team, M, N, &tm, &tn);
        int pi = tid / tn, pj = tid % tn;
        int i0 = split(M, MR, pi, tm), i1 = split(M, MR, pi + 1, tm);
        int j0 = split(N, NR, pj, tn), j1 = split(N, NR, pj + 1, tn);
        gemm_part(ta, tb, i1 - i0, j1 - j0, K, alpha, A, lda, B, ldb, beta, C, ldc, i0, j0);
    }
}

/* ---------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------- */

void rnn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        /* Nothing to multiply: C = beta * C (BLAS semantics: A and B unread). */
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        }
        return;
    }
    switch (backend_now()) {
#ifdef RNN_HAVE_DNNL
    case BACKEND_DNNL: {
#ifdef _OPENMP
        /* oneDNN sizes its OpenMP team from the calling thread's setting. */
        int nt = rnn_get_threads();
        if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
#endif
        dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A,
                                      lda, B, ldb, beta, C, ldc);
        if (st == dnnl_success) return;
        break; /* rejected arguments: the built-in kernel takes any */
    }
#endif
#ifdef RNN_HAVE_OPENBLAS
    case BACKEND_OPENBLAS:
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
        return;
#endif
    default:
        break;
    }
    gemm_builtin(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
