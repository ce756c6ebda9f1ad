/*
 * check_keylog_decrypt - end-to-end check that a spiped key log (written by
 * libspiped-keylog.so) decrypts forward-secret spiped sessions, using only the
 * project's C core (core/spiped_keylog.c + core/spiped_crypto.c).
 *
 * usage: check_keylog_decrypt KEYFILE KEYLOG SESSIONS [OUTDIR]
 *
 * SESSIONS is a binary file written by tests/unit/check_keylog_decrypt.py from
 * a capture; for each tunnel connection, all integers big-endian:
 *     u16 client port, u16 server port,
 *     nonce_C (32), nonce_S (32), y_C || h_C (288), y_S || h_S (288),
 *     u64 n, n bytes of the client->server stream after its 320 handshake bytes,
 *     u64 m, m bytes of the server->client stream after its 320 handshake bytes.
 *
 * For each session: verifies both handshake MACs with K, looks y_S and y_C up
 * in the key log, derives the session keys from the y_SC found and opens every
 * record of both directions.  It also shows that the key file alone
 * (y_SC = 1, what a -f session would use) does not open the first record.
 * With OUTDIR, the plaintext of each direction is written to
 * OUTDIR/<client port>.c2s and OUTDIR/<client port>.s2c.
 *
 * Exit status 0 iff every session was found in the key log and every
 * complete record of both directions opened.
 *
 * Build:
 *   gcc -Wall -Wextra -Werror -std=c11 -O2 -Icore core/spiped_keylog.c \
 *       core/spiped_crypto.c tests/unit/check_keylog_decrypt.c \
 *       $(pkg-config --cflags --libs libgcrypt) -o /tmp/check_keylog_decrypt
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "spiped_crypto.h"
#include "spiped_keylog.h"

typedef struct {
    unsigned cport, sport;
    uint8_t nonce_c[SPIPED_NONCE_LEN], nonce_s[SPIPED_NONCE_LEN];
    uint8_t msg_c[SPIPED_DHMSG_LEN], msg_s[SPIPED_DHMSG_LEN];
    uint8_t *c2s, *s2c;
    size_t c2s_len, s2c_len;
} session_t;

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *nb;
            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int take(const uint8_t **p, const uint8_t *end, void *out, size_t n)
{
    if ((size_t)(end - *p) < n)
        return -1;
    memcpy(out, *p, n);
    *p += n;
    return 0;
}

static uint64_t be(const uint8_t *b, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = (v << 8) | b[i];
    return v;
}

/* parse one session; 1 ok, 0 at end, -1 malformed */
static int next_session(const uint8_t **p, const uint8_t *end, session_t *s)
{
    uint8_t hdr[4], l8[8];
    uint64_t n;

    if (*p == end)
        return 0;
    if (take(p, end, hdr, 4) || take(p, end, s->nonce_c, 32) || take(p, end, s->nonce_s, 32) ||
        take(p, end, s->msg_c, SPIPED_DHMSG_LEN) || take(p, end, s->msg_s, SPIPED_DHMSG_LEN))
        return -1;
    s->cport = (unsigned)be(hdr, 2);
    s->sport = (unsigned)be(hdr + 2, 2);
    if (take(p, end, l8, 8))
        return -1;
    n = be(l8, 8);
    if ((uint64_t)(end - *p) < n)
        return -1;
    s->c2s = (uint8_t *)*p;
    s->c2s_len = (size_t)n;
    *p += n;
    if (take(p, end, l8, 8))
        return -1;
    n = be(l8, 8);
    if ((uint64_t)(end - *p) < n)
        return -1;
    s->s2c = (uint8_t *)*p;
    s->s2c_len = (size_t)n;
    *p += n;
    return 1;
}

/* Open every whole record of one direction; returns the number of bad ones. */
static size_t open_direction(const uint8_t E[32], const uint8_t H[32], const uint8_t *data,
                             size_t len, const char *name, const char *outpath,
                             size_t *ok_out, size_t *plain_len_out)
{
    uint8_t plain[SPIPED_PAYLOAD_MAX], digest[32];
    size_t nrec = len / SPIPED_RECORD_LEN, i, ok = 0, bad = 0, total = 0;
    gcry_md_hd_t md;
    FILE *out = NULL;
    uint32_t plen;
    int first_status = -1;

    if (gcry_md_open(&md, GCRY_MD_SHA256, 0) != 0)
        return nrec ? nrec : 1;
    if (outpath != NULL)
        out = fopen(outpath, "wb");
    for (i = 0; i < nrec; i++) {
        spiped_record_status_t st = spiped_record_open(E, H, (uint64_t)i,
                                                       data + i * SPIPED_RECORD_LEN, plain, &plen);
        if (i == 0)
            first_status = (int)st;
        if (st == SPIPED_RECORD_OK) {
            ok++;
            total += plen;
            gcry_md_write(md, plain, plen);
            if (out != NULL)
                fwrite(plain, 1, plen, out);
        } else {
            bad++;
        }
    }
    if (out != NULL)
        fclose(out);
    memcpy(digest, gcry_md_read(md, GCRY_MD_SHA256), 32);
    gcry_md_close(md);
    printf("    %s: %zu records, %zu ok, %zu bad%s; first record %s; plaintext %zu bytes, sha256 ",
           name, nrec, ok, bad, len % SPIPED_RECORD_LEN ? " (+ a partial record)" : "",
           first_status == 0 ? "OK" : first_status < 0 ? "absent" : "FAILED", total);
    for (i = 0; i < 32; i++)
        printf("%02x", digest[i]);
    printf("\n");
    *ok_out = ok;
    *plain_len_out = total;
    return bad;
}

static const char *status_name(spiped_record_status_t st)
{
    switch (st) {
    case SPIPED_RECORD_OK: return "OK";
    case SPIPED_RECORD_BAD_MAC: return "BAD_MAC";
    case SPIPED_RECORD_BAD_LENGTH: return "BAD_LENGTH";
    default: return "ERROR";
    }
}

int main(int argc, char **argv)
{
    uint8_t K[SPIPED_KEY_LEN], dhmac_c[32], dhmac_s[32], one[SPIPED_DH_LEN];
    uint8_t plain[SPIPED_PAYLOAD_MAX];
    spiped_keylog_stats_t st;
    spiped_keylog_t *kl;
    uint8_t *keyfile, *log, *sess;
    size_t keylen, loglen, sesslen, off;
    const uint8_t *p, *end;
    session_t s;
    int r, nsess = 0, nfail = 0;
    char fp[SPIPED_FINGERPRINT_LEN + 1];

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s KEYFILE KEYLOG SESSIONS [OUTDIR]\n", argv[0]);
        return 2;
    }
    keyfile = read_file(argv[1], &keylen);
    log = read_file(argv[2], &loglen);
    sess = read_file(argv[3], &sesslen);
    if (keyfile == NULL || log == NULL || sess == NULL) {
        fprintf(stderr, "cannot read input files\n");
        return 2;
    }
    if (spiped_key_from_file_bytes(keyfile, keylen, K) != 0) {
        fprintf(stderr, "crypto init failed\n");
        return 2;
    }
    spiped_key_fingerprint(K, fp);
    spiped_dh_set_one(one);

    /* feed the key log in odd-sized pieces, as a growing file would arrive */
    kl = spiped_keylog_new();
    for (off = 0; off < loglen; off += 97) {
        size_t n = loglen - off < 97 ? loglen - off : 97;
        if (spiped_keylog_feed(kl, (const char *)log + off, n, NULL) < 0) {
            fprintf(stderr, "out of memory\n");
            return 2;
        }
    }
    spiped_keylog_flush(kl, &st);
    printf("key file fingerprint %s; key log %s: %zu bytes, %llu lines, %llu secrets, "
           "%llu duplicates, %llu conflicts, %llu malformed\n",
           fp, argv[2], loglen, (unsigned long long)st.lines, (unsigned long long)st.secrets,
           (unsigned long long)st.duplicates, (unsigned long long)st.conflicts,
           (unsigned long long)st.malformed);
    if (st.malformed)
        printf("  first malformed line %llu: %s\n", (unsigned long long)st.first_malformed_line,
               st.first_malformed_reason);

    p = sess;
    end = sess + sesslen;
    while ((r = next_session(&p, end, &s)) == 1) {
        const uint8_t *y_c = s.msg_c, *y_s = s.msg_s, *ysc_by_s, *ysc_by_c, *y_sc;
        spiped_keys_t keys, weak;
        int mac_c, mac_s, fail = 0;
        size_t ok_c = 0, ok_s = 0, len_c = 0, len_s = 0, bad = 0;
        uint32_t plen;
        char out_c[4096], out_s[4096];

        nsess++;
        printf("session client port %u -> server port %u\n", s.cport, s.sport);
        if (spiped_handshake_macs(K, s.nonce_c, s.nonce_s, dhmac_c, dhmac_s) != 0)
            return 2;
        mac_c = spiped_verify_dh_message(dhmac_c, s.msg_c);
        mac_s = spiped_verify_dh_message(dhmac_s, s.msg_s);
        printf("    handshake: h_C %s, h_S %s; y_C is 1: %s, y_S is 1: %s\n",
               mac_c == 1 ? "verifies" : "FAILS", mac_s == 1 ? "verifies" : "FAILS",
               spiped_dh_is_one(y_c) ? "yes" : "no", spiped_dh_is_one(y_s) ? "yes" : "no");
        if (mac_c != 1 || mac_s != 1)
            fail = 1;

        ysc_by_s = spiped_keylog_lookup(kl, y_s);
        ysc_by_c = spiped_keylog_lookup(kl, y_c);
        y_sc = ysc_by_s ? ysc_by_s : ysc_by_c;
        printf("    key log: lookup(y_S) %s, lookup(y_C) %s%s\n",
               ysc_by_s ? "FOUND (line written by the client)" : "not found",
               ysc_by_c ? "FOUND (line written by the server)" : "not found",
               ysc_by_s && ysc_by_c && memcmp(ysc_by_s, ysc_by_c, SPIPED_DH_LEN) != 0
                   ? " -- the two disagree!" : "");
        if (y_sc == NULL) {
            printf("    cannot decrypt: no y_SC for this session\n");
            nfail++;
            continue;
        }
        if (spiped_session_keys(K, s.nonce_c, s.nonce_s, y_sc, &keys) != 0)
            return 2;

        /* the key file alone does not open a forward-secret session */
        if (spiped_session_keys(K, s.nonce_c, s.nonce_s, one, &weak) != 0)
            return 2;
        if (s.c2s_len >= SPIPED_RECORD_LEN) {
            spiped_record_status_t w = spiped_record_open(weak.E_C, weak.H_C, 0, s.c2s, plain,
                                                          &plen);
            printf("    key file alone (y_SC = 1): first c2s record %s\n", status_name(w));
            if (w == SPIPED_RECORD_OK)
                fail = 1;
        }

        if (argc == 5) {
            snprintf(out_c, sizeof(out_c), "%s/%u.c2s", argv[4], s.cport);
            snprintf(out_s, sizeof(out_s), "%s/%u.s2c", argv[4], s.cport);
        }
        bad += open_direction(keys.E_C, keys.H_C, s.c2s, s.c2s_len, "c2s",
                              argc == 5 ? out_c : NULL, &ok_c, &len_c);
        bad += open_direction(keys.E_S, keys.H_S, s.s2c, s.s2c_len, "s2c",
                              argc == 5 ? out_s : NULL, &ok_s, &len_s);
        if (bad != 0 || ok_c == 0 || ok_s == 0)
            fail = 1;
        printf("    result: %s\n", fail ? "FAILED" : "decrypted");
        nfail += fail;
    }
    if (r < 0) {
        fprintf(stderr, "malformed sessions file\n");
        return 2;
    }
    printf("%d sessions, %d decrypted, %d failed\n", nsess, nsess - nfail, nfail);
    spiped_keylog_free(kl);
    free(keyfile);
    free(log);
    free(sess);
    return (nfail == 0 && nsess > 0) ? 0 : 1;
}
