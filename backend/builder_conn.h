/*
 * builder_conn: one builder's WebSocket connection and the channel's state,
 * shared by the modules of the builder channel (builder_ws: the lws callback;
 * builder_proto: the builder's messages; builder_dispatch: handing out jobs;
 * builder_timers: leases, pings, the reaper; builder_notify: other replicas'
 * news). Everything here runs on the lws service thread only.
 *
 * A connection's memory is the lws per-session data, freed by lws when the
 * connection closes; async work (a database query) holds a builder_conn_ref
 * instead, whose conn is NULL once the connection is gone.
 */
#ifndef KILN_BUILDER_CONN_H
#define KILN_BUILDER_CONN_H

#include "backend/builder_msg.h"
#include "common/buf.h"

#include <libwebsockets.h>
#include <stdint.h>

struct server;

#define BUILDER_CONN_MAX_SLOTS BUILDER_MSG_MAX_SLOTS

/* An outgoing text message waiting for a WRITEABLE callback. */
struct builder_conn_msg {
	struct builder_conn_msg *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE headroom, then the text */
};

/* A handle async callbacks hold: conn is NULL once the connection closed. */
struct builder_conn_ref {
	struct builder_conn *conn;
	int refs;
};

/* A finish message waiting for its job's log chunks to be stored (builder_proto). */
struct builder_finish;

struct builder_conn {
	struct lws *wsi;
	struct server *srv;
	struct builder_conn_ref *ref;
	int authed;
	int hello_pending;
	long long builder_id;
	char name[64];
	char *targets;        /* Postgres array literal of target names (owned) */
	char *arches;         /* Postgres array literal of the architectures it serves (owned) */
	int slots;
	int running;          /* jobs held on this connection: held[0..running) */
	long long held[BUILDER_CONN_MAX_SLOTS];
	int claiming;
	int draining;
	int paused;
	int closing;
	int in_message;       /* between a message's first and final fragment */
	int ping_due;         /* a ping to send at the next WRITEABLE */
	lws_usec_t alive_us;  /* when the builder last proved alive: a frame or a pong */
	/*
	 * Log chunks still being stored, per job. Queries run on any pool
	 * connection, so a finish sent after a job's last chunks could commit
	 * before them, and the chunks (refused once the job ended) would be
	 * missing from the archived log: a job's finish waits in deferred until
	 * its count is 0.
	 */
	struct {
		long long job;
		int n;
	} logw[BUILDER_CONN_MAX_SLOTS];
	struct builder_finish *deferred;
	struct buf rx;
	struct builder_conn_msg *out_head, *out_tail;
	struct builder_conn *next; /* in the server's list */
};

/* The channel's state on this replica: srv->builders (builder_ws_init makes it). */
struct bws_state {
	struct server *srv;
	struct builder_conn *conns;  /* authenticated connections */
	int nconns;
	int lease_s;
	int inflight;        /* claims out */
	int max_inflight;    /* at most this many at once */
	unsigned rr;         /* round-robin start among idle builders */
	lws_sorted_usec_list_t reap_sul;
	lws_sorted_usec_list_t dispatch_sul;
	lws_sorted_usec_list_t lease_sul;
	lws_sorted_usec_list_t ping_sul;
	lws_usec_t ping_us;      /* between two pings of each connection */
	lws_usec_t silent_us;    /* KILN_BUILDER_PING_TIMEOUT: silence that drops a connection */
	lws_usec_t ping_last_us; /* when the ping tick last ran */
};

/* srv's channel state; NULL before builder_ws_init and after builder_ws_release. */
struct bws_state *builder_conn_state(struct server *srv);

/* A new reference to c for async work; give it back with builder_conn_unref. */
struct builder_conn_ref *builder_conn_ref(struct builder_conn *c);
/* Drop a reference; returns its connection, NULL if that closed meanwhile. */
struct builder_conn *builder_conn_unref(struct builder_conn_ref *r);

/* Queue a text message (copied) for the connection's next WRITEABLE callback. */
void builder_conn_send(struct builder_conn *c, const char *text, size_t n);
void builder_conn_send_buf(struct builder_conn *c, const struct buf *b);
/*
 * Write b now when nothing is queued before it and the socket takes it, else
 * queue it. Only from outside this connection's own callbacks (a database
 * result's). A failed write closes the connection from the loop.
 */
void builder_conn_send_now(struct builder_conn *c, const struct buf *b);

/*
 * Send an error message {code, message} and close once it is out (nothing more
 * is read from the connection); counted in kiln_builder_protocol_errors_total.
 * No-op on a closing connection.
 */
void builder_conn_fail(struct builder_conn *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A message of the builder's about job could not be stored (err says why):
 * answer "unavailable" and close, so the builder reconnects and resends it.
 */
void builder_conn_store_failed(struct builder_conn *c, long long job, const char *err);

/*
 * Tell the builder to stop job, with a reason for its log; with attempt (not
 * 0), only that attempt of it (docs/protocol.md, cancel).
 */
void builder_conn_send_cancel(struct builder_conn *c, long long job, long long attempt,
			      const char *reason);

/* The jobs this connection holds (at most BUILDER_CONN_MAX_SLOTS; holding twice is once). */
void builder_conn_hold(struct builder_conn *c, long long job);
int builder_conn_holds(const struct builder_conn *c, long long job);
/* Forget job; 1 if it was held. Keeps the count exact whatever order news arrives in. */
int builder_conn_unhold(struct builder_conn *c, long long job);

/*
 * The count of job's log chunks being stored on c; with add, a free entry is
 * taken for it when it has none. NULL if none (or, with add, no entry free).
 */
int *builder_conn_logw(struct builder_conn *c, long long job, int add);

/*
 * A statement dropped artifact rows and registered their keys (a Postgres
 * array literal, possibly "{}" or empty) in storage_pending: have the sweep
 * delete the objects soon.
 */
void builder_conn_sweep_keys(struct server *srv, const char *keys);

#endif
