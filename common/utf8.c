/* utf8: the one UTF-8 check (contract in utf8.h). */
#include "common/utf8.h"

#include "common/buf.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t utf8_first_invalid(const unsigned char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (!(len = utf8_seq_len(s + i, n - i)))
			return i;
		i += len;
	}
	return n;
}

int utf8_valid(const unsigned char *s, size_t n)
{
	return utf8_first_invalid(s, n) == n;
}

int utf8_sanitize(struct buf *out, const unsigned char *s, size_t n)
{
	size_t i = 0;
	int rc = 0;

	while (i < n && !rc) {
		size_t good = utf8_first_invalid(s + i, n - i);

		rc = buf_append(out, s + i, good);
		i += good;
		if (i < n && !rc) {
			rc = buf_append(out, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	return rc;
}
