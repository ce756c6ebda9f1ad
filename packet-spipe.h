/* packet-spipe.h — registration of the spiped dissector.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PACKET_SPIPE_H
#define PACKET_SPIPE_H

void proto_register_spiped(void);
void proto_reg_handoff_spiped(void);

#endif
