/* packet-resp-eo.c — File › Export Objects › RESP and `tshark --export-objects resp,DIR`.
 *
 * The RESP dissector queues resp_eo_record_t records (packet-resp-tap.h) to the tap
 * "resp_eo". Two kinds become objects:
 *
 * - RESP_EO_VALUE: a bulk value of at least resp.export_min_size bytes, whole in one record:
 *   copied into one entry ("<name>.bin").
 * - RESP_EO_RDB_DATA: the bytes of a replication snapshot, in stream order over many frames,
 *   identified by their snapshot number: assembled here and, once the last record arrives,
 *   handed over as one entry ("<name>.rdb"). A snapshot that cannot be whole (bytes lost, a
 *   record out of sequence) or that is larger than resp.export_max_size is dropped: its
 *   buffer is freed at once and it is never exported. The buffer never holds more than
 *   resp.export_max_size bytes (its capacity is grown by hand, never past that size).
 *
 * Entries belong to the UI once added: it frees them with eo_free_entry(), which g_free()s
 * the strings, the payload and the entry (Wireshark 4.0 to 4.6), so all of them come from
 * GLib's allocator.
 *
 * Assembly state is kept per tap listener (two Export Objects dialogs each get every record)
 * and dropped by the Export Objects reset callback (called before every retap in the GUI),
 * and at every capture file close (a cleanup routine): a new file starts from nothing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config-plugin.h"

#include <string.h>

#include <epan/export_object.h>
#include <epan/packet.h>
#include <epan/tap.h>

#include "packet-resp-tap.h"

/* Bytes a snapshot's stream may carry past its payload: a diskless snapshot ends with its
 * 40-byte EOF mark (Redis's RDB_EOF_MARK_SIZE), and the payload's length is told only at its
 * end. A snapshot whose stream goes further than resp.export_max_size plus this is larger
 * than resp.export_max_size whatever its end says, and is dropped then and there. */
#define RESP_EO_TRAILER_MAX 40

/* Smallest buffer a snapshot starts with (then doubled, never past the maximum size). */
#define RESP_EO_MIN_CAPACITY (64 * 1024)

typedef struct {
    guint8 *buf;        /* g_malloc'd; at most the maximum size in effect */
    size_t len;         /* bytes stored */
    size_t cap;         /* bytes allocated */
    guint64 next;       /* offset in the snapshot's stream the next record must start at */
    guint32 frame;      /* where the snapshot's data starts */
    char *server;
    char *name;
} resp_eo_snapshot_t;

/* tap listener's data (export_object_list_t *) -> GHashTable: snapshot number -> snapshot */
static GHashTable *resp_eo_listeners;

static void snapshot_free(gpointer p)
{
    resp_eo_snapshot_t *s = (resp_eo_snapshot_t *)p;
    g_free(s->buf);
    g_free(s->server);
    g_free(s->name);
    g_free(s);
}

static void snapshots_free(gpointer p)
{
    g_hash_table_destroy((GHashTable *)p);
}

/* Every listener's assembly state: the Export Objects reset callback and the cleanup
 * routine of a capture file's close. */
static void resp_eo_reset(void)
{
    if (resp_eo_listeners) {
        g_hash_table_destroy(resp_eo_listeners);
        resp_eo_listeners = NULL;
    }
}

static GHashTable *listener_snapshots(void *tapdata)
{
    if (!resp_eo_listeners)
        resp_eo_listeners = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, snapshots_free);
    GHashTable *t = (GHashTable *)g_hash_table_lookup(resp_eo_listeners, tapdata);
    if (!t) {
        t = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, snapshot_free);
        g_hash_table_insert(resp_eo_listeners, tapdata, t);
    }
    return t;
}

static const char *or_default(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

static void add_entry(export_object_list_t *list, guint32 frame, const char *server,
                      const char *content_type, char *filename, guint8 *payload, size_t len)
{
    export_object_entry_t *entry = g_new0(export_object_entry_t, 1);
    entry->pkt_num = frame;
    entry->hostname = g_strdup(server);
    entry->content_type = g_strdup(content_type);
    entry->filename = filename;
    entry->payload_len = len;
    entry->payload_data = payload;
    list->add_entry(list->gui_data, entry);
}

/* The maximum size as a size_t (the preference is a guint64). */
static size_t max_size(void)
{
    guint64 m = resp_export_max_size();
    return m > G_MAXSIZE ? G_MAXSIZE : (size_t)m;
}

/* Appends what fits under the maximum size; FALSE if the snapshot must be dropped. */
static gboolean snapshot_append(resp_eo_snapshot_t *s, const guint8 *data, size_t length, size_t max)
{
    guint64 end = s->next + length;
    if (end < s->next || end > (guint64)max + RESP_EO_TRAILER_MAX)
        return FALSE; /* larger than the maximum size, whatever its end says */
    s->next = end;
    size_t n = s->len < max ? MIN(length, max - s->len) : 0;
    if (!n)
        return TRUE; /* past the maximum: only a trailer may be here, counted not stored */
    if (!data)
        return FALSE;
    if (s->len + n > s->cap) {
        size_t cap = MAX(s->cap, (size_t)RESP_EO_MIN_CAPACITY);
        while (cap < s->len + n)
            cap = cap > G_MAXSIZE / 2 ? G_MAXSIZE : cap * 2;
        cap = MIN(cap, max);
        s->buf = (guint8 *)g_realloc(s->buf, cap);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return TRUE;
}

/* A snapshot starts again: what other listeners hold of it is stale (a listener removed
 * without a reset, as sharkd and tshark remove theirs, left it behind when the capture ended
 * inside the snapshot), unless it is this very record, just taken by a listener that runs
 * beside this one (every listener gets each record in turn). */
static void drop_stale(void *tapdata, const resp_eo_record_t *r)
{
    GHashTableIter it;
    gpointer listener, snapshots;
    g_hash_table_iter_init(&it, resp_eo_listeners);
    while (g_hash_table_iter_next(&it, &listener, &snapshots)) {
        if (listener == tapdata)
            continue;
        gpointer key = GUINT_TO_POINTER(r->snapshot);
        resp_eo_snapshot_t *o = (resp_eo_snapshot_t *)g_hash_table_lookup((GHashTable *)snapshots, key);
        if (o && !(o->frame == r->frame && o->next == r->length))
            g_hash_table_remove((GHashTable *)snapshots, key);
    }
}

static tap_packet_status rdb_record(export_object_list_t *list, const resp_eo_record_t *r)
{
    GHashTable *snapshots = listener_snapshots(list);
    gpointer key = GUINT_TO_POINTER(r->snapshot);
    resp_eo_snapshot_t *s = (resp_eo_snapshot_t *)g_hash_table_lookup(snapshots, key);

    if (r->offset == 0 && !r->lost_before) {
        /* The snapshot's start: also when it is seen again (a retap that was not preceded
         * by a reset), whatever had been gathered is dropped and gathering starts over. */
        drop_stale(list, r);
        s = g_new0(resp_eo_snapshot_t, 1);
        s->frame = r->frame;
        s->server = g_strdup(or_default(r->server, "unknown"));
        s->name = g_strdup(or_default(r->name, "rdb"));
        g_hash_table_replace(snapshots, key, s);
    }
    if (!s)
        return TAP_PACKET_DONT_REDRAW; /* dropped, or its start was never seen */

    size_t max = max_size();
    if (r->lost_before || r->offset != s->next || !snapshot_append(s, r->data, r->length, max)) {
        g_hash_table_remove(snapshots, key); /* cannot be whole, or too large: never exported */
        return TAP_PACKET_DONT_REDRAW;
    }
    if (!r->end)
        return TAP_PACKET_DONT_REDRAW;

    if (r->total_length == 0 || r->total_length > s->len || r->total_length > max) {
        g_hash_table_remove(snapshots, key);
        return TAP_PACKET_DONT_REDRAW;
    }
    /* The buffer becomes the entry's payload, cut to the payload's length (a diskless
     * snapshot's EOF mark, whole or in part, is no part of it). */
    size_t len = (size_t)r->total_length;
    guint8 *payload = len == s->cap ? s->buf : (guint8 *)g_realloc(s->buf, len);
    s->buf = NULL;
    add_entry(list, s->frame, s->server, "application/x-redis-rdb", g_strdup_printf("%s.rdb", s->name),
              payload, len);
    g_hash_table_remove(snapshots, key);
    return TAP_PACKET_REDRAW;
}

static tap_packet_status resp_eo_packet(void *tapdata, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                                        const void *data, tap_flags_t flags _U_)
{
    export_object_list_t *list = (export_object_list_t *)tapdata;
    const resp_eo_record_t *r = (const resp_eo_record_t *)data;
    if (!list || !r)
        return TAP_PACKET_DONT_REDRAW;

    switch (r->kind) {
    case RESP_EO_VALUE:
        if (r->length && !r->data)
            return TAP_PACKET_DONT_REDRAW;
        add_entry(list, r->frame, or_default(r->server, "unknown"), "application/octet-stream",
                  g_strdup_printf("%s.bin", or_default(r->name, "value")),
                  r->length ? (guint8 *)g_memdup2(r->data, r->length) : NULL, r->length);
        return TAP_PACKET_REDRAW;
    case RESP_EO_RDB_DATA:
        return rdb_record(list, r);
    }
    return TAP_PACKET_DONT_REDRAW;
}

int resp_eo_register(int proto_resp)
{
    register_cleanup_routine(resp_eo_reset);
    return register_export_object(proto_resp, resp_eo_packet, resp_eo_reset);
}
