/* packet-resp.h — what other dissector files of the plugin use from packet-resp.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PACKET_RESP_H
#define PACKET_RESP_H

#include <epan/packet.h>

void proto_register_resp_plugin(void);
void proto_reg_handoff_resp_plugin(void);

/* The plugin's RESP handle, for dissectors that carry Redis (e.g. decrypted spiped). */
dissector_handle_t resp_dissector_handle(void);

#endif
