/* fuzz_spiped_keylog.c — libFuzzer harness for core/spiped_keylog.c.
 *
 * The input is a key-log file. It is read four ways:
 *   A  fed at once, then flushed (a file read at rest);
 *   B  fed in chunks cut at split points derived from the input (a hash-seeded sequence of
 *      mostly short chunks), flushed once at the end;
 *   C  fed one byte at a time (inputs up to 4 KiB), flushed at the end;
 *   D  fed in the chunks of B with a flush after every chunk (a file followed while it is
 *      being written).
 * Checks (abort() on failure):
 *   - A, B and C end with identical statistics (every counter, first malformed/conflict
 *     line and reason) and identical lookup results;
 *   - the return values of feed/flush add up to the secrets stored, count() == secrets,
 *     get_stats() equals the stats last returned, and every complete line is counted as
 *     exactly one of comment, secret, duplicate, conflict, unknown label or malformed;
 *   - D reads the same number of lines (or one more: the unterminated last line, taken at a
 *     flush while it was a whole entry), and every value A can look up D can look up too
 *     (D may take a line early, as documented, so it may know more);
 *   - lookups of every 512-hex-digit run of the input, of raw 256-byte windows and of
 *     edge values never crash and agree between A, B and C.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "spiped_keylog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_spiped_keylog: %s:%d: ", __FILE__, __LINE__);         \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)

#define DH SPIPED_KEYLOG_DH_LEN
#define MAX_LOOKUPS 64
#define BYTEWISE_MAX 4096

typedef struct {
    spiped_keylog_t *kl;
    spiped_keylog_stats_t st;
    uint64_t added;
    int oom;
} reader_t;

static void reader_init(reader_t *r)
{
    memset(r, 0, sizeof *r);
    r->kl = spiped_keylog_new();
    if (r->kl == NULL)
        abort();
}

static void note(reader_t *r, int rv)
{
    if (rv < 0)
        r->oom = 1;
    else
        r->added += (uint64_t)rv;
}

static void feed(reader_t *r, const char *p, size_t n)
{
    note(r, spiped_keylog_feed(r->kl, p, n, &r->st));
}

static void flush(reader_t *r)
{
    note(r, spiped_keylog_flush(r->kl, &r->st));
}

static int reason_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void same_stats(const spiped_keylog_stats_t *a, const spiped_keylog_stats_t *b,
                       const char *what)
{
#define SAME(f)                                                                        \
    if (a->f != b->f)                                                                  \
    FAIL("%s: " #f " %llu vs %llu", what, (unsigned long long)a->f, (unsigned long long)b->f)
    SAME(lines);
    SAME(comments);
    SAME(secrets);
    SAME(duplicates);
    SAME(conflicts);
    SAME(unknown_labels);
    SAME(malformed);
    SAME(first_malformed_line);
    SAME(first_conflict_line);
    SAME(alloc_failures);
#undef SAME
    if (!reason_equal(a->first_malformed_reason, b->first_malformed_reason))
        FAIL("%s: first malformed reason \"%s\" vs \"%s\"", what,
             a->first_malformed_reason ? a->first_malformed_reason : "(null)",
             b->first_malformed_reason ? b->first_malformed_reason : "(null)");
}

/* Invariants of one reader that was flushed once, at the end. */
static void check_reader(const reader_t *r, const char *what)
{
    spiped_keylog_stats_t now;
    const spiped_keylog_stats_t *s = &r->st;
    memset(&now, 0xa5, sizeof now);
    spiped_keylog_get_stats(r->kl, &now);
    same_stats(&now, s, what);
    if (s->alloc_failures == 0 && (r->oom || r->added != s->secrets))
        FAIL("%s: feed/flush added %llu, stats say %llu secrets", what,
             (unsigned long long)r->added, (unsigned long long)s->secrets);
    if (spiped_keylog_count(r->kl) != s->secrets)
        FAIL("%s: count %zu, secrets %llu", what, spiped_keylog_count(r->kl),
             (unsigned long long)s->secrets);
    uint64_t kinds = s->comments + s->secrets + s->duplicates + s->conflicts + s->unknown_labels +
                     s->malformed + s->alloc_failures;
    if (kinds != s->lines)
        FAIL("%s: %llu lines, but %llu classified", what, (unsigned long long)s->lines,
             (unsigned long long)kinds);
    if ((s->malformed == 0) != (s->first_malformed_line == 0) ||
        (s->malformed == 0) != (s->first_malformed_reason == NULL) ||
        s->first_malformed_line > s->lines)
        FAIL("%s: %llu malformed, first at line %llu", what, (unsigned long long)s->malformed,
             (unsigned long long)s->first_malformed_line);
    if ((s->conflicts == 0) != (s->first_conflict_line == 0) || s->first_conflict_line > s->lines)
        FAIL("%s: %llu conflicts, first at line %llu", what, (unsigned long long)s->conflicts,
             (unsigned long long)s->first_conflict_line);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1du;
}

/* Chunk lengths for B and D: mostly 1..16 bytes, sometimes up to a line or two. */
static size_t next_chunk(uint64_t *s, size_t left)
{
    uint64_t r = next_rand(s);
    size_t n;
    switch (r & 3) {
    case 0: n = 1 + (r >> 8) % 4; break;
    case 1: n = 1 + (r >> 8) % 16; break;
    case 2: n = 1 + (r >> 8) % 1100; break;
    default: n = 1 + (r >> 8) % 5000; break;
    }
    return n < left ? n : left;
}

static int hexdigit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void decode(const uint8_t *hex, uint8_t out[DH])
{
    for (size_t i = 0; i < DH; i++)
        out[i] = (uint8_t)(hexdigit(hex[2 * i]) << 4 | hexdigit(hex[2 * i + 1]));
}

/* Candidate y values: the first 512 digits of each run of >= 512 hex digits, raw windows of
 * the input and a few edge values. */
typedef struct {
    uint8_t y[DH];
} cand_t;

static size_t candidates(const uint8_t *data, size_t size, cand_t *out, size_t max)
{
    size_t n = 0;
    size_t i = 0;
    while (i < size && n < max) {
        if (hexdigit(data[i]) < 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < size && hexdigit(data[j]) >= 0)
            j++;
        if (j - i >= 2 * DH) {
            decode(data + i, out[n].y);
            n++;
        }
        i = j;
    }
    for (size_t off = 0; off + DH <= size && n < max; off += 997) {
        memcpy(out[n].y, data + off, DH);
        n++;
    }
    if (n < max) {
        memset(out[n].y, 0, DH);
        out[n].y[DH - 1] = 2;
        n++;
    }
    if (n < max) {
        memset(out[n].y, 0xff, DH);
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    reader_t a, b, c, d;
    uint64_t seed = fnv1a(data, size) | 1;

    /* A: at once */
    reader_init(&a);
    feed(&a, text, size);
    flush(&a);
    check_reader(&a, "at once");

    /* B: chunks; D: the same chunks, flushed after each one */
    reader_init(&b);
    reader_init(&d);
    for (size_t off = 0; off < size;) {
        size_t n = next_chunk(&seed, size - off);
        /* a private copy of exactly the chunk, so a read past it is caught */
        char *chunk = malloc(n);
        if (chunk == NULL)
            abort();
        memcpy(chunk, text + off, n);
        feed(&b, chunk, n);
        feed(&d, chunk, n);
        flush(&d);
        free(chunk);
        off += n;
    }
    feed(&b, NULL, 0);
    flush(&b);
    flush(&d);
    check_reader(&b, "in chunks");
    same_stats(&a.st, &b.st, "at once vs in chunks");

    /* C: byte by byte */
    int have_c = size <= BYTEWISE_MAX;
    if (have_c) {
        reader_init(&c);
        for (size_t i = 0; i < size; i++) {
            char ch = text[i];
            feed(&c, &ch, 1);
        }
        flush(&c);
        check_reader(&c, "byte by byte");
        same_stats(&a.st, &c.st, "at once vs byte by byte");
    }

    /* D may also have taken the unterminated last line at a flush where its beginning was a
     * whole valid entry, even though the line as a whole is not one (then A leaves it
     * pending): documented flush behaviour, a writer may still be adding to the line. */
    int open_end = size > 0 && data[size - 1] != '\n';
    if (d.st.lines != a.st.lines && !(open_end && d.st.lines == a.st.lines + 1))
        FAIL("flushing after every chunk read %llu lines, at once %llu",
             (unsigned long long)d.st.lines, (unsigned long long)a.st.lines);
    if (d.st.secrets < a.st.secrets)
        FAIL("flushing after every chunk stored %llu secrets, at once %llu",
             (unsigned long long)d.st.secrets, (unsigned long long)a.st.secrets);

    /* lookups */
    cand_t *cand = malloc(MAX_LOOKUPS * sizeof *cand);
    if (cand == NULL)
        abort();
    size_t nc = candidates(data, size, cand, MAX_LOOKUPS);
    for (size_t i = 0; i < nc; i++) {
        const uint8_t *ya = spiped_keylog_lookup(a.kl, cand[i].y);
        const uint8_t *yb = spiped_keylog_lookup(b.kl, cand[i].y);
        const uint8_t *yd = spiped_keylog_lookup(d.kl, cand[i].y);
        if ((ya == NULL) != (yb == NULL) || (ya && memcmp(ya, yb, DH) != 0))
            FAIL("lookup %zu: at once %s, in chunks %s", i, ya ? "found" : "not found",
                 yb ? "found" : "not found");
        if (have_c) {
            const uint8_t *yc = spiped_keylog_lookup(c.kl, cand[i].y);
            if ((ya == NULL) != (yc == NULL) || (ya && memcmp(ya, yc, DH) != 0))
                FAIL("lookup %zu: at once %s, byte by byte %s", i, ya ? "found" : "not found",
                     yc ? "found" : "not found");
        }
        if (ya != NULL && yd == NULL)
            FAIL("lookup %zu: found when read at once, not when flushed after every chunk", i);
    }
    free(cand);
    static const uint8_t zero[DH];
    if (spiped_keylog_lookup(NULL, zero) != NULL || spiped_keylog_lookup(a.kl, NULL) != NULL)
        FAIL("lookup with NULL found something");
    if (spiped_keylog_feed(NULL, "x", 1, NULL) != -1 || spiped_keylog_flush(NULL, NULL) != -1 ||
        spiped_keylog_count(NULL) != 0)
        FAIL("NULL key log accepted");

    spiped_keylog_free(a.kl);
    spiped_keylog_free(b.kl);
    spiped_keylog_free(d.kl);
    if (have_c)
        spiped_keylog_free(c.kl);
    spiped_keylog_free(NULL);
    return 0;
}
