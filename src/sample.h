/* sample.h: text generation from a language model, one token at a time at
 * batch 1, with temperature, top-k and top-p (nucleus) sampling.
 *
 *   rnn_sampler *s = rnn_sampler_create(model, tok, seed);
 *   rnn_sampler_prime(s, "ROMEO:", 6, NULL);      // feeds the priming text
 *   rnn_detok d;
 *   rnn_detok_init(&d, rnn_sampler_last(s), 0);   // writes text after the prime's last token
 *   for (int i = 0; i < 200; i++) {
 *       int id = rnn_sampler_next(s, &opts);      // draws, then feeds it back
 *       ...rnn_detok_put(tok, &d, id, buf, sizeof buf)...
 *   }
 *   ...rnn_detok_end(tok, &d, buf, sizeof buf)...  // an apostrophe it still holds
 * (rnn_sampler_text does all of this, with a stop string.)
 *   rnn_sampler_free(s);
 */
#ifndef RNN_SAMPLE_H
#define RNN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h"
#include "model.h"
#include "tokenizer.h"

/* Zeroed fields past top_p leave their step out (rnn_sample_logits, rnn_sampler_next). */
typedef struct {
    float temperature;    /* 0: greedy (argmax) */
    int top_k;            /* 0: off */
    float top_p;          /* 1 or 0: off */
    float min_p;          /* 0: off; else only tokens at least min_p times as likely as the likeliest */
    float repeat_penalty; /* 0 or 1: off; else the logits of recent tokens are made less likely by it */
    int repeat_last;      /* the tokens repeat_penalty looks back on (RNN_REPEAT_LAST_MAX at most); 0: all */
} rnn_sample_opts;

/* The longest window repeat_last may name (the sampler keeps as many of
 * the last tokens fed). */
#define RNN_REPEAT_LAST_MAX 65536

typedef struct rnn_sampler rnn_sampler;

/* The model must be a language model; the sampler borrows m and tok (and
 * copies the weights: see infer.h). _ex picks the weights' precision:
 * RNN_BF16 halves the bytes read per token (sums stay fp32). */
rnn_sampler *rnn_sampler_create(const rnn_model *m, const rnn_tokenizer *tok, uint64_t seed);
/* 0 if m can be sampled from (a forward language model), else -1 + message:
 * what rnn_sampler_create checks first. */
int rnn_sampler_check(const rnn_model *m);
rnn_sampler *rnn_sampler_create_ex(const rnn_model *m, const rnn_tokenizer *tok, uint64_t seed,
                                   rnn_precision weights);
void rnn_sampler_free(rnn_sampler *s);
/* Back to what rnn_sampler_create(m, tok, seed) gives, without copying the
 * weights again: a zero state, nothing fed, no cache, the UTF-8 default,
 * and the process's thread count now. */
void rnn_sampler_reset(rnn_sampler *s, uint64_t seed);
/* Mixes a neural cache (cache.h) of the last size (state, next token) pairs
 * into every draw; size 0 removes it. Call it before feeding anything. Off
 * by default, even for a model trained with --cache (whose validation used
 * one): a cache favours what was just written, so generation with it tends
 * to repeat itself. -1 + message on bad settings. */
int rnn_sampler_set_cache(rnn_sampler *s, int size, float theta, float lambda);
/* A byte model's draws are held to valid UTF-8 without NUL bytes by default
 * (it has learnt text, and a terminal shows broken sequences as U+FFFD):
 * each draw bans the bytes that cannot come next, and rnn_sampler_text
 * finishes a character begun at the end of its length. on = 0 draws from
 * all 256 bytes (a model of binary data). -1 + message to turn it on for
 * another tokenizer. */
int rnn_sampler_set_utf8(rnn_sampler *s, int on);
/* Whether the unknown token (<unk>, [UNK]; a char model's U+FFFD) may be
 * drawn: yes by default (the model learnt how often text holds one); 0 bans
 * it, as the tokens no text encodes to are. -1 + message to ban it for a
 * tokenizer without one (byte); allowing it there is nothing to do. */
int rnn_sampler_allow_unk(rnn_sampler *s, int allow);
/* 1 while a UTF-8 character is begun and not finished. */
int rnn_sampler_utf8_pending(const rnn_sampler *s);
/* Feeds text through the model (state carried). Returns the number of
 * tokens fed, or -1 (invalid UTF-8, out of memory) with a message; *n_unk
 * (may be NULL) gets how many of them the vocabulary lacks (read as <unk>). */
long rnn_sampler_prime(rnn_sampler *s, const char *text, size_t len, size_t *n_unk);
/* Draws the next token from the distribution after everything fed so far
 * and feeds it back; returns its id, or -1 with a message when the model's
 * logits are not finite (nothing is fed then). With a repeat_penalty P
 * (not 0 or 1) the logits of the tokens among the last repeat_last fed
 * (the prime's included; 0: all fed since the start or the last reset) are
 * first divided by P where positive and multiplied by P where not, once
 * per token however often it came (CTRL's penalty, as Hugging Face's
 * RepetitionPenaltyLogitsProcessor, which looks at all the text: repeat_last
 * 0; with a cache, the mixture's log is the logit): P > 1 makes repeats
 * less likely, P < 1 more. Tokens that text never encodes to
 * (rnn_tokenizer_producible: <pad>, [CLS], [unused0], ...) are never drawn.
 * With nothing fed yet it first feeds a newline (when the vocabulary has
 * one; else its first token that is neither such a token nor the unknown
 * one), as char-rnn starts a sample at a line break. */
int32_t rnn_sampler_next(rnn_sampler *s, const rnn_sample_opts *o);
/* Generation as text (rnn sample, rnn_generate): draws up to length tokens
 * and hands the text of each, as the tokenizer spells it after the one
 * before, to emit. The prime (plen bytes, already fed; may be NULL) is the
 * text before them: a word or wordpiece model's first piece takes no space
 * after a prime that ends in whitespace, and a stop string may begin in it.
 * With stop_len > 0 generation ends once the text ends with stop (as the
 * model writes text: lowercased for a lowercasing tokenizer), the last
 * piece cut right after it. Returns 0; emit's nonzero value, which ends it
 * too; or -1 + message (out of memory). */
int rnn_sampler_text(rnn_sampler *s, const rnn_sample_opts *o, long length, const char *prime, size_t plen,
                     const char *stop, size_t stop_len, int (*emit)(const char *bytes, size_t n, void *user),
                     void *user);
/* The logits the next draw uses (the model's vocabulary size; with a cache,
 * the log of the mixture): valid after something was fed, until the next
 * feed. For tests and callers that want the distribution itself. */
const float *rnn_sampler_logits(const rnn_sampler *s);
/* The last token fed (-1 at start), for rnn_detok_init. */
int32_t rnn_sampler_last(const rnn_sampler *s);

/* Picks a token from logits (n) with o, in this order: temperature (the
 * logits divided by it; 0 takes the most likely), then top-k (the k most
 * likely, ties to the lower id), then top-p over those renormalised (the
 * fewest, most likely first, whose probability reaches p of theirs), then
 * min-p (of those, the ones whose probability is at least min_p times the
 * likeliest's; Hugging Face's order, and its MinPLogitsWarper). Ids
 * with banned[id] (banned may be NULL) and NaN logits are never drawn; a
 * +inf logit is drawn for sure. probs is n floats and order 2n ints of
 * scratch; u is a uniform number in [0, 1). Exposed for tests. */
int32_t rnn_sample_logits(const float *logits, int n, const rnn_sample_opts *o, const uint8_t *banned,
                          float *probs, int32_t *order, float u);

#endif
