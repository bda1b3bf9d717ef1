/* test_plot.c: metrics.csv drawn as SVG (src/plot.c).
 * - Each series is a polyline whose points are an affine image of the CSV
 *   values: the ratios of their coordinate differences equal the ratios of
 *   the values' differences, computed here by hand, whatever the axes.
 * - Every point lies inside its panel's frame; a nan leaves a gap; a column
 *   of nan (a language model's macro-F1) draws nothing.
 * - An inf scales no axis and is marked at the frame's edge; a loss or lr
 *   spanning more than 30x (all above 0) is on a log axis, checked by the
 *   ratios of the logs; tick labels are whole steps and differ from their
 *   neighbours, and say where a value is drawn.
 * - Malformed files fail with file:line and leave an existing plot alone; a
 *   torn last line (no newline) is left out with one warning line. */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "plot.h"
#include "util.h"

static char dir[] = "/tmp/rnn_plot_XXXXXX"; /* mkdtemp replaces the six X: a fresh directory */
static char csv[64], svg[64];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *slurp(const char *path) {
    size_t len;
    return rnn_read_file(path, &len);
}

/* The points of every <polyline class="cls"> in svg, in order: up to max
 * (x, y) pairs into xy; returns the count, *lines the number of polylines. */
static int points_of(const char *doc, const char *cls, double *xy, int max, int *lines) {
    char key[64];
    snprintf(key, sizeof key, "<polyline class=\"%s\"", cls);
    int n = 0;
    *lines = 0;
    for (const char *p = strstr(doc, key); p; p = strstr(p + 1, key)) {
        (*lines)++;
        const char *q = strstr(p, "points=\"");
        if (!q) break;
        q += 8;
        while (*q && *q != '"' && n < max) {
            char *end;
            xy[2 * n] = strtod(q, &end);
            if (*end != ',') break;
            xy[2 * n + 1] = strtod(end + 1, &end);
            n++;
            q = end;
            while (*q == ' ') q++;
        }
    }
    return n;
}

/* The frames (<rect class="plot">) in document order: x, y, w, h each. */
static int frames(const char *doc, double *r, int max) {
    int n = 0;
    for (const char *p = strstr(doc, "<rect class=\"plot\""); p && n < max; p = strstr(p + 1, "<rect class=\"plot\"")) {
        if (sscanf(p, "<rect class=\"plot\" x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\"", &r[4 * n],
                   &r[4 * n + 1], &r[4 * n + 2], &r[4 * n + 3]) != 4)
            break;
        n++;
    }
    return n;
}

static int inside(const double *xy, int n, const double *rect) {
    for (int i = 0; i < n; i++)
        if (xy[2 * i] < rect[0] - 1e-6 || xy[2 * i] > rect[0] + rect[2] + 1e-6 ||
            xy[2 * i + 1] < rect[1] - 1e-6 || xy[2 * i + 1] > rect[1] + rect[3] + 1e-6)
            return 0;
    return 1;
}

/* Entries in the test directory but . and .. */
static int files_in_dir(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* The tick labels of the panel framed by rect: the 11-point texts with the
 * given text-anchor ("end": the y axis, left of the frame; "middle": the x
 * axis, under it), in document order (the drawing's order: low to high
 * values). Up to max labels into label, their y (for "end") or x (for
 * "middle") into pos; returns the count. */
static int tick_labels(const char *doc, const double *rect, const char *anchor, char (*label)[32], double *pos,
                       int max) {
    int n = 0;
    for (const char *p = strstr(doc, "<text "); p && n < max; p = strstr(p + 1, "<text ")) {
        double x, y;
        char a[16], l[32];
        if (sscanf(p, "<text x=\"%lf\" y=\"%lf\" font-size=\"11\" text-anchor=\"%15[^\"]\">%31[^<]<", &x, &y, a, l) != 4)
            continue;
        if (strcmp(a, anchor) || y < rect[1] - 1 || y > rect[1] + rect[3] + 20) continue;
        snprintf(label[n], 32, "%s", l);
        pos[n++] = !strcmp(anchor, "end") ? y : x;
    }
    return n;
}

/* 1 if every label is a whole number (strtod reads all of it) into v. */
static int label_values(char (*label)[32], int n, double *v) {
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(label[i], &end);
        if (end == label[i] || *end) return 0;
    }
    return 1;
}

/* Runs rnn_plot_metrics(csv, svg, NULL) with stderr going to a file; its
 * return value, and what it wrote on stderr in err (cap bytes). */
static int plot_capturing_stderr(char *err, size_t cap) {
    char path[80];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    fflush(stderr);
    const int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) {
        if (saved >= 0) close(saved);
        if (fd >= 0) close(fd);
        snprintf(err, cap, "(cannot capture stderr)");
        return -2;
    }
    dup2(fd, 2);
    close(fd);
    const int rc = rnn_plot_metrics(csv, svg, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *text = slurp(path);
    snprintf(err, cap, "%s", text ? text : "");
    free(text);
    unlink(path);
    return rc;
}

static const char *HEADER = "step,elapsed_s,tokens,train_loss,val_loss,val_acc,val_macro_f1,lr,tokens_per_s\n";

static void test_classifier_plot(void) {
    char text[1024];
    snprintf(text, sizeof text,
             "%s100,1.0,5000,2.0,1.8,0.50,0.40,2e-3,100\n"
             "200,2.0,10000,1.5,1.2,0.60,0.55,1e-3,100\n"
             "\n" /* a blank line is skipped */
             "400,4.0,20000,1.0,1.4,0.70,0.65,5e-4,100\n",
             HEADER);
    write_file(csv, text);
    CHECK(rnn_plot_metrics(csv, svg, "a <test> & run") == 0, "plot: %s", rnn_last_error());
    char *doc = slurp(svg);
    CHECK(doc != NULL, "the svg was written");
    if (!doc) return;
    CHECK(!strncmp(doc, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39), "an svg document");
    CHECK(strstr(doc, "</svg>") != NULL, "the document is closed");
    CHECK(strstr(doc, "a &lt;test&gt; &amp; run") != NULL, "the title is escaped");
    double rect[12], xy[32];
    CHECK(frames(doc, rect, 3) == 3, "three panels");
    int lines;
    /* The steps 100, 200, 400: x differences in the ratio 1 : 2. */
    int n = points_of(doc, "val_loss", xy, 16, &lines);
    CHECK(n == 3 && lines == 1, "val_loss: 3 points in one line (got %d in %d)", n, lines);
    if (n == 3) {
        double rx = (xy[4] - xy[2]) / (xy[2] - xy[0]);
        CHECK(fabs(rx - 2.0) < 1e-3, "x spacing follows the steps (ratio %.4f, want 2)", rx);
        /* val loss 1.8, 1.2, 1.4: (y0 - y1) / (y2 - y1) = 0.6 / 0.2 = 3. */
        double ry = (xy[1] - xy[3]) / (xy[5] - xy[3]);
        CHECK(fabs(ry - 3.0) < 1e-2, "y follows the values (ratio %.4f, want 3)", ry);
        CHECK(xy[3] > xy[1] && xy[3] > xy[5], "lower loss is drawn lower (SVG y grows downwards)");
        CHECK(inside(xy, n, rect), "validation loss inside the loss panel");
    }
    double txy[32];
    n = points_of(doc, "train_loss", txy, 16, &lines);
    CHECK(n == 3 && lines == 1, "train_loss: 3 points (got %d)", n);
    if (n == 3) { /* the same y axis: train 2.0 above val 1.8 at step 100; 1.5 - 1.2 = 0.3 = half of 1.8 - 1.2 */
        CHECK(txy[1] < xy[1], "train 2.0 drawn above val 1.8");
        double r = (xy[3] - txy[3]) / (xy[3] - xy[1]);
        CHECK(fabs(r - 0.5) < 1e-2, "one y axis for both losses (ratio %.4f, want 0.5)", r);
        CHECK(fabs(txy[0] - xy[0]) < 1e-9, "the same x for the same step");
    }
    n = points_of(doc, "val_acc", xy, 16, &lines);
    CHECK(n == 3 && inside(xy, n, rect + 4), "accuracy: 3 points inside the second panel");
    if (n == 3) { /* 0.5, 0.6, 0.7: evenly spaced in y, higher is higher */
        double r = (xy[3] - xy[5]) / (xy[1] - xy[3]);
        CHECK(fabs(r - 1.0) < 1e-2 && xy[5] < xy[1], "accuracy y (ratio %.4f, want 1)", r);
    }
    n = points_of(doc, "val_macro_f1", xy, 16, &lines);
    CHECK(n == 3, "a classifier's macro-F1 is drawn (%d points)", n);
    n = points_of(doc, "lr", xy, 16, &lines);
    CHECK(n == 3 && inside(xy, n, rect + 8), "lr: 3 points inside the third panel");
    if (n == 3) { /* 2e-3, 1e-3, 5e-4: (y1 - y0) / (y2 - y1) = 1e-3 / 5e-4 = 2 */
        double r = (xy[3] - xy[1]) / (xy[5] - xy[3]);
        CHECK(fabs(r - 2.0) < 1e-2, "lr y (ratio %.4f, want 2)", r);
    }
    CHECK(files_in_dir() == 2, "no temporary file left behind (%d files)", files_in_dir());
    free(doc);
}

/* Values no axis can span in doubles, or can tell apart, still give a plot
 * with finite coordinates, a handful of ticks, and the document closed. */
static void test_extreme_values(void) {
    const char *cases[] = {
        "1,1.7e308,-1.7e308,0.5,1e-3\n2,inf,1e300,0.5,1e-3\n",       /* overflowing ranges */
        "1,nan,1e16,0.5,0\n2,nan,10000000000000004,0.5,0\n",        /* 1e16 and 1e16+4 */
        "10000000000000000,1,2,0.5,1e-3\n10000000000000004,1,2,0.5,1e-3\n", /* such steps */
        "-1.7e308,1,2,0.5,1e-3\n1.7e308,1,2,0.5,1e-3\n",              /* steps */
        "5,1,2,0.5,1e-3\n",                                             /* one row */
        "5,1,2,0.5,1e-3\n5,1,2,0.5,1e-3\n",                            /* the same step twice */
        "1,1e-310,2,0.5,1e-3\n2,1e400,2,0.5,1e-3\n",                   /* underflow, overflow */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "step,train_loss,val_loss,val_acc,lr\n%s", cases[i]);
        write_file(csv, text);
        CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "case %zu plots: %s", i, rnn_last_error());
        size_t len = 0;
        char *doc = rnn_read_file(svg, &len);
        CHECK(doc && len < 100000 && strstr(doc, "</svg>"), "case %zu: a whole, small document (%zu bytes)", i, len);
        CHECK(doc && !strstr(doc, "nan") && !strstr(doc, "inf"), "case %zu: no nan or inf coordinates", i);
        free(doc);
    }
}

/* The title is any path: markup escaped, control bytes and invalid UTF-8
 * replaced, so that the document stays well-formed XML in UTF-8. */
static void test_title_is_valid_xml(void) {
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5,1e-3\n");
    CHECK(rnn_plot_metrics(csv, svg, "runs/\001x\377<&\"\xc3\xa9") == 0, "plot: %s", rnn_last_error());
    size_t len = 0;
    char *doc = rnn_read_file(svg, &len);
    if (!doc) {
        CHECK(0, "no svg");
        return;
    }
    CHECK(strstr(doc, "runs/?x?&lt;&amp;&quot;\xc3\xa9 (") != NULL, "escaped title (%.60s)", strstr(doc, "runs/"));
    size_t pos = 0;
    int valid = 1;
    while (pos < len && valid) {
        int32_t c = rnn_utf8_next((const unsigned char *)doc, len, &pos);
        valid = c >= 0x20 || c == '\n';
    }
    CHECK(valid, "the document is UTF-8 without control characters (bad byte at %zu)", pos - 1);
    free(doc);
}

static void test_language_model_plot(void) {
    char text[1024];
    /* A language model's metrics: macro-F1 is nan; the train loss of the
     * second row is nan (no step since the last validation): a gap. */
    snprintf(text, sizeof text,
             "%s1000,10,4096,4.9,4.6,0.20,nan,2e-3,400\n"
             "2000,20,8192,nan,4.4,0.22,nan,2e-3,400\n"
             "3000,30,12288,4.3,4.3,0.23,nan,2e-3,400\n"
             "4000,40,16384,4.2,4.25,0.24,nan,2e-3,400\n",
             HEADER);
    write_file(csv, text);
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "plot: %s", rnn_last_error());
    char *doc = slurp(svg);
    if (!doc) {
        CHECK(0, "no svg");
        return;
    }
    double xy[32];
    int lines, n = points_of(doc, "val_macro_f1", xy, 16, &lines);
    CHECK(n == 0 && lines == 0, "no macro-F1 line for a language model");
    CHECK(strstr(doc, "macro-F1") == NULL, "no macro-F1 legend");
    n = points_of(doc, "train_loss", xy, 16, &lines);
    CHECK(n == 3 && lines == 2, "the nan breaks the train line: 3 points in 2 lines (got %d in %d)", n, lines);
    CHECK(strstr(doc, csv) != NULL, "without a title the csv's path is the title");
    free(doc);
}

/* A long run: 200,000 validations draw at most ~4 points per pixel column,
 * keeping each column's extremes (the spike at row 100,000 and the dip at
 * the end still show), so the SVG stays small. */
static void test_long_run(void) {
    FILE *f = fopen(csv, "w");
    if (!f) {
        CHECK(0, "cannot write %s", csv);
        return;
    }
    fputs(HEADER, f);
    const int N = 200000;
    for (int i = 1; i <= N; i++) {
        double val = i == 100000 ? 9.0 : i == N ? 0.5 : 2.0 + 1.0 / i;
        fprintf(f, "%d,%d,%d,nan,%.6f,0.5,nan,1e-3,100\n", i, i, i * 10, val);
    }
    fclose(f);
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "plot: %s", rnn_last_error());
    size_t len = 0;
    char *doc = rnn_read_file(svg, &len);
    if (!doc) {
        CHECK(0, "no svg");
        return;
    }
    CHECK(len < 400000, "the plot of 200,000 rows is %zu bytes", len);
    static double xy[2 * 8000];
    int lines, n = points_of(doc, "val_loss", xy, 8000, &lines);
    CHECK(lines == 1 && n > 100 && n <= 4 * 760, "one line of %d points", n);
    double ymin = 1e9, ymax = -1e9;
    for (int i = 0; i < n; i++) {
        const double y = xy[2 * i + 1];
        ymin = y < ymin ? y : ymin, ymax = y > ymax ? y : ymax;
    }
    double span = ymax - ymin, last = xy[2 * (n - 1) + 1];
    /* SVG y grows downwards: the spike (9.0) is the top, the last row (0.5) the bottom */
    CHECK(span > 100 && last == ymax, "the extremes survive: y from %.1f to %.1f, last %.1f", ymin, ymax, last);
    free(doc);
}

/* An inf loss (a diverged step) is no value to scale the axis by: the finite
 * losses 2.5 and 2.0 still span the panel, and the infs are marked at its
 * top edge, at their steps, with a note saying how many. */
static void test_inf_loss(void) {
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n100,2.5,inf,0.5,1e-3\n200,2.0,inf,0.6,1e-3\n");
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "plot: %s", rnn_last_error());
    char *doc = slurp(svg);
    if (!doc) {
        CHECK(0, "no svg");
        return;
    }
    double rect[12], xy[8];
    int lines, n = points_of(doc, "train_loss", xy, 4, &lines);
    CHECK(frames(doc, rect, 3) == 3, "three panels");
    CHECK(n == 2 && inside(xy, n, rect), "train_loss: 2 points inside the loss panel (got %d)", n);
    /* 2.0 .. 2.5 is the whole axis: the two points are most of the frame's 242 px apart */
    if (n == 2)
        CHECK(xy[3] - xy[1] > 0.8 * rect[3], "2.5 and 2.0 drawn %.2f px apart in a frame of %.0f", xy[3] - xy[1],
              rect[3]);
    char label[64][32];
    double pos[64], v[64];
    int nl = tick_labels(doc, rect, "end", label, pos, 64);
    CHECK(nl >= 2 && label_values(label, nl, v) && v[0] >= 1.9 && v[nl - 1] <= 2.6,
          "the loss axis spans the finite losses: %d labels, %s .. %s", nl, nl ? label[0] : "", nl ? label[nl - 1] : "");
    /* each inf: a mark whose tip is on the top edge, above its step */
    int marks = 0;
    for (const char *p = strstr(doc, "<path class=\"nonfinite\""); p; p = strstr(p + 1, "<path class=\"nonfinite\"")) {
        double mx, my;
        if (sscanf(p, "<path class=\"nonfinite\" d=\"M%lf,%lf", &mx, &my) != 2) break;
        CHECK(n == 2 && fabs(mx - xy[2 * marks]) < 1e-6 && fabs(my - rect[1]) < 1e-6,
              "inf mark %d at (%.2f, %.2f): want (%.2f, %.2f)", marks, mx, my, n == 2 ? xy[2 * marks] : 0, rect[1]);
        marks++;
    }
    CHECK(marks == 2, "two inf marks (got %d)", marks);
    CHECK(strstr(doc, "2 values not finite") != NULL, "the loss panel says 2 values are not finite");
    CHECK(strstr(doc, "nan") == NULL && strstr(doc, "e+100") == NULL, "no nan or 1e100 anywhere");
    free(doc);
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n100,inf,inf,0.5,1e-3\n");
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "only infs: %s", rnn_last_error());
    doc = slurp(svg);
    CHECK(doc && strstr(doc, "no values") && strstr(doc, "<path class=\"nonfinite\"") && strstr(doc, "2 values not finite"),
          "a panel of infs alone says so and marks them");
    free(doc);
}

/* y of the point of series cls at index i (NAN when there is none). */
static double y_of(const char *doc, const char *cls, int i) {
    double xy[64];
    int lines, n = points_of(doc, cls, xy, 32, &lines);
    return i < n ? xy[2 * i + 1] : NAN;
}

/* Values spanning more than 30x, all above 0, go on a log axis: a diverged
 * resumed run, a --schedule step lr falling by 10x, an lr that jumps to 5.
 * Where the axis is log, y differences follow the logs of the values' ratios,
 * and every label is 1, 2 or 5 times a power of ten. With a 0 among them (a
 * cosine schedule's last lr) the axis stays linear: no log axis holds 0. */
static void test_log_axis(void) {
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n"
                    "100,2.7,2.6,0.01,2e-4\n200,2.2,2.1,0.5,2e-5\n300,1.8,1.9,0.9,2e-6\n"
                    "400,84.9,80,0.1,2e-3\n500,67.4,70,0.1,5\n");
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "plot: %s", rnn_last_error());
    char *doc = slurp(svg);
    if (!doc) {
        CHECK(0, "no svg");
        return;
    }
    double rect[12];
    CHECK(frames(doc, rect, 3) == 3, "three panels");
    /* loss: (y(1.8) - y(2.7)) / (y(1.8) - y(84.9)) = log(2.7/1.8) / log(84.9/1.8) */
    double a = y_of(doc, "train_loss", 0), b = y_of(doc, "train_loss", 2), c = y_of(doc, "train_loss", 3);
    double r = (b - a) / (b - c), want = log(2.7 / 1.8) / log(84.9 / 1.8);
    CHECK(fabs(r - want) < 1e-3, "log loss axis: ratio %.5f, want %.5f (linear: %.5f)", r, want, 0.9 / 83.1);
    CHECK(b - a > 15, "2.7 and 1.8 are %.1f px apart", b - a);
    char label[64][32];
    double pos[64], v[64];
    for (int k = 0; k < 3; k += 2) {
        int n = tick_labels(doc, rect + 4 * k, "end", label, pos, 64), good = n >= 3 && label_values(label, n, v);
        for (int i = 0; good && i < n; i++) {
            const double m = v[i] / pow(10, floor(log10(v[i]) + 1e-9));
            good = v[i] > 0 && (fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9) && (i == 0 || v[i] > v[i - 1]);
        }
        CHECK(good, "panel %d: %d labels rising by 1-2-5 x a power of ten (%s .. %s)", k, n, n ? label[0] : "",
              n ? label[n - 1] : "");
    }
    int n = tick_labels(doc, rect + 8, "end", label, pos, 64), has4 = 0, has6 = 0;
    for (int i = 0; i < n && label_values(label, n, v); i++) has4 |= v[i] == 1e-4, has6 |= v[i] == 1e-6;
    CHECK(has4 && has6, "the lr axis has 1e-4 and 1e-6 labels");
    /* lr 2e-4, 2e-5, 2e-6: equal steps down; 2e-3 -> 5: (y(2e-3) - y(2e-4)) / (y(2e-4) - y(5)) = log(10) / log(25000) */
    double l0 = y_of(doc, "lr", 0), l1 = y_of(doc, "lr", 1), l2 = y_of(doc, "lr", 2), l3 = y_of(doc, "lr", 3),
           l4 = y_of(doc, "lr", 4);
    CHECK(fabs((l2 - l1) / (l1 - l0) - 1) < 1e-3 && l2 > l1, "lr 2e-4, 2e-5, 2e-6 evenly spaced: %.2f %.2f %.2f", l0, l1, l2);
    r = (l0 - l3) / (l0 - l4), want = log(10.0) / log(25000.0);
    CHECK(fabs(r - want) < 1e-3, "lr 2e-3 and 5 on the log axis: ratio %.5f, want %.5f", r, want);
    /* accuracy is never log: 0.01, 0.5, 0.9 are linear */
    a = y_of(doc, "val_acc", 0), b = y_of(doc, "val_acc", 1), c = y_of(doc, "val_acc", 2);
    CHECK(fabs((a - b) / (b - c) - 0.49 / 0.4) < 1e-3, "accuracy stays linear");
    free(doc);
    /* a cosine lr ending at 0: linear, 0 where it is */
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n100,2,2,0.5,1e-3\n200,2,2,0.5,5e-4\n300,2,2,0.5,1e-5\n400,2,2,0.5,0\n");
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "plot: %s", rnn_last_error());
    doc = slurp(svg);
    if (!doc) return;
    l0 = y_of(doc, "lr", 0), l1 = y_of(doc, "lr", 1), l2 = y_of(doc, "lr", 2), l3 = y_of(doc, "lr", 3);
    r = (l3 - l0) / (l3 - l1);
    CHECK(fabs(r - 2) < 1e-3 && fabs((l3 - l2) / (l3 - l0) - 0.01) < 1e-3, "an lr with a 0 stays linear (ratio %.4f)", r);
    free(doc);
}

/* The plot of metrics text, its three frames in rect; NULL (a failed
 * check) when it is not drawn so. The caller frees it. */
static char *plot_frames(const char *text, double *rect) {
    write_file(csv, text);
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0, "plot: %s", rnn_last_error());
    char *doc = slurp(svg);
    if (!doc || frames(doc, rect, 3) != 3) {
        CHECK(0, "no svg");
        free(doc);
        return NULL;
    }
    return doc;
}

/* Tick labels tell their ticks apart: the step axis has whole-number ticks
 * at least 1 apart, and a y axis as many decimals as its tick spacing needs. */
static void test_tick_labels(void) {
    const char *steps[] = {"20", "21", "5000", "5001", "0", "3", "999999", "1000003"};
    char label[64][32];
    double pos[64], v[64], rect[12];
    for (int k = 0; k < 8; k += 2) {
        char text[256];
        snprintf(text, sizeof text, "step,train_loss,val_loss,val_acc,lr\n%s,2,2,0.5,1e-3\n%s,1,1,0.5,1e-3\n", steps[k],
                 steps[k + 1]);
        char *doc = plot_frames(text, rect);
        if (!doc) continue;
        int n = tick_labels(doc, rect, "middle", label, pos, 64), good = n >= 2 && label_values(label, n, v);
        for (int i = 0; good && i < n; i++)
            good = v[i] == floor(v[i]) && !strchr(label[i], '.') && (i < 2 || v[i] - v[i - 1] == v[1] - v[0]) &&
                   (i == 0 || v[i] - v[i - 1] >= 1);
        CHECK(good && v[0] <= atof(steps[k]) && v[n - 1] >= atof(steps[k + 1]),
              "steps %s, %s: %d whole-number labels %s .. %s", steps[k], steps[k + 1], n, n ? label[0] : "",
              n > 1 ? label[1] : "");
        free(doc);
    }
    /* y: labels rise by one spacing, and say where they are (a point at a
     * label's value is drawn at its height) */
    const double ranges[][2] = {{1.2340, 1.2352}, {0.00012, 0.00013}, {123456.1, 123456.3}, {1e20, 1.0005e20},
                                {-0.5, 0.5}, {3e-7, 3.4e-7}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        char text[256];
        snprintf(text, sizeof text, "step,train_loss,val_loss,val_acc,lr\n1,%.17g,%.17g,0.5,1e-3\n2,%.17g,%.17g,0.5,1e-3\n",
                 ranges[k][0], ranges[k][0], ranges[k][1], ranges[k][1]);
        char *doc = plot_frames(text, rect);
        if (!doc) continue;
        int n = tick_labels(doc, rect, "end", label, pos, 64), good = n >= 3 && label_values(label, n, v);
        const double step = good ? v[1] - v[0] : 0;
        for (int i = 1; good && i < n; i++)
            good = strcmp(label[i], label[i - 1]) && fabs(v[i] - v[i - 1] - step) <= 1e-6 * step;
        CHECK(good && step > 0, "y %.10g .. %.10g: %d labels %s, %s, .. %s rising evenly", ranges[k][0], ranges[k][1], n,
              n ? label[0] : "", n > 1 ? label[1] : "", n ? label[n - 1] : "");
        if (good && step > 0) { /* label y = tick y + 4 */
            const double y = pos[0] - 4 + (ranges[k][0] - v[0]) / (v[n - 1] - v[0]) * (pos[n - 1] - pos[0]);
            CHECK(fabs(y - y_of(doc, "val_loss", 0)) < 0.05, "y %.10g: the labels put it at %.2f, drawn at %.2f",
                  ranges[k][0], y, y_of(doc, "val_loss", 0));
        }
        free(doc);
    }
}

/* A metrics.csv whose last line was cut short (a crash mid-write: no newline,
 * too few fields or a number cut off) draws the rows before it, with one
 * warning line naming file:line; cut short in the middle, it stays an error. */
static void test_torn_last_line(void) {
    const char *rows = "100,1.0,5000,2.0,1.8,0.50,nan,2e-3,100\n200,2.0,10000,1.5,1.2,0.60,nan,1e-3,100\n";
    const char *torn[][3] = {
        {HEADER, rows, "700,15.1,14336"},
        {"step,train_loss,val_loss,val_acc,lr\n", "100,2,1.8,0.5,2e-3\n200,1.5,1.2,0.6,1e-3\n", "300,1.4,1.1,0.61,1e-"},
    };
    char text[512], err[1024], want[128];
    for (int k = 0; k < 2; k++) {
        snprintf(text, sizeof text, "%s%s%s", torn[k][0], torn[k][1], torn[k][2]);
        write_file(csv, text);
        const int rc = plot_capturing_stderr(err, sizeof err);
        CHECK(rc == 0, "torn %d: plotted (%s)", k, rc ? rnn_last_error() : "");
        snprintf(want, sizeof want, "%s:4: ", csv);
        const char *nl = strchr(err, '\n');
        CHECK(strstr(err, want) && strstr(err, "warning") && nl && !nl[1], "torn %d: one warning line naming %s: '%s'", k,
              want, err);
        double xy[16];
        int lines;
        char *doc = slurp(svg);
        const int n = doc ? points_of(doc, "val_loss", xy, 8, &lines) : 0;
        CHECK(n == 2, "torn %d: the 2 whole rows are drawn (%d)", k, n);
        free(doc);
    }
    /* a whole row without its newline is a row, drawn without a word */
    snprintf(text, sizeof text, "%s%s300,3.0,15000,1.4,1.1,0.61,nan,1e-3,100", HEADER, rows);
    write_file(csv, text);
    CHECK(plot_capturing_stderr(err, sizeof err) == 0 && !err[0], "an unterminated whole row: no warning ('%s')", err);
    double xy[16];
    int lines;
    char *doc = slurp(svg);
    CHECK(doc && points_of(doc, "val_loss", xy, 8, &lines) == 3, "... and its 3 rows drawn");
    free(doc);
    /* cut short and then written after: an error, the plot left as it was */
    snprintf(text, sizeof text, "%s%s700,15.1,14336\n800,2.0,10000,1.5,1.2,0.60,nan,1e-3,100\n", HEADER, rows);
    write_file(csv, text);
    write_file(svg, "<svg>previous plot</svg>\n");
    CHECK(plot_capturing_stderr(err, sizeof err) == -1 && strstr(rnn_last_error(), ":4: 3 fields where the header has 9"),
          "a torn line in the middle is an error: %s", rnn_last_error());
    doc = slurp(svg);
    CHECK(doc && !strcmp(doc, "<svg>previous plot</svg>\n"), "... and the plot is untouched");
    free(doc);
}

/* A run resumed (before 2026-12-06) from a state older than its last rows
 * kept them, then trained those steps again: the later rows supersede the
 * earlier ones from their step on, and a note says how many were left out.
 * Here 300 and 400 come twice (the second 300 at line 6): 100 200 300 400
 * 500 are drawn, in step order, the second 300's loss (0.9), not the first's. */
static void test_superseded_rows(void) {
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n100,2,1.8,0.5,1e-3\n200,1.5,1.2,0.6,1e-3\n"
                    "300,1.4,1.1,0.61,1e-3\n400,1.3,1.0,0.62,1e-3\n300,1.4,0.9,0.63,1e-3\n400,1.3,0.8,0.64,1e-3\n"
                    "500,1.2,0.7,0.65,1e-3\n");
    char err[1024], want[256];
    const int rc = plot_capturing_stderr(err, sizeof err);
    CHECK(rc == 0, "plotted (%s)", rc ? rnn_last_error() : "");
    snprintf(want, sizeof want, "note: %s:6: 2 rows left out, superseded by later rows of the same steps", csv);
    CHECK(strstr(err, want) != NULL, "the note: '%s'", err);
    double xy[16];
    int lines;
    char *doc = slurp(svg);
    const int n = doc ? points_of(doc, "val_loss", xy, 8, &lines) : 0;
    int rising = n == 5;
    for (int i = 1; i < n; i++) rising &= xy[2 * i] > xy[2 * i - 2];
    /* y grows downward: the loss falls at every row, so each point is lower on the plot than the one before */
    for (int i = 1; i < n; i++) rising &= xy[2 * i + 1] > xy[2 * i - 1];
    CHECK(rising, "5 points, steps and losses in order (%d)", n);
    free(doc);
}

/* Each malformed file fails with the expected file:line message and leaves
 * the plot already there as it was. */
static void test_errors(void) {
    const char *good = "<svg>previous plot</svg>\n";
    struct {
        const char *text, *want;
    } cases[] = {
        {"", "empty file"},
        {"step,train_loss,val_loss,val_acc\n", ":1: no 'lr' column"},
        {"step,train_loss,val_loss,val_acc,lr\n", "no rows"},
        {"step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5,1e-3\n2,2,x3,0.5,1e-3\n", ":3: val_loss 'x3' is not a number"},
        {"step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5\n", ":2: 4 fields where the header has 5"},
        {"step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5,1e-3,7\n", ":2: 6 fields where the header has 5"},
        {"step,train_loss,val_loss,val_acc,lr\nnan,2,3,0.5,1e-3\n", ":2: step is not a finite number"},
        {"step,train_loss,val_loss,val_acc,lr\n1,,3,0.5,1e-3\n", ":2: train_loss '' is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(csv, cases[i].text);
        write_file(svg, good);
        int rc = rnn_plot_metrics(csv, svg, NULL);
        const char *msg = rnn_last_error();
        CHECK(rc == -1, "case %zu fails", i);
        CHECK(strstr(msg, csv) && strstr(msg, cases[i].want), "case %zu: '%s' names the file and says '%s'",
              i, msg, cases[i].want);
        char *doc = slurp(svg);
        CHECK(doc && !strcmp(doc, good), "case %zu: the existing plot is untouched", i);
        free(doc);
    }
    unlink(csv);
    CHECK(rnn_plot_metrics(csv, svg, NULL) == -1 && strstr(rnn_last_error(), "cannot open"),
          "a missing file: %s", rnn_last_error());
    write_file(csv, "step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5,1e-3\n");
    char before[] = "step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5,1e-3\n";
    CHECK(rnn_plot_metrics(csv, csv, NULL) == -1 && strstr(rnn_last_error(), "metrics file itself"),
          "plotting over its own csv is refused: %s", rnn_last_error());
    char *after = slurp(csv);
    CHECK(after && !strcmp(after, before), "the csv is untouched");
    free(after);
    char longfield[300] = "step,train_loss,val_loss,val_acc,lr\n1,2,";
    memset(longfield + strlen(longfield), '7', 200);
    strcpy(longfield + strlen(longfield) - 1, "x,0.5,1e-3\n");
    write_file(csv, longfield);
    CHECK(rnn_plot_metrics(csv, svg, NULL) == -1 && strlen(rnn_last_error()) < strlen(csv) + 120 &&
              strstr(rnn_last_error(), "...' is not a number"),
          "a long bad field is cut short: %s", rnn_last_error());
    /* A NUL byte would end the row unseen, the rest of it dropped; endless
     * input (/dev/zero: one line of NULs) must stop, not fill memory. */
    static const char nul_row[] = "step,train_loss,val_loss,val_acc,lr\n1,2,3,0.5,1e-3\0junk\n2,2,3,0.5,1e-3\n";
    FILE *nf = fopen(csv, "wb");
    if (nf) fwrite(nul_row, 1, sizeof nul_row - 1, nf), fclose(nf);
    CHECK(rnn_plot_metrics(csv, svg, NULL) == -1 && strstr(rnn_last_error(), ":2: a NUL byte"),
          "a NUL byte in a row is refused with its line: %s", rnn_last_error());
    nf = fopen(csv, "wb");
    if (nf) {
        fputs("step,train_loss,val_loss,val_acc,lr\n", nf);
        for (int i = 0; i < 70000; i++) fputc('7', nf);
        fclose(nf);
    }
    CHECK(rnn_plot_metrics(csv, svg, NULL) == -1 && strstr(rnn_last_error(), ":2: a line of over 65536 bytes"),
          "a line of 70,000 bytes is refused: %s", rnn_last_error());
    write_file(csv, before);
    char bad[128];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.svg", dir);
    CHECK(rnn_plot_metrics(csv, bad, NULL) == -1 && strstr(rnn_last_error(), bad) &&
              strstr(rnn_last_error(), "No such file or directory"),
          "an unwritable output: %s", rnn_last_error());
    /* The plot takes the mode an existing plot has, and leaves no temporary file. */
    CHECK(rnn_plot_metrics(csv, svg, NULL) == 0 && chmod(svg, 0640) == 0 &&
              rnn_plot_metrics(csv, svg, NULL) == 0,
          "redraw: %s", rnn_last_error());
    struct stat sb;
    CHECK(stat(svg, &sb) == 0 && (sb.st_mode & 0777) == 0640, "the redrawn plot keeps mode 0640: %o",
          (unsigned)(sb.st_mode & 0777));
    DIR *dd = opendir(dir);
    int stray = 0;
    for (struct dirent *e; dd && (e = readdir(dd));) stray += strstr(e->d_name, ".tmp.") != NULL;
    if (dd) closedir(dd);
    CHECK(dd && stray == 0, "no temporary file left beside the plot (%d)", stray);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    snprintf(svg, sizeof svg, "%s/metrics.svg", dir);
    RUN(test_classifier_plot);
    RUN(test_language_model_plot);
    RUN(test_extreme_values);
    RUN(test_title_is_valid_xml);
    RUN(test_superseded_rows);
    RUN(test_errors);
    RUN(test_long_run);
    RUN(test_inf_loss);
    RUN(test_log_axis);
    RUN(test_tick_labels);
    RUN(test_torn_last_line);
    unlink(csv);
    unlink(svg);
    rmdir(dir);
    return harness_end();
}
