/*
 * Unit tests for builder/driver: the build driver's result.json is written in
 * the sandbox after the project's code ran there, so every field is checked.
 * A table of documents, accepted or refused, and what comes out of the good ones.
 */
#include "tests/unit/unit.h"

#include "builder/driver.h"
#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
	const char *json;
	int rc;
};

static void test_refused(void **state)
{
	static const struct row rows[] = {
		{ "", KERR_INVAL },
		{ "[]", KERR_INVAL },
		{ "{}", KERR_INVAL },                                    /* no stage */
		{ "{\"stage\":\"compile\"}", KERR_INVAL },               /* unknown stage */
		{ "{\"stage\":1}", KERR_INVAL },
		{ "{\"stage\":\"build\",\"reason\":3}", KERR_INVAL },
		{ "{\"stage\":\"requires\",\"requires\":[\"-r/etc/passwd\"]}", KERR_INVAL },
		{ "{\"stage\":\"requires\",\"requires\":[\"a\\nb\"]}", KERR_INVAL },
		{ "{\"stage\":\"requires\",\"requires\":[7]}", KERR_INVAL },
		{ "{\"stage\":\"requires\",\"requires\":\"x\"}", KERR_INVAL },
		{ "{\"stage\":\"none\",\"wheels\":[{\"filename\":\"../x.whl\"}]}", KERR_INVAL },
		{ "{\"stage\":\"none\",\"wheels\":[{\"filename\":\"a-1.0-py3-none-any.whl\","
		  "\"policy\":\"many linux\"}]}", KERR_INVAL },
		{ "{\"stage\":\"none\",\"wheels\":[{\"filename\":\"a-1.0-py3-none-any.whl\","
		  "\"needed\":[\"lib/../x.so\"]}]}", KERR_INVAL },
		{ "{\"stage\":\"none\",\"wheels\":[{\"filename\":\"a-1.0-py3-none-any.whl\","
		  "\"needed\":[\"libz.so.1\",\"\"]}]}", KERR_INVAL },
		{ "{\"stage\":\"none\",\"wheels\":[\"a-1.0-py3-none-any.whl\"]}", KERR_INVAL },
		{ "{\"stage\":\"none\"} trailing", KERR_INVAL },
		{ "{\"stage\":\"build\",\"source_date_epoch\":-1}", KERR_INVAL },
		{ "{\"stage\":\"build\",\"source_date_epoch\":\"1700000000\"}", KERR_INVAL },
		{ "{\"stage\":\"build\",\"source_date_epoch\":1.5}", KERR_INVAL },
	};
	struct driver_result r;
	struct kerr e;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = driver_result_parse(rows[i].json, strlen(rows[i].json), &r, &e);
		if (rc != rows[i].rc)
			fail_msg("row %zu (%s): rc %d, want %d", i, rows[i].json, rc, rows[i].rc);
		assert_int_equal(r.nwheels, 0);
		assert_int_equal(r.nrequires, 0);
		driver_result_release(&r);
	}
}

static void test_too_many(void **state)
{
	char *doc = malloc(64 * 1024);
	struct driver_result r;
	struct kerr e;
	size_t n = 0;

	(void)state;
	n += (size_t)sprintf(doc + n, "{\"stage\":\"requires\",\"requires\":[");
	for (int i = 0; i <= DRIVER_MAX_REQUIRES; i++)
		n += (size_t)sprintf(doc + n, "%s\"r%d\"", i ? "," : "", i);
	n += (size_t)sprintf(doc + n, "]}");
	assert_int_equal(driver_result_parse(doc, n, &r, &e), KERR_INVAL);
	n = (size_t)sprintf(doc, "{\"stage\":\"none\",\"wheels\":[{\"filename\":"
			    "\"a-1.0-py3-none-any.whl\",\"needed\":[");
	for (int i = 0; i <= DRIVER_MAX_NEEDED; i++)
		n += (size_t)sprintf(doc + n, "%s\"lib%d.so\"", i ? "," : "", i);
	n += (size_t)sprintf(doc + n, "]}]}");
	assert_int_equal(driver_result_parse(doc, n, &r, &e), KERR_INVAL);
	driver_result_release(&r);
	free(doc);
}

static void test_good(void **state)
{
	static const char doc[] =
		"{\"stage\":\"import\",\"reason\":\"does not import on CPython 3.11: bad\\u0007\\u00e9\","
		"\"source_date_epoch\":1700000000,"
		"\"requires\":[\"cython>=3\",\"numpy; python_version>'3'\"],"
		"\"wheels\":[{\"filename\":\"k-1.0-cp311-cp311-manylinux_2_17_x86_64.whl\","
		"\"policy\":\"manylinux_2_17_x86_64\",\"needed\":[\"libz.so.1\",\"libstdc++.so.6\"]},"
		"{\"filename\":\"k-1.0-py3-none-any.whl\",\"policy\":\"\",\"needed\":[]}]}";
	char *paths[] = { (char *)"/out/k-1.0-py3-none-any.whl", (char *)"/out/other-1.0-py3-none-any.whl",
			  (char *)"/out/k-1.0-cp311-cp311-manylinux_2_17_x86_64.whl" };
	struct sandbox_wheel_report *rep = NULL;
	struct driver_result r;
	struct kerr e;

	(void)state;
	assert_int_equal(driver_result_parse(doc, sizeof(doc) - 1, &r, &e), 0);
	assert_int_equal(r.stage, SANDBOX_STAGE_IMPORT);
	assert_int_equal(r.source_date_epoch, 1700000000);
	assert_string_equal(r.reason, "does not import on CPython 3.11: bad???"); /* é: two bytes */
	assert_int_equal(r.nrequires, 2);
	assert_string_equal(r.requires[1], "numpy; python_version>'3'");
	assert_int_equal(r.nwheels, 2);
	driver_result_reports(&r, paths, 3, &rep);
	assert_string_equal(rep[0].policy, "");
	assert_int_equal(rep[0].nneeded, 0);
	assert_string_equal(rep[1].policy, "");
	assert_string_equal(rep[2].policy, "manylinux_2_17_x86_64");
	assert_int_equal(rep[2].nneeded, 2);
	assert_string_equal(rep[2].needed[0], "libz.so.1");
	assert_string_equal(rep[2].needed[1], "libstdc++.so.6");
	driver_result_release(&r);
	driver_reports_free(rep, 3);
}

static void test_embedded_script(void **state)
{
	(void)state;
	assert_int_equal(strlen(driver_script), driver_script_len);
	assert_non_null(strstr(driver_script, "get_requires_for_build_wheel"));
	assert_non_null(strstr(driver_script, "EXIT_FETCH = 4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_embedded_script),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
