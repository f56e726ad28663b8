/*
 * Fuzz the failure classifier (builder/failclass.c) with build output: the log
 * is the project's, so any bytes in any chunking. The first byte picks the chunk
 * size; chunks alternate between stdout and stderr. Whatever comes in, at most
 * FAILCLASS_MAX_MISSING distinct items come out, each with a tame name.
 */
#include "tests/fuzz/fuzz.h"

#include "builder/failclass.h"

#include <stdlib.h>
#include <string.h>

static struct failclass fc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step, i = 1;
	int stream = SANDBOX_STDOUT;
	struct failclass_facts facts;

	if (size == 0)
		return 0;
	step = (size_t)data[0] + 1;
	failclass_init(&fc);
	while (i < size) {
		size_t n = size - i < step ? size - i : step;
		failclass_feed(&fc, stream, (const char *)data + i, n);
		stream = stream == SANDBOX_STDOUT ? SANDBOX_STDERR : SANDBOX_STDOUT;
		i += n;
	}
	failclass_end(&fc);
	if (fc.nmissing > FAILCLASS_MAX_MISSING)
		abort();
	for (size_t k = 0; k < fc.nmissing; k++) {
		const char *s = fc.missing[k].name;
		size_t len = strnlen(s, FAILCLASS_NAME_MAX);
		if (len == 0 || len == FAILCLASS_NAME_MAX || strstr(s, "..") || s[0] == '/')
			abort();
		if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-/") != len)
			abort();
		if (fc.missing[k].kind > FAILCLASS_PROGRAM || fc.missing[k].package[0])
			abort();
		for (size_t m = 0; m < k; m++)
			if (fc.missing[m].kind == fc.missing[k].kind && !strcmp(fc.missing[m].name, s))
				abort();
	}
	memset(&facts, 0, sizeof(facts));
	facts.stage = (enum sandbox_stage)(data[0] % 5);
	if (!*failclass_name(failclass_classify(&fc, &facts)))
		abort();
	return 0;
}
