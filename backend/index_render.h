/*
 * index_render: the simple repository API's pages (PEP 503 HTML with PEP 592,
 * 629, 658 and 714 attributes; PEP 691 JSON with PEP 700 and 714 keys), built
 * from plain structs so they can be tested and fuzzed without a database.
 *
 * File URLs are relative to the page (`../../files/{project}/{filename}`), so
 * the index works behind a reverse proxy under any prefix; `{url}.metadata` is
 * the PEP 658 metadata file, advertised with the metadata file's own sha256.
 * A file with provenance links it (PEP 740: `data-provenance`, `provenance`)
 * at `../../integrity/{project}/{version}/{filename}/provenance`.
 */
#ifndef KILN_INDEX_RENDER_H
#define KILN_INDEX_RENDER_H

#include "common/buf.h"

#include <stddef.h>

#define INDEX_API_VERSION "1.1"

struct index_file {
	const char *filename;
	const char *version;          /* the release's version string */
	const char *sha256;
	long long size;
	const char *requires_python;  /* "" if none */
	const char *metadata_sha256;  /* "" if no metadata file is served */
	int yanked;
	const char *yanked_reason;    /* "" if none given */
	const char *upload_time;      /* ISO 8601 UTC with Z, "" if unknown */
	int provenance;               /* link its PEP 740 provenance (the farm signs) */
};

struct index_project {
	const char *name;        /* as shown */
	const char *normalized;
	long long serial;
};

/*
 * Sort files as PyPI does: by version (PEP 440 order; unparsable versions last,
 * by string), then by filename.
 */
void index_sort_files(struct index_file *files, size_t n);

/* Project page. normalized is the URL component. 0 or KERR_TOOBIG. */
int index_render_project_html(const char *normalized, long long serial,
			      const struct index_file *files, size_t n, struct buf *out);
int index_render_project_json(const char *normalized, long long serial,
			      const struct index_file *files, size_t n, struct buf *out);

/* The root listing of projects (sorted by the caller). */
int index_render_root_html(const struct index_project *p, size_t n, long long serial,
			   struct buf *out);
int index_render_root_json(const struct index_project *p, size_t n, long long serial,
			   struct buf *out);

/* Append s with &, <, >, " and ' escaped for HTML text and attribute values. */
int index_html_escape(struct buf *out, const char *s);

#endif
