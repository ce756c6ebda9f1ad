/* Unit tests for core/resp_parse.c. Prints "N passed, M failed". */
#include "resp_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_check.h"

static resp_result_t parse(const char *s, size_t n, unsigned flags)
{
    return resp_parse((const uint8_t *)s, n, flags, NULL, NULL);
}
#define P(lit) parse(lit, sizeof(lit) - 1, 0)
#define PI(lit) parse(lit, sizeof(lit) - 1, RESP_PARSE_ALLOW_INLINE)

/* Records the visitor's events as a compact string: type char, depth digit; ')' for end. */
typedef struct {
    char log[512];
    size_t n;
    char last_data[64];
} rec_t;

static void on_el(void *ud, const resp_element_t *e)
{
    rec_t *r = ud;
    if (r->n + 2 < sizeof r->log) {
        r->log[r->n++] = (char)e->type;
        r->log[r->n++] = (char)('0' + (e->depth % 10));
        r->log[r->n] = 0;
    }
    (void)e;
}

static void on_end(void *ud, const resp_element_t *e, size_t end)
{
    rec_t *r = ud;
    (void)e;
    (void)end;
    if (r->n + 1 < sizeof r->log) {
        r->log[r->n++] = ')';
        r->log[r->n] = 0;
    }
}

static const char *walk(const char *s, size_t n, unsigned flags, rec_t *r)
{
    static const resp_visitor_t v = {on_el, on_end};
    memset(r, 0, sizeof *r);
    resp_parse((const uint8_t *)s, n, flags, &v, r);
    return r->log;
}

/* Arguments of an inline line, joined by '|', unescaped. */
static char inl_buf[256];
static size_t inl_n;
static const char *inl_src;
static void inl_el(void *ud, const resp_element_t *e)
{
    (void)ud;
    if (e->type != RESP_INLINE_ARG)
        return;
    uint8_t tmp[128];
    size_t k = e->quoted ? resp_inline_unescape((const uint8_t *)inl_src + e->data_offset,
                                                e->data_len, e->quoted == '\'', tmp)
                         : (memcpy(tmp, inl_src + e->data_offset, e->data_len), e->data_len);
    if (inl_n)
        inl_buf[inl_n++] = '|';
    memcpy(inl_buf + inl_n, tmp, k);
    inl_n += k;
    inl_buf[inl_n] = 0;
}

static const char *inline_args(const char *s)
{
    static const resp_visitor_t v = {inl_el, NULL};
    inl_n = 0;
    inl_buf[0] = 0;
    inl_src = s;
    resp_parse((const uint8_t *)s, strlen(s), RESP_PARSE_ALLOW_INLINE, &v, NULL);
    return inl_buf;
}

int main(void)
{
    resp_result_t r;
    rec_t rec;

    /* RESP2 scalars */
    r = P("+OK\r\n");
    CHECK(r.status == RESP_OK && r.length == 5);
    r = P("-ERR unknown command\r\n");
    CHECK(r.status == RESP_OK && r.length == 22);
    r = P(":-42\r\n");
    CHECK(r.status == RESP_OK);
    r = P(":9223372036854775807\r\n");
    CHECK(r.status == RESP_OK);
    r = P(":9223372036854775808\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_VALUE);
    r = P(":12a\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("$3\r\nfoo\r\n");
    CHECK(r.status == RESP_OK && r.length == 9);
    r = P("$-1\r\n");
    CHECK(r.status == RESP_OK && r.length == 5);
    r = P("$0\r\n\r\n");
    CHECK(r.status == RESP_OK && r.length == 6);
    r = P("$5\r\na\r\nbc\r\n"); /* CRLF inside a bulk is data */
    CHECK(r.status == RESP_OK && r.length == 11);
    r = P("$3\r\nfooX\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_CRLF);
    r = P("*-1\r\n");
    CHECK(r.status == RESP_OK);
    r = P("*0\r\n");
    CHECK(r.status == RESP_OK && r.length == 4);
    r = P("*2\r\n*1\r\n:1\r\n$-1\r\n");
    CHECK(r.status == RESP_OK && r.length == 17);
    CHECK(strcmp(walk("*2\r\n*1\r\n:1\r\n$-1\r\n", 17, 0, &rec), "*0*1:2)$1)") == 0);

    /* RESP3 */
    r = P("_\r\n");
    CHECK(r.status == RESP_OK);
    r = P("_x\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("#t\r\n");
    CHECK(r.status == RESP_OK);
    r = P("#x\r\n");
    CHECK(r.status == RESP_BAD);
    r = P(",3.14\r\n");
    CHECK(r.status == RESP_OK);
    r = P(",inf\r\n");
    CHECK(r.status == RESP_OK);
    r = P(",-inf\r\n");
    CHECK(r.status == RESP_OK);
    r = P(",nan\r\n");
    CHECK(r.status == RESP_OK);
    r = P(",1.5e+300\r\n");
    CHECK(r.status == RESP_OK);
    r = P(",1.5e\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("(3492890328409238509324850943850943825024385\r\n");
    CHECK(r.status == RESP_OK);
    r = P("(12x\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("!21\r\nSYNTAX invalid syntax\r\n");
    CHECK(r.status == RESP_OK);
    r = P("=15\r\ntxt:Some string\r\n");
    CHECK(r.status == RESP_OK);
    r = P("=3\r\ntxt\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_VALUE);
    r = P("%1\r\n+a\r\n:1\r\n");
    CHECK(r.status == RESP_OK && r.length == 12);
    r = P("%1\r\n+a\r\n");
    CHECK(r.status == RESP_NEED_MORE && r.need >= 3);
    r = P("~2\r\n+a\r\n+b\r\n");
    CHECK(r.status == RESP_OK);
    r = P(">2\r\n+message\r\n+x\r\n");
    CHECK(r.status == RESP_OK);
    /* An attribute is not counted as an element: the array below has two. */
    r = P("*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n");
    CHECK(r.status == RESP_OK && r.length == 29);
    /* A top-level attribute is followed by the reply it annotates. */
    r = P("|1\r\n+a\r\n+b\r\n");
    CHECK(r.status == RESP_NEED_MORE);
    r = P("|1\r\n+a\r\n+b\r\n+OK\r\n");
    CHECK(r.status == RESP_OK && r.length == 17);
    CHECK(strcmp(walk("|1\r\n+a\r\n+b\r\n+OK\r\n", 17, 0, &rec), "|0+1+1)+0") == 0);

    /* Framing: several messages, partial input */
    r = P("+OK\r\n:1\r\n");
    CHECK(r.status == RESP_OK && r.length == 5);
    r = P("$10\r\nabc");
    CHECK(r.status == RESP_NEED_MORE && r.need == 9);
    r = P("*3\r\n$3\r\nSET\r\n");
    CHECK(r.status == RESP_NEED_MORE && r.need == 6); /* two more elements, 3 bytes each */
    r = P("+OK\r");
    CHECK(r.status == RESP_NEED_MORE && r.partial_line == 4);
    r = P("*2\r\n+a\r\n-ERR so far");
    CHECK(r.status == RESP_NEED_MORE && r.partial_line == 11); /* the line being read, not the message */
    r = P("$10\r\nabc");
    CHECK(r.partial_line == 0); /* bulk data has its length */
    {
        /* a line inside an aggregate is bounded; a top-level one is not */
        size_t n = RESP_MAX_NESTED_LINE + 16;
        char *big = malloc(n + 8);
        CHECK(big != NULL);
        memcpy(big, "*1\r\n+", 5);
        memset(big + 5, 'a', n - 5);
        r = parse(big, n, 0);
        CHECK(r.status == RESP_BAD && r.err == RESP_ERR_TOO_LARGE && r.err_offset == 4);
        r = parse(big, RESP_MAX_NESTED_LINE, 0);
        CHECK(r.status == RESP_NEED_MORE);
        r = parse(big + 4, n - 4, 0);
        CHECK(r.status == RESP_NEED_MORE && r.partial_line == n - 4);
        free(big);
    }
    r = P("$12");
    CHECK(r.status == RESP_NEED_MORE);
    r = parse("", 0, 0);
    CHECK(r.status == RESP_NEED_MORE && r.need == 1);

    /* Hostile input */
    r = P("$2147483647\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_TOO_LARGE);
    r = P("$536870912\r\nab");
    CHECK(r.status == RESP_NEED_MORE && r.need == 536870912u - 2 + 2);
    r = P("*99999999\r\n:1\r\n");
    CHECK(r.status == RESP_NEED_MORE && r.need >= 3ull * 99999998);
    r = P("*99999999\r\nGARBAGE");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_TYPE);
    r = P("*9999999999\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_TOO_LARGE);
    r = P("$-2\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_LENGTH);
    r = P("%-1\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("$abc\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_LENGTH);
    r = P("$\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("$+3\r\nabc\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("$3\nabc\r\n");
    CHECK(r.status == RESP_BAD);
    r = P("$1234567890123456789012345678901234567890123456789012345678901234567890");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_LENGTH);
    r = P("+O\nK\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_CRLF);
    r = P("@5\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_TYPE);
    {
        /* 10 000-deep nesting */
        size_t n = 10000 * 4 + 3;
        char *deep = malloc(n);
        for (size_t i = 0; i < 10000; i++)
            memcpy(deep + i * 4, "*1\r\n", 4);
        memcpy(deep + 40000, "+x\r", 3);
        r = parse(deep, n, 0);
        CHECK(r.status == RESP_NEED_MORE && r.need == 1);
        /* framed beyond the reported depth (a Lua script's reply nests 8000 deep) */
        char *whole = malloc(n + 1);
        memcpy(whole, deep, n);
        whole[n] = '\n';
        memset(&rec, 0, sizeof rec);
        static const resp_visitor_t count_v = {on_el, NULL};
        r = resp_parse((const uint8_t *)whole, n + 1, 0, &count_v, &rec);
        CHECK(r.status == RESP_OK && r.length == n + 1 && r.deepest == 10000);
        CHECK(rec.n == 2 * RESP_MAX_DEPTH + 2 || rec.n == sizeof rec.log - 2 || rec.n > 0);
        resp_resume_t rs;
        rs.valid = 0;
        CHECK(resp_frame_resumable((const uint8_t *)whole, n, 0, &rs).status == RESP_NEED_MORE);
        CHECK(resp_frame_resumable((const uint8_t *)whole, n + 1, 0, &rs).status == RESP_OK);
        free(whole);
        /* more than 64 runs of different counts beyond the stack: refused */
        char alt[(RESP_MAX_DEPTH + 70) * 4 + 8];
        size_t k = 0;
        for (int i = 0; i < RESP_MAX_DEPTH + 70; i++, k += 4)
            memcpy(alt + k, i % 2 ? "*3\r\n" : "*2\r\n", 4);
        memcpy(alt + k, "+x\r\n", 4);
        r = parse(alt, k + 4, 0);
        CHECK(r.status == RESP_BAD && r.err == RESP_ERR_DEPTH);
        /* an attribute beyond the stack: refused too */
        memcpy(deep + (RESP_MAX_DEPTH + 1) * 4, "|1\r\n+a\r\n+b\r\n+c\r\n", 16);
        r = parse(deep, (RESP_MAX_DEPTH + 1) * 4 + 16, 0);
        CHECK(r.status == RESP_BAD && r.err == RESP_ERR_DEPTH);
        /* deep elements complete their parents: two siblings after a deep chain */
        char sib[RESP_MAX_DEPTH * 4 + 200];
        k = 0;
        memcpy(sib, "*2\r\n", 4);
        k = 4;
        for (int i = 0; i < RESP_MAX_DEPTH + 5; i++, k += 4)
            memcpy(sib + k, "*1\r\n", 4);
        memcpy(sib + k, ":1\r\n:2\r\n", 8);
        r = parse(sib, k + 8, 0);
        CHECK(r.status == RESP_OK && r.length == k + 8);
        r = parse(sib, k + 4, 0);
        CHECK(r.status == RESP_NEED_MORE);
        /* exactly the limit is fine */
        size_t lim = RESP_MAX_DEPTH;
        memcpy(deep + lim * 4, "+x\r\n", 4);
        r = parse(deep, lim * 4 + 4, 0);
        CHECK(r.status == RESP_OK && r.length == lim * 4 + 4);
        free(deep);
    }

    /* Inline commands */
    r = PI("PING\r\n");
    CHECK(r.status == RESP_OK && r.length == 6 && r.top_type == RESP_INLINE);
    r = PI("PING\n");
    CHECK(r.status == RESP_OK && r.length == 5);
    r = PI("SET k");
    CHECK(r.status == RESP_NEED_MORE);
    r = PI("\r\n");
    CHECK(r.status == RESP_OK && r.length == 2);
    r = PI("SET \"a\x01\" b\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_INLINE);
    r = PI("SET \"unbalanced b\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_INLINE);
    r = PI("SET \"a\"b c\r\n");
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_INLINE);
    CHECK(strcmp(inline_args("set \"quoted key\" 'it\\'s' \"\\x41\\n\" plain\r\n"),
                 "set|quoted key|it's|A\n|plain") == 0);
    CHECK(strcmp(inline_args("  GET   k  \r\n"), "GET|k") == 0);
    /* a RESP array in the client direction is still RESP */
    r = PI("*1\r\n$4\r\nPING\r\n");
    CHECK(r.status == RESP_OK && r.top_type == RESP_ARRAY);
    {
        char *big = malloc(RESP_MAX_INLINE_LEN + 10);
        memset(big, 'a', RESP_MAX_INLINE_LEN + 10);
        r = parse(big, RESP_MAX_INLINE_LEN + 10, RESP_PARSE_ALLOW_INLINE);
        CHECK(r.status == RESP_BAD && r.err == RESP_ERR_INLINE);
        free(big);
    }

    /* Truncated bulk is reported partially to a visitor */
    CHECK(strcmp(walk("*2\r\n$3\r\nGET\r\n$100\r\nabc", 23, 0, &rec), "*0$1$1") == 0);

    /* Resumable framing: feeding ever longer prefixes gives what one whole parse gives. */
    {
        static const char *msgs[] = {
            "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$10\r\n0123456789\r\n",
            "*2\r\n|1\r\n+ttl\r\n:3600\r\n%2\r\n+a\r\n*2\r\n:1\r\n:2\r\n+b\r\n_\r\n:2\r\n",
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n=8\r\ntxt:abcd\r\n",
            "*2\r\n$3\r\nfoo\r\nJUNK",
        };
        for (size_t m = 0; m < sizeof msgs / sizeof msgs[0]; m++) {
            const char *s = msgs[m];
            size_t n = strlen(s);
            resp_result_t whole = parse(s, n, 0);
            resp_resume_t rs;
            memset(&rs, 0, sizeof rs);
            resp_result_t last;
            memset(&last, 0, sizeof last);
            int consistent = 1;
            for (size_t k = 1; k <= n; k++) {
                resp_result_t plain = parse(s, k, 0);
                last = resp_frame_resumable((const uint8_t *)s, k, 0, &rs);
                if (plain.status != last.status || (plain.status == RESP_OK && plain.length != last.length) ||
                    (plain.status == RESP_NEED_MORE && plain.need != last.need))
                    consistent = 0;
                if (last.status != RESP_NEED_MORE)
                    break;
            }
            CHECK(consistent);
            CHECK(last.status == whole.status && last.length == whole.length);
        }
    }

    /* RESP_PARSE_LENIENT: well-framed content errors mark the element, not the message */
    {
        static const char *const lenient[] = {
            "(123  123\r\n", ":12a\r\n", "#x\r\n", ",1.2.3\r\n", "_x\r\n",
            "*2\r\n:abc\r\n+ok\r\n", "=5\r\nabcde\r\n",
        };
        for (size_t i = 0; i < sizeof lenient / sizeof lenient[0]; i++) {
            size_t len = strlen(lenient[i]);
            r = parse(lenient[i], len, 0);
            CHECK(r.status == RESP_BAD && r.err == RESP_ERR_VALUE);
            r = parse(lenient[i], len, RESP_PARSE_LENIENT);
            CHECK(r.status == RESP_OK && r.length == len);
        }
        /* framing errors stay errors */
        r = parse("$3\r\nabcd\r\n", 11, RESP_PARSE_LENIENT);
        CHECK(r.status == RESP_BAD && r.err == RESP_ERR_CRLF);
        r = parse("*x\r\n", 5, RESP_PARSE_LENIENT);
        CHECK(r.status == RESP_BAD && r.err == RESP_ERR_LENGTH);
    }
    /* RESP_PARSE_REQUEST: "*<n>" below 0 is an empty request of its own, only at top level */
    r = parse("*-10\r\n*1\r\n", 11, RESP_PARSE_REQUEST | RESP_PARSE_ALLOW_INLINE);
    CHECK(r.status == RESP_OK && r.length == 6);
    r = parse("*-10\r\n", 6, 0);
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_LENGTH);
    r = parse("*1\r\n*-2\r\n", 10, RESP_PARSE_REQUEST);
    CHECK(r.status == RESP_BAD);
    r = parse("$-5\r\n", 5, RESP_PARSE_REQUEST);
    CHECK(r.status == RESP_BAD);
    r = parse("*1\r\n:5\r\n", 8, RESP_PARSE_REQUEST);
    CHECK(r.status == RESP_BAD && r.err == RESP_ERR_TYPE && r.err_offset == 4);
    r = parse("*1\r\n:5\r\n", 8, 0);
    CHECK(r.status == RESP_OK);
    return unit_summary();
}
