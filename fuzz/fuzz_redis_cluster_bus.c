/* fuzz_redis_cluster_bus.c — libFuzzer harness for core/redis_cluster_bus.c.
 *
 * Input: bytes of one direction of a cluster bus connection (one or more messages).
 * The stream is cut by rcb_probe_ex() as the dissector cuts it; each message (and the
 * input as a whole, as one message) is parsed and checked:
 * - every offset and length the parse reports lies inside the bytes given, parts come in
 *   order and do not overlap; a valid message of a known type is covered exactly;
 * - extensions walked by index have lengths >= 8, multiples of 8, inside the extension area,
 *   and add up to it; text lengths stay inside their payload;
 * - slot ranges are ascending, disjoint and add up to the slot count;
 * - a valid message's strict probe agrees (YES with its length) when its version is 1;
 *   every shorter prefix of it is not valid.
 * A failed check calls abort().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "redis_cluster_bus.h"

#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)      \
    do {                \
        if (!(c))       \
            abort();    \
    } while (0)

static void check_slots(const uint8_t *bitmap, unsigned count)
{
    unsigned from = 0, first, last, total = 0;
    int prev_last = -1;
    while (rcb_slot_range_next(bitmap, from, &first, &last)) {
        REQUIRE(first <= last && last < RCB_SLOTS);
        REQUIRE((int)first > prev_last);
        /* ranges are maximal: the slot before one is clear */
        if (first > 0)
            REQUIRE(!((bitmap[(first - 1) >> 3] >> ((first - 1) & 7)) & 1));
        total += last - first + 1;
        prev_last = (int)last;
        from = last + 1;
    }
    REQUIRE(total == count);
}

static void check_in(size_t off, size_t len, size_t n)
{
    REQUIRE(off <= n && len <= n - off);
}

static void check_message(const uint8_t *buf, size_t n)
{
    rcb_msg_t m;
    rcb_err_t err = rcb_parse(buf, n, &m);
    REQUIRE(err == m.err && (int)err >= 0 && err < RCB_ERR_COUNT_);
    REQUIRE(rcb_err_string(err) != NULL);
    if (err != RCB_ERR_NONE)
        REQUIRE(m.err_off <= n);
    if (m.body_off)
        REQUIRE(m.body_off == (m.light ? RCB_LIGHT_HDR_LEN : RCB_HDR_LEN) && m.body_off <= n);
    if (m.body_off == RCB_HDR_LEN) {
        check_slots(buf + RCB_OFF_MYSLOTS, m.slot_count);
        REQUIRE(m.has_replicaof == !rcb_name_is_null(buf + RCB_OFF_REPLICAOF));
    }

    size_t end = m.body_off; /* where the parts defined so far end */
    if (m.gossip_off) {
        REQUIRE(m.gossip_off == m.body_off);
        check_in(m.gossip_off, (size_t)m.count * RCB_GOSSIP_LEN, n);
        for (unsigned i = 0; i < m.count; i++)
            REQUIRE(rcb_gossip_offset(&m, i) == m.gossip_off + (size_t)i * RCB_GOSSIP_LEN);
        REQUIRE(rcb_gossip_offset(&m, m.count) == 0);
        end = m.gossip_off + (size_t)m.count * RCB_GOSSIP_LEN;
    } else {
        REQUIRE(rcb_gossip_offset(&m, 0) == 0);
    }
    if (m.ext_off) {
        REQUIRE(m.ext_off == end);
        check_in(m.ext_off, m.ext_len, n);
        REQUIRE(m.ext_seen <= m.extensions);
        size_t at = m.ext_off;
        rcb_ext_t e;
        unsigned i = 0;
        for (; rcb_ext_get(buf, &m, i, &e); i++) {
            REQUIRE(e.off == at && e.length >= RCB_EXT_HDR_LEN && e.length % 8 == 0);
            REQUIRE(e.data_off == e.off + RCB_EXT_HDR_LEN && e.data_len == e.length - RCB_EXT_HDR_LEN);
            check_in(e.off, e.length, m.ext_off + m.ext_len);
            bool term;
            size_t tl = rcb_ext_text_len(buf, &e, &term);
            REQUIRE(tl <= e.data_len && (!term || tl < e.data_len));
            rcb_ext4_kind_t k = rcb_ext_type4_kind(buf, &e, RCB_FLAVOR_UNKNOWN);
            REQUIRE(k == RCB_EXT4_INTERNAL_SECRET || k == RCB_EXT4_CLIENT_IPV4);
            if (k == RCB_EXT4_INTERNAL_SECRET)
                REQUIRE(e.data_len == RCB_NAMELEN);
            at += e.length;
        }
        REQUIRE(i == m.ext_seen && at == m.ext_off + m.ext_len);
        end = at;
    } else {
        REQUIRE(m.ext_seen == 0 && m.ext_len == 0);
    }
    if (m.channel_off) {
        REQUIRE(m.channel_off == m.body_off + 8 && m.message_off == m.channel_off + m.channel_len);
        check_in(m.message_off, m.message_len, n);
        end = m.message_off + m.message_len;
    }
    if (m.fail_node_off) {
        check_in(m.fail_node_off, RCB_NAMELEN, n);
        end = m.fail_node_off + RCB_NAMELEN;
    }
    if (m.update_node_off) {
        check_in(m.update_slots_off, RCB_SLOTS_BYTES, n);
        check_slots(buf + m.update_slots_off, m.update_slot_count);
        end = m.update_slots_off + RCB_SLOTS_BYTES;
    }
    if (m.module_off) {
        REQUIRE(m.module_off == m.body_off + 13);
        check_in(m.module_off, m.module_len, n);
        end = m.module_off + m.module_len;
    }
    if (m.trailing_len) {
        check_in(m.trailing_off, m.trailing_len, n);
        REQUIRE(m.trailing_off >= end || !m.known_type || m.err == RCB_ERR_LIGHT_TYPE);
    }
    (void)rcb_guess_flavor(buf, &m);

    if (err == RCB_ERR_NONE) {
        REQUIRE(m.totlen == n && m.version == RCB_VERSION);
        if (m.known_type)
            REQUIRE(end == n && m.trailing_len == 0);
        else
            REQUIRE(m.trailing_off == m.body_off && m.trailing_off + m.trailing_len == n);
        uint32_t tl = 0;
        rcb_probe_t pr = rcb_probe(buf, n, 0xffffffffu, &tl);
        if (m.known_type)
            REQUIRE(pr == RCB_PROBE_YES && tl == n);
        else
            REQUIRE(pr == RCB_PROBE_NO);
        REQUIRE(rcb_probe_ex(buf, n, 0xffffffffu, false, &tl) == RCB_PROBE_YES && tl == n);
        /* No prefix of a valid message is valid (a few cut points, always the last byte). */
        size_t cuts[4] = {n - 1, n / 2, RCB_LIGHT_HDR_LEN, n > RCB_HDR_LEN ? RCB_HDR_LEN : n - 1};
        for (int c = 0; c < 4; c++) {
            if (cuts[c] < n) {
                rcb_msg_t p;
                REQUIRE(rcb_parse(buf, cuts[c], &p) != RCB_ERR_NONE);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Each message in its own block of exactly its length, so overreads are caught. */
    size_t off = 0;
    unsigned messages = 0;
    while (off < size && messages < 64) {
        uint32_t totlen = 0;
        rcb_probe_t pr = rcb_probe_ex(data + off, size - off, 1u << 24, false, &totlen);
        if (pr != RCB_PROBE_YES)
            break;
        size_t len = totlen <= size - off ? totlen : size - off;
        uint8_t *copy = malloc(len);
        if (!copy)
            return 0;
        memcpy(copy, data + off, len);
        check_message(copy, len);
        free(copy);
        off += len;
        messages++;
    }
    if (off != size || messages != 1) {
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        check_message(copy, size);
        free(copy);
    }
    return 0;
}
