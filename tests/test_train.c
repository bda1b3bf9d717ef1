/* test_train.c: the training step end to end.
 * - Golden check: the first 20 training losses (and gradient norms, and the
 *   final weights) of a tiny 2-layer LSTM language model match PyTorch's
 *   (tests/fixtures/lm_golden.safetensors: same initial weights, data, batch
 *   order, carried hidden state, Adam 1e-2, clip 5).
 * - LM batching and evaluation on a hand-computed case.
 * - --ema: the saved model is the average of the raw weights of runs of
 *   1, 2 and 3 steps, with the warm-up decays computed by hand.
 * - --tie-weights: one matrix serves as embedding and output layer; the
 *   checkpoint carries head.weight as its copy, a file whose copy differs is
 *   refused, and bad shapes are refused with the flags named. (Its gradient
 *   is checked by finite differences in test_layers.c.) */
#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "classify.h"
#include "gemm.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "st_edit.h"
#include "train.h"

#define FIX "tests/fixtures/"

/* Every tensor of m after `steps` steps against the fixture's "final.NAME". */
static void check_final_weights(const rnn_model *m, const rnn_st *st, int steps) {
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *q = &m->params[i];
        char name[96];
        snprintf(name, sizeof name, "final.%s", q->name);
        float *want = malloc(q->numel * sizeof(float));
        CHECK(want && rnn_st_read_f32(st, name, want, q->numel, 0, NULL) == 0, "read %s: %s", name, rnn_last_error());
        double e = want ? harness_max_rel_err(m->w + q->offset, want, q->numel, 1e-1) : INFINITY;
        CHECK(e < 1e-3, "%s after %d steps: rel err %.3e", name, steps, e);
        free(want);
    }
    printf("  final weights of all %d tensors checked\n", m->n_params);
}

/* The golden run from lm_golden.safetensors's weights and data, checked
 * against the losses, norms and final weights of fixture `want` (the same
 * file for the plain loss; lm_golden_smooth.safetensors for the run with
 * --label-smoothing, whose value it names). */
static void golden_lm(int threads, const char *want) {
    rnn_set_threads(threads);
    printf("  %d thread%s, %s:\n", threads, threads > 1 ? "s" : "", want);
    rnn_st *st = rnn_st_load(FIX "lm_golden.safetensors"), *sw = rnn_st_load(want);
    CHECK(st && sw, "load: %s", rnn_last_error());
    if (!st || !sw) {
        rnn_st_free(st), rnn_st_free(sw);
        return;
    }
    const char *smoothing = rnn_st_meta(sw, "smoothing");
    const int B = atoi(rnn_st_meta(st, "B")), T = atoi(rnn_st_meta(st, "T"));
    const float lr = (float)atof(rnn_st_meta(st, "lr")), clip = (float)atof(rnn_st_meta(st, "clip"));
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = (int)rnn_st_find(st, "embedding.weight")->shape[0];
    c.embed_dim = (int)rnn_st_find(st, "embedding.weight")->shape[1];
    c.hidden_dim = (int)rnn_st_find(st, "rnn.weight_hh_l0")->shape[1];
    c.num_layers = 2;
    rnn_model *m = rnn_model_create(&c);
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *p = &m->params[i];
        CHECK(rnn_st_read_f32(st, p->name, m->w + p->offset, p->numel, p->ndim, p->shape) == 0,
              "read %s: %s", p->name, rnn_last_error());
    }
    size_t n = rnn_st_find(st, "data")->numel;
    int32_t *data = malloc(n * sizeof(int32_t));
    rnn_st_read_i32(st, "data", data, n);
    float want_loss[20], want_norm[20], got_loss[20], got_norm[20];
    rnn_st_read_f32(sw, "losses", want_loss, 20, 0, NULL);
    rnn_st_read_f32(sw, "grad_norms", want_norm, 20, 0, NULL);

    rnn_optim_config oc;
    rnn_optim_config_default(&oc, RNN_OPT_ADAM);
    oc.lr = lr;
    CHECK(rnn_model_alloc_grad(m) == 0, "gradients: %s", rnn_last_error());
    rnn_optim *opt = rnn_optim_create(&oc, m->n_floats);
    rnn_acts *a = rnn_acts_create(m, T, B);
    rnn_pack p;
    for (int b = 0; b < B; b++) a->lengths[b] = T;
    rnn_pack_init(&p, T, B, a->lengths, a->batch_sizes, a->offsets);
    rnn_step_cfg sc = {clip, 0, {1, 1, 1}, {NULL, smoothing ? (float)atof(smoothing) : 0}};
    rnn_rng rng;
    rnn_rng_seed(&rng, 1);
    size_t state = (size_t)c.num_layers * B * c.hidden_dim;
    const rnn_lm_stream ds = rnn_lm_view(data, n);
    for (int k = 0; k < 20; k++) {
        rnn_lm_fill(&ds, B, T, k, 0, a->ids, a->targets);
        got_loss[k] = (float)rnn_train_step(m, a, &p, k > 0, opt, &sc, lr, &rng, &got_norm[k], NULL);
        memcpy(a->h0, a->hn, state * sizeof(float));
        memcpy(a->c0, a->cn, state * sizeof(float));
    }
    printf("  losses: C %.6f %.6f ... %.6f, PyTorch %.6f %.6f ... %.6f\n", got_loss[0], got_loss[1],
           got_loss[19], want_loss[0], want_loss[1], want_loss[19]);
    double worst = 0;
    for (int k = 0; k < 20; k++) worst = fmax(worst, fabs(got_loss[k] - want_loss[k]));
    printf("  %-44s max abs err %.2e (tol 1e-03)\n", "20 golden losses", worst);
    CHECK(worst <= 1e-3, "golden losses differ by %.3e", worst);
    CHECK_CLOSE(got_norm, want_norm, 20, 1e-3, "20 gradient norms");
    check_final_weights(m, sw, 20);
    free(data);
    rnn_acts_free(a);
    rnn_optim_free(opt);
    rnn_model_free(m);
    rnn_st_free(st);
    rnn_st_free(sw);
}

/* The same 20 steps match PyTorch with 1 thread and with 2 (threads change
 * only the order of float sums); and with --label-smoothing 0.1, PyTorch's
 * CrossEntropyLoss(label_smoothing=0.1) (tests/ref/make_loss_fixtures.py). */
static void test_golden_lm(void) {
    golden_lm(1, FIX "lm_golden.safetensors");
    golden_lm(2, FIX "lm_golden.safetensors");
    golden_lm(1, FIX "lm_golden_smooth.safetensors");
    golden_lm(2, FIX "lm_golden_smooth.safetensors");
    rnn_set_threads(0);
}

/* A classifier's 12 training steps with --class-weight and --label-smoothing
 * against PyTorch's (tests/ref/make_loss_fixtures.py: cls_golden_ce, a
 * 3-class head under CrossEntropyLoss(weight, label_smoothing);
 * cls_golden_bce, one logit under BCEWithLogitsLoss with per-example class
 * weights and smoothed targets): an LSTM with pool last, its batches packed
 * as rnn_cls_fill packs them, Adam 1e-2, clip 5. Losses, gradient norms and
 * final weights. */
static void golden_cls(const char *path) {
    rnn_st *st = rnn_st_load(path);
    CHECK(st, "load: %s", rnn_last_error());
    if (!st) return;
    const int bce = !strcmp(rnn_st_meta(st, "loss"), "bce");
    const int S = atoi(rnn_st_meta(st, "steps")), B = atoi(rnn_st_meta(st, "B")), T = atoi(rnn_st_meta(st, "T"));
    const float lr = (float)atof(rnn_st_meta(st, "lr")), clip = (float)atof(rnn_st_meta(st, "clip"));
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = (int)rnn_st_find(st, "embedding.weight")->shape[0];
    c.embed_dim = (int)rnn_st_find(st, "embedding.weight")->shape[1];
    c.hidden_dim = (int)rnn_st_find(st, "rnn.weight_hh_l0")->shape[1];
    c.num_layers = 1, c.bidirectional = 0, c.pool = RNN_POOL_LAST, c.padding_id = -1;
    c.loss = bce ? RNN_LOSS_BCE : RNN_LOSS_CE;
    c.num_classes = bce ? 2 : (int)rnn_st_find(st, "head.weight")->shape[0];
    rnn_model *m = rnn_model_create(&c);
    CHECK(m, "create: %s", rnn_last_error());
    if (!m) {
        rnn_st_free(st);
        return;
    }
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *q = &m->params[i];
        CHECK(rnn_st_read_f32(st, q->name, m->w + q->offset, q->numel, q->ndim, q->shape) == 0, "read %s: %s",
              q->name, rnn_last_error());
    }
    int32_t *ids = malloc(sizeof(int32_t) * S * B * T), *len = malloc(sizeof(int32_t) * S * B),
            *lab = malloc(sizeof(int32_t) * S * B);
    float weight[8], want_loss[32], want_norm[32], got_loss[32], got_norm[32];
    rnn_st_read_i32(st, "ids", ids, (size_t)S * B * T);
    rnn_st_read_i32(st, "lengths", len, (size_t)S * B);
    rnn_st_read_i32(st, "labels", lab, (size_t)S * B);
    rnn_st_read_f32(st, "weight", weight, (size_t)c.num_classes, 0, NULL);
    rnn_st_read_f32(st, "losses", want_loss, (size_t)S, 0, NULL);
    rnn_st_read_f32(st, "grad_norms", want_norm, (size_t)S, 0, NULL);
    rnn_optim_config oc;
    rnn_optim_config_default(&oc, RNN_OPT_ADAM);
    oc.lr = lr;
    CHECK(rnn_model_alloc_grad(m) == 0, "gradients: %s", rnn_last_error());
    rnn_optim *opt = rnn_optim_create(&oc, m->n_floats);
    rnn_acts *a = rnn_acts_create(m, T, B);
    rnn_step_cfg sc = {clip, 0, {1, 1, 1}, {weight, (float)atof(rnn_st_meta(st, "smoothing"))}};
    rnn_rng rng;
    rnn_rng_seed(&rng, 1);
    for (int k = 0; k < S; k++) {
        rnn_pack p;
        for (int b = 0; b < B; b++) {
            a->lengths[b] = len[k * B + b];
            a->targets[b] = lab[k * B + b];
            a->ftargets[b] = (float)lab[k * B + b];
        }
        rnn_pack_init(&p, a->lengths[0], B, a->lengths, a->batch_sizes, a->offsets);
        for (int t = 0; t < a->lengths[0]; t++) /* packed, time-major: step t's rows are the sequences still going */
            for (int b = 0; b < p.batch_sizes[t]; b++) a->ids[p.offsets[t] + b] = ids[((size_t)k * B + b) * T + t];
        got_loss[k] = (float)rnn_train_step(m, a, &p, 0, opt, &sc, lr, &rng, &got_norm[k], NULL);
    }
    printf("  %s: losses C %.6f %.6f ... %.6f, PyTorch %.6f %.6f ... %.6f\n", path, got_loss[0], got_loss[1],
           got_loss[S - 1], want_loss[0], want_loss[1], want_loss[S - 1]);
    CHECK_CLOSE(got_loss, want_loss, (size_t)S, 1e-4, "losses");
    CHECK_CLOSE(got_norm, want_norm, (size_t)S, 1e-3, "gradient norms");
    check_final_weights(m, st, S);
    free(ids), free(len), free(lab);
    rnn_acts_free(a);
    rnn_optim_free(opt);
    rnn_model_free(m);
    rnn_st_free(st);
}

/* The library's trainer takes --class-weight and --label-smoothing by name
 * (rnn_trainer_set: the same option table, with the flag's checks), and its
 * run trains with them, saying so in train.log. */
static void test_trainer_loss_options(void) {
    char dir[] = "/tmp/rnn_cw_XXXXXX", data[64], out[64], log[96];
    if (!harness_mkdtemp(dir)) return;
    snprintf(data, sizeof data, "%s/d.tsv", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    FILE *f = fopen(data, "w");
    for (int i = 0; f && i < 20; i++) fprintf(f, "a\tgood film %d\nb\tbad film %d\n", i, i);
    if (f) fclose(f);
    rnn_trainer *t = rnn_trainer_new();
    CHECK(rnn_trainer_set(t, "class-weight", "1,0") == -1 &&
              strstr(rnn_error(), "option --class-weight: '0' is not a positive number"),
          "a zero weight refused naming the flag: %s", rnn_error());
    const char *kv[][2] = {{"task", "classify"}, {"data", data}, {"out", out}, {"layers", "1"}, {"hidden", "8"},
                           {"embed", "8"}, {"steps", "1"}, {"threads", "1"}, {"progress", "quiet"},
                           {"class-weight", "2, 0.5"}, {"label-smoothing", "0.1"}};
    int bad = 0;
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) bad |= rnn_trainer_set(t, kv[i][0], kv[i][1]);
    CHECK(!bad && rnn_trainer_run(t, NULL, NULL) == 0, "trainer run: %s", rnn_error());
    snprintf(log, sizeof log, "%s/train.log", out);
    char *text = rnn_read_file(log, NULL);
    CHECK(text && strstr(text, "\nclass weights (given): a 2, b 0.5\n") &&
              strstr(text, "\nlabel smoothing 0.1 in the training loss"),
          "train.log says the weights and the smoothing:\n%s", text ? text : "(none)");
    free(text);
    rnn_trainer_free(t);
    harness_rm_run(out);
    remove(data);
    rmdir(dir);
}

static void test_golden_cls(void) {
    golden_cls(FIX "cls_golden_ce.safetensors");
    golden_cls(FIX "cls_golden_bce.safetensors");
}

/* --freeze-embedding: a training step leaves the embedding exactly as it was
 * and changes the rest, also when the embedding is the output layer too. */
static void test_frozen_embedding(void) {
    for (int tie = 0; tie < 2; tie++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_LM);
        c.vocab_size = 9, c.embed_dim = tie ? 6 : 4, c.hidden_dim = 6, c.num_layers = 1;
        c.freeze_embedding = 1, c.tie_weights = tie;
        rnn_model *m = rnn_model_create(&c);
        rnn_model_init(m, 3);
        size_t ne = (size_t)9 * c.embed_dim;
        float *before = malloc(m->n_floats * sizeof(float));
        memcpy(before, m->w, m->n_floats * sizeof(float));
        rnn_optim_config oc;
        rnn_optim_config_default(&oc, RNN_OPT_ADAM);
        CHECK(rnn_model_alloc_grad(m) == 0, "gradients: %s", rnn_last_error());
    rnn_optim *opt = rnn_optim_create(&oc, m->n_floats);
        rnn_acts *a = rnn_acts_create(m, 4, 2);
        rnn_pack p;
        for (int b = 0; b < 2; b++) a->lengths[b] = 4;
        rnn_pack_init(&p, 4, 2, a->lengths, a->batch_sizes, a->offsets);
        for (int i = 0; i < 8; i++) a->ids[i] = i % 9, a->targets[i] = (i + 1) % 9;
        rnn_step_cfg sc = {5, 0, {1, 1, 1}, {NULL, 0}}; /* the model itself must keep it frozen */
        rnn_rng rng;
        rnn_rng_seed(&rng, 1);
        rnn_train_step(m, a, &p, 0, opt, &sc, 1e-2f, &rng, NULL, NULL);
        CHECK(!memcmp(before, m->w, ne * sizeof(float)), "embedding unchanged (tied %d)", tie);
        CHECK(memcmp(before + ne, m->w + ne, (m->n_floats - ne) * sizeof(float)), "the rest trained (tied %d)", tie);
        free(before);
        rnn_acts_free(a);
        rnn_optim_free(opt);
        rnn_model_free(m);
    }
}

/* --freeze-epochs (lr multipliers 0 for the embedding and the encoder): the
 * frozen groups have no gradient, as tensors without requires_grad in
 * PyTorch, so --clip's norm is the head's alone. SGD at lr 1: the head moves
 * by its gradient, clipped to exactly clip / (norm + 1e-6) of it. */
static void test_frozen_groups_clip(void) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 9, c.embed_dim = 4, c.hidden_dim = 6, c.num_layers = 1;
    rnn_model *m = rnn_model_create(&c);
    rnn_model_init(m, 5);
    CHECK(rnn_model_alloc_grad(m) == 0, "gradients: %s", rnn_last_error());
    const size_t n = m->n_floats;
    float *w0 = malloc(n * sizeof(float)), *d[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    memcpy(w0, m->w, n * sizeof(float));
    rnn_optim_config oc;
    rnn_optim_config_default(&oc, RNN_OPT_SGD);
    rnn_acts *a = rnn_acts_create(m, 4, 2);
    rnn_pack p;
    for (int b = 0; b < 2; b++) a->lengths[b] = 4;
    rnn_pack_init(&p, 4, 2, a->lengths, a->batch_sizes, a->offsets);
    for (int i = 0; i < 8; i++) a->ids[i] = i % 9, a->targets[i] = (i + 2) % 9;
    double norm = 0;
    float reported[2] = {0, 0}, clip = 0;
    for (int k = 0; k < 2; k++) { /* unclipped, then clipped to half the head's norm */
        memcpy(m->w, w0, n * sizeof(float));
        rnn_optim *opt = rnn_optim_create(&oc, n);
        rnn_step_cfg sc = {clip, 0, {0, 0, 1}, {NULL, 0}};
        rnn_rng rng;
        rnn_rng_seed(&rng, 1);
        rnn_train_step(m, a, &p, 0, opt, &sc, 1.0f, &rng, &reported[k], NULL);
        for (size_t i = 0; i < n; i++) d[k][i] = w0[i] - m->w[i];
        rnn_optim_free(opt);
        if (k == 0) {
            for (size_t i = 0; i < n; i++) norm += (double)d[0][i] * d[0][i];
            norm = sqrt(norm);
            clip = (float)(norm / 2);
        }
    }
    int frozen_still = 1;
    double err = 0, scale = clip / (norm + 1e-6);
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *q = &m->params[i];
        for (size_t j = q->offset; j < q->offset + q->numel; j++) {
            if (q->group != RNN_GROUP_HEAD) frozen_still &= d[0][j] == 0 && d[1][j] == 0;
            else err = fmax(err, fabs(d[1][j] - d[0][j] * scale));
        }
    }
    CHECK(frozen_still && norm > 0, "the frozen groups stay (head's gradient norm %.6f)", norm);
    CHECK(err < 1e-6 * norm, "the head is clipped by its own norm: max error %.3g", err);
    CHECK(fabs(reported[0] - norm) < 1e-5 * norm, "the step's gradient norm is the head's: %.6f, %.6f", reported[0],
          norm);
    { /* frozen, the step runs no backward below the head (rnn_model_backward_ex): its gradient is the full pass's */
        memcpy(m->w, w0, n * sizeof(float));
        rnn_optim *opt = rnn_optim_create(&oc, n);
        rnn_step_cfg sc = {0, 0, {1e-30f, 1e-30f, 1}, {NULL, 0}};
        rnn_rng rng;
        rnn_rng_seed(&rng, 1);
        rnn_train_step(m, a, &p, 0, opt, &sc, 1.0f, &rng, NULL, NULL);
        int same = 1;
        for (int i = 0; i < m->n_params; i++) {
            const rnn_param *q = &m->params[i];
            for (size_t j = q->offset; q->group == RNN_GROUP_HEAD && j < q->offset + q->numel; j++)
                same &= w0[j] - m->w[j] == d[0][j];
        }
        CHECK(same, "the frozen step's head update is the full backward's, bit for bit");
        rnn_optim_free(opt);
    }
    free(w0), free(d[0]), free(d[1]);
    rnn_acts_free(a);
    rnn_model_free(m);
}

/* --freeze-embedding holds through a resume (the saved model does not carry
 * it; the run's options do), here with a tied embedding, which freezes the
 * output layer too. */
static void test_frozen_resume(void) {
    char dir[] = "/tmp/rnn_freeze_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
    if (!harness_mkdtemp(dir)) return;
    rnn_opts o;
    rnn_opts_default(&o);
    const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "8"}, {"batch", "4"},
                           {"seq-len", "8"}, {"threads", "1"}, {"progress", "quiet"},
                           {"tie-weights", "true"}, {"freeze-embedding", "true"},
                           {"eval-every", "1000"}, {"lr", "0.05"}, {"steps", "3"}, {"out", dir}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) rnn_opts_set(&o, kv[i][0], kv[i][1]);
    char path[128], cfg[128];
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.txt", dir);
    rnn_checkpoint a = {0}, b = {0};
    CHECK(rnn_train(&o, NULL, NULL, NULL, 0) == 0 && rnn_checkpoint_load(&a, path) == 0, "3 steps: %s", rnn_last_error());
    /* the tied output layer's copy is in the model (for PyTorch), not in the resume state */
    char state[128];
    snprintf(state, sizeof state, "%s/state.safetensors", dir);
    rnn_st *sm = rnn_st_open(path), *ss = rnn_st_open(state);
    CHECK(sm && ss && rnn_st_find(sm, "head.weight") && !rnn_st_find(ss, "head.weight") &&
              rnn_st_find(ss, "embedding.weight"),
          "head.weight in last.safetensors, not in state.safetensors");
    rnn_st_free(sm);
    rnn_st_free(ss);
    rnn_opts r;
    rnn_opts_default(&r);
    CHECK(rnn_opts_load_file(&r, cfg) == 0 && rnn_opts_set(&r, "resume", dir) == 0 && rnn_opts_set(&r, "steps", "6") == 0,
          "resume options: %s", rnn_last_error());
    CHECK(rnn_train(&r, NULL, NULL, NULL, 0) == 0 && rnn_checkpoint_load(&b, path) == 0, "resumed to 6: %s", rnn_last_error());
    if (a.model && b.model) {
        size_t ne = (size_t)a.model->c.vocab_size * 8;
        CHECK(!memcmp(a.model->emb, b.model->emb, ne * sizeof(float)), "the frozen (tied) embedding did not move on resume");
        CHECK(memcmp(a.model->w + ne, b.model->w + ne, (a.model->n_floats - ne) * sizeof(float)), "the rest trained on");
    }
    rnn_checkpoint_free(&b);
    harness_rm_run(dir);
    /* With --ema the saved model is the average: a frozen weight's average
     * is the weight itself, bit for bit (it drifted by rounding once). */
    rnn_opts_set(&o, "ema", "0.9"), rnn_opts_set(&o, "steps", "20");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(rnn_train(&o, NULL, NULL, NULL, 0) == 0 && rnn_checkpoint_load(&b, path) == 0, "--ema 0.9: %s", rnn_last_error());
    if (a.model && b.model) {
        size_t ne = (size_t)a.model->c.vocab_size * 8;
        CHECK(!memcmp(a.model->emb, b.model->emb, ne * sizeof(float)), "--ema: the frozen embedding's average is the embedding");
    }
    rnn_checkpoint_free(&a);
    rnn_checkpoint_free(&b);
    harness_rm_run(dir);
}

static void test_tied_weights(void) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 11, c.embed_dim = 6, c.hidden_dim = 6, c.num_layers = 1, c.tie_weights = 1;
    rnn_model *m = rnn_model_create(&c);
    CHECK(m, "create: %s", rnn_last_error());
    if (!m) return;
    rnn_model_init(m, 5);
    CHECK(m->head_w == m->emb && m->d_head_w == m->d_emb, "the head is the embedding");
    CHECK(!rnn_model_find(m, "head.weight") && rnn_model_find(m, "head.bias"), "one matrix in the table, the bias kept");
    c.tie_weights = 0;
    rnn_model *u = rnn_model_create(&c);
    CHECK(u && rnn_model_num_weights(u) - rnn_model_num_weights(m) == 11 * 6,
          "tying saves V x E weights (%zu vs %zu)", u ? rnn_model_num_weights(u) : 0, rnn_model_num_weights(m));
    rnn_model_free(u);
    float lo = 1, hi = -1, blo = 1, bhi = -1;
    for (int i = 0; i < 66; i++) lo = fminf(lo, m->emb[i]), hi = fmaxf(hi, m->emb[i]);
    for (int i = 0; i < 11; i++) blo = fminf(blo, m->head_b[i]), bhi = fmaxf(bhi, m->head_b[i]);
    const float bb = 1.0f / sqrtf(6.0f);
    CHECK(lo >= -0.1f && hi <= 0.1f && hi - lo > 0.1f, "tied embedding U(-0.1, 0.1): [%g, %g]", lo, hi);
    CHECK(blo >= -bb && bhi <= bb && bhi - blo > 0.3f * bb, "head bias U(-1/sqrt(E), 1/sqrt(E)): [%g, %g]", blo, bhi);

    char dir[] = "/tmp/rnn_tie_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
    if (!harness_mkdtemp(dir)) {
        rnn_model_free(m);
        return;
    }
    char path[64], bad[64];
    snprintf(path, sizeof path, "%s/tied.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    CHECK(rnn_checkpoint_save(path, m, NULL, NULL, 0, -1, NULL, NULL, 0, NULL, 0) == 0, "save: %s", rnn_last_error());
    rnn_st *st = rnn_st_load(path);
    const rnn_st_tensor *e = st ? rnn_st_find(st, "embedding.weight") : NULL, *h = st ? rnn_st_find(st, "head.weight") : NULL;
    CHECK(e && h && h->nbytes == e->nbytes && !memcmp(h->data, e->data, e->nbytes),
          "the file's head.weight is the embedding's copy (for PyTorch's load_state_dict)");
    rnn_checkpoint ck = {0};
    CHECK(rnn_checkpoint_load(&ck, path) == 0, "load: %s", rnn_last_error());
    CHECK(ck.model && ck.model->c.tie_weights && ck.model->head_w == ck.model->emb &&
              !memcmp(ck.model->w, m->w, m->n_floats * sizeof(float)),
          "loaded tied, with the same weights");
    CHECK(ck.model && !ck.model->g && !ck.model->d_emb && !ck.model->d_head_w && !ck.model->gdirs[0].w_hh,
          "a loaded model holds no gradients until it trains (half the memory for sampling)");
    CHECK(ck.model && rnn_model_alloc_grad(ck.model) == 0 && ck.model->g && ck.model->d_head_w == ck.model->d_emb &&
              ck.model->gdirs[0].w_hh == ck.model->g + rnn_model_find(ck.model, "rnn.weight_hh_l0")->offset,
          "rnn_model_alloc_grad points every gradient view into the new block");
    rnn_checkpoint_free(&ck);
    /* The same file with one element of head.weight changed. */
    if (st && h) {
        int n = rnn_st_count(st), nm = rnn_st_meta_count(st);
        rnn_st_out outs[16];
        const char *keys[8], *vals[8];
        float *head = malloc(h->nbytes);
        memcpy(head, h->data, h->nbytes);
        head[7] += 0.5f;
        for (int i = 0; i < n && i < 16; i++) {
            const rnn_st_tensor *t = rnn_st_at(st, i);
            outs[i] = (rnn_st_out){t->name, t->dtype, t->ndim, {t->shape[0], t->shape[1]}, t == h ? head : t->data};
        }
        for (int i = 0; i < nm && i < 8; i++) keys[i] = rnn_st_meta_key(st, i), vals[i] = rnn_st_meta(st, keys[i]);
        CHECK(rnn_st_save(bad, outs, n, keys, vals, nm) == 0, "write the altered file: %s", rnn_last_error());
        CHECK(rnn_checkpoint_load(&ck, bad) == -1 && strstr(rnn_last_error(), "head.weight is not a copy"),
              "a head.weight that differs is refused: %s", rnn_last_error());
        free(head);
    }
    rnn_st_free(st);
    remove(path);
    remove(bad);
    rmdir(dir);
    rnn_model_free(m);

    c.tie_weights = 1, c.hidden_dim = 8;
    CHECK(rnn_config_validate(&c) == -1 && strstr(rnn_last_error(), "--tie-weights") &&
              strstr(rnn_last_error(), "got 6 and 8"),
          "embed != hidden is refused with the flags named: %s", rnn_last_error());
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 11, c.embed_dim = 6, c.hidden_dim = 6, c.tie_weights = 1;
    CHECK(rnn_config_validate(&c) == -1 && strstr(rnn_last_error(), "language models"),
          "a classifier cannot tie: %s", rnn_last_error());
}

static void test_lm_batching(void) {
    /* 2 streams of 7 tokens from 0..13: stream 0 = 0..6, stream 1 = 7..13. */
    int32_t data[14], ids[6], tg[6];
    for (int i = 0; i < 14; i++) data[i] = i;
    CHECK(rnn_lm_batches(14, 2, 3) == 2, "(7-1)/3 = 2 batches");
    const rnn_lm_stream s14 = rnn_lm_view(data, 14);
    rnn_lm_fill(&s14, 2, 3, 1, 0, ids, tg);
    /* batch 1: positions 3,4,5; time-major ids[t*B+b]. */
    int want_ids[6] = {3, 10, 4, 11, 5, 12}, want_tg[6] = {4, 11, 5, 12, 6, 13};
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= ids[i] == want_ids[i] && tg[i] == want_tg[i];
    CHECK(ok, "batch 1 ids/targets");

    /* --random-offset: rotated left by 5 over the 14 tokens the streams use
     * (a 15th, 99, is never read): batch 1 starts at 3 + 5 = 8 in stream 0,
     * and stream 1's positions 15.. wrap round to 1.. */
    int32_t d15[15];
    for (int i = 0; i < 14; i++) d15[i] = i;
    d15[14] = 99;
    const rnn_lm_stream s15 = rnn_lm_view(d15, 15);
    rnn_lm_fill(&s15, 2, 3, 1, 5, ids, tg);
    int rot_ids[6] = {8, 1, 9, 2, 10, 3}, rot_tg[6] = {9, 2, 10, 3, 11, 4};
    ok = 1;
    for (int i = 0; i < 6; i++) ok &= ids[i] == rot_ids[i] && tg[i] == rot_tg[i];
    CHECK(ok, "batch 1 ids/targets rotated by 5");
    /* offset 3: stream 1's batch 1 reads positions 13, 14 and 15: the target
     * of token 13 is token 0, never the unused 99 */
    rnn_lm_fill(&s15, 2, 3, 1, 3, ids, tg);
    CHECK(ids[1] == 13 && tg[1] == 0 && ids[3] == 0 && tg[3] == 1 && ids[5] == 1 && tg[5] == 2,
          "rotation wraps round to the start (%d>%d %d>%d %d>%d)", ids[1], tg[1], ids[3], tg[3], ids[5], tg[5]);

    /* offsets: 0 in the first epoch, in [0, n/B) after, the same for the same
     * (seed, epoch), and spread: 20 epochs of a 1000-token stream give at
     * least 15 different offsets, and another seed other ones */
    CHECK(rnn_lm_offset(32000, 32, 7, 0) == 0, "epoch 0 is not rotated");
    int distinct = 0, differ = 0, in_range = 1;
    size_t seen[20];
    for (long e = 1; e <= 20; e++) {
        size_t o = rnn_lm_offset(32000, 32, 7, e);
        in_range &= o < 1000 && o == rnn_lm_offset(32000, 32, 7, e);
        differ += o != rnn_lm_offset(32000, 32, 8, e);
        int fresh = 1;
        for (int i = 0; i < distinct; i++) fresh &= seen[i] != o;
        if (fresh) seen[distinct++] = o;
    }
    CHECK(in_range && distinct >= 15 && differ >= 15, "offsets in range and repeatable (%d distinct, %d differ by seed)",
          distinct, differ);
}

static void test_word_dropout(void) {
    /* 200,000 ids 2..101: with p = 0.25 the share turned into unk (1) is
     * 0.25 within 5 standard deviations (0.005), nothing else changes, the
     * same seed gives the same ids, and p = 0 changes nothing. */
    enum { N = 200000 };
    int32_t *a = malloc(sizeof(int32_t) * N), *b = malloc(sizeof(int32_t) * N);
    CHECK(a && b, "alloc");
    if (!a || !b) goto out;
    for (int i = 0; i < N; i++) a[i] = b[i] = 2 + i % 100;
    rnn_rng r1, r2;
    rnn_rng_seed(&r1, 7);
    rnn_rng_seed(&r2, 7);
    rnn_word_dropout(a, N, 0.25f, 1, &r1);
    rnn_word_dropout(b, N, 0.25f, 1, &r2);
    int n_unk = 0, kept = 1, same = 1;
    for (int i = 0; i < N; i++) {
        n_unk += a[i] == 1;
        kept &= a[i] == 1 || a[i] == 2 + i % 100;
        same &= a[i] == b[i];
    }
    CHECK(fabs(n_unk / (double)N - 0.25) < 0.005, "share of unk %.4f, want 0.25", n_unk / (double)N);
    CHECK(kept, "tokens not dropped keep their ids");
    CHECK(same, "the same seed drops the same tokens");
    rnn_word_dropout(b, N, 0.0f, 1, &r2);
    same = 1;
    for (int i = 0; i < N; i++) same &= a[i] == b[i];
    CHECK(same, "p = 0 changes nothing");
out:
    free(a);
    free(b);
}

static void test_eval_uniform(void) {
    /* A model whose head is zero predicts uniformly: loss = ln V exactly,
     * over n - 1 predicted tokens of one stream. */
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 5, c.embed_dim = 3, c.hidden_dim = 4, c.num_layers = 1;
    rnn_model *m = rnn_model_create(&c);
    rnn_model_init(m, 1);
    memset(m->head_w, 0, sizeof(float) * 5 * 4);
    memset(m->head_b, 0, sizeof(float) * 5);
    int32_t data[50];
    for (int i = 0; i < 50; i++) data[i] = i % 5;
    rnn_lm_eval ev;
    CHECK(rnn_lm_evaluate(m, data, 50, 1, 8, &ev) == 0, "evaluate");
    CHECK(ev.count == 49, "49 predictions (got %ld)", ev.count);
    CHECK(fabs(ev.loss - log(5.0)) < 1e-6, "uniform loss ln 5 (got %.6f)", ev.loss);
    rnn_model_free(m);
}

/* Trains `steps` steps of a tiny LM on the built-in corpus into dir (ema 0:
 * raw weights) and loads the saved model. */
static rnn_model *tiny_run(const char *dir, long steps, float ema) {
    rnn_opts o;
    rnn_opts_default(&o);
    char num[32];
    const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "4"}, {"batch", "4"},
                           {"seq-len", "8"}, {"threads", "1"}, {"progress", "log"},
                           {"log-every", "0"}, {"eval-every", "1000"}, {"lr", "0.05"},
                           {"out", dir}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) rnn_opts_set(&o, kv[i][0], kv[i][1]);
    snprintf(num, sizeof num, "%ld", steps);
    rnn_opts_set(&o, "steps", num);
    snprintf(num, sizeof num, "%g", ema);
    rnn_opts_set(&o, "ema", num);
    if (rnn_train(&o, NULL, NULL, NULL, 0)) {
        CHECK(0, "train %s: %s", dir, rnn_last_error());
        return NULL;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rnn_checkpoint ck = {0};
    if (rnn_checkpoint_load(&ck, path)) {
        CHECK(0, "load %s: %s", path, rnn_last_error());
        return NULL;
    }
    rnn_model *m = ck.model;
    ck.model = NULL;
    rnn_checkpoint_free(&ck);
    return m;
}

static void test_ema(void) {
    char base[] = "/tmp/rnn_ema_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
    if (!harness_mkdtemp(base)) return;
    char dir[4][64];
    rnn_model *raw[4] = {0};
    for (int k = 1; k <= 3; k++) {
        snprintf(dir[k], sizeof dir[k], "%.32s/raw%d", base, k);
        raw[k] = tiny_run(dir[k], k, 0);
    }
    snprintf(dir[0], sizeof dir[0], "%.32s/ema", base);
    rnn_model *avg = tiny_run(dir[0], 3, 0.2f);
    if (raw[1] && raw[2] && raw[3] && avg) {
        /* w0: the run's initial weights (rnn train initialises with --seed, default 1337). */
        raw[0] = rnn_model_create(&raw[1]->c);
        rnn_model_init(raw[0], 1337);
        size_t n = avg->n_floats;
        double *want = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) want[i] = raw[0]->w[i];
        /* d_k = min(0.2, (1+k)/(10+k)): 2/11, then 0.2 twice. */
        for (int k = 1; k <= 3; k++) {
            double d = fmin(0.2, (1.0 + k) / (10.0 + k));
            for (size_t i = 0; i < n; i++) want[i] = d * want[i] + (1 - d) * raw[k]->w[i];
        }
        double worst = 0, moved = 0;
        for (size_t i = 0; i < n; i++) {
            worst = fmax(worst, fabs(avg->w[i] - want[i]));
            moved = fmax(moved, fabs(avg->w[i] - raw[3]->w[i]));
        }
        printf("  averaged weights vs hand-computed: max abs err %.2e; vs raw step-3 weights %.2e\n",
               worst, moved);
        CHECK(worst < 1e-6, "ema weights differ from the hand-computed average by %.3e", worst);
        CHECK(moved > 1e-3, "the average differs from the raw weights (%.3e)", moved);
        free(want);
    }
    for (int k = 0; k < 4; k++) {
        rnn_model_free(raw[k]);
        harness_rm_run(dir[k]);
    }
    rnn_model_free(avg);
    rmdir(base);
}

/* A resume state damaged in its metadata is refused, the file named: the
 * options (train.config) gone or given a line naming no option; one of the
 * data fingerprints gone or not a fingerprint; a best validation loss that
 * is not the best loss (best_val 0 would keep model.safetensors from ever
 * being written again); counts of bad evaluations before any. A state
 * without both fingerprints (as saved before 2026-12-06) resumes. */
static void test_damaged_state(void) {
    char dir[] = "/tmp/rnn_state_XXXXXX";
    if (!harness_mkdtemp(dir)) return;
    rnn_opts o;
    rnn_opts_default(&o);
    const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "8"}, {"batch", "4"}, {"seq-len", "8"},
                           {"threads", "1"}, {"progress", "quiet"}, {"eval-every", "2"}, {"steps", "4"},
                           {"out", dir}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) rnn_opts_set(&o, kv[i][0], kv[i][1]);
    char state[128], orig[128], cfg[128];
    snprintf(state, sizeof state, "%s/state.safetensors", dir);
    snprintf(orig, sizeof orig, "%s/state.orig", dir);
    snprintf(cfg, sizeof cfg, "%s/config.txt", dir);
    rnn_st *st = NULL;
    if (rnn_train(&o, NULL, NULL, NULL, 0) || rename(state, orig) || !(st = rnn_st_load(orig))) {
        CHECK(0, "4 steps: %s", rnn_last_error());
        harness_rm_run(dir);
        return;
    }
    const char *saved = rnn_st_meta(st, "train.config"), *loss = rnn_st_meta(st, "train.best_loss");
    char *bogus = malloc(strlen(saved) + 16);
    sprintf(bogus, "%sbogus = 1\n", saved);
    int bogus_line = 1;
    for (const char *c = saved; *c; c++) bogus_line += *c == '\n';
    char want_bogus[64], want_best[128];
    snprintf(want_bogus, sizeof want_bogus, "\"train.config\" line %d names no option (\"bogus\")", bogus_line);
    snprintf(want_best, sizeof want_best, "\"train.best_val\" is 0 but \"train.best_loss\" is %s", loss);
    CHECK(strtod(loss, NULL) > 0 && isfinite(strtod(loss, NULL)), "the run validated: best loss %s", loss);
    const struct {
        const char *keys[3], *vals[3], *want;
    } cases[] = {
        {{"train.config"}, {NULL}, "resume state lacks \"train.config\", the run's options: a damaged file"},
        {{"train.config"}, {bogus}, want_bogus},
        {{"train.data"}, {NULL}, "lacks \"train.data\" (it has \"train.val_data\"): a damaged file"},
        {{"train.val_data"}, {NULL}, "lacks \"train.val_data\" (it has \"train.data\"): a damaged file"},
        {{"train.data"}, {"123 abc"}, "\"train.data\" is \"123 abc\", not a count and a 16-digit hash"},
        {{"train.best_val"}, {"0"}, want_best},
        {{"train.best_val", "train.best_loss", "train.bad_evals"}, {"inf", "inf", "1"},
         "\"train.bad_evals\" is 1 before any validation: a damaged file"},
        {{"train.best_val"}, {"inf"}, "but \"train.best_loss\" is"},
        {{"train.sched_best"}, {"-1"}, "\"train.sched_best\" is -1, neither NaN nor a validation loss"},
        {{"train.sched_best", "train.sched_bad"}, {"nan", "2"}, "\"train.sched_bad\" is 2 before the schedule"},
    };
    rnn_opts r;
    rnn_opts_default(&r);
    CHECK(rnn_opts_load_file(&r, cfg) == 0 && rnn_opts_set(&r, "resume", dir) == 0 && rnn_opts_set(&r, "steps", "6") == 0,
          "resume options: %s", rnn_last_error());
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int n = 1;
        while (n < 3 && cases[i].keys[n]) n++;
        if (edit_meta(orig, state, cases[i].keys, cases[i].vals, n)) {
            CHECK(0, "edit: %s", rnn_last_error());
            continue;
        }
        int rc = rnn_train(&r, NULL, NULL, NULL, 0);
        CHECK(rc == -1 && strstr(rnn_last_error(), state) && strstr(rnn_last_error(), cases[i].want),
              "case %zu (%s) refused: %s", i, cases[i].keys[0], rc ? rnn_last_error() : "it resumed");
    }
    static const char *const prints[] = {"train.data", "train.val_data"}, *const none[] = {NULL, NULL};
    CHECK(edit_meta(orig, state, prints, none, 2) == 0 && rnn_train(&r, NULL, NULL, NULL, 0) == 0,
          "a state without the data's fingerprints (an older one) resumes: %s", rnn_last_error());
    rnn_opts_set(&r, "steps", "8");
    CHECK(rnn_train(&r, NULL, NULL, NULL, 0) == 0, "and the state it saved resumes: %s", rnn_last_error());
    rnn_st *now = rnn_st_load(state);
    CHECK(now && rnn_st_meta(now, "train.data") && !strcmp(rnn_st_meta(now, "train.step"), "8"),
          "with its fingerprints, at step 8");
    rnn_st_free(now);
    free(bogus);
    rnn_st_free(st);
    remove(orig);
    harness_rm_run(dir);
}

/* --vectors that are no text of vectors are refused at their first bad
 * line, by the width's peek (no --embed) and by the reader alike: a NUL
 * byte (/dev/zero was read until memory ran out), a line without end. */
static void test_vectors_not_text(void) {
    char dir[] = "/tmp/rnn_vec_XXXXXX", run[64], vec[64];
    if (!harness_mkdtemp(dir)) return;
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(vec, sizeof vec, "%s/v.txt", dir);
    FILE *f = fopen(vec, "w");
    if (!f) {
        CHECK(0, "write %s", vec);
        return;
    }
    fputs("e 1 2 3 4\nt 1 2", f);
    fputc(0, f);
    fputs(" 3 4\n", f);
    fclose(f);
    char want_nul[160];
    snprintf(want_nul, sizeof want_nul, "%s:2: a NUL byte (not a text file of vectors?)", vec);
    const struct {
        const char *vectors, *embed, *want;
    } cases[] = {{"/dev/zero", NULL, "/dev/zero:1: a NUL byte (not a text file of vectors?)"},
                 {"/dev/zero", "4", "/dev/zero:1: a NUL byte (not a text file of vectors?)"},
                 {vec, NULL, want_nul},
                 {vec, "4", want_nul},
                 {vec, "3", "v.txt:1: a line of over 65728 bytes, more than a word and 3 numbers"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (i == 4) { /* a line without end */
            if (!(f = fopen(vec, "w"))) break;
            fputs("e ", f);
            for (int k = 0; k < 70000; k++) fputc('1', f);
            fclose(f);
        }
        rnn_opts o;
        rnn_opts_default(&o);
        const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"batch", "4"}, {"seq-len", "8"},
                               {"threads", "1"}, {"progress", "quiet"}, {"steps", "1"}, {"out", run},
                               {"vectors", cases[i].vectors}, {"embed", cases[i].embed}};
        for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++)
            if (kv[k][1]) rnn_opts_set(&o, kv[k][0], kv[k][1]);
        int rc = rnn_train(&o, NULL, NULL, NULL, 0);
        CHECK(rc == -1 && strstr(rnn_last_error(), cases[i].want), "--vectors %s --embed %s: %s", cases[i].vectors,
              cases[i].embed ? cases[i].embed : "(none)", rc ? rnn_last_error() : "trained");
        harness_rm_run(run);
    }
    remove(vec);
    rmdir(dir);
}

/* Fine-tuning with --grow-vocab and --vectors on data that holds no new
 * token: the vectors have no rows to give, and the run goes on with a
 * warning (it was refused with a message that told the user to add the
 * --grow-vocab they had given). Without --grow-vocab it is refused. */
static void test_grow_vocab_vectors_nothing_new(void) {
    char dir[] = "/tmp/rnn_grow_XXXXXX", base[64], ft[64], vec[64], model[96], log[96];
    if (!harness_mkdtemp(dir)) return;
    snprintf(base, sizeof base, "%s/base", dir);
    snprintf(ft, sizeof ft, "%s/ft", dir);
    snprintf(vec, sizeof vec, "%s/v.txt", dir);
    snprintf(model, sizeof model, "%s/model.safetensors", base);
    snprintf(log, sizeof log, "%s/train.log", ft);
    FILE *f = fopen(vec, "w");
    if (f) fputs("one 1 2 3 4 5 6 7 8\n", f), fclose(f);
    const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "8"}, {"batch", "4"}, {"seq-len", "8"},
                           {"threads", "1"}, {"progress", "quiet"}, {"steps", "2"}, {"eval-every", "2"}};
    rnn_opts o;
    rnn_opts_default(&o);
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++) rnn_opts_set(&o, kv[k][0], kv[k][1]);
    rnn_opts_set(&o, "out", base);
    CHECK(f && rnn_train(&o, NULL, NULL, NULL, 0) == 0, "the model to fine-tune: %s", rnn_last_error());
    rnn_opts_set(&o, "out", ft);
    rnn_opts_set(&o, "init-from", model);
    rnn_opts_set(&o, "vectors", vec);
    int rc = rnn_train(&o, NULL, NULL, NULL, 0);
    CHECK(rc == -1 && strstr(rnn_last_error(), "embedding is trained already; with --grow-vocab"),
          "without --grow-vocab, refused: %s", rc ? rnn_last_error() : "it trained");
    harness_rm_run(ft);
    rnn_opts_set(&o, "grow-vocab", NULL);
    rc = rnn_train(&o, NULL, NULL, NULL, 0);
    size_t n = 0;
    char *text = rc ? NULL : rnn_read_file(log, &n);
    CHECK(rc == 0 && text && strstr(text, "has no token the vocabulary of") &&
              strstr(text, "warning: --vectors") && strstr(text, "is not read: --grow-vocab added no tokens"),
          "with --grow-vocab, it trains and warns: %s", rc ? rnn_last_error() : text ? text : "no train.log");
    free(text);
    harness_rm_run(ft);
    harness_rm_run(base);
    remove(vec);
    rmdir(dir);
}

/* A checkpoint whose config holds what its architecture does not use, as a
 * config written by hand or by PyTorch (tools/rnnc_torch.py export) may:
 * residual on a 1-layer LM; a cell none classifier with a hidden_dim,
 * num_layers and bidirectional of its own. Such a file loads, and
 * fine-tuning from it must train too (it was refused: "--residual does
 * nothing in this run", a flag the run was never given). */
static void test_init_from_unused_config(void) {
    char dir[] = "/tmp/rnn_unused_XXXXXX", base[64], ft[64], model[96], data[64];
    if (!harness_mkdtemp(dir)) return;
    snprintf(base, sizeof base, "%s/base", dir);
    snprintf(ft, sizeof ft, "%s/ft", dir);
    snprintf(model, sizeof model, "%s/model.safetensors", base);
    snprintf(data, sizeof data, "%s/data.tsv", dir);
    FILE *f = fopen(data, "w");
    for (int i = 0; f && i < 40; i++) fputs(i % 2 ? "pos\ta good film\n" : "neg\ta dull film\n", f);
    if (f) fclose(f);
    for (int classify = 0; classify < 2; classify++) {
        rnn_opts o;
        rnn_opts_default(&o);
        const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "8"}, {"batch", "4"}, {"seq-len", "8"},
                               {"threads", "1"}, {"progress", "quiet"}, {"steps", "1"}, {"out", base}};
        const char *cls[][2] = {{"task", "classify"}, {"cell", "none"}, {"data", data}, {"label-col", "1"},
                                {"text-col", "2"}, {"batch", "4"}, {"embed", "8"}, {"threads", "1"},
                                {"progress", "quiet"}, {"steps", "1"}, {"out", base}};
        if (classify)
            for (size_t k = 0; k < sizeof cls / sizeof cls[0]; k++) rnn_opts_set(&o, cls[k][0], cls[k][1]);
        else
            for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++) rnn_opts_set(&o, kv[k][0], kv[k][1]);
        CHECK(f && rnn_train(&o, NULL, NULL, NULL, 0) == 0, "the model to fine-tune: %s", rnn_last_error());
        rnn_checkpoint ck;
        if (rnn_checkpoint_load(&ck, model)) {
            CHECK(0, "load: %s", rnn_last_error());
            break;
        }
        if (classify) ck.model->c.hidden_dim = 33, ck.model->c.num_layers = 3, ck.model->c.bidirectional = 1;
        else ck.model->c.residual = 1;
        CHECK(rnn_checkpoint_save(model, ck.model, ck.tok, ck.labels, ck.n_labels, ck.label_base, NULL, NULL, 0,
                                  NULL, 0) == 0,
              "save: %s", rnn_last_error());
        rnn_checkpoint_free(&ck);
        CHECK(rnn_checkpoint_load(&ck, model) == 0, "%s: the file loads: %s", classify ? "cell none" : "lm",
              rnn_last_error());
        rnn_checkpoint_free(&ck);
        rnn_opts_set(&o, "out", ft);
        rnn_opts_set(&o, "init-from", model);
        const int rc = rnn_train(&o, NULL, NULL, NULL, 0);
        CHECK(rc == 0, "%s: fine-tuning from it trains: %s", classify ? "cell none with hidden_dim 33, 3 layers, "
              "bidirectional" : "an LM of 1 layer with residual", rc ? rnn_last_error() : "ok");
        harness_rm_run(ft);
        harness_rm_run(base);
    }
    remove(data);
    rmdir(dir);
}

/* What on_eval_link saw at each validation: whether it was the best so far,
 * whether model.safetensors and last.safetensors were one file (a hard
 * link) and had the same bytes, and whether model.safetensors was still
 * the file, and the bytes, that the last best validation left. */
typedef struct {
    int n, best[16], linked[16], same[16], model_kept[16];
    double loss[16];
    ino_t best_ino;
    char *best_bytes;
    size_t best_n;
} link_seen;

static int on_eval_link(const rnn_train_event *e, void *user) {
    link_seen *s = user;
    if (e->kind != RNN_EVENT_EVAL || s->n >= 16) return 0;
    char mp[600], lp[600];
    snprintf(mp, sizeof mp, "%s/model.safetensors", e->run_dir);
    snprintf(lp, sizeof lp, "%s/last.safetensors", e->run_dir);
    struct stat ms, ls;
    size_t mn = 0, ln = 0;
    char *mb = rnn_read_file(mp, &mn), *lb = rnn_read_file(lp, &ln);
    const int k = s->n++;
    s->best[k] = e->best;
    s->loss[k] = e->loss;
    if (mb && lb && stat(mp, &ms) == 0 && stat(lp, &ls) == 0) {
        s->linked[k] = ms.st_dev == ls.st_dev && ms.st_ino == ls.st_ino && ms.st_nlink == 2;
        s->same[k] = mn == ln && !memcmp(mb, lb, mn);
        s->model_kept[k] = s->best_bytes && ms.st_ino == s->best_ino && mn == s->best_n && !memcmp(mb, s->best_bytes, mn);
        if (e->best) {
            free(s->best_bytes);
            s->best_bytes = mb, s->best_n = mn, s->best_ino = ms.st_ino;
            mb = NULL;
        }
    }
    free(mb);
    free(lb);
    return 0;
}

/* rnn_replace_with_link: path becomes a second name of src, in place of
 * what it was, and no temporary name stays behind, also when path already
 * is src's file (rename then does nothing); a src that is not there leaves
 * path as it was, with a message. */
static void test_replace_with_link(void) {
    char dir[] = "/tmp/rnn_rlink_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
    if (!harness_mkdtemp(dir)) return;
    char src[64], path[64], none[64];
    snprintf(src, sizeof src, "%s/a", dir);
    snprintf(path, sizeof path, "%s/b", dir);
    snprintf(none, sizeof none, "%s/none", dir);
    CHECK(rnn_write_atomic(src, "new", 3) == 0 && rnn_write_atomic(path, "old", 3) == 0, "files: %s", rnn_last_error());
    struct stat sa, sb;
    for (int round = 0; round < 2; round++) {
        CHECK(rnn_replace_with_link(src, path) == 0, "link %d: %s", round, rnn_last_error());
        CHECK(stat(src, &sa) == 0 && stat(path, &sb) == 0 && sa.st_ino == sb.st_ino && sb.st_nlink == 2,
              "round %d: b is a second name of a (links %d)", round, (int)sb.st_nlink);
    }
    CHECK(rnn_replace_with_link(none, path) == -1 && strstr(rnn_last_error(), path) && stat(path, &sb) == 0 &&
              sb.st_ino == sa.st_ino,
          "a missing source is an error naming the file, b kept: %s", rnn_last_error());
    int others = 0; /* a temporary name left behind would be a third entry */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) others += e->d_name[0] != '.' && strcmp(e->d_name, "a") && strcmp(e->d_name, "b");
    if (d) closedir(d);
    CHECK(d && others == 0, "no temporary name left beside them (%d)", others);
    unlink(src), unlink(path), rmdir(dir);
}

/* A validation that is the best so far writes the weights once: last.safetensors
 * is then a second name (a hard link) of model.safetensors. One that is not
 * gives last.safetensors a file of its own and leaves model.safetensors, its
 * inode and bytes, as the best one wrote it. A run stopped at a linked pair and
 * resumed validates as the run that went straight on, loss for loss. */
static void test_best_linked(void) {
    char base[] = "/tmp/rnn_link_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
    if (!harness_mkdtemp(base)) return;
    char dir[2][64];
    link_seen seen[3] = {{0}};
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "%.32s/run%d", base, k);
        rnn_opts o;
        rnn_opts_default(&o);
        const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "4"}, {"batch", "4"},
                               {"seq-len", "8"}, {"threads", "1"}, {"progress", "quiet"}, {"eval-every", "1"},
                               {"lr", "0.3"}, {"steps", k ? "6" : "10"}, {"out", dir[k]}};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) rnn_opts_set(&o, kv[i][0], kv[i][1]);
        CHECK(rnn_train(&o, on_eval_link, &seen[k], NULL, 0) == 0, "train %s: %s", dir[k], rnn_last_error());
    }
    const link_seen *a = &seen[0];
    int bests = 0, others = 0;
    for (int i = 0; i < a->n; i++) {
        if (a->best[i]) {
            bests += i > 0;
            CHECK(a->linked[i] && a->same[i], "validation %d, the best so far: last.safetensors is model.safetensors "
                  "(linked %d, same bytes %d)", i + 1, a->linked[i], a->same[i]);
        } else {
            others++;
            CHECK(!a->linked[i] && !a->same[i] && a->model_kept[i], "validation %d, not the best: last.safetensors "
                  "is a file of its own (linked %d, same bytes %d), model.safetensors the best's (%d)", i + 1,
                  a->linked[i], a->same[i], a->model_kept[i]);
        }
    }
    CHECK(a->n == 10 && bests > 0 && others > 0, "both kinds of validation were seen: %d best after the first, %d not "
          "(of %d)", bests, others, a->n);
    /* run1 stopped at step 6, a best one (run0's validations at lr 0.3: best at steps 1, 2, 6-9); resumed
     * to 10, it goes on as run0 did. */
    CHECK(seen[1].n == 6 && seen[1].best[5] && seen[1].linked[5], "run1 stopped with last linked to the best model");
    rnn_opts r;
    rnn_opts_default(&r);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/config.txt", dir[1]);
    CHECK(rnn_opts_load_file(&r, cfg) == 0 && rnn_opts_set(&r, "resume", dir[1]) == 0 &&
              rnn_opts_set(&r, "steps", "10") == 0 && rnn_train(&r, on_eval_link, &seen[2], NULL, 0) == 0,
          "resume to step 10: %s", rnn_last_error());
    int same = seen[2].n == 4;
    for (int i = 0; i < 4 && same; i++) same = seen[2].loss[i] == a->loss[6 + i];
    CHECK(same, "resumed from linked files, the validation losses are those of the run that went on (%d)", seen[2].n);
    for (int k = 0; k < 3; k++) free(seen[k].best_bytes);
    harness_rm_run(dir[0]);
    harness_rm_run(dir[1]);
    rmdir(base);
}

/* rnn_acts_bytes, which the memory check before training counts: a wider
 * embedding adds, per row of the batch, its row, and the gradient buffers
 * dy and dx of the widest layer (the embedding here); and a plan counts what
 * the model itself would. */
static void test_acts_bytes(void) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 50, c.hidden_dim = 8, c.num_layers = 2;
    const int T = 16, B = 4, N = T * B;
    size_t bytes[2];
    for (int k = 0; k < 2; k++) {
        c.embed_dim = 1024 * (k + 1);
        rnn_model *plan = rnn_model_plan(&c), *m = rnn_model_create(&c);
        bytes[k] = plan ? rnn_acts_bytes(plan, T, B, N, 0) : 0;
        CHECK(m && bytes[k] == rnn_acts_bytes(m, T, B, N, 0), "a plan's activations are the model's");
        rnn_model_free(plan);
        rnn_model_free(m);
    }
    CHECK(bytes[1] - bytes[0] == (size_t)3 * N * 1024 * sizeof(float), "1024 more embedding columns: %zu bytes more",
          bytes[1] - bytes[0]);
}

/* Classifier evaluation holds probabilities for a block of examples at a
 * time: with 5,000 classes, 2,000 examples take three blocks. The metrics
 * of a two-model ensemble must be those of each text's probabilities taken
 * one at a time at batch 1 (rnn_cls_text_probs), averaged by hand. */
static void test_cls_eval_blocks(void) {
    const int C = 5000, K = 2, n = 2000;
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 30, c.embed_dim = 6, c.hidden_dim = 8, c.num_layers = 1, c.num_classes = C;
    c.loss = RNN_LOSS_CE;
    rnn_model *m[2] = {rnn_model_create(&c), rnn_model_create(&c)};
    CHECK(m[0] && m[1], "models: %s", rnn_last_error());
    if (!m[0] || !m[1]) return;
    rnn_model_init(m[0], 3), rnn_model_init(m[1], 4);
    /* a sharp head, so that most texts have a clear favourite class */
    for (int k = 0; k < K; k++)
        for (size_t i = 0; i < (size_t)C * 8; i++) m[k]->head_w[i] *= 40;
    rnn_cls_data d = {0};
    d.n = (size_t)n;
    d.start = malloc(sizeof(size_t) * n), d.len = malloc(sizeof(int) * n), d.label = malloc(sizeof(int) * n);
    d.tokens = malloc(sizeof(int32_t) * n * 20);
    rnn_rng rng;
    rnn_rng_seed(&rng, 7);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        d.start[i] = used, d.len[i] = 1 + (int)(rnn_rng_next(&rng) % 20), d.label[i] = (int)(rnn_rng_next(&rng) % C);
        if (d.len[i] > d.max_len) d.max_len = d.len[i];
        for (int t = 0; t < d.len[i]; t++) d.tokens[used++] = (int32_t)(rnn_rng_next(&rng) % 30);
    }
    /* the oracle: one text at a time */
    double loss = 0, *mean = malloc(sizeof(double) * C);
    float *p = malloc(sizeof(float) * (C + 1));
    long right = 0, *diag = calloc(3 * (size_t)C, sizeof(long)), *seen = diag + C, *said = seen + C;
    rnn_acts *a[2] = {0};
    int a_T[2] = {0};
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < C; j++) mean[j] = 0;
        for (int k = 0; k < K; k++) {
            rnn_cls_text_probs(m[k], &a[k], &a_T[k], d.tokens + d.start[i], d.len[i], p);
            for (int j = 0; j < C; j++) mean[j] += (double)p[j] / K;
        }
        int pred = 0;
        for (int j = 1; j < C; j++)
            if (mean[j] > mean[pred]) pred = j;
        if (i % 2 == 0) d.label[i] = pred; /* half right, so that accuracy is more than 0 */
        loss += -log(mean[d.label[i]]);
        right += pred == d.label[i];
        if (pred == d.label[i]) diag[pred]++;
        seen[d.label[i]]++, said[pred]++;
    }
    loss /= n;
    double f1 = 0; /* macro-F1: 2tp / (2tp + fp + fn) per class, 0 for one never seen nor said */
    for (int j = 0; j < C; j++) f1 += seen[j] + said[j] ? 2.0 * diag[j] / (double)(seen[j] + said[j]) : 0.0;
    f1 /= C;
    const rnn_model *ms[2] = {m[0], m[1]};
    const rnn_cls_data *ds[2] = {&d, &d};
    rnn_cls_metrics mt;
    CHECK(rnn_cls_evaluate_mean(ms, ds, K, 32, &mt) == 0, "evaluate: %s", rnn_last_error());
    CHECK(mt.n == n && mt.C == C, "%ld examples, %d classes", mt.n, mt.C);
    CHECK(fabs(mt.loss - loss) < 1e-6 * loss, "loss %.9f, one at a time %.9f", mt.loss, loss);
    CHECK(mt.accuracy == (double)right / n && right > 0, "accuracy %.4f, one at a time %ld of %d", mt.accuracy,
          right, n);
    CHECK(fabs(mt.macro_f1 - f1) < 1e-12 && f1 > 0, "macro-F1 %.9f, one at a time %.9f", mt.macro_f1, f1);
    /* 5000 classes: past RNN_CONFUSION_MAX_CLASSES, no matrix (100,000 would take 80 GB) */
    CHECK(C > RNN_CONFUSION_MAX_CLASSES && mt.confusion == NULL, "no confusion matrix for %d classes", C);
    rnn_cls_metrics_free(&mt);
    /* one model alone: the same as rnn_cls_evaluate */
    rnn_cls_metrics one, alone;
    CHECK(rnn_cls_evaluate_mean(ms, ds, 1, 32, &one) == 0 && rnn_cls_evaluate(m[0], &d, 32, &alone) == 0,
          "one model");
    CHECK(one.loss == alone.loss && one.accuracy == alone.accuracy, "an ensemble of one is the model");
    rnn_cls_metrics_free(&one), rnn_cls_metrics_free(&alone);
    for (int k = 0; k < K; k++) rnn_acts_free(a[k]), rnn_model_free(m[k]);
    free(mean), free(p), free(diag);
    rnn_cls_data_free(&d);
}

/* A confidently wrong classifier: logits hundreds apart, each text labelled
 * with its least likely class, so that the probabilities of the labels lie
 * far below a float's range (they were 0, and the loss capped at
 * -log 1e-30 = 69 nats). The loss must be the exact mean of -log p, from
 * each text's logits taken one at a time and computed here in long double:
 * a two-model ce ensemble (log of the mean of the two probabilities) and a
 * bce model. */
static void test_cls_eval_confident(void) {
    const int n = 40;
    for (int bce = 0; bce <= 1; bce++) {
        const int K = bce ? 1 : 2, C = bce ? 2 : 4;
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_CLASSIFY);
        c.vocab_size = 30, c.embed_dim = 6, c.hidden_dim = 8, c.num_layers = 1, c.num_classes = C;
        c.loss = bce ? RNN_LOSS_BCE : RNN_LOSS_CE;
        rnn_model *m[2] = {rnn_model_create(&c), K > 1 ? rnn_model_create(&c) : NULL};
        CHECK(m[0] && (K == 1 || m[1]), "models: %s", rnn_last_error());
        if (!m[0] || (K > 1 && !m[1])) return;
        for (int k = 0; k < K; k++) {
            rnn_model_init(m[k], 11 + k);
            for (size_t i = 0; i < (size_t)m[k]->n_out * 8; i++) m[k]->head_w[i] *= 3000;
        }
        rnn_cls_data d = {0};
        d.n = (size_t)n;
        d.start = malloc(sizeof(size_t) * n), d.len = malloc(sizeof(int) * n), d.label = malloc(sizeof(int) * n);
        d.tokens = malloc(sizeof(int32_t) * n * 12);
        rnn_rng rng;
        rnn_rng_seed(&rng, 9);
        size_t used = 0;
        for (int i = 0; i < n; i++) {
            d.start[i] = used, d.len[i] = 1 + (int)(rnn_rng_next(&rng) % 12), d.label[i] = 0;
            if (d.len[i] > d.max_len) d.max_len = d.len[i];
            for (int t = 0; t < d.len[i]; t++) d.tokens[used++] = (int32_t)(rnn_rng_next(&rng) % 30);
        }
        long double loss = 0;
        double lowest = 0;
        float p[8];
        rnn_acts *a[2] = {0};
        int a_T[2] = {0};
        for (int i = 0; i < n; i++) {
            long double lp[2][4]; /* each model's log p of each class */
            for (int k = 0; k < K; k++) {
                rnn_cls_text_probs(m[k], &a[k], &a_T[k], d.tokens + d.start[i], d.len[i], p);
                const float *z = a[k]->logits; /* the text's logits, row 0 */
                if (bce) {
                    lp[k][1] = -log1pl(expl(-(long double)z[0])), lp[k][0] = -log1pl(expl((long double)z[0]));
                } else {
                    long double mx = z[0], sum = 0;
                    for (int j = 1; j < C; j++) mx = z[j] > mx ? z[j] : mx;
                    for (int j = 0; j < C; j++) sum += expl((long double)z[j] - mx);
                    for (int j = 0; j < C; j++) lp[k][j] = (long double)z[j] - mx - logl(sum);
                }
            }
            int worst = 0; /* the label: the class of the least mean probability */
            long double lmean[4];
            for (int j = 0; j < C; j++) {
                long double top = lp[0][j];
                for (int k = 1; k < K; k++) top = lp[k][j] > top ? lp[k][j] : top;
                long double s = 0;
                for (int k = 0; k < K; k++) s += expl(lp[k][j] - top);
                lmean[j] = top + logl(s / K);
                if (lmean[j] < lmean[worst]) worst = j;
            }
            d.label[i] = worst;
            loss -= lmean[worst];
            lowest = fmin(lowest, (double)lmean[worst]);
        }
        loss /= n;
        const rnn_model *ms[2] = {m[0], m[1]};
        const rnn_cls_data *ds[2] = {&d, &d};
        rnn_cls_metrics mt;
        CHECK(rnn_cls_evaluate_mean(ms, ds, K, 8, &mt) == 0, "evaluate: %s", rnn_last_error());
        CHECK(lowest < -200 && fabs(mt.loss - (double)loss) < 1e-6 * (double)loss,
              "%s, labels as unlikely as e^%.0f: loss %.6f, long double oracle %.6f", bce ? "bce" : "ce ensemble",
              lowest, mt.loss, (double)loss);
        CHECK(mt.accuracy == 0, "every label the least likely class: accuracy %.3f", mt.accuracy);
        int rows_ok = mt.confusion != NULL; /* row c: the texts of class c, none on the diagonal */
        for (int c = 0; rows_ok && c < C; c++) {
            long row = 0, want = 0;
            for (int j = 0; j < C; j++) row += mt.confusion[(size_t)c * C + j];
            for (int i = 0; i < n; i++) want += d.label[i] == c;
            rows_ok = row == want && mt.confusion[(size_t)c * C + c] == 0;
        }
        CHECK(rows_ok, "the confusion matrix: each class's texts in its row, none right");
        rnn_cls_metrics_free(&mt);
        for (int k = 0; k < K; k++) rnn_acts_free(a[k]), rnn_model_free(m[k]);
        rnn_cls_data_free(&d);
    }
}

/* A batch's packed rows are ints: texts of up to RNN_MAX_TEXT_LEN tokens
 * (INT_MAX / 2) fit two to a batch, and a plan whose batch would hold more
 * rows than an int does is refused with a message, not wrapped round into
 * activations sized for a negative count (rnn_classify_batch plans 64 texts
 * of that length at a time). Only the lengths are read: no tokens needed. */
static void test_cls_plan_rows(void) {
    int len[3] = {RNN_MAX_TEXT_LEN, RNN_MAX_TEXT_LEN, RNN_MAX_TEXT_LEN};
    rnn_cls_data d = {0};
    d.n = 3, d.len = len, d.max_len = RNN_MAX_TEXT_LEN;
    CHECK(rnn_cls_plan_epoch(&d, 2, 0, 0, 0) == 0 && d.max_rows == 2 * RNN_MAX_TEXT_LEN,
          "two of the longest texts make a batch of %d rows: %s", d.max_rows, rnn_last_error());
    rnn_errorf("(none)");
    const int rc = rnn_cls_plan_epoch(&d, 3, 0, 0, 0);
    CHECK(rc == -1 && strstr(rnn_last_error(), "tokens") && strstr(rnn_last_error(), "batch"),
          "three in a batch are refused (%d rows planned): %s", d.max_rows, rnn_last_error());
    free(d.order);
}

/* ------------------------------------------------------------------------ */
/* Token streams held at 1, 2 or 4 bytes per id                             */

static void test_lm_width(void) {
    CHECK(rnn_lm_width(1) == 1 && rnn_lm_width(65) == 1 && rnn_lm_width(256) == 1,
          "up to 256 ids (0..255, a byte tokenizer's): one byte each");
    CHECK(rnn_lm_width(257) == 2 && rnn_lm_width(30523) == 2 && rnn_lm_width(65536) == 2,
          "257 .. 65,536 ids: two bytes");
    CHECK(rnn_lm_width(65537) == 4 && rnn_lm_width(1 << 26) == 4, "more: four bytes");
}

/* A copy of n ids (each below 2^(8 w)) held at w bytes each. */
static rnn_lm_stream narrow_copy(const int32_t *ids, size_t n, int w) {
    rnn_lm_stream s = {malloc(n * (size_t)w + 1), n, w};
    for (size_t i = 0; s.ids && i < n; i++) {
        if (w == 1) ((uint8_t *)s.ids)[i] = (uint8_t)ids[i];
        else if (w == 2) ((uint16_t *)s.ids)[i] = (uint16_t)ids[i];
        else ((int32_t *)s.ids)[i] = ids[i];
    }
    return s;
}

/* rnn_lm_fill and rnn_lm_reverse at each width against train.h's definition
 * applied to the int32 ids directly: input (t, b) of batch k is token
 * (b * len + k * T + offset % len + t) mod (B * len), its target the next;
 * the vocabulary's largest id (255, 65535, 2^20 - 1) among them. */
static void test_lm_fill_widths(void) {
    enum { N = 1003 };
    int32_t data[N], ids[16 * 8], tg[16 * 8], rev[N];
    const int widths[3] = {1, 2, 4};
    const int32_t top[3] = {255, 65535, (1 << 20) - 1};
    for (int wi = 0; wi < 3; wi++) {
        rnn_rng rng;
        rnn_rng_seed(&rng, 11 + (uint64_t)wi);
        for (int i = 0; i < N; i++) data[i] = (int32_t)(rnn_rng_next(&rng) % ((uint64_t)top[wi] + 1));
        data[3] = top[wi], data[4] = 0, data[N - 1] = top[wi];
        rnn_lm_stream s = narrow_copy(data, N, widths[wi]);
        CHECK(s.ids != NULL, "alloc");
        if (!s.ids) return;
        long batches = 0, bad = 0;
        const int Bs[3] = {1, 3, 8}, Ts[3] = {1, 5, 16};
        for (int bi = 0; bi < 3; bi++)
            for (int ti = 0; ti < 3; ti++) {
                const int B = Bs[bi], T = Ts[ti];
                const size_t len = N / (size_t)B, used = len * (size_t)B;
                const size_t offsets[4] = {0, 7, len - 1, 3 * len + 2};
                for (long k = 0; k < rnn_lm_batches(N, B, T); k++)
                    for (int oi = 0; oi < 4; oi++) {
                        rnn_lm_fill(&s, B, T, k, offsets[oi], ids, tg);
                        for (int t = 0; t < T; t++)
                            for (int b = 0; b < B; b++) {
                                const size_t i = (size_t)b * len + (size_t)k * T + offsets[oi] % len + t;
                                bad += ids[t * B + b] != data[i % used] || tg[t * B + b] != data[(i + 1) % used];
                            }
                        batches++;
                    }
            }
        CHECK(bad == 0 && batches > 1000, "width %d: %ld of the ids of %ld batches differ from the int32 ids'",
              widths[wi], bad, batches);
        for (int n = N; n >= N - 1; n--) { /* an odd and an even count */
            rnn_lm_stream r = narrow_copy(data, (size_t)n, widths[wi]);
            CHECK(r.ids != NULL, "alloc");
            if (!r.ids) break;
            rnn_lm_reverse(&r);
            rnn_lm_read(&r, 0, (size_t)n, rev, 1);
            int same = 1;
            for (int i = 0; i < n; i++) same &= rev[i] == data[n - 1 - i];
            CHECK(same, "width %d: %d ids reversed", widths[wi], n);
            free(r.ids);
        }
        free(s.ids);
    }
}

/* Validation reads a narrow stream as the int32 path reads its ids: the same
 * loss, accuracy and count, bit for bit, at each width (a model per width,
 * its vocabulary 200, 300 and 65,600; the second with a neural cache). */
static void test_lm_evaluate_widths(void) {
    enum { N = 301 };
    const int V[3] = {200, 300, 65600}, widths[3] = {1, 2, 4};
    int32_t data[N];
    for (int wi = 0; wi < 3; wi++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_LM);
        c.vocab_size = V[wi], c.embed_dim = 4, c.hidden_dim = 6, c.num_layers = 1;
        if (wi == 1) c.cache_size = 20, c.cache_theta = 0.3f, c.cache_lambda = 0.2f;
        rnn_model *m = rnn_model_create(&c);
        CHECK(m != NULL, "model: %s", rnn_last_error());
        if (!m) return;
        rnn_model_init(m, 5);
        rnn_rng rng;
        rnn_rng_seed(&rng, 3);
        for (int i = 0; i < N; i++) data[i] = (int32_t)(rnn_rng_next(&rng) % (uint64_t)V[wi]);
        data[10] = V[wi] - 1;
        CHECK(rnn_lm_width(V[wi]) == widths[wi], "vocabulary %d: width %d", V[wi], widths[wi]);
        rnn_lm_stream s = narrow_copy(data, N, widths[wi]);
        for (int B = 1; B <= 3; B += 2) {
            rnn_lm_eval want = {0}, got = {0};
            const int bad = rnn_lm_evaluate(m, data, N, B, 7, &want) || rnn_lm_evaluate_stream(m, &s, B, 7, NULL, NULL, &got);
            CHECK(!bad, "evaluate: %s", rnn_last_error());
            CHECK(!bad && got.loss == want.loss && got.accuracy == want.accuracy && got.count == want.count &&
                      got.model_loss == want.model_loss && want.count == (N / B - 1) * B,
                  "width %d, %d streams: loss %.17g acc %g (%ld) against int32 %.17g %g (%ld)", widths[wi], B,
                  got.loss, got.accuracy, got.count, want.loss, want.accuracy, want.count);
        }
        free(s.ids);
        rnn_model_free(m);
    }
}

/* rnn_lm_encode in pieces of 1 byte and up against rnn_tokenizer_encode on
 * the whole text: the same ids, unknowns and width, or the same message (a
 * bad byte named as the whole text has it). 1 if so; otherwise a failed
 * check says how. *cuts counts the cuts in pieces of 3 bytes, so that a
 * test can tell that cutting happened at all, *refused the texts refused. */
static int check_pieces(const rnn_tokenizer *t, const char *text, size_t len, const char *what, long *cuts,
                        long *refused) {
    int32_t *want = NULL;
    size_t n = 0, unk = 0;
    char msg[512] = "";
    const int rc = rnn_tokenizer_encode(t, text, len, &want, &n, &unk);
    if (rc) snprintf(msg, sizeof msg, "%s", rnn_last_error());
    *refused += rc != 0;
    const size_t pieces[] = {1, 2, 3, 5, 8, 13, 64, len + 1};
    int ok = 1;
    for (size_t pi = 0; ok && pi < sizeof pieces / sizeof pieces[0]; pi++) {
        rnn_lm_stream s = {0};
        size_t u = 12345;
        const int rc2 = rnn_lm_encode(t, text, len, pieces[pi], 0, &s, &u);
        if (rc) {
            ok = rc2 == -1 && !strcmp(rnn_last_error(), msg) && s.ids == NULL;
            if (!ok)
                CHECK(0, "%s, pieces of %zu: fails as the whole text does (\"%s\"; got %d \"%s\")", what,
                      pieces[pi], msg, rc2, rc2 ? rnn_last_error() : "");
            continue;
        }
        ok = rc2 == 0 && s.n == n && u == unk && s.width == rnn_lm_width(rnn_tokenizer_vocab_size(t));
        size_t at = 0;
        if (ok) {
            int32_t *got = malloc((n + 1) * sizeof *got);
            rnn_lm_read(&s, 0, n, got, 1);
            while (at < n && got[at] == want[at]) at++;
            ok = at == n;
            free(got);
        }
        if (!ok)
            CHECK(0, "%s, pieces of %zu: %d, %zu ids (%zu unknown, width %d) against %zu (%zu); first differing at %zu",
                  what, pieces[pi], rc2, s.n, u, s.width, n, unk, at);
        free(s.ids);
        if (pieces[pi] == 3)
            for (size_t p = 0; (p = rnn_tokenizer_cut(t, text, len, p + 3)) < len;) ++*cuts;
    }
    free(want);
    return ok;
}

/* Random texts of fragments chosen to end up on both sides of a cut: tags
 * (across lines, unclosed, comments), a lone '<' and '>', multi-byte and
 * invalid UTF-8, NUL, whitespace of every kind, punctuation, a 120-letter
 * word (wordpiece's [UNK]), for every tokenizer; then tags of 500 to 520
 * bytes (a tag is at most 512) cut at every byte. */
static void test_lm_encode_pieces(void) {
    static const char *good[] = {"a", "b", "Ab", "word", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x99\x82",
                                 " ", "  ", "\n", "\n\n", "\t", "\r\n", "\r", "\v", "<", ">", "/", "!", "<br />",
                                 "<a\nhref=x>", "<!--\n-->", "<p", "</b>", "'", ".", "(", "\xc3\x9cn\xc3\xaf" "c",
                                 "\xe2\x80\xa8", "\xc2\xa0", "3 < 4", "a>b", "\xe3\x80\x80",
                                 /* more Unicode spaces and format marks, a BOM mid-text, U+FFFD, a
                                  * combining accent, CJK, specials' spellings, tags' false starts */
                                 "\xc2\x85", "\xe2\x80\x8b", "\xef\xbb\xbf", "\xc2\xad", "\xef\xbf\xbd", "\f",
                                 "E\xcc\x81", "\xe4\xb8\xad\xe6\x96\x87", "\xef\xbc\x81", "<pad>", "<unk>", "[UNK]",
                                 "<!", "</", "< a>",
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    static const char *bad[] = {"\xff", "\xe2\x82", "\x80", "\xc3", "@" /* NUL */, "\xed\xa0\x80",
                                "\xc0\xaf" /* overlong */, "\xf4\x90\x80\x80" /* past U+10FFFF */, "\xf0\x9f"};
    enum { TEXTS = 160, FRAGS = 120 };
    const int n_good = (int)(sizeof good / sizeof good[0]), n_bad = (int)(sizeof bad / sizeof bad[0]);
    static char text[TEXTS][FRAGS * 130];
    size_t len[TEXTS];
    rnn_rng rng;
    rnn_rng_seed(&rng, 2026);
    for (int i = 0; i < TEXTS; i++) { /* the first half valid UTF-8, the rest with bad bytes */
        len[i] = 0;
        for (int f = 0; f < FRAGS; f++) {
            int invalid = i >= TEXTS / 2 && rnn_rng_next(&rng) % 15 == 0;
            const char *fr = invalid ? bad[rnn_rng_next(&rng) % n_bad] : good[rnn_rng_next(&rng) % n_good];
            for (const char *c = fr; *c; c++) text[i][len[i]++] = *c == '@' ? 0 : *c;
        }
    }
    /* tokenizers: vocabularies from the first 40 texts, so that the others have unknowns */
    size_t vlen = 0;
    for (int i = 0; i < 40; i++) vlen += len[i];
    char *vtext = malloc(vlen);
    vlen = 0;
    for (int i = 0; i < 40; i++) memcpy(vtext + vlen, text[i], len[i]), vlen += len[i];
    const char *bert = harness_data("wordpiece/bert-base-uncased-vocab.txt");
    char wp_spec[4200];
    snprintf(wp_spec, sizeof wp_spec, "wordpiece:%s", bert);
    struct {
        const char *spec, *what;
        int lowercase, split_punct, strip_html, keep_newlines, replace;
    } cfg[] = {
        {"char", "char", 0, -1, 0, 0, 0},
        {"char", "char lowercase strip-html replace", 1, -1, 1, 0, 1},
        {"byte", "byte", 0, -1, 0, 0, 0},
        {"word", "word strip-html replace", 1, 1, 1, 1, 1},
        {"word", "word, newlines as space, punctuation kept", 0, 0, 0, 0, 0},
        {wp_spec, "wordpiece strip-html replace", 1, -1, 1, 1, 1},
        {wp_spec, "wordpiece", 1, -1, 0, 0, 0},
        {"char", "char strip-html", 0, -1, 1, 0, 0},
        {"word", "word cased, punctuation split, strict", 0, 1, 0, 1, 0},
        {wp_spec, "wordpiece cased strip-html", 0, -1, 1, 0, 0},
    };
    const int have_bert = harness_have_data(bert);
    for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++) {
        rnn_tok_options o;
        if (!have_bert && strstr(cfg[ci].spec, bert)) continue;
        CHECK(rnn_tok_parse_type(cfg[ci].spec, &o) == 0, "%s: %s", cfg[ci].spec, rnn_last_error());
        o.lowercase = cfg[ci].lowercase;
        if (cfg[ci].split_punct >= 0) o.split_punct = cfg[ci].split_punct;
        o.strip_html = cfg[ci].strip_html;
        o.keep_newlines = cfg[ci].keep_newlines;
        o.invalid_utf8_replace = cfg[ci].replace;
        rnn_tokenizer *t = rnn_tokenizer_build(&o, vtext, vlen);
        CHECK(t != NULL, "%s: %s", cfg[ci].what, rnn_last_error());
        if (!t) continue;
        long cuts = 0, refused = 0;
        int ok = 1;
        for (int i = 0; ok && i < TEXTS; i++) ok = check_pieces(t, text[i], len[i], cfg[ci].what, &cuts, &refused);
        /* tags of 500..520 bytes, with line breaks and spaces inside */
        for (int L = 500; ok && L <= 520 && o.strip_html; L++) {
            char tag[600];
            size_t n = (size_t)snprintf(tag, sizeof tag, "x <a");
            for (; n < (size_t)L + 2; n++) tag[n] = n % 7 == 0 ? '\n' : n % 5 == 0 ? ' ' : 'q';
            n += (size_t)snprintf(tag + n, sizeof tag - n, "> y\nz <b>");
            ok = check_pieces(t, tag, n, cfg[ci].what, &cuts, &refused);
        }
        printf("  %-44s %ld cuts, %ld texts refused alike\n", cfg[ci].what, cuts, refused);
        CHECK(ok, "%s: every text encodes in pieces as it does whole", cfg[ci].what);
        CHECK(cuts > 500, "%s: the texts were cut (%ld cuts)", cfg[ci].what, cuts);
        const int strict = !o.invalid_utf8_replace && o.type != RNN_TOK_BYTE;
        CHECK(strict ? refused >= TEXTS / 2 - 5 : refused == 0, "%s: %ld texts refused", cfg[ci].what, refused);
        rnn_tokenizer_free(t);
    }
    free(vtext);
}

/* rnn_lm_encode at the widths' edges, with word vocabularies of 256, 257,
 * 65,536 and 65,537 ids (the words w00000, w00001, ... once each, and the
 * two specials): 1, 2, 2 and 4 bytes a token, the largest id (255, 256,
 * 65535, 65536) among the ids, and every id that of rnn_tokenizer_encode. */
static void test_lm_encode_widths(void) {
    const int words[4] = {254, 255, 65534, 65535}, want_w[4] = {1, 2, 2, 4};
    char *text = malloc(65535 * 7 + 1);
    CHECK(text != NULL, "alloc");
    if (!text) return;
    for (int wi = 0; wi < 4; wi++) {
        size_t len = 0;
        for (int i = 0; i < words[wi]; i++) len += (size_t)sprintf(text + len, "w%05d ", i);
        rnn_tok_options o;
        rnn_tok_parse_type("word", &o);
        rnn_tokenizer *t = rnn_tokenizer_build(&o, text, len);
        int32_t *want = NULL;
        size_t n = 0;
        CHECK(t && rnn_tokenizer_encode(t, text, len, &want, &n, NULL) == 0, "word tokenizer: %s", rnn_last_error());
        if (!t || !want) {
            rnn_tokenizer_free(t);
            continue;
        }
        const int V = rnn_tokenizer_vocab_size(t);
        int32_t top = 0;
        for (size_t i = 0; i < n; i++) top = want[i] > top ? want[i] : top;
        rnn_lm_stream s = {0};
        int32_t *got = malloc((n + 1) * sizeof *got);
        const int rc = rnn_lm_encode(t, text, len, 1000, 0, &s, NULL);
        if (!rc && got) rnn_lm_read(&s, 0, s.n, got, 1);
        CHECK(!rc && got && V == words[wi] + 2 && top == V - 1 && s.width == want_w[wi] && s.n == n &&
                  !memcmp(got, want, n * sizeof *got),
              "vocabulary %d: width %d (want %d), largest id %d, %zu ids as the whole text's %zu", V, s.width,
              want_w[wi], (int)top, s.n, n);
        free(got);
        free(want);
        rnn_lm_stream_free(&s);
        rnn_tokenizer_free(t);
    }
    free(text);
}

#if !defined(__SANITIZE_ADDRESS__)
/* The address space this process has mapped (VmSize), in bytes; 0 if unknown. */
static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}
#endif

/* A bad byte in the last 1 MB piece of a 16 MB text is named as the whole
 * text has it, in the memory the pieces take: the text, its stream (a byte a
 * character) and a piece's int32 ids. The message was found by encoding the
 * whole text again, all its ids as int32 (64 MB), so that under a limit the
 * pieces fit in, the text was refused as "out of memory" instead. The limit:
 * 48 MB of address space more than the process has. (Not under
 * AddressSanitizer, whose allocator maps memory of its own.) */
static void test_lm_encode_refused_in_pieces_memory(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("  (skipped under AddressSanitizer: an address-space limit would refuse its own mappings)\n");
#else
    const size_t MB = (size_t)1 << 20, len = 16 * MB;
    char *text = malloc(len);
    CHECK(text != NULL, "alloc");
    if (!text) return;
    for (size_t i = 0; i < len; i++) text[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
    text[len - 100] = (char)0xff;
    rnn_tok_options o;
    rnn_tok_parse_type("char", &o);
    rnn_tokenizer *t = rnn_tokenizer_build(&o, "abcdefghijklmnopqrstuvwxyz\n", 27);
    /* the oracle: the whole text's own message, encoded whole without a limit */
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(t && rnn_tokenizer_encode(t, text, len, &ids, &n, NULL) == -1, "the whole text is refused");
    char want[256], got[256] = "";
    snprintf(want, sizeof want, "%s", rnn_last_error());
    struct rlimit old, lim;
    const size_t vm = vm_size();
    if (!t || !vm || getrlimit(RLIMIT_AS, &old) != 0 ||
        (old.rlim_max != RLIM_INFINITY && old.rlim_max < vm + 48 * MB)) {
        printf("  (no address-space limit to set: skipped)\n");
    } else {
        lim.rlim_cur = vm + 48 * MB, lim.rlim_max = old.rlim_max;
        rnn_lm_stream s = {0};
        int rc = 1;
        if (setrlimit(RLIMIT_AS, &lim) == 0) {
            rc = rnn_lm_encode(t, text, len, MB, 0, &s, NULL);
            snprintf(got, sizeof got, "%s", rnn_last_error());
            setrlimit(RLIMIT_AS, &old);
        }
        printf("  whole: \"%s\"; in pieces under a limit: \"%s\"\n", want, got);
        CHECK(rc == -1 && !strcmp(got, want) && s.ids == NULL,
              "in pieces, under a limit they fit in: rc %d, \"%s\", as the whole text says \"%s\"", rc, got, want);
    }
    rnn_tokenizer_free(t);
    free(text);
#endif
}

/* Runs an LM on dir with the options kv (and the steps given), holding its
 * streams at least min_width bytes per id; every step's and validation's
 * loss into losses (up to cap), their count returned (-1 on failure). */
typedef struct {
    double loss[256];
    int n;
} loss_log;

static int log_loss(const rnn_train_event *e, void *user) {
    loss_log *l = user;
    if (l->n < 256) l->loss[l->n++] = e->kind == RNN_EVENT_EVAL ? -e->loss : e->loss; /* evals negated */
    return 0;
}

static int width_run(const char *dir, const char *(*kv)[2], size_t n_kv, const char *steps, const char *resume,
                     int min_width, loss_log *log) {
    rnn_opts o;
    rnn_opts_default(&o);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/config.txt", dir);
    if (resume) { /* as rnn train --resume DIR does: the run's config.txt, then the flags */
        CHECK(rnn_opts_load_file(&o, cfg) == 0 && rnn_opts_set(&o, "resume", resume) == 0, "resume options: %s",
              rnn_last_error());
    } else {
        for (size_t i = 0; i < n_kv; i++) rnn_opts_set(&o, kv[i][0], kv[i][1]);
        rnn_opts_set(&o, "out", dir);
    }
    rnn_opts_set(&o, "steps", steps);
    rnn_train_stream_width(min_width);
    log->n = 0;
    const int rc = rnn_train(&o, log_loss, log, NULL, 0);
    rnn_train_stream_width(0);
    CHECK(rc == 0, "train %s: %s", dir, rnn_last_error());
    return rc ? -1 : log->n;
}

/* 1 if the files' tensors are the same bytes and, for states, the same data
 * fingerprints, position and random state. */
static int same_files(const char *a, const char *b, const char *file) {
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/%s", a, file);
    snprintf(pb, sizeof pb, "%s/%s", b, file);
    rnn_st *x = rnn_st_load(pa), *y = rnn_st_load(pb);
    int same = x && y && rnn_st_count(x) == rnn_st_count(y);
    for (int i = 0; same && i < rnn_st_count(x); i++) {
        const rnn_st_tensor *u = rnn_st_at(x, i), *v = rnn_st_find(y, u->name);
        same = v && u->nbytes == v->nbytes && !memcmp(u->data, v->data, u->nbytes);
    }
    const char *keys[] = {"train.data", "train.val_data", "train.step", "train.batch", "train.rng0", "train.rng1"};
    for (size_t k = 0; same && k < sizeof keys / sizeof keys[0]; k++) {
        const char *m = rnn_st_meta(x, keys[k]), *n = rnn_st_meta(y, keys[k]);
        same = (!m && !n) || (m && n && !strcmp(m, n));
    }
    rnn_st_free(x);
    rnn_st_free(y);
    return same;
}

/* The fingerprint rnn train saved before 2026-12-06, computed here from the
 * text: "COUNT HASH", the 64-bit FNV-1a of the ids' int32 bytes, of the ids
 * of a char tokenizer built on the text, read right to left. */
static void old_fingerprint(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "rb");
    static char text[8192];
    const size_t len = f ? fread(text, 1, sizeof text, f) : 0;
    if (f) fclose(f);
    rnn_tok_options o;
    rnn_tok_parse_type("char", &o);
    rnn_tokenizer *t = rnn_tokenizer_build(&o, text, len);
    int32_t *ids = NULL;
    size_t n = 0;
    snprintf(out, cap, "?");
    if (t && !rnn_tokenizer_encode(t, text, len, &ids, &n, NULL)) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = n; i-- > 0;) {
            const unsigned char *b = (const unsigned char *)&ids[i];
            for (size_t j = 0; j < sizeof ids[i]; j++) h = (h ^ b[j]) * 0x100000001b3ULL;
        }
        snprintf(out, cap, "%zu %016llx", n, (unsigned long long)h);
    }
    free(ids);
    rnn_tokenizer_free(t);
}

/* rnn train with the streams at their vocabulary's width (a char model's:
 * 1 byte; a word model's of a few thousand words: 2) against the same run
 * with int32 streams, as before 2026-12-06: every step's loss and every
 * validation's, the saved weights and the resume state, bit for bit, with
 * --reverse, --random-offset over 3 epochs and --word-dropout; the data
 * fingerprints are those int32 streams had (computed here from the text);
 * and a run begun with int32 streams (as an old state has them) resumes
 * with narrow ones exactly as a run that never stopped. */
static void test_stream_width_training(void) {
    const char *shakespeare = harness_data("tinyshakespeare/input.txt");
    if (!harness_have_data(shakespeare)) return;
    char base[] = "/tmp/rnn_width_XXXXXX";
    if (!harness_mkdtemp(base)) return;
    char data[96], val[96], narrow[96], wide[96], split[96];
    snprintf(data, sizeof data, "%s/train.txt", base);
    snprintf(val, sizeof val, "%s/val.txt", base);
    snprintf(narrow, sizeof narrow, "%s/narrow", base);
    snprintf(wide, sizeof wide, "%s/wide", base);
    snprintf(split, sizeof split, "%s/split", base);
    /* 3,000 and 600 bytes of Shakespeare (the char run: 93 steps an epoch) */
    FILE *in = fopen(shakespeare, "rb");
    char buf[3600];
    const size_t got = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in) fclose(in);
    CHECK(got == sizeof buf, "read %s", shakespeare);
    FILE *ft = fopen(data, "wb"), *fv = fopen(val, "wb");
    if (ft) fwrite(buf, 1, 3000, ft), fclose(ft);
    if (fv) fwrite(buf + 3000, 1, 600, fv), fclose(fv);
    for (int word = 0; word <= 1; word++) {
        const char *kv[][2] = {{"data", data}, {"val", val}, {"tokenizer", word ? "word" : "char"},
                               {"layers", "1"}, {"hidden", "8"}, {"embed", "4"}, {"batch", "4"},
                               {"seq-len", "8"}, {"threads", "1"}, {"progress", "quiet"},
                               {"eval-every", "40"}, {"lr", "0.01"}, {"random-offset", "true"},
                               {"reverse", "true"}, {"word-dropout", "0.2"}, {"seed", "9"}};
        const size_t n_kv = sizeof kv / sizeof kv[0];
        const char *steps = word ? "60" : "200";
        loss_log a, b;
        const int na = width_run(narrow, kv, n_kv, steps, NULL, 0, &a);
        const int nb = width_run(wide, kv, n_kv, steps, NULL, 4, &b);
        int same = na > 0 && na == nb;
        for (int i = 0; same && i < na; i++) same = a.loss[i] == b.loss[i]; /* exactly */
        CHECK(same, "%s: %d losses with narrow streams, the same as %d with int32 streams", kv[2][1], na, nb);
        CHECK(same_files(narrow, wide, "model.safetensors") && same_files(narrow, wide, "last.safetensors") &&
                  same_files(narrow, wide, "state.safetensors"),
              "%s: the same weights, best model and resume state", kv[2][1]);
        if (!word) {
            char path[128], want[64];
            snprintf(path, sizeof path, "%s/state.safetensors", narrow);
            rnn_st *st = rnn_st_load(path);
            const char *print = st ? rnn_st_meta(st, "train.data") : NULL;
            old_fingerprint(data, want, sizeof want);
            printf("  training data fingerprint %s, as int32 streams had it: %s\n", print ? print : "(none)", want);
            CHECK(print && !strcmp(print, want), "fingerprint %s, want %s", print ? print : "(none)", want);
            rnn_st_free(st);
            /* 120 steps with int32 streams, then on to 200 with narrow ones */
            loss_log c, d;
            const int nc = width_run(split, kv, n_kv, "120", NULL, 4, &c);
            const int nd = width_run(split, kv, n_kv, steps, split, 0, &d);
            same = nc > 0 && nd > 0 && nc + nd == na;
            for (int i = 0; same && i < na; i++) same = a.loss[i] == (i < nc ? c.loss[i] : d.loss[i - nc]);
            CHECK(same && same_files(narrow, split, "last.safetensors") && same_files(narrow, split, "state.safetensors"),
                  "an int32 run's state resumes with narrow streams as if it never stopped (%d + %d losses of %d)",
                  nc, nd, na);
            harness_rm_run(split);
        }
        harness_rm_run(narrow);
        harness_rm_run(wide);
    }
    remove(data);
    remove(val);
    rmdir(base);
}

int main(void) {
    RUN(test_tied_weights);
    RUN(test_frozen_resume);
    RUN(test_lm_batching);
    RUN(test_word_dropout);
    RUN(test_eval_uniform);
    RUN(test_golden_lm);
    RUN(test_golden_cls);
    RUN(test_trainer_loss_options);
    RUN(test_frozen_embedding);
    RUN(test_frozen_groups_clip);
    RUN(test_ema);
    RUN(test_damaged_state);
    RUN(test_vectors_not_text);
    RUN(test_grow_vocab_vectors_nothing_new);
    RUN(test_init_from_unused_config);
    RUN(test_acts_bytes);
    RUN(test_cls_eval_blocks);
    RUN(test_cls_eval_confident);
    RUN(test_cls_plan_rows);
    RUN(test_replace_with_link);
    RUN(test_best_linked);
    RUN(test_lm_width);
    RUN(test_lm_fill_widths);
    RUN(test_lm_evaluate_widths);
    RUN(test_lm_encode_pieces);
    RUN(test_lm_encode_widths);
    RUN(test_lm_encode_refused_in_pieces_memory);
    RUN(test_stream_width_training);
    return harness_end();
}
