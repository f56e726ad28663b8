/*
 * token: secrets handed to builders, admins and job leases.
 *
 * A token is "kiln_" + 43 base64url characters (32 random bytes from OpenSSL's
 * CSPRNG). Only its SHA-256 hex is stored; checks compare hashes in constant
 * time, so neither the database nor timing reveals a token.
 */
#ifndef KILN_TOKEN_H
#define KILN_TOKEN_H

#include <stddef.h>

#define TOKEN_PREFIX "kiln_"
#define TOKEN_LEN (5 + 43)

/* Fill out (TOKEN_LEN+1 bytes) with a new random token. 0 or KERR_INTERNAL. */
int token_new(char out[TOKEN_LEN + 1]);

/* Fill out with n random bytes. 0 or KERR_INTERNAL. */
int token_random_bytes(void *out, size_t n);

/* The stored form of a token: its SHA-256 as 64 hex chars. 0 or KERR_INTERNAL. */
int token_hash(const char *token, char hex[65]);

/* Does token have the shape of a Kiln token (prefix, length, alphabet)? */
int token_well_formed(const char *token);

/*
 * Is name a valid name for a token holder (a builder, an admin token)? 1-63 of
 * [A-Za-z0-9._-], starting with a letter or digit.
 */
int token_name_valid(const char *name);

/* Constant-time equality of n bytes (time depends on n only). 1 if equal. */
int token_ct_equal(const void *a, const void *b, size_t n);

/* Does token hash to stored_hex? Constant time in the token's content. */
int token_matches(const char *token, const char *stored_hex);

#endif
