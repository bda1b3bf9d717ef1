/* st_edit.h: safetensors files for the tests: a fixture's tensors read as
 * float32, and a checkpoint with its metadata edited, for the tests that
 * damage one field (tests/test_api.c, tests/test_train.c). */
#ifndef RNN_TEST_ST_EDIT_H
#define RNN_TEST_ST_EDIT_H

#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "util.h"

/* Tensor name of st as float32, in a buffer of rnn_alloc's (rnn_free it;
 * 4 bytes spare), *n (may be NULL) its elements; NULL if st lacks it or it
 * cannot be read. */
static inline float *fixture_tensor(const rnn_st *st, const char *name, size_t *n) {
    const rnn_st_tensor *t = rnn_st_find(st, name);
    if (!t) return NULL;
    float *buf = rnn_calloc(t->numel * sizeof(float) + 4);
    if (!buf || rnn_st_read_f32(st, name, buf, t->numel, 0, NULL)) {
        rnn_free(buf);
        return NULL;
    }
    if (n) *n = t->numel;
    return buf;
}

/* Writes src's tensors and metadata to dst, with the n metadata keys[i]
 * set to vals[i] (added if absent; NULL removes the key). 0 or -1. */
static inline int edit_meta(const char *src, const char *dst, const char *const *keys, const char *const *vals, int n) {
    rnn_st *st = rnn_st_load(src);
    if (!st) return -1;
    int nt = rnn_st_count(st), nm = rnn_st_meta_count(st), rc = -1, k = 0;
    rnn_st_out *t = calloc((size_t)nt + 1, sizeof *t);
    const char **mk = calloc((size_t)(nm + n), sizeof *mk), **mv = calloc((size_t)(nm + n), sizeof *mv);
    if (t && mk && mv) {
        for (int i = 0; i < nt; i++) {
            const rnn_st_tensor *x = rnn_st_at(st, i);
            t[i] = (rnn_st_out){x->name, x->dtype, x->ndim, {0}, x->data};
            memcpy(t[i].shape, x->shape, sizeof x->shape);
        }
        for (int i = 0; i < nm; i++) {
            const char *key = rnn_st_meta_key(st, i), *val = rnn_st_meta(st, key);
            int j = 0;
            while (j < n && strcmp(keys[j], key)) j++;
            if (j < n) val = vals[j];
            if (val) mk[k] = key, mv[k++] = val;
        }
        for (int j = 0; j < n; j++)
            if (vals[j] && !rnn_st_meta(st, keys[j])) mk[k] = keys[j], mv[k++] = vals[j];
        rc = rnn_st_save(dst, t, nt, mk, mv, k);
    }
    free(t);
    free(mk);
    free(mv);
    rnn_st_free(st);
    return rc;
}

#endif
