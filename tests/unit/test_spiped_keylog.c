/*
 * Unit tests for core/spiped_keylog.c (the spiped key-log parser).
 *
 * Build and run:
 *   gcc -Wall -Wextra -Werror -std=c11 -O2 -Icore core/spiped_keylog.c \
 *       tests/unit/test_spiped_keylog.c -o /tmp/tk && /tmp/tk
 * (also clean with -fsanitize=address,undefined).
 *
 * The last line of output is "N passed, M failed" (N, M = checks); the exit
 * status is non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spiped_keylog.h"

#include "unit_check.h"

#define DH SPIPED_KEYLOG_DH_LEN
#define LINE_LEN (16 + 1 + 2 * DH + 1 + 2 * DH)   /* without the newline */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#ifdef __OPTIMIZE__
#define OPTIMIZED 1
#else
#define OPTIMIZED 0     /* -O0 (e.g. a Debug build) is several times slower */
#endif

/* ------------------------------------------------------------------ helpers */

/* Deterministic value number `seed`, 1 < v < p (top byte kept below 0xff). */
static void make_value(uint64_t seed, uint8_t v[DH])
{
    uint64_t s = seed * 0x9e3779b97f4a7c15u + 0x632be59bd9b4e019u;
    size_t i;

    for (i = 0; i < DH; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = (uint8_t)(s >> 24);
    }
    v[0] = (uint8_t)(0x10 | (v[0] & 0x7f));
}

static char *put_hex(char *o, const uint8_t *v, size_t n, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        *o++ = d[v[i] >> 4];
        *o++ = d[v[i] & 15];
    }
    return o;
}

/* "SPIPED_DH_SECRET <y> <ysc>" + eol; returns the length written (no NUL). */
static size_t fmt_line(char *buf, const uint8_t y[DH], const uint8_t ysc[DH],
                       int upper, const char *eol)
{
    char *o = buf;

    memcpy(o, "SPIPED_DH_SECRET ", 17);
    o += 17;
    o = put_hex(o, y, DH, upper);
    *o++ = ' ';
    o = put_hex(o, ysc, DH, upper);
    memcpy(o, eol, strlen(eol));
    o += strlen(eol);
    return (size_t)(o - buf);
}

static spiped_keylog_t *load(const char *text, spiped_keylog_stats_t *st)
{
    spiped_keylog_t *kl = spiped_keylog_new();

    if (kl == NULL) {
        printf("out of memory\n");
        exit(2);
    }
    spiped_keylog_feed(kl, text, strlen(text), st);
    return kl;
}

static int found(const spiped_keylog_t *kl, const uint8_t y[DH], const uint8_t ysc[DH])
{
    const uint8_t *r = spiped_keylog_lookup(kl, y);

    return r != NULL && memcmp(r, ysc, DH) == 0;
}

static int reason_has(const spiped_keylog_stats_t *st, const char *needle)
{
    return st->first_malformed_reason != NULL && strstr(st->first_malformed_reason, needle);
}

static double now_s(void)
{
    struct timespec ts;

    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One bad line (plus a good one after it) -> malformed == 1 with the reason. */
static void expect_bad(const char *bad, const char *reason_part, const char *what)
{
    static char buf[16384];
    uint8_t y[DH], ysc[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    size_t n;

    make_value(7001, y);
    make_value(7002, ysc);
    n = (size_t)snprintf(buf, sizeof(buf), "%s\n", bad);
    n += fmt_line(buf + n, y, ysc, 0, "\n");
    buf[n] = '\0';
    kl = load(buf, &st);
    CHECK(st.malformed == 1, "%s", what);
    CHECK(st.first_malformed_line == 1, "%s", what);
    CHECK(reason_has(&st, reason_part), "%s", what);
    CHECK(st.secrets == 1 && found(kl, y, ysc), "%s", what);
    CHECK(st.lines == 2, "%s", what);
    spiped_keylog_free(kl);
}

/* --------------------------------------------------------------------- tests */

static void test_empty(void)
{
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl = spiped_keylog_new();
    uint8_t y[DH];

    make_value(1, y);
    CHECK(kl != NULL, "new");
    CHECK(spiped_keylog_feed(kl, NULL, 0, &st) == 0, "feed nothing");
    CHECK(st.lines == 0 && st.secrets == 0 && st.malformed == 0, "empty stats");
    CHECK(st.first_malformed_reason == NULL && st.first_malformed_line == 0, "no reason");
    CHECK(spiped_keylog_lookup(kl, y) == NULL, "lookup in empty log");
    CHECK(spiped_keylog_count(kl) == 0, "count 0");
    CHECK(spiped_keylog_flush(kl, &st) == 0, "flush empty");
    spiped_keylog_free(kl);
    spiped_keylog_free(NULL);
    CHECK(spiped_keylog_lookup(NULL, y) == NULL, "lookup NULL log");
    CHECK(spiped_keylog_feed(NULL, "x", 1, NULL) == -1, "feed NULL log");
    CHECK(spiped_keylog_count(NULL) == 0, "count NULL log");
}

static void test_basic(void)
{
    char buf[4 * (LINE_LEN + 2) + 1];
    uint8_t y1[DH], s1[DH], y2[DH], s2[DH], other[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl = spiped_keylog_new();
    size_t n;
    int r;

    make_value(11, y1);
    make_value(12, s1);
    make_value(13, y2);
    make_value(14, s2);
    make_value(15, other);
    n = fmt_line(buf, y1, s1, 0, "\n");
    r = spiped_keylog_feed(kl, buf, n, &st);
    CHECK(r == 1, "one secret added");
    CHECK(st.lines == 1 && st.secrets == 1 && st.malformed == 0, "stats after one line");
    CHECK(found(kl, y1, s1), "lookup y1");
    CHECK(spiped_keylog_lookup(kl, s1) == NULL, "y_SC is not a key");
    CHECK(spiped_keylog_lookup(kl, other) == NULL, "unknown y");

    n = fmt_line(buf, y2, s2, 1, "\r\n");                 /* upper case + CRLF */
    r = spiped_keylog_feed(kl, buf, n, &st);
    CHECK(r == 1, "upper-case CRLF line added");
    CHECK(found(kl, y2, s2), "lookup upper-case y2");
    CHECK(found(kl, y1, s1), "y1 still there");
    CHECK(spiped_keylog_count(kl) == 2, "count 2");
    CHECK(st.lines == 2 && st.malformed == 0 && st.duplicates == 0, "stats after two lines");
    spiped_keylog_free(kl);
}

static void test_mixed_case_and_blanks(void)
{
    static char buf[4096];
    uint8_t y[DH], ysc[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    char *o = buf;
    size_t i;

    make_value(21, y);
    make_value(22, ysc);
    /* "\t  SPIPED_DH_SECRET \t<mixed-case y>   <y_SC>\t \r\n" */
    o += sprintf(o, "\t  SPIPED_DH_SECRET \t");
    for (i = 0; i < DH; i++) {
        o = put_hex(o, y + i, 1, (int)(i & 1));
    }
    o += sprintf(o, "   ");
    o = put_hex(o, ysc, DH, 0);
    o += sprintf(o, "\t \r\n");
    *o = '\0';
    kl = load(buf, &st);
    CHECK(st.secrets == 1 && st.malformed == 0, "blanks and mixed case accepted");
    CHECK(found(kl, y, ysc), "mixed-case lookup");
    spiped_keylog_free(kl);
}

static void test_comments(void)
{
    static char buf[8192];
    uint8_t y[DH], ysc[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    size_t n = 0;

    make_value(31, y);
    make_value(32, ysc);
    n += (size_t)sprintf(buf + n, "# spiped key log\n\n   \n\t\r\n  # indented comment\r\n#");
    n += fmt_line(buf + n, y, ysc, 0, "\n");                   /* commented out */
    n += (size_t)sprintf(buf + n, "\n");
    buf[n] = '\0';
    kl = load(buf, &st);
    CHECK(st.lines == 7, "7 lines");
    CHECK(st.comments == 7, "all comments/blank");
    CHECK(st.secrets == 0 && st.malformed == 0, "nothing else");
    CHECK(spiped_keylog_lookup(kl, y) == NULL, "commented-out secret not used");
    spiped_keylog_free(kl);
}

static void test_unknown_labels(void)
{
    static char buf[8192];
    uint8_t y[DH], ysc[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    size_t n = 0;

    make_value(41, y);
    make_value(42, ysc);
    n += (size_t)sprintf(buf + n, "CLIENT_RANDOM 0011 2233\n");
    n += (size_t)sprintf(buf + n, "SERVER_HANDSHAKE_TRAFFIC_SECRET aa bb\n");
    n += (size_t)sprintf(buf + n, "SPIPED_FUTURE_THING 1 2 3\n");
    n += fmt_line(buf + n, y, ysc, 0, "\n");
    buf[n] = '\0';
    kl = load(buf, &st);
    CHECK(st.unknown_labels == 3, "3 unknown-label lines ignored");
    CHECK(st.malformed == 0, "not malformed");
    CHECK(found(kl, y, ysc), "secret after them");
    spiped_keylog_free(kl);
}

static void test_garbage(void)
{
    static char good[LINE_LEN + 1], line[8192];
    static const char p_hex[] =
        "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74"
        "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437"
        "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed"
        "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05"
        "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb"
        "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b"
        "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718"
        "3995497cea956ae515d2261898fa051015728e5a8aacaa68ffffffffffffffff";
    uint8_t y[DH], ysc[DH];
    char yh[2 * DH + 1], sh[2 * DH + 1], tmp[2 * DH + 1];
    size_t n;

    make_value(51, y);
    make_value(52, ysc);
    n = fmt_line(good, y, ysc, 0, "");
    good[n] = '\0';
    memcpy(yh, good + 17, 2 * DH);
    yh[2 * DH] = '\0';
    memcpy(sh, good + 18 + 2 * DH, 2 * DH);
    sh[2 * DH] = '\0';
    CHECK(strlen(p_hex) == 2 * DH, "p constant");

    expect_bad("hello world", "not a key-log line", "plain garbage");
    expect_bad("spiped_dh_secret aa bb", "not a key-log line", "lower-case label");
    expect_bad("\x01\x02\xfe\xff junk", "not a key-log line", "binary garbage");
    expect_bad("CLIENT_RANDOM", "not a key-log line", "label without fields");
    expect_bad("SPIPED_DH_SECRET", "without values", "label only");
    {
        /* a longer label is another format's label, not a malformed line */
        spiped_keylog_stats_t st;
        spiped_keylog_t *kl = load("SPIPED_DH_SECRETX 00 11\n", &st);
        CHECK(st.unknown_labels == 1 && st.malformed == 0, "SPIPED_DH_SECRETX is unknown label");
        spiped_keylog_free(kl);
    }

    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s", yh);
    expect_bad(line, "one value only", "missing y_SC");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s extra", yh, sh);
    expect_bad(line, "extra data", "three values");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s #comment", yh, sh);
    expect_bad(line, "extra data", "trailing comment not allowed");

    /* truncated line: y complete, y_SC cut */
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %.300s", yh, sh);
    expect_bad(line, "y_SC is not 512 hex digits", "truncated y_SC");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %.100s", yh);
    expect_bad(line, "one value only", "truncated in y");

    /* wrong lengths */
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %.511s %s", yh, sh);
    expect_bad(line, "y is not 512 hex digits", "y 511 digits");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s0 %s", yh, sh);
    expect_bad(line, "y is not 512 hex digits", "y 513 digits");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s00", yh, sh);
    expect_bad(line, "y_SC is not 512 hex digits", "y_SC 514 digits");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET 0x%.510s %s", yh, sh);
    expect_bad(line, "y contains a non-hex", "0x prefix");

    /* non-hex characters */
    memcpy(tmp, yh, sizeof(tmp));
    tmp[100] = 'g';
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", tmp, sh);
    expect_bad(line, "y contains a non-hex", "g in y");
    memcpy(tmp, sh, sizeof(tmp));
    tmp[511] = 'Z';
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", yh, tmp);
    expect_bad(line, "y_SC contains a non-hex", "Z at end of y_SC");

    /* out of range values */
    memset(tmp, '0', 2 * DH);
    tmp[2 * DH] = '\0';
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", tmp, sh);
    expect_bad(line, "y out of range", "y = 0");
    tmp[2 * DH - 1] = '1';
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", tmp, sh);
    expect_bad(line, "y out of range", "y = 1 (fast mode needs no key log)");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", p_hex, sh);
    expect_bad(line, "y out of range", "y = p");
    memset(tmp, 'f', 2 * DH);
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", tmp, sh);
    expect_bad(line, "y out of range", "y = 2^2048 - 1");
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", yh, p_hex);
    expect_bad(line, "y_SC out of range", "y_SC = p");
    memcpy(tmp, p_hex, sizeof(tmp));
    tmp[2 * DH - 1] = 'e';                                   /* p - 1 is below p */
    snprintf(line, sizeof(line), "SPIPED_DH_SECRET %s %s", tmp, sh);
    {
        spiped_keylog_stats_t st;
        spiped_keylog_t *kl = load(line, &st);
        spiped_keylog_flush(kl, &st);
        CHECK(st.secrets == 1 && st.malformed == 0, "y = p - 1 accepted");
        spiped_keylog_free(kl);
    }
}

static void test_nul_and_first_line_number(void)
{
    static char buf[4 * (LINE_LEN + 2)];
    uint8_t y[DH], ysc[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl = spiped_keylog_new();
    size_t n = 0, m;

    make_value(61, y);
    make_value(62, ysc);
    n += (size_t)sprintf(buf, "# header\n");
    n += fmt_line(buf + n, y, ysc, 0, "\n");
    m = n + 17 + 40;                         /* a NUL inside the next y */
    make_value(63, y);
    n += fmt_line(buf + n, y, ysc, 0, "\n");
    buf[m] = '\0';
    n += (size_t)sprintf(buf + n, "junk\n");
    spiped_keylog_feed(kl, buf, n, &st);
    CHECK(st.lines == 4, "4 lines");
    CHECK(st.secrets == 1, "1 secret");
    CHECK(st.malformed == 2, "NUL line and junk are malformed");
    CHECK(st.first_malformed_line == 3, "first malformed is line 3");
    CHECK(reason_has(&st, "non-hex"), "reason non-hex");
    spiped_keylog_free(kl);
}

static void test_duplicates_conflicts(void)
{
    static char buf[6 * (LINE_LEN + 2)];
    uint8_t y[DH], s1[DH], s2[DH], y2[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    size_t n = 0;
    int r;

    make_value(71, y);
    make_value(72, s1);
    make_value(73, s2);
    make_value(74, y2);
    n += fmt_line(buf + n, y, s1, 0, "\n");      /* line 1 */
    n += fmt_line(buf + n, y, s1, 1, "\r\n");    /* line 2: same (upper case): duplicate */
    n += fmt_line(buf + n, y2, s1, 0, "\n");     /* line 3: other y, same y_SC: fine */
    n += fmt_line(buf + n, y, s2, 0, "\n");      /* line 4: conflict */
    n += fmt_line(buf + n, y, s2, 0, "\n");      /* line 5: conflict again */
    n += fmt_line(buf + n, y, s1, 0, "\n");      /* line 6: duplicate of the kept one */
    kl = spiped_keylog_new();
    r = spiped_keylog_feed(kl, buf, n, &st);
    CHECK(r == 2, "2 added");
    CHECK(st.secrets == 2 && spiped_keylog_count(kl) == 2, "2 stored");
    CHECK(st.duplicates == 2, "2 duplicates");
    CHECK(st.conflicts == 2, "2 conflicts");
    CHECK(st.first_conflict_line == 4, "first conflict line 4");
    CHECK(st.malformed == 0, "duplicates are not malformed");
    CHECK(found(kl, y, s1), "first value kept");
    CHECK(found(kl, y2, s1), "y2 stored");
    /* feeding the same text again: all duplicates/conflicts */
    r = spiped_keylog_feed(kl, buf, n, &st);
    CHECK(r == 0, "nothing new the second time");
    CHECK(st.duplicates == 6 && st.conflicts == 4 && st.lines == 12, "second pass counted");
    spiped_keylog_free(kl);
}

/* Feeding a text in two pieces, split at every offset, or byte by byte,
 * gives the same result as feeding it at once. */
static void test_partial_lines(void)
{
    static char buf[4 * (LINE_LEN + 2) + 64];
    uint8_t y[3][DH], s[3][DH];
    spiped_keylog_stats_t ref, st;
    spiped_keylog_t *kl;
    size_t n = 0, cut, i;
    int k, all_ok = 1, bytewise_ok;

    for (k = 0; k < 3; k++) {
        make_value(80 + 2 * (uint64_t)k, y[k]);
        make_value(81 + 2 * (uint64_t)k, s[k]);
    }
    n += fmt_line(buf + n, y[0], s[0], 0, "\n");
    n += (size_t)sprintf(buf + n, "# c\r\nbad line\n");
    n += fmt_line(buf + n, y[1], s[1], 1, "\r\n");
    n += fmt_line(buf + n, y[2], s[2], 0, "\n");

    kl = spiped_keylog_new();
    spiped_keylog_feed(kl, buf, n, &ref);
    spiped_keylog_free(kl);
    CHECK(ref.lines == 5 && ref.secrets == 3 && ref.malformed == 1 && ref.comments == 1,
          "reference parse");

    for (cut = 0; cut <= n; cut++) {
        int a, b;
        kl = spiped_keylog_new();
        a = spiped_keylog_feed(kl, buf, cut, NULL);
        b = spiped_keylog_feed(kl, buf + cut, n - cut, &st);
        if (a + b != 3 || st.lines != ref.lines || st.secrets != 3 || st.malformed != 1 ||
            st.first_malformed_line != 3 || !found(kl, y[0], s[0]) || !found(kl, y[1], s[1]) ||
            !found(kl, y[2], s[2]))
            all_ok = 0;
        spiped_keylog_free(kl);
    }
    CHECK(all_ok, "split at every offset");

    kl = spiped_keylog_new();
    for (i = 0; i < n; i++)
        spiped_keylog_feed(kl, buf + i, 1, &st);
    bytewise_ok = st.lines == 5 && st.secrets == 3 && st.malformed == 1 &&
                  found(kl, y[0], s[0]) && found(kl, y[1], s[1]) && found(kl, y[2], s[2]);
    CHECK(bytewise_ok, "byte by byte");
    spiped_keylog_free(kl);

    /* a growing file: the writer's last line arrives in pieces */
    kl = spiped_keylog_new();
    n = fmt_line(buf, y[0], s[0], 0, "\n");
    spiped_keylog_feed(kl, buf, 17 + 200, &st);
    CHECK(st.lines == 0 && st.secrets == 0, "partial line pending");
    spiped_keylog_flush(kl, &st);
    CHECK(st.lines == 0 && st.secrets == 0 && st.malformed == 0, "flush keeps an incomplete line");
    CHECK(spiped_keylog_lookup(kl, y[0]) == NULL, "not yet visible");
    spiped_keylog_feed(kl, buf + 217, n - 217, &st);
    CHECK(st.lines == 1 && st.secrets == 1 && st.malformed == 0, "completed later");
    CHECK(found(kl, y[0], s[0]), "visible after completion");
    spiped_keylog_free(kl);

    /* a line cut by a newline in the middle (truncated writer): malformed */
    kl = spiped_keylog_new();
    spiped_keylog_feed(kl, buf, 17 + 512 + 1 + 100, NULL);
    spiped_keylog_feed(kl, "\n", 1, NULL);
    spiped_keylog_feed(kl, buf, n, &st);
    CHECK(st.lines == 2 && st.malformed == 1 && st.secrets == 1, "truncated line then a full one");
    CHECK(st.first_malformed_line == 1 && reason_has(&st, "y_SC is not 512"), "truncated reason");
    spiped_keylog_free(kl);
}

static void test_flush(void)
{
    static char buf[2 * (LINE_LEN + 2)];
    uint8_t y[DH], s[DH], y2[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    size_t n;

    make_value(91, y);
    make_value(92, s);
    make_value(93, y2);

    /* last line without newline: taken by flush */
    kl = spiped_keylog_new();
    n = fmt_line(buf, y, s, 0, "");
    CHECK(spiped_keylog_feed(kl, buf, n, &st) == 0, "complete but unterminated: pending");
    CHECK(spiped_keylog_lookup(kl, y) == NULL, "pending not visible");
    CHECK(spiped_keylog_flush(kl, &st) == 1, "flush takes it");
    CHECK(found(kl, y, s) && st.lines == 1, "visible after flush");
    CHECK(spiped_keylog_flush(kl, &st) == 0 && st.lines == 1, "second flush: nothing");
    /* the writer then adds CRLF and another line */
    spiped_keylog_feed(kl, "\r", 1, &st);
    spiped_keylog_feed(kl, "\n", 1, &st);
    n = fmt_line(buf, y2, s, 0, "\n");
    spiped_keylog_feed(kl, buf, n, &st);
    CHECK(st.lines == 2 && st.secrets == 2 && st.malformed == 0, "continuation CRLF is fine");
    CHECK(found(kl, y2, s), "next line after continuation");
    spiped_keylog_free(kl);

    /* continuation with junk: malformed, reported at the flushed line */
    kl = spiped_keylog_new();
    n = fmt_line(buf, y, s, 0, "");
    spiped_keylog_feed(kl, "# x\n", 4, NULL);
    spiped_keylog_feed(kl, buf, n, NULL);
    spiped_keylog_flush(kl, NULL);
    spiped_keylog_feed(kl, "ab\n", 3, &st);
    CHECK(st.malformed == 1 && st.first_malformed_line == 2, "junk continuation malformed");
    CHECK(reason_has(&st, "continued"), "continuation reason");
    spiped_keylog_free(kl);

    /* flush does not take a comment or a bad line */
    kl = spiped_keylog_new();
    spiped_keylog_feed(kl, "# no newline", 12, NULL);
    spiped_keylog_flush(kl, &st);
    CHECK(st.lines == 0 && st.comments == 0, "pending comment stays pending");
    spiped_keylog_feed(kl, "\n", 1, &st);
    CHECK(st.lines == 1 && st.comments == 1, "comment completed");
    spiped_keylog_free(kl);
}

static void test_overlong(void)
{
    static char buf[3 * 4096 + 3 * LINE_LEN];
    uint8_t y[DH], s[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    size_t n = 0, i;
    int ok;

    make_value(101, y);
    make_value(102, s);
    /* line 1: comment of exactly 4096 bytes (OK), line 2: 4096 + CR (OK),
     * line 3: 4097 bytes (too long), line 4: 5000 hex digits, line 5: valid */
    buf[n++] = '#';
    memset(buf + n, 'c', 4095);
    n += 4095;
    buf[n++] = '\n';
    buf[n++] = '#';
    memset(buf + n, 'c', 4095);
    n += 4095;
    buf[n++] = '\r';
    buf[n++] = '\n';
    buf[n++] = '#';
    memset(buf + n, 'c', 4096);
    n += 4096;
    buf[n++] = '\n';

    kl = spiped_keylog_new();
    spiped_keylog_feed(kl, buf, n, &st);
    {
        static char big[5100];
        size_t m = 0;
        memcpy(big, "SPIPED_DH_SECRET ", 17);
        m = 17;
        memset(big + m, 'a', 5000);
        m += 5000;
        big[m++] = '\n';
        spiped_keylog_feed(kl, big, m, &st);
    }
    i = fmt_line(buf, y, s, 0, "\n");
    spiped_keylog_feed(kl, buf, i, &st);
    CHECK(st.lines == 5, "5 lines");
    CHECK(st.comments == 2, "4096-byte lines accepted");
    CHECK(st.malformed == 2, "two overlong lines");
    CHECK(st.first_malformed_line == 3 && reason_has(&st, "longer than 4096"), "overlong reason");
    CHECK(found(kl, y, s), "valid line after overlong ones");
    spiped_keylog_free(kl);

    /* the same lines fed byte by byte (and an overlong pending line that a
     * flush must not take) give the same result */
    kl = spiped_keylog_new();
    {
        static char t[3 * 4100];
        size_t m = 0;
        t[m++] = '#';
        memset(t + m, 'c', 4095);
        m += 4095;
        t[m++] = '\n';
        t[m++] = '#';
        memset(t + m, 'c', 4095);
        m += 4095;
        t[m++] = '\r';
        t[m++] = '\n';
        t[m++] = '#';
        memset(t + m, 'c', 4096);
        m += 4096;
        t[m++] = '\n';
        for (i = 0; i < m; i++)
            spiped_keylog_feed(kl, t + i, 1, &st);
        for (i = 0; i < 10000; i++)                 /* 10000 bytes, no newline yet */
            spiped_keylog_feed(kl, "x", 1, &st);
        spiped_keylog_flush(kl, &st);
        spiped_keylog_feed(kl, "\n", 1, &st);
        n = fmt_line(t, y, s, 0, "\n");
        for (i = 0; i < n; i++)
            spiped_keylog_feed(kl, t + i, 1, &st);
    }
    ok = st.lines == 5 && st.comments == 2 && st.malformed == 2 && st.first_malformed_line == 3 &&
         found(kl, y, s);
    CHECK(ok, "overlong handling independent of chunking");
    spiped_keylog_free(kl);
}

static void test_many_lookups(void)
{
    enum { N = 20000 };
    static char buf[LINE_LEN + 2];
    uint8_t y[DH], s[DH], probe[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl = spiped_keylog_new();
    int i, hits = 0, misses = 0, wrong = 0;

    for (i = 0; i < N; i++) {
        size_t n;
        make_value(1000000 + (uint64_t)i, y);
        make_value(2000000 + (uint64_t)i, s);
        n = fmt_line(buf, y, s, i & 1, (i % 3) ? "\n" : "\r\n");
        spiped_keylog_feed(kl, buf, n, NULL);
    }
    spiped_keylog_get_stats(kl, &st);
    CHECK(st.secrets == N && st.malformed == 0, "20000 stored");
    for (i = 0; i < N; i++) {
        make_value(1000000 + (uint64_t)i, y);
        make_value(2000000 + (uint64_t)i, s);
        if (found(kl, y, s))
            hits++;
        memcpy(probe, y, DH);
        probe[DH - 1] ^= 1;                          /* near miss */
        if (spiped_keylog_lookup(kl, probe) != NULL)
            wrong++;
        make_value(3000000 + (uint64_t)i, probe);    /* far miss */
        if (spiped_keylog_lookup(kl, probe) == NULL)
            misses++;
    }
    CHECK(hits == N, "every stored y found with its y_SC");
    CHECK(wrong == 0, "one-bit-different y not found");
    CHECK(misses == N, "unknown y not found");
    spiped_keylog_free(kl);
}

/* 1,000,000 lines streamed in 64 KiB chunks (lines straddle chunks):
 * 250,000 secrets, 250,000 exact duplicates (upper case / CRLF), 250,000
 * comments, 249,750 TLS key-log lines and 250 malformed lines. */
static void test_million_lines(void)
{
    enum { LINES = 1000000, CHUNK = 65536 };
    static char chunk[CHUNK + 2 * LINE_LEN + 64];
    uint8_t y[DH], s[DH];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl = spiped_keylog_new();
    double t_feed = 0, t0, t_look, limit = SANITIZED ? 120.0 : OPTIMIZED ? 5.0 : 30.0;
    size_t fill = 0, total = 0;
    long i, hits = 0;

    for (i = 0; i < LINES; i++) {
        switch (i % 4) {
        case 0:
            make_value(10000000 + (uint64_t)i, y);
            make_value(20000000 + (uint64_t)i, s);
            fill += fmt_line(chunk + fill, y, s, 0, "\n");
            break;
        case 1:
            fill += fmt_line(chunk + fill, y, s, 1, "\r\n");
            break;
        case 2:
            fill += (size_t)sprintf(chunk + fill, "# connection %ld\n", i / 4);
            break;
        default:
            if (i % 4000 == 3)
                fill += (size_t)sprintf(chunk + fill, "SPIPED_DH_SECRET %ld\n", i);
            else
                fill += (size_t)sprintf(chunk + fill,
                                        "CLIENT_RANDOM 0123456789abcdef%08lx 00112233445566778899\n",
                                        i);
        }
        if (fill >= CHUNK || i == LINES - 1) {
            size_t part = fill < CHUNK ? fill : CHUNK;
            t0 = now_s();
            spiped_keylog_feed(kl, chunk, part, NULL);
            t_feed += now_s() - t0;
            total += part;
            memmove(chunk, chunk + part, fill - part);
            fill -= part;
        }
    }
    t0 = now_s();
    spiped_keylog_feed(kl, chunk, fill, &st);
    t_feed += now_s() - t0;
    total += fill;

    CHECK(st.lines == LINES, "1e6 lines");
    CHECK(st.secrets == LINES / 4, "250000 secrets");
    CHECK(st.duplicates == LINES / 4, "250000 duplicates");
    CHECK(st.comments == LINES / 4, "250000 comments");
    CHECK(st.malformed == LINES / 4000, "250 malformed");
    CHECK(st.unknown_labels == LINES / 4 - LINES / 4000, "unknown labels");
    CHECK(st.first_malformed_line == 4, "first malformed line 4");
    CHECK(st.conflicts == 0 && st.alloc_failures == 0, "no conflicts");

    t0 = now_s();
    for (i = 0; i < LINES; i += 4) {
        make_value(10000000 + (uint64_t)i, y);
        make_value(20000000 + (uint64_t)i, s);
        if (found(kl, y, s))
            hits++;
    }
    t_look = now_s() - t0;
    CHECK(hits == LINES / 4, "all 250000 found");
    printf("1e6-line key log (%.0f MB): parse %.2f s, 250000 lookups %.3f s (limit %.0f s%s)\n",
           (double)total / 1e6, t_feed, t_look, limit,
           SANITIZED ? ", sanitizers" : OPTIMIZED ? "" : ", unoptimised");
    CHECK(t_feed < limit, "parse time bound");
    CHECK(t_look < limit, "lookup time bound");
    spiped_keylog_free(kl);
}

int main(void)
{
    test_empty();
    test_basic();
    test_mixed_case_and_blanks();
    test_comments();
    test_unknown_labels();
    test_garbage();
    test_nul_and_first_line_number();
    test_duplicates_conflicts();
    test_partial_lines();
    test_flush();
    test_overlong();
    test_many_lookups();
    test_million_lines();
    return unit_summary();
}
