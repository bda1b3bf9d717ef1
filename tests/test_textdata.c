/* test_textdata.c: labelled text data sets (TSV, CSV, JSON lines, directory
 * tree), label sets, the stratified split and every error path. Expected
 * values are written out by hand from the fixture bytes; the real data sets
 * are checked against the counts in their PROVENANCE.md files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "textdata.h"
#include "util.h"

#define FIX "tests/fixtures/textdata/"

/* ---- a scratch directory under /tmp, removed at the end ---------------- */

static char tmpdir[64];
static char *created[256]; /* files and directories, removed in reverse order */
static int n_created;

static const char *tmp_path(const char *name) {
    static char bufs[8][256];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 256, "%s/%s", tmpdir, name);
    return b;
}

static void remember(const char *path) {
    if (n_created < 256) created[n_created++] = strdup(path);
}

/* Writes content (len bytes, or strlen when len is (size_t)-1) to tmpdir/name. */
static const char *write_tmp_n(const char *name, const char *content, size_t len) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(2);
    }
    if (fwrite(content, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        exit(2);
    }
    remember(p);
    return p;
}
static const char *write_tmp(const char *name, const char *content) {
    return write_tmp_n(name, content, strlen(content));
}

static void make_dir(const char *name) {
    const char *p = tmp_path(name);
    if (mkdir(p, 0755) != 0) {
        perror(p);
        exit(2);
    }
    remember(p);
}

static void cleanup(void) {
    for (int i = n_created - 1; i >= 0; i--) {
        if (remove(created[i]) != 0) perror(created[i]);
        free(created[i]);
    }
    if (tmpdir[0] && rmdir(tmpdir) != 0) perror(tmpdir);
}

static rnn_data_opts opts(void) {
    rnn_data_opts o;
    rnn_data_opts_default(&o);
    return o;
}

static int zeroed(const rnn_dataset *d) { return !d->ex && !d->n && !d->labels && !d->n_labels; }

/* Load must fail, leave *d zeroed, with a one-line message holding every
 * one of want1/want2 (want2 may be NULL). */
static void check_error(const char *path, const rnn_data_opts *o, char *const *known, int n_known,
                        const char *want1, const char *want2) {
    rnn_dataset d;
    memset(&d, 0x5a, sizeof d);
    int rc = rnn_dataset_load(&d, path, o, known, n_known);
    const char *m = rnn_last_error();
    CHECK(rc == -1, "%s: load should fail", path);
    CHECK(zeroed(&d), "%s: dataset not zeroed after an error", path);
    CHECK(strstr(m, want1) != NULL, "message \"%s\" lacks \"%s\"", m, want1);
    if (want2) CHECK(strstr(m, want2) != NULL, "message \"%s\" lacks \"%s\"", m, want2);
    CHECK(strchr(m, '\n') == NULL, "message \"%s\" is not one line", m);
    printf("  error: %s\n", m);
    if (rc == 0) rnn_dataset_free(&d);
}

#define LOAD_OK(d, path, o, known, nk)                                                            \
    do {                                                                                          \
        int rc_ = rnn_dataset_load((d), (path), (o), (known), (nk));                              \
        CHECK(rc_ == 0, "load %s: %s", (path), rnn_last_error());                                 \
        if (rc_) return;                                                                          \
    } while (0)

/* ---- TSV ---------------------------------------------------------------- */

static void test_tsv_two_columns(void) {
    const char *p = write_tmp("two.tsv", "1\ta stirring , funny film\n0\tapparently reassembled .\n1\tb\n");
    rnn_data_opts o = opts();
    rnn_dataset d;
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 3, "n = %zu", d.n);
    CHECK(d.n_labels == 2 && !strcmp(d.labels[0], "0") && !strcmp(d.labels[1], "1"), "labels");
    CHECK(d.ex[0].label == 1 && !strcmp(d.ex[0].text, "a stirring , funny film"), "ex0 \"%s\"", d.ex[0].text);
    CHECK(d.ex[1].label == 0 && !strcmp(d.ex[1].text, "apparently reassembled ."), "ex1");
    CHECK(d.ex[2].label == 1 && !strcmp(d.ex[2].text, "b"), "ex2");
    rnn_dataset_free(&d);
    CHECK(zeroed(&d), "free zeroes");
    rnn_dataset_free(&d); /* safe twice */
}

/* label<TAB>rating<TAB>text with CRLF: text = last column, a stray tab stays
 * in it, an empty text is kept, a blank line is skipped. */
static void test_tsv_three_columns_crlf(void) {
    rnn_data_opts o = opts();
    rnn_dataset d;
    LOAD_OK(&d, FIX "reviews.tsv", &o, NULL, 0);
    CHECK(d.n == 4, "n = %zu", d.n);
    CHECK(d.n_labels == 2 && !strcmp(d.labels[0], "neg") && !strcmp(d.labels[1], "pos"), "labels");
    if (d.n == 4) {
        CHECK(!strcmp(d.ex[0].text, "Great film, loved it.") && d.ex[0].label == 1, "ex0 \"%s\"", d.ex[0].text);
        CHECK(!strcmp(d.ex[1].text, "Dull.\tand slow") && d.ex[1].label == 0, "ex1 \"%s\"", d.ex[1].text);
        CHECK(!strcmp(d.ex[2].text, "") && d.ex[2].label == 1, "ex2 empty text kept: \"%s\"", d.ex[2].text);
        CHECK(!strcmp(d.ex[3].text, "Worst \"movie\" ever") && d.ex[3].label == 0, "ex3 \"%s\"", d.ex[3].text);
    }
    rnn_dataset_free(&d);

    /* columns 2-3 joined: "9" gets ". ", an empty column is left out */
    o.text_cols = "2-3";
    LOAD_OK(&d, FIX "reviews.tsv", &o, NULL, 0);
    CHECK(!strcmp(d.ex[0].text, "9. Great film, loved it."), "joined \"%s\"", d.ex[0].text);
    CHECK(!strcmp(d.ex[2].text, "8"), "joined with empty \"%s\"", d.ex[2].text);
    rnn_dataset_free(&d);

    /* the rating as label, the review as text */
    o = opts();
    o.label_col = 2;
    o.text_cols = "3";
    LOAD_OK(&d, FIX "reviews.tsv", &o, NULL, 0);
    CHECK(d.n_labels == 4, "n_labels %d", d.n_labels);
    if (d.n_labels == 4)
        CHECK(!strcmp(d.labels[0], "1") && !strcmp(d.labels[1], "2") && !strcmp(d.labels[2], "8") &&
                  !strcmp(d.labels[3], "9"),
              "rating labels sorted");
    CHECK(d.ex[0].label == 3 && d.ex[3].label == 0, "rating ids");
    rnn_dataset_free(&d);
}

/* GLUE style "sentence<TAB>label" with a header: label_col 2, auto text = column 1. */
static void test_tsv_label_last_with_header(void) {
    rnn_data_opts o = opts();
    o.label_col = 2;
    rnn_dataset d;
    LOAD_OK(&d, FIX "sentences.tsv", &o, NULL, 0);
    CHECK(d.n == 3, "header dropped: n = %zu", d.n);
    CHECK(d.n_labels == 2 && !strcmp(d.labels[0], "0"), "labels 0,1");
    CHECK(!strcmp(d.ex[0].text, "hide new secretions from the parental units") && d.ex[0].label == 0, "ex0");
    CHECK(!strcmp(d.ex[1].text, "the greatest musicians") && d.ex[1].label == 1, "ex1");
    rnn_dataset_free(&d);

    /* header = 0 keeps the first row as an example with label "label" */
    o.header = 0;
    LOAD_OK(&d, FIX "sentences.tsv", &o, NULL, 0);
    CHECK(d.n == 4 && d.n_labels == 3 && !strcmp(d.labels[2], "label"), "header=0: n %zu labels %d", d.n,
          d.n_labels);
    CHECK(!strcmp(d.ex[0].text, "sentence"), "header=0 first text");
    rnn_dataset_free(&d);

    /* header = 1 drops a first row that looks like data */
    const char *p = write_tmp("h1.tsv", "pos\tgood\nneg\tbad\npos\tfine\n");
    o = opts();
    o.header = 1;
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 2 && !strcmp(d.ex[0].text, "bad"), "header=1: n %zu", d.n);
    rnn_dataset_free(&d);
    /* auto: a first row whose label recurs is data, even with short texts */
    o.header = -1;
    p = write_tmp("h2.tsv", "pos\tgood\nneg\tbad\npos\tfine\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 3, "auto header kept data row: n %zu", d.n);
    rnn_dataset_free(&d);
}

/* ---- CSV ---------------------------------------------------------------- */

static void test_csv_quotes_header_join(void) {
    rnn_data_opts o = opts();
    rnn_dataset d;
    LOAD_OK(&d, FIX "news.csv", &o, NULL, 0);
    CHECK(d.n == 4, "header detected: n = %zu", d.n);
    CHECK(d.n_labels == 4 && !strcmp(d.labels[0], "1") && !strcmp(d.labels[3], "4"), "labels 1..4");
    if (d.n == 4) {
        CHECK(!strcmp(d.ex[0].text, "Fears for pension, talks. Unions say \"disappointed\" after talks."),
              "quoted comma + doubled quotes: \"%s\"", d.ex[0].text);
        CHECK(d.ex[0].label == 2, "ex0 label");
        CHECK(!strcmp(d.ex[1].text, "Sport win! Line one\nline two"), "punct join + embedded newline: \"%s\"",
              d.ex[1].text);
        CHECK(d.ex[1].label == 1, "ex1 label");
        CHECK(!strcmp(d.ex[2].text, "Only a description") && d.ex[2].label == 0, "empty title: \"%s\"",
              d.ex[2].text);
        CHECK(!strcmp(d.ex[3].text, "Tech. desc with \"quotes\", and commas") && d.ex[3].label == 3, "ex3 \"%s\"",
              d.ex[3].text);
    }
    rnn_dataset_free(&d);

    /* one text column; CRLF rows; a quoted field with CRLF inside keeps it */
    const char *p = write_tmp("crlf.csv", "a,\"x\r\ny\",z\r\nb,plain,w\r\n");
    o.text_cols = "2";
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 2 && !strcmp(d.ex[0].text, "x\r\ny") && !strcmp(d.ex[1].text, "plain"), "crlf csv");
    rnn_dataset_free(&d);

    /* BOM dropped; text after a closing quote kept; trailing empty field */
    p = write_tmp("bom.csv", "\xEF\xBB\xBF" "x,\"ab\"cd,\ny,\"\",\n");
    o = opts();
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 2 && !strcmp(d.labels[0], "x") && !strcmp(d.ex[0].text, "abcd") && !strcmp(d.ex[1].text, ""),
          "bom/after-quote: label \"%s\" text \"%s\"", d.n ? d.labels[0] : "", d.n ? d.ex[0].text : "");
    rnn_dataset_free(&d);
}

static void test_csv_errors(void) {
    rnn_data_opts o = opts();
    /* the quoted field spans lines 1-3, so the bad row is line 5 */
    const char *p = write_tmp("nl.csv", "1,\"a\nb\nc\"\n2,\"x\"\n3\n4,ok\n");
    check_error(p, &o, NULL, 0, "nl.csv:5: expected at least 2 comma-separated columns, found 1", NULL);

    p = write_tmp("miss.csv", "1,\"multi\nline\",t\n2,two\n");
    o.text_cols = "3";
    check_error(p, &o, NULL, 0, "miss.csv:3: missing column 3 (row has 2)", NULL);
    /* more fields than the first row: an unquoted comma in a text, whose
     * tail was dropped (or, with --text-col, columns shifted) */
    o = opts();
    p = write_tmp("extra.csv", "pos,fine\nneg,\"quoted, fine\"\npos,fine, but dull\n");
    check_error(p, &o, NULL, 0, "extra.csv:3: 3 comma-separated fields where the first row has 2", "must be quoted");
    o.text_cols = "2";
    check_error(p, &o, NULL, 0, "extra.csv:3: 3 comma-separated fields", NULL);

    o = opts();
    p = write_tmp("unterm.csv", "1,ok\n2,\"never closed\nmore\n");
    check_error(p, &o, NULL, 0, "unterm.csv:2: unterminated quoted field", NULL);

    p = write_tmp("emptylab.csv", "1,ok\n ,bad\n");
    check_error(p, &o, NULL, 0, "emptylab.csv:2: empty label", NULL);

    o.text_cols = "1-2";
    check_error(FIX "news.csv", &o, NULL, 0, "includes the label column 1", NULL);
    o.text_cols = "2-x";
    check_error(FIX "news.csv", &o, NULL, 0, "--text-col \"2-x\"", NULL);
    o.text_cols = "2,3,2";
    check_error(FIX "news.csv", &o, NULL, 0, "--text-col \"2,3,2\": column 2 twice", NULL);
}

/* ---- JSON lines --------------------------------------------------------- */

static void test_jsonl(void) {
    rnn_data_opts o = opts();
    rnn_dataset d;
    LOAD_OK(&d, FIX "mixed.jsonl", &o, NULL, 0);
    CHECK(d.n == 3, "blank line skipped: n = %zu", d.n);
    /* "3", "farewell", "greet": not all integers, so bytewise */
    CHECK(d.n_labels == 3 && !strcmp(d.labels[0], "3") && !strcmp(d.labels[1], "farewell") &&
              !strcmp(d.labels[2], "greet"),
          "labels");
    if (d.n == 3) {
        CHECK(!strcmp(d.ex[0].text, "hello there") && d.ex[0].label == 2, "ex0");
        CHECK(!strcmp(d.ex[1].text, "bye now") && d.ex[1].label == 1, "ex1");
        CHECK(!strcmp(d.ex[2].text, "a number \"label\"\nwith an escaped newline") && d.ex[2].label == 0,
              "ex2 \"%s\"", d.ex[2].text);
    }
    rnn_dataset_free(&d);

    const char *p = write_tmp("ints.jsonl", "{\"text\":\"b\",\"label\":10}\r\n{\"text\":\"a\",\"label\":9}\r\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 2 && !strcmp(d.labels[0], "9") && !strcmp(d.labels[1], "10"), "integer labels numeric");
    CHECK(d.ex[0].label == 1 && d.ex[1].label == 0, "int ids");
    rnn_dataset_free(&d);

    /* line 3's "}" is column 24 */
    p = write_tmp("bad.jsonl", "{\"text\":\"a\",\"label\":1}\n\n{\"text\": \"b\", \"label\": }\n");
    check_error(p, &o, NULL, 0, "bad.jsonl:3: invalid JSON (near column 24)", NULL);
    p = write_tmp("junk.jsonl", "{\"text\":\"a\",\"label\":1} {\"text\":\"b\",\"label\":2}\n");
    check_error(p, &o, NULL, 0, "junk.jsonl:1: invalid JSON (near column 24)", NULL);
    p = write_tmp("notext.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"sentence\":\"a\",\"label\":1}\n");
    check_error(p, &o, NULL, 0, "notext.jsonl:2: no \"text\" key", NULL);
    p = write_tmp("nolabel.json", "{\"text\":\"a\"}\n");
    check_error(p, &o, NULL, 0, "nolabel.json:1: no \"label\" key", NULL);
    p = write_tmp("flt.jsonl", "{\"text\":\"a\",\"label\":1.5}\n");
    check_error(p, &o, NULL, 0, "flt.jsonl:1: \"label\" must be a string or an integer", NULL);
    /* cJSON's strings end at a NUL: \u0000 would cut the text; an escaped
     * backslash before "u0000" is no NUL, and line 2 still loads as text */
    p = write_tmp("nul.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"x\\u0000y\",\"label\":1}\n");
    check_error(p, &o, NULL, 0, "nul.jsonl:2: a NUL character (\\u0000, column 11)", NULL);
    p = write_tmp("nul2.jsonl", "{\"text\":\"a\\\\u0000\",\"label\":1}\n{\"text\":\"b\",\"label\":\"x\\u0000\"}\n");
    check_error(p, &o, NULL, 0, "nul2.jsonl:2: a NUL character (\\u0000, column 23)", NULL);
    p = write_tmp("bs.jsonl", "{\"text\":\"a\\\\u0000\",\"label\":1}\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 1 && !strcmp(d.ex[0].text, "a\\u0000"), "an escaped backslash then u0000 is text: \"%s\"",
          d.n ? d.ex[0].text : "");
    rnn_dataset_free(&d);
    /* a key given twice: cJSON would take the first, silently */
    p = write_tmp("dup.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"a\",\"label\":1,\"text\":\"b\"}\n");
    check_error(p, &o, NULL, 0, "dup.jsonl:2: the key \"text\" appears 2 times", NULL);
    p = write_tmp("dupl.jsonl", "{\"label\":0,\"text\":\"a\",\"label\":1}\n");
    check_error(p, &o, NULL, 0, "dupl.jsonl:1: the key \"label\" appears 2 times", NULL);
    p = write_tmp("arr.json", "[{\"text\":\"a\",\"label\":1}]\n");
    check_error(p, &o, NULL, 0, "arr.json:1: a JSON array", NULL);
    o.label_col = 2;
    check_error(FIX "mixed.jsonl", &o, NULL, 0, "apply to tsv and csv only", NULL);
}

/* ---- directory tree ----------------------------------------------------- */

static void test_dir(void) {
    make_dir("tree");
    make_dir("tree/pos");
    make_dir("tree/neg");
    make_dir("tree/unsup");
    make_dir("tree/.hidden");
    write_tmp("tree/pos/10_9.txt", "Loved it.<br />Really.\n");
    write_tmp("tree/pos/2_8.txt", "Good");
    write_tmp("tree/neg/0_1.txt", "");
    write_tmp("tree/neg/1_2.txt", "Bad\tbad");
    write_tmp("tree/neg/notes.md", "not an example");
    write_tmp("tree/unsup/0_0.txt", "unlabelled");
    write_tmp("tree/.hidden/x.txt", "hidden");
    write_tmp("tree/README.txt", "a file at the top level is not a label");
    rnn_data_opts o = opts();
    rnn_dataset d;
    LOAD_OK(&d, tmp_path("tree"), &o, NULL, 0);
    CHECK(d.n == 4, "n = %zu", d.n);
    CHECK(d.n_labels == 2 && !strcmp(d.labels[0], "neg") && !strcmp(d.labels[1], "pos"), "labels");
    if (d.n == 4) {
        /* neg then pos, files in bytewise order: "10_9" before "2_8" */
        CHECK(!strcmp(d.ex[0].text, "") && d.ex[0].label == 0, "ex0");
        CHECK(!strcmp(d.ex[1].text, "Bad\tbad") && d.ex[1].label == 0, "ex1");
        CHECK(!strcmp(d.ex[2].text, "Loved it.<br />Really.\n") && d.ex[2].label == 1, "ex2 whole file");
        CHECK(!strcmp(d.ex[3].text, "Good") && d.ex[3].label == 1, "ex3");
    }
    rnn_dataset_free(&d);

    /* known labels: a directory not among them names the directory */
    char *known[] = {"pos", "neg"};
    LOAD_OK(&d, tmp_path("tree/"), &o, known, 2);
    CHECK(d.n == 4 && d.ex[0].label == 1 && d.ex[3].label == 0, "dir mapped to known ids");
    rnn_dataset_free(&d);
    char *only_pos[] = {"pos"};
    check_error(tmp_path("tree"), &o, only_pos, 1, "tree/neg: label \"neg\" is not one of the 1 known labels (pos)",
                NULL);

    o.format = "tsv";
    check_error(tmp_path("tree"), &o, NULL, 0, "is a directory", NULL);
    o.format = "dir";
    check_error(FIX "news.csv", &o, NULL, 0, "news.csv: not a directory", NULL);
    /* a file of bad bytes is named, not only its label's directory */
    make_dir("badtree");
    make_dir("badtree/pos");
    make_dir("badtree/neg");
    write_tmp("badtree/pos/a.txt", "fine");
    write_tmp("badtree/neg/b.txt", "x\xff");
    write_tmp("badtree/pos/c.txt", "\xef\xbb\xbf" "bom"); /* a byte order mark is no text */
    o = opts();
    o.check_utf8 = 1;
    check_error(tmp_path("badtree"), &o, NULL, 0, "badtree/neg/b.txt: invalid UTF-8 at byte offset 1 of the text",
                NULL);
    o.check_utf8 = 0;
    LOAD_OK(&d, tmp_path("badtree"), &o, NULL, 0);
    CHECK(d.n == 3 && !strcmp(d.ex[1].text, "fine") && !strcmp(d.ex[2].text, "bom"), "the BOM dropped: \"%s\"",
          d.n == 3 ? d.ex[2].text : "");
    rnn_dataset_free(&d);
    make_dir("emptytree");
    o = opts();
    check_error(tmp_path("emptytree"), &o, NULL, 0, "emptytree: no examples", NULL);
    /* a class directory without a .txt file is named, not a class silently lost */
    make_dir("holetree");
    make_dir("holetree/pos");
    make_dir("holetree/neg");
    make_dir("holetree/neutral");
    write_tmp("holetree/pos/a.txt", "good");
    write_tmp("holetree/neg/b.txt", "bad");
    write_tmp("holetree/neutral/notes.md", "not an example");
    check_error(tmp_path("holetree"), &o, NULL, 0, "holetree/neutral: a class directory with no .txt files", NULL);
    /* files in a class directory's subdirectories are its examples too: a
     * directory's own files first, then its subdirectories'; a link back up
     * the tree is read once */
    make_dir("deeptree");
    make_dir("deeptree/pos");
    make_dir("deeptree/pos/2019");
    make_dir("deeptree/neg");
    write_tmp("deeptree/pos/2019/b.txt", "later");
    write_tmp("deeptree/pos/2019/notes.md", "not an example");
    write_tmp("deeptree/pos/z.txt", "first");
    write_tmp("deeptree/neg/c.txt", "bad");
    const char *loop = tmp_path("deeptree/pos/2019/up");
    CHECK(symlink("..", loop) == 0, "symlink %s", loop);
    remember(loop);
    LOAD_OK(&d, tmp_path("deeptree"), &o, NULL, 0);
    CHECK(d.n == 3 && !strcmp(d.ex[0].text, "bad") && !strcmp(d.ex[1].text, "first") && !strcmp(d.ex[2].text, "later") &&
              d.ex[1].label == 1 && d.ex[2].label == 1,
          "a subdirectory's file is its class's example (%zu examples)", d.n);
    rnn_dataset_free(&d);
    /* a class whose only examples sit in a subdirectory is a class */
    make_dir("deeptree2");
    make_dir("deeptree2/pos");
    make_dir("deeptree2/pos/a");
    make_dir("deeptree2/neg");
    write_tmp("deeptree2/pos/a/x.txt", "good");
    write_tmp("deeptree2/neg/y.txt", "bad");
    LOAD_OK(&d, tmp_path("deeptree2"), &o, NULL, 0);
    CHECK(d.n == 2 && d.n_labels == 2 && d.ex[1].label == 1, "pos from its subdirectory");
    rnn_dataset_free(&d);
    /* a link out of a class directory, up to the data's top or into another
     * class (or aclImdb's unsup), is not followed: those files are no
     * examples of this class (neg's would be read as pos, unsup's labelled) */
    make_dir("linktree");
    make_dir("linktree/pos");
    make_dir("linktree/neg");
    make_dir("linktree/unsup");
    write_tmp("linktree/pos/a.txt", "good");
    write_tmp("linktree/neg/b.txt", "bad");
    write_tmp("linktree/unsup/c.txt", "unlabelled");
    const char *links[3][2] = {{"..", "linktree/pos/top"}, {"../neg", "linktree/pos/neg"}, {"../unsup", "linktree/pos/u"}};
    for (int i = 0; i < 3; i++) {
        const char *at = tmp_path(links[i][1]);
        CHECK(symlink(links[i][0], at) == 0, "symlink %s", at);
        remember(at);
    }
    LOAD_OK(&d, tmp_path("linktree"), &o, NULL, 0);
    CHECK(d.n == 2 && !strcmp(d.ex[0].text, "bad") && d.ex[0].label == 0 && !strcmp(d.ex[1].text, "good") &&
              d.ex[1].label == 1,
          "links out of a class directory are not followed: %zu examples (2: bad as neg, good as pos)", d.n);
    rnn_dataset_free(&d);
}

/* ---- label sets --------------------------------------------------------- */

static void test_label_sorting(void) {
    rnn_data_opts o = opts();
    rnn_dataset d;
    const char *p = write_tmp("num.tsv", "10\ta\n9\tb\n2\tc\n10\td\n-1\te\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 4, "n_labels %d", d.n_labels);
    if (d.n_labels == 4)
        CHECK(!strcmp(d.labels[0], "-1") && !strcmp(d.labels[1], "2") && !strcmp(d.labels[2], "9") &&
                  !strcmp(d.labels[3], "10"),
              "numeric order: %s %s %s %s", d.labels[0], d.labels[1], d.labels[2], d.labels[3]);
    CHECK(d.ex[0].label == 3 && d.ex[1].label == 2 && d.ex[2].label == 1 && d.ex[3].label == 3 && d.ex[4].label == 0,
          "numeric ids");
    rnn_dataset_free(&d);

    /* an integer is one class by its value, whatever its first row's form (+1, 01, -0, 25 digits) */
    p = write_tmp("forms.tsv", "+1\ta\n01\tb\n-0\tc\n1\td\n0\te\n-007\tf\n0000000000000000000000001\tg\n-7\th\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 3 && !strcmp(d.labels[0], "-7") && !strcmp(d.labels[1], "0") && !strcmp(d.labels[2], "1"),
          "integer forms: %d classes", d.n_labels);
    if (d.n == 8)
        CHECK(d.ex[0].label == 2 && d.ex[1].label == 2 && d.ex[2].label == 1 && d.ex[3].label == 2 &&
                  d.ex[4].label == 1 && d.ex[5].label == 0 && d.ex[6].label == 2 && d.ex[7].label == 0,
              "integer forms: ids by value");
    rnn_dataset_free(&d);
    p = write_tmp("forms.jsonl", "{\"label\": \"01\", \"text\": \"a\"}\n{\"label\": 1, \"text\": \"b\"}\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 1 && !strcmp(d.labels[0], "1"), "jsonl \"01\" and 1: one class");
    rnn_dataset_free(&d);

    /* one non-integer label: bytewise for all ("10" < "9" < "B" < "a") */
    p = write_tmp("str.tsv", "9\ta\n10\tb\na\tc\nB\td\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 4 && !strcmp(d.labels[0], "10") && !strcmp(d.labels[1], "9") && !strcmp(d.labels[2], "B") &&
              !strcmp(d.labels[3], "a"),
          "bytewise order");
    CHECK(d.ex[0].label == 1 && d.ex[2].label == 3, "bytewise ids");
    rnn_dataset_free(&d);

    /* label cells are trimmed */
    p = write_tmp("trim.csv", " pos ,a\npos,b\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 1 && !strcmp(d.labels[0], "pos"), "trimmed label");
    rnn_dataset_free(&d);
}

static void test_known_labels(void) {
    rnn_data_opts o = opts();
    rnn_dataset d;
    char *known[] = {"pos", "neg", "neutral"}; /* a checkpoint's order, not sorted */
    LOAD_OK(&d, FIX "reviews.tsv", &o, known, 3);
    CHECK(d.n_labels == 3 && !strcmp(d.labels[0], "pos") && !strcmp(d.labels[2], "neutral"), "known copied");
    CHECK(d.labels[0] != known[0], "labels are copies");
    CHECK(d.ex[0].label == 0 && d.ex[1].label == 1 && d.ex[3].label == 1, "known ids");
    rnn_dataset_free(&d);

    const char *p = write_tmp("unk.tsv", "pos\ta\nneg\tb\nmeh\tc\n");
    check_error(p, &o, known, 2, "unk.tsv:3: label \"meh\" is not one of the 2 known labels (pos, neg)", NULL);

    /* with known labels, a header row is recognised by its unknown label */
    p = write_tmp("hdr.csv", "label,text\npos,a\n");
    LOAD_OK(&d, p, &o, known, 2);
    CHECK(d.n == 1 && d.ex[0].label == 0, "header with known labels");
    rnn_dataset_free(&d);

    /* a checkpoint from before 2026-12-07 kept an integer of 19+ digits as written: its data,
     * read in plain form, still finds it (and the classes keep the checkpoint's names) */
    char *old_known[] = {"-0012345678901234567890", "7"};
    p = write_tmp("longint.tsv", "-12345678901234567890\ta\n+7\tb\n-0012345678901234567890\tc\n");
    LOAD_OK(&d, p, &o, old_known, 2);
    CHECK(d.n == 3 && d.ex[0].label == 0 && d.ex[1].label == 1 && d.ex[2].label == 0 &&
              !strcmp(d.labels[0], "-0012345678901234567890"),
          "an old checkpoint's long integer label found by its value");
    rnn_dataset_free(&d);
}

static void test_label_names(void) {
    rnn_data_opts o = opts();
    o.label_names = FIX "classes.txt";
    rnn_dataset d;
    LOAD_OK(&d, FIX "news.csv", &o, NULL, 0);
    CHECK(d.n == 4, "header still detected: n = %zu", d.n);
    CHECK(d.n_labels == 4 && !strcmp(d.labels[0], "World") && !strcmp(d.labels[2], "Business") &&
              !strcmp(d.labels[3], "Sci/Tech"),
          "names");
    CHECK(d.ex[0].label == 2 && d.ex[1].label == 1 && d.ex[2].label == 0 && d.ex[3].label == 3, "1-based ids");
    rnn_dataset_free(&d);

    /* a name given twice: the first line, in file order, that repeats an earlier one */
    {
        rnn_data_opts od = opts();
        od.label_names = write_tmp("dupn.txt", "b\na\nc\na\nb\nb\n");
        check_error(FIX "news.csv", &od, NULL, 0, "dupn.txt:4: class name \"a\" repeats line 2", NULL);
        od.label_names = write_tmp("dupn3.txt", "x\nb\nb\nb\n");
        check_error(FIX "news.csv", &od, NULL, 0, "dupn3.txt:3: class name \"b\" repeats line 2", NULL);
        /* a long one is cut in the message (at a character: "é" is 2 bytes) */
        char both[2 * 1201 + 3];
        for (int i = 0; i < 600; i++) memcpy(both + 2 * i, "\xc3\xa9", 2); /* name, z, name */
        memcpy(both + 1200, "\nz\n", 3);
        memcpy(both + 1203, both, 1200);
        memcpy(both + 2403, "\n", 2);
        od.label_names = write_tmp("dupnl.txt", both);
        check_error(FIX "news.csv", &od, NULL, 0, "dupnl.txt:3: class name \"\xc3\xa9\xc3\xa9", "...\" repeats line 1");
        CHECK(strlen(rnn_last_error()) < 300, "the long name is cut: %zu bytes", strlen(rnn_last_error()));
    }

    /* names + the training set's names as known labels (a test set) */
    char *known[] = {"Sci/Tech", "Business", "Sports", "World"};
    LOAD_OK(&d, FIX "news.csv", &o, known, 4);
    CHECK(d.ex[0].label == 1 && d.ex[2].label == 3 && d.ex[3].label == 0, "names then known ids");
    rnn_dataset_free(&d);
    char *few[] = {"World", "Sports"};
    check_error(FIX "news.csv", &o, few, 2, "news.csv:2: label \"Business\" is not one of the 2 known labels", NULL);

    /* 0-based when some label is 0 */
    const char *names = write_tmp("names2.txt", "negative\r\npositive\r\n\r\n");
    const char *p = write_tmp("zero.tsv", "1\tgood\n0\tbad\n");
    o.label_names = names;
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n_labels == 2 && !strcmp(d.labels[0], "negative") && !strcmp(d.labels[1], "positive"), "0-based names");
    CHECK(d.ex[0].label == 1 && d.ex[1].label == 0, "0-based ids");
    CHECK(d.label_base == 0, "the base used is reported: %d", d.label_base);
    rnn_dataset_free(&d);

    /* Labels that fit both numberings (1 and 2 of 3 names) are not guessed:
     * a validation file without the first or last class was shifted so. */
    const char *names3 = write_tmp("names3.txt", "\xef\xbb\xbfneg\npos\nneu\n"); /* a byte order mark too */
    p = write_tmp("mid.tsv", "1\ta\n2\tb\n");
    o.label_names = names3;
    check_error(p, &o, NULL, 0, "mid.tsv: labels 1-2 could name the 3 classes of", "say which with --label-base 0|1");
    o.label_base = 0;
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.ex[0].label == 1 && d.ex[1].label == 2 && d.label_base == 0, "--label-base 0: label 1 is pos");
    rnn_dataset_free(&d);
    o.label_base = 1;
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.ex[0].label == 0 && d.ex[1].label == 1 && d.label_base == 1, "--label-base 1: label 1 is neg");
    CHECK(d.n_labels == 3 && !strcmp(d.labels[0], "neg"), "a byte order mark is not part of the first name");
    rnn_dataset_free(&d);
    p = write_tmp("top.tsv", "3\ta\n2\tb\n");
    o.label_base = -1;
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.label_base == 1 && d.ex[0].label == 2, "a label equal to the number of names: 1-based");
    rnn_dataset_free(&d);
    o.label_base = 2;
    check_error(p, &o, NULL, 0, "--label-base must be 0 or 1 (got 2)", NULL);
    o.label_base = -1;
    o.label_names = names;

    p = write_tmp("five.tsv", "1\ta\n5\tb\n");
    check_error(p, &o, NULL, 0, "five.tsv:2: label 5 has no name in", "(2 names, labels 1-based)");
    p = write_tmp("word.tsv", "1\ta\nx\tb\n");
    check_error(p, &o, NULL, 0, "word.tsv:2: label \"x\" is neither an integer nor one of the names in", NULL);
    o.label_names = tmp_path("no-such-names.txt");
    check_error(FIX "news.csv", &o, NULL, 0, "no-such-names.txt: cannot open", NULL);
}

/* ---- split -------------------------------------------------------------- */

static void test_split(void) {
    /* 100 of class a, 50 of b, 7 of c, interleaved; texts unique ("ex<i>") */
    size_t cap = 1 << 16, k = 0;
    char *s = malloc(cap);
    int n = 157, cls[157], want[3] = {100, 50, 7}, seen[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        int c = i % 3;
        while (seen[c] == want[c]) c = (c + 1) % 3;
        seen[c]++;
        cls[i] = c;
        k += (size_t)snprintf(s + k, cap - k, "%c\tex%d\n", "abc"[c], i);
    }
    const char *p = write_tmp_n("split.tsv", s, k);
    free(s);
    rnn_data_opts o = opts();
    rnn_dataset all, tr, va, tr2, va2, tr3, va3;
    LOAD_OK(&all, p, &o, NULL, 0);
    CHECK(all.n == 157 && all.n_labels == 3, "loaded %zu", all.n);
    int labels_ok = all.n == 157;
    for (int i = 0; i < n && labels_ok; i++) labels_ok = all.ex[i].label == cls[i];
    CHECK(labels_ok, "split fixture labels");

    CHECK(rnn_dataset_split(&all, 0.2f, 42, &tr, &va) == 0, "split: %s", rnn_last_error());
    int vc[3] = {0, 0, 0}, tc[3] = {0, 0, 0};
    for (size_t i = 0; i < va.n; i++) vc[va.ex[i].label]++;
    for (size_t i = 0; i < tr.n; i++) tc[tr.ex[i].label]++;
    /* round(0.2 * count): 20, 10, round(1.4) = 1 */
    CHECK(vc[0] == 20 && vc[1] == 10 && vc[2] == 1, "val per class %d %d %d", vc[0], vc[1], vc[2]);
    CHECK(tc[0] == 80 && tc[1] == 40 && tc[2] == 6, "train per class %d %d %d", tc[0], tc[1], tc[2]);
    CHECK(tr.n_labels == 3 && va.n_labels == 3 && !strcmp(va.labels[2], "c") && va.labels[2] != all.labels[2],
          "label copies");

    /* every example exactly once, in its original order, with its label */
    int hits[157] = {0}, last_tr = -1, last_va = -1, order_ok = 1, label_ok = 1;
    for (int pass = 0; pass < 2; pass++) {
        const rnn_dataset *x = pass ? &va : &tr;
        int *last = pass ? &last_va : &last_tr;
        for (size_t i = 0; i < x->n; i++) {
            int id = atoi(x->ex[i].text + 2);
            if (id < 0 || id >= n) continue;
            hits[id]++;
            if (id <= *last) order_ok = 0;
            *last = id;
            if (x->ex[i].label != cls[id]) label_ok = 0;
            if (x->ex[i].text == all.ex[id].text) label_ok = 0; /* must be a copy */
        }
    }
    int once = 1;
    for (int i = 0; i < n; i++) once &= hits[i] == 1;
    CHECK(once && tr.n + va.n == all.n, "each example exactly once");
    CHECK(order_ok, "original order kept");
    CHECK(label_ok, "labels carried, texts copied");

    /* same seed → same split; another seed → another split */
    CHECK(rnn_dataset_split(&all, 0.2f, 42, &tr2, &va2) == 0, "split again");
    int same = va2.n == va.n;
    for (size_t i = 0; same && i < va.n; i++) same = !strcmp(va.ex[i].text, va2.ex[i].text);
    CHECK(same, "deterministic for a seed");
    CHECK(rnn_dataset_split(&all, 0.2f, 7, &tr3, &va3) == 0, "split seed 7");
    int differ = va3.n != va.n;
    for (size_t i = 0; !differ && i < va.n; i++) differ = strcmp(va.ex[i].text, va3.ex[i].text) != 0;
    CHECK(differ, "another seed gives another split");
    rnn_dataset_free(&tr2);
    rnn_dataset_free(&va2);
    rnn_dataset_free(&tr3);
    rnn_dataset_free(&va3);
    rnn_dataset_free(&tr);
    rnn_dataset_free(&va);

    /* edges: frac 0 and 1; out of range */
    CHECK(rnn_dataset_split(&all, 0.0f, 1, &tr, &va) == 0 && tr.n == 157 && va.n == 0, "frac 0");
    rnn_dataset_free(&tr);
    rnn_dataset_free(&va);
    CHECK(rnn_dataset_split(&all, 1.0f, 1, &tr, &va) == 0 && tr.n == 0 && va.n == 157, "frac 1");
    rnn_dataset_free(&tr);
    rnn_dataset_free(&va);
    CHECK(rnn_dataset_split(&all, 1.5f, 1, &tr, &va) == -1 && zeroed(&tr) && zeroed(&va), "frac 1.5 refused");
    CHECK(strstr(rnn_last_error(), "[0, 1]") != NULL, "frac message: %s", rnn_last_error());
    rnn_dataset_free(&all);
}

/* ---- errors common to every format ---------------------------------------- */

static void test_errors(void) {
    rnn_data_opts o = opts();
    check_error(tmp_path("missing.tsv"), &o, NULL, 0, "missing.tsv: cannot open", NULL);
    const char *p = write_tmp("empty.tsv", "");
    check_error(p, &o, NULL, 0, p, ": no examples");
    p = write_tmp("blank.csv", "\n\r\n\n");
    check_error(p, &o, NULL, 0, "blank.csv: no examples", NULL);
    p = write_tmp("onlyheader.csv", "label,text\n");
    check_error(p, &o, NULL, 0, "onlyheader.csv: no examples", "reads as a header");
    p = write_tmp("onerow.tsv", "pos\tgood film\n");
    check_error(p, &o, NULL, 0, "onerow.tsv: no examples (its only row reads as a header)", NULL);
    /* one line ending in a carriage return alone, amid newlines: two rows
     * would read as one (the first's text taking the next's label and text) */
    p = write_tmp("straycr.tsv", "pos\tgood\r\nneg\tbad\rpos\tfine\r\nneg\tdull\n");
    check_error(p, &o, NULL, 0, "straycr.tsv:2: a carriage return inside the line", NULL);
    p = write_tmp("straycr.csv", "pos,good\nneg,bad\rpos,fine\nneg,dull\n");
    check_error(p, &o, NULL, 0, "straycr.csv:2: a carriage return inside the line", NULL);
    p = write_tmp("straycrq.csv", "pos,\"good\"\rneg,\"bad\"\npos,\"fine\"\rneg,\"dull\"\n"); /* after a quoted field */
    check_error(p, &o, NULL, 0, "straycrq.csv:1: a carriage return inside the line", NULL);
    p = write_tmp("onecol.tsv", "pos\tgood\nneg\tbad\nbroken\n");
    check_error(p, &o, NULL, 0, "onecol.tsv:3: expected at least 2 tab-separated columns, found 1", NULL);
    p = write_tmp("short.tsv", "pos\t9\tgood\nneg\tbad\n");
    check_error(p, &o, NULL, 0, "short.tsv:2: missing column 3 (row has 2; the first row has 3, and its last is the text",
                NULL);
    o.label_col = 4;
    check_error(FIX "reviews.tsv", &o, NULL, 0, "reviews.tsv:1: missing column 4 (row has 3)", NULL);
    o = opts();
    static const char nul[] = "pos\tok\nneg\tb\0d\n";
    p = write_tmp_n("nul.tsv", nul, sizeof nul - 1);
    check_error(p, &o, NULL, 0, "nul.tsv:2: NUL byte", NULL);
    p = write_tmp("what.txt", "just some words\n");
    check_error(p, &o, NULL, 0, "what.txt: cannot tell the format", NULL);
    o.format = "xml";
    check_error(FIX "news.csv", &o, NULL, 0, "unknown data format \"xml\"", NULL);

    /* auto by content: no extension */
    o = opts();
    rnn_dataset d;
    p = write_tmp("noext", "pos\tgood, fine\nneg\tbad\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 2 && !strcmp(d.ex[0].text, "good, fine"), "sniffed tsv");
    rnn_dataset_free(&d);
    p = write_tmp("noext2", "{\"text\":\"x\",\"label\":\"y\"}\n");
    LOAD_OK(&d, p, &o, NULL, 0);
    CHECK(d.n == 1 && !strcmp(d.labels[0], "y"), "sniffed jsonl");
    rnn_dataset_free(&d);
    /* NULL opts = defaults */
    LOAD_OK(&d, FIX "reviews.tsv", NULL, NULL, 0);
    CHECK(d.n == 4, "NULL opts");
    rnn_dataset_free(&d);
}

/* ---- the real data sets (skipped when absent) --------------------------- */

static void count_labels(const rnn_dataset *d, size_t *cnt) {
    for (int c = 0; c < d->n_labels; c++) cnt[c] = 0;
    for (size_t i = 0; i < d->n; i++) cnt[d->ex[i].label]++;
}

static void test_real_files(void) {
    const char *imdb = harness_data("imdb/train.tsv");
    rnn_data_opts o = opts();
    rnn_dataset d;
    size_t cnt[16];
    if (access(imdb, R_OK) != 0) {
        printf("  note: %s not found, skipped\n", imdb);
    } else {
        double t0 = rnn_now();
        LOAD_OK(&d, imdb, &o, NULL, 0);
        double dt = rnn_now() - t0;
        printf("  imdb/train.tsv: %zu examples loaded in %.3f s\n", d.n, dt);
        count_labels(&d, cnt);
        CHECK(d.n == 25000 && d.n_labels == 2 && !strcmp(d.labels[0], "neg") && !strcmp(d.labels[1], "pos"),
              "imdb n %zu labels %d", d.n, d.n_labels);
        CHECK(cnt[0] == 12500 && cnt[1] == 12500, "imdb per class %zu %zu", cnt[0], cnt[1]);
        CHECK(!strncmp(d.ex[0].text, "Bromwell High is a cartoon comedy.", 34) && d.ex[0].label == 1,
              "imdb first text is the review");
        CHECK(d.ex[24999].label == 0, "imdb last is neg");
        rnn_dataset_free(&d);
    }
    const char *trec = harness_data("trec/train.tsv");
    if (access(trec, R_OK) != 0) {
        printf("  note: %s not found, skipped\n", trec);
    } else {
        LOAD_OK(&d, trec, &o, NULL, 0);
        CHECK(d.n == 5452 && d.n_labels == 6, "trec n %zu labels %d", d.n, d.n_labels);
        if (d.n_labels == 6)
            CHECK(!strcmp(d.labels[0], "ABBR") && !strcmp(d.labels[1], "DESC") && !strcmp(d.labels[5], "NUM"),
                  "trec labels %s..%s", d.labels[0], d.labels[5]);
        CHECK(!strcmp(d.ex[0].text, "How did serfdom develop in and then leave Russia ?"), "trec text");
        rnn_dataset_free(&d);
    }
    const char *ag = harness_data("ag_news/test.csv"), *agc = harness_data("ag_news/classes.txt");
    if (access(ag, R_OK) != 0) {
        printf("  note: %s not found, skipped\n", ag);
    } else {
        LOAD_OK(&d, ag, &o, NULL, 0);
        count_labels(&d, cnt);
        CHECK(d.n == 7600 && d.n_labels == 4, "ag n %zu labels %d", d.n, d.n_labels);
        CHECK(d.n_labels == 4 && cnt[0] == 1900 && cnt[1] == 1900 && cnt[2] == 1900 && cnt[3] == 1900,
              "ag 1,900 per class");
        CHECK(d.ex[0].label == 2 && !strcmp(d.ex[0].text, "Fears for T N pension after talks. Unions representing "
                                                          "workers at Turner   Newall say they are 'disappointed' "
                                                          "after talks with stricken parent firm Federal Mogul."),
              "ag first text \"%s\"", d.ex[0].text);
        CHECK(strstr(d.ex[1].text, "A second\\team of rocketeers") != NULL, "ag backslashes kept");
        rnn_dataset_free(&d);
        if (access(agc, R_OK) == 0) {
            o.label_names = agc;
            LOAD_OK(&d, ag, &o, NULL, 0);
            CHECK(d.n_labels == 4 && !strcmp(d.labels[2], "Business") && d.ex[0].label == 2, "ag names");
            rnn_dataset_free(&d);
            o.label_names = NULL;
        }
    }
    /* the train.csv's first 581 rows (PROVENANCE.md: its counts, a prefix in runs of one class) */
    const char *agh = harness_data("ag_news/train_head581.csv");
    if (access(agh, R_OK) != 0) {
        printf("  note: %s not found, skipped\n", agh);
    } else {
        LOAD_OK(&d, agh, &o, NULL, 0);
        count_labels(&d, cnt);
        CHECK(d.n == 581 && d.n_labels == 4 && cnt[0] == 163 && cnt[1] == 132 && cnt[2] == 137 && cnt[3] == 149,
              "ag head n %zu labels %d", d.n, d.n_labels);
        CHECK(d.n == 581 && d.ex[0].label == 2 && d.ex[78].label == 3 &&
                  !strcmp(d.ex[0].text, "Wall St. Bears Claw Back Into the Black (Reuters). Reuters - Short-sellers, "
                                        "Wall Street's dwindling\\band of ultra-cynics, are seeing green again."),
              "ag head first text \"%s\"", d.n ? d.ex[0].text : "");
        rnn_dataset_free(&d);
    }
    const char *sst = harness_data("sst2/sentence_level/train.tsv");
    if (access(sst, R_OK) != 0) {
        printf("  note: %s not found, skipped\n", sst);
    } else {
        LOAD_OK(&d, sst, &o, NULL, 0);
        count_labels(&d, cnt);
        CHECK(d.n == 6920 && d.n_labels == 2 && cnt[0] == 3310 && cnt[1] == 3610, "sst2 n %zu", d.n);
        rnn_dataset_free(&d);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rnn_textdata_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_tsv_two_columns);
    RUN(test_tsv_three_columns_crlf);
    RUN(test_tsv_label_last_with_header);
    RUN(test_csv_quotes_header_join);
    RUN(test_csv_errors);
    RUN(test_jsonl);
    RUN(test_dir);
    RUN(test_label_sorting);
    RUN(test_known_labels);
    RUN(test_label_names);
    RUN(test_split);
    RUN(test_errors);
    RUN(test_real_files);
    cleanup();
    return harness_end();
}
