/* tokenizer.h: text ⇄ token ids, with four tokenizers.
 *
 *   char       one token per Unicode code point (UTF-8 decoded), so "é", "日"
 *              and "🙂" are one token each. Vocabulary from the training text:
 *              <pad> = 0, <unk> = 1, then the code points in code point order.
 *   byte       the 256 byte values, id = byte. No specials, no vocabulary to
 *              build; every input is representable.
 *   word       whitespace-separated words, optionally lower-cased, with
 *              punctuation split off, HTML tags removed and newlines kept as
 *              "\n" tokens. Vocabulary by frequency: <pad> = 0, <unk> = 1, then
 *              words by count (descending), ties bytewise (ascending).
 *   wordpiece  BERT's tokenizer over a given vocabulary file (one token per
 *              line, id = line index): BasicTokenizer normalisation, then
 *              greedy longest-match-first WordPiece with "##" continuations.
 *
 *   rnn_tok_options o;
 *   if (rnn_tok_parse_type("word", &o)) die(rnn_last_error());   // defaults for word
 *   o.min_count = 2;
 *   rnn_tokenizer *t = rnn_tokenizer_build(&o, text, len);         // NULL + message
 *   int32_t *ids; size_t n, n_unk;
 *   if (rnn_tokenizer_encode(t, text, len, &ids, &n, &n_unk)) die(rnn_last_error());
 *   char *back = rnn_tokenizer_decode(t, ids, n);                  // malloc'd
 *   cJSON *meta = rnn_tokenizer_to_json(t);   // the checkpoint's "tokenizer" object
 *   rnn_tokenizer *u = rnn_tokenizer_from_json(meta);              // the same tokenizer
 *   free(ids); free(back); cJSON_Delete(meta);
 *   rnn_tokenizer_free(t); rnn_tokenizer_free(u);
 *
 * Normalisation (char, word, wordpiece), applied in this order per code point:
 *   - invalid UTF-8 (bad or truncated sequences, overlong forms, surrogates,
 *     values above U+10FFFF, and NUL bytes, which no vocabulary string can
 *     hold): with invalid_utf8_replace = 0 (the default) build/encode fail with
 *     "input has invalid UTF-8 at byte offset B (line L)" (B from 0, L from 1; the
 *     line only in a text of more than one); with 1 each bad byte becomes one
 *     U+FFFD.
 *   - strip_html (char, word, wordpiece): a tag is "<", an optional "/" or "!", an
 *     ASCII letter (any byte after "!"), then bytes up to the first ">" with no
 *     "<" nor NUL before it, at most 512 bytes in all, e.g. "<br />", "<p>", "</a>",
 *     "<!-- x -->". Each tag is replaced by a space. Entities (&amp;) are kept.
 *   - lowercase: one code point to one code point, by towlower_l() in the
 *     "C.UTF-8" locale (full Unicode simple case mapping in glibc; the process
 *     locale is never changed); where that locale is missing, a built-in table
 *     covering ASCII, Latin-1, Latin Extended-A, modern Greek and basic
 *     Cyrillic.
 *   - word: whitespace is ASCII whitespace, Unicode Zs, U+0085, U+2028, U+2029,
 *     U+200B and U+FEFF. With keep_newlines, each "\n" is a token of its own
 *     ("\r" is whitespace, so "\r\n" gives one "\n" token). With split_punct,
 *     each punctuation code point (ASCII ispunct, so also $+<=>^`|~, and every
 *     Unicode P* category code point, e.g. « » “ ” … — ¿ 、 。) is a token of
 *     its own. A word that reads "<pad>" or "<unk>" encodes as <unk>.
 *   - wordpiece follows BERT's BasicTokenizer (google-research/bert
 *     tokenization.py, as in Hugging Face's BertTokenizer): drop U+FFFD and
 *     control/format/private-use code points (Cc, Cf, Co; unassigned ones are
 *     kept), split on " \t\n\r", Zs, U+2028 and U+2029, put spaces around CJK
 *     ideographs, then with lowercase: lower-case and strip accents (NFD, then
 *     drop Mn marks), then split off punctuation (ASCII 33-47, 58-64, 91-96,
 *     123-126 and Unicode P*). Accent stripping covers every Mn mark of
 *     Unicode 14 (so decomposed input too) and every precomposed character of
 *     the Basic Multilingual Plane (Latin, Greek, Cyrillic, Indic, kana, ...;
 *     Hangul syllables become jamo, as NFD does), by tables generated from
 *     Python's unicodedata. Not covered, so kept as they are: the CJK
 *     compatibility ideographs U+F900-U+FAFF and precomposed characters above
 *     U+FFFF. Also unlike Python: unassigned code points are kept, there is
 *     no NFC pre-pass, and lower-casing is per code point (no final sigma).
 *     Checked token for token against a Python transcription of
 *     tokenization.py on 3,000 IMDb reviews and 5,000 lines of random BMP
 *     text. Words longer than 100 code points, and words WordPiece cannot
 *     cover, become one [UNK]. No [CLS]/[SEP] is added: encode gives the
 *     plain pieces. With keep_newlines (a language model's, not BERT's),
 *     each "\n" is a token of its own, as for word.
 *
 * Decoding (piece, decode):
 *   char       each token's UTF-8; <unk> → U+FFFD ("\xEF\xBF\xBD"); <pad> → "".
 *   byte       the byte itself (decode's string then may hold a 0 byte or
 *              partial UTF-8; piece() returns exact byte counts).
 *   word       " " + token, except no space at the start, after a "\n" token
 *              or a <pad>, and none before "\n". With split_punct, punctuation
 *              is written against its words, as text has it: no space before
 *              . , ; : ! ? % ) ] } … » ” 、 。 and their fullwidth forms, none
 *              after ( [ { « “ ‘ ¿ ¡ （; a straight double quote opens (no
 *              space after) and then closes (none before), in turn. An
 *              apostrophe (' or ’) is written with the token after it: between
 *              a word and an ending of contractions (s t d m ll re ve) none on
 *              either side ("i ' m" → "i'm"); before a word letters were left
 *              from (tis twas em gainst ...) a space before it only ("and
 *              'tis"); after another word against it ("teachers' pomp", "i'
 *              the"); else as an opening mark ("'hello"). A word is a token that
 *              starts with an ASCII letter or digit or a non-ASCII byte, or
 *              <unk>: "he said (quietly), i'm here.". Tokens keep no record of
 *              their spaces, so a quote in single quotation marks reads
 *              "said' hello' to". A . , or : between two numbers joins them
 *              ("3.14", "10,000", "3:15"; and "in 1999.2000 came"); a hyphen
 *              after a word, or after such a hyphen, joins it and a word after
 *              it ("well-known", "so--and"; a spaced dash "a - b" reads "a-b"). Since
 *              split_punct splits those again, encode(decode(ids)) == ids for
 *              ids without specials, except with strip_html on and
 *              split_punct off: tokens "<b" and ">" decode to "<b >", a tag,
 *              which encoding drops. <unk> → "<unk>", <pad> → "".
 *   wordpiece  "##x" → "x" glued to the previous piece; any other token → " " +
 *              token, except at the start or after a silent special, and
 *              punctuation as for word ("isn ' t it ?" → "isn't it?"). [UNK] →
 *              "[UNK]"; [PAD], [CLS], [SEP], [MASK] → "" (silent).
 *
 * Metadata (docs/checkpoints.md, "tokenizer"): rnn_tokenizer_to_json() writes
 *   {"type": "word", "vocab": [...], "pad_id": 0, "unk_id": 1, "lowercase": true,
 *    "split_punct": true, "strip_html": false, "keep_newlines": true,
 *    "min_count": 1, "max_vocab": 0, "invalid_utf8": "error"}
 * (wordpiece adds "cls_id", "sep_id", "mask_id", -1 where absent). The vocab
 * list is always complete (wordpiece stores the whole file, not its path), so
 * a checkpoint is self-contained. The byte vocab is the 256 one-byte strings,
 * except that byte 0x00 and bytes 0x80..0xFF are written "<0x00>", "<0x80>",
 * ..., "<0xFF>" (JSON strings must be NUL-free valid UTF-8); token() and find()
 * use the same spellings.
 *
 * Ownership: a tokenizer owns copies of everything it was given (options,
 * vocab_file path, tokens); strings it returns live as long as it does.
 * Failure: functions returning a pointer return NULL, functions returning int
 * return -1; either way rnn_last_error() holds a one-line message and outputs
 * are left unchanged. A tokenizer is read-only after building, so one may be
 * used from several threads at once.
 */
#ifndef RNN_TOKENIZER_H
#define RNN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum { RNN_TOK_CHAR, RNN_TOK_BYTE, RNN_TOK_WORD, RNN_TOK_WORDPIECE } rnn_tok_type;

typedef struct {
    rnn_tok_type type;
    int lowercase;            /* char, word, wordpiece (wordpiece: also strips accents) */
    int split_punct;          /* word */
    int strip_html;           /* char, word, wordpiece */
    int keep_newlines;        /* word; wordpiece (rnn train sets it for language models): each "\n" is
                                 a token, added one past the vocabulary file's where it lacks one */
    int min_count;            /* char, word: keep tokens seen at least this often (>= 1) */
    int max_vocab;            /* char, word: at most this many ids, specials included; 0 = no limit */
    int invalid_utf8_replace; /* char, word, wordpiece: 0 = error, 1 = each bad byte → U+FFFD */
    const char *vocab_file;   /* wordpiece: one token per line ("\r\n" accepted), id = line index */
} rnn_tok_options;

typedef struct rnn_tokenizer rnn_tokenizer;

/* Defaults for type t: min_count 1, max_vocab 0, invalid UTF-8 is an error,
 * vocab_file NULL; word: lowercase, split_punct and keep_newlines on,
 * strip_html off; wordpiece: lowercase on (an uncased vocabulary); char:
 * everything off. */
void rnn_tok_options_default(rnn_tok_options *o, rnn_tok_type t);
/* Parses a --tokenizer value, "char" | "byte" | "word" | "wordpiece:PATH", and
 * fills *o with that type's defaults (so apply other flags after it);
 * o->vocab_file then points into spec. -1 + message (*o unchanged) otherwise. */
int rnn_tok_parse_type(const char *spec, rnn_tok_options *o);
/* "char", "byte", "word", "wordpiece" ("?" for anything else). */
const char *rnn_tok_type_name(rnn_tok_type t);

/* Builds a tokenizer. char/word: the vocabulary of text (len bytes; NUL bytes
 * are input like any other), which must hold at least one token ("no tokens in
 * training text" otherwise); max_vocab keeps the most frequent (ties bytewise).
 * byte: text is ignored. wordpiece: loads o->vocab_file (must hold [UNK];
 * empty lines, duplicates and invalid UTF-8 are errors naming the line); text
 * may be NULL. NULL + message on failure. */
rnn_tokenizer *rnn_tokenizer_build(const rnn_tok_options *o, const char *text, size_t len);
void rnn_tokenizer_free(rnn_tokenizer *t); /* NULL is fine */
/* t's vocabulary (every id kept) followed by the tokens of text it lacks
 * that occur at least min_count times there, most frequent first (ties in
 * byte order), up to max_vocab tokens in all (0: no limit); *added gets
 * how many. char and word only. A new tokenizer, or NULL + message. */
rnn_tokenizer *rnn_tokenizer_grow(const rnn_tokenizer *t, const char *text, size_t len, int min_count,
                                  int max_vocab, int *added);

/* Encodes len bytes of text in one linear pass. *ids gets a malloc'd array of
 * *n ids (non-NULL even when *n is 0; the caller frees it with free()). n_unk
 * may be NULL; otherwise it gets the number of ids equal to the unk id.
 * Returns 0, or -1 + message (invalid UTF-8, out of memory) with *ids, *n and
 * *n_unk unchanged. */
int rnn_tokenizer_encode(const rnn_tokenizer *t, const char *text, size_t len, int32_t **ids,
                         size_t *n, size_t *n_unk);
/* Where text (len bytes) may be cut to encode it in pieces: the first p >= at
 * (at most len) such that the ids of text[0..p) followed by those of
 * text[p..len) are the ids of the whole (and the unknowns as many), because
 * no token, word or tag can span p; len where none can be found. byte: at.
 * char: the start of a code point (a byte that is no UTF-8 continuation
 * byte: no sequence, valid or refused, is read past one). word, wordpiece:
 * just past an ASCII space, tab, "\n" or "\r", each of which ends a word.
 * With strip_html, also never where a tag could be open: the last '<' before
 * p has a '>' after it before p, or is more than a tag's 512 bytes back.
 * Linear in p - at. A text cut so encodes, one piece at a time, with only a
 * piece's ids at hand (rnn train's token streams, src/train.c). */
size_t rnn_tokenizer_cut(const rnn_tokenizer *t, const char *text, size_t len, size_t at);
/* The first byte of text (len bytes) that rnn_tokenizer_encode refuses
 * (invalid UTF-8 or NUL, read as encoding reads them: a tag that strip_html
 * drops is never read), len where it refuses none. Reads the text, holds no
 * ids: a piece's refusal named where the whole text has it (src/train.c). */
size_t rnn_tokenizer_refused_at(const rnn_tokenizer *t, const char *text, size_t len);
/* The same on options, before a tokenizer exists (rnn train's --val-frac split). */
size_t rnn_tok_options_refused_at(const rnn_tok_options *o, const char *text, size_t len);
/* The same as a callback, opts an rnn_tok_options (rnn_read_text_tree's). */
size_t rnn_tok_refused(const char *text, size_t len, const void *opts);
/* After encoding text with o failed: the message names the byte it refused
 * where the file at path has it (rnn_utf8_file_error, "PATH: ..."; path
 * NULL: where text has it, rnn_utf8_error) or, when it refused none (out of
 * memory), prefixes the message there with path. Returns -1. */
int rnn_tok_text_error(const rnn_tok_options *o, const char *path, const char *text, size_t len);

/* Streaming decoder for generation: the text tokens add one at a time, as
 * decode() writes them. rnn_detok_init(&d, prev, quote_open) with the last
 * token before (-1 at the start) and quote_open: 1 where a straight double quote is open
 * there (an odd count in the text before), | 2 where an apostrophe opened a quotation; then rnn_detok_put writes into buf
 * the text token id adds, NUL-terminated and cut to cap - 1 bytes, and
 * returns its bytes (0 for an id out of range, and for an apostrophe of a
 * word or wordpiece model, written with the token after it, whose spacing
 * depends on it); rnn_detok_end writes an apostrophe still held. decode()
 * is the concatenation of these. A buffer of rnn_tokenizer_max_piece(t) + 1
 * bytes never cuts. */
typedef struct {
    int32_t prev;   /* the last token written (-1: none) */
    int prev_kind;  /* how it was written (-1: not yet known) */
    int32_t held;   /* an apostrophe not written yet (-1: none) */
    int quote_open; /* a straight double quote is open */
    int squote_open; /* an apostrophe opened a quotation ('no', 'the matrix') not closed yet */
    int in_number;  /* the last token is . , or : after a digit: a digit next joins it (3.5) */
    int in_abbrev;  /* the last token is . after a one-letter word that began no abbreviation's
                       letters: one more letter (not a, i) joins it (e.g., u.s., p.m.) */
    int abbrev;     /* the last token is a letter so joined */
    int joined;     /* the last token is a hyphen against a word (or hyphen) before it: a word next joins it */
    int url;        /* how far into a web address's start the last token is (url_next in tokenizer.c) */
    int dot_word;   /* the last token is . after a word (2: a path_word): com, org, ... next joins it
                       (imdb.com), and html, php, ... after a path word (com/index.html) */
    int path_word;  /* the last token is a word written against a "/" before it */
    int pend;       /* wordpiece: the last token (com, org, ... so joined) is not written yet: its next
                       piece decides ("com ##plicating" is a word of its own) */
} rnn_detok;
void rnn_detok_init(rnn_detok *d, int32_t prev, int quote_open);
size_t rnn_detok_put(const rnn_tokenizer *t, rnn_detok *d, int32_t id, char *buf, size_t cap);
size_t rnn_detok_end(const rnn_tokenizer *t, rnn_detok *d, char *buf, size_t cap);
size_t rnn_tokenizer_max_piece(const rnn_tokenizer *t);
/* Sentence case for the text of a lowercasing tokenizer (rnn sample
 * --recase): a letter that starts the text, a line or a sentence (after . ! ?
 * and a space) is written in capitals, and so is the word "i" alone (i, i'm,
 * i'll). ASCII letters only; the bytes are otherwise as given. Streaming:
 * rnn_recase_init with the text written before (the prime: read, not
 * changed), then rnn_recase_put for each piece into out (room for n + 1
 * bytes: an "i" waits for the byte after it), then rnn_recase_end (room 1). */
typedef struct {
    int cap;    /* the next letter starts a sentence or line */
    int stop;   /* a . ! ? came, and no space yet */
    int prev;   /* the byte before (0: none) */
    int held;   /* an "i" after a non-letter, waiting: the pronoun if no letter or digit follows */
    int punct;  /* within a non-ASCII punctuation mark's bytes (“, ’, «, ...) */
} rnn_recase;
/* 0 where t lowercases (a char, word or wordpiece tokenizer with lowercase
 * on), else -1 + message: recasing is for such a tokenizer's text. */
int rnn_recase_check(const rnn_tokenizer *t);
void rnn_recase_init(rnn_recase *r, const char *before, size_t n);
size_t rnn_recase_put(rnn_recase *r, const char *in, size_t n, char *out);
size_t rnn_recase_end(rnn_recase *r, char *out);
/* bytes through rnn_recase_put, handed on to emit in pieces of up to 255
 * bytes; emit's first non-zero return ends it and is returned (else 0). */
int rnn_recase_emit(rnn_recase *r, const char *bytes, size_t n, int (*emit)(const char *bytes, size_t n, void *user),
                    void *user);

/* s as this tokenizer's text writes it (malloc'd, NUL-terminated, *out_len bytes; NULL +
 * message when out of memory): lowercased where it lowercases, and accents
 * stripped for wordpiece, so that a --stop string finds what the model
 * writes ("ROMEO:" is "romeo:" in a lowercasing word model's text). */
char *rnn_tokenizer_as_written(const rnn_tokenizer *t, const char *s, size_t len, size_t *out_len);
/* The text of n ids as a malloc'd NUL-terminated string (caller frees with
 * free()). NULL + message if an id is out of range or on out of memory. */
char *rnn_tokenizer_decode(const rnn_tokenizer *t, const int32_t *ids, size_t n);

int rnn_tokenizer_vocab_size(const rnn_tokenizer *t);
/* The token string of id (see the byte spellings above); NULL if out of range. */
const char *rnn_tokenizer_token(const rnn_tokenizer *t, int id);
int rnn_tokenizer_unk_id(const rnn_tokenizer *t); /* -1 for byte */
int rnn_tokenizer_pad_id(const rnn_tokenizer *t); /* -1 for byte and a wordpiece vocab without [PAD] */
/* The token a text with no tokens is read as (a classifier needs one): the
 * unknown token, or for byte, which has none, the space. *name (may be NULL)
 * gets how to call it in a message: "<unk>", "[UNK]" or "space". */
int rnn_tokenizer_filler_id(const rnn_tokenizer *t, const char **name);
/* 1 if encoding text can yield id: 0 for <pad> and [PAD], wordpiece's [CLS],
 * [SEP] and [MASK], and its other bracketed entries ([unused0], ...: BERT's
 * splitting makes "[" a word of its own), and for ids out of range. A
 * language model never has these as targets; sampling never draws them. */
int rnn_tokenizer_producible(const rnn_tokenizer *t, int id);
/* The id of an exact token string, -1 if absent (no normalisation applied). */
int rnn_tokenizer_find(const rnn_tokenizer *t, const char *token);
rnn_tok_type rnn_tokenizer_type(const rnn_tokenizer *t);
/* 1 if the text s (n bytes) ends in a character that separates words for t
 * (word: its whitespace, U+00A0 and U+3000 among it; wordpiece: BERT's):
 * a piece that starts with a space then needs none after it. 0 for char and
 * byte, for an empty text, and for one that ends in invalid UTF-8. */
int rnn_tokenizer_ends_in_space(const rnn_tokenizer *t, const char *s, size_t n);
/* 1 if encode fails on invalid UTF-8 (char, word, wordpiece without
 * invalid_utf8_replace); 0 for byte, which takes any bytes, or replace. */
int rnn_tokenizer_needs_utf8(const rnn_tokenizer *t);
/* The same rule on options, before a tokenizer exists. */
int rnn_tok_options_need_utf8(const rnn_tok_options *o);
/* 0 if a and b turn every text into the same ids: the same type, encoding
 * options and vocabulary in the same order. Otherwise -1 and the first
 * difference, a's side first ("80 tokens against 65", "lowercase on against
 * off", "token 7 \"e\" against \"a\""). */
int rnn_tokenizer_check_same(const rnn_tokenizer *a, const rnn_tokenizer *b);
/* The options it was built with (vocab_file: the tokenizer's own copy of the
 * path, NULL after from_json). */
const rnn_tok_options *rnn_tokenizer_options(const rnn_tokenizer *t);

/* The metadata object above; the caller owns it (cJSON_Delete). NULL + message
 * on out of memory. */
cJSON *rnn_tokenizer_to_json(const rnn_tokenizer *t);
/* Rebuilds a tokenizer from that object, checking everything: type, vocab (a
 * non-empty array of distinct non-empty valid UTF-8 strings; char: specials
 * plus single code points; byte: exactly the 256 spellings above), pad_id and
 * unk_id (naming "<pad>"/"<unk>", "[PAD]"/"[UNK]", or -1 for byte), and the
 * options that change encoding for the type (char: lowercase; word: lowercase,
 * split_punct, strip_html, keep_newlines; wordpiece: lowercase, strip_html).
 * Other options may be absent (defaults) but must have the right JSON type.
 * NULL + a message naming the field on failure. */
rnn_tokenizer *rnn_tokenizer_from_json(const cJSON *j);

#endif
