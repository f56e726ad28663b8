/*
 * Unit tests for common/httprange: Range (RFC 9110 section 14.2), If-Range
 * (13.1.5) and If-None-Match (13.1.2), as a file server reads them. Includes
 * what pip (resume: "bytes=N-" plus If-Range) and uv (HEAD, then "bytes=-N"
 * and "bytes=a-b" to read a wheel's zip directory) send.
 */
#include "tests/unit/unit.h"

#include "common/httprange.h"

#include <stdio.h>
#include <string.h>

#define F HTTPRANGE_FULL
#define P HTTPRANGE_PARTIAL
#define U HTTPRANGE_UNSATISFIABLE
#define M HTTPRANGE_MULTI
#define BIG UINT64_MAX

static const struct {
	const char *value;
	uint64_t size;
	enum httprange_result want;
	uint64_t first, last; /* for P */
} range_cases[] = {
	/* No header, or nothing usable in it: the whole file. */
	{ NULL, 100, F, 0, 0 },
	{ "", 100, F, 0, 0 },
	{ "bytes=", 100, F, 0, 0 },
	{ "bytes=,", 100, F, 0, 0 },
	{ "bytes", 100, F, 0, 0 },
	{ "bytes 0-1", 100, F, 0, 0 },
	{ "bytes =0-1", 100, F, 0, 0 },
	{ "items=0-1", 100, F, 0, 0 },
	{ "bytesx=0-1", 100, F, 0, 0 },
	{ "=0-1", 100, F, 0, 0 },
	/* The three forms. */
	{ "bytes=0-9", 100, P, 0, 9 },
	{ "bytes=10-19", 100, P, 10, 19 },
	{ "bytes=99-99", 100, P, 99, 99 },
	{ "bytes=0-0", 1, P, 0, 0 },
	{ "bytes=50-", 100, P, 50, 99 },
	{ "bytes=0-", 100, P, 0, 99 },
	{ "bytes=-10", 100, P, 90, 99 },
	{ "bytes=-1", 100, P, 99, 99 },
	{ "bytes=-100", 100, P, 0, 99 },
	{ "bytes=-1000", 100, P, 0, 99 },
	/* The last position is cut at the end. */
	{ "bytes=90-1000", 100, P, 90, 99 },
	{ "bytes=0-18446744073709551615", 100, P, 0, 99 },
	{ "bytes=0-99999999999999999999999999", 100, P, 0, 99 },
	{ "bytes=-99999999999999999999999999", 100, P, 0, 99 },
	/* Unit names are case-insensitive; whitespace around the list is allowed. */
	{ "Bytes=1-2", 100, P, 1, 2 },
	{ "BYTES=1-2", 100, P, 1, 2 },
	{ "bytes= 1-2", 100, P, 1, 2 },
	{ "bytes=1-2 ", 100, P, 1, 2 },
	{ " bytes=1-2", 100, P, 1, 2 },
	{ "bytes=1-2,", 100, P, 1, 2 },
	{ "bytes=,1-2", 100, P, 1, 2 },
	{ "bytes=\t1-2\t", 100, P, 1, 2 },
	/* Unsatisfiable: 416. */
	{ "bytes=100-", 100, U, 0, 0 },
	{ "bytes=100-200", 100, U, 0, 0 },
	{ "bytes=1000-2000", 100, U, 0, 0 },
	{ "bytes=-0", 100, U, 0, 0 },
	{ "bytes=99999999999999999999999-", 100, U, 0, 0 },
	{ "bytes=0-", 0, U, 0, 0 },
	{ "bytes=0-0", 0, U, 0, 0 },
	{ "bytes=100-,200-", 100, U, 0, 0 },
	/* A suffix of an empty file selects nothing: ignored. */
	{ "bytes=-5", 0, F, 0, 0 },
	/* Several ranges: the whole file (200) if any is satisfiable. */
	{ "bytes=0-1,5-6", 100, M, 0, 0 },
	{ "bytes=0-1, 5-6", 100, M, 0, 0 },
	{ "bytes=0-1 , -5", 100, M, 0, 0 },
	{ "bytes=500-600,5-6", 100, M, 0, 0 },
	{ "bytes=0-0,0-0,0-0,0-0", 100, M, 0, 0 },
	/* Syntax errors make the whole header ignored. */
	{ "bytes=a-b", 100, F, 0, 0 },
	{ "bytes=1", 100, F, 0, 0 },
	{ "bytes=-", 100, F, 0, 0 },
	{ "bytes=--1", 100, F, 0, 0 },
	{ "bytes=1--2", 100, F, 0, 0 },
	{ "bytes=5-1", 100, F, 0, 0 },
	{ "bytes=1-2x", 100, F, 0, 0 },
	{ "bytes=1 -2", 100, F, 0, 0 },
	{ "bytes=1- 2", 100, F, 0, 0 },
	{ "bytes=+1-2", 100, F, 0, 0 },
	{ "bytes=0x10-0x20", 100, F, 0, 0 },
	{ "bytes=1-2;3-4", 100, F, 0, 0 },
	{ "bytes=1-2,3-4,x", 100, F, 0, 0 },
	{ "bytes=1-2,5-1", 100, F, 0, 0 },
	{ "bytes=-1-2", 100, F, 0, 0 },
	{ "bytes=\xff", 100, F, 0, 0 },
	/* Sizes at the edge of 64 bits. */
	{ "bytes=-1", BIG, P, BIG - 1, BIG - 1 },
	{ "bytes=0-", BIG, P, 0, BIG - 1 },
	{ "bytes=18446744073709551614-", BIG, P, BIG - 1, BIG - 1 },
	{ "bytes=18446744073709551615-", BIG, U, 0, 0 },
};

static void test_range(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(range_cases); i++) {
		struct httprange r = { 12345, 67890 };
		enum httprange_result got = httprange_parse(range_cases[i].value, range_cases[i].size, &r);
		const char *v = range_cases[i].value ? range_cases[i].value : "(null)";

		if (got != range_cases[i].want)
			fail_msg("case %zu ('%s', size %llu): got %d, want %d", i, v,
				 (unsigned long long)range_cases[i].size, (int)got,
				 (int)range_cases[i].want);
		if (got == HTTPRANGE_PARTIAL &&
		    (r.first != range_cases[i].first || r.last != range_cases[i].last))
			fail_msg("case %zu ('%s'): got %llu-%llu, want %llu-%llu", i, v,
				 (unsigned long long)r.first, (unsigned long long)r.last,
				 (unsigned long long)range_cases[i].first,
				 (unsigned long long)range_cases[i].last);
		if (got != HTTPRANGE_PARTIAL && (r.first != 12345 || r.last != 67890))
			fail_msg("case %zu ('%s'): *out written for result %d", i, v, (int)got);
	}
}

/* A long header with many ranges is still read to the end, without trouble. */
static void test_range_long(void **state)
{
	static char buf[64 * 1024];
	size_t n = 0;
	struct httprange r;

	(void)state;
	n += (size_t)snprintf(buf, sizeof(buf), "bytes=");
	while (n + 16 < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%zu-%zu,", n, n + 1);
	assert_int_equal(httprange_parse(buf, 1000, &r), HTTPRANGE_MULTI);
	assert_int_equal(httprange_parse(buf, 1, &r), HTTPRANGE_UNSATISFIABLE);
	memset(buf, '9', sizeof(buf) - 1);
	memcpy(buf, "bytes=", 6);
	buf[sizeof(buf) - 2] = '-';
	assert_int_equal(httprange_parse(buf, 1000, &r), HTTPRANGE_UNSATISFIABLE);
}

static const char ETAG[] = "\"0123abcd\"";

static const struct {
	const char *value;
	int want;
} if_range_cases[] = {
	{ NULL, 1 },
	{ "", 1 },
	{ "  ", 1 },
	{ "\"0123abcd\"", 1 },
	{ " \"0123abcd\" ", 1 },
	{ "\"0123abcd", 0 },
	{ "0123abcd", 0 },
	{ "\"0123abce\"", 0 },
	{ "\"0123abcd\"x", 0 },
	{ "\"0123ABCD\"", 0 },
	/* Weak tags never match If-Range (strong comparison). */
	{ "W/\"0123abcd\"", 0 },
	/* Dates: Kiln sends no Last-Modified, so none matches. */
	{ "Wed, 21 Oct 2015 07:28:00 GMT", 0 },
	{ "\"\"", 0 },
	{ "\"", 0 },
};

static void test_if_range(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(if_range_cases); i++) {
		int got = httprange_if_range(if_range_cases[i].value, ETAG);
		if (got != if_range_cases[i].want)
			fail_msg("case %zu ('%s'): got %d, want %d", i,
				 if_range_cases[i].value ? if_range_cases[i].value : "(null)", got,
				 if_range_cases[i].want);
	}
}

static const struct {
	const char *value;
	int want;
} none_match_cases[] = {
	{ NULL, 0 },
	{ "", 0 },
	{ "*", 1 },
	{ " * ", 1 },
	{ "*, \"x\"", 0 },
	{ "\"0123abcd\"", 1 },
	{ "W/\"0123abcd\"", 1 },
	{ "\"x\", \"0123abcd\"", 1 },
	{ "\"x\",W/\"0123abcd\"", 1 },
	{ "\"x\" , \"y\" , \"0123abcd\" ", 1 },
	{ ",,\"0123abcd\"", 1 },
	{ "\"x\"", 0 },
	{ "\"x\", \"y\"", 0 },
	{ "0123abcd", 0 },
	{ "\"0123abcd", 0 },
	{ "\"x\" junk, \"0123abcd\"", 0 },
	{ "w/\"0123abcd\"", 0 },
	{ "\"0123abcd\"\"", 1 },
	{ "\"0123abc\"", 0 },
	{ "\"0123abcdd\"", 0 },
};

static void test_none_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(none_match_cases); i++) {
		int got = httprange_none_match(none_match_cases[i].value, ETAG);
		if (got != none_match_cases[i].want)
			fail_msg("case %zu ('%s'): got %d, want %d", i,
				 none_match_cases[i].value ? none_match_cases[i].value : "(null)",
				 got, none_match_cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_range_long),
		cmocka_unit_test(test_if_range),
		cmocka_unit_test(test_none_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
