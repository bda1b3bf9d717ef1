/* recurrent.h: one direction of one recurrent layer (vanilla RNN, LSTM, GRU),
 * forward and backward over a packed batch of variable-length sequences.
 *
 * Packed layout (PyTorch's PackedSequence): sequences sorted by length,
 * longest first; step t holds batch_sizes[t] live rows (the first ones), and
 * the rows of all steps are stored one after the other, so row (t, b) is
 * offsets[t] + b and there are N = sum(batch_sizes) rows in all. Padding thus
 * costs no compute and cannot change a result. With equal lengths this is the
 * plain time-major (T, B, ·) layout.
 *
 * Weights use PyTorch's layout and gate order (docs/checkpoints.md):
 *   LSTM  W_ih (4H, in), W_hh (4H, H), gates i, f, g, o
 *   GRU   W_ih (3H, in), W_hh (3H, H), gates r, z, n
 *   RNN   W_ih (H, in),  W_hh (H, H)
 *
 * A forward direction runs t = 0..T-1; a reverse one runs t = T-1..0 and each
 * sequence starts (from h0) at its own last token. The final state of a
 * sequence is its state after its own last step in processing order.
 *
 *   rnn_dir_forward(&d, &pack, &cache, y, D * H, x, E, h0, c0, hn, cn, work);
 *   ... loss ...
 *   rnn_dir_backward(&d, &grads, &pack, &cache, y, D * H, dy, D * H, x, E, dx, E, 1,
 *                    dhn, dcn, dh0, dc0, work);
 */
#ifndef RNN_RECURRENT_H
#define RNN_RECURRENT_H

#include <stddef.h>

typedef enum { RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_RNN_TANH, RNN_CELL_RNN_RELU, RNN_CELL_NONE } rnn_cell;

/* Gates per cell: 4 (LSTM), 3 (GRU), 1 (RNN), 0 (none). */
int rnn_cell_gates(rnn_cell c);
const char *rnn_cell_name(rnn_cell c); /* "lstm", "gru", "rnn_tanh", "rnn_relu", "none" */
int rnn_cell_parse(const char *s, rnn_cell *c); /* -1 + message on an unknown name */

/* A packed batch: T steps, B sequences. */
typedef struct {
    int T, B, N;
    const int *batch_sizes; /* (T) live rows at each step, non-increasing */
    const int *offsets;     /* (T+1) first row of each step; offsets[T] = N */
    const int *lengths;     /* (B) length of each sequence, non-increasing */
} rnn_pack;

/* Fills batch_sizes (T) and offsets (T+1) from lengths (B, non-increasing,
 * each >= 1 and <= T). Returns N, or -1 with a message if lengths are not
 * sorted or out of range. */
int rnn_pack_init(rnn_pack *p, int T, int B, const int *lengths, int *batch_sizes, int *offsets);

/* Weights (or their gradients) of one direction of one layer. */
typedef struct {
    float *w_ih; /* (G*H, in) */
    float *w_hh; /* (G*H, H) */
    float *b_ih; /* (G*H) */
    float *b_hh; /* (G*H) */
} rnn_dir_weights;

typedef struct {
    rnn_cell cell;
    int reverse;
    int in, H;
    rnn_dir_weights w;
    /* w_hh in 16-row blocks (rnn_blocks_pack), which a batch-1 forward reads:
     * kept by a model that only infers (rnn_model_keep_blocks), so that each
     * text does not pack it again; NULL: packed per call. */
    const float *blk;
} rnn_dir;

/* What the forward pass keeps for the backward pass (each (N, ·) row-aligned
 * with the packed input). Sizes come from rnn_dir_cache_floats(). */
typedef struct {
    float *gates; /* (N, G*H) after the forward: the activated gates (LSTM i,f,g,o; GRU r,z,n),
                     for the vanilla RNN its input part W_ih x; rnn_dir_backward overwrites it
                     with dG_x */
    float *ghn;   /* (N, H) GRU only: W_hn h_prev + b_hn, the term the reset gate scales;
                     after the backward, da = d pre_n ⊙ r */
    float *c;     /* (N, H) LSTM only: cell state after each step */
    float *hprev; /* (N, H) the state each step started from */
    float *cprev; /* (N, H) LSTM only */
    /* (N, H) or NULL: recurrent dropout (Semeniuta et al. 2016, "Recurrent
     * Dropout without Memory Loss"), the scale (0 or 1/(1-p)) of each unit of
     * the candidate: LSTM c' = f*c + i*(g*m), GRU h' = (1-z)*(n*m) + z*h.
     * Set by the caller for a training pass; rnn_dir_cache_bind clears it. */
    const float *rmask;
} rnn_dir_cache;

/* Floats needed for a cache of N rows, and for the work buffer of a B-row
 * batch (forward and backward; blocks_kept: a forward only, of a direction
 * whose blk is set, which needs no room to pack W_hh at batch 1). */
size_t rnn_dir_cache_floats(rnn_cell cell, int N, int H);
size_t rnn_dir_work_floats(rnn_cell cell, int N, int B, int H, int blocks_kept);
/* Points the cache's arrays into mem (rnn_dir_cache_floats(cell, N, H) floats). */
void rnn_dir_cache_bind(rnn_dir_cache *c, rnn_cell cell, int N, int H, float *mem);

/* Forward. y: (N, ldy), this direction's H outputs written at columns
 * [0, H) of each row (pass y + H for a reverse direction stored beside a
 * forward one). x: (N, ldx) input rows, `in` columns used; or NULL when the
 * caller has already put x W_ih^T (no bias) into cache->gates, as a model
 * does from a table of its embedding's rows (model.c). h0/c0: (B, H)
 * initial state or NULL for zeros. hn/cn: (B, H) final state out, or NULL.
 * work: rnn_dir_work_floats() floats. */
void rnn_dir_forward(const rnn_dir *d, const rnn_pack *p, const rnn_dir_cache *cache, float *y,
                     int ldy, const float *x, int ldx, const float *h0, const float *c0, float *hn,
                     float *cn, float *work);

/* Backward. Adds parameter gradients into g; dx (N, lddx): accumulated into
 * (accumulate_dx != 0) or overwritten; may be NULL. dy: (N, lddy) gradient of
 * the outputs (columns [0, H)); dhn/dcn: (B, H) gradient of the final state or
 * NULL; dh0/dc0: (B, H) gradient of the initial state written, or NULL.
 * y and x are the forward's output and input. x NULL (dx NULL too) skips the
 * products with the input, W_ih's gradient and dx: the caller makes them from
 * dG_x, which cache->gates holds on return (N, G*H). */
void rnn_dir_backward(const rnn_dir *d, const rnn_dir_weights *g, const rnn_pack *p,
                      const rnn_dir_cache *cache, const float *y, int ldy, const float *dy,
                      int lddy, const float *x, int ldx, float *dx, int lddx, int accumulate_dx,
                      const float *dhn, const float *dcn, float *dh0, float *dc0, float *work);

/* How a team of threads shares the steps of a pass (see recurrent.c): 0
 * chooses (the batch's rows when each thread gets 8 of them and W_hh fits
 * in a core's L2 or the team has at most 4 threads, else the units),
 * 1 always splits the units, 2 the rows where the bias sums allow. For
 * tests; the setting is global. */
void rnn_set_team_layout(int layout);

/* The cells' maths for n units of one row, as the passes above use it and
 * as batch-1 inference (infer.c) calls it. No two arrays may overlap.
 *   LSTM: gi, gf, gg, go hold the full pre-activations (both projections,
 *         both biases) and get the activated gates; c = f*cp + i*g, h = o*tanh(c).
 *   GRU:  xr, xz, xn hold the x projections and get the activated r, z, n; hr,
 *         hz, hhn the parts of W_h* h (scaled by hm: 0 when there is no state);
 *         bn is b_hn (r scales it); r's and z's two biases may sit in either
 *         place: training passes xr = W_ir x with br = b_ir + b_hr (and adds
 *         b_in itself), inference xr = W_ir x + b_ir with br = b_hr. This
 *         function adds no b_in: xn must hold W_in x + b_in. ghn gets
 *         W_hn h + b_hn; hp is the previous h, h gets the new one.
 *   RNN:  h = tanh (or relu) of g + hm*hr + b, where g = W_ih x and b =
 *         b_ih + b_hh (training), or g = W_ih x + b_ih and b = b_hh (inference). */
void rnn_lstm_row_forward(int n, float *restrict gi, float *restrict gf, float *restrict gg,
                          float *restrict go, const float *restrict cp, float *restrict c,
                          float *restrict h);
void rnn_gru_row_forward(int n, float *restrict xr, float *restrict xz, float *restrict xn,
                         const float *restrict hr, const float *restrict hz, const float *restrict hhn,
                         float hm, const float *restrict br, const float *restrict bz,
                         const float *restrict bn, const float *restrict hp, float *restrict ghn,
                         float *restrict h);
void rnn_vanilla_row_forward(int n, int relu, const float *restrict g, const float *restrict hr, float hm,
                             const float *restrict b, float *restrict h);

#endif
