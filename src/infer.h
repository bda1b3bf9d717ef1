/* infer.h: a language model one token at a time (batch 1): the
 * matrix-vector path that sampling runs on.
 *
 * At batch 1 every weight is read once per token and used for one
 * multiply-add, so speed is memory bandwidth: a 2x512 LSTM reads 12 MB of
 * fp32 weights per token, from L3 at best. The stepper therefore keeps its
 * own copy of the weights laid out for streaming (16 rows interleaved, in
 * the order a token reads them, so each thread reads one contiguous stream
 * with software prefetch running ahead), replaces layer 0's input
 * projection of a small vocabulary by a table of it for every token id,
 * optionally rounds the weights to bf16 to halve the bytes (activations,
 * state and sums stay fp32), and runs a whole token
 * in one parallel region: each thread computes every gate of its share of
 * the hidden units and applies the cell to them (recurrent.h's row
 * functions, the same maths as training), with one barrier per layer.
 *
 *   rnn_stepper *s = rnn_stepper_create(model, RNN_FP32);
 *   const float *logits = rnn_stepper_feed(s, id);   // (vocab) after id
 *   rnn_stepper_free(s);
 */
#ifndef RNN_INFER_H
#define RNN_INFER_H

#include <stdint.h>

#include "gemm.h"
#include "model.h"

/* The matrix-vector kernel underneath, for any batch-1 product: a matrix of
 * R rows and K columns "in blocks" holds, for each block b of 16 rows and
 * each column k, the 16 values W[16b + r][k] side by side (rows past R are
 * zero), so y = W x is one vector multiply-add per 16 weights, with no
 * horizontal sums. The recurrence of a single sequence (classification at
 * batch 1) runs its W_hh products on it. */
size_t rnn_blocks_floats(int rows, int K);
/* W (rows x K, row-major) into dst (rnn_blocks_floats(rows, K) floats). */
void rnn_blocks_pack(float *dst, const float *W, int rows, int K);
/* Rows [r0, r1) of y = W x, W packed by rnn_blocks_pack (fastest when r0
 * and r1 are multiples of 16 or r1 is rows: whole blocks). */
void rnn_blocks_gemv(const float *w, int rows, int K, const float *x, float *y, int r0, int r1);

typedef struct rnn_stepper rnn_stepper;

/* For a unidirectional language model with a recurrent cell; NULL with a
 * message otherwise or when out of memory. The weights are packed into the
 * stepper's own blocks, but for the embedding, read in m: m must outlive
 * the stepper and its weights stay as they were. weights: RNN_FP32, or
 * RNN_BF16 (weights rounded to bfloat16; any CPU). */
rnn_stepper *rnn_stepper_create(const rnn_model *m, rnn_precision weights);
void rnn_stepper_free(rnn_stepper *s);
/* Back to the zero state. */
void rnn_stepper_reset(rnn_stepper *s);
/* Feeds one token; returns the logits that predict the next one (owned by
 * the stepper, valid until the next call). */
const float *rnn_stepper_feed(rnn_stepper *s, int32_t id);
/* The top layer's output after the last token fed (hidden_dim floats, the
 * output layer's input; owned by the stepper, valid until the next call). */
const float *rnn_stepper_top(const rnn_stepper *s);
/* Internal, for tests: whether the layers' streams prefetch in software
 * (chosen per CPU by timing a stepper's first tokens: prefetch_start in
 * infer.c); setting it ends a trial. rnn_stepper_prefetch: 1 or 0, or -1
 * while the stepper is still timing its tokens. */
void rnn_stepper_set_prefetch(rnn_stepper *s, int pf);
int rnn_stepper_prefetch(const rnn_stepper *s);

#endif
