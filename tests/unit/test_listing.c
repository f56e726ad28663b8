/*
 * Unit tests for registry-sync/listing: the PEP 691 listing parsed as a stream.
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "registry-sync/listing.h"

#include <stdio.h>
#include <string.h>

/* Parse s fed in pieces of step bytes. */
static int parse_steps(const char *s, size_t n, size_t step, struct upstream_listing *l,
	struct kerr *e)
{
	struct listing_stream *ls = listing_stream_new(l);
	int rc = 0;

	for (size_t off = 0; off < n && !rc; off += step)
		rc = listing_stream_feed(ls, s + off, n - off < step ? n - off : step, e);
	if (!rc)
		rc = listing_stream_end(ls, e);
	listing_stream_free(ls);
	return rc;
}

/* Any split of the input gives the same listing. */
static void test_pieces(void **state)
{
	const char *s = "{\"meta\":{\"api-version\":\"1.1\",\"_last-serial\":42},\"projects\":["
		"{\"name\":\"Demo.Pkg\",\"_last-serial\":40,\"extra\":{\"x\":[1,{\"y\":2}]}},"
		"{\"_last-serial\":7,\"name\":\"caf\\u00e9-\\\"q\\\"\"},{\"name\":\"other\"}]}  \n";

	for (size_t step = 1; step <= strlen(s); step++) {
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		if (parse_steps(s, strlen(s), step, &l, &e))
			fail_msg("step %zu: %s", step, e.msg);
		assert_int_equal(l.serial, 42);
		assert_int_equal(l.nprojects, 3);
		assert_string_equal(l.projects[0].name, "Demo.Pkg");
		assert_int_equal(l.projects[0].serial, 40);
		assert_string_equal(l.projects[1].name, "caf\xc3\xa9-\"q\"");
		assert_int_equal(l.projects[1].serial, 7);
		assert_string_equal(l.projects[2].name, "other");
		assert_int_equal(l.projects[2].serial, -1);
		upstream_listing_release(&l);
	}
}

/* More entries than a 16-bit index and names longer than LEJP's string chunk. */
static void test_big(void **state)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	struct upstream_listing l;
	struct kerr e;
	char longname[601];

	memset(longname, 'n', 600);
	longname[600] = 0;
	buf_puts(&b, "{\"projects\":[");
	for (int i = 0; i < 70000; i++)
		buf_printf(&b, "%s{\"name\":\"p%d\",\"_last-serial\":%d}", i ? "," : "", i, i);
	buf_printf(&b, ",{\"name\":\"%s\"}]}", longname);
	kerr_clear(&e);
	assert_int_equal(parse_steps(b.ptr, b.len, 4096, &l, &e), 0);
	assert_int_equal(l.nprojects, 70001);
	assert_string_equal(l.projects[69999].name, "p69999");
	assert_int_equal(l.projects[69999].serial, 69999);
	assert_string_equal(l.projects[70000].name, longname);
	upstream_listing_release(&l);
	buf_release(&b);
}

static void test_bad(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "{\"projects\":[]} x", "after the document" },
		{ "{\"projects\":[{\"name\":\"a\"}", "truncated" },
		{ "{\"projects\":[[1]]}", "projects[0]" },
		{ "{\"meta\":[],\"projects\":[]}", "meta" },
		{ "{\"meta\":3,\"projects\":[]}", "meta" },
		{ "{\"projects\":3}", "projects" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":99999999999999999999}]}", "_last-serial" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":1.5}]}", "_last-serial" },
		{ "{\"projects\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":true}]}", "projects[2]" },
		{ "{\"projects\":[{\"name\":\"a\"}]}{", "after the document" },
		{ "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":1}}}}}}}}}}}},\"projects\":[]}", "json" },
	};
	char longname[2000];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(parse_steps(cases[i].in, strlen(cases[i].in), 3, &l, &e), KERR_INVAL);
		assert_int_equal(l.nprojects, 0);
		assert_null(l.projects);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].msg);
	}
	snprintf(longname, sizeof(longname), "{\"projects\":[{\"name\":\"%01500d\"}]}", 0);
	{
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(parse_steps(longname, strlen(longname), 100, &l, &e), KERR_INVAL);
		assert_non_null(strstr(e.msg, "too long"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
