/*
 * api_downloads: a project's download statistics in REST API v1, for charts
 * and export.
 *
 *   GET /api/v1/projects/{name}/downloads?days=30&format=json|csv
 *
 * The last `days` UTC days (1 to 366, today included): one count per day
 * (from download_counts over the project's artifacts, zero-filled), and the
 * totals per installer and per Python version (from download_agents, the 100
 * largest of each), and per day for each of those installers and versions
 * (non-zero days only). format=csv answers the same numbers as text/csv in
 * one tidy table, `series,key,downloads`, with series `day`, `installer`,
 * `python`, `day-installer` and `day-python` (key "2026-01-02 pip"). A {name}
 * that is not normalized answers 301 to the normalized URL.
 */
#ifndef KILN_API_DOWNLOADS_H
#define KILN_API_DOWNLOADS_H

#include "backend/http.h"

void api_downloads_handle(struct http_req *req);

#endif
