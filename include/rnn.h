/* rnn.h: the public API of librnn, for C programs that embed a trained model
 * (a text classifier or a text generator) or drive training ("Training", below).
 *
 *   #include <rnn.h>
 *   rnn_t *m = rnn_open("runs/bench-sst2/model.safetensors"); // bench/cls_benchmarks.sh sst2
 *   if (!m) { fprintf(stderr, "%s\n", rnn_error()); return 1; }
 *   if (!strcmp(rnn_get_task(m), "classify")) {
 *       int n = rnn_num_classes(m);
 *       float *p = malloc(sizeof(float) * n);
 *       int k = rnn_classify(m, "a gripping, beautifully made film", p, n);
 *       if (k < 0) fprintf(stderr, "%s\n", rnn_error());
 *       else printf("%s %.3f\n", rnn_label(m, k), p[k]);
 *       free(p);
 *   } else {
 *       char *text = rnn_generate(m, "ROMEO:", 200, 0.8f, 40, 0.95f, 42);
 *       if (!text) fprintf(stderr, "%s\n", rnn_error());
 *       else puts(text);
 *       free(text);
 *   }
 *   rnn_close(m);
 *
 * Compile with -Iinclude and link with build/librnn.a $(cat build/ldlibs)
 * (the libraries this build needs), or `pkg-config --cflags --libs rnn`
 * after `make install`; run with GOMP_SPINCOUNT=1000 (rnn_threads, below).
 * Functions that
 * fail return NULL or a negative number and leave a one-line message for
 * rnn_error(); the library never exits. A handle may be used by one thread at
 * a time (rnn_classify_batch, rnn_get_task, rnn_num_classes and rnn_label
 * excepted, which any thread may call at any time): a call while another
 * thread's call on the same handle runs fails, saying so. Several threads may
 * each use a handle of their own at once (each handle holds its own copy of
 * the weights), and one thread may train (rnn_trainer_run) meanwhile. rnn_error() is per thread; rnn_threads is
 * the process's.
 */
#ifndef RNN_H
#define RNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This header's version; rnn_version() is the library's that the program
 * runs with (the same string when both come from one build). */
#define RNN_VERSION_MAJOR 0
#define RNN_VERSION_MINOR 2
#define RNN_VERSION_PATCH 0
#define RNN_VERSION "0.2.0"
const char *rnn_version(void);

typedef struct rnn_handle rnn_t;

/* Loads a checkpoint (fully validated). NULL + rnn_error() on failure. The
 * functions below take the NULL of a failed rnn_open without crashing: they
 * fail (or give NULL / 0) with a message. Messages are one line of valid
 * UTF-8 and begin with the failing function's name ("rnn_classify: the text:
 * input has invalid UTF-8 at byte offset 3", "rnn_open: m.safetensors:
 * cannot open: No such file or directory"). A classifier's handle keeps its
 * recurrent weights (W_hh) a second time, laid out for reading one text at a
 * time, so that no call lays them out again (a language model's handle from
 * its first rnn_score). */
rnn_t *rnn_open(const char *checkpoint_path);
void rnn_close(rnn_t *m); /* NULL is fine */

/* The last error message of this thread: the library's (do not free it),
 * kept until this thread's next failing call. */
const char *rnn_error(void);

/* "lm" or "classify" (a constant string). */
const char *rnn_get_task(const rnn_t *m);
/* What the checkpoint holds, as `rnn info --json` prints it: one line of
 * JSON, {"path", "task", "parameters", "tokenizer": {"type", "vocab_size",
 * ...}, "labels": [...], "data_layout": {"format", "header", "label_col",
 * "text_cols"} (a classifier whose run gave its data's columns), "config": {the model's: "cell", "hidden_dim",
 * "num_layers", "bidirectional", ...; "max_len" and "truncate" where a
 * classifier cuts its texts, "reverse": true for a backward model}}. The string
 * belongs to the handle (valid until rnn_close); NULL + rnn_error() for a
 * NULL handle or out of memory. */
const char *rnn_describe(rnn_t *m);

/* Classifiers: the number of classes and the name of class i (0 / NULL with a
 * message for a language model or an i out of range). A label belongs to
 * the handle: valid until rnn_close. */
int rnn_num_classes(const rnn_t *m);
const char *rnn_label(const rnn_t *m, int i);

/* Classifies one text: returns the most probable class id and writes the
 * probability of each class (in class-id order) to probs (room for n; may be
 * NULL). -1 on error (not a classifier, invalid UTF-8, out of memory). Tokens
 * the vocabulary lacks are read as its unknown token, a text with no tokens
 * (empty, or only spaces for a word model) as one, as training and `rnn
 * classify` read it,
 * and a text longer than the model's max_len (rnn train --max-len; rnn info
 * shows it) is cut to its first or last max_len tokens, as training read
 * them; a leading UTF-8 byte order mark is skipped. A long text runs a
 * chunk of time steps at a time (at most 16 MiB of recurrent cache a
 * direction): a unidirectional model, or a bidirectional one's top layer
 * unless pooled by attention, holds no layer's output for every token, so
 * such a text costs ~20 bytes a token (a layer of H units below a
 * bidirectional top, or an attention-pooled bidirectional top, 8*H bytes:
 * ~1 KB for H 128); the handle keeps the activations for the next call up
 * to 4,096 tokens and frees a longer text's. */
int rnn_classify(rnn_t *m, const char *text, float *probs, int n);

/* Classifies n_texts texts as rnn_classify does one at a time, but in
 * batches of texts of similar length, as rnn eval reads them: several times
 * the texts per second for short ones. best[i] gets text i's class id and,
 * unless probs is NULL, probs[i * num_classes + c] its probability of class
 * c. A batch's products round differently from a single text's, so the
 * probabilities may differ from rnn_classify's in their last digits. Holds
 * 256 texts' tokens and activations at a time. 0, or -1 on error, with a
 * message naming the first bad text ("rnn_classify_batch: text 3: input has
 * invalid UTF-8 at byte offset 1"; the texts before its block of 256 are written). */
int rnn_classify_batch(rnn_t *m, const char *const *texts, int n_texts, int *best, float *probs);

/* Language models: generates `length` tokens after the priming text (may be
 * empty or NULL) with the given temperature (0: greedy; at most 100), top_k
 * (0: off) and top_p (in (0, 1]; 1: off), and the handle's min-p and
 * repeat-penalty (rnn_set, below); the same seed gives the same text.
 * A byte-level model's continuation is valid UTF-8 without NUL bytes (it
 * finishes a character begun at the end of `length`, up to 3 bytes more).
 * Returns a malloc'd string holding the prime and the continuation (free()
 * it), or NULL on error (a value out of range, a classifier, a backward
 * (--reverse) language model, which cannot continue a prime, a prime with
 * invalid UTF-8 or a NUL byte; a byte-level model takes any prime). The call
 * returns when all `length` tokens are written: pick a length to suit. The
 * first generation on a handle lays its weights out for reading one token at
 * a time, a copy the handle keeps (about the model's size again) so that
 * later calls start at once (a 2x1024 LSTM: 45 ms a call before). */
char *rnn_generate(rnn_t *m, const char *prime, int length, float temperature, int top_k,
                   float top_p, uint64_t seed);
/* The same with a prime of prime_len bytes, a stop string (stop_len bytes;
 * 0: none) at whose end generation stops, as `rnn sample --stop` does (as
 * the model writes text: a lowercasing tokenizer's stop "ROMEO:" is "romeo:"), and
 * the text's length in *out_len (may be NULL): a byte-level model's prime may
 * hold NUL bytes, where rnn_generate's string would look cut short.
 * A stop string with invalid UTF-8 or a NUL byte, which the model's text
 * never holds, is an error, as for rnn sample --stop.
 * Tokens no text encodes to (<pad>, [CLS], [unused0], ...) are never drawn. */
char *rnn_generate_ex(rnn_t *m, const char *prime, size_t prime_len, int length, float temperature, int top_k,
                      float top_p, uint64_t seed, const char *stop, size_t stop_len, size_t *out_len);
/* rnn_generate_ex's text handed to emit as it is made, to show it as it
 * comes or to stop early: first the prime, then each drawn token's text (a
 * byte-level model's pieces may split a character; their concatenation is
 * rnn_generate_ex's string for the same arguments). emit returns 0 to go
 * on, non-zero to stop there. Returns 0 (all `length` tokens, the stop
 * string, or emit stopped it), or -1 + rnn_error() as rnn_generate_ex. */
int rnn_generate_stream(rnn_t *m, const char *prime, size_t prime_len, int length, float temperature, int top_k,
                        float top_p, uint64_t seed, const char *stop, size_t stop_len,
                        int (*emit)(const char *text, size_t len, void *user), void *user);

/* Language models: how well the model predicts a text of len bytes, as
 * `rnn eval` scores a file: each token from all those before it (the first
 * is not predicted), from a zero state, with the model's neural cache if it
 * was trained with one (rnn train --cache); a backward (--reverse) model reads
 * the text right to left. *loss gets the mean negative log-likelihood in nats
 * per predicted token (perplexity: exp(*loss); bits per character of a char
 * model: *loss / log(2)), *count (may be NULL) how many tokens were predicted.
 * Tokens the vocabulary lacks are read, and predicted, as its unknown token;
 * a leading UTF-8 byte order mark is skipped, as rnn eval skips a file's.
 * Returns 0, or -1 on error (a classifier, invalid UTF-8 or a NUL byte for
 * a model that is not byte-level, fewer than 2 tokens, out of memory). */
int rnn_score(rnn_t *m, const char *text, size_t len, double *loss, long *count);

/* A handle's settings, by the name of the rnn sample / rnn classify flag
 * that does the same (without "--"), the value as written there:
 *   "no-unk"     language models: generation never draws the unknown token
 *                (<unk>, [UNK]; a char model's U+FFFD). A flag: NULL or
 *                "true" sets it, "false" clears it. Off at rnn_open.
 *   "recase"     language models whose tokenizer lowercases: generation
 *                writes the text in sentence case (capitals at the start of
 *                the text, a line and a sentence, and for the word "i"; the
 *                prime as given). A flag, as no-unk.
 *   "precision"  language models: "bf16" holds generation's weights in bf16
 *                (sums in fp32): half the memory read per token, on any CPU;
 *                the text may differ from fp32's where two tokens were close.
 *                "fp32" (at rnn_open). The next generation lays the weights
 *                out again. Classifiers: "bf16" runs rnn_classify's and
 *                rnn_classify_batch's products in bf16 with fp32 sums, as
 *                `rnn classify --precision bf16` (AMX or AVX512-BF16; refused,
 *                -1, on a CPU without them): probabilities move by ~1e-3, a
 *                few 1e-3 at most (8 bits of each product's inputs kept). A
 *                rnn_classify_batch under way keeps the precision it started
 *                with.
 *   "min-p"      language models: after temperature, top_k and top_p, draw
 *                only among tokens at least this many times as likely as the
 *                likeliest, in [0, 1] ("0": off, at rnn_open).
 *   "repeat-penalty"  language models: the logits of the tokens among the
 *                last repeat-last of the text (the prime's included) are
 *                divided by it where positive and multiplied by it where
 *                not, once per token, before the temperature: in [0.01, 100],
 *                "1" off (at rnn_open); 1.1-1.3 keeps a word model out of loops.
 *   "repeat-last"  the tokens repeat-penalty looks back on, in [0, 65536]
 *                ("0": all of the text; "64" at rnn_open).
 *   "max-len"    classifiers: read each text by N of its tokens ("0": whole
 *                texts, the side kept for a later N); at rnn_open, as the
 *                model was trained.
 *   "truncate"   classifiers: "head" keeps a longer text's first max-len
 *                tokens, "tail" its last (needs max-len above 0).
 * They hold for the handle's later calls (a rnn_classify_batch under way
 * keeps what it started with). Returns 0, or -1 + rnn_error() (an unknown
 * name, a value out of range, a setting for the other task, no-unk for a
 * tokenizer without an unknown token, recase for one that keeps case);
 * nothing changes on error. */
int rnn_set(rnn_t *m, const char *name, const char *value);

/* Threads for all computation, n in [0, 4096] (0: all cores). Process-wide:
 * the library's work runs on n threads whichever thread calls it (each call
 * sets OpenMP's count for its thread, omp_set_num_threads, which the host's
 * own OpenMP regions in that thread then see too), and OpenBLAS's pool; a
 * trainer uses it too unless rnn_trainer_set gives it "threads" (a config
 * file's count is not used), and leaves it as it found it: while it runs,
 * its count is the process's, in every thread that calls the library; after
 * it, each such thread runs on what it ran on before (an rnn_threads call
 * made during the run is undone too; runs that overlap, in threads of their
 * own, each run on their own count in the thread that runs them, while
 * other threads, and OpenBLAS's one pool, take the last started's; the last
 * to end puts back what the first found). Returns the threads now in use, or -1
 * + rnn_error() for an n out of range (nothing changed).
 * On a machine where other programs keep cores busy, run the host program
 * with GOMP_SPINCOUNT=1000 (or OMP_WAIT_POLICY=passive) in its environment:
 * libgomp's threads otherwise spin at every barrier, and training can run 30x
 * slower. The rnn command sets this itself.
 * A host with signal handlers of its own (its Ctrl-C, a sampling profiler's)
 * should block those signals in the threads that call the library and take
 * them on a thread of its own (sigwait), or run the handlers on an alternate
 * stack (sigaltstack, SA_ONSTACK): a handler that runs inside oneDNN 2.6's
 * sgemm (Debian's libdnnl) writes its frame on the heap and corrupts it
 * (oneDNN issue 4845). The rnn command takes its signals so. */
int rnn_threads(int n);

/* ---- Training -------------------------------------------------------------
 * A trainer holds the options of `rnn train` (every one, by its flag name
 * without "--"; `rnn train --help` lists them) and runs it, calling back
 * after every step and every validation:
 *
 *   static int on_event(const rnn_train_event *e, void *user) {
 *       if (e->kind == RNN_EVENT_EVAL) printf("step %ld: val acc %.3f\n", e->step, e->accuracy);
 *       return e->kind == RNN_EVENT_EVAL && e->accuracy >= 0.9; // non-zero stops (saved)
 *   }
 *   rnn_trainer *t = rnn_trainer_new();
 *   if (rnn_trainer_set(t, "task", "classify") ||
 *       rnn_trainer_set(t, "data", "train.tsv") ||     // label<TAB>text lines
 *       rnn_trainer_set(t, "bidirectional", NULL) ||   // a flag: NULL means true
 *       rnn_trainer_set(t, "epochs", "5") ||
 *       rnn_trainer_run(t, on_event, NULL))
 *       fprintf(stderr, "%s\n", rnn_error());
 *   else
 *       printf("%s/model.safetensors\n", rnn_trainer_dir(t));
 *   rnn_trainer_free(t);
 *
 * The run directory gets what `rnn train` writes: model.safetensors (best on
 * validation), last.safetensors, state.safetensors, config.txt, metrics.csv,
 * metrics.svg and train.log. To continue a stopped run exactly where it
 * stopped, as `rnn train --resume DIR` does: rnn_trainer_set(t, "resume",
 * "DIR"), then any changes (a larger "steps", say), and rnn_trainer_run,
 * which reads DIR/config.txt first, then a file rnn_trainer_load_config
 * loaded, then the options set. Numbers in options, config files and the
 * run's files are read and written with a decimal point ("0.05") whatever
 * locale the host set (setlocale); the callback runs in the host's locale,
 * and the library calls it makes compute in fp32 even in a "precision" bf16
 * run. */
typedef struct rnn_trainer rnn_trainer;

enum { RNN_EVENT_STEP = 1, RNN_EVENT_EVAL = 2 };

typedef struct {
    int kind;            /* RNN_EVENT_STEP (after an optimizer step) or RNN_EVENT_EVAL (after a validation) */
    long step;           /* optimizer steps done, counting those before a resume */
    long epoch;          /* the 0-based epoch of the last step's batch */
    double elapsed_s;    /* seconds of training, counting those before a resume */
    long tokens;         /* tokens trained on so far */
    double loss;         /* STEP: the batch's training loss (NaN: the step was skipped, its
                            gradient not finite); EVAL: the validation loss (nats) */
    double accuracy;     /* EVAL: validation accuracy (next-token accuracy for a language
                            model); STEP: NaN */
    double macro_f1;     /* EVAL of a classifier: validation macro-F1 (all classes; one neither seen nor predicted counts 0); otherwise NaN */
    double lr;           /* the learning rate of the last step */
    double tokens_per_s; /* training throughput over the last half second or so */
    int best;            /* EVAL: the best validation so far (model.safetensors was just written) */
    const char *run_dir; /* the run directory */
} rnn_train_event;

/* Return 0 to go on; non-zero stops the run after saving, as Ctrl-C does
 * for `rnn train` (rnn_trainer_run then returns 0). */
typedef int (*rnn_train_callback)(const rnn_train_event *event, void *user);

/* A trainer with `rnn train`'s defaults but one: "progress" is "quiet" (the
 * library writes nothing on stderr; the run's log lines go to train.log and
 * the callback has every step) unless set with rnn_trainer_set ("log": log
 * lines on stderr, "auto": a bar on a terminal; a config file's is not read). NULL + rnn_error() if out of memory;
 * the functions below then fail (or give "") with a message, not a crash. */
rnn_trainer *rnn_trainer_new(void);
void rnn_trainer_free(rnn_trainer *t); /* NULL is fine */
/* Sets one option, e.g. ("hidden", "256"), ("task", "classify"); a flag
 * takes NULL (true) or "true"/"false" ("yes"/"no" and "1"/"0" too). -1 + rnn_error() naming the option on an
 * unknown name (or one written "--hidden") or a value that does not read as
 * the option's kind ("eight" hidden units). A value that reads but is out of
 * the option's range ("lr" "-1", "dropout" "1.5") is refused, naming the
 * option, by rnn_trainer_run, as `rnn train` refuses it when it starts. */
int rnn_trainer_set(rnn_trainer *t, const char *name, const char *value);
/* Reads `name = value` lines, as `rnn train --config FILE` does: options set
 * with rnn_trainer_set win over a file's whenever each was given, as flags
 * win over --config; a later file over an earlier one. */
int rnn_trainer_load_config(rnn_trainer *t, const char *path);
/* Trains. 0 when the run ended (its length reached, early stopping, or cb
 * asked to stop); -1 + rnn_error() on failure. cb may be NULL. A resume
 * with nothing left to train (at its steps, time or patience) returns 0
 * with no event; its note says why in train.log (and on stderr when
 * "progress" is not "quiet"). */
int rnn_trainer_run(rnn_trainer *t, rnn_train_callback cb, void *user);
/* The run directory of the last rnn_trainer_run: "" before one, and after
 * one that failed before it opened its directory (a bad option, a missing
 * data file); a run that failed later names its directory, which holds what
 * it wrote (train.log says why). The trainer's string, valid until its next
 * run or rnn_trainer_free. */
const char *rnn_trainer_dir(const rnn_trainer *t);

#ifdef __cplusplus
}
#endif

#endif
