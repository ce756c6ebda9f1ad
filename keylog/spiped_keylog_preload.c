/*
 * spiped_keylog_preload.c - LD_PRELOAD library that records the
 * Diffie-Hellman shared value of forward-secret spiped sessions, so that a
 * capture of the tunnel can be decrypted later (see keylog/README.md).
 *
 *   LD_PRELOAD=/path/libspiped-keylog.so SPIPED_KEYLOG=/path/to/keylog \
 *       spiped -d ...          (or spiped -e ..., on either endpoint)
 *
 * How it works.  spiped (1.6, linked against OpenSSL's libcrypto) performs
 * every modular exponentiation of its handshake as two BN_mod_exp() calls on
 * the same base with different exponents, followed by one BN_mod_mul() of the
 * two partial results, all modulo the 2048-bit MODP group 14 prime (RFC 3526).
 * The base is 2 when a side makes its own public value and the peer's public
 * value y when it computes the shared value y_SC.  This library interposes
 * exactly these two functions, forwards every call unchanged to the real
 * libcrypto (same arguments, same outputs, same return value, errno left as
 * the real call set it) and, per thread, watches for
 *
 *     BN_mod_exp(r1, y, e1, p)   BN_mod_exp(r2, y, e2, p)   BN_mod_mul(s, r1, r2, p)
 *
 * with p the group 14 prime and y > 2 (so neither the base-2 step that makes
 * the side's own public value nor a peer in "-f" mode, which sends y = 1, is
 * logged).  For such a triple it
 * appends one line "SPIPED_DH_SECRET <y hex> <s hex>" to $SPIPED_KEYLOG.
 *
 * Operational rules:
 *   - Without SPIPED_KEYLOG (unset or empty) nothing is tracked or written.
 *   - Each line is written with one write() on a file opened per line with
 *     O_WRONLY|O_APPEND|O_CREAT (mode 0600 for a new file, an existing file
 *     keeps its mode) and closed again, so concurrent connections, forked
 *     processes and log rotation need no coordination.
 *   - Only regular files are written (O_NONBLOCK open + fstat check), so a
 *     FIFO or terminal can never block spiped or raise SIGPIPE.
 *   - Every error is ignored, nothing is retried, nothing is ever printed.
 *
 * No OpenSSL headers are needed: BIGNUM and BN_CTX are used as opaque types
 * and the few helper functions are looked up at run time in the libcrypto
 * that the host program already loaded.
 *
 * Build: gcc -shared -fPIC -O2 -Wall -Wextra -o libspiped-keylog.so \
 *            keylog/spiped_keylog_preload.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/spiped_group14.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct bignum_st BIGNUM;     /* opaque, as in OpenSSL */
typedef struct bignum_ctx BN_CTX;

typedef int (*bn_mod_exp_fn)(BIGNUM *, const BIGNUM *, const BIGNUM *,
                             const BIGNUM *, BN_CTX *);
typedef int (*bn_mod_mul_fn)(BIGNUM *, const BIGNUM *, const BIGNUM *,
                             const BIGNUM *, BN_CTX *);
typedef int (*bn_num_bits_fn)(const BIGNUM *);
typedef int (*bn_bn2bin_fn)(const BIGNUM *, unsigned char *);
typedef int (*bn_is_negative_fn)(const BIGNUM *);

#define DH_BYTES 256
#define LABEL "SPIPED_DH_SECRET"
#define LINE_MAX_BYTES (sizeof(LABEL) - 1 + 1 + 2 * DH_BYTES + 1 + 2 * DH_BYTES + 1)

/* ------------------------------------------------------------------ setup */

/* 1 = SPIPED_KEYLOG set, 0 = inert; fixed once by the constructor. */
static int keylog_enabled;
static char keylog_path[4096];

__attribute__((constructor))
static void keylog_init(void)
{
    const char *p = getenv("SPIPED_KEYLOG");
    size_t n;

    if (p == NULL || p[0] == '\0')
        return;
    n = strlen(p);
    if (n >= sizeof(keylog_path))
        return;                     /* unusable path: stay inert */
    memcpy(keylog_path, p, n + 1);
    keylog_enabled = 1;
}

/* Look a libcrypto symbol up behind us; prefer the OpenSSL 3 version node
 * that spiped was linked against, fall back to the default version. */
static void *next_symbol(const char *name)
{
    void *f = dlvsym(RTLD_NEXT, name, "OPENSSL_3.0.0");

    if (f == NULL)
        f = dlsym(RTLD_NEXT, name);
    return f;
}

#define RESOLVE(type, var, name)                                          \
    do {                                                                  \
        static type cache_;                                               \
        var = __atomic_load_n(&cache_, __ATOMIC_ACQUIRE);                 \
        if (var == NULL) {                                                \
            void *sym_ = next_symbol(name);                               \
            /* POSIX object->function pointer conversion, ISO-C clean */  \
            memcpy(&var, &sym_, sizeof(var));                             \
            __atomic_store_n(&cache_, var, __ATOMIC_RELEASE);             \
        }                                                                 \
    } while (0)

/* ----------------------------------------------------- per-thread pairing */

enum { ST_IDLE = 0, ST_ONE_EXP, ST_TWO_EXP };

struct keylog_thread_state {
    int busy;                   /* inside one of our wrappers */
    int stage;
    uint8_t base[DH_BYTES];     /* base of the pending exponentiations */
    uint8_t r1[DH_BYTES];       /* result of the first BN_mod_exp */
    uint8_t r2[DH_BYTES];       /* result of the second BN_mod_exp */
};

static __thread struct keylog_thread_state kts;

static void state_reset(void)
{
    if (kts.stage != ST_IDLE) {
        kts.stage = ST_IDLE;
        explicit_bzero(kts.base, sizeof(kts.base));
        explicit_bzero(kts.r1, sizeof(kts.r1));
        explicit_bzero(kts.r2, sizeof(kts.r2));
    }
}

/* Big-endian, zero-padded 256-byte copy of a non-negative BIGNUM of at most
 * 2048 bits.  Returns 1 on success, 0 if not representable or on error. */
static int bn_to_256(const BIGNUM *a, uint8_t out[DH_BYTES])
{
    bn_num_bits_fn num_bits;
    bn_bn2bin_fn bn2bin;
    bn_is_negative_fn is_negative;
    int bits, nbytes;

    if (a == NULL)
        return 0;
    RESOLVE(bn_num_bits_fn, num_bits, "BN_num_bits");
    RESOLVE(bn_bn2bin_fn, bn2bin, "BN_bn2bin");
    RESOLVE(bn_is_negative_fn, is_negative, "BN_is_negative");
    if (num_bits == NULL || bn2bin == NULL)
        return 0;
    if (is_negative != NULL && is_negative(a))
        return 0;
    bits = num_bits(a);
    if (bits < 0 || bits > 8 * DH_BYTES)
        return 0;
    nbytes = (bits + 7) / 8;
    memset(out, 0, DH_BYTES - (size_t)nbytes);
    if (nbytes > 0 && bn2bin(a, out + DH_BYTES - nbytes) != nbytes)
        return 0;
    return 1;
}

static int is_group14_prime(const BIGNUM *m)
{
    bn_num_bits_fn num_bits;
    uint8_t buf[DH_BYTES];

    RESOLVE(bn_num_bits_fn, num_bits, "BN_num_bits");
    if (m == NULL || num_bits == NULL || num_bits(m) != 8 * DH_BYTES)
        return 0;
    return bn_to_256(m, buf) && memcmp(buf, spiped_group14_p, DH_BYTES) == 0;
}

/* 1 if v (256 bytes, big-endian) is 0, 1 or 2: 2 is the generator (a side
 * making its own public value), 1 what a "-f" peer sends, 0 impossible. */
static int is_trivial(const uint8_t v[DH_BYTES])
{
    uint8_t acc = 0;
    size_t i;

    for (i = 0; i < DH_BYTES - 1; i++)
        acc |= v[i];
    return acc == 0 && v[DH_BYTES - 1] <= 2;
}

/* ----------------------------------------------------------------- output */

static char *hex_append(char *o, const uint8_t *v, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        *o++ = digits[v[i] >> 4];
        *o++ = digits[v[i] & 0x0f];
    }
    return o;
}

static void keylog_write(const uint8_t peer_y[DH_BYTES], const uint8_t y_sc[DH_BYTES])
{
    char line[LINE_MAX_BYTES];
    char *o = line;
    struct stat st;
    int fd;

    memcpy(o, LABEL " ", sizeof(LABEL));
    o += sizeof(LABEL);
    o = hex_append(o, peer_y, DH_BYTES);
    *o++ = ' ';
    o = hex_append(o, y_sc, DH_BYTES);
    *o++ = '\n';

    fd = open(keylog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
              0600);
    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            ssize_t w = write(fd, line, (size_t)(o - line));
            (void)w;                /* errors and short writes are ignored */
        }
        close(fd);
    }
    explicit_bzero(line, sizeof(line));
}

/* --------------------------------------------------------------- wrappers */

EXPORT int BN_mod_exp(BIGNUM *r, const BIGNUM *a, const BIGNUM *p,
                      const BIGNUM *m, BN_CTX *ctx)
{
    bn_mod_exp_fn real;
    uint8_t base[DH_BYTES];
    int eligible, rv, saved_errno;

    RESOLVE(bn_mod_exp_fn, real, "BN_mod_exp");
    if (real == NULL)
        return 0;                   /* no libcrypto behind us: report failure */
    if (!keylog_enabled || kts.busy)
        return real(r, a, p, m, ctx);

    kts.busy = 1;
    /* Inputs are read before the call: r may alias a or m. */
    eligible = is_group14_prime(m) && bn_to_256(a, base) && !is_trivial(base);
    rv = real(r, a, p, m, ctx);
    saved_errno = errno;

    if (rv == 1 && eligible) {
        if (kts.stage == ST_ONE_EXP && memcmp(base, kts.base, DH_BYTES) == 0) {
            if (bn_to_256(r, kts.r2))
                kts.stage = ST_TWO_EXP;
            else
                state_reset();
        } else {
            state_reset();
            memcpy(kts.base, base, DH_BYTES);
            if (bn_to_256(r, kts.r1))
                kts.stage = ST_ONE_EXP;
            else
                state_reset();
        }
    } else {
        state_reset();
    }
    explicit_bzero(base, sizeof(base));
    kts.busy = 0;
    errno = saved_errno;
    return rv;
}

EXPORT int BN_mod_mul(BIGNUM *r, const BIGNUM *a, const BIGNUM *b,
                      const BIGNUM *m, BN_CTX *ctx)
{
    bn_mod_mul_fn real;
    uint8_t va[DH_BYTES], vb[DH_BYTES];
    int match, rv, saved_errno;

    RESOLVE(bn_mod_mul_fn, real, "BN_mod_mul");
    if (real == NULL)
        return 0;
    if (!keylog_enabled || kts.busy)
        return real(r, a, b, m, ctx);
    if (kts.stage != ST_TWO_EXP) {
        kts.stage = ST_IDLE;        /* nothing secret held in this state */
        return real(r, a, b, m, ctx);
    }

    kts.busy = 1;
    /* Inputs are read before the call: spiped passes r == a. */
    match = is_group14_prime(m) && bn_to_256(a, va) && bn_to_256(b, vb) &&
            ((memcmp(va, kts.r1, DH_BYTES) == 0 && memcmp(vb, kts.r2, DH_BYTES) == 0) ||
             (memcmp(va, kts.r2, DH_BYTES) == 0 && memcmp(vb, kts.r1, DH_BYTES) == 0));
    rv = real(r, a, b, m, ctx);
    saved_errno = errno;

    if (rv == 1 && match && bn_to_256(r, va))
        keylog_write(kts.base, va);
    state_reset();
    explicit_bzero(va, sizeof(va));
    explicit_bzero(vb, sizeof(vb));
    kts.busy = 0;
    errno = saved_errno;
    return rv;
}
