/* Fuzz wheel and sdist filename parsing and tag matching. */
#include "tests/fuzz/fuzz.h"

#include "common/wheelname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wheelname w;
	struct sdistname d;

	if (wheelname_parse(&w, (const char *)data, size, NULL) == 0) {
		for (int k = 0; k < 3; k++)
			for (size_t i = 0; i < wheelname_ntags(&w, k); i++)
				(void)wheelname_tag(&w, k, i);
		(void)wheelname_matches(&w, "cp311", "linux_x86_64");
		(void)wheelname_matches(&w, "cp39", "manylinux_2_17_x86_64");
	}
	(void)sdistname_parse(&d, (const char *)data, size, NULL);
	return 0;
}
