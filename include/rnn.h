/* rnn.h: the public API of librnn, for C programs that embed a trained model
 * (a text classifier or a text generator) or drive training.
 *
 *   #include <rnn.h>
 *   rnn_t *m = rnn_open("runs/sst2/model.safetensors");
 *   if (!m) { fprintf(stderr, "%s\n", rnn_error()); return 1; }
 *   float p[8];
 *   int k = rnn_classify(m, "a gripping, beautifully made film", p, 8);
 *   printf("%s %.3f\n", rnn_label(m, k), p[k]);
 *   char *text = rnn_generate(m, "ROMEO:", 200, 0.8f, 40, 0.95f, 42); // LMs
 *   free(text);
 *   rnn_close(m);
 *
 * Link with -lrnn -lcjson -lm -fopenmp (plus -ldnnl or -lopenblas when the
 * library was built with them; the Makefile prints which). Functions that
 * fail return NULL or a negative number and leave a one-line message for
 * rnn_error(); the library never exits. A handle may be used by one thread at
 * a time.
 */
#ifndef RNN_H
#define RNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rnn_handle rnn_t;

/* Loads a checkpoint (fully validated). NULL + rnn_error() on failure. */
rnn_t *rnn_open(const char *checkpoint_path);
void rnn_close(rnn_t *m); /* NULL is fine */

/* The last error message of this thread. */
const char *rnn_error(void);

/* "lm" or "classify". */
const char *rnn_get_task(const rnn_t *m);

/* Classifiers: the number of classes and the name of class i. */
int rnn_num_classes(const rnn_t *m);
const char *rnn_label(const rnn_t *m, int i);

/* Classifies one text: returns the most probable class id and writes the
 * probability of each class (in class-id order) to probs (room for n; may be
 * NULL). -1 on error (not a classifier, invalid UTF-8, empty text). */
int rnn_classify(rnn_t *m, const char *text, float *probs, int n);

/* Language models: generates `length` tokens after the priming text (may be
 * empty) with the given temperature (0: greedy), top_k (0: off) and top_p
 * (1: off); the same seed gives the same text. Returns a malloc'd string
 * holding the prime and the continuation (free() it), or NULL on error. */
char *rnn_generate(rnn_t *m, const char *prime, int length, float temperature, int top_k,
                   float top_p, uint64_t seed);

/* Threads for all computation (0: all cores). */
void rnn_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
