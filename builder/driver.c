/*
 * driver: the embedded build driver's result, read strictly (contract in
 * driver.h). The script itself is generated into driver_embedded.c.
 */
#include "builder/driver.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/wheelname.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void driver_result_init(struct driver_result *r)
{
	memset(r, 0, sizeof(*r));
}

static void driver__free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void driver_result_release(struct driver_result *r)
{
	driver__free_strings(r->requires, r->nrequires);
	for (size_t i = 0; i < r->nwheels; i++)
		driver__free_strings(r->wheels[i].report.needed, r->wheels[i].report.nneeded);
	free(r->wheels);
	driver_result_init(r);
}

static int driver__stage(const char *s, enum sandbox_stage *out)
{
	static const struct { const char *name; enum sandbox_stage stage; } map[] = {
		{ "none", SANDBOX_STAGE_NONE }, { "requires", SANDBOX_STAGE_REQUIRES },
		{ "build", SANDBOX_STAGE_BUILD }, { "repair", SANDBOX_STAGE_REPAIR },
		{ "import", SANDBOX_STAGE_IMPORT },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(s, map[i].name)) {
			*out = map[i].stage;
			return 0;
		}
	return -1;
}

/* Every byte of s in the set, 1..max bytes long. */
static int driver__charset(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, c))))
			return 0;
	}
	return 1;
}

/* A requirement as prefetch accepts it: printable ASCII, no leading '-'. */
static int driver__requirement_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 1000 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int driver__wheel(const cJSON *it, struct driver_wheel *w, struct kerr *e)
{
	const char *filename = NULL, *policy = NULL;
	const cJSON *needed = NULL, *s;
	struct wheelname wn;
	int rc;

	if (!cJSON_IsObject(it))
		return kerr_set(e, KERR_INVAL, "result: a wheel is not an object");
	if ((rc = json_get_str_req(it, "filename", &filename, e)) ||
	    (rc = json_get_str(it, "policy", &policy, e)) ||
	    (rc = json_get_array(it, "needed", &needed, e)))
		return rc;
	if (strlen(filename) >= sizeof(w->filename) ||
	    wheelname_parse(&wn, filename, strlen(filename), NULL))
		return kerr_set(e, KERR_INVAL, "result: bad wheel filename");
	snprintf(w->filename, sizeof(w->filename), "%s", filename);
	if (policy && *policy) {
		if (!driver__charset(policy, sizeof(w->report.policy) - 1, "_"))
			return kerr_set(e, KERR_INVAL, "result: bad policy");
		snprintf(w->report.policy, sizeof(w->report.policy), "%s", policy);
	}
	if (!needed)
		return 0;
	if (cJSON_GetArraySize(needed) > DRIVER_MAX_NEEDED)
		return kerr_set(e, KERR_INVAL, "result: more than %d needed libraries",
				DRIVER_MAX_NEEDED);
	cJSON_ArrayForEach(s, needed) {
		if (!cJSON_IsString(s) || !driver__charset(s->valuestring, 255, "._+-"))
			return kerr_set(e, KERR_INVAL, "result: bad soname");
		w->report.needed = xrealloc(w->report.needed,
					    (w->report.nneeded + 1) * sizeof(char *));
		w->report.needed[w->report.nneeded++] = xstrdup(s->valuestring);
	}
	return 0;
}

int driver_result_parse(const char *json, size_t n, struct driver_result *out, struct kerr *e)
{
	const char *stage = NULL, *reason = NULL;
	const cJSON *reqs = NULL, *wheels = NULL, *it;
	int64_t epoch = 0;
	cJSON *j = NULL;
	int rc;

	driver_result_init(out);
	if (n > DRIVER_RESULT_MAX)
		return kerr_set(e, KERR_INVAL, "result: larger than %u bytes", DRIVER_RESULT_MAX);
	if ((rc = json_parse_object(json, n, &j, e)) ||
	    (rc = json_get_str_req(j, "stage", &stage, e)) ||
	    (rc = json_get_str(j, "reason", &reason, e)) ||
	    (rc = json_get_array(j, "requires", &reqs, e)) ||
	    (rc = json_get_array(j, "wheels", &wheels, e)) ||
	    (rc = json_get_int(j, "source_date_epoch", 0, 253402300799, &epoch, e)))
		goto fail;
	out->source_date_epoch = epoch;
	if (driver__stage(stage, &out->stage)) {
		rc = kerr_set(e, KERR_INVAL, "result: unknown stage");
		goto fail;
	}
	if (reason) {
		size_t i;
		for (i = 0; reason[i] && i < sizeof(out->reason) - 1; i++)
			out->reason[i] = (unsigned char)reason[i] < 0x20 ||
				(unsigned char)reason[i] > 0x7e ? '?' : reason[i];
		out->reason[i] = '\0';
	}
	if (reqs) {
		if (cJSON_GetArraySize(reqs) > DRIVER_MAX_REQUIRES) {
			rc = kerr_set(e, KERR_INVAL, "result: more than %d requirements",
				      DRIVER_MAX_REQUIRES);
			goto fail;
		}
		cJSON_ArrayForEach(it, reqs) {
			if (!cJSON_IsString(it) || !driver__requirement_ok(it->valuestring)) {
				rc = kerr_set(e, KERR_INVAL, "result: unacceptable requirement");
				goto fail;
			}
			out->requires = xrealloc(out->requires, (out->nrequires + 1) * sizeof(char *));
			out->requires[out->nrequires++] = xstrdup(it->valuestring);
		}
	}
	if (wheels) {
		if (cJSON_GetArraySize(wheels) > DRIVER_MAX_WHEELS) {
			rc = kerr_set(e, KERR_INVAL, "result: more than %d wheels", DRIVER_MAX_WHEELS);
			goto fail;
		}
		out->wheels = xcalloc((size_t)cJSON_GetArraySize(wheels) + 1, sizeof(*out->wheels));
		cJSON_ArrayForEach(it, wheels) {
			/* Counted before parsing, so release frees a half-filled entry too. */
			if ((rc = driver__wheel(it, &out->wheels[out->nwheels++], e)))
				goto fail;
		}
	}
	cJSON_Delete(j);
	return 0;
fail:
	cJSON_Delete(j);
	driver_result_release(out);
	return rc;
}

int driver_result_untar(int fd, size_t max, struct buf *out, struct kerr *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	char data[16 * 1024];
	la_ssize_t n;
	int r, rc = KERR_NOTFOUND;

	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INVAL, "bad result archive: %s", archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_INVAL, "bad result archive: %s", archive_error_string(a));
			goto out;
		}
		if (archive_entry_filetype(ent) != AE_IFREG)
			continue;
		while ((n = archive_read_data(a, data, sizeof(data))) > 0) {
			if (out->len + (size_t)n > max) {
				rc = kerr_set(e, KERR_TOOBIG, "result larger than %zu bytes", max);
				goto out;
			}
			buf_append(out, data, (size_t)n);
		}
		if (n < 0) {
			rc = kerr_set(e, KERR_INVAL, "bad result archive: %s", archive_error_string(a));
			goto out;
		}
		rc = 0;
		break;
	}
	if (rc == KERR_NOTFOUND)
		kerr_set(e, rc, "no file in the result archive");
out:
	archive_read_free(a);
	return rc;
}

void driver_result_reports(struct driver_result *r, char *const *paths, size_t n,
			   struct sandbox_wheel_report **reports)
{
	struct sandbox_wheel_report *v = xcalloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/');

		base = base ? base + 1 : paths[i];
		for (size_t k = 0; k < r->nwheels; k++) {
			if (strcmp(r->wheels[k].filename, base))
				continue;
			v[i] = r->wheels[k].report;
			memset(&r->wheels[k].report, 0, sizeof(r->wheels[k].report));
			r->wheels[k].filename[0] = '\0';
			break;
		}
	}
	*reports = v;
}

void driver_reports_free(struct sandbox_wheel_report *reports, size_t n)
{
	if (!reports)
		return;
	for (size_t i = 0; i < n; i++)
		driver__free_strings(reports[i].needed, reports[i].nneeded);
	free(reports);
}
