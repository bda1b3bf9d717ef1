/* optim.h: optimizers, gradient clipping and learning-rate schedules over the
 * model's flat parameter and gradient blocks.
 *
 * Parameters live in ONE float block and gradients in another; the optimizer
 * owns one block per moment (n_params floats each). An update touches a slice
 * [offset, offset+count) with its own learning rate, so parameter groups
 * (a lower lr for a pretrained encoder, a frozen group that is simply not
 * updated) are slices. Every update follows torch.optim 1.13 exactly
 * (single-tensor path, maximize=False, amsgrad=False).
 *
 *   rnn_optim_config oc;
 *   rnn_optim_config_default(&oc, RNN_OPT_ADAMW);
 *   rnn_optim *opt = rnn_optim_create(&oc, n_params);   // NULL + message
 *   rnn_schedule sc;
 *   rnn_sched_init(&sc, RNN_SCHED_COSINE, oc.lr);
 *   sc.warmup_steps = 100; sc.total_steps = 10000;
 *   for (long step = 0; step < sc.total_steps; step++) {
 *       ... forward/backward into grads ...
 *       rnn_clip_grad_norm(grads, n_params, 5.0f);
 *       rnn_optim_begin_step(opt);
 *       rnn_optim_update(opt, params, grads, 0, n_params, rnn_sched_lr(&sc, step));
 *   }
 *   rnn_optim_free(opt);
 *
 * Resume: save rnn_optim_steps() and every rnn_optim_buffer(); on load create
 * the optimizer with the same config, rnn_optim_set_steps() and copy the
 * buffers back. The rnn_schedule struct is plain data: save it whole.
 */
#ifndef RNN_OPTIM_H
#define RNN_OPTIM_H

#include <stddef.h>

typedef enum { RNN_OPT_SGD, RNN_OPT_ADAM, RNN_OPT_ADAMW, RNN_OPT_RMSPROP } rnn_opt_type;

typedef struct {
    rnn_opt_type type;
    float lr;           /* default learning rate (rnn_optim_update takes the one to use) */
    float beta1, beta2; /* adam, adamw */
    float eps;          /* adam, adamw, rmsprop */
    float weight_decay; /* L2 added to the gradient; adamw: decoupled p *= 1 - lr*wd */
    float momentum;     /* sgd, rmsprop */
    float dampening;    /* sgd */
    float alpha;        /* rmsprop smoothing constant */
    int nesterov;       /* sgd; needs momentum > 0 and dampening 0 */
    int centered;       /* rmsprop */
} rnn_optim_config;

/* PyTorch's defaults for t: adam/adamw lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0 (adamw 0.01); rmsprop lr 1e-2, alpha 0.99, eps 1e-8; sgd has
 * no lr default in PyTorch, 1e-2 here; everything else 0. */
void rnn_optim_config_default(rnn_optim_config *c, rnn_opt_type t);
/* "sgd" | "adam" | "adamw" | "rmsprop" -> *t; -1 + message otherwise. */
int rnn_opt_parse_type(const char *name, rnn_opt_type *t);
const char *rnn_opt_type_name(rnn_opt_type t);

typedef struct rnn_optim rnn_optim; /* owns the step count and the moment buffers */

/* Validates c as PyTorch does (lr, eps, weight_decay >= 0, betas in [0, 1),
 * nesterov needs momentum > 0 and dampening 0; eps > 0 but for sgd), and
 * momentum and alpha in [0, 1) where PyTorch takes any value >= 0, and allocates
 * the zeroed buffers this optimizer needs. NULL + message on failure. */
rnn_optim *rnn_optim_create(const rnn_optim_config *c, size_t n_params);
void rnn_optim_free(rnn_optim *o); /* NULL is fine */

/* Starts an optimizer step: increments the step count t (t = 1 on the first
 * step). Call once per step, before the rnn_optim_update calls of that step. */
void rnn_optim_begin_step(rnn_optim *o);

/* params[i] -= update(grads[i], state[i]) for i in [offset, offset+count),
 * with learning rate lr. The slice is clamped to n_params. Every slice takes
 * the global step count here: one first updated after step 1 starts from
 * zeroed moments with bias corrections of the global t, and SGD initialises
 * its momentum buffer to the gradient only at t == 1 (PyTorch does both per
 * tensor; rnn_optim_update_group below does them per group). Elementwise, so
 * results do not depend on threads. */
void rnn_optim_update(rnn_optim *o, float *params, const float *grads, size_t offset, size_t count,
                      float lr);

/* rnn_optim_update with the step count of a parameter group (0 ..
 * RNN_OPT_GROUPS-1) instead of the global one: the steps in which the group
 * was updated. A group first updated at step 600 (unfrozen, ULMFiT's
 * gradual unfreezing) then takes Adam's first step, bias corrections of
 * t = 1, and SGD's momentum starts from its gradient, as PyTorch's per-tensor
 * state has it; with the global t, its zero moments' corrections of t = 600
 * moved it 2-4 times the lr for hundreds of steps. */
#define RNN_OPT_GROUPS 4
void rnn_optim_update_group(rnn_optim *o, float *params, const float *grads, size_t offset, size_t count,
                            float lr, int group);

/* State for an exact resume: the global count, then each group's (after it). */
long rnn_optim_steps(const rnn_optim *o);
void rnn_optim_set_steps(rnn_optim *o, long t);
long rnn_optim_group_steps(const rnn_optim *o, int group);
void rnn_optim_set_group_steps(rnn_optim *o, int group, long t);
/* Number of n_params-float buffers: sgd 0 or 1 (momentum_buffer);
 * adam/adamw 2 (exp_avg, exp_avg_sq); rmsprop 1-3 (square_avg, then
 * momentum_buffer if momentum > 0, then grad_avg if centered). */
int rnn_optim_num_buffers(const rnn_optim *o);
/* Buffer i (owned by o) and its PyTorch state name in *name (name may be
 * NULL); NULL when i is out of range. */
float *rnn_optim_buffer(rnn_optim *o, int i, const char **name);

/* Scales grads by max_norm / (norm + 1e-6) when that is < 1, norm being the
 * L2 norm of all n values (accumulated in double), as
 * torch.nn.utils.clip_grad_norm_. Returns the norm before clipping; a NaN or
 * inf norm leaves grads unchanged, so the caller can test it and skip the step. */
float rnn_clip_grad_norm(float *grads, size_t n, float max_norm);
/* Clamps every gradient to [-clip, clip] (NaN stays NaN), as clip_grad_value_. */
void rnn_clip_grad_value(float *grads, size_t n, float clip);

/* Learning-rate schedules, indexed by the 0-based optimizer step. */
typedef enum {
    RNN_SCHED_CONSTANT,
    RNN_SCHED_STEP,
    RNN_SCHED_COSINE,
    RNN_SCHED_PLATEAU
} rnn_sched_type;

typedef struct {
    rnn_sched_type type;
    float base_lr;
    long warmup_steps; /* all types: steps s < warmup use lr * (s+1)/warmup */
    long total_steps;  /* cosine: the step where lr reaches min_lr (set it) */
    float min_lr;      /* cosine floor; plateau floor */
    long step_size;    /* step: lr *= gamma every step_size steps after warmup */
    float gamma;
    /* plateau (torch ReduceLROnPlateau, threshold_mode 'rel', cooldown 0): */
    float factor;
    int patience;
    float threshold;
    int mode_max;   /* 0: lower metric is better; 1: higher is better */
    float cur_lr;   /* state: the current lr */
    float best;     /* state: best metric so far (NaN: none yet) */
    int bad_epochs; /* state: observations since the last improvement */
} rnn_schedule;

/* "constant" | "step" | "cosine" | "plateau" -> *t; -1 + message otherwise. */
int rnn_sched_parse(const char *name, rnn_sched_type *t);
const char *rnn_sched_name(rnn_sched_type t);
/* Defaults: no warmup, min_lr 0, step gamma 0.1 every 1000 steps, total_steps
 * 0 (cosine needs it set), plateau factor 0.1, patience 10, threshold 1e-4,
 * mode min (torch ReduceLROnPlateau's defaults). */
void rnn_sched_init(rnn_schedule *s, rnn_sched_type t, float base_lr);
/* lr for optimizer step `step` (0-based), after warmup w (s' = step - w):
 *   constant  base
 *   step      base * gamma^(s' / step_size)          (integer division)
 *   cosine    min + (base-min)/2 * (1 + cos(pi * min(1, s' / max(1, total - w))))
 *   plateau   cur_lr
 * and for step < w: (plateau: cur_lr, else base) * (step+1)/w. */
float rnn_sched_lr(const rnn_schedule *s, long step);
/* Plateau only (no-op returning 0 otherwise): feed a validation metric.
 * Exactly ReduceLROnPlateau.step: an improvement beats best by the relative
 * threshold; after more than `patience` observations without one, cur_lr
 * becomes max(cur_lr * factor, min_lr) (if that changes it by more than 1e-8)
 * and the count restarts. Returns 1 if the lr was reduced. */
int rnn_sched_observe(rnn_schedule *s, float metric);

#endif
