/*
 * verify: `kilnctl verify WHEEL [--url BASE | --provenance FILE] [--key PEM]`,
 * a downloaded wheel checked against its signed provenance.
 *
 * The provenance (a PEP 740 provenance object) comes from FILE, or from
 * BASE/integrity/{project}/{version}/{filename}/provenance (BASE is the farm's
 * address, with or without /simple/). The public key comes from PEM, or, with
 * --url and no --key, from BASE/.well-known/kiln-provenance.pub (said on the
 * output: a key fetched from the same server proves the file is the one that
 * server signed, not that the server is the farm you trust; pin it with --key).
 *
 * It passes when the DSSE signature over the in-toto statement matches the
 * key and the statement's subject is this file: same name, same sha256. Any
 * changed byte of the wheel, of the statement or of the signature fails with
 * a message that says which.
 */
#ifndef KILN_VERIFY_H
#define KILN_VERIFY_H

#include "common/buf.h"
#include "common/kerr.h"

#define VERIFY_USAGE 2

/*
 * Run `verify ARGS` (argv holds the words after "verify"). 0 when the wheel
 * verifies (a summary in out), VERIFY_USAGE for a usage error, KERR_AUTH when
 * it does not verify, another KERR_* code when it could not be checked.
 */
int verify_run(int argc, char **argv, struct buf *out, struct kerr *e);

#endif
