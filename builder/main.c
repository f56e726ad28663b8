/*
 * kiln-builder: builds wheels for a Kiln backend on this machine.
 *
 *   kiln-builder [--config FILE] [--backend URL] [--token T] [--name N]
 *                [--slots N] [--targets a,b] [--ca-file PEM]
 *       connect to the backend and build what it sends (see docs/protocol.md)
 *   kiln-builder build-local --image IMG --sdist FILE --out DIR ...
 *       run one sandboxed build here, without a backend (build_local.h)
 */
#include "builder/build_local.h"
#include "builder/daemon.h"
#include "common/config.h"
#include "common/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define BUILDER_USAGE                                                                      \
	"usage: kiln-builder [--config FILE] [--backend ws[s]://HOST:PORT] [--token TOKEN]\n" \
	"                    [--name NAME] [--slots N] [--targets T1,T2] [--ca-file PEM]\n"  \
	"       kiln-builder build-local --help\n"                                          \
	"Settings also come from KILN_* variables and the config file (see README).\n"

int main(int argc, char **argv)
{
	static const struct config_flag flags[] = {
		{ "--backend", "KILN_BACKEND_URL" },  { "--token", "KILN_BUILDER_TOKEN" },
		{ "--name", "KILN_BUILDER_NAME" },    { "--slots", "KILN_BUILDER_SLOTS" },
		{ "--targets", "KILN_BUILDER_TARGETS" }, { "--ca-file", "KILN_CA_FILE" },
	};
	struct config cfg;
	struct kerr e;
	int rc;

	if (argc >= 2 && !strcmp(argv[1], "build-local"))
		return build_local_main(argc - 1, argv + 1);
	log_init("kiln-builder");
	config_init(&cfg);
	kerr_clear(&e);
	rc = config_from_args(&cfg, argc, argv, flags, sizeof(flags) / sizeof(flags[0]), NULL, 0,
			      NULL, &e);
	if (rc == CONFIG_ARGS_HELP || rc == CONFIG_ARGS_USAGE) {
		fputs(BUILDER_USAGE, rc == CONFIG_ARGS_HELP ? stdout : stderr);
		config_release(&cfg);
		return rc == CONFIG_ARGS_HELP ? 0 : 2;
	}
	if (rc) {
		fprintf(stderr, "kiln-builder: %s\n", e.msg);
		config_release(&cfg);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = daemon_run(&cfg);
	curl_global_cleanup();
	config_release(&cfg);
	return rc;
}
