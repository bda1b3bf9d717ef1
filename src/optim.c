/* optim.c: see optim.h. Each update is written next to the torch.optim 1.13
 * lines it reproduces (torch/optim/{sgd,adam,adamw,rmsprop}.py,
 * _single_tensor_*). Per-element maths is in float like PyTorch's float32
 * tensors; the scalar bias corrections are in double like PyTorch's Python
 * floats. */
#include "optim.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* Below this many elements a thread team costs more than it saves. */
#define PAR_MIN ((size_t)1 << 16)

/* Note: sqrtf may set errno (for x < 0, which never happens here), and that
 * side effect keeps GCC and Clang from vectorising the Adam and RMSprop loops
 * unless the build has -fno-math-errno (a per-function optimize attribute does
 * not reach it in GCC 12). */

enum { MAX_BUFS = 3 };

struct rnn_optim {
    rnn_optim_config c;
    size_t n; /* n_params */
    long t;   /* steps begun */
    long gt[RNN_OPT_GROUPS];   /* rnn_optim_update_group: steps that updated each group */
    long gmark[RNN_OPT_GROUPS]; /* the step (t) in which gt[g] last counted one */
    int nbuf;
    float *buf[MAX_BUFS];       /* (n) each, one allocation each */
    const char *name[MAX_BUFS]; /* PyTorch state names */
    /* Which buf[] holds what; NULL when unused. */
    float *exp_avg, *exp_avg_sq, *momentum_buffer, *square_avg, *grad_avg;
};

static const char *const opt_names[] = {"sgd", "adam", "adamw", "rmsprop"};
static const char *const sched_names[] = {"constant", "step", "cosine", "plateau"};

void rnn_optim_config_default(rnn_optim_config *c, rnn_opt_type t) {
    /* Fields an optimizer does not use stay 0, as absent from torch's defaults. */
    memset(c, 0, sizeof *c);
    c->type = t;
    switch (t) {
    case RNN_OPT_SGD: c->lr = 1e-2f; break; /* torch.optim.SGD requires lr */
    case RNN_OPT_ADAM:
    case RNN_OPT_ADAMW:
        c->lr = 1e-3f;
        c->beta1 = 0.9f;
        c->beta2 = 0.999f;
        c->eps = 1e-8f;
        if (t == RNN_OPT_ADAMW) c->weight_decay = 1e-2f;
        break;
    case RNN_OPT_RMSPROP:
        c->lr = 1e-2f;
        c->alpha = 0.99f;
        c->eps = 1e-8f;
        break;
    }
}

int rnn_opt_parse_type(const char *name, rnn_opt_type *t) {
    for (int i = 0; i < (int)(sizeof opt_names / sizeof *opt_names); i++)
        if (strcmp(name, opt_names[i]) == 0) {
            *t = (rnn_opt_type)i;
            return 0;
        }
    return rnn_errorf("unknown optimizer '%s' (expected sgd, adam, adamw or rmsprop)", name);
}

const char *rnn_opt_type_name(rnn_opt_type t) {
    return (unsigned)t < sizeof opt_names / sizeof *opt_names ? opt_names[t] : "?";
}

static float *add_buffer(rnn_optim *o, const char *name) {
    float *b = rnn_calloc(o->n * sizeof(float));
    if (!b) return NULL;
    o->buf[o->nbuf] = b;
    o->name[o->nbuf] = name;
    o->nbuf++;
    return b;
}

rnn_optim *rnn_optim_create(const rnn_optim_config *c, size_t n_params) {
    /* The checks of the torch.optim constructors. */
    if ((unsigned)c->type > RNN_OPT_RMSPROP) {
        rnn_errorf("invalid optimizer type %d", (int)c->type);
        return NULL;
    }
    const struct {
        float v;
        const char *what;
    } nonneg[] = {{c->lr, "learning rate"},
                  {c->weight_decay, "weight_decay"},
                  {c->eps, "epsilon"},
                  {c->momentum, "momentum"},
                  {c->alpha, "alpha"}};
    for (size_t i = 0; i < sizeof nonneg / sizeof *nonneg; i++)
        if (!(nonneg[i].v >= 0)) { /* NaN fails too */
            rnn_errorf("invalid %s: %g (must be >= 0)", nonneg[i].what, nonneg[i].v);
            return NULL;
        }
    if (c->type != RNN_OPT_SGD && !(c->eps > 0)) { /* m / (sqrt(v) + 0) is 0 / 0 where a gradient is 0 */
        rnn_errorf("invalid epsilon: %g (must be > 0 for adam, adamw and rmsprop)", c->eps);
        return NULL;
    }
    if ((c->type == RNN_OPT_ADAM || c->type == RNN_OPT_ADAMW) &&
        !(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1)) {
        rnn_errorf("invalid beta parameters: (%g, %g), each must be in [0, 1)", c->beta1, c->beta2);
        return NULL;
    }
    /* Stricter than PyTorch, which takes any value >= 0: from 1 on, the
     * momentum buffer (or rmsprop's square average) grows without bound or
     * never moves from its start, and the run diverges. */
    const int uses_alpha = c->type == RNN_OPT_RMSPROP;
    if (!(c->momentum < 1) || (uses_alpha && !(c->alpha < 1))) {
        rnn_errorf("invalid %s: %g (must be in [0, 1))", c->momentum < 1 ? "alpha" : "momentum",
                   c->momentum < 1 ? c->alpha : c->momentum);
        return NULL;
    }
    if (c->type == RNN_OPT_SGD && c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
        rnn_errorf("nesterov momentum requires a momentum and zero dampening");
        return NULL;
    }
    if (n_params == 0 || n_params > SIZE_MAX / sizeof(float)) {
        rnn_errorf("optimizer given %zu parameters", n_params);
        return NULL;
    }
    rnn_optim *o = rnn_calloc(sizeof *o);
    if (!o) return NULL;
    o->c = *c;
    o->n = n_params;
    int ok = 1;
    switch (c->type) {
    case RNN_OPT_SGD:
        if (c->momentum != 0) ok = (o->momentum_buffer = add_buffer(o, "momentum_buffer")) != NULL;
        break;
    case RNN_OPT_ADAM:
    case RNN_OPT_ADAMW:
        ok = (o->exp_avg = add_buffer(o, "exp_avg")) &&
             (o->exp_avg_sq = add_buffer(o, "exp_avg_sq"));
        break;
    case RNN_OPT_RMSPROP:
        ok = (o->square_avg = add_buffer(o, "square_avg")) != NULL;
        if (ok && c->momentum > 0)
            ok = (o->momentum_buffer = add_buffer(o, "momentum_buffer")) != NULL;
        if (ok && c->centered) ok = (o->grad_avg = add_buffer(o, "grad_avg")) != NULL;
        break;
    }
    if (!ok) {
        rnn_optim_free(o);
        return NULL;
    }
    return o;
}

void rnn_optim_free(rnn_optim *o) {
    if (!o) return;
    for (int i = 0; i < o->nbuf; i++)
        rnn_free(o->buf[i]);
    rnn_free(o);
}

void rnn_optim_begin_step(rnn_optim *o) { o->t++; }
long rnn_optim_steps(const rnn_optim *o) { return o->t; }
void rnn_optim_set_steps(rnn_optim *o, long t) { o->t = t; }
int rnn_optim_num_buffers(const rnn_optim *o) { return o->nbuf; }

float *rnn_optim_buffer(rnn_optim *o, int i, const char **name) {
    if (i < 0 || i >= o->nbuf) return NULL;
    if (name) *name = o->name[i];
    return o->buf[i];
}

/* ---- the updates ----
 * Each kernel updates n elements with one SIMD loop; p, g and the state
 * pointers are already offset to the elements. rnn_optim_update hands the
 * kernels blocks of the slice, one thread per block when the slice is large
 * (threads on the outer loop, SIMD inside). */

/* SGD:  d = g + wd*p
 *       buf = d                                  on the first step (torch.clone(d_p))
 *       buf = momentum*buf + (1-dampening)*d     after
 *       d = nesterov ? d + momentum*buf : buf    (when momentum != 0)
 *       p -= lr*d */
static void sgd_update(float *restrict p, const float *restrict g, float *restrict buf, size_t n,
                       float lr, float wd, float mom, float damp, int nesterov, int first) {
    const float keep = 1.0f - damp;
    if (!buf) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float b = first ? d : mom * buf[i] + keep * d;
        buf[i] = b;
        p[i] -= lr * (nesterov ? d + mom * b : b);
    }
}

/* Adam:  g += wd*p                          (adam: L2 folded into the gradient)
 *        p *= 1 - lr*wd                     (adamw: decoupled decay, before the moments)
 *        m = beta1*m + (1-beta1)*g
 *        v = beta2*v + (1-beta2)*g*g
 *        p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
 * step_size = lr/(1-beta1^t) and bc2_sqrt = sqrt(1-beta2^t) come in precomputed. */
static void adam_update(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, size_t n, float step_size, float bc2_sqrt, float beta1,
                        float beta2, float eps, float l2, float shrink) {
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * p[i];
        float pi = p[i] * shrink;
        float mi = beta1 * m[i] + c1 * gi;
        float vi = beta2 * v[i] + c2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

/* RMSprop:  g += wd*p
 *           sq = alpha*sq + (1-alpha)*g*g
 *           ga = alpha*ga + (1-alpha)*g;  avg = sqrt(sq - ga*ga) + eps   (centered)
 *                                         avg = sqrt(sq) + eps            (otherwise)
 *           buf = momentum*buf + g/avg;   p -= lr*buf                     (momentum > 0)
 *                                         p -= lr*g/avg                   (otherwise)
 * Inlined with constant `centered` / `use_buf` so each variant is a
 * branch-free loop. */
static inline void rmsprop_kernel(float *restrict p, const float *restrict g, float *restrict sq,
                                  float *restrict ga, float *restrict buf, size_t n, float lr,
                                  float alpha, float eps, float wd, float mom, const int centered,
                                  const int use_buf) {
    const float c = 1.0f - alpha;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        float s = alpha * sq[i] + c * (gi * gi);
        sq[i] = s;
        float var = s;
        if (centered) {
            float a = alpha * ga[i] + c * gi;
            ga[i] = a;
            /* sq >= ga^2 in exact arithmetic; rounding must not make a NaN. */
            var = fmaxf(s - a * a, 0.0f);
        }
        float step = gi / (sqrtf(var) + eps);
        if (use_buf) {
            step += mom * buf[i];
            buf[i] = step;
        }
        p[i] -= lr * step;
    }
}

static void rmsprop_update(float *p, const float *g, float *sq, float *ga, float *buf, size_t n,
                           float lr, float alpha, float eps, float wd, float mom) {
    if (ga && buf)
        rmsprop_kernel(p, g, sq, ga, buf, n, lr, alpha, eps, wd, mom, 1, 1);
    else if (ga)
        rmsprop_kernel(p, g, sq, ga, NULL, n, lr, alpha, eps, wd, mom, 1, 0);
    else if (buf)
        rmsprop_kernel(p, g, sq, NULL, buf, n, lr, alpha, eps, wd, mom, 0, 1);
    else
        rmsprop_kernel(p, g, sq, NULL, NULL, n, lr, alpha, eps, wd, mom, 0, 0);
}

/* Updates elements [lo, lo+n) of the flat arrays. */
static void update_block(rnn_optim *o, float *params, const float *grads, size_t lo, size_t n,
                         float lr, long t) {
    const rnn_optim_config *c = &o->c;
    float *p = params + lo;
    const float *g = grads + lo;
#define AT(b) ((b) ? (b) + lo : NULL)
    switch (c->type) {
    case RNN_OPT_SGD:
        sgd_update(p, g, AT(o->momentum_buffer), n, lr, c->weight_decay, c->momentum, c->dampening,
                   c->nesterov, t == 1);
        break;
    case RNN_OPT_ADAM:
    case RNN_OPT_ADAMW: {
        /* Bias corrections in double, as torch's Python floats. */
        double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
        int decoupled = c->type == RNN_OPT_ADAMW;
        adam_update(p, g, AT(o->exp_avg), AT(o->exp_avg_sq), n, (float)(lr / bc1), (float)sqrt(bc2),
                    c->beta1, c->beta2, c->eps, decoupled ? 0.0f : c->weight_decay,
                    decoupled ? 1.0f - lr * c->weight_decay : 1.0f);
        break;
    }
    case RNN_OPT_RMSPROP:
        rmsprop_update(p, g, AT(o->square_avg), AT(o->grad_avg), AT(o->momentum_buffer), n, lr,
                       c->alpha, c->eps, c->weight_decay, c->momentum);
        break;
    }
#undef AT
}

/* Elements per thread task: big enough to amortise the dispatch, small
 * enough to balance. */
#define BLOCK ((size_t)1 << 14)

static void update_slice(rnn_optim *o, float *params, const float *grads, size_t offset, size_t count,
                         float lr, long t) {
    if (offset >= o->n) return;
    if (count > o->n - offset) count = o->n - offset;
    if (t < 1) t = 1; /* begin_step not called: act as step 1, stay finite */
    if (count <= PAR_MIN) {
        update_block(o, params, grads, offset, count, lr, t);
        return;
    }
    long nblk = (long)((count + BLOCK - 1) / BLOCK);
#pragma omp parallel for schedule(static)
    for (long b = 0; b < nblk; b++) {
        size_t lo = (size_t)b * BLOCK, len = count - lo < BLOCK ? count - lo : BLOCK;
        update_block(o, params, grads, offset + lo, len, lr, t);
    }
}

void rnn_optim_update(rnn_optim *o, float *params, const float *grads, size_t offset, size_t count,
                      float lr) {
    update_slice(o, params, grads, offset, count, lr, o->t);
}

void rnn_optim_update_group(rnn_optim *o, float *params, const float *grads, size_t offset, size_t count,
                            float lr, int group) {
    if (group < 0 || group >= RNN_OPT_GROUPS) group = 0;
    if (o->gmark[group] != o->t) o->gt[group]++, o->gmark[group] = o->t; /* its first update this step */
    update_slice(o, params, grads, offset, count, lr, o->gt[group]);
}

long rnn_optim_group_steps(const rnn_optim *o, int group) {
    return group >= 0 && group < RNN_OPT_GROUPS ? o->gt[group] : 0;
}

void rnn_optim_set_group_steps(rnn_optim *o, int group, long t) {
    if (group < 0 || group >= RNN_OPT_GROUPS) return;
    o->gt[group] = t;
    o->gmark[group] = o->t; /* (set the step count first: the next step counts anew) */
}

/* ---- clipping ---- */

float rnn_clip_grad_norm(float *grads, size_t n, float max_norm) {
    double ss = 0;
#pragma omp parallel for simd reduction(+ : ss) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++)
        ss += (double)grads[i] * grads[i];
    double norm = sqrt(ss);
    /* torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1. Unlike
     * torch (error_if_nonfinite=False), a non-finite norm scales nothing: the
     * caller sees it in the return value and skips the step. */
    double coef = max_norm / (norm + 1e-6);
    if (isfinite(norm) && coef < 1.0) {
        float s = (float)coef;
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++)
            grads[i] *= s;
    }
    return (float)norm;
}

void rnn_clip_grad_value(float *grads, size_t n, float clip) {
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = grads[i];
        grads[i] = x > clip ? clip : x < -clip ? -clip : x;
    }
}

/* ---- schedules ---- */

int rnn_sched_parse(const char *name, rnn_sched_type *t) {
    for (int i = 0; i < (int)(sizeof sched_names / sizeof *sched_names); i++)
        if (strcmp(name, sched_names[i]) == 0) {
            *t = (rnn_sched_type)i;
            return 0;
        }
    return rnn_errorf("unknown lr schedule '%s' (expected constant, step, cosine or plateau)",
                      name);
}

const char *rnn_sched_name(rnn_sched_type t) {
    return (unsigned)t < sizeof sched_names / sizeof *sched_names ? sched_names[t] : "?";
}

void rnn_sched_init(rnn_schedule *s, rnn_sched_type t, float base_lr) {
    memset(s, 0, sizeof *s);
    s->type = t;
    s->base_lr = base_lr;
    s->step_size = 1000;
    s->gamma = 0.1f;
    s->factor = 0.1f;
    s->patience = 10;
    s->threshold = 1e-4f;
    s->cur_lr = base_lr;
    s->best = NAN; /* becomes +inf (min) or -inf (max) on the first observation */
}

float rnn_sched_lr(const rnn_schedule *s, long step) {
    const double base = s->type == RNN_SCHED_PLATEAU ? s->cur_lr : s->base_lr;
    const long w = s->warmup_steps > 0 ? s->warmup_steps : 0;
    if (step < w) return (float)(base * (double)(step + 1) / (double)w);
    const long k = step - w;
    switch (s->type) {
    case RNN_SCHED_CONSTANT:
    case RNN_SCHED_PLATEAU: return (float)base;
    case RNN_SCHED_STEP: {
        long every = s->step_size > 0 ? s->step_size : 1;
        return (float)(base * pow(s->gamma, (double)(k / every)));
    }
    case RNN_SCHED_COSINE: {
        long span = s->total_steps - w;
        double progress = (double)k / (double)(span > 1 ? span : 1);
        if (progress > 1) progress = 1;
        const double pi = 3.14159265358979323846;
        return (float)(s->min_lr + 0.5 * (base - s->min_lr) * (1.0 + cos(pi * progress)));
    }
    }
    return (float)base;
}

/* torch.optim.lr_scheduler.ReduceLROnPlateau.step with threshold_mode 'rel',
 * cooldown 0, eps 1e-8; comparisons in double like its Python floats. */
int rnn_sched_observe(rnn_schedule *s, float metric) {
    if (s->type != RNN_SCHED_PLATEAU) return 0;
    if (isnan(s->best)) s->best = s->mode_max ? -INFINITY : INFINITY;
    const double a = metric, best = s->best;
    int better = s->mode_max ? a > best * (1.0 + (double)s->threshold)
                             : a < best * (1.0 - (double)s->threshold);
    if (better) {
        s->best = metric;
        s->bad_epochs = 0;
    } else {
        s->bad_epochs++;
    }
    if (s->bad_epochs <= s->patience) return 0;
    s->bad_epochs = 0;
    double old_lr = s->cur_lr, new_lr = fmax(old_lr * s->factor, (double)s->min_lr);
    if (old_lr - new_lr > 1e-8) {
        s->cur_lr = (float)new_lr;
        return 1;
    }
    return 0;
}
