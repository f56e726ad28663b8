/*
 * static_files: the web UI (frontend/) served at `/`. Files are small and few,
 * so each is read whole; every response carries a strong ETag (from size and
 * mtime) and `Cache-Control: no-cache`, so browsers revalidate cheaply (304)
 * and a deploy is seen at once without hashed file names. A path with no file
 * extension that names no file gets index.html, so the UI's deep links work,
 * except under the prefixes other handlers own (api/, simple/, files/): a
 * mistyped index or file URL answers 404, never a page of HTML that pip would
 * try to read.
 */
#ifndef KILN_STATIC_FILES_H
#define KILN_STATIC_FILES_H

#include "backend/http.h"

void static_files_handle(struct http_req *req);

/* The Content-Type for a file name, by extension (application/octet-stream if unknown). */
const char *static_files_content_type(const char *name);

/*
 * Is rel (relative, no leading '/') a safe path below the root: no empty, '.',
 * or '..' segment, no backslash or control byte? 1 or 0.
 */
int static_files_path_safe(const char *rel);

/*
 * Is rel (relative, no leading '/') a path the UI's router owns, one that gets
 * index.html when no file has its name? 1 when its last segment has no '.'
 * and it is not under api/, simple/ or files/; else 0.
 */
int static_files_is_ui_route(const char *rel);

#endif
