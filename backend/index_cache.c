/* index_cache: the rendered-page cache (contract in index_cache.h). */
#include "backend/index_cache.h"

#include "common/fdio.h"
#include "common/fnv.h"
#include "common/xalloc.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct index_cache {
	struct index_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	size_t max;
};

static uint64_t index_cache__hash(const char *s)
{
	return fnv_str(FNV_INIT, s);
}

struct index_cache *index_cache_new(size_t max_entries)
{
	struct index_cache *c = xcalloc(1, sizeof(*c));
	c->nbuckets = 1024;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	c->max = max_entries;
	return c;
}

static void index_entry__free(struct index_entry *e)
{
	free(e->key);
	if (e->memfd >= 0)
		close(e->memfd);
	buf_release(&e->html);
	buf_release(&e->json);
	buf_release(&e->raw_html);
	buf_release(&e->raw_json);
	free(e->waiters);
	free(e);
}

static void index_cache__grow(struct index_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct index_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < c->nbuckets; i++) {
		struct index_entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			size_t h = index_cache__hash(e->key) & (n - 1);
			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

struct index_entry *index_cache_get(struct index_cache *c, const char *key)
{
	struct index_entry *e = c->buckets[index_cache__hash(key) & (c->nbuckets - 1)];
	for (; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

/* Unlink e from its chain (it must be there). */
static void index_cache__unlink(struct index_cache *c, struct index_entry *e)
{
	struct index_entry **pp = &c->buckets[index_cache__hash(e->key) & (c->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			c->count--;
			return;
		}
}

struct index_entry *index_cache_add_loading(struct index_cache *c, const char *key)
{
	struct index_entry *e;
	size_t h;

	if (c->count >= c->max)
		index_cache_flush(c);
	if (c->count >= c->nbuckets)
		index_cache__grow(c);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->state = INDEX_LOADING;
	buf_init(&e->html, BUF_NOLIMIT);
	buf_init(&e->json, BUF_NOLIMIT);
	buf_init(&e->raw_html, BUF_NOLIMIT);
	buf_init(&e->raw_json, BUF_NOLIMIT);
	e->memfd = -1;
	h = index_cache__hash(key) & (c->nbuckets - 1);
	e->next = c->buckets[h];
	c->buckets[h] = e;
	c->count++;
	return e;
}

int index_cache_settle(struct index_cache *c, struct index_entry *e)
{
	e->nwaiters = 0;
	if (!e->stale)
		return 0;
	index_cache__unlink(c, e);
	index_entry__free(e);
	return 1;
}

void index_entry_wait(struct index_entry *e, struct http_req *req)
{
	if (e->nwaiters == e->capwaiters) {
		e->capwaiters = e->capwaiters ? e->capwaiters * 2 : 4;
		e->waiters = xrealloc(e->waiters, e->capwaiters * sizeof(*e->waiters));
	}
	e->waiters[e->nwaiters++] = req;
}

void index_entry_unwait(struct index_entry *e, struct http_req *req)
{
	for (size_t i = 0; i < e->nwaiters; i++)
		if (e->waiters[i] == req) {
			e->waiters[i] = e->waiters[--e->nwaiters];
			return;
		}
}

static void index_cache__drop(struct index_cache *c, struct index_entry *e)
{
	if (e->state == INDEX_LOADING) {
		e->stale = 1;
		return;
	}
	index_cache__unlink(c, e);
	index_entry__free(e);
}

void index_cache_invalidate(struct index_cache *c, const char *key)
{
	struct index_entry *e = index_cache_get(c, key);
	if (e)
		index_cache__drop(c, e);
	e = index_cache_get(c, "");
	if (e)
		index_cache__drop(c, e);
}

void index_cache_flush(struct index_cache *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct index_entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			index_cache__drop(c, e);
		}
	}
}

size_t index_cache_count(const struct index_cache *c)
{
	return c->count;
}

void index_cache_free(struct index_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct index_entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			index_entry__free(e);
		}
	}
	free(c->buckets);
	free(c);
}

int index_entry_memfd(struct index_entry *e)
{
	int fd;

	if (e->memfd != -1)
		return e->memfd >= 0 ? e->memfd : -1;
	e->memfd = -2;
	if (e->state != INDEX_READY || e->raw_html.len < LWS_PRE || e->raw_json.len < LWS_PRE)
		return -1;
	fd = memfd_create("kiln-index", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fdio_write_all(fd, e->raw_html.ptr + LWS_PRE, e->raw_html.len - LWS_PRE) ||
	    fdio_write_all(fd, e->raw_json.ptr + LWS_PRE, e->raw_json.len - LWS_PRE)) {
		close(fd);
		return -1;
	}
	e->memfd = fd;
	return fd;
}
