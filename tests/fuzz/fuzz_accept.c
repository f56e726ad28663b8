/* Fuzz Accept negotiation: never crashes, always picks a valid offer or none. */
#include "tests/fuzz/fuzz.h"

#include "common/accept.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const offers[] = { "text/html", "application/vnd.pypi.simple.v1+html",
					      "application/vnd.pypi.simple.v1+json" };
	char *s = fuzz_cstr(data, size);
	int r = accept_choose(s, offers, 3);
	int q = accept_quality(s, offers[2]);

	if (r < -1 || r > 2 || q < 0 || q > 1000)
		abort();
	free(s);
	return 0;
}
