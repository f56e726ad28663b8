/* dsse: DSSE envelopes signed with Ed25519 (contract in dsse.h). */
#include "common/dsse.h"

#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct dsse_key {
	EVP_PKEY *pkey;
	int priv;
};

int dsse_pae(const char *type, const void *payload, size_t n, struct buf *out)
{
	int rc = 0;

	rc |= buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, n);
	rc |= buf_append(out, payload, n);
	return rc ? KERR_TOOBIG : 0;
}

int dsse_b64_encode(const void *p, size_t n, struct buf *out)
{
	size_t want = 4 * ((n + 2) / 3);

	if (buf_grow(out, want + 1))
		return KERR_TOOBIG;
	/* EVP_EncodeBlock writes no newlines (unlike the BIO filter) and a NUL. */
	EVP_EncodeBlock((unsigned char *)out->ptr + out->len, p, (int)n);
	out->len += want;
	out->ptr[out->len] = '\0';
	return 0;
}

static int dsse__b64_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int dsse_b64_decode(const char *s, size_t n, struct buf *out, struct kerr *e)
{
	size_t pad = 0, want;
	int got;

	if (n % 4)
		return kerr_set(e, KERR_INVAL, "base64 of %zu characters is not a multiple of 4", n);
	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	/* EVP_DecodeBlock skips blanks and ignores some junk: check the alphabet first. */
	for (size_t i = 0; i < n - pad; i++)
		if (!dsse__b64_char((unsigned char)s[i]))
			return kerr_set(e, KERR_INVAL, "not base64: byte %zu is 0x%02x", i,
					(unsigned char)s[i]);
	want = n / 4 * 3;
	if (buf_grow(out, want + 1))
		return kerr_set(e, KERR_TOOBIG, "base64 of %zu characters is too long", n);
	got = EVP_DecodeBlock((unsigned char *)out->ptr + out->len, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got != want)
		return kerr_set(e, KERR_INVAL, "not base64");
	/* EVP_DecodeBlock counts the padding's zero bytes as data. */
	out->len += want - pad;
	out->ptr[out->len] = '\0';
	return 0;
}

static int dsse__wrap(EVP_PKEY *pkey, int priv, struct dsse_key **out, struct kerr *e)
{
	if (!pkey)
		return kerr_set(e, KERR_INVAL, "not a PEM key");
	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		return kerr_set(e, KERR_INVAL, "not an Ed25519 key");
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->pkey = pkey;
	(*out)->priv = priv;
	return 0;
}

int dsse_key_from_pem(const char *pem, size_t n, struct dsse_key **out, struct kerr *e)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int priv = 1, rc;

	*out = NULL;
	bio = BIO_new_mem_buf(pem, (int)n);
	if (!bio)
		return kerr_set(e, KERR_INTERNAL, "out of memory in OpenSSL");
	if (memmem(pem, n, "PRIVATE KEY-----", 16)) {
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	} else {
		priv = 0;
		pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	BIO_free(bio);
	rc = dsse__wrap(pkey, priv, out, e);
	return rc;
}

int dsse_key_load(const char *path, struct dsse_key **out, struct kerr *e)
{
	struct buf b = BUF_INIT(64 * 1024);
	char chunk[4096];
	FILE *f;
	size_t got;
	int rc = 0;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, got)) {
			rc = kerr_set(e, KERR_TOOBIG, "'%s' is too large for a key", path);
			goto fail;
		}
	if (ferror(f)) {
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", path, strerror(errno));
		goto fail;
	}
	rc = dsse_key_from_pem(b.ptr, b.len, out, e);
	if (rc)
		kerr_wrap(e, "'%s'", path);
fail:
	fclose(f);
	if (b.len)
		OPENSSL_cleanse(b.ptr, b.len);
	buf_release(&b);
	return rc;
}

int dsse_key_from_raw(const unsigned char seed[32], struct dsse_key **out, struct kerr *e)
{
	*out = NULL;
	return dsse__wrap(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32), 1, out, e);
}

int dsse_key_generate(const char *path, struct kerr *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	FILE *f = NULL;
	int fd = -1, rc = 0;

	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0) {
		rc = kerr_set(e, KERR_INTERNAL, "OpenSSL could not make an Ed25519 key");
		goto fail;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = kerr_set(e, errno == EEXIST ? KERR_CONFLICT : KERR_IO,
			      errno == EEXIST ? "'%s' exists already; the farm's key is made once"
					      : "could not create '%s': %s",
			      path, strerror(errno));
		goto fail;
	}
	f = fdopen(fd, "w");
	if (!f) {
		rc = kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (!PEM_write_PKCS8PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fflush(f) ||
	    fsync(fileno(f))) {
		rc = kerr_set(e, KERR_IO, "could not write '%s'", path);
		goto fail;
	}
fail:
	if (f && fclose(f) && !rc)
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc && (f || fd >= 0))
		unlink(path);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

void dsse_key_free(struct dsse_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int dsse_key_is_private(const struct dsse_key *k)
{
	return k->priv;
}

int dsse_key_public_pem(const struct dsse_key *k, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = KERR_INTERNAL;

	if (bio && PEM_write_bio_PUBKEY(bio, k->pkey) && (n = BIO_get_mem_data(bio, &p)) > 0)
		rc = buf_append(out, p, (size_t)n) ? KERR_TOOBIG : 0;
	BIO_free(bio);
	return rc;
}

int dsse_key_id(const struct dsse_key *k, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k->pkey, &der), rc;

	if (n <= 0)
		return KERR_INTERNAL;
	rc = sha256_hex(der, (size_t)n, hex);
	OPENSSL_free(der);
	return rc;
}

int dsse_key_public_raw(const struct dsse_key *k, unsigned char out[32])
{
	size_t n = 32;

	return EVP_PKEY_get_raw_public_key(k->pkey, out, &n) == 1 && n == 32 ? 0 : KERR_INTERNAL;
}

int dsse_sign_bytes(const struct dsse_key *k, const void *msg, size_t n,
		    unsigned char sig[DSSE_SIG_LEN], struct kerr *e)
{
	EVP_MD_CTX *md;
	size_t siglen = DSSE_SIG_LEN;
	int rc = 0;

	if (!k->priv)
		return kerr_set(e, KERR_INVAL, "a public key cannot sign");
	/* Ed25519 is one-shot: no digest (NULL) and EVP_DigestSign, never Update/Final. */
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, n) != 1 || siglen != DSSE_SIG_LEN)
		rc = kerr_set(e, KERR_INTERNAL, "OpenSSL could not sign");
	EVP_MD_CTX_free(md);
	return rc;
}

int dsse_verify_bytes(const struct dsse_key *k, const void *msg, size_t n,
		      const unsigned char *sig, size_t siglen, struct kerr *e)
{
	EVP_MD_CTX *md;
	int rc = 0;

	if (siglen != DSSE_SIG_LEN)
		return kerr_set(e, KERR_INVAL, "an Ed25519 signature is 64 bytes, not %zu", siglen);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, k->pkey) != 1)
		rc = kerr_set(e, KERR_INTERNAL, "OpenSSL could not verify");
	else if (EVP_DigestVerify(md, sig, siglen, msg, n) != 1)
		rc = kerr_set(e, KERR_AUTH, "signature does not match");
	EVP_MD_CTX_free(md);
	return rc;
}

int dsse_sign(const struct dsse_key *k, const char *type, const void *payload, size_t n,
	      unsigned char sig[DSSE_SIG_LEN], struct kerr *e)
{
	struct buf pae = BUF_INIT(BUF_NOLIMIT);
	int rc;

	rc = dsse_pae(type, payload, n, &pae);
	if (rc)
		rc = kerr_set(e, KERR_TOOBIG, "payload too large to sign");
	else
		rc = dsse_sign_bytes(k, pae.ptr, pae.len, sig, e);
	buf_release(&pae);
	return rc;
}

int dsse_verify(const struct dsse_key *k, const char *type, const void *payload, size_t n,
		const unsigned char *sig, size_t siglen, struct kerr *e)
{
	struct buf pae = BUF_INIT(BUF_NOLIMIT);
	int rc;

	rc = dsse_pae(type, payload, n, &pae);
	if (rc)
		rc = kerr_set(e, KERR_TOOBIG, "payload too large to verify");
	else
		rc = dsse_verify_bytes(k, pae.ptr, pae.len, sig, siglen, e);
	buf_release(&pae);
	return rc;
}
