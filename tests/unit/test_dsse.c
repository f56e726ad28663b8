/* Unit tests for common/dsse: the DSSE spec's PAE example, RFC 8032's Ed25519 vectors. */
#include "tests/unit/unit.h"

#include "common/dsse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void unhex(const char *h, unsigned char *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

static void test_pae_spec_example(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;
	assert_int_equal(dsse_pae("http://example.com/HelloWorld", "hello world", 11, &b), 0);
	assert_string_equal(b.ptr, "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
	buf_reset(&b);
	assert_int_equal(dsse_pae(DSSE_INTOTO_TYPE, "", 0, &b), 0);
	assert_string_equal(b.ptr, "DSSEv1 28 application/vnd.in-toto+json 0 ");
	buf_release(&b);
}

static void test_base64(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	struct kerr e;
	(void)state;
	/* RFC 4648 section 10. */
	for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
		buf_reset(&b);
		assert_int_equal(dsse_b64_encode(plain[i], strlen(plain[i]), &b), 0);
		assert_string_equal(b.ptr, enc[i]);
		buf_reset(&b);
		assert_int_equal(dsse_b64_decode(enc[i], strlen(enc[i]), &b, &e), 0);
		assert_int_equal(b.len, strlen(plain[i]));
		assert_memory_equal(b.ptr, plain[i], b.len);
	}
	assert_int_equal(dsse_b64_decode("Zm9", 3, &b, &e), KERR_INVAL);
	assert_int_equal(dsse_b64_decode("Zm 9", 4, &b, &e), KERR_INVAL);
	assert_int_equal(dsse_b64_decode("Z=9v", 4, &b, &e), KERR_INVAL);
	buf_release(&b);
}

/* RFC 8032 section 7.1, tests 1 and 2. */
static const struct {
	const char *seed, *pub, *msg, *sig;
} rfc8032[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
};

static void test_rfc8032(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rfc8032); i++) {
		unsigned char seed[32], pub[32], want[64], sig[64], got_pub[32], msg[8];
		size_t mlen = strlen(rfc8032[i].msg) / 2;
		struct dsse_key *k;
		struct kerr e;

		unhex(rfc8032[i].seed, seed);
		unhex(rfc8032[i].pub, pub);
		unhex(rfc8032[i].sig, want);
		unhex(rfc8032[i].msg, msg);
		assert_int_equal(dsse_key_from_raw(seed, &k, &e), 0);
		assert_int_equal(dsse_key_public_raw(k, got_pub), 0);
		assert_memory_equal(got_pub, pub, 32);
		assert_int_equal(dsse_sign_bytes(k, msg, mlen, sig, &e), 0);
		assert_memory_equal(sig, want, 64);
		assert_int_equal(dsse_verify_bytes(k, msg, mlen, sig, 64, &e), 0);
		sig[10] ^= 1;
		assert_int_equal(dsse_verify_bytes(k, msg, mlen, sig, 64, &e), KERR_AUTH);
		dsse_key_free(k);
	}
}

static void test_envelope_roundtrip_and_tamper(void **state)
{
	char path[] = "/tmp/kiln-dsse-XXXXXX";
	char keyfile[64], id1[65], id2[65];
	const char stmt[] = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";
	struct buf pem = BUF_INIT(BUF_NOLIMIT), copy = BUF_INIT(BUF_NOLIMIT);
	struct dsse_key *k = NULL, *pub = NULL;
	unsigned char sig[64];
	struct kerr e;
	(void)state;

	assert_non_null(mkdtemp(path));
	snprintf(keyfile, sizeof(keyfile), "%s/key.pem", path);
	assert_int_equal(dsse_key_generate(keyfile, &e), 0);
	/* Made once: a second init never overwrites the farm's key. */
	assert_int_equal(dsse_key_generate(keyfile, &e), KERR_CONFLICT);
	assert_int_equal(access(keyfile, F_OK), 0);
	assert_int_equal(dsse_key_load(keyfile, &k, &e), 0);
	assert_true(dsse_key_is_private(k));
	assert_int_equal(dsse_sign(k, DSSE_INTOTO_TYPE, stmt, strlen(stmt), sig, &e), 0);

	/* The public half, as served and printed, verifies. */
	assert_int_equal(dsse_key_public_pem(k, &pem), 0);
	assert_non_null(strstr(pem.ptr, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(dsse_key_from_pem(pem.ptr, pem.len, &pub, &e), 0);
	assert_false(dsse_key_is_private(pub));
	assert_int_equal(dsse_key_id(k, id1), 0);
	assert_int_equal(dsse_key_id(pub, id2), 0);
	assert_string_equal(id1, id2);
	assert_int_equal(dsse_verify(pub, DSSE_INTOTO_TYPE, stmt, strlen(stmt), sig, 64, &e), 0);
	assert_int_equal(dsse_sign(pub, DSSE_INTOTO_TYPE, stmt, strlen(stmt), sig, &e), KERR_INVAL);

	/* Any changed byte of the statement, or another payload type, fails. */
	for (size_t i = 0; i < strlen(stmt); i++) {
		buf_reset(&copy);
		buf_append(&copy, stmt, strlen(stmt));
		copy.ptr[i] ^= 0x20;
		assert_int_equal(dsse_verify(pub, DSSE_INTOTO_TYPE, copy.ptr, copy.len, sig, 64, &e),
				 KERR_AUTH);
	}
	assert_int_equal(dsse_verify(pub, "application/json", stmt, strlen(stmt), sig, 64, &e), KERR_AUTH);
	assert_string_equal(e.msg, "signature does not match");
	assert_int_equal(dsse_verify(pub, DSSE_INTOTO_TYPE, stmt, strlen(stmt), sig, 63, &e), KERR_INVAL);

	/* Not a key, and not Ed25519. */
	dsse_key_free(pub);
	assert_int_equal(dsse_key_from_pem("hello", 5, &pub, &e), KERR_INVAL);
	assert_null(pub);
	assert_int_equal(dsse_key_load("/nonexistent/key.pem", &pub, &e), KERR_IO);

	dsse_key_free(k);
	buf_release(&pem);
	buf_release(&copy);
	unlink(keyfile);
	rmdir(path);
}

static void test_not_ed25519(void **state)
{
	/* An EC P-256 public key: Kiln's keys are Ed25519 only. */
	static const char ec[] =
		"-----BEGIN PUBLIC KEY-----\n"
		"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEv6fsnFtZlYHN8rhYI84zpP0ZZXS5\n"
		"D+KrEtntvsQm/dtZrNjCUTY0Lwozw/rhApatuL89uakULflLR3/t8pyw9A==\n"
		"-----END PUBLIC KEY-----\n";
	struct dsse_key *k = NULL;
	struct kerr e;
	(void)state;
	assert_int_equal(dsse_key_from_pem(ec, sizeof(ec) - 1, &k, &e), KERR_INVAL);
	assert_string_equal(e.msg, "not an Ed25519 key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pae_spec_example),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_rfc8032),
		cmocka_unit_test(test_envelope_roundtrip_and_tamper),
		cmocka_unit_test(test_not_ed25519),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
