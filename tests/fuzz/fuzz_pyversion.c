/* Fuzz PEP 440 parsing: parse, normalize, re-parse the normal form (must succeed and
 * compare equal), and order against a fixed version (must be antisymmetric). */
#include "tests/fuzz/fuzz.h"

#include "common/buf.h"
#include "common/pyversion.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pyversion v, w, ref;
	struct buf norm = BUF_INIT(4096);

	if (pyversion_parse(&v, (const char *)data, size, NULL) == 0) {
		if (pyversion_normalize(&v, &norm) == 0) {
			if (pyversion_parse(&w, norm.ptr, norm.len, NULL) != 0)
				abort(); /* a normal form must parse */
			if (pyversion_cmp(&v, &w) != 0)
				abort(); /* and mean the same version */
		}
		if (pyversion_parse_str(&ref, "1.0.post1.dev3+local.7", NULL) == 0) {
			int a = pyversion_cmp(&v, &ref), b = pyversion_cmp(&ref, &v);
			if ((a > 0) != (b < 0) || (a == 0) != (b == 0))
				abort();
		}
	}
	buf_release(&norm);
	return 0;
}
