/* static_files: serve frontend/ (contract in static_files.h). */
#include "backend/static_files.h"

#include "backend/server.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX_FILE (8u << 20)

static const struct {
	const char *ext;
	const char *type;
} static__types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".woff2", "font/woff2" },
	{ ".map", "application/json" },
	{ ".webmanifest", "application/manifest+json" },
};

const char *static_files_content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(static__types) / sizeof(static__types[0]); i++)
			if (!strcasecmp(dot, static__types[i].ext))
				return static__types[i].type;
	return "application/octet-stream";
}

int static_files_path_safe(const char *rel)
{
	const char *seg = rel;

	if (rel[0] == '/')
		return 0;
	for (const char *p = rel;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - seg);
			/* An empty last segment means a directory ("docs/"): allowed. */
			if ((n == 0 && *p == '/') || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return 0;
			if (!*p)
				return 1;
			seg = p + 1;
		} else if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f) {
			return 0;
		}
	}
}

int static_files_is_ui_route(const char *rel)
{
	static const char *const servers[] = { "api", "simple", "files" };
	const char *last = strrchr(rel, '/');

	last = last ? last + 1 : rel;
	if (strchr(last, '.'))
		return 0;
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		size_t n = strlen(servers[i]);
		if (!strncmp(rel, servers[i], n) && (rel[n] == '/' || rel[n] == '\0'))
			return 0;
	}
	return 1;
}

/* Read dir/rel into a malloc'd buffer; fills st. 0, KERR_NOTFOUND or KERR_IO. */
static int static__read(const char *dir, const char *rel, char **data, struct stat *st)
{
	char path[4096];
	int fd = -1, rc = 0;
	size_t got = 0;

	*data = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
		return KERR_NOTFOUND;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? KERR_NOTFOUND : KERR_IO;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		rc = KERR_NOTFOUND;
		goto fail;
	}
	if ((size_t)st->st_size > STATIC_MAX_FILE) {
		rc = KERR_TOOBIG;
		goto fail;
	}
	*data = xmalloc((size_t)st->st_size + 1);
	while (got < (size_t)st->st_size) {
		ssize_t n = read(fd, *data + got, (size_t)st->st_size - got);
		if (n <= 0) {
			rc = KERR_IO;
			goto fail;
		}
		got += (size_t)n;
	}
fail:
	if (rc) {
		free(*data);
		*data = NULL;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

void static_files_handle(struct http_req *req)
{
	const char *rel = req->params[0];
	char file[HTTP_MAX_PATH + 16];
	char etag[64], inm[128], hdr[256];
	struct stat st;
	char *data = NULL;
	int rc;

	if (!static_files_path_safe(rel)) {
		http_error(req, 404, KERR_NOTFOUND, "no such path: %s", req->path);
		return;
	}
	snprintf(file, sizeof(file), "%s%s", rel,
		 (!*rel || rel[strlen(rel) - 1] == '/') ? "index.html" : "");
	rc = static__read(req->srv->frontend_dir, file, &data, &st);
	if (rc == KERR_NOTFOUND && static_files_is_ui_route(rel)) {
		/* A UI route such as /projects/numpy: the UI's router takes it from here. */
		snprintf(file, sizeof(file), "index.html");
		rc = static__read(req->srv->frontend_dir, file, &data, &st);
	}
	if (rc) {
		if (rc == KERR_NOTFOUND)
			http_error(req, 404, KERR_NOTFOUND, "no such path: %s", req->path);
		else
			http_error(req, 500, rc, "could not read %s", file);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
			 (unsigned long long)st.st_mtim.tv_nsec);
	snprintf(hdr, sizeof(hdr), "ETag: %s\r\nCache-Control: no-cache\r\n"
		 "X-Content-Type-Options: nosniff\r\n", etag);
	http_header(req, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm));
	if (*inm && strstr(inm, etag))
		http_respond(req, 304, NULL, hdr, NULL, 0);
	else
		http_respond(req, 200, static_files_content_type(file), hdr, data, (size_t)st.st_size);
	free(data);
}
