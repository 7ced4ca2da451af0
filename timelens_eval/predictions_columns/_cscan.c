/* The compiled scanner of plain TimeLens files: one pass over a run of entries.
 *
 * scan(raw, lo, hi) reads the entries between raw[lo] (the file's "{" or a comma) and
 * raw[hi] (its last "}" or a comma) when every one of them is in the common shape, and
 * returns None otherwise: then the numpy reader of _bytes.py reads the run, so this
 * scanner only ever decides the easy cases. An entry is
 *
 *     "VIDEO>>>QUERY>>>[S, E]": {"answers": "TEXT"}        (a plain answer)
 *     "VIDEO>>>QUERY>>>[S, E]": {"timestamps": [[1, 2]], ...}   (any other members)
 *
 * with blanks anywhere JSON allows them. It is refused when a key holds an escape or
 * not exactly two ">>>" (overlapping ones counted), when a value is not an object that
 * starts with a member, or when a value holds an object. The file must already be known
 * to be valid JSON.
 *
 * For each entry it gives the key's bounds, the end of its video name, the GT pair where
 * it is "[S, E]" with plain decimal numbers of at most 15 digits (else a flag: numpy and
 * msgspec read it), and for a plain answer that is ASCII, has no escape and is at most
 * 20,000 bytes, its first span under TimeLens' extract_time rules (else the answer's
 * bounds, which msgspec decodes); other values are given by their bounds.
 *
 * The answer rules, on lower-cased ASCII text (the numpy reader states the same rules in
 * terms of digit runs, parsing_batch.py):
 *   1. clock times \b(\d{1,2}:\d{2}:\d{2}(\.\d+)?|\d{1,2}:\d{2}(\.\d+)?)\b, the first two;
 *   2. the first (\d+\.?\d*)\s*-\s*(\d+\.?\d*), else the first (\d+\.?\d*)\s+to\s+(\d+\.?\d*);
 *   3. the first two numbers \b(\d+\.\d+|\d+)\b.
 * Numbers are converted as Python's float() converts them: digits / 10**k while the
 * digits fit in 15 places (both exact doubles, one rounding), else PyOS_string_to_double.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define LONG_ANSWER 20000 /* bytes: longer answers are left to the caller */
#define EXACT_DIGITS 15

enum { PLAIN_PARSED = 0, PLAIN_LEFT = 1, OTHER_VALUE = 2, STAMPED = 3 };

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int is_word(int c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* \s of a str pattern, on ASCII */
static int is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

static int is_blank(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* ---------------------------------------------------------------- numbers */

/* float() of text[a:b], digits with at most one dot; -1 (and an exception) on failure */
static int to_double(const unsigned char *text, Py_ssize_t a, Py_ssize_t b, double *out) {
    uint64_t mantissa = 0;
    int digits = 0, decimals = 0, dot = 0;
    for (Py_ssize_t i = a; i < b; i++) {
        int c = text[i];
        if (c == '.') {
            dot = 1;
            continue;
        }
        if (++digits > EXACT_DIGITS) break;
        mantissa = mantissa * 10 + (uint64_t)(c - '0');
        decimals += dot;
    }
    if (digits <= EXACT_DIGITS) {
        *out = (double)mantissa / POW10[decimals];
        return 0;
    }
    Py_ssize_t n = b - a;
    char small[64];
    char *copy = n < (Py_ssize_t)sizeof small ? small : PyMem_Malloc((size_t)n + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(copy, text + a, (size_t)n);
    copy[n] = '\0';
    double value = PyOS_string_to_double(copy, NULL, NULL);
    if (copy != small) PyMem_Free(copy);
    if (value == -1.0 && PyErr_Occurred()) return -1;
    *out = value;
    return 0;
}

/* ---------------------------------------------------------------- answers */

typedef struct {
    const unsigned char *t;
    Py_ssize_t n;
} Text;

static int at(const Text *s, Py_ssize_t i) { return i >= 0 && i < s->n ? s->t[i] : 0; }

static Py_ssize_t run_end(const Text *s, Py_ssize_t i) {
    while (i < s->n && is_digit(s->t[i])) i++;
    return i;
}

/* The clock time matched at p (a digit with no word character before it): its end, or -1. */
static Py_ssize_t clock_at(const Text *s, Py_ssize_t p, double *value, int *fail) {
    Py_ssize_t r = run_end(s, p);
    if (r - p > 2 || at(s, r) != ':' || !is_digit(at(s, r + 1)) || !is_digit(at(s, r + 2)))
        return -1;
    int head = 0;
    for (Py_ssize_t i = p; i < r; i++) head = head * 10 + (s->t[i] - '0');
    int mid = (s->t[r + 1] - '0') * 10 + (s->t[r + 2] - '0');
    Py_ssize_t q = r + 3; /* after the second group of two digits */
    double seconds;
    /* HH:MM:SS(.f) */
    if (at(s, q) == ':' && is_digit(at(s, q + 1)) && is_digit(at(s, q + 2))) {
        Py_ssize_t e = q + 3;
        if (at(s, e) == '.' && is_digit(at(s, e + 1))) {
            Py_ssize_t f = run_end(s, e + 1);
            if (!is_word(at(s, f))) {
                if (to_double(s->t, q + 1, f, &seconds) < 0) return *fail = 1, -1;
                *value = (double)(head * 3600 + mid * 60) + seconds;
                return f;
            }
        }
        if (!is_word(at(s, e))) {
            *value = (double)(head * 3600 + mid * 60) + (double)((s->t[q + 1] - '0') * 10 + (s->t[q + 2] - '0'));
            return e;
        }
    }
    /* MM:SS(.f) */
    if (at(s, q) == '.' && is_digit(at(s, q + 1))) {
        Py_ssize_t f = run_end(s, q + 1);
        if (!is_word(at(s, f))) {
            if (to_double(s->t, r + 1, f, &seconds) < 0) return *fail = 1, -1;
            *value = (double)(head * 60) + seconds;
            return f;
        }
    }
    if (!is_word(at(s, q))) {
        *value = (double)(head * 60 + mid);
        return q;
    }
    return -1;
}

/* The end of \d+\.?\d* from the digit at p. */
static Py_ssize_t range_number_end(const Text *s, Py_ssize_t p) {
    Py_ssize_t r = run_end(s, p);
    if (at(s, r) != '.') return r;
    return run_end(s, r + 1);
}

/* The first range "a - b" (to = 0) or "a to b" (to = 1): 1 found, 0 none, -1 error. */
static int first_range(const Text *s, int to, double *a, double *b) {
    for (Py_ssize_t p = 0; p < s->n; p++) {
        if (!is_digit(s->t[p]) || (p > 0 && is_digit(s->t[p - 1]))) continue;
        Py_ssize_t e1 = range_number_end(s, p), i = e1;
        if (to) {
            if (!is_space(at(s, i))) continue;
            while (is_space(at(s, i))) i++;
            if ((at(s, i) | 0x20) != 't' || (at(s, i + 1) | 0x20) != 'o' || !is_space(at(s, i + 2)))
                continue;
            i += 2;
            while (is_space(at(s, i))) i++;
        } else {
            while (is_space(at(s, i))) i++;
            if (at(s, i) != '-') continue;
            i++;
            while (is_space(at(s, i))) i++;
        }
        if (!is_digit(at(s, i))) continue;
        Py_ssize_t e2 = range_number_end(s, i);
        if (to_double(s->t, p, e1, a) < 0 || to_double(s->t, i, e2, b) < 0) return -1;
        return 1;
    }
    return 0;
}

/* The number \b(\d+\.\d+|\d+)\b found first from position *from: 1 (and *from after
 * it), 0 none, -1 error. */
static int next_number(const Text *s, Py_ssize_t *from, double *value) {
    Py_ssize_t p = *from;
    while (p < s->n) {
        if (!is_digit(s->t[p])) {
            p++;
            continue;
        }
        Py_ssize_t r = run_end(s, p);
        if (!is_word(at(s, p - 1))) {
            Py_ssize_t e = -1;
            if (at(s, r) == '.' && is_digit(at(s, r + 1))) {
                Py_ssize_t f = run_end(s, r + 1);
                if (!is_word(at(s, f))) e = f;
            }
            if (e < 0 && !is_word(at(s, r))) e = r;
            if (e >= 0) {
                if (to_double(s->t, p, e, value) < 0) return -1;
                *from = e;
                return 1;
            }
        }
        p = r;
    }
    *from = p;
    return 0;
}

/* The first span of an ASCII answer: 1 found, 0 none, -1 error. */
static int first_span(const unsigned char *t, Py_ssize_t n, double *start, double *end) {
    Text s = {t, n};
    int fail = 0;
    if (memchr(t, ':', (size_t)n) != NULL) {
        double clocks[2];
        int found = 0;
        Py_ssize_t p = 0;
        while (p < n && found < 2) {
            if (!is_digit(t[p]) || is_word(at(&s, p - 1))) {
                p++;
                continue;
            }
            Py_ssize_t e = clock_at(&s, p, &clocks[found], &fail);
            if (fail) return -1;
            if (e >= 0) {
                found++;
                p = e;
            } else {
                p = run_end(&s, p);
            }
        }
        if (found == 2) {
            *start = clocks[0];
            *end = clocks[1];
            return 1;
        }
    }
    if (memchr(t, '-', (size_t)n) != NULL) {
        int got = first_range(&s, 0, start, end);
        if (got) return got;
    }
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        if ((t[i] | 0x20) == 't' && (t[i + 1] | 0x20) == 'o') {
            int got = first_range(&s, 1, start, end);
            if (got) return got;
            break;
        }
    }
    Py_ssize_t from = 0;
    double a, b;
    int got = next_number(&s, &from, &a);
    if (got > 0) got = next_number(&s, &from, &b);
    if (got > 0) {
        *start = a;
        *end = b;
    }
    return got;
}

/* ---------------------------------------------------------------- columns */

typedef struct {
    char *data;
    size_t used, size;
} Column;

static int push(Column *c, const void *item, size_t width) {
    if (c->used + width > c->size) {
        size_t size = c->size ? 2 * c->size : 1 << 16;
        while (size < c->used + width) size *= 2;
        char *data = PyMem_Realloc(c->data, size);
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        c->data = data;
        c->size = size;
    }
    memcpy(c->data + c->used, item, width);
    c->used += width;
    return 0;
}

enum { KEY_START, KEY_END, VIDEO_END, GT_START, GT, GT_READ, KIND, PRED, BOUNDS, DURATIONS, COLUMNS };

/* A JSON number at t[*i] in the plain form -?(0|[1-9]\d*)(\.\d+)? with at most 15 digits
 * (no exponent): 1 read (*i after it), 0 not that form, -1 error. */
static int plain_number(const unsigned char *t, Py_ssize_t *i, Py_ssize_t hi, double *value) {
    Py_ssize_t p = *i, k = p;
    int negative = k < hi && t[k] == '-';
    k += negative;
    Py_ssize_t digits = k;
    if (k < hi && t[k] == '0') {
        k++;
    } else {
        if (k >= hi || t[k] < '1' || t[k] > '9') return 0;
        while (k < hi && is_digit(t[k])) k++;
    }
    if (k < hi && t[k] == '.') {
        k++;
        if (k >= hi || !is_digit(t[k])) return 0;
        while (k < hi && is_digit(t[k])) k++;
    }
    if (k < hi && (t[k] == 'e' || t[k] == 'E')) return 0;
    if (k - digits > EXACT_DIGITS) return 0; /* (the dot counted: a little stricter) */
    if (to_double(t, digits, k, value) < 0) return -1;
    if (negative) *value = -*value;
    *i = k;
    return 1;
}

/* A pair "[S, E]" of plain numbers from t[*i] (blanks allowed, ' ' only where `spaces`):
 * 1 read (*i after it), 0 not, -1 error. */
static int plain_pair(const unsigned char *t, Py_ssize_t *i, Py_ssize_t hi, double *pair, int spaces) {
    Py_ssize_t k = *i;
    if (k >= hi || t[k] != '[') return 0;
    k++;
    for (int j = 0; j < 2; j++) {
        while (k < hi && (spaces ? t[k] == ' ' : is_blank(t[k]))) k++;
        int got = plain_number(t, &k, hi, &pair[j]);
        if (got <= 0) return got;
        while (k < hi && (spaces ? t[k] == ' ' : is_blank(t[k]))) k++;
        if (k >= hi || t[k] != (j == 0 ? ',' : ']')) return 0;
        k++;
    }
    *i = k;
    return 1;
}

/* GT "[S, E]", the whole of t[a:b], with plain numbers: 1 read, 0 not, -1 error. */
static int read_gt(const unsigned char *t, Py_ssize_t a, Py_ssize_t b, double *pair) {
    if (a >= b || t[a] != '[' || t[b - 1] != ']') return 0;
    Py_ssize_t i = a;
    int got = plain_pair(t, &i, b, pair, 1);
    return got <= 0 ? got : i == b;
}

/* Whether t[0:n] holds a byte outside ASCII. */
static int has_high_byte(const unsigned char *t, Py_ssize_t n) {
    uint64_t seen = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, t + i, 8);
        seen |= w;
    }
    for (; i < n; i++) seen |= t[i];
    return (seen & 0x8080808080808080ull) != 0;
}

/* The end of the string whose opening quote is at p (the closing quote's position), or
 * -1; *escaped is set when it holds an escape and, unless other is NULL, *other when it
 * holds a byte outside ASCII. */
static Py_ssize_t string_end(const unsigned char *t, Py_ssize_t p, Py_ssize_t hi, int *escaped, int *other) {
    const unsigned char *quote = memchr(t + p + 1, '"', (size_t)(hi - p - 1));
    if (quote == NULL) return -1;
    Py_ssize_t q = quote - t;
    if (memchr(t + p + 1, '\\', (size_t)(q - p - 1)) == NULL) {
        if (other != NULL && has_high_byte(t + p + 1, q - p - 1)) *other = 1;
        return q;
    }
    *escaped = 1; /* the quote found may be escaped: each byte, then */
    for (Py_ssize_t i = p + 1; i < hi; i++) {
        int c = t[i];
        if (c == '"') return i;
        if (c == '\\') {
            i++;
        } else if (c >= 0x80 && other != NULL) {
            *other = 1;
        }
    }
    return -1;
}

static Py_ssize_t skip_blanks(const unsigned char *t, Py_ssize_t p, Py_ssize_t hi) {
    while (p < hi && is_blank(t[p])) p++;
    return p;
}

/* The end (exclusive) of the scalar or array member value at p, or -1 for an object. */
static Py_ssize_t value_end(const unsigned char *t, Py_ssize_t p, Py_ssize_t hi) {
    int depth = 0;
    for (Py_ssize_t i = p; i < hi; i++) {
        int c = t[i];
        if (c == '"') {
            int e = 0;
            i = string_end(t, i, hi, &e, NULL);
            if (i < 0) return -1;
            if (depth == 0) return i + 1;
        } else if (c == '[') {
            depth++;
        } else if (c == ']') {
            if (--depth == 0) return i + 1;
        } else if (c == '{') {
            return -1;
        } else if (depth == 0 && (c == ',' || c == '}' || is_blank(c))) {
            return i;
        }
    }
    return -1;
}

/* "timestamps": [[S, E], ...] of plain numbers from t[*i]: 1 read (*i after it, the
 * first pair in first, how many in *count), 0 not that form, -1 error. */
static int plain_stamps(const unsigned char *t, Py_ssize_t *i, Py_ssize_t hi, double *first, Py_ssize_t *count) {
    Py_ssize_t k = *i, n = 0;
    if (k >= hi || t[k] != '[') return 0;
    k = skip_blanks(t, k + 1, hi);
    if (k < hi && t[k] == ']') {
        *i = k + 1;
        *count = 0;
        return 1;
    }
    for (;;) {
        double pair[2];
        int got = plain_pair(t, &k, hi, pair, 0);
        if (got <= 0) return got;
        if (n++ == 0) first[0] = pair[0], first[1] = pair[1];
        k = skip_blanks(t, k, hi);
        if (k < hi && t[k] == ']') break;
        if (k >= hi || t[k] != ',') return 0;
        k = skip_blanks(t, k + 1, hi);
    }
    *i = k + 1;
    *count = n;
    return 1;
}

enum { ANSWERS, TIMESTAMPS, DURATION, OTHER_NAME };

static int member_name(const unsigned char *t, Py_ssize_t a, Py_ssize_t b, int escaped) {
    if (escaped) return OTHER_NAME;
    if (b - a == 7 && memcmp(t + a, "answers", 7) == 0) return ANSWERS;
    if (b - a == 10 && memcmp(t + a, "timestamps", 10) == 0) return TIMESTAMPS;
    if (b - a == 8 && memcmp(t + a, "duration", 8) == 0) return DURATION;
    return OTHER_NAME;
}

/* 1 read, 0 refused (None), -1 error */
static int scan_entries(const unsigned char *t, Py_ssize_t lo, Py_ssize_t hi, Column *col) {
    if (!(t[lo] == '{' || t[lo] == ',') || !(t[hi] == '}' || t[hi] == ',')) return 0;
    Py_ssize_t p = lo + 1;
    for (;;) {
        p = skip_blanks(t, p, hi);
        if (p >= hi || t[p] != '"') return 0;
        int escaped = 0;
        Py_ssize_t key_end = string_end(t, p, hi, &escaped, NULL);
        if (key_end < 0 || escaped) return 0;
        int64_t key_start = p + 1, seps[2] = {0, 0};
        int count = 0;
        for (Py_ssize_t i = key_start; i + 2 < key_end; i++) {
            const unsigned char *gt = memchr(t + i, '>', (size_t)(key_end - 2 - i));
            if (gt == NULL) break;
            i = gt - t;
            if (t[i + 1] == '>' && t[i + 2] == '>') { /* (overlapping ones counted) */
                if (count == 2) return 0;
                seps[count++] = i;
            }
        }
        if (count != 2 || seps[1] < seps[0] + 3) return 0;
        int64_t video_end = seps[0], gt_start = seps[1] + 3, end64 = key_end;
        double gt[2] = {NAN, NAN};
        int gt_read = read_gt(t, gt_start, key_end, gt);
        if (gt_read < 0) return -1;
        if (!gt_read) gt[0] = gt[1] = NAN;
        p = skip_blanks(t, key_end + 1, hi);
        if (p >= hi || t[p] != ':') return 0;
        p = skip_blanks(t, p + 1, hi);
        if (p >= hi || t[p] != '{') return 0;
        int64_t brace = p;
        /* The members: "answers", "timestamps" and "duration" in their plain forms, each
         * at most once, are read here; a value with anything else goes to msgspec. */
        int seen[OTHER_NAME + 1] = {0, 0, 0, 0}, plain = 1;
        Py_ssize_t answer_start = 0, answer_end = 0, stamps = -1;
        int answer_escaped = 0, answer_other = 0;
        double first[2] = {NAN, NAN}, duration = NAN;
        p = skip_blanks(t, p + 1, hi);
        for (;;) {
            if (p >= hi || t[p] != '"') return 0;
            int name_escaped = 0, o = 0;
            Py_ssize_t name_end = string_end(t, p, hi, &name_escaped, NULL);
            if (name_end < 0) return 0;
            int name = member_name(t, p + 1, name_end, name_escaped);
            if (seen[name]++) plain = 0;
            if (name == OTHER_NAME) plain = 0;
            p = skip_blanks(t, name_end + 1, hi);
            if (p >= hi || t[p] != ':') return 0;
            p = skip_blanks(t, p + 1, hi);
            if (p >= hi) return 0;
            int read = 0;
            if (name == ANSWERS && t[p] == '"') {
                Py_ssize_t end = string_end(t, p, hi, &answer_escaped, &answer_other);
                if (end < 0) return 0;
                answer_start = p + 1;
                answer_end = end;
                p = end + 1;
                read = 1;
            } else if (name == TIMESTAMPS && t[p] == '[') {
                Py_ssize_t k = p;
                read = plain_stamps(t, &k, hi, first, &stamps);
                if (read < 0) return -1;
                if (read) p = k;
            } else if (name == DURATION) {
                Py_ssize_t k = p;
                read = plain_number(t, &k, hi, &duration);
                if (read < 0) return -1;
                if (read) p = k;
            }
            if (!read) {
                plain = 0;
                Py_ssize_t end = t[p] == '"' ? string_end(t, p, hi, &o, NULL) + 1 : value_end(t, p, hi);
                if (end <= 0) return 0;
                p = end;
            }
            p = skip_blanks(t, p, hi);
            if (p >= hi) return 0;
            if (t[p] == '}') break;
            if (t[p] != ',') return 0;
            p = skip_blanks(t, p + 1, hi);
        }
        int64_t close = p;
        if (!seen[TIMESTAMPS] && !seen[ANSWERS]) plain = 0; /* msgspec: no span at all */
        int8_t kind;
        double pred[2] = {NAN, NAN};
        int64_t bounds[2] = {answer_start, answer_end};
        if (!plain) {
            kind = OTHER_VALUE;
            bounds[0] = brace;
            bounds[1] = close + 1;
            duration = NAN;
        } else if (seen[TIMESTAMPS]) {
            kind = STAMPED;
            if (stamps > 0) pred[0] = first[0], pred[1] = first[1];
        } else if (answer_escaped || answer_other || answer_end - answer_start > LONG_ANSWER) {
            kind = PLAIN_LEFT;
        } else {
            kind = PLAIN_PARSED;
            if (first_span(t + answer_start, answer_end - answer_start, &pred[0], &pred[1]) < 0) return -1;
        }
        int8_t read8 = (int8_t)gt_read;
        if (push(&col[KEY_START], &key_start, 8) || push(&col[KEY_END], &end64, 8) ||
            push(&col[VIDEO_END], &video_end, 8) || push(&col[GT_START], &gt_start, 8) ||
            push(&col[GT], gt, 16) || push(&col[GT_READ], &read8, 1) || push(&col[KIND], &kind, 1) ||
            push(&col[PRED], pred, 16) || push(&col[BOUNDS], bounds, 16) ||
            push(&col[DURATIONS], &duration, 8))
            return -1;
        p = skip_blanks(t, close + 1, hi);
        if (p == hi) return 1;
        if (p > hi || t[p] != ',') return 0;
        p++;
    }
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &lo, &hi)) return NULL;
    if (lo < 0 || hi < lo || hi >= view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scan: 0 <= lo <= hi < len(raw) is needed");
        return NULL;
    }
    Column col[COLUMNS];
    memset(col, 0, sizeof col);
    int got = scan_entries((const unsigned char *)view.buf, lo, hi, col);
    PyObject *out = NULL;
    if (got == 1) {
        out = PyTuple_New(COLUMNS);
        for (int k = 0; out != NULL && k < COLUMNS; k++) {
            PyObject *item = PyByteArray_FromStringAndSize(col[k].data, (Py_ssize_t)col[k].used);
            if (item == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyTuple_SET_ITEM(out, k, item);
        }
    } else if (got == 0) {
        out = Py_NewRef(Py_None);
    }
    for (int k = 0; k < COLUMNS; k++) PyMem_Free(col[k].data);
    PyBuffer_Release(&view);
    return out;
}

/* ---------------------------------------------------------------- grouping */

static uint64_t hash_bytes(const unsigned char *t, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, t + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, t + i, (size_t)(n - i));
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

typedef struct {
    uint64_t hash;
    int64_t code; /* the code + 1; 0: an empty slot */
} Slot;

/* group(raw, starts, ends) -> (codes, count): each string raw[starts[i]:ends[i]]'s code,
 * numbered in the order the strings are first seen (starts and ends: int64 buffers). */
static PyObject *group(PyObject *self, PyObject *args) {
    Py_buffer raw, sv, ev;
    if (!PyArg_ParseTuple(args, "y*y*y*", &raw, &sv, &ev)) return NULL;
    PyObject *out = NULL;
    Slot *slots = NULL;
    int64_t *firsts = NULL;
    PyObject *codes = NULL;
    Py_ssize_t n = sv.len / 8;
    const int64_t *starts = sv.buf, *ends = ev.buf;
    const unsigned char *t = raw.buf;
    if (ev.len != sv.len || sv.len % 8) {
        PyErr_SetString(PyExc_ValueError, "group: starts and ends of int64, of one length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (starts[i] < 0 || ends[i] < starts[i] || ends[i] > raw.len) {
            PyErr_SetString(PyExc_ValueError, "group: a string outside raw");
            goto done;
        }
    }
    size_t size = 1024;
    while (size < 2 * (size_t)n) size *= 2;
    slots = PyMem_Malloc(size * sizeof *slots);
    firsts = PyMem_Malloc(((size_t)n + 1) * sizeof *firsts); /* a code's first row */
    codes = PyByteArray_FromStringAndSize(NULL, n * 8);
    if (slots == NULL || firsts == NULL || codes == NULL) {
        if (codes != NULL) Py_CLEAR(codes);
        PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0, size * sizeof *slots);
    int64_t *code = (int64_t *)PyByteArray_AS_STRING(codes), count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *a = t + starts[i];
        Py_ssize_t len = (Py_ssize_t)(ends[i] - starts[i]);
        uint64_t h = hash_bytes(a, len);
        size_t j = (size_t)h & (size - 1);
        for (;;) {
            int64_t c = slots[j].code;
            if (c == 0) {
                slots[j].code = ++count;
                slots[j].hash = h;
                firsts[count - 1] = i;
                code[i] = count - 1;
                break;
            }
            if (slots[j].hash == h) {
                int64_t r = firsts[c - 1];
                if (ends[r] - starts[r] == len && memcmp(t + starts[r], a, (size_t)len) == 0) {
                    code[i] = c - 1;
                    break;
                }
            }
            j = (j + 1) & (size - 1);
        }
    }
    out = Py_BuildValue("(NL)", codes, (long long)count);
    codes = NULL;
done:
    Py_XDECREF(codes);
    PyMem_Free(slots);
    PyMem_Free(firsts);
    PyBuffer_Release(&raw);
    PyBuffer_Release(&sv);
    PyBuffer_Release(&ev);
    return out;
}

/* first_span(text: bytes) -> (start, end) | None, for tests of the answer rules */
static PyObject *py_first_span(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    double start, end;
    int got = first_span((const unsigned char *)view.buf, view.len, &start, &end);
    PyBuffer_Release(&view);
    if (got < 0) return NULL;
    if (got == 0) Py_RETURN_NONE;
    return Py_BuildValue("(dd)", start, end);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "The columns of the entries between raw[lo] and raw[hi], or None."},
    {"group", group, METH_VARARGS, "Codes of byte strings in first-seen order, and their number."},
    {"first_span", py_first_span, METH_VARARGS, "The first span of an ASCII answer, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cscan(void) { return PyModule_Create(&module); }
