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
		"{\"_last-serial\":7,\"name\":\"caf\\u00e9-\\\"q\\\"\"},{\"name\":\"other\"},"
		"{\"name\":\"big\",\"_last-serial\":9223372036854775807},"
		"{\"name\":\"str\",\"_last-serial\":\"0012\"}]}  \n";

	for (size_t step = 1; step <= strlen(s); step++) {
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		if (parse_steps(s, strlen(s), step, &l, &e))
			fail_msg("step %zu: %s", step, e.msg);
		assert_int_equal(l.serial, 42);
		assert_int_equal(l.nprojects, 5);
		assert_string_equal(l.projects[0].name, "Demo.Pkg");
		assert_int_equal(l.projects[0].serial, 40);
		assert_string_equal(l.projects[1].name, "caf\xc3\xa9-\"q\"");
		assert_int_equal(l.projects[1].serial, 7);
		assert_string_equal(l.projects[2].name, "other");
		assert_int_equal(l.projects[2].serial, -1);
		assert_int_equal(l.projects[3].serial, INT64_MAX);
		assert_int_equal(l.projects[4].serial, 12);
		upstream_listing_release(&l);
	}
}

/* More entries than a 16-bit index, and names longer than a piece fed. */
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
		{ "{\"projects\":[]}77", "after the document" },
		{ "{\"projects\":[{\"name\":\"a\"}", "truncated" },
		{ "{\"projects\":[[1]]}", "projects[0]" },
		{ "{\"meta\":[],\"projects\":[]}", "meta" },
		{ "{\"meta\":3,\"projects\":[]}", "meta" },
		{ "{\"projects\":3}", "projects" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":99999999999999999999}]}", "_last-serial" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":9223372036854775808}]}", "_last-serial" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":1.5}]}", "_last-serial" },
		{ "{\"projects\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":true}]}", "projects[2]" },
		{ "{\"projects\":[{\"name\":\"a\"}]}{", "after the document" },
		{ "{\"projects\":[{\"name\":\"a\\u0000b\"}]}", "projects[0]: 'name' holds a NUL" },
		{ "{\"projects\":[{\"name\":\"a\",\"_last-serial\":\"12x\"}]}", "_last-serial" },
		{ "[{\"projects\":[]}]", "not an object" },
		{ "{\"projects\":[{\"name\":\"a\"}],\"projects\":[3]}", "projects[1]" },
		{ "{\"projects\":[{\"name\":\"a\"},{}]}", "projects[1]: 'name' is missing" },
		{ "{\"projects\":[{\"name\":\"\xff\"}]}", "json" },
	};
	char deep[400], longname[2000];
	struct buf quiet = BUF_INIT(BUF_NOLIMIT);

	/* In pieces of 3 bytes, and whole. */
	for (size_t i = 0; i < 2 * ARRAY_LEN(cases); i++) {
		const char *in = cases[i / 2].in;
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(parse_steps(in, strlen(in), i % 2 ? strlen(in) : 3, &l, &e), KERR_INVAL);
		assert_int_equal(l.nprojects, 0);
		assert_null(l.projects);
		if (!strstr(e.msg, cases[i / 2].msg))
			fail_msg("case %zu: message '%s' lacks '%s'", i / 2, e.msg, cases[i / 2].msg);
	}
	/* 64 levels parse; 65 are refused. */
	for (int levels = 64; levels <= 65; levels++) {
		struct upstream_listing l;
		struct kerr e;
		size_t n = 0;

		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"projects\":[],\"x\":");
		for (int i = 1; i < levels; i++)
			deep[n++] = '[';
		for (int i = 1; i < levels; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		kerr_clear(&e);
		assert_int_equal(parse_steps(deep, n, 7, &l, &e), levels == 64 ? 0 : KERR_INVAL);
		if (levels == 65)
			assert_non_null(strstr(e.msg, "nested too deep"));
		upstream_listing_release(&l);
	}
	/* A 2 MiB string is refused before it ends (yajl would hold it whole). */
	buf_puts(&quiet, "{\"projects\":[],\"x\":\"");
	for (int i = 0; i < 2 << 20; i++)
		buf_putc(&quiet, 'q');
	buf_puts(&quiet, "\"}");
	{
		struct upstream_listing l;
		struct kerr e;

		kerr_clear(&e);
		assert_int_equal(parse_steps(quiet.ptr, quiet.len, 65536, &l, &e), KERR_INVAL);
		assert_non_null(strstr(e.msg, "1 MiB"));
	}
	buf_release(&quiet);
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
