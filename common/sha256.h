/*
 * sha256: SHA-256 over OpenSSL's EVP interface, one-shot or streaming, with
 * lowercase hex output (the form Kiln stores and the index advertises).
 */
#ifndef KILN_SHA256_H
#define KILN_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

struct sha256 {
	void *md; /* EVP_MD_CTX *, opaque to keep OpenSSL out of this header */
};

/* Start a digest. 0, or KERR_INTERNAL if OpenSSL fails. Pair with sha256_release. */
int sha256_init(struct sha256 *h);
/* Feed n bytes. 0 or KERR_INTERNAL. */
int sha256_update(struct sha256 *h, const void *p, size_t n);
/* Finish into hex (65 bytes incl. NUL). The digest cannot be updated after. */
int sha256_final_hex(struct sha256 *h, char hex[SHA256_HEX_LEN + 1]);
/* Free OpenSSL state; safe on an initialized or already released digest. */
void sha256_release(struct sha256 *h);

/* One-shot digest of n bytes at p into hex. 0 or KERR_INTERNAL. */
int sha256_hex(const void *p, size_t n, char hex[SHA256_HEX_LEN + 1]);

/* Is s exactly 64 lowercase hex digits? */
int sha256_hex_valid(const char *s);

/* Encode n bytes as lowercase hex into out (2n+1 bytes incl. NUL). */
void hex_encode(const unsigned char *p, size_t n, char *out);

#endif
