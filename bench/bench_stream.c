/* bench_stream.c: how fast this CPU reads a buffer of floats over and over,
 * the ceiling of batch-1 sampling. A token of the sample_lstm_2x512 case
 * reads every weight of the model once: 12.75 MB in fp32 (W_hh of layer 0,
 * W_ih and W_hh of layer 1, the head; layer 0's input side is a table row),
 * so where the cores' L2 caches cannot hold them its tokens/s is at most
 * this bandwidth / 12.75 MB, however the matrix-vector products are written.
 *
 * Build from the repository root and run:
 *   cc -std=c11 -O3 -march=native -fopenmp bench/bench_stream.c -o build/bench/bench_stream
 *   build/bench/bench_stream [threads] [MB ...]
 * (default: 1 and all threads, over 1, 4, 12.75 and 256 MB). Each thread sums
 * its own contiguous share of the buffer with vector loads; the figure is
 * the best of 20 passes of 10 sweeps each, in GB/s (10^9 bytes).
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Best GB/s of reading n floats with nt threads. */
static double stream(const float *a, size_t n, int nt, float *sink) {
    enum { PASSES = 20, SWEEPS = 10 };
    double best = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        float total = 0;
        const double t0 = now();
#pragma omp parallel num_threads(nt) reduction(+ : total)
        {
            const int t = omp_get_thread_num(), team = omp_get_num_threads();
            const size_t lo = n * t / team, hi = n * (t + 1) / team;
            /* LANES running sums, each its own: the compiler keeps them in
             * vector registers (4 with AVX-512), enough independent adds
             * that the loads, not the adds' latency, set the pace. */
            enum { LANES = 64 };
            float s[LANES] = {0};
            for (int k = 0; k < SWEEPS; k++) {
                size_t i = lo;
                for (; i + LANES <= hi; i += LANES)
                    for (int j = 0; j < LANES; j++) s[j] += a[i + j];
                for (; i < hi; i++) s[0] += a[i];
            }
            for (int j = 0; j < LANES; j++) total += s[j];
        }
        const double gbs = (double)SWEEPS * n * sizeof(float) / (now() - t0) * 1e-9;
        if (gbs > best) best = gbs;
        *sink += total;
    }
    return best;
}

int main(int argc, char **argv) {
    const int all = omp_get_max_threads();
    const int threads = argc > 1 ? atoi(argv[1]) : all;
    if (threads < 1) {
        fprintf(stderr, "bench_stream: threads must be >= 1, not '%s'\n", argv[1]);
        return 2;
    }
    static const double dflt[] = {1, 4, 12.75, 256};
    const int nsize = argc > 2 ? argc - 2 : (int)(sizeof dflt / sizeof *dflt);
    float sink = 0;
    printf("%-10s %-8s %s\n", "MB", "threads", "GB/s");
    for (int i = 0; i < nsize; i++) {
        const double mb = argc > 2 ? atof(argv[i + 2]) : dflt[i];
        const size_t n = (size_t)(mb * 1e6 / sizeof(float));
        if (!(mb > 0) || n == 0) {
            fprintf(stderr, "bench_stream: a size in MB must be positive, not '%s'\n", argv[i + 2]);
            return 2;
        }
        float *a = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
        if (!a) {
            fprintf(stderr, "bench_stream: out of memory for %g MB\n", mb);
            return 1;
        }
        for (size_t j = 0; j < n; j++) a[j] = (float)(j % 97) * 1e-3f; /* touched: no page faults timed */
        const int counts[2] = {1, threads};
        for (int c = 0; c < (threads > 1 ? 2 : 1); c++)
            printf("%-10g %-8d %.1f\n", mb, counts[c], stream(a, n, counts[c], &sink));
        free(a);
    }
    return sink == -1.0f; /* keeps the sums live; never true for these values */
}
