/* token: random tokens, their hashes, constant-time checks (contract in token.h). */
#include "common/token.h"

#include "common/kerr.h"
#include "common/sha256.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

int token_random_bytes(void *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : KERR_INTERNAL;
}

int token_new(char out[TOKEN_LEN + 1])
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	size_t o = 5;

	if (token_random_bytes(raw, 32))
		return KERR_INTERNAL;
	raw[32] = 0;
	memcpy(out, TOKEN_PREFIX, 5);
	/* 32 bytes -> 43 base64url chars, no padding: 10 full triples + 2 bytes. */
	for (size_t i = 0; i < 33; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 |
			     (i + 2 < 33 ? raw[i + 2] : 0);
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (o < TOKEN_LEN)
			out[o++] = b64url[(v >> 6) & 63];
		if (o < TOKEN_LEN)
			out[o++] = b64url[v & 63];
	}
	out[TOKEN_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int token_hash(const char *token, char hex[65])
{
	return sha256_hex(token, strlen(token), hex);
}

int token_well_formed(const char *token)
{
	size_t i;
	if (strncmp(token, TOKEN_PREFIX, 5) != 0)
		return 0;
	for (i = 5; token[i]; i++) {
		char c = token[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return i == TOKEN_LEN;
}

int token_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
			return 0;
	}
	return 1;
}

int token_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int token_matches(const char *token, const char *stored_hex)
{
	char hex[65];
	if (strlen(stored_hex) != 64 || token_hash(token, hex))
		return 0;
	return token_ct_equal(hex, stored_hex, 64);
}
