/* textdata.h: labelled text data sets for text classification, loaded from
 * TSV, CSV (RFC 4180), JSON lines or a directory tree (aclImdb layout).
 *
 *   rnn_data_opts o;
 *   rnn_data_opts_default(&o);                       // auto format, label in column 1
 *   rnn_dataset all, train, val, test;
 *   if (rnn_dataset_load(&all, "imdb/train.tsv", &o, NULL, 0)) die(rnn_last_error());
 *   if (rnn_dataset_split(&all, 0.1f, 42, &train, &val)) die(rnn_last_error());
 *   // a held-out set must use the training set's classes, in the same order:
 *   if (rnn_dataset_load(&test, "imdb/test.tsv", &o, train.labels, train.n_labels)) ...
 *   printf("%s -> %s\n", train.ex[0].text, train.labels[train.ex[0].label]);
 *   rnn_dataset_free(&all); rnn_dataset_free(&train); ...
 *
 * Formats ("auto" picks by extension .tsv .csv .jsonl .json, a directory is
 * "dir", any other file by its first line: '{' → jsonl, a tab → tsv, a comma
 * → csv):
 *   tsv    label<TAB>text, no quoting; CRLF accepted. The first row fixes the
 *          column count N; a later row is split on its first N-1 tabs, so a
 *          stray tab inside the last column stays in its text.
 *          Auto text = the last column that is not the label column
 *          (imdb "label<TAB>rating<TAB>review" → the review).
 *   csv    RFC 4180: "quoted" fields, "" is a quote inside quotes, quoted
 *          fields may hold commas and newlines. Text after a closing quote is
 *          kept (as Python's csv does). Auto text = every column but the label
 *          column, joined (AG News "3","title","description" → "title. description").
 *   jsonl  one {"text": "...", "label": "pos" or 3} object per line; blank
 *          lines skipped. A .json file must be JSON lines too (not an array).
 *   dir    DIR/<label>/<name>.txt, one example per file (whole file), label =
 *          subdirectory name. Directories and files in bytewise name order;
 *          hidden entries and aclImdb's unlabelled "unsup" directory skipped.
 * Several text columns are joined with ". ", or with " " after a column that
 * already ends in . ! ? ; : or , ; empty columns are left out. Texts are kept
 * byte for byte (no normalisation, no UTF-8 check: the tokenizer does that);
 * a leading UTF-8 byte order mark is dropped; label cells are trimmed of
 * spaces. An empty text is kept as "". A NUL byte in a file is an error.
 *
 * Every error is one line naming the file and line ("data.tsv:17: expected at
 * least 2 tab-separated columns, found 1"); on error *d is left zeroed and
 * nothing is leaked.
 */
#ifndef RNN_TEXTDATA_H
#define RNN_TEXTDATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *text; /* NUL-terminated UTF-8 as found in the file (malloc'd, owned by the data set) */
    int label;  /* class id, index into rnn_dataset.labels */
} rnn_example;

typedef struct {
    rnn_example *ex; /* (n) examples in file order */
    size_t n;
    char **labels;   /* (n_labels) labels[i] = name of class i (malloc'd strings) */
    int n_labels;
    int label_base;  /* with label_names: the base used (0 or 1), else -1 */
    int header_line; /* the line of a first row that header detection (header -1) skipped; 0: none */
    int header_repeats; /* rows just like that header further on (files joined), skipped too */
    int lone_first;  /* the line of a first row read as data whose label no other row has (a header? --header yes) */
} rnn_dataset;

typedef struct {
    const char *format;      /* "auto" (or NULL / ""), "tsv", "csv", "jsonl" ("json"), "dir" */
    int label_col;           /* tsv/csv: 1-based label column; 0 = auto (column 1) */
    const char *text_cols;   /* tsv/csv: NULL / "" = auto; else columns like "3", "2,3", "2-3", "1,3-4" */
    int header;              /* tsv/csv: -1 auto-detect, 0 no header, 1 first row is a header */
    int columns_soft;        /* 1: label_col, text_cols and header are defaults (a model's), which a
                                JSON lines file or a directory reads on without; 0: refused there */
    const char *label_names; /* optional file, one class name per line (AG News classes.txt):
                                integer label k is named by line k - label_base + 1 */
    int label_base;          /* with label_names: 0 (label 0 is the first name) or 1; -1: from the
                                labels, 0 when one is 0, 1 when one is the number of names, an
                                error when neither (both would fit). Without label_names but with
                                known_labels (0 or 1): an integer label that is no known name is
                                known label k - label_base (as a model trained with label_names
                                numbers its classes) */
    int check_utf8;          /* 1: every text must be valid UTF-8 without NUL bytes, an error naming
                                file:line otherwise (for the char, word and wordpiece tokenizers
                                without invalid_utf8_replace). Labels always must. */
    int strip_html;          /* with check_utf8: the tags the tokenizer's strip_html drops
                                (tokenizer.h) are not read, as encoding does not read them */
} rnn_data_opts;

/* Defaults: format "auto", label_col 0, text_cols NULL, header -1, label_names NULL, label_base -1,
 * check_utf8 0, strip_html 0. */
void rnn_data_opts_default(rnn_data_opts *o);

/* Loads path into *d (o NULL = defaults).
 *
 * Classes: with known_labels (n_known > 0; the training set's or a
 * checkpoint's names) d->labels is a copy of them and each label is mapped to
 * its id there; a label not among them is an error naming file:line. With
 * known_labels NULL the set is built from the labels found: sorted
 * numerically if every label is an integer ("9" before "10"), else bytewise,
 * so ids are deterministic. With o->label_names every label must be an
 * integer and is first replaced by its name; without known_labels the classes
 * are then all the names, in file order.
 *
 * Header auto-detection (header = -1): the first row is a header when its
 * label cell and text cells look like column names (a letter, then at most 32
 * letters, digits, "_-." and at most 3 words: "label", "text", "sentence")
 * and its label is not a real one (not among the known labels / not an
 * integer when label_names is given / found in no other row).
 *
 * Returns 0, or -1 with a message (rnn_last_error) and *d zeroed. Free with
 * rnn_dataset_free. */
int rnn_dataset_load(rnn_dataset *d, const char *path, const rnn_data_opts *o, char *const *known_labels,
                     int n_known);

/* Frees everything in *d and zeroes it; safe on a zeroed data set. */
void rnn_dataset_free(rnn_dataset *d);

/* Stratified split: for each class, shuffles its examples with an rnn_rng
 * seeded by seed (Fisher-Yates, classes in id order, one generator) and moves
 * the first round(frac * count) of them into *val; *train keeps the rest.
 * Both keep the original order of their examples and get deep copies of the
 * texts and label names, so all three are freed independently. frac must be
 * in [0, 1]. Returns 0, or -1 with a message and both outputs zeroed. */
int rnn_dataset_split(const rnn_dataset *all, float frac, uint64_t seed, rnn_dataset *train, rnn_dataset *val);

#endif
