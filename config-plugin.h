/* config-plugin.h — included first by every dissector file of the plugin.
 *
 * Every difference between the Wireshark releases the plugin builds for (4.0, 4.2, 4.4, 4.6)
 * is settled here, so that the dissector files read the same on all of them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef CONFIG_PLUGIN_H
#define CONFIG_PLUGIN_H

#ifndef WS_LOG_DOMAIN
#define WS_LOG_DOMAIN "redis-spiped"
#endif

#include <wireshark.h>

#define RSP_WS_AT_LEAST(major, minor)                                                          \
    (WIRESHARK_VERSION_MAJOR > (major) ||                                                      \
     (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

#if RSP_WS_AT_LEAST(4, 2)
/* 4.2 moved callback and preference types from gboolean to bool: heuristic dissectors, UAT
 * update callbacks and the variables behind boolean preferences. */
typedef bool rsp_bool;
/* format_text() takes const char * from 4.2 on (const guchar * before). */
typedef char rsp_text_char;
/* 4.2 can show a plugin's type in `tshark -G plugins`. */
#define RSP_HAVE_PLUGIN_DESCRIBE 1
#else
typedef gboolean rsp_bool;
typedef guchar rsp_text_char;
#define RSP_HAVE_PLUGIN_DESCRIBE 0
/* The accessors were renamed in 4.2; the plugin uses the new names. */
#define tvb_get_uint8 tvb_get_guint8
#endif

/* register_follow_stream(): 4.2 added the stream count (the GUI's stream number box) and
 * sub-streams (the plugin has none). */
#if RSP_WS_AT_LEAST(4, 2)
#define rsp_register_follow_stream(proto, tap, conv, index, addr, port, listener, count)           \
    register_follow_stream((proto), (tap), (conv), (index), (addr), (port), (listener), (count), NULL)
#else
#define rsp_register_follow_stream(proto, tap, conv, index, addr, port, listener, count)           \
    register_follow_stream((proto), (tap), (conv), (index), (addr), (port), (listener))
#endif

/* Statistics trees: 4.4 (4.3 in development) made the register functions return the tree's
 * configuration, separates menu levels with STATS_TREE_MENU_SEPARATOR ("//", so that a name
 * may hold a "/") instead of "/", and lets the first column be named. */
#if RSP_WS_AT_LEAST(4, 4)
#define RSP_STATS_TREE_PATH(menu, item) menu STATS_TREE_MENU_SEPARATOR item
#define rsp_stats_tree_register_plugin(tap, abbr, path, flags, packet, init, cleanup, first_column)   \
    do {                                                                                            \
        stats_tree_cfg *rsp_cfg_ = stats_tree_register_plugin((tap), (abbr), (path), (flags),        \
                                                              (packet), (init), (cleanup));          \
        if (rsp_cfg_)                                                                               \
            stats_tree_set_first_column_name(rsp_cfg_, (first_column));                             \
    } while (0)
#else
#define RSP_STATS_TREE_PATH(menu, item) menu "/" item
#define rsp_stats_tree_register_plugin(tap, abbr, path, flags, packet, init, cleanup, first_column)   \
    do {                                                                                            \
        (void)(first_column);                                                                       \
        stats_tree_register_plugin((tap), (abbr), (path), (flags), (packet), (init), (cleanup));     \
    } while (0)
#endif

/* format_text() over raw bytes, whichever pointer type this release's prototype wants. */
#define rsp_format_text(pool, bytes, len) format_text((pool), (const rsp_text_char *)(bytes), (len))

#endif
