/* checkpoint.h: models in and out of safetensors files with PyTorch's names
 * (docs/checkpoints.md): the tensors of the parameter table, and
 * __metadata__ with format, format_version, config, tokenizer and labels.
 *
 *   rnn_checkpoint ck = {0};
 *   if (rnn_checkpoint_load(&ck, "runs/x/model.safetensors")) die(rnn_last_error());
 *   ... ck.model, ck.tok, ck.labels ...
 *   rnn_checkpoint_free(&ck);
 */
#ifndef RNN_CHECKPOINT_H
#define RNN_CHECKPOINT_H

#include "model.h"
#include "safetensors.h"
#include "tokenizer.h"

typedef struct {
    rnn_model *model;
    rnn_tokenizer *tok;
    char **labels;  /* num_classes names (classify), else NULL */
    int n_labels;
    int label_base; /* 0 or 1 where the training data numbered the classes (--label-names):
                       integer label labels[k]'s is k + label_base; else -1 */
    /* A classifier's training data columns where its run gave them
     * (metadata "data_layout"; has_layout 0: the defaults), which rnn eval
     * reads a file with unless told otherwise. */
    int has_layout, layout_label_col;
    char layout_format[16], layout_header[8], layout_text_cols[64];
} rnn_checkpoint;

/* The "data_layout" object as rnn train writes it and rnn_describe shows it,
 * into buf (cap bytes). */
void rnn_layout_json(char *buf, size_t cap, const char *format, const char *header, int label_col, const char *text_cols);

/* Writes model (+ tokenizer, + labels when classify, + label_base when 0 or
 * 1) atomically. extra_keys /
 * extra_values add more metadata pairs, extra tensors more tensors (their
 * names must start with "train.": rnn train keeps its resume state so);
 * either may be NULL with a count of 0. A tied output layer (tie_weights)
 * is written as head.weight too, for PyTorch, unless there are extra
 * tensors. */
int rnn_checkpoint_save(const char *path, const rnn_model *m, const rnn_tokenizer *tok,
                        char *const *labels, int n_labels, int label_base, const char *const *extra_keys,
                        const char *const *extra_values, int n_extra,
                        const rnn_st_out *extra_tensors, int n_extra_tensors);

/* Loads and validates everything: metadata present and well-formed, every
 * tensor of the config present with the right shape, no unknown tensors,
 * vocab size of the tokenizer equal to the config's. Tensors named "train.*"
 * (training state) are skipped. On failure returns -1
 * with a message naming the file and leaves ck zeroed. */
int rnn_checkpoint_load(rnn_checkpoint *ck, const char *path);
void rnn_checkpoint_free(rnn_checkpoint *ck);

/* Copies the parameters of a loaded checkpoint file whose names and shapes
 * match into m (for --init-from): embedding and recurrent layers always (a
 * shape that differs is an error); with parts, those of the head group whose
 * shapes match: attention pooling's (RNN_COPY_POOLING), the output layer's
 * (RNN_COPY_HEAD). Returns the number of tensors copied, -1 on error. */
enum { RNN_COPY_POOLING = 1, RNN_COPY_HEAD = 2 };
int rnn_checkpoint_copy_params(rnn_model *m, const rnn_model *src, int parts);

/* What the checkpoint read from path holds, as one JSON object on one line
 * (rnn info --json; rnn.h's rnn_describe): path, task, parameters,
 * tokenizer {type, vocab_size, and its options}, labels, and config (the
 * model's, as its metadata holds it). Malloc'd; NULL + message when out of
 * memory. */
char *rnn_checkpoint_describe(const rnn_checkpoint *ck, const char *path);

#endif
