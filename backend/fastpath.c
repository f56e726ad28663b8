/* fastpath: hot index requests ahead of lws's HTTP parser (contract in fastpath.h). */
#include "backend/fastpath.h"

#include "backend/index.h"
#include "backend/metrics.h"
#include "backend/server.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Input kept per connection: one request's headers and what was pipelined behind them. */
#define FP_IN_CAP (2 * FASTPATH_MAX_HEAD)
/* Connections held here at most; past that, new ones go straight to lws. */
#define FP_MAX_CONNS 4096
/* Connections accepted per listener wakeup, so a burst does not starve the rest. */
#define FP_ACCEPT_BATCH 64
#define FP_ROUTE "simple_project"

/* First member of both wsi opaque pointers: which one a callback got. */
enum fp_kind { FP_LISTENER = 1, FP_CONN };

/* One connection the fast path holds (until it is closed or handed to lws). */
struct fp_conn {
	enum fp_kind kind;
	struct fastpath *fp;
	struct lws *wsi;       /* the raw-file wsi that owns fd */
	int fd;
	int consuming;         /* reads take the bytes (else the first request is only peeked at) */
	char *in;              /* what was read and not yet answered (a buffer of its own), or NULL */
	size_t in_len, in_cap; /* in_cap: the size of that buffer, at most FP_IN_CAP */
	char *out;             /* what the socket did not take of the last response */
	size_t out_len, out_off;
	lws_usec_t last;       /* last activity, for the idle sweep */
	int in_writeable;      /* see fp__want_write */
	lws_sorted_usec_list_t wsul;
	struct fp_conn *prev, *next;
};

struct fastpath {
	enum fp_kind kind;
	struct server *srv;
	struct lws *lwsi;       /* the listening socket's raw-file wsi */
	struct fp_conn *conns;
	size_t nconns;
	lws_usec_t timeout_us, keepalive_us;
	lws_sorted_usec_list_t sweep;
	/* Where reads land first (one thread: one buffer for all connections). */
	char peek[FP_IN_CAP];
};

/* Is a[0..na) b, ignoring case? */
static int fp__lower_eq(const char *a, size_t na, const char *b)
{
	return strlen(b) == na && !strncasecmp(a, b, na);
}

/*
 * Could a buffer starting with these n bytes be a request the fast path
 * answers? Only its first line's start is checked.
 */
static int fp__candidate(const char *p, size_t n)
{
	static const char get[] = "GET /simple/", head[] = "HEAD /simple/";

	if (n && p[0] == 'G')
		return !memcmp(p, get, n < sizeof(get) - 1 ? n : sizeof(get) - 1);
	if (n && p[0] == 'H')
		return !memcmp(p, head, n < sizeof(head) - 1 ? n : sizeof(head) - 1);
	return n == 0;
}

/* The first "\r\n" in [p, end), or NULL (memchr: glibc's memmem is slow for tiny needles). */
static const char *fp__crlf(const char *p, const char *end)
{
	while (p < end && (p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (p + 1 < end && p[1] == '\n')
			return p;
		p++;
	}
	return NULL;
}

/* The first "\r\n\r\n" in [p, end), or NULL. */
static const char *fp__blank_line(const char *p, const char *end)
{
	for (const char *q = fp__crlf(p, end); q; q = fp__crlf(q + 2, end))
		if (q + 3 < end && q[2] == '\r' && q[3] == '\n')
			return q;
	return NULL;
}

/* Does a header announce a body (Content-Length over 0, any Transfer-Encoding)? */
static int fp__body_header(const char *name, size_t nl, const char *v, size_t vl)
{
	if (fp__lower_eq(name, nl, "transfer-encoding"))
		return 1;
	if (fp__lower_eq(name, nl, "content-length")) {
		for (size_t i = 0; i < vl; i++)
			if (v[i] != '0')
				return 1;
	}
	return 0;
}

enum fastpath_parse fastpath_parse(const char *p, size_t n, struct fastpath_req *r)
{
	const char *end, *line, *eol, *name, *s;
	size_t nl;
	int serve = 1, accepts = 0;

	r->len = 0;
	r->head = r->has_body = 0;
	r->name[0] = r->accept[0] = '\0';
	end = fp__blank_line(p, p + n);
	if (!end)
		return n < FASTPATH_MAX_HEAD ? FASTPATH_MORE : FASTPATH_OTHER;
	r->len = (size_t)(end - p) + 4;
	/* CR and LF only in pairs, no other control bytes: else lws may read it otherwise. */
	for (s = p; s < end; s++) {
		if ((unsigned char)*s >= 0x20 || *s == '\t')
			continue;
		if (*s == '\r' && s[1] == '\n') {
			s++;
			continue;
		}
		serve = 0;
		break;
	}
	eol = fp__crlf(p, p + r->len);
	/* Request line: exactly "GET /simple/NAME/ HTTP/1.1" (or HEAD). */
	if (!strncmp(p, "GET /simple/", 12)) {
		name = p + 12;
	} else if (!strncmp(p, "HEAD /simple/", 13)) {
		name = p + 13;
		r->head = 1;
	} else {
		serve = 0;
		name = NULL;
	}
	if (serve) {
		/* A normalized name: [a-z0-9] runs joined by single '-'; others go to lws. */
		for (s = name; s < eol && ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
					   (*s == '-' && s > name && s[-1] != '-'));
		     s++)
			;
		nl = (size_t)(s - name);
		if (!nl || nl >= sizeof(r->name) || name[nl - 1] == '-' ||
		    (size_t)(eol - s) != strlen("/ HTTP/1.1") || memcmp(s, "/ HTTP/1.1", 10))
			serve = 0;
		else {
			memcpy(r->name, name, nl);
			r->name[nl] = '\0';
		}
	}
	/* Header lines: "Name: value". */
	for (line = eol + 2; line < end + 2; line = eol + 2) {
		const char *colon, *v, *ve;

		eol = fp__crlf(line, end + 2);
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line || *line == ' ' || *line == '\t') {
			/* Malformed or folded: lws decides what to say. */
			serve = 0;
			continue;
		}
		nl = (size_t)(colon - line);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if (fp__body_header(line, nl, v, (size_t)(ve - v))) {
			r->has_body = 1;
			serve = 0;
		} else if (fp__lower_eq(line, nl, "accept")) {
			if (accepts++ || (size_t)(ve - v) >= sizeof(r->accept))
				serve = 0;
			else {
				memcpy(r->accept, v, (size_t)(ve - v));
				r->accept[ve - v] = '\0';
			}
		} else if (fp__lower_eq(line, nl, "connection")) {
			/* Keep-alive is the HTTP/1.1 default; "close" and upgrades go to lws. */
			if (!fp__lower_eq(v, (size_t)(ve - v), "keep-alive"))
				serve = 0;
		} else if (fp__lower_eq(line, nl, "content-length") ||
			   fp__lower_eq(line, nl, "upgrade") || fp__lower_eq(line, nl, "expect") ||
			   fp__lower_eq(line, nl, "http2-settings") || fp__lower_eq(line, nl, "range") ||
			   fp__lower_eq(line, nl, "if-range") || !strncasecmp(line, "if-", 3)) {
			/* Conditional, ranged, upgrading or expecting: the general path's job. */
			serve = 0;
		}
	}
	return serve ? FASTPATH_SERVE : FASTPATH_OTHER;
}

static void fp__writable_cb(lws_sorted_usec_list_t *sul)
{
	struct fp_conn *c = lws_container_of(sul, struct fp_conn, wsul);

	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

/*
 * Ask for a WRITEABLE callback. The raw-file role clears POLLOUT right after
 * the writeable callback returns, so a request made inside it would be lost:
 * there it goes through a zero-delay timer (as in pgpool).
 */
static void fp__want_write(struct fp_conn *c)
{
	if (c->in_writeable)
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->wsul, fp__writable_cb, 1);
	else
		lws_callback_on_writable(c->wsi);
}

/*
 * Give the connection to lws: a duplicate of the socket is adopted as an HTTP
 * connection (with the unanswered bytes read so far, if bytes), then the caller
 * returns -1 so lws closes our raw wsi and its descriptor (close only, no
 * shutdown: the socket lives on in the duplicate). Always returns -1.
 */
static int fp__handover(struct fp_conn *c, int bytes)
{
	struct server *srv = c->fp->srv;
	int nfd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);

	if (nfd < 0)
		return -1;
	/* On failure lws closes nfd itself. */
	if (bytes && c->in_len)
		lws_adopt_socket_vhost_readbuf(srv->vhost, nfd, c->in, c->in_len);
	else
		lws_adopt_socket_vhost(srv->vhost, nfd);
	c->in_len = 0;
	return -1;
}

/* Send a response; what the socket does not take is copied and sent on WRITEABLE. */
static int fp__send(struct fp_conn *c, const struct index_prebuilt *pb, int head)
{
	size_t len = head ? pb->head_len : pb->len;
	ssize_t n;

	if (!head && pb->fd >= 0) {
		off_t off = (off_t)pb->off;
		n = sendfile(c->fd, pb->fd, &off, len);
	} else {
		n = send(c->fd, pb->bytes, len, MSG_NOSIGNAL);
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		n = 0;
	}
	if ((size_t)n < len) {
		/* The page may be dropped from the cache before the socket drains: copy. */
		c->out_len = len - (size_t)n;
		c->out_off = 0;
		c->out = xmalloc(c->out_len);
		memcpy(c->out, pb->bytes + n, c->out_len);
		lws_rx_flow_control(c->wsi, 0);
		fp__want_write(c);
	}
	return 0;
}

/* Answer every complete request in c->in, in order. 0, or -1 to close (or handed over). */
static int fp__process(struct fp_conn *c)
{
	struct server *srv = c->fp->srv;
	struct fastpath_req r;

	while (c->in_len && !c->out_len) {
		struct index_prebuilt pb;
		lws_usec_t t0;

		switch (fastpath_parse(c->in, c->in_len, &r)) {
		case FASTPATH_MORE:
			/* Headers still arriving; for a request lws will get, too. */
			return 0;
		case FASTPATH_OTHER:
			/*
			 * lws cannot take a body from bytes it did not read (http.c):
			 * close, as a server may close a keep-alive connection.
			 */
			if (r.has_body || !r.len)
				return -1;
			return fp__handover(c, 1);
		case FASTPATH_SERVE:
			break;
		}
		t0 = lws_now_usecs();
		if (!index_prebuilt_get(srv, r.name, r.accept, &pb))
			return fp__handover(c, 1);
		if (fp__send(c, &pb, r.head))
			return -1;
		metrics_observe_request(srv->metrics, FP_ROUTE, 200, lws_now_usecs() - t0);
		metrics_add(srv->metrics, "kiln_http_fastpath_total",
			    "Index requests answered by the fast path, ahead of libwebsockets.", 1);
		c->in_len -= r.len;
		memmove(c->in, c->in + r.len, c->in_len);
	}
	if (!c->in_len && c->in && c->in != c->fp->peek) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return 0;
}

/* The connection is readable. 0, or -1 to close it (or it was handed over). */
static int fp__readable(struct fp_conn *c)
{
	char *scratch = c->fp->peek;
	ssize_t n;
	int r;

	c->last = lws_now_usecs();
	if (!c->consuming) {
		/*
		 * Its first request: peek, so one the fast path does not answer
		 * reaches lws untouched, read from the socket by lws itself.
		 */
		struct fastpath_req req;
		enum fastpath_parse kind;

		n = recv(c->fd, scratch, FP_IN_CAP, MSG_PEEK);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		kind = fastpath_parse(scratch, (size_t)n, &req);
		if (kind == FASTPATH_OTHER || (kind == FASTPATH_MORE && !fp__candidate(scratch, (size_t)n)))
			return fp__handover(c, 0);
		/* A request for us, whole or in part: from now on reads take the bytes. */
		c->consuming = 1;
	}
	if (c->in_len) {
		/* Part of a request was left over: add to it, the buffer doubling as needed. */
		if (c->in_len == FP_IN_CAP)
			return -1; /* cannot be a request's headers: fastpath_parse said OTHER */
		if (c->in_len == c->in_cap) {
			c->in_cap = c->in_cap * 2 > FP_IN_CAP ? FP_IN_CAP : c->in_cap * 2;
			c->in = xrealloc(c->in, c->in_cap);
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->in_len += (size_t)n;
		return fp__process(c);
	}
	/*
	 * Nothing left over (the usual case): read into the shared buffer and keep
	 * only what remains unanswered, so an idle keep-alive connection holds no
	 * buffer of its own.
	 */
	n = recv(c->fd, scratch, FP_IN_CAP, 0);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->in = scratch;
	c->in_len = (size_t)n;
	r = fp__process(c);
	if (r == 0 && c->in_len) {
		/* Sized to what is left (a slow client's first bytes are few), grown on demand. */
		c->in_cap = c->in_len < 1024 ? 1024 : c->in_len;
		c->in = xmalloc(c->in_cap);
		memcpy(c->in, scratch, c->in_len);
	} else {
		c->in = NULL;
		if (r)
			c->in_len = 0;
	}
	return r;
}

/* The socket takes more of a response. 0, or -1 to close. */
static int fp__writeable(struct fp_conn *c)
{
	ssize_t n;

	if (!c->out_len)
		return 0;
	n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		n = 0;
	}
	c->out_off += (size_t)n;
	c->last = lws_now_usecs();
	if (c->out_off < c->out_len) {
		fp__want_write(c);
		return 0;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	lws_rx_flow_control(c->wsi, 1);
	return fp__process(c);
}

static void fp__unlink(struct fp_conn *c)
{
	struct fastpath *fp = c->fp;

	if (c->prev)
		c->prev->next = c->next;
	else if (fp->conns == c)
		fp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	fp->nconns--;
}

static void fp__conn_free(struct fp_conn *c)
{
	lws_sul_cancel(&c->wsul);
	if (c->fp)
		fp__unlink(c);
	free(c->in);
	free(c->out);
	free(c);
}

/* Accept what the listener has, up to a batch. */
static void fp__accept(struct fastpath *fp, int lfd)
{
	for (int i = 0; i < FP_ACCEPT_BATCH; i++) {
		lws_sock_file_fd_type d;
		struct fp_conn *c;
		int one = 1;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept failed", "error=\"%s\"", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fp->nconns >= FP_MAX_CONNS) {
			lws_adopt_socket_vhost(fp->srv->vhost, fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->kind = FP_CONN;
		c->fp = fp;
		c->fd = fd;
		c->last = lws_now_usecs();
		d.filefd = fd;
		c->wsi = lws_adopt_descriptor_vhost(fp->srv->vhost, LWS_ADOPT_RAW_FILE_DESC, d,
						    FASTPATH_PROTOCOL_NAME, NULL);
		if (!c->wsi) {
			close(fd);
			free(c);
			continue;
		}
		lws_set_opaque_user_data(c->wsi, c);
		c->next = fp->conns;
		if (fp->conns)
			fp->conns->prev = c;
		fp->conns = c;
		fp->nconns++;
	}
}

/* Once a second: close connections idle past keep-alive, or stuck inside a request. */
static void fp__sweep(lws_sorted_usec_list_t *sul)
{
	struct fastpath *fp = lws_container_of(sul, struct fastpath, sweep);
	lws_usec_t now = lws_now_usecs();

	for (struct fp_conn *c = fp->conns; c; c = c->next) {
		lws_usec_t limit = c->in_len || c->out_len ? fp->timeout_us : fp->keepalive_us;
		if (c->wsi && now - c->last > limit) {
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
			c->last = now; /* asked once */
		}
	}
	lws_sul_schedule(fp->srv->context, 0, &fp->sweep, fp__sweep, LWS_US_PER_SEC);
}

int fastpath_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			  void *in, size_t len)
{
	enum fp_kind *kind = lws_get_opaque_user_data(wsi);
	struct fp_conn *c = kind && *kind == FP_CONN ? (struct fp_conn *)kind : NULL;
	int r;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (kind && *kind == FP_LISTENER) {
			fp__accept((struct fastpath *)kind, lws_get_socket_fd(wsi));
			return 0;
		}
		return c ? fp__readable(c) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!c)
			return 0;
		c->in_writeable = 1;
		r = fp__writeable(c);
		c->in_writeable = 0;
		return r;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (c) {
			lws_set_opaque_user_data(wsi, NULL);
			fp__conn_free(c);
		} else if (kind && *kind == FP_LISTENER) {
			((struct fastpath *)kind)->lwsi = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

int fastpath_listen(struct server *srv, const char *addr, int port, int timeout_secs,
		    int keepalive_secs, struct fastpath **out)
{
	struct sockaddr_in sa;
	lws_sock_file_fd_type d;
	struct fastpath *fp;
	int one = 1, fd, saved;

	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (*addr && inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* As lws's LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE: several backends may share the port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, SOMAXCONN))
		goto fail;
	fp = xcalloc(1, sizeof(*fp));
	fp->kind = FP_LISTENER;
	fp->srv = srv;
	fp->timeout_us = (lws_usec_t)timeout_secs * LWS_US_PER_SEC;
	fp->keepalive_us = (lws_usec_t)keepalive_secs * LWS_US_PER_SEC;
	d.filefd = fd;
	fp->lwsi = lws_adopt_descriptor_vhost(srv->vhost, LWS_ADOPT_RAW_FILE_DESC, d,
					      FASTPATH_PROTOCOL_NAME, NULL);
	if (!fp->lwsi) {
		free(fp);
		errno = ENOMEM;
		goto fail;
	}
	lws_set_opaque_user_data(fp->lwsi, fp);
	lws_sul_schedule(srv->context, 0, &fp->sweep, fp__sweep, LWS_US_PER_SEC);
	*out = fp;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

void fastpath_free(struct fastpath *fp)
{
	if (!fp)
		return;
	lws_sul_cancel(&fp->sweep);
	/* Sockets still open are lws's to close with its context (RAW_CLOSE_FILE frees them). */
	for (struct fp_conn *c = fp->conns, *next; c; c = next) {
		next = c->next;
		c->fp = NULL;
		c->prev = c->next = NULL;
	}
	if (fp->lwsi)
		lws_set_opaque_user_data(fp->lwsi, NULL);
	free(fp);
}
