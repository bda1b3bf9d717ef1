/* train.c: the training loop (see train.h).
 *
 * One step: fill the batch, forward with dropout, loss, backward, clip,
 * optimizer update per parameter group. Around it: validation every
 * --eval-every steps (or once per epoch), best/last checkpoints, an exact
 * resume state, metrics.csv, a progress bar or log lines, and stopping on
 * --epochs / --steps / --time / early stopping / Ctrl-C.
 */
#include "train.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "checkpoint.h"
#include "classify.h"
#include "textdata.h"
#include "corpus.h"
#include "gemm.h"
#include "plot.h"
#include "safetensors.h"
#include "tokenizer.h"

/* ------------------------------------------------------------------------ */
double rnn_train_step(rnn_model *m, rnn_acts *a, const rnn_pack *p, int state_in, rnn_optim *opt,
                      const rnn_step_cfg *sc, float lr, rnn_rng *rng, float *grad_norm,
                      int *n_correct) {
    rnn_model_forward(m, a, p, a->ids, state_in, 1, rng);
    double loss;
    if (m->c.task == RNN_TASK_CLASSIFY && m->c.loss == RNN_LOSS_BCE)
        loss = rnn_bce_logits_cfg(a->logits, a->ftargets, p->B, &sc->loss, n_correct);
    else
        loss = rnn_softmax_xent_cfg(a->logits, a->targets, a->n_logit_rows, m->n_out, &sc->loss, NULL, n_correct);
    rnn_model_zero_grad(m);
    /* the embedding and the encoder frozen: no backward through them */
    rnn_model_backward_ex(m, a, p, a->ids, !(sc->lr_mult[RNN_GROUP_EMBED] > 0) && !(sc->lr_mult[RNN_GROUP_ENCODER] > 0));
    /* A frozen group (lr multiplier 0: --freeze-epochs, --freeze-embedding)
     * has no gradient, as a tensor without requires_grad in PyTorch: none in
     * the clipping norm, which would clip the others harder. */
    for (int i = 0; i < m->n_params; i++)
        if (!(sc->lr_mult[m->params[i].group] > 0)) memset(m->g + m->params[i].offset, 0, sizeof(float) * m->params[i].numel);
    float norm = 0;
    if (sc->clip > 0) {
        norm = rnn_clip_grad_norm(m->g, m->n_floats, sc->clip);
    } else {
        double s = 0;
        for (size_t i = 0; i < m->n_floats; i++) s += (double)m->g[i] * m->g[i];
        norm = (float)sqrt(s);
    }
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm)) return NAN;
    if (sc->clip_value > 0) rnn_clip_grad_value(m->g, m->n_floats, sc->clip_value);
    rnn_optim_begin_step(opt);
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *q = &m->params[i];
        float mult = sc->lr_mult[q->group];
        if (mult > 0) rnn_optim_update_group(opt, m->w, m->g, q->offset, q->numel, lr * mult, q->group);
    }
    return loss;
}

long rnn_lm_batches(size_t n, int B, int T) {
    size_t len = n / (size_t)B;
    return len < 2 ? 0 : (long)((len - 1) / (size_t)T);
}

int rnn_lm_width(int V) { return V <= 256 ? 1 : V <= 65536 ? 2 : 4; }

rnn_lm_stream rnn_lm_view(const int32_t *ids, size_t n) {
    return (rnn_lm_stream){(void *)ids, n, 4}; /* (only ever read through this view) */
}

void rnn_lm_read(const rnn_lm_stream *s, size_t from, size_t count, int32_t *out, size_t stride) {
    /* one loop per width, so that each stays a plain strided copy */
    switch (s->width) {
    case 1: {
        const uint8_t *p = (const uint8_t *)s->ids + from;
        for (size_t k = 0; k < count; k++) out[k * stride] = p[k];
        break;
    }
    case 2: {
        const uint16_t *p = (const uint16_t *)s->ids + from;
        for (size_t k = 0; k < count; k++) out[k * stride] = p[k];
        break;
    }
    default: {
        const int32_t *p = (const int32_t *)s->ids + from;
        for (size_t k = 0; k < count; k++) out[k * stride] = p[k];
        break;
    }
    }
}

/* Appends n ids (each below 2^(8 * s->width)) to s, whose buffer holds *cap
 * ids, growing it as needed. */
static int append_narrow(rnn_lm_stream *s, size_t *cap, const int32_t *ids, size_t n) {
    if (s->n + n > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < s->n + n) c += c / 2;
        void *p = rnn_realloc(s->ids, c * (size_t)s->width);
        if (!p) return -1;
        s->ids = p;
        *cap = c;
    }
    switch (s->width) {
    case 1: {
        uint8_t *p = (uint8_t *)s->ids + s->n;
        for (size_t k = 0; k < n; k++) p[k] = (uint8_t)ids[k];
        break;
    }
    case 2: {
        uint16_t *p = (uint16_t *)s->ids + s->n;
        for (size_t k = 0; k < n; k++) p[k] = (uint16_t)ids[k];
        break;
    }
    default: memcpy((int32_t *)s->ids + s->n, ids, n * sizeof *ids); break;
    }
    s->n += n;
    return 0;
}

int rnn_lm_encode(const rnn_tokenizer *t, const char *text, size_t len, size_t piece, int min_width,
                  rnn_lm_stream *s, size_t *n_unk) {
    const int V = rnn_tokenizer_vocab_size(t), w = rnn_lm_width(V);
    rnn_lm_stream out = {NULL, 0, min_width > w ? (min_width > 2 ? 4 : 2) : w};
    /* a char or byte text has at most a token a byte; words take several */
    const rnn_tok_type type = rnn_tokenizer_type(t);
    size_t cap = type == RNN_TOK_CHAR || type == RNN_TOK_BYTE ? len + 1 : len / 4 + 16, unk = 0;
    /* plain malloc, not rnn_alloc's aligned blocks: glibc then grows and shrinks a large
     * block in place (mremap), where an aligned one is copied with both sizes held */
    if (!(out.ids = rnn_realloc(NULL, cap * (size_t)out.width))) return -1;
    for (size_t at = 0; at < len;) {
        const size_t step = piece ? piece : 1;
        const size_t end = len - at > step ? rnn_tokenizer_cut(t, text, len, at + step) : len;
        int32_t *ids;
        size_t n, u;
        if (rnn_tokenizer_encode(t, text + at, end - at, &ids, &n, &u)) {
            /* A bad byte's message names its byte and line in the piece; the
             * pieces before it read as the whole text does, so it is the whole
             * text's first bad byte too, named again as the file has it. Not by
             * encoding the whole text again: that held all its ids as int32,
             * the memory pieces save, and so ran out of it where pieces fit.
             * A piece with no bad byte ran out of memory: that message stands. */
            free(out.ids);
            const size_t bad = rnn_tokenizer_refused_at(t, text + at, end - at);
            return bad < end - at ? rnn_utf8_error(text, len, at + bad) : -1;
        }
        for (size_t k = 0; k < n; k++)
            if (ids[k] < 0 || ids[k] >= V) { /* never: the tokenizer's ids are its vocabulary's */
                free(ids);
                free(out.ids);
                return rnn_errorf("internal: token id %d outside the vocabulary of %d", (int)ids[k], V);
            }
        const int rc = append_narrow(&out, &cap, ids, n);
        free(ids);
        if (rc) {
            free(out.ids);
            return -1;
        }
        unk += u;
        at = end;
    }
    if (cap > out.n + 16) { /* give back the over-allocation */
        void *p = realloc(out.ids, (out.n ? out.n : 1) * (size_t)out.width);
        if (p) out.ids = p;
    }
    *s = out;
    if (n_unk) *n_unk = unk;
    return 0;
}

void rnn_lm_reverse(rnn_lm_stream *s) {
    /* ids i and n-1-i trade places, width bytes each, whatever the width */
    unsigned char *p = s->ids, t[4];
    const size_t w = (size_t)s->width;
    for (size_t i = 0, j = s->n; i + 1 < j; i++, j--) {
        memcpy(t, p + i * w, w);
        memcpy(p + i * w, p + (j - 1) * w, w);
        memcpy(p + (j - 1) * w, t, w);
    }
}

void rnn_lm_stream_free(rnn_lm_stream *s) {
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

/* count ids of the first `used` of data from position i (< 2 * used),
 * wrapping round to 0 at used, into out[0], out[stride], ... */
static void read_wrapped(const rnn_lm_stream *data, size_t used, size_t i, size_t count, int32_t *out,
                         size_t stride) {
    if (i >= used) i -= used;
    const size_t first = used - i < count ? used - i : count;
    rnn_lm_read(data, i, first, out, stride);
    if (first < count) rnn_lm_read(data, 0, count - first, out + first * stride, stride);
}

void rnn_lm_fill(const rnn_lm_stream *data, int B, int T, long k, size_t offset, int32_t *ids,
                 int32_t *targets) {
    const size_t len = data->n / (size_t)B, used = len * (size_t)B, pos = (size_t)k * T + offset % len;
    for (int b = 0; b < B; b++) { /* stream b's T steps, strided into the time-major batch */
        const size_t i = (size_t)b * len + pos;
        read_wrapped(data, used, i, (size_t)T, ids + b, (size_t)B);
        read_wrapped(data, used, i + 1, (size_t)T, targets + b, (size_t)B);
    }
}

size_t rnn_lm_offset(size_t n, int B, uint64_t seed, long epoch) {
    const size_t len = n / (size_t)B;
    if (epoch <= 0 || len < 2) return 0;
    rnn_rng rng;
    rnn_rng_seed(&rng, seed * 0x9e3779b97f4a7c15ULL + (uint64_t)epoch * 1000003u + 0x5eed);
    return (size_t)(rnn_rng_next(&rng) % len);
}

/* Packs B sequences of equal length T (the language-model case). */
static void pack_full(rnn_acts *a, rnn_pack *p, int T, int B) {
    for (int b = 0; b < B; b++) a->lengths[b] = T;
    rnn_pack_init(p, T, B, a->lengths, a->batch_sizes, a->offsets);
}

/* The evaluation of one batch of T x B rows (time-major) with the neural
 * cache: each stream's rows in order, the streams in parallel. */
static void cache_rows(rnn_lm_cache *cache, const rnn_acts *a, int T, int B, int F, int V,
                       float *probs, double *loss, long *ok) {
#pragma omp parallel for if ((size_t)T * B * (V + F) > 100000)
    for (int b = 0; b < B; b++) {
        float *q = probs + (size_t)b * V;
        for (int t = 0; t < T; t++) {
            const size_t row = (size_t)t * B + b;
            const float *h = a->top + row * F;
            const int32_t y = a->targets[row];
            rnn_lm_cache_probs(cache, b, h, a->logits + row * V, q);
            if (y < 0) continue;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (q[v] > q[best]) best = v;
            /* a probability float holds well, else (below float's range, where the
             * softmax's exps bottom out at e^-87 or 0) recomputed in double */
            loss[b] -= q[y] >= 1e-30f ? log((double)q[y])
                                      : rnn_lm_cache_logprob(cache, b, h, a->logits + row * V, y);
            ok[b] += best == y;
            rnn_lm_cache_push(cache, b, h, y);
        }
    }
}

/* The model's cache for evaluating n tokens as B streams: a stream predicts
 * n / B - 1 tokens, so a larger window would never fill. */
static rnn_lm_cache *lm_cache_for(const rnn_model *m, size_t n, int B) {
    const size_t len = n / (size_t)B;
    const int size = len < 2 ? 1 : (size_t)m->c.cache_size < len - 1 ? m->c.cache_size : (int)(len - 1);
    return rnn_lm_cache_create(B, size, m->F, m->n_out, m->c.cache_theta, m->c.cache_lambda);
}

/* Dynamic evaluation's update after a segment's forward pass, whose logits
 * still hold the scores: the segment's mean loss is back-propagated (to the
 * segment's start: truncated BPTT) and every weight takes a clipped SGD step
 * (with d->rms, divided by the root of the gradient's running mean square
 * ms, bias-corrected for the step count t) and a pull toward its value before
 * evaluation began (w0). A gradient that is not finite changes nothing. */
static void dynamic_update(rnn_model *m, rnn_acts *a, const rnn_pack *p, const float *w0,
                           float *ms, long *t, const rnn_dynamic_cfg *d) {
    rnn_softmax_xent(a->logits, a->targets, p->N, m->n_out, NULL, NULL);
    rnn_model_zero_grad(m);
    rnn_model_backward(m, a, p, a->ids);
    float norm = rnn_clip_grad_norm(m->g, m->n_floats, d->clip > 0 ? d->clip : INFINITY);
    if (!isfinite(norm)) return; /* as in training: a step that is not finite is skipped */
    const float lr = d->lr, decay = d->decay, beta = d->rms;
    float *restrict w = m->w, *restrict q = ms;
    const float *restrict g = m->g;
    const size_t n = m->n_floats;
    if (beta > 0) {
        const float inv_bc = (float)(1.0 / (1.0 - pow(beta, (double)++*t)));
#pragma omp parallel for simd if (n > 100000)
        for (size_t i = 0; i < n; i++) {
            q[i] = beta * q[i] + (1 - beta) * g[i] * g[i];
            w[i] += decay * (w0[i] - w[i]) - lr * g[i] / (sqrtf(q[i] * inv_bc) + 1e-8f);
        }
    } else {
#pragma omp parallel for simd if (n > 100000)
        for (size_t i = 0; i < n; i++) w[i] += decay * (w0[i] - w[i]) - lr * g[i];
    }
}

/* The loop of rnn_lm_evaluate. With dm (the same model as m, writable; B = 1)
 * and d it is dynamic evaluation, which writes dm's weights; without, m is
 * only read. */
static int lm_evaluate(const rnn_model *m, rnn_model *dm, const rnn_lm_stream *data, int B, int T,
                       const rnn_dynamic_cfg *d, rnn_lm_progress progress, void *user, rnn_lm_eval *out) {
    const size_t n = data->n;
    if (B < 1 || T < 1) return rnn_errorf("evaluation needs at least 1 stream and 1 step per chunk (%d, %d given)", B, T);
    size_t len = n / (size_t)B;
    if (len < 2) return rnn_errorf("too little data to evaluate (%zu tokens for %d streams)", n, B);
    if ((size_t)T > len - 1) T = (int)(len - 1); /* activations for no more steps than there are */
    rnn_acts *a = dm ? rnn_acts_create(m, T, B) : rnn_acts_create_infer(m, T, B, T * B); /* dynamic: backward */
    if (!a) return -1;
    float *w0 = NULL, *ms = NULL; /* dynamic: the weights at the start, the mean squares */
    long steps = 0;
    if (dm) {
        w0 = rnn_alloc(sizeof(float) * m->n_floats);
        ms = d->rms > 0 ? rnn_calloc(sizeof(float) * m->n_floats) : NULL;
        if (!w0 || (d->rms > 0 && !ms) || rnn_model_alloc_grad(dm)) {
            rnn_free(w0);
            rnn_free(ms);
            rnn_acts_free(a);
            return -1;
        }
        memcpy(w0, m->w, sizeof(float) * m->n_floats);
    }
    rnn_lm_cache *cache = NULL;
    float *probs = NULL;
    double *stream_loss = NULL;
    long *stream_ok = NULL;
    if (m->c.cache_size > 0) {
        cache = lm_cache_for(m, n, B);
        probs = rnn_alloc(sizeof(float) * (size_t)B * m->n_out);
        stream_loss = rnn_calloc(sizeof(double) * (size_t)B);
        stream_ok = rnn_calloc(sizeof(long) * (size_t)B);
        if (!cache || !probs || !stream_loss || !stream_ok) {
            rnn_lm_cache_free(cache);
            rnn_free(probs);
            rnn_free(stream_loss);
            rnn_free(stream_ok);
            rnn_acts_free(a);
            rnn_free(w0);
            rnn_free(ms);
            return -1; /* the failed allocation said why */
        }
    }
    double total = 0;
    long count = 0, correct = 0;
    rnn_pack p;
    for (size_t pos = 0; pos + 1 < len; pos += (size_t)T) {
        int Tc = (int)((len - 1 - pos) < (size_t)T ? (len - 1 - pos) : (size_t)T);
        for (int b = 0; b < B; b++) {
            rnn_lm_read(data, b * len + pos, (size_t)Tc, a->ids + b, (size_t)B);
            rnn_lm_read(data, b * len + pos + 1, (size_t)Tc, a->targets + b, (size_t)B);
        }
        pack_full(a, &p, Tc, B);
        rnn_model_forward(m, a, &p, a->ids, pos > 0, 0, NULL);
        int nv, nc;
        total += rnn_softmax_xent_eval(a->logits, a->targets, p.N, m->n_out, &nv, &nc) * nv;
        count += nv;
        correct += nc;
        if (cache) cache_rows(cache, a, Tc, B, m->F, m->n_out, probs, stream_loss, stream_ok);
        if (dm && d->lr > 0) dynamic_update(dm, a, &p, w0, ms, &steps, d); /* lr 0: w stays w0 */
        rnn_model_carry_state(m, a, B);
        if (progress) progress((size_t)(pos + Tc) * B, (len - 1) * B, user);
    }
    out->count = count;
    out->loss = out->model_loss = total / count;
    out->accuracy = out->model_accuracy = (double)correct / count;
    if (cache) {
        double closs = 0;
        long ccorrect = 0;
        for (int b = 0; b < B; b++) { /* in stream order: the same sum for any thread count */
            closs += stream_loss[b];
            ccorrect += stream_ok[b];
        }
        out->loss = closs / count;
        out->accuracy = (double)ccorrect / count;
    }
    rnn_lm_cache_free(cache);
    rnn_free(probs);
    rnn_free(stream_loss);
    rnn_free(stream_ok);
    rnn_free(w0);
    rnn_free(ms);
    rnn_acts_free(a);
    return 0;
}

int rnn_lm_eval_steps(int B, int V) {
    long rows = (8L << 20) / 4 / (V > 0 ? V : 1);
    rows = rows < 256 ? 256 : rows > 4096 ? 4096 : rows;
    const long steps = rows / (B > 0 ? B : 1);
    return steps < 1 ? 1 : (int)steps;
}

int rnn_lm_evaluate(const rnn_model *m, const int32_t *data, size_t n, int B, int T, rnn_lm_eval *out) {
    const rnn_lm_stream s = rnn_lm_view(data, n);
    return lm_evaluate(m, NULL, &s, B, T, NULL, NULL, NULL, out);
}

int rnn_lm_evaluate_stream(const rnn_model *m, const rnn_lm_stream *data, int B, int T, rnn_lm_progress progress,
                           void *user, rnn_lm_eval *out) {
    return lm_evaluate(m, NULL, data, B, T, NULL, progress, user, out);
}

int rnn_lm_evaluate_dynamic(rnn_model *m, const rnn_lm_stream *data, const rnn_dynamic_cfg *d,
                            rnn_lm_progress progress, void *user, rnn_lm_eval *out) {
    if (d->seg < 1 || !(d->lr >= 0) || !(d->decay >= 0 && d->decay < 1) || !(d->clip >= 0) ||
        !(d->rms >= 0 && d->rms < 1))
        return rnn_errorf("dynamic evaluation: segment >= 1, lr >= 0, 0 <= decay < 1, clip >= 0 and "
                          "0 <= rms < 1 expected");
    return lm_evaluate(m, m, data, 1, d->seg, d, progress, user, out);
}

/* ------------------------------------------------------------------------ */
static volatile sig_atomic_t interrupted;
void rnn_train_interrupt(void) { interrupted = 1; }
int rnn_train_interrupt_pending(void) { return interrupted != 0; }

static int stream_width; /* rnn_train_stream_width */
void rnn_train_stream_width(int w) { stream_width = w; }

typedef struct {
    const rnn_opts *o;
    rnn_train_callback cb;
    void *user;
    char dir[RNN_OPT_STR + 16];
    FILE *log, *metrics;
    rnn_tokenizer *tok;
    rnn_model *m;
    rnn_acts *a;
    rnn_optim *opt;
    rnn_schedule sched;
    rnn_rng rng;
    float *ema;             /* --ema: the averaged weights (m->n_floats), or NULL */
    float *class_weight;    /* --class-weight: (n_labels) the weight of each class, or NULL */
    rnn_lm_stream train, val; /* lm: the token streams, at the vocabulary's width */
    rnn_cls_data ctrain, cval; /* classify: encoded examples */
    char **labels;          /* classify: class names */
    int n_labels;
    int label_base;         /* classify: 0 or 1 where --label-names numbered the classes, else -1 */
    int classify, B, T;
    long per_epoch;
    /* progress */
    long step, epoch, batch_in_epoch, tokens, total_steps;
    double elapsed_before, t0, best_val, best_loss, last_val;
    /* The best of the --eval-every validations alone, which --patience counts
     * from: the validation of a run that stops between them (off_grid) may
     * give the best model, but changes nothing of the training that a resume
     * goes on with (patience, plateau), so that it is the straight run's. */
    double grid_best_val, grid_best_loss;
    int off_grid;
    float saved_lr; /* a resume: the --lr its state was trained with */
    long last_eval_step; /* the step of the last validation (-1: none yet) */
    double loss_sum; /* training losses since the last validation (for metrics.csv) */
    long loss_n;
    /* since the last logged line (--log-every): its loss is their mean and
     * its tok/s their pace, so no line repeats the one before */
    double log_loss, log_t;
    double bar_t; /* the progress bar's last redraw */
    /* metrics.csv's tokens/s: the tokens trained since the row before, over
     * the time since it ended (the validations' time left out) */
    double row_t;
    long row_tokens;
    long log_n, log_tokens;
    int bad_evals, bar, quiet, plot_failed, plot_noted;
    double plot_time; /* when metrics.svg was last drawn */
    rnn_opts eff; /* the options in effect (o is this): --init-from's model fixes its shape */
    char *pending; /* what say() printed before train.log was opened, for it (malloc'd) */
    size_t n_pending;
    int dir_lock;     /* 1 + the run directory's descriptor, locked (flock) while the run holds it; 0: none */
    size_t made_from; /* r->dir[0..made_from) is the first directory this run made (0: none); a
                         failed setup removes it and those below it again */
    rnn_st *state;    /* a resume's state.safetensors, read once: checked first, restored last */
    int grown_from;   /* --grow-vocab: the vocabulary's size before it grew (0: it did not) */
    int same_classes; /* a classifier fine-tuned from one whose classes it keeps (same_classes) */
    int resumed;      /* this process resumed the run */
    char *config_was; /* a resume: config.txt as it was before this resume wrote it (NULL: unread) */
    size_t config_was_len;
    long saved_step;  /* the step of the last state this process saved, -1 before */
    rnn_tokenizer *tok_before; /* and the tokenizer it grew from (--init-backward's LM reads as that one) */
    char prints[2][64]; /* data_print of the training and validation data, made once they are read */
} run;

static double elapsed(const run *r) { return r->elapsed_before + (rnn_now() - r->t0); }

/* Prints to the log file and to stderr (clearing a progress bar first). */
/* " (bf16 products)" in --precision bf16 runs, for the banner, naming AMX
 * where they run on its tiles. */
static const char *prec_note(void) {
    if (rnn_gemm_precision() != RNN_BF16) return "";
    return rnn_gemm_bf16_amx() ? " (bf16 products on AMX)" : " (bf16 products)";
}

/* A line to train.log, and to stderr when term is set. */
static void log_line(run *r, int term, const char *line) {
    if (term) fprintf(stderr, "%s%s\n", r->bar ? "\r\033[K" : "", line);
    if (r->log) {
        fprintf(r->log, "%s\n", line);
        fflush(r->log);
    } else { /* the run's files are written once its setup succeeded */
        size_t n = strlen(line);
        char *p = realloc(r->pending, r->n_pending + n + 2);
        if (!p) return;
        memcpy(p + r->n_pending, line, n);
        p[r->n_pending + n] = '\n';
        r->n_pending += n + 1;
        p[r->n_pending] = 0;
        r->pending = p;
    }
}

/* x, or a NaN x without its sign: printf writes "-nan" for a NaN whose sign
 * bit is set (x86's default NaN, made by inf - inf or 0 * inf), and the log,
 * the terminal and metrics.csv say "nan" for every NaN alike. (NAN, not
 * fabs(x): GCC drops the fabs of what it knows to be >= 0, such as an exp.) */
static double nosign(double x) { return isnan(x) ? NAN : x; }

static void vsay(run *r, int term, const char *fmt, va_list ap) {
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    log_line(r, term, line);
}

/* A line for train.log and, unless --progress quiet, the terminal. */
static void say(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(run *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(r, !r->quiet, fmt, ap);
    va_end(ap);
}

/* mkdir -p; *first (if 0 so far) gets the length of the first prefix of
 * path that it created. */
static int make_dir(const char *path, size_t *first) {
    char tmp[RNN_OPT_STR + 16];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++)
        if (*p == '/' || !*p) {
            const char c = *p;
            *p = 0;
            if (!mkdir(tmp, 0777)) {
                if (!*first) *first = (size_t)(p - tmp);
            } else if (errno != EEXIST) {
                return rnn_errorf("%s: cannot create directory: %s", tmp, strerror(errno));
            }
            if (!(*p = c)) return 0;
        }
}

static void path_in(char *buf, size_t cap, const run *r, const char *name) {
    snprintf(buf, cap, "%s/%s", r->dir, name);
}

/* ---- data --------------------------------------------------------------- */

/* Splits text at about (1 - frac) of its length, moved forward to the next
 * newline where one comes within 4 KiB, else to the next UTF-8 character
 * boundary: a text with lines longer than that may have a word (or a tag
 * --strip-html drops) cut in two there, its halves in either part. */
static size_t split_point(const char *text, size_t len, float frac) {
    size_t cut = (size_t)((double)len * (1.0 - frac));
    size_t nl = cut;
    while (nl < len && nl - cut < 4096 && text[nl] != '\n') nl++;
    if (nl < len && text[nl] == '\n') return nl + 1;
    while (cut < len && ((unsigned char)text[cut] & 0xC0) == 0x80) cut++;
    return cut;
}

/* A language model's text into *s, a piece at a time: besides the text and
 * the stream at its width, only a piece's ids are held at int32 (4 MB for a
 * char text) where the whole text's were (4 bytes a character). */
static int encode(run *r, const char *what, const char *text, size_t len, rnn_lm_stream *s) {
    size_t unk = 0;
    if (rnn_lm_encode(r->tok, text, len, RNN_LM_PIECE, stream_width, s, &unk))
        return rnn_tok_text_error(rnn_tokenizer_options(r->tok), what, text, len);
    if (unk)
        say(r, "warning: %zu tokens of %s are not in the vocabulary and map to %s", unk, what,
            rnn_tokenizer_token(r->tok, rnn_tokenizer_unk_id(r->tok)));
    return 0;
}

/* The tokenizer type's options with the tokenizer flags applied. */
static int tok_options_of(const rnn_opts *o, const char *default_type, rnn_tok_options *to) {
    if (rnn_tok_parse_type(o->tokenizer[0] ? o->tokenizer : default_type, to)) return -1;
    if (o->lowercase >= 0) to->lowercase = o->lowercase;
    if (o->split_punct >= 0) to->split_punct = o->split_punct;
    if (o->strip_html >= 0) to->strip_html = o->strip_html;
    if (o->replace_invalid) to->invalid_utf8_replace = 1;
    return 0;
}

/* Builds the tokenizer from training text, applying the tokenizer flags. */
static int build_tokenizer(run *r, const char *what, const char *text, size_t len,
                           const char *default_type) {
    const rnn_opts *o = r->o;
    rnn_tok_options to;
    if (tok_options_of(o, default_type, &to)) return -1;
    /* Options that could only be ignored by this tokenizer are refused. */
    if (to.type == RNN_TOK_BYTE && (o->lowercase > 0 || o->split_punct > 0 || o->strip_html > 0 || o->replace_invalid))
        return rnn_errorf("--%s has no effect with --tokenizer byte, which reads the bytes as they are",
                          o->lowercase > 0 ? "lowercase" : o->split_punct > 0 ? "split-punct"
                          : o->strip_html > 0 ? "strip-html" : "replace-invalid");
    if (to.type != RNN_TOK_WORD && o->split_punct >= 0)
        return rnn_errorf("--split-punct is for --tokenizer word (%s)", to.type == RNN_TOK_WORDPIECE
                          ? "wordpiece always splits punctuation off, as BERT does" : "char reads characters");
    /* word vectors for a character model: a language model on --data reads
     * characters unless told, and GloVe's "a" and "," would fill theirs */
    if (o->vectors[0] && !o->tokenizer[0] && to.type != RNN_TOK_WORD)
        return rnn_errorf("--vectors %s: this model's tokenizer is %s (a language model's default); give --tokenizer "
                          "word for word vectors (or --tokenizer %s for vectors of its tokens)", o->vectors,
                          default_type, default_type);
    const int counts = to.type == RNN_TOK_CHAR || to.type == RNN_TOK_WORD; /* the others' vocabularies are fixed */
    if (!counts && (o->min_count != 1 || o->max_vocab != 0))
        return rnn_errorf("--%s is for the char and word tokenizers, whose vocabulary comes from the text",
                          o->min_count != 1 ? "min-count" : "max-vocab");
    if (o->min_count < 1) return rnn_errorf("--min-count must be at least 1 (got %d)", o->min_count);
    if (o->max_vocab < 0 || (o->max_vocab > 0 && o->max_vocab <= 2))
        return rnn_errorf("--max-vocab must be 0 (no limit) or more than the 2 special tokens (got %d)",
                          o->max_vocab);
    to.min_count = o->min_count;
    to.max_vocab = o->max_vocab;
    to.keep_newlines = !r->classify && (to.type == RNN_TOK_WORD || to.type == RNN_TOK_WORDPIECE); /* line breaks are text */
    if (!(r->tok = rnn_tokenizer_build(&to, text, len))) {
        if (to.type == RNN_TOK_WORDPIECE) return -1; /* about the vocabulary file, which it names */
        return rnn_tok_text_error(&to, what, text, len);
    }
    /* IMDb's reviews hold <br /> in every other line: without --strip-html
     * a word model learns "< br / >" as four tokens, and writes them */
    if (!to.strip_html && to.type != RNN_TOK_BYTE && o->strip_html < 0) {
        size_t tags = 0;
        for (const char *p = text, *e = text + len; p && p < e && tags < 1000000; p++)
            if (!(p = memchr(p, '<', (size_t)(e - p)))) break;
            else if (e - p >= 4 && (!strncmp(p, "<br", 3) || !strncmp(p, "</", 2) || !strncmp(p, "<p>", 3))) tags++;
        if (tags) say(r, "note: %s holds %zu HTML tags such as <br />, read as text; --strip-html removes them "
                         "(--strip-html false: keep them, without this note)", what, tags);
    }
    return 0;
}

static int check_fits(run *r, const rnn_config *c, size_t n_floats);

/* --grow-vocab, step 1: the fine-tuned model's tokenizer with the tokens of
 * the training text it lacks (a resume's state holds them already). */
static int grow_tokenizer(run *r, const char *name, const char *text, size_t len) {
    const int V = rnn_tokenizer_vocab_size(r->tok);
    int added = 0;
    if (r->o->max_vocab > 0 && r->o->max_vocab <= V) {
        say(r, "--grow-vocab: --max-vocab %d leaves no room for new tokens (the vocabulary has %d already)",
            r->o->max_vocab, V);
        return 0;
    }
    rnn_tokenizer *g = rnn_tokenizer_grow(r->tok, text, len, r->o->min_count, r->o->max_vocab, &added);
    if (!g) return rnn_error_prefix("--grow-vocab: %s", name);
    if (!added) {
        rnn_tokenizer_free(g);
        say(r, "--grow-vocab: %s has no token the vocabulary of %d lacks%s", name, V,
            r->o->min_count > 1 ? " that it holds --min-count times" : "");
        return 0;
    }
    char some[160] = "", tok[24]; /* the first few, most frequent first, escaped and cut short */
    int shown = 0;
    for (int n = 0; shown < added && n + (int)sizeof tok + 3 < (int)sizeof some; shown++) {
        rnn_escape(tok, sizeof tok, rnn_tokenizer_token(g, V + shown));
        n += snprintf(some + n, sizeof some - n, "%s\"%s\"", shown ? " " : "", tok);
    }
    say(r, "--grow-vocab: %d tokens of %s added to the vocabulary (%d -> %d%s): %s%s", added, name, V, V + added,
        r->o->max_vocab == V + added ? ", --max-vocab" : "", some, shown < added ? " ..." : "");
    r->tok_before = r->tok;
    r->tok = g;
    r->grown_from = V;
    return 0;
}

/* Step 2: *m (the model fine-tuned, or the one a classifier starts from)
 * with a row for each token step 1 added. */
static int grow_model(run *r, rnn_model **m) {
    const int V = (*m)->c.vocab_size, V2 = rnn_tokenizer_vocab_size(r->tok);
    if (V2 == V) return 0;
    const size_t more = (size_t)(V2 - V) * ((*m)->c.embed_dim + ((*m)->c.task == RNN_TASK_LM ? (*m)->F + 1 : 0));
    rnn_config grown = (*m)->c;
    grown.vocab_size = V2;
    rnn_model *g = check_fits(r, &grown, rnn_config_num_floats(&(*m)->c) + more) ? NULL : rnn_model_grow_vocab(*m, V2, rnn_tokenizer_pad_id(r->tok));
    if (!g) return -1;
    rnn_model_free(*m);
    *m = g;
    return 0;
}

static int load_lm_data(run *r, int have_tok) {
    const rnn_opts *o = r->o;
    char *train_text = NULL, *val_text = NULL;
    size_t train_len = 0, val_len = 0;
    const char *train_name = o->data[0] ? o->data : "human numbers 1..8000";
    const char *val_name = o->val[0] ? o->val : o->data[0] ? "the validation split" : "human numbers 8001..9999";
    int rc = -1;
    if (!o->data[0]) {
        train_text = rnn_human_numbers(1, 8000);
        val_text = rnn_human_numbers(8001, 9999);
        if (!train_text || !val_text) goto out;
        train_len = strlen(train_text);
        val_len = strlen(val_text);
    } else {
        /* A tokenizer that refuses NUL bytes (all but byte, unless invalid
         * UTF-8 is replaced) refuses the file at its first one, so a pipe or
         * device of binary data need not be read to its end (/dev/zero has none). */
        rnn_tok_options flags;
        const rnn_tok_options *to = have_tok ? rnn_tokenizer_options(r->tok)
                                    : tok_options_of(o, "char", &flags) ? NULL : &flags;
        size_t (*refused)(const char *, size_t, const void *) = to && rnn_tok_options_need_utf8(to) ? rnn_tok_refused : NULL;
        if (!(train_text = rnn_read_text_tree(o->data, &train_len, refused, to))) goto out;
        if (o->val[0]) {
            if (!(val_text = rnn_read_text_tree(o->val, &val_len, refused, to))) goto out;
        } else {
            if (!(o->val_frac > 0 && o->val_frac < 1)) {
                rnn_errorf("--val-frac must be in (0, 1) when --val is not given (got %.9g)", o->val_frac);
                goto out;
            }
            /* The whole file's UTF-8 first, read as the tokenizer reads it (a
             * tag --strip-html drops is not): a bad byte in the part held out
             * is then reported where it is in --data. */
            const size_t bad = to ? rnn_tok_options_refused_at(to, train_text, train_len) : train_len;
            if (bad < train_len) {
                rnn_utf8_file_error(o->data, train_text, train_len, bad);
                goto out;
            }
            size_t cut = split_point(train_text, train_len, o->val_frac);
            val_len = train_len - cut;
            if (!(val_text = malloc(val_len + 1))) {
                rnn_errorf("out of memory");
                goto out;
            }
            memcpy(val_text, train_text + cut, val_len);
            val_text[val_len] = 0;
            train_len = cut;
            train_text[cut] = 0;
        }
    }
    if (train_len == 0) {
        rnn_errorf("%s: no training text", train_name);
        goto out;
    }
    if (!have_tok &&
        build_tokenizer(r, train_name, train_text, train_len, o->data[0] ? "char" : "word"))
        goto out;
    if (have_tok && o->grow_vocab && o->init_from[0] &&
        (grow_tokenizer(r, train_name, train_text, train_len) || grow_model(r, &r->m)))
        goto out;
    if (encode(r, train_name, train_text, train_len, &r->train)) goto out;
    if (encode(r, val_name, val_text, val_len, &r->val)) goto out;
    /* A backward LM (--reverse, or fine-tuning one) reads both streams right to left. */
    const int reverse = o->reverse || (r->m && r->m->c.reverse);
    if (reverse) {
        rnn_lm_reverse(&r->train);
        rnn_lm_reverse(&r->val);
    }
    if (r->m) r->m->c.reverse = reverse;
    if (rnn_lm_batches(r->train.n, r->B, r->T) < 1) {
        rnn_errorf("%s: too few tokens for --batch %d x --seq-len %d: %zu, where more than %ld are needed",
                   train_name, r->B, r->T, r->train.n, (long)r->B * ((long)r->T + 1));
        goto out;
    }
    if (r->val.n < 2 * (size_t)r->B) { /* validation reads it as --batch streams of 2 tokens or more */
        rnn_errorf("%s: validation text has %zu tokens; its %d streams (--batch) need at least %d", val_name,
                   r->val.n, r->B, 2 * r->B);
        goto out;
    }
    rc = 0;
out:
    free(train_text);
    free(val_text);
    return rc;
}


/* Joins the texts of a data set with newlines (the tokenizer's training text). */
static char *join_texts(const rnn_dataset *ds, size_t *len) {
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++) n += strlen(ds->ex[i].text) + 1;
    char *s = malloc(n + 1);
    if (!s) {
        rnn_errorf("out of memory");
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < ds->n; i++) {
        size_t l = strlen(ds->ex[i].text);
        memcpy(s + k, ds->ex[i].text, l);
        k += l;
        s[k++] = '\n';
    }
    s[k] = 0;
    *len = k;
    return s;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* A text far longer than nearly all (a 10 MB review among short ones) sizes
 * the activations of every batch, memory and time the rest never use: said,
 * with the --max-len that would cut the few. */
static void note_outlier(run *r, const char *what, const rnn_cls_data *d) {
    if (r->o->max_len > 0 || d->n < 100 || d->max_len < 1000) return;
    int *len = malloc(d->n * sizeof *len);
    if (!len) return;
    memcpy(len, d->len, d->n * sizeof *len);
    qsort(len, d->n, sizeof *len, cmp_int);
    const int p99 = len[d->n - 1 - d->n / 100];
    size_t over = 0;
    while (over < d->n && len[d->n - 1 - over] > 4 * p99) over++;
    free(len);
    if (d->max_len > 10 * p99)
        say(r, "warning: %s: the longest text has %d tokens, %.0f times what 99%% of them have at most (%d); "
            "the activations are sized for it: --max-len %d would cut the %zu longest", what, d->max_len,
            (double)d->max_len / p99, p99, 4 * p99, over);
}

static int encode_cls(run *r, const char *what, const rnn_dataset *ds, rnn_cls_data *d) {
    size_t unk = 0, cut = 0, empty = 0;
    if (rnn_cls_encode(d, ds, r->tok, r->o->max_len, !strcmp(r->o->truncate, "tail"), &unk, &cut, &empty))
        return rnn_error_prefix("%s", what);
    char unknown[96] = ""; /* (a fine-tune's new words: --grow-vocab adds them) */
    if (unk) snprintf(unknown, sizeof unknown, ", %zu of %zu tokens unknown (%.2f%%)", unk, d->n_read, 100.0 * unk / d->n_read);
    say(r, "%s: %zu examples, longest %d tokens%s%s", what, d->n, d->max_len,
        cut ? ", some truncated to --max-len" : "", unknown);
    note_outlier(r, what, d);
    char note[4400];
    if (rnn_cls_note_empty(note, sizeof note, what, empty, d->n, r->tok)) say(r, "%s", note);
    return 0;
}

static void say_header(run *r, const char *path, const rnn_dataset *d) {
    char note[4400];
    if (rnn_cls_note_header(note, sizeof note, path, d)) say(r, "%s", note);
}

/* The class names in order, comma-separated, in names (cap bytes): as many
 * as fit in the first 400 characters or so, for a log line or a message. */
static const char *label_names(const run *r, char *names, size_t cap) {
    names[0] = 0;
    for (int i = 0; i < r->n_labels && strlen(names) < 400; i++)
        snprintf(names + strlen(names), cap - strlen(names), "%s%s", i ? ", " : "", r->labels[i]);
    return names;
}

/* How --data and --val are read. */
static int cls_data_opts(const run *r, int have_tok, rnn_data_opts *dop) {
    const rnn_opts *o = r->o;
    rnn_data_opts_default(dop);
    dop->format = o->format;
    dop->label_col = o->label_col;
    dop->text_cols = o->text_cols;
    dop->label_names = o->label_names[0] ? o->label_names : NULL;
    dop->label_base = strcmp(o->label_base, "auto") ? atoi(o->label_base) : -1;
    if (dop->label_base >= 0 && !dop->label_names)
        return rnn_errorf("--label-base %s numbers the classes of --label-names: give both", o->label_base);
    dop->header = !strcmp(o->header, "auto") ? -1 : !strcmp(o->header, "yes");
    /* The texts must be UTF-8 unless the tokenizer (the checkpoint's, or the
     * one to build) reads bytes or replaces bad ones. */
    if (have_tok) {
        dop->check_utf8 = rnn_tokenizer_needs_utf8(r->tok);
        dop->strip_html = rnn_tokenizer_options(r->tok)->strip_html;
    } else {
        dop->check_utf8 = strcmp(o->tokenizer, "byte") && !o->replace_invalid;
        rnn_tok_options to; /* the tokenizer build_tokenizer will build (a bad --tokenizer: named there) */
        dop->strip_html = !tok_options_of(o, "word", &to) && to.strip_html;
    }
    if (!o->data[0]) return rnn_errorf("--task classify needs --data FILE (labelled examples)");
    return 0;
}

/* A classifier fine-tuned from one (--init-from) keeps its classes, in its
 * order, and so its head, when --data's classes are the same set: 1 then, 0
 * when not (a new head for the data's own classes, as a subset may be a
 * new task: 2 of 3 classes with --loss bce), -1 with a message. --data is
 * read once more for it; only its labels count. */
static int same_classes(const run *r, char *const *labels, int n_labels) {
    rnn_data_opts dop;
    rnn_dataset d = {0};
    if (n_labels < 2 || cls_data_opts(r, 1, &dop) || rnn_dataset_load(&d, r->o->data, &dop, NULL, 0))
        return n_labels < 2 ? 0 : -1;
    int within = d.n_labels == n_labels; /* (names are distinct on both sides) */
    for (int i = 0; i < d.n_labels && within; i++) {
        within = 0;
        for (int k = 0; k < n_labels && !within; k++) within = !strcmp(d.labels[i], labels[k]);
    }
    rnn_dataset_free(&d);
    return within;
}

/* Classification data: labelled examples from --data, validation from --val
 * or a stratified --val-frac split; label names kept for the checkpoint.
 * known (n_known): the classes, in order, of a resumed run or of the
 * classifier fine-tuned (same_classes); NULL: those of the data. */
static int load_cls_data(run *r, int have_tok, char *const *known, int n_known) {
    const rnn_opts *o = r->o;
    rnn_data_opts dop;
    if (cls_data_opts(r, have_tok, &dop)) return -1;
    rnn_dataset all = {0}, tr = {0}, va = {0};
    int rc = -1;
    if (rnn_dataset_load(&all, o->data, &dop, known, n_known)) return -1;
    say_header(r, o->data, &all);
    dop.label_base = all.label_base; /* --val numbers its labels as the training data do */
    r->label_base = all.label_base;  /* and the checkpoint keeps it for rnn eval */
    if (o->val[0]) {
        tr = all;
        memset(&all, 0, sizeof all);
        if (rnn_dataset_load(&va, o->val, &dop, tr.labels, tr.n_labels)) goto out;
        say_header(r, o->val, &va);
    } else {
        if (!(o->val_frac > 0 && o->val_frac < 1)) {
            rnn_errorf("--val-frac must be in (0, 1) when --val is not given (got %.9g)", o->val_frac);
            goto out;
        }
        if (rnn_dataset_split(&all, o->val_frac, (uint64_t)o->seed, &tr, &va)) goto out;
        if (tr.n == 0) {
            rnn_errorf("%s: the training split is empty: --val-frac %g holds out all %zu examples; use a smaller "
                       "--val-frac or --val FILE", o->data, o->val_frac, va.n);
            goto out;
        }
    }
    if (tr.n_labels < 2) {
        rnn_errorf("%s: a classifier needs at least 2 classes (found %d)", o->data, tr.n_labels);
        goto out;
    }
    if (!have_tok || (o->grow_vocab && o->init_from[0])) { /* (the model grows in setup_model) */
        size_t len;
        char *text = join_texts(&tr, &len);
        if (!text) goto out;
        int bad = have_tok ? grow_tokenizer(r, o->data, text, len) : build_tokenizer(r, o->data, text, len, "word");
        free(text);
        if (bad) goto out;
    }
    if (encode_cls(r, o->data, &tr, &r->ctrain) ||
        encode_cls(r, o->val[0] ? o->val : "the validation split", &va, &r->cval))
        goto out;
    if (r->cval.n == 0) {
        if (o->val[0]) {
            rnn_errorf("%s: the validation set is empty", o->val);
        } else { /* each class gives round(val_frac * its rows) */
            size_t most = 0, *count = calloc((size_t)tr.n_labels, sizeof *count);
            for (size_t i = 0; count && i < tr.n; i++) {
                size_t c = ++count[tr.ex[i].label];
                most = c > most ? c : most;
            }
            free(count);
            rnn_errorf("%s: the validation split is empty: --val-frac %g of each class's examples rounds to 0 "
                       "(%d classes, the largest with %zu); use --val FILE or a larger --val-frac",
                       o->data, o->val_frac, tr.n_labels, most);
        }
        goto out;
    }
    if ((size_t)r->B > r->ctrain.n) { /* a batch of more examples than there are: memory for nothing */
        say(r, "note: --batch %d is more than the %zu training examples: batches of %zu", r->B, r->ctrain.n,
            r->ctrain.n);
        r->B = (int)r->ctrain.n; /* config.txt keeps --batch: the same command resumes */
    }
    r->labels = tr.labels;
    r->n_labels = tr.n_labels;
    tr.labels = NULL;
    tr.n_labels = 0;
    char names[512];
    say(r, "classes (%d): %s", r->n_labels, label_names(r, names, sizeof names));
    rc = 0;
out:
    rnn_dataset_free(&all);
    rnn_dataset_free(&tr);
    rnn_dataset_free(&va);
    return rc;
}

/* GloVe / word2vec text vectors ("word v1 ... vE" per line; a word2vec
 * "count dim" first line is skipped) into the embedding rows of known words. */
/* Line lineno of a vectors file of width E as rnn_getline reads it, or -1
 * at its end; -2 + message for a NUL byte (binary data, /dev/zero: refused
 * at once, not read until memory runs out), a line longer than a word and
 * E numbers can be, or a read error. */
static long vectors_line(char **line, size_t *cap, FILE *f, const char *path, long lineno, int E) {
    const size_t max = 65536 + (size_t)E * 64; /* a word, then numbers of 63 characters at most */
    const long got = rnn_getline(line, cap, f, max, 1);
    if (got > 0 && memchr(*line, 0, (size_t)got))
        return rnn_errorf("%s:%ld: a NUL byte (not a text file of vectors?)", path, lineno), -2;
    if (got == -3)
        return rnn_errorf("%s:%ld: a line of over %zu bytes, more than a word and %d numbers (not a file of "
                          "vectors?)", path, lineno, max, E), -2;
    if (got == -2) return rnn_errorf("%s: read error: %s", path, strerror(errno)), -2;
    return got;
}

/* A field separator of a vectors file: GloVe's space, or a tab. */
static int vec_sep(char c) { return c == ' ' || c == '\t'; }

/* s with the separators and the line end at its end cut off: its new end. */
static char *vec_chop(char *s) {
    char *p = s + strlen(s);
    while (p > s && (vec_sep(p[-1]) || p[-1] == '\r' || p[-1] == '\n')) *--p = 0;
    return p;
}

/* Why field f (NUL-terminated) of line lineno is no number, for the error. */
static int vec_not_number(const char *path, long lineno, const char *f, int E) {
    for (const unsigned char *c = (const unsigned char *)f; *c; c++)
        if ((*c < 0x20 && *c != '\t' && *c != '\r') || *c == 0x7f)
            return rnn_errorf("%s:%ld: control bytes, binary data: word2vec's binary format is not read (save the "
                              "vectors as text: a word, then its numbers, on each line)", path, lineno);
    char buf[40];
    rnn_escape(buf, sizeof buf, f);
    if (strchr(f, ',') && strpbrk(f, "0123456789"))
        return rnn_errorf("%s:%ld: \"%s\" is not a number (a decimal comma? vectors are written with a decimal "
                          "point)", path, lineno, buf);
    if (!E) return rnn_errorf("%s:%ld: \"%s\" is not a number (a line is a word, then its numbers)", path, lineno, buf);
    return rnn_errorf("%s:%ld: \"%s\" is not a number: expected %d numbers after the word (the vectors' width must "
                      "equal --embed)", path, lineno, buf, E);
}

/* The whole of field [q, p) read as a number into *v: 1, else 0. */
static int vec_number(char *q, char *p, float *v) {
    const char save = *p;
    char *e;
    *p = 0;
    *v = strtof(q, &e);
    *p = save;
    return e == p && q < p;
}

/* word2vec's first line, "count width": two whole positive numbers. */
static int vec_header(const char *line, long *width) {
    char *e;
    const long count = strtol(line, &e, 10);
    if (count <= 0 || !vec_sep(*e) || !isdigit((unsigned char)e[1])) return 0;
    *width = strtol(e + 1, &e, 10);
    return *width > 0 && !*e;
}

/* The width of the vectors in path, read as load_vectors reads them: the
 * numbers after the first field of the first line with two fields (lines
 * with one are skipped), or the second number of word2vec's "count width"
 * header line. 0 with a message when there is none. */
#define VECTORS_MAX_WIDTH 65536
static int vectors_width(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return rnn_errorf("%s: cannot open: %s", path, strerror(errno)), 0;
    char *line = NULL, *word = NULL, *sp = NULL;
    size_t cap = 0;
    long got, lineno = 0, header = 0;
    while (!sp && (got = vectors_line(&line, &cap, f, path, lineno + 1, 1 << 20)) > 0) { /* the widest --embed */
        word = line + (++lineno == 1 ? rnn_bom_len(line, (size_t)got) : 0);
        vec_chop(word);
        for (sp = word; *sp && !vec_sep(*sp); sp++) {}
        if (!*sp) sp = NULL;
    }
    fclose(f);
    int width = 0;
    if (sp && lineno == 1 && vec_header(word, &header) && header <= VECTORS_MAX_WIDTH) width = (int)header;
    for (char *p = width ? NULL : sp; p;) { /* the fields after the word, each a whole number */
        while (vec_sep(*p)) p++;
        if (!*p) break;
        char *q = p;
        float v;
        while (*p && !vec_sep(*p)) p++;
        if (!vec_number(q, p, &v)) {
            *p = 0;
            vec_not_number(path, lineno, q, 0);
            free(line);
            return 0;
        }
        if (++width > VECTORS_MAX_WIDTH) break;
    }
    free(line);
    if (!width && got >= -1) rnn_errorf("%s:%ld: no vector width here (a line is a word, then its numbers)", path,
                                       lineno ? lineno : 1);
    if (width > VECTORS_MAX_WIDTH) /* (as a word2vec header's: not a file of vectors, most likely) */
        return rnn_errorf("%s:%ld: over %d numbers after the word, more than the widest vectors read "
                          "without --embed (give --embed to say the width)", path, lineno, VECTORS_MAX_WIDTH), 0;
    return width;
}

/* A line of a vectors file of width E: its word and vec. Fields are
 * separated by spaces or tabs; the last E are the numbers and all before
 * them the word (GloVe's 840B vectors have words with spaces, ". . ."),
 * unless what follows the word's first field is numbers too: then the line
 * has more than E. 1: a vector; 0: a line to skip (blank, one field, the
 * word2vec header); -1 + message. */
static int vector_line(char *line, const char *path, long lineno, int E, float *vec, char **word) {
    char *p = vec_chop(line);
    char *first = line;
    while (*first && !vec_sep(*first)) first++;
    if (!*first) return 0; /* one field (or none) */
    long header;
    if (lineno == 1 && vec_header(line, &header)) {
        if (header == E) return 0;
        if (E != 1)
            return rnn_errorf("%s:1: word2vec's header says the vectors have %ld numbers; --embed is %d (leave "
                              "--embed out to take the vectors' width)", path, header, E);
    }
    int k = E;
    while (k > 0) { /* fields from the end */
        char *q = p;
        while (q > line && !vec_sep(q[-1])) q--;
        if (q == line) break; /* the first field is the word's */
        if (!vec_number(q, p, &vec[k - 1])) {
            *p = 0;
            return vec_not_number(path, lineno, q, E);
        }
        if (memchr(q, 'x', (size_t)(p - q)) || memchr(q, 'X', (size_t)(p - q)))
            return rnn_errorf("%s:%ld: a hexadecimal number; vectors are decimal", path, lineno);
        k--;
        for (p = q; p > line && vec_sep(p[-1]);) p--;
    }
    if (k > 0)
        return rnn_errorf("%s:%ld: expected %d numbers after the word, found %d (the vectors' width must equal "
                          "--embed)", path, lineno, E, E - k);
    *p = 0; /* the word; one with spaces that are numbers after its first field: too many numbers */
    float v;
    int numbers = first < p;
    for (char *q = first; numbers && q < p;) {
        while (vec_sep(*q)) q++;
        char *e = q;
        while (*e && !vec_sep(*e)) e++;
        numbers = vec_number(q, e, &v);
        q = e;
    }
    if (numbers)
        return rnn_errorf("%s:%ld: more than %d numbers after the word (the vectors' width must equal --embed)",
                          path, lineno, E);
    for (k = 0; k < E && isfinite(vec[k]); k++) {}
    if (k < E) return rnn_errorf("%s:%ld: number %d is %g, not a finite float", path, lineno, k + 1, vec[k]);
    *word = line;
    return 1;
}

static int load_vectors(run *r) {
    const char *path = r->o->vectors;
    FILE *f = fopen(path, "r");
    if (!f) return rnn_errorf("%s: cannot open: %s", path, strerror(errno));
    const int E = r->m->c.embed_dim, V = rnn_tokenizer_vocab_size(r->tok);
    /* fine-tuning: the model's own rows are trained; only those --grow-vocab added start from vectors */
    const int first = r->o->init_from[0] ? (r->grown_from ? r->grown_from : V) : 0;
    if (first == V) {
        fclose(f);
        if (r->o->grow_vocab) { /* nothing is wrong with the run: the vectors have no rows to give */
            say(r, "warning: --vectors %s is not read: --grow-vocab added no tokens, and the fine-tuned model's "
                "embedding is trained already", path);
            return 0;
        }
        return rnn_errorf("--vectors %s: a fine-tuned model's embedding is trained already; with --grow-vocab the "
                          "vectors give the new tokens' rows", path);
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0, found = 0, repeats = 0, got;
    float *vec = malloc(sizeof(float) * E);
    unsigned char *seen = calloc((size_t)V, 1); /* the rows a line has set */
    int rc = -1;
    if (!vec || !seen) {
        rnn_errorf("out of memory");
        goto out;
    }
    while ((got = vectors_line(&line, &cap, f, path, lineno + 1, E)) > 0) {
        lineno++;
        const size_t bom = lineno == 1 ? rnn_bom_len(line, (size_t)got) : 0;
        if (bom) memmove(line, line + bom, (size_t)got - bom + 1); /* with the NUL */
        char *word = line;
        const int ok = vector_line(line, path, lineno, E, vec, &word);
        if (ok < 0) goto out;
        if (!ok) continue;
        int id = rnn_tokenizer_find(r->tok, word);
        if (id >= first && id != rnn_tokenizer_pad_id(r->tok)) {
            if (seen[id]) { /* the first line of a word counts, as in most readers of these files */
                repeats++;
                continue;
            }
            seen[id] = 1;
            memcpy(r->m->emb + (size_t)id * E, vec, sizeof(float) * E);
            found++;
        }
    }
    if (got < -1) goto out;
    if (!found) {
        rnn_errorf("%s: no line names a %stoken of the vocabulary (%ld lines read)", path, first ? "new " : "", lineno);
        goto out;
    }
    say(r, "vectors %s: %ld of %d %stokens covered (%.1f%%)", path, found, V - first, first ? "new " : "vocabulary ",
        100.0 * found / (V - first));
    if (repeats) say(r, "warning: %s: %ld lines repeat a word of an earlier line; the first was used", path, repeats);
    if (first && r->o->freeze_embedding && found < V - first)
        say(r, "warning: --freeze-embedding: %ld new tokens the vectors lack keep the mean of the old rows", V - first - found);
    rc = 0;
out:
    free(line);
    free(vec);
    free(seen);
    fclose(f);
    return rc;
}

static int cmp_int_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}
static void sort_ints_desc(int *v, size_t n) { qsort(v, n, sizeof(int), cmp_int_desc); }

/* ---- model and optimizer ------------------------------------------------- */

static int config_from_opts(const rnn_opts *o, rnn_config *c, int vocab) {
    rnn_config_default(c, strcmp(o->task, "lm") ? RNN_TASK_CLASSIFY : RNN_TASK_LM);
    if (rnn_cell_parse(o->cell, &c->cell)) return -1;
    c->vocab_size = vocab;
    c->embed_dim = o->embed;
    c->hidden_dim = o->hidden;
    c->num_layers = o->layers;
    c->bidirectional = o->bidirectional;
    c->dropout = o->dropout;
    c->residual = o->residual;
    c->tie_weights = o->tie_weights;
    c->reverse = o->reverse;
    c->cache_size = o->cache; /* validated: language models only */
    c->cache_theta = o->cache_theta;
    c->cache_lambda = o->cache_lambda;
    c->forget_bias = o->forget_bias;
    c->freeze_embedding = o->freeze_embedding;
    c->head_dropout = o->head_dropout;
    c->embed_dropout = o->embed_dropout;
    c->weight_drop = o->weight_drop;
    c->recurrent_dropout = o->recurrent_dropout;
    c->locked_dropout = o->locked_dropout;
    c->attention_dim = o->attention_dim;
    if (rnn_pool_parse(o->pool, &c->pool)) return -1;
    c->loss = strcmp(o->loss, "bce") ? RNN_LOSS_CE : RNN_LOSS_BCE;
    return rnn_config_validate(c);
}

/* The rows of a classifier's largest training batch: its B longest texts.
 * -1 + message when out of memory. */
static int longest_rows(const rnn_cls_data *d, int B) {
    int *lens = malloc(sizeof(int) * (d->n ? d->n : 1)), rows = 0;
    if (!lens) return rnn_errorf("out of memory");
    memcpy(lens, d->len, sizeof(int) * d->n);
    sort_ints_desc(lens, d->n);
    for (size_t i = 0; i < d->n && i < (size_t)B; i++) rows += lens[i];
    free(lens);
    return rows;
}

/* Weights, gradients, the optimizer's buffers and --ema's average, all the
 * model's size (n_floats), and the activations of a training batch and of
 * validation's for a model of config c: refused when they cannot fit,
 * before the weights are written (a new model's initialisation), rather
 * than in the kernel's OOM killer part way into the first step, or as an
 * allocation's "out of memory" that names no flag. */
static int check_fits(run *r, const rnn_config *c, size_t n_floats) {
    const rnn_opts *o = r->o;
    rnn_opt_type t;
    if (rnn_opt_parse_type(o->optimizer, &t)) return -1;
    const int bufs = t == RNN_OPT_ADAM || t == RNN_OPT_ADAMW ? 2
                     : t == RNN_OPT_RMSPROP                  ? 1 + (o->momentum > 0)
                                                             : o->momentum > 0;
    const double model = 4.0 * (double)n_floats * (2 + bufs + (o->ema > 0)), have = (double)rnn_mem_limit();
    if (model > have)
        return rnn_errorf("the model needs %.1f GB for its weights, their gradients and the %s optimizer's "
                          "state, more than the %.1f GB this process may use (physical memory, or ulimit -v): "
                          "make --hidden, --embed, --layers or the vocabulary smaller",
                          model / 1e9, o->optimizer, have / 1e9);
    /* A language model that a classifier starts from (grow_model) has no activations of its
     * own: the classifier's are checked when it is made. */
    if (r->classify && c->task == RNN_TASK_LM) return 0;
    /* the activations' shapes: a language model's batch is --batch streams of --seq-len steps; a
     * classifier's, as setup_model makes it, its --batch longest texts */
    int T = r->T, N = r->T * r->B, vT = r->T, vN = N;
    if (r->classify) {
        T = r->ctrain.max_len, vT = r->cval.max_len;
        if ((N = longest_rows(&r->ctrain, r->B)) < 0 || (vN = longest_rows(&r->cval, r->B)) < 0) return -1;
    }
    rnn_model *plan = rnn_model_plan(c);
    if (!plan) return -1;
    const double acts = (double)rnn_acts_bytes(plan, T, r->B, N, 0) + (double)rnn_acts_bytes(plan, vT, r->B, vN, 1);
    rnn_model_free(plan);
    if (model + acts > have) {
        char batch[96];
        if (r->classify)
            snprintf(batch, sizeof batch, "--batch %d texts of at most %d tokens, which --max-len cuts", r->B, T);
        else
            snprintf(batch, sizeof batch, "--batch %d x --seq-len %d", r->B, r->T);
        return rnn_errorf("the run needs %.1f GB: %.1f GB for the weights, their gradients and the %s optimizer's "
                          "state, %.1f GB for the activations of a batch (%s, --embed %d, --hidden %d, --layers %d, "
                          "vocabulary %d), more than the %.1f GB this process may use (physical memory, or ulimit "
                          "-v): make the batch or the model smaller", (model + acts) / 1e9, model / 1e9, o->optimizer,
                          acts / 1e9, batch, c->embed_dim, c->hidden_dim, c->num_layers, c->vocab_size, have / 1e9);
    }
    return 0;
}

static int make_optimizer(run *r) {
    const rnn_opts *o = r->o;
    rnn_optim_config oc;
    rnn_opt_type t;
    if (rnn_opt_parse_type(o->optimizer, &t)) return -1;
    rnn_optim_config_default(&oc, t);
    oc.lr = o->lr;
    oc.beta1 = o->beta1;
    oc.beta2 = o->beta2;
    oc.eps = o->eps;
    oc.weight_decay = o->weight_decay;
    oc.momentum = o->momentum;
    oc.nesterov = o->nesterov;
    if (rnn_model_alloc_grad(r->m) || !(r->opt = rnn_optim_create(&oc, r->m->n_floats))) return -1;
    rnn_sched_type st;
    if (rnn_sched_parse(o->schedule, &st)) return -1;
    rnn_sched_init(&r->sched, st, o->lr);
    r->sched.warmup_steps = o->warmup;
    r->sched.min_lr = o->min_lr;
    r->sched.step_size = o->step_size > 0 ? o->step_size : 1;
    r->sched.gamma = o->gamma;
    r->sched.factor = o->factor;
    r->sched.patience = o->lr_patience;
    r->sched.total_steps = r->total_steps > 0 ? r->total_steps : 1;
    return 0;
}

void rnn_word_dropout(int32_t *ids, size_t n, float p, int32_t unk, rnn_rng *rng) {
    for (size_t i = 0; i < n; i++)
        if (rnn_rng_uniform(rng) < p) ids[i] = unk;
}

/* ---- weight averaging (--ema) --------------------------------------------- */

/* After optimizer step `step` (1-based): ema = d*ema + (1-d)*w with
 * d = min(decay, (1+step)/(10+step)), tf.train.ExponentialMovingAverage's
 * warm-up, so the average is not dominated by the initial weights. Written
 * ema += (1-d)*(w - ema): a weight that did not move (frozen) keeps its
 * average exactly, where d*e + (1-d)*e drifts by float rounding. */
static void ema_update(run *r) {
    const double d = fmin(r->o->ema, (1.0 + r->step) / (10.0 + r->step));
    const float b = (float)(1.0 - d);
    float *restrict e = r->ema;
    const float *restrict w = r->m->w;
    const size_t n = r->m->n_floats;
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) e[i] += b * (w[i] - e[i]);
}

/* Exchanges the model's weights and the average: validation and the saved
 * models see the average, training and the resume state the raw weights. */
static void ema_swap(run *r) {
    if (!r->ema) return;
    float *restrict e = r->ema, *restrict w = r->m->w;
    for (size_t i = 0; i < r->m->n_floats; i++) {
        float t = e[i];
        e[i] = w[i];
        w[i] = t;
    }
}

/* ---- checkpoints and the resume state ------------------------------------ */

#define N_STATE_META 15
/* The scalars of the resume state, in __metadata__ of state.safetensors. */
static const char *const state_keys[N_STATE_META] = {
    "train.step", "train.epoch",    "train.batch",     "train.tokens",   "train.elapsed",
    "train.rng0", "train.rng1",     "train.best_val",  "train.bad_evals", "train.sched_lr",
    "train.sched_best", "train.sched_bad", "train.best_loss", "train.loss_sum", "train.loss_n"};

/* A metadata value of the resume state (its header, read by rnn_st_open);
 * NULL if absent. */
static const char *state_meta(const run *r, const char *key) { return rnn_st_meta(r->state, key); }

/* A fingerprint of the training (val 0) or validation data as the run
 * reads them, its tokens (and a classifier's labels): "COUNT HASH" with
 * COUNT its tokens (lm) or examples (classify) and HASH their 64-bit FNV-1a,
 * so that a resume can tell data that changed since the run began. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static void data_print(const run *r, int val, char *out, size_t cap) {
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t n;
    if (r->classify) {
        const rnn_cls_data *d = val ? &r->cval : &r->ctrain;
        n = d->n;
        for (size_t i = 0; i < n; i++) {
            h = fnv1a(h, &d->label[i], sizeof d->label[i]);
            h = fnv1a(h, &d->len[i], sizeof d->len[i]);
            h = fnv1a(h, d->tokens + d->start[i], sizeof(int32_t) * (size_t)d->len[i]);
        }
    } else { /* the ids as the int32 they are, whatever the width they are held at: states saved
                before 2026-12-06, when streams were int32, keep their fingerprints */
        const rnn_lm_stream *s = val ? &r->val : &r->train;
        int32_t wide[4096];
        n = s->n;
        for (size_t i = 0; i < n; i += 4096) {
            const size_t k = n - i < 4096 ? n - i : 4096;
            rnn_lm_read(s, i, k, wide, 1);
            h = fnv1a(h, wide, sizeof(int32_t) * k);
        }
    }
    snprintf(out, cap, "%zu %016llx", n, (unsigned long long)h);
}

/* The data fingerprints of the resumed run's state into prints (both NULL
 * in states saved before 2026-12-06, which recorded none); -1 + message if
 * they are damaged. */
static int saved_prints(const run *r, const char *prints[2]) {
    const char *keys[2] = {"train.data", "train.val_data"};
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "state.safetensors");
    /* The two were added together: a state has both, or neither (saved
     * before 2026-12-06, and resumed unchecked as it always was); one alone
     * is damage. Then each must be what data_print writes, lest a damaged one
     * be reported as changed data. */
    prints[0] = state_meta(r, keys[0]);
    prints[1] = state_meta(r, keys[1]);
    if (!prints[0] != !prints[1])
        return rnn_errorf("%s: resume state lacks \"%s\" (it has \"%s\"): a damaged file", path,
                          keys[!prints[1]], keys[!prints[0]]);
    for (int val = 0; val < 2 && prints[0]; val++) {
        const char *p = prints[val];
        size_t digits = strspn(p, "0123456789");
        if (!digits || digits > 19 || p[digits] != ' ' || strspn(p + digits + 1, "0123456789abcdef") != 16 ||
            p[digits + 17])
            return rnn_errorf("%s: resume state \"%s\" is \"%.40s\", not a count and a 16-digit hash: a damaged "
                              "file", path, keys[val], p);
    }
    return 0;
}

/* -1 + message if the data differ from those the resumed run's state
 * recorded (states saved before 2026-12-06 recorded none). */
static int check_data_prints(run *r) {
    const char *prints[2];
    if (saved_prints(r, prints)) return -1;
    for (int val = 0; val < 2; val++) {
        const char *was = prints[val], *now = r->prints[val];
        if (!was || !strcmp(was, now)) continue;
        const rnn_opts *o = r->o;
        char what[RNN_OPT_STR + 48];
        if (!val) snprintf(what, sizeof what, "--data %s", o->data);
        else if (o->val[0]) snprintf(what, sizeof what, "--val %s", o->val);
        else snprintf(what, sizeof what, "the validation split of --data %s", o->data);
        const long then = strtol(was, NULL, 10), count = strtol(now, NULL, 10);
        const char *unit = r->classify ? "examples" : "tokens";
        return rnn_errorf("%s is not what this run trained on (%ld %s then, %ld now%s): a resume goes on with the "
                          "same data; put it back, or train on the new data from this run's model with "
                          "--init-from %s/last.safetensors",
                          what, then, unit, count, then == count ? ", other ones" : "", r->dir);
    }
    return 0;
}

static int save_state(run *r) {
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "state.safetensors");
    const rnn_model *m = r->m;
    rnn_st_out t[9];
    char names[6][64];
    int nt = 0;
    for (int i = 0; i < rnn_optim_num_buffers(r->opt) && nt < 6; i++) {
        const char *bn;
        float *buf = rnn_optim_buffer(r->opt, i, &bn);
        snprintf(names[nt], sizeof names[nt], "train.optim.%s", bn);
        t[nt] = (rnn_st_out){names[nt], RNN_DT_F32, 1, {(int64_t)m->n_floats}, buf};
        nt++;
    }
    if (r->ema) t[nt++] = (rnn_st_out){"train.ema", RNN_DT_F32, 1, {(int64_t)m->n_floats}, r->ema};
    if (!r->classify) { /* the hidden state carried between LM batches */
        int64_t state_n = (int64_t)m->c.num_layers * m->D * r->B * m->c.hidden_dim;
        t[nt++] = (rnn_st_out){"train.h0", RNN_DT_F32, 1, {state_n}, r->a->h0};
        t[nt++] = (rnn_st_out){"train.c0", RNN_DT_F32, 1, {state_n}, r->a->c0};
    }
    char vals[N_STATE_META][64];
    snprintf(vals[0], 64, "%ld", r->step);
    snprintf(vals[1], 64, "%ld", r->epoch);
    snprintf(vals[2], 64, "%ld", r->batch_in_epoch);
    snprintf(vals[3], 64, "%ld", r->tokens);
    snprintf(vals[4], 64, "%.17g", elapsed(r));
    snprintf(vals[5], 64, "%llu", (unsigned long long)r->rng.s[0]);
    snprintf(vals[6], 64, "%llu", (unsigned long long)r->rng.s[1]);
    snprintf(vals[7], 64, "%.17g", r->best_val);
    snprintf(vals[8], 64, "%d", r->bad_evals);
    snprintf(vals[9], 64, "%.9g", r->sched.cur_lr);
    snprintf(vals[10], 64, "%.9g", r->sched.best);
    snprintf(vals[11], 64, "%d", r->sched.bad_epochs);
    snprintf(vals[12], 64, "%.17g", r->best_loss);
    snprintf(vals[13], 64, "%.17g", r->loss_sum);
    snprintf(vals[14], 64, "%ld", r->loss_n);
    /* The options too, so that a resume can tell an edited config.txt, and
     * the data's fingerprints, so that it can tell changed data. */
    const char *keys[N_STATE_META + 7], *vp[N_STATE_META + 7];
    for (int i = 0; i < N_STATE_META; i++) keys[i] = state_keys[i], vp[i] = vals[i];
    char *cfg = rnn_opts_to_string(r->o);
    if (!cfg) return -1;
    keys[N_STATE_META] = "train.config", vp[N_STATE_META] = cfg;
    keys[N_STATE_META + 1] = "train.data", vp[N_STATE_META + 1] = r->prints[0];
    keys[N_STATE_META + 2] = "train.val_data", vp[N_STATE_META + 2] = r->prints[1];
    /* since 2026-12-07 (a state without them resumes as before: every group
     * at the run's step, the grid's best the best) */
    char groups[96], grid[2][64];
    snprintf(groups, sizeof groups, "%ld,%ld,%ld", rnn_optim_group_steps(r->opt, RNN_GROUP_EMBED),
             rnn_optim_group_steps(r->opt, RNN_GROUP_ENCODER), rnn_optim_group_steps(r->opt, RNN_GROUP_HEAD));
    snprintf(grid[0], 64, "%.17g", r->grid_best_val);
    snprintf(grid[1], 64, "%.17g", r->grid_best_loss);
    keys[N_STATE_META + 3] = "train.group_steps", vp[N_STATE_META + 3] = groups;
    keys[N_STATE_META + 4] = "train.grid_best_val", vp[N_STATE_META + 4] = grid[0];
    keys[N_STATE_META + 5] = "train.grid_best_loss", vp[N_STATE_META + 5] = grid[1];
    /* since 2026-12-07 too: the losses of train.log's next line so far (a
     * resume's first line is then the straight run's) */
    char logged[96];
    snprintf(logged, sizeof logged, "%.17g,%ld", r->log_loss, r->log_n);
    keys[N_STATE_META + 6] = "train.log_losses", vp[N_STATE_META + 6] = logged;
    int rc = rnn_checkpoint_save(path, m, r->tok, r->labels, r->n_labels, r->label_base, keys, vp, N_STATE_META + 7, t, nt);
    free(cfg);
    return rc;
}

static int meta_num(const run *r, const char *path, const char *key, double *v) {
    const char *s = state_meta(r, key);
    char *end;
    if (!s) return rnn_errorf("%s: resume state lacks \"%s\"", path, key);
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || *end || errno || *s == '+' || isspace((unsigned char)*s)) /* as written: no sign, no space */
        return rnn_errorf("%s: resume state \"%s\" is not a number", path, key);
    return 0;
}

/* Before anything is loaded for a resume: opens the state (its header,
 * checked whole; load_state reads its buffers later) and checks the options the run was saved with against those it would go on
 * with, so that an edited or damaged config.txt is named as such. States
 * saved before 2026-12-05 lack the options; they are refused with the
 * damaged ones that lack them, as a resume could not tell what it goes on
 * with. */
static int check_saved_options(run *r) {
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "state.safetensors");
    if (access(path, F_OK) != 0 && errno == ENOENT) /* config.txt is there: the run stopped before its first save */
        return rnn_errorf("%s: no resume state: the run stopped before it saved one (its first validation); start "
                          "it again with --overwrite, or --init-from a checkpoint it saved", path);
    if (!(r->state = rnn_st_open(path))) return -1; /* the header: load_state reads each buffer into place */
    const char *cfg = state_meta(r, "train.config");
    if (!cfg)
        return rnn_errorf("%s: resume state lacks \"train.config\", the run's options: a damaged file (or one "
                          "saved before 2026-12-05, which this build does not resume; --init-from its "
                          "last.safetensors trains on from its weights)", path);
    rnn_opts saved;
    rnn_opts_default(&saved);
    char where[2 * RNN_OPT_STR + 48];
    snprintf(where, sizeof where, "%s: resume state's \"train.config\"", path);
    if (rnn_opts_load_string(&saved, cfg, where) || rnn_opts_check_state(&saved, r->o, r->dir)) return -1;
    r->saved_lr = saved.lr;
    /* After a validation the best model is in model.safetensors, and the run
     * only replaces it with a better one: gone, the run would end naming a
     * file that is not there (or a worse model as the best). */
    const char *best = state_meta(r, "train.best_val");
    char model[2 * RNN_OPT_STR];
    path_in(model, sizeof model, r, "model.safetensors");
    if (best && isfinite(strtod(best, NULL)) && access(model, F_OK) != 0)
        return rnn_errorf("%s: missing, but the run validated and saved its best model there: put it back to "
                          "resume, or train on from this run's weights with --init-from %s/last.safetensors",
                          model, r->dir);
    /* ... and damaged, it would be named as the best model at the end (a
     * resume that does no better does not write it again), unread; or
     * another run's, copied over it. Its header is read (its tensors' places
     * checked against the file's size: a cut file is caught) and its config
     * compared with the state's; not its weights, which a resume with
     * nothing to train would read for nothing. */
    if (best && isfinite(strtod(best, NULL))) {
        rnn_st *st = rnn_st_open(model);
        if (!st) {
            char why[512];
            snprintf(why, sizeof why, "%s", rnn_last_error());
            return rnn_errorf("%s (the run's best model, which a resume keeps unless it does better: put back a "
                              "good copy to resume, or train on from this run's weights with --init-from "
                              "%s/last.safetensors)", why, r->dir);
        }
        rnn_config sc, mc;
        const int other = rnn_config_from_json(&mc, rnn_st_meta(st, "config")) ||
                          (!rnn_config_from_json(&sc, state_meta(r, "config")) &&
                           (sc.task != mc.task || sc.cell != mc.cell || sc.vocab_size != mc.vocab_size ||
                            sc.embed_dim != mc.embed_dim || sc.hidden_dim != mc.hidden_dim ||
                            sc.num_layers != mc.num_layers || sc.bidirectional != mc.bidirectional ||
                            sc.num_classes != mc.num_classes || sc.pool != mc.pool));
        rnn_st_free(st);
        if (other)
            return rnn_errorf("%s: not this run's model (its architecture differs from the resume state's, or it "
                              "has none): put back the run's own to resume, or train on from this run's weights "
                              "with --init-from %s/last.safetensors", model, r->dir);
    }
    return 0;
}

/* -1 + message if x[0..n) holds a NaN or infinity (or, nonneg, a negative
 * value: a second moment); name is the tensor of file path. */
static int check_finite(const char *path, const char *name, const float *x, size_t n, int nonneg) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || (nonneg && x[i] < 0))
            return rnn_errorf("%s: tensor '%s' holds %g at index %zu: a damaged file", path, name, nosign(x[i]), i);
    return 0;
}

/* The state's numbers (step, position, random state, best losses, ...),
 * each checked, into r; r->per_epoch must be known. */
static int restore_counters(run *r) {
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "state.safetensors");
    int rc = -1;
    double v[N_STATE_META];
    for (int i = 0; i < N_STATE_META; i++)
        if (meta_num(r, path, state_keys[i], &v[i])) goto out;
    /* What each number can be: a damaged or edited state is refused, not
     * trained on (a negative batch would index outside the data, a NaN
     * elapsed time would never reach --time). Checked as doubles, before
     * the casts. */
    const double big = 9007199254740992.0; /* 2^53 */
    const struct {
        int i;
        double lo, hi;
        int whole;
    } lim[] = {{0, 0, big, 1},        {1, 0, big, 1},     {2, 0, (double)r->per_epoch, 1}, {3, 0, big, 1},
               {4, 0, 1e12, 0},       {8, 0, INT_MAX, 1}, {9, 0, FLT_MAX, 0},          {11, 0, INT_MAX, 1},
               {13, 0, DBL_MAX, 0},   {14, 0, big, 1}};
    for (size_t k = 0; k < sizeof lim / sizeof *lim; k++) {
        const double x = v[lim[k].i];
        if (!(x >= lim[k].lo && x <= lim[k].hi) || (lim[k].whole && x != floor(x))) {
            rnn_errorf("%s: resume state \"%s\" is %s, outside [%g, %g]: a damaged file", path,
                       state_keys[lim[k].i], state_meta(r, state_keys[lim[k].i]), lim[k].lo, lim[k].hi);
            goto out;
        }
    }
    /* the best validation (a loss, or -accuracy for a classifier; +inf
     * before the first) and the best loss (the plateau schedule's best is
     * NaN until it has one) */
    const int best_ok = r->classify ? (v[7] >= -1 && v[7] <= 0) || v[7] == INFINITY : v[7] >= 0;
    if (!best_ok || !(v[12] >= 0)) {
        const int k = !best_ok ? 7 : 12;
        rnn_errorf("%s: resume state \"%s\" is %s: a damaged file", path, state_keys[k], state_meta(r, state_keys[k]));
        goto out;
    }
    /* ... and how they go together (validate_model sets them): both +inf
     * until the first validation, which no finite loss fails to beat, so no
     * bad evaluation before it; a language model's best is its best loss.
     * A best of 0 put there by hand would keep model.safetensors from ever
     * being written again. The plateau schedule's best: NaN until it has
     * seen a loss, then a loss. */
    const char *bv = state_meta(r, "train.best_val"), *bl = state_meta(r, "train.best_loss"),
               *sb = state_meta(r, "train.sched_best");
    char clash[256] = "";
    if (isinf(v[7]) != isinf(v[12]))
        snprintf(clash, sizeof clash, "\"train.best_val\" is %s but \"train.best_loss\" is %s (both are +inf "
                 "until the first validation)", bv, bl);
    else if (!r->classify && v[7] != v[12])
        snprintf(clash, sizeof clash, "\"train.best_val\" is %s but \"train.best_loss\" is %s (a language "
                 "model's are the same validation loss)", bv, bl);
    else if (isinf(v[7]) && v[8] != 0)
        snprintf(clash, sizeof clash, "\"train.bad_evals\" is %s before any validation", state_meta(r, "train.bad_evals"));
    else if (!isnan(v[10]) && !(v[10] >= 0 && v[10] <= FLT_MAX))
        snprintf(clash, sizeof clash, "\"train.sched_best\" is %s, neither NaN nor a validation loss", sb);
    else if (isnan(v[10]) && v[11] != 0)
        snprintf(clash, sizeof clash, "\"train.sched_bad\" is %s before the schedule saw a loss",
                 state_meta(r, "train.sched_bad"));
    /* The position: every step is one batch, per_epoch of them an epoch (the
     * data's, its fingerprint checked), so step = epoch * per_epoch + batch;
     * a language model's batch is --batch x --seq-len tokens, a classifier's
     * at least one a step. (Exact as doubles: each is below 2^53.) */
    else if (v[0] != v[1] * (double)r->per_epoch + v[2])
        snprintf(clash, sizeof clash, "\"train.step\" is %s but epoch %s of %ld batches and batch %s make %.17g",
                 state_meta(r, "train.step"), state_meta(r, "train.epoch"), r->per_epoch,
                 state_meta(r, "train.batch"), v[1] * (double)r->per_epoch + v[2]);
    else if (!r->classify ? v[3] != v[0] * r->B * r->T : v[3] < v[0])
        snprintf(clash, sizeof clash, "\"train.tokens\" is %s after %s steps of %s", state_meta(r, "train.tokens"),
                 state_meta(r, "train.step"), r->classify ? "at least one token" : "--batch x --seq-len tokens");
    if (*clash) {
        rnn_errorf("%s: resume state %s: a damaged file", path, clash);
        goto out;
    }
    for (int k = 5; k <= 6; k++) { /* the random state: two whole 64-bit numbers, not both 0 */
        const char *t = state_meta(r, state_keys[k]);
        char *end;
        errno = 0;
        unsigned long long u = strtoull(t, &end, 10);
        if (!(*t >= '0' && *t <= '9') || *end || errno) {
            rnn_errorf("%s: resume state \"%s\" is %s, not a 64-bit whole number: a damaged file", path,
                       state_keys[k], t);
            goto out;
        }
        r->rng.s[k - 5] = u;
    }
    if (!r->rng.s[0] && !r->rng.s[1]) {
        rnn_errorf("%s: resume state's random state is 0, 0 (a generator stuck at 0): a damaged file", path);
        goto out;
    }
    r->step = (long)v[0];
    r->epoch = (long)v[1];
    r->batch_in_epoch = (long)v[2];
    r->tokens = (long)v[3];
    r->elapsed_before = v[4];
    r->best_val = v[7];
    r->bad_evals = (int)v[8];
    r->sched.cur_lr = (float)v[9];
    /* The plateau's current lr is state, cut by --factor on each plateau: a
     * resume with another --lr scales it (the cuts made so far kept), as the
     * other schedules take the new --lr as their base. */
    if (r->sched.type == RNN_SCHED_PLATEAU && r->saved_lr > 0 && r->o->lr != r->saved_lr) {
        const float was = r->sched.cur_lr;
        r->sched.cur_lr = fmaxf(was * (r->o->lr / r->saved_lr), r->sched.min_lr);
        say(r, "--lr %g (was %g): the plateau schedule's current lr goes from %g to %g", r->o->lr, r->saved_lr, was,
            r->sched.cur_lr);
    }
    r->sched.best = (float)v[10];
    r->sched.bad_epochs = (int)v[11];
    r->best_loss = v[12];
    r->loss_sum = v[13];
    r->loss_n = (long)v[14];
    r->last_eval_step = r->step; /* the state is saved by a validation, so one was just done */
    r->grid_best_val = r->best_val, r->grid_best_loss = r->best_loss;
    const char *gv = state_meta(r, "train.grid_best_val"), *gl = state_meta(r, "train.grid_best_loss");
    if (gv || gl) {
        double g[2];
        if (meta_num(r, path, "train.grid_best_val", &g[0]) || meta_num(r, path, "train.grid_best_loss", &g[1]))
            goto out;
        /* a best of the grid's validations, so no better than the best of all */
        const int ok = r->classify ? ((g[0] >= -1 && g[0] <= 0) || g[0] == INFINITY) && g[0] >= v[7]
                                   : g[0] >= v[7] && g[0] == g[1];
        if (!ok || !(g[1] >= 0) || isinf(g[0]) != isinf(g[1]) || (isinf(g[0]) && v[8] != 0)) {
            rnn_errorf("%s: resume state \"train.grid_best_val\" %s and \"train.grid_best_loss\" %s do not go with "
                       "\"train.best_val\" %s: a damaged file", path, gv, gl, state_meta(r, "train.best_val"));
            goto out;
        }
        r->grid_best_val = g[0], r->grid_best_loss = g[1];
    }
    const char *ll = state_meta(r, "train.log_losses");
    if (ll) {
        double sum;
        long n;
        int used = 0;
        if (sscanf(ll, "%lf,%ld%n", &sum, &n, &used) != 2 || ll[used] || !(sum >= 0 && sum <= DBL_MAX) || n < 0 ||
            !isdigit((unsigned char)ll[0])) {
            rnn_errorf("%s: resume state \"train.log_losses\" is %s, not a sum and a count: a damaged file", path, ll);
            goto out;
        }
        r->log_loss = sum, r->log_n = n;
    }
    rc = 0;
out:
    return rc;
}

/* The optimizer's step counts: the run's step, and each parameter group's
 * (rnn_optim_update_group: a group frozen for a while has fewer); a state
 * saved before 2026-12-07 has only the step, which every group then takes. */
static int restore_group_steps(run *r, const char *path) {
    rnn_optim_set_steps(r->opt, r->step);
    long g[3] = {r->step, r->step, r->step};
    const char *s = state_meta(r, "train.group_steps");
    if (s) {
        char end;
        if (sscanf(s, "%ld,%ld,%ld%c", &g[0], &g[1], &g[2], &end) != 3 || g[0] < 0 || g[1] < 0 || g[2] < 0 ||
            g[0] > r->step || g[1] > r->step || g[2] > r->step)
            return rnn_errorf("%s: resume state \"train.group_steps\" is %s, not three step counts of at most %ld: "
                              "a damaged file", path, rnn_show(s).s, r->step);
    }
    rnn_optim_set_group_steps(r->opt, RNN_GROUP_EMBED, g[0]);
    rnn_optim_set_group_steps(r->opt, RNN_GROUP_ENCODER, g[1]);
    rnn_optim_set_group_steps(r->opt, RNN_GROUP_HEAD, g[2]);
    return 0;
}

static int load_state(run *r) {
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "state.safetensors");
    const rnn_st *st = r->state;
    int rc = -1;
    /* the data first: changed data would read as a damaged batch number */
    if (check_data_prints(r) || restore_counters(r) || restore_group_steps(r, path)) goto out;
    for (int i = 0; i < rnn_optim_num_buffers(r->opt); i++) {
        const char *bn;
        float *buf = rnn_optim_buffer(r->opt, i, &bn);
        char name[64];
        snprintf(name, sizeof name, "train.optim.%s", bn);
        if (rnn_st_read_f32(st, name, buf, r->m->n_floats, 0, NULL) ||
            check_finite(path, name, buf, r->m->n_floats, !strcmp(bn, "exp_avg_sq") || !strcmp(bn, "square_avg")))
            goto out;
    }
    if (r->ema && (rnn_st_read_f32(st, "train.ema", r->ema, r->m->n_floats, 0, NULL) ||
                   check_finite(path, "train.ema", r->ema, r->m->n_floats, 0)))
        goto out;
    size_t state_n = (size_t)r->m->c.num_layers * r->m->D * r->B * r->m->c.hidden_dim;
    if (!r->classify && (rnn_st_read_f32(st, "train.h0", r->a->h0, state_n, 0, NULL) ||
                         rnn_st_read_f32(st, "train.c0", r->a->c0, state_n, 0, NULL) ||
                         check_finite(path, "train.h0", r->a->h0, state_n, 0) ||
                         check_finite(path, "train.c0", r->a->c0, state_n, 0)))
        goto out;
    rc = 0;
out:
    return rc;
}

static int save_model(run *r, const char *name) {
    char path[2 * RNN_OPT_STR], layout[RNN_OPT_STR + 128];
    path_in(path, sizeof path, r, name);
    /* a classifier's data columns as given (rnn eval reads a file so unless told otherwise);
     * a JSON lines file or a directory has none */
    const rnn_opts *o = r->o;
    const char *key = "data_layout", *val = layout;
    const int tabular = strcmp(o->format, "jsonl") && strcmp(o->format, "json") && strcmp(o->format, "dir");
    const int given = r->classify && tabular && (strcmp(o->format, "auto") || o->label_col > 1 || o->text_cols[0] ||
                                                 strcmp(o->header, "auto"));
    char cols[sizeof o->text_cols];
    size_t nc = 0;
    for (const char *c = o->text_cols; *c; c++) /* "2, +3" as the loader reads it: "2,3" */
        if (strchr("0123456789,-", *c)) cols[nc++] = *c;
    cols[nc] = 0;
    if (given) rnn_layout_json(layout, sizeof layout, o->format, o->header, o->label_col > 1 ? o->label_col : 1, cols);
    return rnn_checkpoint_save(path, r->m, r->tok, r->labels, r->n_labels, r->label_base, &key, &val, given, NULL, 0);
}

/* last.safetensors when this validation is also the best: the bytes of
 * model.safetensors, just written, so a second name for that file (a hard
 * link) instead of a second copy of the weights. The link is made under a
 * temporary name and renamed over last.safetensors, so that the name is
 * replaced in one step, as every save replaces its file; the next save of
 * either name renames a new file over it, so the other keeps its bytes.
 * Where the file system has no hard links, the file is written again. */
static int save_last_as_best(run *r) {
    char model[2 * RNN_OPT_STR], last[2 * RNN_OPT_STR];
    path_in(model, sizeof model, r, "model.safetensors");
    path_in(last, sizeof last, r, "last.safetensors");
    if (rnn_replace_with_link(model, last) == 0) return 0;
    return save_model(r, "last.safetensors");
}

/* ---- the loop ------------------------------------------------------------- */

/* What a callback is told; the caller fills in the validation fields. */
static rnn_train_event event(const run *r, int kind, double loss, float lr, double tok_s) {
    rnn_train_event e = {kind, r->step, r->epoch, elapsed(r), r->tokens, loss, NAN, NAN, lr, tok_s, 0, r->dir};
    return e;
}

/* After each step: step_loss and n_tok are the step's own (a skipped step's
 * loss NaN); loss and tok_s the progress bar's, over its window (pace). */
static void progress(run *r, double step_loss, long n_tok, double loss, double tok_s, float lr) {
    const rnn_opts *o = r->o;
    double el = elapsed(r), frac = -1;
    if (!isnan(step_loss)) r->log_loss += step_loss, r->log_n++;
    r->log_tokens += n_tok;
    if (o->log_every > 0 && r->step % o->log_every == 0) { /* train.log has every line the terminal may not */
        const double now = rnn_now(), mean = r->log_n ? r->log_loss / r->log_n : NAN;
        char line[256];
        snprintf(line, sizeof line, "step %ld epoch %ld loss %.4f lr %.3e %.0f tok/s elapsed %.1fs", r->step,
                 r->epoch, nosign(mean), nosign(lr), now > r->log_t ? r->log_tokens / (now - r->log_t) : 0.0, el);
        log_line(r, !r->quiet && !r->bar, line);
        r->log_loss = 0, r->log_n = r->log_tokens = 0, r->log_t = now;
    }
    if (r->quiet || !r->bar) return;
    /* ten redraws a second at most: a terminal takes them all */
    const double now = rnn_now();
    if (now - r->bar_t < 0.1 && r->step != r->total_steps) return;
    r->bar_t = now;
    if (r->total_steps > 0) frac = (double)r->step / r->total_steps;
    if (o->time > 0 && el / o->time > frac) frac = el / o->time;
    char eta[32] = "?";
    if (frac > 0) {
        long s = (long)((1.0 - frac) * (el / frac));
        snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
    }
    /* One line, narrower than the terminal: a line that wraps leaves its
     * first part behind at every redraw (\033[K clears the last row only).
     * The bar narrows (24 columns at most, 8 at least, else none), then the
     * line's end is cut. */
    char barbuf[32], tail[160], line[256];
    snprintf(tail, sizeof tail, "loss %.4f | %.0f tok/s | lr %.2e | ETA %s", nosign(loss), tok_s, nosign(lr), eta);
    struct winsize ws;
    const int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    int n = snprintf(line, sizeof line, "step %ld [] %s", r->step, tail);
    const int width = cols - 1 - n < 24 ? cols - 1 - n : 24, fill = frac > 0 ? (int)(frac * width) : 0;
    if (width >= 8) {
        for (int i = 0; i < width; i++) barbuf[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        barbuf[width] = 0;
        n = snprintf(line, sizeof line, "step %ld [%s] %s", r->step, barbuf, tail);
    } else {
        n = snprintf(line, sizeof line, "step %ld %s", r->step, tail);
    }
    if (n >= cols) line[cols > 1 ? cols - 1 : 0] = 0;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

/* Redraws metrics.svg from metrics.csv. A plot that cannot be written is
 * worth a warning (once), not the run. */
static void plot(run *r, int final) {
    /* At most every 2 s: the csv is read whole each time, and --eval-every 1
     * would make that quadratic. The end of the run always draws. */
    double now = rnn_now();
    if (!final && now - r->plot_time < 2.0) return;
    r->plot_time = now;
    char csv[2 * RNN_OPT_STR], svg[2 * RNN_OPT_STR];
    path_in(csv, sizeof csv, r, "metrics.csv");
    path_in(svg, sizeof svg, r, "metrics.svg");
    char note[1024]; /* (said as the run's other lines: an API host's stderr stays quiet) */
    if (rnn_plot_metrics_note(csv, svg, r->dir, note, sizeof note)) {
        if (!r->plot_failed) say(r, "warning: no metrics.svg: %s", rnn_last_error());
        r->plot_failed = 1;
    } else if (note[0] && !r->plot_noted) { /* (once: an old run's superseded rows stay in its csv) */
        say(r, "%s", note);
        r->plot_noted = 1;
    }
}

/* A validation loss past this many nats per token (or example) means the
 * run diverged even though every weight is finite: the model gives the true
 * token a mean probability below e^-700, under what a double holds (its
 * perplexity prints as inf), and weights that big (~1e30 after an --lr of
 * 1e30) overflow other orders of the same sums, as the sampler's, to NaN. */
#define DIVERGED_LOSS 700.0

/* The message of a run that diverged at this validation: its weights are
 * not saved. Its checkpoints (saved before, by this process or by the run it
 * resumes) keep the last good ones; a resume that saved none puts config.txt
 * back as it was, so that a plain --resume goes on with the options that
 * trained them. */
static int diverged(run *r, const char *what, double value) {
    char path[2 * RNN_OPT_STR], kept[160];
    const int resumed = r->resumed;
    int put_back = 0;
    if (resumed && r->saved_step < 0 && r->config_was) {
        path_in(path, sizeof path, r, "config.txt");
        put_back = rnn_write_atomic(path, r->config_was, r->config_was_len) == 0;
    }
    if (r->saved_step >= 0)
        snprintf(kept, sizeof kept, "last.safetensors and the resume state keep step %ld's (model.safetensors the best)",
                 r->saved_step);
    else if (resumed)
        snprintf(kept, sizeof kept, "the run's checkpoints keep those it resumed from%s",
                 put_back ? ", and config.txt its options" : "");
    else
        snprintf(kept, sizeof kept, "no checkpoint was saved");
    return rnn_errorf("step %ld: %s %g: training diverged (try a lower --lr or --clip); its weights are not saved: %s",
                      r->step, what, nosign(value), kept);
}

/* A validation's key (its loss, or a classifier's -accuracy) and loss beat
 * a best (best_val, best_loss): a lower key, or a classifier's equal
 * accuracy at a lower loss. */
static int beats(const run *r, double key, double loss, double best_val, double best_loss) {
    return !(key > best_val) && !(key == best_val && (!r->classify || loss >= best_loss));
}

/* Validates the model in r->m (with --ema, the average), logs the result and
 * saves model.safetensors (when better) and last.safetensors. */
static int validate_model(run *r, float lr, double tok_s, int *stop) {
    double loss = NAN, acc = NAN, f1 = NAN, now = rnn_now();
    const double row_tok_s = now > r->row_t ? (r->tokens - r->row_tokens) / (now - r->row_t) : 0.0;
    /* The mean training loss since the last validation: deterministic (and
     * kept in the resume state), unlike the progress display's window. */
    double train_loss = r->loss_n ? r->loss_sum / r->loss_n : NAN;
    if (!r->off_grid) { /* a stop's validation keeps the sum: a resume's next row counts what the straight run's does */
        r->loss_sum = 0;
        r->loss_n = 0;
    }
    /* Validation measures the model as it will be used: in fp32, also in a
     * --precision bf16 run (whose fp32 master weights are the model). */
    rnn_precision prec = rnn_gemm_precision();
    rnn_gemm_set_precision(RNN_FP32);
    int bad;
    char plain[96] = "";
    if (r->classify) {
        rnn_cls_metrics mt;
        bad = rnn_cls_evaluate(r->m, &r->cval, r->B, &mt);
        if (!bad) {
            loss = mt.loss, acc = mt.accuracy, f1 = mt.macro_f1;
            rnn_cls_metrics_free(&mt);
        }
    } else {
        rnn_lm_eval ev = {0};
        bad = rnn_lm_evaluate_stream(r->m, &r->val, r->B, r->T, NULL, NULL, &ev);
        loss = ev.loss, acc = ev.accuracy;
        if (!bad && r->m->c.cache_size > 0)
            snprintf(plain, sizeof plain, " (without the cache: loss %.4f acc %.4f)", nosign(ev.model_loss),
                     nosign(ev.model_accuracy));
    }
    rnn_gemm_set_precision(prec);
    if (bad) return -1;
    r->last_val = loss;
    r->last_eval_step = r->step;
    /* Classifiers keep the most accurate model (the lower loss on a tie),
     * language models the lowest loss. best_val holds -accuracy then. */
    double key = r->classify ? -acc : loss;
    const int loss_bad = !isfinite(loss) || loss > DIVERGED_LOSS; /* (then the run stops below) */
    const int better = !loss_bad && beats(r, key, loss, r->best_val, r->best_loss);
    const int grid_better = !loss_bad && beats(r, key, loss, r->grid_best_val, r->grid_best_loss);
    if (r->classify)
        say(r, "step %ld epoch %ld: val loss %.4f acc %.4f macro-F1 %.4f%s", r->step, r->epoch, nosign(loss),
            nosign(acc), nosign(f1), better ? " *best*" : "");
    else
        say(r, "step %ld epoch %ld: val loss %.4f (ppl %.2f) acc %.4f%s%s", r->step, r->epoch, nosign(loss),
            nosign(exp(loss)), nosign(acc), plain, better ? " *best*" : "");
    fprintf(r->metrics, "%ld,%.3f,%ld,%.6f,%.6f,%.6f,%.6f,%.6e,%.1f\n", r->step, elapsed(r), r->tokens,
            nosign(train_loss), nosign(loss), nosign(acc), nosign(f1), nosign(lr), row_tok_s);
    fflush(r->metrics);
    plot(r, 0);
    /* Keep the saved models and state, the last usable ones, when the loss
     * is not finite or past DIVERGED_LOSS, or any weight is not finite (a
     * weight no validation text reaches, such as a padding row, can be NaN
     * under a finite loss). */
    const float *w = r->m->w;
    const size_t bad_at = loss_bad ? 0 : rnn_nonfinite_at(w, r->m->n_floats);
    if (loss_bad || bad_at < r->m->n_floats)
        return diverged(r, loss_bad ? "the validation loss is" : "a weight is", loss_bad ? loss : w[bad_at]);
    if (better) {
        r->best_val = key;
        r->best_loss = loss;
        if (save_model(r, "model.safetensors")) return -1;
    }
    if (!r->off_grid) { /* (off the grid the run stops: nothing to count for) */
        if (grid_better) {
            r->grid_best_val = key;
            r->grid_best_loss = loss;
            r->bad_evals = 0;
        } else if (++r->bad_evals, r->o->patience > 0 && r->bad_evals >= r->o->patience) {
            say(r, "early stopping: no improvement in %d evaluations", r->bad_evals);
            *stop = 1;
        }
        rnn_sched_observe(&r->sched, (float)loss);
    }
    if (better ? save_last_as_best(r) : save_model(r, "last.safetensors")) return -1;
    if (r->cb) {
        rnn_train_event e = event(r, RNN_EVENT_EVAL, loss, lr, tok_s);
        e.accuracy = acc;
        e.macro_f1 = f1;
        e.best = better;
        if (r->cb(&e, r->user)) *stop = 1;
    }
    return 0;
}

/* Validation and the saved models see the average of --ema, the resume
 * state the raw weights training goes on from. */
static int validate(run *r, float lr, double tok_s, int *stop) {
    ema_swap(r);
    int rc = validate_model(r, lr, tok_s, stop);
    ema_swap(r);
    if (rc || (rc = save_state(r))) return rc;
    r->saved_step = r->step;
    r->row_t = rnn_now(), r->row_tokens = r->tokens;
    return 0;
}

/* config.txt: the options in effect, usable as --config and read by
 * --resume; a resume writes it again with its own (a new --steps, say), in
 * one piece, so that it is never lost. */
static int write_config(run *r, int resuming) {
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "config.txt");
    rnn_opts o = *r->o, was;
    rnn_opts_default(&was);
    /* kept to put back should the resume diverge before it saves (validate_model) */
    r->resumed = resuming;
    if (resuming && !r->config_was) r->config_was = rnn_read_file(path, &r->config_was_len);
    if (resuming && !rnn_opts_load_file(&was, path)) { /* how the run started: a resume drops them */
        memcpy(o.init_from, was.init_from, sizeof o.init_from);
        memcpy(o.init_backward, was.init_backward, sizeof o.init_backward);
    }
    char *cfg = rnn_opts_to_string(&o);
    if (!cfg) return -1;
    const int rc = rnn_write_atomic(path, cfg, strlen(cfg));
    free(cfg);
    return rc;
}

/* A resume's metrics.csv: the rows of steps after the state's, which a run
 * logged and then failed to save the state of (a full disk), are dropped,
 * so that the steps it trains again are not listed twice. */
static int trim_metrics(run *r) {
    char path[2 * RNN_OPT_STR];
    path_in(path, sizeof path, r, "metrics.csv");
    size_t n;
    char *text = rnn_read_file(path, &n);
    if (!text) return access(path, F_OK) == 0 ? -1 : 0; /* none: a new one is started */
    size_t keep = 0;
    for (char *line = text, *end; line < text + n; line = end + 1) {
        if (!(end = memchr(line, '\n', (size_t)(text + n - line)))) break; /* a torn last line goes too */
        char *e;
        const long step = strtol(line, &e, 10);
        if (line != text && (e == line || *e != ',' || step > r->step)) break;
        keep = (size_t)(end + 1 - text);
    }
    int rc = 0;
    if (keep < n) {
        say(r, "note: %s had rows after step %ld, whose state was never saved; dropped, as those steps are trained "
               "again", path, r->step);
        rc = rnn_write_atomic(path, text, keep);
    }
    free(text);
    return rc;
}

/* The run directory: made (or found), and checked. Nothing is written in it
 * until the run's setup succeeds (start_run_files), so that a run that fails
 * on its data or flags leaves an --out as it was. */
static int open_run_dir(run *r, int resuming) {
    const rnn_opts *o = r->o;
    if (resuming) {
        snprintf(r->dir, sizeof r->dir, "%s", o->resume);
    } else if (o->out[0]) {
        snprintf(r->dir, sizeof r->dir, "%s", o->out);
    } else { /* runs/<time>, made here and now: two runs in one second get -2, -3 ... */
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        if (make_dir("runs", &r->made_from)) return -1;
        for (int k = 1;; k++) {
            if (k == 1) snprintf(r->dir, sizeof r->dir, "runs/%s", stamp);
            else snprintf(r->dir, sizeof r->dir, "runs/%s-%d", stamp, k);
            if (mkdir(r->dir, 0777) == 0) {
                if (!r->made_from) r->made_from = strlen(r->dir);
                break;
            }
            if (errno != EEXIST || k == 1000)
                return rnn_errorf("%s: cannot create directory: %s", r->dir, strerror(errno));
        }
    }
    struct stat st;
    if (resuming && stat(r->dir, &st)) return rnn_errorf("--resume %s: %s", r->dir, strerror(errno));
    if (!r->made_from) { /* --out or --resume: found, or made here */
        if (stat(r->dir, &st)) {
            if (make_dir(r->dir, &r->made_from)) return -1;
        } else if (!S_ISDIR(st.st_mode)) {
            return rnn_errorf("%s: not a directory (--%s names the run's directory)", r->dir,
                              resuming ? "resume" : "out");
        }
    }
    /* One run at a time in a directory: two (a resume started twice) would
     * write each other's checkpoints. A file system without locks goes on
     * without. */
    const int fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        r->dir_lock = fd + 1;
    } else if (fd >= 0) {
        const int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return rnn_errorf("%s: another rnn train is using this run directory now (two runs in one would write "
                              "each other's checkpoints)", r->dir);
    }
    char path[2 * RNN_OPT_STR];
    if (!resuming && !o->overwrite) /* never replace a run's checkpoints unasked */
        for (int i = 0; i < 3; i++) {
            static const char *const kept[] = {"model.safetensors", "last.safetensors", "state.safetensors"};
            path_in(path, sizeof path, r, kept[i]);
            if (access(path, F_OK) == 0)
                return rnn_errorf("%s already holds a run (%s): choose another --out (a run's config.txt used as "
                                  "--config names its own), --resume %s continues it, or --overwrite deletes it "
                                  "and trains anew", r->dir, kept[i], r->dir);
        }
    return 0;
}

/* A run killed while it saved a file left that file's temporary copy
 * (NAME.tmp.XXXXXX, beside it; the file itself is whole): removed when the
 * directory's next run starts, holding its lock, and said in train.log. */
static void remove_stale_temps(run *r) {
    static const char *const ours[] = {"model.safetensors", "last.safetensors", "state.safetensors", "config.txt",
                                       "metrics.svg"};
    if (!r->dir_lock) return; /* (without the lock another run's copy could be in the making) */
    DIR *d = opendir(r->dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
            const size_t l = strlen(ours[i]);
            if (strncmp(e->d_name, ours[i], l) || strncmp(e->d_name + l, ".tmp.", 5) || strlen(e->d_name + l + 5) != 6)
                continue;
            char path[2 * RNN_OPT_STR];
            path_in(path, sizeof path, r, e->d_name);
            n += unlink(path) == 0;
        }
    if (d) closedir(d);
    if (n) say(r, "note: removed %d temporary file%s left by a run killed while it saved", n, n == 1 ? "" : "s");
}

/* The run's files, once its setup succeeded: config.txt, train.log (with
 * what was said so far) and metrics.csv, new or appended to on a resume.
 * --overwrite removes the old run's checkpoints and plot here, so that the
 * directory never holds parts of two runs. */
static int start_run_files(run *r, int resuming) {
    char path[2 * RNN_OPT_STR];
    if (!resuming && r->o->overwrite)
        for (int i = 0; i < 4; i++) {
            static const char *const old[] = {"model.safetensors", "last.safetensors", "state.safetensors",
                                              "metrics.svg"};
            path_in(path, sizeof path, r, old[i]);
            if (unlink(path) && errno != ENOENT) return rnn_errorf("%s: cannot remove: %s", path, strerror(errno));
        }
    remove_stale_temps(r);
    if (write_config(r, resuming) || (resuming && trim_metrics(r))) return -1;
    path_in(path, sizeof path, r, "train.log");
    if (!(r->log = fopen(path, resuming ? "a" : "w"))) return rnn_errorf("%s: cannot write: %s", path, strerror(errno));
    path_in(path, sizeof path, r, "metrics.csv");
    if (!(r->metrics = fopen(path, resuming ? "a" : "w"))) return rnn_errorf("%s: cannot write: %s", path, strerror(errno));
    if (!resuming) fprintf(r->metrics, "step,elapsed_s,tokens,train_loss,val_loss,val_acc,val_macro_f1,lr,tokens_per_s\n");
    if (r->pending) fputs(r->pending, r->log), fflush(r->log);
    free(r->pending);
    r->pending = NULL;
    return 0;
}

/* --init-backward: the backward LM's single layer into the reverse direction
 * of a 1-layer bidirectional classifier whose forward direction and
 * embedding come from the forward LM. */
static int init_backward(run *r, const rnn_model *fwd) {
    const rnn_opts *o = r->o;
    rnn_checkpoint bk = {0};
    int rc = -1;
    if (rnn_checkpoint_load(&bk, o->init_backward)) return -1;
    const rnn_config *b = &bk.model->c, *f = &fwd->c;
    /* With --grow-vocab both LMs still read as the forward one did before it
     * grew; the classifier's embedding, grown, is the forward LM's. */
    const rnn_tokenizer *tok = r->tok_before ? r->tok_before : r->tok;
    const int V = r->grown_from ? r->grown_from : f->vocab_size;
    if (b->task != RNN_TASK_LM || !b->reverse) {
        rnn_errorf("--init-backward %s: not a backward language model (train one with --reverse)", o->init_backward);
    } else if (b->cell != f->cell || b->embed_dim != f->embed_dim || b->hidden_dim != f->hidden_dim ||
               b->num_layers != f->num_layers || b->vocab_size != V) {
        rnn_errorf("--init-backward %s: its shape (%s %dx%d, embed %d, vocab %d) differs from --init-from's "
                   "(%s %dx%d, embed %d, vocab %d)", o->init_backward, rnn_cell_name(b->cell), b->num_layers,
                   b->hidden_dim, b->embed_dim, b->vocab_size, rnn_cell_name(f->cell), f->num_layers,
                   f->hidden_dim, f->embed_dim, V);
    } else if (rnn_tokenizer_check_same(bk.tok, tok)) {
        char why[256];
        snprintf(why, sizeof why, "%s", rnn_last_error());
        rnn_errorf("--init-backward %s: its tokenizer differs from that of --init-from %s (%s); train the backward LM "
                   "with --init-from %s --freeze-embedding --reverse so that both read text alike",
                   o->init_backward, o->init_from, why, o->init_from);
    } else { /* (1 layer each: make_classifier checked the forward one, the shapes are the same) */
        rnn_dir_weights *d = &r->m->dirs[1].w;
        const rnn_dir_weights *s = &bk.model->dirs[0].w;
        const size_t G = (size_t)rnn_cell_gates(f->cell), H = f->hidden_dim, E = f->embed_dim;
        memcpy(d->w_ih, s->w_ih, sizeof(float) * G * H * E);
        memcpy(d->w_hh, s->w_hh, sizeof(float) * G * H * H);
        memcpy(d->b_ih, s->b_ih, sizeof(float) * G * H);
        memcpy(d->b_hh, s->b_hh, sizeof(float) * G * H);
        if (memcmp(bk.model->emb, fwd->emb, sizeof(float) * E * V))
            say(r, "warning: the backward LM's embedding differs from the forward one's, which the "
                   "classifier takes (train the backward LM with --init-from FORWARD --freeze-embedding --reverse)");
        say(r, "initialised the backward direction from %s", o->init_backward);
        rc = 0;
    }
    rnn_checkpoint_free(&bk);
    return rc;
}

/* The model of a new classifier, or of one initialised from a language
 * model (--init-from: its embedding and recurrent stack; ULMFiT's transfer). */
static int make_classifier(run *r, const rnn_model *lm) {
    rnn_config c;
    if (config_from_opts(r->o, &c, rnn_tokenizer_vocab_size(r->tok))) return -1;
    c.num_classes = r->n_labels;
    c.padding_id = rnn_tokenizer_pad_id(r->tok);
    if (lm) { /* the encoder's shape comes from the language model */
        c.cell = lm->c.cell;
        c.embed_dim = lm->c.embed_dim;
        c.hidden_dim = lm->c.hidden_dim;
        c.num_layers = lm->c.num_layers;
        c.bidirectional = lm->c.bidirectional || r->o->init_backward[0];
        c.residual = lm->c.residual;
    } else if (r->o->init_backward[0]) {
        return rnn_errorf("--init-backward needs --init-from FORWARD_LM");
    }
    if (lm && lm->c.reverse)
        return rnn_errorf("%s: a backward (--reverse) LM goes in --init-backward; --init-from takes the forward one",
                          r->o->init_from);
    if (lm && r->o->init_backward[0] && lm->c.bidirectional) /* its head reads the backward direction it has */
        return rnn_errorf("--init-backward %s: the model of --init-from %s is bidirectional already (its backward "
                          "direction and head trained together); start from a forward language model or a "
                          "one-direction classifier", r->o->init_backward, r->o->init_from);
    if (lm && r->o->init_backward[0] && lm->c.num_layers != 1) /* (before the copy, which would fail first) */
        return rnn_errorf("--init-backward needs 1-layer language models (a bidirectional stack's upper layers "
                          "read both directions, which no single LM has learnt); --init-from %s has %d layers",
                          r->o->init_from, lm->c.num_layers);
    if (c.loss == RNN_LOSS_BCE && c.num_classes != 2)
        return rnn_errorf("--loss bce needs exactly 2 classes (the data has %d)", c.num_classes);
    if (check_fits(r, &c, rnn_config_num_floats(&c)) || !(r->m = rnn_model_create(&c))) return -1;
    rnn_model_init(r->m, (uint64_t)r->o->seed);
    if (lm) {
        /* A classifier's attention carries over where the pooling is the
         * same, and its head where the classes and the loss are too. */
        const rnn_config *mc = &lm->c;
        const int cls = mc->task == RNN_TASK_CLASSIFY, width = c.bidirectional == mc->bidirectional;
        const int same_pool = c.pool == mc->pool && (c.pool != RNN_POOL_ATTENTION || c.attention_dim == mc->attention_dim);
        const int pool = cls && width && same_pool, head = pool && r->same_classes && c.loss == mc->loss;
        int n = rnn_checkpoint_copy_params(r->m, lm, (pool ? RNN_COPY_POOLING : 0) | (head ? RNN_COPY_HEAD : 0));
        if (n < 0) return -1;
        if (head)
            say(r, "initialised %d tensors (the whole classifier: the data's classes are its %d) from %s", n,
                mc->num_classes, r->o->init_from);
        else
            say(r, "initialised %d tensors (embedding, recurrent layers%s) from %s%s", n,
                pool && c.pool == RNN_POOL_ATTENTION ? ", attention pooling" : "", r->o->init_from,
                !cls                  ? ""
                : !r->same_classes    ? "; a new head for the data's classes, which are not the model's"
                : !same_pool          ? "; a new head for the pooling asked for (the model's is another)"
                : c.loss != mc->loss  ? "; a new head for --loss (the model's is another)"
                                      : "; a new head for the backward direction (--init-backward)");
        if (r->o->init_backward[0] && init_backward(r, lm)) return -1;
        /* a language model's <pad> row, never trained, is the classifier's
         * padding row: zero, as a fresh classifier's (PyTorch's padding_idx) */
        if (c.padding_id >= 0) memset(r->m->emb + (size_t)c.padding_id * c.embed_dim, 0, sizeof(float) * c.embed_dim);
    }
    if (r->o->vectors[0] && load_vectors(r)) return -1;
    return 0;
}

/* --tokenizer wordpiece:FILE with --init-from: FILE must hold the model's
 * vocabulary (a script may pass the flags it trained with), else -1 with
 * the first difference. */
static int same_vocab_file(const rnn_opts *e, const rnn_tok_options *want, const rnn_tokenizer *tok) {
    rnn_tok_options o = *rnn_tokenizer_options(tok);
    o.vocab_file = want->vocab_file;
    rnn_tokenizer *t = rnn_tokenizer_build(&o, "", 0);
    if (!t) return -1;
    int rc = 0;
    if (rnn_tokenizer_check_same(t, tok)) {
        char why[256];
        snprintf(why, sizeof why, "%s", rnn_last_error());
        rc = rnn_errorf("--tokenizer %s: its vocabulary is not that of --init-from %s (%s), and fine-tuning keeps "
                        "its tokenizer", e->tokenizer, e->init_from, why);
    }
    rnn_tokenizer_free(t);
    return rc;
}

/* --init-from's model fixes the shape of the one trained (a classifier takes
 * its encoder's, and a classifier's pooling unless given) and the tokenizer:
 * a flag given (on the command line or in a --config file) that asks for
 * another is refused, and the options in effect take the model's values, so
 * that config.txt says what is trained. */
static int adopt_shape(run *r, const rnn_config *mc, const rnn_tokenizer *tok) {
    rnn_opts def, *e = &r->eff;
    rnn_opts_default(&def);
    const struct {
        const char *flag;
        int *opt, model;
    } dims[] = {{"layers", &e->layers, mc->num_layers},
                {"hidden", &e->hidden, mc->hidden_dim},
                {"embed", &e->embed, mc->embed_dim}};
    /* What the model's config holds but its architecture does not use (a
     * config written by hand or by PyTorch, e.g. cell none with a hidden_dim,
     * or residual on one layer) is not adopted: rnn_opts_check_unused would
     * refuse it as a flag that does nothing, one this run was never given. */
    const int recurrent = mc->cell != RNN_CELL_NONE, stacked = recurrent && mc->num_layers >= 2;
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        if (!recurrent && dims[i].opt != &e->embed) continue; /* cell none: no layers, no hidden width */
        if (rnn_opts_given(e, dims[i].flag) && *dims[i].opt != dims[i].model)
            return rnn_errorf("--%s %d: the model of --init-from %s has %d, and fine-tuning keeps its shape",
                              dims[i].flag, *dims[i].opt, e->init_from, dims[i].model);
        *dims[i].opt = dims[i].model;
    }
    const struct {
        const char *flag;
        int *opt, model;
    } bools[] = {{"bidirectional", &e->bidirectional,
                  recurrent && (mc->bidirectional || (r->classify && e->init_backward[0]))},
                 {"residual", &e->residual, stacked && mc->residual}, /* a classifier's head is new: */
                 {"tie-weights", &e->tie_weights, r->classify ? e->tie_weights : mc->tie_weights}};
    for (size_t i = 0; i < sizeof bools / sizeof *bools; i++) {
        if (*bools[i].opt && !bools[i].model)
            return rnn_errorf("--%s: the model of --init-from %s has none%s, and fine-tuning keeps its architecture",
                              bools[i].flag, e->init_from,
                              strcmp(bools[i].flag, "bidirectional") || !r->classify
                                  ? ""
                                  : " (a bidirectional classifier takes its backward direction from --init-backward)");
        if (!*bools[i].opt && bools[i].model && rnn_opts_given(e, bools[i].flag))
            return rnn_errorf("--%s=false: the model of --init-from %s has %s on, and fine-tuning keeps its "
                              "architecture", bools[i].flag, e->init_from, bools[i].flag);
        *bools[i].opt = bools[i].model;
    }
    const char *cell = rnn_cell_name(mc->cell);
    if (rnn_opts_given(e, "cell") && strcmp(e->cell, cell))
        return rnn_errorf("--cell %s: the model of --init-from %s is a %s", e->cell, e->init_from, cell);
    snprintf(e->cell, sizeof e->cell, "%s", cell);
    rnn_tok_options want;
    if (e->tokenizer[0] && (rnn_tok_parse_type(e->tokenizer, &want) || want.type != rnn_tokenizer_type(tok)))
        return rnn_errorf("--tokenizer %s: fine-tuning keeps the tokenizer of --init-from %s", e->tokenizer,
                          e->init_from);
    if (e->tokenizer[0] && want.type == RNN_TOK_WORDPIECE && same_vocab_file(e, &want, tok)) return -1;
    /* config.txt names the model's (a WordPiece model's pieces come with it, their file unnamed) */
    if (!e->tokenizer[0] && rnn_tokenizer_type(tok) != RNN_TOK_WORDPIECE)
        snprintf(e->tokenizer, sizeof e->tokenizer, "%s", rnn_tok_type_name(rnn_tokenizer_type(tok)));
    /* The tokenizer's options too: its vocabulary and text handling come with it. */
    const rnn_tok_options *to = rnn_tokenizer_options(tok);
    const struct {
        const char *flag;
        int opt, model;
    } tflags[] = {{"lowercase", e->lowercase, to->lowercase},
                  {"split-punct", e->split_punct, to->split_punct},
                  {"strip-html", e->strip_html, to->strip_html},
                  {"replace-invalid", e->replace_invalid ? 1 : -1, to->invalid_utf8_replace}};
    for (size_t i = 0; i < sizeof tflags / sizeof *tflags; i++)
        if (tflags[i].opt >= 0 && !tflags[i].opt != !tflags[i].model)
            return rnn_errorf("--%s%s: the tokenizer of --init-from %s has %s %s, and fine-tuning keeps its tokenizer",
                              tflags[i].flag, tflags[i].opt ? "" : "=false", e->init_from, tflags[i].flag,
                              tflags[i].model ? "on" : "off");
    /* A language model's neural cache: the model's settings unless given
     * (--cache 0 turns it off), so that config.txt says what validates. */
    if (!r->classify) {
        if (!rnn_opts_given(e, "cache")) e->cache = mc->cache_size;
        if (e->cache > 0 && mc->cache_size > 0) {
            if (!rnn_opts_given(e, "cache-theta")) e->cache_theta = mc->cache_theta;
            if (!rnn_opts_given(e, "cache-lambda")) e->cache_lambda = mc->cache_lambda;
        }
    }
    /* A classifier's pooling too (its head is new, or carried over when the
     * data's classes are the model's: same_classes). */
    if (r->classify && mc->task == RNN_TASK_CLASSIFY) {
        if (!rnn_opts_given(e, "pool")) snprintf(e->pool, sizeof e->pool, "%s", rnn_pool_name(mc->pool));
        if (!rnn_opts_given(e, "attention-dim") && mc->pool == RNN_POOL_ATTENTION && !strcmp(e->pool, "attention"))
            e->attention_dim = mc->attention_dim;
    }
    if (!e->grow_vocab && (e->min_count != def.min_count || e->max_vocab != def.max_vocab))
        return rnn_errorf("--%s: fine-tuning keeps the vocabulary of --init-from %s (--grow-vocab adds to it)",
                          e->min_count != def.min_count ? "min-count" : "max-vocab", e->init_from);
    /* --grow-vocab adds the words the new text holds as often as the model's
     * vocabulary asked of its own text, unless told otherwise */
    if (e->grow_vocab && !rnn_opts_given(e, "min-count") && to->min_count > 0) e->min_count = to->min_count;
    /* The weights come from the model: its LSTM's forget-gate biases as
     * trained (--forget-bias acts at initialisation only), and a backward
     * language model reads right to left (a forward one may become one:
     * --reverse, the backward LM of a bidirectional classifier). */
    if (recurrent && rnn_opts_given(e, "forget-bias") && e->forget_bias != mc->forget_bias)
        return rnn_errorf("--forget-bias %g: the weights of --init-from %s are trained ones (the bias is added at "
                          "initialisation only)", e->forget_bias, e->init_from);
    if (mc->cell == RNN_CELL_LSTM) e->forget_bias = mc->forget_bias;
    if (!r->classify && mc->reverse && rnn_opts_given(e, "reverse") && !e->reverse)
        return rnn_errorf("--reverse=false: the model of --init-from %s is a backward language model, and "
                          "fine-tuning keeps its direction", e->init_from);
    if (!r->classify && mc->reverse) e->reverse = 1; /* config.txt says so: as a --config, it fine-tunes on */
    return 0;
}

/* Loads the model and tokenizer of --resume / --init-from, checking the task. */
static int load_start(run *r, int resuming, rnn_checkpoint *ck) {
    const rnn_opts *o = r->o;
    char path[2 * RNN_OPT_STR];
    if (resuming)
        path_in(path, sizeof path, r, "state.safetensors");
    else
        snprintf(path, sizeof path, "%s", o->init_from);
    if (rnn_checkpoint_load(ck, path)) return -1;
    if (!ck->tok) return rnn_errorf("%s: the checkpoint has no tokenizer", path);
    int is_lm = ck->model->c.task == RNN_TASK_LM;
    if (resuming && is_lm == r->classify)
        return rnn_errorf("%s: the run is a %s; --task %s does not match", path,
                          is_lm ? "language model" : "classifier", o->task);
    if (!resuming && !r->classify && !is_lm)
        return rnn_errorf("%s: a classifier cannot be fine-tuned as a language model", path);
    if (resuming) { /* the model in the state is the one config.txt describes */
        const rnn_config *mc = &ck->model->c;
        const int rec = mc->cell != RNN_CELL_NONE;
        const struct {
            const char *flag;
            int run, state;
        } same[] = {{"layers", rec ? o->layers : 0, rec ? mc->num_layers : 0},
                    {"hidden", rec ? o->hidden : 0, rec ? mc->hidden_dim : 0},
                    {"embed", o->embed, mc->embed_dim},
                    {"bidirectional", rec && o->bidirectional, mc->bidirectional},
                    {"residual", rec && o->residual, mc->residual},
                    {"tie-weights", o->tie_weights, mc->tie_weights}};
        const char *bad = strcmp(o->cell, rnn_cell_name(mc->cell)) ? "cell" : NULL;
        for (size_t i = 0; !bad && i < sizeof same / sizeof *same; i++)
            if (same[i].run != same[i].state) bad = same[i].flag;
        rnn_tok_options to; /* (an automatic one: the default, or a fine-tuned model's own) */
        if (!bad && o->tokenizer[0] && !rnn_tok_parse_type(o->tokenizer, &to) && to.type != rnn_tokenizer_type(ck->tok))
            bad = "tokenizer";
        if (bad)
            return rnn_errorf("%s: its model's %s is not the run's (%s/config.txt): a damaged file", path, bad,
                              r->dir);
    }
    return 0;
}

/* The numeric options' ranges, each refused naming its flag; a float
 * option's value written with a float's 7 digits (--ema -0.1 is -0.1, not
 * -0.100000001; --ema 0.9999999999 is 1 as a float, and refused so). */
static int check_ranges(const rnn_opts *o) {
    if (!(o->ema >= 0 && o->ema < 1)) return rnn_errorf("--ema must be in [0, 1) (got %.7g)", o->ema);
    if (!(o->word_dropout >= 0 && o->word_dropout < 1))
        return rnn_errorf("--word-dropout must be in [0, 1) (got %.7g)", o->word_dropout);
    if (!(o->label_smoothing >= 0 && o->label_smoothing < 1))
        return rnn_errorf("--label-smoothing must be in [0, 1) (got %.7g)", o->label_smoothing);
    const struct {
        const char *flag;
        double v;
        int ok;
    } range[] = {{"--clip must be >= 0 (0: off)", o->clip, o->clip >= 0},
                 {"--clip-value must be >= 0 (0: off)", o->clip_value, o->clip_value >= 0},
                 {"--time must be >= 0 (0: no limit)", o->time, o->time >= 0},
                 {"--min-lr must be >= 0", o->min_lr, o->min_lr >= 0},
                 {"--gamma must be in (0, 1]", o->gamma, o->gamma > 0 && o->gamma <= 1},
                 {"--factor must be in (0, 1)", o->factor, o->factor > 0 && o->factor < 1},
                 {"--lr must be >= 0", o->lr, o->lr >= 0},
                 {"--encoder-lr-mult must be >= 0", o->encoder_lr_mult, o->encoder_lr_mult >= 0},
                 {"--weight-decay must be >= 0", o->weight_decay, o->weight_decay >= 0},
                 {"--momentum must be in [0, 1)", o->momentum, o->momentum >= 0 && o->momentum < 1},
                 {"--beta1 must be in [0, 1)", o->beta1, o->beta1 >= 0 && o->beta1 < 1},
                 {"--beta2 must be in [0, 1)", o->beta2, o->beta2 >= 0 && o->beta2 < 1},
                 {"--eps must be > 0", o->eps, o->eps > 0 || !strcmp(o->optimizer, "sgd")},
                 {"--step-size must be >= 1", o->step_size, o->step_size >= 1},
                 /* as rnn_threads and the other commands: OpenMP would try to start
                  * them all (--threads 100000 crashed in thread creation) */
                 {"--threads must be in [0, 4096] (0: all cores)", o->threads, o->threads <= 4096},
                 {"--max-len must be at most 1073741823 tokens (0: no limit)", o->max_len, o->max_len <= RNN_MAX_TEXT_LEN},
                 {"--min-lr must be at most --lr", o->min_lr, o->min_lr <= o->lr || strcmp(o->schedule, "cosine")}};
    for (size_t i = 0; i < sizeof range / sizeof *range; i++)
        if (!range[i].ok) /* (the int and double ones print whole at 7 digits too, up to --time's 1e7) */
            return rnn_errorf(fabs(range[i].v) < 1e7 ? "%s (got %.7g)" : "%s (got %.9g)", range[i].flag, range[i].v);
    return 0;
}

/* The model, tokenizer, data and activations of the run: from the resume
 * state, a checkpoint (--init-from; ck holds what load_start read), or new. */
static int setup_model(run *r, int resuming, rnn_checkpoint *ck) {
    const rnn_opts *o = r->o;
    if (o->grow_vocab && !resuming && !o->init_from[0])
        return rnn_errorf("--grow-vocab adds tokens to a fine-tuned model's vocabulary: give --init-from CKPT");
    if (o->grow_vocab && !resuming && o->freeze_embedding && !o->vectors[0])
        return rnn_errorf("--grow-vocab with --freeze-embedding: the new tokens' rows would keep their common "
                          "start, as good as one <unk> (--vectors can give them rows)");
    /* a classifier fine-tuned from one: how that one read its texts */
    const int was_len = !resuming && o->init_from[0] && ck->model && ck->model->c.task == RNN_TASK_CLASSIFY
                            ? ck->model->c.max_len : -1;
    const int was_tail = was_len > 0 && ck->model->c.truncate_tail;
    if (!resuming && o->init_from[0] && (adopt_shape(r, &ck->model->c, ck->tok) || rnn_opts_check_unused(r->o)))
        return -1; /* the model's shape decides, e.g., whether --dropout has layers to drop between */
    if (ck->tok) {
        r->tok = ck->tok;
        ck->tok = NULL;
    }
    if (r->classify) {
        char *const *known = resuming ? ck->labels : NULL;
        int n_known = resuming ? ck->n_labels : 0;
        if (!resuming && ck->model && ck->model->c.task == RNN_TASK_CLASSIFY) {
            const int same = same_classes(r, ck->labels, ck->n_labels);
            if (same < 0) return -1;
            if (same) {
                known = ck->labels, n_known = ck->n_labels;
                if (!rnn_opts_given(r->o, "loss")) /* (2 classes, as the model's when bce) */
                    snprintf(r->eff.loss, sizeof r->eff.loss, "%s", ck->model->c.loss == RNN_LOSS_BCE ? "bce" : "ce");
            }
            r->same_classes = same;
        }
        if (load_cls_data(r, r->tok != NULL, known, n_known) ||
            (!resuming && ck->model && grow_model(r, &ck->model)))
            return -1;
        if (resuming) {
            r->m = ck->model;
            ck->model = NULL;
        } else if (make_classifier(r, ck->model)) {
            return -1;
        }
        r->per_epoch = (long)((r->ctrain.n + r->B - 1) / r->B);
        /* Activations for the largest possible batch: the B longest examples. */
        const int rows = longest_rows(&r->ctrain, r->B);
        if (rows < 0 || check_fits(r, &r->m->c, r->m->n_floats) ||
            !(r->a = rnn_acts_create_n(r->m, r->ctrain.max_len, r->B, rows)))
            return -1;
    } else {
        if (ck->model) {
            r->m = ck->model;
            ck->model = NULL;
            if (!resuming) say(r, "fine-tuning %s", o->init_from);
        }
        if (load_lm_data(r, r->tok != NULL)) return -1;
        if (!r->m) {
            rnn_config c;
            if (config_from_opts(o, &c, rnn_tokenizer_vocab_size(r->tok))) return -1;
            if (check_fits(r, &c, rnn_config_num_floats(&c)) || !(r->m = rnn_model_create(&c))) return -1;
            rnn_model_init(r->m, (uint64_t)o->seed);
        }
        if (!resuming && o->vectors[0] && load_vectors(r)) return -1;
        r->per_epoch = rnn_lm_batches(r->train.n, r->B, r->T);
        if (check_fits(r, &r->m->c, r->m->n_floats) || !(r->a = rnn_acts_create(r->m, r->T, r->B))) return -1;
    }
    /* A training choice, not part of the saved model: a resumed run or a
     * fine-tuned checkpoint takes it from this run's options. */
    r->m->c.freeze_embedding = o->freeze_embedding;
    r->m->c.locked_dropout = o->locked_dropout;
    if (r->classify) { /* the texts as this run reads them: rnn eval and classify read them so too */
        r->m->c.max_len = o->max_len;
        r->m->c.truncate_tail = o->max_len > 0 && !strcmp(o->truncate, "tail");
        if (was_len >= 0 && (was_len != o->max_len || was_tail != r->m->c.truncate_tail)) {
            char now[64];
            if (o->max_len) snprintf(now, sizeof now, "by their %s %d tokens", r->m->c.truncate_tail ? "last" : "first", o->max_len);
            else snprintf(now, sizeof now, "whole");
            if (was_len)
                say(r, "note: %s read texts by their %s %d tokens; this run reads them %s (--max-len, --truncate)",
                    o->init_from, was_tail ? "last" : "first", was_len, now);
            else
                say(r, "note: %s read whole texts; this run reads them %s", o->init_from, now);
        }
    }
    return rnn_config_validate(&r->m->c);
}

/* --class-weight: r->class_weight, one weight per class of the model (a
 * list's, or balanced's from the training split's counts), said in the log
 * with --label-smoothing, as the run trains with them. A resume computes
 * them again from its options and data, which it checked are the run's. */
static int setup_loss(run *r) {
    const rnn_opts *o = r->o;
    int n;
    const int kind = rnn_class_weight_parse(o->class_weight, NULL, 0, &n);
    if (kind < 0) return -1;
    if (kind != RNN_CW_NONE && !r->classify) /* (a new run's rnn_opts_check_task says so first) */
        return rnn_errorf("--class-weight %s is for classifiers (--task classify)", o->class_weight);
    if (o->label_smoothing > 0)
        say(r, "label smoothing %g in the training loss (validation reports the plain loss)", o->label_smoothing);
    if (kind == RNN_CW_NONE) return 0;
    const int C = r->n_labels;
    if (kind == RNN_CW_LIST && n != C) {
        char names[512];
        return rnn_errorf("--class-weight gives %d weight%s for %d classes (%s): one per class, in that order", n,
                          n == 1 ? "" : "s", C, label_names(r, names, sizeof names));
    }
    if (!(r->class_weight = malloc(sizeof(float) * C))) return rnn_errorf("out of memory");
    if (kind == RNN_CW_LIST) {
        rnn_class_weight_parse(o->class_weight, r->class_weight, C, &n);
    } else { /* sklearn's and Keras's "balanced": n_examples / (n_classes * count_c) */
        size_t *count = calloc((size_t)C, sizeof *count); /* (a float stops counting at 2^24) */
        if (!count) return rnn_errorf("out of memory");
        for (size_t i = 0; i < r->ctrain.n; i++) count[r->ctrain.label[i]]++;
        for (int c = 0; c < C; c++) {
            if (count[c] == 0) {
                free(count);
                return rnn_errorf("--class-weight balanced: class \"%s\" has no training examples, so no weight; "
                                  "give one per class (--class-weight W1,W2,...)", r->labels[c]);
            }
            r->class_weight[c] = (float)((double)r->ctrain.n / ((double)C * (double)count[c]));
        }
        free(count);
    }
    char list[1024] = "";
    for (int c = 0; c < C; c++) {
        const size_t at = strlen(list);
        if (at > sizeof list - 80) {
            snprintf(list + at, sizeof list - at, ", ... (%d more)", C - c);
            break;
        }
        snprintf(list + at, sizeof list - at, "%s%.60s %.4g", c ? ", " : "", r->labels[c], r->class_weight[c]);
    }
    say(r, "class weights (%s): %s", kind == RNN_CW_BALANCED ? "balanced, from the training split's counts" : "given",
        list);
    return 0;
}

/* An LM's neural cache for validation: a new or fine-tuned model's is the
 * run's options' (which took a fine-tuned model's own unless --cache and
 * the rest were given: adopt_shape); --cache replaces a resumed model's;
 * and a cache too large fails now, not at the first validation. */
static int setup_cache(run *r, int resuming) {
    const rnn_opts *o = r->o;
    rnn_config *mc = &r->m->c, cc = *mc;
    cc.cache_size = o->cache > 0 ? o->cache : 1; /* the flags are checked even without --cache */
    cc.cache_theta = o->cache_theta;
    cc.cache_lambda = o->cache_lambda;
    if (rnn_config_validate(&cc)) return -1;
    if (!resuming) {
        if (o->init_from[0] && mc->cache_size > 0 && o->cache == 0)
            say(r, "note: the neural cache of %s is off in this run and its model (--cache 0)", o->init_from);
        cc.cache_size = o->cache;
        *mc = cc;
    } else if (o->cache == 0 && mc->cache_size > 0) { /* a run fine-tuned before 2026-12-06: config.txt said 0 */
        r->eff.cache = mc->cache_size;
        r->eff.cache_theta = mc->cache_theta;
        r->eff.cache_lambda = mc->cache_lambda;
    } else if (o->cache > 0) {
        if (resuming && (mc->cache_size != o->cache || mc->cache_theta != o->cache_theta ||
                         mc->cache_lambda != o->cache_lambda))
            say(r, "note: the cache settings changed, so validation losses before and after this resume "
                   "(and the best model's) are not comparable");
        *mc = cc;
    }
    if (mc->cache_size > 0) {
        rnn_lm_cache *probe = lm_cache_for(r->m, r->val.n, r->B);
        if (!probe)
            return rnn_error_prefix("--cache %d for %d validation streams of width %d", mc->cache_size, r->B,
                                    r->m->F);
        rnn_lm_cache_free(probe);
    }
    return 0;
}

/* The run's stopping point in steps, from --steps and --epochs (0: --time
 * alone bounds it); r->per_epoch must be known. */
static void set_total_steps(run *r) {
    const rnn_opts *o = r->o;
    /* --steps and --epochs together: whichever comes first (as with --time). */
    r->total_steps = o->steps > 0 ? o->steps : 0;
    if (o->epochs > 0 && (r->total_steps == 0 || (long)o->epochs * r->per_epoch < r->total_steps))
        r->total_steps = (long)o->epochs * r->per_epoch;
    if (r->total_steps == 0 && o->time <= 0) /* default: 10 epochs (lm), 5 (classify) */
        r->total_steps = (r->classify ? 5 : 10) * r->per_epoch;
}

/* Why the run has nothing left to train, before its next step: 1 it is at
 * its stopping point, 2 its --time is spent, 3 early stopping has fired (a
 * resume of a run that stopped early: its state counts the evaluations
 * without improvement); 0: it trains on. */
static int nothing_left(const run *r) {
    const rnn_opts *o = r->o;
    if (r->total_steps > 0 && r->step >= r->total_steps) return 1;
    if (o->time > 0 && elapsed(r) >= o->time) return 2;
    if (o->patience > 0 && r->bad_evals >= o->patience) return 3;
    return 0;
}

/* The run's first lines: what trains on what. m is the model, or, for a
 * resume with nothing left to train, a plan of it (rnn_model_plan). */
static void announce(run *r, const rnn_model *m, int resuming) {
    if (r->classify)
        say(r, "rnn.c: classify %s %dx%d%s pool %s, vocab %d, %d classes, %zu parameters; "
            "%zu train / %zu val examples; batch %d, %ld steps/epoch; gemm %s%s, %d threads; run dir %s",
            rnn_cell_name(m->c.cell), m->c.num_layers, m->c.hidden_dim,
            m->c.bidirectional ? " bidirectional" : "", rnn_pool_name(m->c.pool), m->c.vocab_size,
            m->c.num_classes, rnn_model_num_weights(m), r->ctrain.n, r->cval.n, r->B, r->per_epoch,
            rnn_gemm_backend(), prec_note(), rnn_get_threads(), r->dir);
    else
        say(r, "rnn.c: lm %s %dx%d%s, vocab %d, %zu parameters; %zu train / %zu val tokens; "
            "batch %d x %d, %ld steps/epoch; gemm %s%s, %d threads; run dir %s",
            rnn_cell_name(m->c.cell), m->c.num_layers, m->c.hidden_dim,
            m->c.bidirectional ? " bidirectional" : "", m->c.vocab_size, rnn_model_num_weights(m),
            r->train.n, r->val.n, r->B, r->T, r->per_epoch, rnn_gemm_backend(), prec_note(), rnn_get_threads(),
            r->dir);
    if (!resuming) return;
    say(r, "resuming at step %ld (epoch %ld, batch %ld)", r->step, r->epoch, r->batch_in_epoch);
    const int why = nothing_left(r);
    if (why == 1)
        say(r, "note: the run is already at step %ld, its stopping point (%ld steps): nothing to train; give "
            "a larger --steps or --epochs to continue it", r->step, r->total_steps);
    else if (why == 2)
        say(r, "note: the run has already trained %.1f s, its --time %g (a total, counting the time before "
            "the resume): nothing to train; give a larger --time to continue it", r->elapsed_before, r->o->time);
    else if (why == 3)
        say(r, "note: the run stopped early at step %ld, after %d evaluation%s without improvement (--patience "
            "%d): nothing to train; give a larger --patience (0: none) to continue it", r->step, r->bad_evals,
            r->bad_evals == 1 ? "" : "s", r->o->patience);
}

/* The run's last lines, once it trained (or found nothing to train). */
static void finish(run *r) {
    plot(r, 1);
    if (r->classify)
        say(r, "done: %ld steps, %.1f s, best val accuracy %.4f; %s/model.safetensors", r->step,
            elapsed(r), -r->best_val, r->dir);
    else
        say(r, "done: %ld steps, %.1f s, best val loss %.4f; %s/model.safetensors", r->step,
            elapsed(r), r->best_val, r->dir);
}

/* A resume with nothing left to train (at its stopping point, its --time
 * spent, or stopped early) is told from the state's numbers and its data
 * fingerprints' counts, which give the steps per epoch, before anything of
 * the model's or the data's size is made: the run's files are written as a
 * finished resume's are (config.txt, train.log, metrics.svg), and *done is
 * set. Where the state cannot tell (saved before 2026-12-06, without the
 * fingerprints) or something in it is wrong, *done stays 0 and the whole
 * setup decides, and names what is wrong, as it does for any resume. */
static int resume_finished(run *r, int *done) {
    *done = 0;
    const char *prints[2];
    rnn_config c;
    if (saved_prints(r, prints) || !prints[0] || rnn_config_from_json(&c, state_meta(r, "config")))
        return 0;
    const size_t n_train = strtoull(prints[0], NULL, 10), n_val = strtoull(prints[1], NULL, 10);
    run t = *r; /* decided on a copy: a resume that trains on goes on from r as it was */
    if (t.classify) { /* as load_cls_data has it: no batch of more examples than there are */
        if (!n_train) return 0;
        if ((size_t)t.B > n_train) t.B = (int)n_train;
        t.per_epoch = (long)((n_train + t.B - 1) / t.B);
    } else {
        t.per_epoch = rnn_lm_batches(n_train, t.B, t.T);
    }
    set_total_steps(&t);
    t.t0 = rnn_now();
    if (t.per_epoch < 1 || restore_counters(&t) || !nothing_left(&t)) return 0;
    rnn_model *plan = rnn_model_plan(&c); /* the banner's shape and parameter count; no weights */
    if (!plan) return 0;
    if (t.classify) t.ctrain.n = n_train, t.cval.n = n_val; /* (counts alone, for the banner) */
    else t.train.n = n_train, t.val.n = n_val;
    *r = t;
    const int rc = start_run_files(r, 1);
    if (!rc) {
        r->t0 = rnn_now(); /* as a resume that trains: its files are written before the clock starts */
        announce(r, plan, 1);
        finish(r);
        *done = 1;
    }
    rnn_model_free(plan);
    return rc;
}

/* The next batch into r->a / p: a classifier's next bucket of examples (with
 * --freeze-epochs' multipliers in sc), or an LM's next T steps of its B
 * streams (*state_in: carried from the batch before). Returns its tokens. */
static long next_batch(run *r, rnn_pack *p, rnn_step_cfg *sc, float enc_mult, float emb_mult, int *state_in) {
    const rnn_opts *o = r->o;
    *state_in = 0;
    if (r->classify) {
        rnn_cls_fill(&r->ctrain, r->batch_in_epoch, r->a, p, r->m->c.loss == RNN_LOSS_BCE);
        /* --freeze-epochs: only the head learns at first (ULMFiT's gradual unfreezing). */
        int frozen = r->epoch < o->freeze_epochs;
        sc->lr_mult[RNN_GROUP_ENCODER] = frozen ? 0 : enc_mult;
        sc->lr_mult[RNN_GROUP_EMBED] = frozen ? 0 : emb_mult;
        return p->N;
    }
    const size_t off = o->random_offset ? rnn_lm_offset(r->train.n, r->B, (uint64_t)o->seed, r->epoch) : 0;
    rnn_lm_fill(&r->train, r->B, r->T, r->batch_in_epoch, off, r->a->ids, r->a->targets);
    *state_in = r->batch_in_epoch > 0;
    return (long)r->B * r->T;
}

/* The progress line's pace and loss: over windows of half a second (or 50
 * steps); until the first window closes, over the steps so far. */
typedef struct {
    double t, loss_sum, tok_s, train_loss;
    long tokens, steps;
    int first;
} pace;

static void pace_add(pace *w, double loss, long n_tok) {
    w->tokens += n_tok;
    w->steps++;
    if (!isnan(loss)) w->loss_sum += loss;
    double now = rnn_now();
    if (now - w->t > 0.5 || w->steps >= 50) {
        w->tok_s = w->tokens / (now - w->t);
        w->train_loss = w->loss_sum / w->steps;
        w->t = now;
        w->tokens = w->steps = 0;
        w->loss_sum = 0;
        w->first = 0;
    } else if (w->first && now > w->t) {
        w->tok_s = w->tokens / (now - w->t);
    }
}

int rnn_train(const rnn_opts *o, rnn_train_callback cb, void *user, char *dir, size_t dir_cap) {
    run R = {0}, *r = &R;
    r->eff = *o;
    r->o = &r->eff;
    r->saved_step = -1;
    if (rnn_opts_absolute_paths(&r->eff)) return -1; /* config.txt (and the state) resume from anywhere */
    r->cb = cb;
    r->user = user;
    if (dir && dir_cap) dir[0] = 0;
    r->B = o->batch;
    r->T = o->seq_len;
    r->best_val = r->best_loss = r->grid_best_val = r->grid_best_loss = INFINITY;
    r->last_eval_step = -1;
    r->label_base = -1;
    r->classify = !strcmp(o->task, "classify");
    int rc = -1, resuming = o->resume[0] != 0, vectors_note = 0;
    rnn_checkpoint ck = {0};
    if (r->B < 1 || r->T < 1) return rnn_errorf("--batch and --seq-len must be >= 1");
    if (resuming && (o->init_from[0] || o->init_backward[0]))
        return rnn_errorf("--resume and --%s cannot be combined", o->init_from[0] ? "init-from" : "init-backward");
    if (!resuming && o->vectors[0] && !o->init_from[0] && !rnn_opts_given(o, "embed")) {
        /* --embed is the vectors' width unless given */
        if (!(r->eff.embed = vectors_width(o->vectors))) return -1;
        vectors_note = 1;
    }
    /* A resumed run keeps what it was started with (its state decides). */
    if (!resuming && (rnn_opts_check_task(o) || (!o->init_from[0] && rnn_opts_check_unused(o)))) return -1;
    if (check_ranges(o)) return -1;
    rnn_precision prec = RNN_FP32;
    if (rnn_precision_parse(o->precision, &prec)) return -1;
    rnn_run_threads(o->threads); /* (from here every way out ends at out: rnn_run_threads_end) */
    char fallback[256] = "";
    if (rnn_gemm_set_precision(prec)) {
        /* Fall back cleanly: the same run in fp32, said once (below, in the log too). */
        snprintf(fallback, sizeof fallback, "%s", rnn_last_error());
        rnn_gemm_set_precision(RNN_FP32);
    }
    rnn_rng_seed(&r->rng, (uint64_t)o->seed);
    r->bar = !strcmp(o->progress, "bar") || (!strcmp(o->progress, "auto") && isatty(2));
    r->quiet = !strcmp(o->progress, "quiet");
    if (open_run_dir(r, resuming)) goto out;
    if (dir && dir_cap) snprintf(dir, dir_cap, "%s", r->dir);
    if (resuming && check_saved_options(r)) goto out;
    if (fallback[0]) say(r, "warning: %s; training in fp32", fallback);
    if (vectors_note) say(r, "--embed %d: the width of the vectors in %s", r->eff.embed, o->vectors);
    if (resuming) { /* the state's header alone tells a resume with nothing to train */
        int done;
        if (resume_finished(r, &done)) goto out;
        if (done) {
            rc = 0;
            goto out;
        }
    }

    if ((resuming || o->init_from[0]) && load_start(r, resuming, &ck)) goto out;
    if (setup_model(r, resuming, &ck) || (!r->classify && setup_cache(r, resuming)) || setup_loss(r)) goto out;
    for (int val = 0; val < 2; val++) data_print(r, val, r->prints[val], sizeof r->prints[val]); /* read once */
    const long per_epoch = r->per_epoch;
    set_total_steps(r);
    if (make_optimizer(r)) goto out; /* (check_fits was run in setup_model, for this model too) */
    if (o->ema > 0) { /* the average starts at the initial (or pretrained) weights */
        if (!(r->ema = malloc(sizeof(float) * r->m->n_floats))) {
            rnn_errorf("out of memory");
            goto out;
        }
        memcpy(r->ema, r->m->w, sizeof(float) * r->m->n_floats);
    }
    if (resuming && load_state(r)) goto out;
    rnn_st_free(r->state); /* read: training's saves replace the file, not kept open beside them */
    r->state = NULL;

    const int32_t unk = rnn_tokenizer_unk_id(r->tok);
    if (o->word_dropout > 0 && unk < 0) {
        rnn_errorf("--word-dropout needs a tokenizer with an unknown token (%s has none)",
                   rnn_tok_type_name(rnn_tokenizer_type(r->tok)));
        goto out;
    }
    if (start_run_files(r, resuming)) goto out;
    r->t0 = rnn_now(); /* this session's training time: its notes (a spent --time) count it */
    r->row_t = r->t0, r->row_tokens = r->tokens;
    announce(r, r->m, resuming);

    /* The loop: a batch, a step, the progress line, the callback, and every
     * eval_every steps a validation (which saves the checkpoints). */
    rnn_step_cfg sc = {o->clip, o->clip_value, {o->encoder_lr_mult, o->encoder_lr_mult, 1.0f},
                       {r->class_weight, o->label_smoothing}};
    if (r->m->c.freeze_embedding) sc.lr_mult[RNN_GROUP_EMBED] = 0;
    const float enc_mult = o->encoder_lr_mult, emb_mult = sc.lr_mult[RNN_GROUP_EMBED];
    const long eval_every = o->eval_every > 0 ? o->eval_every : per_epoch;
    int stop = 0;
    pace w = {.t = rnn_now(), .train_loss = NAN, .first = 1};
    r->log_t = w.t;
    float lr = rnn_sched_lr(&r->sched, r->step);
    rnn_pack p;
    if (!r->classify) pack_full(r->a, &p, r->T, r->B);
    if (r->classify && r->batch_in_epoch < per_epoch &&
        rnn_cls_plan_epoch(&r->ctrain, r->B, (uint64_t)o->seed, r->epoch, 1))
        goto out;
    while (!stop) {
        if (nothing_left(r)) break; /* (early stopping: the validation that fires it stops the loop first) */
        if (interrupted) { /* also one that came during the setup: the run stops before its first step */
            interrupted = 0;
            say(r, "interrupted: saving");
            break;
        }
        if (r->batch_in_epoch >= per_epoch) {
            r->epoch++;
            r->batch_in_epoch = 0;
            if (r->classify && rnn_cls_plan_epoch(&r->ctrain, r->B, (uint64_t)o->seed, r->epoch, 1))
                goto out;
        }
        int state_in;
        const long n_tok = next_batch(r, &p, &sc, enc_mult, emb_mult, &state_in);
        if (o->word_dropout > 0) rnn_word_dropout(r->a->ids, (size_t)n_tok, o->word_dropout, unk, &r->rng);
        if (o->time > 0 && r->total_steps == 0) {
            /* A run bounded by --time alone: schedules that need the length
             * (cosine) spread over the budget, the total step count being
             * estimated from the pace so far (so not exactly repeatable). */
            double el = elapsed(r), est = el > 0.5 && r->step > 0 ? r->step * o->time / el : LONG_MAX / 4;
            /* (clamped: a --time of 1e18 would overflow long, and cosine then fell to ~0 at once) */
            r->sched.total_steps = est < LONG_MAX / 4 ? (long)est + 1 : LONG_MAX / 4;
            if (r->sched.total_steps <= r->step) r->sched.total_steps = r->step + 1;
        }
        lr = rnn_sched_lr(&r->sched, r->step);
        float norm;
        double loss = rnn_train_step(r->m, r->a, &p, state_in, r->opt, &sc, lr, &r->rng, &norm, NULL);
        if (isnan(loss))
            say(r, "warning: step %ld: gradient norm %g is not finite; step skipped", r->step, nosign(norm));
        if (!r->classify) rnn_model_carry_state(r->m, r->a, r->B);
        r->step++;
        r->batch_in_epoch++;
        r->tokens += n_tok;
        if (!isnan(loss)) {
            if (r->ema) ema_update(r);
            r->loss_sum += loss;
            r->loss_n++;
        }
        pace_add(&w, loss, n_tok);
        progress(r, loss, n_tok, isnan(w.train_loss) ? loss : w.train_loss, w.tok_s, lr);
        if (cb) {
            rnn_train_event e = event(r, RNN_EVENT_STEP, loss, lr, w.tok_s);
            if (cb(&e, user)) stop = 1;
        }
        if (r->step % eval_every == 0) {
            const double tv = rnn_now();
            if (validate(r, lr, w.tok_s, &stop)) goto out;
            /* tok/s is training's pace: the time validation took is not in it */
            const double dt = rnn_now() - tv;
            w.t += dt, r->log_t += dt;
        }
    }
    /* The end: validated and saved unless the last step just was (a resumed
     * run that had already reached its length trains and validates nothing). */
    r->off_grid = 1; /* (a stop between --eval-every validations) */
    if (r->last_eval_step != r->step && validate(r, lr, w.tok_s, &stop)) goto out;
    finish(r);
    rc = 0;
out:
    rnn_gemm_set_precision(RNN_FP32);
    if (r->dir_lock) close(r->dir_lock - 1); /* (the lock goes with it) */
    if (r->bar) fprintf(stderr, "\n");
    if (r->log) fclose(r->log);
    if (r->metrics) fclose(r->metrics);
    if (r->made_from && !r->log) { /* setup failed in directories of its own: leave none */
        char d[sizeof r->dir];
        memcpy(d, r->dir, sizeof d); /* a NUL-terminated copy */
        for (size_t n = strlen(d); n > 1 && d[n - 1] == '/';) d[--n] = 0;
        for (char *sl; rmdir(d) == 0 && strlen(d) > r->made_from && (sl = strrchr(d, '/')) != NULL;) *sl = 0;
        if (dir && dir_cap) dir[0] = 0;
    }
    free(r->pending);
    free(r->config_was);
    rnn_st_free(r->state);
    rnn_checkpoint_free(&ck);
    rnn_acts_free(r->a);
    rnn_optim_free(r->opt);
    free(r->ema);
    free(r->class_weight);
    rnn_model_free(r->m);
    rnn_tokenizer_free(r->tok);
    rnn_tokenizer_free(r->tok_before);
    rnn_cls_data_free(&r->ctrain);
    rnn_cls_data_free(&r->cval);
    for (int i = 0; i < r->n_labels; i++) free(r->labels[i]);
    free(r->labels);
    rnn_lm_stream_free(&r->train);
    rnn_lm_stream_free(&r->val);
    rnn_run_threads_end();
    return rc;
}
