/* resp_session.c — the per-connection state machine (see resp_session.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_session.h"

#include <string.h>

static const char *const subscribe_kinds[] = {
    "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
};
static const char *const pubsub_message_kinds[] = {"message", "pmessage", "smessage"};

static int ascii_caseeq(const uint8_t *p, size_t n, const char *s)
{
    size_t sl = strlen(s);
    if (!p || n != sl)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = p[i], b = (uint8_t)s[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

static const char *match_kind(const uint8_t *p, size_t n, const char *const *kinds, size_t nk)
{
    for (size_t i = 0; i < nk; i++)
        if (ascii_caseeq(p, n, kinds[i]))
            return kinds[i];
    return NULL;
}

static int arg_is(const resp_cmd_t *c, size_t i, const char *word)
{
    return i < c->argc && ascii_caseeq(c->argv[i], c->arg_len[i], word);
}

/* A canonical decimal without sign, as Redis writes offsets. */
static int parse_u64(const uint8_t *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static int parse_i64(const uint8_t *p, size_t n, int64_t *out)
{
    uint64_t v;
    int neg = n > 0 && p[0] == '-';
    if (!parse_u64(p + neg, n - (size_t)neg, &v) || v > (uint64_t)INT64_MAX)
        return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

void resp_session_init(resp_session_t *s)
{
    memset(s, 0, sizeof *s);
    s->version = 2;
}

static void enqueue(resp_session_t *s, resp_req_t *req)
{
    req->next = NULL;
    if (s->tail)
        s->tail->next = req;
    else
        s->head = req;
    s->tail = req;
}

static void dequeue(resp_session_t *s)
{
    if (!s->head)
        return;
    s->head = s->head->next;
    if (!s->head)
        s->tail = NULL;
}

/* A SYNC or PSYNC awaiting its answer: the master sends newlines while it waits to start
 * the snapshot (before +FULLRESYNC, too, when a diskless sync is delayed). */
static int sync_pending(const resp_session_t *s)
{
    return s->server == RESP_SERVER_REPLIES && s->head &&
           (s->head->effects & (RESP_EFF_SYNC | RESP_EFF_PSYNC));
}

resp_server_state_t resp_session_server_state(const resp_session_t *s)
{
    return sync_pending(s) ? RESP_SERVER_RDB_WAIT : s->server;
}

void resp_session_set_midstream(resp_session_t *s)
{
    s->midstream = 1;
}

int resp_session_master_stream_guess(resp_session_t *s)
{
    /* replies to lost requests come before any request; a master's stream can too */
    const resp_req_t *h = s->head;
    int only_gap = !h || (h->kind == RESP_REQ_GAP && !h->next);
    if (!s->midstream || s->requests_seen || s->client != RESP_CLIENT_COMMANDS ||
        s->server != RESP_SERVER_REPLIES || !only_gap)
        return 0;
    s->server = RESP_SERVER_REPL_STREAM;
    s->client = RESP_CLIENT_REPLICA;
    s->guessed_replica = 1;
    s->head = s->tail = NULL;
    return 1;
}

/* REPLCONF ACK <offset> from a replica: answers the oldest GETACK, measures its lag. */
static void replica_ack(resp_session_t *s, const resp_cmd_t *c, uint32_t frame, resp_verdict_t *v)
{
    uint64_t off;
    if (s->getack_head) {
        v->answers = s->getack_head;
        if (v->answers->replies_seen++ == 0)
            v->answers->first_reply_frame = frame;
        s->getack_head = s->getack_head->next;
        if (!s->getack_head)
            s->getack_tail = NULL;
    }
    if (s->repl_offset_known && c->argc > 2 && parse_u64(c->argv[2], c->arg_len[2], &off)) {
        v->have_lag = 1;
        v->lag = (int64_t)(s->repl_offset - off);
    }
}

void resp_session_request(resp_session_t *s, resp_req_t *req, const resp_cmd_t *c,
                          uint32_t frame, resp_verdict_t *v)
{
    memset(req, 0, sizeof *req);
    memset(v, 0, sizeof *v);
    v->kind = RESP_MSG_REQUEST;
    req->frame = frame;
    req->kind = RESP_REQ_NORMAL;
    /* the server replies unless CLIENT REPLY silences it: decided when it reads the request */
    int silenced = s->reply_off || s->skip_this;
    uint32_t replies = 1;
    const char *cmd = c ? c->cmd : NULL;

    s->requests_seen++;
    if (s->guessed_replica && s->client == RESP_CLIENT_REPLICA && cmd &&
        strcmp(cmd, "REPLCONF") != 0) {
        /* a replica sends nothing but ACKs: the guess was wrong, this is a client */
        s->client = RESP_CLIENT_COMMANDS;
        s->server = RESP_SERVER_REPLIES;
        s->guessed_replica = 0;
    }
    if (s->client == RESP_CLIENT_CLOSED) {
        replies = 0;
    } else if (!cmd) {
        replies = 0; /* an empty request: skipped, though it ends a CLIENT REPLY SKIP */
    } else if (!strcmp(cmd, "REPLCONF") && arg_is(c, 1, "ACK")) {
        /* never answered; only a replica past its handshake sends it */
        replies = 0;
        if (s->client == RESP_CLIENT_COMMANDS) {
            /* a replication link whose start the capture missed */
            s->client = RESP_CLIENT_REPLICA;
            if (s->server == RESP_SERVER_REPLIES && !s->head)
                s->server = RESP_SERVER_REPL_STREAM;
        }
        replica_ack(s, c, frame, v);
    } else if (s->client == RESP_CLIENT_REPLICA) {
        replies = 0; /* a master answers nothing its replica sends */
    } else {
        const char *sk = match_kind((const uint8_t *)cmd, strlen(cmd), subscribe_kinds,
                                    sizeof subscribe_kinds / sizeof subscribe_kinds[0]);
        if (sk) {
            req->subscribe_kind = sk;
            if (c->argc > 1) {
                req->kind = RESP_REQ_SUBSCRIBE;
                replies = (uint32_t)(c->argc - 1);
            } else if (sk[0] == 'u' || sk[1] == 'u') {
                req->kind = RESP_REQ_UNSUBSCRIBE_ALL; /* one reply per subscription */
            }
        } else if (!strcmp(cmd, "HELLO")) {
            req->effects |= RESP_EFF_HELLO;
            if (c->argc > 1 && c->arg_len[1] == 1 && (c->argv[1][0] == '2' || c->argv[1][0] == '3'))
                req->hello_version = (uint8_t)(c->argv[1][0] - '0');
        } else if (!strcmp(cmd, "MONITOR")) {
            req->effects |= RESP_EFF_MONITOR;
        } else if (!strcmp(cmd, "RESET")) {
            /* clears CLIENT REPLY OFF/SKIP at once, before it replies +RESET */
            req->effects |= RESP_EFF_RESET;
            s->reply_off = s->skip_this = s->skip_next = 0;
            silenced = 0;
        } else if (!strcmp(cmd, "EXEC")) {
            req->effects |= RESP_EFF_EXEC;
        } else if (!strcmp(cmd, "DISCARD")) {
            req->effects |= RESP_EFF_DISCARD;
        } else if (!strcmp(cmd, "MULTI")) {
            req->effects |= RESP_EFF_MULTI;
        } else if (!strcmp(cmd, "SYNC") && !s->in_multi) {
            req->effects |= RESP_EFF_SYNC;
            s->client = RESP_CLIENT_REPLICA;
        } else if (!strcmp(cmd, "PSYNC") && !s->in_multi) {
            req->effects |= RESP_EFF_PSYNC;
            uint64_t off;
            if (c->argc > 2 && parse_u64(c->argv[2], c->arg_len[2], &off)) {
                req->psync_offset = off;
                req->have_psync_offset = 1;
            }
            s->client = RESP_CLIENT_REPLICA;
        } else if (!strcmp(cmd, "CLIENT") && c->sub && !strcmp(c->sub, "REPLY") &&
                   c->argc == 3 && !s->in_multi) {
            /* as Redis: ON clears both silencers and then replies; OFF and SKIP say
             * nothing, and SKIP while OFF is ignored (inside MULTI it would run at EXEC) */
            if (arg_is(c, 2, "ON")) {
                s->reply_off = s->skip_this = s->skip_next = 0;
                silenced = 0;
            } else if (arg_is(c, 2, "OFF")) {
                s->reply_off = 1;
                replies = 0;
            } else if (arg_is(c, 2, "SKIP")) {
                if (!s->reply_off)
                    s->skip_next = 1;
                replies = 0;
            }
        }
        /* the transaction as the server will see it */
        if (req->effects & RESP_EFF_MULTI)
            s->in_multi = 1;
        else if (req->effects & (RESP_EFF_EXEC | RESP_EFF_DISCARD | RESP_EFF_RESET))
            s->in_multi = 0;
    }
    /* a SUBSCRIBE's confirmations are pushed (Redis's CLIENT_PUSHING), even while replies
     * are silenced, in RESP2 as in RESP3 */
    if (silenced && s->client != RESP_CLIENT_CLOSED && !req->subscribe_kind)
        replies = 0;
    /* every request the server reads ends a SKIP's reach (resetClient); an empty one only up
     * to Redis 7 and in Valkey */
    if (s->client != RESP_CLIENT_CLOSED && (cmd || !s->empty_keeps_skip)) {
        s->skip_this = s->skip_next;
        s->skip_next = 0;
    }
    req->replies_expected = replies;
    if (replies > 0 || req->kind == RESP_REQ_UNSUBSCRIBE_ALL)
        enqueue(s, req);
}

void resp_session_protocol_error(resp_session_t *s, resp_req_t *req, uint32_t frame)
{
    memset(req, 0, sizeof *req);
    req->frame = frame;
    req->kind = RESP_REQ_NORMAL;
    if (s->client == RESP_CLIENT_CLOSED)
        return;
    /* "-ERR Protocol error: ..." is a reply like any other, silenced alike */
    req->replies_expected = s->reply_off || s->skip_this ? 0 : 1;
    s->client = RESP_CLIENT_CLOSED;
    if (req->replies_expected)
        enqueue(s, req);
}

void resp_session_stream_base(resp_session_t *s, uint64_t offset)
{
    s->repl_offset = offset;
    s->repl_offset_known = 1;
}

void resp_session_gap(resp_session_t *s, int to_server, resp_req_t *gap, uint32_t frame)
{
    if (!to_server) {
        /* replies were lost: which outstanding requests they answered is unknown */
        s->head = s->tail = NULL;
        s->queued = s->queued_tail = NULL;
        s->txn_queued = 0;
        if (s->server == RESP_SERVER_RDB || s->server == RESP_SERVER_RDB_WAIT)
            s->server = RESP_SERVER_REPLIES; /* the snapshot's end cannot be found again */
    }
    if (s->tail && s->tail->kind == RESP_REQ_GAP)
        return;
    memset(gap, 0, sizeof *gap);
    gap->kind = RESP_REQ_GAP;
    gap->frame = frame;
    enqueue(s, gap);
}

/* What a command that succeeded changes for the rest of the connection. */
static void apply_effects(resp_session_t *s, const resp_req_t *req)
{
    if (req->hello_version)
        s->version = req->hello_version;
    if (req->effects & RESP_EFF_MONITOR)
        s->monitor = 1;
    if (req->effects & RESP_EFF_RESET) {
        s->monitor = 0;
        s->subscribed = 0;
        s->version = 2;
        s->reply_off = s->skip_this = s->skip_next = 0;
    }
    /* a SUBSCRIBE run by EXEC: its replies came inside EXEC's array */
    if (req->subscribe_kind && req->kind == RESP_REQ_SUBSCRIBE && !strstr(req->subscribe_kind, "unsubscribe"))
        s->subscribed = 1;
}

/* A HELLO reply's "server" and "version": which rules of which server apply. */
static void server_identity(resp_session_t *s, const resp_reply_t *r)
{
    unsigned major = 0;
    for (size_t i = 0; i < r->server_version_len && r->server_version[i] >= '0' &&
                       r->server_version[i] <= '9' && major < 1000; i++)
        major = major * 10 + (unsigned)(r->server_version[i] - '0');
    s->empty_keeps_skip = ascii_caseeq(r->server_name, r->server_name_len, "redis") && major >= 8;
}

/* "+FULLRESYNC <replid> <offset>" or "+CONTINUE [<replid>]" answering a PSYNC. */
static void psync_reply(resp_session_t *s, const resp_req_t *req, const resp_reply_t *r,
                        resp_verdict_t *v)
{
    const uint8_t *p = r->data, *end = r->data + r->data_len;
    const uint8_t *w[3];
    size_t wl[3], nw = 0;
    while (p < end && nw < 3) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        w[nw] = p;
        while (p < end && *p != ' ')
            p++;
        wl[nw] = (size_t)(p - w[nw]);
        nw++;
    }
    if (nw == 0)
        return;
    int full = ascii_caseeq(w[0], wl[0], "FULLRESYNC");
    if (ascii_caseeq(w[0], wl[0], "RDBCHANNELSYNC")) {
        /* Redis 8: the snapshot comes over a second connection (the RDB channel); this one
         * carries the master's stream, from an offset the other connection tells */
        uint64_t id;
        if (nw > 1 && parse_u64(w[1], wl[1], &id)) {
            v->have_rdb_channel = 1;
            v->rdb_channel_id = id;
        }
        s->repl_offset_known = 0;
        s->server = RESP_SERVER_REPL_STREAM;
        return;
    }
    if (ascii_caseeq(w[0], wl[0], "DUALCHANNELSYNC")) {
        /* Valkey: the snapshot comes over a second connection; on this one the replica's
         * handshake goes on (REPLCONF set-rdb-client-id, then PSYNC answered +CONTINUE) */
        s->client = RESP_CLIENT_COMMANDS;
        return;
    }
    if (!full && !ascii_caseeq(w[0], wl[0], "CONTINUE"))
        return;
    if (nw > 1) {
        v->have_repl = 1;
        v->repl_id = w[1];
        v->repl_id_len = wl[1];
        size_t n = wl[1] < sizeof s->repl_id - 1 ? wl[1] : sizeof s->repl_id - 1;
        memcpy(s->repl_id, w[1], n);
        s->repl_id[n] = 0;
        s->repl_id_known = 1;
    }
    s->repl_offset_known = 0;
    if (full) {
        uint64_t off;
        if (nw > 2 && parse_u64(w[2], wl[2], &off)) {
            v->have_repl_offset = 1;
            v->repl_offset = off;
            s->repl_offset = off;
            s->repl_offset_known = 1;
        }
        s->server = RESP_SERVER_RDB_WAIT;
    } else {
        /* the master resends its stream from the byte the replica asked for */
        if (req->have_psync_offset && req->psync_offset > 0) {
            s->repl_offset = req->psync_offset - 1;
            s->repl_offset_known = 1;
        }
        s->server = RESP_SERVER_REPL_STREAM;
    }
}

void resp_session_reply(resp_session_t *s, const resp_reply_t *r, uint32_t frame,
                        resp_verdict_t *v)
{
    const char *kind = NULL;
    memset(v, 0, sizeof *v);

    if (s->monitor && r->type == RESP_SIMPLE_STRING && r->data_len > 0 && r->data[0] >= '0' &&
        r->data[0] <= '9') {
        v->kind = RESP_MSG_MONITOR;
        return;
    }
    if (r->type == RESP_PUSH || r->type == RESP_ARRAY) {
        kind = match_kind(r->first_str, r->first_len, subscribe_kinds,
                          sizeof subscribe_kinds / sizeof subscribe_kinds[0]);
        const char *msgkind = match_kind(r->first_str, r->first_len, pubsub_message_kinds,
                                         sizeof pubsub_message_kinds / sizeof pubsub_message_kinds[0]);
        int push_shape = r->type == RESP_PUSH || s->subscribed || !s->head;
        if (msgkind && push_shape && r->count >= 3) {
            v->kind = RESP_MSG_PUBSUB;
            return;
        }
        if (!kind && r->type == RESP_PUSH) {
            v->kind = RESP_MSG_PUSH;
            return;
        }
    }

    v->kind = RESP_MSG_RESPONSE;
    /* a pending "unsubscribe from all" ends when a reply of another kind arrives */
    while (s->head && s->head->kind == RESP_REQ_UNSUBSCRIBE_ALL && s->head->replies_seen > 0 &&
           (!kind || strcmp(kind, s->head->subscribe_kind) != 0))
        dequeue(s);
    /* replies to requests lost before a gap: unmatched until the first request after it */
    if (s->head && s->head->kind == RESP_REQ_GAP) {
        resp_req_t *after = s->head->next;
        if (!after || frame <= after->frame) {
            v->unmatched = 1;
            return;
        }
        dequeue(s);
    }
    if (!s->head) {
        v->unmatched = 1;
        if (kind && r->have_third)
            s->subscribed = r->third_int > 0;
        return;
    }
    resp_req_t *req = s->head;
    v->answers = req;
    if (req->replies_seen++ == 0)
        req->first_reply_frame = frame;
    /* an error or +QUEUED (inside MULTI) is the only reply, even to a SUBSCRIBE of many
     * channels; the command's effect then comes at EXEC, if at all */
    int error = r->type == RESP_ERROR || r->type == RESP_BULK_ERROR;
    int queued = r->type == RESP_SIMPLE_STRING && ascii_caseeq(r->data, r->data_len, "QUEUED");
    if ((!kind && (error || queued)) ||
        (req->kind != RESP_REQ_UNSUBSCRIBE_ALL && req->replies_seen >= req->replies_expected))
        dequeue(s);

    if (kind && r->have_third)
        s->subscribed = r->third_int > 0;
    if (queued) {
        req->txn_index = s->txn_queued++;
        if (req->hello_version || (req->effects & (RESP_EFF_MONITOR | RESP_EFF_RESET)) ||
            req->subscribe_kind) {
            req->next_queued = NULL;
            if (s->queued_tail)
                s->queued_tail->next_queued = req;
            else
                s->queued = req;
            s->queued_tail = req;
        }
    } else if (!error) {
        apply_effects(s, req);
        if ((req->effects & RESP_EFF_HELLO) && r->server_name)
            server_identity(s, r);
        if ((req->effects & RESP_EFF_PSYNC) && r->type == RESP_SIMPLE_STRING)
            psync_reply(s, req, r, v);
    } else if (req->effects & (RESP_EFF_PSYNC | RESP_EFF_SYNC)) {
        s->client = RESP_CLIENT_COMMANDS; /* refused: the link did not start */
    }
    /* a new transaction, or RESET (which drops an open one): nothing queued */
    if ((req->effects & (RESP_EFF_MULTI | RESP_EFF_RESET)) && !error && !queued) {
        s->queued = s->queued_tail = NULL;
        s->txn_queued = 0;
    }
    if (req->effects & (RESP_EFF_EXEC | RESP_EFF_DISCARD)) {
        /* EXEC's array holds the queued commands' replies in order; nil or an error: none
         * ran; a command whose reply there is an error changed nothing */
        if ((req->effects & RESP_EFF_EXEC) && (r->type == RESP_ARRAY || r->type == RESP_PUSH) &&
            !r->is_null) {
            size_t k = 0;
            for (resp_req_t *q = s->queued; q; q = q->next_queued) {
                while (k < r->n_error_children && r->error_children[k] < q->txn_index)
                    k++;
                if (k == r->n_error_children || r->error_children[k] != q->txn_index)
                    apply_effects(s, q);
            }
        }
        s->queued = s->queued_tail = NULL;
        s->txn_queued = 0;
    }
}

int resp_master_command_awaits_ack(const resp_cmd_t *c)
{
    return c && c->cmd && !strcmp(c->cmd, "REPLCONF") && arg_is(c, 1, "GETACK");
}

void resp_session_master_command(resp_session_t *s, resp_req_t *req, const resp_cmd_t *c,
                                 size_t msg_len, resp_verdict_t *v)
{
    memset(v, 0, sizeof *v);
    v->kind = RESP_MSG_REPLICATION;
    if (s->repl_offset_known)
        s->repl_offset += msg_len;
    if (req && resp_master_command_awaits_ack(c)) {
        memset(req, 0, sizeof *req);
        req->effects = RESP_EFF_GETACK;
        req->replies_expected = 1;
        if (s->getack_tail)
            s->getack_tail->next = req;
        else
            s->getack_head = req;
        s->getack_tail = req;
    }
}

int resp_session_rdb_start(resp_session_t *s, const uint8_t *line, size_t len,
                           resp_req_t **answers)
{
    resp_rdb_t *r = &s->rdb;
    *answers = NULL;
    /* after +FULLRESYNC, or as SYNC's answer; a PSYNC's answer is a status line */
    int sync = sync_pending(s) && (s->head->effects & RESP_EFF_SYNC);
    if (s->server != RESP_SERVER_RDB_WAIT && !sync)
        return 0;
    if (len > 7 && !memcmp(line, "ENDOFF:", 7)) {
        /* Valkey's dual channel: "$ENDOFF:<offset> <replid> <db> <client id>" answers SYNC
         * on the snapshot's connection; the snapshot's own "$" line follows */
        if (sync) {
            *answers = s->head;
            s->head->replies_seen++;
            dequeue(s);
        }
        s->server = RESP_SERVER_RDB_WAIT;
        return 2;
    }
    memset(r, 0, sizeof *r);
    if (len == 4 + RESP_RDB_MARK_LEN && !memcmp(line, "EOF:", 4)) {
        r->eof_framing = 1;
        memcpy(r->mark, line + 4, RESP_RDB_MARK_LEN);
    } else {
        int64_t n;
        if (!parse_i64(line, len, &n) || n < 0)
            return 0;
        r->declared = (uint64_t)n;
    }
    /* SYNC's answer is the snapshot itself */
    if (sync) {
        *answers = s->head;
        s->head->replies_seen++;
        dequeue(s);
    }
    s->server = RESP_SERVER_RDB;
    if (!r->eof_framing && r->declared == 0) {
        r->done = 1;
        s->server = RESP_SERVER_REPL_STREAM;
    }
    return 1;
}

static void rdb_keep_head(resp_rdb_t *r, const uint8_t *p, size_t n)
{
    size_t want = sizeof r->head - r->head_len;
    if (want > n)
        want = n;
    memcpy(r->head + r->head_len, p, want);
    r->head_len += want;
}

/* Offset in p[0..n) just past the EOF mark, which may have started in the bytes fed before
 * (r->tail); 0 when it is not there. */
static size_t find_mark_end(const resp_rdb_t *r, const uint8_t *p, size_t n)
{
    const size_t M = RESP_RDB_MARK_LEN;
    /* starts in the tail: tail[t..] + p[0..M-(tail_len-t)) */
    for (size_t t = 0; t < r->tail_len; t++) {
        size_t in_tail = r->tail_len - t, in_p = M - in_tail;
        if (in_p <= n && !memcmp(r->tail + t, r->mark, in_tail) &&
            !memcmp(p, r->mark + in_tail, in_p))
            return in_p;
    }
    for (const uint8_t *q = p; (size_t)(q - p) + M <= n;) {
        q = memchr(q, r->mark[0], n - (size_t)(q - p) - M + 1);
        if (!q)
            break;
        if (!memcmp(q, r->mark, M))
            return (size_t)(q - p) + M;
        q++;
    }
    return 0;
}

size_t resp_session_rdb_feed(resp_session_t *s, const uint8_t *p, size_t n)
{
    resp_rdb_t *r = &s->rdb;
    size_t take = n;
    if (r->done || n == 0)
        return 0;
    if (!p) {
        /* bytes the capture left out: counted; a mark among them cannot be seen */
        if (!r->eof_framing && (uint64_t)take > r->declared - r->fed)
            take = (size_t)(r->declared - r->fed);
        r->fed += take;
        r->tail_len = 0;
        r->done = !r->eof_framing && r->fed == r->declared;
        if (r->done)
            s->server = RESP_SERVER_REPL_STREAM;
        return take;
    }
    if (!r->eof_framing) {
        uint64_t left = r->declared - r->fed;
        if ((uint64_t)take > left)
            take = (size_t)left;
        r->done = r->fed + take == r->declared;
    } else {
        size_t end = find_mark_end(r, p, n);
        if (end) {
            take = end;
            r->done = 1;
        } else {
            /* keep the last bytes: the mark may start in them */
            const size_t keep = sizeof r->tail;
            if (n >= keep) {
                memcpy(r->tail, p + n - keep, keep);
                r->tail_len = keep;
            } else {
                size_t drop = r->tail_len + n > keep ? r->tail_len + n - keep : 0;
                memmove(r->tail, r->tail + drop, r->tail_len - drop);
                memcpy(r->tail + r->tail_len - drop, p, n);
                r->tail_len = r->tail_len - drop + n;
            }
        }
    }
    if (r->head_len < sizeof r->head)
        rdb_keep_head(r, p, take);
    r->fed += take;
    if (r->done)
        s->server = RESP_SERVER_REPL_STREAM;
    return take;
}

int resp_rdb_length(const resp_rdb_t *r, uint64_t *len)
{
    if (!r->eof_framing) {
        *len = r->declared;
        return 1;
    }
    if (!r->done)
        return 0;
    *len = r->fed - RESP_RDB_MARK_LEN;
    return 1;
}

int resp_rdb_version(const resp_rdb_t *r)
{
    const uint8_t *h = r->head;
    size_t magic;
    if (r->head_len < sizeof r->head)
        return -1;
    if (!memcmp(h, "REDIS", 5))
        magic = 5;
    else if (!memcmp(h, "VALKEY", 6))
        magic = 6;
    else
        return -1;
    int v = 0;
    for (size_t i = magic; i < sizeof r->head; i++) {
        if (h[i] < '0' || h[i] > '9')
            return -1;
        v = v * 10 + (h[i] - '0');
    }
    return v;
}
