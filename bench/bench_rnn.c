/* bench_rnn.c: throughput of rnn.c on one case of bench/cases.json, printed
 * as one JSON line. bench/torch_bench.py measures the same case in PyTorch
 * and bench/run.sh runs both and makes the table.
 *
 * Build from the repository root (run.sh does this; the flags are the ones
 * the Makefile chose, kept in build/flags, with its -l libraries repeated
 * after the archive so the linker sees them in order):
 *   make build/librnn-internal.a
 *   $(cat build/flags)  bench/bench_rnn.c build/librnn-internal.a \
 *       $(grep -o -- '-l[^ ]*' build/flags) -o build/bench/bench_rnn
 *
 *   build/bench/bench_rnn CASE [--threads N] [--seconds S] [--warmup S] [--cases FILE]
 *   build/bench/bench_rnn --list        (name, unit and title of every case)
 *
 * The model is built with rnn_model_create/rnn_model_init on random tokens,
 * so no data files are needed. Warm-up (unless --warmup is 0) runs at least
 * one step and until --warmup seconds have passed (page faults, thread
 * start-up, the GEMM library's first-call set-up); then steps are timed until
 * --seconds have passed (at least one step). A step is one rnn_train_step (training), one
 * rnn_sampler_next (sampling: one token) or one text through a classifier at batch 1
 * (classify: rnn_model_forward and the class probabilities, as rnn classify runs it).
 *
 * FLOPs are counted analytically (bench/README.md): only the matrix
 * products, 2 per multiply-add, forward
 *   recurrent layer, per direction per token  2*G*H*(in + H)   G = 4 LSTM, 3 GRU, 1 RNN
 *   LM head, per token                        2*V*(D*H)
 *   classifier head, per sequence             2*C*P            P = pooled width
 * classification at batch 1 is one forward per text; training = 3 x forward (the backward pass runs two products of the
 * forward one's size: the input gradient and the weight gradient).
 * Elementwise gate maths, softmax, pooling and the optimizer are not counted.
 */
#include "classify.h"
#include "gemm.h"
#include "model.h"
#include "optim.h"
#include "sample.h"
#include "tokenizer.h"
#include "train.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef enum { KIND_TRAIN_LM, KIND_TRAIN_CLS, KIND_SAMPLE, KIND_CLASSIFY } bench_kind;
enum { N_KINDS = 4 };
static const char *const kind_names[] = {"train_lm", "train_cls", "sample", "classify"};
static const char *const kind_units[] = {"tokens/s", "sequences/s", "tokens/s", "sequences/s"};

typedef struct {
    char name[64];
    char title[128];     /* for the table */
    bench_kind kind;
    rnn_cell cell;
    int vocab, embed, hidden, layers, bidirectional;
    int batch, seq;      /* training; classify: seq */
    rnn_pool pool;       /* train_cls, classify */
    int classes;         /* train_cls, classify */
    float lr, clip;      /* training (Adam) */
    float temperature;   /* sample */
    rnn_precision precision; /* "precision": "bf16" (rnn.c side; PyTorch stays fp32) */
} bench_case;

/* ------------------------------------------------------------------------ */
/* Reading bench/cases.json. */

static int get_int(const cJSON *j, const char *key, int *out, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return required ? rnn_errorf("cases: missing \"%s\"", key) : 0;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (!cJSON_IsNumber(v)) return rnn_errorf("cases: \"%s\" must be a number", key);
    *out = v->valueint;
    return 0;
}

static int get_float(const cJSON *j, const char *key, float *out, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return required ? rnn_errorf("cases: missing \"%s\"", key) : 0;
    if (!cJSON_IsNumber(v)) return rnn_errorf("cases: \"%s\" must be a number", key);
    *out = (float)v->valuedouble;
    return 0;
}

static const char *get_str(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_case(const cJSON *j, bench_case *c) {
    memset(c, 0, sizeof *c);
    c->pool = RNN_POOL_MEANMAX;
    c->classes = 2;
    const char *name = get_str(j, "name"), *kind = get_str(j, "kind"), *cell = get_str(j, "cell");
    if (!name || !kind || !cell) return rnn_errorf("cases: every case needs name, kind and cell");
    snprintf(c->name, sizeof c->name, "%s", name);
    const char *title = get_str(j, "title");
    snprintf(c->title, sizeof c->title, "%s", title ? title : name);
    int k = 0;
    while (k < N_KINDS && strcmp(kind, kind_names[k])) k++;
    if (k == N_KINDS) return rnn_errorf("cases: %s: unknown kind \"%s\"", name, kind);
    c->kind = (bench_kind)k;
    if (rnn_cell_parse(cell, &c->cell)) return -1;
    const char *prec = get_str(j, "precision");
    if (prec && rnn_precision_parse(prec, &c->precision)) return -1;
    const char *pool = get_str(j, "pool");
    if (pool && rnn_pool_parse(pool, &c->pool)) return -1;
    int train = c->kind == KIND_TRAIN_LM || c->kind == KIND_TRAIN_CLS;
    if (get_int(j, "vocab", &c->vocab, 1) || get_int(j, "embed", &c->embed, 1) ||
        get_int(j, "hidden", &c->hidden, 1) || get_int(j, "layers", &c->layers, 1) ||
        get_int(j, "bidirectional", &c->bidirectional, 0) || get_int(j, "batch", &c->batch, train) ||
        get_int(j, "seq", &c->seq, train || c->kind == KIND_CLASSIFY) ||
        get_int(j, "classes", &c->classes, 0) || get_float(j, "lr", &c->lr, train) ||
        get_float(j, "clip", &c->clip, 0) ||
        get_float(j, "temperature", &c->temperature, c->kind == KIND_SAMPLE))
        return -1;
    return 0;
}

/* Loads every case of path into *out (malloc'd); returns the count or -1. */
static int load_cases(const char *path, bench_case **out) {
    size_t len;
    char *text = rnn_read_file(path, &len);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "cases");
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(root);
        return rnn_errorf("%s: not a JSON object with a \"cases\" array", path);
    }
    int n = cJSON_GetArraySize(arr);
    bench_case *cs = calloc((size_t)n + 1, sizeof *cs);
    if (!cs) {
        cJSON_Delete(root);
        return rnn_errorf("out of memory");
    }
    int i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        if (parse_case(j, &cs[i++])) {
            free(cs);
            cJSON_Delete(root);
            return -1;
        }
    }
    cJSON_Delete(root);
    *out = cs;
    return n;
}

/* ------------------------------------------------------------------------ */
/* FLOPs (see the header comment and bench/README.md). */

/* One token's forward through the recurrent stack, all directions. */
static double stack_flops(const bench_case *c) {
    const int G = rnn_cell_gates(c->cell), D = c->bidirectional ? 2 : 1, H = c->hidden;
    double f = 0;
    for (int l = 0; l < c->layers; l++) {
        const int in = l == 0 ? c->embed : D * H;
        f += D * 2.0 * G * H * (in + H);
    }
    return f;
}

/* Per unit of throughput: per token (LM training, sampling) or per sequence
 * (classifier training). */
static double flops_per_unit(const bench_case *c) {
    const int D = c->bidirectional ? 2 : 1;
    const double lm_token = stack_flops(c) + 2.0 * c->vocab * D * c->hidden;
    switch (c->kind) {
    case KIND_TRAIN_LM: return 3 * lm_token;
    case KIND_TRAIN_CLS:
        return 3 * (c->seq * stack_flops(c) +
                    2.0 * c->classes * rnn_pool_width(c->pool, D * c->hidden));
    case KIND_SAMPLE: return lm_token;
    case KIND_CLASSIFY: return c->seq * stack_flops(c) + 2.0 * c->classes * rnn_pool_width(c->pool, D * c->hidden);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

typedef struct {
    double warmup, seconds; /* minimum seconds of warm-up and of timed steps */
} bench_time;

typedef struct {
    long steps;     /* timed steps */
    double units;   /* tokens or sequences processed in them */
    double elapsed; /* seconds */
    double loss;    /* of the last step (training), for a sanity check */
} bench_result;

static rnn_model *make_model(const bench_case *bc) {
    rnn_config c;
    const int cls = bc->kind == KIND_TRAIN_CLS || bc->kind == KIND_CLASSIFY;
    rnn_config_default(&c, cls ? RNN_TASK_CLASSIFY : RNN_TASK_LM);
    c.cell = bc->cell;
    c.vocab_size = bc->vocab;
    c.embed_dim = bc->embed;
    c.hidden_dim = bc->hidden;
    c.num_layers = bc->layers;
    c.bidirectional = bc->bidirectional;
    c.pool = bc->pool;
    c.num_classes = bc->classes;
    /* PyTorch's nn.LSTM has no forget-gate bias offset; keep the inits alike. */
    c.forget_bias = 0;
    if (rnn_config_validate(&c)) return NULL;
    rnn_model *m = rnn_model_create(&c);
    if (m) rnn_model_init(m, 1234);
    return m;
}

/* Runs step(ctx, k) for warm-up, then timed; each step processes `per_step`
 * units and returns its loss. */
typedef double (*step_fn)(void *ctx, long k);

static bench_result run_steps(step_fn step, void *ctx, double per_step, const bench_time *bt) {
    long k = 0;
    double t0 = rnn_now();
    if (bt->warmup > 0) do step(ctx, k++);
        while (rnn_now() - t0 < bt->warmup);
    bench_result r = {0};
    t0 = rnn_now();
    do {
        r.loss = step(ctx, k++);
        r.steps++;
    } while (rnn_now() - t0 < bt->seconds);
    r.elapsed = rnn_now() - t0;
    r.units = r.steps * per_step;
    return r;
}

typedef struct {
    rnn_model *m;
    rnn_acts *a;
    rnn_pack p;
    rnn_optim *opt;
    rnn_step_cfg sc;
    float lr;
    rnn_rng rng;
    int32_t *data;   /* lm: the token stream; cls: n_batches x (ids then targets) */
    size_t n_data;
    long n_batches;
    int B, T;
} train_ctx;

/* One LM step: batch k of the stream, the state carried from the previous
 * batch and reset when the stream wraps round, as rnn_train does. */
static double lm_step(void *vctx, long k) {
    train_ctx *x = vctx;
    long kb = k % x->n_batches;
    const rnn_lm_stream data = rnn_lm_view(x->data, x->n_data);
    rnn_lm_fill(&data, x->B, x->T, kb, 0, x->a->ids, x->a->targets);
    double loss = rnn_train_step(x->m, x->a, &x->p, kb > 0, x->opt, &x->sc, x->lr, &x->rng, NULL,
                                 NULL);
    size_t n = (size_t)x->m->c.num_layers * x->m->D * x->B * x->m->c.hidden_dim;
    memcpy(x->a->h0, x->a->hn, n * sizeof(float));
    if (x->m->c.cell == RNN_CELL_LSTM) memcpy(x->a->c0, x->a->cn, n * sizeof(float));
    return loss;
}

/* One classifier step on pre-drawn batch k % n_batches (all lengths T). */
static double cls_step(void *vctx, long k) {
    train_ctx *x = vctx;
    size_t per = (size_t)x->T * x->B + x->B;
    const int32_t *batch = x->data + (size_t)(k % x->n_batches) * per;
    memcpy(x->a->ids, batch, sizeof(int32_t) * x->T * x->B);
    memcpy(x->a->targets, batch + (size_t)x->T * x->B, sizeof(int32_t) * x->B);
    return rnn_train_step(x->m, x->a, &x->p, 0, x->opt, &x->sc, x->lr, &x->rng, NULL, NULL);
}

static int bench_train(const bench_case *bc, const bench_time *bt, bench_result *res) {
    train_ctx x = {0};
    int rc = -1;
    x.B = bc->batch, x.T = bc->seq, x.lr = bc->lr;
    x.sc = (rnn_step_cfg){bc->clip, 0, {1, 1, 1}, {NULL, 0}}; /* the plain loss */
    rnn_rng_seed(&x.rng, 42);
    x.m = make_model(bc);
    if (!x.m) goto out;
    if (rnn_gemm_set_precision(bc->precision)) goto out;
    rnn_optim_config oc;
    rnn_optim_config_default(&oc, RNN_OPT_ADAM);
    oc.lr = bc->lr;
    x.opt = rnn_model_alloc_grad(x.m) ? NULL : rnn_optim_create(&oc, x.m->n_floats);
    x.a = rnn_acts_create(x.m, x.T, x.B);
    if (!x.opt || !x.a) goto out;
    for (int b = 0; b < x.B; b++) x.a->lengths[b] = x.T;
    if (rnn_pack_init(&x.p, x.T, x.B, x.a->lengths, x.a->batch_sizes, x.a->offsets) < 0) goto out;
    /* Random tokens: 8 batches' worth, drawn before timing starts. */
    x.n_batches = 8;
    int lm = bc->kind == KIND_TRAIN_LM;
    x.n_data = lm ? (size_t)x.B * ((size_t)x.T * x.n_batches + 1)
                  : (size_t)x.n_batches * ((size_t)x.T * x.B + x.B);
    x.data = rnn_alloc(x.n_data * sizeof(int32_t));
    if (!x.data) goto out;
    for (size_t i = 0; i < x.n_data; i++) x.data[i] = (int32_t)(rnn_rng_next(&x.rng) % bc->vocab);
    if (!lm) /* the targets after each batch's ids are class ids */
        for (long k = 0; k < x.n_batches; k++)
            for (int b = 0; b < x.B; b++)
                x.data[k * ((size_t)x.T * x.B + x.B) + (size_t)x.T * x.B + b] =
                    (int32_t)(rnn_rng_next(&x.rng) % bc->classes);
    if (lm && rnn_lm_batches(x.n_data, x.B, x.T) != x.n_batches) {
        rnn_errorf("internal: %ld LM batches, expected %ld", rnn_lm_batches(x.n_data, x.B, x.T),
                   x.n_batches);
        goto out;
    }
    *res = run_steps(lm ? lm_step : cls_step, &x, lm ? (double)x.B * x.T : x.B, bt);
    rc = 0;
out:
    rnn_free(x.data);
    rnn_acts_free(x.a);
    rnn_optim_free(x.opt);
    rnn_model_free(x.m);
    return rc;
}

typedef struct {
    rnn_sampler *s;
    rnn_sample_opts o;
} sample_ctx;

static double sample_step(void *vctx, long k) {
    (void)k;
    sample_ctx *x = vctx;
    rnn_sampler_next(x->s, &x->o);
    return 0;
}

static int bench_sample(const bench_case *bc, const bench_time *bt, bench_result *res) {
    /* A char tokenizer over vocab - 2 distinct characters ("\n", then ASCII
     * from " ") has <pad> and <unk> besides: exactly `vocab` ids. */
    char text[128];
    int n = bc->vocab - 2;
    if (n < 1 || n > 96) return rnn_errorf("sampling case: vocab must be in [3, 98]");
    text[0] = '\n';
    for (int i = 1; i < n; i++) text[i] = (char)(' ' + i - 1);
    rnn_tok_options to;
    rnn_tok_options_default(&to, RNN_TOK_CHAR);
    rnn_tokenizer *tok = rnn_tokenizer_build(&to, text, (size_t)n);
    if (!tok) return -1;
    int rc = -1;
    rnn_model *m = NULL;
    sample_ctx x = {0};
    if (rnn_tokenizer_vocab_size(tok) != bc->vocab) {
        rnn_errorf("internal: tokenizer has %d ids, want %d", rnn_tokenizer_vocab_size(tok),
                   bc->vocab);
        goto out;
    }
    m = make_model(bc);
    if (!m) goto out;
    x.s = rnn_sampler_create_ex(m, tok, 7, bc->precision);
    if (!x.s) goto out;
    x.o = (rnn_sample_opts){.temperature = bc->temperature, .top_k = 0, .top_p = 0};
    *res = run_steps(sample_step, &x, 1, bt);
    rc = 0;
out:
    rnn_sampler_free(x.s);
    rnn_model_free(m);
    rnn_tokenizer_free(tok);
    return rc;
}

typedef struct {
    const rnn_model *m;
    rnn_acts *a;
    rnn_pack p;
    int32_t *ids; /* 8 sequences of T tokens */
    float *probs;
    int T;
} classify_ctx;

/* One text of T tokens through the classifier at batch 1, as rnn classify
 * and rnn_classify run it. */
static double classify_step(void *vctx, long k) {
    classify_ctx *x = vctx;
    rnn_model_forward(x->m, x->a, &x->p, x->ids + (size_t)(k % 8) * x->T, 0, 0, NULL);
    rnn_cls_probs(x->m, x->a->logits, x->probs);
    return NAN; /* inference: no loss */
}

static int bench_classify(const bench_case *bc, const bench_time *bt, bench_result *res) {
    classify_ctx x = {0};
    int rc = -1;
    x.T = bc->seq;
    rnn_model *m = make_model(bc);
    x.m = m;
    if (!m || rnn_gemm_set_precision(bc->precision)) goto out;
    x.a = rnn_acts_create(m, x.T, 1);
    x.ids = rnn_alloc(sizeof(int32_t) * 8 * (size_t)x.T);
    x.probs = rnn_alloc(sizeof(float) * (size_t)bc->classes);
    if (!x.a || !x.ids || !x.probs) goto out;
    rnn_rng rng;
    rnn_rng_seed(&rng, 42);
    for (size_t i = 0; i < 8 * (size_t)x.T; i++) x.ids[i] = (int32_t)(rnn_rng_next(&rng) % bc->vocab);
    x.a->lengths[0] = x.T;
    if (rnn_pack_init(&x.p, x.T, 1, x.a->lengths, x.a->batch_sizes, x.a->offsets) < 0) goto out;
    *res = run_steps(classify_step, &x, 1, bt);
    rc = 0;
out:
    rnn_free(x.ids);
    rnn_free(x.probs);
    rnn_acts_free(x.a);
    rnn_model_free(m);
    return rc;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1;
    return ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int usage(void) {
    fprintf(stderr, "usage: bench_rnn CASE [--threads N] [--seconds S] [--warmup S] [--cases FILE]\n"
                    "       bench_rnn --list [--cases FILE]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *case_name = NULL, *cases_path = "bench/cases.json";
    int threads = 1, list = 0;
    bench_time bt = {2.0, 10.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--list")) list = 1;
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--seconds") && v) bt.seconds = atof(argv[++i]);
        else if (!strcmp(a, "--warmup") && v) bt.warmup = atof(argv[++i]);
        else if (!strcmp(a, "--cases") && v) cases_path = argv[++i];
        else if (a[0] != '-' && !case_name) case_name = a;
        else return usage();
    }
    bench_case *cs = NULL;
    int n = load_cases(cases_path, &cs);
    if (n < 0) {
        fprintf(stderr, "bench_rnn: %s\n", rnn_last_error());
        return 1;
    }
    if (list) {
        for (int i = 0; i < n; i++)
            printf("%s\t%s\t%s\n", cs[i].name, kind_units[cs[i].kind], cs[i].title);
        free(cs);
        return 0;
    }
    if (!case_name || threads < 1) {
        free(cs);
        return usage();
    }
    const bench_case *bc = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(cs[i].name, case_name)) bc = &cs[i];
    if (!bc) {
        fprintf(stderr, "bench_rnn: no case \"%s\" in %s (--list shows them)\n", case_name,
                cases_path);
        free(cs);
        return 1;
    }
    rnn_set_threads(threads);
    bench_result r = {0};
    int rc = bc->kind == KIND_SAMPLE     ? bench_sample(bc, &bt, &r)
             : bc->kind == KIND_CLASSIFY ? bench_classify(bc, &bt, &r)
                                         : bench_train(bc, &bt, &r);
    if (rc) {
        fprintf(stderr, "bench_rnn: %s: %s\n", bc->name, rnn_last_error());
        free(cs);
        return 1;
    }
    const double thr = r.units / r.elapsed, fpu = flops_per_unit(bc);
    char loss[32] = "null"; /* JSON has no NaN; sampling has no loss */
    if (r.loss == r.loss && bc->kind != KIND_SAMPLE) snprintf(loss, sizeof loss, "%.4f", r.loss);
    printf("{\"case\": \"%s\", \"side\": \"rnn.c\", \"threads\": %d, \"throughput\": %.2f, "
           "\"unit\": \"%s\", \"gflops\": %.3f, \"flops_per_unit\": %.6g, \"peak_rss_mib\": %.1f, "
           "\"steps\": %ld, \"seconds\": %.3f, \"loss\": %s, \"backend\": \"%s\"}\n",
           bc->name, rnn_get_threads(), thr, kind_units[bc->kind], thr * fpu * 1e-9, fpu,
           peak_rss_mib(), r.steps, r.elapsed, loss, rnn_gemm_backend());
    free(cs);
    return 0;
}
