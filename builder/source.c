/* source: sdists over HTTP(S) and git commits (contract in source.h). */
#include "builder/source.h"

#include "builder/failclass.h"
#include "common/fdio.h"
#include "common/kerr.h"
#include "common/sha256.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <git2.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SOURCE__CONNECT_TIMEOUT 30L
#define SOURCE__TIMEOUT 1800L
#define SOURCE__MAX_BYTES (1ull << 30)
#define SOURCE__UA "kiln-builder"

static long source__connect_timeout(const struct source_opts *o)
{
	return o && o->connect_timeout_s > 0 ? o->connect_timeout_s : SOURCE__CONNECT_TIMEOUT;
}

static long source__timeout(const struct source_opts *o)
{
	return o && o->timeout_s > 0 ? o->timeout_s : SOURCE__TIMEOUT;
}

static uint64_t source__max(const struct source_opts *o)
{
	return o && o->max_bytes ? o->max_bytes : SOURCE__MAX_BYTES;
}

static int source__cancelled(const struct source_opts *o)
{
	return o && stopflag_up(o->cancel);
}

/* --- sdists over HTTP(S) ---------------------------------------------------- */

static pthread_once_t source__curl_once = PTHREAD_ONCE_INIT;
static int source__curl_rc;

static void source__curl_init(void)
{
	source__curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : KERR_INTERNAL;
}

struct source__dl {
	CURL *h;
	int fd;
	struct sha256 hash;
	uint64_t got, max;
	int status_ok;     /* -1 unknown, 0 error status (body dropped), 1 2xx */
	int stop_rc;       /* why a callback stopped the transfer */
	int write_errno;
	const struct source_opts *o;
};

static size_t source__write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct source__dl *d = arg;
	size_t n = size * nmemb;

	if (d->status_ok < 0) {
		long status = 0;
		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
		d->status_ok = status >= 200 && status < 300;
	}
	if (!d->status_ok)
		return n; /* an error page: only the status matters */
	if (d->got + n > d->max) {
		d->stop_rc = KERR_TOOBIG;
		return 0;
	}
	d->got += n;
	if (sha256_update(&d->hash, p, n)) {
		d->stop_rc = KERR_INTERNAL;
		return 0;
	}
	if (fdio_write_all(d->fd, p, n)) {
		d->write_errno = errno;
		d->stop_rc = KERR_IO;
		return 0;
	}
	return n;
}

static int source__progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct source__dl *d = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (source__cancelled(d->o)) {
		d->stop_rc = KERR_CONFLICT;
		return 1;
	}
	return 0;
}

/* Transient or permanent, by curl's code. */
static int source__curl_class(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return KERR_AGAIN;
	case CURLE_FILESIZE_EXCEEDED:
		return KERR_TOOBIG;
	default:
		return KERR_INVAL;
	}
}

/* The sdist filename at the end of url's path, percent-decoded and checked. */
static int source__filename(const char *url, char *out, size_t outsz, struct kerr *e)
{
	const char *end = url + strcspn(url, "?#"), *start = end;
	char *dec;
	int declen = 0;
	struct sdistname sn;
	int rc = 0;

	while (start > url && start[-1] != '/')
		start--;
	if (start == end || end - start > 3 * WHEELNAME_MAX_LEN)
		return kerr_set(e, KERR_INVAL, "no sdist filename at the end of '%s'", url);
	if (!(dec = curl_easy_unescape(NULL, start, (int)(end - start), &declen)))
		return kerr_set(e, KERR_INTERNAL, "could not decode '%s'", url);
	if ((size_t)declen != strlen(dec) || (size_t)declen >= outsz ||
	    sdistname_parse(&sn, dec, (size_t)declen, e))
		rc = kerr_set(e, KERR_INVAL, "'%.*s' at the end of the URL is not an sdist filename",
			      (int)(end - start), start);
	else
		memcpy(out, dec, (size_t)declen + 1);
	curl_free(dec);
	return rc;
}

int source_fetch_sdist(const char *url, const char *expected_sha256, const char *dest_dir,
		       const struct source_opts *o, char **path_out, struct kerr *e)
{
	struct source__dl d;
	char name[WHEELNAME_MAX_LEN + 1], want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
	char tmp[4096], final[4096], errbuf[CURL_ERROR_SIZE];
	int https, rc = 0, have_hash = 0;
	long status = 0;
	CURLcode cc;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	d.status_ok = -1;
	d.o = o;
	d.max = source__max(o);
	tmp[0] = errbuf[0] = '\0';
	if (path_out)
		*path_out = NULL;
	https = !strncasecmp(url, "https://", 8);
	if (!https && strncasecmp(url, "http://", 7))
		return kerr_set(e, KERR_INVAL, "not an http(s) URL: '%s'", url);
	if ((rc = source__filename(url, name, sizeof(name), e)))
		return rc;
	if (!expected_sha256 || strlen(expected_sha256) != SHA256_HEX_LEN)
		return kerr_set(e, KERR_INVAL, "bad expected sha256 '%s'",
				expected_sha256 ? expected_sha256 : "");
	for (size_t i = 0; i <= SHA256_HEX_LEN; i++)
		want[i] = (char)tolower((unsigned char)expected_sha256[i]);
	if (!sha256_hex_valid(want))
		return kerr_set(e, KERR_INVAL, "bad expected sha256 '%s'", expected_sha256);
	if ((size_t)snprintf(final, sizeof(final), "%s/%s", dest_dir, name) >= sizeof(final) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.kiln-download-XXXXXX", dest_dir) >= sizeof(tmp))
		return kerr_set(e, KERR_INVAL, "path too long: '%s'", dest_dir);

	pthread_once(&source__curl_once, source__curl_init);
	if (source__curl_rc)
		return kerr_set(e, source__curl_rc, "libcurl failed to initialize");
	if ((d.fd = mkstemp(tmp)) < 0) {
		tmp[0] = '\0';
		rc = kerr_set(e, KERR_IO, "could not create a file in '%s': %s", dest_dir,
			      strerror(errno));
		goto out;
	}
	if (sha256_init(&d.hash)) {
		rc = kerr_set(e, KERR_INTERNAL, "sha256 init failed");
		goto out;
	}
	have_hash = 1;
	if (!(d.h = curl_easy_init())) {
		rc = kerr_set(e, KERR_INTERNAL, "curl_easy_init failed");
		goto out;
	}
	curl_easy_setopt(d.h, CURLOPT_URL, url);
	curl_easy_setopt(d.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d.h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(d.h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(d.h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
	curl_easy_setopt(d.h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(d.h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(d.h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(d.h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o && o->ca_file)
		curl_easy_setopt(d.h, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(d.h, CURLOPT_CONNECTTIMEOUT, source__connect_timeout(o));
	curl_easy_setopt(d.h, CURLOPT_TIMEOUT, source__timeout(o));
	curl_easy_setopt(d.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(d.h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(d.h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d.max);
	curl_easy_setopt(d.h, CURLOPT_USERAGENT, o && o->user_agent ? o->user_agent : SOURCE__UA);
	curl_easy_setopt(d.h, CURLOPT_WRITEFUNCTION, source__write);
	curl_easy_setopt(d.h, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(d.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(d.h, CURLOPT_XFERINFOFUNCTION, source__progress);
	curl_easy_setopt(d.h, CURLOPT_XFERINFODATA, &d);

	cc = curl_easy_perform(d.h);
	curl_easy_getinfo(d.h, CURLINFO_RESPONSE_CODE, &status);
	if (d.stop_rc == KERR_CONFLICT) {
		rc = kerr_set(e, KERR_CONFLICT, "download of '%s' cancelled", name);
	} else if (d.stop_rc == KERR_TOOBIG || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = kerr_set(e, KERR_TOOBIG, "'%s' is larger than %llu bytes", name,
			      (unsigned long long)d.max);
	} else if (d.stop_rc == KERR_IO) {
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", tmp, strerror(d.write_errno));
	} else if (d.stop_rc) {
		rc = kerr_set(e, d.stop_rc, "download of '%s' failed", name);
	} else if (cc != CURLE_OK) {
		rc = kerr_set(e, source__curl_class(cc), "could not download '%s': %s", url,
			      errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else if (status < 200 || status >= 300) {
		int transient = status == 408 || status == 425 || status == 429 || status >= 500;
		rc = kerr_set(e, transient ? KERR_AGAIN : KERR_INVAL,
			      "could not download '%s': HTTP %ld", url, status);
	}
	if (rc)
		goto out;
	if (sha256_final_hex(&d.hash, got)) {
		rc = kerr_set(e, KERR_INTERNAL, "sha256 final failed");
		goto out;
	}
	if (strcmp(got, want)) {
		rc = kerr_set(e, KERR_INVAL, "sha256 mismatch for '%s': expected %s, got %s", name,
			      want, got);
		goto out;
	}
	if (fsync(d.fd) || close(d.fd)) {
		d.fd = -1;
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	d.fd = -1;
	if (rename(tmp, final)) {
		rc = kerr_set(e, KERR_IO, "could not rename '%s' to '%s': %s", tmp, final,
			      strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if (path_out)
		*path_out = xstrdup(final);
out:
	if (have_hash)
		sha256_release(&d.hash);
	if (d.h)
		curl_easy_cleanup(d.h);
	if (d.fd >= 0)
		close(d.fd);
	if (tmp[0] && rc)
		unlink(tmp);
	return rc;
}

/* --- git -------------------------------------------------------------------- */

struct source__git {
	const struct source_opts *o;
	time_t deadline;
	int stop_rc;
};

static int source__git_progress(const git_indexer_progress *st, void *payload)
{
	struct source__git *g = payload;

	if (source__cancelled(g->o))
		g->stop_rc = KERR_CONFLICT;
	else if (time(NULL) > g->deadline)
		g->stop_rc = KERR_AGAIN;
	else if (st->received_bytes > source__max(g->o))
		g->stop_rc = KERR_TOOBIG;
	return g->stop_rc ? -1 : 0;
}

static int source__git_sideband(const char *str, int len, void *payload)
{
	(void)str, (void)len;
	return source__git_progress(&(git_indexer_progress){ 0 }, payload);
}

static const char *source__git_msg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

/* A libgit2 failure in a fetch as a kerr: network trouble is transient, the rest not. */
static int source__git_error(struct source__git *g, const char *what, struct kerr *e)
{
	const git_error *ge = git_error_last();
	const char *msg = source__git_msg();
	int code = KERR_INVAL;

	if (g && g->stop_rc == KERR_CONFLICT)
		return kerr_set(e, KERR_CONFLICT, "%s: cancelled", what);
	if (g && g->stop_rc == KERR_TOOBIG)
		return kerr_set(e, KERR_TOOBIG, "%s: the repository is larger than %llu bytes", what,
				(unsigned long long)source__max(g->o));
	if (g && g->stop_rc == KERR_AGAIN)
		return kerr_set(e, KERR_AGAIN, "%s: timed out after %ld s", what,
				source__timeout(g->o));
	if (ge && (ge->klass == GIT_ERROR_NET || ge->klass == GIT_ERROR_SSL ||
		   ge->klass == GIT_ERROR_HTTP || ge->klass == GIT_ERROR_OS) &&
	    !failclass_git_permanent(msg))
		code = KERR_AGAIN;
	return kerr_set(e, code, "%s: %s", what, msg);
}

static pthread_mutex_t source__git_lock = PTHREAD_MUTEX_INITIALIZER;

int source_checkout_git(const char *url, const char *commit, const char *dest_dir,
			const struct source_opts *o, long long *commit_time, struct kerr *e)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_commit *c = NULL;
	git_oid oid, head;
	git_fetch_options fo;
	git_checkout_options co;
	git_remote_create_options ro;
	struct source__git g = { o, time(NULL) + source__timeout(o), 0 };
	char *refspecs[] = { (char *)"+refs/heads/*:refs/remotes/origin/*",
			     (char *)"+refs/tags/*:refs/tags/*" };
	git_strarray rs = { refspecs, 2 };
	int rc = 0, err;

	if (strlen(commit) != 40 || strspn(commit, "0123456789abcdef") != 40)
		return kerr_set(e, KERR_INVAL, "bad commit id '%s' (want 40 lowercase hex digits)",
				commit);
	if (git_libgit2_init() < 0)
		return kerr_set(e, KERR_INTERNAL, "libgit2 failed to initialize");
	if (o && o->ca_file) {
		/* A process-wide libgit2 setting: take a lock so jobs do not race on it. */
		pthread_mutex_lock(&source__git_lock);
		err = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, o->ca_file, NULL);
		pthread_mutex_unlock(&source__git_lock);
		if (err < 0) {
			rc = kerr_set(e, KERR_INVAL, "could not use CA file '%s': %s", o->ca_file,
				      source__git_msg());
			goto out;
		}
	}
	/* The _init functions, not the INIT macros, which leave fields to the compiler. */
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	if (git_oid_fromstr(&oid, commit) < 0) {
		rc = kerr_set(e, KERR_INVAL, "bad commit id '%s'", commit);
		goto out;
	}
	if (git_repository_init(&repo, dest_dir, 0) < 0) {
		rc = kerr_set(e, KERR_IO, "git init '%s': %s", dest_dir, source__git_msg());
		goto out;
	}
	/*
	 * An in-memory remote that ignores url.*.insteadOf from the host's git config
	 * (the job names the URL; and libgit2 1.5 leaks a pcre2 match block on each
	 * insteadOf lookup that finds nothing).
	 */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0) {
		rc = kerr_set(e, KERR_INVAL, "git remote '%s': %s", url, source__git_msg());
		goto out;
	}
	fo.callbacks.transfer_progress = source__git_progress;
	fo.callbacks.sideband_progress = source__git_sideband;
	fo.callbacks.payload = &g;
	fo.proxy_opts.type = GIT_PROXY_AUTO;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (git_remote_fetch(remote, &rs, &fo, "kiln fetch") < 0) {
		rc = source__git_error(&g, "git fetch", e);
		goto out;
	}
	if (git_commit_lookup(&c, repo, &oid) < 0) {
		rc = kerr_set(e, KERR_INVAL, "commit %s is not in '%s' (fetched all branches and tags)",
			      commit, url);
		goto out;
	}
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_tree(repo, (const git_object *)c, &co) < 0 ||
	    git_repository_set_head_detached(repo, &oid) < 0) {
		rc = kerr_set(e, KERR_IO, "git checkout %s: %s", commit, source__git_msg());
		goto out;
	}
	if (git_reference_name_to_id(&head, repo, "HEAD") < 0 || git_oid_cmp(&head, &oid)) {
		rc = kerr_set(e, KERR_INTERNAL, "HEAD is not %s after the checkout", commit);
		goto out;
	}
	if (commit_time)
		*commit_time = (long long)git_commit_time(c);
out:
	git_commit_free(c);
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
