/* test_recurrent.c: RNN / LSTM / GRU layers (1 and 2 layers, uni- and
 * bidirectional, unequal lengths, given and zero initial state) against the
 * PyTorch fixtures written by tests/ref/make_fixtures.py: outputs, final
 * states and the gradients of every parameter, of the input and of the
 * initial state. Forward within 1e-4 relative error, gradients within 1e-3. */
#include "harness.h"
#include "st_edit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "recurrent.h"
#include "infer.h"
#include "safetensors.h"
#include "util.h"

#define FIX "tests/fixtures/"

/* a fixture's tensor (st_edit.h) */
#define get fixture_tensor

static void run_case(const char *cell_name, int L, int bi, int zero_state) {
    char path[256], what[300];
    snprintf(path, sizeof path, FIX "rnn_%s_l%d_%s%s.safetensors", cell_name, L,
             bi ? "bi" : "uni", zero_state ? "_zero" : "");
    rnn_st *st = rnn_st_load(path);
    CHECK(st != NULL, "load %s: %s", path, rnn_last_error());
    if (!st) return;
    rnn_cell cell;
    rnn_cell_parse(cell_name, &cell);
    const int G = rnn_cell_gates(cell), D = bi ? 2 : 1;
    const rnn_st_tensor *xt = rnn_st_find(st, "x"), *lt = rnn_st_find(st, "lengths");
    const rnn_st_tensor *wt = rnn_st_find(st, "rnn.weight_hh_l0");
    const int N = (int)xt->shape[0], I = (int)xt->shape[1], B = (int)lt->shape[0];
    const int H = (int)wt->shape[1], T = (int)rnn_st_find(st, "batch_sizes")->shape[0];
    int lengths[16], bs[64], offs[65], want_bs[64];
    rnn_st_read_i32(st, "lengths", lengths, B);
    rnn_st_read_i32(st, "batch_sizes", want_bs, T);
    rnn_pack p;
    CHECK(rnn_pack_init(&p, T, B, lengths, bs, offs) == N, "pack N");
    for (int t = 0; t < T; t++) CHECK(bs[t] == want_bs[t], "batch_sizes[%d] %d vs %d", t, bs[t], want_bs[t]);

    float *x = get(st, "x", NULL), *h0 = get(st, "h0", NULL), *c0 = get(st, "c0", NULL);
    const int DH = D * H;
    rnn_dir dirs[4];
    rnn_dir_weights grads[4];
    rnn_dir_cache caches[4];
    float *ys[2], *cache_mem[4];
    float *work = rnn_calloc(rnn_dir_work_floats(cell, N, B, H, 0) * sizeof(float));
    float *hn = rnn_calloc((size_t)L * D * B * H * sizeof(float));
    float *cn = rnn_calloc((size_t)L * D * B * H * sizeof(float));
    for (int l = 0; l < L; l++) {
        ys[l] = rnn_calloc((size_t)N * DH * sizeof(float));
        for (int d = 0; d < D; d++) {
            int k = l * D + d;
            const char *sfx = d ? "_reverse" : "";
            char nm[64];
            int in = l ? DH : I;
            dirs[k] = (rnn_dir){cell, d, in, H, {0}, NULL};
#define LOADW(field, fmt)                                                                          \
    snprintf(nm, sizeof nm, fmt, l, sfx);                                                          \
    dirs[k].w.field = get(st, nm, NULL);                                                           \
    grads[k].field = rnn_calloc((size_t)G * H * (in > H ? in : H) * sizeof(float));
            LOADW(w_ih, "rnn.weight_ih_l%d%s");
            LOADW(w_hh, "rnn.weight_hh_l%d%s");
            LOADW(b_ih, "rnn.bias_ih_l%d%s");
            LOADW(b_hh, "rnn.bias_hh_l%d%s");
            cache_mem[k] = rnn_calloc(rnn_dir_cache_floats(cell, N, H) * sizeof(float));
            rnn_dir_cache_bind(&caches[k], cell, N, H, cache_mem[k]);
        }
    }
    /* Forward through the stack. */
    for (int l = 0; l < L; l++)
        for (int d = 0; d < D; d++) {
            int k = l * D + d;
            size_t s = (size_t)k * B * H;
            rnn_dir_forward(&dirs[k], &p, &caches[k], ys[l] + d * H, DH, l ? ys[l - 1] : x,
                            l ? DH : I, h0 ? h0 + s : NULL, c0 ? c0 + s : NULL, hn + s, cn + s,
                            work);
        }
    float *want = get(st, "y", NULL);
    snprintf(what, sizeof what, "%s forward y", path + sizeof FIX - 1);
    CHECK_CLOSE(ys[L - 1], want, (size_t)N * DH, 1e-4, what);
    rnn_free(want);
    want = get(st, "h_n", NULL);
    CHECK_CLOSE(hn, want, (size_t)L * D * B * H, 1e-4, "  h_n");
    rnn_free(want);
    if (cell == RNN_CELL_LSTM) {
        want = get(st, "c_n", NULL);
        CHECK_CLOSE(cn, want, (size_t)L * D * B * H, 1e-4, "  c_n");
        rnn_free(want);
    }

    /* Backward: loss = Σ y·dy + Σ h_n·dh_n (+ Σ c_n·dc_n). */
    float *dy = get(st, "dy", NULL), *dhn = get(st, "dh_n", NULL), *dcn = get(st, "dc_n", NULL);
    size_t wide = (size_t)N * (DH > I ? DH : I) * sizeof(float);
    float *bufs[2] = {rnn_calloc(wide), rnn_calloc(wide)};
    float *dh0 = rnn_calloc((size_t)L * D * B * H * sizeof(float));
    float *dc0 = rnn_calloc((size_t)L * D * B * H * sizeof(float));
    const float *dcur = dy;
    for (int l = L - 1; l >= 0; l--) {
        int in = l ? DH : I;
        float *dx = bufs[l % 2]; /* never the buffer dcur points at */
        for (int d = 0; d < D; d++) {
            int k = l * D + d;
            size_t s = (size_t)k * B * H;
            rnn_dir_backward(&dirs[k], &grads[k], &p, &caches[k], ys[l] + d * H, DH, dcur + d * H,
                             DH, l ? ys[l - 1] : x, in, dx, in, d > 0, dhn + s,
                             dcn ? dcn + s : NULL, dh0 + s, dc0 + s, work);
        }
        dcur = dx;
    }
    want = get(st, "grad.x", NULL);
    CHECK_CLOSE(dcur, want, (size_t)N * I, 1e-3, "  grad.x");
    rnn_free(want);
    if (h0) {
        want = get(st, "grad.h0", NULL);
        CHECK_CLOSE(dh0, want, (size_t)L * D * B * H, 1e-3, "  grad.h0");
        rnn_free(want);
    }
    if (c0) {
        want = get(st, "grad.c0", NULL);
        CHECK_CLOSE(dc0, want, (size_t)L * D * B * H, 1e-3, "  grad.c0");
        rnn_free(want);
    }
    for (int l = 0; l < L; l++)
        for (int d = 0; d < D; d++) {
            int k = l * D + d, in = l ? DH : I;
            const char *sfx = d ? "_reverse" : "";
            char nm[80];
#define CHECKG(field, fmt, n)                                                                      \
    snprintf(nm, sizeof nm, "grad." fmt, l, sfx);                                                  \
    want = get(st, nm, NULL);                                                                      \
    CHECK(want != NULL, "missing %s", nm);                                                         \
    if (want) CHECK_CLOSE(grads[k].field, want, (size_t)(n), 1e-3, nm + 5);                        \
    rnn_free(want);
            CHECKG(w_ih, "rnn.weight_ih_l%d%s", G * H * in);
            CHECKG(w_hh, "rnn.weight_hh_l%d%s", G * H * H);
            CHECKG(b_ih, "rnn.bias_ih_l%d%s", G * H);
            CHECKG(b_hh, "rnn.bias_hh_l%d%s", G * H);
            rnn_free(dirs[k].w.w_ih), rnn_free(dirs[k].w.w_hh), rnn_free(dirs[k].w.b_ih),
                rnn_free(dirs[k].w.b_hh);
            rnn_free(grads[k].w_ih), rnn_free(grads[k].w_hh), rnn_free(grads[k].b_ih),
                rnn_free(grads[k].b_hh);
            rnn_free(cache_mem[k]);
        }
    for (int l = 0; l < L; l++) rnn_free(ys[l]);
    rnn_free(bufs[0]), rnn_free(bufs[1]);
    rnn_free(dy), rnn_free(dhn), rnn_free(dcn), rnn_free(dh0), rnn_free(dc0);
    rnn_free(x), rnn_free(h0), rnn_free(c0), rnn_free(work), rnn_free(hn), rnn_free(cn);
    rnn_st_free(st);
}

static const char *const cells[] = {"lstm", "gru", "rnn_tanh", "rnn_relu"};

static void test_fixtures(void) {
    for (int c = 0; c < 4; c++)
        for (int L = 1; L <= 2; L++)
            for (int bi = 0; bi <= 1; bi++) run_case(cells[c], L, bi, 0);
}

static void test_fixtures_zero_state_tied_lengths(void) {
    for (int c = 0; c < 4; c++) run_case(cells[c], 2, 1, 1);
}

static void test_pack_validation(void) {
    int bs[8], offs[9];
    rnn_pack p;
    int bad_order[3] = {2, 3, 1}, bad_len[2] = {9, 1}, ok[3] = {3, 3, 1};
    CHECK(rnn_pack_init(&p, 3, 3, bad_order, bs, offs) == -1, "unsorted lengths rejected");
    CHECK(rnn_pack_init(&p, 3, 2, bad_len, bs, offs) == -1, "length > T rejected");
    CHECK(rnn_pack_init(&p, 3, 3, ok, bs, offs) == 7, "N = 7");
    CHECK(bs[0] == 3 && bs[1] == 2 && bs[2] == 2 && offs[3] == 7, "batch sizes 3,2,2");
}

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The direction in double, straight from the formulas, for any cell: each
 * sequence on its own from h0/c0 (B, H; NULL: zeros), with the candidate
 * scaled by the mask m (NULL: none). y: (N, H) packed. */
static void dir_oracle(rnn_cell cell, int reverse, const rnn_pack *p, int I, int H, const float *W_ih,
                       const float *W_hh, const float *b_ih, const float *b_hh, const float *x,
                       const float *m, const float *h0, const float *c0, double *y) {
    const int G = rnn_cell_gates(cell), GH = G * H;
    double *h = malloc(sizeof(double) * (2 * H + 2 * GH)), *c = h + H, *pre = c + H, *hh = pre + GH;
    for (int b = 0; b < p->B; b++) {
        for (int j = 0; j < H; j++) h[j] = h0 ? h0[b * H + j] : 0, c[j] = c0 ? c0[b * H + j] : 0;
        for (int k = 0; k < p->lengths[b]; k++) {
            int t = reverse ? p->lengths[b] - 1 - k : k;
            size_t row = (size_t)p->offsets[t] + b;
            for (int q = 0; q < GH; q++) {
                double a = b_ih[q], r = b_hh[q];
                for (int i = 0; i < I; i++) a += (double)W_ih[q * I + i] * x[row * I + i];
                for (int j = 0; j < H; j++) r += (double)W_hh[q * H + j] * h[j];
                pre[q] = a, hh[q] = r;
            }
            for (int j = 0; j < H; j++) {
                double mj = m ? m[row * H + j] : 1.0;
                if (cell == RNN_CELL_LSTM) {
                    double ig = sigm(pre[j] + hh[j]), fg = sigm(pre[H + j] + hh[H + j]);
                    double gg = tanh(pre[2 * H + j] + hh[2 * H + j]), og = sigm(pre[3 * H + j] + hh[3 * H + j]);
                    c[j] = fg * c[j] + ig * gg * mj;
                    y[row * H + j] = og * tanh(c[j]);
                } else if (cell == RNN_CELL_GRU) {
                    double rg = sigm(pre[j] + hh[j]), zg = sigm(pre[H + j] + hh[H + j]);
                    double ng = tanh(pre[2 * H + j] + rg * hh[2 * H + j]);
                    y[row * H + j] = (1 - zg) * ng * mj + zg * h[j];
                } else {
                    double v = pre[j] + hh[j];
                    y[row * H + j] = cell == RNN_CELL_RNN_RELU ? (v > 0 ? v : 0) : tanh(v);
                }
            }
            for (int j = 0; j < H; j++) h[j] = y[row * H + j];
        }
    }
    free(h);
}

static void rdrop_oracle(rnn_cell cell, int reverse, const rnn_pack *p, int I, int H,
                         const float *W_ih, const float *W_hh, const float *b_ih,
                         const float *b_hh, const float *x, const float *m, double *y) {
    dir_oracle(cell, reverse, p, I, H, W_ih, W_hh, b_ih, b_hh, x, m, NULL, NULL, y);
}

/* Recurrent dropout (Semeniuta et al. 2016) against the cell formulas
 * computed directly in double, for LSTM and GRU, forward and reverse, over a
 * packed batch of unequal lengths with a mask of zeros and 1/(1-p):
 *   LSTM c' = f c + i (g m), h' = o tanh(c');  GRU h' = (1-z)(n m) + z h.
 * Then the backward pass against central differences of sum(y * w) with the
 * same mask. */
static void test_recurrent_dropout(void) {
    enum { T = 4, B = 3, I = 3, H = 5 };
    int lengths[B] = {4, 3, 1}, bs[T], offs[T + 1];
    rnn_pack p;
    const int N = rnn_pack_init(&p, T, B, lengths, bs, offs);
    rnn_rng rng;
    rnn_rng_seed(&rng, 21);
    for (int ci = 0; ci < 2; ci++)
        for (int reverse = 0; reverse <= 1; reverse++) {
            const rnn_cell cell = ci ? RNN_CELL_GRU : RNN_CELL_LSTM;
            const int GH = rnn_cell_gates(cell) * H;
            float W_ih[4 * H * I], W_hh[4 * H * H], b_ih[4 * H], b_hh[4 * H], x[N * I], m[N * H], w[N * H];
            for (int i = 0; i < GH * I; i++) W_ih[i] = rnn_rng_uniform(&rng) * 1.6f - 0.8f;
            for (int i = 0; i < GH * H; i++) W_hh[i] = rnn_rng_uniform(&rng) * 1.6f - 0.8f;
            for (int i = 0; i < GH; i++) b_ih[i] = rnn_rng_uniform(&rng) - 0.5f, b_hh[i] = rnn_rng_uniform(&rng) - 0.5f;
            for (int i = 0; i < N * I; i++) x[i] = rnn_rng_uniform(&rng) * 2 - 1;
            int zeros = 0;
            for (int i = 0; i < N * H; i++) {
                m[i] = rnn_rng_uniform(&rng) < 0.4f ? 0.0f : 1.0f / 0.6f;
                zeros += m[i] == 0;
                w[i] = rnn_rng_uniform(&rng) * 2 - 1;
            }
            rnn_dir d = {cell, reverse, I, H, {W_ih, W_hh, b_ih, b_hh}, NULL};
            float *cmem = rnn_calloc(rnn_dir_cache_floats(cell, N, H) * sizeof(float));
            float *work = rnn_calloc(rnn_dir_work_floats(cell, N, B, H, 0) * sizeof(float));
            float y[N * H], gw_ih[4 * H * I] = {0}, gw_hh[4 * H * H] = {0}, gb_ih[4 * H] = {0},
                            gb_hh[4 * H] = {0}, dx[N * I];
            double want[N * H];
            rnn_dir_cache cache;
            rnn_dir_cache_bind(&cache, cell, N, H, cmem);
            cache.rmask = m;
            rnn_dir_forward(&d, &p, &cache, y, H, x, I, NULL, NULL, NULL, NULL, work);
            rdrop_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, m, want);
            double worst = 0;
            for (int i = 0; i < N * H; i++) worst = fmax(worst, fabs(y[i] - want[i]));
            char what[64];
            snprintf(what, sizeof what, "%s%s", rnn_cell_name(cell), reverse ? " reverse" : "");
            CHECK(zeros > 5 && zeros < N * H - 5, "%s: the mask drops some units (%d of %d)", what, zeros, N * H);
            CHECK(worst < 1e-5, "%s with recurrent dropout: outputs off the double formulas by %.2e", what, worst);
            /* Backward with the same mask against central differences. */
            rnn_dir_weights g = {gw_ih, gw_hh, gb_ih, gb_hh};
            rnn_dir_backward(&d, &g, &p, &cache, y, H, w, H, x, I, dx, I, 0, NULL, NULL, NULL, NULL, work);
            float *params[4] = {W_ih, W_hh, b_ih, b_hh}, *grads[4] = {gw_ih, gw_hh, gb_ih, gb_hh};
            const int sizes[4] = {GH * I, GH * H, GH, GH};
            double gworst = 0;
            for (int t = 0; t < 5; t++) {
                float *v = t < 4 ? params[t] : x, *gv = t < 4 ? grads[t] : dx;
                const int n = t < 4 ? sizes[t] : N * I;
                for (int i = 0; i < n; i += 3) {
                    double lp = 0, lm = 0, want_y[N * H];
                    const float keep = v[i];
                    v[i] = keep + 1e-3f;
                    rdrop_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, m, want_y);
                    for (int k = 0; k < N * H; k++) lp += want_y[k] * w[k];
                    v[i] = keep - 1e-3f;
                    rdrop_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, m, want_y);
                    for (int k = 0; k < N * H; k++) lm += want_y[k] * w[k];
                    v[i] = keep;
                    double fd = (lp - lm) / (((double)(keep + 1e-3f)) - (double)(keep - 1e-3f));
                    gworst = fmax(gworst, fabs(gv[i] - fd) / fmax(fabs(fd), 1e-2));
                }
            }
            CHECK(gworst < 2e-3, "%s with recurrent dropout: gradients off central differences by %.2e", what, gworst);
            /* An all-ones mask is the plain cell. */
            for (int i = 0; i < N * H; i++) m[i] = 1.0f;
            float y1[N * H], y0[N * H];
            rnn_dir_forward(&d, &p, &cache, y1, H, x, I, NULL, NULL, NULL, NULL, work);
            cache.rmask = NULL;
            rnn_dir_forward(&d, &p, &cache, y0, H, x, I, NULL, NULL, NULL, NULL, work);
            CHECK(!memcmp(y0, y1, sizeof y0), "%s: a mask of ones gives the plain cell's outputs", what);
            printf("  %s: outputs within %.1e of the formulas, gradients within %.1e of differences\n", what,
                   worst, gworst);
            rnn_free(cmem), rnn_free(work);
        }
}

/* The step team (recurrent.c): with 1, 2 and 3 threads each thread owns a
 * block of hidden units and runs their share of every step. At H = 108 the
 * blocks do not divide H (nor the gates) evenly. Whatever the team, the
 * results must agree to rounding (the step products give the same bits; the
 * large products before and after may split their sums differently), and
 * with one thread they must match the formulas in double (forward) and
 * central differences of them (backward; not for relu, whose kinks the
 * differences straddle at this size: the fixtures check it). A packed batch
 * of 24 unequal lengths, given h0/c0, both directions, every cell. */
static void test_step_team(void) {
    enum { T = 6, B = 24, I = 7, H = 108, NT = 3 };
    int lengths[B], bs[T], offs[T + 1];
    for (int b = 0; b < B; b++) lengths[b] = T - b / 5; /* 6,6,6,6,6,5,...,2 */
    rnn_pack p;
    const int N = rnn_pack_init(&p, T, B, lengths, bs, offs);
    rnn_rng rng;
    rnn_rng_seed(&rng, 77);
    const int saved_threads = rnn_get_threads();
    for (int layout = 1; layout <= 2; layout++)
    for (int ci = 0; ci < 4; ci++)
        for (int reverse = 0; reverse <= 1; reverse++) {
            rnn_set_team_layout(layout);
            const rnn_cell cell = (rnn_cell)ci;
            const int GH = rnn_cell_gates(cell) * H;
            float *W_ih = malloc(sizeof(float) * GH * I), *W_hh = malloc(sizeof(float) * GH * H);
            float *b_ih = malloc(sizeof(float) * GH), *b_hh = malloc(sizeof(float) * GH);
            float *x = malloc(sizeof(float) * N * I), *w = malloc(sizeof(float) * N * H);
            float *h0 = malloc(sizeof(float) * B * H), *c0 = malloc(sizeof(float) * B * H);
            const float sc = 1.0f / sqrtf((float)H);
            for (int i = 0; i < GH * I; i++) W_ih[i] = (rnn_rng_uniform(&rng) * 2 - 1) * 0.5f;
            for (int i = 0; i < GH * H; i++) W_hh[i] = (rnn_rng_uniform(&rng) * 2 - 1) * sc;
            for (int i = 0; i < GH; i++) b_ih[i] = rnn_rng_uniform(&rng) - 0.5f, b_hh[i] = rnn_rng_uniform(&rng) - 0.5f;
            for (int i = 0; i < N * I; i++) x[i] = rnn_rng_uniform(&rng) * 2 - 1;
            for (int i = 0; i < N * H; i++) w[i] = rnn_rng_uniform(&rng) * 2 - 1;
            for (int i = 0; i < B * H; i++) h0[i] = rnn_rng_uniform(&rng) - 0.5f, c0[i] = rnn_rng_uniform(&rng) - 0.5f;
            const float *c0p = cell == RNN_CELL_LSTM ? c0 : NULL;
            rnn_dir d = {cell, reverse, I, H, {W_ih, W_hh, b_ih, b_hh}, NULL};
            float *out[NT][6];
            char what[64];
            snprintf(what, sizeof what, "%s%s, %s split", rnn_cell_name(cell), reverse ? " reverse" : "",
                     layout == 1 ? "unit" : "row");
            for (int nt = 1; nt <= NT; nt++) {
                rnn_set_threads(nt);
                float *cmem = rnn_calloc(rnn_dir_cache_floats(cell, N, H) * sizeof(float));
                float *work = rnn_calloc(rnn_dir_work_floats(cell, N, B, H, 0) * sizeof(float));
                float *y = rnn_calloc(sizeof(float) * N * H), *dx = rnn_calloc(sizeof(float) * N * I);
                float *gw_hh = rnn_calloc(sizeof(float) * GH * H), *gw_ih = rnn_calloc(sizeof(float) * GH * I);
                float *gb = rnn_calloc(sizeof(float) * 2 * GH), *dh0 = rnn_calloc(sizeof(float) * 2 * B * H);
                rnn_dir_cache cache;
                rnn_dir_cache_bind(&cache, cell, N, H, cmem);
                rnn_dir_forward(&d, &p, &cache, y, H, x, I, h0, c0p, NULL, NULL, work);
                rnn_dir_weights g = {gw_ih, gw_hh, gb, gb + GH};
                rnn_dir_backward(&d, &g, &p, &cache, y, H, w, H, x, I, dx, I, 0, NULL, NULL, dh0,
                                 cell == RNN_CELL_LSTM ? dh0 + B * H : NULL, work);
                float *o[6] = {y, dx, gw_hh, gw_ih, gb, dh0};
                memcpy(out[nt - 1], o, sizeof o);
                rnn_free(cmem), rnn_free(work);
            }
            rnn_set_threads(saved_threads);
            const size_t sizes[6] = {(size_t)N * H, (size_t)N * I, (size_t)GH * H, (size_t)GH * I, 2 * (size_t)GH,
                                     2 * (size_t)B * H};
            static const char *const names[6] = {"y", "dx", "dW_hh", "dW_ih", "db", "dh0/dc0"};
            double tworst = 0;
            for (int nt = 2; nt <= NT; nt++)
                for (int k = 0; k < 6; k++) {
                    double top = 0, diff = 0;
                    for (size_t i = 0; i < sizes[k]; i++) {
                        top = fmax(top, fabs(out[0][k][i]));
                        diff = fmax(diff, fabs(out[nt - 1][k][i] - out[0][k][i]));
                    }
                    tworst = fmax(tworst, diff / fmax(top, 1e-30));
                    CHECK(diff <= 1e-5 * top, "%s: %s with %d threads off the one-thread result by %.2e (of %.2e)",
                          what, names[k], nt, diff, top);
                }
            /* One thread against the formulas. */
            double *want = malloc(sizeof(double) * N * H), *yp = malloc(sizeof(double) * N * H);
            dir_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, NULL, h0, c0p, want);
            double worst = 0;
            for (int i = 0; i < N * H; i++) worst = fmax(worst, fabs(out[0][0][i] - want[i]));
            CHECK(worst < 1e-5, "%s: outputs off the double formulas by %.2e", what, worst);
            /* Gradients of sum(y * w) against central differences, a sample of each. */
            float *params[6] = {W_hh, W_ih, x, h0, b_ih, b_hh};
            const float *grads[6] = {out[0][2], out[0][3], out[0][1], out[0][5], out[0][4], out[0][4] + GH};
            const int counts[6] = {GH * H, GH * I, N * I, B * H, GH, GH};
            double gworst = 0;
            for (int t = 0; t < 6 * (cell != RNN_CELL_RNN_RELU); t++)
                for (int s = 0; s < 6; s++) {
                    const int i = (int)(rnn_rng_next(&rng) % (uint64_t)counts[t]);
                    float *v = params[t];
                    const float keep = v[i];
                    double lp = 0, lm = 0;
                    v[i] = keep + 1e-3f;
                    dir_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, NULL, h0, c0p, yp);
                    for (int k = 0; k < N * H; k++) lp += yp[k] * w[k];
                    v[i] = keep - 1e-3f;
                    dir_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, NULL, h0, c0p, yp);
                    for (int k = 0; k < N * H; k++) lm += yp[k] * w[k];
                    v[i] = keep;
                    double fd = (lp - lm) / ((double)(keep + 1e-3f) - (double)(keep - 1e-3f));
                    gworst = fmax(gworst, fabs(grads[t][i] - fd) / fmax(fabs(fd), 1e-2));
                }
            CHECK(gworst < 2e-3, "%s: gradients off central differences by %.2e", what, gworst);
            printf("  %s, H=%d: threads 1-%d agree within %.1e; outputs within %.1e of the formulas", what, H,
                   NT, tworst, worst);
            if (cell != RNN_CELL_RNN_RELU) printf(", gradients within %.1e of differences", gworst);
            printf("\n");
            free(want), free(yp);
            for (int nt = 0; nt < NT; nt++)
                for (int k = 0; k < 6; k++) rnn_free(out[nt][k]);
            free(W_ih), free(W_hh), free(b_ih), free(b_hh), free(x), free(w), free(h0), free(c0);
        }
    rnn_set_team_layout(0);
}

/* A single sequence (batch 1): from BLOCKS_MIN_T (8) steps on, its W_hh
 * products run on the matrix-vector kernel of weights in 16-row blocks
 * (infer.h). Against the double formulas: short (5 steps: the general
 * kernel) and long; with and without an initial state; with gate counts
 * that fill the last block of rows (LSTM: 80 rows) and that leave it
 * part-empty (GRU 60, RNN 20); on 1 and 2 threads (a direction of H 20
 * runs alone; the larger sizes below share their blocks out in a team). */
static void test_single_sequence(void) {
    enum { I = 7, TMAX = 40 };
    /* The second size of each cell is large enough (G*H*H >= 2^18) and a
     * multiple of 16, so on 2 threads a team shares its rows of blocks. */
    static const int team_h[4] = {256, 304, 512, 512};
    rnn_rng rng;
    rnn_rng_seed(&rng, 91);
    double worst = 0;
    for (int ci = 0; ci < 4; ci++)
        for (int reverse = 0; reverse <= 1; reverse++)
            for (int ti = 0; ti < 3; ti++)
                for (int state = 0; state <= 1; state++)
                    for (int nt = 1; nt <= 2; nt++) {
                        const rnn_cell cell = (rnn_cell)ci;
                        const int T = ti ? TMAX : 5, H = ti == 2 ? team_h[ci] : 20, GH = rnn_cell_gates(cell) * H;
                        int length = T, bs[TMAX], offs[TMAX + 1];
                        rnn_pack p;
                        rnn_pack_init(&p, T, 1, &length, bs, offs);
                        float *W_ih = malloc(sizeof(float) * GH * I), *W_hh = malloc(sizeof(float) * GH * H);
                        float *b_ih = malloc(sizeof(float) * GH), *b_hh = malloc(sizeof(float) * GH);
                        float *x = malloc(sizeof(float) * T * I), *h0 = malloc(sizeof(float) * 2 * H);
                        const float wsc = 1.8f / sqrtf((float)H); /* 0.4 at H = 20 */
                        for (int i = 0; i < GH * I; i++) W_ih[i] = (rnn_rng_uniform(&rng) * 2 - 1) * 0.5f;
                        for (int i = 0; i < GH * H; i++) W_hh[i] = (rnn_rng_uniform(&rng) * 2 - 1) * wsc;
                        for (int i = 0; i < GH; i++)
                            b_ih[i] = rnn_rng_uniform(&rng) - 0.5f, b_hh[i] = rnn_rng_uniform(&rng) - 0.5f;
                        for (int i = 0; i < T * I; i++) x[i] = rnn_rng_uniform(&rng) * 2 - 1;
                        for (int i = 0; i < 2 * H; i++) h0[i] = rnn_rng_uniform(&rng) - 0.5f;
                        const float *hp = state ? h0 : NULL, *cp = state && cell == RNN_CELL_LSTM ? h0 + H : NULL;
                        rnn_dir d = {cell, reverse, I, H, {W_ih, W_hh, b_ih, b_hh}, NULL};
                        float *cmem = rnn_calloc(rnn_dir_cache_floats(cell, T, H) * sizeof(float));
                        float *work = rnn_calloc(rnn_dir_work_floats(cell, T, 1, H, 0) * sizeof(float));
                        float *y = rnn_calloc(sizeof(float) * T * H), *hn = rnn_calloc(sizeof(float) * H);
                        rnn_dir_cache cache;
                        rnn_dir_cache_bind(&cache, cell, T, H, cmem);
                        rnn_set_threads(nt);
                        rnn_dir_forward(&d, &p, &cache, y, H, x, I, hp, cp, hn, NULL, work);
                        rnn_set_threads(0);
                        double *want = malloc(sizeof(double) * T * H), e = 0, top = 0;
                        dir_oracle(cell, reverse, &p, I, H, W_ih, W_hh, b_ih, b_hh, x, NULL, hp, cp, want);
                        for (int i = 0; i < T * H; i++) e = fmax(e, fabs(y[i] - want[i])), top = fmax(top, fabs(want[i]));
                        const int last = reverse ? 0 : T - 1;
                        for (int j = 0; j < H; j++) e = fmax(e, fabs(hn[j] - want[last * H + j]));
                        CHECK(e < 1e-5 && top > 0.1, "%s%s, one sequence of %d steps, H %d, %s state, %d threads: "
                              "off the double formulas by %.2e", rnn_cell_name(cell), reverse ? " reverse" : "", T, H,
                              state ? "given" : "zero", nt, e);
                        /* W_hh's blocks kept (an inference handle's): the same outputs bit for bit, with
                         * a work buffer that has no room to pack them (ASan sees a write past it) */
                        float *blk = rnn_alloc(rnn_blocks_floats(GH, H) * sizeof(float));
                        float *work2 = rnn_alloc(rnn_dir_work_floats(cell, T, 1, H, 1) * sizeof(float));
                        float *y2 = rnn_calloc(sizeof(float) * T * H), *hn2 = rnn_calloc(sizeof(float) * H);
                        rnn_blocks_pack(blk, W_hh, GH, H);
                        rnn_dir kept = d;
                        kept.blk = blk;
                        rnn_set_threads(nt);
                        rnn_dir_forward(&kept, &p, &cache, y2, H, x, I, hp, cp, hn2, NULL, work2);
                        rnn_set_threads(0);
                        CHECK(!memcmp(y, y2, sizeof(float) * T * H) && !memcmp(hn, hn2, sizeof(float) * H),
                              "%s, %d steps, H %d: kept blocks give the packed-per-call outputs",
                              rnn_cell_name(cell), T, H);
                        /* In a bf16 pass (where the CPU has it) the step products of a single
                         * sequence stay fp32: from the same input projections, the same outputs */
                        if (T >= 8 && rnn_gemm_set_precision(RNN_BF16) == 0) {
                            rnn_gemm_set_precision(RNN_FP32);
                            float *pre = malloc(sizeof(float) * T * GH);
                            for (int t = 0; t < T; t++)
                                for (int g = 0; g < GH; g++) {
                                    double v = 0;
                                    for (int i = 0; i < I; i++) v += (double)x[t * I + i] * W_ih[g * I + i];
                                    pre[t * GH + g] = (float)v;
                                }
                            for (int bf = 0; bf < 2; bf++) {
                                rnn_gemm_set_precision(bf ? RNN_BF16 : RNN_FP32);
                                memcpy(cache.gates, pre, sizeof(float) * T * GH);
                                rnn_set_threads(nt);
                                rnn_dir_forward(&d, &p, &cache, bf ? y2 : y, H, NULL, I, hp, cp, NULL, NULL, work);
                                rnn_set_threads(0);
                            }
                            rnn_gemm_set_precision(RNN_FP32);
                            CHECK(!memcmp(y, y2, sizeof(float) * T * H), "%s, %d steps, H %d: a bf16 pass's step "
                                  "products of one sequence are fp32's", rnn_cell_name(cell), T, H);
                            free(pre);
                        }
                        rnn_free(blk), rnn_free(work2), rnn_free(y2), rnn_free(hn2);
                        worst = fmax(worst, e);
                        free(want), free(W_ih), free(W_hh), free(b_ih), free(b_hh), free(x), free(h0);
                        rnn_free(cmem), rnn_free(work), rnn_free(y), rnn_free(hn);
                    }
    printf("  one sequence of 5 and 40 steps, H 20 and 256-512, every cell, both directions, 1 and 2 threads: "
           "within %.1e of the formulas\n", worst);
}

int main(void) {
    RUN(test_pack_validation);
    RUN(test_single_sequence);
    RUN(test_fixtures);
    RUN(test_fixtures_zero_state_tied_lengths);
    RUN(test_recurrent_dropout);
    RUN(test_step_team);
    return harness_end();
}
