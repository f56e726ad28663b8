/*
 * platform: the machine architectures a builder serves and the wheel platform
 * tags a target installs (issue 16, docs/protocol.md).
 *
 * Architectures are named as `uname -m` says them on Linux: x86_64, aarch64.
 * Docker and Debian say amd64 and arm64; platform_arch_normalize maps those.
 *
 * The platform ladder of a target is what pip may install into its image, most
 * specific first: manylinux_2_<glibc minor>_<arch> down to manylinux_2_17_<arch>,
 * manylinux2014_<arch>, linux_<arch>, any. A target without a known glibc gets
 * the ladder of glibc 2.17 (PLATFORM_GLIBC_DEFAULT), the oldest one manylinux
 * names: every Debian image Kiln makes has at least that, so those wheels run
 * there, and most build requirements publish such a wheel.
 */
#ifndef KILN_BUILDER_PLATFORM_H
#define KILN_BUILDER_PLATFORM_H

#include <stddef.h>

struct kerr;

#define PLATFORM_ARCH_MAX 32          /* an architecture name, NUL included */
#define PLATFORM_MAX_EMULATED 4       /* arches in KILN_BUILDER_EMULATE */
#define PLATFORM_GLIBC_DEFAULT "2.17" /* a target without glibc */
#define PLATFORM_GLIBC_MINOR_MAX 99
#define PLATFORM_LADDER_MAX (PLATFORM_GLIBC_MINOR_MAX - 17 + 1 + 3)
#define PLATFORM_BINFMT_DIR "/proc/sys/fs/binfmt_misc"

/*
 * Write the canonical name of arch into out (PLATFORM_ARCH_MAX bytes): amd64
 * and x86_64 are "x86_64", arm64 and aarch64 "aarch64"; any other name made of
 * [a-z0-9_] (1-31 characters, e.g. ppc64le) is kept as it is. KERR_INVAL for
 * anything else.
 */
int platform_arch_normalize(const char *arch, char out[PLATFORM_ARCH_MAX], struct kerr *e);

/* This machine's architecture (uname(2)), normalized. 0 or KERR_INVAL/KERR_IO. */
int platform_host_arch(char out[PLATFORM_ARCH_MAX], struct kerr *e);

/* Docker's name of a (normalized) arch: "amd64", "arm64", or arch itself. */
const char *platform_docker_arch(const char *arch);

/*
 * Parse a comma list of architectures (KILN_BUILDER_EMULATE: "aarch64", "arm64,
 * aarch64", "") into out[0..*n), normalized, without repeats and without host
 * (the machine's own arch needs no emulation). KERR_INVAL with e naming the
 * bad name, or when there are more than max.
 */
int platform_parse_arches(const char *list, const char *host, char out[][PLATFORM_ARCH_MAX],
			  size_t max, size_t *n, struct kerr *e);

/*
 * Is a binfmt_misc handler registered and enabled for arch under binfmt_dir
 * (NULL: PLATFORM_BINFMT_DIR)? That is the file qemu-<arch> there whose first
 * line says "enabled". 0, or KERR_NOTFOUND with e saying what is missing and
 * how to fix it.
 */
int platform_emulation_check(const char *arch, const char *binfmt_dir, struct kerr *e);

struct platform_ladder {
	char tags[PLATFORM_LADDER_MAX][64];
	const char *v[PLATFORM_LADDER_MAX + 1]; /* tags, NULL-terminated: prefetch_target.platforms */
	size_t n;
};

/*
 * Fill l with the ladder of arch (normalized) and glibc ("2.36"; NULL or "":
 * PLATFORM_GLIBC_DEFAULT). A glibc older than 2.17 gets linux_<arch> and any
 * only. KERR_INVAL for a malformed arch or glibc (not "2.<0-99>").
 */
int platform_ladder(struct platform_ladder *l, const char *arch, const char *glibc,
		    struct kerr *e);

#endif
