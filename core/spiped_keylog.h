/*
 * spiped_keylog.h - incremental parser and lookup table for spiped key-log
 * files (format: keylog/README.md), written by libspiped-keylog.so.
 *
 * Pure C11: no Wireshark, no glib, no crypto library.
 *
 * A key log is a text file of lines
 *
 *     SPIPED_DH_SECRET <y: 512 hex digits> <y_SC: 512 hex digits>
 *
 * where y is the public Diffie-Hellman value the logging endpoint received
 * from its peer (y_S when the client logged it, y_C when the server did) and
 * y_SC the shared value of that session.  Both y_C and y_S travel in clear in
 * the handshake, so a dissector looks both up and finds the session's y_SC
 * whichever endpoint wrote the line.
 *
 * Typical use by a dissector that follows a growing file:
 *
 *     kl = spiped_keylog_new();
 *     ...read the bytes from the last offset to the current end of file...
 *     spiped_keylog_feed(kl, buf, n, &stats);   (any number of times)
 *     spiped_keylog_flush(kl, &stats);          (at the current end of file)
 *     y_sc = spiped_keylog_lookup(kl, y_s);     (NULL if unknown)
 *
 * If the file shrank or was replaced, free the table and start again.
 * Not thread-safe: one spiped_keylog_t must not be used by two threads at
 * the same time (lookups alone may run concurrently).
 */
#ifndef SPIPED_KEYLOG_H
#define SPIPED_KEYLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPIPED_KEYLOG_LABEL     "SPIPED_DH_SECRET"
#define SPIPED_KEYLOG_DH_LEN    256     /* bytes of y and y_SC */
#define SPIPED_KEYLOG_MAX_LINE  4096    /* longer lines (without CR/LF) are malformed */

typedef struct spiped_keylog spiped_keylog_t;

/* Counters since spiped_keylog_new(); every call that takes a stats pointer
 * copies them there (the pointer may be NULL). */
typedef struct {
    uint64_t lines;             /* complete lines read (incl. blank and comment lines) */
    uint64_t comments;          /* blank lines and lines starting with '#' */
    uint64_t secrets;           /* SPIPED_DH_SECRET entries stored (distinct y) */
    uint64_t duplicates;        /* same y and same y_SC as an earlier line: ignored */
    uint64_t conflicts;         /* same y, different y_SC: the first value is kept */
    uint64_t unknown_labels;    /* other "LABEL field..." lines (e.g. TLS key-log lines): ignored */
    uint64_t malformed;         /* lines that could not be used */
    uint64_t first_malformed_line;      /* 1-based line number, 0 if none */
    const char *first_malformed_reason; /* static text, NULL if none */
    uint64_t first_conflict_line;       /* 1-based line number, 0 if none */
    uint64_t alloc_failures;    /* entries lost because memory ran out */
} spiped_keylog_stats_t;

/* New empty key log.  NULL if out of memory. */
spiped_keylog_t *spiped_keylog_new(void);

/* Free everything (secrets are wiped first).  NULL is accepted. */
void spiped_keylog_free(spiped_keylog_t *kl);

/* Feed the next len bytes of the file.  Bytes may be split anywhere: an
 * unterminated last line is kept (bounded by SPIPED_KEYLOG_MAX_LINE) until a
 * later call completes it.  Returns the number of secrets added by this call,
 * or -1 if memory ran out for some entry (counted in alloc_failures; the
 * rest of the data is still processed).  data may be NULL when len == 0. */
int spiped_keylog_feed(spiped_keylog_t *kl, const char *data, size_t len,
                       spiped_keylog_stats_t *stats);

/* Call when the caller has reached the current end of the file.  A pending
 * unterminated line is taken now if, and only if, it already is a complete
 * valid SPIPED_DH_SECRET entry (a hand-written file may lack its final
 * newline); anything else stays pending, since a writer may still be adding
 * to it.  Bytes that later continue an entry taken this way must be only
 * blanks up to the newline, otherwise the line counts as malformed.
 * Returns what spiped_keylog_feed() returns. */
int spiped_keylog_flush(spiped_keylog_t *kl, spiped_keylog_stats_t *stats);

/* y_SC (SPIPED_KEYLOG_DH_LEN bytes) recorded for the peer public value y,
 * or NULL.  The pointer stays valid until spiped_keylog_free(). */
const uint8_t *spiped_keylog_lookup(const spiped_keylog_t *kl,
                                    const uint8_t y[SPIPED_KEYLOG_DH_LEN]);

/* Number of distinct secrets stored. */
size_t spiped_keylog_count(const spiped_keylog_t *kl);

/* Copy of the counters (same as the stats argument of feed/flush). */
void spiped_keylog_get_stats(const spiped_keylog_t *kl, spiped_keylog_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif /* SPIPED_KEYLOG_H */
