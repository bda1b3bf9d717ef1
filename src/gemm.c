/* gemm.c: see gemm.h.
 *
 * The built-in kernel follows the BLIS/GotoBLAS structure (Van Zee & van de
 * Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality",
 * ACM TOMS 2015), laid out for row-major C so that vectors run along N:
 *
 *   for jc in N step NC:
 *     for pc in K step KC:
 *       pack the kc x nc block of op(B) into NR-wide slivers (L2-sized)
 *       for ir in M step MR:
 *         pack the MR x kc micro-panel of op(A) (stays in L1)
 *         for jr in nc step NR:
 *           micro-kernel: the MR x NR tile of C (+)= Ap @ sliver of Bp
 *
 * The micro-kernel keeps MR x NR accumulators in registers; per k it loads
 * NR/VW vectors of B and broadcasts MR scalars of A. Packing that must
 * transpose (op(A) = A, op(B) = B^T) does so VW x VW blocks at a time in
 * registers. Threads split C into a grid of sub-blocks, one each, and run the
 * loop nest independently with their own packing buffer.
 *
 * Shapes where packing does not pay: with few rows of A, B (not transposed)
 * is read in place, and C = A @ B^T uses a dot-product kernel along K (no
 * transposition at all); M == 1 or N == 1 is a matrix-vector product.
 * rnn_gemm_ref is the oracle for all of it (tests/test_gemm.c), and
 * bench/bench_gemm.c measures it against the libraries.
 */
#include "gemm.h"

#include "simd.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
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
/* 1 once RNN_GEMM or rnn_gemm_set_backend named a backend: it then runs
 * every shape (tests and benchmarks compare backends as they are). */
static _Atomic int backend_forced = 0;
/* RNN_FP32 or RNN_BF16 (rnn_gemm_set_precision). */
static _Thread_local int current_precision = RNN_FP32; /* (gemm.h: per thread) */
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
        if (b >= 0 && backends[b].compiled) {
            backend_forced = 1;
            return b;
        }
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
    backend_forced = 1;
    return 0;
}

int rnn_gemm_set_precision(rnn_precision p) {
    if (p == RNN_BF16 && !rnn_gemm_bf16_available())
        return rnn_errorf("--precision bf16 needs %s", rnn_gemm_bf16_missing());
    current_precision = p;
    return 0;
}

rnn_precision rnn_gemm_precision(void) { return (rnn_precision)current_precision; }

const char *rnn_precision_name(rnn_precision p) { return p == RNN_BF16 ? "bf16" : "fp32"; }

int rnn_precision_parse(const char *s, rnn_precision *p) {
    if (!strcmp(s, "fp32")) *p = RNN_FP32;
    else if (!strcmp(s, "bf16")) *p = RNN_BF16;
    else return rnn_errorf("unknown precision '%s' (expected fp32 or bf16)", s);
    return 0;
}

/* Without OpenMP the count is still kept (and given to the BLAS); the
 * built-in kernel then runs on the calling thread alone. */
void rnn_set_threads(int n) {
    if (n <= 0) {
#ifdef _OPENMP
        n = omp_get_num_procs();
#else
        long p = sysconf(_SC_NPROCESSORS_ONLN);
        n = p > 0 ? (int)p : 1;
#endif
    }
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#ifdef RNN_HAVE_OPENBLAS
    openblas_set_num_threads(n);
#endif
    current_threads = n;
}

int rnn_threads_setting(void) { return current_threads; }

static _Thread_local int run_threads; /* this thread's run's count (rnn_run_threads; 0: none) */

void rnn_run_threads(int n) {
    rnn_set_threads(n);
    run_threads = current_threads;
}

void rnn_run_threads_end(void) { run_threads = 0; }

int rnn_omp_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void rnn_omp_set_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#endif
    (void)n;
}

void rnn_threads_restore(int setting, int omp_max) {
    if (setting > 0) {
        rnn_set_threads(setting);
        return;
    }
#ifdef _OPENMP
    if (omp_max > 0) omp_set_num_threads(omp_max);
#endif
#ifdef RNN_HAVE_OPENBLAS
    if (omp_max > 0) openblas_set_num_threads(omp_max);
#endif
    (void)omp_max;
    current_threads = 0; /* never set, as before: each thread keeps its own OpenMP count */
}

#ifdef _OPENMP
/* The OpenMP count this thread had before rnn_threads_sync first gave it the
 * process's (0: it never did). A trainer's count is the process's only while
 * it runs: once rnn_threads_restore puts back "none set", a thread that took
 * the run's count gets its own again, or it would keep the run's for good. */
static _Thread_local int own_omp_threads;
#endif

void rnn_threads_sync(void) {
#ifdef _OPENMP
    const int n = current_threads;
    if (omp_in_parallel()) return;
    if (n > 0) {
        const int now = omp_get_max_threads();
        if (now == n) return;
        if (!own_omp_threads) own_omp_threads = now;
        omp_set_num_threads(n);
    } else if (own_omp_threads) {
        omp_set_num_threads(own_omp_threads);
        own_omp_threads = 0;
    }
#endif
}

int rnn_get_threads(void) {
    int n = run_threads > 0 ? run_threads : current_threads;
#ifdef _OPENMP
    if (n <= 0) n = omp_get_max_threads();
#endif
    return n > 0 ? n : 1;
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

/* VW floats per vector register (simd.h); the tile is MR rows x NV vectors.
 * MR * NV accumulators + NV loaded B vectors + 1 broadcast must fit the
 * register file (32 zmm with AVX-512, 16 ymm/xmm otherwise). */
#define VW RNN_VW
#if VW == 16
#define MR 8
#else
#define MR 6
#endif
#define NV 2
#define NR (NV * VW)
typedef rnn_vf vf;

/* Cache blocking: the packed kc x nc block of B (1 MB at 512 x 512) is about
 * one Zen 4 L2, and the MR x kc micro-panel of A (16 KB) half its L1d. A
 * deep KC halves the passes over C; 512 x 512 measured best among KC in
 * 192..1024 and NC in 256..1024 with bench/bench_gemm.c. */
#ifndef RNN_GEMM_KC
#define RNN_GEMM_KC 512
#endif
#ifndef RNN_GEMM_NC
#define RNN_GEMM_NC 512
#endif
#define KC RNN_GEMM_KC
#define NC (RNN_GEMM_NC / NR * NR)

/* Up to this many rows of C, rnn_gemm uses the built-in kernel (see there). */
#define SMALL_M_BUILTIN 64

/* Which products the built-in kernel takes from the library (see rnn_gemm):
 * it has its own AVX-512 kernel, and on AVX2 it is the better one only for
 * thin shapes. */
static int prefer_builtin(int trans_a, int M, int N, int K) {
    if (M <= SMALL_M_BUILTIN) return 1;
#if defined(__AVX512F__)
    (void)trans_a;
    return N > 128 && K > 128;
#else
    if (trans_a) return (long)M * N <= 1024L * 512;
    return N < 128 && N % 32 != 0 && K >= 512;
#endif
}

/* Below this many multiply-adds one thread is faster than waking the team. */
#define PAR_MIN_WORK (1L << 17)
/* Up to this M, B (not transposed) is read in place rather than packed: the
 * packed copy would serve only M / MR micro-kernels. */
#define SMALL_M_DIRECT_B 64
/* C = A @ B^T with few rows of A: transposing B into packed slivers costs
 * more than the dot-product kernel's horizontal sums (measured on Zen 4: the
 * dot kernel wins up to M = 8 at K = 128 and up to M = 24 at K = 512). */
static int use_dot_kernel(int M, int K) { return M <= 8 || (M <= 24 && K >= 256); }

/* Butterfly permutations over two vectors a, b (lanes of b numbered VW..):
 * for half-width h, lane l takes, within its block of 2h lanes, the low
 * (BFLY_LO) or high (BFLY_HI) h lanes of a then of b. Level h of a VW x VW
 * transpose swaps the off-diagonal h x h blocks with them, and the same two
 * permutations added together fold two vectors' partial sums into one. */
#define BFLY_LO_(h, l) ((l) % (2 * (h)) < (h) ? (l) : VW + (l) - (h))
#define BFLY_HI_(h, l) (BFLY_LO_(h, l) + (h))
#define LANES4_(F, h, o) F(h, o + 0), F(h, o + 1), F(h, o + 2), F(h, o + 3)
#if VW == 16
#define LANES_(F, h) LANES4_(F, h, 0), LANES4_(F, h, 4), LANES4_(F, h, 8), LANES4_(F, h, 12)
#elif VW == 8
#define LANES_(F, h) LANES4_(F, h, 0), LANES4_(F, h, 4)
#else
#define LANES_(F, h) LANES4_(F, h, 0)
#endif
#if defined(__clang__) || __GNUC__ >= 12
#define BFLY_LO(a, b, h) __builtin_shufflevector((a), (b), LANES_(BFLY_LO_, h))
#define BFLY_HI(a, b, h) __builtin_shufflevector((a), (b), LANES_(BFLY_HI_, h))
#else
typedef int vi __attribute__((vector_size(VW * 4)));
#define BFLY_LO(a, b, h) __builtin_shuffle((a), (b), (vi){LANES_(BFLY_LO_, h)})
#define BFLY_HI(a, b, h) __builtin_shuffle((a), (b), (vi){LANES_(BFLY_HI_, h)})
#endif

/* x[r][c] -> x[c][r] for a VW x VW block held in VW vectors. */
/* clang-format off */
#define TRANSPOSE_LEVEL_(x, h)                                                 \
    _Pragma("GCC unroll 16")                                                   \
    for (int r_ = 0; r_ < VW; r_++) {                                          \
        if (r_ & (h)) continue;                                                \
        vf a_ = x[r_], b_ = x[r_ + (h)];                                       \
        x[r_] = BFLY_LO(a_, b_, h);                                            \
        x[r_ + (h)] = BFLY_HI(a_, b_, h);                                      \
    }
/* clang-format on */
static inline void transpose(vf x[VW]) {
#if VW == 16
    TRANSPOSE_LEVEL_(x, 8)
#endif
#if VW >= 8
    TRANSPOSE_LEVEL_(x, 4)
#endif
    TRANSPOSE_LEVEL_(x, 2)
    TRANSPOSE_LEVEL_(x, 1)
}

/* Returns s with s[l] = sum of the lanes of v[l], l < VW (v is clobbered). */
/* clang-format off */
#define REDUCE_LEVEL_(v, h)                                                    \
    _Pragma("GCC unroll 16")                                                   \
    for (int i_ = 0; i_ < (h); i_++)                                           \
        v[i_] = BFLY_LO(v[i_], v[i_ + (h)], h) + BFLY_HI(v[i_], v[i_ + (h)], h);
/* clang-format on */
static inline vf reduce_lanes(vf v[VW]) {
#if VW == 16
    REDUCE_LEVEL_(v, 8)
#endif
#if VW >= 8
    REDUCE_LEVEL_(v, 4)
#endif
    REDUCE_LEVEL_(v, 2)
    REDUCE_LEVEL_(v, 1)
    return v[0];
}

/* ---------------------------------------------------------------------------
 * Per-thread packing buffer
 * ------------------------------------------------------------------------- */

static _Thread_local float *tl_buf;
static _Thread_local size_t tl_cap; /* floats */
static pthread_key_t tl_key;        /* frees a thread's buffer when it exits */
static pthread_once_t tl_key_once = PTHREAD_ONCE_INIT;
static int tl_key_ok;

static void free_buffer(void *p) { rnn_free(p); }
static void make_key(void) { tl_key_ok = pthread_key_create(&tl_key, free_buffer) == 0; }

static _Atomic int workers_fail; /* rnn_gemm_fail_worker_buffers */

void rnn_gemm_fail_worker_buffers(int on) { workers_fail = on != 0; }

/* A buffer of at least n floats owned by the calling thread, or NULL. It is
 * kept for the thread's lifetime so the step loop never allocates. */
float *rnn_gemm_thread_buffer(size_t n) {
#ifdef _OPENMP
    if (workers_fail && omp_get_thread_num() != 0) return NULL;
#endif
    if (n <= tl_cap) return tl_buf;
    float *p = rnn_alloc(n * sizeof(float));
    if (!p) return NULL;
    rnn_free(tl_buf);
    tl_buf = p;
    tl_cap = n;
    pthread_once(&tl_key_once, make_key);
    if (tl_key_ok) pthread_setspecific(tl_key, p);
    return p;
}

/* ---------------------------------------------------------------------------
 * Packing
 * ------------------------------------------------------------------------- */

/* Ap[k*MR + r] = op(A)(i0 + r, p0 + k) for r < mr, zero for mr <= r < MR.
 * op(A) has M rows; the next micro-panel's data is prefetched when it exists. */
static void pack_a(int trans_a, int mr, int kc, const float *A, int lda, int M, int i0, int p0,
                   float *restrict Ap) {
    if (trans_a) {
        /* Rows of A are lda apart, one short run each: fetch the run of the
         * panel after next early (one line holds 64 / (4 MR) panels' runs). */
        int prefetch = i0 + 3 * MR <= M;
        for (int k = 0; k < kc; k++) {
            const float *src = A + (size_t)(p0 + k) * lda + i0;
            float *dst = Ap + (size_t)k * MR;
            if (mr == MR) {
                memcpy(dst, src, MR * sizeof(float)); /* constant size: inlined */
                if (prefetch) __builtin_prefetch(src + 2 * MR, 0, 2);
                continue;
            }
            int r = 0;
            for (; r < mr; r++) dst[r] = src[r];
            for (; r < MR; r++) dst[r] = 0;
        }
        return;
    }
    int k = 0;
#if MR * 2 == VW
    /* A is read along rows and written along columns: transpose VW x VW
     * blocks whose rows are the MR rows at k and the same rows at k + VW,
     * so each transposed vector holds column k (low half) and k + VW. */
    if (mr == MR) {
        /* The next panel's rows go to L2 meanwhile: A is read in place, and
         * would otherwise arrive at the pace of demand misses. */
        int prefetch = i0 + 2 * MR <= M;
        for (; k + 2 * VW <= kc; k += 2 * VW) {
            vf x[VW];
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++) {
                const float *src = A + (size_t)(i0 + r) * lda + p0 + k;
                x[r] = rnn_vload(src);
                x[r + MR] = rnn_vload(src + VW);
                if (prefetch) {
                    __builtin_prefetch(src + (size_t)MR * lda, 0, 2);
                    __builtin_prefetch(src + (size_t)MR * lda + VW, 0, 2);
                }
            }
            transpose(x);
#pragma GCC unroll 16
            for (int t = 0; t < VW; t++) {
                memcpy(Ap + (size_t)(k + t) * MR, &x[t], MR * sizeof(float));
                memcpy(Ap + (size_t)(k + VW + t) * MR, (float *)&x[t] + MR, MR * sizeof(float));
            }
        }
    }
#elif MR < VW
    /* AVX2 (MR 6, VW 8): the same with one column block per transpose and
     * the rows past MR zero; each transposed vector's first MR lanes are
     * column k + t. (Scalar, this was 4% of a 2x128 LSTM's training step.) */
    if (mr == MR) {
        int prefetch = i0 + 2 * MR <= M;
        for (; k + VW <= kc; k += VW) {
            vf x[VW];
#pragma GCC unroll 16
            for (int r = 0; r < VW; r++) {
                if (r >= MR) {
                    x[r] = rnn_vbcast(0.0f);
                    continue;
                }
                const float *src = A + (size_t)(i0 + r) * lda + p0 + k;
                x[r] = rnn_vload(src);
                if (prefetch) __builtin_prefetch(src + (size_t)MR * lda, 0, 2);
            }
            transpose(x);
#pragma GCC unroll 16
            for (int t = 0; t < VW; t++) memcpy(Ap + (size_t)(k + t) * MR, &x[t], MR * sizeof(float));
        }
    }
#endif
    for (int r = 0; r < mr; r++) {
        const float *src = A + (size_t)(i0 + r) * lda + p0;
        for (int kk = k; kk < kc; kk++) Ap[(size_t)kk * MR + r] = src[kk];
    }
    for (int r = mr; r < MR; r++)
        for (int kk = k; kk < kc; kk++) Ap[(size_t)kk * MR + r] = 0;
}

/* An nr-wide panel of B^T (B stored N x K; nr a multiple of VW): dst[k*nr + c] =
 * B[(j0 + c) * ldb + p0 + k] for c < w, zero for w <= c < nr. */
static inline void transpose_panel(int kc, int w, int nr, const float *B, int ldb, int p0, int j0,
                                   float *restrict dst) {
    int k = 0;
    if (w == nr) {
        for (; k + VW <= kc; k += VW)
            for (int cb = 0; cb < nr; cb += VW) {
                vf x[VW];
#pragma GCC unroll 16
                for (int r = 0; r < VW; r++) x[r] = rnn_vload(B + (size_t)(j0 + cb + r) * ldb + p0 + k);
                transpose(x);
#pragma GCC unroll 16
                for (int t = 0; t < VW; t++) rnn_vstore(dst + (size_t)(k + t) * nr + cb, x[t]);
            }
    }
    for (int c = 0; c < w; c++) {
        const float *src = B + (size_t)(j0 + c) * ldb + p0;
        for (int kk = k; kk < kc; kk++) dst[(size_t)kk * nr + c] = src[kk];
    }
    for (int c = w; c < nr; c++)
        for (int kk = k; kk < kc; kk++) dst[(size_t)kk * nr + c] = 0;
}

/* One NR-wide sliver of op(B) = B^T. */
static void pack_b_sliver_t(int kc, int w, const float *B, int ldb, int p0, int j0, float *restrict dst) {
    transpose_panel(kc, w, NR, B, ldb, p0, j0, dst);
}

void rnn_transpose_panel(int kc, int w, int nr, const float *B, int ldb, int j0, float *dst) {
    if (nr % VW == 0)
        transpose_panel(kc, w, nr, B, ldb, 0, j0, dst);
    else /* not a whole number of vectors: element by element */
        for (int k = 0; k < kc; k++)
            for (int c = 0; c < nr; c++) dst[(size_t)k * nr + c] = c < w ? B[(size_t)(j0 + c) * ldb + k] : 0.0f;
}

/* Packs the kc x nc block of op(B) at (p0, j0) into NR-wide slivers:
 * Bp[s*kc*NR + k*NR + c] = op(B)(p0 + k, j0 + s*NR + c), zero past nc. */
static void pack_b(int trans_b, int kc, int nc, const float *B, int ldb, int p0, int j0,
                   float *restrict Bp) {
    for (int s = 0; s * NR < nc; s++) {
        int w = nc - s * NR < NR ? nc - s * NR : NR;
        float *dst = Bp + (size_t)s * kc * NR;
        if (trans_b) {
            pack_b_sliver_t(kc, w, B, ldb, p0, j0 + s * NR, dst);
            continue;
        }
        for (int k = 0; k < kc; k++) {
            const float *src = B + (size_t)(p0 + k) * ldb + j0 + s * NR;
            float *d = dst + (size_t)k * NR;
            if (w == NR) {
                for (int v = 0; v < NV; v++) rnn_vstore(d + v * VW, rnn_vload(src + v * VW));
            } else {
                int c = 0;
                for (; c < w; c++) d[c] = src[c];
                for (; c < NR; c++) d[c] = 0;
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Micro-kernel
 * ------------------------------------------------------------------------- */

/* One vector of C: c = x + beta * c (beta == 0 never reads C). */
static inline __attribute__((always_inline)) void store_c(float *c, vf x, float beta) {
    if (beta == 0.0f)
        rnn_vstore(c, x);
    else if (beta == 1.0f)
        rnn_vstore(c, rnn_vload(c) + x);
    else
        rnn_vstore(c, rnn_vfma(rnn_vload(c), rnn_vbcast(beta), x));
}

/* C tile (mr x nr, row stride ldc) = alpha * Ap @ Bs + beta * C, where Ap is
 * a packed MR x kc micro-panel and Bs has kc rows of NR floats, bs apart
 * (bs == NR when packed, ldb when read in place). beta == 0 never reads C.
 * Only the first `rows` (>= mr) rows of the panel are multiplied: inlined
 * with a constant, the loops over them unroll completely. */
static inline __attribute__((always_inline)) void
micro_tile(int rows, int kc, const float *restrict Ap, const float *restrict Bs, size_t bs,
           float *restrict C, int ldc, int mr, int nr, float alpha, float beta) {
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) acc[r][v] = (vf){0};

    for (int k = 0; k < kc; k++) {
        vf b[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) b[v] = rnn_vload(Bs + v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < rows; r++) {
            vf a = rnn_vbcast(Ap[r]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[r][v] = rnn_vfma(a, b[v], acc[r][v]);
        }
        Ap += MR;
        Bs += bs;
    }

    if (mr == rows && nr == NR) {
#pragma GCC unroll 16
        for (int r = 0; r < rows; r++) {
            float *c = C + (size_t)r * ldc;
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) store_c(c + v * VW, acc[r][v] * alpha, beta);
        }
    } else {
        float t[MR][NR] __attribute__((aligned(64)));
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < NV; v++) *(vf *)&t[r][v * VW] = acc[r][v];
        for (int r = 0; r < mr; r++) {
            float *c = C + (size_t)r * ldc;
            for (int j = 0; j < nr; j++)
                c[j] = alpha * t[r][j] + (beta == 0.0f ? 0.0f : beta * c[j]);
        }
    }
}

/* A short last panel (M = 32 on AVX2's MR = 6 leaves 2 rows) runs a kernel
 * of 2 or 4 rows instead of multiplying rows of zeros. */
static void micro_kernel(int kc, const float *restrict Ap, const float *restrict Bs, size_t bs,
                         float *restrict C, int ldc, int mr, int nr, float alpha, float beta) {
    if (mr <= 2 && MR > 2)
        micro_tile(2, kc, Ap, Bs, bs, C, ldc, mr, nr, alpha, beta);
    else if (mr <= 4 && MR > 4)
        micro_tile(4, kc, Ap, Bs, bs, C, ldc, mr, nr, alpha, beta);
    else
        micro_tile(MR, kc, Ap, Bs, bs, C, ldc, mr, nr, alpha, beta);
}

/* A panel of at most 2 rows over WIDE slivers of a pre-packed B at once (each
 * sstride floats after the one before). 2 x NR alone keeps 2 * NV
 * accumulators in flight, too few to hide the FMA latency (it ran at about
 * half the 6-row kernel's rate on Zen 3); 2 x WIDE * NR keeps 2 * WIDE * NV.
 * Rows of Ap past mr are zeros (pack_a); only mr rows of C are written. */
#define WIDE 3
static void micro_tile_wide(int kc, const float *restrict Ap, const float *restrict Bs, size_t sstride,
                            float *restrict C, int ldc, int mr, float alpha, float beta) {
    vf acc[2][WIDE * NV];
#pragma GCC unroll 16
    for (int v = 0; v < WIDE * NV; v++) acc[0][v] = acc[1][v] = (vf){0};
    for (int k = 0; k < kc; k++) {
        const vf a0 = rnn_vbcast(Ap[0]), a1 = rnn_vbcast(Ap[1]);
#pragma GCC unroll 16
        for (int w = 0; w < WIDE; w++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) {
                const vf b = rnn_vload(Bs + w * sstride + v * VW);
                acc[0][w * NV + v] = rnn_vfma(a0, b, acc[0][w * NV + v]);
                acc[1][w * NV + v] = rnn_vfma(a1, b, acc[1][w * NV + v]);
            }
        Ap += MR;
        Bs += NR;
    }
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
#pragma GCC unroll 16
        for (int w = 0; w < WIDE; w++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) store_c(c + w * NR + v * VW, acc[r][w * NV + v] * alpha, beta);
    }
}

/* ---------------------------------------------------------------------------
 * Blocked GEMM on one thread's sub-block
 * ------------------------------------------------------------------------- */

/* Floats of packing buffer gemm_blocked needs. */
static size_t blocked_buffer_floats(void) {
    return (size_t)KC * NC + (size_t)MR * KC + (size_t)KC * NR;
}

static void gemm_blocked(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, float *buf) {
    float *Bp = buf;                     /* KC x NC packed B block */
    float *Ap = Bp + (size_t)KC * NC;    /* MR x KC A micro-panel */
    float *Bedge = Ap + (size_t)MR * KC; /* KC x NR: partial sliver of in-place B */
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
                pack_a(ta, mr, kc, A, lda, M, ir, pc, Ap);
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

/* A DOT_MI x DOT_NJ tile has VW accumulators, folded by one reduce_lanes. */
#if VW == 16
#define DOT_MI 4
#define DOT_NJ 4
#elif VW == 8
#define DOT_MI 2
#define DOT_NJ 4
#else
#define DOT_MI 2
#define DOT_NJ 2
#endif

static inline float hsum(vf v) {
    float s = 0;
    for (int l = 0; l < VW; l++) s += v[l];
    return s;
}

/* C (M x N) = alpha * A (M x K, rows lda apart) @ B^T (B is N x K) + beta C.
 * Each output is a dot product of two contiguous rows, so nothing is packed.
 * Edge tiles repeat the last row of A or B and drop the extra results. */
static void gemm_dot(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    int kv = K / VW * VW;
    for (int j0 = 0; j0 < N; j0 += DOT_NJ) {
        int nj = N - j0 < DOT_NJ ? N - j0 : DOT_NJ;
        const float *b[DOT_NJ];
        for (int j = 0; j < DOT_NJ; j++) b[j] = B + (size_t)(j0 + (j < nj ? j : nj - 1)) * ldb;
        for (int i0 = 0; i0 < M; i0 += DOT_MI) {
            int mi = M - i0 < DOT_MI ? M - i0 : DOT_MI;
            const float *a[DOT_MI];
            for (int i = 0; i < DOT_MI; i++) a[i] = A + (size_t)(i0 + (i < mi ? i : mi - 1)) * lda;
            vf acc[DOT_MI * DOT_NJ];
#pragma GCC unroll 16
            for (int t = 0; t < DOT_MI * DOT_NJ; t++) acc[t] = (vf){0};
            for (int k = 0; k < kv; k += VW) {
                vf bv[DOT_NJ];
#pragma GCC unroll 8
                for (int j = 0; j < DOT_NJ; j++) bv[j] = rnn_vload(b[j] + k);
#pragma GCC unroll 8
                for (int i = 0; i < DOT_MI; i++) {
                    vf av = rnn_vload(a[i] + k);
#pragma GCC unroll 8
                    for (int j = 0; j < DOT_NJ; j++)
                        acc[i * DOT_NJ + j] = rnn_vfma(av, bv[j], acc[i * DOT_NJ + j]);
                }
            }
            vf sum = reduce_lanes(acc); /* sum[i*DOT_NJ + j] */
            for (int i = 0; i < mi; i++) {
                float *c = C + (size_t)(i0 + i) * ldc + j0;
                for (int j = 0; j < nj; j++) {
                    float s = sum[i * DOT_NJ + j];
                    for (int k = kv; k < K; k++) s += a[i][k] * b[j][k];
                    c[j] = alpha * s + (beta == 0.0f ? 0.0f : beta * c[j]);
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Matrix-vector products (M == 1 or N == 1)
 * ------------------------------------------------------------------------- */

static inline void gemv_store(float *y, float s, float alpha, float beta) {
    *y = alpha * s + (beta == 0.0f ? 0.0f : beta * *y);
}

/* y[i*incy] = alpha * sum_j X[i*ldx + j] * x[j*incx] + beta * y[i*incy], i < n, j < m:
 * rows of X are contiguous, so each output is a dot product. VW rows at a
 * time share each load of x, and one reduce_lanes folds their VW sums. */
static void gemv_rows(int n, int m, float alpha, const float *X, int ldx, const float *x, int incx,
                      float beta, float *y, int incy, float *xbuf) {
    if (incx != 1) {
        for (int j = 0; j < m; j++) xbuf[j] = x[(size_t)j * incx];
        x = xbuf;
    }
    int mv = m / VW * VW, i = 0;
    for (; i + VW <= n; i += VW) {
        const float *row = X + (size_t)i * ldx;
        vf acc[VW];
#pragma GCC unroll 16
        for (int r = 0; r < VW; r++) acc[r] = (vf){0};
        for (int j = 0; j < mv; j += VW) {
            vf xv = rnn_vload(x + j);
#pragma GCC unroll 16
            for (int r = 0; r < VW; r++)
                acc[r] = rnn_vfma(rnn_vload(row + (size_t)r * ldx + j), xv, acc[r]);
        }
        vf sum = reduce_lanes(acc);
        for (int r = 0; r < VW; r++) {
            float s = sum[r];
            for (int j = mv; j < m; j++) s += row[(size_t)r * ldx + j] * x[j];
            gemv_store(y + (size_t)(i + r) * incy, s, alpha, beta);
        }
    }
    for (; i < n; i++) {
        const float *row = X + (size_t)i * ldx;
        vf acc = (vf){0};
        for (int j = 0; j < mv; j += VW) acc = rnn_vfma(rnn_vload(row + j), rnn_vload(x + j), acc);
        float s = hsum(acc);
        for (int j = mv; j < m; j++) s += row[j] * x[j];
        gemv_store(y + (size_t)i * incy, s, alpha, beta);
    }
}

/* y[i*incy] = alpha * sum_j X[j*ldx + i] * x[j*incx] + beta * y[i*incy], i < n, j < m:
 * columns of X are contiguous, so y accumulates scaled rows (axpy form). A
 * strip of GEMV_STRIP vectors of y stays in registers over all j, so y is
 * loaded and stored once rather than once per row. */
#define GEMV_STRIP 8
static void gemv_cols(int n, int m, float alpha, const float *X, int ldx, const float *x, int incx,
                      float beta, float *y, int incy) {
    int i = 0;
    for (; i + GEMV_STRIP * VW <= n; i += GEMV_STRIP * VW) {
        vf acc[GEMV_STRIP];
#pragma GCC unroll 16
        for (int v = 0; v < GEMV_STRIP; v++) acc[v] = (vf){0};
        for (int j = 0; j < m; j++) {
            const float *row = X + (size_t)j * ldx + i;
            vf xv = rnn_vbcast(x[(size_t)j * incx]);
#pragma GCC unroll 16
            for (int v = 0; v < GEMV_STRIP; v++) acc[v] = rnn_vfma(xv, rnn_vload(row + v * VW), acc[v]);
        }
        float t[GEMV_STRIP * VW] __attribute__((aligned(64)));
        for (int v = 0; v < GEMV_STRIP; v++) *(vf *)&t[v * VW] = acc[v];
        for (int l = 0; l < GEMV_STRIP * VW; l++)
            gemv_store(y + (size_t)(i + l) * incy, t[l], alpha, beta);
    }
    for (; i + VW <= n; i += VW) {
        vf acc = (vf){0};
        for (int j = 0; j < m; j++)
            acc = rnn_vfma(rnn_vbcast(x[(size_t)j * incx]), rnn_vload(X + (size_t)j * ldx + i), acc);
        for (int l = 0; l < VW; l++) gemv_store(y + (size_t)(i + l) * incy, acc[l], alpha, beta);
    }
    for (; i < n; i++) {
        float s = 0;
        for (int j = 0; j < m; j++) s += X[(size_t)j * ldx + i] * x[(size_t)j * incx];
        gemv_store(y + (size_t)i * incy, s, alpha, beta);
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
        float *tmp = rnn_gemm_thread_buffer((size_t)K); /* a strided vector, gathered */
        if (!tmp) goto fallback;
        if (m == 1) {
            int incx = ta ? lda : 1;
            if (tb)
                gemv_rows(n, K, alpha, b, ldb, a, incx, beta, c, 1, tmp);
            else
                gemv_cols(n, K, alpha, b, ldb, a, incx, beta, c, 1);
        } else {
            int incx = tb ? 1 : ldb;
            if (!ta)
                gemv_rows(m, K, alpha, a, lda, b, incx, beta, c, ldc, tmp);
            else
                gemv_cols(m, K, alpha, a, lda, b, incx, beta, c, ldc);
        }
        return;
    }
    if (!ta && tb && use_dot_kernel(m, K)) {
        gemm_dot(m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    float *buf = rnn_gemm_thread_buffer(blocked_buffer_floats());
    if (!buf) goto fallback;
    gemm_blocked(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc, buf);
    return;
fallback:
    /* Out of memory for the packing buffer: still give the right answer. */
    rnn_gemm_ref(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

#ifdef _OPENMP
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

#endif

static void gemm_builtin(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc) {
    long work = (long)M * N * K;
    int nt = rnn_get_threads();
    if (nt > 1 && work / PAR_MIN_WORK < nt) nt = (int)(work / PAR_MIN_WORK);
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            /* The team can be smaller than asked (nested inside another
             * parallel region, say): split among those actually present. */
            int tid = omp_get_thread_num(), team = omp_get_num_threads(), tm = 1, tn = 1;
            thread_grid(team, M, N, &tm, &tn);
            int pi = tid / tn, pj = tid % tn;
            int i0 = split(M, MR, pi, tm), i1 = split(M, MR, pi + 1, tm);
            int j0 = split(N, NR, pj, tn), j1 = split(N, NR, pj + 1, tn);
            gemm_part(ta, tb, i1 - i0, j1 - j0, K, alpha, A, lda, B, ldb, beta, C, ldc, i0, j0);
        }
        return;
    }
#endif
    gemm_part(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0, 0);
}

/* ---------------------------------------------------------------------------
 * Pre-packed B (gemm.h: rnn_packed_b)
 *
 * Layout: K in blocks of KC; block kb holds the ceil(N / NR) slivers of its
 * kc rows one after the other, each kc x NR (pack_b's layout for the whole
 * width), so block kb starts at kb * KC * nsl * NR floats.
 * ------------------------------------------------------------------------- */

static int n_slivers(int N) { return (N + NR - 1) / NR; }

size_t rnn_gemm_packed_bytes(int K, int N) {
    size_t f32 = (size_t)K * n_slivers(N) * NR * sizeof(float);
    size_t b16 = rnn_gemm_bf16_packed_bytes(K, N);
    return f32 > b16 ? f32 : b16;
}

void rnn_gemm_pack_b(rnn_packed_b *pb, int trans_b, int K, int N, const float *B, int ldb, void *mem) {
    *pb = (rnn_packed_b){trans_b, K, N, rnn_gemm_precision(), mem, B, ldb};
    if (pb->prec == RNN_BF16) {
        rnn_gemm_bf16_pack_b(pb, B, ldb);
        return;
    }
    const int nsl = n_slivers(N);
    for (int pc = 0, kb = 0; pc < K; pc += KC, kb++) {
        int kc = K - pc < KC ? K - pc : KC;
        pack_b(trans_b, kc, N, B, ldb, pc, 0, (float *)mem + (size_t)kb * KC * nsl * NR);
    }
}

/* Rows of A packed at once by the packed paths: up to PMC rows as MR-row
 * micro-panels (PMC x KC floats, 128 KB with AVX-512), each sliver of B then
 * run against all of them while it is in cache. A whole number of panels
 * (60 rows with AVX2's MR = 6), so that every row falls in the same panel,
 * and takes the same kernel, as when panels were packed one at a time. */
#define PMC (64 / MR * MR)

/* Slivers [s0, s1) of C (all M rows), for each of the nb packed matrices
 * pb[i] (all K deep, N wide) into C + i * cstride: the A panels of up to PMC
 * rows are packed once for all of them, and each sliver of B (the large
 * operand: W_hh) meets every panel before the next, so B streams from L2
 * or L3 once per K block and PMC rows (once a step at a training batch),
 * not once per MR-row panel (which doubled the recurrent
 * step's time on a 2 MB-L2 Xeon, where a thread's share of a 512-wide
 * W_hh does not stay in L2). */
static void packed_part(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                        float beta, float *C, int ldc, size_t cstride, int s0, int s1, float *Ap) {
    const int K = pb->K, N = pb->N, nsl = n_slivers(N);
    for (int pc = 0, kb = 0; pc < K; pc += KC, kb++) {
        const int kc = K - pc < KC ? K - pc : KC;
        const float beta_k = pc == 0 ? beta : 1.0f;
        for (int ic = 0; ic < M; ic += PMC) {
            const int mc = M - ic < PMC ? M - ic : PMC;
            for (int ir = 0; ir < mc; ir += MR)
                pack_a(0, mc - ir < MR ? mc - ir : MR, kc, A, lda, M, ic + ir, pc, Ap + (size_t)ir * kc);
            /* A short last panel (at most 2 rows) takes full slivers WIDE at
             * a time, the panels before it each of those slivers meanwhile. */
            const int mlast = mc - (mc - 1) / MR * MR, wide = mlast <= 2 && MR > 2, mfull = mc - mlast;
            for (int i = 0; i < nb; i++) {
                const float *base = (const float *)pb[i].mem + (size_t)kb * KC * nsl * NR;
                float *c = C + i * cstride + (size_t)ic * ldc;
                int sl = s0;
                if (wide)
                    for (; sl + WIDE <= s1 && (sl + WIDE) * NR <= N; sl += WIDE) {
                        for (int w = sl; w < sl + WIDE; w++)
                            for (int ir = 0; ir < mfull; ir += MR)
                                micro_kernel(kc, Ap + (size_t)ir * kc, base + (size_t)w * kc * NR, NR,
                                             c + (size_t)ir * ldc + w * NR, ldc, MR, NR, alpha, beta_k);
                        micro_tile_wide(kc, Ap + (size_t)mfull * kc, base + (size_t)sl * kc * NR, (size_t)kc * NR,
                                        c + (size_t)mfull * ldc + sl * NR, ldc, mlast, alpha, beta_k);
                    }
                for (; sl < s1; sl++) {
                    const int nr = N - sl * NR < NR ? N - sl * NR : NR;
                    for (int ir = 0; ir < mc; ir += MR)
                        micro_kernel(kc, Ap + (size_t)ir * kc, base + (size_t)sl * kc * NR, NR,
                                     c + (size_t)ir * ldc + sl * NR, ldc, mc - ir < MR ? mc - ir : MR, nr, alpha,
                                     beta_k);
                }
            }
        }
    }
}

/* One thread's slivers, with its A panel buffer; out of memory for that, the
 * reference products of the original Bs still answer. */
static void packed_range(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                         float beta, float *C, int ldc, size_t cstride, int s0, int s1) {
    float *Ap = rnn_gemm_thread_buffer((size_t)PMC * KC);
    if (Ap) {
        packed_part(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, s0, s1, Ap);
        return;
    }
    rnn_gemm_packed_ref(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, s0 * NR, s1 * NR);
}

void rnn_gemm_packed_ref(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb, float beta,
                         float *C, int ldc, size_t cstride, int j0, int j1) {
    for (int i = 0; i < nb; i++) {
        const rnn_packed_b *b = &pb[i];
        const int j = j1 < b->N ? j1 : b->N;
        if (j > j0)
            rnn_gemm_ref(0, b->trans_b, M, j - j0, b->K, alpha, A, lda,
                         b->trans_b ? b->B + (size_t)j0 * b->ldb : b->B + j0, b->ldb, beta, C + i * cstride + j0, ldc);
    }
}

void rnn_gemm_packed(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, float beta,
                     float *C, int ldc) {
    if (M <= 0 || pb->N <= 0) return;
    if (pb->prec == RNN_BF16) {
        rnn_gemm_bf16_packed(M, alpha, A, lda, pb, beta, C, ldc);
        return;
    }
    const int nsl = n_slivers(pb->N);
    long work = (long)M * pb->N * pb->K;
    int nt = rnn_get_threads();
    if (nt > 1 && work / PAR_MIN_WORK < nt) nt = (int)(work / PAR_MIN_WORK);
    if (nt > nsl) nt = nsl;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            int tid = omp_get_thread_num(), team = omp_get_num_threads();
            packed_range(M, alpha, A, lda, pb, 1, beta, C, ldc, 0, nsl * tid / team,
                         nsl * (tid + 1) / team);
        }
        return;
    }
#endif
    packed_range(M, alpha, A, lda, pb, 1, beta, C, ldc, 0, 0, nsl);
}

int rnn_gemm_packed_align(const rnn_packed_b *pb) {
    return pb->prec == RNN_BF16 ? rnn_gemm_bf16_packed_align() : NR;
}

void rnn_gemm_packed_cols(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                          float beta, float *C, int ldc, size_t cstride, int j0, int j1) {
    if (M <= 0 || j1 <= j0) return;
    if (pb->prec == RNN_BF16)
        rnn_gemm_bf16_packed_cols(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, j0, j1);
    else
        packed_range(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, j0 / NR, (j1 + NR - 1) / NR);
}

/* ---------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------- */

void rnn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        /* Nothing to multiply: C = beta * C (BLAS semantics: A and B unread). */
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        }
        return;
    }
    if (current_precision == RNN_BF16 &&
        rnn_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
        return;
    int backend = backend_now();
    /* Per-shape choice (bench/bench_gemm.c and whole training steps,
     * bench/run.sh): few-row products (the recurrent step, batch-1
     * inference) run on the built-in kernel, where oneDNN managed 57 GFLOP/s
     * on the 32 x 2048 x 512 step against 143; so do large products whose
     * inner sizes are all over 128 (a GRU 2x512 step trained 12% faster so);
     * the library keeps the thin ones (an embedding width of 100, a hidden
     * size of 128), where it measured up to 20% faster on Zen 4. Without
     * AVX-512 (Zen 3; best of 12 alternated rounds on two threads) the
     * library is 3-8% ahead on the large products (4096 x 2048 x 512: 159
     * GFLOP/s against 148; 2048 x 512 x 4096 weight gradients 151 against
     * 146) and on thin ones whose width is a multiple of 32 (4096 x 64 x
     * 512: 130 against 108), and the built-in kernel keeps weight gradients
     * of up to 1024 x 512 (2048 x 64 x 4096: 111 against 70; 512 x 512 x
     * 4096: 113 against 81) and the input gradients of an embedding width
     * of 100 (16384 x 100 x 512: 136 against 116). Naming a backend
     * (RNN_GEMM, rnn_gemm_set_backend) runs it on every shape. */
    if (!backend_forced && prefer_builtin(trans_a, M, N, K)) backend = BACKEND_BUILTIN;
    switch (backend) {
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
