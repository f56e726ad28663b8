/* config: the option table and its loaders (contract in config.h). */
#include "common/config.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct config_option config__options[CONFIG__COUNT] = {
	[CONFIG_LOG] = { "KILN_LOG", CONFIG_STR, "info", 0, "all",
		"Log threshold: `debug`, `info`, `warn` or `error`. Logs are logfmt lines on stderr." },
	[CONFIG_DATA_DIR] = { "KILN_DATA_DIR", CONFIG_STR, ".kiln", 0, "scripts, all",
		"Where local state lives: the private Postgres cluster, SeaweedFS data, logs." },
	[CONFIG_HTTP_LISTEN] = { "KILN_HTTP_LISTEN", CONFIG_STR, "127.0.0.1:8080", 0, "backend",
		"Address and port the backend listens on (`0.0.0.0:8080` for every interface)." },
	[CONFIG_PUBLIC_URL] = { "KILN_PUBLIC_URL", CONFIG_STR, "", 0, "backend",
		"The URL users reach the farm at (`https://wheels.example.org`): signed provenance names it as the builder that vouches (`runDetails.builder.id`; unset: `urn:kiln:farm`). The index, API and UI links are relative and need none." },
	[CONFIG_TLS_CERT] = { "KILN_TLS_CERT", CONFIG_STR, "", 0, "backend",
		"PEM certificate chain; with `KILN_TLS_KEY`, the backend serves HTTPS (HTTP/2 by ALPN) instead of HTTP." },
	[CONFIG_TLS_KEY] = { "KILN_TLS_KEY", CONFIG_STR, "", 1, "backend",
		"PEM private key for `KILN_TLS_CERT`." },
	[CONFIG_FRONTEND_DIR] = { "KILN_FRONTEND_DIR", CONFIG_STR, "frontend", 0, "backend",
		"Directory of the web UI's static files, served at `/`." },
	[CONFIG_HTTP_FASTPATH] = { "KILN_HTTP_FASTPATH", CONFIG_BOOL, "1", 0, "backend",
		"Answer cached `/simple/{project}/` pages ahead of libwebsockets' HTTP parser on a plain-HTTP IPv4 listener (docs/performance.md); 0 leaves every request to libwebsockets." },
	[CONFIG_DB_POOL_SIZE] = { "KILN_DB_POOL_SIZE", CONFIG_INT, "4", 0, "backend",
		"Database connections per backend process (plus one for LISTEN)." },
	[CONFIG_MAX_BODY] = { "KILN_MAX_BODY", CONFIG_INT, "1048576", 0, "backend",
		"Largest JSON request body accepted, in bytes (uploads have their own limit)." },
	[CONFIG_MAX_UPLOAD] = { "KILN_MAX_UPLOAD", CONFIG_INT, "536870912", 0, "backend",
		"Largest wheel a builder may upload, in bytes." },
	[CONFIG_PROVENANCE_KEY] = { "KILN_PROVENANCE_KEY", CONFIG_STR, "", 0, "backend, kilnctl",
		"PEM file of the farm's Ed25519 signing key (`kilnctl provenance key init` makes it, mode 0600); the backend signs every published wheel's provenance with it. Unset: no provenance is served." },
	[CONFIG_REPRO] = { "KILN_REPRO", CONFIG_STR, "5%", 0, "backend",
		"Which published builds get a reproducibility check (a second build of the same release and target, by another builder where one serves the target, compared byte for byte; docs/builds.md): `off`, `all`, or a sample `N%` (0 to 100)." },
	[CONFIG_DOWNLOADS_FLUSH_SECONDS] = { "KILN_DOWNLOADS_FLUSH_SECONDS", CONFIG_INT, "10", 0,
		"backend", "Seconds between writes of the download counters to the database (1 to 3600)." },
	[CONFIG_LEASE_SECONDS] = { "KILN_LEASE_SECONDS", CONFIG_INT, "60", 0, "backend",
		"How long a job stays with a builder that stopped answering before it is queued again." },
	[CONFIG_BUILDER_PING_TIMEOUT] = { "KILN_BUILDER_PING_TIMEOUT", CONFIG_INT, "20", 0, "backend",
		"Seconds a builder's connection may answer nothing (the backend pings it several times meanwhile) before the backend drops it; a builder that is frozen, asleep or cut off stops getting its leases extended at its first missed answer, 2 to 600." },
	[CONFIG_JOB_TIMEOUT] = { "KILN_JOB_TIMEOUT", CONFIG_INT, "3600", 0, "backend",
		"Wall-clock limit of one build, in seconds, sent to builders with each job." },
	[CONFIG_JOB_MEMORY_MIB] = { "KILN_JOB_MEMORY_MIB", CONFIG_INT, "4096", 0, "backend",
		"Memory limit of one build in MiB (no swap), sent to builders with each job." },
	[CONFIG_NATIVE_AUTO_RETRY] = { "KILN_NATIVE_AUTO_RETRY", CONFIG_BOOL, "1", 0, "backend",
		"When a build fails for a missing native library whose Debian package the builder named, add that package to the project (at most 4 this way per project) and retry the job once. `0` turns it off." },
	[CONFIG_DATABASE_URL] = { "KILN_DATABASE_URL", CONFIG_STR,
		"postgresql://kiln@127.0.0.1:54329/kiln", 0, "backend, sync, kilnctl",
		"libpq connection string or URL of Kiln's database." },
	[CONFIG_PG_PORT] = { "KILN_PG_PORT", CONFIG_INT, "54329", 0, "scripts",
		"Loopback port of the private Postgres cluster that `just db` runs." },
	[CONFIG_STORAGE] = { "KILN_STORAGE", CONFIG_STR, "s3", 0, "backend, kilnctl",
		"Artifact storage driver: `s3` (the S3 endpoint below) or `fs` (files under `KILN_STORAGE_DIR`)." },
	[CONFIG_STORAGE_DIR] = { "KILN_STORAGE_DIR", CONFIG_STR, ".kiln/artifacts", 0, "backend, kilnctl",
		"Root directory of the `fs` storage driver." },
	[CONFIG_STORAGE_SWEEP_GRACE] = { "KILN_STORAGE_SWEEP_GRACE", CONFIG_INT, "3600", 0, "backend",
		"Seconds an uploaded wheel with no row yet is safe from the storage sweep (its backend may have died between storing and recording it; then the sweep deletes it), 1 to 604800; longer than an upload takes, or a slower one is refused and retried." },
	[CONFIG_DELETED_RETENTION] = { "KILN_DELETED_RETENTION", CONFIG_INT, "604800", 0, "backend",
		"Seconds the wheels of a release or project deleted upstream stay in storage (out of the index at once) before the storage sweep removes them, 0 to 31536000; a release back upstream within that time gets them back without a rebuild." },
	[CONFIG_S3_ENDPOINT] = { "KILN_S3_ENDPOINT", CONFIG_STR, "http://127.0.0.1:8333", 0,
		"backend, scripts", "S3-compatible endpoint URL for artifacts." },
	[CONFIG_S3_REGION] = { "KILN_S3_REGION", CONFIG_STR, "us-east-1", 0, "backend, scripts",
		"Region used in SigV4 signatures." },
	[CONFIG_S3_BUCKET] = { "KILN_S3_BUCKET", CONFIG_STR, "kiln", 0, "backend, scripts",
		"Bucket holding artifacts, logs and backups." },
	[CONFIG_S3_ACCESS_KEY] = { "KILN_S3_ACCESS_KEY", CONFIG_STR, "kiln", 0, "backend, scripts",
		"S3 access key id." },
	[CONFIG_S3_SECRET_KEY] = { "KILN_S3_SECRET_KEY", CONFIG_STR, "kiln-local-secret", 1,
		"backend, scripts", "S3 secret key (the default suits only the local SeaweedFS)." },
	[CONFIG_S3_PORT] = { "KILN_S3_PORT", CONFIG_INT, "8333", 0, "scripts",
		"Loopback port of the local SeaweedFS S3 gateway that `just s3` runs." },
	[CONFIG_S3_PRESIGN_TTL] = { "KILN_S3_PRESIGN_TTL", CONFIG_INT, "300", 0, "backend, kilnctl",
		"Seconds a presigned S3 download URL stays valid (1 to 604800)." },
	[CONFIG_S3_PUBLIC_ENDPOINT] = { "KILN_S3_PUBLIC_ENDPOINT", CONFIG_STR, "", 0, "backend, kilnctl",
		"S3 endpoint URL that pip and uv reach, for presigned download URLs, when it differs from `KILN_S3_ENDPOINT` (behind a proxy, in docker-compose); default: `KILN_S3_ENDPOINT`." },
	[CONFIG_BUILDER_IMAGE] = { "KILN_BUILDER_IMAGE", CONFIG_STR, "kiln/bookworm-py311:latest", 0,
		"builder, scripts", "Docker image of the default build target (made by `just image`)." },
	[CONFIG_BACKEND_URL] = { "KILN_BACKEND_URL", CONFIG_STR, "ws://127.0.0.1:8080", 0, "builder",
		"The backend a builder connects to: `ws://` or `wss://` (certificates verified) host and port; several, comma-separated, for replicas without a load balancer: the builder stays on one while it answers and moves to the next when its connection fails, and its uploads follow." },
	[CONFIG_BUILDER_NAME] = { "KILN_BUILDER_NAME", CONFIG_STR, "", 0, "builder",
		"The builder's registered name (`kilnctl builder add NAME`); default: the host name." },
	[CONFIG_BUILDER_TOKEN] = { "KILN_BUILDER_TOKEN", CONFIG_STR, "", 1, "builder",
		"The builder's token, printed once by `kilnctl builder add`." },
	[CONFIG_BUILDER_SLOTS] = { "KILN_BUILDER_SLOTS", CONFIG_INT, "1", 0, "builder",
		"Builds a builder runs at once." },
	[CONFIG_BUILDER_TARGETS] = { "KILN_BUILDER_TARGETS", CONFIG_STR, "auto", 0,
		"builder", "The targets this builder serves: `auto`, every enabled target of the backend whose architecture it serves and whose image is on this machine (checked again every `KILN_BUILDER_TARGETS_RECHECK` seconds, so an image built later is picked up); or comma-separated target names, each of which must be known to the backend, with its image present and of the target's architecture (label `org.kiln.arch`), else the builder refuses to start." },
	[CONFIG_CA_FILE] = { "KILN_CA_FILE", CONFIG_STR, "", 0, "builder",
		"PEM CA bundle to verify the backend's certificate with, instead of the system's." },
	[CONFIG_BUILD_INDEX_URL] = { "KILN_BUILD_INDEX_URL", CONFIG_STR, "", 0, "builder",
		"Index URL for the host-side `pip download` of build requirements; empty: pip's own configuration (pip.conf, `PIP_INDEX_URL`)." },
	[CONFIG_BUILD_FARM_INDEX] = { "KILN_BUILD_FARM_INDEX", CONFIG_STR, "auto", 0, "builder",
		"A second index searched for build requirements, for the wheels this farm built of projects the upstream has only as sdists: `auto`, the backend's own `/simple/` (from `KILN_BACKEND_URL`); `off`; or an index URL." },
	[CONFIG_BUILDER_DERIVED_MAX_AGE_DAYS] = { "KILN_BUILDER_DERIVED_MAX_AGE_DAYS", CONFIG_INT, "14", 0,
		"builder", "A derived image (a target image plus a project's Debian packages) not used for this many days is removed." },
	[CONFIG_BUILDER_DERIVED_MAX_COUNT] = { "KILN_BUILDER_DERIVED_MAX_COUNT", CONFIG_INT, "32", 0,
		"builder", "Derived images a builder keeps at most; beyond it the least recently used go." },
	[CONFIG_BUILDER_APT_NETWORK] = { "KILN_BUILDER_APT_NETWORK", CONFIG_STR, "bridge", 0, "builder",
		"Docker network of the trusted apt step that makes a derived image (`bridge`, `host`, or a network's name); builds themselves never have one." },
	[CONFIG_BUILDER_EMULATE] = { "KILN_BUILDER_EMULATE", CONFIG_STR, "", 0, "builder",
		"Comma-separated architectures (`aarch64`, `x86_64`) this builder also runs, by emulation (qemu-user through binfmt_misc); it refuses to start when no binfmt handler for one is enabled (`scripts/emulation.sh enable`). Empty: only its own (`uname -m`)." },
	[CONFIG_BUILDER_TARGETS_RECHECK] = { "KILN_BUILDER_TARGETS_RECHECK", CONFIG_INT, "30", 0,
		"builder", "Seconds between two looks at the backend's targets and this machine's images, with `KILN_BUILDER_TARGETS=auto`: how soon an image built later is served (1-3600)." },
	[CONFIG_UPSTREAM_URL] = { "KILN_UPSTREAM_URL", CONFIG_STR, "", 0, "sync",
		"The upstream index `kiln-sync` mirrors: its simple API root (`https://HOST/simple/`). Required by `kiln-sync`." },
	[CONFIG_SYNC_INTERVAL] = { "KILN_SYNC_INTERVAL", CONFIG_INT, "300", 0, "sync",
		"Seconds between two syncs of the `kiln-sync` daemon (1 to 86400)." },
	[CONFIG_SYNC_PROJECTS] = { "KILN_SYNC_PROJECTS", CONFIG_STR, "", 0, "sync",
		"Projects `kiln-sync` mirrors: comma-separated globs over normalized names (`crcmod, zope-*`); empty: every project in the upstream's listing. `just up` sets a short list." },
	[CONFIG_SYNC_BATCH] = { "KILN_SYNC_BATCH", CONFIG_INT, "100", 0, "sync",
		"Project pages `kiln-sync` writes per transaction, committed with the sync position (1 to 100000)." },
	[CONFIG_SYNC_FEED_URL] = { "KILN_SYNC_FEED_URL", CONFIG_STR, "", 0, "sync",
		"RSS feed of the upstream's newest releases (`https://HOST/rss/updates.xml`); empty: no fast notice, full syncs only." },
	[CONFIG_SYNC_FEED_INTERVAL] = { "KILN_SYNC_FEED_INTERVAL", CONFIG_INT, "5", 0, "sync",
		"Seconds between two polls of `KILN_SYNC_FEED_URL` by the `kiln-sync` daemon (1 to 3600)." },
	[CONFIG_SYNC_TIMEOUT] = { "KILN_SYNC_TIMEOUT", CONFIG_INT, "120", 0, "sync",
		"Seconds one upstream request of `kiln-sync` may take before it counts as failed and is retried (1 to 3600)." },
	[CONFIG_SYNC_RETRY_MS] = { "KILN_SYNC_RETRY_MS", CONFIG_INT, "1000", 0, "sync",
		"First wait of `kiln-sync` before retrying a failed upstream request, in milliseconds; doubles each retry, plus jitter (1 to 60000)." },
	[CONFIG_SYNC_CONNECTIONS] = { "KILN_SYNC_CONNECTIONS", CONFIG_INT, "8", 0, "sync",
		"Project pages `kiln-sync` fetches at once (and connections it opens to the upstream), 1 to 64." },
	[CONFIG_SYNC_GIT_INTERVAL] = { "KILN_SYNC_GIT_INTERVAL", CONFIG_INT, "60", 0, "sync",
		"Seconds between two polls of the git sources' tags by the `kiln-sync` daemon (1 to 86400); a full sync polls them too." },
};

const struct config_option *config_option(enum config_key k)
{
	return &config__options[k];
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
}

void config_release(struct config *c)
{
	for (int i = 0; i < CONFIG__COUNT; i++)
		free(c->values[i]);
	free(c->file_owned);
	config_init(c);
}

/* Find an option by env name (KILN_X) or file key (x), case-insensitively. */
static int config__find(const char *name, size_t n)
{
	for (int i = 0; i < CONFIG__COUNT; i++) {
		const char *env = config__options[i].env;
		size_t el = strlen(env);
		if (n == el && !strncasecmp(name, env, n))
			return i;
		if (n == el - 5 && !strncasecmp(name, env + 5, n))
			return i;
	}
	return -1;
}

static int config__validate(int k, const char *value, struct kerr *e)
{
	const struct config_option *o = &config__options[k];
	char *end;

	if (o->type == CONFIG_INT) {
		long v;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < 0)
			return kerr_set(e, KERR_INVAL, "%s must be a non-negative integer, got '%s'",
					o->env, value);
	} else if (o->type == CONFIG_BOOL) {
		static const char *const ok[] = { "1", "0", "true", "false", "yes", "no", "on", "off" };
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			if (!strcasecmp(value, ok[i]))
				return 0;
		return kerr_set(e, KERR_INVAL, "%s must be true or false, got '%s'", o->env, value);
	}
	if (k == CONFIG_STORAGE && strcmp(value, "s3") && strcmp(value, "fs"))
		return kerr_set(e, KERR_INVAL, "KILN_STORAGE must be s3 or fs, got '%s'", value);
	if (k == CONFIG_DOWNLOADS_FLUSH_SECONDS) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 3600)
			return kerr_set(e, KERR_INVAL,
					"KILN_DOWNLOADS_FLUSH_SECONDS must be 1 to 3600, got '%s'", value);
	}
	if (k == CONFIG_STORAGE_SWEEP_GRACE) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 604800)
			return kerr_set(e, KERR_INVAL,
					"KILN_STORAGE_SWEEP_GRACE must be 1 to 604800 seconds, got '%s'", value);
	}
	if (k == CONFIG_DELETED_RETENTION) {
		long v = strtol(value, NULL, 10);
		if (v > 31536000)
			return kerr_set(e, KERR_INVAL,
					"KILN_DELETED_RETENTION must be 0 to 31536000 seconds, got '%s'", value);
	}
	if (k == CONFIG_BUILDER_PING_TIMEOUT) {
		long v = strtol(value, NULL, 10);
		if (v < 2 || v > 600)
			return kerr_set(e, KERR_INVAL,
					"KILN_BUILDER_PING_TIMEOUT must be 2 to 600 seconds, got '%s'", value);
	}
	if (k == CONFIG_S3_PRESIGN_TTL) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 604800)
			return kerr_set(e, KERR_INVAL,
					"KILN_S3_PRESIGN_TTL must be 1 to 604800 seconds, got '%s'", value);
	}
	if (k == CONFIG_SYNC_INTERVAL) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 86400)
			return kerr_set(e, KERR_INVAL,
					"KILN_SYNC_INTERVAL must be 1 to 86400 seconds, got '%s'", value);
	}
	if (k == CONFIG_SYNC_GIT_INTERVAL) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 86400)
			return kerr_set(e, KERR_INVAL,
					"KILN_SYNC_GIT_INTERVAL must be 1 to 86400 seconds, got '%s'", value);
	}
	if (k == CONFIG_SYNC_BATCH) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 100000)
			return kerr_set(e, KERR_INVAL, "KILN_SYNC_BATCH must be 1 to 100000, got '%s'", value);
	}
	if (k == CONFIG_SYNC_FEED_INTERVAL) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 3600)
			return kerr_set(e, KERR_INVAL,
					"KILN_SYNC_FEED_INTERVAL must be 1 to 3600 seconds, got '%s'", value);
	}
	if (k == CONFIG_SYNC_TIMEOUT) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 3600)
			return kerr_set(e, KERR_INVAL, "KILN_SYNC_TIMEOUT must be 1 to 3600 seconds, got '%s'",
					value);
	}
	if (k == CONFIG_SYNC_RETRY_MS) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 60000)
			return kerr_set(e, KERR_INVAL, "KILN_SYNC_RETRY_MS must be 1 to 60000, got '%s'", value);
	}
	if (k == CONFIG_SYNC_CONNECTIONS) {
		long v = strtol(value, NULL, 10);
		if (v < 1 || v > 64)
			return kerr_set(e, KERR_INVAL, "KILN_SYNC_CONNECTIONS must be 1 to 64, got '%s'", value);
	}
	if (k == CONFIG_SYNC_FEED_URL && *value && strncasecmp(value, "http://", 7) &&
	    strncasecmp(value, "https://", 8))
		return kerr_set(e, KERR_INVAL, "KILN_SYNC_FEED_URL must be an http:// or https:// URL, got '%s'",
				value);
	if (k == CONFIG_UPSTREAM_URL && *value && strncasecmp(value, "http://", 7) &&
	    strncasecmp(value, "https://", 8))
		return kerr_set(e, KERR_INVAL, "KILN_UPSTREAM_URL must be an http:// or https:// URL, got '%s'",
				value);
	if (k == CONFIG_LOG) {
		static const char *const lv[] = { "debug", "info", "warn", "warning", "error" };
		for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++)
			if (!strcasecmp(value, lv[i]))
				return 0;
		return kerr_set(e, KERR_INVAL, "KILN_LOG must be debug, info, warn or error, got '%s'",
				value);
	}
	return 0;
}

static int config__put(struct config *c, int k, const char *value, struct kerr *e)
{
	int rc = config__validate(k, value, e);
	if (rc)
		return rc;
	free(c->values[k]);
	c->values[k] = xstrdup(value);
	if (k == CONFIG_LOG) {
		/* The threshold is the process's: every layer that sets the key (file,
		 * environment, flag) moves it, the last one wins, as for any key. */
		enum log_level lvl;
		if (!log_level_parse(value, &lvl))
			log_set_level(lvl);
	}
	return 0;
}

int config_set(struct config *c, const char *name, const char *value, struct kerr *e)
{
	int k = config__find(name, strlen(name));
	if (k < 0)
		return kerr_set(e, KERR_INVAL, "unknown option '%s'", name);
	return config__put(c, k, value, e);
}

static char *config__trim(char *s)
{
	char *end;
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int config__load_file(struct config *c, const char *path, struct kerr *e)
{
	FILE *f = NULL;
	char line[4096];
	int lineno = 0;
	int rc = 0;

	f = fopen(path, "r");
	if (!f) {
		rc = kerr_set(e, KERR_IO, "could not open config file '%s': %s", path,
			      strerror(errno));
		goto fail;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		size_t vl;
		int k;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = kerr_set(e, KERR_INVAL, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		s = config__trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			rc = kerr_set(e, KERR_INVAL, "%s:%d: expected 'key = value'", path, lineno);
			goto fail;
		}
		*eq = '\0';
		key = config__trim(s);
		val = config__trim(eq + 1);
		vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		k = config__find(key, strlen(key));
		if (k < 0) {
			rc = kerr_set(e, KERR_INVAL, "%s:%d: unknown option '%s'", path, lineno, key);
			goto fail;
		}
		rc = config__put(c, k, val, e);
		if (rc) {
			kerr_wrap(e, "%s:%d", path, lineno);
			goto fail;
		}
	}
	if (ferror(f)) {
		rc = kerr_set(e, KERR_IO, "could not read config file '%s'", path);
		goto fail;
	}
fail:
	if (f)
		fclose(f);
	return rc;
}

int config_load(struct config *c, const char *path, struct kerr *e)
{
	int rc;

	if (!path || !*path)
		path = getenv("KILN_CONFIG");
	if (path && *path) {
		free(c->file_owned);
		c->file_owned = xstrdup(path);
		c->file = c->file_owned;
		rc = config__load_file(c, path, e);
		if (rc)
			return rc;
	}
	for (int k = 0; k < CONFIG__COUNT; k++) {
		const char *v = getenv(config__options[k].env);
		if (!v)
			continue;
		rc = config__put(c, k, v, e);
		if (rc)
			return kerr_wrap(e, "environment");
	}
	return 0;
}

int config_from_args(struct config *c, int argc, char **argv, const struct config_flag *flags,
		     size_t nflags, const char *const *switches, size_t nswitches,
		     unsigned *switched, struct kerr *e)
{
	const char *path = NULL;
	int rc;

	if (switched)
		*switched = 0;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[++i];
	rc = config_load(c, path, e);
	if (rc)
		return rc;
	for (int i = 1; i < argc; i++) {
		size_t k;

		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			i++;
			continue;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return CONFIG_ARGS_HELP;
		for (k = 0; k < nswitches; k++)
			if (!strcmp(argv[i], switches[k]))
				break;
		if (k < nswitches) {
			if (switched)
				*switched |= 1u << k;
			continue;
		}
		for (k = 0; k < nflags; k++)
			if (!strcmp(argv[i], flags[k].flag) && i + 1 < argc)
				break;
		if (k == nflags)
			return CONFIG_ARGS_USAGE;
		rc = config_set(c, flags[k].option, argv[++i], e);
		if (rc)
			return rc;
	}
	return CONFIG_ARGS_OK;
}

const char *config_get(const struct config *c, enum config_key k)
{
	return c->values[k] ? c->values[k] : config__options[k].def;
}

long config_get_int(const struct config *c, enum config_key k)
{
	return strtol(config_get(c, k), NULL, 10);
}

int config_get_bool(const struct config *c, enum config_key k)
{
	const char *v = config_get(c, k);
	return !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	       !strcasecmp(v, "on");
}

int config_doc_markdown(struct buf *out)
{
	int rc = buf_puts(out, "| Variable | File key | Default | Used by | Meaning |\n"
			       "|---|---|---|---|---|\n");
	for (int k = 0; k < CONFIG__COUNT && !rc; k++) {
		const struct config_option *o = &config__options[k];
		char key[64];
		size_t i;
		for (i = 0; o->env[5 + i] && i < sizeof(key) - 1; i++)
			key[i] = (char)tolower((unsigned char)o->env[5 + i]);
		key[i] = '\0';
		rc = buf_printf(out, "| `%s` | `%s` | %s%s%s | %s | %s |\n", o->env, key,
				*o->def ? "`" : "", *o->def ? o->def : "(unset)",
				*o->def ? "`" : "", o->used_by, o->help);
	}
	return rc;
}

int config_dump(const struct config *c, struct buf *out)
{
	int rc = 0;
	for (int k = 0; k < CONFIG__COUNT && !rc; k++) {
		const struct config_option *o = &config__options[k];
		rc = buf_printf(out, "%s=%s\n", o->env,
				o->secret && *config_get(c, k) ? "********" : config_get(c, k));
	}
	return rc;
}
