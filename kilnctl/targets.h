/*
 * targets: build targets, managed with `kilnctl target add|list|disable|enable`.
 * A target names a Docker image, the CPython in it and the platform tag its
 * wheels get; builders declare which targets they can build.
 */
#ifndef KILN_TARGETS_H
#define KILN_TARGETS_H

#include "common/buf.h"
#include "common/kerr.h"

#include <libpq-fe.h>

/*
 * Add (or update, if name exists) a target. name: [a-z0-9][a-z0-9._-]*;
 * python: "3.11"; platform: e.g. "linux_x86_64". The python tag (cp311) is derived.
 */
int targets_add(PGconn *c, const char *name, const char *image, const char *python,
		const char *platform, struct buf *out, struct kerr *e);

/* Append a table of targets. */
int targets_list(PGconn *c, struct buf *out, struct kerr *e);

/* Enable or disable a target (disabled targets get no new jobs). KERR_NOTFOUND if unknown. */
int targets_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e);

#endif
