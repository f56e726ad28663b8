/*
 * docker: the Engine API client (contract in docker.h). One function, docker__do,
 * runs every request on a fresh easy handle and sorts the answer: 2xx bodies go
 * to a buffer, a file or the stream demultiplexer; anything else is read as
 * Docker's {"message": ...} error.
 */
#include "builder/docker.h"

#include "common/buf.h"
#include "common/dockerlog.h"
#include "common/fdio.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <curl/curl.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOCKER__BODY_MAX (4u << 20) /* JSON answers and error bodies */
#define DOCKER__CONNECT_TIMEOUT 10L
#define DOCKER__REQUEST_TIMEOUT 300L /* fuse-overlayfs makes create/remove slow */
#define DOCKER__LOW_SPEED_TIME 120L

struct docker__req {
	const char *method;
	const char *what;           /* for messages: "create container" */
	char url[1024];
	const char *json;           /* request body, or NULL */
	int in_fd;                  /* upload body (PUT), or -1 */
	int out_fd;                 /* a 2xx body goes here, or -1 */
	uint64_t out_max;
	uint64_t out_len;
	struct dockerlog *mux;      /* or is demultiplexed into on_frame */
	docker_frame_fn on_frame;
	docker_tick_fn tick;
	void *ctx;
	long timeout_s;             /* whole-request limit, 0 for none */
	int streaming;              /* long call: no whole-request limit */
	/* results */
	CURL *h;
	long status;
	int status_known;
	int stop_rc;                /* a callback stopped the transfer with this */
	struct kerr stop_e;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t docker__once = PTHREAD_ONCE_INIT;
static int docker__init_rc;

static void docker__global_init(void)
{
	docker__init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : KERR_INTERNAL;
}

static void docker__req_init(struct docker__req *r, const char *method, const char *what)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->what = what;
	r->in_fd = -1;
	r->out_fd = -1;
	buf_init(&r->body, DOCKER__BODY_MAX);
}

static void docker__req_release(struct docker__req *r)
{
	buf_release(&r->body);
}

/* r->url = http://docker/v<api><path>; path holds its query already. */
static int docker__url(const struct docker *d, struct docker__req *r, int versioned,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int docker__url(const struct docker *d, struct docker__req *r, int versioned,
		       const char *fmt, ...)
{
	va_list ap;
	int n, m;

	/* curl ignores the host with a unix socket; Docker ignores the Host header. */
	n = snprintf(r->url, sizeof(r->url), "http://docker%s%s", versioned ? "/v" : "",
		     versioned ? d->api : "");
	if (n < 0 || (size_t)n >= sizeof(r->url))
		return KERR_INTERNAL;
	va_start(ap, fmt);
	m = vsnprintf(r->url + n, sizeof(r->url) - (size_t)n, fmt, ap);
	va_end(ap);
	return m < 0 || (size_t)m >= sizeof(r->url) - (size_t)n ? KERR_INVAL : 0;
}

static int docker__is_2xx(struct docker__req *r)
{
	if (!r->status_known) {
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
		r->status_known = 1;
	}
	return r->status >= 200 && r->status < 300;
}

static int docker__stop(struct docker__req *r, int rc)
{
	r->stop_rc = rc;
	return 0; /* any count other than the one given makes curl fail the transfer */
}

static size_t docker__write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct docker__req *r = arg;
	size_t n = size * nmemb;

	if (!docker__is_2xx(r) || (r->out_fd < 0 && !r->mux)) {
		if (buf_append(&r->body, p, n))
			return docker__stop(r, kerr_set(&r->stop_e, KERR_TOOBIG,
				"the answer is larger than %u bytes", DOCKER__BODY_MAX));
		return n;
	}
	if (r->mux) {
		int rc = dockerlog_feed(r->mux, p, n, r->on_frame, r->ctx, &r->stop_e);
		if (rc) {
			if (!r->stop_e.msg[0])
				kerr_set(&r->stop_e, rc, "interrupted");
			return docker__stop(r, rc);
		}
		return n;
	}
	if (r->out_len + n > r->out_max)
		return docker__stop(r, kerr_set(&r->stop_e, KERR_TOOBIG,
			"the archive is larger than %llu bytes", (unsigned long long)r->out_max));
	if (fdio_write_all(r->out_fd, p, n))
		return docker__stop(r, kerr_set(&r->stop_e, KERR_IO,
			"could not write the archive: %s", strerror(errno)));
	r->out_len += n;
	return n;
}

static size_t docker__read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct docker__req *r = arg;
	ssize_t n;

	do
		n = read(r->in_fd, p, size * nmemb);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		docker__stop(r, kerr_set(&r->stop_e, KERR_IO, "could not read the archive: %s",
					 strerror(errno)));
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static int docker__progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			    curl_off_t ulnow)
{
	struct docker__req *r = arg;
	int rc;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (!r->tick || !(rc = r->tick(r->ctx)))
		return 0;
	r->stop_rc = rc;
	kerr_set(&r->stop_e, rc, "interrupted");
	return 1;
}

/* Docker's error body {"message": "..."}, or the raw text, for a message. */
static void docker__error_text(const struct buf *b, char *out, size_t n)
{
	cJSON *j = NULL;
	const char *msg = NULL;

	if (b->len && !json_parse_object(b->ptr, b->len, &j, NULL) &&
	    !json_get_str(j, "message", &msg, NULL) && msg)
		snprintf(out, n, "%s", msg);
	else
		snprintf(out, n, "%.*s", b->len > 200 ? 200 : (int)b->len, b->ptr);
	cJSON_Delete(j);
	/* One line: Docker's messages sometimes end in a newline. */
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
}

static int docker__status_code(long status)
{
	switch (status) {
	case 400: return KERR_INVAL;
	case 404: return KERR_NOTFOUND;
	case 409: return KERR_CONFLICT;
	default: return KERR_IO;
	}
}

/* Run r against the daemon. 0 only for a 2xx answer fully handled. */
static int docker__do(const struct docker *d, struct docker__req *r, struct kerr *e)
{
	struct curl_slist *hdrs = NULL;
	struct stat st;
	CURLcode cc;
	int rc = 0;

	pthread_once(&docker__once, docker__global_init);
	if (docker__init_rc)
		return kerr_set(e, docker__init_rc, "docker: %s: libcurl failed to initialize", r->what);
	if (!(r->h = curl_easy_init()))
		return kerr_set(e, KERR_INTERNAL, "docker: %s: curl_easy_init failed", r->what);
	curl_easy_setopt(r->h, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	curl_easy_setopt(r->h, CURLOPT_URL, r->url);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, DOCKER__CONNECT_TIMEOUT);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, docker__write);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(r->h, CURLOPT_XFERINFOFUNCTION, docker__progress);
	curl_easy_setopt(r->h, CURLOPT_XFERINFODATA, r);
	if (!r->streaming)
		curl_easy_setopt(r->h, CURLOPT_TIMEOUT, r->timeout_s ? r->timeout_s
					 : d->request_timeout_s ? d->request_timeout_s
					 : DOCKER__REQUEST_TIMEOUT);
	if (r->in_fd >= 0) {
		if (fstat(r->in_fd, &st)) {
			rc = kerr_set(e, KERR_IO, "docker: %s: could not stat the archive: %s", r->what,
				      strerror(errno));
			goto out;
		}
		curl_easy_setopt(r->h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(r->h, CURLOPT_READFUNCTION, docker__read);
		curl_easy_setopt(r->h, CURLOPT_READDATA, r);
		curl_easy_setopt(r->h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(st.st_size - lseek(r->in_fd, 0, SEEK_CUR)));
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-tar");
		hdrs = curl_slist_append(hdrs, "Expect:");
		curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_TIME, DOCKER__LOW_SPEED_TIME);
	} else if (r->json) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->json);
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->json));
	} else if (!strcmp(r->method, "POST")) {
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (!strcmp(r->method, "HEAD"))
		curl_easy_setopt(r->h, CURLOPT_NOBODY, 1L); /* a custom HEAD would wait for a body */
	else if (strcmp(r->method, "GET") && strcmp(r->method, "POST") && r->in_fd < 0)
		curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, r->method);
	if (hdrs)
		curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(r->h);
	if (r->stop_rc) {
		rc = kerr_set(e, r->stop_rc, "docker: %s: %s", r->what, r->stop_e.msg);
		goto out;
	}
	if (cc != CURLE_OK) {
		if (cc == CURLE_COULDNT_CONNECT)
			rc = kerr_set(e, KERR_IO,
				      "docker: %s: could not connect to the daemon at '%s': %s",
				      r->what, d->socket, r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
		else
			rc = kerr_set(e, cc == CURLE_OPERATION_TIMEDOUT ? KERR_TIMEOUT : KERR_IO,
				      "docker: %s: %s", r->what,
				      r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
		goto out;
	}
	docker__is_2xx(r);
	if (r->status < 200 || r->status >= 300) {
		char msg[300];

		docker__error_text(&r->body, msg, sizeof(msg));
		rc = kerr_set(e, docker__status_code(r->status), "docker: %s: %s (HTTP %ld)", r->what,
			      msg[0] ? msg : "no message", r->status);
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(r->h);
	r->h = NULL;
	return rc;
}

/* Parse a 2xx JSON object body. */
static int docker__json(struct docker__req *r, cJSON **out, struct kerr *e)
{
	if (json_parse_object(r->body.ptr, r->body.len, out, e))
		return kerr_wrap(e, "docker: %s: bad answer: ", r->what);
	return 0;
}

/* "1.41" -> 1041; -1 if malformed. */
static long docker__api_num(const char *v)
{
	char *end;
	long major, minor;

	if (!v)
		return -1;
	major = strtol(v, &end, 10);
	if (*end != '.' || major < 1 || major > 9)
		return -1;
	minor = strtol(end + 1, &end, 10);
	if (*end || minor < 0 || minor > 999)
		return -1;
	return major * 1000 + minor;
}

static int docker__negotiate(struct docker *d, struct kerr *e)
{
	struct docker__req r;
	cJSON *j = NULL;
	const char *api = NULL, *engine = NULL, *arch = NULL;
	long have;
	int rc;

	docker__req_init(&r, "GET", "version");
	if ((rc = docker__url(d, &r, 0, "/version")) || (rc = docker__do(d, &r, e)) ||
	    (rc = docker__json(&r, &j, e)))
		goto out;
	if ((rc = json_get_str_req(j, "ApiVersion", &api, e)) ||
	    (rc = json_get_str(j, "Version", &engine, e)) ||
	    (rc = json_get_str(j, "Arch", &arch, e))) {
		kerr_wrap(e, "docker: version: ");
		goto out;
	}
	snprintf(d->engine, sizeof(d->engine), "%s", engine ? engine : "?");
	snprintf(d->arch, sizeof(d->arch), "%s", arch ? arch : "");
	have = docker__api_num(api);
	if (have < 0) {
		rc = kerr_set(e, KERR_PROTO, "docker: version: bad ApiVersion '%s'", api);
		goto out;
	}
	if (have < docker__api_num(DOCKER_API_MIN)) {
		rc = kerr_set(e, KERR_PROTO, "docker: the daemon speaks API %s, Kiln needs %s or later",
			      api, DOCKER_API_MIN);
		goto out;
	}
	snprintf(d->api, sizeof(d->api), "%s",
		 have > docker__api_num(DOCKER_API_MAX) ? DOCKER_API_MAX : api);
out:
	cJSON_Delete(j);
	docker__req_release(&r);
	return rc;
}

int docker_init(struct docker *d, const char *socket_path, struct kerr *e)
{
	const char *env = getenv("DOCKER_HOST");
	int rc;

	memset(d, 0, sizeof(*d));
	if (!socket_path && env && !strncmp(env, "unix://", 7))
		socket_path = env + 7;
	d->socket = xstrdup(socket_path && *socket_path ? socket_path : DOCKER_SOCKET_DEFAULT);
	d->request_timeout_s = DOCKER__REQUEST_TIMEOUT;
	if ((rc = docker_ping(d, e)) || (rc = docker__negotiate(d, e))) {
		docker_release(d);
		return rc;
	}
	return 0;
}

void docker_release(struct docker *d)
{
	free(d->socket);
	memset(d, 0, sizeof(*d));
}

int docker_ping(const struct docker *d, struct kerr *e)
{
	struct docker__req r;
	int rc;

	docker__req_init(&r, "GET", "ping");
	r.timeout_s = 30;
	if (!(rc = docker__url(d, &r, 0, "/_ping")) && !(rc = docker__do(d, &r, e)) &&
	    !buf_eq(&r.body, "OK"))
		rc = kerr_set(e, KERR_PROTO, "docker: ping: unexpected answer '%.40s'", r.body.ptr);
	docker__req_release(&r);
	return rc;
}

/* Container ids and our names are [A-Za-z0-9_.-]; refuse anything else in a URL. */
static int docker__check_ref(const char *what, const char *s, struct kerr *e)
{
	size_t n = strlen(s);

	if (!n || n >= DOCKER_ID_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return kerr_set(e, KERR_INVAL, "docker: bad %s '%s'", what, s);
	return 0;
}

/* POST config as r's JSON body and copy the answer's "Id" into id (what names the
 * call in errors). The request's URL is set; r stays the caller's to release. */
static int docker__post_for_id(const struct docker *d, struct docker__req *r, const cJSON *config,
			       const char *what, char id[DOCKER_ID_MAX], struct kerr *e)
{
	cJSON *j = NULL;
	char *body = cJSON_PrintUnformatted(config);
	const char *got = NULL;
	int rc;

	if (!body)
		return kerr_set(e, KERR_INTERNAL, "docker: %s: could not print the config", what);
	r->json = body;
	if ((rc = docker__do(d, r, e)) || (rc = docker__json(r, &j, e)))
		goto out;
	if ((rc = json_get_str_req(j, "Id", &got, e))) {
		kerr_wrap(e, "docker: %s: ", what);
		goto out;
	}
	snprintf(id, DOCKER_ID_MAX, "%s", got);
out:
	r->json = NULL;
	free(body);
	cJSON_Delete(j);
	return rc;
}

int docker_create(const struct docker *d, const char *name, const cJSON *config,
		  char id[DOCKER_ID_MAX], struct kerr *e)
{
	return docker_create_on(d, name, NULL, config, id, e);
}

int docker_create_on(const struct docker *d, const char *name, const char *platform,
		     const cJSON *config, char id[DOCKER_ID_MAX], struct kerr *e)
{
	struct docker__req r;
	int rc;

	id[0] = '\0';
	docker__req_init(&r, "POST", "create container");
	if (name && (rc = docker__check_ref("container name", name, e)))
		goto out;
	if (platform && *platform &&
	    (strlen(platform) >= 64 || strspn(platform, "abcdefghijklmnopqrstuvwxyz0123456789_/") !=
	     strlen(platform))) {
		rc = kerr_set(e, KERR_INVAL, "docker: bad platform '%.64s'", platform);
		goto out;
	}
	if (platform && !*platform)
		platform = NULL;
	if ((rc = docker__url(d, &r, 1, "/containers/create%s%s%s%s", name ? "?name=" : "",
			      name ? name : "", platform ? (name ? "&platform=" : "?platform=") : "",
			      platform ? platform : "")))
		goto out;
	if ((rc = docker__post_for_id(d, &r, config, "create container", id, e)) ||
	    (rc = docker__check_ref("container id", id, e)))
		id[0] = '\0';
out:
	docker__req_release(&r);
	return rc;
}

/* "path=<escaped>" for the archive endpoints. */
static int docker__archive_url(const struct docker *d, struct docker__req *r, const char *id,
			       const char *path, struct kerr *e)
{
	char *esc;
	int rc;

	if ((rc = docker__check_ref("container id", id, e)))
		return rc;
	if (!(esc = curl_easy_escape(NULL, path, 0)))
		return kerr_set(e, KERR_INTERNAL, "docker: could not escape '%s'", path);
	rc = docker__url(d, r, 1, "/containers/%s/archive?path=%s", id, esc);
	curl_free(esc);
	if (rc)
		return kerr_set(e, rc, "docker: path too long: '%s'", path);
	return 0;
}

int docker_put_archive(const struct docker *d, const char *id, const char *path, int fd,
		       struct kerr *e)
{
	struct docker__req r;
	int rc;

	docker__req_init(&r, "PUT", "put archive");
	r.in_fd = fd;
	r.streaming = 1;
	if (!(rc = docker__archive_url(d, &r, id, path, e)))
		rc = docker__do(d, &r, e);
	docker__req_release(&r);
	return rc;
}

int docker_path_exists(const struct docker *d, const char *id, const char *path, int *exists,
		       struct kerr *e)
{
	struct docker__req r;
	int rc;

	*exists = 0;
	docker__req_init(&r, "HEAD", "stat path");
	if (!(rc = docker__archive_url(d, &r, id, path, e)))
		rc = docker__do(d, &r, e);
	docker__req_release(&r);
	if (rc == KERR_NOTFOUND) {
		kerr_clear(e);
		return 0;
	}
	*exists = rc == 0;
	return rc;
}

int docker_get_archive(const struct docker *d, const char *id, const char *path, int fd,
		       uint64_t max, docker_tick_fn tick, void *ctx, struct kerr *e)
{
	struct docker__req r;
	int rc;

	docker__req_init(&r, "GET", "get archive");
	r.out_fd = fd;
	r.out_max = max;
	r.tick = tick;
	r.ctx = ctx;
	r.streaming = 1;
	if (!(rc = docker__archive_url(d, &r, id, path, e)))
		rc = docker__do(d, &r, e);
	docker__req_release(&r);
	return rc;
}

/* A bodiless call on /containers/{id}<suffix>; ok_status is also success (or 0). */
static int docker__simple(const struct docker *d, const char *method, const char *what,
			  const char *id, const char *suffix, long ok_status, struct kerr *e)
{
	struct docker__req r;
	int rc;

	docker__req_init(&r, method, what);
	if (!(rc = docker__check_ref("container id", id, e)) &&
	    !(rc = docker__url(d, &r, 1, "/containers/%s%s", id, suffix))) {
		rc = docker__do(d, &r, e);
		if (rc && ok_status && r.status == ok_status) {
			kerr_clear(e);
			rc = 0;
		}
	}
	docker__req_release(&r);
	return rc;
}

int docker_start(const struct docker *d, const char *id, struct kerr *e)
{
	/* 304: already started. */
	return docker__simple(d, "POST", "start container", id, "/start", 304, e);
}

int docker_kill(const struct docker *d, const char *id, struct kerr *e)
{
	/* 409: not running, which is what we wanted. */
	return docker__simple(d, "POST", "kill container", id, "/kill?signal=KILL", 409, e);
}

int docker_remove(const struct docker *d, const char *id, struct kerr *e)
{
	return docker__simple(d, "DELETE", "remove container", id, "?force=1&v=1", 404, e);
}

int docker_logs(const struct docker *d, const char *id, int follow, docker_frame_fn on_frame,
		docker_tick_fn tick, void *ctx, struct kerr *e)
{
	struct docker__req r;
	struct dockerlog mux;
	int rc;

	docker__req_init(&r, "GET", "logs");
	dockerlog_init(&mux, DOCKERLOG_FRAME_MAX_DEFAULT);
	r.mux = &mux;
	r.on_frame = on_frame;
	r.tick = tick;
	r.ctx = ctx;
	r.streaming = 1;
	if (!(rc = docker__check_ref("container id", id, e)) &&
	    !(rc = docker__url(d, &r, 1, "/containers/%s/logs?stdout=1&stderr=1%s", id,
			       follow ? "&follow=1" : "")) &&
	    !(rc = docker__do(d, &r, e)) && (rc = dockerlog_finish(&mux, e)))
		kerr_wrap(e, "docker: logs: ");
	dockerlog_release(&mux);
	docker__req_release(&r);
	return rc;
}

int docker_wait(const struct docker *d, const char *id, docker_tick_fn tick, void *ctx,
		long *status, struct kerr *e)
{
	struct docker__req r;
	cJSON *j = NULL;
	const cJSON *err = NULL;
	int64_t code = -1;
	int rc;

	*status = -1;
	docker__req_init(&r, "POST", "wait");
	r.tick = tick;
	r.ctx = ctx;
	r.streaming = 1;
	if ((rc = docker__check_ref("container id", id, e)) ||
	    (rc = docker__url(d, &r, 1, "/containers/%s/wait?condition=not-running", id)) ||
	    (rc = docker__do(d, &r, e)) || (rc = docker__json(&r, &j, e)))
		goto out;
	if ((rc = json_get_int_req(j, "StatusCode", -1, INT32_MAX, &code, e))) {
		kerr_wrap(e, "docker: wait: ");
		goto out;
	}
	/* {"Error": {"Message": "..."}} when waiting itself failed. */
	err = cJSON_GetObjectItemCaseSensitive(j, "Error");
	if (cJSON_IsObject(err)) {
		const char *m = NULL;
		if (!json_get_str(err, "Message", &m, NULL) && m && *m) {
			rc = kerr_set(e, KERR_IO, "docker: wait: %s", m);
			goto out;
		}
	}
	*status = (long)code;
out:
	cJSON_Delete(j);
	docker__req_release(&r);
	return rc;
}

int docker_inspect(const struct docker *d, const char *id, struct docker_state *st,
		   struct kerr *e)
{
	struct docker__req r;
	cJSON *j = NULL;
	const cJSON *s = NULL;
	const char *status = NULL, *error = NULL, *image = NULL;
	int64_t code = -1;
	int rc;

	memset(st, 0, sizeof(*st));
	st->exit_code = -1;
	docker__req_init(&r, "GET", "inspect container");
	if ((rc = docker__check_ref("container id", id, e)) ||
	    (rc = docker__url(d, &r, 1, "/containers/%s/json", id)) ||
	    (rc = docker__do(d, &r, e)) || (rc = docker__json(&r, &j, e)))
		goto out;
	if ((rc = json_get_object(j, "State", &s, e)) || !s ||
	    (rc = json_get_str(s, "Status", &status, e)) ||
	    (rc = json_get_bool(s, "Running", &st->running, e)) ||
	    (rc = json_get_bool(s, "OOMKilled", &st->oom_killed, e)) ||
	    (rc = json_get_int(s, "ExitCode", INT32_MIN, INT32_MAX, &code, e)) ||
	    (rc = json_get_str(s, "Error", &error, e))) {
		if (!rc)
			rc = kerr_set(e, KERR_PROTO, "no State");
		kerr_wrap(e, "docker: inspect container: ");
		goto out;
	}
	st->exit_code = (int)code;
	/* Not the reference it was created with: the id, which a re-tag does not move. */
	if (!json_get_str(j, "Image", &image, NULL) && image && strlen(image) < sizeof(st->image))
		snprintf(st->image, sizeof(st->image), "%s", image);
	snprintf(st->status, sizeof(st->status), "%s", status ? status : "");
	snprintf(st->error, sizeof(st->error), "%s", error ? error : "");
out:
	cJSON_Delete(j);
	docker__req_release(&r);
	return rc;
}

int docker_volume_create(const struct docker *d, const char *name, const cJSON *opts,
			 const cJSON *labels, struct kerr *e)
{
	struct docker__req r;
	cJSON *body = cJSON_CreateObject();
	char *text = NULL;
	int rc;

	docker__req_init(&r, "POST", "create volume");
	if ((rc = docker__check_ref("volume name", name, e)) ||
	    (rc = docker__url(d, &r, 1, "/volumes/create")))
		goto out;
	cJSON_AddStringToObject(body, "Name", name);
	cJSON_AddStringToObject(body, "Driver", "local");
	if (opts)
		cJSON_AddItemToObject(body, "DriverOpts", cJSON_Duplicate(opts, 1));
	if (labels)
		cJSON_AddItemToObject(body, "Labels", cJSON_Duplicate(labels, 1));
	if (!(text = cJSON_PrintUnformatted(body))) {
		rc = kerr_set(e, KERR_INTERNAL, "docker: create volume: could not print the request");
		goto out;
	}
	r.json = text;
	rc = docker__do(d, &r, e);
out:
	free(text);
	cJSON_Delete(body);
	docker__req_release(&r);
	return rc;
}

int docker_volume_remove(const struct docker *d, const char *name, struct kerr *e)
{
	struct docker__req r;
	int rc;

	docker__req_init(&r, "DELETE", "remove volume");
	if (!(rc = docker__check_ref("volume name", name, e)) &&
	    !(rc = docker__url(d, &r, 1, "/volumes/%s?force=1", name))) {
		rc = docker__do(d, &r, e);
		if (rc && r.status == 404) {
			kerr_clear(e);
			rc = 0;
		}
	}
	docker__req_release(&r);
	return rc;
}

/* GET path?filters={"label":[label]}; collect key of each element of the array at arr_key. */
static int docker__list(const struct docker *d, const char *what, const char *path,
			const char *arr_key, const char *key, const char *label, char ***out,
			size_t *n, struct kerr *e)
{
	struct docker__req r;
	cJSON *j = NULL, *filters = cJSON_CreateObject(), *labels;
	const cJSON *arr, *it;
	char *ftext = NULL, *esc = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	docker__req_init(&r, "GET", what);
	labels = cJSON_AddArrayToObject(filters, "label");
	cJSON_AddItemToArray(labels, cJSON_CreateString(label));
	if (!(ftext = cJSON_PrintUnformatted(filters)) || !(esc = curl_easy_escape(NULL, ftext, 0))) {
		rc = kerr_set(e, KERR_INTERNAL, "docker: %s: could not encode the filter", what);
		goto out;
	}
	if ((rc = docker__url(d, &r, 1, "%s%cfilters=%s", path, strchr(path, '?') ? '&' : '?', esc)) ||
	    (rc = docker__do(d, &r, e)))
		goto out;
	if (json_parse(r.body.ptr, r.body.len, &j, e)) {
		rc = kerr_wrap(e, "docker: %s: bad answer: ", what);
		goto out;
	}
	arr = arr_key ? cJSON_GetObjectItemCaseSensitive(j, arr_key) : j;
	if (!cJSON_IsArray(arr))
		goto out; /* Docker says "Volumes": null when there are none */
	cJSON_ArrayForEach(it, arr) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
		if (!cJSON_IsString(v))
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrdup(v->valuestring);
	}
out:
	curl_free(esc);
	free(ftext);
	cJSON_Delete(filters);
	cJSON_Delete(j);
	docker__req_release(&r);
	return rc;
}

int docker_list_containers(const struct docker *d, const char *label, char ***out, size_t *n,
			   struct kerr *e)
{
	return docker__list(d, "list containers", "/containers/json?all=1", NULL, "Id", label, out,
			    n, e);
}

int docker_list_volumes(const struct docker *d, const char *label, char ***out, size_t *n,
			struct kerr *e)
{
	return docker__list(d, "list volumes", "/volumes", "Volumes", "Name", label, out, n, e);
}

/* An image reference (name[:tag], or an id) as a path segment: escaped. */
static int docker__image_url(const struct docker *d, struct docker__req *r, const char *ref,
			     const char *suffix, struct kerr *e)
{
	char *esc;
	int rc;

	if (!*ref || strlen(ref) >= 256 || strspn(ref, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:@") != strlen(ref))
		return kerr_set(e, KERR_INVAL, "docker: bad image reference '%s'", ref);
	if (!(esc = curl_easy_escape(NULL, ref, 0)))
		return kerr_set(e, KERR_INTERNAL, "docker: could not escape '%s'", ref);
	rc = docker__url(d, r, 1, "/images/%s%s", esc, suffix);
	curl_free(esc);
	if (rc)
		return kerr_set(e, rc, "docker: image reference too long: '%s'", ref);
	return 0;
}

int docker_image_id(const struct docker *d, const char *ref, char id[DOCKER_ID_MAX],
		    struct kerr *e)
{
	struct docker__req r;
	cJSON *j = NULL;
	const char *got = NULL;
	int rc;

	id[0] = '\0';
	docker__req_init(&r, "GET", "inspect image");
	if ((rc = docker__image_url(d, &r, ref, "/json", e)) || (rc = docker__do(d, &r, e)) ||
	    (rc = docker__json(&r, &j, e)))
		goto out;
	if ((rc = json_get_str_req(j, "Id", &got, e))) {
		kerr_wrap(e, "docker: inspect image: ");
		goto out;
	}
	if (strlen(got) >= DOCKER_ID_MAX) {
		rc = kerr_set(e, KERR_PROTO, "docker: inspect image: id too long");
		goto out;
	}
	snprintf(id, DOCKER_ID_MAX, "%s", got);
out:
	cJSON_Delete(j);
	docker__req_release(&r);
	return rc;
}

int docker_image_inspect(const struct docker *d, const char *ref, const char *label,
			 struct docker_image *out, struct kerr *e)
{
	struct docker__req r;
	cJSON *j = NULL;
	const cJSON *config = NULL, *labels = NULL, *v;
	const char *id = NULL, *os = NULL, *arch = NULL, *variant = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	docker__req_init(&r, "GET", "inspect image");
	if ((rc = docker__image_url(d, &r, ref, "/json", e)) || (rc = docker__do(d, &r, e)) ||
	    (rc = docker__json(&r, &j, e)))
		goto out;
	if ((rc = json_get_str_req(j, "Id", &id, e)) || (rc = json_get_str(j, "Os", &os, e)) ||
	    (rc = json_get_str(j, "Architecture", &arch, e)) ||
	    (rc = json_get_str(j, "Variant", &variant, e)) ||
	    (rc = json_get_object(j, "Config", &config, e)) ||
	    (config && (rc = json_get_object(config, "Labels", &labels, e)))) {
		kerr_wrap(e, "docker: inspect image: ");
		goto out;
	}
	if (strlen(id) >= sizeof(out->id)) {
		rc = kerr_set(e, KERR_PROTO, "docker: inspect image: id too long");
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->os, sizeof(out->os), "%s", os ? os : "");
	snprintf(out->architecture, sizeof(out->architecture), "%s", arch ? arch : "");
	snprintf(out->variant, sizeof(out->variant), "%s", variant ? variant : "");
	if (label && labels && (v = cJSON_GetObjectItemCaseSensitive(labels, label)) &&
	    cJSON_IsString(v))
		snprintf(out->label, sizeof(out->label), "%s", v->valuestring);
out:
	cJSON_Delete(j);
	docker__req_release(&r);
	return rc;
}

int docker_image_platform(const struct docker *d, const char *image, char out[64],
			  struct kerr *e)
{
	struct docker_image img;
	int rc;

	out[0] = '\0';
	if ((rc = docker_image_inspect(d, image, NULL, &img, e)))
		return rc;
	if (!img.architecture[0] || !strcmp(img.architecture, d->arch))
		return 0;
	snprintf(out, 64, "%s/%s%s%s", img.os[0] ? img.os : "linux", img.architecture,
		 img.variant[0] ? "/" : "", img.variant);
	return 0;
}

int docker_commit(const struct docker *d, const char *container, const char *repo,
		  const char *tag, const cJSON *config, char id[DOCKER_ID_MAX], struct kerr *e)
{
	struct docker__req r;
	char *erepo = NULL, *etag = NULL;
	int rc;

	id[0] = '\0';
	docker__req_init(&r, "POST", "commit container");
	r.timeout_s = 1800; /* committing a big layer takes a while */
	if ((rc = docker__check_ref("container id", container, e)))
		goto out;
	if (!(erepo = curl_easy_escape(NULL, repo, 0)) || !(etag = curl_easy_escape(NULL, tag, 0))) {
		rc = kerr_set(e, KERR_INTERNAL, "docker: commit: could not escape the name");
		goto out;
	}
	if ((rc = docker__url(d, &r, 1, "/commit?container=%s&repo=%s&tag=%s&pause=0", container,
			      erepo, etag))) {
		rc = kerr_set(e, rc, "docker: commit: name too long");
		goto out;
	}
	rc = docker__post_for_id(d, &r, config, "commit", id, e);
out:
	curl_free(erepo);
	curl_free(etag);
	docker__req_release(&r);
	return rc;
}

int docker_image_remove(const struct docker *d, const char *ref, struct kerr *e)
{
	struct docker__req r;
	int rc;

	docker__req_init(&r, "DELETE", "remove image");
	if (!(rc = docker__image_url(d, &r, ref, "", e))) {
		rc = docker__do(d, &r, e);
		if (rc && r.status == 404) {
			kerr_clear(e);
			rc = 0;
		}
	}
	docker__req_release(&r);
	return rc;
}

int docker_list_images(const struct docker *d, const char *label, char ***out, size_t *n,
		       struct kerr *e)
{
	return docker__list(d, "list images", "/images/json", NULL, "Id", label, out, n, e);
}
