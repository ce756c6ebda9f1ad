/*
 * spiped_keylog.c - incremental spiped key-log parser and lookup table.
 * See spiped_keylog.h for the API and keylog/README.md for the format.
 *
 * Storage: entries (y, y_SC) live in fixed-size blocks that never move, so
 * pointers returned by spiped_keylog_lookup() stay valid; an open-addressing
 * table (linear probing, load factor <= 1/2) maps a 32-bit hash of y to the
 * entry index.  Memory is proportional to the number of distinct secrets plus
 * one line buffer of SPIPED_KEYLOG_MAX_LINE bytes.
 */
#include "spiped_keylog.h"
#include "spiped_group14.h"

#include <stdlib.h>
#include <string.h>

#define DH_LEN      SPIPED_KEYLOG_DH_LEN
#define HEX_LEN     (2 * DH_LEN)
#define LABEL       SPIPED_KEYLOG_LABEL
#define LABEL_LEN   (sizeof(LABEL) - 1)
#define BLOCK_SHIFT 10                      /* 1024 entries (512 KiB) per block */
#define BLOCK_SIZE  ((size_t)1 << BLOCK_SHIFT)
#define MAX_ENTRIES ((size_t)UINT32_MAX - 1)

/* hex digit value + 1; 0 for anything else */
static const uint8_t hexv1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
    ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

typedef struct {
    uint8_t y[DH_LEN];
    uint8_t y_sc[DH_LEN];
} kl_entry_t;

typedef struct {
    uint32_t idx1;      /* entry index + 1; 0 = empty slot */
    uint32_t hash;      /* hash of y; the home slot is hash & mask */
} kl_slot_t;

struct spiped_keylog {
    kl_entry_t **blocks;
    size_t nblocks, blocks_cap;
    size_t count;

    kl_slot_t *slots;
    size_t nslots;          /* power of two, or 0 before the first entry */

    /* the unterminated last line (room for a final '\r') */
    char line[SPIPED_KEYLOG_MAX_LINE + 1];
    size_t line_len;
    int overlong;           /* pending line exceeded the limit: skip to '\n' */
    int continuation;       /* pending bytes continue a line taken by flush */
    int continuation_bad;   /* ...and they were not all blanks */
    uint64_t continuation_line;

    spiped_keylog_stats_t st;
};

/* memset through a volatile pointer so that wiping is not optimised away */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

static void wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        wipe_memset(p, 0, n);
}

/* ------------------------------------------------------------ hash table */

static uint32_t hash_y(const uint8_t y[DH_LEN])
{
    uint64_t h = 0x243f6a8885a308d3u, w;
    size_t i;

    for (i = 0; i < DH_LEN; i += 8) {
        memcpy(&w, y + i, 8);
        h ^= w;
        h *= 0x9e3779b97f4a7c15u;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93u;
    h ^= h >> 32;
    return (uint32_t)h;
}

static kl_entry_t *entry_at(const spiped_keylog_t *kl, size_t idx)
{
    return &kl->blocks[idx >> BLOCK_SHIFT][idx & (BLOCK_SIZE - 1)];
}

static const kl_entry_t *find(const spiped_keylog_t *kl, const uint8_t y[DH_LEN], uint32_t h)
{
    size_t mask, i;

    if (kl->nslots == 0)
        return NULL;
    mask = kl->nslots - 1;
    for (i = h & mask; kl->slots[i].idx1 != 0; i = (i + 1) & mask) {
        if (kl->slots[i].hash == h) {
            const kl_entry_t *e = entry_at(kl, kl->slots[i].idx1 - 1);
            if (memcmp(e->y, y, DH_LEN) == 0)
                return e;
        }
    }
    return NULL;
}

static void slot_put(kl_slot_t *slots, size_t nslots, uint32_t idx1, uint32_t h)
{
    size_t mask = nslots - 1, i;

    for (i = h & mask; slots[i].idx1 != 0; i = (i + 1) & mask)
        ;
    slots[i].idx1 = idx1;
    slots[i].hash = h;
}

/* Make room for one more entry (table and block).  0 on success. */
static int reserve_one(spiped_keylog_t *kl)
{
    if (kl->count >= MAX_ENTRIES)
        return -1;
    if ((kl->count + 1) * 2 > kl->nslots) {
        size_t n = kl->nslots ? kl->nslots * 2 : 64, i;
        kl_slot_t *s;

        if (n > SIZE_MAX / sizeof(*s))
            return -1;
        s = calloc(n, sizeof(*s));
        if (s == NULL)
            return -1;
        for (i = 0; i < kl->nslots; i++)
            if (kl->slots[i].idx1 != 0)
                slot_put(s, n, kl->slots[i].idx1, kl->slots[i].hash);
        free(kl->slots);
        kl->slots = s;
        kl->nslots = n;
    }
    if ((kl->count >> BLOCK_SHIFT) >= kl->nblocks) {
        kl_entry_t *b;

        if (kl->nblocks == kl->blocks_cap) {
            size_t n = kl->blocks_cap ? kl->blocks_cap * 2 : 16;
            kl_entry_t **nb = realloc(kl->blocks, n * sizeof(*nb));

            if (nb == NULL)
                return -1;
            kl->blocks = nb;
            kl->blocks_cap = n;
        }
        b = malloc(BLOCK_SIZE * sizeof(*b));
        if (b == NULL)
            return -1;
        kl->blocks[kl->nblocks++] = b;
    }
    return 0;
}

/* 1 added, 0 duplicate/conflict, -1 out of memory */
static int add_secret(spiped_keylog_t *kl, const uint8_t y[DH_LEN],
                      const uint8_t y_sc[DH_LEN], uint64_t lineno)
{
    uint32_t h = hash_y(y);
    const kl_entry_t *old = find(kl, y, h);
    kl_entry_t *e;

    if (old != NULL) {
        if (memcmp(old->y_sc, y_sc, DH_LEN) == 0) {
            kl->st.duplicates++;
        } else {
            kl->st.conflicts++;
            if (kl->st.first_conflict_line == 0)
                kl->st.first_conflict_line = lineno;
        }
        return 0;
    }
    if (reserve_one(kl) != 0) {
        kl->st.alloc_failures++;
        return -1;
    }
    e = entry_at(kl, kl->count);
    memcpy(e->y, y, DH_LEN);
    memcpy(e->y_sc, y_sc, DH_LEN);
    kl->count++;
    slot_put(kl->slots, kl->nslots, (uint32_t)kl->count, h);
    kl->st.secrets++;
    return 1;
}

/* ----------------------------------------------------------- line parser */

typedef enum { LINE_SECRET, LINE_COMMENT, LINE_UNKNOWN_LABEL, LINE_BAD } line_kind_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Decode one 512-hex-digit field.  NULL on success, else the reason. */
static const char *decode_field(const char *p, size_t n, uint8_t out[DH_LEN],
                                const char *wrong_len, const char *not_hex)
{
    size_t i;

    if (n != HEX_LEN)
        return wrong_len;
    for (i = 0; i < DH_LEN; i++) {
        uint8_t hi = hexv1[(unsigned char)p[2 * i]];
        uint8_t lo = hexv1[(unsigned char)p[2 * i + 1]];

        if (hi == 0 || lo == 0)
            return not_hex;
        out[i] = (uint8_t)(((hi - 1) << 4) | (lo - 1));
    }
    return NULL;
}

/* 1 < v < p */
static int in_range(const uint8_t v[DH_LEN])
{
    uint8_t acc = 0;
    size_t i;

    for (i = 0; i < DH_LEN - 1; i++)
        acc |= v[i];
    if (acc == 0 && v[DH_LEN - 1] <= 1)
        return 0;
    return memcmp(v, spiped_group14_p, DH_LEN) < 0;
}

/* Classify and parse one line (without its '\n').  On LINE_SECRET y and
 * y_sc are filled in; on LINE_BAD *reason is set. */
static line_kind_t parse_line(const char *p, size_t n, uint8_t y[DH_LEN],
                              uint8_t y_sc[DH_LEN], const char **reason)
{
    size_t i = 0, tok, tok_len, f1, f1_len, f2, f2_len;

    /* The limit applies to the raw line without its "\n" or "\r\n", the
     * same whichever way the bytes were split between feeds. */
    if (n - (n > 0 && p[n - 1] == '\r') > SPIPED_KEYLOG_MAX_LINE) {
        *reason = "line longer than 4096 bytes";
        return LINE_BAD;
    }
    while (n > 0 && (is_blank(p[n - 1]) || p[n - 1] == '\r'))
        n--;
    while (i < n && is_blank(p[i]))
        i++;
    if (i == n || p[i] == '#')
        return LINE_COMMENT;

    tok = i;
    while (i < n && !is_blank(p[i]))
        i++;
    tok_len = i - tok;
    while (i < n && is_blank(p[i]))
        i++;

    if (tok_len != LABEL_LEN || memcmp(p + tok, LABEL, LABEL_LEN) != 0) {
        /* "LABEL field..." with LABEL in [A-Z][A-Z0-9_]*: another key-log
         * format sharing the file (e.g. TLS CLIENT_RANDOM lines). */
        size_t k;
        int label_like = p[tok] >= 'A' && p[tok] <= 'Z' && i < n;

        for (k = tok; label_like && k < tok + tok_len; k++) {
            char c = p[k];
            label_like = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        }
        if (label_like)
            return LINE_UNKNOWN_LABEL;
        *reason = "not a key-log line (expected 'SPIPED_DH_SECRET <y hex> <y_SC hex>')";
        return LINE_BAD;
    }

    f1 = i;
    while (i < n && !is_blank(p[i]))
        i++;
    f1_len = i - f1;
    while (i < n && is_blank(p[i]))
        i++;
    f2 = i;
    while (i < n && !is_blank(p[i]))
        i++;
    f2_len = i - f2;
    while (i < n && is_blank(p[i]))
        i++;

    if (f1_len == 0) {
        *reason = "SPIPED_DH_SECRET without values";
        return LINE_BAD;
    }
    if (f2_len == 0) {
        *reason = "SPIPED_DH_SECRET with one value only (need y and y_SC)";
        return LINE_BAD;
    }
    if (i != n) {
        *reason = "extra data after y_SC";
        return LINE_BAD;
    }
    *reason = decode_field(p + f1, f1_len, y, "public value y is not 512 hex digits",
                           "public value y contains a non-hex character");
    if (*reason == NULL)
        *reason = decode_field(p + f2, f2_len, y_sc, "shared value y_SC is not 512 hex digits",
                               "shared value y_SC contains a non-hex character");
    if (*reason == NULL && !in_range(y))
        *reason = "public value y out of range (must be 1 < y < group 14 prime)";
    if (*reason == NULL && !in_range(y_sc))
        *reason = "shared value y_SC out of range (must be 1 < y_SC < group 14 prime)";
    return *reason == NULL ? LINE_SECRET : LINE_BAD;
}

static void note_malformed(spiped_keylog_t *kl, uint64_t lineno, const char *reason)
{
    kl->st.malformed++;
    if (kl->st.first_malformed_line == 0) {
        kl->st.first_malformed_line = lineno;
        kl->st.first_malformed_reason = reason;
    }
}

/* Process one complete line; returns what add_secret returns (0 if none). */
static int process_line(spiped_keylog_t *kl, const char *p, size_t n)
{
    uint8_t y[DH_LEN], y_sc[DH_LEN];
    const char *reason = NULL;
    uint64_t lineno = ++kl->st.lines;
    int rv = 0;

    switch (parse_line(p, n, y, y_sc, &reason)) {
    case LINE_SECRET:
        rv = add_secret(kl, y, y_sc, lineno);
        break;
    case LINE_COMMENT:
        kl->st.comments++;
        break;
    case LINE_UNKNOWN_LABEL:
        kl->st.unknown_labels++;
        break;
    case LINE_BAD:
        note_malformed(kl, lineno, reason);
        break;
    }
    wipe(y_sc, sizeof(y_sc));
    return rv;
}

/* ------------------------------------------------------------------- API */

spiped_keylog_t *spiped_keylog_new(void)
{
    return calloc(1, sizeof(spiped_keylog_t));
}

void spiped_keylog_free(spiped_keylog_t *kl)
{
    size_t b;

    if (kl == NULL)
        return;
    for (b = 0; b < kl->nblocks; b++) {
        wipe(kl->blocks[b], BLOCK_SIZE * sizeof(kl_entry_t));
        free(kl->blocks[b]);
    }
    free(kl->blocks);
    free(kl->slots);
    wipe(kl->line, sizeof(kl->line));
    free(kl);
}

static void copy_stats(const spiped_keylog_t *kl, spiped_keylog_stats_t *stats)
{
    if (stats != NULL)
        *stats = kl->st;
}

int spiped_keylog_feed(spiped_keylog_t *kl, const char *data, size_t len,
                       spiped_keylog_stats_t *stats)
{
    int added = 0, oom = 0;

    if (kl == NULL)
        return -1;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        int r = 0;

        if (kl->continuation) {
            size_t i;

            for (i = 0; i < seg; i++)
                if (!is_blank(data[i]) && data[i] != '\r')
                    kl->continuation_bad = 1;
            if (nl != NULL) {
                if (kl->continuation_bad)
                    note_malformed(kl, kl->continuation_line,
                                   "line continued after it had been read at end of file");
                kl->continuation = kl->continuation_bad = 0;
            }
        } else if (nl != NULL && kl->line_len == 0 && !kl->overlong) {
            r = process_line(kl, data, seg);            /* whole line in data */
        } else {
            if (!kl->overlong) {
                if (seg > sizeof(kl->line) - kl->line_len) {
                    kl->overlong = 1;
                    wipe(kl->line, kl->line_len);
                    kl->line_len = 0;
                } else {
                    memcpy(kl->line + kl->line_len, data, seg);
                    kl->line_len += seg;
                }
            }
            if (nl != NULL) {
                if (kl->overlong) {
                    uint64_t lineno = ++kl->st.lines;
                    note_malformed(kl, lineno, "line longer than 4096 bytes");
                } else {
                    r = process_line(kl, kl->line, kl->line_len);
                }
                wipe(kl->line, kl->line_len);
                kl->line_len = 0;
                kl->overlong = 0;
            }
        }
        if (r > 0)
            added += r;
        else if (r < 0)
            oom = 1;
        if (nl == NULL)
            break;
        data += seg + 1;
        len -= seg + 1;
    }
    copy_stats(kl, stats);
    return oom ? -1 : added;
}

int spiped_keylog_flush(spiped_keylog_t *kl, spiped_keylog_stats_t *stats)
{
    uint8_t y[DH_LEN], y_sc[DH_LEN];
    const char *reason = NULL;
    int rv = 0;

    if (kl == NULL)
        return -1;
    if (!kl->continuation && !kl->overlong && kl->line_len > 0 &&
        parse_line(kl->line, kl->line_len, y, y_sc, &reason) == LINE_SECRET) {
        uint64_t lineno = ++kl->st.lines;

        rv = add_secret(kl, y, y_sc, lineno);
        wipe(kl->line, kl->line_len);
        kl->line_len = 0;
        kl->continuation = 1;
        kl->continuation_bad = 0;
        kl->continuation_line = lineno;
    }
    wipe(y_sc, sizeof(y_sc));
    copy_stats(kl, stats);
    return rv < 0 ? -1 : rv;
}

const uint8_t *spiped_keylog_lookup(const spiped_keylog_t *kl,
                                    const uint8_t y[SPIPED_KEYLOG_DH_LEN])
{
    const kl_entry_t *e;

    if (kl == NULL || y == NULL)
        return NULL;
    e = find(kl, y, hash_y(y));
    return e ? e->y_sc : NULL;
}

size_t spiped_keylog_count(const spiped_keylog_t *kl)
{
    return kl ? kl->count : 0;
}

void spiped_keylog_get_stats(const spiped_keylog_t *kl, spiped_keylog_stats_t *stats)
{
    if (kl != NULL)
        copy_stats(kl, stats);
}
