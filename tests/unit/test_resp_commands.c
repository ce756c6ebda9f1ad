/* test_resp_commands.c — unit tests for core/resp_commands.[ch].
 *
 * Plain C, no test framework, no files read at run time.  Build (from the repository root):
 *   gcc -Wall -Wextra -Werror -std=c11 -O2 -Icore core/resp_commands.c \
 *       tests/unit/test_resp_commands.c -o /tmp/t && /tmp/t
 * The last line printed is "N passed, M failed"; the exit status is non-zero on failure.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_commands.h"
#include "resp_commands_getkeys_vectors.h"   /* generated, next to this file */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_check.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static const resp_command_info_t *lk(const char *s)
{
    return resp_command_lookup((const uint8_t *)s, strlen(s));
}

static const resp_command_info_t *sub(const resp_command_info_t *c, const char *s)
{
    return resp_subcommand_lookup(c, (const uint8_t *)s, strlen(s));
}

#define MAX_KEYS 64
#define MAX_ARGS 64

typedef struct {
    size_t n;                 /* keys reported */
    size_t idx[MAX_KEYS];     /* first MAX_KEYS of them */
    uint32_t flags[MAX_KEYS];
    size_t argc;
    int ascending;            /* strictly ascending and < argc */
    size_t prev;
} keys_t;

static void keys_init(keys_t *k, size_t argc)
{
    memset(k, 0, sizeof(*k));
    k->argc = argc;
    k->ascending = 1;
}

static void collect_ex(size_t i, uint32_t f, void *ud)
{
    keys_t *k = (keys_t *)ud;
    if (i >= k->argc || (k->n > 0 && i <= k->prev))
        k->ascending = 0;
    k->prev = i;
    if (k->n < MAX_KEYS) {
        k->idx[k->n] = i;
        k->flags[k->n] = f;
    }
    k->n++;
}

static void collect(size_t i, void *ud)
{
    collect_ex(i, 0, ud);
}

/* A command line split on single spaces; "\\0" alone stands for a NULL argument of length 0
 * and "''" for an empty argument. */
typedef struct {
    size_t argc;
    const uint8_t *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    char buf[512];
} line_t;

static void split(line_t *l, const char *s)
{
    size_t n = strlen(s);
    if (n >= sizeof(l->buf))
        abort();
    memcpy(l->buf, s, n + 1);
    l->argc = 0;
    char *p = l->buf;
    while (*p != '\0') {
        char *e = strchr(p, ' ');
        if (e != NULL)
            *e = '\0';
        if (l->argc == MAX_ARGS)
            abort();
        if (strcmp(p, "\\0") == 0) {
            l->argv[l->argc] = NULL;
            l->len[l->argc] = 0;
        } else if (strcmp(p, "''") == 0) {
            l->argv[l->argc] = (const uint8_t *)"";
            l->len[l->argc] = 0;
        } else {
            l->argv[l->argc] = (const uint8_t *)p;
            l->len[l->argc] = strlen(p);
        }
        l->argc++;
        if (e == NULL)
            break;
        p = e + 1;
    }
}

/* Keys of a command line as a string "1,3,4" (empty when none). */
static const char *keys_of_opts(const char *s, uint32_t opts, keys_t *out)
{
    static char res[512];
    line_t l;
    keys_t k;
    split(&l, s);
    const resp_command_info_t *cmd = resp_command_resolve(l.argc, l.argv, l.len);
    keys_init(&k, l.argc);
    size_t n = resp_command_keys_ex(cmd, l.argc, l.argv, l.len, opts, collect_ex, &k);
    res[0] = '\0';
    if (n != k.n || !k.ascending)
        return "BAD";
    for (size_t i = 0; i < k.n && i < MAX_KEYS; i++) {
        size_t o = strlen(res);
        snprintf(res + o, sizeof(res) - o, i ? ",%zu" : "%zu", k.idx[i]);
    }
    if (out != NULL)
        *out = k;
    return res;
}

static const char *keys_of(const char *s)
{
    return keys_of_opts(s, 0, NULL);
}

#define CHECK_KEYS(line, want)                                                   \
    do {                                                                         \
        const char *got_ = keys_of(line);                                        \
        CHECK(strcmp(got_, (want)) == 0, "%s: keys [%s], want [%s]", (line), got_, (want)); \
    } while (0)

/* ---- table ------------------------------------------------------------------------------ */

static int valid_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    }
    return 1;
}

static void lower(char *d, const char *s)
{
    for (; *s; s++, d++)
        *d = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
    *d = '\0';
}

/* The servers text rebuilt from the bits: "Redis 7.0–8.0, Valkey 8.0–9.1; Sentinel (...)". */
static void servers_text(uint32_t mask, char *out, size_t size)
{
    static const char *const rel[7] = { "7.0", "7.2", "7.4", "8.0", "8.0", "8.1", "9.1" };
    static const unsigned first[2] = { 0, 4 }, count[2] = { 4, 3 };
    static const char *const product[2] = { "Redis", "Valkey" };
    out[0] = '\0';
    for (unsigned mode = 0; mode < 2; mode++) {
        char part[256] = "";
        for (unsigned p = 0; p < 2; p++) {
            char runs[128] = "";
            for (unsigned i = 0; i < count[p];) {
                unsigned b = first[p] + i + 8 * mode;
                if (!(mask & (1u << b))) {
                    i++;
                    continue;
                }
                unsigned j = i;
                while (j + 1 < count[p] && (mask & (1u << (b + j + 1 - i))))
                    j++;
                size_t o = strlen(runs);
                if (i == j)
                    snprintf(runs + o, sizeof(runs) - o, "%s%s", o ? ", " : "", rel[first[p] + i]);
                else
                    snprintf(runs + o, sizeof(runs) - o, "%s%s\342\200\223%s", o ? ", " : "",
                             rel[first[p] + i], rel[first[p] + j]);
                i = j + 1;
            }
            if (runs[0]) {
                size_t o = strlen(part);
                snprintf(part + o, sizeof(part) - o, "%s%s %s", o ? ", " : "", product[p], runs);
            }
        }
        if (part[0]) {
            size_t o = strlen(out);
            snprintf(out + o, size - o, mode ? "%sSentinel (%s)" : "%s%s", o ? "; " : "", part);
        }
    }
}

static void check_servers(const resp_command_info_t *c)
{
    char want[512];
    uint32_t m = resp_command_servers(c);
    servers_text(m, want, sizeof(want));
    CHECK(m != 0 && (m & ~(RESP_SERVERS_SERVER | RESP_SERVERS_SENTINEL)) == 0, "%s servers 0x%x",
          resp_command_full_name(c), (unsigned)m);
    CHECK(strcmp(resp_command_servers_text(c), want) == 0, "%s servers text \"%s\", bits say \"%s\"",
          resp_command_full_name(c), resp_command_servers_text(c), want);
    CHECK(resp_command_is_sentinel_only(c) == ((m & RESP_SERVERS_SERVER) == 0), "%s sentinel only",
          resp_command_full_name(c));
}

static void test_table(void)
{
    size_t n = resp_command_count();
    size_t nsub = 0;
    char buf[128];

    CHECK(n == GKV_NUM_COMMANDS, "%zu commands, the servers reported %d", n, GKV_NUM_COMMANDS);
    CHECK(strcmp(resp_commands_redis_version(), GKV_SOURCES) == 0, "table/vectors sources");
    CHECK(resp_command_at(n) == NULL, "resp_command_at past end");

    for (size_t i = 0; i < n; i++) {
        const resp_command_info_t *c = resp_command_at(i);
        const char *name = resp_command_name(c);
        size_t len = strlen(name);
        CHECK(valid_name(name), "bad name %s", name);
        CHECK(strcmp(resp_command_full_name(c), name) == 0, "%s full name", name);
        CHECK(resp_command_parent(c) == NULL, "%s parent", name);
        CHECK(resp_command_arity(c) != 0, "%s arity 0", name);
        if (i > 0)
            CHECK(strcmp(resp_command_name(resp_command_at(i - 1)), name) < 0, "%s not sorted", name);
        CHECK(lk(name) == c, "lookup %s", name);
        lower(buf, name);
        CHECK(lk(buf) == c, "lookup %s", buf);
        /* a strict prefix / extension is some other command or nothing */
        const resp_command_info_t *p = resp_command_lookup((const uint8_t *)name, len - 1);
        CHECK(p != c && (p == NULL || strlen(resp_command_name(p)) == len - 1), "prefix of %s", name);
        memcpy(buf, name, len);
        buf[len] = '\0';
        buf[len + 1] = '\0';
        CHECK(resp_command_lookup((const uint8_t *)buf, len + 1) == NULL, "%s followed by NUL", name);

        size_t ns = resp_subcommand_count(c);
        CHECK(resp_command_has_subcommands(c) == (ns > 0), "%s has_subcommands", name);
        check_servers(c);
        CHECK(resp_subcommand_at(c, ns) == NULL, "%s subcommand_at past end", name);
        nsub += ns;
        for (size_t j = 0; j < ns; j++) {
            const resp_command_info_t *s = resp_subcommand_at(c, j);
            const char *sn = resp_command_name(s);
            char full[128];
            snprintf(full, sizeof(full), "%s|%s", name, sn);
            CHECK(valid_name(sn), "bad subcommand name %s", full);
            CHECK(strcmp(resp_command_full_name(s), full) == 0, "full name %s", full);
            CHECK(resp_command_parent(s) == c, "parent of %s", full);
            CHECK(!resp_command_has_subcommands(s), "%s nested", full);
            CHECK(resp_subcommand_lookup(s, (const uint8_t *)sn, strlen(sn)) == NULL, "%s nested", full);
            CHECK(resp_command_arity(s) != 0, "%s arity", full);
            if (j > 0)
                CHECK(strcmp(resp_command_name(resp_subcommand_at(c, j - 1)), sn) < 0, "%s not sorted", full);
            CHECK(sub(c, sn) == s, "lookup %s", full);
            lower(buf, sn);
            CHECK(sub(c, buf) == s, "lookup %s lower case", full);
            CHECK(lk(sn) == NULL || lk(sn) != s, "%s is not top-level", full);
            check_servers(s);
            CHECK((resp_command_servers(s) & ~resp_command_servers(c)) == 0,
                  "%s: servers 0x%x beyond its container's 0x%x", full,
                  (unsigned)resp_command_servers(s), (unsigned)resp_command_servers(c));
        }
    }
    CHECK(nsub == GKV_NUM_SUBCOMMANDS, "%zu subcommands, the servers reported %d", nsub,
          GKV_NUM_SUBCOMMANDS);

    /* per release: as many commands and subcommands with its bit as its dumps had (or, for
     * Redis 7.2/7.4, as COMMAND DOCS gave it) */
    for (size_t r = 0; r < GKV_NUM_RELEASES; r++) {
        const gkv_release_t *rel = &gkv_releases[r];
        size_t nc = 0, ns = 0;
        for (size_t i = 0; i < n; i++) {
            const resp_command_info_t *c = resp_command_at(i);
            nc += (resp_command_servers(c) & rel->server) != 0;
            for (size_t j = 0; j < resp_subcommand_count(c); j++)
                ns += (resp_command_servers(resp_subcommand_at(c, j)) & rel->server) != 0;
        }
        CHECK(nc == rel->num_commands && ns == rel->num_subcommands,
              "%s: %zu commands, %zu subcommands; expected %zu, %zu",
              resp_server_name(rel->server), nc, ns, rel->num_commands, rel->num_subcommands);
    }
    /* every dumped server's own counts fit its release's */
    for (size_t i = 0; i < GKV_NUM_SOURCES; i++) {
        const gkv_source_t *src = &gkv_sources[i];
        int found = 0;
        for (size_t r = 0; r < GKV_NUM_RELEASES; r++) {
            if (gkv_releases[r].server == src->server) {
                found = 1;
                CHECK(src->num_commands <= gkv_releases[r].num_commands &&
                          src->num_subcommands <= gkv_releases[r].num_subcommands,
                      "%s: more commands than its release", src->name);
            }
        }
        CHECK(found, "%s: its release has no commands", src->name);
    }
}

static void test_lookup(void)
{
    const resp_command_info_t *set = lk("SET");
    char big[1000];

    CHECK(set != NULL, "SET");
    CHECK(lk("set") == set && lk("Set") == set && lk("sEt") == set, "SET case");
    CHECK(strcmp(resp_command_name(lk("set")), "SET") == 0, "SET name");
    CHECK(lk("get") != NULL && lk("get") != set, "GET");
    CHECK(lk("georadius_ro") != NULL, "underscore name");
    CHECK(lk("restore-asking") != NULL, "hyphen name");
    CHECK(lk("SETX") == NULL, "SETX");
    CHECK(lk("SE") == NULL, "SE");
    CHECK(lk("S") == NULL, "S");
    CHECK(lk("") == NULL, "empty");
    CHECK(resp_command_lookup(NULL, 0) == NULL, "NULL,0");
    CHECK(resp_command_lookup(NULL, 3) == NULL, "NULL,3");
    CHECK(resp_command_lookup((const uint8_t *)"SET", 0) == NULL, "len 0");
    CHECK(resp_command_lookup((const uint8_t *)"SETEX", 3) == set, "bounded by len");
    CHECK(resp_command_lookup((const uint8_t *)"S\0T", 3) == NULL, "embedded NUL");
    CHECK(resp_command_lookup((const uint8_t *)"SET\0", 4) == NULL, "trailing NUL");
    CHECK(resp_command_lookup((const uint8_t *)"\0SET", 4) == NULL, "leading NUL");
    CHECK(lk(" SET") == NULL && lk("SET ") == NULL, "spaces");
    CHECK(lk("S\xc3\x89T") == NULL && lk("s\xe5t") == NULL, "non-ASCII");
    CHECK(lk("S{T") == NULL && lk("SE\x7f") == NULL, "near-letter bytes");
    CHECK(lk("CONFIG|GET") == NULL && lk("config get") == NULL, "full names are not top-level");
    memset(big, 'A', sizeof(big));
    CHECK(resp_command_lookup((const uint8_t *)big, sizeof(big)) == NULL, "overlong");
    memcpy(big, "SET", 3);
    CHECK(resp_command_lookup((const uint8_t *)big, sizeof(big)) == NULL, "overlong SET...");
    CHECK(resp_command_lookup((const uint8_t *)big, (size_t)-1) == NULL, "len SIZE_MAX");

    /* every byte value as a 1-byte name: no Redis command has a 1-letter name */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        CHECK(resp_command_lookup(&c, 1) == NULL, "1-byte name %u", b);
    }
}

static void test_subcommands(void)
{
    const resp_command_info_t *config = lk("config");
    const resp_command_info_t *cget = sub(config, "get");
    const resp_command_info_t *set = lk("SET");

    CHECK(config != NULL && resp_command_has_subcommands(config), "CONFIG container");
    CHECK(cget != NULL, "CONFIG GET");
    CHECK(sub(config, "GET") == cget && sub(config, "Get") == cget, "CONFIG GET case");
    CHECK(strcmp(resp_command_name(cget), "GET") == 0, "CONFIG|GET name");
    CHECK(strcmp(resp_command_full_name(cget), "CONFIG|GET") == 0, "CONFIG|GET full name");
    CHECK(resp_command_parent(cget) == config, "CONFIG|GET parent");
    CHECK(cget != lk("GET"), "CONFIG GET is not GET");
    CHECK(resp_command_arity(cget) == -3, "CONFIG|GET arity %d", resp_command_arity(cget));
    CHECK(resp_command_flags(sub(config, "set")) & RESP_CMD_FLAG_ADMIN, "CONFIG SET admin");
    CHECK(sub(config, "nosuch") == NULL, "CONFIG NOSUCH");
    CHECK(sub(config, "") == NULL, "CONFIG ''");
    CHECK(resp_subcommand_lookup(config, (const uint8_t *)"GET\0", 4) == NULL, "CONFIG GET\\0");
    CHECK(resp_subcommand_lookup(config, NULL, 3) == NULL, "CONFIG NULL");
    CHECK(sub(set, "GET") == NULL, "SET has no subcommands");
    CHECK(sub(NULL, "GET") == NULL, "NULL command");
    CHECK(!resp_command_has_subcommands(set) && !resp_command_has_subcommands(NULL), "has_subcommands");
    CHECK(sub(cget, "GET") == NULL, "subcommand of subcommand");

    static const char *const pairs[][2] = {
        { "CLIENT", "LIST" },     { "CLIENT", "NO-EVICT" }, { "client", "kill" },
        { "XINFO", "STREAM" },    { "XINFO", "GROUPS" },    { "XINFO", "CONSUMERS" },
        { "OBJECT", "ENCODING" }, { "OBJECT", "FREQ" },     { "MEMORY", "USAGE" },
        { "COMMAND", "GETKEYS" }, { "ACL", "SETUSER" },     { "XGROUP", "CREATECONSUMER" },
        { "FUNCTION", "LOAD" },   { "SCRIPT", "FLUSH" },    { "CLUSTER", "SLOTS" },
        { "PUBSUB", "SHARDNUMSUB" },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        const resp_command_info_t *c = lk(pairs[i][0]);
        const resp_command_info_t *s = sub(c, pairs[i][1]);
        char up[64];
        size_t j;
        for (j = 0; pairs[i][1][j]; j++)
            up[j] = (char)((pairs[i][1][j] >= 'a' && pairs[i][1][j] <= 'z') ? pairs[i][1][j] - 32
                                                                              : pairs[i][1][j]);
        up[j] = '\0';
        CHECK(s != NULL && strcmp(resp_command_name(s), up) == 0, "%s %s", pairs[i][0], pairs[i][1]);
    }

    /* resolve */
    line_t l;
    split(&l, "config get maxmemory");
    CHECK(resp_command_resolve(l.argc, l.argv, l.len) == cget, "resolve CONFIG GET");
    split(&l, "CONFIG nosuch");
    CHECK(resp_command_resolve(l.argc, l.argv, l.len) == config, "resolve CONFIG nosuch");
    split(&l, "CONFIG");
    CHECK(resp_command_resolve(l.argc, l.argv, l.len) == config, "resolve CONFIG");
    split(&l, "SET GET x");
    CHECK(resp_command_resolve(l.argc, l.argv, l.len) == set, "resolve SET GET");
    split(&l, "NOSUCH x");
    CHECK(resp_command_resolve(l.argc, l.argv, l.len) == NULL, "resolve NOSUCH");
    CHECK(resp_command_resolve(0, NULL, NULL) == NULL, "resolve argc 0");
    CHECK(resp_command_resolve(1, l.argv, NULL) == NULL, "resolve no lengths");
}

static void test_properties(void)
{
    const resp_command_info_t *set = lk("SET"), *get = lk("GET"), *eval = lk("EVAL");
    int f, l, s;

    CHECK(resp_command_arity(set) == -3 && resp_command_arity(get) == 2, "arity");
    CHECK(resp_command_arity(sub(lk("OBJECT"), "ENCODING")) == 3, "OBJECT ENCODING arity");
    CHECK(resp_command_arity(NULL) == 0 && resp_command_flags(NULL) == 0, "NULL properties");
    CHECK(strcmp(resp_command_name(NULL), "") == 0 && strcmp(resp_command_full_name(NULL), "") == 0,
          "NULL names");
    CHECK((resp_command_flags(set) & (RESP_CMD_FLAG_WRITE | RESP_CMD_FLAG_DENYOOM)) ==
              (RESP_CMD_FLAG_WRITE | RESP_CMD_FLAG_DENYOOM), "SET flags");
    CHECK(!(resp_command_flags(set) & RESP_CMD_FLAG_READONLY), "SET not readonly");
    CHECK((resp_command_flags(get) & (RESP_CMD_FLAG_READONLY | RESP_CMD_FLAG_FAST)) ==
              (RESP_CMD_FLAG_READONLY | RESP_CMD_FLAG_FAST), "GET flags");
    CHECK((resp_command_flags(eval) & (RESP_CMD_FLAG_NOSCRIPT | RESP_CMD_FLAG_MOVABLEKEYS |
                                       RESP_CMD_FLAG_NO_MANDATORY_KEYS)) ==
              (RESP_CMD_FLAG_NOSCRIPT | RESP_CMD_FLAG_MOVABLEKEYS | RESP_CMD_FLAG_NO_MANDATORY_KEYS),
          "EVAL flags");
    CHECK(resp_command_flags(lk("SUBSCRIBE")) & RESP_CMD_FLAG_PUBSUB, "SUBSCRIBE pubsub");
    CHECK(resp_command_flags(lk("BLPOP")) & RESP_CMD_FLAG_BLOCKING, "BLPOP blocking");
    CHECK(resp_command_flags(lk("SHUTDOWN")) & RESP_CMD_FLAG_ADMIN, "SHUTDOWN admin");
    CHECK(resp_command_flags(lk("AUTH")) & RESP_CMD_FLAG_NO_AUTH, "AUTH no_auth");
    CHECK(resp_command_flags(lk("RANDOMKEY")) & RESP_CMD_FLAG_NONDETERMINISTIC_OUTPUT, "RANDOMKEY tip");
    CHECK(resp_command_flags(lk("KEYS")) & RESP_CMD_FLAG_NONDETERMINISTIC_OUTPUT_ORDER, "KEYS tip");
    CHECK((resp_command_acl_categories(set) & (RESP_ACL_WRITE | RESP_ACL_STRING | RESP_ACL_SLOW)) ==
              (RESP_ACL_WRITE | RESP_ACL_STRING | RESP_ACL_SLOW), "SET ACL");
    CHECK(resp_command_acl_categories(lk("FLUSHALL")) & RESP_ACL_DANGEROUS, "FLUSHALL ACL");
    resp_command_legacy_key_range(lk("MSET"), &f, &l, &s);
    CHECK(f == 1 && l == -1 && s == 2, "MSET legacy range %d %d %d", f, l, s);
    resp_command_legacy_key_range(NULL, &f, &l, &s);
    CHECK(f == 0 && l == 0 && s == 0, "NULL legacy range");
    resp_command_legacy_key_range(set, NULL, NULL, NULL);
}

/* ---- GETKEYS vectors -------------------------------------------------------------------- */

static void test_vectors(void)
{
    size_t ok[GKV_NUM_SOURCES][4], total[GKV_NUM_SOURCES][4];
    size_t flag_checks = 0, all_ok = 0, all = 0;
    memset(ok, 0, sizeof(ok));
    memset(total, 0, sizeof(total));

    for (size_t v = 0; v < GKV_NUM_VECTORS; v++) {
        const gkv_vector_t *t = &gkv_vectors[v];
        const uint8_t *argv[GKV_MAX_ARGC];
        char label[256] = "";

        for (size_t i = 0; i < t->argc; i++) {
            argv[i] = (const uint8_t *)t->argv[i];
            size_t o = strlen(label);
            snprintf(label + o, sizeof(label) - o, "%s%s", i ? " " : "", t->argv[i]);
        }
        const resp_command_info_t *cmd = resp_command_resolve(t->argc, argv, t->argv_len);
        CHECK(t->sources != 0 && t->sources < (1u << GKV_NUM_SOURCES), "vector %zu sources", v);
        for (size_t si = 0; si < GKV_NUM_SOURCES; si++) {
            if (!(t->sources & (1u << si)))
                continue;
            const gkv_source_t *src = &gkv_sources[si];
            keys_t k, kd, k2;
            int good = 1;

            if (t->status == GKV_ABSENT) {
                /* the server refused a command the table knows: its bit must be clear */
                good = cmd != NULL && !(resp_command_servers(cmd) & src->server);
            } else {
                /* a command the server has carries its bit; an unknown one is refused */
                good = cmd != NULL ? (resp_command_servers(cmd) & src->server) != 0
                                   : t->status == GKV_REDIS_ERROR;
                keys_init(&k, t->argc);
                keys_init(&kd, t->argc);
                keys_init(&k2, t->argc);
                size_t n = resp_command_keys_server(cmd, src->server, t->argc, argv, t->argv_len, 0,
                                                    collect_ex, &k);
                size_t nd = resp_command_keys_ex(cmd, t->argc, argv, t->argv_len, 0, collect_ex, &kd);
                size_t n2 = resp_command_keys(cmd, t->argc, argv, t->argv_len, collect, &k2);
                size_t n3 = resp_command_keys(cmd, t->argc, argv, t->argv_len, NULL, NULL);

                good &= n == k.n && nd == n && n2 == n && n3 == n && k.ascending;
                good &= n == t->n_expect;
                /* the preferred key specs give the same positions as the server's own */
                for (size_t i = 0; good && i < n; i++)
                    good &= k.idx[i] == t->expect[i] && kd.idx[i] == k.idx[i] && k2.idx[i] == k.idx[i];

                if (t->status == GKV_MATCH) {
                    /* expect[] must be the server's own answer, sorted */
                    good &= t->n_redis_keys == t->n_expect;
                    for (size_t i = 0; good && i < t->n_redis_keys; i++) {
                        size_t found = 0;
                        for (size_t j = 0; j < t->n_expect; j++)
                            found += t->expect[j] == t->redis_keys[i].pos;
                        good &= found == 1;
                    }
                    /* and so must the server's key flags, unless they depend on other
                     * arguments (SET ... GET, BITFIELD ... GET: the spec's worst case) */
                    for (size_t i = 0; good && i < t->n_redis_keys; i++) {
                        for (size_t j = 0; j < n; j++) {
                            if (k.idx[j] != t->redis_keys[i].pos ||
                                (k.flags[j] & RESP_KEY_FLAG_VARIABLE_FLAGS))
                                continue;
                            flag_checks++;
                            if (k.flags[j] != t->redis_keys[i].flags) {
                                fprintf(stderr, "  %s: flags of arg %zu: 0x%x, server 0x%x\n",
                                        src->name, k.idx[j], (unsigned)k.flags[j],
                                        (unsigned)t->redis_keys[i].flags);
                                good = 0;
                            }
                        }
                    }
                }
            }
            total[si][t->status]++;
            all++;
            if (good) {
                ok[si][t->status]++;
                all_ok++;
            }
            CHECK(good, "GETKEYS vector %zu of %s \"%s\"%s%s", v, src->name, label,
                  t->note ? "; note: " : "", t->note ? t->note : "");
        }
    }
    printf("GETKEYS vectors: %zu, %zu server answers, %zu as expected; %zu key-flag checks\n",
           (size_t)GKV_NUM_VECTORS, all, all_ok, flag_checks);
    for (size_t si = 0; si < GKV_NUM_SOURCES; si++) {
        size_t o = ok[si][0] + ok[si][1] + ok[si][2] + ok[si][3];
        size_t a = total[si][0] + total[si][1] + total[si][2] + total[si][3];
        printf("  %-22s %zu/%zu (match %zu/%zu, divergent %zu/%zu, refused %zu/%zu, absent %zu/%zu)\n",
               gkv_sources[si].name, o, a, ok[si][GKV_MATCH], total[si][GKV_MATCH],
               ok[si][GKV_DIVERGENT], total[si][GKV_DIVERGENT], ok[si][GKV_REDIS_ERROR],
               total[si][GKV_REDIS_ERROR], ok[si][GKV_ABSENT], total[si][GKV_ABSENT]);
    }
}

/* ---- servers ---------------------------------------------------------------------------- */

static int has(const char *name, uint32_t bits)
{
    return (resp_command_servers(lk(name)) & bits) == bits;
}

static int has_any(const char *name, uint32_t bits)
{
    return (resp_command_servers(lk(name)) & bits) != 0;
}

static void test_servers(void)
{
    const uint32_t r70 = RESP_SERVER_REDIS_7_0, r72 = RESP_SERVER_REDIS_7_2, r74 = RESP_SERVER_REDIS_7_4,
                   r80 = RESP_SERVER_REDIS_8_0, v80 = RESP_SERVER_VALKEY_8_0,
                   v81 = RESP_SERVER_VALKEY_8_1, v91 = RESP_SERVER_VALKEY_9_1;
    const resp_command_info_t *sentinel = lk("SENTINEL"), *cluster = lk("CLUSTER");

    /* hash field expiration: Redis 7.4 on, Valkey 9 */
    static const char *const hfe[] = { "HEXPIRE", "HPEXPIRE", "HEXPIREAT", "HPEXPIREAT", "HTTL",
                                       "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "HPERSIST" };
    for (size_t i = 0; i < sizeof(hfe) / sizeof(hfe[0]); i++) {
        CHECK(lk(hfe[i]) != NULL, "%s known", hfe[i]);
        CHECK(!has_any(hfe[i], r70 | r72 | v80 | v81), "%s not in Redis 7.0/7.2, Valkey 8", hfe[i]);
        CHECK(has(hfe[i], r74 | r80 | v91), "%s in Redis 7.4, 8.0, Valkey 9.1", hfe[i]);
        CHECK(!resp_command_is_sentinel_only(lk(hfe[i])) && !has_any(hfe[i], RESP_SERVERS_SENTINEL),
              "%s not in a Sentinel", hfe[i]);
    }
    CHECK(strcmp(resp_command_servers_text(lk("HEXPIRE")), "Redis 7.4\342\200\2238.0, Valkey 9.1") == 0,
          "HEXPIRE text %s", resp_command_servers_text(lk("HEXPIRE")));
    /* Redis 8.0 (and Valkey 9) only */
    static const char *const r8[] = { "HGETDEL", "HGETEX", "HSETEX" };
    for (size_t i = 0; i < sizeof(r8) / sizeof(r8[0]); i++)
        CHECK(has(r8[i], r80 | v91) && !has_any(r8[i], r70 | r72 | r74 | v80 | v81), "%s", r8[i]);
    /* vector sets: Redis 8.0 only */
    static const char *const vs[] = { "VADD", "VCARD", "VDIM", "VEMB", "VGETATTR", "VINFO",
                                      "VISMEMBER", "VLINKS", "VRANDMEMBER", "VREM", "VSETATTR", "VSIM" };
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
        CHECK(resp_command_servers(lk(vs[i])) == r80, "%s: 0x%x", vs[i],
              (unsigned)resp_command_servers(lk(vs[i])));
    /* WAITAOF: Redis 7.2 on and every Valkey */
    CHECK(has("WAITAOF", r72 | r74 | r80 | v80 | v81 | v91) && !has_any("WAITAOF", r70),
          "WAITAOF 0x%x", (unsigned)resp_command_servers(lk("WAITAOF")));
    CHECK(!has_any("WAITAOF", RESP_SERVERS_SENTINEL), "WAITAOF not in a Sentinel");
    /* old commands everywhere */
    CHECK(has("GET", RESP_SERVERS_SERVER) && !has_any("GET", RESP_SERVERS_SENTINEL), "GET");
    CHECK(resp_command_servers(lk("PING")) == (RESP_SERVERS_SERVER | RESP_SERVERS_SENTINEL), "PING");
    CHECK(has("PUBLISH", RESP_SERVERS_SENTINEL) && has("SUBSCRIBE", RESP_SERVERS_SENTINEL) &&
              has("INFO", RESP_SERVERS_SENTINEL) && has("HELLO", RESP_SERVERS_SENTINEL),
          "what Sentinels send each other");
    CHECK(has("REPLICAOF", RESP_SERVERS_SERVER) && !has_any("REPLICAOF", RESP_SERVERS_SENTINEL) &&
              has("SLAVEOF", RESP_SERVERS_SERVER) && has("CONFIG", RESP_SERVERS_SERVER),
          "what Sentinels send a master");
    /* Valkey only */
    static const char *const vk[] = { "DELIFEQ", "COMMANDLOG", "MSETEX", "CLUSTERSCAN" };
    for (size_t i = 0; i < sizeof(vk) / sizeof(vk[0]); i++)
        CHECK(lk(vk[i]) != NULL && !has_any(vk[i], RESP_SERVERS_REDIS | RESP_SERVERS_SENTINEL) &&
                  has(vk[i], v91), "%s Valkey only", vk[i]);
    CHECK(has("COMMANDLOG", v81 | v91) && !has_any("COMMANDLOG", v80), "COMMANDLOG 8.1+");
    const resp_command_info_t *ss = sub(cluster, "SLOT-STATS");
    CHECK(ss != NULL && (resp_command_servers(ss) & RESP_SERVERS_REDIS) == 0 &&
              (resp_command_servers(ss) & (v80 | v81 | v91)) == (v80 | v81 | v91), "CLUSTER SLOT-STATS");
    CHECK((resp_command_servers(cluster) & RESP_SERVERS_SERVER) == RESP_SERVERS_SERVER, "CLUSTER");
    CHECK((resp_command_servers(sub(lk("CLIENT"), "SETINFO")) & (r70 | r72)) == r72, "CLIENT SETINFO 7.2");
    CHECK(strcmp(resp_command_servers_text(lk("DELIFEQ")), "Valkey 9.1") == 0, "DELIFEQ text");
    /* Sentinel */
    CHECK(sentinel != NULL && resp_command_is_sentinel_only(sentinel), "SENTINEL sentinel-only");
    CHECK(resp_command_servers(sentinel) == RESP_SERVERS_SENTINEL, "SENTINEL in every Sentinel");
    CHECK(strcmp(resp_command_servers_text(sentinel),
                 "Sentinel (Redis 7.0\342\200\2238.0, Valkey 8.0\342\200\2239.1)") == 0,
          "SENTINEL text %s", resp_command_servers_text(sentinel));
    static const char *const subs[] = { "MASTERS", "MASTER", "REPLICAS", "SLAVES", "SENTINELS",
                                        "GET-MASTER-ADDR-BY-NAME", "IS-MASTER-DOWN-BY-ADDR", "MONITOR",
                                        "REMOVE", "SET", "FAILOVER", "CKQUORUM", "FLUSHCONFIG",
                                        "RESET", "CONFIG", "INFO-CACHE", "PENDING-SCRIPTS",
                                        "SIMULATE-FAILURE", "MYID", "DEBUG", "HELP" };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        const resp_command_info_t *s = sub(sentinel, subs[i]);
        CHECK(s != NULL && resp_command_is_sentinel_only(s) &&
                  resp_command_servers(s) == RESP_SERVERS_SENTINEL, "SENTINEL %s", subs[i]);
    }
    static const char *const vsubs[] = { "PRIMARIES", "PRIMARY", "GET-PRIMARY-ADDR-BY-NAME",
                                         "IS-PRIMARY-DOWN-BY-ADDR" };
    for (size_t i = 0; i < sizeof(vsubs) / sizeof(vsubs[0]); i++) {
        const resp_command_info_t *s = sub(sentinel, vsubs[i]);
        uint32_t m = resp_command_servers(s);
        CHECK(s != NULL && resp_command_is_sentinel_only(s) && (m & RESP_SERVERS_REDIS << 8) == 0 &&
                  (m & RESP_SERVERS_VALKEY << 8) == (RESP_SERVERS_VALKEY << 8),
              "SENTINEL %s Valkey Sentinels only", vsubs[i]);
    }
    for (size_t i = 0; i < resp_command_count(); i++) {
        const resp_command_info_t *c = resp_command_at(i);
        if (c != sentinel)
            CHECK(!resp_command_is_sentinel_only(c), "%s sentinel-only", resp_command_name(c));
    }
    CHECK(!resp_command_is_sentinel_only(lk("PING")) && !resp_command_is_sentinel_only(NULL),
          "PING / NULL not sentinel-only");
    /* unknown to all of them */
    CHECK(lk("NOSUCHCOMMAND") == NULL && lk("HEXPIREX") == NULL && lk("JSON.SET") == NULL, "invented names");
    CHECK(resp_command_servers(NULL) == 0 && strcmp(resp_command_servers_text(NULL), "") == 0, "NULL servers");
    CHECK(sub(sentinel, "NOSUCH") == NULL, "SENTINEL NOSUCH");
    /* server names */
    CHECK(strcmp(resp_server_name(r74), "Redis 7.4") == 0 &&
              strcmp(resp_server_name(RESP_SERVER_SENTINEL_VALKEY_9_1), "Sentinel of Valkey 9.1") == 0 &&
              strcmp(resp_server_name(0), "") == 0 && strcmp(resp_server_name(r70 | r72), "") == 0 &&
              strcmp(resp_server_name(0x80), "") == 0 && strcmp(resp_server_name(0x10000), "") == 0,
          "resp_server_name");

    /* key-spec variants: same positions, the release's own flags */
    keys_t k;
    line_t l;
    split(&l, "SINTERSTORE d a b");
    const resp_command_info_t *si = lk("SINTERSTORE");
    keys_init(&k, l.argc);
    resp_command_keys_server(si, r70, l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 3 && k.idx[0] == 1 && k.flags[0] == (RESP_KEY_FLAG_RW | RESP_KEY_FLAG_UPDATE),
          "SINTERSTORE on 7.0: RW");
    keys_init(&k, l.argc);
    resp_command_keys_server(si, r80, l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 3 && k.flags[0] == (RESP_KEY_FLAG_OW | RESP_KEY_FLAG_UPDATE), "SINTERSTORE on 8.0: OW");
    keys_init(&k, l.argc);
    resp_command_keys_ex(si, l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 3 && k.flags[0] == (RESP_KEY_FLAG_OW | RESP_KEY_FLAG_UPDATE), "SINTERSTORE preferred: OW");
    keys_init(&k, l.argc);
    resp_command_keys_server(si, r70 | r80, l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 3 && k.flags[0] == (RESP_KEY_FLAG_OW | RESP_KEY_FLAG_UPDATE), "two bits: preferred");
    keys_init(&k, l.argc);
    resp_command_keys_server(si, r72, l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 3 && k.flags[0] == (RESP_KEY_FLAG_OW | RESP_KEY_FLAG_UPDATE), "7.2 has no own specs");
    split(&l, "HSETEX h FIELDS 1 f v");
    keys_init(&k, l.argc);
    resp_command_keys_server(lk("HSETEX"), v91, l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 1 && k.idx[0] == 1 && k.flags[0] == (RESP_KEY_FLAG_RW | RESP_KEY_FLAG_INSERT),
          "HSETEX on Valkey 9.1: insert");
    keys_init(&k, l.argc);
    resp_command_keys_ex(lk("HSETEX"), l.argc, l.argv, l.len, 0, collect_ex, &k);
    CHECK(k.n == 1 && k.flags[0] == (RESP_KEY_FLAG_RW | RESP_KEY_FLAG_UPDATE), "HSETEX preferred: update");
    CHECK(resp_command_keys_server(NULL, r80, l.argc, l.argv, l.len, 0, NULL, NULL) == 0, "NULL cmd");
    CHECK(resp_command_keys_server(lk("HSETEX"), v91, 0, NULL, NULL, 0, NULL, NULL) == 0, "argc 0");
}

/* ---- key extraction: targeted and hostile cases ----------------------------------------- */

static void test_keys(void)
{
    keys_t k;

    CHECK_KEYS("SET k v", "1");
    CHECK_KEYS("MSET a 1 b 2 c 3", "1,3,5");
    CHECK_KEYS("ZUNIONSTORE d 2 a b WEIGHTS 1 2", "1,3,4");
    CHECK_KEYS("GEORADIUS g 15 37 200 km STOREDIST dd STORE ds", "1,7,9");   /* Redis: 1,9,7 */
    CHECK_KEYS("XREAD COUNT 2 STREAMS a b 0 0", "4,5");
    CHECK_KEYS("SORT src BY w GET o STORE dst", "1,7");
    CHECK_KEYS("MIGRATE h 1 '' 0 10 KEYS a b", "7,8");
    CHECK_KEYS("OBJECT ENCODING k", "2");
    CHECK_KEYS("CONFIG GET maxmemory", "");

    /* argc 0 / 1, missing arrays, NULL command */
    const uint8_t *one[1] = { (const uint8_t *)"SET" };
    size_t onelen[1] = { 3 };
    CHECK(resp_command_keys(lk("SET"), 0, NULL, NULL, collect, &k) == 0, "argc 0");
    CHECK(resp_command_keys(lk("SET"), 1, one, onelen, NULL, NULL) == 0, "argc 1");
    CHECK(resp_command_keys(lk("SET"), 3, NULL, onelen, NULL, NULL) == 0, "argv NULL");
    CHECK(resp_command_keys(lk("SET"), 3, one, NULL, NULL, NULL) == 0, "argv_len NULL");
    CHECK(resp_command_keys(NULL, 1, one, onelen, NULL, NULL) == 0, "cmd NULL");
    static const char *const singles[] = { "SET",  "GET",     "DEL",  "MSET",  "EVAL", "ZUNIONSTORE",
                                           "XREAD", "XREADGROUP", "SORT", "SORT_RO", "MIGRATE",
                                           "GEORADIUS", "LMPOP", "BLPOP", "BITOP", "LCS" };
    for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
        const uint8_t *av[1] = { (const uint8_t *)singles[i] };
        size_t al[1] = { strlen(singles[i]) };
        CHECK(resp_command_keys(lk(singles[i]), 1, av, al, NULL, NULL) == 0, "%s alone", singles[i]);
        CHECK(resp_command_keys(lk(singles[i]), 0, av, al, NULL, NULL) == 0, "%s argc 0", singles[i]);
    }
    CHECK_KEYS("OBJECT ENCODING", "");
    CHECK_KEYS("LCS a", "");
    CHECK_KEYS("BLPOP k", "");

    /* numkeys: absurd, negative, non-numeric, overflowing, non-canonical */
    static const char *const bad_numkeys[] = {
        "999999999", "-1", "abc", "", "-0", "01", "+1", "0x1", "1e3", "1.0", "2abc",
        "4294967297", "2147483648", "9223372036854775807", "9223372036854775808",
        "18446744073709551617", "99999999999999999999999999", "5", "0",
    };
    for (size_t i = 0; i < sizeof(bad_numkeys) / sizeof(bad_numkeys[0]); i++) {
        char line[256];
        const char *nk = bad_numkeys[i][0] ? bad_numkeys[i] : "''";
        snprintf(line, sizeof(line), "EVAL s %s k1 k2", nk);
        CHECK_KEYS(line, "");
        snprintf(line, sizeof(line), "ZUNIONSTORE dst %s z1 z2", nk);
        CHECK_KEYS(line, "1");
        snprintf(line, sizeof(line), "ZDIFFSTORE dst %s z1", nk);
        CHECK_KEYS(line, "1");
        snprintf(line, sizeof(line), "LMPOP %s l1 l2 LEFT", nk);
        CHECK_KEYS(line, "");
        snprintf(line, sizeof(line), "BZMPOP 0 %s z1 MIN", nk);
        CHECK_KEYS(line, "");
        snprintf(line, sizeof(line), "ZINTERCARD %s z1", nk);
        CHECK_KEYS(line, "");
    }
    CHECK_KEYS("EVAL s \\0 k1", "");          /* NULL numkeys argument */
    CHECK_KEYS("ZUNIONSTORE \\0 \\0 \\0", "1"); /* NULL (empty) arguments are still positions */
    CHECK_KEYS("EVAL s 2 k1 k2", "3,4");
    CHECK_KEYS("EVAL s 2 k1", "");
    CHECK_KEYS("EVAL s", "");
    CHECK_KEYS("EVAL s 1", "");
    CHECK_KEYS("FCALL f 3 a b c", "3,4,5");

    /* keyword never found / at the very end / found in a strange place */
    CHECK_KEYS("XREAD COUNT 1 BLOCK 0 s1 0", "");
    CHECK_KEYS("XREAD COUNT 1 STREAMS", "");
    CHECK_KEYS("XREAD STREAMS s1", "");
    CHECK_KEYS("XREAD STREAMS s1 s2 0", "2");
    CHECK_KEYS("xread streams a b c d e f", "2,3,4");
    CHECK_KEYS("XREADGROUP GROUP g c STREAMS s1", "");
    CHECK_KEYS("XREADGROUP GROUP STREAMS c STREAMS s1 0", "5");   /* search starts at 4 */
    CHECK_KEYS("GEORADIUS g 1 2 3 km", "1");
    CHECK_KEYS("GEORADIUS g 1 2 3 km STORE", "1");
    CHECK_KEYS("GEORADIUS g 1 2 3 km STOREX d", "1");
    CHECK_KEYS("GEORADIUS g 1 2 3 STORE d", "1");                 /* search starts at 6 */
    CHECK_KEYS("SORT src STORE", "1");
    CHECK_KEYS("SORT src LIMIT 0 STORE dst", "1");
    CHECK_KEYS("SORT src LIMIT", "1");
    CHECK_KEYS("SORT src GET", "1");
    CHECK_KEYS("SORT src STORE a STORE b STORE", "1,5");
    CHECK_KEYS("SORT_RO src STORE dst", "1");
    CHECK_KEYS("MIGRATE h 1 key 0 10 KEYS a", "");
    CHECK_KEYS("MIGRATE h 1 \\0 0 10 KEYS a", "7");
    CHECK_KEYS("MIGRATE h 1 '' 0 10 AUTH2 x", "3");
    CHECK_KEYS("MIGRATE h 1 '' 0 10 AUTH", "3");
    CHECK_KEYS("MIGRATE h 1 '' 0 10 KEYS", "3");
    CHECK_KEYS("MIGRATE h 1 key", "3");
    CHECK_KEYS("MIGRATE h 1", "");
    CHECK_KEYS("GET k extra args", "1");
    CHECK_KEYS("MSET a", "1");
    CHECK_KEYS("BITOP AND dst", "2");
    CHECK_KEYS("PFMERGE dst", "1");

    /* key flags and the not_key option */
    keys_of_opts("RENAME a b", 0, &k);
    CHECK(k.n == 2 && k.flags[0] == (RESP_KEY_FLAG_RW | RESP_KEY_FLAG_ACCESS | RESP_KEY_FLAG_DELETE) &&
              k.flags[1] == (RESP_KEY_FLAG_OW | RESP_KEY_FLAG_UPDATE), "RENAME flags");
    keys_of_opts("SET k v", 0, &k);
    CHECK(k.n == 1 && (k.flags[0] & RESP_KEY_FLAG_VARIABLE_FLAGS), "SET variable flags");
    keys_of_opts("SORT s STORE d", 0, &k);
    CHECK(k.n == 2 && k.flags[0] == (RESP_KEY_FLAG_RO | RESP_KEY_FLAG_ACCESS) &&
              k.flags[1] == (RESP_KEY_FLAG_OW | RESP_KEY_FLAG_UPDATE), "SORT STORE flags");
    keys_of_opts("MIGRATE h 1 '' 0 10 KEYS a b", 0, &k);
    CHECK(k.n == 2 && k.flags[1] == (RESP_KEY_FLAG_RW | RESP_KEY_FLAG_ACCESS | RESP_KEY_FLAG_DELETE),
          "MIGRATE KEYS flags (no incomplete)");
    CHECK_KEYS("SPUBLISH ch msg", "");
    CHECK_KEYS("SSUBSCRIBE a b c", "");
    CHECK(strcmp(keys_of_opts("SPUBLISH ch msg", RESP_KEYS_OPT_INCLUDE_NOT_KEYS, &k), "1") == 0 &&
              k.flags[0] == RESP_KEY_FLAG_NOT_KEY, "SPUBLISH not_key");
    CHECK(strcmp(keys_of_opts("SSUBSCRIBE a b c", RESP_KEYS_OPT_INCLUDE_NOT_KEYS, NULL), "1,2,3") == 0,
          "SSUBSCRIBE not_key");
    CHECK(strcmp(keys_of_opts("SUNSUBSCRIBE", RESP_KEYS_OPT_INCLUDE_NOT_KEYS, NULL), "") == 0,
          "SUNSUBSCRIBE alone");

    /* a container command itself has no key positions */
    CHECK(strcmp(keys_of_opts("OBJECT NOSUCH k", 0, NULL), "") == 0, "OBJECT NOSUCH");
}

/* Huge argument vectors: linear time, nothing out of range. */
static void test_huge(void)
{
    const size_t N = 1000001;
    const uint8_t **argv = malloc(N * sizeof(*argv));
    size_t *len = malloc(N * sizeof(*len));
    keys_t k;
    if (argv == NULL || len == NULL) {
        CHECK(0, "out of memory");
        free(argv);
        free(len);
        return;
    }
#define FILL(word)                                   \
    for (size_t i_ = 0; i_ < N; i_++) {              \
        argv[i_] = (const uint8_t *)(word);          \
        len[i_] = strlen(word);                      \
    }
#define SET(i, word) (argv[(i)] = (const uint8_t *)(word), len[(i)] = strlen(word))
#define RUN(name)                                                           \
    (keys_init(&k, N), resp_command_keys_ex(lk(name), N, argv, len, 0, collect_ex, &k))

    FILL("k");
    SET(0, "MSET");
    CHECK(RUN("MSET") == N / 2 && k.ascending && k.prev == N - 2, "MSET huge: %zu", k.n);
    SET(0, "DEL");
    CHECK(RUN("DEL") == N - 1 && k.ascending && k.prev == N - 1, "DEL huge: %zu", k.n);
    SET(0, "EVAL");
    SET(2, "999999999");
    CHECK(RUN("EVAL") == 0, "EVAL huge absurd numkeys: %zu", k.n);
    SET(2, "500000");
    CHECK(RUN("EVAL") == 500000 && k.ascending && k.idx[0] == 3 && k.prev == 500002, "EVAL huge");
    SET(2, "999998");
    CHECK(RUN("EVAL") == 999998 && k.ascending && k.prev == N - 1, "EVAL huge exact");
    SET(2, "999999");
    CHECK(RUN("EVAL") == 0, "EVAL huge one too many");
    SET(0, "ZUNIONSTORE");
    CHECK(RUN("ZUNIONSTORE") == 1 && k.idx[0] == 1, "ZUNIONSTORE huge absurd numkeys");
    SET(0, "XREAD");
    SET(1, "STREAMS");
    CHECK(RUN("XREAD") == (N - 2) / 2 && k.ascending && k.idx[0] == 2, "XREAD huge");
    FILL("COUNT");
    SET(0, "XREAD");
    CHECK(RUN("XREAD") == 0, "XREAD huge, no STREAMS");
    FILL("GET");
    SET(0, "SORT");
    SET(N - 2, "STORE");
    CHECK(RUN("SORT") == 1 && k.idx[0] == 1, "SORT huge GET GET ... STORE GET");
    FILL("STORE");
    SET(0, "SORT");
    CHECK(RUN("SORT") == 2 && k.idx[1] == N - 1, "SORT huge STORE STORE ...");
    FILL("AUTH2");
    SET(0, "MIGRATE");
    SET(3, "");
    CHECK(RUN("MIGRATE") == 1 && k.idx[0] == 3, "MIGRATE huge AUTH2 ...");
    FILL("KEYS");
    SET(0, "MIGRATE");
    SET(3, "");
    CHECK(RUN("MIGRATE") == N - 7 && k.idx[0] == 7 && k.ascending, "MIGRATE huge KEYS ...");
    FILL("STORE");
    SET(0, "GEORADIUS");
    CHECK(RUN("GEORADIUS") == 2 && k.idx[0] == 1 && k.idx[1] == 7, "GEORADIUS huge");

#undef FILL
#undef SET
#undef RUN
    free(argv);
    free(len);
}

int main(void)
{
    test_table();
    test_lookup();
    test_subcommands();
    test_properties();
    test_vectors();
    test_servers();
    test_keys();
    test_huge();
    return unit_summary();
}
