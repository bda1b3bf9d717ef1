/* plot.c: metrics.csv as an SVG line chart (see plot.h). */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The columns drawn, by their metrics.csv header names. */
enum { C_STEP, C_TRAIN, C_VAL, C_ACC, C_F1, C_LR, NCOL };
static const char *const col_name[NCOL] = {"step", "train_loss", "val_loss", "val_acc", "val_macro_f1", "lr"};
static const int col_required[NCOL] = {1, 1, 1, 1, 0, 1};

typedef struct {
    double *v[NCOL]; /* v[c][i]: column c of row i (NAN when absent) */
    size_t n, cap;
} table;

static void table_free(table *t) {
    for (int c = 0; c < NCOL; c++) free(t->v[c]);
}

static int table_push(table *t, const double *row) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        for (int c = 0; c < NCOL; c++) {
            double *g = realloc(t->v[c], cap * sizeof(double));
            if (!g) return rnn_errorf("out of memory");
            t->v[c] = g;
        }
        t->cap = cap;
    }
    for (int c = 0; c < NCOL; c++) t->v[c][t->n] = row[c];
    t->n++;
    return 0;
}

/* Splits line (modified in place) at commas into at most max fields. */
static int split_commas(char *line, char **field, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line;;) {
        if (n == max) return max + 1;
        field[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) return n;
        *comma = 0;
        p = comma + 1;
    }
}

#define MAX_FIELDS 64
/* A metrics.csv line is a few hundred bytes; a longer one is no metrics file
 * (and endless input, /dev/zero, stops here instead of filling memory). */
#define MAX_LINE 65536

/* The next line of f as rnn_getline reads it: its length, -1 at the end, or
 * -2 with a message naming path:lineno for a NUL byte (which would cut the
 * line short unseen, dropping what follows it), a line over MAX_LINE bytes
 * or a read error. */
static long next_line(char **line, size_t *cap, FILE *f, const char *path, long lineno) {
    const long got = rnn_getline(line, cap, f, MAX_LINE, 1);
    if (got == -3) return rnn_errorf("%s:%ld: a line of over %d bytes (not a metrics.csv?)", path, lineno, MAX_LINE), -2;
    if (got == -2) return rnn_errorf("%s: read error: %s", path, strerror(errno)), -2;
    if (got > 0 && memchr(*line, 0, (size_t)got))
        return rnn_errorf("%s:%ld: a NUL byte (not a metrics.csv?)", path, lineno), -2;
    return got;
}

/* Row lineno of path (line, split in place at its commas) into row: 0, or -1
 * with a message naming path:lineno when it is not nf fields of numbers. */
static int parse_row(char *line, int nf, const int *where, double *row, const char *path, long lineno) {
    char *field[MAX_FIELDS + 1];
    const int n = split_commas(line, field, MAX_FIELDS);
    if (n > MAX_FIELDS) return rnn_errorf("%s:%ld: more fields than the header's %d", path, lineno, nf);
    if (n != nf) return rnn_errorf("%s:%ld: %d fields where the header has %d", path, lineno, n, nf);
    for (int c = 0; c < NCOL; c++) {
        row[c] = NAN;
        if (where[c] < 0) continue;
        const char *s = field[where[c]];
        char *end;
        row[c] = strtod(s, &end); /* nan (a gap), inf (marked at the edge); an overflow is inf */
        if (end == s || *end)
            return rnn_errorf("%s:%ld: %s '%.40s%s' is not a number", path, lineno, col_name[c], s,
                              strlen(s) > 40 ? "..." : "");
    }
    if (!isfinite(row[C_STEP])) return rnn_errorf("%s:%ld: step is not a finite number", path, lineno);
    return 0;
}

/* Reads metrics.csv into t. note (note_cap bytes) gets a warning for the
 * caller to show when a torn last line was left out, and stays "" otherwise. */
static int read_csv(const char *path, table *t, char *note, size_t note_cap) {
    FILE *f = fopen(path, "r");
    if (!f) return rnn_errorf("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL, *field[MAX_FIELDS + 1];
    size_t cap = 0;
    int where[NCOL], nf = 0, rc = -1;
    long lineno = 0, got, superseded_at = 0;
    size_t superseded = 0;
    for (int c = 0; c < NCOL; c++) where[c] = -1;
    if ((got = next_line(&line, &cap, f, path, 1)) < 0) {
        if (got == -1) rnn_errorf("%s: empty file (a metrics.csv starts with a header line)", path);
        goto out;
    }
    lineno = 1;
    nf = split_commas(line, field, MAX_FIELDS);
    if (nf > MAX_FIELDS) {
        rnn_errorf("%s:1: more than %d columns", path, MAX_FIELDS);
        goto out;
    }
    for (int i = 0; i < nf; i++)
        for (int c = 0; c < NCOL; c++)
            if (!strcmp(field[i], col_name[c])) where[c] = i;
    for (int c = 0; c < NCOL; c++)
        if (col_required[c] && where[c] < 0) {
            rnn_errorf("%s:1: no '%s' column (the header of a metrics.csv names step, train_loss, "
                       "val_loss, val_acc and lr)", path, col_name[c]);
            goto out;
        }
    while ((got = next_line(&line, &cap, f, path, lineno + 1)) >= 0) {
        lineno++;
        if (line[strspn(line, "\r\n")] == 0) continue; /* a blank line */
        /* Only the last line can lack its newline (rnn_getline stops at one). */
        const int unterminated = line[got - 1] != '\n';
        double row[NCOL];
        if (parse_row(line, nf, where, row, path, lineno)) {
            if (!unterminated) goto out;
            /* A run killed mid-write (or a plot drawn while training appends)
             * leaves its last row cut short; training's resume drops such a
             * line too. The rows before it are whole: draw them. */
            const size_t w = strlen(note);
            snprintf(note + w, note_cap - w, "%swarning: %s: the last line, with no newline (cut short mid-write?), is "
                     "left out", w ? "; " : "", rnn_last_error());
            continue; /* the end of the file */
        }
        /* Training writes its rows in step order: a resume first drops the
         * rows after its state's step. A run resumed before that was so
         * (2026-12-06) kept them, and then trained those steps again: a row
         * whose step is not above the one before supersedes the rows from
         * its step on, as the run did (drawn in file order they zigzag). */
        if (t->n && row[C_STEP] <= t->v[C_STEP][t->n - 1]) {
            size_t dropped = 0;
            while (t->n && t->v[C_STEP][t->n - 1] >= row[C_STEP]) t->n--, dropped++;
            if (!superseded_at) superseded_at = lineno;
            superseded += dropped;
        }
        if (table_push(t, row)) goto out;
    }
    if (superseded) { /* (said before a torn last line's warning) */
        char was[1024];
        snprintf(was, sizeof was, "note: %s:%ld: %zu row%s left out, superseded by later rows of the same steps (a run "
                 "resumed from an earlier state)%s%s", path, superseded_at, superseded, superseded == 1 ? "" : "s",
                 note[0] ? "; " : "", note);
        snprintf(note, note_cap, "%s", was);
    }
    if (got == -2) goto out;
    if (t->n == 0) {
        rnn_errorf("%s: no rows after the header (nothing validated yet)", path);
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}

/* ---- drawing --------------------------------------------------------------- */

#define WIDTH 760
#define LEFT 78   /* room for the y tick labels */
#define RIGHT 24
#define PLOT_W (WIDTH - LEFT - RIGHT)

typedef struct {
    double lo, hi, step; /* the axis spans [lo, hi], ticks every step */
    int log;             /* lo, hi and step are in decades (log10 of the values) */
    int ticks125;        /* a log axis with room for ticks at 2x and 5x in each decade */
} axis;

/* Values are drawn within +-LIMIT (a diverged loss of 1e300 sits at the
 * top), so that no axis arithmetic overflows. */
#define LIMIT 1e100
#define MAX_TICKS 40

static double clamp(double v) { return v > LIMIT ? LIMIT : v < -LIMIT ? -LIMIT : v; }

/* An axis over [min, max] (finite, within LIMIT) that ends on round numbers,
 * with about `target` ticks of 1, 2 or 5 times a power of ten, and at least
 * 1 apart when `whole` (steps, decades: no tick between two integers). A
 * range too narrow for doubles to tell its ticks apart is widened around its
 * middle. */
static axis nice_axis(double min, double max, int target, int whole) {
    double mid = 0.5 * (min + max), scale = fmax(fabs(min), fabs(max));
    if (!(max - min > scale * 1e-9)) {
        double pad = scale > 0 ? scale * 0.05 : 0.5;
        min = mid - pad, max = mid + pad;
    }
    double raw = (max - min) / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    if (whole && step < 1) step = 1;
    axis a = {floor(min / step) * step, ceil(max / step) * step, step, 0, 0};
    return a;
}

/* A log axis over [min, max] (0 < min < max) drawn `pixels` long: whole
 * decades, a tick at each (or every 2nd, 5th, ... when they would crowd), and
 * at 2x and 5x too where a decade has room (45 px puts 1 and 2 14 px apart). */
static axis log_axis(double min, double max, double pixels) {
    const int target = pixels / 28 < 2 ? 2 : (int)(pixels / 28);
    axis a = nice_axis(floor(log10(min) + 1e-9), ceil(log10(max) - 1e-9), target, 1);
    a.log = 1;
    a.ticks125 = a.step == 1 && pixels / (a.hi - a.lo) >= 45;
    return a;
}

/* v in a's units: itself, or its log10 on a log axis (which holds only
 * values above 0; anything else goes to its low end). */
static double units(const axis *a, double v) {
    v = clamp(v);
    return !a->log ? v : v > 0 ? log10(v) : a->lo;
}

static double map_units(const axis *a, double u, double px0, double px1) {
    return px0 + (u - a->lo) / (a->hi - a->lo) * (px1 - px0);
}

static double map(const axis *a, double v, double px0, double px1) { return map_units(a, units(a, v), px0, px1); }

/* The ticks of a, in its units, low to high: up to max into at; the count. */
static int ticks(const axis *a, double *at, int max) {
    int n = 0;
    if (a->ticks125) { /* 1, 2, 5, 10, 20, ... */
        for (double e = a->lo; e < a->hi && n + 3 < max; e++) {
            at[n++] = e;
            at[n++] = e + log10(2.0);
            at[n++] = e + log10(5.0);
        }
        at[n++] = a->hi;
        return n;
    }
    double count = floor((a->hi - a->lo) / a->step + 0.5);
    count = count < 1 ? 1 : count > max - 1 ? max - 1 : count;
    for (int i = 0; i <= (int)count; i++) at[n++] = a->lo + i * a->step;
    return n;
}

/* The label of the tick at u (in a's units). A linear axis's labels take
 * their digits from the tick spacing, so that neighbours always differ:
 * 1.2340 1.2342 ..., not 1.234 1.234 (%.4g); steps read 25000, not 2.5e+04.
 * A log axis's ticks are m x 10^e (m = 1, 2 or 5): 0.002 or 500 written
 * out, 2e-5 and 1e6 in short. */
static void tick_label(char *buf, size_t cap, const axis *a, double u) {
    if (a->log) {
        const double e = floor(u + 1e-9), m = floor(pow(10, u - e) + 0.5);
        if (e >= -3 && e <= 4)
            snprintf(buf, cap, "%.*f", e < 0 ? (int)-e : 0, m * pow(10, e));
        else
            snprintf(buf, cap, "%.0fe%.0f", m, e);
        return;
    }
    const double big = fmax(fabs(a->lo), fabs(a->hi));
    const int s = (int)floor(log10(a->step) + 1e-9); /* step = 1, 2 or 5 x 10^s */
    if (fabs(u) < a->step * 1e-6) /* 0, not -1e-17 from lo + i * step */
        snprintf(buf, cap, "0");
    else if (big < 1e15 && (s >= 0 || (s >= -6 && big >= 1e-4)))
        snprintf(buf, cap, "%.*f", s < 0 ? -s : 0, u);
    else { /* as many significant digits as from the largest tick's down to the spacing's */
        int digits = (int)floor(log10(big)) - s + 1;
        snprintf(buf, cap, "%.*g", digits < 1 ? 1 : digits > 17 ? 17 : digits, u);
    }
}

/* s as XML character data: markup escaped; control characters and
 * invalid UTF-8 (a path may hold any byte), which XML cannot carry, as '?'. */
static void xml_text(FILE *f, const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), pos = 0;
    while (pos < n) {
        size_t at = pos;
        int32_t c = rnn_utf8_next(u, n, &pos);
        if (c == '&') fputs("&amp;", f);
        else if (c == '<') fputs("&lt;", f);
        else if (c == '>') fputs("&gt;", f);
        else if (c == '"') fputs("&quot;", f);
        else if (c < 0x20 || c == 0x7F) fputc('?', f);
        else fwrite(s + at, 1, pos - at, f);
    }
}

typedef struct {
    int col;
    const char *label, *color;
} series;

typedef struct {
    const char *title;
    int height;
    series s[2];
    int ns, may_log; /* may_log: a log y axis when the values span orders of magnitude */
} panel;

/* One series as polylines (a gap at every non-finite value), with point
 * markers when there are few points. Consecutive points in one pixel column
 * are drawn as the first, lowest, highest and last of them: the same line,
 * in at most ~4 points per pixel however long the run. */
static void draw_series(FILE *f, const table *t, const series *s, const axis *xa, const axis *ya,
                        double top, double bottom) {
    const double *x = t->v[C_STEP], *y = t->v[s->col];
    int open = 0;
    for (size_t i = 0; i < t->n;) {
        if (!isfinite(y[i])) {
            if (open) fputs("\"/>\n", f);
            open = 0;
            i++;
            continue;
        }
        if (!open)
            fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"",
                    col_name[s->col], s->color);
        const double col = floor(map(xa, x[i], LEFT, LEFT + PLOT_W));
        size_t j = i, lo = i, hi = i;
        while (j + 1 < t->n && isfinite(y[j + 1]) && floor(map(xa, x[j + 1], LEFT, LEFT + PLOT_W)) == col) {
            j++;
            if (y[j] < y[lo]) lo = j;
            if (y[j] > y[hi]) hi = j;
        }
        size_t pick[4] = {i, lo < hi ? lo : hi, lo < hi ? hi : lo, j};
        for (int k = 0; k < 4; k++)
            if (k == 0 || pick[k] != pick[k - 1]) {
                fprintf(f, "%s%.2f,%.2f", open ? " " : "", map(xa, x[pick[k]], LEFT, LEFT + PLOT_W),
                        map(ya, y[pick[k]], bottom, top));
                open = 1;
            }
        i = j + 1;
    }
    if (open) fputs("\"/>\n", f);
    if (t->n > 60) return;
    for (size_t i = 0; i < t->n; i++)
        if (isfinite(y[i]))
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n",
                    map(xa, x[i], LEFT, LEFT + PLOT_W), map(ya, y[i], bottom, top), s->color);
}

/* A series' infinite values (a diverged loss, an lr overflowing), which no
 * axis can place: a triangle at their step whose tip touches the frame's top
 * edge (+inf) or bottom edge (-inf), one per pixel column and sign. */
static void draw_infinities(FILE *f, const table *t, const series *s, const axis *xa, double top, double bottom) {
    const double *x = t->v[C_STEP], *y = t->v[s->col];
    double last_col[2] = {-1, -1}; /* the pixel column of the last mark at the top, at the bottom */
    for (size_t i = 0; i < t->n; i++) {
        if (!isinf(y[i])) continue;
        const int down = y[i] < 0;
        const double px = map(xa, x[i], LEFT, LEFT + PLOT_W);
        if (floor(px) == last_col[down]) continue;
        last_col[down] = floor(px);
        fprintf(f, "<path class=\"nonfinite\" d=\"M%.2f,%.2f l4,%d h-8 z\" fill=\"%s\"/>\n", px, down ? bottom : top,
                down ? -8 : 8, s->color);
    }
}

/* A panel at vertical offset y0: frame, grid, ticks, series and legend. */
static void draw_panel(FILE *f, const table *t, const panel *p, const axis *xa, double y0) {
    const double top = y0 + 28, bottom = y0 + p->height - 30;
    double lo = INFINITY, hi = -INFINITY;
    size_t ninf = 0;
    for (int k = 0; k < p->ns; k++)
        for (size_t i = 0; i < t->n; i++) {
            /* isfinite before clamp, which would make an inf 1e100 */
            const double v = t->v[p->s[k].col][i];
            if (isfinite(v)) lo = fmin(lo, clamp(v)), hi = fmax(hi, clamp(v));
            ninf += isinf(v) != 0;
        }
    fprintf(f, "<text x=\"%d\" y=\"%.0f\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", LEFT, y0 + 18, p->title);
    if (ninf)
        fprintf(f, "<text class=\"note\" x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#888\">%zu value%s not finite: "
                   "marked at the frame's edge</text>\n",
                LEFT + 9.0 * strlen(p->title) + 14, y0 + 18, ninf, ninf == 1 ? "" : "s");
    fprintf(f, "<rect class=\"plot\" x=\"%d\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" fill=\"none\" stroke=\"#444\"/>\n",
            LEFT, top, PLOT_W, bottom - top);
    char buf[32];
    double at[MAX_TICKS];
    for (int i = 0, n = ticks(xa, at, MAX_TICKS); i < n; i++) {
        const double px = map_units(xa, at[i], LEFT, LEFT + PLOT_W);
        tick_label(buf, sizeof buf, xa, at[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e4e4e4\"/>\n", px, top, px, bottom);
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", px, bottom + 14, buf);
    }
    for (int k = 0; k < p->ns; k++) draw_infinities(f, t, &p->s[k], xa, top, bottom);
    if (!(lo <= hi)) { /* nothing finite to draw (e.g. before a first validation) */
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\" fill=\"#888\">no values</text>\n",
                LEFT + PLOT_W / 2.0, (top + bottom) / 2);
        return;
    }
    /* A loss or lr spanning more than 30x (a diverged run, a --schedule step
     * lr falling 10x at a time) is all at the floor of a linear axis: it
     * gets a log one. Not with a value of 0 or below, which no log axis
     * holds: an lr of 0 (cosine's last, --lr 0) stays linear, where 0 is at
     * its true place rather than pinned to an edge that reads as 1e-N. */
    const axis ya = p->may_log && lo > 0 && hi > 30 * lo ? log_axis(lo, hi, bottom - top) : nice_axis(lo, hi, 5, 0);
    for (int i = 0, n = ticks(&ya, at, MAX_TICKS); i < n; i++) {
        const double py = map_units(&ya, at[i], bottom, top);
        tick_label(buf, sizeof buf, &ya, at[i]);
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#e4e4e4\"/>\n", LEFT, py, LEFT + PLOT_W, py);
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", LEFT - 6, py + 4, buf);
    }
    /* The legend: one row on the title's line, ending at the frame's right. */
    double lx = LEFT + PLOT_W;
    for (int k = 0; k < p->ns; k++) lx -= 44 + 7 * strlen(p->s[k].label);
    for (int k = 0; k < p->ns; k++) {
        draw_series(f, t, &p->s[k], xa, &ya, top, bottom);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                lx, y0 + 14, lx + 22, y0 + 14, p->s[k].color);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">%s</text>\n", lx + 28, y0 + 18, p->s[k].label);
        lx += 44 + 7 * strlen(p->s[k].label);
    }
}

static int has_finite(const table *t, int c) {
    for (size_t i = 0; i < t->n; i++)
        if (isfinite(t->v[c][i])) return 1;
    return 0;
}

/* The whole document. */
static void draw(FILE *f, const table *t, const char *title) {
    panel panels[3] = {
        {"loss (nats)", 300, {{C_TRAIN, "train", "#1f77b4"}, {C_VAL, "validation", "#d62728"}}, 2, 1},
        {"validation accuracy", 220, {{C_ACC, "accuracy", "#2ca02c"}, {C_F1, "macro-F1", "#9467bd"}},
         has_finite(t, C_F1) ? 2 : 1, 0},
        {"learning rate", 160, {{C_LR, "lr", "#555555"}}, 1, 1},
    };
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        double x = clamp(t->v[C_STEP][i]);
        xmin = x < xmin ? x : xmin, xmax = x > xmax ? x : xmax;
    }
    axis xa = nice_axis(xmin, xmax, 8, 1);
    int height = 40 + 24;
    for (int k = 0; k < 3; k++) height += panels[k].height;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            WIDTH, height, WIDTH, height);
    fputs("<text x=\"12\" y=\"24\" font-size=\"15\">", f);
    xml_text(f, title);
    fprintf(f, " (%zu validations, up to step %.0f)</text>\n", t->n, xmax);
    double y0 = 40;
    for (int k = 0; k < 3; k++) {
        draw_panel(f, t, &panels[k], &xa, y0);
        y0 += panels[k].height;
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">step</text>\n</svg>\n",
            LEFT + PLOT_W / 2.0, y0 + 8);
}

typedef struct {
    const table *t;
    const char *title;
} plot_job;

static int fill_plot(FILE *f, void *arg) {
    const plot_job *j = arg;
    draw(f, j->t, j->title);
    return ferror(f) ? -1 : 0;
}

int rnn_plot_metrics_note(const char *csv_path, const char *svg_path, const char *title, char *note,
                          size_t note_cap) {
    char spare[1];
    if (!note || !note_cap) note = spare, note_cap = sizeof spare;
    note[0] = 0;
    struct stat in, out;
    if (stat(csv_path, &in) == 0 && stat(svg_path, &out) == 0 && in.st_dev == out.st_dev &&
        in.st_ino == out.st_ino)
        return rnn_errorf("%s: is the metrics file itself; the plot needs another name", svg_path);
    table t = {0};
    if (read_csv(csv_path, &t, note, note_cap)) {
        table_free(&t);
        return -1;
    }
    /* Written beside the plot and renamed over it when whole: a run being
     * trained redraws it while `rnn plot` may too. */
    plot_job job = {&t, title ? title : csv_path};
    const int rc = rnn_replace_file(svg_path, fill_plot, &job);
    table_free(&t);
    return rc;
}

int rnn_plot_metrics(const char *csv_path, const char *svg_path, const char *title) {
    char note[sizeof "warning: " + 8192];
    const int rc = rnn_plot_metrics_note(csv_path, svg_path, title, note, sizeof note);
    if (note[0]) fprintf(stderr, "rnn: %s\n", note);
    return rc;
}
