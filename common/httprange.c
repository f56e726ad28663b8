/* httprange: Range, If-Range and If-None-Match (contract in httprange.h). */
#include "common/httprange.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static int httprange__ows(char c)
{
	return c == ' ' || c == '\t';
}

static int httprange__digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read 1*DIGIT at *p, saturating at UINT64_MAX. 0 if there is no digit. */
static int httprange__num(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!httprange__digit(*s))
		return 0;
	for (; httprange__digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*p = s;
	*out = v;
	return 1;
}

enum httprange_result httprange_parse(const char *value, uint64_t size, struct httprange *out)
{
	const char *p = value;
	struct httprange first = { 0, 0 };
	int nspecs = 0, nsat = 0, empty_suffix = 0;

	if (!p)
		return HTTPRANGE_FULL;
	while (httprange__ows(*p))
		p++;
	if (strncasecmp(p, "bytes", 5) || p[5] != '=')
		return HTTPRANGE_FULL;
	p += 6;
	for (;;) {
		uint64_t a = 0, b = UINT64_MAX;
		int sat;

		while (httprange__ows(*p))
			p++;
		if (*p == ',') {
			/* An empty list element: allowed by the list syntax, ignored. */
			p++;
			continue;
		}
		if (!*p)
			break;
		if (*p == '-') {
			uint64_t n;
			p++;
			if (!httprange__num(&p, &n))
				return HTTPRANGE_FULL;
			sat = n > 0 && size > 0;
			if (n > 0 && size == 0)
				empty_suffix = 1;
			if (sat) {
				a = n >= size ? 0 : size - n;
				b = size - 1;
			}
		} else {
			if (!httprange__num(&p, &a) || *p != '-')
				return HTTPRANGE_FULL;
			p++;
			if (httprange__digit(*p)) {
				httprange__num(&p, &b);
				if (b < a)
					return HTTPRANGE_FULL;
			}
			sat = a < size;
			if (sat && b >= size)
				b = size - 1;
		}
		while (httprange__ows(*p))
			p++;
		if (*p && *p != ',')
			return HTTPRANGE_FULL;
		if (sat && !nsat) {
			first.first = a;
			first.last = b;
		}
		nspecs++;
		nsat += sat;
	}
	if (!nspecs)
		return HTTPRANGE_FULL;
	if (!nsat)
		return empty_suffix ? HTTPRANGE_FULL : HTTPRANGE_UNSATISFIABLE;
	if (nspecs > 1)
		return HTTPRANGE_MULTI;
	*out = first;
	return HTTPRANGE_PARTIAL;
}

int httprange_if_range(const char *value, const char *etag)
{
	const char *p = value;
	size_t n;

	if (!p)
		return 1;
	while (httprange__ows(*p))
		p++;
	if (!*p)
		return 1;
	/* A weak tag or an HTTP-date never matches here. */
	if (*p != '"')
		return 0;
	n = strlen(p);
	while (n && httprange__ows(p[n - 1]))
		n--;
	return n == strlen(etag) && !memcmp(p, etag, n);
}

int httprange_none_match(const char *value, const char *etag)
{
	const char *p = value;
	size_t elen = strlen(etag);

	if (!p)
		return 0;
	while (httprange__ows(*p))
		p++;
	if (*p == '*') {
		p++;
		while (httprange__ows(*p))
			p++;
		return *p == '\0';
	}
	for (;;) {
		const char *tag;

		while (httprange__ows(*p) || *p == ',')
			p++;
		if (!*p)
			return 0;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0;
		tag = p++;
		while (*p && *p != '"')
			p++;
		if (*p != '"')
			return 0;
		p++;
		if ((size_t)(p - tag) == elen && !memcmp(tag, etag, elen))
			return 1;
		while (httprange__ows(*p))
			p++;
		if (*p && *p != ',')
			return 0;
	}
}
