/* builder_conn: a builder's connection, its output and held jobs (contract in builder_conn.h). */
#include "backend/builder_conn.h"

#include "backend/metrics.h"
#include "backend/server.h"
#include "backend/storage_sweep.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bws_state *builder_conn_state(struct server *srv)
{
	return srv->builders;
}

/* --- references for async work ------------------------------------------ */

struct builder_conn_ref *builder_conn_ref(struct builder_conn *c)
{
	c->ref->refs++;
	return c->ref;
}

struct builder_conn *builder_conn_unref(struct builder_conn_ref *r)
{
	struct builder_conn *c = r->conn;
	if (--r->refs == 0)
		free(r);
	return c;
}

/* --- sending -------------------------------------------------------------- */

void builder_conn_send(struct builder_conn *c, const char *text, size_t n)
{
	struct builder_conn_msg *m = xmalloc(sizeof(*m) + LWS_PRE + n);

	m->next = NULL;
	m->len = n;
	memcpy(m->data + LWS_PRE, text, n);
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	lws_callback_on_writable(c->wsi);
}

void builder_conn_send_buf(struct builder_conn *c, const struct buf *b)
{
	builder_conn_send(c, b->ptr, b->len);
}

/*
 * Why now and not at the connection's next WRITEABLE callback: that callback
 * comes a turn of the loop later, and a turn is a poll(2) over every socket
 * (0.1 to 0.3 ms with 1,000 builders), on the path of every dispatch. Only
 * when nothing is queued before the message, so order holds, and the socket
 * takes more. lws keeps what the socket did not take and sends it before
 * anything else.
 */
void builder_conn_send_now(struct builder_conn *c, const struct buf *b)
{
	unsigned char *m;

	/*
	 * Not past output lws still holds (lws_send_pipe_choked also says so): lws
	 * would append the frame but report it short and believe it is still
	 * inside a frame, so the next message would go out without its header.
	 */
	if (c->out_head || c->closing || lws_send_pipe_choked(c->wsi)) {
		builder_conn_send_buf(c, b);
		return;
	}
	m = xmalloc(LWS_PRE + b->len);
	memcpy(m + LWS_PRE, b->ptr, b->len);
	if (lws_write(c->wsi, m + LWS_PRE, b->len, LWS_WRITE_TEXT) < (int)b->len) {
		c->closing = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
	free(m);
}

void builder_conn_fail(struct builder_conn *c, const char *code, const char *fmt, ...)
{
	struct buf b = BUF_INIT(8192);
	char msg[1024], q[1100];
	va_list ap;

	if (c->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_puts(&b, "{\"type\":\"error\",\"code\":");
	json_append_str(&b, code);
	buf_puts(&b, ",\"message\":");
	json_append_str(&b, msg);
	buf_puts(&b, "}");
	builder_conn_send_buf(c, &b);
	buf_release(&b);
	c->closing = 1;
	log_warn("builder connection refused", "builder=%s code=%s reason=%s",
		 c->name[0] ? c->name : "-", code, log_quote(q, sizeof(q), msg));
	metrics_add(c->srv->metrics, "kiln_builder_protocol_errors_total",
		    "Builder connections closed for a protocol error.", 1);
}

/*
 * Closing (the database went away under the query, or the queue is full) has
 * the builder reconnect and send again everything its jobs reported (it keeps
 * all of it until a job's finish is acknowledged, and the backend keeps each
 * piece once). Dropping the message instead would lose a log chunk, or a
 * finish, for good: the builder resends only after a reconnect, and its job
 * would stay running.
 */
void builder_conn_store_failed(struct builder_conn *c, long long job, const char *err)
{
	static const char msg[] = "{\"type\":\"error\",\"code\":\"unavailable\",\"message\":"
				  "\"a message could not be stored; reconnect and send again\"}";

	if (c->closing)
		return;
	log_warn("builder message not stored; closing so that the builder sends it again",
		 "builder=%s job=%lld error=\"%s\"", c->name, job, err);
	builder_conn_send(c, msg, sizeof(msg) - 1);
	c->closing = 1;
}

void builder_conn_send_cancel(struct builder_conn *c, long long job, long long attempt,
			      const char *reason)
{
	struct buf b = BUF_INIT(4096);
	buf_printf(&b, "{\"type\":\"cancel\",\"job\":%lld,", job);
	if (attempt)
		buf_printf(&b, "\"attempt\":%lld,", attempt);
	buf_puts(&b, "\"reason\":");
	json_append_str(&b, reason);
	buf_putc(&b, '}');
	builder_conn_send_buf(c, &b);
	buf_release(&b);
}

/* --- slots: which jobs this connection holds ---------------------------------- */

void builder_conn_hold(struct builder_conn *c, long long job)
{
	for (int i = 0; i < c->running; i++)
		if (c->held[i] == job)
			return;
	if (c->running < BUILDER_CONN_MAX_SLOTS)
		c->held[c->running++] = job;
}

int builder_conn_holds(const struct builder_conn *c, long long job)
{
	for (int i = 0; i < c->running; i++)
		if (c->held[i] == job)
			return 1;
	return 0;
}

int builder_conn_unhold(struct builder_conn *c, long long job)
{
	for (int i = 0; i < c->running; i++)
		if (c->held[i] == job) {
			c->held[i] = c->held[--c->running];
			return 1;
		}
	return 0;
}

int *builder_conn_logw(struct builder_conn *c, long long job, int add)
{
	int spare = -1;

	for (int i = 0; i < BUILDER_CONN_MAX_SLOTS; i++) {
		if (c->logw[i].n && c->logw[i].job == job)
			return &c->logw[i].n;
		if (!c->logw[i].n && spare < 0)
			spare = i;
	}
	if (!add || spare < 0)
		return NULL;
	c->logw[spare].job = job;
	return &c->logw[spare].n;
}

/* --- storage cleanup of dropped artifacts ---------------------------------- */

/* The sweep deletes them safely against an upload of the same bytes (storage_sweep.h). */
void builder_conn_sweep_keys(struct server *srv, const char *keys)
{
	if (keys && *keys && strcmp(keys, "{}"))
		storage_sweep_soon(srv);
}
