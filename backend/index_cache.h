/*
 * index_cache: rendered simple-index pages in memory, per project.
 *
 * An entry is LOADING (a query is out; requests for it wait on the entry rather
 * than sending a second query), READY (HTML and JSON bodies with their ETags),
 * or ABSENT (the project has nothing to serve: a cached 404). Entries are
 * dropped when the database says the project changed (LISTEN kiln_index) and
 * all at once when the listener reconnects, since notifications may have been
 * missed. An entry invalidated while LOADING is served to its waiters but not
 * kept. Service thread only.
 */
#ifndef KILN_INDEX_CACHE_H
#define KILN_INDEX_CACHE_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

struct http_req;

enum index_entry_state { INDEX_LOADING, INDEX_READY, INDEX_ABSENT };

struct index_entry {
	char *key;              /* normalized project name; "" for the root listing */
	enum index_entry_state state;
	int stale;              /* invalidated while loading */
	struct buf html, json;
	struct buf raw_html, raw_json; /* complete HTTP/1.1 200 responses, for GET over h1 */
	/*
	 * The same two responses in one memfd (HTML at 0, JSON after it), made on
	 * first use, so plain-text HTTP/1.1 answers go out by sendfile(2) with no
	 * copy into the socket: -1 not made yet, -2 could not be made (write instead).
	 */
	int memfd;
	char etag_html[40], etag_json[40];
	long long serial;
	struct http_req **waiters;
	size_t nwaiters, capwaiters;
	struct index_entry *next; /* hash chain */
};

struct index_cache;

struct index_cache *index_cache_new(size_t max_entries);
void index_cache_free(struct index_cache *c);

/* The entry for key, or NULL. */
struct index_entry *index_cache_get(struct index_cache *c, const char *key);

/* Create a LOADING entry for key (which must not exist). Flushes everything first if full. */
struct index_entry *index_cache_add_loading(struct index_cache *c, const char *key);

/* A load finished: keep e (READY/ABSENT) unless stale, in which case it is removed and freed
 * after its waiters were served by the caller. Returns 1 if e was freed. */
int index_cache_settle(struct index_cache *c, struct index_entry *e);

/* Add or remove a waiting request on a LOADING entry. */
void index_entry_wait(struct index_entry *e, struct http_req *req);
void index_entry_unwait(struct index_entry *e, struct http_req *req);

/*
 * The memfd holding e's prebuilt responses (see struct index_entry), made now
 * if it was not yet; -1 if it cannot be (too many open files, say): the caller
 * then writes from raw_html/raw_json instead.
 */
int index_entry_memfd(struct index_entry *e);

/* Drop key's entry (and the root listing's): LOADING ones are marked stale. */
void index_cache_invalidate(struct index_cache *c, const char *key);
/* Drop everything (LOADING entries marked stale). */
void index_cache_flush(struct index_cache *c);

size_t index_cache_count(const struct index_cache *c);

#endif
