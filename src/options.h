/* options.h: every training option, listed once. The `rnn train` flags
 * (--name value), `--config FILE` lines (name = value) and the resolved
 * config a run directory records all go through this one table, so a flag,
 * its config-file key and its documentation cannot drift apart.
 *
 *   rnn_opts o; rnn_opts_default(&o);
 *   if (rnn_opts_set(&o, "hidden", "512")) die(rnn_last_error());
 *   if (rnn_opts_load_file(&o, "my.cfg")) die(rnn_last_error());
 */
#ifndef RNN_OPTIONS_H
#define RNN_OPTIONS_H

#include <stdio.h>

#define RNN_OPT_STR 512
/* A list with one number per class (--class-weight): room for thousands of classes. */
#define RNN_OPT_LIST 16384
#define RNN_OPT_MAX 128 /* room for the table's options (options.c checks) */

typedef struct {
    /* data */
    char data[RNN_OPT_STR], val[RNN_OPT_STR], tokenizer[RNN_OPT_STR], vectors[RNN_OPT_STR];
    char format[16];           /* classify data: auto|tsv|csv|jsonl|dir */
    float val_frac;
    int min_count, max_vocab, lowercase, split_punct, strip_html, replace_invalid;
    int label_col;             /* classify TSV/CSV label column (1-based; 0 = auto) */
    char text_cols[64];        /* classify text columns, e.g. "3" or "2,3" ("" = auto) */
    char label_names[RNN_OPT_STR]; /* file naming integer labels, one per line */
    char header[8];                /* classify TSV/CSV first row: "auto", "yes" (a header), "no" (data) */
    char label_base[8];            /* with label_names: "0", "1", or "auto" (from the training labels) */
    int max_len;               /* classify: truncate texts to this many tokens */
    char truncate[8];          /* head|tail */
    /* model */
    char task[16], cell[16], pool[16], loss[8];
    char class_weight[RNN_OPT_LIST]; /* classify: none | balanced | w0,w1,... (rnn_class_weight_parse) */
    float label_smoothing;     /* training loss: PyTorch's label_smoothing, in [0, 1) */
    int layers, hidden, embed, bidirectional, residual, attention_dim, freeze_embedding, tie_weights;
    int grow_vocab;            /* fine-tuning: add the training text's new tokens to the vocabulary */
    int reverse;               /* lm: train on the text read right to left */
    char init_backward[RNN_OPT_STR]; /* classify: a --reverse LM for the backward direction */
    float dropout, embed_dropout, head_dropout, weight_drop, recurrent_dropout, forget_bias;
    int locked_dropout;
    int random_offset;         /* lm: each epoch after the first rotates the streams by a random offset */
    float word_dropout;        /* training: input tokens become <unk> with this probability */
    int cache;                 /* lm: neural cache pairs (0: none; not given: the --init-from model's) */
    float cache_theta, cache_lambda;
    /* optimisation */
    char optimizer[16], schedule[16];
    int seq_len, batch;
    float lr, weight_decay, momentum, beta1, beta2, eps, clip, clip_value, min_lr, gamma, factor;
    int nesterov, warmup, step_size, lr_patience, freeze_epochs;
    float encoder_lr_mult;
    float ema;                 /* weight averaging decay (0: off) */
    /* length of the run */
    int epochs;
    long steps;
    double time;
    int eval_every, log_every, patience;
    /* files and machine */
    char init_from[RNN_OPT_STR], resume[RNN_OPT_STR], out[RNN_OPT_STR], progress[8];
    int overwrite; /* 1: --out may hold a run, whose checkpoints are replaced */
    int threads;
    char precision[8];         /* fp32|bf16 */
    long seed;
    /* which options rnn_opts_set has set (a flag, a config file's line):
     * where a default and a value the user gave mean different things
     * (--cache 0 when fine-tuning a model with a cache). By table order. */
    unsigned char given[RNN_OPT_MAX];
} rnn_opts;

void rnn_opts_default(rnn_opts *o);
/* Sets one option by name (flag name without "--"). For boolean options
 * value may be NULL (meaning true). -1 + message naming the option. */
int rnn_opts_set(rnn_opts *o, const char *name, const char *value);
/* Copies onto dst each option src has given (rnn_opts_set), marking it
 * given: the later of two sources of options winning. */
void rnn_opts_overlay(rnn_opts *dst, const rnn_opts *src);
/* Marks the option name as not given (its value stays). */
void rnn_opts_forget(rnn_opts *o, const char *name);
/* 1 if rnn_opts_set has set the option name on o, else 0. */
int rnn_opts_given(const rnn_opts *o, const char *name);
/* The value a flag's word gives: 1 (1, true, yes), 0 (0, false, no), -1
 * (auto: the tokenizer's own default), or 2 for a word that is none. */
int rnn_opts_bool_word(const char *s);
/* 1 if name is a boolean option (a flag that takes no value), 0 if it takes
 * a value, -1 (with message) if there is no such option. */
int rnn_opts_is_flag(const char *name);
/* Reads `name = value` lines (# comments, blank lines); errors name file:line. */
int rnn_opts_load_file(rnn_opts *o, const char *path);
/* Writes every option as `name = value` lines (a file --config can read). */
int rnn_opts_write(const rnn_opts *o, FILE *f);
/* 0 if now (a resumed run's options: its config.txt, then --config and
 * flags) keeps every option that defines the run in dir as run has it; else
 * -1 and a message naming the first that differs. */
int rnn_opts_check_resume(const rnn_opts *run, const rnn_opts *now, const char *dir);
/* The same check between the options saved in a run's state (saved) and
 * those a resume runs with (now, from its config.txt): -1 + a message
 * naming config.txt when it was edited or damaged. */
int rnn_opts_check_state(const rnn_opts *saved, const rnn_opts *now, const char *dir);
/* Makes the options that name files (--data, --val, --vectors,
 * --label-names, --init-from, --init-backward, --out) absolute, so that a
 * run's config.txt resumes from any directory; -1 + message if one would
 * not fit. */
int rnn_opts_absolute_paths(rnn_opts *o);
/* The options as config.txt lines in one malloc'd string (free() it), and
 * back, as a run saved them (a name this build does not know is refused as
 * damage): name gives messages their place. NULL / -1 + message on failure. */
char *rnn_opts_to_string(const rnn_opts *o);
int rnn_opts_load_string(rnn_opts *o, const char *text, const char *name);
/* -1 + message naming the first option, left off its default, that is for
 * the other task (its help starts "classify:" or "lm:"): a language model's
 * --label-names, a classifier's --seq-len. */
int rnn_opts_check_task(const rnn_opts *o);
/* -1 + message naming the first option, left off its default, that does
 * nothing with the others: --momentum with adam, --gamma without --schedule
 * step, --dropout (between stacked layers) with one layer, ... */
int rnn_opts_check_unused(const rnn_opts *o);
/* --class-weight's value: RNN_CW_NONE ("none"), RNN_CW_BALANCED
 * ("balanced"), or RNN_CW_LIST for a comma-separated list of positive finite
 * numbers, whose count goes to *n and whose first cap values go to w (may be
 * NULL). -1 + a message naming the flag for anything else. */
enum { RNN_CW_NONE, RNN_CW_BALANCED, RNN_CW_LIST };
int rnn_class_weight_parse(const char *s, float *w, int cap, int *n);
/* Prints the options with their help text. */
void rnn_opts_help(FILE *f);

#endif
