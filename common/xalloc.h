/*
 * xalloc: the one allocation wrapper. Out of memory is not a condition Kiln tries
 * to survive (the same policy as redis zmalloc and git xmalloc): every function
 * here either returns usable memory or logs and aborts. Callers therefore never
 * check these results, which keeps every error path about real failures.
 */
#ifndef KILN_XALLOC_H
#define KILN_XALLOC_H

#include <stddef.h>

/* malloc(n); never returns NULL (n == 0 gives a unique pointer). */
void *xmalloc(size_t n);
/* calloc(count, size) with overflow check; never returns NULL. */
void *xcalloc(size_t count, size_t size);
/* realloc(p, n); never returns NULL. */
void *xrealloc(void *p, size_t n);
/* strdup(s); never returns NULL. s must not be NULL. */
char *xstrdup(const char *s);
/* strndup(s, n): copies at most n bytes and NUL-terminates; never returns NULL. */
char *xstrndup(const char *s, size_t n);

#endif
