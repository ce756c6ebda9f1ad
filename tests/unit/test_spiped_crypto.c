/*
 * Unit tests for core/spiped_crypto.c.
 *
 * Build and run:
 *   gcc -Wall -Wextra -Werror -std=c11 -O2 -Icore core/spiped_crypto.c \
 *       tests/unit/test_spiped_crypto.c $(pkg-config --cflags --libs libgcrypt) \
 *       -o /tmp/ts && /tmp/ts
 *
 * The known-answer values were computed independently (Python hashlib/hmac
 * and an independent AES-CTR); the real vectors in spiped_vectors.h come from
 * test-captures/spiped-fast.pcap (spiped 1.6.2, both sides -f).
 * The last line of output is "N passed, M failed"; exit status is non-zero on
 * any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "spiped_crypto.h"
#include "spiped_vectors.h"

#include "unit_check.h"

/* ------------------------------------------------------------------ helpers */

static void hex2bin(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            abort();
        out[i] = (uint8_t)v;
    }
}

static int eq_hex(const uint8_t *b, size_t len, const char *hex)
{
    uint8_t tmp[256];
    if (len > sizeof tmp || strlen(hex) != 2 * len)
        return 0;
    hex2bin(hex, tmp, len);
    return memcmp(tmp, b, len) == 0;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    gcry_md_hash_buffer(GCRY_MD_SHA256, out, p, n);
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

/* RFC 3526 group 14 prime, as printed in the RFC (independent of the C table). */
static const char *rfc3526_p_hex =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF";

/* Known-answer inputs: K = SHA-256("spiped unit test key file"),
 * nonce_C = 00..1f, nonce_S = 20..3f, y_SC = 1. */
static const char kat_keyfile[] = "spiped unit test key file";
static uint8_t kat_K[32], kat_nc[32], kat_ns[32];

static void kat_setup(void)
{
    for (int i = 0; i < 32; i++) {
        kat_nc[i] = (uint8_t)i;
        kat_ns[i] = (uint8_t)(32 + i);
    }
    spiped_key_from_file_bytes((const uint8_t *)kat_keyfile, strlen(kat_keyfile), kat_K);
}

/* -------------------------------------------------------------------- tests */

static void test_init(void)
{
    CHECK(spiped_crypto_init() == 0, "init");
    CHECK(spiped_crypto_init() == 0, "init is idempotent");
    CHECK(gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P), "libgcrypt initialised");
}

static void test_key_and_fingerprint(void)
{
    uint8_t K[32], K2[32];
    char fp[SPIPED_FINGERPRINT_LEN + 1], fp2[SPIPED_FINGERPRINT_LEN + 1], khex[65];

    CHECK(spiped_key_from_file_bytes((const uint8_t *)"abc", 3, K) == 0, "key from bytes");
    CHECK(eq_hex(K, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "K = SHA-256(file) (FIPS 180-2 'abc')");
    CHECK(spiped_key_from_file_bytes(NULL, 0, K2) == 0, "empty key file accepted");
    CHECK(eq_hex(K2, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          "K of empty file");
    CHECK(spiped_key_from_file_bytes(NULL, 5, K2) == -1, "NULL data with len rejected");

    CHECK(eq_hex(kat_K, 32, "ce8befa7ea8d981b6f6db59545e344b5d89eef820688e03f7470d50749768864"),
          "KAT K");
    spiped_key_fingerprint(kat_K, fp);
    CHECK(strlen(fp) == SPIPED_FINGERPRINT_LEN, "fingerprint length");
    CHECK(strcmp(fp, "bf9033757e0e968a") == 0, "fingerprint KAT (SHA-256(label||K)[0..8))");
    for (int i = 0; i < 32; i++)
        sprintf(khex + 2 * i, "%02x", kat_K[i]);
    CHECK(strncmp(fp, khex, SPIPED_FINGERPRINT_LEN) != 0, "fingerprint is not a prefix of K");
    spiped_key_fingerprint(K, fp2);
    CHECK(strcmp(fp, fp2) != 0, "different keys, different fingerprints");
    spiped_key_fingerprint(kat_K, fp2);
    CHECK(strcmp(fp, fp2) == 0, "fingerprint deterministic");
}

static void test_handshake_kat(void)
{
    uint8_t mc[32], ms[32], y[SPIPED_DH_LEN], msg[SPIPED_DHMSG_LEN];
    spiped_keys_t k;

    CHECK(spiped_handshake_macs(kat_K, kat_nc, kat_ns, mc, ms) == 0, "handshake macs");
    CHECK(eq_hex(mc, 32, "6c03418dfc3a99165bca10138fbec71128a8aa7dc7c7e2e70671beb577a7d98c"),
          "KAT dhmac_C");
    CHECK(eq_hex(ms, 32, "01a0da7e1bd47d2ad5060ff5b89005be096f6c4eb2ad050acaf2f9cc0e4342d2"),
          "KAT dhmac_S");

    spiped_dh_set_one(y);
    CHECK(spiped_session_keys(kat_K, kat_nc, kat_ns, y, &k) == 0, "session keys");
    CHECK(eq_hex(k.E_C, 32, "cfe821ef17a89e8ef6e80872a798a6253cb0f3c35dd8570c4bd2d6dbf2a0dd6d"), "KAT E_C");
    CHECK(eq_hex(k.H_C, 32, "c936e4941a981ac640a5419563ae4fcc2dbf61e7b8906479610e147fe908c602"), "KAT H_C");
    CHECK(eq_hex(k.E_S, 32, "f5cba2c02503ef451e120b0b500b84820f8566214d8bd3d07e133a93e097050b"), "KAT E_S");
    CHECK(eq_hex(k.H_S, 32, "8ba1b67bd17a92f6125d3e5ea4ebb688a6647796b35d271c530b902d81d97c46"), "KAT H_S");

    /* DH message: y = 01, then (i*7+3) & 0xff for i = 1..255 */
    for (int i = 0; i < SPIPED_DH_LEN; i++)
        y[i] = (uint8_t)((i * 7 + 3) & 0xff);
    y[0] = 0x01;
    CHECK(spiped_make_dh_message(mc, y, msg) == 0, "make DH message");
    CHECK(memcmp(msg, y, SPIPED_DH_LEN) == 0, "DH message starts with y");
    CHECK(eq_hex(msg + SPIPED_DH_LEN, 32,
                 "a8d4dbe45c8dade3386d7c6b4f9998b7327d1524ef32ec73db5edefcd52475b7"),
          "KAT h = HMAC-SHA256(dhmac_C, y)");
    CHECK(spiped_verify_dh_message(mc, msg) == 1, "DH message verifies");
    CHECK(spiped_verify_dh_message(ms, msg) == 0, "DH message fails with the other side's dhmac");
    msg[100] ^= 0x80;
    CHECK(spiped_verify_dh_message(mc, msg) == 0, "flipped bit in y detected");
    msg[100] ^= 0x80;
    msg[SPIPED_DH_LEN + 31] ^= 0x01;
    CHECK(spiped_verify_dh_message(mc, msg) == 0, "flipped bit in h detected");
    msg[SPIPED_DH_LEN + 31] ^= 0x01;
    CHECK(spiped_verify_dh_message(mc, msg) == 1, "restored DH message verifies again");
}

static void test_dh_checks(void)
{
    uint8_t y[SPIPED_DH_LEN], p[SPIPED_DH_LEN];

    hex2bin(rfc3526_p_hex, p, sizeof p);

    spiped_dh_set_one(y);
    CHECK(spiped_dh_is_one(y) == 1, "y = 1 detected");
    CHECK(spiped_dh_below_p(y) == 1, "1 < p");
    y[0] = 0x01;
    CHECK(spiped_dh_is_one(y) == 0, "2^2040 + 1 is not one");
    memset(y, 0, sizeof y);
    CHECK(spiped_dh_is_one(y) == 0, "0 is not one");
    y[SPIPED_DH_LEN - 1] = 2;
    CHECK(spiped_dh_is_one(y) == 0, "2 is not one");
    y[SPIPED_DH_LEN - 2] = 1;
    y[SPIPED_DH_LEN - 1] = 1;
    CHECK(spiped_dh_is_one(y) == 0, "257 is not one");

    memcpy(y, p, sizeof y);
    CHECK(spiped_dh_below_p(y) == 0, "p is not below p");
    y[SPIPED_DH_LEN - 1] -= 1;                      /* p - 1 (p ends in 0xff) */
    CHECK(spiped_dh_below_p(y) == 1, "p - 1 < p");
    memcpy(y, p, sizeof y);
    y[SPIPED_DH_LEN - 9] += 1;                      /* p + 2^64 (that byte is 0x68) */
    CHECK(spiped_dh_below_p(y) == 0, "p + 2^64 >= p");
    memcpy(y, p, sizeof y);
    y[8] = 0xca;                                    /* > p in a middle byte */
    CHECK(spiped_dh_below_p(y) == 0, "larger middle byte >= p");
    y[8] = 0xc8;                                    /* < p in a middle byte */
    CHECK(spiped_dh_below_p(y) == 1, "smaller middle byte < p");
    memset(y, 0xff, sizeof y);
    CHECK(spiped_dh_below_p(y) == 0, "2^2048 - 1 >= p");
}

static void test_records(void)
{
    uint8_t E[32], H[32], E2[32], rec[SPIPED_RECORD_LEN], out[SPIPED_PAYLOAD_MAX];
    uint8_t data[SPIPED_PAYLOAD_MAX + 1], pt[SPIPED_PLAINTEXT_LEN], digest[32];
    uint32_t len = 99;
    spiped_keys_t k;
    uint8_t one[SPIPED_DH_LEN];
    static const size_t lens[] = {1, 2, 15, 16, 17, 1000, 1023, 1024};
    static const uint64_t ns[] = {0, 1, 2, 0xffffffffULL, 0x100000000ULL, UINT64_MAX};
    static const char hello[] = "hello, spiped";

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    memset(E, 0x11, sizeof E);
    memset(H, 0x22, sizeof H);
    memset(E2, 0x33, sizeof E2);

    /* known answer (independent AES-256-CTR + HMAC implementation) */
    spiped_dh_set_one(one);
    spiped_session_keys(kat_K, kat_nc, kat_ns, one, &k);
    CHECK(spiped_record_seal(k.E_C, k.H_C, 7, (const uint8_t *)hello, strlen(hello), rec) == 0,
          "seal KAT record");
    sha256(rec, sizeof rec, digest);
    CHECK(eq_hex(rec, 16, "00587c5b683576899aa029ad93ab7d47"), "KAT ciphertext start (n=7)");
    CHECK(eq_hex(rec + 1028, 32, "e051b9f03dbbdd9d22a4e18db56efbacad550637145e7555976c4acca4b0e48b"),
          "KAT record MAC (n=7)");
    CHECK(eq_hex(digest, 32, "0896a828785a2d836ea41f77c56ea95f40459b0ecaed662e54b89d6857428c1d"),
          "KAT whole record (n=7)");
    CHECK(spiped_record_seal(k.E_C, k.H_C, 0x0123456789abcdefULL, (const uint8_t *)hello,
                             strlen(hello), rec) == 0, "seal KAT record, big n");
    sha256(rec, sizeof rec, digest);
    CHECK(eq_hex(digest, 32, "9d51279b25f4e89a53fa5e7c5613135d42ff93f9fc20d17257e1b6de606eb11e"),
          "KAT whole record (n=0x0123456789abcdef: counter block uses be64(n))");
    CHECK(spiped_record_open(k.E_C, k.H_C, 0x0123456789abcdefULL, rec, out, &len) == SPIPED_RECORD_OK
          && len == strlen(hello) && memcmp(out, hello, len) == 0, "open KAT record");

    /* round trips */
    int rt_ok = 1;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
            len = 0;
            if (spiped_record_seal(E, H, ns[j], data, lens[i], rec) != 0 ||
                spiped_record_open(E, H, ns[j], rec, out, &len) != SPIPED_RECORD_OK ||
                len != lens[i] || memcmp(out, data, len) != 0) {
                printf("  round trip failed: len %zu n %llu\n", lens[i], (unsigned long long)ns[j]);
                rt_ok = 0;
            }
        }
    }
    CHECK(rt_ok, "round trips (8 lengths x 6 record numbers)");

    CHECK(spiped_record_seal(E, H, 0, data, 0, rec) == -1, "seal rejects L = 0");
    CHECK(spiped_record_seal(E, H, 0, data, 1025, rec) == -1, "seal rejects L = 1025");

    /* wrong n / wrong keys */
    spiped_record_seal(E, H, 5, data, 100, rec);
    CHECK(spiped_record_open(E, H, 4, rec, out, &len) == SPIPED_RECORD_BAD_MAC, "wrong n -> BAD_MAC");
    CHECK(spiped_record_open(E, H, 6, rec, out, &len) == SPIPED_RECORD_BAD_MAC, "n+1 -> BAD_MAC");
    CHECK(spiped_record_open(E, E2, 5, rec, out, &len) == SPIPED_RECORD_BAD_MAC, "wrong H -> BAD_MAC");
    len = 77;
    CHECK(spiped_record_open(E, E2, 5, rec, out, &len) == SPIPED_RECORD_BAD_MAC && len == 0,
          "len_out is 0 on failure");
    CHECK(spiped_record_open(E2, H, 5, rec, out, &len) != SPIPED_RECORD_OK ||
          memcmp(out, data, 100) != 0, "wrong E does not yield the plaintext");

    /* single flipped bits */
    static const size_t flips[] = {0, 1, 15, 16, 500, 1023, 1024, 1027, 1028, 1040, 1059};
    int flip_ok = 1;
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        spiped_record_seal(E, H, 5, data, 100, rec);
        rec[flips[i]] ^= 0x01;
        if (spiped_record_open(E, H, 5, rec, out, &len) != SPIPED_RECORD_BAD_MAC) {
            printf("  flip at %zu not detected\n", flips[i]);
            flip_ok = 0;
        }
    }
    CHECK(flip_ok, "one flipped bit anywhere in ciphertext or mac -> BAD_MAC");
    spiped_record_seal(E, H, 5, data, 100, rec);
    rec[300] ^= 0x40;
    CHECK(spiped_record_open(E, H, 5, rec, out, &len) == SPIPED_RECORD_BAD_MAC, "flip in ciphertext");
    rec[300] ^= 0x40;
    rec[SPIPED_RECORD_LEN - 1] ^= 0x80;
    CHECK(spiped_record_open(E, H, 5, rec, out, &len) == SPIPED_RECORD_BAD_MAC, "flip in mac");

    /* length field */
    static const uint32_t badL[] = {0, 1025, 0x10000, 0xffffffffu};
    for (size_t i = 0; i < sizeof badL / sizeof badL[0]; i++) {
        memset(pt, 0, sizeof pt);
        memcpy(pt, data, 1024);
        pt[1024] = (uint8_t)(badL[i] >> 24);
        pt[1025] = (uint8_t)(badL[i] >> 16);
        pt[1026] = (uint8_t)(badL[i] >> 8);
        pt[1027] = (uint8_t)badL[i];
        CHECK(spiped_record_seal_plaintext(E, H, 9, pt, rec) == 0, "seal raw plaintext");
        char what[64];
        snprintf(what, sizeof what, "L = %u -> BAD_LENGTH", (unsigned)badL[i]);
        CHECK(spiped_record_open(E, H, 9, rec, out, &len) == SPIPED_RECORD_BAD_LENGTH, "%s", what);
    }
    pt[1024] = 0; pt[1025] = 0; pt[1026] = 0x04; pt[1027] = 0x00;   /* L = 1024 */
    spiped_record_seal_plaintext(E, H, 9, pt, rec);
    CHECK(spiped_record_open(E, H, 9, rec, out, &len) == SPIPED_RECORD_OK && len == 1024 &&
          memcmp(out, data, 1024) == 0, "raw L = 1024 accepted");
    memset(pt + 1, 0xaa, 1023);                                      /* non-zero padding */
    pt[1026] = 0; pt[1027] = 1;                                      /* L = 1 */
    spiped_record_seal_plaintext(E, H, 9, pt, rec);
    CHECK(spiped_record_open(E, H, 9, rec, out, &len) == SPIPED_RECORD_OK && len == 1 &&
          out[0] == data[0], "raw L = 1 accepted, padding ignored");
    CHECK(spiped_record_open(E, H, 9, rec, out, NULL) == SPIPED_RECORD_ERROR, "NULL len_out");
}

/* Real traffic: spiped-fast.pcap (spiped 1.6.2 -f on both sides, redis-cli). */
/* A direction's context, kept across records as the dissector keeps it: the same results as
 * opening each record on its own, in any order, also after a record that failed. */
static void test_record_ctx(void)
{
    uint8_t E[32], H[32], E2[32], data[1024], rec[SPIPED_RECORD_LEN], out[SPIPED_PAYLOAD_MAX];
    uint32_t len = 0;
    for (int i = 0; i < 32; i++) {
        E[i] = (uint8_t)(i * 7 + 1);
        H[i] = (uint8_t)(i * 13 + 5);
        E2[i] = (uint8_t)(i * 3 + 2);
    }
    for (int i = 0; i < 1024; i++)
        data[i] = (uint8_t)(i * 31 + 17);

    spiped_record_ctx_t *c = spiped_record_ctx_new(E, H);
    CHECK(c != NULL, "context opened");
    static const uint64_t order[] = {0, 1, 2, 7, 3, 0x0123456789abcdefULL, 1, 0};
    int same = 1;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t n = 1 + (size_t)((order[i] * 97) % 1024);
        uint8_t one[SPIPED_PAYLOAD_MAX];
        uint32_t one_len = 0;
        spiped_record_seal(E, H, order[i], data, n, rec);
        if (spiped_record_open_ctx(c, order[i], rec, out, &len) != SPIPED_RECORD_OK || len != n ||
            memcmp(out, data, n) != 0 ||
            spiped_record_open(E, H, order[i], rec, one, &one_len) != SPIPED_RECORD_OK ||
            one_len != len || memcmp(one, out, len) != 0)
            same = 0;
        /* a failure in between leaves the context usable */
        rec[5] ^= 1;
        if (spiped_record_open_ctx(c, order[i], rec, out, &len) != SPIPED_RECORD_BAD_MAC || len != 0)
            same = 0;
    }
    CHECK(same, "one context opens records in any order, as spiped_record_open does, also after a bad MAC");
    spiped_record_seal(E2, H, 4, data, 10, rec);
    CHECK(spiped_record_open_ctx(c, 4, rec, out, &len) != SPIPED_RECORD_OK || memcmp(out, data, 10) != 0,
          "a record sealed with another E does not open to its plaintext");
    CHECK(spiped_record_open_ctx(NULL, 4, rec, out, &len) == SPIPED_RECORD_ERROR && len == 0,
          "no context: error");
    spiped_record_ctx_free(c);
    spiped_record_ctx_free(NULL);
    CHECK(spiped_record_ctx_new(NULL, H) == NULL, "no key: no context");
}

static void test_real_vectors(void)
{
    uint8_t K[32], Kw[32], mc[32], ms[32], wc[32], ws[32], one[SPIPED_DH_LEN];
    uint8_t out[SPIPED_PAYLOAD_MAX], two[2 * SPIPED_PAYLOAD_MAX];
    uint32_t len, len2;
    spiped_keys_t k, kw, kx;
    static const char cmd0[] = "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n";
    static const char cmd1[] = "*3\r\n$3\r\nSET\r\n$15\r\nspiped:greeting\r\n$12\r\nhello spiped\r\n";

    CHECK(spiped_key_from_file_bytes(vec_key_file, sizeof vec_key_file, K) == 0, "real K");
    CHECK(spiped_key_from_file_bytes(vec_wrong_key_file, sizeof vec_wrong_key_file, Kw) == 0,
          "wrong K");

    /* handshake */
    CHECK(spiped_dh_is_one(vec_dhmsg_c) == 1, "client (-f) sent y = 1");
    CHECK(spiped_dh_is_one(vec_dhmsg_s) == 1, "server (-f) sent y = 1");
    CHECK(spiped_dh_below_p(vec_dhmsg_c) && spiped_dh_below_p(vec_dhmsg_s), "real y < p");
    CHECK(spiped_handshake_macs(K, vec_nonce_c, vec_nonce_s, mc, ms) == 0, "real dhmacs");
    CHECK(spiped_verify_dh_message(mc, vec_dhmsg_c) == 1, "client DH message verifies with key");
    CHECK(spiped_verify_dh_message(ms, vec_dhmsg_s) == 1, "server DH message verifies with key");
    CHECK(spiped_verify_dh_message(ms, vec_dhmsg_c) == 0, "client message fails with dhmac_S");
    CHECK(spiped_verify_dh_message(mc, vec_dhmsg_s) == 0, "server message fails with dhmac_C");
    CHECK(spiped_handshake_macs(Kw, vec_nonce_c, vec_nonce_s, wc, ws) == 0, "wrong-key dhmacs");
    CHECK(spiped_verify_dh_message(wc, vec_dhmsg_c) == 0, "client DH message fails with wrong key");
    CHECK(spiped_verify_dh_message(ws, vec_dhmsg_s) == 0, "server DH message fails with wrong key");
    CHECK(spiped_handshake_macs(K, vec_nonce_s, vec_nonce_c, wc, ws) == 0, "swapped-nonce dhmacs");
    CHECK(spiped_verify_dh_message(wc, vec_dhmsg_c) == 0 &&
          spiped_verify_dh_message(ws, vec_dhmsg_s) == 0, "swapped roles fail (salt order matters)");

    /* records */
    spiped_dh_set_one(one);
    CHECK(spiped_session_keys(K, vec_nonce_c, vec_nonce_s, one, &k) == 0, "real session keys");

    CHECK(spiped_record_open(k.E_C, k.H_C, 0, vec_c2s_rec0, out, &len) == SPIPED_RECORD_OK,
          "c2s record 0 opens");
    CHECK(len == strlen(cmd0) && memcmp(out, cmd0, len) == 0,
          "c2s record 0 = redis-cli's COMMAND DOCS");
    CHECK(out[0] == '*', "client's first record starts with '*'");
    CHECK(spiped_record_open(k.E_C, k.H_C, 1, vec_c2s_rec1, out, &len) == SPIPED_RECORD_OK,
          "c2s record 1 opens");
    CHECK(len == strlen(cmd1) && memcmp(out, cmd1, len) == 0,
          "c2s record 1 = SET spiped:greeting \"hello spiped\"");

    CHECK(spiped_record_open(k.E_S, k.H_S, 0, vec_s2c_rec0, two, &len) == SPIPED_RECORD_OK,
          "s2c record 0 opens");
    CHECK(len >= 1 && two[0] == '*', "server's first record starts with '*' (COMMAND DOCS reply)");
    CHECK(spiped_record_open(k.E_S, k.H_S, 1, vec_s2c_rec1, two + len, &len2) ==
          SPIPED_RECORD_OK, "s2c record 1 opens");
    CHECK(contains(two, len + len2, "\r\n$7\r\nsummary\r\n"), "s2c stream carries command docs");

    /* failures on real records */
    CHECK(spiped_record_open(k.E_C, k.H_C, 1, vec_c2s_rec0, out, &len) == SPIPED_RECORD_BAD_MAC,
          "real record with wrong n -> BAD_MAC");
    CHECK(spiped_record_open(k.E_S, k.H_S, 0, vec_c2s_rec0, out, &len) == SPIPED_RECORD_BAD_MAC,
          "client record with server keys -> BAD_MAC");
    CHECK(spiped_session_keys(Kw, vec_nonce_c, vec_nonce_s, one, &kw) == 0, "wrong-key session keys");
    CHECK(spiped_record_open(kw.E_C, kw.H_C, 0, vec_c2s_rec0, out, &len) == SPIPED_RECORD_BAD_MAC &&
          spiped_record_open(kw.E_S, kw.H_S, 0, vec_s2c_rec0, out, &len) == SPIPED_RECORD_BAD_MAC,
          "real records with wrong key -> BAD_MAC");
    uint8_t y2[SPIPED_DH_LEN];
    memset(y2, 0, sizeof y2);
    y2[SPIPED_DH_LEN - 1] = 2;
    spiped_session_keys(K, vec_nonce_c, vec_nonce_s, y2, &kx);
    CHECK(spiped_record_open(kx.E_C, kx.H_C, 0, vec_c2s_rec0, out, &len) == SPIPED_RECORD_BAD_MAC,
          "real record with wrong y_SC -> BAD_MAC");
    uint8_t bad[SPIPED_RECORD_LEN];
    memcpy(bad, vec_c2s_rec0, sizeof bad);
    bad[10] ^= 0x01;
    CHECK(spiped_record_open(k.E_C, k.H_C, 0, bad, out, &len) == SPIPED_RECORD_BAD_MAC,
          "real record, flipped ciphertext bit -> BAD_MAC");
    memcpy(bad, vec_c2s_rec0, sizeof bad);
    bad[SPIPED_RECORD_LEN - 5] ^= 0x10;
    CHECK(spiped_record_open(k.E_C, k.H_C, 0, bad, out, &len) == SPIPED_RECORD_BAD_MAC,
          "real record, flipped mac bit -> BAD_MAC");

    /* re-sealing the decrypted data reproduces the real record bit for bit */
    uint8_t again[SPIPED_RECORD_LEN];
    spiped_record_open(k.E_C, k.H_C, 1, vec_c2s_rec1, out, &len);
    CHECK(spiped_record_seal(k.E_C, k.H_C, 1, out, len, again) == 0 &&
          memcmp(again, vec_c2s_rec1, sizeof again) == 0,
          "seal(open(real record)) == real record (zero padding on the wire)");
}

int main(void)
{
    kat_setup();
    test_init();
    test_key_and_fingerprint();
    test_handshake_kat();
    test_dh_checks();
    test_records();
    test_record_ctx();
    test_real_vectors();
    return unit_summary();
}
