/*
 * build_logs: build logs, live and afterwards.
 *
 * While a build runs its log is rows of build_log_chunks (one per builder
 * chunk, by sequence number). Anyone may watch it over WebSocket,
 *   GET /api/v1/builds/{id}/log/ws   (subprotocol "kiln-log.v1")
 * which sends what exists, then each new chunk in order as any replica stores
 * it (NOTIFY kiln_log), then {"type":"end"} when the build ends (NOTIFY
 * kiln_build). When a build ends (finished, or lost by the reaper) its chunks
 * are joined, gzipped and stored as logs/{build}.log.gz, and the rows deleted;
 * a sweep every 20 s does the same for ended builds whose compaction failed or
 * never ran (storage down, a replica killed in between).
 *   GET /api/v1/builds/{id}/log      the whole log as text/plain
 */
#ifndef KILN_BUILD_LOGS_H
#define KILN_BUILD_LOGS_H

#include "backend/http.h"

#include <libwebsockets.h>

struct server;

#define BUILD_LOGS_WS_PROTOCOL "kiln-log.v1"

int build_logs_init(struct server *srv);
void build_logs_release(struct server *srv);

/*
 * Move an ended build's log into storage (service thread; fire and forget). A
 * no-op for a running build or one whose log is stored; safe to run twice at
 * once, here or on another replica.
 */
void build_logs_compact(struct server *srv, long long build_id);

/* GET /api/v1/builds/{id}/log */
void build_logs_handle_get(struct http_req *req);

extern const size_t build_logs_session_size;
int build_logs_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			   void *in, size_t len);

#endif
