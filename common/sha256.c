/* sha256: SHA-256 via OpenSSL EVP (contract in sha256.h). */
#include "common/sha256.h"

#include "common/kerr.h"

#include <openssl/evp.h>

void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->md = NULL;
	if (!ctx)
		return KERR_INTERNAL;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return KERR_INTERNAL;
	}
	h->md = ctx;
	return 0;
}

int sha256_update(struct sha256 *h, const void *p, size_t n)
{
	if (!h->md)
		return KERR_INTERNAL;
	return EVP_DigestUpdate(h->md, p, n) == 1 ? 0 : KERR_INTERNAL;
}

int sha256_final_hex(struct sha256 *h, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!h->md || EVP_DigestFinal_ex(h->md, md, &len) != 1 || len != 32)
		return KERR_INTERNAL;
	hex_encode(md, len, hex);
	return 0;
}

void sha256_release(struct sha256 *h)
{
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

int sha256_hex(const void *p, size_t n, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256 h;
	int rc = sha256_init(&h);

	if (rc)
		return rc;
	rc = sha256_update(&h, p, n);
	if (!rc)
		rc = sha256_final_hex(&h, hex);
	sha256_release(&h);
	return rc;
}

int sha256_hex_valid(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return i == SHA256_HEX_LEN;
}
