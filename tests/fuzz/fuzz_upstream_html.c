/*
 * Fuzz kiln-sync's PEP 503 HTML readers (registry-sync/upstream.c, libxml2's
 * HTML parser underneath): the same bytes as a listing and as a project page.
 */
#include "tests/fuzz/fuzz_upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upstream_listing l = { 0 };
	struct upstream_page p = { 0 };
	struct kerr e;

	if (upstream_parse_listing_html((const char *)data, size, &l, &e) == 0)
		fuzz_upstream_check_listing(&l);
	else if (l.nprojects)
		abort();
	upstream_listing_release(&l);
	if (upstream_parse_page_html((const char *)data, size, "https://up.example/simple/demo/", &p,
				     &e) == 0)
		fuzz_upstream_check_page(&p);
	else if (p.nfiles)
		abort();
	upstream_page_release(&p);
	return 0;
}
