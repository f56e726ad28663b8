/* Fuzz PEP 503 names: normalization is idempotent and only succeeds on valid names. */
#include "tests/fuzz/fuzz.h"

#include "common/buf.h"
#include "common/pyname.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = BUF_INIT(4096), b = BUF_INIT(4096);
	int valid = pyname_valid((const char *)data, size);

	if (pyname_normalize((const char *)data, size, &a, NULL) == 0) {
		if (!valid)
			abort();
		if (pyname_normalize(a.ptr, a.len, &b, NULL) != 0 || !buf_eq(&b, a.ptr))
			abort();
	}
	buf_release(&a);
	buf_release(&b);
	return 0;
}
