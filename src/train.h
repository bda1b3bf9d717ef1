/* train.h: the training loop (rnn train), and the pieces of it that tests
 * and the evaluation command reuse.
 *
 *   rnn_opts o; rnn_opts_default(&o);
 *   rnn_opts_set(&o, "data", "input.txt");
 *   if (rnn_train(&o, NULL, NULL, NULL, 0)) fprintf(stderr, "rnn: %s\n", rnn_last_error());
 *
 * A run writes a run directory (--out): config.txt (the resolved options,
 * readable by --config), model.safetensors (best on validation),
 * last.safetensors, state.safetensors (optimizer moments, hidden state, data
 * position, random state and schedule, for an exact --resume), metrics.csv,
 * metrics.svg (its plot, src/plot.h) and train.log.
 */
#ifndef RNN_TRAIN_H
#define RNN_TRAIN_H

#include <stdint.h>

#include "rnn.h"

#include "model.h"
#include "optim.h"
#include "options.h"
#include "tokenizer.h"

/* Runs training as `rnn train` does with these options. cb (may be NULL)
 * gets an rnn_train_event (include/rnn.h) after every optimizer step and
 * every validation; when it returns non-zero the run stops, saved as on
 * Ctrl-C, and rnn_train returns 0. dir (may be NULL) gets the run directory
 * as soon as it is known (dir_cap bytes). */
int rnn_train(const rnn_opts *o, rnn_train_callback cb, void *user, char *dir, size_t dir_cap);
/* Asks a running rnn_train to stop after the current step, save and return
 * (async-signal-safe: the CLI calls it from its signal-watching thread,
 * or from its SIGINT/SIGTERM handler). */
void rnn_train_interrupt(void);
/* 1 while an rnn_train_interrupt has not yet been acted on (a run in its
 * setup, or in a step, stops when that ends). */
int rnn_train_interrupt_pending(void);
/* For tests: rnn_train holds a language model's token streams at no fewer
 * than w bytes per id (4: int32, as all runs did before 2026-12-06), the
 * reference that narrower streams must train exactly as. 0: the default,
 * the vocabulary's width. Not for use while a run is going. */
void rnn_train_stream_width(int w);

/* What one optimizer step does besides the maths. */
typedef struct {
    float clip;          /* global norm (0: off) */
    float clip_value;    /* per value (0: off) */
    float lr_mult[3];    /* per rnn_group: embedding, encoder, head (0: frozen) */
    rnn_loss_cfg loss;   /* class weights (classify) and label smoothing; zero: the plain loss */
} rnn_step_cfg;

/* One training step on the packed batch p whose ids and targets are in
 * a->ids / a->targets (a->ftargets for bce): forward (dropout on), loss
 * (with sc->loss's weights and smoothing), backward, clipping, optimizer
 * update with learning rate lr. Returns the mean loss that was trained;
 * *grad_norm (may be NULL) gets the norm before clipping. A step
 * whose gradient is not finite is skipped (returns NaN). m must hold its
 * gradients (rnn_model_alloc_grad). */
double rnn_train_step(rnn_model *m, rnn_acts *a, const rnn_pack *p, int state_in, rnn_optim *opt,
                      const rnn_step_cfg *sc, float lr, rnn_rng *rng, float *grad_norm,
                      int *n_correct);

/* A language model's token stream as training holds it: each id in as few
 * bytes as the vocabulary needs (rnn_lm_width), so that a char or byte
 * model's text takes a byte a token for the whole run, not four. Batches
 * and evaluation widen the ids they read to int32 as they copy them. */
typedef struct {
    void *ids;   /* (n) uint8_t, uint16_t or int32_t, as width says; malloc'd by rnn_lm_encode */
    size_t n;
    int width;   /* bytes per id: 1, 2 or 4 */
} rnn_lm_stream;

/* Bytes per id for a vocabulary of V ids (0 .. V-1): 1 up to 256, 2 up to
 * 65,536, else 4. */
int rnn_lm_width(int V);
/* A stream over n int32 ids that stay the caller's (width 4, read only). */
rnn_lm_stream rnn_lm_view(const int32_t *ids, size_t n);
/* Ids from .. from+count-1 of s into out[0], out[stride], out[2*stride], ... */
void rnn_lm_read(const rnn_lm_stream *s, size_t from, size_t count, int32_t *out, size_t stride);
/* The piece rnn train and rnn eval encode a text in (bytes): its int32 ids
 * are what encoding holds besides the text and the stream. */
#define RNN_LM_PIECE ((size_t)1 << 20)
/* Encodes len bytes of text with t into *s at the width of t's vocabulary
 * (or min_width bytes per id where that is more), in pieces of about piece
 * bytes (rnn_tokenizer_cut says where a cut is safe), so that no more than
 * one piece's ids are ever held as int32: the ids are those of
 * rnn_tokenizer_encode on the whole text. n_unk (may be NULL) gets the
 * unknown ids. 0, or -1 + the message encoding the whole text would give,
 * with *s untouched. */
int rnn_lm_encode(const rnn_tokenizer *t, const char *text, size_t len, size_t piece, int min_width,
                  rnn_lm_stream *s, size_t *n_unk);
/* Reverses the ids in place (a backward language model's text). */
void rnn_lm_reverse(rnn_lm_stream *s);
void rnn_lm_stream_free(rnn_lm_stream *s); /* frees an encoded stream's ids; a zeroed one is fine */

/* Language-model batching: the token stream is cut into B contiguous
 * streams of len = n / B tokens; batch k reads positions k*T .. k*T+T-1 of
 * every stream as inputs and the next positions as targets, time-major
 * (ids[t*B + b]). Returns the number of full batches, (len - 1) / T.
 * With offset > 0 the B*len tokens are first rotated left by offset (the
 * streams start offset tokens later, the last one wrapping round to the
 * start of the text), for --random-offset. */
long rnn_lm_batches(size_t n, int B, int T);
void rnn_lm_fill(const rnn_lm_stream *data, int B, int T, long k, size_t offset, int32_t *ids,
                 int32_t *targets);

/* --random-offset: the rotation of epoch `epoch` for a run seeded `seed`,
 * in [0, n / B): 0 for the first epoch, then a function of (seed, epoch)
 * alone, so that a resumed run reads the same batches. */
size_t rnn_lm_offset(size_t n, int B, uint64_t seed, long epoch);

/* --word-dropout: each of n input ids becomes unk with probability p,
 * drawn from rng in order (so a resumed run draws the same). Whole tokens,
 * as in Iyyer et al. 2015: the model learns an <unk> embedding it can use
 * for words it never saw in training, and cannot lean on any one word. A
 * language model's targets are a separate array and stay. */
void rnn_word_dropout(int32_t *ids, size_t n, float p, int32_t unk, rnn_rng *rng);

/* What rnn_lm_evaluate measures. */
typedef struct {
    double loss, accuracy;   /* mean cross-entropy (nats) and next-token accuracy of the
                                model's prediction: with its neural cache when it has one */
    long count;              /* tokens predicted */
    double model_loss, model_accuracy; /* the recurrent model's own, without the cache
                                          (equal to the above when it has none) */
} rnn_lm_eval;

/* Evaluates a language model over a token stream read as B contiguous
 * streams in chunks of T steps with the state (and the cache's window)
 * carried (B = 1: the whole stream as one sequence from a zero state; every
 * token but the first is predicted). */
int rnn_lm_evaluate(const rnn_model *m, const int32_t *data, size_t n, int B, int T, rnn_lm_eval *out);

/* Steps per chunk for evaluating B streams of a vocabulary of V (the T of
 * rnn_lm_evaluate): chunks of up to 4096 rows (steps x streams), so that a
 * batch-1 pass packs W_hh for its matrix-vector products seldom (4096 rows
 * in place of 256: 5-8% faster for a 2x512 char LSTM), with a chunk's logits
 * held to ~8 MB where V allows (a 30k-word vocabulary: 256 rows), and at
 * least one step: more than 256 streams of such a vocabulary hold more. */
int rnn_lm_eval_steps(int B, int V);

/* Told after every chunk how many of the total tokens have been predicted. */
typedef void (*rnn_lm_progress)(size_t done, size_t total, void *user);
/* rnn_lm_evaluate of a stream at any width (rnn train's validation, rnn
 * eval's text), calling progress (may be NULL) with user. */
int rnn_lm_evaluate_stream(const rnn_model *m, const rnn_lm_stream *data, int B, int T, rnn_lm_progress progress,
                           void *user, rnn_lm_eval *out);

/* Dynamic evaluation (Krause et al. 2018): the stream is read as one
 * sequence in segments of seg tokens; each segment is scored first, then
 * its mean loss takes one gradient step g (norm clipped to clip when > 0):
 * w += decay * (w0 - w) - lr * g, w0 the weights before evaluation; with
 * rms > 0, g / (sqrt(ms / (1 - rms^t)) + 1e-8) in place of g, where
 * ms = rms * ms + (1 - rms) * g^2 is the running mean square over the t
 * steps so far (RMSprop on the evaluated stream). A token is still predicted
 * only from the tokens before it. */
typedef struct {
    int seg;
    float lr, decay, clip, rms;
} rnn_dynamic_cfg;
/* Scores data as rnn_lm_evaluate with B = 1, adapting m's weights as it
 * reads (m ends adapted to the whole stream); progress as above. */
int rnn_lm_evaluate_dynamic(rnn_model *m, const rnn_lm_stream *data, const rnn_dynamic_cfg *d,
                            rnn_lm_progress progress, void *user, rnn_lm_eval *out);

#endif
