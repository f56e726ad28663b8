/* pgpool: libpq connections driven by the lws loop (contract in pgpool.h). */
#include "backend/pgpool.h"

#include "common/db.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum pgconn_state { PC_DOWN, PC_CONNECTING, PC_IDLE, PC_BUSY };

#define PGPOOL_MAX_PREPARED 32

struct pgq {
	struct pgq *next;
	const char *name;  /* prepared statement name (static), or NULL */
	char *sql;
	int nparams;
	char **params;
	pgpool_cb cb;
	void *ctx;
	struct pgconn *on; /* running there, or NULL while queued */
	PGresult *result;  /* last (or first failed) result so far */
};

struct pgconn {
	struct pgpool *pool;
	int is_listener;
	enum pgconn_state state;
	PGconn *pg;
	struct lws *wsi; /* adopted dup of PQsocket, so lws closing it never closes libpq's fd */
	int fd;          /* PQsocket() at adoption */
	struct pgq *cur;
	int listen_setup; /* listener: LISTEN commands in flight */
	int preparing;    /* a PQsendPrepare for cur is in flight */
	const char *prepared[PGPOOL_MAX_PREPARED]; /* names prepared on this connection */
	int nprepared;
	int backoff_ms;
	int in_writeable; /* inside RAW_WRITEABLE_FILE: see pgpool__want_write */
	lws_sorted_usec_list_t sul;
	lws_sorted_usec_list_t wsul;
};

struct pgpool_listen_entry {
	char *channel;
	pgpool_notify_cb cb;
	void *ctx;
};

struct pgpool {
	struct lws_vhost *vhost;
	struct lws_context *context;
	char *conninfo;
	int size;
	int max_queue;
	struct pgconn *conns;  /* size entries */
	struct pgconn listener;
	struct pgpool_listen_entry *listens;
	int nlistens;
	struct pgq *head, *tail;
	int queued;
	unsigned long long queries, errors, reconnects;
	int closing;
	lws_sorted_usec_list_t kick_sul; /* deferred dispatch, see pgpool_query */
	int kick_pending;
};

static void pgpool__connect(struct pgconn *c);
static void pgpool__dispatch(struct pgpool *p);

static void pgq__free(struct pgq *q)
{
	if (!q)
		return;
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	PQclear(q->result);
	free(q);
}

/* Finish q: run its callback (unless cancelled) and free it. */
static void pgq__complete(struct pgpool *p, struct pgq *q, const char *err)
{
	PGresult *r = q->result;

	if (err || !r)
		p->errors++;
	else
		p->queries++;
	if (q->cb)
		q->cb(q->ctx, r, err ? err : (r ? NULL : "database: no result"));
	pgq__free(q);
}

static void pgpool__reconnect_cb(lws_sorted_usec_list_t *sul)
{
	struct pgconn *c = lws_container_of(sul, struct pgconn, sul);
	pgpool__connect(c);
}

static void pgpool__writable_cb(lws_sorted_usec_list_t *sul)
{
	struct pgconn *c = lws_container_of(sul, struct pgconn, wsul);
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

/*
 * Ask for a WRITEABLE callback. lws's raw-file role clears POLLOUT right after
 * the writeable callback returns, so a request made inside it would be lost:
 * there, defer the request to a zero-delay timer.
 */
static void pgpool__want_write(struct pgconn *c)
{
	if (!c->wsi)
		return;
	if (c->in_writeable)
		lws_sul_schedule(c->pool->context, 0, &c->wsul, pgpool__writable_cb, 1);
	else
		lws_callback_on_writable(c->wsi);
}

/* Drop the connection, fail its query, and schedule a reconnect with backoff. */
static void pgpool__teardown(struct pgconn *c, const char *why_in)
{
	struct pgpool *p = c->pool;
	char why[256];

	/* why_in may point into libpq's error buffer, which PQfinish frees. */
	snprintf(why, sizeof(why), "%s", why_in);
	why[strcspn(why, "\n")] = '\0';

	lws_sul_cancel(&c->wsul);
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		c->wsi = NULL;
	}
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->nprepared = 0;
	c->preparing = 0;
	if (c->state == PC_IDLE || c->state == PC_BUSY) {
		char q[300];
		log_warn("database connection lost", "reason=%s listener=%d",
			 log_quote(q, sizeof(q), why), c->is_listener);
	}
	c->state = PC_DOWN;
	if (c->cur) {
		struct pgq *q = c->cur;
		c->cur = NULL;
		pgq__complete(p, q, "database: connection lost");
	}
	if (p->closing)
		return;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
	if (c->backoff_ms > 5000)
		c->backoff_ms = 5000;
	lws_sul_schedule(p->context, 0, &c->sul, pgpool__reconnect_cb,
			 (lws_usec_t)c->backoff_ms * LWS_US_PER_MS);
}

/* Server notices (and libpq's own) go to our log rather than raw to stderr. */
static void pgpool__notice(void *arg, const char *message)
{
	char msg[256];

	(void)arg;
	snprintf(msg, sizeof(msg), "%s", message);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("database notice", "notice=\"%s\"", msg);
}

static int pgpool__adopt(struct pgconn *c)
{
	lws_sock_file_fd_type fd;
	int dupfd;

	c->fd = PQsocket(c->pg);
	if (c->fd < 0)
		return -1;
	dupfd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
	if (dupfd < 0)
		return -1;
	fd.filefd = dupfd;
	c->wsi = lws_adopt_descriptor_vhost(c->pool->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
					    PGPOOL_PROTOCOL_NAME, NULL);
	if (!c->wsi) {
		close(dupfd);
		return -1;
	}
	lws_set_opaque_user_data(c->wsi, c);
	return 0;
}

static void pgpool__connect(struct pgconn *c)
{
	struct pgpool *p = c->pool;

	if (p->closing)
		return;
	if (c->backoff_ms)
		p->reconnects++;
	c->pg = PQconnectStart(p->conninfo);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		pgpool__teardown(c, c->pg ? "could not start connection" : "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->pg, pgpool__notice, c);
	c->state = PC_CONNECTING;
	if (pgpool__adopt(c)) {
		pgpool__teardown(c, "could not adopt socket");
		return;
	}
	/* libpq: before the first PQconnectPoll, wait as if it said POLLING_WRITING. */
	pgpool__want_write(c);
}

/* Send the LISTEN commands of every registered channel on the listener. */
static void pgpool__listen_all(struct pgconn *c)
{
	struct pgpool *p = c->pool;
	char sql[4096];
	size_t o = 0;

	sql[0] = '\0';
	for (int i = 0; i < p->nlistens; i++) {
		char *id = PQescapeIdentifier(c->pg, p->listens[i].channel,
					      strlen(p->listens[i].channel));
		if (!id)
			continue;
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "LISTEN %s;", id);
		PQfreemem(id);
		if (o >= sizeof(sql))
			break;
	}
	if (!o)
		return;
	if (!PQsendQuery(c->pg, sql)) {
		pgpool__teardown(c, PQerrorMessage(c->pg));
		return;
	}
	c->listen_setup = 1;
	c->state = PC_BUSY;
	if (PQflush(c->pg) == 1)
		pgpool__want_write(c);
}

static void pgpool__connected(struct pgconn *c)
{
	struct pgpool *p = c->pool;

	PQsetnonblocking(c->pg, 1);
	if (c->backoff_ms)
		log_info("database connection restored", "listener=%d", c->is_listener);
	c->backoff_ms = 0;
	c->state = PC_IDLE;
	if (c->is_listener) {
		pgpool__listen_all(c);
		/* Anything sent while we were not listening is lost: tell the owners. */
		for (int i = 0; i < p->nlistens; i++)
			p->listens[i].cb(p->listens[i].ctx, NULL, NULL);
		return;
	}
	pgpool__dispatch(p);
}

static void pgpool__connect_poll(struct pgconn *c)
{
	PostgresPollingStatusType st = PQconnectPoll(c->pg);

	if (PQsocket(c->pg) != c->fd && st != PGRES_POLLING_FAILED) {
		/* libpq moved to another socket (next host/address): follow it. */
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		c->wsi = NULL;
		if (pgpool__adopt(c)) {
			pgpool__teardown(c, "could not adopt socket");
			return;
		}
	}
	switch (st) {
	case PGRES_POLLING_WRITING:
		pgpool__want_write(c);
		break;
	case PGRES_POLLING_READING:
		break;
	case PGRES_POLLING_OK:
		pgpool__connected(c);
		break;
	default: {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c->pg));
		msg[strcspn(msg, "\n")] = '\0';
		if (!c->backoff_ms) {
			char q[300];
			log_warn("could not connect to database; retrying with backoff", "error=%s",
				 log_quote(q, sizeof(q), msg));
		}
		pgpool__teardown(c, msg);
	}
	}
}

static int pgpool__is_prepared(const struct pgconn *c, const char *name)
{
	for (int i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == name)
			return 1;
	return 0;
}

/* Send q itself: by name if prepared on c, else as a one-off statement. */
static int pgpool__send(struct pgconn *c, struct pgq *q)
{
	if (q->name && pgpool__is_prepared(c, q->name))
		return PQsendQueryPrepared(c->pg, q->name, q->nparams, (const char *const *)q->params,
					   NULL, NULL, 0);
	return PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, (const char *const *)q->params,
				 NULL, NULL, 0);
}

/*
 * Send q (or, on its first use on c, its PREPARE) on idle c and make c busy
 * with it. -1 if libpq could not even queue the message (c is broken; q is not
 * attached to it). A flush that fails after sending is left to the WRITEABLE
 * callback, whose flush fails again and tears c down from the loop, so this
 * function never completes q.
 */
static int pgpool__begin(struct pgconn *c, struct pgq *q)
{
	int ok;

	if (q->name && !pgpool__is_prepared(c, q->name) && c->nprepared < PGPOOL_MAX_PREPARED) {
		/* First use on this connection: prepare, then run (see pgpool__read). */
		ok = PQsendPrepare(c->pg, q->name, q->sql, q->nparams, NULL);
		c->preparing = ok;
	} else {
		ok = pgpool__send(c, q);
	}
	if (!ok)
		return -1;
	c->cur = q;
	q->on = c;
	c->state = PC_BUSY;
	if (PQflush(c->pg) != 0)
		pgpool__want_write(c);
	return 0;
}

static void pgpool__start(struct pgconn *c, struct pgq *q)
{
	if (pgpool__begin(c, q)) {
		c->cur = q;
		pgpool__teardown(c, PQerrorMessage(c->pg));
	}
}

/*
 * Start q at once on an idle connection, if any. Deferring it to the loop's next
 * turn (see pgpool_query_named) costs one more poll(2) over every socket the
 * process holds: 0.1 to 0.3 ms with 1,000 builders connected, on the path of
 * every dispatch. 1 if started; 0 leaves q to the deferred path (also when the
 * send failed: the connection is then torn down from the loop, never inside
 * pgpool_query).
 */
static int pgpool__start_now(struct pgpool *p, struct pgq *q)
{
	for (int i = 0; i < p->size; i++) {
		struct pgconn *c = &p->conns[i];
		if (c->state == PC_IDLE)
			return pgpool__begin(c, q) == 0;
	}
	return 0;
}

static void pgpool__dispatch(struct pgpool *p)
{
	for (int i = 0; i < p->size && p->head; i++) {
		struct pgconn *c = &p->conns[i];
		struct pgq *q;

		if (c->state != PC_IDLE)
			continue;
		q = p->head;
		p->head = q->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		q->next = NULL;
		pgpool__start(c, q);
	}
}

static void pgpool__notifies(struct pgconn *c)
{
	struct pgpool *p = c->pool;
	PGnotify *n;

	while ((n = PQnotifies(c->pg))) {
		for (int i = 0; i < p->nlistens; i++)
			if (!strcmp(p->listens[i].channel, n->relname))
				p->listens[i].cb(p->listens[i].ctx, n->relname, n->extra);
		PQfreemem(n);
	}
}

/* Input arrived: consume it and collect finished results. */
static void pgpool__read(struct pgconn *c)
{
	if (!PQconsumeInput(c->pg)) {
		pgpool__teardown(c, PQerrorMessage(c->pg));
		return;
	}
	pgpool__notifies(c);
	while (c->state == PC_BUSY && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		struct pgq *q = c->cur;

		if (!r) {
			/* The command is complete. */
			c->state = PC_IDLE;
			if (c->listen_setup) {
				c->listen_setup = 0;
				continue;
			}
			if (c->preparing && q) {
				ExecStatusType pst = q->result ? PQresultStatus(q->result) : PGRES_FATAL_ERROR;
				c->preparing = 0;
				if (pst == PGRES_COMMAND_OK) {
					/* Prepared: now run it, on the same connection. */
					PQclear(q->result);
					q->result = NULL;
					c->prepared[c->nprepared++] = q->name;
					c->state = PC_BUSY;
					if (!pgpool__send(c, q)) {
						pgpool__teardown(c, PQerrorMessage(c->pg));
						return;
					}
					if (PQflush(c->pg) == 1)
						pgpool__want_write(c);
					continue;
				}
				/* A failed prepare fails the query, with its message, below. */
			}
			c->cur = NULL;
			if (q) {
				ExecStatusType st = q->result ? PQresultStatus(q->result)
							      : PGRES_FATAL_ERROR;
				if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
					pgq__complete(c->pool, q, NULL);
				} else {
					struct kerr e;
					db_error(c->pg, q->result, &e);
					pgq__complete(c->pool, q, e.msg);
				}
			}
			break;
		}
		if (c->listen_setup || !q) {
			PQclear(r);
			continue;
		}
		/* Keep the first failure, else the last result. */
		if (q->result) {
			ExecStatusType prev = PQresultStatus(q->result);
			if (prev != PGRES_COMMAND_OK && prev != PGRES_TUPLES_OK) {
				PQclear(r);
				continue;
			}
			PQclear(q->result);
		}
		q->result = r;
	}
	if (c->state == PC_IDLE && !c->is_listener)
		pgpool__dispatch(c->pool);
}

int pgpool_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len)
{
	struct pgconn *c = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!c)
			return -1;
		if (c->state == PC_CONNECTING)
			pgpool__connect_poll(c);
		else if (c->pg)
			pgpool__read(c);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!c)
			return -1;
		c->in_writeable = 1;
		if (c->state == PC_CONNECTING) {
			pgpool__connect_poll(c);
		} else if (c->pg) {
			int r = PQflush(c->pg);
			if (r == 1)
				pgpool__want_write(c);
			else if (r < 0)
				pgpool__teardown(c, PQerrorMessage(c->pg));
		}
		/* c may have been torn down, but it is never freed here. */
		c->in_writeable = 0;
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (c) {
			/* lws closed our dup (hangup): the connection is gone. */
			c->wsi = NULL;
			pgpool__teardown(c, "socket closed");
		}
		return 0;
	default:
		return 0;
	}
}

int pgpool_new(struct lws_context *context, struct lws_vhost *vhost, const char *conninfo, int size, int max_queue,
	       struct pgpool **out, struct kerr *e)
{
	struct pgpool *p;

	*out = NULL;
	if (size < 1 || size > 256)
		return kerr_set(e, KERR_INVAL, "database pool size must be 1-256, got %d", size);
	p = xcalloc(1, sizeof(*p));
	p->vhost = vhost;
	p->context = context;
	p->conninfo = xstrdup(conninfo);
	p->size = size;
	p->max_queue = max_queue;
	p->conns = xcalloc((size_t)size, sizeof(*p->conns));
	for (int i = 0; i < size; i++) {
		p->conns[i].pool = p;
		pgpool__connect(&p->conns[i]);
	}
	p->listener.pool = p;
	p->listener.is_listener = 1;
	*out = p;
	return 0;
}

static void pgpool__close_conn(struct pgconn *c)
{
	lws_sul_cancel(&c->sul);
	lws_sul_cancel(&c->wsul);
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		c->wsi = NULL;
	}
	if (c->cur) {
		struct pgq *q = c->cur;
		c->cur = NULL;
		pgq__complete(c->pool, q, "database: shutting down");
	}
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = PC_DOWN;
}

void pgpool_free(struct pgpool *p)
{
	if (!p)
		return;
	p->closing = 1;
	lws_sul_cancel(&p->kick_sul);
	for (int i = 0; i < p->size; i++)
		pgpool__close_conn(&p->conns[i]);
	pgpool__close_conn(&p->listener);
	while (p->head) {
		struct pgq *q = p->head;
		p->head = q->next;
		pgq__complete(p, q, "database: shutting down");
	}
	for (int i = 0; i < p->nlistens; i++)
		free(p->listens[i].channel);
	free(p->listens);
	free(p->conns);
	free(p->conninfo);
	free(p);
}

static void pgpool__kick_cb(lws_sorted_usec_list_t *sul)
{
	struct pgpool *p = lws_container_of(sul, struct pgpool, kick_sul);
	p->kick_pending = 0;
	pgpool__dispatch(p);
}

struct pgq *pgpool_query(struct pgpool *p, const char *sql, int nparams,
			 const char *const *params, pgpool_cb cb, void *ctx)
{
	return pgpool_query_named(p, NULL, sql, nparams, params, cb, ctx);
}

struct pgq *pgpool_query_named(struct pgpool *p, const char *name, const char *sql, int nparams,
			       const char *const *params, pgpool_cb cb, void *ctx)
{
	struct pgq *q;

	if (p->closing || p->queued >= p->max_queue)
		return NULL;
	q = xcalloc(1, sizeof(*q));
	q->name = name;
	q->sql = xstrdup(sql);
	q->nparams = nparams;
	if (nparams > 0) {
		q->params = xcalloc((size_t)nparams, sizeof(char *));
		for (int i = 0; i < nparams; i++)
			q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	}
	q->cb = cb;
	q->ctx = ctx;
	/* Nothing waits before it, so no order to keep: start it now if a connection is free. */
	if (!p->head && pgpool__start_now(p, q))
		return q;
	if (p->tail)
		p->tail->next = q;
	else
		p->head = q;
	p->tail = q;
	p->queued++;
	/*
	 * Dispatch from the loop, not from here: starting the query may fail and
	 * complete it at once, and a callback must never run inside pgpool_query
	 * (the caller has not even stored the handle yet).
	 */
	if (!p->kick_pending) {
		p->kick_pending = 1;
		lws_sul_schedule(p->context, 0, &p->kick_sul, pgpool__kick_cb, 1);
	}
	return q;
}

void pgq_cancel(struct pgq *q)
{
	/* Queued or running, the result is dropped when it arrives; nothing else to do. */
	if (q)
		q->cb = NULL;
}

int pgpool_listen(struct pgpool *p, const char *channel, pgpool_notify_cb cb, void *ctx)
{
	if (!channel || !*channel || strlen(channel) > 63)
		return KERR_INVAL;
	p->listens = xrealloc(p->listens, sizeof(*p->listens) * (size_t)(p->nlistens + 1));
	p->listens[p->nlistens].channel = xstrdup(channel);
	p->listens[p->nlistens].cb = cb;
	p->listens[p->nlistens].ctx = ctx;
	p->nlistens++;
	if (p->listener.state == PC_DOWN && !p->listener.pg)
		pgpool__connect(&p->listener);
	else if (p->listener.state == PC_IDLE)
		pgpool__listen_all(&p->listener);
	return 0;
}

int pgpool_ready(const struct pgpool *p)
{
	for (int i = 0; i < p->size; i++)
		if (p->conns[i].state == PC_IDLE || p->conns[i].state == PC_BUSY)
			return 1;
	return 0;
}

void pgpool_get_stats(const struct pgpool *p, struct pgpool_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->size = p->size;
	for (int i = 0; i < p->size; i++) {
		if (p->conns[i].state == PC_IDLE || p->conns[i].state == PC_BUSY)
			out->connected++;
		if (p->conns[i].state == PC_BUSY)
			out->busy++;
	}
	out->queued = p->queued;
	out->queries = p->queries;
	out->errors = p->errors;
	out->reconnects = p->reconnects;
}
