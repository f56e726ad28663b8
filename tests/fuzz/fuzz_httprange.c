/* Fuzz Range / If-Range / If-None-Match parsing: a partial range is always inside the file. */
#include "tests/fuzz/fuzz.h"

#include "common/httprange.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 100, 1ull << 40 };
	char *s = fuzz_cstr(data, size);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct httprange r;
		if (httprange_parse(s, sizes[i], &r) == HTTPRANGE_PARTIAL &&
		    (r.first > r.last || r.last >= sizes[i]))
			abort();
	}
	(void)httprange_if_range(s, "\"abc\"");
	(void)httprange_none_match(s, "\"abc\"");
	free(s);
	return 0;
}
