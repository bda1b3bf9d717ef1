/* examples/score.c: how likely a language model finds each line of a text.
 * Prints each line's perplexity (lower: the model finds it likelier) and the
 * line, one per line of stdin (blank lines skipped): which of several texts
 * reads most like the model's training text (a language, an author, a log
 * file's normal lines).
 *
 *   make examples       (or: cc -Iinclude examples/score.c build/librnn.a $(cat build/ldlibs) -o score;
 *                        with the shared library add -lm, for exp: cc examples/score.c $(pkg-config
 *                        --cflags --libs rnn) -lm -o score)
 *   printf 'seven thousand two hundred\nhundred two thousand seven\n' |
 *       GOMP_SPINCOUNT=1000 build/examples/score runs/default/model.safetensors
 * (GOMP_SPINCOUNT: see examples/classify.c)
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnn.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.safetensors < TEXT   (one text per line)\n", argv[0]);
        return 2;
    }
    rnn_t *m = rnn_open(argv[1]);
    if (!m) {
        fprintf(stderr, "%s\n", rnn_error());
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (long no = 1; (n = getline(&line, &cap, stdin)) >= 0; no++) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0; /* LF or CRLF */
        if (n == 0) continue;                                                      /* a blank line */
        double loss;
        if (rnn_score(m, line, (size_t)n, &loss, NULL)) {
            fprintf(stderr, "line %ld: %s\n", no, rnn_error());
            rc = 1;
            continue;
        }
        printf("%9.3f\t%s\n", exp(loss), line);
    }
    free(line);
    rnn_close(m);
    return rc;
}
