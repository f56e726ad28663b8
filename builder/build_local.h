/*
 * build_local: `kiln-builder build-local`, one sandboxed build on this machine
 * without a backend: the same source, prefetch and sandbox steps a job takes,
 * driven from the command line. For trying an image, debugging a project's
 * build and the integration tests.
 *
 *   kiln-builder build-local [--image IMG] --out DIR
 *       (--sdist FILE | --sdist-url URL --sha256 HEX | --source-dir DIR
 *        | --git URL --commit SHA)
 *       [--timeout S] [--memory-mib N] [--cpus N] [--pids N] [--log-cap BYTES]
 *       [--output-cap BYTES] [--wheels DIR] [--no-prefetch] [--python PATH]
 *       [--docker-socket PATH] [--ca-file FILE] [--config FILE]
 *   kiln-builder build-local --reap
 *
 * --reap removes the containers and volumes that build-local runs left behind
 * when they were killed (sandbox_reap with owner "build-local").
 *
 * The build's stdout and stderr go to ours; Kiln's notes go to stderr. The last
 * lines on stdout are "result: ok" and one "wheel: PATH" per wheel, or
 * "result: failed: REASON".
 * Exit status: 0 built; 1 the build failed (a verdict on the project); 2 usage;
 * 3 an error of the builder or a permanent source error; 4 a transient error
 * (worth retrying). SIGINT/SIGTERM cancel the build and clean up.
 */
#ifndef KILN_BUILDER_BUILD_LOCAL_H
#define KILN_BUILDER_BUILD_LOCAL_H

/* argv[0] is "build-local". Returns the exit status. */
int build_local_main(int argc, char **argv);

#endif
