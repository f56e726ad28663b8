/*
 * builder_ws: the builders' channel (contract in builder_ws.h, messages in
 * docs/protocol.md): the lws callback, connection set-up and tear-down. The
 * rest is in builder_conn (a connection's state and sending), builder_proto
 * (the builder's messages), builder_dispatch (jobs to idle builders),
 * builder_timers (leases, pings, the reaper) and builder_notify (news from
 * other replicas).
 */
#include "backend/builder_ws.h"

#include "backend/builder_conn.h"
#include "backend/builder_dispatch.h"
#include "backend/builder_notify.h"
#include "backend/builder_proto.h"
#include "backend/builder_timers.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

const size_t builder_ws_session_size = sizeof(struct builder_conn);

/*
 * An event that may make one dispatch possible (a job notified, a slot freed, a
 * builder arrived or resumed) starts one claim statement, for up to 64 idle
 * builders; only a batch that comes back full (there may be more work) fans out
 * to max_inflight parallel chains. Starting max_inflight statements per event
 * had them all race for the one new job: on 2 cores the losers' statements
 * doubled the winner's latency (dispatch p50 1.7 -> 3.4 ms with 1,000 builders,
 * docs/performance.md). A burst still drains 64 jobs per statement on
 * max_inflight chains.
 */
void builder_ws_dispatch(struct server *srv)
{
	builder_dispatch_run(srv, 1);
}

void builder_ws_cancel(struct server *srv, long long builder_id, long long job, const char *reason)
{
	struct bws_state *st = builder_conn_state(srv);
	if (!st)
		return;
	for (struct builder_conn *c = st->conns; c; c = c->next)
		if (c->authed && c->builder_id == builder_id) {
			builder_conn_send_cancel(c, job, 0, reason);
			if (builder_conn_unhold(c, job))
				builder_ws_dispatch(srv);
		}
}

int builder_ws_count(const struct server *srv)
{
	int n = 0;
	const struct bws_state *st = srv->builders;
	if (!st)
		return 0;
	for (const struct builder_conn *c = st->conns; c; c = c->next)
		n += c->authed;
	return n;
}

int builder_ws_init(struct server *srv)
{
	struct bws_state *st = xcalloc(1, sizeof(*st));

	st->srv = srv;
	st->lease_s = (int)config_get_int(srv->cfg, CONFIG_LEASE_SECONDS);
	if (st->lease_s < 3)
		st->lease_s = 3;
	st->silent_us = (lws_usec_t)config_get_int(srv->cfg, CONFIG_BUILDER_PING_TIMEOUT) *
			LWS_US_PER_SEC;
	/* Three pings in the timeout, two in a lease period (builder_timers.h). */
	st->ping_us = st->silent_us / 3;
	if (st->ping_us > (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 6)
		st->ping_us = (lws_usec_t)st->lease_s * LWS_US_PER_SEC / 6;
	/* Enough parallel claims to keep the pool busy, not so many they queue up. */
	st->max_inflight = (int)config_get_int(srv->cfg, CONFIG_DB_POOL_SIZE);
	srv->builders = st;
	builder_timers_start(st);
	return builder_notify_listen(srv);
}

void builder_ws_release(struct server *srv)
{
	struct bws_state *st = srv->builders;

	if (!st)
		return;
	builder_timers_stop(st);
	free(st);
	srv->builders = NULL;
}

static void builder_ws__unlink(struct builder_conn *c)
{
	struct bws_state *st = builder_conn_state(c->srv);
	if (!st)
		return;
	for (struct builder_conn **pp = &st->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			st->nconns--;
			return;
		}
}

int builder_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct builder_conn *c = user;
	struct server *srv;
	char uri[128];

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		srv = lws_context_user(lws_get_context(wsi));
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		c->srv = srv;
		c->ref = xcalloc(1, sizeof(*c->ref));
		c->ref->conn = c;
		c->ref->refs = 1;
		c->alive_us = lws_now_usecs();
		buf_init(&c->rx, BUILDER_WS_MAX_MESSAGE);
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, "/api/v1/builders/ws")) {
			builder_conn_fail(c, "not_found", "the builder channel is /api/v1/builders/ws");
			return 0;
		}
		return 0;

	case LWS_CALLBACK_RECEIVE_PONG:
		c->alive_us = lws_now_usecs();
		return 0;

	case LWS_CALLBACK_RECEIVE:
		c->alive_us = lws_now_usecs();
		c->in_message = !lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi);
		if (!c->ref)
			return 0;
		if (c->closing) {
			/*
			 * Read the rest of the refused message before closing: closing with
			 * unread input makes the kernel send a reset, which can destroy the
			 * error message on its way to the peer.
			 */
			if (!c->in_message)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (lws_frame_is_binary(wsi)) {
			builder_conn_fail(c, "bad_message", "messages are JSON text frames");
			return 0;
		}
		if (buf_append(&c->rx, in, len)) {
			builder_conn_fail(c, "too_big", "message over %d bytes", BUILDER_WS_MAX_MESSAGE);
			return 0;
		}
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			return 0;
		builder_proto_on_message(c);
		buf_reset(&c->rx);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct builder_conn_msg *m = c->out_head;
		if (c->ping_due && !c->closing) {
			/*
			 * Alone in its callback (one write per WRITEABLE), never inside a
			 * frame; with a payload, as the builder's lws (4.1) sends no pong
			 * for an empty ping.
			 */
			unsigned char ping[LWS_PRE + 4] = { 0 };

			if (lws_send_pipe_choked(wsi)) {
				lws_callback_on_writable(wsi);
				return 0;
			}
			c->ping_due = 0;
			memcpy(ping + LWS_PRE, "kiln", 4);
			if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0)
				return -1;
			if (m)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (!m) {
			if (c->closing && !c->in_message) {
				lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
				return -1;
			}
			return 0;
		}
		if (lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
			return -1;
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(m);
		if (c->out_head || c->closing)
			lws_callback_on_writable(wsi);
		return 0;
	}

	case LWS_CALLBACK_CLOSED:
		if (!c->ref)
			return 0;
		if (c->authed)
			log_info("builder disconnected", "builder=%s running=%d", c->name, c->running);
		builder_ws__unlink(c);
		c->ref->conn = NULL;
		builder_conn_unref(c->ref);
		c->ref = NULL;
		while (c->out_head) {
			struct builder_conn_msg *m = c->out_head;
			c->out_head = m->next;
			free(m);
		}
		c->out_tail = NULL;
		/* Finishes never sent: the builder sends them again when it reconnects. */
		builder_proto_drop_deferred(c);
		buf_release(&c->rx);
		free(c->targets);
		c->targets = NULL;
		free(c->arches);
		c->arches = NULL;
		return 0;

	default:
		return 0;
	}
}
