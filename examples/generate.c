/* examples/generate.c: generate text from a trained rnn.c language model,
 * printing it as it is made.
 *
 *   make examples       (or: cc -Iinclude examples/generate.c build/librnn.a $(cat build/ldlibs) -o generate)
 *   GOMP_SPINCOUNT=1000 build/examples/generate runs/default/model.safetensors "eight thousand"
 * (GOMP_SPINCOUNT: see examples/classify.c)
 */
#include <stdio.h>

#include "rnn.h"

/* Each piece of the text as it comes: the prime, then each token's text.
 * Returning non-zero would stop the text there. */
static int print_piece(const char *text, size_t len, void *user) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

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
    const char *prime = argc > 2 ? argv[2] : "";
    size_t prime_len = 0;
    while (prime[prime_len]) prime_len++;
    /* 200 tokens at temperature 0.8 among the 40 likeliest (top-p 0.95), seed 42:
     * rnn_generate(m, prime, 200, 0.8f, 40, 0.95f, 42) returns the same text whole */
    int rc = rnn_generate_stream(m, prime, prime_len, 200, 0.8f, 40, 0.95f, 42, NULL, 0, print_piece, NULL);
    putchar('\n');
    if (rc) fprintf(stderr, "%s\n", rnn_error());
    rnn_close(m);
    return rc ? 1 : 0;
}
