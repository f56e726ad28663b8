/*
 * feed: RSS of the newest releases. The contract is in feed.h.
 */
#include "registry-sync/feed.h"

#include "common/xalloc.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void feed_release(struct feed *f)
{
	for (size_t i = 0; i < f->nitems; i++) {
		free(f->items[i].title);
		free(f->items[i].project);
		free(f->items[i].version);
	}
	free(f->items);
	f->items = NULL;
	f->nitems = 0;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !xmlStrcmp(c->name, (const xmlChar *)name))
			return c;
	return NULL;
}

/* Title text trimmed; the project is what precedes the last run of spaces. */
static void item_add(struct feed *f, size_t *cap, const char *text)
{
	size_t a = 0, b = strlen(text), sp;

	while (a < b && strchr(" \t\r\n", text[a]))
		a++;
	while (b > a && strchr(" \t\r\n", text[b - 1]))
		b--;
	for (sp = b; sp > a && text[sp - 1] != ' '; sp--)
		;
	if (sp <= a)
		return; /* no version part: not a release item */
	size_t pn = sp - 1;
	while (pn > a && text[pn - 1] == ' ')
		pn--;
	if (pn == a)
		return;
	if (f->nitems == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		f->items = xrealloc(f->items, *cap * sizeof(*f->items));
	}
	f->items[f->nitems].title = xstrndup(text + a, b - a);
	f->items[f->nitems].project = xstrndup(text + a, pn - a);
	f->items[f->nitems].version = xstrndup(text + sp, b - sp);
	f->nitems++;
}

int feed_parse_rss(const char *s, size_t n, struct feed *out, struct kerr *e)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, channel;
	size_t cap = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (n > INT32_MAX)
		return kerr_set(e, KERR_TOOBIG, "feed too large");
	/* No NOENT: entities stay unexpanded, so no external entity is ever read. */
	doc = xmlReadMemory(s, (int)n, NULL, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
	if (!doc) {
		const xmlError *le = xmlGetLastError();
		size_t ml = le && le->message ? strlen(le->message) : 0;

		while (ml && (le->message[ml - 1] == '\n' || le->message[ml - 1] == ' '))
			ml--;
		rc = kerr_set(e, KERR_INVAL, "could not parse the feed: %.*s", (int)ml,
			ml ? le->message : "not xml");
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, (const xmlChar *)"rss") ||
	    !(channel = child(root, "channel"))) {
		rc = kerr_set(e, KERR_INVAL, "the feed is not rss 2.0 (no <rss><channel>)");
		goto out;
	}
	for (xmlNodePtr it = channel->children; it; it = it->next) {
		xmlNodePtr t;
		xmlChar *text;

		if (it->type != XML_ELEMENT_NODE || xmlStrcmp(it->name, (const xmlChar *)"item") ||
		    !(t = child(it, "title")))
			continue;
		if (!(text = xmlNodeGetContent(t)))
			continue;
		item_add(out, &cap, (const char *)text);
		xmlFree(text);
	}
out:
	xmlFreeDoc(doc);
	if (rc)
		feed_release(out);
	return rc;
}
