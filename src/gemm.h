/* gemm.h: the single matrix-multiply entry point every layer uses.
 *
 *   C (M x N) = alpha * op(A) (M x K) @ op(B) (K x N) + beta * C
 *
 * Row-major; op(X) = X, or X transposed when trans_X is non-zero (then X is
 * stored K x M for A, N x K for B). lda/ldb/ldc are row strides in floats.
 * beta == 0 means C is overwritten (its old contents, even NaN, are ignored).
 *
 * Backends: a built-in cache-blocked, vectorised, OpenMP-threaded kernel that
 * needs no library; oneDNN or OpenBLAS when the build found them (see the
 * Makefile). rnn_gemm_set_backend() switches at run time (tests compare them).
 *
 *   rnn_gemm(0, 1, T*B, 4*H, E, 1.f, x, E, w_ih, E, 0.f, gates, 4*H); // x @ W_ih^T
 */
#ifndef RNN_GEMM_H
#define RNN_GEMM_H

void rnn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Plain triple loop (double accumulation): the oracle for the tests. */
void rnn_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* "builtin", "openblas" or "dnnl": which backend rnn_gemm uses now. */
const char *rnn_gemm_backend(void);
/* Select a backend by name; returns 0, or -1 (with rnn_errorf) when that
 * backend was not compiled in. The default is the best one compiled in; the
 * environment variable RNN_GEMM overrides the default. */
int rnn_gemm_set_backend(const char *name);

/* Threads for GEMM and the other parallel loops (OpenMP, and the BLAS's own
 * pool). n <= 0 means all cores. */
void rnn_set_threads(int n);
int rnn_get_threads(void);

#endif
