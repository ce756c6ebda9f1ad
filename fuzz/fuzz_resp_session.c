/* fuzz_resp_session.c — libFuzzer harness for core/resp_session.c.
 *
 * The input is one connection as records: a byte (bits 0-1: 0 client data, 1 server data,
 * 2 bytes lost towards the server, 3 towards the client), a 2-byte little-endian length, and
 * that many bytes. The harness drives the session as packet-resp.c does: client bytes are
 * framed into requests (inline allowed, "*-n" skipped, a protocol error closes the client
 * side); server bytes are keepalive newlines, a snapshot header and its bytes, master
 * commands or replies, as resp_session_server_state() says. It checks:
 *
 *   - a verdict's request is one the harness issued (never a gap marker) and has seen a reply;
 *   - the queue of awaiting requests has no cycle and never more entries than were issued;
 *   - the snapshot never takes more bytes than it was fed, stops at its declared length, and
 *     a finished EOF-framed one is at least its mark long; its length and version are sane;
 *   - states stay within their enums; the replication offset only grows along the stream.
 *
 * Any disagreement calls abort().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_commands.h"
#include "resp_parse.h"
#include "resp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_resp_session: %s:%d: ", __FILE__, __LINE__);          \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)

#define MAX_REQS 2048
#define MAX_ARGS 64
#define BUF_MAX (256 * 1024)

typedef struct {
    resp_session_t s;
    resp_req_t reqs[MAX_REQS];
    size_t nreq;
    uint32_t frame;
    uint8_t buf[2][BUF_MAX]; /* per direction: bytes not framed yet */
    size_t len[2];
    uint64_t server_fed;     /* server bytes handed to the snapshot */
} conn_t;

typedef struct {
    const uint8_t *argv[MAX_ARGS];
    size_t arg_len[MAX_ARGS];
    size_t argc;
    resp_element_t top;
    int have_top;
    unsigned top_children;
    const uint8_t *first;
    size_t first_len;
    int have_third;
    int64_t third;
    uint32_t errors[MAX_ARGS];
    size_t nerrors;
    const uint8_t *base;
} facts_t;

static void on_element(void *ud, const resp_element_t *e)
{
    facts_t *f = ud;
    if (e->depth == 0) {
        f->top = *e;
        f->have_top = 1;
        return;
    }
    if (e->depth != 1)
        return;
    if (f->top_children == 0 && (e->type == RESP_BULK_STRING || e->type == RESP_SIMPLE_STRING)) {
        f->first = f->base + e->data_offset;
        f->first_len = e->data_len;
    }
    if (f->top_children == 2 && e->type == RESP_INTEGER) {
        f->have_third = 1;
        f->third = e->count;
    }
    if ((e->type == RESP_ERROR || e->type == RESP_BULK_ERROR) && f->nerrors < MAX_ARGS)
        f->errors[f->nerrors++] = f->top_children;
    f->top_children++;
    if ((e->type == RESP_BULK_STRING || e->type == RESP_INLINE_ARG) && f->argc < MAX_ARGS) {
        f->argv[f->argc] = f->base + e->data_offset;
        f->arg_len[f->argc++] = e->data_len; /* quoted inline arguments stay escaped: fine here */
    }
}

static const resp_visitor_t visitor = {on_element, NULL};

static resp_req_t *new_req(conn_t *c)
{
    return c->nreq < MAX_REQS ? &c->reqs[c->nreq++] : NULL;
}

static int issued(const conn_t *c, const resp_req_t *r)
{
    return r >= c->reqs && r < c->reqs + c->nreq;
}

static void check_verdict(const conn_t *c, const resp_verdict_t *v)
{
    if (v->answers) {
        if (!issued(c, v->answers))
            FAIL("verdict names a request never issued");
        if (v->answers->kind == RESP_REQ_GAP)
            FAIL("a gap marker answered");
        if (v->answers->replies_seen == 0)
            FAIL("answered request has seen no reply");
    }
    if (v->kind < RESP_MSG_REQUEST || v->kind > RESP_MSG_REPLICATION)
        FAIL("message kind %d", (int)v->kind);
}

static void check_session(const conn_t *c)
{
    const resp_session_t *s = &c->s;
    size_t n = 0;
    for (const resp_req_t *r = s->head; r; r = r->next) {
        if (!issued(c, r) || ++n > c->nreq)
            FAIL("queue holds a foreign request or a cycle");
        if (!r->next && r != s->tail)
            FAIL("tail is not the last request");
    }
    if (!s->head && s->tail)
        FAIL("tail without head");
    n = 0;
    for (const resp_req_t *r = s->getack_head; r; r = r->next)
        if (!issued(c, r) || ++n > c->nreq)
            FAIL("GETACK queue corrupt");
    if ((unsigned)s->server > RESP_SERVER_REPL_STREAM || (unsigned)s->client > RESP_CLIENT_CLOSED)
        FAIL("state out of range");
    if (s->version != 2 && s->version != 3)
        FAIL("version %u", s->version);
    const resp_rdb_t *r = &s->rdb;
    if (r->fed > c->server_fed)
        FAIL("snapshot took more than it was fed");
    if (!r->eof_framing && r->fed > r->declared)
        FAIL("snapshot past its declared length");
    if (r->eof_framing && r->done && r->fed < RESP_RDB_MARK_LEN)
        FAIL("EOF snapshot shorter than its mark");
    int ver = resp_rdb_version(r);
    if (ver < -1 || ver > 9999)
        FAIL("rdb version %d", ver);
}

static void name_command(const facts_t *f, resp_cmd_t *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->argc = f->argc;
    cmd->argv = f->argv;
    cmd->arg_len = f->arg_len;
    if (f->argc == 0)
        return;
    const resp_command_info_t *ci = resp_command_lookup(f->argv[0], f->arg_len[0]);
    cmd->cmd = ci ? resp_command_name(ci) : "UNKNOWN";
    if (ci && resp_command_has_subcommands(ci) && f->argc > 1) {
        const resp_command_info_t *sci = resp_subcommand_lookup(ci, f->argv[1], f->arg_len[1]);
        cmd->sub = sci ? resp_command_name(sci) : "UNKNOWN";
    }
}

static void drop(conn_t *c, int d, size_t n)
{
    memmove(c->buf[d], c->buf[d] + n, c->len[d] - n);
    c->len[d] -= n;
}

static void client_bytes(conn_t *c)
{
    for (;;) {
        uint8_t *p = c->buf[0];
        size_t n = c->len[0];
        if (n == 0)
            return;
        facts_t f;
        memset(&f, 0, sizeof f);
        f.base = p;
        resp_result_t r = resp_parse(p, n, RESP_PARSE_LENIENT | RESP_PARSE_ALLOW_INLINE | RESP_PARSE_REQUEST,
                                     &visitor, &f);
        if (r.status == RESP_NEED_MORE)
            return;
        resp_req_t *req = new_req(c);
        if (!req)
            return;
        c->frame++;
        if (r.status == RESP_BAD) {
            resp_session_protocol_error(&c->s, req, c->frame);
            c->len[0] = 0;
            return;
        }
        resp_cmd_t cmd;
        name_command(&f, &cmd);
        resp_verdict_t v;
        resp_session_request(&c->s, req, cmd.cmd ? &cmd : NULL, c->frame, &v);
        check_verdict(c, &v);
        drop(c, 0, r.length);
    }
}

static void server_bytes(conn_t *c)
{
    for (;;) {
        uint8_t *p = c->buf[1];
        size_t n = c->len[1];
        if (n == 0)
            return;
        resp_session_t *s = &c->s;
        resp_server_state_t st = resp_session_server_state(s);
        c->frame++;
        if (st == RESP_SERVER_RDB) {
            c->server_fed += n;
            size_t take = resp_session_rdb_feed(s, p, n);
            if (take > n)
                FAIL("snapshot took %zu of %zu bytes", take, n);
            if (take < n && s->server == RESP_SERVER_RDB)
                FAIL("snapshot left bytes but did not end");
            c->server_fed -= n - take;
            drop(c, 1, take);
            continue;
        }
        if (st == RESP_SERVER_RDB_WAIT) {
            if (p[0] == '\n') {
                drop(c, 1, 1);
                continue;
            }
            const uint8_t *lf = memchr(p, '\n', n < 64 ? n : 64);
            if (p[0] == '$' && lf && lf - p >= 2 && lf[-1] == '\r') {
                resp_req_t *ans;
                if (resp_session_rdb_start(s, p + 1, (size_t)(lf - p) - 2, &ans)) {
                    if (ans && !issued(c, ans))
                        FAIL("snapshot answers a foreign request");
                    drop(c, 1, (size_t)(lf - p) + 1);
                    continue;
                }
            }
        }
        facts_t f;
        memset(&f, 0, sizeof f);
        f.base = p;
        resp_result_t r = resp_parse(p, n, RESP_PARSE_LENIENT, &visitor, &f);
        if (r.status == RESP_NEED_MORE)
            return;
        if (r.status == RESP_BAD) {
            c->len[1] = 0; /* the dissector resynchronises; here the rest is dropped */
            return;
        }
        resp_verdict_t v;
        if (st == RESP_SERVER_REPL_STREAM) {
            resp_req_t *req = new_req(c);
            if (!req)
                return;
            resp_cmd_t cmd;
            name_command(&f, &cmd);
            uint64_t before = s->repl_offset;
            int known = s->repl_offset_known;
            resp_session_master_command(s, req, cmd.cmd ? &cmd : NULL, r.length, &v);
            if (known && s->repl_offset != before + r.length)
                FAIL("replication offset did not follow the stream");
        } else {
            resp_reply_t rep;
            memset(&rep, 0, sizeof rep);
            rep.type = f.top.type;
            rep.count = f.top.count;
            rep.is_null = f.top.is_null;
            rep.data = p + f.top.data_offset;
            rep.data_len = f.top.data_len;
            rep.first_str = f.first;
            rep.first_len = f.first_len;
            rep.have_third = f.have_third;
            rep.third_int = f.third;
            rep.error_children = f.errors;
            rep.n_error_children = f.nerrors;
            resp_session_reply(s, &rep, c->frame, &v);
        }
        check_verdict(c, &v);
        drop(c, 1, r.length);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static conn_t c; /* large: not on the stack */
    resp_session_init(&c.s);
    c.nreq = 0;
    c.frame = 0;
    c.len[0] = c.len[1] = 0;
    c.server_fed = 0;
    size_t i = 0;
    while (i + 3 <= size) {
        unsigned op = data[i] & 3;
        size_t n = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
        i += 3;
        if (n > size - i)
            n = size - i;
        if (op >= 2) {
            resp_req_t *gap = new_req(&c);
            if (!gap)
                break;
            int to_server = op == 2;
            resp_session_gap(&c.s, to_server, gap, ++c.frame);
            c.len[to_server ? 0 : 1] = 0;
        } else {
            int d = (int)op;
            if (n > BUF_MAX - c.len[d])
                n = BUF_MAX - c.len[d];
            memcpy(c.buf[d] + c.len[d], data + i, n);
            c.len[d] += n;
            if (d == 0)
                client_bytes(&c);
            else
                server_bytes(&c);
        }
        check_session(&c);
        i += n;
    }
    return 0;
}
