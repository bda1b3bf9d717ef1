/* tokenizer.c: see tokenizer.h.
 *
 * Every tokenizer is a vocabulary (strtab: token string ⇄ id, open addressing)
 * plus a splitter that turns text into token strings: char_split (code
 * points), word_split (words) and bert_split (BERT's BasicTokenizer, feeding
 * wordpiece()). A splitter hands each token to a sink, which either counts it
 * (building a vocabulary) or looks it up and appends its id (encoding), so the
 * two can never disagree about what a token is. The Unicode tables used by the
 * splitters are at the end of the file, with the script that generated them.
 */
#include "tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "util.h"

#define WP_MAX_CHARS 100 /* BERT's max_input_chars_per_word: longer words are [UNK] */
#define HTML_TAG_MAX 512 /* a "<...>" longer than this is text, not a tag */

/* Unicode classification, defined with their tables at the end of the file. */
static int in_punct_table(uint32_t c);  /* general category P* */
static int is_zs(uint32_t c);           /* space separators (Zs) */
static int is_bert_control(uint32_t c); /* Cc, Cf, Co, except \t \n \r */
static int is_cjk(uint32_t c);          /* the CJK ideograph blocks BERT isolates */
static int strip_accents(uint32_t c, uint32_t out[3]); /* NFD minus Mn; returns count */

/* ASCII ispunct (BERT's ranges 33-47, 58-64, 91-96, 123-126) or Unicode P*. */
static inline int is_punct(uint32_t c) {
    if (c < 0x80) return (c - 33u < 15u) || (c - 58u < 7u) || (c - 91u < 6u) || (c - 123u < 4u);
    return in_punct_table(c);
}

static inline int is_word_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || c - '\t' < 5u;
    return c == 0x85 || c == 0x200B || c == 0x2028 || c == 0x2029 || c == 0xFEFF || is_zs(c);
}

/* BERT's _is_whitespace, plus the two separators Python's str.split() adds. */
static int is_bert_space(uint32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029 ||
           is_zs(c);
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */

static size_t utf8_put(uint32_t c, char *out) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Number of code points if s[0..n) is valid UTF-8 without NUL, else -1. */
static long utf8_count(const char *s, size_t n) {
    long count = 0;
    for (size_t i = 0; i < n; count++)
        if (rnn_utf8_next((const unsigned char *)s, n, &i) < 0) return -1;
    return count;
}

/* The next code point of the input, with the invalid_utf8 policy applied. */
static inline int read_cp(const unsigned char *s, size_t n, size_t *pos, int replace,
                          uint32_t *c) {
    if (s[*pos] > 0 && s[*pos] < 0x80) {
        *c = s[(*pos)++];
        return 0;
    }
    size_t at = *pos;
    int32_t v = rnn_utf8_next(s, n, pos);
    if (v < 0) {
        if (!replace) {
            rnn_utf8_error((const char *)s, n, at);
            return -1;
        }
        v = 0xFFFD;
    }
    *c = (uint32_t)v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Lower-casing: towlower_l in a UTF-8 locale made once, never the global one */

static locale_t utf8_locale;
static pthread_once_t utf8_locale_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void) {
    static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !utf8_locale; i++)
        utf8_locale = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
}

/* Used only where no UTF-8 locale exists: ASCII, Latin-1, Latin Extended-A,
 * modern Greek and basic Cyrillic (U+0400-U+042F); the same results as glibc
 * there. */
static uint32_t lower_fallback(uint32_t c) {
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x130) return 'i';
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
    if (c == 0x178) return 0xFF;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static uint32_t to_lower(uint32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    pthread_once(&utf8_locale_once, utf8_locale_init);
    if (!utf8_locale) return lower_fallback(c);
    wint_t l = towlower_l((wint_t)c, utf8_locale);
    return l <= 0x10FFFF ? (uint32_t)l : c;
}

/* ------------------------------------------------------------------------ */
/* strtab: byte strings ⇄ dense indices (the vocabulary, or a counter)     */

typedef struct {
    char *bytes;     /* the keys, each followed by a NUL */
    size_t nbytes, cap_bytes;
    size_t *off;     /* (cap) where key i starts in bytes */
    uint32_t *len;   /* (cap) key i's length in bytes */
    uint32_t *hash;  /* (cap) */
    int64_t *count;  /* (cap) occurrences; counting tables only, else NULL */
    size_t n, cap;
    uint64_t *slot;  /* (nslot) hash << 32 | (entry index + 1), 0 = empty; linear
                      * probing, the hash in the slot saves a miss per probe */
    size_t nslot;    /* a power of two, >= 2 * n */
    int counting;
} strtab;

/* FNV-1a, folded to 32 bits. */
static uint32_t str_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static const char *strtab_key(const strtab *t, size_t i) { return t->bytes + t->off[i]; }

static long strtab_find(const strtab *t, const char *k, size_t n, uint32_t h) {
    if (!t->nslot) return -1;
    size_t mask = t->nslot - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint64_t v = t->slot[i];
        if (!v) return -1;
        if ((uint32_t)(v >> 32) != h) continue;
        size_t e = (uint32_t)v - 1;
        if (t->len[e] != n) continue;
        const char *key = t->bytes + t->off[e];
        size_t j = 0; /* keys are short: a loop beats a call to memcmp */
        while (j < n && key[j] == k[j]) j++;
        if (j == n) return (long)e;
    }
}

static int strtab_rehash(strtab *t, size_t nslot) {
    uint64_t *slot = rnn_calloc(nslot * sizeof *slot);
    if (!slot) return -1;
    for (size_t e = 0; e < t->n; e++) {
        size_t i = t->hash[e] & (nslot - 1);
        while (slot[i]) i = (i + 1) & (nslot - 1);
        slot[i] = (uint64_t)t->hash[e] << 32 | (e + 1);
    }
    rnn_free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    return 0;
}

/* Appends key k (not already present) as entry t->n; returns its index. */
static long strtab_add(strtab *t, const char *k, size_t n, uint32_t h) {
    if (n >= UINT32_MAX || t->n >= INT32_MAX - 1)
        return rnn_errorf("tokenizer: too many tokens, or a token of %zu bytes", n);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        size_t *off = rnn_realloc(t->off, cap * sizeof *off);
        if (!off) return -1;
        t->off = off;
        uint32_t *len = rnn_realloc(t->len, cap * sizeof *len);
        if (!len) return -1;
        t->len = len;
        uint32_t *hash = rnn_realloc(t->hash, cap * sizeof *hash);
        if (!hash) return -1;
        t->hash = hash;
        if (t->counting) {
            int64_t *count = rnn_realloc(t->count, cap * sizeof *count);
            if (!count) return -1;
            t->count = count;
        }
        t->cap = cap;
    }
    if (2 * (t->n + 1) > t->nslot && strtab_rehash(t, t->nslot ? 2 * t->nslot : 128)) return -1;
    if (t->nbytes + n + 1 > t->cap_bytes) {
        size_t cap = t->cap_bytes ? t->cap_bytes : 1024;
        while (cap < t->nbytes + n + 1) cap *= 2;
        char *b = rnn_realloc(t->bytes, cap);
        if (!b) return -1;
        t->bytes = b;
        t->cap_bytes = cap;
    }
    size_t e = t->n++;
    t->off[e] = t->nbytes;
    t->len[e] = (uint32_t)n;
    t->hash[e] = h;
    if (t->counting) t->count[e] = 0;
    memcpy(t->bytes + t->nbytes, k, n);
    t->bytes[t->nbytes + n] = 0;
    t->nbytes += n + 1;
    size_t i = h & (t->nslot - 1);
    while (t->slot[i]) i = (i + 1) & (t->nslot - 1);
    t->slot[i] = (uint64_t)h << 32 | (e + 1);
    return (long)e;
}

static int strtab_count(strtab *t, const char *k, size_t n) {
    uint32_t h = str_hash(k, n);
    long e = strtab_find(t, k, n, h);
    if (e < 0 && (e = strtab_add(t, k, n, h)) < 0) return -1;
    t->count[e]++;
    return 0;
}

static void strtab_free(strtab *t) {
    free(t->bytes);
    free(t->off);
    free(t->len);
    free(t->hash);
    free(t->count);
    rnn_free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------ */
/* Growable buffers                                                         */

typedef struct { int32_t *p; size_t n, cap; } ibuf;

static inline int sbuf_put_cp(rnn_sbuf *b, uint32_t c) {
    if (c < 0x80 && b->n + 2 <= b->cap) { /* the common case, inline */
        b->p[b->n++] = (char)c;
        b->p[b->n] = 0;
        return 0;
    }
    char u[4];
    return rnn_sbuf_put(b, u, utf8_put(c, u));
}

static int ibuf_grow(ibuf *b, size_t want) {
    size_t cap = b->cap ? b->cap : 16;
    while (cap < want) cap *= 2;
    int32_t *p = rnn_realloc(b->p, cap * sizeof *p);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int ibuf_push(ibuf *b, int32_t v) {
    if (b->n == b->cap && ibuf_grow(b, b->n + 1)) return -1;
    b->p[b->n++] = v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The tokenizer                                                            */

/* How piece() renders a token. */
/* What decoding does with a token: KIND_CLOSE (". , ) ..."), KIND_OPEN
 * ("( [ ...") and KIND_APOS ("'") are punctuation that a word model with
 * split_punct, or a wordpiece model, writes against its neighbours. */
enum { KIND_TEXT, KIND_SILENT, KIND_UNK, KIND_NEWLINE, KIND_CONT, KIND_CLOSE, KIND_OPEN, KIND_APOS, KIND_QUOTE, KIND_HYPHEN };

struct rnn_tokenizer {
    rnn_tok_options opt; /* opt.vocab_file points at vocab_path */
    char *vocab_path;    /* owned copy of the wordpiece vocab path, or NULL */
    strtab vocab;        /* entry i is the token with id i */
    uint8_t *kind;       /* (vocab size) KIND_* of each id */
    int32_t *bmp_id;     /* char: (65536) id of each BMP code point (unk if absent),
                          * so the common case skips hashing */
    int pad_id, unk_id;  /* -1 where the tokenizer has none */
    size_t max_len;      /* longest token, bytes */
};

static const char PAD[] = "<pad>", UNK[] = "<unk>";

const char *rnn_tok_type_name(rnn_tok_type t) {
    switch (t) {
    case RNN_TOK_CHAR: return "char";
    case RNN_TOK_BYTE: return "byte";
    case RNN_TOK_WORD: return "word";
    case RNN_TOK_WORDPIECE: return "wordpiece";
    }
    return "?";
}

void rnn_tok_options_default(rnn_tok_options *o, rnn_tok_type t) {
    memset(o, 0, sizeof *o);
    o->type = t;
    o->min_count = 1;
    if (t == RNN_TOK_WORD) o->lowercase = o->split_punct = o->keep_newlines = 1;
    if (t == RNN_TOK_WORDPIECE) o->lowercase = 1;
}

int rnn_tok_parse_type(const char *spec, rnn_tok_options *o) {
    static const rnn_tok_type plain[] = {RNN_TOK_CHAR, RNN_TOK_BYTE, RNN_TOK_WORD};
    if (!spec) spec = "";
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (strcmp(spec, rnn_tok_type_name(plain[i])) == 0) {
            rnn_tok_options_default(o, plain[i]);
            return 0;
        }
    }
    if (strncmp(spec, "wordpiece", 9) == 0 && (spec[9] == 0 || spec[9] == ':')) {
        if (spec[9] == 0 || spec[10] == 0)
            return rnn_errorf("tokenizer \"%s\" needs a vocabulary file: wordpiece:VOCAB.txt", spec);
        rnn_tok_options_default(o, RNN_TOK_WORDPIECE);
        o->vocab_file = spec + 10;
        return 0;
    }
    return rnn_errorf("unknown tokenizer \"%s\" (expected char, byte, word or wordpiece:VOCAB.txt)",
                      spec);
}

/* A new empty tokenizer with a checked, normalised copy of the options. */
static rnn_tokenizer *tok_new(const rnn_tok_options *o) {
    if ((unsigned)o->type > RNN_TOK_WORDPIECE) {
        rnn_errorf("tokenizer: unknown type %d", (int)o->type);
        return NULL;
    }
    if (o->min_count < 1) {
        rnn_errorf("tokenizer: min_count must be at least 1 (got %d)", o->min_count);
        return NULL;
    }
    if (o->max_vocab < 0 ||
        ((o->type == RNN_TOK_CHAR || o->type == RNN_TOK_WORD) && o->max_vocab > 0 &&
         o->max_vocab <= 2)) {
        rnn_errorf("tokenizer: max_vocab must be 0 (no limit) or more than the 2 special "
                   "tokens (got %d)", o->max_vocab);
        return NULL;
    }
    rnn_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        rnn_errorf("out of memory (%zu bytes)", sizeof *t);
        return NULL;
    }
    t->opt = *o;
    t->opt.lowercase = !!o->lowercase;
    t->opt.split_punct = !!o->split_punct;
    t->opt.strip_html = !!o->strip_html;
    t->opt.keep_newlines = !!o->keep_newlines;
    t->opt.invalid_utf8_replace = !!o->invalid_utf8_replace;
    t->opt.vocab_file = NULL;
    if (o->vocab_file) {
        if (!(t->vocab_path = rnn_strdup(o->vocab_file))) {
            free(t);
            return NULL;
        }
        t->opt.vocab_file = t->vocab_path;
    }
    t->pad_id = t->unk_id = -1;
    return t;
}

void rnn_tokenizer_free(rnn_tokenizer *t) {
    if (!t) return;
    strtab_free(&t->vocab);
    free(t->kind);
    free(t->bmp_id);
    free(t->vocab_path);
    free(t);
}

static long tok_add(rnn_tokenizer *t, const char *s, size_t n) {
    return strtab_add(&t->vocab, s, n, str_hash(s, n));
}

static int tok_find(const rnn_tokenizer *t, const char *s, size_t n) {
    return (int)strtab_find(&t->vocab, s, n, str_hash(s, n));
}

/* Sets the specials' ids and each token's kind once the vocabulary is
 * complete. wordpiece needs [UNK]; char and word get <pad>/<unk> by name. */
static int tok_finish(rnn_tokenizer *t) {
    size_t v = t->vocab.n;
    if (!(t->kind = calloc(v ? v : 1, 1))) return rnn_errorf("out of memory (%zu bytes)", v);
    for (size_t i = 0; i < v; i++)
        if (t->vocab.len[i] > t->max_len) t->max_len = t->vocab.len[i];
    switch (t->opt.type) {
    case RNN_TOK_BYTE:
        break;
    case RNN_TOK_CHAR:
    case RNN_TOK_WORD:
        t->pad_id = tok_find(t, PAD, 5);
        t->unk_id = tok_find(t, UNK, 5);
        break;
    case RNN_TOK_WORDPIECE:
        t->pad_id = tok_find(t, "[PAD]", 5);
        t->unk_id = tok_find(t, "[UNK]", 5);
        if (t->unk_id < 0) return rnn_errorf("wordpiece vocabulary has no [UNK] token");
        for (size_t i = 0; i < v; i++)
            if (t->vocab.len[i] > 2 && memcmp(strtab_key(&t->vocab, i), "##", 2) == 0)
                t->kind[i] = KIND_CONT;
        static const char *const silent[] = {"[CLS]", "[SEP]", "[MASK]"};
        for (size_t i = 0; i < 3; i++) {
            int id = tok_find(t, silent[i], strlen(silent[i]));
            if (id >= 0) t->kind[id] = KIND_SILENT;
        }
        break;
    }
    /* a word model's "\n" (where its text had one), a wordpiece language model's (always) */
    const int wp_nl = t->opt.type == RNN_TOK_WORDPIECE && t->opt.keep_newlines;
    const int nl = t->opt.type == RNN_TOK_WORD || wp_nl ? tok_find(t, "\n", 1) : -1;
    if (nl >= 0) t->kind[nl] = KIND_NEWLINE;
    else if (wp_nl)
        return rnn_errorf("tokenizer metadata: a wordpiece vocabulary with keep_newlines has no \"\\n\" token");
    if (t->opt.type == RNN_TOK_WORDPIECE || (t->opt.type == RNN_TOK_WORD && t->opt.split_punct)) {
        static const struct {
            const char *tok;
            uint8_t kind;
        } punct[] = {{".", KIND_CLOSE}, {",", KIND_CLOSE}, {";", KIND_CLOSE}, {":", KIND_CLOSE},
                     {"!", KIND_CLOSE}, {"?", KIND_CLOSE}, {"%", KIND_CLOSE}, {")", KIND_CLOSE},
                     {"]", KIND_CLOSE}, {"}", KIND_CLOSE}, {"\u2026", KIND_CLOSE}, {"\u00bb", KIND_CLOSE},
                     {"\u201d", KIND_CLOSE}, {"\u3001", KIND_CLOSE}, {"\u3002", KIND_CLOSE}, {"\uff0c", KIND_CLOSE},
                     {"\uff01", KIND_CLOSE}, {"\uff1f", KIND_CLOSE}, {"\uff1a", KIND_CLOSE}, {"\uff1b", KIND_CLOSE},
                     {"\uff09", KIND_CLOSE}, {"(", KIND_OPEN}, {"[", KIND_OPEN}, {"{", KIND_OPEN},
                     {"\u00ab", KIND_OPEN}, {"\u201c", KIND_OPEN}, {"\u2018", KIND_OPEN}, {"\u00bf", KIND_OPEN},
                     {"\u00a1", KIND_OPEN}, {"\uff08", KIND_OPEN}, {"'", KIND_APOS}, {"\u2019", KIND_APOS},
                     {"\"", KIND_QUOTE}, {"-", KIND_HYPHEN},
                     /* $5.99, <br />, 7/10 and/or */
                     {"$", KIND_OPEN}, {"\u00a3", KIND_OPEN}, {"\u20ac", KIND_OPEN}, {"<", KIND_OPEN},
                     {">", KIND_CLOSE}, {"/", KIND_HYPHEN},
                     /* `it's a wonderful life' (IMDb's reviews quote so): opens a quotation an apostrophe closes */
                     {"`", KIND_OPEN}};
        for (size_t i = 0; i < sizeof punct / sizeof *punct; i++) {
            const int id = tok_find(t, punct[i].tok, strlen(punct[i].tok));
            if (id >= 0) t->kind[id] = punct[i].kind;
        }
    }
    if (t->pad_id >= 0) t->kind[t->pad_id] = KIND_SILENT;
    if (t->unk_id >= 0) t->kind[t->unk_id] = KIND_UNK;
    if (t->opt.type == RNN_TOK_CHAR) {
        if (!(t->bmp_id = rnn_realloc(NULL, 65536 * sizeof *t->bmp_id))) return -1;
        for (uint32_t c = 0; c < 65536; c++) {
            char u[4];
            int id = tok_find(t, u, utf8_put(c, u));
            t->bmp_id[c] = id >= 0 && id != t->pad_id ? id : t->unk_id;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Splitting text into tokens                                               */

/* Where token strings go: counted into a table while building, or looked up
 * and appended as ids while encoding. */
typedef struct {
    const rnn_tokenizer *t; /* encoding */
    strtab *counts;         /* building */
    int64_t *bmp_count;     /* building a char vocab: (65536) BMP code points, counted
                             * directly; the rest go to counts */
    ibuf ids;
    size_t n_unk;
} sink;

static int sink_id(sink *k, int32_t id) {
    if (id == k->t->unk_id) k->n_unk++;
    return ibuf_push(&k->ids, id);
}

static int sink_token(sink *k, const char *s, size_t n) {
    if (k->counts) return strtab_count(k->counts, s, n);
    int id = tok_find(k->t, s, n);
    /* padding only ever comes from the batcher, never from text */
    if (id < 0 || id == k->t->pad_id) id = k->t->unk_id;
    return sink_id(k, id);
}

/* If s[i] == '<' starts an HTML tag (see tokenizer.h), the index just past its
 * '>', else 0. The scan stops at the next '<', so scans never overlap and a
 * whole text costs linear time. */
static size_t html_tag_end(const unsigned char *s, size_t n, size_t i) {
    size_t j = i + 1;
    if (j < n && s[j] == '!') {
        j++;
    } else {
        if (j < n && s[j] == '/') j++;
        if (j >= n || !((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) return 0;
    }
    for (; j < n && j - i < HTML_TAG_MAX; j++) {
        if (s[j] == '>') return j + 1;
        if (s[j] == '<' || !s[j]) return 0; /* a NUL is no tag's: the text is refused for it */
    }
    return 0;
}

static int char_split(const rnn_tok_options *o, sink *k, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        char u[4];
        size_t end;
        if (o->strip_html && s[i] == '<' && (end = html_tag_end(s, len, i))) {
            c = ' '; /* a tag (<br />) stands between words: one space */
            i = end;
        } else if (read_cp(s, len, &i, o->invalid_utf8_replace, &c)) {
            return -1;
        }
        if (o->lowercase) c = to_lower(c);
        if (c < 65536 && k->bmp_count) {
            k->bmp_count[c]++;
            continue;
        }
        if (c < 65536 && !k->counts) {
            if (sink_id(k, k->t->bmp_id[c])) return -1;
            continue;
        }
        if (sink_token(k, u, utf8_put(c, u))) return -1;
    }
    return 0;
}

static int flush_word(sink *k, rnn_sbuf *w) {
    if (!w->n) return 0;
    int rc = sink_token(k, w->p, w->n);
    w->n = 0;
    return rc;
}

static int word_split(const rnn_tok_options *o, sink *k, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    rnn_sbuf w = {0};
    int rc = -1;
    for (size_t i = 0; i < len;) {
        size_t end;
        if (o->strip_html && s[i] == '<' && (end = html_tag_end(s, len, i))) {
            if (flush_word(k, &w)) goto done;
            i = end;
            continue;
        }
        uint32_t c;
        if (read_cp(s, len, &i, o->invalid_utf8_replace, &c)) goto done;
        if (c == '\n' && o->keep_newlines) {
            if (flush_word(k, &w) || sink_token(k, "\n", 1)) goto done;
        } else if (is_word_space(c)) {
            if (flush_word(k, &w)) goto done;
        } else {
            if (o->lowercase) c = to_lower(c);
            if (o->split_punct && is_punct(c)) {
                char u[4];
                if (flush_word(k, &w) || sink_token(k, u, utf8_put(c, u))) goto done;
            } else if (sbuf_put_cp(&w, c)) {
                goto done;
            }
        }
    }
    rc = flush_word(k, &w);
done:
    free(w.p);
    return rc;
}

/* BERT's WordpieceTokenizer on one basic token w (n bytes, valid UTF-8, at
 * most WP_MAX_CHARS code points): greedy longest-match-first, pieces after the
 * first prefixed "##"; if some position has no match the whole word is one
 * [UNK]. Candidates longer than the longest vocabulary entry are skipped. */
static int wordpiece(sink *k, const char *w, size_t n) {
    const rnn_tokenizer *t = k->t;
    char key[2 + 4 * WP_MAX_CHARS]; /* "##" + w[start..n) */
    size_t mark = k->ids.n;
    key[0] = key[1] = '#';
    for (size_t start = 0; start < n;) {
        size_t pre = start ? 2 : 0, end = n;
        const char *cand = key + 2 - pre;
        memcpy(key + 2, w + start, n - start);
        if (end - start + pre > t->max_len) {
            end = t->max_len > pre ? start + t->max_len - pre : start;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80) end--;
        }
        int id = -1;
        while (end > start) {
            if ((id = tok_find(t, cand, end - start + pre)) >= 0) break;
            do end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            k->ids.n = mark;
            return sink_id(k, t->unk_id);
        }
        if (ibuf_push(&k->ids, id)) return -1;
        start = end;
    }
    return 0;
}

/* The basic token being collected by bert_split. Code points past
 * WP_MAX_CHARS are counted but not stored: the word is [UNK] anyway. */
typedef struct {
    char b[4 * WP_MAX_CHARS + 4];
    size_t n, chars;
} bert_word;

static int bert_flush(sink *k, bert_word *w) {
    int rc = 0;
    if (w->chars > WP_MAX_CHARS)
        rc = sink_id(k, k->t->unk_id);
    else if (w->chars)
        rc = wordpiece(k, w->b, w->n);
    w->n = w->chars = 0;
    return rc;
}

static void bert_append(bert_word *w, uint32_t c) {
    if (++w->chars <= WP_MAX_CHARS) w->n += utf8_put(c, w->b + w->n);
}

/* BERT's BasicTokenizer (clean text, CJK spacing, whitespace split, lower +
 * strip accents, punctuation split) in one pass, each word fed to
 * wordpiece(). */
static int bert_split(sink *k, const char *text, size_t len) {
    const rnn_tok_options *o = &k->t->opt;
    const unsigned char *s = (const unsigned char *)text;
    bert_word w = {.n = 0};
    for (size_t i = 0; i < len;) {
        size_t end;
        if (o->strip_html && s[i] == '<' && (end = html_tag_end(s, len, i))) {
            if (bert_flush(k, &w)) return -1;
            i = end;
            continue;
        }
        uint32_t c;
        if (read_cp(s, len, &i, o->invalid_utf8_replace, &c)) return -1;
        if (c == 0xFFFD || is_bert_control(c)) continue;
        if (c == '\n' && o->keep_newlines) { /* a language model's line break: a token */
            if (bert_flush(k, &w) || sink_token(k, "\n", 1)) return -1;
            continue;
        }
        if (is_bert_space(c)) {
            if (bert_flush(k, &w)) return -1;
            continue;
        }
        int cjk = is_cjk(c);
        if (cjk && bert_flush(k, &w)) return -1;
        uint32_t out[3] = {c};
        int m = 1;
        if (o->lowercase) m = strip_accents(to_lower(c), out);
        for (int j = 0; j < m; j++) {
            if (is_punct(out[j])) {
                if (bert_flush(k, &w)) return -1;
                bert_append(&w, out[j]);
                if (bert_flush(k, &w)) return -1;
            } else {
                bert_append(&w, out[j]);
            }
        }
        if (cjk && bert_flush(k, &w)) return -1;
    }
    return bert_flush(k, &w);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */

typedef struct {
    int64_t count;
    const char *s;
    uint32_t len;
} counted;

static int by_count_then_bytes(const void *a, const void *b) {
    const counted *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->s, y->s);
}

static int by_bytes(const void *a, const void *b) {
    /* bytewise order of UTF-8 is code point order */
    return strcmp(((const counted *)a)->s, ((const counted *)b)->s);
}

/* char and word: how often each token occurs in text, into counts (a
 * counting table the caller frees). -1 with a message. */
static int count_tokens(const rnn_tok_options *o, const char *text, size_t len, strtab *counts) {
    sink k = {.counts = counts};
    int rc = -1;
    if (len && !text) {
        rnn_errorf("tokenizer: NULL training text");
        goto done;
    }
    if (o->type == RNN_TOK_CHAR && !(k.bmp_count = rnn_calloc(65536 * sizeof *k.bmp_count)))
        goto done;
    if (o->type == RNN_TOK_CHAR ? char_split(o, &k, text, len) : word_split(o, &k, text, len))
        goto done;
    for (uint32_t c = 0; k.bmp_count && c < 65536; c++) {
        if (!k.bmp_count[c]) continue;
        char u[4];
        size_t n = utf8_put(c, u);
        long e = strtab_add(counts, u, n, str_hash(u, n));
        if (e < 0) goto done;
        counts->count[e] = k.bmp_count[c];
    }
    rc = 0;
done:
    rnn_free(k.bmp_count);
    return rc;
}

/* char and word: count the tokens of text, keep those seen min_count times
 * (the max_vocab - 2 most frequent if limited), specials first. */
static int build_counted(rnn_tokenizer *t, const char *text, size_t len) {
    const rnn_tok_options *o = &t->opt;
    strtab counts = {.counting = 1};
    counted *keep = NULL;
    int rc = -1;
    if (count_tokens(o, text, len, &counts)) goto done;
    if (counts.n == 0) {
        rnn_errorf("no tokens in training text");
        goto done;
    }
    if (!(keep = rnn_realloc(NULL, counts.n * sizeof *keep))) goto done;
    size_t m = 0;
    for (size_t i = 0; i < counts.n; i++) {
        const char *s = strtab_key(&counts, i);
        if (counts.count[i] >= o->min_count && strcmp(s, PAD) != 0 && strcmp(s, UNK) != 0)
            keep[m++] = (counted){counts.count[i], s, counts.len[i]};
    }
    if (m == 0) {
        rnn_errorf("no token occurs min_count (%d) times in the training text", o->min_count);
        goto done;
    }
    qsort(keep, m, sizeof *keep, by_count_then_bytes);
    if (o->max_vocab > 0 && m > (size_t)o->max_vocab - 2) m = (size_t)o->max_vocab - 2;
    if (o->type == RNN_TOK_CHAR) qsort(keep, m, sizeof *keep, by_bytes);
    if (tok_add(t, PAD, 5) < 0 || tok_add(t, UNK, 5) < 0) goto done;
    for (size_t i = 0; i < m; i++)
        if (tok_add(t, keep[i].s, keep[i].len) < 0) goto done;
    rc = 0;
done:
    free(keep);
    strtab_free(&counts);
    return rc;
}

rnn_tokenizer *rnn_tokenizer_grow(const rnn_tokenizer *t, const char *text, size_t len, int min_count,
                                  int max_vocab, int *added) {
    *added = 0;
    if (t->opt.type != RNN_TOK_CHAR && t->opt.type != RNN_TOK_WORD) {
        rnn_errorf("a %s tokenizer's vocabulary cannot grow (%s)", rnn_tok_type_name(t->opt.type),
                   t->opt.type == RNN_TOK_BYTE ? "it holds every byte already" : "it is its vocabulary file's");
        return NULL;
    }
    if (min_count < 1) {
        rnn_errorf("tokenizer: min_count must be at least 1 (got %d)", min_count);
        return NULL;
    }
    strtab counts = {.counting = 1};
    counted *keep = NULL;
    rnn_tokenizer *g = NULL;
    if (count_tokens(&t->opt, text, len, &counts)) goto fail;
    if (!(keep = rnn_realloc(NULL, (counts.n + 1) * sizeof *keep))) goto fail;
    size_t m = 0;
    for (size_t i = 0; i < counts.n; i++) {
        const char *s = strtab_key(&counts, i);
        if (counts.count[i] >= min_count && tok_find(t, s, counts.len[i]) < 0)
            keep[m++] = (counted){counts.count[i], s, counts.len[i]};
    }
    qsort(keep, m, sizeof *keep, by_count_then_bytes);
    const size_t V = t->vocab.n;
    if (max_vocab > 0) m = V >= (size_t)max_vocab ? 0 : m < (size_t)max_vocab - V ? m : (size_t)max_vocab - V;
    if (!(g = tok_new(&t->opt))) goto fail;
    if (t->vocab_path && !(g->vocab_path = strdup(t->vocab_path))) goto oom;
    g->opt.vocab_file = g->vocab_path;
    for (size_t i = 0; i < V; i++)
        if (tok_add(g, strtab_key(&t->vocab, i), t->vocab.len[i]) < 0) goto fail;
    for (size_t i = 0; i < m; i++)
        if (tok_add(g, keep[i].s, keep[i].len) < 0) goto fail;
    if (tok_finish(g)) goto fail;
    *added = (int)m;
    free(keep);
    strtab_free(&counts);
    return g;
oom:
    rnn_errorf("out of memory");
fail:
    rnn_tokenizer_free(g);
    free(keep);
    strtab_free(&counts);
    return NULL;
}

/* The byte tokenizer's spelling of byte b (see tokenizer.h). */
static size_t byte_spelling(int b, char out[8]) {
    if (b > 0 && b < 0x80) {
        out[0] = (char)b;
        out[1] = 0;
        return 1;
    }
    return (size_t)snprintf(out, 8, "<0x%02X>", b);
}

static int build_byte(rnn_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char s[8];
        if (tok_add(t, s, byte_spelling(b, s)) < 0) return -1;
    }
    return 0;
}

/* One token per line, id = line index; "\r\n" accepted. Read a line at a
 * time and checked as read, so that what is no vocabulary (/dev/zero,
 * binary data, a device without end) is refused at its first bad line, not
 * read into memory first; a line stops at VOCAB_LINE_MAX bytes and the
 * tokens at a config's largest vocab_size. */
#define VOCAB_LINE_MAX 65536
#define VOCAB_MAX_TOKENS (1 << 26)
static int load_vocab_file(rnn_tokenizer *t, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return rnn_errorf("%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, line = 0;
    long got;
    int rc = -1;
    while ((got = rnn_getline(&buf, &cap, f, VOCAB_LINE_MAX, 1)) > 0) {
        line++;
        size_t n = (size_t)got;
        if (memchr(buf, 0, n)) {
            rnn_errorf("%s:%zu: a NUL byte (not a vocabulary file?)", path, line);
            goto done;
        }
        const char *s = buf;
        if (line == 1) s += rnn_bom_len(buf, n), n -= (size_t)(s - buf);
        if (n && s[n - 1] == '\n') n--;
        if (n && s[n - 1] == '\r') n--;
        if (n == 0) {
            rnn_errorf("%s:%zu: empty line (a vocabulary has one token per line)", path, line);
            goto done;
        }
        if (utf8_count(s, n) < 0) {
            rnn_errorf("%s:%zu: invalid UTF-8", path, line);
            goto done;
        }
        if (t->vocab.n >= VOCAB_MAX_TOKENS) {
            rnn_errorf("%s:%zu: more than %d tokens (the most a model's vocabulary holds)", path, line,
                       VOCAB_MAX_TOKENS);
            goto done;
        }
        uint32_t h = str_hash(s, n);
        long dup = strtab_find(&t->vocab, s, n, h);
        if (dup >= 0) {
            rnn_errorf("%s:%zu: duplicate token \"%.*s\" (first on line %ld)", path, line,
                       (int)(n < 60 ? n : 60), s, dup + 1);
            goto done;
        }
        if (strtab_add(&t->vocab, s, n, h) < 0) goto done;
    }
    if (got == -3) {
        rnn_errorf("%s:%zu: a line of over %d bytes (not a vocabulary file?)", path, line + 1, VOCAB_LINE_MAX);
        goto done;
    }
    if (got == -2) { /* a directory: "Is a directory" */
        rnn_errorf("%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (t->vocab.n == 0) {
        rnn_errorf("%s: empty vocabulary file", path);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    fclose(f);
    if (rc == 0 && tok_find(t, "[UNK]", 5) < 0)
        rc = rnn_errorf("%s: the vocabulary has no [UNK] token", path);
    return rc;
}

rnn_tokenizer *rnn_tokenizer_build(const rnn_tok_options *o, const char *text, size_t len) {
    if (!o) {
        rnn_errorf("tokenizer: NULL options");
        return NULL;
    }
    if (o->type == RNN_TOK_WORDPIECE && (!o->vocab_file || !*o->vocab_file)) {
        rnn_errorf("tokenizer: wordpiece needs a vocabulary file (wordpiece:VOCAB.txt)");
        return NULL;
    }
    rnn_tokenizer *t = tok_new(o);
    if (!t) return NULL;
    int rc;
    switch (o->type) {
    case RNN_TOK_BYTE: rc = build_byte(t); break;
    case RNN_TOK_WORDPIECE: /* a language model's line breaks: one token past the file's */
        rc = load_vocab_file(t, t->vocab_path);
        if (!rc && t->opt.keep_newlines && tok_find(t, "\n", 1) < 0 && tok_add(t, "\n", 1) < 0) rc = -1;
        break;
    default: rc = build_counted(t, text, len); break;
    }
    if (rc || tok_finish(t)) {
        rnn_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* ------------------------------------------------------------------------ */
/* Encoding and decoding                                                    */

int rnn_tokenizer_encode(const rnn_tokenizer *t, const char *text, size_t len, int32_t **ids,
                         size_t *n, size_t *n_unk) {
    if (!t || !ids || !n) return rnn_errorf("tokenizer: NULL argument to encode");
    if (len && !text) return rnn_errorf("tokenizer: NULL text of %zu bytes", len);
    sink k = {.t = t};
    /* every token takes at least one byte, so len + 1 ids always suffice;
     * words take several, so start smaller there and grow */
    int dense = t->opt.type == RNN_TOK_CHAR || t->opt.type == RNN_TOK_BYTE;
    if (ibuf_grow(&k.ids, dense ? len + 1 : len / 4 + 16)) return -1;
    int rc = 0;
    switch (t->opt.type) {
    case RNN_TOK_BYTE:
        for (size_t i = 0; i < len; i++) k.ids.p[i] = (unsigned char)text[i];
        k.ids.n = len;
        break;
    case RNN_TOK_CHAR: rc = char_split(&t->opt, &k, text, len); break;
    case RNN_TOK_WORD: rc = word_split(&t->opt, &k, text, len); break;
    case RNN_TOK_WORDPIECE: rc = bert_split(&k, text, len); break;
    }
    if (rc) {
        free(k.ids.p);
        return -1;
    }
    if (k.ids.cap > k.ids.n + 16) { /* give back the over-allocation */
        int32_t *p = realloc(k.ids.p, (k.ids.n ? k.ids.n : 1) * sizeof *p);
        if (p) k.ids.p = p;
    }
    *ids = k.ids.p;
    *n = k.ids.n;
    if (n_unk) *n_unk = k.n_unk;
    return 0;
}

size_t rnn_tokenizer_cut(const rnn_tokenizer *t, const char *text, size_t len, size_t at) {
    const unsigned char *s = (const unsigned char *)text;
    const rnn_tok_type type = t->opt.type;
    const int html = t->opt.strip_html && type != RNN_TOK_BYTE;
    if (at >= len) return len;
    /* open: the last '<' before p with no '>' after it, which may start a tag
     * that html_tag_end reads past p (SIZE_MAX: none). A '<' further back than
     * HTML_TAG_MAX is no matter: html_tag_end reads no further than that. */
    size_t open = SIZE_MAX;
    for (size_t q = at; html && q-- > (at > HTML_TAG_MAX ? at - HTML_TAG_MAX : 0);) {
        if (s[q] == '>') break;
        if (s[q] == '<') {
            open = q;
            break;
        }
    }
    for (size_t p = at; p < len; p++) {
        int here; /* p starts a token as the whole text is read, with no word in progress */
        switch (type) {
        case RNN_TOK_BYTE: here = 1; break;
        case RNN_TOK_CHAR: here = (s[p] & 0xC0) != 0x80; break;
        default: here = p > 0 && (s[p - 1] == ' ' || s[p - 1] == '\t' || s[p - 1] == '\n' || s[p - 1] == '\r'); break;
        }
        if (here && (open == SIZE_MAX || p - open > HTML_TAG_MAX)) return p;
        if (html && s[p] == '<') open = p;
        if (html && s[p] == '>') open = SIZE_MAX;
    }
    return len;
}

size_t rnn_tok_options_refused_at(const rnn_tok_options *o, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    if (!rnn_tok_options_need_utf8(o)) return len; /* every byte is read */
    /* the loop of char_split, word_split and bert_split, without the tokens */
    for (size_t i = 0; i < len;) {
        const size_t at = i;
        size_t end;
        if (o->strip_html && s[i] == '<' && (end = html_tag_end(s, len, i)))
            i = end;
        else if (rnn_utf8_next(s, len, &i) < 0)
            return at;
    }
    return len;
}

size_t rnn_tok_refused(const char *text, size_t len, const void *opts) {
    return rnn_tok_options_refused_at(opts, text, len);
}

int rnn_tok_text_error(const rnn_tok_options *o, const char *path, const char *text, size_t len) {
    const size_t bad = rnn_tok_options_refused_at(o, text, len);
    if (bad < len) return path ? rnn_utf8_file_error(path, text, len, bad) : rnn_utf8_error(text, len, bad);
    return path ? rnn_error_prefix("%s", path) : -1;
}

size_t rnn_tokenizer_refused_at(const rnn_tokenizer *t, const char *text, size_t len) {
    return rnn_tok_options_refused_at(&t->opt, text, len);
}

/* A token's text and how it is written: *n bytes at the returned pointer
 * (tmp holds a byte tokenizer's byte), kind its KIND_*. */
static const char *token_text(const rnn_tokenizer *t, int32_t id, char *tmp, size_t *n, int *kind) {
    *kind = KIND_TEXT;
    if (t->opt.type == RNN_TOK_BYTE) {
        tmp[0] = (char)id;
        *n = 1;
        return tmp;
    }
    const char *s = strtab_key(&t->vocab, (size_t)id);
    *n = t->vocab.len[id];
    *kind = t->kind[id];
    switch (*kind) {
    case KIND_SILENT: *n = 0; return "";
    case KIND_CONT: *n -= 2; return s + 2;
    case KIND_UNK:
        if (t->opt.type == RNN_TOK_CHAR) {
            *n = 3;
            return "\xEF\xBF\xBD";
        }
        return s;
    default: return s;
    }
}

/* Whether token id (of kind k) is a word: <unk>, a piece of one, or text
 * that starts with an ASCII letter or digit or a non-ASCII byte. */
static int is_word(const rnn_tokenizer *t, int32_t id, int k) {
    if (id < 0) return 0;
    const unsigned char c = (unsigned char)strtab_key(&t->vocab, (size_t)id)[0];
    return k == KIND_UNK || k == KIND_CONT ||
           (k == KIND_TEXT && ((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c >= 0x80));
}

/* Whether token id (-1: none) is the one character c. */
static int is_char(const rnn_tokenizer *t, int32_t id, char c) {
    return id >= 0 && t->vocab.len[id] == 1 && strtab_key(&t->vocab, (size_t)id)[0] == c;
}

/* Whether token id is one of words (case aside). */
static int among(const rnn_tokenizer *t, int32_t id, const char *const *words) {
    const char *s = strtab_key(&t->vocab, (size_t)id);
    for (; *words; words++) {
        size_t i = 0;
        while ((*words)[i] && ((unsigned char)s[i] | 32) == (unsigned char)(*words)[i]) i++;
        if (!(*words)[i] && !s[i]) return 1;
    }
    return 0;
}

/* What follows an apostrophe inside a word ("don ' t", "it ' s", "ne ' er",
 * "o ' er", "know ' st", "thou ' rt", "o ' clock"): the two are one word.
 * And the words an apostrophe begins after a space, where letters were
 * left out ("and ' tis" is "and 'tis"). */
static const char *const contraction_ends[] = {"s",  "t",  "d",  "m",  "ll", "re", "ve",    "st",
                                               "rt", "er", "en", "ld", "ry", "rs", "clock", NULL};
static const char *const elided_starts[] = {"tis", "twas", "twere", "twill", "twould", "em", "gainst", "tween",
                                            "twixt", "neath", "til", "cause", "bout", NULL};

/* Whether an apostrophe after token id (a word) and before a word ends it
 * rather than opening a quotation: a plural's possessive ("teachers' pomp",
 * "james' car"), "i' the", "o' the", "rock n' roll", a dropped g ("nothin'
 * but"). Elsewhere ("he said 'no'", "the '80s", "it was 'great'") it opens
 * one: the common words in s that are no plural are listed. */
static const char *const apostrophe_enders[] = {"i", "o", "n", "an", "th", NULL};
static const char *const s_not_plural[] = {"s", "is", "was", "has", "his", "this", "us", "as", "yes", "does", "its",
                                           "says", "thus", "plus", "unless", "whereas", "perhaps", "always", NULL};
static int ends_word(const rnn_tokenizer *t, int32_t id) {
    const char *s = strtab_key(&t->vocab, (size_t)id);
    const size_t n = t->vocab.len[id];
    const int last = n ? (unsigned char)s[n - 1] | 32 : 0;
    return ((last == 's' && !among(t, id, s_not_plural)) || last == 'z' || last == 'x' ||
            among(t, id, apostrophe_enders) || (n > 3 && ((unsigned char)s[n - 2] | 32) == 'i' && last == 'n'));
}

/* Whether a token of kind k written after one of (effective) kind kp takes
 * a space first: not at the start, after a newline, a silent token or an
 * opening mark, nor before a newline or a closing mark. */
static int spaced(int kp, int k) {
    return kp >= 0 && kp != KIND_SILENT && kp != KIND_NEWLINE && kp != KIND_OPEN && k != KIND_NEWLINE && k != KIND_CLOSE;
}

void rnn_detok_init(rnn_detok *d, int32_t prev, int quote_open) {
    d->prev = prev;
    d->prev_kind = -1;
    d->held = -1;
    d->quote_open = (quote_open & 1) != 0;
    d->squote_open = (quote_open & 2) != 0;
    d->in_number = 0;
    d->in_abbrev = 0;
    d->abbrev = 0;
    d->joined = 0;
    d->url = 0;
    d->dot_word = 0;
    d->path_word = 0;
    d->pend = 0;
}

/* A web address's start, as a word tokenizer splits it ("http : / / www .
 * imdb . com"), written whole: the states after each of its tokens. A word
 * after "www ." or "www . name ." joins them, and so do the "/"s after
 * "http :" (a "/" after a word joins anyway, and a word after a joined one:
 * "com/title"). Where no "www" came, a common ending joins the "." before it
 * (imdb.com: domain_ends), not words such as "net" that may start a
 * sentence, nor "gov", an abbreviation in prose ("n.j. gov. says", "the
 * u.s. gov't"; in the data here never a bare domain's ending); a page's
 * (page_ends) only after a word that was written against a "/"
 * ("com/index.html", not IMDb's "in english only. html or ..."). */
enum { URL_NONE, URL_SCHEME, URL_COLON, URL_SLASH, URL_SLASHES, URL_WWW, URL_WWW_DOT, URL_NAME, URL_NAME_DOT };
static const char *const url_schemes[] = {"http", "https", "ftp", NULL}, *const url_www[] = {"www", NULL};
static const char *const domain_ends[] = {"com", "org", "edu", NULL};
static const char *const page_ends[] = {"html", "htm", "php", "asp", "shtml", NULL};

/* The state after token id (of kind k, n bytes of text s, a word or not)
 * follows one in state u. */
static int url_next(const rnn_tokenizer *t, int u, int32_t id, int k, const char *s, size_t n, int word) {
    const char c = n == 1 ? s[0] : 0;
    if (k == KIND_CONT) return u; /* (the rest of a word: "im ##db") */
    if (word && among(t, id, url_schemes)) return URL_SCHEME;
    if (word && among(t, id, url_www)) return URL_WWW;
    if (word) return u == URL_SLASHES || u == URL_WWW_DOT ? URL_NAME : URL_NONE;
    if (k == KIND_CLOSE && c == ':' && u == URL_SCHEME) return URL_COLON;
    if (c == '/' && (u == URL_COLON || u == URL_SLASH)) return u == URL_COLON ? URL_SLASH : URL_SLASHES;
    if (k == KIND_CLOSE && c == '.' && (u == URL_WWW || u == URL_NAME)) return u == URL_WWW ? URL_WWW_DOT : URL_NAME_DOT;
    return URL_NONE;
}

/* Appends n bytes of s to buf (w bytes so far, cap in all, NUL kept). */
static size_t put(char *buf, size_t cap, size_t w, const char *s, size_t n) {
    size_t m = w + n < cap ? n : (cap > w + 1 ? cap - 1 - w : 0);
    memcpy(buf + w, s, m);
    buf[w + m] = 0;
    return w + m;
}

/* The held apostrophe's text with nothing known after it: against the word
 * before it ("teachers'"), else spaced as an opening mark. */
static size_t put_held(const rnn_tokenizer *t, rnn_detok *d, char *buf, size_t cap, size_t w) {
    char tmp[1];
    size_t n;
    int k;
    const char *s = token_text(t, d->held, tmp, &n, &k);
    if (!is_word(t, d->prev, d->prev_kind) && spaced(d->prev_kind, KIND_OPEN)) w = put(buf, cap, w, " ", 1);
    w = put(buf, cap, w, s, n);
    d->prev = d->held, d->prev_kind = KIND_CLOSE, d->held = -1;
    return w;
}

/* The pending domain ending (d->prev): on the "." before it, or spaced when
 * a piece of its word comes next (cont). */
static size_t put_pend(const rnn_tokenizer *t, rnn_detok *d, char *buf, size_t cap, int cont) {
    char tmp[1];
    size_t n, w = 0;
    int k;
    const char *s = token_text(t, d->prev, tmp, &n, &k);
    if (cont) w = put(buf, cap, w, " ", 1);
    d->pend = 0;
    return put(buf, cap, w, s, n);
}

size_t rnn_detok_put(const rnn_tokenizer *t, rnn_detok *d, int32_t id, char *buf, size_t cap) {
    if (!buf || cap == 0) return 0;
    buf[0] = 0;
    if (!t || id < 0 || (size_t)id >= t->vocab.n) return 0;
    if (d->prev_kind < 0 && d->prev >= 0 && (size_t)d->prev < t->vocab.n) { /* (the prime's last token) */
        const int kp = t->kind[d->prev]; /* an apostrophe there was written: the next word goes on it */
        d->prev_kind = kp == KIND_QUOTE ? (d->quote_open ? KIND_OPEN : KIND_CLOSE) : kp == KIND_APOS ? KIND_OPEN : kp;
    }
    char tmp[1];
    size_t n, w = 0;
    int k, joined = 0, abbrev = 0, pend = 0, path = 0;
    const char *s = token_text(t, id, tmp, &n, &k);
    const int words = t->opt.type == RNN_TOK_WORD || t->opt.type == RNN_TOK_WORDPIECE;
    if (d->pend) w = put_pend(t, d, buf, cap, k == KIND_CONT);
    if (!words) { /* char, byte: the text itself */
        d->prev = id, d->prev_kind = k;
        return put(buf, cap, 0, s, n);
    }
    if (k == KIND_SILENT) { /* [SEP], <pad>: nothing, and no space after them */
        d->prev = id, d->prev_kind = k;
        return w;
    }
    if (k == KIND_QUOTE) { /* a straight double quote opens, then closes */
        k = d->quote_open ? KIND_CLOSE : KIND_OPEN;
        d->quote_open = !d->quote_open;
    }
    if (d->held >= 0 && k == KIND_APOS) { /* '' : the first as at the end, the second waits */
        w = put_held(t, d, buf, cap, w);
        d->held = id;
        return w;
    }
    if (d->held >= 0) {
        char ta[1];
        size_t na;
        int ka;
        const char *a = token_text(t, d->held, ta, &na, &ka);
        const int word_before = is_word(t, d->prev, d->prev_kind), word = is_word(t, id, k);
        const int elided = word && among(t, id, elided_starts);
        if (word && word_before && among(t, id, contraction_ends)) { /* don't, it's, i'm */
            w = put(buf, cap, w, a, na);
        } else if ((word_before && !elided && (!word || d->squote_open || ends_word(t, d->prev))) ||
                   (!word_before && word && d->squote_open && d->prev_kind == KIND_CLOSE)) {
            /* teachers' pomp, i' the, o' the; 'the matrix' is, 'stop!' and: against what is before */
            w = put(buf, cap, w, a, na);
            d->prev = d->held, d->prev_kind = KIND_CLOSE;
            if (spaced(KIND_CLOSE, k)) w = put(buf, cap, w, " ", 1);
            d->squote_open = 0;
        } else { /* an opening mark: and 'tis, 'hello after a space or at the start, said 'no' */
            if (spaced(d->prev_kind, KIND_OPEN)) w = put(buf, cap, w, " ", 1);
            w = put(buf, cap, w, a, na);
            /* a quotation opens (not 'tis, nor the '80s) */
            if (word && !elided && k != KIND_UNK && !(n && s[0] >= '0' && s[0] <= '9')) d->squote_open = 1;
        }
        d->held = -1;
    } else if (k == KIND_APOS) { /* written with the token after it, which decides its spaces */
        d->held = id;
        return w;
    } else if (k == KIND_CONT) { /* ##ing: glued */
    } else if (is_word(t, id, k) && (d->url == URL_WWW_DOT || d->url == URL_NAME_DOT ||
                                     (d->dot_word && among(t, id, domain_ends)) ||
                                     (d->dot_word == 2 && among(t, id, page_ends)))) { /* www.imdb.com, /a.html */
        /* (a wordpiece model's bare ending waits for its next piece: com ##plicating) */
        pend = t->opt.type == RNN_TOK_WORDPIECE && d->url != URL_WWW_DOT && d->url != URL_NAME_DOT;
    } else if (d->in_number && k == KIND_TEXT && n && s[0] >= '0' && s[0] <= '9') { /* 3.5, 10,000, 3:15 */
    } else if (d->in_abbrev && k == KIND_TEXT && n == 1 && ((s[0] | 32) >= 'b' && (s[0] | 32) <= 'z') &&
               (s[0] | 32) != 'i') { /* e.g., u.s. (not "plan b. a", "so did i. i") */
        abbrev = 1;
    } else if (k == KIND_HYPHEN && (is_word(t, d->prev, d->prev_kind) || (d->prev_kind == KIND_HYPHEN && d->joined) ||
                                    (n == 1 && s[0] == '/' && (d->url == URL_COLON || d->url == URL_SLASH)) ||
                                    (n == 1 && s[0] == '/' && is_char(t, d->prev, '<')))) {
        joined = 1; /* well-known, --, </p>, http:// */
    } else if (k == KIND_HYPHEN && n == 1 && s[0] == '-' && is_char(t, d->prev, '-') && d->prev_kind == KIND_HYPHEN) {
        /* the second hyphen of a dash whose first was spaced (after a closing
         * mark: "yes" -- and): on the first, and the next word spaced again */
    } else if (d->prev_kind == KIND_HYPHEN && d->joined && is_word(t, id, k)) { /* well-known, com/title */
        path = is_char(t, d->prev, '/');
    } else if (spaced(d->prev_kind, k)) {
        w = put(buf, cap, w, " ", 1);
    }
    if (!pend) w = put(buf, cap, w, s, n);
    d->pend = pend;
    /* a . , or : after a number: one more number goes on it */
    const char *ps = d->prev >= 0 ? strtab_key(&t->vocab, (size_t)d->prev) : "";
    const size_t pn = d->prev >= 0 ? t->vocab.len[d->prev] : 0;
    d->in_abbrev = k == KIND_CLOSE && n == 1 && s[0] == '.' && pn == 1 && ((ps[0] | 32) >= 'a' && (ps[0] | 32) <= 'z') &&
                   d->prev_kind == KIND_TEXT && !d->abbrev;
    d->abbrev = abbrev;
    d->in_number = k == KIND_CLOSE && n == 1 && strchr(".,:", s[0]) && pn && ps[pn - 1] >= '0' && ps[pn - 1] <= '9' &&
                   d->prev_kind != KIND_SILENT;
    d->joined = joined;
    d->url = url_next(t, d->url, id, k, s, n, is_word(t, id, k));
    d->dot_word = k == KIND_CLOSE && n == 1 && s[0] == '.' && is_word(t, d->prev, d->prev_kind) ? 1 + d->path_word : 0;
    d->path_word = path;
    /* a ` opens a quotation; a line break ends one left open (an apostrophe
     * misread as opening, "ol' man", would turn every later one about) */
    if (k == KIND_OPEN && n == 1 && s[0] == '`') d->squote_open = 1;
    else if (k == KIND_NEWLINE) d->squote_open = 0;
    d->prev = id, d->prev_kind = k;
    return w;
}

size_t rnn_detok_end(const rnn_tokenizer *t, rnn_detok *d, char *buf, size_t cap) {
    if (!buf || cap == 0) return 0;
    buf[0] = 0;
    const size_t w = d->pend ? put_pend(t, d, buf, cap, 0) : 0;
    return d->held >= 0 ? put_held(t, d, buf, cap, w) : w;
}

/* Whether byte c belongs to a word as rnn_recase reads text: an ASCII letter
 * or digit, or a byte of another character. */
static int recase_wordy(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80; }

/* rnn_recase's step: byte c, written (its capital where it must be) to out
 * unless held; the bytes written. */
static size_t recase_byte(rnn_recase *r, unsigned char c, char *out) {
    size_t w = 0;
    /* U+0080-U+00BF (lead byte C2: « » ¿ ¡) and U+2000-U+2FFF (E2: “ ” ‘ ’ … —) are
     * punctuation, passed through as a quote is: the capital a sentence or
     * line waits for stays due, and an "i" before or after one is the word */
    if (c >= 0xC0) r->punct = c == 0xC2 || c == 0xE2;
    else if (c < 0x80) r->punct = 0;
    if (r->punct) {
        if (r->held) out[w++] = 'I', r->held = 0;
        out[w++] = (char)c;
        r->prev = ' ';
        return w;
    }
    const int alnum = recase_wordy(c);
    if (r->held) { /* the "i" before: alone unless a letter or digit follows */
        out[w++] = alnum ? 'i' : 'I';
        r->held = 0;
    }
    const int prev_alnum = recase_wordy(r->prev);
    if (c >= 'a' && c <= 'z' && r->cap) {
        c = (unsigned char)(c - 'a' + 'A');
        r->cap = r->stop = 0;
    } else if (c == 'i' && !prev_alnum) {
        r->held = 1, r->stop = 0, r->prev = c;
        return w;
    } else if (alnum) {
        r->cap = r->stop = 0;
    } else if (c == '.' || c == '!' || c == '?') {
        r->stop = 1;
    } else if (c == '\n') {
        r->cap = 1, r->stop = 0;
    } else if (c == ' ' || c == '\t') {
        if (r->stop) r->cap = 1;
        r->stop = 0;
    } else if (c != '"' && c != '\'' && c != ')' && c != ']') { /* (a quote or bracket after the stop keeps it) */
        r->stop = 0;
    }
    out[w++] = (char)c;
    r->prev = c;
    return w;
}

int rnn_recase_check(const rnn_tokenizer *t) {
    if (t->opt.type != RNN_TOK_BYTE && t->opt.lowercase) return 0;
    return rnn_errorf("recase is for a model whose tokenizer lowercases (this one's keeps the text's case)");
}

void rnn_recase_init(rnn_recase *r, const char *before, size_t n) {
    *r = (rnn_recase){.cap = 1};
    char scratch[2];
    for (size_t i = 0; i < n; i++) recase_byte(r, (unsigned char)before[i], scratch);
    r->held = 0; /* (the prime is written as given) */
}

size_t rnn_recase_put(rnn_recase *r, const char *in, size_t n, char *out) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) w += recase_byte(r, (unsigned char)in[i], out + w);
    return w;
}

int rnn_recase_emit(rnn_recase *r, const char *bytes, size_t n, int (*emit)(const char *bytes, size_t n, void *user),
                    void *user) {
    char buf[256];
    for (size_t i = 0; i < n;) { /* pieces of at most 254 bytes: room for one held "i" more */
        const size_t k = n - i < 254 ? n - i : 254, m = rnn_recase_put(r, bytes + i, k, buf);
        const int rc = m ? emit(buf, m, user) : 0;
        if (rc) return rc;
        i += k;
    }
    return 0;
}

size_t rnn_recase_end(rnn_recase *r, char *out) {
    if (!r->held) return 0;
    r->held = 0;
    out[0] = 'I';
    return 1;
}

char *rnn_tokenizer_as_written(const rnn_tokenizer *t, const char *s, size_t len, size_t *out_len) {
    char *out = rnn_realloc(NULL, 3 * 4 * len + 1), *w = out; /* a code point: up to 3 after stripping, 4 bytes each */
    if (!out) return NULL;
    if (!t->opt.lowercase || t->opt.type == RNN_TOK_BYTE) { /* written as given */
        memcpy(out, s, len);
        out[len] = 0;
        *out_len = len;
        return out;
    }
    for (size_t i = 0; i < len;) {
        uint32_t c, cs[3];
        read_cp((const unsigned char *)s, len, &i, 1, &c); /* (invalid UTF-8 read as U+FFFD: no failure) */
        int m = 1;
        cs[0] = to_lower(c);
        if (t->opt.type == RNN_TOK_WORDPIECE) m = strip_accents(cs[0], cs);
        for (int j = 0; j < m; j++) w += utf8_put(cs[j], w);
    }
    *w = 0;
    *out_len = (size_t)(w - out);
    return out;
}

size_t rnn_tokenizer_max_piece(const rnn_tokenizer *t) {
    if (t->opt.type == RNN_TOK_BYTE) return 1;
    /* a held apostrophe (3 bytes at most), a space, the token, a space; or a
     * wordpiece model's pending ending (put_pend: 5, "shtml"), a space, the token */
    return (t->max_len > 5 ? t->max_len : 5) + 6;
}

char *rnn_tokenizer_decode(const rnn_tokenizer *t, const int32_t *ids, size_t n) {
    rnn_sbuf out = {0};
    if (rnn_sbuf_put(&out, "", 0)) return NULL;
    rnn_detok d;
    rnn_detok_init(&d, -1, 0);
    const size_t cap = rnn_tokenizer_max_piece(t) + 1;
    char *piece = malloc(cap);
    if (!piece) {
        free(out.p);
        return rnn_errorf("out of memory"), NULL;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (ids[i] < 0 || (size_t)ids[i] >= t->vocab.n)) {
            rnn_errorf("token id %d at position %zu is out of range (vocabulary of %zu)", (int)ids[i], i, t->vocab.n);
            free(out.p);
            free(piece);
            return NULL;
        }
        size_t m = i < n ? rnn_detok_put(t, &d, ids[i], piece, cap) : rnn_detok_end(t, &d, piece, cap);
        if (rnn_sbuf_put(&out, piece, m)) {
            free(out.p);
            free(piece);
            return NULL;
        }
    }
    free(piece);
    return out.p;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */

int rnn_tokenizer_vocab_size(const rnn_tokenizer *t) { return (int)t->vocab.n; }

const char *rnn_tokenizer_token(const rnn_tokenizer *t, int id) {
    if (id < 0 || (size_t)id >= t->vocab.n) return NULL;
    return strtab_key(&t->vocab, (size_t)id);
}

int rnn_tokenizer_unk_id(const rnn_tokenizer *t) { return t->unk_id; }
int rnn_tokenizer_pad_id(const rnn_tokenizer *t) { return t->pad_id; }

int rnn_tokenizer_producible(const rnn_tokenizer *t, int id) {
    if (id < 0 || id >= rnn_tokenizer_vocab_size(t)) return 0;
    if (t->opt.type == RNN_TOK_BYTE) return 1;
    if (t->kind[id] == KIND_SILENT) return 0;
    const char *s = strtab_key(&t->vocab, (size_t)id);
    const size_t n = t->vocab.len[id];
    return !(t->opt.type == RNN_TOK_WORDPIECE && id != t->unk_id && n > 2 && s[0] == '[' && s[n - 1] == ']');
}


int rnn_tokenizer_filler_id(const rnn_tokenizer *t, const char **name) {
    int id = t->unk_id >= 0 ? t->unk_id : t->opt.type == RNN_TOK_BYTE ? ' ' : 0;
    if (name) *name = t->unk_id < 0 && t->opt.type == RNN_TOK_BYTE ? "space" : rnn_tokenizer_token(t, id);
    return id;
}

int rnn_tokenizer_find(const rnn_tokenizer *t, const char *token) {
    return token ? tok_find(t, token, strlen(token)) : -1;
}

rnn_tok_type rnn_tokenizer_type(const rnn_tokenizer *t) { return t->opt.type; }

int rnn_tokenizer_ends_in_space(const rnn_tokenizer *t, const char *s, size_t n) {
    size_t at = n; /* the last code point's lead byte: back over at most 3 continuation bytes */
    while (at > 0 && n - at < 3 && ((unsigned char)s[at - 1] & 0xC0) == 0x80) at--;
    if (at-- == 0) return 0;
    size_t end = at;
    const int32_t c = rnn_utf8_next((const unsigned char *)s, n, &end);
    if (c < 0 || end != n) return 0;
    if (t->opt.type == RNN_TOK_WORD) return is_word_space((uint32_t)c);
    if (t->opt.type == RNN_TOK_WORDPIECE) return is_bert_space((uint32_t)c);
    return 0;
}
int rnn_tok_options_need_utf8(const rnn_tok_options *o) {
    return o->type != RNN_TOK_BYTE && !o->invalid_utf8_replace;
}
int rnn_tokenizer_needs_utf8(const rnn_tokenizer *t) { return rnn_tok_options_need_utf8(&t->opt); }
int rnn_tokenizer_check_same(const rnn_tokenizer *a, const rnn_tokenizer *b) {
    if (a->opt.type != b->opt.type)
        return rnn_errorf("type %s against %s", rnn_tok_type_name(a->opt.type), rnn_tok_type_name(b->opt.type));
    const struct {
        const char *name;
        int a, b;
    } flags[] = {{"lowercase", a->opt.lowercase, b->opt.lowercase},
                 {"split-punct", a->opt.split_punct, b->opt.split_punct},
                 {"strip-html", a->opt.strip_html, b->opt.strip_html},
                 {"keep-newlines", a->opt.keep_newlines, b->opt.keep_newlines},
                 {"replace-invalid", a->opt.invalid_utf8_replace, b->opt.invalid_utf8_replace}};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (!flags[i].a != !flags[i].b)
            return rnn_errorf("%s %s against %s", flags[i].name, flags[i].a ? "on" : "off",
                              flags[i].b ? "on" : "off");
    if (a->vocab.n != b->vocab.n)
        return rnn_errorf("%zu tokens against %zu", a->vocab.n, b->vocab.n);
    for (size_t i = 0; i < a->vocab.n; i++)
        if (strcmp(strtab_key(&a->vocab, i), strtab_key(&b->vocab, i)))
            return rnn_errorf("token %zu \"%s\" against \"%s\"", i, strtab_key(&a->vocab, i),
                              strtab_key(&b->vocab, i));
    return 0;
}

const rnn_tok_options *rnn_tokenizer_options(const rnn_tokenizer *t) { return &t->opt; }

/* ------------------------------------------------------------------------ */
/* Metadata (docs/checkpoints.md, "tokenizer")                              */

cJSON *rnn_tokenizer_to_json(const rnn_tokenizer *t) {
    const rnn_tok_options *o = &t->opt;
    const char **toks = rnn_realloc(NULL, (t->vocab.n ? t->vocab.n : 1) * sizeof *toks);
    if (!toks) return NULL;
    for (size_t i = 0; i < t->vocab.n; i++) toks[i] = strtab_key(&t->vocab, i);
    cJSON *j = cJSON_CreateObject(), *vocab = cJSON_CreateStringArray(toks, (int)t->vocab.n);
    free(toks);
    int ok = j && vocab && cJSON_AddStringToObject(j, "type", rnn_tok_type_name(o->type));
    if (ok) {
        cJSON_AddItemToObject(j, "vocab", vocab);
        vocab = NULL;
    }
    ok = ok && cJSON_AddNumberToObject(j, "pad_id", t->pad_id) &&
         cJSON_AddNumberToObject(j, "unk_id", t->unk_id);
    if (ok && o->type == RNN_TOK_WORDPIECE) {
        static const char *const keys[] = {"cls_id", "sep_id", "mask_id"};
        static const char *const names[] = {"[CLS]", "[SEP]", "[MASK]"};
        for (int i = 0; i < 3; i++)
            ok = ok && cJSON_AddNumberToObject(j, keys[i], rnn_tokenizer_find(t, names[i]));
    }
    ok = ok && cJSON_AddBoolToObject(j, "lowercase", o->lowercase) &&
         cJSON_AddBoolToObject(j, "split_punct", o->split_punct) &&
         cJSON_AddBoolToObject(j, "strip_html", o->strip_html) &&
         cJSON_AddBoolToObject(j, "keep_newlines", o->keep_newlines) &&
         cJSON_AddNumberToObject(j, "min_count", o->min_count) &&
         cJSON_AddNumberToObject(j, "max_vocab", o->max_vocab) &&
         cJSON_AddStringToObject(j, "invalid_utf8", o->invalid_utf8_replace ? "replace" : "error");
    if (!ok) {
        cJSON_Delete(j);
        cJSON_Delete(vocab);
        rnn_errorf("out of memory writing the tokenizer metadata");
        return NULL;
    }
    return j;
}

#define META "tokenizer metadata: "

/* An optional (required = 0) or required boolean field. */
static int json_bool(const cJSON *j, const char *key, int required, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return required ? rnn_errorf(META "missing \"%s\"", key) : 0;
    if (!cJSON_IsBool(v)) return rnn_errorf(META "\"%s\" must be true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int json_int(const cJSON *j, const char *key, int required, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return required ? rnn_errorf(META "missing \"%s\"", key) : 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return rnn_errorf(META "\"%s\" must be an integer in [%d, %d]", key, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

/* The options of a tokenizer's "tokenizer" object; those that change how text
 * is encoded for the type are required. */
static int options_from_json(const cJSON *j, rnn_tok_options *o) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!type) return rnn_errorf(META "missing \"type\"");
    static const rnn_tok_type types[] = {RNN_TOK_CHAR, RNN_TOK_BYTE, RNN_TOK_WORD,
                                         RNN_TOK_WORDPIECE};
    size_t i = 0;
    while (i < 4 && !(cJSON_IsString(type) && strcmp(type->valuestring, rnn_tok_type_name(types[i])) == 0))
        i++;
    if (i == 4)
        return rnn_errorf(META "\"type\" must be \"char\", \"byte\", \"word\" or \"wordpiece\"");
    rnn_tok_type t = types[i];
    rnn_tok_options_default(o, t);
    int w = t == RNN_TOK_WORD, c = t == RNN_TOK_CHAR, wp = t == RNN_TOK_WORDPIECE;
    if (json_bool(j, "lowercase", w || c || wp, &o->lowercase) ||
        json_bool(j, "split_punct", w, &o->split_punct) ||
        json_bool(j, "strip_html", w || wp, &o->strip_html) ||
        json_bool(j, "keep_newlines", w, &o->keep_newlines) || /* (optional for wordpiece: false before 2026-12-06) */
        json_int(j, "min_count", 0, 1, INT_MAX, &o->min_count) ||
        json_int(j, "max_vocab", 0, 0, INT_MAX, &o->max_vocab))
        return -1;
    const cJSON *bad = cJSON_GetObjectItemCaseSensitive(j, "invalid_utf8");
    if (bad) {
        if (cJSON_IsString(bad) && strcmp(bad->valuestring, "error") == 0)
            o->invalid_utf8_replace = 0;
        else if (cJSON_IsString(bad) && strcmp(bad->valuestring, "replace") == 0)
            o->invalid_utf8_replace = 1;
        else
            return rnn_errorf(META "\"invalid_utf8\" must be \"error\" or \"replace\"");
    }
    /* Options the type ignores (a file from before `rnn train` refused them,
     * or written by hand) are read as off, so that nothing reports them. */
    if (t == RNN_TOK_BYTE) o->lowercase = o->strip_html = o->invalid_utf8_replace = 0;
    if (!w) o->split_punct = 0;
    if (!w && !wp) o->keep_newlines = 0;
    return 0;
}

/* Checks the specials and per-type shape of a vocabulary read from JSON. */
static int check_vocab(const rnn_tokenizer *t, int pad_id, int unk_id, const cJSON *j) {
    size_t v = t->vocab.n;
    switch (t->opt.type) {
    case RNN_TOK_BYTE:
        if (v != 256) return rnn_errorf(META "a byte vocab has 256 tokens, not %zu", v);
        for (int b = 0; b < 256; b++) {
            char s[8];
            byte_spelling(b, s);
            if (strcmp(strtab_key(&t->vocab, (size_t)b), s) != 0)
                return rnn_errorf(META "byte vocab[%d] must be \"%s\"", b, s);
        }
        if (pad_id != -1 || unk_id != -1)
            return rnn_errorf(META "the byte tokenizer has no specials: pad_id and unk_id must be -1");
        return 0;
    case RNN_TOK_CHAR:
    case RNN_TOK_WORD:
        if (pad_id < 0 || strcmp(strtab_key(&t->vocab, (size_t)pad_id), PAD) != 0)
            return rnn_errorf(META "pad_id must name the \"<pad>\" token");
        if (unk_id < 0 || strcmp(strtab_key(&t->vocab, (size_t)unk_id), UNK) != 0)
            return rnn_errorf(META "unk_id must name the \"<unk>\" token");
        if (t->opt.type == RNN_TOK_CHAR)
            for (size_t i = 0; i < v; i++)
                if ((int)i != pad_id && (int)i != unk_id &&
                    utf8_count(strtab_key(&t->vocab, i), t->vocab.len[i]) != 1)
                    return rnn_errorf(META "char vocab[%zu] is not a single code point", i);
        return 0;
    case RNN_TOK_WORDPIECE: {
        if (unk_id < 0 || unk_id != tok_find(t, "[UNK]", 5))
            return rnn_errorf(META "unk_id must name the \"[UNK]\" token");
        if (pad_id != tok_find(t, "[PAD]", 5))
            return rnn_errorf(META "pad_id must name the \"[PAD]\" token (-1 if there is none)");
        static const char *const keys[] = {"cls_id", "sep_id", "mask_id"};
        static const char *const names[] = {"[CLS]", "[SEP]", "[MASK]"};
        for (int i = 0; i < 3; i++) {
            int want = tok_find(t, names[i], strlen(names[i])), id = want;
            if (json_int(j, keys[i], 0, -1, (int)v - 1, &id)) return -1;
            if (id != want)
                return rnn_errorf(META "\"%s\" must name the \"%s\" token (-1 if there is none)",
                                  keys[i], names[i]);
        }
        return 0;
    }
    }
    return 0;
}

rnn_tokenizer *rnn_tokenizer_from_json(const cJSON *j) {
    if (!cJSON_IsObject(j)) {
        rnn_errorf(META "not a JSON object");
        return NULL;
    }
    /* Every key is one this build reads, as in rnn_config_from_json: a
     * damaged name ("strip_htmL") would otherwise read as its option's
     * default and encode text differently, silently. */
    static const char *const known[] = {"type", "vocab", "pad_id", "unk_id", "cls_id", "sep_id", "mask_id",
                                        "lowercase", "split_punct", "strip_html", "keep_newlines", "min_count",
                                        "max_vocab", "invalid_utf8"};
    for (const cJSON *k = j->child; k; k = k->next) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(k->string, known[i])) i++;
        if (i == sizeof known / sizeof *known) {
            rnn_errorf(META "unknown key \"%.64s\" (a damaged file, or one from a newer rnn.c)", k->string);
            return NULL;
        }
    }
    const char *twice = rnn_json_repeated_key(j);
    if (twice) {
        rnn_errorf(META "the key \"%.64s\" is given twice (a damaged file: which value counts?)", twice);
        return NULL;
    }
    rnn_tok_options o;
    if (options_from_json(j, &o)) return NULL;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!vocab) {
        rnn_errorf(META "missing \"vocab\"");
        return NULL;
    }
    if (!cJSON_IsArray(vocab) || !vocab->child) {
        rnn_errorf(META "\"vocab\" must be a non-empty array of strings");
        return NULL;
    }
    rnn_tokenizer *t = tok_new(&o);
    if (!t) return NULL;
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        if (!cJSON_IsString(item)) {
            rnn_errorf(META "vocab[%zu] is not a string", i);
            goto fail;
        }
        const char *s = item->valuestring;
        size_t n = strlen(s);
        if (n == 0 || utf8_count(s, n) < 0) {
            rnn_errorf(META "vocab[%zu] is %s", i, n ? "not valid UTF-8" : "empty");
            goto fail;
        }
        uint32_t h = str_hash(s, n);
        long dup = strtab_find(&t->vocab, s, n, h);
        if (dup >= 0) {
            rnn_errorf(META "duplicate token \"%.*s\" (vocab[%ld] and vocab[%zu])",
                       (int)(n < 60 ? n : 60), s, dup, i);
            goto fail;
        }
        if (strtab_add(&t->vocab, s, n, h) < 0) goto fail;
        i++;
    }
    int pad_id = -1, unk_id = -1, top = (int)t->vocab.n - 1;
    if (json_int(j, "pad_id", 1, -1, top, &pad_id) || json_int(j, "unk_id", 1, -1, top, &unk_id) ||
        check_vocab(t, pad_id, unk_id, j) || tok_finish(t))
        goto fail;
    return t;
fail:
    rnn_tokenizer_free(t);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Unicode data                                                             */
/* The tables below were generated from Python's unicodedata (Unicode 14.0)
 * by the script in the comment at the end of the file:
 *   punct_ranges   general category P* (Pc Pd Ps Pe Pi Pf Po)
 *   mark_ranges    Mn (nonspacing marks), which BERT's accent stripping drops
 *   control_ranges Cc, Cf, Co (unassigned Cn is not listed)
 *   strip_one      code point → the one code point left by NFD minus Mn, and
 *   strip_two      → the two left (Indic two-part vowels), for every such
 *                  code point of the BMP except Hangul syllables (done
 *                  arithmetically) and CJK compatibility ideographs. */
static const uint32_t punct_ranges[][2] = {
    {0x0021, 0x0023}, {0x0025, 0x002A}, {0x002C, 0x002F}, {0x003A, 0x003B}, {0x003F, 0x0040},
    {0x005B, 0x005D}, {0x005F, 0x005F}, {0x007B, 0x007B}, {0x007D, 0x007D}, {0x00A1, 0x00A1},
    {0x00A7, 0x00A7}, {0x00AB, 0x00AB}, {0x00B6, 0x00B7}, {0x00BB, 0x00BB}, {0x00BF, 0x00BF},
    {0x037E, 0x037E}, {0x0387, 0x0387}, {0x055A, 0x055F}, {0x0589, 0x058A}, {0x05BE, 0x05BE},
    {0x05C0, 0x05C0}, {0x05C3, 0x05C3}, {0x05C6, 0x05C6}, {0x05F3, 0x05F4}, {0x0609, 0x060A},
    {0x060C, 0x060D}, {0x061B, 0x061B}, {0x061D, 0x061F}, {0x066A, 0x066D}, {0x06D4, 0x06D4},
    {0x0700, 0x070D}, {0x07F7, 0x07F9}, {0x0830, 0x083E}, {0x085E, 0x085E}, {0x0964, 0x0965},
    {0x0970, 0x0970}, {0x09FD, 0x09FD}, {0x0A76, 0x0A76}, {0x0AF0, 0x0AF0}, {0x0C77, 0x0C77},
    {0x0C84, 0x0C84}, {0x0DF4, 0x0DF4}, {0x0E4F, 0x0E4F}, {0x0E5A, 0x0E5B}, {0x0F04, 0x0F12},
    {0x0F14, 0x0F14}, {0x0F3A, 0x0F3D}, {0x0F85, 0x0F85}, {0x0FD0, 0x0FD4}, {0x0FD9, 0x0FDA},
    {0x104A, 0x104F}, {0x10FB, 0x10FB}, {0x1360, 0x1368}, {0x1400, 0x1400}, {0x166E, 0x166E},
    {0x169B, 0x169C}, {0x16EB, 0x16ED}, {0x1735, 0x1736}, {0x17D4, 0x17D6}, {0x17D8, 0x17DA},
    {0x1800, 0x180A}, {0x1944, 0x1945}, {0x1A1E, 0x1A1F}, {0x1AA0, 0x1AA6}, {0x1AA8, 0x1AAD},
    {0x1B5A, 0x1B60}, {0x1B7D, 0x1B7E}, {0x1BFC, 0x1BFF}, {0x1C3B, 0x1C3F}, {0x1C7E, 0x1C7F},
    {0x1CC0, 0x1CC7}, {0x1CD3, 0x1CD3}, {0x2010, 0x2027}, {0x2030, 0x2043}, {0x2045, 0x2051},
    {0x2053, 0x205E}, {0x207D, 0x207E}, {0x208D, 0x208E}, {0x2308, 0x230B}, {0x2329, 0x232A},
    {0x2768, 0x2775}, {0x27C5, 0x27C6}, {0x27E6, 0x27EF}, {0x2983, 0x2998}, {0x29D8, 0x29DB},
    {0x29FC, 0x29FD}, {0x2CF9, 0x2CFC}, {0x2CFE, 0x2CFF}, {0x2D70, 0x2D70}, {0x2E00, 0x2E2E},
    {0x2E30, 0x2E4F}, {0x2E52, 0x2E5D}, {0x3001, 0x3003}, {0x3008, 0x3011}, {0x3014, 0x301F},
    {0x3030, 0x3030}, {0x303D, 0x303D}, {0x30A0, 0x30A0}, {0x30FB, 0x30FB}, {0xA4FE, 0xA4FF},
    {0xA60D, 0xA60F}, {0xA673, 0xA673}, {0xA67E, 0xA67E}, {0xA6F2, 0xA6F7}, {0xA874, 0xA877},
    {0xA8CE, 0xA8CF}, {0xA8F8, 0xA8FA}, {0xA8FC, 0xA8FC}, {0xA92E, 0xA92F}, {0xA95F, 0xA95F},
    {0xA9C1, 0xA9CD}, {0xA9DE, 0xA9DF}, {0xAA5C, 0xAA5F}, {0xAADE, 0xAADF}, {0xAAF0, 0xAAF1},
    {0xABEB, 0xABEB}, {0xFD3E, 0xFD3F}, {0xFE10, 0xFE19}, {0xFE30, 0xFE52}, {0xFE54, 0xFE61},
    {0xFE63, 0xFE63}, {0xFE68, 0xFE68}, {0xFE6A, 0xFE6B}, {0xFF01, 0xFF03}, {0xFF05, 0xFF0A},
    {0xFF0C, 0xFF0F}, {0xFF1A, 0xFF1B}, {0xFF1F, 0xFF20}, {0xFF3B, 0xFF3D}, {0xFF3F, 0xFF3F},
    {0xFF5B, 0xFF5B}, {0xFF5D, 0xFF5D}, {0xFF5F, 0xFF65}, {0x10100, 0x10102}, {0x1039F, 0x1039F},
    {0x103D0, 0x103D0}, {0x1056F, 0x1056F}, {0x10857, 0x10857}, {0x1091F, 0x1091F}, {0x1093F, 0x1093F},
    {0x10A50, 0x10A58}, {0x10A7F, 0x10A7F}, {0x10AF0, 0x10AF6}, {0x10B39, 0x10B3F}, {0x10B99, 0x10B9C},
    {0x10EAD, 0x10EAD}, {0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x11047, 0x1104D}, {0x110BB, 0x110BC},
    {0x110BE, 0x110C1}, {0x11140, 0x11143}, {0x11174, 0x11175}, {0x111C5, 0x111C8}, {0x111CD, 0x111CD},
    {0x111DB, 0x111DB}, {0x111DD, 0x111DF}, {0x11238, 0x1123D}, {0x112A9, 0x112A9}, {0x1144B, 0x1144F},
    {0x1145A, 0x1145B}, {0x1145D, 0x1145D}, {0x114C6, 0x114C6}, {0x115C1, 0x115D7}, {0x11641, 0x11643},
    {0x11660, 0x1166C}, {0x116B9, 0x116B9}, {0x1173C, 0x1173E}, {0x1183B, 0x1183B}, {0x11944, 0x11946},
    {0x119E2, 0x119E2}, {0x11A3F, 0x11A46}, {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11C41, 0x11C45},
    {0x11C70, 0x11C71}, {0x11EF7, 0x11EF8}, {0x11FFF, 0x11FFF}, {0x12470, 0x12474}, {0x12FF1, 0x12FF2},
    {0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5}, {0x16B37, 0x16B3B}, {0x16B44, 0x16B44}, {0x16E97, 0x16E9A},
    {0x16FE2, 0x16FE2}, {0x1BC9F, 0x1BC9F}, {0x1DA87, 0x1DA8B}, {0x1E95E, 0x1E95F},
};
static const uint32_t mark_ranges[][2] = {
    {0x0300, 0x036F}, {0x0483, 0x0487}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0711, 0x0711},
    {0x0730, 0x074A}, {0x07A6, 0x07B0}, {0x07EB, 0x07F3}, {0x07FD, 0x07FD}, {0x0816, 0x0819},
    {0x081B, 0x0823}, {0x0825, 0x0827}, {0x0829, 0x082D}, {0x0859, 0x085B}, {0x0898, 0x089F},
    {0x08CA, 0x08E1}, {0x08E3, 0x0902}, {0x093A, 0x093A}, {0x093C, 0x093C}, {0x0941, 0x0948},
    {0x094D, 0x094D}, {0x0951, 0x0957}, {0x0962, 0x0963}, {0x0981, 0x0981}, {0x09BC, 0x09BC},
    {0x09C1, 0x09C4}, {0x09CD, 0x09CD}, {0x09E2, 0x09E3}, {0x09FE, 0x09FE}, {0x0A01, 0x0A02},
    {0x0A3C, 0x0A3C}, {0x0A41, 0x0A42}, {0x0A47, 0x0A48}, {0x0A4B, 0x0A4D}, {0x0A51, 0x0A51},
    {0x0A70, 0x0A71}, {0x0A75, 0x0A75}, {0x0A81, 0x0A82}, {0x0ABC, 0x0ABC}, {0x0AC1, 0x0AC5},
    {0x0AC7, 0x0AC8}, {0x0ACD, 0x0ACD}, {0x0AE2, 0x0AE3}, {0x0AFA, 0x0AFF}, {0x0B01, 0x0B01},
    {0x0B3C, 0x0B3C}, {0x0B3F, 0x0B3F}, {0x0B41, 0x0B44}, {0x0B4D, 0x0B4D}, {0x0B55, 0x0B56},
    {0x0B62, 0x0B63}, {0x0B82, 0x0B82}, {0x0BC0, 0x0BC0}, {0x0BCD, 0x0BCD}, {0x0C00, 0x0C00},
    {0x0C04, 0x0C04}, {0x0C3C, 0x0C3C}, {0x0C3E, 0x0C40}, {0x0C46, 0x0C48}, {0x0C4A, 0x0C4D},
    {0x0C55, 0x0C56}, {0x0C62, 0x0C63}, {0x0C81, 0x0C81}, {0x0CBC, 0x0CBC}, {0x0CBF, 0x0CBF},
    {0x0CC6, 0x0CC6}, {0x0CCC, 0x0CCD}, {0x0CE2, 0x0CE3}, {0x0D00, 0x0D01}, {0x0D3B, 0x0D3C},
    {0x0D41, 0x0D44}, {0x0D4D, 0x0D4D}, {0x0D62, 0x0D63}, {0x0D81, 0x0D81}, {0x0DCA, 0x0DCA},
    {0x0DD2, 0x0DD4}, {0x0DD6, 0x0DD6}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E},
    {0x0EB1, 0x0EB1}, {0x0EB4, 0x0EBC}, {0x0EC8, 0x0ECD}, {0x0F18, 0x0F19}, {0x0F35, 0x0F35},
    {0x0F37, 0x0F37}, {0x0F39, 0x0F39}, {0x0F71, 0x0F7E}, {0x0F80, 0x0F84}, {0x0F86, 0x0F87},
    {0x0F8D, 0x0F97}, {0x0F99, 0x0FBC}, {0x0FC6, 0x0FC6}, {0x102D, 0x1030}, {0x1032, 0x1037},
    {0x1039, 0x103A}, {0x103D, 0x103E}, {0x1058, 0x1059}, {0x105E, 0x1060}, {0x1071, 0x1074},
    {0x1082, 0x1082}, {0x1085, 0x1086}, {0x108D, 0x108D}, {0x109D, 0x109D}, {0x135D, 0x135F},
    {0x1712, 0x1714}, {0x1732, 0x1733}, {0x1752, 0x1753}, {0x1772, 0x1773}, {0x17B4, 0x17B5},
    {0x17B7, 0x17BD}, {0x17C6, 0x17C6}, {0x17C9, 0x17D3}, {0x17DD, 0x17DD}, {0x180B, 0x180D},
    {0x180F, 0x180F}, {0x1885, 0x1886}, {0x18A9, 0x18A9}, {0x1920, 0x1922}, {0x1927, 0x1928},
    {0x1932, 0x1932}, {0x1939, 0x193B}, {0x1A17, 0x1A18}, {0x1A1B, 0x1A1B}, {0x1A56, 0x1A56},
    {0x1A58, 0x1A5E}, {0x1A60, 0x1A60}, {0x1A62, 0x1A62}, {0x1A65, 0x1A6C}, {0x1A73, 0x1A7C},
    {0x1A7F, 0x1A7F}, {0x1AB0, 0x1ABD}, {0x1ABF, 0x1ACE}, {0x1B00, 0x1B03}, {0x1B34, 0x1B34},
    {0x1B36, 0x1B3A}, {0x1B3C, 0x1B3C}, {0x1B42, 0x1B42}, {0x1B6B, 0x1B73}, {0x1B80, 0x1B81},
    {0x1BA2, 0x1BA5}, {0x1BA8, 0x1BA9}, {0x1BAB, 0x1BAD}, {0x1BE6, 0x1BE6}, {0x1BE8, 0x1BE9},
    {0x1BED, 0x1BED}, {0x1BEF, 0x1BF1}, {0x1C2C, 0x1C33}, {0x1C36, 0x1C37}, {0x1CD0, 0x1CD2},
    {0x1CD4, 0x1CE0}, {0x1CE2, 0x1CE8}, {0x1CED, 0x1CED}, {0x1CF4, 0x1CF4}, {0x1CF8, 0x1CF9},
    {0x1DC0, 0x1DFF}, {0x20D0, 0x20DC}, {0x20E1, 0x20E1}, {0x20E5, 0x20F0}, {0x2CEF, 0x2CF1},
    {0x2D7F, 0x2D7F}, {0x2DE0, 0x2DFF}, {0x302A, 0x302D}, {0x3099, 0x309A}, {0xA66F, 0xA66F},
    {0xA674, 0xA67D}, {0xA69E, 0xA69F}, {0xA6F0, 0xA6F1}, {0xA802, 0xA802}, {0xA806, 0xA806},
    {0xA80B, 0xA80B}, {0xA825, 0xA826}, {0xA82C, 0xA82C}, {0xA8C4, 0xA8C5}, {0xA8E0, 0xA8F1},
    {0xA8FF, 0xA8FF}, {0xA926, 0xA92D}, {0xA947, 0xA951}, {0xA980, 0xA982}, {0xA9B3, 0xA9B3},
    {0xA9B6, 0xA9B9}, {0xA9BC, 0xA9BD}, {0xA9E5, 0xA9E5}, {0xAA29, 0xAA2E}, {0xAA31, 0xAA32},
    {0xAA35, 0xAA36}, {0xAA43, 0xAA43}, {0xAA4C, 0xAA4C}, {0xAA7C, 0xAA7C}, {0xAAB0, 0xAAB0},
    {0xAAB2, 0xAAB4}, {0xAAB7, 0xAAB8}, {0xAABE, 0xAABF}, {0xAAC1, 0xAAC1}, {0xAAEC, 0xAAED},
    {0xAAF6, 0xAAF6}, {0xABE5, 0xABE5}, {0xABE8, 0xABE8}, {0xABED, 0xABED}, {0xFB1E, 0xFB1E},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0x101FD, 0x101FD}, {0x102E0, 0x102E0}, {0x10376, 0x1037A},
    {0x10A01, 0x10A03}, {0x10A05, 0x10A06}, {0x10A0C, 0x10A0F}, {0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F},
    {0x10AE5, 0x10AE6}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11001, 0x11001}, {0x11038, 0x11046}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x1107F, 0x11081},
    {0x110B3, 0x110B6}, {0x110B9, 0x110BA}, {0x110C2, 0x110C2}, {0x11100, 0x11102}, {0x11127, 0x1112B},
    {0x1112D, 0x11134}, {0x11173, 0x11173}, {0x11180, 0x11181}, {0x111B6, 0x111BE}, {0x111C9, 0x111CC},
    {0x111CF, 0x111CF}, {0x1122F, 0x11231}, {0x11234, 0x11234}, {0x11236, 0x11237}, {0x1123E, 0x1123E},
    {0x112DF, 0x112DF}, {0x112E3, 0x112EA}, {0x11300, 0x11301}, {0x1133B, 0x1133C}, {0x11340, 0x11340},
    {0x11366, 0x1136C}, {0x11370, 0x11374}, {0x11438, 0x1143F}, {0x11442, 0x11444}, {0x11446, 0x11446},
    {0x1145E, 0x1145E}, {0x114B3, 0x114B8}, {0x114BA, 0x114BA}, {0x114BF, 0x114C0}, {0x114C2, 0x114C3},
    {0x115B2, 0x115B5}, {0x115BC, 0x115BD}, {0x115BF, 0x115C0}, {0x115DC, 0x115DD}, {0x11633, 0x1163A},
    {0x1163D, 0x1163D}, {0x1163F, 0x11640}, {0x116AB, 0x116AB}, {0x116AD, 0x116AD}, {0x116B0, 0x116B5},
    {0x116B7, 0x116B7}, {0x1171D, 0x1171F}, {0x11722, 0x11725}, {0x11727, 0x1172B}, {0x1182F, 0x11837},
    {0x11839, 0x1183A}, {0x1193B, 0x1193C}, {0x1193E, 0x1193E}, {0x11943, 0x11943}, {0x119D4, 0x119D7},
    {0x119DA, 0x119DB}, {0x119E0, 0x119E0}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38}, {0x11A3B, 0x11A3E},
    {0x11A47, 0x11A47}, {0x11A51, 0x11A56}, {0x11A59, 0x11A5B}, {0x11A8A, 0x11A96}, {0x11A98, 0x11A99},
    {0x11C30, 0x11C36}, {0x11C38, 0x11C3D}, {0x11C3F, 0x11C3F}, {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0},
    {0x11CB2, 0x11CB3}, {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D},
    {0x11D3F, 0x11D45}, {0x11D47, 0x11D47}, {0x11D90, 0x11D91}, {0x11D95, 0x11D95}, {0x11D97, 0x11D97},
    {0x11EF3, 0x11EF4}, {0x16AF0, 0x16AF4}, {0x16B30, 0x16B36}, {0x16F4F, 0x16F4F}, {0x16F8F, 0x16F92},
    {0x16FE4, 0x16FE4}, {0x1BC9D, 0x1BC9E}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46}, {0x1D167, 0x1D169},
    {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B}, {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244}, {0x1DA00, 0x1DA36},
    {0x1DA3B, 0x1DA6C}, {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84}, {0x1DA9B, 0x1DA9F}, {0x1DAA1, 0x1DAAF},
    {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024}, {0x1E026, 0x1E02A},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E8D0, 0x1E8D6}, {0x1E944, 0x1E94A},
    {0xE0100, 0xE01EF},
};
static const uint32_t control_ranges[][2] = {
    {0x0000, 0x001F}, {0x007F, 0x009F}, {0x00AD, 0x00AD}, {0x0600, 0x0605}, {0x061C, 0x061C},
    {0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x0890, 0x0891}, {0x08E2, 0x08E2}, {0x180E, 0x180E},
    {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x2066, 0x206F}, {0xE000, 0xF8FF},
    {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x13438},
    {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD},
    {0x100000, 0x10FFFD},
};
static const uint16_t strip_one[][2] = {
    {0xC0, 0x41}, {0xC1, 0x41}, {0xC2, 0x41}, {0xC3, 0x41}, {0xC4, 0x41}, {0xC5, 0x41},
    {0xC7, 0x43}, {0xC8, 0x45}, {0xC9, 0x45}, {0xCA, 0x45}, {0xCB, 0x45}, {0xCC, 0x49},
    {0xCD, 0x49}, {0xCE, 0x49}, {0xCF, 0x49}, {0xD1, 0x4E}, {0xD2, 0x4F}, {0xD3, 0x4F},
    {0xD4, 0x4F}, {0xD5, 0x4F}, {0xD6, 0x4F}, {0xD9, 0x55}, {0xDA, 0x55}, {0xDB, 0x55},
    {0xDC, 0x55}, {0xDD, 0x59}, {0xE0, 0x61}, {0xE1, 0x61}, {0xE2, 0x61}, {0xE3, 0x61},
    {0xE4, 0x61}, {0xE5, 0x61}, {0xE7, 0x63}, {0xE8, 0x65}, {0xE9, 0x65}, {0xEA, 0x65},
    {0xEB, 0x65}, {0xEC, 0x69}, {0xED, 0x69}, {0xEE, 0x69}, {0xEF, 0x69}, {0xF1, 0x6E},
    {0xF2, 0x6F}, {0xF3, 0x6F}, {0xF4, 0x6F}, {0xF5, 0x6F}, {0xF6, 0x6F}, {0xF9, 0x75},
    {0xFA, 0x75}, {0xFB, 0x75}, {0xFC, 0x75}, {0xFD, 0x79}, {0xFF, 0x79}, {0x100, 0x41},
    {0x101, 0x61}, {0x102, 0x41}, {0x103, 0x61}, {0x104, 0x41}, {0x105, 0x61}, {0x106, 0x43},
    {0x107, 0x63}, {0x108, 0x43}, {0x109, 0x63}, {0x10A, 0x43}, {0x10B, 0x63}, {0x10C, 0x43},
    {0x10D, 0x63}, {0x10E, 0x44}, {0x10F, 0x64}, {0x112, 0x45}, {0x113, 0x65}, {0x114, 0x45},
    {0x115, 0x65}, {0x116, 0x45}, {0x117, 0x65}, {0x118, 0x45}, {0x119, 0x65}, {0x11A, 0x45},
    {0x11B, 0x65}, {0x11C, 0x47}, {0x11D, 0x67}, {0x11E, 0x47}, {0x11F, 0x67}, {0x120, 0x47},
    {0x121, 0x67}, {0x122, 0x47}, {0x123, 0x67}, {0x124, 0x48}, {0x125, 0x68}, {0x128, 0x49},
    {0x129, 0x69}, {0x12A, 0x49}, {0x12B, 0x69}, {0x12C, 0x49}, {0x12D, 0x69}, {0x12E, 0x49},
    {0x12F, 0x69}, {0x130, 0x49}, {0x134, 0x4A}, {0x135, 0x6A}, {0x136, 0x4B}, {0x137, 0x6B},
    {0x139, 0x4C}, {0x13A, 0x6C}, {0x13B, 0x4C}, {0x13C, 0x6C}, {0x13D, 0x4C}, {0x13E, 0x6C},
    {0x143, 0x4E}, {0x144, 0x6E}, {0x145, 0x4E}, {0x146, 0x6E}, {0x147, 0x4E}, {0x148, 0x6E},
    {0x14C, 0x4F}, {0x14D, 0x6F}, {0x14E, 0x4F}, {0x14F, 0x6F}, {0x150, 0x4F}, {0x151, 0x6F},
    {0x154, 0x52}, {0x155, 0x72}, {0x156, 0x52}, {0x157, 0x72}, {0x158, 0x52}, {0x159, 0x72},
    {0x15A, 0x53}, {0x15B, 0x73}, {0x15C, 0x53}, {0x15D, 0x73}, {0x15E, 0x53}, {0x15F, 0x73},
    {0x160, 0x53}, {0x161, 0x73}, {0x162, 0x54}, {0x163, 0x74}, {0x164, 0x54}, {0x165, 0x74},
    {0x168, 0x55}, {0x169, 0x75}, {0x16A, 0x55}, {0x16B, 0x75}, {0x16C, 0x55}, {0x16D, 0x75},
    {0x16E, 0x55}, {0x16F, 0x75}, {0x170, 0x55}, {0x171, 0x75}, {0x172, 0x55}, {0x173, 0x75},
    {0x174, 0x57}, {0x175, 0x77}, {0x176, 0x59}, {0x177, 0x79}, {0x178, 0x59}, {0x179, 0x5A},
    {0x17A, 0x7A}, {0x17B, 0x5A}, {0x17C, 0x7A}, {0x17D, 0x5A}, {0x17E, 0x7A}, {0x1A0, 0x4F},
    {0x1A1, 0x6F}, {0x1AF, 0x55}, {0x1B0, 0x75}, {0x1CD, 0x41}, {0x1CE, 0x61}, {0x1CF, 0x49},
    {0x1D0, 0x69}, {0x1D1, 0x4F}, {0x1D2, 0x6F}, {0x1D3, 0x55}, {0x1D4, 0x75}, {0x1D5, 0x55},
    {0x1D6, 0x75}, {0x1D7, 0x55}, {0x1D8, 0x75}, {0x1D9, 0x55}, {0x1DA, 0x75}, {0x1DB, 0x55},
    {0x1DC, 0x75}, {0x1DE, 0x41}, {0x1DF, 0x61}, {0x1E0, 0x41}, {0x1E1, 0x61}, {0x1E2, 0xC6},
    {0x1E3, 0xE6}, {0x1E6, 0x47}, {0x1E7, 0x67}, {0x1E8, 0x4B}, {0x1E9, 0x6B}, {0x1EA, 0x4F},
    {0x1EB, 0x6F}, {0x1EC, 0x4F}, {0x1ED, 0x6F}, {0x1EE, 0x1B7}, {0x1EF, 0x292}, {0x1F0, 0x6A},
    {0x1F4, 0x47}, {0x1F5, 0x67}, {0x1F8, 0x4E}, {0x1F9, 0x6E}, {0x1FA, 0x41}, {0x1FB, 0x61},
    {0x1FC, 0xC6}, {0x1FD, 0xE6}, {0x1FE, 0xD8}, {0x1FF, 0xF8}, {0x200, 0x41}, {0x201, 0x61},
    {0x202, 0x41}, {0x203, 0x61}, {0x204, 0x45}, {0x205, 0x65}, {0x206, 0x45}, {0x207, 0x65},
    {0x208, 0x49}, {0x209, 0x69}, {0x20A, 0x49}, {0x20B, 0x69}, {0x20C, 0x4F}, {0x20D, 0x6F},
    {0x20E, 0x4F}, {0x20F, 0x6F}, {0x210, 0x52}, {0x211, 0x72}, {0x212, 0x52}, {0x213, 0x72},
    {0x214, 0x55}, {0x215, 0x75}, {0x216, 0x55}, {0x217, 0x75}, {0x218, 0x53}, {0x219, 0x73},
    {0x21A, 0x54}, {0x21B, 0x74}, {0x21E, 0x48}, {0x21F, 0x68}, {0x226, 0x41}, {0x227, 0x61},
    {0x228, 0x45}, {0x229, 0x65}, {0x22A, 0x4F}, {0x22B, 0x6F}, {0x22C, 0x4F}, {0x22D, 0x6F},
    {0x22E, 0x4F}, {0x22F, 0x6F}, {0x230, 0x4F}, {0x231, 0x6F}, {0x232, 0x59}, {0x233, 0x79},
    {0x374, 0x2B9}, {0x37E, 0x3B}, {0x385, 0xA8}, {0x386, 0x391}, {0x387, 0xB7}, {0x388, 0x395},
    {0x389, 0x397}, {0x38A, 0x399}, {0x38C, 0x39F}, {0x38E, 0x3A5}, {0x38F, 0x3A9}, {0x390, 0x3B9},
    {0x3AA, 0x399}, {0x3AB, 0x3A5}, {0x3AC, 0x3B1}, {0x3AD, 0x3B5}, {0x3AE, 0x3B7}, {0x3AF, 0x3B9},
    {0x3B0, 0x3C5}, {0x3CA, 0x3B9}, {0x3CB, 0x3C5}, {0x3CC, 0x3BF}, {0x3CD, 0x3C5}, {0x3CE, 0x3C9},
    {0x3D3, 0x3D2}, {0x3D4, 0x3D2}, {0x400, 0x415}, {0x401, 0x415}, {0x403, 0x413}, {0x407, 0x406},
    {0x40C, 0x41A}, {0x40D, 0x418}, {0x40E, 0x423}, {0x419, 0x418}, {0x439, 0x438}, {0x450, 0x435},
    {0x451, 0x435}, {0x453, 0x433}, {0x457, 0x456}, {0x45C, 0x43A}, {0x45D, 0x438}, {0x45E, 0x443},
    {0x476, 0x474}, {0x477, 0x475}, {0x4C1, 0x416}, {0x4C2, 0x436}, {0x4D0, 0x410}, {0x4D1, 0x430},
    {0x4D2, 0x410}, {0x4D3, 0x430}, {0x4D6, 0x415}, {0x4D7, 0x435}, {0x4DA, 0x4D8}, {0x4DB, 0x4D9},
    {0x4DC, 0x416}, {0x4DD, 0x436}, {0x4DE, 0x417}, {0x4DF, 0x437}, {0x4E2, 0x418}, {0x4E3, 0x438},
    {0x4E4, 0x418}, {0x4E5, 0x438}, {0x4E6, 0x41E}, {0x4E7, 0x43E}, {0x4EA, 0x4E8}, {0x4EB, 0x4E9},
    {0x4EC, 0x42D}, {0x4ED, 0x44D}, {0x4EE, 0x423}, {0x4EF, 0x443}, {0x4F0, 0x423}, {0x4F1, 0x443},
    {0x4F2, 0x423}, {0x4F3, 0x443}, {0x4F4, 0x427}, {0x4F5, 0x447}, {0x4F8, 0x42B}, {0x4F9, 0x44B},
    {0x622, 0x627}, {0x623, 0x627}, {0x624, 0x648}, {0x625, 0x627}, {0x626, 0x64A}, {0x6C0, 0x6D5},
    {0x6C2, 0x6C1}, {0x6D3, 0x6D2}, {0x929, 0x928}, {0x931, 0x930}, {0x934, 0x933}, {0x958, 0x915},
    {0x959, 0x916}, {0x95A, 0x917}, {0x95B, 0x91C}, {0x95C, 0x921}, {0x95D, 0x922}, {0x95E, 0x92B},
    {0x95F, 0x92F}, {0x9DC, 0x9A1}, {0x9DD, 0x9A2}, {0x9DF, 0x9AF}, {0xA33, 0xA32}, {0xA36, 0xA38},
    {0xA59, 0xA16}, {0xA5A, 0xA17}, {0xA5B, 0xA1C}, {0xA5E, 0xA2B}, {0xB48, 0xB47}, {0xB5C, 0xB21},
    {0xB5D, 0xB22}, {0xCC0, 0xCD5}, {0xCC7, 0xCD5}, {0xCC8, 0xCD6}, {0xCCA, 0xCC2}, {0xDDA, 0xDD9},
    {0xF43, 0xF42}, {0xF4D, 0xF4C}, {0xF52, 0xF51}, {0xF57, 0xF56}, {0xF5C, 0xF5B}, {0xF69, 0xF40},
    {0x1026, 0x1025}, {0x1B3B, 0x1B35}, {0x1B3D, 0x1B35}, {0x1B43, 0x1B35}, {0x1E00, 0x41}, {0x1E01, 0x61},
    {0x1E02, 0x42}, {0x1E03, 0x62}, {0x1E04, 0x42}, {0x1E05, 0x62}, {0x1E06, 0x42}, {0x1E07, 0x62},
    {0x1E08, 0x43}, {0x1E09, 0x63}, {0x1E0A, 0x44}, {0x1E0B, 0x64}, {0x1E0C, 0x44}, {0x1E0D, 0x64},
    {0x1E0E, 0x44}, {0x1E0F, 0x64}, {0x1E10, 0x44}, {0x1E11, 0x64}, {0x1E12, 0x44}, {0x1E13, 0x64},
    {0x1E14, 0x45}, {0x1E15, 0x65}, {0x1E16, 0x45}, {0x1E17, 0x65}, {0x1E18, 0x45}, {0x1E19, 0x65},
    {0x1E1A, 0x45}, {0x1E1B, 0x65}, {0x1E1C, 0x45}, {0x1E1D, 0x65}, {0x1E1E, 0x46}, {0x1E1F, 0x66},
    {0x1E20, 0x47}, {0x1E21, 0x67}, {0x1E22, 0x48}, {0x1E23, 0x68}, {0x1E24, 0x48}, {0x1E25, 0x68},
    {0x1E26, 0x48}, {0x1E27, 0x68}, {0x1E28, 0x48}, {0x1E29, 0x68}, {0x1E2A, 0x48}, {0x1E2B, 0x68},
    {0x1E2C, 0x49}, {0x1E2D, 0x69}, {0x1E2E, 0x49}, {0x1E2F, 0x69}, {0x1E30, 0x4B}, {0x1E31, 0x6B},
    {0x1E32, 0x4B}, {0x1E33, 0x6B}, {0x1E34, 0x4B}, {0x1E35, 0x6B}, {0x1E36, 0x4C}, {0x1E37, 0x6C},
    {0x1E38, 0x4C}, {0x1E39, 0x6C}, {0x1E3A, 0x4C}, {0x1E3B, 0x6C}, {0x1E3C, 0x4C}, {0x1E3D, 0x6C},
    {0x1E3E, 0x4D}, {0x1E3F, 0x6D}, {0x1E40, 0x4D}, {0x1E41, 0x6D}, {0x1E42, 0x4D}, {0x1E43, 0x6D},
    {0x1E44, 0x4E}, {0x1E45, 0x6E}, {0x1E46, 0x4E}, {0x1E47, 0x6E}, {0x1E48, 0x4E}, {0x1E49, 0x6E},
    {0x1E4A, 0x4E}, {0x1E4B, 0x6E}, {0x1E4C, 0x4F}, {0x1E4D, 0x6F}, {0x1E4E, 0x4F}, {0x1E4F, 0x6F},
    {0x1E50, 0x4F}, {0x1E51, 0x6F}, {0x1E52, 0x4F}, {0x1E53, 0x6F}, {0x1E54, 0x50}, {0x1E55, 0x70},
    {0x1E56, 0x50}, {0x1E57, 0x70}, {0x1E58, 0x52}, {0x1E59, 0x72}, {0x1E5A, 0x52}, {0x1E5B, 0x72},
    {0x1E5C, 0x52}, {0x1E5D, 0x72}, {0x1E5E, 0x52}, {0x1E5F, 0x72}, {0x1E60, 0x53}, {0x1E61, 0x73},
    {0x1E62, 0x53}, {0x1E63, 0x73}, {0x1E64, 0x53}, {0x1E65, 0x73}, {0x1E66, 0x53}, {0x1E67, 0x73},
    {0x1E68, 0x53}, {0x1E69, 0x73}, {0x1E6A, 0x54}, {0x1E6B, 0x74}, {0x1E6C, 0x54}, {0x1E6D, 0x74},
    {0x1E6E, 0x54}, {0x1E6F, 0x74}, {0x1E70, 0x54}, {0x1E71, 0x74}, {0x1E72, 0x55}, {0x1E73, 0x75},
    {0x1E74, 0x55}, {0x1E75, 0x75}, {0x1E76, 0x55}, {0x1E77, 0x75}, {0x1E78, 0x55}, {0x1E79, 0x75},
    {0x1E7A, 0x55}, {0x1E7B, 0x75}, {0x1E7C, 0x56}, {0x1E7D, 0x76}, {0x1E7E, 0x56}, {0x1E7F, 0x76},
    {0x1E80, 0x57}, {0x1E81, 0x77}, {0x1E82, 0x57}, {0x1E83, 0x77}, {0x1E84, 0x57}, {0x1E85, 0x77},
    {0x1E86, 0x57}, {0x1E87, 0x77}, {0x1E88, 0x57}, {0x1E89, 0x77}, {0x1E8A, 0x58}, {0x1E8B, 0x78},
    {0x1E8C, 0x58}, {0x1E8D, 0x78}, {0x1E8E, 0x59}, {0x1E8F, 0x79}, {0x1E90, 0x5A}, {0x1E91, 0x7A},
    {0x1E92, 0x5A}, {0x1E93, 0x7A}, {0x1E94, 0x5A}, {0x1E95, 0x7A}, {0x1E96, 0x68}, {0x1E97, 0x74},
    {0x1E98, 0x77}, {0x1E99, 0x79}, {0x1E9B, 0x17F}, {0x1EA0, 0x41}, {0x1EA1, 0x61}, {0x1EA2, 0x41},
    {0x1EA3, 0x61}, {0x1EA4, 0x41}, {0x1EA5, 0x61}, {0x1EA6, 0x41}, {0x1EA7, 0x61}, {0x1EA8, 0x41},
    {0x1EA9, 0x61}, {0x1EAA, 0x41}, {0x1EAB, 0x61}, {0x1EAC, 0x41}, {0x1EAD, 0x61}, {0x1EAE, 0x41},
    {0x1EAF, 0x61}, {0x1EB0, 0x41}, {0x1EB1, 0x61}, {0x1EB2, 0x41}, {0x1EB3, 0x61}, {0x1EB4, 0x41},
    {0x1EB5, 0x61}, {0x1EB6, 0x41}, {0x1EB7, 0x61}, {0x1EB8, 0x45}, {0x1EB9, 0x65}, {0x1EBA, 0x45},
    {0x1EBB, 0x65}, {0x1EBC, 0x45}, {0x1EBD, 0x65}, {0x1EBE, 0x45}, {0x1EBF, 0x65}, {0x1EC0, 0x45},
    {0x1EC1, 0x65}, {0x1EC2, 0x45}, {0x1EC3, 0x65}, {0x1EC4, 0x45}, {0x1EC5, 0x65}, {0x1EC6, 0x45},
    {0x1EC7, 0x65}, {0x1EC8, 0x49}, {0x1EC9, 0x69}, {0x1ECA, 0x49}, {0x1ECB, 0x69}, {0x1ECC, 0x4F},
    {0x1ECD, 0x6F}, {0x1ECE, 0x4F}, {0x1ECF, 0x6F}, {0x1ED0, 0x4F}, {0x1ED1, 0x6F}, {0x1ED2, 0x4F},
    {0x1ED3, 0x6F}, {0x1ED4, 0x4F}, {0x1ED5, 0x6F}, {0x1ED6, 0x4F}, {0x1ED7, 0x6F}, {0x1ED8, 0x4F},
    {0x1ED9, 0x6F}, {0x1EDA, 0x4F}, {0x1EDB, 0x6F}, {0x1EDC, 0x4F}, {0x1EDD, 0x6F}, {0x1EDE, 0x4F},
    {0x1EDF, 0x6F}, {0x1EE0, 0x4F}, {0x1EE1, 0x6F}, {0x1EE2, 0x4F}, {0x1EE3, 0x6F}, {0x1EE4, 0x55},
    {0x1EE5, 0x75}, {0x1EE6, 0x55}, {0x1EE7, 0x75}, {0x1EE8, 0x55}, {0x1EE9, 0x75}, {0x1EEA, 0x55},
    {0x1EEB, 0x75}, {0x1EEC, 0x55}, {0x1EED, 0x75}, {0x1EEE, 0x55}, {0x1EEF, 0x75}, {0x1EF0, 0x55},
    {0x1EF1, 0x75}, {0x1EF2, 0x59}, {0x1EF3, 0x79}, {0x1EF4, 0x59}, {0x1EF5, 0x79}, {0x1EF6, 0x59},
    {0x1EF7, 0x79}, {0x1EF8, 0x59}, {0x1EF9, 0x79}, {0x1F00, 0x3B1}, {0x1F01, 0x3B1}, {0x1F02, 0x3B1},
    {0x1F03, 0x3B1}, {0x1F04, 0x3B1}, {0x1F05, 0x3B1}, {0x1F06, 0x3B1}, {0x1F07, 0x3B1}, {0x1F08, 0x391},
    {0x1F09, 0x391}, {0x1F0A, 0x391}, {0x1F0B, 0x391}, {0x1F0C, 0x391}, {0x1F0D, 0x391}, {0x1F0E, 0x391},
    {0x1F0F, 0x391}, {0x1F10, 0x3B5}, {0x1F11, 0x3B5}, {0x1F12, 0x3B5}, {0x1F13, 0x3B5}, {0x1F14, 0x3B5},
    {0x1F15, 0x3B5}, {0x1F18, 0x395}, {0x1F19, 0x395}, {0x1F1A, 0x395}, {0x1F1B, 0x395}, {0x1F1C, 0x395},
    {0x1F1D, 0x395}, {0x1F20, 0x3B7}, {0x1F21, 0x3B7}, {0x1F22, 0x3B7}, {0x1F23, 0x3B7}, {0x1F24, 0x3B7},
    {0x1F25, 0x3B7}, {0x1F26, 0x3B7}, {0x1F27, 0x3B7}, {0x1F28, 0x397}, {0x1F29, 0x397}, {0x1F2A, 0x397},
    {0x1F2B, 0x397}, {0x1F2C, 0x397}, {0x1F2D, 0x397}, {0x1F2E, 0x397}, {0x1F2F, 0x397}, {0x1F30, 0x3B9},
    {0x1F31, 0x3B9}, {0x1F32, 0x3B9}, {0x1F33, 0x3B9}, {0x1F34, 0x3B9}, {0x1F35, 0x3B9}, {0x1F36, 0x3B9},
    {0x1F37, 0x3B9}, {0x1F38, 0x399}, {0x1F39, 0x399}, {0x1F3A, 0x399}, {0x1F3B, 0x399}, {0x1F3C, 0x399},
    {0x1F3D, 0x399}, {0x1F3E, 0x399}, {0x1F3F, 0x399}, {0x1F40, 0x3BF}, {0x1F41, 0x3BF}, {0x1F42, 0x3BF},
    {0x1F43, 0x3BF}, {0x1F44, 0x3BF}, {0x1F45, 0x3BF}, {0x1F48, 0x39F}, {0x1F49, 0x39F}, {0x1F4A, 0x39F},
    {0x1F4B, 0x39F}, {0x1F4C, 0x39F}, {0x1F4D, 0x39F}, {0x1F50, 0x3C5}, {0x1F51, 0x3C5}, {0x1F52, 0x3C5},
    {0x1F53, 0x3C5}, {0x1F54, 0x3C5}, {0x1F55, 0x3C5}, {0x1F56, 0x3C5}, {0x1F57, 0x3C5}, {0x1F59, 0x3A5},
    {0x1F5B, 0x3A5}, {0x1F5D, 0x3A5}, {0x1F5F, 0x3A5}, {0x1F60, 0x3C9}, {0x1F61, 0x3C9}, {0x1F62, 0x3C9},
    {0x1F63, 0x3C9}, {0x1F64, 0x3C9}, {0x1F65, 0x3C9}, {0x1F66, 0x3C9}, {0x1F67, 0x3C9}, {0x1F68, 0x3A9},
    {0x1F69, 0x3A9}, {0x1F6A, 0x3A9}, {0x1F6B, 0x3A9}, {0x1F6C, 0x3A9}, {0x1F6D, 0x3A9}, {0x1F6E, 0x3A9},
    {0x1F6F, 0x3A9}, {0x1F70, 0x3B1}, {0x1F71, 0x3B1}, {0x1F72, 0x3B5}, {0x1F73, 0x3B5}, {0x1F74, 0x3B7},
    {0x1F75, 0x3B7}, {0x1F76, 0x3B9}, {0x1F77, 0x3B9}, {0x1F78, 0x3BF}, {0x1F79, 0x3BF}, {0x1F7A, 0x3C5},
    {0x1F7B, 0x3C5}, {0x1F7C, 0x3C9}, {0x1F7D, 0x3C9}, {0x1F80, 0x3B1}, {0x1F81, 0x3B1}, {0x1F82, 0x3B1},
    {0x1F83, 0x3B1}, {0x1F84, 0x3B1}, {0x1F85, 0x3B1}, {0x1F86, 0x3B1}, {0x1F87, 0x3B1}, {0x1F88, 0x391},
    {0x1F89, 0x391}, {0x1F8A, 0x391}, {0x1F8B, 0x391}, {0x1F8C, 0x391}, {0x1F8D, 0x391}, {0x1F8E, 0x391},
    {0x1F8F, 0x391}, {0x1F90, 0x3B7}, {0x1F91, 0x3B7}, {0x1F92, 0x3B7}, {0x1F93, 0x3B7}, {0x1F94, 0x3B7},
    {0x1F95, 0x3B7}, {0x1F96, 0x3B7}, {0x1F97, 0x3B7}, {0x1F98, 0x397}, {0x1F99, 0x397}, {0x1F9A, 0x397},
    {0x1F9B, 0x397}, {0x1F9C, 0x397}, {0x1F9D, 0x397}, {0x1F9E, 0x397}, {0x1F9F, 0x397}, {0x1FA0, 0x3C9},
    {0x1FA1, 0x3C9}, {0x1FA2, 0x3C9}, {0x1FA3, 0x3C9}, {0x1FA4, 0x3C9}, {0x1FA5, 0x3C9}, {0x1FA6, 0x3C9},
    {0x1FA7, 0x3C9}, {0x1FA8, 0x3A9}, {0x1FA9, 0x3A9}, {0x1FAA, 0x3A9}, {0x1FAB, 0x3A9}, {0x1FAC, 0x3A9},
    {0x1FAD, 0x3A9}, {0x1FAE, 0x3A9}, {0x1FAF, 0x3A9}, {0x1FB0, 0x3B1}, {0x1FB1, 0x3B1}, {0x1FB2, 0x3B1},
    {0x1FB3, 0x3B1}, {0x1FB4, 0x3B1}, {0x1FB6, 0x3B1}, {0x1FB7, 0x3B1}, {0x1FB8, 0x391}, {0x1FB9, 0x391},
    {0x1FBA, 0x391}, {0x1FBB, 0x391}, {0x1FBC, 0x391}, {0x1FBE, 0x3B9}, {0x1FC1, 0xA8}, {0x1FC2, 0x3B7},
    {0x1FC3, 0x3B7}, {0x1FC4, 0x3B7}, {0x1FC6, 0x3B7}, {0x1FC7, 0x3B7}, {0x1FC8, 0x395}, {0x1FC9, 0x395},
    {0x1FCA, 0x397}, {0x1FCB, 0x397}, {0x1FCC, 0x397}, {0x1FCD, 0x1FBF}, {0x1FCE, 0x1FBF}, {0x1FCF, 0x1FBF},
    {0x1FD0, 0x3B9}, {0x1FD1, 0x3B9}, {0x1FD2, 0x3B9}, {0x1FD3, 0x3B9}, {0x1FD6, 0x3B9}, {0x1FD7, 0x3B9},
    {0x1FD8, 0x399}, {0x1FD9, 0x399}, {0x1FDA, 0x399}, {0x1FDB, 0x399}, {0x1FDD, 0x1FFE}, {0x1FDE, 0x1FFE},
    {0x1FDF, 0x1FFE}, {0x1FE0, 0x3C5}, {0x1FE1, 0x3C5}, {0x1FE2, 0x3C5}, {0x1FE3, 0x3C5}, {0x1FE4, 0x3C1},
    {0x1FE5, 0x3C1}, {0x1FE6, 0x3C5}, {0x1FE7, 0x3C5}, {0x1FE8, 0x3A5}, {0x1FE9, 0x3A5}, {0x1FEA, 0x3A5},
    {0x1FEB, 0x3A5}, {0x1FEC, 0x3A1}, {0x1FED, 0xA8}, {0x1FEE, 0xA8}, {0x1FEF, 0x60}, {0x1FF2, 0x3C9},
    {0x1FF3, 0x3C9}, {0x1FF4, 0x3C9}, {0x1FF6, 0x3C9}, {0x1FF7, 0x3C9}, {0x1FF8, 0x39F}, {0x1FF9, 0x39F},
    {0x1FFA, 0x3A9}, {0x1FFB, 0x3A9}, {0x1FFC, 0x3A9}, {0x1FFD, 0xB4}, {0x2000, 0x2002}, {0x2001, 0x2003},
    {0x2126, 0x3A9}, {0x212A, 0x4B}, {0x212B, 0x41}, {0x219A, 0x2190}, {0x219B, 0x2192}, {0x21AE, 0x2194},
    {0x21CD, 0x21D0}, {0x21CE, 0x21D4}, {0x21CF, 0x21D2}, {0x2204, 0x2203}, {0x2209, 0x2208}, {0x220C, 0x220B},
    {0x2224, 0x2223}, {0x2226, 0x2225}, {0x2241, 0x223C}, {0x2244, 0x2243}, {0x2247, 0x2245}, {0x2249, 0x2248},
    {0x2260, 0x3D}, {0x2262, 0x2261}, {0x226D, 0x224D}, {0x226E, 0x3C}, {0x226F, 0x3E}, {0x2270, 0x2264},
    {0x2271, 0x2265}, {0x2274, 0x2272}, {0x2275, 0x2273}, {0x2278, 0x2276}, {0x2279, 0x2277}, {0x2280, 0x227A},
    {0x2281, 0x227B}, {0x2284, 0x2282}, {0x2285, 0x2283}, {0x2288, 0x2286}, {0x2289, 0x2287}, {0x22AC, 0x22A2},
    {0x22AD, 0x22A8}, {0x22AE, 0x22A9}, {0x22AF, 0x22AB}, {0x22E0, 0x227C}, {0x22E1, 0x227D}, {0x22E2, 0x2291},
    {0x22E3, 0x2292}, {0x22EA, 0x22B2}, {0x22EB, 0x22B3}, {0x22EC, 0x22B4}, {0x22ED, 0x22B5}, {0x2329, 0x3008},
    {0x232A, 0x3009}, {0x2ADC, 0x2ADD}, {0x304C, 0x304B}, {0x304E, 0x304D}, {0x3050, 0x304F}, {0x3052, 0x3051},
    {0x3054, 0x3053}, {0x3056, 0x3055}, {0x3058, 0x3057}, {0x305A, 0x3059}, {0x305C, 0x305B}, {0x305E, 0x305D},
    {0x3060, 0x305F}, {0x3062, 0x3061}, {0x3065, 0x3064}, {0x3067, 0x3066}, {0x3069, 0x3068}, {0x3070, 0x306F},
    {0x3071, 0x306F}, {0x3073, 0x3072}, {0x3074, 0x3072}, {0x3076, 0x3075}, {0x3077, 0x3075}, {0x3079, 0x3078},
    {0x307A, 0x3078}, {0x307C, 0x307B}, {0x307D, 0x307B}, {0x3094, 0x3046}, {0x309E, 0x309D}, {0x30AC, 0x30AB},
    {0x30AE, 0x30AD}, {0x30B0, 0x30AF}, {0x30B2, 0x30B1}, {0x30B4, 0x30B3}, {0x30B6, 0x30B5}, {0x30B8, 0x30B7},
    {0x30BA, 0x30B9}, {0x30BC, 0x30BB}, {0x30BE, 0x30BD}, {0x30C0, 0x30BF}, {0x30C2, 0x30C1}, {0x30C5, 0x30C4},
    {0x30C7, 0x30C6}, {0x30C9, 0x30C8}, {0x30D0, 0x30CF}, {0x30D1, 0x30CF}, {0x30D3, 0x30D2}, {0x30D4, 0x30D2},
    {0x30D6, 0x30D5}, {0x30D7, 0x30D5}, {0x30D9, 0x30D8}, {0x30DA, 0x30D8}, {0x30DC, 0x30DB}, {0x30DD, 0x30DB},
    {0x30F4, 0x30A6}, {0x30F7, 0x30EF}, {0x30F8, 0x30F0}, {0x30F9, 0x30F1}, {0x30FA, 0x30F2}, {0x30FE, 0x30FD},
    {0xFB1D, 0x5D9}, {0xFB1F, 0x5F2}, {0xFB2A, 0x5E9}, {0xFB2B, 0x5E9}, {0xFB2C, 0x5E9}, {0xFB2D, 0x5E9},
    {0xFB2E, 0x5D0}, {0xFB2F, 0x5D0}, {0xFB30, 0x5D0}, {0xFB31, 0x5D1}, {0xFB32, 0x5D2}, {0xFB33, 0x5D3},
    {0xFB34, 0x5D4}, {0xFB35, 0x5D5}, {0xFB36, 0x5D6}, {0xFB38, 0x5D8}, {0xFB39, 0x5D9}, {0xFB3A, 0x5DA},
    {0xFB3B, 0x5DB}, {0xFB3C, 0x5DC}, {0xFB3E, 0x5DE}, {0xFB40, 0x5E0}, {0xFB41, 0x5E1}, {0xFB43, 0x5E3},
    {0xFB44, 0x5E4}, {0xFB46, 0x5E6}, {0xFB47, 0x5E7}, {0xFB48, 0x5E8}, {0xFB49, 0x5E9}, {0xFB4A, 0x5EA},
    {0xFB4B, 0x5D5}, {0xFB4C, 0x5D1}, {0xFB4D, 0x5DB}, {0xFB4E, 0x5E4},
};
static const uint16_t strip_two[][3] = {
    {0x9CB, 0x9C7, 0x9BE}, {0x9CC, 0x9C7, 0x9D7}, {0xB4B, 0xB47, 0xB3E}, {0xB4C, 0xB47, 0xB57},
    {0xB94, 0xB92, 0xBD7}, {0xBCA, 0xBC6, 0xBBE}, {0xBCB, 0xBC7, 0xBBE}, {0xBCC, 0xBC6, 0xBD7},
    {0xCCB, 0xCC2, 0xCD5}, {0xD4A, 0xD46, 0xD3E}, {0xD4B, 0xD47, 0xD3E}, {0xD4C, 0xD46, 0xD57},
    {0xDDC, 0xDD9, 0xDCF}, {0xDDD, 0xDD9, 0xDCF}, {0xDDE, 0xDD9, 0xDDF}, {0x1B06, 0x1B05, 0x1B35},
    {0x1B08, 0x1B07, 0x1B35}, {0x1B0A, 0x1B09, 0x1B35}, {0x1B0C, 0x1B0B, 0x1B35}, {0x1B0E, 0x1B0D, 0x1B35},
    {0x1B12, 0x1B11, 0x1B35}, {0x1B40, 0x1B3E, 0x1B35}, {0x1B41, 0x1B3F, 0x1B35},
};

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0])
            hi = mid;
        else if (c > r[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}
#define IN_RANGES(table, c) in_ranges(table, sizeof table / sizeof table[0], c)

static int in_punct_table(uint32_t c) { return IN_RANGES(punct_ranges, c); }

static int is_zs(uint32_t c) {
    return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static int is_bert_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    if (c < 0x80) return c < 0x20 || c == 0x7F;
    return IN_RANGES(control_ranges, c);
}

/* BERT's _is_chinese_char: the CJK Unified Ideographs blocks and extensions
 * A-E, and the compatibility ideographs; not kana or hangul. */
static int is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* unicodedata.normalize("NFD", c) without its Mn marks, into out; returns the
 * number of code points (0 for a mark itself). Hangul syllables decompose
 * arithmetically (Unicode 14.0 §3.12) into 2 or 3 jamo. */
static int strip_accents(uint32_t c, uint32_t out[3]) {
    out[0] = c;
    if (c < 0xC0) return 1;
    if (c >= 0xAC00 && c <= 0xD7A3) {
        uint32_t s = c - 0xAC00;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + s % 588 / 28;
        out[2] = 0x11A7 + s % 28;
        return s % 28 ? 3 : 2;
    }
    if (IN_RANGES(mark_ranges, c)) return 0;
    if (c > 0xFFFF) return 1;
    size_t lo = 0, hi = sizeof strip_one / sizeof strip_one[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c == strip_one[mid][0]) return out[0] = strip_one[mid][1], 1;
        if (c < strip_one[mid][0])
            hi = mid;
        else
            lo = mid + 1;
    }
    for (size_t i = 0; i < sizeof strip_two / sizeof strip_two[0]; i++) {
        if (c == strip_two[i][0]) {
            out[0] = strip_two[i][1];
            out[1] = strip_two[i][2];
            return 2;
        }
    }
    return 1;
}

/* The generator (python3 gen.py > tables.inc):
 * import unicodedata as u
 * def cat(c): return u.category(chr(c))
 * def ranges(pred):
 *     r, s = [], None
 *     for c in range(0x110000):
 *         if pred(c):
 *             if s is None: s = c
 *         elif s is not None: r.append((s, c - 1)); s = None
 *     return r
 * def emit(typ, name, rows, per, fmt):
 *     print("static const %s %s[][%d] = {" % (typ, name, len(rows[0])))
 *     for i in range(0, len(rows), per):
 *         print("    " + " ".join(fmt % r for r in rows[i:i + per]))
 *     print("};")
 * emit("uint32_t", "punct_ranges", ranges(lambda c: cat(c).startswith("P")), 5, "{0x%04X, 0x%04X},")
 * emit("uint32_t", "mark_ranges", ranges(lambda c: cat(c) == "Mn"), 5, "{0x%04X, 0x%04X},")
 * emit("uint32_t", "control_ranges", ranges(lambda c: cat(c) in ("Cc", "Cf", "Co")), 5, "{0x%04X, 0x%04X},")
 * one, two = [], []
 * for c in range(0xC0, 0x10000):  # Hangul is done arithmetically; CJK compatibility left out
 *     if 0xAC00 <= c <= 0xD7A3 or 0xF900 <= c <= 0xFAFF or 0xD800 <= c <= 0xDFFF or cat(c) == "Mn":
 *         continue
 *     s = [ord(x) for x in u.normalize("NFD", chr(c)) if u.category(x) != "Mn"]
 *     if s != [c]:
 *         (one if len(s) == 1 else two).append(tuple([c] + s))
 * emit("uint16_t", "strip_one", one, 6, "{0x%X, 0x%X},")
 * emit("uint16_t", "strip_two", two, 4, "{0x%X, 0x%X, 0x%X},")
 */
