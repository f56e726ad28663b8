/*
 * config: every Kiln setting, in one table.
 *
 * Values come from, lowest precedence first: the built-in default, the config file
 * (path from --config or KILN_CONFIG), the environment (KILN_*), then explicit
 * config_set calls (command-line flags). The same table renders the README's
 * configuration table (config_doc_markdown), and a test checks the two agree, so
 * an option cannot exist undocumented.
 *
 * Config file syntax: one `key = value` per line; `#` starts a comment line; the
 * key is the option's name without the KILN_ prefix, in any case (database_url),
 * or the full variable name; a value may be wrapped in double quotes. Unknown keys
 * and malformed values are errors, so typos do not pass silently.
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include "common/buf.h"
#include "common/kerr.h"

enum config_key {
	CONFIG_LOG,
	CONFIG_DATA_DIR,
	CONFIG_HTTP_LISTEN,
	CONFIG_PUBLIC_URL,
	CONFIG_TLS_CERT,
	CONFIG_TLS_KEY,
	CONFIG_FRONTEND_DIR,
	CONFIG_HTTP_FASTPATH,
	CONFIG_DB_POOL_SIZE,
	CONFIG_MAX_BODY,
	CONFIG_MAX_UPLOAD,
	CONFIG_LEASE_SECONDS,
	CONFIG_BUILDER_PING_TIMEOUT,
	CONFIG_JOB_TIMEOUT,
	CONFIG_JOB_MEMORY_MIB,
	CONFIG_NATIVE_AUTO_RETRY,
	CONFIG_PROVENANCE_KEY,
	CONFIG_REPRO,
	CONFIG_DOWNLOADS_FLUSH_SECONDS,
	CONFIG_DATABASE_URL,
	CONFIG_PG_PORT,
	CONFIG_STORAGE,
	CONFIG_STORAGE_DIR,
	CONFIG_STORAGE_SWEEP_GRACE,
	CONFIG_DELETED_RETENTION,
	CONFIG_S3_ENDPOINT,
	CONFIG_S3_REGION,
	CONFIG_S3_BUCKET,
	CONFIG_S3_ACCESS_KEY,
	CONFIG_S3_SECRET_KEY,
	CONFIG_S3_PORT,
	CONFIG_S3_PRESIGN_TTL,
	CONFIG_S3_PUBLIC_ENDPOINT,
	CONFIG_BUILDER_IMAGE,
	CONFIG_BACKEND_URL,
	CONFIG_BUILDER_NAME,
	CONFIG_BUILDER_TOKEN,
	CONFIG_BUILDER_SLOTS,
	CONFIG_BUILDER_TARGETS,
	CONFIG_CA_FILE,
	CONFIG_BUILD_INDEX_URL,
	CONFIG_BUILD_FARM_INDEX,
	CONFIG_BUILDER_DERIVED_MAX_AGE_DAYS,
	CONFIG_BUILDER_DERIVED_MAX_COUNT,
	CONFIG_BUILDER_APT_NETWORK,
	CONFIG_BUILDER_EMULATE,
	CONFIG_BUILDER_TARGETS_RECHECK,
	CONFIG_UPSTREAM_URL,
	CONFIG_SYNC_INTERVAL,
	CONFIG_SYNC_PROJECTS,
	CONFIG_SYNC_BATCH,
	CONFIG_SYNC_FEED_URL,
	CONFIG_SYNC_FEED_INTERVAL,
	CONFIG_SYNC_TIMEOUT,
	CONFIG_SYNC_RETRY_MS,
	CONFIG_SYNC_CONNECTIONS,
	CONFIG_SYNC_GIT_INTERVAL,
	CONFIG__COUNT
};

enum config_type { CONFIG_STR, CONFIG_INT, CONFIG_BOOL };

struct config_option {
	const char *env;      /* KILN_DATABASE_URL */
	enum config_type type;
	const char *def;      /* default as text; "" = unset */
	int secret;           /* never printed */
	const char *used_by;  /* which programs read it */
	const char *help;     /* one line for the README table */
};

struct config {
	char *values[CONFIG__COUNT]; /* owned; NULL = default */
	const char *file;            /* the file loaded, or NULL (points into values) */
	char *file_owned;
};

/* The option table (CONFIG__COUNT entries, indexed by enum config_key). */
const struct config_option *config_option(enum config_key k);

/* Make c hold only defaults. */
void config_init(struct config *c);
/* Free everything c owns. */
void config_release(struct config *c);

/*
 * Load the file (path, or KILN_CONFIG if path is NULL; none if both are unset)
 * and then the environment into c. 0, or KERR_INVAL/KERR_IO with e saying which
 * file, line and key is wrong. c keeps what was loaded before the error.
 */
int config_load(struct config *c, const char *path, struct kerr *e);

/* Set one option by name (env name or file key). 0 or KERR_INVAL. */
int config_set(struct config *c, const char *name, const char *value, struct kerr *e);

/* A command-line flag that sets an option: {"--upstream", "KILN_UPSTREAM_URL"}. */
struct config_flag {
	const char *flag;
	const char *option;
};

enum config_args_result { CONFIG_ARGS_OK = 0, CONFIG_ARGS_HELP = 1, CONFIG_ARGS_USAGE = 2 };

/*
 * Configure a program from its command line, the way every Kiln program does:
 * `--config FILE` (anywhere) names the file, config_load reads it and the
 * environment, then each `FLAG VALUE` from flags[0..nflags) sets its option
 * (flags win). A bare argument listed in switches[0..nswitches) sets bit i of
 * *switched. Returns CONFIG_ARGS_OK, CONFIG_ARGS_HELP for -h/--help,
 * CONFIG_ARGS_USAGE for anything else unknown, or a negative KERR_* with e.
 */
int config_from_args(struct config *c, int argc, char **argv, const struct config_flag *flags,
		     size_t nflags, const char *const *switches, size_t nswitches,
		     unsigned *switched, struct kerr *e);

/* The effective value (never NULL; "" when unset). Borrowed from c. */
const char *config_get(const struct config *c, enum config_key k);
/* The effective value of an int option (validated when set). */
long config_get_int(const struct config *c, enum config_key k);
/* The effective value of a bool option. */
int config_get_bool(const struct config *c, enum config_key k);

/* Append the README's markdown table of all options to out. */
int config_doc_markdown(struct buf *out);
/* Append `KILN_X=value` lines of the effective configuration (secrets masked). */
int config_dump(const struct config *c, struct buf *out);

#endif
