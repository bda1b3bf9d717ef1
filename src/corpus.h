/* corpus.h: the built-in human-numbers corpus (the fast.ai data set): the
 * numbers 1..9999 written in English words, one number per line, e.g.
 * "eight thousand one hundred twenty three". Train is 1..8000, valid
 * 8001..9999, so a new user can train a language model with nothing to
 * download.
 *
 *   char *train = rnn_human_numbers(1, 8000);      // malloc'd, NULL on OOM
 */
#ifndef RNN_CORPUS_H
#define RNN_CORPUS_H

/* The numbers first..last (1 <= first <= last <= 9999), one per line. */
char *rnn_human_numbers(int first, int last);

#endif
