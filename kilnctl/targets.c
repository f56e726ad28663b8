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

int targets_add(PGconn *c, const char *name, const char *image, const char *python,
		const char *platform, struct buf *out, struct kerr *e)
{
	char tag[16];
	const char *params[5];
	long n = 0;
	int rc;

	if (!targets__name_ok(name))
		return kerr_set(e, KERR_INVAL, "invalid target name '%s': use [a-z0-9._-], up to 63 chars",
				name);
	if (targets__python_tag(python, tag, sizeof(tag)))
		return kerr_set(e, KERR_INVAL, "python must look like 3.11, got '%s'", python);
	if (!*image || strlen(image) > 255 || strpbrk(image, " \t\n"))
		return kerr_set(e, KERR_INVAL, "invalid image reference '%s'", image);
	if (!*platform || strlen(platform) > 63 || strpbrk(platform, " -./\t"))
		return kerr_set(e, KERR_INVAL, "invalid platform tag '%s' (e.g. linux_x86_64)", platform);
	params[0] = name;
	params[1] = image;
	params[2] = tag;
	params[3] = python;
	params[4] = platform;
	rc = db_command(c, "insert into targets (name, image, python_tag, python_version, platform)"
			   " values ($1, $2, $3, $4, $5) on conflict (name) do update set"
			   " image = excluded.image, python_tag = excluded.python_tag,"
			   " python_version = excluded.python_version, platform = excluded.platform",
			5, params, &n, e);
	if (!rc)
		buf_printf(out, "target '%s': %s, CPython %s (%s), %s\n", name, image, python, tag,
			   platform);
	return rc;
}

int targets_list(PGconn *c, struct buf *out, struct kerr *e)
{
	PGresult *r = NULL;
	int rc = db_query(c, "select name, case when enabled then 'enabled' else 'disabled' end,"
			     " python_tag, platform, image from targets order by name", 0, NULL, &r, e);
	if (rc)
		return rc;
	buf_printf(out, "%-28s %-9s %-7s %-22s %s\n", "NAME", "STATE", "PYTHON", "PLATFORM", "IMAGE");
	for (int i = 0; i < PQntuples(r); i++)
		buf_printf(out, "%-28s %-9s %-7s %-22s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
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
