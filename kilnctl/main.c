/*
 * kilnctl: the administrator's command line. It talks to the database directly
 * (never through the backend), so it works before the backend runs: migrate the
 * schema, register builders, show the configuration. `kilnctl storage` reaches
 * artifact storage (S3 or files) with the backend's own storage code.
 */
#include "common/config.h"
#include "common/db.h"
#include "common/log.h"
#include "kilnctl/admin_tokens.h"
#include "kilnctl/builders.h"
#include "kilnctl/migrate.h"
#include "kilnctl/native_deps.h"
#include "kilnctl/provenance_key.h"
#include "kilnctl/queue_admin.h"
#include "kilnctl/repro.h"
#include "kilnctl/sync_admin.h"
#include "kilnctl/targets.h"
#include "kilnctl/storage_cmd.h"
#include "kilnctl/verify.h"

#include <stdio.h>
#include <string.h>

#define KILNCTL_USAGE                                                              \
	"usage: kilnctl [--config FILE] [--database-url URL] COMMAND [ARGS]\n"     \
	"\n"                                                                       \
	"commands:\n"                                                              \
	"  migrate              apply pending schema migrations\n"                 \
	"  migrate --status     list migrations and whether each is applied\n"    \
	"  builder add NAME     register a builder; prints its token once\n"      \
	"  builder list         list builders\n"                                   \
	"  builder disable NAME refuse the builder's token from now on\n"          \
	"  builder enable NAME  accept it again\n"                                 \
	"  builder pause|resume NAME\n"                                            \
	"                       stop (restart) sending it new jobs\n"             \
	"  admin-token add NAME add an admin API token; prints it once\n"         \
	"  admin-token list|disable NAME|enable NAME\n"                            \
	"  job cancel ID [--reason TEXT]\n"                                        \
	"                       cancel a job; its builder is told to stop\n"      \
	"  job priority ID N    set a queued job's priority (higher goes first)\n" \
	"  rebuild PROJECT [VERSION] [--target NAME] [--priority N]\n"             \
	"                       queue jobs where none is live, ahead of others;\n" \
	"                       a job already queued moves ahead\n"            \
	"  requeue-failed [--project NAME] [--target NAME] [--class CLASS]\n"      \
	"                       queue again what failed last (CLASS: native-dependency,\n" \
	"                       build-requirement, compile, import, timeout,\n"   \
	"                       out-of-memory or infrastructure)\n"               \
	"  project deps list PROJECT\n"                                            \
	"  project deps add|remove PROJECT PKG...\n"                              \
	"                       the Debian packages a project's builds need beyond\n" \
	"                       the target image; a change requeues its builds that\n" \
	"                       failed for a missing native dependency\n"        \
	"  build show ID        a build's state, failure class and suggested fix\n" \
	"  repro check PROJECT [VERSION] [--target T]\n"                          \
	"                       queue a reproducibility check of each release x\n" \
	"                       target's latest build that published wheels\n"  \
	"  repro list [--project P] [--limit N]\n"                                \
	"                       the newest reproducibility results\n"           \
	"  queue [--state S] [--target T] [--project P] [--limit N]\n"             \
	"                       list running and queued jobs\n"                   \
	"  storage put KEY FILE [--content-type T] [--multipart-mib N]\n"          \
	"                       upload FILE to artifact storage (KILN_STORAGE)\n"  \
	"  storage get KEY [FILE|-] [--offset N] [--length N]\n"                   \
	"                       download KEY (a byte range of it) to FILE or stdout\n" \
	"  storage stat KEY     print KEY and its size\n"                          \
	"  storage ls [PREFIX]  list keys starting with PREFIX, with sizes\n"      \
	"  storage rm KEY       delete KEY\n"                                      \
	"  storage url KEY [--expires SECONDS]\n"                                  \
	"                       print a presigned download URL (s3 driver)\n"     \
	"  target add NAME --image IMAGE [--python 3.11] [--arch x86_64|aarch64]\n" \
	"             [--suite bookworm] [--glibc 2.36] [--platform linux_<arch>]\n" \
	"                       add or update a build target; kiln-sync plans the\n" \
	"                       releases in scope for it (newest first)\n"       \
	"  target list          list build targets (arch, suite, glibc)\n"       \
	"  target disable|enable NAME\n"                                          \
	"  source add-git PROJECT URL [--tags GLOB]\n"                            \
	"                       build releases from a git repository's tags\n"  \
	"  source list | source remove PROJECT URL\n"                             \
	"  scope allow|deny|always-source GLOB [--position N]\n"                  \
	"        [--versions all|newest:N|since:YYYY-MM-DD]\n"                    \
	"                       which projects kiln-sync plans builds for\n"     \
	"  scope list | scope remove GLOB\n"                                      \
	"  provenance key init [--out FILE]\n"                                     \
	"                       make the farm's Ed25519 signing key once, at\n"  \
	"                       KILN_PROVENANCE_KEY (mode 0600)\n"                \
	"  provenance key show  print its public key and key id\n"               \
	"  verify WHEEL --url BASE [--key PEM]\n"                                \
	"  verify WHEEL --provenance FILE --key PEM\n"                           \
	"                       check a downloaded wheel against its signed\n"  \
	"                       provenance and the farm's public key\n"         \
	"  config               print the effective configuration (secrets masked)\n" \
	"  config --markdown    print the configuration table of the README\n"    \
	"  version              print the version\n"

static int kilnctl__usage(const char *why)
{
	if (why)
		fprintf(stderr, "kilnctl: %s\n", why);
	fputs(KILNCTL_USAGE, stderr);
	return 2;
}

static int kilnctl__migrate(PGconn *db, int argc, char **argv, struct kerr *e)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	int status = argc > 0 && !strcmp(argv[0], "--status");
	int rc;

	if (argc > (status ? 1 : 0))
		return kilnctl__usage("migrate takes no arguments but --status");
	if (status)
		rc = migrate_status(db, migrations_embedded, migrations_embedded_count, &out, e);
	else
		rc = migrate_run(db, migrations_embedded, migrations_embedded_count, &out, NULL, e);
	fputs(out.ptr, stdout);
	buf_release(&out);
	return rc;
}

static int kilnctl__builder(PGconn *db, int argc, char **argv, struct kerr *e)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	int rc;

	if (argc == 2 && !strcmp(argv[0], "add")) {
		char token[TOKEN_LEN + 1];
		rc = builders_add(db, argv[1], token, e);
		if (!rc) {
			printf("builder '%s' added; its token (shown only now):\n%s\n", argv[1], token);
			memset(token, 0, sizeof(token));
		}
	} else if (argc == 1 && !strcmp(argv[0], "list")) {
		rc = builders_list(db, &out, e);
		fputs(out.ptr, stdout);
	} else if (argc == 2 && (!strcmp(argv[0], "disable") || !strcmp(argv[0], "enable"))) {
		int enable = !strcmp(argv[0], "enable");
		rc = builders_set_enabled(db, argv[1], enable, e);
		if (!rc)
			printf("builder '%s' %s\n", argv[1], enable ? "enabled" : "disabled");
	} else if (argc == 2 && (!strcmp(argv[0], "pause") || !strcmp(argv[0], "resume"))) {
		rc = queue_admin_pause(db, argv[1], !strcmp(argv[0], "pause"), &out, e);
		fputs(out.ptr, stdout);
	} else {
		rc = kilnctl__usage("builder takes: add NAME | list | disable NAME | enable NAME "
				    "| pause NAME | resume NAME");
	}
	buf_release(&out);
	return rc;
}

static int kilnctl__target(PGconn *db, int argc, char **argv, struct kerr *e)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	int rc;

	if (argc >= 2 && !strcmp(argv[0], "add")) {
		struct targets_spec t = { argv[1], NULL, "3.11", NULL, NULL, NULL, NULL };
		for (int k = 2; k < argc; k++) {
			const char **slot = !strcmp(argv[k], "--image") ? &t.image :
					    !strcmp(argv[k], "--python") ? &t.python :
					    !strcmp(argv[k], "--arch") ? &t.arch :
					    !strcmp(argv[k], "--suite") ? &t.suite :
					    !strcmp(argv[k], "--glibc") ? &t.glibc :
					    !strcmp(argv[k], "--platform") ? &t.platform : NULL;
			if (!slot || k + 1 >= argc)
				return kilnctl__usage("target add NAME --image IMAGE [--python X.Y] "
						      "[--arch x86_64|aarch64] [--suite S] [--glibc 2.N] "
						      "[--platform P]");
			*slot = argv[++k];
		}
		if (!t.image)
			return kilnctl__usage("target add needs --image IMAGE");
		rc = targets_add(db, &t, &out, e);
	} else if (argc == 1 && !strcmp(argv[0], "list")) {
		rc = targets_list(db, &out, e);
	} else if (argc == 2 && (!strcmp(argv[0], "disable") || !strcmp(argv[0], "enable"))) {
		rc = targets_set_enabled(db, argv[1], !strcmp(argv[0], "enable"), e);
		if (!rc)
			buf_printf(&out, "target '%s' %sd\n", argv[1], argv[0]);
	} else {
		rc = kilnctl__usage("target takes: add NAME --image IMAGE [--python X.Y] [--arch A] "
				    "[--suite S] [--glibc 2.N] [--platform P] "
				    "| list | disable NAME | enable NAME");
	}
	fputs(out.ptr, stdout);
	buf_release(&out);
	return rc;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct kerr e;
	struct buf out = BUF_INIT(BUF_NOLIMIT);
	const char *config_path = NULL, *db_url = NULL;
	PGconn *db = NULL;
	int i, rc = 0;

	log_init("kilnctl");
	config_init(&cfg);
	kerr_clear(&e);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config_path = argv[++i];
		else if (!strcmp(argv[i], "--database-url") && i + 1 < argc)
			db_url = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return kilnctl__usage(NULL) & 0;
		else
			return kilnctl__usage("unknown option");
	}
	if (i >= argc)
		return kilnctl__usage("no command given");
	rc = config_load(&cfg, config_path, &e);
	if (!rc && db_url)
		rc = config_set(&cfg, "KILN_DATABASE_URL", db_url, &e);
	if (rc)
		goto fail;

	if (!strcmp(argv[i], "version")) {
		printf("kilnctl %s\n", KILN_VERSION);
		goto done;
	}
	if (!strcmp(argv[i], "config")) {
		if (i + 1 < argc && !strcmp(argv[i + 1], "--markdown"))
			rc = config_doc_markdown(&out);
		else
			rc = config_dump(&cfg, &out);
		fputs(out.ptr, stdout);
		goto done;
	}
	if (!strcmp(argv[i], "provenance") || !strcmp(argv[i], "verify")) {
		rc = !strcmp(argv[i], "verify") ? verify_run(argc - i - 1, argv + i + 1, &out, &e)
						: provenance_key_run(&cfg, argc - i - 1, argv + i + 1, &out, &e);
		fputs(out.ptr, stdout);
		if (rc == VERIFY_USAGE) {
			rc = kilnctl__usage(e.msg);
			goto done;
		}
		if (rc && !strcmp(argv[i], "verify")) {
			fprintf(stderr, "kilnctl: verify FAILED: %s\n", e.msg);
			rc = 1;
			goto done;
		}
		goto fail;
	}
	if (!strcmp(argv[i], "storage")) {
		rc = storage_cmd_run(&cfg, argc - i - 1, argv + i + 1, &e);
		if (rc == STORAGE_CMD_USAGE) {
			rc = kilnctl__usage(e.msg);
			goto done;
		}
		goto fail;
	}
	if (strcmp(argv[i], "migrate") && strcmp(argv[i], "builder") && strcmp(argv[i], "target") &&
	    strcmp(argv[i], "admin-token") && !queue_admin_is_command(argv[i]) &&
	    !native_deps_is_command(argv[i]) && !repro_is_command(argv[i]) &&
	    !sync_admin_is_command(argv[i])) {
		fprintf(stderr, "kilnctl: unknown command '%s'\n", argv[i]);
		rc = kilnctl__usage(NULL);
		goto done;
	}
	rc = db_connect(config_get(&cfg, CONFIG_DATABASE_URL), &db, &e);
	if (rc)
		goto fail;
	if (!strcmp(argv[i], "migrate"))
		rc = kilnctl__migrate(db, argc - i - 1, argv + i + 1, &e);
	else if (!strcmp(argv[i], "target"))
		rc = kilnctl__target(db, argc - i - 1, argv + i + 1, &e);
	else if (!strcmp(argv[i], "admin-token"))
		rc = admin_tokens_run(db, argc - i - 1, argv + i + 1, &out, &e);
	else if (queue_admin_is_command(argv[i]))
		rc = queue_admin_run(db, &cfg, argc - i, argv + i, &out, &e);
	else if (sync_admin_is_command(argv[i]))
		rc = sync_admin_run(db, argc - i, argv + i, &out, &e);
	else if (native_deps_is_command(argv[i]))
		rc = native_deps_run(db, argc - i, argv + i, &out, &e);
	else if (repro_is_command(argv[i]))
		rc = repro_run(db, argc - i, argv + i, &out, &e);
	else
		rc = kilnctl__builder(db, argc - i - 1, argv + i + 1, &e);
	fputs(out.ptr, stdout);
	if (rc == 2 && (!strcmp(argv[i], "admin-token") || queue_admin_is_command(argv[i]) ||
			native_deps_is_command(argv[i]) || repro_is_command(argv[i]) ||
			sync_admin_is_command(argv[i]))) {
		rc = kilnctl__usage(e.msg);
		goto done;
	}
	if (rc == 2)
		goto done;
fail:
	if (rc) {
		fprintf(stderr, "kilnctl: %s\n", e.msg[0] ? e.msg : kerr_name(rc));
		rc = 1;
	}
done:
	if (db)
		PQfinish(db);
	buf_release(&out);
	config_release(&cfg);
	return rc;
}
