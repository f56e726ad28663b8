/* pyname: project name validity and PEP 503 normalization (contract in pyname.h). */
#include "common/pyname.h"

#include "common/buf.h"
#include "common/kerr.h"

static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int pyname_valid(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && !is_sep(s[i]))
			return 0;
	return 1;
}

/*
 * The next byte of the normalized form starting at *i, or 0 at the end. A run
 * of separators yields one dash; valid names never start or end with one.
 */
static char next_normalized(const char *s, size_t n, size_t *i)
{
	char c;

	if (*i >= n)
		return 0;
	c = s[(*i)++];
	if (!is_sep(c))
		return to_lower(c);
	while (*i < n && is_sep(s[*i]))
		(*i)++;
	return '-';
}

static int append_normalized(const char *s, size_t n, char dash, struct buf *out,
	struct kerr *e)
{
	size_t oldlen = out->len;
	size_t i = 0;
	char c;
	int rc;

	if (!pyname_valid(s, n))
		return kerr_set(e, KERR_INVAL, "invalid project name '%.*s'",
			(int)(n > 100 ? 100 : n), s);
	/*
	 * The normalized form is never longer than the name: with room for n
	 * bytes, write it in place (a listing normalizes 700,000 names, and a
	 * call per byte was most of that). Without, the bounded path below
	 * decides whether it fits.
	 */
	if (!buf_grow(out, n)) {
		char *p = out->ptr + out->len;

		while ((c = next_normalized(s, n, &i)) != 0)
			*p++ = c == '-' ? dash : c;
		*p = '\0';
		out->len = (size_t)(p - out->ptr);
		return 0;
	}
	while ((c = next_normalized(s, n, &i)) != 0) {
		rc = buf_putc(out, c == '-' ? dash : c);
		if (rc)
			goto fail;
	}
	return 0;

fail:
	buf_truncate(out, oldlen);
	return kerr_set(e, rc, "normalized project name does not fit");
}

int pyname_normalize(const char *s, size_t n, struct buf *out, struct kerr *e)
{
	return append_normalized(s, n, '-', out, e);
}

int pyname_to_filename_component(const char *s, size_t n, struct buf *out,
	struct kerr *e)
{
	return append_normalized(s, n, '_', out, e);
}

int pyname_equal(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0, j = 0;
	char ca, cb;

	if (!pyname_valid(a, na) || !pyname_valid(b, nb))
		return 0;
	do {
		ca = next_normalized(a, na, &i);
		cb = next_normalized(b, nb, &j);
		if (ca != cb)
			return 0;
	} while (ca);
	return 1;
}
