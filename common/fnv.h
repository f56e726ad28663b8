/*
 * fnv: the 64-bit FNV-1a hash, Kiln's one hash for in-memory tables (index
 * cache, download counters, lookup caches, the sync's name table). Not for
 * anything an attacker may choose to collide on at scale where that matters:
 * callers bound their chains or their table size.
 *
 * Chain calls to hash several fields: h = fnv_bytes(FNV_INIT, a, na);
 * h = fnv_bytes(h, b, nb). The offset basis and prime are FNV's published ones.
 */
#ifndef KILN_FNV_H
#define KILN_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_INIT 14695981039346656037ull /* the 64-bit offset basis */

/* h extended by n bytes at p. */
static inline uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull; /* the 64-bit FNV prime */
	}
	return h;
}

/* h extended by the bytes of the string s (its NUL not included). */
static inline uint64_t fnv_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

#endif
