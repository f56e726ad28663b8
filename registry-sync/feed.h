/*
 * feed: the upstream's feed of newest releases, for fast notice.
 *
 * Indexes like the public one publish an RSS 2.0 document of their newest
 * uploads (/rss/updates.xml: the last 100, one <item> per release, titled
 * "NAME VERSION"). kiln-sync polls it every few seconds and refreshes just the
 * projects named, instead of waiting for the next full listing.
 *
 * Parsed with libxml2 (no network, no external entities). A feed is a hint,
 * never the truth: the project pages it leads to are what gets stored.
 */
#ifndef KILN_SYNC_FEED_H
#define KILN_SYNC_FEED_H

#include "common/kerr.h"

#include <stddef.h>

struct feed_item {
	char *title;   /* as given, e.g. "numpy 2.1.0" */
	char *project; /* the project name: the title before its last space */
	char *version; /* the version as given: the title after its last space */
};

/* Owned by the caller: feed_release frees the items and empties the struct. */
struct feed {
	struct feed_item *items;
	size_t nitems;
};

/*
 * Parse the RSS document of n bytes at s into *out (items in document order;
 * items without a usable title are left out). 0, or KERR_INVAL with e saying
 * why (not XML, not RSS), *out then empty.
 */
int feed_parse_rss(const char *s, size_t n, struct feed *out, struct kerr *e);
void feed_release(struct feed *f);

#endif
