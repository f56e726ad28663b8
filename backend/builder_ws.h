/*
 * builder_ws: the builders' WebSocket channel, GET /api/v1/builders/ws with
 * subprotocol "kiln-builder.v1" (docs/protocol.md describes every message).
 *
 * A connection is useless until its first message, a hello carrying the
 * builder's token, checks out. Then the backend pushes jobs while the builder
 * has free slots, pings it, extends the leases of its jobs while it answers
 * (a message or a pong within the lease tick's period), drops the connection
 * once it has answered nothing for KILN_BUILDER_PING_TIMEOUT, and records its
 * progress, log chunks and results. Any malformed message, a
 * frame over the size limit, or a job that was never this builder's gets an
 * error message and the connection is closed; nothing in the queue changes.
 *
 * Admin changes made on any replica arrive as notifications: kiln_cancel (the
 * builder holding a cancelled job is told to stop) and kiln_builders (a paused
 * builder gets no new job until it is resumed).
 */
#ifndef KILN_BUILDER_WS_H
#define KILN_BUILDER_WS_H

#include <libwebsockets.h>

struct server;

#define BUILDER_WS_PROTOCOL "kiln-builder.v1"
#define BUILDER_WS_PROTOCOL_VERSION 1
/* Largest message a builder may send (a log chunk is at most 256 KiB of text). */
#define BUILDER_WS_MAX_MESSAGE (1024 * 1024)

/* Start the dispatcher: LISTEN kiln_jobs, the reaper and periodic dispatch. 0 or KERR_*. */
int builder_ws_init(struct server *srv);
void builder_ws_release(struct server *srv);

/* Try to hand queued jobs to connected builders with free slots (service thread):
 * one claim statement, more only if it comes back full. */
void builder_ws_dispatch(struct server *srv);

/* Tell the builder holding job (if connected here) to stop it. */
void builder_ws_cancel(struct server *srv, long long builder_id, long long job, const char *reason);

/* Number of authenticated builder connections on this replica. */
int builder_ws_count(const struct server *srv);

/* Per-connection state size, for the lws protocol table. */
extern const size_t builder_ws_session_size;

int builder_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len);

#endif
