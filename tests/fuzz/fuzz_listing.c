/*
 * Fuzz the streaming PEP 691 listing parser (registry-sync/listing): any input,
 * split anywhere, must parse to the same listing as when given whole, or fail
 * with an empty one; never crash.
 */
#include "tests/fuzz/fuzz.h"

#include "registry-sync/listing.h"

#include <stdlib.h>

static int parse(const uint8_t *data, size_t size, size_t split, struct upstream_listing *l)
{
	struct listing_stream *ls = listing_stream_new(l);
	int rc = listing_stream_feed(ls, (const char *)data, split, NULL);

	if (!rc)
		rc = listing_stream_feed(ls, (const char *)data + split, size - split, NULL);
	if (!rc)
		rc = listing_stream_end(ls, NULL);
	listing_stream_free(ls);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upstream_listing whole, split;
	size_t at = size ? data[0] % (size + 1) : 0;
	int a = parse(data, size, size, &whole), b = parse(data, size, at, &split);

	if (a != b || whole.nprojects != split.nprojects || whole.serial != split.serial)
		abort();
	for (size_t i = 0; i < whole.nprojects; i++)
		if (strcmp(whole.projects[i].name, split.projects[i].name) ||
		    whole.projects[i].serial != split.projects[i].serial)
			abort();
	if (a && (whole.nprojects || whole.projects))
		abort();
	upstream_listing_release(&whole);
	upstream_listing_release(&split);
	return 0;
}
