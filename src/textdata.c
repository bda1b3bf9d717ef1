#define _XOPEN_SOURCE 700 /* realpath */
/* textdata.c: see textdata.h.
 *
 * Loading is two passes. The format parser reads the whole file once and
 * hands each record's fields (pointers into the buffer, CSV quotes undone in
 * place) to take_fields(), which picks the label and text columns, copies the
 * text (one malloc per example) and interns the label string in a small hash
 * table. finish() then drops a detected header row, resolves the interned
 * labels to class ids (known labels, label_names, or the sorted set found)
 * and builds the rnn_dataset. */
#include "textdata.h"
#include "tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "util.h"

enum { FMT_TSV, FMT_CSV, FMT_JSONL, FMT_DIR };
static const char *const fmt_name[] = {"tsv", "csv", "jsonl", "dir"};

#define MAX_TEXT_COLS 64

void rnn_data_opts_default(rnn_data_opts *o) {
    memset(o, 0, sizeof *o); /* every field, those added later too */
    o->format = "auto";
    o->label_col = 0;
    o->text_cols = NULL;
    o->header = -1;
    o->label_names = NULL;
    o->label_base = -1;
    o->check_utf8 = 0;
    o->strip_html = 0;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) rnn_errorf("out of memory (%zu bytes)", n);
    return p;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* An integer label: optional sign, 1..18 digits (so strtoll cannot overflow). */
static int is_int(const char *s) {
    if (*s == '-' || *s == '+') s++;
    size_t n = strspn(s, "0123456789");
    return n >= 1 && n <= 18 && s[n] == 0;
}

/* A cell that reads like a column name: "label", "text", "review_text",
 * "Question Text". Used only for header detection. */
static int looks_like_name(const char *s, size_t n) {
    while (n && is_space((unsigned char)*s)) s++, n--;
    while (n && is_space((unsigned char)s[n - 1])) n--;
    if (n == 0 || n > 32 || !(is_alpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    int words = 1;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == ' ') words += s[i - 1] != ' ';
        else if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.')) return 0;
    }
    return words <= 3;
}

/* ---- the loader: rows collected so far and the interned labels --------- */

typedef struct {
    char *text; /* malloc'd */
    int label;  /* index into loader.lab */
    int line;   /* 1-based line where the record starts (0 for dir) */
} row;

typedef struct {
    char *name;   /* malloc'd */
    size_t count; /* rows with this label */
} label_entry;

typedef struct {
    const char *path;
    int fmt;
    /* column selection (tsv/csv) */
    int label_col;              /* 1-based */
    int text_cols[MAX_TEXT_COLS];
    int n_text_cols;            /* 0 = auto, fixed from the first row */
    int auto_text;
    int ncols;                  /* columns of the first row; 0 before it */
    int header;                 /* option: -1, 0, 1 */
    int check_utf8;             /* option: texts must be UTF-8 */
    int strip_html;             /* option: except in the tags strip_html drops */
    int first_namelike;         /* first row looks like a header */
    int first_label_word;       /* ... and its label cell names a label column as people do ("label", "class") */
    char *hdr;                  /* --header yes: the header's fields joined by tabs (its repeats are skipped) */
    size_t hdr_len;
    int hdr_repeats;            /* rows just like it (files with headers joined) */
    const char *dir_file;       /* dir: the file being added, for add_row's messages */
    /* rows */
    row *rows;
    size_t n, cap;
    /* interned labels: open addressing, slots hold index+1 into lab */
    label_entry *lab;
    int n_lab, cap_lab;
    int *slot;
    size_t n_slot;
    /* scratch for the fields of one record */
    const char **fs;
    size_t *fl;
    int cap_f;
} loader;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int intern_name(loader *L, const char *s, size_t n);

/* s[0..n) as an integer's plain decimal form in out (room for n + 1):
 * "01", "+1" and "1" are "1", "-0" and "-00" are "0", "-007" is "-7", of any
 * length. The form's length, or 0 when s is not an optional sign and digits. */
static size_t int_form(const char *s, size_t n, char *out) {
    const int neg = n && s[0] == '-', sign = n && (s[0] == '-' || s[0] == '+');
    size_t i = sign;
    if (i == n) return 0;
    for (size_t k = i; k < n; k++)
        if (!is_digit((unsigned char)s[k])) return 0;
    while (i + 1 < n && s[i] == '0') i++; /* (one digit stays: "000" is "0") */
    size_t m = 0;
    if (neg && s[i] != '0') out[m++] = '-';
    memcpy(out + m, s + i, n - i);
    m += n - i;
    out[m] = 0;
    return m;
}

/* Index of label s[0..n) in L->lab, adding it if new; -1 on out of memory.
 * An integer is one label by its value (int_form): "1", "01" and "+1" are
 * class 1, named in its plain decimal form. */
static int intern_label(loader *L, const char *s, size_t n) {
    char num[64], *big = NULL;
    char *form = n < sizeof num ? num : (big = malloc(n + 1));
    if (!form) return rnn_errorf("out of memory (%zu bytes)", n + 1);
    const size_t m = int_form(s, n, form);
    if (m) s = form, n = m;
    const int id = intern_name(L, s, n);
    free(big);
    return id;
}

/* intern_label's table: s[0..n) as it is. */
static int intern_name(loader *L, const char *s, size_t n) {
    if ((size_t)(L->n_lab + 1) * 2 > L->n_slot) {
        size_t ns = L->n_slot ? L->n_slot * 2 : 64;
        int *slot = calloc(ns, sizeof *slot);
        if (!slot) return rnn_errorf("out of memory (%zu bytes)", ns * sizeof *slot);
        for (int i = 0; i < L->n_lab; i++) {
            size_t h = hash_bytes(L->lab[i].name, strlen(L->lab[i].name)) & (ns - 1);
            while (slot[h]) h = (h + 1) & (ns - 1);
            slot[h] = i + 1;
        }
        free(L->slot);
        L->slot = slot;
        L->n_slot = ns;
    }
    size_t h = hash_bytes(s, n) & (L->n_slot - 1);
    for (; L->slot[h]; h = (h + 1) & (L->n_slot - 1)) {
        const char *name = L->lab[L->slot[h] - 1].name;
        if (strncmp(name, s, n) == 0 && name[n] == 0) return L->slot[h] - 1;
    }
    if (L->n_lab == L->cap_lab) {
        int nc = L->cap_lab ? L->cap_lab * 2 : 16;
        label_entry *nl = realloc(L->lab, (size_t)nc * sizeof *nl);
        if (!nl) return rnn_errorf("out of memory (%zu bytes)", (size_t)nc * sizeof *nl);
        L->lab = nl;
        L->cap_lab = nc;
    }
    char *name = xmalloc(n + 1);
    if (!name) return -1;
    memcpy(name, s, n);
    name[n] = 0;
    L->lab[L->n_lab] = (label_entry){name, 0};
    L->slot[h] = L->n_lab + 1;
    return L->n_lab++;
}

/* Where a row is, for messages: "file:line" or "dir/label". */
static void row_where(const loader *L, const row *r, char *buf, size_t cap) {
    if (L->fmt == FMT_DIR) snprintf(buf, cap, "%s/%s", L->path, L->lab[r->label].name);
    else snprintf(buf, cap, "%s:%d", L->path, r->line);
}

/* The index of the first control character (C0 or DEL) of s, or -1: a class
 * name holds none (the checkpoint loader refuses them, as terminal escapes). */
static long control_at(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return (long)i;
    return -1;
}

/* The first byte of a text its tokenizer refuses (invalid UTF-8, NUL), -1
 * where none: with strip_html, as rnn_tok_options_refused_at reads it. */
static long refused_at(const loader *L, const char *text) {
    const size_t len = strlen(text);
    if (!L->strip_html) return rnn_utf8_bad_at(text, len);
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    o.strip_html = 1;
    const size_t at = rnn_tok_options_refused_at(&o, text, len);
    return at < len ? (long)at : -1;
}

/* Appends a row that owns text; frees text on failure. Labels go into the
 * checkpoint's JSON metadata and texts into the tokenizer, so bad bytes are
 * reported here, where the file and line are known (a label at its first
 * row). */
static int add_row(loader *L, char *text, const char *label, size_t label_len, int line) {
    const int n_lab = L->n_lab;
    int id = intern_label(L, label, label_len);
    if (id < 0) {
        free(text);
        return -1;
    }
    if (L->n == L->cap) {
        size_t nc = L->cap ? L->cap * 2 : 1024;
        row *nr = realloc(L->rows, nc * sizeof *nr);
        if (!nr) {
            free(text);
            return rnn_errorf("out of memory (%zu bytes)", nc * sizeof *nr);
        }
        L->rows = nr;
        L->cap = nc;
    }
    L->rows[L->n++] = (row){text, id, line};
    L->lab[id].count++;
    long at = -1;
    const char *what = NULL;
    /* (the label as read: an integer's name, its plain form, may be shorter) */
    if (id == n_lab && rnn_utf8_bad_at(label, label_len) >= 0) what = "the label is not valid UTF-8";
    else if (id == n_lab && control_at(label, label_len) >= 0)
        what = "the label holds a control character (a class name is printed, and saved with the model)";
    else if (L->check_utf8 && (at = refused_at(L, text)) >= 0) what = "invalid UTF-8 at byte offset";
    if (!what) return 0;
    char where[4200];
    if (L->dir_file) snprintf(where, sizeof where, "%s", L->dir_file);
    else row_where(L, &L->rows[L->n - 1], where, sizeof where);
    if (at < 0) return rnn_errorf("%s: %s", where, what);
    return rnn_errorf("%s: %s %ld of the text", where, what, at);
}

static void loader_free(loader *L) {
    for (size_t i = 0; i < L->n; i++) free(L->rows[i].text);
    for (int i = 0; i < L->n_lab; i++) free(L->lab[i].name);
    free(L->rows);
    free(L->lab);
    free(L->slot);
    free(L->fs);
    free(L->fl);
    free(L->hdr);
}

/* The header record's nf fields joined by tabs into L->hdr. */
static int keep_header(loader *L, int nf) {
    size_t n = nf ? (size_t)nf - 1 : 0;
    for (int i = 0; i < nf; i++) n += L->fl[i];
    if (!(L->hdr = malloc(n + 1))) return rnn_errorf("out of memory");
    size_t w = 0;
    for (int i = 0; i < nf; i++) {
        if (i) L->hdr[w++] = '\t';
        memcpy(L->hdr + w, L->fs[i], L->fl[i]);
        w += L->fl[i];
    }
    L->hdr_len = n;
    return 0;
}

/* Whether the record's nf fields are the kept header's, joined by tabs. */
static int is_header_again(const loader *L, int nf) {
    if (!L->hdr) return 0;
    size_t at = 0;
    for (int i = 0; i < nf; i++) {
        if (i && (at >= L->hdr_len || L->hdr[at++] != '\t')) return 0;
        if (at + L->fl[i] > L->hdr_len || memcmp(L->hdr + at, L->fs[i], L->fl[i])) return 0;
        at += L->fl[i];
    }
    return at == L->hdr_len;
}

/* --header yes: the first record (*skip_header set), kept to skip its
 * repeats (files with headers joined), or one of them: 1, read no further;
 * 0: a row; -1 + message. */
static int header_row(loader *L, int nf, int *skip_header) {
    if (*skip_header) {
        *skip_header = 0;
        return keep_header(L, nf) ? -1 : 1;
    }
    if (!is_header_again(L, nf)) return 0;
    L->hdr_repeats++;
    return 1;
}

static int push_field(loader *L, int *nf, const char *s, size_t n) {
    if (*nf == L->cap_f) {
        int nc = L->cap_f ? L->cap_f * 2 : 16;
        const char **fs = realloc(L->fs, (size_t)nc * sizeof *fs);
        if (!fs) return rnn_errorf("out of memory");
        L->fs = fs;
        size_t *fl = realloc(L->fl, (size_t)nc * sizeof *fl);
        if (!fl) return rnn_errorf("out of memory");
        L->fl = fl;
        L->cap_f = nc;
    }
    L->fs[*nf] = s;
    L->fl[*nf] = n;
    (*nf)++;
    return 0;
}

/* Parses "3", "2,3", "2-3", "1,3-4" into 1-based columns. */
static int parse_cols(const char *s, int *cols, int *n) {
    const char *p = s;
    *n = 0;
    for (;;) {
        while (*p == ' ') p++;
        char *e;
        long a = strtol(p, &e, 10), b = a;
        if (e == p || a < 1) goto bad;
        p = e;
        while (*p == ' ') p++;
        if (*p == '-') {
            p++;
            b = strtol(p, &e, 10);
            if (e == p || b < a) goto bad;
            p = e;
            while (*p == ' ') p++;
        }
        if (b > 100000) goto bad;
        for (long c = a; c <= b; c++) {
            if (*n == MAX_TEXT_COLS) return rnn_errorf("--text-col \"%s\": more than %d columns", s, MAX_TEXT_COLS);
            for (int i = 0; i < *n; i++)
                if (cols[i] == c) return rnn_errorf("--text-col \"%s\": column %ld twice", s, c);
            cols[(*n)++] = (int)c;
        }
        if (*p == 0) return 0;
        if (*p != ',') goto bad;
        p++;
    }
bad:
    return rnn_errorf("--text-col \"%s\": expected 1-based column numbers like 3, 2,3 or 2-3", s);
}

/* Separator after a text part when joining columns. */
static int ends_in_punct(const char *s, size_t n) { return n && strchr(".!?;:,", s[n - 1]); }

/* Spaces at a label's edges are none of it: ASCII ones, a no-break space
 * (U+00A0) and a byte order mark (U+FEFF, where files were joined), which
 * would make a class that prints as another. */
static void trim_label(const char **lab, size_t *ll) {
    for (int again = 1; again;) {
        again = 0;
        while (*ll && is_space((unsigned char)**lab)) ++*lab, --*ll, again = 1;
        while (*ll && is_space((unsigned char)(*lab)[*ll - 1])) --*ll, again = 1;
        if (*ll >= 2 && !memcmp(*lab, "\xc2\xa0", 2)) *lab += 2, *ll -= 2, again = 1;
        if (*ll >= 2 && !memcmp(*lab + *ll - 2, "\xc2\xa0", 2)) *ll -= 2, again = 1;
        if (*ll >= 3 && !memcmp(*lab, "\xef\xbb\xbf", 3)) *lab += 3, *ll -= 3, again = 1;
        if (*ll >= 3 && !memcmp(*lab + *ll - 3, "\xef\xbb\xbf", 3)) *ll -= 3, again = 1;
    }
}

/* Whether a label cell names a label column as people do: a header ("label",
 * "sentiment"), whose rows may have more columns, or repeat (files joined). */
static int is_label_word(const char *s, size_t n) {
    static const char *const words[] = {"label", "labels", "class", "category", "sentiment", "polarity",
                                        "target", "topic", "y", "tag", NULL};
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == n && !strncasecmp(s, words[i], n)) return 1;
    return 0;
}

/* One record's fields → a row. */
static int take_fields(loader *L, int nf, int line) {
    const char *sep_name = L->fmt == FMT_TSV ? "tab" : "comma";
    /* the first row fixes the auto text columns; a first row that may be a
     * header (it is dropped if so) lets the second row fix them, where that
     * one has more: "label<TAB>text" above rows of three columns */
    const int after_header = L->n == 1 && L->header == -1 && L->first_label_word && L->fmt == FMT_TSV && nf > L->ncols;
    if (L->ncols == 0 || after_header) {
        L->ncols = nf;
        if (L->auto_text) {
            if (nf < 2)
                return rnn_errorf("%s:%d: expected at least 2 %s-separated columns, found %d", L->path, line,
                                  sep_name, nf);
            L->n_text_cols = 0;
            if (L->fmt == FMT_TSV) {
                L->text_cols[L->n_text_cols++] = L->label_col == nf ? nf - 1 : nf;
            } else {
                for (int c = 1; c <= nf && L->n_text_cols < MAX_TEXT_COLS; c++)
                    if (c != L->label_col) L->text_cols[L->n_text_cols++] = c;
            }
        }
    }
    if (nf < 2)
        return rnn_errorf("%s:%d: expected at least 2 %s-separated columns, found %d", L->path, line, sep_name, nf);
    int need = L->label_col;
    for (int i = 0; i < L->n_text_cols; i++)
        if (L->text_cols[i] > need) need = L->text_cols[i];
    if (need > nf) {
        if (L->auto_text && nf < L->ncols) /* the columns came from the first row: name it as the cause */
            return rnn_errorf("%s:%d: missing column %d (row has %d; the first row has %d, and its last "
                              "is the text: a stray tab there? --text-col picks the column)",
                              L->path, line, need, nf, L->ncols);
        return rnn_errorf("%s:%d: missing column %d (row has %d)", L->path, line, need, nf);
    }
    if (L->fmt == FMT_TSV && nf > L->ncols) /* (a text in the last column took the rest of the line) */
        return rnn_errorf("%s:%d: %d tab-separated fields where the first row has %d (a tab inside a text that "
                          "another column follows shifts that column; TSV has no quoting)",
                          L->path, line, nf, L->ncols);
    if (L->fmt == FMT_CSV && nf != L->ncols) /* RFC 4180; a text's unquoted comma would shift or drop columns */
        return rnn_errorf("%s:%d: %d comma-separated fields where the first row has %d (a comma inside a text "
                          "must be quoted: \"...\", and a quote inside a quoted text doubled: \"\"; an unclosed "
                          "quote runs on into the rows after it)",
                          L->path, line, nf, L->ncols);

    const char *lab = L->fs[L->label_col - 1];
    size_t ll = L->fl[L->label_col - 1];
    trim_label(&lab, &ll);
    if (ll == 0) return rnn_errorf("%s:%d: empty label (column %d)", L->path, line, L->label_col);

    size_t total = 1;
    for (int i = 0; i < L->n_text_cols; i++) total += L->fl[L->text_cols[i] - 1] + 2;
    char *text = xmalloc(total);
    if (!text) return -1;
    size_t k = 0;
    for (int i = 0; i < L->n_text_cols; i++) {
        const char *s = L->fs[L->text_cols[i] - 1];
        size_t n = L->fl[L->text_cols[i] - 1];
        if (n == 0) continue;
        if (k) {
            if (!ends_in_punct(text, k)) text[k++] = '.';
            text[k++] = ' ';
        }
        memcpy(text + k, s, n);
        k += n;
    }
    text[k] = 0;
    if (L->n == 0) {
        int namelike = looks_like_name(lab, ll);
        for (int i = 0; i < L->n_text_cols && namelike; i++)
            namelike = looks_like_name(L->fs[L->text_cols[i] - 1], L->fl[L->text_cols[i] - 1]);
        L->first_namelike = namelike;
        L->first_label_word = namelike && is_label_word(lab, ll);
    }
    return add_row(L, text, lab, ll, line);
}

/* ---- formats ------------------------------------------------------------ */

/* A carriage return that ends no line (one before a newline, or at the end
 * of the file, does): two rows run together where a line ended in a
 * carriage return alone, which read on would put one row's text and the
 * next one's label into a single example. */
static int stray_cr(const loader *L, int line) {
    return rnn_errorf("%s:%d: a carriage return inside the line (did a line end in a carriage return alone? "
                      "convert them, e.g. tr '\\r' '\\n')",
                      L->path, line);
}

/* Whether column c (1-based) is one the text is read from. */
static int is_text_col(const loader *L, int c) {
    for (int i = 0; i < L->n_text_cols; i++)
        if (L->text_cols[i] == c) return 1;
    return 0;
}

static int parse_tsv(loader *L, char *buf, size_t len) {
    char *p = buf, *end = buf + len;
    int line = 0, skip_header = L->header == 1;
    while (p < end) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        char *q = eol;
        if (q > p && q[-1] == '\r') q--;
        char *next = eol < end ? eol + 1 : end;
        if (q == p) { /* blank line */
            p = next;
            continue;
        }
        if (memchr(p, '\r', (size_t)(q - p))) return stray_cr(L, line);
        int nf = 0;
        const char *f = p;
        /* After the first row, the last of its N columns takes the rest of the
         * line when it is the text (a tab typed in a review); a tab in a text
         * that another column follows would shift that column: refused. */
        const int maybe_header = L->n == 1 && L->header == -1 && L->first_label_word; /* (its row may not count) */
        const int merge = L->ncols && !maybe_header && L->label_col != L->ncols && is_text_col(L, L->ncols);
        for (;;) {
            char *tab = (merge && nf == L->ncols - 1) ? NULL : memchr(f, '\t', (size_t)(q - f));
            if (!tab) {
                if (push_field(L, &nf, f, (size_t)(q - f))) return -1;
                break;
            }
            if (push_field(L, &nf, f, (size_t)(tab - f))) return -1;
            f = tab + 1;
        }
        const int h = header_row(L, nf, &skip_header);
        if (h < 0 || (!h && take_fields(L, nf, line))) return -1;
        p = next;
    }
    return 0;
}

/* RFC 4180. Quoted fields are unescaped in place: the write pointer never
 * passes the read pointer, and a field's bytes are never touched again. */
static int parse_csv(loader *L, char *buf, size_t len) {
    char *p = buf, *end = buf + len;
    int line = 1, skip_header = L->header == 1;
    while (p < end) {
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { /* blank line */
            p += *p == '\r' ? 2 : 1;
            line++;
            continue;
        }
        int rec_line = line, nf = 0;
        for (;;) {
            char *start;
            size_t n;
            if (p < end && *p == '"') {
                int field_line = line;
                char *w = ++p;
                start = w;
                for (;;) {
                    if (p >= end)
                        return rnn_errorf("%s:%d: unterminated quoted field (no closing \")", L->path, field_line);
                    if (*p == '"') {
                        if (p + 1 < end && p[1] == '"') {
                            *w++ = '"';
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    if (*p == '\n') line++;
                    *w++ = *p++;
                }
                /* text after the closing quote is kept, as Python's csv does;
                 * a carriage return there ends no line (the loop stops at one
                 * that does) */
                while (p < end && *p != ',' && *p != '\n' && !(*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
                    if (*p == '\r') return stray_cr(L, line);
                    *w++ = *p++;
                }
                n = (size_t)(w - start);
            } else {
                start = p;
                while (p < end && *p != ',' && *p != '\n') p++;
                n = (size_t)(p - start);
                if (n && start[n - 1] == '\r' && (p == end || *p == '\n')) n--;
                if (memchr(start, '\r', n)) return stray_cr(L, line);
            }
            if (push_field(L, &nf, start, n)) return -1;
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == '\r') p++;
            if (p < end && *p == '\n') {
                p++;
                line++;
            }
            break;
        }
        const int h = header_row(L, nf, &skip_header);
        if (h < 0 || (!h && take_fields(L, nf, rec_line))) return -1;
    }
    return 0;
}

static int parse_jsonl(loader *L, char *buf, size_t len) {
    char *p = buf, *end = buf + len;
    int line = 0;
    while (p < end) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        char *next = eol < end ? eol + 1 : end;
        const char *s = p;
        while (s < eol && is_space((unsigned char)*s)) s++;
        if (s == eol) {
            p = next;
            continue;
        }
        if (*s == '[' && L->n == 0)
            return rnn_errorf("%s:%d: a JSON array; expected JSON lines (one {\"text\": ..., \"label\": ...} "
                              "object per line)",
                              L->path, line);
        *eol = 0; /* parse this line only; require_null_terminated refuses trailing junk */
        const char *jend = NULL;
        cJSON *j = cJSON_ParseWithOpts(p, &jend, 1);
        if (!j) {
            const char *at = jend ? jend : cJSON_GetErrorPtr();
            long col = at && at >= p && at <= eol ? (long)(at - p) + 1 : 0;
            return rnn_errorf("%s:%d: invalid JSON (near column %ld)", L->path, line, col);
        }
        long nul = rnn_json_nul_at(p, strlen(p)); /* (the line holds no NUL byte: refused before) */
        if (nul) {
            cJSON_Delete(j);
            return rnn_errorf("%s:%d: a NUL character (\\u0000, column %ld): the strings of a JSON line "
                              "cannot hold one here",
                              L->path, line, nul);
        }
        int rc = -1;
        char num[32];
        const char *lab = NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "label");
        int n_text = 0, n_label = 0; /* cJSON finds a key's first value; a second is ambiguous */
        for (const cJSON *c = cJSON_IsObject(j) ? j->child : NULL; c; c = c->next) {
            n_text += c->string && !strcmp(c->string, "text");
            n_label += c->string && !strcmp(c->string, "label");
        }
        if (!cJSON_IsObject(j)) rnn_errorf("%s:%d: expected a JSON object", L->path, line);
        else if (n_text > 1 || n_label > 1)
            rnn_errorf("%s:%d: the key \"%s\" appears %d times", L->path, line, n_text > 1 ? "text" : "label",
                       n_text > 1 ? n_text : n_label);
        else if (!t) rnn_errorf("%s:%d: no \"text\" key", L->path, line);
        else if (!l) rnn_errorf("%s:%d: no \"label\" key", L->path, line);
        else if (!cJSON_IsString(t)) rnn_errorf("%s:%d: \"text\" is not a string", L->path, line);
        else if (cJSON_IsString(l)) lab = l->valuestring;
        else if (cJSON_IsNumber(l) && l->valuedouble == floor(l->valuedouble) && fabs(l->valuedouble) < 1e15) {
            snprintf(num, sizeof num, "%.0f", l->valuedouble);
            lab = num;
        } else
            rnn_errorf("%s:%d: \"label\" must be a string or an integer", L->path, line);
        if (lab) {
            size_t ll = strlen(lab);
            trim_label(&lab, &ll);
            char *text;
            if (ll == 0) rnn_errorf("%s:%d: empty label", L->path, line);
            else if ((text = rnn_strdup(t->valuestring)) != NULL) rc = add_row(L, text, lab, ll, line);
        }
        cJSON_Delete(j);
        if (rc) return -1;
        p = next;
    }
    return 0;
}

/* Reads a regular file into an exact-size NUL-terminated buffer
 * (rnn_read_file grows a buffer from 1 MB by doubling: too much for 25,000
 * small reviews, and copies for a 33 MB file). */
static char *read_exact(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rnn_errorf("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    const size_t limit = rnn_read_limit();
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        rnn_errorf("%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode) || st.st_size == 0) { /* a pipe, or /proc's files of size 0: read to the end */
        return rnn_read_stream(f, path, NULL, 0, len, 0);
    } else if ((uintmax_t)st.st_size >= limit) {
        rnn_read_too_large(path, limit);
    } else if ((buf = xmalloc((size_t)st.st_size + 1)) != NULL) {
        size_t n = fread(buf, 1, (size_t)st.st_size, f);
        if (n != (size_t)st.st_size || ferror(f)) {
            rnn_errorf("%s: read error", path);
            free(buf);
            buf = NULL;
        } else {
            buf[n] = 0;
            *len = n;
        }
    }
    fclose(f);
    return buf;
}

/* parse_dir's visit of a file in a class directory: a *.txt file is one
 * example of the class. */
typedef struct {
    loader *L;
    const char *label;
    long n;              /* examples read */
    const dev_t *dev;    /* (n_out) the directories a class's walk keeps out of: */
    const ino_t *ino;    /* DIR and its subdirectories, each class's among them */
    int n_out;
    char *const *real;   /* (n_class) each class directory's real path (NULL: unknown) */
    int n_class, self;   /* and which is this walk's */
} class_walk;

/* parse_dir's test of a subdirectory met in a class directory: a link up
 * to DIR or into another class (or "unsup") is not followed, lest those
 * files be read as this class's examples. */
static int stays_in_class(const char *dir, void *user) {
    const class_walk *w = user;
    struct stat st;
    if (stat(dir, &st) != 0) return rnn_errorf("%s: cannot open directory: %s", dir, strerror(errno));
    for (int i = 0; i < w->n_out; i++)
        if (w->dev[i] == st.st_dev && w->ino[i] == st.st_ino) return 0;
    return 1;
}

static int add_class_file(const char *fp, void *user) {
    class_walk *w = user;
    const size_t fl = strlen(fp);
    if (fl < 4 || strcmp(fp + fl - 4, ".txt") != 0) return 0;
    { /* a file, or a folder on its path, that is another class's: one text, two classes */
        char *to = realpath(fp, NULL);
        for (int j = 0; to && j < w->n_class; j++) {
            const size_t n = w->real[j] ? strlen(w->real[j]) : 0;
            if (j != w->self && n && !strncmp(to, w->real[j], n) && to[n] == '/') {
                rnn_errorf("%s: a link to %s, a file of another class's directory (one text would be an example "
                           "of both)", fp, to);
                free(to);
                return -1;
            }
        }
        free(to);
    }
    size_t len;
    char *text = read_exact(fp, &len);
    if (!text) return -1;
    if (memchr(text, 0, len)) {
        free(text);
        return rnn_errorf("%s: NUL byte in the text (a binary file?)", fp);
    }
    const size_t bom = rnn_bom_len(text, len);
    if (bom) memmove(text, text + bom, len - bom + 1); /* with the NUL */
    w->L->dir_file = fp;
    const int rc = add_row(w->L, text, w->label, strlen(w->label), 0);
    w->L->dir_file = NULL;
    w->n++;
    return rc;
}

/* DIR/<label>/ *.txt: each file an example of its directory's class, files
 * in subdirectories of a class directory too (DIR/pos/2019/a.txt is pos).
 * Hidden directories and aclImdb's unlabelled "unsup" are no classes. */
static int parse_dir(loader *L) {
    char path[4096];
    size_t pl = strlen(L->path);
    while (pl > 1 && L->path[pl - 1] == '/') pl--; /* "DIR/" → "DIR/pos/..." not "DIR//pos" */
    char **subs;
    const int ns = rnn_list_dir(L->path, 1, &subs);
    if (ns < 0) return -1;
    /* what every class's walk keeps out of: DIR and its subdirectories */
    dev_t *dev = malloc(sizeof *dev * ((size_t)ns + 1));
    ino_t *ino = malloc(sizeof *ino * ((size_t)ns + 1));
    int rc = dev && ino ? 0 : rnn_errorf("out of memory"), n_out = 0;
    for (int i = -1; i < ns && !rc; i++) {
        struct stat st;
        if (snprintf(path, sizeof path, "%.*s%s%s", (int)pl, L->path, i < 0 ? "" : "/", i < 0 ? "" : subs[i]) >=
            (int)sizeof path)
            rc = rnn_errorf("%s: path too long", L->path);
        else if (stat(path, &st) != 0)
            rc = rnn_errorf("%s: cannot open directory: %s", path, strerror(errno));
        else
            dev[n_out] = st.st_dev, ino[n_out++] = st.st_ino;
    }
    /* each class's real path, for links among them; a class directory that
     * is another one (a link to it) would read that class's files again */
    char **real = calloc((size_t)ns + 1, sizeof *real);
    if (!rc && !real) rc = rnn_errorf("out of memory");
    for (int i = 0; i < ns && !rc; i++) {
        snprintf(path, sizeof path, "%.*s/%s", (int)pl, L->path, subs[i]);
        real[i] = realpath(path, NULL);
        for (int j = 0; j < i && !rc; j++)
            if (dev[j + 1] == dev[i + 1] && ino[j + 1] == ino[i + 1] && strcmp(subs[i], "unsup") && strcmp(subs[j], "unsup"))
                rc = rnn_errorf("%s: the same directory as class %s (a link to it): its files would be examples of "
                                "both", path, subs[j]);
    }
    for (int i = 0; i < ns && !rc; i++) {
        if (!strcmp(subs[i], "unsup")) continue;
        snprintf(path, sizeof path, "%.*s/%s", (int)pl, L->path, subs[i]); /* (its length checked above) */
        class_walk w = {L, subs[i], 0, dev, ino, n_out, real, ns, i};
        rc = rnn_walk_files(path, add_class_file, stays_in_class, &w);
        if (!rc && w.n == 0) /* a class with no examples would vanish from the model without a word */
            rc = rnn_errorf("%s: a class directory with no .txt files (remove it, or add its examples)", path);
    }
    for (int i = 0; real && i < ns; i++) free(real[i]);
    free(real);
    free(dev);
    free(ino);
    rnn_free_names(subs, ns);
    return rc;
}

/* ---- labels → class ids ------------------------------------------------- */

typedef struct {
    const char *name;
    long long v; /* numeric value when every label is an integer, else 0 */
    int idx;     /* interned label */
} sort_key;

static int cmp_key(const void *a, const void *b) {
    const sort_key *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Position of s in names[0..n), or -1. */
static int find_name(char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

/* A known class (a checkpoint's) whose name is s or, read as an integer,
 * s's plain form: a run that began before 2026-12-07 kept integers of 19 and
 * more digits as written ("0012345678901234567890"), which its data now
 * reads in plain form. */
static int find_known(char *const *names, int n, const char *s) {
    int k = find_name(names, n, s);
    for (int i = 0; k < 0 && i < n; i++) {
        const size_t len = strlen(names[i]);
        char num[64], *form = len < sizeof num ? num : malloc(len + 1);
        if (form && int_form(names[i], len, form) && !strcmp(form, s)) k = i;
        if (form != num) free(form);
    }
    return k;
}

/* "(neg, pos)" or "(a, b, c, ... 40 in all)" for error messages. */
static void name_list(char *buf, size_t cap, char *const *names, int n) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < n && k < cap; i++) {
        if (k > 160) {
            snprintf(buf + k, cap - k, "... %d in all", n);
            k = strlen(buf);
            break;
        }
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", names[i]);
    }
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

/* A name sorted with its line (index), for first_repeat. */
typedef struct {
    const char *s;
    int i;
} named_line;

static int by_name_line(const void *a, const void *b) {
    const named_line *x = a, *y = b;
    const int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* -1 with "path:J: class name "X" repeats line I" for the first line J (in
 * file order) whose name an earlier line I has, else 0: sorted, O(n log n)
 * (one comparison with each earlier name took minutes for 100,000 classes). */
static int first_repeat(const char *path, char *const *names, int n) {
    named_line *v = malloc(sizeof *v * (size_t)(n ? n : 1));
    if (!v) return rnn_errorf("out of memory");
    for (int i = 0; i < n; i++) v[i] = (named_line){names[i], i};
    qsort(v, (size_t)n, sizeof *v, by_name_line);
    int j = -1, i = -1; /* line j (0-based) repeats line i, j the least */
    for (int k = 1; k < n; k++)
        if (!strcmp(v[k].s, v[k - 1].s) && (j < 0 || v[k].i < j) && (k < 2 || strcmp(v[k].s, v[k - 2].s)))
            j = v[k].i, i = v[k - 1].i; /* (a name's second line: its first repeat) */
    free(v);
    if (j < 0) return 0;
    return rnn_errorf("%s:%d: class name \"%s\" repeats line %d", path, j + 1, rnn_show(names[j]).s, i + 1);
}

/* Reads label_names: one name per line (CR stripped, trailing blank lines
 * dropped). */
static int read_names(const char *path, char ***out, int *n_out) {
    size_t len;
    char *buf = rnn_read_text_file_ex(path, &len, 1); /* a NUL byte is refused below */
    if (!buf) return -1;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    char *p = buf, *end = buf + len;
    while (len && p <= end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        char *q = eol;
        if (q > p && q[-1] == '\r') q--;
        /* blanks around a name are not part of it, as around a data file's labels */
        while (q > p && is_space((unsigned char)q[-1])) q--;
        while (p < q && is_space((unsigned char)*p)) p++;
        *q = 0;
        if (q == p) {
            rc = rnn_errorf("%s:%d: empty class name", path, n + 1);
            break;
        }
        long bad = rnn_utf8_bad_at(p, (size_t)(q - p));
        if (bad >= 0) {
            rc = rnn_errorf("%s:%d: the class name %s", path, n + 1,
                            p[bad] ? "is not valid UTF-8" : "holds a NUL byte (not a text file?)");
            break;
        }
        if (control_at(p, (size_t)(q - p)) >= 0) {
            rc = rnn_errorf("%s:%d: the class name holds a control character", path, n + 1);
            break;
        }
        if ((rc = rnn_names_push(&names, &n, &cap, p))) break;
        p = eol + 1;
    }
    free(buf);
    if (!rc && n == 0) rc = rnn_errorf("%s: no class names", path);
    if (!rc) rc = first_repeat(path, names, n);
    if (rc) {
        rnn_free_names(names, n);
        return -1;
    }
    *out = names;
    *n_out = n;
    return 0;
}

static int finish(loader *L, rnn_dataset *d, const rnn_data_opts *o, char *const *known, int n_known) {
    char **names = NULL; /* label_names file */
    int n_names = 0, base = 1, rc = -1;
    long long ambiguous_lo = 0, ambiguous_hi = 0; /* labels that fit base 0 and 1 alike */
    int *map = NULL;     /* interned label → class id, -1 = not a class */
    char **classes = NULL;
    int n_classes = 0;
    rnn_example *ex = NULL;
    char where[4200], list[256];

    if (o->label_names && o->label_names[0]) {
        if (read_names(o->label_names, &names, &n_names)) return -1;
    }
    if (!(map = xmalloc((size_t)(L->n_lab ? L->n_lab : 1) * sizeof *map))) goto out;

    /* map: each interned label's class id, via its name when label_names
     * translates integers; -1 where it has none (a header, or an error). */
    if (o->label_base < -1 || o->label_base > 1) {
        rnn_errorf("--label-base must be 0 or 1 (got %d)", o->label_base);
        goto out;
    }
    if (names && o->label_base >= 0) {
        base = o->label_base;
    } else if (names) { /* 0-based when a label is 0, 1-based when one is n_names */
        long long lo = LLONG_MAX, hi = LLONG_MIN;
        for (int i = 0; i < L->n_lab; i++)
            if (is_int(L->lab[i].name)) {
                long long v = strtoll(L->lab[i].name, NULL, 10);
                lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            }
        if (lo == 0 || (lo < 0 && hi < n_names)) base = 0; /* (a negative label is then the error) */
        else if (hi == n_names) base = 1;
        else if (lo <= hi && lo > 0 && hi < n_names) /* an error once the rows' own are reported */
            ambiguous_lo = lo, ambiguous_hi = hi;
    }
    d->label_base = names ? base : -1;
    d->header_repeats = L->hdr_repeats;
    for (int i = 0; i < L->n_lab; i++) {
        const char *nm = L->lab[i].name;
        map[i] = -1;
        if (names) { /* an integer named by its line, or a name of the file itself */
            long long v = is_int(nm) ? strtoll(nm, NULL, 10) - base : find_name(names, n_names, nm);
            if (v < 0 || v >= n_names) continue;
            nm = names[v];
            if (!known) {
                map[i] = (int)v;
                continue;
            }
        }
        if (known) map[i] = find_known(known, n_known, nm);
        /* a model trained with --label-names numbers its classes from its base */
        if (known && !names && map[i] < 0 && o->label_base >= 0 && is_int(nm)) {
            const long long v = strtoll(nm, NULL, 10) - o->label_base;
            if (v >= 0 && v < n_known) map[i] = (int)v;
        }
    }

    /* Header detection, then drop it. */
    int dropped_header = 0;
    if (L->header == -1 && (L->fmt == FMT_TSV || L->fmt == FMT_CSV) && L->n && L->first_namelike) {
        int lb = L->rows[0].label;
        /* rows just like the first (files with headers joined) are that header
         * again, where it names its label column as people do ("label",
         * "sentiment"): two classes' files each repeat their rows too */
        size_t repeats = 0;
        for (size_t r = 1; L->first_label_word && r < L->n; r++)
            repeats += L->rows[r].label == lb && !strcmp(L->rows[r].text, L->rows[0].text);
        /* (with the classes known, as training guessed it from a label found once: the note says so) */
        int is_header = (known || names) ? map[lb] < 0 : L->lab[lb].count - repeats == 1;
        if (is_header) {
            d->header_line = L->rows[0].line;
            d->header_repeats = (int)repeats;
            char *first = L->rows[0].text;
            size_t w = 0;
            for (size_t r = 1; r < L->n; r++) {
                if (L->rows[r].label == lb && !strcmp(L->rows[r].text, first)) free(L->rows[r].text);
                else L->rows[w++] = L->rows[r];
            }
            free(first);
            L->n = w;
            L->lab[lb].count -= (int)repeats + 1;
            dropped_header = 1;
        }
    }
    /* a first row kept whose label no other row has: a header with a longer text cell? */
    if (!dropped_header && L->header == -1 && !known && !names && (L->fmt == FMT_TSV || L->fmt == FMT_CSV) &&
        L->n > 1 && L->lab[L->rows[0].label].count == 1)
        d->lone_first = L->rows[0].line;
    if (L->n == 0) {
        rnn_errorf(dropped_header ? "%s: no examples (its only row reads as a header)" : "%s: no examples",
                   L->path);
        goto out;
    }
    size_t empty = 0;
    while (empty < L->n && !L->rows[empty].text[0]) empty++;
    if (empty == L->n && (L->fmt == FMT_TSV || L->fmt == FMT_CSV)) { /* (a separator ending every line: no text) */
        rnn_errorf("%s: every text (column %d) is empty: a %s at the end of each line? (--text-col picks the text's "
                   "column)", L->path, L->text_cols[0], L->fmt == FMT_TSV ? "tab" : "comma");
        goto out;
    }

    if (known || names) {
        for (size_t r = 0; r < L->n; r++) {
            int lb = L->rows[r].label;
            if (map[lb] >= 0) continue;
            row_where(L, &L->rows[r], where, sizeof where);
            const char *nm = L->lab[lb].name;
            if (names && !is_int(nm))
                rnn_errorf("%s: label \"%s\" is neither an integer nor one of the names in %s", where,
                           rnn_show(nm).s, o->label_names);
            else if (names && (strtoll(nm, NULL, 10) - base < 0 || strtoll(nm, NULL, 10) - base >= n_names))
                rnn_errorf("%s: label %s has no name in %s (%d names, labels %d-based)", where, nm, o->label_names,
                           n_names, base);
            else if (!names && is_int(nm) && o->label_base >= 0) {
                name_list(list, sizeof list, known, n_known);
                rnn_errorf("%s: label %s names none of the %d classes, labels %d-%d %s", where, nm, n_known,
                           o->label_base, o->label_base + n_known - 1, list);
            } else {
                name_list(list, sizeof list, known, n_known);
                rnn_errorf("%s: label \"%s\" is not one of the %d known labels %s%s", where,
                           rnn_show(names ? names[strtoll(nm, NULL, 10) - base] : nm).s, n_known, list,
                           !names && is_int(nm) ? "; a file that numbers them needs --label-names" : "");
            }
            goto out;
        }
        if (ambiguous_lo) {
            rnn_errorf("%s: labels %lld-%lld could name the %d classes of %s from 0 or from 1: "
                       "say which with --label-base 0|1",
                       L->path, ambiguous_lo, ambiguous_hi, n_names, o->label_names);
            goto out;
        }
        char *const *src = known ? known : names;
        n_classes = known ? n_known : n_names;
        if (!(classes = calloc((size_t)n_classes, sizeof *classes))) {
            rnn_errorf("out of memory");
            goto out;
        }
        for (int c = 0; c < n_classes; c++)
            if (!(classes[c] = rnn_strdup(src[c]))) goto out;
    } else {
        /* the labels found, sorted: numerically when all are integers */
        sort_key *key = xmalloc((size_t)(L->n_lab ? L->n_lab : 1) * sizeof *key);
        if (!key) goto out;
        int numeric = 1;
        for (int i = 0; i < L->n_lab; i++)
            if (L->lab[i].count) {
                key[n_classes++] = (sort_key){L->lab[i].name, 0, i};
                if (!is_int(L->lab[i].name)) numeric = 0;
            }
        if (numeric)
            for (int c = 0; c < n_classes; c++) key[c].v = strtoll(key[c].name, NULL, 10);
        qsort(key, (size_t)n_classes, sizeof *key, cmp_key);
        if (!(classes = calloc((size_t)n_classes, sizeof *classes))) {
            rnn_errorf("out of memory");
            free(key);
            goto out;
        }
        for (int c = 0; c < n_classes; c++) {
            map[key[c].idx] = c;
            classes[c] = L->lab[key[c].idx].name; /* take ownership */
            L->lab[key[c].idx].name = NULL;
        }
        free(key);
    }

    if (!(ex = xmalloc(L->n * sizeof *ex))) goto out;
    for (size_t r = 0; r < L->n; r++) {
        ex[r].text = L->rows[r].text;
        ex[r].label = map[L->rows[r].label];
    }
    d->ex = ex;
    d->n = L->n;
    d->labels = classes;
    d->n_labels = n_classes;
    L->n = 0; /* the texts now belong to d */
    ex = NULL;
    classes = NULL;
    rc = 0;
out:
    if (classes) rnn_free_names(classes, n_classes);
    free(ex);
    free(map);
    if (names) rnn_free_names(names, n_names);
    return rc;
}

/* ---- entry points ------------------------------------------------------- */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++) {
        int c = (unsigned char)s[n - m + i];
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        if (c != suf[i]) return 0;
    }
    return 1;
}

int rnn_dataset_load(rnn_dataset *d, const char *path, const rnn_data_opts *o, char *const *known_labels,
                     int n_known) {
    memset(d, 0, sizeof *d);
    rnn_data_opts def;
    if (!o) {
        rnn_data_opts_default(&def);
        o = &def;
    }
    if (!known_labels || n_known <= 0) {
        known_labels = NULL;
        n_known = 0;
    }
    loader L = {0};
    L.path = path;
    L.header = o->header < 0 ? -1 : o->header > 0;
    L.check_utf8 = o->check_utf8;
    L.strip_html = o->strip_html;

    const char *f = o->format && o->format[0] ? o->format : "auto";
    int fmt = -1;
    if (!strcmp(f, "json")) fmt = FMT_JSONL;
    for (int i = 0; i < 4; i++)
        if (!strcmp(f, fmt_name[i])) fmt = i;
    if (fmt < 0 && strcmp(f, "auto"))
        return rnn_errorf("unknown data format \"%s\" (expected auto, tsv, csv, jsonl or dir)", f);

    struct stat st;
    if (stat(path, &st) != 0) return rnn_errorf("%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if (fmt >= 0 && fmt != FMT_DIR)
            return rnn_errorf("%s: is a directory (format %s needs a file)", path, fmt_name[fmt]);
        fmt = FMT_DIR;
    } else if (fmt == FMT_DIR) {
        return rnn_errorf("%s: not a directory (format dir expects DIR/<label>/*.txt)", path);
    } else if (fmt < 0) {
        if (ends_with(path, ".tsv")) fmt = FMT_TSV;
        else if (ends_with(path, ".csv")) fmt = FMT_CSV;
        else if (ends_with(path, ".jsonl") || ends_with(path, ".json")) fmt = FMT_JSONL;
    }
    L.fmt = fmt;

    if ((fmt == FMT_JSONL || fmt == FMT_DIR) && !o->columns_soft) {
        if (o->label_col || (o->text_cols && o->text_cols[0]))
            return rnn_errorf("%s: label/text columns apply to tsv and csv only (format %s)", path, fmt_name[fmt]);
        if (o->header != -1)
            return rnn_errorf("%s: --header applies to tsv and csv only (format %s)", path, fmt_name[fmt]);
    } else if (fmt != FMT_JSONL && fmt != FMT_DIR) {
        if (o->label_col < 0) return rnn_errorf("label column %d: columns count from 1", o->label_col);
        L.label_col = o->label_col ? o->label_col : 1;
        if (o->text_cols && o->text_cols[0]) {
            if (parse_cols(o->text_cols, L.text_cols, &L.n_text_cols)) return -1;
            for (int i = 0; i < L.n_text_cols; i++)
                if (L.text_cols[i] == L.label_col)
                    return rnn_errorf("--text-col \"%s\" includes the label column %d", o->text_cols, L.label_col);
        } else {
            L.auto_text = 1;
        }
    }

    int rc = -1;
    char *buf = NULL;
    if (fmt == FMT_DIR) {
        rc = parse_dir(&L);
    } else {
        size_t len;
        /* exact size for a regular file: one allocation, no regrowth; anything
         * else (a pipe, a device) up to its end or its first NUL byte, which
         * the check below refuses */
        if (!(buf = S_ISREG(st.st_mode) ? read_exact(path, &len) : rnn_read_file_ex(path, &len, 1))) goto out;
        char *b = buf;
        const size_t bom = rnn_bom_len(b, len);
        b += bom, len -= bom;
        const char *nul = memchr(b, 0, len);
        if (nul) {
            int line = 1;
            for (const char *c = b; c < nul; c++) line += *c == '\n';
            rnn_errorf("%s:%d: NUL byte in the file (a binary file?)", path, line);
            goto out;
        }
        /* old Mac line endings: read as lines ending in "\n", the file would be one row */
        const char *cr = memchr(b, '\r', len);
        if (cr && cr + 1 < b + len && cr[1] != '\n' && !memchr(b, '\n', len)) {
            rnn_errorf("%s: its lines end in a carriage return alone (old Mac line endings); convert them, e.g. "
                       "tr '\\r' '\\n' <%s", path, path);
            goto out;
        }
        if (fmt < 0) { /* sniff the first non-blank line */
            const char *s = b;
            while (s < b + len && is_space((unsigned char)*s)) s++;
            const char *eol = memchr(s, '\n', (size_t)(b + len - s));
            if (!eol) eol = b + len;
            if (s < eol && *s == '{') fmt = FMT_JSONL;
            else if (memchr(s, '\t', (size_t)(eol - s))) fmt = FMT_TSV;
            else if (memchr(s, ',', (size_t)(eol - s))) fmt = FMT_CSV;
            else if (s == eol) {
                rnn_errorf("%s: no examples", path);
                goto out;
            } else {
                rnn_errorf("%s: cannot tell the format (not .tsv/.csv/.jsonl, and the first line has no tab, "
                           "comma or '{'); name it with --format tsv|csv|jsonl",
                           path);
                goto out;
            }
            L.fmt = fmt;
            if (fmt == FMT_JSONL && (o->label_col || (o->text_cols && o->text_cols[0]))) {
                rnn_errorf("%s: label/text columns apply to tsv and csv only (format jsonl)", path);
                goto out;
            }
            if (fmt == FMT_JSONL && o->header != -1) {
                rnn_errorf("%s: --header applies to tsv and csv only (format jsonl)", path);
                goto out;
            }
        }
        rc = fmt == FMT_TSV ? parse_tsv(&L, b, len) : fmt == FMT_CSV ? parse_csv(&L, b, len) : parse_jsonl(&L, b, len);
    }
    if (rc == 0) rc = finish(&L, d, o, known_labels, n_known);
out:
    free(buf);
    loader_free(&L);
    if (rc) memset(d, 0, sizeof *d);
    return rc;
}

void rnn_dataset_free(rnn_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->ex[i].text);
    free(d->ex);
    for (int i = 0; i < d->n_labels; i++) free(d->labels[i]);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* Deep copy of the label names and of the examples whose flag equals want. */
static int copy_subset(const rnn_dataset *all, const unsigned char *in_val, int want, size_t n, rnn_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!(out->labels = calloc((size_t)all->n_labels, sizeof *out->labels)) && all->n_labels)
        return rnn_errorf("out of memory");
    out->n_labels = all->n_labels;
    for (int c = 0; c < all->n_labels; c++)
        if (!(out->labels[c] = rnn_strdup(all->labels[c]))) goto fail;
    if (!(out->ex = xmalloc(n * sizeof *out->ex))) goto fail;
    for (size_t i = 0; i < all->n; i++) {
        if (in_val[i] != want) continue;
        char *t = rnn_strdup(all->ex[i].text);
        if (!t) goto fail;
        out->ex[out->n++] = (rnn_example){t, all->ex[i].label};
    }
    return 0;
fail:
    rnn_dataset_free(out);
    return -1;
}

int rnn_dataset_split(const rnn_dataset *all, float frac, uint64_t seed, rnn_dataset *train, rnn_dataset *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (!(frac >= 0.0f && frac <= 1.0f)) return rnn_errorf("validation fraction %g: must be in [0, 1]", frac);
    int C = all->n_labels;
    size_t *start = calloc((size_t)C + 1, sizeof *start);
    size_t *idx = xmalloc(all->n * sizeof *idx);
    unsigned char *in_val = calloc(all->n ? all->n : 1, 1);
    int rc = -1;
    if (!start || !idx || !in_val) {
        rnn_errorf("out of memory");
        goto out;
    }
    /* group example indices by class (counting sort keeps file order within a class) */
    for (size_t i = 0; i < all->n; i++) {
        int c = all->ex[i].label;
        if (c < 0 || c >= C) {
            rnn_errorf("example %zu has label %d outside 0..%d", i, c, C - 1);
            goto out;
        }
        start[c + 1]++;
    }
    for (int c = 0; c < C; c++) start[c + 1] += start[c];
    {
        size_t *fill = xmalloc(((size_t)C + 1) * sizeof *fill);
        if (!fill) goto out;
        memcpy(fill, start, ((size_t)C + 1) * sizeof *fill);
        for (size_t i = 0; i < all->n; i++) idx[fill[all->ex[i].label]++] = i;
        free(fill);
    }
    rnn_rng rng;
    rnn_rng_seed(&rng, seed);
    size_t n_val = 0;
    for (int c = 0; c < C; c++) {
        size_t *s = idx + start[c], cnt = start[c + 1] - start[c];
        for (size_t i = cnt; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(rnn_rng_next(&rng) % i);
            size_t t = s[i - 1];
            s[i - 1] = s[j];
            s[j] = t;
        }
        size_t take = (size_t)floor((double)frac * (double)cnt + 0.5);
        if (take > cnt) take = cnt;
        if (take == cnt && cnt > 0 && frac < 1) take = cnt - 1; /* a class training never sees cannot be learnt */
        for (size_t i = 0; i < take; i++) in_val[s[i]] = 1;
        n_val += take;
    }
    if (copy_subset(all, in_val, 0, all->n - n_val, train)) goto out;
    if (copy_subset(all, in_val, 1, n_val, val)) {
        rnn_dataset_free(train);
        goto out;
    }
    rc = 0;
out:
    free(start);
    free(idx);
    free(in_val);
    return rc;
}
