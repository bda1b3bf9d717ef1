/* checkpoint.c: see checkpoint.h. */
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int rnn_checkpoint_save(const char *path, const rnn_model *m, const rnn_tokenizer *tok,
                        char *const *labels, int n_labels, int label_base, const char *const *extra_keys,
                        const char *const *extra_values, int n_extra,
                        const rnn_st_out *extra_tensors, int n_extra_tensors) {
    /* A tied output layer is written too, a copy of the embedding, so that
     * PyTorch's load_state_dict finds every tensor its twin has; not in a
     * run's resume state (extra tensors), which is no state_dict for PyTorch
     * and which rnn.c reads without it. */
    const int tied = m->c.tie_weights && n_extra_tensors == 0, n_out = m->n_params + tied + n_extra_tensors;
    rnn_st_out *outs = malloc(sizeof *outs * (size_t)n_out);
    if (!outs) return rnn_errorf("out of memory");
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *p = &m->params[i];
        outs[i] = (rnn_st_out){p->name, RNN_DT_F32, p->ndim, {p->shape[0], p->shape[1]},
                               m->w + p->offset};
    }
    if (tied)
        outs[m->n_params] = (rnn_st_out){"head.weight", RNN_DT_F32, 2, {m->c.vocab_size, m->c.embed_dim}, m->emb};
    for (int i = 0; i < n_extra_tensors; i++) outs[m->n_params + tied + i] = extra_tensors[i];
    char *config = rnn_config_to_json(&m->c), *tokjson = NULL, *labjson = NULL;
    int rc = -1;
    if (!config) goto out;
    cJSON *tj = tok ? rnn_tokenizer_to_json(tok) : NULL;
    if (tok && !tj) goto out;
    if (tj) {
        tokjson = cJSON_PrintUnformatted(tj);
        cJSON_Delete(tj);
        if (!tokjson) goto out;
    }
    if (labels) {
        cJSON *lj = cJSON_CreateArray();
        for (int i = 0; lj && i < n_labels; i++) cJSON_AddItemToArray(lj, cJSON_CreateString(labels[i]));
        labjson = lj ? cJSON_PrintUnformatted(lj) : NULL;
        cJSON_Delete(lj);
        if (!labjson) goto out;
    }
    const char *keys[32], *vals[32];
    int n = 0;
    keys[n] = "format", vals[n++] = "rnn.c";
    keys[n] = "format_version", vals[n++] = "1";
    keys[n] = "config", vals[n++] = config;
    if (tokjson) keys[n] = "tokenizer", vals[n++] = tokjson;
    if (labjson) keys[n] = "labels", vals[n++] = labjson;
    if (labjson && (label_base == 0 || label_base == 1)) keys[n] = "label_base", vals[n++] = label_base ? "1" : "0";
    for (int i = 0; i < n_extra && n < 32; i++) keys[n] = extra_keys[i], vals[n++] = extra_values[i];
    rc = rnn_st_save(path, outs, n_out, keys, vals, n);
out:
    free(outs);
    if (rc && !*rnn_last_error()) rnn_errorf("%s: out of memory writing the checkpoint", path);
    free(config);
    free(tokjson);
    free(labjson);
    return rc;
}

void rnn_layout_json(char *buf, size_t cap, const char *format, const char *header, int label_col, const char *text_cols) {
    snprintf(buf, cap, "{\"format\": \"%s\", \"header\": \"%s\", \"label_col\": %d, \"text_cols\": \"%s\"}", format,
             header, label_col, text_cols);
}

/* data_layout's {"format", "header", "label_col", "text_cols"} into ck; -1
 * where it is not such an object of valid values. */
static int read_layout(rnn_checkpoint *ck, const char *s) {
    cJSON *j = cJSON_Parse(s);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format"), *h = cJSON_GetObjectItemCaseSensitive(j, "header"),
                *l = cJSON_GetObjectItemCaseSensitive(j, "label_col"), *t = cJSON_GetObjectItemCaseSensitive(j, "text_cols");
    int ok = !rnn_json_repeated_key(j) && cJSON_IsString(f) && cJSON_IsString(h) && cJSON_IsNumber(l) && cJSON_IsString(t) &&
             strspn(f->valuestring, "abcdefghijklmnopqrstuvwxyz") == strlen(f->valuestring) &&
             strlen(f->valuestring) < sizeof ck->layout_format && strlen(h->valuestring) < sizeof ck->layout_header &&
             strspn(h->valuestring, "abcdefghijklmnopqrstuvwxyz") == strlen(h->valuestring) &&
             strlen(t->valuestring) < sizeof ck->layout_text_cols &&
             strspn(t->valuestring, "0123456789,-") == strlen(t->valuestring) && l->valuedouble >= 1 &&
             l->valuedouble <= 1e6 && l->valuedouble == floor(l->valuedouble);
    if (ok) {
        ck->has_layout = 1;
        ck->layout_label_col = (int)l->valuedouble;
        strcpy(ck->layout_format, f->valuestring);
        strcpy(ck->layout_header, h->valuestring);
        strcpy(ck->layout_text_cols, t->valuestring);
    }
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

static int fail(const char *path, const char *what) {
    if (!*rnn_last_error()) return rnn_errorf("%s: %s", path, what);
    return rnn_error_prefix("%s: %s", path, what);
}

void rnn_checkpoint_free(rnn_checkpoint *ck) {
    rnn_model_free(ck->model);
    rnn_tokenizer_free(ck->tok);
    for (int i = 0; i < ck->n_labels; i++) free(ck->labels[i]);
    free(ck->labels);
    memset(ck, 0, sizeof *ck);
    ck->label_base = -1;
}

/* "[3, 4]" */
static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* A tensor whose name is some prefix + "." + name ("module.embedding.weight"
 * from torch.nn.DataParallel), or NULL. */
static const rnn_st_tensor *prefixed(const rnn_st *st, const char *name) {
    const size_t n = strlen(name);
    for (int i = 0; i < rnn_st_count(st); i++) {
        const char *s = rnn_st_at(st, i)->name;
        const size_t k = strlen(s);
        if (k > n + 1 && s[k - n - 1] == '.' && !strcmp(s + k - n, name)) return rnn_st_at(st, i);
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int rnn_checkpoint_load(rnn_checkpoint *ck, const char *path) {
    memset(ck, 0, sizeof *ck);
    ck->label_base = -1;
    /* The header now, each tensor later straight into the model's buffer:
     * the weights are never in memory twice (file bytes and model). */
    rnn_st *st = rnn_st_open(path);
    if (!st) return -1;
    int rc = -1;
    const char *fmt = rnn_st_meta(st, "format"), *config = rnn_st_meta(st, "config");
    const char *tok = rnn_st_meta(st, "tokenizer"), *labels = rnn_st_meta(st, "labels");
    if (!fmt || strcmp(fmt, "rnn.c")) {
        rnn_errorf("%s: not an rnn.c checkpoint (metadata \"format\" is %s%s%s; "
                   "tools/rnnc_torch.py adds the metadata to a PyTorch state_dict)",
                   path, fmt ? "\"" : "missing", fmt ? fmt : "", fmt ? "\"" : "");
        goto out;
    }
    const char *ver = rnn_st_meta(st, "format_version");
    if (!ver || strcmp(ver, "1")) {
        rnn_errorf("%s: unsupported format_version %s (this build reads 1)", path, ver ? ver : "(missing)");
        goto out;
    }
    /* The JSON inside metadata values: a \u0000 there would cut a token, a
     * label or a name short, silently ("co\u0000me" read as "co"). */
    const char *const inner[] = {"config", "tokenizer", "labels"};
    for (int i = 0; i < 3; i++) {
        const char *v = rnn_st_meta(st, inner[i]);
        const long at = v ? rnn_json_nul_at(v, strlen(v)) : 0;
        if (at) {
            rnn_errorf("%s: metadata \"%s\" holds a NUL character (\\u0000, at byte offset %ld): a damaged file", path,
                       inner[i], at - 1);
            goto out;
        }
        const long ctl = v ? rnn_json_raw_control_at(v, strlen(v)) : 0;
        if (ctl) {
            rnn_errorf("%s: metadata \"%s\" is not valid JSON: a raw control character (0x%02x, at byte offset %ld) "
                       "inside a string, where JSON writes it escaped (a damaged file)", path, inner[i],
                       (unsigned char)v[ctl - 1], ctl - 1);
            goto out;
        }
    }
    rnn_config c;
    if (!config) {
        rnn_errorf("%s: metadata has no \"config\"", path);
        goto out;
    }
    if (rnn_config_from_json(&c, config)) {
        fail(path, "bad config");
        goto out;
    }
    /* Every tensor the config asks for, with its shape, before anything of
     * the model's size is allocated: a damaged header could otherwise ask for
     * terabytes. */
    rnn_model *plan = rnn_model_plan(&c);
    if (!plan) {
        fail(path, "bad config");
        goto out;
    }
    for (int i = 0; i < plan->n_params; i++) {
        const rnn_param *p = &plan->params[i];
        const rnn_st_tensor *t = rnn_st_find(st, p->name);
        int same = t && t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            char has[96], needs[64];
            const rnn_st_tensor *alt = t ? NULL : prefixed(st, p->name);
            if (t) {
                shape_str(has, sizeof has, t->ndim, t->shape);
                shape_str(needs, sizeof needs, p->ndim, p->shape);
                if (t->ndim == 2 && p->ndim == 2 && t->shape[0] == p->shape[1] && t->shape[1] == p->shape[0])
                    rnn_errorf("%s: tensor '%s' is stored transposed, %s where the config needs %s (PyTorch's "
                               "layout: rows are outputs)", path, p->name, has, needs);
                else if (c.task == RNN_TASK_CLASSIFY && !strncmp(p->name, "head.", 5))
                    /* a classifier's head reads the pooled width: the config's pool (default meanmax) and loss */
                    rnn_errorf("%s: tensor '%s' has shape %s where the config (pool %s, loss %s, %d classes, hidden %d%s) "
                               "needs %s: a config whose \"pool\" or \"loss\" is not the model's (a last-state "
                               "model needs \"pool\": \"last\"), or a damaged file",
                               path, p->name, has, rnn_pool_name(c.pool), c.loss == RNN_LOSS_BCE ? "bce" : "ce",
                               c.num_classes, c.hidden_dim, c.bidirectional ? ", bidirectional" : "", needs);
                else
                    rnn_errorf("%s: tensor '%s' has shape %s where the config (vocab %d, embed %d, hidden %d) "
                               "needs %s: a damaged file, or a config that does not describe its tensors",
                               path, p->name, has, c.vocab_size, c.embed_dim, c.hidden_dim, needs);
            } else if (alt)
                rnn_errorf("%s: tensor '%s' missing, but '%s' is there: the names carry a prefix (torch.nn."
                           "DataParallel adds 'module.'); save model.module.state_dict(), or convert with "
                           "tools/rnnc_torch.py export, which strips it", path, p->name, alt->name);
            else
                rnn_errorf("%s: tensor '%s' missing (the config: %s %s, %d layer(s) of %d)", path, p->name,
                           rnn_task_name(c.task), rnn_cell_name(c.cell), c.num_layers, c.hidden_dim);
            rnn_model_free(plan);
            goto out;
        }
    }
    rnn_model_free(plan);
    if (!(ck->model = rnn_model_create(&c))) {
        fail(path, "cannot build the model");
        goto out;
    }
    rnn_model *m = ck->model;
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *p = &m->params[i];
        if (rnn_st_read_f32(st, p->name, m->w + p->offset, p->numel, p->ndim, p->shape)) goto out;
        const float *w = m->w + p->offset;
        const size_t j = rnn_nonfinite_at(w, p->numel);
        if (j < p->numel) {
            const rnn_st_tensor *t = rnn_st_find(st, p->name);
            double v = 0;
            if (t->dtype == RNN_DT_F64 && rnn_st_read_bytes(st, t, 8 * j, &v, 8)) goto out;
            if (t->dtype == RNN_DT_F64 && isfinite(v))
                rnn_errorf("%s: tensor '%s' holds %g at index %zu, beyond float32's range (%g): rnn.c computes "
                           "in float32", path, p->name, v, j, (double)FLT_MAX);
            else
                rnn_errorf("%s: tensor '%s' holds %g at index %zu: a diverged model or a damaged file", path,
                           p->name, w[j], j);
            goto out;
        }
    }
    for (int i = 0; i < rnn_st_count(st); i++) {
        const char *name = rnn_st_at(st, i)->name;
        if (strncmp(name, "train.", 6) && !rnn_model_find(m, name) && !(c.tie_weights && !strcmp(name, "head.weight"))) {
            rnn_errorf("%s: unexpected tensor '%s' for this config (a checkpoint holds the model's state_dict "
                       "alone; optimizer state and other extras go in tensors named train.*, which are "
                       "skipped)", path, name);
            goto out;
        }
    }
    if (c.tie_weights && rnn_st_find(st, "head.weight")) { /* optional; if there, the embedding */
        const size_t n = (size_t)c.vocab_size * c.embed_dim, piece = 16384;
        const int64_t shape[2] = {c.vocab_size, c.embed_dim};
        const rnn_st_tensor *t = rnn_st_find_checked(st, "head.weight", n, 2, shape);
        if (!t) goto out;
        float *head = malloc(sizeof(float) * piece); /* a piece at a time: no second embedding in memory */
        if (!head) {
            rnn_errorf("out of memory");
            goto out;
        }
        int same = 1;
        for (size_t i = 0; same && i < n; i += piece) {
            const size_t k = n - i < piece ? n - i : piece;
            if (rnn_st_read_f32_at(st, t, i, k, head)) {
                free(head);
                goto out;
            }
            same = !memcmp(head, m->emb + i, sizeof(float) * k);
        }
        free(head);
        if (!same) {
            rnn_errorf("%s: head.weight is not a copy of embedding.weight, but the config ties them "
                       "(tie_weights)", path);
            goto out;
        }
    }
    if (tok) {
        cJSON *tj = cJSON_ParseWithOpts(tok, NULL, 1);
        if (!tj) {
            rnn_errorf("%s: metadata \"tokenizer\" is not valid JSON", path);
            goto out;
        }
        ck->tok = rnn_tokenizer_from_json(tj);
        cJSON_Delete(tj);
        if (!ck->tok) {
            fail(path, "bad tokenizer");
            goto out;
        }
        if (rnn_tokenizer_vocab_size(ck->tok) != c.vocab_size) {
            rnn_errorf("%s: tokenizer has %d tokens but config vocab_size is %d", path,
                       rnn_tokenizer_vocab_size(ck->tok), c.vocab_size);
            goto out;
        }
    }
    if (c.task == RNN_TASK_CLASSIFY) {
        cJSON *lj = labels ? cJSON_ParseWithOpts(labels, NULL, 1) : NULL;
        if (!cJSON_IsArray(lj) || cJSON_GetArraySize(lj) != c.num_classes) {
            cJSON_Delete(lj);
            rnn_errorf("%s: metadata \"labels\" must be a JSON array of %d class names", path,
                       c.num_classes);
            goto out;
        }
        ck->labels = calloc((size_t)c.num_classes, sizeof(char *));
        if (!ck->labels) {
            cJSON_Delete(lj);
            rnn_errorf("out of memory");
            goto out;
        }
        ck->n_labels = c.num_classes;
        for (int i = 0; i < c.num_classes; i++) {
            const cJSON *s = cJSON_GetArrayItem(lj, i);
            ck->labels[i] = rnn_strdup(cJSON_IsString(s) ? s->valuestring : "?");
            if (!cJSON_IsString(s) || !ck->labels[i]) {
                cJSON_Delete(lj);
                rnn_errorf("%s: label %d is not a string", path, i);
                goto out;
            }
            /* printed as they are by rnn classify: one line each, and no
             * terminal escapes from a damaged or crafted file */
            const char *l = ck->labels[i], *why = NULL;
            if (!*l) why = "is empty";
            else if (rnn_utf8_bad_at(l, strlen(l)) >= 0) why = "is not valid UTF-8";
            for (const char *q = l; !why && *q; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f) why = "holds a control character";
            if (why) {
                cJSON_Delete(lj);
                rnn_errorf("%s: label %d %s: a damaged file", path, i, why);
                goto out;
            }
        }
        cJSON_Delete(lj);
        const char **sorted = malloc(sizeof(char *) * (size_t)c.num_classes);
        if (!sorted) {
            rnn_errorf("out of memory");
            goto out;
        }
        memcpy(sorted, ck->labels, sizeof(char *) * (size_t)c.num_classes);
        qsort(sorted, (size_t)c.num_classes, sizeof *sorted, cmp_str);
        int dup = -1;
        for (int i = 1; i < c.num_classes && dup < 0; i++)
            if (!strcmp(sorted[i - 1], sorted[i])) dup = i;
        if (dup >= 0) rnn_errorf("%s: the class name \"%s\" is given twice: a damaged file", path, sorted[dup]);
        free(sorted);
        if (dup >= 0) goto out;
        const char *base = rnn_st_meta(st, "label_base");
        if (base && strcmp(base, "0") && strcmp(base, "1")) {
            rnn_errorf("%s: metadata \"label_base\" must be \"0\" or \"1\" (got \"%.20s\"): a damaged file", path, base);
            goto out;
        }
        if (base) ck->label_base = base[0] - '0';
        const char *lay = rnn_st_meta(st, "data_layout");
        if (lay && read_layout(ck, lay)) {
            rnn_errorf("%s: metadata \"data_layout\" is not the columns rnn train writes (%.80s): a damaged file", path,
                       lay);
            goto out;
        }
    }
    rc = 0;
out:
    rnn_st_free(st);
    if (rc) rnn_checkpoint_free(ck); /* records no message of its own */
    return rc;
}

int rnn_checkpoint_copy_params(rnn_model *m, const rnn_model *src, int parts) {
    int copied = 0;
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *p = &m->params[i];
        if (p->group == RNN_GROUP_HEAD &&
            !(parts & (strncmp(p->name, "attention.", 10) ? RNN_COPY_HEAD : RNN_COPY_POOLING)))
            continue;
        const rnn_param *q = rnn_model_find(src, p->name);
        if (!q && src->c.tie_weights && !strcmp(p->name, "head.weight")) q = rnn_model_find(src, "embedding.weight");
        if (!q) continue;
        if (q->numel != p->numel || q->shape[0] != p->shape[0] || q->shape[1] != p->shape[1]) {
            if (p->group == RNN_GROUP_HEAD) continue;
            return rnn_errorf("cannot initialise '%s' [%lld, %lld] from a tensor of shape [%lld, %lld]",
                              p->name, (long long)p->shape[0], (long long)p->shape[1],
                              (long long)q->shape[0], (long long)q->shape[1]);
        }
        memcpy(m->w + p->offset, src->w + q->offset, p->numel * sizeof(float));
        copied++;
    }
    return copied;
}

static int put(rnn_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(rnn_sbuf *b, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof line ? rnn_errorf("rnn_checkpoint_describe: a line too long")
                                             : rnn_sbuf_put(b, line, (size_t)n);
}

static const char *yes(int v) { return v ? "true" : "false"; }

char *rnn_checkpoint_describe(const rnn_checkpoint *ck, const char *path) {
    const rnn_config *c = &ck->model->c;
    const rnn_tok_options *to = ck->tok ? rnn_tokenizer_options(ck->tok) : NULL;
    const char *tok = ck->tok ? rnn_tok_type_name(rnn_tokenizer_type(ck->tok)) : "none";
    const int vocab = ck->tok ? rnn_tokenizer_vocab_size(ck->tok) : c->vocab_size;
    char *cfg = rnn_config_to_json(c);
    rnn_sbuf b = {0};
    int bad = !cfg || rnn_sbuf_put(&b, "{\"path\": \"", 10) || rnn_sbuf_json_string(&b, path) ||
              put(&b, "\", \"task\": \"%s\", \"parameters\": %zu, \"tokenizer\": {\"type\": \"%s\", \"vocab_size\": %d",
                  rnn_task_name(c->task), rnn_model_num_weights(ck->model), tok, vocab) ||
              (to && put(&b, ", \"lowercase\": %s, \"split_punct\": %s, \"strip_html\": %s, \"keep_newlines\": %s",
                         yes(to->lowercase), yes(to->split_punct), yes(to->strip_html), yes(to->keep_newlines))) ||
              rnn_sbuf_put(&b, "}, \"labels\": [", 14);
    for (int i = 0; i < ck->n_labels && !bad; i++)
        bad = rnn_sbuf_put(&b, i ? ", \"" : "\"", i ? 3 : 1) || rnn_sbuf_json_string(&b, ck->labels[i]) || rnn_sbuf_put(&b, "\"", 1);
    char layout[160];
    if (ck->has_layout)
        rnn_layout_json(layout, sizeof layout, ck->layout_format, ck->layout_header, ck->layout_label_col,
                        ck->layout_text_cols);
    bad = bad || rnn_sbuf_put(&b, "]", 1) || (ck->has_layout && put(&b, ", \"data_layout\": %s", layout)) ||
          rnn_sbuf_put(&b, ", \"config\": ", 12) || rnn_sbuf_put(&b, cfg, strlen(cfg)) || rnn_sbuf_put(&b, "}", 1);
    free(cfg);
    if (bad) {
        free(b.p);
        if (!cfg) rnn_errorf("out of memory");
        return NULL;
    }
    return b.p;
}
