/* resp_cluster.c — key hash slots, error codes and MOVED/ASK redirects (resp_cluster.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_cluster.h"

#include <string.h>

/* CRC16/XMODEM, one table lookup per byte. The table is built at compile time from the
 * polynomial so it cannot drift from it. */
#define CRC_STEP(c) (((c) & 0x8000u) ? (((c) << 1) ^ 0x1021u) : ((c) << 1))
#define CRC_ENTRY(i) ((uint16_t)(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP((unsigned)(i) << 8)))))))) & 0xffffu))
#define CRC_ROW(i) CRC_ENTRY(i), CRC_ENTRY(i + 1), CRC_ENTRY(i + 2), CRC_ENTRY(i + 3), \
                   CRC_ENTRY(i + 4), CRC_ENTRY(i + 5), CRC_ENTRY(i + 6), CRC_ENTRY(i + 7)
#define CRC_ROWS(i) CRC_ROW(i), CRC_ROW(i + 8), CRC_ROW(i + 16), CRC_ROW(i + 24)
static const uint16_t crc16_table[256] = {
    CRC_ROWS(0), CRC_ROWS(32), CRC_ROWS(64), CRC_ROWS(96),
    CRC_ROWS(128), CRC_ROWS(160), CRC_ROWS(192), CRC_ROWS(224)
};

uint16_t resp_crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xffu]);
    return crc;
}

uint16_t resp_cluster_keyslot(const uint8_t *key, size_t n)
{
    if (n == 0)
        return 0;
    const uint8_t *open = memchr(key, '{', n);
    if (open) {
        size_t after = (size_t)(open - key) + 1;
        const uint8_t *close = memchr(open + 1, '}', n - after);
        if (close && close > open + 1)
            return (uint16_t)(resp_crc16(open + 1, (size_t)(close - open - 1)) & (RESP_CLUSTER_SLOTS - 1));
    }
    return (uint16_t)(resp_crc16(key, n) & (RESP_CLUSTER_SLOTS - 1));
}

size_t resp_error_code_len(const uint8_t *text, size_t n)
{
    const uint8_t *sp = text ? memchr(text, ' ', n) : NULL;
    return sp ? (size_t)(sp - text) : (text ? n : 0);
}

/* Canonical decimal (no sign, no leading zero unless "0") of at most max. */
static int parse_decimal(const uint8_t *p, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > max)
        return 0;
    *out = v;
    return 1;
}

int resp_redirect_parse(const uint8_t *text, size_t n, resp_redirect_t *out)
{
    memset(out, 0, sizeof *out);
    size_t code = resp_error_code_len(text, n);
    resp_redirect_kind_t kind;
    if (code == 5 && !memcmp(text, "MOVED", 5))
        kind = RESP_REDIRECT_MOVED;
    else if (code == 3 && !memcmp(text, "ASK", 3))
        kind = RESP_REDIRECT_ASK;
    else
        return 0;
    if (code >= n)
        return 0;
    const uint8_t *slot = text + code + 1;
    size_t rest = n - code - 1;
    const uint8_t *sp = memchr(slot, ' ', rest);
    if (!sp)
        return 0;
    unsigned long slot_v, port_v;
    if (!parse_decimal(slot, (size_t)(sp - slot), RESP_CLUSTER_SLOTS - 1, &slot_v))
        return 0;
    const uint8_t *ep = sp + 1;
    size_t ep_len = n - (size_t)(ep - text);
    size_t colon = ep_len;
    while (colon > 0 && ep[colon - 1] != ':')
        colon--;
    if (colon == 0) /* no ':' at all */
        return 0;
    for (size_t i = 0; i + 1 < colon; i++)
        if (ep[i] == ' ' || ep[i] < 0x20 || ep[i] == 0x7f)
            return 0;
    if (!parse_decimal(ep + colon, ep_len - colon, 65535, &port_v))
        return 0;
    out->kind = kind;
    out->slot = (uint16_t)slot_v;
    out->port = (uint16_t)port_v;
    out->host_offset = (size_t)(ep - text);
    out->host_len = colon - 1;
    return 1;
}
