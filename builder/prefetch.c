/*
 * prefetch: build requirements fetched on the host (contract in prefetch.h).
 * The one subprocess runner here, prefetch__spawn, is what both steps use: argv
 * arrays through posix_spawn, a poll loop that feeds stdin, collects stdout and
 * streams both output pipes to the log, and kills the process group on timeout
 * or cancel.
 */
#include "builder/prefetch.h"

#include "builder/failclass.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/sha256.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <archive.h>
#include <dirent.h>
#include <archive_entry.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PREFETCH__TIMEOUT_S 600
#define PREFETCH__STDOUT_MAX (1u << 20)
#define PREFETCH__TAIL_MAX (64u << 10)
#define PREFETCH__STREAM_NOTE 3

/*
 * Reads pyproject.toml from stdin (with the argument "list": a JSON list of
 * requirement strings); prints {"default": bool, "requires": [...]}.
 * Exit 3 with a one-line reason on stderr for anything malformed.
 */
static const char prefetch__script[] =
	"import json, sys, tomllib\n"
	"def bad(msg):\n"
	"    print('pyproject.toml: ' + msg, file=sys.stderr)\n"
	"    sys.exit(3)\n"
	"try:\n"
	"    raw = sys.stdin.buffer.read().decode('utf-8')\n"
	"    if sys.argv[1:] == ['list']:\n"
	"        data = {'build-system': {'requires': json.loads(raw)}}\n"
	"    else:\n"
	"        data = tomllib.loads(raw)\n"
	"except (UnicodeDecodeError, ValueError) as e:\n"
	"    bad(str(e))\n"
	"bs = data.get('build-system')\n"
	"if bs is None:\n"
	"    print(json.dumps({'default': True, 'requires': ['setuptools>=40.8.0', 'wheel']}))\n"
	"    sys.exit(0)\n"
	"if not isinstance(bs, dict):\n"
	"    bad('[build-system] is not a table')\n"
	"req = bs.get('requires')\n"
	"if not isinstance(req, list) or not all(isinstance(r, str) for r in req):\n"
	"    bad('[build-system] requires must be a list of strings')\n"
	"try:\n"
	"    from pip._vendor.packaging.requirements import Requirement\n"
	"except ImportError:\n"
	"    Requirement = None\n"
	"for r in req:\n"
	"    if Requirement is not None:\n"
	"        try:\n"
	"            q = Requirement(r)\n"
	"        except Exception as e:\n"
	"            bad('bad requirement %r: %s' % (r, e))\n"
	"        if q.url:\n"
	"            bad('direct URL requirements are not supported: %r' % r)\n"
	"print(json.dumps({'default': False, 'requires': [r.strip() for r in req]}))\n";

void prefetch_reqs_release(struct prefetch_reqs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void prefetch__log(const struct prefetch_opts *o, int stream, const char *p, size_t n)
{
	if (o->on_log && n)
		o->on_log(o->log_ctx, stream, p, n);
}

static void prefetch__note(const struct prefetch_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void prefetch__note(const struct prefetch_opts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	prefetch__log(o, PREFETCH__STREAM_NOTE, line, (size_t)n);
}

/* --- the subprocess runner ------------------------------------------------- */

struct prefetch__proc {
	const char *in;        /* stdin bytes, or NULL for /dev/null */
	size_t in_len;
	struct buf *out;       /* stdout captured here, or NULL: stdout goes to the log */
	struct buf tail;       /* the last output (both streams), for classifying errors */
	int status;            /* wait status */
};

static void prefetch__tail(struct prefetch__proc *p, const char *s, size_t n)
{
	if (n >= PREFETCH__TAIL_MAX) {
		buf_reset(&p->tail);
		s += n - PREFETCH__TAIL_MAX / 2;
		n = PREFETCH__TAIL_MAX / 2;
	}
	if (p->tail.len + n > PREFETCH__TAIL_MAX)
		buf_consume(&p->tail, p->tail.len + n - PREFETCH__TAIL_MAX);
	buf_append(&p->tail, s, n);
}

/*
 * Run argv (argv[0] looked up in PATH) in cwd. 0 once it has exited (see
 * p->status), or KERR_TIMEOUT / KERR_CONFLICT (cancelled) / KERR_IO / KERR_TOOBIG.
 */
static int prefetch__spawn(const struct prefetch_opts *o, char *const argv[], const char *cwd,
			   struct prefetch__proc *p, struct kerr *e)
{
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defs;
	uint64_t deadline = clock_now_ms() +
		(uint64_t)(o->timeout_s ? o->timeout_s : PREFETCH__TIMEOUT_S) * 1000u;
	size_t in_off = 0;
	uint64_t killed_at = 0;
	pid_t pid = -1;
	int rc = 0, err, killed = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	/* stdin is a socket so that a child that stops reading cannot SIGPIPE us (send). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) || pipe2(outp, O_CLOEXEC) ||
	    pipe2(errp, O_CLOEXEC)) {
		rc = kerr_set(e, KERR_IO, "could not create pipes: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	/* Its own process group (so a kill reaches its children), default signals. */
	sigemptyset(&none);
	sigemptyset(&defs);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &defs);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	if ((err = posix_spawnp(&pid, argv[0], &fa, &at, argv, o->envp ? o->envp : environ))) {
		pid = -1;
		rc = kerr_set(e, KERR_IO, "could not run '%s': %s", argv[0], strerror(err));
		goto out;
	}
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	inp[0] = outp[1] = errp[1] = -1;
	if (!p->in || !p->in_len) {
		close(inp[1]);
		inp[1] = -1;
	} else {
		shutdown(inp[1], SHUT_RD);
	}

	while (outp[0] >= 0 || errp[0] >= 0) {
		struct pollfd pf[3];
		nfds_t n = 0;
		int ii = -1, io = -1, ie = -1;
		char chunk[16 * 1024];

		if (killed && !killed_at)
			killed_at = clock_now_ms();
		/* Killed, but something that left the group still holds a pipe: stop reading. */
		if (killed_at && clock_now_ms() - killed_at > 5000)
			break;
		if (!killed && stopflag_up(o->cancel)) {
			rc = kerr_set(e, KERR_CONFLICT, "'%s' cancelled", argv[0]);
			killed = 1;
			kill(-pid, SIGKILL);
		} else if (!killed && clock_now_ms() >= deadline) {
			rc = kerr_set(e, KERR_TIMEOUT, "'%s' timed out after %u s", argv[0],
				      o->timeout_s ? o->timeout_s : PREFETCH__TIMEOUT_S);
			killed = 1;
			kill(-pid, SIGKILL);
		}
		if (inp[1] >= 0)
			pf[ii = (int)n++] = (struct pollfd){ inp[1], POLLOUT, 0 };
		if (outp[0] >= 0)
			pf[io = (int)n++] = (struct pollfd){ outp[0], POLLIN, 0 };
		if (errp[0] >= 0)
			pf[ie = (int)n++] = (struct pollfd){ errp[0], POLLIN, 0 };
		if (poll(pf, n, 250) < 0) {
			if (errno == EINTR)
				continue;
			if (!rc)
				rc = kerr_set(e, KERR_IO, "poll: %s", strerror(errno));
			kill(-pid, SIGKILL);
			killed = 1;
			break;
		}
		if (ii >= 0 && pf[ii].revents) {
			ssize_t w = send(inp[1], p->in + in_off, p->in_len - in_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				in_off += (size_t)w;
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				in_off = p->in_len; /* the child closed its stdin: fine */
			if (in_off >= p->in_len) {
				shutdown(inp[1], SHUT_WR);
				close(inp[1]);
				inp[1] = -1;
			}
		}
		for (int k = 0; k < 2; k++) {
			int idx = k ? ie : io, *fd = k ? &errp[0] : &outp[0];
			ssize_t r;

			if (idx < 0 || !pf[idx].revents)
				continue;
			r = read(*fd, chunk, sizeof(chunk));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(*fd);
				*fd = -1;
				continue;
			}
			prefetch__tail(p, chunk, (size_t)r);
			if (!k && p->out) {
				if (buf_append(p->out, chunk, (size_t)r) && !rc) {
					rc = kerr_set(e, KERR_TOOBIG, "'%s' printed more than %zu bytes",
						      argv[0], p->out->max);
					kill(-pid, SIGKILL);
					killed = 1;
				}
			} else {
				prefetch__log(o, k ? 2 : 1, chunk, (size_t)r);
			}
		}
	}
	while (waitpid(pid, &p->status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
out:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &p->status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0) close(inp[i]);
		if (outp[i] >= 0) close(outp[i]);
		if (errp[i] >= 0) close(errp[i]);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

int prefetch_run(const struct prefetch_opts *o, char *const argv[], const char *cwd,
		 struct buf *out, int *status, struct buf *tail, struct kerr *e)
{
	struct prefetch__proc p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.out = out;
	buf_init(&p.tail, PREFETCH__TAIL_MAX);
	rc = prefetch__spawn(o, argv, cwd, &p, e);
	*status = p.status;
	if (tail) {
		buf_reset(tail);
		if (p.tail.len)
			buf_append(tail, p.tail.ptr, p.tail.len);
	}
	buf_release(&p.tail);
	return rc;
}

/* --- step 1: the requirements ---------------------------------------------- */

/* Is path "pyproject.toml" in the sdist's top directory ("name-1.0/pyproject.toml")? */
static int prefetch__is_top_pyproject(const char *path)
{
	const char *slash;

	if (!strncmp(path, "./", 2))
		path += 2;
	slash = strchr(path, '/');
	return slash && slash != path && !strcmp(slash + 1, "pyproject.toml");
}

/* The sdist's top-level pyproject.toml into b. 0, 1 if there is none, or KERR_*. */
static int prefetch__sdist_pyproject(const char *sdist, struct buf *b, struct kerr *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	char data[16 * 1024];
	int r, rc = 1;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	if (archive_read_open_filename(a, sdist, 64 * 1024) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		const char *path = archive_entry_pathname(ent);
		la_ssize_t n;

		if (r < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist,
				      archive_error_string(a));
			goto out;
		}
		if (!path || archive_entry_filetype(ent) != AE_IFREG ||
		    !prefetch__is_top_pyproject(path))
			continue;
		while ((n = archive_read_data(a, data, sizeof(data))) > 0)
			if (buf_append(b, data, (size_t)n)) {
				rc = kerr_set(e, KERR_INVAL, "'%s' is larger than %u bytes", path,
					      PREFETCH_PYPROJECT_MAX);
				goto out;
			}
		if (n < 0) {
			rc = kerr_set(e, KERR_INVAL, "could not read '%s' in '%s': %s", path, sdist,
				      archive_error_string(a));
			goto out;
		}
		rc = 0;
		break;
	}
out:
	archive_read_free(a);
	return rc;
}

/* dir/pyproject.toml into b (not through a symlink). 0, 1 if there is none, or KERR_*. */
static int prefetch__dir_pyproject(const char *dir, struct buf *b, struct kerr *e)
{
	char path[4096], data[16 * 1024];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/pyproject.toml", dir) >= sizeof(path))
		return kerr_set(e, KERR_INVAL, "path too long: '%s'", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			return 1;
		return kerr_set(e, KERR_INVAL, "could not open '%s': %s", path, strerror(errno));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = kerr_set(e, KERR_INVAL, "'%s' is not a regular file", path);
		goto out;
	}
	while ((n = read(fd, data, sizeof(data))) > 0)
		if (buf_append(b, data, (size_t)n)) {
			rc = kerr_set(e, KERR_INVAL, "'%s' is larger than %u bytes", path,
				      PREFETCH_PYPROJECT_MAX);
			goto out;
		}
	if (n < 0)
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", path, strerror(errno));
out:
	close(fd);
	return rc;
}

/* Our own check on what goes to pip's command line. */
static int prefetch__check_req(const char *r, struct kerr *e)
{
	size_t n = strlen(r);

	if (!n || n > PREFETCH_REQUIRE_MAX || r[0] == '-')
		return kerr_set(e, KERR_INVAL, "unacceptable build requirement '%.80s'", r);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r[i] < 0x20 || (unsigned char)r[i] > 0x7e)
			return kerr_set(e, KERR_INVAL,
					"build requirement with a control or non-ASCII byte: '%.80s'", r);
	return 0;
}

/* The script's JSON answer into out. */
static int prefetch__parse_answer(const struct buf *b, struct prefetch_reqs *out, struct kerr *e)
{
	cJSON *j = NULL;
	const cJSON *arr = NULL, *it;
	int rc;

	if ((rc = json_parse_object(b->ptr, b->len, &j, e)) ||
	    (rc = json_get_bool(j, "default", &out->is_default, e)) ||
	    (rc = json_get_array(j, "requires", &arr, e)))
		goto out;
	if (!arr || cJSON_GetArraySize(arr) > PREFETCH_MAX_REQUIRES) {
		rc = kerr_set(e, KERR_INVAL, "more than %d build requirements", PREFETCH_MAX_REQUIRES);
		goto out;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || (rc = prefetch__check_req(it->valuestring, e))) {
			if (!rc)
				rc = kerr_set(e, KERR_INVAL, "a build requirement is not a string");
			goto out;
		}
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = xstrdup(it->valuestring);
	}
out:
	cJSON_Delete(j);
	return rc;
}

/* A failed run of the fixed script: its last line of stderr as the error. Exit 3
 * is the script's verdict on its input (KERR_INVAL); anything else is python's
 * trouble (KERR_IO), with fallback when it said nothing. */
static int prefetch__script_error(struct prefetch__proc *p, const char *fallback, struct kerr *e)
{
	const char *last;

	while (p->tail.len && p->tail.ptr[p->tail.len - 1] == '\n')
		buf_truncate(&p->tail, p->tail.len - 1);
	last = strrchr(p->tail.ptr, '\n');
	last = last ? last + 1 : p->tail.ptr;
	return kerr_set(e, WIFEXITED(p->status) && WEXITSTATUS(p->status) == 3 ? KERR_INVAL : KERR_IO,
			"%s", *last ? last : fallback);
}

int prefetch_read_requires(const struct prefetch_opts *o, const char *sdist_path,
			   const char *source_dir, struct prefetch_reqs *out, struct kerr *e)
{
	struct buf toml = BUF_INIT(PREFETCH_PYPROJECT_MAX), answer = BUF_INIT(PREFETCH__STDOUT_MAX);
	struct prefetch__proc p;
	char *argv[] = { (char *)(o->python ? o->python : "python3"), (char *)"-I", (char *)"-c",
			 (char *)prefetch__script, NULL };
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	buf_init(&p.tail, PREFETCH__TAIL_MAX);
	if (!sdist_path == !source_dir) {
		rc = kerr_set(e, KERR_INVAL, "prefetch: give either an sdist or a source directory");
		goto out;
	}
	rc = sdist_path ? prefetch__sdist_pyproject(sdist_path, &toml, e)
			: prefetch__dir_pyproject(source_dir, &toml, e);
	if (rc == 1) {
		/* No pyproject.toml: PEP 517's legacy path, setuptools from the image. */
		static const char *const def[] = { "setuptools>=40.8.0", "wheel" };
		out->is_default = 1;
		out->v = xcalloc(2, sizeof(*out->v));
		for (size_t i = 0; i < 2; i++)
			out->v[out->n++] = xstrdup(def[i]);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	p.in = toml.ptr;
	p.in_len = toml.len;
	p.out = &answer;
	if ((rc = prefetch__spawn(o, argv, NULL, &p, e)))
		goto out;
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0) {
		rc = prefetch__script_error(&p, "could not run python3 to read pyproject.toml", e);
		goto out;
	}
	if ((rc = prefetch__parse_answer(&answer, out, e)))
		kerr_wrap(e, "pyproject.toml: ");
out:
	if (rc)
		prefetch_reqs_release(out);
	buf_release(&toml);
	buf_release(&answer);
	buf_release(&p.tail);
	return rc;
}

int prefetch_check_list(const struct prefetch_opts *o, char *const *v, size_t n,
			struct prefetch_reqs *out, struct kerr *e)
{
	struct buf list = BUF_INIT(PREFETCH_PYPROJECT_MAX), answer = BUF_INIT(PREFETCH__STDOUT_MAX);
	struct prefetch__proc p;
	char *argv[] = { (char *)(o->python ? o->python : "python3"), (char *)"-I", (char *)"-c",
			 (char *)prefetch__script, (char *)"list", NULL };
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	buf_init(&p.tail, PREFETCH__TAIL_MAX);
	if (n > PREFETCH_MAX_REQUIRES) {
		rc = kerr_set(e, KERR_INVAL, "more than %d build requirements", PREFETCH_MAX_REQUIRES);
		goto out;
	}
	/* Our own rules first: nothing odd ever reaches a subprocess's stdin. */
	buf_putc(&list, '[');
	for (size_t i = 0; i < n; i++) {
		if ((rc = prefetch__check_req(v[i], e)))
			goto out;
		if ((i && buf_putc(&list, ',')) || json_append_str(&list, v[i])) {
			rc = kerr_set(e, KERR_INVAL, "build requirements too long");
			goto out;
		}
	}
	if ((rc = buf_putc(&list, ']'))) {
		rc = kerr_set(e, KERR_INVAL, "build requirements too long");
		goto out;
	}
	p.in = list.ptr;
	p.in_len = list.len;
	p.out = &answer;
	if ((rc = prefetch__spawn(o, argv, NULL, &p, e)))
		goto out;
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0) {
		rc = prefetch__script_error(&p, "could not run python3 to check requirements", e);
		goto out;
	}
	rc = prefetch__parse_answer(&answer, out, e);
	out->is_default = 0;
out:
	if (rc)
		prefetch_reqs_release(out);
	buf_release(&list);
	buf_release(&answer);
	buf_release(&p.tail);
	return rc;
}

/* --- step 2: pip download ------------------------------------------------- */

/* Did pip's output show trouble reaching the index (rather than a plain "no such wheel")? */
static int prefetch__network_trouble(const struct buf *tail)
{
	static const char *const signs[] = {
		"Retrying (Retry(", "NewConnectionError", "Max retries exceeded",
		"ConnectionError", "ReadTimeoutError", "ConnectTimeoutError",
		"Temporary failure in name resolution", "HTTP error 5", "429 Client Error",
		"SSLError", "ProxyError", NULL };

	for (const char *const *s = signs; *s; s++)
		if (memmem(tail->ptr, tail->len, *s, strlen(*s)))
			return 1;
	return 0;
}

/* The requirement pip found no wheel of, read from its output by the classifier. */
static void prefetch__missing(const struct buf *tail, char out[PREFETCH_NAME_MAX])
{
	struct failclass *f = xcalloc(1, sizeof(*f));
	const char *p = tail->ptr, *end = tail->ptr + tail->len;

	failclass_init(f);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		failclass_line(f, p, n);
		p += n + 1;
	}
	snprintf(out, PREFETCH_NAME_MAX, "%s", f->requirement);
	free(f);
}

int prefetch_download(const struct prefetch_opts *o, const struct prefetch_reqs *reqs,
		      const char *dest_dir, struct kerr *e)
{
	const struct prefetch_target *t = &o->target;
	struct prefetch__proc p;
	char **argv = NULL;
	size_t n = 0, cap;
	struct buf list = BUF_INIT(16 * 1024);
	int rc = 0;

	memset(&p, 0, sizeof(p));
	buf_init(&p.tail, PREFETCH__TAIL_MAX);
	if (o->missing_out)
		o->missing_out[0] = '\0';
	if (reqs->is_default || !reqs->n) {
		prefetch__note(o, "kiln: build requirements: %s", reqs->n ? "the image's setuptools and wheel" : "none");
		goto out;
	}
	if (!t->python_version || !t->implementation || !t->abi || !t->platforms) {
		rc = kerr_set(e, KERR_INVAL, "prefetch: incomplete target");
		goto out;
	}
	for (size_t i = 0; i < reqs->n; i++) {
		if ((rc = prefetch__check_req(reqs->v[i], e)))
			goto out;
		buf_printf(&list, "%s%s", i ? ", " : "", reqs->v[i]);
	}
	cap = 32 + reqs->n;
	for (const char *const *pl = t->platforms; *pl; pl++)
		cap += 2;
	argv = xcalloc(cap, sizeof(*argv));
#define ARG(s) (argv[n++] = (char *)(s))
	ARG(o->python ? o->python : "python3");
	ARG("-m"); ARG("pip"); ARG("download");
	ARG("--only-binary=:all:");
	ARG("--dest"); ARG(dest_dir);
	ARG("--python-version"); ARG(t->python_version);
	ARG("--implementation"); ARG(t->implementation);
	ARG("--abi"); ARG(t->abi);
	for (const char *const *pl = t->platforms; *pl; pl++) {
		ARG("--platform");
		ARG(*pl);
	}
	ARG("--no-input"); ARG("--disable-pip-version-check"); ARG("--progress-bar"); ARG("off");
	if (o->index_url && *o->index_url) {
		ARG("--index-url");
		ARG(o->index_url);
	}
	if (o->farm_index_url && *o->farm_index_url) {
		ARG("--extra-index-url");
		ARG(o->farm_index_url);
	}
	ARG("--");
	for (size_t i = 0; i < reqs->n; i++)
		ARG(reqs->v[i]);
#undef ARG
	argv[n] = NULL;
	prefetch__note(o, "kiln: downloading build requirements on the host: %s", list.ptr);
	if ((rc = prefetch__spawn(o, argv, dest_dir, &p, e)))
		goto out;
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0) {
		int permanent = memmem(p.tail.ptr, p.tail.len, "No matching distribution found",
				       30) && !prefetch__network_trouble(&p.tail);

		if (permanent && o->missing_out)
			prefetch__missing(&p.tail, o->missing_out);
		rc = kerr_set(e, permanent ? KERR_INVAL : KERR_AGAIN,
			      "could not download the build requirements (%s): pip %s %d", list.ptr,
			      WIFEXITED(p.status) ? "exited with" : "killed by signal",
			      WIFEXITED(p.status) ? WEXITSTATUS(p.status) : WTERMSIG(p.status));
	}
out:
	free(argv);
	buf_release(&list);
	buf_release(&p.tail);
	return rc;
}

int prefetch_build_requires(const struct prefetch_opts *o, const char *sdist_path,
			    const char *source_dir, const char *dest_dir, struct kerr *e)
{
	struct prefetch_reqs reqs;
	int rc;

	if ((rc = prefetch_read_requires(o, sdist_path, source_dir, &reqs, e)))
		return rc;
	rc = prefetch_download(o, &reqs, dest_dir, e);
	prefetch_reqs_release(&reqs);
	return rc;
}

/* The sha256 of the file at path into hex. */
static int prefetch__hash_file(const char *path, char hex[SHA256_HEX_LEN + 1], struct kerr *e)
{
	struct sha256 h;
	char b[65536];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

	if (fd < 0)
		return kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
	if ((rc = sha256_init(&h))) {
		close(fd);
		return kerr_set(e, rc, "sha256 init failed");
	}
	while ((got = read(fd, b, sizeof(b))) > 0)
		sha256_update(&h, b, (size_t)got);
	if (got < 0)
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", path, strerror(errno));
	else if (sha256_final_hex(&h, hex))
		rc = kerr_set(e, KERR_INTERNAL, "sha256 failed");
	sha256_release(&h);
	close(fd);
	return rc;
}

static int prefetch__by_name(const void *a, const void *b)
{
	return strcmp(((const struct prefetch_file *)a)->filename,
		      ((const struct prefetch_file *)b)->filename);
}

int prefetch_hash_dir(const char *dir, size_t max, struct prefetch_file **files, size_t *n,
		      struct kerr *e)
{
	size_t first = *n;
	struct dirent *de;
	DIR *dp;
	int rc = 0;

	if (!(dp = opendir(dir)))
		return kerr_set(e, KERR_IO, "could not open '%s': %s", dir, strerror(errno));
	while (!rc && (de = readdir(dp))) {
		struct wheelname wn;
		struct stat st;
		char path[4096];
		struct prefetch_file *f;

		if (strlen(de->d_name) >= sizeof(f->filename) ||
		    wheelname_parse(&wn, de->d_name, strlen(de->d_name), NULL) ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (*n >= max) {
			rc = kerr_set(e, KERR_TOOBIG, "more than %zu build-requirement files", max);
			break;
		}
		*files = xrealloc(*files, (*n + 1) * sizeof(**files));
		f = &(*files)[*n];
		snprintf(f->filename, sizeof(f->filename), "%s", de->d_name);
		if (!(rc = prefetch__hash_file(path, f->sha256, e)))
			(*n)++;
	}
	closedir(dp);
	if (*n - first > 1)
		qsort(*files + first, *n - first, sizeof(**files), prefetch__by_name);
	return rc;
}
