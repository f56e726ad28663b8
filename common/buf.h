/*
 * buf: Kiln's one growable byte buffer (after git's strbuf and curl's dynbuf).
 *
 * Invariants, which every function keeps:
 *  - b->ptr is never NULL and b->ptr[b->len] == '\0', so a buf is always a valid
 *    C string (it may also hold binary data with NULs inside);
 *  - b->len <= b->max: every buffer has a maximum size. Appends past it fail with
 *    KERR_TOOBIG and leave the buffer unchanged. That limit is what stops a hostile
 *    peer from making Kiln grow without bound.
 *
 * A struct buf is held by the caller: buf_init()/BUF_INIT then buf_release().
 * Memory exhaustion aborts (see xalloc.h), so the only failure is KERR_TOOBIG.
 */
#ifndef KILN_BUF_H
#define KILN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *ptr;
	size_t len;
	size_t cap; /* allocated bytes; 0 while ptr is the shared empty string */
	size_t max; /* most bytes the buffer may hold */
};

extern char buf__empty[1];

#define BUF_NOLIMIT SIZE_MAX
#define BUF_INIT(maxbytes) { buf__empty, 0, 0, (maxbytes) }

/* Make b an empty buffer that may hold at most max bytes (BUF_NOLIMIT: no limit). */
void buf_init(struct buf *b, size_t max);
/* Free b's memory and make it empty again (it stays usable, same max). */
void buf_release(struct buf *b);
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);
/* Shorten to len bytes (no-op if len >= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Remove the first n bytes (all if n >= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

/* Make room for extra more bytes. 0, or KERR_TOOBIG if len+extra would pass max. */
int buf_grow(struct buf *b, size_t extra);
/* Append n bytes at p. 0 or KERR_TOOBIG (then b is unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Append a C string. 0 or KERR_TOOBIG. */
int buf_puts(struct buf *b, const char *s);
/* Append one byte. 0 or KERR_TOOBIG. */
int buf_putc(struct buf *b, char c);
/* Append printf-formatted text. 0 or KERR_TOOBIG (then b is unchanged). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Take the contents as a malloc'd NUL-terminated string the caller frees; b is
 * left empty and usable. If lenp is not NULL it receives the length.
 */
char *buf_detach(struct buf *b, size_t *lenp);

/* Does b hold exactly the C string s? */
int buf_eq(const struct buf *b, const char *s);

#endif
