/* resp_cluster.h — what Redis Cluster adds to RESP: key hash slots, error codes, redirects.
 *
 * Independent of Wireshark; nothing here allocates. A key's slot is the CRC16 (XMODEM:
 * polynomial 0x1021, initial value 0, no reflection) of its hash tag — the bytes between the
 * first '{' and the first '}' after it, when that is not empty — or of the whole key, modulo
 * 16384, which is what CLUSTER KEYSLOT answers.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RESP_CLUSTER_H
#define RESP_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RESP_CLUSTER_SLOTS 16384u

uint16_t resp_crc16(const uint8_t *p, size_t n);

/* The hash slot of key[0..n) (0..16383). key may be NULL only if n is 0. */
uint16_t resp_cluster_keyslot(const uint8_t *key, size_t n);

/* Length of an error reply's code: its first word, up to the first space (the whole text
 * if it has none). 0 for an empty text or one starting with a space. */
size_t resp_error_code_len(const uint8_t *text, size_t n);

typedef enum {
    RESP_REDIRECT_NONE = 0,
    RESP_REDIRECT_MOVED,
    RESP_REDIRECT_ASK
} resp_redirect_kind_t;

/* "MOVED <slot> <endpoint>:<port>" or "ASK ...". The endpoint is what the node announces:
 * an IPv4 or IPv6 address, a host name, or empty / "?" when it has none; the port is after
 * the last ':' (so IPv6 addresses need no brackets). */
typedef struct {
    resp_redirect_kind_t kind;
    uint16_t slot;
    uint16_t port;
    size_t host_offset, host_len; /* within the text */
} resp_redirect_t;

/* Parses an error text (without the leading '-' and the CRLF) as a redirect. Returns 1 and
 * fills *out for a well-formed MOVED or ASK (slot < 16384, port 0..65535 in canonical
 * decimal, nothing after the port), 0 otherwise (then out->kind is RESP_REDIRECT_NONE). */
int resp_redirect_parse(const uint8_t *text, size_t n, resp_redirect_t *out);

#ifdef __cplusplus
}
#endif

#endif /* RESP_CLUSTER_H */
