/* packet-resp-tap.h — what the RESP dissector hands its taps.
 *
 * Each message's facts are gathered once, whether or not a tree is built, and queued to the
 * tap "resp" as one record per frame: Wireshark queues at most 5000 tap records per frame,
 * and one 64 KB segment of pipelined "+OK" replies holds about 13 000 messages.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PACKET_RESP_TAP_H
#define PACKET_RESP_TAP_H

#include <epan/packet.h>

#include "core/resp_commands.h"
#include "core/resp_session.h"

/* One message. Strings are NUL-terminated, printable (binary bytes escaped) and live at
 * least as long as the frame's tap run. */
typedef struct {
    resp_msg_kind_t kind;    /* request, response, push, pub/sub, monitor, replication */
    gboolean to_server;      /* sent by the client (a request, a replica's ACK) */
    guint32 bytes;           /* the message's length on the wire */
    resp_type_t type;        /* its top-level RESP type; 0 when nothing was parsed */
    /* A request or replicated command: its own name. A response: the name of the request it
     * answers (NULL if unpaired). Canonical upper case; unknown names upper-cased. */
    const char *command;
    const char *subcommand;                 /* or NULL */
    const resp_command_info_t *command_info; /* top-level entry in the command table, or NULL */
    /* A request's keys, in argument order. A response: the first key of its request, if any. */
    guint n_keys;
    const char *const *keys;
    const char *error_code;  /* a top-level error reply's first word ("WRONGTYPE"), or NULL */
    const char *channel;     /* a delivered pub/sub message or PUBLISH: its channel, or NULL */
    /* A paired response: when the request was sent, its frame, and the response time. */
    gboolean paired;
    guint32 request_frame;
    nstime_t request_ts;
    nstime_t response_time;
} resp_tap_msg_t;

/* The record queued once per frame: every message of the frame, in order (also those of
 * a spiped tunnel's plaintext, whose addresses are the tunnel's). */
typedef struct {
    guint count;
    const resp_tap_msg_t *msgs;
} resp_tap_frame_t;

/* Export objects: records queued to the tap "resp_eo" (register_export_object's). */
typedef enum {
    RESP_EO_VALUE = 1, /* a bulk value of at least resp.export_min_size bytes, whole */
    RESP_EO_RDB_DATA,  /* bytes of a replication snapshot, in stream order */
} resp_eo_kind_t;

typedef struct {
    resp_eo_kind_t kind;
    guint32 frame;          /* where the value is; for a snapshot, where its data starts */
    const char *server;     /* "<address>:<port>" of the Redis server */
    const char *name;       /* a value: "<command>_<key>" (or "_reply" appended); a snapshot:
                               "rdb_<address>_<port>_<n>", n its number in the file */
    const guint8 *data;
    size_t length;
    /* RESP_EO_RDB_DATA */
    guint32 snapshot;       /* identifies the snapshot across frames (1, 2, ... in the file) */
    guint64 offset;         /* of data in the snapshot's stream bytes */
    gboolean end;           /* the snapshot ends in these bytes */
    guint64 total_length;   /* at the end: the payload's length; bytes past it (a diskless
                               snapshot's 40-byte EOF mark, also when split across records)
                               are no part of the object */
    gboolean lost_before;   /* bytes of the snapshot were lost before these (or cut by the
                               snap length): the object cannot be whole */
} resp_eo_record_t;

/* The preference resp.export_max_size: a snapshot larger than this is not exported. */
guint64 resp_export_max_size(void);

/* Registration of the taps' consumers, called from proto_register_resp_plugin. */
void resp_stats_register(int proto_resp);     /* packet-resp-stats.c: stats trees and SRT */
int resp_eo_register(int proto_resp);         /* packet-resp-eo.c: returns the "resp_eo" tap */

#endif
