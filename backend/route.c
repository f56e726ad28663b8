/* route: the URL table and its matcher (contract in route.h). */
#include "backend/route.h"

#include "backend/api.h"
#include "backend/api_admin.h"
#include "backend/api_builds.h"
#include "backend/api_downloads.h"
#include "backend/api_farm.h"
#include "backend/api_projects.h"
#include "backend/downloads.h"
#include "backend/build_logs.h"
#include "backend/health.h"
#include "backend/index.h"
#include "backend/provenance.h"
#include "backend/static_files.h"
#include "backend/upload.h"

#include <string.h>

const struct route route_table[] = {
	{ HTTP_GET | HTTP_HEAD, "/healthz", "healthz", health_handle_live, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/readyz", "readyz", health_handle_ready, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/metrics", "metrics", health_handle_metrics, 0, 0 },
	{ HTTP_PUT, "/api/v1/jobs/*/artifacts/*", "upload", upload_handle, 0, 1 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/builds/*/log", "build_log", build_logs_handle_get, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/simple", "simple_redirect", index_handle_redirect, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/simple/", "simple_root", index_handle_root, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/simple/*", "simple_redirect", index_handle_redirect, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/simple/*/", "simple_project", index_handle_project, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/files/*/*", "files", downloads_handle_file, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/integrity/*/*/*/provenance", "provenance", provenance_handle_get, 0, 0 },
	/* PROVENANCE_KEY_PATH, spelled out for the OpenAPI test that reads this table */
	{ HTTP_GET | HTTP_HEAD, "/.well-known/kiln-provenance.pub", "provenance_key",
	  provenance_handle_key, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/projects", "api_projects", api_projects_handle_list, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/projects/*", "api_project", api_projects_handle_detail, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/projects/*/releases/*", "api_release", api_projects_handle_release, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/projects/*/downloads", "api_downloads", api_downloads_handle, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/artifacts/*", "api_artifact", api_builds_handle_artifact, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/builds", "api_builds", api_builds_handle_list, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/builds/*", "api_build", api_builds_handle_detail, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/targets", "api_targets", api_farm_handle_targets, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/builders", "api_builders", api_farm_handle_builders, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/stats", "api_stats", api_farm_handle_stats, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/stats/history", "api_stats_history", api_farm_handle_history,
	  0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/api/v1/queue", "api_queue", api_admin_handle_queue, 0, 0 },
	{ HTTP_POST, "/api/v1/admin/jobs/requeue-failed", "admin_requeue_failed",
	  api_admin_handle_requeue_failed, API_ADMIN_BODY_MAX, 0 },
	{ HTTP_POST, "/api/v1/admin/jobs/*/cancel", "admin_cancel", api_admin_handle_cancel,
	  API_ADMIN_BODY_MAX, 0 },
	{ HTTP_POST, "/api/v1/admin/jobs/*/priority", "admin_priority", api_admin_handle_priority,
	  API_ADMIN_BODY_MAX, 0 },
	{ HTTP_POST, "/api/v1/admin/projects/*/rebuild", "admin_rebuild", api_admin_handle_rebuild,
	  API_ADMIN_BODY_MAX, 0 },
	{ HTTP_GET | HTTP_HEAD | HTTP_POST, "/api/v1/admin/projects/*/native-packages", "admin_deps",
	  api_admin_handle_deps, API_ADMIN_BODY_MAX, 0 },
	{ HTTP_DELETE, "/api/v1/admin/projects/*/native-packages/*", "admin_deps_remove",
	  api_admin_handle_deps_remove, 0, 0 },
	{ HTTP_POST, "/api/v1/admin/builders/*/pause", "admin_pause", api_admin_handle_pause,
	  API_ADMIN_BODY_MAX, 0 },
	{ HTTP_POST, "/api/v1/admin/builders/*/resume", "admin_resume", api_admin_handle_resume,
	  API_ADMIN_BODY_MAX, 0 },
	{ HTTP_POST, "/api/v1/admin/builds/*/check", "admin_check", api_admin_handle_check,
	  API_ADMIN_BODY_MAX, 0 },
	/* Keep last of the /api routes: other API paths answer a JSON 404, not the UI. */
	{ HTTP_GET | HTTP_HEAD, "/api/**", "api_unknown", api_handle_not_found, 0, 0 },
	{ HTTP_GET | HTTP_HEAD, "/**", "static", static_files_handle, 0, 0 },
	{ 0, NULL, NULL, NULL, 0, 0 },
};

/* Match one pattern; 1 on match with params filled. */
static int route__match(const char *pat, const char *path, char params[HTTP_MAX_PARAMS][256])
{
	int np = 0;

	for (;;) {
		if (pat[0] == '*' && pat[1] == '*' && pat[2] == '\0') {
			size_t n = strlen(path);
			if (np >= HTTP_MAX_PARAMS || n >= 256)
				return 0;
			memcpy(params[np], path, n + 1);
			return 1;
		}
		if (pat[0] == '*' && (pat[1] == '/' || pat[1] == '\0')) {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= 256 || np >= HTTP_MAX_PARAMS)
				return 0;
			memcpy(params[np], path, n);
			params[np][n] = '\0';
			np++;
			pat++;
			path += n;
			continue;
		}
		if (*pat != *path)
			return 0;
		if (!*pat)
			return 1;
		pat++;
		path++;
	}
}

const struct route *route_match(const char *path, unsigned method,
				char params[HTTP_MAX_PARAMS][256], int *wrong_method)
{
	*wrong_method = 0;
	for (const struct route *r = route_table; r->pattern; r++) {
		if (!route__match(r->pattern, path, params))
			continue;
		if (r->methods & method)
			return r;
		*wrong_method = 1;
	}
	return NULL;
}
