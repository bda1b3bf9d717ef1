/* model.c: the parameter table, initialisation, activations, and the forward
 * and backward passes of a whole model (see model.h). */
#include "model.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "infer.h"
#include "gemm.h"

const char *rnn_task_name(rnn_task t) { return t == RNN_TASK_LM ? "lm" : "classify"; }

void rnn_config_default(rnn_config *c, rnn_task task) {
    memset(c, 0, sizeof *c);
    c->task = task;
    c->cell = RNN_CELL_LSTM;
    c->embed_dim = 64;
    c->hidden_dim = 256;
    c->num_layers = 2;
    c->pool = RNN_POOL_MEANMAX;
    c->attention_dim = 64;
    c->num_classes = 2;
    c->loss = RNN_LOSS_CE;
    c->padding_id = -1;
    c->forget_bias = 0.0f;
    c->cache_theta = 0.3f;
    c->cache_lambda = 0.2f;
}

/* Each matrix at most this many values: sizes and offsets within one fit
 * an int wherever the code indexes by rows * columns (8 GiB of fp32). */
#define RNN_MAX_MATRIX 2147483647LL

int rnn_config_validate(const rnn_config *c) {
    /* Widths past 2^20 would overflow the products below before they are
     * checked; no CPU model comes near them. */
    const int W = 1 << 20;
    if (c->vocab_size < 1 || c->vocab_size > (1 << 26))
        return rnn_errorf("config: vocab_size must be in [1, %d] (got %d)", 1 << 26, c->vocab_size);
    if (c->embed_dim < 1 || c->embed_dim > W)
        return rnn_errorf("config: embed_dim (--embed) must be in [1, %d] (got %d)", W, c->embed_dim);
    if (c->cell != RNN_CELL_NONE) {
        if (c->hidden_dim < 1 || c->hidden_dim > W)
            return rnn_errorf("config: hidden_dim (--hidden) must be in [1, %d] (got %d)", W, c->hidden_dim);
        if (c->num_layers < 1 || c->num_layers > RNN_MAX_LAYERS)
            return rnn_errorf("config: num_layers (--layers) must be in [1, %d] (got %d)", RNN_MAX_LAYERS,
                              c->num_layers);
    } else if (c->task == RNN_TASK_LM) {
        return rnn_errorf("config: a language model needs a recurrent cell (cell none is for classifiers)");
    }
    if (c->task == RNN_TASK_CLASSIFY) {
        if (c->num_classes < 2 || c->num_classes > W)
            return rnn_errorf("config: num_classes must be in [2, %d] (got %d)", W, c->num_classes);
        if (c->pool == RNN_POOL_ATTENTION && (c->attention_dim < 1 || c->attention_dim > W))
            return rnn_errorf("config: attention_dim (--attention-dim) must be in [1, %d] (got %d)", W,
                              c->attention_dim);
    }
    {   /* the largest matrices: embedding, W_ih / W_hh, attention, head */
        const int64_t G = rnn_cell_gates(c->cell), H = c->hidden_dim, E = c->embed_dim;
        const int recurrent = c->cell != RNN_CELL_NONE;
        const int64_t F = recurrent ? (c->bidirectional ? 2 : 1) * H : E;
        const int64_t head_in = c->task == RNN_TASK_LM ? F : rnn_pool_width(c->pool, (int)F);
        const int64_t n_out = c->task == RNN_TASK_LM ? c->vocab_size : c->num_classes;
        const struct {
            const char *what;
            int64_t n;
        } big[] = {{"the embedding (vocab_size x embed_dim)", (int64_t)c->vocab_size * E},
                   {"a recurrent layer's W_ih or W_hh (gates x hidden_dim x input width)", recurrent ? G * H * (E > F ? E : F) : 0},
                   {"the attention layer", c->task == RNN_TASK_CLASSIFY && c->pool == RNN_POOL_ATTENTION
                                               ? (int64_t)c->attention_dim * F : 0},
                   {"the output layer (outputs x its input width)", n_out * head_in}};
        for (size_t i = 0; i < sizeof big / sizeof *big; i++)
            if (big[i].n > RNN_MAX_MATRIX)
                return rnn_errorf("config: model too large: %s would hold %lld values (at most %lld per "
                                  "matrix)", big[i].what, (long long)big[i].n, RNN_MAX_MATRIX);
    }
    if (!(c->dropout >= 0 && c->dropout < 1))
        return rnn_errorf("config: dropout (--dropout) must be in [0, 1) (got %.9g)", c->dropout);
    if (!(c->embed_dropout >= 0 && c->embed_dropout < 1))
        return rnn_errorf("config: embed_dropout (--embed-dropout) must be in [0, 1) (got %.9g)", c->embed_dropout);
    if (!(c->head_dropout >= 0 && c->head_dropout < 1))
        return rnn_errorf("config: head_dropout (--head-dropout) must be in [0, 1) (got %.9g)", c->head_dropout);
    if (!(c->weight_drop >= 0 && c->weight_drop < 1))
        return rnn_errorf("config: weight_drop (--weight-drop) must be in [0, 1) (got %.9g)", c->weight_drop);
    if (!(c->recurrent_dropout >= 0 && c->recurrent_dropout < 1))
        return rnn_errorf("config: recurrent_dropout (--recurrent-dropout) must be in [0, 1) (got %.9g)",
                          c->recurrent_dropout);
    if (c->recurrent_dropout > 0 && c->cell != RNN_CELL_LSTM && c->cell != RNN_CELL_GRU)
        return rnn_errorf("config: recurrent_dropout (--recurrent-dropout) needs an lstm or gru cell, "
                          "whose candidate it masks (got cell %s)", rnn_cell_name(c->cell));
    if (c->reverse && c->task != RNN_TASK_LM)
        return rnn_errorf("config: reverse (--reverse) is for language models");
    if (c->locked_dropout && c->task != RNN_TASK_LM) /* a packed batch has no fixed rows per step */
        return rnn_errorf("config: locked_dropout (--locked-dropout) is for language models");
    if (c->bidirectional && c->task == RNN_TASK_LM) /* its backward half reads the token it predicts */
        return rnn_errorf("config: a language model cannot be bidirectional (--bidirectional): it predicts "
                          "each token from the ones before it; train a backward one with --reverse");
    if (c->tie_weights) {
        if (c->task != RNN_TASK_LM) return rnn_errorf("config: tie_weights is for language models");
        if (c->hidden_dim != c->embed_dim) /* an LM is recurrent and one-directional (above) */
            return rnn_errorf("config: tie_weights (--tie-weights) needs embed_dim (--embed) equal to "
                              "the top layer's width, hidden_dim (--hidden): got %d and %d", c->embed_dim,
                              c->hidden_dim);
    }
    if (!isfinite(c->forget_bias))
        return rnn_errorf("config: forget_bias (--forget-bias) must be finite (got %.9g)", c->forget_bias);
    if (c->cache_size) {
        if (c->task != RNN_TASK_LM) return rnn_errorf("config: cache_size (--cache) is for language models");
        if (c->cache_size < 0 || c->cache_size > RNN_CACHE_MAX_SIZE)
            return rnn_errorf("config: cache_size must be in [0, %d] (got %d)", RNN_CACHE_MAX_SIZE, c->cache_size);
        if (!(c->cache_theta >= 0 && c->cache_theta <= RNN_CACHE_MAX_THETA))
            return rnn_errorf("config: cache_theta (--cache-theta) must be in [0, %g] (got %.9g)",
                              RNN_CACHE_MAX_THETA, c->cache_theta);
        if (!(c->cache_lambda >= 0 && c->cache_lambda < 1))
            return rnn_errorf("config: cache_lambda (--cache-lambda) must be in [0, 1) (got %.9g)",
                              c->cache_lambda);
    }
    if (c->padding_id < -1 || c->padding_id >= c->vocab_size)
        return rnn_errorf("config: padding_id %d outside the vocabulary", c->padding_id);
    if (c->max_len < 0 || c->max_len > RNN_MAX_TEXT_LEN)
        return rnn_errorf("config: max_len (--max-len) must be in [0, %d] (got %d)", RNN_MAX_TEXT_LEN, c->max_len);
    if ((c->max_len || c->truncate_tail) && c->task != RNN_TASK_CLASSIFY)
        return rnn_errorf("config: max_len and truncate (--max-len, --truncate) are for classifiers");
    if (c->truncate_tail && !c->max_len)
        return rnn_errorf("config: truncate \"tail\" needs max_len, the tokens it keeps");
    if (c->task == RNN_TASK_CLASSIFY && c->loss == RNN_LOSS_BCE && c->num_classes != 2)
        return rnn_errorf("config: loss bce needs exactly 2 classes (got %d)", c->num_classes);
    return 0;
}

char *rnn_config_to_json(const rnn_config *c) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "task", rnn_task_name(c->task));
    cJSON_AddStringToObject(j, "cell", rnn_cell_name(c->cell));
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "embed_dim", c->embed_dim);
    cJSON_AddNumberToObject(j, "hidden_dim", c->hidden_dim);
    cJSON_AddNumberToObject(j, "num_layers", c->num_layers);
    cJSON_AddBoolToObject(j, "bidirectional", c->bidirectional);
    cJSON_AddNumberToObject(j, "dropout", c->dropout);
    if (c->embed_dropout > 0) cJSON_AddNumberToObject(j, "embed_dropout", c->embed_dropout);
    if (c->weight_drop > 0) cJSON_AddNumberToObject(j, "weight_drop", c->weight_drop);
    if (c->recurrent_dropout > 0) cJSON_AddNumberToObject(j, "recurrent_dropout", c->recurrent_dropout);
    if (c->locked_dropout) cJSON_AddBoolToObject(j, "locked_dropout", 1);
    cJSON_AddBoolToObject(j, "residual", c->residual);
    cJSON_AddNumberToObject(j, "padding_id", c->padding_id);
    cJSON_AddNumberToObject(j, "forget_bias", c->forget_bias);
    if (c->tie_weights) cJSON_AddBoolToObject(j, "tie_weights", 1);
    if (c->reverse) cJSON_AddBoolToObject(j, "reverse", 1);
    if (c->cache_size > 0) {
        cJSON_AddNumberToObject(j, "cache_size", c->cache_size);
        cJSON_AddNumberToObject(j, "cache_theta", c->cache_theta);
        cJSON_AddNumberToObject(j, "cache_lambda", c->cache_lambda);
    }
    if (c->task == RNN_TASK_CLASSIFY) {
        cJSON_AddStringToObject(j, "pool", rnn_pool_name(c->pool));
        cJSON_AddNumberToObject(j, "attention_dim", c->attention_dim);
        cJSON_AddNumberToObject(j, "num_classes", c->num_classes);
        cJSON_AddStringToObject(j, "loss", c->loss == RNN_LOSS_BCE ? "bce" : "ce");
        if (c->max_len > 0) {
            cJSON_AddNumberToObject(j, "max_len", c->max_len);
            cJSON_AddStringToObject(j, "truncate", c->truncate_tail ? "tail" : "head");
        }
    }
    if (c->task == RNN_TASK_CLASSIFY || c->head_dropout > 0)
        cJSON_AddNumberToObject(j, "head_dropout", c->head_dropout);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) rnn_errorf("out of memory writing the config");
    return s;
}

static int json_int(const cJSON *j, const char *key, int *out, int required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return required ? rnn_errorf("config: missing \"%s\"", key) : 0;
    /* the range before the cast: a double past int's is undefined behaviour */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= INT_MIN && v->valuedouble <= INT_MAX) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return rnn_errorf("config: \"%s\" must be an integer of at most 10 digits", key);
    *out = (int)v->valuedouble;
    return 0;
}

static int json_float(const cJSON *j, const char *key, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= FLT_MAX))
        return rnn_errorf("config: \"%s\" must be a finite number", key);
    *out = (float)v->valuedouble;
    return 0;
}

static int json_bool(const cJSON *j, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return rnn_errorf("config: \"%s\" must be true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static const char *json_str(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int rnn_config_from_json(rnn_config *c, const char *json) {
    cJSON *j = cJSON_ParseWithOpts(json, NULL, 1); /* nothing may follow the object */
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return rnn_errorf("config: not a JSON object");
    }
    int rc = -1;
    /* Every key is one this build reads: an unknown one (a newer rnn.c's, or a
     * damaged name such as "residuaL") would otherwise change the model
     * silently. */
    static const char *const known[] = {
        "task", "cell", "vocab_size", "embed_dim", "hidden_dim", "num_layers", "bidirectional", "dropout",
        "embed_dropout", "weight_drop", "recurrent_dropout", "locked_dropout", "residual", "padding_id",
        "forget_bias", "tie_weights", "reverse", "cache_size", "cache_theta", "cache_lambda", "pool",
        "attention_dim", "num_classes", "loss", "head_dropout", "max_len", "truncate"};
    for (const cJSON *k = j->child; k; k = k->next) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(k->string, known[i])) i++;
        if (i == sizeof known / sizeof *known) {
            rnn_errorf("config: unknown key \"%.64s\" (a damaged file, or one from a newer rnn.c)", k->string);
            goto out;
        }
    }
    const char *twice = rnn_json_repeated_key(j);
    if (twice) {
        rnn_errorf("config: the key \"%.64s\" is given twice (a damaged file: which value counts?)", twice);
        goto out;
    }
    const char *task = json_str(j, "task"), *cell = json_str(j, "cell");
    if (!task || (strcmp(task, "lm") && strcmp(task, "classify"))) {
        rnn_errorf("config: \"task\" must be \"lm\" or \"classify\"");
        goto out;
    }
    rnn_config_default(c, strcmp(task, "lm") ? RNN_TASK_CLASSIFY : RNN_TASK_LM);
    if (!cell) {
        rnn_errorf("config: missing \"cell\"");
        goto out;
    }
    if (rnn_cell_parse(cell, &c->cell)) goto out;
    if (json_int(j, "vocab_size", &c->vocab_size, 1) || json_int(j, "embed_dim", &c->embed_dim, 1) ||
        json_int(j, "hidden_dim", &c->hidden_dim, 1) || json_int(j, "num_layers", &c->num_layers, 1) ||
        json_bool(j, "bidirectional", &c->bidirectional) || json_float(j, "dropout", &c->dropout) ||
        json_float(j, "embed_dropout", &c->embed_dropout) ||
        json_float(j, "weight_drop", &c->weight_drop) ||
        json_float(j, "recurrent_dropout", &c->recurrent_dropout) ||
        json_bool(j, "locked_dropout", &c->locked_dropout) ||
        json_bool(j, "residual", &c->residual) || json_int(j, "padding_id", &c->padding_id, 0) ||
        json_bool(j, "tie_weights", &c->tie_weights) || json_bool(j, "reverse", &c->reverse) ||
        json_float(j, "forget_bias", &c->forget_bias) ||
        json_int(j, "cache_size", &c->cache_size, 0) || json_float(j, "cache_theta", &c->cache_theta) ||
        json_float(j, "cache_lambda", &c->cache_lambda) ||
        json_int(j, "attention_dim", &c->attention_dim, 0) ||
        json_int(j, "num_classes", &c->num_classes, c->task == RNN_TASK_CLASSIFY) ||
        json_float(j, "head_dropout", &c->head_dropout) || json_int(j, "max_len", &c->max_len, 0))
        goto out;
    const char *pool = json_str(j, "pool"), *loss = json_str(j, "loss"), *trunc = json_str(j, "truncate");
    const char *const str_keys[] = {"pool", "loss", "truncate"}, *str_vals[] = {pool, loss, trunc};
    for (int i = 0; i < 3; i++) { /* present but not a string: not the default */
        const char *key = str_keys[i];
        if (cJSON_GetObjectItemCaseSensitive(j, key) && !str_vals[i]) {
            rnn_errorf("config: \"%s\" must be a string", key);
            goto out;
        }
    }
    if (pool && rnn_pool_parse(pool, &c->pool)) goto out;
    if (c->task == RNN_TASK_CLASSIFY && c->pool == RNN_POOL_ATTENTION &&
        !cJSON_GetObjectItemCaseSensitive(j, "attention_dim")) { /* it sets attention.*'s shapes */
        rnn_errorf("config: an attention-pooling classifier needs \"attention_dim\"");
        goto out;
    }
    if (loss) {
        if (!strcmp(loss, "ce"))
            c->loss = RNN_LOSS_CE;
        else if (!strcmp(loss, "bce"))
            c->loss = RNN_LOSS_BCE;
        else {
            rnn_errorf("config: \"loss\" must be \"ce\" or \"bce\"");
            goto out;
        }
    }
    if (trunc) {
        if (strcmp(trunc, "head") && strcmp(trunc, "tail")) {
            rnn_errorf("config: \"truncate\" must be \"head\" or \"tail\"");
            goto out;
        }
        c->truncate_tail = !strcmp(trunc, "tail");
    }
    /* The cache's settings whatever cache_size is (rnn_config_validate checks
     * them only for a cache): `rnn eval --cache N` takes a checkpoint's theta
     * and lambda, and a bad one would be found then, under a flag never given
     * and without the file's name. */
    if (!(c->cache_theta >= 0 && c->cache_theta <= RNN_CACHE_MAX_THETA)) {
        rnn_errorf("config: \"cache_theta\" must be in [0, %g] (got %.9g): a damaged file", RNN_CACHE_MAX_THETA,
                   c->cache_theta);
        goto out;
    }
    if (!(c->cache_lambda >= 0 && c->cache_lambda < 1)) {
        rnn_errorf("config: \"cache_lambda\" must be in [0, 1) (got %.9g): a damaged file", c->cache_lambda);
        goto out;
    }
    rc = rnn_config_validate(c);
out:
    cJSON_Delete(j);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* fan_in: PyTorch's initialisation bound is 1/sqrt(fan_in): a Linear's
 * input width for its weight and bias alike, hidden_dim for every tensor of
 * a recurrent layer. */
static void add_param(rnn_model *m, const char *name, int64_t rows, int64_t cols, rnn_group g,
                      int64_t fan_in) {
    rnn_param *p = &m->params[m->n_params++];
    p->fan_in = fan_in;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    p->numel = (size_t)rows * (cols ? (size_t)cols : 1);
    p->offset = m->n_floats;
    p->group = g;
    /* Keep every tensor 16-float aligned (64 bytes) for SIMD. */
    m->n_floats += (p->numel + 15) / 16 * 16;
}

size_t rnn_model_num_weights(const rnn_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += m->params[i].numel;
    return n;
}

int rnn_model_head_in(const rnn_model *m) {
    return m->c.task == RNN_TASK_LM ? m->F : rnn_pool_width(m->c.pool, m->F);
}

/* The parameter table of a model of config c (validated): names, shapes,
 * offsets, and n_floats; nothing allocated yet. */
static void layout(rnn_model *m, const rnn_config *c) {
    m->c = *c;
    const int E = c->embed_dim, H = c->hidden_dim, recurrent = c->cell != RNN_CELL_NONE;
    const int L = recurrent ? c->num_layers : 0;
    m->D = c->bidirectional && recurrent ? 2 : 1;
    m->F = recurrent ? m->D * H : E;
    m->n_out = c->task == RNN_TASK_LM ? c->vocab_size : c->loss == RNN_LOSS_BCE ? 1 : c->num_classes;
    const int G = rnn_cell_gates(c->cell);

    char name[48];
    add_param(m, "embedding.weight", c->vocab_size, E, RNN_GROUP_EMBED, 0);
    for (int l = 0; l < L; l++)
        for (int d = 0; d < m->D; d++) {
            const char *sfx = d ? "_reverse" : "";
            int in = l ? m->D * H : E;
            snprintf(name, sizeof name, "rnn.weight_ih_l%d%s", l, sfx);
            add_param(m, name, (int64_t)G * H, in, RNN_GROUP_ENCODER, H);
            snprintf(name, sizeof name, "rnn.weight_hh_l%d%s", l, sfx);
            add_param(m, name, (int64_t)G * H, H, RNN_GROUP_ENCODER, H);
            snprintf(name, sizeof name, "rnn.bias_ih_l%d%s", l, sfx);
            add_param(m, name, (int64_t)G * H, 0, RNN_GROUP_ENCODER, H);
            snprintf(name, sizeof name, "rnn.bias_hh_l%d%s", l, sfx);
            add_param(m, name, (int64_t)G * H, 0, RNN_GROUP_ENCODER, H);
        }
    const int attention = c->task == RNN_TASK_CLASSIFY && c->pool == RNN_POOL_ATTENTION;
    if (attention) {
        add_param(m, "attention.0.weight", c->attention_dim, m->F, RNN_GROUP_HEAD, m->F);
        add_param(m, "attention.0.bias", c->attention_dim, 0, RNN_GROUP_HEAD, m->F);
        add_param(m, "attention.2.weight", 1, c->attention_dim, RNN_GROUP_HEAD, c->attention_dim);
    }
    const int head_in = rnn_model_head_in(m);
    if (!c->tie_weights) add_param(m, "head.weight", m->n_out, head_in, RNN_GROUP_HEAD, head_in);
    add_param(m, "head.bias", m->n_out, 0, RNN_GROUP_HEAD, head_in);
}

rnn_model *rnn_model_plan(const rnn_config *c) {
    if (rnn_config_validate(c)) return NULL;
    rnn_model *m = calloc(1, sizeof *m);
    if (!m) {
        rnn_errorf("out of memory");
        return NULL;
    }
    layout(m, c);
    return m;
}

size_t rnn_config_num_floats(const rnn_config *c) {
    rnn_model *m = rnn_model_plan(c);
    size_t n = m ? m->n_floats : 0;
    free(m);
    return n;
}

/* Points the named views at their tensors in w and, once it exists, g, in
 * table order. */
static void set_views(rnn_model *m) {
    const rnn_config *c = &m->c;
    const int E = c->embed_dim, H = c->hidden_dim, L = c->cell != RNN_CELL_NONE ? c->num_layers : 0;
    int k = 0;
#define NEXT(wp, gp)                                                                               \
    do {                                                                                           \
        (wp) = m->w + m->params[k].offset;                                                         \
        (gp) = m->g ? m->g + m->params[k].offset : NULL;                                           \
        k++;                                                                                       \
    } while (0)
    NEXT(m->emb, m->d_emb);
    for (int l = 0; l < L; l++)
        for (int d = 0; d < m->D; d++) {
            rnn_dir *dir = &m->dirs[l * m->D + d];
            rnn_dir_weights *gw = &m->gdirs[l * m->D + d];
            dir->cell = c->cell;
            dir->reverse = d;
            dir->in = l ? m->D * H : E;
            dir->H = H;
            NEXT(dir->w.w_ih, gw->w_ih);
            NEXT(dir->w.w_hh, gw->w_hh);
            NEXT(dir->w.b_ih, gw->b_ih);
            NEXT(dir->w.b_hh, gw->b_hh);
        }
    if (c->task == RNN_TASK_CLASSIFY && c->pool == RNN_POOL_ATTENTION) {
        NEXT(m->att_w1, m->d_att_w1);
        NEXT(m->att_b1, m->d_att_b1);
        NEXT(m->att_w2, m->d_att_w2);
    }
    if (c->tie_weights) { /* the embedding, gradients from both ends summed in d_emb */
        m->head_w = m->emb;
        m->d_head_w = m->d_emb;
    } else {
        NEXT(m->head_w, m->d_head_w);
    }
    NEXT(m->head_b, m->d_head_b);
#undef NEXT
}

rnn_model *rnn_model_create(const rnn_config *c) {
    rnn_model *m = rnn_model_plan(c);
    if (!m) return NULL;
    if ((double)m->n_floats * sizeof(float) > (double)rnn_mem_limit()) {
        rnn_errorf("config: the model's %zu weights need %.1f GB, more than the %.1f GB this process may use",
                   rnn_model_num_weights(m), m->n_floats * 4.0 / 1e9, rnn_mem_limit() / 1e9);
        rnn_model_free(m);
        return NULL;
    }
    if (!(m->w = rnn_calloc(m->n_floats * sizeof(float)))) {
        rnn_model_free(m);
        return NULL;
    }
    set_views(m);
    return m;
}

rnn_model *rnn_model_grow_vocab(const rnn_model *m, int vocab, int pad) {
    const int V = m->c.vocab_size;
    if (vocab < V) {
        rnn_errorf("a vocabulary of %d cannot hold the model's %d tokens", vocab, V);
        return NULL;
    }
    rnn_config c = m->c;
    c.vocab_size = vocab;
    if (rnn_config_validate(&c)) return NULL;
    rnn_model *g = rnn_model_create(&c);
    if (!g) return NULL;
    for (int i = 0; i < g->n_params; i++) {
        const rnn_param *p = &g->params[i], *q = rnn_model_find(m, p->name);
        float *dst = g->w + p->offset;
        const float *src = m->w + q->offset;
        memcpy(dst, src, q->numel * sizeof(float));
        if (p->numel == q->numel) continue;
        /* A table with a row per token (the embedding; a language model's
         * output weight and bias): the new rows start at the mean of the
         * old ones, the padding row left out (HF's resize_token_embeddings
         * with mean_resizing), so a new token begins as an average one. */
        const size_t cols = p->ndim == 2 ? (size_t)p->shape[1] : 1;
        double *mean = calloc(cols, sizeof(double));
        if (!mean) {
            rnn_model_free(g);
            rnn_errorf("out of memory");
            return NULL;
        }
        int rows = 0;
        for (int r = 0; r < V; r++) {
            if (r == pad) continue;
            rows++;
            for (size_t j = 0; j < cols; j++) mean[j] += src[(size_t)r * cols + j];
        }
        for (int r = V; r < vocab; r++)
            for (size_t j = 0; j < cols; j++) dst[(size_t)r * cols + j] = rows ? (float)(mean[j] / rows) : 0.0f;
        free(mean);
    }
    return g;
}

int rnn_model_alloc_grad(rnn_model *m) {
    if (m->g) return 0;
    if (!(m->g = rnn_calloc(m->n_floats * sizeof(float)))) return -1;
    set_views(m);
    return 0;
}

int rnn_model_keep_blocks(rnn_model *m) {
    const int G = rnn_cell_gates(m->c.cell), H = m->c.hidden_dim, n = m->c.num_layers * m->D;
    if (m->blk || m->c.cell == RNN_CELL_NONE) return 0;
    const size_t per = rnn_blocks_floats(G * H, H);
    if (!(m->blk = rnn_alloc(per * n * sizeof(float)))) return -1;
    for (int k = 0; k < n; k++) {
        rnn_blocks_pack(m->blk + per * k, m->dirs[k].w.w_hh, G * H, H);
        m->dirs[k].blk = m->blk + per * k;
    }
    return 0;
}

void rnn_model_free(rnn_model *m) {
    if (!m) return;
    rnn_free(m->blk);
    rnn_free(m->w);
    rnn_free(m->g);
    free(m);
}

void rnn_model_zero_grad(rnn_model *m) {
    assert(m->g && "rnn_model_alloc_grad() first");
    memset(m->g, 0, m->n_floats * sizeof(float));
}

const rnn_param *rnn_model_find(const rnn_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

/* PyTorch's defaults: nn.Embedding N(0, 1) (padding row zero); nn.LSTM/GRU/RNN
 * every weight and bias U(-1/sqrt(H), 1/sqrt(H)); nn.Linear weight and bias
 * U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5)). Then the
 * LSTM forget-gate bias gets forget_bias added (default 0, PyTorch's; 1 is
 * Jozefowicz et al. 2015's advice, which trained char LMs more slowly here
 * and classifiers no better: docs/training-results.md, "The LSTM forget-gate bias"). A
 * tied embedding (tie_weights) is U(-0.1, 0.1) instead. */
void rnn_model_init(rnn_model *m, uint64_t seed) {
    rnn_rng rng;
    rnn_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *p = &m->params[i];
        float *w = m->w + p->offset;
        if (p->fan_in == 0) { /* the embedding */
            /* A tied embedding is the output layer too: N(0, 1) logits would
             * start enormous, so U(-0.1, 0.1) as PyTorch's word_language_model. */
            for (size_t j = 0; j < p->numel; j++)
                w[j] = m->c.tie_weights ? 0.1f * (2.0f * rnn_rng_uniform(&rng) - 1.0f) : rnn_rng_normal(&rng);
            continue;
        }
        float bound = 1.0f / sqrtf((float)p->fan_in);
        for (size_t j = 0; j < p->numel; j++) w[j] = (2.0f * rnn_rng_uniform(&rng) - 1.0f) * bound;
    }
    if (m->c.padding_id >= 0)
        memset(m->emb + (size_t)m->c.padding_id * m->c.embed_dim, 0, sizeof(float) * m->c.embed_dim);
    if (m->c.cell == RNN_CELL_LSTM && m->c.forget_bias != 0) {
        const int H = m->c.hidden_dim;
        for (int k = 0; k < m->c.num_layers * m->D; k++)
            for (int j = 0; j < H; j++) m->dirs[k].w.b_ih[H + j] += m->c.forget_bias;
    }
}

/* Layer 0 reads rows of the embedding, so when a batch holds far fewer
 * distinct tokens than rows (a char LM: at most 65 symbols in 4096 rows; text
 * classifiers: a few thousand words in 16384 rows) its input projection is a
 * lookup. The forward gathers the U distinct tokens' embedding rows (into
 * a->emb, which layer 0 then no longer needs row by row), multiplies them by
 * W_ih^T once (U x E x G*H multiply-adds instead of N x E x G*H) and copies
 * each row's gates from its token's row of that table. The backward sums dG_x
 * by token into S (U, G*H): W_ih's gradient is S^T Emb_U and the embedding's
 * S W_ih, two products of U rows instead of N. Elementwise dropout on the
 * embedding gives every row its own input: no lookup then. */
#define FOLD_MAX_SHARE 0.75 /* U may be at most this share of N (the gather costs) */
#define FOLD_PAR_MIN 32768  /* floats zeroed below which one thread does it */

static int fold_rows(const rnn_config *c, int N) {
    int cap = (int)(FOLD_MAX_SHARE * N);
    return c->vocab_size < cap ? c->vocab_size : cap;
}

/* Numbers the batch's distinct tokens in order of first appearance (a->fold_u,
 * a->fold_ids) and gathers their embedding rows into a->emb. Returns 0, with
 * nothing changed, when the lookup does not apply to this batch. */
static int fold_prepare(const rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids) {
    const rnn_config *c = &m->c;
    if (!a->fold[0] || (a->train && c->embed_dropout > 0)) return 0;
    const int N = p->N, cap = fold_rows(c, N), E = c->embed_dim; /* N <= a->N */
    int U = 0;
    int32_t *slot = a->fold_slot; /* token -> 1 + its number, 0 when not seen yet */
    int n = 0;
    for (; n < N && U <= cap; n++) {
        int v = ids[n];
        if (v < 0 || v >= c->vocab_size) break; /* the plain path reports no error either */
        if (!slot[v]) {
            if (U < cap) a->fold_tok[U] = v;
            slot[v] = ++U;
        }
        a->fold_ids[n] = slot[v] - 1;
    }
    int ok = n == N && U > 0 && U <= cap;
    if (ok) {
        rnn_embedding_forward(a->emb, m->emb, a->fold_tok, U, E);
        for (int u = 0; u < U; u++) slot[a->fold_tok[u]] = 0;
    } else { /* clear what was marked before giving up (rows [0, n) were valid) */
        for (int i = 0; i < n; i++) slot[ids[i]] = 0;
    }
    a->fold_u = ok ? U : 0;
    return ok;
}

/* Direction k of layer 0: the table x W_ih^T of the batch's distinct tokens. */
static void fold_table(const rnn_model *m, rnn_acts *a, int k) {
    const int U = a->fold_u, E = m->c.embed_dim, GH = rnn_cell_gates(m->c.cell) * m->c.hidden_dim;
    rnn_gemm(0, 1, U, GH, E, 1.0f, a->emb, E, m->dirs[k].w.w_ih, E, 0.0f, a->fold[k], GH);
}

/* cache->gates of direction k of layer 0 for packed rows [r0, r0 + n): their
 * tokens' rows of the table (into the cache's first n rows). */
static void fold_gather(const rnn_model *m, rnn_acts *a, int k, int r0, int n) {
    const int GH = rnn_cell_gates(m->c.cell) * m->c.hidden_dim;
    rnn_embedding_forward(a->cache[k].gates, a->fold[k], a->fold_ids + r0, n, GH);
}

/* S = dG_x summed by token, into a->fold[k] (the embedding's backward, with
 * the table's rows for the tokens); then W_ih's gradient from it. */
static void fold_backward(rnn_model *m, rnn_acts *a, const rnn_pack *p, int k, float *gw_ih) {
    const int U = a->fold_u, E = m->c.embed_dim;
    const int GH = rnn_cell_gates(m->c.cell) * m->c.hidden_dim;
    float *S = a->fold[k];
#pragma omp parallel for if ((size_t)U * GH > FOLD_PAR_MIN)
    for (int u = 0; u < U; u++) memset(S + (size_t)u * GH, 0, sizeof(float) * GH);
    rnn_embedding_backward(S, a->cache[k].gates, a->fold_ids, p->N, GH, -1);
    rnn_gemm(1, 0, GH, E, U, 1.0f, S, GH, a->emb, E, 1.0f, gw_ih, E);
}

/* The embedding's gradient: sum over directions of S W_ih (U, E), into tmp,
 * then added to the U tokens' rows; the padding row gets nothing. */
static void fold_embedding_backward(rnn_model *m, rnn_acts *a, float *tmp) {
    const rnn_config *c = &m->c;
    const int U = a->fold_u, E = c->embed_dim, GH = rnn_cell_gates(c->cell) * c->hidden_dim;
    for (int d = 0; d < m->D; d++)
        rnn_gemm(0, 0, U, E, GH, 1.0f, a->fold[d], GH, m->dirs[d].w.w_ih, E, d ? 1.0f : 0.0f, tmp, E);
    rnn_embedding_backward(m->d_emb, tmp, a->fold_tok, U, E, c->padding_id);
}

/* ------------------------------------------------------------------------ */
/* The most bytes of recurrent cache (gates, states) inference keeps for one
 * direction: a longer batch runs in chunks of time steps (dir_forward). */
#define CHUNK_BYTES (16u << 20)
static size_t chunk_bytes = CHUNK_BYTES;
void rnn_acts_set_chunk_bytes(size_t bytes) { chunk_bytes = bytes ? bytes : CHUNK_BYTES; }

/* Carves the activation buffers out of one float block and one int block:
 * called once with mem == NULL to count, once to assign. */
static void acts_layout(const rnn_model *m, rnn_acts *a, float *mem, int32_t *imem, size_t *nf,
                        size_t *ni) {
    const rnn_config *c = &m->c;
    const int T = a->T, B = a->B, N = a->N, E = c->embed_dim, H = c->hidden_dim, D = m->D;
    const int L = c->cell == RNN_CELL_NONE ? 0 : c->num_layers, F = m->F, P = rnn_model_head_in(m);
    size_t f = 0, i = 0;
#define FL(ptr, n)                                                                                 \
    do {                                                                                           \
        if (mem) (ptr) = mem + f;                                                                  \
        f += ((size_t)(n) + 15) / 16 * 16;                                                         \
    } while (0)
#define IN(ptr, n)                                                                                 \
    do {                                                                                           \
        if (imem) (ptr) = (void *)(imem + i);                                                      \
        i += ((size_t)(n) + 15) / 16 * 16;                                                         \
    } while (0)
    /* An inference set (a->infer) leaves out what only training touches:
     * dropout's copies and masks, and the backward pass's buffers. */
    const int tr = !a->infer;
    IN(a->ids, N);
    IN(a->targets, N > B ? N : B);
    IN(a->lengths, B);
    IN(a->batch_sizes, T);
    IN(a->offsets, T + 1);
    FL(a->ftargets, B);
    /* Inference keeps a recurrent cache of at most chunk_bytes a direction
     * (at least one step's rows); training needs every row's for the
     * backward. In chunks, layer 0's input rows are embedded a chunk at a
     * time too (each direction its own), unless a lookup holds its distinct
     * tokens' rows instead. */
    const size_t row_bytes = sizeof(float) * rnn_dir_cache_floats(c->cell, 1, H);
    const int chunk_rows = L ? (int)(chunk_bytes / row_bytes < INT_MAX ? chunk_bytes / row_bytes : INT_MAX) : 0;
    a->chunk = !tr && L && N > chunk_rows && N > B ? (chunk_rows > B ? chunk_rows : B) : 0;
    size_t emb_rows = (size_t)N;
    if (a->chunk) { /* (a chunk holds fewer rows than N; D of them may hold more) */
        const size_t need = (size_t)D * a->chunk, lookup = (size_t)fold_rows(c, N);
        emb_rows = need > lookup ? need : lookup;
    }
    FL(a->emb, emb_rows * E);
    a->emb_rows = emb_rows;
    if (tr && c->embed_dropout > 0) {
        FL(a->xe, (size_t)N * E);
        FL(a->emask, (size_t)N * E);
    }
    size_t work = 0;
    const int cache_rows = a->chunk ? a->chunk : N;
    const int stream = a->chunk && D == 1 && c->task == RNN_TASK_CLASSIFY;
    const int pool_top = a->chunk && c->task == RNN_TASK_CLASSIFY && c->pool != RNN_POOL_ATTENTION;
    if (a->chunk)
        for (int d = 0; d < D; d++) {
            IN(a->sub_offsets[d], a->chunk + 1);
            IN(a->sub_lengths[d], B);
        }
    for (int l = 0; l < L; l++) {
        if (tr && l > 0 && c->dropout > 0) { /* a dropped copy of the layer below's output */
            FL(a->x[l], (size_t)N * D * H);
            FL(a->mask[l], (size_t)N * D * H);
        }
        /* Inference reads only the layer below's output: two buffers take
         * turns, and a residual layer adds its input in place. In chunks, a
         * unidirectional classifier's hold a chunk's rows (stream_forward),
         * and so does a classifier's top layer pooled as it runs
         * (dir_forward). */
        const int top_rows = l == L - 1 && pool_top; /* (dir_forward) */
        if (tr || l < 2) FL(a->y[l], (size_t)(stream || top_rows ? a->chunk : N) * D * H);
        else if (mem) a->y[l] = a->y[l - 2];
        if (tr && c->residual && l > 0) FL(a->res[l], (size_t)N * D * H);
        for (int d = 0; d < D; d++) {
            /* Inference reads a layer's cache only while it runs that layer:
             * every layer shares its direction's. */
            float *cm = NULL;
            if (tr || l == 0) FL(cm, rnn_dir_cache_floats(c->cell, cache_rows, H));
            else if (mem) cm = a->cache[d].gates; /* the bound block starts at gates */
            if (mem) rnn_dir_cache_bind(&a->cache[l * D + d], c->cell, cache_rows, H, cm);
            if (tr && c->recurrent_dropout > 0) FL(a->rmask[l * D + d], (size_t)N * H);
            if (tr && c->weight_drop > 0) {
                const size_t whh = (size_t)rnn_cell_gates(c->cell) * H * H;
                FL(a->whh[l * D + d], whh);
                FL(a->whh_mask[l * D + d], whh);
                FL(a->whh_grad[l * D + d], whh);
            }
        }
        if (l == 0 && fold_rows(c, N) > 0) { /* the lookup's table (model.c, fold_prepare) */
            a->fold_cap = fold_rows(c, N);
            for (int d = 0; d < D; d++) FL(a->fold[d], (size_t)a->fold_cap * rnn_cell_gates(c->cell) * H);
            IN(a->fold_slot, c->vocab_size);
            IN(a->fold_tok, fold_rows(c, N));
            IN(a->fold_ids, N);
        }
        size_t wk = rnn_dir_work_floats(c->cell, N, B, H, !tr && m->blk);
        if (wk > work) work = wk;
    }
    const size_t dir_work = work; /* the reverse direction's (work2) is only that */
    if (L) {
        FL(a->h0, (size_t)L * D * B * H);
        FL(a->c0, (size_t)L * D * B * H);
        FL(a->hn, (size_t)L * D * B * H);
        FL(a->cn, (size_t)L * D * B * H);
    }
    if (c->task == RNN_TASK_CLASSIFY) {
        rnn_pooler pl = {c->pool, F, D, c->attention_dim, NULL, NULL, NULL};
        float *pc = NULL;
        const int u_rows = tr ? N : rnn_pool_infer_rows(N);
        FL(pc, rnn_pool_cache_floats(&pl, N, B, u_rows));
        if (mem) rnn_pool_cache_bind(&a->pool_cache, &pl, B, u_rows, pc);
        FL(a->pooled, (size_t)B * P);
        if (tr) {
            FL(a->head_mask, (size_t)B * P);
            FL(a->dpooled, (size_t)B * P);
        }
        FL(a->logits, (size_t)B * m->n_out);
        size_t sc = tr ? rnn_pool_scratch_floats(&pl, N, B) : 0; /* the backward's */
        if (sc > work) work = sc;
    } else {
        if (tr && c->head_dropout > 0) {
            FL(a->xh, (size_t)N * F);
            FL(a->head_mask, (size_t)N * F);
        }
        FL(a->logits, (size_t)N * m->n_out);
    }
    size_t wide = (size_t)(E > F ? E : F);
    if (tr) {
        FL(a->dy, (size_t)N * wide);
        FL(a->dx, (size_t)N * wide);
        if (D == 2) FL(a->dx2, (size_t)N * wide);
    }
    FL(a->work, work);
    if (D == 2) FL(a->work2, dir_work);
#undef FL
#undef IN
    *nf = f;
    *ni = i;
}

rnn_acts *rnn_acts_create(const rnn_model *m, int T, int B) { return rnn_acts_create_n(m, T, B, T * B); }

static rnn_acts *acts_create(const rnn_model *m, int T, int B, int N, int infer) {
    rnn_acts *a = calloc(1, sizeof *a);
    if (!a) {
        rnn_errorf("out of memory");
        return NULL;
    }
    a->infer = infer;
    a->T = T;
    a->B = B;
    a->N = N;
    size_t nf, ni;
    acts_layout(m, a, NULL, NULL, &nf, &ni);
    a->mem = rnn_calloc(nf * sizeof(float));
    a->imem = rnn_calloc(ni * sizeof(int32_t));
    if (!a->mem || !a->imem) {
        rnn_acts_free(a);
        return NULL;
    }
    acts_layout(m, a, a->mem, a->imem, &nf, &ni);
    return a;
}

rnn_acts *rnn_acts_create_n(const rnn_model *m, int T, int B, int N) { return acts_create(m, T, B, N, 0); }

size_t rnn_acts_bytes(const rnn_model *m, int T, int B, int N, int infer) {
    rnn_acts a = {0};
    a.infer = infer;
    a.T = T;
    a.B = B;
    a.N = N;
    size_t nf, ni;
    acts_layout(m, &a, NULL, NULL, &nf, &ni);
    return nf * sizeof(float) + ni * sizeof(int32_t);
}

rnn_acts *rnn_acts_create_infer(const rnn_model *m, int T, int B, int N) { return acts_create(m, T, B, N, 1); }

void rnn_acts_free(rnn_acts *a) {
    if (!a) return;
    rnn_free(a->mem);
    rnn_free(a->imem);
    free(a);
}

/* ------------------------------------------------------------------------ */
static rnn_pooler make_pooler(const rnn_model *m) {
    rnn_pooler pl = {m->c.pool, m->F, m->D, m->c.attention_dim, m->att_w1, m->att_b1, m->att_w2};
    return pl;
}

void rnn_model_carry_state(const rnn_model *m, rnn_acts *a, int B) {
    size_t n = (size_t)m->c.num_layers * m->D * B * m->c.hidden_dim;
    memcpy(a->h0, a->hn, n * sizeof(float));
    if (m->c.cell == RNN_CELL_LSTM) memcpy(a->c0, a->cn, n * sizeof(float));
}

/* 1 when a forward over p runs in chunks: inference activations whose cache
 * holds fewer rows than p has. */
static int chunked(const rnn_acts *a, const rnn_pack *p) { return a->chunk && p->N > a->chunk; }

/* The chunk of a pass in chunks that follows `done` of p's steps in
 * processing order (a reverse direction's from the last): steps [t0, t1) of
 * at most a->chunk rows (one step always fits), as a pack of its own (rows
 * from 0) on direction d's sub_offsets and sub_lengths. *t0 gets its first
 * step. */
static rnn_pack chunk_pack(const rnn_acts *a, const rnn_pack *p, int reverse, int done, int d, int *t0) {
    const int T = p->T, *off = p->offsets;
    int t1;
    if (!reverse) { /* [done, ...) as far as the rows allow */
        *t0 = done, t1 = done + 1;
        while (t1 < T && off[t1 + 1] - off[*t0] <= a->chunk) t1++;
    } else {        /* [..., T - done) */
        t1 = T - done, *t0 = t1 - 1;
        while (*t0 > 0 && off[t1] - off[*t0 - 1] <= a->chunk) (*t0)--;
    }
    int *sub_off = a->sub_offsets[d], *sub_len = a->sub_lengths[d];
    const int r0 = off[*t0], B = p->batch_sizes[*t0], steps = t1 - *t0;
    for (int t = *t0; t <= t1; t++) sub_off[t - *t0] = off[t] - r0;
    for (int b = 0; b < B; b++) sub_len[b] = p->lengths[b] - *t0 < steps ? p->lengths[b] - *t0 : steps;
    const rnn_pack sub = {steps, B, off[t1] - r0, p->batch_sizes + *t0, sub_off, sub_len};
    return sub;
}

/* Direction k's state before its first chunk, in hn/cn (where chunks hand
 * it on): h0/c0's with state_in, else zeros. */
static void chunks_start_state(const rnn_model *m, rnn_acts *a, int k, int B, int state_in) {
    const size_t s = (size_t)k * B * m->c.hidden_dim, bytes = sizeof(float) * B * m->c.hidden_dim;
    if (state_in) memcpy(a->hn + s, a->h0 + s, bytes);
    else memset(a->hn + s, 0, bytes);
    if (m->c.cell != RNN_CELL_LSTM) return;
    if (state_in) memcpy(a->cn + s, a->c0 + s, bytes);
    else memset(a->cn + s, 0, bytes);
}

/* 1 when layer l's chunks are pooled as they come: a classifier's top layer
 * run in chunks, unless attention pools it (dir_forward). */
static int pools_chunks(const rnn_model *m, const rnn_acts *a, const rnn_pack *p, int l) {
    return chunked(a, p) && m->c.task == RNN_TASK_CLASSIFY && m->c.pool != RNN_POOL_ATTENTION &&
           l == m->c.num_layers - 1;
}

/* One direction of layer l, forward. The two directions of a layer are
 * independent: with threads they run side by side, each single-threaded (the
 * GEMMs of one step are too small to split well; nested regions run
 * serially), each with its own work buffer. */
static void dir_forward(const rnn_model *m, rnn_acts *a, const rnn_pack *p, int l, int d,
                        const float *in, int in_w, int state_in, const int32_t *ids) {
    const int D = m->D, H = m->c.hidden_dim, k = l * D + d;
    const size_t s = (size_t)k * p->B * H;
    rnn_dir dir = m->dirs[k];
    if (a->train && m->c.weight_drop > 0) dir.w.w_hh = a->whh[k], dir.blk = NULL;
    float *work = d ? a->work2 : a->work;
    if (!chunked(a, p)) {
        if (!in) fold_gather(m, a, k, 0, p->N);
        rnn_dir_forward(&dir, p, &a->cache[k], a->y[l] + d * H, D * H, in, in_w,
                        state_in ? a->h0 + s : NULL, state_in ? a->c0 + s : NULL, a->hn + s, a->cn + s, work);
        return;
    }
    /* In chunks [t0, t1) of at most a->chunk rows, in processing order (a
     * reverse direction from the last). hn/cn hold each sequence's state
     * between chunks: a sequence that a chunk continues starts from it, one
     * that begins there (a reverse direction's shorter sequences) from its
     * h0, put there first. A classifier's top layer, unless its pooling is
     * attention (which reads both directions of a row), pools each chunk as
     * it comes: its output is held for a chunk's rows, each direction's apart
     * (rnn_model_forward begins and ends the pooling). */
    const int lstm = m->c.cell == RNN_CELL_LSTM, pool = pools_chunks(m, a, p, l);
    float *hn = a->hn + s, *cn = lstm ? a->cn + s : NULL;
    chunks_start_state(m, a, k, p->B, state_in);
    const rnn_pooler pl = make_pooler(m);
    for (int done = 0; done < p->T;) {
        int t0;
        const rnn_pack sub = chunk_pack(a, p, dir.reverse, done, d, &t0);
        done += sub.T;
        const int r0 = p->offsets[t0], n = sub.N;
        const float *x = in && !ids ? in + (size_t)r0 * in_w : NULL;
        if (!in) fold_gather(m, a, k, r0, n);
        if (ids) { /* layer 0, embedded by chunk: this direction's rows of a->emb */
            assert((size_t)d * a->chunk + n <= a->emb_rows);
            float *e = a->emb + (size_t)d * a->chunk * in_w;
            rnn_embedding_forward(e, m->emb, ids + r0, n, in_w);
            x = e;
        }
        /* The first chunk of a pass without a state starts from none, as the
         * pass in one piece does (no W_hh product at its first step). */
        const int fresh = !state_in && done == sub.T;
        float *y = pool ? a->y[l] + (size_t)d * a->chunk * H : a->y[l] + (size_t)r0 * D * H + d * H;
        const int ldy = pool ? H : D * H;
        rnn_dir_forward(&dir, &sub, &a->cache[k], y, ldy, x, in_w, fresh ? NULL : hn, fresh ? NULL : cn, hn, cn,
                        work);
        if (!pool) continue;
        if (m->c.residual && l > 0 && in_w == D * H) /* this direction's half of the input */
            for (int i = 0; i < n; i++)
                for (int j = 0; j < H; j++) y[(size_t)i * H + j] += x[(size_t)i * in_w + d * H + j];
        rnn_pool_chunk_dir(&pl, &sub, t0, r0, p->lengths, d, a->pooled, y, H, &a->pool_cache);
    }
}

/* One direction of layer l, backward: the reverse direction writes its input
 * gradient to dx2 (added afterwards), so the two never write the same memory. */
static void dir_backward(rnn_model *m, rnn_acts *a, const rnn_pack *p, int l, int d,
                         const float *in, int in_w) {
    const int D = m->D, H = m->c.hidden_dim, k = l * D + d;
    rnn_dir dir = m->dirs[k];
    rnn_dir_weights g = m->gdirs[k];
    const int wd = a->train && m->c.weight_drop > 0;
    const size_t whh = (size_t)rnn_cell_gates(m->c.cell) * H * H;
    if (wd) { /* the gradient of the masked W_hh, then through the mask */
        dir.w.w_hh = a->whh[k];
        g.w_hh = a->whh_grad[k];
        memset(g.w_hh, 0, whh * sizeof(float));
    }
    rnn_dir_backward(&dir, &g, p, &a->cache[k], a->y[l] + d * H, D * H,
                     a->dy + d * H, D * H, in, in_w, in ? (d ? a->dx2 : a->dx) : NULL, in_w, 0, NULL,
                     NULL, NULL, NULL, d ? a->work2 : a->work);
    if (!in) fold_backward(m, a, p, k, m->gdirs[k].w_ih);
    if (wd) {
        const float *restrict gm = g.w_hh, *restrict mask = a->whh_mask[k];
        float *restrict gw = m->gdirs[k].w_hh;
        for (size_t i = 0; i < whh; i++) gw[i] += gm[i] * mask[i];
    }
}

/* A unidirectional classifier's inference over more rows than a chunk:
 * every layer runs a chunk of time steps (as dir_forward cuts them) before
 * the next chunk starts, and the pooling takes the top layer's rows chunk by
 * chunk, so that no layer's output is ever held for more than a chunk's
 * rows: a book-length text costs its ids, not its hidden states. The chunks
 * and their products are those of the pass layer by layer, so the layers'
 * outputs are the same to the bit. */
static void stream_forward(const rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids,
                           int fold, int state_in) {
    const rnn_config *c = &m->c;
    const int L = c->num_layers, H = c->hidden_dim, E = c->embed_dim, T = p->T, B = p->B;
    const int lstm = c->cell == RNN_CELL_LSTM, *off = p->offsets;
    const size_t state = (size_t)B * H;
    for (int l = 0; l < L; l++) chunks_start_state(m, a, l, B, state_in);
    if (fold) fold_table(m, a, 0);
    const rnn_pooler pl = make_pooler(m);
    rnn_pool_begin(&pl, B, a->pooled, &a->pool_cache);
    for (int done = 0; done < T;) {
        int t0;
        const rnn_pack sub = chunk_pack(a, p, 0, done, 0, &t0);
        done += sub.T;
        const int r0 = off[t0], n = sub.N;
        const float *x = NULL; /* NULL: layer 0's gates from the lookup table */
        int in_w = E;
        if (fold) fold_gather(m, a, 0, r0, n);
        else rnn_embedding_forward(a->emb, m->emb, ids + r0, n, E), x = a->emb;
        /* The first chunk of a pass without a state starts from none, as the
         * pass in one piece does (no W_hh product at its first step). */
        const int fresh = !state_in && t0 == 0;
        for (int l = 0; l < L; l++) {
            float *y = a->y[l], *hn = a->hn + l * state, *cn = lstm ? a->cn + l * state : NULL;
            rnn_dir_forward(&m->dirs[l], &sub, &a->cache[l], y, H, x, in_w, fresh ? NULL : hn,
                            fresh ? NULL : cn, hn, cn, a->work);
            if (c->residual && l > 0 && in_w == H)
                for (size_t i = 0; i < (size_t)n * H; i++) y[i] += x[i];
            x = y;
            in_w = H;
        }
        rnn_pool_chunk(&pl, &sub, t0, r0, p->lengths, a->pooled, x, &a->pool_cache);
    }
    rnn_pool_end(&pl, p, a->pooled, &a->pool_cache);
    a->top = NULL; /* (held a chunk at a time) */
    a->state_in = state_in;
    rnn_linear_forward(a->logits, a->pooled, m->head_w, m->head_b, B, rnn_model_head_in(m), m->n_out);
    a->n_logit_rows = B;
}

void rnn_model_forward(const rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids,
                       int state_in, int train, rnn_rng *rng) {
    const rnn_config *c = &m->c;
    const int N = p->N, B = p->B, E = c->embed_dim, H = c->hidden_dim, D = m->D;
    const int L = c->cell == RNN_CELL_NONE ? 0 : c->num_layers, DH = D * H;
    assert(!(train && a->infer) && "rnn_acts_create_infer's activations hold no dropout masks");
    a->train = train;
    a->fold_u = 0;
    const int fold = L > 0 && fold_prepare(m, a, p, ids);
    if (D == 1 && c->task == RNN_TASK_CLASSIFY && chunked(a, p)) {
        stream_forward(m, a, p, ids, fold, state_in);
        return;
    }
    const rnn_pooler pl = make_pooler(m);
    const int pool_top = L > 0 && pools_chunks(m, a, p, L - 1); /* (dir_forward pools the top layer) */
    if (pool_top) rnn_pool_begin(&pl, B, a->pooled, &a->pool_cache);
    /* in chunks (inference), layer 0 embeds its rows a chunk at a time (dir_forward) */
    const int32_t *emb_ids = !fold && chunked(a, p) ? ids : NULL;
    if (!fold && !emb_ids) rnn_embedding_forward(a->emb, m->emb, ids, N, E);
    const float *in = a->emb;
    int in_w = E;
    /* locked: one mask per sequence (a language model's batch has B rows at every step) */
    const size_t lock = c->locked_dropout ? (size_t)B : 0;
    if (train && c->embed_dropout > 0) {
        memcpy(a->xe, a->emb, sizeof(float) * N * E);
        rnn_dropout_locked(a->xe, a->emask, (size_t)N * E, lock * E, c->embed_dropout, rng);
        in = a->xe;
    }
    for (int l = 0; l < L; l++) {
        if (l > 0 && train && c->dropout > 0) {
            memcpy(a->x[l], in, sizeof(float) * N * DH);
            rnn_dropout_locked(a->x[l], a->mask[l], (size_t)N * DH, lock * DH, c->dropout, rng);
            in = a->x[l];
        }
        const float *lin = in; /* NULL: layer 0's gates come from the table */
        if (l == 0 && fold)
            for (int d = 0; d < D; d++) fold_table(m, a, d), lin = NULL;
        for (int d = 0; d < D; d++) { /* recurrent dropout: new masks for this batch */
            rnn_dir_cache *dc = &a->cache[l * D + d];
            dc->rmask = NULL;
            if (train && c->recurrent_dropout > 0) {
                rnn_dropout_mask(a->rmask[l * D + d], (size_t)N * H, c->recurrent_dropout, rng);
                dc->rmask = a->rmask[l * D + d];
            }
        }
        if (train && c->weight_drop > 0) { /* DropConnect: this batch's W_hh of each direction */
            const size_t whh = (size_t)rnn_cell_gates(c->cell) * H * H;
            for (int d = 0; d < D; d++) {
                memcpy(a->whh[l * D + d], m->dirs[l * D + d].w.w_hh, whh * sizeof(float));
                rnn_dropout_forward(a->whh[l * D + d], a->whh_mask[l * D + d], whh, c->weight_drop, rng);
            }
        }
        /* An if(false) parallel region would still open a (1-thread) region
         * and make oneDNN treat every GEMM inside as nested: branch instead. */
        if (D == 2 && rnn_get_threads() > 1) {
            const rnn_precision prec = rnn_gemm_precision(); /* the caller's, in both threads (gemm.h) */
#pragma omp parallel for num_threads(2)
            for (int d = 0; d < 2; d++) {
                rnn_gemm_set_precision(prec);
                dir_forward(m, a, p, l, d, lin, in_w, state_in, l ? NULL : emb_ids);
            }
        } else {
            for (int d = 0; d < D; d++) dir_forward(m, a, p, l, d, lin, in_w, state_in, l ? NULL : emb_ids);
        }
        const float *out = a->y[l];
        if (c->residual && l > 0 && in_w == DH && !(pool_top && l == L - 1)) { /* inference: in place (nothing reads y[l] again) */
            float *res = a->res[l] ? a->res[l] : a->y[l];
            for (size_t i = 0; i < (size_t)N * DH; i++) res[i] = a->y[l][i] + in[i];
            out = res;
        }
        in = out;
        in_w = DH;
    }
    a->top = in;
    a->state_in = state_in;
    if (c->task == RNN_TASK_LM) {
        if (train && c->head_dropout > 0) { /* on the top layer's output, before the head */
            memcpy(a->xh, in, sizeof(float) * N * m->F);
            rnn_dropout_locked(a->xh, a->head_mask, (size_t)N * m->F, lock * m->F, c->head_dropout, rng);
            a->top = a->xh;
        }
        rnn_linear_forward(a->logits, a->top, m->head_w, m->head_b, N, m->F, m->n_out);
        a->n_logit_rows = N;
        return;
    }
    const int P = rnn_model_head_in(m);
    if (pool_top) {
        rnn_pool_end(&pl, p, a->pooled, &a->pool_cache);
        a->top = NULL; /* (held a chunk at a time) */
    } else {
        rnn_pool_forward(&pl, p, a->pooled, in, &a->pool_cache, a->work);
    }
    if (train && c->head_dropout > 0)
        rnn_dropout_forward(a->pooled, a->head_mask, (size_t)B * P, c->head_dropout, rng);
    rnn_linear_forward(a->logits, a->pooled, m->head_w, m->head_b, B, P, m->n_out);
    a->n_logit_rows = B;
}

void rnn_model_backward(rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids) {
    rnn_model_backward_ex(m, a, p, ids, 0);
}

void rnn_model_backward_ex(rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids, int head_only) {
    const rnn_config *c = &m->c;
    const int N = p->N, B = p->B, E = c->embed_dim, H = c->hidden_dim, D = m->D;
    const int L = c->cell == RNN_CELL_NONE ? 0 : c->num_layers, DH = D * H;
    assert(m->g && "rnn_model_alloc_grad() first");
    assert(!a->infer && "rnn_acts_create_infer's activations hold no backward buffers");
    /* Head: a->dy gets d(top). */
    if (c->task == RNN_TASK_LM) {
        rnn_linear_backward(a->dy, 0, m->d_head_w, m->d_head_b, a->logits, a->top, m->head_w, N,
                            m->F, m->n_out);
        /* A frozen tied embedding is a frozen output layer too. */
        if (c->tie_weights && c->freeze_embedding)
            memset(m->d_emb, 0, sizeof(float) * (size_t)c->vocab_size * E);
        if (a->train && c->head_dropout > 0) rnn_dropout_backward(a->dy, a->head_mask, (size_t)N * m->F);
    } else {
        const int P = rnn_model_head_in(m);
        rnn_linear_backward(a->dpooled, 0, m->d_head_w, m->d_head_b, a->logits, a->pooled,
                            m->head_w, B, P, m->n_out);
        if (a->train && c->head_dropout > 0) rnn_dropout_backward(a->dpooled, a->head_mask, (size_t)B * P);
        rnn_pooler pl = make_pooler(m);
        rnn_pool_backward(&pl, p, a->dy, m->d_att_w1, m->d_att_b1, m->d_att_w2, a->dpooled, a->top,
                          &a->pool_cache, a->work);
    }
    if (head_only) return; /* (the layers below are frozen: their gradients stay 0) */
    const int edrop = a->train && c->embed_dropout > 0;
    const int fold = L > 0 && a->fold_u > 0;
    /* Stack, top layer first: a->dy holds d(output of layer l). */
    for (int l = L - 1; l >= 0; l--) {
        const int in_w = l ? DH : E;
        const int dropped = l > 0 && a->train && c->dropout > 0;
        const float *in = l == 0    ? (fold ? NULL : edrop ? a->xe : a->emb)
                          : dropped ? a->x[l]
                          : a->res[l - 1] ? a->res[l - 1]
                                          : a->y[l - 1];
        if (D == 2 && rnn_get_threads() > 1) {
            const rnn_precision prec = rnn_gemm_precision(); /* the caller's, in both threads (gemm.h) */
#pragma omp parallel for num_threads(2)
            for (int d = 0; d < 2; d++) {
                rnn_gemm_set_precision(prec);
                dir_backward(m, a, p, l, d, in, in_w);
            }
        } else {
            for (int d = 0; d < D; d++) dir_backward(m, a, p, l, d, in, in_w);
        }
        if (!in) break; /* layer 0 by lookup: the embedding's gradient below */
        if (D == 2)
            for (size_t i = 0; i < (size_t)N * in_w; i++) a->dx[i] += a->dx2[i];
        if (a->res[l] && in_w == DH)
            for (size_t i = 0; i < (size_t)N * DH; i++) a->dx[i] += a->dy[i];
        if (dropped) rnn_dropout_backward(a->dx, a->mask[l], (size_t)N * DH);
        float *t = a->dy;
        a->dy = a->dx;
        a->dx = t;
    }
    if (c->freeze_embedding) return;
    if (fold) {
        fold_embedding_backward(m, a, a->dx); /* dx: (N, >= E), free at layer 0 */
        return;
    }
    if (edrop) rnn_dropout_backward(a->dy, a->emask, (size_t)N * E);
    rnn_embedding_backward(m->d_emb, a->dy, ids, N, E, c->padding_id);
}
