/* test_sample.c: drawing a token (rnn_sample_logits) against the
 * definitions worked by hand, and generation as text (rnn_sampler_text):
 * stop strings, the space after a prime, tokens never drawn (which ids
 * those are, rnn_tokenizer_producible, is tested in test_tokenizer.c).
 *
 * A draw maps u in [0, 1) onto the cumulative distribution, so feeding the
 * N grid points u = (i + 0.5) / N gives each token a share of the draws
 * within 1/N of its probability: an exact check, no randomness. */
#include "harness.h"

#include "sample.h"

#define N_GRID 10000

/* Shares of the draws of each of n tokens over the u grid. */
static void shares(const float *logits, int n, rnn_sample_opts o, const uint8_t *banned, double *share) {
    float probs[16];
    int32_t order[32];
    for (int i = 0; i < n; i++) share[i] = 0;
    for (int i = 0; i < N_GRID; i++) {
        int32_t id = rnn_sample_logits(logits, n, &o, banned, probs, order, (float)((i + 0.5) / N_GRID));
        if (id >= 0 && id < n) share[id] += 1.0 / N_GRID;
    }
}

static int shares_are(const double *share, const double *want, int n, const char *what) {
    double worst = 0;
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs(share[i] - want[i]));
    printf("  %-50s worst share error %.1e\n", what, worst);
    return worst <= 2.0 / N_GRID;
}

static void test_distribution(void) {
    /* probabilities .3 .2 .2 .2 .1 as logits */
    const float lg[5] = {logf(0.3f), logf(0.2f), logf(0.2f), logf(0.2f), logf(0.1f)};
    double s[5];
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1}, NULL, s);
    CHECK(shares_are(s, (double[]){.3, .2, .2, .2, .1}, 5, "T 1: the softmax"), "T 1");
    /* T 0.5 squares the probabilities: .09 .04 .04 .04 .01 over .22 */
    shares(lg, 5, (rnn_sample_opts){.temperature = 0.5f, .top_k = 0, .top_p = 1}, NULL, s);
    CHECK(shares_are(s, (double[]){.09 / .22, .04 / .22, .04 / .22, .04 / .22, .01 / .22}, 5, "T 0.5: p^2"),
          "T 0.5");
    /* top-k 2: .3 and the first .2 (ties to the lower id), renormalised */
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 2, .top_p = 1}, NULL, s);
    CHECK(shares_are(s, (double[]){.6, .4, 0, 0, 0}, 5, "top-k 2"), "top-k 2");
    /* top-p 0.65: .3 + .2 + .2 = .7 is the shortest prefix reaching it */
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 0.65f}, NULL, s);
    CHECK(shares_are(s, (double[]){3 / 7.0, 2 / 7.0, 2 / 7.0, 0, 0}, 5, "top-p 0.65"), "top-p 0.65");
    /* top-p after top-k is over the k renormalised (.6 .4): 0.5 keeps .6 alone */
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 2, .top_p = 0.5f}, NULL, s);
    CHECK(shares_are(s, (double[]){1, 0, 0, 0, 0}, 5, "top-k 2 then top-p 0.5"), "top-k then top-p");
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 3, .top_p = 0.8f}, NULL, s); /* .3 .2 .2 over .7: .43 .71 1 */
    CHECK(shares_are(s, (double[]){3 / 7.0, 2 / 7.0, 2 / 7.0, 0, 0}, 5, "top-k 3 then top-p 0.8"), "k 3 p .8");
    /* a banned id is never drawn; the rest keep their ratios */
    const uint8_t ban[5] = {1, 0, 0, 0, 0};
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1}, ban, s);
    CHECK(shares_are(s, (double[]){0, .2 / .7, .2 / .7, .2 / .7, .1 / .7}, 5, "id 0 banned"), "banned");
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 1, .top_p = 1}, ban, s);
    CHECK(shares_are(s, (double[]){0, 1, 0, 0, 0}, 5, "id 0 banned, top-k 1"), "banned top-k");
    float probs[5];
    int32_t order[10];
    CHECK(rnn_sample_logits(lg, 5, &(rnn_sample_opts){.temperature = 0, .top_k = 0, .top_p = 1}, ban, probs, order, 0.5f) == 1,
          "greedy skips a banned id");
}

static void test_extremes(void) {
    float probs[8];
    int32_t order[16];
    const float lg[4] = {1, 3, 2, 0};
    /* Temperatures so small that logit / T overflows still pick the most
     * likely token, never the last one */
    const float tiny[] = {1e-6f, 1e-30f, 1e-38f, 1e-39f, 1e-45f};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) {
            float u = j == 0 ? 0.0f : j == 1 ? 0.5f : 0.99999f;
            int32_t id = rnn_sample_logits(lg, 4, &(rnn_sample_opts){.temperature = tiny[i], .top_k = 0, .top_p = 1}, NULL, probs, order, u);
            int32_t idk = rnn_sample_logits(lg, 4, &(rnn_sample_opts){.temperature = tiny[i], .top_k = 2, .top_p = 0.9f}, NULL, probs, order, u);
            CHECK(id == 1 && idk == 1, "T %g, u %g: the most likely id (got %d, with top-k/p %d)", tiny[i], u, id, idk);
        }
    /* +inf is certain; NaN is never drawn (nor taken greedily) */
    const float inf[4] = {1, INFINITY, 2, 0}, nan4[4] = {NAN, 0, 5, 1};
    CHECK(rnn_sample_logits(inf, 4, &(rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1}, NULL, probs, order, 0.99f) == 1, "+inf is drawn");
    CHECK(rnn_sample_logits(nan4, 4, &(rnn_sample_opts){.temperature = 0, .top_k = 0, .top_p = 1}, NULL, probs, order, 0.5f) == 2,
          "greedy passes over NaN");
    int nan_drawn = 0;
    for (int i = 0; i < 100; i++)
        nan_drawn += rnn_sample_logits(nan4, 4, &(rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1}, NULL, probs, order, i / 100.0f) == 0;
    CHECK(nan_drawn == 0, "a NaN logit is never drawn (%d of 100)", nan_drawn);
    /* u just below 1 lands on the last token with any probability, not on
     * the vocabulary's last id */
    const float neg[4] = {0, 0, -INFINITY, -INFINITY};
    CHECK(rnn_sample_logits(neg, 4, &(rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1}, NULL, probs, order, 0.9999999f) == 1,
          "a draw never lands on a token of probability 0");
    /* top-k ties go to the lower ids */
    const float tie[4] = {1, 1, 1, 0};
    double s[4];
    shares(tie, 4, (rnn_sample_opts){.temperature = 1, .top_k = 2, .top_p = 1}, NULL, s);
    CHECK(shares_are(s, (double[]){.5, .5, 0, 0}, 4, "top-k 2 of three tied"), "ties");
    /* top-p ties: four equal tokens, p 0.5 keeps the two lowest, 0.6 three */
    const float flat[4] = {2, 2, 2, 2};
    shares(flat, 4, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 0.5f}, NULL, s);
    CHECK(shares_are(s, (double[]){.5, .5, 0, 0}, 4, "top-p 0.5 of four tied"), "top-p ties 0.5");
    shares(flat, 4, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 0.6f}, NULL, s);
    CHECK(shares_are(s, (double[]){1 / 3.0, 1 / 3.0, 1 / 3.0, 0}, 4, "top-p 0.6 of four tied"), "top-p ties 0.6");
    /* top-p over a wide vocabulary (weights spread over many exponents),
     * against the nucleus taken from a sort by hand */
    enum { V = 3000 };
    static float wide[V], pr[V];
    static int32_t ord[2 * V];
    static double sh[V], want[V];
    for (int i = 0; i < V; i++) wide[i] = (float)((i * 7919) % 1000) / 60.0f - 8.0f;
    const float pw = 0.9f;
    double tot = 0;
    for (int i = 0; i < V; i++) tot += exp(wide[i]);
    int done = 0;
    double acc = 0, kept = 0;
    for (int i = 0; i < V; i++) want[i] = 0;
    while (!done) { /* heaviest first, ties to the lower id, until 0.9 of the mass */
        int best = -1;
        for (int i = 0; i < V; i++)
            if (want[i] == 0 && (best < 0 || wide[i] > wide[best])) best = i;
        want[best] = exp(wide[best]);
        acc += want[best] / tot;
        done = acc >= pw;
    }
    for (int i = 0; i < V; i++) kept += want[i];
    for (int i = 0; i < V; i++) want[i] /= kept, sh[i] = 0;
    for (int i = 0; i < 100000; i++) {
        int32_t id = rnn_sample_logits(wide, V, &(rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = pw}, NULL, pr, ord, (float)((i + 0.5) / 100000));
        sh[id] += 1e-5;
    }
    double worst = 0;
    for (int i = 0; i < V; i++) worst = fmax(worst, fabs(sh[i] - want[i]));
    printf("  top-p 0.9 over 3000 tokens: worst share error %.1e\n", worst);
    CHECK(worst < 3e-5, "top-p 0.9 over 3000 tokens: the nucleus by sorting (worst %.1e)", worst);
}

/* min-p (after temperature, top-k and top-p, as Hugging Face's
 * MinPLogitsWarper): of what those leave, the tokens at least min_p times
 * as likely as the likeliest, renormalised. */
static void test_min_p(void) {
    const float lg[5] = {logf(0.3f), logf(0.2f), logf(0.2f), logf(0.2f), logf(0.1f)};
    double s[5];
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0.5f}, NULL, s); /* p >= .15: .3 .2 .2 .2 over .9 */
    CHECK(shares_are(s, (double[]){1 / 3.0, 2 / 9.0, 2 / 9.0, 2 / 9.0, 0}, 5, "min-p 0.5"), "min-p 0.5");
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0.7f}, NULL, s); /* p >= .21: .3 alone */
    CHECK(shares_are(s, (double[]){1, 0, 0, 0, 0}, 5, "min-p 0.7"), "min-p 0.7");
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 1.0f}, NULL, s); /* 1: the likeliest alone */
    CHECK(shares_are(s, (double[]){1, 0, 0, 0, 0}, 5, "min-p 1"), "min-p 1");
    /* T 0.5: .09 .04 .04 .04 .01 over .22; min-p 0.34 keeps >= .0306 of them: not .01 */
    shares(lg, 5, (rnn_sample_opts){.temperature = 0.5f, .top_k = 0, .top_p = 1, .min_p = 0.34f}, NULL, s);
    CHECK(shares_are(s, (double[]){.09 / .21, .04 / .21, .04 / .21, .04 / .21, 0}, 5, "T 0.5 then min-p 0.34"),
          "T then min-p");
    /* after top-p 0.65 (.3 .2 .2): 0.5 removes none of those; 0.7 all but .3 */
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 0.65f, .min_p = 0.5f}, NULL, s);
    CHECK(shares_are(s, (double[]){3 / 7.0, 2 / 7.0, 2 / 7.0, 0, 0}, 5, "top-p 0.65 then min-p 0.5"), "p then min-p");
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 0.65f, .min_p = 0.7f}, NULL, s);
    CHECK(shares_are(s, (double[]){1, 0, 0, 0, 0}, 5, "top-p 0.65 then min-p 0.7"), "p then min-p 0.7");
    /* top-p 0.99 keeps all five; min-p 0.5 then drops .1 (the nucleus path) */
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 0.99f, .min_p = 0.5f}, NULL, s);
    CHECK(shares_are(s, (double[]){1 / 3.0, 2 / 9.0, 2 / 9.0, 2 / 9.0, 0}, 5, "top-p 0.99 then min-p 0.5"),
          "p .99 then min-p");
    /* top-k 4 (.3 .2 .2 .2), then min-p 0.5 keeps them all; top-k 3, top-p 0.8, min-p 0.8: .3 alone */
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 4, .top_p = 1, .min_p = 0.5f}, NULL, s);
    CHECK(shares_are(s, (double[]){1 / 3.0, 2 / 9.0, 2 / 9.0, 2 / 9.0, 0}, 5, "top-k 4 then min-p 0.5"), "k then min-p");
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 3, .top_p = 0.8f, .min_p = 0.8f}, NULL, s);
    CHECK(shares_are(s, (double[]){1, 0, 0, 0, 0}, 5, "top-k 3, top-p 0.8, min-p 0.8"), "k, p, min-p");
    /* a banned likeliest: min-p is relative to the likeliest allowed (.2) */
    const uint8_t ban[5] = {1, 0, 0, 0, 0};
    shares(lg, 5, (rnn_sample_opts){.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0.6f}, ban, s);
    CHECK(shares_are(s, (double[]){0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 0}, 5, "id 0 banned, min-p 0.6"), "banned, min-p");
}

/* A word model whose logits are its head's bias, whatever it read: word i
 * of words gets bias[i], every other token rest. */
static rnn_model *biased_model(const rnn_tokenizer *tok, const char *const *words, const float *bias, int n,
                               float rest) {
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = rnn_tokenizer_vocab_size(tok), c.embed_dim = 4, c.hidden_dim = 8, c.num_layers = 1;
    rnn_model *m = rnn_model_create(&c);
    if (!m) return NULL;
    rnn_model_init(m, 1);
    memset(m->head_w, 0, sizeof(float) * (size_t)m->n_out * (size_t)rnn_model_head_in(m));
    for (int v = 0; v < m->n_out; v++) m->head_b[v] = rest;
    for (int i = 0; i < n; i++) m->head_b[rnn_tokenizer_find(tok, words[i])] = bias[i];
    return m;
}

/* A word model that always prefers one token: its head's weights are 0 and
 * its bias picks the token. */
static rnn_model *fixed_model(const rnn_tokenizer *tok, const char *word) {
    return biased_model(tok, &word, (const float[]){5.0f}, 1, 0.0f);
}

typedef struct {
    char buf[256];
    size_t n;
    int fail_after; /* emit fails (returns 7) on this call; 0: never */
    int calls;
} out_buf;

static int emit(const char *b, size_t n, void *user) {
    out_buf *o = user;
    if (++o->calls == o->fail_after) return 7;
    if (o->n + n < sizeof o->buf) memcpy(o->buf + o->n, b, n), o->n += n;
    o->buf[o->n] = 0;
    return 0;
}

static const char *gen_opts(rnn_model *m, const rnn_tokenizer *tok, const char *prime, const char *stop, long len,
                            out_buf *o, const rnn_sample_opts *opts) {
    rnn_sampler *s = rnn_sampler_create(m, tok, 1);
    int fail_after = o->fail_after;
    memset(o, 0, sizeof *o);
    o->fail_after = fail_after;
    if (!s) return "(no sampler)";
    size_t plen = prime ? strlen(prime) : 0;
    if (plen) rnn_sampler_prime(s, prime, plen, NULL);
    int rc = rnn_sampler_text(s, opts, len, prime, plen, stop, stop ? strlen(stop) : 0, emit, o);
    rnn_sampler_free(s);
    if (rc == 7) return "(stopped by emit)";
    return rc ? "(error)" : o->buf;
}

static const char *gen(rnn_model *m, const rnn_tokenizer *tok, const char *prime, const char *stop, long len,
                       out_buf *o) {
    return gen_opts(m, tok, prime, stop, len, o, &(rnn_sample_opts){0, 0, 1, 0, 0, 0});
}

/* The repeat penalty, greedily: logits the 2, cat 1.5 (the rest 0) write
 * "the the ..." without it; with P = 2 the logit of a token among the
 * last N fed is halved (once, however often it came: after "the cat the"
 * the's is 1, not 0.5), so "the cat the the the" (cat 0.75 from then on);
 * N = 1 remembers only the last: "the cat the cat". Negative logits are
 * multiplied: the -1, cat -1.2 (the rest -5) give "the cat the the the"
 * too (dividing would keep "the"). A positive logit never falls below 0
 * (P 8: still the and cat over the zeros); P < 1 favours what came (0.5
 * after the prime "cat": cat's 3 over the's 2). The prime counts; the
 * newline the sampler starts with unprimed does not. */
static void test_repeat_penalty(void) {
    rnn_tok_options to;
    rnn_tok_options_default(&to, RNN_TOK_WORD);
    const char *text = "the cat sat on the mat";
    rnn_tokenizer *tok = rnn_tokenizer_build(&to, text, strlen(text));
    const char *const words[] = {"the", "cat"};
    rnn_model *pos = tok ? biased_model(tok, words, (const float[]){2, 1.5f}, 2, 0) : NULL;
    rnn_model *neg = tok ? biased_model(tok, words, (const float[]){-1, -1.2f}, 2, -5) : NULL;
    CHECK(pos && neg, "models");
    if (!pos || !neg) goto out;
    static const struct {
        int neg;
        float P;
        int last;
        const char *prime, *want;
    } cases[] = {
        {0, 0, 0, NULL, "the the the the the"},     {0, 1, 64, NULL, "the the the the the"},
        {0, 2, 64, NULL, "the cat the the the"},    {0, 2, 1, NULL, "the cat the cat the"},
        {0, 2, 0, NULL, "the cat the the the"},     {0, 2, 2, NULL, "the cat the the cat"},
        {0, 2, 64, "the", " cat the the the the"},  {0, 2, 0, "cat", " the the the the the"},
        {0, 8, 64, NULL, "the cat the the the"},     {1, 2, 64, NULL, "the cat the the the"},
        {1, 0.5f, 64, NULL, "the the the the the"}, {0, 0.5f, 64, "cat", " cat cat cat cat cat"},
    };
    /* The window past the ring's wrap-around (RNN_REPEAT_LAST_MAX tokens):
     * logits the 2, cat 1.9 (the rest 0); P 2 over the last 65536 after a
     * prime of "the" and n "sat"s: "the" is in the window (halved to 1, so
     * cat 1.9 wins) for n = 65535, out of it (2 wins) for n = 65536 and
     * 65537, the ring having wrapped. */
    {
        const char *const w3[] = {"the", "cat"};
        rnn_model *m3 = biased_model(tok, w3, (const float[]){2, 1.9f}, 2, 0);
        static const struct {
            long n_sat;
            const char *want;
        } wrap[] = {{RNN_REPEAT_LAST_MAX - 1, "cat"}, {RNN_REPEAT_LAST_MAX, "the"}, {RNN_REPEAT_LAST_MAX + 1, "the"}};
        for (size_t i = 0; m3 && i < sizeof wrap / sizeof *wrap; i++) {
            const size_t plen = 3 + 4 * (size_t)wrap[i].n_sat;
            char *prime = malloc(plen + 1);
            rnn_sampler *s = prime ? rnn_sampler_create(m3, tok, 1) : NULL;
            if (!s) {
                free(prime);
                CHECK(0, "wrap: out of memory");
                break;
            }
            memcpy(prime, "the", 3);
            for (long k = 0; k < wrap[i].n_sat; k++) memcpy(prime + 3 + 4 * k, " sat", 4);
            prime[plen] = 0;
            const rnn_sample_opts wo = {0, 0, 1, 0, 2, RNN_REPEAT_LAST_MAX};
            const long fed = rnn_sampler_prime(s, prime, plen, NULL);
            const int32_t id = rnn_sampler_next(s, &wo);
            const char *got = id >= 0 ? rnn_tokenizer_token(tok, id) : "(error)";
            CHECK(fed == wrap[i].n_sat + 1 && !strcmp(got, wrap[i].want),
                  "\"the\" then %ld \"sat\" (%ld fed), P 2 over the last %d: '%s', not '%s'", wrap[i].n_sat, fed,
                  RNN_REPEAT_LAST_MAX, got, wrap[i].want);
            rnn_sampler_free(s);
            free(prime);
        }
        /* a window of 1 after the wrap: "the" as the last of 65542 fed is halved (cat wins); the window of 0,
         * all the text, halves it too */
        const long n_sat = RNN_REPEAT_LAST_MAX + 5;
        char *prime = m3 ? malloc(4 * (size_t)n_sat + 5) : NULL;
        for (int last = 1; prime && last >= 0; last--) {
            size_t plen = 0;
            for (long k = 0; k < n_sat; k++) memcpy(prime + plen, k ? " sat" : "sat ", 4), plen += 4;
            memcpy(prime + plen, " the", 4), plen += 4;
            prime[plen] = 0;
            rnn_sampler *s = rnn_sampler_create(m3, tok, 1);
            const rnn_sample_opts wo = {0, 0, 1, 0, 2, last};
            const int32_t id = s && rnn_sampler_prime(s, prime, plen, NULL) > 0 ? rnn_sampler_next(s, &wo) : -1;
            CHECK(id >= 0 && !strcmp(rnn_tokenizer_token(tok, id), "cat"),
                  "%ld \"sat\" then \"the\", P 2 over the last %d: '%s', not 'cat'", n_sat, last,
                  id >= 0 ? rnn_tokenizer_token(tok, id) : "(error)");
            rnn_sampler_free(s);
        }
        free(prime);
        rnn_model_free(m3);
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        out_buf o = {0};
        const rnn_sample_opts opts = {0, 0, 1, 0, cases[i].P, cases[i].last};
        const char *g = gen_opts(cases[i].neg ? neg : pos, tok, cases[i].prime, NULL, 5, &o, &opts);
        CHECK(!strcmp(g, cases[i].want), "%s logits, penalty %g over the last %d, prime '%s': '%s', not '%s'",
              cases[i].neg ? "negative" : "positive", cases[i].P, cases[i].last,
              cases[i].prime ? cases[i].prime : "", g, cases[i].want);
    }
    /* a reset forgets what was fed: the same text again */
    rnn_sampler *s = rnn_sampler_create(pos, tok, 1);
    char ids[2][5] = {{0}};
    const rnn_sample_opts opts = {0, 0, 1, 0, 2, 64};
    for (int r = 0; r < 2 && s; r++) {
        if (r) rnn_sampler_reset(s, 1);
        for (int i = 0; i < 5; i++) ids[r][i] = (char)rnn_sampler_next(s, &opts);
    }
    CHECK(s && !memcmp(ids[0], ids[1], 5), "after rnn_sampler_reset the penalty starts over");
    rnn_sampler_free(s);
out:
    rnn_model_free(pos);
    rnn_model_free(neg);
    rnn_tokenizer_free(tok);
}

static void test_text(void) {
    rnn_tok_options to;
    rnn_tok_options_default(&to, RNN_TOK_WORD);
    const char *text = "the cat sat on the mat";
    rnn_tokenizer *tok = rnn_tokenizer_build(&to, text, strlen(text));
    rnn_model *m = tok ? fixed_model(tok, "the") : NULL;
    CHECK(m != NULL, "model");
    if (!m) goto out;
    out_buf o = {0};
    const char *g = gen(m, tok, NULL, NULL, 4, &o);
    CHECK(!strcmp(g, "the the the the"), "greedy words, spaced: '%s'", g);
    /* a stop string across two pieces, ending inside the second */
    g = gen(m, tok, NULL, "e t", 10, &o);
    CHECK(!strcmp(g, "the t"), "--stop 'e t' ends inside a piece: '%s'", g);
    /* one that begins in the prime ("cat" ends in t) */
    g = gen(m, tok, "cat", "t t", 10, &o);
    CHECK(!strcmp(g, " t"), "--stop 't t' begun by the prime: '%s'", g);
    /* but a prime that holds the whole stop string does not stop generation */
    g = gen(m, tok, "the cat", "cat", 2, &o);
    CHECK(!strcmp(g, " the the"), "a stop string inside the prime: '%s'", g);
    /* a prime that ends in a space: no second space */
    g = gen(m, tok, "cat ", NULL, 2, &o);
    CHECK(!strcmp(g, "the the"), "after a prime ending in a space: '%s'", g);
    g = gen(m, tok, "cat", NULL, 2, &o);
    CHECK(!strcmp(g, " the the"), "after a prime without one: '%s'", g);
    /* the tokenizer's other separators count too: no-break space, ideographic space, form feed */
    const char *sep_primes[] = {"cat\xc2\xa0", "cat\xe3\x80\x80", "cat\f", "cat\n"};
    for (int i = 0; i < 4; i++) {
        g = gen(m, tok, sep_primes[i], NULL, 2, &o);
        CHECK(!strcmp(g, "the the"), "after a prime ending in separator %d: '%s'", i, g);
    }
    g = gen(m, tok, "caf\xc3\xa9", NULL, 2, &o); /* ends in a letter beyond ASCII */
    CHECK(!strcmp(g, " the the"), "after a prime ending in e-acute: '%s'", g);
    /* a long stop string (KMP with a repeated prefix): "the the the t" */
    g = gen(m, tok, NULL, "the the t", 10, &o);
    CHECK(!strcmp(g, "the the t"), "a stop string with a repeated prefix: '%s'", g);
    /* emit's error ends generation and comes back */
    o.fail_after = 2;
    g = gen(m, tok, NULL, NULL, 10, &o);
    CHECK(!strcmp(g, "(stopped by emit)") && o.calls == 2, "emit's error stops it after %d calls: %s", o.calls, g);
    o.fail_after = 0;
    rnn_model_free(m);
    /* <pad> is never drawn, even where the model wants it most */
    m = fixed_model(tok, "<pad>");
    if (!m) goto out;
    g = gen(m, tok, NULL, NULL, 3, &o);
    CHECK(strlen(g) > 0 && o.calls == 3, "a model that prefers <pad> still writes 3 words: '%s'", g);
    rnn_model_free(m);
out:
    rnn_tokenizer_free(tok);
}

/* Valid UTF-8 without NUL (RFC 3629), written apart from sample.c's. */
static int valid_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i], need, min;
        if (c == 0) return 0;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC0 && c < 0xE0) need = 1, min = 0x80, c &= 0x1F;
        else if (c >= 0xE0 && c < 0xF0) need = 2, min = 0x800, c &= 0x0F;
        else if (c >= 0xF0 && c < 0xF8) need = 3, min = 0x10000, c &= 0x07;
        else return 0;
        if (i + need >= n) return 0; /* cut short */
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            c = c << 6 | (p[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

typedef struct {
    unsigned char buf[8192];
    size_t n;
} big_buf;

static int emit_big(const char *b, size_t n, void *user) {
    big_buf *o = user;
    if (o->n + n <= sizeof o->buf) memcpy(o->buf + o->n, b, n), o->n += n;
    return 0;
}

/* A byte model (random weights, temperature 1.5: every byte likely) writes
 * valid UTF-8 without NUL by default: over 4,000 bytes; after a prime that
 * ends inside a character (the first two bytes of the euro sign); and at
 * lengths of 1 to 3, where it finishes the character it began. With
 * rnn_sampler_set_utf8(s, 0) the same model writes invalid UTF-8. */
static void test_byte_utf8(void) {
    rnn_tok_options to;
    rnn_tok_options_default(&to, RNN_TOK_BYTE);
    rnn_tokenizer *tok = rnn_tokenizer_build(&to, "x", 1);
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_LM);
    c.vocab_size = 256, c.embed_dim = 8, c.hidden_dim = 16, c.num_layers = 1;
    rnn_model *m = tok ? rnn_model_create(&c) : NULL;
    CHECK(m != NULL, "byte model: %s", rnn_last_error());
    if (!m) goto out;
    rnn_model_init(m, 3);
    const rnn_sample_opts hot = {.temperature = 1.5f, .top_k = 0, .top_p = 1};
    for (int raw = 0; raw <= 1; raw++) {
        rnn_sampler *s = rnn_sampler_create(m, tok, 11);
        big_buf o = {0};
        CHECK(s && rnn_sampler_set_utf8(s, !raw) == 0, "sampler");
        if (!s) continue;
        CHECK(rnn_sampler_text(s, &hot, 4000, NULL, 0, NULL, 0, emit_big, &o) == 0 && o.n >= 4000, "4,000 bytes");
        if (raw)
            CHECK(!valid_utf8(o.buf, o.n), "with UTF-8 off, random bytes are not valid UTF-8 (control)");
        else
            CHECK(valid_utf8(o.buf, o.n), "4,000 bytes of a byte model are valid UTF-8 without NUL");
        rnn_sampler_free(s);
    }
    const char prime[] = "\xE2\x82"; /* the euro sign is E2 82 AC */
    int bad_prime = 0, bad_short = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        rnn_sampler *s = rnn_sampler_create(m, tok, seed);
        if (!s) break;
        big_buf o = {0};
        memcpy(o.buf, prime, 2), o.n = 2;
        rnn_sampler_prime(s, prime, 2, NULL);
        rnn_sampler_text(s, &hot, 5, prime, 2, NULL, 0, emit_big, &o);
        bad_prime += !valid_utf8(o.buf, o.n);
        rnn_sampler_free(s);
        s = rnn_sampler_create(m, tok, seed);
        if (!s) break;
        o.n = 0;
        rnn_sampler_text(s, &hot, 1 + (long)(seed % 3), NULL, 0, NULL, 0, emit_big, &o);
        bad_short += !valid_utf8(o.buf, o.n) || o.n < 1 + seed % 3;
        rnn_sampler_free(s);
    }
    CHECK(bad_prime == 0, "%d of 200 texts after a prime ending inside a character are not valid UTF-8", bad_prime);
    { /* length 0 writes nothing, even after a prime that leaves a character open */
        rnn_sampler *s = rnn_sampler_create(m, tok, 5);
        big_buf o = {0};
        if (s) rnn_sampler_prime(s, prime, 2, NULL), rnn_sampler_text(s, &hot, 0, prime, 2, NULL, 0, emit_big, &o);
        CHECK(s && o.n == 0, "length 0 after an open prime wrote %zu bytes", o.n);
        rnn_sampler_free(s);
    }
    CHECK(bad_short == 0, "%d of 200 texts of 1-3 bytes do not finish their last character", bad_short);
    rnn_model_free(m);
out:
    rnn_tokenizer_free(tok);
}

int main(void) {
    RUN(test_distribution);
    RUN(test_extremes);
    RUN(test_min_p);
    RUN(test_text);
    RUN(test_repeat_penalty);
    RUN(test_byte_utf8);
    return harness_end();
}
