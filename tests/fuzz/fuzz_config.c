/*
 * Fuzz the config file reader (config_load): the input is the file's text.
 * Whatever loads must read back through the typed getters without surprise.
 */
#include "tests/fuzz/fuzz.h"

#include "common/config.h"
#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct config c;
	struct kerr e;
	char path[64];

	if (fd < 0) {
		/* The environment would override the file: keep it out of the way. */
		for (int k = 0; k < CONFIG__COUNT; k++)
			unsetenv(config_option((enum config_key)k)->env);
		unsetenv("KILN_CONFIG");
		if ((fd = memfd_create("fuzz-config", 0)) < 0)
			abort();
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_init(&c);
	if (config_load(&c, path, &e) == 0) {
		for (int k = 0; k < CONFIG__COUNT; k++) {
			const struct config_option *o = config_option((enum config_key)k);
			if (!config_get(&c, (enum config_key)k))
				abort();
			if (o->type == CONFIG_INT && config_get_int(&c, (enum config_key)k) < 0)
				abort(); /* validation promised a non-negative integer */
			if (o->type == CONFIG_BOOL)
				(void)config_get_bool(&c, (enum config_key)k);
		}
	} else if (!e.msg[0]) {
		abort(); /* a refusal says why */
	}
	config_release(&c);
	return 0;
}
