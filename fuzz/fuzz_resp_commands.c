/* fuzz_resp_commands.c — libFuzzer harness for core/resp_commands.c.
 *
 * Input layout:
 *   byte 0      separator: the rest is split into arguments on this byte
 *   byte 1      options: bit 0 passes empty arguments as NULL pointers (allowed when the
 *               length is 0), bit 1 also runs the key extraction of every subcommand of the
 *               picked command, bits 2..5 the RESP_SERVER_* bit number given to
 *               resp_command_keys_server() (bit 6: a value of several bits instead)
 *   bytes 2..3  pick (big-endian): top-level command number pick % resp_command_count(),
 *               whose key specifications are also run on the same argv
 *   bytes 4..   argv[0] SEP argv[1] SEP ... (no bytes: argc 0)
 *
 * Every argument gets its own heap block of exactly its length, so reading past an
 * argument is caught by ASan. Checks (abort() on failure):
 *   - resp_auth_find() (core/resp_auth.c) places a password, and a user if any, inside the
 *     arguments, at different positions,
 *   - resp_command_resolve() agrees with resp_command_lookup()/resp_subcommand_lookup(),
 *     and names found match the argument case-insensitively and are found again by name;
 *   - every key index reported by resp_command_keys()/_ex() is < argc and strictly
 *     ascending, the count returned equals the number of callbacks (also with cb NULL),
 *     resp_command_keys() and resp_command_keys_ex(opts 0) report the same indices, no key
 *     carries RESP_KEY_FLAG_INCOMPLETE, and with RESP_KEYS_OPT_INCLUDE_NOT_KEYS the keys
 *     reported are a superset; NOT_KEY flags only appear with that option;
 *   - resp_command_keys_server() for the server picked by byte 1 reports the same positions as resp_command_keys_ex(), and every command and
 *     subcommand found has servers bits (and a text) consistent with its container's and
 *     with resp_command_is_sentinel_only().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_auth.h"
#include "resp_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_resp_commands: %s:%d: ", __FILE__, __LINE__);         \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)

#define MAX_ARGS 4096

typedef struct {
    size_t argc;
    size_t n;           /* callbacks */
    size_t last;
    size_t *idx;        /* reported indices (room for argc) */
    uint32_t *flags;
    int allow_not_key;
} keys_t;

static void record(keys_t *k, size_t i, uint32_t flags)
{
    if (i >= k->argc)
        FAIL("key index %zu with argc %zu", i, k->argc);
    if (k->n > 0 && i <= k->last)
        FAIL("key index %zu after %zu", i, k->last);
    if (k->n >= k->argc)
        FAIL("more than argc (%zu) keys", k->argc);
    if (flags & RESP_KEY_FLAG_INCOMPLETE)
        FAIL("key %zu reported with the INCOMPLETE flag", i);
    if ((flags & RESP_KEY_FLAG_NOT_KEY) && !k->allow_not_key)
        FAIL("NOT_KEY position %zu reported without RESP_KEYS_OPT_INCLUDE_NOT_KEYS", i);
    k->idx[k->n] = i;
    k->flags[k->n] = flags;
    k->n++;
    k->last = i;
}

static void key_cb(size_t i, void *ud)
{
    record(ud, i, 0);
}

static void key_flags_cb(size_t i, uint32_t flags, void *ud)
{
    record(ud, i, flags);
}

static void keys_init(keys_t *k, size_t argc, int allow_not_key)
{
    memset(k, 0, sizeof *k);
    k->argc = argc;
    k->allow_not_key = allow_not_key;
    k->idx = malloc((argc ? argc : 1) * sizeof *k->idx);
    k->flags = malloc((argc ? argc : 1) * sizeof *k->flags);
    if (k->idx == NULL || k->flags == NULL)
        abort();
}

static void keys_free(keys_t *k)
{
    free(k->idx);
    free(k->flags);
}

static uint32_t fuzz_server;   /* the RESP_SERVER_* value picked for this input */

/* Runs every key extraction entry point for cmd on argv and cross-checks them. */
static void check_keys(const resp_command_info_t *cmd, size_t argc, const uint8_t *const *argv,
                       const size_t *len)
{
    keys_t plain, ex, all, srv;
    keys_init(&plain, argc, 0);
    keys_init(&ex, argc, 0);
    keys_init(&all, argc, 1);
    keys_init(&srv, argc, 0);

    size_t n_plain = resp_command_keys(cmd, argc, argv, len, key_cb, &plain);
    size_t n_count = resp_command_keys(cmd, argc, argv, len, NULL, NULL);
    size_t n_ex = resp_command_keys_ex(cmd, argc, argv, len, 0, key_flags_cb, &ex);
    size_t n_all = resp_command_keys_ex(cmd, argc, argv, len, RESP_KEYS_OPT_INCLUDE_NOT_KEYS,
                                        key_flags_cb, &all);
    size_t n_all_count = resp_command_keys_ex(cmd, argc, argv, len,
                                              RESP_KEYS_OPT_INCLUDE_NOT_KEYS, NULL, NULL);
    size_t n_srv = resp_command_keys_server(cmd, fuzz_server, argc, argv, len, 0, key_flags_cb,
                                            &srv);
    const char *name = resp_command_full_name(cmd);

    /* a server's own key specs only ever differ in flags: same positions */
    if (n_srv != srv.n || srv.n != ex.n || memcmp(srv.idx, ex.idx, srv.n * sizeof *srv.idx) != 0)
        FAIL("%s: keys for server 0x%x differ from the preferred ones", name,
             (unsigned)fuzz_server);
    if (n_plain != plain.n || n_ex != ex.n || n_all != all.n)
        FAIL("%s: returned %zu/%zu/%zu keys, reported %zu/%zu/%zu", name, n_plain, n_ex, n_all,
             plain.n, ex.n, all.n);
    if (n_count != n_plain || n_all_count != n_all)
        FAIL("%s: counting without a callback gives %zu/%zu, with one %zu/%zu", name, n_count,
             n_all_count, n_plain, n_all);
    if (plain.n != ex.n || memcmp(plain.idx, ex.idx, plain.n * sizeof *plain.idx) != 0)
        FAIL("%s: resp_command_keys and resp_command_keys_ex disagree", name);
    /* every key is also reported when NOT_KEY positions are included, with the same flags
     * unless a NOT_KEY spec names the same argument */
    size_t j = 0;
    for (size_t i = 0; i < ex.n; i++) {
        while (j < all.n && all.idx[j] < ex.idx[i])
            j++;
        if (j == all.n || all.idx[j] != ex.idx[i])
            FAIL("%s: key %zu missing when NOT_KEY positions are included", name, ex.idx[i]);
        if ((all.flags[j] & ex.flags[i]) != ex.flags[i])
            FAIL("%s: key %zu lost flags when NOT_KEY positions are included", name, ex.idx[i]);
    }
    if (argc == 0 && n_all != 0)
        FAIL("%s: keys with argc 0", name);
    keys_free(&plain);
    keys_free(&ex);
    keys_free(&all);
    keys_free(&srv);
}

static int ascii_case_equal(const uint8_t *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned x = a[i], y = (unsigned char)b[i];
        if (x >= 'a' && x <= 'z')
            x -= 'a' - 'A';
        if (y >= 'a' && y <= 'z')
            y -= 'a' - 'A';
        if (x != y)
            return 0;
    }
    return 1;
}

static void check_command_info(const resp_command_info_t *cmd)
{
    const char *name = resp_command_name(cmd);
    const char *full = resp_command_full_name(cmd);
    int first = -1, last = -1, step = -1;
    if (name == NULL || full == NULL || name[0] == '\0')
        FAIL("command without a name");
    if (resp_command_arity(cmd) == 0)
        FAIL("%s has arity 0", full);
    (void)resp_command_flags(cmd);
    (void)resp_command_acl_categories(cmd);
    resp_command_legacy_key_range(cmd, &first, &last, &step);
    if (first < 0 || step < 0)
        FAIL("%s: legacy key range %d %d %d", full, first, last, step);
    uint32_t servers = resp_command_servers(cmd);
    const char *text = resp_command_servers_text(cmd);
    if (servers == 0 || (servers & ~(RESP_SERVERS_SERVER | RESP_SERVERS_SENTINEL)) != 0 ||
        text == NULL || text[0] == '\0')
        FAIL("%s: servers 0x%x \"%s\"", full, (unsigned)servers, text ? text : "(null)");
    if (resp_command_is_sentinel_only(cmd) != ((servers & RESP_SERVERS_SERVER) == 0) ||
        (strncmp(text, "Sentinel", 8) == 0) != resp_command_is_sentinel_only(cmd))
        FAIL("%s: sentinel-only %d with servers 0x%x \"%s\"", full,
             resp_command_is_sentinel_only(cmd), (unsigned)servers, text);
    const resp_command_info_t *parent = resp_command_parent(cmd);
    if (parent != NULL && (servers & ~resp_command_servers(parent)) != 0)
        FAIL("%s: servers 0x%x beyond its container's", full, (unsigned)servers);
    if (parent == NULL) {
        if (strcmp(name, full) != 0)
            FAIL("top-level command %s has full name %s", name, full);
        if (resp_command_lookup((const uint8_t *)name, strlen(name)) != cmd)
            FAIL("%s is not found by its own name", name);
    } else {
        const char *pname = resp_command_name(parent);
        size_t pl = strlen(pname);
        if (strncmp(full, pname, pl) != 0 || full[pl] != '|' || strcmp(full + pl + 1, name) != 0)
            FAIL("subcommand %s of %s has full name %s", name, pname, full);
        if (resp_subcommand_lookup(parent, (const uint8_t *)name, strlen(name)) != cmd)
            FAIL("%s is not found by its own name", full);
        if (resp_command_has_subcommands(cmd) || resp_subcommand_count(cmd) != 0)
            FAIL("subcommand %s has subcommands", full);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint8_t sep = data[0];
    const uint8_t opts = data[1];
    const size_t pick = ((size_t)data[2] << 8) | data[3];
    const uint8_t *p = data + 4;
    size_t n = size - 4;
    /* bits 2..5 of the options pick one bit (some of them no release's), bit 6 a mask */
    fuzz_server = (opts & 0x40) ? (uint32_t)pick * 0x10001u : 1u << ((opts >> 2) & 15);

    /* split */
    size_t argc = 0;
    if (n > 0) {
        argc = 1;
        for (size_t i = 0; i < n && argc < MAX_ARGS; i++)
            if (p[i] == sep)
                argc++;
    }
    uint8_t **argv = calloc(argc ? argc : 1, sizeof *argv);
    size_t *len = calloc(argc ? argc : 1, sizeof *len);
    if (argv == NULL || len == NULL)
        abort();
    size_t start = 0;
    for (size_t a = 0; a < argc; a++) {
        size_t end = start;
        if (a + 1 < argc) {
            while (p[end] != sep)
                end++;
        } else {
            end = n;   /* the last argument takes the rest, separators included */
        }
        len[a] = end - start;
        if (len[a] == 0 && (opts & 1)) {
            argv[a] = NULL;
        } else {
            argv[a] = malloc(len[a] ? len[a] : 1);
            if (argv[a] == NULL)
                abort();
            memcpy(argv[a], p + start, len[a]);
        }
        start = end + 1;
    }
    const uint8_t *const *cargv = (const uint8_t *const *)argv;

    /* resolution */
    const resp_command_info_t *cmd = resp_command_resolve(argc, cargv, len);
    const resp_command_info_t *top = argc ? resp_command_lookup(argv[0], len[0]) : NULL;
    if (top != NULL) {
        if (!ascii_case_equal(argv[0], len[0], resp_command_name(top)))
            FAIL("lookup of a %zu-byte name found %s", len[0], resp_command_name(top));
        if (resp_command_parent(top) != NULL)
            FAIL("lookup found a subcommand, %s", resp_command_full_name(top));
        check_command_info(top);
    }
    if (cmd != top) {
        if (top == NULL || cmd == NULL || argc < 2 || resp_command_parent(cmd) != top ||
            resp_subcommand_lookup(top, argv[1], len[1]) != cmd ||
            !ascii_case_equal(argv[1], len[1], resp_command_name(cmd)))
            FAIL("resolve found %s, lookup %s", resp_command_full_name(cmd),
                 resp_command_full_name(top));
        check_command_info(cmd);
    } else if (top != NULL && argc >= 2 && resp_command_has_subcommands(top) &&
               resp_subcommand_lookup(top, argv[1], len[1]) != NULL) {
        FAIL("resolve ignored subcommand of %s", resp_command_name(top));
    }
    check_keys(cmd, argc, cargv, len);
    if (cmd != top)
        check_keys(top, argc, cargv, len);

    /* credentials: positions inside the arguments, a password always, the user elsewhere */
    if (top != NULL) {
        resp_auth_t auth;
        const char *sub = cmd != top ? resp_command_name(cmd) : NULL;
        resp_auth_kind_t k = resp_auth_find(argc, cargv, len, resp_command_name(top), sub, &auth);
        if (k != auth.kind || (k == RESP_AUTH_NONE) != (resp_auth_kind_name(k) == NULL))
            FAIL("%s: credential kind %d out of step", resp_command_name(top), (int)k);
        if (k != RESP_AUTH_NONE &&
            (auth.pass_arg < 1 || (size_t)auth.pass_arg >= argc || auth.user_arg == auth.pass_arg ||
             auth.user_arg < -1 || auth.user_arg == 0 || (auth.user_arg > 0 && (size_t)auth.user_arg >= argc)))
            FAIL("%s: credentials at user %ld, password %ld of %zu arguments", resp_command_name(top),
                 auth.user_arg, auth.pass_arg, argc);
        if (k == RESP_AUTH_NONE && (auth.user_arg != -1 || auth.pass_arg != -1))
            FAIL("%s: positions without credentials", resp_command_name(top));
    }

    /* the NULL command */
    if (resp_command_arity(NULL) != 0 || resp_command_flags(NULL) != 0 ||
        resp_command_acl_categories(NULL) != 0 || resp_command_name(NULL)[0] != '\0' ||
        resp_command_keys(NULL, argc, cargv, len, key_cb, NULL) != 0 ||
        resp_commands_redis_version() == NULL || resp_command_servers(NULL) != 0 ||
        resp_command_servers_text(NULL)[0] != '\0' || resp_command_is_sentinel_only(NULL) ||
        resp_server_name(fuzz_server) == NULL ||
        resp_command_keys_server(NULL, fuzz_server, argc, cargv, len, 0, NULL, NULL) != 0)
        FAIL("NULL command handled wrongly");

    /* the key specifications of a command picked by number, on the same arguments */
    const resp_command_info_t *picked = resp_command_at(pick % resp_command_count());
    if (picked == NULL || resp_command_at(resp_command_count()) != NULL)
        FAIL("resp_command_at out of step with resp_command_count");
    check_command_info(picked);
    check_keys(picked, argc, cargv, len);
    size_t nsub = resp_subcommand_count(picked);
    if (nsub > 0) {
        if (opts & 2) {
            for (size_t i = 0; i < nsub; i++) {
                const resp_command_info_t *sub = resp_subcommand_at(picked, i);
                check_command_info(sub);
                check_keys(sub, argc, cargv, len);
            }
        } else {
            const resp_command_info_t *sub = resp_subcommand_at(picked, (pick >> 8) % nsub);
            check_command_info(sub);
            check_keys(sub, argc, cargv, len);
        }
        if (resp_subcommand_at(picked, nsub) != NULL)
            FAIL("resp_subcommand_at out of step with resp_subcommand_count");
    }
    /* the last argument looked up as a subcommand of the picked command */
    if (argc > 0) {
        const resp_command_info_t *sub = resp_subcommand_lookup(picked, argv[argc - 1],
                                                                len[argc - 1]);
        if (sub != NULL && (resp_command_parent(sub) != picked ||
                            !ascii_case_equal(argv[argc - 1], len[argc - 1],
                                              resp_command_name(sub))))
            FAIL("subcommand lookup in %s found %s", resp_command_name(picked),
                 resp_command_full_name(sub));
    }

    for (size_t a = 0; a < argc; a++)
        free(argv[a]);
    free(argv);
    free(len);
    return 0;
}
