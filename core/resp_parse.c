/* resp_parse.c — RESP2/RESP3 and inline-command tokenizer (see resp_parse.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_parse.h"

#include <string.h>

typedef struct {
    resp_element_t el;
    uint64_t remaining; /* children still to come, the one in progress included */
} frame_t;

/* Aggregates nested deeper than RESP_MAX_DEPTH are only counted, not reported: their
 * pending children are kept as runs of equal counts (a Lua script's reply nested 8000 deep
 * is one run), so framing them costs no stack. */
#define RESP_DEEP_RUNS 64
typedef struct {
    uint64_t remaining; /* children still to come in each of these aggregates */
    uint64_t levels;    /* how many nested aggregates have that count */
} deep_run_t;

typedef struct {
    const uint8_t *buf;
    size_t len;
    const resp_visitor_t *v;
    void *ud;
    frame_t stack[RESP_MAX_DEPTH];
    unsigned sp;
    deep_run_t deep[RESP_DEEP_RUNS]; /* beyond the stack, innermost last */
    unsigned ndeep;
    uint64_t deep_levels;            /* levels in deep[] */
    uint64_t max_depth;              /* deepest nesting seen */
    unsigned elements;
    resp_resume_t *resume; /* framing only: where to pick up next time */
    size_t elem_start;     /* start of the element being parsed */
} parser_t;

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n';
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Parses an optionally negative decimal integer that fills [p, p+n) exactly. */
static int parse_int64(const uint8_t *p, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    for (; i < n; i++) {
        if (!is_digit(p[i]))
            return 0;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)v;
    }
    return 1;
}

/* RESP3 double: "inf", "-inf", "nan", or a decimal/exponent number as %.17g prints it. */
static int valid_double(const uint8_t *p, size_t n)
{
    size_t i = 0, digits = 0;
    if ((n == 3 && (!memcmp(p, "inf", 3) || !memcmp(p, "nan", 3))) ||
        (n == 4 && (!memcmp(p, "-inf", 4) || !memcmp(p, "+inf", 4) || !memcmp(p, "-nan", 4))))
        return 1;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        i++;
    while (i < n && is_digit(p[i])) {
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && is_digit(p[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            i++;
        while (i < n && is_digit(p[i])) {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return 0;
    }
    return i == n;
}

static int valid_big_number(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n > 0 && p[0] == '-')
        i = 1;
    if (i == n)
        return 0;
    for (; i < n; i++)
        if (!is_digit(p[i]))
            return 0;
    return 1;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Lower bound of bytes the siblings not yet started still need: 3 each ("_\r\n"). */
static uint64_t pending_min(const parser_t *ps)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < ps->ndeep; i++) {
        uint64_t r = ps->deep[i].remaining;
        if (r > 1)
            sum = sat_add(sum, (r - 1) > UINT64_MAX / ps->deep[i].levels ? UINT64_MAX
                                                                         : (r - 1) * ps->deep[i].levels);
    }
    for (unsigned i = 0; i < ps->sp; i++) {
        uint64_t r = ps->stack[i].remaining;
        if (r > 0)
            sum = sat_add(sum, r - 1);
    }
    return sum > UINT64_MAX / 3 ? UINT64_MAX : sum * 3;
}

static resp_result_t need_more(const parser_t *ps, uint64_t missing)
{
    if (ps->resume && ps->ndeep == 0) {
        resp_resume_t *rs = ps->resume;
        rs->valid = 1;
        rs->pos = ps->elem_start;
        rs->sp = ps->sp;
        rs->elements = ps->elements;
        for (unsigned i = 0; i < ps->sp; i++) {
            rs->stack[i].el = ps->stack[i].el;
            rs->stack[i].remaining = ps->stack[i].remaining;
        }
    }
    resp_result_t r;
    memset(&r, 0, sizeof r);
    r.status = RESP_NEED_MORE;
    r.need_element = missing ? missing : 1;
    r.need = sat_add(r.need_element, pending_min(ps));
    r.top_type = ps->len ? (resp_type_t)ps->buf[0] : RESP_SIMPLE_STRING;
    r.elements = ps->elements;
    return r;
}

static resp_result_t bad(const parser_t *ps, size_t at, resp_error_t err)
{
    resp_result_t r;
    memset(&r, 0, sizeof r);
    r.status = RESP_BAD;
    r.err_offset = at;
    r.err = err;
    r.top_type = ps->len ? (resp_type_t)ps->buf[0] : RESP_SIMPLE_STRING;
    r.elements = ps->elements;
    return r;
}

/* Reports (and counts) an element; those beyond the stack are neither. */
static void emit(parser_t *ps, const resp_element_t *e)
{
    if (ps->ndeep)
        return;
    ps->elements++;
    if (ps->v && ps->v->element)
        ps->v->element(ps->ud, e);
}

/* One more aggregate beyond the stack, with `children` to come. */
static int push_deep(parser_t *ps, uint64_t children)
{
    deep_run_t *top = ps->ndeep ? &ps->deep[ps->ndeep - 1] : NULL;
    if (top && top->remaining == children) {
        top->levels++;
    } else {
        if (ps->ndeep == RESP_DEEP_RUNS)
            return 0;
        ps->deep[ps->ndeep].remaining = children;
        ps->deep[ps->ndeep].levels = 1;
        ps->ndeep++;
    }
    ps->deep_levels++;
    if (RESP_MAX_DEPTH + ps->deep_levels > ps->max_depth)
        ps->max_depth = RESP_MAX_DEPTH + ps->deep_levels;
    return 1;
}

/* An element beyond the stack is complete: unwinds the deep aggregates it finishes. Returns
 * 1 when the stack's innermost aggregate got a child done (the caller goes on unwinding). */
static int complete_deep(parser_t *ps)
{
    while (ps->ndeep) {
        deep_run_t *top = &ps->deep[ps->ndeep - 1];
        if (top->remaining > 1) {
            /* the innermost level has more children: split it off its run */
            if (top->levels == 1) {
                top->remaining--;
            } else {
                top->levels--;
                if (ps->ndeep == RESP_DEEP_RUNS)
                    return -1;
                ps->deep[ps->ndeep].remaining = top->remaining - 1;
                ps->deep[ps->ndeep].levels = 1;
                ps->ndeep++;
            }
            return 0;
        }
        /* the innermost level is done: one level fewer, and its parent's child is done */
        ps->deep_levels--;
        if (--top->levels == 0)
            ps->ndeep--;
    }
    return 1;
}

/* Finds the CRLF ending the line that starts at `from`. Returns 1 and sets *cr to the offset of
 * '\r'; 0 when the buffer ends first; -1 when a bare CR or LF breaks the line. */
static int find_crlf(const parser_t *ps, size_t from, size_t max_line, size_t *cr)
{
    size_t avail = ps->len - from;
    size_t scan = avail < max_line ? avail : max_line;
    const uint8_t *p = memchr(ps->buf + from, '\r', scan);
    if (!p) {
        /* a LF without CR is not RESP */
        if (memchr(ps->buf + from, '\n', scan))
            return -1;
        return avail >= max_line ? -1 : 0;
    }
    size_t at = (size_t)(p - ps->buf);
    if (memchr(ps->buf + from, '\n', at - from))
        return -1;
    if (at + 1 >= ps->len)
        return 0;
    if (ps->buf[at + 1] != '\n')
        return -1;
    *cr = at;
    return 1;
}

static size_t skip_spaces(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && is_space(p[i]))
        i++;
    return i;
}

/* One inline argument starting at p[i] (not a space). Sets the element's data span and returns
 * the offset after it, or (size_t)-1 on unbalanced quotes. */
static size_t inline_token(const uint8_t *p, size_t i, size_t n, resp_element_t *e)
{
    if (p[i] == '"' || p[i] == '\'') {
        uint8_t q = p[i];
        size_t start = ++i;
        while (i < n) {
            if (p[i] == '\\' && i + 1 < n) {
                i += 2;
                continue;
            }
            if (p[i] == q)
                break;
            i++;
        }
        if (i >= n)
            return (size_t)-1;
        /* the closing quote must end the argument */
        if (i + 1 < n && !is_space(p[i + 1]))
            return (size_t)-1;
        e->data_offset = start;
        e->data_len = i - start;
        e->quoted = q;
        return i + 1;
    }
    size_t start = i;
    while (i < n && !is_space(p[i]))
        i++;
    e->data_offset = start;
    e->data_len = i - start;
    e->quoted = 0;
    return i;
}

static resp_result_t parse_inline(parser_t *ps)
{
    const uint8_t *buf = ps->buf;
    size_t scan = ps->len < RESP_MAX_INLINE_LEN ? ps->len : RESP_MAX_INLINE_LEN;
    const uint8_t *nl = memchr(buf, '\n', scan);
    if (!nl)
        return ps->len >= RESP_MAX_INLINE_LEN ? bad(ps, 0, RESP_ERR_INLINE) : need_more(ps, 1);
    size_t line_end = (size_t)(nl - buf) + 1;
    size_t content = line_end - 1;
    if (content > 0 && buf[content - 1] == '\r')
        content--;
    /* Humans type text: control bytes other than tab mean this is not an inline command. */
    for (size_t i = 0; i < content; i++)
        if ((buf[i] < 0x20 && buf[i] != '\t') || buf[i] == 0x7f)
            return bad(ps, i, RESP_ERR_INLINE);

    /* First pass counts and validates arguments, second reports them. */
    int64_t argc = 0;
    resp_element_t arg;
    memset(&arg, 0, sizeof arg);
    for (size_t i = skip_spaces(buf, 0, content); i < content; i = skip_spaces(buf, i, content)) {
        i = inline_token(buf, i, content, &arg);
        if (i == (size_t)-1)
            return bad(ps, 0, RESP_ERR_INLINE);
        argc++;
    }
    resp_element_t line;
    memset(&line, 0, sizeof line);
    line.type = RESP_INLINE;
    line.header_len = line_end;
    line.data_len = content;
    line.count = argc;
    emit(ps, &line);
    if (ps->v) {
        for (size_t i = skip_spaces(buf, 0, content); i < content; i = skip_spaces(buf, i, content)) {
            size_t start = i;
            i = inline_token(buf, i, content, &arg);
            arg.type = RESP_INLINE_ARG;
            arg.depth = 1;
            arg.offset = start;
            arg.header_len = 0;
            arg.count = (int64_t)arg.data_len;
            emit(ps, &arg);
        }
        if (ps->v->end)
            ps->v->end(ps->ud, &line, line_end);
    }
    resp_result_t r;
    memset(&r, 0, sizeof r);
    r.status = RESP_OK;
    r.length = line_end;
    r.top_type = RESP_INLINE;
    r.elements = ps->elements;
    return r;
}

/* Element completed at `end`: unwinds finished aggregates. Returns 1 when the message is done. */
static int complete(parser_t *ps, resp_type_t type, size_t end)
{
    if (type == RESP_ATTRIBUTE)
        return 0;
    if (ps->ndeep) {
        int r = complete_deep(ps);
        if (r <= 0)
            return r; /* -1: too many runs */
        type = RESP_ARRAY; /* the stack's innermost aggregate had a child done */
    }
    for (;;) {
        /* An attribute annotates the element after it and is not counted as one. */
        if (type == RESP_ATTRIBUTE)
            return 0;
        if (ps->sp == 0)
            return 1;
        frame_t *top = &ps->stack[ps->sp - 1];
        if (--top->remaining > 0)
            return 0;
        ps->sp--;
        if (ps->v && ps->v->end)
            ps->v->end(ps->ud, &top->el, end);
        type = top->el.type;
    }
}

static resp_result_t parse(const uint8_t *buf, size_t len, unsigned flags,
                           const resp_visitor_t *visitor, void *ud, resp_resume_t *resume)
{
    parser_t ps;
    ps.buf = buf;
    ps.len = len;
    ps.v = visitor;
    ps.ud = ud;
    ps.sp = 0;
    ps.ndeep = 0;
    ps.deep_levels = 0;
    ps.max_depth = 0;
    ps.elements = 0;
    ps.resume = NULL;
    ps.elem_start = 0;

    if (len == 0)
        return need_more(&ps, 1);
    if ((flags & RESP_PARSE_ALLOW_INLINE) && buf[0] != '*')
        return parse_inline(&ps);

    size_t pos = 0;
    if (resume) {
        if (resume->valid && resume->pos <= len) {
            pos = resume->pos;
            ps.sp = resume->sp;
            ps.elements = resume->elements;
            for (unsigned i = 0; i < ps.sp; i++) {
                ps.stack[i].el = resume->stack[i].el;
                ps.stack[i].remaining = resume->stack[i].remaining;
            }
        }
        resume->valid = 0;
        ps.resume = resume;
    }
    for (;;) {
        ps.elem_start = pos;
        if (pos >= len)
            return need_more(&ps, 3); /* the smallest element, "_\r\n" */
        resp_element_t e;
        memset(&e, 0, sizeof e);
        e.type = (resp_type_t)buf[pos];
        e.depth = ps.sp;
        e.offset = pos;
        size_t cr = 0;
        int found;
        /* a server reads a request's arguments as bulk strings only ("expected '$'") */
        if ((flags & RESP_PARSE_REQUEST) && ps.sp > 0 && e.type != RESP_BULK_STRING)
            return bad(&ps, pos, RESP_ERR_TYPE);
        switch (e.type) {
        case RESP_SIMPLE_STRING:
        case RESP_ERROR:
        case RESP_BIG_NUMBER:
            /* a long line shows its length only at its end; inside an aggregate it is
             * bounded, so that waiting for it cannot be drawn out (a top-level one can be
             * shown as it comes instead) */
            found = find_crlf(&ps, pos + 1, ps.sp ? RESP_MAX_NESTED_LINE : RESP_MAX_BULK_LEN, &cr);
            if (found < 0 && ps.sp && len - (pos + 1) >= RESP_MAX_NESTED_LINE &&
                !memchr(buf + pos + 1, '\n', RESP_MAX_NESTED_LINE))
                return bad(&ps, pos, RESP_ERR_TOO_LARGE);
            break;
        case RESP_INTEGER:
        case RESP_NULL:
        case RESP_BOOLEAN:
        case RESP_DOUBLE:
        case RESP_BULK_STRING:
        case RESP_BULK_ERROR:
        case RESP_VERBATIM:
        case RESP_ARRAY:
        case RESP_MAP:
        case RESP_SET:
        case RESP_ATTRIBUTE:
        case RESP_PUSH:
            found = find_crlf(&ps, pos + 1, RESP_MAX_NUMBER_LINE, &cr);
            break;
        default:
            return bad(&ps, pos, RESP_ERR_TYPE);
        }
        if (found < 0)
            return bad(&ps, pos, e.type == RESP_SIMPLE_STRING || e.type == RESP_ERROR
                                     ? RESP_ERR_CRLF : RESP_ERR_LENGTH);
        if (found == 0) {
            resp_result_t r = need_more(&ps, 1);
            r.partial_line = len - pos;
            return r;
        }

        e.header_len = cr + 2 - pos;
        e.data_offset = pos + 1;
        e.data_len = cr - (pos + 1);
        const uint8_t *d = buf + e.data_offset;
        size_t next = cr + 2;
        int64_t n = 0;

        switch (e.type) {
        case RESP_SIMPLE_STRING:
        case RESP_ERROR:
            break;
        case RESP_INTEGER:
            if (!parse_int64(d, e.data_len, &e.count))
                e.invalid = 1;
            break;
        case RESP_NULL:
            e.invalid = e.data_len != 0;
            e.is_null = 1;
            break;
        case RESP_BOOLEAN:
            e.invalid = e.data_len != 1 || (d[0] != 't' && d[0] != 'f');
            e.count = !e.invalid && d[0] == 't';
            break;
        case RESP_DOUBLE:
            e.invalid = !valid_double(d, e.data_len);
            break;
        case RESP_BIG_NUMBER:
            e.invalid = !valid_big_number(d, e.data_len);
            break;
        default: /* length-prefixed types */
            if (!parse_int64(d, e.data_len, &n))
                return bad(&ps, pos, RESP_ERR_LENGTH);
            if (n < 0) {
                int skipped_request = (flags & RESP_PARSE_REQUEST) && ps.sp == 0 &&
                                      e.type == RESP_ARRAY;
                if (!skipped_request &&
                    (n != -1 || (e.type != RESP_BULK_STRING && e.type != RESP_ARRAY)))
                    return bad(&ps, pos, RESP_ERR_LENGTH);
                e.is_null = n == -1;
            }
            e.count = n;
            break;
        }

        if (e.invalid && !(flags & RESP_PARSE_LENIENT))
            return bad(&ps, pos, RESP_ERR_VALUE);
        if (e.type == RESP_BULK_STRING || e.type == RESP_BULK_ERROR || e.type == RESP_VERBATIM) {
            if (e.is_null) {
                e.data_len = 0;
                emit(&ps, &e);
            } else {
                if ((uint64_t)n > RESP_MAX_BULK_LEN)
                    return bad(&ps, pos, RESP_ERR_TOO_LARGE);
                e.data_offset = next;
                e.data_len = (size_t)n;
                if (len - next < (size_t)n + 2) {
                    if (ps.v && ps.v->element && ps.ndeep == 0) {
                        /* show what the capture holds of a value it cut */
                        resp_element_t part = e;
                        part.data_len = len - next < (size_t)n ? len - next : (size_t)n;
                        ps.elements++;
                        ps.v->element(ps.ud, &part);
                    }
                    return need_more(&ps, (uint64_t)n + 2 - (len - next));
                }
                if (buf[next + n] != '\r' || buf[next + n + 1] != '\n')
                    return bad(&ps, next + (size_t)n, RESP_ERR_CRLF);
                if (e.type == RESP_VERBATIM && (n < 4 || buf[next + 3] != ':')) {
                    if (!(flags & RESP_PARSE_LENIENT))
                        return bad(&ps, pos, RESP_ERR_VALUE);
                    e.invalid = 1;
                }
                next += (size_t)n + 2;
                emit(&ps, &e);
            }
        } else if (resp_type_is_aggregate(e.type)) {
            uint64_t children = n < 0 ? 0 : (uint64_t)n;
            if (n > RESP_MAX_AGGREGATE_COUNT)
                return bad(&ps, pos, RESP_ERR_TOO_LARGE);
            if (e.type == RESP_MAP || e.type == RESP_ATTRIBUTE)
                children *= 2;
            if (children > 0 && (ps.sp >= RESP_MAX_DEPTH || ps.ndeep)) {
                /* beyond the stack: counted only, not reported (an attribute's effect on
                 * counting needs the stack, so none may be there) */
                if (e.type == RESP_ATTRIBUTE || !push_deep(&ps, children))
                    return bad(&ps, pos, RESP_ERR_DEPTH);
                pos = next;
                continue;
            }
            emit(&ps, &e);
            if (children > 0) {
                ps.stack[ps.sp].el = e;
                ps.stack[ps.sp].remaining = children;
                ps.sp++;
                pos = next;
                continue;
            }
            if (ps.v && ps.v->end && ps.ndeep == 0)
                ps.v->end(ps.ud, &e, next);
        } else {
            emit(&ps, &e);
        }

        pos = next;
        int done = complete(&ps, e.type, pos);
        if (done < 0)
            return bad(&ps, pos, RESP_ERR_DEPTH);
        if (done) {
            resp_result_t r;
            memset(&r, 0, sizeof r);
            r.status = RESP_OK;
            r.length = pos;
            r.deepest = ps.max_depth;
            r.top_type = (resp_type_t)buf[0];
            r.elements = ps.elements;
            return r;
        }
    }
}

resp_result_t resp_parse(const uint8_t *buf, size_t len, unsigned flags,
                         const resp_visitor_t *visitor, void *ud)
{
    return parse(buf, len, flags, visitor, ud, NULL);
}

resp_result_t resp_frame_resumable(const uint8_t *buf, size_t len, unsigned flags,
                                   resp_resume_t *resume)
{
    return parse(buf, len, flags, NULL, NULL, resume);
}

size_t resp_inline_unescape(const uint8_t *in, size_t len, int single_quoted, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '\\' || i + 1 >= len) {
            out[o++] = in[i];
            continue;
        }
        uint8_t c = in[++i];
        if (single_quoted) {
            /* only \' is an escape inside single quotes */
            if (c != '\'')
                out[o++] = '\\';
            out[o++] = c;
            continue;
        }
        switch (c) {
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'b': out[o++] = '\b'; break;
        case 'a': out[o++] = '\a'; break;
        case 'x': {
            static const char hex[] = "0123456789abcdef";
            const char *h1, *h2;
            if (i + 2 < len && (h1 = memchr(hex, in[i + 1] | 0x20, 16)) &&
                (h2 = memchr(hex, in[i + 2] | 0x20, 16)) && in[i + 1] && in[i + 2]) {
                out[o++] = (uint8_t)(((h1 - hex) << 4) | (h2 - hex));
                i += 2;
            } else {
                out[o++] = 'x';
            }
            break;
        }
        default: out[o++] = c; break;
        }
    }
    return o;
}

int resp_type_is_aggregate(resp_type_t type)
{
    return type == RESP_ARRAY || type == RESP_MAP || type == RESP_SET || type == RESP_ATTRIBUTE ||
           type == RESP_PUSH;
}

const char *resp_type_name(resp_type_t type)
{
    switch (type) {
    case RESP_SIMPLE_STRING: return "Simple string";
    case RESP_ERROR: return "Error";
    case RESP_INTEGER: return "Integer";
    case RESP_BULK_STRING: return "Bulk string";
    case RESP_ARRAY: return "Array";
    case RESP_NULL: return "Null";
    case RESP_BOOLEAN: return "Boolean";
    case RESP_DOUBLE: return "Double";
    case RESP_BIG_NUMBER: return "Big number";
    case RESP_BULK_ERROR: return "Bulk error";
    case RESP_VERBATIM: return "Verbatim string";
    case RESP_MAP: return "Map";
    case RESP_SET: return "Set";
    case RESP_ATTRIBUTE: return "Attribute";
    case RESP_PUSH: return "Push";
    case RESP_INLINE: return "Inline command";
    case RESP_INLINE_ARG: return "Inline argument";
    }
    return "Unknown";
}

const char *resp_error_string(resp_error_t err)
{
    switch (err) {
    case RESP_ERR_NONE: return "no error";
    case RESP_ERR_TYPE: return "unknown RESP type byte";
    case RESP_ERR_LENGTH: return "invalid length or count";
    case RESP_ERR_TOO_LARGE: return "length or count beyond protocol limits";
    case RESP_ERR_CRLF: return "missing CRLF terminator";
    case RESP_ERR_VALUE: return "invalid value";
    case RESP_ERR_DEPTH: return "nesting too deep";
    case RESP_ERR_INLINE: return "invalid inline command";
    }
    return "unknown error";
}
