/*
 * Fuzz the build driver's result.json as the host reads it (builder/driver.c):
 * it is written in the sandbox after the project's code ran, so anything goes.
 * Accepted results must keep the documented bounds, and their reports must move
 * out and free cleanly.
 */
#include "tests/fuzz/fuzz.h"

#include "builder/driver.h"
#include "common/kerr.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *paths[] = { (char *)"/out/a-1.0-py3-none-any.whl",
			  (char *)"/out/k-1.0-cp311-cp311-manylinux_2_17_x86_64.whl" };
	struct sandbox_wheel_report *reps = NULL;
	struct driver_result r;
	struct kerr e;

	if (driver_result_parse((const char *)data, size, &r, &e))
		return 0;
	if (r.nrequires > DRIVER_MAX_REQUIRES || r.nwheels > DRIVER_MAX_WHEELS ||
	    strlen(r.reason) >= sizeof(r.reason))
		abort();
	for (size_t i = 0; i < r.nrequires; i++)
		if (!r.requires[i][0] || r.requires[i][0] == '-')
			abort();
	for (size_t i = 0; r.reason[i]; i++)
		if ((unsigned char)r.reason[i] < 0x20 || (unsigned char)r.reason[i] > 0x7e)
			abort();
	driver_result_reports(&r, paths, 2, &reps);
	for (size_t i = 0; i < 2; i++)
		if (reps[i].nneeded > DRIVER_MAX_NEEDED)
			abort();
	driver_reports_free(reps, 2);
	driver_result_release(&r);
	return 0;
}
