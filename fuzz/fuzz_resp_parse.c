/* fuzz_resp_parse.c — libFuzzer harness for core/resp_parse.c.
 *
 * The input is a byte stream as one TCP direction would carry it. It is cut into messages
 * with resp_parse(), once as a server would read it (RESP only) and once with
 * RESP_PARSE_ALLOW_INLINE (client to server), and both again as the dissector frames them
 * (RESP_PARSE_LENIENT, plus RESP_PARSE_REQUEST for the client). For each of the first
 * messages it checks:
 *
 *   - framing without a visitor and the visitor walk agree (status, length, need, error);
 *   - RESP_OK: 1 <= length <= size; RESP_NEED_MORE: need >= need_element >= 1,
 *     partial_line <= size;
 *     RESP_BAD: an error code and err_offset < size;
 *   - the visitor: every element and end offset lies inside the buffer (inside the message
 *     on RESP_OK), depths match the nesting the visitor sees, aggregates are closed in order
 *     and all of them are closed on RESP_OK; quoted inline arguments unescape within bounds;
 *   - prefixes: cut at split points derived from the input, a one-shot parse of a prefix
 *     agrees with the parse of the whole (OK stays OK with the same length, BAD stays BAD at
 *     the same place, a prefix of an OK message needs more and at most as many bytes as are
 *     missing), and resp_frame_resumable() fed the growing prefixes returns exactly what a
 *     one-shot parse of each prefix returns.
 *
 * Any disagreement calls abort(). Built with libFuzzer (ENABLE_FUZZING) or, for replaying
 * seeds in the normal build, with fuzz/replay_main.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_resp_parse: %s:%d: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)

#define MAX_MESSAGES 64      /* messages walked per input and flag setting */
#define CHECKED_MESSAGES 4   /* of which this many get the prefix/resume checks */
#define MAX_SPLITS 48        /* prefix lengths tried per checked message */

/* ---- visitor ----------------------------------------------------------------------------- */

typedef struct {
    size_t size;            /* bytes handed to resp_parse */
    size_t open[RESP_MAX_DEPTH + 4]; /* offsets of aggregates waiting for their end */
    unsigned nopen;
    size_t last_offset;     /* offset of the last element */
    int have_last;
    resp_type_t last_type;
    size_t max_end;         /* largest offset just past anything reported */
    unsigned elements;
    unsigned ends;
} walk_t;

static int known_type(resp_type_t t)
{
    switch (t) {
    case RESP_SIMPLE_STRING: case RESP_ERROR: case RESP_INTEGER: case RESP_BULK_STRING:
    case RESP_ARRAY: case RESP_NULL: case RESP_BOOLEAN: case RESP_DOUBLE: case RESP_BIG_NUMBER:
    case RESP_BULK_ERROR: case RESP_VERBATIM: case RESP_MAP: case RESP_SET: case RESP_ATTRIBUTE:
    case RESP_PUSH: case RESP_INLINE: case RESP_INLINE_ARG:
        return 1;
    }
    return 0;
}

static void note_span(walk_t *w, size_t off, size_t len, const char *what)
{
    if (off > w->size || len > w->size - off)
        FAIL("%s [%zu, +%zu) outside the %zu-byte buffer", what, off, len, w->size);
    if (off + len > w->max_end)
        w->max_end = off + len;
}

static int opens_frame(const resp_element_t *e)
{
    if (e->type == RESP_INLINE)
        return 1;  /* its arguments follow, then its end */
    return resp_type_is_aggregate(e->type) && !e->is_null && e->count > 0;
}

static void on_element(void *ud, const resp_element_t *e)
{
    walk_t *w = ud;
    w->elements++;
    if (!known_type(e->type) || strcmp(resp_type_name(e->type), "Unknown") == 0)
        FAIL("element of unknown type 0x%02x", (unsigned)e->type);
    if (e->depth != w->nopen)
        FAIL("element at %zu has depth %u, but %u aggregates are open", e->offset, e->depth,
             w->nopen);
    if (w->have_last) {
        /* document order: an inline argument may start where its line starts */
        if (e->offset < w->last_offset ||
            (e->offset == w->last_offset &&
             !(w->last_type == RESP_INLINE && e->type == RESP_INLINE_ARG)))
            FAIL("element at %zu after one at %zu", e->offset, w->last_offset);
    }
    w->have_last = 1;
    w->last_offset = e->offset;
    w->last_type = e->type;
    note_span(w, e->offset, e->header_len, "header");
    note_span(w, e->data_offset, e->data_len, "data");
    if (e->type != RESP_INLINE_ARG && e->type != RESP_INLINE) {
        if (e->header_len < 3)
            FAIL("header of %zu bytes at %zu", e->header_len, e->offset);
    }
    if (e->type == RESP_INLINE_ARG && e->quoted) {
        if (e->quoted != '"' && e->quoted != '\'')
            FAIL("inline argument quoted with 0x%02x", (unsigned)e->quoted);
    }
    if (opens_frame(e)) {
        if (w->nopen >= sizeof w->open / sizeof w->open[0])
            FAIL("more than %zu open aggregates", sizeof w->open / sizeof w->open[0]);
        w->open[w->nopen++] = e->offset;
    }
}

static void on_end(void *ud, const resp_element_t *e, size_t end)
{
    walk_t *w = ud;
    w->ends++;
    if (end > w->size)
        FAIL("end %zu past the %zu-byte buffer", end, w->size);
    if (end < e->offset + e->header_len)
        FAIL("end %zu before the end of the header at %zu", end, e->offset);
    if (end > w->max_end)
        w->max_end = end;
    if (opens_frame(e)) {
        if (w->nopen == 0 || w->open[w->nopen - 1] != e->offset)
            FAIL("end of the aggregate at %zu, which is not the innermost open one", e->offset);
        w->nopen--;
    } else {
        /* an empty or null aggregate ends right after it was reported */
        if (!resp_type_is_aggregate(e->type) || !w->have_last || w->last_offset != e->offset)
            FAIL("unexpected end of a %s at %zu", resp_type_name(e->type), e->offset);
        if (end != e->offset + e->header_len)
            FAIL("empty aggregate at %zu ends at %zu", e->offset, end);
    }
}

static const resp_visitor_t visitor = { on_element, on_end };

/* ---- helpers ----------------------------------------------------------------------------- */

static void check_result(const resp_result_t *r, size_t size, const char *what)
{
    switch (r->status) {
    case RESP_OK:
        if (r->length == 0 || r->length > size)
            FAIL("%s: RESP_OK with length %zu of %zu bytes", what, r->length, size);
        break;
    case RESP_NEED_MORE:
        if (r->need == 0 || r->need_element == 0 || r->need < r->need_element)
            FAIL("%s: RESP_NEED_MORE with need %llu, need_element %llu", what,
                 (unsigned long long)r->need, (unsigned long long)r->need_element);
        if (r->partial_line > size)
            FAIL("%s: RESP_NEED_MORE with a partial line of %zu in %zu bytes", what,
                 r->partial_line, size);
        break;
    case RESP_BAD:
        if (r->err == RESP_ERR_NONE)
            FAIL("%s: RESP_BAD without an error code", what);
        if (r->err_offset >= size)
            FAIL("%s: RESP_BAD at %zu of %zu bytes", what, r->err_offset, size);
        if (resp_error_string(r->err) == NULL)
            FAIL("%s: no text for error %d", what, (int)r->err);
        break;
    default:
        FAIL("%s: status %d", what, (int)r->status);
    }
}

/* Framing results that must not depend on how the parse was run. */
static int same_framing(const resp_result_t *a, const resp_result_t *b)
{
    if (a->status != b->status)
        return 0;
    switch (a->status) {
    case RESP_OK:
        return a->length == b->length;
    case RESP_NEED_MORE:
        return a->need == b->need && a->need_element == b->need_element;
    case RESP_BAD:
        return a->err == b->err && a->err_offset == b->err_offset;
    }
    return 0;
}

static const char *describe(const resp_result_t *r, char *out, size_t n)
{
    switch (r->status) {
    case RESP_OK:
        snprintf(out, n, "OK length %zu elements %u", r->length, r->elements);
        break;
    case RESP_NEED_MORE:
        snprintf(out, n, "NEED_MORE need %llu element %llu elements %u",
                 (unsigned long long)r->need, (unsigned long long)r->need_element, r->elements);
        break;
    case RESP_BAD:
        snprintf(out, n, "BAD %s at %zu elements %u", resp_error_string(r->err), r->err_offset,
                 r->elements);
        break;
    default:
        snprintf(out, n, "status %d", (int)r->status);
    }
    return out;
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
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1du;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Prefix lengths 0..size (sorted, duplicates kept once): every length for short inputs,
 * otherwise line boundaries (where elements end and resumption picks up) and lengths drawn
 * from a hash of the input. */
static size_t split_points(const uint8_t *buf, size_t size, size_t *out)
{
    size_t n = 0;
    if (size + 1 <= MAX_SPLITS) {
        for (size_t i = 0; i <= size; i++)
            out[n++] = i;
        return n;
    }
    uint64_t seed = fnv1a(buf, size) | 1;
    out[n++] = 0;
    out[n++] = 1;
    out[n++] = size - 1;
    out[n++] = size;
    for (size_t i = 0; i < size && n < MAX_SPLITS / 2; i++) {
        if (buf[i] == '\n') {
            out[n++] = i;      /* CR seen, LF missing */
            out[n++] = i + 1;  /* a whole line */
        }
    }
    while (n < MAX_SPLITS)
        out[n++] = (size_t)(next_rand(&seed) % (size + 1));
    qsort(out, n, sizeof *out, cmp_size);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || out[m - 1] != out[i])
            out[m++] = out[i];
    return m;
}

/* ---- the checks -------------------------------------------------------------------------- */

static resp_result_t walk_message(const uint8_t *buf, size_t size, unsigned flags)
{
    walk_t w;
    memset(&w, 0, sizeof w);
    w.size = size;
    resp_result_t r = resp_parse(buf, size, flags, &visitor, &w);
    check_result(&r, size, "visitor walk");
    if (r.status == RESP_OK) {
        if (w.nopen != 0)
            FAIL("RESP_OK with %u aggregates still open", w.nopen);
        if (w.max_end > r.length)
            FAIL("RESP_OK of %zu bytes reported bytes up to %zu", r.length, w.max_end);
        if (w.elements == 0)
            FAIL("RESP_OK without elements");
        if (r.elements != w.elements)
            FAIL("RESP_OK counts %u elements, the visitor saw %u", r.elements, w.elements);
    }
    return r;
}

static void unescape_el(void *ud, const resp_element_t *e)
{
    const uint8_t *buf = ud;
    if (e->type != RESP_INLINE_ARG)
        return;
    /* exactly data_len bytes of output room, as the API promises to need */
    uint8_t *out = malloc(e->data_len ? e->data_len : 1);
    if (out == NULL)
        abort();
    size_t n = resp_inline_unescape(buf + e->data_offset, e->data_len, e->quoted == '\'', out);
    if (n > e->data_len)
        FAIL("unescaping %zu bytes produced %zu", e->data_len, n);
    if (!e->quoted && (n != e->data_len || memcmp(out, buf + e->data_offset, n) != 0) &&
        memchr(buf + e->data_offset, '\\', e->data_len) == NULL)
        FAIL("unescaping an argument without backslashes changed it");
    free(out);
}

/* Unescapes every inline argument of the inline message buf[0..len). */
static void unescape_inline_args(const uint8_t *buf, size_t len)
{
    static const resp_visitor_t v = { unescape_el, NULL };
    resp_result_t r = resp_parse(buf, len, RESP_PARSE_ALLOW_INLINE, &v, (void *)buf);
    if (r.status != RESP_OK || r.length != len)
        FAIL("inline message of %zu bytes does not parse again", len);
}

static void check_prefixes(const uint8_t *buf, size_t size, unsigned flags,
                           const resp_result_t *whole)
{
    size_t splits[MAX_SPLITS + 8];
    size_t n = split_points(buf, size, splits);
    resp_resume_t rs;
    char d1[128], d2[128];
    memset(&rs, 0, sizeof rs);

    for (size_t i = 0; i < n; i++) {
        size_t len = splits[i];
        resp_result_t once = resp_parse(buf, len, flags, NULL, NULL);
        check_result(&once, len ? len : 1, "prefix");

        /* resumable framing over growing prefixes == one-shot framing of that prefix */
        for (int again = 0; again < 1 + (i % 5 == 2); again++) {  /* sometimes the same len twice */
            resp_result_t res = resp_frame_resumable(buf, len, flags, &rs);
            if (!same_framing(&once, &res) || once.elements != res.elements)
                FAIL("flags %u, prefix %zu of %zu: resumable %s, one-shot %s", flags, len, size,
                     describe(&res, d1, sizeof d1), describe(&once, d2, sizeof d2));
        }

        /* the prefix agrees with the whole */
        switch (whole->status) {
        case RESP_OK:
            if (len >= whole->length) {
                if (once.status != RESP_OK || once.length != whole->length)
                    FAIL("flags %u: whole %s, prefix %zu %s", flags,
                         describe(whole, d1, sizeof d1), len, describe(&once, d2, sizeof d2));
            } else if (once.status != RESP_NEED_MORE ||
                       once.need > (uint64_t)(whole->length - len)) {
                FAIL("flags %u: whole %s, prefix %zu %s", flags, describe(whole, d1, sizeof d1),
                     len, describe(&once, d2, sizeof d2));
            }
            break;
        case RESP_BAD:
            if (once.status == RESP_OK ||
                (once.status == RESP_BAD &&
                 (once.err != whole->err || once.err_offset != whole->err_offset)))
                FAIL("flags %u: whole %s, prefix %zu %s", flags, describe(whole, d1, sizeof d1),
                     len, describe(&once, d2, sizeof d2));
            break;
        case RESP_NEED_MORE:
            if (once.status != RESP_NEED_MORE)
                FAIL("flags %u: whole %s, prefix %zu %s", flags, describe(whole, d1, sizeof d1),
                     len, describe(&once, d2, sizeof d2));
            break;
        }
    }
}

static void run_stream(const uint8_t *data, size_t size, unsigned flags)
{
    size_t off = 0;
    for (unsigned msg = 0; msg < MAX_MESSAGES && off < size; msg++) {
        const uint8_t *buf = data + off;
        size_t len = size - off;
        char d1[128], d2[128];

        resp_result_t framed = resp_parse(buf, len, flags, NULL, NULL);
        check_result(&framed, len, "framing");
        resp_result_t walked = walk_message(buf, len, flags);
        if (!same_framing(&framed, &walked))
            FAIL("flags %u at %zu: framing %s, visitor walk %s", flags, off,
                 describe(&framed, d1, sizeof d1), describe(&walked, d2, sizeof d2));
        /* framing alone does not count inline arguments (no visitor, no argument walk) */
        if (framed.status == RESP_OK && framed.top_type != RESP_INLINE &&
            framed.elements != walked.elements)
            FAIL("flags %u at %zu: framing %s, visitor walk %s", flags, off,
                 describe(&framed, d1, sizeof d1), describe(&walked, d2, sizeof d2));
        if (framed.status == RESP_OK && framed.top_type == RESP_INLINE)
            unescape_inline_args(buf, framed.length);
        if (msg < CHECKED_MESSAGES)
            check_prefixes(buf, len, flags, &framed);
        if (framed.status != RESP_OK)
            break;
        off += framed.length;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy of exactly size bytes, so that ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    uint8_t *scratch = malloc(size ? size : 1);
    if (buf == NULL || scratch == NULL)
        abort();
    if (size)
        memcpy(buf, data, size);

    run_stream(buf, size, 0);
    run_stream(buf, size, RESP_PARSE_ALLOW_INLINE);
    /* as the dissector frames each direction */
    run_stream(buf, size, RESP_PARSE_LENIENT);
    run_stream(buf, size, RESP_PARSE_LENIENT | RESP_PARSE_ALLOW_INLINE | RESP_PARSE_REQUEST);

    /* the unescaper on its own, both quote styles, on the raw input */
    for (int single = 0; single < 2; single++) {
        size_t n = resp_inline_unescape(buf, size, single, scratch);
        if (n > size)
            FAIL("unescaping %zu bytes produced %zu", size, n);
    }
    free(scratch);
    free(buf);
    return 0;
}
