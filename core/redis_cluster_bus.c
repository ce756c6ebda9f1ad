/* redis_cluster_bus.c — framing and validation of Redis / Valkey Cluster bus messages.
 *
 * The checks follow what a server does before it acts on a message (a message it would
 * drop is reported with the reason), plus a few a server does not make because it trusts
 * its peers (extension lengths below their own header).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "redis_cluster_bus.h"

#include <string.h>

uint16_t rcb_get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t rcb_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t rcb_get64(const uint8_t *p)
{
    return (uint64_t)rcb_get32(p) << 32 | rcb_get32(p + 4);
}

static bool light_allowed(uint16_t type)
{
    return type == RCB_TYPE_PUBLISH || type == RCB_TYPE_PUBLISHSHARD || type == RCB_TYPE_MODULE;
}

/* The smallest totlen a message of this type can have (its header and fixed body part). */
static uint32_t min_len(uint16_t type, bool light)
{
    uint32_t hdr = light ? RCB_LIGHT_HDR_LEN : RCB_HDR_LEN;
    switch (type) {
    case RCB_TYPE_FAIL:
        return hdr + RCB_NAMELEN;
    case RCB_TYPE_PUBLISH:
    case RCB_TYPE_PUBLISHSHARD:
        return hdr + 8;
    case RCB_TYPE_UPDATE:
        return hdr + 8 + RCB_NAMELEN + RCB_SLOTS_BYTES;
    case RCB_TYPE_MODULE:
        return hdr + 13;
    default:
        return hdr;
    }
}

rcb_probe_t rcb_probe(const uint8_t *buf, size_t len, uint32_t max_len, uint32_t *totlen)
{
    return rcb_probe_ex(buf, len, max_len, true, totlen);
}

rcb_probe_t rcb_probe_ex(const uint8_t *buf, size_t len, uint32_t max_len, bool strict, uint32_t *totlen)
{
    if (buf == NULL)
        return RCB_PROBE_NO;
    size_t sig = len < 4 ? len : 4;
    if (memcmp(buf, RCB_SIGNATURE, sig) != 0)
        return RCB_PROBE_NO;
    if (len < 8)
        return RCB_PROBE_MORE;
    uint32_t tl = rcb_get32(buf + RCB_OFF_TOTLEN);
    if (tl < RCB_MIN_LEN || tl > max_len)
        return RCB_PROBE_NO;
    if (strict) {
        if (len >= 10 && rcb_get16(buf + RCB_OFF_VER) != RCB_VERSION)
            return RCB_PROBE_NO;
        if (len >= 14) {
            uint16_t raw = rcb_get16(buf + RCB_OFF_TYPE);
            bool light = (raw & RCB_LIGHT_FLAG) != 0;
            uint16_t type = raw & (uint16_t)~RCB_LIGHT_FLAG;
            if (type >= RCB_TYPE_COUNT || (light && !light_allowed(type)))
                return RCB_PROBE_NO;
            if (tl < min_len(type, light))
                return RCB_PROBE_NO;
        } else if (tl < RCB_LIGHT_HDR_LEN + 8) {
            return RCB_PROBE_NO; /* no message of any type is that short */
        }
    }
    if (totlen)
        *totlen = tl;
    return RCB_PROBE_YES;
}

bool rcb_name_is_null(const uint8_t *name)
{
    for (unsigned i = 0; i < RCB_NAMELEN; i++)
        if (name[i])
            return false;
    return true;
}

unsigned rcb_slot_count(const uint8_t *bitmap)
{
    unsigned n = 0;
    for (unsigned i = 0; i < RCB_SLOTS_BYTES; i++) {
        unsigned b = bitmap[i];
        while (b) {
            b &= b - 1;
            n++;
        }
    }
    return n;
}

static bool slot_set(const uint8_t *bitmap, unsigned s)
{
    return (bitmap[s >> 3] >> (s & 7)) & 1;
}

bool rcb_slot_range_next(const uint8_t *bitmap, unsigned from, unsigned *first, unsigned *last)
{
    unsigned s = from;
    /* skip clear slots, a byte at a time where possible */
    while (s < RCB_SLOTS && !slot_set(bitmap, s)) {
        if ((s & 7) == 0 && bitmap[s >> 3] == 0)
            s += 8;
        else
            s++;
    }
    if (s >= RCB_SLOTS)
        return false;
    unsigned e = s;
    while (e + 1 < RCB_SLOTS && slot_set(bitmap, e + 1)) {
        if (((e + 1) & 7) == 0 && bitmap[(e + 1) >> 3] == 0xff)
            e += 8;
        else
            e++;
    }
    *first = s;
    *last = e;
    return true;
}

static void fail(rcb_msg_t *m, rcb_err_t err, size_t off)
{
    if (m->err == RCB_ERR_NONE) {
        m->err = err;
        m->err_off = off;
    }
}

/* Walks the extensions of a PING/PONG/MEET from pos; returns where they end. */
static size_t walk_extensions(const uint8_t *buf, size_t n, size_t pos, rcb_msg_t *m)
{
    m->ext_off = pos;
    for (unsigned i = 0; i < m->extensions; i++) {
        if (n - pos < RCB_EXT_HDR_LEN) {
            fail(m, RCB_ERR_EXT_TRUNCATED, pos);
            break;
        }
        uint32_t elen = rcb_get32(buf + pos);
        if (elen < RCB_EXT_HDR_LEN || elen % 8 != 0) {
            fail(m, RCB_ERR_EXT_LENGTH, pos);
            break;
        }
        if (elen > n - pos) {
            fail(m, RCB_ERR_EXT_TRUNCATED, pos);
            break;
        }
        pos += elen;
        m->ext_seen++;
    }
    m->ext_len = pos - m->ext_off;
    return pos;
}

rcb_err_t rcb_parse(const uint8_t *buf, size_t len, rcb_msg_t *m)
{
    memset(m, 0, sizeof *m);
    if (buf == NULL || len < 8) {
        fail(m, RCB_ERR_SHORT, 0);
        return m->err;
    }
    if (memcmp(buf, RCB_SIGNATURE, 4) != 0) {
        fail(m, RCB_ERR_SIGNATURE, 0);
        return m->err;
    }
    m->totlen = rcb_get32(buf + RCB_OFF_TOTLEN);
    if (m->totlen < RCB_MIN_LEN) {
        fail(m, RCB_ERR_TOTLEN, RCB_OFF_TOTLEN);
        return m->err;
    }
    if (len < RCB_LIGHT_HDR_LEN) {
        fail(m, RCB_ERR_SHORT, len);
        return m->err;
    }
    /* Only the message's own bytes count; a shorter buffer is a cut message. */
    size_t n = len;
    if (m->totlen < len) {
        fail(m, RCB_ERR_TOTLEN, RCB_OFF_TOTLEN);
        n = m->totlen;
    } else if (m->totlen > len) {
        fail(m, RCB_ERR_SHORT, len);
    }

    m->version = rcb_get16(buf + RCB_OFF_VER);
    m->type_raw = rcb_get16(buf + RCB_OFF_TYPE);
    m->light = (m->type_raw & RCB_LIGHT_FLAG) != 0;
    m->type = m->type_raw & (uint16_t)~RCB_LIGHT_FLAG;
    m->known_type = m->type < RCB_TYPE_COUNT;
    if (m->version != RCB_VERSION)
        fail(m, RCB_ERR_VERSION, RCB_OFF_VER);

    if (m->light) {
        m->body_off = RCB_LIGHT_HDR_LEN;
        if (!light_allowed(m->type)) {
            fail(m, RCB_ERR_LIGHT_TYPE, RCB_OFF_TYPE);
            m->trailing_off = m->body_off;
            m->trailing_len = n - m->body_off;
            return m->err;
        }
    } else {
        m->body_off = RCB_HDR_LEN;
        if (n < RCB_HDR_LEN) {
            fail(m, m->totlen < RCB_HDR_LEN ? RCB_ERR_TOTLEN : RCB_ERR_SHORT,
                 m->totlen < RCB_HDR_LEN ? RCB_OFF_TOTLEN : n);
            m->body_off = 0;
            return m->err;
        }
        m->port = rcb_get16(buf + RCB_OFF_PORT);
        m->count = rcb_get16(buf + RCB_OFF_COUNT);
        m->current_epoch = rcb_get64(buf + RCB_OFF_CURRENT_EPOCH);
        m->config_epoch = rcb_get64(buf + RCB_OFF_CONFIG_EPOCH);
        m->repl_offset = rcb_get64(buf + RCB_OFF_OFFSET);
        m->slot_count = rcb_slot_count(buf + RCB_OFF_MYSLOTS);
        m->has_replicaof = !rcb_name_is_null(buf + RCB_OFF_REPLICAOF);
        m->extensions = rcb_get16(buf + RCB_OFF_EXTENSIONS);
        m->pport = rcb_get16(buf + RCB_OFF_PPORT);
        m->cport = rcb_get16(buf + RCB_OFF_CPORT);
        m->flags = rcb_get16(buf + RCB_OFF_FLAGS);
        m->state = buf[RCB_OFF_STATE];
        memcpy(m->mflags, buf + RCB_OFF_MFLAGS, 3);
    }

    size_t b = m->body_off, avail = n - b, pos = b;
    switch (m->type) {
    case RCB_TYPE_PING:
    case RCB_TYPE_PONG:
    case RCB_TYPE_MEET:
        if ((size_t)m->count * RCB_GOSSIP_LEN > avail) {
            fail(m, RCB_ERR_GOSSIP_COUNT, RCB_OFF_COUNT);
            pos = n;
            break;
        }
        m->gossip_off = b;
        pos = b + (size_t)m->count * RCB_GOSSIP_LEN;
        /* A server reads extensions only when the flag says there are some. */
        if (m->mflags[0] & RCB_MFLAG0_EXT_DATA)
            pos = walk_extensions(buf, n, pos, m);
        if (m->ext_seen < m->extensions && (m->mflags[0] & RCB_MFLAG0_EXT_DATA))
            pos = n; /* the walk stopped at an error: the rest is not ours to blame twice */
        break;
    case RCB_TYPE_FAIL:
        if (avail < RCB_NAMELEN) {
            fail(m, RCB_ERR_LENGTH_MISMATCH, RCB_OFF_TOTLEN);
            break;
        }
        m->fail_node_off = b;
        pos = b + RCB_NAMELEN;
        break;
    case RCB_TYPE_PUBLISH:
    case RCB_TYPE_PUBLISHSHARD:
        if (avail < 8) {
            fail(m, RCB_ERR_LENGTH_MISMATCH, RCB_OFF_TOTLEN);
            break;
        }
        m->channel_len = rcb_get32(buf + b);
        m->message_len = rcb_get32(buf + b + 4);
        if (m->channel_len > avail - 8) {
            fail(m, RCB_ERR_PUBLISH_LENGTH, b);
            pos = n;
            break;
        }
        if (m->message_len > avail - 8 - m->channel_len) {
            fail(m, RCB_ERR_PUBLISH_LENGTH, b + 4);
            pos = n;
            break;
        }
        m->channel_off = b + 8;
        m->message_off = m->channel_off + m->channel_len;
        pos = m->message_off + m->message_len;
        break;
    case RCB_TYPE_FAILOVER_AUTH_REQUEST:
    case RCB_TYPE_FAILOVER_AUTH_ACK:
    case RCB_TYPE_MFSTART:
        break;
    case RCB_TYPE_UPDATE:
        if (avail < 8 + RCB_NAMELEN + RCB_SLOTS_BYTES) {
            fail(m, RCB_ERR_LENGTH_MISMATCH, RCB_OFF_TOTLEN);
            break;
        }
        m->update_config_epoch = rcb_get64(buf + b);
        m->update_node_off = b + 8;
        m->update_slots_off = b + 8 + RCB_NAMELEN;
        m->update_slot_count = rcb_slot_count(buf + m->update_slots_off);
        pos = m->update_slots_off + RCB_SLOTS_BYTES;
        break;
    case RCB_TYPE_MODULE:
        if (avail < 13) {
            fail(m, RCB_ERR_LENGTH_MISMATCH, RCB_OFF_TOTLEN);
            break;
        }
        m->module_id = rcb_get64(buf + b);
        m->module_len = rcb_get32(buf + b + 8);
        m->module_type = buf[b + 12];
        if (m->module_len > avail - 13) {
            fail(m, RCB_ERR_MODULE_LENGTH, b + 8);
            pos = n;
            break;
        }
        m->module_off = b + 13;
        pos = m->module_off + m->module_len;
        break;
    default:
        /* A server takes an unknown type as well formed and ignores it. */
        pos = n;
        m->trailing_off = b;
        m->trailing_len = n - b;
        return m->err;
    }
    if (pos < n) {
        fail(m, RCB_ERR_LENGTH_MISMATCH, pos);
        m->trailing_off = pos;
        m->trailing_len = n - pos;
    }
    return m->err;
}

size_t rcb_gossip_offset(const rcb_msg_t *m, unsigned i)
{
    if (m->gossip_off == 0 || i >= m->count)
        return 0;
    return m->gossip_off + (size_t)i * RCB_GOSSIP_LEN;
}

bool rcb_ext_get(const uint8_t *buf, const rcb_msg_t *m, unsigned i, rcb_ext_t *ext)
{
    if (m->ext_off == 0 || i >= m->ext_seen)
        return false;
    /* The walk in rcb_parse() checked every length up to ext_seen. */
    size_t pos = m->ext_off;
    for (unsigned k = 0; k < i; k++)
        pos += rcb_get32(buf + pos);
    ext->off = pos;
    ext->length = rcb_get32(buf + pos);
    ext->type = rcb_get16(buf + pos + 4);
    ext->data_off = pos + RCB_EXT_HDR_LEN;
    ext->data_len = ext->length - RCB_EXT_HDR_LEN;
    return true;
}

size_t rcb_ext_text_len(const uint8_t *buf, const rcb_ext_t *ext, bool *terminated)
{
    const uint8_t *p = buf + ext->data_off;
    const uint8_t *z = ext->data_len ? memchr(p, 0, ext->data_len) : NULL;
    if (terminated)
        *terminated = z != NULL;
    return z ? (size_t)(z - p) : ext->data_len;
}

static bool is_hex40(const uint8_t *p, size_t len)
{
    if (len != RCB_NAMELEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

rcb_ext4_kind_t rcb_ext_type4_kind(const uint8_t *buf, const rcb_ext_t *ext, rcb_flavor_t hint)
{
    if (hint == RCB_FLAVOR_REDIS)
        return RCB_EXT4_INTERNAL_SECRET;
    if (hint == RCB_FLAVOR_VALKEY)
        return RCB_EXT4_CLIENT_IPV4;
    /* An IPv4 address text is at most 15 characters and ends in NUL: never 40 hex digits. */
    return is_hex40(buf + ext->data_off, ext->data_len) ? RCB_EXT4_INTERNAL_SECRET : RCB_EXT4_CLIENT_IPV4;
}

rcb_flavor_t rcb_guess_flavor(const uint8_t *buf, const rcb_msg_t *m)
{
    if (m->light || (m->flags & RCB_NODE_VALKEY_ONLY))
        return RCB_FLAVOR_VALKEY;
    rcb_ext_t e;
    for (unsigned i = 0; rcb_ext_get(buf, m, i, &e); i++) {
        if (e.type > RCB_EXT_TYPE4 && e.type <= RCB_EXT_AVAILABILITY_ZONE)
            return RCB_FLAVOR_VALKEY;
        if (e.type == RCB_EXT_TYPE4)
            return rcb_ext_type4_kind(buf, &e, RCB_FLAVOR_UNKNOWN) == RCB_EXT4_INTERNAL_SECRET
                       ? RCB_FLAVOR_REDIS
                       : RCB_FLAVOR_VALKEY;
    }
    return RCB_FLAVOR_UNKNOWN;
}

const char *rcb_type_name(uint16_t type)
{
    static const char *const names[RCB_TYPE_COUNT] = {
        "PING", "PONG", "MEET", "FAIL", "PUBLISH", "FAILOVER_AUTH_REQUEST",
        "FAILOVER_AUTH_ACK", "UPDATE", "MFSTART", "MODULE", "PUBLISHSHARD",
    };
    return type < RCB_TYPE_COUNT ? names[type] : NULL;
}

const char *rcb_ext_type_name(uint16_t type, rcb_flavor_t flavor)
{
    switch (type) {
    case RCB_EXT_HOSTNAME: return "hostname";
    case RCB_EXT_HUMAN_NODENAME: return "human nodename";
    case RCB_EXT_FORGOTTEN_NODE: return "forgotten node";
    case RCB_EXT_SHARD_ID: return "shard id";
    case RCB_EXT_TYPE4:
        return flavor == RCB_FLAVOR_REDIS    ? "internal secret"
               : flavor == RCB_FLAVOR_VALKEY ? "client IPv4"
                                             : "internal secret (Redis) / client IPv4 (Valkey)";
    case RCB_EXT_CLIENT_IPV6: return "client IPv6";
    case RCB_EXT_CLIENT_PORT: return "client port";
    case RCB_EXT_CLIENT_TLS_PORT: return "client TLS port";
    case RCB_EXT_AVAILABILITY_ZONE: return "availability zone";
    default: return NULL;
    }
}

const char *rcb_err_string(rcb_err_t err)
{
    switch (err) {
    case RCB_ERR_NONE: return "no error";
    case RCB_ERR_SHORT: return "message cut short";
    case RCB_ERR_SIGNATURE: return "signature is not RCmb";
    case RCB_ERR_TOTLEN: return "total length does not fit the message";
    case RCB_ERR_VERSION: return "unknown bus protocol version";
    case RCB_ERR_LIGHT_TYPE: return "light header on a type that has none";
    case RCB_ERR_GOSSIP_COUNT: return "gossip count exceeds the message";
    case RCB_ERR_EXT_TRUNCATED: return "extension runs past the message";
    case RCB_ERR_EXT_LENGTH: return "extension length below 8 or not a multiple of 8";
    case RCB_ERR_PUBLISH_LENGTH: return "channel or message length exceeds the message";
    case RCB_ERR_MODULE_LENGTH: return "module payload length exceeds the message";
    case RCB_ERR_LENGTH_MISMATCH: return "total length differs from the length of the fields";
    default: return "unknown error";
    }
}
