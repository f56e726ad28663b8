/* Shared checks of the upstream fuzz targets: what upstream.h promises about a parse. */
#ifndef KILN_FUZZ_UPSTREAM_H
#define KILN_FUZZ_UPSTREAM_H

#include "tests/fuzz/fuzz.h"

#include "common/kerr.h"
#include "registry-sync/upstream.h"

#include <stdlib.h>

static inline void fuzz_upstream_check_listing(const struct upstream_listing *l)
{
	for (size_t i = 0; i < l->nprojects; i++)
		if (!l->projects[i].name)
			abort();
}

static inline void fuzz_upstream_check_page(const struct upstream_page *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		const struct upstream_file *f = &p->files[i];
		if (!f->filename || !f->filename[0] || strchr(f->filename, '/') || !f->url ||
		    strchr(f->url, '#'))
			abort();
		if (strncmp(f->url, "http://", 7) && strncmp(f->url, "https://", 8))
			abort(); /* resolved against the page: absolute */
		if (f->sha256) {
			if (strlen(f->sha256) != 64 || strspn(f->sha256, "0123456789abcdef") != 64)
				abort();
		}
		if (f->size < -1)
			abort();
	}
}

#endif
