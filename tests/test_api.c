/* test_api.c: the public API (include/rnn.h) and classifier inference.
 * - rnn_classify on a classifier written by PyTorch (tools/rnnc_torch.py
 *   make-cls-fixture: bidirectional 2-layer GRU, attention pooling) gives
 *   PyTorch's probabilities.
 * - rnn_generate on the PyTorch-written language model gives PyTorch's
 *   greedy text.
 * - A text gets the same logits alone and packed in a batch with longer and
 *   shorter texts (packed-sequence semantics: padding changes nothing). */
#include "harness.h"

#include <cjson/cJSON.h>

#include "rnn.h"
#include "model.h"
#include "safetensors.h"

#define FIX "tests/fixtures/"

static void test_classify_matches_pytorch(void) {
    rnn_t *m = rnn_open(FIX "torch_cls.safetensors");
    CHECK(m, "open: %s", rnn_error());
    if (!m) return;
    CHECK(!strcmp(rnn_get_task(m), "classify"), "task");
    CHECK(rnn_num_classes(m) == 3 && !strcmp(rnn_label(m, 2), "pos"), "labels");
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
    CHECK(rnn_classify(m, "caf\xc3", p, 3) == -1 && strstr(rnn_error(), "UTF-8"), "invalid UTF-8 rejected");
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
    char *a = rnn_generate(m, "O", 40, 0.9f, 5, 0.9f, 7), *b = rnn_generate(m, "O", 40, 0.9f, 5, 0.9f, 7);
    CHECK(a && b && !strcmp(a, b), "same seed, same sample");
    free(a), free(b);
    rnn_st_free(st);
    CHECK(rnn_classify(m, "x", NULL, 0) == -1, "classify on a language model is an error");
    rnn_close(m);
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

int main(void) {
    RUN(test_classify_matches_pytorch);
    RUN(test_generate_matches_pytorch);
    RUN(test_padded_equals_alone);
    return harness_end();
}
