/* simd.h: the machine's own float vector, for the hand-vectorised kernels
 * (gemm.c's micro-kernels, infer.c's matrix-vector stepper).
 *
 * RNN_VW floats per register: 16 with AVX-512, 8 with AVX, 4 otherwise
 * (SSE2, the x86-64 baseline). GCC's generic vectors compile to plain vector
 * instructions at any of these widths; one wider than the registers would be
 * split into halves and spill its accumulators to the stack (infer.c's
 * 16-float vectors ran 3.5x slower on AVX2 so).
 */
#ifndef RNN_SIMD_H
#define RNN_SIMD_H

#if defined(__AVX512F__) || defined(__AVX__) || defined(__FMA__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define RNN_VW 16
#elif defined(__AVX__)
#define RNN_VW 8
#else
#define RNN_VW 4
#endif

typedef float rnn_vf __attribute__((vector_size(RNN_VW * 4)));
/* The same vector, for loads and stores at any float alignment. */
typedef float rnn_vf_u __attribute__((vector_size(RNN_VW * 4), aligned(4), may_alias));

/* a * b + c. The ISO C modes of GCC turn off floating-point contraction, so
 * the FMA is spelled out where the target has one. */
static inline rnn_vf rnn_vfma(rnn_vf a, rnn_vf b, rnn_vf c) {
#if defined(__AVX512F__)
    return (rnn_vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__) && RNN_VW == 8
    return (rnn_vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

static inline rnn_vf rnn_vload(const float *p) { return *(const rnn_vf_u *)p; }
static inline void rnn_vstore(float *p, rnn_vf v) { *(rnn_vf_u *)p = v; }
/* x - 0 folds to x exactly (unlike x + 0, which differs for -0), so this is a
 * bare broadcast. */
static inline rnn_vf rnn_vbcast(float x) { return x - (rnn_vf){0}; }

#endif
