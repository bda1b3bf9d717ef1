/* safetensors.h: read and write safetensors files, the checkpoint format.
 *
 * Format (https://github.com/huggingface/safetensors): 8-byte little-endian
 * header length N, N bytes of JSON header
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * then the data section; offsets are relative to the start of the data section.
 *
 * Loading validates everything (file size, header length, JSON, dtypes, shapes,
 * offsets inside the file, byte counts = product(shape) * dtype size, no
 * overlapping tensors, no holes or trailing bytes) and never crashes on a
 * damaged file: it returns NULL with a one-line message naming the file
 * (rnn_last_error()). rnn_st_load reads the whole file into memory (t->data
 * points into it); rnn_st_open reads and checks the header only and keeps
 * the file open, and each rnn_st_read_* reads its tensor's bytes from the
 * file straight into the caller's buffer (t->data is NULL): a big model is
 * then in memory once. A file cut short after it was opened makes the read
 * fail with a message naming the file and tensor.
 * Writing is atomic: a temporary file in the same directory, fsync, rename.
 *
 *   rnn_st *st = rnn_st_open("model.safetensors");
 *   if (!st) { fprintf(stderr, "%s\n", rnn_last_error()); return 1; }
 *   const rnn_st_tensor *w = rnn_st_find(st, "rnn.weight_hh_l0");
 *   const char *cfg = rnn_st_meta(st, "config");      // NULL if absent
 *   if (rnn_st_read_f32(st, "rnn.weight_hh_l0", buf, n, 0, NULL)) ...
 *   rnn_st_free(st);
 */
#ifndef RNN_SAFETENSORS_H
#define RNN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RNN_DT_F32, RNN_DT_I32, RNN_DT_I64, RNN_DT_BF16, RNN_DT_F16, RNN_DT_F64 } rnn_dtype;

#define RNN_ST_MAX_DIMS 8

typedef struct {
    const char *name;
    rnn_dtype dtype;
    int ndim;
    int64_t shape[RNN_ST_MAX_DIMS];
    size_t numel;
    const void *data;  /* rnn_st_load: points into the loaded file, 8-byte alignment not promised;
                          rnn_st_open: NULL (read with rnn_st_read_*) */
    size_t nbytes;
} rnn_st_tensor;

typedef struct rnn_st rnn_st; /* a loaded file: owns its bytes, or the open file */

rnn_st *rnn_st_load(const char *path); /* the whole file in memory */
rnn_st *rnn_st_open(const char *path); /* the header; tensors read when asked (a pipe: as rnn_st_load) */
void rnn_st_free(rnn_st *st);
int rnn_st_count(const rnn_st *st);
const rnn_st_tensor *rnn_st_at(const rnn_st *st, int i);            /* in file order */
const rnn_st_tensor *rnn_st_find(const rnn_st *st, const char *name); /* NULL if absent */
const char *rnn_st_meta(const rnn_st *st, const char *key);         /* NULL if absent */
int rnn_st_meta_count(const rnn_st *st);
const char *rnn_st_meta_key(const rnn_st *st, int i);

/* Copies tensor `name` into dst as float32 (F32 copied; BF16/F16/F64 converted;
 * integer dtypes rejected). The tensor must have exactly `numel` elements and,
 * when ndim > 0, the given shape (shape may be NULL to skip the shape check).
 * Returns 0, or -1 with a message naming the file and the tensor. */
int rnn_st_read_f32(const rnn_st *st, const char *name, float *dst, size_t numel, int ndim,
                    const int64_t *shape);
/* Same for integer tensors (I32 or I64) into int32; dst is untouched when
 * an I64 value does not fit. */
int rnn_st_read_i32(const rnn_st *st, const char *name, int32_t *dst, size_t numel);

/* rnn_st_read_f32's check alone: tensor `name` with numel elements and (ndim
 * > 0, shape given) that shape, or NULL with the same message. */
const rnn_st_tensor *rnn_st_find_checked(const rnn_st *st, const char *name, size_t numel, int ndim,
                                         const int64_t *shape);
/* Elements [first, first + count) of t (a tensor of st, e.g. from
 * rnn_st_find_checked) as float32, converted as rnn_st_read_f32 does: a big
 * tensor can be read piece by piece. 0, or -1 with a message. */
int rnn_st_read_f32_at(const rnn_st *st, const rnn_st_tensor *t, size_t first, size_t count, float *dst);
/* Bytes [at, at + n) of t's data as stored (little-endian). 0, or -1 with a message. */
int rnn_st_read_bytes(const rnn_st *st, const rnn_st_tensor *t, size_t at, void *dst, size_t n);

/* Writing: describe each tensor, then write them all at once. */
typedef struct {
    const char *name;
    rnn_dtype dtype;
    int ndim;
    int64_t shape[RNN_ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes, little-endian */
} rnn_st_out;

/* Writes the tensors (in the order given) and the metadata key/value string
 * pairs atomically to path. Returns 0 or -1 with a message. */
int rnn_st_save(const char *path, const rnn_st_out *tensors, int n, const char *const *meta_keys,
                const char *const *meta_values, int n_meta);

size_t rnn_dtype_size(rnn_dtype dt);

#endif
