/* test_api.c: the public API (include/rnn.h) and classifier inference.
 * - rnn_classify on a classifier written by PyTorch (tools/rnnc_torch.py
 *   make-cls-fixture: bidirectional 2-layer GRU, attention pooling) gives
 *   PyTorch's probabilities.
 * - rnn_generate on the PyTorch-written language model gives PyTorch's
 *   greedy text.
 * - A text gets the same logits alone and packed in a batch with longer and
 *   shorter texts (packed-sequence semantics: padding changes nothing).
 * - rnn_trainer: the callback sees every step and validation, with the
 *   values metrics.csv records; returning non-zero stops and saves the run;
 *   resuming it gives the uninterrupted run's validation losses; progress
 *   "quiet" writes nothing to stderr; bad options fail with their name. */
#include "harness.h"

#include <fcntl.h>
#include <locale.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rnn.h"
#include "checkpoint.h"
#include "gemm.h"
#include "model.h"
#include "options.h"
#include "safetensors.h"
#include "sample.h"
#include "st_edit.h"
#include "tokenizer.h"
#include "train.h"

#define FIX "tests/fixtures/"

/* rnn_error() is one line of valid UTF-8 whatever a file brings into it:
 * valid sequences kept, invalid bytes and control characters escaped. */
static void test_error_is_utf8(void) {
    rnn_errorf("tensor '%s'", "a\xff\xc3\xa9\n\xe2\x82" "b");
    CHECK(!strcmp(rnn_error(), "tensor 'a\\xff\xc3\xa9\\n\\xe2\\x82b'"), "escaped: %s", rnn_error());
}

static void test_classify_matches_pytorch(void) {
    rnn_t *m = rnn_open(FIX "torch_cls.safetensors");
    CHECK(m, "open: %s", rnn_error());
    if (!m) return;
    CHECK(!strcmp(rnn_get_task(m), "classify"), "task");
    CHECK(rnn_num_classes(m) == 3 && !strcmp(rnn_label(m, 2), "pos"), "labels");
    double closs;
    CHECK(rnn_score(m, "a fine film", 11, &closs, NULL) == -1 && strstr(rnn_error(), "rnn_score: this model is a classifier"),
          "rnn_score on a classifier is refused: %s", rnn_error());
    rnn_st *st = rnn_st_load(FIX "torch_cls.safetensors");
    cJSON *texts = cJSON_Parse(rnn_st_meta(st, "test.texts"));
    cJSON *probs = cJSON_Parse(rnn_st_meta(st, "test.probs"));
    int n = cJSON_GetArraySize(texts);
    CHECK(n == 5, "5 fixture texts");
    for (int i = 0; i < n; i++) {
        const char *text = cJSON_GetArrayItem(texts, i)->valuestring;
        float got[3], want[3];
        int best = rnn_classify(m, text, got, 3), wbest = 0;
        for (int c = 0; c < 3; c++) {
            want[c] = (float)cJSON_GetArrayItem(cJSON_GetArrayItem(probs, i), c)->valuedouble;
            if (want[c] > want[wbest]) wbest = c;
        }
        char what[96];
        snprintf(what, sizeof what, "probabilities of \"%s\"", text);
        CHECK_CLOSE(got, want, 3, 1e-4, what);
        CHECK(best == wbest, "predicted class of \"%s\"", text);
    }
    cJSON_Delete(texts);
    cJSON_Delete(probs);
    rnn_st_free(st);
    float p[3];
    CHECK(rnn_classify(m, "caf\xc3", p, 3) == -1 && strstr(rnn_error(), "rnn_classify: the text: ") &&
              strstr(rnn_error(), "UTF-8"),
          "invalid UTF-8 rejected, the message saying where: %s", rnn_error());
    CHECK(rnn_classify(m, "x", p, -1) == -1 && strstr(rnn_error(), "n must be >= 0"), "a negative room refused");
    {
        float pb[3], pn[3];
        const int kb = rnn_classify(m, "\xef\xbb\xbf" "a fine film", pb, 3), kn = rnn_classify(m, "a fine film", pn, 3);
        CHECK(kb == kn && kb >= 0 && !memcmp(pb, pn, sizeof pb), "a leading byte order mark is no text");
        CHECK(rnn_classify(m, "\xef\xbb\xbf" "caf\xc3", p, 3) == -1 && strstr(rnn_error(), "at byte offset 6"),
              "an invalid byte after a byte order mark is named where the text has it: %s", rnn_error());
    }
    CHECK(rnn_label(m, 3) == NULL && strstr(rnn_error(), "class 3 is not in [0, 3)"), "a class out of range: %s",
          rnn_error());
    CHECK(rnn_label(m, -1) == NULL && strstr(rnn_error(), "class -1"), "a negative class: %s", rnn_error());
    /* A text longer than a handle keeps activations for (4,096 tokens): classified, and its
     * activations released; a short text after it gives what it gave before. */
    float before[3], after[3];
    int k0 = rnn_classify(m, "a fine film", before, 3);
    char *longtext = malloc(5001);
    for (int i = 0; i < 5000; i++) longtext[i] = "a fine film, "[i % 13];
    longtext[5000] = 0;
    CHECK(rnn_classify(m, longtext, p, 3) >= 0 && fabsf(p[0] + p[1] + p[2] - 1) < 1e-5f,
          "a 5,000-token text: %s", rnn_error());
    free(longtext);
    CHECK(rnn_classify(m, "a fine film", after, 3) == k0 && !memcmp(before, after, sizeof before),
          "a short text after a long one gives what it gave before");
    CHECK(rnn_classify(m, NULL, p, 3) == -1 && strstr(rnn_error(), "no text"), "a NULL text rejected");
    /* rnn_describe: rnn info --json's object, parsed; the version */
    const char *about = rnn_describe(m);
    cJSON *dj = about ? cJSON_Parse(about) : NULL;
    const cJSON *cfg = cJSON_GetObjectItem(dj, "config"), *tokj = cJSON_GetObjectItem(dj, "tokenizer");
    const cJSON *labs = cJSON_GetObjectItem(dj, "labels");
    CHECK(dj && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(dj, "task")), "classify") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(dj, "path")), FIX "torch_cls.safetensors") &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(dj, "parameters")) == 3365 &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(tokj, "type")), "char") &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(tokj, "vocab_size")) == 32 && cJSON_GetArraySize(labs) == 3 &&
              !strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(labs, 2)), "pos") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "cell")), "gru") &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(cfg, "hidden_dim")) == 10 && rnn_describe(m) == about,
          "rnn_describe: %s", about ? about : rnn_error());
    cJSON_Delete(dj);
    CHECK(!rnn_describe(NULL) && strstr(rnn_error(), "rnn_describe: no model"), "rnn_describe(NULL)");
    CHECK(!strcmp(rnn_version(), RNN_VERSION) && RNN_VERSION_MAJOR == 0, "rnn_version %s", rnn_version());
    CHECK(rnn_classify(m, "", p, 3) >= 0 && rnn_classify(m, "\xef\xbb\xbf", after, 3) >= 0 &&
              !memcmp(p, after, sizeof after) && rnn_classify(m, "a", before, 3) >= 0 && memcmp(p, before, sizeof p),
          "an empty text, and a byte order mark alone, read as one filler token: %s", rnn_error());
    rnn_close(m);
}

/* rnn_classify_batch: 600 texts of 1 to 300 characters (three blocks of
 * 256), each against rnn_classify of the text alone (itself checked against
 * PyTorch above); then its refusals, naming the text. */
static void test_classify_batch(void) {
    rnn_t *m = rnn_open(FIX "torch_cls.safetensors");
    CHECK(m, "open: %s", rnn_error());
    if (!m) return;
    enum { N = 600 };
    char **texts = malloc(sizeof(char *) * N);
    int *best = malloc(sizeof(int) * N), worst = 0;
    float *probs = malloc(sizeof(float) * 3 * N);
    rnn_rng rng;
    rnn_rng_seed(&rng, 5);
    for (int i = 0; i < N; i++) {
        const int len = 1 + (int)(rnn_rng_next(&rng) % 300);
        texts[i] = malloc((size_t)len + 1);
        for (int k = 0; k < len; k++) texts[i][k] = "a fine film, dull plot!"[rnn_rng_next(&rng) % 23];
        texts[i][len] = 0;
    }
    CHECK(rnn_classify_batch(m, (const char *const *)texts, N, best, probs) == 0, "600 texts: %s", rnn_error());
    int same = 1;
    float err = 0;
    for (int i = 0; i < N; i++) {
        float p[3];
        const int k = rnn_classify(m, texts[i], p, 3);
        for (int c = 0; c < 3; c++) {
            const float e = fabsf(p[c] - probs[3 * i + c]);
            if (e > err) err = e, worst = i;
        }
        /* (a near tie may go either way in the last digit) */
        same &= best[i] == k || fabsf(p[k] - p[best[i]]) < 1e-5f;
    }
    CHECK(err < 1e-5f, "probabilities as one at a time: max abs diff %.2e (text %d)", err, worst);
    CHECK(same, "the classes are the most probable ones, as one at a time");
    CHECK(rnn_classify_batch(m, NULL, 0, NULL, NULL) == 0, "no texts: nothing to do");
    int b1[1];
    CHECK(rnn_classify_batch(m, (const char *const *)texts, 1, b1, NULL) == 0 && b1[0] == best[0],
          "probs may be NULL");
    free(texts[300]);
    texts[300] = strdup("caf\xc3");
    CHECK(rnn_classify_batch(m, (const char *const *)texts, N, best, probs) == -1 &&
              strstr(rnn_error(), "rnn_classify_batch: text 300: ") && strstr(rnn_error(), "UTF-8"),
          "invalid UTF-8 named by its text: %s", rnn_error());
    texts[300][0] = 0;
    float pe[3];
    const int ke = rnn_classify(m, "", pe, 3);
    CHECK(rnn_classify_batch(m, (const char *const *)texts, N, best, probs) == 0 && best[300] == ke && ke >= 0 &&
              fabsf(probs[900] - pe[0]) < 1e-6f && fabsf(probs[901] - pe[1]) < 1e-6f && fabsf(probs[902] - pe[2]) < 1e-6f,
          "an empty text reads as one filler token, in a batch as alone (%d, %d; %g %g)", best[300], ke, probs[900], pe[0]);
    const char *with_null[2] = {"a fine film", NULL};
    CHECK(rnn_classify_batch(m, with_null, 2, b1, NULL) == -1 && strstr(rnn_error(), "text 1 is NULL"),
          "a NULL text named: %s", rnn_error());
    CHECK(rnn_classify_batch(m, with_null, -1, b1, NULL) == -1 && strstr(rnn_error(), "n_texts must be >= 0"),
          "a negative count refused");
    CHECK(rnn_classify_batch(m, with_null, 1, NULL, NULL) == -1 && strstr(rnn_error(), "best"),
          "no room for the classes refused");
    for (int i = 0; i < N; i++) free(texts[i]);
    free(texts), free(best), free(probs);
    rnn_close(m);
    rnn_t *lm = rnn_open(FIX "torch_lm.safetensors");
    if (lm) {
        CHECK(rnn_classify_batch(lm, with_null, 1, b1, NULL) == -1 && strstr(rnn_error(), "language model"),
              "a language model refused");
        rnn_close(lm);
    }
}

/* Two handles used by two threads at once (rnn.h: a handle by one thread at
 * a time), each classifying its own texts in batches: each gets what it gets
 * alone. Their texts' lengths run in opposite orders, so that one sorted by
 * the other's lengths would pack its batches wrong; short texts and many
 * rounds, so that the sorts of the two often meet (a sort order shared by
 * the threads crashed this test every run). */
enum { RACE_TEXTS = 256, RACE_ROUNDS = 600 };
typedef struct {
    rnn_t *m;
    char *texts[RACE_TEXTS];
    float want[3 * RACE_TEXTS];
    int bad; /* rounds that differed from want, or failed */
} race_job;

static void *classify_rounds(void *arg) {
    race_job *j = arg;
    float *got = malloc(sizeof(float) * 3 * RACE_TEXTS);
    int best[RACE_TEXTS];
    for (int r = 0; got && r < RACE_ROUNDS; r++) {
        int differs = rnn_classify_batch(j->m, (const char *const *)j->texts, RACE_TEXTS, best, got) != 0;
        for (int i = 0; i < 3 * RACE_TEXTS && !differs; i++) differs = fabsf(got[i] - j->want[i]) > 1e-5f;
        j->bad += differs;
    }
    free(got);
    return NULL;
}

static void test_classify_batch_threads(void) {
    race_job *j = calloc(2, sizeof *j);
    int ok = j != NULL;
    for (int k = 0; k < 2 && ok; k++) {
        ok = (j[k].m = rnn_open(FIX "torch_cls.safetensors")) != NULL;
        for (int i = 0; i < RACE_TEXTS && ok; i++) {
            const int len = k ? 8 - i % 8 : 1 + i % 8;
            ok = (j[k].texts[i] = malloc((size_t)len + 1)) != NULL;
            for (int c = 0; ok && c < len; c++) j[k].texts[i][c] = "a fine film, dull plot!"[(i + 7 * c + k) % 23];
            if (ok) j[k].texts[i][len] = 0;
        }
        int best[RACE_TEXTS];
        ok = ok && rnn_classify_batch(j[k].m, (const char *const *)j[k].texts, RACE_TEXTS, best, j[k].want) == 0;
    }
    CHECK(ok, "setup: %s", rnn_error());
    pthread_t th[2];
    int started = 0;
    rnn_threads(1); /* each thread on its own core, its OpenMP work not waiting for the other's */
    for (; ok && started < 2; started++)
        if (pthread_create(&th[started], NULL, classify_rounds, &j[started]) != 0) break;
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    rnn_threads(0);
    CHECK(started == 2 && j[0].bad == 0 && j[1].bad == 0,
          "two threads classify at once as each alone: %d and %d of %d rounds differ", j ? j[0].bad : -1,
          j ? j[1].bad : -1, RACE_ROUNDS);
    for (int k = 0; j && k < 2; k++) {
        for (int i = 0; i < RACE_TEXTS; i++) free(j[k].texts[i]);
        rnn_close(j[k].m);
    }
    free(j);
}

/* A classifier whose config says max_len reads a text by that many tokens,
 * its first or last (the fixture's char tokenizer: a token per character). */
static void test_classify_cuts(void) {
    rnn_checkpoint ck;
    if (rnn_checkpoint_load(&ck, FIX "torch_cls.safetensors")) {
        CHECK(0, "load: %s", rnn_last_error());
        return;
    }
    char path[2][64];
    int ok = 1;
    for (int tail = 0; tail < 2 && ok; tail++) {
        snprintf(path[tail], sizeof path[tail], "/tmp/rnn_test_cut%d_%d.safetensors", tail, (int)getpid());
        ck.model->c.max_len = 4;
        ck.model->c.truncate_tail = tail;
        ok = !rnn_checkpoint_save(path[tail], ck.model, ck.tok, ck.labels, ck.n_labels, ck.label_base, NULL, NULL, 0, NULL, 0);
    }
    rnn_checkpoint_free(&ck);
    rnn_t *whole = rnn_open(FIX "torch_cls.safetensors"), *head = ok ? rnn_open(path[0]) : NULL,
          *tail = ok ? rnn_open(path[1]) : NULL;
    CHECK(whole && head && tail, "open: %s", rnn_error());
    if (whole && head && tail) {
        float a[3], b[3], c[3];
        rnn_classify(head, "a fine film", a, 3);
        rnn_classify(whole, "a fi", b, 3);
        CHECK(!memcmp(a, b, sizeof a), "max_len 4, head: \"a fine film\" read as \"a fi\"");
        rnn_classify(tail, "a fine film", a, 3);
        rnn_classify(whole, "film", b, 3);
        rnn_classify(whole, "a fine film", c, 3);
        CHECK(!memcmp(a, b, sizeof a) && memcmp(a, c, sizeof a), "max_len 4, tail: read as \"film\", not whole");
        rnn_classify(tail, "abc", a, 3);
        rnn_classify(whole, "abc", b, 3);
        CHECK(!memcmp(a, b, sizeof a), "a text within max_len is read whole");
        /* rnn_set max-len 0 then N on a tail model: its last N, as rnn classify --max-len N reads
         * (max-len 0 reads whole texts; it does not forget the side a later cut keeps) */
        CHECK(rnn_set(tail, "max-len", "0") == 0 && rnn_set(tail, "max-len", "3") == 0, "max-len 0, 3: %s",
              rnn_error());
        rnn_classify(tail, "a fine film", a, 3);
        rnn_classify(whole, "ilm", b, 3);
        rnn_classify(whole, "a f", c, 3);
        CHECK(!memcmp(a, b, sizeof a) && memcmp(a, c, sizeof a),
              "rnn_set max-len 0 then 3 on a tail model: read as \"ilm\" (its last 3), not \"a f\"");
    }
    rnn_close(whole), rnn_close(head), rnn_close(tail);
    for (int i = 0; i < 2; i++) unlink(path[i]);
}

/* emit for rnn_sampler_text: the text, appended to a string of 64 KB. */
static int append_text(const char *bytes, size_t n, void *user) {
    char *buf = user;
    const size_t have = strlen(buf);
    if (have + n < 65536) memcpy(buf + have, bytes, n), buf[have + n] = 0;
    return 0;
}

/* rnn_set: each setting against what it stands for, and its refusals. */
static void test_settings(void) {
    rnn_t *cls = rnn_open(FIX "torch_cls.safetensors"), *whole = rnn_open(FIX "torch_cls.safetensors");
    rnn_t *lm = rnn_open(FIX "torch_lm.safetensors");
    CHECK(cls && whole && lm, "open: %s", rnn_error());
    if (!cls || !whole || !lm) goto done;
    /* a classifier's cut: as a text cut by hand reads */
    float a[3], b[3];
    CHECK(rnn_set(cls, "truncate", "tail") == -1 && strstr(rnn_error(), "rnn_set: truncate tail") &&
              strstr(rnn_error(), "max-len"),
          "truncate before max-len: %s", rnn_error());
    CHECK(rnn_set(cls, "max-len", "4") == 0, "max-len 4: %s", rnn_error());
    rnn_classify(cls, "a fine film", a, 3), rnn_classify(whole, "a fi", b, 3);
    CHECK(!memcmp(a, b, sizeof a), "max-len 4: \"a fine film\" read as \"a fi\"");
    CHECK(rnn_set(cls, "truncate", "tail") == 0, "truncate tail: %s", rnn_error());
    rnn_classify(cls, "a fine film", a, 3), rnn_classify(whole, "film", b, 3);
    CHECK(!memcmp(a, b, sizeof a), "truncate tail: read as \"film\"");
    const char *texts[2] = {"a fine film", "dull and long."}, *cut[2] = {"film", "ong."};
    int best[2], want_best[2];
    float pb[6], pw[6];
    CHECK(rnn_classify_batch(cls, texts, 2, best, pb) == 0 && rnn_classify_batch(whole, cut, 2, want_best, pw) == 0 &&
              harness_max_rel_err(pb, pw, 6, 1e-3) < 1e-5 && best[0] == want_best[0] && best[1] == want_best[1],
          "rnn_classify_batch cuts so too");
    CHECK(rnn_set(cls, "max-len", "0") == 0, "max-len 0: %s", rnn_error());
    rnn_classify(cls, "a fine film", a, 3), rnn_classify(whole, "a fine film", b, 3);
    CHECK(!memcmp(a, b, sizeof a), "max-len 0: whole texts again");
    static const char *const bad_len[] = {"-1", "abc", "4x", "", "2000000000"};
    for (int i = 0; i < 5; i++)
        CHECK(rnn_set(cls, "max-len", bad_len[i]) == -1 && strstr(rnn_error(), "rnn_set: max-len: expected"),
              "max-len \"%s\" refused: %s", bad_len[i], rnn_error());
    CHECK(rnn_set(cls, "max-len", "4") == 0 && rnn_set(cls, "truncate", "middle") == -1 &&
              strstr(rnn_error(), "head or tail"),
          "truncate middle refused: %s", rnn_error());
    CHECK(rnn_set(cls, "no-unk", NULL) == -1 && strstr(rnn_error(), "no-unk is for language models"),
          "no-unk on a classifier: %s", rnn_error());
    CHECK(rnn_set(lm, "max-len", "3") == -1 && strstr(rnn_error(), "max-len is for classifiers"),
          "max-len on a language model: %s", rnn_error());
    CHECK(rnn_set(lm, "--no-unk", NULL) == -1 && strstr(rnn_error(), "unknown setting \"--no-unk\""),
          "an unknown name: %s", rnn_error());
    CHECK(rnn_set(lm, "precision", "fp16") == -1 && strstr(rnn_error(), "rnn_set: precision"),
          "precision fp16: %s", rnn_error());
    CHECK(rnn_set(lm, "recase", NULL) == -1 && strstr(rnn_error(), "recase is for a model whose tokenizer lowercases"),
          "recase on a tokenizer that keeps case: %s", rnn_error());
    CHECK(rnn_set(lm, "no-unk", "maybe") == -1 && rnn_set(lm, "precision", NULL) == -1 &&
              rnn_set(NULL, "no-unk", NULL) == -1 && rnn_set(lm, NULL, NULL) == -1,
          "bad values, no handle, no name: refused");
    /* no-unk: near-uniform draws (temperature 100) write the char model's
     * <unk>, U+FFFD, often; never with it set; again when cleared */
    char *plain = rnn_generate(lm, "O", 3000, 100.0f, 0, 1.0f, 5);
    CHECK(rnn_set(lm, "no-unk", NULL) == 0, "no-unk: %s", rnn_error());
    char *none = rnn_generate(lm, "O", 3000, 100.0f, 0, 1.0f, 5);
    CHECK(rnn_set(lm, "no-unk", "false") == 0, "no-unk false: %s", rnn_error());
    char *again = rnn_generate(lm, "O", 3000, 100.0f, 0, 1.0f, 5);
    CHECK(plain && none && again && strstr(plain, "\xef\xbf\xbd") && !strstr(none, "\xef\xbf\xbd") &&
              !strcmp(plain, again),
          "no-unk: no U+FFFD in 3000 draws (%d without it), the same text as before once cleared",
          plain && strstr(plain, "\xef\xbf\xbd") != NULL);
    /* a classifier's precision bf16: rnn_classify(_batch)'s products in bf16
     * where the CPU has them (near fp32's, not their bits), refused
     * where it has not; fp32 again gives fp32's bits */
    {
        float f32[3], f16[3], again[3], bf32[6], bf16b[6];
        int b32[2], b16[2];
        rnn_classify(whole, "a fine film", f32, 3);
        rnn_classify_batch(whole, texts, 2, b32, bf32);
        const int r = rnn_set(whole, "precision", "bf16");
        if (rnn_gemm_bf16_available()) {
            CHECK(r == 0, "a classifier's precision bf16: %s", rnn_error());
            rnn_classify(whole, "a fine film", f16, 3);
            rnn_classify_batch(whole, texts, 2, b16, bf16b);
            /* (bf16 keeps 8 bits of each input: probabilities move by up to ~1e-3) */
            const double e1 = harness_max_rel_err(f16, f32, 3, 1.0), e2 = harness_max_rel_err(bf16b, bf32, 6, 1.0);
            CHECK(e1 < 5e-3 && e2 < 5e-3 && memcmp(f16, f32, sizeof f16) && memcmp(bf16b, bf32, sizeof bf16b) &&
                      b16[0] == b32[0] && b16[1] == b32[1],
                  "a classifier in bf16: within 5e-3 of fp32 (%.2e, batch %.2e), not its bits", e1, e2);
        } else {
            CHECK(r == -1 && strstr(rnn_error(), "rnn_set: precision: bf16 products need"), "bf16 refused without it: %s",
                  rnn_error());
        }
        CHECK(rnn_set(whole, "precision", "fp32") == 0, "a classifier's precision fp32: %s", rnn_error());
        rnn_classify(whole, "a fine film", again, 3);
        CHECK(!memcmp(again, f32, sizeof again), "a classifier in fp32 again: fp32's bits");
        CHECK(rnn_set(whole, "precision", "fp16") == -1 && rnn_set(whole, "precision", NULL) == -1,
              "a classifier's precision fp16 or none: refused");
    }
    /* precision bf16: the text of a sampler with bf16 weights; fp32 again after */
    char *fp32 = rnn_generate(lm, "O", 3000, 1.0f, 0, 1.0f, 9);
    CHECK(rnn_set(lm, "precision", "bf16") == 0, "precision bf16: %s", rnn_error());
    char *bf16 = rnn_generate(lm, "O", 3000, 1.0f, 0, 1.0f, 9);
    rnn_checkpoint ck;
    char *want = calloc(1, 65536);
    if (want && !rnn_checkpoint_load(&ck, FIX "torch_lm.safetensors")) {
        rnn_sampler *sm = rnn_sampler_create_ex(ck.model, ck.tok, 9, RNN_BF16);
        rnn_sample_opts o = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f};
        if (sm && rnn_sampler_prime(sm, "O", 1, NULL) >= 0) {
            strcpy(want, "O");
            rnn_sampler_text(sm, &o, 3000, "O", 1, NULL, 0, append_text, want);
        }
        rnn_sampler_free(sm);
        rnn_checkpoint_free(&ck);
    }
    CHECK(bf16 && want && !strcmp(bf16, want), "precision bf16: a bf16 sampler's text ('%s' against '%s')",
          bf16 ? bf16 : "", want ? want : "");
    CHECK(bf16 && fp32 && strcmp(bf16, fp32), "precision bf16: not the fp32 text (they part within 3000 draws here)");
    CHECK(rnn_set(lm, "precision", "fp32") == 0, "precision fp32: %s", rnn_error());
    char *fp32_again = rnn_generate(lm, "O", 3000, 1.0f, 0, 1.0f, 9);
    CHECK(fp32 && fp32_again && !strcmp(fp32, fp32_again), "precision fp32 again: the fp32 text");
    free(plain), free(none), free(again), free(fp32), free(bf16), free(fp32_again), free(want);
    /* min-p, repeat-penalty, repeat-last: the text of a sampler given them
     * (the handle's defaults: 0, 1, 64); the plain text again once reset */
    CHECK(rnn_set(lm, "min-p", "0.05") == 0 && rnn_set(lm, "repeat-penalty", "1.3") == 0 &&
              rnn_set(lm, "repeat-last", "32") == 0,
          "min-p, repeat-penalty, repeat-last: %s", rnn_error());
    char *tuned = rnn_generate(lm, "O", 2000, 1.0f, 0, 1.0f, 9);
    want = calloc(1, 65536);
    if (want && !rnn_checkpoint_load(&ck, FIX "torch_lm.safetensors")) {
        rnn_sampler *sm = rnn_sampler_create(ck.model, ck.tok, 9);
        rnn_sample_opts o = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.05f, .repeat_penalty = 1.3f,
                             .repeat_last = 32};
        if (sm && rnn_sampler_prime(sm, "O", 1, NULL) >= 0) {
            strcpy(want, "O");
            rnn_sampler_text(sm, &o, 2000, "O", 1, NULL, 0, append_text, want);
        }
        rnn_sampler_free(sm);
        rnn_checkpoint_free(&ck);
    }
    CHECK(tuned && want && !strcmp(tuned, want), "min-p 0.05, repeat-penalty 1.3 over 32: the sampler's text");
    CHECK(rnn_set(lm, "min-p", "0") == 0 && rnn_set(lm, "repeat-penalty", "1") == 0, "off again: %s", rnn_error());
    char *plain_again = rnn_generate(lm, "O", 2000, 1.0f, 0, 1.0f, 9);
    CHECK(plain_again && tuned && strcmp(plain_again, tuned), "off again: not the tuned text");
    free(tuned), free(want), free(plain_again);
    static const char *const bad_gen[][2] = {{"min-p", "-0.1"}, {"min-p", "1.5"}, {"min-p", "x"},
                                             {"repeat-penalty", "0"}, {"repeat-penalty", "-2"},
                                             {"repeat-penalty", "101"}, {"repeat-penalty", "0.009"},
                                             {"repeat-last", "-1"}, {"repeat-last", "65537"}, {"repeat-last", "2.5"},
                                             {"repeat-last", NULL}};
    for (int i = 0; i < 11; i++)
        CHECK(rnn_set(lm, bad_gen[i][0], bad_gen[i][1]) == -1 && strstr(rnn_error(), bad_gen[i][0]),
              "%s \"%s\" refused: %s", bad_gen[i][0], bad_gen[i][1] ? bad_gen[i][1] : "(NULL)", rnn_error());
    CHECK(rnn_set(cls, "repeat-penalty", "1.2") == -1 && strstr(rnn_error(), "repeat-penalty is for language models"),
          "repeat-penalty on a classifier: %s", rnn_error());
    /* recase: the text rnn_recase makes of the plain one (the fixture's
     * tokenizer, marked lowercasing, saved and opened again) */
    char low[64];
    snprintf(low, sizeof low, "/tmp/rnn_test_lower_%d.safetensors", (int)getpid());
    rnn_t *lo = NULL;
    if (!rnn_checkpoint_load(&ck, FIX "torch_lm.safetensors")) {
        ((rnn_tok_options *)rnn_tokenizer_options(ck.tok))->lowercase = 1;
        if (!rnn_checkpoint_save(low, ck.model, ck.tok, ck.labels, ck.n_labels, ck.label_base, NULL, NULL, 0, NULL, 0))
            lo = rnn_open(low);
        rnn_checkpoint_free(&ck);
    }
    CHECK(lo, "a lowercasing copy: %s", rnn_error());
    if (lo) {
        char *pl = rnn_generate(lo, "so i. ", 300, 1.0f, 0, 1.0f, 11);
        CHECK(rnn_set(lo, "recase", NULL) == 0, "recase: %s", rnn_error());
        char *rc = rnn_generate(lo, "so i. ", 300, 1.0f, 0, 1.0f, 11), *exp = pl ? calloc(1, strlen(pl) + 2) : NULL;
        if (exp) {
            rnn_recase r;
            rnn_recase_init(&r, "so i. ", 6);
            memcpy(exp, pl, 6);
            size_t w = 6 + rnn_recase_put(&r, pl + 6, strlen(pl) - 6, exp + 6);
            exp[w + rnn_recase_end(&r, exp + w)] = 0;
        }
        CHECK(pl && rc && exp && !strcmp(rc, exp) && strcmp(rc, pl), "recase: rnn_recase's text of the plain one ('%s')",
              rc ? rc : "");
        free(pl), free(rc), free(exp);
    }
    rnn_close(lo);
    unlink(low);
done:
    rnn_close(cls), rnn_close(whole), rnn_close(lm);
}

/* rnn_generate_stream's pieces, gathered; stop_at > 0 stops after that many. */
typedef struct {
    char text[4096];
    size_t n;
    int pieces, stop_at;
} stream_rec;

static int stream_collect(const char *text, size_t len, void *user) {
    stream_rec *r = user;
    if (r->n + len <= sizeof r->text) memcpy(r->text + r->n, text, len);
    r->n += len;
    return ++r->pieces == r->stop_at;
}

/* An emit that generates on the same handle as its piece comes: the handle's
 * sampler is busy then, and the inner call must not disturb it. */
typedef struct {
    rnn_t *m;
    stream_rec rec;
    int inner_ok;
} nested_gen;

static int emit_nested(const char *text, size_t len, void *user) {
    nested_gen *g = user;
    char *inner = rnn_generate(g->m, "O", 10, 0.9f, 5, 0.9f, 3);
    g->inner_ok += inner != NULL;
    free(inner);
    return stream_collect(text, len, &g->rec);
}

/* A generation that waits inside its emit until the main thread has tried
 * the same handle. */
typedef struct {
    rnn_t *m;
    atomic_int inside, tried;
    int rc;
} hold_job;

static int emit_and_hold(const char *text, size_t len, void *user) {
    (void)text, (void)len;
    hold_job *j = user;
    if (!atomic_exchange(&j->inside, 1))
        for (int k = 0; !atomic_load(&j->tried) && k < 20000; k++) nanosleep(&(struct timespec){0, 500000}, NULL);
    return 0;
}

static void *generate_holding(void *arg) {
    hold_job *j = arg;
    j->rc = rnn_generate_stream(j->m, "O", 1, 5, 0.0f, 0, 1.0f, 1, NULL, 0, emit_and_hold, j);
    return NULL;
}

static void test_handle_one_thread_at_a_time(void) {
    rnn_t *m = rnn_open(FIX "torch_lm.safetensors");
    CHECK(m, "open: %s", rnn_error());
    if (!m) return;
    hold_job j = {.m = m, .rc = -2};
    pthread_t th;
    const int started = pthread_create(&th, NULL, generate_holding, &j) == 0;
    for (int k = 0; started && !atomic_load(&j.inside) && k < 20000; k++) nanosleep(&(struct timespec){0, 500000}, NULL);
    double loss;
    const int scored = rnn_score(m, "O Romeo", 7, &loss, NULL);
    char msg[400];
    snprintf(msg, sizeof msg, "%s", rnn_error());
    const char *about = rnn_describe(m);
    atomic_store(&j.tried, 1);
    if (started) pthread_join(th, NULL);
    CHECK(started && atomic_load(&j.inside) && scored == -1 &&
              strstr(msg, "rnn_score: the handle is in use by another thread's call") && !about &&
              strstr(rnn_error(), "rnn_describe: the handle is in use"),
          "a call on a handle another thread's call holds is refused: %s", msg);
    CHECK(j.rc == 0 && rnn_score(m, "O Romeo", 7, &loss, NULL) == 0 && rnn_describe(m),
          "... and the handle serves again once that call returns (%d): %s", j.rc, rnn_error());
    rnn_close(m);
}

static void test_generate_matches_pytorch(void) {
    rnn_t *m = rnn_open(FIX "torch_lm.safetensors");
    CHECK(m, "open: %s", rnn_error());
    if (!m) return;
    rnn_st *st = rnn_st_load(FIX "torch_lm.safetensors");
    const char *prime = rnn_st_meta(st, "test.prime"), *want = rnn_st_meta(st, "test.greedy");
    char *got = rnn_generate(m, prime, 60, 0.0f, 0, 1.0f, 1);
    CHECK(got && !strcmp(got, want), "greedy text: got '%s' want '%s'", got ? got : "(null)", want);
    free(got);
    char bom_prime[64];
    snprintf(bom_prime, sizeof bom_prime, "\xef\xbb\xbf%s", prime ? prime : "");
    got = rnn_generate(m, bom_prime, 60, 0.0f, 0, 1.0f, 1);
    CHECK(got && !strcmp(got, want), "a byte order mark before the prime is no text: got '%s'", got ? got : "(null)");
    free(got);
    char *a = rnn_generate(m, "O", 40, 0.9f, 5, 0.9f, 7), *b = rnn_generate(m, "O", 40, 0.9f, 5, 0.9f, 7);
    CHECK(a && b && !strcmp(a, b), "same seed, same sample");
    /* The handle keeps its sampler between calls: each starts as a fresh
     * handle's would, after a failed call too, and a call made inside
     * another's emit leaves it alone. */
    CHECK(!rnn_generate(m, "caf\xc3", 5, 1, 0, 1, 1), "a failing prime");
    rnn_t *fresh = rnn_open(FIX "torch_lm.safetensors");
    char *c = rnn_generate(m, "O", 40, 0.9f, 5, 0.9f, 7), *d = fresh ? rnn_generate(fresh, "O", 40, 0.9f, 5, 0.9f, 7) : NULL;
    CHECK(a && c && d && !strcmp(a, c) && !strcmp(c, d), "a used handle samples as a fresh one: '%s' '%s'", c ? c : "",
          d ? d : "");
    nested_gen g = {.m = m};
    CHECK(rnn_generate_stream(m, "O", 1, 40, 0.9f, 5, 0.9f, 7, NULL, 0, emit_nested, &g) == 0 && a &&
              g.rec.n == strlen(a) && !memcmp(g.rec.text, a, g.rec.n) && g.inner_ok == g.rec.pieces,
          "generation inside emit on the same handle leaves the outer one's text as it is (%d inner of %d)",
          g.inner_ok, g.rec.pieces);
    free(c), free(d);
    rnn_close(fresh);
    free(a), free(b);
    /* rnn_score: the fixture's text, against PyTorch's loss over it */
    const char *text = rnn_st_meta(st, "test.text"), *want_loss = rnn_st_meta(st, "test.loss");
    double loss = -1, wl = want_loss ? atof(want_loss) : 0;
    long count = -1;
    CHECK(text && rnn_score(m, text, strlen(text), &loss, &count) == 0 && fabs(loss - wl) < 1e-4 * wl &&
              count == (long)strlen(text) - 1,
          "rnn_score matches PyTorch: %.6f vs %.6f over %ld tokens (%s)", loss, wl, count, rnn_error());
    CHECK(rnn_score(m, "O", 1, &loss, NULL) == -1 && strstr(rnn_error(), "rnn_score: the text has 1 token;"),
          "one token is too few to score: %s", rnn_error());
    CHECK(rnn_score(m, "caf\xc3", 4, &loss, NULL) == -1 && strstr(rnn_error(), "rnn_score: the text: ") &&
              strstr(rnn_error(), "UTF-8"),
          "invalid UTF-8 is named: %s", rnn_error());
    CHECK(rnn_score(m, "ab", 2, NULL, NULL) == -1 && strstr(rnn_error(), "place for the loss"), "no loss pointer");
    CHECK(rnn_score(m, "\xef\xbb\xbf" "caf\xc3 x", 10, &loss, NULL) == -1 && strstr(rnn_error(), "at byte offset 6"),
          "a bad byte after a byte order mark is named where the text has it: %s", rnn_error());
    /* Texts of several lengths, as rnn_lm_evaluate (rnn eval) scores them. */
    {
        rnn_checkpoint ck;
        char longtext[700];
        for (size_t i = 0; i < sizeof longtext - 1; i++) longtext[i] = "O Romeo, wherefore art thou? "[i % 29];
        longtext[sizeof longtext - 1] = 0;
        const size_t lens[] = {12, 257, 258, 699};
        if (rnn_checkpoint_load(&ck, FIX "torch_lm.safetensors") == 0) {
            for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
                int32_t *ids = NULL;
                size_t nid = 0;
                rnn_lm_eval ev = {0};
                const int ok = rnn_tokenizer_encode(ck.tok, longtext, lens[k], &ids, &nid, NULL) == 0 &&
                               rnn_lm_evaluate(ck.model, ids, nid, 1, 4096, &ev) == 0 &&
                               rnn_score(m, longtext, lens[k], &loss, &count) == 0;
                CHECK(ok && count == ev.count && fabs(loss - ev.loss) < 1e-6 * ev.loss,
                      "rnn_score on %zu bytes as rnn eval: %.9f vs %.9f (%ld, %ld)", lens[k], loss, ev.loss, count,
                      ev.count);
                free(ids);
            }
            rnn_checkpoint_free(&ck);
        }
    }
    rnn_st_free(st);
    CHECK(rnn_classify(m, "x", NULL, 0) == -1, "classify on a language model is an error");
    CHECK(rnn_num_classes(m) == 0 && strstr(rnn_error(), "language model"), "an LM has no classes: %s", rnn_error());
    CHECK(rnn_label(m, 0) == NULL && strstr(rnn_error(), "language model"), "nor labels: %s", rnn_error());
    CHECK(!rnn_generate(m, "caf\xc3", 5, 1, 0, 1, 1) && strstr(rnn_error(), "rnn_generate: the prime: ") &&
              strstr(rnn_error(), "UTF-8"),
          "a bad prime is named as the prime: %s", rnn_error());
    /* Arguments out of rnn sample's ranges are errors, not a silently odd sample. */
    const struct {
        int length, top_k;
        float temperature, top_p;
        const char *want;
    } bad[] = {{-1, 0, 1, 1, "length"},       {5, 0, NAN, 1, "temperature"}, {5, 0, -0.5f, 1, "temperature"},
               {5, 0, 1e9f, 1, "temperature"}, {5, -3, 1, 1, "top_k"},        {5, 0, 1, 0, "top_p"},
               {5, 0, 1, 1.5f, "top_p"},      {5, 0, 1, NAN, "top_p"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *g = rnn_generate(m, "O", bad[i].length, bad[i].temperature, bad[i].top_k, bad[i].top_p, 1);
        CHECK(!g && strstr(rnn_error(), "rnn_generate: ") && strstr(rnn_error(), bad[i].want),
              "rnn_generate case %zu refused naming %s: %s", i, bad[i].want, rnn_error());
        free(g);
    }
    /* _ex: the length, a stop string, and a prime with a length */
    size_t glen = 0;
    char *full = rnn_generate_ex(m, "O", 1, 60, 0.0f, 0, 1.0f, 1, NULL, 0, &glen);
    CHECK(full && glen == strlen(full) && glen > 10, "rnn_generate_ex: length %zu", glen);
    if (full && glen > 10) {
        /* stop at the greedy text's own bytes 5..7: the text ends there */
        char stop[4];
        memcpy(stop, full + 5, 3), stop[3] = 0;
        const char *first = strstr(full + 1, stop); /* where those 3 bytes first end, after the prime */
        size_t want_len = first ? (size_t)(first - full) + 3 : 0, slen = 0;
        char *st = rnn_generate_ex(m, "O", 1, 60, 0.0f, 0, 1.0f, 1, stop, 3, &slen);
        CHECK(st && slen == want_len && !strncmp(st, full, slen) && st[slen] == 0,
              "stop '%s': '%s' is the greedy text up to its first end (%zu bytes)", stop, st ? st : "", want_len);
        free(st);
    }
    free(full);
    CHECK(!rnn_generate_ex(m, NULL, 3, 5, 1, 0, 1, 1, NULL, 0, NULL) && strstr(rnn_error(), "prime is NULL"),
          "a NULL prime with a length is refused");
    /* rnn_generate_ex's messages name rnn_generate_ex, as rnn.h says messages name the call
     * (they said "rnn_generate: ...", a function the host never called) */
    CHECK(!strncmp(rnn_error(), "rnn_generate_ex: prime is NULL", 30), "named as rnn_generate_ex: %s", rnn_error());
    CHECK(!rnn_generate_ex(m, "caf\xc3", 4, 5, 1, 0, 1, 1, NULL, 0, NULL) &&
              !strncmp(rnn_error(), "rnn_generate_ex: the prime: ", 28) && strstr(rnn_error(), "UTF-8"),
          "a bad prime given to rnn_generate_ex: %s", rnn_error());
    CHECK(!rnn_generate_ex(m, "O", 1, 5, 1, 0, 2.0f, 1, NULL, 0, NULL) &&
              !strcmp(rnn_error(), "rnn_generate_ex: top_p must be in (0, 1] (1: off)"),
          "a bad top_p given to rnn_generate_ex: %s", rnn_error());
    /* A stop string the model's text can never hold (invalid UTF-8, a NUL byte) is refused, as
     * rnn sample --stop refuses it: it ran all `length` tokens without a word. */
    {
        size_t slen = 12345;
        char *s1 = rnn_generate_ex(m, "O", 1, 200, 1.0f, 0, 1.0f, 3, "\xff", 1, &slen);
        CHECK(!s1 && slen == 12345 &&
                  !strcmp(rnn_error(), "rnn_generate_ex: the stop string, which this model's text never holds: "
                                       "input has invalid UTF-8 at byte offset 0"),
              "a stop string of invalid UTF-8 is refused: %s", s1 ? "(a text)" : rnn_error());
        free(s1);
        char *s2 = rnn_generate_ex(m, "O", 1, 200, 1.0f, 0, 1.0f, 3, "e\0", 2, NULL);
        CHECK(!s2 && strstr(rnn_error(), "rnn_generate_ex: the stop string") &&
                  strstr(rnn_error(), "a NUL byte at byte offset 1"),
              "a stop string with a NUL byte is refused: %s", s2 ? "(a text)" : rnn_error());
        free(s2);
        stream_rec q = {{0}, 0, 0, -1};
        CHECK(rnn_generate_stream(m, "O", 1, 200, 1.0f, 0, 1.0f, 3, "caf\xc3", 4, stream_collect, &q) == -1 &&
                  q.pieces == 0 && !strncmp(rnn_error(), "rnn_generate_stream: the stop string", 36),
              "... by rnn_generate_stream too, before any text (%d pieces): %s", q.pieces, rnn_error());
        char *s3 = rnn_generate_ex(m, "O", 1, 20, 1.0f, 0, 1.0f, 3, "\xc3\xa9", 2, &slen);
        CHECK(s3 && slen > 1, "a valid UTF-8 stop still generates: %s", s3 ? "" : rnn_error());
        free(s3);
    }
    /* rnn_generate_stream: the same text in pieces (prime first), and an emit that stops */
    {
        size_t elen = 0;
        char *ex = rnn_generate_ex(m, "O", 1, 40, 0.8f, 5, 0.9f, 7, NULL, 0, &elen);
        stream_rec r = {{0}, 0, 0, -1};
        CHECK(rnn_generate_stream(m, "O", 1, 40, 0.8f, 5, 0.9f, 7, NULL, 0, stream_collect, &r) == 0 && ex &&
                  r.n == elen && !memcmp(r.text, ex, elen) && r.pieces == 41,
              "rnn_generate_stream: the prime and 40 pieces, rnn_generate_ex's text (%zu of %zu bytes, %d pieces)",
              r.n, elen, r.pieces);
        stream_rec q = {{0}, 0, 0, 3}; /* stops after its 3rd piece: the prime and 2 tokens */
        CHECK(rnn_generate_stream(m, "O", 1, 40, 0.8f, 5, 0.9f, 7, NULL, 0, stream_collect, &q) == 0 && ex &&
                  q.pieces == 3 && q.n < elen && !memcmp(q.text, ex, q.n),
              "an emit that returns non-zero stops the text there (%d pieces, %zu bytes)", q.pieces, q.n);
        free(ex);
        CHECK(rnn_generate_stream(m, "O", 1, 5, 1, 0, 1, 1, NULL, 0, NULL, NULL) == -1 &&
                  !strcmp(rnn_error(), "rnn_generate_stream: no emit callback"),
              "no emit: %s", rnn_error());
        CHECK(rnn_generate_stream(m, "O", 1, -1, 1, 0, 1, 1, NULL, 0, stream_collect, &q) == -1 &&
                  !strcmp(rnn_error(), "rnn_generate_stream: length must be >= 0"),
              "its range errors name it: %s", rnn_error());
    }
    char *z = rnn_generate(m, NULL, 0, 0.0f, 0, 1.0f, 1);
    CHECK(z && !strcmp(z, ""), "no prime, length 0: the empty string");
    free(z);
    rnn_close(m);
    /* The NULL of a failed rnn_open fails cleanly everywhere. */
    CHECK(rnn_open(NULL) == NULL && strstr(rnn_error(), "no checkpoint path"), "rnn_open(NULL)");
    CHECK(rnn_open("") == NULL && strstr(rnn_error(), "rnn_open: no checkpoint path"), "rnn_open(\"\"): %s",
          rnn_error()); /* (it said ": cannot open: No such file or directory") */
    /* every failure names the function first, the file's own too (rnn.h) */
    CHECK(rnn_open("/nonexistent/x.safetensors") == NULL &&
              !strncmp(rnn_error(), "rnn_open: /nonexistent/x.safetensors: cannot open", 49),
          "rnn_open of a missing file: %s", rnn_error());
    CHECK(rnn_classify(NULL, "x", NULL, 0) == -1 && strstr(rnn_error(), "no model"), "rnn_classify(NULL model)");
    CHECK(rnn_generate(NULL, "x", 5, 1, 0, 1, 1) == NULL && strstr(rnn_error(), "no model"), "rnn_generate(NULL)");
    CHECK(rnn_score(NULL, "xy", 2, &loss, NULL) == -1 && strstr(rnn_error(), "rnn_score: no model"), "rnn_score(NULL)");
    CHECK(rnn_get_task(NULL) == NULL && strstr(rnn_error(), "rnn_get_task: no model"), "rnn_get_task(NULL)");
    CHECK(rnn_num_classes(NULL) == 0 && strstr(rnn_error(), "rnn_num_classes: no model"), "rnn_num_classes(NULL)");
    CHECK(rnn_label(NULL, 0) == NULL && strstr(rnn_error(), "rnn_label: no model"), "rnn_label(NULL)");
    CHECK(rnn_open(FIX "nonexistent.safetensors") == NULL && strstr(rnn_error(), "nonexistent"),
          "missing file error names it");
}

/* Padding changes nothing: logits of each text alone equal its row in a
 * packed batch, for every pooling and both directions. */
static void test_padded_equals_alone(void) {
    for (int pk = 0; pk <= RNN_POOL_ATTENTION; pk++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_CLASSIFY);
        c.vocab_size = 11, c.embed_dim = 5, c.hidden_dim = 6, c.num_layers = 2, c.bidirectional = 1;
        c.pool = (rnn_pool)pk, c.num_classes = 3, c.attention_dim = 4, c.padding_id = 0;
        rnn_model *m = rnn_model_create(&c);
        rnn_model_init(m, 5);
        int lengths[3] = {7, 4, 2};
        int32_t seqs[3][7] = {{3, 4, 5, 6, 7, 8, 9}, {2, 9, 1, 4}, {10, 3}};
        rnn_acts *a = rnn_acts_create(m, 7, 3);
        rnn_pack p;
        rnn_pack_init(&p, 7, 3, lengths, a->batch_sizes, a->offsets);
        int32_t ids[21];
        for (int t = 0; t < 7; t++)
            for (int b = 0; b < p.batch_sizes[t]; b++) ids[p.offsets[t] + b] = seqs[b][t];
        rnn_model_forward(m, a, &p, ids, 0, 0, NULL);
        float batch[9];
        memcpy(batch, a->logits, sizeof batch);
        double worst = 0;
        for (int b = 0; b < 3; b++) {
            int one[1] = {lengths[b]};
            rnn_pack q;
            rnn_pack_init(&q, lengths[b], 1, one, a->batch_sizes, a->offsets);
            rnn_model_forward(m, a, &q, seqs[b], 0, 0, NULL);
            worst = fmax(worst, harness_max_rel_err(a->logits, batch + 3 * b, 3, 1e-3));
        }
        char what[64];
        snprintf(what, sizeof what, "alone == in a batch, pool %s", rnn_pool_name((rnn_pool)pk));
        printf("  %-44s max rel err %.2e\n", what, worst);
        /* Up to float reordering: a GEMM blocks a 1-row and a 3-row product differently. */
        CHECK(worst < 1e-4, "%s: %.3e", what, worst);
        rnn_acts_free(a);
        rnn_model_free(m);
    }
}

/* Inference in chunks of time steps (a bounded recurrent cache, the state
 * carried between chunks; model.c, dir_forward) gives what one pass gives:
 * every cell, one and two directions, stacks with and without residual
 * connections, layer 0 by lookup and by product, pooling that reads every
 * step or only the ends, a batch of unequal lengths and a single text, and a
 * language model started from a state. */
static float *infer_logits(const rnn_model *m, size_t chunk_bytes, int T, int B, const int *lengths,
                           const int32_t *const *seqs, const float *h0, float **hn, int *chunk) {
    rnn_acts_set_chunk_bytes(chunk_bytes);
    int N = 0;
    for (int b = 0; b < B; b++) N += lengths[b];
    rnn_acts *a = rnn_acts_create_infer(m, T, B, N);
    rnn_acts_set_chunk_bytes(0);
    if (!a) return NULL;
    *chunk = a->chunk;
    rnn_pack p;
    rnn_pack_init(&p, T, B, lengths, a->batch_sizes, a->offsets);
    /* a pass over other tokens first: nothing of it may reach the next */
    for (int t = 0; t < T; t++)
        for (int b = 0; b < p.batch_sizes[t]; b++) a->ids[p.offsets[t] + b] = (seqs[b][t] + 1) % m->c.vocab_size;
    rnn_model_forward(m, a, &p, a->ids, 0, 0, NULL);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < p.batch_sizes[t]; b++) a->ids[p.offsets[t] + b] = seqs[b][t];
    const size_t states = (size_t)m->c.num_layers * m->D * B * m->c.hidden_dim;
    if (h0) memcpy(a->h0, h0, sizeof(float) * states), memcpy(a->c0, h0, sizeof(float) * states);
    rnn_model_forward(m, a, &p, a->ids, h0 != NULL, 0, NULL);
    const size_t nl = (size_t)a->n_logit_rows * m->n_out;
    float *out = malloc(sizeof(float) * (nl + 2 * states));
    memcpy(out, a->logits, sizeof(float) * nl);
    memcpy(out + nl, a->hn, sizeof(float) * states);
    if (m->c.cell == RNN_CELL_LSTM) memcpy(out + nl + states, a->cn, sizeof(float) * states);
    else memset(out + nl + states, 0, sizeof(float) * states);
    *hn = out + nl;
    rnn_acts_free(a);
    return out;
}

static void test_chunked_equals_whole(void) {
    const rnn_cell cells[] = {RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_RNN_TANH};
    const rnn_pool pools[] = {RNN_POOL_MEANMAX, RNN_POOL_ATTENTION, RNN_POOL_LAST};
    int lens4[4] = {37, 30, 12, 5}, lens1[1] = {50}, lens3[3] = {20, 20, 20};
    int32_t seq[4][50];
    rnn_rng rng;
    rnn_rng_seed(&rng, 7);
    double worst = 0;
    int cases = 0, bad = 0, unchunked = 0;
    /* the last round in bf16 products where the build has them (a few configurations) */
    for (int bf16 = 0; bf16 < 2; bf16++)
    for (int task = 0; task < 2; task++)
    for (int ci = 0; ci < 3; ci++)
    for (int bidir = 0; bidir < 2 - task; bidir++)
    for (int layers = 1; layers <= 3; layers += 2)
    for (int big_vocab = 0; big_vocab < 2; big_vocab++)
    for (int variant = 0; variant < 3; variant++) {
        if (bf16 && (layers != 3 || big_vocab != 1 || variant != 0 || rnn_gemm_set_precision(RNN_BF16))) continue;
        rnn_config c;
        rnn_config_default(&c, task ? RNN_TASK_LM : RNN_TASK_CLASSIFY);
        c.cell = cells[ci], c.vocab_size = big_vocab ? 500 : 11, c.embed_dim = 12, c.hidden_dim = 6;
        c.num_layers = layers, c.bidirectional = bidir, c.residual = layers > 1 && variant < 2;
        c.pool = pools[variant], c.num_classes = 3, c.attention_dim = 4;
        rnn_model *m = rnn_model_create(&c);
        if (!m) { bad++; continue; }
        rnn_model_init(m, 11 + cases);
        for (int b = 0; b < 4; b++)
            for (int t = 0; t < 50; t++) seq[b][t] = (int32_t)(rnn_rng_next(&rng) % (uint64_t)c.vocab_size);
        const int32_t *seqs[4] = {seq[0], seq[1], seq[2], seq[3]};
        const int B = task ? 3 : variant == 2 ? 1 : 4, *lens = task ? lens3 : variant == 2 ? lens1 : lens4;
        const int T = lens[0];
        const size_t states = (size_t)layers * m->D * B * c.hidden_dim;
        float *h0 = NULL;
        if (task || variant != 1) { /* a language model carrying a state in, a reverse
                                     * direction whose shorter texts start from theirs in a
                                     * later chunk, and a unidirectional classifier's layers
                                     * all run a chunk before the next (stream_forward) */
            h0 = malloc(sizeof(float) * states);
            for (size_t i = 0; i < states; i++) h0[i] = 0.5f * rnn_rng_normal(&rng);
        }
        int n_rows = task ? m->n_out * B * T : m->n_out * B, ch0 = 0, ch1 = 0, ch2 = 0;
        float *hw = NULL, *h1 = NULL, *h2 = NULL;
        float *whole = infer_logits(m, (size_t)1 << 30, T, B, lens, seqs, h0, &hw, &ch0);
        float *steps = infer_logits(m, 1, T, B, lens, seqs, h0, &h1, &ch1);      /* a step or so a chunk */
        float *some = infer_logits(m, 2000, T, B, lens, seqs, h0, &h2, &ch2);    /* a few steps a chunk */
        if (!whole || !steps || !some || ch0 || !ch1 || !ch2) {
            if (ch0 || !ch1 || !ch2) unchunked++;
            bad++;
        } else {
            double e = fmax(harness_max_rel_err(steps, whole, n_rows, 1.0), harness_max_rel_err(some, whole, n_rows, 1.0));
            e = fmax(e, fmax(harness_max_rel_err(h1, hw, (int)(2 * states), 1.0),
                             harness_max_rel_err(h2, hw, (int)(2 * states), 1.0)));
            if (!(e < 1e-5)) { /* float reordering only: chunks' GEMMs have fewer rows */
                bad++;
                printf("  %s %s%s %d layers%s vocab %d pool %s: max rel err %.2e\n", task ? "lm" : "classify",
                       rnn_cell_name(c.cell), bidir ? " bidirectional" : "", layers, c.residual ? " residual" : "",
                       c.vocab_size, rnn_pool_name(c.pool), e);
            }
            worst = fmax(worst, e);
        }
        cases++;
        free(whole), free(steps), free(some), free(h0);
        rnn_model_free(m);
        rnn_gemm_set_precision(RNN_FP32);
    }
    printf("  %d cases, in chunks == in one pass: max rel err %.2e\n", cases, worst);
    CHECK(bad == 0 && cases >= 108, "%d of %d cases differ or failed (%d never chunked)", bad, cases, unchunked);
}

/* A classifier's inference in chunks holds no layer's output whole that it
 * need not: a text of a million tokens costs a few ints and a float a token
 * more than one of a hundred thousand (its ids, its packing, its lookup rows,
 * its attention weights: 20 to 24 bytes), not the 1 KB a token a layer of 256 a
 * direction would take, when the model is unidirectional (model.c,
 * stream_forward: every layer a chunk at a time) or its top layer is pooled
 * as it runs (dir_forward: any pooling but attention, which reads both
 * directions of a row); a bidirectional layer below the top still holds its
 * output for the reverse direction above, and attention the top's. */
static void test_stream_memory(void) {
    static const struct {
        int bidir, layers;
        rnn_pool pool;
        double lo, hi; /* bytes a token */
    } cases[] = {
        {0, 2, RNN_POOL_ATTENTION, 0, 32},
        {0, 2, RNN_POOL_MEANMAX, 0, 32},
        {1, 1, RNN_POOL_MEANMAX, 0, 32},
        {1, 1, RNN_POOL_LAST, 0, 32},
        {1, 2, RNN_POOL_MAX, 2048, 2048 + 32},      /* layer 0's output */
        {1, 2, RNN_POOL_ATTENTION, 4096, 4096 + 32}, /* and the top's */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_CLASSIFY);
        c.vocab_size = 20000, c.embed_dim = 64, c.hidden_dim = 256, c.num_layers = cases[i].layers;
        c.bidirectional = cases[i].bidir, c.pool = cases[i].pool, c.num_classes = 2;
        rnn_model *m = rnn_model_plan(&c);
        if (!m) { CHECK(0, "plan: %s", rnn_last_error()); return; }
        const int small = 100000, big = 1000000; /* (both past the lookup table's most rows) */
        const double per_token = ((double)rnn_acts_bytes(m, big, 1, big, 1) - (double)rnn_acts_bytes(m, small, 1, small, 1)) / (big - small);
        printf("  %s %dx256 classifier, pool %s: %.1f bytes a token\n", c.bidirectional ? "bidirectional" : "unidirectional",
               c.num_layers, rnn_pool_name(c.pool), per_token);
        CHECK(per_token >= cases[i].lo && per_token <= cases[i].hi, "%.1f bytes a token, not in [%g, %g]", per_token,
              cases[i].lo, cases[i].hi);
        rnn_model_free(m);
    }
}

/* A language model grown by 3 tokens (fine-tuning's --grow-vocab): on old
 * tokens the old logits, and each new token's logit the mean of the old
 * ones (its head row and bias are their means); the new embedding rows are
 * the mean of the old rows without the padding row. Tied weights too. */
static void test_grow_vocab(void) {
    for (int tied = 0; tied < 2; tied++) {
        rnn_config c;
        rnn_config_default(&c, RNN_TASK_LM);
        c.vocab_size = 9, c.embed_dim = 8, c.hidden_dim = 8, c.num_layers = 2, c.padding_id = 0;
        c.tie_weights = tied;
        rnn_model *m = rnn_model_create(&c);
        if (!m) { CHECK(0, "create: %s", rnn_last_error()); return; }
        rnn_model_init(m, 3);
        rnn_model *g = rnn_model_grow_vocab(m, 12, 0);
        CHECK(g && g->c.vocab_size == 12 && g->n_out == 12, "grown to 12");
        if (!g) { rnn_model_free(m); return; }
        const int E = c.embed_dim, T = 6;
        double e_err = 0;
        for (int j = 0; j < E; j++) {
            double mean = 0;
            for (int r = 1; r < 9; r++) mean += m->emb[r * E + j];
            mean /= 8;
            for (int r = 9; r < 12; r++) e_err = fmax(e_err, fabs(g->emb[r * E + j] - mean));
        }
        CHECK(e_err < 1e-6, "new embedding rows: the mean of the old ones but <pad> (%.2e)", e_err);
        int32_t ids[6] = {3, 1, 4, 1, 5, 8}; /* old tokens only */
        int len[1] = {T};
        float lm[6 * 9], lg[6 * 12];
        const rnn_model *ms[2] = {m, g};
        for (int k = 0; k < 2; k++) {
            rnn_acts *a = rnn_acts_create_infer(ms[k], T, 1, T);
            rnn_pack p;
            rnn_pack_init(&p, T, 1, len, a->batch_sizes, a->offsets);
            rnn_model_forward(ms[k], a, &p, ids, 0, 0, NULL);
            memcpy(k ? lg : lm, a->logits, sizeof(float) * T * ms[k]->n_out);
            rnn_acts_free(a);
        }
        double old_err = 0, new_err = 0;
        for (int t = 0; t < T; t++) {
            /* A new logit is (mean of the head's old rows) . h + mean of the old biases,
             * <pad>'s (row 0) left out of both, tied or not. */
            double dot = 0, bias = 0;
            for (int v = 0; v < 9; v++) {
                old_err = fmax(old_err, fabs(lg[t * 12 + v] - lm[t * 9 + v]));
                if (v == 0) continue;
                bias += m->head_b[v] / 8.0;
                dot += (lm[t * 9 + v] - m->head_b[v]) / 8.0;
            }
            for (int v = 9; v < 12; v++) new_err = fmax(new_err, fabs(lg[t * 12 + v] - (dot + bias)));
        }
        CHECK(old_err < 1e-6, "%s: old tokens' logits unchanged (%.2e)", tied ? "tied" : "untied", old_err);
        CHECK(new_err < 1e-5, "%s: each new token's logit from the mean rows (%.2e)", tied ? "tied" : "untied",
              new_err);
        rnn_model_free(g);
        rnn_model_free(m);
    }
}

/* Copies checkpoint src to dst with metadata key's value replaced by value
 * (the tensors as they are): a file damaged in one place. 0 or -1. */
static int resave_with_meta(const char *src, const char *dst, const char *key, const char *value) {
    return edit_meta(src, dst, &key, &value, 1);
}

/* A checkpoint's config with the cache's theta or lambda out of range is
 * refused on loading, with the file named, though it has no cache: rnn eval
 * --cache N would take them, and fail then under a flag never given. */
static void test_bad_cache_settings(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/rnn_test_cache_%d.safetensors", (int)getpid());
    static const char *const cfg[] = {
        "{\"task\": \"lm\", \"cell\": \"lstm\", \"vocab_size\": 36, \"embed_dim\": 8, \"hidden_dim\": 24, "
        "\"num_layers\": 2, \"cache_theta\": -5}",
        "{\"task\": \"lm\", \"cell\": \"lstm\", \"vocab_size\": 36, \"embed_dim\": 8, \"hidden_dim\": 24, "
        "\"num_layers\": 2, \"cache_size\": 0, \"cache_lambda\": 1}",
        "{\"task\": \"lm\", \"cell\": \"lstm\", \"vocab_size\": 36, \"embed_dim\": 8, \"hidden_dim\": 24, "
        "\"num_layers\": 2, \"cache_theta\": 2, \"cache_lambda\": 0.5}"};
    static const char *const want[] = {"\"cache_theta\" must be in [0, 1e+06] (got -5): a damaged file",
                                       "\"cache_lambda\" must be in [0, 1) (got 1): a damaged file", NULL};
    for (int i = 0; i < 3; i++) {
        if (resave_with_meta(FIX "torch_lm.safetensors", path, "config", cfg[i])) {
            CHECK(0, "resave: %s", rnn_last_error());
            return;
        }
        rnn_checkpoint ck;
        int rc = rnn_checkpoint_load(&ck, path);
        if (want[i])
            CHECK(rc == -1 && strstr(rnn_last_error(), path) && strstr(rnn_last_error(), want[i]),
                  "refused, the file named: %s", rnn_last_error());
        else
            CHECK(rc == 0 && ck.model->c.cache_theta == 2 && ck.model->c.cache_lambda == 0.5f,
                  "settings in range load, without a cache: %s", rc ? rnn_last_error() : "");
        if (rc == 0) rnn_checkpoint_free(&ck);
    }
    unlink(path);
}

/* A NUL inside the JSON of a metadata value ("\u0000": cJSON keeps it in the
 * string, and C reads the string up to it) would cut a token or a label
 * short, silently: refused, naming the file and the value. A backslash
 * followed by the text u0000 is no NUL, and loads as it is. */
static void test_nul_in_metadata(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/rnn_test_nul_%d.safetensors", (int)getpid());
    rnn_st *st = rnn_st_load(FIX "torch_cls.safetensors");
    const char *tok = st ? rnn_st_meta(st, "tokenizer") : NULL, *unk = tok ? strstr(tok, "\"<unk>\"") : NULL;
    char *bad = unk ? malloc(strlen(tok) + 16) : NULL;
    CHECK(bad != NULL, "the fixture's tokenizer names <unk>: %s", rnn_last_error());
    if (!bad) {
        rnn_st_free(st);
        return;
    }
    sprintf(bad, "%.*s\"<unk>\\u0000x\"%s", (int)(unk - tok), tok, unk + 7); /* read as "<unk>" before */
    const struct {
        const char *key, *value, *want; /* want NULL: loads */
    } cases[] = {{"tokenizer", bad, "metadata \"tokenizer\" holds a NUL character (\\u0000, at byte offset"},
                 {"labels", "[\"neg\\u0000x\", \"neu\", \"pos\"]",
                  "metadata \"labels\" holds a NUL character (\\u0000, at byte offset 5): a damaged file"},
                 {"labels", "[\"neg\\\\u0000x\", \"neu\", \"pos\"]", NULL},
                 /* a raw control byte in a string of the JSON inside (escaped in the header) */
                 {"labels", "[\"neg\x0f\", \"neu\", \"pos\"]",
                  "metadata \"labels\" is not valid JSON: a raw control character (0x0f, at byte offset 5) inside a string"}};
    for (int i = 0; i < 4; i++) {
        if (resave_with_meta(FIX "torch_cls.safetensors", path, cases[i].key, cases[i].value)) {
            CHECK(0, "resave: %s", rnn_last_error());
            break;
        }
        rnn_checkpoint ck;
        const int rc = rnn_checkpoint_load(&ck, path);
        if (cases[i].want)
            CHECK(rc == -1 && strstr(rnn_last_error(), path) && strstr(rnn_last_error(), cases[i].want),
                  "case %d refused, the file named: %s", i, rc ? rnn_last_error() : "loaded");
        else
            CHECK(rc == 0 && !strcmp(ck.labels[0], "neg\\u0000x"), "case %d: a backslash and u0000 load as text: %s",
                  i, rc ? rnn_last_error() : ck.labels[0]);
        if (rc == 0) rnn_checkpoint_free(&ck);
    }
    free(bad);
    rnn_st_free(st);
    unlink(path);
}

/* What a training callback saw. */
typedef struct {
    int n_step, n_eval, bad;
    long step[64], eval_step[8];
    double eval_loss[8], eval_acc[8];
    int eval_best[8];
    long stop_at;             /* ask to stop after this step (0: never) */
    char dir[256];
} seen;

static int on_event(const rnn_train_event *e, void *user) {
    seen *s = user;
    snprintf(s->dir, sizeof s->dir, "%s", e->run_dir);
    if (e->kind == RNN_EVENT_STEP) {
        if (s->n_step < 64) s->step[s->n_step] = e->step;
        s->n_step++;
        /* A step reports its loss, no validation figures. */
        if (!isfinite(e->loss) || e->loss <= 0 || !isnan(e->accuracy) || !(e->lr > 0) || e->tokens != e->step * 4 * 8)
            s->bad++;
    } else if (e->kind == RNN_EVENT_EVAL) {
        if (s->n_eval < 8) {
            s->eval_step[s->n_eval] = e->step;
            s->eval_loss[s->n_eval] = e->loss;
            s->eval_acc[s->n_eval] = e->accuracy;
            s->eval_best[s->n_eval] = e->best;
        }
        s->n_eval++;
        if (!isnan(e->macro_f1)) s->bad++; /* a language model has no macro-F1 */
    } else {
        s->bad++;
    }
    return s->stop_at && e->kind == RNN_EVENT_STEP && e->step == s->stop_at;
}

/* Resumes the run in dir through the C API, with the config file cfg loaded
 * first (or none) and "steps" set to steps (or left as the run has it),
 * events into s. 0, or -1 with rnn_error(). */
static int resume_run(const char *dir, const char *cfg, const char *steps, seen *s) {
    rnn_trainer *t = rnn_trainer_new();
    const int rc = !t || (cfg && rnn_trainer_load_config(t, cfg)) || rnn_trainer_set(t, "resume", dir) ||
                           (steps && rnn_trainer_set(t, "steps", steps)) || rnn_trainer_run(t, on_event, s)
                       ? -1
                       : 0;
    rnn_trainer_free(t);
    return rc;
}

/* A tiny LM on the built-in corpus, 12 steps of batch 4 x 8, validated
 * every 4, into dir ("": the default directory). */
static rnn_trainer *tiny_trainer(const char *dir) {
    rnn_trainer *t = rnn_trainer_new();
    const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "4"}, {"batch", "4"},
                           {"seq-len", "8"}, {"threads", "1"},
                           {"eval-every", "4"}, {"steps", "12"}, {"lr", "0.05"}, {"out", dir}};
    for (size_t i = 0; t && i < sizeof kv / sizeof kv[0]; i++)
        if (kv[i][1][0]) /* dir "": no "out", the default runs/<time> */
            CHECK(rnn_trainer_set(t, kv[i][0], kv[i][1]) == 0, "set %s: %s", kv[i][0], rnn_error());
    return t;
}

/* metrics.csv's val_loss column, up to max rows. */
static int csv_val_losses(const char *dir, long *step, double *loss, int max) {
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f) return -1;
    if (!fgets(line, sizeof line, f)) n = -1;
    while (n >= 0 && n < max && fgets(line, sizeof line, f)) {
        double el, tl;
        long tok;
        if (sscanf(line, "%ld,%lf,%ld,%lf,%lf", &step[n], &el, &tok, &tl, &loss[n]) == 5) n++;
    }
    fclose(f);
    return n;
}

static int exists_in(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* A file's bytes as a string (NULL: unreadable); the caller frees it. */
static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    char *s = f ? calloc(1, 1 << 16) : NULL;
    if (s) fread(s, 1, (1 << 16) - 1, f);
    if (f) fclose(f);
    return s;
}

/* Runs t with on_event, its stderr written to errfile. */
static int run_catching_stderr(rnn_trainer *t, seen *a, const char *errfile) {
    fflush(stderr);
    int saved = dup(2), fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    int rc = t ? rnn_trainer_run(t, on_event, a) : -1;
    fflush(stderr);
    dup2(saved, 2);
    close(fd);
    close(saved);
    return rc;
}

/* A run bounded by a --time of 1e18 s alone spreads cosine over the steps
 * that pace would reach: its learning rate barely moves in the first
 * second. The estimate, steps * time / elapsed, overflowed long once the
 * pace was measured (after 0.5 s), and the rate fell to ~0 at once. */
typedef struct {
    double lr_late;
    long steps;
} lr_seen;

static int note_lr(const rnn_train_event *e, void *user) {
    lr_seen *s = user;
    if (e->kind != RNN_EVENT_STEP) return 0;
    s->steps = e->step;
    if (e->elapsed_s < 0.8) return 0;
    s->lr_late = e->lr;
    return 1; /* stop */
}

static void test_huge_time_cosine(void) {
    char dir[] = "/tmp/rnn_hugetime_XXXXXX";
    if (!harness_mkdtemp(dir)) return;
    char out[64];
    snprintf(out, sizeof out, "%s/run", dir);
    rnn_trainer *t = tiny_trainer(out);
    lr_seen s = {-1, 0};
    const int set = t && rnn_trainer_set(t, "steps", "0") == 0 && rnn_trainer_set(t, "time", "1e18") == 0 &&
                    rnn_trainer_set(t, "schedule", "cosine") == 0 && rnn_trainer_set(t, "eval-every", "100000") == 0 &&
                    rnn_trainer_set(t, "progress", "quiet") == 0;
    CHECK(set, "settings: %s", rnn_error());
    const int rc = set ? rnn_trainer_run(t, note_lr, &s) : -1;
    CHECK(rc == 0 && s.lr_late > 0.0499 && s.lr_late < 0.0501,
          "--time 1e18, cosine: the lr after 0.8 s (step %ld) is still --lr 0.05: %g (%s)", s.steps, s.lr_late,
          rc ? rnn_error() : "ran");
    rnn_trainer_free(t);
    harness_rm_run(out);
    rmdir(dir);
}

static void test_trainer(void) {
    char base[] = "/tmp/rnn_trainer_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
    if (!harness_mkdtemp(base)) return;
    char full[128], stopped[128], errfile[160];
    snprintf(full, sizeof full, "%s/full", base);
    snprintf(stopped, sizeof stopped, "%s/stopped", base);
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", base);

    /* An uninterrupted run, its stderr caught in a file. */
    seen a = {0};
    rnn_trainer *t = tiny_trainer(full);
    CHECK(t && !strcmp(rnn_trainer_dir(t), ""), "no run directory before a run");
    int rc = run_catching_stderr(t, &a, errfile);
    CHECK(rc == 0, "the run trains: %s", rnn_error());
    CHECK(t && !strcmp(rnn_trainer_dir(t), full) && !strcmp(a.dir, full), "the run directory is reported");
    int steps_in_order = a.n_step == 12;
    for (int i = 0; i < 12 && steps_in_order; i++) steps_in_order = a.step[i] == i + 1;
    CHECK(steps_in_order, "12 step events, steps 1..12 in order (got %d)", a.n_step);
    CHECK(a.n_eval == 3 && a.eval_step[0] == 4 && a.eval_step[1] == 8 && a.eval_step[2] == 12,
          "validations after steps 4, 8, 12 (got %d)", a.n_eval);
    CHECK(a.bad == 0, "every event's fields are consistent (%d were not)", a.bad);
    CHECK(a.eval_best[0] == 1, "the first validation is the best so far");
    long cs[8];
    double cl[8];
    int n = csv_val_losses(full, cs, cl, 8);
    int same = n == 3;
    for (int i = 0; i < n && same; i++) same = cs[i] == a.eval_step[i] && fabs(cl[i] - a.eval_loss[i]) < 1e-6;
    CHECK(same, "the callback's validation losses are metrics.csv's (%d rows)", n);
    for (int i = 0; i < 3; i++)
        CHECK(a.eval_acc[i] >= 0 && a.eval_acc[i] <= 1, "validation accuracy %g in [0, 1]", a.eval_acc[i]);
    CHECK(exists_in(full, "model.safetensors") && exists_in(full, "metrics.svg"), "model and plot written");
    struct stat st;
    CHECK(stat(errfile, &st) == 0 && st.st_size == 0, "a trainer's default progress: nothing on stderr (%ld bytes)",
          (long)st.st_size);
    char model[200];
    snprintf(model, sizeof model, "%s/model.safetensors", full);
    rnn_t *m = rnn_open(model);
    CHECK(m && !strcmp(rnn_get_task(m), "lm"), "the trained model opens: %s", m ? "" : rnn_error());
    rnn_close(m);
    /* A run that fails before opening a directory names none, whichever
     * check stops it: not the run before's. */
    char missing[200], other[200];
    snprintf(missing, sizeof missing, "%s/no-such-file.txt", base);
    snprintf(other, sizeof other, "%s/other", base);
    CHECK(t && rnn_trainer_set(t, "out", other) == 0 && rnn_trainer_set(t, "data", missing) == 0 &&
              rnn_trainer_run(t, NULL, NULL) == -1 && strstr(rnn_error(), "no-such-file") &&
              !strcmp(rnn_trainer_dir(t), ""),
          "a missing data file: no run directory named (\"%s\"): %s", t ? rnn_trainer_dir(t) : "", rnn_error());
    rnn_trainer_free(t);
    /* A resume that fails its checks has opened its directory: named */
    char best_moved[220];
    snprintf(best_moved, sizeof best_moved, "%s/best-moved.safetensors", base);
    rnn_trainer *rt = rnn_trainer_new();
    CHECK(rt && rename(model, best_moved) == 0 && rnn_trainer_set(rt, "resume", full) == 0 &&
              rnn_trainer_set(rt, "steps", "14") == 0 && rnn_trainer_run(rt, NULL, NULL) == -1 &&
              strstr(rnn_error(), "missing") && !strcmp(rnn_trainer_dir(rt), full),
          "a resume refused for its missing best model names its directory (\"%s\"): %s",
          rt ? rnn_trainer_dir(rt) : "", rnn_error());
    rename(best_moved, model);
    rnn_trainer_free(rt);

    /* Asked for, "progress" "log" writes train.log's lines on stderr too. */
    char logged[160], *text;
    snprintf(logged, sizeof logged, "%s/logged", base);
    seen l = {0};
    t = tiny_trainer(logged);
    CHECK(t && !rnn_trainer_set(t, "progress", "log"), "set progress log");
    rc = run_catching_stderr(t, &l, errfile);
    text = read_all(errfile);
    CHECK(rc == 0 && text && strstr(text, "done: 12 steps"), "progress log: the run's lines on stderr (%s)", text ? text : "unreadable");
    free(text);
    rnn_trainer_free(t);
    /* ... but not from a loaded config file (a run's config.txt says "auto", as its command had it) */
    char cfgfile[160];
    snprintf(cfgfile, sizeof cfgfile, "%s/progress.cfg", base);
    snprintf(logged, sizeof logged, "%s/logged2", base);
    FILE *cf = fopen(cfgfile, "w");
    if (cf) fputs("progress = log\n", cf), fclose(cf);
    seen l2 = {0};
    t = tiny_trainer(logged);
    CHECK(t && !rnn_trainer_load_config(t, cfgfile), "load a config with progress: %s", rnn_error());
    rc = run_catching_stderr(t, &l2, errfile);
    text = read_all(errfile);
    CHECK(rc == 0 && text && !text[0], "a loaded config's progress writes nothing on stderr (%s)", text ? text : "unreadable");
    free(text);
    rnn_trainer_free(t);
    unlink(cfgfile);
    harness_rm_run(logged);
    snprintf(logged, sizeof logged, "%s/logged", base);
    harness_rm_run(logged);

    /* The same run stopped by its callback after step 6, then resumed. */
    seen b = {0};
    b.stop_at = 6;
    t = tiny_trainer(stopped);
    rc = t ? rnn_trainer_run(t, on_event, &b) : -1;
    CHECK(rc == 0, "a run the callback stops returns 0: %s", rnn_error());
    CHECK(b.n_step == 6, "no step after the stop (got %d)", b.n_step);
    CHECK(b.n_eval == 2 && b.eval_step[1] == 6, "validated and saved at the stop (%d evals)", b.n_eval);
    CHECK(exists_in(stopped, "last.safetensors") && exists_in(stopped, "state.safetensors"), "saved at the stop");
    rnn_trainer_free(t);
    seen c = {0};
    char cfg[200];
    snprintf(cfg, sizeof cfg, "%s/config.txt", stopped);
    t = rnn_trainer_new();
    CHECK(t && rnn_trainer_load_config(t, NULL) == -1 && strstr(rnn_error(), "no config file path"),
          "a NULL config path is refused: %s", rnn_error());
    CHECK(t && rnn_trainer_load_config(t, "/nonexistent/run.cfg") == -1 &&
              !strncmp(rnn_error(), "rnn_trainer_load_config: /nonexistent/run.cfg: cannot open", 58),
          "a missing config file is refused by name: %s", rnn_error());
    CHECK(t && rnn_trainer_load_config(t, cfg) == 0, "load the run's config: %s", rnn_error());
    CHECK(t && rnn_trainer_set(t, "resume", stopped) == 0, "set resume");
    rc = t ? rnn_trainer_run(t, on_event, &c) : -1;
    CHECK(rc == 0, "the resumed run trains: %s", rnn_error());
    CHECK(c.n_step == 6 && c.step[0] == 7 && c.step[5] == 12, "resumed at step 7, ended at 12 (%d steps)", c.n_step);
    CHECK(c.n_eval == 2 && c.eval_step[0] == 8 && c.eval_step[1] == 12, "validations at 8 and 12");
    if (c.n_eval == 2 && a.n_eval == 3)
        CHECK(c.eval_loss[0] == a.eval_loss[1] && c.eval_loss[1] == a.eval_loss[2],
              "stopped and resumed == uninterrupted: %.9f %.9f vs %.9f %.9f", c.eval_loss[0],
              c.eval_loss[1], a.eval_loss[1], a.eval_loss[2]);
    rnn_trainer_free(t);

    /* Resuming a run that has reached its length trains and validates
     * nothing: no event, no new metrics.csv row. */
    seen d = {0};
    long cs2[8];
    double cl2[8];
    int rows_before = csv_val_losses(stopped, cs2, cl2, 8);
    CHECK(resume_run(stopped, cfg, NULL, &d) == 0, "resuming a finished run: %s", rnn_error());
    CHECK(d.n_step == 0 && d.n_eval == 0, "a finished run resumed: no step, no validation (%d, %d)", d.n_step, d.n_eval);
    CHECK(csv_val_losses(stopped, cs2, cl2, 8) == rows_before, "no metrics.csv row added (%d before)", rows_before);

    /* Nor one that stopped early (--patience 1 at a learning rate that does not
     * improve on the first validation), unless given a larger patience. */
    char early[160];
    snprintf(early, sizeof early, "%s/early", base);
    seen e1 = {0}, e2 = {0}, e3 = {0};
    t = tiny_trainer(early);
    CHECK(t && rnn_trainer_set(t, "patience", "1") == 0 && rnn_trainer_set(t, "lr", "1") == 0 &&
              rnn_trainer_set(t, "eval-every", "1") == 0 && rnn_trainer_run(t, on_event, &e1) == 0,
          "a run that stops early: %s", rnn_error());
    rnn_trainer_free(t);
    const long at = e1.n_step;
    CHECK(at >= 2 && at < 12 && e1.n_eval == at && !e1.eval_best[at - 1], "it stopped early, at step %ld", at);
    CHECK(resume_run(early, NULL, NULL, &e2) == 0 && e2.n_step == 0 && e2.n_eval == 0,
          "resumed: no step, no validation (%d, %d): %s", e2.n_step, e2.n_eval, rnn_error());
    t = rnn_trainer_new();
    CHECK(t && rnn_trainer_set(t, "resume", early) == 0 && rnn_trainer_set(t, "patience", "0") == 0 &&
              rnn_trainer_run(t, on_event, &e3) == 0 && e3.n_step == 12 - at && e3.step[0] == at + 1,
          "resumed with --patience 0, it trains on to step 12 (%d steps): %s", e3.n_step, rnn_error());
    rnn_trainer_free(t);

    /* A resume needs no rnn_trainer_load_config: it reads DIR/config.txt
     * first, as rnn train --resume does. */
    seen g = {0};
    CHECK(resume_run(stopped, NULL, "14", &g) == 0 && g.n_step == 2 && g.step[0] == 13,
          "a resume from the run's directory alone (%d steps): %s", g.n_step, rnn_error());

    /* The old way, a copy of config.txt loaded, still resumes, even where
     * the run's own config.txt is gone. */
    char kept[220], moved[220];
    snprintf(kept, sizeof kept, "%s/config.txt", stopped);
    snprintf(moved, sizeof moved, "%s/config.moved", base);
    seen h = {0};
    t = rnn_trainer_new();
    CHECK(t && rnn_trainer_load_config(t, kept) == 0 && rename(kept, moved) == 0 &&
              rnn_trainer_set(t, "resume", stopped) == 0 && rnn_trainer_set(t, "steps", "16") == 0 &&
              rnn_trainer_run(t, on_event, &h) == 0 && h.n_step == 2 && h.step[0] == 15,
          "a resume from a loaded copy of config.txt, the run's own gone (%d steps): %s", h.n_step, rnn_error());
    rnn_trainer_free(t);
    if (access(kept, F_OK) != 0) rename(moved, kept);

    /* A loaded file of a few options goes over the run's config.txt, as
     * rnn train --resume DIR --config F does (it was taken for all of it). */
    char part[220];
    snprintf(part, sizeof part, "%s/partial.cfg", base);
    FILE *pf = fopen(part, "w");
    if (pf) fputs("steps = 18\n", pf), fclose(pf);
    seen q = {0};
    CHECK(pf && resume_run(stopped, part, NULL, &q) == 0 && q.n_step == 2 && q.step[0] == 17,
          "a resume with a loaded file of a few options (%d steps): %s", q.n_step, rnn_error());

    /* Options set win over a config file's, loaded before or after, as
     * rnn train's flags win over --config. */
    char ord[160], ordcfg[200];
    snprintf(ord, sizeof ord, "%s/order", base);
    snprintf(ordcfg, sizeof ordcfg, "%s/order.cfg", base);
    FILE *of = fopen(ordcfg, "w");
    if (of) fputs("hidden = 24\nforget-bias = 1\n", of), fclose(of);
    t = tiny_trainer(ord);
    CHECK(t && rnn_trainer_set(t, "hidden", "12") == 0 && rnn_trainer_set(t, "steps", "1") == 0 &&
              rnn_trainer_load_config(t, ordcfg) == 0 && rnn_trainer_run(t, NULL, NULL) == 0,
          "a run with a config loaded after a set: %s", rnn_error());
    rnn_trainer_free(t);
    char ordrun[220];
    snprintf(ordrun, sizeof ordrun, "%s/config.txt", ord);
    rnn_opts oo;
    rnn_opts_default(&oo);
    CHECK(!rnn_opts_load_file(&oo, ordrun) && oo.hidden == 12 && oo.forget_bias == 1,
          "the set hidden (12) over the file's 24, and the file's forget-bias 1: %d, %g", oo.hidden, oo.forget_bias);

    /* A trainer given no "threads" runs on the host's rnn_threads() count and
     * leaves it so (it used to set all cores and keep them). */
    CHECK(rnn_threads(1) == 1, "rnn_threads(1)");
    char thr[160];
    snprintf(thr, sizeof thr, "%s/threads", base);
    t = rnn_trainer_new();
    CHECK(t && !rnn_trainer_set(t, "layers", "1") && !rnn_trainer_set(t, "hidden", "8") &&
              !rnn_trainer_set(t, "steps", "1") && !rnn_trainer_set(t, "progress", "quiet") &&
              !rnn_trainer_set(t, "out", thr) && rnn_trainer_run(t, NULL, NULL) == 0,
          "a run without threads: %s", rnn_error());
    rnn_trainer_free(t);
    CHECK(rnn_threads_setting() == 1 && omp_get_max_threads() == 1, "rnn_threads(1) kept after the run (%d, %d)",
          rnn_threads_setting(), omp_get_max_threads());
    char log[220], line[400];
    snprintf(log, sizeof log, "%s/train.log", thr);
    FILE *lf = fopen(log, "r");
    int one = 0;
    while (lf && fgets(line, sizeof line, lf)) one |= strstr(line, "gemm ") && strstr(line, ", 1 threads;");
    if (lf) fclose(lf);
    CHECK(one, "the run trained on 1 thread (train.log)");
    /* a config file's threads (config.txt records a run's count) is no request */
    char thrcfg[220];
    snprintf(thrcfg, sizeof thrcfg, "%s/threads2.cfg", base);
    of = fopen(thrcfg, "w");
    if (of) fputs("threads = 2\n", of), fclose(of);
    snprintf(thr, sizeof thr, "%s/threads_cfg", base);
    t = rnn_trainer_new();
    CHECK(t && !rnn_trainer_load_config(t, thrcfg) && !rnn_trainer_set(t, "layers", "1") &&
              !rnn_trainer_set(t, "hidden", "8") && !rnn_trainer_set(t, "steps", "1") &&
              !rnn_trainer_set(t, "progress", "quiet") && !rnn_trainer_set(t, "out", thr) &&
              rnn_trainer_run(t, NULL, NULL) == 0,
          "a run with a config file's threads: %s", rnn_error());
    rnn_trainer_free(t);
    snprintf(log, sizeof log, "%s/train.log", thr);
    lf = fopen(log, "r");
    one = 0;
    while (lf && fgets(line, sizeof line, lf)) one |= strstr(line, "gemm ") && strstr(line, ", 1 threads;");
    if (lf) fclose(lf);
    CHECK(one, "... ran on the host's 1 thread, not the file's 2");
    rnn_threads(0);

    /* A fine-tuning run (init-from) stopped and resumed through the API, as
     * `rnn train --resume` does it: its config.txt's init-from is how it
     * started, not a request; one set again by hand is still refused. */
    char ft[160];
    snprintf(ft, sizeof ft, "%s/ft", base);
    seen e = {0};
    e.stop_at = 4;
    t = tiny_trainer(ft);
    CHECK(t && rnn_trainer_set(t, "init-from", model) == 0 && rnn_trainer_run(t, on_event, &e) == 0,
          "a fine-tuning run: %s", rnn_error());
    rnn_trainer_free(t);
    snprintf(cfg, sizeof cfg, "%s/config.txt", ft);
    t = rnn_trainer_new();
    CHECK(t && rnn_trainer_load_config(t, cfg) == 0 && rnn_trainer_set(t, "resume", ft) == 0 &&
              rnn_trainer_run(t, NULL, NULL) == 0,
          "the fine-tuning run resumes: %s", rnn_error());
    rnn_trainer_free(t);
    t = rnn_trainer_new();
    CHECK(t && rnn_trainer_load_config(t, cfg) == 0 && rnn_trainer_set(t, "resume", ft) == 0 &&
              rnn_trainer_set(t, "init-from", full) == 0 && rnn_trainer_run(t, NULL, NULL) == -1 &&
              strstr(rnn_error(), "--resume and --init-from cannot be combined"),
          "an init-from set for the resume is refused: %s", rnn_error());
    rnn_trainer_free(t);

    /* Without "out", each run gets a directory of its own under runs/, even
     * two in the same second. */
    char cwd[1024], made[2][600] = {"", ""};
    if (getcwd(cwd, sizeof cwd) && chdir(base) == 0) {
        for (int k = 0; k < 2; k++) {
            t = tiny_trainer("");
            if (t) rnn_trainer_set(t, "steps", "1");
            CHECK(t && rnn_trainer_run(t, NULL, NULL) == 0, "run %d without out: %s", k, rnn_error());
            snprintf(made[k], sizeof made[k], "%s", rnn_trainer_dir(t));
            rnn_trainer_free(t);
        }
        CHECK(!strncmp(made[0], "runs/", 5) && !strncmp(made[1], "runs/", 5) && strcmp(made[0], made[1]),
              "two runs, two directories: %s and %s", made[0], made[1]);
        harness_rm_run(made[0]);
        harness_rm_run(made[1]);
        rmdir("runs");
        CHECK(chdir(cwd) == 0, "back to %s", cwd);
    }

    /* Bad options and a bad run fail with a message naming the culprit. */
    CHECK(rnn_trainer_set(NULL, "hidden", "8") == -1 && rnn_trainer_run(NULL, NULL, NULL) == -1 &&
              !strcmp(rnn_trainer_dir(NULL), "") && strstr(rnn_error(), "no trainer"),
          "a NULL trainer fails cleanly: %s", rnn_error());
    rnn_errorf("(none)");
    CHECK(!strcmp(rnn_trainer_dir(NULL), "") && !strcmp(rnn_error(), "rnn_trainer_dir: no trainer (rnn_trainer_new failed?)"),
          "rnn_trainer_dir(NULL) gives \"\" with a message, as rnn.h says: %s", rnn_error());
    t = rnn_trainer_new();
    /* messages name the call first, as rnn_classify's do, and then the option */
    CHECK(t && rnn_trainer_set(t, "hiden", "8") == -1 && !strncmp(rnn_error(), "rnn_trainer_set: unknown option --hiden", 39),
          "unknown option: %s", rnn_error());
    CHECK(t && rnn_trainer_set(t, "hidden", "eight") == -1 && !strncmp(rnn_error(), "rnn_trainer_set: option --hidden: ", 34),
          "bad value: %s", rnn_error());
    CHECK(t && rnn_trainer_set(t, "", "8") == -1 && !strcmp(rnn_error(), "rnn_trainer_set: no option name (an empty string)"),
          "an empty name: %s", rnn_error());
    CHECK(t && rnn_trainer_set(t, "--hidden", "8") == -1 && strstr(rnn_error(), "\"hidden\", not \"--hidden\"") &&
              !strstr(rnn_error(), "----"),
          "a name with its flag's dashes: %s", rnn_error());
    CHECK(t && rnn_trainer_set(t, "bidirectional", NULL) == 0, "a flag takes NULL");
    CHECK(t && rnn_trainer_load_config(t, "/nonexistent/x.cfg") == -1 && strstr(rnn_error(), "/nonexistent/x.cfg"),
          "missing config: %s", rnn_error());
    char out[160];
    snprintf(out, sizeof out, "%s/bad", base);
    if (t) {
        rnn_trainer_set(t, "data", "/nonexistent/corpus.txt");
        rnn_trainer_set(t, "out", out);
        rnn_trainer_set(t, "progress", "quiet");
        CHECK(rnn_trainer_run(t, NULL, NULL) == -1 && !strncmp(rnn_error(), "rnn_trainer_run: ", 17) &&
                  strstr(rnn_error(), "/nonexistent/corpus.txt"),
              "missing data: %s", rnn_error());
        /* a value that reads but is out of its range is refused by the run, naming it (rnn.h says so) */
        CHECK(rnn_trainer_set(t, "lr", "-1") == 0 && rnn_trainer_run(t, NULL, NULL) == -1 &&
                  strstr(rnn_error(), "--lr must be >= 0"),
              "lr -1: set takes it, the run refuses it: %s", rnn_error());
    }
    rnn_trainer_free(t);
    harness_rm_run(full);
    harness_rm_run(stopped);
    harness_rm_run(early);
    harness_rm_run(out);
    unlink(errfile);
    rmdir(base);
}

/* rnn_threads is the process's: a handle used from another thread runs its
 * work on that count too (OpenMP keeps a count per thread). */
static void *score_in_thread(void *arg) {
    int *seen_threads = arg;
    rnn_t *m = rnn_open(FIX "torch_lm.safetensors");
    double loss;
    if (m && !rnn_score(m, "O Romeo, Romeo", 14, &loss, NULL)) *seen_threads = omp_get_max_threads();
    rnn_close(m);
    return NULL;
}

static void test_threads_in_other_thread(void) {
    CHECK(rnn_threads(1) == 1, "rnn_threads(1)");
    int seen_threads = -1;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, score_in_thread, &seen_threads) == 0, "pthread_create");
    pthread_join(th, NULL);
    CHECK(seen_threads == 1, "a call from another thread ran on 1 OpenMP thread (%d)", seen_threads);
    rnn_threads(0);
    /* rnn_score skips a byte order mark, as rnn eval skips a file's */
    rnn_t *m = rnn_open(FIX "torch_lm.safetensors");
    double a = -1, b = -2;
    long na = 0, nb = 0;
    CHECK(m && !rnn_score(m, "\xef\xbb\xbfO Romeo", 10, &a, &na) && !rnn_score(m, "O Romeo", 7, &b, &nb) && a == b &&
              na == nb && na == 6,
          "a byte order mark is skipped: %.6f over %ld vs %.6f over %ld", a, na, b, nb);
    rnn_close(m);
}

/* A trainer given "threads" while another thread classifies: that thread
 * runs the run's count while it runs (rnn.h: "its count is the process's"),
 * and its own count again after it, as the trainer "leaves it as it found
 * it" (the run's count used to stay in every thread that made a call during
 * the run, for good). */
typedef struct {
    atomic_int calls, done;
    atomic_int during; /* the thread's OpenMP count after its latest call */
    int in_run, after; /* that count as the run's callback saw it while the run waited, and after the run */
} host_job;

static void *classify_during_run(void *arg) {
    host_job *j = arg;
    omp_set_num_threads(3); /* the thread's own count, none the library's */
    rnn_t *m = rnn_open(FIX "torch_cls.safetensors");
    float p[3];
    while (m && !j->done) {
        if (rnn_classify(m, "a fine film", p, 3) >= 0) j->during = omp_get_max_threads();
        j->calls++;
    }
    if (m && rnn_classify(m, "a fine film", p, 3) >= 0) j->after = omp_get_max_threads();
    rnn_close(m);
    return NULL;
}

/* Waits (up to 10 s) at the run's first step for a call of the other thread. */
static int wait_for_call(const rnn_train_event *e, void *user) {
    host_job *j = user;
    if (e->kind == RNN_EVENT_STEP && e->step == 1) {
        for (int seen = j->calls, k = 0; j->calls < seen + 2 && k < 10000; k++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        /* the second call counted began after the wait did: within the run. (Read
         * here, not after the run: the thread goes on calling once it ends.) */
        j->in_run = j->during;
    }
    return 0;
}

static void test_trainer_threads_other_thread(void) {
    const int omp_max = omp_get_max_threads();
    rnn_threads_restore(0, omp_max); /* no rnn_threads count set, as in a host that never calls it */
    host_job j = {0};
    pthread_t th;
    const int started = pthread_create(&th, NULL, classify_during_run, &j) == 0;
    char dir[] = "/tmp/rnn_trainer_thr_XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp: cannot make a directory under /tmp");
    rnn_trainer *t = tiny_trainer(dir); /* "threads" 1 */
    CHECK(t && rnn_trainer_set(t, "steps", "2") == 0 && rnn_trainer_run(t, wait_for_call, &j) == 0, "the run: %s",
          rnn_error());
    rnn_trainer_free(t);
    j.done = 1;
    if (started) pthread_join(th, NULL);
    CHECK(started && j.in_run == 1, "a call during the run ran on the run's 1 thread (%d)", j.in_run);
    CHECK(j.after == 3, "a call after the run runs on the thread's own 3 threads again (%d)", j.after);
    CHECK(rnn_threads_setting() == 0 && omp_get_max_threads() == omp_max, "no count set after the run (%d, %d)",
          rnn_threads_setting(), omp_get_max_threads());
    harness_rm_run(dir);
}

/* Two runs that overlap, the first to start ending first: A starts (on 1
 * thread), B starts (given no count: the host's 3) while A waits at its
 * first step, A ends while B waits at its own, then B ends. B used to take
 * A's 1 for the host's, and each run put back the count it found, so B put
 * back A's 1 for good; the host's count must come back. */
typedef struct {
    atomic_int a_waiting, b_started, a_done;
} overlap;

static int a_waits_for_b(const rnn_train_event *e, void *user) {
    overlap *o = user;
    if (e->kind == RNN_EVENT_STEP && e->step == 1)
        for (int k = 0; !atomic_load(&o->b_started) && k < 20000; k++) nanosleep(&(struct timespec){0, 500000}, NULL);
    return 0;
}

static int b_waits_for_a(const rnn_train_event *e, void *user) {
    overlap *o = user;
    if (e->kind == RNN_EVENT_STEP && e->step == 1) {
        atomic_store(&o->b_started, 1);
        for (int k = 0; !atomic_load(&o->a_done) && k < 20000; k++) nanosleep(&(struct timespec){0, 500000}, NULL);
    }
    return 0;
}

typedef struct {
    overlap *o;
    char dir[64];
    int rc;
} run_b_job;

static void *run_b(void *arg) {
    run_b_job *j = arg;
    rnn_trainer *t = rnn_trainer_new(); /* tiny_trainer's, but given no "threads" */
    const char *kv[][2] = {{"layers", "1"}, {"hidden", "8"}, {"embed", "4"}, {"batch", "4"}, {"seq-len", "8"},
                           {"progress", "quiet"}, {"steps", "2"}, {"lr", "0.05"}, {"out", j->dir}};
    int ok = t != NULL;
    for (size_t i = 0; ok && i < sizeof kv / sizeof kv[0]; i++) ok = rnn_trainer_set(t, kv[i][0], kv[i][1]) == 0;
    j->rc = ok ? rnn_trainer_run(t, b_waits_for_a, j->o) : -1;
    rnn_trainer_free(t);
    return NULL;
}

static void test_trainers_overlapping(void) {
    CHECK(rnn_threads(3) == 3, "the host's count");
    overlap o = {0};
    run_b_job b = {&o, "/tmp/rnn_overlap_b_XXXXXX", -1};
    char adir[] = "/tmp/rnn_overlap_a_XXXXXX";
    CHECK(mkdtemp(adir) && mkdtemp(b.dir), "mkdtemp: cannot make a directory under /tmp");
    rnn_trainer *t = tiny_trainer(adir); /* "threads" 1 */
    CHECK(t && rnn_trainer_set(t, "steps", "2") == 0, "trainer A: %s", rnn_error());
    pthread_t th;
    const int started = pthread_create(&th, NULL, run_b, &b) == 0;
    const int rc = t ? rnn_trainer_run(t, a_waits_for_b, &o) : -1;
    atomic_store(&o.a_done, 1);
    if (started) pthread_join(th, NULL);
    rnn_trainer_free(t);
    CHECK(rc == 0 && started && b.rc == 0 && atomic_load(&o.b_started), "both runs (%d, %d): %s", rc, b.rc, rnn_error());
    char log[160], line[400];
    snprintf(log, sizeof log, "%s/train.log", b.dir);
    FILE *lf = fopen(log, "r");
    int three = 0;
    while (lf && fgets(line, sizeof line, lf)) three |= strstr(line, "gemm ") && strstr(line, ", 3 threads;");
    if (lf) fclose(lf);
    CHECK(three, "B, given no count, trained on the host's 3 threads, not A's 1 (train.log)");
    CHECK(rnn_threads_setting() == 3 && omp_get_max_threads() == 3,
          "the host's 3 threads after runs on 1 and 2 that overlapped (%d, %d)", rnn_threads_setting(),
          omp_get_max_threads());
    rnn_threads(0);
    harness_rm_run(adir);
    harness_rm_run(b.dir);
}

/* A host that set a locale with a decimal comma (setlocale(LC_ALL, "") on a
 * German desktop): the trainer still reads "0.05" and writes config.txt and
 * metrics.csv with points (strtod stopped at the point: "'0.05' is not a
 * number"; config.txt held "lr = 0,05", which a resume misread, and
 * metrics.csv got a column more per number), while the host's callback sees
 * the host's locale. Needs a comma locale: an installed one, or one localedef
 * makes from glibc's sources; without either the test says so and passes. */
static int comma_seen; /* the callback formatted 0.5 as "0,5" */

static int format_in_callback(const rnn_train_event *e, void *user) {
    (void)e, (void)user;
    char b[16];
    snprintf(b, sizeof b, "%.1f", 0.5);
    comma_seen += !strcmp(b, "0,5");
    return 0;
}

static void test_trainer_comma_locale(void) {
    char base[] = "/tmp/rnn_locale_XXXXXX";
    CHECK(mkdtemp(base), "mkdtemp: cannot make a directory under /tmp");
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *got = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !got; i++) got = setlocale(LC_NUMERIC, names[i]);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", base);
    if (!got && system(cmd) == 0) { /* glibc looks in LOCPATH first */
        setenv("LOCPATH", base, 1);
        got = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    }
    char b[16];
    snprintf(b, sizeof b, "%.1f", 0.5);
    if (!got || strcmp(b, "0,5")) {
        printf("  (no locale with a decimal comma here: nothing checked)\n");
    } else {
        char dir[128], path[160], line[512];
        snprintf(dir, sizeof dir, "%s/run", base);
        rnn_trainer *t = tiny_trainer(dir);
        CHECK(t && rnn_trainer_set(t, "lr", "0.05") == 0, "lr 0.05 under %s: %s", got, rnn_error());
        CHECK(t && rnn_trainer_set(t, "steps", "4") == 0 && rnn_trainer_run(t, format_in_callback, NULL) == 0,
              "the run: %s", rnn_error());
        rnn_trainer_free(t);
        CHECK(comma_seen == 5, "the callback formats in the host's locale (%d of 5 events)", comma_seen);
        snprintf(path, sizeof path, "%s/config.txt", dir);
        FILE *f = fopen(path, "r");
        int lr_ok = 0;
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "lr = ", 5)) lr_ok = !strncmp(line, "lr = 0.05", 9);
        if (f) fclose(f);
        CHECK(lr_ok, "config.txt holds lr = 0.05, with a point");
        snprintf(path, sizeof path, "%s/metrics.csv", dir);
        f = fopen(path, "r");
        int cols[2] = {0, 0};
        for (int r = 0; r < 2 && f && fgets(line, sizeof line, f); r++)
            for (const char *c = line; *c; c++) cols[r] += *c == ',';
        if (f) fclose(f);
        CHECK(cols[0] > 0 && cols[0] == cols[1], "metrics.csv: the header's columns and a row's (%d, %d commas)",
              cols[0], cols[1]);
        harness_rm_run(dir);
    }
    setlocale(LC_NUMERIC, "C");
    unsetenv("LOCPATH");
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CHECK(system(cmd) == 0, "rm -rf %s", base);
}

/* A --precision bf16 run's callback: the host's own inference there computes
 * in fp32, as everywhere else (the run's thread was left in bf16 for it, and
 * rnn_classify on a handle the host held gave other probabilities inside the
 * callback than outside it). */
typedef struct {
    rnn_t *m;
    int calls, differ;
    float want[3];
} bf16_host;

static int classify_in_callback(const rnn_train_event *e, void *user) {
    bf16_host *h = user;
    float got[3];
    (void)e;
    h->calls++;
    h->differ += rnn_classify(h->m, "a fine film", got, 3) < 0 || memcmp(got, h->want, sizeof got) != 0;
    return 0;
}

static void test_bf16_run_callback_fp32(void) {
    if (rnn_gemm_set_precision(RNN_BF16)) {
        rnn_gemm_set_precision(RNN_FP32);
        CHECK(1, "(no AVX512-BF16 here: nothing to test)");
        return;
    }
    rnn_gemm_set_precision(RNN_FP32);
    bf16_host h = {rnn_open(FIX "torch_cls.safetensors"), 0, 0, {0}};
    CHECK(h.m && rnn_classify(h.m, "a fine film", h.want, 3) >= 0, "the fixture classifies: %s", rnn_error());
    /* the fixture's products in bf16 do differ: else this would test nothing */
    float bf[3];
    int k = -1;
    if (h.m && rnn_set(h.m, "precision", "bf16") == 0) {
        k = rnn_classify(h.m, "a fine film", bf, 3);
        rnn_set(h.m, "precision", "fp32");
    }
    CHECK(k >= 0 && memcmp(bf, h.want, sizeof bf) != 0, "bf16 products give other probabilities");
    /* a thread left in bf16 does not reach a handle's fp32 products either */
    float th[3];
    rnn_gemm_set_precision(RNN_BF16);
    k = h.m ? rnn_classify(h.m, "a fine film", th, 3) : -1;
    rnn_gemm_set_precision(RNN_FP32);
    CHECK(k >= 0 && !memcmp(th, h.want, sizeof th), "a handle in fp32 computes in fp32 in a thread left in bf16");
    char dir[] = "/tmp/rnn_bf16cb_XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp: cannot make a directory under /tmp");
    char out[64];
    snprintf(out, sizeof out, "%s/run", dir);
    rnn_trainer *t = tiny_trainer(out);
    CHECK(t && rnn_trainer_set(t, "precision", "bf16") == 0 && rnn_trainer_set(t, "steps", "2") == 0 &&
              rnn_trainer_run(t, classify_in_callback, &h) == 0,
          "a bf16 run: %s", rnn_error());
    CHECK(h.calls == 3 && h.differ == 0, "the callback's rnn_classify is fp32's in %d of %d calls",
          h.calls - h.differ, h.calls);
    float after[3];
    CHECK(h.m && rnn_classify(h.m, "a fine film", after, 3) >= 0 && !memcmp(after, h.want, sizeof after),
          "and after the run");
    rnn_trainer_free(t);
    rnn_close(h.m);
    harness_rm_run(out);
    rmdir(dir);
}

/* The products' precision is the calling thread's: the two directions of a
 * bidirectional model, run by two threads, compute in the caller's bf16,
 * and a thread of its own computes in fp32 while another is set to bf16 (a
 * bf16 training beside a program's inference). */
typedef struct {
    const rnn_model *m;
    const int *lens;
    const int32_t *const *seqs;
    float *out;
} prec_job;

static float *bidir_logits(const rnn_model *m, const int *lens, const int32_t *const *seqs) {
    float *hn, *out;
    int chunk;
    out = infer_logits(m, (size_t)1 << 30, lens[0], 4, lens, seqs, NULL, &hn, &chunk);
    return out;
}

static void *fp32_in_thread(void *arg) {
    prec_job *j = arg;
    rnn_set_threads(1);
    j->out = bidir_logits(j->m, j->lens, j->seqs);
    return NULL;
}

static void test_precision_per_thread(void) {
    if (rnn_gemm_set_precision(RNN_BF16)) {
        rnn_gemm_set_precision(RNN_FP32);
        CHECK(1, "(no AVX512-BF16 here: nothing to test)");
        return;
    }
    rnn_gemm_set_precision(RNN_FP32);
    rnn_config c;
    rnn_config_default(&c, RNN_TASK_CLASSIFY);
    c.cell = RNN_CELL_LSTM, c.vocab_size = 40, c.embed_dim = 24, c.hidden_dim = 32, c.num_layers = 1;
    c.bidirectional = 1, c.pool = RNN_POOL_MEANMAX, c.num_classes = 3;
    rnn_model *m = rnn_model_create(&c);
    if (!m) {
        CHECK(0, "model: %s", rnn_last_error());
        return;
    }
    rnn_model_init(m, 5);
    int32_t seq[4][30];
    for (int b = 0; b < 4; b++)
        for (int t = 0; t < 30; t++) seq[b][t] = (int32_t)((b * 7 + t * 13) % 40);
    const int32_t *seqs[4] = {seq[0], seq[1], seq[2], seq[3]};
    const int lens[4] = {30, 25, 12, 6};
    rnn_set_threads(1);
    float *fp32 = bidir_logits(m, lens, seqs);
    rnn_gemm_set_precision(RNN_BF16);
    float *bf1 = bidir_logits(m, lens, seqs);
    rnn_set_threads(2);
    float *bf2 = bidir_logits(m, lens, seqs);
    prec_job j = {m, lens, seqs, NULL};
    pthread_t th;
    const int started = pthread_create(&th, NULL, fp32_in_thread, &j) == 0;
    if (started) pthread_join(th, NULL);
    rnn_gemm_set_precision(RNN_FP32);
    rnn_set_threads(0);
    double d12 = 0, d32 = 0, dth = 0;
    for (int i = 0; fp32 && bf1 && bf2 && j.out && i < 4 * 3; i++) {
        d12 = fmax(d12, fabs(bf1[i] - bf2[i]));
        d32 = fmax(d32, fabs(bf1[i] - fp32[i]));
        dth = fmax(dth, fabs(j.out[i] - fp32[i]));
    }
    CHECK(fp32 && bf1 && bf2 && j.out && started, "runs: %s", rnn_last_error());
    CHECK(d32 > 1e-5, "bf16 differs from fp32 (%.2e): the products really are bf16", d32);
    CHECK(d12 < 1e-6 * (1 + d32), "the two directions on two threads compute in the caller's bf16 (%.2e from one thread)",
          d12);
    CHECK(dth == 0, "another thread computes in fp32 while this one is set to bf16 (%.2e from fp32)", dth);
    free(fp32), free(bf1), free(bf2), free(j.out);
    rnn_model_free(m);
    /* a unidirectional layer wide enough for a team of two: each thread's units in bf16 too */
    c.bidirectional = 0, c.hidden_dim = 256;
    if (!(m = rnn_model_create(&c))) {
        CHECK(0, "model: %s", rnn_last_error());
        return;
    }
    rnn_model_init(m, 6);
    rnn_set_threads(1);
    fp32 = bidir_logits(m, lens, seqs);
    rnn_gemm_set_precision(RNN_BF16);
    bf1 = bidir_logits(m, lens, seqs);
    rnn_set_threads(2);
    bf2 = bidir_logits(m, lens, seqs);
    rnn_gemm_set_precision(RNN_FP32);
    rnn_set_threads(0);
    d12 = d32 = 0;
    for (int i = 0; fp32 && bf1 && bf2 && i < 4 * 3; i++) {
        d12 = fmax(d12, fabs(bf1[i] - bf2[i]));
        d32 = fmax(d32, fabs(bf1[i] - fp32[i]));
    }
    CHECK(fp32 && bf1 && bf2 && d32 > 1e-5 && d12 < 1e-6 * (1 + d32),
          "a team of two threads computes in the caller's bf16 (%.2e from one thread; bf16 against fp32 %.2e)", d12,
          d32);
    free(fp32), free(bf1), free(bf2);
    rnn_model_free(m);
}

int main(void) {
    RUN(test_error_is_utf8);
    RUN(test_classify_matches_pytorch);
    RUN(test_classify_cuts);
    RUN(test_settings);
    RUN(test_classify_batch);
    RUN(test_classify_batch_threads);
    RUN(test_generate_matches_pytorch);
    RUN(test_padded_equals_alone);
    RUN(test_chunked_equals_whole);
    RUN(test_stream_memory);
    RUN(test_precision_per_thread);
    RUN(test_grow_vocab);
    RUN(test_bad_cache_settings);
    RUN(test_nul_in_metadata);
    RUN(test_trainer);
    RUN(test_huge_time_cosine);
    RUN(test_trainer_threads_other_thread);
    RUN(test_handle_one_thread_at_a_time);
    RUN(test_trainers_overlapping);
    RUN(test_trainer_comma_locale);
    RUN(test_bf16_run_callback_fp32);
    RUN(test_threads_in_other_thread);
    return harness_end();
}
