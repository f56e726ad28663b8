/*
 * utf8: Kiln's one UTF-8 check (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), used wherever bytes from outside become text: build
 * logs, upstream pages, wheel entry names, JSON strings.
 */
#ifndef KILN_UTF8_H
#define KILN_UTF8_H

#include <stddef.h>

struct buf;

/* Length (1 to 4) of the well-formed sequence starting at s (n > 0 bytes
 * available), or 0 if s does not start one. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* Offset of the first byte of s[0..n) that does not start a well-formed
 * sequence, or n if all of it is well-formed. A NUL byte is well-formed. */
size_t utf8_first_invalid(const unsigned char *s, size_t n);

/* Is s[0..n) well-formed UTF-8? */
int utf8_valid(const unsigned char *s, size_t n);

/* Append s[0..n) to out with each byte that starts no well-formed sequence
 * replaced by U+FFFD. 0, or buf_append's error when out is full. */
int utf8_sanitize(struct buf *out, const unsigned char *s, size_t n);

#endif
