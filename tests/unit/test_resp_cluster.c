/* test_resp_cluster.c — unit tests for core/resp_cluster.[ch] and core/resp_sentinel.[ch].
 *
 * The key-slot vectors are what a real redis-server 7.0.15 (cluster-enabled) answered to
 * CLUSTER KEYSLOT for each key. The last line printed is "N passed, M failed".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_cluster.h"
#include "resp_sentinel.h"

#include <stdio.h>
#include <string.h>

#include "unit_check.h"

static const struct {
    const char *key;
    size_t len;
    unsigned slot;
} keyslots[] = {
    /* CLUSTER KEYSLOT <key> on redis-server 7.0.15 */
    {"", 0, 0},
    {"foo", 3, 12182},
    {"bar", 3, 5061},
    {"123456789", 9, 12739},
    {"user1000", 8, 3443},
    {"{user1000}.following", 20, 3443},
    {"{user1000}.followers", 20, 3443},
    {"foo{}{bar}", 10, 8363},       /* empty first tag: the whole key */
    {"foo{{bar}}zap", 13, 4015},    /* tag is "{bar" */
    {"foo{bar}{zap}", 13, 5061},    /* first tag only: "bar" */
    {"{", 1, 4092},
    {"}", 1, 12090},
    {"{}", 2, 15257},
    {"}{a}", 4, 15495},             /* '}' before the '{' does not count */
    {"a{b", 3, 13340},              /* unclosed: the whole key */
    {"\x00\xff\x80" "binary", 9, 3096},
    {"key:000000000001", 16, 8924},
    {"somekey", 7, 11058},
    {"{a}", 3, 15495},
    {"a", 1, 15495},
    {"\xe2\x82\xac", 3, 1997},
};

static void test_keyslot(void)
{
    /* the CRC16/XMODEM check value */
    CHECK(resp_crc16((const uint8_t *)"123456789", 9) == 0x31C3, "crc16 check value %04x",
          resp_crc16((const uint8_t *)"123456789", 9));
    for (size_t i = 0; i < sizeof keyslots / sizeof keyslots[0]; i++) {
        unsigned s = resp_cluster_keyslot((const uint8_t *)keyslots[i].key, keyslots[i].len);
        CHECK(s == keyslots[i].slot, "keyslot #%zu: %u, Redis said %u", i, s, keyslots[i].slot);
    }
    CHECK(resp_cluster_keyslot(NULL, 0) == 0, "NULL key");
}

static int redirect(const char *text, resp_redirect_t *r)
{
    return resp_redirect_parse((const uint8_t *)text, strlen(text), r);
}

static int host_is(const char *text, const resp_redirect_t *r, const char *host)
{
    return r->host_len == strlen(host) && !memcmp(text + r->host_offset, host, r->host_len);
}

static void test_errors(void)
{
    resp_redirect_t r;
    const char *t;
    CHECK(resp_error_code_len((const uint8_t *)"ERR unknown command", 19) == 3, "ERR");
    CHECK(resp_error_code_len((const uint8_t *)"NOAUTH", 6) == 6, "whole text");
    CHECK(resp_error_code_len((const uint8_t *)" x", 2) == 0, "leading space");
    CHECK(resp_error_code_len((const uint8_t *)"", 0) == 0, "empty");
    CHECK(resp_error_code_len(NULL, 0) == 0, "NULL");

    t = "MOVED 12182 127.0.0.1:7002";
    CHECK(redirect(t, &r) && r.kind == RESP_REDIRECT_MOVED && r.slot == 12182 && r.port == 7002 &&
          host_is(t, &r, "127.0.0.1"), "MOVED");
    t = "ASK 3999 10.0.0.5:6380";
    CHECK(redirect(t, &r) && r.kind == RESP_REDIRECT_ASK && r.slot == 3999 && r.port == 6380 &&
          host_is(t, &r, "10.0.0.5"), "ASK");
    t = "MOVED 0 ::1:6379";
    CHECK(redirect(t, &r) && r.slot == 0 && r.port == 6379 && host_is(t, &r, "::1"), "IPv6");
    t = "MOVED 16383 redis-2.example.net:6379";
    CHECK(redirect(t, &r) && r.slot == 16383 && host_is(t, &r, "redis-2.example.net"), "hostname");
    t = "MOVED 5 :6379"; /* a node that announces no endpoint */
    CHECK(redirect(t, &r) && r.port == 6379 && r.host_len == 0, "empty endpoint");
    t = "MOVED 5 ?:6379";
    CHECK(redirect(t, &r) && host_is(t, &r, "?"), "unknown endpoint");
    CHECK(!redirect("MOVED 16384 127.0.0.1:6379", &r) && r.kind == RESP_REDIRECT_NONE, "slot too big");
    CHECK(!redirect("MOVED 012 127.0.0.1:6379", &r), "leading zero");
    CHECK(!redirect("MOVED -1 127.0.0.1:6379", &r), "negative slot");
    CHECK(!redirect("MOVED 12 127.0.0.1:65536", &r), "port too big");
    CHECK(!redirect("MOVED 12 127.0.0.1:", &r), "no port");
    CHECK(!redirect("MOVED 12 127.0.0.1", &r), "no colon");
    CHECK(!redirect("MOVED 12", &r), "no endpoint");
    CHECK(!redirect("MOVED", &r), "code only");
    CHECK(!redirect("MOVED 12 a b:1", &r), "space in host");
    CHECK(!redirect("MOVED 12 h:1 extra", &r), "trailing words");
    CHECK(!redirect("MOVEDX 12 h:1", &r), "other code");
    CHECK(!redirect("moved 12 h:1", &r), "lower case");
    CHECK(!redirect("ERR MOVED 12 h:1", &r), "not first word");
    CHECK(!redirect("", &r), "empty");
}

static int span_is(const char *text, resp_text_span_t s, const char *want)
{
    return s.len == strlen(want) && !memcmp(text + s.off, want, s.len);
}

static void test_hello(void)
{
    resp_sentinel_hello_t h;
    const char *t = "127.0.0.1,26380,0c6e1a3a8bd6af34d5c3f4d4d2a5e3e8b8c9e0f1,7,mymaster,127.0.0.1,6379,3";
    CHECK(resp_sentinel_hello_parse((const uint8_t *)t, strlen(t), &h), "hello");
    CHECK(span_is(t, h.ip, "127.0.0.1") && h.port == 26380 && h.epoch == 7 &&
          span_is(t, h.runid, "0c6e1a3a8bd6af34d5c3f4d4d2a5e3e8b8c9e0f1") &&
          span_is(t, h.master_name, "mymaster") && span_is(t, h.master_ip, "127.0.0.1") &&
          h.master_port == 6379 && h.master_epoch == 3, "hello fields");
    const char *bad[] = {
        "127.0.0.1,26380,id,7,mymaster,127.0.0.1,6379",       /* 7 fields */
        "127.0.0.1,26380,id,7,mymaster,127.0.0.1,6379,3,9",   /* 9 fields */
        "127.0.0.1,70000,id,7,mymaster,127.0.0.1,6379,3",     /* port */
        "127.0.0.1,26380,id,x,mymaster,127.0.0.1,6379,3",     /* epoch */
        "127.0.0.1,26380,id,99999999999999999999,m,1.2.3.4,1,3", /* epoch overflows 64 bits */
        "127.0.0.1,026380,id,7,mymaster,127.0.0.1,6379,3",    /* leading zero */
        ",26380,id,7,mymaster,127.0.0.1,6379,3",              /* empty ip */
        "127.0.0.1,26380,id,7,,127.0.0.1,6379,3",             /* empty master name */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!resp_sentinel_hello_parse((const uint8_t *)bad[i], strlen(bad[i]), &h), "bad hello %zu", i);
    CHECK(!resp_sentinel_hello_parse(NULL, 0, &h), "NULL hello");
    const char *max = "::1,1,r,18446744073709551615,m,::1,65535,0";
    CHECK(resp_sentinel_hello_parse((const uint8_t *)max, strlen(max), &h) &&
          h.epoch == UINT64_MAX && h.master_port == 65535, "largest values");
}

static resp_sentinel_event_form_t event(const char *ch, const char *t, resp_sentinel_event_t *e)
{
    return resp_sentinel_event_parse((const uint8_t *)ch, strlen(ch), (const uint8_t *)t, strlen(t), e);
}

static void test_events(void)
{
    resp_sentinel_event_t e;
    const char *t;
    CHECK(resp_sentinel_is_event_channel((const uint8_t *)"+switch-master", 14), "+switch-master");
    CHECK(resp_sentinel_is_event_channel((const uint8_t *)"-sdown", 6), "-sdown");
    CHECK(!resp_sentinel_is_event_channel((const uint8_t *)"news", 4), "news");
    CHECK(!resp_sentinel_is_event_channel((const uint8_t *)"+", 1), "+ alone");
    CHECK(!resp_sentinel_is_event_channel((const uint8_t *)"+Sdown", 6), "upper case");
    CHECK(!resp_sentinel_is_event_channel((const uint8_t *)"+a b", 4), "space");

    t = "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379";
    CHECK(event("+sdown", t, &e) == RESP_SENTINEL_EVENT_INSTANCE && span_is(t, e.instance_type, "slave") &&
          span_is(t, e.instance_name, "127.0.0.1:6380") && span_is(t, e.ip, "127.0.0.1") && e.port == 6380 &&
          e.has_master && span_is(t, e.master_name, "mymaster") && span_is(t, e.master_ip, "127.0.0.1") &&
          e.master_port == 6379, "replica event");
    t = "master mymaster 127.0.0.1 6379 #quorum 2/2";
    CHECK(event("+odown", t, &e) == RESP_SENTINEL_EVENT_INSTANCE && !e.has_master &&
          span_is(t, e.instance_name, "mymaster") && e.port == 6379, "master event with more words");
    t = "mymaster 127.0.0.1 6379 127.0.0.1 6380";
    CHECK(event("+switch-master", t, &e) == RESP_SENTINEL_EVENT_SWITCH && span_is(t, e.master_name, "mymaster") &&
          span_is(t, e.old_ip, "127.0.0.1") && e.old_port == 6379 && span_is(t, e.new_ip, "127.0.0.1") &&
          e.new_port == 6380, "switch-master");
    CHECK(event("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1", &e) == RESP_SENTINEL_EVENT_TEXT &&
          e.master_name.len == 0, "short switch-master");
    CHECK(event("+switch-master", "m 1.1.1.1 99999 2.2.2.2 1", &e) == RESP_SENTINEL_EVENT_TEXT, "bad port");
    CHECK(event("+new-epoch", "7", &e) == RESP_SENTINEL_EVENT_TEXT, "new-epoch");
    CHECK(event("+tilt", "#tilt mode entered", &e) == RESP_SENTINEL_EVENT_TEXT, "tilt");
    t = "sentinel 2d5f 127.0.0.1 26380 @ mymaster 127.0.0.1 x";
    CHECK(event("+sentinel", t, &e) == RESP_SENTINEL_EVENT_INSTANCE && !e.has_master, "bad master port: no master part");
    CHECK(event("+sdown", "slave a b", &e) == RESP_SENTINEL_EVENT_TEXT, "too few words");
    CHECK(event("+sdown", "", &e) == RESP_SENTINEL_EVENT_TEXT, "empty");
    CHECK(resp_sentinel_event_parse(NULL, 0, NULL, 0, &e) == RESP_SENTINEL_EVENT_TEXT, "NULL");
}

int main(void)
{
    test_keyslot();
    test_errors();
    test_hello();
    test_events();
    return unit_summary();
}
