/*
 * Unit tests for backend/repro's policy: the forms KILN_REPRO takes, what it
 * refuses, and the sample (deterministic, about the share asked for).
 */
#include "tests/unit/unit.h"

#include "backend/repro.h"
#include "common/kerr.h"

#include <stdio.h>
#include <string.h>

static void test_policy_forms(void **state)
{
	static const struct {
		const char *in;
		int percent; /* -1: refused */
	} cases[] = {
		{ "off", 0 }, { "all", 100 }, { "5%", 5 }, { "0%", 0 }, { "100%", 100 },
		{ "5", -1 }, { "101%", -1 }, { "-1%", -1 }, { "", -1 }, { "%", -1 },
		{ "5%%", -1 }, { "ALL", -1 }, { "5 %", -1 }, { "1e2%", -1 }, { "99999999999999999999%", -1 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct kerr e;
		int p = -7, rc = repro_policy_parse(cases[i].in, &p, &e);

		if (cases[i].percent < 0) {
			assert_int_equal(rc, KERR_INVAL);
			assert_non_null(strstr(e.msg, "want off, all, or a sample N%"));
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(p, cases[i].percent);
		}
	}
}

static void test_sample(void **state)
{
	char v[32];
	int n5 = 0;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(v, sizeof(v), "1.%d", i);
		/* Every replica, every time: the same answer for the same release and target. */
		assert_int_equal(repro_sampled(5, "numpy", v, "trixie-py313-x86_64"),
				 repro_sampled(5, "numpy", v, "trixie-py313-x86_64"));
		n5 += repro_sampled(5, "numpy", v, "trixie-py313-x86_64");
		assert_false(repro_sampled(0, "numpy", v, "trixie-py313-x86_64"));
		assert_true(repro_sampled(100, "numpy", v, "trixie-py313-x86_64"));
		/* A larger sample holds the smaller one. */
		if (repro_sampled(5, "numpy", v, "t"))
			assert_true(repro_sampled(50, "numpy", v, "t"));
	}
	/* About 5%: 500 of 10000, well within chance. */
	assert_in_range(n5, 380, 620);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_forms),
		cmocka_unit_test(test_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
