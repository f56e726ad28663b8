/*
 * builder_notify: what the builder channel hears from Postgres, whichever
 * replica made the change: kiln_jobs (a job was queued: dispatch), kiln_cancel
 * (the builder holding a cancelled job is told to stop, if it is connected
 * here) and kiln_builders (a builder paused, resumed, disabled or enabled: its
 * connections here reload the flag; a paused builder gets no new job).
 *
 * After the listener reconnects (notifications may have been lost) every
 * connection's paused flag is reloaded; a lost cancel is caught when the
 * builder next reports on the job.
 */
#ifndef KILN_BUILDER_NOTIFY_H
#define KILN_BUILDER_NOTIFY_H

struct server;

/* LISTEN on the three channels (srv->builders must exist). 0 or KERR_*. */
int builder_notify_listen(struct server *srv);

#endif
