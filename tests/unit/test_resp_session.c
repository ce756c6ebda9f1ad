/* Unit tests for core/resp_session.c: the connection's state machine, driven message by
 * message as the dissector drives it. Prints "N passed, M failed". */
#include "resp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_check.h"

/* Requests by the words of a command line: "CLIENT REPLY OFF" (the caller names commands
 * and subcommands; here the first word is the command, the second its subcommand for CLIENT
 * and CONFIG). */
#define MAX_REQ 64
static resp_req_t reqs[MAX_REQ];
static unsigned nreq;
static uint32_t frame_no;

static resp_req_t *request(resp_session_t *s, const char *line, resp_verdict_t *v)
{
    static char buf[256];
    const uint8_t *argv[16];
    size_t len[16], argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *w = strtok(buf, " "); w && argc < 16; w = strtok(NULL, " ")) {
        argv[argc] = (const uint8_t *)w;
        len[argc++] = strlen(w);
    }
    resp_cmd_t c = {argc, argv, len, argc ? (const char *)argv[0] : NULL, NULL};
    if (argc > 1 && (!strcmp(c.cmd, "CLIENT") || !strcmp(c.cmd, "CONFIG")))
        c.sub = (const char *)argv[1];
    resp_req_t *r = &reqs[nreq++ % MAX_REQ];
    resp_session_request(s, r, argc ? &c : NULL, ++frame_no, v);
    return r;
}

static resp_req_t *req(resp_session_t *s, const char *line)
{
    resp_verdict_t v;
    return request(s, line, &v);
}

static resp_verdict_t reply_str(resp_session_t *s, resp_type_t type, const char *text)
{
    resp_reply_t r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.data = (const uint8_t *)text;
    r.data_len = strlen(text);
    resp_verdict_t v;
    resp_session_reply(s, &r, ++frame_no, &v);
    return v;
}

static resp_verdict_t reply_ok(resp_session_t *s)
{
    return reply_str(s, RESP_SIMPLE_STRING, "OK");
}

static void test_pairing_in_order(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *a = req(&s, "SET k v"), *b = req(&s, "GET k");
    CHECK(a->replies_expected == 1 && b->replies_expected == 1);
    resp_verdict_t v = reply_ok(&s);
    CHECK(v.kind == RESP_MSG_RESPONSE && v.answers == a && !v.unmatched);
    v = reply_str(&s, RESP_BULK_STRING, "v");
    CHECK(v.answers == b);
    v = reply_ok(&s);
    CHECK(v.unmatched && !v.answers);
}

/* CLIENT REPLY as Redis 7 implements it (networking.c: clientCommand, resetClient). */
static void test_client_reply(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *off = req(&s, "CLIENT REPLY OFF");
    CHECK(off->replies_expected == 0);
    CHECK(req(&s, "SET a 1")->replies_expected == 0);
    CHECK(req(&s, "NOSUCHCOMMAND")->replies_expected == 0); /* errors are silenced too */
    CHECK(req(&s, "CLIENT REPLY SKIP")->replies_expected == 0); /* ignored while OFF */
    CHECK(req(&s, "GET a")->replies_expected == 0);
    resp_req_t *on = req(&s, "CLIENT REPLY ON");
    CHECK(on->replies_expected == 1);
    resp_req_t *get = req(&s, "GET a");
    CHECK(get->replies_expected == 1);
    CHECK(reply_ok(&s).answers == on);
    CHECK(reply_str(&s, RESP_BULK_STRING, "1").answers == get);

    /* SKIP silences the next request only, and says nothing itself */
    CHECK(req(&s, "CLIENT REPLY SKIP")->replies_expected == 0);
    CHECK(req(&s, "INCR n")->replies_expected == 0);
    CHECK(req(&s, "GET n")->replies_expected == 1);
    /* an empty request also ends the SKIP's reach */
    CHECK(req(&s, "CLIENT REPLY SKIP")->replies_expected == 0);
    CHECK(req(&s, "")->replies_expected == 0);
    CHECK(req(&s, "GET n")->replies_expected == 1);
    /* Redis 8 (as its HELLO reply says) no longer ends a SKIP at an empty request */
    {
        resp_session_t s8;
        resp_session_init(&s8);
        resp_req_t *hello = req(&s8, "HELLO");
        resp_reply_t r;
        memset(&r, 0, sizeof r);
        r.type = RESP_ARRAY;
        r.count = 14;
        r.server_name = (const uint8_t *)"redis";
        r.server_name_len = 5;
        r.server_version = (const uint8_t *)"8.0.2";
        r.server_version_len = 5;
        resp_verdict_t v8;
        resp_session_reply(&s8, &r, ++frame_no, &v8);
        CHECK(v8.answers == hello && s8.empty_keeps_skip);
        CHECK(req(&s8, "CLIENT REPLY SKIP")->replies_expected == 0);
        CHECK(req(&s8, "")->replies_expected == 0);
        CHECK(req(&s8, "GET n")->replies_expected == 0);
        CHECK(req(&s8, "GET n")->replies_expected == 1);
        /* Valkey 9 keeps the Redis 7 rule */
        resp_session_init(&s8);
        req(&s8, "HELLO 3");
        r.server_name = (const uint8_t *)"valkey";
        r.server_name_len = 6;
        r.server_version = (const uint8_t *)"9.1.2";
        resp_session_reply(&s8, &r, ++frame_no, &v8);
        CHECK(!s8.empty_keeps_skip && s8.version == 3);
    }
    /* a SUBSCRIBE's confirmations are pushed, sent even under CLIENT REPLY OFF */
    {
        resp_session_t s3;
        resp_session_init(&s3);
        req(&s3, "CLIENT REPLY OFF");
        CHECK(req(&s3, "psubscribe *")->replies_expected == 1);
        CHECK(req(&s3, "GET k")->replies_expected == 0);
        s3.version = 3;
        CHECK(req(&s3, "subscribe a b")->replies_expected == 2);
    }
    /* ON right after SKIP: the flags are cleared before ON replies */
    CHECK(req(&s, "CLIENT REPLY SKIP")->replies_expected == 0);
    CHECK(req(&s, "CLIENT REPLY ON")->replies_expected == 1);
    /* RESET clears OFF before it replies */
    req(&s, "CLIENT REPLY OFF");
    CHECK(req(&s, "RESET")->replies_expected == 1);
    CHECK(req(&s, "PING")->replies_expected == 1);
    /* a wrong mode is a syntax error, answered */
    CHECK(req(&s, "CLIENT REPLY MAYBE")->replies_expected == 1);
    /* inside MULTI it is only queued */
    req(&s, "MULTI");
    CHECK(req(&s, "CLIENT REPLY OFF")->replies_expected == 1);
    req(&s, "EXEC");
    CHECK(req(&s, "PING")->replies_expected == 1);
}

static void test_empty_requests(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *e = req(&s, "");
    CHECK(e->replies_expected == 0);
    resp_req_t *p = req(&s, "PING");
    CHECK(reply_str(&s, RESP_SIMPLE_STRING, "PONG").answers == p);
}

static void test_protocol_error(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *a = req(&s, "PING");
    resp_req_t perr;
    resp_session_protocol_error(&s, &perr, ++frame_no);
    CHECK(perr.replies_expected == 1 && s.client == RESP_CLIENT_CLOSED);
    /* the server reads nothing after it */
    CHECK(req(&s, "GET x")->replies_expected == 0);
    CHECK(reply_str(&s, RESP_SIMPLE_STRING, "PONG").answers == a);
    CHECK(reply_str(&s, RESP_ERROR, "ERR Protocol error: invalid bulk length").answers == &perr);
}

static void test_subscribe_and_monitor(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *sub = req(&s, "subscribe a b");
    CHECK(sub->replies_expected == 2);
    resp_reply_t r;
    memset(&r, 0, sizeof r);
    r.type = RESP_ARRAY;
    r.count = 3;
    r.first_str = (const uint8_t *)"subscribe";
    r.first_len = 9;
    r.have_third = 1;
    r.third_int = 1;
    resp_verdict_t v;
    resp_session_reply(&s, &r, ++frame_no, &v);
    CHECK(v.answers == sub);
    r.third_int = 2;
    resp_session_reply(&s, &r, ++frame_no, &v);
    CHECK(v.answers == sub && s.subscribed && !s.head);
    r.first_str = (const uint8_t *)"message";
    r.first_len = 7;
    resp_session_reply(&s, &r, ++frame_no, &v);
    CHECK(v.kind == RESP_MSG_PUBSUB);

    resp_session_init(&s);
    resp_req_t *m = req(&s, "MONITOR");
    CHECK(reply_ok(&s).answers == m && s.monitor);
    v = reply_str(&s, RESP_SIMPLE_STRING, "1700000000.123456 [0 127.0.0.1:5000] \"get\" \"k\"");
    CHECK(v.kind == RESP_MSG_MONITOR);
}

static void test_multi_effects(void)
{
    resp_session_t s;
    resp_session_init(&s);
    req(&s, "MULTI");
    resp_req_t *hello = req(&s, "HELLO 3");
    resp_req_t *exec = req(&s, "EXEC");
    reply_ok(&s);
    CHECK(reply_str(&s, RESP_SIMPLE_STRING, "QUEUED").answers == hello);
    CHECK(s.version == 2);
    resp_reply_t r;
    memset(&r, 0, sizeof r);
    r.type = RESP_ARRAY;
    r.count = 1;
    resp_verdict_t v;
    resp_session_reply(&s, &r, ++frame_no, &v);
    CHECK(v.answers == exec && s.version == 3);
}

/* A replica's link: handshake, FULLRESYNC, snapshot, stream, GETACK/ACK. */
static void test_replication_full(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *ping = req(&s, "PING");
    resp_req_t *port = req(&s, "REPLCONF listening-port 6380");
    resp_req_t *psync = req(&s, "PSYNC ? -1");
    CHECK(psync->replies_expected == 1 && s.client == RESP_CLIENT_REPLICA);
    CHECK(resp_session_server_state(&s) == RESP_SERVER_REPLIES);
    CHECK(reply_str(&s, RESP_SIMPLE_STRING, "PONG").answers == ping);
    CHECK(reply_ok(&s).answers == port);
    /* newlines may come before the PSYNC's answer (a delayed diskless sync) */
    CHECK(resp_session_server_state(&s) == RESP_SERVER_RDB_WAIT);
    resp_req_t *none;
    CHECK(!resp_session_rdb_start(&s, (const uint8_t *)"20", 2, &none)); /* not before FULLRESYNC */
    resp_verdict_t v = reply_str(&s, RESP_SIMPLE_STRING,
                                 "FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 100");
    CHECK(v.answers == psync && v.have_repl && v.repl_id_len == 40 && v.have_repl_offset &&
          v.repl_offset == 100);
    CHECK(resp_session_server_state(&s) == RESP_SERVER_RDB_WAIT);
    CHECK(resp_session_rdb_start(&s, (const uint8_t *)"20", 2, &none) && !none);
    CHECK(resp_session_server_state(&s) == RESP_SERVER_RDB);
    CHECK(resp_session_rdb_feed(&s, (const uint8_t *)"REDIS0010abc", 12) == 12);
    CHECK(resp_rdb_version(&s.rdb) == 10);
    uint64_t len = 0;
    CHECK(resp_rdb_length(&s.rdb, &len) && len == 20);
    /* the snapshot ends inside this chunk; the stream starts right after it */
    CHECK(resp_session_rdb_feed(&s, (const uint8_t *)"12345678*1\r\n", 12) == 8);
    CHECK(resp_session_server_state(&s) == RESP_SERVER_REPL_STREAM);

    const uint8_t *argv[3] = {(const uint8_t *)"REPLCONF", (const uint8_t *)"GETACK", (const uint8_t *)"*"};
    size_t alen[3] = {8, 6, 1};
    resp_cmd_t getack = {3, argv, alen, "REPLCONF", NULL};
    resp_req_t g;
    resp_session_master_command(&s, &g, &getack, 37, &v);
    CHECK(v.kind == RESP_MSG_REPLICATION && s.repl_offset == 137);
    /* a replica's request is never answered; the first ACK answers the GETACK */
    resp_req_t *ack = request(&s, "REPLCONF ACK 130", &v);
    CHECK(ack->replies_expected == 0 && v.answers == &g && v.have_lag && v.lag == 7);
    ack = request(&s, "REPLCONF ACK 137", &v);
    CHECK(!v.answers && v.have_lag && v.lag == 0);
    CHECK(req(&s, "")->replies_expected == 0); /* a keepalive newline */
}

static void test_replication_continue_and_sync(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t *psync = req(&s, "PSYNC 8de1787ba490483314a4d30f1c628bc5025eb761 501");
    resp_verdict_t v = reply_str(&s, RESP_SIMPLE_STRING, "CONTINUE 8de1787ba490483314a4d30f1c628bc5025eb761");
    CHECK(v.answers == psync && v.have_repl && !v.have_repl_offset);
    CHECK(resp_session_server_state(&s) == RESP_SERVER_REPL_STREAM && s.repl_offset == 500);

    /* Redis 8's RDB channel: the main connection carries only the stream */
    resp_session_init(&s);
    psync = req(&s, "PSYNC ? -1");
    v = reply_str(&s, RESP_SIMPLE_STRING, "RDBCHANNELSYNC 7");
    CHECK(v.answers == psync && resp_session_server_state(&s) == RESP_SERVER_REPL_STREAM &&
          !s.repl_offset_known && v.have_rdb_channel && v.rdb_channel_id == 7);
    resp_session_stream_base(&s, 42); /* the RDB channel's +FULLRESYNC */
    request(&s, "REPLCONF ACK 42", &v);
    CHECK(v.have_lag && v.lag == 0);

    /* SYNC: the snapshot is the answer; newlines may come first */
    resp_session_init(&s);
    resp_req_t *sync = req(&s, "SYNC");
    CHECK(resp_session_server_state(&s) == RESP_SERVER_RDB_WAIT);
    resp_req_t *ans;
    CHECK(resp_session_rdb_start(&s, (const uint8_t *)"0", 1, &ans) && ans == sync);
    CHECK(resp_session_server_state(&s) == RESP_SERVER_REPL_STREAM);

    /* Valkey's dual channel: the main connection's handshake goes on after +DUALCHANNELSYNC;
     * the snapshot's connection gets "$ENDOFF:..." before the snapshot's own line */
    resp_session_init(&s);
    req(&s, "PSYNC ? -1");
    reply_str(&s, RESP_SIMPLE_STRING, "DUALCHANNELSYNC");
    resp_req_t *setid = req(&s, "REPLCONF set-rdb-client-id 5");
    CHECK(setid->replies_expected == 1 && reply_ok(&s).answers == setid);
    psync = req(&s, "PSYNC e55d72f0e55d72f0e55d72f0e55d72f0e55d72f0 43");
    reply_str(&s, RESP_SIMPLE_STRING, "CONTINUE e55d72f0e55d72f0e55d72f0e55d72f0e55d72f0");
    CHECK(s.server == RESP_SERVER_REPL_STREAM && s.repl_offset_known && s.repl_offset == 42);
    resp_session_init(&s);
    sync = req(&s, "SYNC");
    static const char endoff[] = "ENDOFF:42 e55d72f0e55d72f0e55d72f0e55d72f0e55d72f0 0 5";
    CHECK(resp_session_rdb_start(&s, (const uint8_t *)endoff, sizeof endoff - 1, &ans) == 2 &&
          ans == sync && resp_session_server_state(&s) == RESP_SERVER_RDB_WAIT);
    CHECK(resp_session_rdb_start(&s, (const uint8_t *)"3", 1, &ans) == 1 && !ans);
    CHECK(resp_session_rdb_feed(&s, (const uint8_t *)"abc", 3) == 3 && s.server == RESP_SERVER_REPL_STREAM);

    /* a refused PSYNC leaves an ordinary connection */
    resp_session_init(&s);
    req(&s, "PSYNC ? -1");
    reply_str(&s, RESP_ERROR, "NOMASTERLINK Can't SYNC while not connected with my master");
    CHECK(s.client == RESP_CLIENT_COMMANDS && s.server == RESP_SERVER_REPLIES);
    CHECK(req(&s, "PING")->replies_expected == 1);

    /* midstream, a command from the server before any request: a master's stream */
    resp_session_init(&s);
    resp_session_set_midstream(&s);
    CHECK(resp_session_master_stream_guess(&s) && s.server == RESP_SERVER_REPL_STREAM);
    CHECK(req(&s, "REPLCONF ACK 10")->replies_expected == 0 && s.client == RESP_CLIENT_REPLICA);
    /* ... unless the client then sends what no replica sends */
    CHECK(req(&s, "GET k")->replies_expected == 1 && s.server == RESP_SERVER_REPLIES);
    /* not when the start was seen, nor once the client spoke */
    resp_session_init(&s);
    CHECK(!resp_session_master_stream_guess(&s));
    resp_session_set_midstream(&s);
    req(&s, "GET k");
    CHECK(!resp_session_master_stream_guess(&s));

    /* a link whose start the capture missed: the replica's ACK tells */
    resp_session_init(&s);
    req(&s, "REPLCONF ACK 1234");
    CHECK(s.client == RESP_CLIENT_REPLICA && s.server == RESP_SERVER_REPL_STREAM);
}

/* Diskless snapshot: "$EOF:<mark>", the payload, the mark, split anywhere. */
static void test_rdb_eof_mark(void)
{
    static const char mark[] = "0123456789abcdefghij0123456789ABCDEFGHIJ";
    uint8_t stream[200];
    size_t payload = 100;
    memcpy(stream, "REDIS0011", 9);
    for (size_t i = 9; i < payload; i++)
        stream[i] = (uint8_t)('a' + i % 7); /* never the mark */
    memcpy(stream + payload, mark, 40);
    memcpy(stream + payload + 40, "*1\r\n$4\r\nPING\r\n", 14);
    size_t total = payload + 40 + 14;
    char line[45];
    memcpy(line, "EOF:", 4);
    memcpy(line + 4, mark, 40);
    /* every split into two chunks, and byte by byte */
    for (size_t cut = 0; cut <= total; cut++) {
        resp_session_t s;
        resp_session_init(&s);
        s.server = RESP_SERVER_RDB_WAIT;
        resp_req_t *ans;
        CHECK(resp_session_rdb_start(&s, (const uint8_t *)line, 44, &ans));
        size_t a = resp_session_rdb_feed(&s, stream, cut);
        size_t b = a == cut ? resp_session_rdb_feed(&s, stream + cut, total - cut) : 0;
        uint64_t len = 0;
        if (!(a + b == payload + 40 && resp_rdb_length(&s.rdb, &len) && len == payload &&
              resp_rdb_version(&s.rdb) == 11 && s.server == RESP_SERVER_REPL_STREAM)) {
            CHECK(!"split snapshot");
            fprintf(stderr, "  cut %zu: a=%zu b=%zu\n", cut, a, b);
        }
    }
    resp_session_t s;
    resp_session_init(&s);
    s.server = RESP_SERVER_RDB_WAIT;
    resp_req_t *ans;
    CHECK(resp_session_rdb_start(&s, (const uint8_t *)line, 44, &ans));
    size_t used = 0;
    for (size_t i = 0; i < total && s.server == RESP_SERVER_RDB; i++)
        used += resp_session_rdb_feed(&s, stream + i, 1);
    uint64_t len = 0;
    CHECK(used == payload + 40 && resp_rdb_length(&s.rdb, &len) && len == payload);
    /* not a snapshot line */
    CHECK(!resp_session_rdb_start(&s, (const uint8_t *)"abc", 3, &ans));
    CHECK(!resp_session_rdb_start(&s, (const uint8_t *)"EOF:short", 9, &ans));
}

static void test_gap(void)
{
    resp_session_t s;
    resp_session_init(&s);
    resp_req_t gap;
    resp_session_gap(&s, 0, &gap, ++frame_no);
    CHECK(reply_ok(&s).unmatched);
    resp_req_t *p = req(&s, "PING");
    CHECK(reply_str(&s, RESP_SIMPLE_STRING, "PONG").answers == p);
}

int main(void)
{
    test_pairing_in_order();
    test_client_reply();
    test_empty_requests();
    test_protocol_error();
    test_subscribe_and_monitor();
    test_multi_effects();
    test_replication_full();
    test_replication_continue_and_sync();
    test_rdb_eof_mark();
    test_gap();
    return unit_summary();
}
