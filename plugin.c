/* plugin.c — the plugin's entry points: version symbols and registration.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define WS_BUILD_DLL
#include "config-plugin.h"

#include <epan/proto.h>
#if RSP_HAVE_PLUGIN_DESCRIBE
#include <wsutil/plugins.h>
#endif

#include "packet-resp.h"
#include "packet-spipe.h"
#include "packet-redis-cluster.h"

#ifndef PLUGIN_VERSION
#define PLUGIN_VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);

#if RSP_HAVE_PLUGIN_DESCRIBE
/* The type `tshark -G plugins` shows ("dissector"). */
WS_DLL_PUBLIC uint32_t plugin_describe(void);

uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif

void plugin_register(void)
{
    static proto_plugin resp_plugin, spiped_plugin, redis_cluster_plugin;

    resp_plugin.register_protoinfo = proto_register_resp_plugin;
    resp_plugin.register_handoff = proto_reg_handoff_resp_plugin;
    proto_register_plugin(&resp_plugin);
    spiped_plugin.register_protoinfo = proto_register_spiped;
    spiped_plugin.register_handoff = proto_reg_handoff_spiped;
    proto_register_plugin(&spiped_plugin);
    redis_cluster_plugin.register_protoinfo = proto_register_redis_cluster;
    redis_cluster_plugin.register_handoff = proto_reg_handoff_redis_cluster;
    proto_register_plugin(&redis_cluster_plugin);
}
