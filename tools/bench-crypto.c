/* bench-crypto.c - the ceiling for the plugin's spiped decryption (tools/benchmark.sh).
 *
 * What a receiver must do per data record (1028 bytes of AES-256-CTR ciphertext + a 32-byte
 * HMAC-SHA256 over ciphertext || be64(n), as core/spiped_crypto.c opens them): check the MAC,
 * then decrypt. Here with libgcrypt, one cipher and one MAC context opened once and reused,
 * over a 1 MB ring of valid records. Prints CPU-time throughput as one line of JSON.
 *
 *   bench-crypto RECORDS
 */
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CT_LEN 1028   /* 1024 bytes padded data + be32 length */
#define MAC_LEN 32
#define REC_LEN (CT_LEN + MAC_LEN)
#define RING 1024     /* distinct records; record i of the run is ring slot i % RING */

static void be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static void die(const char *what, gcry_error_t e)
{
    fprintf(stderr, "bench-crypto: %s: %s\n", what, gcry_strerror(e));
    exit(1);
}

#define CHECK(call) do { gcry_error_t e_ = (call); if (e_) die(#call, e_); } while (0)

/* counter block be64(n) || be64(0): record n's keystream starts at block 0 */
static void set_ctr(gcry_cipher_hd_t c, uint64_t n)
{
    uint8_t ctr[16] = {0};
    be64(ctr, n);
    CHECK(gcry_cipher_setctr(c, ctr, sizeof ctr));
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long records = argc > 1 ? atol(argv[1]) : 0;
    if (records <= 0) {
        fprintf(stderr, "usage: bench-crypto RECORDS\n");
        return 2;
    }
    if (!gcry_check_version(GCRYPT_VERSION))
        die("gcry_check_version", 0);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);

    uint8_t E[32], H[32], nbuf[8], out[CT_LEN];
    gcry_randomize(E, sizeof E, GCRY_STRONG_RANDOM);
    gcry_randomize(H, sizeof H, GCRY_STRONG_RANDOM);
    gcry_cipher_hd_t c;
    gcry_mac_hd_t m;
    CHECK(gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_CTR, 0));
    CHECK(gcry_cipher_setkey(c, E, sizeof E));
    CHECK(gcry_mac_open(&m, GCRY_MAC_HMAC_SHA256, 0, NULL));
    CHECK(gcry_mac_setkey(m, H, sizeof H));

    /* the ring, sealed as a sender would (untimed): full 1024-byte payloads */
    uint8_t *ring = malloc((size_t)RING * REC_LEN);
    if (!ring)
        return 1;
    for (uint64_t n = 0; n < RING; n++) {
        uint8_t *r = ring + n * REC_LEN;
        gcry_create_nonce(r, 1024);
        r[1024] = 0, r[1025] = 0, r[1026] = 4, r[1027] = 0; /* be32(1024) */
        set_ctr(c, n);
        CHECK(gcry_cipher_encrypt(c, r, CT_LEN, NULL, 0));
        size_t len = MAC_LEN;
        be64(nbuf, n);
        CHECK(gcry_mac_reset(m));
        CHECK(gcry_mac_write(m, r, CT_LEN));
        CHECK(gcry_mac_write(m, nbuf, 8));
        CHECK(gcry_mac_read(m, r + CT_LEN, &len));
    }

    /* timed: verify, then decrypt, as the receiver does */
    double t0 = cpu_seconds();
    for (long i = 0; i < records; i++) {
        uint64_t n = (uint64_t)(i % RING);
        const uint8_t *r = ring + n * REC_LEN;
        be64(nbuf, n);
        CHECK(gcry_mac_reset(m));
        CHECK(gcry_mac_write(m, r, CT_LEN));
        CHECK(gcry_mac_write(m, nbuf, 8));
        CHECK(gcry_mac_verify(m, r + CT_LEN, MAC_LEN));
        set_ctr(c, n);
        CHECK(gcry_cipher_decrypt(c, out, CT_LEN, r, CT_LEN));
        if (out[1026] != 4 || out[1027] != 0) { /* L must come back as 1024 */
            fprintf(stderr, "bench-crypto: record %ld decrypted wrong\n", i);
            return 1;
        }
    }
    double t = cpu_seconds() - t0;
    printf("{\"records\": %ld, \"cpu_s\": %.6f, \"wire_mb_s\": %.1f, \"plaintext_mb_s\": %.1f, "
           "\"libgcrypt\": \"%s\"}\n",
           records, t, records * (double)REC_LEN / t / 1e6, records * 1024.0 / t / 1e6,
           gcry_check_version(NULL));
    gcry_cipher_close(c);
    gcry_mac_close(m);
    free(ring);
    return 0;
}
