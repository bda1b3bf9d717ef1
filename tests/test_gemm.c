/* test_gemm.c: every compiled-in GEMM backend against rnn_gemm_ref.
 *
 * The oracle is the double-accumulating triple loop, itself checked on a
 * hand-computed case. For each backend and each of the 4 transpose
 * combinations, random shapes drawn from sizes that hit the kernel's edges
 * (1, 7, 17, 33, 64, 100, 513), padded leading dimensions, and the (alpha,
 * beta) pairs {1,0} (C full of NaN), {0.5,1}, {1,-0.3} must match within a
 * relative error of 1e-5 (floor 1), with B scaled by 1/sqrt(K) as layer
 * weights are. Padding around C must stay untouched.
 * Then: backends agree with each other, 1 thread agrees with 2, two
 * application threads can multiply at once, degenerate sizes follow BLAS,
 * RNN_GEMM picks the backend, and unknown backend names are refused.
 */
#include "gemm.h"
#include "util.h"

#include "harness.h"

#include <pthread.h>

#define TOL 1e-5
#define SENTINEL 12345.0f

static const char *all_backends[] = {"builtin", "openblas", "dnnl"};
#define N_BACKENDS 3

static int compiled[N_BACKENDS];

static const int edge_sizes[] = {1, 7, 17, 33, 64, 100, 513};
#define N_EDGE ((int)(sizeof edge_sizes / sizeof edge_sizes[0]))

static const float alphas[] = {1.0f, 0.5f, 1.0f, 1.0f};
static const float betas[] = {0.0f, 1.0f, -0.3f, 1.0f};

/* err = max |got - want| / max(|want|, 1) over the M x N block. */
static double block_err(const float *got, const float *want, int M, int N, int ldc) {
    double worst = 0;
    for (int i = 0; i < M; i++) {
        double e = harness_max_rel_err(got + (size_t)i * ldc, want + (size_t)i * ldc, N, 1.0);
        if (e > worst) worst = e;
    }
    return worst;
}

/* 1 if every float outside the M x N block of a (rows x ldc) array is SENTINEL. */
static int padding_intact(const float *c, int rows, int M, int N, int ldc) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ldc; j++)
            if ((i >= M || j >= N) && c[(size_t)i * ldc + j] != SENTINEL) return 0;
    return 1;
}

/* A gemm problem with its own random operands. */
typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    float *A, *B, *C0; /* C0: C before the call */
    size_t na, nb, nc;
} problem;

static void fill(rnn_rng *rng, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * rnn_rng_uniform(rng) - 1.0f);
}

/* Stores are (rows x ld): op(A) is M x K, so A is K x M when transposed. Two
 * extra rows of C catch writes past the last row. */
static int problem_make(problem *p, rnn_rng *rng, int ta, int tb, int M, int N, int K, int pad,
                        float alpha, float beta) {
    *p = (problem){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta};
    p->lda = (ta ? M : K) + (pad ? (int)(rnn_rng_next(rng) % 5) : 0);
    p->ldb = (tb ? K : N) + (pad ? (int)(rnn_rng_next(rng) % 5) : 0);
    p->ldc = N + (pad ? (int)(rnn_rng_next(rng) % 5) : 0);
    if (p->lda < 1) p->lda = 1;
    if (p->ldb < 1) p->ldb = 1;
    if (p->ldc < 1) p->ldc = 1;
    p->na = (size_t)(ta ? K : M) * p->lda + 1;
    p->nb = (size_t)(tb ? N : K) * p->ldb + 1;
    p->nc = (size_t)(M + 2) * p->ldc;
    p->A = rnn_alloc(p->na * sizeof(float));
    p->B = rnn_alloc(p->nb * sizeof(float));
    p->C0 = rnn_alloc(p->nc * sizeof(float));
    if (!p->A || !p->B || !p->C0) return -1;
    /* B is scaled like a layer's initial weights (1/sqrt(fan-in)) so |C| stays
     * near 1 for any K. With unscaled data, partial sums grow like sqrt(K) and
     * every library's float rounding alone exceeds 1e-5 at K ~ 1000. */
    fill(rng, p->A, p->na, 1.0f);
    fill(rng, p->B, p->nb, K > 0 ? 1.0f / sqrtf((float)K) : 1.0f);
    for (size_t i = 0; i < p->nc; i++) p->C0[i] = SENTINEL;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            p->C0[(size_t)i * p->ldc + j] = beta == 0.0f ? NAN : 2.0f * rnn_rng_uniform(rng) - 1.0f;
    return 0;
}

static void problem_free(problem *p) {
    rnn_free(p->A);
    rnn_free(p->B);
    rnn_free(p->C0);
}

/* Runs p with the current backend into a fresh copy of C0 (caller frees). */
static float *problem_run(const problem *p, int reference) {
    float *C = rnn_alloc(p->nc * sizeof(float));
    if (!C) return NULL;
    memcpy(C, p->C0, p->nc * sizeof(float));
    (reference ? rnn_gemm_ref : rnn_gemm)(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda,
                                          p->B, p->ldb, p->beta, C, p->ldc);
    return C;
}

/* ------------------------------------------------------------------------- */

static void test_reference_by_hand(void) {
    /* [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50]; C = 2*AB + 0.5*C. */
    float A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8}, C[] = {2, 4, 6, 8};
    const float want[] = {39, 46, 89, 104};
    rnn_gemm_ref(0, 0, 2, 2, 2, 2.0f, A, 2, B, 2, 0.5f, C, 2);
    CHECK(memcmp(C, want, sizeof want) == 0, "ref no-trans: got %g %g %g %g", C[0], C[1], C[2],
          C[3]);
    /* A^T @ B^T with A = [1 3; 2 4] stored, B = [5 7; 6 8] stored: same product. */
    float At[] = {1, 3, 2, 4}, Bt[] = {5, 7, 6, 8}, C2[] = {NAN, NAN, NAN, NAN};
    rnn_gemm_ref(1, 1, 2, 2, 2, 1.0f, At, 2, Bt, 2, 0.0f, C2, 2);
    CHECK(C2[0] == 19 && C2[1] == 22 && C2[2] == 43 && C2[3] == 50, "ref trans: got %g %g %g %g",
          C2[0], C2[1], C2[2], C2[3]);
}

/* Each backend x transpose combination is one group; prints its worst error. */
static void test_backends_vs_reference(void) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 42);
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!compiled[b]) continue;
        CHECK(rnn_gemm_set_backend(all_backends[b]) == 0, "set %s", all_backends[b]);
        for (int combo = 0; combo < 4; combo++) {
            int ta = combo >> 1, tb = combo & 1;
            double worst = 0;
            int cases = 0;
            for (int t = 0; t < 36; t++) {
                int M = edge_sizes[rnn_rng_next(&rng) % N_EDGE];
                int N = edge_sizes[rnn_rng_next(&rng) % N_EDGE];
                int K = edge_sizes[rnn_rng_next(&rng) % N_EDGE];
                if ((double)M * N * K > 8e6) K = 17; /* keep the oracle quick */
                int ab = t % 3;
                problem p;
                if (problem_make(&p, &rng, ta, tb, M, N, K, t % 4 != 0, alphas[ab], betas[ab]) !=
                    0) {
                    CHECK(0, "out of memory");
                    problem_free(&p);
                    return;
                }
                float *got = problem_run(&p, 0), *want = problem_run(&p, 1);
                if (got && want) {
                    double e = block_err(got, want, M, N, p.ldc);
                    CHECK(e <= TOL,
                          "%s ta=%d tb=%d M=%d N=%d K=%d lda=%d ldb=%d ldc=%d a=%g b=%g: err %.3e",
                          all_backends[b], ta, tb, M, N, K, p.lda, p.ldb, p.ldc, p.alpha, p.beta,
                          e);
                    CHECK(padding_intact(got, M + 2, M, N, p.ldc),
                          "%s ta=%d tb=%d M=%d N=%d K=%d: wrote outside C", all_backends[b], ta, tb,
                          M, N, K);
                    if (e > worst) worst = e;
                    cases++;
                } else {
                    CHECK(0, "out of memory");
                }
                rnn_free(got);
                rnn_free(want);
                problem_free(&p);
            }
            printf("  %-8s ta=%d tb=%d: %2d shapes, max rel err %.2e (tol %.0e)\n", all_backends[b],
                   ta, tb, cases, worst, TOL);
        }
    }
}

/* Shapes the LSTM uses (scaled down so the oracle stays quick) and ones that
 * cross the kernel's block sizes (K > 512, N > 512) and its small-M paths. */
static void test_model_shapes(void) {
    static const struct {
        int ta, tb, M, N, K;
    } shapes[] = {
        {0, 1, 32, 512, 128},  /* recurrent step h @ W_hh^T, H=128 */
        {0, 0, 32, 128, 512},  /* its backward dG @ W_hh */
        {0, 1, 200, 512, 128}, /* input projection X @ W_ih^T */
        {0, 0, 200, 128, 512}, /* dX = dG @ W_ih */
        {1, 0, 512, 128, 200}, /* dW = dG^T @ X */
        {0, 1, 1, 300, 257},   /* sampling: one row of logits */
        {0, 0, 1, 300, 257},    {1, 1, 1, 300, 257},    {0, 0, 300, 1, 257}, /* a column */
        {1, 1, 300, 1, 257},    {0, 0, 70, 1100, 1030}, /* several k- and n-blocks */
        {1, 1, 70, 1100, 1030}, {0, 1, 40, 1100, 1030}, {1, 0, 40, 1100, 1030},
    };
    rnn_rng rng;
    rnn_rng_seed(&rng, 7);
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!compiled[b]) continue;
        rnn_gemm_set_backend(all_backends[b]);
        double worst = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (int ab = 0; ab < 3; ab++) {
                problem p;
                if (problem_make(&p, &rng, shapes[s].ta, shapes[s].tb, shapes[s].M, shapes[s].N,
                                 shapes[s].K, ab != 0, alphas[ab], betas[ab]) != 0) {
                    CHECK(0, "out of memory");
                    problem_free(&p);
                    return;
                }
                float *got = problem_run(&p, 0), *want = problem_run(&p, 1);
                CHECK(got && want, "out of memory");
                if (got && want) {
                    double e = block_err(got, want, p.M, p.N, p.ldc);
                    CHECK(e <= TOL, "%s ta=%d tb=%d %dx%dx%d a=%g b=%g: err %.3e", all_backends[b],
                          p.ta, p.tb, p.M, p.N, p.K, p.alpha, p.beta, e);
                    CHECK(padding_intact(got, p.M + 2, p.M, p.N, p.ldc),
                          "%s %dx%dx%d: wrote outside C", all_backends[b], p.M, p.N, p.K);
                    if (e > worst) worst = e;
                }
                rnn_free(got);
                rnn_free(want);
                problem_free(&p);
            }
        }
        printf("  %-8s model shapes: max rel err %.2e (tol %.0e)\n", all_backends[b], worst, TOL);
    }
}

/* bf16 rounding by hand: round to nearest, ties to even. */
static float bits(unsigned u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static void test_bf16_round(void) {
    CHECK(rnn_bf16_round(1.0f) == 0x3f80, "1.0 -> %#x", rnn_bf16_round(1.0f));
    CHECK(rnn_bf16_round(bits(0x3f808000u)) == 0x3f80, "tie rounds down to even");
    CHECK(rnn_bf16_round(bits(0x3f818000u)) == 0x3f82, "tie rounds up to even");
    CHECK(rnn_bf16_round(bits(0x3f808001u)) == 0x3f81, "above the tie rounds up");
    CHECK(rnn_bf16_round(-2.5f) == 0xc020, "-2.5 -> %#x", rnn_bf16_round(-2.5f));
    CHECK(rnn_bf16_to_float(0x3f81) == 1.0078125f, "0x3f81 -> 1.0078125");
    CHECK(isnan(rnn_bf16_to_float(rnn_bf16_round(NAN))), "NaN stays NaN");
}

/* --precision bf16: C equals the double-accumulated product of the operands
 * rounded to bf16 (within fp32 accumulation), for every transpose, edge
 * shape, alpha/beta and 1 or 2 threads; and it is really bf16 (the fp32
 * product differs by more than fp32 rounding). */
static void test_bf16(void) {
    if (!rnn_gemm_bf16_available()) {
        CHECK(rnn_gemm_set_precision(RNN_BF16) != 0, "bf16 refused without AVX512-BF16");
        CHECK(strstr(rnn_last_error(), "AVX512-BF16") != NULL, "message names the feature: %s", rnn_last_error());
        printf("  this CPU has no AVX512-BF16: the kernel itself is not exercised\n");
        return;
    }
    static const struct {
        int ta, tb, M, N, K;
    } shapes[] = {
        {0, 1, 32, 2048, 512}, {0, 0, 32, 512, 2048}, {1, 0, 512, 128, 300}, {0, 1, 1, 65, 512},
        {0, 0, 70, 1100, 1030}, {1, 1, 70, 1100, 1030}, {0, 1, 40, 1100, 1031}, {1, 0, 40, 1100, 1031},
        {0, 1, 7, 17, 33}, {1, 1, 9, 33, 1}, {0, 0, 100, 7, 64}, {1, 0, 33, 100, 17},
        /* tall: with 2 threads B is packed once for both, rows go 64 at a
         * time (rnn_gemm_bf16's shared path): a short last chunk, an odd K
         * past one block, N past one block of columns */
        {0, 1, 300, 200, 1031}, {1, 1, 257, 100, 1100}, {1, 0, 300, 600, 515}, {0, 0, 260, 40, 33},
        /* AMX tiles (16 rows of op(A), 32 of K, 16 columns): whole and one
         * past or short of whole tiles, transposed rows of A across a tile */
        {0, 1, 16, 32, 64}, {0, 0, 32, 64, 32}, {1, 0, 17, 64, 65}, {1, 1, 33, 96, 62}, {1, 0, 48, 40, 31},
        {0, 1, 31, 33, 95}, {1, 0, 64, 64, 1}, {0, 0, 2, 16, 16},
    };
    rnn_rng rng;
    rnn_rng_seed(&rng, 11);
    double worst = 0, fp32_gap = 1;
    for (int threads = 1; threads <= 2; threads++) {
        rnn_set_threads(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int ab = 0; ab < 4; ab++) { /* alpha 1, beta 0 or 1: AMX tiles to and from C directly */
                problem p;
                if (problem_make(&p, &rng, shapes[s].ta, shapes[s].tb, shapes[s].M, shapes[s].N,
                                 shapes[s].K, ab != 0, alphas[ab], betas[ab]) != 0) {
                    CHECK(0, "out of memory");
                    problem_free(&p);
                    return;
                }
                float *exact = problem_run(&p, 1);
                for (size_t i = 0; i + 1 < p.na; i++) p.A[i] = rnn_bf16_to_float(rnn_bf16_round(p.A[i]));
                for (size_t i = 0; i + 1 < p.nb; i++) p.B[i] = rnn_bf16_to_float(rnn_bf16_round(p.B[i]));
                float *want = problem_run(&p, 1);
                CHECK(rnn_gemm_set_precision(RNN_BF16) == 0, "set bf16: %s", rnn_last_error());
                float *got = problem_run(&p, 0);
                rnn_gemm_set_precision(RNN_FP32);
                CHECK(got && want && exact, "out of memory");
                if (got && want && exact) {
                    double e = block_err(got, want, p.M, p.N, p.ldc);
                    CHECK(e <= TOL, "bf16 ta=%d tb=%d %dx%dx%d a=%g b=%g threads %d: err %.3e", p.ta,
                          p.tb, p.M, p.N, p.K, p.alpha, p.beta, threads, e);
                    CHECK(padding_intact(got, p.M + 2, p.M, p.N, p.ldc), "bf16 %dx%dx%d: wrote outside C",
                          p.M, p.N, p.K);
                    if (e > worst) worst = e;
                    if (p.K >= 64) {
                        double g = block_err(got, exact, p.M, p.N, p.ldc);
                        if (g < fp32_gap) fp32_gap = g;
                    }
                }
                rnn_free(got);
                rnn_free(want);
                rnn_free(exact);
                problem_free(&p);
            }
    }
    rnn_set_threads(0);
    CHECK(fp32_gap > 1e-4, "bf16 results differ from fp32 ones by rounding (smallest gap %.2e)", fp32_gap);
    printf("  bf16 vs bf16-rounded reference: max rel err %.2e (tol %.0e); vs fp32 at least %.1e\n",
           worst, TOL, fp32_gap);
}

/* A worker thread that cannot get its packing buffer fails the bf16 call
 * before any thread writes C, so rnn_gemm's fp32 fallback still gives the
 * product once (beta 1: rows a thread had already written took it twice).
 * Both the shared-B path (tall) and the split path. */
static void test_bf16_worker_out_of_memory(void) {
    if (!rnn_gemm_bf16_available()) return;
    static const struct {
        int ta, tb, M, N, K;
    } shapes[] = {{0, 0, 512, 256, 256}, {1, 0, 300, 200, 515}, {0, 1, 64, 1100, 300}};
    rnn_rng rng;
    rnn_rng_seed(&rng, 17);
    rnn_set_threads(2);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        problem p;
        if (problem_make(&p, &rng, shapes[s].ta, shapes[s].tb, shapes[s].M, shapes[s].N, shapes[s].K, 0, 1.0f,
                         1.0f) != 0) {
            CHECK(0, "out of memory");
            problem_free(&p);
            break;
        }
        float *want = problem_run(&p, 1);
        rnn_gemm_set_precision(RNN_BF16);
        rnn_gemm_fail_worker_buffers(1);
        float *got = problem_run(&p, 0);
        rnn_gemm_fail_worker_buffers(0);
        rnn_gemm_set_precision(RNN_FP32);
        CHECK(got && want, "out of memory");
        if (got && want) {
            const double e = block_err(got, want, p.M, p.N, p.ldc);
            CHECK(e <= TOL, "%dx%dx%d, a worker without its buffer: err %.3e against the product taken once", p.M,
                  p.N, p.K, e);
        }
        rnn_free(got);
        rnn_free(want);
        problem_free(&p);
    }
    rnn_set_threads(0);
}

/* Pre-packed B (the recurrent step's W_hh): rnn_gemm_packed equals rnn_gemm
 * in the same precision, for both layouts of B, several k-blocks, partial
 * slivers, beta 0 and 1, and 1 or 2 threads. */
static void test_packed(void) {
    static const struct {
        int tb, M, N, K;
    } shapes[] = {{1, 32, 2048, 512}, {0, 32, 512, 2048}, {1, 7, 100, 1030}, {0, 9, 33, 1031}, {1, 1, 65, 17}};
    rnn_rng rng;
    rnn_rng_seed(&rng, 5);
    double worst = 0;
    int nprec = rnn_gemm_bf16_available() ? 2 : 1;
    for (int prec = 0; prec < nprec; prec++)
        for (int threads = 1; threads <= 2; threads++) {
            rnn_set_threads(threads);
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                for (int ab = 0; ab < 2; ab++) {
                    problem p;
                    if (problem_make(&p, &rng, 0, shapes[si].tb, shapes[si].M, shapes[si].N, shapes[si].K, ab,
                                     alphas[ab], betas[ab]) != 0) {
                        CHECK(0, "out of memory");
                        problem_free(&p);
                        return;
                    }
                    rnn_gemm_set_precision(prec ? RNN_BF16 : RNN_FP32);
                    float *want = problem_run(&p, 0);
                    void *mem = rnn_alloc(rnn_gemm_packed_bytes(p.K, p.N));
                    float *got = rnn_alloc(p.nc * sizeof(float));
                    CHECK(want && mem && got, "out of memory");
                    if (want && mem && got) {
                        rnn_packed_b pb;
                        rnn_gemm_pack_b(&pb, p.tb, p.K, p.N, p.B, p.ldb, mem);
                        memcpy(got, p.C0, p.nc * sizeof(float));
                        rnn_gemm_packed(p.M, p.alpha, p.A, p.lda, &pb, p.beta, got, p.ldc);
                        double e = block_err(got, want, p.M, p.N, p.ldc);
                        CHECK(e <= TOL, "packed %s tb=%d %dx%dx%d beta %g threads %d: err %.3e",
                              prec ? "bf16" : "fp32", p.tb, p.M, p.N, p.K, p.beta, threads, e);
                        CHECK(padding_intact(got, p.M + 2, p.M, p.N, p.ldc), "packed: wrote outside C");
                        if (e > worst) worst = e;
                    }
                    rnn_gemm_set_precision(RNN_FP32);
                    rnn_free(want);
                    rnn_free(got);
                    rnn_free(mem);
                    problem_free(&p);
                }
        }
    rnn_set_threads(0);
    printf("  packed B vs rnn_gemm (%s): max rel err %.2e (tol %.0e)\n", nprec == 2 ? "fp32, bf16" : "fp32",
           worst, TOL);
}

/* rnn_gemm_packed_cols, as recurrent.c's step team calls it: three packed
 * (K x N) matrices side by side in C (the gates, cstride = N, ldc = 3N),
 * each thread's block of columns computed on its own. Every block must
 * leave the columns outside it alone, and together they must give the
 * reference product (N = 100 and 72: blocks that do not divide N). */
static void test_packed_cols(void) {
    /* 77 rows: more than one block of rows packed at once (gemm_bf16.c MC), a short panel. */
    static const int sizes[][3] = {{32, 100, 100}, {5, 72, 600}, {1, 72, 33}, {77, 40, 530}};
    rnn_rng rng;
    rnn_rng_seed(&rng, 8);
    double worst = 0;
    int nprec = rnn_gemm_bf16_available() ? 2 : 1;
    for (int prec = 0; prec < nprec; prec++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2], ldc = 3 * N;
            float *A = rnn_alloc(sizeof(float) * M * K), *B = rnn_alloc(sizeof(float) * 3 * N * K);
            float *C = rnn_alloc(sizeof(float) * M * ldc), *want = rnn_alloc(sizeof(float) * M * ldc);
            float *Ar = rnn_alloc(sizeof(float) * M * K), *Br = rnn_alloc(sizeof(float) * 3 * N * K);
            size_t pbytes = rnn_gemm_packed_bytes(K, N);
            char *mem = rnn_alloc(3 * pbytes);
            for (int i = 0; i < M * K; i++) A[i] = rnn_rng_uniform(&rng) * 2 - 1;
            for (int i = 0; i < 3 * N * K; i++) B[i] = rnn_rng_uniform(&rng) * 2 - 1;
            rnn_gemm_set_precision(prec ? RNN_BF16 : RNN_FP32);
            /* The oracle multiplies what the kernel multiplies: bf16-rounded
             * inputs in bf16 mode. */
            for (int i = 0; i < M * K; i++) Ar[i] = prec ? rnn_bf16_to_float(rnn_bf16_round(A[i])) : A[i];
            for (int i = 0; i < 3 * N * K; i++) Br[i] = prec ? rnn_bf16_to_float(rnn_bf16_round(B[i])) : B[i];
            rnn_packed_b pb[3];
            for (int q = 0; q < 3; q++) {
                rnn_gemm_pack_b(&pb[q], 1, K, N, B + (size_t)q * N * K, K, mem + q * pbytes);
                rnn_gemm_ref(0, 1, M, N, K, 1.0f, Ar, K, Br + (size_t)q * N * K, K, 0.0f, want + q * N, ldc);
            }
            const int align = rnn_gemm_packed_align(&pb[0]), blocks = (N + align - 1) / align;
            for (int parts = 1; parts <= 3; parts++) {
                for (int i = 0; i < M * ldc; i++) C[i] = NAN;
                for (int t = 0; t < parts; t++) {
                    int j0 = blocks * t / parts * align, j1 = blocks * (t + 1) / parts * align;
                    if (j1 > N) j1 = N;
                    rnn_gemm_packed_cols(M, 1.0f, A, K, pb, 3, 0.0f, C, ldc, N, j0, j1);
                    int outside = 0; /* columns of later blocks: still untouched */
                    for (int r = 0; r < M; r++)
                        for (int q = 0; q < 3; q++)
                            for (int j = j1; j < N; j++) outside += !isnan(C[(size_t)r * ldc + q * N + j]);
                    CHECK(outside == 0, "%s %dx%dx%d: block [%d, %d) wrote %d values outside it",
                          prec ? "bf16" : "fp32", M, N, K, j0, j1, outside);
                }
                /* Float sums of up to 600 terms against the double oracle. */
                double e = block_err(C, want, M, ldc, ldc);
                CHECK(e <= 5 * TOL, "%s %dx%dx%d in %d blocks: err %.3e", prec ? "bf16" : "fp32", M, N, K, parts, e);
                if (e > worst) worst = e;
            }
            rnn_gemm_set_precision(RNN_FP32);
            rnn_free(A), rnn_free(B), rnn_free(C), rnn_free(want), rnn_free(Ar), rnn_free(Br), rnn_free(mem);
        }
    printf("  packed column blocks vs the reference (%s): max rel err %.2e\n",
           nprec == 2 ? "fp32, bf16" : "fp32", worst);
}

/* How many of n floats differ from their twins in any bit (-0 from +0 too). */
static size_t bits_differ(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

/* bf16: a product comes out bit for bit as its 24-row slices do, one call
 * each, with alpha 1 and beta 0 or 1 (a training's products): how its rows
 * fall into the kernel's tiles (AMX: 32 rows; a thread's share starts
 * anywhere) does not move a bit. K past one block (the later blocks
 * accumulate with beta 1), N past whole tiles, op(A) plain and transposed. */
static void test_bf16_rows_grouping(void) {
    if (!rnn_gemm_bf16_available()) return;
    static const int Ms[] = {40, 50, 70, 100, 130};
    const int N = 100, K = 1100, S = 24, MX = 130;
    rnn_rng rng;
    rnn_rng_seed(&rng, 23);
    rnn_set_threads(1);
    float *A = rnn_alloc(sizeof(float) * MX * K), *B = rnn_alloc(sizeof(float) * N * K);
    float *C0 = rnn_alloc(sizeof(float) * MX * N), *C1 = rnn_alloc(sizeof(float) * MX * N);
    CHECK(A && B && C0 && C1, "out of memory");
    if (A && B && C0 && C1) {
        fill(&rng, A, (size_t)MX * K, 1.0f);
        fill(&rng, B, (size_t)N * K, 0.05f);
        CHECK(rnn_gemm_set_precision(RNN_BF16) == 0, "set bf16: %s", rnn_last_error());
        for (int ta = 0; ta < 2; ta++)
            for (int beta = 0; beta < 2; beta++)
                for (size_t m = 0; m < sizeof Ms / sizeof Ms[0]; m++) {
                    const int M = Ms[m], lda = ta ? MX : K; /* op(A) = A[K][MX]^T or A[M][K] */
                    fill(&rng, C0, (size_t)M * N, 1.0f);
                    memcpy(C1, C0, sizeof(float) * M * N);
                    rnn_gemm(ta, 1, M, N, K, 1.0f, A, lda, B, K, (float)beta, C0, N);
                    for (int i = 0; i < M; i += S)
                        rnn_gemm(ta, 1, M - i < S ? M - i : S, N, K, 1.0f, ta ? A + i : A + (size_t)i * lda, lda, B,
                                 K, (float)beta, C1 + (size_t)i * N, N);
                    const size_t differ = bits_differ(C0, C1, (size_t)M * N);
                    CHECK(differ == 0, "bf16 ta=%d beta %d, %d rows: %zu values differ from the 24-row slices'", ta,
                          beta, M, differ);
                }
        rnn_gemm_set_precision(RNN_FP32);
    }
    rnn_free(A), rnn_free(B), rnn_free(C0), rnn_free(C1);
    rnn_set_threads(0);
}

/* fp32 pre-packed B: the rows of a batch come out bit for bit as in the
 * batch's 24-row slices taken one call each (24: whole micro-panels of 8 or
 * 6 rows), so however many rows are packed at once, each row stays in the
 * same micro-panel and a short last panel of 1 or 2 rows keeps its kernel
 * (beta -0.3: a whole tile's fused multiply-add and a partial one's separate
 * multiply and add differ in the last bit). */
static void test_packed_rows_grouping(void) {
    static const int Ms[] = {9, 10, 25, 26, 33, 65, 67, 70, 97, 130};
    const int N = 200, K = 300, S = 24;
    rnn_rng rng;
    rnn_rng_seed(&rng, 21);
    rnn_set_threads(1);
    float *A = rnn_alloc(sizeof(float) * 130 * K), *B = rnn_alloc(sizeof(float) * N * K);
    float *C0 = rnn_alloc(sizeof(float) * 130 * N), *C1 = rnn_alloc(sizeof(float) * 130 * N);
    void *mem = rnn_alloc(rnn_gemm_packed_bytes(K, N));
    CHECK(A && B && C0 && C1 && mem, "out of memory");
    if (A && B && C0 && C1 && mem) {
        fill(&rng, A, (size_t)130 * K, 1.0f);
        fill(&rng, B, (size_t)N * K, 0.05f);
        rnn_packed_b pb;
        rnn_gemm_pack_b(&pb, 1, K, N, B, K, mem);
        for (size_t m = 0; m < sizeof Ms / sizeof Ms[0]; m++) {
            const int M = Ms[m];
            fill(&rng, C0, (size_t)M * N, 1.0f);
            memcpy(C1, C0, sizeof(float) * M * N);
            rnn_gemm_packed(M, 0.5f, A, K, &pb, -0.3f, C0, N);
            for (int i = 0; i < M; i += S)
                rnn_gemm_packed(M - i < S ? M - i : S, 0.5f, A + (size_t)i * K, K, &pb, -0.3f, C1 + (size_t)i * N, N);
            const size_t differ = bits_differ(C0, C1, (size_t)M * N);
            CHECK(differ == 0, "packed fp32, %d rows: %zu values differ from the 24-row slices'", M, differ);
        }
    }
    rnn_free(A), rnn_free(B), rnn_free(C0), rnn_free(C1), rnn_free(mem);
    rnn_set_threads(0);
}

/* Every pair of backends gives the same C (within float reordering). */
static void test_backends_agree(void) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 3);
    double worst = 0;
    for (int combo = 0; combo < 4; combo++) {
        problem p;
        if (problem_make(&p, &rng, combo >> 1, combo & 1, 100, 513, 333, 1, 1.0f, -0.3f) != 0) {
            CHECK(0, "out of memory");
            problem_free(&p);
            return;
        }
        float *out[N_BACKENDS] = {0};
        for (int b = 0; b < N_BACKENDS; b++) {
            if (!compiled[b]) continue;
            rnn_gemm_set_backend(all_backends[b]);
            out[b] = problem_run(&p, 0);
            CHECK(out[b] != NULL, "out of memory");
        }
        for (int b = 1; b < N_BACKENDS; b++) {
            if (!out[0] || !out[b]) continue;
            double e = block_err(out[b], out[0], p.M, p.N, p.ldc);
            CHECK(e <= TOL, "builtin vs %s ta=%d tb=%d: err %.3e", all_backends[b], p.ta, p.tb, e);
            if (e > worst) worst = e;
        }
        for (int b = 0; b < N_BACKENDS; b++) rnn_free(out[b]);
        problem_free(&p);
    }
    printf("  backends vs builtin: max rel err %.2e (tol %.0e)\n", worst, TOL);
}

/* The threaded split must not change the answer beyond float reordering. */
static void test_threads_agree(void) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 5);
    int saved = rnn_get_threads();
    double worst = 0;
    static const struct {
        int M, N, K;
    } shapes[] = {{1, 700, 300}, {32, 1000, 300}, {300, 200, 600}, {513, 33, 100}};
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!compiled[b]) continue;
        rnn_gemm_set_backend(all_backends[b]);
        for (int combo = 0; combo < 4; combo++) {
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                problem p;
                if (problem_make(&p, &rng, combo >> 1, combo & 1, shapes[s].M, shapes[s].N,
                                 shapes[s].K, 1, 0.5f, 1.0f) != 0) {
                    CHECK(0, "out of memory");
                    problem_free(&p);
                    rnn_set_threads(saved);
                    return;
                }
                rnn_set_threads(1);
                float *one = problem_run(&p, 0);
                rnn_set_threads(2);
                float *two = problem_run(&p, 0);
                CHECK(one && two, "out of memory");
                if (one && two) {
                    double e = block_err(two, one, p.M, p.N, p.ldc);
                    CHECK(e <= TOL, "%s ta=%d tb=%d %dx%dx%d: 1 vs 2 threads err %.3e",
                          all_backends[b], p.ta, p.tb, p.M, p.N, p.K, e);
                    if (e > worst) worst = e;
                }
                rnn_free(one);
                rnn_free(two);
                problem_free(&p);
            }
        }
    }
    printf("  1 vs 2 threads: max rel err %.2e (tol %.0e)\n", worst, TOL);
    rnn_set_threads(saved);
}

/* Two application threads multiplying at once, each with its own packing
 * buffer (freed when the thread exits). */
typedef struct {
    problem p;
    float *got;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    for (int rep = 0; rep < 3; rep++) {
        rnn_free(j->got);
        j->got = problem_run(&j->p, 0);
    }
    return NULL;
}

static void test_concurrent_callers(void) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 11);
    rnn_gemm_set_backend("builtin");
    job jobs[2];
    memset(jobs, 0, sizeof jobs);
    int made = problem_make(&jobs[0].p, &rng, 0, 1, 150, 600, 530, 1, 1.0f, 0.0f) == 0 &&
               problem_make(&jobs[1].p, &rng, 1, 0, 90, 700, 300, 1, 0.5f, 1.0f) == 0;
    CHECK(made, "out of memory");
    pthread_t th[2];
    int started = 0;
    for (; made && started < 2; started++)
        if (pthread_create(&th[started], NULL, run_job, &jobs[started]) != 0) break;
    CHECK(started == 2, "pthread_create failed");
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < started; t++) {
        float *want = problem_run(&jobs[t].p, 1);
        CHECK(jobs[t].got && want, "out of memory");
        if (jobs[t].got && want) {
            double e = block_err(jobs[t].got, want, jobs[t].p.M, jobs[t].p.N, jobs[t].p.ldc);
            printf("  thread %d: max rel err %.2e (tol %.0e)\n", t, e, TOL);
            CHECK(e <= TOL, "concurrent caller %d: err %.3e", t, e);
        }
        rnn_free(want);
    }
    for (int t = 0; t < 2; t++) {
        rnn_free(jobs[t].got);
        problem_free(&jobs[t].p);
    }
}

/* M or N of 0 leaves C alone; K of 0 or alpha of 0 gives beta * C (0 when
 * beta is 0, even over NaN), as in BLAS. */
static void test_degenerate(void) {
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!compiled[b]) continue;
        rnn_gemm_set_backend(all_backends[b]);
        float A[4] = {1, 2, 3, 4}, B[4] = {1, 2, 3, 4};
        float C[4] = {1, 2, 3, 4};
        rnn_gemm(0, 0, 0, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
        rnn_gemm(0, 0, 2, 0, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
        CHECK(C[0] == 1 && C[1] == 2 && C[2] == 3 && C[3] == 4, "%s: M or N = 0 touched C",
              all_backends[b]);
        rnn_gemm(0, 0, 2, 2, 0, 1.0f, A, 1, B, 2, 2.0f, C, 2);
        CHECK(C[0] == 2 && C[1] == 4 && C[2] == 6 && C[3] == 8, "%s: K = 0 should scale C by beta",
              all_backends[b]);
        rnn_gemm(0, 0, 2, 2, 2, 0.0f, A, 2, B, 2, 0.5f, C, 2);
        CHECK(C[0] == 1 && C[1] == 2 && C[2] == 3 && C[3] == 4,
              "%s: alpha = 0 should scale C by beta", all_backends[b]);
        float Cn[4] = {NAN, NAN, NAN, NAN};
        rnn_gemm(0, 0, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, Cn, 2);
        CHECK(Cn[0] == 0 && Cn[1] == 0 && Cn[2] == 0 && Cn[3] == 0,
              "%s: K = 0, beta = 0 should zero C", all_backends[b]);
        float one = NAN, a1 = 3, b1 = -2;
        rnn_gemm(1, 1, 1, 1, 1, 0.5f, &a1, 1, &b1, 1, 0.0f, &one, 1);
        CHECK(one == -3.0f, "%s: 1x1x1 gave %g", all_backends[b], one);
    }
}

static void test_backend_selection(void) {
    CHECK(rnn_gemm_set_backend("no-such-backend") == -1, "unknown name accepted");
    CHECK(strstr(rnn_last_error(), "no-such-backend") != NULL, "error message: '%s'",
          rnn_last_error());
    CHECK(rnn_gemm_set_backend(NULL) == -1, "NULL name accepted");
    for (int b = 0; b < N_BACKENDS; b++) {
        int rc = rnn_gemm_set_backend(all_backends[b]);
        CHECK(rc == (compiled[b] ? 0 : -1), "%s: set returned %d", all_backends[b], rc);
        if (compiled[b])
            CHECK(strcmp(rnn_gemm_backend(), all_backends[b]) == 0, "backend is %s, want %s",
                  rnn_gemm_backend(), all_backends[b]);
    }
    CHECK(compiled[0], "builtin must always be compiled in");
    int saved = rnn_get_threads();
    rnn_set_threads(3);
    CHECK(rnn_get_threads() == 3, "threads: set 3, got %d", rnn_get_threads());
    rnn_set_threads(0);
    CHECK(rnn_get_threads() >= 1, "threads: set 0 (all cores), got %d", rnn_get_threads());
    rnn_set_threads(saved);
}

int main(void) {
    /* RNN_GEMM picks the backend at first use; unless the caller chose one,
     * check that the override works by asking for the built-in kernel. */
    int env_given = getenv("RNN_GEMM") != NULL;
    if (!env_given) setenv("RNN_GEMM", "builtin", 1);
    const char *def = rnn_gemm_backend();
    if (!env_given) CHECK(strcmp(def, "builtin") == 0, "RNN_GEMM=builtin gave %s", def);
    printf("backend at first use: %s%s; compiled:", def, env_given ? " (RNN_GEMM)" : "");
    for (int b = 0; b < N_BACKENDS; b++) {
        /* Probing the backends resets the default, so remember it first. */
        compiled[b] = rnn_gemm_set_backend(all_backends[b]) == 0;
        if (compiled[b]) printf(" %s", all_backends[b]);
    }
    printf("\n");
    rnn_set_threads(2);
    RUN(test_reference_by_hand);
    RUN(test_backend_selection);
    RUN(test_degenerate);
    RUN(test_backends_vs_reference);
    RUN(test_model_shapes);
    RUN(test_backends_agree);
    RUN(test_threads_agree);
    RUN(test_concurrent_callers);
    RUN(test_bf16_round);
    RUN(test_packed_rows_grouping);
    /* The bf16 products on AMX tiles where the CPU has them, and again on
     * AVX512-BF16 vectors: both kernels against the same oracles. */
    const int amx = rnn_gemm_bf16_amx();
    for (int pass = 0; pass <= amx; pass++) {
        if (rnn_gemm_bf16_available())
            printf("bf16 kernel: %s\n", rnn_gemm_bf16_amx() ? "AMX" : "AVX512-BF16");
        RUN(test_bf16);
        RUN(test_bf16_rows_grouping);
        RUN(test_bf16_worker_out_of_memory);
        RUN(test_packed);
        RUN(test_packed_cols);
        rnn_gemm_bf16_set_amx(0);
    }
    rnn_gemm_bf16_set_amx(1);
    return harness_end();
}
