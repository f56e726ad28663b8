/* builder_msg: builder channel messages, parsed and checked (contract in builder_msg.h). */
#include "backend/builder_msg.h"

#include "backend/builder_ws.h"
#include "common/json.h"
#include "common/token.h"

#include <stdint.h>
#include <string.h>

int builder_msg_parse(struct builder_msg *m, const char *p, size_t n, struct kerr *e)
{
	static const struct {
		const char *name;
		enum builder_msg_type type;
	} types[] = {
		{ "hello", BUILDER_MSG_HELLO }, { "progress", BUILDER_MSG_PROGRESS },
		{ "log", BUILDER_MSG_LOG },     { "finish", BUILDER_MSG_FINISH },
		{ "drain", BUILDER_MSG_DRAIN },
	};
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = json_parse_object(p, n, &m->root, e)))
		return rc;
	if ((rc = json_get_str_req(m->root, "type", &m->type_name, e)))
		return rc;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(m->type_name, types[i].name))
			m->type = types[i].type;
	return 0;
}

static int builder_msg__job(struct builder_msg *m, struct kerr *e)
{
	int64_t v = 0;
	int rc = json_get_int_req(m->root, "job", 1, INT64_MAX, &v, e);

	m->job = v;
	return rc;
}

static int builder_msg__progress(struct builder_msg *m, struct kerr *e)
{
	static const char *const phases[] = { "fetching", "prefetching", "building", "uploading",
					      "cleaning" };
	int rc;

	if ((rc = builder_msg__job(m, e)) || (rc = json_get_str_req(m->root, "phase", &m->phase, e)))
		return rc;
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (!strcmp(m->phase, phases[i]))
			return 0;
	return kerr_set(e, KERR_INVAL, "unknown phase '%.64s'", m->phase);
}

static int builder_msg__log(struct builder_msg *m, struct kerr *e)
{
	int64_t seq = 0;
	int rc;

	if ((rc = builder_msg__job(m, e)) ||
	    (rc = json_get_int_req(m->root, "seq", 0, 999999999, &seq, e)) ||
	    (rc = json_get_str_req(m->root, "data", &m->data, e)))
		return rc;
	m->seq = seq;
	if (strlen(m->data) > BUILDER_MSG_MAX_LOG_CHUNK)
		return kerr_set(e, KERR_TOOBIG, "log chunk over %d bytes", BUILDER_MSG_MAX_LOG_CHUNK);
	return 0;
}

static int builder_msg__finish(struct builder_msg *m, struct kerr *e)
{
	int64_t exit_code = 0, duration = 0;
	int rc;

	m->reason = "";
	if ((rc = builder_msg__job(m, e)) ||
	    (rc = json_get_str_req(m->root, "status", &m->status, e)) ||
	    (rc = json_get_int(m->root, "exit_code", -1000000, 1000000, &exit_code, e)) ||
	    (rc = json_get_int(m->root, "duration_ms", 0, INT64_MAX, &duration, e)) ||
	    (rc = json_get_str(m->root, "reason", &m->reason, e)))
		return rc;
	m->exit_code = exit_code;
	m->duration_ms = duration;
	if (strcmp(m->status, "succeeded") && strcmp(m->status, "failed") &&
	    strcmp(m->status, "retry"))
		return kerr_set(e, KERR_INVAL,
				"status must be succeeded, failed or retry, got '%.32s'", m->status);
	if (strlen(m->reason) > BUILDER_MSG_MAX_REASON)
		return kerr_set(e, KERR_TOOBIG, "reason over %d bytes", BUILDER_MSG_MAX_REASON);
	return 0;
}

static int builder_msg__target_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return 0;
	}
	return 1;
}

static int builder_msg__hello(struct builder_msg *m, struct kerr *e)
{
	const cJSON *running = NULL, *it;
	int64_t proto = 0, slots = 0;
	size_t o = 0;
	int rc;

	m->version = "";
	m->arch = "";
	if ((rc = json_get_int_req(m->root, "protocol", 0, 1000, &proto, e)) ||
	    (rc = json_get_str_req(m->root, "token", &m->token, e)) ||
	    (rc = json_get_str_req(m->root, "name", &m->name, e)) ||
	    (rc = json_get_str(m->root, "version", &m->version, e)) ||
	    (rc = json_get_str(m->root, "arch", &m->arch, e)) ||
	    (rc = json_get_int_req(m->root, "slots", 1, BUILDER_MSG_MAX_SLOTS, &slots, e)) ||
	    (rc = json_get_array(m->root, "targets", &m->targets, e)) ||
	    (rc = json_get_array(m->root, "running", &running, e)))
		return rc;
	m->protocol = proto;
	m->slots = (int)slots;
	if (proto != BUILDER_WS_PROTOCOL_VERSION)
		return kerr_set(e, KERR_PROTO,
				"protocol %lld is not supported; this backend speaks %d",
				(long long)proto, BUILDER_WS_PROTOCOL_VERSION);
	if (!token_well_formed(m->token))
		return kerr_set(e, KERR_AUTH, "malformed builder token");
	if (!m->targets || cJSON_GetArraySize(m->targets) < 1 ||
	    cJSON_GetArraySize(m->targets) > BUILDER_MSG_MAX_TARGETS)
		return kerr_set(e, KERR_INVAL, "field 'targets' must list 1 to %d target names",
				BUILDER_MSG_MAX_TARGETS);
	if (strlen(m->name) >= 64 || strlen(m->version) > 64 || strlen(m->arch) > 32)
		return kerr_set(e, KERR_INVAL, "name, version or arch too long");
	m->targets_sql[o++] = '{';
	cJSON_ArrayForEach(it, m->targets) {
		if (!cJSON_IsString(it) || !builder_msg__target_name_ok(it->valuestring) ||
		    o + strlen(it->valuestring) + 2 >= sizeof(m->targets_sql))
			return kerr_set(e, KERR_INVAL,
					"targets must be target names ([a-z0-9._-], 1-63 chars)");
		if (o > 1)
			m->targets_sql[o++] = ',';
		memcpy(m->targets_sql + o, it->valuestring, strlen(it->valuestring));
		o += strlen(it->valuestring);
	}
	m->targets_sql[o++] = '}';
	m->targets_sql[o] = '\0';
	if (!running)
		return 0;
	if (cJSON_GetArraySize(running) > BUILDER_MSG_MAX_SLOTS)
		return kerr_set(e, KERR_INVAL, "field 'running' lists more than %d jobs",
				BUILDER_MSG_MAX_SLOTS);
	cJSON_ArrayForEach(it, running) {
		int64_t job = 0;
		if (!cJSON_IsObject(it) || json_get_int_req(it, "job", 1, INT64_MAX, &job, NULL))
			return kerr_set(e, KERR_INVAL,
					"field 'running' must list {\"job\": id} objects");
		m->running[m->nrunning++] = job;
	}
	return 0;
}

int builder_msg_check(struct builder_msg *m, struct kerr *e)
{
	switch (m->type) {
	case BUILDER_MSG_HELLO:
		return builder_msg__hello(m, e);
	case BUILDER_MSG_PROGRESS:
		return builder_msg__progress(m, e);
	case BUILDER_MSG_LOG:
		return builder_msg__log(m, e);
	case BUILDER_MSG_FINISH:
		return builder_msg__finish(m, e);
	case BUILDER_MSG_DRAIN:
		return 0;
	case BUILDER_MSG_UNKNOWN:
		break;
	}
	return kerr_set(e, KERR_INVAL, "unknown message type '%.64s'",
			m->type_name ? m->type_name : "");
}

const char *builder_msg_error_code(int code)
{
	switch (code) {
	case KERR_TOOBIG:
		return "too_big";
	case KERR_AUTH:
		return "unauthorized";
	case KERR_PROTO:
		return "unsupported_protocol";
	default:
		return "bad_message";
	}
}

void builder_msg_release(struct builder_msg *m)
{
	cJSON_Delete(m->root);
	memset(m, 0, sizeof(*m));
}
