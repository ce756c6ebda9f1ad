/* redis_cluster_bus.h — the Redis / Valkey Cluster bus (node-to-node messages on the
 * cluster port, usually the client port + 10000), independent of Wireshark.
 *
 * Every message starts with the 4 bytes "RCmb" and a 32-bit total length, so a stream is
 * framed by rcb_probe(); rcb_parse() then validates one whole message and fills an
 * rcb_msg_t with values and offsets (into the message) of its variable parts. Gossip
 * entries, extensions and slot ranges are walked with index functions. Nothing allocates;
 * every count and length that comes from the wire is checked against the message length.
 *
 * Layout (all integers big-endian):
 *   full header (2256 bytes): sig, totlen, ver, port, type, count, currentEpoch, configEpoch,
 *     offset, sender[40], myslots[2048], replicaof[40], myip[46], extensions, 30 unused,
 *     pport, cport, flags, state, mflags[3]; then the body of the type.
 *   light header (16 bytes, Valkey 8.0+, type | 0x8000, PUBLISH/PUBLISHSHARD/MODULE only):
 *     sig, totlen, ver, 2 unused, type, 2 unused; then the body.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef REDIS_CLUSTER_BUS_H
#define REDIS_CLUSTER_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RCB_SIGNATURE "RCmb"
#define RCB_VERSION 1           /* the only bus version Redis and Valkey have had */
#define RCB_NAMELEN 40          /* node names, shard ids: hex SHA-1, not NUL-terminated */
#define RCB_IPLEN 46            /* NUL-padded text */
#define RCB_SLOTS 16384
#define RCB_SLOTS_BYTES (RCB_SLOTS / 8)
#define RCB_HDR_LEN 2256        /* full header; the body of each type follows */
#define RCB_LIGHT_HDR_LEN 16
#define RCB_GOSSIP_LEN 104      /* one gossip entry */
#define RCB_EXT_HDR_LEN 8       /* length (4), type (2), unused (2) */
#define RCB_LIGHT_FLAG 0x8000   /* type bit of a light-header message */
#define RCB_MIN_LEN 16          /* shortest totlen a server accepts at all */

/* Offsets in the full header. */
enum {
    RCB_OFF_TOTLEN = 4,
    RCB_OFF_VER = 8,
    RCB_OFF_PORT = 10,
    RCB_OFF_TYPE = 12,
    RCB_OFF_COUNT = 14,
    RCB_OFF_CURRENT_EPOCH = 16,
    RCB_OFF_CONFIG_EPOCH = 24,
    RCB_OFF_OFFSET = 32,
    RCB_OFF_SENDER = 40,
    RCB_OFF_MYSLOTS = 80,
    RCB_OFF_REPLICAOF = 2128,
    RCB_OFF_MYIP = 2168,
    RCB_OFF_EXTENSIONS = 2214,
    RCB_OFF_UNUSED = 2216,
    RCB_OFF_PPORT = 2246,
    RCB_OFF_CPORT = 2248,
    RCB_OFF_FLAGS = 2250,
    RCB_OFF_STATE = 2252,
    RCB_OFF_MFLAGS = 2253,
};

/* Offsets inside one gossip entry. */
enum {
    RCB_GOFF_NAME = 0,
    RCB_GOFF_PING_SENT = 40,
    RCB_GOFF_PONG_RECEIVED = 44,
    RCB_GOFF_IP = 48,
    RCB_GOFF_PORT = 94,
    RCB_GOFF_CPORT = 96,
    RCB_GOFF_FLAGS = 98,
    RCB_GOFF_PPORT = 100,
    RCB_GOFF_UNUSED = 102,
};

typedef enum {
    RCB_TYPE_PING = 0,
    RCB_TYPE_PONG = 1,
    RCB_TYPE_MEET = 2,
    RCB_TYPE_FAIL = 3,
    RCB_TYPE_PUBLISH = 4,
    RCB_TYPE_FAILOVER_AUTH_REQUEST = 5,
    RCB_TYPE_FAILOVER_AUTH_ACK = 6,
    RCB_TYPE_UPDATE = 7,
    RCB_TYPE_MFSTART = 8,
    RCB_TYPE_MODULE = 9,
    RCB_TYPE_PUBLISHSHARD = 10,
    RCB_TYPE_COUNT = 11,
} rcb_type_t;

/* Node flags (header and gossip). Bits 11-13 exist in Valkey only. */
#define RCB_NODE_PRIMARY 0x0001
#define RCB_NODE_REPLICA 0x0002
#define RCB_NODE_PFAIL 0x0004
#define RCB_NODE_FAIL 0x0008
#define RCB_NODE_MYSELF 0x0010
#define RCB_NODE_HANDSHAKE 0x0020
#define RCB_NODE_NOADDR 0x0040
#define RCB_NODE_MEET 0x0080
#define RCB_NODE_MIGRATE_TO 0x0100
#define RCB_NODE_NOFAILOVER 0x0200
#define RCB_NODE_EXTENSIONS 0x0400
#define RCB_NODE_LIGHT_PUBLISH 0x0800     /* Valkey 8.0+ */
#define RCB_NODE_LIGHT_MODULE 0x1000      /* Valkey 8.1+ (also: handles multi-MEET) */
#define RCB_NODE_MY_PRIMARY_FAIL 0x2000   /* Valkey 8.1+ */
#define RCB_NODE_VALKEY_ONLY (RCB_NODE_LIGHT_PUBLISH | RCB_NODE_LIGHT_MODULE | RCB_NODE_MY_PRIMARY_FAIL)

/* mflags[0] */
#define RCB_MFLAG0_PAUSED 0x01
#define RCB_MFLAG0_FORCEACK 0x02
#define RCB_MFLAG0_EXT_DATA 0x04

/* Ping extension types. 0-3 are the same in Redis (7.0: 0 only; 7.2+: 0-4) and Valkey;
 * 4 is INTERNALSECRET in Redis 8 and CLIENT_IPV4 in Valkey; 5-8 are Valkey's. */
typedef enum {
    RCB_EXT_HOSTNAME = 0,
    RCB_EXT_HUMAN_NODENAME = 1,
    RCB_EXT_FORGOTTEN_NODE = 2,
    RCB_EXT_SHARD_ID = 3,
    RCB_EXT_TYPE4 = 4, /* see rcb_ext_type4_kind() */
    RCB_EXT_CLIENT_IPV6 = 5,
    RCB_EXT_CLIENT_PORT = 6,
    RCB_EXT_CLIENT_TLS_PORT = 7,
    RCB_EXT_AVAILABILITY_ZONE = 8,
} rcb_ext_type_t;

/* Which server family a message most likely comes from (for extension type 4). */
typedef enum {
    RCB_FLAVOR_UNKNOWN = 0,
    RCB_FLAVOR_REDIS,
    RCB_FLAVOR_VALKEY,
} rcb_flavor_t;

/* What an extension of type 4 holds. */
typedef enum {
    RCB_EXT4_INTERNAL_SECRET = 0, /* Redis 8: 40 bytes */
    RCB_EXT4_CLIENT_IPV4,         /* Valkey: NUL-terminated text */
} rcb_ext4_kind_t;

typedef enum {
    RCB_ERR_NONE = 0,
    RCB_ERR_SHORT,              /* fewer bytes than the header (or totlen) needs */
    RCB_ERR_SIGNATURE,          /* not "RCmb" */
    RCB_ERR_TOTLEN,             /* totlen below the header of its kind, or not the buffer's size */
    RCB_ERR_VERSION,            /* ver != 1: a server drops such a message */
    RCB_ERR_LIGHT_TYPE,         /* light header on a type that has none */
    RCB_ERR_GOSSIP_COUNT,       /* count gossip entries do not fit in totlen */
    RCB_ERR_EXT_TRUNCATED,      /* an extension header or its length runs past totlen */
    RCB_ERR_EXT_LENGTH,         /* an extension length < 8 or not a multiple of 8 */
    RCB_ERR_PUBLISH_LENGTH,     /* channel/message lengths run past totlen */
    RCB_ERR_MODULE_LENGTH,      /* module payload length runs past totlen */
    RCB_ERR_LENGTH_MISMATCH,    /* totlen differs from what the type's fields add up to */
    RCB_ERR_COUNT_
} rcb_err_t;

/* One parsed message. Offsets are from the message start; *_len are byte counts. */
typedef struct {
    uint32_t totlen;
    uint16_t version;
    uint16_t type_raw;          /* as on the wire */
    uint16_t type;              /* without the light bit */
    bool light;
    bool known_type;            /* type < RCB_TYPE_COUNT */

    /* Full header only (light: zero). */
    uint16_t port, count, pport, cport, flags, extensions;
    uint64_t current_epoch, config_epoch, repl_offset;
    uint8_t state;
    uint8_t mflags[3];
    bool has_replicaof;         /* replicaof not all zero */
    unsigned slot_count;        /* slots set in myslots */

    size_t body_off;            /* RCB_HDR_LEN or RCB_LIGHT_HDR_LEN */

    /* PING/PONG/MEET */
    size_t gossip_off;          /* count entries of RCB_GOSSIP_LEN */
    size_t ext_off, ext_len;    /* the extension area (ext_len 0 without EXT_DATA) */
    unsigned ext_seen;          /* extensions validated (== extensions when all is well) */
    /* PUBLISH/PUBLISHSHARD */
    uint32_t channel_len, message_len;
    size_t channel_off, message_off;
    /* MODULE */
    uint64_t module_id;
    uint32_t module_len;
    uint8_t module_type;
    size_t module_off;
    /* FAIL: node name at fail_node_off. UPDATE: epoch, name, bitmap. */
    size_t fail_node_off;
    uint64_t update_config_epoch;
    size_t update_node_off, update_slots_off;
    unsigned update_slot_count;

    /* Extra bytes after what the type defines (unknown types: the whole body). */
    size_t trailing_off, trailing_len;

    rcb_err_t err;
    size_t err_off;             /* where the problem is (for pointing at it) */
} rcb_msg_t;

typedef enum {
    RCB_PROBE_NO = 0,   /* not a bus message start */
    RCB_PROBE_MORE,     /* could be; need more bytes to tell (the signature is cut short) */
    RCB_PROBE_YES,      /* a bus message start; *totlen set */
} rcb_probe_t;

/* Does buf (len bytes available, at least the start of a message) begin a bus message?
 * YES needs the signature, totlen in [the header size of the type, max_len], version 1 and
 * (from 14 bytes on) a type with a defined meaning (light bit only on the three types that
 * have a light header). Fewer than 14 bytes: the checks the bytes allow; fewer than 8: MORE
 * while they match the signature. */
rcb_probe_t rcb_probe(const uint8_t *buf, size_t len, uint32_t max_len, uint32_t *totlen);
/* The same with strict == false: only the signature and 16 <= totlen <= max_len, for
 * framing a stream already known to be the bus (unknown types and versions still frame). */
rcb_probe_t rcb_probe_ex(const uint8_t *buf, size_t len, uint32_t max_len, bool strict, uint32_t *totlen);

/* Parse one whole message: buf holds exactly len bytes, which should equal its totlen.
 * Fills *m as far as the bytes allow and returns m->err (RCB_ERR_NONE: valid as a server
 * validates it). Offsets in *m never point outside [0, len). */
rcb_err_t rcb_parse(const uint8_t *buf, size_t len, rcb_msg_t *m);

/* Gossip entry i (< m->count; only when the count fit): its offset, or 0 if out of range. */
size_t rcb_gossip_offset(const rcb_msg_t *m, unsigned i);

typedef struct {
    size_t off;           /* of the extension header */
    uint32_t length;      /* declared, header included */
    uint16_t type;
    size_t data_off;      /* payload (after the 8-byte header) */
    size_t data_len;      /* length - 8 */
} rcb_ext_t;

/* Extension i (< m->ext_seen) of a parsed message; false when out of range. */
bool rcb_ext_get(const uint8_t *buf, const rcb_msg_t *m, unsigned i, rcb_ext_t *ext);

/* The text of a string-valued extension: bytes up to the first NUL (or the whole payload
 * if it has none; *terminated then says false). */
size_t rcb_ext_text_len(const uint8_t *buf, const rcb_ext_t *ext, bool *terminated);

/* Guess the server family from the sender's flags and the extensions sent. */
rcb_flavor_t rcb_guess_flavor(const uint8_t *buf, const rcb_msg_t *m);

/* What a type-4 extension holds: `hint` forces an answer (REDIS, VALKEY); UNKNOWN decides
 * by its shape (a Redis secret is exactly 40 bytes of hex, a Valkey IPv4 text ends in NUL). */
rcb_ext4_kind_t rcb_ext_type4_kind(const uint8_t *buf, const rcb_ext_t *ext, rcb_flavor_t hint);

/* Slot ranges of a 2048-byte bitmap (slot s is bit s%8 of byte s/8): the first range at or
 * after slot `from`. Returns false when there is none. */
bool rcb_slot_range_next(const uint8_t *bitmap, unsigned from, unsigned *first, unsigned *last);
unsigned rcb_slot_count(const uint8_t *bitmap);

/* Whether a 40-byte name field is all zero (no node). */
bool rcb_name_is_null(const uint8_t *name);

const char *rcb_type_name(uint16_t type);          /* NULL for unknown types */
const char *rcb_ext_type_name(uint16_t type, rcb_flavor_t flavor); /* NULL for unknown */
const char *rcb_err_string(rcb_err_t err);

uint16_t rcb_get16(const uint8_t *p);
uint32_t rcb_get32(const uint8_t *p);
uint64_t rcb_get64(const uint8_t *p);

#endif
