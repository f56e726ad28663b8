/* api_admin: the queue's admin routes and the queue page (contract in api_admin.h). */
#include "backend/api_admin.h"

#include "backend/admin_auth.h"
#include "backend/api.h"
#include "backend/builder_ws.h"
#include "backend/server.h"
#include "backend/storage_sweep.h"
#include "common/config.h"
#include "common/debpkg.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/pyversion.h"
#include "common/queue_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_ADMIN_REASON_MAX 1000

/*
 * The request body as a JSON object into *out (NULL when the body is empty).
 * 0, or KERR_INVAL after answering 400.
 */
static int api_admin__body(struct http_req *req, cJSON **out)
{
	struct kerr e;

	*out = NULL;
	if (req->body.len == 0)
		return 0;
	if (json_parse_object(req->body.ptr, req->body.len, out, &e)) {
		http_error(req, 400, KERR_INVAL, "request body: %s", e.msg);
		return KERR_INVAL;
	}
	return 0;
}

/*
 * Optional string field key of body (NULL body: absent) into *out, at most max
 * bytes; "" when absent. 0, or KERR_INVAL after answering 400.
 */
static int api_admin__field(struct http_req *req, const cJSON *body, const char *key,
			    size_t max, const char **out)
{
	struct kerr e;

	*out = "";
	if (!body)
		return 0;
	if (json_get_str(body, key, out, &e)) {
		http_error(req, 400, KERR_INVAL, "request body: %s", e.msg);
		return KERR_INVAL;
	}
	if (strlen(*out) > max) {
		http_error(req, 400, KERR_INVAL, "request body: field '%s' is over %zu bytes", key, max);
		return KERR_INVAL;
	}
	return 0;
}

/* A project name as given into its normalized form. 0, or KERR_NOTFOUND after answering 404. */
static int api_admin__project(struct http_req *req, const char *name, struct buf *norm)
{
	if (pyname_normalize(name, strlen(name), norm, NULL)) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%.200s'", name);
		return KERR_NOTFOUND;
	}
	return 0;
}

/* The name of the admin token that authorized req, quoted for the log. */
static const char *api_admin__who(struct http_req *req, char *dst, size_t n)
{
	const struct admin_call *a = req->state;
	return log_quote(dst, n, a->name);
}

/* ---- POST /api/v1/admin/jobs/{id}/cancel ---- */

static void api_admin__cancelled(struct http_req *req, PGresult *r)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char who[160];

	if (PQgetisnull(r, 0, QUEUE_CANCEL_PRIOR_STATE)) {
		http_error(req, 404, KERR_NOTFOUND, "no job %s", req->params[0]);
		return;
	}
	if (!api_bool(r, 0, QUEUE_CANCEL_DONE)) {
		http_error(req, 409, KERR_CONFLICT, "job %s is %s: only queued, assigned or running jobs "
			   "can be cancelled", req->params[0], PQgetvalue(r, 0, QUEUE_CANCEL_PRIOR_STATE));
		return;
	}
	/* The cancel registered the dropped artifacts' keys: the sweep deletes the objects. */
	if (strcmp(PQgetvalue(r, 0, QUEUE_CANCEL_KEYS), "{}"))
		storage_sweep_soon(req->srv);
	log_info("job cancelled", "job=%s was=%s builder=%s by=%s", req->params[0],
		 PQgetvalue(r, 0, QUEUE_CANCEL_PRIOR_STATE),
		 PQgetisnull(r, 0, QUEUE_CANCEL_BUILDER) ? "-" : PQgetvalue(r, 0, QUEUE_CANCEL_BUILDER),
		 api_admin__who(req, who, sizeof(who)));
	buf_printf(&b, "{\"job\":%s,\"state\":\"cancelled\",\"previous_state\":", req->params[0]);
	api_json_value(&b, r, 0, QUEUE_CANCEL_PRIOR_STATE, API_STR);
	buf_puts(&b, ",\"builder\":");
	api_json_value(&b, r, 0, QUEUE_CANCEL_BUILDER, API_STR);
	buf_putc(&b, '}');
	api_respond(req, &b);
}

static void api_admin__cancel(struct http_req *req)
{
	cJSON *body = NULL;
	const char *reason;
	const char *params[2];
	char id[24];
	int64_t job;

	if (api_path_id(req, 0, "job", &job, id) || api_admin__body(req, &body) ||
	    api_admin__field(req, body, "reason", API_ADMIN_REASON_MAX, &reason))
		goto out;
	/* The path id, canonical, is what the answer and the log name. */
	snprintf(req->params[0], sizeof(req->params[0]), "%s", id);
	params[0] = id;
	params[1] = *reason ? reason : QUEUE_CANCEL_REASON;
	api_query(req, queue_sql_cancel, 2, params, api_admin__cancelled);
out:
	cJSON_Delete(body);
}

void api_admin_handle_cancel(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct admin_call), api_admin__cancel);
}

/*
 * Optional integer field "priority" of body into text (QUEUE_PRIORITY_MIN to
 * _MAX); *given 0 when absent. 0, or KERR_INVAL after answering 400.
 */
static int api_admin__priority(struct http_req *req, const cJSON *body, char text[24], int *given)
{
	struct kerr e;
	int64_t v = 0;

	*given = body && cJSON_GetObjectItemCaseSensitive(body, "priority");
	if (!*given)
		return 0;
	if (json_get_int(body, "priority", QUEUE_PRIORITY_MIN, QUEUE_PRIORITY_MAX, &v, &e)) {
		http_error(req, 400, KERR_INVAL, "request body: %s", e.msg);
		return KERR_INVAL;
	}
	snprintf(text, 24, "%lld", (long long)v);
	return 0;
}

/* ---- POST /api/v1/admin/jobs/{id}/priority ---- */

static void api_admin__prioritized(struct http_req *req, PGresult *r)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char who[160];

	if (PQgetisnull(r, 0, QUEUE_PRIORITY_STATE)) {
		http_error(req, 404, KERR_NOTFOUND, "no job %s", req->params[0]);
		return;
	}
	if (!api_bool(r, 0, QUEUE_PRIORITY_DONE)) {
		http_error(req, 409, KERR_CONFLICT, "job %s is %s: only a queued job's priority can "
			   "change", req->params[0], PQgetvalue(r, 0, QUEUE_PRIORITY_STATE));
		return;
	}
	log_info("job priority set", "job=%s priority=%s was=%s by=%s", req->params[0],
		 req->params[1], PQgetvalue(r, 0, QUEUE_PRIORITY_WAS),
		 api_admin__who(req, who, sizeof(who)));
	buf_printf(&b, "{\"job\":%s,\"priority\":%s,\"previous_priority\":%s}", req->params[0],
		   req->params[1], PQgetvalue(r, 0, QUEUE_PRIORITY_WAS));
	api_respond(req, &b);
}

static void api_admin__set_priority(struct http_req *req)
{
	cJSON *body = NULL;
	const char *params[2];
	char id[24], prio[24];
	int64_t job;
	int given = 0;

	if (api_path_id(req, 0, "job", &job, id) || api_admin__body(req, &body) ||
	    api_admin__priority(req, body, prio, &given))
		goto out;
	if (!given) {
		http_error(req, 400, KERR_INVAL, "request body: field 'priority' is required");
		goto out;
	}
	snprintf(req->params[0], sizeof(req->params[0]), "%s", id);
	snprintf(req->params[1], sizeof(req->params[1]), "%s", prio);
	params[0] = id;
	params[1] = prio;
	api_query(req, queue_sql_priority, 2, params, api_admin__prioritized);
out:
	cJSON_Delete(body);
}

void api_admin_handle_priority(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct admin_call), api_admin__set_priority);
}

/* ---- POST /api/v1/admin/projects/{name}/rebuild ---- */

struct api_admin_rebuild {
	struct admin_call auth;
	char version[256];
	char target[64];
};

static void api_admin__rebuilt(struct http_req *req, PGresult *r)
{
	struct api_admin_rebuild *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	long long pairs, created;
	char who[160];

	if (PQgetisnull(r, 0, QUEUE_REBUILD_PROJECT)) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	if (*st->version && !strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_RELEASES), "0")) {
		http_error(req, 404, KERR_NOTFOUND, "project '%s' has no release '%s'", req->params[0],
			   st->version);
		return;
	}
	if (*st->target && !strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_TARGETS), "0")) {
		http_error(req, 404, KERR_NOTFOUND, "no target named '%s'", st->target);
		return;
	}
	if (*st->target && !strcmp(PQgetvalue(r, 0, QUEUE_REBUILD_TARGETS_ENABLED), "0")) {
		http_error(req, 409, KERR_CONFLICT, "target '%s' is disabled", st->target);
		return;
	}
	pairs = strtoll(PQgetvalue(r, 0, QUEUE_REBUILD_PAIRS), NULL, 10);
	created = strtoll(PQgetvalue(r, 0, QUEUE_REBUILD_JOBS_COUNT), NULL, 10);
	log_info("rebuild queued", "project=%s version=%s target=%s jobs=%lld live=%lld by=%s",
		 req->params[0], *st->version ? st->version : "*", *st->target ? st->target : "*",
		 created, pairs - created, api_admin__who(req, who, sizeof(who)));
	buf_puts(&b, "{\"project\":");
	api_json_value(&b, r, 0, QUEUE_REBUILD_PROJECT, API_STR);
	buf_puts(&b, ",\"jobs\":");
	api_json_value(&b, r, 0, QUEUE_REBUILD_JOBS_JSON, API_JSON);
	buf_puts(&b, ",\"releases\":");
	api_json_value(&b, r, 0, QUEUE_REBUILD_RELEASES, API_INT);
	buf_puts(&b, ",\"targets\":");
	api_json_value(&b, r, 0, QUEUE_REBUILD_TARGETS_ENABLED, API_INT);
	buf_puts(&b, ",\"no_source\":");
	api_json_value(&b, r, 0, QUEUE_REBUILD_NO_SOURCE, API_INT);
	buf_puts(&b, ",\"moved\":");
	api_json_value(&b, r, 0, QUEUE_REBUILD_MOVED_JSON, API_JSON);
	buf_printf(&b, ",\"live\":%lld,\"priority\":%s}", pairs - created,
		   PQgetvalue(r, 0, QUEUE_REBUILD_PRIORITY));
	api_respond(req, &b);
}


static void api_admin__rebuild(struct http_req *req)
{
	struct api_admin_rebuild *st;
	struct buf norm = BUF_INIT(255), vnorm = BUF_INIT(512);
	struct pyversion v;
	cJSON *body = NULL;
	const char *version, *target, *params[5];
	char prio[24];
	int has_prio = 0;

	if (api_admin__project(req, req->params[0], &norm) || api_admin__body(req, &body) ||
	    api_admin__field(req, body, "version", 255, &version) ||
	    api_admin__field(req, body, "target", 63, &target) ||
	    api_admin__priority(req, body, prio, &has_prio))
		goto out;
	st = api_call_new(req, sizeof(*st));
	snprintf(req->params[0], sizeof(req->params[0]), "%s", norm.ptr);
	snprintf(st->version, sizeof(st->version), "%s", version);
	snprintf(st->target, sizeof(st->target), "%s", target);
	if (*version && (pyversion_parse_str(&v, version, NULL) || pyversion_normalize(&v, &vnorm)))
		buf_puts(&vnorm, version);
	params[0] = norm.ptr;
	params[1] = *version ? vnorm.ptr : NULL;
	params[2] = version;
	params[3] = *target ? target : NULL;
	params[4] = has_prio ? prio : NULL;
	api_query(req, queue_sql_rebuild, 5, params, api_admin__rebuilt);
out:
	cJSON_Delete(body);
	buf_release(&norm);
	buf_release(&vnorm);
}

void api_admin_handle_rebuild(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct api_admin_rebuild), api_admin__rebuild);
}

/* ---- POST /api/v1/admin/jobs/requeue-failed ---- */

struct api_admin_requeue {
	struct admin_call auth;
	char project[256];
	char target[64];
	char class[32];
};

static void api_admin__requeued(struct http_req *req, PGresult *r)
{
	struct api_admin_requeue *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char who[160];

	if (!api_bool(r, 0, QUEUE_REQUEUE_PROJECT_FOUND)) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", st->project);
		return;
	}
	if (!api_bool(r, 0, QUEUE_REQUEUE_TARGET_FOUND)) {
		http_error(req, 404, KERR_NOTFOUND, "no target named '%s'", st->target);
		return;
	}
	log_info("failed jobs requeued", "project=%s target=%s class=%s failed=%s requeued=%s by=%s",
		 *st->project ? st->project : "*", *st->target ? st->target : "*",
		 *st->class ? st->class : "*",
		 PQgetvalue(r, 0, QUEUE_REQUEUE_FAILED), PQgetvalue(r, 0, QUEUE_REQUEUE_REQUEUED),
		 api_admin__who(req, who, sizeof(who)));
	buf_puts(&b, "{\"failed\":");
	api_json_value(&b, r, 0, QUEUE_REQUEUE_FAILED, API_INT);
	buf_puts(&b, ",\"requeued\":");
	api_json_value(&b, r, 0, QUEUE_REQUEUE_REQUEUED, API_INT);
	buf_puts(&b, ",\"disabled_targets\":");
	api_json_value(&b, r, 0, QUEUE_REQUEUE_DISABLED, API_INT);
	buf_printf(&b, ",\"priority\":%d}", QUEUE_ADMIN_PRIORITY);
	api_respond(req, &b);
}

static void api_admin__requeue(struct http_req *req)
{
	struct api_admin_requeue *st;
	struct buf norm = BUF_INIT(255);
	cJSON *body = NULL;
	const char *project, *target, *class, *params[4];

	if (api_admin__body(req, &body) || api_admin__field(req, body, "project", 255, &project) ||
	    api_admin__field(req, body, "target", 63, &target) ||
	    api_admin__field(req, body, "class", 31, &class) ||
	    (*project && api_admin__project(req, project, &norm)))
		goto out;
	if (*class && !queue_failure_class_ok(class)) {
		http_error(req, 400, KERR_INVAL, "request body: 'class' must be one of "
			   "native-dependency, build-requirement, compile, import, timeout, "
			   "out-of-memory, infrastructure");
		goto out;
	}
	st = api_call_new(req, sizeof(*st));
	snprintf(st->project, sizeof(st->project), "%s", norm.ptr);
	snprintf(st->target, sizeof(st->target), "%s", target);
	snprintf(st->class, sizeof(st->class), "%s", class);
	params[0] = *project ? norm.ptr : NULL;
	params[1] = *target ? target : NULL;
	params[2] = QUEUE_ADMIN_PRIORITY_TEXT;
	params[3] = *class ? class : NULL;
	api_query(req, queue_sql_requeue_failed, 4, params, api_admin__requeued);
out:
	cJSON_Delete(body);
	buf_release(&norm);
}

void api_admin_handle_requeue_failed(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct api_admin_requeue), api_admin__requeue);
}

/* ---- /api/v1/admin/projects/{name}/native-packages ---- */

static void api_admin__deps_listed(struct http_req *req, PGresult *r)
{
	static const struct api_field f[] = {
		{ "package", API_STR }, { "source", API_STR }, { "added_by", API_STR },
		{ "build_id", API_INT }, { "created_at", API_STR },
	};
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int n = PQntuples(r), shown = 0;

	if (n == 0) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	buf_puts(&b, "{\"project\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_PROJECT, API_STR);
	buf_printf(&b, ",\"max\":%d,\"auto_max\":%d,\"packages\":[", DEBPKG_PROJECT_MAX,
		   DEBPKG_AUTO_MAX);
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(r, i, QUEUE_DEPS_PACKAGE))
			continue;
		buf_puts(&b, shown++ ? ",{" : "{");
		api_json_fields(&b, r, i, QUEUE_DEPS_PACKAGE, f, sizeof(f) / sizeof(f[0]));
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}");
	api_respond(req, &b);
}

static void api_admin__deps_list(struct http_req *req)
{
	struct buf norm = BUF_INIT(255);
	const char *params[1];

	if (api_admin__project(req, req->params[0], &norm))
		goto out;
	snprintf(req->params[0], sizeof(req->params[0]), "%s", norm.ptr);
	params[0] = norm.ptr;
	api_query(req, queue_sql_deps_list, 1, params, api_admin__deps_listed);
out:
	buf_release(&norm);
}



static void api_admin__deps_added(struct http_req *req, PGresult *r)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char who[160];

	if (PQgetisnull(r, 0, QUEUE_DEPS_ADD_PROJECT)) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	if (!api_bool(r, 0, QUEUE_DEPS_ADD_FITS)) {
		http_error(req, 409, KERR_CONFLICT, "project '%s' would have more than %d native "
			   "packages; none added", req->params[0], DEBPKG_PROJECT_MAX);
		return;
	}
	log_info("native packages added", "project=%s packages=%s requeued=%s source=admin by=%s",
		 req->params[0], PQgetvalue(r, 0, QUEUE_DEPS_ADD_ADDED),
		 PQgetvalue(r, 0, QUEUE_DEPS_ADD_REQUEUED), api_admin__who(req, who, sizeof(who)));
	buf_puts(&b, "{\"project\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_ADD_PROJECT, API_STR);
	buf_puts(&b, ",\"added\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_ADD_ADDED, API_JSON);
	buf_puts(&b, ",\"requeued\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_ADD_REQUEUED, API_INT);
	buf_puts(&b, ",\"total\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_ADD_TOTAL, API_INT);
	buf_putc(&b, '}');
	api_respond(req, &b);
}

static void api_admin__deps_add(struct http_req *req)
{
	const struct admin_call *a = req->state;
	struct buf norm = BUF_INIT(255), arr = BUF_INIT(BUF_NOLIMIT);
	cJSON *body = NULL;
	const cJSON *pkgs = NULL, *it;
	const char *params[4];
	struct kerr e;
	int n = 0;

	if (api_admin__project(req, req->params[0], &norm) || api_admin__body(req, &body))
		goto out;
	if (!body || json_get_array(body, "packages", &pkgs, &e) || !pkgs ||
	    cJSON_GetArraySize(pkgs) < 1 || cJSON_GetArraySize(pkgs) > DEBPKG_PROJECT_MAX) {
		http_error(req, 400, KERR_INVAL, "request body: 'packages' must list 1 to %d Debian "
			   "package names", DEBPKG_PROJECT_MAX);
		goto out;
	}
	buf_putc(&arr, '{');
	cJSON_ArrayForEach(it, pkgs) {
		if (!cJSON_IsString(it) || !debpkg_name_ok(it->valuestring)) {
			http_error(req, 400, KERR_INVAL, "request body: 'packages' must list Debian "
				   "package names ([a-z0-9][a-z0-9+.-]{0,63})");
			goto out;
		}
		buf_printf(&arr, "%s%s", n++ ? "," : "", it->valuestring);
	}
	buf_putc(&arr, '}');
	snprintf(req->params[0], sizeof(req->params[0]), "%s", norm.ptr);
	params[0] = norm.ptr;
	params[1] = arr.ptr;
	params[2] = a->name;
	params[3] = QUEUE_ADMIN_PRIORITY_TEXT;
	api_query(req, queue_sql_deps_add, 4, params, api_admin__deps_added);
out:
	cJSON_Delete(body);
	buf_release(&arr);
	buf_release(&norm);
}

void api_admin_handle_deps(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct admin_call),
			   req->method == HTTP_POST ? api_admin__deps_add : api_admin__deps_list);
}

static void api_admin__deps_removed(struct http_req *req, PGresult *r)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char who[160];

	if (PQgetisnull(r, 0, QUEUE_DEPS_RM_PROJECT)) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	if (!strcmp(PQgetvalue(r, 0, QUEUE_DEPS_RM_REMOVED), "[]")) {
		http_error(req, 404, KERR_NOTFOUND, "project '%s' has no native package '%s'",
			   req->params[0], req->params[1]);
		return;
	}
	log_info("native packages removed", "project=%s packages=%s requeued=%s by=%s",
		 req->params[0], PQgetvalue(r, 0, QUEUE_DEPS_RM_REMOVED),
		 PQgetvalue(r, 0, QUEUE_DEPS_RM_REQUEUED), api_admin__who(req, who, sizeof(who)));
	buf_puts(&b, "{\"project\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_RM_PROJECT, API_STR);
	buf_puts(&b, ",\"removed\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_RM_REMOVED, API_JSON);
	buf_puts(&b, ",\"requeued\":");
	api_json_value(&b, r, 0, QUEUE_DEPS_RM_REQUEUED, API_INT);
	buf_putc(&b, '}');
	api_respond(req, &b);
}

static void api_admin__deps_remove(struct http_req *req)
{
	struct buf norm = BUF_INIT(255);
	struct buf arr = BUF_INIT(BUF_NOLIMIT);
	const char *params[3];

	if (api_admin__project(req, req->params[0], &norm))
		goto out;
	if (!debpkg_name_ok(req->params[1])) {
		http_error(req, 404, KERR_NOTFOUND, "'%.80s' is not a Debian package name",
			   req->params[1]);
		goto out;
	}
	snprintf(req->params[0], sizeof(req->params[0]), "%s", norm.ptr);
	buf_printf(&arr, "{%s}", req->params[1]);
	params[0] = norm.ptr;
	params[1] = arr.ptr;
	params[2] = QUEUE_ADMIN_PRIORITY_TEXT;
	api_query(req, queue_sql_deps_remove, 3, params, api_admin__deps_removed);
out:
	buf_release(&arr);
	buf_release(&norm);
}

void api_admin_handle_deps_remove(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct admin_call), api_admin__deps_remove);
}

/* ---- POST /api/v1/admin/builders/{name}/pause and /resume ---- */

static void api_admin__paused(struct http_req *req, PGresult *r)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char who[160];

	if (PQntuples(r) == 0) {
		http_error(req, 404, KERR_NOTFOUND, "no builder named '%.200s'", req->params[0]);
		return;
	}
	log_info(req->tag ? "builder paused by an admin" : "builder resumed by an admin",
		 "builder=%s state=%s by=%s", PQgetvalue(r, 0, QUEUE_PAUSE_NAME),
		 PQgetvalue(r, 0, QUEUE_PAUSE_STATE), api_admin__who(req, who, sizeof(who)));
	buf_puts(&b, "{\"name\":");
	api_json_value(&b, r, 0, QUEUE_PAUSE_NAME, API_STR);
	buf_puts(&b, ",\"state\":");
	api_json_value(&b, r, 0, QUEUE_PAUSE_STATE, API_STR);
	buf_putc(&b, '}');
	api_respond(req, &b);
}

static void api_admin__pause(struct http_req *req)
{
	cJSON *body = NULL;
	const char *params[2] = { req->params[0], req->tag ? "true" : "false" };

	/* No fields, but a body that is there must still be a JSON object. */
	if (!api_admin__body(req, &body))
		api_query(req, queue_sql_pause, 2, params, api_admin__paused);
	cJSON_Delete(body);
}

void api_admin_handle_pause(struct http_req *req)
{
	req->tag = 1;
	admin_auth_require(req, sizeof(struct admin_call), api_admin__pause);
}

void api_admin_handle_resume(struct http_req *req)
{
	req->tag = 0;
	admin_auth_require(req, sizeof(struct admin_call), api_admin__pause);
}

/* ---- POST /api/v1/admin/builds/{id}/check ---- */

static void api_admin__checked(struct http_req *req, PGresult *r)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	const char *job = PQgetvalue(r, 0, QUEUE_CHECK_JOB);
	char who[160];

	if (PQgetisnull(r, 0, QUEUE_CHECK_JOB)) {
		http_error(req, 404, KERR_NOTFOUND, "no build %s", req->params[0]);
		return;
	}
	if (strcmp(PQgetvalue(r, 0, QUEUE_CHECK_KIND), "build")) {
		http_error(req, 409, KERR_CONFLICT, "build %s is a reproducibility check itself (job %s)",
			   req->params[0], job);
		return;
	}
	if (strcmp(PQgetvalue(r, 0, QUEUE_CHECK_STATE), "succeeded") ||
	    !api_bool(r, 0, QUEUE_CHECK_PUBLISHED)) {
		http_error(req, 409, KERR_CONFLICT, "build %s did not publish wheels of its own "
			   "(job %s is %s): there is nothing to check", req->params[0], job,
			   PQgetvalue(r, 0, QUEUE_CHECK_STATE));
		return;
	}
	if (PQgetisnull(r, 0, QUEUE_CHECK_NEW)) {
		if (PQgetisnull(r, 0, QUEUE_CHECK_LIVE))
			http_error(req, 409, KERR_CONFLICT, "a check of this release and target is "
				   "already queued or running");
		else
			http_error(req, 409, KERR_CONFLICT, "a check of this release and target is "
				   "already queued or running: job %s",
				   PQgetvalue(r, 0, QUEUE_CHECK_LIVE));
		return;
	}
	log_info("reproducibility check queued", "build=%s job=%s check=%s by=%s", req->params[0],
		 job, PQgetvalue(r, 0, QUEUE_CHECK_NEW), api_admin__who(req, who, sizeof(who)));
	buf_printf(&b, "{\"job\":%s,\"check_of\":%s,\"build\":%s,\"priority\":%s}",
		   PQgetvalue(r, 0, QUEUE_CHECK_NEW), job, req->params[0],
		   QUEUE_CHECK_PRIORITY_TEXT);
	http_respond_json(req, 202, &b);
	buf_release(&b);
}

static void api_admin__check(struct http_req *req)
{
	cJSON *body = NULL;
	const char *params[1];
	char id[24];
	int64_t build;

	/* No fields, but a body that is there must still be a JSON object. */
	if (api_path_id(req, 0, "build", &build, id) || api_admin__body(req, &body))
		goto out;
	snprintf(req->params[0], sizeof(req->params[0]), "%s", id);
	params[0] = id;
	api_query(req, queue_sql_check, 1, params, api_admin__checked);
out:
	cJSON_Delete(body);
}

void api_admin_handle_check(struct http_req *req)
{
	admin_auth_require(req, sizeof(struct admin_call), api_admin__check);
}

/* ---- GET /api/v1/queue ---- */

struct api_admin_queue {
	struct api_call call;
	int64_t limit;
};

static void api_admin__queue_done(struct http_req *req, PGresult *r)
{
	static const struct api_field head[] = { { "id", API_INT } };
	static const struct api_field project[] = {
		{ "name", API_STR }, { "normalized", API_STR },
	};
	static const struct api_field rest[] = {
		{ "version", API_STR }, { "target", API_STR }, { "state", API_STR },
		{ "priority", API_INT }, { "attempts", API_INT }, { "max_attempts", API_INT },
		{ "builder", API_STR }, { "build_id", API_INT }, { "phase", API_STR },
		{ "created_at", API_STR }, { "assigned_at", API_STR }, { "started_at", API_STR },
		{ "not_before", API_STR },
	};
	static const struct api_field waiting[] = { { "waiting_for", API_STR } };
	static const struct api_field kind[] = { { "kind", API_STR } };
	struct api_admin_queue *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int n = PQntuples(r);
	int shown = n > st->limit ? (int)st->limit : n;

	api_list_begin(&b, "jobs");
	for (int i = 0; i < shown; i++) {
		int col;

		buf_puts(&b, i ? ",{" : "{");
		col = api_json_fields(&b, r, i, QUEUE_LIST_ID, head, 1);
		api_json_key(&b, "project");
		buf_putc(&b, '{');
		col = api_json_fields(&b, r, i, col, project, 2);
		buf_putc(&b, '}');
		api_json_fields(&b, r, i, col, rest, sizeof(rest) / sizeof(rest[0]));
		api_json_fields(&b, r, i, QUEUE_LIST_WAITING_FOR, waiting, 1);
		api_json_fields(&b, r, i, QUEUE_LIST_KIND, kind, 1);
		buf_putc(&b, '}');
	}
	api_list_end(&b, n > shown ? PQgetvalue(r, shown - 1, QUEUE_LIST_CURSOR) : NULL);
	api_respond(req, &b);
}

void api_admin_handle_queue(struct http_req *req)
{
	static const char *const states[] = { "queued", "assigned", "running", NULL };
	char state[16], target[256], project[256], cursor[128], lim[24], window[24];
	char cg[24], cp[24], cf[24], ci[24];
	struct buf norm = BUF_INIT(255);
	struct api_admin_queue *st;
	const char *params[9];
	int64_t limit;

	if (api_arg_choice(req, "state", states, state, sizeof(state)) ||
	    api_arg_str(req, "target", target, sizeof(target)) ||
	    api_arg_str(req, "project", project, sizeof(project)) ||
	    api_arg_int(req, "limit", 1, API_LIMIT_MAX, API_LIMIT_DEFAULT, &limit) ||
	    api_arg_str(req, "cursor", cursor, sizeof(cursor)))
		goto out;
	if (*project && pyname_normalize(project, strlen(project), &norm, NULL)) {
		http_error(req, 400, KERR_INVAL, "'%s' is not a valid project name", project);
		goto out;
	}
	if (*cursor && queue_sql_cursor_parse(cursor, cg, cp, cf, ci)) {
		http_error(req, 400, KERR_INVAL, "query parameter 'cursor' is not a cursor this API "
			   "made: '%s'", cursor);
		goto out;
	}
	snprintf(lim, sizeof(lim), "%lld", (long long)limit + 1);
	params[0] = *state ? state : NULL;
	params[1] = *target ? target : NULL;
	params[2] = *project ? norm.ptr : NULL;
	params[3] = *cursor ? cg : NULL;
	params[4] = *cursor ? cp : NULL;
	params[5] = *cursor ? cf : NULL;
	params[6] = *cursor ? ci : NULL;
	params[7] = lim;
	snprintf(window, sizeof(window), "%d",
		 queue_online_window(config_get_int(req->srv->cfg, CONFIG_LEASE_SECONDS)));
	params[8] = window;
	st = api_call_new(req, sizeof(*st));
	st->limit = limit;
	api_query(req, queue_sql_list, 9, params, api_admin__queue_done);
out:
	buf_release(&norm);
}
