/* resp_auth.h — where a Redis request carries credentials. Independent of Wireshark.
 *
 * AUTH [user] pass; HELLO <ver> ... AUTH user pass ...; MIGRATE ... AUTH pass | AUTH2 user
 * pass (before KEYS); CONFIG SET ... requirepass|masterauth pass ... (masteruser names the
 * user a replica authenticates as with masterauth).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RESP_AUTH_H
#define RESP_AUTH_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RESP_AUTH_NONE = 0,
    RESP_AUTH_AUTH,           /* AUTH */
    RESP_AUTH_HELLO,          /* HELLO ... AUTH */
    RESP_AUTH_MIGRATE,        /* MIGRATE ... AUTH */
    RESP_AUTH_MIGRATE2,       /* MIGRATE ... AUTH2 */
    RESP_AUTH_REQUIREPASS,    /* CONFIG SET requirepass */
    RESP_AUTH_MASTERAUTH,     /* CONFIG SET masterauth */
} resp_auth_kind_t;

typedef struct {
    resp_auth_kind_t kind;
    long user_arg; /* argument index of the user name, -1: none named */
    long pass_arg; /* argument index of the password */
} resp_auth_t;

/* cmd and sub are the canonical upper-case names (sub NULL if none); argv[0] is the command.
 * Returns the kind found (also in out->kind). */
resp_auth_kind_t resp_auth_find(size_t argc, const uint8_t *const *argv, const size_t *arg_len,
                                const char *cmd, const char *sub, resp_auth_t *out);

/* "AUTH", "HELLO AUTH", "MIGRATE AUTH", "MIGRATE AUTH2", "CONFIG SET requirepass", ... */
const char *resp_auth_kind_name(resp_auth_kind_t kind);

#endif
