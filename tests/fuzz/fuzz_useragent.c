/* Fuzz user-agent parsing: bounded, NUL-terminated fields whatever comes in. */
#include "tests/fuzz/fuzz.h"

#include "common/useragent.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct useragent ua;

	useragent_parse((const char *)data, size, &ua);
	if (strlen(ua.installer) == 0 || strlen(ua.installer) > USERAGENT_NAME_MAX ||
	    strlen(ua.python) > USERAGENT_PYTHON_MAX)
		abort();
	return 0;
}
