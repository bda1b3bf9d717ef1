/* plot.h: a run's metrics.csv drawn as an SVG (rnn plot; rnn train writes
 * metrics.svg beside metrics.csv after every validation).
 *
 *   if (rnn_plot_metrics("runs/x/metrics.csv", "runs/x/metrics.svg", "runs/x"))
 *       fprintf(stderr, "rnn: %s\n", rnn_last_error());
 *
 * Three panels share the step axis: training and validation loss, validation
 * accuracy (and macro-F1 for classifiers), learning rate. Any browser shows
 * the file; it needs no fonts or scripts.
 */
#ifndef RNN_PLOT_H
#define RNN_PLOT_H

#include <stddef.h>

/* Reads csv_path (the header of metrics.csv names its columns; step,
 * train_loss, val_loss, val_acc and lr must be there, val_macro_f1 may be)
 * and writes svg_path through a temporary file and a rename, so a reader
 * never sees half a plot. A nan leaves a gap in its line; an inf is marked
 * at the edge of its panel and scales nothing. A loss or lr panel whose
 * values are all above 0 and span more than 30x has a log axis. -1 +
 * message naming file:line on a malformed row, a missing column or no rows.
 * A last line without its newline that is no whole row (a run stopped
 * mid-write) is left out, and said so on stderr as "rnn: warning: FILE:LINE:
 * ..."; a torn line anywhere else is an error. */
int rnn_plot_metrics(const char *csv_path, const char *svg_path, const char *title);

/* rnn_plot_metrics writing nothing on stderr: note (note_cap bytes, may be
 * NULL) gets the warning line instead, "" when there is none, so that a
 * host that keeps stderr quiet (the trainer of the C API) can route it. */
int rnn_plot_metrics_note(const char *csv_path, const char *svg_path, const char *title, char *note,
                          size_t note_cap);

#endif
