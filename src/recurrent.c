/* recurrent.c: vanilla RNN, LSTM and GRU directions, forward and backward.
 *
 * The structure of a pass is the same for every cell and lives in
 * rnn_dir_forward / rnn_dir_backward:
 *   1. one large GEMM projects the inputs of all time steps at once:
 *        gates (N, G*H) = x (N, in) @ W_ih^T
 *      (no bias: the cells add both biases as they read each step's gates);
 *   2. a loop over time (forward_steps): the recurrent GEMM of the live rows,
 *        hg (b_t, G*H) = h_prev (b_t, H) @ W_hh^T
 *      then the cell's pointwise maths on each row, which adds the biases
 *      (b_ih + b_hh, summed once per pass; the GRU keeps b_in and b_hn apart,
 *      since r scales only the second). A team of threads splits the step
 *      between them: by blocks of hidden units, or by rows when each thread
 *      gets at least ROW_MIN rows and W_hh fits in a core's L2 or the team is
 *      small (team_rows);
 *   3. backward (backward_steps) runs the loop in reverse order producing the
 *      pre-activation gradients dG, then the weight gradients are three GEMMs
 *      (four for the GRU, whose W_hh takes two) batched over all time steps:
 *      dW_ih += dG^T @ x, dW_hh += dG_h^T @ h_prev (dG_h = dG except the
 *      GRU's n part, da = d pre_n ⊙ r: see gru_row_backward), dx = dG @ W_ih.
 *
 * Each cell's maths is in one place, its row functions, with the equations
 * (PyTorch's) above them: lstm_row / lstm_row_backward, gru_row /
 * gru_row_backward, rnn_vanilla_row_forward / vanilla_row_backward. The *_step
 * functions walk a step's rows (lstm_step_forward first adds the recurrent
 * product and the summed bias into the gates; the GRU and vanilla rows add
 * theirs themselves). For the same recurrence with none of the speed-ups
 * below, read dir_oracle in tests/test_recurrent.c, the double-precision
 * reference these passes are tested against.
 *
 * Words: a "pack" (rnn_pack) is the time-major layout of sequences of
 * different lengths (PyTorch's PackedSequence); W_hh "packed" for the GEMM
 * (rnn_gemm_pack_b, s->pb) is the same matrix rearranged in the kernel's
 * panel order; "blocks" (rnn_blocks_pack, infer.c) are 16-row slices for
 * matrix-vector products.
 */
#include "recurrent.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "activations.h"
#include "gemm.h"
#include "infer.h"
#include "util.h"

int rnn_cell_gates(rnn_cell c) {
    switch (c) {
    case RNN_CELL_LSTM: return 4;
    case RNN_CELL_GRU: return 3;
    case RNN_CELL_RNN_TANH:
    case RNN_CELL_RNN_RELU: return 1;
    default: return 0;
    }
}

static const char *const cell_names[] = {"lstm", "gru", "rnn_tanh", "rnn_relu", "none"};

const char *rnn_cell_name(rnn_cell c) { return cell_names[c]; }

int rnn_cell_parse(const char *s, rnn_cell *c) {
    for (int i = 0; i <= RNN_CELL_NONE; i++)
        if (!strcmp(s, cell_names[i])) {
            *c = (rnn_cell)i;
            return 0;
        }
    return rnn_errorf("unknown cell '%s' (expected lstm, gru, rnn_tanh, rnn_relu or none)", s);
}

int rnn_pack_init(rnn_pack *p, int T, int B, const int *lengths, int *batch_sizes, int *offsets) {
    for (int b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T)
            return rnn_errorf("sequence %d has length %d, outside [1, %d]", b, lengths[b], T);
        if (b && lengths[b] > lengths[b - 1])
            return rnn_errorf("sequence lengths must be sorted longest first (%d then %d)",
                              lengths[b - 1], lengths[b]);
    }
    int n = 0;
    for (int t = 0; t < T; t++) {
        int bt = 0;
        while (bt < B && lengths[bt] > t) bt++;
        batch_sizes[t] = bt;
        offsets[t] = n;
        n += bt;
    }
    offsets[T] = n;
    p->T = T;
    p->B = B;
    p->N = n;
    p->batch_sizes = batch_sizes;
    p->offsets = offsets;
    p->lengths = lengths;
    return n;
}

size_t rnn_dir_cache_floats(rnn_cell cell, int N, int H) {
    size_t g = (size_t)rnn_cell_gates(cell);
    size_t per_row = g * H + H;                      /* gates, hprev */
    if (cell == RNN_CELL_LSTM) per_row += 2 * (size_t)H; /* c, cprev */
    if (cell == RNN_CELL_GRU) per_row += H;              /* ghn */
    return per_row * (size_t)N;
}

void rnn_dir_cache_bind(rnn_dir_cache *c, rnn_cell cell, int N, int H, float *mem) {
    size_t nh = (size_t)N * H;
    memset(c, 0, sizeof *c);
    c->gates = mem;
    mem += nh * rnn_cell_gates(cell);
    c->hprev = mem;
    mem += nh;
    if (cell == RNN_CELL_LSTM) {
        c->c = mem;
        mem += nh;
        c->cprev = mem;
    }
    if (cell == RNN_CELL_GRU) c->ghn = mem;
}

/* W_hh packed for the step products. Forward: op = W_hh^T, one (H x H)
 * block per gate, so that a thread's units are whole slivers of every gate;
 * backward: op = W_hh (G*H x H). Floats, rounded to whole cache lines. */
static size_t pack_floats(int K, int N) { return (rnn_gemm_packed_bytes(K, N) / sizeof(float) + 15) / 16 * 16; }
static size_t gate_pack_floats(int H) { return pack_floats(H, H); }
static size_t packed_floats(rnn_cell cell, int H) {
    int G = rnn_cell_gates(cell);
    size_t a = G * gate_pack_floats(H), b = pack_floats(G * H, H), c = rnn_blocks_floats(G * H, H);
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* Steps and rows from which packing W_hh once beats packing it inside every
 * product (and beats the matrix-vector kernel of a single row). */
#define PACK_MIN_T 4
#define PACK_MIN_ROWS 4
/* Steps from which a single sequence's W_hh is worth copying into blocks for
 * the matrix-vector kernel (infer.h). Measured on Zen 5 for a 1x128 LSTM
 * direction: the copy takes ~6-8 us, a step 1.6 us in blocks against 2.9 on
 * the general kernel, so the copy pays from ~6 steps. */
#define BLOCKS_MIN_T 8

/* The work buffer's room for W_hh packed: none where a forward of fewer
 * rows than PACK_MIN_ROWS finds its blocks kept (d->blk), as it then packs
 * nothing. */
static size_t pack_room(rnn_cell cell, int B, int H, int blocks_kept) {
    return blocks_kept && B < PACK_MIN_ROWS ? 0 : packed_floats(cell, H);
}

size_t rnn_dir_work_floats(rnn_cell cell, int N, int B, int H, int blocks_kept) {
    (void)N;
    size_t g = (size_t)rnn_cell_gates(cell);
    size_t fwd = (size_t)B * g * H + g * H;          /* hg, the summed bias */
    /* carry_h, carry_c, dh, dgh x 2, then the bias sums in double */
    size_t bwd = (size_t)B * (3 * H + 2 * g * H) + 2 * (g * H + H) + 1;
    return pack_room(cell, B, H, blocks_kept) + (fwd > bwd ? fwd : bwd);
}


/* ------------------------------------------------------------------------ */
/* LSTM (PyTorch nn.LSTM):
 *   i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
 *   g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
 *   c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
 * With recurrent dropout (training only) the candidate is masked: c' = f ⊙ c
 * + i ⊙ (g ⊙ m), m = 0 or 1/(1-p) per unit and step; the state itself is
 * never dropped, and at inference the cell is the plain one above.
 * One row: gi, gf, gg, go hold the full pre-activations (W_ih x + b_ih +
 * W_hh h + b_hh) on entry and the activated i, f, g, o (g unmasked) on exit;
 * cp is c, cr gets c' and hrow h'. dm: the mask row, or NULL. */
static inline void lstm_row(int H, float *restrict gi, float *restrict gf, float *restrict gg,
                            float *restrict go, const float *restrict cp, float *restrict cr,
                            float *restrict hrow, const float *restrict dm) {
    /* One loop per activation: a body of all five held too few elements
     * in flight to fill the FP pipes (5.07 against 4.31 ns per cell on Zen 3,
     * a row in L1). */
    for (int j = 0; j < H; j++) gi[j] = rnn_sigmoidf(gi[j]);
    for (int j = 0; j < H; j++) gf[j] = rnn_sigmoidf(gf[j]);
    for (int j = 0; j < H; j++) go[j] = rnn_sigmoidf(go[j]);
    for (int j = 0; j < H; j++) gg[j] = rnn_tanhf(gg[j]);
    for (int j = 0; j < H; j++) cr[j] = gf[j] * cp[j] + gi[j] * (dm ? gg[j] * dm[j] : gg[j]);
    for (int j = 0; j < H; j++) hrow[j] = go[j] * rnn_tanhf(cr[j]);
}

void rnn_lstm_row_forward(int H, float *restrict gi, float *restrict gf, float *restrict gg,
                          float *restrict go, const float *restrict cp, float *restrict cr,
                          float *restrict hrow) {
    lstm_row(H, gi, gf, gg, go, cp, cr, hrow, NULL);
}

/* Every step function below works on units [u0, u1) of rows [0, bt) of one
 * time step: forward_steps and backward_steps call it with each thread's
 * part (its units, or with the row split its rows and all the units). The
 * forward ones share their arguments: gates, the step's rows (bt, G*H) of
 * x W_ih^T, completed in place; hg, h_prev W_hh^T for those rows (bt, G*H),
 * or NULL where no row has a previous state (the first step without h0);
 * bias, b_ih + b_hh (G*H; the GRU's n part b_hn alone); h, the output rows,
 * ldh floats apart. */
static void lstm_step_forward(int bt, int H, int u0, int u1, float *gates, const float *hg,
                              const float *bias, const float *cprev, float *c, float *h, int ldh,
                              const float *rmask) {
    const int n = u1 - u0;
    for (int r = 0; r < bt; r++) {
        float *gr = gates + (size_t)r * 4 * H + u0;
        const float *hr = hg ? hg + (size_t)r * 4 * H + u0 : NULL;
        for (int q = 0; q < 4; q++)
            for (int j = 0; j < n; j++)
                gr[q * H + j] += (hr ? hr[q * H + j] : 0.0f) + bias[q * H + u0 + j];
        /* The gate, state and output rows never overlap: restrict lets the
         * compiler vectorise the cell's loop (once per mask case). */
        const float *cp = cprev + (size_t)r * H + u0;
        float *cr = c + (size_t)r * H + u0, *hrow = h + (size_t)r * ldh + u0;
        if (rmask)
            lstm_row(n, gr, gr + H, gr + 2 * H, gr + 3 * H, cp, cr, hrow, rmask + (size_t)r * H + u0);
        else
            lstm_row(n, gr, gr + H, gr + 2 * H, gr + 3 * H, cp, cr, hrow, NULL);
    }
}

/* Backward of one LSTM row, the chain rule through the equations above
 * (σ' = σ(1 - σ), tanh' = 1 - tanh², m = 1 without dropout):
 *   dc'    = dc'(from step t+1) + dh' ⊙ o ⊙ (1 - tanh²(c'))
 *   d pre_i = dc' ⊙ g ⊙ m ⊙ i(1 - i)    d pre_f = dc' ⊙ c ⊙ f(1 - f)
 *   d pre_g = dc' ⊙ i ⊙ m ⊙ (1 - g²)    d pre_o = dh' ⊙ tanh(c') ⊙ o(1 - o)
 *   dc     = dc' ⊙ f                   (to step t-1)
 * gi..go: the activated gates, overwritten with d pre_(i, f, g, o), which is
 * dG for both W_ih and W_hh (the caller's GEMMs turn it into the weight
 * gradients and into dh = dG W_hh for step t-1). cn: c', cp: c. dh: dh' (the
 * gradient from above plus from step t+1); dc: in dc' from step t+1, out dc. */
static inline void lstm_row_backward(int H, float *restrict gi, float *restrict gf,
                                     float *restrict gg, float *restrict go,
                                     const float *restrict cn, const float *restrict cp,
                                     const float *restrict dh, float *restrict dc,
                                     const float *restrict dm) {
    for (int j = 0; j < H; j++) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], m = dm ? dm[j] : 1.0f;
        float tc = rnn_tanhf(cn[j]);
        float dcn = dc[j] + dh[j] * o * (1.0f - tc * tc);
        gi[j] = dcn * g * m * i * (1.0f - i);
        gf[j] = dcn * cp[j] * f * (1.0f - f);
        gg[j] = dcn * i * m * (1.0f - g * g);
        go[j] = dh[j] * tc * o * (1.0f - o);
        dc[j] = dcn * f;
    }
}

static void lstm_step_backward(int bt, int H, int u0, int u1, float *gates, const float *c,
                               const float *cprev, const float *dh, float *dc, const float *rmask) {
    const int n = u1 - u0;
    for (int r = 0; r < bt; r++) {
        float *gr = gates + (size_t)r * 4 * H + u0;
        const size_t o = (size_t)r * H + u0;
        if (rmask)
            lstm_row_backward(n, gr, gr + H, gr + 2 * H, gr + 3 * H, c + o, cprev + o, dh + o, dc + o,
                              rmask + o);
        else
            lstm_row_backward(n, gr, gr + H, gr + 2 * H, gr + 3 * H, c + o, cprev + o, dh + o, dc + o,
                              NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* GRU (PyTorch nn.GRU; the reset gate scales the recurrent term after its
 * matmul, as cuDNN does):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 *   h' = (1 - z) ⊙ n + z ⊙ h
 * With recurrent dropout (training only) the candidate is masked:
 * h' = (1 - z) ⊙ (n ⊙ m) + z ⊙ h; xn keeps the unmasked n.
 * ghn keeps W_hn h + b_hn for the backward pass. */
/* One row. xr, xz, xn: the x projections, overwritten with the activated
 * r, z, n. hr, hz, hhn: the r, z and n parts of W_hh h, scaled by hm: with no
 * previous state the caller passes hm = 0 and points them at any finite array
 * (a bias), so that hm * hr is exactly 0 and never NaN. r's and z's two biases
 * may sit in either place, their sum being what counts: training passes
 * xr = W_ir x with br = b_ir + b_hr (the sums, once per pass) and bin = b_in;
 * batch-1 inference passes xr = W_ir x + b_ir with br = b_hr and bin = NULL.
 * bn is b_hn, which r scales. hp: h; ghn gets W_hn h + b_hn, hrow h'. dm: the
 * mask row, or NULL. */
static inline void gru_row(int H, float *restrict xr, float *restrict xz, float *restrict xn,
                           const float *restrict hr, const float *restrict hz,
                           const float *restrict hhn, float hm, const float *restrict br,
                           const float *restrict bz, const float *restrict bn,
                           const float *restrict bin, const float *restrict hp,
                           float *restrict ghn, float *restrict hrow, const float *restrict dm) {
    /* One loop per activation, as lstm_row. */
    for (int j = 0; j < H; j++) xr[j] = rnn_sigmoidf(xr[j] + hm * hr[j] + br[j]);
    for (int j = 0; j < H; j++) xz[j] = rnn_sigmoidf(xz[j] + hm * hz[j] + bz[j]);
    for (int j = 0; j < H; j++) ghn[j] = hm * hhn[j] + bn[j];
    if (bin) /* b_in stays outside r ⊙ (.) */
        for (int j = 0; j < H; j++) xn[j] = rnn_tanhf((xn[j] + bin[j]) + xr[j] * ghn[j]);
    else
        for (int j = 0; j < H; j++) xn[j] = rnn_tanhf(xn[j] + xr[j] * ghn[j]);
    for (int j = 0; j < H; j++) hrow[j] = (1.0f - xz[j]) * (dm ? xn[j] * dm[j] : xn[j]) + xz[j] * hp[j];
}

void rnn_gru_row_forward(int H, float *restrict xr, float *restrict xz, float *restrict xn,
                         const float *restrict hr, const float *restrict hz, const float *restrict hhn,
                         float hm, const float *restrict br, const float *restrict bz,
                         const float *restrict bn, const float *restrict hp, float *restrict ghn,
                         float *restrict hrow) {
    gru_row(H, xr, xz, xn, hr, hz, hhn, hm, br, bz, bn, NULL, hp, ghn, hrow, NULL);
}

static void gru_step_forward(int bt, int H, int u0, int u1, float *gates, const float *hg,
                             const float *bias, const float *b_in, const float *hprev, float *ghn,
                             float *h, int ldh, const float *rmask) {
    const int n = u1 - u0;
    const float *b = bias + u0;
    for (int r = 0; r < bt; r++) {
        float *gr = gates + (size_t)r * 3 * H + u0;
        const float *hr = (hg ? hg + (size_t)r * 3 * H : bias) + u0;
        const float hm = hg ? 1.0f : 0.0f;
        const size_t o = (size_t)r * H + u0;
        float *hrow = h + (size_t)r * ldh + u0;
        if (rmask)
            gru_row(n, gr, gr + H, gr + 2 * H, hr, hr + H, hr + 2 * H, hm, b, b + H, b + 2 * H,
                    b_in + u0, hprev + o, ghn + o, hrow, rmask + o);
        else
            gru_row(n, gr, gr + H, gr + 2 * H, hr, hr + H, hr + 2 * H, hm, b, b + H, b + 2 * H,
                    b_in + u0, hprev + o, ghn + o, hrow, NULL);
    }
}

/* Backward of one GRU row, the chain rule through the equations above, with
 * a = W_hn h + b_hn and pre_n = W_in x + b_in + r ⊙ a (m = 1 without dropout):
 *   d pre_n = dh' ⊙ (1 - z) ⊙ m ⊙ (1 - n²)
 *   d pre_z = dh' ⊙ (h - n ⊙ m) ⊙ z(1 - z)
 *   d pre_r = d pre_n ⊙ a ⊙ r(1 - r)
 *   da      = d pre_n ⊙ r                (db_hn, and W_hn's share of dG_h)
 *   dh      = dh' ⊙ z + dG_h W_hh        (to step t-1; the caller's GEMM adds
 *                                         the second term)
 * dG_x = (d pre_r, d pre_z, d pre_n) goes to W_ih, dG_h = (d pre_r, d pre_z,
 * da) to W_hh: the two differ in the n part, since r scales only a.
 * xr, xz, xn: the activated r, z, n, overwritten with dG_x. ghn: a,
 * overwritten with da. dgr, dgz, dgn get dG_h. hp: h; dh: dh' (the gradient
 * from above plus from step t+1); dhp gets the direct path dh' ⊙ z. */
static inline void gru_row_backward(int H, float *restrict xr, float *restrict xz,
                                    float *restrict xn, float *restrict ghn, float *restrict dgr,
                                    float *restrict dgz, float *restrict dgn,
                                    const float *restrict hp, const float *restrict dh,
                                    float *restrict dhp, const float *restrict dm) {
    for (int j = 0; j < H; j++) {
        float r = xr[j], z = xz[j], n = xn[j], m = dm ? dm[j] : 1.0f;
        float dn_pre = dh[j] * (1.0f - z) * m * (1.0f - n * n);
        float dz_pre = dh[j] * (hp[j] - n * m) * z * (1.0f - z);
        float dr_pre = dn_pre * ghn[j] * r * (1.0f - r);
        xr[j] = dr_pre, xz[j] = dz_pre, xn[j] = dn_pre;
        dgr[j] = dr_pre, dgz[j] = dz_pre, dgn[j] = dn_pre * r;
        ghn[j] = dn_pre * r;
        dhp[j] = dh[j] * z;
    }
}

static void gru_step_backward(int bt, int H, int u0, int u1, float *gates, float *ghn,
                              const float *hprev, const float *dh, float *dgh, float *dhprev,
                              const float *rmask) {
    const int n = u1 - u0;
    for (int r = 0; r < bt; r++) {
        float *gr = gates + (size_t)r * 3 * H + u0, *dgr = dgh + (size_t)r * 3 * H + u0;
        const size_t o = (size_t)r * H + u0;
        if (rmask)
            gru_row_backward(n, gr, gr + H, gr + 2 * H, ghn + o, dgr, dgr + H, dgr + 2 * H, hprev + o,
                             dh + o, dhprev + o, rmask + o);
        else
            gru_row_backward(n, gr, gr + H, gr + 2 * H, ghn + o, dgr, dgr + H, dgr + 2 * H, hprev + o,
                             dh + o, dhprev + o, NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* Vanilla RNN (PyTorch nn.RNN): h' = tanh(W_ih x + b_ih + W_hh h + b_hh), or relu.
 * One row: gr holds the x projection and b a bias, h' = act(gr + hm*hr + b),
 * where either gr = W_ih x and b = b_ih + b_hh (training) or gr = W_ih x + b_ih
 * and b = b_hh (batch-1 inference). hr: W_hh h, scaled by hm: with no previous
 * state the caller passes hm = 0 and points hr at any finite array, so that
 * hm * hr is exactly 0. */
void rnn_vanilla_row_forward(int H, int relu, const float *restrict gr, const float *restrict hr,
                             float hm, const float *restrict b, float *restrict hrow) {
    if (relu) {
        for (int j = 0; j < H; j++) {
            float pre = gr[j] + hm * hr[j] + b[j];
            hrow[j] = pre > 0.0f ? pre : 0.0f;
        }
    } else {
        for (int j = 0; j < H; j++) hrow[j] = rnn_tanhf(gr[j] + hm * hr[j] + b[j]);
    }
}

static void vanilla_step_forward(int bt, int H, int u0, int u1, int relu, float *gates,
                                 const float *hg, const float *bias, float *h, int ldh) {
    for (int r = 0; r < bt; r++)
        rnn_vanilla_row_forward(u1 - u0, relu, gates + (size_t)r * H + u0,
                                (hg ? hg + (size_t)r * H : bias) + u0, hg ? 1.0f : 0.0f, bias + u0,
                                h + (size_t)r * ldh + u0);
}

/* Backward of one row:
 *   dh' = dy + carry             (the gradient from above and from step t+1)
 *   dG  = dh' ⊙ act'(pre)        act' read off the output h': 1 - h'² for
 *                                tanh, [h' > 0] for relu
 *   db += dG                     (b_ih's and b_hh's gradient, the same)
 * and dh = dG W_hh for step t-1 in the caller's GEMM. LSTM and GRU form dh'
 * and the bias sums in backward_steps; this cell does all three in one loop,
 * its arithmetic being too light to pay for three passes over the row. */
static inline void vanilla_row_backward(int H, int relu, const float *restrict hrow, const float *restrict dy,
                                        const float *restrict carry, float *restrict dg, double *restrict db) {
    for (int j = 0; j < H; j++) {
        const float dh = dy[j] + carry[j];
        const float g = relu ? (hrow[j] > 0.0f ? dh : 0.0f) : dh * (1.0f - hrow[j] * hrow[j]);
        dg[j] = g;
        db[j] += g;
    }
}

static void vanilla_step_backward(int bt, int H, int u0, int u1, int relu, float *gates,
                                  const float *h, int ldh, const float *dy, int lddy,
                                  const float *carry, double *db) {
    for (int r = 0; r < bt; r++)
        vanilla_row_backward(u1 - u0, relu, h + (size_t)r * ldh + u0, dy + (size_t)r * lddy + u0,
                             carry + (size_t)r * H + u0, gates + (size_t)r * H + u0, db + u0);
}

/* ------------------------------------------------------------------------ */

/* Columns [u0, u1) of rows [r0, r1) of a (·, ld) matrix into a (·, H) one,
 * or zeros. */
static void copy_cols(float *dst, const float *src, int ld, int r0, int r1, int H, int u0, int u1) {
    for (int r = r0; r < r1; r++) {
        if (src)
            memcpy(dst + (size_t)r * H + u0, src + (size_t)r * ld + u0, sizeof(float) * (u1 - u0));
        else
            memset(dst + (size_t)r * H + u0, 0, sizeof(float) * (u1 - u0));
    }
}

/* Processing order: step k of the loop handles time t = step_time(k). */
static inline int step_time(const rnn_pack *p, int reverse, int k) {
    return reverse ? p->T - 1 - k : k;
}

/* The recurrence runs on a team of threads that stays together for all T
 * steps (rather than one team per product and per pointwise loop: at
 * hidden size 128 a step is a few microseconds, as long as starting a team).
 * Each thread owns a block of hidden units: it computes those units'
 * columns of every gate of the step's product, their cell maths and their
 * slice of h and c. Only the next product reads other threads' units, so
 * one barrier per step is all the synchronisation: forward, after the
 * threads have put their slices of h_prev in place; backward, after they
 * have written their units' dG, which the dh_prev product reads whole.
 * The blocks are whole slivers of the packed W_hh (its column width), so a
 * thread's product columns are exactly its units. When each thread gets
 * enough rows (and W_hh is small, or the team is) the team splits the
 * batch's rows instead, and needs no barrier (team_rows).
 * A single sequence (batch 1) takes W_hh in 16-row blocks instead
 * (infer.h's matrix-vector kernel); its team, when W_hh is large enough to
 * share, splits the units in whole blocks of 16. Otherwise, unpacked, one
 * thread runs the steps with rnn_gemm (which threads each product itself). */
typedef struct {
    const rnn_dir *d;
    const rnn_pack *p;
    const rnn_dir_cache *cache;
    const rnn_packed_b *pb; /* forward: one pack per gate; backward: one; NULL: unpacked */
    int align;              /* units per block */
    int rows;               /* split the batch rows, not the units (team_rows) */
    const float *blk;       /* a single sequence: W_hh in blocks (infer.h) for its matrix-vector steps */
} step_team;

/* The team splits the batch's rows when each thread gets ROW_MIN rows:
 * each thread runs its own rows, i.e. its own sequences, through all T steps
 * with all the units, and needs nothing from the others until the end: no
 * barrier per step, no state crossing between cores, no A panel packed
 * twice. Each thread then streams all of W_hh every step. A small W_hh (a
 * 2x128 LSTM's is 256 KB) fits in each core's L2 whole; a large one comes
 * from L3, which a few cores stream with room to spare (in bf16 a thread
 * reads it once per step: gemm_bf16.c runs all of its rows against each
 * sliver; fp32's kernel, one panel of MR rows at a time). On 2 Zen 4 cores
 * the row split ran a 2x512 LSTM 15% faster than the unit split in fp32 and
 * in bf16, a GRU 5%, a tanh RNN 10%, also at 8 rows a thread, and it stays
 * fast when the host lends a core elsewhere for a while, where the unit
 * split's barriers made both threads wait (docs/performance.md). With many threads
 * the L3 traffic grows with their number and the unit split, each thread
 * streaming its share of W_hh, is kept past ROW_SPLIT_MAX_THREADS for a
 * W_hh larger than ROW_SPLIT_MAX_BYTES. The bias sums of the row split are
 * per thread (ROW_SUMS doubles on its stack), added at the end. */
#define ROW_SPLIT_MAX_BYTES (256 * 1024)
#define ROW_SPLIT_MAX_THREADS 4
#define ROW_SUMS 4096
#define ROW_MIN 8 /* rows per thread at least */
static int team_layout = 0; /* 0 auto, 1 units, 2 rows: rnn_set_team_layout */

void rnn_set_team_layout(int layout) { team_layout = layout; }

static int team_rows(const step_team *s) {
    const int H = s->d->H, G = rnn_cell_gates(s->d->cell);
    if (team_layout == 1 || (G + 1) * H > ROW_SUMS) return 0;
    if (team_layout == 2) return 1;
    /* Too few rows for every thread to get ROW_MIN: the units share better. */
    const int nt = rnn_get_threads();
    if (s->p->batch_sizes[0] < ROW_MIN * nt) return 0;
    return (size_t)G * H * H * sizeof(float) <= ROW_SPLIT_MAX_BYTES || nt <= ROW_SPLIT_MAX_THREADS;
}

static int team_size(const step_team *s) {
    if (!s->pb && !s->blk) return 1;
#ifdef _OPENMP
    if (omp_in_parallel()) return 1; /* the directions of a layer side by side */
#endif
    const int H = s->d->H, GH = rnn_cell_gates(s->d->cell) * H;
    const int parts = s->rows ? s->p->batch_sizes[0] / ROW_MIN : (H + s->align - 1) / s->align;
    int nt = rnn_get_threads();
    /* Under 2^18 multiply-adds a step, starting a team costs more than it saves. */
    if ((long)s->p->batch_sizes[0] * GH * H < (1L << 18)) nt = 1;
    return nt < parts ? nt : parts > 1 ? parts : 1;
}

/* Where part k of nt of the row split starts: the first row b with rows
 * [0, b) holding at least k/nt of the tokens. Rows run longest first, so
 * with sequences of different lengths the first threads take fewer, longer
 * rows and every thread runs about as many row-steps (an even split of the
 * rows would leave the last threads idle once their short rows end). */
static int row_cut(const rnn_pack *p, int k, int nt) {
    const long goal = (long)p->N * k;
    long sum = 0;
    int b = 0;
    while (b < p->B && sum * nt < goal) sum += p->lengths[b++];
    return b;
}

/* Thread tid of nt owns rows [*r0, *r1) (of the first step's, the largest
 * batch) and units [*u0, *u1): with the unit split all rows and whole blocks
 * of s->align units, with the row split all units. */
static void team_part(const step_team *s, int tid, int nt, int *r0, int *r1, int *u0, int *u1) {
    const int H = s->d->H, B = s->p->batch_sizes[0];
    if (s->rows) {
        *r0 = row_cut(s->p, tid, nt), *r1 = row_cut(s->p, tid + 1, nt);
        *u0 = 0, *u1 = H;
        return;
    }
    const int blocks = (H + s->align - 1) / s->align;
    *r0 = 0, *r1 = B;
    *u0 = blocks * tid / nt * s->align;
    *u1 = blocks * (tid + 1) / nt * s->align;
    if (*u1 > H) *u1 = H;
}

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* Runs body(s, tid, nt, arg) on the team. */
static void team_run(const step_team *s, void (*body)(const step_team *, int, int, void *), void *arg) {
    int nt = team_size(s);
#ifdef _OPENMP
    if (nt > 1) {
        const rnn_precision prec = rnn_gemm_precision(); /* the caller's, in every thread (gemm.h) */
#pragma omp parallel num_threads(nt)
        {
            rnn_gemm_set_precision(prec);
            body(s, omp_get_thread_num(), omp_get_num_threads(), arg);
        }
        return;
    }
#endif
    (void)nt;
    body(s, 0, 1, arg);
}

/* Asks for units [u0, u1) of each of the g blocks of width H in rows
 * [0, rows) of m (ld floats apart) to be brought into cache: the next step's
 * inputs, fetched while this step's product runs. They were written long
 * before (by the input projection, or by the forward pass for the backward
 * one) and would otherwise arrive at the pace of the cell loop's misses. */
static void prefetch_units(const float *m, int rows, size_t ld, int g, int H, int u0, int u1,
                           int for_write) {
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < g; q++) {
            const float *p = m + (size_t)r * ld + (size_t)q * H;
            for (int j = u0; j < u1; j += 16) {
                if (for_write)
                    __builtin_prefetch(p + j, 1, 3);
                else
                    __builtin_prefetch(p + j, 0, 3);
            }
        }
}

typedef struct {
    float *y, *hg;
    int ldy;
    const float *h0, *c0;
    const float *bias; /* (G*H) b_ih + b_hh; GRU's n part: b_hn alone (gru_row adds b_in) */
} fwd_args;

static void forward_steps(const step_team *s, int tid, int nt, void *arg) {
    const fwd_args *a = arg;
    const rnn_dir *d = s->d;
    const rnn_pack *p = s->p;
    const rnn_dir_cache *cache = s->cache;
    const int H = d->H, G = rnn_cell_gates(d->cell), GH = G * H, ldy = a->ldy;
    int r0, r1, u0, u1;
    team_part(s, tid, nt, &r0, &r1, &u0, &u1);
    for (int k = 0; k < p->T; k++) {
        const int t = step_time(p, d->reverse, k), bt = p->batch_sizes[t], off = p->offsets[t];
        /* Rows [0, carried) continue from the previous step in processing
         * order; the others start here from h0 (a reverse direction starts
         * each sequence at its own last token). This thread: rows [ra, rb). */
        const int prev_t = d->reverse ? t + 1 : t - 1;
        int carried = 0;
        if (prev_t >= 0 && prev_t < p->T)
            carried = p->batch_sizes[prev_t] < bt ? p->batch_sizes[prev_t] : bt;
        const int ra = imin(r0, bt), rb = imin(r1, bt), n = rb - ra;
        float *hprev = cache->hprev + (size_t)off * H;
        if (carried)
            copy_cols(hprev, a->y + (size_t)p->offsets[prev_t] * ldy, ldy, ra, imin(carried, rb), H, u0, u1);
        copy_cols(hprev, a->h0, H, imax(carried, ra), rb, H, u0, u1);
        float *cprev = NULL;
        if (d->cell == RNN_CELL_LSTM) {
            cprev = cache->cprev + (size_t)off * H;
            if (carried)
                copy_cols(cprev, cache->c + (size_t)p->offsets[prev_t] * H, H, ra, imin(carried, rb), H, u0,
                          u1);
            copy_cols(cprev, a->c0, H, imax(carried, ra), rb, H, u0, u1);
        }
        const int any_state = carried > 0 || a->h0 != NULL;
        /* Only within a team of this direction's own: run alone (nt 1),
         * perhaps inside the region that runs a layer's two directions side
         * by side, a barrier would bind to that region and hold each
         * direction to the other's pace at every step. */
        if (!s->rows && nt > 1) {
#pragma omp barrier
        }
        if (n <= 0) continue;
        if (k + 1 < p->T) {
            const int tn = step_time(p, d->reverse, k + 1), bn = p->batch_sizes[tn];
            if (imin(r1, bn) > ra)
                prefetch_units(cache->gates + ((size_t)p->offsets[tn] + ra) * GH, imin(r1, bn) - ra, GH, G,
                               H, u0, u1, 1);
        }
        /* hg (bt, G*H) = h_prev @ W_hh^T: this thread's rows and units of each gate. */
        if (any_state && s->pb)
            rnn_gemm_packed_cols(n, 1.0f, hprev + (size_t)ra * H, H, s->pb, G, 0.0f, a->hg + (size_t)ra * GH,
                                 GH, H, u0, u1);
        else if (any_state && s->blk && nt == 1) /* one row, all of it */
            rnn_blocks_gemv(s->blk, GH, H, hprev, a->hg, 0, GH);
        else if (any_state && s->blk) /* one row: this thread's units of every gate (H % 16 == 0) */
            for (int g = 0; g < G; g++) rnn_blocks_gemv(s->blk, GH, H, hprev, a->hg, g * H + u0, g * H + u1);
        else if (any_state)
            rnn_gemm(0, 1, bt, GH, H, 1.0f, hprev, H, d->w.w_hh, H, 0.0f, a->hg, GH);
        const float *hgp = any_state ? a->hg + (size_t)ra * GH : NULL;
        float *gates = cache->gates + ((size_t)off + ra) * GH, *h = a->y + ((size_t)off + ra) * ldy;
        const float *rmask = cache->rmask ? cache->rmask + ((size_t)off + ra) * H : NULL;
        switch (d->cell) {
        case RNN_CELL_LSTM:
            lstm_step_forward(n, H, u0, u1, gates, hgp, a->bias, cprev + (size_t)ra * H,
                              cache->c + ((size_t)off + ra) * H, h, ldy, rmask);
            break;
        case RNN_CELL_GRU:
            gru_step_forward(n, H, u0, u1, gates, hgp, a->bias, d->w.b_ih + 2 * H, hprev + (size_t)ra * H,
                             cache->ghn + ((size_t)off + ra) * H, h, ldy, rmask);
            break;
        default:
            vanilla_step_forward(n, H, u0, u1, d->cell == RNN_CELL_RNN_RELU, gates, hgp, a->bias, h, ldy);
        }
    }
}

void rnn_dir_forward(const rnn_dir *d, const rnn_pack *p, const rnn_dir_cache *cache, float *y,
                     int ldy, const float *x, int ldx, const float *h0, const float *c0, float *hn,
                     float *cn, float *work) {
    const int H = d->H, G = rnn_cell_gates(d->cell), GH = G * H, N = p->N;
    /* work: W_hh^T packed for the step products, then hg (B, G*H), the
     * recurrent projection of the live rows, then the summed bias (G*H). */
    rnn_packed_b whh[4];
    step_team s = {d, p, cache, NULL, 1, 0, NULL};
    /* A single row's step products are matrix-vector products, bound by
     * reading W_hh: in fp32 in a bf16 pass too (bf16 products would convert
     * all of W_hh at every step: rnn eval of one stream ran 2.3x slower). */
    if (p->B == 1 && p->T >= BLOCKS_MIN_T) {
        if (!d->blk) rnn_blocks_pack(work, d->w.w_hh, GH, H);
        s.blk = d->blk ? d->blk : work;
        /* A team shares whole blocks of rows: every gate's units u..u+15
         * must be one block, so H a multiple of 16; else it runs alone. */
        s.align = H % 16 ? H : 16;
    } else if (p->T >= PACK_MIN_T && p->batch_sizes[0] >= PACK_MIN_ROWS) {
        for (int q = 0; q < G; q++)
            rnn_gemm_pack_b(&whh[q], 1, H, H, d->w.w_hh + (size_t)q * H * H, H,
                            work + q * gate_pack_floats(H));
        s.pb = whh;
        s.align = rnn_gemm_packed_align(&whh[0]);
        s.rows = team_rows(&s);
    }

    /* 1. Input projection for every step at once (the biases join in the
     * cells, while each step's gates are in cache). */
    if (x) rnn_gemm(0, 1, N, GH, d->in, 1.0f, x, ldx, d->w.w_ih, d->in, 0.0f, cache->gates, GH);

    /* 2. The recurrence. */
    float *hg = work + pack_room(d->cell, p->B, H, d->blk != NULL), *bias = hg + (size_t)p->B * GH;
    for (int j = 0; j < GH; j++)
        bias[j] = d->w.b_hh[j] + (d->cell == RNN_CELL_GRU && j >= 2 * H ? 0.0f : d->w.b_ih[j]);
    fwd_args a = {y, hg, ldy, h0, c0, bias};
    team_run(&s, forward_steps, &a);

    /* 3. Final states: each sequence's state after its own last step. */
    for (int b = 0; b < p->B; b++) {
        int t = d->reverse ? 0 : p->lengths[b] - 1;
        size_t row = (size_t)p->offsets[t] + b;
        if (hn) memcpy(hn + (size_t)b * H, y + row * ldy, sizeof(float) * H);
        if (cn && d->cell == RNN_CELL_LSTM)
            memcpy(cn + (size_t)b * H, cache->c + row * H, sizeof(float) * H);
    }
}

typedef struct {
    const float *dy;
    int lddy;
    const float *y;
    int ldy;
    float *carry_h, *carry_c, *dh, *dgh[2];
    double *db, *db_hn; /* (G*H) Σ dG_x over all steps; GRU: (H) Σ d(W_hn h + b_hn) */
} bwd_args;

/* dh_prev (bt, H) = dG_h (bt, G*H) @ W_hh (+ beta * dh_prev): this thread's
 * units, i.e. its columns. */
static void step_dh(const step_team *s, int bt, const float *dG, float beta, float *dh, int u0, int u1) {
    const int H = s->d->H, GH = rnn_cell_gates(s->d->cell) * H;
    if (s->pb)
        rnn_gemm_packed_cols(bt, 1.0f, dG, GH, s->pb, 1, beta, dh, H, 0, u0, u1);
    else
        rnn_gemm(0, 0, bt, H, GH, 1.0f, dG, GH, s->d->w.w_hh, H, beta, dh, H);
}

/* sums (G*H) += the column sums of this thread's units of a (bt, G*H)
 * matrix, in double: the bias gradients, gathered while the step's dG is
 * still in cache (a pass over all of dG afterwards waited on memory). */
static void sum_units(double *sums, const float *m, int bt, int G, int H, int u0, int u1) {
    for (int r = 0; r < bt; r++)
        for (int q = 0; q < G; q++) {
            const float *row = m + (size_t)r * G * H + (size_t)q * H;
            double *acc = sums + (size_t)q * H;
            for (int j = u0; j < u1; j++) acc[j] += row[j];
        }
}

static void backward_steps(const step_team *s, int tid, int nt, void *arg) {
    const bwd_args *a = arg;
    const rnn_dir *d = s->d;
    const rnn_pack *p = s->p;
    const rnn_dir_cache *cache = s->cache;
    const int H = d->H, G = rnn_cell_gates(d->cell), GH = G * H;
    float *carry_h = a->carry_h, *dh = a->dh;
    int r0, r1, u0, u1;
    team_part(s, tid, nt, &r0, &r1, &u0, &u1);
    /* The row split sums its own rows' bias gradients here (team_rows). */
    double row_sums[ROW_SUMS];
    double *db = a->db, *db_hn = a->db_hn;
    if (s->rows && nt > 1) {
        db = row_sums, db_hn = row_sums + GH;
        memset(row_sums, 0, sizeof(double) * (GH + H));
    }
    for (int k = p->T - 1; k >= 0; k--) {
        const int t = step_time(p, d->reverse, k), bt = p->batch_sizes[t], off = p->offsets[t];
        const int ra = imin(r0, bt), rb = imin(r1, bt), n = rb - ra;
        if (d->cell == RNN_CELL_LSTM || d->cell == RNN_CELL_GRU)
            for (int r = ra; r < rb; r++) {
                const float *dyr = a->dy + (size_t)(off + r) * a->lddy;
                float *dhr = dh + (size_t)r * H, *cr = carry_h + (size_t)r * H;
                for (int j = u0; j < u1; j++) dhr[j] = dyr[j] + cr[j];
            }
        const size_t o = (size_t)off + ra; /* this thread's first row */
        float *gates = cache->gates + o * GH;
        const float *hprev = cache->hprev + o * H;
        const float *rmask = cache->rmask ? cache->rmask + o * H : NULL;
        /* GRU's dG_h buffer alternates between steps: a thread that runs
         * ahead writes one while the others may still read the other. */
        float *dgh = a->dgh[k & 1] + (size_t)ra * GH;
        if (n > 0) {
            switch (d->cell) {
            case RNN_CELL_LSTM:
                lstm_step_backward(n, H, u0, u1, gates, cache->c + o * H, cache->cprev + o * H,
                                   dh + (size_t)ra * H, a->carry_c + (size_t)ra * H, rmask);
                sum_units(db, gates, n, G, H, u0, u1);
                break;
            case RNN_CELL_GRU:
                gru_step_backward(n, H, u0, u1, gates, cache->ghn + o * H, hprev, dh + (size_t)ra * H, dgh,
                                  carry_h + (size_t)ra * H, rmask);
                sum_units(db_hn, cache->ghn + o * H, n, 1, H, u0, u1);
                sum_units(db, gates, n, G, H, u0, u1);
                break;
            default:
                vanilla_step_backward(n, H, u0, u1, d->cell == RNN_CELL_RNN_RELU, gates, a->y + o * a->ldy,
                                  a->ldy, a->dy + o * a->lddy, a->lddy, carry_h + (size_t)ra * H, db);
            }
        }
        if (!s->rows && nt > 1) { /* as in forward_steps */
#pragma omp barrier
        }
        if (n <= 0) continue;
        if (k > 0) { /* the next step's (k - 1) inputs */
            const int tn = step_time(p, d->reverse, k - 1), bn = imin(r1, p->batch_sizes[tn]) - ra;
            const size_t on = (size_t)p->offsets[tn] + ra;
            if (bn > 0) {
                prefetch_units(cache->gates + on * GH, bn, GH, G, H, u0, u1, 1);
                prefetch_units(a->dy + on * a->lddy, bn, a->lddy, 1, H, u0, u1, 0);
                if (d->cell == RNN_CELL_LSTM) {
                    prefetch_units(cache->c + on * H, bn, H, 1, H, u0, u1, 0);
                    prefetch_units(cache->cprev + on * H, bn, H, 1, H, u0, u1, 0);
                }
            }
        }
        /* dG_h is dG_x but for GRU's n part; GRU adds to the direct dh * z. */
        if (d->cell == RNN_CELL_GRU)
            step_dh(s, n, dgh, 1.0f, carry_h + (size_t)ra * H, u0, u1);
        else
            step_dh(s, n, gates, 0.0f, carry_h + (size_t)ra * H, u0, u1);
    }
    if (db != a->db) {
#pragma omp critical(rnn_row_sums)
        for (int j = 0; j < GH + H; j++) a->db[j] += db[j]; /* db_hn follows db in both */
    }
}

void rnn_dir_backward(const rnn_dir *d, const rnn_dir_weights *g, const rnn_pack *p,
                      const rnn_dir_cache *cache, const float *y, int ldy, const float *dy,
                      int lddy, const float *x, int ldx, float *dx, int lddx, int accumulate_dx,
                      const float *dhn, const float *dcn, float *dh0, float *dc0, float *work) {
    const int H = d->H, G = rnn_cell_gates(d->cell), GH = G * H, N = p->N, B = p->B;
    /* carry_h / carry_c: gradient flowing into each row's state from the step
     * processed before (in backward order). They start as the gradient of the
     * final state: a row picks it up at its own last step, because rows that
     * are not yet live are never overwritten. At the end they hold d(h0). */
    /* work: W_hh packed for the step products, then the row buffers. */
    rnn_packed_b whh;
    step_team s = {d, p, cache, NULL, 1, 0, NULL};
    if (p->T >= PACK_MIN_T && p->batch_sizes[0] >= PACK_MIN_ROWS) {
        rnn_gemm_pack_b(&whh, 0, GH, H, d->w.w_hh, H, work);
        s.pb = &whh;
        s.align = rnn_gemm_packed_align(&whh);
        s.rows = team_rows(&s);
    }
    work += packed_floats(d->cell, H);
    float *carry_h = work, *carry_c = work + (size_t)B * H, *dh = work + 2 * (size_t)B * H;
    float *dgh = work + 3 * (size_t)B * H; /* 2 x (B, G*H) GRU: this step's dG_h */
    if (dhn)
        memcpy(carry_h, dhn, sizeof(float) * B * H);
    else
        memset(carry_h, 0, sizeof(float) * B * H);
    if (d->cell == RNN_CELL_LSTM) {
        if (dcn)
            memcpy(carry_c, dcn, sizeof(float) * B * H);
        else
            memset(carry_c, 0, sizeof(float) * B * H);
    }
    /* then the bias sums, in doubles (the float after dgh, or the next). */
    uintptr_t sums_at = (uintptr_t)(dgh + 2 * (size_t)B * GH);
    double *db = (double *)((sums_at + 7) & ~(uintptr_t)7), *db_hn = db + GH;
    memset(db, 0, sizeof(double) * (GH + H));
    bwd_args a = {dy, lddy, y, ldy, carry_h, carry_c, dh, {dgh, dgh + (size_t)B * GH}, db, db_hn};
    team_run(&s, backward_steps, &a);
    if (dh0) memcpy(dh0, carry_h, sizeof(float) * B * H);
    if (dc0 && d->cell == RNN_CELL_LSTM) memcpy(dc0, carry_c, sizeof(float) * B * H);

    /* Weight gradients, batched over all time steps. cache->gates now holds
     * dG_x; dG_h equals it except for GRU's n part, kept in cache->ghn. */
    const float *dG = cache->gates;
    if (x) rnn_gemm(1, 0, GH, d->in, N, 1.0f, dG, GH, x, ldx, 1.0f, g->w_ih, d->in);
    /* d b_ih = Σ dG_x; d b_hh = Σ dG_h, equal but for GRU's n part (b_ih and
     * b_hh enter the pre-activation the same way). */
    for (int j = 0; j < GH; j++) {
        g->b_ih[j] += (float)db[j];
        g->b_hh[j] += (float)(d->cell == RNN_CELL_GRU && j >= 2 * H ? db_hn[j - 2 * H] : db[j]);
    }
    if (d->cell == RNN_CELL_GRU) {
        rnn_gemm(1, 0, 2 * H, H, N, 1.0f, dG, GH, cache->hprev, H, 1.0f, g->w_hh, H);
        rnn_gemm(1, 0, H, H, N, 1.0f, cache->ghn, H, cache->hprev, H, 1.0f,
                 g->w_hh + (size_t)2 * H * H, H);
    } else {
        rnn_gemm(1, 0, GH, H, N, 1.0f, dG, GH, cache->hprev, H, 1.0f, g->w_hh, H);
    }
    if (dx) rnn_gemm(0, 0, N, d->in, GH, 1.0f, dG, GH, d->w.w_ih, d->in, accumulate_dx ? 1.0f : 0.0f,
                     dx, lddx);
}
