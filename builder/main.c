/*
 * kiln-builder: entry point. `build-local` runs one sandboxed build on this
 * machine (build_local.h). The daemon (the backend connection and job loop) is
 * not wired in yet.
 */
#include "builder/build_local.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "build-local"))
		return build_local_main(argc - 1, argv + 1);
	fprintf(stderr, "kiln-builder: the daemon is not implemented yet "
		"(usage: kiln-builder build-local --help)\n");
	return 2;
}
