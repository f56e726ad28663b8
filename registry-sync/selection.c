/*
 * selection: the projects kiln-sync mirrors. The contract is in selection.h.
 */
#include "registry-sync/selection.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define SELECTION_ITEM_MAX 256

static int selection__sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int selection__allowed(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-_.*?[]!", c) != NULL;
}

/* Normalize one item of n bytes into out, the way pyname normalizes names. */
static int selection__normalize(const char *p, size_t n, struct buf *out, struct kerr *e)
{
	int in_run = 0;

	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!selection__allowed(c))
			return kerr_set(e, KERR_INVAL,
				"KILN_SYNC_PROJECTS: '%.*s' is not a project name or glob "
				"(letters, digits, '-', '_', '.', '*', '?', '[...]')", (int)n, p);
		if (c == '-' || c == '_' || c == '.') {
			if (!in_run && buf_putc(out, '-'))
				goto toobig;
			in_run = 1;
			continue;
		}
		in_run = 0;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (buf_putc(out, c))
			goto toobig;
	}
	return 0;
toobig:
	return kerr_set(e, KERR_INVAL, "KILN_SYNC_PROJECTS: an item is longer than %d bytes",
		SELECTION_ITEM_MAX);
}

int selection_init(struct selection *s, const char *list, struct kerr *e)
{
	struct buf item = BUF_INIT(SELECTION_ITEM_MAX);
	const char *p = list ? list : "";
	int rc = 0;

	s->globs = NULL;
	s->n = 0;
	while (*p) {
		size_t n;

		while (*p && selection__sep(*p))
			p++;
		for (n = 0; p[n] && !selection__sep(p[n]); n++)
			;
		if (!n)
			break;
		if ((rc = selection__normalize(p, n, &item, e)))
			goto fail;
		s->globs = xrealloc(s->globs, (s->n + 1) * sizeof(*s->globs));
		s->globs[s->n++] = xstrdup(item.ptr);
		p += n;
	}
	buf_release(&item);
	return 0;
fail:
	buf_release(&item);
	selection_release(s);
	return rc;
}

int selection_wants(const struct selection *s, const char *normalized)
{
	if (!s->n)
		return 1;
	for (size_t i = 0; i < s->n; i++)
		if (!fnmatch(s->globs[i], normalized, 0))
			return 1;
	return 0;
}

void selection_release(struct selection *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->globs[i]);
	free(s->globs);
	s->globs = NULL;
	s->n = 0;
}
