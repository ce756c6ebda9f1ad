/* fuzz_spiped.c — libFuzzer harness for core/spiped_crypto.c.
 *
 * The input is a spiped session as the dissector sees it, behind a small header:
 *
 *   offset  size
 *        0     1  ctrl: bit 1 uses y_SC = 1 (a -f session) instead of the y_SC field,
 *                 bit 2 writes seal_len into the length field of the low-level seal test,
 *                 bit 7 picks the direction (keys) of the seal tests
 *        1     8  n_base (big-endian): number of the first record of each direction
 *        9     2  seal_len (big-endian): payload length for the seal test (taken mod 1026)
 *       11     2  flip (big-endian): bit position changed in the tamper tests
 *       13    32  nonce_C
 *       45    32  nonce_S
 *       77   288  client DH message (y_C || MAC)
 *      365   288  server DH message (y_S || MAC)
 *      653   256  y_SC, the shared Diffie-Hellman value
 *      909   ...  records, each 1 tag byte + 1060 bytes (a short last one is zero-padded);
 *                 tag bit 0: direction (0 client to server), tag >> 1: added to the number
 *
 * A shorter input is zero-padded. The key is fixed: the committed test key
 * test-captures/spiped-test.key, so seeds cut from the test captures verify and decrypt.
 *
 * Checks (abort() on failure):
 *   - no function reports an internal error; statuses are in range;
 *   - a DH message verifies iff it equals what spiped_make_dh_message() builds for its y,
 *     a freshly made message verifies, and the same message with one bit changed does not;
 *   - spiped_dh_is_one()/spiped_dh_below_p() agree with a plain byte comparison (also on
 *     values next to p);
 *   - records: an opened record has 1..1024 bytes; for a record whose MAC verifies, the same
 *     record at another number, with the other direction's keys or with one bit changed
 *     fails its MAC; an opened payload sealed again opens to the same bytes;
 *   - seal then open round trips with the input's payload, length and number; a one-bit
 *     change makes it fail; lengths 0 and 1025 are refused; a low-level sealed block opens
 *     as OK or BAD_LENGTH exactly as its length field says.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "spiped_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "fuzz_spiped: %s:%d: ", __FILE__, __LINE__);                \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        abort();                                                                    \
    } while (0)

#define HDR_LEN      13
#define OFF_NONCE_C  HDR_LEN
#define OFF_NONCE_S  (OFF_NONCE_C + SPIPED_NONCE_LEN)
#define OFF_MSG_C    (OFF_NONCE_S + SPIPED_NONCE_LEN)
#define OFF_MSG_S    (OFF_MSG_C + SPIPED_DHMSG_LEN)
#define OFF_Y_SC     (OFF_MSG_S + SPIPED_DHMSG_LEN)
#define FIXED_LEN    (OFF_Y_SC + SPIPED_DH_LEN)          /* 909 */
#define TAGGED_LEN   (1 + SPIPED_RECORD_LEN)
#define MAX_RECORDS  12

/* test-captures/spiped-test.key (a test key, committed with the captures) */
static const uint8_t test_key_file[32] = {
    0x4f, 0xde, 0xbd, 0x05, 0xc6, 0x9d, 0xd1, 0x4e, 0xe4, 0xe6, 0xfb, 0x32, 0xa4, 0x9c, 0x8a, 0xbe,
    0x4d, 0xed, 0x11, 0xb4, 0x67, 0x24, 0x91, 0x74, 0x86, 0x9f, 0x72, 0xa5, 0x7c, 0x7d, 0x4b, 0xb5,
};

/* RFC 3526 group 14 prime, as hex */
static const char group14_hex[] =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

static uint8_t K[SPIPED_KEY_LEN];
static uint8_t group14_p[SPIPED_DH_LEN];
static int initialised;

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

static void init_once(void)
{
    if (initialised)
        return;
    if (sizeof group14_hex - 1 != 2 * SPIPED_DH_LEN)
        FAIL("group 14 prime has %zu hex digits", sizeof group14_hex - 1);
    for (size_t i = 0; i < SPIPED_DH_LEN; i++)
        group14_p[i] = (uint8_t)(hexval(group14_hex[2 * i]) << 4 | hexval(group14_hex[2 * i + 1]));
    if (spiped_crypto_init() != 0)
        FAIL("spiped_crypto_init failed");
    if (spiped_key_from_file_bytes(test_key_file, sizeof test_key_file, K) != 0)
        FAIL("spiped_key_from_file_bytes failed");
    initialised = 1;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- Diffie-Hellman values and messages -------------------------------------------------- */

static void check_y(const uint8_t y[SPIPED_DH_LEN])
{
    static const uint8_t zero[SPIPED_DH_LEN - 1];
    int one = memcmp(y, zero, sizeof zero) == 0 && y[SPIPED_DH_LEN - 1] == 1;
    int below = memcmp(y, group14_p, SPIPED_DH_LEN) < 0;
    if (spiped_dh_is_one(y) != one)
        FAIL("spiped_dh_is_one says %d", spiped_dh_is_one(y));
    if (spiped_dh_below_p(y) != below)
        FAIL("spiped_dh_below_p says %d", spiped_dh_below_p(y));
}

static void check_dh_message(const uint8_t dhmac[SPIPED_KEY_LEN],
                             const uint8_t msg[SPIPED_DHMSG_LEN], unsigned flip, const char *who)
{
    uint8_t made[SPIPED_DHMSG_LEN];
    int v = spiped_verify_dh_message(dhmac, msg);
    if (v != 0 && v != 1)
        FAIL("%s: spiped_verify_dh_message returned %d", who, v);
    if (spiped_make_dh_message(dhmac, msg, made) != 0)
        FAIL("%s: spiped_make_dh_message failed", who);
    if (v != (memcmp(made, msg, SPIPED_DHMSG_LEN) == 0))
        FAIL("%s: verify says %d, but the message %s the one made for its y", who, v,
             v ? "differs from" : "equals");
    if (spiped_verify_dh_message(dhmac, made) != 1)
        FAIL("%s: a freshly made DH message does not verify", who);
    made[(flip / 8) % SPIPED_DHMSG_LEN] ^= (uint8_t)(1u << (flip % 8));
    if (spiped_verify_dh_message(dhmac, made) != 0)
        FAIL("%s: a DH message with bit %u changed still verifies", who,
             (flip % (8 * SPIPED_DHMSG_LEN)));
    check_y(msg);
}

/* ---- records ----------------------------------------------------------------------------- */

static void must_fail_mac(const uint8_t E[SPIPED_KEY_LEN], const uint8_t H[SPIPED_KEY_LEN],
                          uint64_t n, const uint8_t rec[SPIPED_RECORD_LEN], const char *what)
{
    uint8_t plain[SPIPED_PAYLOAD_MAX];
    uint32_t len = 12345;
    spiped_record_status_t st = spiped_record_open(E, H, n, rec, plain, &len);
    if (st != SPIPED_RECORD_BAD_MAC)
        FAIL("%s: status %d, expected BAD_MAC", what, (int)st);
    if (len != 0)
        FAIL("%s: length %u on failure", what, (unsigned)len);
}

static void check_record(const spiped_keys_t *keys, int dir, uint64_t n,
                         const uint8_t rec[SPIPED_RECORD_LEN], unsigned flip)
{
    const uint8_t *E = dir ? keys->E_S : keys->E_C, *H = dir ? keys->H_S : keys->H_C;
    const uint8_t *E2 = dir ? keys->E_C : keys->E_S, *H2 = dir ? keys->H_C : keys->H_S;
    uint8_t plain[SPIPED_PAYLOAD_MAX], plain2[SPIPED_PAYLOAD_MAX];
    uint8_t copy[SPIPED_RECORD_LEN];
    uint32_t len = 12345, len2 = 0;

    spiped_record_status_t st = spiped_record_open(E, H, n, rec, plain, &len);
    switch (st) {
    case SPIPED_RECORD_BAD_MAC:
    case SPIPED_RECORD_BAD_LENGTH:
        if (len != 0)
            FAIL("record n=%llu: status %d with length %u", (unsigned long long)n, (int)st,
                 (unsigned)len);
        if (st == SPIPED_RECORD_BAD_MAC)
            return;
        break;
    case SPIPED_RECORD_OK:
        if (len == 0 || len > SPIPED_PAYLOAD_MAX)
            FAIL("record n=%llu opened with length %u", (unsigned long long)n, (unsigned)len);
        break;
    default:
        FAIL("record n=%llu: status %d", (unsigned long long)n, (int)st);
    }
    /* a direction's context, used for another record first (as the dissector reuses it),
     * answers as the one-shot open does */
    spiped_record_ctx_t *ctx = spiped_record_ctx_new(E, H);
    if (ctx == NULL)
        FAIL("no record context");
    len2 = 1;
    (void)spiped_record_open_ctx(ctx, n + 1, rec, plain2, &len2);
    if (spiped_record_open_ctx(ctx, n, rec, plain2, &len2) != st || len2 != len ||
        memcmp(plain, plain2, len) != 0)
        FAIL("record n=%llu: a reused context disagrees with spiped_record_open", (unsigned long long)n);
    spiped_record_ctx_free(ctx);
    /* the MAC verified: it binds the number, the direction and every bit */
    must_fail_mac(E, H, n + 1, rec, "record at the next number");
    must_fail_mac(E, H, n ^ ((uint64_t)1 << 63), rec, "record at a far number");
    must_fail_mac(E2, H2, n, rec, "record with the other direction's keys");
    memcpy(copy, rec, sizeof copy);
    copy[(flip / 8) % SPIPED_RECORD_LEN] ^= (uint8_t)(1u << (flip % 8));
    must_fail_mac(E, H, n, copy, "record with one bit changed");

    if (st == SPIPED_RECORD_OK) {
        /* seal the payload again and open it */
        if (spiped_record_seal(E, H, n, plain, len, copy) != 0)
            FAIL("sealing %u bytes failed", (unsigned)len);
        if (spiped_record_open(E, H, n, copy, plain2, &len2) != SPIPED_RECORD_OK || len2 != len ||
            memcmp(plain, plain2, len) != 0)
            FAIL("a resealed payload of %u bytes does not open to itself", (unsigned)len);
    }
}

static void check_seal(const spiped_keys_t *keys, int dir, uint64_t n, const uint8_t *payload,
                       size_t seal_len, int set_len_field, unsigned flip)
{
    const uint8_t *E = dir ? keys->E_S : keys->E_C, *H = dir ? keys->H_S : keys->H_C;
    uint8_t rec[SPIPED_RECORD_LEN], pt[SPIPED_PLAINTEXT_LEN];
    uint8_t plain[SPIPED_PAYLOAD_MAX];
    uint32_t len = 0;
    size_t l = seal_len % (SPIPED_PAYLOAD_MAX + 2);   /* 0..1025: both refusals included */

    int rc = spiped_record_seal(E, H, n, payload, l, rec);
    if (l == 0 || l > SPIPED_PAYLOAD_MAX) {
        if (rc != -1)
            FAIL("sealing %zu bytes returned %d", l, rc);
    } else {
        if (rc != 0)
            FAIL("sealing %zu bytes failed", l);
        spiped_record_status_t st = spiped_record_open(E, H, n, rec, plain, &len);
        if (st != SPIPED_RECORD_OK || len != l || memcmp(plain, payload, l) != 0)
            FAIL("seal/open of %zu bytes at n=%llu: status %d, length %u", l,
                 (unsigned long long)n, (int)st, (unsigned)len);
        rec[(flip / 8) % SPIPED_RECORD_LEN] ^= (uint8_t)(1u << (flip % 8));
        must_fail_mac(E, H, n, rec, "sealed record with one bit changed");
    }

    /* low-level: whatever the length field says */
    memcpy(pt, payload, SPIPED_PLAINTEXT_LEN);
    if (set_len_field)
        put_be32(pt + SPIPED_PAYLOAD_MAX, (uint32_t)seal_len);
    uint32_t L = (uint32_t)pt[SPIPED_PAYLOAD_MAX] << 24 | (uint32_t)pt[SPIPED_PAYLOAD_MAX + 1] << 16 |
                 (uint32_t)pt[SPIPED_PAYLOAD_MAX + 2] << 8 | pt[SPIPED_PAYLOAD_MAX + 3];
    if (spiped_record_seal_plaintext(E, H, n, pt, rec) != 0)
        FAIL("spiped_record_seal_plaintext failed");
    spiped_record_status_t st = spiped_record_open(E, H, n, rec, plain, &len);
    if (L == 0 || L > SPIPED_PAYLOAD_MAX) {
        if (st != SPIPED_RECORD_BAD_LENGTH || len != 0)
            FAIL("length field %u opened with status %d, length %u", (unsigned)L, (int)st,
                 (unsigned)len);
    } else if (st != SPIPED_RECORD_OK || len != L || memcmp(plain, pt, L) != 0) {
        FAIL("length field %u opened with status %d, length %u", (unsigned)L, (int)st,
             (unsigned)len);
    }
}

/* ---- entry point ------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t fixed[FIXED_LEN];
    uint8_t payload[SPIPED_PLAINTEXT_LEN];
    uint8_t dhmac_c[SPIPED_KEY_LEN], dhmac_s[SPIPED_KEY_LEN];
    uint8_t y[SPIPED_DH_LEN];
    spiped_keys_t keys;

    init_once();
    memset(fixed, 0, sizeof fixed);
    memcpy(fixed, data, size < FIXED_LEN ? size : FIXED_LEN);
    const unsigned ctrl = fixed[0];
    const uint64_t n_base = get_be64(fixed + 1);
    const size_t seal_len = (size_t)fixed[9] << 8 | fixed[10];
    const unsigned flip = (unsigned)fixed[11] << 8 | fixed[12];
    const uint8_t *nonce_c = fixed + OFF_NONCE_C, *nonce_s = fixed + OFF_NONCE_S;
    const uint8_t *msg_c = fixed + OFF_MSG_C, *msg_s = fixed + OFF_MSG_S;

    /* handshake */
    if (spiped_handshake_macs(K, nonce_c, nonce_s, dhmac_c, dhmac_s) != 0)
        FAIL("spiped_handshake_macs failed");
    check_dh_message(dhmac_c, msg_c, flip, "client");
    check_dh_message(dhmac_s, msg_s, flip >> 3, "server");

    /* DH value checks next to p, where the comparison is decided late */
    memcpy(y, group14_p, sizeof y);
    y[flip % SPIPED_DH_LEN] ^= (uint8_t)seal_len;
    y[SPIPED_DH_LEN - 1] ^= (uint8_t)(seal_len >> 8);
    check_y(y);
    check_y(fixed + OFF_Y_SC);
    spiped_dh_set_one(y);
    if (!spiped_dh_is_one(y) || !spiped_dh_below_p(y))
        FAIL("spiped_dh_set_one does not give 1");

    /* session keys */
    if (!(ctrl & 2))
        memcpy(y, fixed + OFF_Y_SC, sizeof y);
    if (spiped_session_keys(K, nonce_c, nonce_s, y, &keys) != 0)
        FAIL("spiped_session_keys failed");

    /* records */
    uint64_t count[2] = { 0, 0 };
    const uint8_t *p = size > FIXED_LEN ? data + FIXED_LEN : NULL;
    size_t left = size > FIXED_LEN ? size - FIXED_LEN : 0;
    for (unsigned r = 0; r < MAX_RECORDS && left > 0; r++) {
        uint8_t tagged[TAGGED_LEN];
        size_t take = left < TAGGED_LEN ? left : TAGGED_LEN;
        memset(tagged, 0, sizeof tagged);
        memcpy(tagged, p, take);
        p += take;
        left -= take;
        int dir = tagged[0] & 1;
        uint64_t n = n_base + count[dir]++ + (tagged[0] >> 1);
        check_record(&keys, dir, n, tagged + 1, flip + 8 * r);
    }

    /* seal/open round trips with the input's bytes as payload */
    memset(payload, 0, sizeof payload);
    if (size > HDR_LEN)
        memcpy(payload, data + HDR_LEN,
               size - HDR_LEN < sizeof payload ? size - HDR_LEN : sizeof payload);
    check_seal(&keys, (ctrl >> 7) & 1, n_base, payload, seal_len, (ctrl & 4) != 0, flip);

    /* key file handling and the fingerprint, on the input as a key file */
    uint8_t K2[SPIPED_KEY_LEN];
    char fp[SPIPED_FINGERPRINT_LEN + 1];
    if (spiped_key_from_file_bytes(data, size < 4096 ? size : 4096, K2) != 0)
        FAIL("spiped_key_from_file_bytes failed");
    spiped_key_fingerprint(K2, fp);
    for (int i = 0; i < SPIPED_FINGERPRINT_LEN; i++)
        if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f')))
            FAIL("fingerprint %s", fp);
    if (fp[SPIPED_FINGERPRINT_LEN] != '\0')
        FAIL("fingerprint not terminated");
    return 0;
}
