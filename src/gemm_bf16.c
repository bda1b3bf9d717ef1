/* gemm_bf16.c: the mixed-precision GEMM behind --precision bf16.
 *
 *   C (M x N) = alpha * op(A) @ op(B) + beta * C, with A and B rounded to
 *   bfloat16 (round to nearest even) and every product accumulated in fp32.
 *
 * It uses AVX512-BF16's VDPBF16PS, which multiplies pairs of bf16 and adds
 * both products to one fp32 lane: twice the multiply-adds of an fp32 FMA per
 * instruction. Operands are therefore packed as pairs along K: a 32-bit word
 * holds op(X)(·, k) in its low half and op(X)(·, k + 1) in its high half.
 *
 * The loop nest is the fp32 kernel's (gemm.c, BLIS order): for each NC-wide
 * block of columns and KC-deep block of K, pack op(B) into NR-wide slivers
 * of pairs, then for each MR-row micro-panel of op(A) (packed as pairs) run
 * the micro-kernel over the slivers. Rounding happens while packing, so the
 * fp32 operands are read once per block and never copied whole.
 * A team of threads with rows of C to share (a training pass's input
 * projections, dX and dW) instead packs all of op(B) once between them and
 * then takes 64 rows at a time as each thread comes free (rows_part).
 *
 * On a CPU with AMX (Intel Xeon since Sapphire Rapids) the same packed B
 * feeds the tile unit instead (the AMX section below): 5-10x the
 * multiply-adds of the vector kernel on the same two cores.
 *
 * The kernels are compiled for AVX512-BF16 (and AMX) with target attributes
 * and used only when the CPU reports the features (rnn_gemm_bf16_available,
 * rnn_gemm_bf16_amx), so the same binary runs everywhere; tests/test_gemm.c
 * checks each against rnn_gemm_ref on bf16-rounded operands.
 */
#define _DEFAULT_SOURCE /* syscall() */
#include "gemm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Round to nearest even, as VCVTNEPS2BF16 does (NaN stays NaN). */
unsigned short rnn_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float rnn_bf16_to_float(unsigned short h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* RNN_NO_BF16 set (and not "0"): act as a CPU without AVX512-BF16, so that
 * the fallback (rnn train's fp32 run, the refusals) runs, and is tested, on
 * machines that have the feature. */
int rnn_gemm_bf16_disabled(void) {
    const char *e = getenv("RNN_NO_BF16");
    return e && *e && strcmp(e, "0") != 0;
}

static int cpu_has_bf16(void);

int rnn_gemm_bf16_available(void) { return !rnn_gemm_bf16_disabled() && cpu_has_bf16(); }

const char *rnn_gemm_bf16_missing(void) {
    if (!cpu_has_bf16()) return "a CPU with AVX512-BF16 (this one has none)";
    return rnn_gemm_bf16_disabled() ? "AVX512-BF16, which RNN_NO_BF16 in the environment turns off" : NULL;
}

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#define HAVE_BF16_KERNEL 1
#include <immintrin.h>
/* AMX needs the compiler's amx-tile/amx-bf16 targets and Linux's permission call. */
#if defined(__linux__) && (defined(__clang__) ? __clang_major__ >= 12 : __GNUC__ >= 11)
#define HAVE_AMX_KERNEL 1
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static int cpu_has_bf16(void) {
    static _Atomic int cached = -1; /* (threads may ask at once: the same answer, but a race still) */
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
    }
    return cached;
}

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

#ifndef RNN_BF16_KC
#define RNN_BF16_KC 512
#endif
#ifndef RNN_BF16_NC
#define RNN_BF16_NC 512
#endif
enum {
    MR = 8,              /* rows of a micro-panel */
    NV = 2,              /* 16-lane vectors per sliver */
    NR = NV * 16,        /* columns of a sliver */
    KC = RNN_BF16_KC,    /* depth of a block (a multiple of 32): KC/2 pair rows, whole AMX tiles */
    NC = RNN_BF16_NC,    /* columns of a packed block of B (KC/2 x NC words: 512 KB) */
    KP = KC / 2,
};
/* A whole block's slivers and A panels take kps_of(KC) pair rows (rounded up
 * to 16), which the buffers and the pre-packed layout size as KP. */
_Static_assert(RNN_BF16_KC % 32 == 0 && RNN_BF16_KC > 0, "RNN_BF16_KC must be a positive multiple of 32");
_Static_assert(RNN_BF16_NC % 32 == 0 && RNN_BF16_NC > 0, "RNN_BF16_NC must be a positive multiple of NR (32)");

static inline uint32_t pair(float lo, float hi) {
    return (uint32_t)rnn_bf16_round(lo) | (uint32_t)rnn_bf16_round(hi) << 16;
}

/* 16 pair-words from 32 consecutive floats of one row: word t holds
 * elements 2t (low half) and 2t + 1 (high half). */
TARGET static inline __m512i pairs_along(const float *p) {
    __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(p + 16), _mm512_loadu_ps(p));
    return (__m512i)h;
}

/* 16 pair-words from two rows: word t holds lo[t] (low half) and hi[t]. */
TARGET static inline __m512i pairs_across(const float *lo, const float *hi) {
    __m256i l = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(lo));
    __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(hi));
    return _mm512_or_si512(_mm512_cvtepu16_epi32(l), _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 8 pair-words from two rows (8 floats each). */
TARGET static inline __m256i pairs_across8(const float *lo, const float *hi) {
    __m128i l = (__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(lo));
    __m128i h = (__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(hi));
    return _mm256_or_si256(_mm256_cvtepu16_epi32(l), _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* In-register transpose of a 16 x 16 block of 32-bit words. */
TARGET static void transpose16(__m512i x[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(x[i], x[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(x[i], x[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        x[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        x[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        x[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        x[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* x[4q + s] now holds, in each 128-bit lane L, words of rows 4q..4q+3
     * for column 4L + s. Gather the four 128-bit lanes of each column. */
    for (int i = 0; i < 8; i++) {
        int a = (i / 4) * 8 + i % 4; /* rows 0-3 / 8-11 with rows 4-7 / 12-15 */
        t[2 * i] = _mm512_shuffle_i32x4(x[a], x[a + 4], 0x88);
        t[2 * i + 1] = _mm512_shuffle_i32x4(x[a], x[a + 4], 0xdd);
    }
    /* t[2i] / t[2i+1] hold (lane0 rows a, lane2 rows a, lane0 rows a+4, lane2
     * rows a+4) / (lanes 1, 3). Combine the two row halves. */
    for (int s = 0; s < 4; s++) {
        __m512i lo02 = t[2 * s], lo13 = t[2 * s + 1];         /* rows 0-7 */
        __m512i hi02 = t[2 * (s + 4)], hi13 = t[2 * (s + 4) + 1]; /* rows 8-15 */
        x[s + 0] = _mm512_shuffle_i32x4(lo02, hi02, 0x88);
        x[s + 8] = _mm512_shuffle_i32x4(lo02, hi02, 0xdd);
        x[s + 4] = _mm512_shuffle_i32x4(lo13, hi13, 0x88);
        x[s + 12] = _mm512_shuffle_i32x4(lo13, hi13, 0xdd);
    }
}

/* Ap[kp*MR + r] = pair of op(A)(i0 + r, p0 + 2kp, +1) for r < mr; zero
 * rows past mr and a zero high half past K. */
TARGET static void pack_a(int ta, int mr, int kc, const float *A, int lda, int i0, int p0,
                          uint32_t *restrict Ap) {
    const int kp_n = (kc + 1) / 2;
    int kp = 0;
    if (!ta && mr == MR) {
        /* Rows along K: 32 floats of each row make 16 pair-words; two such
         * chunks of the 8 rows form one 16 x 16 transpose. */
        for (; 2 * kp + 64 <= kc; kp += 32) {
            __m512i x[16];
            for (int r = 0; r < MR; r++) {
                const float *src = A + (size_t)(i0 + r) * lda + p0 + 2 * kp;
                x[r] = pairs_along(src);
                x[r + MR] = pairs_along(src + 32);
            }
            transpose16(x);
            for (int t = 0; t < 16; t++) {
                _mm256_storeu_si256((__m256i *)(Ap + (size_t)(kp + t) * MR), _mm512_castsi512_si256(x[t]));
                _mm256_storeu_si256((__m256i *)(Ap + (size_t)(kp + 16 + t) * MR),
                                    _mm512_extracti64x4_epi64(x[t], 1));
            }
        }
    } else if (ta && mr == MR) {
        /* op(A)(i, k) = A[k][i]: two rows of A give one pair row directly. */
        for (; 2 * kp + 1 < kc; kp++) {
            const float *lo = A + (size_t)(p0 + 2 * kp) * lda + i0;
            _mm256_storeu_si256((__m256i *)(Ap + (size_t)kp * MR), pairs_across8(lo, lo + lda));
        }
    }
    for (; kp < kp_n; kp++) {
        int k = p0 + 2 * kp, has_hi = 2 * kp + 1 < kc;
        for (int r = 0; r < MR; r++) {
            float lo = 0, hi = 0;
            if (r < mr) {
                lo = ta ? A[(size_t)k * lda + i0 + r] : A[(size_t)(i0 + r) * lda + k];
                if (has_hi) hi = ta ? A[(size_t)(k + 1) * lda + i0 + r] : A[(size_t)(i0 + r) * lda + k + 1];
            }
            Ap[(size_t)kp * MR + r] = pair(lo, hi);
        }
    }
}

/* Pair rows a sliver of a kc-deep block takes: kp_n = ceil(kc / 2) rounded up
 * to whole AMX tiles (16), the rows past kp_n zero. */
static inline int kps_of(int kc) { return ((kc + 1) / 2 + 15) & ~15; }

/* One sliver: dst[kp*NR + c] = pair of op(B)(p0 + 2kp, +1; j0 + c) for
 * c < w, zero past w and past K (up to kps_of(kc) pair rows). */
TARGET static void pack_b_sliver(int tb, int kc, int w, const float *B, int ldb, int p0, int j0,
                                 uint32_t *restrict dst) {
    const int kp_n = (kc + 1) / 2;
    int kp = 0;
    if (w == NR) {
        if (tb) {
            /* B is N x K: rows of B are columns of op(B); transpose 16 x 16
             * blocks of pair-words. */
            for (; 2 * kp + 32 <= kc; kp += 16)
                for (int cb = 0; cb < NR; cb += 16) {
                    __m512i x[16];
                    for (int c = 0; c < 16; c++)
                        x[c] = pairs_along(B + (size_t)(j0 + cb + c) * ldb + p0 + 2 * kp);
                    transpose16(x);
                    for (int t = 0; t < 16; t++)
                        _mm512_storeu_si512(dst + (size_t)(kp + t) * NR + cb, x[t]);
                }
        } else {
            for (; 2 * kp + 1 < kc; kp++) {
                const float *lo = B + (size_t)(p0 + 2 * kp) * ldb + j0;
                for (int cb = 0; cb < NR; cb += 16)
                    _mm512_storeu_si512(dst + (size_t)kp * NR + cb, pairs_across(lo + cb, lo + ldb + cb));
            }
        }
    }
    for (; kp < kp_n; kp++) {
        int k = p0 + 2 * kp, has_hi = 2 * kp + 1 < kc;
        for (int c = 0; c < NR; c++) {
            float lo = 0, hi = 0;
            if (c < w) {
                lo = tb ? B[(size_t)(j0 + c) * ldb + k] : B[(size_t)k * ldb + j0 + c];
                if (has_hi) hi = tb ? B[(size_t)(j0 + c) * ldb + k + 1] : B[(size_t)(k + 1) * ldb + j0 + c];
            }
            dst[(size_t)kp * NR + c] = pair(lo, hi);
        }
    }
    memset(dst + (size_t)kp_n * NR, 0, sizeof(uint32_t) * NR * (size_t)(kps_of(kc) - kp_n));
}

/* C tile (mr x nr) = alpha * Ap @ Bs + beta * C over kp_n pair rows. */
TARGET static void micro_kernel(int kp_n, const uint32_t *restrict Ap, const uint32_t *restrict Bs,
                                float *restrict C, int ldc, int mr, int nr, float alpha, float beta) {
    __m512 acc[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int kp = 0; kp < kp_n; kp++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(Bs);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(Bs + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)Ap[r]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
        }
        Ap += MR;
        Bs += NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    if (mr == MR && nr == NR) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) {
                float *c = C + (size_t)r * ldc + 16 * v;
                __m512 x = _mm512_mul_ps(acc[r][v], va);
                if (beta != 0.0f) x = _mm512_fmadd_ps(_mm512_loadu_ps(c), vb, x);
                _mm512_storeu_ps(c, x);
            }
        return;
    }
    float t[MR][NR] __attribute__((aligned(64)));
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) _mm512_store_ps(&t[r][16 * v], acc[r][v]);
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
        for (int j = 0; j < nr; j++) c[j] = alpha * t[r][j] + (beta == 0.0f ? 0.0f : beta * c[j]);
    }
}

/* ---- AMX ----
 *
 * Where the CPU has AMX (Intel Xeon since Sapphire Rapids) the same products
 * run on its tile unit: TDPBF16PS multiplies a 16 x 32 bf16 tile of op(A) by
 * a 32 x 16 one of op(B), stored as 16 rows of 16 pairs (the slivers above,
 * 16 pair rows of 16 columns at a time), into a 16 x 16 fp32 tile of C, 8192
 * multiply-adds in one instruction. A micro-tile is 32 x 32: four C tiles
 * (tmm0-3) fed by two tiles of op(A) (tmm4-5) and two of op(B) (tmm6-7).
 * op(A) is packed for it in 32-row panels of whole tiles: word
 * (kt * 2 + h) * 256 + r * 16 + w holds the pair of row 16h + r at pair row
 * 16kt + w; rows and pair rows past the operand are zero, so every tile is
 * whole and the zeros add nothing (a panel of at most 16 rows leaves its
 * second row tile unwritten and unread). TDPBF16PS treats denormal inputs
 * and sums as zero: values under 1.2e-38 in a C tile that the kernel loads
 * (whole tiles with beta 1) become 0, where the vectors keep them; nothing
 * a training holds is that small. Linux hands out the tile registers to a
 * process that asks (arch_prctl ARCH_REQ_XCOMP_PERM); each thread loads the
 * tile configuration before its part and releases it after.
 * RNN_NO_AMX in the environment (not "0") keeps the AVX512-BF16 kernel. */
enum { AMR = 32 }; /* rows of an AMX panel */

#ifdef HAVE_AMX_KERNEL

#define AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,amx-tile,amx-bf16")))

static _Atomic int amx_cpu = -1, amx_on = 1;

static int cpu_has_amx(void) {
    if (amx_cpu < 0) {
        int ok = 0;
        unsigned a, b, c, d;
        const char *e = getenv("RNN_NO_AMX");
        if (!(e && *e && strcmp(e, "0")) && cpu_has_bf16() && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
            (d >> 22 & 1) && (d >> 24 & 1)) /* AMX-BF16, AMX-TILE */
            ok = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
        amx_cpu = ok;
    }
    return amx_cpu;
}

/* What the kernels ask, once a call (bf16 products run only where they are
 * available, which rnn_gemm_bf16_amx also asks, reading RNN_NO_BF16). */
static int use_amx(void) { return amx_on && cpu_has_amx(); }

int rnn_gemm_bf16_amx(void) { return rnn_gemm_bf16_available() && use_amx(); }

int rnn_gemm_bf16_set_amx(int on) {
    int was = amx_on;
    amx_on = on != 0;
    return was;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* All eight tiles 16 rows of 64 bytes. */
AMX_TARGET static void amx_begin(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
}

AMX_TARGET static void amx_end(void) { _tile_release(); }

/* 16 pair-words from the first n (< 32) of 32 floats along a row, zero past n. */
TARGET static inline __m512i pairs_along_n(const float *p, int n) {
    __mmask16 lo = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 hi = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512bh h = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, p + 16), _mm512_maskz_loadu_ps(lo, p));
    return (__m512i)h;
}

/* Rows [i0, i0 + mr) (mr <= AMR) of op(A), columns [p0, p0 + kc), as one
 * AMX panel (layout above); rows past mr are written only up to the
 * panel's first 16 when mr <= 16 (the kernel then reads only those). */
TARGET static void pack_a_amx(int ta, int mr, int kc, const float *A, int lda, int i0, int p0,
                              uint32_t *restrict Aq) {
    const int kp_n = (kc + 1) / 2, ktn = kps_of(kc) / 16, nh = mr > 16 ? 2 : 1;
    if (!ta) {
        for (int r = 0; r < 16 * nh; r++) {
            uint32_t *row = Aq + (size_t)(r / 16) * 256 + (size_t)(r % 16) * 16;
            const float *src = r < mr ? A + (size_t)(i0 + r) * lda + p0 : NULL; /* NULL: a zero row */
            for (int kt = 0; kt < ktn; kt++) {
                const int n = kc - 32 * kt;
                __m512i v = !src || n <= 0 ? _mm512_setzero_si512()
                            : n >= 32      ? pairs_along(src + 32 * kt)
                                           : pairs_along_n(src + 32 * kt, n);
                _mm512_storeu_si512(row + (size_t)kt * 512, v);
            }
        }
        return;
    }
    /* op(A)(i, k) = A[k][i]: a pair row of 16 rows is two rows of A, across;
     * 16 of them transposed make a tile. */
    for (int h = 0; h < nh; h++) {
        const int rows = mr - 16 * h < 16 ? mr - 16 * h : 16;
        const __mmask16 m = rows >= 16 ? 0xffff : (__mmask16)((1u << rows) - 1);
        for (int kt = 0; kt < ktn; kt++) {
            __m512i x[16];
            for (int w = 0; w < 16; w++) {
                const int kp = 16 * kt + w;
                if (kp >= kp_n) {
                    x[w] = _mm512_setzero_si512();
                    continue;
                }
                const float *lo = A + (size_t)(p0 + 2 * kp) * lda + i0 + 16 * h;
                __m512 vl = _mm512_maskz_loadu_ps(m, lo);
                __m512 vh = 2 * kp + 1 < kc ? _mm512_maskz_loadu_ps(m, lo + lda) : _mm512_setzero_ps();
                __m256i l = (__m256i)_mm512_cvtneps_pbh(vl), hh = (__m256i)_mm512_cvtneps_pbh(vh);
                x[w] = _mm512_or_si512(_mm512_cvtepu16_epi32(l), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hh), 16));
            }
            transpose16(x);
            for (int r = 0; r < 16; r++) _mm512_storeu_si512(Aq + (size_t)(kt * 2 + h) * 256 + (size_t)r * 16, x[r]);
        }
    }
}

/* C tile (mr x nr, mr <= AMR, nr <= NR) = alpha * Aq @ Bs + beta * C over
 * ktn tiles of pair rows (Bs: a sliver, NR words a pair row). A whole tile
 * with alpha 1 and beta 0 or 1 goes between C and the tile registers
 * directly; any other through t. With alpha 1 and beta 1 a part tile's C
 * also starts in the tile registers (through t), so that every element is
 * summed as a whole tile's would be, C first: a product comes out bit for
 * bit the same however its rows and columns fall into tiles (a thread's
 * share of rows starts anywhere). */
AMX_TARGET static void amx_kernel(int ktn, const uint32_t *Aq, const uint32_t *Bs, float *C, int ldc, int mr,
                                  int nr, float alpha, float beta) {
    const int two = mr > 16, whole = nr == NR && mr == (two ? 32 : 16);
    const int direct = whole && alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
    const int into = !whole && alpha == 1.0f && beta == 1.0f;
    const size_t ldcb = ldc * sizeof(float);
    float t[AMR][NR] __attribute__((aligned(64)));
    if (direct && beta == 1.0f) {
        _tile_loadd(0, C, ldcb);
        _tile_loadd(1, C + 16, ldcb);
        if (two) {
            _tile_loadd(2, C + 16 * (size_t)ldc, ldcb);
            _tile_loadd(3, C + 16 * (size_t)ldc + 16, ldcb);
        }
    } else if (into) {
        const int rows = two ? 32 : 16;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < NR; j++) t[r][j] = r < mr && j < nr ? C[(size_t)r * ldc + j] : 0.0f;
        _tile_loadd(0, &t[0][0], NR * sizeof(float));
        _tile_loadd(1, &t[0][16], NR * sizeof(float));
        if (two) {
            _tile_loadd(2, &t[16][0], NR * sizeof(float));
            _tile_loadd(3, &t[16][16], NR * sizeof(float));
        }
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int kt = 0; kt < ktn; kt++) {
        const uint32_t *b = Bs + (size_t)kt * 16 * NR, *a = Aq + (size_t)kt * 512;
        _tile_loadd(6, b, NR * sizeof(uint32_t));
        _tile_loadd(7, b + 16, NR * sizeof(uint32_t));
        _tile_loadd(4, a, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (two) {
            _tile_loadd(5, a + 256, 64);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
    if (direct) {
        _tile_stored(0, C, ldcb);
        _tile_stored(1, C + 16, ldcb);
        if (two) {
            _tile_stored(2, C + 16 * (size_t)ldc, ldcb);
            _tile_stored(3, C + 16 * (size_t)ldc + 16, ldcb);
        }
        return;
    }
    _tile_stored(0, &t[0][0], NR * sizeof(float));
    _tile_stored(1, &t[0][16], NR * sizeof(float));
    if (two) {
        _tile_stored(2, &t[16][0], NR * sizeof(float));
        _tile_stored(3, &t[16][16], NR * sizeof(float));
    }
    if (into) {
        for (int r = 0; r < mr; r++) memcpy(C + (size_t)r * ldc, t[r], sizeof(float) * nr);
        return;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int v = 0; v < NR / 16 && 16 * v < nr; v++) {
        const int w = nr - 16 * v < 16 ? nr - 16 * v : 16;
        const __mmask16 m = w == 16 ? 0xffff : (__mmask16)((1u << w) - 1);
        for (int r = 0; r < mr; r++) {
            float *c = C + (size_t)r * ldc + 16 * v;
            __m512 x = _mm512_mul_ps(_mm512_load_ps(&t[r][16 * v]), va);
            if (beta != 0.0f) x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, c), vb, x);
            _mm512_mask_storeu_ps(c, m, x);
        }
    }
}
#else
static int use_amx(void) { return 0; } /* (no AMX kernel in this build) */
#endif

/* The layout of a block of packed op(A) rows for the kernel in use: MR-row
 * micro-panels (kp_n words a row) for AVX512-BF16, AMR-row tile panels for
 * AMX; the panel of row ir starts at ir * panel_stride words. */
static inline int panel_rows(int amx) { return amx ? AMR : MR; }
static inline int panel_stride(int amx, int kc) { return amx ? kps_of(kc) : (kc + 1) / 2; }

/* Rows of A packed at once: MC rows make MC / MR micro-panels, one after
 * the other (kp_n * MR words each). A transposed A (op(A)'s rows along A's
 * rows) is read in whole cache lines, 16 rows of op(A) at a time, not in the
 * half lines one panel needs: with a power-of-two lda (dG^T's, 4H) those
 * lines share a few cache sets and were gone before the next panel came
 * back for their other half. */
enum { MC = 64 };

TARGET static void pack_a_block(int ta, int mc, int kc, const float *A, int lda, int i0, int p0,
                                uint32_t *restrict Ap) {
    const int kp_n = (kc + 1) / 2, n16 = ta ? mc / 16 * 16 : 0;
    for (int kp = 0; 2 * kp + 1 < kc && n16; kp++) {
        const float *lo = A + (size_t)(p0 + 2 * kp) * lda + i0;
        for (int g = 0; g < n16; g += 16) {
            __m512i w = pairs_across(lo + g, lo + lda + g);
            uint32_t *d = Ap + (size_t)g * kp_n + (size_t)kp * MR;
            _mm256_storeu_si256((__m256i *)d, _mm512_castsi512_si256(w));
            _mm256_storeu_si256((__m256i *)(d + (size_t)MR * kp_n), _mm512_extracti64x4_epi64(w, 1));
        }
    }
    if (kc % 2) /* the last pair row: k = kc - 1 and a zero high half */
        for (int r = 0; r < n16; r++)
            Ap[(size_t)(r / MR * MR) * kp_n + (size_t)(kp_n - 1) * MR + r % MR] =
                pair(A[(size_t)(p0 + kc - 1) * lda + i0 + r], 0.0f);
    for (int ir = n16; ir < mc; ir += MR)
        pack_a(ta, mc - ir < MR ? mc - ir : MR, kc, A, lda, i0 + ir, p0, Ap + (size_t)ir * kp_n);
}

/* A block of mc rows (mc <= MC) of op(A), packed for the kernel in use. */
TARGET static void pack_rows(int amx, int ta, int mc, int kc, const float *A, int lda, int i0, int p0,
                             uint32_t *restrict Ap) {
#ifdef HAVE_AMX_KERNEL
    if (amx) {
        for (int ir = 0; ir < mc; ir += AMR)
            pack_a_amx(ta, mc - ir < AMR ? mc - ir : AMR, kc, A, lda, i0 + ir, p0, Ap + (size_t)ir * kps_of(kc));
        return;
    }
#endif
    (void)amx;
    pack_a_block(ta, mc, kc, A, lda, i0, p0, Ap);
}

/* One micro-tile, mr x nr, of a kc-deep block: a panel of packed op(A)
 * against a sliver of op(B). */
static inline void tile(int amx, int kc, const uint32_t *Ap, const uint32_t *Bs, float *C, int ldc, int mr, int nr,
                        float alpha, float beta) {
#ifdef HAVE_AMX_KERNEL
    if (amx) {
        amx_kernel(kps_of(kc) / 16, Ap, Bs, C, ldc, mr, nr, alpha, beta);
        return;
    }
#endif
    (void)amx;
    micro_kernel((kc + 1) / 2, Ap, Bs, C, ldc, mr, nr, alpha, beta);
}

/* One thread's block: rows [i0, i0+m), columns [j0, j0+n). */
TARGET static void blocked(int amx, int ta, int tb, int m, int n, int K, float alpha, const float *A, int lda,
                           const float *B, int ldb, float beta, float *C, int ldc, int i0, int j0,
                           uint32_t *buf) {
    uint32_t *Bp = buf, *Ap = buf + (size_t)KP * NC;
    const int pr = panel_rows(amx);
    for (int jc = 0; jc < n; jc += NC) {
        int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC, kps = kps_of(kc), ps = panel_stride(amx, kc);
            float beta_k = pc == 0 ? beta : 1.0f;
            for (int s = 0; s * NR < nc; s++) {
                int w = nc - s * NR < NR ? nc - s * NR : NR;
                pack_b_sliver(tb, kc, w, B, ldb, pc, j0 + jc + s * NR, Bp + (size_t)s * kps * NR);
            }
            for (int ic = 0; ic < m; ic += MC) {
                const int mc = m - ic < MC ? m - ic : MC;
                pack_rows(amx, ta, mc, kc, A, lda, i0 + ic, pc, Ap);
                for (int ir = 0; ir < mc; ir += pr)
                    for (int jr = 0; jr < nc; jr += NR)
                        tile(amx, kc, Ap + (size_t)ir * ps, Bp + (size_t)(jr / NR) * kps * NR,
                             C + (size_t)(i0 + ic + ir) * ldc + j0 + jc + jr, ldc, mc - ir < pr ? mc - ir : pr,
                             nc - jr < NR ? nc - jr : NR, alpha, beta_k);
            }
        }
    }
}

/* Start of part p of q when whole units of `unit` are shared out. */
static int split(int total, int unit, int p, int q) {
    int units = (total + unit - 1) / unit;
    int s = (int)((long)units * p / q) * unit;
    return s < total ? s : total;
}

/* Pre-packed B's layout (rnn_gemm_bf16_pack_b): slivers [s0, s1) of K
 * block kb are at kb * KP * nsl * NR + s * kps_of(kc) * NR words. */
TARGET static void pack_b_slivers(int tb, int K, int N, const float *B, int ldb, uint32_t *Bp, int q0, int q1) {
    const int nsl = (N + NR - 1) / NR;
    for (int q = q0; q < q1; q++) { /* q: sliver q % nsl of K block q / nsl */
        const int kb = q / nsl, sl = q % nsl, pc = kb * KC, kc = K - pc < KC ? K - pc : KC;
        const int w = N - sl * NR < NR ? N - sl * NR : NR;
        uint32_t *dst = Bp + (size_t)kb * KP * nsl * NR + (size_t)sl * kps_of(kc) * NR;
        pack_b_sliver(tb, kc, w, B, ldb, pc, sl * NR, dst);
    }
}

/* Rows [i0, i0 + mc) of C (mc <= MC) from all of B, pre-packed: each K
 * block's A panels are packed once, then run against B NC columns at a
 * time (that block of B in L2, a panel in L1). */
TARGET static void rows_part(int amx, int ta, int mc, int N, int K, float alpha, const float *A, int lda,
                             const uint32_t *Bp, float beta, float *C, int ldc, int i0, uint32_t *Ap) {
    const int nsl = (N + NR - 1) / NR, pr = panel_rows(amx);
    for (int pc = 0, kb = 0; pc < K; pc += KC, kb++) {
        const int kc = K - pc < KC ? K - pc : KC, kps = kps_of(kc), ps = panel_stride(amx, kc);
        const float beta_k = pc == 0 ? beta : 1.0f;
        const uint32_t *base = Bp + (size_t)kb * KP * nsl * NR;
        pack_rows(amx, ta, mc, kc, A, lda, i0, pc, Ap);
        for (int jc = 0; jc < N; jc += NC)
            for (int ir = 0; ir < mc; ir += pr)
                for (int jr = jc; jr < N && jr < jc + NC; jr += NR)
                    tile(amx, kc, Ap + (size_t)ir * ps, base + (size_t)(jr / NR) * kps * NR,
                         C + (size_t)(i0 + ir) * ldc + jr, ldc, mc - ir < pr ? mc - ir : pr, N - jr < NR ? N - jr : NR,
                         alpha, beta_k);
    }
}

/* A team's failure flag, written and read atomically (a barrier between). */
static void set_failed(int *f) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
    *f = 1;
}

static int has_failed(int *f) {
    int v;
#ifdef _OPENMP
#pragma omp atomic read
#endif
    v = *f;
    return v;
}

/* The most words of packed B the shared path keeps (16 MB; a 2x512 LSTM's
 * weight gradients at batch 32 x 128 need 4 MB). */
#define SHARED_MAX_WORDS ((size_t)4 << 20)

int rnn_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    if (!rnn_gemm_bf16_available()) return rnn_errorf("bf16 products need %s", rnn_gemm_bf16_missing());
    const size_t per_thread = (size_t)KP * NC + (size_t)MC * KP;
    int nt = rnn_get_threads();
    long work = (long)M * N * K;
    if (work < (1L << 18)) nt = 1;
    /* A team with rows of C to share (the input projections, dX, dW) packs
     * B once between its threads, into the calling thread's buffer, and
     * then takes MC rows at a time as each thread comes free: every thread
     * packing all of B for its own half of the rows cost a few percent of
     * bf16 training, and so did the waits of a fixed split on a busy host. */
    /* (Up to SHARED_MAX_WORDS: the buffer stays with the thread, and a huge
     * B is better packed a block at a time, as the split below does.) */
    const int nchunk = (M + MC - 1) / MC;
    const size_t bwords = rnn_gemm_bf16_packed_bytes(K, N) / sizeof(uint32_t);
    uint32_t *shared = NULL;
    if (nt > 1 && nchunk >= 2 * nt && (M + MR - 1) / MR >= (N + NR - 1) / NR && bwords <= SHARED_MAX_WORDS)
        shared = (uint32_t *)rnn_gemm_thread_buffer(bwords + (size_t)MC * KP);
    /* A thread without its buffer fails the call, and then no thread
     * touches C: rnn_gemm's fallback redoes the product on C as it was (rows
     * already written with beta 1 would take it twice). */
    int fail = 0;
    const int amx = use_amx();
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        int tid = 0, team = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
#ifdef HAVE_AMX_KERNEL
        if (amx) amx_begin();
#endif
        if (shared) {
            const int nq = (K + KC - 1) / KC * ((N + NR - 1) / NR);
            pack_b_slivers(tb, K, N, B, ldb, shared, nq * tid / team, nq * (tid + 1) / team);
            uint32_t *Ap = tid == 0 ? shared + bwords : (uint32_t *)rnn_gemm_thread_buffer((size_t)MC * KP);
            if (!Ap) set_failed(&fail);
#ifdef _OPENMP
#pragma omp barrier
#endif
            const int failed = has_failed(&fail);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (int c = 0; c < nchunk; c++)
                if (!failed)
                    rows_part(amx, ta, M - c * MC < MC ? M - c * MC : MC, N, K, alpha, A, lda, shared, beta, C, ldc,
                              c * MC, Ap);
        } else {
            /* Split the longer side of C, in whole micro-tiles. */
            int tm = 1, tn = team;
            if ((M + MR - 1) / MR >= (N + NR - 1) / NR) tm = team, tn = 1;
            int pi = tid / tn, pj = tid % tn;
            int r0 = split(M, MR, pi, tm), r1 = split(M, MR, pi + 1, tm);
            int c0 = split(N, NR, pj, tn), c1 = split(N, NR, pj + 1, tn);
            uint32_t *buf = (uint32_t *)rnn_gemm_thread_buffer(per_thread);
            if (!buf) set_failed(&fail);
#ifdef _OPENMP
#pragma omp barrier
#endif
            if (!has_failed(&fail) && r1 > r0 && c1 > c0)
                blocked(amx, ta, tb, r1 - r0, c1 - c0, K, alpha, A, lda, B, ldb, beta, C, ldc, r0, c0, buf);
        }
#ifdef HAVE_AMX_KERNEL
        if (amx) amx_end();
#endif
    }
    return fail ? rnn_errorf("out of memory") : 0;
}

/* Pre-packed B (gemm.h). Block kb of K holds the slivers of its kc rows
 * (kps_of(kc) pair rows each: ceil(kc / 2) and zeros to a whole number of
 * AMX tiles) one after the other, at kb * KP * nsl * NR words. */
size_t rnn_gemm_bf16_packed_bytes(int K, int N) {
    size_t nsl = (size_t)(N + NR - 1) / NR, nkb = (size_t)(K + KC - 1) / KC;
    return nkb * KP * nsl * NR * sizeof(uint32_t);
}

void rnn_gemm_bf16_pack_b(const rnn_packed_b *pb, const float *B, int ldb) {
    const int K = pb->K, N = pb->N;
    pack_b_slivers(pb->trans_b, K, N, B, ldb, (uint32_t *)pb->mem, 0, (K + KC - 1) / KC * ((N + NR - 1) / NR));
}

/* Slivers [s0, s1) of the nb products A @ op(B_i) into C + i * cstride. A's
 * micro-panels are packed once per K block for all nb matrices; each sliver
 * of B is then run against every panel while it is in L1, so B (the large
 * operand: W_hh) streams from L2 or L3 once per K block and MC rows (once a
 * step at a training batch), not once per panel. */
TARGET static void packed_part(int amx, int M, float alpha, const float *A, int lda, const rnn_packed_b *pb,
                               int nb, float beta, float *C, int ldc, size_t cstride, int s0, int s1,
                               uint32_t *Ap) {
    const int K = pb->K, N = pb->N, nsl = (N + NR - 1) / NR, pr = panel_rows(amx);
    for (int pc = 0, kb = 0; pc < K; pc += KC, kb++) {
        const int kc = K - pc < KC ? K - pc : KC, kps = kps_of(kc), ps = panel_stride(amx, kc);
        const float beta_k = pc == 0 ? beta : 1.0f;
        for (int ic = 0; ic < M; ic += MC) {
            const int mc = M - ic < MC ? M - ic : MC;
            pack_rows(amx, 0, mc, kc, A, lda, ic, pc, Ap);
            for (int i = 0; i < nb; i++) {
                const uint32_t *base = (const uint32_t *)pb[i].mem + (size_t)kb * KP * nsl * NR;
                float *c = C + i * cstride + (size_t)ic * ldc;
                for (int sl = s0; sl < s1; sl++) {
                    const int nr = N - sl * NR < NR ? N - sl * NR : NR;
                    const uint32_t *bs = base + (size_t)sl * kps * NR;
                    for (int ir = 0; ir < mc; ir += pr)
                        tile(amx, kc, Ap + (size_t)ir * ps, bs, c + (size_t)ir * ldc + sl * NR, ldc,
                             mc - ir < pr ? mc - ir : pr, nr, alpha, beta_k);
                }
            }
        }
    }
}

/* Slivers [s0, s1) on the calling thread; out of memory for its A panel
 * buffer, the plain product of the original B. */
static void packed_range(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                         float beta, float *C, int ldc, size_t cstride, int s0, int s1) {
    uint32_t *Ap = (uint32_t *)rnn_gemm_thread_buffer((size_t)MC * KP);
    if (Ap) {
        const int amx = use_amx();
#ifdef HAVE_AMX_KERNEL
        if (amx) amx_begin();
#endif
        packed_part(amx, M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, s0, s1, Ap);
#ifdef HAVE_AMX_KERNEL
        if (amx) amx_end();
#endif
        return;
    }
    rnn_gemm_packed_ref(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, s0 * NR, s1 * NR);
}

void rnn_gemm_bf16_packed(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, float beta,
                          float *C, int ldc) {
    const int nsl = (pb->N + NR - 1) / NR;
    int nt = rnn_get_threads();
    if ((long)M * pb->N * pb->K < (1L << 18)) nt = 1;
    if (nt > nsl) nt = nsl;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        int tid = 0, team = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        packed_range(M, alpha, A, lda, pb, 1, beta, C, ldc, 0, nsl * tid / team, nsl * (tid + 1) / team);
    }
}

int rnn_gemm_bf16_packed_align(void) { return NR; }

void rnn_gemm_bf16_packed_cols(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                               float beta, float *C, int ldc, size_t cstride, int j0, int j1) {
    packed_range(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, j0 / NR, (j1 + NR - 1) / NR);
}

#else /* no x86-64 GCC/Clang: no kernel */

size_t rnn_gemm_bf16_packed_bytes(int K, int N) {
    (void)K, (void)N;
    return 0;
}

void rnn_gemm_bf16_pack_b(const rnn_packed_b *pb, const float *B, int ldb) {
    (void)pb, (void)B, (void)ldb;
}

void rnn_gemm_bf16_packed(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, float beta,
                          float *C, int ldc) {
    rnn_gemm_packed_ref(M, alpha, A, lda, pb, 1, beta, C, ldc, 0, 0, pb->N);
}

int rnn_gemm_bf16_packed_align(void) { return 1; }

void rnn_gemm_bf16_packed_cols(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                               float beta, float *C, int ldc, size_t cstride, int j0, int j1) {
    rnn_gemm_packed_ref(M, alpha, A, lda, pb, nb, beta, C, ldc, cstride, j0, j1);
}


static int cpu_has_bf16(void) { return 0; }

int rnn_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc;
    return rnn_errorf("the bf16 kernel needs an x86-64 build with AVX512-BF16");
}

#endif

#ifndef HAVE_AMX_KERNEL /* not x86-64 Linux, or a compiler without the AMX targets: no AMX kernel */
int rnn_gemm_bf16_amx(void) { return 0; }

int rnn_gemm_bf16_set_amx(int on) {
    (void)on;
    return 1;
}
#endif
