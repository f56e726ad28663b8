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
	static const struct {
		const char *flag, *option;
	} flags[] = {
		{ "--backend", "KILN_BACKEND_URL" },  { "--token", "KILN_BUILDER_TOKEN" },
		{ "--name", "KILN_BUILDER_NAME" },    { "--slots", "KILN_BUILDER_SLOTS" },
		{ "--targets", "KILN_BUILDER_TARGETS" }, { "--ca-file", "KILN_CA_FILE" },
	};
	struct config cfg;
	struct kerr e;
	const char *config_path = NULL;
	int rc;

	if (argc >= 2 && !strcmp(argv[1], "build-local"))
		return build_local_main(argc - 1, argv + 1);
	log_init("kiln-builder");
	config_init(&cfg);
	kerr_clear(&e);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config_path = argv[++i];
	if (config_load(&cfg, config_path, &e))
		goto fail;
	for (int i = 1; i < argc; i++) {
		size_t k;
		if (!strcmp(argv[i], "--config")) {
			i++;
			continue;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(BUILDER_USAGE, stdout);
			config_release(&cfg);
			return 0;
		}
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (!strcmp(argv[i], flags[k].flag) && i + 1 < argc)
				break;
		if (k == sizeof(flags) / sizeof(flags[0])) {
			fputs(BUILDER_USAGE, stderr);
			config_release(&cfg);
			return 2;
		}
		if (config_set(&cfg, flags[k].option, argv[++i], &e))
			goto fail;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = daemon_run(&cfg);
	curl_global_cleanup();
	config_release(&cfg);
	return rc;
fail:
	fprintf(stderr, "kiln-builder: %s\n", e.msg);
	config_release(&cfg);
	return 1;
}
