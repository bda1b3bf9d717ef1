/* test_layers.c: embedding, pooling heads and losses against the PyTorch
 * fixtures of tests/ref/make_fixtures.py, and finite-difference gradient
 * checks of every layer (recurrent cells, pooling, linear, losses) and of a
 * whole model. */
#include "harness.h"
#include "st_edit.h"

#include "activations.h"
#include "gemm.h"
#include "layers.h"
#include "model.h"
#include "options.h"
#include "safetensors.h"
#include "util.h"

#define FIX "tests/fixtures/"

/* a fixture's tensor (st_edit.h), named where it is missing */
static float *get(const rnn_st *st, const char *name, size_t *n) {
    float *t = fixture_tensor(st, name, n);
    if (!t && !rnn_st_find(st, name)) fprintf(stderr, "missing tensor %s\n", name);
    return t;
}

/* got (n floats) against the fixture's tensor name, within tol. */
static void check_tensor(const rnn_st *st, const char *name, const float *got, size_t n, double tol, const char *what) {
    float *want = get(st, name, NULL);
    CHECK_CLOSE(got, want, n, tol, what);
    rnn_free(want);
}

static void test_embedding(void) {
    rnn_st *st = rnn_st_load(FIX "embedding.safetensors");
    CHECK(st, "load: %s", rnn_last_error());
    if (!st) return;
    size_t nw = 0, nid;
    float *W = get(st, "weight", &nw), *dout = get(st, "dout", NULL), *want = get(st, "out", NULL);
    int32_t ids[64];
    nid = (size_t)rnn_st_find(st, "ids")->numel;
    rnn_st_read_i32(st, "ids", ids, nid);
    int E = (int)rnn_st_find(st, "weight")->shape[1];
    float *out = rnn_calloc(nid * E * sizeof(float)), *dW = rnn_calloc(nw * sizeof(float));
    rnn_embedding_forward(out, W, ids, (int)nid, E);
    CHECK_CLOSE(out, want, nid * E, 1e-6, "embedding forward");
    rnn_free(want);
    rnn_embedding_backward(dW, dout, ids, (int)nid, E, 0);
    want = get(st, "grad.weight", NULL);
    CHECK_CLOSE(dW, want, nw, 1e-5, "embedding grad (padding row 0 untouched)");
    rnn_free(want), rnn_free(W), rnn_free(dout), rnn_free(out), rnn_free(dW);
    rnn_st_free(st);
}

static void pool_case(const char *kind_name, int bi) {
    char path[128];
    snprintf(path, sizeof path, FIX "pool_%s_%s.safetensors", kind_name, bi ? "bi" : "uni");
    rnn_st *st = rnn_st_load(path);
    CHECK(st, "load: %s", rnn_last_error());
    if (!st) return;
    rnn_pool kind;
    rnn_pool_parse(kind_name, &kind);
    const rnn_st_tensor *ot = rnn_st_find(st, "o");
    int N = (int)ot->shape[0], F = (int)ot->shape[1];
    int B = (int)rnn_st_find(st, "lengths")->numel, T = (int)rnn_st_find(st, "batch_sizes")->numel;
    int lengths[16], bs[64], offs[65];
    rnn_st_read_i32(st, "lengths", lengths, B);
    rnn_pack p;
    rnn_pack_init(&p, T, B, lengths, bs, offs);
    float *o = get(st, "o", NULL), *dpooled = get(st, "dpooled", NULL);
    rnn_pooler pl = {kind, F, bi ? 2 : 1, 0, NULL, NULL, NULL};
    float *w1 = NULL, *b1 = NULL, *w2 = NULL, *dw1 = NULL, *db1 = NULL, *dw2 = NULL;
    if (kind == RNN_POOL_ATTENTION) {
        pl.A = (int)rnn_st_find(st, "attention.0.weight")->shape[0];
        pl.w1 = w1 = get(st, "attention.0.weight", NULL);
        pl.b1 = b1 = get(st, "attention.0.bias", NULL);
        pl.w2 = w2 = get(st, "attention.2.weight", NULL);
        dw1 = rnn_calloc((size_t)pl.A * F * sizeof(float));
        db1 = rnn_calloc((size_t)pl.A * sizeof(float));
        dw2 = rnn_calloc((size_t)pl.A * sizeof(float));
    }
    float *cm = rnn_calloc((rnn_pool_cache_floats(&pl, N, B, N) + 1) * sizeof(float));
    float *scratch = rnn_calloc((rnn_pool_scratch_floats(&pl, N, B) + 1) * sizeof(float));
    rnn_pool_cache c;
    rnn_pool_cache_bind(&c, &pl, B, N, cm);
    int P = rnn_pool_width(kind, F);
    float *out = rnn_calloc((size_t)B * P * sizeof(float)), *dO = rnn_calloc((size_t)N * F * sizeof(float));
    rnn_pool_forward(&pl, &p, out, o, &c, scratch);
    char what[96];
    snprintf(what, sizeof what, "pool %s %s forward", kind_name, bi ? "bi" : "uni");
    check_tensor(st, "pooled", out, (size_t)B * P, 1e-5, what);
    if (kind == RNN_POOL_ATTENTION) {
        check_tensor(st, "weights", c.alpha, (size_t)N, 1e-5, "  attention weights");
        /* inference's cache: u a block of rows at a time, the same output */
        float *want = get(st, "pooled", NULL);
        for (int rows = 1; rows < N; rows += 2) {
            float *cm2 = rnn_calloc((rnn_pool_cache_floats(&pl, N, B, rows) + 1) * sizeof(float));
            float *out2 = rnn_calloc((size_t)B * P * sizeof(float));
            rnn_pool_cache c2;
            rnn_pool_cache_bind(&c2, &pl, B, rows, cm2);
            rnn_pool_forward(&pl, &p, out2, o, &c2, NULL);
            snprintf(what, sizeof what, "  forward with u %d rows at a time (of %d)", rows, N);
            CHECK_CLOSE(out2, want, (size_t)B * P, 1e-5, what);
            rnn_free(cm2), rnn_free(out2);
        }
        rnn_free(want);
    }
    /* A chunk of k time steps at a time (a unidirectional classifier's long
     * text, model.c): the same output, weights and argmax rows, the rows of u
     * in blocks of 2 inside each chunk. */
    for (int k = 1; k <= T; k++) {
        float *cm2 = rnn_calloc((rnn_pool_cache_floats(&pl, N, B, 2) + 1) * sizeof(float));
        float *out2 = rnn_calloc((size_t)B * P * sizeof(float));
        rnn_pool_cache c2;
        rnn_pool_cache_bind(&c2, &pl, B, 2, cm2);
        rnn_pool_begin(&pl, B, out2, &c2);
        int sub_off[65], sub_len[16];
        for (int t0 = 0; t0 < T; t0 += k) {
            const int t1 = t0 + k < T ? t0 + k : T, r0 = offs[t0];
            for (int t = t0; t <= t1; t++) sub_off[t - t0] = offs[t] - r0;
            for (int b = 0; b < bs[t0]; b++) sub_len[b] = lengths[b] - t0 < t1 - t0 ? lengths[b] - t0 : t1 - t0;
            const rnn_pack q = {t1 - t0, bs[t0], offs[t1] - r0, bs + t0, sub_off, sub_len};
            rnn_pool_chunk(&pl, &q, t0, r0, lengths, out2, o + (size_t)r0 * F, &c2);
        }
        rnn_pool_end(&pl, &p, out2, &c2);
        snprintf(what, sizeof what, "  in chunks of %d steps (of %d)", k, T);
        check_tensor(st, "pooled", out2, (size_t)B * P, 1e-5, what);
        if (kind == RNN_POOL_ATTENTION) check_tensor(st, "weights", c2.alpha, (size_t)N, 1e-5, "    attention weights");
        if (c.argmax)
            CHECK(!memcmp(c2.argmax, c.argmax, sizeof(int32_t) * B * F), "    argmax rows as in one pass");
        rnn_free(cm2), rnn_free(out2);
    }
    rnn_pool_backward(&pl, &p, dO, dw1, db1, dw2, dpooled, o, &c, scratch);
    check_tensor(st, "grad.o", dO, (size_t)N * F, 1e-4, "  grad.o");
    if (kind == RNN_POOL_ATTENTION) {
        check_tensor(st, "grad.attention.0.weight", dw1, (size_t)pl.A * F, 1e-4, "  grad.attention.0.weight");
        check_tensor(st, "grad.attention.0.bias", db1, (size_t)pl.A, 1e-4, "  grad.attention.0.bias");
        check_tensor(st, "grad.attention.2.weight", dw2, (size_t)pl.A, 1e-4, "  grad.attention.2.weight");
    }
    rnn_free(o), rnn_free(dpooled), rnn_free(w1), rnn_free(b1), rnn_free(w2), rnn_free(dw1),
        rnn_free(db1), rnn_free(dw2), rnn_free(cm), rnn_free(scratch), rnn_free(out), rnn_free(dO);
    rnn_st_free(st);
}

static void test_pooling(void) {
    const char *kinds[] = {"last", "mean", "max", "meanmax", "attention"};
    for (int k = 0; k < 5; k++)
        for (int bi = 0; bi <= 1; bi++) pool_case(kinds[k], bi);
}

static void test_losses(void) {
    rnn_st *st = rnn_st_load(FIX "loss_ce.safetensors");
    CHECK(st, "load: %s", rnn_last_error());
    if (st) {
        const rnn_st_tensor *lt = rnn_st_find(st, "logits");
        int N = (int)lt->shape[0], C = (int)lt->shape[1];
        float *x = get(st, "logits", NULL), *g = get(st, "grad.logits", NULL), want;
        int32_t tg[64];
        rnn_st_read_i32(st, "targets", tg, N);
        rnn_st_read_f32(st, "loss", &want, 1, 0, NULL);
        int nv;
        float loss = (float)rnn_softmax_xent_eval(x, tg, N, C, &nv, NULL);
        CHECK_CLOSE(&loss, &want, 1, 1e-6, "cross-entropy (eval, ignore_index)");
        loss = (float)rnn_softmax_xent(x, tg, N, C, &nv, NULL);
        CHECK_CLOSE(&loss, &want, 1, 1e-6, "cross-entropy");
        CHECK(nv == N - 2, "two ignored rows (%d valid)", nv);
        CHECK_CLOSE(x, g, (size_t)N * C, 1e-5, "cross-entropy grad");
        rnn_free(x), rnn_free(g);
        rnn_st_free(st);
    }
    st = rnn_st_load(FIX "loss_bce.safetensors");
    CHECK(st, "load: %s", rnn_last_error());
    if (st) {
        int N = (int)rnn_st_find(st, "logits")->numel;
        float *x = get(st, "logits", NULL), *y = get(st, "targets", NULL), *g = get(st, "grad.logits", NULL), want;
        rnn_st_read_f32(st, "loss", &want, 1, 0, NULL);
        float loss = (float)rnn_bce_logits(x, y, N, NULL);
        CHECK_CLOSE(&loss, &want, 1, 1e-6, "bce with logits (|x| = 30 included)");
        CHECK_CLOSE(x, g, (size_t)N, 1e-5, "bce grad");
        rnn_free(x), rnn_free(y), rnn_free(g);
        rnn_st_free(st);
    }
}

/* --class-weight and --label-smoothing's losses (rnn_softmax_xent_cfg,
 * rnn_bce_logits_cfg) against tests/ref/make_loss_fixtures.py's PyTorch
 * cases: weighted ce, smoothed ce (5 and 1031 wide), both (PyTorch's
 * weighting of the smoothing term), each with ignored rows; weighted bce
 * and weighted smoothed bce. Loss and every gradient. */
static void loss_cfg_case(const char *name) {
    char path[128];
    snprintf(path, sizeof path, FIX "loss_cfg_%s.safetensors", name);
    rnn_st *st = rnn_st_load(path);
    CHECK(st, "load: %s", rnn_last_error());
    if (!st) return;
    const rnn_st_tensor *lt = rnn_st_find(st, "logits");
    const int bce = !strcmp(rnn_st_meta(st, "loss"), "bce");
    const int N = (int)lt->shape[0], C = bce ? 1 : (int)lt->shape[1];
    float *x = get(st, "logits", NULL), *g = get(st, "grad.logits", NULL), want, loss;
    float *w = rnn_st_find(st, "weight") ? get(st, "weight", NULL) : NULL;
    const rnn_loss_cfg lc = {w, (float)atof(rnn_st_meta(st, "smoothing"))};
    rnn_st_read_f32(st, "loss", &want, 1, 0, NULL);
    char what[96];
    if (bce) {
        float *y = get(st, "targets", NULL), *x0 = malloc(sizeof(float) * N);
        memcpy(x0, x, sizeof(float) * N);
        int nc, nc0;
        loss = (float)rnn_bce_logits_cfg(x, y, N, &lc, &nc);
        rnn_bce_logits(x0, y, N, &nc0);
        CHECK(nc == nc0, "%s: %d correct, the plain loss counts %d (against the unsmoothed targets)", name, nc, nc0);
        rnn_free(y), free(x0);
    } else {
        int32_t *tg = malloc(sizeof(int32_t) * N);
        rnn_st_read_i32(st, "targets", tg, N);
        int nv, ignored = 0;
        for (int n = 0; n < N; n++) ignored += tg[n] < 0;
        if (w) { /* the weighted mean does not change when every weight does: weights times 2^123
                  * (~1e37) give PyTorch's loss and gradient, and times 2^-133 (~1e-40, a float's
                  * denormals, rounded to their fewer bits) those of the rounded weights times 2^133 */
            float *ws = malloc(sizeof(float) * C), *wb = malloc(sizeof(float) * C);
            float *xs = malloc(sizeof(float) * N * C), *xb = malloc(sizeof(float) * N * C);
            for (int k = 0; k < 2; k++) {
                const int e = k ? -133 : 123;
                for (int c = 0; c < C; c++) ws[c] = ldexpf(w[c], e), wb[c] = k ? ldexpf(ws[c], 133) : w[c];
                memcpy(xs, x, sizeof(float) * N * C), memcpy(xb, x, sizeof(float) * N * C);
                const rnn_loss_cfg lcs = {ws, lc.label_smoothing}, lcb = {wb, lc.label_smoothing};
                float ls = (float)rnn_softmax_xent_cfg(xs, tg, N, C, &lcs, NULL, NULL);
                float lb = k ? (float)rnn_softmax_xent_cfg(xb, tg, N, C, &lcb, NULL, NULL) : want;
                snprintf(what, sizeof what, "%s loss, weights x 2^%d", name, e);
                CHECK_CLOSE(&ls, &lb, 1, 1e-6, what);
                snprintf(what, sizeof what, "%s grad, weights x 2^%d", name, e);
                CHECK_CLOSE(xs, k ? xb : g, (size_t)N * C, 1e-5, what);
            }
            free(ws), free(wb), free(xs), free(xb);
        }
        loss = (float)rnn_softmax_xent_cfg(x, tg, N, C, &lc, &nv, NULL);
        CHECK(ignored > 0 && nv == N - ignored, "%s: %d valid rows of %d (%d ignored)", name, nv, N, ignored);
        free(tg);
    }
    snprintf(what, sizeof what, "%s loss (smoothing %g%s)", name, lc.label_smoothing, w ? ", weights" : "");
    CHECK_CLOSE(&loss, &want, 1, 1e-6, what);
    snprintf(what, sizeof what, "%s grad", name);
    CHECK_CLOSE(x, g, (size_t)N * C, 1e-5, what);
    rnn_free(x), rnn_free(g), rnn_free(w);
    rnn_st_free(st);
}

/* No weights and no smoothing is the plain loss itself: the same bits. */
static void plain_cfg_same(void) {
    rnn_st *st = rnn_st_load(FIX "loss_ce.safetensors");
    CHECK(st, "load: %s", rnn_last_error());
    if (!st) return;
    const rnn_st_tensor *lt = rnn_st_find(st, "logits");
    const int N = (int)lt->shape[0], C = (int)lt->shape[1];
    float *a = get(st, "logits", NULL), *b = get(st, "logits", NULL);
    int32_t tg[64];
    rnn_st_read_i32(st, "targets", tg, N);
    const rnn_loss_cfg zero = {NULL, 0};
    double la = rnn_softmax_xent(a, tg, N, C, NULL, NULL), lb = rnn_softmax_xent_cfg(b, tg, N, C, &zero, NULL, NULL);
    CHECK(la == lb && !memcmp(a, b, sizeof(float) * N * C), "ce with a zero rnn_loss_cfg: not the plain loss's bits");
    rnn_free(a), rnn_free(b);
    rnn_st_free(st);
    st = rnn_st_load(FIX "loss_bce.safetensors");
    CHECK(st, "load: %s", rnn_last_error());
    if (!st) return;
    const int n = (int)rnn_st_find(st, "logits")->numel;
    float *x = get(st, "logits", NULL), *y = get(st, "logits", NULL), *t = get(st, "targets", NULL);
    la = rnn_bce_logits(x, t, n, NULL), lb = rnn_bce_logits_cfg(y, t, n, NULL, NULL);
    CHECK(la == lb && !memcmp(x, y, sizeof(float) * n), "bce with no rnn_loss_cfg: not the plain loss's bits");
    rnn_free(x), rnn_free(y), rnn_free(t);
    rnn_st_free(st);
}

static void test_loss_cfg(void) {
    const char *cases[] = {"ce_w", "ce_ls", "ce_wls", "ce_ls_wide", "bce_w", "bce_wls"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) loss_cfg_case(cases[i]);
    plain_cfg_same();
}

/* The oracle: mean softmax cross-entropy over rows with a target >= 0, in
 * double with libm's exp (the library's own rows use a float polynomial
 * exp, whose rounding would blur finite differences); grad, if not NULL,
 * gets d(mean loss)/d(logits). */
static double ref_xent(const float *x, const int32_t *tg, int N, int C, double *grad) {
    int valid = 0;
    for (int n = 0; n < N; n++) valid += tg[n] >= 0;
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *r = x + (size_t)n * C;
        double mx = -INFINITY, s = 0;
        for (int c = 0; c < C; c++) mx = fmax(mx, r[c]);
        for (int c = 0; c < C; c++) s += exp(r[c] - mx);
        if (tg[n] >= 0) total += log(s) + mx - r[tg[n]];
        if (grad)
            for (int c = 0; c < C; c++)
                grad[(size_t)n * C + c] = tg[n] < 0 ? 0 : (exp(r[c] - mx) / s - (c == tg[n])) / valid;
    }
    return valid ? total / valid : 0;
}

/* Rows as wide as a word model's vocabulary (the vectorised path, its
 * 1024-wide blocks and a ragged tail) against the double oracle, and the
 * accuracy count's first-maximum rule on a tie. */
/* Logits of 1e31 (a model whose weights blew up but stayed finite): the
 * loss of 60 equal logits is log 60, not 0 (log(total) lost beside 1e31). */
static void test_huge_logits_xent(void) {
    enum { C = 60 };
    float x[C];
    for (int c = 0; c < C; c++) x[c] = 1e31f;
    int32_t tg[1] = {7};
    int nv;
    double got = rnn_softmax_xent_eval(x, tg, 1, C, &nv, NULL);
    CHECK(fabs(got - log(60.0)) < 1e-9, "60 equal logits of 1e31: loss %.9f, want log 60 = %.9f", got, log(60.0));
    x[7] = 0; /* the target far below the rest: a loss of 1e31, not 0 or inf */
    got = rnn_softmax_xent_eval(x, tg, 1, C, &nv, NULL);
    CHECK(fabs(got / 1e31 - 1) < 1e-6, "a target 1e31 below the rest: loss %g, want 1e31", got);
}

static void test_wide_xent(void) {
    const int N = 3, C = 20003;
    float *x = rnn_alloc(sizeof(float) * N * C), *g = rnn_alloc(sizeof(float) * N * C);
    double *want = malloc(sizeof(double) * N * C);
    rnn_rng rng;
    rnn_rng_seed(&rng, 5);
    for (int i = 0; i < N * C; i++) x[i] = 12.0f * (rnn_rng_uniform(&rng) - 0.5f);
    x[C + 777] = 9.0f, x[C + 20001] = 9.0f; /* row 1: a tie for the maximum */
    x[2 * C + 4] = 30.0f;                   /* row 2: one dominant logit */
    int32_t tg[3] = {20002, 20001, 4};
    memcpy(g, x, sizeof(float) * N * C);
    double ref = ref_xent(x, tg, N, C, want);
    int nv, nc;
    double got = rnn_softmax_xent_eval(x, tg, N, C, &nv, &nc);
    CHECK(fabs(got - ref) < 1e-6 * fabs(ref), "wide rows: eval loss %.9f, double oracle %.9f", got, ref);
    CHECK(nv == 3 && nc == 1, "wide rows: %d valid, %d correct (want 3, 1: the tie goes to the first)", nv, nc);
    got = rnn_softmax_xent(g, tg, N, C, &nv, &nc);
    CHECK(fabs(got - ref) < 1e-6 * fabs(ref), "wide rows: loss %.9f, double oracle %.9f", got, ref);
    double worst = 0;
    for (int i = 0; i < N * C; i++) worst = fmax(worst, fabs(g[i] - want[i]));
    CHECK(worst < 1e-7, "wide rows: gradient off the oracle by %.3e", worst);
    tg[1] = 777;
    rnn_softmax_xent_eval(x, tg, N, C, &nv, &nc);
    CHECK(nc == 2, "wide rows: target at the first of two maxima counts as correct (%d)", nc);
    printf("  wide rows (C = %d): loss %.7f, gradient within %.1e of the double oracle\n", C, ref, worst);
    rnn_free(x), rnn_free(g), free(want);
}

/* ---- finite differences over a whole model ---------------------------------
 * loss(w) = CE of the model's logits; each parameter tensor's analytic
 * gradient is compared with (loss(w+h) - loss(w-h)) / 2h at a sample of
 * entries, in float32 with h = 1e-2 (the loss is smooth at this scale; relu
 * cells are checked away from kinks by the fixture tests instead). */
/* With dropout configured the forward runs in training mode with the random
 * stream re-seeded on every call, so every evaluation uses the same masks. */
static double model_loss(rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids,
                         const int32_t *targets, const float *ft) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 99);
    int train = m->c.dropout > 0 || m->c.head_dropout > 0 || m->c.embed_dropout > 0 || m->c.weight_drop > 0 ||
                m->c.recurrent_dropout > 0;
    rnn_model_forward(m, a, p, ids, 0, train, &rng);
    if (m->c.task == RNN_TASK_CLASSIFY && m->c.loss == RNN_LOSS_BCE) {
        float tmp[16];
        memcpy(tmp, a->logits, sizeof(float) * p->B);
        return rnn_bce_logits(tmp, ft, p->B, NULL);
    }
    return ref_xent(a->logits, targets, a->n_logit_rows, m->n_out, NULL);
}

/* A model of config c, initialised with init_seed, then every weight moved
 * by up to scale / 2 from rng (which the caller goes on using): larger
 * weights make a sharper test than PyTorch's small init. NULL if creation
 * failed (a failed check). */
static rnn_model *perturbed_model(rnn_config *c, uint64_t init_seed, float scale, rnn_rng *rng,
                                  const char *what) {
    rnn_model *m = rnn_model_create(c);
    CHECK(m, "%s: create: %s", what, rnn_last_error());
    if (!m) return NULL;
    rnn_model_init(m, init_seed);
    CHECK(rnn_model_alloc_grad(m) == 0, "%s: gradients: %s", what, rnn_last_error());
    for (size_t i = 0; i < m->n_floats; i++) m->w[i] += scale * (rnn_rng_uniform(rng) - 0.5f);
    return m;
}

static void gradcheck(rnn_config *c, const char *what) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 3);
    rnn_model *m = perturbed_model(c, 7, 0.3f, &rng, what);
    if (!m) return;
    const int T = 5, B = 3;
    int lengths[3] = {5, 3, 2};
    if (c->task == RNN_TASK_LM) lengths[1] = lengths[2] = 5;
    rnn_acts *a = rnn_acts_create(m, T, B);
    rnn_pack p;
    rnn_pack_init(&p, T, B, lengths, a->batch_sizes, a->offsets);
    int32_t ids[15], targets[15];
    float ft[3] = {1, 0, 1};
    for (int n = 0; n < p.N; n++) {
        /* Never the padding id: its row gets no gradient by definition. */
        ids[n] = (int32_t)(1 + rnn_rng_next(&rng) % (c->vocab_size - 1));
        targets[n] = (int32_t)(rnn_rng_next(&rng) % (c->task == RNN_TASK_LM ? c->vocab_size : c->num_classes));
    }
    if (c->task == RNN_TASK_CLASSIFY) targets[0] = 1, targets[1] = 0, targets[2] = 1;
    model_loss(m, a, &p, ids, targets, ft);
    if (c->task == RNN_TASK_CLASSIFY && c->loss == RNN_LOSS_BCE)
        rnn_bce_logits(a->logits, ft, B, NULL);
    else
        rnn_softmax_xent(a->logits, targets, a->n_logit_rows, m->n_out, NULL, NULL);
    rnn_model_zero_grad(m);
    rnn_model_backward(m, a, &p, ids);
    double worst = 0, l0 = model_loss(m, a, &p, ids, targets, ft);
    const char *worst_name = "";
    int kinks = 0;
    for (int k = 0; k < m->n_params; k++) {
        const rnn_param *q = &m->params[k];
        for (int s = 0; s < 6; s++) {
            size_t i = q->offset + (size_t)(rnn_rng_next(&rng) % q->numel);
            if (k == 0) i = q->offset + (size_t)ids[s % p.N] * c->embed_dim + s % c->embed_dim;
            /* Max pooling switches argmax under large steps: use a smaller one. */
            const int piecewise = c->pool == RNN_POOL_MAX || c->pool == RNN_POOL_MEANMAX;
            float keep = m->w[i], h = piecewise && c->task == RNN_TASK_CLASSIFY ? 2.5e-4f : 4e-3f;
            m->w[i] = keep + h;
            double lp = model_loss(m, a, &p, ids, targets, ft);
            m->w[i] = keep - h;
            double lm = model_loss(m, a, &p, ids, targets, ft);
            m->w[i] = keep;
            /* Max pooling and relu are piecewise: skip a sample whose two
             * one-sided slopes disagree (the step crossed a kink). */
            if (fabs((lp - l0) - (l0 - lm)) > 0.05 * fabs(lp - lm) + 1e-5) {
                kinks++;
                continue;
            }
            double num = (lp - lm) / (2 * h), ana = m->g[i];
            double err = fabs(num - ana) / fmax(fabs(num) + fabs(ana), 1e-2);
            if (err > worst) worst = err, worst_name = q->name;
        }
    }
    printf("  %-44s worst rel err %.2e (%s)%s\n", what, worst, worst_name,
           kinks ? " (samples at kinks skipped)" : "");
    CHECK(kinks < 6, "%s: %d samples at kinks", what, kinks);
    CHECK(worst < 2e-2, "%s: finite differences disagree (%.3e at %s)", what, worst, worst_name);
    rnn_acts_free(a);
    rnn_model_free(m);
}

static void test_gradcheck_models(void) {
    const rnn_cell cells[] = {RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_RNN_TANH};
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_LM);
        c.cell = cells[ci], c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5, c.num_layers = 2;
        char what[96];
        snprintf(what, sizeof what, "lm %s 2 layers", rnn_cell_name(cells[ci]));
        gradcheck(&c, what);
        c.residual = 1, c.embed_dim = 5, c.bidirectional = 0;
        snprintf(what, sizeof what, "lm %s residual", rnn_cell_name(cells[ci]));
        gradcheck(&c, what);
        for (int pk = 0; pk <= RNN_POOL_ATTENTION; pk++) {
            rnn_config_default(&c, RNN_TASK_CLASSIFY);
            c.cell = cells[ci], c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5;
            c.num_layers = 2, c.bidirectional = 1, c.pool = (rnn_pool)pk, c.num_classes = 3;
            c.attention_dim = 3, c.padding_id = 0;
            snprintf(what, sizeof what, "classify bi%s pool %s", rnn_cell_name(cells[ci]),
                     rnn_pool_name((rnn_pool)pk));
            gradcheck(&c, what);
        }
    }
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5, c.num_layers = 3, c.dropout = 0.3f;
    gradcheck(&c, "lm lstm 3 layers, dropout 0.3 between them");
    c.embed_dropout = 0.4f;
    gradcheck(&c, "lm lstm 3 layers, dropout 0.3 between them, 0.4 on the embedding");
    c.head_dropout = 0.35f;
    gradcheck(&c, "lm lstm 3 layers, dropout 0.3 between, 0.4 on the embedding, 0.35 before the head");
    c.locked_dropout = 1;
    gradcheck(&c, "lm lstm 3 layers, the same dropouts locked (one mask per sequence)");
    c.locked_dropout = 0;
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5, c.num_layers = 2, c.bidirectional = 1;
    c.cell = RNN_CELL_GRU, c.dropout = 0.25f, c.head_dropout = 0.4f, c.num_classes = 3;
    c.pool = RNN_POOL_MEAN;
    gradcheck(&c, "classify bigru dropout + head dropout");
    c.weight_drop = 0.5f;
    gradcheck(&c, "classify bigru dropout + head dropout + weight drop 0.5");
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5, c.num_layers = 2, c.weight_drop = 0.4f;
    gradcheck(&c, "lm lstm 2 layers, weight drop 0.4 on W_hh");
    c.cell = RNN_CELL_RNN_TANH, c.head_dropout = 0.2f;
    gradcheck(&c, "lm rnn_tanh 2 layers, weight drop 0.4, head dropout 0.2");
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5, c.num_layers = 2, c.recurrent_dropout = 0.4f;
    gradcheck(&c, "lm lstm 2 layers, recurrent dropout 0.4");
    c.cell = RNN_CELL_GRU, c.dropout = 0.2f;
    gradcheck(&c, "lm gru 2 layers, recurrent dropout 0.4, dropout 0.2");
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 7, c.embed_dim = 4, c.hidden_dim = 5, c.num_layers = 2, c.bidirectional = 1;
    c.num_classes = 3, c.pool = RNN_POOL_MAX, c.recurrent_dropout = 0.3f, c.padding_id = 0;
    gradcheck(&c, "classify bilstm 2 layers, recurrent dropout 0.3, max pool");
    /* Tied weights: the embedding's gradient sums its input and output roles. */
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 7, c.embed_dim = 5, c.hidden_dim = 5, c.num_layers = 1, c.tie_weights = 1;
    gradcheck(&c, "lm lstm tied embedding and output layer");
    c.cell = RNN_CELL_GRU, c.num_layers = 2, c.head_dropout = 0.2f, c.embed_dropout = 0.2f;
    gradcheck(&c, "lm gru 2 layers tied, head and embedding dropout");
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.cell = RNN_CELL_NONE, c.vocab_size = 9, c.embed_dim = 4, c.pool = RNN_POOL_MEAN, c.num_classes = 2;
    c.loss = RNN_LOSS_BCE;
    gradcheck(&c, "bag of embeddings, bce");
    c.embed_dropout = 0.3f;
    gradcheck(&c, "bag of embeddings, bce, embedding dropout 0.3");
}

/* ---- layer 0 by lookup (model.c, fold_prepare) -------------------------------
 * With at least twice as many rows as tokens in the vocabulary, layer 0's
 * input projection comes from a table of the embedding's rows times W_ih^T,
 * and its gradients from dG summed by token. The same batch through the plain
 * products (a->fold set to NULL) must give the same logits and gradients; the
 * finite differences above check the lookup path absolutely (their LM cases
 * have 15 rows for 7 tokens). The table is filled with NaN first, so a test
 * whose batch did not take the lookup fails instead of comparing a path with
 * itself. */
static void lookup_case(rnn_config *c, int T, int B, const int *lengths, int distinct, int expect,
                        const char *what) {
    rnn_rng rng;
    rnn_rng_seed(&rng, 5);
    rnn_model *m = perturbed_model(c, 11, 0.2f, &rng, what);
    if (!m) return;
    if (c->padding_id >= 0) /* the padding row stays zero, as training keeps it */
        memset(m->emb + (size_t)c->padding_id * c->embed_dim, 0, sizeof(float) * c->embed_dim);
    rnn_acts *a[2];
    float *grads[2], *logits[2];
    int32_t ids[64], targets[64];
    int rows = 0;
    for (int b = 0; b < B; b++) rows += lengths[b];
    int32_t pool[64]; /* the batch's tokens: `distinct` of the vocabulary, the padding id too */
    for (int u = 0; u < distinct; u++) pool[u] = (int32_t)(u ? rnn_rng_next(&rng) % c->vocab_size : 0);
    for (int n = 0; n < rows; n++) {
        ids[n] = pool[rnn_rng_next(&rng) % distinct];
        targets[n] = (int32_t)(rnn_rng_next(&rng) % (c->task == RNN_TASK_LM ? c->vocab_size : c->num_classes));
    }
    for (int v = 0; v < 2; v++) {
        a[v] = rnn_acts_create(m, T, B);
        rnn_pack p;
        rnn_pack_init(&p, T, B, lengths, a[v]->batch_sizes, a[v]->offsets);
        const size_t tab = (size_t)a[v]->fold_cap * rnn_cell_gates(c->cell) * c->hidden_dim;
        if (v == 0) {
            CHECK(a[v]->fold[0] != NULL, "%s: no table allocated for %d rows", what, p.N);
            if (!a[v]->fold[0]) break;
            for (int d = 0; d < m->D; d++)
                for (size_t i = 0; i < tab; i++) a[v]->fold[d][i] = NAN;
        } else {
            a[v]->fold[0] = a[v]->fold[1] = NULL;
        }
        rnn_rng r;
        rnn_rng_seed(&r, 1);
        rnn_model_forward(m, a[v], &p, ids, 0, 1, &r);
        logits[v] = malloc(sizeof(float) * a[v]->n_logit_rows * m->n_out);
        memcpy(logits[v], a[v]->logits, sizeof(float) * a[v]->n_logit_rows * m->n_out);
        rnn_softmax_xent(a[v]->logits, targets, a[v]->n_logit_rows, m->n_out, NULL, NULL);
        rnn_model_zero_grad(m);
        rnn_model_backward(m, a[v], &p, ids);
        grads[v] = malloc(sizeof(float) * m->n_floats);
        memcpy(grads[v], m->g, sizeof(float) * m->n_floats);
        if (v == 0) {
            CHECK((!isnan(a[v]->fold[0][0])) == expect && (a[v]->fold_u > 0) == expect,
                  "%s: the lookup path %s", what, expect ? "did not run" : "ran");
            int marked = 0;
            for (int i = 0; i < c->vocab_size; i++) marked += a[v]->fold_slot[i] != 0;
            CHECK(marked == 0, "%s: %d tokens still marked after the batch", what, marked);
        }
    }
    if (a[1]) {
        double worst_l = 0, worst_g = 0;
        const char *at = "";
        for (int i = 0; i < a[0]->n_logit_rows * m->n_out; i++)
            worst_l = fmax(worst_l, fabs(logits[0][i] - logits[1][i]));
        for (int k = 0; k < m->n_params; k++) {
            const rnn_param *q = &m->params[k];
            double scale = 1e-3;
            for (size_t i = 0; i < q->numel; i++) scale = fmax(scale, fabs(grads[1][q->offset + i]));
            for (size_t i = 0; i < q->numel; i++) {
                double e = fabs(grads[0][q->offset + i] - grads[1][q->offset + i]) / scale;
                if (e > worst_g) worst_g = e, at = q->name;
            }
        }
        printf("  %-44s logits %.1e, gradients %.1e (%s)\n", what, worst_l, worst_g, at);
        CHECK(worst_l < 1e-5, "%s: logits differ by %.3e", what, worst_l);
        CHECK(worst_g < 1e-5, "%s: gradients differ by %.3e of their tensor's largest (%s)", what,
              worst_g, at);
        free(logits[0]), free(logits[1]), free(grads[0]), free(grads[1]);
    }
    rnn_acts_free(a[0]);
    rnn_acts_free(a[1]);
    rnn_model_free(m);
}

static void test_input_lookup(void) {
    const rnn_cell cells[] = {RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_RNN_TANH};
    const int full[6] = {9, 9, 9, 9, 9, 9}, ragged[6] = {9, 7, 7, 4, 2, 1};
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_LM);
        c.cell = cells[ci], c.vocab_size = 11, c.embed_dim = 6, c.hidden_dim = 20, c.num_layers = 2;
        c.dropout = 0.2f;
        char what[96];
        snprintf(what, sizeof what, "lm %s 2 layers, 54 rows, 11 tokens", rnn_cell_name(cells[ci]));
        lookup_case(&c, 9, 6, full, 11, 1, what);
        rnn_config_default(&c, RNN_TASK_CLASSIFY);
        c.cell = cells[ci], c.vocab_size = 7, c.embed_dim = 5, c.hidden_dim = 17, c.num_layers = 1;
        c.bidirectional = 1, c.pool = RNN_POOL_MEANMAX, c.num_classes = 3, c.padding_id = 0;
        snprintf(what, sizeof what, "classify bi%s, ragged, padding id in the batch", rnn_cell_name(cells[ci]));
        lookup_case(&c, 9, 6, ragged, 7, 1, what);
        /* A vocabulary larger than the batch: the lookup runs over the
         * batch's distinct tokens when they are few, not otherwise. */
        c.vocab_size = 500;
        snprintf(what, sizeof what, "classify bi%s, 500 words, 12 in the batch", rnn_cell_name(cells[ci]));
        lookup_case(&c, 9, 6, ragged, 12, 1, what);
        snprintf(what, sizeof what, "classify bi%s, 500 words, up to 60 in 30 rows", rnn_cell_name(cells[ci]));
        lookup_case(&c, 9, 6, ragged, 60, 0, what);
    }
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 9, c.embed_dim = 16, c.hidden_dim = 16, c.num_layers = 1, c.tie_weights = 1;
    lookup_case(&c, 9, 6, full, 9, 1, "lm lstm, tied embedding and output layer");
    c.tie_weights = 0, c.freeze_embedding = 1, c.cell = RNN_CELL_GRU;
    lookup_case(&c, 9, 6, full, 9, 1, "lm gru, frozen embedding");
}

/* A text alone (batch 1, as rnn classify and rnn_classify run it: the
 * matrix-vector steps, the two directions side by side on 2 threads) gets
 * the logits it gets in a batch of three equal-length texts (the general
 * path), for a 2-layer bidirectional classifier of every cell. */
static void test_single_text(void) {
    enum { T = 40, B = 3 };
    const rnn_cell cells[] = {RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_RNN_TANH};
    for (int ci = 0; ci < 3; ci++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_CLASSIFY);
        c.cell = cells[ci], c.vocab_size = 300, c.embed_dim = 12, c.hidden_dim = 24, c.num_layers = 2;
        c.bidirectional = 1, c.pool = RNN_POOL_MEANMAX, c.num_classes = 3;
        char what[64];
        snprintf(what, sizeof what, "2-layer bi%s classifier", rnn_cell_name(cells[ci]));
        rnn_rng rng;
        rnn_rng_seed(&rng, 17);
        rnn_model *m = perturbed_model(&c, 3, 0.2f, &rng, what);
        if (!m) continue;
        int32_t ids[T * B], one[T];
        for (int i = 0; i < T * B; i++) ids[i] = (int32_t)(rnn_rng_next(&rng) % c.vocab_size);
        for (int t = 0; t < T; t++) one[t] = ids[t * B + 1]; /* the middle text */
        int lengths[B] = {T, T, T};
        rnn_acts *ab = rnn_acts_create(m, T, B), *a1 = rnn_acts_create(m, T, 1);
        rnn_pack pb, p1;
        rnn_pack_init(&pb, T, B, lengths, ab->batch_sizes, ab->offsets);
        rnn_model_forward(m, ab, &pb, ids, 0, 0, NULL);
        double worst = 0;
        for (int nt = 1; nt <= 2; nt++) {
            rnn_set_threads(nt);
            a1->lengths[0] = T;
            rnn_pack_init(&p1, T, 1, a1->lengths, a1->batch_sizes, a1->offsets);
            rnn_model_forward(m, a1, &p1, one, 0, 0, NULL);
            for (int k = 0; k < c.num_classes; k++)
                worst = fmax(worst, fabs(a1->logits[k] - ab->logits[(size_t)1 * m->n_out + k]));
        }
        rnn_set_threads(0);
        CHECK(worst < 1e-5, "%s: a text alone is %.2e off its logits in a batch", what, worst);
        printf("  %s: a text alone (1 and 2 threads) within %.1e of its logits in a batch\n", what, worst);
        rnn_acts_free(ab), rnn_acts_free(a1);
        rnn_model_free(m);
    }
}

/* The vectorisable exp/sigmoid/tanh of activations.h against libm (double). */
static void test_activations(void) {
    double we = 0, ws = 0, wt = 0;
    for (float x = -80.0f; x < 80.0f; x += 0.000731f) {
        double e = exp((double)x), s = 1.0 / (1.0 + exp(-(double)x)), t = tanh((double)x);
        we = fmax(we, fabs(rnn_expf(x) - e) / e);
        ws = fmax(ws, fabs(rnn_sigmoidf(x) - s) / s);
        wt = fmax(wt, fabs(rnn_tanhf(x) - t) / fmax(fabs(t), 1e-30));
    }
    printf("  max rel err: exp %.2e, sigmoid %.2e, tanh %.2e\n", we, ws, wt);
    CHECK(we < 1e-6 && ws < 1e-6 && wt < 1e-6, "activations within 1e-6 of libm");
    CHECK(rnn_sigmoidf(-1000.0f) >= 0 && rnn_sigmoidf(1000.0f) == 1.0f && rnn_tanhf(1000.0f) == 1.0f &&
              rnn_tanhf(-1000.0f) == -1.0f,
          "saturation without overflow");
    CHECK(isnan(rnn_expf(NAN)) && isnan(rnn_sigmoidf(NAN)) && isnan(rnn_tanhf(NAN)),
          "a NaN stays NaN (so that a diverged run shows in its loss)");
}

static void test_dropout(void) {
    /* Inverted dropout: kept values scaled by 1/(1-p), about p dropped. */
    enum { n = 20000 };
    static float x[n], mask[n];
    for (int i = 0; i < n; i++) x[i] = 1.0f;
    rnn_rng rng;
    rnn_rng_seed(&rng, 1);
    rnn_dropout_forward(x, mask, n, 0.25f, &rng);
    int zeros = 0, scaled = 0;
    for (int i = 0; i < n; i++) zeros += x[i] == 0, scaled += fabsf(x[i] - 1.0f / 0.75f) < 1e-6f;
    CHECK(zeros + scaled == n, "every value dropped or scaled");
    CHECK(fabs(zeros / (double)n - 0.25) < 0.015, "drop rate %.3f", zeros / (double)n);
    /* The same mask with 1 thread and with 2 (an odd length included), and
     * a different one from the next draw of the stream. */
    enum { m = 200001 };
    float *x1 = malloc(sizeof(float) * m), *m1 = malloc(sizeof(float) * m);
    float *x2 = malloc(sizeof(float) * m), *m2 = malloc(sizeof(float) * m);
    for (int i = 0; i < m; i++) x1[i] = x2[i] = 1.0f;
    rnn_set_threads(1);
    rnn_rng_seed(&rng, 5);
    rnn_dropout_forward(x1, m1, m, 0.5f, &rng);
    rnn_set_threads(2);
    rnn_rng_seed(&rng, 5);
    rnn_dropout_forward(x2, m2, m, 0.5f, &rng);
    CHECK(!memcmp(m1, m2, sizeof(float) * m), "masks equal with 1 and 2 threads");
    rnn_dropout_forward(x2, m2, m, 0.5f, &rng);
    int same = 0;
    for (int i = 0; i < m; i++) same += m1[i] == m2[i];
    CHECK(fabs(same / (double)m - 0.5) < 0.01, "the next mask is independent (%.3f agree)", same / (double)m);
    rnn_set_threads(0);
    free(x1), free(m1), free(x2), free(m2);

    /* Locked: the first period's mask repeats, x scaled by it; about p of
     * it dropped; period 0 is plain dropout (the same draws). */
    enum { T = 7, P = 3000 };
    static float lx[T * P], lm[T * P], px[T * P], pm[T * P];
    for (int i = 0; i < T * P; i++) lx[i] = px[i] = 1.0f + (float)(i % 5);
    rnn_rng_seed(&rng, 9);
    rnn_dropout_locked(lx, lm, T * P, P, 0.3f, &rng);
    int repeats = 1, applied = 1, dropped = 0;
    for (int i = 0; i < T * P; i++) {
        repeats &= lm[i] == lm[i % P];
        applied &= lx[i] == (1.0f + (float)(i % 5)) * lm[i];
    }
    for (int i = 0; i < P; i++) dropped += lm[i] == 0;
    CHECK(repeats && applied, "locked: every period has the first period's mask, applied");
    CHECK(fabs(dropped / (double)P - 0.3) < 0.03, "locked drop rate %.3f", dropped / (double)P);
    rnn_rng_seed(&rng, 9);
    rnn_dropout_locked(px, pm, T * P, 0, 0.3f, &rng);
    rnn_rng_seed(&rng, 9);
    for (int i = 0; i < T * P; i++) lx[i] = 1.0f + (float)(i % 5);
    rnn_dropout_forward(lx, lm, T * P, 0.3f, &rng);
    CHECK(!memcmp(pm, lm, sizeof pm) && !memcmp(px, lx, sizeof px), "period 0: plain dropout");
}

/* --locked-dropout in a language model's forward: each dropout's mask is
 * the same at every step of a sequence, and differs between sequences. */
static void test_locked_dropout_model(void) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 9, c.embed_dim = 16, c.hidden_dim = 16, c.num_layers = 2;
    c.dropout = 0.5f, c.embed_dropout = 0.5f, c.head_dropout = 0.5f, c.locked_dropout = 1;
    rnn_model *m = rnn_model_create(&c);
    CHECK(m, "create: %s", rnn_last_error());
    if (!m) return;
    rnn_model_init(m, 1);
    enum { T = 6, B = 4 };
    rnn_acts *a = rnn_acts_create(m, T, B);
    int lengths[B] = {T, T, T, T};
    rnn_pack p;
    rnn_pack_init(&p, T, B, lengths, a->batch_sizes, a->offsets);
    int32_t ids[T * B];
    for (int i = 0; i < T * B; i++) ids[i] = i % 9;
    rnn_rng rng;
    rnn_rng_seed(&rng, 4);
    rnn_model_forward(m, a, &p, ids, 0, 1, &rng);
    const struct {
        const float *mask;
        int w;
        const char *name;
    } ms[] = {{a->emask, 16, "embedding"}, {a->mask[1], 16, "between the layers"}, {a->head_mask, 16, "head"}};
    for (int k = 0; k < 3; k++) {
        int locked = 1, differ = 0;
        for (int t = 1; t < T; t++)
            for (int i = 0; i < B * ms[k].w; i++) locked &= ms[k].mask[t * B * ms[k].w + i] == ms[k].mask[i];
        for (int i = 0; i < ms[k].w; i++) differ |= ms[k].mask[i] != ms[k].mask[ms[k].w + i];
        CHECK(locked && differ, "%s: one mask per sequence (locked %d, sequences differ %d)", ms[k].name, locked,
              differ);
    }
    rnn_acts_free(a);
    rnn_model_free(m);
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 9, c.embed_dim = 4, c.hidden_dim = 4, c.num_layers = 1, c.num_classes = 2, c.locked_dropout = 1;
    CHECK(rnn_model_create(&c) == NULL && strstr(rnn_last_error(), "locked_dropout"), "a classifier's is refused: %s",
          rnn_last_error());
}

/* A training pass with recurrent dropout leaves no mask behind: an eval
 * pass on the same activations equals one on fresh activations and one of
 * the same weights without the setting, for LSTM and GRU, bidirectional. */
static void test_recurrent_dropout_eval(void) {
    for (int ci = 0; ci < 2; ci++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_CLASSIFY);
        c.cell = ci ? RNN_CELL_GRU : RNN_CELL_LSTM;
        c.vocab_size = 9, c.embed_dim = 4, c.hidden_dim = 6, c.num_layers = 2, c.bidirectional = 1;
        c.num_classes = 3, c.pool = RNN_POOL_MEAN, c.padding_id = 0, c.recurrent_dropout = 0.5f;
        rnn_model *m = rnn_model_create(&c);
        c.recurrent_dropout = 0;
        rnn_model *plain = rnn_model_create(&c);
        rnn_model_init(m, 4);
        memcpy(plain->w, m->w, sizeof(float) * m->n_floats);
        const int T = 5, B = 2;
        int lengths[2] = {5, 3};
        int32_t ids[10] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2};
        rnn_acts *a = rnn_acts_create(m, T, B), *fresh = rnn_acts_create(m, T, B), *pa = rnn_acts_create(plain, T, B);
        rnn_pack p, pf, pp;
        rnn_pack_init(&p, T, B, lengths, a->batch_sizes, a->offsets);
        rnn_pack_init(&pf, T, B, lengths, fresh->batch_sizes, fresh->offsets);
        rnn_pack_init(&pp, T, B, lengths, pa->batch_sizes, pa->offsets);
        rnn_rng rng;
        rnn_rng_seed(&rng, 1);
        rnn_model_forward(m, a, &p, ids, 0, 1, &rng);
        float train_logits[6];
        memcpy(train_logits, a->logits, sizeof train_logits);
        rnn_model_forward(m, a, &p, ids, 0, 0, NULL);
        rnn_model_forward(m, fresh, &pf, ids, 0, 0, NULL);
        rnn_model_forward(plain, pa, &pp, ids, 0, 0, NULL);
        CHECK(memcmp(train_logits, a->logits, sizeof train_logits) != 0, "%s: the training pass is masked",
              rnn_cell_name(c.cell));
        CHECK(!memcmp(a->logits, fresh->logits, sizeof train_logits) && !memcmp(a->logits, pa->logits, sizeof train_logits),
              "%s: eval after a training pass is the plain cell's", rnn_cell_name(c.cell));
        rnn_acts_free(a), rnn_acts_free(fresh), rnn_acts_free(pa);
        rnn_model_free(m), rnn_model_free(plain);
    }
}

/* The LSTM's forget-gate bias at init: 0 by default (PyTorch's: every bias
 * U(-1/sqrt(H), 1/sqrt(H))), for both tasks and for rnn train's options; with
 * forget_bias X, the forget slice of each layer's and direction's b_ih (PyTorch's
 * gate order i, f, g, o) is X more and every other weight is the same. */
static void test_forget_bias_init(void) {
    rnn_opts o;
    rnn_opts_default(&o);
    CHECK(o.forget_bias == 0, "rnn train's --forget-bias defaults to 0 (got %g)", o.forget_bias);
    for (int task = 0; task < 2; task++) {
        rnn_config c;
        rnn_config_default(&c, task ? RNN_TASK_CLASSIFY : RNN_TASK_LM);
        CHECK(c.forget_bias == 0, "the config's forget_bias defaults to 0 (task %d)", task);
    }
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 9, c.embed_dim = 4, c.hidden_dim = 6, c.num_layers = 2, c.bidirectional = 1;
    c.num_classes = 3, c.pool = RNN_POOL_MEAN;
    rnn_model *m0 = rnn_model_create(&c);
    c.forget_bias = 1.5f;
    rnn_model *m1 = rnn_model_create(&c);
    rnn_model_init(m0, 7);
    rnn_model_init(m1, 7);
    const int H = c.hidden_dim;
    const float bound = 1.0f / sqrtf((float)H);
    int same = 1, shifted = 1, bounded = 1;
    for (size_t j = 0; j < m0->n_floats; j++) {
        int in_forget = 0;
        for (int k = 0; k < c.num_layers * m0->D; k++) {
            ptrdiff_t at = (m0->w + j) - m0->dirs[k].w.b_ih;
            if (at >= H && at < 2 * H) in_forget = 1;
        }
        if (in_forget) {
            shifted &= m1->w[j] == m0->w[j] + 1.5f;
            bounded &= fabsf(m0->w[j]) <= bound;
        } else {
            same &= m1->w[j] == m0->w[j];
        }
    }
    CHECK(shifted, "forget_bias 1.5 adds 1.5 to the forget slice of every b_ih");
    CHECK(bounded, "forget_bias 0 leaves it within U(-1/sqrt(H), 1/sqrt(H))");
    CHECK(same, "and changes no other weight");
    rnn_model_free(m0), rnn_model_free(m1);
}

int main(void) {
    RUN(test_embedding);
    RUN(test_pooling);
    RUN(test_losses);
    RUN(test_loss_cfg);
    RUN(test_wide_xent);
    RUN(test_huge_logits_xent);
    RUN(test_activations);
    RUN(test_dropout);
    RUN(test_gradcheck_models);
    RUN(test_input_lookup);
    RUN(test_single_text);
    RUN(test_recurrent_dropout_eval);
    RUN(test_locked_dropout_model);
    RUN(test_forget_bias_init);
    return harness_end();
}
