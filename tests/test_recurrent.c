/* test_recurrent.c: RNN / LSTM / GRU layers (1 and 2 layers, uni- and
 * bidirectional, unequal lengths, given and zero initial state) against the
 * PyTorch fixtures written by tests/ref/make_fixtures.py: outputs, final
 * states and the gradients of every parameter, of the input and of the
 * initial state. Forward within 1e-4 relative error, gradients within 1e-3. */
#include "harness.h"

#include "recurrent.h"
#include "safetensors.h"
#include "util.h"

#define FIX "tests/fixtures/"

static float *get(const rnn_st *st, const char *name, size_t *n) {
    const rnn_st_tensor *t = rnn_st_find(st, name);
    if (!t) return NULL;
    float *buf = rnn_calloc(t->numel * sizeof(float) + 4);
    if (rnn_st_read_f32(st, name, buf, t->numel, 0, NULL)) {
        rnn_free(buf);
        return NULL;
    }
    if (n) *n = t->numel;
    return buf;
}

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
    float *work = rnn_calloc(rnn_dir_work_floats(cell, N, B, H) * sizeof(float));
    float *hn = rnn_calloc((size_t)L * D * B * H * sizeof(float));
    float *cn = rnn_calloc((size_t)L * D * B * H * sizeof(float));
    for (int l = 0; l < L; l++) {
        ys[l] = rnn_calloc((size_t)N * DH * sizeof(float));
        for (int d = 0; d < D; d++) {
            int k = l * D + d;
            const char *sfx = d ? "_reverse" : "";
            char nm[64];
            int in = l ? DH : I;
            dirs[k] = (rnn_dir){cell, d, in, H, {0}};
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

int main(void) {
    RUN(test_pack_validation);
    RUN(test_fixtures);
    RUN(test_fixtures_zero_state_tied_lengths);
    return harness_end();
}
