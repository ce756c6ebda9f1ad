/* packet-spipe.c — spiped tunnels: handshake, 1060-byte records, decryption with the shared
 * key file, and the decrypted byte stream handed to RESP (or another protocol).
 *
 * The wire format is in shared/spiped-protocol.md; the cryptography is in
 * core/spiped_crypto.c. This file does framing by stream position, key selection, per-record
 * results stored for revisits, and reassembly of the plaintext for the inner dissector.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config-plugin.h"

#include <epan/addr_resolv.h>
#include <epan/conversation.h>
#include <epan/decode_as.h>
#include <epan/exceptions.h>
#include <epan/expert.h>
#include <epan/follow.h>
#include <epan/packet.h>
#include <epan/prefs-int.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/to_str.h>
#include <epan/uat.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/report_message.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/resp_parse.h"
#include "core/spiped_crypto.h"
#include "core/spiped_keylog.h"
#include "packet-resp.h"
#include "packet-spipe.h"

#define SPIPED_DEFAULT_PORT 6479
#define SPIPED_DH_START SPIPED_NONCE_LEN                          /* 32 */
#define SPIPED_RECORDS_START (SPIPED_NONCE_LEN + SPIPED_DHMSG_LEN) /* 320 */

enum { DIR_TO_SERVER = 0, DIR_TO_CLIENT = 1 };

static int proto_spiped = -1;
static dissector_handle_t spiped_handle;
static dissector_handle_t data_handle;
static dissector_table_t spiped_port_table;
static int spiped_follow_tap = -1; /* "spiped_follow": each decrypted record's plaintext, as a tvb */

static int hf_spiped_direction = -1;
static int hf_spiped_nonce = -1;
static int hf_spiped_dh = -1;
static int hf_spiped_dh_public = -1;
static int hf_spiped_dh_mac = -1;
static int hf_spiped_fast = -1;
static int hf_spiped_forward_secrecy = -1;
static int hf_spiped_from_keylog = -1;
static int hf_spiped_key_verified = -1;
static int hf_spiped_key_label = -1;
static int hf_spiped_key_fingerprint = -1;
static int hf_spiped_record = -1;
static int hf_spiped_record_number = -1;
static int hf_spiped_record_ciphertext = -1;
static int hf_spiped_record_mac = -1;
static int hf_spiped_record_length = -1;
static int hf_spiped_decrypted = -1;
static int hf_spiped_fragment = -1;

static gint ett_spiped = -1;
static gint ett_spiped_message = -1;

static expert_field ei_spiped_key_mismatch = EI_INIT;
static expert_field ei_spiped_mac_invalid = EI_INIT;
static expert_field ei_spiped_bad_length = EI_INIT;
static expert_field ei_spiped_no_secret = EI_INIT;
static expert_field ei_spiped_no_handshake = EI_INIT;
static expert_field ei_spiped_no_key = EI_INIT;
static expert_field ei_spiped_key_file = EI_INIT;
static expert_field ei_spiped_bad_dh = EI_INIT;
static expert_field ei_spiped_truncated = EI_INIT;
static expert_field ei_spiped_lost = EI_INIT;
static expert_field ei_spiped_keylog = EI_INIT;
static expert_field ei_spiped_keylog_used = EI_INIT;
static expert_field ei_spiped_not_spiped = EI_INIT;

static const value_string direction_vals[] = {
    {DIR_TO_SERVER, "Client to server"},
    {DIR_TO_CLIENT, "Server to client"},
    {0, NULL},
};

/* ---- keys ---------------------------------------------------------------------------- */

typedef struct {
    char *label;
    char *path;
} key_uat_row_t;

static key_uat_row_t *key_uat_rows;
static guint key_uat_nrows;
static const char *pref_key_file = "";
static const char *pref_inner_protocol = "auto";
static const char *pref_keylog_file = "";

typedef struct {
    char *label;
    char fingerprint[SPIPED_FINGERPRINT_LEN + 1];
    guint8 K[SPIPED_KEY_LEN];
    gboolean usable;
    char *error; /* why not usable */
} spiped_key_t;

static GArray *keys; /* spiped_key_t, rebuilt when preferences change */

static void keys_clear(void)
{
    if (!keys)
        return;
    for (guint i = 0; i < keys->len; i++) {
        spiped_key_t *k = &g_array_index(keys, spiped_key_t, i);
        memset(k->K, 0, sizeof k->K);
        g_free(k->label);
        g_free(k->error);
    }
    g_array_set_size(keys, 0);
}

static void key_load(const char *label, const char *path)
{
    spiped_key_t k;
    gchar *contents = NULL;
    gsize len = 0;
    GError *err = NULL;

    memset(&k, 0, sizeof k);
    k.label = g_strdup(label);
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        k.error = g_strdup_printf("key file %s is a directory", path);
    } else if (!g_file_get_contents(path, &contents, &len, &err)) {
        k.error = g_strdup_printf("key file %s cannot be read: %s", path, err->message);
        g_error_free(err);
    } else if (len == 0) {
        k.error = g_strdup_printf("key file %s is empty", path);
    } else if (spiped_key_from_file_bytes((const guint8 *)contents, len, k.K) != 0) {
        k.error = g_strdup("libgcrypt failed to hash the key file");
    } else {
        spiped_key_fingerprint(k.K, k.fingerprint);
        k.usable = TRUE;
    }
    if (contents) {
        memset(contents, 0, len);
        g_free(contents);
    }
    g_array_append_val(keys, k);
}

/* Problems with key files, reported once: the preferences and the key table are applied one
 * after the other, and each reloads the keys. A problem still there is not reported again. */
static GHashTable *key_problems_reported;

static void report_key_problems(void)
{
    GHashTable *now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; keys && i < keys->len; i++) {
        spiped_key_t *k = &g_array_index(keys, spiped_key_t, i);
        if (!k->error)
            continue;
        char *msg = g_strdup_printf("spiped: %s (key \"%s\" is not used)", k->error, k->label);
        if (!key_problems_reported || !g_hash_table_contains(key_problems_reported, msg))
            report_failure("%s", msg);
        g_hash_table_add(now, msg);
    }
    if (key_problems_reported)
        g_hash_table_destroy(key_problems_reported);
    key_problems_reported = now;
}

static void keys_reload(void)
{
    keys_clear();
    if (pref_key_file && *pref_key_file)
        key_load("key_file preference", pref_key_file);
    for (guint i = 0; i < key_uat_nrows; i++)
        if (key_uat_rows[i].path && *key_uat_rows[i].path)
            key_load(key_uat_rows[i].label && *key_uat_rows[i].label ? key_uat_rows[i].label
                                                                     : key_uat_rows[i].path,
                     key_uat_rows[i].path);
    report_key_problems();
}

static guint keys_usable(void)
{
    guint n = 0;
    for (guint i = 0; keys && i < keys->len; i++)
        n += g_array_index(keys, spiped_key_t, i).usable;
    return n;
}

/* ---- key log (forward-secret sessions) ----------------------------------------------- */

/* The key log is read incrementally, like TLS's: what was appended since the last look is
 * parsed when a session's secret is missing, so a live capture picks up new lines. */
static struct {
    spiped_keylog_t *log;
    char *path;
    dev_t dev;
    ino_t ino;
    off_t offset;         /* bytes parsed so far */
    gboolean reported;    /* malformed lines or a read error were reported */
    char *problem;        /* what is wrong with it, for the expert info */
} keylog;

static void keylog_reset(void)
{
    spiped_keylog_free(keylog.log);
    g_free(keylog.path);
    g_free(keylog.problem);
    memset(&keylog, 0, sizeof keylog);
}

static void keylog_note_problem(char *msg)
{
    g_free(keylog.problem);
    keylog.problem = msg;
    if (!keylog.reported) {
        keylog.reported = TRUE;
        report_failure("spiped: %s", msg);
    }
}

static void keylog_refresh(void)
{
    if (!pref_keylog_file || !*pref_keylog_file) {
        if (keylog.path)
            keylog_reset();
        return;
    }
    if (!keylog.path || strcmp(keylog.path, pref_keylog_file) != 0) {
        keylog_reset();
        keylog.path = g_strdup(pref_keylog_file);
    }
    /* nothing appended since the last look: no need to open it */
    struct stat st;
    if (keylog.log && stat(keylog.path, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == keylog.dev &&
        st.st_ino == keylog.ino && st.st_size == keylog.offset)
        return;
    FILE *f = fopen(keylog.path, "rb");
    if (!f) {
        keylog_note_problem(g_strdup_printf("key log %s cannot be read: %s", keylog.path, g_strerror(errno)));
        return;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        keylog_note_problem(g_strdup_printf("key log %s is not a regular file", keylog.path));
        fclose(f);
        return;
    }
    /* a different or truncated file (rotation) is read from the start */
    if (!keylog.log || st.st_dev != keylog.dev || st.st_ino != keylog.ino || st.st_size < keylog.offset) {
        spiped_keylog_free(keylog.log);
        keylog.log = spiped_keylog_new();
        keylog.dev = st.st_dev;
        keylog.ino = st.st_ino;
        keylog.offset = 0;
    }
    if (keylog.log && st.st_size > keylog.offset && fseeko(f, keylog.offset, SEEK_SET) == 0) {
        char buf[65536];
        size_t n;
        spiped_keylog_stats_t stats;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            spiped_keylog_feed(keylog.log, buf, n, &stats);
            keylog.offset += (off_t)n;
        }
        /* a last line without its newline yet is used as it is */
        if (feof(f))
            spiped_keylog_flush(keylog.log, &stats);
        spiped_keylog_get_stats(keylog.log, &stats);
        if (stats.malformed)
            keylog_note_problem(g_strdup_printf(
                "key log %s: %" G_GUINT64_FORMAT " malformed line(s) skipped, the first is line %"
                G_GUINT64_FORMAT " (%s)", keylog.path, stats.malformed, stats.first_malformed_line,
                stats.first_malformed_reason ? stats.first_malformed_reason : "unusable"));
    }
    fclose(f);
}

/* y_SC of the session with these public values, from the key log written at either end. */
/* y_SC for a session, looked up by either side's public value. On a miss the key log is read
 * again: at once for a handshake, at most every 100 ms for the records of a session still
 * waiting for its secret (a live capture's key log grows; a million records need not stat
 * the file a million times). */
static const guint8 *keylog_lookup(const guint8 *y_c, const guint8 *y_s)
{
    if (!keylog.log)
        return NULL;
    const guint8 *secret = spiped_keylog_lookup(keylog.log, y_s); /* written by the client */
    return secret ? secret : spiped_keylog_lookup(keylog.log, y_c); /* by the server */
}

static const guint8 *keylog_secret(const guint8 *y_c, const guint8 *y_s, gboolean from_record)
{
    static gint64 last_record_refresh;
    const guint8 *secret = keylog_lookup(y_c, y_s);
    if (secret)
        return secret;
    if (from_record) {
        gint64 now = g_get_monotonic_time();
        if (now - last_record_refresh < 100000)
            return NULL;
        last_record_refresh = now;
    }
    keylog_refresh();
    return keylog_lookup(y_c, y_s);
}

UAT_CSTRING_CB_DEF(key_uat, label, key_uat_row_t)
UAT_FILENAME_CB_DEF(key_uat, path, key_uat_row_t)

static void *key_uat_copy(void *dst, const void *src, size_t len _U_)
{
    const key_uat_row_t *s = (const key_uat_row_t *)src;
    key_uat_row_t *d = (key_uat_row_t *)dst;
    d->label = g_strdup(s->label);
    d->path = g_strdup(s->path);
    return d;
}

static void key_uat_free(void *r)
{
    key_uat_row_t *row = (key_uat_row_t *)r;
    g_free(row->label);
    g_free(row->path);
}

static rsp_bool key_uat_update(void *r, char **err)
{
    key_uat_row_t *row = (key_uat_row_t *)r;
    if (!row->path || !*row->path) {
        *err = g_strdup("A key file is required");
        return FALSE;
    }
    return TRUE;
}

/* ---- conversation state -------------------------------------------------------------- */

typedef struct {
    gint64 n;      /* its number: the key of the direction's map */
    spiped_record_status_t status;
    guint32 len;
    guint8 *plain; /* len bytes, file scope: the only copy of the plaintext kept */
    guint64 stream_pos; /* where plain[0] is in the direction's plaintext stream */
    guint32 frame; /* the frame that opened it: the only one that hands it to Follow */
} record_result_t;

/* What the inner dissector was given in one call. Kept for revisits without its bytes, which
 * are the records' plaintext: replay_bytes() finds them again by stream position. */
typedef struct {
    const guint8 *data;
    guint len;
    gboolean gap_before; /* bytes before this were lost */
    guint64 stream_offset; /* plaintext position of data[0] in its direction */
} inner_blob_t;

typedef struct {
    gboolean start_seen; /* the handshake is in the capture */
    gboolean base_known;
    guint32 base;        /* sequence number of stream byte 0 */
    guint8 nonce[SPIPED_NONCE_LEN];
    gboolean have_nonce;
    guint8 dh[SPIPED_DHMSG_LEN];
    gboolean have_dh;
    gint key_index;      /* verified key for this side's DH message, -1 none */
    gboolean key_checked;
    wmem_map_t *records; /* record number -> record_result_t */
    wmem_array_t *opened; /* record_result_t * of the records opened, in stream order */
    spiped_record_ctx_t *ctx; /* this direction's cipher and MAC, once the keys are known */
    /* plaintext not yet consumed by the inner dissector */
    guint8 *pending;
    guint pending_len, pending_cap;
    guint64 pending_need;
    guint64 consumed;    /* plaintext bytes before pending[0] */
    gboolean gap;        /* plaintext was lost since the inner dissector last ran */
    guint64 next_record; /* first pass: records are opened in order */
} spiped_dir_t;

typedef struct {
    address server_addr;
    guint32 server_port;
    gboolean server_known;
    spiped_dir_t dir[2];
    gint key_index; /* the session's key (both DH messages verify), -1 unknown */
    gboolean fs_known, forward_secrecy, session_keys_ready;
    gboolean from_keylog; /* y_SC came from the key log */
    gboolean start_checked; /* the first bytes were checked for being a nonce */
    spiped_keys_t session;
    dissector_handle_t inner; /* chosen once per conversation */
} spiped_conv_t;

/* The record contexts opened for this file, closed with it (libgcrypt holds their memory). */
static GPtrArray *spiped_record_ctxs;

static void spiped_init(void)
{
    spiped_record_ctxs = g_ptr_array_new_with_free_func((GDestroyNotify)spiped_record_ctx_free);
}

static void spiped_cleanup(void)
{
    if (spiped_record_ctxs)
        g_ptr_array_free(spiped_record_ctxs, TRUE);
    spiped_record_ctxs = NULL;
}

#define KEY_CALLS 0     /* packet scope */
#define KEY_BLOB_BASE 1 /* file scope: inner_blob_t per call */
#define KEY_FOLLOW_CONV 1 /* packet scope (its own list): the spiped_conv_t of tapped plaintext */

static spiped_conv_t *get_conv(packet_info *pinfo)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    spiped_conv_t *sc = (spiped_conv_t *)conversation_get_proto_data(conv, proto_spiped);
    if (!sc) {
        sc = wmem_new0(wmem_file_scope(), spiped_conv_t);
        sc->key_index = -1;
        for (int d = 0; d < 2; d++) {
            sc->dir[d].key_index = -1;
            sc->dir[d].records = wmem_map_new(wmem_file_scope(), g_int64_hash, g_int64_equal);
            sc->dir[d].opened = wmem_array_new(wmem_file_scope(), sizeof(record_result_t *));
        }
        conversation_add_proto_data(conv, proto_spiped, sc);
    }
    return sc;
}

static guint call_counter(packet_info *pinfo)
{
    guint n = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_spiped, KEY_CALLS));
    p_add_proto_data(pinfo->pool, pinfo, proto_spiped, KEY_CALLS, GUINT_TO_POINTER(n + 1));
    return n;
}

/* ---- handshake ----------------------------------------------------------------------- */

/* With both nonces known, tries every key on one side's DH message. */
static void check_key(spiped_conv_t *sc, int d)
{
    spiped_dir_t *dir = &sc->dir[d];
    spiped_dir_t *c = &sc->dir[DIR_TO_SERVER], *s = &sc->dir[DIR_TO_CLIENT];
    if (dir->key_checked || !c->have_nonce || !s->have_nonce || !dir->have_dh)
        return;
    dir->key_checked = TRUE;
    for (guint i = 0; keys && i < keys->len; i++) {
        spiped_key_t *k = &g_array_index(keys, spiped_key_t, i);
        guint8 mac_c[SPIPED_KEY_LEN], mac_s[SPIPED_KEY_LEN];
        if (!k->usable || spiped_handshake_macs(k->K, c->nonce, s->nonce, mac_c, mac_s) != 0)
            continue;
        if (spiped_verify_dh_message(d == DIR_TO_SERVER ? mac_c : mac_s, dir->dh) == 1) {
            dir->key_index = (gint)i;
            break;
        }
    }
}

/* The session keys, from K and y_SC: 1 unless both sides did Diffie-Hellman, in which case
 * only a key log holds it. */
static void try_session_keys(spiped_conv_t *sc, gboolean from_record)
{
    spiped_dir_t *c = &sc->dir[DIR_TO_SERVER], *s = &sc->dir[DIR_TO_CLIENT];
    guint8 one[SPIPED_DH_LEN];
    const guint8 *y_sc = one;
    if (sc->session_keys_ready || sc->key_index < 0)
        return;
    if (sc->forward_secrecy) {
        y_sc = keylog_secret(c->dh, s->dh, from_record);
        if (!y_sc)
            return;
        sc->from_keylog = TRUE;
    } else {
        spiped_dh_set_one(one);
    }
    spiped_key_t *k = &g_array_index(keys, spiped_key_t, sc->key_index);
    sc->session_keys_ready = spiped_session_keys(k->K, c->nonce, s->nonce, y_sc, &sc->session) == 0;
}

/* Once both DH messages are in: forward secrecy, and the session keys when they can be had. */
static void finish_handshake(spiped_conv_t *sc)
{
    spiped_dir_t *c = &sc->dir[DIR_TO_SERVER], *s = &sc->dir[DIR_TO_CLIENT];
    if (sc->fs_known || !c->have_dh || !s->have_dh)
        return;
    sc->fs_known = TRUE;
    sc->forward_secrecy = !spiped_dh_is_one(c->dh) && !spiped_dh_is_one(s->dh);
    if (c->key_index >= 0 && c->key_index == s->key_index)
        sc->key_index = c->key_index;
    try_session_keys(sc, FALSE);
}

static void add_key_items(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, proto_item *at,
                          spiped_conv_t *sc, int d)
{
    spiped_dir_t *dir = &sc->dir[d];
    proto_item *pi;
    if (!dir->key_checked)
        return;
    if (dir->key_index >= 0) {
        spiped_key_t *k = &g_array_index(keys, spiped_key_t, dir->key_index);
        pi = proto_tree_add_boolean(tree, hf_spiped_key_verified, tvb, 0, 0, TRUE);
        proto_item_append_text(pi, " (key \"%s\", fingerprint %s)", k->label, k->fingerprint);
        proto_item_set_generated(pi);
        pi = proto_tree_add_string(tree, hf_spiped_key_label, tvb, 0, 0, k->label);
        proto_item_set_generated(pi);
        pi = proto_tree_add_string(tree, hf_spiped_key_fingerprint, tvb, 0, 0, k->fingerprint);
        proto_item_set_generated(pi);
    } else if (keys_usable() > 0) {
        pi = proto_tree_add_boolean(tree, hf_spiped_key_verified, tvb, 0, 0, FALSE);
        proto_item_set_generated(pi);
        expert_add_info_format(pinfo, at, &ei_spiped_key_mismatch,
                               "None of the %u configured keys matches this handshake's MAC",
                               keys_usable());
    } else {
        expert_add_info(pinfo, at, &ei_spiped_no_key);
    }
    for (guint i = 0; keys && i < keys->len; i++) {
        spiped_key_t *k = &g_array_index(keys, spiped_key_t, i);
        if (!k->usable)
            expert_add_info_format(pinfo, at, &ei_spiped_key_file, "Key \"%s\": %s", k->label,
                                   k->error);
    }
}

/* ---- inner stream -------------------------------------------------------------------- */

/* Plaintext held for the inner dissector; beyond this it is dropped as a gap (RESP itself
 * refuses values over 512 MiB, and guint lengths must not wrap). */
#define PENDING_MAX (1u << 30)

static void drop_pending(spiped_dir_t *dir);

/* The buffer lives in file scope, so closing the capture frees it. Returns the stream
 * position the bytes got. */
static guint64 pending_append(spiped_dir_t *dir, const guint8 *p, guint n)
{
    if (n > PENDING_MAX - dir->pending_len)
        drop_pending(dir);
    guint64 pos = dir->consumed + dir->pending_len;
    if (dir->pending_len + n > dir->pending_cap) {
        guint cap = dir->pending_cap ? dir->pending_cap : 4096;
        while (cap < dir->pending_len + n)
            cap *= 2;
        dir->pending = (guint8 *)wmem_realloc(wmem_file_scope(), dir->pending, cap);
        dir->pending_cap = cap;
    }
    memcpy(dir->pending + dir->pending_len, p, n);
    dir->pending_len += n;
    return pos;
}

/* Revisits: the len bytes at stream position pos, from the records that held them; a view of
 * one record's plaintext when they lie in one, else a packet-scope copy. NULL: not all found
 * (cannot happen for what the first pass gave the inner dissector). */
static const guint8 *replay_bytes(packet_info *pinfo, const spiped_dir_t *dir, guint64 pos, guint len)
{
    guint count = wmem_array_get_count(dir->opened);
    record_result_t *const *recs = (record_result_t *const *)wmem_array_get_raw(dir->opened);
    /* the last record starting at or before pos */
    guint lo = 0, hi = count;
    while (hi - lo > 1) {
        guint mid = lo + (hi - lo) / 2;
        if (recs[mid]->stream_pos <= pos)
            lo = mid;
        else
            hi = mid;
    }
    if (!count || recs[lo]->stream_pos > pos)
        return NULL;
    const record_result_t *r = recs[lo];
    if (pos + len <= r->stream_pos + r->len)
        return r->plain + (pos - r->stream_pos);
    guint8 *out = (guint8 *)wmem_alloc(pinfo->pool, len);
    guint done = 0;
    for (guint i = lo; i < count && done < len; i++) {
        r = recs[i];
        if (r->stream_pos != pos + done && i != lo)
            return NULL; /* a hole: these bytes were never given together */
        guint64 from = pos + done - r->stream_pos;
        if (from >= r->len)
            return NULL;
        guint take = (guint)MIN((guint64)(len - done), r->len - from);
        memcpy(out + done, r->plain + from, take);
        done += take;
    }
    return done == len ? out : NULL;
}

/* Plaintext was lost: what is pending can never complete. Positions after the hole are
 * kept distinct from those before it. */
static void drop_pending(spiped_dir_t *dir)
{
    dir->gap = TRUE;
    dir->consumed += dir->pending_len + SPIPED_PAYLOAD_MAX;
    dir->pending_len = 0;
    dir->pending_need = 0;
}

/* Decode As (spiped.port), then the preference, then RESP if the stream looks like RESP. */
static dissector_handle_t choose_inner(spiped_conv_t *sc, const guint8 *p, guint n, int d)
{
    dissector_handle_t h = dissector_get_uint_handle(spiped_port_table, sc->server_port);
    if (!h && pref_inner_protocol && *pref_inner_protocol && strcmp(pref_inner_protocol, "auto") != 0)
        h = find_dissector(pref_inner_protocol);
    if (!h)
        h = d == DIR_TO_SERVER && resp_looks_like_request(p, n) ? resp_dissector_handle() : data_handle;
    /* our RESP gets the stream through its entry that understands gaps */
    return resp_is_resp_handle(h) ? resp_stream_handle() : h;
}

/* Hands [data, data+len) to the inner dissector; returns how many bytes it consumed and sets
 * *need to what it asked for more (0: nothing pending). */
static guint call_inner(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, spiped_conv_t *sc,
                        int d, const inner_blob_t *blob, guint64 *need)
{
    tvbuff_t *itvb = tvb_new_child_real_data(tvb, blob->data, blob->len, blob->len);
    if (blob->len)
        add_new_data_source(pinfo, itvb, "Decrypted spiped stream");
    guint16 save_can = pinfo->can_desegment;
    int save_off = pinfo->desegment_offset;
    guint32 save_len = pinfo->desegment_len;
    pinfo->can_desegment = 2;
    pinfo->desegment_offset = 0;
    pinfo->desegment_len = 0;
    if (!sc->inner)
        sc->inner = choose_inner(sc, blob->data, blob->len, d);
    volatile guint consumed = blob->len;
    *need = 0;
    TRY {
        if (sc->inner == resp_stream_handle()) {
            resp_stream_info_t info = {blob->gap_before, blob->stream_offset};
            call_dissector_with_data(sc->inner, itvb, pinfo, tree, &info);
        } else {
            call_dissector(sc->inner, itvb, pinfo, tree);
        }
        if (pinfo->desegment_len) {
            consumed = (guint)pinfo->desegment_offset;
            *need = pinfo->desegment_len == DESEGMENT_ONE_MORE_SEGMENT ? 1 : pinfo->desegment_len;
        }
    } FINALLY {
        /* an exception in the inner dissector still leaves TCP's fields as TCP set them */
        pinfo->can_desegment = save_can;
        pinfo->desegment_offset = save_off;
        pinfo->desegment_len = save_len;
    } ENDTRY;
    return consumed;
}

/* First pass: feeds the plaintext gathered so far to the inner dissector once it has what it
 * asked for. Revisits replay only what it consumed: an empty call where it consumed nothing
 * (keeping its per-call bookkeeping aligned), the consumed bytes otherwise. The inner
 * dissector is called again only once it has the bytes it asked for (RESP asks for a lower
 * bound of what its message lacks), not at every record; each call copies what is pending. */
static void feed_inner(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, spiped_conv_t *sc,
                       spiped_dir_t *dir, guint call)
{
    if (dir->pending_len == 0 || dir->pending_len < dir->pending_need)
        return;
    /* a packet-scope copy: the data source must outlive later appends to pending */
    inner_blob_t now = {(guint8 *)wmem_memdup(pinfo->pool, dir->pending, dir->pending_len),
                        dir->pending_len, dir->gap, dir->consumed};
    /* On an exception (a malformed or oversized inner message) the bytes count as consumed,
     * so that the stream goes on with the next record and revisits replay the same call. */
    volatile guint64 need = 0;
    volatile guint consumed = now.len;
    volatile gboolean returned = FALSE;
    TRY {
        guint64 asked = 0;
        consumed = call_inner(tvb, pinfo, tree, sc, (int)(dir - sc->dir), &now, &asked);
        need = asked;
        returned = TRUE;
    } FINALLY {
        if (consumed > dir->pending_len)
            consumed = dir->pending_len;
        inner_blob_t *replay = wmem_new0(wmem_file_scope(), inner_blob_t);
        replay->gap_before = dir->gap;
        replay->stream_offset = dir->consumed;
        replay->len = consumed; /* its bytes stay in the records (replay_bytes) */
        p_add_proto_data(wmem_file_scope(), pinfo, proto_spiped, KEY_BLOB_BASE + call, replay);

        /* after an exception the inner dissector's own state may stop mid-message: what
         * follows is not known to start one */
        dir->gap = !returned;
        memmove(dir->pending, dir->pending + consumed, dir->pending_len - consumed);
        dir->pending_len -= consumed;
        dir->consumed += consumed;
        /* the inner dissector wants `need` bytes beyond what it was given */
        dir->pending_need = need ? dir->pending_len + need : 0;
    } ENDTRY;
}

/* ---- messages ------------------------------------------------------------------------ */

static proto_tree *message_tree(proto_tree *tree, tvbuff_t *tvb, int offset, int len, int hf,
                                int d, proto_item **item)
{
    proto_item *ti = proto_tree_add_item(tree, hf, tvb, offset, len, ENC_NA);
    proto_tree *t = proto_item_add_subtree(ti, ett_spiped_message);
    proto_item *pi = proto_tree_add_uint(t, hf_spiped_direction, tvb, offset, 0, (guint32)d);
    proto_item_set_generated(pi);
    if (item)
        *item = ti;
    return t;
}

static void dissect_nonce(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, int offset,
                          spiped_conv_t *sc, int d)
{
    proto_tree *t = message_tree(tree, tvb, offset, SPIPED_NONCE_LEN, hf_spiped_nonce, d, NULL);
    (void)t;
    if (!PINFO_FD_VISITED(pinfo) && !sc->dir[d].have_nonce) {
        tvb_memcpy(tvb, sc->dir[d].nonce, offset, SPIPED_NONCE_LEN);
        sc->dir[d].have_nonce = TRUE;
    }
    col_append_sep_str(pinfo->cinfo, COL_INFO, ", ", "Nonce");
}

static void dissect_dh(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, int offset,
                       spiped_conv_t *sc, int d)
{
    proto_item *ti;
    proto_tree *t = message_tree(tree, tvb, offset, SPIPED_DHMSG_LEN, hf_spiped_dh, d, &ti);
    const guint8 *msg = tvb_get_ptr(tvb, offset, SPIPED_DHMSG_LEN);
    gboolean one = spiped_dh_is_one(msg);
    proto_tree_add_item(t, hf_spiped_dh_public, tvb, offset, SPIPED_DH_LEN, ENC_NA);
    proto_tree_add_item(t, hf_spiped_dh_mac, tvb, offset + SPIPED_DH_LEN, SPIPED_MAC_LEN, ENC_NA);
    proto_item *pi = proto_tree_add_boolean(t, hf_spiped_fast, tvb, offset, SPIPED_DH_LEN, one);
    proto_item_set_generated(pi);
    if (!spiped_dh_below_p(msg))
        expert_add_info(pinfo, ti, &ei_spiped_bad_dh);

    if (!PINFO_FD_VISITED(pinfo) && !sc->dir[d].have_dh) {
        memcpy(sc->dir[d].dh, msg, SPIPED_DHMSG_LEN);
        sc->dir[d].have_dh = TRUE;
        check_key(sc, d);
        finish_handshake(sc);
    }
    add_key_items(t, tvb, pinfo, ti, sc, d);
    if (sc->fs_known && d == DIR_TO_CLIENT) {
        pi = proto_tree_add_boolean(t, hf_spiped_forward_secrecy, tvb, 0, 0, sc->forward_secrecy);
        proto_item_set_generated(pi);
        if (sc->forward_secrecy) {
            pi = proto_tree_add_boolean(t, hf_spiped_from_keylog, tvb, 0, 0, sc->from_keylog);
            proto_item_set_generated(pi);
        }
        if (sc->forward_secrecy && sc->key_index >= 0 && !sc->session_keys_ready) {
            expert_add_info(pinfo, ti, &ei_spiped_no_secret);
            if (keylog.problem)
                expert_add_info_format(pinfo, ti, &ei_spiped_keylog, "%s", keylog.problem);
        } else if (sc->from_keylog) {
            expert_add_info(pinfo, ti, &ei_spiped_keylog_used);
        }
    }
    col_append_sep_fstr(pinfo->cinfo, COL_INFO, ", ", "Key exchange%s", one ? " (fast, y=1)" : "");
}

static void dissect_spiped_record(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, int offset,
                           spiped_conv_t *sc, int d, guint64 n, gboolean numbered)
{
    spiped_dir_t *dir = &sc->dir[d];
    proto_item *ti;
    proto_tree *t = message_tree(tree, tvb, offset, SPIPED_RECORD_LEN, hf_spiped_record, d, &ti);
    proto_item *pi;

    if (numbered) {
        pi = proto_tree_add_uint64(t, hf_spiped_record_number, tvb, offset, 0, n);
        proto_item_set_generated(pi);
        proto_item_append_text(ti, " %" G_GUINT64_FORMAT, n);
    }
    proto_tree_add_item(t, hf_spiped_record_ciphertext, tvb, offset, SPIPED_PLAINTEXT_LEN, ENC_NA);
    proto_tree_add_item(t, hf_spiped_record_mac, tvb, offset + SPIPED_PLAINTEXT_LEN, SPIPED_MAC_LEN, ENC_NA);

    if (!numbered) {
        expert_add_info(pinfo, ti, &ei_spiped_no_handshake);
        return;
    }
    if (!sc->session_keys_ready && sc->fs_known && !PINFO_FD_VISITED(pinfo))
        try_session_keys(sc, TRUE); /* the key log may have grown since the handshake */
    if (!sc->session_keys_ready) {
        if (sc->fs_known && sc->forward_secrecy && sc->key_index >= 0 && n == 0)
            expert_add_info(pinfo, ti, &ei_spiped_no_secret);
        return;
    }

    gint64 key = (gint64)n;
    record_result_t *rr = (record_result_t *)wmem_map_lookup(dir->records, &key);
    if (!rr && !PINFO_FD_VISITED(pinfo)) {
        guint8 plain[SPIPED_PAYLOAD_MAX];
        guint32 len = 0;
        if (!dir->ctx && spiped_record_ctxs) {
            dir->ctx = spiped_record_ctx_new(d == DIR_TO_SERVER ? sc->session.E_C : sc->session.E_S,
                                             d == DIR_TO_SERVER ? sc->session.H_C : sc->session.H_S);
            if (dir->ctx)
                g_ptr_array_add(spiped_record_ctxs, dir->ctx);
        }
        spiped_record_status_t st = spiped_record_open_ctx(dir->ctx, n, tvb_get_ptr(tvb, offset, SPIPED_RECORD_LEN),
                                                           plain, &len);
        /* the record and its plaintext in one allocation: there is one per 1060 bytes */
        rr = (record_result_t *)wmem_alloc0(wmem_file_scope(), sizeof *rr + (st == SPIPED_RECORD_OK ? len : 0));
        rr->n = key;
        rr->frame = pinfo->num;
        rr->status = st;
        if (rr->status == SPIPED_RECORD_OK) {
            rr->len = len;
            rr->plain = (guint8 *)(rr + 1);
            memcpy(rr->plain, plain, len);
            if (n != dir->next_record)
                drop_pending(dir); /* records were lost: do not splice around the hole */
            rr->stream_pos = pending_append(dir, plain, len);
            wmem_array_append_one(dir->opened, rr);
        } else {
            /* the stream has a hole: the inner dissector must resynchronise */
            drop_pending(dir);
        }
        dir->next_record = n + 1;
        wmem_map_insert(dir->records, &rr->n, rr);
    }
    if (!rr)
        return;
    if (rr->status == SPIPED_RECORD_OK) {
        pi = proto_tree_add_uint(t, hf_spiped_record_length, tvb, offset, 0, rr->len);
        proto_item_set_generated(pi);
        tvbuff_t *ptvb = tvb_new_child_real_data(tvb, rr->plain, rr->len, rr->len);
        proto_tree_add_item(t, hf_spiped_decrypted, ptvb, 0, (int)rr->len, ENC_NA);
        proto_item_append_text(ti, ", %u bytes of data", rr->len);
        /* Follow: every record once, from the frame that opened it (a retransmitted copy
         * shows the record again, but must not repeat its bytes in the stream) */
        if (rr->frame == pinfo->num && have_tap_listener(spiped_follow_tap)) {
            if (!p_get_proto_data(pinfo->pool, pinfo, proto_spiped, KEY_FOLLOW_CONV))
                p_add_proto_data(pinfo->pool, pinfo, proto_spiped, KEY_FOLLOW_CONV, sc);
            tap_queue_packet(spiped_follow_tap, pinfo, ptvb);
        }
    } else if (rr->status == SPIPED_RECORD_BAD_MAC) {
        expert_add_info(pinfo, ti, &ei_spiped_mac_invalid);
    } else {
        expert_add_info(pinfo, ti, &ei_spiped_bad_length);
    }
}

/* ---- stream -------------------------------------------------------------------------- */

static gboolean looks_like_text(const guint8 *p, guint n)
{
    for (guint i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\r' && p[i] != '\n' && p[i] != '\t') || p[i] >= 0x7f)
            return FALSE;
    return TRUE;
}

/* The tunnel port carries plain text: say so, and let RESP (if it is Redis) or the data
 * dissector show it from now on. */
static int not_spiped(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data, int d)
{
    proto_item *ti = proto_tree_add_item(tree, proto_spiped, tvb, 0, 0, ENC_NA);
    expert_add_info(pinfo, ti, &ei_spiped_not_spiped);
    dissector_handle_t h = resp_looks_like_command(tvb_get_ptr(tvb, 0, -1), tvb_captured_length(tvb)) ||
                                   (d == DIR_TO_CLIENT && tvb_captured_length(tvb) && tvb_get_uint8(tvb, 0) == '*')
                               ? resp_dissector_handle() : data_handle;
    conversation_set_dissector(find_or_create_conversation(pinfo), h);
    return call_dissector_with_data(h, tvb, pinfo, tree, data);
}

static gboolean tcp_bool_pref(const char *name)
{
    module_t *tcp = prefs_find_module("tcp");
    pref_t *pref = tcp ? prefs_find_preference(tcp, name) : NULL;
    return pref ? prefs_get_bool_value(pref, pref_current) : TRUE;
}

/* Where stream byte 0 of this direction is in sequence numbers. With the SYN in the capture it
 * is the byte after the SYN; without it we can only assume the first data seen starts a record. */
static void set_stream_base(spiped_dir_t *dir, struct tcp_analysis *tcpd, const struct tcpinfo *tcpinfo)
{
    dir->base_known = TRUE;
    /* TCP records the server port when it sees the SYN (or SYN/ACK) */
    dir->start_seen = tcpd && tcpd->server_port && tcpd->fwd;
    if (!dir->start_seen) {
        dir->base = tcpinfo->seq;
        return;
    }
    /* TCP hands us relative sequence numbers (1 after the SYN) only when both its sequence
     * analysis and relative numbers are on (as by default) */
    dir->base = tcp_bool_pref("analyze_sequence_numbers") && tcp_bool_pref("relative_sequence_numbers")
                    ? 1 : tcpd->fwd->base_seq + 1;
}

static int dissect_spiped(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    struct tcpinfo *tcpinfo = (struct tcpinfo *)data;
    spiped_conv_t *sc = get_conv(pinfo);
    struct tcp_analysis *tcpd = get_tcp_conversation_data(NULL, pinfo);
    guint call = call_counter(pinfo);
    int captured = (int)tvb_captured_length(tvb);
    int reported = (int)tvb_reported_length(tvb);

    if (!tcpinfo)
        return 0; /* framing follows TCP sequence numbers */

    col_set_str(pinfo->cinfo, COL_PROTOCOL, "spiped");
    if (call == 0)
        col_clear(pinfo->cinfo, COL_INFO);

    if (!sc->server_known) {
        /* the side that sent the SYN is the client; otherwise the tunnel port is the server */
        guint32 sport = tcpd && tcpd->server_port ? tcpd->server_port : pinfo->match_uint;
        gboolean dst_is_server = sport ? sport == pinfo->destport : pinfo->destport < pinfo->srcport;
        copy_address_wmem(wmem_file_scope(), &sc->server_addr, dst_is_server ? &pinfo->dst : &pinfo->src);
        sc->server_port = dst_is_server ? pinfo->destport : pinfo->srcport;
        sc->server_known = TRUE;
    }
    int d = (pinfo->srcport == sc->server_port && addresses_equal(&pinfo->src, &sc->server_addr))
                ? DIR_TO_CLIENT : DIR_TO_SERVER;
    spiped_dir_t *dir = &sc->dir[d];

    if (!dir->base_known)
        set_stream_base(dir, tcpd, tcpinfo);

    /* A nonce is 32 random bytes: text there means the port carries something else. */
    if (!sc->start_checked && dir->start_seen && tcpinfo->seq == dir->base && captured > 0) {
        sc->start_checked = TRUE;
        if (!PINFO_FD_VISITED(pinfo) && looks_like_text(tvb_get_ptr(tvb, 0, MIN(captured, SPIPED_NONCE_LEN)),
                                                        (guint)MIN(captured, SPIPED_NONCE_LEN)))
            return not_spiped(tvb, pinfo, tree, data, d);
    }

    proto_item *ti = proto_tree_add_item(tree, proto_spiped, tvb, 0, -1, ENC_NA);
    proto_tree *st = proto_item_add_subtree(ti, ett_spiped);
    proto_item *pi = proto_tree_add_uint(st, hf_spiped_direction, tvb, 0, 0, (guint32)d);
    proto_item_set_generated(pi);

    int offset = 0;
    guint records = 0;
    guint64 first_record = 0;
    while (offset < reported) {
        guint32 pos = tcpinfo->seq - dir->base + (guint32)offset; /* stream position */
        guint32 start, mlen;
        int kind; /* 0 nonce, 1 DH, 2 record */
        if (!dir->start_seen) {
            start = pos - pos % SPIPED_RECORD_LEN;
            mlen = SPIPED_RECORD_LEN;
            kind = 2;
        } else if (pos < SPIPED_DH_START) {
            start = 0, mlen = SPIPED_NONCE_LEN, kind = 0;
        } else if (pos < SPIPED_RECORDS_START) {
            start = SPIPED_DH_START, mlen = SPIPED_DHMSG_LEN, kind = 1;
        } else {
            start = pos - (pos - SPIPED_RECORDS_START) % SPIPED_RECORD_LEN;
            mlen = SPIPED_RECORD_LEN, kind = 2;
        }
        if (pos != start) {
            /* the rest of a message whose start this capture lost */
            int rest = (int)(start + mlen - pos);
            if (rest > reported - offset)
                rest = reported - offset;
            pi = proto_tree_add_item(st, hf_spiped_fragment, tvb, offset,
                                     MIN(rest, captured - offset), ENC_NA);
            expert_add_info(pinfo, pi, &ei_spiped_lost);
            if (kind == 2 && !PINFO_FD_VISITED(pinfo))
                drop_pending(dir);
            offset += rest;
            continue;
        }
        if (reported - offset < (int)mlen || captured - offset < (int)mlen) {
            if (captured == reported && pinfo->can_desegment) {
                pinfo->desegment_offset = offset;
                pinfo->desegment_len = mlen - (guint32)(reported - offset);
                break;
            }
            pi = proto_tree_add_item(st, hf_spiped_fragment, tvb, offset,
                                     MIN(captured, reported) - offset, ENC_NA);
            expert_add_info(pinfo, pi, &ei_spiped_truncated);
            if (kind == 2 && !PINFO_FD_VISITED(pinfo)) {
                drop_pending(dir);
                dir->next_record = (pos - SPIPED_RECORDS_START) / SPIPED_RECORD_LEN + 1;
            }
            offset = reported;
            break;
        }
        if (kind == 0)
            dissect_nonce(tvb, pinfo, st, offset, sc, d);
        else if (kind == 1)
            dissect_dh(tvb, pinfo, st, offset, sc, d);
        else {
            guint64 n = dir->start_seen ? (pos - SPIPED_RECORDS_START) / SPIPED_RECORD_LEN : 0;
            if (records++ == 0)
                first_record = n;
            dissect_spiped_record(tvb, pinfo, st, offset, sc, d, n, dir->start_seen);
        }
        offset += (int)mlen;
    }
    /* in brackets: the inner protocol's text follows */
    if (records == 1 && dir->start_seen)
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "[Record %" G_GUINT64_FORMAT "] ", first_record);
    else if (records > 1 && dir->start_seen)
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "[Records %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "] ",
                            first_record, first_record + records - 1);
    else if (records)
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "[%u records] ", records);
    col_set_fence(pinfo->cinfo, COL_INFO);

    /* The decrypted stream: on the first pass gathered and fed here; later replayed. */
    inner_blob_t *blob = (inner_blob_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_spiped,
                                                          KEY_BLOB_BASE + call);
    if (blob) {
        guint64 need;
        inner_blob_t again = *blob;
        again.data = blob->len ? replay_bytes(pinfo, dir, blob->stream_offset, blob->len) : NULL;
        if (blob->len && !again.data)
            again.len = 0; /* never: the first pass gave it these bytes */
        call_inner(tvb, pinfo, tree, sc, d, &again, &need);
    } else if (!PINFO_FD_VISITED(pinfo)) {
        feed_inner(tvb, pinfo, tree, sc, dir, call);
    }
    return captured;
}

/* ---- heuristic ----------------------------------------------------------------------- */

/* A tunnel on any port: the first message each way is a 32-byte nonce, the second a 288-byte
 * key exchange whose number is below p (and whose MAC checks out, when a key is set). */
static rsp_bool dissect_spiped_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    struct tcpinfo *tcpinfo = (struct tcpinfo *)data;
    struct tcp_analysis *tcpd = get_tcp_conversation_data(NULL, pinfo);
    guint len = tvb_captured_length(tvb);
    if (!tcpinfo || !tcpd || !tcpd->server_port ||
        (len != SPIPED_NONCE_LEN && len != SPIPED_RECORDS_START))
        return FALSE;
    spiped_dir_t probe;
    memset(&probe, 0, sizeof probe);
    set_stream_base(&probe, tcpd, tcpinfo);
    if (!probe.start_seen || tcpinfo->seq != probe.base)
        return FALSE; /* only the very first bytes of a direction */
    if (len == SPIPED_RECORDS_START && !spiped_dh_below_p(tvb_get_ptr(tvb, SPIPED_DH_START, SPIPED_DH_LEN)))
        return FALSE;
    spiped_conv_t *sc = get_conv(pinfo);
    int d = pinfo->destport == tcpd->server_port ? DIR_TO_SERVER : DIR_TO_CLIENT;
    if (!PINFO_FD_VISITED(pinfo) && !sc->dir[d].have_nonce) {
        tvb_memcpy(tvb, sc->dir[d].nonce, 0, SPIPED_NONCE_LEN);
        sc->dir[d].have_nonce = TRUE;
    }
    /* both sides must have opened with a nonce */
    if (!sc->dir[1 - d].have_nonce)
        return FALSE;
    conversation_set_dissector(find_or_create_conversation(pinfo), spiped_handle);
    dissect_spiped(tvb, pinfo, tree, data);
    return TRUE;
}

/* ---- Follow ------------------------------------------------------------------------- */

/* "Follow spiped Stream" (tshark -z follow,spiped,MODE,N): the decrypted plaintext of a
 * tunnel, both directions. A stream is the TCP connection carrying the tunnel, so the filters
 * are TCP's (whose functions Wireshark does not export) and the stream number is tcp.stream. */

static gchar *spiped_follow_conv_filter(epan_dissect_t *edt _U_, packet_info *pinfo, guint *stream,
                                        guint *sub_stream _U_)
{
    /* look up only: this runs outside dissection (the GUI's selected packet) */
    if (pinfo->ptype != PT_TCP)
        return NULL;
    conversation_t *conv = find_conversation(pinfo->num, &pinfo->net_src, &pinfo->net_dst, CONVERSATION_TCP,
                                             pinfo->srcport, pinfo->destport, 0);
    if (!conv || !conversation_get_proto_data(conv, proto_spiped))
        return NULL;
    struct tcp_analysis *tcpd = get_tcp_conversation_data(conv, pinfo);
    if (!tcpd)
        return NULL;
    *stream = tcpd->stream;
    return g_strdup_printf("tcp.stream eq %u", tcpd->stream);
}

static gchar *spiped_follow_index_filter(guint stream, guint sub_stream _U_)
{
    return g_strdup_printf("tcp.stream eq %u", stream);
}

static gchar *spiped_follow_address_filter(address *src_addr, address *dst_addr, int src_port, int dst_port)
{
    const char *v = src_addr->type == AT_IPv6 ? "v6" : "";
    gchar src[WS_INET6_ADDRSTRLEN], dst[WS_INET6_ADDRSTRLEN];
    address_to_str_buf(src_addr, src, sizeof src);
    address_to_str_buf(dst_addr, dst, sizeof dst);
    return g_strdup_printf("((ip%s.src eq %s and tcp.srcport eq %d) and (ip%s.dst eq %s and tcp.dstport eq %d))"
                           " or "
                           "((ip%s.src eq %s and tcp.srcport eq %d) and (ip%s.dst eq %s and tcp.dstport eq %d))",
                           v, src, src_port, v, dst, dst_port, v, dst, dst_port, v, src, src_port);
}

/* follow_tvb_tap_listener() takes the sender of the first tapped packet for the client. The
 * first plaintext may come from the server (a server that speaks first, or a client whose
 * records all fail), so the tunnel's own client is set first. */
static tap_packet_status spiped_follow_tap_listener(void *tapdata, packet_info *pinfo, epan_dissect_t *edt,
                                                    const void *data, tap_flags_t flags)
{
    follow_info_t *fi = (follow_info_t *)tapdata;
    const spiped_conv_t *sc = (const spiped_conv_t *)p_get_proto_data(pinfo->pool, pinfo, proto_spiped,
                                                                     KEY_FOLLOW_CONV);
    if (fi->client_port == 0 && sc && sc->server_known) {
        gboolean from_server = pinfo->srcport == sc->server_port && addresses_equal(&pinfo->src, &sc->server_addr);
        fi->client_port = from_server ? pinfo->destport : pinfo->srcport;
        copy_address(&fi->client_ip, from_server ? &pinfo->dst : &pinfo->src);
        fi->server_port = from_server ? pinfo->srcport : pinfo->destport;
        copy_address(&fi->server_ip, from_server ? &pinfo->src : &pinfo->dst);
    }
    return follow_tvb_tap_listener(tapdata, pinfo, edt, data, flags);
}

static void register_spiped_follow(void)
{
    spiped_follow_tap = register_tap("spiped_follow");
    rsp_register_follow_stream(proto_spiped, "spiped_follow", spiped_follow_conv_filter, spiped_follow_index_filter,
                               spiped_follow_address_filter, tcp_port_to_display, spiped_follow_tap_listener,
                               get_tcp_stream_count);
}

/* ---- registration -------------------------------------------------------------------- */

static void spiped_prefs_apply(void)
{
    keys_reload();
    keylog_reset(); /* read again, from the start, when first needed */
}

static void key_uat_apply(void)
{
    keys_reload();
}

static gpointer spiped_da_port(packet_info *pinfo)
{
    spiped_conv_t *sc = (spiped_conv_t *)conversation_get_proto_data(find_or_create_conversation(pinfo), proto_spiped);
    return GUINT_TO_POINTER(sc && sc->server_known ? sc->server_port : pinfo->destport);
}

static void spiped_da_prompt(packet_info *pinfo, gchar *result)
{
    snprintf(result, MAX_DECODE_AS_PROMPT_LEN, "spiped tunnel on port %u carries",
             GPOINTER_TO_UINT(spiped_da_port(pinfo)));
}

void proto_register_spiped(void)
{
    static hf_register_info hf[] = {
        {&hf_spiped_direction, {"Direction", "spiped.direction", FT_UINT8, BASE_DEC, VALS(direction_vals), 0x0, NULL, HFILL}},
        {&hf_spiped_nonce, {"Nonce", "spiped.nonce", FT_BYTES, BASE_NONE, NULL, 0x0, "Random 32 bytes each side sends first", HFILL}},
        {&hf_spiped_dh, {"Key exchange", "spiped.dh", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_spiped_dh_public, {"Public value", "spiped.dh.public", FT_BYTES, BASE_NONE, NULL, 0x0, "Diffie-Hellman value y (1 with -f)", HFILL}},
        {&hf_spiped_dh_mac, {"MAC", "spiped.dh.mac", FT_BYTES, BASE_NONE, NULL, 0x0, "HMAC-SHA256 of y with a key derived from the shared key and nonces", HFILL}},
        {&hf_spiped_fast, {"Fast handshake (y = 1)", "spiped.dh.fast", FT_BOOLEAN, BASE_NONE, NULL, 0x0, "This side was started with -f", HFILL}},
        {&hf_spiped_forward_secrecy, {"Forward secrecy", "spiped.forward_secrecy", FT_BOOLEAN, BASE_NONE, NULL, 0x0, "Neither side sent y = 1", HFILL}},
        {&hf_spiped_from_keylog, {"Secret from key log", "spiped.keylog", FT_BOOLEAN, BASE_NONE, NULL, 0x0, "The Diffie-Hellman secret was found in the key log", HFILL}},
        {&hf_spiped_key_verified, {"Key verified", "spiped.key_verified", FT_BOOLEAN, BASE_NONE, NULL, 0x0, "The handshake MAC checks out with a configured key", HFILL}},
        {&hf_spiped_key_label, {"Key label", "spiped.key.label", FT_STRING, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_spiped_key_fingerprint, {"Key fingerprint", "spiped.key.fingerprint", FT_STRING, BASE_NONE, NULL, 0x0, "Not secret: a hash of the key, to tell keys apart", HFILL}},
        {&hf_spiped_record, {"Record", "spiped.record", FT_NONE, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_spiped_record_number, {"Number", "spiped.record.number", FT_UINT64, BASE_DEC, NULL, 0x0, "Record number in this direction, from 0", HFILL}},
        {&hf_spiped_record_ciphertext, {"Ciphertext", "spiped.record.ciphertext", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_spiped_record_mac, {"MAC", "spiped.record.mac", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_spiped_record_length, {"Data length", "spiped.record.length", FT_UINT32, BASE_DEC, NULL, 0x0, "Plaintext bytes in the record (L)", HFILL}},
        {&hf_spiped_decrypted, {"Decrypted data", "spiped.decrypted", FT_BYTES, BASE_NONE, NULL, 0x0, NULL, HFILL}},
        {&hf_spiped_fragment, {"Partial message", "spiped.fragment", FT_BYTES, BASE_NONE, NULL, 0x0, "Part of a message the capture does not hold whole", HFILL}},
    };
    static gint *ett[] = {&ett_spiped, &ett_spiped_message};
    static ei_register_info ei[] = {
        {&ei_spiped_key_mismatch, {"spiped.key_mismatch", PI_DECRYPTION, PI_WARN, "No configured key matches this handshake", EXPFILL}},
        {&ei_spiped_mac_invalid, {"spiped.mac_invalid", PI_CHECKSUM, PI_ERROR, "Record MAC is wrong: record altered or corrupt; not decrypted", EXPFILL}},
        {&ei_spiped_bad_length, {"spiped.bad_length", PI_MALFORMED, PI_ERROR, "Record length field is 0 or above 1024", EXPFILL}},
        {&ei_spiped_no_secret, {"spiped.no_secret", PI_DECRYPTION, PI_NOTE, "Forward-secret session: the key file alone cannot decrypt it", EXPFILL}},
        {&ei_spiped_no_handshake, {"spiped.no_handshake", PI_DECRYPTION, PI_NOTE, "The capture starts after the handshake: records cannot be numbered or decrypted", EXPFILL}},
        {&ei_spiped_no_key, {"spiped.no_key", PI_DECRYPTION, PI_CHAT, "No spiped key configured", EXPFILL}},
        {&ei_spiped_key_file, {"spiped.key_file_error", PI_DECRYPTION, PI_WARN, "A configured key file cannot be used", EXPFILL}},
        {&ei_spiped_bad_dh, {"spiped.dh_invalid", PI_MALFORMED, PI_ERROR, "Public value is not below the group prime: a peer drops this handshake", EXPFILL}},
        {&ei_spiped_truncated, {"spiped.truncated", PI_UNDECODED, PI_NOTE, "Message cut short by the capture", EXPFILL}},
        {&ei_spiped_lost, {"spiped.lost", PI_SEQUENCE, PI_WARN, "Rest of a message whose start is not in the capture", EXPFILL}},
        {&ei_spiped_keylog, {"spiped.keylog_error", PI_DECRYPTION, PI_WARN, "Problem with the key log", EXPFILL}},
        {&ei_spiped_not_spiped, {"spiped.not_spiped", PI_PROTOCOL, PI_WARN, "Text where a spiped nonce was expected: this connection does not carry spiped", EXPFILL}},
        {&ei_spiped_keylog_used, {"spiped.keylog_used", PI_DECRYPTION, PI_CHAT, "Forward-secret session decrypted with the key log's secret", EXPFILL}},
    };
    static uat_field_t key_uat_fields[] = {
        UAT_FLD_CSTRING(key_uat, label, "Label", "A name for this key, shown instead of the key"),
        UAT_FLD_FILENAME_OTHER(key_uat, path, "Key file", NULL, "The spiped key file (-k)"),
        UAT_END_FIELDS
    };

    proto_spiped = proto_register_protocol("spiped secure pipe", "spiped", "spiped");
    proto_register_field_array(proto_spiped, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert_register_protocol(proto_spiped), ei, array_length(ei));
    spiped_handle = register_dissector("spiped", dissect_spiped, proto_spiped);
    register_init_routine(spiped_init);
    register_cleanup_routine(spiped_cleanup);

    keys = g_array_new(FALSE, TRUE, sizeof(spiped_key_t));
    module_t *module = prefs_register_protocol(proto_spiped, spiped_prefs_apply);
    prefs_register_filename_preference(module, "key_file", "Key file",
                                       "The tunnel's shared key file (spiped -k). Its contents are "
                                       "never shown; a fingerprint identifies it.",
                                       &pref_key_file, FALSE);
    uat_t *uat = uat_new("spiped keys", sizeof(key_uat_row_t), "spiped_keys", TRUE, &key_uat_rows,
                         &key_uat_nrows, UAT_AFFECTS_DISSECTION, NULL, key_uat_copy, key_uat_update,
                         key_uat_free, key_uat_apply, NULL, key_uat_fields);
    prefs_register_uat_preference(module, "keys", "Key files",
                                  "Key files with labels, for sites with many tunnels; the right one "
                                  "for each session is found from its handshake", uat);
    prefs_register_filename_preference(module, "keylog_file", "Key log file",
                                       "Secrets of forward-secret sessions, written by "
                                       "libspiped-keylog.so (LD_PRELOAD) at either tunnel end. "
                                       "Lines appended during a live capture are picked up.",
                                       &pref_keylog_file, FALSE);
    prefs_register_string_preference(module, "inner_protocol", "Protocol inside the tunnel",
                                     "\"auto\" (RESP when the stream looks like RESP, otherwise data) "
                                     "or a dissector name such as resp, http, mysql, ssh, smtp",
                                     &pref_inner_protocol);

    spiped_port_table = register_dissector_table("spiped.port", "spiped inner protocol (tunnel port)",
                                                 proto_spiped, FT_UINT16, BASE_DEC);
    static build_valid_func da_values_func[] = {spiped_da_port};
    static decode_as_value_t da_values = {spiped_da_prompt, 1, da_values_func};
    static decode_as_t da = {"spiped", "spiped.port", 1, 0, &da_values, NULL, NULL,
                             decode_as_default_populate_list, decode_as_default_reset,
                             decode_as_default_change, NULL};
    register_decode_as(&da);
    register_spiped_follow();
}

void proto_reg_handoff_spiped(void)
{
    static const char *const inner_candidates[] = {"http", "mysql", "ssh", "smtp", "pgsql", "imap", "pop", "tls", "data"};
    data_handle = find_dissector("data");
    dissector_add_uint_with_preference("tcp.port", SPIPED_DEFAULT_PORT, spiped_handle);
    heur_dissector_add("tcp", dissect_spiped_heur, "spiped over TCP", "spiped_tcp", proto_spiped,
                       HEURISTIC_ENABLE);
    dissector_add_for_decode_as("spiped.port", resp_dissector_handle());
    for (size_t i = 0; i < G_N_ELEMENTS(inner_candidates); i++) {
        dissector_handle_t h = find_dissector(inner_candidates[i]);
        if (h)
            dissector_add_for_decode_as("spiped.port", h);
    }
}
