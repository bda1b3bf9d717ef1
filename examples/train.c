/* examples/train.c: train a text classifier from a C program, watching it
 * with a callback that prints each validation and stops early once the
 * validation accuracy reaches a target.
 *
 *   make examples       (or: cc -Iinclude examples/train.c build/librnn.a $(cat build/ldlibs) -o train)
 *   GOMP_SPINCOUNT=1000 build/examples/train ../shared/data/trec/train.tsv runs/trec-api 0.8
 * (GOMP_SPINCOUNT: see examples/classify.c; without it, where another program
 * holds a core, this run took 46 s instead of 2)
 *
 * DATA is `label<TAB>text` lines (or any format `rnn train --task classify`
 * reads: every option of `rnn train` can be set with rnn_trainer_set).
 */
#include <stdio.h>
#include <stdlib.h>

#include "rnn.h"

static int on_event(const rnn_train_event *e, void *user) {
    const double target = *(const double *)user;
    if (e->kind != RNN_EVENT_EVAL) return 0; /* RNN_EVENT_STEP: after every step */
    printf("step %ld (epoch %ld, %.1f s): val loss %.4f, accuracy %.4f, macro-F1 %.4f%s\n", e->step,
           e->epoch + 1, e->elapsed_s, e->loss, e->accuracy, e->macro_f1, e->best ? " (best)" : "");
    fflush(stdout);
    if (e->accuracy >= target) {
        printf("reached %.2f: stopping\n", target);
        return 1; /* stop: the run is saved as it stands */
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DATA.tsv OUTDIR [TARGET_ACCURACY]\n", argv[0]);
        return 2;
    }
    double target = argc > 3 ? atof(argv[3]) : 1.01;
    rnn_trainer *t = rnn_trainer_new();
    const char *options[][2] = {
        {"task", "classify"}, {"data", argv[1]},   {"out", argv[2]},    {"val-frac", "0.1"},
        {"cell", "lstm"},     {"layers", "1"},     {"hidden", "64"},    {"embed", "64"},
        {"pool", "meanmax"},  {"epochs", "10"},    {"patience", "3"},   {"progress", "quiet"},
    };
    for (size_t i = 0; t && i < sizeof options / sizeof options[0]; i++)
        if (rnn_trainer_set(t, options[i][0], options[i][1])) goto fail;
    if (!t || rnn_trainer_set(t, "bidirectional", NULL) || rnn_trainer_run(t, on_event, &target)) goto fail;
    printf("model: %s/model.safetensors\n", rnn_trainer_dir(t));
    rnn_trainer_free(t);
    return 0;
fail:
    fprintf(stderr, "%s\n", rnn_error());
    rnn_trainer_free(t);
    return 1;
}
