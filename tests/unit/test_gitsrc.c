/*
 * Unit tests for registry-sync/gitsrc: which git tags name a release version.
 */
#include "tests/unit/unit.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "registry-sync/gitsrc.h"

#include <string.h>

static void test_tag_version(void **state)
{
	static const struct {
		const char *tag, *published, *norm; /* norm NULL: not a version */
	} cases[] = {
		{ "1.0", "1.0", "1.0" },
		{ "v1.2.3", "1.2.3", "1.2.3" },
		{ "V2.0rc1", "2.0rc1", "2.0rc1" },
		{ "1.0-alpha.1", "1.0-alpha.1", "1.0a1" },
		{ "2024.10.1.post2", "2024.10.1.post2", "2024.10.1.post2" },
		{ "nightly", NULL, NULL },
		{ "v", NULL, NULL },
		{ "vv1.0", NULL, NULL },
		{ "release-1.0", NULL, NULL },
		{ "1.0/../x", NULL, NULL },
		{ "", NULL, NULL },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf pub = BUF_INIT(BUF_NOLIMIT), norm = BUF_INIT(BUF_NOLIMIT);
		struct kerr e;
		int rc;

		kerr_clear(&e);
		rc = gitsrc_tag_version(cases[i].tag, &pub, &norm, &e);
		if (cases[i].norm) {
			assert_int_equal(rc, 0);
			assert_string_equal(pub.ptr, cases[i].published);
			assert_string_equal(norm.ptr, cases[i].norm);
		} else {
			assert_int_equal(rc, KERR_INVAL);
		}
		buf_release(&pub);
		buf_release(&norm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
