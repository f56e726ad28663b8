/*
 * selection: which projects of the upstream's listing kiln-sync mirrors
 * (KILN_SYNC_PROJECTS).
 *
 * A whole public index lists hundreds of thousands of projects; a farm that
 * builds a handful of them should not fetch every page. The selection is a list
 * of fnmatch(3) globs over normalized project names ("crcmod", "netifaces",
 * "zope-*"); an empty list selects every project. Projects outside the
 * selection are neither fetched nor stored, but they still count as listed, so
 * narrowing the selection never marks mirrored projects deleted.
 *
 * Scope rules (plan.h) are a different question: they decide what gets built
 * among the projects that are mirrored.
 */
#ifndef KILN_SYNC_SELECTION_H
#define KILN_SYNC_SELECTION_H

#include <stddef.h>

struct kerr;

struct selection {
	char **globs; /* normalized globs, owned; NULL when n == 0 */
	size_t n;     /* 0: every project is selected */
};

/*
 * Parse list: globs separated by commas and/or white space, empty items
 * ignored. Each glob is normalized like a project name (lowercase, every run of
 * '-', '_' and '.' becomes one '-'), so "Zope.Interface" selects
 * "zope-interface". A glob may hold only ASCII letters, digits, '-', '_', '.',
 * and the glob characters '*', '?', '[', ']', '!'. Returns 0, or KERR_INVAL with
 * e naming the bad item; s is then empty and needs no release (calling
 * selection_release is harmless).
 */
int selection_init(struct selection *s, const char *list, struct kerr *e);

/* 1 if the normalized project name is selected, else 0. */
int selection_wants(const struct selection *s, const char *normalized);

/* Free the globs; s is empty afterwards. */
void selection_release(struct selection *s);

#endif
