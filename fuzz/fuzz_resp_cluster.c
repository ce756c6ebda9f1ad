/* fuzz_resp_cluster.c — libFuzzer harness for core/resp_cluster.c and core/resp_sentinel.c.
 *
 * Input layout: byte 0 picks the split point of the rest into a channel name and a payload
 * (channel = the first data[0] % (size) bytes); the whole rest is also used as a key and as
 * an error text. Every buffer gets its own heap block of exactly its length, so reading past
 * it is caught by ASan. Checks (abort() on failure):
 *   - resp_cluster_keyslot() < 16384, and equals the slot of the hash tag when there is one;
 *   - a parsed redirect's host and port lie inside the text, its slot < 16384, and printing
 *     it back ("<code> <slot> <host>:<port>") gives the text again;
 *   - every span a hello or event parse returns lies inside the payload, and a hello's
 *     ports and epochs print back to their spans (canonical decimal only).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_cluster.h"
#include "resp_sentinel.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_resp_cluster: %s:%d: ", __FILE__, __LINE__);          \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)

static uint8_t *copy(const uint8_t *p, size_t n)
{
    uint8_t *c = calloc(n ? n : 1, 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

static void span_inside(resp_text_span_t s, size_t n, const char *what)
{
    if (s.off > n || s.len > n - s.off)
        FAIL("%s span %zu+%zu outside %zu bytes", what, s.off, s.len, n);
}

static void number_prints_back(const uint8_t *p, resp_text_span_t s, uint64_t v, const char *what)
{
    char buf[32];
    int k = snprintf(buf, sizeof buf, "%" PRIu64, v);
    if (k < 0 || (size_t)k != s.len || memcmp(buf, p + s.off, s.len))
        FAIL("%s %" PRIu64 " does not print back to its text", what, v);
}

static void check_keyslot(const uint8_t *key, size_t n)
{
    uint16_t slot = resp_cluster_keyslot(key, n);
    if (slot >= RESP_CLUSTER_SLOTS)
        FAIL("slot %u", slot);
    const uint8_t *open = n ? memchr(key, '{', n) : NULL;
    if (open) {
        size_t start = (size_t)(open - key) + 1;
        const uint8_t *close = memchr(key + start, '}', n - start);
        if (close && (size_t)(close - key) > start &&
            slot != (resp_crc16(key + start, (size_t)(close - key) - start) & 0x3fff))
            FAIL("hash tag not used");
    }
}

static void check_redirect(const uint8_t *t, size_t n)
{
    resp_redirect_t r;
    size_t code = resp_error_code_len(t, n);
    if (code > n)
        FAIL("code length %zu > %zu", code, n);
    if (!resp_redirect_parse(t, n, &r)) {
        if (r.kind != RESP_REDIRECT_NONE)
            FAIL("kind set on failure");
        return;
    }
    if (r.slot >= RESP_CLUSTER_SLOTS || r.host_offset > n || r.host_len > n - r.host_offset)
        FAIL("redirect fields out of range");
    char *buf = malloc(n + 32);
    if (!buf)
        abort();
    int k = snprintf(buf, n + 32, "%s %u %.*s:%u", r.kind == RESP_REDIRECT_MOVED ? "MOVED" : "ASK", r.slot,
                     (int)r.host_len, (const char *)t + r.host_offset, r.port);
    if (k < 0 || (size_t)k != n || memcmp(buf, t, n))
        FAIL("redirect does not print back to its text");
    free(buf);
}

static void check_sentinel(const uint8_t *ch, size_t chl, const uint8_t *p, size_t n)
{
    resp_sentinel_hello_t h;
    if (resp_sentinel_hello_parse(p, n, &h)) {
        resp_text_span_t all[] = {h.ip, h.runid, h.master_name, h.master_ip, h.port_text, h.epoch_text,
                                  h.master_port_text, h.master_epoch_text};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            span_inside(all[i], n, "hello");
        number_prints_back(p, h.port_text, h.port, "port");
        number_prints_back(p, h.master_port_text, h.master_port, "master port");
        number_prints_back(p, h.epoch_text, h.epoch, "epoch");
        number_prints_back(p, h.master_epoch_text, h.master_epoch, "master epoch");
    }
    (void)resp_sentinel_is_event_channel(ch, chl);
    resp_sentinel_event_t e;
    resp_sentinel_event_form_t f = resp_sentinel_event_parse(ch, chl, p, n, &e);
    resp_text_span_t ev[] = {e.instance_type, e.instance_name, e.ip, e.port_text, e.master_name, e.master_ip,
                             e.master_port_text, e.old_ip, e.new_ip, e.old_port_text, e.new_port_text};
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        span_inside(ev[i], n, "event");
    if (f == RESP_SENTINEL_EVENT_TEXT && (e.instance_type.len || e.master_name.len))
        FAIL("text event with fields");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    size_t split = n ? data[0] % (n + 1) : 0;
    uint8_t *all = copy(rest, n);
    uint8_t *ch = copy(rest, split);
    uint8_t *payload = copy(rest + split, n - split);
    check_keyslot(all, n);
    check_redirect(all, n);
    check_sentinel(ch, split, payload, n - split);
    free(all);
    free(ch);
    free(payload);
    return 0;
}
