/*
 * targets: which build targets a builder serves (issue 16).
 *
 * KILN_BUILDER_TARGETS is `auto` (the default) or a comma list of target names.
 * Either way the builder reads the backend's targets (GET /api/v1/targets on
 * the host and port of its ws:// URL, over http(s)) and checks each one it
 * would serve: its image is in the local Docker engine, built for the target's
 * arch (the image's label org.kiln.arch, else its Architecture), and the arch is
 * one the builder serves (its own, or one of KILN_BUILDER_EMULATE).
 *
 *  - Names: every name must pass, else the builder refuses to start, with a
 *    message that names the fix (`just image NAME`, `kilnctl target add`, ...).
 *  - auto: every enabled target that passes is served, the others are logged
 *    with the reason; daemon.c evaluates again every
 *    KILN_BUILDER_TARGETS_RECHECK seconds (30), so a target whose image appears
 *    later is served from then on.
 *
 * A target the backend lists without an arch (a backend before issue 16) is
 * x86_64.
 */
#ifndef KILN_BUILDER_TARGETS_H
#define KILN_BUILDER_TARGETS_H

#include "builder/platform.h"

#include <stddef.h>

struct buf;
struct docker;
struct kerr;

#define TARGETS_MAX 32          /* a hello names 1-32 targets */
#define TARGETS_NAME_MAX 64     /* [a-z0-9._-]{1,63} and the NUL */
#define TARGETS_ARCH_LABEL "org.kiln.arch"

/* KILN_BUILDER_TARGETS, parsed. */
struct targets_config {
	int automatic;                           /* `auto` */
	char names[TARGETS_MAX][TARGETS_NAME_MAX];
	size_t n;                                /* names given (0 with auto) */
};

/*
 * Parse value ("auto", or names separated by commas and spaces) into tc.
 * KERR_INVAL with e for a bad name (not [a-z0-9._-]{1,63}), a repeat, more than
 * TARGETS_MAX, no name at all, or `auto` mixed with names.
 */
int targets_parse_config(const char *value, struct targets_config *tc, struct kerr *e);

struct targets_entry {
	char name[TARGETS_NAME_MAX];
	char image[256];
	char arch[PLATFORM_ARCH_MAX];            /* normalized; "x86_64" when absent */
	int enabled;
};

struct targets_list {
	struct targets_entry *v;                 /* owned */
	size_t n;
};

void targets_list_release(struct targets_list *l);

/*
 * Parse the body of GET /api/v1/targets ({"targets": [{name, image, arch,
 * enabled, ...}]}) into out (caller releases). KERR_INVAL for a body that is not
 * that; an entry with a bad name or arch is skipped.
 */
int targets_parse_list(const char *body, size_t n, struct targets_list *out, struct kerr *e);

/*
 * GET <base>/api/v1/targets (base: "http(s)://host:port"; ca_file may be NULL
 * or "") within timeout_s, parsed into out. KERR_IO / KERR_TIMEOUT when the
 * backend did not answer, KERR_PROTO for an answer that is not the list.
 */
int targets_fetch(const char *base, const char *ca_file, long timeout_s, struct targets_list *out,
		  struct kerr *e);

/* What the builder serves: its own arch and the ones it emulates. */
struct targets_arches {
	char host[PLATFORM_ARCH_MAX];
	char emulated[PLATFORM_MAX_EMULATED][PLATFORM_ARCH_MAX];
	size_t nemulated;
};

/* Does a serve arch (natively or by emulation)? */
int targets_arch_served(const struct targets_arches *a, const char *arch);

/*
 * Can this builder serve t? 0; KERR_NOTFOUND (its image is not in the engine),
 * KERR_CONFLICT (the image is of another arch, or the arch is not served), with
 * e saying why and how to fix it; another code when Docker failed.
 */
int targets_check(const struct docker *d, const struct targets_arches *a,
		  const struct targets_entry *t, struct kerr *e);

/* Called for each target auto mode leaves out, with the reason. */
typedef void (*targets_skip_fn)(void *ctx, const char *target, const char *why);

/*
 * The targets to name in the hello, as a JSON array of strings into out
 * (emptied first). Names: each must be in l and pass targets_check, else the
 * first failure is returned (with e). auto: the enabled ones of l that pass, at
 * most TARGETS_MAX; each one left out goes to on_skip (may be NULL); *count (may
 * be NULL) gets how many were chosen, possibly 0. A Docker failure is returned.
 */
int targets_select(const struct docker *d, const struct targets_arches *a,
		   const struct targets_config *tc, const struct targets_list *l, struct buf *out,
		   size_t *count, targets_skip_fn on_skip, void *ctx, struct kerr *e);

#endif
