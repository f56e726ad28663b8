/* api_downloads: per-day, per-installer and per-Python download counts (contract in api_downloads.h). */
#include "backend/api_downloads.h"

#include "backend/api.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum api_downloads_kind {
	DL_PROJECT = 0, DL_DAY = 1, DL_INSTALLER = 2, DL_PYTHON = 3, DL_DAY_INSTALLER = 4,
	DL_DAY_PYTHON = 5,
};

/*
 * $1 normalized name, $2 days. Rows: (kind, key, downloads, key2); kind 0 is
 * the project itself (key = name, downloads NULL, normalized in column 3),
 * then the series in the order the response lists them. The per-day series
 * by installer and Python version (key = day, key2 = installer or version)
 * hold the non-zero days of the 100 largest installers and versions only.
 */
static const char api_downloads__sql[] =
	"with p as (select id, name, normalized from projects where normalized = $1"
	"  and deleted_at is null),"
	" days as (select " API_TODAY " - g as day from generate_series(0, $2::int - 1) g"
	"  where exists (select 1 from p)),"
	" daily as (select dc.day, sum(dc.count)::bigint as n from download_counts dc"
	"  join artifacts a on a.id = dc.artifact_id"
	"  where a.project_id = (select id from p)"
	"  and dc.day > " API_TODAY " - $2::int and dc.day <= " API_TODAY
	"  group by dc.day),"
	" agents as (select day, installer, coalesce(nullif(python_version, ''), 'unknown') as python,"
	"  count from download_agents where project_id = (select id from p)"
	"  and day > " API_TODAY " - $2::int and day <= " API_TODAY "),"
	" inst as (select installer as k, sum(count)::bigint as n from agents group by installer"
	"  order by n desc, k limit 100),"
	" py as (select python as k, sum(count)::bigint as n from agents group by python"
	"  order by n desc, k limit 100),"
	" dinst as (select day, installer as k, sum(count)::bigint as n from agents"
	"  where installer in (select k from inst) group by day, installer),"
	" dpy as (select day, python as k, sum(count)::bigint as n from agents"
	"  where python in (select k from py) group by day, python)"
	" select * from ("
	" select 0 as kind, name as k, null::bigint as n, normalized from p"
	" union all select 1, to_char(d.day, 'YYYY-MM-DD'), coalesce(daily.n, 0), null"
	"  from days d left join daily on daily.day = d.day"
	" union all select 2, k, n, null from inst"
	" union all select 3, k, n, null from py"
	" union all select 4, to_char(day, 'YYYY-MM-DD'), n, k from dinst where n > 0"
	" union all select 5, to_char(day, 'YYYY-MM-DD'), n, k from dpy where n > 0) s"
	" order by kind, case when kind in (1, 4, 5) then k end, n desc, k, normalized";

static int api_downloads__kind(const PGresult *r, int row)
{
	return (int)strtol(PQgetvalue(r, row, 0), NULL, 10);
}

struct api_downloads {
	struct api_call call;
	int64_t days;
	int csv;
};

/* Append s as one CSV field: quoted when needed, and never read as a formula. */
static void api_downloads__csv_field(struct buf *b, const char *s)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		buf_putc(b, '"');
	if (strchr("=+-@\t", *s) && *s)
		buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '"')
			buf_putc(b, '"');
		buf_putc(b, *s);
	}
	if (quote)
		buf_putc(b, '"');
}

static void api_downloads__csv(struct http_req *req, PGresult *r, const char *normalized)
{
	static const char *const series[] = { "", "day", "installer", "python", "day-installer",
					      "day-python" };
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	char hdr[512];

	buf_puts(&b, "series,key,downloads\r\n");
	for (int i = 0; i < PQntuples(r); i++) {
		int kind = api_downloads__kind(r, i);
		if (kind < DL_DAY || kind > DL_DAY_PYTHON)
			continue;
		buf_printf(&b, "%s,", series[kind]);
		if (kind >= DL_DAY_INSTALLER) {
			/* One key column keeps the table tidy: "2026-01-02 pip". */
			struct buf key = BUF_INIT(BUF_NOLIMIT);
			buf_printf(&key, "%s %s", PQgetvalue(r, i, 1), PQgetvalue(r, i, 3));
			api_downloads__csv_field(&b, key.ptr);
			buf_release(&key);
		} else {
			api_downloads__csv_field(&b, PQgetvalue(r, i, 1));
		}
		buf_printf(&b, ",%s\r\n", PQgetvalue(r, i, 2));
	}
	/* The normalized name needs no quoting in a header: [a-z0-9-] only. */
	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\n"
		 "Content-Disposition: attachment; filename=\"%s-downloads.csv\"\r\n", normalized);
	http_respond(req, 200, "text/csv; charset=utf-8", hdr, b.ptr, b.len);
	buf_release(&b);
}

static void api_downloads__done(struct http_req *req, PGresult *r)
{
	static const char *const arrays[] = { "", "daily", "installers", "python_versions",
					      "daily_installers", "daily_python_versions" };
	static const char *const keys[] = { "", "day", "installer", "python_version", "day", "day" };
	static const char *const keys2[] = { "", "", "", "", "installer", "python_version" };
	struct api_downloads *st = req->state;
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	long long total = 0;
	int n = PQntuples(r), row = 1;

	if (n == 0 || api_downloads__kind(r, 0) != DL_PROJECT) {
		http_error(req, 404, KERR_NOTFOUND, "no project named '%s'", req->params[0]);
		return;
	}
	if (st->csv) {
		api_downloads__csv(req, r, PQgetvalue(r, 0, 3));
		return;
	}
	for (int i = 1; i < n; i++)
		if (api_downloads__kind(r, i) == DL_DAY)
			total += strtoll(PQgetvalue(r, i, 2), NULL, 10);
	buf_puts(&b, "{\"project\":{\"name\":");
	json_append_str(&b, PQgetvalue(r, 0, 1));
	buf_puts(&b, ",\"normalized\":");
	json_append_str(&b, PQgetvalue(r, 0, 3));
	buf_printf(&b, "},\"days\":%lld,\"total\":%lld", (long long)st->days, total);
	/* Rows are ordered by kind, so each series is one run. */
	for (int kind = DL_DAY; kind <= DL_DAY_PYTHON; kind++) {
		int first = 1;

		buf_printf(&b, ",\"%s\":[", arrays[kind]);
		for (; row < n && api_downloads__kind(r, row) == kind; row++) {
			buf_printf(&b, "%s{\"%s\":", first ? "" : ",", keys[kind]);
			json_append_str(&b, PQgetvalue(r, row, 1));
			if (*keys2[kind]) {
				buf_printf(&b, ",\"%s\":", keys2[kind]);
				json_append_str(&b, PQgetvalue(r, row, 3));
			}
			buf_printf(&b, ",\"downloads\":%s}", PQgetvalue(r, row, 2));
			first = 0;
		}
		buf_putc(&b, ']');
	}
	buf_putc(&b, '}');
	api_respond(req, &b);
}

void api_downloads_handle(struct http_req *req)
{
	static const char *const formats[] = { "json", "csv", NULL };
	char name[256], days[24], format[8];
	const char *params[2];
	struct api_downloads *st;
	int64_t d;

	if (api_path_project(req, 0, name, sizeof(name)) ||
	    api_arg_int(req, "days", 1, 366, 30, &d) ||
	    api_arg_choice(req, "format", formats, format, sizeof(format)))
		return;
	snprintf(days, sizeof(days), "%lld", (long long)d);
	st = api_call_new(req, sizeof(*st));
	st->days = d;
	st->csv = !strcmp(format, "csv");
	params[0] = name;
	params[1] = days;
	api_query(req, api_downloads__sql, 2, params, api_downloads__done);
}
