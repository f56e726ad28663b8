/*
 * targets: build targets, managed with `kilnctl target add|list|disable|enable`.
 * A target names a Docker image, the CPython in it, its architecture, Debian
 * suite and glibc, and the platform tag its wheels get; builders declare which
 * targets they can build, and get jobs only for targets of an architecture
 * they serve.
 */
#ifndef KILN_TARGETS_H
#define KILN_TARGETS_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>

/* What `kilnctl target add` was given; NULL: not given. */
struct targets_spec {
	const char *name;     /* [a-z0-9][a-z0-9._-]*, up to 63 chars */
	const char *image;    /* Docker image reference */
	const char *python;   /* "3.13"; the python tag (cp313) is derived */
	const char *arch;     /* x86_64 or aarch64; NULL: the platform's, else x86_64 */
	const char *suite;    /* Debian suite (bookworm), or NULL */
	const char *glibc;    /* "2.36", or NULL (then only linux_<arch> and pure wheels
	                         count as upstream coverage) */
	const char *platform; /* wheel platform tag; NULL: linux_<arch>; must end in _<arch> */
};

/*
 * Add (or update, if the name exists) a target. KERR_INVAL with a message
 * naming the flag when a field is malformed. Adding a target (or enabling a
 * disabled one) makes kiln-sync plan every project's releases for it
 * (migrations/0014_queue_matrix.sql).
 */
int targets_add(PGconn *c, const struct targets_spec *t, struct buf *out, struct kerr *e);

/* Append a table of targets. */
int targets_list(PGconn *c, struct buf *out, struct kerr *e);

/* Enable or disable a target (disabled targets get no new jobs). KERR_NOTFOUND if unknown. */
int targets_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e);

#endif
