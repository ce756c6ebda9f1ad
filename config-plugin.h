/* config-plugin.h — included first by every dissector file of the plugin.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef CONFIG_PLUGIN_H
#define CONFIG_PLUGIN_H

#ifndef WS_LOG_DOMAIN
#define WS_LOG_DOMAIN "redis-spiped"
#endif

#include <wireshark.h>

/* Wireshark 4.2 renamed a few things; keep version differences here. */
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
#define RSP_HEUR_BOOL bool
#else
#define RSP_HEUR_BOOL gboolean
#endif

#endif
