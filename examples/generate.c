/* examples/generate.c: generate text from a trained rnn.c language model.
 *
 *   make && cc -Iinclude examples/generate.c build/librnn.a $(cat build/ldlibs) -o generate
 *   ./generate runs/default/model.safetensors "eight thousand"
 */
#include <stdio.h>
#include <stdlib.h>

#include "rnn.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.safetensors [PRIME]\n", argv[0]);
        return 2;
    }
    rnn_t *m = rnn_open(argv[1]);
    if (!m) {
        fprintf(stderr, "%s\n", rnn_error());
        return 1;
    }
    char *text = rnn_generate(m, argc > 2 ? argv[2] : "", 200, 0.8f, 40, 0.95f, 42);
    if (!text) {
        fprintf(stderr, "%s\n", rnn_error());
        rnn_close(m);
        return 1;
    }
    printf("%s\n", text);
    free(text);
    rnn_close(m);
    return 0;
}
