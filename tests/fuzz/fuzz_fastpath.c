/*
 * Fuzz the index fast path's request parser (backend/fastpath.c), which reads
 * raw HTTP/1.1 from any client before libwebsockets does. What it accepts it
 * answers by itself, so an accepted request must be exactly the narrow shape it
 * promises; whatever it measures must lie inside the input.
 */
#include "tests/fuzz/fuzz.h"

#include "backend/fastpath.h"

#include <stdlib.h>
#include <string.h>

static int blank_line_at(const uint8_t *d, size_t end)
{
	return end >= 4 && !memcmp(d + end - 4, "\r\n\r\n", 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fastpath_req r;
	enum fastpath_parse k = fastpath_parse((const char *)data, size, &r);
	size_t nl;
	char line[300];

	switch (k) {
	case FASTPATH_SERVE:
		nl = strlen(r.name);
		if (!r.len || r.len > size || !blank_line_at(data, r.len) || r.has_body || !nl ||
		    nl >= sizeof(r.name) || r.name[0] == '-' || r.name[nl - 1] == '-' ||
		    strstr(r.name, "--") || strlen(r.accept) >= sizeof(r.accept))
			abort();
		for (size_t i = 0; i < nl; i++)
			if (!((r.name[i] >= 'a' && r.name[i] <= 'z') || (r.name[i] >= '0' && r.name[i] <= '9') ||
			      r.name[i] == '-'))
				abort();
		for (const char *a = r.accept; *a; a++)
			if ((unsigned char)*a < 0x20 && *a != '\t')
				abort();
		/* The request line is exactly what was promised. */
		snprintf(line, sizeof(line), "%s /simple/%s/ HTTP/1.1\r\n", r.head ? "HEAD" : "GET", r.name);
		if (size < strlen(line) || memcmp(data, line, strlen(line)))
			abort();
		break;
	case FASTPATH_MORE:
		if (size >= FASTPATH_MAX_HEAD)
			abort();
		for (size_t i = 0; i + 3 < size; i++)
			if (!memcmp(data + i, "\r\n\r\n", 4))
				abort();
		break;
	case FASTPATH_OTHER:
		if (r.len && (r.len > size || !blank_line_at(data, r.len)))
			abort();
		if (!r.len && size < FASTPATH_MAX_HEAD)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
