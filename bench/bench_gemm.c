/* bench_gemm.c: GFLOP/s of each compiled-in GEMM backend on the shapes an
 * LSTM (batch 32, T=128, hidden 512 or 128) actually runs.
 *
 * Build from the repository root (drop a -D/-l pair for a missing library):
 *   cc -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -fopenmp -march=native \
 *      -Isrc -DRNN_HAVE_DNNL -DRNN_HAVE_OPENBLAS -I/usr/include/x86_64-linux-gnu \
 *      src/util.c src/gemm.c src/gemm_bf16.c bench/bench_gemm.c -ldnnl -lopenblas -lm -o bench_gemm
 *   ./bench_gemm [threads] [seconds per measurement] [only this backend]
 *
 * Each entry is the best of ROUNDS timed batches of calls (seconds/ROUNDS
 * each), after a warm-up call, so page faults, thread start-up and other
 * tenants of a shared machine count as little as possible.
 */
#include "gemm.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct shape {
    const char *what;
    int ta, tb, M, N, K;
} shapes[] = {
    {"H512 step   h@Whh^T", 0, 1, 32, 2048, 512},   {"H512 step   dG@Whh", 0, 0, 32, 512, 2048},
    {"H512 inproj X@Wih^T", 0, 1, 4096, 2048, 512}, {"H512 dX     dG@Wih", 0, 0, 4096, 512, 2048},
    {"H512 dW     dG^T@X", 1, 0, 2048, 512, 4096},  {"H128 step   h@Whh^T", 0, 1, 32, 512, 128},
    {"H128 step   dG@Whh", 0, 0, 32, 128, 512},     {"H128 inproj X@Wih^T", 0, 1, 4096, 512, 128},
    {"H128 dX     dG@Wih", 0, 0, 4096, 128, 512},   {"H128 dW     dG^T@X", 1, 0, 512, 128, 4096},
    {"H512 step64 h@Whh^T", 0, 1, 64, 2048, 512},   {"H512 step16 h@Whh^T", 0, 1, 16, 2048, 512},
    {"H128 bi64   h@Whh^T", 0, 1, 64, 512, 128},    {"H128 bi64   dG@Whh", 0, 0, 64, 128, 512},
    {"GRU512 inproj",       0, 1, 4096, 1536, 512}, {"GRU512 dX",           0, 0, 4096, 512, 1536},
    {"GRU512 dW rz",        1, 0, 1024, 512, 4096}, {"GRU512 dW n",         1, 0, 512, 512, 4096},
    {"GRU512 dWih",         1, 0, 1536, 512, 4096}, {"BiL128 inproj E100",  0, 1, 16384, 512, 100},
    {"BiL128 dX E100",      0, 0, 16384, 100, 512}, {"BiL128 dWih E100",    1, 0, 512, 100, 16384},
    {"BiL128 dWhh",         1, 0, 512, 128, 16384},
    {"sample      h@Whh^T", 0, 1, 1, 2048, 512},    {"sample      x@Wih^T", 0, 1, 1, 2048, 64},
    {"sample      h@Wout^T", 0, 1, 1, 65, 512},     {"sample      h@W", 0, 0, 1, 2048, 512},
};

/* "bf16" is the built-in mixed-precision kernel (--precision bf16). */
static const char *names[] = {"builtin", "openblas", "dnnl", "bf16"};
#define NB 4
#define ROUNDS 7

static void pause_ms(long ms) {
    /* Lets the previous library's spinning worker threads go to sleep. */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    rnn_set_threads(threads);
    printf("threads %d, default backend %s\n", rnn_get_threads(), rnn_gemm_backend());
    int have[NB], nb = NB;
    for (int b = 0; b < nb; b++)
        have[b] =
            (argc <= 3 || strcmp(argv[3], names[b]) == 0) &&
            (b == NB - 1 ? rnn_gemm_bf16_available() : rnn_gemm_set_backend(names[b]) == 0);
    rnn_gemm_set_backend("builtin");

    printf("%-22s %5s %5s %5s", "shape (GFLOP/s)", "M", "N", "K");
    for (int b = 0; b < nb; b++)
        if (have[b]) printf(" %9s", names[b]);
    printf("\n");

    rnn_rng rng;
    rnn_rng_seed(&rng, 1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const struct shape *sh = &shapes[s];
        size_t na = (size_t)sh->M * sh->K, nbf = (size_t)sh->K * sh->N, nc = (size_t)sh->M * sh->N;
        float *A = rnn_alloc(na * sizeof(float)), *B = rnn_alloc(nbf * sizeof(float));
        float *C = rnn_alloc(nc * sizeof(float));
        if (!A || !B || !C) {
            fprintf(stderr, "bench_gemm: %s\n", rnn_last_error());
            return 1;
        }
        for (size_t i = 0; i < na; i++) A[i] = rnn_rng_uniform(&rng) - 0.5f;
        for (size_t i = 0; i < nbf; i++) B[i] = rnn_rng_uniform(&rng) - 0.5f;
        int lda = sh->ta ? sh->M : sh->K, ldb = sh->tb ? sh->K : sh->N;
        double flops = 2.0 * sh->M * sh->N * sh->K;

        printf("%-22s %5d %5d %5d", sh->what, sh->M, sh->N, sh->K);
        /* Rounds interleave the backends so that a noisy moment on a shared
         * machine hurts them alike; each keeps its best round. */
        double best[NB] = {1e30, 1e30, 1e30, 1e30};
        long reps[NB] = {0};
        for (int round = 0; round < ROUNDS; round++) {
            for (int b = 0; b < nb; b++) {
                if (!have[b]) continue;
                if (b == NB - 1) {
                    rnn_gemm_set_backend("builtin");
                    rnn_gemm_set_precision(RNN_BF16);
                } else {
                    rnn_gemm_set_precision(RNN_FP32);
                    rnn_gemm_set_backend(names[b]);
                }
                pause_ms(20);
                rnn_gemm(sh->ta, sh->tb, sh->M, sh->N, sh->K, 1.0f, A, lda, B, ldb, 0.0f, C, sh->N);
                if (!reps[b]) { /* calls per round: about secs / ROUNDS */
                    double t0 = rnn_now();
                    rnn_gemm(sh->ta, sh->tb, sh->M, sh->N, sh->K, 1.0f, A, lda, B, ldb, 0.0f, C,
                             sh->N);
                    double one = rnn_now() - t0;
                    reps[b] = (long)(secs / ROUNDS / (one > 1e-7 ? one : 1e-7)) + 1;
                }
                double t0 = rnn_now();
                for (long r = 0; r < reps[b]; r++)
                    rnn_gemm(sh->ta, sh->tb, sh->M, sh->N, sh->K, 1.0f, A, lda, B, ldb, 0.0f, C,
                             sh->N);
                double t = (rnn_now() - t0) / reps[b];
                if (t < best[b]) best[b] = t;
            }
        }
        for (int b = 0; b < nb; b++)
            if (have[b]) printf(" %9.1f", flops / best[b] * 1e-9);
        printf("\n");
        rnn_free(A);
        rnn_free(B);
        rnn_free(C);
    }
    return 0;
}
