/* harness.h: the tiny test harness every tests/test_*.c uses.
 *
 * Each test file is its own program. It calls CHECK / CHECK_CLOSE inside
 * functions, runs them with RUN(fn), and ends main with `return harness_end();`,
 * which prints "<file>: N passed, N failed" and returns non-zero on any
 * failure. tests/run.sh runs every binary and prints the overall
 * "N passed, N failed" line.
 *
 *   static void test_add(void) { CHECK(1 + 1 == 2, "arithmetic"); }
 *   int main(void) { RUN(test_add); return harness_end(); }
 */
#ifndef RNN_TEST_HARNESS_H
#define RNN_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_passed, harness_failed, harness_cur_failed;
static const char *harness_cur = "";

/* One check: counts toward the totals, prints file:line on failure. */
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            harness_passed++;                                                  \
        } else {                                                               \
            harness_failed++;                                                  \
            harness_cur_failed++;                                              \
            fprintf(stderr, "FAIL %s:%d [%s] ", __FILE__, __LINE__, harness_cur); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
        }                                                                      \
    } while (0)

/* A shared data file's path: $RNN_SHARED/data/REL, or ../shared/data/REL
 * (the data beside the repository, as CI has it), as tests/harness.sh
 * reads them. Eight buffers in turn, so a few paths can be held at once. */
static inline const char *harness_data(const char *rel) {
    static char buf[8][4096];
    static int next;
    const char *root = getenv("RNN_SHARED");
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/data/%s", root && *root ? root : "../shared", rel);
    return p;
}

/* 1 if the data file at path (harness_data's) can be read; otherwise a
 * note that the checks on it are skipped, so that a clone without the data
 * sets fails only where it is wrong. */
static inline int harness_have_data(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return 1;
    }
    printf("  note: %s not found: its checks skipped\n", path);
    return 0;
}

/* Largest relative error of got vs want over n floats, with an absolute
 * floor so that values near zero are compared absolutely:
 * err_i = |got-want| / max(|want|, floor). */
static inline double harness_max_rel_err(const float *got, const float *want, size_t n,
                                         double floor_abs) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double s = fabs((double)want[i]);
        if (s < floor_abs) s = floor_abs;
        double e = d / s;
        if (e != e) return INFINITY; /* NaN */
        if (e > worst) worst = e;
    }
    return worst;
}

/* Compare two float arrays; prints the largest error either way so the log
 * shows how close each tensor is. */
#define CHECK_CLOSE(got, want, n, tol, what)                                   \
    do {                                                                       \
        double e_ = harness_max_rel_err((got), (want), (n), 1e-2);             \
        printf("  %-44s max rel err %.2e (tol %.0e)\n", (what), e_, (double)(tol)); \
        CHECK(e_ <= (tol), "%s: max rel err %.3e > %.1e", (what), e_, (double)(tol)); \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        harness_cur = #fn;                                                     \
        harness_cur_failed = 0;                                                \
        fn();                                                                  \
        printf("%s %s\n", harness_cur_failed ? "not ok" : "ok", #fn);          \
    } while (0)

/* mkdtemp(tmpl): tmpl is a path ending in the six 'X' characters mkdtemp
 * requires, which it replaces to name a fresh directory. 1 when made; 0
 * and a failed check when not, for the test to return. */
#define harness_mkdtemp(tmpl) harness_mkdtemp_(tmpl, __FILE__, __LINE__)
static inline int harness_mkdtemp_(char *tmpl, const char *file, int line) {
    if (mkdtemp(tmpl)) return 1;
    harness_failed++;
    harness_cur_failed++;
    fprintf(stderr, "FAIL %s:%d [%s] mkdtemp %s: cannot make a directory\n", file, line, harness_cur, tmpl);
    return 0;
}

/* Removes a training run directory (the files rnn train writes) and the
 * directory itself. */
static inline void harness_rm_run(const char *dir) {
    const char *f[] = {"config.txt", "model.safetensors", "last.safetensors", "state.safetensors",
                       "metrics.csv", "metrics.svg", "train.log"};
    char path[1024];
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, f[i]);
        remove(path);
    }
    remove(dir);
}

static inline int harness_end_(const char *file) {
    printf("%s: %d passed, %d failed\n", file, harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}
#define harness_end() harness_end_(__FILE__)

#endif
