/* test_tokenizer.c: the four tokenizers against hand-computed ids, the real
 * BERT vocabulary (ids looked up with grep -n -x in the file) and BERT's own
 * tokenization_test.py case, plus metadata round trips and the streaming
 * decoder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tokenizer.h"
#include "util.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A failed precondition: count it and leave the test function. */
#define GIVE_UP(...)           \
    do {                       \
        CHECK(0, __VA_ARGS__); \
        return;                \
    } while (0)

/* The real bert-base-uncased vocabulary from the shared data directory beside
 * the repository (../shared, as CI has it; $RNN_SHARED), or $RNN_BERT_VOCAB. */
static const char *bert_vocab_path(void) {
    const char *path = getenv("RNN_BERT_VOCAB");
    return path && *path ? path : harness_data("wordpiece/bert-base-uncased-vocab.txt");
}
static const char *bert_vocab_spec(void) {
    static char spec[4096];
    snprintf(spec, sizeof spec, "wordpiece:%s", bert_vocab_path());
    return spec;
}

static rnn_tokenizer *build(const rnn_tok_options *o, const char *text) {
    rnn_tokenizer *t = rnn_tokenizer_build(o, text, text ? strlen(text) : 0);
    if (!t) fprintf(stderr, "  build failed: %s\n", rnn_last_error());
    return t;
}

/* Encodes text; NULL (and a printed error) on failure. */
static int32_t *enc(const rnn_tokenizer *t, const char *text, size_t *n, size_t *n_unk) {
    int32_t *ids = NULL;
    if (rnn_tokenizer_encode(t, text, strlen(text), &ids, n, n_unk)) {
        fprintf(stderr, "  encode failed: %s\n", rnn_last_error());
        return NULL;
    }
    return ids;
}

/* Whether text encodes to exactly the ids want (printing what it got if not). */
static int encodes_to(const rnn_tokenizer *t, const char *text, const int32_t *want, size_t nwant) {
    size_t n;
    int32_t *ids = enc(t, text, &n, NULL);
    if (!ids) return 0;
    int ok = n == nwant && memcmp(ids, want, n * sizeof *ids) == 0;
    if (!ok) {
        fprintf(stderr, "  \"%s\" gave %zu ids:", text, n);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

/* Whether text encodes to the token strings want. */
static int tokens_are(const rnn_tokenizer *t, const char *text, const char *const *want,
                      size_t nwant) {
    size_t n;
    int32_t *ids = enc(t, text, &n, NULL);
    if (!ids) return 0;
    int ok = n == nwant;
    for (size_t i = 0; ok && i < n; i++) ok = strcmp(rnn_tokenizer_token(t, ids[i]), want[i]) == 0;
    if (!ok) {
        fprintf(stderr, "  \"%s\" gave %zu tokens:", text, n);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " [%s]", rnn_tokenizer_token(t, ids[i]));
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

/* The concatenation of the streaming decoder's pieces over ids, with its
 * length in *len. */
static char *pieces(const rnn_tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t cap = rnn_tokenizer_max_piece(t) + 1, total = 0;
    char *out = malloc((n + 1) * (cap - 1) + 1), *buf = malloc(cap);
    if (!out || !buf) abort();
    rnn_detok d;
    rnn_detok_init(&d, -1, 0);
    for (size_t i = 0; i <= n; i++) {
        size_t w = i < n ? rnn_detok_put(t, &d, ids[i], buf, cap) : rnn_detok_end(t, &d, buf, cap);
        memcpy(out + total, buf, w);
        total += w;
    }
    out[total] = 0;
    free(buf);
    *len = total;
    return out;
}

/* Code points counted independently of the tokenizer: non-continuation bytes. */
static size_t count_code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int err_has(const char *needle) {
    int ok = strstr(rnn_last_error(), needle) != NULL;
    if (!ok) fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", rnn_last_error(), needle);
    return ok;
}

/* ---------------------------------------------------------------------- */

static void test_parse_type(void) {
    rnn_tok_options o;
    CHECK(rnn_tok_parse_type("char", &o) == 0 && o.type == RNN_TOK_CHAR && !o.lowercase, "char");
    CHECK(rnn_tok_parse_type("byte", &o) == 0 && o.type == RNN_TOK_BYTE, "byte");
    CHECK(rnn_tok_parse_type("word", &o) == 0 && o.type == RNN_TOK_WORD && o.lowercase &&
              o.split_punct && o.keep_newlines && !o.strip_html && o.min_count == 1 &&
              o.max_vocab == 0,
          "word defaults");
    CHECK(rnn_tok_parse_type("wordpiece:v.txt", &o) == 0 && o.type == RNN_TOK_WORDPIECE &&
              strcmp(o.vocab_file, "v.txt") == 0 && o.lowercase,
          "wordpiece:PATH");
    o.type = RNN_TOK_BYTE;
    CHECK(rnn_tok_parse_type("wordpiece", &o) == -1 && err_has("vocabulary file") &&
              o.type == RNN_TOK_BYTE,
          "wordpiece without a path fails, options unchanged");
    CHECK(rnn_tok_parse_type("wordpiece:", &o) == -1, "wordpiece: with an empty path fails");
    CHECK(rnn_tok_parse_type("bpe", &o) == -1 && err_has("unknown tokenizer \"bpe\""), "bpe");
    CHECK(strcmp(rnn_tok_type_name(RNN_TOK_WORDPIECE), "wordpiece") == 0, "type name");
}

static void test_char_round_trip(void) {
    /* accents (precomposed and combining), CJK, emoji with a skin-tone modifier */
    const char *text = "Café naïve e\xCC\x81 — 日本語の本 🙂👍🏽!\n";
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    rnn_tokenizer *t = build(&o, text);
    if (!t) GIVE_UP("build");
    size_t n, n_unk;
    int32_t *ids = enc(t, text, &n, &n_unk);
    if (!ids) GIVE_UP("encode");
    CHECK(n == count_code_points(text) && n == 27, "one id per code point: %zu", n);
    CHECK(n_unk == 0, "no unk in the training text");
    char *back = rnn_tokenizer_decode(t, ids, n);
    CHECK(back && strcmp(back, text) == 0, "decode(encode(x)) == x");
    size_t plen;
    char *streamed = pieces(t, ids, n, &plen);
    CHECK(back && strcmp(streamed, back) == 0 && plen == strlen(text), "piece() == decode()");
    /* vocab: specials, then distinct code points in code point order */
    CHECK(rnn_tokenizer_pad_id(t) == 0 && rnn_tokenizer_unk_id(t) == 1, "specials 0, 1");
    const char *filler = NULL;
    CHECK(rnn_tokenizer_filler_id(t, &filler) == 1 && filler && !strcmp(filler, "<unk>"), "char filler: <unk>");
    CHECK(strcmp(rnn_tokenizer_token(t, 0), "<pad>") == 0 &&
              strcmp(rnn_tokenizer_token(t, 1), "<unk>") == 0,
          "special names");
    CHECK(rnn_tokenizer_vocab_size(t) == 2 + 20, "20 distinct code points: %d",
          rnn_tokenizer_vocab_size(t));
    CHECK(strcmp(rnn_tokenizer_token(t, 2), "\n") == 0 && strcmp(rnn_tokenizer_token(t, 3), " ") == 0,
          "lowest code points first");
    CHECK(strcmp(rnn_tokenizer_token(t, 21), "\xF0\x9F\x99\x82") == 0, "U+1F642 is last");
    int sorted = 1;
    for (int i = 3; i < rnn_tokenizer_vocab_size(t); i++)
        sorted &= strcmp(rnn_tokenizer_token(t, i - 1), rnn_tokenizer_token(t, i)) < 0;
    CHECK(sorted, "sorted by code point");
    int emoji = rnn_tokenizer_find(t, "🙂");
    CHECK(emoji == 21 && ids[22] == emoji, "the emoji is one token: %d", emoji);
    CHECK(rnn_tokenizer_find(t, "e\xCC\x81") == -1 && rnn_tokenizer_find(t, "\xCC\x81") > 1,
          "a combining accent is its own token");
    free(back);
    free(streamed);
    free(ids);
    rnn_tokenizer_free(t);

    /* hand-computed: "abca" → <pad> <unk> a b c; unseen characters → <unk> */
    t = build(&o, "abca");
    if (!t) GIVE_UP("build abca");
    CHECK(encodes_to(t, "abca", (const int32_t[]){2, 3, 4, 2}, 4), "abca ids");
    ids = enc(t, "aXé", &n, &n_unk);
    CHECK(ids && n == 3 && ids[0] == 2 && ids[1] == 1 && ids[2] == 1 && n_unk == 2, "unseen → unk");
    back = ids ? rnn_tokenizer_decode(t, ids, n) : NULL;
    CHECK(back && strcmp(back, "a\xEF\xBF\xBD\xEF\xBF\xBD") == 0, "<unk> decodes to U+FFFD");
    free(back);
    free(ids);
    rnn_tokenizer_free(t);

    /* min_count and max_vocab: counts a 3, b 2, c 1; max_vocab 4 keeps a, b */
    o.max_vocab = 4;
    t = build(&o, "cabbaa");
    CHECK(t && rnn_tokenizer_vocab_size(t) == 4 && rnn_tokenizer_find(t, "c") == -1 &&
              rnn_tokenizer_find(t, "a") == 2 && rnn_tokenizer_find(t, "b") == 3,
          "max_vocab keeps the most frequent, then code point order");
    rnn_tokenizer_free(t);
    o.max_vocab = 0;
    o.min_count = 2;
    t = build(&o, "cbbaaa");
    CHECK(t && rnn_tokenizer_vocab_size(t) == 4 && rnn_tokenizer_find(t, "c") == -1, "min_count 2");
    rnn_tokenizer_free(t);
    o.min_count = 1;
    o.lowercase = 1;
    t = build(&o, "AÉΣ");
    CHECK(t && rnn_tokenizer_vocab_size(t) == 5 && rnn_tokenizer_find(t, "é") >= 2 &&
              rnn_tokenizer_find(t, "σ") >= 2,
          "char lowercase");
    rnn_tokenizer_free(t);
}

static void test_empty_training_text(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    CHECK(rnn_tokenizer_build(&o, "", 0) == NULL && err_has("no tokens in training text"),
          "char, empty");
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    CHECK(rnn_tokenizer_build(&o, " \t  ", 4) == NULL && err_has("no tokens in training text"),
          "word, only spaces");
    o.max_vocab = 2;
    CHECK(rnn_tokenizer_build(&o, "a b", 3) == NULL && err_has("max_vocab"), "max_vocab 2 rejected");
    o.max_vocab = 0;
    o.min_count = 0;
    CHECK(rnn_tokenizer_build(&o, "a b", 3) == NULL && err_has("min_count"), "min_count 0 rejected");
}

/* rnn_tokenizer_check_same: equal tokenizers pass, and the first difference
 * is named (type, an encoding flag, the size, a token). */
static void test_check_same(void) {
    rnn_tok_options c, w, wl;
    rnn_tok_options_default(&c, RNN_TOK_CHAR);
    rnn_tok_options_default(&w, RNN_TOK_WORD);
    wl = w;
    wl.lowercase = !w.lowercase;
    rnn_tokenizer *ab = build(&c, "abab"), *ab2 = build(&c, "baba"), *ac = build(&c, "acca"),
                  *abc = build(&c, "abc"), *word = build(&w, "x y"), *word2 = build(&wl, "x y");
    if (!ab || !ab2 || !ac || !abc || !word || !word2) {
        CHECK(0, "build");
    } else {
        CHECK(rnn_tokenizer_check_same(ab, ab2) == 0, "the same characters seen in another order: the same ids");
        CHECK(rnn_tokenizer_check_same(ab, ac) == -1 && err_has("against \"c\"") && err_has("\"b\""),
              "another character at the same id is named: %s", rnn_last_error());
        CHECK(rnn_tokenizer_check_same(abc, ab) == -1 && err_has("tokens against"), "sizes: %s", rnn_last_error());
        CHECK(rnn_tokenizer_check_same(ab, word) == -1 && err_has("type char against word"), "types: %s",
              rnn_last_error());
        CHECK(rnn_tokenizer_check_same(word, word2) == -1 && err_has("lowercase"), "an option: %s", rnn_last_error());
        CHECK(rnn_tokenizer_check_same(word2, word2) == 0, "a tokenizer is the same as itself");
    }
    rnn_tokenizer *all[] = {ab, ab2, ac, abc, word, word2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) rnn_tokenizer_free(all[i]);
}

static void test_byte_round_trip(void) {
    unsigned char text[256 + 6];
    for (int i = 0; i < 256; i++) text[i] = (unsigned char)(255 - i);
    memcpy(text + 256, "\xC3(\xED\xA0\x80\xF8", 6); /* invalid UTF-8 */
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_BYTE);
    rnn_tokenizer *t = rnn_tokenizer_build(&o, NULL, 0);
    if (!t) GIVE_UP("build: %s", rnn_last_error());
    CHECK(rnn_tokenizer_vocab_size(t) == 256 && rnn_tokenizer_unk_id(t) == -1 &&
              rnn_tokenizer_pad_id(t) == -1,
          "256 ids, no specials");
    const char *filler = NULL;
    CHECK(rnn_tokenizer_filler_id(t, &filler) == ' ' && filler && !strcmp(filler, "space"), "byte filler: the space");
    int32_t *ids;
    size_t n, n_unk;
    CHECK(rnn_tokenizer_encode(t, (const char *)text, sizeof text, &ids, &n, &n_unk) == 0, "encode");
    int same = n == sizeof text;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == text[i];
    CHECK(same && n_unk == 0, "id = byte value");
    char *back = rnn_tokenizer_decode(t, ids, n);
    CHECK(back && memcmp(back, text, sizeof text) == 0, "decode gives the bytes back");
    size_t plen;
    char *streamed = pieces(t, ids, n, &plen);
    CHECK(plen == sizeof text && memcmp(streamed, text, plen) == 0, "piece() gives every byte");
    char buf[4];
    rnn_detok d;
    rnn_detok_init(&d, -1, 0);
    CHECK(rnn_detok_put(t, &d, 0, buf, sizeof buf) == 1 && buf[0] == 0, "byte 0 piece");
    CHECK(strcmp(rnn_tokenizer_token(t, 'A'), "A") == 0 && strcmp(rnn_tokenizer_token(t, 0), "<0x00>") == 0 &&
              strcmp(rnn_tokenizer_token(t, 0xFF), "<0xFF>") == 0 &&
              rnn_tokenizer_find(t, "<0x80>") == 0x80 && rnn_tokenizer_find(t, "\n") == 10,
          "byte spellings");
    free(back);
    free(streamed);
    free(ids);
    rnn_tokenizer_free(t);
}

static void test_invalid_utf8(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    const char bad[] = "ab\ncd\nx\xC3(";
    CHECK(rnn_tokenizer_build(&o, bad, sizeof bad - 1) == NULL &&
              strcmp(rnn_last_error(), "input has invalid UTF-8 at byte offset 7 (line 3)") == 0,
          "build: %s", rnn_last_error());
    rnn_tokenizer *t = build(&o, "abc");
    if (!t) GIVE_UP("build");
    static const char *const cases[] = {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ab\xE2\x82",
                                        "\x80", "\xFF"};
    static const size_t at[] = {0, 0, 0, 2, 0, 0};
    for (size_t i = 0; i < LEN(cases); i++) {
        int32_t *ids = (int32_t *)&o; /* sentinel: must stay untouched */
        size_t n = 77;
        char want[64];
        snprintf(want, sizeof want, "invalid UTF-8 at byte offset %zu", at[i]);
        CHECK(rnn_tokenizer_encode(t, cases[i], strlen(cases[i]), &ids, &n, NULL) == -1 &&
                  err_has(want) && !strstr(rnn_last_error(), "line") && ids == (int32_t *)&o && n == 77,
              "case %zu rejected, outputs unchanged, no line named in a one-line text: %s", i, rnn_last_error());
    }
    CHECK(rnn_tokenizer_encode(t, "\x80\nab", 4, &(int32_t *){NULL}, &(size_t){0}, NULL) == -1 &&
              err_has("invalid UTF-8 at byte offset 0 (line 1)"),
          "line 1 of a longer text is named: %s", rnn_last_error());
    CHECK(rnn_tokenizer_encode(t, "a\nb\0c", 5, &(int32_t *){NULL}, &(size_t){0}, NULL) == -1 &&
              err_has("NUL byte at byte offset 3 (line 2)"),
          "NUL");
    rnn_tokenizer_free(t);

    rnn_tok_options_default(&o, RNN_TOK_WORD);
    t = build(&o, "hello world");
    int32_t *ids;
    size_t n;
    CHECK(t && rnn_tokenizer_encode(t, "hello\nworld \xFE", 13, &ids, &n, NULL) == -1 &&
              err_has("byte offset 12 (line 2)"),
          "word encode");
    rnn_tokenizer_free(t);
}

static void test_replace_mode(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    o.invalid_utf8_replace = 1;
    const char text[] = "a\xFF" "b\xE2\x82";
    rnn_tokenizer *t = rnn_tokenizer_build(&o, text, sizeof text - 1);
    if (!t) GIVE_UP("build: %s", rnn_last_error());
    int fffd = rnn_tokenizer_find(t, "\xEF\xBF\xBD");
    CHECK(fffd >= 2 && rnn_tokenizer_vocab_size(t) == 5, "U+FFFD is in the vocab");
    int32_t *ids;
    size_t n;
    CHECK(rnn_tokenizer_encode(t, text, sizeof text - 1, &ids, &n, NULL) == 0 && n == 5 &&
              ids[1] == fffd && ids[3] == fffd && ids[4] == fffd,
          "each bad byte is one U+FFFD (truncated E2 82 gives two)");
    char *back = rnn_tokenizer_decode(t, ids, n);
    CHECK(back && strcmp(back, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD") == 0, "decoded");
    free(back);
    free(ids);
    rnn_tokenizer_free(t);

    rnn_tok_options_default(&o, RNN_TOK_WORD);
    o.invalid_utf8_replace = 1;
    t = build(&o, "caf\xE9 ok");
    CHECK(t && rnn_tokenizer_find(t, "caf\xEF\xBF\xBD") == 2 && rnn_tokenizer_find(t, "ok") == 3,
          "word with U+FFFD");
    rnn_tokenizer_free(t);
}

static void test_word_vocab(void) {
    /* counts: the 3, \n 3, cat 2, mat 1, on 1, sat 1; ties bytewise ("\n" < "the") */
    const char *text = "the cat sat\non the mat\nthe cat\n";
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    rnn_tokenizer *t = build(&o, text);
    if (!t) GIVE_UP("build");
    static const char *const vocab[] = {"<pad>", "<unk>", "\n", "the", "cat", "mat", "on", "sat"};
    int ok = rnn_tokenizer_vocab_size(t) == (int)LEN(vocab);
    for (size_t i = 0; ok && i < LEN(vocab); i++) ok = strcmp(rnn_tokenizer_token(t, (int)i), vocab[i]) == 0;
    CHECK(ok, "vocab by count, then bytes");
    static const int32_t want[] = {3, 4, 7, 2, 6, 3, 5, 2, 3, 4, 2};
    CHECK(encodes_to(t, text, want, LEN(want)), "hand-computed ids");
    char *back = rnn_tokenizer_decode(t, want, LEN(want));
    CHECK(back && strcmp(back, text) == 0, "decode restores spaces and newlines: [%s]", back);
    free(back);
    /* unseen words → <unk>, counted; literal "<unk>"/"<pad>" words are unk too */
    size_t n, n_unk;
    int32_t *ids = enc(t, "the dog sat on a\n", &n, &n_unk);
    CHECK(ids && n == 6 && ids[1] == 1 && ids[4] == 1 && ids[5] == 2 && n_unk == 2,
          "unseen → unk, n_unk 2");
    free(ids);
    o.split_punct = 0;
    rnn_tokenizer *u = build(&o, "a b");
    ids = u ? enc(u, "<pad> <unk> a", &n, &n_unk) : NULL;
    CHECK(ids && n == 3 && ids[0] == 1 && ids[1] == 1 && ids[2] == 2 && n_unk == 2,
          "text never encodes to <pad>");
    free(ids);
    rnn_tokenizer_free(u);
    rnn_tokenizer_free(t);

    rnn_tok_options_default(&o, RNN_TOK_WORD);
    o.min_count = 2;
    t = build(&o, text);
    CHECK(t && rnn_tokenizer_vocab_size(t) == 5 && rnn_tokenizer_find(t, "cat") == 4 &&
              rnn_tokenizer_find(t, "sat") == -1,
          "min_count 2");
    CHECK(t && encodes_to(t, "the cat sat", (const int32_t[]){3, 4, 1}, 3), "min_count 2 ids");
    rnn_tokenizer_free(t);
    o.min_count = 1;
    o.max_vocab = 4; /* includes the two specials */
    t = build(&o, text);
    CHECK(t && rnn_tokenizer_vocab_size(t) == 4 && rnn_tokenizer_find(t, "the") == 3 &&
              rnn_tokenizer_find(t, "cat") == -1,
          "max_vocab 4");
    rnn_tokenizer_free(t);
}

static void test_word_options(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    const char *text = "ÉCOLE Straße ΣΟΦΙΑ Ünïcödé ÅNGSTRÖM İ";
    rnn_tokenizer *t = build(&o, text);
    static const char *const lower[] = {"école", "straße", "σοφια", "ünïcödé", "ångström", "i"};
    CHECK(t && tokens_are(t, text, lower, LEN(lower)), "lowercase is Unicode-aware");
    rnn_tokenizer_free(t);
    o.lowercase = 0;
    t = build(&o, text);
    CHECK(t && rnn_tokenizer_find(t, "ÉCOLE") >= 2 && rnn_tokenizer_find(t, "école") == -1,
          "lowercase off");
    rnn_tokenizer_free(t);

    /* strip_html */
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    o.split_punct = 0;
    o.strip_html = 1;
    t = build(&o, "a<br />b<p>c</P> <!-- x --> d");
    static const char *const stripped[] = {"a", "b", "c", "d"};
    CHECK(t && tokens_are(t, "a<br />b<p>c</P> <!-- x --> d", stripped, 4), "tags become spaces");
    rnn_tokenizer_free(t);
    o.split_punct = 1;
    t = build(&o, "x<2 and y>1 a<b");
    static const char *const not_tags[] = {"x", "<", "2", "and", "y", ">", "1", "a", "<", "b"};
    CHECK(t && tokens_are(t, "x<2 and y>1 a<b", not_tags, LEN(not_tags)),
          "'<' not followed by a letter, or never closed, is text");
    /* a NUL byte ends no tag: it is refused where it is, as outside a tag
     * (a text read up to its first NUL must not pass for a whole one) */
    CHECK(t && rnn_tokenizer_refused_at(t, "x <b\0> y", 8) == 4 && rnn_tokenizer_refused_at(t, "x <b\xff> y", 8) == 8,
          "strip_html: a NUL inside a tag is refused, an invalid byte there is not read");
    int32_t *nul_ids = NULL;
    size_t nul_n = 0;
    CHECK(t && rnn_tokenizer_encode(t, "x <b\0> y", 8, &nul_ids, &nul_n, NULL) == -1 &&
              strstr(rnn_last_error(), "a NUL byte at byte offset 4"),
          "strip_html: encoding a NUL inside a tag fails: %s", rnn_last_error());
    free(nul_ids);
    rnn_tokenizer_free(t);
    o.split_punct = 0;
    o.strip_html = 0;
    t = build(&o, "a<br />b");
    static const char *const kept[] = {"a<br", "/>b"};
    CHECK(t && tokens_are(t, "a<br />b", kept, 2), "strip_html off keeps tags");
    rnn_tokenizer_free(t);
    /* char: each tag becomes one space; '<' that opens no tag stays */
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    o.strip_html = 1;
    t = build(&o, "Hi<br /><br />x<2 </B>.");
    static const char *const chars[] = {"H", "i", " ", " ", "x", "<", "2", " ", " ", "."};
    CHECK(t && tokens_are(t, "Hi<br /><br />x<2 </B>.", chars, LEN(chars)), "char strip_html: tags become spaces");
    CHECK(t && rnn_tokenizer_find(t, "b") == -1 && rnn_tokenizer_find(t, "/") == -1,
          "char strip_html: no character of a tag in the vocabulary");
    rnn_tokenizer_free(t);

    /* split_punct: ASCII and Unicode punctuation */
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    const char *p = "Hello, world! «Quoted» — dash… (x) it's $5 ¿qué?";
    t = build(&o, p);
    static const char *const split[] = {"hello", ",", "world", "!", "«", "quoted", "»", "—", "dash",
                                        "…", "(", "x", ")", "it", "'", "s", "$", "5", "¿", "qué", "?"};
    CHECK(t && tokens_are(t, p, split, LEN(split)), "split_punct");
    rnn_tokenizer_free(t);
    o.split_punct = 0;
    t = build(&o, p);
    static const char *const joined[] = {"hello,", "world!", "«quoted»", "—", "dash…", "(x)",
                                         "it's", "$5", "¿qué?"};
    CHECK(t && tokens_are(t, p, joined, LEN(joined)), "split_punct off");
    rnn_tokenizer_free(t);

    /* keep_newlines; "\r\n" is one newline; Unicode spaces separate words */
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    const char *nl = "a\nb\r\n\nc\xC2\xA0" "d\xE3\x80\x80" "e";
    t = build(&o, nl);
    static const char *const with_nl[] = {"a", "\n", "b", "\n", "\n", "c", "d", "e"};
    CHECK(t && tokens_are(t, nl, with_nl, LEN(with_nl)), "keep_newlines");
    int32_t *ids;
    size_t n;
    char *back = NULL;
    if (t && (ids = enc(t, nl, &n, NULL))) {
        back = rnn_tokenizer_decode(t, ids, n);
        free(ids);
    }
    CHECK(back && strcmp(back, "a\nb\n\nc d e") == 0, "decode: [%s]", back ? back : "");
    free(back);
    rnn_tokenizer_free(t);
    o.keep_newlines = 0;
    t = build(&o, nl);
    static const char *const without_nl[] = {"a", "b", "c", "d", "e"};
    CHECK(t && tokens_are(t, nl, without_nl, LEN(without_nl)), "keep_newlines off");
    rnn_tokenizer_free(t);
}

/* A WordPiece vocabulary file of the given lines, in /tmp; path filled in. */
static int write_vocab(char *path, const char *const *lines, size_t n) {
    strcpy(path, "/tmp/rnn_test_vocab_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) return -1;
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    return fclose(f);
}

/* The ids no text encodes to, which sampling never draws: wordpiece's
 * specials and its other bracketed entries ([unused0]: "[" is a word of its
 * own), and <pad>; not [UNK], <unk>, words, or "[" and "]" alone. */
static void test_producible(void) {
    static const char *const lines[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "a", "##b", "[", "]"};
    char path[64];
    if (write_vocab(path, lines, LEN(lines))) GIVE_UP("write vocab");
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORDPIECE);
    o.vocab_file = path;
    rnn_tokenizer *t = build(&o, NULL);
    unlink(path);
    if (!t) GIVE_UP("build");
    const int want[10] = {0, 1, 0, 0, 0, 0, 1, 1, 1, 1};
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= rnn_tokenizer_producible(t, i) == want[i];
    CHECK(ok && !rnn_tokenizer_producible(t, 10) && !rnn_tokenizer_producible(t, -1),
          "wordpiece: specials and [unused0] are not producible; [UNK], words, [ and ] are");
    /* what encoding makes of the bracketed names agrees */
    size_t n;
    int32_t *ids = enc(t, "[CLS] [unused0] a", &n, NULL);
    int all = ids != NULL;
    for (size_t i = 0; ids && i < n; i++) all &= rnn_tokenizer_producible(t, ids[i]);
    CHECK(all && n > 3, "encoding '[CLS] [unused0] a' yields producible ids only (%zu ids)", ids ? n : 0);
    free(ids);
    rnn_tokenizer_free(t);
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    if (!(t = build(&o, "ab"))) GIVE_UP("build char");
    CHECK(!rnn_tokenizer_producible(t, rnn_tokenizer_pad_id(t)) && rnn_tokenizer_producible(t, rnn_tokenizer_unk_id(t)) &&
              rnn_tokenizer_producible(t, rnn_tokenizer_find(t, "a")),
          "char: <pad> is not producible; <unk> and 'a' are");
    rnn_tokenizer_free(t);
}

static void test_wordpiece_small(void) {
    /* BERT's tokenization_test.py test_full_tokenizer, plus ##aff ##able */
    static const char *const lines[] = {"[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un",
                                        "runn", "##ing", ",", "##aff", "##able"};
    char path[64];
    if (write_vocab(path, lines, LEN(lines))) GIVE_UP("write vocab");
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORDPIECE);
    o.vocab_file = path;
    rnn_tokenizer *t = build(&o, NULL);
    if (!t) {
        unlink(path);
        GIVE_UP("build");
    }
    CHECK(encodes_to(t, "UNwant\xC3\xA9" "d,running", (const int32_t[]){7, 4, 5, 10, 8, 9}, 6),
          "BERT's test: un ##want ##ed , runn ##ing");
    CHECK(encodes_to(t, "unaffable", (const int32_t[]){7, 11, 12}, 3), "un ##aff ##able");
    size_t n, n_unk;
    int32_t *ids = enc(t, "unwantedx running wa", &n, &n_unk);
    CHECK(ids && n == 4 && ids[0] == 0 && ids[1] == 8 && ids[2] == 9 && ids[3] == 6 && n_unk == 1,
          "a word WordPiece cannot finish is one [UNK]");
    free(ids);
    CHECK(rnn_tokenizer_pad_id(t) == -1 && rnn_tokenizer_unk_id(t) == 0, "no [PAD]: pad_id -1");
    const char *filler = NULL;
    CHECK(rnn_tokenizer_filler_id(t, &filler) == 0 && filler && !strcmp(filler, "[UNK]"), "wordpiece filler: [UNK]");
    char *back = rnn_tokenizer_decode(t, (const int32_t[]){1, 7, 4, 5, 10, 8, 9, 0, 2}, 9);
    CHECK(back && strcmp(back, "unwanted, running [UNK]") == 0, "decode: [%s]", back ? back : "");
    free(back);
    CHECK(encodes_to(t, "wa\nrunning", (const int32_t[]){6, 8, 9}, 3), "a line break is a space by default, as BERT's");
    rnn_tokenizer_free(t);
    /* a language model's: line breaks are a token of their own, one past the file's */
    o.keep_newlines = 1;
    t = build(&o, NULL);
    CHECK(t && rnn_tokenizer_vocab_size(t) == 14 && rnn_tokenizer_find(t, "\n") == 13, "keep_newlines adds \"\\n\" as id 13");
    CHECK(t && encodes_to(t, "wa\r\nrunning\n\nun", (const int32_t[]){6, 13, 8, 9, 13, 13, 7}, 7),
          "wa \\n runn ##ing \\n \\n un (\\r\\n one break)");
    back = t ? rnn_tokenizer_decode(t, (const int32_t[]){6, 13, 8, 9, 10, 13, 13, 7}, 8) : NULL;
    CHECK(back && !strcmp(back, "wa\nrunning,\n\nun"), "decode: no space around a line break: [%s]", back ? back : "");
    free(back);
    cJSON *j = t ? rnn_tokenizer_to_json(t) : NULL;
    rnn_tokenizer *u = j ? rnn_tokenizer_from_json(j) : NULL;
    CHECK(u && rnn_tokenizer_options(u)->keep_newlines && encodes_to(u, "wa\nun", (const int32_t[]){6, 13, 7}, 3),
          "keep_newlines survives the checkpoint's JSON");
    cJSON_Delete(j);
    rnn_tokenizer_free(u);
    rnn_tokenizer_free(t);
    unlink(path);

    /* vocabulary file errors name the line */
    static const char *const dup[] = {"[UNK]", "a", "b", "a"};
    static const char *const no_unk[] = {"a", "b"};
    static const char *const empty_line[] = {"[UNK]", "", "b"};
    struct { const char *const *lines; size_t n; const char *msg; } bad[] = {
        {dup, 4, ":4: duplicate token \"a\" (first on line 2)"},
        {no_unk, 2, "no [UNK] token"},
        {empty_line, 3, ":2: empty line"},
    };
    for (size_t i = 0; i < LEN(bad); i++) {
        if (write_vocab(path, bad[i].lines, bad[i].n)) GIVE_UP("write vocab");
        CHECK(rnn_tokenizer_build(&o, NULL, 0) == NULL && err_has(bad[i].msg), "bad vocab %zu", i);
        unlink(path);
    }
    o.vocab_file = "/nonexistent/vocab.txt";
    CHECK(rnn_tokenizer_build(&o, NULL, 0) == NULL && err_has("/nonexistent/vocab.txt"), "missing file");

    /* what is no vocabulary is refused at its first bad line, not read whole: a NUL byte (/dev/zero
     * would fill memory), a line without end, a directory */
    o.vocab_file = "/dev/zero";
    CHECK(rnn_tokenizer_build(&o, NULL, 0) == NULL && err_has("/dev/zero:1: a NUL byte (not a vocabulary file?)"),
          "/dev/zero: %s", rnn_last_error());
    static const char *const nul[] = {"[UNK]", "a", "b"};
    if (write_vocab(path, nul, 3)) GIVE_UP("write vocab");
    FILE *f = fopen(path, "r+");
    if (f) fseek(f, 8, SEEK_SET), fputc(0, f), fclose(f); /* "[UNK]\na\nb" -> "b" becomes NUL */
    o.vocab_file = path;
    CHECK(rnn_tokenizer_build(&o, NULL, 0) == NULL && err_has(":3: a NUL byte"), "a NUL on line 3: %s", rnn_last_error());
    f = fopen(path, "w");
    if (f) {
        fputs("[UNK]\n", f);
        for (int i = 0; i < 70000; i++) fputc('a', f);
        fclose(f);
    }
    CHECK(rnn_tokenizer_build(&o, NULL, 0) == NULL && err_has(":2: a line of over 65536 bytes"),
          "a line without end: %s", rnn_last_error());
    unlink(path);
    o.vocab_file = "/tmp";
    CHECK(rnn_tokenizer_build(&o, NULL, 0) == NULL && err_has("/tmp: read error: Is a directory"),
          "a directory: %s", rnn_last_error());
}

/* Which endings separate words (sampling after a prime decides its first space by it). */
static void test_ends_in_space(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    rnn_tokenizer *w = build(&o, "a b");
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    rnn_tokenizer *c = build(&o, "a b");
    static const char *const lines[] = {"[UNK]", "a"};
    char path[64];
    if (write_vocab(path, lines, LEN(lines))) GIVE_UP("write vocab");
    rnn_tok_options_default(&o, RNN_TOK_WORDPIECE);
    o.vocab_file = path;
    rnn_tokenizer *wp = build(&o, NULL);
    unlink(path);
    if (!w || !c || !wp) {
        rnn_tokenizer_free(w), rnn_tokenizer_free(c), rnn_tokenizer_free(wp);
        GIVE_UP("build");
    }
    /* text, word's answer, wordpiece's answer */
    struct { const char *s; int word, wp; } cases[] = {
        {"a ", 1, 1}, {"a\n", 1, 1}, {"a\t", 1, 1}, {"a\r", 1, 1},
        {"a\f", 1, 0},              /* form feed: word's whitespace (isspace), a control char to BERT */
        {"a\v", 1, 0},
        {"a\xc2\x85", 1, 0},        /* U+0085 NEL */
        {"a\xc2\xa0", 1, 1},        /* U+00A0 no-break space (Zs) */
        {"a\xe3\x80\x80", 1, 1},    /* U+3000 ideographic space (Zs) */
        {"a\xe2\x80\xa8", 1, 1},    /* U+2028 line separator */
        {"a\xe2\x80\x8b", 1, 0},    /* U+200B zero width space */
        {"a", 0, 0}, {"", 0, 0}, {"\xc3\xa9", 0, 0}, {"a\xf0\x9f\x98\x80", 0, 0},
        {"a \xe3\x80", 0, 0},        /* cut short: invalid */
        {" \x80\x80\x80\x80", 0, 0}, /* continuation bytes only */
        {"\xa0", 0, 0},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        const size_t n = strlen(cases[i].s);
        CHECK(rnn_tokenizer_ends_in_space(w, cases[i].s, n) == cases[i].word, "word: case %zu", i);
        CHECK(rnn_tokenizer_ends_in_space(wp, cases[i].s, n) == cases[i].wp, "wordpiece: case %zu", i);
        CHECK(rnn_tokenizer_ends_in_space(c, cases[i].s, n) == 0, "char: case %zu", i);
    }
    CHECK(rnn_tokenizer_ends_in_space(w, NULL, 0) == 0, "no text");
    rnn_tokenizer_free(w), rnn_tokenizer_free(c), rnn_tokenizer_free(wp);
}

/* Growing a vocabulary for fine-tuning: old ids kept, the new text's
 * missing tokens appended most frequent first, --min-count and --max-vocab
 * obeyed; byte and wordpiece refuse. */
static void test_grow(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    rnn_tokenizer *t = build(&o, "abcab");
    if (!t) GIVE_UP("build");
    const int V = rnn_tokenizer_vocab_size(t); /* <pad> <unk> a b c */
    int added = -1;
    const char *text = "abxyzzyz\xc3\xa9";      /* z 3, y 2, x 1, e-acute 1 */
    rnn_tokenizer *g = rnn_tokenizer_grow(t, text, strlen(text), 1, 0, &added);
    CHECK(g && added == 4 && rnn_tokenizer_vocab_size(g) == V + 4, "char: 4 new tokens (%d)", added);
    if (g) {
        for (int i = 0; i < V; i++)
            CHECK(!strcmp(rnn_tokenizer_token(g, i), rnn_tokenizer_token(t, i)), "old id %d kept", i);
        CHECK(!strcmp(rnn_tokenizer_token(g, V), "z") && !strcmp(rnn_tokenizer_token(g, V + 1), "y") &&
                  !strcmp(rnn_tokenizer_token(g, V + 2), "x") && !strcmp(rnn_tokenizer_token(g, V + 3), "\xc3\xa9"),
              "most frequent first, ties in byte order");
        CHECK(encodes_to(g, "zab\xc3\xa9", (const int32_t[]){V, 2, 3, V + 3}, 4), "the grown tokenizer encodes them");
        CHECK(encodes_to(g, "q", (const int32_t[]){1}, 1), "others are still <unk>");
    }
    rnn_tokenizer_free(g);
    g = rnn_tokenizer_grow(t, text, strlen(text), 2, 0, &added);
    CHECK(g && added == 2, "--min-count 2: z and y (%d)", added);
    rnn_tokenizer_free(g);
    g = rnn_tokenizer_grow(t, text, strlen(text), 1, V + 1, &added);
    CHECK(g && added == 1 && !strcmp(rnn_tokenizer_token(g, V), "z"), "--max-vocab V + 1: z alone (%d)", added);
    rnn_tokenizer_free(g);
    g = rnn_tokenizer_grow(t, "cab", 3, 1, 0, &added);
    CHECK(g && added == 0 && rnn_tokenizer_vocab_size(g) == V, "nothing new: nothing added");
    rnn_tokenizer_free(g);
    rnn_tokenizer_free(t);
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    t = build(&o, "the cat sat");
    if (!t) GIVE_UP("build");
    g = rnn_tokenizer_grow(t, "The dog, the dog", 16, 1, 0, &added);
    CHECK(g && added == 2 && !strcmp(rnn_tokenizer_token(g, rnn_tokenizer_vocab_size(t)), "dog") &&
              !strcmp(rnn_tokenizer_token(g, rnn_tokenizer_vocab_size(t) + 1), ","),
          "word: dog (twice) then \",\" (%d)", added);
    rnn_tokenizer_free(g);
    rnn_tokenizer_free(t);
    o.split_punct = 0;
    t = build(&o, "the cat sat");
    if (!t) GIVE_UP("build");
    g = rnn_tokenizer_grow(t, "<unk> <pad> dog", 15, 1, 0, &added);
    CHECK(g && added == 1, "word: <unk> and <pad> typed in the text are no new tokens (%d)", added);
    rnn_tokenizer_free(g);
    rnn_tokenizer_free(t);
    rnn_tok_options_default(&o, RNN_TOK_BYTE);
    t = build(&o, "x");
    CHECK(t && !rnn_tokenizer_grow(t, "y", 1, 1, 0, &added) && err_has("holds every byte already"), "byte refuses");
    rnn_tokenizer_free(t);
}

static void test_wordpiece_bert(void) {
    rnn_tok_options o;
    if (!harness_have_data(bert_vocab_path())) return;
    if (rnn_tok_parse_type(bert_vocab_spec(), &o)) GIVE_UP("parse");
    rnn_tokenizer *t = build(&o, NULL);
    if (!t) GIVE_UP("BERT vocab (%s; set RNN_BERT_VOCAB)", bert_vocab_spec());
    CHECK(rnn_tokenizer_vocab_size(t) == 30522, "30522 tokens");
    size_t wn = 0;
    char *written = rnn_tokenizer_as_written(t, "ROMEO: Caf\u00e9!", strlen("ROMEO: Caf\u00e9!"), &wn);
    CHECK(written && wn == 12 && !strcmp(written, "romeo: cafe!"), "as written (a --stop): [%s]", written ? written : "");
    free(written);
    CHECK(rnn_tokenizer_pad_id(t) == 0 && rnn_tokenizer_unk_id(t) == 100 &&
              rnn_tokenizer_find(t, "[CLS]") == 101 && rnn_tokenizer_find(t, "[SEP]") == 102 &&
              rnn_tokenizer_find(t, "[MASK]") == 103,
          "specials by name");
    /* greedy longest match: "una" (line 14478) beats "un"; the vocab has no "##aff" */
    CHECK(encodes_to(t, "unaffable", (const int32_t[]){14477, 20961, 3468}, 3), "una ##ffa ##ble");
    CHECK(encodes_to(t, "Héllo, world!", (const int32_t[]){7592, 1010, 2088, 999}, 4),
          "hello , world !");
    /* checked token by token against google-research/bert's tokenization.py */
    const char *s = "The café's crème brûlée costs 5€ — naïve, isn't it? 日本語";
    static const int32_t want[] = {1996, 7668, 1005, 1055, 13675, 21382, 7987, 9307, 2063, 5366, 1019,
                                   30102, 1517, 15743, 1010, 3475, 1005, 1056, 2009, 1029, 1864,
                                   1876, 1950};
    static const char *const want_tok[] = {"the", "cafe", "'", "s", "cr", "##eme", "br", "##ule",
                                           "##e", "costs", "5", "##€", "—", "naive", ",", "isn",
                                           "'", "t", "it", "?", "日", "本", "語"};
    CHECK(encodes_to(t, s, want, LEN(want)) && tokens_are(t, s, want_tok, LEN(want_tok)),
          "hand-checked sentence");
    char *back = rnn_tokenizer_decode(t, want, LEN(want));
    CHECK(back && strcmp(back, "the cafe's creme brulee costs 5€ — naive, isn't it? 日 本 語") == 0,
          "decode glues ## pieces: [%s]", back ? back : "");
    free(back);
    /* control characters vanish, NBSP and tabs split, CJK split from latin */
    CHECK(encodes_to(t, "hel\x01lo\xC2\xA0world\tx日", (const int32_t[]){7592, 2088, 1060, 1864}, 4),
          "clean text + CJK");
    /* 100 code points is a word, 101 is [UNK] */
    char longw[103];
    memset(longw, 'a', 101);
    longw[101] = 0;
    size_t n, n_unk;
    int32_t *ids = enc(t, longw, &n, &n_unk);
    CHECK(ids && n == 1 && ids[0] == 100 && n_unk == 1, "101 chars → [UNK]");
    free(ids);
    longw[100] = 0;
    ids = enc(t, longw, &n, &n_unk);
    CHECK(ids && n >= 1 && ids[0] != 100 && n_unk == 0, "100 chars → pieces (%zu)", n);
    free(ids);
    /* specials are silent when decoding, [UNK] is not */
    back = rnn_tokenizer_decode(t, (const int32_t[]){101, 7592, 100, 102, 0}, 5);
    CHECK(back && strcmp(back, "hello [UNK]") == 0, "[CLS] hello [UNK] [SEP] [PAD]: [%s]",
          back ? back : "");
    free(back);
    rnn_tokenizer_free(t);
}

/* to_json → text → parse → from_json, then the same encodings. */
static void check_json_round_trip(rnn_tokenizer *t, const char *const *texts, size_t ntexts,
                                  const char *what) {
    cJSON *j = rnn_tokenizer_to_json(t);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON *parsed = s ? cJSON_Parse(s) : NULL;
    rnn_tokenizer *u = parsed ? rnn_tokenizer_from_json(parsed) : NULL;
    if (!u) fprintf(stderr, "  %s: %s\n", what, rnn_last_error());
    int ok = u && rnn_tokenizer_vocab_size(u) == rnn_tokenizer_vocab_size(t) &&
             rnn_tokenizer_type(u) == rnn_tokenizer_type(t) &&
             rnn_tokenizer_pad_id(u) == rnn_tokenizer_pad_id(t) &&
             rnn_tokenizer_unk_id(u) == rnn_tokenizer_unk_id(t);
    for (int i = 0; ok && i < rnn_tokenizer_vocab_size(t); i++)
        ok = strcmp(rnn_tokenizer_token(t, i), rnn_tokenizer_token(u, i)) == 0;
    const rnn_tok_options *a = rnn_tokenizer_options(t), *b = u ? rnn_tokenizer_options(u) : NULL;
    ok = ok && a->lowercase == b->lowercase && a->split_punct == b->split_punct &&
         a->strip_html == b->strip_html && a->keep_newlines == b->keep_newlines &&
         a->min_count == b->min_count && a->max_vocab == b->max_vocab &&
         a->invalid_utf8_replace == b->invalid_utf8_replace && b->vocab_file == NULL;
    for (size_t i = 0; ok && i < ntexts; i++) {
        int32_t *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0, ux = 0, uy = 0;
        int rx = rnn_tokenizer_encode(t, texts[i], strlen(texts[i]), &x, &nx, &ux);
        int ry = rnn_tokenizer_encode(u, texts[i], strlen(texts[i]), &y, &ny, &uy);
        ok = rx == 0 && ry == 0 && nx == ny && ux == uy && memcmp(x, y, nx * sizeof *x) == 0;
        free(x);
        free(y);
    }
    CHECK(ok, "%s: JSON round trip", what);
    rnn_tokenizer_free(u);
    cJSON_Delete(parsed);
    free(s);
    cJSON_Delete(j);
}

/* Options a type ignores, set in a file by hand (or by an older rnn.c), are
 * read as off: nothing then reports them, and the tokenizer is the plain one. */
static void test_json_ignored_options(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_BYTE);
    rnn_tokenizer *b = build(&o, NULL);
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    rnn_tokenizer *c = build(&o, "abc");
    if (!b || !c) GIVE_UP("build");
    cJSON *jb = rnn_tokenizer_to_json(b), *jc = rnn_tokenizer_to_json(c);
    cJSON_ReplaceItemInObject(jb, "lowercase", cJSON_CreateTrue());
    cJSON_ReplaceItemInObject(jb, "strip_html", cJSON_CreateTrue());
    cJSON_ReplaceItemInObject(jb, "split_punct", cJSON_CreateTrue());
    cJSON_ReplaceItemInObject(jb, "invalid_utf8", cJSON_CreateString("replace"));
    cJSON_ReplaceItemInObject(jc, "split_punct", cJSON_CreateTrue());
    cJSON_ReplaceItemInObject(jc, "keep_newlines", cJSON_CreateTrue());
    rnn_tokenizer *b2 = rnn_tokenizer_from_json(jb), *c2 = rnn_tokenizer_from_json(jc);
    const rnn_tok_options *ob = b2 ? rnn_tokenizer_options(b2) : NULL, *oc = c2 ? rnn_tokenizer_options(c2) : NULL;
    CHECK(ob && !ob->lowercase && !ob->strip_html && !ob->split_punct && !ob->invalid_utf8_replace &&
              rnn_tokenizer_check_same(b2, b) == 0,
          "a byte tokenizer's lowercase, strip_html, split_punct and replace are read as off");
    CHECK(oc && !oc->split_punct && !oc->keep_newlines && rnn_tokenizer_check_same(c2, c) == 0,
          "a char tokenizer's split_punct and keep_newlines are read as off");
    cJSON_Delete(jb);
    cJSON_Delete(jc);
    rnn_tokenizer *all[] = {b, c, b2, c2};
    for (size_t i = 0; i < 4; i++) rnn_tokenizer_free(all[i]);
}

static void test_json_round_trip(void) {
    static const char *const texts[] = {"Hello, World! <br />Ünïcödé 日本語 🙂\nsecond line",
                                        "the cat sat on the mat", "unaffable café", ""};
    const char *train = "Hello, World! <br />Ünïcödé 日本語 🙂\nthe cat";
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    o.invalid_utf8_replace = 1;
    rnn_tokenizer *t = build(&o, train);
    if (t) check_json_round_trip(t, texts, LEN(texts), "char");
    rnn_tokenizer_free(t);
    rnn_tok_options_default(&o, RNN_TOK_BYTE);
    t = build(&o, NULL);
    if (t) check_json_round_trip(t, texts, LEN(texts), "byte");
    cJSON *j = t ? rnn_tokenizer_to_json(t) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    CHECK(cJSON_GetArraySize(v) == 256 &&
              strcmp(cJSON_GetArrayItem(v, 0x80)->valuestring, "<0x80>") == 0 &&
              strcmp(cJSON_GetArrayItem(v, 'z')->valuestring, "z") == 0,
          "byte vocab spellings in JSON");
    cJSON_Delete(j);
    rnn_tokenizer_free(t);
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    o.strip_html = 1;
    o.lowercase = 0;
    o.max_vocab = 7;
    t = build(&o, train);
    if (t) check_json_round_trip(t, texts, LEN(texts), "word");
    j = t ? rnn_tokenizer_to_json(t) : NULL;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "strip_html"),
                *lc = cJSON_GetObjectItemCaseSensitive(j, "lowercase"),
                *ty = cJSON_GetObjectItemCaseSensitive(j, "type"),
                *pad = cJSON_GetObjectItemCaseSensitive(j, "pad_id");
    CHECK(cJSON_IsTrue(sh) && cJSON_IsFalse(lc) && cJSON_IsString(ty) &&
              strcmp(ty->valuestring, "word") == 0 && cJSON_IsNumber(pad) && pad->valueint == 0,
          "word metadata fields");
    cJSON_Delete(j);
    rnn_tokenizer_free(t);
    if (!harness_have_data(bert_vocab_path())) {
    } else if (rnn_tok_parse_type(bert_vocab_spec(), &o) == 0 && (t = build(&o, NULL))) {
        check_json_round_trip(t, texts, LEN(texts), "wordpiece");
        j = rnn_tokenizer_to_json(t);
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "cls_id");
        CHECK(cJSON_IsNumber(cls) && cls->valueint == 101 &&
                  cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "vocab")) == 30522 &&
                  !cJSON_GetObjectItemCaseSensitive(j, "vocab_file"),
              "wordpiece metadata holds the whole vocab, not the path");
        cJSON_Delete(j);
        rnn_tokenizer_free(t);
    } else {
        CHECK(0, "wordpiece build");
    }
}

/* from_json of this metadata must fail with a message containing msg. */
static void check_bad_json(const char *json, const char *msg) {
    cJSON *j = cJSON_Parse(json);
    if (!j) GIVE_UP("test JSON does not parse: %s", json);
    rnn_tokenizer *t = rnn_tokenizer_from_json(j);
    CHECK(t == NULL && err_has(msg), "rejects %s", json);
    rnn_tokenizer_free(t);
    cJSON_Delete(j);
}

#define WORD_OPTS "\"lowercase\":true,\"split_punct\":true,\"strip_html\":false,\"keep_newlines\":true"

static void test_json_malformed(void) {
    const char *good = "{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\",\"a\",\"b\"],\"pad_id\":0,"
                       "\"unk_id\":1," WORD_OPTS "}";
    cJSON *j = cJSON_Parse(good);
    rnn_tokenizer *t = rnn_tokenizer_from_json(j);
    CHECK(t && rnn_tokenizer_vocab_size(t) == 4 && encodes_to(t, "b a c", (const int32_t[]){3, 2, 1}, 3),
          "the well-formed base case loads");
    rnn_tokenizer_free(t);
    cJSON_Delete(j);
    check_bad_json("[1,2]", "not a JSON object");
    check_bad_json("{\"type\":\"word\",\"pad_id\":0,\"unk_id\":1," WORD_OPTS "}", "missing \"vocab\"");
    check_bad_json("{\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0,\"unk_id\":1}", "missing \"type\"");
    check_bad_json("{\"type\":\"bpe\",\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0,\"unk_id\":1}",
                   "\"type\" must be");
    check_bad_json("{\"type\":3,\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0,\"unk_id\":1}",
                   "\"type\" must be");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\",\"a\",\"b\",\"a\"],\"pad_id\":0,"
                   "\"unk_id\":1," WORD_OPTS "}",
                   "duplicate token \"a\" (vocab[2] and vocab[4])");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\",7],\"pad_id\":0,\"unk_id\":1," WORD_OPTS "}",
                   "vocab[2] is not a string");
    check_bad_json("{\"type\":\"word\",\"vocab\":\"abc\",\"pad_id\":0,\"unk_id\":1," WORD_OPTS "}",
                   "\"vocab\" must be a non-empty array");
    check_bad_json("{\"type\":\"word\",\"vocab\":[],\"pad_id\":0,\"unk_id\":1," WORD_OPTS "}",
                   "\"vocab\" must be a non-empty array");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\",\"\"],\"pad_id\":0,\"unk_id\":1," WORD_OPTS "}",
                   "vocab[2] is empty");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0," WORD_OPTS "}",
                   "missing \"unk_id\"");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":9,\"unk_id\":1," WORD_OPTS "}",
                   "\"pad_id\" must be an integer in [-1, 1]");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\",\"a\"],\"pad_id\":0,\"unk_id\":2," WORD_OPTS "}",
                   "unk_id must name the \"<unk>\" token");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0,\"unk_id\":1,"
                   "\"lowercase\":true,\"split_punct\":true,\"keep_newlines\":true}",
                   "missing \"strip_html\"");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0,\"unk_id\":1,"
                   "\"lowercase\":\"yes\",\"split_punct\":true,\"strip_html\":false,\"keep_newlines\":true}",
                   "\"lowercase\" must be true or false");
    check_bad_json("{\"type\":\"word\",\"vocab\":[\"<pad>\",\"<unk>\"],\"pad_id\":0,\"unk_id\":1,"
                   WORD_OPTS ",\"invalid_utf8\":\"ignore\"}",
                   "\"invalid_utf8\" must be");
    check_bad_json("{\"type\":\"char\",\"vocab\":[\"<pad>\",\"<unk>\",\"ab\"],\"pad_id\":0,\"unk_id\":1,"
                   "\"lowercase\":false}",
                   "char vocab[2] is not a single code point");
    check_bad_json("{\"type\":\"byte\",\"vocab\":[\"a\"],\"pad_id\":-1,\"unk_id\":-1}", "256 tokens");
    check_bad_json("{\"type\":\"wordpiece\",\"vocab\":[\"[PAD]\",\"a\"],\"pad_id\":0,\"unk_id\":1,"
                   "\"lowercase\":true,\"strip_html\":false}",
                   "unk_id must name the \"[UNK]\" token");
    check_bad_json("{\"type\":\"wordpiece\",\"vocab\":[\"[UNK]\",\"[CLS]\"],\"pad_id\":-1,\"unk_id\":0,"
                   "\"cls_id\":0,\"lowercase\":true,\"strip_html\":false}",
                   "\"cls_id\" must name the \"[CLS]\" token");
    /* a token that is not valid UTF-8 */
    j = cJSON_Parse(good);
    cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(j, "vocab"), 3, cJSON_CreateString("\xFF"));
    t = rnn_tokenizer_from_json(j);
    CHECK(t == NULL && err_has("vocab[3] is not valid UTF-8"), "invalid UTF-8 token");
    cJSON_Delete(j);
    CHECK(rnn_tokenizer_from_json(NULL) == NULL, "NULL");
}

/* A key whose name is damaged is refused, not read as its option's default
 * (which would encode text differently, silently); so is one whose name is
 * not UTF-8. Every key the type needs to encode text is required. */
static void test_json_damaged_keys(void) {
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_CHAR);
    o.strip_html = 1;
    rnn_tokenizer *c = build(&o, "<b>a</b> bc");
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    o.lowercase = 0;
    o.keep_newlines = 1;
    o.strip_html = 1;
    o.invalid_utf8_replace = 1;
    o.max_vocab = 9;
    rnn_tokenizer *w = build(&o, "the Cat, sat.\nthe mat");
    rnn_tok_options_default(&o, RNN_TOK_BYTE);
    rnn_tokenizer *b = build(&o, NULL);
    if (!c || !w || !b) GIVE_UP("build");
    rnn_tokenizer *toks[] = {c, w, b};
    /* what each type may not lack: its vocabulary, specials and the options that change its encoding */
    static const char *const required[][9] = {
        {"type", "vocab", "pad_id", "unk_id", "lowercase", NULL},
        {"type", "vocab", "pad_id", "unk_id", "lowercase", "split_punct", "strip_html", "keep_newlines", NULL},
        {"type", "vocab", "pad_id", "unk_id", NULL}};
    for (size_t t = 0; t < LEN(toks); t++) {
        cJSON *j = rnn_tokenizer_to_json(toks[t]);
        if (!j) GIVE_UP("to_json");
        int n = 0, renamed = 0, missing = 0;
        for (const cJSON *k = j->child; k; k = k->next, n++) {
            cJSON *d = cJSON_Duplicate(j, 1);
            cJSON *item = cJSON_GetArrayItem(d, n);
            char name[64], want[96];
            snprintf(name, sizeof name, "%s", item->string);
            name[0] = (char)(name[0] - 'a' + 'A'); /* "Strip_html": every key starts with a letter */
            cJSON_free(item->string);
            item->string = rnn_strdup(name);
            rnn_tokenizer *u = rnn_tokenizer_from_json(d);
            snprintf(want, sizeof want, "unknown key \"%s\" (a damaged file", name);
            renamed += u == NULL && err_has(want);
            rnn_tokenizer_free(u);
            cJSON_DeleteItemFromObjectCaseSensitive(d, name);
            u = rnn_tokenizer_from_json(d);
            int req = 0;
            for (int r = 0; required[t][r]; r++) req |= !strcmp(required[t][r], k->string);
            snprintf(want, sizeof want, "missing \"%s\"", k->string);
            missing += req ? u == NULL && err_has(want) : u != NULL;
            rnn_tokenizer_free(u);
            cJSON_Delete(d);
        }
        CHECK(n >= 9 && renamed == n, "%s: each of its %d keys, its name damaged, is refused (%d were)",
              rnn_tok_type_name(rnn_tokenizer_type(toks[t])), n, renamed);
        CHECK(missing == n, "%s: a key it needs is refused when missing, another is not (%d of %d right)",
              rnn_tok_type_name(rnn_tokenizer_type(toks[t])), missing, n);
        cJSON_AddTrueToObject(j, "strip_html\xff");
        rnn_tokenizer *u = rnn_tokenizer_from_json(j);
        CHECK(u == NULL && err_has("unknown key \"strip_html\\xff\""), "a key that is not UTF-8 is refused, escaped");
        rnn_tokenizer_free(u);
        cJSON_Delete(j);
    }
    for (size_t t = 0; t < LEN(toks); t++) rnn_tokenizer_free(toks[t]);
}

/* Apostrophes, straight double quotes and web addresses: written as the
 * text had them, in decode and streamed alike (a word model's, and a
 * wordpiece model's). */
static void test_decode_apostrophes(void) {
    const char *texts[] = {"the teachers' pomp", "and 'tis so, for 'twas he", "i' the world, o' the sea",
                           "james' car; don't, it's, i'm, we'll, they're, i've, he'd", "\"hello,\" she said. \"no.\"",
                           "he said \"it's 'tis\" and left", "'hello", "end'", "a '' b",
                           "it costs 3.5 or 10,000, at 3:15. then 7 more",
                           "ne'er o'er e'er ta'en, know'st thou'rt i'ld at ten o'clock",
                           "a well-known one-liner, so--and pages 3-4; - item", "a - b",
                           "he yelled 'stop!' and she said 'no'.", "i saw 'the matrix' in the '80s, rock n' roll",
                           "nothin' but 7/10 and/or $5.99 for $10,000", "left. <br /> <br /> the end </p>",
                           "it was 'great' and this 'film' is the boys' best",
                           "e.g. a u.s. film at 5 p.m. and plan b. a then i.e. i",
                           "it's 'the' best, that's 'fun' and `it's a wonderful life' came out",
                           "ol 'oscar\nthen she said 'yes' and 'no'",
                           "see www.imdb.com. it is at http://www.imdb.com/title/tt1337580 and imdb.com, "
                           "www.archambault.ca or https://example.org/a.html; the catch. net profits; english only. html or boards",
                           "linked to n.j. gov. says the u.s. gov't, not www.whitehouse.gov or http://x.gov/a"};
    const char *want[] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "a' 'b", NULL, NULL, NULL, "a-b",
                          NULL, NULL, NULL, "left. <br/> <br/> the end </p>", NULL,
                          NULL, NULL, NULL, NULL, NULL};
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    char all[4096] = "";
    for (size_t i = 0; i < LEN(texts); i++) strcat(strcat(all, texts[i]), " ");
    rnn_tokenizer *t = build(&o, all);
    size_t wn = 0;
    char *written = t ? rnn_tokenizer_as_written(t, "ROMEO: Caf\u00e9", strlen("ROMEO: Caf\u00e9"), &wn) : NULL;
    CHECK(written && wn == 12 && !strcmp(written, "romeo: caf\u00e9"), "word: as written [%s]", written ? written : "");
    free(written);
    for (size_t i = 0; t && i < LEN(texts); i++) {
        size_t n = 0, plen = 0;
        int32_t *ids = enc(t, texts[i], &n, NULL);
        char *d = ids ? rnn_tokenizer_decode(t, ids, n) : NULL, *p = ids ? pieces(t, ids, n, &plen) : NULL;
        const char *w = want[i] ? want[i] : texts[i];
        CHECK(d && p && !strcmp(d, w) && !strcmp(p, w), "decode [%s] and streamed [%s]: [%s]", d ? d : "", p ? p : "", w);
        free(d), free(p), free(ids);
    }
    /* a prime that ends in an apostrophe, written already: the next word goes on it */
    size_t n = 0;
    int32_t *ids = t ? enc(t, "and ' tis", &n, NULL) : NULL;
    char buf[64];
    rnn_detok d;
    if (ids && n == 3) {
        rnn_detok_init(&d, ids[1], 0);
        CHECK(rnn_detok_put(t, &d, ids[2], buf, sizeof buf) == 3 && !strcmp(buf, "tis"), "after a prime's ': [%s]", buf);
    }
    free(ids);
    /* a prime that opened a quotation ("she said 'no"): quote_open's bit 2
     * has the next apostrophe close it, where it would open one */
    ids = t ? enc(t, "she said ' no and ' it", &n, NULL) : NULL;
    for (int open = 0; ids && n == 7 && open < 2; open++) {
        char text[64] = "";
        rnn_detok_init(&d, ids[3], open ? 2 : 0);
        for (size_t i = 4; i < 7; i++) rnn_detok_put(t, &d, ids[i], buf, sizeof buf), strcat(text, buf);
        rnn_detok_end(t, &d, buf, sizeof buf), strcat(text, buf);
        CHECK(!strcmp(text, open ? " and' it" : " and 'it"), "after a prime's open quotation %d: [%s]", open, text);
    }
    free(ids);
    rnn_tokenizer_free(t);
    /* a wordpiece model's: a domain's ending that begins a longer word after
     * a sentence ("com ##plicating") stays apart, found only at its next
     * piece; one that ends the text, or comes before <pad>, an apostrophe or
     * a word, is written on its "." */
    static const char *const lines[] = {"[PAD]", "[UNK]", "back", "amazon", "www", "imdb", "or", "com",
                                        "org", "##plicating", "##ani", "##zed", ".", "'", "s"};
    char path[64];
    if (write_vocab(path, lines, LEN(lines))) GIVE_UP("write vocab");
    rnn_tok_options_default(&o, RNN_TOK_WORDPIECE);
    o.vocab_file = path;
    t = build(&o, NULL);
    unlink(path);
    if (!t) GIVE_UP("build");
    const char *wp[] = {"back. complicating amazon.com's www.imdb.com or amazon.com",
                        "back. organized amazon.org or imdb.org"};
    for (size_t i = 0; i < LEN(wp); i++) {
        size_t n = 0, plen = 0;
        int32_t *ids = enc(t, wp[i], &n, NULL);
        char *d = ids ? rnn_tokenizer_decode(t, ids, n) : NULL, *p = ids ? pieces(t, ids, n, &plen) : NULL;
        CHECK(d && p && !strcmp(d, wp[i]) && !strcmp(p, wp[i]), "wordpiece: decode [%s] and streamed [%s]: [%s]",
              d ? d : "", p ? p : "", wp[i]);
        free(d), free(p), free(ids);
    }
    int32_t *ids2 = enc(t, "amazon.com", &n, NULL); /* then <pad> */
    if (ids2 && n == 3) {
        const int32_t pad[4] = {ids2[0], ids2[1], ids2[2], 0};
        char *d = rnn_tokenizer_decode(t, pad, 4);
        CHECK(d && !strcmp(d, "amazon.com"), "wordpiece: amazon.com [PAD]: [%s]", d ? d : "");
        free(d);
    }
    free(ids2);
    rnn_tokenizer_free(t);
}

/* rnn_recase_emit's emit: appends to a 4 KB string, counting the pieces. */
typedef struct {
    char text[4096];
    size_t n;
    int pieces;
} recase_sink;
static int recase_collect(const char *bytes, size_t n, void *user) {
    recase_sink *k = user;
    if (k->n + n < sizeof k->text) memcpy(k->text + k->n, bytes, n), k->n += n;
    k->pieces++;
    return 0;
}

/* in recased from the start into out (room for strlen(in) + 1), whole or a
 * byte at a time. */
static void recase_all(const char *in, int bytewise, char *out) {
    rnn_recase r;
    size_t w = 0, n = strlen(in);
    rnn_recase_init(&r, "", 0);
    if (bytewise)
        for (size_t i = 0; i < n; i++) w += rnn_recase_put(&r, in + i, 1, out + w);
    else
        w = rnn_recase_put(&r, in, n, out);
    w += rnn_recase_end(&r, out + w);
    out[w] = 0;
}

/* rnn_recase (rnn sample --recase): sentence case by hand, whole and a byte
 * at a time, after a prime and alone. */
static void test_recase(void) {
    const char *in = "he said \"no.\" then i left. i'm ok, it is 3.5 i\nthe end? yes! hi iris, i5 (i)",
               *want = "He said \"no.\" Then I left. I'm ok, it is 3.5 I\nThe end? Yes! Hi iris, i5 (I)";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        char out[256];
        recase_all(in, bytewise, out);
        CHECK(!strcmp(out, want), "recase %s: [%s]", bytewise ? "a byte at a time" : "whole", out);
    }
    /* after a prime: its state (a sentence ended; an "i" it ended in stays as written) */
    rnn_recase r;
    char out[64];
    rnn_recase_init(&r, "ROMEO: it is done.", 18);
    size_t w = rnn_recase_put(&r, " so i", 5, out);
    w += rnn_recase_end(&r, out + w);
    out[w] = 0;
    CHECK(!strcmp(out, " So I"), "recase after a prime that ended a sentence: [%s]", out);
    /* curly quotes and apostrophes, guillemets: punctuation, as a straight quote is */
    const char *cin = "he left. \u201cyes,\u201d she said.\n\u00abok\u00bb i\u2019m \u201ci am\u201d caf\u00e9 i",
               *cwant = "He left. \u201cYes,\u201d she said.\n\u00abOk\u00bb I\u2019m \u201cI am\u201d caf\u00e9 I";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        char cout[128];
        recase_all(cin, bytewise, cout);
        CHECK(!strcmp(cout, cwant), "recase of non-ASCII punctuation %s: [%s]", bytewise ? "a byte at a time" : "whole",
              cout);
    }
    /* rnn_recase_emit: a long piece in pieces of at most 255 bytes, the same text as rnn_recase_put's */
    char lng[1201], want_l[1202];
    for (int i = 0; i < 1200; i++) lng[i] = "so i. "[i % 6];
    lng[1200] = 0;
    recase_sink k = {.n = 0};
    rnn_recase_init(&r, "", 0);
    CHECK(rnn_recase_emit(&r, lng, 1200, recase_collect, &k) == 0, "recase_emit");
    k.n += rnn_recase_end(&r, k.text + k.n);
    rnn_recase_init(&r, "", 0);
    size_t wl = rnn_recase_put(&r, lng, 1200, want_l);
    wl += rnn_recase_end(&r, want_l + wl);
    CHECK(k.n == wl && !memcmp(k.text, want_l, wl) && k.pieces == 5 && !strncmp(k.text, "So I. So I. ", 12),
          "recase_emit: %zu bytes in %d pieces, as whole", k.n, k.pieces);
    rnn_recase_init(&r, "and i", 5);
    w = rnn_recase_put(&r, "t was", 5, out);
    out[w] = 0;
    CHECK(!strcmp(out, "t was"), "recase after a prime ending in \"i\": [%s]", out);
}

/* piece() and decode() agree on real encodings and on arbitrary id sequences. */
/* A word model with split_punct writes punctuation against its words, as
 * text has it, and still reads back to the same ids. */
static void test_word_decode_punct(void) {
    const char *text = "he said (quietly), i'm here: \"yes\" [and] 'tis so\u2026 \u00abok\u00bb don\u2019t x-ray, "
                       "\"it\" -- or (see) -- and, she cried 'no' -- and went";
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    rnn_tokenizer *t = build(&o, text);
    size_t n = 0, n2 = 0;
    int32_t *ids = t ? enc(t, text, &n, NULL) : NULL;
    char *d = ids ? rnn_tokenizer_decode(t, ids, n) : NULL;
    CHECK(d && !strcmp(d, text), "decode: [%s]", d ? d : "");
    int32_t *again = d ? enc(t, d, &n2, NULL) : NULL;
    CHECK(again && n2 == n && !memcmp(again, ids, n * sizeof *ids), "encode(decode(ids)) == ids");
    free(again);
    free(d);
    free(ids);
    rnn_tokenizer_free(t);
    o.split_punct = 0; /* "said," is then one word: nothing to glue */
    t = build(&o, "a . b , c");
    ids = t ? enc(t, "a . b , c", &n, NULL) : NULL;
    d = ids ? rnn_tokenizer_decode(t, ids, n) : NULL;
    CHECK(d && !strcmp(d, "a . b , c"), "without split_punct: [%s]", d ? d : "");
    free(d);
    free(ids);
    rnn_tokenizer_free(t);
}

static void test_piece_matches_decode(void) {
    const char *train = "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
                        "All:\nSpeak, speak. Ünïcödé 日本語 🙂 <br /> x";
    rnn_tok_options opts[4];
    rnn_tok_options_default(&opts[0], RNN_TOK_CHAR);
    rnn_tok_options_default(&opts[1], RNN_TOK_BYTE);
    rnn_tok_options_default(&opts[2], RNN_TOK_WORD);
    rnn_tok_parse_type(bert_vocab_spec(), &opts[3]);
    rnn_rng rng;
    rnn_rng_seed(&rng, 42);
    const int kinds = harness_have_data(bert_vocab_path()) ? 4 : 3; /* (the last is wordpiece) */
    for (int k = 0; k < kinds; k++) {
        rnn_tokenizer *t = build(&opts[k], train);
        if (!t) {
            CHECK(0, "build %d", k);
            continue;
        }
        size_t n;
        int32_t *ids = enc(t, train, &n, NULL);
        int v = rnn_tokenizer_vocab_size(t);
        int32_t rnd[300];
        for (int i = 0; i < 300; i++) rnd[i] = (int32_t)(rnn_rng_next(&rng) % (uint64_t)v);
        for (int pass = 0; pass < 2; pass++) {
            const int32_t *x = pass ? rnd : ids;
            size_t nx = pass ? 300 : n, plen;
            char *d = rnn_tokenizer_decode(t, x, nx);
            char *p = pieces(t, x, nx, &plen);
            /* decode's length: its own pieces' lengths; compare bytewise */
            CHECK(d && memcmp(d, p, plen) == 0 && (k == 1 || strlen(d) == plen),
                  "%s %s: piece() == decode()", rnn_tok_type_name(opts[k].type),
                  pass ? "random ids" : "encoded text");
            free(d);
            free(p);
        }
        if (k == 2) {
            char *d = rnn_tokenizer_decode(t, ids, n);
            CHECK(d && strcmp(d, "first citizen:\nbefore we proceed any further, hear me speak.\n\n"
                                 "all:\nspeak, speak. ünïcödé 日本語 🙂 <br/> x") == 0,
                  "word decode: [%s]", d ? d : "");
            size_t n2;
            int32_t *again = d ? enc(t, d, &n2, NULL) : NULL;
            CHECK(again && n2 == n && memcmp(again, ids, n * sizeof *ids) == 0,
                  "word: encode(decode(ids)) == ids");
            free(again);
            free(d);
            /* truncation: NUL-terminated, cap - 1 bytes */
            char small[4];
            int id = rnn_tokenizer_find(t, "citizen");
            int first = rnn_tokenizer_find(t, "first");
            rnn_detok dt;
            rnn_detok_init(&dt, first, 0);
            CHECK(rnn_detok_put(t, &dt, id, small, sizeof small) == 3 && strcmp(small, " ci") == 0,
                  "piece truncates to cap - 1");
            rnn_detok_init(&dt, -1, 0);
            CHECK(rnn_detok_put(t, &dt, id, small, 0) == 0 && rnn_detok_put(t, &dt, v, small, 4) == 0 &&
                      small[0] == 0,
                  "cap 0 and out-of-range ids write nothing");
            CHECK(rnn_tokenizer_decode(t, (const int32_t[]){2, v}, 2) == NULL && err_has("out of range"),
                  "decode rejects bad ids");
        }
        free(ids);
        rnn_tokenizer_free(t);
    }
}

/* Linear time: 8 MB of text must take about 8x as long as 1 MB. Timings are
 * noisy, so the bound is loose; it catches quadratic behaviour, not drift. */
static void test_linear_time(void) {
    size_t big = 8u << 20;
    char *text = malloc(big + 1);
    if (!text) GIVE_UP("malloc");
    rnn_rng rng;
    rnn_rng_seed(&rng, 1);
    static const char *const words[] = {"the ", "movie ", "was ", "great", ", ", "bad. ", "<br /><br />",
                                        "Ünïcödé ", "日本 ", "\n", "supercalifragilistic "};
    size_t n = 0;
    while (n < big - 32) {
        const char *w = words[rnn_rng_next(&rng) % LEN(words)];
        memcpy(text + n, w, strlen(w));
        n += strlen(w);
    }
    text[n] = 0;
    rnn_tok_options o;
    rnn_tok_options_default(&o, RNN_TOK_WORD);
    o.strip_html = 1;
    rnn_tokenizer *t = rnn_tokenizer_build(&o, text, n);
    for (int k = 0; t && k < 2; k++) {
        const rnn_tokenizer *u = t;
        rnn_tokenizer *wp = NULL;
        if (k == 1) {
            if (!harness_have_data(bert_vocab_path())) break;
            rnn_tok_parse_type(bert_vocab_spec(), &o);
            u = wp = build(&o, NULL);
            if (!wp) break;
        }
        double times[2];
        for (int s = 0; s < 2; s++) {
            size_t len = s ? n : n / 8;
            int32_t *ids;
            size_t m;
            double t0 = rnn_now();
            int rc = rnn_tokenizer_encode(u, text, len, &ids, &m, NULL);
            times[s] = rnn_now() - t0;
            if (!rc) free(ids);
        }
        printf("  %-9s encode 1 MB %.3fs, 8 MB %.3fs (%.0f MB/s)\n", k ? "wordpiece" : "word", times[0],
               times[1], n / 1e6 / times[1]);
        CHECK(times[1] < 8 * 4 * times[0] + 0.05, "%s: 8x the text takes %.1fx the time",
              k ? "wordpiece" : "word", times[1] / times[0]);
        rnn_tokenizer_free(wp);
    }
    CHECK(t != NULL, "build 8 MB");
    rnn_tokenizer_free(t);
    free(text);
}

/* rnn_sbuf_json_string: what JSON needs escaped is, UTF-8 stays as it is,
 * and each byte that is not part of valid UTF-8 (a file name may hold any)
 * becomes \ufffd, as Python's decode("utf-8", "replace") reads it, so that
 * the JSON text is valid. */
static void test_json_string_escape(void) {
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"a \"q\" \\ b", "a \\\"q\\\" \\\\ b"},
        {"tab\there\nnl\x01", "tab\\u0009here\\u000anl\\u0001"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"bad\xff\xfe.txt", "bad\\ufffd\\ufffd.txt"},
        {"cut \xc3", "cut \\ufffd"},
        {"overlong \xc0\xaf", "overlong \\ufffd\\ufffd"},
        {"surrogate \xed\xa0\x80!", "surrogate \\ufffd\\ufffd\\ufffd!"},
        {"\x80\"", "\\ufffd\\\""},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rnn_sbuf b = {0};
        const int rc = rnn_sbuf_json_string(&b, cases[i].in);
        const int ok = rc == 0 && b.n == strlen(cases[i].want) && (!b.n || !memcmp(b.p, cases[i].want, b.n));
        CHECK(ok, "case %zu: got \"%.*s\", want \"%s\"", i, (int)b.n, b.p ? b.p : "", cases[i].want);
        free(b.p);
    }
}

int main(void) {
    RUN(test_parse_type);
    RUN(test_char_round_trip);
    RUN(test_empty_training_text);
    RUN(test_byte_round_trip);
    RUN(test_invalid_utf8);
    RUN(test_replace_mode);
    RUN(test_word_vocab);
    RUN(test_word_options);
    RUN(test_wordpiece_small);
    RUN(test_producible);
    RUN(test_wordpiece_bert);
    RUN(test_ends_in_space);
    RUN(test_grow);
    RUN(test_check_same);
    RUN(test_json_ignored_options);
    RUN(test_json_round_trip);
    RUN(test_json_string_escape);
    RUN(test_json_malformed);
    RUN(test_json_damaged_keys);
    RUN(test_piece_matches_decode);
    RUN(test_word_decode_punct);
    RUN(test_decode_apostrophes);
    RUN(test_recase);
    RUN(test_linear_time);
    return harness_end();
}
