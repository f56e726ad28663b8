/*
 * provenance_key: `kilnctl provenance key init|show`, the farm's signing key.
 *
 *   init   make the Ed25519 key once, as PKCS#8 PEM, mode 0600, at the path
 *          KILN_PROVENANCE_KEY names (or --out FILE); never overwrites
 *   show   print the public key (PEM) and its id, as the backend serves them
 *          at /.well-known/kiln-provenance.pub
 *
 * Neither touches the database. The key file is the farm's one secret for
 * provenance: every backend replica reads the same file; builders never do.
 */
#ifndef KILN_PROVENANCE_KEY_H
#define KILN_PROVENANCE_KEY_H

#include "common/buf.h"
#include "common/config.h"
#include "common/kerr.h"

/* Usage error: the reason is in e. */
#define PROVENANCE_KEY_USAGE 2

/* Run `provenance ARGS` (argv holds the words after "provenance"). 0, USAGE or a KERR_* code. */
int provenance_key_run(const struct config *cfg, int argc, char **argv, struct buf *out,
		       struct kerr *e);

#endif
