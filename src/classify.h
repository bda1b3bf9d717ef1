/* classify.h: text classification data in model form — encoded examples,
 * length-bucketed batches in packed layout — and evaluation (loss, accuracy,
 * macro-F1, confusion matrix).
 *
 *   rnn_cls_data d;
 *   rnn_cls_encode(&d, &dataset, tok, max_len, keep_tail, &n_unk, &n_cut, &n_empty);
 *   rnn_cls_plan_epoch(&d, B, seed, epoch, 1);       // shuffled, bucketed
 *   for (long k = 0; k < d.n_batches; k++) {
 *       rnn_cls_fill(&d, k, acts, &pack, bce);        // ids, targets, pack
 *       ...rnn_train_step...
 *   }
 */
#ifndef RNN_CLASSIFY_H
#define RNN_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "textdata.h"
#include "tokenizer.h"

typedef struct {
    int32_t *tokens;  /* all examples' ids, one after another */
    size_t *start;    /* (n) first token of example i */
    int *len;         /* (n) tokens of example i (>= 1) */
    int *label;       /* (n) class id */
    size_t n;
    size_t n_read;    /* the tokens the texts encoded to, before --max-len cut any */
    int max_len;      /* longest example (tokens) */
    /* the current plan: example indices in batch order, each batch sorted
     * longest first */
    size_t *order;
    long n_batches;
    int B;
    int max_rows;     /* most packed rows of any planned batch */
} rnn_cls_data;

/* Encodes every example (a text with no token becomes the single token
 * <unk>, or a space for the byte tokenizer, so that every sequence has a
 * length of at least 1). max_len > 0 truncates, keeping
 * the tail when keep_tail, else the head. *n_unk / *n_cut / *n_empty (may
 * be NULL) get the unknown tokens, the truncated examples and the examples
 * with no tokens at all (each read as the one filler token). */
int rnn_cls_encode(rnn_cls_data *d, const rnn_dataset *ds, const rnn_tokenizer *tok, int max_len,
                   int keep_tail, size_t *n_unk, size_t *n_cut, size_t *n_empty);

/* Appends one text's ids (n >= 1, already cut) to d as example d->n with
 * class label (d->label may be NULL), growing d->tokens by doubling: *cap
 * is the int32s it holds (0 at first). d->start, d->len (and d->label) must
 * have room for example d->n. -1 with "out of memory" (d unchanged). */
int rnn_cls_append(rnn_cls_data *d, size_t *cap, const int32_t *ids, size_t n, int label);

/* A text's ids cut to max_len (> 0) tokens: its first ones, or with
 * keep_tail its last ones (moved to the front). Returns the new count, n
 * itself when it is no longer or max_len is 0. */
size_t rnn_cls_cut(int32_t *ids, size_t n, int max_len, int keep_tail);

/* One text's ids (n >= 1, already cut) through classifier m: the class
 * probabilities into probs (num_classes floats). *a, activations for *a_T
 * tokens at batch 1 (NULL and 0 at first), is replaced by a larger one
 * when the text is longer; the caller frees it with rnn_acts_free. -1 with
 * a message when out of memory. */
int rnn_cls_text_probs(const rnn_model *m, rnn_acts **a, int *a_T, const int32_t *ids, int n, float *probs);

/* The class probabilities of every example of d as rnn_cls_text_probs gives
 * them one at a time (rnn_cls_probs, floats), but in batches of B examples
 * sorted by length, as rnn eval reads them (d's plan is replaced): probs
 * gets (d->n, C) floats in d's example order. A batch's products round
 * differently from batch 1's, so the last digits may differ from
 * rnn_cls_text_probs's. *a: activations kept between calls (NULL at first),
 * replaced by a larger one when d needs more; the caller frees it with
 * rnn_acts_free. alpha (NULL, or one float per token of d; attention
 * pooling only) gets each token's pooling weight at the token's place in
 * d->tokens (d->start[i] + t). -1 with a message when out of memory. */
int rnn_cls_batch_probs(const rnn_model *m, rnn_cls_data *d, int B, rnn_acts **a, float *probs, float *alpha);

/* What rnn train and rnn eval say about a classifier's data set, in the
 * same words (without a "rnn: " or log prefix): that the first row of path
 * looked like a header and was skipped, and that `empty` of `total` texts
 * have no tokens. 1 with the note in buf (n bytes), 0 when there is none. */
int rnn_cls_note_header(char *buf, size_t n, const char *path, const rnn_dataset *ds);
int rnn_cls_note_empty(char *buf, size_t n, const char *what, size_t empty, size_t total,
                       const rnn_tokenizer *tok);
void rnn_cls_data_free(rnn_cls_data *d);

/* Plans the batches of an epoch: with shuffle, a permutation seeded by
 * (seed, epoch) cut into pools of 50 batches, each pool sorted by length
 * (bucketing: the lengths in a batch are close, so a batch's activations
 * are small), batches in shuffled order; without, examples sorted by length
 * in batches. Deterministic, so a
 * resumed run re-plans the same epoch. Returns -1 with a message when out
 * of memory or when a batch would hold more than INT_MAX tokens (packed
 * rows are ints). */
int rnn_cls_plan_epoch(rnn_cls_data *d, int B, uint64_t seed, long epoch, int shuffle);

/* Packs planned batch k into a (ids, lengths, targets or ftargets) and p.
 * Returns the number of sequences in it. */
int rnn_cls_fill(const rnn_cls_data *d, long k, rnn_acts *a, rnn_pack *p, int bce);

typedef struct {
    double loss, accuracy, macro_f1;
    long n;
    int C;
    long *confusion; /* (C, C) rows = true class, columns = predicted; malloc'd; NULL past
                        RNN_CONFUSION_MAX_CLASSES classes */
} rnn_cls_metrics;

/* The most classes whose confusion matrix is kept: 4096^2 counts are 128 MB
 * (a model of 100,000 classes would need 80 GB). */
#define RNN_CONFUSION_MAX_CLASSES 4096

/* Evaluates m over all of d (batches of B, not shuffled): the loss (the
 * mean of -log p(true class)), accuracy and macro-F1 of the most probable
 * class, and the confusion matrix (up to RNN_CONFUSION_MAX_CLASSES). */
int rnn_cls_evaluate(const rnn_model *m, rnn_cls_data *d, int B, rnn_cls_metrics *out);

/* The same for the mean class probabilities of K models (an ensemble), model
 * k reading the examples as d[k] holds them, encoded with its own tokenizer
 * (the same examples in the same order; the labels are d[0]'s). The
 * probabilities are held for a block of examples at a time, so memory does
 * not grow with examples times classes. */
int rnn_cls_evaluate_mean(const rnn_model *const *m, const rnn_cls_data *const *d, int K, int B,
                          rnn_cls_metrics *out);
void rnn_cls_metrics_free(rnn_cls_metrics *mt);

/* Class probabilities from a classifier's logits row (softmax, or the
 * sigmoid pair for bce). */
void rnn_cls_probs(const rnn_model *m, const float *logits, float *probs);

#endif
