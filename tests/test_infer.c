/* test_infer.c: the batch-1 stepper (infer.h) against the model's own
 * forward pass (itself checked against PyTorch in test_recurrent.c).
 *
 * For every cell, 1 and 3 layers, with and without residual connections, and
 * hidden sizes that are and are not multiples of the 16-row blocks, layer
 * 0 with and without the input table (vocabulary 11: embedding 5 has none,
 * the wider ones have one), feeding
 * tokens one at a time must give the logits rnn_model_forward gives for the
 * whole sequence at once (from a zero state), within float reordering; with
 * 1 and 2 threads (the larger models split their units between threads).
 * bf16 weights must give the fp32 forward of a copy of the model whose
 * matrices were rounded to bf16, and differ from the fp32 logits. Reset
 * returns to the zero state. */
#include "harness.h"

#include "gemm.h"
#include "infer.h"
#include "model.h"

#define T 9

/* Logits (T, V) of rnn_model_forward on ids from a zero state. */
static float *forward_all(const rnn_model *m, const int32_t *ids) {
    rnn_acts *a = rnn_acts_create(m, T, 1);
    if (!a) return NULL;
    a->lengths[0] = T;
    rnn_pack p;
    rnn_pack_init(&p, T, 1, a->lengths, a->batch_sizes, a->offsets);
    rnn_model_forward(m, a, &p, ids, 0, 0, NULL);
    float *out = malloc(sizeof(float) * T * m->n_out);
    if (out) memcpy(out, a->logits, sizeof(float) * T * m->n_out);
    rnn_acts_free(a);
    return out;
}

/* Largest relative error (floor 1e-2) between the stepper's logits for ids
 * and want; -1 if the stepper could not be made. */
static double stepper_err(const rnn_model *m, rnn_precision prec, const int32_t *ids, const float *want) {
    rnn_stepper *s = rnn_stepper_create(m, prec);
    if (!s) return -1;
    double worst = 0;
    for (int pass = 0; pass < 2; pass++) { /* the second pass after a reset */
        for (int t = 0; t < T; t++) {
            const float *got = rnn_stepper_feed(s, ids[t]);
            double e = harness_max_rel_err(got, want + (size_t)t * m->n_out, m->n_out, 1e-2);
            if (e > worst) worst = e;
        }
        rnn_stepper_reset(s);
    }
    rnn_stepper_free(s);
    return worst;
}

static void round_matrices(rnn_model *m) {
    for (int i = 0; i < m->n_params; i++) {
        const rnn_param *p = &m->params[i];
        if (p->ndim != 2 || p->group == RNN_GROUP_EMBED) continue; /* embedding and biases stay fp32 */
        float *w = m->w + p->offset;
        for (size_t k = 0; k < p->numel; k++) w[k] = rnn_bf16_to_float(rnn_bf16_round(w[k]));
    }
}

static void test_stepper_matches_forward(void) {
    static const rnn_cell cells[] = {RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_RNN_TANH, RNN_CELL_RNN_RELU};
    static const struct {
        int layers, hidden, embed, residual;
    } shapes[] = {{1, 20, 5, 0}, {3, 20, 7, 1}, {2, 32, 16, 0}, {2, 128, 32, 1}, {2, 136, 24, 0},
                  /* split between 2 threads for every cell (200,000 weights a token and more): one
                   * layer (layer 0's recurrent sums made beside the head), and three layers whose
                   * layer 0 reads W_ih (embedding 5: no table) */
                  {1, 448, 8, 0}, {3, 208, 5, 1}};
    double worst = 0, worst_bf = 0, gap = 1;
    for (int threads = 1; threads <= 2; threads++) {
        rnn_set_threads(threads);
        for (int ci = 0; ci < 4; ci++)
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                rnn_config c;
                rnn_config_default(&c, RNN_TASK_LM);
                c.cell = cells[ci];
                c.vocab_size = 11;
                c.num_layers = shapes[si].layers;
                c.hidden_dim = shapes[si].hidden;
                c.embed_dim = shapes[si].embed;
                c.residual = shapes[si].residual;
                rnn_model *m = rnn_model_create(&c);
                CHECK(m, "model: %s", rnn_last_error());
                if (!m) continue;
                rnn_model_init(m, 3 + si);
                int32_t ids[T];
                for (int t = 0; t < T; t++) ids[t] = (int32_t)((t * 7 + si) % c.vocab_size);
                float *want = forward_all(m, ids);
                double e = stepper_err(m, RNN_FP32, ids, want);
                CHECK(e >= 0 && e <= 5e-5, "%s %dx%d residual %d threads %d: fp32 err %.3e",
                      rnn_cell_name(c.cell), c.num_layers, c.hidden_dim, c.residual, threads, e);
                if (e > worst) worst = e;
                /* bf16 weights: the fp32 forward of the rounded model. */
                double to_fp32 = stepper_err(m, RNN_BF16, ids, want);
                round_matrices(m);
                float *want_bf = forward_all(m, ids);
                double eb = stepper_err(m, RNN_BF16, ids, want_bf);
                CHECK(eb >= 0 && eb <= 5e-5, "%s %dx%d threads %d: bf16 err %.3e", rnn_cell_name(c.cell),
                      c.num_layers, c.hidden_dim, threads, eb);
                if (eb > worst_bf) worst_bf = eb;
                if (to_fp32 < gap) gap = to_fp32;
                free(want);
                free(want_bf);
                rnn_model_free(m);
            }
    }
    rnn_set_threads(0);
    CHECK(gap > 1e-5, "bf16 weights change the logits (smallest difference %.2e)", gap);
    printf("  stepper vs forward: fp32 max rel err %.2e, bf16 vs rounded model %.2e (tol 5e-5)\n",
           worst, worst_bf);
}

/* The benchmark's char model, a 2x512 LSTM (vocabulary 65, embedding 64),
 * its weights drawn from seed; NULL (a failed check) if it cannot be made. */
static rnn_model *char_lm_2x512(rnn_config *c, uint64_t seed) {
    rnn_config_default(c, RNN_TASK_LM);
    c->vocab_size = 65, c->num_layers = 2, c->hidden_dim = 512, c->embed_dim = 64;
    rnn_model *m = rnn_model_create(c);
    CHECK(m, "model: %s", rnn_last_error());
    if (m) rnn_model_init(m, seed);
    return m;
}

/* A 2x512 LSTM's streams (12.6 MB) outgrow L2, so its stepper may read them
 * with or without software prefetch: either way the logits are the same,
 * bit for bit, and the forward pass's. */
static void test_stepper_prefetch(void) {
    rnn_config c;
    rnn_model *m = char_lm_2x512(&c, 5);
    if (!m) return;
    int32_t ids[T];
    for (int t = 0; t < T; t++) ids[t] = (int32_t)((t * 11 + 3) % c.vocab_size);
    float *want = forward_all(m, ids);
    for (int threads = 1; threads <= 2; threads++) {
        rnn_set_threads(threads);
        rnn_stepper *s[2] = {rnn_stepper_create(m, RNN_FP32), rnn_stepper_create(m, RNN_FP32)};
        CHECK(s[0] && s[1] && want, "steppers: %s", rnn_last_error());
        if (!s[0] || !s[1] || !want) break;
        rnn_stepper_set_prefetch(s[0], 0);
        rnn_stepper_set_prefetch(s[1], 1);
        int same = 1;
        double worst = 0;
        for (int t = 0; t < T; t++) {
            const float *a = rnn_stepper_feed(s[0], ids[t]), *b = rnn_stepper_feed(s[1], ids[t]);
            same &= !memcmp(a, b, sizeof(float) * c.vocab_size);
            double e = harness_max_rel_err(a, want + (size_t)t * c.vocab_size, c.vocab_size, 1e-2);
            if (e > worst) worst = e;
        }
        CHECK(same, "%d threads: the same logits with and without prefetch", threads);
        CHECK(worst <= 5e-5, "%d threads: 2x512 stepper vs forward: rel err %.3e", threads, worst);
        rnn_stepper_free(s[0]);
        rnn_stepper_free(s[1]);
    }
    rnn_set_threads(0);
    free(want);
    rnn_model_free(m);
}

/* The process's first 2x512 stepper times its first 72 tokens with and
 * without prefetch (-1 until then), feeding the same logits as a stepper
 * told not to (which ends its own trial), then keeps a choice that the next
 * stepper starts from; a model whose streams fit in L2 (2x128: 1 MB)
 * prefetches without a trial. */
static void test_stepper_prefetch_trial(void) {
    enum { N = 80, TRIAL = 72 };
    rnn_config c;
    rnn_model *m = char_lm_2x512(&c, 9);
    if (!m) return;
    rnn_stepper *a = rnn_stepper_create(m, RNN_FP32), *b = rnn_stepper_create(m, RNN_FP32);
    CHECK(a && b, "steppers: %s", rnn_last_error());
    if (a && b) {
        rnn_stepper_set_prefetch(b, 0);
        CHECK(rnn_stepper_prefetch(b) == 0, "setting the prefetch ends the trial (%d)", rnn_stepper_prefetch(b));
        int same = 1, during = 1, after = -2;
        for (int t = 0; t < N; t++) {
            const int32_t id = (int32_t)((t * 7 + 1) % c.vocab_size);
            const float *x = rnn_stepper_feed(a, id), *y = rnn_stepper_feed(b, id);
            same &= !memcmp(x, y, sizeof(float) * c.vocab_size);
            if (t < TRIAL - 1) during &= rnn_stepper_prefetch(a) == -1;
            if (t == TRIAL - 1) after = rnn_stepper_prefetch(a);
        }
        CHECK(same, "the trial's logits are the same as without prefetch, bit for bit");
        CHECK(during, "timing for the first %d tokens", TRIAL);
        CHECK(after == 0 || after == 1, "a choice after %d tokens (%d)", TRIAL, after);
        rnn_stepper *next = rnn_stepper_create(m, RNN_FP32);
        CHECK(next && rnn_stepper_prefetch(next) == after, "the next stepper starts from the choice (%d)",
              next ? rnn_stepper_prefetch(next) : -3);
        rnn_stepper_free(next);
        /* bf16 weights decide for themselves; a reset onto another team
         * size starts the trial again (its blocks compare one team) */
        rnn_set_threads(1);
        rnn_stepper *bf = rnn_stepper_create(m, RNN_BF16);
        CHECK(bf && rnn_stepper_prefetch(bf) == -1, "bf16 weights decide for themselves");
        int timing = 1, decided = -2;
        for (int t = 0; bf && t < 20; t++) rnn_stepper_feed(bf, 3);
        rnn_set_threads(2);
        if (bf) rnn_stepper_reset(bf);
        for (int t = 0; bf && t < TRIAL; t++) {
            rnn_stepper_feed(bf, 3);
            if (t < TRIAL - 1) timing &= rnn_stepper_prefetch(bf) == -1;
            else decided = rnn_stepper_prefetch(bf);
        }
        CHECK(timing && (decided == 0 || decided == 1),
              "a reset from 1 thread to 2 times %d tokens again, then decides (%d)", TRIAL, decided);
        rnn_set_threads(0);
        rnn_stepper_free(bf);
    }
    rnn_stepper_free(a);
    rnn_stepper_free(b);
    rnn_model_free(m);
    c.hidden_dim = 128;
    m = rnn_model_create(&c);
    rnn_stepper *small = m ? rnn_stepper_create(m, RNN_FP32) : NULL;
    CHECK(small && rnn_stepper_prefetch(small) == 1, "a 2x128 stepper prefetches, untimed");
    rnn_stepper_free(small);
    rnn_model_free(m);
}

static void test_stepper_refuses(void) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 11, c.hidden_dim = 8, c.embed_dim = 4, c.num_classes = 2;
    rnn_model *m = rnn_model_create(&c);
    CHECK(m != NULL, "classifier");
    if (!m) return;
    CHECK(rnn_stepper_create(m, RNN_FP32) == NULL && strstr(rnn_last_error(), "language model"),
          "a classifier is refused with a message");
    rnn_model_free(m);
}

/* rnn_blocks_pack / rnn_blocks_gemv against double dot products: row
 * counts that fill the last block and that do not, column counts below, at
 * and past a vector's width, any range of rows [r0, r1) (the others are left
 * as they were). */
static void test_blocks_gemv(void) {
    static const int shapes[][2] = {{16, 16}, {37, 19}, {80, 20}, {5, 3}, {64, 130}};
    rnn_rng rng;
    rnn_rng_seed(&rng, 4);
    double worst = 0;
    int ranges = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int R = shapes[si][0], K = shapes[si][1];
        float *W = malloc(sizeof(float) * R * K), *x = malloc(sizeof(float) * K), *y = malloc(sizeof(float) * R);
        float *blk = rnn_alloc(sizeof(float) * rnn_blocks_floats(R, K));
        double *want = malloc(sizeof(double) * R);
        for (int i = 0; i < R * K; i++) W[i] = rnn_rng_uniform(&rng) * 2 - 1;
        for (int k = 0; k < K; k++) x[k] = rnn_rng_uniform(&rng) * 2 - 1;
        for (int r = 0; r < R; r++) {
            want[r] = 0;
            for (int k = 0; k < K; k++) want[r] += (double)W[(size_t)r * K + k] * x[k];
        }
        rnn_blocks_pack(blk, W, R, K);
        for (int r0 = 0; r0 < R; r0 += 3)
            for (int r1 = r0 + 1; r1 <= R + 4; r1 += 5) {
                for (int r = 0; r < R; r++) y[r] = NAN;
                rnn_blocks_gemv(blk, R, K, x, y, r0, r1);
                int bad = 0;
                for (int r = 0; r < R; r++) {
                    const int in = r >= r0 && r < r1;
                    if (in) {
                        const double e = fabs(y[r] - want[r]);
                        worst = fmax(worst, e);
                        bad |= !(e < 1e-5);
                    } else {
                        bad |= !isnan(y[r]);
                    }
                }
                CHECK(!bad, "%d x %d, rows [%d, %d): wrong rows, or rows outside the range written", R, K, r0, r1);
                ranges++;
            }
        free(W), free(x), free(y), free(want);
        rnn_free(blk);
    }
    printf("  %d row ranges of 5 shapes: within %.1e of double dot products, no row outside written\n", ranges,
           worst);
}

int main(void) {
    RUN(test_stepper_prefetch_trial); /* first: no stepper has decided yet */
    RUN(test_blocks_gemv);
    RUN(test_stepper_matches_forward);
    RUN(test_stepper_prefetch);
    RUN(test_stepper_refuses);
    return harness_end();
}
