/* packet-resp.h — what other dissector files of the plugin use from packet-resp.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PACKET_RESP_H
#define PACKET_RESP_H

#include <epan/packet.h>

void proto_register_resp_plugin(void);
void proto_reg_handoff_resp_plugin(void);

/* The plugin's RESP handle. */
dissector_handle_t resp_dissector_handle(void);

/* Whether h belongs to the resp protocol: ours, or the built-in's that ours stands in for
 * (find_dissector("resp") returns the built-in's from Wireshark 4.2 on). */
gboolean resp_is_resp_handle(dissector_handle_t h);

/* The same dissector for a byte stream another dissector reassembles (decrypted spiped):
 * pass a resp_stream_info_t as data. It honours pinfo->can_desegment like TCP's callers. */
typedef struct {
    gboolean gap_before;   /* bytes were lost before this data: resynchronise */
    guint64 stream_offset; /* position of the data's first byte in its direction's stream */
} resp_stream_info_t;
dissector_handle_t resp_stream_handle(void);

/* Whether bytes a client sent start with a Redis command (typed RESP, or an inline command
 * that is not an HTTP request line). */
gboolean resp_looks_like_command(const guint8 *p, size_t n);

/* The same, or a well-formed typed command whose name Redis 7 does not know (a module's):
 * enough where Redis is expected anyway, as inside a tunnel. */
gboolean resp_looks_like_request(const guint8 *p, size_t n);

#endif
