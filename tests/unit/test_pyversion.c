/*
 * Unit tests for common/pyversion: PEP 440 parsing, normalization and ordering.
 * Expected values were cross-checked against python packaging 26.3.
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/pyversion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct norm_case {
	const char *in;
	const char *canonical;
};

/* Every lenient spelling of PEP 440's "Normalization" section, and more. */
static const struct norm_case norm_cases[] = {
	{ "0", "0" },
	{ "1", "1" },
	{ "1.0", "1.0" },
	{ "1.0.0", "1.0.0" },
	{ "1.2.3.4.5.6.7.8.9.10", "1.2.3.4.5.6.7.8.9.10" },
	{ "2!1.0", "2!1.0" },
	{ "1!0", "1!0" },
	{ "1.0a0", "1.0a0" },
	{ "1.0b1", "1.0b1" },
	{ "1.0rc1", "1.0rc1" },
	{ "1.0.post1", "1.0.post1" },
	{ "1.0.dev1", "1.0.dev1" },
	{ "1.0a1.post2.dev3", "1.0a1.post2.dev3" },
	{ "1.0+abc", "1.0+abc" },
	{ "1!1.0rc2.post3.dev4+ubuntu.5", "1!1.0rc2.post3.dev4+ubuntu.5" },
	{ "1.0A1", "1.0a1" },
	{ "1.0Rc1", "1.0rc1" },
	{ "1.0POST1", "1.0.post1" },
	{ "1.0DEV1", "1.0.dev1" },
	{ "1.0+UBUNTU", "1.0+ubuntu" },
	{ "1.0+Ubuntu.A.1", "1.0+ubuntu.a.1" },
	{ "v1.0", "1.0" },
	{ "V1.0", "1.0" },
	{ "v1!1.0", "1!1.0" },
	{ "v0.1a1", "0.1a1" },
	{ "1.0.a1", "1.0a1" },
	{ "1.0-a1", "1.0a1" },
	{ "1.0_a1", "1.0a1" },
	{ "1.0a.1", "1.0a1" },
	{ "1.0a-1", "1.0a1" },
	{ "1.0a_1", "1.0a1" },
	{ "1.0-alpha.1", "1.0a1" },
	{ "1.0.ALPHA.1", "1.0a1" },
	{ "1.0alpha1", "1.0a1" },
	{ "1.0-a-1", "1.0a1" },
	{ "1.0_alpha_1", "1.0a1" },
	{ "1.0.b2", "1.0b2" },
	{ "1.0beta2", "1.0b2" },
	{ "1.0-beta-2", "1.0b2" },
	{ "1.0.BETA.2", "1.0b2" },
	{ "1.0c1", "1.0rc1" },
	{ "1.0C1", "1.0rc1" },
	{ "1.0pre1", "1.0rc1" },
	{ "1.0preview1", "1.0rc1" },
	{ "1.0-pre-1", "1.0rc1" },
	{ "1.0.preview.1", "1.0rc1" },
	{ "1.0rc", "1.0rc0" },
	{ "1.0c", "1.0rc0" },
	{ "1.0-rc", "1.0rc0" },
	{ "1.0PREVIEW", "1.0rc0" },
	{ "1.0a", "1.0a0" },
	{ "1.0b", "1.0b0" },
	{ "1.0alpha", "1.0a0" },
	{ "1.0-beta", "1.0b0" },
	{ "1.0a-", "1.0a0" },
	{ "1.0.a.", "1.0a0" },
	{ "1.0.post", "1.0.post0" },
	{ "1.0post", "1.0.post0" },
	{ "1.0-post", "1.0.post0" },
	{ "1.0_post", "1.0.post0" },
	{ "1.0post1", "1.0.post1" },
	{ "1.0-post1", "1.0.post1" },
	{ "1.0_post1", "1.0.post1" },
	{ "1.0.post.1", "1.0.post1" },
	{ "1.0.post-1", "1.0.post1" },
	{ "1.0.post_1", "1.0.post1" },
	{ "1.0rev", "1.0.post0" },
	{ "1.0rev1", "1.0.post1" },
	{ "1.0-rev-1", "1.0.post1" },
	{ "1.0r", "1.0.post0" },
	{ "1.0r1", "1.0.post1" },
	{ "1.0.r.1", "1.0.post1" },
	{ "1.0-r1", "1.0.post1" },
	{ "1.0REV3", "1.0.post3" },
	{ "1.0.post-", "1.0.post0" },
	{ "1.0-1", "1.0.post1" },
	{ "1.0-0", "1.0.post0" },
	{ "1.0-01", "1.0.post1" },
	{ "1.0a1-1", "1.0a1.post1" },
	{ "1.0-1.dev2", "1.0.post1.dev2" },
	{ "1.0-1-dev2", "1.0.post1.dev2" },
	{ "1.0.dev", "1.0.dev0" },
	{ "1.0dev", "1.0.dev0" },
	{ "1.0-dev", "1.0.dev0" },
	{ "1.0_dev", "1.0.dev0" },
	{ "1.0.dev0", "1.0.dev0" },
	{ "1.0dev0", "1.0.dev0" },
	{ "1.0-dev0", "1.0.dev0" },
	{ "1.0.dev.1", "1.0.dev1" },
	{ "1.0.dev-1", "1.0.dev1" },
	{ "1.0.dev_1", "1.0.dev1" },
	{ "1.0DEV", "1.0.dev0" },
	{ "1.0-DEV-7", "1.0.dev7" },
	{ "1.0a1dev2", "1.0a1.dev2" },
	{ "1.0a1.dev2", "1.0a1.dev2" },
	{ "1.0a1-dev2", "1.0a1.dev2" },
	{ "1.0rc1.post2dev3", "1.0rc1.post2.dev3" },
	{ "1.0.post1.dev1", "1.0.post1.dev1" },
	{ "1.0post1dev1", "1.0.post1.dev1" },
	{ "1.0-1dev1", "1.0.post1.dev1" },
	{ "1.0+ubuntu-1", "1.0+ubuntu.1" },
	{ "1.0+ubuntu_1", "1.0+ubuntu.1" },
	{ "1.0+ubuntu.1", "1.0+ubuntu.1" },
	{ "1.0+ubuntu-1_2.3", "1.0+ubuntu.1.2.3" },
	{ "1.0+1", "1.0+1" },
	{ "1.0+01", "1.0+1" },
	{ "1.0+000", "1.0+0" },
	{ "1.0+0a", "1.0+0a" },
	{ "1.0+00a.007", "1.0+00a.7" },
	{ "1.0+abc.5", "1.0+abc.5" },
	{ "1.0+5", "1.0+5" },
	{ "1.0+ABC.7", "1.0+abc.7" },
	{ "1.0+cu118", "1.0+cu118" },
	{ "2.0.0+cu118.torch2", "2.0.0+cu118.torch2" },
	{ "1.0+a-b_c.d", "1.0+a.b.c.d" },
	{ " 1.0", "1.0" },
	{ "1.0 ", "1.0" },
	{ "\t1.0\n", "1.0" },
	{ " \t v1.0a1 \015\n", "1.0a1" },
	{ "\0141.0\013", "1.0" },
	{ "01.02", "1.2" },
	{ "001.002.003", "1.2.3" },
	{ "1.01", "1.1" },
	{ "1.0.01", "1.0.1" },
	{ "00", "0" },
	{ "0.0.0", "0.0.0" },
	{ "01!1.0", "1!1.0" },
	{ "000!0", "0" },
	{ "1.0a01", "1.0a1" },
	{ "1.0.post007", "1.0.post7" },
	{ "1.0.dev010", "1.0.dev10" },
	{ "9223372036854775807", "9223372036854775807" },
	{ "1.9223372036854775807", "1.9223372036854775807" },
	{ "9223372036854775807!1", "9223372036854775807!1" },
	{ "1.0a9223372036854775807", "1.0a9223372036854775807" },
	{ "1.0.post9223372036854775807", "1.0.post9223372036854775807" },
	{ "1.0.dev9223372036854775807", "1.0.dev9223372036854775807" },
	{ "00000000000000000000000000001", "1" },
	{ "1.0+99999999999999999999999999", "1.0+99999999999999999999999999" },
	{ "1.0+00000000000000000000001", "1.0+1" },
	{ "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1" },
	{ "2012.10", "2012.10" },
	{ "20121030", "20121030" },
	{ "1.0a--1", "1.0a0.post1" },
	{ "1.0a.-1", "1.0a0.post1" },
	{ "1.0.0.0.0", "1.0.0.0.0" },
	{ "0.1", "0.1" },
	{ "0.0.1", "0.0.1" },
	{ "3.11.0rc1", "3.11.0rc1" },
	{ "3.13.0a4", "3.13.0a4" },
};

/* Not PEP 440 versions, or past Kiln's limits (marked). */
static const char *const invalid_cases[] = {
	"",
	" ",
	"\t\n",
	"v",
	"V",
	"vv1.0",
	"1.0v",
	"a",
	"abc",
	"1.0.",
	".1.0",
	"1..0",
	"1.0..1",
	"1.",
	".1",
	"1.0-",
	"1.0_",
	"1.0--1",
	"1.0-1-1",
	"1.0_1",
	"1.0.1-",
	"-1.0",
	"+1.0",
	"1.0+",
	"1.0++abc",
	"1.0+abc+def",
	"1.0+abc.",
	"1.0+.abc",
	"1.0+abc..def",
	"1.0+abc-",
	"1.0+_abc",
	"1.0+ab c",
	"1.0+abc!",
	"1.0+\303\251",
	"1!",
	"!1.0",
	"1!!1.0",
	"1!v1.0",
	"v 1.0",
	"1 .0",
	"1. 0",
	"1.0 a1",
	"1.0a 1",
	"1.0 +abc",
	"1.0al",
	"1.0alp1",
	"1.0ab",
	"1.0aa",
	"1.0a1a2",
	"1.0a1b2",
	"1.0rc1c2",
	"1.0d",
	"1.0e1",
	"1.0gamma",
	"1.0x",
	"1.0.post1.post2",
	"1.0-1-post2",
	"1.0po",
	"1.0postt",
	"1.0re",
	"1.0revv",
	"1.0.dev1.dev2",
	"1.0devv",
	"1.0.dev1a1",
	"1.0.dev1.post1",
	"1.0.post1a1",
	"1.0.post1-1",
	"1.0de",
	"1.0-dev-dev",
	"1.0a1.",
	"1.0.post1.",
	"1.0.dev1.",
	"1.0a1-",
	"1.0.post1_",
	"1.0.*",
	"*",
	"1.*",
	"==1.0",
	">=1.0",
	"1.0,2.0",
	"1.0;",
	"1.0/2",
	"1\\0",
	"1,0",
	"0x10",
	"1e5",
	"-1",
	"1.-1",
	"1.0-a1-",
	"1.0--a1",
	"1.0-.a1",
	"1.0..a1",
	"1.0a..1",
	"\331\241.\331\240",
	"\357\274\221.\357\274\220",
	"1.0\302\240", /* non-ASCII space; packaging: 1.0 */
	"9223372036854775808", /* Kiln limit; packaging: 9223372036854775808 */
	"1.9223372036854775808", /* Kiln limit; packaging: 1.9223372036854775808 */
	"9223372036854775808!1", /* Kiln limit; packaging: 9223372036854775808!1 */
	"1.0a9223372036854775808", /* Kiln limit; packaging: 1.0a9223372036854775808 */
	"1.0.post9223372036854775808", /* Kiln limit; packaging: 1.0.post9223372036854775808 */
	"1.0-9223372036854775808", /* Kiln limit; packaging: 1.0.post9223372036854775808 */
	"1.0.dev9223372036854775808", /* Kiln limit; packaging: 1.0.dev9223372036854775808 */
	"99999999999999999999.0", /* Kiln limit; packaging: 99999999999999999999.0 */
	"1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", /* Kiln limit; packaging: 1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1. */
	"1.0+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* Kiln limit; packaging: 1.0+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa */
	"1.0+ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab", /* Kiln limit; packaging: 1.0+ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab.ab. */
};

/* Strictly increasing: every earlier entry sorts before every later one. */
static const char *const ordered[] = {
	"0.dev0", "0.0.1.dev0", "0.0.1a1", "0.0.1",
	"0.0.2", "0.1.dev1", "0.1a1", "0.1",
	"0.1.post1", "0.2", "0.9", "0.9.9",
	"0.10", "0.10.1", "0.99", "1.0.dev0",
	"1.0.dev1", "1.0.dev456", "1.0a0.dev0", "1.0a0",
	"1.0a1.dev1", "1.0a1", "1.0a1+local", "1.0a1.post1.dev1",
	"1.0a1.post1", "1.0a2.dev456", "1.0a2", "1.0a12.dev456",
	"1.0a12", "1.0b1.dev456", "1.0b1", "1.0b2",
	"1.0b2.post345.dev456", "1.0b2.post345", "1.0b2-346", "1.0c1.dev456",
	"1.0c1", "1.0rc2", "1.0c3", "1.0",
	"1.0+abc", "1.0+abc.a", "1.0+abc.5", "1.0+abc.7",
	"1.0+abc.10", "1.0+abcd", "1.0+b", "1.0+0",
	"1.0+5", "1.0+5.abc", "1.0+5.0", "1.0+10",
	"1.0.post0.dev0", "1.0.post0", "1.0.post1.dev0", "1.0.post1.dev1",
	"1.0.post1", "1.0.post1+local", "1.0.post2", "1.0.post456.dev34",
	"1.0.post456", "1.0.0.1", "1.0.1.dev0", "1.0.1",
	"1.0.2", "1.0.10", "1.1.dev1", "1.1a1",
	"1.1", "1.1.post1", "1.2+123abc", "1.2+123abc456",
	"1.2+abc", "1.2+abc123", "1.2+abc123def", "1.2+1234.abc",
	"1.2+123456", "1.2.r32+123456", "1.2.rev33+123456", "1.10",
	"1.11.dev0", "2.0.dev0", "2.0a1", "2.0",
	"2.0.0.1", "3.8", "3.9", "3.10.0rc1",
	"3.10", "3.11.0a1", "3.11.0b4", "3.11.0rc2",
	"3.11", "3.11.1", "3.12", "10.0",
	"2012.10", "9223372036854775807", "1!1.0.dev456", "1!1.0a1",
	"1!1.0a2.dev456", "1!1.0a12.dev456", "1!1.0a12", "1!1.0b1.dev456",
	"1!1.0b2", "1!1.0b2.post345.dev456", "1!1.0b2.post345", "1!1.0b2-346",
	"1!1.0c1.dev456", "1!1.0c1", "1!1.0rc2", "1!1.0c3",
	"1!1.0", "1!1.0.post456.dev34", "1!1.0.post456", "1!1.1.dev1",
	"1!1.2+123abc", "1!1.2+123abc456", "1!1.2+abc", "1!1.2+abc123",
	"1!1.2+abc123def", "1!1.2+1234.abc", "1!1.2+123456", "1!1.2.r32+123456",
	"1!1.2.rev33+123456", "1!9223372036854775807.post1", "2!0.dev0", "2!0",
	"9223372036854775807!0",
};

struct eq_case {
	const char *a, *b;
};

/* Distinct spellings that compare equal. */
static const struct eq_case equal_cases[] = {
	{ "1.0", "1.0.0" },
	{ "1", "1.0.0.0.0" },
	{ "0", "0.0" },
	{ "1.0", "v1.0" },
	{ "1.0", "0!1.0" },
	{ "1.0a", "1.0a0" },
	{ "1.0c1", "1.0rc1" },
	{ "1.0pre1", "1.0rc1" },
	{ "1.0preview1", "1.0c1" },
	{ "1.0alpha1", "1.0a1" },
	{ "1.0beta1", "1.0b1" },
	{ "1.0-1", "1.0.post1" },
	{ "1.0r1", "1.0.post1" },
	{ "1.0rev1", "1.0.post1" },
	{ "1.0.post", "1.0.post0" },
	{ "1.0.dev", "1.0.dev0" },
	{ "1.0+ubuntu-1", "1.0+ubuntu.1" },
	{ "1.0+ABC", "1.0+abc" },
	{ "1.0+01", "1.0+1" },
	{ "1.0+abc.007", "1.0+abc.7" },
	{ "1.0.0+abc", "1.0+abc" },
	{ "1.0.0a1", "1.0a1" },
	{ "01.02", "1.2" },
	{ "1.2.0a1", "1.2a1" },
	{ "1.0.0.post1.dev2", "1.0-1dev2" },
	{ " 1.0 ", "1.0" },
};

static void parse_ok(struct pyversion *v, const char *s)
{
	struct kerr e;

	kerr_clear(&e);
	if (pyversion_parse_str(v, s, &e) != 0)
		fail_msg("'%s' did not parse: %s", s, e.msg);
}

static int cmp_str(const char *a, const char *b)
{
	struct pyversion va, vb;

	parse_ok(&va, a);
	parse_ok(&vb, b);
	return pyversion_cmp(&va, &vb);
}

static void test_normalize_table(void **state)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(norm_cases); i++) {
		struct pyversion v, again;

		parse_ok(&v, norm_cases[i].in);
		buf_reset(&out);
		assert_int_equal(pyversion_normalize(&v, &out), 0);
		assert_string_equal(out.ptr, norm_cases[i].canonical);
		/* the canonical form is a fixed point and equal to the input */
		parse_ok(&again, out.ptr);
		buf_reset(&out);
		assert_int_equal(pyversion_normalize(&again, &out), 0);
		assert_string_equal(out.ptr, norm_cases[i].canonical);
		assert_int_equal(pyversion_cmp(&v, &again), 0);
	}
	buf_release(&out);
}

static void test_invalid_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(invalid_cases); i++) {
		struct pyversion v;
		struct kerr e;

		kerr_clear(&e);
		if (pyversion_parse_str(&v, invalid_cases[i], &e) != KERR_INVAL)
			fail_msg("'%s' parsed but is invalid", invalid_cases[i]);
		assert_int_equal(e.code, KERR_INVAL);
		assert_non_null(strstr(e.msg, "invalid version"));
		/* a failed parse leaves nothing that looks like a version */
		assert_int_equal(v.nrelease, 0);
		assert_int_equal(v.local_len, 0);
	}
}

static void test_invalid_with_null_kerr(void **state)
{
	struct pyversion v;
	(void)state;
	assert_int_equal(pyversion_parse_str(&v, "not a version", NULL), KERR_INVAL);
}

static void test_order_pairwise(void **state)
{
	struct pyversion *v = calloc(ARRAY_LEN(ordered), sizeof(*v));
	(void)state;

	assert_non_null(v);
	assert_true(ARRAY_LEN(ordered) >= 100);
	for (size_t i = 0; i < ARRAY_LEN(ordered); i++)
		parse_ok(&v[i], ordered[i]);
	for (size_t i = 0; i < ARRAY_LEN(ordered); i++) {
		assert_int_equal(pyversion_cmp(&v[i], &v[i]), 0);
		for (size_t j = i + 1; j < ARRAY_LEN(ordered); j++) {
			if (pyversion_cmp(&v[i], &v[j]) >= 0 || pyversion_cmp(&v[j], &v[i]) <= 0)
				fail_msg("expected '%s' < '%s'", ordered[i], ordered[j]);
		}
	}
	free(v);
}

struct indexed {
	struct pyversion v;
	size_t index; /* position in ordered[] */
};

static int cmp_indexed(const void *a, const void *b)
{
	return pyversion_cmp(&((const struct indexed *)a)->v, &((const struct indexed *)b)->v);
}

static void test_order_qsort_shuffled(void **state)
{
	size_t n = ARRAY_LEN(ordered);
	struct indexed *items = calloc(n, sizeof(*items));
	uint32_t seed = 2463534242u;
	(void)state;

	assert_non_null(items);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < n; i++) {
			parse_ok(&items[i].v, ordered[i]);
			items[i].index = i;
		}
		/* Fisher-Yates with xorshift32: deterministic, different each round */
		for (size_t i = n - 1; i > 0; i--) {
			struct indexed tmp;
			size_t j;

			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			j = seed % (i + 1);
			tmp = items[i];
			items[i] = items[j];
			items[j] = tmp;
		}
		qsort(items, n, sizeof(*items), cmp_indexed);
		for (size_t i = 0; i < n; i++)
			if (items[i].index != i)
				fail_msg("sorted position %zu holds '%s'", i, ordered[items[i].index]);
	}
	free(items);
}

static void test_equal_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(equal_cases); i++) {
		if (cmp_str(equal_cases[i].a, equal_cases[i].b) != 0 ||
		    cmp_str(equal_cases[i].b, equal_cases[i].a) != 0)
			fail_msg("expected '%s' == '%s'", equal_cases[i].a, equal_cases[i].b);
	}
}

static void test_cmp_public_ignores_local(void **state)
{
	struct pyversion a, b;
	(void)state;

	parse_ok(&a, "1.0+abc");
	parse_ok(&b, "1.0");
	assert_true(pyversion_cmp(&a, &b) > 0);
	assert_int_equal(pyversion_cmp_public(&a, &b), 0);
	parse_ok(&b, "1.0+5");
	assert_true(pyversion_cmp(&a, &b) < 0);
	assert_int_equal(pyversion_cmp_public(&a, &b), 0);
	parse_ok(&b, "1.0.post1");
	assert_true(pyversion_cmp_public(&a, &b) < 0);
}

struct prop_case {
	const char *in;
	int pre, post, dev, local;
	int64_t epoch;
	size_t nrelease;
};

static const struct prop_case prop_cases[] = {
	{ "1.0", 0, 0, 0, 0, 0, 2 },
	{ "1.0.0", 0, 0, 0, 0, 0, 3 },
	{ "1", 0, 0, 0, 0, 0, 1 },
	{ "1.0a1", 1, 0, 0, 0, 0, 2 },
	{ "1.0b1", 1, 0, 0, 0, 0, 2 },
	{ "1.0rc1", 1, 0, 0, 0, 0, 2 },
	{ "1.0.dev0", 1, 0, 1, 0, 0, 2 },
	{ "1.0.post1", 0, 1, 0, 0, 0, 2 },
	{ "1.0.post1.dev0", 1, 1, 1, 0, 0, 2 },
	{ "1.0a1.post1", 1, 1, 0, 0, 0, 2 },
	{ "1.0a1.post1.dev1", 1, 1, 1, 0, 0, 2 },
	{ "1.0+local", 0, 0, 0, 1, 0, 2 },
	{ "1.0rc1+local", 1, 0, 0, 1, 0, 2 },
	{ "2!1.0", 0, 0, 0, 0, 2, 2 },
	{ "0!1.0", 0, 0, 0, 0, 0, 2 },
	{ "9223372036854775807!1.2.3.4", 0, 0, 0, 0, INT64_MAX, 4 },
	{ "1.0-1", 0, 1, 0, 0, 0, 2 },
	{ "1.0-dev", 1, 0, 1, 0, 0, 2 },
};

static void test_properties_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(prop_cases); i++) {
		const struct prop_case *c = &prop_cases[i];
		struct pyversion v;
		size_t n = 0;

		parse_ok(&v, c->in);
		if (pyversion_is_prerelease(&v) != c->pre ||
		    pyversion_is_postrelease(&v) != c->post ||
		    pyversion_is_devrelease(&v) != c->dev ||
		    pyversion_has_local(&v) != c->local || pyversion_epoch(&v) != c->epoch ||
		    pyversion_release(&v, &n) != v.release || n != c->nrelease)
			fail_msg("wrong properties for '%s'", c->in);
	}
}

static void test_fields(void **state)
{
	struct pyversion v;
	(void)state;

	parse_ok(&v, "3!1.02.3rc4.post5.dev6+Ubuntu-007.X");
	assert_true(v.epoch == 3);
	assert_int_equal(v.nrelease, 3);
	assert_true(v.release[0] == 1 && v.release[1] == 2 && v.release[2] == 3);
	assert_int_equal(v.pre, PYVERSION_PRE_RC);
	assert_true(v.pre_num == 4);
	assert_true(v.post == 5);
	assert_true(v.dev == 6);
	assert_string_equal(v.local, "ubuntu.7.x");
	assert_int_equal(v.local_len, strlen("ubuntu.7.x"));

	parse_ok(&v, "1.0");
	assert_int_equal(v.pre, PYVERSION_PRE_NONE);
	assert_true(v.post == -1);
	assert_true(v.dev == -1);
	assert_string_equal(v.local, "");
}

static void test_public_and_base(void **state)
{
	struct pyversion v, out;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	parse_ok(&v, "1!2.0rc1.post2.dev3+abc.4");
	pyversion_public(&v, &out);
	assert_int_equal(pyversion_normalize(&out, &b), 0);
	assert_string_equal(b.ptr, "1!2.0rc1.post2.dev3");
	buf_reset(&b);
	pyversion_base(&v, &out);
	assert_int_equal(pyversion_normalize(&out, &b), 0);
	assert_string_equal(b.ptr, "1!2.0");
	assert_false(pyversion_is_prerelease(&out));
	/* plain data: a copy is independent of the original */
	out = v;
	v.release[0] = 7;
	buf_reset(&b);
	assert_int_equal(pyversion_normalize(&out, &b), 0);
	assert_string_equal(b.ptr, "1!2.0rc1.post2.dev3+abc.4");
	buf_release(&b);
}

static void test_int64_limits(void **state)
{
	struct pyversion a, b;
	(void)state;

	parse_ok(&a, "9223372036854775807");
	assert_true(a.release[0] == INT64_MAX);
	parse_ok(&b, "9223372036854775806");
	assert_true(pyversion_cmp(&b, &a) < 0);
	parse_ok(&a, "1.0.post9223372036854775807");
	parse_ok(&b, "1.0.post9223372036854775806");
	assert_true(pyversion_cmp(&b, &a) < 0);
	/* numeric local segments are digit strings: no limit, still by value */
	parse_ok(&a, "1.0+99999999999999999999999");
	parse_ok(&b, "1.0+100000000000000000000000");
	assert_true(pyversion_cmp(&a, &b) < 0);
	parse_ok(&b, "1.0+000099999999999999999999999");
	assert_int_equal(pyversion_cmp(&a, &b), 0);
	assert_int_equal(pyversion_parse_str(&a, "18446744073709551616", NULL), KERR_INVAL);
	assert_int_equal(pyversion_parse_str(&a, "1.0a18446744073709551617", NULL), KERR_INVAL);
}

static void test_release_segment_limit(void **state)
{
	struct buf s = BUF_INIT(BUF_NOLIMIT);
	struct pyversion v;
	struct kerr e;
	(void)state;

	assert_int_equal(buf_puts(&s, "1"), 0);
	for (int i = 1; i < PYVERSION_RELEASE_MAX; i++)
		assert_int_equal(buf_puts(&s, ".1"), 0);
	parse_ok(&v, s.ptr);
	assert_int_equal(v.nrelease, PYVERSION_RELEASE_MAX);
	assert_int_equal(buf_puts(&s, ".1"), 0);
	assert_int_equal(pyversion_parse(&v, s.ptr, s.len, &e), KERR_INVAL);
	assert_non_null(strstr(e.msg, "too many release segments"));
	buf_release(&s);
}

static void test_local_length_limit(void **state)
{
	char text[4 + PYVERSION_LOCAL_MAX + 1];
	struct pyversion v;
	(void)state;

	memcpy(text, "1.0+", 4);
	memset(text + 4, 'a', PYVERSION_LOCAL_MAX - 1);
	text[4 + PYVERSION_LOCAL_MAX - 1] = '\0';
	parse_ok(&v, text);
	assert_int_equal(v.local_len, PYVERSION_LOCAL_MAX - 1);
	text[4 + PYVERSION_LOCAL_MAX - 1] = 'a';
	text[4 + PYVERSION_LOCAL_MAX] = '\0';
	assert_int_equal(pyversion_parse_str(&v, text, NULL), KERR_INVAL);
	/* the limit is on the normalized label: leading zeros do not count */
	memset(text + 4, '0', PYVERSION_LOCAL_MAX);
	parse_ok(&v, text);
	assert_string_equal(v.local, "0");
}

static void test_explicit_length(void **state)
{
	struct pyversion v;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	(void)state;

	/* only n bytes are read: no terminator needed */
	assert_int_equal(pyversion_parse(&v, "1.0rc1garbage", 6, NULL), 0);
	assert_int_equal(pyversion_normalize(&v, &b), 0);
	assert_string_equal(b.ptr, "1.0rc1");
	assert_int_equal(pyversion_parse(&v, "1.0", 0, NULL), KERR_INVAL);
	assert_int_equal(pyversion_parse(&v, "1.0\0", 4, NULL), KERR_INVAL);
	assert_int_equal(pyversion_parse(&v, "1\0.0", 4, NULL), KERR_INVAL);
	assert_int_equal(pyversion_parse(&v, "1.0+a\0b", 7, NULL), KERR_INVAL);
	buf_release(&b);
}

static void test_normalize_appends_and_respects_max(void **state)
{
	struct buf b = BUF_INIT(10);
	struct pyversion v;
	(void)state;

	parse_ok(&v, "1.0rc1");
	assert_int_equal(buf_puts(&b, "v="), 0);
	assert_int_equal(pyversion_normalize(&v, &b), 0);
	assert_string_equal(b.ptr, "v=1.0rc1");
	/* "1.0rc1" again would need 14 bytes: fails and leaves b unchanged */
	assert_int_equal(pyversion_normalize(&v, &b), KERR_TOOBIG);
	assert_string_equal(b.ptr, "v=1.0rc1");
	parse_ok(&v, "1!2.3.4.post5+abc");
	buf_reset(&b);
	assert_int_equal(pyversion_normalize(&v, &b), KERR_TOOBIG);
	assert_string_equal(b.ptr, "");
	buf_release(&b);
}

static void test_error_message(void **state)
{
	struct pyversion v;
	struct kerr e;
	(void)state;

	kerr_clear(&e);
	assert_int_equal(pyversion_parse_str(&v, "1.0+", &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid version '1.0+': empty local version segment");
	assert_int_equal(pyversion_parse_str(&v, "1.9223372036854775808", &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid version '1.9223372036854775808': number too large");
	assert_int_equal(pyversion_parse_str(&v, "1.0x", &e), KERR_INVAL);
	assert_string_equal(e.msg, "invalid version '1.0x': unexpected character");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_invalid_table),
		cmocka_unit_test(test_invalid_with_null_kerr),
		cmocka_unit_test(test_order_pairwise),
		cmocka_unit_test(test_order_qsort_shuffled),
		cmocka_unit_test(test_equal_table),
		cmocka_unit_test(test_cmp_public_ignores_local),
		cmocka_unit_test(test_properties_table),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_public_and_base),
		cmocka_unit_test(test_int64_limits),
		cmocka_unit_test(test_release_segment_limit),
		cmocka_unit_test(test_local_length_limit),
		cmocka_unit_test(test_explicit_length),
		cmocka_unit_test(test_normalize_appends_and_respects_max),
		cmocka_unit_test(test_error_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
