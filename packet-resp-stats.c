/* packet-resp-stats.c — statistics over the RESP dissector's tap "resp".
 *
 * Three statistics trees (Statistics > RESP > Commands / Keys / Clients in the GUI,
 * `-z resp,tree`, `-z resp_keys,tree`, `-z resp_clients,tree` in tshark) and a Service
 * Response Time table (Statistics > Service Response Time > RESP, `-z resp,srt`).
 *
 * The dissector queues one resp_tap_frame_t per frame holding every message of the frame (a
 * segment of pipelined replies holds thousands), so each callback walks the frame's messages
 * and does a few hash lookups per message; strings are built only where a node name needs one
 * (a key's prefix, a client's address once per frame).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config-plugin.h"

#include <string.h>

#include <epan/packet.h>
#include <epan/srt_table.h>
#include <epan/stats_tree.h>
#include <epan/tap.h>
#include <epan/to_str.h>

#include "core/resp_commands.h"
#include "core/resp_parse.h"
#include "packet-resp-tap.h"

/* Trees sort by count, largest first (the hottest command, key or client on top), in the GUI
 * and in tshark's output alike; ranges keep their own order. */
#define RSP_ST_FLAGS (ST_FLG_SORT_DESC | (ST_SORT_COL_COUNT << ST_FLG_SRTCOL_SHIFT))

static int resp_tap_id = -1;

/* ---- names ----------------------------------------------------------------------------
 * Root-level nodes are found by name in the tree's global name table, where every node that
 * has children is entered too; the root names below hold lower-case letters and spaces,
 * which no command name (canonical or upper-cased), address or error code has, and the keys
 * tree has no node with children, so no dynamic node can shadow a root node. */

/* RESP/Commands */
static const char st_requests[] = "Requests";
static const char st_replies[] = "Replies by type";
static const char st_errors[] = "Errors by code";
static const char st_pubsub[] = "Messages to subscribers by channel"; /* no "/": a root name is shown from its last "/" */
static const char st_published[] = "Published messages by channel";
static const char st_pushes[] = "Pushes by channel";
static const char st_monitor[] = "Monitor lines";
static const char st_replicated[] = "Replicated commands";
static const char st_bytes_srv[] = "Bytes to server by command";
static const char st_bytes_cli[] = "Bytes to client by command";
static const char st_rtime[] = "Response time (us) by command";
static const char st_rtime_all[] = "(all commands)";
/* RESP/Keys */
static const char st_key_reqs[] = "Requests by key";
static const char st_prefix_reqs[] = "Requests by key prefix";
static const char st_key_bytes[] = "Bytes by key";
static const char st_prefix_bytes[] = "Bytes by key prefix";
/* RESP/Clients */
static const char st_cli_reqs[] = "Requests by client";
static const char st_cli_errors[] = "Errors by client";
static const char st_cli_bytes_srv[] = "Bytes from client";
static const char st_cli_bytes_cli[] = "Bytes to client";

/* Pseudo command names (in parentheses: no command is spelt so). */
static const char st_unpaired[] = "(unpaired)";
static const char st_no_command[] = "(no command)";
static const char st_no_channel[] = "(no channel)";
static const char st_no_prefix[] = "(no prefix)";
static const char st_kind_pubsub[] = "(pub/sub message)";
static const char st_kind_push[] = "(push)";
static const char st_kind_monitor[] = "(monitor)";
static const char st_kind_replication[] = "(replication stream)";

/* Response-time ranges in microseconds: fine enough to read p50/p90/p99 of a local server
 * (tens of microseconds) and of a slow command (seconds). */
static const char *const rtime_ranges[] = {
    "0-49", "50-99", "100-199", "200-499", "500-999",
    "1000-1999", "2000-4999", "5000-9999", "10000-19999", "20000-49999",
    "50000-99999", "100000-199999", "200000-499999", "500000-999999", "1000000-",
};
#define N_RTIME_RANGES ((int)G_N_ELEMENTS(rtime_ranges))

/* ---- per-tree state --------------------------------------------------------------------
 * A stats tree has no user pointer; several windows of one tree may be open, each its own
 * stats_tree. Node ids of the root-level nodes and the commands whose response-time range
 * node exists are kept per stats_tree, reset by the init callback (run again when a tree is
 * reset) and dropped by the cleanup callback. */
typedef struct {
    int requests, replies, errors, pubsub, published, pushes, monitor, replicated;
    int bytes_srv, bytes_cli, rtime;
    GHashTable *rtime_commands; /* command name -> itself: its range node exists */
    int key_reqs, prefix_reqs, key_bytes, prefix_bytes;
    int cli_reqs, cli_errors, cli_bytes_srv, cli_bytes_cli;
} resp_st_ctx_t;

static GHashTable *st_contexts; /* stats_tree * -> resp_st_ctx_t * */

static resp_st_ctx_t *st_ctx_reset(stats_tree *st)
{
    if (!st_contexts)
        st_contexts = g_hash_table_new(g_direct_hash, g_direct_equal);
    resp_st_ctx_t *ctx = (resp_st_ctx_t *)g_hash_table_lookup(st_contexts, st);
    if (!ctx) {
        ctx = g_new0(resp_st_ctx_t, 1);
        ctx->rtime_commands = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(st_contexts, st, ctx);
    } else {
        g_hash_table_remove_all(ctx->rtime_commands);
    }
    return ctx;
}

static resp_st_ctx_t *st_ctx(stats_tree *st)
{
    return st_contexts ? (resp_st_ctx_t *)g_hash_table_lookup(st_contexts, st) : NULL;
}

static void st_cleanup(stats_tree *st)
{
    resp_st_ctx_t *ctx = st_ctx(st);
    if (ctx) {
        g_hash_table_remove(st_contexts, st);
        g_hash_table_destroy(ctx->rtime_commands);
        g_free(ctx);
    }
}

static int st_root(stats_tree *st, const char *name)
{
    return stats_tree_create_node(st, name, 0, STAT_DT_INT, TRUE);
}

/* Response time in microseconds, as a stats tree value (an int). */
static int rtime_us(const nstime_t *t)
{
    if (t->secs < 0 || (t->secs == 0 && t->nsecs < 0))
        return 0;
    if (t->secs >= G_MAXINT / 1000000 - 1)
        return G_MAXINT;
    return (int)(t->secs * 1000000 + t->nsecs / 1000);
}

/* The first key of a message: a request's, or, for a reply, the first key of its request. */
static const char *first_key(const resp_tap_msg_t *m)
{
    return (m->n_keys > 0 && m->keys) ? m->keys[0] : NULL;
}

/* ---- RESP/Commands -------------------------------------------------------------------- */

static void commands_init(stats_tree *st)
{
    resp_st_ctx_t *ctx = st_ctx_reset(st);
    ctx->requests = st_root(st, st_requests);
    ctx->replies = st_root(st, st_replies);
    ctx->errors = st_root(st, st_errors);
    ctx->rtime = st_root(st, st_rtime);
    ctx->bytes_srv = st_root(st, st_bytes_srv);
    ctx->bytes_cli = st_root(st, st_bytes_cli);
    ctx->pubsub = st_root(st, st_pubsub);
    ctx->published = st_root(st, st_published);
    ctx->pushes = st_root(st, st_pushes);
    ctx->monitor = stats_tree_create_node(st, st_monitor, 0, STAT_DT_INT, FALSE);
    ctx->replicated = st_root(st, st_replicated);
}

/* One paired reply's response time: the command's range node (created with its ranges the
 * first time the command is seen) and the all-commands one. A range node's own count is
 * ticked here; stats_tree_tick_range() adds the value to its average, minimum and maximum
 * and ticks the range that holds it. */
static void commands_rtime(stats_tree *st, resp_st_ctx_t *ctx, const char *cmd, int us)
{
    tick_stat_node(st, st_rtime, 0, TRUE);
    const char *names[2] = { st_rtime_all, cmd };
    for (int i = 0; i < 2; i++) {
        if (!g_hash_table_contains(ctx->rtime_commands, names[i])) {
            stats_tree_create_range_node_string(st, names[i], ctx->rtime, N_RTIME_RANGES,
                                                (char **)rtime_ranges);
            g_hash_table_add(ctx->rtime_commands, g_strdup(names[i]));
        }
        tick_stat_node(st, names[i], ctx->rtime, FALSE);
        stats_tree_tick_range(st, names[i], ctx->rtime, us);
    }
}

static tap_packet_status commands_packet(stats_tree *st, packet_info *pinfo _U_,
                                         epan_dissect_t *edt _U_, const void *data,
                                         tap_flags_t flags _U_)
{
    const resp_tap_frame_t *rec = (const resp_tap_frame_t *)data;
    resp_st_ctx_t *ctx = st_ctx(st);
    if (!rec || !ctx)
        return TAP_PACKET_DONT_REDRAW;

    for (guint i = 0; i < rec->count; i++) {
        const resp_tap_msg_t *m = &rec->msgs[i];
        const char *cmd = m->command;
        int bytes = (int)MIN(m->bytes, (guint32)G_MAXINT);
        switch (m->kind) {
        case RESP_MSG_REQUEST: {
            const char *name = cmd ? cmd : st_no_command;
            tick_stat_node(st, st_requests, 0, TRUE);
            int id = tick_stat_node(st, name, ctx->requests, TRUE);
            if (m->subcommand)
                tick_stat_node(st, m->subcommand, id, FALSE);
            if (m->channel) {
                tick_stat_node(st, st_published, 0, TRUE);
                tick_stat_node(st, m->channel, ctx->published, FALSE);
            }
            break;
        }
        case RESP_MSG_RESPONSE:
            tick_stat_node(st, st_replies, 0, TRUE);
            tick_stat_node(st, m->type ? resp_type_name(m->type) : "(not parsed)", ctx->replies,
                           FALSE);
            if (m->error_code) {
                tick_stat_node(st, st_errors, 0, TRUE);
                tick_stat_node(st, m->error_code, ctx->errors, FALSE);
            }
            break;
        case RESP_MSG_PUBSUB:
            tick_stat_node(st, st_pubsub, 0, TRUE);
            tick_stat_node(st, m->channel ? m->channel : st_no_channel, ctx->pubsub, FALSE);
            break;
        case RESP_MSG_PUSH:
            tick_stat_node(st, st_pushes, 0, TRUE);
            tick_stat_node(st, m->channel ? m->channel : st_no_channel, ctx->pushes, FALSE);
            break;
        case RESP_MSG_MONITOR:
            tick_stat_node(st, st_monitor, 0, FALSE);
            break;
        case RESP_MSG_REPLICATION:
            tick_stat_node(st, st_replicated, 0, TRUE);
            tick_stat_node(st, cmd ? cmd : st_no_command, ctx->replicated, FALSE);
            break;
        }

        /* Bytes by direction: a request's to its command, a reply's to the command it
         * answers; what the server sends unasked to its kind. */
        const char *bname;
        if (m->to_server) {
            bname = cmd ? cmd : st_no_command;
        } else {
            switch (m->kind) {
            case RESP_MSG_RESPONSE: bname = cmd ? cmd : st_unpaired; break;
            case RESP_MSG_PUBSUB: bname = st_kind_pubsub; break;
            case RESP_MSG_PUSH: bname = st_kind_push; break;
            case RESP_MSG_MONITOR: bname = st_kind_monitor; break;
            case RESP_MSG_REPLICATION: bname = st_kind_replication; break;
            default: bname = cmd ? cmd : st_no_command; break;
            }
        }
        const char *bparent = m->to_server ? st_bytes_srv : st_bytes_cli;
        increase_stat_node(st, bparent, 0, TRUE, bytes);
        increase_stat_node(st, bname, m->to_server ? ctx->bytes_srv : ctx->bytes_cli, FALSE, bytes);

        /* Every paired reply once: its response time. */
        if (m->paired)
            commands_rtime(st, ctx, cmd ? cmd : st_no_command, rtime_us(&m->response_time));
    }
    return rec->count ? TAP_PACKET_REDRAW : TAP_PACKET_DONT_REDRAW;
}

/* ---- RESP/Keys ------------------------------------------------------------------------ */

static void keys_init(stats_tree *st)
{
    resp_st_ctx_t *ctx = st_ctx_reset(st);
    ctx->key_reqs = st_root(st, st_key_reqs);
    ctx->prefix_reqs = st_root(st, st_prefix_reqs);
    ctx->key_bytes = st_root(st, st_key_bytes);
    ctx->prefix_bytes = st_root(st, st_prefix_bytes);
}

/* "user:*" for "user:42"; NULL (no prefix) for a key without ':'. */
static const char *key_prefix(wmem_allocator_t *pool, const char *key)
{
    const char *colon = strchr(key, ':');
    if (!colon)
        return NULL;
    size_t n = (size_t)(colon - key) + 1;
    char *p = (char *)wmem_alloc(pool, n + 2);
    memcpy(p, key, n);
    p[n] = '*';
    p[n + 1] = '\0';
    return p;
}

static gboolean same_prefix(const char *a, const char *b)
{
    const char *ca = strchr(a, ':'), *cb = strchr(b, ':');
    if (!ca || !cb)
        return !ca && !cb;
    return ca - a == cb - b && memcmp(a, b, (size_t)(ca - a)) == 0;
}

/* Requests by key and by prefix: a request counts once for each distinct key and each
 * distinct prefix it names (MSET a 1 a 2 is one request of a). */
static void keys_request(stats_tree *st, resp_st_ctx_t *ctx, packet_info *pinfo,
                         const resp_tap_msg_t *m)
{
    GHashTable *seen = NULL, *seen_prefix = NULL;
    if (m->n_keys > 16) {
        seen = g_hash_table_new(g_str_hash, g_str_equal);
        seen_prefix = g_hash_table_new(g_str_hash, g_str_equal);
    }
    for (guint k = 0; k < m->n_keys; k++) {
        const char *key = m->keys[k];
        if (!key)
            continue;
        gboolean dup_key = FALSE, dup_prefix = FALSE;
        const char *prefix = key_prefix(pinfo->pool, key);
        const char *pname = prefix ? prefix : st_no_prefix;
        if (seen) {
            dup_key = !g_hash_table_add(seen, (gpointer)key);
            dup_prefix = !g_hash_table_add(seen_prefix, (gpointer)pname);
        } else {
            for (guint j = 0; j < k && !(dup_key && dup_prefix); j++) {
                if (!m->keys[j])
                    continue;
                if (strcmp(m->keys[j], key) == 0)
                    dup_key = TRUE;
                if (same_prefix(m->keys[j], key))
                    dup_prefix = TRUE;
            }
        }
        if (!dup_key) {
            tick_stat_node(st, st_key_reqs, 0, TRUE);
            tick_stat_node(st, key, ctx->key_reqs, FALSE);
        }
        if (!dup_prefix) {
            tick_stat_node(st, st_prefix_reqs, 0, TRUE);
            tick_stat_node(st, pname, ctx->prefix_reqs, FALSE);
        }
    }
    if (seen) {
        g_hash_table_destroy(seen);
        g_hash_table_destroy(seen_prefix);
    }
}

static tap_packet_status keys_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt _U_,
                                     const void *data, tap_flags_t flags _U_)
{
    const resp_tap_frame_t *rec = (const resp_tap_frame_t *)data;
    resp_st_ctx_t *ctx = st_ctx(st);
    gboolean changed = FALSE;
    if (!rec || !ctx)
        return TAP_PACKET_DONT_REDRAW;

    for (guint i = 0; i < rec->count; i++) {
        const resp_tap_msg_t *m = &rec->msgs[i];
        const char *key = first_key(m);
        if (!key || (m->kind != RESP_MSG_REQUEST && m->kind != RESP_MSG_RESPONSE))
            continue;
        changed = TRUE;
        if (m->kind == RESP_MSG_REQUEST)
            keys_request(st, ctx, pinfo, m);
        /* Bytes of a request, and of the replies to it, go to its first key. */
        int bytes = (int)MIN(m->bytes, (guint32)G_MAXINT);
        const char *prefix = key_prefix(pinfo->pool, key);
        increase_stat_node(st, st_key_bytes, 0, TRUE, bytes);
        increase_stat_node(st, key, ctx->key_bytes, FALSE, bytes);
        increase_stat_node(st, st_prefix_bytes, 0, TRUE, bytes);
        increase_stat_node(st, prefix ? prefix : st_no_prefix, ctx->prefix_bytes, FALSE, bytes);
    }
    return changed ? TAP_PACKET_REDRAW : TAP_PACKET_DONT_REDRAW;
}

/* ---- RESP/Clients --------------------------------------------------------------------- */

static void clients_init(stats_tree *st)
{
    resp_st_ctx_t *ctx = st_ctx_reset(st);
    ctx->cli_reqs = st_root(st, st_cli_reqs);
    ctx->cli_errors = st_root(st, st_cli_errors);
    ctx->cli_bytes_srv = st_root(st, st_cli_bytes_srv);
    ctx->cli_bytes_cli = st_root(st, st_cli_bytes_cli);
}

static tap_packet_status clients_packet(stats_tree *st, packet_info *pinfo,
                                        epan_dissect_t *edt _U_, const void *data,
                                        tap_flags_t flags _U_)
{
    const resp_tap_frame_t *rec = (const resp_tap_frame_t *)data;
    resp_st_ctx_t *ctx = st_ctx(st);
    const char *src = NULL, *dst = NULL; /* the frame's addresses, named once */
    if (!rec || !ctx)
        return TAP_PACKET_DONT_REDRAW;

    for (guint i = 0; i < rec->count; i++) {
        const resp_tap_msg_t *m = &rec->msgs[i];
        const char *client;
        if (m->to_server)
            client = src ? src : (src = address_to_str(pinfo->pool, &pinfo->src));
        else
            client = dst ? dst : (dst = address_to_str(pinfo->pool, &pinfo->dst));
        int bytes = (int)MIN(m->bytes, (guint32)G_MAXINT);

        if (m->kind == RESP_MSG_REQUEST) {
            tick_stat_node(st, st_cli_reqs, 0, TRUE);
            int id = tick_stat_node(st, client, ctx->cli_reqs, TRUE);
            tick_stat_node(st, m->command ? m->command : st_no_command, id, FALSE);
        }
        if (m->kind == RESP_MSG_RESPONSE && m->error_code) {
            tick_stat_node(st, st_cli_errors, 0, TRUE);
            int id = tick_stat_node(st, client, ctx->cli_errors, TRUE);
            tick_stat_node(st, m->error_code, id, FALSE);
        }
        if (m->to_server) {
            increase_stat_node(st, st_cli_bytes_srv, 0, TRUE, bytes);
            increase_stat_node(st, client, ctx->cli_bytes_srv, FALSE, bytes);
        } else {
            increase_stat_node(st, st_cli_bytes_cli, 0, TRUE, bytes);
            increase_stat_node(st, client, ctx->cli_bytes_cli, FALSE, bytes);
        }
    }
    return rec->count ? TAP_PACKET_REDRAW : TAP_PACKET_DONT_REDRAW;
}

/* ---- Service Response Time ------------------------------------------------------------
 * One row per top-level command of the command table, in its (name) order, and a last row
 * for commands it does not know. */

static GHashTable *srt_rows; /* const resp_command_info_t * -> row + 1 */
static int srt_n_commands;

static void resp_srt_init(struct register_srt *srt _U_, GArray *srt_array)
{
    srt_stat_table *t = init_srt_table("RESP Commands", NULL, srt_array, srt_n_commands + 1,
                                       "Command", NULL, NULL);
    for (int i = 0; i < srt_n_commands; i++)
        init_srt_table_row(t, i, resp_command_name(resp_command_at((size_t)i)));
    init_srt_table_row(t, srt_n_commands, "(unknown)");
}

static tap_packet_status resp_srt_packet(void *pss, packet_info *pinfo, epan_dissect_t *edt _U_,
                                         const void *data, tap_flags_t flags _U_)
{
    srt_data_t *sd = (srt_data_t *)pss;
    const resp_tap_frame_t *rec = (const resp_tap_frame_t *)data;
    gboolean changed = FALSE;
    if (!rec || !sd || sd->srt_array->len == 0)
        return TAP_PACKET_DONT_REDRAW;
    srt_stat_table *t = g_array_index(sd->srt_array, srt_stat_table *, 0);

    for (guint i = 0; i < rec->count; i++) {
        const resp_tap_msg_t *m = &rec->msgs[i];
        if (!m->paired)
            continue;
        gpointer row = m->command_info ? g_hash_table_lookup(srt_rows, m->command_info) : NULL;
        /* The delta is taken from pinfo->abs_ts, the time of the frame every message of the
         * record is in: the reply's. */
        add_srt_table_data(t, row ? GPOINTER_TO_INT(row) - 1 : srt_n_commands, &m->request_ts, pinfo);
        changed = TRUE;
    }
    return changed ? TAP_PACKET_REDRAW : TAP_PACKET_DONT_REDRAW;
}

/* ---- registration --------------------------------------------------------------------- */

static void register_tree(const char *abbr, const char *path, stat_tree_packet_cb packet,
                          stat_tree_init_cb init, const char *first_column)
{
    rsp_stats_tree_register_plugin("resp", abbr, path, RSP_ST_FLAGS, packet, init, st_cleanup, first_column);
}

void resp_stats_register(int proto_resp)
{
    resp_tap_id = register_tap("resp"); /* the dissector's tap: the same id */

    srt_n_commands = (int)resp_command_count();
    srt_rows = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int i = 0; i < srt_n_commands; i++)
        g_hash_table_insert(srt_rows, (gpointer)resp_command_at((size_t)i), GINT_TO_POINTER(i + 1));
    register_srt_table(proto_resp, "resp", 1, resp_srt_packet, resp_srt_init, NULL);

    /* Plugin trees: the GUI lists those under Statistics (a tree registered like a built-in
     * one appears only where the GUI has a menu entry for it). */
    register_tree("resp", RSP_STATS_TREE_PATH("RESP", "Commands"), commands_packet, commands_init,
                  "Command / Item");
    register_tree("resp_keys", RSP_STATS_TREE_PATH("RESP", "Keys"), keys_packet, keys_init, "Key");
    register_tree("resp_clients", RSP_STATS_TREE_PATH("RESP", "Clients"), clients_packet, clients_init,
                  "Client");
}
