/* st_edit.h: a checkpoint with its metadata edited, for the tests that
 * damage one field (tests/test_api.c, tests/test_train.c). */
#ifndef RNN_TEST_ST_EDIT_H
#define RNN_TEST_ST_EDIT_H

#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* Writes src's tensors and metadata to dst, with the n metadata keys[i]
 * set to vals[i] (added if absent; NULL removes the key). 0 or -1. */
static int edit_meta(const char *src, const char *dst, const char *const *keys, const char *const *vals, int n) {
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
