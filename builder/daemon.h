/*
 * daemon: kiln-builder's connection to the backend (docs/protocol.md).
 *
 * One lws service thread holds the WebSocket: it says hello, receives jobs and
 * cancels, and writes what the job threads post. Each job runs on its own
 * thread (job.c) and talks to the daemon only through daemon_post, which queues
 * a message and wakes the loop. Everything a job reported is kept with the job
 * until the backend acknowledges its finish, and sent again after a reconnect,
 * so a backend restart or a dropped connection loses nothing (the backend
 * stores log chunks by sequence number, once). Reconnects back off
 * exponentially with jitter. With several backend URLs (replicas, without a
 * load balancer) a failed or lost connection moves on to the next URL. SIGTERM drains: no new jobs, running ones finish
 * and report, then the daemon exits.
 */
#ifndef KILN_BUILDER_DAEMON_H
#define KILN_BUILDER_DAEMON_H

#include "common/config.h"

struct daemon;
struct bjob;

/* Run the daemon until SIGTERM/SIGINT and its jobs are done. Returns the exit code. */
int daemon_run(const struct config *cfg);

/* Queue a protocol message (a JSON object) for the backend; any thread. */
void daemon_post(struct daemon *d, const char *json, size_t len);

/*
 * The base URL (http(s)://host:port) of the backend the daemon is connected to,
 * or trying, into out; any thread. Uploads go there, so they follow a failover.
 */
void daemon_upload_base(struct daemon *d, char *out, size_t n);

/* Called by a job thread when it is done (after posting its finish); any thread. */
void daemon_job_done(struct daemon *d, struct bjob *j);

#endif
