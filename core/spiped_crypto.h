/*
 * spiped_crypto.h - epan-free cryptographic core for the spiped dissector.
 *
 * Implements the spiped 1.6 wire protocol primitives (see
 * /work/shared/spiped-protocol.md) on top of libgcrypt:
 *   - shared key K = SHA-256(key file contents)
 *   - handshake MAC keys and verification of the 288-byte DH messages
 *   - session key derivation (E_C, H_C, E_S, H_S)
 *   - opening (MAC check, then AES-256-CTR decryption) and sealing of
 *     1060-byte data records
 *
 * No Wireshark headers, no global state of its own.  libgcrypt is
 * initialised on first use only if nobody (e.g. Wireshark) has done so.
 *
 * Conventions: functions returning int return 0 on success and -1 on an
 * internal (libgcrypt / argument) error unless documented otherwise.
 */
#ifndef SPIPED_CRYPTO_H
#define SPIPED_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPIPED_KEY_LEN          32   /* K, E_*, H_*, dhmac_* */
#define SPIPED_NONCE_LEN        32   /* nonce_C / nonce_S */
#define SPIPED_DH_LEN           256  /* y (2048-bit group element) */
#define SPIPED_MAC_LEN          32   /* HMAC-SHA256 output */
#define SPIPED_DHMSG_LEN        (SPIPED_DH_LEN + SPIPED_MAC_LEN)          /* 288 */
#define SPIPED_PAYLOAD_MAX      1024 /* max data bytes per record */
#define SPIPED_PLAINTEXT_LEN    (SPIPED_PAYLOAD_MAX + 4)                  /* 1028 */
#define SPIPED_RECORD_LEN       (SPIPED_PLAINTEXT_LEN + SPIPED_MAC_LEN)   /* 1060 */
#define SPIPED_HANDSHAKE_LEN    (SPIPED_NONCE_LEN + SPIPED_DHMSG_LEN)     /* 320 per direction */
#define SPIPED_FINGERPRINT_LEN  16   /* hex chars, plus NUL terminator */

/* Session keys derived from K, the two nonces and the shared DH value. */
typedef struct {
    uint8_t E_C[SPIPED_KEY_LEN];   /* client -> server encryption key */
    uint8_t H_C[SPIPED_KEY_LEN];   /* client -> server MAC key */
    uint8_t E_S[SPIPED_KEY_LEN];   /* server -> client encryption key */
    uint8_t H_S[SPIPED_KEY_LEN];   /* server -> client MAC key */
} spiped_keys_t;

typedef enum {
    SPIPED_RECORD_OK = 0,
    SPIPED_RECORD_BAD_MAC = 1,     /* MAC did not verify (wrong key, wrong n, corruption) */
    SPIPED_RECORD_BAD_LENGTH = 2,  /* MAC fine but L == 0 or L > 1024 */
    SPIPED_RECORD_ERROR = 3        /* internal libgcrypt failure / bad arguments */
} spiped_record_status_t;

/* Initialise libgcrypt if, and only if, it has not been initialised yet.
 * Called implicitly by every other function; safe to call repeatedly.
 * Returns 0 on success, -1 if libgcrypt is unusable. */
int spiped_crypto_init(void);

/* K = SHA-256(data[0..len)).  data may be NULL only when len == 0. */
int spiped_key_from_file_bytes(const uint8_t *data, size_t len, uint8_t K[SPIPED_KEY_LEN]);

/* Non-secret fingerprint for display/logging: the first 8 bytes of
 * SHA-256("spiped-fingerprint" || K) as 16 lowercase hex chars + NUL.
 * On internal error out is set to "????????????????". */
void spiped_key_fingerprint(const uint8_t K[SPIPED_KEY_LEN], char out[SPIPED_FINGERPRINT_LEN + 1]);

/* dhmac_C || dhmac_S = PBKDF2-HMAC-SHA256(K, nonce_C || nonce_S, 1, 64). */
int spiped_handshake_macs(const uint8_t K[SPIPED_KEY_LEN],
                          const uint8_t nonce_c[SPIPED_NONCE_LEN],
                          const uint8_t nonce_s[SPIPED_NONCE_LEN],
                          uint8_t dhmac_c[SPIPED_KEY_LEN],
                          uint8_t dhmac_s[SPIPED_KEY_LEN]);

/* msg = y (256) || h (32).  Returns 1 if HMAC-SHA256(dhmac, y) == h
 * (constant-time comparison), 0 if not, -1 on internal error. */
int spiped_verify_dh_message(const uint8_t dhmac[SPIPED_KEY_LEN],
                             const uint8_t msg[SPIPED_DHMSG_LEN]);

/* Build a DH message y || HMAC-SHA256(dhmac, y) (for tests). */
int spiped_make_dh_message(const uint8_t dhmac[SPIPED_KEY_LEN],
                           const uint8_t y[SPIPED_DH_LEN],
                           uint8_t msg_out[SPIPED_DHMSG_LEN]);

/* 1 if y is the big-endian encoding of 1 (what a -f side sends), else 0. */
int spiped_dh_is_one(const uint8_t y[SPIPED_DH_LEN]);

/* 1 if y < p (RFC 3526 2048-bit MODP group 14 prime), else 0. */
int spiped_dh_below_p(const uint8_t y[SPIPED_DH_LEN]);

/* Fill y with the encoding of 1 (255 zero bytes then 0x01). */
void spiped_dh_set_one(uint8_t y[SPIPED_DH_LEN]);

/* E_C || H_C || E_S || H_S =
 *     PBKDF2-HMAC-SHA256(K, nonce_C || nonce_S || y_SC, 1, 128).
 * For a session where either side used -f, y_SC is 1 (spiped_dh_set_one). */
int spiped_session_keys(const uint8_t K[SPIPED_KEY_LEN],
                        const uint8_t nonce_c[SPIPED_NONCE_LEN],
                        const uint8_t nonce_s[SPIPED_NONCE_LEN],
                        const uint8_t y_sc[SPIPED_DH_LEN],
                        spiped_keys_t *out);

/* Open record number n of one direction with that direction's (E, H).
 * The MAC is verified before anything is decrypted.  On SPIPED_RECORD_OK,
 * plain_out[0..*len_out) holds the data (1 <= *len_out <= 1024); on any
 * other status plain_out/len_out are not meaningful (len_out is set to 0). */
spiped_record_status_t spiped_record_open(const uint8_t E[SPIPED_KEY_LEN],
                                          const uint8_t H[SPIPED_KEY_LEN],
                                          uint64_t n,
                                          const uint8_t rec[SPIPED_RECORD_LEN],
                                          uint8_t plain_out[SPIPED_PAYLOAD_MAX],
                                          uint32_t *len_out);

/* One direction's (E, H) with libgcrypt's cipher and MAC opened and keyed once, for opening
 * its records one after another (spiped_record_open opens and keys them for each call).
 * spiped_record_ctx_new returns NULL on failure; spiped_record_ctx_free accepts NULL. */
typedef struct spiped_record_ctx spiped_record_ctx_t;
spiped_record_ctx_t *spiped_record_ctx_new(const uint8_t E[SPIPED_KEY_LEN],
                                           const uint8_t H[SPIPED_KEY_LEN]);
void spiped_record_ctx_free(spiped_record_ctx_t *c);
/* As spiped_record_open, with the direction's context. */
spiped_record_status_t spiped_record_open_ctx(spiped_record_ctx_t *c,
                                              uint64_t n,
                                              const uint8_t rec[SPIPED_RECORD_LEN],
                                              uint8_t plain_out[SPIPED_PAYLOAD_MAX],
                                              uint32_t *len_out);

/* Seal len (1..1024) data bytes as record number n.  Returns -1 if len is
 * out of range.  For tests and fuzzing. */
int spiped_record_seal(const uint8_t E[SPIPED_KEY_LEN],
                       const uint8_t H[SPIPED_KEY_LEN],
                       uint64_t n,
                       const uint8_t *data, size_t len,
                       uint8_t rec_out[SPIPED_RECORD_LEN]);

/* Low-level seal of an arbitrary 1028-byte plaintext block (data, padding
 * and the be32 length field chosen by the caller, which may be invalid).
 * Lets tests and fuzzers build records with bad length fields. */
int spiped_record_seal_plaintext(const uint8_t E[SPIPED_KEY_LEN],
                                 const uint8_t H[SPIPED_KEY_LEN],
                                 uint64_t n,
                                 const uint8_t plaintext[SPIPED_PLAINTEXT_LEN],
                                 uint8_t rec_out[SPIPED_RECORD_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* SPIPED_CRYPTO_H */
