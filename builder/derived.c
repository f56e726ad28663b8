/* derived: derived images with a project's Debian packages (contract in derived.h). */
#include "builder/derived.h"

#include "builder/docker.h"
#include "builder/sandbox.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/dirs.h"
#include "common/kerr.h"
#include "common/sha256.h"
#include "common/xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DERIVED__TIMEOUT_DEFAULT 1800
#define DERIVED__RECENT_S 600 /* never evict an image used this recently */

/* One trusted step at a time per process: two jobs of one project wait for one build. */
static pthread_mutex_t derived__lock = PTHREAD_MUTEX_INITIALIZER;

int derived_package_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64)
		return 0;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789+.-") == n;
}

static void derived__note(const struct derived_spec *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void derived__note(const struct derived_spec *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT(1024);
	va_list ap;

	if (!s->on_log)
		return;
	buf_puts(&b, "kiln: ");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_putc(&b, '\n');
	s->on_log(s->log_ctx, SANDBOX_NOTE, b.ptr, b.len);
	buf_release(&b);
}

/* <state_dir>/<hex of id>.used */
static int derived__stamp_path(const char *state_dir, const char *id, char *out, size_t n)
{
	const char *hex = strchr(id, ':') ? strchr(id, ':') + 1 : id;
	return (size_t)snprintf(out, n, "%s/%s.used", state_dir, hex) >= n ? -1 : 0;
}

/* Mark image id as used now (best effort: a missing stamp only makes GC keep it longer). */
static void derived__touch(const char *state_dir, const char *id)
{
	char path[1200];
	int fd;

	if (dirs_mkdir_p(state_dir) || derived__stamp_path(state_dir, id, path, sizeof(path)))
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
}

struct derived__run {
	const struct derived_spec *s;
	long long deadline_ms;
	int stop; /* KERR_TIMEOUT or KERR_CONFLICT once the step must stop */
};

static int derived__tick(void *ctx)
{
	struct derived__run *r = ctx;

	if (stopflag_up(r->s->cancel))
		r->stop = KERR_CONFLICT;
	else if ((long long)clock_now_ms() >= r->deadline_ms)
		r->stop = KERR_TIMEOUT;
	return r->stop ? KERR_TIMEOUT : 0;
}

static int derived__frame(void *ctx, int stream, const char *p, size_t n)
{
	struct derived__run *r = ctx;

	if (r->s->on_log)
		r->s->on_log(r->s->log_ctx, stream == 1 ? SANDBOX_STDOUT : SANDBOX_STDERR, p, n);
	return derived__tick(r);
}

/* The shell script of the trusted step. Names are valid (derived_package_valid): no quoting needed. */
static void derived__script(const struct derived_spec *s, struct buf *b)
{
	buf_puts(b, "set -e\nexport DEBIAN_FRONTEND=noninteractive\n"
		    "apt-get update -q\nunknown=\nfor p in");
	for (size_t i = 0; i < s->npackages; i++)
		buf_printf(b, " %s", s->packages[i]);
	buf_printf(b, "; do\n  apt-cache show --no-all-versions -- \"$p\" >/dev/null 2>&1 || "
		      "unknown=\"$unknown $p\"\ndone\n"
		      "if [ -n \"$unknown\" ]; then echo \"kiln: no such Debian package:$unknown\" >&2; "
		      "exit %d; fi\n"
		      "apt-get install -y -q --no-install-recommends --", DERIVED_EXIT_UNKNOWN);
	for (size_t i = 0; i < s->npackages; i++)
		buf_printf(b, " %s", s->packages[i]);
	buf_puts(b, "\napt-get clean\nrm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin\n");
}

/* Run the trusted step in a new container of the base image and commit it as ref. */
static int derived__build(struct docker *d, const struct derived_spec *s, const char *hash,
			  char *image_id, struct kerr *e)
{
	cJSON *cfg = cJSON_CreateObject(), *commit = cJSON_CreateObject(), *cmd, *labels, *host;
	struct buf script = BUF_INIT(BUF_NOLIMIT);
	struct derived__run run = { s, 0, 0 };
	char cid[DOCKER_ID_MAX] = "", platform[64] = "";
	struct docker_state st;
	struct kerr e2;
	long status = -1;
	int rc;

	derived__script(s, &script);
	cJSON_AddStringToObject(cfg, "Image", s->base_image);
	cmd = cJSON_AddArrayToObject(cfg, "Cmd");
	cJSON_AddItemToArray(cmd, cJSON_CreateString("/bin/sh"));
	cJSON_AddItemToArray(cmd, cJSON_CreateString("-c"));
	cJSON_AddItemToArray(cmd, cJSON_CreateString(script.ptr));
	labels = cJSON_AddObjectToObject(cfg, "Labels");
	cJSON_AddStringToObject(labels, "org.kiln.derive", hash);
	if (s->owner)
		cJSON_AddStringToObject(labels, "org.kiln.builder", s->owner);
	host = cJSON_AddObjectToObject(cfg, "HostConfig");
	/* apt needs the mirror; nothing but apt runs here. */
	cJSON_AddStringToObject(host, "NetworkMode", s->network && *s->network ? s->network : "bridge");
	/* A base image of another architecture: apt runs under emulation, as the build will. */
	if ((rc = docker_image_platform(d, s->base_image, platform, e)) ||
	    (rc = docker_create_on(d, NULL, platform, cfg, cid, e)) || (rc = docker_start(d, cid, e)))
		goto out;
	run.deadline_ms = (long long)clock_now_ms() + 1000ll * (s->timeout_s ? s->timeout_s
							: DERIVED__TIMEOUT_DEFAULT);
	rc = docker_logs(d, cid, 1, derived__frame, derived__tick, &run, e);
	if (!rc)
		rc = docker_wait(d, cid, derived__tick, &run, &status, e);
	if (run.stop) {
		rc = kerr_set(e, run.stop, "installing the project's Debian packages %s",
			      run.stop == KERR_CONFLICT ? "was cancelled" : "timed out");
		goto out;
	}
	if (rc)
		goto out;
	if (!docker_inspect(d, cid, &st, &e2) && st.oom_killed) {
		rc = kerr_set(e, KERR_IO, "installing the project's Debian packages ran out of memory");
		goto out;
	}
	if (status == DERIVED_EXIT_UNKNOWN) {
		rc = kerr_set(e, KERR_NOTFOUND, "the project's Debian packages are not all in the suite "
			      "(see the log)");
		goto out;
	}
	if (status != 0) {
		rc = kerr_set(e, KERR_IO, "installing the project's Debian packages failed with exit "
			      "code %ld", status);
		goto out;
	}
	/* The image keeps the base's Cmd, Env and WorkingDir; these labels replace the step's. */
	cmd = cJSON_AddArrayToObject(commit, "Cmd");
	cJSON_AddItemToArray(cmd, cJSON_CreateString("/bin/bash"));
	labels = cJSON_AddObjectToObject(commit, "Labels");
	cJSON_AddStringToObject(labels, "org.kiln.derived", hash);
	cJSON_AddStringToObject(labels, "org.kiln.derived-by", s->owner ? s->owner : "");
	cJSON_AddStringToObject(labels, "org.kiln.project", s->project);
	rc = docker_commit(d, cid, DERIVED_REPO, hash, commit, image_id, e);
out:
	if (cid[0]) {
		kerr_clear(&e2);
		docker_remove(d, cid, &e2);
	}
	buf_release(&script);
	cJSON_Delete(cfg);
	cJSON_Delete(commit);
	return rc;
}

int derived_ensure(struct docker *d, const struct derived_spec *s, char *ref, int *built,
		   char *base_id_out, struct kerr *e)
{
	char base_id[DOCKER_ID_MAX], id[DOCKER_ID_MAX], hash[SHA256_HEX_LEN + 1];
	struct sha256 h;
	uint64_t t0 = clock_now_ms();
	int rc, locked = 0;

	ref[0] = '\0';
	if (built)
		*built = 0;
	if (s->npackages == 0 || s->npackages > DERIVED_MAX_PACKAGES)
		return kerr_set(e, KERR_INVAL, "1 to %d Debian packages, not %zu",
				DERIVED_MAX_PACKAGES, s->npackages);
	for (size_t i = 0; i < s->npackages; i++) {
		if (!derived_package_valid(s->packages[i]))
			return kerr_set(e, KERR_INVAL, "bad Debian package name '%.80s'", s->packages[i]);
		if (i > 0 && strcmp(s->packages[i - 1], s->packages[i]) >= 0)
			return kerr_set(e, KERR_INVAL, "Debian packages not sorted and distinct at '%s'",
					s->packages[i]);
	}
	if ((rc = docker_image_id(d, s->base_image, base_id, e)))
		return rc;
	if ((rc = sha256_init(&h)))
		return kerr_set(e, rc, "sha256 init failed");
	sha256_update(&h, base_id, strlen(base_id));
	sha256_update(&h, "\n", 1);
	sha256_update(&h, s->project, strlen(s->project));
	for (size_t i = 0; i < s->npackages; i++) {
		sha256_update(&h, "\n", 1);
		sha256_update(&h, s->packages[i], strlen(s->packages[i]));
	}
	rc = sha256_final_hex(&h, hash);
	sha256_release(&h);
	if (rc)
		return kerr_set(e, rc, "sha256 failed");
	hash[24] = '\0';
	snprintf(ref, DERIVED_REF_MAX, "%s:%s", DERIVED_REPO, hash);

	pthread_mutex_lock(&derived__lock);
	locked = 1;
	rc = docker_image_id(d, ref, id, e);
	if (rc == 0) {
		derived__note(s, "using derived image %s (%s plus %zu Debian package(s))", ref,
			      s->base_image, s->npackages);
		goto done;
	}
	if (rc != KERR_NOTFOUND)
		goto fail;
	kerr_clear(e);
	{
		struct buf list = BUF_INIT(BUF_NOLIMIT);
		for (size_t i = 0; i < s->npackages; i++)
			buf_printf(&list, "%s%s", i ? " " : "", s->packages[i]);
		derived__note(s, "building derived image %s: %s plus %s (apt-get, outside the sandbox)",
			      ref, s->base_image, list.ptr);
		buf_release(&list);
	}
	if ((rc = derived__build(d, s, hash, id, e)))
		goto fail;
	if (built)
		*built = 1;
	derived__note(s, "built derived image %s in %.1f s", ref,
		      (double)(clock_now_ms() - t0) / 1000);
done:
	if (base_id_out)
		snprintf(base_id_out, DERIVED_REF_MAX, "%s", base_id);
	derived__touch(s->state_dir, id);
	pthread_mutex_unlock(&derived__lock);
	return 0;
fail:
	if (locked)
		pthread_mutex_unlock(&derived__lock);
	ref[0] = '\0';
	return rc;
}

struct derived__img {
	char *id;
	time_t used;
};

static int derived__by_use(const void *a, const void *b)
{
	const struct derived__img *x = a, *y = b;
	/* most recently used first */
	return x->used < y->used ? 1 : x->used > y->used ? -1 : strcmp(x->id, y->id);
}

int derived_gc(struct docker *d, const char *owner, const char *state_dir, unsigned max_age_days,
	       unsigned max_count, size_t *removed, struct kerr *e)
{
	char label[256], path[1200];
	char **ids = NULL;
	struct derived__img *imgs = NULL;
	size_t n = 0, count = 0;
	time_t now = time(NULL);
	int rc, first = 0;

	if (removed)
		*removed = 0;
	snprintf(label, sizeof(label), "org.kiln.derived-by=%s", owner ? owner : "");
	if ((rc = docker_list_images(d, label, &ids, &n, e)))
		return rc;
	imgs = xcalloc(n ? n : 1, sizeof(*imgs));
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		imgs[i].id = ids[i];
		imgs[i].used = now;
		if (derived__stamp_path(state_dir, ids[i], path, sizeof(path)))
			continue;
		if (!stat(path, &st))
			imgs[i].used = st.st_mtime;
		else
			derived__touch(state_dir, ids[i]); /* first seen now: its age starts here */
	}
	qsort(imgs, n, sizeof(*imgs), derived__by_use);
	for (size_t i = 0; i < n; i++) {
		long long age = (long long)(now - imgs[i].used);
		struct kerr e2;
		int r;

		if (age < (long long)max_age_days * 86400 && (i < max_count || age < DERIVED__RECENT_S))
			continue;
		kerr_clear(&e2);
		r = docker_image_remove(d, imgs[i].id, &e2);
		if (r == KERR_CONFLICT)
			continue; /* a container uses it: next time */
		if (r) {
			if (!first) {
				first = 1;
				rc = r;
				kerr_set(e, r, "%s", e2.msg);
			}
			continue;
		}
		if (!derived__stamp_path(state_dir, imgs[i].id, path, sizeof(path)))
			unlink(path);
		count++;
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(imgs);
	if (removed)
		*removed = count;
	return rc;
}
