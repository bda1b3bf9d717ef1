/* util.c: see util.h. */
#define _DEFAULT_SOURCE /* madvise */
#include "util.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char last_error[8192]; /* two PATH_MAXes: a message names a path in full */

size_t rnn_escape(char *out, size_t cap, const char *s) {
    size_t k = 0;
    const size_t n = strlen(s);
    for (const unsigned char *c = (const unsigned char *)s; *c && k + 5 < cap; c++) {
        if (*c >= 0x80) { /* a whole valid sequence as it is, else this byte escaped */
            size_t at = (size_t)(c - (const unsigned char *)s), end = at;
            if (rnn_utf8_next((const unsigned char *)s, n, &end) >= 0 && k + (end - at) + 5 < cap) {
                memcpy(out + k, c, end - at);
                k += end - at;
                c += end - at - 1;
            } else {
                k += (size_t)snprintf(out + k, 5, "\\x%02x", *c);
            }
        } else if (*c >= 0x20 && *c != 0x7f) out[k++] = (char)*c;
        else if (*c == '\n') out[k++] = '\\', out[k++] = 'n';
        else if (*c == '\r') out[k++] = '\\', out[k++] = 'r';
        else if (*c == '\t') out[k++] = '\\', out[k++] = 't';
        else k += (size_t)snprintf(out + k, 5, "\\x%02x", *c);
    }
    out[k] = 0;
    return k;
}

/* An error is one line of valid UTF-8 (rnn_escape): control characters and
 * invalid bytes that a file's contents (a checkpoint's metadata, a tensor
 * name) bring into the message are written as C escapes. */
int rnn_errorf(const char *fmt, ...) {
    char raw[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    rnn_escape(last_error, sizeof last_error, raw);
    return -1;
}

const char *rnn_last_error(void) { return last_error; }

/* From this size on, blocks are 2 MB aligned and asked to be backed by
 * transparent huge pages (Linux, where THP is "madvise"). */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void *rnn_alloc(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64, align = 64;
    if (rounded == 0) rounded = 64;
#ifdef MADV_HUGEPAGE
    if (rounded >= HUGE_MIN) {
        align = HUGE_PAGE;
        rounded = (rounded + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    }
#endif
    if (posix_memalign(&p, align, rounded) != 0) {
        rnn_errorf("out of memory (%zu bytes)", bytes);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) madvise(p, rounded, MADV_HUGEPAGE); /* advice: failure is harmless */
#endif
    return p;
}

void *rnn_calloc(size_t bytes) {
    void *p = rnn_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void rnn_free(void *p) { free(p); }

void *rnn_realloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) rnn_errorf("out of memory (%zu bytes)", bytes);
    return q;
}

int rnn_sbuf_put(rnn_sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = rnn_realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int rnn_sbuf_json_string(rnn_sbuf *b, const char *s) {
    const size_t n = strlen(s);
    for (size_t i = 0, run = 0;;) {
        const unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80) { /* a UTF-8 sequence as it is; a byte that starts none as U+FFFD */
            size_t at = i;
            if (rnn_utf8_next((const unsigned char *)s, n, &at) >= 0) {
                i = at;
                continue;
            }
            if (rnn_sbuf_put(b, s + run, i - run) || rnn_sbuf_put(b, "\\ufffd", 6)) return -1;
            run = i = at;
            continue;
        }
        if (ch && ch != '"' && ch != '\\' && ch >= 0x20) {
            i++;
            continue;
        }
        if (rnn_sbuf_put(b, s + run, i - run)) return -1;
        if (!ch) return 0;
        char esc[8];
        snprintf(esc, sizeof esc, ch == '"' || ch == '\\' ? "\\%c" : "\\u%04x", ch);
        if (rnn_sbuf_put(b, esc, strlen(esc))) return -1;
        run = ++i;
    }
}

char *rnn_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        rnn_errorf("out of memory (%zu bytes)", n);
        return NULL;
    }
    return memcpy(d, s, n);
}

size_t rnn_mem_limit(void) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t lim = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : SIZE_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (size_t)rl.rlim_cur < lim)
        lim = (size_t)rl.rlim_cur;
    return lim;
}

size_t rnn_read_limit(void) { return rnn_mem_limit() / 2; }

int rnn_read_too_large(const char *path, size_t limit) {
    return rnn_errorf("%s: too large to read into memory (over %.2f GB, half of what this process may use)", path,
                      limit / 1e9);
}

char *rnn_read_file(const char *path, size_t *len) { return rnn_read_file_ex(path, len, 0); }

char *rnn_read_file_ex(const char *path, size_t *len, int stop_at_nul) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rnn_errorf("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    return rnn_read_stream(f, path, NULL, 0, len, stop_at_nul);
}

char *rnn_read_stream(FILE *f, const char *path, const void *head, size_t head_len, size_t *len,
                      int stop_at_nul) {
    assert(head_len <= 65536 && "the first buffer holds the head and 64 KiB more");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    const size_t limit = rnn_read_limit();
    for (size_t got = 1; got > 0; n += got) {
        if (n + 65536 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 1 << 20;
            if (ncap > limit) ncap = limit;
            if (ncap < n + 65536 + 1) { /* endless input (/dev/zero) ends here, not in the OOM killer */
                free(buf);
                fclose(f);
                rnn_read_too_large(path, limit);
                return NULL;
            }
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                rnn_errorf("%s: out of memory reading the file", path);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        if (n == 0 && head_len) { /* the bytes the caller already read come first */
            memcpy(buf, head, head_len);
            got = head_len;
        } else {
            got = fread(buf + n, 1, cap - n - 1, f);
        }
        if (stop_at_nul && memchr(buf + n, 0, got)) {
            n += got;
            break;
        }
    }
    if (ferror(f)) {
        rnn_errorf("%s: read error: %s", path, strerror(errno)); /* a directory: "Is a directory" */
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

size_t rnn_bom_len(const char *s, size_t n) { return n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3) ? 3 : 0; }

char *rnn_read_text_file(const char *path, size_t *len) { return rnn_read_text_file_ex(path, len, 0); }

char *rnn_read_text_file_ex(const char *path, size_t *len, int stop_at_nul) {
    size_t n = 0;
    char *buf = rnn_read_file_ex(path, &n, stop_at_nul);
    const size_t bom = buf ? rnn_bom_len(buf, n) : 0;
    if (bom) {
        n -= bom;
        memmove(buf, buf + bom, n + 1); /* with the terminating NUL */
    }
    if (len) *len = n;
    return buf;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void rnn_free_names(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

int rnn_names_push(char ***names, int *n, int *cap, const char *s) {
    if (*n == *cap) {
        const int c = *cap ? *cap * 2 : 16;
        char **nn = realloc(*names, (size_t)c * sizeof *nn);
        if (!nn) return rnn_errorf("out of memory");
        *names = nn;
        *cap = c;
    }
    if (!((*names)[*n] = rnn_strdup(s))) return -1;
    ++*n;
    return 0;
}

int rnn_list_dir(const char *dir, int want_dir, char ***out) {
    *out = NULL;
    DIR *dp = opendir(dir);
    if (!dp) return rnn_errorf("%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL, *full = NULL;
    int n = 0, cap = 0, rc = 0;
    const size_t dl = strlen(dir);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        const char *nm = e->d_name;
        if (nm[0] == '.') continue;
        const size_t nl = strlen(nm);
        char *nf = realloc(full, dl + nl + 2);
        if (!nf) {
            rc = rnn_errorf("out of memory");
            break;
        }
        full = nf;
        snprintf(full, dl + nl + 2, "%s/%s", dir, nm);
        struct stat st;
        if (stat(full, &st) != 0) { /* a broken link, say: a file of the set that is missing */
            rc = rnn_errorf("%s: cannot read: %s", full, strerror(errno));
            break;
        }
        if (!(want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))) continue; /* (FIFOs, devices: no text) */
        if ((rc = rnn_names_push(&names, &n, &cap, nm))) break;
    }
    closedir(dp);
    free(full);
    if (rc) {
        rnn_free_names(names, n);
        return -1;
    }
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_name);
    *out = names;
    return n;
}

/* The directories a walk has read, by device and inode: a symbolic link
 * back up the tree (/usr/bin/X11 -> .) or two links to one directory are
 * read once. */
typedef struct {
    struct {
        dev_t dev;
        ino_t ino;
    } *v;
    size_t n, cap;
} dir_set;

/* 1 if st's directory is in s, else adds it and returns 0; -1 when out of memory. */
static int dir_seen(dir_set *s, const struct stat *st) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino) return 1;
    if (s->n == s->cap) {
        const size_t c = s->cap ? s->cap * 2 : 64;
        void *nv = realloc(s->v, c * sizeof *s->v);
        if (!nv) return rnn_errorf("out of memory");
        s->v = nv, s->cap = c;
    }
    s->v[s->n].dev = st->st_dev, s->v[s->n].ino = st->st_ino;
    s->n++;
    return 0;
}

/* 1 if dir holds an rnn train run (config.txt and train.log): its files are
 * no one's training text (a run trained with --data . writes one inside it). */
static int is_run_dir(const char *dir) {
    char p[2][4200];
    snprintf(p[0], sizeof p[0], "%s/config.txt", dir);
    snprintf(p[1], sizeof p[1], "%s/train.log", dir);
    return access(p[0], F_OK) == 0 && access(p[1], F_OK) == 0;
}

/* rnn_walk_files's walk of dir. */
static int walk(const char *dir, int top, int (*visit)(const char *path, void *user),
                int (*enter)(const char *dir, void *user), void *user, dir_set *seen) {
    struct stat st;
    if (stat(dir, &st) != 0) return rnn_errorf("%s: cannot open directory: %s", dir, strerror(errno));
    const int was = dir_seen(seen, &st);
    if (was) return was < 0 ? -1 : 0;
    if (!top && is_run_dir(dir)) return 0;
    for (int want_dir = 0; want_dir <= 1; want_dir++) {
        char **names;
        const int n = rnn_list_dir(dir, want_dir, &names);
        if (n < 0) return -1;
        int rc = 0;
        size_t dl = strlen(dir); /* "DIR/" joins as DIR/name, not DIR//name ("/" as /name) */
        while (dl > 1 && dir[dl - 1] == '/') dl--;
        const char *sep = dir[dl - 1] == '/' ? "" : "/";
        for (int i = 0; i < n && !rc; i++) {
            const size_t pl = dl + strlen(names[i]) + 2;
            char *path = malloc(pl);
            if (!path) {
                rc = rnn_errorf("out of memory");
                break;
            }
            snprintf(path, pl, "%.*s%s%s", (int)dl, dir, sep, names[i]);
            if (!want_dir) rc = visit(path, user);
            else if (!enter || (rc = enter(path, user)) > 0) rc = walk(path, 0, visit, enter, user, seen);
            /* (else rc is enter's 0, skipped, or -1) */
            free(path);
        }
        rnn_free_names(names, n);
        if (rc) return -1;
    }
    return 0;
}

int rnn_walk_files(const char *dir, int (*visit)(const char *path, void *user),
                   int (*enter)(const char *dir, void *user), void *user) {
    dir_set seen = {0};
    const int rc = walk(dir, 1, visit, enter, user, &seen);
    free(seen.v);
    return rc;
}

/* rnn_read_text_tree's visit: appends a file's text to the buffer. */
typedef struct {
    rnn_sbuf b;
    long files;
    size_t (*refused_at)(const char *s, size_t n, const void *arg); /* NULL: any bytes */
    const void *arg;
    size_t limit;
    const char *top;
} tree_text;

static int add_file_text(const char *path, void *user) {
    tree_text *t = user;
    size_t len;
    char *text = rnn_read_text_file_ex(path, &len, t->refused_at != NULL);
    const size_t bad = text && t->refused_at ? t->refused_at(text, len, t->arg) : len;
    int rc = 0;
    if (!text) {
        rc = -1;
    } else if (bad < len) {
        rc = rnn_utf8_file_error(path, text, len, bad);
    } else if (t->b.n + len + 1 >= t->limit) {
        rc = rnn_errorf("%s: too large to read into memory (its files reach %.2f GB, half of what "
                        "this process may use, at %s)", t->top, t->limit / 1e9, path);
    } else if (rnn_sbuf_put(&t->b, text, len) || (len && text[len - 1] != '\n' && rnn_sbuf_put(&t->b, "\n", 1))) {
        rc = -1;
    }
    free(text);
    t->files++;
    return rc;
}

char *rnn_read_text_tree(const char *path, size_t *len, size_t (*refused_at)(const char *s, size_t n, const void *arg),
                         const void *arg) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return rnn_read_text_file_ex(path, len, refused_at != NULL);
    tree_text t = {.refused_at = refused_at, .arg = arg, .limit = rnn_read_limit(), .top = path};
    if (rnn_walk_files(path, add_file_text, NULL, &t)) {
        free(t.b.p);
        return NULL;
    }
    rnn_sbuf b = t.b;
    if (!t.files) {
        free(b.p);
        rnn_errorf("%s: a directory with no files to read (names that start with '.' are skipped)", path);
        return NULL;
    }
    if (!b.p && !(b.p = calloc(1, 1))) { /* files, all empty */
        rnn_errorf("out of memory");
        return NULL;
    }
    if (len) *len = b.n;
    return b.p;
}

/* The mode a new file at path would get from open(..., 0666): mkstemp makes
 * 0600, but a checkpoint or config should be as readable as any other file
 * the user writes. Keeps an existing file's mode. umask() can only be read
 * by setting it; the window is two syscalls long. */
static mode_t new_file_mode(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return sb.st_mode & 07777;
    mode_t um = umask(022);
    umask(um);
    return 0666 & ~um;
}

/* A free name beside path (path.tmp.XXXXXX, made by mkstemp: *fd is it,
 * open) for the caller to free; NULL with a message. */
static char *temp_beside(const char *path, int *fd) {
    const size_t pl = strlen(path);
    char *tmp = malloc(pl + sizeof ".tmp.XXXXXX"); /* mkstemp fills the X's */
    if (!tmp) {
        rnn_errorf("%s: out of memory", path);
        return NULL;
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    if ((*fd = mkstemp(tmp)) < 0) {
        rnn_errorf("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return NULL;
    }
    return tmp;
}

/* Makes a rename into path's directory durable. The new file is in place by
 * then, so a failure here (some file systems refuse fsync on a directory)
 * is not reported as a failed save. */
static void sync_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? rnn_strdup(path) : NULL;
    if (dir) dir[slash == path ? 1 : slash - path] = 0;
    const int dfd = slash && !dir ? -1 : open(dir ? dir : ".", O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
}

int rnn_replace_file(const char *path, int (*fill)(FILE *f, void *arg), void *arg) {
    const mode_t mode = new_file_mode(path);
    int fd;
    char *tmp = temp_beside(path, &fd);
    if (!tmp) return -1;
    FILE *f = NULL;
    if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "wb"))) {
        rnn_errorf("%s: cannot write %s: %s", path, tmp, strerror(errno));
        close(fd);
        goto out;
    }
    int ok = fill(f, arg) == 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) ok = 0, err = errno;
    if (!ok) {
        rnn_errorf("%s: write failed: %s%s", path, strerror(err), access(path, F_OK) == 0 ? " (previous file kept)" : "");
        goto out;
    }
    if (rename(tmp, path) != 0) {
        const int e = errno;
        rnn_errorf("%s: cannot replace: %s%s", path, strerror(e), access(path, F_OK) == 0 ? " (previous file kept)" : "");
        goto out;
    }
    sync_dir_of(path);
    free(tmp);
    return 0;
out:
    unlink(tmp);
    free(tmp);
    return -1;
}

int rnn_replace_with_link(const char *src, const char *path) {
    int fd;
    char *tmp = temp_beside(path, &fd);
    if (!tmp) return -1;
    close(fd);
    unlink(tmp); /* link() needs the name free */
    int rc = -1;
    if (link(src, tmp) != 0)
        rnn_errorf("%s: cannot link %s to it: %s", path, src, strerror(errno));
    else if (rename(tmp, path) != 0)
        rnn_errorf("%s: cannot replace: %s", path, strerror(errno)), unlink(tmp);
    else /* (where path already was src's file, rename leaves both names: tmp goes) */
        unlink(tmp), sync_dir_of(path), rc = 0;
    free(tmp);
    return rc;
}

typedef struct {
    const char *data;
    size_t n;
} bytes_arg;

static int fill_bytes(FILE *f, void *arg) {
    const bytes_arg *b = arg;
    return fwrite(b->data, 1, b->n, f) == b->n ? 0 : -1;
}

int rnn_write_atomic(const char *path, const char *data, size_t n) {
    bytes_arg b = {data, n};
    return rnn_replace_file(path, fill_bytes, &b);
}

double rnn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64 to spread the seed, then xorshift128+ (Vigna 2014). */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rnn_rng_seed(rnn_rng *r, uint64_t seed) {
    r->s[0] = splitmix64(&seed);
    r->s[1] = splitmix64(&seed);
    if (!r->s[0] && !r->s[1]) r->s[1] = 1;
}

uint64_t rnn_rng_next(rnn_rng *r) {
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return r->s[1] + s0;
}

float rnn_rng_uniform(rnn_rng *r) { return (rnn_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

float rnn_rng_normal(rnn_rng *r) {
    /* Box-Muller; u1 in (0,1] so log() is finite. */
    float u1 = 1.0f - rnn_rng_uniform(r), u2 = rnn_rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

/* Decodes the code point at s[*pos] (*pos < n) and advances past it. Returns
 * -1 and advances one byte on anything but a shortest-form scalar value:
 * bad lead or continuation bytes, truncation, overlongs, surrogates, values
 * above U+10FFFF; also on NUL, which no C string token can hold. */
int32_t rnn_utf8_next(const unsigned char *s, size_t n, size_t *pos) {
    size_t i = *pos;
    uint32_t c = s[i];
    *pos = i + 1;
    if (c < 0x80) return c ? (int32_t)c : -1;
    int k;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 1, c &= 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 2, c &= 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 3, c &= 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (n - i - 1 < (size_t)k) return -1;
    for (int j = 1; j <= k; j++) {
        uint32_t b = s[i + j];
        if ((b & 0xC0) != 0x80) return -1;
        c = (c << 6) | (b & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *pos = i + 1 + k;
    return (int32_t)c;
}

int rnn_parse_decimal(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    /* (strtod skips leading blanks: " 5" is not "5" to a user who typed it so) */
    const int blank = s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r');
    if (end == s || *end || strpbrk(s, "xX") || blank || isnan(*v) || strpbrk(s, "iI")) return -1;
    return errno == ERANGE || !isfinite(*v) ? -2 : 0; /* 1e999, 1e-320: a number, too large or too small */
}

long rnn_utf8_bad_at(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t at = i;
        if (rnn_utf8_next((const unsigned char *)s, n, &i) < 0) return (long)at;
    }
    return -1;
}

long rnn_json_nul_at(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!s[i]) return (long)i + 1;
        if (s[i] != '\\') continue;
        if (i + 5 < n && !memcmp(s + i + 1, "u0000", 5)) return (long)i + 1;
        i++; /* past the escaped character: in "\\u0000" the u follows an escaped backslash */
    }
    return 0;
}

long rnn_json_raw_control_at(const char *s, size_t n) {
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (in_string && c < 0x20) return (long)i + 1;
        if (c == '"') in_string = !in_string;
        else if (in_string && c == '\\') i++; /* the escaped character: \" does not end the string */
    }
    return 0;
}

long rnn_getline(char **line, size_t *cap, FILE *f, size_t max, int stop_at_nul) {
    size_t n = 0;
    for (;;) {
        if (n + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            if (nc > max + 2) nc = max + 2;
            if (nc < n + 2) return -3; /* n = max bytes and no end of line yet */
            char *p = realloc(*line, nc);
            if (!p) {
                errno = ENOMEM;
                return -2;
            }
            *line = p;
            *cap = nc;
        }
        const int c = getc_unlocked(f);
        if (c == EOF) {
            if (ferror(f)) return -2;
            if (n == 0) return -1;
            break;
        }
        (*line)[n++] = (char)c;
        if (c == '\n' || (c == 0 && stop_at_nul)) break;
    }
    (*line)[n] = 0;
    return (long)n;
}

size_t rnn_nonfinite_at(const float *x, size_t n) {
    size_t i = 0;
    while (i < n && isfinite(x[i])) i++;
    return i;
}

int rnn_error_prefix(const char *fmt, ...) {
    char msg[sizeof last_error], prefix[sizeof last_error];
    snprintf(msg, sizeof msg, "%s", last_error);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    return rnn_errorf("%s: %s", prefix, msg);
}

/* rnn_utf8_error's message, the offset shown shift bytes on; path: its prefix. */
static int utf8_error(const char *path, const char *s, size_t n, size_t at, size_t shift) {
    const char *what = s[at] == 0 ? "a NUL byte" : "invalid UTF-8", *sep = path ? ": " : "";
    if (!path) path = "";
    if (!memchr(s, '\n', n)) /* one line: its caller names it, if anyone */
        return rnn_errorf("%s%sinput has %s at byte offset %zu", path, sep, what, at + shift);
    size_t line = 1;
    for (const char *p = s; (p = memchr(p, '\n', at - (size_t)(p - s))) != NULL; p++) line++;
    return rnn_errorf("%s%sinput has %s at byte offset %zu (line %zu)", path, sep, what, at + shift, line);
}

int rnn_utf8_error(const char *s, size_t n, size_t at) { return utf8_error(NULL, s, n, at, 0); }

int rnn_utf8_file_error(const char *path, const char *s, size_t n, size_t at) {
    struct stat st;
    char head[3];
    size_t bom = 0;
    FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
    if (f) { /* read again, on this error's path only: the text no longer holds its mark */
        bom = rnn_bom_len(head, fread(head, 1, sizeof head, f));
        fclose(f);
    }
    return utf8_error(path, s, n, at, bom);
}

void rnn_reverse_ids(int32_t *ids, size_t n) {
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        int32_t t = ids[i];
        ids[i] = ids[j - 1];
        ids[j - 1] = t;
    }
}

rnn_shown rnn_show(const char *s) {
    rnn_shown r;
    size_t k = 0, max = sizeof r.s - 4;
    for (; s && s[k] && k < max; k++) {
        unsigned char c = (unsigned char)s[k];
        r.s[k] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (s && s[k]) {
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--; /* don't split a character */
        memcpy(r.s + k, "...", 3);
        k += 3;
    }
    r.s[k] = 0;
    return r;
}

const char *rnn_json_repeated_key(const cJSON *obj) {
    for (const cJSON *k = obj ? obj->child : NULL; k; k = k->next)
        for (const cJSON *e = obj->child; e != k; e = e->next)
            if (k->string && e->string && !strcmp(k->string, e->string)) return k->string;
    return NULL;
}
