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

#include <stddef.h>

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
/* A training run's count: rnn_set_threads(n), and the calling thread's own
 * until rnn_run_threads_end, so that rnn_get_threads in the thread that runs
 * it (its log, its products) says the run's count while another run in
 * another thread sets the process's (an OpenMP team's other threads read
 * the process's, as before). */
void rnn_run_threads(int n);
void rnn_run_threads_end(void);
/* The count rnn_set_threads last set (0: never called), and OpenMP's count
 * for this thread: what rnn_threads_restore puts back. */
int rnn_threads_setting(void);
void rnn_threads_restore(int setting, int omp_max);
/* OpenMP's count for the calling thread (omp_get_max_threads; 1 without
 * OpenMP), and setting it for that thread alone. */
int rnn_omp_threads(void);
void rnn_omp_set_threads(int n);
/* OpenMP keeps a thread count per thread: a thread other than the one that
 * called rnn_set_threads would run its regions on all cores. The public API
 * calls this on entry, so that the count is the process's in any thread;
 * with none set (rnn_threads_restore(0, ...) after a trainer's run) a thread
 * it changed gets the count it had before again. */
void rnn_threads_sync(void);


/* Precision of the products. RNN_BF16 rounds A and B to bfloat16 and
 * accumulates in fp32 (AVX512-BF16's VDPBF16PS, or AMX's TDPBF16PS where the
 * CPU has it; gemm_bf16.c) on every
 * backend; it can only be set where rnn_gemm_bf16_available(). The setting
 * is the calling thread's (fp32 in a new thread), so that a bf16 training
 * in one thread leaves another thread's inference in fp32: a parallel
 * region whose threads run products sets it in each from its caller's
 * (recurrent.c's team, model.c's two directions). */
typedef enum { RNN_FP32, RNN_BF16 } rnn_precision;
int rnn_gemm_set_precision(rnn_precision p); /* 0, or -1 with a message */
rnn_precision rnn_gemm_precision(void);
const char *rnn_precision_name(rnn_precision p);
int rnn_precision_parse(const char *s, rnn_precision *p);
int rnn_gemm_bf16_available(void); /* 0 also where RNN_NO_BF16 is set (not "0") */
int rnn_gemm_bf16_disabled(void);  /* RNN_NO_BF16 is set: the CPU's feature is not used */
const char *rnn_gemm_bf16_missing(void); /* NULL where available, else what it needs ("a CPU with ...") */

/* Whether the bf16 products run on AMX tiles (a CPU with AMX-BF16 whose OS
 * grants them, RNN_NO_AMX unset, not turned off below) rather than on
 * AVX512-BF16 vectors: same operands, same fp32 accumulation, sums in
 * another order. rnn_gemm_bf16_set_amx(0) turns AMX off for the process
 * (tests compare the two kernels; benchmarks time them), 1 back on; it
 * returns the previous setting. */
int rnn_gemm_bf16_amx(void);
int rnn_gemm_bf16_set_amx(int on);

/* The bf16 kernel itself (what rnn_gemm runs in RNN_BF16 mode); -1 with a
 * message where the CPU lacks AVX512-BF16 or memory runs out. */
int rnn_gemm_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Round to bfloat16 (nearest even) and back. */
unsigned short rnn_bf16_round(float x);
float rnn_bf16_to_float(unsigned short h);

/* A weight matrix packed once for many products with few rows: the
 * recurrent step multiplies the same W_hh at every time step, and packing
 * it (a transposition, and bf16 rounding in RNN_BF16) once per pass instead
 * of once per step is the saving. The precision is the one current at
 * packing; the built-in kernels run the products (threads split N).
 *
 *   rnn_packed_b pb;
 *   rnn_gemm_pack_b(&pb, 1, H, 4 * H, w_hh, H, mem);    // op(B) = W_hh^T
 *   for (t...) rnn_gemm_packed(bt, 1.0f, h, H, &pb, 0.0f, hg, 4 * H);
 */
typedef struct {
    int trans_b, K, N;
    rnn_precision prec;
    void *mem;
    const float *B; /* the original, for the out-of-memory path */
    int ldb;
} rnn_packed_b;

/* Rows j0 .. j0 + w - 1 of B (kc columns, ldb apart) transposed into an nr-wide
 * panel, in registers: dst[k*nr + c] = B[(j0 + c)*ldb + k], zero for w <= c < nr
 * (the GEMM packs op(B) = B^T so; infer.c lays weights out in blocks with it). */
void rnn_transpose_panel(int kc, int w, int nr, const float *B, int ldb, int j0, float *dst);

size_t rnn_gemm_packed_bytes(int K, int N); /* enough for either precision */
void rnn_gemm_pack_b(rnn_packed_b *pb, int trans_b, int K, int N, const float *B, int ldb, void *mem);
void rnn_gemm_packed(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, float beta,
                     float *C, int ldc);
/* For threads that share products out themselves: columns [j0, j1) of the
 * products of one A with nb packed matrices pb[0..nb) of the same shape and
 * precision, C + i * cstride = alpha * A @ op(B_i) + beta * (C + i * cstride)
 * (C still points at column 0), on the calling thread alone; A is packed
 * once for all nb. j0 and j1 must be multiples of
 * rnn_gemm_packed_align(pb), or j1 == N. */
int rnn_gemm_packed_align(const rnn_packed_b *pb);
void rnn_gemm_packed_cols(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                          float beta, float *C, int ldc, size_t cstride, int j0, int j1);
/* The bf16 halves of the above (gemm_bf16.c). */
size_t rnn_gemm_bf16_packed_bytes(int K, int N);
void rnn_gemm_bf16_pack_b(const rnn_packed_b *pb, const float *B, int ldb);
void rnn_gemm_bf16_packed(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, float beta,
                          float *C, int ldc);
int rnn_gemm_bf16_packed_align(void);
void rnn_gemm_bf16_packed_cols(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb,
                               float beta, float *C, int ldc, size_t cstride, int j0, int j1);

/* Internal: columns [j0, j1) (j1 clipped to N) of the nb products of A with
 * pb[0..nb), into C + i * cstride, by the reference loop over the original
 * Bs: what the packed paths answer when out of memory for their A panel,
 * and all a build without the bf16 kernel has. */
void rnn_gemm_packed_ref(int M, float alpha, const float *A, int lda, const rnn_packed_b *pb, int nb, float beta,
                         float *C, int ldc, size_t cstride, int j0, int j1);

/* Internal: a per-thread packing buffer of at least n floats, kept for the
 * thread's lifetime (NULL when out of memory). */
float *rnn_gemm_thread_buffer(size_t n);
/* Tests: on != 0 makes every request but the master thread's (thread 0 of
 * a team) fail, as when memory runs out on one thread. */
void rnn_gemm_fail_worker_buffers(int on);

#endif
