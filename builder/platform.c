/* platform: architectures and platform ladders (contract in platform.h). */
#include "builder/platform.h"

#include "common/kerr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

int platform_arch_normalize(const char *arch, char out[PLATFORM_ARCH_MAX], struct kerr *e)
{
	size_t n = arch ? strlen(arch) : 0;

	out[0] = '\0';
	if (!n || n >= PLATFORM_ARCH_MAX ||
	    strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return kerr_set(e, KERR_INVAL, "bad architecture '%.40s' (x86_64, aarch64, ...)",
				arch ? arch : "");
	if (!strcmp(arch, "amd64"))
		arch = "x86_64";
	else if (!strcmp(arch, "arm64"))
		arch = "aarch64";
	snprintf(out, PLATFORM_ARCH_MAX, "%s", arch);
	return 0;
}

int platform_host_arch(char out[PLATFORM_ARCH_MAX], struct kerr *e)
{
	struct utsname u;

	if (uname(&u))
		return kerr_set(e, KERR_IO, "uname: %s", strerror(errno));
	return platform_arch_normalize(u.machine, out, e);
}

const char *platform_docker_arch(const char *arch)
{
	if (!strcmp(arch, "x86_64"))
		return "amd64";
	if (!strcmp(arch, "aarch64"))
		return "arm64";
	return arch;
}

int platform_parse_arches(const char *list, const char *host, char out[][PLATFORM_ARCH_MAX],
			  size_t max, size_t *n, struct kerr *e)
{
	const char *p = list ? list : "";

	*n = 0;
	while (*p) {
		size_t len = strcspn(p, ", ");
		if (len) {
			char name[PLATFORM_ARCH_MAX], norm[PLATFORM_ARCH_MAX];
			size_t i;

			if (len >= sizeof(name))
				return kerr_set(e, KERR_INVAL, "architecture name too long: '%.40s'", p);
			memcpy(name, p, len);
			name[len] = '\0';
			if (platform_arch_normalize(name, norm, e))
				return KERR_INVAL;
			for (i = 0; i < *n && strcmp(out[i], norm); i++)
				;
			if (i == *n && !(host && !strcmp(host, norm))) {
				if (*n == max)
					return kerr_set(e, KERR_INVAL, "more than %zu architectures", max);
				memcpy(out[(*n)++], norm, sizeof(norm));
			}
		}
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

int platform_emulation_check(const char *arch, const char *binfmt_dir, struct kerr *e)
{
	char path[512], line[64] = "";
	FILE *f;

	if (!binfmt_dir)
		binfmt_dir = PLATFORM_BINFMT_DIR;
	snprintf(path, sizeof(path), "%s/qemu-%s", binfmt_dir, arch);
	if (!(f = fopen(path, "r")))
		return kerr_set(e, KERR_NOTFOUND,
				"KILN_BUILDER_EMULATE names %s, but no binfmt handler for it is "
				"registered (%s: %s): run `scripts/emulation.sh enable` (installs "
				"qemu-user-static and binfmt-support), or drop %s from KILN_BUILDER_EMULATE",
				arch, path, strerror(errno), arch);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, "enabled"))
		return kerr_set(e, KERR_NOTFOUND,
				"KILN_BUILDER_EMULATE names %s, but its binfmt handler %s is '%s', not "
				"enabled: run `scripts/emulation.sh enable` (update-binfmts --enable "
				"qemu-%s)", arch, path, line, arch);
	return 0;
}

/* "2.36" -> 36; -1 if it is not "2.<0-99>". */
static int platform__glibc_minor(const char *glibc)
{
	char *end;
	long minor;

	if (strncmp(glibc, "2.", 2) || !glibc[2] || strspn(glibc + 2, "0123456789") != strlen(glibc + 2))
		return -1;
	errno = 0;
	minor = strtol(glibc + 2, &end, 10);
	if (errno || *end || minor > PLATFORM_GLIBC_MINOR_MAX || strlen(glibc + 2) > 3)
		return -1;
	return (int)minor;
}

int platform_ladder(struct platform_ladder *l, const char *arch, const char *glibc,
		    struct kerr *e)
{
	char norm[PLATFORM_ARCH_MAX];
	int minor;

	memset(l, 0, sizeof(*l));
	if (platform_arch_normalize(arch, norm, e))
		return KERR_INVAL;
	if (!glibc || !*glibc)
		glibc = PLATFORM_GLIBC_DEFAULT;
	if ((minor = platform__glibc_minor(glibc)) < 0)
		return kerr_set(e, KERR_INVAL, "bad glibc version '%.40s' (2.36, ...)", glibc);
	/* manylinux_2_17 and manylinux2014 are one policy under two names. */
	for (int m = minor; m >= 17; m--)
		snprintf(l->tags[l->n++], sizeof(l->tags[0]), "manylinux_2_%d_%s", m, norm);
	if (minor >= 17)
		snprintf(l->tags[l->n++], sizeof(l->tags[0]), "manylinux2014_%s", norm);
	snprintf(l->tags[l->n++], sizeof(l->tags[0]), "linux_%s", norm);
	snprintf(l->tags[l->n++], sizeof(l->tags[0]), "any");
	for (size_t i = 0; i < l->n; i++)
		l->v[i] = l->tags[i];
	l->v[l->n] = NULL;
	return 0;
}
