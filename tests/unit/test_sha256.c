/* Unit tests for common/sha256 (FIPS 180-2 / NIST vectors). */
#include "tests/unit/unit.h"

#include "common/sha256.h"

#include <string.h>

static const struct {
	const char *in;
	const char *hex;
} vectors[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "The quick brown fox jumps over the lazy dog",
	  "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592" },
};

static void test_vectors(void **state)
{
	char hex[65];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
		assert_int_equal(sha256_hex(vectors[i].in, strlen(vectors[i].in), hex), 0);
		assert_string_equal(hex, vectors[i].hex);
		assert_true(sha256_hex_valid(hex));
	}
}

static void test_streaming_equals_one_shot(void **state)
{
	struct sha256 h;
	char hex[65];
	(void)state;
	/* One million 'a': the FIPS long-message vector, fed in uneven pieces. */
	char chunk[997];
	size_t left = 1000000;
	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(sha256_init(&h), 0);
	while (left) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
		assert_int_equal(sha256_update(&h, chunk, n), 0);
		left -= n;
	}
	assert_int_equal(sha256_final_hex(&h, hex), 0);
	sha256_release(&h);
	sha256_release(&h);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_hex_valid(void **state)
{
	(void)state;
	assert_false(sha256_hex_valid(""));
	assert_false(sha256_hex_valid("abc"));
	assert_false(sha256_hex_valid("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	assert_false(sha256_hex_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g"));
	assert_false(sha256_hex_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_streaming_equals_one_shot),
		cmocka_unit_test(test_hex_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
