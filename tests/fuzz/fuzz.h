/* Shared bits of the libFuzzer targets: the entry point's prototype and a NUL-terminated copy. */
#ifndef KILN_FUZZ_H
#define KILN_FUZZ_H

#include "common/xalloc.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (the parsers under test take both forms). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
