/* daemon: kiln-builder's channel to the backend (contract in daemon.h). */
#include "builder/daemon.h"

#include "builder/derived.h"

#include "builder/docker.h"
#include "builder/job.h"
#include "builder/jobsource.h"
#include "builder/platform.h"
#include "builder/sandbox.h"
#include "builder/targets.h"
#include "common/json.h"
#include "common/log.h"
#include "common/stopflag.h"
#include "common/token.h"
#include "common/xalloc.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAEMON_PROTOCOL "kiln-builder.v1"
#define DAEMON_MAX_MESSAGE (4 * 1024 * 1024)
#define DAEMON_BACKOFF_MIN_MS 500
#define DAEMON_BACKOFF_MAX_MS 15000
#define DAEMON_MAX_BACKENDS 8
#define DAEMON_TARGETS_JSON_MAX 2400 /* 32 quoted names of 63 and commas */
#define DAEMON_LIST_TIMEOUT_S 5      /* GET /api/v1/targets */
#define DAEMON_LIST_RETRY_S 5        /* until the backend first answers it */

/* One backend of KILN_BACKEND_URL's list. */
struct daemon_backend {
	char address[256], path[64];
	int port, tls;
	char upload_base[512]; /* http(s)://host:port */
};

struct daemon_msg {
	struct daemon_msg *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE, then the text */
};

struct daemon {
	const struct config *cfg;
	struct lws_context *context;
	struct lws *wsi;
	struct docker docker;
	int docker_ok;
	char name[64];
	char token[128];
	/*
	 * The hello's targets, a JSON array; "[]" while there is none to serve
	 * (auto mode before an image exists): then the daemon stays disconnected
	 * (idle). Loop thread only; the checker thread hands a new list over in
	 * pending_json.
	 */
	char targets_json[DAEMON_TARGETS_JSON_MAX];
	int slots;
	struct targets_config tcfg;
	struct targets_arches arches;
	char emulates_json[256];
	int idle;            /* not connecting: no target to serve */
	int rehello;         /* the targets changed: close, and say hello again */
	int rehello_closing; /* the close that rehello asked for */

	/* The checker thread (targets.h): auto mode's re-evaluation, or a check of
	 * explicit names that had to wait for the backend. */
	pthread_t checker;
	int checker_started;
	atomic_int checker_stop;  /* raised by the main thread (stopflag.h) */
	int listed;          /* the backend's list was read once: explicit names checked */
	unsigned recheck_s;  /* KILN_BUILDER_TARGETS_RECHECK: seconds between two looks */
	char pending_json[DAEMON_TARGETS_JSON_MAX]; /* under lock */
	int pending;                                /* under lock */
	char chosen_json[DAEMON_TARGETS_JSON_MAX];  /* checker thread: the last list chosen */
	/*
	 * The backends to try, in order; cur is the one connected or being tried.
	 * Written by the loop thread only, read by job threads (uploads) under lock.
	 */
	struct daemon_backend backends[DAEMON_MAX_BACKENDS];
	int nbackends, cur;

	int welcomed;
	int backoff_ms;
	lws_sorted_usec_list_t reconnect_sul;
	struct buf rx;

	pthread_mutex_t lock;                 /* guards outq and cur */
	struct daemon_msg *out_head, *out_tail;

	struct bjob *jobs;                    /* running or unacknowledged; loop thread only */
	int draining;
	int exiting;   /* the service loop ended: no more reconnects */
	time_t drain_started;
};

static volatile sig_atomic_t daemon__stop;
static struct lws_context *daemon__context;

static void daemon__on_signal(int sig)
{
	(void)sig;
	daemon__stop = 1;
	if (daemon__context)
		lws_cancel_service(daemon__context);
}

void daemon_post(struct daemon *d, const char *json, size_t len)
{
	struct daemon_msg *m = xmalloc(sizeof(*m) + LWS_PRE + len);

	m->next = NULL;
	m->len = len;
	memcpy(m->data + LWS_PRE, json, len);
	pthread_mutex_lock(&d->lock);
	if (d->out_tail)
		d->out_tail->next = m;
	else
		d->out_head = m;
	d->out_tail = m;
	pthread_mutex_unlock(&d->lock);
	lws_cancel_service(d->context);
}

void daemon_job_done(struct daemon *d, struct bjob *j)
{
	(void)j;
	lws_cancel_service(d->context);
}

void daemon_upload_base(struct daemon *d, char *out, size_t n)
{
	pthread_mutex_lock(&d->lock);
	snprintf(out, n, "%s", d->backends[d->cur].upload_base);
	pthread_mutex_unlock(&d->lock);
}

/*
 * The connection to the current backend failed or was lost: the next attempt
 * goes to the next one in the list (a replica that died is skipped while it is
 * down; a lone backend is simply tried again).
 */
static void daemon__next_backend(struct daemon *d)
{
	if (d->nbackends < 2)
		return;
	pthread_mutex_lock(&d->lock);
	d->cur = (d->cur + 1) % d->nbackends;
	pthread_mutex_unlock(&d->lock);
	/*
	 * The backoff grows per round of the list, not per URL: within a round the
	 * next URL is tried after the same wait as the one before (the halving here
	 * undoes daemon__schedule_reconnect's doubling).
	 */
	if (d->cur != 0)
		d->backoff_ms /= 2;
}

static void daemon__clear_outq(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->out_head) {
		struct daemon_msg *m = d->out_head;
		d->out_head = m->next;
		free(m);
	}
	d->out_tail = NULL;
	pthread_mutex_unlock(&d->lock);
}

static int daemon__running(const struct daemon *d)
{
	int n = 0;
	for (const struct bjob *j = d->jobs; j; j = j->next)
		n++;
	return n;
}

/*
 * Done draining when no job is left, or when every job's thread has ended and the
 * backend has not acknowledged within 30 s (it may be gone; the leases will
 * expire and the jobs be rebuilt, which is safe).
 */
static int daemon__drained(const struct daemon *d)
{
	for (const struct bjob *j = d->jobs; j; j = j->next)
		if (j->started && !stopflag_up(&j->done))
			return 0;
	return !d->jobs || time(NULL) - d->drain_started > 30;
}

static void daemon__send_hello(struct daemon *d)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	buf_puts(&b, "{\"type\":\"hello\",\"protocol\":1,\"token\":");
	json_append_str(&b, d->token);
	buf_puts(&b, ",\"name\":");
	json_append_str(&b, d->name);
	buf_printf(&b, ",\"version\":\"%s\",\"arch\":", KILN_VERSION);
	json_append_str(&b, d->arches.host);
	if (d->arches.nemulated)
		buf_printf(&b, ",\"emulates\":%s", d->emulates_json);
	buf_printf(&b, ",\"targets\":%s,\"slots\":%d,\"running\":[", d->targets_json, d->slots);
	for (struct bjob *j = d->jobs; j; j = j->next)
		buf_printf(&b, "%s{\"job\":%lld}", b.ptr[b.len - 1] == '[' ? "" : ",", j->id);
	buf_puts(&b, "]}");
	/* The hello goes first, ahead of anything queued. */
	{
		struct daemon_msg *m = xmalloc(sizeof(*m) + LWS_PRE + b.len);
		m->len = b.len;
		memcpy(m->data + LWS_PRE, b.ptr, b.len);
		pthread_mutex_lock(&d->lock);
		m->next = d->out_head;
		d->out_head = m;
		if (!d->out_tail)
			d->out_tail = m;
		pthread_mutex_unlock(&d->lock);
	}
	buf_release(&b);
	lws_callback_on_writable(d->wsi);
}

static struct bjob *daemon__find(struct daemon *d, long long id)
{
	for (struct bjob *j = d->jobs; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

/*
 * Forget a job whose thread has ended (the backend acknowledged or cancelled
 * it); m is that message: one about another attempt of the job leaves it be.
 */
static void daemon__forget(struct daemon *d, long long id, const cJSON *m)
{
	for (struct bjob **pp = &d->jobs; *pp; pp = &(*pp)->next) {
		struct bjob *j = *pp;
		if (j->id != id)
			continue;
		if (!job_is_attempt(j, m)) {
			log_info("message about another attempt of the job ignored", "job=%lld attempt=%lld",
				 j->id, j->attempt);
			return;
		}
		if (j->started && !stopflag_up(&j->done)) {
			stopflag_raise(&j->cancel); /* its thread will notice; reaped in daemon__reap */
			return;
		}
		*pp = j->next;
		if (j->started)
			pthread_join(j->thread, NULL);
		job_free(j);
		return;
	}
}

/* Jobs whose thread ended after a cancel: join and free. */
static void daemon__reap(struct daemon *d)
{
	for (struct bjob **pp = &d->jobs; *pp;) {
		struct bjob *j = *pp;
		if (stopflag_up(&j->cancel) && stopflag_up(&j->done)) {
			*pp = j->next;
			pthread_join(j->thread, NULL);
			job_free(j);
			continue;
		}
		pp = &j->next;
	}
}

static void daemon__on_job(struct daemon *d, const cJSON *m)
{
	struct bjob *j = NULL, *old;
	struct kerr e;
	char q[600];

	if (job_parse(m, &j, &e)) {
		log_error("bad job message", "error=%s", log_quote(q, sizeof(q), e.msg));
		return;
	}
	if ((old = daemon__find(d, j->id))) {
		/*
		 * A repeat of a job we run is ignored. But a job the backend took
		 * from us (we were frozen or cut off past its lease) and now gives us
		 * again while its old attempt is still stopping would be neither
		 * built nor returned: hand it back, to come again once that ended.
		 * A new attempt means the one we run is over for the backend (its
		 * messages are refused): stop it.
		 */
		if (old->attempt != j->attempt && !stopflag_up(&old->cancel)) {
			log_info("job given again as a new attempt: stopping the old one", "job=%lld "
				 "attempt=%lld new_attempt=%lld", j->id, old->attempt, j->attempt);
			stopflag_raise(&old->cancel);
		}
		if (stopflag_up(&old->cancel)) {
			static const char fmt[] = "{\"type\":\"finish\",\"job\":%lld,\"attempt\":%lld,"
						  "\"status\":\"retry\",\"exit_code\":-1,\"reason\":\"builder is "
						  "still stopping an earlier attempt of this job\"}";
			char msg[256];
			int n = snprintf(msg, sizeof(msg), fmt, j->id, j->attempt);
			log_info("job handed back: an earlier attempt is still stopping", "job=%lld", j->id);
			daemon_post(d, msg, (size_t)n);
		}
		job_free(j);
		return;
	}
	if (d->draining) {
		/* Pushed before our drain arrived (say, right after a reconnect): hand it back. */
		static const char fmt[] = "{\"type\":\"finish\",\"job\":%lld,\"attempt\":%lld,"
					  "\"status\":\"retry\",\"exit_code\":-1,\"reason\":\"builder is "
					  "draining\"}";
		char msg[256];
		int n = snprintf(msg, sizeof(msg), fmt, j->id, j->attempt);
		log_info("job handed back: draining", "job=%lld", j->id);
		job_free(j);
		daemon_post(d, msg, (size_t)n);
		return;
	}
	j->daemon = d;
	j->cfg = d->cfg;
	j->docker = &d->docker;
	j->owner = d->name;
	j->next = d->jobs;
	d->jobs = j;
	log_info("job received", "job=%lld attempt=%lld project=%s version=%s target=%s", j->id,
		 j->attempt, j->project, j->version, j->target);
	if (job_start(j)) {
		static const char fmt[] = "{\"type\":\"finish\",\"job\":%lld,\"attempt\":%lld,"
					  "\"status\":\"retry\",\"exit_code\":-1,\"reason\":\"builder could "
					  "not start a thread\"}";
		char msg[256];
		int n = snprintf(msg, sizeof(msg), fmt, j->id, j->attempt);
		daemon_post(d, msg, (size_t)n);
	}
}

static void daemon__on_message(struct daemon *d)
{
	cJSON *m = NULL;
	const char *type = NULL, *s = NULL;
	struct kerr e;
	int64_t job = 0;
	char q[600];

	if (json_parse_object(d->rx.ptr, d->rx.len, &m, &e) || json_get_str_req(m, "type", &type, &e)) {
		log_error("bad message from backend", "error=%s", log_quote(q, sizeof(q), e.msg));
		goto done;
	}
	if (!strcmp(type, "welcome")) {
		d->welcomed = 1;
		d->backoff_ms = 0;
		log_info("connected", "backend=%s:%d builder=%s slots=%d", d->backends[d->cur].address,
			 d->backends[d->cur].port, d->name, d->slots);
		/* Send again what running jobs reported: the backend keeps each piece once. */
		for (struct bjob *j = d->jobs; j; j = j->next)
			job_repost(j);
		if (d->draining)
			daemon_post(d, "{\"type\":\"drain\"}", 16);
	} else if (!strcmp(type, "job")) {
		if (d->draining) {
			log_warn("job offered while draining; it will return to the queue", NULL);
		}
		daemon__on_job(d, m);
	} else if (!strcmp(type, "cancel") || !strcmp(type, "finished")) {
		if (json_get_int_req(m, "job", 1, INT64_MAX, &job, &e))
			goto done;
		json_get_str(m, !strcmp(type, "cancel") ? "reason" : "state", &s, &e);
		log_info(!strcmp(type, "cancel") ? "job cancelled by backend" : "job recorded",
			 "job=%lld detail=%s", (long long)job, log_quote(q, sizeof(q), s ? s : ""));
		daemon__forget(d, job, m);
	} else if (!strcmp(type, "error")) {
		const char *code = "", *msg = "";
		json_get_str(m, "code", &code, &e);
		json_get_str(m, "message", &msg, &e);
		log_error("backend refused us", "code=%s message=%s", code, log_quote(q, sizeof(q), msg));
		if (!strcmp(code, "unauthorized") || !strcmp(code, "unsupported_protocol")) {
			/* Retrying cannot help; say so loudly and stop. */
			daemon__stop = 2;
		}
	}
done:
	cJSON_Delete(m);
}

static void daemon__connect(struct daemon *d);

static void daemon__reconnect_cb(lws_sorted_usec_list_t *sul)
{
	struct daemon *d = lws_container_of(sul, struct daemon, reconnect_sul);
	daemon__connect(d);
}

static void daemon__schedule_reconnect(struct daemon *d)
{
	unsigned char r;
	int delay;

	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : DAEMON_BACKOFF_MIN_MS;
	if (d->backoff_ms > DAEMON_BACKOFF_MAX_MS)
		d->backoff_ms = DAEMON_BACKOFF_MAX_MS;
	/* Jitter of +-25%, so a fleet does not reconnect in lockstep after a restart. */
	token_random_bytes(&r, 1);
	delay = d->backoff_ms * 3 / 4 + (d->backoff_ms / 2) * r / 255;
	lws_sul_schedule(d->context, 0, &d->reconnect_sul, daemon__reconnect_cb,
			 (lws_usec_t)delay * LWS_US_PER_MS);
}

static void daemon__connect(struct daemon *d)
{
	struct lws_client_connect_info i;
	static const uint32_t backoff[] = { 1000 };
	static const lws_retry_bo_t retry = {
		.retry_ms_table = backoff,
		.retry_ms_table_count = 1,
		.conceal_count = 0,
		.secs_since_valid_ping = 15,
		.secs_since_valid_hangup = 45,
		.jitter_percent = 0,
	};

	/*
	 * A draining builder (SIGTERM) still reconnects: what its last jobs report
	 * must reach the backend. Only a refusal, or the loop's end, stops it.
	 */
	if (daemon__stop == 2 || d->exiting)
		return;
	if (!strcmp(d->targets_json, "[]")) {
		/* Nothing to serve (yet): the checker thread wakes us when there is. */
		d->idle = 1;
		return;
	}
	memset(&i, 0, sizeof(i));
	i.context = d->context;
	i.address = d->backends[d->cur].address;
	i.port = d->backends[d->cur].port;
	i.path = d->backends[d->cur].path;
	i.host = d->backends[d->cur].address;
	i.origin = d->backends[d->cur].address;
	i.ssl_connection = d->backends[d->cur].tls ? LCCSCF_USE_SSL : 0;
	i.protocol = DAEMON_PROTOCOL;
	i.local_protocol_name = DAEMON_PROTOCOL;
	i.pwsi = &d->wsi;
	i.retry_and_idle_policy = &retry;
	i.userdata = d;
	if (!lws_client_connect_via_info(&i)) {
		d->wsi = NULL;
		daemon__next_backend(d);
		daemon__schedule_reconnect(d);
	}
}

static int daemon__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			    void *in, size_t len)
{
	struct daemon *d = lws_context_user(lws_get_context(wsi));
	char q[300];

	if (!d)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		d->welcomed = 0;
		d->rehello = 0; /* this hello carries the current targets */
		buf_reset(&d->rx);
		daemon__clear_outq(d);
		daemon__send_hello(d);
		return 0;

	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (buf_append(&d->rx, in, len)) {
			log_error("message from backend too large", NULL);
			return -1;
		}
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			return 0;
		daemon__on_message(d);
		buf_reset(&d->rx);
		return 0;

	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		struct daemon_msg *m;
		if (d->rehello) {
			/* The hello is the only way to tell the backend our targets: a new
			 * connection, whose hello lists the running jobs, which go on. */
			d->rehello = 0;
			d->rehello_closing = 1;
			log_info("targets changed: connecting again to say so", "targets=%s",
				 d->targets_json);
			return -1;
		}
		pthread_mutex_lock(&d->lock);
		m = d->out_head;
		/* Before the welcome only the hello may go out. */
		if (m && !d->welcomed && strncmp((char *)m->data + LWS_PRE, "{\"type\":\"hello\"", 15))
			m = NULL;
		if (m) {
			d->out_head = m->next;
			if (!d->out_head)
				d->out_tail = NULL;
		}
		pthread_mutex_unlock(&d->lock);
		if (!m)
			return 0;
		if (lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len) {
			free(m);
			return -1;
		}
		free(m);
		pthread_mutex_lock(&d->lock);
		if (d->out_head && d->welcomed)
			lws_callback_on_writable(wsi);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}

	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_warn("could not connect to backend; retrying", "backend=%s:%d error=%s",
			 d->backends[d->cur].address, d->backends[d->cur].port,
			 log_quote(q, sizeof(q), in ? (const char *)in : "unknown"));
		d->wsi = NULL;
		d->welcomed = 0;
		daemon__next_backend(d);
		daemon__schedule_reconnect(d);
		return 0;

	case LWS_CALLBACK_CLIENT_CLOSED:
		if (d->rehello_closing) {
			/* Our own close: the same backend again, after the usual short wait. */
			d->rehello_closing = 0;
			d->wsi = NULL;
			d->welcomed = 0;
			daemon__schedule_reconnect(d);
			return 0;
		}
		if (d->welcomed)
			log_warn("connection to backend lost; reconnecting", "backend=%s:%d running=%d",
				 d->backends[d->cur].address, d->backends[d->cur].port,
				 daemon__running(d));
		d->wsi = NULL;
		d->welcomed = 0;
		daemon__next_backend(d);
		daemon__schedule_reconnect(d);
		return 0;

	case LWS_CALLBACK_WSI_DESTROY:
		/*
		 * Our connection is going away without CLIENT_CONNECTION_ERROR or
		 * CLIENT_CLOSED having run (both forget d->wsi first). lws 4.1 does that
		 * when the upgrade gets no answer in time (e.g. a load balancer still
		 * trying a dead replica): without a retry here the builder would wait
		 * forever, disconnected, while its jobs' leases run out.
		 */
		if (wsi != d->wsi)
			return 0;
		d->wsi = NULL;
		d->welcomed = 0;
		if (daemon__stop == 2 || d->exiting)
			return 0; /* the context is going down, or we were refused */
		log_warn("backend did not answer the connection; retrying", "backend=%s:%d",
			 d->backends[d->cur].address, d->backends[d->cur].port);
		daemon__next_backend(d);
		daemon__schedule_reconnect(d);
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* A job posted a message, finished, or a signal arrived. */
		daemon__reap(d);
		if (d->wsi && d->welcomed) {
			int more;
			pthread_mutex_lock(&d->lock);
			more = d->out_head != NULL;
			pthread_mutex_unlock(&d->lock);
			if (more)
				lws_callback_on_writable(d->wsi);
		}
		return 0;

	default:
		return 0;
	}
}

static const struct lws_protocols daemon__protocols[] = {
	{ DAEMON_PROTOCOL, daemon__callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Parse one ws[s]://host[:port][/] into b. 0 or KERR_INVAL. */
static int daemon__parse_url(struct daemon_backend *b, const char *url, struct kerr *e)
{
	char copy[512];
	const char *prot, *addr, *path;
	int port;

	if (strlen(url) >= sizeof(copy))
		return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL too long");
	memcpy(copy, url, strlen(url) + 1);
	if (lws_parse_uri(copy, &prot, &addr, &port, &path))
		return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL '%s' is not a URL", url);
	if (!strcmp(prot, "ws") || !strcmp(prot, "http")) {
		b->tls = 0;
	} else if (!strcmp(prot, "wss") || !strcmp(prot, "https")) {
		b->tls = 1;
	} else {
		return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL must start with ws:// or wss://");
	}
	if (!*addr)
		return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL '%s' names no host", url);
	if (!strchr(url + strlen(prot) + 3, ':'))
		port = b->tls ? 443 : 80;
	snprintf(b->address, sizeof(b->address), "%s", addr);
	b->port = port;
	snprintf(b->path, sizeof(b->path), "/api/v1/builders/ws");
	snprintf(b->upload_base, sizeof(b->upload_base), "%s://%s:%d", b->tls ? "https" : "http",
		 addr, port);
	return 0;
}

/* KILN_BACKEND_URL: one URL, or several separated by commas (replicas). 0 or KERR_INVAL. */
static int daemon__parse_urls(struct daemon *d, const char *list, struct kerr *e)
{
	const char *p = list;

	d->nbackends = 0;
	while (*p) {
		size_t len = strcspn(p, ", ");
		if (len) {
			char url[512];
			int rc;

			if (len >= sizeof(url))
				return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL: a URL is too long");
			if (d->nbackends == DAEMON_MAX_BACKENDS)
				return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL: more than %d URLs",
						DAEMON_MAX_BACKENDS);
			memcpy(url, p, len);
			url[len] = '\0';
			if ((rc = daemon__parse_url(&d->backends[d->nbackends], url, e)))
				return rc;
			d->nbackends++;
		}
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (!d->nbackends)
		return kerr_set(e, KERR_INVAL, "KILN_BACKEND_URL names no backend");
	d->cur = 0;
	return 0;
}

/* The arches this builder serves: uname's, and KILN_BUILDER_EMULATE's if binfmt runs them. */
static int daemon__arches(struct daemon *d, struct kerr *e)
{
	struct buf b = BUF_INIT(sizeof(d->emulates_json) - 1);
	int rc = 0;

	if ((rc = platform_host_arch(d->arches.host, e)) ||
	    (rc = platform_parse_arches(config_get(d->cfg, CONFIG_BUILDER_EMULATE), d->arches.host,
					d->arches.emulated, PLATFORM_MAX_EMULATED,
					&d->arches.nemulated, e))) {
		kerr_wrap(e, "KILN_BUILDER_EMULATE: ");
		goto fail;
	}
	buf_putc(&b, '[');
	for (size_t i = 0; i < d->arches.nemulated; i++) {
		if ((rc = platform_emulation_check(d->arches.emulated[i], NULL, e)))
			goto fail;
		buf_puts(&b, i ? "," : "");
		json_append_str(&b, d->arches.emulated[i]);
	}
	buf_putc(&b, ']');
	memcpy(d->emulates_json, b.ptr, b.len + 1);
fail:
	buf_release(&b);
	return rc;
}

/* Collect "target\twhy\n" lines, logged when the choice changes (daemon__log_skips). */
static void daemon__on_skip(void *ctx, const char *target, const char *why)
{
	buf_printf(ctx, "%s\t%s\n", target, why);
}

static void daemon__log_skips(const struct buf *skips)
{
	const char *p = skips->ptr;
	char q[600];

	while (*p) {
		const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');
		char target[TARGETS_NAME_MAX], why[KERR_MSG_MAX];
		if (!tab || !nl || tab > nl)
			break;
		snprintf(target, sizeof(target), "%.*s", (int)(tab - p), p);
		snprintf(why, sizeof(why), "%.*s", (int)(nl - tab - 1), tab + 1);
		log_info("target not served", "target=%s why=%s", target, log_quote(q, sizeof(q), why));
		p = nl + 1;
	}
}

/*
 * Read the backend's targets (each backend URL in turn) and choose ours into
 * out. 0; KERR_AGAIN when no backend answered (e says why); the selection's
 * error (explicit names that do not pass, Docker) otherwise. The targets left
 * out go to skips (daemon__on_skip's lines).
 */
static int daemon__choose(struct daemon *d, struct buf *out, size_t *count, struct buf *skips,
			  struct kerr *e)
{
	struct targets_list l = { NULL, 0 };
	int rc = KERR_AGAIN;

	for (int i = 0; i < d->nbackends && rc; i++) {
		rc = targets_fetch(d->backends[i].upload_base, config_get(d->cfg, CONFIG_CA_FILE),
				   DAEMON_LIST_TIMEOUT_S, &l, e);
	}
	if (rc)
		return KERR_AGAIN;
	rc = targets_select(&d->docker, &d->arches, &d->tcfg, &l, out, count, daemon__on_skip,
			    skips, e);
	targets_list_release(&l);
	return rc;
}

/*
 * One evaluation by the checker thread. Explicit names are checked once (then
 * the thread ends: returns 1); a failure stops the builder. auto: a new,
 * non-empty list is handed to the loop thread.
 */
static int daemon__check_once(struct daemon *d, int *fetch_failing)
{
	struct buf b = BUF_INIT(DAEMON_TARGETS_JSON_MAX - 1), skips = BUF_INIT(1 << 20);
	struct kerr e;
	size_t n = 0;
	char q[600];
	int rc, done = 0;

	kerr_clear(&e);
	rc = daemon__choose(d, &b, &n, &skips, &e);
	if (rc == KERR_AGAIN) {
		if (!*fetch_failing)
			log_warn("could not read the backend's targets; trying again", "error=%s",
				 log_quote(q, sizeof(q), e.msg));
		*fetch_failing = 1;
		goto out;
	}
	*fetch_failing = 0;
	if (!d->tcfg.automatic) {
		done = 1;
		d->listed = 1;
		if (rc) {
			log_error(e.msg, NULL);
			daemon__stop = 2;
			lws_cancel_service(d->context);
		}
		goto out;
	}
	if (rc) {
		log_warn("could not check the targets' images", "error=%s", log_quote(q, sizeof(q), e.msg));
		goto out;
	}
	if (!strcmp(b.ptr, d->chosen_json))
		goto out;
	/* Say why the others are left out once per change, not every round. */
	daemon__log_skips(&skips);
	if (!n) {
		if (d->chosen_json[0] && strcmp(d->chosen_json, "[]"))
			log_warn("no target to serve now: keeping the ones named last until there is one",
				 NULL);
		else
			log_warn("no target to serve yet: waiting for a target whose image is on this "
				 "machine (`just image NAME` builds one)", "recheck_s=%u", d->recheck_s);
		snprintf(d->chosen_json, sizeof(d->chosen_json), "%s", b.ptr);
		goto out;
	}
	snprintf(d->chosen_json, sizeof(d->chosen_json), "%s", b.ptr);
	log_info("targets to serve changed", "targets=%s", b.ptr);
	pthread_mutex_lock(&d->lock);
	snprintf(d->pending_json, sizeof(d->pending_json), "%s", b.ptr);
	d->pending = 1;
	pthread_mutex_unlock(&d->lock);
	lws_cancel_service(d->context);
out:
	buf_release(&b);
	buf_release(&skips);
	return done;
}

static void *daemon__checker_main(void *arg)
{
	struct daemon *d = arg;
	int fetch_failing = 0;

	for (;;) {
		unsigned wait_s = d->listed ? d->recheck_s : DAEMON_LIST_RETRY_S;
		if (stopflag_sleep_ms(&d->checker_stop, wait_s * 1000) ||
		    daemon__check_once(d, &fetch_failing))
			break;
		if (d->tcfg.automatic && !fetch_failing)
			d->listed = 1;
	}
	return NULL;
}

/* Loop thread: take a list the checker chose; connect, or say hello again. */
static void daemon__take_targets(struct daemon *d)
{
	int pending;

	pthread_mutex_lock(&d->lock);
	pending = d->pending;
	if (pending)
		snprintf(d->targets_json, sizeof(d->targets_json), "%s", d->pending_json);
	d->pending = 0;
	pthread_mutex_unlock(&d->lock);
	if (!pending)
		return;
	if (d->idle) {
		d->idle = 0;
		log_info("serving", "targets=%s", d->targets_json);
		daemon__connect(d);
	} else if (d->wsi) {
		d->rehello = 1;
		lws_callback_on_writable(d->wsi);
	}
	/* else: a reconnect is due, and its hello has the new list. */
}

/*
 * At start: choose the targets. Explicit names that fail stop the builder;
 * when the backend does not answer, names are served as given and checked
 * once it does. auto serves what passes, possibly nothing yet.
 */
static int daemon__first_targets(struct daemon *d, struct kerr *e)
{
	struct buf b = BUF_INIT(DAEMON_TARGETS_JSON_MAX - 1), skips = BUF_INIT(1 << 20);
	size_t n = 0;
	char q[600];
	int rc;

	if ((rc = targets_parse_config(config_get(d->cfg, CONFIG_BUILDER_TARGETS), &d->tcfg, e)))
		goto out;
	rc = daemon__choose(d, &b, &n, &skips, e);
	daemon__log_skips(&skips);
	if (rc == KERR_AGAIN) {
		log_warn("could not read the backend's targets; checking again until it answers",
			 "error=%s", log_quote(q, sizeof(q), e->msg));
		kerr_clear(e);
		rc = 0;
		buf_reset(&b);
		buf_putc(&b, '[');
		for (size_t i = 0; i < d->tcfg.n; i++) {
			buf_puts(&b, i ? "," : "");
			json_append_str(&b, d->tcfg.names[i]);
		}
		buf_putc(&b, ']');
	} else if (rc) {
		goto out;
	} else {
		d->listed = 1;
	}
	snprintf(d->targets_json, sizeof(d->targets_json), "%s", b.ptr);
	if (d->tcfg.automatic && d->listed)
		snprintf(d->chosen_json, sizeof(d->chosen_json), "%s", b.ptr);
	if (!strcmp(d->targets_json, "[]"))
		log_warn("no target to serve yet: waiting for a target whose image is on this "
			 "machine (see the reasons above; `just image NAME` builds one)",
			 "recheck_s=%u", d->listed ? d->recheck_s : DAEMON_LIST_RETRY_S);
out:
	buf_release(&b);
	buf_release(&skips);
	return rc;
}

int daemon_run(const struct config *cfg)
{
	struct lws_context_creation_info info;
	struct daemon d;
	struct kerr e;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	kerr_clear(&e);
	pthread_mutex_init(&d.lock, NULL);
	buf_init(&d.rx, DAEMON_MAX_MESSAGE);
	d.cfg = cfg;
	d.slots = (int)config_get_int(cfg, CONFIG_BUILDER_SLOTS);
	snprintf(d.token, sizeof(d.token), "%s", config_get(cfg, CONFIG_BUILDER_TOKEN));
	if (*config_get(cfg, CONFIG_BUILDER_NAME))
		snprintf(d.name, sizeof(d.name), "%s", config_get(cfg, CONFIG_BUILDER_NAME));
	else if (gethostname(d.name, sizeof(d.name) - 1))
		snprintf(d.name, sizeof(d.name), "builder");
	if (!token_well_formed(d.token)) {
		kerr_set(&e, KERR_INVAL, "a builder needs its token: set KILN_BUILDER_TOKEN or --token "
				       "(from `kilnctl builder add NAME`)");
		goto fail;
	}
	if (d.slots < 1 || d.slots > 64) {
		kerr_set(&e, KERR_INVAL, "KILN_BUILDER_SLOTS must be 1-64");
		goto fail;
	}
	d.recheck_s = (unsigned)config_get_int(cfg, CONFIG_BUILDER_TARGETS_RECHECK);
	if (d.recheck_s < 1 || d.recheck_s > 3600) {
		kerr_set(&e, KERR_INVAL, "KILN_BUILDER_TARGETS_RECHECK must be 1-3600 (seconds)");
		goto fail;
	}
	if (daemon__parse_urls(&d, config_get(cfg, CONFIG_BACKEND_URL), &e) || daemon__arches(&d, &e) ||
	    jobsource_farm_index_check(config_get(cfg, CONFIG_BUILD_FARM_INDEX), &e))
		goto fail;
	if (docker_init(&d.docker, NULL, &e)) {
		kerr_wrap(&e, "Docker Engine");
		goto fail;
	}
	d.docker_ok = 1;
	if (docker_ping(&d.docker, &e)) {
		kerr_wrap(&e, "Docker Engine");
		goto fail;
	}
	if (daemon__first_targets(&d, &e))
		goto fail;
	{
		/* A previous run of this builder may have died mid-build (kill -9, a crash). */
		size_t removed = 0;
		if (sandbox_reap(&d.docker, d.name, &removed, &e))
			log_warn("could not clean up after an earlier run", "error=\"%s\"", e.msg);
		else if (removed)
			log_info("removed what an earlier run left behind", "objects=%zu", removed);
		kerr_clear(&e);
	}
	{
		/* Derived images (a target plus a project's packages) nobody used for long. */
		char state[1100];
		size_t removed = 0;
		snprintf(state, sizeof(state), "%s/builder/derived", config_get(cfg, CONFIG_DATA_DIR));
		if (derived_gc(&d.docker, d.name, state,
			       (unsigned)config_get_int(cfg, CONFIG_BUILDER_DERIVED_MAX_AGE_DAYS),
			       (unsigned)config_get_int(cfg, CONFIG_BUILDER_DERIVED_MAX_COUNT), &removed,
			       &e))
			log_warn("could not remove unused derived images", "error=\"%s\"", e.msg);
		else if (removed)
			log_info("removed unused derived images", "images=%zu", removed);
		kerr_clear(&e);
	}

	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = daemon__protocols;
	info.user = &d;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	if (*config_get(cfg, CONFIG_CA_FILE))
		info.client_ssl_ca_filepath = config_get(cfg, CONFIG_CA_FILE);
	d.context = lws_create_context(&info);
	if (!d.context) {
		kerr_set(&e, KERR_INTERNAL, "could not create the lws context");
		goto fail;
	}
	daemon__context = d.context;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, daemon__on_signal);
	signal(SIGINT, daemon__on_signal);
	log_info("starting", "builder=%s backend=%s slots=%d arch=%s emulates=%s targets=%s", d.name,
		 config_get(cfg, CONFIG_BACKEND_URL), d.slots, d.arches.host, d.emulates_json,
		 d.targets_json);
	if (d.tcfg.automatic || !d.listed) {
		if (pthread_create(&d.checker, NULL, daemon__checker_main, &d)) {
			kerr_set(&e, KERR_INTERNAL, "could not start the targets checker thread");
			goto fail;
		}
		d.checker_started = 1;
	}
	daemon__connect(&d);
	for (;;) {
		if (daemon__stop == 2)
			break;
		if (daemon__stop && !d.draining) {
			d.draining = 1;
			d.drain_started = time(NULL);
			log_info("draining: finishing running jobs, taking no new ones", "running=%d",
				 daemon__running(&d));
			if (d.welcomed)
				daemon_post(&d, "{\"type\":\"drain\"}", 16);
		}
		if (d.draining && daemon__drained(&d))
			break;
		if (lws_service(d.context, 250) < 0)
			break;
		daemon__take_targets(&d);
	}
	rc = daemon__stop == 2 ? 1 : 0;
	log_info("stopped", NULL);
fail:
	d.exiting = 1;
	if (d.checker_started) {
		stopflag_raise(&d.checker_stop);
		pthread_join(d.checker, NULL);
	}
	if (rc && e.msg[0])
		log_error(e.msg, NULL);
	/* Jobs still here were cancelled or the daemon was refused: stop and join them. */
	for (struct bjob *j = d.jobs; j; j = j->next)
		stopflag_raise(&j->cancel);
	while (d.jobs) {
		struct bjob *j = d.jobs;
		d.jobs = j->next;
		if (j->started)
			pthread_join(j->thread, NULL);
		job_free(j);
	}
	if (d.context)
		lws_context_destroy(d.context);
	daemon__context = NULL;
	daemon__clear_outq(&d);
	if (d.docker_ok)
		docker_release(&d.docker);
	buf_release(&d.rx);
	pthread_mutex_destroy(&d.lock);
	return rc;
}
