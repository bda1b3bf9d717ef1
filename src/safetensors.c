/* safetensors.c: see safetensors.h.
 *
 * Two ways to load, one validation. rnn_st_open reads the 8-byte length and
 * the header only and keeps the file open: each rnn_st_read_* then preads the
 * tensor's bytes straight into the caller's buffer (a checkpoint's model
 * buffer), so a model is in memory once, not twice (file bytes + model).
 * rnn_st_load reads the whole file into one buffer, so that t->data can be
 * handed out (tests, tools); pipes and devices are always read so, having no
 * offsets to pread at. Neither maps the file: a file truncated under a mapping
 * turns reads into SIGBUS, where pread returns short and the read is refused.
 *
 * Either way the header is parsed with cJSON and every field checked before
 * any tensor is handed out, so later code can trust numel and nbytes, and
 * offsets that lie inside the file as it was when opened (a file cut short
 * after that fails its reads with a message). The checks follow the reference implementation
 * (huggingface/safetensors, Metadata::validate): 100 MB header limit, byte
 * count = numel * dtype size, offsets inside the data section, and, as the
 * format's spec says, a data section the tensors cover entirely, with no
 * holes between them and no bytes after the last (no polyglot files); we
 * also name overlapping tensors and duplicate names.
 *
 * Saving builds the header with cJSON (offsets and shapes written as raw
 * integers, so nothing passes through a double), pads it with spaces to a
 * multiple of 8 so the data section starts 8-byte aligned in the file, and
 * replaces the target atomically: mkstemp in the same directory, write, fsync,
 * rename, fsync the directory.
 */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "util.h"

/* The reference implementation's limit (safetensors::tensor::MAX_HEADER_SIZE). */
#define ST_MAX_HEADER 100000000ull
/* Integers above 2^53 do not survive cJSON's double; no real file needs them. */
#define ST_MAX_INT 9007199254740992.0

struct rnn_st {
    char *path;
    unsigned char *bytes; /* rnn_st_load: the whole file, plus a NUL; else NULL */
    int fd;               /* rnn_st_open: the file, read at each rnn_st_read_*; else -1 */
    size_t data_at;       /* where the data section starts in the file */
    rnn_st_tensor *t;     /* n tensors in file order; names owned */
    size_t *off;          /* each tensor's offset in the data section */
    int n;
    char **meta_k, **meta_v; /* n_meta pairs in file order; owned */
    int n_meta;
};

/* Indexed by rnn_dtype. */
static const char *const dt_names[] = {"F32", "I32", "I64", "BF16", "F16", "F64"};
static const size_t dt_sizes[] = {4, 4, 8, 2, 2, 8};
#define N_DTYPES ((int)(sizeof dt_sizes / sizeof dt_sizes[0]))

size_t rnn_dtype_size(rnn_dtype dt) { return (int)dt >= 0 && (int)dt < N_DTYPES ? dt_sizes[dt] : 0; }


static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

void rnn_st_free(rnn_st *st) {
    if (!st) return;
    if (st->t)
        for (int i = 0; i < st->n; i++) free((char *)st->t[i].name);
    for (int i = 0; i < st->n_meta; i++) free(st->meta_k[i]), free(st->meta_v[i]);
    free(st->t);
    free(st->off);
    free(st->meta_k);
    free(st->meta_v);
    free(st->bytes);
    if (st->fd >= 0) close(st->fd);
    free(st->path);
    free(st);
}

/* ---- loading ------------------------------------------------------------ */

/* A pipe or device (/dev/stdin, a FIFO): its size is unknown, so the 8-byte
 * header length is checked first (/dev/zero's 0 or /dev/urandom's billions
 * end the read there), then the rest is read up to rnn_read_limit(). */
static unsigned char *read_stream(FILE *f, const char *path, size_t *len) {
    unsigned char head[8];
    const size_t n = fread(head, 1, 8, f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0 && n == 8; i--) hlen = hlen << 8 | head[i];
    if (n == 8 && (hlen < 2 || hlen > ST_MAX_HEADER)) {
        fclose(f);
        rnn_errorf("%s: not a safetensors file: header length %llu", path, (unsigned long long)hlen);
        return NULL;
    }
    /* (a stream of under 8 bytes is short: judged by the caller) */
    return (unsigned char *)rnn_read_stream(f, path, head, n, len, 0);
}

/* pread until n bytes are in or the file ends; *got says how many came.
 * -1 (errno set) on a read error. */
static int pread_full(int fd, void *buf, size_t n, size_t at, size_t *got) {
    *got = 0;
    while (*got < n) {
        const ssize_t r = pread(fd, (char *)buf + *got, n - *got, (off_t)(at + *got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break; /* the end of the file */
        *got += (size_t)r;
    }
    return 0;
}

/* Opens path for reading; anything but a directory. -1 + message naming it. */
static int open_file(const char *path, struct stat *sb) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rnn_errorf("%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, sb) != 0) {
        rnn_errorf("%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISDIR(sb->st_mode)) {
        rnn_errorf("%s: is a directory, not a safetensors file", path);
        close(fd);
        return -1;
    }
    if (S_ISREG(sb->st_mode) && (sb->st_size < 0 || (uint64_t)sb->st_size >= SIZE_MAX)) {
        rnn_errorf("%s: file too large (%lld bytes)", path, (long long)sb->st_size);
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads all of the open file fd into a NUL-terminated buffer and closes fd:
 * a regular file in one allocation sized from fstat (no doubling), anything
 * else through read_stream. NULL + message naming the path on failure. */
static unsigned char *read_all(int fd, const struct stat *sb, const char *path, size_t *len) {
    if (!S_ISREG(sb->st_mode)) {
        FILE *f = fdopen(fd, "rb");
        if (!f) {
            rnn_errorf("%s: cannot read: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        return read_stream(f, path, len);
    }
    const size_t size = (size_t)sb->st_size;
    unsigned char *buf = malloc(size + 1);
    if (!buf) {
        rnn_errorf("%s: out of memory reading the file (%zu bytes)", path, size);
        close(fd);
        return NULL;
    }
    size_t got;
    if (pread_full(fd, buf, size, 0, &got)) {
        rnn_errorf("%s: read error: %s", path, strerror(errno));
        free(buf);
        close(fd);
        return NULL;
    }
    close(fd);
    buf[got] = 0; /* a file that shrank since fstat is judged on what was there */
    *len = got;
    return buf;
}

/* A JSON number that is a non-negative integer cJSON holds exactly. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= ST_MAX_INT) || v != floor(v)) return 0; /* also rejects NaN */
    *out = (uint64_t)v;
    return 1;
}

typedef struct {
    size_t begin, end;
    int i;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first repeated string of n, or NULL; sorts a copy of the pointers. */
static const char *find_duplicate(const char *const *s, int n, int *oom) {
    *oom = 0;
    if (n < 2) return NULL;
    const char **v = malloc(sizeof *v * (size_t)n);
    if (!v) {
        *oom = 1;
        return NULL;
    }
    memcpy(v, s, sizeof *v * (size_t)n);
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (!strcmp(v[i - 1], v[i])) dup = v[i];
    free(v);
    return dup;
}

static int load_metadata(rnn_st *st, const cJSON *e) {
    const char *path = st->path;
    if (!cJSON_IsObject(e)) return rnn_errorf("%s: __metadata__ is not a JSON object", path);
    int nm = cJSON_GetArraySize(e);
    st->meta_k = calloc((size_t)nm + 1, sizeof(char *));
    st->meta_v = calloc((size_t)nm + 1, sizeof(char *));
    if (!st->meta_k || !st->meta_v) return rnn_errorf("%s: out of memory reading the metadata", path);
    for (const cJSON *m = e->child; m; m = m->next) {
        const char *key = m->string ? m->string : "";
        if (!cJSON_IsString(m) || !m->valuestring)
            return rnn_errorf("%s: metadata '%s' is not a string (safetensors metadata maps strings to strings)",
                              path, rnn_show(key).s);
        st->meta_k[st->n_meta] = strdup(key);
        st->meta_v[st->n_meta] = strdup(m->valuestring);
        if (!st->meta_k[st->n_meta] || !st->meta_v[st->n_meta]) {
            free(st->meta_k[st->n_meta]);
            free(st->meta_v[st->n_meta]);
            return rnn_errorf("%s: out of memory reading the metadata", path);
        }
        st->n_meta++;
    }
    int oom;
    const char *dup = find_duplicate((const char *const *)st->meta_k, st->n_meta, &oom);
    if (oom) return rnn_errorf("%s: out of memory reading the metadata", path);
    if (dup) return rnn_errorf("%s: metadata key '%s' appears twice", path, rnn_show(dup).s);
    return 0;
}

/* Validates one header entry and fills t (name and data excepted) and its
 * offset in the data section. */
static int load_tensor(const rnn_st *st, const cJSON *e, const char *name, size_t data_size, rnn_st_tensor *t,
                       size_t *off) {
    const char *path = st->path;
    rnn_shown nm = rnn_show(name);
    if (!cJSON_IsObject(e)) return rnn_errorf("%s: tensor '%s': entry is not a JSON object", path, nm.s);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");

    if (!cJSON_IsString(dt) || !dt->valuestring)
        return rnn_errorf("%s: tensor '%s': \"dtype\" missing or not a string", path, nm.s);
    int k = 0;
    while (k < N_DTYPES && strcmp(dt->valuestring, dt_names[k])) k++;
    if (k == N_DTYPES)
        return rnn_errorf("%s: tensor '%s': unsupported dtype '%s' (supported: F32, I32, I64, BF16, F16, F64)",
                          path, nm.s, rnn_show(dt->valuestring).s);
    t->dtype = (rnn_dtype)k;

    if (!cJSON_IsArray(sh)) return rnn_errorf("%s: tensor '%s': \"shape\" missing or not an array", path, nm.s);
    int nd = cJSON_GetArraySize(sh);
    if (nd > RNN_ST_MAX_DIMS)
        return rnn_errorf("%s: tensor '%s': shape has %d dimensions, at most %d supported", path, nm.s, nd,
                          RNN_ST_MAX_DIMS);
    /* numel * dtype size must fit in size_t; a zero anywhere makes it 0. */
    size_t numel = 1, limit = SIZE_MAX / dt_sizes[k];
    int overflow = 0, zero = 0;
    t->ndim = 0;
    for (const cJSON *d = sh->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, &v))
            return rnn_errorf("%s: tensor '%s': shape must hold non-negative integers", path, nm.s);
        t->shape[t->ndim++] = (int64_t)v;
        if (v == 0) zero = 1;
        else if (numel > limit / v) overflow = 1;
        else numel *= (size_t)v;
    }
    if (zero) numel = 0;
    char shp[200];
    shape_str(shp, sizeof shp, t->ndim, t->shape);
    if (overflow && !zero)
        return rnn_errorf("%s: tensor '%s': shape %s is too large", path, nm.s, shp);

    uint64_t b, en;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !json_uint(of->child, &b) ||
        !json_uint(of->child->next, &en))
        return rnn_errorf("%s: tensor '%s': \"data_offsets\" must be [begin, end] (non-negative integers)",
                          path, nm.s);
    if (b > en)
        return rnn_errorf("%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, nm.s,
                          (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return rnn_errorf("%s: tensor '%s': data_offsets [%llu, %llu] outside the data section (%zu bytes)",
                          path, nm.s, (unsigned long long)b, (unsigned long long)en, data_size);
    t->numel = numel;
    t->nbytes = (size_t)(en - b);
    if (t->nbytes != numel * dt_sizes[k])
        return rnn_errorf("%s: tensor '%s': data_offsets [%llu, %llu] hold %zu bytes, but shape %s of %s needs %zu",
                          path, nm.s, (unsigned long long)b, (unsigned long long)en, t->nbytes, shp,
                          dt_names[k], numel * dt_sizes[k]);
    *off = (size_t)b;
    return 0;
}

/* The tensors tile the data section: no two share a byte (empty tensors
 * share none), none leaves a hole before it, and the last ends at its end. */
static int check_layout(const rnn_st *st, size_t data_size) {
    span *sp = malloc(sizeof *sp * ((size_t)st->n + 1));
    if (!sp) return rnn_errorf("%s: out of memory", st->path);
    int m = 0;
    for (int i = 0; i < st->n; i++) {
        if (!st->t[i].nbytes) continue;
        const size_t b = st->off[i];
        sp[m++] = (span){b, b + st->t[i].nbytes, i};
    }
    qsort(sp, (size_t)m, sizeof *sp, cmp_span);
    int rc = 0;
    for (int i = 0; i < m && !rc; i++) {
        const size_t at = i ? sp[i - 1].end : 0;
        if (i && sp[i].begin < at) {
            const span x = sp[i - 1], y = sp[i];
            rc = rnn_errorf("%s: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap", st->path,
                            rnn_show(st->t[x.i].name).s, x.begin, x.end, rnn_show(st->t[y.i].name).s, y.begin, y.end);
        } else if (sp[i].begin > at) {
            rc = rnn_errorf("%s: %zu bytes of the data section before tensor '%s' [%zu, %zu] belong to no "
                            "tensor (safetensors has no holes: a damaged file)",
                            st->path, sp[i].begin - at, rnn_show(st->t[sp[i].i].name).s, sp[i].begin, sp[i].end);
        }
    }
    const size_t end = m ? sp[m - 1].end : 0;
    if (!rc && end < data_size)
        rc = rnn_errorf("%s: %zu bytes after the last tensor's data belong to no tensor (a damaged file, or "
                        "something appended to it)", st->path, data_size - end);
    free(sp);
    return rc;
}

/* What a file that is not safetensors probably is, for the message. */
static const char *what_instead(const unsigned char *b, size_t n) {
    if (n >= 4 && !memcmp(b, "PK\3\4", 4))
        return " (a zip archive: a PyTorch .pt/.pth file? tools/rnnc_torch.py export converts a state_dict)";
    if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
        return " (a Python pickle: an old torch.save file? tools/rnnc_torch.py export converts a state_dict)";
    return " (truncated file?)";
}

/* The header length from the file's first bytes (head: min(size, 8) of
 * them), checked against the file's size and the limit. -1 + message. */
static int header_length(const char *path, const unsigned char *head, size_t size, uint64_t *hlen) {
    if (size < 8)
        return rnn_errorf("%s: not a safetensors file: %zu bytes, shorter than the 8-byte header length", path,
                          size);
    *hlen = 0;
    for (int i = 7; i >= 0; i--) *hlen = *hlen << 8 | head[i];
    if (*hlen > size - 8)
        return rnn_errorf("%s: not a safetensors file: header length %llu is more than the %zu bytes after it%s",
                          path, (unsigned long long)*hlen, size - 8, what_instead(head, 8));
    if (*hlen > ST_MAX_HEADER)
        return rnn_errorf("%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)*hlen);
    return 0;
}

/* Parses and checks the header's hlen bytes (the file's, from byte 8 on),
 * filling st's tensors (offsets, not data) and metadata. */
static int parse_header(rnn_st *st, const char *hdr, uint64_t hlen, size_t data_size) {
    const char *path = st->path, *end = NULL;
    int rc = -1;
    /* The format's header starts with '{' (the safetensors package refuses
     * any other first byte, so a file read here is one it reads too). */
    if (hlen == 0 || hdr[0] != '{')
        return rnn_errorf("%s: header does not start with '{' (byte 8 of the file is 0x%02x): not a safetensors "
                          "file, or a damaged one", path, hlen ? (unsigned char)hdr[0] : 0u);
    cJSON *h = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!h) {
        size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
        return rnn_errorf("%s: header is not valid JSON (error near byte %zu of %llu)", path, at,
                          (unsigned long long)hlen);
    }
    /* Only padding may follow the JSON value (cJSON stops at its end). */
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rnn_errorf("%s: header has bytes after the JSON object (at byte offset %zu of %llu)", path,
                       (size_t)(p - hdr), (unsigned long long)hlen);
            goto out;
        }
    if (!cJSON_IsObject(h)) {
        rnn_errorf("%s: header is not a JSON object", path);
        goto out;
    }
    /* cJSON keeps a NUL (a raw byte, or \u0000) inside a string, and C reads
     * the string up to it: a tensor "head.bias\u0000x" would load as
     * head.bias, a format "rnn.c\u0000..." as rnn.c. No name, dtype or
     * metadata value has one. */
    const long nul = rnn_json_nul_at(hdr, (size_t)hlen);
    if (nul) {
        rnn_errorf("%s: header holds a NUL character (a NUL byte or \\u0000, at byte offset %ld of %llu): no name or "
                   "metadata can hold one (a damaged file)", path, nul - 1, (unsigned long long)hlen);
        goto out;
    }
    /* (and a raw control byte in a string, which the safetensors package refuses) */
    const long ctl = rnn_json_raw_control_at(hdr, (size_t)hlen);
    if (ctl) {
        rnn_errorf("%s: header is not valid JSON: a raw control character (0x%02x, at byte offset %ld of %llu) inside "
                   "a string, where JSON writes it escaped (a damaged file)", path, (unsigned char)hdr[ctl - 1],
                   ctl - 1, (unsigned long long)hlen);
        goto out;
    }
    int count = cJSON_GetArraySize(h);
    st->t = calloc((size_t)count + 1, sizeof *st->t);
    st->off = calloc((size_t)count + 1, sizeof *st->off);
    if (!st->t || !st->off) {
        rnn_errorf("%s: out of memory reading the header", path);
        goto out;
    }
    int seen_meta = 0;
    for (const cJSON *e = h->child; e; e = e->next) {
        const char *name = e->string ? e->string : "";
        if (!strcmp(name, "__metadata__")) {
            if (seen_meta++) {
                rnn_errorf("%s: __metadata__ appears twice", path);
                goto out;
            }
            if (load_metadata(st, e)) goto out;
            continue;
        }
        rnn_st_tensor *t = &st->t[st->n];
        if (load_tensor(st, e, name, data_size, t, &st->off[st->n])) goto out;
        if (!(t->name = strdup(name))) {
            rnn_errorf("%s: out of memory reading the header", path);
            goto out;
        }
        st->n++;
    }
    const char **names = malloc(sizeof *names * ((size_t)st->n + 1));
    if (!names) {
        rnn_errorf("%s: out of memory reading the header", path);
        goto out;
    }
    for (int i = 0; i < st->n; i++) names[i] = st->t[i].name;
    int oom;
    const char *dup = find_duplicate(names, st->n, &oom);
    if (oom || dup) {
        if (oom) rnn_errorf("%s: out of memory reading the header", path);
        else rnn_errorf("%s: tensor '%s' appears twice", path, rnn_show(dup).s);
        free(names);
        goto out;
    }
    free(names);
    rc = check_layout(st, data_size);
out:
    cJSON_Delete(h);
    return rc;
}

/* rnn_st_load (whole = 1) and rnn_st_open (whole = 0). */
static rnn_st *load(const char *path, int whole) {
    if (!path) {
        rnn_errorf("rnn_st_load: no path given");
        return NULL;
    }
    rnn_st *st = calloc(1, sizeof *st);
    char *hdr = NULL;
    if (!st || !(st->path = strdup(path))) {
        free(st);
        rnn_errorf("%s: out of memory", path);
        return NULL;
    }
    st->fd = -1;
    struct stat sb;
    const int fd = open_file(path, &sb);
    if (fd < 0) goto fail;
    size_t size = 0;
    uint64_t hlen;
    if (whole || !S_ISREG(sb.st_mode)) { /* the file in memory, t->data into it */
        if (!(st->bytes = read_all(fd, &sb, path, &size))) goto fail;
        if (header_length(path, st->bytes, size, &hlen)) goto fail;
        hdr = (char *)st->bytes + 8;
    } else { /* the header now, each tensor when it is read */
        st->fd = fd;
        size = (size_t)sb.st_size;
        unsigned char head[8];
        size_t got;
        if (pread_full(fd, head, size < 8 ? size : 8, 0, &got)) {
            rnn_errorf("%s: read error: %s", path, strerror(errno));
            goto fail;
        }
        if (got < 8) size = got; /* shrank since fstat: judged on what is there */
        if (header_length(path, head, size, &hlen)) goto fail;
        if (!(hdr = malloc((size_t)hlen + 1))) {
            rnn_errorf("%s: out of memory reading the header (%llu bytes)", path, (unsigned long long)hlen);
            goto fail;
        }
        const int err = pread_full(fd, hdr, (size_t)hlen, 8, &got);
        if (err || got < hlen) {
            if (err) rnn_errorf("%s: read error: %s", path, strerror(errno));
            else rnn_errorf("%s: the file ends inside its header (cut short while it was read?)", path);
            goto fail;
        }
    }
    st->data_at = 8 + (size_t)hlen;
    if (parse_header(st, hdr, hlen, size - st->data_at)) goto fail;
    if (st->bytes)
        for (int i = 0; i < st->n; i++) st->t[i].data = st->bytes + st->data_at + st->off[i];
    else
        free(hdr);
    return st;
fail:
    if (!st->bytes) free(hdr);
    rnn_st_free(st);
    return NULL;
}

rnn_st *rnn_st_load(const char *path) { return load(path, 1); }
rnn_st *rnn_st_open(const char *path) { return load(path, 0); }

/* ---- access ------------------------------------------------------------- */

int rnn_st_count(const rnn_st *st) { return st ? st->n : 0; }
const rnn_st_tensor *rnn_st_at(const rnn_st *st, int i) {
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

const rnn_st_tensor *rnn_st_find(const rnn_st *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}

const char *rnn_st_meta(const rnn_st *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_k[i], key)) return st->meta_v[i];
    return NULL;
}
int rnn_st_meta_count(const rnn_st *st) { return st ? st->n_meta : 0; }
const char *rnn_st_meta_key(const rnn_st *st, int i) {
    return st && i >= 0 && i < st->n_meta ? st->meta_k[i] : NULL;
}

const rnn_st_tensor *rnn_st_find_checked(const rnn_st *st, const char *name, size_t numel, int ndim,
                                         const int64_t *shape) {
    const rnn_st_tensor *t = rnn_st_find(st, name);
    if (!t) {
        rnn_errorf("%s: tensor '%s' missing", st->path, rnn_show(name).s);
        return NULL;
    }
    int check_shape = shape && ndim > 0;
    int bad = t->numel != numel;
    if (!bad && check_shape) {
        bad = t->ndim != ndim;
        for (int i = 0; !bad && i < ndim; i++) bad = t->shape[i] != shape[i];
    }
    if (bad) {
        char got[200], want[200];
        shape_str(got, sizeof got, t->ndim, t->shape);
        if (check_shape)
            shape_str(want, sizeof want, ndim < RNN_ST_MAX_DIMS ? ndim : RNN_ST_MAX_DIMS, shape);
        else
            snprintf(want, sizeof want, "%zu elements", numel);
        if (check_shape)
            rnn_errorf("%s: tensor '%s' has shape %s, expected %s", st->path, rnn_show(name).s, got, want);
        else
            rnn_errorf("%s: tensor '%s' has shape %s (%zu elements), expected %s", st->path, rnn_show(name).s,
                       got, t->numel, want);
        return NULL;
    }
    return t;
}

/* Bytes [at, at + n) of t's data (the caller checked the range): copied
 * from memory, or read from the open file, where a short read (the file
 * cut short since it was opened) is an error naming the file and tensor. */
static int read_span(const rnn_st *st, const rnn_st_tensor *t, size_t at, void *dst, size_t n) {
    if (!n) return 0;
    if (st->bytes) {
        memcpy(dst, (const unsigned char *)t->data + at, n);
        return 0;
    }
    size_t got;
    if (pread_full(st->fd, dst, n, st->data_at + st->off[t - st->t] + at, &got))
        return rnn_errorf("%s: tensor '%s': read error: %s", st->path, rnn_show(t->name).s, strerror(errno));
    if (got < n)
        return rnn_errorf("%s: tensor '%s': the file ends %zu bytes into its %zu (cut short since it was opened?)",
                          st->path, rnn_show(t->name).s, at + got, t->nbytes);
    return 0;
}

/* t is one of st's and [first, first + count) lies inside it (in units of size bytes). */
static int check_range(const rnn_st *st, const rnn_st_tensor *t, size_t first, size_t count, size_t unit) {
    if (!st || !t || t < st->t || t >= st->t + st->n)
        return rnn_errorf("%s: not a tensor of this file", st ? st->path : "rnn_st_read");
    const size_t total = t->nbytes / unit;
    if (first > total || count > total - first)
        return rnn_errorf("%s: tensor '%s': elements [%zu, %zu) asked for, it has %zu", st->path, rnn_show(t->name).s,
                          first, first + count, total);
    return 0;
}

int rnn_st_read_bytes(const rnn_st *st, const rnn_st_tensor *t, size_t at, void *dst, size_t n) {
    return check_range(st, t, at, n, 1) || read_span(st, t, at, dst, n) ? -1 : 0;
}

/* IEEE half to float, exact (every half is a float). */
static float half_to_float(unsigned h) {
    unsigned s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0    ? ldexpf((float)m, -24)                       /* zero, subnormal */
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), (int)e - 25);    /* 1.m * 2^(e-15) */
    return s ? -v : v;
}

/* Elements a dtype conversion reads at a time through a buffer on the stack. */
#define CHUNK 512

int rnn_st_read_f32_at(const rnn_st *st, const rnn_st_tensor *t, size_t first, size_t count, float *dst) {
    if (check_range(st, t, first, count, t ? rnn_dtype_size(t->dtype) : 1)) return -1;
    if (!count) return 0; /* (dst may be NULL) */
    switch (t->dtype) {
    case RNN_DT_F32:
        return read_span(st, t, 4 * first, dst, 4 * count);
    case RNN_DT_BF16:
    case RNN_DT_F16: {
        /* Read into the back half of dst, then widen from the front: element
         * i is read (bytes 2 count + 2 i ..) before dst[i] (bytes 4 i .. 4 i
         * + 4) is written, which reaches no element after i. No second
         * buffer of the tensor's size. */
        const unsigned char *p = (const unsigned char *)dst + 2 * count;
        if (read_span(st, t, 2 * first, (unsigned char *)dst + 2 * count, 2 * count)) return -1;
        for (size_t i = 0; i < count; i++) {
            const unsigned h = (unsigned)(p[2 * i] | p[2 * i + 1] << 8);
            if (t->dtype == RNN_DT_F16) {
                dst[i] = half_to_float(h);
            } else { /* the top half of a float32 */
                const uint32_t u = (uint32_t)h << 16;
                memcpy(&dst[i], &u, 4);
            }
        }
        return 0;
    }
    case RNN_DT_F64: /* 8 bytes to 4: through a small buffer */
        for (size_t i = 0; i < count; i += CHUNK) {
            double d[CHUNK];
            const size_t k = count - i < CHUNK ? count - i : CHUNK;
            if (read_span(st, t, 8 * (first + i), d, 8 * k)) return -1;
            for (size_t j = 0; j < k; j++) dst[i + j] = (float)d[j];
        }
        return 0;
    default:
        return rnn_errorf("%s: tensor '%s' is %s, expected a float tensor (F32, F64, BF16 or F16)", st->path,
                          rnn_show(t->name).s, dt_names[t->dtype]);
    }
}

int rnn_st_read_f32(const rnn_st *st, const char *name, float *dst, size_t numel, int ndim,
                    const int64_t *shape) {
    const rnn_st_tensor *t = rnn_st_find_checked(st, name, numel, ndim, shape);
    return t ? rnn_st_read_f32_at(st, t, 0, numel, dst) : -1;
}

int rnn_st_read_i32(const rnn_st *st, const char *name, int32_t *dst, size_t numel) {
    const rnn_st_tensor *t = rnn_st_find_checked(st, name, numel, 0, NULL);
    if (!t) return -1;
    if (t->dtype == RNN_DT_I32) return read_span(st, t, 0, dst, 4 * numel);
    if (t->dtype == RNN_DT_I64) {
        /* Two passes: all checked first, so dst is untouched on failure. */
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < numel; i += CHUNK) {
                int64_t v[CHUNK];
                const size_t k = numel - i < CHUNK ? numel - i : CHUNK;
                if (read_span(st, t, 8 * i, v, 8 * k)) return -1;
                for (size_t j = 0; j < k; j++) {
                    if (pass) dst[i + j] = (int32_t)v[j];
                    else if (v[j] < INT32_MIN || v[j] > INT32_MAX)
                        return rnn_errorf("%s: tensor '%s': element %zu = %lld does not fit in 32 bits",
                                          st->path, rnn_show(name).s, i + j, (long long)v[j]);
                }
            }
        return 0;
    }
    return rnn_errorf("%s: tensor '%s' is %s, expected an integer tensor (I32 or I64)", st->path, rnn_show(name).s,
                      dt_names[t->dtype]);
}

/* ---- saving ------------------------------------------------------------- */

/* Whether s is valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF): the header must be, or other readers (serde_json, Python's json)
 * refuse the file. */
static int utf8_valid(const char *str) { return rnn_utf8_bad_at(str, strlen(str)) < 0; }

/* Checks the arguments; fills nbytes[i] for each tensor. */
static int save_check(const char *path, const rnn_st_out *tensors, int n, const char *const *keys,
                      const char *const *values, int n_meta, size_t *nbytes) {
    if (n < 0 || n_meta < 0 || (n > 0 && !tensors) || (n_meta > 0 && (!keys || !values)))
        return rnn_errorf("%s: rnn_st_save: bad arguments (n = %d, n_meta = %d)", path, n, n_meta);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const rnn_st_out *t = &tensors[i];
        if (!t->name) return rnn_errorf("%s: tensor %d has no name", path, i);
        rnn_shown nm = rnn_show(t->name);
        if (!strcmp(t->name, "__metadata__") || !utf8_valid(t->name))
            return rnn_errorf("%s: tensor name '%s' is reserved or not valid UTF-8", path, nm.s);
        if ((int)t->dtype < 0 || (int)t->dtype >= N_DTYPES)
            return rnn_errorf("%s: tensor '%s': unknown dtype %d", path, nm.s, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > RNN_ST_MAX_DIMS)
            return rnn_errorf("%s: tensor '%s': ndim %d outside [0, %d]", path, nm.s, t->ndim, RNN_ST_MAX_DIMS);
        size_t numel = 1, limit = SIZE_MAX / dt_sizes[t->dtype];
        int zero = 0, overflow = 0;
        for (int d = 0; d < t->ndim; d++) {
            int64_t v = t->shape[d];
            if (v < 0 || (double)v > ST_MAX_INT)
                return rnn_errorf("%s: tensor '%s': bad size %lld in dimension %d", path, nm.s, (long long)v, d);
            if (v == 0) zero = 1;
            else if (numel > limit / (uint64_t)v) overflow = 1;
            else numel *= (size_t)v;
        }
        if (zero) numel = 0;
        else if (overflow) return rnn_errorf("%s: tensor '%s': shape too large", path, nm.s);
        nbytes[i] = numel * dt_sizes[t->dtype];
        if (nbytes[i] && !t->data) return rnn_errorf("%s: tensor '%s' has no data", path, nm.s);
        if (nbytes[i] > SIZE_MAX - total) return rnn_errorf("%s: tensors too large", path);
        total += nbytes[i];
    }
    for (int i = 0; i < n_meta; i++) {
        if (!keys[i] || !values[i]) return rnn_errorf("%s: metadata %d has no key or value", path, i);
        if (!utf8_valid(keys[i]) || !utf8_valid(values[i]))
            return rnn_errorf("%s: metadata '%s' is not valid UTF-8", path, rnn_show(keys[i]).s);
    }
    /* Duplicates would make a header that loaders reject. */
    const char **names = malloc(sizeof *names * ((size_t)n + 1));
    if (!names) return rnn_errorf("%s: out of memory", path);
    for (int i = 0; i < n; i++) names[i] = tensors[i].name;
    int oom = 0, oom2 = 0;
    const char *dup = find_duplicate(names, n, &oom);
    const char *dupk = dup || oom ? NULL : find_duplicate(keys, n_meta, &oom2);
    rnn_shown d = rnn_show(dup ? dup : dupk);
    free(names);
    if (oom || (!dup && oom2)) return rnn_errorf("%s: out of memory", path);
    if (dup) return rnn_errorf("%s: tensor '%s' given twice", path, d.s);
    if (dupk) return rnn_errorf("%s: metadata key '%s' given twice", path, d.s);
    return 0;
}

/* The header JSON (unpadded), or NULL + message. */
static char *save_header(const char *path, const rnn_st_out *tensors, int n, const char *const *keys,
                         const char *const *values, int n_meta, const size_t *nbytes) {
    cJSON *h = cJSON_CreateObject();
    int ok = h != NULL;
    if (ok && n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(h, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < n_meta; i++) ok = cJSON_AddStringToObject(m, keys[i], values[i]) != NULL;
    }
    size_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        const rnn_st_out *t = &tensors[i];
        char shape[8 * 24 + 4], offsets[48];
        size_t k = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->ndim; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        snprintf(shape + k, sizeof shape - k, "]");
        snprintf(offsets, sizeof offsets, "[%zu,%zu]", off, off + nbytes[i]);
        off += nbytes[i];
        cJSON *e = cJSON_AddObjectToObject(h, t->name);
        ok = e && cJSON_AddStringToObject(e, "dtype", dt_names[t->dtype]) && cJSON_AddRawToObject(e, "shape", shape) &&
             cJSON_AddRawToObject(e, "data_offsets", offsets);
    }
    char *json = ok ? cJSON_PrintUnformatted(h) : NULL;
    cJSON_Delete(h);
    if (!json) rnn_errorf("%s: out of memory building the header", path);
    return json;
}

/* rnn_st_save's contents, written by rnn_replace_file. */
typedef struct {
    const char *json;
    const rnn_st_out *tensors;
    const size_t *nbytes;
    int n;
} save_fill_arg;

static int save_fill(FILE *f, void *arg) {
    const save_fill_arg *a = arg;
    const size_t jl = strlen(a->json), padded = (jl + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(a->json, 1, jl, f) == jl &&
             fwrite(spaces, 1, padded - jl, f) == padded - jl;
    for (int i = 0; ok && i < a->n; i++)
        ok = !a->nbytes[i] || fwrite(a->tensors[i].data, 1, a->nbytes[i], f) == a->nbytes[i];
    return ok ? 0 : -1;
}

int rnn_st_save(const char *path, const rnn_st_out *tensors, int n, const char *const *meta_keys,
                const char *const *meta_values, int n_meta) {
    if (!path || !*path) return rnn_errorf("rnn_st_save: empty path");
    size_t *nbytes = malloc(sizeof *nbytes * ((size_t)(n > 0 ? n : 0) + 1));
    if (!nbytes) return rnn_errorf("%s: out of memory", path);
    int rc = -1;
    char *json = NULL;
    if (save_check(path, tensors, n, meta_keys, meta_values, n_meta, nbytes)) goto out;
    if (!(json = save_header(path, tensors, n, meta_keys, meta_values, n_meta, nbytes))) goto out;
    if ((strlen(json) + 7) / 8 * 8 > ST_MAX_HEADER) { /* a file no reader (rnn.c's, safetensors') would open */
        rnn_errorf("%s: the header would be %zu bytes, over the 100 MB safetensors readers allow (a vocabulary of "
                   "millions of tokens? --max-vocab caps it)", path, strlen(json));
        goto out;
    }
    save_fill_arg fa = {json, tensors, nbytes, n};
    rc = rnn_replace_file(path, save_fill, &fa);
out:
    free(json);
    free(nbytes);
    return rc;
}
