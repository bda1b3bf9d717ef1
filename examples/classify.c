/* examples/classify.c: embed a trained rnn.c classifier in a C program.
 *
 *   make examples       (or: cc -Iinclude examples/classify.c build/librnn.a $(cat build/ldlibs) -o classify)
 *   GOMP_SPINCOUNT=1000 build/examples/classify runs/trec/model.safetensors "Who wrote Hamlet ?"
 *
 * (GOMP_SPINCOUNT=1000: OpenMP's threads spin for a short while between
 * parallel regions, not 300,000 turns; where another program holds a core,
 * the default spin runs a program of librnn many times slower. The rnn tool
 * sets it for itself; a program of yours needs it in its environment.)
 */
#include <stdio.h>
#include <stdlib.h>

#include "rnn.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors TEXT...\n", argv[0]);
        return 2;
    }
    rnn_t *m = rnn_open(argv[1]);
    if (!m) {
        fprintf(stderr, "%s\n", rnn_error());
        return 1;
    }
    int C = rnn_num_classes(m), rc = 0;
    if (C <= 0) { /* a language model: rnn_num_classes says so */
        fprintf(stderr, "%s\n", rnn_error());
        rnn_close(m);
        return 1;
    }
    float *p = malloc(sizeof(float) * C);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        rnn_close(m);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        int k = rnn_classify(m, argv[i], p, C);
        if (k < 0) { /* (invalid UTF-8, say): the others are still classified */
            fprintf(stderr, "%s\n", rnn_error());
            rc = 1;
            continue;
        }
        printf("%s\t%.4f\t%s\n", rnn_label(m, k), p[k], argv[i]);
    }
    free(p);
    rnn_close(m);
    return rc;
}
