/*
 * spiped_crypto.c - epan-free cryptographic core for the spiped dissector.
 * See spiped_crypto.h for the API and /work/shared/spiped-protocol.md for
 * the wire format.  Uses libgcrypt only.
 */
#include "spiped_crypto.h"
#include "spiped_group14.h"

#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

static const char fingerprint_label[] = "spiped-fingerprint";

/* ---------------------------------------------------------------------- */
/* small helpers                                                          */

static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--)
        *v++ = 0;
}

/* Constant-time equality: 1 if equal, 0 otherwise. */
static int ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static void put_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void put_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t in[4])
{
    return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) |
           ((uint32_t)in[2] << 8) | (uint32_t)in[3];
}

/* out = HMAC-SHA256(key, a || b); b may be NULL when blen == 0. */
static int hmac_sha256(const uint8_t key[SPIPED_KEY_LEN],
                       const uint8_t *a, size_t alen,
                       const uint8_t *b, size_t blen,
                       uint8_t out[SPIPED_MAC_LEN])
{
    gcry_mac_hd_t h;
    size_t outlen = SPIPED_MAC_LEN;
    int rc = -1;

    if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, 0, NULL) != 0)
        return -1;
    if (gcry_mac_setkey(h, key, SPIPED_KEY_LEN) != 0)
        goto out;
    if (alen && gcry_mac_write(h, a, alen) != 0)
        goto out;
    if (blen && gcry_mac_write(h, b, blen) != 0)
        goto out;
    if (gcry_mac_read(h, out, &outlen) != 0 || outlen != SPIPED_MAC_LEN)
        goto out;
    rc = 0;
out:
    gcry_mac_close(h);
    return rc;
}

/* PBKDF2-HMAC-SHA256 with one iteration and K as the password. */
static int pbkdf2_1(const uint8_t K[SPIPED_KEY_LEN],
                    const uint8_t *salt, size_t saltlen,
                    uint8_t *out, size_t outlen)
{
    if (gcry_kdf_derive(K, SPIPED_KEY_LEN, GCRY_KDF_PBKDF2, GCRY_MD_SHA256,
                        salt, saltlen, 1, outlen, out) != 0)
        return -1;
    return 0;
}

/* AES-256-CTR with counter block be64(n) || be64(0); in and out may alias. */
static int aes_ctr(const uint8_t E[SPIPED_KEY_LEN], uint64_t n,
                   const uint8_t *in, uint8_t *out, size_t len)
{
    gcry_cipher_hd_t c;
    uint8_t ctr[16];
    int rc = -1;

    if (gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_CTR, 0) != 0)
        return -1;
    put_be64(ctr, n);
    memset(ctr + 8, 0, 8);
    if (gcry_cipher_setkey(c, E, SPIPED_KEY_LEN) != 0)
        goto out;
    if (gcry_cipher_setctr(c, ctr, sizeof ctr) != 0)
        goto out;
    if (in == out) {
        if (gcry_cipher_encrypt(c, out, len, NULL, 0) != 0)
            goto out;
    } else {
        if (gcry_cipher_encrypt(c, out, len, in, len) != 0)
            goto out;
    }
    rc = 0;
out:
    gcry_cipher_close(c);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* public API                                                             */

int spiped_crypto_init(void)
{
    /* Inside Wireshark libgcrypt is already initialised: leave it alone. */
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
        return 0;
    if (gcry_check_version(GCRYPT_VERSION) == NULL)
        return -1;
    /* We hold nothing that needs locked memory; avoid secmem warnings. */
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return 0;
}

int spiped_key_from_file_bytes(const uint8_t *data, size_t len, uint8_t K[SPIPED_KEY_LEN])
{
    static const uint8_t empty = 0;

    if (K == NULL || (data == NULL && len != 0))
        return -1;
    if (spiped_crypto_init() != 0)
        return -1;
    gcry_md_hash_buffer(GCRY_MD_SHA256, K, data ? data : &empty, len);
    return 0;
}

void spiped_key_fingerprint(const uint8_t K[SPIPED_KEY_LEN], char out[SPIPED_FINGERPRINT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    gcry_md_hd_t h;
    const uint8_t *digest;

    memset(out, '?', SPIPED_FINGERPRINT_LEN);
    out[SPIPED_FINGERPRINT_LEN] = '\0';
    if (spiped_crypto_init() != 0)
        return;
    if (gcry_md_open(&h, GCRY_MD_SHA256, 0) != 0)
        return;
    gcry_md_write(h, fingerprint_label, sizeof fingerprint_label - 1);
    gcry_md_write(h, K, SPIPED_KEY_LEN);
    digest = gcry_md_read(h, GCRY_MD_SHA256);
    if (digest != NULL) {
        for (int i = 0; i < SPIPED_FINGERPRINT_LEN / 2; i++) {
            out[2 * i] = hex[digest[i] >> 4];
            out[2 * i + 1] = hex[digest[i] & 0x0f];
        }
    }
    gcry_md_close(h);
}

int spiped_handshake_macs(const uint8_t K[SPIPED_KEY_LEN],
                          const uint8_t nonce_c[SPIPED_NONCE_LEN],
                          const uint8_t nonce_s[SPIPED_NONCE_LEN],
                          uint8_t dhmac_c[SPIPED_KEY_LEN],
                          uint8_t dhmac_s[SPIPED_KEY_LEN])
{
    uint8_t salt[2 * SPIPED_NONCE_LEN];
    uint8_t dk[2 * SPIPED_KEY_LEN];
    int rc;

    if (spiped_crypto_init() != 0)
        return -1;
    memcpy(salt, nonce_c, SPIPED_NONCE_LEN);
    memcpy(salt + SPIPED_NONCE_LEN, nonce_s, SPIPED_NONCE_LEN);
    rc = pbkdf2_1(K, salt, sizeof salt, dk, sizeof dk);
    if (rc == 0) {
        memcpy(dhmac_c, dk, SPIPED_KEY_LEN);
        memcpy(dhmac_s, dk + SPIPED_KEY_LEN, SPIPED_KEY_LEN);
    }
    wipe(dk, sizeof dk);
    return rc;
}

int spiped_verify_dh_message(const uint8_t dhmac[SPIPED_KEY_LEN],
                             const uint8_t msg[SPIPED_DHMSG_LEN])
{
    uint8_t h[SPIPED_MAC_LEN];
    int ok;

    if (spiped_crypto_init() != 0)
        return -1;
    if (hmac_sha256(dhmac, msg, SPIPED_DH_LEN, NULL, 0, h) != 0)
        return -1;
    ok = ct_equal(h, msg + SPIPED_DH_LEN, SPIPED_MAC_LEN);
    wipe(h, sizeof h);
    return ok;
}

int spiped_make_dh_message(const uint8_t dhmac[SPIPED_KEY_LEN],
                           const uint8_t y[SPIPED_DH_LEN],
                           uint8_t msg_out[SPIPED_DHMSG_LEN])
{
    if (spiped_crypto_init() != 0)
        return -1;
    memmove(msg_out, y, SPIPED_DH_LEN);
    return hmac_sha256(dhmac, msg_out, SPIPED_DH_LEN, NULL, 0, msg_out + SPIPED_DH_LEN);
}

int spiped_dh_is_one(const uint8_t y[SPIPED_DH_LEN])
{
    for (size_t i = 0; i < SPIPED_DH_LEN - 1; i++)
        if (y[i] != 0)
            return 0;
    return y[SPIPED_DH_LEN - 1] == 1;
}

int spiped_dh_below_p(const uint8_t y[SPIPED_DH_LEN])
{
    /* Big-endian comparison; y is public, no need for constant time. */
    for (size_t i = 0; i < SPIPED_DH_LEN; i++) {
        if (y[i] < spiped_group14_p[i])
            return 1;
        if (y[i] > spiped_group14_p[i])
            return 0;
    }
    return 0; /* y == p */
}

void spiped_dh_set_one(uint8_t y[SPIPED_DH_LEN])
{
    memset(y, 0, SPIPED_DH_LEN);
    y[SPIPED_DH_LEN - 1] = 1;
}

int spiped_session_keys(const uint8_t K[SPIPED_KEY_LEN],
                        const uint8_t nonce_c[SPIPED_NONCE_LEN],
                        const uint8_t nonce_s[SPIPED_NONCE_LEN],
                        const uint8_t y_sc[SPIPED_DH_LEN],
                        spiped_keys_t *out)
{
    uint8_t salt[2 * SPIPED_NONCE_LEN + SPIPED_DH_LEN];
    uint8_t dk[4 * SPIPED_KEY_LEN];
    int rc;

    if (out == NULL || spiped_crypto_init() != 0)
        return -1;
    memcpy(salt, nonce_c, SPIPED_NONCE_LEN);
    memcpy(salt + SPIPED_NONCE_LEN, nonce_s, SPIPED_NONCE_LEN);
    memcpy(salt + 2 * SPIPED_NONCE_LEN, y_sc, SPIPED_DH_LEN);
    rc = pbkdf2_1(K, salt, sizeof salt, dk, sizeof dk);
    if (rc == 0) {
        memcpy(out->E_C, dk, SPIPED_KEY_LEN);
        memcpy(out->H_C, dk + 1 * SPIPED_KEY_LEN, SPIPED_KEY_LEN);
        memcpy(out->E_S, dk + 2 * SPIPED_KEY_LEN, SPIPED_KEY_LEN);
        memcpy(out->H_S, dk + 3 * SPIPED_KEY_LEN, SPIPED_KEY_LEN);
    }
    wipe(dk, sizeof dk);
    wipe(salt, sizeof salt);
    return rc;
}

/* A direction's (E, H) with the cipher and MAC opened and keyed once: opening and keying
 * them for every record would cost more than the record's own crypto. */
struct spiped_record_ctx {
    gcry_cipher_hd_t cipher;
    gcry_mac_hd_t mac;
};

spiped_record_ctx_t *spiped_record_ctx_new(const uint8_t E[SPIPED_KEY_LEN],
                                           const uint8_t H[SPIPED_KEY_LEN])
{
    spiped_record_ctx_t *c;

    if (E == NULL || H == NULL || spiped_crypto_init() != 0)
        return NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (gcry_cipher_open(&c->cipher, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_CTR, 0) != 0) {
        free(c);
        return NULL;
    }
    if (gcry_mac_open(&c->mac, GCRY_MAC_HMAC_SHA256, 0, NULL) != 0) {
        gcry_cipher_close(c->cipher);
        free(c);
        return NULL;
    }
    if (gcry_cipher_setkey(c->cipher, E, SPIPED_KEY_LEN) != 0 ||
        gcry_mac_setkey(c->mac, H, SPIPED_KEY_LEN) != 0) {
        spiped_record_ctx_free(c);
        return NULL;
    }
    return c;
}

void spiped_record_ctx_free(spiped_record_ctx_t *c)
{
    if (c == NULL)
        return;
    gcry_cipher_close(c->cipher); /* libgcrypt wipes the key schedules it frees */
    gcry_mac_close(c->mac);
    free(c);
}

spiped_record_status_t spiped_record_open_ctx(spiped_record_ctx_t *c,
                                              uint64_t n,
                                              const uint8_t rec[SPIPED_RECORD_LEN],
                                              uint8_t plain_out[SPIPED_PAYLOAD_MAX],
                                              uint32_t *len_out)
{
    uint8_t nbuf[8];
    uint8_t mac[SPIPED_MAC_LEN];
    uint8_t ctr[16];
    uint8_t pt[SPIPED_PLAINTEXT_LEN];
    size_t maclen = SPIPED_MAC_LEN;
    uint32_t L;
    spiped_record_status_t st;

    if (len_out != NULL)
        *len_out = 0;
    if (c == NULL || rec == NULL || plain_out == NULL || len_out == NULL)
        return SPIPED_RECORD_ERROR;

    /* 1. authenticate: mac = HMAC-SHA256(H, ciphertext || be64(n)) */
    put_be64(nbuf, n);
    if (gcry_mac_reset(c->mac) != 0 ||
        gcry_mac_write(c->mac, rec, SPIPED_PLAINTEXT_LEN) != 0 ||
        gcry_mac_write(c->mac, nbuf, sizeof nbuf) != 0 ||
        gcry_mac_read(c->mac, mac, &maclen) != 0 || maclen != SPIPED_MAC_LEN)
        return SPIPED_RECORD_ERROR;
    if (!ct_equal(mac, rec + SPIPED_PLAINTEXT_LEN, SPIPED_MAC_LEN))
        return SPIPED_RECORD_BAD_MAC;

    /* 2. decrypt (counter block be64(n) || be64(0)), 3. check the length field */
    put_be64(ctr, n);
    memset(ctr + 8, 0, 8);
    if (gcry_cipher_setctr(c->cipher, ctr, sizeof ctr) != 0 ||
        gcry_cipher_decrypt(c->cipher, pt, SPIPED_PLAINTEXT_LEN, rec, SPIPED_PLAINTEXT_LEN) != 0) {
        st = SPIPED_RECORD_ERROR;
    } else {
        L = get_be32(pt + SPIPED_PAYLOAD_MAX);
        if (L == 0 || L > SPIPED_PAYLOAD_MAX) {
            st = SPIPED_RECORD_BAD_LENGTH;
        } else {
            memcpy(plain_out, pt, L);
            *len_out = L;
            st = SPIPED_RECORD_OK;
        }
    }
    wipe(pt, sizeof pt);
    return st;
}

spiped_record_status_t spiped_record_open(const uint8_t E[SPIPED_KEY_LEN],
                                          const uint8_t H[SPIPED_KEY_LEN],
                                          uint64_t n,
                                          const uint8_t rec[SPIPED_RECORD_LEN],
                                          uint8_t plain_out[SPIPED_PAYLOAD_MAX],
                                          uint32_t *len_out)
{
    spiped_record_ctx_t *c;
    spiped_record_status_t st;

    if (len_out != NULL)
        *len_out = 0;
    if (E == NULL || H == NULL || rec == NULL || plain_out == NULL || len_out == NULL)
        return SPIPED_RECORD_ERROR;
    c = spiped_record_ctx_new(E, H);
    if (c == NULL)
        return SPIPED_RECORD_ERROR;
    st = spiped_record_open_ctx(c, n, rec, plain_out, len_out);
    spiped_record_ctx_free(c);
    return st;
}

int spiped_record_seal_plaintext(const uint8_t E[SPIPED_KEY_LEN],
                                 const uint8_t H[SPIPED_KEY_LEN],
                                 uint64_t n,
                                 const uint8_t plaintext[SPIPED_PLAINTEXT_LEN],
                                 uint8_t rec_out[SPIPED_RECORD_LEN])
{
    uint8_t nbuf[8];

    if (plaintext == NULL || rec_out == NULL || spiped_crypto_init() != 0)
        return -1;
    if (aes_ctr(E, n, plaintext, rec_out, SPIPED_PLAINTEXT_LEN) != 0)
        return -1;
    put_be64(nbuf, n);
    return hmac_sha256(H, rec_out, SPIPED_PLAINTEXT_LEN, nbuf, sizeof nbuf,
                       rec_out + SPIPED_PLAINTEXT_LEN);
}

int spiped_record_seal(const uint8_t E[SPIPED_KEY_LEN],
                       const uint8_t H[SPIPED_KEY_LEN],
                       uint64_t n,
                       const uint8_t *data, size_t len,
                       uint8_t rec_out[SPIPED_RECORD_LEN])
{
    uint8_t pt[SPIPED_PLAINTEXT_LEN];
    int rc;

    if (data == NULL || len == 0 || len > SPIPED_PAYLOAD_MAX)
        return -1;
    memset(pt, 0, sizeof pt);
    memcpy(pt, data, len);
    put_be32(pt + SPIPED_PAYLOAD_MAX, (uint32_t)len);
    rc = spiped_record_seal_plaintext(E, H, n, pt, rec_out);
    wipe(pt, sizeof pt);
    return rc;
}
