/* job: one build, on its own thread (contract in job.h). */
#include "builder/job.h"

#include "builder/contents.h"
#include "builder/daemon.h"
#include "builder/derived.h"
#include "builder/failclass.h"
#include "builder/jobsource.h"
#include "builder/prefetch.h"
#include "builder/sandbox.h"
#include "common/clock.h"
#include "common/dirs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A chunk is cut at this size or when the build is quiet for a moment. */
#define JOB_CHUNK_BYTES (16 * 1024)
#define JOB_UPLOAD_TRIES 8

static int job__copy(const cJSON *o, const char *key, char *dst, size_t n, int required,
		     struct kerr *e)
{
	const char *v = NULL;
	int rc = required ? json_get_str_req(o, key, &v, e) : json_get_str(o, key, &v, e);

	if (rc)
		return rc;
	if (!v) {
		dst[0] = '\0';
		return 0;
	}
	if (strlen(v) >= n)
		return kerr_set(e, KERR_INVAL, "field '%s' too long", key);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/*
 * native_packages: at most JOB_NATIVE_MAX sorted, distinct, valid Debian names.
 * A bad list does not make the message unreadable: the job is kept, and fails
 * with bad_native before anything runs, so the backend hears why.
 */
static void job__parse_native(const cJSON *m, struct bjob *j)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(m, "native_packages"), *it;

	if (!arr || cJSON_IsNull(arr))
		return;
	if (!cJSON_IsArray(arr)) {
		snprintf(j->bad_native, sizeof(j->bad_native), "native_packages is not an array");
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		const char *name = cJSON_IsString(it) ? it->valuestring : NULL;

		if (j->nnative == JOB_NATIVE_MAX) {
			snprintf(j->bad_native, sizeof(j->bad_native),
				 "more than %d native_packages", JOB_NATIVE_MAX);
			break;
		}
		if (!name || !derived_package_valid(name)) {
			snprintf(j->bad_native, sizeof(j->bad_native),
				 "bad Debian package name in native_packages: '%.64s'", name ? name : "");
			break;
		}
		if (j->nnative && strcmp(j->native[j->nnative - 1], name) >= 0) {
			snprintf(j->bad_native, sizeof(j->bad_native),
				 "native_packages not sorted and distinct at '%s'", name);
			break;
		}
		snprintf(j->native[j->nnative++], sizeof(j->native[0]), "%s", name);
	}
	if (j->bad_native[0])
		j->nnative = 0;
}

/* The target's arch, suite and glibc, checked, and the platform ladder they make. */
static int job__parse_platform(const cJSON *target, struct bjob *j, struct kerr *e)
{
	static const char *const keys[] = { "arch", "suite", "glibc" };
	char arch[PLATFORM_ARCH_MAX];
	size_t n = strlen(j->suite);

	/* Absent is fine (a backend before issue 16, a target without them); empty is not. */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(target, keys[i]);
		if (cJSON_IsString(v) && !v->valuestring[0])
			return kerr_set(e, KERR_INVAL, "target %s is empty", keys[i]);
	}
	if (!j->arch[0])
		snprintf(j->arch, sizeof(j->arch), "x86_64");
	if (platform_arch_normalize(j->arch, arch, e))
		return kerr_wrap(e, "target arch: ");
	memcpy(j->arch, arch, sizeof(arch));
	if (n && (j->suite[0] < 'a' || j->suite[0] > 'z' ||
		  strspn(j->suite, "abcdefghijklmnopqrstuvwxyz0123456789-") != n))
		return kerr_set(e, KERR_INVAL, "bad target suite '%s'", j->suite);
	if (platform_ladder(&j->ladder, j->arch, j->glibc, e))
		return kerr_wrap(e, "target glibc: ");
	return 0;
}

int job_parse(const cJSON *m, struct bjob **out, struct kerr *e)
{
	struct bjob *j = xcalloc(1, sizeof(*j));
	const cJSON *target = NULL, *source = NULL, *limits = NULL;
	const char *url = NULL;
	int64_t v = 0;
	int rc;

	*out = NULL;
	pthread_mutex_init(&j->lock, NULL);
	buf_init(&j->pending_log, BUF_NOLIMIT);
	j->fc = xcalloc(1, sizeof(*j->fc));
	failclass_init(j->fc);
	j->timeout_s = 3600;
	j->memory_mib = 4096;
	j->cpus = 2;
	j->pids = 1024;
	j->log_bytes = 64 << 20;
	j->output_bytes = 1ll << 31;
	if ((rc = json_get_int_req(m, "job", 1, INT64_MAX, &v, e)))
		goto fail;
	j->id = v;
	if ((rc = json_get_int_req(m, "build", 1, INT64_MAX, &v, e)))
		goto fail;
	j->build = v;
	if ((rc = json_get_int_req(m, "attempt", 1, 1000, &v, e)))
		goto fail;
	j->attempt = v;
	if ((rc = job__copy(m, "lease", j->lease, sizeof(j->lease), 1, e)) ||
	    (rc = job__copy(m, "project", j->project, sizeof(j->project), 1, e)) ||
	    (rc = job__copy(m, "version", j->version, sizeof(j->version), 1, e)) ||
	    (rc = job__copy(m, "upload", j->upload_path, sizeof(j->upload_path), 1, e)) ||
	    (rc = json_get_object(m, "target", &target, e)) ||
	    (rc = json_get_object(m, "source", &source, e)) ||
	    (rc = json_get_object(m, "limits", &limits, e)))
		goto fail;
	if (!target || !source) {
		rc = kerr_set(e, KERR_INVAL, "job needs 'target' and 'source'");
		goto fail;
	}
	if ((rc = job__copy(target, "name", j->target, sizeof(j->target), 1, e)) ||
	    (rc = job__copy(target, "image", j->image, sizeof(j->image), 1, e)) ||
	    (rc = job__copy(target, "python_tag", j->python_tag, sizeof(j->python_tag), 1, e)) ||
	    (rc = job__copy(target, "python_version", j->python_version, sizeof(j->python_version), 1, e)) ||
	    (rc = job__copy(target, "platform", j->platform, sizeof(j->platform), 1, e)) ||
	    (rc = job__copy(target, "arch", j->arch, sizeof(j->arch), 0, e)) ||
	    (rc = job__copy(target, "suite", j->suite, sizeof(j->suite), 0, e)) ||
	    (rc = job__copy(target, "glibc", j->glibc, sizeof(j->glibc), 0, e)) ||
	    (rc = job__copy(source, "kind", j->source_kind, sizeof(j->source_kind), 1, e)) ||
	    (rc = json_get_str_req(source, "url", &url, e)) ||
	    (rc = job__copy(source, "sha256", j->sha256, sizeof(j->sha256), 0, e)) ||
	    (rc = job__copy(source, "filename", j->filename, sizeof(j->filename), 0, e)) ||
	    (rc = job__copy(source, "commit", j->commit, sizeof(j->commit), 0, e)))
		goto fail;
	if ((rc = job__parse_platform(target, j, e)))
		goto fail;
	j->source_url = xstrdup(url);
	job__parse_native(m, j);
	if (limits) {
		int64_t x;
		x = j->timeout_s; if (!json_get_int(limits, "timeout_s", 1, 7 * 86400, &x, e)) j->timeout_s = x;
		x = j->memory_mib; if (!json_get_int(limits, "memory_mib", 64, 1 << 20, &x, e)) j->memory_mib = x;
		x = j->cpus; if (!json_get_int(limits, "cpus", 1, 1024, &x, e)) j->cpus = x;
		x = j->pids; if (!json_get_int(limits, "pids", 16, 1 << 20, &x, e)) j->pids = x;
		x = j->log_bytes; if (!json_get_int(limits, "log_bytes", 1024, INT64_MAX, &x, e)) j->log_bytes = x;
		x = j->output_bytes; if (!json_get_int(limits, "output_bytes", 1024, INT64_MAX, &x, e)) j->output_bytes = x;
	}
	*out = j;
	return 0;
fail:
	job_free(j);
	return rc;
}

void job_free(struct bjob *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->nsent; i++)
		free(j->sent[i]);
	free(j->sent);
	free(j->source_url);
	free(j->fc);
	buf_release(&j->pending_log);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* Post a message and remember it for resending. */
static void job__post(struct bjob *j, struct buf *msg)
{
	if (stopflag_up(&j->cancel))
		return;
	pthread_mutex_lock(&j->lock);
	if (j->nsent == j->capsent) {
		j->capsent = j->capsent ? j->capsent * 2 : 16;
		j->sent = xrealloc(j->sent, j->capsent * sizeof(char *));
	}
	j->sent[j->nsent++] = xstrdup(msg->ptr);
	pthread_mutex_unlock(&j->lock);
	daemon_post(j->daemon, msg->ptr, msg->len);
}

int job_is_attempt(const struct bjob *j, const cJSON *m)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "attempt");

	/* Absent (a backend from before the field): about whichever attempt runs. */
	if (!a || cJSON_IsNull(a))
		return 1;
	return cJSON_IsNumber(a) && a->valuedouble == (double)j->attempt;
}

void job_repost(struct bjob *j)
{
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->nsent; i++)
		daemon_post(j->daemon, j->sent[i], strlen(j->sent[i]));
	pthread_mutex_unlock(&j->lock);
}

static void job__progress(struct bjob *j, const char *phase)
{
	struct buf b = BUF_INIT(256);
	buf_printf(&b, "{\"type\":\"progress\",\"job\":%lld,\"attempt\":%lld,\"phase\":\"%s\"}",
		   j->id, j->attempt, phase);
	job__post(j, &b);
	buf_release(&b);
}

static void job__flush_log(struct bjob *j)
{
	struct buf text = BUF_INIT(BUF_NOLIMIT), msg = BUF_INIT(BUF_NOLIMIT);

	if (!j->pending_log.len)
		return;
	utf8_sanitize(&text, (const unsigned char *)j->pending_log.ptr, j->pending_log.len);
	buf_reset(&j->pending_log);
	buf_printf(&msg, "{\"type\":\"log\",\"job\":%lld,\"attempt\":%lld,\"seq\":%lld,\"data\":",
		   j->id, j->attempt, j->next_seq++);
	json_append_strn(&msg, text.ptr, text.len);
	buf_putc(&msg, '}');
	job__post(j, &msg);
	buf_release(&text);
	buf_release(&msg);
}

/* Builder-side notes in the log, marked so readers can tell them from the build's output. */
static void job__note(struct bjob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void job__note(struct bjob *j, const char *fmt, ...)
{
	va_list ap;
	buf_puts(&j->pending_log, "kiln: ");
	va_start(ap, fmt);
	buf_vprintf(&j->pending_log, fmt, ap);
	va_end(ap);
	buf_putc(&j->pending_log, '\n');
	job__flush_log(j);
}

static void job__on_log(void *ctx, int stream, const char *p, size_t n)
{
	struct bjob *j = ctx;
	if (stream == SANDBOX_STDOUT || stream == SANDBOX_STDERR)
		failclass_feed(j->fc, stream, p, n);
	buf_append(&j->pending_log, p, n);
	if (j->pending_log.len >= JOB_CHUNK_BYTES || memchr(p, '\n', n))
		job__flush_log(j);
}

/*
 * The finish message. cls: the failure class (failed; retry is always
 * infrastructure), or FAILCLASS_NONE on success; missing (with
 * native-dependency) comes from j->fc; wheels is a JSON array text or NULL;
 * how (NULL: none) the fields saying how a success was built, as members
 * each led by a comma (job__how).
 */
static void job__finish_full(struct bjob *j, const char *status, long long exit_code,
			     long long duration_ms, const char *reason, enum failclass_class cls,
			     const char *wheels, const char *how)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	job__flush_log(j);
	if (!strcmp(status, "retry"))
		cls = FAILCLASS_INFRASTRUCTURE;
	buf_printf(&b, "{\"type\":\"finish\",\"job\":%lld,\"attempt\":%lld,\"status\":\"%s\","
		       "\"exit_code\":%lld,\"duration_ms\":%lld,\"reason\":", j->id, j->attempt, status,
		   exit_code, duration_ms);
	json_append_str(&b, reason ? reason : "");
	if (cls != FAILCLASS_NONE)
		buf_printf(&b, ",\"failure_class\":\"%s\"", failclass_name(cls));
	if (cls == FAILCLASS_BUILD_REQUIREMENT) {
		/* The backend may wait for it when the farm is building it (docs/builds.md). */
		const char *req = j->requirement[0] ? j->requirement : j->fc->requirement;

		if (pyname_valid(req, strlen(req))) {
			buf_puts(&b, ",\"requirement\":");
			json_append_str(&b, req);
		}
	}
	if (cls == FAILCLASS_NATIVE_DEPENDENCY && j->fc->nmissing) {
		buf_puts(&b, ",\"missing\":[");
		for (size_t i = 0; i < j->fc->nmissing; i++) {
			const struct failclass_missing *m = &j->fc->missing[i];
			buf_printf(&b, "%s{\"kind\":\"%s\",\"name\":", i ? "," : "",
				   failclass_kind_name(m->kind));
			json_append_str(&b, m->name);
			if (m->package[0]) {
				buf_puts(&b, ",\"package\":");
				json_append_str(&b, m->package);
			}
			buf_putc(&b, '}');
		}
		buf_putc(&b, ']');
	}
	if (wheels)
		buf_printf(&b, ",\"wheels\":%s", wheels);
	if (how)
		buf_puts(&b, how);
	buf_putc(&b, '}');
	job__post(j, &b);
	buf_release(&b);
}

static void job__finish(struct bjob *j, const char *status, long long exit_code,
			long long duration_ms, const char *reason)
{
	job__finish_full(j, status, exit_code, duration_ms, reason,
			 !strcmp(status, "succeeded") ? FAILCLASS_NONE : FAILCLASS_INFRASTRUCTURE, NULL, NULL);
}

static size_t job__discard(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	if (b->len < 2048)
		buf_append(b, p, size * n < 2048 ? size * n : 2048);
	return size * n;
}

/* PUT one wheel. 0, KERR_AGAIN (worth retrying) or KERR_INVAL (refused). */
static int job__upload_one(struct bjob *j, const char *path, const char *name, struct kerr *e)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf body = BUF_INIT(4096);
	char url[1024], auth[128], base[512];
	FILE *f = NULL;
	struct stat st;
	long status = 0;
	CURLcode cc;
	int rc = 0;

	if (!c)
		return kerr_set(e, KERR_AGAIN, "curl init failed");
	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st)) {
		rc = kerr_set(e, KERR_INVAL, "could not open %s: %s", path, strerror(errno));
		goto fail;
	}
	/* The backend connected now: after a failover the upload follows the builder. */
	daemon_upload_base(j->daemon, base, sizeof(base));
	snprintf(url, sizeof(url), "%s%s%s", base, j->upload_path, name);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", j->lease);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READDATA, f);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, job__discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	if (*config_get(j->cfg, CONFIG_CA_FILE))
		curl_easy_setopt(c, CURLOPT_CAINFO, config_get(j->cfg, CONFIG_CA_FILE));
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		rc = kerr_set(e, KERR_AGAIN, "upload of %s failed: %s", name, curl_easy_strerror(cc));
	else if (status == 200 || status == 201)
		rc = 0;
	else if (status >= 500 || status == 429)
		rc = kerr_set(e, KERR_AGAIN, "upload of %s: HTTP %ld %s", name, status, body.ptr);
	else
		rc = kerr_set(e, KERR_INVAL, "upload of %s refused: HTTP %ld %s", name, status, body.ptr);
fail:
	if (f)
		fclose(f);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	buf_release(&body);
	return rc;
}

static int job__upload(struct bjob *j, const struct sandbox_result *r, struct kerr *e)
{
	for (size_t i = 0; i < r->nwheels; i++) {
		const char *name = strrchr(r->wheels[i], '/');
		int rc = 0;

		name = name ? name + 1 : r->wheels[i];
		for (int attempt = 1; attempt <= JOB_UPLOAD_TRIES && !stopflag_up(&j->cancel); attempt++) {
			rc = job__upload_one(j, r->wheels[i], name, e);
			if (rc != KERR_AGAIN)
				break;
			/* The backend may be restarting: wait and try again, unless the
			 * job is cancelled meanwhile (its slot is wanted: stop now). */
			job__note(j, "%s; retrying in %d s", e->msg, 1 << attempt);
			if (stopflag_sleep_ms(&j->cancel, 1000u << attempt))
				break;
		}
		if (rc)
			return rc;
		job__note(j, "uploaded %s", name);
	}
	return 0;
}

/* Output of host-side steps (pip download, apt in a derived image) in the job log: not the
 * build's, so the classifier does not read it. */
static void job__on_host_log(void *ctx, int stream, const char *p, size_t n)
{
	struct bjob *j = ctx;
	(void)stream;
	buf_append(&j->pending_log, p, n);
	if (j->pending_log.len >= JOB_CHUNK_BYTES || memchr(p, '\n', n))
		job__flush_log(j);
}

/* Answer queries from the target image's Contents index; a missing index leaves them "". */
static void job__lookup(struct bjob *j, struct contents_query *q, size_t n)
{
	char cache[1100], path[1300];
	struct kerr e;

	if (!n)
		return;
	kerr_clear(&e);
	snprintf(cache, sizeof(cache), "%s/builder/contents", config_get(j->cfg, CONFIG_DATA_DIR));
	if (contents_fetch(j->docker, j->image, cache, j->owner, path, sizeof(path), &e) ||
	    contents_lookup(path, q, n, &e))
		job__note(j, "no Debian package names: %s", e.msg);
}

/* The Debian packages of the missing files, and a note per file saying how to fix it. */
static void job__suggest(struct bjob *j)
{
	struct contents_query q[FAILCLASS_MAX_MISSING];
	size_t n = j->fc->nmissing;

	memset(q, 0, sizeof(q));
	for (size_t i = 0; i < n; i++) {
		q[i].kind = (enum contents_kind)j->fc->missing[i].kind;
		q[i].name = j->fc->missing[i].name;
	}
	job__lookup(j, q, n);
	for (size_t i = 0; i < n; i++) {
		struct failclass_missing *m = &j->fc->missing[i];
		snprintf(m->package, sizeof(m->package), "%s", q[i].package);
		if (m->package[0])
			job__note(j, "missing %s (%s), shipped by %s: kilnctl project deps add %s %s",
				  m->name, failclass_kind_name(m->kind), m->package, j->project,
				  m->package);
		else
			job__note(j, "missing %s (%s); no Debian package in the suite ships it",
				  m->name, failclass_kind_name(m->kind));
	}
}

/* The finish message's wheels array: policy and the Debian packages of the sonames still needed. */
static void job__wheels_json(struct bjob *j, const struct sandbox_result *r, struct buf *out)
{
	struct contents_query *q = NULL;
	size_t nq = 0, k = 0;

	for (size_t i = 0; r->reports && i < r->nwheels; i++)
		nq += r->reports[i].nneeded < 32 ? r->reports[i].nneeded : 32;
	if (nq) {
		q = xcalloc(nq, sizeof(*q));
		for (size_t i = 0; i < r->nwheels; i++)
			for (size_t s = 0; s < r->reports[i].nneeded && s < 32; s++) {
				q[k].kind = CONTENTS_SONAME;
				q[k++].name = r->reports[i].needed[s];
			}
		job__lookup(j, q, nq);
	}
	k = 0;
	buf_putc(out, '[');
	for (size_t i = 0; i < r->nwheels; i++) {
		const char *name = strrchr(r->wheels[i], '/');
		size_t first = k, np = 0;

		name = name ? name + 1 : r->wheels[i];
		buf_printf(out, "%s{\"filename\":", i ? "," : "");
		json_append_str(out, name);
		buf_puts(out, ",\"policy\":");
		json_append_str(out, r->reports ? r->reports[i].policy : "");
		buf_puts(out, ",\"runtime_packages\":[");
		if (r->reports)
			k += r->reports[i].nneeded < 32 ? r->reports[i].nneeded : 32;
		for (size_t s = first; s < k; s++) {
			int dup = 0;
			if (!q[s].package[0])
				continue;
			for (size_t t = first; t < s; t++)
				dup |= !strcmp(q[t].package, q[s].package);
			if (dup)
				continue;
			buf_puts(out, np++ ? "," : "");
			json_append_str(out, q[s].package);
		}
		buf_puts(out, "]}");
		if (r->reports && r->reports[i].policy[0])
			job__note(j, "%s: %s%s", name, r->reports[i].policy,
				  np ? ", needs Debian packages at run time (see the project page)" : "");
	}
	buf_putc(out, ']');
	free(q);
}

/*
 * The finish's fields saying how the build ran (docs/protocol.md, finish):
 * image (the id the build container ran, the target image's id when that was
 * a derived image, the reference), command and environment (sandbox.h), and
 * the build-requirement files: the static ones (reqs, when reqs_ok) and the
 * ones fetched at build time, all or nothing (more than the protocol's bound:
 * none, said in the log). Appended to out as members each led by a comma.
 */
static void job__how(struct bjob *j, const struct sandbox_result *r, const char *image,
		     const char *base_id, const struct prefetch_file *reqs, size_t nreqs,
		     int reqs_ok, struct buf *out)
{
	size_t n = 0;

	if (r->image_id[0]) {
		buf_printf(out, ",\"image\":{\"id\":\"%s\"", r->image_id);
		if (base_id && !strncmp(base_id, "sha256:", 7))
			buf_printf(out, ",\"base\":\"%s\"", base_id);
		buf_puts(out, ",\"name\":");
		json_append_str(out, image);
		buf_putc(out, '}');
	}
	if (r->command)
		buf_printf(out, ",\"command\":%s", r->command);
	if (r->environment)
		buf_printf(out, ",\"environment\":%s", r->environment);
	if (!reqs_ok)
		return;
	if (nreqs + r->nrequirements > SANDBOX_MAX_REQUIREMENTS) {
		job__note(j, "build requirements not reported: %zu files, more than %d",
			  nreqs + r->nrequirements, SANDBOX_MAX_REQUIREMENTS);
		return;
	}
	buf_puts(out, ",\"build_requirements\":[");
	for (size_t k = 0; k < nreqs + r->nrequirements; k++) {
		const struct prefetch_file *f = k < nreqs ? &reqs[k] : &r->requirements[k - nreqs];

		buf_printf(out, "%s{\"filename\":", n++ ? "," : "");
		json_append_str(out, f->filename);
		buf_printf(out, ",\"sha256\":\"%s\"}", f->sha256);
	}
	buf_putc(out, ']');
}

/* Build in the target's image plus the project's Debian packages. 0 with ref set, or a finish was sent. */
static int job__derive(struct bjob *j, char *ref, char *base_id, uint64_t t0)
{
	const char *names[JOB_NATIVE_MAX];
	struct derived_spec ds;
	char state[1100];
	struct kerr e;
	int rc;

	kerr_clear(&e);
	for (size_t i = 0; i < j->nnative; i++)
		names[i] = j->native[i];
	snprintf(state, sizeof(state), "%s/builder/derived", config_get(j->cfg, CONFIG_DATA_DIR));
	memset(&ds, 0, sizeof(ds));
	ds.base_image = j->image;
	ds.project = j->project;
	ds.packages = names;
	ds.npackages = j->nnative;
	ds.owner = j->owner;
	ds.state_dir = state;
	ds.network = config_get(j->cfg, CONFIG_BUILDER_APT_NETWORK);
	ds.on_log = job__on_host_log;
	ds.log_ctx = j;
	ds.cancel = &j->cancel;
	rc = derived_ensure(j->docker, &ds, ref, NULL, base_id, &e);
	if (!rc) {
		char list[JOB_NATIVE_MAX * 65] = "";
		for (size_t i = 0; i < j->nnative; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? " " : "",
				 j->native[i]);
		job__note(j, "derived image %s: %s plus the project's packages %s", ref, j->image,
			  list);
	}
	if (!rc || stopflag_up(&j->cancel))
		return rc;
	job__note(j, "%s", e.msg);
	if (rc == KERR_NOTFOUND || rc == KERR_INVAL)
		job__finish_full(j, "failed", -1, (long long)(clock_now_ms() - t0), e.msg,
				 FAILCLASS_NATIVE_DEPENDENCY, NULL, NULL);
	else
		job__finish(j, "retry", -1, (long long)(clock_now_ms() - t0), e.msg);
	return rc;
}

/* After a job: drop the derived images nobody used for long (derived.h). */
static void job__gc(struct bjob *j)
{
	char state[1100];
	size_t removed = 0;
	struct kerr e;

	kerr_clear(&e);
	snprintf(state, sizeof(state), "%s/builder/derived", config_get(j->cfg, CONFIG_DATA_DIR));
	if (derived_gc(j->docker, j->owner, state,
		       (unsigned)config_get_int(j->cfg, CONFIG_BUILDER_DERIVED_MAX_AGE_DAYS),
		       (unsigned)config_get_int(j->cfg, CONFIG_BUILDER_DERIVED_MAX_COUNT), &removed, &e)) {
		char q[600];
		log_warn("derived image cleanup failed", "error=%s", log_quote(q, sizeof(q), e.msg));
	}
	else if (removed)
		log_info("derived images removed", "count=%zu", removed);
}

static void *job__main(void *arg)
{
	struct bjob *j = arg;
	struct sandbox_spec spec;
	struct sandbox_result res;
	struct prefetch_opts po;
	struct jobsource src;
	struct kerr e;
	char out_dir[1100], derived_ref[DERIVED_REF_MAX] = "", base_id[DERIVED_REF_MAX] = "";
	char farm_index[600];
	struct buf wheels = BUF_INIT(BUF_NOLIMIT), how = BUF_INIT(BUF_NOLIMIT);
	struct prefetch_file *reqs = NULL;
	size_t nreqs = 0;
	int reqs_ok = 1;
	uint64_t t0 = clock_now_ms();
	int rc, used_derived = 0;

	sandbox_result_init(&res);
	jobsource_init(&src);
	kerr_clear(&e);
	snprintf(j->work_dir, sizeof(j->work_dir), "%s/builder/job-%lld-%lld",
		 config_get(j->cfg, CONFIG_DATA_DIR), j->id, j->attempt);
	dirs_remove_tree(j->work_dir);
	if (dirs_mkdir_p(j->work_dir)) {
		job__finish(j, "retry", -1, 0, "builder could not create its work directory");
		goto done;
	}
	job__note(j, "job %lld attempt %lld: %s %s for %s, on builder with image %s", j->id, j->attempt,
		  j->project, j->version, j->target, j->image);

	job__progress(j, "fetching");
	job__progress(j, "prefetching");
	if (j->bad_native[0]) {
		/* Refused before anything runs: no download, no container. */
		job__note(j, "%s", j->bad_native);
		job__finish_full(j, "failed", -1, (long long)(clock_now_ms() - t0), j->bad_native,
				 FAILCLASS_NATIVE_DEPENDENCY, NULL, NULL);
		goto done;
	}
	rc = jobsource_prepare(j, &src, job__on_host_log, j, &e);
	if (rc) {
		/* The source came, so the build requirements did not; else the source did not. */
		int fetched = src.sdist_path[0] || src.source_dir[0];
		snprintf(j->requirement, sizeof(j->requirement), "%s", src.requirement);
		job__note(j, "%s", e.msg);
		job__finish_full(j, rc == KERR_AGAIN ? "retry" : "failed", -1, (long long)(clock_now_ms() - t0),
				 e.msg, fetched ? FAILCLASS_BUILD_REQUIREMENT : FAILCLASS_INFRASTRUCTURE,
				 NULL, NULL);
		goto done;
	}
	if (stopflag_up(&j->cancel))
		goto done;
	/* The static build requirements' files, hashed now: the sandbox takes them as they are. */
	if (prefetch_hash_dir(src.wheels_dir, SANDBOX_MAX_REQUIREMENTS, &reqs, &nreqs, &e)) {
		job__note(j, "build requirements not reported: %s", e.msg);
		reqs_ok = 0;
		kerr_clear(&e);
	}
	if (j->nnative) {
		if (job__derive(j, derived_ref, base_id, t0))
			goto done;
		used_derived = 1;
	}

	job__progress(j, "building");
	snprintf(out_dir, sizeof(out_dir), "%s/out", j->work_dir);
	mkdir(out_dir, 0755);
	memset(&spec, 0, sizeof(spec));
	spec.image = used_derived ? derived_ref : j->image;
	spec.sdist_path = src.sdist_path[0] ? src.sdist_path : NULL;
	spec.source_dir = src.source_dir[0] ? src.source_dir : NULL;
	spec.wheels_dir = src.wheels_dir[0] ? src.wheels_dir : NULL;
	spec.cargo_dir = src.cargo_dir[0] ? src.cargo_dir : NULL;
	spec.source_date_epoch = src.source_date_epoch;
	spec.out_dir = out_dir;
	spec.owner = j->owner;
	sandbox_limits_default(&spec.limits);
	spec.limits.memory_bytes = (uint64_t)j->memory_mib << 20;
	spec.limits.nano_cpus = j->cpus * 1000000000ll;
	spec.limits.pids = j->pids;
	spec.limits.timeout_s = (unsigned)j->timeout_s;
	spec.limits.log_cap_bytes = (uint64_t)j->log_bytes;
	spec.limits.output_cap_bytes = (uint64_t)j->output_bytes;
	spec.on_log = job__on_log;
	spec.log_ctx = j;
	spec.cancel = &j->cancel;
	/* Build requirements a backend names at build time: fetched as the static ones. */
	memset(&po, 0, sizeof(po));
	po.index_url = config_get(j->cfg, CONFIG_BUILD_INDEX_URL);
	jobsource_farm_index(j, farm_index, sizeof(farm_index));
	po.farm_index_url = farm_index;
	po.target.python_version = j->python_version;
	po.target.implementation = "cp";
	po.target.abi = j->python_tag;
	po.target.platforms = j->ladder.v;
	po.on_log = job__on_log;
	po.log_ctx = j;
	po.cancel = &j->cancel;
	spec.prefetch = &po;
	rc = sandbox_build(j->docker, &spec, &res, &e);
	failclass_end(j->fc);
	job__flush_log(j);
	if (stopflag_up(&j->cancel))
		goto done;
	if (rc) {
		job__note(j, "%s", e.msg);
		job__finish(j, "retry", -1, (long long)(clock_now_ms() - t0), e.msg);
		goto done;
	}
	if (res.reason[0] || res.nwheels == 0) {
		const char *why = res.reason[0] ? res.reason : "the build produced no wheel";
		struct failclass_facts facts;
		enum failclass_class cls;

		memset(&facts, 0, sizeof(facts));
		facts.stage = res.stage;
		facts.exit_code = res.exit_code;
		facts.oom = res.oom;
		facts.timed_out = res.timed_out;
		facts.log_capped = res.log_capped;
		cls = failclass_classify(j->fc, &facts);
		job__note(j, "%s", why);
		job__note(j, "failure class: %s", failclass_name(cls));
		if (cls == FAILCLASS_NATIVE_DEPENDENCY)
			job__suggest(j);
		job__finish_full(j, "failed", res.exit_code, (long long)(clock_now_ms() - t0), why, cls, NULL, NULL);
		goto done;
	}
	job__wheels_json(j, &res, &wheels);
	job__progress(j, "uploading");
	rc = job__upload(j, &res, &e);
	if (stopflag_up(&j->cancel))
		goto done;
	if (rc) {
		job__note(j, "%s", e.msg);
		job__finish(j, rc == KERR_AGAIN ? "retry" : "failed", res.exit_code, (long long)(clock_now_ms() - t0),
			    e.msg);
		goto done;
	}
	job__note(j, "built %zu wheel(s) in %.1f s", res.nwheels, (double)(clock_now_ms() - t0) / 1000);
	job__how(j, &res, spec.image, used_derived ? base_id : NULL, reqs, nreqs, reqs_ok, &how);
	job__finish_full(j, "succeeded", res.exit_code, (long long)(clock_now_ms() - t0), "", FAILCLASS_NONE,
			 wheels.ptr, how.ptr);
done:
	buf_release(&wheels);
	buf_release(&how);
	free(reqs);
	if (used_derived || j->nnative)
		job__gc(j);
	sandbox_result_release(&res);
	jobsource_release(&src);
	dirs_remove_tree(j->work_dir);
	stopflag_raise(&j->done);
	daemon_job_done(j->daemon, j);
	return NULL;
}

int job_start(struct bjob *j)
{
	j->started = 1;
	if (pthread_create(&j->thread, NULL, job__main, j)) {
		j->started = 0;
		return KERR_INTERNAL;
	}
	return 0;
}
