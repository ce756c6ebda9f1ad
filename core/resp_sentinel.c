/* resp_sentinel.c — Sentinel hello messages and events (resp_sentinel.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_sentinel.h"

#include <string.h>

#define MAX_WORDS 12

/* Splits p[0..n) on sep into at most max spans; returns how many, or max + 1 if there are
 * more. Empty spans are kept (a hello with an empty field is malformed, not shifted). */
static size_t split(const uint8_t *p, size_t n, uint8_t sep, resp_text_span_t *w, size_t max)
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == sep) {
            if (count == max)
                return max + 1;
            w[count].off = start;
            w[count].len = i - start;
            count++;
            start = i + 1;
        }
    }
    return count;
}

static int decimal(const uint8_t *p, resp_text_span_t s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    /* canonical, as sentinels print them: no sign, no leading zero */
    if (s.len == 0 || s.len > 20 || (s.len > 1 && p[s.off] == '0'))
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = p[s.off + i];
        if (c < '0' || c > '9')
            return 0;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (max - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static int port(const uint8_t *p, resp_text_span_t s, uint16_t *out)
{
    uint64_t v;
    if (!decimal(p, s, 65535, &v))
        return 0;
    *out = (uint16_t)v;
    return 1;
}

static int word_is(const uint8_t *p, resp_text_span_t s, const char *w)
{
    size_t n = strlen(w);
    return s.len == n && !memcmp(p + s.off, w, n);
}

int resp_sentinel_hello_parse(const uint8_t *p, size_t n, resp_sentinel_hello_t *out)
{
    resp_text_span_t f[8];
    memset(out, 0, sizeof *out);
    if (!p || split(p, n, ',', f, 8) != 8)
        return 0;
    if (f[0].len == 0 || f[2].len == 0 || f[4].len == 0 || f[5].len == 0)
        return 0;
    if (!port(p, f[1], &out->port) || !port(p, f[6], &out->master_port) ||
        !decimal(p, f[3], UINT64_MAX, &out->epoch) || !decimal(p, f[7], UINT64_MAX, &out->master_epoch))
        return 0;
    out->ip = f[0];
    out->port_text = f[1];
    out->runid = f[2];
    out->epoch_text = f[3];
    out->master_name = f[4];
    out->master_ip = f[5];
    out->master_port_text = f[6];
    out->master_epoch_text = f[7];
    return 1;
}

int resp_sentinel_is_event_channel(const uint8_t *p, size_t n)
{
    if (!p || n < 2 || n > 64 || (p[0] != '+' && p[0] != '-'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '-'))
            return 0;
    return 1;
}

resp_sentinel_event_form_t resp_sentinel_event_parse(const uint8_t *channel, size_t channel_len,
                                                     const uint8_t *p, size_t n,
                                                     resp_sentinel_event_t *out)
{
    resp_text_span_t w[MAX_WORDS];
    memset(out, 0, sizeof *out);
    if (!p)
        return RESP_SENTINEL_EVENT_TEXT;
    size_t nw = split(p, n, ' ', w, MAX_WORDS);
    if (nw > MAX_WORDS)
        nw = MAX_WORDS; /* extra words (e.g. "#quorum 2/2") do not matter to the form */
    if (channel && channel_len == 14 && !memcmp(channel, "+switch-master", 14)) {
        if (nw == 5 && w[0].len && w[1].len && w[3].len &&
            port(p, w[2], &out->old_port) && port(p, w[4], &out->new_port)) {
            out->form = RESP_SENTINEL_EVENT_SWITCH;
            out->master_name = w[0];
            out->old_ip = w[1];
            out->old_port_text = w[2];
            out->new_ip = w[3];
            out->new_port_text = w[4];
            return out->form;
        }
        memset(out, 0, sizeof *out);
        return RESP_SENTINEL_EVENT_TEXT;
    }
    if (nw >= 4 && (word_is(p, w[0], "master") || word_is(p, w[0], "slave") ||
                    word_is(p, w[0], "replica") || word_is(p, w[0], "sentinel")) &&
        w[1].len && w[2].len && port(p, w[3], &out->port)) {
        out->form = RESP_SENTINEL_EVENT_INSTANCE;
        out->instance_type = w[0];
        out->instance_name = w[1];
        out->ip = w[2];
        out->port_text = w[3];
        if (nw >= 8 && word_is(p, w[4], "@") && w[5].len && w[6].len &&
            port(p, w[7], &out->master_port)) {
            out->has_master = 1;
            out->master_name = w[5];
            out->master_ip = w[6];
            out->master_port_text = w[7];
        }
        return out->form;
    }
    memset(out, 0, sizeof *out);
    return RESP_SENTINEL_EVENT_TEXT;
}
