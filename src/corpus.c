/* corpus.c: see corpus.h. */
#include "corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const ones[] = {"",        "one",     "two",       "three",    "four",
                                   "five",    "six",     "seven",     "eight",    "nine",
                                   "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                   "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const tens[] = {"",      "",      "twenty",  "thirty", "forty",
                                   "fifty", "sixty", "seventy", "eighty", "ninety"};

/* Appends the words of n (1..9999) to out. */
static size_t say(char *out, int n) {
    size_t k = 0;
#define WORD(w) k += (size_t)sprintf(out + k, "%s%s", k ? " " : "", (w))
    if (n >= 1000) {
        WORD(ones[n / 1000]);
        WORD("thousand");
        n %= 1000;
    }
    if (n >= 100) {
        WORD(ones[n / 100]);
        WORD("hundred");
        n %= 100;
    }
    if (n >= 20) {
        WORD(tens[n / 10]);
        n %= 10;
    }
    if (n > 0) WORD(ones[n]);
#undef WORD
    return k;
}

char *rnn_human_numbers(int first, int last) {
    if (first < 1 || last > 9999 || first > last) {
        rnn_errorf("human numbers: range %d..%d outside 1..9999", first, last);
        return NULL;
    }
    /* The longest number is under 64 characters. */
    char *buf = malloc((size_t)(last - first + 1) * 64 + 1);
    if (!buf) {
        rnn_errorf("out of memory");
        return NULL;
    }
    size_t k = 0;
    for (int n = first; n <= last; n++) {
        k += say(buf + k, n);
        buf[k++] = '\n';
    }
    buf[k] = 0;
    return buf;
}
