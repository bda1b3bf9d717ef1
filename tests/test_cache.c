/* test_cache.c: the neural cache (cache.h).
 *
 * The mixture on a case worked out by hand (theta = ln 3 makes the two
 * cached states' weights 3 : 1), the ring dropping its oldest pair, streams
 * kept apart, lambda 0 giving the model's softmax, bad settings refused;
 * then rnn_lm_evaluate with a cache against a direct double-precision
 * computation of Grave et al.'s formula over one forward pass of the whole
 * sequence: in chunks (the window carried across them like the state), in
 * two and (in parallel) sixteen streams, and the model's own loss reported
 * beside it, and where the model's probabilities are below float's range; and the sampler's distribution after every token against the
 * same formula. */
#include "harness.h"

#include "cache.h"
#include "model.h"
#include "sample.h"
#include "tokenizer.h"
#include "train.h"

static void test_hand_case(void) {
    rnn_lm_cache *c = rnn_lm_cache_create(2, 2, 2, 3, (float)log(3.0), 0.5f);
    CHECK(c != NULL, "create");
    if (!c) return;
    const float zeros[3] = {0, 0, 0}, e0[2] = {1, 0}, e1[2] = {0, 1};
    float p[3];
    rnn_lm_cache_probs(c, 0, e0, zeros, p);
    const float uniform[3] = {1 / 3.0f, 1 / 3.0f, 1 / 3.0f};
    CHECK_CLOSE(p, uniform, 3, 1e-6, "empty window: the model's softmax");
    rnn_lm_cache_push(c, 0, e0, 2); /* (1,0) was followed by token 2 */
    rnn_lm_cache_push(c, 0, e1, 1); /* (0,1) by token 1 */
    rnn_lm_cache_probs(c, 0, e0, zeros, p);
    /* weights e^(ln3 * 1) = 3 and e^0 = 1: cache 3/4 on token 2, 1/4 on token 1 */
    const float want[3] = {1 / 6.0f, 1 / 6.0f + 0.125f, 1 / 6.0f + 0.375f};
    CHECK_CLOSE(p, want, 3, 1e-6, "two pairs: 1/6 + lambda * (0, 1/4, 3/4)");
    rnn_lm_cache_push(c, 0, e0, 0); /* full: the oldest pair, (1,0) -> 2, goes */
    rnn_lm_cache_probs(c, 0, e0, zeros, p);
    const float want2[3] = {1 / 6.0f + 0.375f, 1 / 6.0f + 0.125f, 1 / 6.0f};
    CHECK_CLOSE(p, want2, 3, 1e-6, "after the ring wraps: the oldest pair forgotten");
    rnn_lm_cache_probs(c, 1, e0, zeros, p);
    CHECK_CLOSE(p, uniform, 3, 1e-6, "the other stream's window is still empty");
    const float logits[3] = {1, 2, 3};
    float soft[3], z = expf(1) + expf(2) + expf(3);
    for (int i = 0; i < 3; i++) soft[i] = expf(logits[i]) / z;
    rnn_lm_cache_probs(c, 1, e0, logits, p);
    CHECK_CLOSE(p, soft, 3, 1e-6, "an empty window: the model's softmax of any logits");
    rnn_lm_cache_free(c);
    c = rnn_lm_cache_create(1, 4, 2, 3, 1.0f, 0.0f);
    rnn_lm_cache_push(c, 0, e0, 1);
    rnn_lm_cache_probs(c, 0, e0, logits, p);
    CHECK_CLOSE(p, soft, 3, 1e-6, "lambda 0: the model's softmax");
    rnn_lm_cache_free(c);
    CHECK(!rnn_lm_cache_create(1, 4, 2, 3, 0.3f, 1.0f) && strstr(rnn_last_error(), "lambda"),
          "lambda 1 refused: %s", rnn_last_error());
    CHECK(!rnn_lm_cache_create(1, 0, 2, 3, 0.3f, 0.2f) && strstr(rnn_last_error(), "size"),
          "size 0 refused: %s", rnn_last_error());
    CHECK(!rnn_lm_cache_create(1, 4, 2, 3, -1.0f, 0.2f) && strstr(rnn_last_error(), "theta"),
          "negative theta refused: %s", rnn_last_error());
}

#define N 61

/* An LM with weights 3-4x PyTorch's init (sharper states, so the cache
 * matters) and the given cache settings. */
static rnn_model *make_lm(int V, int E, int H, int L, uint64_t seed, float scale, int size, float theta,
                          float lambda) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = V;
    c.embed_dim = E;
    c.hidden_dim = H;
    c.num_layers = L;
    c.cache_size = size;
    c.cache_theta = theta;
    c.cache_lambda = lambda;
    rnn_model *m = rnn_model_create(&c);
    rnn_model_init(m, seed);
    for (size_t i = 0; i < m->n_floats; i++) m->w[i] *= scale;
    return m;
}

/* Forward of ids[0..T) as one sequence from a zero state (logits and top in
 * the returned activations). */
static rnn_acts *forward_once(const rnn_model *m, const int32_t *ids, int T) {
    rnn_acts *a = rnn_acts_create(m, T, 1);
    a->lengths[0] = T;
    rnn_pack pk;
    rnn_pack_init(&pk, T, 1, a->lengths, a->batch_sizes, a->offsets);
    rnn_model_forward(m, a, &pk, ids, 0, 0, NULL);
    return a;
}

/* Grave et al.'s mixture at position t of that forward, in double, straight
 * from the formula: q (V) = (1 - lambda) p + lambda * the vote of pairs
 * (top_i, ids[i+1]) for the last W (<= N) positions i < t, where p (V) gets
 * the model's own softmax(logits_t). */
static void mixture(const rnn_model *m, const rnn_acts *a, const int32_t *ids, int t, int W,
                    float theta, float lambda, double *p, double *q) {
    const int V = m->n_out, F = m->F;
    const float *lg = a->logits + (size_t)t * V, *h = a->top + (size_t)t * F;
    double mx = -1e300, z = 0, smax = -1e300, sz = 0, s[N];
    for (int v = 0; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
    for (int v = 0; v < V; v++) z += exp(lg[v] - mx);
    for (int v = 0; v < V; v++) q[v] = p[v] = exp(lg[v] - mx) / z;
    const int i0 = t - W > 0 ? t - W : 0;
    for (int i = i0; i < t; i++) {
        s[i - i0] = 0;
        for (int f = 0; f < F; f++) s[i - i0] += (double)h[f] * a->top[(size_t)i * F + f];
        s[i - i0] *= theta;
        smax = s[i - i0] > smax ? s[i - i0] : smax;
    }
    for (int i = i0; i < t; i++) sz += exp(s[i - i0] - smax);
    if (t > i0) {
        for (int v = 0; v < V; v++) q[v] *= 1 - lambda;
        for (int i = i0; i < t; i++) q[ids[i + 1]] += lambda * exp(s[i - i0] - smax) / sz;
    }
}

static int argmax(const double *q, int n) {
    int best = 0;
    for (int v = 1; v < n; v++) best = q[v] > q[best] ? v : best;
    return best;
}

/* The loss and accuracy of the mixture over data[lo..hi) with the model's
 * cache settings, one sequence from a zero state; *plain gets the model's
 * own loss. */
static double direct(const rnn_model *m, const int32_t *data, int lo, int hi, double *acc,
                     double *plain) {
    const int T = hi - lo - 1;
    rnn_acts *a = forward_once(m, data + lo, T);
    double loss = 0, model = 0, *p = malloc(sizeof(double) * m->n_out), *q = malloc(sizeof(double) * m->n_out);
    int ok = 0;
    for (int t = 0; t < T; t++) {
        const int32_t y = data[lo + t + 1];
        mixture(m, a, data + lo, t, m->c.cache_size, m->c.cache_theta, m->c.cache_lambda, p, q);
        model -= log(p[y]);
        ok += argmax(q, m->n_out) == y;
        loss -= log(q[y]);
    }
    rnn_acts_free(a);
    free(p);
    free(q);
    *acc = (double)ok / T;
    *plain = model / T;
    return loss / T;
}

static void test_evaluate(void) {
    rnn_model *m = make_lm(7, 5, 12, 2, 3, 3, 10, 0.8f, 0.4f);
    int32_t data[2 * N];
    uint64_t x = 12345;
    for (int i = 0; i < 2 * N; i++) { /* repeating phrases, so the cache has something to find */
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        data[i] = i % 9 < 6 ? (int32_t)(i % 9) % 7 : (int32_t)((x >> 33) % 7);
    }
    double acc, plain, want = direct(m, data, 0, N, &acc, &plain);
    rnn_lm_eval ev;
    CHECK(rnn_lm_evaluate(m, data, N, 1, 8, &ev) == 0, "evaluate: %s", rnn_last_error());
    printf("  cache loss %.6f (direct %.6f), model's own %.6f (direct %.6f)\n", ev.loss, want,
           ev.model_loss, plain);
    CHECK(ev.count == N - 1, "%d predictions (got %ld)", N - 1, ev.count);
    CHECK(fabs(ev.loss - want) < 1e-5 * want, "chunks of 8 carry the window: %.7f vs %.7f", ev.loss, want);
    CHECK(fabs(ev.accuracy - acc) < 1e-9, "accuracy of the mixture: %.4f vs %.4f", ev.accuracy, acc);
    CHECK(fabs(ev.model_loss - plain) < 1e-5 * plain, "the model's own loss beside it: %.7f vs %.7f",
          ev.model_loss, plain);
    CHECK(ev.loss < ev.model_loss, "the cache helps on repeated phrases: %.4f < %.4f", ev.loss, ev.model_loss);
    /* Two streams: each half on its own, the losses weighted by their counts. */
    double acc2, plain2, want2 = direct(m, data, N, 2 * N, &acc2, &plain2);
    CHECK(rnn_lm_evaluate(m, data, 2 * N, 2, 7, &ev) == 0, "evaluate 2 streams");
    CHECK(fabs(ev.loss - (want + want2) / 2) < 1e-5 * want, "two streams, two windows: %.7f vs %.7f",
          ev.loss, (want + want2) / 2);
    m->c.cache_size = 0;
    CHECK(rnn_lm_evaluate(m, data, N, 1, 8, &ev) == 0 && fabs(ev.loss - plain) < 1e-5 * plain &&
              ev.loss == ev.model_loss,
          "no cache: the model's loss (%.7f vs %.7f)", ev.loss, plain);
    rnn_model_free(m);
}

/* A model sure of a token that never comes (head bias 150 on token 0): every
 * target's own probability is ~e^-150, below float's range, where the float
 * softmax's exps bottom out at e^-87 (or 0, which the loss read as 1e-308's
 * 708 nats). The first sight of each token has only the model's share,
 * (1 - lambda) e^-150; the loss must still be the formula's, in double. */
static void test_evaluate_underflow(void) {
    rnn_model *m = make_lm(7, 5, 12, 1, 9, 0.8f, 10, 0.4f, 0.3f);
    m->head_b[0] += 150;
    int32_t data[N];
    for (int i = 0; i < N; i++) data[i] = 1 + (int32_t)((i * 5 + i / 7) % 6); /* never token 0 */
    double acc, plain, want = direct(m, data, 0, N, &acc, &plain);
    rnn_lm_eval ev;
    CHECK(rnn_lm_evaluate(m, data, N, 1, 8, &ev) == 0, "evaluate: %s", rnn_last_error());
    printf("  cache loss %.6f (direct %.6f), model's own %.6f (direct %.6f)\n", ev.loss, want,
           ev.model_loss, plain);
    CHECK(plain > 140 && isfinite(want), "the targets' own probabilities underflow float: %.2f nats", plain);
    CHECK(fabs(ev.loss - want) < 1e-5 * want, "the mixture's loss in double where float underflows: %.7f vs %.7f",
          ev.loss, want);
    CHECK(fabs(ev.model_loss - plain) < 1e-5 * plain, "the model's own loss: %.7f vs %.7f", ev.model_loss, plain);
    /* the same, straight: an empty window is the log softmax; one pair adds lambda's vote */
    rnn_lm_cache *c = rnn_lm_cache_create(1, 2, 2, 3, 1.0f, 0.25f);
    const float logits[3] = {200, 0, -100}, e0[2] = {1, 0};
    const double lse = 200 + log1p(exp(-200.0) + exp(-300.0));
    CHECK(fabs(rnn_lm_cache_logprob(c, 0, e0, logits, 2) - (-100 - lse)) < 1e-9, "empty window: log softmax %.6f",
          rnn_lm_cache_logprob(c, 0, e0, logits, 2));
    rnn_lm_cache_push(c, 0, e0, 1);
    const double lq1 = log(0.75 * exp(-lse) + 0.25);
    CHECK(fabs(rnn_lm_cache_logprob(c, 0, e0, logits, 1) - lq1) < 1e-12, "one pair: log(0.75 p + 0.25) = %.6f",
          lq1);
    CHECK(fabs(rnn_lm_cache_logprob(c, 0, e0, logits, 2) - (log(0.75) - 100 - lse)) < 1e-9,
          "a token the window lacks: log(0.75) + log p");
    rnn_lm_cache_free(c);
    /* Three pairs whose largest score is not the first (scores 1, 3, 2 for
     * h = 1): the vote for token 1 is (e + e^2) / (e + e^3 + e^2) however the
     * sums are scaled on the way. */
    c = rnn_lm_cache_create(1, 3, 1, 3, 1.0f, 0.25f);
    const float one[1] = {1}, three[1] = {3}, two[1] = {2};
    rnn_lm_cache_push(c, 0, one, 1);
    rnn_lm_cache_push(c, 0, three, 2);
    rnn_lm_cache_push(c, 0, two, 1);
    const double vote = (exp(1.0) + exp(2.0)) / (exp(1.0) + exp(3.0) + exp(2.0));
    const double lq3 = log(0.75 * exp(-lse) + 0.25 * vote);
    CHECK(fabs(rnn_lm_cache_logprob(c, 0, one, logits, 1) - lq3) < 1e-12,
          "the largest score second: log(0.75 p + 0.25 vote) = %.9f, got %.9f", lq3,
          rnn_lm_cache_logprob(c, 0, one, logits, 1));
    rnn_lm_cache_free(c);
    rnn_model_free(m);
}

/* 16 streams of 65 tokens, 60 words, width 96: enough rows for
 * cache_rows' parallel loop; each stream must still equal its own direct
 * single-stream evaluation. */
static void test_evaluate_parallel(void) {
    rnn_model *m = make_lm(60, 8, 96, 1, 5, 4, 12, 0.5f, 0.3f);
    enum { S = 16, LEN = 65 };
    int32_t data[S * LEN];
    for (int i = 0; i < S * LEN; i++) data[i] = (int32_t)((i % 13) * 7 + (i / 97)) % 60;
    rnn_lm_eval ev;
    CHECK(rnn_lm_evaluate(m, data, S * LEN, S, 64, &ev) == 0, "evaluate 16 streams");
    double want = 0, acc = 0;
    for (int b = 0; b < S; b++) {
        double a, p;
        want += direct(m, data, b * LEN, (b + 1) * LEN, &a, &p) / S;
        acc += a / S;
    }
    CHECK(fabs(ev.loss - want) < 1e-5 * want, "16 streams in parallel: %.7f vs %.7f", ev.loss, want);
    CHECK(fabs(ev.accuracy - acc) < 1e-9, "their accuracy: %.5f vs %.5f", ev.accuracy, acc);
    rnn_model_free(m);
}

/* The sampler's distribution after every token fed, prime and generated, is
 * the mixture over the last `size` pairs of (state, token that followed),
 * computed directly from one forward pass over the whole text. */
static void test_sampler(void) {
    const char *text = "abcab cabca bcabd eabca bcab abc ";
    rnn_tok_options to;
    rnn_tok_options_default(&to, RNN_TOK_CHAR);
    rnn_tokenizer *tok = rnn_tokenizer_build(&to, text, strlen(text));
    /* No cache in the model's config: the sampler gets its own. */
    rnn_model *m = make_lm(rnn_tokenizer_vocab_size(tok), 6, 20, 2, 9, 3, 0, 0.3f, 0.2f);
    const int W = 5, n_prime = 14, n_gen = 16, V = m->n_out;
    const float theta = 0.7f, lambda = 0.45f;
    rnn_sampler *s = rnn_sampler_create(m, tok, 3);
    CHECK(rnn_sampler_set_cache(s, W, theta, lambda) == 0, "set the cache");
    int32_t ids[64];
    float got[64][16];
    rnn_sample_opts greedy = {.temperature = 0, .top_k = 0, .top_p = 1};
    for (int t = 0; t < n_prime + n_gen; t++) {
        if (t < n_prime) {
            rnn_sampler_prime(s, text + t, 1, NULL);
        } else {
            rnn_sampler_next(s, &greedy);
        }
        ids[t] = rnn_sampler_last(s);
        memcpy(got[t], rnn_sampler_logits(s), sizeof(float) * V);
    }
    const int T = n_prime + n_gen;
    rnn_acts *a = forward_once(m, ids, T);
    double worst = 0;
    int cache_decides = 0;
    for (int t = 0; t < T; t++) {
        double p[16], q[16];
        mixture(m, a, ids, t, W, theta, lambda, p, q);
        for (int v = 0; v < V; v++) {
            double e = fabs(exp(got[t][v]) - q[v]);
            worst = e > worst ? e : worst;
        }
        if (t >= n_prime - 1 && t + 1 < T) cache_decides += argmax(q, V) != argmax(p, V);
    }
    printf("  sampler's mixture vs direct: max abs err %.2e; the cache changed %d greedy picks\n", worst,
           cache_decides);
    CHECK(worst < 1e-5, "the sampler's distribution is the mixture over the last %d pairs (err %.2e)", W, worst);
    CHECK(cache_decides > 0, "the cache changed some greedy picks (so the test can see it)");
    rnn_acts_free(a);
    rnn_sampler_free(s);
    rnn_model_free(m);
    rnn_tokenizer_free(tok);
}

static void test_config(void) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 7;
    c.cache_size = 50;
    c.cache_theta = 0.25f;
    c.cache_lambda = 0.75f;
    char *js = rnn_config_to_json(&c);
    rnn_config d;
    CHECK(js && rnn_config_from_json(&d, js) == 0 && d.cache_size == 50 && d.cache_theta == 0.25f &&
              d.cache_lambda == 0.75f,
          "the cache's settings survive the checkpoint's config: %s", js ? js : "(null)");
    free(js);
    c.cache_lambda = 1;
    CHECK(rnn_config_validate(&c) && strstr(rnn_last_error(), "cache_lambda"), "lambda 1: %s",
          rnn_last_error());
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.vocab_size = 7;
    c.cache_size = 5;
    CHECK(rnn_config_validate(&c) && strstr(rnn_last_error(), "language models"), "classifier: %s",
          rnn_last_error());
}

int main(void) {
    RUN(test_hand_case);
    RUN(test_evaluate);
    RUN(test_evaluate_underflow);
    RUN(test_evaluate_parallel);
    RUN(test_sampler);
    RUN(test_config);
    return harness_end();
}
