/* util.h: errors, checked allocation and small helpers shared by every module.
 *
 * The library never exits. A failing function records a one-line message with
 * rnn_errorf() (thread-local) and returns an error value (-1 or NULL); the
 * caller shows rnn_last_error().
 *
 *   float *w = rnn_alloc(n * sizeof(float));      // NULL + message on failure
 *   if (!w) return -1;
 *   if (bad) return rnn_errorf("%s:%d: bad line", path, line);   // returns -1
 */
#ifndef RNN_UTIL_H
#define RNN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Record an error message (printf-style). Always returns -1. */
int rnn_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Puts the formatted prefix and ": " before the recorded message (a file's
 * name before what a reader found in it). Always returns -1. */
int rnn_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message recorded on this thread ("" if none). */
const char *rnn_last_error(void);
/* s as one line of valid UTF-8, as rnn_errorf records a message, into out
 * (cap >= 6 bytes, NUL-terminated): valid sequences kept, invalid bytes and
 * control characters written as C escapes ("\n", "\x1b", "\xff"); it stops
 * before what does not fit, never inside a character or an escape. Returns
 * the length written. */
size_t rnn_escape(char *out, size_t cap, const char *s);

/* malloc/calloc/realloc that record "out of memory (N bytes)" on failure.
 * Memory is 64-byte aligned (rnn_alloc/rnn_calloc) so SIMD loads never split
 * cache lines; free it with rnn_free. */
void *rnn_alloc(size_t bytes);
void *rnn_calloc(size_t bytes);
void rnn_free(void *p);
void *rnn_realloc(void *p, size_t bytes); /* plain malloc'd memory only */
char *rnn_strdup(const char *s);

/* A growable byte string, always NUL-terminated once written to (p is
 * free()'d by its owner): {0} is empty. rnn_sbuf_put appends n bytes of s;
 * -1 + message when out of memory. */
typedef struct {
    char *p;
    size_t n, cap;
} rnn_sbuf;
int rnn_sbuf_put(rnn_sbuf *b, const char *s, size_t n);
/* Appends s as the inside of a JSON string: '"', '\\' and control
 * characters escaped (\u00XX), UTF-8 as it is, and each byte that is not
 * part of valid UTF-8 (a file name's, say) as \ufffd, so that the JSON text
 * is valid. 0 or -1. */
int rnn_sbuf_json_string(rnn_sbuf *b, const char *s);

/* Reads a whole file into a NUL-terminated buffer; *len gets its size.
 * Files over rnn_read_limit() are refused with a message. */
char *rnn_read_file(const char *path, size_t *len);
/* What this process may use: physical memory, or the address-space limit
 * (ulimit -v) when that is lower. */
size_t rnn_mem_limit(void);
/* The most bytes a file read into memory may have: half of physical memory,
 * or of the address-space limit (ulimit -v) when that is lower; more could
 * only be read by swapping, or end in the kernel's OOM killer. */
size_t rnn_read_limit(void);
/* The message for a file over the limit; returns -1. */
int rnn_read_too_large(const char *path, size_t limit);
/* The same; with stop_at_nul, reading stops once a NUL byte has been read
 * (the buffer then holds it), for readers that refuse NUL bytes: a device
 * or pipe of binary data (/dev/zero) is refused at once instead of being
 * read until memory runs out. */
char *rnn_read_file_ex(const char *path, size_t *len, int stop_at_nul);
/* rnn_read_file_ex for a file the caller has opened and begun to read: the
 * buffer starts with head (head_len <= 65536 bytes, already read from f), then the
 * rest of f up to rnn_read_limit(). Closes f whatever happens. */
char *rnn_read_stream(FILE *f, const char *path, const void *head, size_t head_len, size_t *len,
                      int stop_at_nul);
/* 3 if s (n bytes) starts with a UTF-8 byte order mark, else 0: it marks
 * the encoding and is not text, so every reader of text files skips it. */
size_t rnn_bom_len(const char *s, size_t n);
/* rnn_read_file(_ex) for text: a leading byte order mark is dropped. */
char *rnn_read_text_file(const char *path, size_t *len);
char *rnn_read_text_file_ex(const char *path, size_t *len, int stop_at_nul);

/* The sorted names (not paths) in dir of its subdirectories (want_dir) or
 * of its regular files, symbolic links followed and hidden ones (".name")
 * skipped, in *out (rnn_free_names them); other kinds (FIFOs, devices) are
 * skipped too, and an entry that cannot be looked at (a broken link) is an
 * error. Returns the count, or -1 with a message. */
int rnn_list_dir(const char *dir, int want_dir, char ***out);
void rnn_free_names(char **names, int n); /* NULL is fine */
/* Appends a copy of s to the list *names of *n (room for *cap, grown by
 * doubling from 16). -1 + message when out of memory. */
int rnn_names_push(char ***names, int *n, int *cap, const char *s);
/* Calls visit(path, user) for each regular file under dir: a directory's
 * files in name order, then its subdirectories' the same way; hidden names,
 * run directories below dir (config.txt and train.log: a run trained with
 * --data . writes one inside it) and a directory met again through a link
 * (/usr/bin/X11 -> .) skipped; enter (may be NULL) says of each
 * subdirectory whether to walk it (1), skip it (0) or stop (-1 with a
 * message). Stops at the first visit that returns non-zero. 0, or -1 with
 * a message. */
int rnn_walk_files(const char *dir, int (*visit)(const char *path, void *user),
                   int (*enter)(const char *dir, void *user), void *user);
/* A language model's text: the file at path as rnn_read_text_file_ex reads
 * it, or, for a directory, its regular files' texts joined, each ending in a
 * newline (one added where it lacks it): a directory's files in name order,
 * then its subdirectories', hidden ones, run directories (config.txt and
 * train.log) and a directory met again through a link skipped. With
 * refused_at (a tokenizer that refuses invalid UTF-8 and NUL bytes: it gives
 * the first byte of s, n bytes, that encoding with arg refuses, n where none;
 * tokenizer.h's rnn_tok_refused), reading stops at a NUL byte and a byte
 * refused in a directory's file is reported with that file's path; the
 * whole is held to rnn_read_limit(). */
char *rnn_read_text_tree(const char *path, size_t *len, size_t (*refused_at)(const char *s, size_t n, const void *arg),
                         const void *arg);

/* Replaces the file at path all at once: fill(f, arg) writes the contents
 * to a temporary file beside it (0, or non-zero when a write failed), which
 * is flushed to disk and renamed over path, the rename made durable; a
 * failure or a kill leaves the old file. The new file has the old one's mode,
 * else what open(..., 0666) would give. -1 + message naming path ("write
 * failed ... (previous file kept)"). */
int rnn_replace_file(const char *path, int (*fill)(FILE *f, void *arg), void *arg);
/* Replaces path in one step with a second name (a hard link) for the file
 * src, made under a temporary name beside path and renamed over it, the
 * rename made durable. -1 + message (path left as it was) where links
 * cannot be made, e.g. on a file system without them. */
int rnn_replace_with_link(const char *src, const char *path);
/* rnn_replace_file with n bytes of data. */
int rnn_write_atomic(const char *path, const char *data, size_t n);
/* A string from a file as it may appear inside a one-line message: control
 * characters become '?' and long strings are cut (at a UTF-8 boundary) with
 * "...". Returned by value so it can be used inline in an argument list:
 * rnn_errorf("label \"%s\" ...", rnn_show(label).s). */
typedef struct {
    char s[100];
} rnn_shown;
rnn_shown rnn_show(const char *s);


/* Wall-clock seconds (monotonic). */
double rnn_now(void);

/* Deterministic random numbers (xoshiro128+-style, 64-bit state), so runs
 * repeat exactly for a seed and the state can be saved for --resume. */
typedef struct { uint64_t s[2]; } rnn_rng;
void rnn_rng_seed(rnn_rng *r, uint64_t seed);
uint64_t rnn_rng_next(rnn_rng *r);
float rnn_rng_uniform(rnn_rng *r);             /* [0, 1) */
float rnn_rng_normal(rnn_rng *r);              /* N(0, 1) */

/* Decodes the UTF-8 code point at s[*pos] (*pos < n) and advances past it.
 * Returns -1 and advances one byte on anything but a shortest-form scalar
 * value: bad lead or continuation bytes, truncation, overlongs, surrogates,
 * values above U+10FFFF; also on NUL, which no C string token can hold. */
int32_t rnn_utf8_next(const unsigned char *s, size_t n, size_t *pos);
/* -1 if s[0..n) is valid UTF-8 without NUL bytes, else the offset of the
 * first byte rnn_utf8_next refuses. */
long rnn_utf8_bad_at(const char *s, size_t n);
/* The 1-based offset of the first NUL character in the JSON text s[0..n),
 * a NUL byte or a \u0000 escape; 0 if none. cJSON's strings end at a NUL,
 * so a string holding one would be read cut short there, silently (a token
 * "co\u0000me" as "co"). Outside strings JSON has no backslashes, so
 * skipping each escape's next character tells "\u0000" from "\\u0000". */
long rnn_json_nul_at(const char *s, size_t n);
/* The 1-based offset of the first raw control character (a byte below
 * 0x20) inside a string of the JSON text s[0..n), 0 if none: JSON writes
 * them escaped (\u000f, \n), and cJSON takes them as they are where Python's
 * json and the safetensors package refuse the text. */
long rnn_json_raw_control_at(const char *s, size_t n);
/* The first key that a JSON object (a cJSON *) gives twice, or NULL: cJSON
 * finds a key's first value and Python's json its last, so a file that gives
 * one twice reads one way here and another way in PyTorch's twin. */
struct cJSON;
const char *rnn_json_repeated_key(const struct cJSON *obj);
/* getline(3) with a limit: reads a line into *line (grown as needed, *cap
 * its size) and returns its length with its '\n'; -1 at the end of the
 * input, -2 on a read error (errno says which), -3 once max bytes came
 * without an end of line (endless input, such as /dev/zero, stops there).
 * stop_at_nul: a NUL byte ends the line too (it is kept, for the caller's
 * message), so binary input is caught at its first one. */
long rnn_getline(char **line, size_t *cap, FILE *f, size_t max, int stop_at_nul);
/* The index of the first NaN or infinity in x[0..n), or n if none. */
size_t rnn_nonfinite_at(const float *x, size_t n);
/* Sets the message for the bad byte at s[at] of the n-byte input ("input has
 * invalid UTF-8 at byte N (line L)", or a NUL byte; the line only where the
 * input has more than one) and returns -1. */
int rnn_utf8_error(const char *s, size_t n, size_t at);
/* The same for text read from the file at path ("PATH: input has ..."), the
 * byte counted as the file has it: a byte order mark that reading dropped
 * (rnn_read_text_file) counts too. A directory's text: as rnn_utf8_error. */
int rnn_utf8_file_error(const char *path, const char *s, size_t n, size_t at);

/* 0 and *v if s is one finite decimal number and nothing else (no blank
 * before or after it); -1 (no message) for junk, hex ("0x10", which strtod
 * reads as 16), inf or nan; -2 for a decimal number out of double's range
 * (1e999, or 1e-320, which only a subnormal holds). */
int rnn_parse_decimal(const char *s, double *v);

/* Reverses n token ids in place (a backward language model's text). */
void rnn_reverse_ids(int32_t *ids, size_t n);

#endif
