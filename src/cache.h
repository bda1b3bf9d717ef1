/* cache.h: the neural cache of a language model (Grave, Joulin & Usunier,
 * "Improving neural language models with a continuous cache", ICLR 2017).
 *
 * A recurrent LM forgets the exact words it has just read; the cache keeps
 * them. It stores, per stream, the last `size` pairs (h_i, x_{i+1}): the top
 * layer's output at position i (the head's input) and the token that came
 * next. At position t the model's prediction is mixed with a vote of those
 * tokens, each weighted by how much its h_i looks like h_t:
 *
 *   p(w) = (1 - lambda) * softmax(logits_t)[w]
 *        + lambda * sum over cached i with x_{i+1} = w of  softmax_i(theta * h_t . h_i)
 *
 * It has nothing to train: theta (how sharply similar states are matched) and
 * lambda (the cache's share) are set by hand, and the window never holds the
 * token being predicted. With the window empty, p is the model's own.
 *
 *   rnn_lm_cache *c = rnn_lm_cache_create(B, 100, F, V, 0.3f, 0.1f);
 *   rnn_lm_cache_probs(c, b, h_t, logits_t, p);   // p (V): the mixture
 *   rnn_lm_cache_push(c, b, h_t, next_token);     // then remember what came
 *   rnn_lm_cache_free(c);
 */
#ifndef RNN_CACHE_H
#define RNN_CACHE_H

#include <stdint.h>

typedef struct rnn_lm_cache rnn_lm_cache;

/* theta beyond this makes theta * h . h overflow float for wide layers. */
#define RNN_CACHE_MAX_THETA 1e6
/* The largest window a model's config may ask for. */
#define RNN_CACHE_MAX_SIZE 1000000

/* streams independent windows of size pairs; width: the length of h; vocab:
 * the logits' length. NULL + message when out of memory or out of range
 * (size >= 1, theta in [0, RNN_CACHE_MAX_THETA], lambda in [0, 1)). */
rnn_lm_cache *rnn_lm_cache_create(int streams, int size, int width, int vocab, float theta,
                                  float lambda);
void rnn_lm_cache_free(rnn_lm_cache *c);
/* Writes into p (vocab floats) the mixture above for stream b at a position
 * whose top output is h and whose model logits are logits. Calls for
 * different streams may run in parallel. */
void rnn_lm_cache_probs(rnn_lm_cache *c, int b, const float *h, const float *logits, float *p);
/* log p(y) of the mixture above, computed in double from the logits and
 * the held pairs: exact where rnn_lm_cache_probs's float probabilities
 * underflow (a probability below float's ~1e-38, where the float softmax
 * holds e^-87 at best, or 0). For scoring such a token; the same pairs as
 * rnn_lm_cache_probs, so call it before rnn_lm_cache_push. */
double rnn_lm_cache_logprob(const rnn_lm_cache *c, int b, const float *h, const float *logits, int32_t y);
/* Remembers that next followed h in stream b (the oldest pair makes room). */
void rnn_lm_cache_push(rnn_lm_cache *c, int b, const float *h, int32_t next);

#endif
