/* Unit tests for core/redis_cluster_bus.c. Prints "N passed, M failed".
 *
 * The vectors are whole messages taken from captures of real 3-primary clusters (plus one
 * replica) made for these tests: their servers and versions are named above each. They are
 * written as hex bytes where "xx*N" stands for N bytes of value xx (the slot bitmaps and
 * padding are mostly runs). The hostile cases are built from them by changing fields.
 */
#include "redis_cluster_bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_check.h"

/* Redis 7.0.15 (Debian 12), a primary with slots 0-5460: PING with 1 extension (hostname) (2488 bytes). */
static const char vec_r7_ping[] =
    "52 43 6d 62 00 00 09 b8 00 01 1b 5a 00 00 00 02 00*7 03 00*7 03 00*8 61 63 65 39 62 30 31 "
    "64 31 34 32 62 33 35 38 36 31 62 39 33 65 39 66 32 61 35 33 65 66 31 33 64 65 36 32 65 33 "
    "63 63 62 00*1365 f8 ff*682 00*87 01 00*32 42 6a 00 11 00 04 00 00 37 30 37 61 32 30 32 63 "
    "31 37 30 34 34 31 65 64 31 36 66 38 34 66 39 37 36 30 30 38 34 30 32 34 66 30 63 36 64 64 "
    "64 32 6b 0e ea 0a 6b 0e ea 09 31 32 37 2e 30 2e 30 2e 31 00*37 18 eb 3f fb 00 01 00 00 00 "
    "00 62 36 31 63 38 65 36 62 32 39 36 64 33 61 35 32 33 33 37 64 63 61 31 63 62 65 65 32 37 "
    "35 34 65 30 34 66 65 64 32 35 63 00 00 00 00 6b 0e ea 09 31 32 37 2e 30 2e 30 2e 31 00*37 "
    "1b 59 42 69 00 01 00*7 18 00 00 00 00 6e 6f 64 65 32 2e 65 78 61 6d 70 6c 65 00 00 00 ";

/* Redis 8.0.2 (Debian 13): PONG with hostname, human nodename, forgotten node, shard id, internal secret (2552 bytes). */
static const char vec_r8_pong_forgotten[] =
    "52 43 6d 62 00 00 09 f8 00 01 18 eb 00 01 00 01 00*7 05 00*7 05 00*7 2a 30 66 37 38 35 30 "
    "62 62 33 32 38 65 63 36 36 32 66 64 37 61 38 36 34 65 65 62 35 30 36 36 63 66 63 64 65 35 "
    "66 36 36 33 ff*682 1f 00*1452 05 00*32 3f fb 01 11 01 04 00 00 37 30 32 37 31 62 39 64 31 "
    "32 36 37 38 33 33 65 30 35 33 32 36 36 34 62 31 32 32 32 36 38 63 38 63 30 39 65 63 34 32 "
    "61 00 00 00 00 6b 0e ea 46 31 32 37 2e 30 2e 30 2e 31 00*37 1b 5b 42 6b 04 02 00*7 18 00 "
    "00 00 00 6e 6f 64 65 30 2e 65 78 61 6d 70 6c 65 00*6 10 00 01 00 00 68 75 6d 61 6e 30 00 "
    "00 00 00 00 38 00 02 00 00 66 63 66 39 62 33 37 38 63 35 34 34 34 31 30 63 38 65 35 35 38 "
    "37 30 64 66 38 30 65 38 63 65 31 65 33 66 65 62 63 62 39 00*7 3c 00 00 00 30 00 03 00 00 "
    "64 62 39 35 66 39 64 35 31 37 32 61 65 63 39 30 33 35 62 61 37 31 30 31 36 31 39 33 64 61 "
    "33 31 61 38 38 39 34 34 34 31 00 00 00 30 00 04 00 00 31 31 39 30 30 35 37 62 39 61 66 61 "
    "65 32 32 30 61 38 39 61 66 35 30 65 32 37 31 30 30 61 64 34 34 62 66 66 33 65 31 61 ";

/* Redis 7.0.15: UPDATE sent to a stale primary after it came back (4352 bytes). */
static const char vec_r7_update[] =
    "52 43 6d 62 00 00 11 00 00 01 18 eb 00 07 00*9 05 00*7 05 00*7 0e 37 30 37 61 32 30 32 63 "
    "31 37 30 34 34 31 65 64 31 36 66 38 34 66 39 37 36 30 30 38 34 30 32 34 66 30 63 36 64 64 "
    "64 32 ff*682 1f 00*1485 3f fb 00 11 00*11 05 37 30 37 61 32 30 32 63 31 37 30 34 34 31 65 "
    "64 31 36 66 38 34 66 39 37 36 30 30 38 34 30 32 34 66 30 63 36 64 64 64 32 ff*682 1f "
    "00*1365 ";

/* Redis 7.0.15: FAIL (2296 bytes). */
static const char vec_r7_fail[] =
    "52 43 6d 62 00 00 08 f8 00 01 1b 5a 00 03 00*9 04 00*7 03 00*8 61 63 65 39 62 30 31 64 31 "
    "34 32 62 33 35 38 36 31 62 39 33 65 39 66 32 61 35 33 65 66 31 33 64 65 36 32 65 33 63 63 "
    "62 00*1365 f8 ff*682 00*120 42 6a 00 11 00 00 00 00 39 36 65 61 30 66 32 31 33 65 33 38 66 "
    "31 37 33 37 35 35 65 31 34 32 36 62 30 38 35 38 62 61 30 38 62 31 30 63 66 39 64 ";

/* Redis 7.0.15: FAILOVER_AUTH_REQUEST from a replica (2256 bytes). */
static const char vec_r7_auth_req[] =
    "52 43 6d 62 00 00 08 d0 00 01 1b 5b 00 05 00*9 04 00*7 01 00*7 0e 39 36 65 61 30 66 32 31 "
    "33 65 33 38 66 31 37 33 37 35 35 65 31 34 32 36 62 30 38 35 38 62 61 30 38 62 31 30 63 66 "
    "39 64 ff*682 1f 00*1365 37 30 37 61 32 30 32 63 31 37 30 34 34 31 65 64 31 36 66 38 34 66 "
    "39 37 36 30 30 38 34 30 32 34 66 30 63 36 64 64 64 32 00*80 42 6b 00 12 00 02 00 00 ";

/* Redis 8.0.6 (Debian sid): PUBLISHSHARD (2285 bytes). */
static const char vec_r8_publishshard[] =
    "52 43 6d 62 00 00 08 ed 00 01 1b 5b 00 0a 00*9 03 00*7 01 00*8 38 64 38 35 61 32 38 65 31 "
    "30 65 34 36 64 61 62 31 61 37 66 31 30 37 32 37 65 30 33 33 66 38 39 38 61 33 63 63 38 64 "
    "66 ff*682 1f 00*1365 36 37 64 37 65 30 36 62 38 63 63 30 34 35 62 61 61 36 63 64 39 30 61 "
    "39 66 64 37 66 37 35 65 66 63 63 61 63 39 31 39 36 00*80 42 6b 00 12 00 04 00 00 00 00 00 "
    "01 00 00 00 14 62 73 68 61 72 64 2d 62 2d 66 72 6f 6d 2d 72 65 70 6c 69 63 61 ";

/* Valkey 8.1.1 (Debian 13): PUBLISH with the light header (39 bytes). */
static const char vec_v8_publish_light[] =
    "52 43 6d 62 00 00 00 27 00 01 00 00 80 04 00 00 00 00 00 04 00 00 00 0b 63 68 61 6e 68 65 "
    "6c 6c 6f 2d 77 6f 72 6c 64 ";

/* Valkey 9.1.2 (Debian sid): PING with client IPv4/IPv6/port and availability-zone extensions (2520 bytes). */
static const char vec_v9_ping_client[] =
    "52 43 6d 62 00 00 09 d8 00 01 1b 5a 00 00 00 01 00*7 03 00*7 03 00*8 32 30 38 35 34 61 38 "
    "65 39 36 34 30 31 34 37 66 62 37 37 32 64 36 61 35 61 32 61 31 61 62 64 61 30 32 61 36 30 "
    "37 39 62 00*1365 f8 ff*682 00*87 07 00*32 42 6a 1c 11 00 04 00 00 32 36 33 31 62 62 39 66 "
    "62 64 33 66 64 61 30 63 64 62 63 37 66 38 33 36 62 39 63 36 30 34 62 61 62 65 38 37 35 65 "
    "61 35 00 00 00 00 6b 0e ea 95 31 32 37 2e 30 2e 30 2e 31 00*37 1b 59 42 69 1c 01 00*7 18 "
    "00 00 00 00 6e 6f 64 65 32 2e 65 78 61 6d 70 6c 65 00*6 10 00 01 00 00 68 75 6d 61 6e 32 "
    "00 00 00 00 00 18 00 04 00 00 31 32 37 2e 30 2e 30 2e 33 00*10 10 00 05 00 00 3a 3a 33 "
    "00*8 10 00 06 00 00 1f 42 00*9 10 00 08 00 00 7a 6f 6e 65 2d 32 00 00 00 00 00 30 00 03 00 "
    "00 63 66 36 63 33 33 64 66 39 62 66 39 32 30 33 35 65 30 38 64 37 30 31 64 65 39 30 34 36 "
    "61 65 65 33 62 66 36 39 65 64 65 ";

/* Decodes a vector into a fresh heap block of exactly its length (so ASan sees overreads). */
static uint8_t *vec(const char *text, size_t *len)
{
    size_t cap = 8192, n = 0;
    uint8_t *buf = malloc(cap);
    const char *s = text;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        unsigned v, rep = 1;
        int used = 0;
        if (sscanf(s, "%2x%n", &v, &used) != 1)
            abort();
        s += used;
        if (*s == '*') {
            s++;
            if (sscanf(s, "%u%n", &rep, &used) != 1)
                abort();
            s += used;
        }
        while (rep--) {
            if (n == cap)
                abort();
            buf[n++] = (uint8_t)v;
        }
    }
    uint8_t *out = malloc(n ? n : 1);
    memcpy(out, buf, n);
    free(buf);
    *len = n;
    return out;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static bool name_is(const uint8_t *p, const char *prefix)
{
    return memcmp(p, prefix, strlen(prefix)) == 0;
}

static void test_redis7_ping(void)
{
    size_t n;
    uint8_t *b = vec(vec_r7_ping, &n);
    rcb_msg_t m;
    uint32_t tl = 0;
    CHECK(rcb_probe(b, n, 1u << 20, &tl) == RCB_PROBE_YES && tl == n);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE);
    CHECK(m.type == RCB_TYPE_PING && !m.light && m.known_type && m.version == 1);
    CHECK(m.port == 7002 && m.cport == 17002 && m.pport == 0);
    CHECK(m.current_epoch == 3 && m.config_epoch == 3 && m.repl_offset == 0);
    CHECK(m.flags == (RCB_NODE_PRIMARY | RCB_NODE_MYSELF) && m.state == 0);
    CHECK(m.mflags[0] == RCB_MFLAG0_EXT_DATA && !m.has_replicaof);
    CHECK(name_is(b + RCB_OFF_SENDER, "ace9b01d142b"));
    CHECK(m.slot_count == 5461);
    unsigned first = 0, last = 0;
    CHECK(rcb_slot_range_next(b + RCB_OFF_MYSLOTS, 0, &first, &last) && first == 10923 && last == 16383);
    CHECK(!rcb_slot_range_next(b + RCB_OFF_MYSLOTS, last + 1, &first, &last));
    CHECK(m.count == 2 && m.gossip_off == RCB_HDR_LEN);
    size_t g1 = rcb_gossip_offset(&m, 1);
    CHECK(g1 == RCB_HDR_LEN + RCB_GOSSIP_LEN && name_is(b + g1, "b61c8e6b"));
    CHECK(rcb_get16(b + g1 + RCB_GOFF_PORT) == 7001 && rcb_get16(b + g1 + RCB_GOFF_CPORT) == 17001);
    CHECK(rcb_get32(b + g1 + RCB_GOFF_PING_SENT) == 0 && rcb_get32(b + g1 + RCB_GOFF_PONG_RECEIVED) == 1796139529u);
    CHECK(rcb_gossip_offset(&m, 2) == 0);
    CHECK(m.extensions == 1 && m.ext_seen == 1);
    rcb_ext_t e;
    CHECK(rcb_ext_get(b, &m, 0, &e) && e.type == RCB_EXT_HOSTNAME && e.length == 24);
    bool term = false;
    size_t tlen = rcb_ext_text_len(b, &e, &term);
    CHECK(term && tlen == 13 && memcmp(b + e.data_off, "node2.example", 13) == 0);
    CHECK(!rcb_ext_get(b, &m, 1, &e));
    CHECK(e.off + e.length == n && m.trailing_len == 0);
    /* Redis 7.0 sends nothing that tells it from Valkey. */
    CHECK(rcb_guess_flavor(b, &m) == RCB_FLAVOR_UNKNOWN);

    /* Prefixes: the probe wants more, the parse says cut short. */
    CHECK(rcb_probe(b, 3, 1u << 20, NULL) == RCB_PROBE_MORE);
    CHECK(rcb_probe(b, 10, 1u << 20, &tl) == RCB_PROBE_YES);
    CHECK(rcb_parse(b, n - 1, &m) == RCB_ERR_SHORT);
    CHECK(rcb_parse(b, 100, &m) == RCB_ERR_SHORT && m.gossip_off == 0);
    CHECK(rcb_probe(b, n, 1000, NULL) == RCB_PROBE_NO); /* above max_len */

    /* Hostile counts and lengths on a copy of the real message. */
    uint8_t *h = malloc(n);
    memcpy(h, b, n);
    put16(h + RCB_OFF_COUNT, 0xffff);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_GOSSIP_COUNT && m.gossip_off == 0 && m.ext_seen == 0);
    CHECK(rcb_gossip_offset(&m, 0) == 0);
    memcpy(h, b, n);
    put16(h + RCB_OFF_COUNT, 3); /* the third entry would overlap the extension and run out */
    CHECK(rcb_parse(h, n, &m) != RCB_ERR_NONE);
    memcpy(h, b, n);
    size_t ext_at = RCB_HDR_LEN + 2 * RCB_GOSSIP_LEN;
    put32(h + ext_at, 4096);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_EXT_TRUNCATED && m.err_off == ext_at && m.ext_seen == 0);
    put32(h + ext_at, 12);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_EXT_LENGTH);
    put32(h + ext_at, 0); /* would never advance */
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_EXT_LENGTH);
    memcpy(h, b, n);
    put16(h + RCB_OFF_EXTENSIONS, 2); /* one more than there is room for */
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_EXT_TRUNCATED && m.ext_seen == 1);
    put16(h + RCB_OFF_EXTENSIONS, 0xffff);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_EXT_TRUNCATED && m.ext_seen == 1);
    memcpy(h, b, n);
    h[RCB_OFF_MFLAGS] = 0; /* without the flag a server reads no extension: 24 bytes too many */
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_LENGTH_MISMATCH && m.trailing_len == 24 && m.ext_seen == 0);
    memcpy(h, b, n);
    put16(h + RCB_OFF_VER, 2);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_VERSION && m.count == 2);
    CHECK(rcb_probe(h, n, 1u << 20, NULL) == RCB_PROBE_NO);
    CHECK(rcb_probe_ex(h, n, 1u << 20, false, &tl) == RCB_PROBE_YES && tl == n);
    memcpy(h, b, n);
    put16(h + RCB_OFF_TYPE, 42);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_NONE && !m.known_type && m.trailing_off == RCB_HDR_LEN &&
          m.trailing_len == n - RCB_HDR_LEN);
    CHECK(rcb_probe(h, n, 1u << 20, NULL) == RCB_PROBE_NO);
    put16(h + RCB_OFF_TYPE, RCB_LIGHT_FLAG | RCB_TYPE_PING);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_LIGHT_TYPE && m.light);
    CHECK(rcb_probe(h, n, 1u << 20, NULL) == RCB_PROBE_NO);
    memcpy(h, b, n);
    put32(h + RCB_OFF_TOTLEN, 8);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_TOTLEN);
    CHECK(rcb_probe(h, n, 1u << 20, NULL) == RCB_PROBE_NO);
    put32(h + RCB_OFF_TOTLEN, 0xffffffffu);
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_SHORT);
    CHECK(rcb_probe(h, n, 0xffffffffu, &tl) == RCB_PROBE_YES && tl == 0xffffffffu);
    put32(h + RCB_OFF_TOTLEN, 100); /* below the full header */
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_TOTLEN && m.body_off == 0);
    CHECK(rcb_probe(h, n, 1u << 20, NULL) == RCB_PROBE_NO);
    put32(h + RCB_OFF_TOTLEN, (uint32_t)n - 8); /* shorter than the buffer */
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_TOTLEN);
    memcpy(h, b, n);
    h[0] = 'X';
    CHECK(rcb_parse(h, n, &m) == RCB_ERR_SIGNATURE);
    CHECK(rcb_probe(h, n, 1u << 20, NULL) == RCB_PROBE_NO);
    free(h);
    free(b);
}

static void test_redis8_pong(void)
{
    size_t n;
    uint8_t *b = vec(vec_r8_pong_forgotten, &n);
    rcb_msg_t m;
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE);
    CHECK(m.type == RCB_TYPE_PONG && m.count == 1 && m.extensions == 5 && m.ext_seen == 5);
    CHECK(m.state == 1 && m.repl_offset == 42 && m.current_epoch == 5);
    CHECK(m.flags == (RCB_NODE_PRIMARY | RCB_NODE_MYSELF | RCB_NODE_MIGRATE_TO));
    unsigned first, last;
    CHECK(rcb_slot_range_next(b + RCB_OFF_MYSLOTS, 0, &first, &last) && first == 0 && last == 5460);
    static const uint16_t want[5] = {0, 1, 2, 3, 4};
    rcb_ext_t e;
    int ok = 1;
    for (unsigned i = 0; i < 5; i++)
        ok &= rcb_ext_get(b, &m, i, &e) && e.type == want[i];
    CHECK(ok);
    CHECK(rcb_ext_get(b, &m, 2, &e) && e.data_len == 48 && name_is(b + e.data_off, "fcf9b378") &&
          rcb_get64(b + e.data_off + RCB_NAMELEN) == 60);
    CHECK(rcb_ext_get(b, &m, 4, &e) && e.data_len == 40 &&
          rcb_ext_type4_kind(b, &e, RCB_FLAVOR_UNKNOWN) == RCB_EXT4_INTERNAL_SECRET);
    CHECK(rcb_ext_type4_kind(b, &e, RCB_FLAVOR_VALKEY) == RCB_EXT4_CLIENT_IPV4);
    CHECK(rcb_guess_flavor(b, &m) == RCB_FLAVOR_REDIS);
    CHECK(strcmp(rcb_ext_type_name(4, RCB_FLAVOR_REDIS), "internal secret") == 0);
    CHECK(rcb_get16(b + RCB_HDR_LEN + RCB_GOFF_FLAGS) == (RCB_NODE_REPLICA | RCB_NODE_EXTENSIONS));
    free(b);
}

static void test_valkey9_ping(void)
{
    size_t n;
    uint8_t *b = vec(vec_v9_ping_client, &n);
    rcb_msg_t m;
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && m.ext_seen == 7);
    CHECK(m.flags & RCB_NODE_LIGHT_PUBLISH && m.flags & RCB_NODE_LIGHT_MODULE);
    CHECK(rcb_guess_flavor(b, &m) == RCB_FLAVOR_VALKEY);
    rcb_ext_t e;
    bool term;
    CHECK(rcb_ext_get(b, &m, 2, &e) && e.type == RCB_EXT_TYPE4 &&
          rcb_ext_type4_kind(b, &e, RCB_FLAVOR_UNKNOWN) == RCB_EXT4_CLIENT_IPV4 &&
          rcb_ext_text_len(b, &e, &term) == 9 && term && memcmp(b + e.data_off, "127.0.0.3", 9) == 0);
    CHECK(rcb_ext_type4_kind(b, &e, RCB_FLAVOR_REDIS) == RCB_EXT4_INTERNAL_SECRET);
    CHECK(rcb_ext_get(b, &m, 4, &e) && e.type == RCB_EXT_CLIENT_PORT && rcb_get16(b + e.data_off) == 8002);
    CHECK(rcb_ext_get(b, &m, 5, &e) && e.type == RCB_EXT_AVAILABILITY_ZONE &&
          rcb_ext_text_len(b, &e, NULL) == 6);
    CHECK(rcb_ext_get(b, &m, 6, &e) && e.type == RCB_EXT_SHARD_ID && e.data_len == 40);
    /* Unterminated text: the whole payload, flagged. */
    CHECK(rcb_ext_get(b, &m, 0, &e));
    memset(b + e.data_off, 'x', e.data_len);
    CHECK(rcb_ext_text_len(b, &e, &term) == e.data_len && !term);
    /* Without the Valkey-only flags, extension types above 4 still tell. */
    put16(b + RCB_OFF_FLAGS, RCB_NODE_PRIMARY);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && rcb_guess_flavor(b, &m) == RCB_FLAVOR_VALKEY);
    free(b);
}

static void test_other_types(void)
{
    size_t n;
    rcb_msg_t m;
    unsigned first, last;
    uint8_t *b = vec(vec_r7_update, &n);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && m.type == RCB_TYPE_UPDATE && n == 4352);
    CHECK(m.update_config_epoch == 5 && name_is(b + m.update_node_off, "707a202c") && m.update_slot_count == 5461);
    CHECK(rcb_slot_range_next(b + m.update_slots_off, 0, &first, &last) && first == 0 && last == 5460);
    CHECK(rcb_parse(b, n - 1, &m) == RCB_ERR_SHORT);
    put32(b + RCB_OFF_TOTLEN, (uint32_t)n - 1);
    CHECK(rcb_parse(b, n - 1, &m) == RCB_ERR_LENGTH_MISMATCH && m.update_node_off == 0);
    free(b);

    b = vec(vec_r7_fail, &n);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && m.type == RCB_TYPE_FAIL &&
          name_is(b + m.fail_node_off, "96ea0f213e38"));
    free(b);

    b = vec(vec_r7_auth_req, &n);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && m.type == RCB_TYPE_FAILOVER_AUTH_REQUEST && n == RCB_HDR_LEN);
    CHECK(m.has_replicaof && m.flags == (RCB_NODE_REPLICA | RCB_NODE_MYSELF) && m.mflags[0] == RCB_MFLAG0_FORCEACK);
    uint8_t *h = malloc(n + 3);
    memcpy(h, b, n);
    memset(h + n, 0, 3);
    put32(h + RCB_OFF_TOTLEN, (uint32_t)n + 3);
    CHECK(rcb_parse(h, n + 3, &m) == RCB_ERR_LENGTH_MISMATCH && m.trailing_off == n && m.trailing_len == 3);
    put16(h + RCB_OFF_TYPE, RCB_TYPE_FAIL); /* a FAIL needs 40 bytes of body */
    CHECK(rcb_parse(h, n + 3, &m) == RCB_ERR_LENGTH_MISMATCH && m.fail_node_off == 0);
    free(h);
    free(b);

    b = vec(vec_r8_publishshard, &n);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && m.type == RCB_TYPE_PUBLISHSHARD);
    CHECK(m.channel_len == 1 && b[m.channel_off] == 'b' && m.message_len == 20 &&
          memcmp(b + m.message_off, "shard-b-from-replica", 20) == 0);
    put32(b + RCB_HDR_LEN, 0xfffffff0u);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_PUBLISH_LENGTH && m.channel_off == 0);
    put32(b + RCB_HDR_LEN, 1);
    put32(b + RCB_HDR_LEN + 4, 0xffffffffu); /* channel + message would wrap a 32-bit sum */
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_PUBLISH_LENGTH && m.err_off == RCB_HDR_LEN + 4);
    free(b);

    b = vec(vec_v8_publish_light, &n);
    uint32_t tl;
    CHECK(rcb_probe(b, n, 1u << 20, &tl) == RCB_PROBE_YES && tl == 39);
    CHECK(rcb_parse(b, n, &m) == RCB_ERR_NONE && m.light && m.type == RCB_TYPE_PUBLISH && m.type_raw == 0x8004);
    CHECK(m.body_off == RCB_LIGHT_HDR_LEN && m.channel_len == 4 && memcmp(b + m.channel_off, "chan", 4) == 0 &&
          m.message_len == 11 && memcmp(b + m.message_off, "hello-world", 11) == 0);
    CHECK(m.port == 0 && m.count == 0 && m.slot_count == 0);
    CHECK(rcb_guess_flavor(b, &m) == RCB_FLAVOR_VALKEY);
    free(b);
}

/* MODULE messages need a module loaded; these are built by hand after the layout. */
static void test_module(void)
{
    uint8_t full[RCB_HDR_LEN + 13 + 5];
    memset(full, 0, sizeof full);
    memcpy(full, "RCmb", 4);
    put32(full + RCB_OFF_TOTLEN, sizeof full);
    put16(full + RCB_OFF_VER, 1);
    put16(full + RCB_OFF_TYPE, RCB_TYPE_MODULE);
    put32(full + RCB_HDR_LEN, 0x01020304);
    put32(full + RCB_HDR_LEN + 4, 0x05060708);
    put32(full + RCB_HDR_LEN + 8, 5);
    full[RCB_HDR_LEN + 12] = 7;
    memcpy(full + RCB_HDR_LEN + 13, "hello", 5);
    rcb_msg_t m;
    CHECK(rcb_parse(full, sizeof full, &m) == RCB_ERR_NONE && m.module_id == 0x0102030405060708ull &&
          m.module_type == 7 && m.module_len == 5 && m.module_off == RCB_HDR_LEN + 13);
    put32(full + RCB_HDR_LEN + 8, 6);
    CHECK(rcb_parse(full, sizeof full, &m) == RCB_ERR_MODULE_LENGTH && m.module_off == 0);
    put32(full + RCB_HDR_LEN + 8, 0xffffffffu);
    CHECK(rcb_parse(full, sizeof full, &m) == RCB_ERR_MODULE_LENGTH);

    uint8_t light[RCB_LIGHT_HDR_LEN + 13];
    memset(light, 0, sizeof light);
    memcpy(light, "RCmb", 4);
    put32(light + RCB_OFF_TOTLEN, sizeof light);
    put16(light + RCB_OFF_VER, 1);
    put16(light + RCB_OFF_TYPE, RCB_LIGHT_FLAG | RCB_TYPE_MODULE);
    CHECK(rcb_parse(light, sizeof light, &m) == RCB_ERR_NONE && m.light && m.module_len == 0);
    CHECK(rcb_probe(light, sizeof light, 1u << 20, NULL) == RCB_PROBE_YES);
    put32(light + RCB_OFF_TOTLEN, sizeof light - 1);
    CHECK(rcb_parse(light, sizeof light - 1, &m) == RCB_ERR_LENGTH_MISMATCH);
    CHECK(rcb_probe(light, sizeof light, 1u << 20, NULL) == RCB_PROBE_NO); /* below its type's minimum */
    /* Too short to hold even the light header's type. */
    CHECK(rcb_parse(light, 12, &m) == RCB_ERR_SHORT);
    CHECK(rcb_parse(light, 4, &m) == RCB_ERR_SHORT);
    CHECK(rcb_parse(NULL, 0, &m) == RCB_ERR_SHORT);
    CHECK(rcb_probe(NULL, 0, 100, NULL) == RCB_PROBE_NO);
    CHECK(rcb_probe((const uint8_t *)"RCmX", 4, 100, NULL) == RCB_PROBE_NO);
    CHECK(rcb_probe((const uint8_t *)"", 0, 100, NULL) == RCB_PROBE_MORE);
}

static void test_helpers(void)
{
    uint8_t bm[RCB_SLOTS_BYTES];
    unsigned first, last;
    memset(bm, 0, sizeof bm);
    CHECK(!rcb_slot_range_next(bm, 0, &first, &last) && rcb_slot_count(bm) == 0);
    bm[RCB_SLOTS_BYTES - 1] = 0x80; /* slot 16383 */
    CHECK(rcb_slot_range_next(bm, 0, &first, &last) && first == 16383 && last == 16383);
    CHECK(!rcb_slot_range_next(bm, 16384, &first, &last));
    memset(bm, 0x55, sizeof bm); /* every even slot: 8192 one-slot ranges */
    unsigned ranges = 0, from = 0, ok = 1;
    while (rcb_slot_range_next(bm, from, &first, &last)) {
        ok &= first == last && first % 2 == 0;
        ranges++;
        from = last + 1;
    }
    CHECK(ok && ranges == 8192 && rcb_slot_count(bm) == 8192);
    memset(bm, 0xff, sizeof bm);
    CHECK(rcb_slot_range_next(bm, 0, &first, &last) && first == 0 && last == 16383 && rcb_slot_count(bm) == 16384);
    CHECK(rcb_slot_range_next(bm, 5, &first, &last) && first == 5 && last == 16383);
    memset(bm, 0, sizeof bm);
    bm[0] = 0xf0;
    bm[1] = 0xff;
    bm[2] = 0x01; /* slots 4-16 */
    CHECK(rcb_slot_range_next(bm, 0, &first, &last) && first == 4 && last == 16);

    uint8_t name[RCB_NAMELEN] = {0};
    CHECK(rcb_name_is_null(name));
    name[39] = '1';
    CHECK(!rcb_name_is_null(name));

    CHECK(strcmp(rcb_type_name(RCB_TYPE_PUBLISHSHARD), "PUBLISHSHARD") == 0 && rcb_type_name(11) == NULL);
    CHECK(strcmp(rcb_type_name(RCB_TYPE_FAILOVER_AUTH_ACK), "FAILOVER_AUTH_ACK") == 0);
    CHECK(strcmp(rcb_ext_type_name(4, RCB_FLAVOR_VALKEY), "client IPv4") == 0 && rcb_ext_type_name(9, RCB_FLAVOR_VALKEY) == NULL);
    CHECK(strcmp(rcb_ext_type_name(2, RCB_FLAVOR_UNKNOWN), "forgotten node") == 0);
    int all = 1;
    for (int e = RCB_ERR_NONE; e < RCB_ERR_COUNT_; e++)
        all &= rcb_err_string((rcb_err_t)e) != NULL && strcmp(rcb_err_string((rcb_err_t)e), "unknown error") != 0;
    CHECK(all);
    const uint8_t num[8] = {0x80, 1, 2, 3, 4, 5, 6, 0xff};
    CHECK(rcb_get16(num) == 0x8001 && rcb_get32(num) == 0x80010203u && rcb_get64(num) == 0x80010203040506ffull);
}

int main(void)
{
    test_redis7_ping();
    test_redis8_pong();
    test_valkey9_ping();
    test_other_types();
    test_module();
    test_helpers();
    return unit_summary();
}
