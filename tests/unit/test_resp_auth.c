/* test_resp_auth.c — unit tests for core/resp_auth.[ch]: where requests carry credentials.
 * The last line printed is "N passed, M failed".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_auth.h"

#include <stdio.h>
#include <string.h>

#include "unit_check.h"

/* A request as words separated by spaces; cmd/sub as the dissector names them. */
static void check(const char *line, const char *cmd, const char *sub, resp_auth_kind_t kind, long user,
                  long pass)
{
    char buf[256];
    const uint8_t *argv[32];
    size_t len[32], argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *w = strtok(buf, " "); w && argc < 32; w = strtok(NULL, " ")) {
        argv[argc] = (const uint8_t *)w;
        len[argc++] = strlen(w);
    }
    resp_auth_t a;
    resp_auth_kind_t k = resp_auth_find(argc, argv, len, cmd, sub, &a);
    CHECK(k == kind && a.kind == kind, "%s: kind %d, expected %d", line, (int)k, (int)kind);
    CHECK(a.user_arg == user, "%s: user at %ld, expected %ld", line, a.user_arg, user);
    CHECK(a.pass_arg == pass, "%s: password at %ld, expected %ld", line, a.pass_arg, pass);
}

int main(void)
{
    /* AUTH */
    check("AUTH secret", "AUTH", NULL, RESP_AUTH_AUTH, -1, 1);
    check("auth alice alicepw", "AUTH", NULL, RESP_AUTH_AUTH, 1, 2);
    check("AUTH", "AUTH", NULL, RESP_AUTH_NONE, -1, -1);             /* refused: wrong arity */
    check("AUTH a b c", "AUTH", NULL, RESP_AUTH_NONE, -1, -1);
    /* HELLO: AUTH and SETNAME in any order, SETNAME's value never taken for a keyword */
    check("HELLO 3 AUTH alice pw", "HELLO", NULL, RESP_AUTH_HELLO, 3, 4);
    check("hello 2 setname app auth bob pw2", "HELLO", NULL, RESP_AUTH_HELLO, 5, 6);
    check("HELLO 3 SETNAME AUTH", "HELLO", NULL, RESP_AUTH_NONE, -1, -1);
    check("HELLO 3 SETNAME AUTH AUTH u p", "HELLO", NULL, RESP_AUTH_HELLO, 5, 6);
    check("HELLO 3 AUTH alice", "HELLO", NULL, RESP_AUTH_NONE, -1, -1); /* incomplete */
    check("HELLO 3", "HELLO", NULL, RESP_AUTH_NONE, -1, -1);
    check("HELLO", "HELLO", NULL, RESP_AUTH_NONE, -1, -1);
    /* MIGRATE: options after the fixed five arguments, before KEYS */
    check("MIGRATE 10.0.0.2 6380 k 0 5000 AUTH tpw", "MIGRATE", NULL, RESP_AUTH_MIGRATE, -1, 7);
    check("MIGRATE h 6380 k 0 5000 COPY REPLACE AUTH2 carol cpw", "MIGRATE", NULL, RESP_AUTH_MIGRATE2, 9, 10);
    check("MIGRATE h 6380 \"\" 0 5000 AUTH2 u p KEYS a b", "MIGRATE", NULL, RESP_AUTH_MIGRATE2, 7, 8);
    check("MIGRATE h 6380 \"\" 0 5000 KEYS AUTH pw", "MIGRATE", NULL, RESP_AUTH_NONE, -1, -1); /* keys */
    check("MIGRATE AUTH 6380 k 0 5000", "MIGRATE", NULL, RESP_AUTH_NONE, -1, -1); /* a host named AUTH */
    check("MIGRATE h 6380 k 0 5000 AUTH", "MIGRATE", NULL, RESP_AUTH_NONE, -1, -1);
    /* CONFIG SET: name/value pairs */
    check("CONFIG SET requirepass newpw", "CONFIG", "SET", RESP_AUTH_REQUIREPASS, -1, 3);
    check("config set maxmemory 1mb MASTERAUTH mpw masteruser repl", "CONFIG", "SET", RESP_AUTH_MASTERAUTH, 7, 5);
    check("CONFIG SET masteruser requirepass masterauth x", "CONFIG", "SET", RESP_AUTH_MASTERAUTH, 3, 5);
    check("CONFIG SET requirepass", "CONFIG", "SET", RESP_AUTH_NONE, -1, -1);
    check("CONFIG GET requirepass", "CONFIG", "GET", RESP_AUTH_NONE, -1, -1);
    /* others */
    check("SET AUTH pw", "SET", NULL, RESP_AUTH_NONE, -1, -1);
    check("ACL SETUSER alice >pw", "ACL", "SETUSER", RESP_AUTH_NONE, -1, -1);
    resp_auth_t a;
    CHECK(resp_auth_find(0, NULL, NULL, NULL, NULL, &a) == RESP_AUTH_NONE, "no command");
    CHECK(!strcmp(resp_auth_kind_name(RESP_AUTH_MIGRATE2), "MIGRATE AUTH2"), "name");
    CHECK(resp_auth_kind_name(RESP_AUTH_NONE) == NULL, "no name for none");

    return unit_summary();
}
