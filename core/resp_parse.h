/* resp_parse.h — RESP2/RESP3 and inline-command tokenizer, independent of Wireshark.
 *
 * One call parses one message at the start of a buffer. Without a visitor it only frames
 * (how long is the message, or how many more bytes it needs at least); with a visitor it also
 * reports every element in document order. Parsing is iterative with a fixed-size stack, does
 * not allocate, and touches each byte a bounded number of times.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RESP_PARSE_H
#define RESP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Element types; RESP type bytes, plus a pseudo type for inline-command arguments. */
typedef enum {
    RESP_SIMPLE_STRING = '+',
    RESP_ERROR = '-',
    RESP_INTEGER = ':',
    RESP_BULK_STRING = '$',
    RESP_ARRAY = '*',
    RESP_NULL = '_',
    RESP_BOOLEAN = '#',
    RESP_DOUBLE = ',',
    RESP_BIG_NUMBER = '(',
    RESP_BULK_ERROR = '!',
    RESP_VERBATIM = '=',
    RESP_MAP = '%',
    RESP_SET = '~',
    RESP_ATTRIBUTE = '|',
    RESP_PUSH = '>',
    RESP_INLINE = 'i', /* a whole inline command line; its arguments follow as RESP_INLINE_ARG */
    RESP_INLINE_ARG = 'a',
} resp_type_t;

/* Limits. Redis's defaults where Redis has one. */
#define RESP_MAX_DEPTH 64                      /* nesting of aggregates reported; deeper ones
                                                  are framed, not reported (up to 64 runs of
                                                  equal child counts, else RESP_ERR_DEPTH) */
#define RESP_MAX_BULK_LEN (512u * 1024u * 1024u) /* proto-max-bulk-len default */
#define RESP_MAX_AGGREGATE_COUNT 0x7fffffffLL  /* larger counts are not RESP a server sends */
#define RESP_MAX_INLINE_LEN (64u * 1024u)      /* PROTO_INLINE_MAX_SIZE */
#define RESP_MAX_NESTED_LINE (64u * 1024u)     /* a simple string/error inside an aggregate:
                                                  Redis's status and error replies are short */
#define RESP_MAX_NUMBER_LINE 64                /* a length/integer line longer than this is bogus */

typedef enum {
    RESP_OK = 0,    /* a whole message; result.length says how long */
    RESP_NEED_MORE, /* valid so far; result.need is a lower bound of the bytes still missing */
    RESP_BAD,       /* not RESP at result.err_offset; result.err says why */
} resp_status_t;

typedef enum {
    RESP_ERR_NONE = 0,
    RESP_ERR_TYPE,         /* unknown type byte */
    RESP_ERR_LENGTH,       /* a length or count that is not a number, negative, or has junk */
    RESP_ERR_TOO_LARGE,    /* a length/count above the limits */
    RESP_ERR_CRLF,         /* a line or bulk not terminated by CRLF */
    RESP_ERR_VALUE,        /* an integer/double/boolean/null/verbatim whose content is invalid */
    RESP_ERR_DEPTH,        /* nesting deeper than RESP_MAX_DEPTH */
    RESP_ERR_INLINE,       /* inline line too long, binary, or unbalanced quotes */
} resp_error_t;

typedef struct {
    resp_type_t type;
    unsigned depth;      /* 0 for the top-level element */
    size_t offset;       /* first byte (the type byte) */
    size_t header_len;   /* bytes of the type/length line including CRLF (inline: whole line) */
    size_t data_offset;  /* payload: line content or bulk bytes (inline arg: inside quotes) */
    size_t data_len;
    int64_t count;       /* aggregates: declared elements (map/attribute: pairs); bulk: declared
                            length; -1 for RESP2 null bulk/array; integers: the value */
    int is_null;         /* RESP2 $-1 / *-1, or RESP3 _ */
    int quoted;          /* inline argument was quoted (data may hold escapes) */
    int invalid;         /* RESP_PARSE_LENIENT: a well-framed element whose content is not
                            valid for its type (an integer line of letters, a big number with
                            spaces): a server sent it, so it is still one element */
} resp_element_t;

typedef struct {
    /* Every element in document order; aggregates before their children. */
    void (*element)(void *ud, const resp_element_t *e);
    /* An aggregate (or inline command) is complete; end is the offset just past it. */
    void (*end)(void *ud, const resp_element_t *e, size_t end);
} resp_visitor_t;

typedef struct {
    resp_status_t status;
    size_t length;       /* RESP_OK: bytes of the message */
    uint64_t need;       /* RESP_NEED_MORE: at least this many more bytes are needed (>= 1) */
    uint64_t need_element; /* of which the element being read needs this many (exact for bulk data) */
    size_t partial_line; /* RESP_NEED_MORE in a simple string/error/number line: its bytes present */
    size_t err_offset;   /* RESP_BAD: where it went wrong */
    resp_error_t err;
    resp_type_t top_type;/* type of the top-level element when known */
    unsigned elements;   /* elements seen (for heuristics) */
    uint64_t deepest;    /* RESP_OK: nesting depth when beyond RESP_MAX_DEPTH (elements
                            deeper than that were framed but not reported), else 0 */
} resp_result_t;

/* Where framing stopped for lack of bytes, so that a later call on the same bytes plus more
 * resumes there instead of rescanning (TCP reassembly hands over ever longer buffers). */
typedef struct {
    int valid;
    size_t pos;        /* start of the element that was incomplete */
    unsigned sp;
    unsigned elements;
    struct {
        resp_element_t el;
        uint64_t remaining;
    } stack[RESP_MAX_DEPTH];
} resp_resume_t;

/* Flags for resp_parse(). */
#define RESP_PARSE_ALLOW_INLINE 0x1u /* client-to-server: a line not starting with '*' is inline */
#define RESP_PARSE_LENIENT 0x2u      /* content errors inside well-framed lines or values do not
                                        fail the message: the element is marked invalid */
#define RESP_PARSE_REQUEST 0x4u      /* as a server reads requests: "*<n>" with n below 0 is a
                                        message of its own, an empty request the server skips;
                                        an array's elements must be bulk strings */

resp_result_t resp_parse(const uint8_t *buf, size_t len, unsigned flags,
                         const resp_visitor_t *visitor, void *ud);

/* Framing only (no visitor), resuming from and updating *resume. The caller guarantees that
 * buf starts with the same bytes as on the call that filled *resume; len may only grow. */
resp_result_t resp_frame_resumable(const uint8_t *buf, size_t len, unsigned flags,
                                   resp_resume_t *resume);

/* Unescapes a quoted inline argument's content as Redis does ("\x41", "\n", "\'" ...).
 * out must hold len bytes; returns the number of bytes written. */
size_t resp_inline_unescape(const uint8_t *in, size_t len, int single_quoted, uint8_t *out);

const char *resp_error_string(resp_error_t err);
const char *resp_type_name(resp_type_t type);
int resp_type_is_aggregate(resp_type_t type);

#endif
