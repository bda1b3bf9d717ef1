/* test_optim.c: optimizers, clipping and lr schedules against PyTorch 1.13.
 *
 * Fixtures (from the repository root):
 *   /usr/bin/python3 tests/ref/make_optim_fixtures.py
 * writes tests/fixtures/optim_{steps,clip,plateau,defaults}.safetensors. The
 * optimizer configs (hyperparameters, parameter groups) are read from the
 * fixture, so tests/ref/make_optim_fixtures.py holds the only list of them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "optim.h"
#include "safetensors.h"
#include "util.h"

#define FIX "tests/fixtures/"
#define N_HP 11 /* the "<config>.hp" layout, see the fixture script's HP */

static rnn_st *load(const char *path) {
    rnn_st *st = rnn_st_load(path);
    CHECK(st != NULL, "cannot load %s: %s (run tests/ref/make_optim_fixtures.py)", path,
          rnn_last_error());
    return st;
}

/* A malloc'd float copy of tensor `name` (*numel gets its size; NULL + failed check if absent). */
static float *get(const rnn_st *st, const char *name, size_t *numel) {
    const rnn_st_tensor *t = rnn_st_find(st, name);
    CHECK(t != NULL, "fixture tensor %s missing", name);
    if (!t) return NULL;
    float *x = malloc((t->numel ? t->numel : 1) * sizeof(float));
    if (!x || rnn_st_read_f32(st, name, x, t->numel, 0, NULL) != 0) {
        CHECK(0, "reading %s: %s", name, rnn_last_error());
        free(x);
        return NULL;
    }
    if (numel) *numel = t->numel;
    return x;
}

/* Like CHECK_CLOSE but the absolute floor follows the tensor's own scale, so
 * small state buffers (exp_avg_sq ~ 1e-7 with small gradients) are compared
 * relatively too. */
#define CHECK_CLOSE_SCALED(got, want, n, tol, what)                                                \
    do {                                                                                           \
        double amax_ = 0;                                                                          \
        for (size_t k_ = 0; k_ < (n); k_++)                                                        \
            if (fabs((double)(want)[k_]) > amax_) amax_ = fabs((double)(want)[k_]);                \
        double e_ = harness_max_rel_err((got), (want), (n), amax_ > 0 ? 1e-2 * amax_ : 1e-30);     \
        printf("  %-44s max rel err %.2e (tol %.0e)\n", (what), e_, (double)(tol));                \
        CHECK(e_ <= (tol), "%s: max rel err %.3e > %.1e", (what), e_, (double)(tol));              \
    } while (0)

static rnn_optim_config config_from_hp(const float *hp) {
    rnn_optim_config c;
    memset(&c, 0, sizeof c);
    c.type = (rnn_opt_type)(int)hp[0];
    c.lr = hp[1];
    c.beta1 = hp[2];
    c.beta2 = hp[3];
    c.eps = hp[4];
    c.weight_decay = hp[5];
    c.momentum = hp[6];
    c.dampening = hp[7];
    c.alpha = hp[8];
    c.nesterov = hp[9] != 0;
    c.centered = hp[10] != 0;
    return c;
}

/* Replays one config's 5 steps; also resumes from PyTorch's state after
 * `resume_at` steps in a second optimizer and checks it ends identically. */
static void run_config(const rnn_st *st, const char *cfg, const float *p0, const float *grads,
                       size_t N, int steps, int resume_at) {
    char key[256], what[320];
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", cfg, (suffix)), key)
    size_t n_hp = 0, n_groups = 0, n_lrs = 0;
    float *hp = get(st, K("hp"), &n_hp), *gscale = get(st, K("gscale"), NULL);
    float *lrs = get(st, K("lrs"), &n_lrs), *want = get(st, K("params"), NULL);
    const rnn_st_tensor *gt = rnn_st_find(st, K("groups"));
    int32_t *groups = gt ? malloc(gt->numel * sizeof(int32_t)) : NULL;
    if (groups) n_groups = rnn_st_read_i32(st, key, groups, gt->numel) == 0 ? gt->numel / 2 : 0;
    float *p = malloc(N * sizeof(float)), *g = malloc(N * sizeof(float));
    float *p2 = malloc(N * sizeof(float));
    rnn_optim *o = NULL, *o2 = NULL;
    int ok = hp && n_hp == N_HP && gscale && lrs && want && n_groups > 0 && n_lrs == n_groups &&
             p && g && p2;
    CHECK(ok, "%s: fixture tensors", cfg);
    if (!ok) goto done;
    rnn_optim_config c = config_from_hp(hp);
    o = rnn_optim_create(&c, N);
    o2 = rnn_optim_create(&c, N);
    CHECK(o && o2, "%s: create: %s", cfg, rnn_last_error());
    if (!o || !o2) goto done;

    /* Buffers: the same names, in the same order, as PyTorch's state. */
    snprintf(key, sizeof key, "%s.buffers", cfg);
    const char *names = rnn_st_meta(st, key);
    CHECK(names != NULL, "%s: meta %s missing", cfg, key);
    if (!names) goto done;
    int nb = rnn_optim_num_buffers(o), nb_want = *names ? 1 : 0;
    for (const char *q = names; *q; q++)
        nb_want += *q == ',';
    CHECK(nb == nb_want, "%s: %d buffers, torch has %d (%s)", cfg, nb, nb_want, names);
    for (int i = 0, pos = 0; i < nb && i < nb_want; i++) {
        const char *nm = NULL;
        rnn_optim_buffer(o, i, &nm);
        size_t len = strcspn(names + pos, ",");
        CHECK(nm && strlen(nm) == len && strncmp(nm, names + pos, len) == 0,
              "%s: buffer %d is %s, torch order is %s", cfg, i, nm ? nm : "(null)", names);
        pos += (int)len + (names[pos + len] == ',');
    }
    CHECK(rnn_optim_buffer(o, nb, NULL) == NULL && rnn_optim_buffer(o, -1, NULL) == NULL,
          "%s: out-of-range buffer index gives NULL", cfg);

    memcpy(p, p0, N * sizeof(float));
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < N; i++)
            g[i] = grads[(size_t)s * N + i] * gscale[0];
        rnn_optim_begin_step(o);
        for (size_t k = 0; k < n_groups; k++)
            rnn_optim_update(o, p, g, (size_t)groups[2 * k],
                             (size_t)(groups[2 * k + 1] - groups[2 * k]), lrs[k]);
        if (s >= resume_at) {
            rnn_optim_begin_step(o2);
            for (size_t k = 0; k < n_groups; k++)
                rnn_optim_update(o2, p2, g, (size_t)groups[2 * k],
                                 (size_t)(groups[2 * k + 1] - groups[2 * k]), lrs[k]);
        }
        snprintf(what, sizeof what, "%s params after step %d", cfg, s + 1);
        CHECK_CLOSE(p, want + (size_t)s * N, N, 1e-5, what);
        if (s + 1 == resume_at) {
            /* Resume o2 from PyTorch's own state and parameters at this step. */
            memcpy(p2, want + (size_t)s * N, N * sizeof(float));
            rnn_optim_set_steps(o2, resume_at);
            for (int i = 0; i < nb; i++) {
                const char *nm;
                float *b = rnn_optim_buffer(o2, i, &nm);
                snprintf(key, sizeof key, "%s.state%d.%s", cfg, resume_at, nm);
                float *ws = get(st, key, NULL);
                if (ws) memcpy(b, ws, N * sizeof(float));
                snprintf(what, sizeof what, "%s %s after step %d", cfg, nm, s + 1);
                if (ws) CHECK_CLOSE_SCALED(rnn_optim_buffer(o, i, NULL), ws, N, 1e-5, what);
                free(ws);
            }
        }
    }
    CHECK(rnn_optim_steps(o) == steps && rnn_optim_steps(o2) == steps, "%s: step counts %ld %ld",
          cfg, rnn_optim_steps(o), rnn_optim_steps(o2));
    for (int i = 0; i < nb; i++) {
        const char *nm;
        float *b = rnn_optim_buffer(o, i, &nm);
        snprintf(key, sizeof key, "%s.state.%s", cfg, nm);
        float *ws = get(st, key, NULL);
        snprintf(what, sizeof what, "%s %s after step %d", cfg, nm, steps);
        if (ws) CHECK_CLOSE_SCALED(b, ws, N, 1e-5, what);
        snprintf(what, sizeof what, "%s %s resumed at %d", cfg, nm, resume_at);
        if (ws) CHECK_CLOSE_SCALED(rnn_optim_buffer(o2, i, NULL), ws, N, 1e-5, what);
        free(ws);
    }
    snprintf(what, sizeof what, "%s params resumed at step %d", cfg, resume_at);
    CHECK_CLOSE(p2, want + (size_t)(steps - 1) * N, N, 1e-5, what);

    /* Elements outside every group are frozen: bit-for-bit untouched. */
    for (size_t i = 0; i < N; i++) {
        int in_group = 0;
        for (size_t k = 0; k < n_groups; k++)
            in_group |= (int32_t)i >= groups[2 * k] && (int32_t)i < groups[2 * k + 1];
        if (!in_group) CHECK(p[i] == p0[i], "%s: frozen element %zu changed", cfg, i);
    }
done:
#undef K
    rnn_optim_free(o);
    rnn_optim_free(o2);
    free(hp), free(gscale), free(lrs), free(want), free(groups), free(p), free(g), free(p2);
}

static void test_optimizers_vs_torch(void) {
    rnn_st *st = load(FIX "optim_steps.safetensors");
    if (!st) return;
    const char *configs = rnn_st_meta(st, "configs"), *steps_s = rnn_st_meta(st, "steps"),
               *resume_s = rnn_st_meta(st, "resume_at");
    size_t N = 0;
    float *p0 = get(st, "p0", &N), *grads = get(st, "grads", NULL);
    CHECK(configs && steps_s && resume_s && p0 && grads, "fixture metadata / p0 / grads");
    if (configs && steps_s && resume_s && p0 && grads) {
        int steps = atoi(steps_s), resume_at = atoi(resume_s), n_cfg = 0;
        CHECK(N == 37 && steps == 5 && resume_at > 0 && resume_at < steps, "fixture shape");
        char list[1024];
        snprintf(list, sizeof list, "%s", configs);
        for (char *save = NULL, *cfg = strtok_r(list, ",", &save); cfg;
             cfg = strtok_r(NULL, ",", &save)) {
            run_config(st, cfg, p0, grads, N, steps, resume_at);
            n_cfg++;
        }
        /* 8 single-group configs from the brief + big-eps Adam + 3 grouped. */
        CHECK(n_cfg == 12, "expected 12 configs in the fixture, got %d", n_cfg);
    }
    free(p0);
    free(grads);
    rnn_st_free(st);
}

/* Hand-computed: SGD's momentum buffer starts as the gradient itself
 * (torch.clone(d_p)), not (1 - dampening) * grad; Adam's first step moves each
 * parameter by lr * sign(g) since both moments are bias-corrected exactly. */
static void test_hand_computed_steps(void) {
    rnn_optim_config c;
    rnn_optim_config_default(&c, RNN_OPT_SGD);
    c.momentum = 0.9f;
    c.dampening = 0.5f;
    rnn_optim *o = rnn_optim_create(&c, 1);
    CHECK(o != NULL, "create sgd: %s", rnn_last_error());
    if (o) {
        float p = 1.0f, g = 2.0f;
        rnn_optim_begin_step(o);
        rnn_optim_update(o, &p, &g, 0, 1, 0.1f); /* buf = 2; p = 1 - 0.2 */
        CHECK(fabsf(p - 0.8f) < 1e-6f, "sgd step 1: p = %.9g, want 0.8", p);
        rnn_optim_begin_step(o);
        rnn_optim_update(o, &p, &g, 0, 1, 0.1f); /* buf = 0.9*2 + 0.5*2 = 2.8; p = 0.8 - 0.28 */
        CHECK(fabsf(p - 0.52f) < 1e-6f, "sgd step 2: p = %.9g, want 0.52", p);
        rnn_optim_free(o);
    }
    rnn_optim_config_default(&c, RNN_OPT_ADAM);
    o = rnn_optim_create(&c, 2);
    CHECK(o != NULL, "create adam: %s", rnn_last_error());
    if (o) {
        float p[2] = {1.0f, -3.0f}, g[2] = {0.5f, -40.0f};
        rnn_optim_begin_step(o);
        rnn_optim_update(o, p, g, 0, 2, 0.1f);
        CHECK(fabsf(p[0] - 0.9f) < 1e-6f && fabsf(p[1] + 2.9f) < 1e-6f, "adam step 1: %.9g %.9g",
              p[0], p[1]);
        /* A slice past the end is clamped, never written out of bounds. */
        rnn_optim_update(o, p, g, 2, 5, 0.1f);
        rnn_optim_update(o, p, g, 1, 5, 0.0f);
        CHECK(fabsf(p[0] - 0.9f) < 1e-6f && fabsf(p[1] + 2.9f) < 1e-6f, "clamped slices");
        rnn_optim_free(o);
    }
}

/* Updating one big block (threaded when > 1<<16) must equal updating it in
 * small serial slices: the loops are elementwise. */
static void test_threaded_equals_serial(void) {
    const size_t n = ((size_t)1 << 17) + 13;
    float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float)),
          *g = malloc(n * sizeof(float));
    CHECK(pa && pb && g, "alloc");
    rnn_rng rng;
    rnn_rng_seed(&rng, 7);
    rnn_optim_config cs[4];
    rnn_optim_config_default(&cs[0], RNN_OPT_SGD);
    cs[0].momentum = 0.9f, cs[0].nesterov = 1, cs[0].weight_decay = 1e-3f;
    rnn_optim_config_default(&cs[1], RNN_OPT_ADAM);
    cs[1].weight_decay = 1e-2f;
    rnn_optim_config_default(&cs[2], RNN_OPT_ADAMW);
    rnn_optim_config_default(&cs[3], RNN_OPT_RMSPROP);
    cs[3].momentum = 0.5f, cs[3].centered = 1;
    for (int k = 0; k < 4 && pa && pb && g; k++) {
        rnn_optim *a = rnn_optim_create(&cs[k], n), *b = rnn_optim_create(&cs[k], n);
        CHECK(a && b, "create: %s", rnn_last_error());
        if (a && b) {
            for (size_t i = 0; i < n; i++)
                pa[i] = pb[i] = rnn_rng_normal(&rng);
            for (int s = 0; s < 3; s++) {
                for (size_t i = 0; i < n; i++)
                    g[i] = rnn_rng_normal(&rng);
                rnn_optim_begin_step(a);
                rnn_optim_begin_step(b);
                rnn_optim_update(a, pa, g, 0, n, 0.01f);
                for (size_t off = 0; off < n; off += 1000)
                    rnn_optim_update(b, pb, g, off, 1000, 0.01f);
            }
            char what[96];
            snprintf(what, sizeof what, "%s one block vs 1000-slices",
                     rnn_opt_type_name(cs[k].type));
            CHECK_CLOSE(pa, pb, n, 1e-6, what);
            for (int i = 0; i < rnn_optim_num_buffers(a); i++)
                CHECK(harness_max_rel_err(rnn_optim_buffer(a, i, NULL),
                                          rnn_optim_buffer(b, i, NULL), n, 1e-2) <= 1e-6,
                      "%s buffer %d differs", rnn_opt_type_name(cs[k].type), i);
        }
        rnn_optim_free(a);
        rnn_optim_free(b);
    }
    free(pa), free(pb), free(g);
}

/* A parameter group first updated at step 6 (unfrozen) moves as a fresh
 * optimizer's first steps move it, bit for bit: PyTorch's per-tensor state,
 * Adam's bias corrections from t = 1, SGD's momentum from the gradient. With
 * the global count, Adam moved it 2-4x the lr (zero moments, corrections of
 * t = 6). A resume from the group's saved count goes on the same way. */
static void test_group_steps(void) {
    enum { N = 40, H = 20, FROZEN = 5, STEPS = 12 };
    const rnn_opt_type types[] = {RNN_OPT_SGD, RNN_OPT_ADAM, RNN_OPT_ADAMW, RNN_OPT_RMSPROP};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        rnn_optim_config c;
        rnn_optim_config_default(&c, types[ti]);
        c.momentum = types[ti] == RNN_OPT_ADAM || types[ti] == RNN_OPT_ADAMW ? 0 : 0.9f;
        c.weight_decay = 0.01f;
        rnn_optim *a = rnn_optim_create(&c, N), *b = rnn_optim_create(&c, H), *r = rnn_optim_create(&c, N);
        float pa[N], pb[H], pr[N], g[N];
        for (int i = 0; i < N; i++) pa[i] = pr[i] = 0.1f * (float)(i % 7) - 0.3f;
        memcpy(pb, pa + H, sizeof pb);
        int same = 1, resumed_same = 1;
        for (int s = 1; s <= STEPS; s++) {
            for (int i = 0; i < N; i++) g[i] = 0.05f * (float)((i * 7 + s * 3) % 11) - 0.2f;
            rnn_optim_begin_step(a);
            rnn_optim_update_group(a, pa, g, 0, H, 0.01f, 0); /* group 0 every step */
            if (s > FROZEN) {                                   /* group 1 from step 6 */
                rnn_optim_update_group(a, pa, g, H, H, 0.01f, 1);
                rnn_optim_begin_step(b);
                rnn_optim_update_group(b, pb, g + H, 0, H, 0.01f, 1);
                same &= memcmp(pa + H, pb, sizeof pb) == 0;
            }
            if (s == FROZEN + 3) { /* resume r from a's state */
                memcpy(pr, pa, sizeof pr);
                for (int k = 0; k < rnn_optim_num_buffers(a); k++)
                    memcpy(rnn_optim_buffer(r, k, NULL), rnn_optim_buffer(a, k, NULL), sizeof(float) * N);
                rnn_optim_set_steps(r, rnn_optim_steps(a));
                for (int q = 0; q < 2; q++) rnn_optim_set_group_steps(r, q, rnn_optim_group_steps(a, q));
            } else if (s > FROZEN + 3) {
                rnn_optim_begin_step(r);
                rnn_optim_update_group(r, pr, g, 0, H, 0.01f, 0);
                rnn_optim_update_group(r, pr, g, H, H, 0.01f, 1);
                resumed_same &= memcmp(pa, pr, sizeof pa) == 0;
            }
        }
        CHECK(same, "%s: a group unfrozen at step %d moves as a fresh optimizer", rnn_opt_type_name(types[ti]),
              FROZEN + 1);
        CHECK(rnn_optim_group_steps(a, 0) == STEPS && rnn_optim_group_steps(a, 1) == STEPS - FROZEN &&
                  rnn_optim_steps(a) == STEPS,
              "%s: group steps %ld and %ld of %ld", rnn_opt_type_name(types[ti]), rnn_optim_group_steps(a, 0),
              rnn_optim_group_steps(a, 1), rnn_optim_steps(a));
        CHECK(resumed_same, "%s: a resume from the group counts goes on bit for bit", rnn_opt_type_name(types[ti]));
        rnn_optim_free(a), rnn_optim_free(b), rnn_optim_free(r);
    }
}

static void test_clip_vs_torch(void) {
    rnn_st *st = load(FIX "optim_clip.safetensors");
    if (!st) return;
    size_t ng = 0, nm = 0;
    float *g = get(st, "grads", &ng), *max_norm = get(st, "max_norm", &nm),
          *norm = get(st, "norm", NULL);
    float *clipped = get(st, "clipped", NULL), *cv = get(st, "clip_value", NULL);
    float *clipped_value = get(st, "clipped_value", NULL),
          *x = malloc((ng ? ng : 1) * sizeof(float));
    size_t n = nm ? ng / nm : 0; /* grads, clipped: (cases, n) */
    if (g && max_norm && norm && clipped && cv && clipped_value && x) {
        CHECK(nm == 3 && norm[0] > max_norm[0] && norm[1] < max_norm[1] && norm[2] < 1e-2f,
              "fixture covers clipped, untouched and tiny-gradient cases");
        for (size_t k = 0; k < nm; k++) {
            memcpy(x, g + k * n, n * sizeof(float));
            float got = rnn_clip_grad_norm(x, n, max_norm[k]);
            CHECK(fabsf(got - norm[k]) <= 1e-6f * norm[k], "norm %.9g, torch %.9g", got, norm[k]);
            char what[64];
            snprintf(what, sizeof what, "clip_grad_norm_(max_norm=%g)", max_norm[k]);
            CHECK_CLOSE_SCALED(x, clipped + k * n, n, 1e-6, what);
        }
        memcpy(x, g, n * sizeof(float));
        rnn_clip_grad_value(x, n, cv[0]);
        CHECK_CLOSE(x, clipped_value, n, 0, "clip_grad_value_");
    }
    free(g), free(max_norm), free(norm), free(clipped), free(cv), free(clipped_value), free(x);
    rnn_st_free(st);

    /* Edge cases: nothing to clip; a non-finite norm leaves grads alone. */
    CHECK(rnn_clip_grad_norm(NULL, 0, 1.0f) == 0.0f, "empty norm is 0");
    float bad[3] = {1.0f, NAN, 2.0f};
    float r = rnn_clip_grad_norm(bad, 3, 0.5f);
    CHECK(isnan(r) && bad[0] == 1.0f && bad[2] == 2.0f, "NaN norm reported, grads untouched");
    float inf[2] = {INFINITY, 1.0f};
    r = rnn_clip_grad_norm(inf, 2, 0.5f);
    CHECK(isinf(r) && inf[1] == 1.0f, "inf norm reported, grads untouched");
    float v[4] = {-3.0f, 0.25f, NAN, 3.0f};
    rnn_clip_grad_value(v, 4, 1.0f);
    CHECK(v[0] == -1.0f && v[1] == 0.25f && isnan(v[2]) && v[3] == 1.0f,
          "clip_value clamps, keeps NaN");
}

static void test_schedules_hand_computed(void) {
    rnn_schedule s;
    rnn_sched_init(&s, RNN_SCHED_CONSTANT, 0.1f);
    CHECK(rnn_sched_lr(&s, 0) == 0.1f && rnn_sched_lr(&s, 123456) == 0.1f, "constant");
    s.warmup_steps = 4; /* 0.025, 0.05, 0.075, 0.1, 0.1 */
    CHECK(fabsf(rnn_sched_lr(&s, 0) - 0.025f) < 1e-8f &&
              fabsf(rnn_sched_lr(&s, 2) - 0.075f) < 1e-8f && rnn_sched_lr(&s, 3) == 0.1f &&
              rnn_sched_lr(&s, 4) == 0.1f,
          "constant with warmup");

    rnn_sched_init(&s, RNN_SCHED_STEP, 0.1f);
    s.step_size = 30;
    s.gamma = 0.5f;
    const long st_steps[] = {0, 29, 30, 59, 60, 89, 90};
    const double st_want[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125};
    for (int i = 0; i < 7; i++)
        CHECK(fabs(rnn_sched_lr(&s, st_steps[i]) - st_want[i]) < 1e-8,
              "step lr(%ld) = %.9g, want %g", st_steps[i], rnn_sched_lr(&s, st_steps[i]),
              st_want[i]);
    s.warmup_steps = 10; /* decay counted after warmup: step 39 = 29 after it */
    CHECK(fabsf(rnn_sched_lr(&s, 4) - 0.05f) < 1e-8f && rnn_sched_lr(&s, 39) == 0.1f &&
              fabsf(rnn_sched_lr(&s, 40) - 0.05f) < 1e-8f,
          "step with warmup");

    /* base 0.1, min 0.001, warmup 10, total 110: 100 cosine steps. */
    rnn_sched_init(&s, RNN_SCHED_COSINE, 0.1f);
    s.warmup_steps = 10;
    s.total_steps = 110;
    s.min_lr = 0.001f;
    const long cs_steps[] = {0, 4, 9, 10, 35, 60, 85, 110, 500};
    const double pi = 3.14159265358979323846;
    const double cs_want[] = {0.01,
                              0.05,
                              0.1,
                              0.1,
                              0.001 + 0.0495 * (1 + cos(pi * 0.25)), /* 0.0855 */
                              0.0505,
                              0.001 + 0.0495 * (1 + cos(pi * 0.75)),
                              0.001,
                              0.001};
    for (int i = 0; i < 9; i++)
        CHECK(fabs(rnn_sched_lr(&s, cs_steps[i]) - cs_want[i]) < 1e-7,
              "cosine lr(%ld) = %.9g, want %.9g", cs_steps[i], rnn_sched_lr(&s, cs_steps[i]),
              cs_want[i]);
    s.warmup_steps = 0; /* no warmup: starts at base, cos(pi * 50/110) half way down at 55 */
    CHECK(fabsf(rnn_sched_lr(&s, 0) - 0.1f) < 1e-8f &&
              fabsf(rnn_sched_lr(&s, 55) - 0.0505f) < 1e-7f,
          "cosine without warmup");

    rnn_sched_init(&s, RNN_SCHED_PLATEAU, 0.3f);
    CHECK(rnn_sched_lr(&s, 0) == 0.3f && rnn_sched_lr(&s, 99) == 0.3f, "plateau starts at base");
    rnn_schedule c;
    rnn_sched_init(&c, RNN_SCHED_COSINE, 0.1f);
    CHECK(rnn_sched_observe(&c, 1.0f) == 0 && rnn_sched_observe(&c, 2.0f) == 0 && c.cur_lr == 0.1f,
          "observe is a no-op for non-plateau schedules");
}

static void test_plateau_vs_torch(void) {
    rnn_st *st = load(FIX "optim_plateau.safetensors");
    if (!st) return;
    const char *modes[] = {"min", "max"};
    for (int m = 0; m < 2; m++) {
        char key[64];
        size_t n = 0, nl = 0, nh = 0;
        snprintf(key, sizeof key, "%s.metrics", modes[m]);
        float *metrics = get(st, key, &n);
        snprintf(key, sizeof key, "%s.lrs", modes[m]);
        float *lrs = get(st, key, &nl);
        snprintf(key, sizeof key, "%s.hp", modes[m]);
        float *hp = get(st, key, &nh);
        if (metrics && lrs && hp && n == nl && nh == 6) {
            rnn_schedule s, copy;
            rnn_sched_init(&s, RNN_SCHED_PLATEAU, hp[0]);
            s.factor = hp[1];
            s.patience = (int)hp[2];
            s.threshold = hp[3];
            s.min_lr = hp[4];
            s.mode_max = hp[5] != 0;
            int mismatches = 0, reductions = 0;
            float prev = hp[0];
            for (size_t i = 0; i < n; i++) {
                if (i == n / 2) copy = s; /* plain data: a saved copy resumes exactly */
                int reduced = rnn_sched_observe(&s, metrics[i]);
                reductions += reduced;
                if (fabsf(s.cur_lr - lrs[i]) > 1e-6f * lrs[i] || reduced != (lrs[i] < prev) ||
                    rnn_sched_lr(&s, 1000) != s.cur_lr) {
                    mismatches++;
                    fprintf(stderr, "  %s obs %zu metric %g: lr %.9g reduced %d, torch %.9g\n",
                            modes[m], i, metrics[i], s.cur_lr, reduced, lrs[i]);
                }
                prev = lrs[i];
            }
            CHECK(mismatches == 0, "%s: %d of %zu lrs differ from ReduceLROnPlateau", modes[m],
                  mismatches, n);
            CHECK(reductions >= 4 && lrs[n - 1] == hp[4], "%s: fixture reaches min_lr", modes[m]);
            for (size_t i = n / 2; i < n; i++)
                rnn_sched_observe(&copy, metrics[i]);
            CHECK(memcmp(&copy, &s, sizeof s) == 0, "%s: resumed copy ends identical", modes[m]);
            printf("  plateau %-4s %zu observations, %d reductions match torch\n", modes[m], n,
                   reductions);
        } else {
            CHECK(0, "%s: fixture tensors", modes[m]);
        }
        free(metrics), free(lrs), free(hp);
    }
    rnn_st_free(st);
}

static void test_defaults_vs_torch(void) {
    rnn_st *st = load(FIX "optim_defaults.safetensors");
    if (!st) return;
    const rnn_opt_type types[] = {RNN_OPT_SGD, RNN_OPT_ADAM, RNN_OPT_ADAMW, RNN_OPT_RMSPROP};
    for (int k = 0; k < 4; k++) {
        size_t n = 0;
        float *d = get(st, rnn_opt_type_name(types[k]), &n);
        if (!d || n != N_HP - 1) {
            CHECK(0, "defaults for %s", rnn_opt_type_name(types[k]));
            free(d);
            continue;
        }
        rnn_optim_config c;
        rnn_optim_config_default(&c, types[k]);
        const float ours[N_HP - 1] = {c.lr,
                                      c.beta1,
                                      c.beta2,
                                      c.eps,
                                      c.weight_decay,
                                      c.momentum,
                                      c.dampening,
                                      c.alpha,
                                      (float)c.nesterov,
                                      (float)c.centered};
        for (int i = 0; i < N_HP - 1; i++) {
            if (i == 0 && d[0] < 0) { /* torch.optim.SGD has no default lr */
                CHECK(ours[0] > 0, "sgd default lr must be positive");
                continue;
            }
            CHECK(ours[i] == d[i], "%s default field %d: %g, torch %g", rnn_opt_type_name(types[k]),
                  i, ours[i], d[i]);
        }
        CHECK(c.type == types[k], "type set");
        free(d);
    }
    size_t n = 0;
    float *pd = get(st, "plateau", &n);
    if (pd && n == 6) {
        rnn_schedule s;
        rnn_sched_init(&s, RNN_SCHED_PLATEAU, 1.0f);
        CHECK(s.factor == pd[0] && s.patience == (int)pd[1] && s.threshold == pd[2] &&
                  s.min_lr == pd[3] && pd[4] == 0 && s.mode_max == (pd[5] != 0) &&
                  s.cur_lr == 1.0f && s.bad_epochs == 0,
              "ReduceLROnPlateau defaults (cooldown 0 is the only one supported)");
    } else {
        CHECK(0, "plateau defaults");
    }
    free(pd);
    rnn_st_free(st);
}

static void test_parse_and_validate(void) {
    const char *on[] = {"sgd", "adam", "adamw", "rmsprop"};
    for (int i = 0; i < 4; i++) {
        rnn_opt_type t = (rnn_opt_type)-1;
        CHECK(rnn_opt_parse_type(on[i], &t) == 0 && (int)t == i &&
                  strcmp(rnn_opt_type_name(t), on[i]) == 0,
              "parse %s", on[i]);
    }
    const char *sn[] = {"constant", "step", "cosine", "plateau"};
    for (int i = 0; i < 4; i++) {
        rnn_sched_type t = (rnn_sched_type)-1;
        CHECK(rnn_sched_parse(sn[i], &t) == 0 && (int)t == i &&
                  strcmp(rnn_sched_name(t), sn[i]) == 0,
              "parse %s", sn[i]);
    }
    rnn_opt_type t = RNN_OPT_SGD;
    CHECK(rnn_opt_parse_type("Adam", &t) == -1 && strstr(rnn_last_error(), "Adam") &&
              t == RNN_OPT_SGD,
          "unknown optimizer rejected with its name");
    rnn_sched_type u = RNN_SCHED_STEP;
    CHECK(rnn_sched_parse("linear", &u) == -1 && strstr(rnn_last_error(), "linear") &&
              u == RNN_SCHED_STEP,
          "unknown schedule rejected with its name");

    rnn_optim_config c;
    rnn_optim_config_default(&c, RNN_OPT_SGD);
    c.nesterov = 1;
    CHECK(rnn_optim_create(&c, 4) == NULL && strstr(rnn_last_error(), "nesterov"),
          "nesterov needs momentum");
    c.momentum = 0.9f;
    c.dampening = 0.1f;
    CHECK(rnn_optim_create(&c, 4) == NULL, "nesterov needs zero dampening");
    rnn_optim_config_default(&c, RNN_OPT_SGD);
    c.momentum = 5.0f;
    CHECK(rnn_optim_create(&c, 4) == NULL && strstr(rnn_last_error(), "invalid momentum: 5 (must be in [0, 1))"),
          "momentum 5 rejected: %s", rnn_last_error());
    c.momentum = 0.99f;
    rnn_optim *ok = rnn_optim_create(&c, 4);
    CHECK(ok != NULL, "momentum 0.99 accepted: %s", rnn_last_error());
    rnn_optim_free(ok);
    rnn_optim_config_default(&c, RNN_OPT_RMSPROP);
    c.alpha = 1.0f;
    CHECK(rnn_optim_create(&c, 4) == NULL && strstr(rnn_last_error(), "invalid alpha: 1"), "alpha 1 rejected");
    rnn_optim_config_default(&c, RNN_OPT_ADAM);
    c.alpha = 1.0f; /* rmsprop's: adam does not read it */
    ok = rnn_optim_create(&c, 4);
    CHECK(ok != NULL, "adam ignores alpha: %s", rnn_last_error());
    rnn_optim_free(ok);
    rnn_optim_config_default(&c, RNN_OPT_ADAM);
    c.beta2 = 1.0f;
    CHECK(rnn_optim_create(&c, 4) == NULL && strstr(rnn_last_error(), "beta"),
          "beta2 = 1 rejected");
    rnn_optim_config_default(&c, RNN_OPT_RMSPROP);
    c.lr = -1e-3f;
    CHECK(rnn_optim_create(&c, 4) == NULL && strstr(rnn_last_error(), "learning rate"),
          "negative lr");
    c.lr = NAN;
    CHECK(rnn_optim_create(&c, 4) == NULL, "NaN lr");
    rnn_optim_config_default(&c, RNN_OPT_ADAMW);
    CHECK(rnn_optim_create(&c, 0) == NULL, "no parameters");
    rnn_optim_free(NULL);
}

int main(void) {
    RUN(test_optimizers_vs_torch);
    RUN(test_hand_computed_steps);
    RUN(test_threaded_equals_serial);
    RUN(test_group_steps);
    RUN(test_clip_vs_torch);
    RUN(test_schedules_hand_computed);
    RUN(test_plateau_vs_torch);
    RUN(test_defaults_vs_torch);
    RUN(test_parse_and_validate);
    return harness_end();
}
