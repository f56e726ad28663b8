/*
 * builder_dispatch: hands queued jobs to this replica's idle builder
 * connections. Idle builders that build the same targets and architectures
 * share one claim statement (jobs_claim_batch, up to BUILDER_DISPATCH_BATCH of
 * them); each claimed job goes out as a job message (docs/protocol.md) with a
 * fresh lease token, whose hash only the database keeps. Service thread only.
 */
#ifndef KILN_BUILDER_DISPATCH_H
#define KILN_BUILDER_DISPATCH_H

struct server;

#define BUILDER_DISPATCH_BATCH 64

/*
 * Start up to budget claim statements for idle builders (round-robin over the
 * connections, so they take turns), keeping at most the pool's size of
 * statements out at once. A statement that comes back full starts that many
 * more, since there may be more work. No-op before builder_ws_init.
 */
void builder_dispatch_run(struct server *srv, int budget);

#endif
