/* resp_commands.c — Redis command table lookups and key-position extraction.
 *
 * The table itself is generated (resp_command_table.h, see tools/gen-command-table.py) from
 * dumps of real Redis, Valkey and Sentinel servers; every command and subcommand carries the
 * RESP_SERVER_* bits of the releases that have it.  Key positions are derived from the key
 * specifications (Redis 7+, Valkey):
 *
 *   begin_search  index   : the run starts at a fixed argument index
 *                 keyword : the run starts right after the first argument (searching from
 *                           "startfrom", backwards from the end if negative) that equals a
 *                           keyword, case-insensitively
 *   find_keys     range   : lastkey >= 0: the last key is lastkey arguments after the first;
 *                           lastkey < 0 : counted from the end of argv, or, with limit > 0,
 *                           from the end of the first 1/limit of the remaining arguments
 *                           (XREAD ... STREAMS k1 k2 id1 id2)
 *                 keynum  : the argument at keynumidx (relative to the start) holds the number
 *                           of keys, the first of which is firstkey arguments after the start
 *   keystep: distance between consecutive keys (MSET k v k v: 2).
 *
 * Each key spec is evaluated independently and only yields keys when it fits the command
 * line completely; the union of the runs is reported in ascending order.  For well-formed
 * command lines this is exactly what COMMAND GETKEYS returns (modulo its order, which
 * follows the key specs: GEORADIUS ... STOREDIST a STORE b).  Where GETKEYS rejects the whole
 * line because one spec does not fit (ZUNIONSTORE dst 999 z1), the specs that do fit still
 * report their keys (dst), which is what Redis itself does when asked for partial results.
 *
 * Not emulated (all are GETKEYS artefacts; the command itself rejects such lines):
 *   - numkeys that is not a canonical decimal ("01", "+1", " 1", "1abc"): when the spec does
 *     not fit, GETKEYS falls back to older per-command routines that parse with atoi().
 *   - numkeys >= 2^31: GETKEYS truncates it to int ("4294967297" counts as 1).
 *
 * Key specs that Redis itself cannot evaluate (type "unknown" or flag "incomplete") are
 * marked by the generator with a handler; GETKEYS uses a command-specific routine for them
 * and so do we (see the RESP_KS_HANDLER_* functions below): SORT's STORE destination and
 * MIGRATE's KEYS form.  SORT/SORT_RO BY and GET patterns are never reported as keys, by
 * Redis or by us.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "resp_commands.h"

#include <limits.h>

/* ---- Table types (used by the generated resp_command_table.h) --------------------------- */

enum { RESP_KS_BS_UNKNOWN = 0, RESP_KS_BS_INDEX, RESP_KS_BS_KEYWORD };
enum { RESP_KS_FK_UNKNOWN = 0, RESP_KS_FK_RANGE, RESP_KS_FK_KEYNUM };
enum {
    RESP_KS_HANDLER_GENERIC = 0,    /* evaluate begin_search / find_keys */
    RESP_KS_HANDLER_NONE,           /* never yields reported keys (SORT BY/GET patterns) */
    RESP_KS_HANDLER_SORT_STORE,     /* SORT ... STORE dst */
    RESP_KS_HANDLER_MIGRATE_SINGLE, /* MIGRATE host port key ... (unless KEYS form) */
    RESP_KS_HANDLER_MIGRATE_KEYS    /* MIGRATE host port "" ... KEYS k1 k2 ... */
};

typedef struct resp_key_spec {
    uint32_t flags;          /* RESP_KEY_FLAG_* */
    uint8_t bs_type;         /* RESP_KS_BS_* */
    uint8_t fk_type;         /* RESP_KS_FK_* */
    uint8_t handler;         /* RESP_KS_HANDLER_* */
    int32_t bs_index;        /* BS_INDEX */
    int32_t bs_startfrom;    /* BS_KEYWORD: > 0 search forward, < 0 backward from argc+startfrom */
    const char *keyword;     /* BS_KEYWORD, upper case */
    uint32_t keyword_len;
    int32_t fk_lastkey;      /* FK_RANGE */
    int32_t fk_limit;        /* FK_RANGE */
    int32_t fk_keynumidx;    /* FK_KEYNUM */
    int32_t fk_firstkey;     /* FK_KEYNUM */
    int32_t fk_keystep;      /* both, >= 1 */
    uint32_t servers;        /* RESP_SERVER_* bits whose release has this spec */
} resp_key_spec_t;

struct resp_command_info {
    const char *name;        /* own name, upper case ("GET" for CONFIG|GET) */
    const char *full_name;   /* "CONFIG|GET" */
    uint8_t name_len;
    int32_t arity;
    int32_t first_key, last_key, key_step;
    uint32_t flags;          /* RESP_CMD_FLAG_* */
    uint32_t acl;            /* RESP_ACL_* */
    uint16_t spec_first, spec_count;  /* run in resp_key_specs[]: the preferred server's */
    uint16_t spec_total;     /* spec_count plus the variants of other releases after them */
    uint16_t sub_first, sub_count;    /* run in resp_subcommands[] */
    uint16_t parent;         /* index in resp_commands[], or RESP_NO_PARENT */
    uint32_t servers;        /* RESP_SERVER_* */
    const char *servers_text;
};

/* The en dash of the generated servers texts ("Redis 7.0–8.0"), as UTF-8. */
#define RESP_DASH "\342\200\223"

#define RESP_NO_PARENT 0xFFFFu

#include "resp_command_table.h"

_Static_assert(RESP_TABLE_NUM_COMMANDS < RESP_NO_PARENT, "command index must fit parent field");
_Static_assert(RESP_TABLE_NUM_SUBCOMMANDS < 0xFFFF, "subcommand index must fit");
_Static_assert(RESP_TABLE_NUM_KEY_SPECS < 0xFFFF, "key spec index must fit");
_Static_assert(RESP_TABLE_MAX_KEY_SPECS >= 1, "at least one command has key specs");
_Static_assert(RESP_TABLE_NUM_KEY_SPECS <= 0xFFFF, "key spec runs must fit spec_total");

/* ---- Name lookup ------------------------------------------------------------------------ */

static unsigned ascii_upper(unsigned c)
{
    return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

/* Compare the upper-cased input with an (upper-case) table name in byte order. */
static int name_cmp(const uint8_t *in, size_t len, const char *name, size_t name_len)
{
    size_t n = len < name_len ? len : name_len;
    for (size_t i = 0; i < n; i++) {
        unsigned a = ascii_upper(in[i]);
        unsigned b = (unsigned char)name[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (len == name_len)
        return 0;
    return len < name_len ? -1 : 1;
}

static const resp_command_info_t *find_name(const resp_command_info_t *base, size_t n,
                                            const uint8_t *name, size_t len, size_t max_len)
{
    if (name == NULL || len == 0 || len > max_len)
        return NULL;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, base[mid].name, base[mid].name_len);
        if (c == 0)
            return &base[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const resp_command_info_t *resp_command_lookup(const uint8_t *name, size_t len)
{
    return find_name(resp_commands, RESP_TABLE_NUM_COMMANDS, name, len, RESP_TABLE_MAX_NAME_LEN);
}

const resp_command_info_t *resp_subcommand_lookup(const resp_command_info_t *cmd,
                                                  const uint8_t *name, size_t len)
{
    if (cmd == NULL || cmd->parent != RESP_NO_PARENT || cmd->sub_count == 0)
        return NULL;
    return find_name(&resp_subcommands[cmd->sub_first], cmd->sub_count, name, len,
                     RESP_TABLE_MAX_SUBNAME_LEN);
}

int resp_command_has_subcommands(const resp_command_info_t *cmd)
{
    return cmd != NULL && cmd->parent == RESP_NO_PARENT && cmd->sub_count > 0;
}

const resp_command_info_t *resp_command_resolve(size_t argc, const uint8_t *const *argv,
                                                const size_t *argv_len)
{
    if (argc == 0 || argv == NULL || argv_len == NULL)
        return NULL;
    const resp_command_info_t *cmd = resp_command_lookup(argv[0], argv_len[0]);
    if (cmd != NULL && argc >= 2 && resp_command_has_subcommands(cmd)) {
        const resp_command_info_t *sub = resp_subcommand_lookup(cmd, argv[1], argv_len[1]);
        if (sub != NULL)
            return sub;
    }
    return cmd;
}

/* ---- Properties ------------------------------------------------------------------------- */

const char *resp_command_name(const resp_command_info_t *cmd)
{
    return cmd != NULL ? cmd->name : "";
}

const char *resp_command_full_name(const resp_command_info_t *cmd)
{
    return cmd != NULL ? cmd->full_name : "";
}

const resp_command_info_t *resp_command_parent(const resp_command_info_t *cmd)
{
    if (cmd == NULL || cmd->parent == RESP_NO_PARENT)
        return NULL;
    return &resp_commands[cmd->parent];
}

int resp_command_arity(const resp_command_info_t *cmd)
{
    return cmd != NULL ? (int)cmd->arity : 0;
}

uint32_t resp_command_flags(const resp_command_info_t *cmd)
{
    return cmd != NULL ? cmd->flags : 0;
}

uint32_t resp_command_acl_categories(const resp_command_info_t *cmd)
{
    return cmd != NULL ? cmd->acl : 0;
}

void resp_command_legacy_key_range(const resp_command_info_t *cmd, int *first, int *last, int *step)
{
    if (first != NULL)
        *first = cmd != NULL ? (int)cmd->first_key : 0;
    if (last != NULL)
        *last = cmd != NULL ? (int)cmd->last_key : 0;
    if (step != NULL)
        *step = cmd != NULL ? (int)cmd->key_step : 0;
}

size_t resp_command_count(void)
{
    return RESP_TABLE_NUM_COMMANDS;
}

const resp_command_info_t *resp_command_at(size_t i)
{
    return i < RESP_TABLE_NUM_COMMANDS ? &resp_commands[i] : NULL;
}

size_t resp_subcommand_count(const resp_command_info_t *cmd)
{
    return resp_command_has_subcommands(cmd) ? cmd->sub_count : 0;
}

const resp_command_info_t *resp_subcommand_at(const resp_command_info_t *cmd, size_t i)
{
    if (i >= resp_subcommand_count(cmd))
        return NULL;
    return &resp_subcommands[cmd->sub_first + i];
}

const char *resp_commands_redis_version(void)
{
    return RESP_TABLE_SOURCES;
}

uint32_t resp_command_servers(const resp_command_info_t *cmd)
{
    return cmd != NULL ? cmd->servers : 0;
}

const char *resp_command_servers_text(const resp_command_info_t *cmd)
{
    return cmd != NULL ? cmd->servers_text : "";
}

int resp_command_is_sentinel_only(const resp_command_info_t *cmd)
{
    return cmd != NULL && (cmd->servers & RESP_SERVERS_SERVER) == 0 &&
           (cmd->servers & RESP_SERVERS_SENTINEL) != 0;
}

const char *resp_server_name(uint32_t server)
{
    static const char *const names[16] = {
        "Redis 7.0", "Redis 7.2", "Redis 7.4", "Redis 8.0",
        "Valkey 8.0", "Valkey 8.1", "Valkey 9.1", NULL,
        "Sentinel of Redis 7.0", "Sentinel of Redis 7.2", "Sentinel of Redis 7.4",
        "Sentinel of Redis 8.0", "Sentinel of Valkey 8.0", "Sentinel of Valkey 8.1",
        "Sentinel of Valkey 9.1", NULL,
    };
    for (unsigned i = 0; i < 16; i++) {
        if (server == (1u << i))
            return names[i] != NULL ? names[i] : "";
    }
    return "";
}

/* ---- Key extraction --------------------------------------------------------------------- */

/* One run of keys: first, first+step, ... <= last (all < argc). */
typedef struct {
    size_t next;
    size_t last;
    size_t step;
    uint32_t flags;
} key_run_t;

typedef struct {
    size_t argc;
    const uint8_t *const *argv;
    const size_t *len;
} args_t;

/* Does argument i equal the upper-case word w (length wlen), ignoring ASCII case? */
static int arg_is(const args_t *a, size_t i, const char *w, size_t wlen)
{
    if (a->len[i] != wlen)
        return 0;
    const uint8_t *p = a->argv[i];
    if (p == NULL)
        return wlen == 0;
    for (size_t j = 0; j < wlen; j++) {
        if (ascii_upper(p[j]) != (unsigned char)w[j])
            return 0;
    }
    return 1;
}

#define ARG_IS(a, i, lit) arg_is((a), (i), (lit), sizeof(lit) - 1)

/* numkeys: a canonical non-negative decimal that fits in a long long (Redis' own integer
 * syntax: no sign, no leading zeros, no spaces).  Negative values are invalid as a count
 * anyway, so they are rejected here too. */
static int parse_count(const uint8_t *p, size_t len, unsigned long long *out)
{
    if (p == NULL || len == 0 || len > 19)
        return 0;
    if (p[0] == '0') {
        if (len != 1)
            return 0;
        *out = 0;
        return 1;
    }
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > ((unsigned long long)LLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* Set *r to first..last (inclusive, step) if that is a non-empty run inside argv. */
static int make_run(key_run_t *r, const args_t *a, size_t first, size_t last, size_t step, uint32_t flags)
{
    if (first > last || last >= a->argc || step == 0)
        return 0;
    r->next = first;
    r->last = last;
    r->step = step;
    r->flags = flags;
    return 1;
}

static int find_keyword(const resp_key_spec_t *s, const args_t *a, size_t *start)
{
    size_t argc = a->argc;
    if (s->keyword == NULL || s->bs_startfrom == 0)
        return 0;
    if (s->bs_startfrom > 0) {
        /* Forward from startfrom.  A keyword in the last argument has nothing after it, so
         * it is not looked at (Redis does the same). */
        for (size_t i = (size_t)s->bs_startfrom; i + 1 < argc; i++) {
            if (arg_is(a, i, s->keyword, s->keyword_len)) {
                *start = i + 1;
                return 1;
            }
        }
    } else {
        size_t back = (size_t)(-(long long)s->bs_startfrom);
        if (back > argc)
            return 0;
        /* Backward from argc+startfrom down to argument 1. */
        for (size_t i = argc - back; i >= 1 && i < argc; i--) {
            if (arg_is(a, i, s->keyword, s->keyword_len)) {
                *start = i + 1;
                return 1;
            }
        }
    }
    return 0;
}

static int resolve_generic(const resp_key_spec_t *s, const args_t *a, key_run_t *r)
{
    size_t argc = a->argc;
    size_t first;
    size_t last;
    size_t step = s->fk_keystep > 0 ? (size_t)s->fk_keystep : 1;

    switch (s->bs_type) {
    case RESP_KS_BS_INDEX:
        if (s->bs_index < 1)
            return 0;
        first = (size_t)s->bs_index;
        break;
    case RESP_KS_BS_KEYWORD:
        if (!find_keyword(s, a, &first))
            return 0;
        break;
    default:
        return 0;
    }
    if (first >= argc)
        return 0;

    switch (s->fk_type) {
    case RESP_KS_FK_RANGE:
        if (s->fk_lastkey >= 0) {
            if ((size_t)s->fk_lastkey >= argc - first)
                return 0;
            last = first + (size_t)s->fk_lastkey;
        } else {
            size_t back = (size_t)(-(long long)s->fk_lastkey);
            if (s->fk_limit <= 0) {
                /* counted from the end: -1 is the last argument */
                if (back > argc)
                    return 0;
                last = argc - back;
            } else {
                /* keys are the first 1/limit of the remaining arguments */
                size_t span = (argc - first) / (size_t)s->fk_limit;
                if (span < back)
                    return 0;
                last = first + span - back;
            }
        }
        break;
    case RESP_KS_FK_KEYNUM: {
        unsigned long long n;
        size_t avail = argc - first;   /* arguments from first on, >= 1 */
        if (s->fk_keynumidx < 0 || (size_t)s->fk_keynumidx >= avail)
            return 0;
        size_t ni = first + (size_t)s->fk_keynumidx;
        if (!parse_count(a->argv[ni], a->len[ni], &n) || n == 0)
            return 0;
        if (s->fk_firstkey < 0 || (size_t)s->fk_firstkey >= avail)
            return 0;
        first += (size_t)s->fk_firstkey;
        /* n keys, step apart: first + (n-1)*step must be < argc. */
        if (n - 1 > (unsigned long long)((argc - 1 - first) / step))
            return 0;
        last = first + (size_t)(n - 1) * step;
        break;
    }
    default:
        return 0;
    }
    return make_run(r, a, first, last, step, s->flags);
}

/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
 *      [STORE destination]
 * The destination is the argument after the last STORE that has one; the arguments of
 * LIMIT (2), GET (1) and BY (1) are skipped while looking, so "GET STORE" is a pattern. */
static int resolve_sort_store(const resp_key_spec_t *s, const args_t *a, key_run_t *r)
{
    size_t dst = 0;
    for (size_t i = 2; i < a->argc; i++) {
        size_t skip = 0;
        if (ARG_IS(a, i, "LIMIT"))
            skip = 2;
        else if (ARG_IS(a, i, "GET") || ARG_IS(a, i, "BY"))
            skip = 1;
        else if (ARG_IS(a, i, "STORE") && i + 1 < a->argc)
            dst = i + 1;   /* not skipped: "STORE STORE x" stores into x */
        if (skip >= a->argc - i)
            break;
        i += skip;
    }
    if (dst == 0)
        return 0;
    return make_run(r, a, dst, dst, 1, s->flags & ~RESP_KEY_FLAG_INCOMPLETE);
}

/* MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
 *         AUTH2 username password] [KEYS key [key ...]]
 * Options are scanned from argument 6 on, skipping the arguments of AUTH (1) and AUTH2 (2);
 * a KEYS followed by at least one argument selects the multi-key form.  Returns the index of
 * the first key of that form, or 0. */
static size_t migrate_keys_start(const args_t *a)
{
    for (size_t i = 6; i < a->argc; i++) {
        size_t skip = 0;
        if (ARG_IS(a, i, "KEYS"))
            return i + 1 < a->argc ? i + 1 : 0;
        if (ARG_IS(a, i, "AUTH"))
            skip = 1;
        else if (ARG_IS(a, i, "AUTH2"))
            skip = 2;
        if (skip >= a->argc - i)
            break;
        i += skip;
    }
    return 0;
}

static int resolve_migrate_single(const resp_key_spec_t *s, const args_t *a, key_run_t *r)
{
    if (a->argc <= 3 || migrate_keys_start(a) != 0)
        return 0;
    return make_run(r, a, 3, 3, 1, s->flags & ~RESP_KEY_FLAG_INCOMPLETE);
}

static int resolve_migrate_keys(const resp_key_spec_t *s, const args_t *a, key_run_t *r)
{
    size_t first = migrate_keys_start(a);
    /* The KEYS form requires the single-key argument to be empty; otherwise MIGRATE fails
     * and no argument is a key. */
    if (first == 0 || a->len[3] != 0)
        return 0;
    return make_run(r, a, first, a->argc - 1, 1, s->flags & ~RESP_KEY_FLAG_INCOMPLETE);
}

/* Evaluates the key specs of cmd's run that belong to one variant: the preferred ones when
 * server is 0, otherwise those holding for server. */
static size_t keys_of_specs(const resp_command_info_t *cmd, uint32_t server, size_t argc,
                            const uint8_t *const *argv, const size_t *argv_len, uint32_t opts,
                            resp_key_flags_cb cb, void *ud)
{
    if (cmd == NULL || argc == 0 || argv == NULL || argv_len == NULL || cmd->spec_count == 0)
        return 0;

    const args_t a = { argc, argv, argv_len };
    key_run_t runs[RESP_TABLE_MAX_KEY_SPECS];
    size_t nruns = 0;
    size_t n_specs = server != 0 ? cmd->spec_total : cmd->spec_count;

    for (size_t j = 0; j < n_specs && nruns < RESP_TABLE_MAX_KEY_SPECS; j++) {
        const resp_key_spec_t *s = &resp_key_specs[cmd->spec_first + j];
        int ok = 0;
        if (server != 0 && !(s->servers & server))
            continue;
        if ((s->flags & RESP_KEY_FLAG_NOT_KEY) && !(opts & RESP_KEYS_OPT_INCLUDE_NOT_KEYS))
            continue;
        switch (s->handler) {
        case RESP_KS_HANDLER_GENERIC:
            ok = resolve_generic(s, &a, &runs[nruns]);
            break;
        case RESP_KS_HANDLER_SORT_STORE:
            ok = resolve_sort_store(s, &a, &runs[nruns]);
            break;
        case RESP_KS_HANDLER_MIGRATE_SINGLE:
            ok = resolve_migrate_single(s, &a, &runs[nruns]);
            break;
        case RESP_KS_HANDLER_MIGRATE_KEYS:
            ok = resolve_migrate_keys(s, &a, &runs[nruns]);
            break;
        default: /* RESP_KS_HANDLER_NONE */
            break;
        }
        if (ok)
            nruns++;
    }

    /* Merge the runs in ascending order; an index named by several runs is reported once. */
    size_t count = 0;
    while (nruns > 0) {
        size_t min = runs[0].next;
        for (size_t k = 1; k < nruns; k++) {
            if (runs[k].next < min)
                min = runs[k].next;
        }
        uint32_t flags = 0;
        for (size_t k = 0; k < nruns;) {
            if (runs[k].next == min) {
                flags |= runs[k].flags;
                if (runs[k].last - runs[k].next < runs[k].step) {
                    runs[k] = runs[--nruns];   /* run exhausted */
                    continue;
                }
                runs[k].next += runs[k].step;
            }
            k++;
        }
        if (cb != NULL)
            cb(min, flags & ~RESP_KEY_FLAG_INCOMPLETE, ud);
        count++;
    }
    return count;
}

size_t resp_command_keys_ex(const resp_command_info_t *cmd, size_t argc, const uint8_t *const *argv,
                            const size_t *argv_len, uint32_t opts, resp_key_flags_cb cb, void *ud)
{
    return keys_of_specs(cmd, 0, argc, argv, argv_len, opts, cb, ud);
}

size_t resp_command_keys_server(const resp_command_info_t *cmd, uint32_t server, size_t argc,
                                const uint8_t *const *argv, const size_t *argv_len, uint32_t opts,
                                resp_key_flags_cb cb, void *ud)
{
    int own = 0;
    /* a single bit that some spec of the run holds for; otherwise the preferred specs */
    if (cmd != NULL && server != 0 && (server & (server - 1)) == 0) {
        for (size_t j = 0; j < cmd->spec_total; j++)
            own |= (resp_key_specs[cmd->spec_first + j].servers & server) != 0;
    }
    return keys_of_specs(cmd, own ? server : 0, argc, argv, argv_len, opts, cb, ud);
}

typedef struct {
    resp_key_cb cb;
    void *ud;
} plain_cb_t;

static void plain_cb(size_t arg_index, uint32_t key_flags, void *ud)
{
    const plain_cb_t *p = (const plain_cb_t *)ud;
    (void)key_flags;
    p->cb(arg_index, p->ud);
}

size_t resp_command_keys(const resp_command_info_t *cmd, size_t argc, const uint8_t *const *argv,
                         const size_t *argv_len, resp_key_cb cb, void *ud)
{
    plain_cb_t p = { cb, ud };
    return resp_command_keys_ex(cmd, argc, argv, argv_len, 0, cb != NULL ? plain_cb : NULL, &p);
}
