/*
 * builder_proto: what a builder says on its channel (docs/protocol.md): the
 * hello, checked against the builders table by token, then progress, log
 * chunks, finish and drain, each stored by one statement of backend/jobs.c that
 * re-checks who holds the job.
 *
 * A message about a job the connection does not hold is checked: a job that
 * was this builder's once (lease expired, cancelled) gets a cancel and the
 * connection stays; a job that never was gets not_your_job and the connection
 * closes. A message that cannot be stored closes the connection with
 * "unavailable", so the builder resends it after reconnecting. A finish waits
 * for its job's log chunks still being stored, and is acknowledged with
 * "finished" once stored.
 */
#ifndef KILN_BUILDER_PROTO_H
#define KILN_BUILDER_PROTO_H

struct builder_conn;

/*
 * Handle the complete message in c->rx (service thread). Malformed or out of
 * order (anything before the hello): an error message and the connection
 * closes. The caller resets c->rx afterwards.
 */
void builder_proto_on_message(struct builder_conn *c);

/* Free c's finishes still waiting for log chunks (it closed; the builder resends them). */
void builder_proto_drop_deferred(struct builder_conn *c);

#endif
