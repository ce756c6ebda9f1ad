/* packet-redis-cluster.c — the Redis / Valkey Cluster bus (node-to-node messages on the
 * cluster port): PING/PONG/MEET with gossip and extensions, FAIL, PUBLISH, failover votes,
 * UPDATE, MFSTART, MODULE, PUBLISHSHARD, and Valkey's light header.
 *
 * Framing and validation are in core/redis_cluster_bus.c; this file reassembles messages by
 * their declared length, shows them and points at what a server would reject.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config-plugin.h"

#include <epan/conversation.h>
#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/strutil.h>

#include <string.h>

#include <gcrypt.h>

#include "core/redis_cluster_bus.h"
#include "packet-redis-cluster.h"

#define RC_DEFAULT_PORT 16379 /* 6379 + 10000, where a default Redis puts its bus */
#define RC_MAX_GOSSIP_SHOWN 1000
#define RC_MAX_EXT_SHOWN 1000
#define RC_INFO_RANGES 3      /* slot ranges named in the Info column */

static int proto_rc = -1;
static dissector_handle_t rc_handle;

static rsp_bool rc_desegment = TRUE;
static guint rc_max_len = 64u * 1024u * 1024u;
enum { EXT4_AUTO = 0, EXT4_REDIS = 1, EXT4_VALKEY = 2 };
static gint rc_ext4_mode = EXT4_AUTO;

static int hf_rc_signature = -1;
static int hf_rc_totlen = -1;
static int hf_rc_version = -1;
static int hf_rc_port = -1;
static int hf_rc_type = -1;
static int hf_rc_light = -1;
static int hf_rc_count = -1;
static int hf_rc_current_epoch = -1;
static int hf_rc_config_epoch = -1;
static int hf_rc_offset = -1;
static int hf_rc_sender = -1;
static int hf_rc_slots = -1;
static int hf_rc_slots_count = -1;
static int hf_rc_slots_range = -1;
static int hf_rc_replicaof = -1;
static int hf_rc_myip = -1;
static int hf_rc_extensions = -1;
static int hf_rc_unused = -1;
static int hf_rc_pport = -1;
static int hf_rc_cport = -1;
static int hf_rc_flags = -1;
static int hf_rc_state = -1;
static int hf_rc_mflags = -1;
static int hf_rc_mflags_paused = -1;
static int hf_rc_mflags_forceack = -1;
static int hf_rc_mflags_ext_data = -1;
static int hf_rc_mflags_unused = -1;
static int hf_rc_flavor = -1;
static int hf_rc_gossip = -1;
static int hf_rc_gossip_node = -1;
static int hf_rc_gossip_ping_sent = -1;
static int hf_rc_gossip_pong_received = -1;
static int hf_rc_gossip_ip = -1;
static int hf_rc_gossip_port = -1;
static int hf_rc_gossip_cport = -1;
static int hf_rc_gossip_flags = -1;
static int hf_rc_gossip_pport = -1;
static int hf_rc_ext = -1;
static int hf_rc_ext_length = -1;
static int hf_rc_ext_type = -1;
static int hf_rc_ext_name = -1;
static int hf_rc_ext_hostname = -1;
static int hf_rc_ext_human_nodename = -1;
static int hf_rc_ext_forgotten_node = -1;
static int hf_rc_ext_forgotten_ttl = -1;
static int hf_rc_ext_shard_id = -1;
static int hf_rc_ext_internal_secret = -1;
static int hf_rc_ext_client_ipv4 = -1;
static int hf_rc_ext_client_ipv6 = -1;
static int hf_rc_ext_client_port = -1;
static int hf_rc_ext_client_tls_port = -1;
static int hf_rc_ext_availability_zone = -1;
static int hf_rc_ext_data = -1;
static int hf_rc_fail_node = -1;
static int hf_rc_publish_channel_len = -1;
static int hf_rc_publish_message_len = -1;
static int hf_rc_publish_channel = -1;
static int hf_rc_publish_message = -1;
static int hf_rc_update_config_epoch = -1;
static int hf_rc_update_node = -1;
static int hf_rc_update_slots = -1;
static int hf_rc_update_slots_count = -1;
static int hf_rc_update_slots_range = -1;
static int hf_rc_module_id = -1;
static int hf_rc_module_len = -1;
static int hf_rc_module_type = -1;
static int hf_rc_module_payload = -1;
static int hf_rc_trailing = -1;
static int hf_rc_skipped = -1;

/* Node flag bits, once for the sender (redis_cluster.flags.*) and once for gossip entries
 * (redis_cluster.gossip.flags.*), so that a filter on one never matches the other. */
#define RC_NFLAGS 14
static const struct {
    const char *abbrev, *name;
    guint16 mask;
} node_flag_bits[RC_NFLAGS] = {
    {"primary", "Primary (master)", RCB_NODE_PRIMARY},
    {"replica", "Replica (slave)", RCB_NODE_REPLICA},
    {"pfail", "PFAIL (failure suspected)", RCB_NODE_PFAIL},
    {"fail", "FAIL", RCB_NODE_FAIL},
    {"myself", "Myself", RCB_NODE_MYSELF},
    {"handshake", "Handshake", RCB_NODE_HANDSHAKE},
    {"noaddr", "No address", RCB_NODE_NOADDR},
    {"meet", "MEET pending", RCB_NODE_MEET},
    {"migrate_to", "Replica migration target", RCB_NODE_MIGRATE_TO},
    {"nofailover", "No failover", RCB_NODE_NOFAILOVER},
    {"extensions", "Extensions supported", RCB_NODE_EXTENSIONS},
    {"light_publish", "Light header for PUBLISH supported (Valkey)", RCB_NODE_LIGHT_PUBLISH},
    {"light_module", "Light header for MODULE / multi-MEET supported (Valkey)", RCB_NODE_LIGHT_MODULE},
    {"my_primary_fail", "My primary is FAIL (Valkey)", RCB_NODE_MY_PRIMARY_FAIL},
};
static int hf_rc_nflag[2][RC_NFLAGS];
static int *rc_nflag_fields[2][RC_NFLAGS + 1];

static gint ett_rc = -1;
static gint ett_rc_flags = -1;
static gint ett_rc_mflags = -1;
static gint ett_rc_slots = -1;
static gint ett_rc_gossip = -1;
static gint ett_rc_gossip_flags = -1;
static gint ett_rc_ext = -1;
static gint ett_rc_update_slots = -1;

static expert_field ei_rc_malformed = EI_INIT;
static expert_field ei_rc_version = EI_INIT;
static expert_field ei_rc_unknown_type = EI_INIT;
static expert_field ei_rc_unknown_ext = EI_INIT;
static expert_field ei_rc_ext_text = EI_INIT;
static expert_field ei_rc_bad_length = EI_INIT;
static expert_field ei_rc_skipped = EI_INIT;
static expert_field ei_rc_incomplete = EI_INIT;
static expert_field ei_rc_truncated = EI_INIT;
static expert_field ei_rc_not_shown = EI_INIT;
static expert_field ei_rc_ext_without_flag = EI_INIT;

/* Redis 8's internal secret lets its holder run a cluster's internal commands: like key
 * material it is never shown, only a fingerprint (the first 8 bytes of its SHA-256). */
static void add_secret_fingerprint(proto_tree *tree, tvbuff_t *tvb, const guint8 *secret, int off)
{
    guint8 digest[32];
    char hex[17];
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, secret, RCB_NAMELEN);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    proto_item *pi = proto_tree_add_string(tree, hf_rc_ext_internal_secret, tvb, off, RCB_NAMELEN, hex);
    proto_item_append_text(pi, " (SHA-256 prefix; the secret itself is not shown)");
}

static const value_string rc_type_vals[] = {
    {RCB_TYPE_PING, "PING"},
    {RCB_TYPE_PONG, "PONG"},
    {RCB_TYPE_MEET, "MEET"},
    {RCB_TYPE_FAIL, "FAIL"},
    {RCB_TYPE_PUBLISH, "PUBLISH"},
    {RCB_TYPE_FAILOVER_AUTH_REQUEST, "FAILOVER_AUTH_REQUEST"},
    {RCB_TYPE_FAILOVER_AUTH_ACK, "FAILOVER_AUTH_ACK"},
    {RCB_TYPE_UPDATE, "UPDATE"},
    {RCB_TYPE_MFSTART, "MFSTART"},
    {RCB_TYPE_MODULE, "MODULE"},
    {RCB_TYPE_PUBLISHSHARD, "PUBLISHSHARD"},
    {0, NULL},
};

static const value_string rc_state_vals[] = {
    {0, "ok"},
    {1, "fail"},
    {0, NULL},
};

static const value_string rc_flavor_vals[] = {
    {RCB_FLAVOR_UNKNOWN, "Redis or Valkey (nothing tells them apart)"},
    {RCB_FLAVOR_REDIS, "Redis"},
    {RCB_FLAVOR_VALKEY, "Valkey"},
    {0, NULL},
};

/* Extension 4 under its two meanings; the name of the meaning used is shown apart. */
static const value_string rc_ext_type_vals[] = {
    {RCB_EXT_HOSTNAME, "hostname"},
    {RCB_EXT_HUMAN_NODENAME, "human nodename"},
    {RCB_EXT_FORGOTTEN_NODE, "forgotten node"},
    {RCB_EXT_SHARD_ID, "shard id"},
    {RCB_EXT_TYPE4, "internal secret (Redis) / client IPv4 (Valkey)"},
    {RCB_EXT_CLIENT_IPV6, "client IPv6 (Valkey)"},
    {RCB_EXT_CLIENT_PORT, "client port (Valkey)"},
    {RCB_EXT_CLIENT_TLS_PORT, "client TLS port (Valkey)"},
    {RCB_EXT_AVAILABILITY_ZONE, "availability zone (Valkey)"},
    {0, NULL},
};

static const enum_val_t rc_ext4_enum[] = {
    {"auto", "By the message (a 40-byte hex value is Redis's secret)", EXT4_AUTO},
    {"redis", "Redis: internal secret", EXT4_REDIS},
    {"valkey", "Valkey: client IPv4", EXT4_VALKEY},
    {NULL, NULL, -1},
};

/* ---- helpers -------------------------------------------------------------------------- */

/* "abc123…" for the Info column: node names are 40 hex digits. */
static const char *short_name(wmem_allocator_t *pool, const guint8 *name)
{
    if (rcb_name_is_null(name))
        return "none";
    return wmem_strdup_printf(pool, "%s\xe2\x80\xa6", rsp_format_text(pool, name, 6));
}

static void range_text(char *buf, size_t n, unsigned first, unsigned last)
{
    if (first == last)
        snprintf(buf, n, "%u", first);
    else
        snprintf(buf, n, "%u-%u", first, last);
}

/* A slot bitmap as a subtree of ranges; the first few go to `info`. */
static void add_slots(proto_tree *tree, packet_info *pinfo, tvbuff_t *tvb, guint off, int hf, int hf_count, int hf_range,
                      gint ett, unsigned count, wmem_strbuf_t *info)
{
    proto_item *ti = proto_tree_add_item(tree, hf, tvb, off, RCB_SLOTS_BYTES, ENC_NA);
    proto_tree *st = proto_item_add_subtree(ti, ett);
    proto_item *ci = proto_tree_add_uint(st, hf_count, tvb, off, RCB_SLOTS_BYTES, count);
    proto_item_set_generated(ci);
    const guint8 *bm = tvb_get_ptr(tvb, off, RCB_SLOTS_BYTES);
    unsigned first, last, from = 0, n = 0;
    wmem_strbuf_t *summary = wmem_strbuf_new(pinfo->pool, "");
    while (from < RCB_SLOTS && rcb_slot_range_next(bm, from, &first, &last)) {
        char r[16];
        range_text(r, sizeof r, first, last);
        proto_item *ri = proto_tree_add_string(st, hf_range, tvb, off + first / 8, last / 8 - first / 8 + 1, r);
        proto_item_set_generated(ri);
        if (n < RC_INFO_RANGES)
            wmem_strbuf_append_printf(summary, "%s%s", n ? "," : "", r);
        else if (n == RC_INFO_RANGES)
            wmem_strbuf_append(summary, ",\xe2\x80\xa6");
        n++;
        from = last + 1;
    }
    proto_item_append_text(ti, ": %u slot%s%s%s", count, count == 1 ? "" : "s", n ? " " : "",
                           wmem_strbuf_get_str(summary));
    if (info && n)
        wmem_strbuf_append_printf(info, " slots=%s", wmem_strbuf_get_str(summary));
}

static void add_name(proto_tree *tree, int hf, tvbuff_t *tvb, guint off)
{
    if (rcb_name_is_null(tvb_get_ptr(tvb, off, RCB_NAMELEN)))
        proto_tree_add_string_format_value(tree, hf, tvb, off, RCB_NAMELEN, "", "none");
    else
        proto_tree_add_item(tree, hf, tvb, off, RCB_NAMELEN, ENC_ASCII);
}

static void add_epoch_secs(proto_tree *tree, int hf, tvbuff_t *tvb, guint off)
{
    nstime_t t;
    t.secs = (time_t)tvb_get_ntohl(tvb, off);
    t.nsecs = 0;
    if (t.secs == 0)
        proto_tree_add_time_format_value(tree, hf, tvb, off, 4, &t, "none (0)");
    else
        proto_tree_add_time(tree, hf, tvb, off, 4, &t);
}

/* A string-valued extension: the text up to its NUL; text without one is malformed. */
static void add_ext_text(proto_tree *et, packet_info *pinfo, tvbuff_t *tvb, const guint8 *p,
                         const rcb_ext_t *e, int hf, const char **value)
{
    bool term;
    size_t n = rcb_ext_text_len(p, e, &term);
    proto_item *ti = proto_tree_add_item(et, hf, tvb, (gint)e->data_off, (gint)n, ENC_ASCII);
    if (!term)
        expert_add_info(pinfo, ti, &ei_rc_ext_text);
    if (value)
        *value = (const char *)rsp_format_text(pinfo->pool, p + e->data_off, n);
}

/* ---- one message ----------------------------------------------------------------------- */

static void dissect_gossip(proto_tree *rt, packet_info *pinfo, tvbuff_t *tvb, const rcb_msg_t *m)
{
    unsigned shown = m->count < RC_MAX_GOSSIP_SHOWN ? m->count : RC_MAX_GOSSIP_SHOWN;
    for (unsigned i = 0; i < shown; i++) {
        guint g = (guint)rcb_gossip_offset(m, i);
        proto_item *gi = proto_tree_add_item(rt, hf_rc_gossip, tvb, g, RCB_GOSSIP_LEN, ENC_NA);
        proto_tree *gt = proto_item_add_subtree(gi, ett_rc_gossip);
        add_name(gt, hf_rc_gossip_node, tvb, g + RCB_GOFF_NAME);
        add_epoch_secs(gt, hf_rc_gossip_ping_sent, tvb, g + RCB_GOFF_PING_SENT);
        add_epoch_secs(gt, hf_rc_gossip_pong_received, tvb, g + RCB_GOFF_PONG_RECEIVED);
        proto_tree_add_item(gt, hf_rc_gossip_ip, tvb, g + RCB_GOFF_IP, RCB_IPLEN, ENC_ASCII);
        proto_tree_add_item(gt, hf_rc_gossip_port, tvb, g + RCB_GOFF_PORT, 2, ENC_BIG_ENDIAN);
        proto_tree_add_item(gt, hf_rc_gossip_cport, tvb, g + RCB_GOFF_CPORT, 2, ENC_BIG_ENDIAN);
        proto_tree_add_bitmask(gt, tvb, g + RCB_GOFF_FLAGS, hf_rc_gossip_flags, ett_rc_gossip_flags,
                               rc_nflag_fields[1], ENC_BIG_ENDIAN);
        proto_tree_add_item(gt, hf_rc_gossip_pport, tvb, g + RCB_GOFF_PPORT, 2, ENC_BIG_ENDIAN);
        proto_item_append_text(gi, " %u: %s %s:%u", i,
                               short_name(pinfo->pool, tvb_get_ptr(tvb, g, RCB_NAMELEN)),
                               tvb_get_string_enc(pinfo->pool, tvb, g + RCB_GOFF_IP, RCB_IPLEN, ENC_ASCII),
                               tvb_get_ntohs(tvb, g + RCB_GOFF_PORT));
    }
    if (shown < m->count)
        proto_tree_add_expert_format(rt, pinfo, &ei_rc_not_shown, tvb, (gint)rcb_gossip_offset(m, shown),
                                     (m->count - shown) * RCB_GOSSIP_LEN, "%u more gossip entries not shown",
                                     m->count - shown);
}

static void dissect_extensions(proto_tree *rt, packet_info *pinfo, tvbuff_t *tvb, const guint8 *p,
                               const rcb_msg_t *m, rcb_flavor_t flavor)
{
    rcb_flavor_t hint = rc_ext4_mode == EXT4_REDIS    ? RCB_FLAVOR_REDIS
                        : rc_ext4_mode == EXT4_VALKEY ? RCB_FLAVOR_VALKEY
                                                      : flavor;
    rcb_ext_t e;
    for (unsigned i = 0; i < RC_MAX_EXT_SHOWN && rcb_ext_get(p, m, i, &e); i++) {
        proto_item *ei = proto_tree_add_item(rt, hf_rc_ext, tvb, (gint)e.off, (gint)e.length, ENC_NA);
        proto_tree *et = proto_item_add_subtree(ei, ett_rc_ext);
        proto_tree_add_item(et, hf_rc_ext_length, tvb, (gint)e.off, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(et, hf_rc_ext_type, tvb, (gint)e.off + 4, 2, ENC_BIG_ENDIAN);
        const char *name = NULL, *value = NULL;
        gint doff = (gint)e.data_off;
        switch (e.type) {
        case RCB_EXT_HOSTNAME:
            add_ext_text(et, pinfo, tvb, p, &e, hf_rc_ext_hostname, &value);
            break;
        case RCB_EXT_HUMAN_NODENAME:
            add_ext_text(et, pinfo, tvb, p, &e, hf_rc_ext_human_nodename, &value);
            break;
        case RCB_EXT_FORGOTTEN_NODE:
            if (e.data_len < RCB_NAMELEN + 8) {
                expert_add_info_format(pinfo, ei, &ei_rc_malformed, "Forgotten-node extension shorter than 48 bytes");
                break;
            }
            add_name(et, hf_rc_ext_forgotten_node, tvb, doff);
            proto_tree_add_item(et, hf_rc_ext_forgotten_ttl, tvb, doff + RCB_NAMELEN, 8, ENC_BIG_ENDIAN);
            value = wmem_strdup_printf(pinfo->pool, "%s ttl=%" G_GUINT64_FORMAT "s",
                                       short_name(pinfo->pool, p + doff), rcb_get64(p + doff + RCB_NAMELEN));
            break;
        case RCB_EXT_SHARD_ID:
            if (e.data_len < RCB_NAMELEN) {
                expert_add_info_format(pinfo, ei, &ei_rc_malformed, "Shard-id extension shorter than 40 bytes");
                break;
            }
            proto_tree_add_item(et, hf_rc_ext_shard_id, tvb, doff, RCB_NAMELEN, ENC_ASCII);
            value = short_name(pinfo->pool, p + doff);
            break;
        case RCB_EXT_TYPE4:
            if (rcb_ext_type4_kind(p, &e, hint) == RCB_EXT4_INTERNAL_SECRET) {
                name = "internal secret (Redis)";
                if (e.data_len < RCB_NAMELEN) {
                    expert_add_info_format(pinfo, ei, &ei_rc_malformed, "Internal-secret extension shorter than 40 bytes");
                    break;
                }
                add_secret_fingerprint(et, tvb, p + doff, doff);
            } else {
                name = "client IPv4 (Valkey)";
                add_ext_text(et, pinfo, tvb, p, &e, hf_rc_ext_client_ipv4, &value);
            }
            break;
        case RCB_EXT_CLIENT_IPV6:
            add_ext_text(et, pinfo, tvb, p, &e, hf_rc_ext_client_ipv6, &value);
            break;
        case RCB_EXT_CLIENT_PORT:
        case RCB_EXT_CLIENT_TLS_PORT:
            if (e.data_len < 2) {
                expert_add_info_format(pinfo, ei, &ei_rc_malformed, "Port extension without a port");
                break;
            }
            proto_tree_add_item(et, e.type == RCB_EXT_CLIENT_PORT ? hf_rc_ext_client_port : hf_rc_ext_client_tls_port,
                                tvb, doff, 2, ENC_BIG_ENDIAN);
            value = wmem_strdup_printf(pinfo->pool, "%u", rcb_get16(p + doff));
            break;
        case RCB_EXT_AVAILABILITY_ZONE:
            add_ext_text(et, pinfo, tvb, p, &e, hf_rc_ext_availability_zone, &value);
            break;
        default:
            if (e.data_len)
                proto_tree_add_item(et, hf_rc_ext_data, tvb, doff, (gint)e.data_len, ENC_NA);
            expert_add_info(pinfo, ei, &ei_rc_unknown_ext);
            break;
        }
        if (!name)
            name = rcb_ext_type_name(e.type, RCB_FLAVOR_UNKNOWN);
        proto_item *ni = proto_tree_add_string(et, hf_rc_ext_name, tvb, (gint)e.off + 4, 2, name ? name : "unknown");
        proto_item_set_generated(ni);
        proto_item_append_text(ei, ": %s%s%s", name ? name : "unknown", value ? " " : "", value ? value : "");
    }
}

/* Shows one message (tvb: its bytes, possibly cut short); appends a summary to info. */
static void dissect_message(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, wmem_strbuf_t *info)
{
    guint cap = tvb_captured_length(tvb);
    const guint8 *p = tvb_get_ptr(tvb, 0, cap);
    rcb_msg_t m;
    rcb_parse(p, cap, &m);

    proto_item *ti = proto_tree_add_item(tree, proto_rc, tvb, 0, -1, ENC_NA);
    proto_tree *rt = proto_item_add_subtree(ti, ett_rc);
    const char *tname = m.known_type ? rcb_type_name(m.type) : NULL;
    char tbuf[24];
    if (!tname) {
        snprintf(tbuf, sizeof tbuf, "type %u", m.type);
        tname = tbuf;
    }
    proto_item_append_text(ti, ", %s%s", tname, m.light ? " (light header)" : "");
    wmem_strbuf_append_printf(info, "%s%s", tname, m.light ? " (light)" : "");

    proto_tree_add_item(rt, hf_rc_signature, tvb, 0, 4, ENC_ASCII);
    proto_tree_add_item(rt, hf_rc_totlen, tvb, RCB_OFF_TOTLEN, 4, ENC_BIG_ENDIAN);
    if (cap < RCB_LIGHT_HDR_LEN) {
        /* only the start of a message (reassembly off, or the capture ends here) */
        proto_tree_add_expert(rt, pinfo, tvb_reported_length(tvb) > cap ? &ei_rc_truncated : &ei_rc_incomplete,
                              tvb, 0, cap);
        return;
    }
    proto_item *vi = proto_tree_add_item(rt, hf_rc_version, tvb, RCB_OFF_VER, 2, ENC_BIG_ENDIAN);
    if (m.version != RCB_VERSION)
        expert_add_info(pinfo, vi, &ei_rc_version);
    if (!m.light)
        proto_tree_add_item(rt, hf_rc_port, tvb, RCB_OFF_PORT, 2, ENC_BIG_ENDIAN);
    proto_item *tyi = proto_tree_add_item(rt, hf_rc_type, tvb, RCB_OFF_TYPE, 2, ENC_BIG_ENDIAN);
    proto_tree_add_item(rt, hf_rc_light, tvb, RCB_OFF_TYPE, 2, ENC_BIG_ENDIAN);
    if (!m.known_type)
        expert_add_info(pinfo, tyi, &ei_rc_unknown_type);

    rcb_flavor_t flavor = RCB_FLAVOR_UNKNOWN;
    if (!m.light && m.body_off == RCB_HDR_LEN) {
        proto_tree_add_item(rt, hf_rc_count, tvb, RCB_OFF_COUNT, 2, ENC_BIG_ENDIAN);
        proto_tree_add_item(rt, hf_rc_current_epoch, tvb, RCB_OFF_CURRENT_EPOCH, 8, ENC_BIG_ENDIAN);
        proto_tree_add_item(rt, hf_rc_config_epoch, tvb, RCB_OFF_CONFIG_EPOCH, 8, ENC_BIG_ENDIAN);
        proto_tree_add_item(rt, hf_rc_offset, tvb, RCB_OFF_OFFSET, 8, ENC_BIG_ENDIAN);
        proto_tree_add_item(rt, hf_rc_sender, tvb, RCB_OFF_SENDER, RCB_NAMELEN, ENC_ASCII);
        wmem_strbuf_append_printf(info, " sender=%s", short_name(pinfo->pool, p + RCB_OFF_SENDER));
        add_slots(rt, pinfo, tvb, RCB_OFF_MYSLOTS, hf_rc_slots, hf_rc_slots_count, hf_rc_slots_range, ett_rc_slots,
                  m.slot_count, info);
        add_name(rt, hf_rc_replicaof, tvb, RCB_OFF_REPLICAOF);
        proto_tree_add_item(rt, hf_rc_myip, tvb, RCB_OFF_MYIP, RCB_IPLEN, ENC_ASCII);
        proto_tree_add_item(rt, hf_rc_extensions, tvb, RCB_OFF_EXTENSIONS, 2, ENC_BIG_ENDIAN);
        if (tvb_memeql(tvb, RCB_OFF_UNUSED, (const guint8 *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 30) != 0)
            proto_tree_add_item(rt, hf_rc_unused, tvb, RCB_OFF_UNUSED, 30, ENC_NA);
        proto_tree_add_item(rt, hf_rc_pport, tvb, RCB_OFF_PPORT, 2, ENC_BIG_ENDIAN);
        proto_tree_add_item(rt, hf_rc_cport, tvb, RCB_OFF_CPORT, 2, ENC_BIG_ENDIAN);
        proto_tree_add_bitmask(rt, tvb, RCB_OFF_FLAGS, hf_rc_flags, ett_rc_flags, rc_nflag_fields[0], ENC_BIG_ENDIAN);
        proto_tree_add_item(rt, hf_rc_state, tvb, RCB_OFF_STATE, 1, ENC_BIG_ENDIAN);
        static int *const mflag_fields[] = {&hf_rc_mflags_paused, &hf_rc_mflags_forceack, &hf_rc_mflags_ext_data, NULL};
        proto_tree_add_bitmask(rt, tvb, RCB_OFF_MFLAGS, hf_rc_mflags, ett_rc_mflags, mflag_fields, ENC_BIG_ENDIAN);
        if (m.mflags[1] || m.mflags[2])
            proto_tree_add_item(rt, hf_rc_mflags_unused, tvb, RCB_OFF_MFLAGS + 1, 2, ENC_BIG_ENDIAN);
    }
    if (m.body_off) {
        flavor = rcb_guess_flavor(p, &m);
        proto_item *fi = proto_tree_add_uint(rt, hf_rc_flavor, tvb, 0, 0, flavor);
        proto_item_set_generated(fi);
    }

    switch (m.type) {
    case RCB_TYPE_PING:
    case RCB_TYPE_PONG:
    case RCB_TYPE_MEET:
        if (m.gossip_off) {
            dissect_gossip(rt, pinfo, tvb, &m);
            wmem_strbuf_append_printf(info, " gossip=%u", m.count);
        }
        if (m.ext_seen)
            dissect_extensions(rt, pinfo, tvb, p, &m, flavor);
        if (m.extensions && !(m.mflags[0] & RCB_MFLAG0_EXT_DATA) && m.body_off)
            expert_add_info(pinfo, ti, &ei_rc_ext_without_flag);
        break;
    case RCB_TYPE_FAIL:
        if (m.fail_node_off) {
            add_name(rt, hf_rc_fail_node, tvb, (guint)m.fail_node_off);
            wmem_strbuf_append_printf(info, " node=%s", short_name(pinfo->pool, p + m.fail_node_off));
        }
        break;
    case RCB_TYPE_PUBLISH:
    case RCB_TYPE_PUBLISHSHARD:
        if (cap >= m.body_off + 8 && m.body_off) {
            proto_tree_add_item(rt, hf_rc_publish_channel_len, tvb, (gint)m.body_off, 4, ENC_BIG_ENDIAN);
            proto_tree_add_item(rt, hf_rc_publish_message_len, tvb, (gint)m.body_off + 4, 4, ENC_BIG_ENDIAN);
        }
        if (m.channel_off) {
            proto_tree_add_item(rt, hf_rc_publish_channel, tvb, (gint)m.channel_off, (gint)m.channel_len, ENC_ASCII);
            proto_tree_add_item(rt, hf_rc_publish_message, tvb, (gint)m.message_off, (gint)m.message_len, ENC_ASCII);
            wmem_strbuf_append_printf(info, " channel=%s",
                                      rsp_format_text(pinfo->pool, p + m.channel_off,
                                                      m.channel_len > 40 ? 40 : m.channel_len));
        }
        break;
    case RCB_TYPE_UPDATE:
        if (m.update_node_off) {
            proto_tree_add_item(rt, hf_rc_update_config_epoch, tvb, (gint)m.body_off, 8, ENC_BIG_ENDIAN);
            add_name(rt, hf_rc_update_node, tvb, (guint)m.update_node_off);
            wmem_strbuf_append_printf(info, " node=%s epoch=%" G_GUINT64_FORMAT,
                                      short_name(pinfo->pool, p + m.update_node_off), m.update_config_epoch);
            add_slots(rt, pinfo, tvb, (guint)m.update_slots_off, hf_rc_update_slots, hf_rc_update_slots_count,
                      hf_rc_update_slots_range, ett_rc_update_slots, m.update_slot_count, NULL);
        }
        break;
    case RCB_TYPE_MODULE:
        if (cap >= m.body_off + 13 && m.body_off) {
            proto_tree_add_item(rt, hf_rc_module_id, tvb, (gint)m.body_off, 8, ENC_BIG_ENDIAN);
            proto_tree_add_item(rt, hf_rc_module_len, tvb, (gint)m.body_off + 8, 4, ENC_BIG_ENDIAN);
            proto_tree_add_item(rt, hf_rc_module_type, tvb, (gint)m.body_off + 12, 1, ENC_BIG_ENDIAN);
            wmem_strbuf_append_printf(info, " module=0x%016" G_GINT64_MODIFIER "x type=%u", m.module_id, m.module_type);
        }
        if (m.module_off && m.module_len)
            proto_tree_add_item(rt, hf_rc_module_payload, tvb, (gint)m.module_off, (gint)m.module_len, ENC_NA);
        break;
    default:
        break;
    }
    if (m.trailing_len)
        proto_tree_add_item(rt, hf_rc_trailing, tvb, (gint)m.trailing_off, (gint)m.trailing_len, ENC_NA);

    if (m.err == RCB_ERR_SHORT && tvb_reported_length(tvb) > cap) {
        proto_tree_add_expert(rt, pinfo, &ei_rc_truncated, tvb, 0, 0);
    } else if (m.err == RCB_ERR_SHORT) {
        proto_tree_add_expert(rt, pinfo, &ei_rc_incomplete, tvb, 0, 0);
    } else if (m.err != RCB_ERR_NONE && m.err != RCB_ERR_VERSION) {
        gint at = m.err_off < cap ? (gint)m.err_off : 0;
        proto_tree_add_expert_format(rt, pinfo, &ei_rc_malformed, tvb, at, at < (gint)cap ? 1 : 0,
                                     "Malformed cluster bus message: %s", rcb_err_string(m.err));
        wmem_strbuf_append(info, " [malformed]");
    }
}

/* A message start whose length cannot be right: show the header and move on. */
static void dissect_bad_length(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, guint32 totlen,
                               wmem_strbuf_t *info)
{
    proto_item *ti = proto_tree_add_item(tree, proto_rc, tvb, 0, 8, ENC_NA);
    proto_tree *rt = proto_item_add_subtree(ti, ett_rc);
    proto_tree_add_item(rt, hf_rc_signature, tvb, 0, 4, ENC_ASCII);
    proto_item *li = proto_tree_add_item(rt, hf_rc_totlen, tvb, RCB_OFF_TOTLEN, 4, ENC_BIG_ENDIAN);
    if (totlen < RCB_MIN_LEN)
        expert_add_info_format(pinfo, li, &ei_rc_bad_length, "Total length %u is below the %u-byte minimum",
                               totlen, RCB_MIN_LEN);
    else
        expert_add_info_format(pinfo, li, &ei_rc_bad_length,
                               "Total length %u exceeds the maximum message size preference (%u)", totlen, rc_max_len);
    wmem_strbuf_append_printf(info, "[bad length %u]", totlen);
}

/* Where the next possible message start is, at or after `from` (total if none). A cut
 * signature at the very end counts as a start, so that reassembly can wait for the rest. */
static guint next_start(tvbuff_t *tvb, guint from, guint total)
{
    guint cap = tvb_captured_length(tvb);
    while (from < cap) {
        const guint8 *base = tvb_get_ptr(tvb, from, cap - from);
        const guint8 *r = memchr(base, 'R', cap - from);
        if (r == NULL)
            break;
        guint a = from + (guint)(r - base), n = cap - a < 16 ? cap - a : 16;
        rcb_probe_t pr = rcb_probe_ex(tvb_get_ptr(tvb, a, n), n, rc_max_len, true, NULL);
        if (pr == RCB_PROBE_YES || (pr == RCB_PROBE_MORE && a + n == cap))
            return a;
        from = a + 1;
    }
    return cap < total ? cap : total;
}

static int dissect_redis_cluster(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    guint total = tvb_reported_length(tvb), offset = 0;
    int shown = 0;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "Redis Cluster");
    col_clear(pinfo->cinfo, COL_INFO);
    wmem_strbuf_t *info = wmem_strbuf_new(pinfo->pool, "");

    while (offset < total) {
        guint avail = tvb_captured_length_remaining(tvb, offset);
        if (avail == 0)
            break;
        guint n = avail < 16 ? avail : 16;
        guint32 totlen = 0;
        const guint8 *p = tvb_get_ptr(tvb, offset, n);
        rcb_probe_t pr = rcb_probe_ex(p, n, rc_max_len, false, &totlen);
        if (shown)
            wmem_strbuf_append(info, " | ");
        if (pr == RCB_PROBE_MORE) {
            if (rc_desegment && pinfo->can_desegment) {
                pinfo->desegment_offset = offset;
                pinfo->desegment_len = DESEGMENT_ONE_MORE_SEGMENT;
                break;
            }
            proto_tree_add_expert(tree, pinfo, &ei_rc_incomplete, tvb, offset, avail);
            wmem_strbuf_append(info, "[continues]");
            shown++;
            break;
        }
        if (pr == RCB_PROBE_NO) {
            guint from = offset + 1;
            gboolean bad_length = n >= 8 && memcmp(p, RCB_SIGNATURE, 4) == 0;
            if (bad_length) {
                dissect_bad_length(tvb_new_subset_length(tvb, offset, 8), pinfo, tree,
                                   rcb_get32(p + RCB_OFF_TOTLEN), info);
                offset += 8;
                from = offset;
            }
            guint next = next_start(tvb, from, total);
            if (next > offset) {
                proto_item *si = proto_tree_add_item(tree, hf_rc_skipped, tvb, offset, next - offset, ENC_NA);
                expert_add_info(pinfo, si, &ei_rc_skipped);
                if (!bad_length)
                    wmem_strbuf_append(info, "[not a message start]");
            }
            offset = next;
            shown++;
            continue;
        }
        guint remaining = total - offset;
        if (totlen > remaining && rc_desegment && pinfo->can_desegment) {
            pinfo->desegment_offset = offset;
            pinfo->desegment_len = totlen - remaining;
            break;
        }
        guint len = totlen < remaining ? totlen : remaining;
        dissect_message(tvb_new_subset_length(tvb, offset, len), pinfo, tree, info);
        offset += len;
        shown++;
    }
    col_add_str(pinfo->cinfo, COL_INFO, wmem_strbuf_get_str(info));
    return tvb_captured_length(tvb);
}

/* Any TCP stream whose segment holds a bus message start (the signature, a length within
 * the maximum, version 1, a known type and a length its type allows). */
static rsp_bool dissect_redis_cluster_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    guint cap = tvb_captured_length(tvb);
    if (cap < 14)
        return FALSE;
    if (rcb_probe(tvb_get_ptr(tvb, 0, 14), 14, rc_max_len, NULL) != RCB_PROBE_YES)
        return FALSE;
    conversation_set_dissector(find_or_create_conversation(pinfo), rc_handle);
    dissect_redis_cluster(tvb, pinfo, tree, data);
    return TRUE;
}

/* ---- registration ---------------------------------------------------------------------- */

void proto_register_redis_cluster(void)
{
    static hf_register_info hf[] = {
        {&hf_rc_signature, {"Signature", "redis_cluster.signature", FT_STRING, BASE_NONE, NULL, 0x0, "RCmb", HFILL}},
        {&hf_rc_totlen, {"Total length", "redis_cluster.totlen", FT_UINT32, BASE_DEC, NULL, 0x0, "Bytes of the whole message", HFILL}},
        {&hf_rc_version, {"Version", "redis_cluster.version", FT_UINT16, BASE_DEC, NULL, 0x0, "Bus protocol version (1)", HFILL}},
        {&hf_rc_port, {"Port", "redis_cluster.port", FT_UINT16, BASE_DEC, NULL, 0x0, "Sender's client port (TLS port when TLS is on)", HFILL}},
        {&hf_rc_type, {"Type", "redis_cluster.type", FT_UINT16, BASE_DEC, VALS(rc_type_vals), 0x7fff, NULL, HFILL}},
        {&hf_rc_light, {"Light header", "redis_cluster.light", FT_BOOLEAN, 16, NULL, RCB_LIGHT_FLAG,
                        "Valkey's 16-byte header (PUBLISH, PUBLISHSHARD, MODULE)", HFILL}},
        {&hf_rc_count, {"Count", "redis_cluster.count", FT_UINT16, BASE_DEC, NULL, 0x0, "Gossip entries (PING, PONG, MEET)", HFILL}},
        {&hf_rc_current_epoch, {"Current epoch", "redis_cluster.current_epoch", FT_UINT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_config_epoch, {"Config epoch", "redis_cluster.config_epoch", FT_UINT64, BASE_DEC, NULL, 0x0,
                               "The sender's, or its primary's if it is a replica", HFILL}},
        {&hf_rc_offset, {"Replication offset", "redis_cluster.offset", FT_UINT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_sender, {"Sender", "redis_cluster.sender", FT_STRING, BASE_NONE, NULL, 0x0, "Sender's node id", HFILL}},
        {&hf_rc_slots, {"Slots", "redis_cluster.slots", FT_NONE, BASE_NONE, NULL, 0x0, "Bitmap of the slots the sender (or its primary) serves", HFILL}},
        {&hf_rc_slots_count, {"Slot count", "redis_cluster.slots.count", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_slots_range, {"Slot range", "redis_cluster.slots.range", FT_STRING, BASE_NONE, NULL, 0x0, "first-last, or one slot", HFILL}},
        {&hf_rc_replicaof, {"Replica of", "redis_cluster.replicaof", FT_STRING, BASE_NONE, NULL, 0x0,
                            "Node id of the sender's primary (slaveof); empty for a primary", HFILL}},
        {&hf_rc_myip, {"Sender IP", "redis_cluster.myip", FT_STRING, BASE_NONE, NULL, 0x0, "Empty: the receiver uses the connection's address", HFILL}},
        {&hf_rc_extensions, {"Extensions", "redis_cluster.extensions", FT_UINT16, BASE_DEC, NULL, 0x0, "Number of ping extensions", HFILL}},
        {&hf_rc_unused, {"Unused", "redis_cluster.unused", FT_BYTES, BASE_NONE, NULL, 0x0, "Reserved bytes that are not zero", HFILL}},
        {&hf_rc_pport, {"Secondary port", "redis_cluster.pport", FT_UINT16, BASE_DEC, NULL, 0x0, "Plain TCP port if port is TLS, else the TLS port", HFILL}},
        {&hf_rc_cport, {"Cluster bus port", "redis_cluster.cport", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_flags, {"Flags", "redis_cluster.flags", FT_UINT16, BASE_HEX, NULL, 0x0, "Sender's node flags", HFILL}},
        {&hf_rc_state, {"Cluster state", "redis_cluster.state", FT_UINT8, BASE_DEC, VALS(rc_state_vals), 0x0, "As the sender sees it", HFILL}},
        {&hf_rc_mflags, {"Message flags", "redis_cluster.mflags", FT_UINT8, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_mflags_paused, {"Paused", "redis_cluster.mflags.paused", FT_BOOLEAN, 8, NULL, RCB_MFLAG0_PAUSED,
                                "Primary paused for a manual failover", HFILL}},
        {&hf_rc_mflags_forceack, {"Force ACK", "redis_cluster.mflags.forceack", FT_BOOLEAN, 8, NULL, RCB_MFLAG0_FORCEACK,
                                  "Vote even though the primary is up", HFILL}},
        {&hf_rc_mflags_ext_data, {"Extension data", "redis_cluster.mflags.ext_data", FT_BOOLEAN, 8, NULL, RCB_MFLAG0_EXT_DATA,
                                  "Ping extensions follow the gossip", HFILL}},
        {&hf_rc_mflags_unused, {"Unused message flags", "redis_cluster.mflags.unused", FT_UINT16, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_flavor, {"Server family", "redis_cluster.flavor", FT_UINT8, BASE_DEC, VALS(rc_flavor_vals), 0x0,
                         "Told by Valkey-only flags, the light header or the extensions", HFILL}},
        {&hf_rc_gossip, {"Gossip", "redis_cluster.gossip", FT_NONE, BASE_NONE, NULL, 0x0, "What the sender knows of another node", HFILL}},
        {&hf_rc_gossip_node, {"Node", "redis_cluster.gossip.node", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_gossip_ping_sent, {"Ping sent", "redis_cluster.gossip.ping_sent", FT_ABSOLUTE_TIME, ABSOLUTE_TIME_UTC, NULL, 0x0,
                                   "When the sender last pinged it (0: no ping pending)", HFILL}},
        {&hf_rc_gossip_pong_received, {"Pong received", "redis_cluster.gossip.pong_received", FT_ABSOLUTE_TIME, ABSOLUTE_TIME_UTC,
                                       NULL, 0x0, NULL, HFILL}},
        {&hf_rc_gossip_ip, {"IP", "redis_cluster.gossip.ip", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_gossip_port, {"Port", "redis_cluster.gossip.port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_gossip_cport, {"Cluster bus port", "redis_cluster.gossip.cport", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_gossip_flags, {"Flags", "redis_cluster.gossip.flags", FT_UINT16, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_gossip_pport, {"Secondary port", "redis_cluster.gossip.pport", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext, {"Extension", "redis_cluster.ext", FT_NONE, BASE_NONE, NULL, 0x0, "Ping extension", HFILL}},
        {&hf_rc_ext_length, {"Length", "redis_cluster.ext.length", FT_UINT32, BASE_DEC, NULL, 0x0, "Header included, a multiple of 8", HFILL}},
        {&hf_rc_ext_type, {"Type", "redis_cluster.ext.type", FT_UINT16, BASE_DEC, VALS(rc_ext_type_vals), 0x0, NULL, HFILL}},
        {&hf_rc_ext_name, {"Decoded as", "redis_cluster.ext.name", FT_STRING, BASE_NONE, NULL, 0x0,
                           "The meaning used (type 4 differs between Redis and Valkey)", HFILL}},
        {&hf_rc_ext_hostname, {"Hostname", "redis_cluster.ext.hostname", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_human_nodename, {"Human nodename", "redis_cluster.ext.human_nodename", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_forgotten_node, {"Forgotten node", "redis_cluster.ext.forgotten_node", FT_STRING, BASE_NONE, NULL, 0x0,
                                     "A node removed with CLUSTER FORGET", HFILL}},
        {&hf_rc_ext_forgotten_ttl, {"Forget TTL", "redis_cluster.ext.forgotten_ttl", FT_UINT64, BASE_DEC, NULL, 0x0,
                                    "Seconds the node stays out of the cluster", HFILL}},
        {&hf_rc_ext_shard_id, {"Shard id", "redis_cluster.ext.shard_id", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_internal_secret, {"Internal secret fingerprint", "redis_cluster.ext.internal_secret.fingerprint",
                                      FT_STRING, BASE_NONE, NULL, 0x0,
                                      "Redis 8: SHA-256 prefix of the cluster's secret for internal commands (never shown)", HFILL}},
        {&hf_rc_ext_client_ipv4, {"Client IPv4", "redis_cluster.ext.client_ipv4", FT_STRING, BASE_NONE, NULL, 0x0,
                                  "Valkey: address announced to clients", HFILL}},
        {&hf_rc_ext_client_ipv6, {"Client IPv6", "redis_cluster.ext.client_ipv6", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_client_port, {"Client port", "redis_cluster.ext.client_port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_client_tls_port, {"Client TLS port", "redis_cluster.ext.client_tls_port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_availability_zone, {"Availability zone", "redis_cluster.ext.availability_zone", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_ext_data, {"Data", "redis_cluster.ext.data", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_fail_node, {"Failed node", "redis_cluster.fail.node", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_publish_channel_len, {"Channel length", "redis_cluster.publish.channel_len", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_publish_message_len, {"Message length", "redis_cluster.publish.message_len", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_publish_channel, {"Channel", "redis_cluster.publish.channel", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_publish_message, {"Message", "redis_cluster.publish.message", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_update_config_epoch, {"Config epoch", "redis_cluster.update.config_epoch", FT_UINT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_update_node, {"Node", "redis_cluster.update.node", FT_STRING, BASE_NONE, NULL, 0x0, "The slots' owner", HFILL}},
        {&hf_rc_update_slots, {"Slots", "redis_cluster.update.slots", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_update_slots_count, {"Slot count", "redis_cluster.update.slots.count", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_update_slots_range, {"Slot range", "redis_cluster.update.slots.range", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_module_id, {"Module id", "redis_cluster.module.id", FT_UINT64, BASE_HEX, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_module_len, {"Payload length", "redis_cluster.module.len", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_module_type, {"Module message type", "redis_cluster.module.type", FT_UINT8, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_module_payload, {"Payload", "redis_cluster.module.payload", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_rc_trailing, {"Trailing bytes", "redis_cluster.trailing", FT_BYTES, BASE_NONE, NULL, 0x0,
                           "Bytes the type does not define (the body of an unknown type)", HFILL}},
        {&hf_rc_skipped, {"Skipped bytes", "redis_cluster.skipped", FT_BYTES, BASE_NONE, NULL, 0x0,
                          "Bytes before the next message start", HFILL}},
    };
    static hf_register_info hf_flags[2 * RC_NFLAGS];
    for (int set = 0; set < 2; set++) {
        for (int i = 0; i < RC_NFLAGS; i++) {
            hf_register_info *r = &hf_flags[set * RC_NFLAGS + i];
            hf_rc_nflag[set][i] = -1;
            r->p_id = &hf_rc_nflag[set][i];
            r->hfinfo.name = node_flag_bits[i].name;
            r->hfinfo.abbrev = g_strdup_printf("redis_cluster.%sflags.%s", set ? "gossip." : "", node_flag_bits[i].abbrev);
            r->hfinfo.type = FT_BOOLEAN;
            r->hfinfo.display = 16;
            r->hfinfo.strings = NULL;
            r->hfinfo.bitmask = node_flag_bits[i].mask;
            r->hfinfo.blurb = NULL;
            HFILL_INIT(*r);
            rc_nflag_fields[set][i] = &hf_rc_nflag[set][i];
        }
        rc_nflag_fields[set][RC_NFLAGS] = NULL;
    }
    static gint *ett[] = {&ett_rc, &ett_rc_flags, &ett_rc_mflags, &ett_rc_slots,
                          &ett_rc_gossip, &ett_rc_gossip_flags, &ett_rc_ext, &ett_rc_update_slots};
    static ei_register_info ei[] = {
        {&ei_rc_malformed, {"redis_cluster.malformed", PI_MALFORMED, PI_ERROR, "Malformed cluster bus message", EXPFILL}},
        {&ei_rc_version, {"redis_cluster.version_unknown", PI_PROTOCOL, PI_WARN,
                          "Bus version is not 1: a server drops the message", EXPFILL}},
        {&ei_rc_unknown_type, {"redis_cluster.unknown_type", PI_UNDECODED, PI_NOTE,
                               "Unknown message type (a server ignores it)", EXPFILL}},
        {&ei_rc_unknown_ext, {"redis_cluster.unknown_extension", PI_UNDECODED, PI_NOTE,
                              "Unknown ping extension (a server skips it)", EXPFILL}},
        {&ei_rc_ext_text, {"redis_cluster.ext_unterminated", PI_MALFORMED, PI_WARN,
                           "Extension text without its terminating NUL", EXPFILL}},
        {&ei_rc_bad_length, {"redis_cluster.bad_length", PI_MALFORMED, PI_ERROR, "Impossible total length", EXPFILL}},
        {&ei_rc_skipped, {"redis_cluster.skipped_bytes", PI_SEQUENCE, PI_WARN,
                          "Bytes that do not start a bus message (capture started mid-message, or lost data)", EXPFILL}},
        {&ei_rc_incomplete, {"redis_cluster.incomplete", PI_REASSEMBLE, PI_NOTE,
                             "Message continues in the next segment (reassembly is off)", EXPFILL}},
        {&ei_rc_truncated, {"redis_cluster.truncated", PI_UNDECODED, PI_NOTE,
                            "Message cut short by the capture (snap length)", EXPFILL}},
        {&ei_rc_not_shown, {"redis_cluster.not_shown", PI_UNDECODED, PI_NOTE, "Entries not shown in the tree", EXPFILL}},
        {&ei_rc_ext_without_flag, {"redis_cluster.ext_without_flag", PI_PROTOCOL, PI_NOTE,
                                   "Extension count set but the extension-data flag is not: a server reads none", EXPFILL}},
    };

    proto_rc = proto_register_protocol("Redis Cluster Bus", "Redis Cluster", "redis_cluster");
    proto_register_field_array(proto_rc, hf, array_length(hf));
    proto_register_field_array(proto_rc, hf_flags, array_length(hf_flags));
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert_register_protocol(proto_rc), ei, array_length(ei));

    module_t *module = prefs_register_protocol(proto_rc, NULL);
    prefs_register_bool_preference(module, "desegment",
                                   "Reassemble cluster bus messages spanning multiple TCP segments",
                                   "Whether messages spanning TCP segments are reassembled by their total "
                                   "length. TCP's \"Allow subdissectors to reassemble TCP streams\" must be on too.",
                                   &rc_desegment);
    prefs_register_uint_preference(module, "max_message_size", "Largest message (bytes)",
                                   "A total length above this is taken as not a message (and is not "
                                   "reassembled); PUBLISH messages are as long as what was published",
                                   10, &rc_max_len);
    prefs_register_enum_preference(module, "ext4", "Extension type 4",
                                   "Redis 8 sends its internal secret as extension 4, Valkey its client IPv4",
                                   &rc_ext4_mode, rc_ext4_enum, FALSE);

    rc_handle = register_dissector("redis_cluster", dissect_redis_cluster, proto_rc);
}

void proto_reg_handoff_redis_cluster(void)
{
    dissector_add_uint_with_preference("tcp.port", RC_DEFAULT_PORT, rc_handle);
    heur_dissector_add("tcp", dissect_redis_cluster_heur, "Redis Cluster bus over TCP", "redis_cluster_tcp",
                       proto_rc, HEURISTIC_ENABLE);
}
