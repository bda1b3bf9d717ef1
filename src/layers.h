/* layers.h: the non-recurrent layers: embedding, linear, dropout, pooling over
 * time, and the losses. Each is a forward/backward pair over flat float
 * arrays: outputs first, sizes last, gradients prefixed d. Backward functions
 * ADD into parameter gradients (the model clears them once per step).
 *
 *   rnn_embedding_forward(emb, W, ids, N, E);
 *   rnn_linear_forward(logits, h, W, b, N, H, V);
 *   float loss = rnn_softmax_xent(logits, targets, N, V, &n_valid, &n_correct);
 *   // logits now hold d(loss)/d(logits)
 *   rnn_linear_backward(dh, 0, dW, db, logits, h, W, N, H, V);
 */
#ifndef RNN_LAYERS_H
#define RNN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "recurrent.h"
#include "util.h"

/* out (N, E) = W[ids] for W (V, E). */
void rnn_embedding_forward(float *out, const float *W, const int32_t *ids, int N, int E);
/* dW[ids[n]] += dout[n], except for ids equal to padding_id (-1: none). */
void rnn_embedding_backward(float *dW, const float *dout, const int32_t *ids, int N, int E,
                            int padding_id);

/* out (N, O) = in (N, I) @ W^T (O, I) + b (O; NULL for no bias). */
void rnn_linear_forward(float *out, const float *in, const float *W, const float *b, int N, int I,
                        int O);
/* dW += dout^T @ in; db += column sums of dout; din (N, I) = dout @ W,
 * added to din when accumulate, else written (din may be NULL). */
void rnn_linear_backward(float *din, int accumulate, float *dW, float *db, const float *dout,
                         const float *in, const float *W, int N, int I, int O);

/* Inverted dropout: mask[i] = 0 with probability p, else 1/(1-p); x *= mask. */
void rnn_dropout_forward(float *x, float *mask, size_t n, float p, rnn_rng *rng);
/* The mask alone (the same draws rnn_dropout_forward makes), for a mask
 * applied inside a cell (recurrent dropout). */
void rnn_dropout_mask(float *mask, size_t n, float p, rnn_rng *rng);
/* rnn_dropout_forward whose mask repeats every `period` values (n a multiple
 * of it): in a time-major (T, B, W) batch with period B * W, one mask per
 * sequence, the same at every step. period 0: rnn_dropout_forward. The
 * backward is rnn_dropout_backward with the whole mask. */
void rnn_dropout_locked(float *x, float *mask, size_t n, size_t period, float p, rnn_rng *rng);
/* dx *= mask. */
void rnn_dropout_backward(float *dx, const float *mask, size_t n);

/* Pooling over each sequence's real length (docs/checkpoints.md), over the top layer's
 * packed outputs o (N, F) with F = D*H (forward direction first):
 *   last     [h_fwd at t = L-1 ; h_bwd at t = 0]          (B, F)
 *   mean     mean over t < L                               (B, F)
 *   max      elementwise max over t < L                    (B, F)
 *   meanmax  [mean ; max]                                  (B, 2F)
 *   attention  Σ_t softmax_t(score_t) o_t, score_t = w2 · tanh(W1 o_t + b1)  (B, F) */
typedef enum { RNN_POOL_LAST, RNN_POOL_MEAN, RNN_POOL_MAX, RNN_POOL_MEANMAX, RNN_POOL_ATTENTION } rnn_pool;
const char *rnn_pool_name(rnn_pool k);
int rnn_pool_parse(const char *s, rnn_pool *k); /* -1 + message on an unknown name */
int rnn_pool_width(rnn_pool k, int F);          /* F, or 2F for meanmax */

typedef struct {
    rnn_pool kind;
    int F, D, A;        /* features, directions (1|2), attention width */
    const float *w1;    /* (A, F) attention.0.weight */
    const float *b1;    /* (A) attention.0.bias */
    const float *w2;    /* (1, A) attention.2.weight */
} rnn_pooler;

typedef struct {
    int32_t *argmax; /* (B, F) packed row of each max (max, meanmax) */
    float *u;        /* (u_rows, A) tanh(W1 o + b1) (attention) */
    float *alpha;    /* (N) softmax weights (attention); each row's score until
                      * rnn_pool_end */
    float *run_max, *run_sum; /* (B) attention: the largest score so far and the
                      * sum of e^(score - run_max) (softmax online) */
    int u_rows;      /* N for the backward, which reads every row's u; fewer
                      * (RNN_POOL_U_ROWS) where only the forward runs: it
                      * makes u a block of rows at a time */
} rnn_pool_cache;

/* The rows of u an inference pass holds (rnn_pool_infer_rows): a long
 * text's u would be A floats a token (256 bytes at the default width). */
#define RNN_POOL_U_ROWS 1024
static inline int rnn_pool_infer_rows(int N) { return N < RNN_POOL_U_ROWS ? N : RNN_POOL_U_ROWS; }

/* Floats/ints the cache needs for N rows and B sequences with u_rows rows
 * of u (N, or rnn_pool_infer_rows(N) for the forward alone; sized
 * generously: one float per int). */
size_t rnn_pool_cache_floats(const rnn_pooler *pl, int N, int B, int u_rows);
void rnn_pool_cache_bind(rnn_pool_cache *c, const rnn_pooler *pl, int B, int u_rows, float *mem);

void rnn_pool_forward(const rnn_pooler *pl, const rnn_pack *p, float *out, const float *o,
                      const rnn_pool_cache *c, float *scratch);
/* The same a chunk of time steps at a time, for outputs never held whole (a
 * unidirectional classifier's inference over a long text, model.c):
 * rnn_pool_begin, then rnn_pool_chunk for each chunk in order, then
 * rnn_pool_end with the whole pack p (rnn_pool_forward is the three over one
 * chunk, p itself). A chunk is a pack q of its own (rows from 0; sequence
 * b's steps in it, q->lengths[b]) whose first step is step t0 of p and first
 * row p's packed row r0; lengths are p's; o holds the chunk's rows only.
 * Attention keeps each row's score in c->alpha and a running max and sum per
 * sequence (softmax online), rescaling what it summed when a chunk raises the
 * max; rnn_pool_end turns the scores into the weights. */
void rnn_pool_begin(const rnn_pooler *pl, int B, float *out, const rnn_pool_cache *c);
void rnn_pool_chunk(const rnn_pooler *pl, const rnn_pack *q, int t0, int r0, const int *lengths, float *out,
                    const float *o, const rnn_pool_cache *c);
void rnn_pool_end(const rnn_pooler *pl, const rnn_pack *p, float *out, const rnn_pool_cache *c);
/* rnn_pool_chunk for direction d's H features alone (every kind but
 * attention), o holding that direction's rows of the chunk (stride ldo): the
 * directions of a bidirectional top layer pool apart, each as it runs (the
 * reverse direction's chunks from the last, so a mean sums in another order
 * than one pass's, and a max tied between rows keeps a later row in argmax,
 * which only a backward reads). */
void rnn_pool_chunk_dir(const rnn_pooler *pl, const rnn_pack *q, int t0, int r0, const int *lengths, int d,
                        float *out, const float *o, int ldo, const rnn_pool_cache *c);
/* do_ (N, F) is written (not accumulated); dw1/db1/dw2 accumulate (attention).
 * scratch: rnn_pool_scratch_floats() floats. */
void rnn_pool_backward(const rnn_pooler *pl, const rnn_pack *p, float *do_, float *dw1, float *db1,
                       float *dw2, const float *dout, const float *o, const rnn_pool_cache *c,
                       float *scratch);
size_t rnn_pool_scratch_floats(const rnn_pooler *pl, int N, int B);

/* Mean softmax cross-entropy over rows whose target is >= 0 (negative
 * targets, e.g. -100, are ignored, as PyTorch's ignore_index). logits (N, C)
 * are overwritten with d(loss)/d(logits). Returns the mean loss in nats (0
 * if no row counts); *n_valid gets the rows counted, *n_correct those whose
 * argmax equals the target (either may be NULL). */
double rnn_softmax_xent(float *logits, const int32_t *targets, int N, int C, int *n_valid,
                        int *n_correct);
/* Same loss without the gradient: logits are left unchanged. */
double rnn_softmax_xent_eval(const float *logits, const int32_t *targets, int N, int C,
                             int *n_valid, int *n_correct);
/* Mean binary cross-entropy with logits (numerically stable), targets in
 * [0, 1]. logits (N) overwritten with the gradient. *n_correct counts
 * (logit > 0) == (target > 0.5). */
double rnn_bce_logits(float *logits, const float *targets, int N, int *n_correct);

/* log(e^a + e^b), in double; either may be -inf. */
double rnn_log_add(double a, double b);
/* log softmax(x)[y] of a row of C logits, in double: exact where the
 * probability is below a float's range (a confidently wrong model's). */
double rnn_log_softmax_at(const float *x, int C, int y);

/* What a training loss adds to the plain one (rnn train's --class-weight and
 * --label-smoothing); all zero is the plain loss. */
typedef struct {
    const float *class_weight; /* (C) positive weight of each class, or NULL: all 1 */
    float label_smoothing;     /* in [0, 1); 0: none */
} rnn_loss_cfg;

/* rnn_softmax_xent with lc's weights and smoothing, as PyTorch's
 * CrossEntropyLoss(weight=w, label_smoothing=s, ignore_index=<0) with
 * reduction mean: over the rows whose target y >= 0,
 *   loss = sum_n [(1-s) w_y (-log p_y) + (s/C) sum_c w_c (-log p_c)] / sum_n w_y
 * (w = 1 without weights: the mean over rows). Rows whose target is
 * negative stay ignored; logits are overwritten with d(loss)/d(logits). lc
 * NULL or all zero: exactly rnn_softmax_xent. */
double rnn_softmax_xent_cfg(float *logits, const int32_t *targets, int N, int C, const rnn_loss_cfg *lc,
                            int *n_valid, int *n_correct);
/* rnn_bce_logits with lc's weights and smoothing, as PyTorch's
 * BCEWithLogitsLoss(weight=w) with w[n] = class_weight[y_n > 0.5] (the
 * weight of example n's class) and reduction mean: sum_n w_n l_n / N, not
 * divided by the weights' sum (unlike the softmax loss above). Smoothing
 * takes each target y to y(1-s) + s/2 (Keras's
 * BinaryCrossentropy(label_smoothing=s)); *n_correct is counted against the
 * unsmoothed targets. lc NULL or all zero: exactly rnn_bce_logits. */
double rnn_bce_logits_cfg(float *logits, const float *targets, int N, const rnn_loss_cfg *lc, int *n_correct);

/* Softmax of one row in place (max-subtracted). */
void rnn_softmax_row(float *x, int n);

#endif
