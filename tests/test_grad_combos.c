/* test_grad_combos.c: whole models against their PyTorch float64 twins, the
 * fixtures of tests/ref/make_grad_fixtures.py (grad_<case>.safetensors):
 * bidirectional residual stacks of 2 and 3 layers of every cell under every
 * pooling, ragged batches with padding ids, a random initial state, weighted
 * and smoothed ce and bce, frozen and tied embeddings, and language models.
 * Each case loads the fixture's weights into the model its config builds,
 * runs forward, the training loss (rnn_softmax_xent_cfg / rnn_bce_logits_cfg)
 * and backward, and checks the loss, the logits and every parameter's
 * gradient: each tensor within 1e-4 of its largest value (max |got - want| /
 * max |want|; a tensor PyTorch leaves at zero, a frozen embedding's, must
 * be exactly zero, as must the padding row's gradient). Each case runs
 * twice: on 2 threads with layer 0 by lookup where the batch allows it
 * (model.c, fold_prepare), and on 1 thread through the plain products. */
#include "harness.h"
#include "st_edit.h"

#include "gemm.h"
#include "layers.h"
#include "model.h"
#include "safetensors.h"
#include "util.h"

#define FIX "tests/fixtures/"
#define GRAD_TOL 1e-4 /* gradients and logits, of each tensor's largest value */
#define LOSS_TOL 1e-5 /* relative */

/* make_grad_fixtures.py's CASES, in its order */
static const char *const cases[] = {
    "cls_lstm_l2_bi_res_attention",   "cls_gru_l3_bi_res_meanmax",
    "cls_rnn_tanh_l2_bi_res_max",     "cls_rnn_relu_l3_bi_res_mean",
    "cls_lstm_l3_bi_res_last_state",  "cls_gru_l2_bi_res_last_frozen",
    "cls_rnn_relu_l2_bi_res_attention_state", "cls_rnn_tanh_l3_bi_res_meanmax_frozen",
    "cls_lstm_l2_bi_mean",            "cls_gru_l2_uni_res_max_state",
    "cls_none_attention",             "cls_none_meanmax_bce",
    "lm_lstm_l3_res_state",           "lm_gru_l2_tied",
    "lm_rnn_relu_l2_res_ragged",      "lm_rnn_tanh_l2_res_tied_frozen",
    "lm_lstm_l2_frozen",
};

static int n_lookup, n_plain; /* forwards that took layer 0's lookup, and that did not */

/* a fixture's tensor (st_edit.h) */
#define get fixture_tensor

/* max |got - want| / max |want| over n floats; when want is all zero (a
 * frozen embedding's gradient), INFINITY unless got is too; INFINITY for a
 * NaN. *dmax gets max |got - want|. */
static double tensor_err(const float *got, const float *want, size_t n, double *dmax) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (e != e) e = INFINITY;
        if (e > d) d = e;
        if (fabs(want[i]) > s) s = fabs(want[i]);
    }
    *dmax = d;
    return s > 0 ? d / s : d > 0 ? INFINITY : 0;
}

/* One case, one way of running it (plain: 1 thread, no lookup). */
static void run_case(const char *name, int plain) {
    char path[160];
    snprintf(path, sizeof path, FIX "grad_%s.safetensors", name);
    const char *how = plain ? "1 thread, plain" : "2 threads";
    rnn_st *st = rnn_st_load(path);
    CHECK(st, "%s: load: %s", name, rnn_last_error());
    if (!st) return;
    rnn_config c;
    const char *cfg = rnn_st_meta(st, "config"), *fr = rnn_st_meta(st, "freeze_embedding"),
               *sm = rnn_st_meta(st, "smoothing");
    CHECK(cfg && fr && sm, "%s: metadata config, freeze_embedding and smoothing", name);
    if (!cfg || !fr || !sm || rnn_config_from_json(&c, cfg)) {
        CHECK(0, "%s: config: %s", name, rnn_last_error());
        rnn_st_free(st);
        return;
    }
    c.freeze_embedding = atoi(fr);
    rnn_model *m = rnn_model_create(&c);
    CHECK(m, "%s: create: %s", name, rnn_last_error());
    if (!m) {
        rnn_st_free(st);
        return;
    }
    CHECK(rnn_model_alloc_grad(m) == 0, "%s: gradients: %s", name, rnn_last_error());
    /* The fixture holds exactly the model's parameters (a tied model has no head.weight). */
    int loaded = 0, grads = 0;
    for (int k = 0; k < m->n_params; k++) {
        const rnn_param *q = &m->params[k];
        int ok = rnn_st_read_f32(st, q->name, m->w + q->offset, q->numel, q->ndim, q->shape) == 0;
        CHECK(ok, "%s: weights %s: %s", name, q->name, rnn_last_error());
        loaded += ok;
    }
    for (int i = 0; i < rnn_st_count(st); i++) {
        const char *tn = rnn_st_at(st, i)->name;
        if (strncmp(tn, "grad.", 5)) continue;
        grads++;
        CHECK(rnn_model_find(m, tn + 5), "%s: the fixture's %s is no parameter of the model", name, tn);
    }
    CHECK(loaded == m->n_params && grads == m->n_params, "%s: %d parameters, %d loaded, %d gradients in the fixture",
          name, m->n_params, loaded, grads);

    const rnn_st_tensor *lt = rnn_st_find(st, "lengths"), *bt = rnn_st_find(st, "batch_sizes"),
                        *it = rnn_st_find(st, "ids");
    if (!lt || !bt || !it) {
        CHECK(0, "%s: lengths, batch_sizes and ids", name);
        rnn_model_free(m);
        rnn_st_free(st);
        return;
    }
    const int B = (int)lt->numel, T = (int)bt->numel, N = (int)it->numel;
    rnn_acts *a = rnn_acts_create(m, T, B);
    int32_t *ids = malloc(sizeof(int32_t) * N), *want_bs = malloc(sizeof(int32_t) * T),
            *lengths = malloc(sizeof(int32_t) * B);
    rnn_st_read_i32(st, "lengths", lengths, B);
    for (int b = 0; b < B; b++) a->lengths[b] = lengths[b];
    rnn_st_read_i32(st, "batch_sizes", want_bs, T);
    rnn_st_read_i32(st, "ids", ids, N);
    rnn_pack p;
    CHECK(rnn_pack_init(&p, T, B, a->lengths, a->batch_sizes, a->offsets) == N, "%s: pack: %d rows", name, N);
    for (int t = 0; t < T; t++)
        CHECK(a->batch_sizes[t] == want_bs[t], "%s: batch_sizes[%d] %d, PyTorch's %d", name, t, a->batch_sizes[t],
              want_bs[t]);
    const int lm = c.task == RNN_TASK_LM, bce = !lm && c.loss == RNN_LOSS_BCE;
    rnn_st_read_i32(st, "targets", a->targets, lm ? N : B);
    if (bce)
        for (int b = 0; b < B; b++) a->ftargets[b] = (float)a->targets[b];
    const int state = rnn_st_find(st, "h0") != NULL;
    if (state) {
        const size_t ns = (size_t)c.num_layers * m->D * B * c.hidden_dim;
        CHECK(rnn_st_read_f32(st, "h0", a->h0, ns, 0, NULL) == 0, "%s: h0: %s", name, rnn_last_error());
        if (c.cell == RNN_CELL_LSTM)
            CHECK(rnn_st_read_f32(st, "c0", a->c0, ns, 0, NULL) == 0, "%s: c0: %s", name, rnn_last_error());
    }

    if (plain) a->fold[0] = a->fold[1] = NULL;
    rnn_set_threads(plain ? 1 : 2);
    rnn_rng rng;
    rnn_rng_seed(&rng, 1);
    rnn_model_forward(m, a, &p, ids, state, 1, &rng);
    if (a->fold_u > 0)
        n_lookup++;
    else
        n_plain++;
    char what[160];
    snprintf(what, sizeof what, "%s (%s%s)", name, how, a->fold_u > 0 ? ", lookup" : "");

    const size_t nl = (size_t)a->n_logit_rows * m->n_out;
    size_t nwl = 0;
    float *want_logits = get(st, "logits", &nwl);
    double e_logits = INFINITY, dmax;
    CHECK(want_logits && nwl == nl, "%s: %zu logits, the fixture's %zu", what, nl, nwl);
    if (want_logits && nwl == nl) {
        e_logits = tensor_err(a->logits, want_logits, nl, &dmax);
        CHECK(e_logits <= GRAD_TOL, "%s: logits off by %.3e of their largest (tol %.0e)", what, e_logits, GRAD_TOL);
    }

    float *w = get(st, "weight", NULL), want_loss = 0;
    const rnn_loss_cfg lc = {w, (float)atof(sm)};
    rnn_st_read_f32(st, "loss", &want_loss, 1, 0, NULL);
    const double loss = bce ? rnn_bce_logits_cfg(a->logits, a->ftargets, B, &lc, NULL)
                            : rnn_softmax_xent_cfg(a->logits, a->targets, a->n_logit_rows, m->n_out, &lc, NULL, NULL);
    const double e_loss = fabs(loss - want_loss) / fabs(want_loss);
    CHECK(e_loss <= LOSS_TOL, "%s: loss %.9g, PyTorch's %.9g (rel err %.3e, tol %.0e)", what, loss, want_loss, e_loss,
          LOSS_TOL);

    rnn_model_zero_grad(m);
    rnn_model_backward(m, a, &p, ids);
    double worst = 0;
    const char *worst_at = "";
    for (int k = 0; k < m->n_params; k++) {
        const rnn_param *q = &m->params[k];
        char gn[64];
        snprintf(gn, sizeof gn, "grad.%s", q->name);
        size_t n = 0;
        float *want = get(st, gn, &n);
        if (!want || n != q->numel) {
            CHECK(0, "%s: %s missing or not %zu floats", what, gn, q->numel);
            rnn_free(want);
            continue;
        }
        const double e = tensor_err(m->g + q->offset, want, n, &dmax);
        if (e == INFINITY && dmax < INFINITY) /* PyTorch's is all zero */
            CHECK(0, "%s: %s is not zero as PyTorch's (up to %.3e)", what, gn, dmax);
        else
            CHECK(e <= GRAD_TOL, "%s: %s off by %.3e of its largest (tol %.0e)", what, gn, e, GRAD_TOL);
        if (e > worst) worst = e, worst_at = q->name;
        rnn_free(want);
    }
    if (c.padding_id >= 0) { /* no gradient at all, not merely a small one */
        int zero = 1;
        for (int i = 0; i < c.embed_dim; i++) zero &= m->d_emb[(size_t)c.padding_id * c.embed_dim + i] == 0.0f;
        CHECK(zero, "%s: the padding row %d got a gradient", what, c.padding_id);
    }
    printf("  %-60s loss %.1e  logits %.1e  gradients %.1e (%s)\n", what, e_loss, e_logits, worst, worst_at);
    rnn_set_threads(0);
    rnn_free(want_logits), rnn_free(w), free(ids), free(want_bs), free(lengths);
    rnn_acts_free(a);
    rnn_model_free(m);
    rnn_st_free(st);
}

static void test_model_grads_vs_torch(void) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int plain = 0; plain <= 1; plain++) run_case(cases[i], plain);
    /* both ways of computing layer 0 were compared */
    CHECK(n_lookup > 0 && n_plain > 0, "%d forwards by lookup, %d plain", n_lookup, n_plain);
}

int main(void) {
    RUN(test_model_grads_vs_torch);
    return harness_end();
}
