/* targets: build target administration (contract in targets.h). */
#include "kilnctl/targets.h"

#include "common/db.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int targets__python_tag(const char *python, char *tag, size_t n)
{
	int major = 0, minor = 0;
	char rest;

	if (sscanf(python, "%d.%d%c", &major, &minor, &rest) != 2 || major < 2 || major > 9 ||
	    minor < 0 || minor > 99)
		return -1;
	snprintf(tag, n, "cp%d%d", major, minor);
	return 0;
}

static int targets__name_ok(const char *s)
{
	if (!*s || strlen(s) > 63 || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '.' || *s == '_' ||
		      *s == '-'))
			return 0;
	return 1;
}

/* A Debian suite name: [a-z][a-z0-9-]{0,31}, as migrations/0013_targets.sql checks. */
static int targets__suite_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 32 || !islower((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-'))
			return 0;
	return 1;
}

/* A glibc version 2.N, N one to three digits. */
static int targets__glibc_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 5 || strncmp(s, "2.", 2))
		return 0;
	for (s += 2; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int targets__arch_ok(const char *a)
{
	return !strcmp(a, "x86_64") || !strcmp(a, "aarch64");
}

int targets_add(PGconn *c, const struct targets_spec *t, struct buf *out, struct kerr *e)
{
	char tag[16], platform[64];
	const char *arch = t->arch;
	const char *params[8];
	long n = 0;
	int rc;

	if (!targets__name_ok(t->name))
		return kerr_set(e, KERR_INVAL, "invalid target name '%s': use [a-z0-9._-], up to 63 chars",
				t->name);
	if (targets__python_tag(t->python, tag, sizeof(tag)))
		return kerr_set(e, KERR_INVAL, "--python must look like 3.13, got '%s'", t->python);
	if (!*t->image || strlen(t->image) > 255 || strpbrk(t->image, " \t\n"))
		return kerr_set(e, KERR_INVAL, "invalid image reference '%s'", t->image);
	/* No --arch: the platform's (linux_aarch64), else x86_64. */
	if (!arch)
		arch = t->platform && strlen(t->platform) > 8 &&
		       !strcmp(t->platform + strlen(t->platform) - 8, "_aarch64") ? "aarch64" : "x86_64";
	if (!targets__arch_ok(arch))
		return kerr_set(e, KERR_INVAL, "--arch must be x86_64 or aarch64 (as uname -m says it), "
				"got '%s'", arch);
	if (t->platform)
		snprintf(platform, sizeof(platform), "%s", t->platform);
	else
		snprintf(platform, sizeof(platform), "linux_%s", arch);
	if (!*platform || strlen(platform) > 63 || strpbrk(platform, " -./\t"))
		return kerr_set(e, KERR_INVAL, "invalid platform tag '%s' (e.g. linux_x86_64)", platform);
	if (strlen(platform) <= strlen(arch) + 1 ||
	    strcmp(platform + strlen(platform) - strlen(arch), arch) ||
	    platform[strlen(platform) - strlen(arch) - 1] != '_')
		return kerr_set(e, KERR_INVAL, "platform '%s' is not one of arch %s (e.g. linux_%s)",
				platform, arch, arch);
	if (t->suite && !targets__suite_ok(t->suite))
		return kerr_set(e, KERR_INVAL, "--suite must be a Debian suite name like bookworm, "
				"got '%s'", t->suite);
	if (t->glibc && !targets__glibc_ok(t->glibc))
		return kerr_set(e, KERR_INVAL, "--glibc must look like 2.36, got '%s'", t->glibc);
	params[0] = t->name;
	params[1] = t->image;
	params[2] = tag;
	params[3] = t->python;
	params[4] = platform;
	params[5] = arch;
	params[6] = t->suite;
	params[7] = t->glibc;
	rc = db_command(c, "insert into targets (name, image, python_tag, python_version, platform,"
			   " arch, suite, glibc) values ($1, $2, $3, $4, $5, $6, $7, $8)"
			   " on conflict (name) do update set"
			   " image = excluded.image, python_tag = excluded.python_tag,"
			   " python_version = excluded.python_version, platform = excluded.platform,"
			   " arch = excluded.arch, suite = excluded.suite, glibc = excluded.glibc",
			8, params, &n, e);
	if (!rc)
		buf_printf(out, "target '%s': %s, CPython %s (%s), %s, %s%s%s%s%s\n", t->name,
			   t->image, t->python, tag, arch, platform, t->suite ? ", " : "",
			   t->suite ? t->suite : "", t->glibc ? ", glibc " : "", t->glibc ? t->glibc : "");
	return rc;
}

int targets_list(PGconn *c, struct buf *out, struct kerr *e)
{
	PGresult *r = NULL;
	int rc = db_query(c, "select name, case when enabled then 'enabled' else 'disabled' end,"
			     " python_tag, arch, coalesce(suite, '-'), coalesce(glibc, '-'), platform,"
			     " image from targets order by name", 0, NULL, &r, e);
	if (rc)
		return rc;
	buf_printf(out, "%-28s %-9s %-7s %-8s %-9s %-6s %-16s %s\n", "NAME", "STATE", "PYTHON",
		   "ARCH", "SUITE", "GLIBC", "PLATFORM", "IMAGE");
	for (int i = 0; i < PQntuples(r); i++)
		buf_printf(out, "%-28s %-9s %-7s %-8s %-9s %-6s %-16s %s\n", PQgetvalue(r, i, 0),
			   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
			   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
			   PQgetvalue(r, i, 7));
	PQclear(r);
	return 0;
}

int targets_set_enabled(PGconn *c, const char *name, int enabled, struct kerr *e)
{
	const char *params[2] = { name, enabled ? "true" : "false" };
	long n = 0;
	int rc = db_command(c, "update targets set enabled = $2::boolean where name = $1", 2, params,
			    &n, e);
	if (rc)
		return rc;
	return n ? 0 : kerr_set(e, KERR_NOTFOUND, "no target named '%s'", name);
}
