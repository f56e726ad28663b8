/*
 * sandbox: one build in a container (contract and design in sandbox.h and
 * docs/builds.md). The steps, each undone in sandbox__cleanup whatever happens:
 * volume, keeper container, build container, input archive in, start, stream the
 * log under the clock, wait, inspect, the driver's result read, output archive
 * out, wheels extracted. When the driver asks for build requirements that are
 * not in the sandbox (exit DRIVER_EXIT_FETCH), the host downloads them, puts
 * them into the same /work and runs a second build container there.
 */
#include "builder/sandbox.h"

#include "builder/crates.h"
#include "builder/docker.h"
#include "builder/driver.h"
#include "builder/failclass.h"
#include "builder/prefetch.h"
#include "builder/wheelout.h"
#include "builder/worktar.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <cjson/cJSON.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX__UID 1000 /* the image's build user, kiln */
#define SANDBOX__KILL_GRACE_S 60    /* how long a killed container may take to stop */
#define SANDBOX__ARCHIVE_SLACK (1u << 20) /* tar headers around the wheels */
#define MIB (1024ull * 1024)

enum sandbox__stop { STOP_NONE = 0, STOP_TIMEOUT, STOP_CANCEL, STOP_LOGCAP };

struct sandbox__job {
	const struct sandbox_spec *spec;
	struct sandbox_limits lim;
	struct sandbox_result *res;
	char tag[17];                  /* random hex naming this job's objects */
	char volume[64], keeper_name[64], build_name[64];
	char keeper[DOCKER_ID_MAX], build[DOCKER_ID_MAX];
	char platform[64];             /* the image's, when foreign (emulated); else "" */
	int have_volume;
	uint64_t deadline_ms;          /* monotonic; 0 = none yet */
	uint64_t end_ms;               /* the build's clock, shared by both rounds */
	enum sandbox__stop stop;
	int round;                     /* 1, or 2 after a fetch of dynamic requirements */
	struct driver_result dr;       /* what the driver wrote, when readable */
};

void sandbox_limits_default(struct sandbox_limits *l)
{
	l->memory_bytes = 4096 * MIB;
	l->nano_cpus = 2000000000;
	l->pids = 1024;
	l->timeout_s = 3600;
	l->log_cap_bytes = 16 * MIB;
	l->output_cap_bytes = 1024 * MIB;
	l->tmp_bytes = 4096 * MIB;
	l->work_bytes = 2048 * MIB;
}

void sandbox_result_init(struct sandbox_result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
}

void sandbox_result_release(struct sandbox_result *r)
{
	free(r->command);
	free(r->environment);
	free(r->requirements);
	driver_reports_free(r->reports, r->nwheels);
	for (size_t i = 0; i < r->nwheels; i++)
		free(r->wheels[i]);
	free(r->wheels);
	sandbox_result_init(r);
}

static void sandbox__note(struct sandbox__job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sandbox__note(struct sandbox__job *j, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (!j->spec->on_log)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	j->spec->on_log(j->spec->log_ctx, SANDBOX_NOTE, line, (size_t)n);
}

static int sandbox__cancelled(const struct sandbox__job *j)
{
	return stopflag_up(j->spec->cancel);
}

/* --- the input archive ---------------------------------------------------- */

/* An anonymous temporary file in $TMPDIR (or /tmp): already unlinked. */
static int sandbox__tmpfile(struct kerr *e)
{
	const char *tmp = getenv("TMPDIR");
	char tpl[4096];
	int fd;

	if (!tmp || !*tmp || strlen(tmp) > sizeof(tpl) - 32)
		tmp = "/tmp";
	snprintf(tpl, sizeof(tpl), "%s/kiln-sandbox-XXXXXX", tmp);
	if ((fd = mkstemp(tpl)) < 0)
		return kerr_set(e, KERR_IO, "could not create a temporary file in '%s': %s", tmp,
				strerror(errno));
	unlink(tpl);
	return fd;
}

/* Write the archive that becomes /work into a fresh unlinked temp file, rewound. */
static int sandbox__input(const struct sandbox_spec *spec, int *fdp, struct kerr *e)
{
	int fd, rc;

	*fdp = -1;
	if ((fd = sandbox__tmpfile(e)) < 0)
		return fd;
	if ((rc = worktar_write(fd, spec->sdist_path, spec->source_dir, spec->wheels_dir,
				 spec->cargo_dir, e)))
		goto fail;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = kerr_set(e, KERR_IO, "could not rewind the input archive: %s", strerror(errno));
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

/* --- container configurations ---------------------------------------------- */

static cJSON *sandbox__strings(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();

	for (; *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

/* What both containers share: the hardening, the user, the /work volume, labels. */
static cJSON *sandbox__base_config(const struct sandbox__job *j, const char *role,
				   cJSON **hostp)
{
	static const char *const cap_drop[] = { "ALL", NULL };
	static const char *const sec_opt[] = { "no-new-privileges", NULL };
	cJSON *c = cJSON_CreateObject(), *host, *labels, *mounts, *m;

	cJSON_AddStringToObject(c, "Image", j->spec->image);
	cJSON_AddStringToObject(c, "User", "1000:1000");
	cJSON_AddStringToObject(c, "WorkingDir", "/work");
	cJSON_AddBoolToObject(c, "Tty", 0);
	cJSON_AddBoolToObject(c, "OpenStdin", 0);
	cJSON_AddBoolToObject(c, "NetworkDisabled", 1);
	labels = cJSON_AddObjectToObject(c, "Labels");
	cJSON_AddStringToObject(labels, "org.kiln.job", j->tag);
	cJSON_AddStringToObject(labels, "org.kiln.role", role);
	if (j->spec->owner)
		cJSON_AddStringToObject(labels, "org.kiln.builder", j->spec->owner);

	host = cJSON_AddObjectToObject(c, "HostConfig");
	cJSON_AddStringToObject(host, "NetworkMode", "none");
	cJSON_AddStringToObject(host, "IpcMode", "private");
	cJSON_AddItemToObject(host, "CapDrop", sandbox__strings(cap_drop));
	cJSON_AddItemToObject(host, "SecurityOpt", sandbox__strings(sec_opt));
	cJSON_AddBoolToObject(host, "ReadonlyRootfs", 1);
	cJSON_AddBoolToObject(host, "Privileged", 0);
	mounts = cJSON_AddArrayToObject(host, "Mounts");
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "Type", "volume");
	cJSON_AddStringToObject(m, "Source", j->volume);
	cJSON_AddStringToObject(m, "Target", "/work");
	cJSON_AddItemToArray(mounts, m);
	*hostp = host;
	return c;
}

/* The keeper only holds the /work volume mounted: it sleeps, with tiny limits. */
static cJSON *sandbox__keeper_config(const struct sandbox__job *j)
{
	static const char *const cmd[] = { "sleep", "infinity", NULL };
	cJSON *host, *c = sandbox__base_config(j, "keeper", &host), *log;

	cJSON_AddItemToObject(c, "Cmd", sandbox__strings(cmd));
	cJSON_AddNumberToObject(host, "Memory", (double)(32 * MIB));
	cJSON_AddNumberToObject(host, "MemorySwap", (double)(32 * MIB));
	cJSON_AddNumberToObject(host, "NanoCpus", 100000000.0);
	cJSON_AddNumberToObject(host, "PidsLimit", 4);
	log = cJSON_AddObjectToObject(host, "LogConfig");
	cJSON_AddStringToObject(log, "Type", "none");
	return c;
}

/* The build container's argv into cmd, with script as the driver (argv[3]). */
static void sandbox__argv(const struct sandbox__job *j, cJSON *cmd, const char *script)
{
	char src[512], round[8];

	if (j->spec->sdist_path) {
		const char *base = strrchr(j->spec->sdist_path, '/');
		snprintf(src, sizeof(src), "/work/src/%s", base ? base + 1 : j->spec->sdist_path);
	} else {
		snprintf(src, sizeof(src), "/work/src");
	}
	snprintf(round, sizeof(round), "%d", j->round);
	{
		const char *const argv[] = { "python3", "-I", "-c", script, "--src", src,
			"--round", round, NULL };
		for (const char *const *a = argv; *a; a++)
			cJSON_AddItemToArray(cmd, cJSON_CreateString(*a));
	}
}

/*
 * The build container's environment. With epoch > 0 and none given by the
 * spec, SOURCE_DATE_EPOCH=epoch is added: the one the driver chose, for the
 * record of what ran (the container itself gets only the spec's).
 */
static cJSON *sandbox__env(const struct sandbox__job *j, long long epoch)
{
	/*
	 * The normalizations of a reproducible build (docs/builds.md,
	 * "Reproducible builds"): locale, time zone, hash seed; the driver
	 * sets the umask and, unless given here, SOURCE_DATE_EPOCH.
	 */
	static const char *const vars[] = {
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC", "PYTHONHASHSEED=0",
		"HOME=/tmp", "TMPDIR=/tmp",
		"PIP_NO_INDEX=1", "PIP_FIND_LINKS=/opt/kiln/wheels /work/job-wheels",
		"PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1",
		"PIP_ROOT_USER_ACTION=ignore", "PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		/* Rust: the crates vendored on the host, offline (crates.h). */
		"CARGO_HOME=" CRATES_SANDBOX_HOME, "CARGO_NET_OFFLINE=true",
		"CARGO_TERM_COLOR=never", NULL };
	cJSON *env = sandbox__strings(vars);
	char v[48];

	if (j->spec->source_date_epoch > 0)
		epoch = j->spec->source_date_epoch;
	if (epoch > 0) {
		snprintf(v, sizeof(v), "SOURCE_DATE_EPOCH=%lld", epoch);
		cJSON_AddItemToArray(env, cJSON_CreateString(v));
	}
	return env;
}

/*
 * Record in the result how the last build container ran (sandbox.h): its
 * argv with the driver named by its hash (the script itself is some 30 KiB,
 * and the builder's version says which it is), its environment.
 */
static void sandbox__record(struct sandbox__job *j)
{
	char hex[SHA256_HEX_LEN + 1], script_ref[96];
	cJSON *cmd = cJSON_CreateArray(), *env;
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	if (sha256_hex(driver_script, driver_script_len, hex))
		snprintf(hex, sizeof(hex), "unknown");
	snprintf(script_ref, sizeof(script_ref), "<kiln_build.py sha256:%s>", hex);
	sandbox__argv(j, cmd, script_ref);
	env = sandbox__env(j, j->dr.source_date_epoch);
	free(j->res->command);
	free(j->res->environment);
	j->res->command = json_print(cmd, &b) ? NULL : buf_detach(&b, NULL);
	buf_release(&b);
	buf_init(&b, BUF_NOLIMIT);
	j->res->environment = json_print(env, &b) ? NULL : buf_detach(&b, NULL);
	buf_release(&b);
	cJSON_Delete(cmd);
	cJSON_Delete(env);
}

static cJSON *sandbox__build_config(const struct sandbox__job *j)
{
	const struct sandbox_limits *l = &j->lim;
	cJSON *host, *c = sandbox__base_config(j, "build", &host), *cmd, *env, *tmpfs, *log, *cfg;
	cJSON *ul, *u;
	char opt[160], size[32];

	/*
	 * The driver goes in as the command line itself, not as a file in /work:
	 * the project's code of a first round could change any file there before a
	 * second round runs.
	 */
	cmd = cJSON_AddArrayToObject(c, "Cmd");
	sandbox__argv(j, cmd, driver_script);
	env = sandbox__env(j, 0);
	cJSON_AddItemToObject(c, "Env", env);
	cJSON_AddNumberToObject(host, "Memory", (double)l->memory_bytes);
	cJSON_AddNumberToObject(host, "MemorySwap", (double)l->memory_bytes);
	cJSON_AddNumberToObject(host, "NanoCpus", (double)l->nano_cpus);
	cJSON_AddNumberToObject(host, "PidsLimit", (double)l->pids);
	tmpfs = cJSON_AddObjectToObject(host, "Tmpfs");
	snprintf(opt, sizeof(opt), "rw,exec,nosuid,nodev,mode=1777,size=%llu",
		 (unsigned long long)l->tmp_bytes);
	cJSON_AddStringToObject(tmpfs, "/tmp", opt);
	/* No core dumps (they would land in the tmpfs); a bounded fd table. */
	ul = cJSON_AddArrayToObject(host, "Ulimits");
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "Name", "core");
	cJSON_AddNumberToObject(u, "Soft", 0);
	cJSON_AddNumberToObject(u, "Hard", 0);
	cJSON_AddItemToArray(ul, u);
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "Name", "nofile");
	cJSON_AddNumberToObject(u, "Soft", 4096);
	cJSON_AddNumberToObject(u, "Hard", 4096);
	cJSON_AddItemToArray(ul, u);
	/* The daemon keeps the log on disk while we follow it: bound that file too. */
	log = cJSON_AddObjectToObject(host, "LogConfig");
	cJSON_AddStringToObject(log, "Type", "json-file");
	cfg = cJSON_AddObjectToObject(log, "Config");
	snprintf(size, sizeof(size), "%llu",
		 (unsigned long long)(l->log_cap_bytes * 8 + 4 * MIB));
	cJSON_AddStringToObject(cfg, "max-size", size);
	cJSON_AddStringToObject(cfg, "max-file", "2");
	return c;
}

static int sandbox__create(struct docker *d, const struct sandbox__job *j, const char *name,
			   cJSON *config, char id[DOCKER_ID_MAX], struct kerr *e)
{
	int rc = docker_create_on(d, name, j->platform, config, id, e);

	cJSON_Delete(config);
	return rc;
}

/* --- running --------------------------------------------------------------- */

/* Polled by the long Docker calls: the wall clock and the cancel flag. */
static int sandbox__tick(void *ctx)
{
	struct sandbox__job *j = ctx;

	if (j->stop)
		return KERR_TIMEOUT;
	if (sandbox__cancelled(j)) {
		j->stop = STOP_CANCEL;
		return KERR_TIMEOUT;
	}
	if (j->deadline_ms && clock_now_ms() >= j->deadline_ms) {
		j->stop = STOP_TIMEOUT;
		return KERR_TIMEOUT;
	}
	return 0;
}

/* After a kill: wait under a short deadline of its own, not the build's clock. */
static int sandbox__grace_tick(void *ctx)
{
	struct sandbox__job *j = ctx;

	return clock_now_ms() >= j->deadline_ms ? KERR_TIMEOUT : 0;
}

static int sandbox__frame(void *ctx, int stream, const char *p, size_t n)
{
	struct sandbox__job *j = ctx;
	uint64_t room = j->lim.log_cap_bytes - j->res->log_bytes;
	int over = n > room;

	if (over)
		n = (size_t)room;
	if (n && j->spec->on_log)
		j->spec->on_log(j->spec->log_ctx, stream == SANDBOX_STDOUT ? SANDBOX_STDOUT
				: SANDBOX_STDERR, p, n);
	j->res->log_bytes += n;
	if (over) {
		j->stop = STOP_LOGCAP;
		return KERR_TOOBIG;
	}
	return sandbox__tick(j);
}

static void sandbox__reason(struct sandbox__job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sandbox__reason(struct sandbox__job *j, const char *fmt, ...)
{
	va_list ap;

	if (j->res->reason[0])
		return; /* the first reason is the real one */
	va_start(ap, fmt);
	vsnprintf(j->res->reason, sizeof(j->res->reason), fmt, ap);
	va_end(ap);
}

/* A stop (cancel, clock) that interrupted a Docker call is a verdict, not an error. */
static int sandbox__stopped(struct sandbox__job *j)
{
	switch (j->stop) {
	case STOP_CANCEL:
		j->res->cancelled = 1;
		sandbox__reason(j, "cancelled");
		return 1;
	case STOP_TIMEOUT:
		j->res->timed_out = 1;
		sandbox__reason(j, "timed out after %u s", j->lim.timeout_s);
		return 1;
	case STOP_LOGCAP:
		j->res->log_capped = 1;
		sandbox__reason(j, "log exceeded %llu bytes",
				(unsigned long long)j->lim.log_cap_bytes);
		return 1;
	case STOP_NONE:
		break;
	}
	return 0;
}

/* Kill the build and wait (briefly, on a clock of its own) until it has stopped. */
static int sandbox__kill(struct docker *d, struct sandbox__job *j, long *status, struct kerr *e)
{
	int rc;

	if ((rc = docker_kill(d, j->build, e)))
		return rc;
	j->deadline_ms = clock_now_ms() + SANDBOX__KILL_GRACE_S * 1000u;
	return docker_wait(d, j->build, sandbox__grace_tick, j, status, e);
}

/* Stream the log until the container stops or must be stopped; then judge it. */
/*
 * A failed build whose input is gone from /work was not the project's failure:
 * the work volume did not hold (seen once in a chaos run: pip found no sdist at
 * /work/src). That happens when the volume's tmpfs is unmounted between the
 * input archive and the start, e.g. when the keeper container, the volume's
 * one steady user, stops: Docker then mounts a fresh, empty tmpfs for the
 * build. The build user cannot remove the input (src/ is root's), so a missing
 * input is never the build's doing. 0 if the input is there; else an error (no
 * verdict: the job runs again), saying what the keeper was doing.
 */
static int sandbox__check_input(struct docker *d, struct sandbox__job *j, struct kerr *e)
{
	char path[600];
	struct docker_state ks;
	struct kerr ie;
	int exists = 0, rc;

	if (j->spec->sdist_path) {
		const char *base = strrchr(j->spec->sdist_path, '/');
		snprintf(path, sizeof(path), "/work/src/%s", base ? base + 1 : j->spec->sdist_path);
	} else {
		snprintf(path, sizeof(path), "/work/src");
	}
	if ((rc = docker_path_exists(d, j->build, path, &exists, e)))
		return rc;
	if (exists)
		return 0;
	memset(&ks, 0, sizeof(ks));
	if (docker_inspect(d, j->keeper, &ks, &ie))
		snprintf(ks.status, sizeof(ks.status), "unknown (%.20s)", ie.msg);
	return kerr_set(e, KERR_AGAIN,
			"sandbox: the build's input (%s) was gone from its work volume when the build "
			"ran; the keeper container holding the volume was %s (exit code %d%s%s%s): not "
			"the project's failure, the job runs again",
			path, ks.status, ks.exit_code, ks.oom_killed ? ", killed: out of memory" : "",
			ks.error[0] ? ", " : "", ks.error);
}

static int sandbox__run(struct docker *d, struct sandbox__job *j, struct kerr *e)
{
	struct docker_state st;
	struct kerr le;
	uint64_t t0;
	long status = -1;
	int rc;

	kerr_clear(&le);
	t0 = clock_now_ms();
	if (!j->end_ms)
		j->end_ms = t0 + (uint64_t)j->lim.timeout_s * 1000u;
	j->deadline_ms = j->end_ms;
	if ((rc = docker_start(d, j->build, e)))
		return rc;
	rc = docker_logs(d, j->build, 1, sandbox__frame, sandbox__tick, j, &le);
	if (rc && !j->stop) {
		/* Docker failed us, not the build: stop it and report that. */
		sandbox__kill(d, j, &status, NULL);
		return kerr_set(e, rc, "%s", le.msg);
	}
	if (!rc) {
		/* The log ended: the container has stopped, or is about to. */
		rc = docker_wait(d, j->build, sandbox__tick, j, &status, &le);
		if (rc && !j->stop)
			return kerr_set(e, rc, "%s", le.msg);
	}
	if (j->stop && (rc = sandbox__kill(d, j, &status, e)))
		return rc;
	j->res->duration_ms += clock_now_ms() - t0;
	if ((rc = docker_inspect(d, j->build, &st, e)))
		return rc;
	if (st.exit_code != 0 && !st.oom_killed && !j->stop && (rc = sandbox__check_input(d, j, e)))
		return rc;
	j->res->exit_code = st.exit_code;
	j->res->oom = st.oom_killed;
	/* What the container really ran: the tag could have moved to a new image since. */
	if (!strncmp(st.image, "sha256:", 7))
		snprintf(j->res->image_id, sizeof(j->res->image_id), "%s", st.image);
	sandbox__stopped(j);
	if (st.oom_killed)
		sandbox__reason(j, "killed: out of memory (limit %llu MiB)",
				(unsigned long long)(j->lim.memory_bytes / MIB));
	return 0;
}

/*
 * Read /work/result.json into j->dr. Whatever goes wrong (no file: the build
 * was killed before the driver wrote it; a forged or broken file) leaves j->dr
 * empty with a note: the exit code alone then decides.
 */
static void sandbox__read_result(struct docker *d, struct sandbox__job *j)
{
	struct buf b = BUF_INIT(DRIVER_RESULT_MAX);
	struct kerr re;
	int fd, rc;

	driver_result_release(&j->dr);
	kerr_clear(&re);
	if ((fd = sandbox__tmpfile(&re)) < 0)
		goto out;
	/* Read even after a kill (it tells the stage): a short clock of its own. */
	j->deadline_ms = clock_now_ms() + SANDBOX__KILL_GRACE_S * 1000u;
	if ((rc = docker_get_archive(d, j->build, DRIVER_RESULT_PATH, fd,
				     DRIVER_RESULT_MAX + SANDBOX__ARCHIVE_SLACK, sandbox__grace_tick,
				     j, &re)))
		goto out;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		kerr_set(&re, KERR_IO, "%s", strerror(errno));
		goto out;
	}
	if ((rc = driver_result_untar(fd, DRIVER_RESULT_MAX, &b, &re)))
		goto out;
	driver_result_parse(b.ptr, b.len, &j->dr, &re);
out:
	if (re.msg[0] && j->res->exit_code != 0)
		sandbox__note(j, "kiln: no usable result from the build driver: %.200s", re.msg);
	if (fd >= 0)
		close(fd);
	buf_release(&b);
}

/* The verdict of a build that ran: res->stage and res->reason from the exit code. */
static void sandbox__judge(struct sandbox__job *j)
{
	struct sandbox_result *r = j->res;
	const char *why = j->dr.reason;
	static const char prefix[] = "does not import on CPython ";

	if (r->exit_code == 0 && !r->reason[0])
		return;
	if (r->reason[0]) {
		/* Stopped (clock, cancel, log cap) or killed: the stage it was in. */
		r->stage = j->dr.stage != SANDBOX_STAGE_NONE ? j->dr.stage : SANDBOX_STAGE_BUILD;
		return;
	}
	switch (r->exit_code) {
	case DRIVER_EXIT_REQUIRES:
	case DRIVER_EXIT_FETCH:
		r->stage = SANDBOX_STAGE_REQUIRES;
		if (r->exit_code == DRIVER_EXIT_FETCH && j->dr.nrequires)
			sandbox__reason(j, "build requirements not available to the build: %.120s%s",
					j->dr.requires[0], j->dr.nrequires > 1 ? ", ..." : "");
		sandbox__reason(j, "%s", *why ? why : "build requirements could not be installed");
		break;
	case DRIVER_EXIT_REPAIR:
		r->stage = SANDBOX_STAGE_REPAIR;
		sandbox__reason(j, "%s", *why ? why : "auditwheel repair failed");
		break;
	case DRIVER_EXIT_IMPORT:
		r->stage = SANDBOX_STAGE_IMPORT;
		if (!strncmp(why, prefix, sizeof(prefix) - 1))
			sandbox__reason(j, "%s", why);
		else
			sandbox__reason(j, "does not import (the import check failed)");
		break;
	case DRIVER_EXIT_INTERNAL:
		/* Kiln's own bug (the traceback is in the log): no stage of the project's. */
		r->stage = SANDBOX_STAGE_NONE;
		if (*why)
			sandbox__reason(j, "the build driver failed: %s", why);
		else
			sandbox__reason(j, "the build driver failed (exit code %d)", r->exit_code);
		break;
	default:
		r->stage = SANDBOX_STAGE_BUILD;
		sandbox__reason(j, "build failed with exit code %d", r->exit_code);
		break;
	}
}

/* Remove a flat directory of files (pip download's destination). */
static void sandbox__rmdir_flat(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int dfd = dp ? dirfd(dp) : -1;

	while (dp && (de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		unlinkat(dfd, de->d_name, 0);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
}

/* Put the archive in fd into the build container's /work; "no space left" is a verdict. */
static int sandbox__put(struct docker *d, struct sandbox__job *j, int fd, int *verdict,
			struct kerr *e)
{
	struct kerr pe;
	int rc;

	*verdict = 0;
	if (!(rc = docker_put_archive(d, j->build, "/work", fd, &pe)))
		return 0;
	if (!failclass_is_nospace(pe.msg))
		return kerr_set(e, rc, "%s", pe.msg);
	/* The project's fault, not the builder's: a verdict. */
	sandbox__reason(j, "source exceeded the work space of %llu bytes",
			(unsigned long long)j->lim.work_bytes);
	*verdict = 1;
	return 0;
}

/*
 * The second round: the backend named build requirements that the sandbox does
 * not have (j->dr.requires). Check and download them on the host exactly as the
 * static ones, add them to /work/job-wheels and run the driver again in a new
 * build container on the same volume. 0 with a verdict in res (reason set) or
 * with the second round run; an error when the builder could not do it.
 */
static int sandbox__fetch_round(struct docker *d, struct sandbox__job *j, struct kerr *e)
{
	const struct sandbox_spec *spec = j->spec;
	struct prefetch_reqs reqs;
	struct kerr pe;
	char dir[4096], name[80];
	const char *tmp = getenv("TMPDIR");
	int fd = -1, rc, verdict = 0;

	memset(&reqs, 0, sizeof(reqs));
	dir[0] = '\0';
	kerr_clear(&pe);
	sandbox__note(j, "kiln: the build backend asks for %zu build requirement(s) the sandbox "
		      "does not have: fetching them on the host", j->dr.nrequires);
	rc = prefetch_check_list(spec->prefetch, j->dr.requires, j->dr.nrequires, &reqs, &pe);
	if (rc == KERR_INVAL) {
		j->res->stage = SANDBOX_STAGE_REQUIRES;
		sandbox__reason(j, "bad build requirement from the build backend: %.150s", pe.msg);
		rc = 0;
		goto out;
	}
	if (rc) {
		kerr_set(e, rc, "%s", pe.msg);
		goto out;
	}
	if (!tmp || !*tmp || strlen(tmp) > sizeof(dir) - 40)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/kiln-dynreq-%s-XXXXXX", tmp, j->tag);
	if (!mkdtemp(dir)) {
		rc = kerr_set(e, KERR_IO, "could not create '%s': %s", dir, strerror(errno));
		dir[0] = '\0';
		goto out;
	}
	rc = prefetch_download(spec->prefetch, &reqs, dir, &pe);
	if (rc == KERR_INVAL || rc == KERR_CONFLICT) {
		/* No wheel for the target: the project's verdict; or cancelled. */
		if (rc == KERR_CONFLICT)
			j->res->cancelled = 1;
		else
			j->res->stage = SANDBOX_STAGE_REQUIRES;
		sandbox__reason(j, "%s", rc == KERR_CONFLICT ? "cancelled" : pe.msg);
		rc = 0;
		goto out;
	}
	if (rc) {
		kerr_set(e, rc, "%s", pe.msg);
		goto out;
	}
	/* What went in, for the provenance: the dir is gone after this round. */
	if ((rc = prefetch_hash_dir(dir, SANDBOX_MAX_REQUIREMENTS, &j->res->requirements,
				    &j->res->nrequirements, e)))
		goto out;
	if ((fd = sandbox__tmpfile(e)) < 0) {
		rc = fd;
		goto out;
	}
	if ((rc = worktar_write_wheels(fd, dir, e)))
		goto out;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = kerr_set(e, KERR_IO, "could not rewind the wheels archive: %s", strerror(errno));
		goto out;
	}
	/* The first build container goes; the volume stays, held by the keeper. */
	if ((rc = docker_remove(d, j->build, e)))
		goto out;
	j->build[0] = '\0';
	j->round = 2;
	snprintf(name, sizeof(name), "%s-2", j->build_name);
	if ((rc = sandbox__create(d, j, name, sandbox__build_config(j), j->build, e)) ||
	    (rc = sandbox__put(d, j, fd, &verdict, e)) || verdict)
		goto out;
	if (sandbox__cancelled(j)) {
		j->res->cancelled = 1;
		sandbox__reason(j, "cancelled");
		goto out;
	}
	sandbox__note(j, "kiln: building again with the fetched requirements");
	if ((rc = sandbox__run(d, j, e)))
		goto out;
	sandbox__read_result(d, j);
out:
	if (fd >= 0)
		close(fd);
	if (dir[0])
		sandbox__rmdir_flat(dir);
	prefetch_reqs_release(&reqs);
	return rc;
}

/* Bring the wheels out of /work/out into out_dir. */
static int sandbox__collect(struct docker *d, struct sandbox__job *j, struct kerr *e)
{
	struct wheelout w;
	struct kerr we;
	int fd, rc;

	wheelout_init(&w);
	kerr_clear(&we);
	if ((fd = sandbox__tmpfile(e)) < 0)
		return fd;
	/* Taking the output out gets a clock of its own, as long as the build's. */
	j->deadline_ms = clock_now_ms() + (uint64_t)j->lim.timeout_s * 1000u;
	rc = docker_get_archive(d, j->build, "/work/out", fd,
				j->lim.output_cap_bytes + SANDBOX__ARCHIVE_SLACK, sandbox__tick, j, &we);
	if (rc == KERR_TOOBIG) {
		sandbox__reason(j, "output exceeded %llu bytes",
				(unsigned long long)j->lim.output_cap_bytes);
		rc = 0;
		goto out;
	}
	if (rc && sandbox__stopped(j)) {
		rc = 0;
		goto out;
	}
	if (rc) {
		kerr_set(e, rc, "%s", we.msg);
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = kerr_set(e, KERR_IO, "could not rewind the output archive: %s", strerror(errno));
		goto out;
	}
	rc = wheelout_extract(fd, "out", j->spec->out_dir, j->lim.output_cap_bytes, &w, &we);
	for (size_t i = 0; i < w.nignored && i < WHEELOUT_MAX_NOTES; i++)
		sandbox__note(j, "kiln: ignored %s", w.ignored[i]);
	if (w.nignored > WHEELOUT_MAX_NOTES)
		sandbox__note(j, "kiln: ignored %zu more entries", w.nignored - WHEELOUT_MAX_NOTES);
	j->res->nignored = w.nignored;
	if (rc == KERR_TOOBIG || rc == KERR_INVAL) {
		/* What the build left is at fault: a verdict. */
		sandbox__note(j, "kiln: %s", we.msg);
		if (rc == KERR_TOOBIG)
			sandbox__reason(j, "output exceeded %llu bytes",
					(unsigned long long)j->lim.output_cap_bytes);
		else
			sandbox__reason(j, "unreadable output archive");
		rc = 0;
		goto out;
	}
	if (rc) {
		kerr_set(e, rc, "%s", we.msg);
		goto out;
	}
	if (!w.nwheels) {
		sandbox__reason(j, "build produced no wheel");
		goto out;
	}
	for (size_t i = 0; i < w.nwheels; i++)
		sandbox__note(j, "kiln: wheel %s", w.wheels[i]);
	j->res->wheels = w.wheels;
	j->res->nwheels = w.nwheels;
	driver_result_reports(&j->dr, j->res->wheels, j->res->nwheels, &j->res->reports);
	w.wheels = NULL;
	w.nwheels = 0;
out:
	wheelout_release(&w);
	close(fd);
	return rc;
}

/* Remove what the job created, in reverse order; errors are logged, not returned. */
static void sandbox__cleanup(struct docker *d, struct sandbox__job *j)
{
	struct kerr ce;

	if (j->build[0] && docker_remove(d, j->build, &ce))
		log_error("could not remove build container", "job=%s id=%.12s err=\"%s\"",
			  j->tag, j->build, ce.msg);
	if (j->keeper[0] && docker_remove(d, j->keeper, &ce))
		log_error("could not remove keeper container", "job=%s id=%.12s err=\"%s\"",
			  j->tag, j->keeper, ce.msg);
	if (j->have_volume && docker_volume_remove(d, j->volume, &ce))
		log_error("could not remove work volume", "job=%s volume=%s err=\"%s\"", j->tag,
			  j->volume, ce.msg);
}

static int sandbox__check_spec(const struct sandbox_spec *s, struct kerr *e)
{
	struct sdistname sn;
	struct stat st;

	if (!s->image || !*s->image)
		return kerr_set(e, KERR_INVAL, "sandbox: no image");
	if (!s->out_dir || stat(s->out_dir, &st) || !S_ISDIR(st.st_mode))
		return kerr_set(e, KERR_INVAL, "sandbox: output directory '%s' does not exist",
				s->out_dir ? s->out_dir : "");
	if (!s->sdist_path == !s->source_dir)
		return kerr_set(e, KERR_INVAL, "sandbox: give either an sdist or a source directory");
	if (s->sdist_path) {
		const char *base = strrchr(s->sdist_path, '/');
		base = base ? base + 1 : s->sdist_path;
		if (sdistname_parse(&sn, base, strlen(base), e))
			return kerr_wrap(e, "sandbox: ");
	} else if (stat(s->source_dir, &st) || !S_ISDIR(st.st_mode)) {
		return kerr_set(e, KERR_INVAL, "sandbox: source directory '%s' does not exist",
				s->source_dir);
	}
	return 0;
}

static void sandbox__limits(const struct sandbox_limits *in, struct sandbox_limits *out)
{
	struct sandbox_limits def;

	sandbox_limits_default(&def);
	*out = *in;
	if (!out->memory_bytes) out->memory_bytes = def.memory_bytes;
	if (!out->nano_cpus) out->nano_cpus = def.nano_cpus;
	if (!out->pids) out->pids = def.pids;
	if (!out->timeout_s) out->timeout_s = def.timeout_s;
	if (!out->log_cap_bytes) out->log_cap_bytes = def.log_cap_bytes;
	if (!out->output_cap_bytes) out->output_cap_bytes = def.output_cap_bytes;
	if (!out->tmp_bytes) out->tmp_bytes = def.tmp_bytes;
	if (!out->work_bytes) out->work_bytes = def.work_bytes;
}

int sandbox_build(struct docker *d, const struct sandbox_spec *spec,
		  struct sandbox_result *out, struct kerr *e)
{
	struct sandbox__job j;
	unsigned char rnd[8];
	cJSON *opts = NULL, *labels = NULL;
	char o[160];
	int in_fd = -1, rc, verdict = 0;

	sandbox_result_init(out);
	memset(&j, 0, sizeof(j));
	j.spec = spec;
	j.res = out;
	j.round = 1;
	driver_result_init(&j.dr);
	sandbox__limits(&spec->limits, &j.lim);
	if ((rc = sandbox__check_spec(spec, e)))
		return rc;
	{
		/* Docker refuses more CPUs than the machine has: ask for what there is. */
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (ncpu > 0 && j.lim.nano_cpus > (int64_t)ncpu * 1000000000) {
			sandbox__note(&j, "kiln: %.2f CPUs asked, the machine has %ld",
				      (double)j.lim.nano_cpus / 1e9, ncpu);
			j.lim.nano_cpus = (int64_t)ncpu * 1000000000;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return kerr_set(e, KERR_INTERNAL, "sandbox: getrandom failed: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(j.tag + 2 * i, 3, "%02x", rnd[i]);
	snprintf(j.volume, sizeof(j.volume), "kiln-work-%s", j.tag);
	snprintf(j.keeper_name, sizeof(j.keeper_name), "kiln-keep-%s", j.tag);
	snprintf(j.build_name, sizeof(j.build_name), "kiln-build-%s", j.tag);

	/* An image of another architecture runs under emulation (binfmt, qemu). */
	if ((rc = docker_image_platform(d, spec->image, j.platform, e)))
		goto out;
	if (j.platform[0])
		sandbox__note(&j, "kiln: the image is %s, run by emulation on this %s machine",
			      j.platform, d->arch);
	if ((rc = sandbox__input(spec, &in_fd, e)))
		goto out;

	/* /work: a tmpfs volume, owned by the build user, size-limited. */
	opts = cJSON_CreateObject();
	cJSON_AddStringToObject(opts, "type", "tmpfs");
	cJSON_AddStringToObject(opts, "device", "tmpfs");
	snprintf(o, sizeof(o), "size=%llu,uid=%d,gid=%d,mode=0755,nosuid,nodev",
		 (unsigned long long)j.lim.work_bytes, SANDBOX__UID, SANDBOX__UID);
	cJSON_AddStringToObject(opts, "o", o);
	labels = cJSON_CreateObject();
	cJSON_AddStringToObject(labels, "org.kiln.job", j.tag);
	if (spec->owner)
		cJSON_AddStringToObject(labels, "org.kiln.builder", spec->owner);
	if ((rc = docker_volume_create(d, j.volume, opts, labels, e)))
		goto out;
	j.have_volume = 1;
	if ((rc = sandbox__create(d, &j, j.keeper_name, sandbox__keeper_config(&j), j.keeper, e)) ||
	    (rc = docker_start(d, j.keeper, e)) ||
	    (rc = sandbox__create(d, &j, j.build_name, sandbox__build_config(&j), j.build, e)))
		goto out;
	if ((rc = sandbox__put(d, &j, in_fd, &verdict, e)) || verdict)
		goto out;
	close(in_fd);
	in_fd = -1;
	if (sandbox__cancelled(&j)) {
		out->cancelled = 1;
		sandbox__reason(&j, "cancelled");
		goto out;
	}
	sandbox__note(&j, "kiln: building in %s (job %s, memory %llu MiB, timeout %u s)",
		      spec->image, j.tag, (unsigned long long)(j.lim.memory_bytes / MIB),
		      j.lim.timeout_s);
	if ((rc = sandbox__run(d, &j, e)))
		goto out;
	sandbox__read_result(d, &j);
	if (!out->reason[0] && out->exit_code == DRIVER_EXIT_FETCH && j.dr.nrequires &&
	    spec->prefetch && (rc = sandbox__fetch_round(d, &j, e)))
		goto out;
	sandbox__record(&j);
	if (!out->reason[0] || !out->stage)
		sandbox__judge(&j);
	if (!out->reason[0]) {
		rc = sandbox__collect(d, &j, e);
		/* No wheel, too much output: what the build left behind. */
		if (!rc && out->reason[0] && out->stage == SANDBOX_STAGE_NONE)
			out->stage = SANDBOX_STAGE_BUILD;
	}
	if (!rc && out->reason[0])
		sandbox__note(&j, "kiln: %s", out->reason);
out:
	if (in_fd >= 0)
		close(in_fd);
	cJSON_Delete(opts);
	cJSON_Delete(labels);
	sandbox__cleanup(d, &j);
	driver_result_release(&j.dr);
	if (rc) {
		/* No verdict: whatever was extracted is not trusted. */
		for (size_t i = 0; i < out->nwheels; i++)
			unlink(out->wheels[i]);
		out->reason[0] = '\0';
		out->stage = SANDBOX_STAGE_NONE;
	}
	return rc;
}

static void sandbox__free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int sandbox_reap(struct docker *d, const char *owner, size_t *removed, struct kerr *e)
{
	char label[300];
	char **ids = NULL;
	size_t n = 0, gone = 0;
	struct kerr ie;
	int rc = 0, r;

	if (owner)
		snprintf(label, sizeof(label), "org.kiln.builder=%s", owner);
	else
		snprintf(label, sizeof(label), "org.kiln.job");
	/* Containers first: a volume in use cannot go. */
	if ((r = docker_list_containers(d, label, &ids, &n, e)))
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = docker_remove(d, ids[i], &ie))) {
			if (!rc)
				rc = kerr_set(e, r, "%s", ie.msg);
		} else {
			gone++;
		}
	}
	sandbox__free_list(ids, n);
	if ((r = docker_list_volumes(d, label, &ids, &n, &ie))) {
		if (!rc)
			rc = kerr_set(e, r, "%s", ie.msg);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = docker_volume_remove(d, ids[i], &ie))) {
			if (!rc)
				rc = kerr_set(e, r, "%s", ie.msg);
		} else {
			gone++;
		}
	}
	sandbox__free_list(ids, n);
	if (removed)
		*removed = gone;
	if (gone)
		log_warn("removed Docker objects of earlier builds", "count=%zu owner=%s", gone,
			 owner ? owner : "(any)");
	return rc;
}
