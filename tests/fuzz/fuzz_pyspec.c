/* Fuzz Requires-Python specifiers against a few interpreters. */
#include "tests/fuzz/fuzz.h"

#include "common/pyspec.h"
#include "common/pyversion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pythons[] = { "3.11.7", "2.7", "3.13.0a4", "3.8" };
	struct pyspec s;

	if (pyspec_parse(&s, (const char *)data, size, NULL) == 0) {
		for (size_t i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++) {
			struct pyversion v;
			if (pyversion_parse_str(&v, pythons[i], NULL) == 0)
				(void)pyspec_contains(&s, &v);
		}
		pyspec_release(&s);
	}
	return 0;
}
