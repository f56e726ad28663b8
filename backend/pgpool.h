/*
 * pgpool: Postgres on the libwebsockets event loop, without threads.
 *
 * A pool is a fixed set of libpq connections in non-blocking mode whose sockets
 * are adopted into the lws context as raw file descriptors, so the one service
 * thread drives HTTP and SQL alike (see shared/reference/measured-facts.md).
 * Queries queue in FIFO order and run on the first idle connection; the result
 * arrives through a callback on the service thread. A connection that breaks is
 * reconnected with backoff (the queries it held fail with an error); connecting
 * is asynchronous too (PQconnectStart/PQconnectPoll), so a dead database never
 * stalls the loop.
 *
 * One extra connection LISTENs for notifications (pgpool_listen); it is
 * re-established, and its channels re-LISTENed, after a reconnect, and the
 * reconnect itself is reported (notify_cb with channel NULL) because
 * notifications sent while it was down are lost and caches must be dropped.
 *
 * Thread rules: every function must be called on the lws service thread.
 */
#ifndef KILN_PGPOOL_H
#define KILN_PGPOOL_H

#include "common/kerr.h"

#include <libpq-fe.h>
#include <libwebsockets.h>

struct pgpool;
struct pgq;

/*
 * Result callback. On success r is the (last) result with status COMMAND_OK or
 * TUPLES_OK and err is NULL; on failure r may be NULL or the failed result and err
 * says what failed. r is freed by the pool after the callback returns.
 */
typedef void (*pgpool_cb)(void *ctx, PGresult *r, const char *err);

/* Notification callback: channel and payload; channel NULL = "listener reconnected". */
typedef void (*pgpool_notify_cb)(void *ctx, const char *channel, const char *payload);

struct pgpool_stats {
	int size;          /* connections configured */
	int connected;     /* connections ready (idle or busy) */
	int busy;          /* connections running a query */
	int queued;        /* queries waiting for a connection */
	unsigned long long queries;   /* completed since start */
	unsigned long long errors;    /* failed since start */
	unsigned long long reconnects;
};

/*
 * Create a pool of size connections to conninfo, adopted into vhost under the lws
 * protocol named "kiln-pg" (which must be registered with pgpool_lws_callback).
 * max_queue bounds waiting queries (pgpool_query fails past it). Connecting
 * starts at once and proceeds on the loop. Returns 0 or KERR_INVAL.
 */
int pgpool_new(struct lws_context *context, struct lws_vhost *vhost, const char *conninfo, int size, int max_queue,
	       struct pgpool **out, struct kerr *e);

/* Close every connection and fail queued queries (callbacks run with err set). */
void pgpool_free(struct pgpool *p);

/*
 * Run sql with text params ($1..$n, NULL entries are SQL NULL; all copied): sent
 * at once on an idle connection when no query waits before it, else queued in
 * order. The callback never runs inside this call, even on failure. Returns a
 * handle usable with pgq_cancel until the callback has run, or NULL when the
 * queue is full (the callback will not run).
 */
struct pgq *pgpool_query(struct pgpool *p, const char *sql, int nparams,
			 const char *const *params, pgpool_cb cb, void *ctx);

/*
 * The same, as a prepared statement: name (a string constant: compared by
 * address, one per distinct sql) is prepared on each connection on first use,
 * so the hot statements are planned once per connection, not per call.
 */
struct pgq *pgpool_query_named(struct pgpool *p, const char *name, const char *sql, int nparams,
			       const char *const *params, pgpool_cb cb, void *ctx);

/* The caller lost interest (e.g. its HTTP client went away): the callback will not run. */
void pgq_cancel(struct pgq *q);

/* LISTEN on channel over the pool's dedicated listener connection. 0 or KERR_INVAL. */
int pgpool_listen(struct pgpool *p, const char *channel, pgpool_notify_cb cb, void *ctx);

/* Is at least one connection ready? (for /readyz) */
int pgpool_ready(const struct pgpool *p);

void pgpool_get_stats(const struct pgpool *p, struct pgpool_stats *out);

/* The lws protocol callback for "kiln-pg"; register it in the context's protocol list. */
int pgpool_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len);

#define PGPOOL_PROTOCOL_NAME "kiln-pg"

#endif
