/* packet-resp.c — Redis RESP2/RESP3 and inline commands, glued to Wireshark's tree.
 *
 * Framing and tokenizing live in core/resp_parse.c, command knowledge (names, subcommands,
 * key positions) in core/resp_commands.c; this file does streams, pairing and display.
 *
 * Wireshark 4.0 ships a basic "resp" protocol. Registering a second one aborts, so this plugin
 * adopts it: same protocol id, same preference module, fields with the same names and types,
 * and our handle takes the built-in's place on tcp.port 6379 and in Decode As.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config-plugin.h"

#include <epan/conversation.h>
#include <epan/exceptions.h>
#include <epan/expert.h>
#include <epan/show_exception.h>
#include <epan/packet.h>
#include <epan/prefs-int.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/strutil.h>
#include <epan/tap.h>
#include <epan/to_str.h>
#include <epan/dissectors/packet-tcp.h>

#include "core/resp_auth.h"
#include "core/resp_cluster.h"
#include "core/resp_commands.h"
#include "core/resp_parse.h"
#include "core/resp_sentinel.h"
#include "core/resp_session.h"
#include "packet-resp.h"
#include "packet-resp-tap.h"

#define RESP_DEFAULT_PORT 6379
#define RESP_INFO_ARG_MAX 32 /* characters of one argument in the Info column */
#define RESP_INFO_ARGS_MAX 8 /* arguments listed in the Info column */
#define RESP_DESEGMENT_CAP 0x0ffffff0u /* below DESEGMENT_UNTIL_FIN */
#define RESP_EXACT_NEED_MIN 4096 /* bytes missing from one value that make waiting for them worth it */
#define RESP_LONG_LINE 65536 /* an unfinished reply line this long is shown as it comes */
#define RESP_BOUND_NEED_MIN 16384 /* a lower bound of the missing bytes worth asking TCP for */
/* A lower bound lands inside a later segment, which TCP then splits between two steps of the
 * reassembly; Wireshark 4.0 cannot replay a message completed in such a split segment on
 * later passes (a 140 KB MSET of Redis's test suite vanished with -2). Below this size the
 * message grows by whole segments instead, whose cost (TCP rebuilds the buffer each time) is
 * still small. */
#define RESP_BOUND_ASK_FROM (1024u * 1024u)

static int proto_resp = -1;
static dissector_handle_t resp_handle;
static gboolean resp_registered_here; /* this Wireshark has no built-in RESP dissector */
static dissector_handle_t resp_stream_entry; /* for decrypted streams, see packet-resp.h */
/* Redis 8 replication: "<server>:<port>/<client id>" of +RDBCHANNELSYNC -> that resp_conv_t */
static wmem_map_t *resp_rdb_channel_mains;
/* What request records point to, one copy each (file scope): command identities by table
 * entry and by name, first keys by their bytes; and the credentials of requests */
static wmem_map_t *resp_cmd_ids_by_info;
static wmem_map_t *resp_cmd_ids_by_name;
static wmem_map_t *resp_keys;
static wmem_map_t *resp_credentials; /* resp_request_t * -> resp_cred_t * */

/* Taps: "resp" (one resp_tap_frame_t per frame), "resp_eo" (export objects) and Wireshark's
 * "credentials" */
static int resp_tap = -1;
static int resp_eo_tap = -1;
static int resp_credentials_tap = -1;
static guint32 resp_snapshots; /* snapshots seen in the file so far (first pass) */

/* Fields shared with the built-in dissector: same names, same types. */
static int hf_resp_string = -1;
static int hf_resp_error = -1;
static int hf_resp_bulk_string = -1;
static int hf_resp_bulk_string_length = -1;
static int hf_resp_bulk_string_value = -1;
static int hf_resp_integer = -1;
static int hf_resp_array = -1;
static int hf_resp_array_length = -1;
/* RESP3 types */
static int hf_resp_null = -1;
static int hf_resp_boolean = -1;
static int hf_resp_double = -1;
static int hf_resp_big_number = -1;
static int hf_resp_bulk_error = -1;
static int hf_resp_verbatim = -1;
static int hf_resp_verbatim_format = -1;
static int hf_resp_map = -1;
static int hf_resp_map_length = -1;
static int hf_resp_set = -1;
static int hf_resp_set_length = -1;
static int hf_resp_attribute = -1;
static int hf_resp_attribute_length = -1;
static int hf_resp_push = -1;
static int hf_resp_push_length = -1;
static int hf_resp_inline = -1;
/* Message level */
static int hf_resp_request = -1;
static int hf_resp_response = -1;
static int hf_resp_pubsub_message = -1;
static int hf_resp_monitor = -1;
static int hf_resp_command = -1;
static int hf_resp_subcommand = -1;
static int hf_resp_command_servers = -1;
static int hf_resp_key = -1;
static int hf_resp_argument = -1;
static int hf_resp_response_in = -1;
static int hf_resp_response_to = -1;
static int hf_resp_response_for_command = -1;
static int hf_resp_response_for_key = -1;
static int hf_resp_time = -1;
static int hf_resp_version = -1;
static int hf_resp_skipped = -1;
static int hf_resp_line_rest = -1;
static int hf_resp_invalid_value = -1;
static int hf_resp_no_reply = -1;
/* Cluster: key slots, error codes, redirects */
static int hf_resp_slot = -1;
static int hf_resp_error_code = -1;
static int hf_resp_redirect_slot = -1;
static int hf_resp_redirect_host = -1;
static int hf_resp_redirect_port = -1;
/* Sentinel: hello messages and events */
static int hf_resp_sentinel_hello = -1;
static int hf_resp_sentinel_event = -1;
static int hf_resp_sentinel_ip = -1;
static int hf_resp_sentinel_port = -1;
static int hf_resp_sentinel_runid = -1;
static int hf_resp_sentinel_epoch = -1;
static int hf_resp_sentinel_master_name = -1;
static int hf_resp_sentinel_master_ip = -1;
static int hf_resp_sentinel_master_port = -1;
static int hf_resp_sentinel_master_epoch = -1;
static int hf_resp_sentinel_instance_type = -1;
static int hf_resp_sentinel_instance_name = -1;
static int hf_resp_sentinel_old_ip = -1;
static int hf_resp_sentinel_old_port = -1;
static int hf_resp_sentinel_new_ip = -1;
static int hf_resp_sentinel_new_port = -1;
/* Replication links */
static int hf_resp_replication = -1;
static int hf_resp_replication_id = -1;
static int hf_resp_replication_offset = -1;
static int hf_resp_replication_lag = -1;
static int hf_resp_replication_keepalive = -1;
static int hf_resp_rdb = -1;
static int hf_resp_rdb_framing = -1;
static int hf_resp_rdb_length = -1;
static int hf_resp_rdb_version = -1;
static int hf_resp_rdb_offset = -1;
static int hf_resp_rdb_data = -1;
/* Credentials */
static int hf_resp_auth_username = -1;
static int hf_resp_auth_password = -1;

static gint ett_resp = -1;
static gint ett_resp_element = -1;

static expert_field ei_resp_malformed = EI_INIT;
static expert_field ei_resp_skipped = EI_INIT;
static expert_field ei_resp_truncated = EI_INIT;
static expert_field ei_resp_incomplete = EI_INIT;
static expert_field ei_resp_unmatched = EI_INIT;
static expert_field ei_resp_error_reply = EI_INIT;
static expert_field ei_resp_unknown_command = EI_INIT;
static expert_field ei_resp_elements_not_shown = EI_INIT;
static expert_field ei_resp_line_continues = EI_INIT;
static expert_field ei_resp_unknown_subcommand = EI_INIT;
static expert_field ei_resp_invalid_value = EI_INIT;
static expert_field ei_resp_after_protocol_error = EI_INIT;
static expert_field ei_resp_rdb_lost = EI_INIT;
static expert_field ei_resp_redirect = EI_INIT;
static expert_field ei_resp_sentinel_malformed = EI_INIT;
static expert_field ei_resp_slow_response = EI_INIT;
static expert_field ei_resp_export_skipped = EI_INIT;
static expert_field ei_resp_credentials_not_listed = EI_INIT;

/* Preferences */
static rsp_bool resp_desegment_own = TRUE; /* used only when we registered the protocol */
static pref_t *resp_desegment_pref;        /* the built-in's "desegment_data", when adopted */
static guint resp_value_display_len = 64;
/* Elements of one message put in the tree: each takes up to 3 items, and one reply of
 * 10^6 elements (a KEYS, an LRANGE) would pass Wireshark's limit of items per packet. */
static guint resp_max_elements_shown = 100000;
static guint resp_slow_threshold_ms = 0;             /* 0: off */
static guint resp_export_min = 64 * 1024;            /* bulk values exported from this size */
static guint resp_export_max = 256u * 1024 * 1024;   /* snapshots larger are not exported */

/* ---- conversation state -------------------------------------------------------------- */

/* Credentials a request carries, for the reply that accepts or refuses them. */
typedef struct {
    const char *what;     /* "AUTH", "HELLO AUTH", "MIGRATE AUTH2", "CONFIG SET requirepass" */
    const char *username; /* NULL: none named */
} resp_cred_t;

/* What a request is, one per distinct command and subcommand of the file (interned), for its
 * reply's items and taps. */
typedef struct {
    const char *cmd, *sub;          /* static (the command table's) or file scope */
    const char *full;               /* "CONFIG SET" */
    const resp_command_info_t *ci;  /* top-level command, or NULL */
    gboolean may_carry_credentials; /* AUTH, HELLO, MIGRATE, CONFIG */
} resp_cmd_id_t;

/* A request as the session core tracks it, plus what its reply needs of it: kept for every
 * request of the file, so as small as it can be. Credentials, rare, are in resp_credentials. */
typedef struct {
    resp_req_t core; /* first: the core's queues link these */
    nstime_t ts;
    const resp_cmd_id_t *id;  /* NULL: no command */
    const char *first_key;    /* interned, printable; NULL: none */
} resp_request_t;

/* Why the server sends no reply to a request (resp.no_reply). */
typedef enum {
    NO_REPLY_NONE,          /* it does reply */
    NO_REPLY_CLOSED,
    NO_REPLY_EMPTY,
    NO_REPLY_FROM_REPLICA,
    NO_REPLY_CLIENT_REPLY,
    NO_REPLY_REPLY_OFF,
    NO_REPLY_REPLY_SKIP,
} resp_no_reply_t;

static const char *const no_reply_text[] = {
    NULL,
    "after a protocol error: the server reads nothing more of this connection",
    "empty request: the server skips it",
    "from a replica: its master answers nothing it sends",
    "CLIENT REPLY OFF and SKIP are not answered",
    "CLIENT REPLY OFF is in force",
    "CLIENT REPLY SKIP silences this reply",
};

/* What a replication message adds: rare, so kept apart from the record every message has. */
typedef struct {
    gboolean have_lag;       /* a replica's ACK */
    gint64 lag;
    const char *repl_id;     /* +FULLRESYNC / +CONTINUE */
    gboolean have_repl_offset;
    guint64 repl_offset;
} resp_msg_repl_t;

/* The first pass's record of one message (kind 0: none). */
typedef struct {
    guint8 kind;             /* resp_msg_kind_t */
    guint8 version;
    guint8 unmatched;
    guint8 no_reply;         /* resp_no_reply_t */
    resp_request_t *req;     /* a request, or a master's GETACK: itself */
    resp_request_t *answers; /* a reply, or a replica's ACK: the request it answers */
    resp_msg_repl_t *repl;   /* NULL: none */
} resp_msg_info_t;

/* Consecutive messages of a frame whose records differ only in their requests, which follow
 * one another in a slab (a pipeline's commands, their replies): one entry for all of them, so
 * that a frame of a thousand pipelined commands keeps one. */
typedef struct {
    resp_msg_info_t first;
    guint32 count;
} resp_msg_run_t;

typedef struct {
    gboolean verified; /* the stream position is known to be a message boundary */
    /* first pass: where framing of an incomplete message stopped, by stream position */
    resp_resume_t *resume;
    guint64 resume_at;
    /* first pass: a long line was shown as it came and continues at stream position line_next */
    gboolean in_line;
    guint64 line_next;
    /* first pass over TCP: the sequence number the next call should start at */
    gboolean have_next_seq;
    guint32 next_seq;
} resp_dir_state_t;

typedef struct resp_conv {
    address server_addr;
    guint32 server_port;
    gboolean server_known;
    resp_dir_state_t dir[2]; /* 0: to server, 1: to client */
    resp_session_t sess;     /* what each side sends next, and the pairing */
    guint64 rdb_lost;        /* snapshot bytes lost before the next RDB data shown */
    /* Redis 8's RDB channel: the replica's main connection, whose stream starts at the
     * offset this connection's +FULLRESYNC gives */
    struct resp_conv *rdb_channel_of;
    guint32 snapshot;        /* the snapshot being received (its number in the file) */
} resp_conv_t;

/* Bytes of the server's stream that are no RESP message, as the first pass found them:
 * keepalive newlines and the RDB snapshot of a replication link. */
typedef enum {
    SPAN_KEEPALIVE = 1, /* newlines a master sends while it prepares the snapshot */
    SPAN_RDB_HEADER,    /* "$<len>" or "$EOF:<mark>" */
    SPAN_RDB_DATA,      /* snapshot bytes (the EOF mark included) */
    SPAN_IGNORED,       /* what a client sends after its protocol error */
    SPAN_RDB_PREAMBLE,  /* Valkey's "$ENDOFF:<offset> <replid> <db> <client id>" */
} span_kind_t;

typedef struct {
    guint32 call;
    guint8 kind;      /* span_kind_t */
    guint8 eof_framing;
    guint32 offset;   /* in the call's data */
    guint32 length;
    guint64 rdb_offset;   /* SPAN_RDB_DATA: where in the snapshot its bytes are */
    gboolean have_length; /* the snapshot's payload length is known here */
    guint64 rdb_length;
    gint rdb_version;     /* -1: not yet known */
    gboolean rdb_end;     /* the snapshot ends in this span */
    guint64 rdb_lost;     /* snapshot bytes lost just before this span */
    resp_request_t *answers; /* SYNC, answered by the snapshot */
    guint32 snapshot;        /* which snapshot of the file (1, 2, ...), for export */
} resp_span_t;

/* What the first pass decided for one frame, replayed on revisits: per call whether it started
 * at a proven message boundary, per message its kind and pairing. One entry per frame, so a
 * frame carrying thousands of messages does not make each lookup walk a list. */
typedef struct {
    wmem_array_t *call_verified; /* guint8 per call: 1 not verified, 2 verified */
    wmem_array_t *call_line_rest; /* guint32 per call: bytes ending a long line shown earlier */
    wmem_array_t *msgs;          /* resp_msg_run_t: the records of the frame's messages */
    guint32 n_msgs;              /* messages they cover */
    wmem_array_t *spans;         /* resp_span_t: replication bytes that are no message */
} resp_frame_t;

/* The dissection of the frame in hand (packet scope). */
typedef struct {
    guint calls, msgs, infos;
    size_t info_len;     /* bytes our entries put in the Info column */
    resp_frame_t *frame; /* NULL on a revisit of a frame the first pass stored nothing for */
    wmem_array_t *tap_msgs;     /* resp_tap_msg_t of this frame's messages, once taps listen */
    guint credentials;          /* records queued to the credentials tap */
    resp_tap_frame_t *tap_rec;  /* the record queued for them */
} resp_pass_t;

#define KEY_PASS 0  /* packet scope: resp_pass_t */
#define KEY_FRAME 1 /* file scope: resp_frame_t */

/* ---- helpers ------------------------------------------------------------------------- */

static gboolean resp_desegment(void)
{
    if (resp_desegment_pref)
        return prefs_get_bool_value(resp_desegment_pref, pref_current);
    return resp_desegment_own;
}

static resp_pass_t *get_pass(packet_info *pinfo)
{
    resp_pass_t *p = (resp_pass_t *)p_get_proto_data(pinfo->pool, pinfo, proto_resp, KEY_PASS);
    if (!p) {
        p = wmem_new0(pinfo->pool, resp_pass_t);
        p->frame = (resp_frame_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_resp, KEY_FRAME);
        if (!p->frame && !PINFO_FD_VISITED(pinfo)) {
            p->frame = wmem_new0(wmem_file_scope(), resp_frame_t);
            p_add_proto_data(wmem_file_scope(), pinfo, proto_resp, KEY_FRAME, p->frame);
        }
        p_add_proto_data(pinfo->pool, pinfo, proto_resp, KEY_PASS, p);
    }
    return p;
}

/* Entry i of a per-frame array (NULL/0 when the first pass stored none). */
static const void *frame_slot(wmem_array_t *a, guint i)
{
    return a && i < wmem_array_get_count(a) ? wmem_array_index(a, i) : NULL;
}

/* Stores entry i on the first pass; entries are made in order, gaps stay zero. */
static void frame_slot_put(wmem_array_t **a, guint elem_size, guint i, const void *value)
{
    if (!*a)
        *a = wmem_array_sized_new(wmem_file_scope(), elem_size, 4);
    static const guint8 zero[sizeof(guint32)];
    DISSECTOR_ASSERT(elem_size <= sizeof zero);
    while (wmem_array_get_count(*a) < i)
        wmem_array_append(*a, zero, 1);
    if (i < wmem_array_get_count(*a))
        memcpy(wmem_array_index(*a, i), value, elem_size);
    else
        wmem_array_append(*a, value, 1);
}

/* Record i of the frame's messages into *out; FALSE when the first pass made none. */
static gboolean msg_record(const resp_frame_t *f, guint i, resp_msg_info_t *out)
{
    if (!f || !f->msgs || i >= f->n_msgs)
        return FALSE;
    const resp_msg_run_t *runs = (const resp_msg_run_t *)wmem_array_get_raw(f->msgs);
    for (guint r = 0, n = wmem_array_get_count(f->msgs); r < n; r++) {
        if (i >= runs[r].count) {
            i -= runs[r].count;
            continue;
        }
        *out = runs[r].first;
        if (out->req)
            out->req += i;
        if (out->answers)
            out->answers += i;
        return out->kind != 0;
    }
    return FALSE;
}

static gboolean follows(const resp_request_t *last, guint32 k, const resp_request_t *next)
{
    return last ? next == last + k : next == NULL;
}

/* Stores record i (made in order; a message without one leaves a gap of kind 0). */
static void msg_record_put(resp_frame_t *f, guint i, const resp_msg_info_t *mi)
{
    if (i < f->n_msgs)
        return;
    if (!f->msgs)
        f->msgs = wmem_array_sized_new(wmem_file_scope(), sizeof(resp_msg_run_t), 1);
    if (i > f->n_msgs) {
        resp_msg_run_t gap;
        memset(&gap, 0, sizeof gap);
        gap.count = i - f->n_msgs;
        wmem_array_append_one(f->msgs, gap);
    }
    f->n_msgs = i + 1;
    guint n = wmem_array_get_count(f->msgs);
    resp_msg_run_t *last = n ? (resp_msg_run_t *)wmem_array_index(f->msgs, n - 1) : NULL;
    if (last && last->first.kind == mi->kind && last->first.version == mi->version &&
        last->first.unmatched == mi->unmatched && last->first.no_reply == mi->no_reply &&
        !last->first.repl && !mi->repl && follows(last->first.req, last->count, mi->req) &&
        follows(last->first.answers, last->count, mi->answers)) {
        last->count++;
        return;
    }
    resp_msg_run_t run;
    run.first = *mi;
    run.count = 1;
    wmem_array_append_one(f->msgs, run);
}

/* Whether text for the Info column is worth making: there are columns (tshark -q has none),
 * and our entries do not fill it yet (later ones would be cut off anyway). */
static gboolean info_wanted(packet_info *pinfo)
{
    return pinfo->cinfo && get_pass(pinfo)->info_len < COL_MAX_INFO_LEN;
}

/* Whether items' texts are shown: a tree built only for a filter keeps fields, not texts. */
static gboolean tree_visible(proto_tree *tree)
{
    return tree && PTREE_DATA(tree)->visible;
}

/* Appends to the Info column, comma-separated between our own entries only, so that text an
 * outer dissector fenced off (spiped's record numbers) is followed without a stray comma. */
static void info_add(packet_info *pinfo, const char *text)
{
    resp_pass_t *p = get_pass(pinfo);
    if (!pinfo->cinfo || p->info_len >= COL_MAX_INFO_LEN)
        return;
    if (p->infos++ == 0)
        col_append_str(pinfo->cinfo, COL_INFO, text);
    else
        col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", text);
    p->info_len += strlen(text) + 2;
}

static resp_conv_t *get_conv(packet_info *pinfo)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    resp_conv_t *cd = (resp_conv_t *)conversation_get_proto_data(conv, proto_resp);
    if (!cd) {
        cd = wmem_new0(wmem_file_scope(), resp_conv_t);
        resp_session_init(&cd->sess);
        conversation_add_proto_data(conv, proto_resp, cd);
    }
    return cd;
}

/* How each direction is framed: a server reads inline commands and skips "*-10"; a value a
 * server sent that is invalid for its type (a Lua script's big number with spaces) is still
 * one element, flagged, so that the message it is in still counts. */
static unsigned parse_flags(gboolean is_request)
{
    return RESP_PARSE_LENIENT | (is_request ? RESP_PARSE_ALLOW_INLINE | RESP_PARSE_REQUEST : 0u);
}

/* Upper-cased, printable, bounded copy of a name the command table does not know. */
static const char *upper_name(wmem_allocator_t *pool, const guint8 *p, size_t n)
{
    if (n > 64)
        n = 64;
    char *s = rsp_format_text(pool, p, n);
    for (char *c = s; *c; c++)
        *c = g_ascii_toupper(*c);
    return s;
}

/* ---- walking one message ------------------------------------------------------------- */

typedef struct {
    tvbuff_t *tvb;
    packet_info *pinfo;
    int base; /* offset of the message in tvb */
    const guint8 *msg;
    size_t length;
    gboolean is_request; /* client to server */
    gboolean as_command; /* a request, or a command a master streams: arguments gathered */
    proto_tree *trees[RESP_MAX_DEPTH + 2];
    proto_item *items[RESP_MAX_DEPTH + 2];
    /* top-level summary */
    resp_element_t top;
    gboolean have_top;
    /* request arguments (top-level array of bulk strings, or inline words) */
    guint argc, arg_cap;
    const guint8 **argv;
    size_t *arg_len;
    int *arg_off; /* tvb offset and length for items */
    int *arg_span;
    /* replies: first element (kind of a push) and third (subscription count) */
    const guint8 *first_str;
    size_t first_len;
    gint64 third_int;
    gboolean have_third;
    guint top_children;
    /* the first top-level string elements: a pub/sub message's kind, channel and payload */
    const guint8 *top_str[4];
    size_t top_str_len[4];
    int top_str_off[4]; /* tvb offset of the data */
    /* a HELLO reply's "server" and "version" values (among the first top-level elements) */
    const guint8 *prev_str, *server_name, *server_version;
    size_t prev_len, server_name_len, server_version_len;
    wmem_array_t *error_children; /* guint32 indices of top-level elements that are errors */
    proto_item *top_item; /* the message's protocol item and its subtree */
    proto_tree *top_tree;
    resp_tap_msg_t facts; /* what the message is, gathered once for the tree, Info and taps */
    guint *key_idx;   /* argument indices of the request's keys, once gathered */
    guint n_keys;
    gboolean cut;     /* a value of the message is not whole in the capture */
    guint64 deepest;  /* nesting beyond RESP_MAX_DEPTH: framed, not shown */
    guint shown;      /* elements put in the tree */
    guint64 not_shown; /* elements left out past resp_max_elements_shown */
} walk_t;

static int element_hf(resp_type_t t, int *len_hf)
{
    *len_hf = -1;
    switch (t) {
    case RESP_ARRAY: *len_hf = hf_resp_array_length; return hf_resp_array;
    case RESP_MAP: *len_hf = hf_resp_map_length; return hf_resp_map;
    case RESP_SET: *len_hf = hf_resp_set_length; return hf_resp_set;
    case RESP_ATTRIBUTE: *len_hf = hf_resp_attribute_length; return hf_resp_attribute;
    case RESP_PUSH: *len_hf = hf_resp_push_length; return hf_resp_push;
    default: return -1;
    }
}

/* A value shortened for display; binary bytes escaped. */
static const char *short_value(wmem_allocator_t *pool, const guint8 *p, size_t n, size_t max)
{
    if (n <= max)
        return rsp_format_text(pool, p, n);
    return wmem_strdup_printf(pool, "%s… [%zu bytes]", rsp_format_text(pool, p, max), n);
}

/* Room for a request's arguments: the declared count, bounded by the bytes present (each
 * argument takes 2 bytes at least), so a huge declaration costs nothing up front. */
static void alloc_args(walk_t *w, const resp_element_t *top)
{
    size_t cap = w->length / 2 + 1;
    if (top->type == RESP_ARRAY && top->count <= 0)
        cap = 0;
    else if (top->type == RESP_ARRAY && (guint64)top->count < cap)
        cap = (size_t)top->count;
    else if (top->type != RESP_ARRAY && top->type != RESP_INLINE)
        cap = 0;
    /* one block for the argument arrays and the key indices (gather_keys) */
    size_t each = cap ? cap : 1;
    guint8 *block = (guint8 *)wmem_alloc(w->pinfo->pool,
                                         each * (sizeof(const guint8 *) + sizeof(size_t) + 2 * sizeof(int) +
                                                 sizeof(guint)));
    w->arg_cap = (guint)cap;
    w->argv = (const guint8 **)block;
    w->arg_len = (size_t *)(block + each * sizeof(const guint8 *));
    w->arg_off = (int *)(block + each * (sizeof(const guint8 *) + sizeof(size_t)));
    w->arg_span = w->arg_off + each;
    w->key_idx = (guint *)(w->arg_span + each);
}

/* Forgets what a walk gathered (the argument arrays stay allocated) before a walk again. */
static void walk_restart(walk_t *w)
{
    w->argc = 0;
    w->shown = 0;
    w->not_shown = 0;
    w->have_top = FALSE;
    w->first_str = NULL;
    w->first_len = 0;
    w->have_third = FALSE;
    w->top_children = 0;
    w->prev_str = w->server_name = w->server_version = NULL;
    w->error_children = NULL;
    w->cut = FALSE;
    memset(w->trees, 0, sizeof w->trees);
    memset(w->items, 0, sizeof w->items);
}

static gboolean error_details_wanted(proto_tree *tree)
{
    return proto_field_is_referenced(tree, hf_resp_error_code) ||
           proto_field_is_referenced(tree, hf_resp_redirect_slot) ||
           proto_field_is_referenced(tree, hf_resp_redirect_host) ||
           proto_field_is_referenced(tree, hf_resp_redirect_port);
}

/* An error's code (its first word) and, for a cluster's MOVED or ASK, where to go instead:
 * under the error's item ti, whose text starts at tvb offset doff. */
static gboolean is_redirect(const guint8 *text, size_t n)
{
    resp_redirect_t rd;
    /* cheap first: the code is MOVED or ASK */
    return n >= 3 && (text[0] == 'M' || text[0] == 'A') && resp_redirect_parse(text, n, &rd);
}

static void add_error_details(walk_t *w, proto_item *ti, int doff, const guint8 *text, size_t n)
{
    size_t code = resp_error_code_len(text, n);
    resp_redirect_t rd;
    if (!ti || code == 0)
        return;
    proto_tree *st = proto_item_add_subtree(ti, ett_resp_element);
    wmem_allocator_t *pool = w->pinfo->pool;
    proto_tree_add_string(st, hf_resp_error_code, w->tvb, doff, (int)code,
                          rsp_format_text(pool, text, code));
    if (!resp_redirect_parse(text, n, &rd))
        return;
    int slot_len = (int)(rd.host_offset - code - 2);
    proto_tree_add_uint(st, hf_resp_redirect_slot, w->tvb, doff + (int)code + 1, slot_len, rd.slot);
    proto_tree_add_string(st, hf_resp_redirect_host, w->tvb, doff + (int)rd.host_offset, (int)rd.host_len,
                          rsp_format_text(pool, text + rd.host_offset, rd.host_len));
    int port_off = (int)(rd.host_offset + rd.host_len + 1);
    proto_tree_add_uint(st, hf_resp_redirect_port, w->tvb, doff + port_off, (int)n - port_off, rd.port);
    expert_add_info_format(w->pinfo, ti, &ei_resp_redirect, "%s: slot %u is served by %s:%u%s",
                           rd.kind == RESP_REDIRECT_MOVED ? "Moved" : "Ask",
                           rd.slot, rsp_format_text(pool, text + rd.host_offset, rd.host_len), rd.port,
                           rd.kind == RESP_REDIRECT_ASK ? " (for this command, after ASKING)" : "");
}

static void walk_element(void *ud, const resp_element_t *e)
{
    walk_t *w = (walk_t *)ud;
    unsigned depth = e->depth;
    proto_tree *tree = w->trees[depth];
    tvbuff_t *tvb = w->tvb;
    int off = w->base + (int)e->offset;
    int span = (int)e->header_len;
    int doff = w->base + (int)e->data_offset;
    int dlen = (int)e->data_len;
    const guint8 *data = w->msg + e->data_offset;
    wmem_allocator_t *pool = w->pinfo->pool;
    proto_item *ti = NULL;
    int len_hf;

    if (depth == 0) {
        w->top = *e;
        w->have_top = TRUE;
        if (w->as_command && !w->argv)
            alloc_args(w, e);
    }
    if (depth == 1) {
        if (w->top_children == 0 && (e->type == RESP_BULK_STRING || e->type == RESP_SIMPLE_STRING)) {
            w->first_str = data;
            w->first_len = e->data_len;
        }
        if (!w->as_command && w->top_children < 16 &&
            (e->type == RESP_BULK_STRING || e->type == RESP_SIMPLE_STRING || e->type == RESP_VERBATIM)) {
            const guint8 *d = w->msg + e->data_offset;
            if (w->top_children % 2 == 1 && w->prev_str) {
                if (w->prev_len == 6 && !memcmp(w->prev_str, "server", 6)) {
                    w->server_name = d;
                    w->server_name_len = e->data_len;
                } else if (w->prev_len == 7 && !memcmp(w->prev_str, "version", 7)) {
                    w->server_version = d;
                    w->server_version_len = e->data_len;
                }
            }
            w->prev_str = d;
            w->prev_len = e->data_len;
        }
        if (w->top_children < G_N_ELEMENTS(w->top_str) && e->type == RESP_BULK_STRING && !e->is_null) {
            w->top_str[w->top_children] = data;
            w->top_str_len[w->top_children] = e->data_len;
            w->top_str_off[w->top_children] = doff;
        }
        if (w->top_children == 2 && e->type == RESP_INTEGER) {
            w->third_int = e->count;
            w->have_third = TRUE;
        }
        if (e->type == RESP_ERROR || e->type == RESP_BULK_ERROR) {
            /* EXEC's array: which queued commands failed (and so changed nothing) */
            guint32 i = w->top_children;
            if (!w->error_children)
                w->error_children = wmem_array_new(w->pinfo->pool, sizeof i);
            wmem_array_append_one(w->error_children, i);
        }
        w->top_children++;
        /* request arguments */
        if (w->as_command && w->argc < w->arg_cap &&
            (e->type == RESP_BULK_STRING || e->type == RESP_INLINE_ARG)) {
            const guint8 *p = data;
            size_t n = e->data_len;
            if (e->type == RESP_INLINE_ARG && e->quoted) {
                guint8 *un = (guint8 *)wmem_alloc(pool, n ? n : 1);
                n = resp_inline_unescape(data, e->data_len, e->quoted == '\'', un);
                p = un;
            }
            w->argv[w->argc] = p;
            w->arg_len[w->argc] = n;
            w->arg_off[w->argc] = e->type == RESP_INLINE_ARG ? off : doff;
            w->arg_span[w->argc] = e->type == RESP_INLINE_ARG ? dlen + (e->quoted ? 2 : 0) : dlen;
            if (e->type == RESP_INLINE_ARG && e->quoted)
                w->arg_off[w->argc] = doff - 1;
            w->argc++;
        }
    }
    if ((e->type == RESP_BULK_STRING || e->type == RESP_VERBATIM || e->type == RESP_BULK_ERROR) &&
        !e->is_null && (gint64)e->data_len < e->count)
        w->cut = TRUE;
    if (!tree)
        return;
    if (depth > 0 && w->shown >= resp_max_elements_shown) {
        w->not_shown++;
        if (depth + 1 < G_N_ELEMENTS(w->trees))
            w->trees[depth + 1] = NULL; /* nor its children */
        return;
    }
    if (depth > 0)
        w->shown++;

    if (e->invalid) {
        /* framed by its line or length, but its content is not of its type */
        ti = proto_tree_add_string(tree, hf_resp_invalid_value, tvb, off,
                                   MIN(span + (e->type == RESP_VERBATIM ? dlen + 2 : 0),
                                       tvb_captured_length_remaining(tvb, off)),
                                   short_value(pool, data, e->data_len, resp_value_display_len));
        expert_add_info_format(w->pinfo, ti, &ei_resp_invalid_value, "Not a valid %s: %s",
                               resp_type_name(e->type),
                               short_value(pool, data, e->data_len, RESP_INFO_ARG_MAX));
        return;
    }
    switch (e->type) {
    case RESP_SIMPLE_STRING:
        /* whole values are formatted only for a visible tree or a filter that uses them */
        if (proto_field_is_referenced(tree, hf_resp_string))
            ti = proto_tree_add_string(tree, hf_resp_string, tvb, off, span,
                                       rsp_format_text(pool, data, e->data_len));
        break;
    case RESP_ERROR:
        /* a redirect's expert info is always wanted (the Expert dialog, a filter on it) */
        if (proto_field_is_referenced(tree, hf_resp_error) || error_details_wanted(tree) ||
            is_redirect(data, e->data_len)) {
            ti = proto_tree_add_string(tree, hf_resp_error, tvb, off, span,
                                       rsp_format_text(pool, data, e->data_len));
            add_error_details(w, ti, doff, data, e->data_len);
        }
        break;
    case RESP_BULK_ERROR:
        ti = proto_tree_add_string(tree, hf_resp_bulk_error, tvb, off,
                                   MIN(span + dlen + 2, tvb_captured_length_remaining(tvb, off)),
                                   rsp_format_text(pool, data, e->data_len));
        add_error_details(w, ti, doff, data, e->data_len);
        break;
    case RESP_INTEGER:
        ti = proto_tree_add_int64(tree, hf_resp_integer, tvb, off, span, e->count);
        break;
    case RESP_NULL:
        ti = proto_tree_add_item(tree, hf_resp_null, tvb, off, span, ENC_NA);
        break;
    case RESP_BOOLEAN:
        ti = proto_tree_add_boolean(tree, hf_resp_boolean, tvb, off, span, (guint32)e->count);
        break;
    case RESP_DOUBLE: {
        if (!proto_field_is_referenced(tree, hf_resp_double))
            break;
        char *s = rsp_format_text(pool, data, e->data_len);
        gdouble v = g_ascii_strtod(s, NULL); /* understands inf, -inf and nan */
        ti = proto_tree_add_double(tree, hf_resp_double, tvb, off, span, v);
        break;
    }
    case RESP_BIG_NUMBER:
        if (proto_field_is_referenced(tree, hf_resp_big_number))
            ti = proto_tree_add_string(tree, hf_resp_big_number, tvb, off, span,
                                       rsp_format_text(pool, data, e->data_len));
        break;
    case RESP_BULK_STRING:
    case RESP_VERBATIM: {
        gboolean verb = e->type == RESP_VERBATIM;
        int total = e->is_null ? span : span + dlen + 2;
        if (!tvb_bytes_exist(tvb, off, total))
            total = tvb_captured_length_remaining(tvb, off);
        ti = proto_tree_add_item(tree, verb ? hf_resp_verbatim : hf_resp_bulk_string, tvb, off,
                                 total, ENC_NA);
        proto_tree *st = proto_item_add_subtree(ti, ett_resp_element);
        if (proto_field_is_referenced(st, hf_resp_bulk_string_length))
            proto_tree_add_int(st, hf_resp_bulk_string_length, tvb, off + 1, span - 3,
                               (gint32)e->count);
        if (e->is_null) {
            proto_item_append_text(ti, ": (nil)");
        } else if (verb && e->data_len < 4) {
            /* cut before its format: nothing to show yet */
            proto_item_append_text(ti, ": [incomplete]");
        } else if (verb) {
            if (proto_field_is_referenced(tree, hf_resp_verbatim_format))
                proto_tree_add_string(st, hf_resp_verbatim_format, tvb, doff, 3,
                                      rsp_format_text(pool, data, 3));
            if (tree_visible(tree)) {
                const char *shown = short_value(pool, data + 4, e->data_len - 4, resp_value_display_len);
                proto_item_append_text(ti, " (%s): %s", rsp_format_text(pool, data, 3), shown);
                proto_tree_add_bytes_format_value(st, hf_resp_bulk_string_value, tvb, doff + 4,
                                                  dlen - 4, NULL, "%s", shown);
            } else if (proto_field_is_referenced(st, hf_resp_bulk_string_value)) {
                proto_tree_add_item(st, hf_resp_bulk_string_value, tvb, doff + 4, dlen - 4, ENC_NA);
            }
        } else {
            /* the shortened text only for a visible tree; a filter reads the bytes */
            if (tree_visible(tree)) {
                const char *shown = short_value(pool, data, e->data_len, resp_value_display_len);
                proto_item_append_text(ti, ": %s", shown);
                proto_tree_add_bytes_format_value(st, hf_resp_bulk_string_value, tvb, doff, dlen,
                                                  NULL, "%s", shown);
            } else if (proto_field_is_referenced(st, hf_resp_bulk_string_value)) {
                proto_tree_add_item(st, hf_resp_bulk_string_value, tvb, doff, dlen, ENC_NA);
            }
            if ((gint64)e->data_len < e->count)
                expert_add_info_format(w->pinfo, ti, &ei_resp_truncated,
                                       "Value incomplete here: %zu of %" G_GINT64_FORMAT
                                       " bytes present", e->data_len, e->count);
        }
        break;
    }
    case RESP_INLINE:
        /* its words are shown at message level (resp.argument) */
        if (proto_field_is_referenced(tree, hf_resp_inline))
            proto_tree_add_string(tree, hf_resp_inline, tvb, off, span,
                                  short_value(pool, data, e->data_len, 1024));
        return;
    case RESP_INLINE_ARG:
        /* shown as resp.argument at message level */
        return;
    default: {
        int hf = element_hf(e->type, &len_hf);
        if (hf < 0)
            return;
        ti = proto_tree_add_item(tree, hf, tvb, off, span, ENC_NA);
        proto_tree *st = proto_item_add_subtree(ti, ett_resp_element);
        proto_tree_add_int64(st, len_hf, tvb, off + 1, span - 3, e->count);
        if (e->is_null)
            proto_item_append_text(ti, " (nil)");
        else
            proto_item_append_text(ti, " (%" G_GINT64_FORMAT " %s)", e->count,
                                   e->type == RESP_MAP || e->type == RESP_ATTRIBUTE ? "pairs" : "elements");
        if (depth + 1 < G_N_ELEMENTS(w->trees)) {
            w->trees[depth + 1] = st;
            w->items[depth + 1] = ti;
        }
        return;
    }
    }
    (void)ti;
}

static void walk_end(void *ud, const resp_element_t *e, size_t end)
{
    walk_t *w = (walk_t *)ud;
    unsigned d = e->depth + 1;
    if (d < G_N_ELEMENTS(w->items) && w->items[d]) {
        proto_item_set_end(w->items[d], w->tvb, w->base + (int)end);
        w->items[d] = NULL;
    }
}

static const resp_visitor_t walk_visitor = {walk_element, walk_end};

/* ---- Info column --------------------------------------------------------------------- */

static void info_append_request(walk_t *w, const char *prefix, const char *cmd, const char *sub)
{
    if (!info_wanted(w->pinfo))
        return;
    wmem_strbuf_t *sb = wmem_strbuf_new(w->pinfo->pool, prefix);
    wmem_strbuf_append(sb, cmd);
    guint first = 1;
    if (sub) {
        wmem_strbuf_append_printf(sb, " %s", sub);
        first = 2;
    }
    for (guint i = first; i < w->argc && i < first + RESP_INFO_ARGS_MAX; i++)
        wmem_strbuf_append_printf(sb, " %s",
                                  short_value(w->pinfo->pool, w->argv[i], w->arg_len[i],
                                              RESP_INFO_ARG_MAX));
    if (w->argc > first + RESP_INFO_ARGS_MAX)
        wmem_strbuf_append_printf(sb, " … (%u arguments)", w->argc - 1);
    info_add(w->pinfo, wmem_strbuf_get_str(sb));
}

static const char *reply_summary(walk_t *w)
{
    wmem_allocator_t *pool = w->pinfo->pool;
    const resp_element_t *e = &w->top;
    const guint8 *d = w->msg + e->data_offset;
    if (!w->have_top)
        return "(empty)";
    switch (e->type) {
    case RESP_SIMPLE_STRING:
        return short_value(pool, d, e->data_len, RESP_INFO_ARG_MAX * 2);
    case RESP_ERROR:
    case RESP_BULK_ERROR:
        return wmem_strdup_printf(pool, "(error) %s",
                                  short_value(pool, d, e->data_len, RESP_INFO_ARG_MAX * 2));
    case RESP_INTEGER:
        return wmem_strdup_printf(pool, "(integer) %" G_GINT64_FORMAT, e->count);
    case RESP_NULL:
        return "(nil)";
    case RESP_BOOLEAN:
        return e->count ? "(true)" : "(false)";
    case RESP_DOUBLE:
        return wmem_strdup_printf(pool, "(double) %s", rsp_format_text(pool, d, e->data_len));
    case RESP_BIG_NUMBER:
        return wmem_strdup_printf(pool, "(big number) %s",
                                  short_value(pool, d, e->data_len, RESP_INFO_ARG_MAX));
    case RESP_BULK_STRING:
    case RESP_VERBATIM:
        if (e->is_null)
            return "(nil)";
        return wmem_strdup_printf(pool, "\"%s\"",
                                  short_value(pool, d, e->data_len, RESP_INFO_ARG_MAX));
    default:
        if (e->is_null)
            return "(nil)";
        if (w->first_str && (e->type == RESP_PUSH || e->type == RESP_ARRAY) && e->count <= 4)
            return wmem_strdup_printf(pool, "(%s) %s …", e->type == RESP_PUSH ? "push" : "array",
                                      short_value(pool, w->first_str, w->first_len, RESP_INFO_ARG_MAX));
        return wmem_strdup_printf(pool, "(%s) %" G_GINT64_FORMAT " %s",
                                  e->type == RESP_ARRAY ? "array" :
                                  e->type == RESP_MAP ? "map" :
                                  e->type == RESP_SET ? "set" :
                                  e->type == RESP_PUSH ? "push" : "attribute",
                                  e->count,
                                  e->type == RESP_MAP || e->type == RESP_ATTRIBUTE ? "pairs" : "elements");
    }
}

/* ---- pairing (first pass only): the session core decides, this records ------------- */

/* Request records, one for every request of the file, are cut from slabs: one allocation
 * each would cost its allocator's overhead a million times. */
#define RESP_REQUEST_SLAB 1024
static resp_request_t *resp_request_slab;
static guint resp_request_slab_left;

static resp_request_t *new_request_record(packet_info *pinfo)
{
    if (!resp_request_slab_left) {
        resp_request_slab = wmem_alloc0_array(wmem_file_scope(), resp_request_t, RESP_REQUEST_SLAB);
        resp_request_slab_left = RESP_REQUEST_SLAB;
    }
    resp_request_t *req = resp_request_slab++;
    resp_request_slab_left--;
    req->ts = pinfo->abs_ts;
    return req;
}

static resp_msg_repl_t *msg_repl(resp_msg_info_t *mi)
{
    if (!mi->repl)
        mi->repl = wmem_new0(wmem_file_scope(), resp_msg_repl_t);
    return mi->repl;
}

static resp_cmd_t cmd_facts(const walk_t *w, const char *cmd, const char *sub)
{
    resp_cmd_t c = {w->argc, w->argv, w->arg_len, cmd, sub};
    return c;
}

static void note_gap(resp_conv_t *cd, packet_info *pinfo, gboolean to_server)
{
    resp_request_t *gap = new_request_record(pinfo);
    resp_session_gap(&cd->sess, to_server, &gap->core, pinfo->num);
}

static gboolean is_error_reply(const walk_t *w)
{
    return w->have_top && (w->top.type == RESP_ERROR || w->top.type == RESP_BULK_ERROR);
}

/* Why the server will not answer a request the core expects no reply for, from the state
 * the request found. */
static resp_no_reply_t no_reply_reason(resp_client_state_t client, gboolean reply_off, const resp_cmd_t *c)
{
    if (client == RESP_CLIENT_CLOSED)
        return NO_REPLY_CLOSED;
    if (!c || !c->cmd)
        return NO_REPLY_EMPTY;
    if (client == RESP_CLIENT_REPLICA || !strcmp(c->cmd, "REPLCONF"))
        return NO_REPLY_FROM_REPLICA;
    if (c->sub && !strcmp(c->cmd, "CLIENT") && !strcmp(c->sub, "REPLY"))
        return NO_REPLY_CLIENT_REPLY;
    if (reply_off)
        return NO_REPLY_REPLY_OFF;
    return NO_REPLY_REPLY_SKIP;
}

/* The key linking a Redis 8 RDB channel to its main connection: same server, client id. */
static char *rdb_channel_key(wmem_allocator_t *pool, const resp_conv_t *cd, const guint8 *id, size_t n)
{
    return wmem_strdup_printf(pool, "%s:%u/%s", address_to_str(pool, &cd->server_addr),
                              cd->server_port, rsp_format_text(pool, id, MIN(n, 20)));
}

/* The identity of a request's command: found by its table entry (the subcommand's, if any)
 * or, for a name the table does not know, by name. */
static const resp_cmd_id_t *cmd_id(wmem_allocator_t *pool, const resp_command_info_t *ci,
                                   const resp_command_info_t *sci, const char *cmd, const char *sub)
{
    const void *entry = sci ? (const void *)sci : !sub ? (const void *)ci : NULL;
    const resp_cmd_id_t *id;
    char *full = NULL;
    if (entry) {
        id = (const resp_cmd_id_t *)wmem_map_lookup(resp_cmd_ids_by_info, entry);
    } else {
        full = wmem_strconcat(pool, cmd, sub ? " " : "", sub ? sub : "", NULL);
        id = (const resp_cmd_id_t *)wmem_map_lookup(resp_cmd_ids_by_name, full);
    }
    if (id)
        return id;
    resp_cmd_id_t *n = wmem_new0(wmem_file_scope(), resp_cmd_id_t);
    n->cmd = ci ? cmd : wmem_strdup(wmem_file_scope(), cmd);
    n->sub = !sub || sci ? sub : wmem_strdup(wmem_file_scope(), sub);
    n->full = sub ? wmem_strconcat(wmem_file_scope(), n->cmd, " ", n->sub, NULL) : n->cmd;
    n->ci = ci;
    n->may_carry_credentials = !strcmp(cmd, "AUTH") || !strcmp(cmd, "HELLO") || !strcmp(cmd, "MIGRATE") ||
                               !strcmp(cmd, "CONFIG");
    if (entry)
        wmem_map_insert(resp_cmd_ids_by_info, entry, n);
    else
        wmem_map_insert(resp_cmd_ids_by_name, n->full, n);
    return n;
}

/* A key as the taps name it: printable, and bounded (a hostile key may be megabytes). */
#define RESP_TAP_KEY_MAX 200
static const char *tap_key(const walk_t *w, guint k)
{
    guint i = w->key_idx[k];
    return short_value(w->pinfo->pool, w->argv[i], w->arg_len[i], RESP_TAP_KEY_MAX);
}

/* Keys by their bytes, so that a request's first key is formatted only the first time it is
 * seen (hot keys repeat). */
typedef struct {
    size_t len;
    const guint8 *bytes;
} key_bytes_t;

static guint key_bytes_hash(gconstpointer k)
{
    const key_bytes_t *kb = (const key_bytes_t *)k;
    return wmem_strong_hash(kb->bytes, kb->len);
}

static gboolean key_bytes_equal(gconstpointer a, gconstpointer b)
{
    const key_bytes_t *x = (const key_bytes_t *)a, *y = (const key_bytes_t *)b;
    return x->len == y->len && !memcmp(x->bytes, y->bytes, x->len);
}

static const char *intern_key(const walk_t *w, guint k)
{
    guint i = w->key_idx[k];
    /* a key longer than the bound is named by its start and its length: not shared */
    if (w->arg_len[i] > RESP_TAP_KEY_MAX)
        return wmem_strdup(wmem_file_scope(), tap_key(w, k));
    key_bytes_t probe = {w->arg_len[i], w->argv[i]};
    const char *text = (const char *)wmem_map_lookup(resp_keys, &probe);
    if (text)
        return text;
    text = wmem_strdup(wmem_file_scope(), tap_key(w, k));
    key_bytes_t *kb = wmem_new(wmem_file_scope(), key_bytes_t);
    kb->len = probe.len;
    kb->bytes = (const guint8 *)wmem_memdup(wmem_file_scope(), probe.bytes, probe.len ? probe.len : 1);
    wmem_map_insert(resp_keys, kb, (void *)text);
    return text;
}

static const char *find_credentials(const walk_t *w, const char *cmd, const char *sub,
                                    int *user_arg, int *pass_arg);
static guint delivered_channel(const walk_t *w, resp_msg_kind_t kind);

static void record_request(walk_t *w, resp_conv_t *cd, resp_msg_info_t *mi, const resp_command_info_t *ci,
                           const resp_command_info_t *sci, const char *cmd, const char *sub, gboolean is_cmd)
{
    resp_request_t *req = new_request_record(w->pinfo);
    if (is_cmd) {
        int ua, pa;
        req->id = cmd_id(w->pinfo->pool, ci, sci, cmd, sub);
        if (w->n_keys)
            req->first_key = intern_key(w, 0);
        const char *what = req->id->may_carry_credentials ? find_credentials(w, cmd, sub, &ua, &pa) : NULL;
        if (what) {
            resp_cred_t *c = wmem_new0(wmem_file_scope(), resp_cred_t);
            c->what = what;
            if (ua >= 0)
                c->username = rsp_format_text(wmem_file_scope(), w->argv[ua], MIN(w->arg_len[ua], 256));
            wmem_map_insert(resp_credentials, req, c);
        }
    }
    resp_cmd_t c = cmd_facts(w, cmd, sub);
    resp_client_state_t client = cd->sess.client;
    gboolean reply_off = cd->sess.reply_off;
    resp_verdict_t v;
    resp_session_request(&cd->sess, &req->core, is_cmd ? &c : NULL, w->pinfo->num, &v);
    mi->req = req;
    if (!req->core.replies_expected && req->core.kind != RESP_REQ_UNSUBSCRIBE_ALL)
        mi->no_reply = (guint8)no_reply_reason(client, reply_off, is_cmd ? &c : NULL);
    mi->answers = (resp_request_t *)v.answers;
    if (v.have_lag) {
        msg_repl(mi)->have_lag = TRUE;
        mi->repl->lag = v.lag;
    }
    /* Redis 8: an RDB channel names the main connection it serves */
    if (is_cmd && !strcmp(cmd, "REPLCONF") && cd->server_known)
        for (guint i = 1; i + 1 < w->argc; i += 2)
            if (w->arg_len[i] == 17 && !g_ascii_strncasecmp((const char *)w->argv[i], "main-ch-client-id", 17)) {
                char *key = rdb_channel_key(w->pinfo->pool, cd, w->argv[i + 1], w->arg_len[i + 1]);
                cd->rdb_channel_of = (resp_conv_t *)wmem_map_lookup(resp_rdb_channel_mains, key);
            }
}

static void record_reply(walk_t *w, resp_conv_t *cd, resp_msg_info_t *mi)
{
    resp_reply_t r;
    memset(&r, 0, sizeof r);
    r.type = w->top.type;
    r.count = w->top.count;
    r.is_null = w->top.is_null;
    r.data = w->msg + w->top.data_offset;
    r.data_len = w->top.data_len;
    r.first_str = w->first_str;
    r.first_len = w->first_len;
    r.have_third = w->have_third;
    r.third_int = w->third_int;
    r.server_name = w->server_name;
    r.server_name_len = w->server_name_len;
    r.server_version = w->server_version;
    r.server_version_len = w->server_version_len;
    if (w->error_children) {
        r.error_children = (const uint32_t *)wmem_array_get_raw(w->error_children);
        r.n_error_children = wmem_array_get_count(w->error_children);
    }
    resp_verdict_t v;
    resp_session_reply(&cd->sess, &r, w->pinfo->num, &v);
    mi->kind = (guint8)v.kind;
    mi->unmatched = v.unmatched != 0;
    mi->answers = (resp_request_t *)v.answers;
    if (v.have_repl) {
        resp_msg_repl_t *rp = msg_repl(mi);
        rp->repl_id = rsp_format_text(wmem_file_scope(), v.repl_id, v.repl_id_len);
        rp->have_repl_offset = v.have_repl_offset;
        rp->repl_offset = v.repl_offset;
    }
    if (v.have_rdb_channel && cd->server_known) {
        char id[24];
        int n = g_snprintf(id, sizeof id, "%" G_GUINT64_FORMAT, v.rdb_channel_id);
        wmem_map_insert(resp_rdb_channel_mains,
                        rdb_channel_key(wmem_file_scope(), cd, (const guint8 *)id, (size_t)n), cd);
    }
    if (v.have_repl_offset && cd->rdb_channel_of)
        resp_session_stream_base(&cd->rdb_channel_of->sess, v.repl_offset);
}

static void record_master_command(walk_t *w, resp_conv_t *cd, resp_msg_info_t *mi,
                                  const char *cmd, const char *sub)
{
    resp_cmd_t c = cmd_facts(w, cmd, sub);
    /* only a GETACK is answered (by the replica's next ACK): only it needs a record */
    resp_request_t *req = cmd && resp_master_command_awaits_ack(&c) ? new_request_record(w->pinfo) : NULL;
    resp_verdict_t v;
    resp_session_master_command(&cd->sess, req ? &req->core : NULL, cmd ? &c : NULL, w->length, &v);
    mi->kind = RESP_MSG_REPLICATION;
    if (req) {
        req->core.frame = w->pinfo->num;
        mi->req = req;
    }
}

/* ---- credentials ------------------------------------------------------------------- */

/* Wireshark's credentials tap record (ui/tap-credentials.h of 4.0, epan/tap-credentials.h
 * later; same layout in 4.0, 4.4 and 4.6; the 4.0 development package does not install it). */
typedef struct {
    guint num;            /* frame of the password */
    guint username_num;   /* frame of the user name */
    guint password_hf_id; /* field holding the password */
    gchar *username;
    const gchar *proto;
    gchar *info;
} resp_tap_credential_t;
#define RESP_CREDENTIALS_PLACEHOLDER "n.a." /* Wireshark's TAP_CREDENTIALS_PLACEHOLDER */

/* Where the request names a user (-1: none) and a password; returns what they are (a static
 * string), NULL for none. */
static const char *find_credentials(const walk_t *w, const char *cmd, const char *sub,
                                    int *user_arg, int *pass_arg)
{
    resp_auth_t a;
    resp_auth_kind_t k = resp_auth_find(w->argc, w->argv, w->arg_len, cmd, sub, &a);
    *user_arg = (int)a.user_arg;
    *pass_arg = (int)a.pass_arg;
    return resp_auth_kind_name(k);
}

static void credential_items(walk_t *w, proto_tree *rt, const char *cmd, const char *sub)
{
    int ua, pa;
    if (!rt || !find_credentials(w, cmd, sub, &ua, &pa))
        return;
    if (ua >= 0)
        proto_tree_add_string(rt, hf_resp_auth_username, w->tvb, w->arg_off[ua], w->arg_span[ua],
                              rsp_format_text(w->pinfo->pool, w->argv[ua], w->arg_len[ua]));
    proto_tree_add_string(rt, hf_resp_auth_password, w->tvb, w->arg_off[pa], w->arg_span[pa],
                          rsp_format_text(w->pinfo->pool, w->argv[pa], w->arg_len[pa]));
}

/* Wireshark queues at most 5000 tap records per frame, for all taps together: a frame of
 * pipelined AUTH replies could take them all. */
#define RESP_CREDENTIALS_PER_FRAME 1000

/* The credentials a request carries (recorded by the first pass), NULL for none. */
static const resp_cred_t *request_credentials(const resp_request_t *req)
{
    if (!req || !req->id || !req->id->may_carry_credentials)
        return NULL;
    return (const resp_cred_t *)wmem_map_lookup(resp_credentials, req);
}

/* The reply to a request carrying credentials: to the credentials tap, with its verdict. */
static void tap_credentials(walk_t *w, const resp_request_t *req, const resp_cred_t *cred, proto_item *ti)
{
    packet_info *pinfo = w->pinfo;
    resp_pass_t *pass = get_pass(pinfo);
    if (pass->credentials++ >= RESP_CREDENTIALS_PER_FRAME) {
        if (pass->credentials == RESP_CREDENTIALS_PER_FRAME + 1)
            expert_add_info_format(pinfo, ti, &ei_resp_credentials_not_listed, "More than %u replies to "
                                   "credentials in this frame: the rest are not listed in the credentials tap",
                                   RESP_CREDENTIALS_PER_FRAME);
        return;
    }
    if (!have_tap_listener(resp_credentials_tap))
        return;
    const resp_element_t *e = &w->top;
    const guint8 *d = w->msg + e->data_offset;
    const char *verdict = "accepted";
    if (is_error_reply(w))
        verdict = wmem_strdup_printf(pinfo->pool, "refused: %s", short_value(pinfo->pool, d, e->data_len, 80));
    else if (e->type == RESP_SIMPLE_STRING && e->data_len == 5 && !memcmp(d, "NOKEY", 5))
        verdict = "not tried: no key to migrate (NOKEY)";
    resp_tap_credential_t *c = wmem_new0(pinfo->pool, resp_tap_credential_t);
    c->num = c->username_num = req->core.frame;
    c->password_hf_id = (guint)hf_resp_auth_password;
    c->username = wmem_strdup(pinfo->pool, cred->username ? cred->username : RESP_CREDENTIALS_PLACEHOLDER);
    c->proto = "RESP";
    c->info = wmem_strdup_printf(pinfo->pool, "%s %s (reply in frame %u)", cred->what, verdict, pinfo->num);
    tap_queue_packet(resp_credentials_tap, pinfo, c);
}

/* ---- facts for the taps -------------------------------------------------------------- */

static void collect_key(size_t i, void *ud)
{
    walk_t *w = (walk_t *)ud;
    if (i < w->argc && w->n_keys < w->argc)
        w->key_idx[w->n_keys++] = (guint)i;
}

/* The request's keys, found once for the tree, the record and the taps. */
static void gather_keys(walk_t *w, const resp_command_info_t *c)
{
    w->n_keys = 0;
    if (!c || !w->argc)
        return; /* key_idx has room for argc indices (alloc_args) */
    resp_command_keys(c, w->argc, w->argv, w->arg_len, collect_key, w);
}

/* The message's facts, once its first-pass state is recorded. The strings only taps read
 * (keys, channel, error code) are made only for them. */
static void gather_facts(walk_t *w, const resp_msg_info_t *mi, const resp_command_info_t *ci,
                         const char *cmd, const char *sub, gboolean for_taps)
{
    packet_info *pinfo = w->pinfo;
    resp_tap_msg_t m;
    resp_msg_kind_t kind = mi ? (resp_msg_kind_t)mi->kind : (w->is_request ? RESP_MSG_REQUEST : RESP_MSG_RESPONSE);
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.to_server = w->is_request;
    m.bytes = (guint32)w->length;
    m.type = w->have_top ? w->top.type : (resp_type_t)0;
    if (cmd) {
        m.command = cmd;
        m.subcommand = sub;
        m.command_info = ci;
        if (w->n_keys && for_taps) {
            const char **keys = wmem_alloc_array(pinfo->pool, const char *, w->n_keys);
            for (guint k = 0; k < w->n_keys; k++)
                keys[k] = tap_key(w, k);
            m.keys = keys;
            m.n_keys = w->n_keys;
        }
        if (for_taps && (!strcmp(cmd, "PUBLISH") || !strcmp(cmd, "SPUBLISH")))
            m.channel = w->argc == 3 ? short_value(pinfo->pool, w->argv[1], w->arg_len[1], RESP_TAP_KEY_MAX) : NULL;
    } else if (kind == RESP_MSG_RESPONSE && mi && mi->answers && mi->answers->core.kind != RESP_REQ_GAP) {
        const resp_request_t *req = mi->answers;
        m.command = req->id ? req->id->cmd : NULL;
        m.subcommand = req->id ? req->id->sub : NULL;
        m.command_info = req->id ? req->id->ci : NULL;
        if (req->first_key) {
            m.keys = &req->first_key;
            m.n_keys = 1;
        }
        m.paired = TRUE;
        m.request_frame = req->core.frame;
        m.request_ts = req->ts;
        nstime_delta(&m.response_time, &pinfo->abs_ts, &req->ts);
    }
    if (for_taps && is_error_reply(w)) {
        const guint8 *d = w->msg + w->top.data_offset;
        size_t n = resp_error_code_len(d, w->top.data_len);
        m.error_code = n ? short_value(pinfo->pool, d, n, RESP_INFO_ARG_MAX) : "(none)";
    }
    guint c = for_taps ? delivered_channel(w, kind) : 0;
    if (c)
        m.channel = short_value(pinfo->pool, w->top_str[c], w->top_str_len[c], RESP_TAP_KEY_MAX);
    w->facts = m;
}

/* Appends the message's facts to the frame's one record for the "resp" tap. */
static void tap_message(const walk_t *w)
{
    packet_info *pinfo = w->pinfo;
    resp_pass_t *pass = get_pass(pinfo);
    if (!pass->tap_msgs) {
        pass->tap_msgs = wmem_array_sized_new(pinfo->pool, sizeof(resp_tap_msg_t), 8);
        pass->tap_rec = wmem_new0(pinfo->pool, resp_tap_frame_t);
        tap_queue_packet(resp_tap, pinfo, pass->tap_rec);
    }
    wmem_array_append_one(pass->tap_msgs, w->facts);
    pass->tap_rec->count = wmem_array_get_count(pass->tap_msgs);
    pass->tap_rec->msgs = (const resp_tap_msg_t *)wmem_array_get_raw(pass->tap_msgs);
}

/* ---- export objects ------------------------------------------------------------------ */

guint64 resp_export_max_size(void)
{
    return resp_export_max;
}

static const char *server_text(packet_info *pinfo, const resp_conv_t *cd)
{
    return wmem_strdup_printf(pinfo->pool, "%s:%u", address_to_str(pinfo->pool, &cd->server_addr), cd->server_port);
}

static void export_value(walk_t *w, const resp_conv_t *cd, const char *name, const guint8 *p, size_t n,
                         proto_item *ti)
{
    if (n > resp_export_max) {
        expert_add_info_format(w->pinfo, ti, &ei_resp_export_skipped, "Value of %zu bytes not exported: "
                               "larger than resp.export_max_size (%u bytes)", n, resp_export_max);
        return;
    }
    if (!have_tap_listener(resp_eo_tap))
        return;
    resp_eo_record_t *r = wmem_new0(w->pinfo->pool, resp_eo_record_t);
    r->kind = RESP_EO_VALUE;
    r->frame = w->pinfo->num;
    r->server = server_text(w->pinfo, cd);
    r->name = name;
    r->data = p;
    r->length = n;
    tap_queue_packet(resp_eo_tap, w->pinfo, r);
}

static gboolean is_key_arg(const walk_t *w, guint i)
{
    for (guint k = 0; k < w->n_keys; k++)
        if (w->key_idx[k] == i)
            return TRUE;
    return FALSE;
}

/* Bulk values of at least resp.export_min_size (keys are no values): a request's arguments (a replicated
 * command's too) and a top-level bulk reply, named after the command and its first key. */
static void export_values(walk_t *w, const resp_conv_t *cd, const resp_msg_info_t *mi, const char *cmd,
                          proto_item *ti)
{
    wmem_allocator_t *pool = w->pinfo->pool;
    if (w->cut || !resp_export_min)
        return;
    if (cmd) {
        const char *key = NULL; /* formatted once a value is big enough */
        for (guint i = 1; i < w->argc; i++) {
            if (w->arg_len[i] < resp_export_min || is_key_arg(w, i))
                continue;
            if (!key && w->n_keys)
                key = tap_key(w, 0);
            export_value(w, cd, key ? wmem_strdup_printf(pool, "%s_%s", cmd, key)
                                    : wmem_strdup_printf(pool, "%s_arg%u", cmd, i),
                         w->argv[i], w->arg_len[i], ti);
        }
        return;
    }
    const resp_element_t *e = &w->top;
    if (!w->have_top || (e->type != RESP_BULK_STRING && e->type != RESP_VERBATIM) || e->is_null ||
        e->data_len < resp_export_min)
        return;
    const resp_request_t *req = mi && mi->answers && mi->answers->core.kind != RESP_REQ_GAP ? mi->answers : NULL;
    const char *name = !req || !req->id ? "reply" :
                       req->first_key ? wmem_strdup_printf(pool, "%s_%s_reply", req->id->cmd, req->first_key)
                                      : wmem_strdup_printf(pool, "%s_reply", req->id->cmd);
    export_value(w, cd, name, w->msg + e->data_offset, e->data_len, ti);
}

/* ---- one message --------------------------------------------------------------------- */

static void add_key(walk_t *w, proto_tree *tree, guint i)
{
    proto_item *ki = proto_tree_add_string(tree, hf_resp_key, w->tvb, w->arg_off[i], w->arg_span[i],
                                           rsp_format_text(w->pinfo->pool, w->argv[i], w->arg_len[i]));
    /* the hash slot a cluster keeps it in, as CLUSTER KEYSLOT computes it */
    if (proto_field_is_referenced(tree, hf_resp_slot)) {
        proto_item *si = proto_tree_add_uint(proto_item_add_subtree(ki, ett_resp_element), hf_resp_slot,
                                             w->tvb, w->arg_off[i], w->arg_span[i],
                                             resp_cluster_keyslot(w->argv[i], w->arg_len[i]));
        proto_item_set_generated(si);
    }
}

static unsigned long add_message_items(walk_t *w, proto_tree *rt, proto_item *ti,
                                       const resp_msg_info_t *mi, const resp_command_info_t *ci,
                                       const resp_command_info_t *sci, const char *cmd,
                                       const char *sub, const char **exc_msg);

/* A message that is one line still without its end (cut by the capture, or a very long line
 * shown as it comes): the walk sees no element, so the line so far is given to it as one. */
static void walk_partial_line(walk_t *w)
{
    resp_element_t e;
    memset(&e, 0, sizeof e);
    e.type = (resp_type_t)w->msg[0];
    e.header_len = w->length;
    e.data_offset = 1;
    e.data_len = w->length - 1;
    if (e.type == RESP_SIMPLE_STRING || e.type == RESP_ERROR)
        walk_element(w, &e);
}

/* Walks the message into the tree. Adding items can throw (more than gui.max_tree_items,
 * which one reply of 10^6 elements reaches), but the state kept across packets must not
 * depend on that: the walk is then done again without a tree, and the exception returned
 * (0: none) to be shown once that state is recorded. */
static unsigned long walk_message(walk_t *w, proto_tree *tree, const char **exc_msg)
{
    volatile unsigned long code = 0;
    TRY {
        w->top_item = proto_tree_add_item(tree, proto_resp, w->tvb, w->base, (int)w->length, ENC_NA);
        w->top_tree = proto_item_add_subtree(w->top_item, ett_resp);
        w->trees[0] = w->top_tree;
        resp_result_t r = resp_parse(w->msg, w->length, parse_flags(w->is_request), &walk_visitor, w);
        w->deepest = r.deepest;
        if (!w->have_top && r.status == RESP_NEED_MORE && r.partial_line == w->length)
            walk_partial_line(w);
        for (guint d = 1; d < G_N_ELEMENTS(w->items); d++)
            if (w->items[d])
                proto_item_set_end(w->items[d], w->tvb, w->base + (int)w->length);
    } CATCH_BOUNDS_AND_DISSECTOR_ERRORS {
        code = EXCEPT_CODE;
        /* the message may live in the exception's own memory, freed at ENDTRY */
        *exc_msg = GET_MESSAGE ? wmem_strdup(w->pinfo->pool, GET_MESSAGE) : NULL;
    } ENDTRY;
    if (code) {
        walk_restart(w); /* gathered again without a tree */
        resp_result_t r = resp_parse(w->msg, w->length, parse_flags(w->is_request), &walk_visitor, w);
        if (!w->have_top && r.status == RESP_NEED_MORE && r.partial_line == w->length)
            walk_partial_line(w);
    }
    return code;
}

/* Dissects the message at [offset, offset+length), which may be the start of one the capture
 * does not hold whole. Returns its protocol item. */
static gboolean first_bulk(const guint8 *p, size_t n, const guint8 **name, size_t *len);

/* A server message shaped like a command a master streams: an array whose first element is
 * a bulk string naming a command. */
static gboolean names_command(const guint8 *p, size_t n)
{
    const guint8 *name;
    size_t len;
    return n > 0 && p[0] == '*' && first_bulk(p, n, &name, &len) && resp_command_lookup(name, len);
}

/* The command table's entry for a request's name: the table is searched once per distinct
 * name and length (a capture repeats a few commands millions of times); a small cache holds
 * the last entry found for each slot. */
static const resp_command_info_t *lookup_command(const guint8 *name, size_t len)
{
    static const resp_command_info_t *cache[64];
    if (len == 0)
        return NULL;
    guint slot = (guint)(len * 7 + (name[0] | 0x20) + (name[len - 1] | 0x20) * 3) & 63;
    const resp_command_info_t *c = cache[slot];
    if (c) {
        const char *cn = resp_command_name(c); /* upper case */
        size_t i = 0;
        while (i < len && cn[i] && g_ascii_toupper(name[i]) == cn[i])
            i++;
        if (i == len && !cn[len])
            return c;
    }
    c = resp_command_lookup(name, len);
    if (c)
        cache[slot] = c;
    return c;
}

static proto_item *dissect_message(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, int offset,
                                   int length, gboolean is_request, resp_conv_t *cd)
{
    resp_pass_t *pass = get_pass(pinfo);
    guint msg_index = pass->msgs++;
    resp_msg_info_t recorded; /* the first pass's record of it */
    resp_msg_info_t *mi = msg_record(pass->frame, msg_index, &recorded) ? &recorded : NULL;
    walk_t w;
    memset(&w, 0, sizeof w);
    w.tvb = tvb;
    w.pinfo = pinfo;
    w.base = offset;
    w.msg = tvb_get_ptr(tvb, offset, length);
    w.length = (size_t)length;
    w.is_request = is_request;
    /* a master's stream to its replica carries commands: decoded like requests */
    gboolean from_master = !is_request &&
        (mi ? mi->kind == RESP_MSG_REPLICATION
            : !PINFO_FD_VISITED(pinfo) &&
              (resp_session_server_state(&cd->sess) == RESP_SERVER_REPL_STREAM ||
               (names_command(w.msg, w.length) && resp_session_master_stream_guess(&cd->sess))));
    w.as_command = is_request || from_master;

    const char *exc_msg = NULL;
    unsigned long exc_code = walk_message(&w, tree, &exc_msg);
    proto_item *ti = w.top_item;
    proto_tree *rt = w.top_tree;

    const resp_command_info_t *ci = NULL, *sci = NULL;
    const char *cmd = NULL, *sub = NULL;
    gboolean is_cmd = w.as_command && w.argc > 0 &&
                      (w.top.type == RESP_ARRAY || w.top.type == RESP_INLINE);
    if (is_cmd) {
        ci = lookup_command(w.argv[0], w.arg_len[0]);
        cmd = ci ? resp_command_name(ci) : upper_name(pinfo->pool, w.argv[0], w.arg_len[0]);
        if (ci && resp_command_has_subcommands(ci) && w.argc > 1) {
            sci = resp_subcommand_lookup(ci, w.argv[1], w.arg_len[1]);
            sub = sci ? resp_command_name(sci) : upper_name(pinfo->pool, w.argv[1], w.arg_len[1]);
        }
    }
    gboolean tapping = have_tap_listener(resp_tap);
    /* keys: for the first pass's record, the taps, and a tree or filter that shows them */
    if (is_cmd && (ci || sci) &&
        (!PINFO_FD_VISITED(pinfo) || tapping || have_tap_listener(resp_eo_tap) ||
         proto_field_is_referenced(rt, hf_resp_key) || proto_field_is_referenced(rt, hf_resp_slot)))
        gather_keys(&w, sci ? sci : ci);

    if (!PINFO_FD_VISITED(pinfo) && !mi) {
        memset(&recorded, 0, sizeof recorded);
        mi = &recorded;
        if (is_request) {
            /* a command cut by the capture was still sent and still gets its reply */
            mi->kind = RESP_MSG_REQUEST;
            record_request(&w, cd, mi, ci, sci, cmd, sub, is_cmd);
        } else if (from_master) {
            record_master_command(&w, cd, mi, cmd, sub);
        } else {
            record_reply(&w, cd, mi);
        }
        mi->version = cd->sess.version; /* a HELLO's reply is in the version it switched to */
        if (pass->frame)
            msg_record_put(pass->frame, msg_index, mi);
    }

    gather_facts(&w, mi, ci, is_cmd ? cmd : NULL, is_cmd ? sub : NULL, tapping);
    /* the Info column and pairing items still come after a walk that threw */
    const char *items_msg = NULL;
    unsigned long items_code = add_message_items(&w, rt, ti, mi, ci, sci, cmd, sub, &items_msg);
    if (!exc_code) {
        exc_code = items_code;
        exc_msg = items_msg;
    }
    if (exc_code)
        show_exception(tvb, pinfo, rt, exc_code, exc_msg);

    resp_msg_kind_t kind = w.facts.kind;
    if (tapping)
        tap_message(&w);
    const resp_cred_t *cred = kind == RESP_MSG_RESPONSE && mi ? request_credentials(mi->answers) : NULL;
    if (cred)
        tap_credentials(&w, mi->answers, cred, ti);
    if (kind == RESP_MSG_REQUEST || kind == RESP_MSG_REPLICATION || kind == RESP_MSG_RESPONSE)
        export_values(&w, cd, mi, is_cmd ? cmd : NULL, ti);
    return ti;
}

/* ---- Sentinel: hello messages and events ------------------------------------------------ */

typedef struct {
    walk_t *w;
    proto_tree *tree;
    const guint8 *text; /* the payload */
    int off;            /* its tvb offset */
    gboolean exact;     /* each payload byte is one tvb byte (not unescaped from an inline word) */
} sentinel_ctx_t;

static void sentinel_string(const sentinel_ctx_t *c, int hf, resp_text_span_t sp)
{
    proto_tree_add_string(c->tree, hf, c->w->tvb, c->exact ? c->off + (int)sp.off : c->off,
                          c->exact ? (int)sp.len : 0, rsp_format_text(c->w->pinfo->pool, c->text + sp.off, sp.len));
}

static void sentinel_uint(const sentinel_ctx_t *c, int hf, resp_text_span_t sp, guint32 v)
{
    proto_tree_add_uint(c->tree, hf, c->w->tvb, c->exact ? c->off + (int)sp.off : c->off,
                        c->exact ? (int)sp.len : 0, v);
}

static void sentinel_uint64(const sentinel_ctx_t *c, int hf, resp_text_span_t sp, guint64 v)
{
    proto_tree_add_uint64(c->tree, hf, c->w->tvb, c->exact ? c->off + (int)sp.off : c->off,
                          c->exact ? (int)sp.len : 0, v);
}

/* A message on channel ch with payload p (at tvb offset off): a sentinel's hello, split into
 * its fields, or a sentinel event. Anything else is left alone. */
static void sentinel_items(walk_t *w, proto_tree *rt, const guint8 *ch, size_t chl,
                           const guint8 *p, size_t n, int off, gboolean exact)
{
    packet_info *pinfo = w->pinfo;
    int len = exact ? (int)n : 0;
    sentinel_ctx_t c = {w, NULL, p, off, exact};
    if (!rt) /* neither a tree nor a filter to fill */
        return;
    if (chl == strlen(RESP_SENTINEL_HELLO_CHANNEL) && !memcmp(ch, RESP_SENTINEL_HELLO_CHANNEL, chl)) {
        resp_sentinel_hello_t h;
        proto_item *ti = proto_tree_add_item(rt, hf_resp_sentinel_hello, w->tvb, off, len, ENC_NA);
        if (!resp_sentinel_hello_parse(p, n, &h)) {
            expert_add_info(pinfo, ti, &ei_resp_sentinel_malformed);
            return;
        }
        c.tree = proto_item_add_subtree(ti, ett_resp_element);
        proto_item_append_text(ti, " from %s:%u, master %s at %s:%u",
                               rsp_format_text(pinfo->pool, p + h.ip.off, h.ip.len), h.port,
                               rsp_format_text(pinfo->pool, p + h.master_name.off, h.master_name.len),
                               rsp_format_text(pinfo->pool, p + h.master_ip.off, h.master_ip.len), h.master_port);
        sentinel_string(&c, hf_resp_sentinel_ip, h.ip);
        sentinel_uint(&c, hf_resp_sentinel_port, h.port_text, h.port);
        sentinel_string(&c, hf_resp_sentinel_runid, h.runid);
        sentinel_uint64(&c, hf_resp_sentinel_epoch, h.epoch_text, h.epoch);
        sentinel_string(&c, hf_resp_sentinel_master_name, h.master_name);
        sentinel_string(&c, hf_resp_sentinel_master_ip, h.master_ip);
        sentinel_uint(&c, hf_resp_sentinel_master_port, h.master_port_text, h.master_port);
        sentinel_uint64(&c, hf_resp_sentinel_master_epoch, h.master_epoch_text, h.master_epoch);
        return;
    }
    if (!resp_sentinel_is_event_channel(ch, chl))
        return;
    resp_sentinel_event_t ev;
    const char *name = rsp_format_text(pinfo->pool, ch, chl);
    proto_item *ti = proto_tree_add_string(rt, hf_resp_sentinel_event, w->tvb, off, len, name);
    c.tree = proto_item_add_subtree(ti, ett_resp_element);
    switch (resp_sentinel_event_parse(ch, chl, p, n, &ev)) {
    case RESP_SENTINEL_EVENT_INSTANCE:
        sentinel_string(&c, hf_resp_sentinel_instance_type, ev.instance_type);
        sentinel_string(&c, hf_resp_sentinel_instance_name, ev.instance_name);
        sentinel_string(&c, hf_resp_sentinel_ip, ev.ip);
        sentinel_uint(&c, hf_resp_sentinel_port, ev.port_text, ev.port);
        if (ev.has_master) {
            sentinel_string(&c, hf_resp_sentinel_master_name, ev.master_name);
            sentinel_string(&c, hf_resp_sentinel_master_ip, ev.master_ip);
            sentinel_uint(&c, hf_resp_sentinel_master_port, ev.master_port_text, ev.master_port);
        }
        break;
    case RESP_SENTINEL_EVENT_SWITCH:
        sentinel_string(&c, hf_resp_sentinel_master_name, ev.master_name);
        sentinel_string(&c, hf_resp_sentinel_old_ip, ev.old_ip);
        sentinel_uint(&c, hf_resp_sentinel_old_port, ev.old_port_text, ev.old_port);
        sentinel_string(&c, hf_resp_sentinel_new_ip, ev.new_ip);
        sentinel_uint(&c, hf_resp_sentinel_new_port, ev.new_port_text, ev.new_port);
        break;
    case RESP_SENTINEL_EVENT_TEXT:
        break;
    }
}

/* A delivered pub/sub message: ["message", channel, payload] or ["pmessage", pattern,
 * channel, payload]. Returns the index of the channel element (payload follows), 0 if none. */
static guint delivered_channel(const walk_t *w, resp_msg_kind_t kind)
{
    if ((kind != RESP_MSG_PUBSUB && kind != RESP_MSG_PUSH) || !w->top_str[0])
        return 0;
    if (w->top.count == 3 && w->top_str_len[0] == 7 && !memcmp(w->top_str[0], "message", 7) &&
        w->top_str[1] && w->top_str[2])
        return 1;
    if (w->top.count == 4 && w->top_str_len[0] == 8 && !memcmp(w->top_str[0], "pmessage", 8) &&
        w->top_str[2] && w->top_str[3])
        return 2;
    return 0;
}

/* Sentinel fields of a channel's message: PUBLISH's arguments, or a delivered message. */
static void pubsub_items(walk_t *w, proto_tree *rt, resp_msg_kind_t kind, const char *cmd)
{
    if (cmd) {
        if (w->argc == 3 && !strcmp(cmd, "PUBLISH"))
            sentinel_items(w, rt, w->argv[1], w->arg_len[1], w->argv[2], w->arg_len[2], w->arg_off[2],
                           (size_t)w->arg_span[2] == w->arg_len[2]);
        return;
    }
    guint c = delivered_channel(w, kind);
    if (c)
        sentinel_items(w, rt, w->top_str[c], w->top_str_len[c], w->top_str[c + 1], w->top_str_len[c + 1],
                       w->top_str_off[c + 1], TRUE);
}

/* Which releases have the command (or subcommand) of item pi, as the table says. */
static void add_command_servers(proto_tree *rt, proto_item *pi, tvbuff_t *tvb, const resp_command_info_t *c)
{
    if (!proto_field_is_referenced(rt, hf_resp_command_servers))
        return;
    proto_item *si = proto_tree_add_string(proto_item_add_subtree(pi, ett_resp_element), hf_resp_command_servers,
                                           tvb, 0, 0, resp_command_servers_text(c));
    proto_item_set_generated(si);
}

/* The message's own items and its Info column text, once the first-pass state is recorded. */
static void message_items(walk_t *w, proto_tree *rt, proto_item *ti, const resp_msg_info_t *mi,
                          const resp_command_info_t *ci, const resp_command_info_t *sci,
                          const char *cmd, const char *sub)
{
    if (w->not_shown)
        expert_add_info_format(w->pinfo, ti, &ei_resp_elements_not_shown,
                               "%" G_GUINT64_FORMAT " more elements not shown in the tree (preference "
                               "resp.max_elements_shown: %u)", w->not_shown, resp_max_elements_shown);
    if (w->deepest)
        expert_add_info_format(w->pinfo, ti, &ei_resp_elements_not_shown,
                               "Nested %" G_GUINT64_FORMAT " levels deep: what lies deeper than %u "
                               "levels is framed but not shown", w->deepest, RESP_MAX_DEPTH);
    tvbuff_t *tvb = w->tvb;
    packet_info *pinfo = w->pinfo;
    int offset = w->base;
    gboolean is_request = w->is_request, is_cmd = cmd != NULL;
    proto_item *pi;
    resp_msg_kind_t kind = w->facts.kind;
    /* what the message is, as a field (a RESP3 push is marked by its resp.push element) */
    int kind_hf = kind == RESP_MSG_REQUEST ? hf_resp_request :
                  kind == RESP_MSG_RESPONSE ? hf_resp_response :
                  kind == RESP_MSG_MONITOR ? hf_resp_monitor :
                  kind == RESP_MSG_PUBSUB ? hf_resp_pubsub_message :
                  kind == RESP_MSG_REPLICATION ? hf_resp_replication : -1;
    /* generated items only for a visible tree or a filter using them: each of the millions
     * of messages would otherwise pay for items that are thrown away */
    if (kind_hf != -1 && proto_field_is_referenced(rt, kind_hf)) {
        pi = proto_tree_add_item(rt, kind_hf, tvb, offset, 0, ENC_NA);
        proto_item_set_generated(pi);
    }
    if (mi && proto_field_is_referenced(rt, hf_resp_version)) {
        pi = proto_tree_add_uint(rt, hf_resp_version, tvb, offset, 0, mi->version);
        proto_item_set_generated(pi);
    }

    if (is_cmd) {
        proto_item_append_text(ti, ", %s: %s%s%s", kind == RESP_MSG_REPLICATION ? "Replicated" : "Request",
                               cmd, sub ? " " : "", sub ? sub : "");
        pi = proto_tree_add_string(rt, hf_resp_command, tvb, w->arg_off[0], w->arg_span[0], cmd);
        if (!ci)
            expert_add_info_format(pinfo, pi, &ei_resp_unknown_command,
                                   "Command %s is not one of Redis 7.0-8.0, Valkey 8.0-9.1 or their Sentinels", cmd);
        else
            add_command_servers(rt, pi, tvb, ci);
        if (sub) {
            pi = proto_tree_add_string(rt, hf_resp_subcommand, tvb, w->arg_off[1], w->arg_span[1], sub);
            if (!sci)
                expert_add_info_format(pinfo, pi, &ei_resp_unknown_subcommand,
                                       "%s has no subcommand %s in Redis 7.0-8.0, Valkey 8.0-9.1 or their Sentinels",
                                       cmd, sub);
            else
                add_command_servers(rt, pi, tvb, sci);
        }
        /* keys and arguments are formatted only for a visible tree or a filter using them */
        if (w->n_keys && (proto_field_is_referenced(rt, hf_resp_key) ||
                          proto_field_is_referenced(rt, hf_resp_slot)))
            for (guint k = 0; k < w->n_keys; k++)
                add_key(w, rt, w->key_idx[k]);
        credential_items(w, rt, cmd, sub);
        if (proto_field_is_referenced(rt, hf_resp_argument))
            for (guint i = 1; i < w->argc; i++)
                proto_tree_add_string(rt, hf_resp_argument, tvb, w->arg_off[i], w->arg_span[i],
                                      rsp_format_text(pinfo->pool, w->argv[i], w->arg_len[i]));
        info_append_request(w, kind == RESP_MSG_REPLICATION ? "[replication] " : "", cmd, sub);
    } else if (is_request) {
        if (!info_wanted(pinfo))
            ; /* the rest only fills the Info column */
        else if (w->top.type == RESP_INLINE && w->top.count == 0)
            info_add(pinfo, "(empty line)");
        else if (w->top.type == RESP_ARRAY && w->top.count <= 0)
            info_add(pinfo, wmem_strdup_printf(pinfo->pool, "(empty request *%" G_GINT64_FORMAT ")",
                                               w->top.count));
        else
            info_add(pinfo, reply_summary(w));
    } else if (info_wanted(pinfo) || tree_visible(rt) || is_error_reply(w)) {
        /* the summary is for the Info column, the item's text and an error's expert info */
        const char *summary = reply_summary(w);
        guint c = delivered_channel(w, kind);
        if (c) /* "message news: hello" */
            summary = wmem_strdup_printf(pinfo->pool, "%s %s: %s", c == 1 ? "message" : "pmessage",
                                         short_value(pinfo->pool, w->top_str[c], w->top_str_len[c],
                                                     RESP_INFO_ARG_MAX * 2),
                                         short_value(pinfo->pool, w->top_str[c + 1], w->top_str_len[c + 1],
                                                     RESP_INFO_ARG_MAX * 2));
        const char *prefix = kind == RESP_MSG_MONITOR ? "[monitor] " :
                             kind == RESP_MSG_PUBSUB ? "[pub/sub] " :
                             kind == RESP_MSG_PUSH ? "[push] " :
                             kind == RESP_MSG_REPLICATION ? "[replication] " : "";
        info_add(pinfo, wmem_strconcat(pinfo->pool, prefix, summary, NULL));
        proto_item_append_text(ti, ", %s: %s",
                               kind == RESP_MSG_RESPONSE ? "Response" :
                               kind == RESP_MSG_MONITOR ? "Monitor" :
                               kind == RESP_MSG_PUBSUB ? "Pub/Sub message" :
                               kind == RESP_MSG_REPLICATION ? "Replication stream" : "Push", summary);
        if (is_error_reply(w))
            expert_add_info_format(pinfo, ti, &ei_resp_error_reply, "Error reply: %s", summary);
    }

    pubsub_items(w, rt, kind, cmd);

    const resp_msg_repl_t *rp = mi ? mi->repl : NULL;
    if (rp && rp->repl_id) {
        pi = proto_tree_add_string(rt, hf_resp_replication_id, tvb, offset, (int)w->length, rp->repl_id);
        proto_item_set_generated(pi);
        if (rp->have_repl_offset) {
            pi = proto_tree_add_uint64(rt, hf_resp_replication_offset, tvb, offset, (int)w->length,
                                       rp->repl_offset);
            proto_item_set_generated(pi);
        }
    }
    if (rp && rp->have_lag) {
        pi = proto_tree_add_int64(rt, hf_resp_replication_lag, tvb, offset, (int)w->length, rp->lag);
        proto_item_set_generated(pi);
    }
    if (mi && mi->req && mi->req->core.first_reply_frame && proto_field_is_referenced(rt, hf_resp_response_in)) {
        pi = proto_tree_add_uint(rt, hf_resp_response_in, tvb, 0, 0, mi->req->core.first_reply_frame);
        proto_item_set_generated(pi);
    }
    if (mi && mi->no_reply && mi->no_reply < G_N_ELEMENTS(no_reply_text)) {
        pi = proto_tree_add_string(rt, hf_resp_no_reply, tvb, offset, 0, no_reply_text[mi->no_reply]);
        proto_item_set_generated(pi);
    }
    if (mi && mi->answers) {
        nstime_t delta;
        if (proto_field_is_referenced(rt, hf_resp_response_to)) {
            pi = proto_tree_add_uint(rt, hf_resp_response_to, tvb, 0, 0, mi->answers->core.frame);
            proto_item_set_generated(pi);
        }
        /* what was asked, on the reply's own row (as HTTP's http.response_for.uri) */
        if (mi->answers->id && proto_field_is_referenced(rt, hf_resp_response_for_command)) {
            pi = proto_tree_add_string(rt, hf_resp_response_for_command, tvb, 0, 0, mi->answers->id->full);
            proto_item_set_generated(pi);
        }
        if (mi->answers->first_key && proto_field_is_referenced(rt, hf_resp_response_for_key)) {
            pi = proto_tree_add_string(rt, hf_resp_response_for_key, tvb, 0, 0, mi->answers->first_key);
            proto_item_set_generated(pi);
        }
        if (w->facts.paired)
            delta = w->facts.response_time;
        else /* a replica's ACK to its master's GETACK */
            nstime_delta(&delta, &pinfo->abs_ts, &mi->answers->ts);
        gboolean slow = resp_slow_threshold_ms && kind == RESP_MSG_RESPONSE &&
                        nstime_to_msec(&delta) >= (double)resp_slow_threshold_ms;
        if (slow || proto_field_is_referenced(rt, hf_resp_time)) {
            pi = proto_tree_add_time(rt, hf_resp_time, tvb, 0, 0, &delta);
            proto_item_set_generated(pi);
        }
        if (slow)
            expert_add_info_format(pinfo, pi, &ei_resp_slow_response,
                                   "Slow response: %.3f ms to %s (frame %u), threshold %u ms",
                                   nstime_to_msec(&delta), mi->answers->id ? mi->answers->id->full : "the request",
                                   mi->answers->core.frame, resp_slow_threshold_ms);
    }
    if (mi && mi->unmatched)
        expert_add_info(pinfo, ti, &ei_resp_unmatched);
}

/* message_items(), with an exception caught and returned (0: none) like walk_message(). */
static unsigned long add_message_items(walk_t *w, proto_tree *rt, proto_item *ti,
                                       const resp_msg_info_t *mi, const resp_command_info_t *ci,
                                       const resp_command_info_t *sci, const char *cmd,
                                       const char *sub, const char **exc_msg)
{
    volatile unsigned long code = 0;
    TRY {
        message_items(w, rt, ti, mi, ci, sci, cmd, sub);
    } CATCH_BOUNDS_AND_DISSECTOR_ERRORS {
        code = EXCEPT_CODE;
        *exc_msg = GET_MESSAGE ? wmem_strdup(w->pinfo->pool, GET_MESSAGE) : NULL;
    } ENDTRY;
    return code;
}

/* ---- stream handling ----------------------------------------------------------------- */

/* The first argument of a typed command, "*<n>\r\n$<len>\r\n<name>", when p holds it whole. */
static gboolean first_bulk(const guint8 *p, size_t n, const guint8 **name, size_t *len)
{
    size_t i = 1;
    while (i < n && p[i] != '\n')
        i++;
    if (i + 1 >= n || p[i + 1] != '$')
        return FALSE;
    size_t j = i + 2, l = 0;
    while (j < n && g_ascii_isdigit(p[j]) && l < 100)
        l = l * 10 + (size_t)(p[j++] - '0');
    if (j + 2 + l > n || p[j] != '\r')
        return FALSE;
    *name = p + j + 2;
    *len = l;
    return TRUE;
}

/* Whether a parse result at a candidate position is proof enough of a message boundary. */
static gboolean strong_start(const guint8 *p, size_t n, const resp_result_t *r, gboolean is_request)
{
    if (r->status == RESP_BAD)
        return FALSE;
    if (is_request) {
        /* the first argument must name a command Redis knows */
        if (p[0] == '*') {
            const guint8 *name;
            size_t len;
            return first_bulk(p, n, &name, &len) && resp_command_lookup(name, len) != NULL;
        }
        size_t k = 0;
        while (k < n && p[k] != ' ' && p[k] != '\r' && p[k] != '\n')
            k++;
        return r->status == RESP_OK && resp_command_lookup(p, k) != NULL;
    }
    /* replies: a complete message, or an aggregate/bulk whose header parsed */
    if (r->status == RESP_OK)
        return TRUE;
    return (p[0] == '*' || p[0] == '$' || p[0] == '%' || p[0] == '>' || p[0] == '~') &&
           r->elements >= 1;
}

gboolean resp_looks_like_request(const guint8 *p, size_t n)
{
    if (resp_looks_like_command(p, n))
        return TRUE;
    /* a typed command Redis 7 itself does not know (a module's, like JSON.SET) */
    const guint8 *name;
    size_t len;
    if (n == 0 || p[0] != '*' || !first_bulk(p, n, &name, &len) || len == 0 || len > 64 ||
        !g_ascii_isalpha(name[0]))
        return FALSE;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(name[i]) && !strchr("._-:|", name[i]))
            return FALSE;
    return resp_parse(p, n, 0, NULL, NULL).status != RESP_BAD;
}

gboolean resp_looks_like_command(const guint8 *p, size_t n)
{
    unsigned flags = n > 0 && p[0] == '*' ? 0 : RESP_PARSE_ALLOW_INLINE;
    resp_result_t r = resp_parse(p, n, flags, NULL, NULL);
    if (!strong_start(p, n, &r, TRUE))
        return FALSE;
    if (p[0] == '*')
        return TRUE;
    /* an HTTP request line starts with a word Redis knows too (GET) */
    const guint8 *nl = (const guint8 *)memchr(p, '\n', n);
    size_t line = nl ? (size_t)(nl - p) : n;
    for (size_t i = 0; i + 6 <= line; i++)
        if (!memcmp(p + i, " HTTP/", 6))
            return FALSE;
    return TRUE;
}

/* Finds the first offset in [0, n) from which everything up to n parses as RESP. Returns n
 * when there is none. Candidates are 0 and positions right after a line feed. */
static size_t find_boundary(const guint8 *p, size_t n, gboolean is_request)
{
    unsigned flags = is_request ? RESP_PARSE_ALLOW_INLINE : 0;
    size_t c = 0;
    while (c < n) {
        resp_result_t r = resp_parse(p + c, n - c, flags, NULL, NULL);
        if (strong_start(p + c, n - c, &r, is_request)) {
            /* the rest of the segment must be RESP too */
            size_t at = c;
            while (r.status == RESP_OK && at + r.length < n) {
                at += r.length;
                r = resp_parse(p + at, n - at, flags, NULL, NULL);
            }
            if (r.status != RESP_BAD)
                return c;
            /* candidates before the failure would run into it again */
            c = at + r.err_offset;
        }
        const guint8 *lf = (const guint8 *)memchr(p + c, '\n', n - c);
        if (!lf)
            break;
        c = (size_t)(lf - p) + 1;
    }
    return n;
}

/* Frames the message at buf[offset..], resuming where the previous call on the same stream
 * position stopped: TCP hands a growing message over again and again. */
static resp_result_t frame_message(packet_info *pinfo, resp_dir_state_t *dir, const guint8 *buf,
                                   int offset, int captured, unsigned flags, gboolean have_pos,
                                   guint64 stream_pos)
{
    if (PINFO_FD_VISITED(pinfo) || !have_pos)
        return resp_parse(buf + offset, (size_t)(captured - offset), flags, NULL, NULL);
    resp_resume_t local;
    guint64 at = stream_pos + (guint64)offset;
    local.valid = 0;
    if (dir->resume && dir->resume->valid && dir->resume_at == at)
        local = *dir->resume;
    resp_result_t r = resp_frame_resumable(buf + offset, (size_t)(captured - offset), flags, &local);
    if (r.status == RESP_NEED_MORE && local.valid) {
        if (!dir->resume)
            dir->resume = wmem_new(wmem_file_scope(), resp_resume_t);
        *dir->resume = local;
        dir->resume_at = at;
    } else if (dir->resume) {
        dir->resume->valid = 0;
    }
    return r;
}

/* How many more bytes an incomplete message asks for. Any lower bound of what is missing is
 * right for a stream handed over whole (decrypted spiped, tcpinfo NULL). TCP in 4.0 differs:
 * "one more segment" asked of reassembled data that ends inside a segment extends the
 * reassembly past the rest of that segment (a message ending there would be shown late or
 * never), and every answer makes it rebuild the whole buffer, so asking segment by segment
 * for a message of many segments is quadratic. Hence: the exact count when a value ends the
 * message; at least the rest of the current segment when the data ends inside one; a lower
 * bound when both it and the message so far are large (a big aggregate: 3 bytes per pending
 * element); else one segment. */
static guint32 desegment_ask(const resp_result_t *r, const struct tcpinfo *tcpinfo, int reported)
{
    guint64 ask = r->need;
    if (tcpinfo && !(r->need_element >= RESP_EXACT_NEED_MIN && r->need == r->need_element)) {
        guint32 seg_rest = tcpinfo->nxtseq - (tcpinfo->seq + (guint32)reported);
        if (seg_rest > 0 && seg_rest < 0x80000000u)
            ask = MAX(r->need, seg_rest);
        else if (r->need < RESP_BOUND_NEED_MIN || (guint32)reported < RESP_BOUND_ASK_FROM)
            return DESEGMENT_ONE_MORE_SEGMENT;
    }
    return ask > RESP_DESEGMENT_CAP ? RESP_DESEGMENT_CAP : (guint32)ask;
}

/* Bytes of the stream that are no message of their own (skipped, the rest of a long line),
 * under a RESP item of their own so that the filter "resp" finds their frames too. */
static proto_item *stream_bytes_item(proto_tree *tree, tvbuff_t *tvb, int offset, int len, int hf)
{
    proto_item *ti = proto_tree_add_item(tree, proto_resp, tvb, offset, len, ENC_NA);
    return proto_tree_add_item(proto_item_add_subtree(ti, ett_resp), hf, tvb, offset, len, ENC_NA);
}

/* ---- bytes that are no message ------------------------------------------------------ */

static void show_span(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const resp_conv_t *cd,
                      const resp_span_t *sp)
{
    int off = (int)sp->offset;
    int len = (int)MIN(sp->length, (guint32)tvb_captured_length_remaining(tvb, off));
    proto_item *ti, *pi;
    proto_tree *st;
    switch (sp->kind) {
    case SPAN_KEEPALIVE:
        ti = proto_tree_add_item(tree, proto_resp, tvb, off, len, ENC_NA);
        proto_item_append_text(ti, ", Keepalive");
        proto_tree_add_uint(proto_item_add_subtree(ti, ett_resp), hf_resp_replication_keepalive, tvb,
                            off, len, sp->length);
        info_add(pinfo, sp->length == 1 ? "[keepalive newline]"
                                        : wmem_strdup_printf(pinfo->pool, "[%u keepalive newlines]", sp->length));
        return;
    case SPAN_IGNORED:
        pi = stream_bytes_item(tree, tvb, off, len, hf_resp_skipped);
        expert_add_info(pinfo, pi, &ei_resp_after_protocol_error);
        info_add(pinfo, "[after protocol error: not read by the server]");
        return;
    default:
        break;
    }
    ti = proto_tree_add_item(tree, proto_resp, tvb, off, len, ENC_NA);
    st = proto_item_add_subtree(ti, ett_resp);
    if (sp->answers) {
        proto_item *ri = proto_tree_add_uint(st, hf_resp_response_to, tvb, 0, 0, sp->answers->core.frame);
        proto_item_set_generated(ri);
    }
    if (sp->kind == SPAN_RDB_PREAMBLE) {
        /* "$ENDOFF:<offset> <replid> <db> <client id>" */
        proto_item_append_text(ti, ", RDB snapshot announced (dual channel: %s)",
                               rsp_format_text(pinfo->pool, tvb_get_ptr(tvb, off + 1, MAX(len - 3, 0)),
                                               (size_t)MAX(len - 3, 0)));
        info_add(pinfo, "[RDB snapshot announced]");
        return;
    }
    pi = proto_tree_add_item(st, hf_resp_rdb, tvb, off, len, ENC_NA);
    proto_tree *rt = proto_item_add_subtree(pi, ett_resp_element);
    proto_tree_add_string(rt, hf_resp_rdb_framing, tvb, off, 0, sp->eof_framing ? "eof" : "sized");
    if (sp->have_length) {
        proto_item *li = proto_tree_add_uint64(rt, hf_resp_rdb_length, tvb, off, 0, sp->rdb_length);
        proto_item_set_generated(li);
    }
    if (sp->kind == SPAN_RDB_HEADER) {
        proto_item_append_text(ti, ", RDB snapshot follows");
        if (sp->have_length && sp->rdb_length > resp_export_max)
            expert_add_info_format(pinfo, pi, &ei_resp_export_skipped, "RDB snapshot of %" G_GUINT64_FORMAT
                                   " bytes would not be exported: larger than resp.export_max_size (%u bytes)",
                                   sp->rdb_length, resp_export_max);
        info_add(pinfo, sp->eof_framing ? "[RDB snapshot, diskless]"
                                        : wmem_strdup_printf(pinfo->pool, "[RDB snapshot, %" G_GUINT64_FORMAT " bytes]",
                                                             sp->rdb_length));
        return;
    }
    proto_item_append_text(ti, ", RDB snapshot data");
    proto_tree_add_uint64(rt, hf_resp_rdb_offset, tvb, off, 0, sp->rdb_offset);
    if (sp->rdb_lost)
        expert_add_info_format(pinfo, pi, &ei_resp_rdb_lost, "%" G_GUINT64_FORMAT
                               " bytes of the snapshot were lost before these (counted by TCP "
                               "sequence numbers)", sp->rdb_lost);
    if (sp->rdb_version >= 0)
        proto_tree_add_uint(rt, hf_resp_rdb_version, tvb, off, MIN(len, 9), (guint32)sp->rdb_version);
    proto_tree_add_item(rt, hf_resp_rdb_data, tvb, off, len, ENC_NA);
    info_add(pinfo, sp->rdb_end ? "[RDB snapshot, end]" : "[RDB snapshot data]");
    /* a diskless snapshot's size shows only at its end: say where it passes the bound */
    guint64 bound = (guint64)resp_export_max + RESP_RDB_MARK_LEN; /* stream bytes hold the mark too */
    if (sp->eof_framing && sp->rdb_offset <= bound && sp->rdb_offset + sp->length > bound)
        expert_add_info_format(pinfo, pi, &ei_resp_export_skipped, "Diskless RDB snapshot passes "
                               "resp.export_max_size (%u bytes) here: it would not be exported", resp_export_max);
    if (sp->snapshot && have_tap_listener(resp_eo_tap)) {
        resp_eo_record_t *r = wmem_new0(pinfo->pool, resp_eo_record_t);
        r->kind = RESP_EO_RDB_DATA;
        r->frame = pinfo->num;
        r->server = server_text(pinfo, cd);
        r->name = wmem_strdup_printf(pinfo->pool, "rdb_%s_%u_%u", address_to_str(pinfo->pool, &cd->server_addr),
                                     cd->server_port, sp->snapshot);
        r->data = tvb_get_ptr(tvb, off, len);
        r->length = (size_t)len;
        r->snapshot = sp->snapshot;
        r->offset = sp->rdb_offset;
        r->end = sp->rdb_end;
        r->total_length = sp->have_length ? sp->rdb_length : 0;
        r->lost_before = sp->rdb_lost || (guint32)len < sp->length;
        tap_queue_packet(resp_eo_tap, pinfo, r);
    }
}

/* The first pass's record of a span: kept per frame, replayed on revisits. */
static resp_span_t *add_span(packet_info *pinfo, guint call, span_kind_t kind, int offset, guint32 length)
{
    resp_pass_t *pass = get_pass(pinfo);
    static resp_span_t scratch;
    resp_span_t sp;
    memset(&sp, 0, sizeof sp);
    sp.call = call;
    sp.kind = (guint8)kind;
    sp.offset = (guint32)offset;
    sp.length = length;
    sp.rdb_version = -1;
    if (!pass->frame) {
        scratch = sp;
        return &scratch;
    }
    if (!pass->frame->spans)
        pass->frame->spans = wmem_array_sized_new(wmem_file_scope(), sizeof(resp_span_t), 2);
    wmem_array_append_one(pass->frame->spans, sp);
    return (resp_span_t *)wmem_array_index(pass->frame->spans, wmem_array_get_count(pass->frame->spans) - 1);
}

static const resp_span_t *find_span(packet_info *pinfo, guint call, int offset)
{
    resp_pass_t *pass = get_pass(pinfo);
    wmem_array_t *a = pass->frame ? pass->frame->spans : NULL;
    guint n = a ? wmem_array_get_count(a) : 0;
    for (guint i = 0; i < n; i++) {
        const resp_span_t *sp = (const resp_span_t *)wmem_array_index(a, i);
        if (sp->call == call && sp->offset == (guint32)offset)
            return sp;
    }
    return NULL;
}

/* Bytes at offset that are no RESP message: returns how many (shown), 0 for a message, -1
 * when the snapshot's "$" line is not complete yet. First pass: as the session says;
 * revisits: as the first pass recorded. */
static int raw_span(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, resp_conv_t *cd, guint call,
                    gboolean is_request, int offset, int captured, int reported)
{
    if (PINFO_FD_VISITED(pinfo)) {
        const resp_span_t *sp = find_span(pinfo, call, offset);
        if (!sp)
            return 0;
        show_span(tvb, pinfo, tree, cd, sp);
        return (int)sp->length;
    }
    const guint8 *p = tvb_get_ptr(tvb, offset, captured - offset);
    size_t n = (size_t)(captured - offset);
    resp_session_t *s = &cd->sess;
    resp_span_t *sp;
    if (is_request)
        return 0; /* SPAN_IGNORED is recorded where bytes are skipped */
    switch (resp_session_server_state(s)) {
    case RESP_SERVER_RDB_WAIT: {
        size_t k = 0;
        while (k < n && p[k] == '\n')
            k++;
        if (k > 0) {
            sp = add_span(pinfo, call, SPAN_KEEPALIVE, offset, (guint32)k);
            show_span(tvb, pinfo, tree, cd, sp);
            return (int)k;
        }
        if (p[0] != '$')
            return 0; /* an error, say: a reply like any other */
        /* "$<len>", "$EOF:<40-byte mark>" or "$ENDOFF:<offset> <replid> <db> <id>", CRLF */
        const size_t max_line = 128;
        const guint8 *lf = (const guint8 *)memchr(p, '\n', MIN(n, max_line));
        if (!lf)
            return n < max_line && captured == reported ? -1 : 0;
        if (lf - p < 2 || lf[-1] != '\r')
            return 0;
        const guint8 *cr = lf - 1;
        resp_req_t *ans_core = NULL;
        int started = resp_session_rdb_start(s, p + 1, (size_t)(cr - p) - 1, &ans_core);
        if (!started)
            return 0; /* not a snapshot: shown as what it parses as */
        resp_request_t *answers = (resp_request_t *)ans_core;
        sp = add_span(pinfo, call, started == 2 ? SPAN_RDB_PREAMBLE : SPAN_RDB_HEADER, offset,
                      (guint32)(cr - p) + 2);
        if (started == 1)
            cd->snapshot = ++resp_snapshots;
        sp->snapshot = cd->snapshot;
        sp->eof_framing = (guint8)s->rdb.eof_framing;
        sp->have_length = resp_rdb_length(&s->rdb, &sp->rdb_length);
        sp->answers = answers;
        if (answers && !answers->core.first_reply_frame)
            answers->core.first_reply_frame = pinfo->num;
        show_span(tvb, pinfo, tree, cd, sp);
        return (int)sp->length;
    }
    case RESP_SERVER_RDB: {
        guint64 at = s->rdb.fed;
        /* bytes a short snap length left out still count, by their reported length */
        size_t avail = (size_t)(reported - offset);
        size_t take = resp_session_rdb_feed(s, p, n);
        if (take == n && avail > n)
            take += resp_session_rdb_feed(s, NULL, avail - n);
        sp = add_span(pinfo, call, SPAN_RDB_DATA, offset, (guint32)take);
        sp->eof_framing = (guint8)s->rdb.eof_framing;
        sp->rdb_offset = at;
        sp->have_length = resp_rdb_length(&s->rdb, &sp->rdb_length);
        sp->rdb_end = s->rdb.done;
        sp->rdb_lost = cd->rdb_lost;
        sp->snapshot = cd->snapshot;
        cd->rdb_lost = 0;
        if (at < 9 && resp_rdb_version(&s->rdb) >= 0)
            sp->rdb_version = resp_rdb_version(&s->rdb);
        show_span(tvb, pinfo, tree, cd, sp);
        return (int)take;
    }
    default:
        return 0;
    }
}

static void note_next_seq(packet_info *pinfo, resp_dir_state_t *dir, const struct tcpinfo *tcpinfo, int at)
{
    if (!tcpinfo || PINFO_FD_VISITED(pinfo))
        return;
    dir->have_next_seq = TRUE;
    dir->next_seq = tcpinfo->seq + (guint32)at;
}

static int dissect_resp_common(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                               const struct tcpinfo *tcpinfo, gboolean gap_before, gboolean have_pos,
                               guint64 stream_pos)
{
    resp_conv_t *cd = get_conv(pinfo);
    resp_pass_t *pass = get_pass(pinfo);
    guint call_index = pass->calls++;
    int captured = (int)tvb_captured_length(tvb);
    int reported = (int)tvb_reported_length(tvb);
    int offset = 0;

    col_set_str(pinfo->cinfo, COL_PROTOCOL, "RESP");
    if (call_index == 0)
        col_clear(pinfo->cinfo, COL_INFO);

    /* Which side is the server: from the SYN if seen, the port we were registered on, or
     * the first message (a command comes from the client). */
    if (!cd->server_known) {
        struct tcp_analysis *tcpd = get_tcp_conversation_data(NULL, pinfo);
        guint32 sport = 0;
        if (tcpd && tcpd->server_port)
            sport = tcpd->server_port;
        else if (pinfo->match_uint == pinfo->destport || pinfo->match_uint == pinfo->srcport)
            sport = pinfo->match_uint;
        if (sport == pinfo->destport && sport != pinfo->srcport) {
            copy_address_wmem(wmem_file_scope(), &cd->server_addr, &pinfo->dst);
            cd->server_port = pinfo->destport;
            cd->server_known = TRUE;
        } else if (sport == pinfo->srcport && sport != pinfo->destport) {
            copy_address_wmem(wmem_file_scope(), &cd->server_addr, &pinfo->src);
            cd->server_port = pinfo->srcport;
            cd->server_known = TRUE;
        } else if (captured > 0) {
            const guint8 *p = tvb_get_ptr(tvb, 0, captured);
            resp_result_t r = resp_parse(p, (size_t)captured, 0, NULL, NULL);
            gboolean from_client = strong_start(p, (size_t)captured, &r, TRUE);
            copy_address_wmem(wmem_file_scope(), &cd->server_addr, from_client ? &pinfo->dst : &pinfo->src);
            cd->server_port = from_client ? pinfo->destport : pinfo->srcport;
            cd->server_known = TRUE;
        }
        /* a stream whose start we saw begins at a message boundary */
        if (tcpd && tcpd->server_port) {
            cd->dir[0].verified = TRUE;
            cd->dir[1].verified = TRUE;
        } else if (!have_pos || stream_pos != 0 || gap_before) {
            resp_session_set_midstream(&cd->sess);
        }
    }
    gboolean is_request = !(pinfo->srcport == cd->server_port &&
                            addresses_equal(&pinfo->src, &cd->server_addr));
    resp_dir_state_t *dir = &cd->dir[is_request ? 0 : 1];
    /* Data TCP hands over elsewhere than where the last call stopped: bytes were lost, also
     * where its lost-segment flag does not show it (inside a reassembly that can never
     * complete, whose later bytes come as a new call; or with its sequence analysis off). */
    if (tcpinfo && !PINFO_FD_VISITED(pinfo) && dir->have_next_seq && tcpinfo->seq != dir->next_seq)
        gap_before = TRUE;
    if (gap_before && !PINFO_FD_VISITED(pinfo) && !is_request && tcpinfo && dir->have_next_seq &&
        cd->sess.server == RESP_SERVER_RDB && !cd->sess.rdb.eof_framing) {
        /* lost bytes of a sized snapshot: counted by their sequence numbers, so that its end
         * is still found (an EOF mark among lost bytes could not be) */
        guint32 lost = tcpinfo->seq - dir->next_seq;
        if (lost < 0x80000000u && (guint64)lost < cd->sess.rdb.declared - cd->sess.rdb.fed) {
            resp_session_rdb_feed(&cd->sess, NULL, lost);
            cd->rdb_lost += lost;
            gap_before = FALSE;
        }
    }
    if (gap_before && !PINFO_FD_VISITED(pinfo)) {
        dir->verified = FALSE;
        note_gap(cd, pinfo, is_request);
    }

    /* The end of a long line an earlier call showed as it came: found once, replayed. */
    guint32 line_rest = 0;
    if (PINFO_FD_VISITED(pinfo)) {
        const guint32 *slot = (const guint32 *)frame_slot(pass->frame ? pass->frame->call_line_rest : NULL,
                                                          call_index);
        line_rest = slot ? *slot : 0;
    } else if (dir->in_line && captured > 0) {
        gboolean in_step = have_pos && !gap_before &&
                           (tcpinfo ? (guint32)stream_pos == (guint32)dir->line_next : stream_pos == dir->line_next);
        if (in_step) {
            const guint8 *nl = (const guint8 *)memchr(tvb_get_ptr(tvb, 0, captured), '\n', (size_t)captured);
            line_rest = nl ? (guint32)(nl - tvb_get_ptr(tvb, 0, captured)) + 1 : (guint32)captured;
            dir->in_line = nl == NULL;
            dir->line_next = stream_pos + (guint64)captured;
            if (pass->frame)
                frame_slot_put(&pass->frame->call_line_rest, sizeof line_rest, call_index, &line_rest);
        } else {
            dir->in_line = FALSE;
            dir->verified = FALSE; /* what follows is the line's rest, not a message */
        }
    }

    /* Whether this call starts at a proven boundary: decided once, replayed on revisits. */
    gboolean verified;
    const guint8 *stored = (const guint8 *)frame_slot(pass->frame ? pass->frame->call_verified : NULL, call_index);
    if (stored && *stored) {
        verified = *stored == 2;
    } else {
        verified = dir->verified;
        if (!PINFO_FD_VISITED(pinfo) && pass->frame) {
            guint8 v = verified ? 2 : 1;
            frame_slot_put(&pass->frame->call_verified, 1, call_index, &v);
        }
    }

    const guint8 *buf = tvb_get_ptr(tvb, 0, captured);
    unsigned flags = parse_flags(is_request);
    gboolean lost_sync = FALSE;

    if (line_rest) {
        stream_bytes_item(tree, tvb, 0, (int)line_rest, hf_resp_line_rest);
        info_add(pinfo, "[rest of a long line]");
        offset = (int)line_rest;
    }

    while (offset < captured) {
        /* bytes that are no message: a replication link's newlines and snapshot, or what a
         * client sent after its protocol error */
        int raw = raw_span(tvb, pinfo, tree, cd, call_index, is_request, offset, captured, reported);
        if (raw < 0 && resp_desegment() && pinfo->can_desegment) {
            pinfo->desegment_offset = offset;
            pinfo->desegment_len = DESEGMENT_ONE_MORE_SEGMENT;
            note_next_seq(pinfo, dir, tcpinfo, offset);
            return captured;
        }
        if (raw > 0) {
            offset += raw;
            verified = TRUE;
            continue;
        }
        if (!verified) {
            size_t skip = find_boundary(buf + offset, (size_t)(captured - offset), is_request);
            if (skip > 0 && is_request && !PINFO_FD_VISITED(pinfo) &&
                cd->sess.client == RESP_CLIENT_CLOSED) {
                /* the rest of what the client sent after a protocol error: nothing was lost */
                show_span(tvb, pinfo, tree, cd, add_span(pinfo, call_index, SPAN_IGNORED, offset, (guint32)skip));
                offset += (int)skip;
                if (offset >= captured)
                    break;
            } else if (skip > 0) {
                proto_item *si = stream_bytes_item(tree, tvb, offset, (int)skip, hf_resp_skipped);
                expert_add_info_format(pinfo, si, &ei_resp_skipped,
                                       "%zu bytes skipped: not at a provable message boundary "
                                       "(capture started mid-stream or data was lost)", skip);
                info_add(pinfo, wmem_strdup_printf(pinfo->pool, "[%zu bytes skipped]", skip));
                if (is_request && !PINFO_FD_VISITED(pinfo))
                    note_gap(cd, pinfo, TRUE);
                offset += (int)skip;
                if (offset >= captured)
                    break; /* still not in step */
            }
            verified = TRUE;
        }
        resp_result_t r = frame_message(pinfo, dir, buf, offset, captured, flags, have_pos, stream_pos);
        if (r.status == RESP_OK) {
            dissect_message(tvb, pinfo, tree, offset, (int)r.length, is_request, cd);
            offset += (int)r.length;
            continue;
        }
        if (r.status == RESP_NEED_MORE) {
            if (captured < reported) {
                /* The capture cut this segment (snap length): show what is there. */
                proto_item *mi = dissect_message(tvb, pinfo, tree, offset, captured - offset, is_request, cd);
                expert_add_info(pinfo, mi, &ei_resp_truncated);
                lost_sync = TRUE;
                offset = reported;
                break;
            }
            if (r.partial_line >= RESP_LONG_LINE && r.partial_line == (size_t)(captured - offset) &&
                have_pos && resp_desegment() && pinfo->can_desegment) {
                /* A very long line (a MONITOR line of a command with a huge value, or a hostile
                 * capture) is shown as it comes: its length shows only at its end, and waiting
                 * segment by segment would make TCP rebuild everything so far each time. */
                proto_item *mi = dissect_message(tvb, pinfo, tree, offset, captured - offset, is_request, cd);
                expert_add_info(pinfo, mi, &ei_resp_line_continues);
                if (!PINFO_FD_VISITED(pinfo)) {
                    dir->in_line = TRUE;
                    dir->line_next = stream_pos + (guint64)captured;
                }
                offset = captured;
                break;
            }
            if (resp_desegment() && pinfo->can_desegment) {
                pinfo->desegment_offset = offset;
                pinfo->desegment_len = desegment_ask(&r, tcpinfo, reported);
                note_next_seq(pinfo, dir, tcpinfo, offset); /* the reassembled message starts there */
                return captured;
            }
            /* Reassembly is off: show the first part; the rest cannot be placed. */
            proto_item *mi = dissect_message(tvb, pinfo, tree, offset, captured - offset, is_request, cd);
            expert_add_info(pinfo, mi, &ei_resp_incomplete);
            col_append_str(pinfo->cinfo, COL_INFO, " [continued in next segment]");
            lost_sync = TRUE;
            offset = captured;
            break;
        }
        /* Not RESP: say where and why. */
        proto_item *bi = stream_bytes_item(tree, tvb, offset, -1, hf_resp_skipped);
        expert_add_info_format(pinfo, bi, &ei_resp_malformed, "Not valid RESP at offset %zu: %s",
                               r.err_offset, resp_error_string(r.err));
        if (is_request) {
            if (!PINFO_FD_VISITED(pinfo)) {
                /* the server answers it with one protocol error reply */
                resp_request_t *req = new_request_record(pinfo);
                resp_session_protocol_error(&cd->sess, &req->core, pinfo->num);
            }
            /* Redis answers a protocol error and closes the connection: nothing after it in
             * this request stream is processed, so none of it is shown as commands. */
            info_add(pinfo, "[protocol error]");
            offset = captured;
            verified = FALSE;
            break;
        }
        /* Look for the next boundary after the point of failure: bytes before it belonged
         * to the message that failed. */
        size_t from = r.err_offset > 0 ? r.err_offset : 1;
        size_t next = from + find_boundary(buf + offset + from, (size_t)(captured - offset) - from, is_request);
        if (offset + (int)next < captured)
            proto_item_set_len(bi, (int)next);
        offset += (int)next;
        verified = offset < captured; /* find_boundary() proved the new position, if any */
    }

    if (!PINFO_FD_VISITED(pinfo))
        dir->verified = verified && !lost_sync;
    note_next_seq(pinfo, dir, tcpinfo, reported);
    return offset;
}

/* TCP's flag (its packet-tcp.c, TCP_A_LOST_PACKET) for a segment that follows a hole. */
#define TCP_ANALYSIS_LOST_PACKET 0x0002

/* Whether TCP's sequence analysis found bytes missing before this frame's segment. It is
 * only known on the first pass, and only our first call in the frame starts there. */
static gboolean tcp_lost_before(packet_info *pinfo)
{
    if (PINFO_FD_VISITED(pinfo) || get_pass(pinfo)->calls > 0)
        return FALSE;
    struct tcp_analysis *tcpd = get_tcp_conversation_data(NULL, pinfo); /* keeps tcpd->ta */
    return tcpd && tcpd->ta && (tcpd->ta->flags & TCP_ANALYSIS_LOST_PACKET);
}

static int dissect_resp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    /* TCP passes its tcpinfo: the sequence number of the first byte locates the data */
    const struct tcpinfo *tcpinfo = pinfo->ptype == PT_TCP ? (const struct tcpinfo *)data : NULL;
    return dissect_resp_common(tvb, pinfo, tree, tcpinfo, tcpinfo && tcp_lost_before(pinfo),
                               tcpinfo != NULL, tcpinfo ? tcpinfo->seq : 0);
}

static int dissect_resp_stream(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    const resp_stream_info_t *info = (const resp_stream_info_t *)data;
    return dissect_resp_common(tvb, pinfo, tree, NULL, info && info->gap_before, info != NULL,
                               info ? info->stream_offset : 0);
}

/* ---- heuristic ----------------------------------------------------------------------- */

static rsp_bool dissect_resp_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    size_t n = tvb_captured_length(tvb);
    if (n < 4)
        return FALSE;
    const guint8 *p = tvb_get_ptr(tvb, 0, (gint)n);
    /* Only typed RESP: inline text would claim HTTP, SMTP and memcached. */
    resp_result_t r = resp_parse(p, n, 0, NULL, NULL);
    if (r.status == RESP_BAD)
        return FALSE;
    gboolean ok = FALSE;
    if (p[0] == '*' && strong_start(p, n, &r, TRUE)) {
        ok = TRUE; /* a command Redis knows */
    } else if (r.status == RESP_OK && strchr("$*:%~>_#,(!=", p[0])) {
        /* a reply: the whole segment must be complete RESP messages */
        size_t at = 0;
        while (r.status == RESP_OK && at + r.length < n) {
            at += r.length;
            r = resp_parse(p + at, n - at, 0, NULL, NULL);
        }
        ok = r.status == RESP_OK;
    }
    if (!ok)
        return FALSE;
    conversation_set_dissector(find_or_create_conversation(pinfo), resp_handle);
    dissect_resp(tvb, pinfo, tree, data);
    return TRUE;
}

/* ---- registration -------------------------------------------------------------------- */

void proto_register_resp_plugin(void)
{
    static hf_register_info hf[] = {
        {&hf_resp_string, {"String", "resp.string", FT_STRING, BASE_NONE, NULL, 0x0, "RESP simple string", HFILL}},
        {&hf_resp_error, {"Error", "resp.error", FT_STRING, BASE_NONE, NULL, 0x0, "RESP simple error", HFILL}},
        {&hf_resp_bulk_string, {"Bulk String", "resp.bulk_string", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_bulk_string_length, {"Length", "resp.bulk_string.length", FT_INT32, BASE_DEC, NULL, 0x0, "Declared length (-1: null)", HFILL}},
        {&hf_resp_bulk_string_value, {"Value", "resp.bulk_string.value", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_integer, {"Integer", "resp.integer", FT_INT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_array, {"Array", "resp.array", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_array_length, {"Length", "resp.array.length", FT_INT64, BASE_DEC, NULL, 0x0, "Declared elements (-1: null)", HFILL}},
        {&hf_resp_null, {"Null", "resp.null", FT_NONE, BASE_NONE, NULL, 0x0, "RESP3 null", HFILL}},
        {&hf_resp_boolean, {"Boolean", "resp.boolean", FT_BOOLEAN, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_double, {"Double", "resp.double", FT_DOUBLE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_big_number, {"Big number", "resp.big_number", FT_STRING, BASE_NONE, NULL, 0x0, "Decimal digits", HFILL}},
        {&hf_resp_bulk_error, {"Bulk error", "resp.bulk_error", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_verbatim, {"Verbatim string", "resp.verbatim_string", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_verbatim_format, {"Format", "resp.verbatim_string.format", FT_STRING, BASE_NONE, NULL, 0x0, "txt or mkd", HFILL}},
        {&hf_resp_map, {"Map", "resp.map", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_map_length, {"Pairs", "resp.map.length", FT_INT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_set, {"Set", "resp.set", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_set_length, {"Length", "resp.set.length", FT_INT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_attribute, {"Attribute", "resp.attribute", FT_NONE, BASE_NONE, NULL, 0x0, "Metadata annotating the next element", HFILL}},
        {&hf_resp_attribute_length, {"Pairs", "resp.attribute.length", FT_INT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_push, {"Push", "resp.push", FT_NONE, BASE_NONE, NULL, 0x0, "Out-of-band data (RESP3)", HFILL}},
        {&hf_resp_push_length, {"Length", "resp.push.length", FT_INT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_inline, {"Inline command", "resp.inline", FT_STRING, BASE_NONE, NULL, 0x0, "A command sent as a line of text", HFILL}},
        {&hf_resp_request, {"Request", "resp.request", FT_NONE, BASE_NONE, NULL, 0x0, "Message from client to server", HFILL}},
        {&hf_resp_response, {"Response", "resp.response", FT_NONE, BASE_NONE, NULL, 0x0, "Reply from server to client", HFILL}},
        {&hf_resp_pubsub_message, {"Pub/Sub message", "resp.pubsub_message", FT_NONE, BASE_NONE, NULL, 0x0, "A published message delivered to a subscriber", HFILL}},
        {&hf_resp_monitor, {"Monitor output", "resp.monitor", FT_NONE, BASE_NONE, NULL, 0x0, "A line of the MONITOR stream", HFILL}},
        {&hf_resp_command, {"Command", "resp.command", FT_STRING, BASE_NONE, NULL, 0x0, "Command name as Redis resolves it", HFILL}},
        {&hf_resp_subcommand, {"Subcommand", "resp.subcommand", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_key, {"Key", "resp.key", FT_STRING, BASE_NONE, NULL, 0x0, "An argument in a key position", HFILL}},
        {&hf_resp_argument, {"Argument", "resp.argument", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_response_in, {"Response in", "resp.response_in", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0x0, NULL, HFILL}},
        {&hf_resp_response_to, {"Request in", "resp.response_to", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0x0, NULL, HFILL}},
        {&hf_resp_response_for_command, {"Response for command", "resp.response_for.command", FT_STRING, BASE_NONE,
                                         NULL, 0x0, "Reply: the command (and subcommand) of its request", HFILL}},
        {&hf_resp_response_for_key, {"Response for key", "resp.response_for.key", FT_STRING, BASE_NONE, NULL, 0x0,
                                     "Reply: the first key of its request", HFILL}},
        {&hf_resp_time, {"Time", "resp.time", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0, "Time since the request", HFILL}},
        {&hf_resp_version, {"Protocol version", "resp.version", FT_UINT8, BASE_DEC, NULL, 0x0, "RESP version in force (HELLO)", HFILL}},
        {&hf_resp_skipped, {"Skipped bytes", "resp.skipped", FT_BYTES, BASE_NONE, NULL, 0x0, "Bytes not decoded", HFILL}},
        {&hf_resp_line_rest, {"Rest of a long line", "resp.line_rest", FT_BYTES, BASE_NONE, NULL, 0x0,
                              "The end of a line whose start an earlier segment showed", HFILL}},
        {&hf_resp_invalid_value, {"Invalid value", "resp.invalid_value", FT_STRING, BASE_NONE, NULL, 0x0,
                                  "Content a server sent that is not valid for its type", HFILL}},
        {&hf_resp_no_reply, {"No reply expected", "resp.no_reply", FT_STRING, BASE_NONE, NULL, 0x0,
                             "Why the server sends nothing for this request", HFILL}},
        {&hf_resp_replication, {"Replication stream", "resp.replication", FT_NONE, BASE_NONE, NULL, 0x0,
                                "A command a master streams to its replica", HFILL}},
        {&hf_resp_replication_id, {"Replication ID", "resp.replication.id", FT_STRING, BASE_NONE, NULL, 0x0,
                                   "The master's replication ID (+FULLRESYNC, +CONTINUE)", HFILL}},
        {&hf_resp_replication_offset, {"Replication offset", "resp.replication.offset", FT_UINT64, BASE_DEC, NULL, 0x0,
                                       "The master's offset where its stream starts (+FULLRESYNC)", HFILL}},
        {&hf_resp_replication_lag, {"Replica lag", "resp.replication.lag", FT_INT64, BASE_DEC, NULL, 0x0,
                                    "Bytes the master had streamed that this ACK does not acknowledge", HFILL}},
        {&hf_resp_replication_keepalive, {"Keepalive newlines", "resp.replication.keepalive", FT_UINT32, BASE_DEC, NULL, 0x0,
                                          "Newlines a master sends while it prepares the snapshot", HFILL}},
        {&hf_resp_rdb, {"RDB snapshot", "resp.rdb", FT_NONE, BASE_NONE, NULL, 0x0,
                        "Bytes of the snapshot a master sends its replica", HFILL}},
        {&hf_resp_rdb_framing, {"Framing", "resp.rdb.framing", FT_STRING, BASE_NONE, NULL, 0x0,
                                "sized ($<length>) or eof (diskless: $EOF:<mark> ... <mark>)", HFILL}},
        {&hf_resp_rdb_length, {"Length", "resp.rdb.length", FT_UINT64, BASE_DEC, NULL, 0x0,
                               "Payload bytes of the snapshot, framing excluded", HFILL}},
        {&hf_resp_rdb_version, {"RDB version", "resp.rdb.version", FT_UINT16, BASE_DEC, NULL, 0x0,
                                "From the snapshot's header (REDIS00nn)", HFILL}},
        {&hf_resp_rdb_offset, {"Offset", "resp.rdb.offset", FT_UINT64, BASE_DEC, NULL, 0x0,
                               "Where in the snapshot these bytes are", HFILL}},
        {&hf_resp_rdb_data, {"Data", "resp.rdb.data", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_command_servers, {"Known to", "resp.command.servers", FT_STRING, BASE_NONE, NULL, 0x0,
                                    "The releases that have this command or subcommand (from their COMMAND tables)", HFILL}},
        {&hf_resp_slot, {"Hash slot", "resp.slot", FT_UINT16, BASE_DEC, NULL, 0x0,
                         "The key's cluster hash slot: CRC16 of its hash tag (or whole key) mod 16384", HFILL}},
        {&hf_resp_error_code, {"Error code", "resp.error.code", FT_STRING, BASE_NONE, NULL, 0x0,
                               "The error's first word (ERR, WRONGTYPE, MOVED, ASK, NOAUTH, ...)", HFILL}},
        {&hf_resp_redirect_slot, {"Redirected slot", "resp.redirect.slot", FT_UINT16, BASE_DEC, NULL, 0x0,
                                  "The hash slot a MOVED or ASK reply is about", HFILL}},
        {&hf_resp_redirect_host, {"Redirect host", "resp.redirect.host", FT_STRING, BASE_NONE, NULL, 0x0,
                                  "The endpoint the node names (address, host name, or empty)", HFILL}},
        {&hf_resp_redirect_port, {"Redirect port", "resp.redirect.port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_hello, {"Sentinel hello", "resp.sentinel.hello", FT_NONE, BASE_NONE, NULL, 0x0,
                                   "A sentinel announcing itself and its master on __sentinel__:hello", HFILL}},
        {&hf_resp_sentinel_event, {"Sentinel event", "resp.sentinel.event", FT_STRING, BASE_NONE, NULL, 0x0,
                                   "The event's channel (+sdown, +switch-master, ...)", HFILL}},
        {&hf_resp_sentinel_ip, {"IP", "resp.sentinel.ip", FT_STRING, BASE_NONE, NULL, 0x0,
                                "The sentinel's own address (hello), or the instance's (event)", HFILL}},
        {&hf_resp_sentinel_port, {"Port", "resp.sentinel.port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_runid, {"Run id", "resp.sentinel.runid", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_epoch, {"Current epoch", "resp.sentinel.epoch", FT_UINT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_master_name, {"Master name", "resp.sentinel.master_name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_master_ip, {"Master IP", "resp.sentinel.master_ip", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_master_port, {"Master port", "resp.sentinel.master_port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_master_epoch, {"Master config epoch", "resp.sentinel.master_epoch", FT_UINT64, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_instance_type, {"Instance type", "resp.sentinel.instance_type", FT_STRING, BASE_NONE, NULL, 0x0,
                                           "master, slave or sentinel", HFILL}},
        {&hf_resp_sentinel_instance_name, {"Instance name", "resp.sentinel.instance_name", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_old_ip, {"Old master IP", "resp.sentinel.old_ip", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_old_port, {"Old master port", "resp.sentinel.old_port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_new_ip, {"New master IP", "resp.sentinel.new_ip", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_sentinel_new_port, {"New master port", "resp.sentinel.new_port", FT_UINT16, BASE_DEC, NULL, 0x0, NULL, HFILL}},
        {&hf_resp_auth_username, {"User name", "resp.auth.username", FT_STRING, BASE_NONE, NULL, 0x0,
                                  "The user a request authenticates as (AUTH, HELLO AUTH, MIGRATE AUTH2, "
                                  "CONFIG SET masteruser)", HFILL}},
        {&hf_resp_auth_password, {"Password", "resp.auth.password", FT_STRING, BASE_NONE, NULL, 0x0,
                                  "A password the request sends or sets (AUTH, HELLO AUTH, MIGRATE AUTH/AUTH2, "
                                  "CONFIG SET requirepass/masterauth)", HFILL}},
    };
    static gint *ett[] = {&ett_resp, &ett_resp_element};
    static ei_register_info ei[] = {
        {&ei_resp_malformed, {"resp.malformed", PI_MALFORMED, PI_ERROR, "Not valid RESP", EXPFILL}},
        {&ei_resp_skipped, {"resp.skipped_bytes", PI_SEQUENCE, PI_WARN, "Bytes skipped", EXPFILL}},
        {&ei_resp_truncated, {"resp.truncated", PI_UNDECODED, PI_NOTE, "Message cut short by the capture (snap length or capture end)", EXPFILL}},
        {&ei_resp_incomplete, {"resp.incomplete", PI_REASSEMBLE, PI_NOTE, "Message continues in the next segment (reassembly is off)", EXPFILL}},
        {&ei_resp_unmatched, {"resp.unmatched_response", PI_SEQUENCE, PI_NOTE, "Response whose request is not in the capture", EXPFILL}},
        {&ei_resp_error_reply, {"resp.error_reply", PI_RESPONSE_CODE, PI_NOTE, "Error reply", EXPFILL}},
        {&ei_resp_unknown_command, {"resp.unknown_command", PI_UNDECODED, PI_NOTE, "Unknown command", EXPFILL}},
        {&ei_resp_elements_not_shown, {"resp.elements_not_shown", PI_UNDECODED, PI_NOTE, "Elements not shown in the tree", EXPFILL}},
        {&ei_resp_unknown_subcommand, {"resp.unknown_subcommand", PI_UNDECODED, PI_NOTE, "Unknown subcommand", EXPFILL}},
        {&ei_resp_invalid_value, {"resp.invalid_value", PI_MALFORMED, PI_WARN, "Value not valid for its type", EXPFILL}},
        {&ei_resp_after_protocol_error, {"resp.after_protocol_error", PI_SEQUENCE, PI_NOTE,
                                         "Bytes after a protocol error: the server closes the connection without reading them", EXPFILL}},
        {&ei_resp_redirect, {"resp.redirect", PI_RESPONSE_CODE, PI_NOTE, "Cluster redirect (MOVED or ASK)", EXPFILL}},
        {&ei_resp_sentinel_malformed, {"resp.sentinel.malformed", PI_MALFORMED, PI_WARN,
                                       "Not a sentinel hello: it has not the eight comma-separated values", EXPFILL}},
        {&ei_resp_rdb_lost, {"resp.rdb.lost", PI_SEQUENCE, PI_WARN, "Snapshot bytes lost before these", EXPFILL}},
        {&ei_resp_line_continues, {"resp.line_continues", PI_REASSEMBLE, PI_NOTE, "A very long line: shown as it comes, its rest in later segments (resp.line_rest)", EXPFILL}},
        {&ei_resp_slow_response, {"resp.slow_response", PI_SEQUENCE, PI_NOTE,
                                  "Response slower than resp.slow_threshold", EXPFILL}},
        {&ei_resp_export_skipped, {"resp.export_skipped", PI_UNDECODED, PI_NOTE,
                                   "Not exported: larger than resp.export_max_size", EXPFILL}},
        {&ei_resp_credentials_not_listed, {"resp.credentials_not_listed", PI_UNDECODED, PI_NOTE,
                                           "Credentials not listed in the credentials tap", EXPFILL}},
    };

    /* Adopt the built-in "resp" protocol when this Wireshark has one. */
    proto_resp = proto_get_id_by_filter_name("resp");
    resp_registered_here = proto_resp == -1;
    if (resp_registered_here)
        proto_resp = proto_register_protocol("REdis Serialization Protocol", "RESP", "resp");
    proto_register_field_array(proto_resp, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert_register_protocol(proto_resp), ei, array_length(ei));

    module_t *module = prefs_find_module("resp");
    if (module) {
        resp_desegment_pref = prefs_find_preference(module, "desegment_data");
    } else {
        module = prefs_register_protocol(proto_resp, NULL);
    }
    if (!resp_desegment_pref)
        prefs_register_bool_preference(module, "desegment_data",
                                       "Reassemble RESP messages spanning multiple TCP segments",
                                       "Whether messages spanning TCP segments are reassembled. "
                                       "TCP's \"Allow subdissectors to reassemble TCP streams\" must be on too.",
                                       &resp_desegment_own);
    prefs_register_uint_preference(module, "value_display_length", "Bytes of a value to show",
                                   "Values longer than this are shortened in the tree and the Info "
                                   "column (filters still see the whole value)",
                                   10, &resp_value_display_len);
    prefs_register_uint_preference(module, "max_elements_shown", "Elements of one message to show",
                                   "Elements of a message beyond this many are left out of the tree "
                                   "(and its filters); each takes up to 3 of Wireshark's items per packet",
                                   10, &resp_max_elements_shown);
    prefs_register_uint_preference(module, "slow_threshold", "Slow response threshold (ms)",
                                   "A response that takes at least this many milliseconds gets the expert "
                                   "info resp.slow_response (0: off)",
                                   10, &resp_slow_threshold_ms);
    prefs_register_uint_preference(module, "export_min_size", "Smallest value to export (bytes)",
                                   "Bulk values of at least this many bytes are listed in File > Export "
                                   "Objects > RESP (0: none)",
                                   10, &resp_export_min);
    prefs_register_uint_preference(module, "export_max_size", "Largest object to export (bytes)",
                                   "An RDB snapshot or value larger than this is not exported (export keeps "
                                   "each object in memory until it is written)",
                                   10, &resp_export_max);

    /* The name "resp" is the built-in's from 4.2 on; ours then goes by the protocol alone
     * (resp_is_resp_handle() lets other files of the plugin treat both as ours). */
    if (find_dissector("resp"))
        resp_handle = create_dissector_handle(dissect_resp, proto_resp);
    else
        resp_handle = register_dissector("resp", dissect_resp, proto_resp);
    resp_stream_entry = create_dissector_handle(dissect_resp_stream, proto_resp);
    resp_rdb_channel_mains = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_str_hash, g_str_equal);
    resp_cmd_ids_by_info = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);
    resp_cmd_ids_by_name = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_str_hash, g_str_equal);
    resp_keys = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), key_bytes_hash, key_bytes_equal);
    resp_credentials = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);

    resp_tap = register_tap("resp");
    resp_credentials_tap = register_tap("credentials");
    resp_eo_tap = resp_eo_register(proto_resp);
    resp_stats_register(proto_resp);
}

static void resp_init(void)
{
    resp_snapshots = 0;
    resp_request_slab = NULL; /* the last file's slabs went with its scope */
    resp_request_slab_left = 0;
}

/* Wireshark has its own basic RESP dissector (4.0 and later), whose protocol, fields and
 * preferences this plugin adopts. Its handle stays where Wireshark put it — on tcp.port
 * 6379, behind the resp.tcp.port preference, in Decode As, and (from 4.2) under the name
 * "resp" — so that every way of choosing RESP keeps working. Before each dissection pass,
 * every tcp.port entry that leads to a handle of the resp protocol other than ours is pointed
 * at ours; the port preference, Decode As and `-d` have all been applied by then. */
static void resp_collect_foreign_ports(const char *table _U_, ftenum_t type _U_, gpointer key,
                                       gpointer value, gpointer user_data)
{
    dissector_handle_t h = dtbl_entry_get_handle((dtbl_entry_t *)value);
    if (h && h != resp_handle && dissector_handle_get_protocol_index(h) == proto_resp)
        g_array_append_val((GArray *)user_data, key);
}

static void resp_take_over_ports(void)
{
    GArray *ports = g_array_new(FALSE, FALSE, sizeof(gpointer));
    dissector_table_foreach("tcp.port", resp_collect_foreign_ports, ports);
    for (guint i = 0; i < ports->len; i++)
        dissector_change_uint("tcp.port", GPOINTER_TO_UINT(g_array_index(ports, gpointer, i)), resp_handle);
    g_array_free(ports, TRUE);
}

gboolean resp_is_resp_handle(dissector_handle_t h)
{
    return h && dissector_handle_get_protocol_index(h) == proto_resp;
}

void proto_reg_handoff_resp_plugin(void)
{
    /* Without a built-in there is no port preference yet: register it ourselves. */
    if (resp_registered_here)
        dissector_add_uint_with_preference("tcp.port", RESP_DEFAULT_PORT, resp_handle);
    register_init_routine(resp_take_over_ports);
    register_init_routine(resp_init);
    heur_dissector_add("tcp", dissect_resp_heur, "RESP (Redis) over TCP", "resp_tcp", proto_resp,
                       HEURISTIC_ENABLE);
}

dissector_handle_t resp_dissector_handle(void)
{
    return resp_handle;
}

dissector_handle_t resp_stream_handle(void)
{
    return resp_stream_entry;
}
