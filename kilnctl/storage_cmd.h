/*
 * storage_cmd: `kilnctl storage ...`, the administrator's view of artifact
 * storage through the same code the backend uses (common/storage.h), with the
 * driver KILN_STORAGE selects:
 *
 *   put [--content-type T] [--multipart-mib N] KEY FILE
 *   get [--offset N] [--length N] KEY [FILE|-]
 *   stat KEY
 *   ls [PREFIX]
 *   rm KEY
 *   url [--expires SECONDS] KEY
 *
 * Output for scripts: stat and ls print "KEY SIZE" lines, url the URL alone.
 * get writes a file through a temporary file renamed into place on success, so
 * a failed download leaves no partial FILE; without FILE, or with "-", it
 * writes to stdout.
 */
#ifndef KILN_STORAGE_CMD_H
#define KILN_STORAGE_CMD_H

#include "common/config.h"
#include "common/kerr.h"

/* Returned (with the reason in e) when the arguments are wrong: show the usage. */
#define STORAGE_CMD_USAGE 2

/*
 * Run `storage ARGS` (argv holds the words after "storage"). 0 on success,
 * STORAGE_CMD_USAGE for a usage error, or a negative KERR_* code with e filled.
 */
int storage_cmd_run(const struct config *cfg, int argc, char **argv, struct kerr *e);

#endif
