/*
 * dsse: Dead Simple Signing Envelopes with Ed25519, over OpenSSL.
 *
 * What Kiln signs is the DSSE pre-authentication encoding (PAE) of a payload
 * and its type: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths
 * in ASCII decimal. Signing the PAE rather than the payload binds the type, so
 * a signed statement cannot be passed off as another kind of document; it is
 * what in-toto's envelope and PEP 740's attestations sign, so standard tools
 * (and `openssl pkeyutl -rawin`) verify Kiln's signatures.
 *
 * A key is an Ed25519 EVP_PKEY: private (signs and verifies) or public only.
 * Its id is the lowercase hex SHA-256 of its DER SubjectPublicKeyInfo, which
 * `openssl pkey -pubin -outform DER | sha256sum` reproduces.
 */
#ifndef KILN_DSSE_H
#define KILN_DSSE_H

#include "common/buf.h"
#include "common/kerr.h"
#include "common/sha256.h"

#include <stddef.h>

#define DSSE_SIG_LEN 64
#define DSSE_INTOTO_TYPE "application/vnd.in-toto+json"

struct dsse_key;

/* Append PAE(type, payload) to out. 0 or KERR_TOOBIG. */
int dsse_pae(const char *type, const void *payload, size_t n, struct buf *out);

/* Standard base64 (with padding) of n bytes, appended to out. 0 or KERR_TOOBIG. */
int dsse_b64_encode(const void *p, size_t n, struct buf *out);
/*
 * Decode standard base64 (padding required, no whitespace) of n chars,
 * appended to out. 0, or KERR_INVAL with a message if s is not base64.
 */
int dsse_b64_decode(const char *s, size_t n, struct buf *out, struct kerr *e);

/*
 * Load a key from PEM text: a private key ("PRIVATE KEY") or a public one
 * ("PUBLIC KEY"); either must be Ed25519. *out is the caller's (dsse_key_free).
 * 0, or KERR_INVAL saying why.
 */
int dsse_key_from_pem(const char *pem, size_t n, struct dsse_key **out, struct kerr *e);
/* The same from a file: KERR_IO if it cannot be read, KERR_INVAL if not a key. */
int dsse_key_load(const char *path, struct dsse_key **out, struct kerr *e);
/* From a raw 32-byte private seed (RFC 8032 form; for test vectors). */
int dsse_key_from_raw(const unsigned char seed[32], struct dsse_key **out, struct kerr *e);
/*
 * Make a new key and write it as PKCS#8 PEM to path, created with mode 0600
 * and O_EXCL: an existing file is KERR_CONFLICT, never overwritten (the
 * farm's key is made once). KERR_IO if it cannot be written.
 */
int dsse_key_generate(const char *path, struct kerr *e);
void dsse_key_free(struct dsse_key *k);

/* Does k hold the private half? */
int dsse_key_is_private(const struct dsse_key *k);
/* Append the public key as PEM ("-----BEGIN PUBLIC KEY-----"...). 0 or KERR_INTERNAL. */
int dsse_key_public_pem(const struct dsse_key *k, struct buf *out);
/* The key id (see above) into hex. 0 or KERR_INTERNAL. */
int dsse_key_id(const struct dsse_key *k, char hex[SHA256_HEX_LEN + 1]);
/* The raw 32-byte public key. 0 or KERR_INTERNAL. */
int dsse_key_public_raw(const struct dsse_key *k, unsigned char out[32]);

/* Sign (verify) n raw bytes: the Ed25519 primitive under the two below. */
int dsse_sign_bytes(const struct dsse_key *k, const void *msg, size_t n,
		    unsigned char sig[DSSE_SIG_LEN], struct kerr *e);
int dsse_verify_bytes(const struct dsse_key *k, const void *msg, size_t n,
		      const unsigned char *sig, size_t siglen, struct kerr *e);

/* Sign PAE(type, payload) with the private key k into sig. 0, KERR_INVAL (public key), KERR_INTERNAL. */
int dsse_sign(const struct dsse_key *k, const char *type, const void *payload, size_t n,
	      unsigned char sig[DSSE_SIG_LEN], struct kerr *e);
/*
 * Verify sig over PAE(type, payload) with k. 0 if it matches; KERR_AUTH with
 * "signature does not match" if not (a changed byte anywhere); KERR_INVAL if
 * sig is not 64 bytes.
 */
int dsse_verify(const struct dsse_key *k, const char *type, const void *payload, size_t n,
		const unsigned char *sig, size_t siglen, struct kerr *e);

#endif
