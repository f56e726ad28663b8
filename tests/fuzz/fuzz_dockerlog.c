/* Fuzz Docker's multiplexed log framing, fed in uneven pieces: frames never exceed the cap. */
#include "tests/fuzz/fuzz.h"

#include "common/dockerlog.h"
#include "common/kerr.h"

#include <stdlib.h>

static int on_frame(void *ctx, int stream, const char *p, size_t n)
{
	if (n > 4096)
		abort();
	(void)ctx;
	(void)stream;
	(void)p;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockerlog d;
	struct kerr e;
	size_t off = 0, step = size ? (size_t)(data[0] % 13) + 1 : 1;

	dockerlog_init(&d, 4096);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		if (dockerlog_feed(&d, data + off, n, on_frame, NULL, &e))
			break;
		off += n;
	}
	(void)dockerlog_finish(&d, &e);
	dockerlog_release(&d);
	return 0;
}
