/* unit_check.h — the checks every unit test counts.
 *
 * CHECK(cond) or CHECK(cond, fmt, ...): counts a passed or failed check; a failure prints the
 * file, line, condition and the printf-style message, if any, to stderr. unit_summary()
 * prints the last line, "N passed, M failed", and returns the exit status (non-zero on failure).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef UNIT_CHECK_H
#define UNIT_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static unsigned long unit_passed, unit_failed;

static void unit_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "FAIL %s:%d: (%s)", file, line, cond);
    if (fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        fputc(' ', stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

/* The "" ends the arguments, so that CHECK(cond) has a message too (an empty one). */
#define CHECK(...) UNIT_CHECK_(__VA_ARGS__, "")
#define UNIT_CHECK_(cond, ...)                                   \
    do {                                                         \
        if (cond) {                                              \
            unit_passed++;                                       \
        } else {                                                 \
            unit_failed++;                                       \
            unit_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
        }                                                        \
    } while (0)

static int unit_summary(void)
{
    printf("%lu passed, %lu failed\n", unit_passed, unit_failed);
    return unit_failed != 0;
}

#endif
