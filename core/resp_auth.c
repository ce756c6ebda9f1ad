/* resp_auth.c — where a Redis request carries credentials (resp_auth.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_auth.h"

#include <string.h>

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Argument i is word, in any case. */
static int arg_is(size_t argc, const uint8_t *const *argv, const size_t *arg_len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (i >= argc || arg_len[i] != n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (ascii_lower(argv[i][k]) != ascii_lower((unsigned char)word[k]))
            return 0;
    return 1;
}

resp_auth_kind_t resp_auth_find(size_t argc, const uint8_t *const *argv, const size_t *arg_len,
                                const char *cmd, const char *sub, resp_auth_t *out)
{
#define IS(i, w) arg_is(argc, argv, arg_len, (i), (w))
    size_t i;
    out->kind = RESP_AUTH_NONE;
    out->user_arg = out->pass_arg = -1;
    if (!cmd)
        return RESP_AUTH_NONE;
    if (!strcmp(cmd, "AUTH")) {
        /* AUTH pass | AUTH user pass: other counts are refused by the server unread */
        if (argc == 2 || argc == 3) {
            out->kind = RESP_AUTH_AUTH;
            out->user_arg = argc == 3 ? 1 : -1;
            out->pass_arg = (long)argc - 1;
        }
    } else if (!strcmp(cmd, "HELLO")) {
        /* HELLO [protover [AUTH user pass] [SETNAME name]]: options in any order */
        for (i = 2; i < argc && !out->kind;) {
            if (IS(i, "AUTH") && i + 2 < argc) {
                out->kind = RESP_AUTH_HELLO;
                out->user_arg = (long)i + 1;
                out->pass_arg = (long)i + 2;
            }
            i += IS(i, "SETNAME") ? 2 : 1;
        }
    } else if (!strcmp(cmd, "MIGRATE")) {
        /* MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pass | AUTH2 user pass] [KEYS ...] */
        for (i = 6; i < argc && !out->kind && !IS(i, "KEYS"); i++) {
            if (IS(i, "AUTH") && i + 1 < argc) {
                out->kind = RESP_AUTH_MIGRATE;
                out->pass_arg = (long)i + 1;
            } else if (IS(i, "AUTH2") && i + 2 < argc) {
                out->kind = RESP_AUTH_MIGRATE2;
                out->user_arg = (long)i + 1;
                out->pass_arg = (long)i + 2;
            }
        }
    } else if (!strcmp(cmd, "CONFIG") && sub && !strcmp(sub, "SET")) {
        /* CONFIG SET name value [name value ...] */
        long master_user = -1;
        for (i = 2; i + 1 < argc; i += 2) {
            if (IS(i, "masteruser")) {
                master_user = (long)i + 1;
            } else if (!out->kind && (IS(i, "requirepass") || IS(i, "masterauth"))) {
                out->kind = IS(i, "requirepass") ? RESP_AUTH_REQUIREPASS : RESP_AUTH_MASTERAUTH;
                out->pass_arg = (long)i + 1;
            }
        }
        if (out->kind == RESP_AUTH_MASTERAUTH)
            out->user_arg = master_user;
    }
    return out->kind;
#undef IS
}

const char *resp_auth_kind_name(resp_auth_kind_t kind)
{
    switch (kind) {
    case RESP_AUTH_AUTH: return "AUTH";
    case RESP_AUTH_HELLO: return "HELLO AUTH";
    case RESP_AUTH_MIGRATE: return "MIGRATE AUTH";
    case RESP_AUTH_MIGRATE2: return "MIGRATE AUTH2";
    case RESP_AUTH_REQUIREPASS: return "CONFIG SET requirepass";
    case RESP_AUTH_MASTERAUTH: return "CONFIG SET masterauth";
    default: return NULL;
    }
}
