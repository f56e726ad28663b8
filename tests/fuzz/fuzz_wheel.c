/*
 * Fuzz the whole upload check (wheel_inspect) with the input as the wheel file:
 * libarchive's zip reader, entry names, sizes and ratios, METADATA and WHEEL.
 * The file lives in a memfd so no disk is touched.
 */
#include "tests/fuzz/fuzz.h"

#include "common/kerr.h"
#include "common/wheel_inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct wheel_limits lim;
	struct wheel_info w;
	struct kerr e;
	char path[64];
	int rc;

	if (fd < 0 && (fd = memfd_create("fuzz-wheel", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	wheel_limits_default(&lim);
	lim.max_uncompressed = 64u << 20; /* keep each run short; the cap is what is tested */
	wheel_info_init(&w);
	rc = wheel_inspect(path, "demo-1.0-py3-none-any.whl", &lim, &w, &e);
	if (rc == 0 && (w.uncompressed > lim.max_uncompressed || !w.name[0] || !w.version[0]))
		abort();
	if (rc != 0 && w.metadata.len != 0)
		abort(); /* a refused wheel leaves the info empty */
	wheel_info_release(&w);
	return 0;
}
