/* model.h: a whole model — embedding → recurrent stack → head — as one fixed,
 * configured pipeline (docs/checkpoints.md), with its parameters, gradients and
 * activations each in one block.
 *
 *   rnn_config c; rnn_config_default(&c, RNN_TASK_LM);
 *   c.vocab_size = 65;
 *   rnn_model *m = rnn_model_create(&c);          // NULL + message on failure
 *   rnn_model_init(m, seed);                       // PyTorch's default init
 *   rnn_acts *a = rnn_acts_create(m, T, B);        // worst-case activations, once
 *   rnn_model_forward(m, a, &pack, ids, 0, 1, &rng); // no state in, train: logits in a->logits
 *   double loss = rnn_softmax_xent(a->logits, targets, a->n_logit_rows, V, 0, 0);
 *   rnn_model_alloc_grad(m);                       // once, before training
 *   rnn_model_zero_grad(m);
 *   rnn_model_backward(m, a, &pack, ids);          // grads in m->g
 *
 * The parameter table (rnn_param) is built once from the config and is the
 * only list of tensors: the optimizer, clipping and checkpoint I/O walk it or
 * the flat blocks, so counts, sizes and pointers cannot drift apart.
 */
#ifndef RNN_MODEL_H
#define RNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "layers.h"
#include "recurrent.h"
#include "util.h"

typedef enum { RNN_TASK_LM, RNN_TASK_CLASSIFY } rnn_task;
typedef enum { RNN_LOSS_CE, RNN_LOSS_BCE } rnn_loss;

#define RNN_MAX_LAYERS 8
#define RNN_MAX_TEXT_LEN 1073741823 /* tokens in one classified text (INT_MAX / 2): rows are ints */

typedef struct {
    rnn_task task;
    rnn_cell cell;        /* RNN_CELL_NONE: no recurrence (bag of embeddings) */
    int vocab_size;
    int embed_dim;
    int hidden_dim;
    int num_layers;
    int bidirectional;
    float dropout;        /* between stacked layers (not after the last), as nn.LSTM */
    float embed_dropout;  /* on the embedding output, the first layer's (or pooling's) input */
    float weight_drop;    /* DropConnect on every W_hh, one mask per batch (AWD-LSTM) */
    float recurrent_dropout; /* LSTM/GRU: on the cell's candidate, per unit and step (Semeniuta 2016) */
    int locked_dropout;   /* lm: dropout, embed_dropout and head_dropout draw one mask per sequence,
                             the same at every step (variational; AWD-LSTM's locked dropout) */
    int residual;         /* add each layer's input to its output when widths match */
    float head_dropout;   /* dropout before the head: on a classifier's pooled features,
                             a language model's top layer output */
    /* classify only */
    rnn_pool pool;
    int attention_dim;
    int num_classes;
    rnn_loss loss;        /* bce: one logit */
    int max_len;          /* texts are read by their first (or, truncate_tail, last) max_len
                             tokens, as in training (rnn train --max-len); 0: whole texts */
    int truncate_tail;
    /* embedding */
    int padding_id;       /* row that gets no gradient (-1: none) */
    int freeze_embedding; /* embedding not trained */
    float forget_bias;    /* LSTM: added to the forget gate's b_ih at init */
    int reverse;          /* lm: trained on text read right to left (a backward LM, for
                             --init-backward); eval reads files reversed, sampling refuses */
    int tie_weights;      /* lm: the output layer's weight is the embedding (Press & Wolf
                             2017; needs embed_dim == hidden_dim): one [V, E] matrix,
                             trained by both ends; checkpoints still carry head.weight,
                             a copy, for PyTorch */
    /* lm: the neural cache (cache.h) every evaluation and sampling of this
       model mixes in; nothing to train, so a setting of the model's use */
    int cache_size;       /* pairs remembered per stream (0: no cache) */
    float cache_theta;    /* sharpness of the match of hidden states */
    float cache_lambda;   /* the cache's share of the prediction, in [0, 1) */
} rnn_config;

void rnn_config_default(rnn_config *c, rnn_task task);
/* Checks ranges and combinations; -1 + message naming the field. */
int rnn_config_validate(const rnn_config *c);
/* The config as the JSON object of the "config" metadata (docs/checkpoints.md; malloc'd). */
char *rnn_config_to_json(const rnn_config *c);
/* Parses it back; an unknown key is an error (a damaged file, or a newer
 * rnn.c's), missing ones get defaults except the required
 * task/cell/vocab_size/embed_dim/hidden_dim/num_layers. */
int rnn_config_from_json(rnn_config *c, const char *json);
const char *rnn_task_name(rnn_task t);

/* Which optimizer group a parameter belongs to. */
typedef enum { RNN_GROUP_EMBED, RNN_GROUP_ENCODER, RNN_GROUP_HEAD } rnn_group;

typedef struct {
    char name[48];   /* PyTorch state_dict name, e.g. "rnn.weight_hh_l1_reverse" */
    int ndim;
    int64_t shape[2];
    size_t offset;   /* into the flat blocks w and g */
    size_t numel;
    rnn_group group;
    int64_t fan_in;  /* init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch (0: the embedding's own rule) */
} rnn_param;

#define RNN_MAX_PARAMS (4 * 2 * RNN_MAX_LAYERS + 8)

typedef struct rnn_model {
    rnn_config c;
    int D;                 /* directions */
    int F;                 /* width of the top layer's output (D*H, or E without recurrence) */
    int n_out;             /* logits per row: vocab (lm), classes (ce) or 1 (bce) */
    rnn_param params[RNN_MAX_PARAMS];
    int n_params;
    size_t n_floats;
    float *w;              /* all parameters, one block */
    float *g;              /* all gradients, same layout; NULL until rnn_model_alloc_grad() */
    /* views into w / g */
    float *emb, *d_emb;                    /* (V, E) */
    rnn_dir dirs[RNN_MAX_LAYERS * 2];      /* weights of layer l, direction d at [l*D + d] */
    rnn_dir_weights gdirs[RNN_MAX_LAYERS * 2];
    float *att_w1, *att_b1, *att_w2, *d_att_w1, *d_att_b1, *d_att_w2;
    float *head_w, *head_b, *d_head_w, *d_head_b; /* (n_out, P), (n_out) */
    float *blk;            /* NULL, or every direction's W_hh in blocks (rnn_model_keep_blocks) */
} rnn_model;

rnn_model *rnn_model_create(const rnn_config *c);
/* For a model that only infers from here on (an rnn_open handle): keeps
 * each direction's W_hh in the blocks a text read at batch 1 multiplies by
 * (dirs[k].blk), another copy of W_hh, packed once instead of for each
 * text (a third of a short text's time with a 2x1024 LSTM). Weights
 * changed afterwards are not seen there. 0, or -1 + message. */
int rnn_model_keep_blocks(rnn_model *m);
/* The floats a model of config c holds (each of its weights and gradients
 * arrays), without building it; 0 + message for an invalid config. */
size_t rnn_config_num_floats(const rnn_config *c);
/* The parameter table alone (names, shapes; w and g NULL), for checking a
 * file against a config before the model is built. rnn_model_free() it. */
rnn_model *rnn_model_plan(const rnn_config *c);
void rnn_model_free(rnn_model *m);
/* A copy of m for a vocabulary of `vocab` >= its own tokens (ids kept: the
 * new ones come last): every tensor copied, and each new row of the tables
 * with a row per token (embedding; a language model's head weight and
 * bias) set to the mean of the old rows but row `pad` (the tokenizer's
 * <pad>, never read as text, so its rows were never trained; -1: none).
 * NULL + message for a smaller vocab, a model too large, or out of memory. */
rnn_model *rnn_model_grow_vocab(const rnn_model *m, int vocab, int pad);
/* PyTorch's default initialisation (see model.c), seeded. */
void rnn_model_init(rnn_model *m, uint64_t seed);
/* The gradient block and its views (d_emb, gdirs, ...): a model that is only
 * run (sampling, classification, evaluation) never holds one, which halves
 * its memory. Once; later calls do nothing. 0, or -1 + message. */
int rnn_model_alloc_grad(rnn_model *m);
void rnn_model_zero_grad(rnn_model *m); /* after rnn_model_alloc_grad() */
const rnn_param *rnn_model_find(const rnn_model *m, const char *name);
/* Width of the features the head sees (pooled width for classify). */
int rnn_model_head_in(const rnn_model *m);
/* Number of trainable floats (the sum of the tensors' sizes). */
size_t rnn_model_num_weights(const rnn_model *m);

/* Activations for batches of at most T steps and B sequences. */
typedef struct {
    int T, B, N;               /* capacity */
    float *mem;                /* the one block all float buffers below point into */
    int32_t *imem;             /* the one block of int buffers */
    /* packing */
    int32_t *ids;              /* (N) packed token ids */
    int32_t *targets;          /* (N) packed targets (lm) or (B) class ids */
    float *ftargets;           /* (B) bce targets */
    int *lengths, *batch_sizes, *offsets; /* (B), (T), (T+1) */
    /* forward */
    float *emb;                /* (N, E) embedding output (dropout-free); after a forward
                                  by lookup (fold_u > 0), the U distinct tokens' rows */
    float *xe, *emask;         /* (N, E) embedding output after embed_dropout, and its mask */
    float *x[RNN_MAX_LAYERS];  /* (N, D*H) layer l's input for l > 0 (after dropout) */
    float *mask[RNN_MAX_LAYERS]; /* (N, D*H) dropout mask of layer l's input, l > 0 */
    /* weight_drop: per direction, W_hh with its dropout mask applied, the
     * mask, and the gradient of the masked weights before the mask's chain
     * rule adds it into the W_hh gradient ((G*H, H) each) */
    float *whh[RNN_MAX_LAYERS * 2], *whh_mask[RNN_MAX_LAYERS * 2], *whh_grad[RNN_MAX_LAYERS * 2];
    float *rmask[RNN_MAX_LAYERS * 2]; /* (N, H) per direction: recurrent_dropout's mask */
    float *y[RNN_MAX_LAYERS];  /* (N, D*H) outputs of layer l (both directions side by side) */
    float *res[RNN_MAX_LAYERS]; /* (N, D*H) y + x when residual, else NULL */
    rnn_dir_cache cache[RNN_MAX_LAYERS * 2];
    float *h0, *c0;            /* (L*D, B, H) initial state (used when state_in) */
    float *hn, *cn;            /* (L*D, B, H) final state */
    float *pooled;             /* (B, P) */
    float *head_mask;          /* (B, P); a language model's: (N, F) */
    float *xh;                 /* (N, F) a language model's top output after head_dropout */
    rnn_pool_cache pool_cache;
    float *logits;             /* (N, V) lm or (B, n_out) classify; gradient after the loss */
    int n_logit_rows;          /* rows of logits of the last forward */
    /* backward */
    float *dy;                 /* (N, D*H) gradient of a layer's output */
    float *dx;                 /* (N, max(E, D*H)) gradient of a layer's input */
    float *dpooled;            /* (B, P) */
    /* Layer 0's input projection as a lookup over the batch's U distinct
     * tokens (model.c, fold_prepare); fold[0] NULL when never possible */
    float *fold[2];            /* (fold_cap, G*H) per direction: the table, then S */
    int fold_cap;              /* rows of each: the most distinct tokens a lookup takes */
    int32_t *fold_slot;        /* (V) zero between batches */
    int32_t *fold_tok;         /* (U) the distinct tokens */
    int32_t *fold_ids;         /* (N) each row's number among them */
    int fold_u;                /* U of the last forward, 0 when it took no lookup */
    float *work;               /* per-direction work / pooling scratch */
    float *work2;              /* the reverse direction's work (bidirectional) */
    float *dx2;                /* (N, max(E, D*H)) the reverse direction's input gradient */
    const float *top;          /* the top layer's output of the last forward; a language
                                  model's head input, so after head_dropout when training */
    int state_in;              /* the last forward started from h0/c0 */
    int train;                 /* the last forward applied dropout */
    int infer;                 /* made by rnn_acts_create_infer: forward without dropout only */
    /* Inference over more rows than a recurrent cache should hold runs each
     * direction in chunks of time steps of at most `chunk` rows (0: one
     * pass), its state carried from chunk to chunk (model.c, dir_forward) */
    int chunk;
    int *sub_offsets[2], *sub_lengths[2]; /* per direction: a chunk's pack */
    size_t emb_rows;           /* rows emb holds: N, or in chunks a chunk's for each direction */
} rnn_acts;

/* The most bytes of recurrent cache inference activations made after this
 * call keep per direction (0: the default, 16 MiB); for tests. */
void rnn_acts_set_chunk_bytes(size_t bytes);
rnn_acts *rnn_acts_create(const rnn_model *m, int T, int B);
/* Same, for packed batches of at most N rows in all (N <= T*B): variable
 * lengths need only the rows they use. */
rnn_acts *rnn_acts_create_n(const rnn_model *m, int T, int B, int N);
/* Same, for forward passes without dropout only (classification, evaluation,
 * sampling): no dropout masks or copies and no backward buffers. The
 * recurrent cache (gates and states, most of a training row) is held for
 * one chunk of time steps at a time, at most 16 MiB a direction (the
 * layers, run one after another, share it), and the
 * layers' outputs take turns in two buffers, so a row costs little beyond
 * its embedding and one or two layer outputs (a 1-layer BiLSTM of 128 with
 * embeddings of 100: ~1.7 KB a token). In chunks, a unidirectional
 * classifier runs every layer a chunk at a time and pools as it goes
 * (model.c, stream_forward), and a bidirectional one pools its top layer a
 * chunk at a time unless by attention (dir_forward): their layers' outputs
 * are held for a chunk's rows only (a bidirectional stack's below the top
 * for every row), and a row costs its ids and packing (20-24 bytes). */
rnn_acts *rnn_acts_create_infer(const rnn_model *m, int T, int B, int N);
/* The bytes rnn_acts_create_n (infer 0) or rnn_acts_create_infer (1) would
 * allocate for these sizes, without allocating: m may be a plan
 * (rnn_model_plan), so that a run too large is refused before it starts. */
size_t rnn_acts_bytes(const rnn_model *m, int T, int B, int N, int infer);
void rnn_acts_free(rnn_acts *a);

/* Forward over a packed batch (pack built on a->lengths etc. or elsewhere)
 * whose token ids are in ids (N). state_in: start from a->h0/a->c0 instead
 * of zeros. train: apply dropout (rng required then). Logits in a->logits. */
void rnn_model_forward(const rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids,
                       int state_in, int train, rnn_rng *rng);
/* Truncated BPTT: the final state of the last forward (B sequences) becomes
 * the initial state of the next (a->hn -> a->h0, a->cn -> a->c0). */
void rnn_model_carry_state(const rnn_model *m, rnn_acts *a, int B);
/* Backward from a->logits holding d(loss)/d(logits); adds into m->g. The
 * final state's gradient is taken as zero (truncated BPTT). */
void rnn_model_backward(rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids);
/* The same with head_only: the output layer's gradients (and attention
 * pooling's) alone, the recurrent layers' and the embedding's left as they
 * are (a classifier's frozen encoder, --freeze-epochs: a third of a step's
 * work instead of all of it). */
void rnn_model_backward_ex(rnn_model *m, rnn_acts *a, const rnn_pack *p, const int32_t *ids, int head_only);

#endif
