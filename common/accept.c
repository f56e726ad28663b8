/* accept: Accept header negotiation (contract in accept.h). */
#include "common/accept.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Specificity of a range matching type: 3 exact, 2 type wildcard, 1 full wildcard, 0 none. */
static int accept__match(const char *range, size_t rn, const char *type)
{
	const char *slash = memchr(range, '/', rn);
	size_t tn = strlen(type);
	const char *tslash = strchr(type, '/');

	if (!slash || !tslash)
		return 0;
	if (rn == 3 && !memcmp(range, "*/*", 3))
		return 1;
	if ((size_t)(slash - range) == (size_t)(tslash - type) &&
	    !strncasecmp(range, type, (size_t)(slash - range)) && rn == (size_t)(slash - range) + 2 &&
	    slash[1] == '*')
		return 2;
	if (rn == tn && !strncasecmp(range, type, tn))
		return 3;
	return 0;
}

/* Parse "q=0.5" style value into thousandths; -1 if malformed. */
static int accept__q(const char *p, size_t n)
{
	int q = 0, digits = 0;
	size_t i = 0;

	if (n == 0)
		return -1;
	if (p[0] == '1') {
		for (i = 1; i < n; i++)
			if (!(p[i] == '.' && i == 1) && p[i] != '0')
				return -1;
		return 1000;
	}
	if (p[0] != '0')
		return -1;
	if (n == 1)
		return 0;
	if (p[1] != '.')
		return -1;
	for (i = 2; i < n; i++) {
		if (!isdigit((unsigned char)p[i]) || ++digits > 3)
			return -1;
		q = q * 10 + (p[i] - '0');
	}
	while (digits++ < 3)
		q *= 10;
	return q;
}

/*
 * Walk the header; for each element call back with its range and q.
 * Returns via *best_q / *best_spec the best match for type.
 */
static void accept__rank(const char *h, const char *type, int *best_q, int *best_spec)
{
	*best_q = -1;
	*best_spec = 0;
	while (*h) {
		const char *el = h, *end = strchr(h, ',');
		const char *semi;
		size_t rn;
		int q = 1000, spec;

		if (!end)
			end = h + strlen(h);
		h = *end ? end + 1 : end;
		while (el < end && (*el == ' ' || *el == '\t'))
			el++;
		semi = memchr(el, ';', (size_t)(end - el));
		rn = (size_t)((semi ? semi : end) - el);
		while (rn && (el[rn - 1] == ' ' || el[rn - 1] == '\t'))
			rn--;
		/* Parameters: only q matters to us; q ends the media-type parameters. */
		while (semi && semi < end) {
			const char *p = semi + 1, *next = memchr(p, ';', (size_t)(end - p));
			const char *pe = next ? next : end;
			while (p < pe && (*p == ' ' || *p == '\t'))
				p++;
			if (pe - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				size_t vn = (size_t)(pe - p - 2);
				while (vn && (p[2 + vn - 1] == ' ' || p[2 + vn - 1] == '\t'))
					vn--;
				q = accept__q(p + 2, vn);
				break;
			}
			semi = next;
		}
		if (q < 0 || rn == 0)
			continue;
		spec = accept__match(el, rn, type);
		if (spec > *best_spec) {
			*best_spec = spec;
			*best_q = q;
		}
	}
}

int accept_quality(const char *accept, const char *type)
{
	int q, spec;

	if (!accept || !*accept)
		return 1000;
	accept__rank(accept, type, &q, &spec);
	return spec ? q : 0;
}

int accept_choose(const char *accept, const char *const *offers, size_t n)
{
	int best = -1, best_q = 0, best_spec = 0;

	if (!accept || !*accept)
		accept = "*/*";
	for (size_t i = 0; i < n; i++) {
		int q, spec;
		accept__rank(accept, offers[i], &q, &spec);
		if (!spec || q <= 0)
			continue;
		if (q > best_q || (q == best_q && spec > best_spec)) {
			best = (int)i;
			best_q = q;
			best_spec = spec;
		}
	}
	return best;
}
