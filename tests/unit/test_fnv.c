/* Unit tests for common/fnv (the published 64-bit FNV-1a test vectors). */
#include "tests/unit/unit.h"

#include "common/fnv.h"

#include <string.h>

static const struct {
	const char *in;
	uint64_t h;
} vectors[] = {
	{ "", 0xcbf29ce484222325ull },
	{ "a", 0xaf63dc4c8601ec8cull },
	{ "foobar", 0x85944171f73967e8ull },
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
		assert_true(fnv_str(FNV_INIT, vectors[i].in) == vectors[i].h);
		assert_true(fnv_bytes(FNV_INIT, vectors[i].in, strlen(vectors[i].in)) == vectors[i].h);
	}
}

static void test_chained_equals_whole(void **state)
{
	(void)state;
	assert_true(fnv_str(fnv_str(FNV_INIT, "foo"), "bar") == 0x85944171f73967e8ull);
	assert_true(fnv_bytes(fnv_bytes(FNV_INIT, "fo", 2), "obar", 4) == 0x85944171f73967e8ull);
	/* A NUL is a byte like any other to fnv_bytes: ("ab","c") and ("a","bc") differ. */
	assert_true(fnv_bytes(fnv_bytes(FNV_INIT, "ab", 3), "c", 2) !=
		    fnv_bytes(fnv_bytes(FNV_INIT, "a", 2), "bc", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_chained_equals_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
