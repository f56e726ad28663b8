/*
 * Fuzz the METADATA / WHEEL header reader (wheel_inspect_header): every field
 * an upload's METADATA is checked for, and the value found always fits.
 */
#include "tests/fuzz/fuzz.h"

#include "common/kerr.h"
#include "common/wheel_inspect.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fields[] = { "Name", "Version", "Requires-Python",
					      "Wheel-Version", "Summary" };
	static const size_t caps[] = { 1, 8, 256, 1024 };
	char out[1024];
	struct kerr e;

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
			int rc;
			memset(out, 'x', sizeof(out));
			rc = wheel_inspect_header((const char *)data, size, "METADATA", fields[f], out,
						  caps[c], &e);
			if (rc == 1 && strnlen(out, caps[c]) >= caps[c])
				abort(); /* the value must fit, NUL included */
			if (rc != 1 && rc != 0 && rc != KERR_INVAL && rc != KERR_TOOBIG)
				abort();
		}
	return 0;
}
