/* safetensors.c: see safetensors.h.
 *
 * Loading reads the whole file into one buffer (no mmap: a file truncated
 * under a mapping turns reads into SIGBUS), parses the header with cJSON and
 * checks every field before any tensor is handed out, so later code can trust
 * numel, nbytes and data. The checks follow the reference implementation
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
#include <unistd.h>

#include "util.h"

/* The reference implementation's limit (safetensors::tensor::MAX_HEADER_SIZE). */
#define ST_MAX_HEADER 100000000ull
/* Integers above 2^53 do not survive cJSON's double; no real file needs them. */
#define ST_MAX_INT 9007199254740992.0

struct rnn_st {
    char *path;
    unsigned char *bytes; /* the whole file, plus a NUL */
    size_t size;
    rnn_st_tensor *t;     /* n tensors in file order; names owned */
    int n;
    char **meta_k, **meta_v; /* n_meta pairs in file order; owned */
    int n_meta;
};

/* Indexed by rnn_dtype. */
static const char *const dt_names[] = {"F32", "I32", "I64", "BF16", "F16", "F64"};
static const size_t dt_sizes[] = {4, 4, 8, 2, 2, 8};
#define N_DTYPES ((int)(sizeof dt_sizes / sizeof dt_sizes[0]))

size_t rnn_dtype_size(rnn_dtype dt) { return (int)dt >= 0 && (int)dt < N_DTYPES ? dt_sizes[dt] : 0; }

/* A string from the file as it may appear inside a one-line message: control
 * characters become '?' and long strings are cut (at a UTF-8 boundary) with
 * "...". Returned by value so it can be used inline in an argument list. */
typedef struct { char s[100]; } shown;
static shown show(const char *s) {
    shown r;
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
    free(st->meta_k);
    free(st->meta_v);
    free(st->bytes);
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

/* Reads the whole file into a NUL-terminated buffer sized from fstat (one
 * allocation, no doubling); anything but a regular file goes through
 * read_stream. NULL + message naming the path on failure. */
static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rnn_errorf("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        rnn_errorf("%s: cannot stat: %s", path, strerror(errno));
        fclose(f);
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) {
        rnn_errorf("%s: is a directory, not a safetensors file", path);
        fclose(f);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) return read_stream(f, path, len);
    if (sb.st_size < 0 || (uint64_t)sb.st_size >= SIZE_MAX) {
        rnn_errorf("%s: file too large (%lld bytes)", path, (long long)sb.st_size);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size + 1);
    if (!buf) {
        rnn_errorf("%s: out of memory reading the file (%zu bytes)", path, size);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    if (got != size && ferror(f)) {
        rnn_errorf("%s: read error: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
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
                              path, show(key).s);
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
    if (dup) return rnn_errorf("%s: metadata key '%s' appears twice", path, show(dup).s);
    return 0;
}

/* Validates one header entry and fills t (name excepted). */
static int load_tensor(const rnn_st *st, const cJSON *e, const char *name, const unsigned char *data,
                       size_t data_size, rnn_st_tensor *t) {
    const char *path = st->path;
    shown nm = show(name);
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
                          path, nm.s, show(dt->valuestring).s);
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
    t->data = data + b;
    return 0;
}

/* The tensors tile the data section: no two share a byte (empty tensors
 * share none), none leaves a hole before it, and the last ends at its end. */
static int check_layout(const rnn_st *st, const unsigned char *data, size_t data_size) {
    span *sp = malloc(sizeof *sp * ((size_t)st->n + 1));
    if (!sp) return rnn_errorf("%s: out of memory", st->path);
    int m = 0;
    for (int i = 0; i < st->n; i++) {
        if (!st->t[i].nbytes) continue;
        size_t b = (size_t)((const unsigned char *)st->t[i].data - data);
        sp[m++] = (span){b, b + st->t[i].nbytes, i};
    }
    qsort(sp, (size_t)m, sizeof *sp, cmp_span);
    int rc = 0;
    for (int i = 0; i < m && !rc; i++) {
        const size_t at = i ? sp[i - 1].end : 0;
        if (i && sp[i].begin < at) {
            const span x = sp[i - 1], y = sp[i];
            rc = rnn_errorf("%s: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap", st->path,
                            show(st->t[x.i].name).s, x.begin, x.end, show(st->t[y.i].name).s, y.begin, y.end);
        } else if (sp[i].begin > at) {
            rc = rnn_errorf("%s: %zu bytes of the data section before tensor '%s' [%zu, %zu] belong to no "
                            "tensor (safetensors has no holes: a damaged file)",
                            st->path, sp[i].begin - at, show(st->t[sp[i].i].name).s, sp[i].begin, sp[i].end);
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

rnn_st *rnn_st_load(const char *path) {
    if (!path) {
        rnn_errorf("rnn_st_load: no path given");
        return NULL;
    }
    rnn_st *st = calloc(1, sizeof *st);
    cJSON *h = NULL;
    if (!st || !(st->path = strdup(path))) {
        free(st);
        rnn_errorf("%s: out of memory", path);
        return NULL;
    }
    size_t size = 0;
    if (!(st->bytes = read_all(path, &size))) goto fail;
    st->size = size;
    if (size < 8) {
        rnn_errorf("%s: not a safetensors file: %zu bytes, shorter than the 8-byte header length", path, size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | st->bytes[i];
    if (hlen > size - 8) {
        rnn_errorf("%s: not a safetensors file: header length %llu is more than the %zu bytes after it%s", path,
                   (unsigned long long)hlen, size - 8, what_instead(st->bytes, size));
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        rnn_errorf("%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
        goto fail;
    }
    const char *hdr = (const char *)st->bytes + 8, *end = NULL;
    const unsigned char *data = st->bytes + 8 + hlen;
    const size_t data_size = size - 8 - (size_t)hlen;
    h = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!h) {
        size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
        rnn_errorf("%s: header is not valid JSON (error near byte %zu of %llu)", path, at,
                   (unsigned long long)hlen);
        goto fail;
    }
    /* Only padding may follow the JSON value (cJSON stops at its end). */
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rnn_errorf("%s: header has bytes after the JSON object (at byte %zu of %llu)", path,
                       (size_t)(p - hdr), (unsigned long long)hlen);
            goto fail;
        }
    if (!cJSON_IsObject(h)) {
        rnn_errorf("%s: header is not a JSON object", path);
        goto fail;
    }
    int count = cJSON_GetArraySize(h);
    if (!(st->t = calloc((size_t)count + 1, sizeof *st->t))) {
        rnn_errorf("%s: out of memory reading the header", path);
        goto fail;
    }
    int seen_meta = 0;
    for (const cJSON *e = h->child; e; e = e->next) {
        const char *name = e->string ? e->string : "";
        if (!strcmp(name, "__metadata__")) {
            if (seen_meta++) {
                rnn_errorf("%s: __metadata__ appears twice", path);
                goto fail;
            }
            if (load_metadata(st, e)) goto fail;
            continue;
        }
        rnn_st_tensor *t = &st->t[st->n];
        if (load_tensor(st, e, name, data, data_size, t)) goto fail;
        if (!(t->name = strdup(name))) {
            rnn_errorf("%s: out of memory reading the header", path);
            goto fail;
        }
        st->n++;
    }
    const char **names = malloc(sizeof *names * ((size_t)st->n + 1));
    if (!names) {
        rnn_errorf("%s: out of memory reading the header", path);
        goto fail;
    }
    for (int i = 0; i < st->n; i++) names[i] = st->t[i].name;
    int oom;
    const char *dup = find_duplicate(names, st->n, &oom);
    if (oom || dup) {
        if (oom) rnn_errorf("%s: out of memory reading the header", path);
        else rnn_errorf("%s: tensor '%s' appears twice", path, show(dup).s);
        free(names);
        goto fail;
    }
    free(names);
    if (check_layout(st, data, data_size)) goto fail;
    cJSON_Delete(h);
    return st;
fail:
    cJSON_Delete(h);
    rnn_st_free(st);
    return NULL;
}

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

/* Finds `name` and checks its element count and (ndim > 0 and shape given) shape. */
static const rnn_st_tensor *find_checked(const rnn_st *st, const char *name, size_t numel, int ndim,
                                         const int64_t *shape) {
    const rnn_st_tensor *t = rnn_st_find(st, name);
    if (!t) {
        rnn_errorf("%s: tensor '%s' missing", st->path, show(name).s);
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
            rnn_errorf("%s: tensor '%s' has shape %s, expected %s", st->path, show(name).s, got, want);
        else
            rnn_errorf("%s: tensor '%s' has shape %s (%zu elements), expected %s", st->path, show(name).s,
                       got, t->numel, want);
        return NULL;
    }
    return t;
}

/* IEEE half to float, exact (every half is a float). */
static float half_to_float(unsigned h) {
    unsigned s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0    ? ldexpf((float)m, -24)                       /* zero, subnormal */
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), (int)e - 25);    /* 1.m * 2^(e-15) */
    return s ? -v : v;
}

int rnn_st_read_f32(const rnn_st *st, const char *name, float *dst, size_t numel, int ndim,
                    const int64_t *shape) {
    const rnn_st_tensor *t = find_checked(st, name, numel, ndim, shape);
    if (!t) return -1;
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case RNN_DT_F32:
        if (numel) memcpy(dst, p, numel * 4);
        return 0;
    case RNN_DT_F64:
        for (size_t i = 0; i < numel; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    case RNN_DT_BF16: /* the top half of a float32 */
        for (size_t i = 0; i < numel; i++) {
            uint32_t u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &u, 4);
        }
        return 0;
    case RNN_DT_F16:
        for (size_t i = 0; i < numel; i++) dst[i] = half_to_float((unsigned)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default:
        return rnn_errorf("%s: tensor '%s' is %s, expected a float tensor (F32, F64, BF16 or F16)", st->path,
                          show(name).s, dt_names[t->dtype]);
    }
}

int rnn_st_read_i32(const rnn_st *st, const char *name, int32_t *dst, size_t numel) {
    const rnn_st_tensor *t = find_checked(st, name, numel, 0, NULL);
    if (!t) return -1;
    if (t->dtype == RNN_DT_I32) {
        if (numel) memcpy(dst, t->data, numel * 4);
        return 0;
    }
    if (t->dtype == RNN_DT_I64) {
        const unsigned char *p = t->data;
        for (size_t i = 0; i < numel; i++) { /* check all first: dst untouched on failure */
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return rnn_errorf("%s: tensor '%s': element %zu = %lld does not fit in 32 bits", st->path,
                                  show(name).s, i, (long long)v);
        }
        for (size_t i = 0; i < numel; i++) {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (int32_t)v;
        }
        return 0;
    }
    return rnn_errorf("%s: tensor '%s' is %s, expected an integer tensor (I32 or I64)", st->path, show(name).s,
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
        shown nm = show(t->name);
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
            return rnn_errorf("%s: metadata '%s' is not valid UTF-8", path, show(keys[i]).s);
    }
    /* Duplicates would make a header that loaders reject. */
    const char **names = malloc(sizeof *names * ((size_t)n + 1));
    if (!names) return rnn_errorf("%s: out of memory", path);
    for (int i = 0; i < n; i++) names[i] = tensors[i].name;
    int oom = 0, oom2 = 0;
    const char *dup = find_duplicate(names, n, &oom);
    const char *dupk = dup || oom ? NULL : find_duplicate(keys, n_meta, &oom2);
    shown d = show(dup ? dup : dupk);
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
    save_fill_arg fa = {json, tensors, nbytes, n};
    rc = rnn_replace_file(path, save_fill, &fa);
out:
    free(json);
    free(nbytes);
    return rc;
}
