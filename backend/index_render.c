/* index_render: PEP 503/691 pages (contract in index_render.h). */
#include "backend/index_render.h"

#include "common/json.h"
#include "common/kerr.h"
#include "common/pyversion.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

int index_html_escape(struct buf *out, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = buf_puts(out, "&amp;"); break;
		case '<': rc = buf_puts(out, "&lt;"); break;
		case '>': rc = buf_puts(out, "&gt;"); break;
		case '"': rc = buf_puts(out, "&quot;"); break;
		case '\'': rc = buf_puts(out, "&#39;"); break;
		default: rc = buf_putc(out, *s);
		}
	}
	return rc;
}

/* The PEP 740 provenance URL of f, relative to the project page; html: escaped for an attribute. */
static int index__provenance_url(struct buf *out, const char *normalized, const struct index_file *f,
				 int html)
{
	int rc = 0;

	rc |= buf_puts(out, "../../integrity/");
	rc |= html ? index_html_escape(out, normalized) : buf_puts(out, normalized);
	rc |= buf_putc(out, '/');
	rc |= html ? index_html_escape(out, f->version) : buf_puts(out, f->version);
	rc |= buf_putc(out, '/');
	rc |= html ? index_html_escape(out, f->filename) : buf_puts(out, f->filename);
	rc |= buf_puts(out, "/provenance");
	return rc;
}

struct index__sortkey {
	struct index_file f;
	struct pyversion v;
	int valid;
};

static int index__cmp(const void *pa, const void *pb)
{
	const struct index__sortkey *a = pa, *b = pb;
	int c;

	if (a->valid != b->valid)
		return a->valid ? -1 : 1;
	c = a->valid ? pyversion_cmp(&a->v, &b->v) : strcmp(a->f.version, b->f.version);
	return c ? c : strcmp(a->f.filename, b->f.filename);
}

void index_sort_files(struct index_file *files, size_t n)
{
	struct index__sortkey *k;

	if (n < 2)
		return;
	k = xcalloc(n, sizeof(*k));
	for (size_t i = 0; i < n; i++) {
		k[i].f = files[i];
		k[i].valid = pyversion_parse_str(&k[i].v, files[i].version, NULL) == 0;
	}
	qsort(k, n, sizeof(*k), index__cmp);
	for (size_t i = 0; i < n; i++)
		files[i] = k[i].f;
	free(k);
}

int index_render_project_html(const char *normalized, long long serial,
			      const struct index_file *files, size_t n, struct buf *out)
{
	int rc = 0;

	rc |= buf_puts(out, "<!DOCTYPE html>\n<html>\n  <head>\n"
			    "    <meta name=\"pypi:repository-version\" content=\"" INDEX_API_VERSION "\">\n"
			    "    <title>Links for ");
	rc |= index_html_escape(out, normalized);
	rc |= buf_puts(out, "</title>\n  </head>\n  <body>\n    <h1>Links for ");
	rc |= index_html_escape(out, normalized);
	rc |= buf_puts(out, "</h1>\n");
	for (size_t i = 0; i < n && !rc; i++) {
		const struct index_file *f = &files[i];
		rc |= buf_puts(out, "    <a href=\"../../files/");
		rc |= index_html_escape(out, normalized);
		rc |= buf_putc(out, '/');
		rc |= index_html_escape(out, f->filename);
		rc |= buf_printf(out, "#sha256=%s\"", f->sha256);
		if (*f->requires_python) {
			rc |= buf_puts(out, " data-requires-python=\"");
			rc |= index_html_escape(out, f->requires_python);
			rc |= buf_putc(out, '"');
		}
		if (*f->metadata_sha256)
			rc |= buf_printf(out, " data-dist-info-metadata=\"sha256=%s\""
					      " data-core-metadata=\"sha256=%s\"",
					 f->metadata_sha256, f->metadata_sha256);
		if (f->provenance) {
			rc |= buf_puts(out, " data-provenance=\"");
			rc |= index__provenance_url(out, normalized, f, 1);
			rc |= buf_putc(out, '"');
		}
		if (f->yanked) {
			rc |= buf_puts(out, " data-yanked=\"");
			rc |= index_html_escape(out, f->yanked_reason);
			rc |= buf_putc(out, '"');
		}
		rc |= buf_putc(out, '>');
		rc |= index_html_escape(out, f->filename);
		rc |= buf_puts(out, "</a><br />\n");
	}
	rc |= buf_printf(out, "  </body>\n</html>\n<!--SERIAL %lld-->\n", serial);
	return rc ? KERR_TOOBIG : 0;
}

int index_render_project_json(const char *normalized, long long serial,
			      const struct index_file *files, size_t n, struct buf *out)
{
	int rc = 0;

	rc |= buf_printf(out, "{\"meta\":{\"api-version\":\"" INDEX_API_VERSION "\","
			      "\"_last-serial\":%lld},\"name\":", serial);
	rc |= json_append_str(out, normalized);
	rc |= buf_puts(out, ",\"versions\":[");
	/* files are sorted by version: emit each distinct version once. */
	for (size_t i = 0; i < n && !rc; i++) {
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(files[j].version, files[i].version);
		if (seen)
			continue;
		if (out->ptr[out->len - 1] != '[')
			rc |= buf_putc(out, ',');
		rc |= json_append_str(out, files[i].version);
	}
	rc |= buf_puts(out, "],\"files\":[");
	for (size_t i = 0; i < n && !rc; i++) {
		const struct index_file *f = &files[i];
		if (i)
			rc |= buf_putc(out, ',');
		rc |= buf_puts(out, "{\"filename\":");
		rc |= json_append_str(out, f->filename);
		rc |= buf_puts(out, ",\"url\":\"../../files/");
		/* normalized names and wheel filenames need no JSON escaping */
		rc |= buf_puts(out, normalized);
		rc |= buf_putc(out, '/');
		rc |= buf_puts(out, f->filename);
		rc |= buf_printf(out, "\",\"hashes\":{\"sha256\":\"%s\"},\"requires-python\":", f->sha256);
		if (*f->requires_python)
			rc |= json_append_str(out, f->requires_python);
		else
			rc |= buf_puts(out, "null");
		if (*f->metadata_sha256)
			rc |= buf_printf(out, ",\"core-metadata\":{\"sha256\":\"%s\"}", f->metadata_sha256);
		else
			rc |= buf_puts(out, ",\"core-metadata\":false");
		rc |= buf_puts(out, ",\"yanked\":");
		if (!f->yanked)
			rc |= buf_puts(out, "false");
		else if (*f->yanked_reason)
			rc |= json_append_str(out, f->yanked_reason);
		else
			rc |= buf_puts(out, "true");
		rc |= buf_printf(out, ",\"size\":%lld", f->size);
		if (*f->upload_time) {
			rc |= buf_puts(out, ",\"upload-time\":");
			rc |= json_append_str(out, f->upload_time);
		}
		if (f->provenance) {
			struct buf u = BUF_INIT(BUF_NOLIMIT);
			rc |= index__provenance_url(&u, normalized, f, 0);
			rc |= buf_puts(out, ",\"provenance\":");
			rc |= json_append_str(out, u.ptr);
			buf_release(&u);
		}
		rc |= buf_putc(out, '}');
	}
	rc |= buf_puts(out, "]}");
	return rc ? KERR_TOOBIG : 0;
}

int index_render_root_html(const struct index_project *p, size_t n, long long serial,
			   struct buf *out)
{
	int rc = 0;

	rc |= buf_puts(out, "<!DOCTYPE html>\n<html>\n  <head>\n"
			    "    <meta name=\"pypi:repository-version\" content=\"" INDEX_API_VERSION "\">\n"
			    "    <title>Simple index</title>\n  </head>\n  <body>\n");
	for (size_t i = 0; i < n && !rc; i++) {
		rc |= buf_puts(out, "    <a href=\"");
		rc |= index_html_escape(out, p[i].normalized);
		rc |= buf_puts(out, "/\">");
		rc |= index_html_escape(out, p[i].name);
		rc |= buf_puts(out, "</a><br />\n");
	}
	rc |= buf_printf(out, "  </body>\n</html>\n<!--SERIAL %lld-->\n", serial);
	return rc ? KERR_TOOBIG : 0;
}

int index_render_root_json(const struct index_project *p, size_t n, long long serial,
			   struct buf *out)
{
	int rc = 0;

	rc |= buf_printf(out, "{\"meta\":{\"api-version\":\"" INDEX_API_VERSION "\","
			      "\"_last-serial\":%lld},\"projects\":[", serial);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc |= buf_putc(out, ',');
		rc |= buf_puts(out, "{\"name\":");
		rc |= json_append_str(out, p[i].name);
		rc |= buf_printf(out, ",\"_last-serial\":%lld}", p[i].serial);
	}
	rc |= buf_puts(out, "]}");
	return rc ? KERR_TOOBIG : 0;
}
