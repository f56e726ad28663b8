/* builder_msg: builder channel messages, parsed and checked (contract in builder_msg.h). */
#include "backend/builder_msg.h"

#include "backend/builder_ws.h"
#include "common/debpkg.h"
#include "common/json.h"
#include "common/pyname.h"
#include "common/queue_sql.h"
#include "common/sha256.h"
#include "common/token.h"
#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>
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

/* job, and the optional attempt of progress, log and finish (0 when absent). */
static int builder_msg__job(struct builder_msg *m, struct kerr *e)
{
	int64_t v = 0, a = 0;
	int rc;

	if ((rc = json_get_int_req(m->root, "job", 1, INT64_MAX, &v, e)) ||
	    (rc = json_get_int(m->root, "attempt", 1, INT32_MAX, &a, e)))
		return rc;
	m->job = v;
	m->attempt = a;
	return 0;
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

/* 1 if s is 1 to max bytes of printable ASCII without spaces (a file name a log named). */
static int builder_msg__token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* missing: [{kind, name, package?}], written into out as checked. */
static int builder_msg__missing(const cJSON *arr, struct buf *out, struct kerr *e)
{
	static const char *const kinds[] = { "header", "pkg-config", "library", "program" };
	const cJSON *it;

	if (cJSON_GetArraySize(arr) > BUILDER_MSG_MAX_MISSING)
		return kerr_set(e, KERR_INVAL, "field 'missing' lists more than %d entries",
				BUILDER_MSG_MAX_MISSING);
	buf_putc(out, '[');
	cJSON_ArrayForEach(it, arr) {
		const char *kind = NULL, *name = NULL, *pkg = NULL;
		const cJSON *pj;
		int known = 0;

		if (!cJSON_IsObject(it) || json_get_str_req(it, "kind", &kind, NULL) ||
		    json_get_str_req(it, "name", &name, NULL))
			return kerr_set(e, KERR_INVAL, "field 'missing' must list {\"kind\", \"name\", "
					"\"package\"} objects");
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			known |= !strcmp(kind, kinds[i]);
		if (!known)
			return kerr_set(e, KERR_INVAL, "missing: unknown kind '%.32s'", kind);
		if (!builder_msg__token_ok(name, 255))
			return kerr_set(e, KERR_INVAL, "missing: name must be 1-255 printable ASCII bytes");
		pj = cJSON_GetObjectItemCaseSensitive(it, "package");
		if (pj && !cJSON_IsNull(pj)) {
			if (!cJSON_IsString(pj) || !debpkg_name_ok(pj->valuestring))
				return kerr_set(e, KERR_INVAL, "missing: package is not a Debian package "
						"name ([a-z0-9][a-z0-9+.-]{0,63})");
			pkg = pj->valuestring;
		}
		if (out->len > 1)
			buf_putc(out, ',');
		buf_printf(out, "{\"kind\":\"%s\",\"name\":", kind);
		json_append_str(out, name);
		if (pkg)
			buf_printf(out, ",\"package\":\"%s\"", pkg);
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
	return 0;
}

/* 1 if s is a wheel's file name as an artifact can have it (no path, .whl). */
static int builder_msg__wheel_name_ok(const char *s)
{
	size_t n = strlen(s);

	return builder_msg__token_ok(s, 255) && n > 4 && !strcmp(s + n - 4, ".whl") &&
	       !strchr(s, '/') && !strchr(s, '\\');
}

/* 1 if s is a platform tag ("" for a pure wheel): [a-z0-9_.], at most 63 bytes. */
static int builder_msg__policy_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > 63)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

/* wheels: [{filename, policy, runtime_packages}], written into out as checked. */
static int builder_msg__wheels(const cJSON *arr, struct buf *out, struct kerr *e)
{
	const cJSON *it, *p;

	if (cJSON_GetArraySize(arr) > BUILDER_MSG_MAX_WHEELS)
		return kerr_set(e, KERR_INVAL, "field 'wheels' lists more than %d wheels",
				BUILDER_MSG_MAX_WHEELS);
	buf_putc(out, '[');
	cJSON_ArrayForEach(it, arr) {
		const char *fn = NULL, *policy = "";
		const cJSON *pkgs = NULL;
		size_t np = 0;

		if (!cJSON_IsObject(it) || json_get_str_req(it, "filename", &fn, NULL) ||
		    json_get_str(it, "policy", &policy, NULL) ||
		    json_get_array(it, "runtime_packages", &pkgs, NULL))
			return kerr_set(e, KERR_INVAL, "field 'wheels' must list {\"filename\", "
					"\"policy\", \"runtime_packages\"} objects");
		if (!builder_msg__wheel_name_ok(fn))
			return kerr_set(e, KERR_INVAL, "wheels: '%.64s' is not a wheel file name", fn);
		if (!builder_msg__policy_ok(policy))
			return kerr_set(e, KERR_INVAL, "wheels: policy '%.64s' is not a platform tag",
					policy);
		if (pkgs && cJSON_GetArraySize(pkgs) > BUILDER_MSG_MAX_RUNTIME)
			return kerr_set(e, KERR_INVAL, "wheels: more than %d runtime_packages",
					BUILDER_MSG_MAX_RUNTIME);
		if (out->len > 1)
			buf_putc(out, ',');
		buf_puts(out, "{\"filename\":");
		json_append_str(out, fn);
		buf_printf(out, ",\"policy\":\"%s\",\"runtime_packages\":[", policy);
		if (pkgs) {
			cJSON_ArrayForEach(p, pkgs) {
				if (!cJSON_IsString(p) || !debpkg_name_ok(p->valuestring))
					return kerr_set(e, KERR_INVAL, "wheels: runtime_packages must be "
							"Debian package names");
				buf_printf(out, "%s\"%s\"", np++ ? "," : "", p->valuestring);
			}
		}
		buf_puts(out, "]}");
	}
	buf_putc(out, ']');
	return 0;
}

/* 1 if s is "sha256:" and 64 lowercase hex digits: a Docker image id. */
static int builder_msg__image_id_ok(const char *s)
{
	return !strncmp(s, "sha256:", 7) && sha256_hex_valid(s + 7);
}

/* 1 if s is 1 to 255 bytes of a Docker image reference's characters: kiln/x:tag, a@sha256:... */
static int builder_msg__image_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 255 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@-") == n;
}

/* image: {id, base?, name?}, written into out as checked. */
static int builder_msg__image(const cJSON *img, struct buf *out, struct kerr *e)
{
	const char *id = NULL, *base = NULL, *name = NULL;

	if (!cJSON_IsObject(img) || json_get_str_req(img, "id", &id, NULL) ||
	    json_get_str(img, "base", &base, NULL) || json_get_str(img, "name", &name, NULL))
		return kerr_set(e, KERR_INVAL, "field 'image' must be {\"id\", \"base\", \"name\"} "
				"with string values");
	if (!builder_msg__image_id_ok(id) || (base && !builder_msg__image_id_ok(base)))
		return kerr_set(e, KERR_INVAL, "image: id and base must be sha256:<64 lowercase hex>");
	if (name && !builder_msg__image_name_ok(name))
		return kerr_set(e, KERR_INVAL, "image: name must be an image reference "
				"([A-Za-z0-9._:/@-], 1-255 bytes)");
	buf_printf(out, "{\"id\":\"%s\"", id);
	if (base)
		buf_printf(out, ",\"base\":\"%s\"", base);
	if (name)
		buf_printf(out, ",\"name\":\"%s\"", name);
	buf_putc(out, '}');
	return 0;
}

/* 1 if s is at most max bytes of valid UTF-8 without control characters. */
static int builder_msg__text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max || !utf8_valid((const unsigned char *)s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * command (argv: 1 to BUILDER_MSG_MAX_ARGS strings) or environment (0 to
 * BUILDER_MSG_MAX_ENV "NAME=value" strings), written into out as checked.
 */
static int builder_msg__strings(const cJSON *arr, int is_env, struct buf *out, struct kerr *e)
{
	const char *field = is_env ? "environment" : "command";
	int max = is_env ? BUILDER_MSG_MAX_ENV : BUILDER_MSG_MAX_ARGS, n = cJSON_GetArraySize(arr);
	const cJSON *it;

	if (n > max || (!is_env && n < 1))
		return kerr_set(e, KERR_INVAL, "field '%s' must list %d to %d strings", field,
				is_env ? 0 : 1, max);
	buf_putc(out, '[');
	cJSON_ArrayForEach(it, arr) {
		const char *s = cJSON_GetStringValue(it);

		if (!s || !builder_msg__text_ok(s, BUILDER_MSG_MAX_ARG))
			return kerr_set(e, KERR_INVAL, "%s: entries must be strings of at most %d bytes "
					"without control characters", field, BUILDER_MSG_MAX_ARG);
		if (is_env) {
			size_t k = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
			if (!k || s[k] != '=' || (s[0] >= '0' && s[0] <= '9'))
				return kerr_set(e, KERR_INVAL, "environment: '%.64s' is not NAME=value", s);
		}
		if (out->len > 1)
			buf_putc(out, ',');
		json_append_str(out, s);
	}
	buf_putc(out, ']');
	return 0;
}

/* build_requirements: [{filename, sha256}], written into out as checked. */
static int builder_msg__requirements(const cJSON *arr, struct buf *out, struct kerr *e)
{
	const cJSON *it;

	if (cJSON_GetArraySize(arr) > BUILDER_MSG_MAX_REQUIREMENTS)
		return kerr_set(e, KERR_INVAL, "field 'build_requirements' lists more than %d files",
				BUILDER_MSG_MAX_REQUIREMENTS);
	buf_putc(out, '[');
	cJSON_ArrayForEach(it, arr) {
		const char *fn = NULL, *sha = NULL;

		if (!cJSON_IsObject(it) || json_get_str_req(it, "filename", &fn, NULL) ||
		    json_get_str_req(it, "sha256", &sha, NULL))
			return kerr_set(e, KERR_INVAL, "field 'build_requirements' must list "
					"{\"filename\", \"sha256\"} objects");
		/* A plain file name, as pip download wrote it: no path, no "." or "..". */
		if (!builder_msg__token_ok(fn, 255) || strchr(fn, '/') || strchr(fn, '\\') ||
		    !strcmp(fn, ".") || !strcmp(fn, ".."))
			return kerr_set(e, KERR_INVAL, "build_requirements: '%.64s' is not a file name", fn);
		if (!sha256_hex_valid(sha))
			return kerr_set(e, KERR_INVAL, "build_requirements: sha256 of '%.64s' is not "
					"64 lowercase hex digits", fn);
		if (out->len > 1)
			buf_putc(out, ',');
		buf_puts(out, "{\"filename\":");
		json_append_str(out, fn);
		buf_printf(out, ",\"sha256\":\"%s\"}", sha);
	}
	buf_putc(out, ']');
	return 0;
}

/* The finish's optional report fields into m->report (see builder_msg.h). */
static int builder_msg__report(struct builder_msg *m, struct kerr *e)
{
	struct buf out = BUF_INIT(BUF_NOLIMIT), part = BUF_INIT(BUF_NOLIMIT);
	const char *cls = NULL, *req = NULL;
	const cJSON *missing = NULL, *wheels = NULL, *image, *command = NULL, *env = NULL, *reqs = NULL;
	int rc;

	if ((rc = json_get_str(m->root, "failure_class", &cls, e)) ||
	    (rc = json_get_array(m->root, "missing", &missing, e)) ||
	    (rc = json_get_str(m->root, "requirement", &req, e)) ||
	    (rc = json_get_array(m->root, "wheels", &wheels, e)) ||
	    (rc = json_get_array(m->root, "command", &command, e)) ||
	    (rc = json_get_array(m->root, "environment", &env, e)) ||
	    (rc = json_get_array(m->root, "build_requirements", &reqs, e)))
		goto fail;
	image = cJSON_GetObjectItemCaseSensitive(m->root, "image");
	if (cJSON_IsNull(image))
		image = NULL;
	if (cls) {
		if (!queue_failure_class_ok(cls)) {
			rc = kerr_set(e, KERR_INVAL, "unknown failure_class '%.32s'", cls);
			goto fail;
		}
		buf_printf(&out, "{\"failure_class\":\"%s\",\"missing\":", cls);
	} else {
		buf_puts(&out, "{\"failure_class\":null,\"missing\":");
	}
	if (missing && (rc = builder_msg__missing(missing, &part, e)))
		goto fail;
	buf_puts(&out, missing ? part.ptr : "[]");
	buf_reset(&part);
	/* The build requirement found nowhere, as a project name (jobs.waits_for). */
	if (req && (strlen(req) >= 128 || pyname_normalize(req, strlen(req), &part, NULL))) {
		rc = kerr_set(e, KERR_INVAL, "field 'requirement' is not a project name");
		goto fail;
	}
	buf_puts(&out, ",\"requirement\":");
	if (req)
		json_append_str(&out, part.ptr);
	else
		buf_puts(&out, "null");
	buf_reset(&part);
	buf_puts(&out, ",\"wheels\":");
	if (wheels && (rc = builder_msg__wheels(wheels, &part, e)))
		goto fail;
	buf_puts(&out, wheels ? part.ptr : "[]");
	/* How the build ran (docs/protocol.md): each null when the builder sent none. */
	buf_reset(&part);
	if (image && (rc = builder_msg__image(image, &part, e)))
		goto fail;
	buf_printf(&out, ",\"image\":%s", image ? part.ptr : "null");
	buf_reset(&part);
	if (command && (rc = builder_msg__strings(command, 0, &part, e)))
		goto fail;
	buf_printf(&out, ",\"command\":%s", command ? part.ptr : "null");
	buf_reset(&part);
	if (env && (rc = builder_msg__strings(env, 1, &part, e)))
		goto fail;
	buf_printf(&out, ",\"environment\":%s", env ? part.ptr : "null");
	buf_reset(&part);
	if (reqs && (rc = builder_msg__requirements(reqs, &part, e)))
		goto fail;
	buf_printf(&out, ",\"build_requirements\":%s", reqs ? part.ptr : "null");
	buf_putc(&out, '}');
	m->report = buf_detach(&out, NULL);
	rc = 0;
fail:
	buf_release(&part);
	buf_release(&out);
	return rc;
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
	return builder_msg__report(m, e);
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

/* An architecture name as uname -m says it: [a-z0-9_]{1,32}. */
static int builder_msg__arch_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Debian's and Docker's names for the two architectures Kiln knows, in uname -m form. */
static const char *builder_msg__arch_norm(const char *a)
{
	if (!*a || !strcmp(a, "amd64"))
		return "x86_64";
	if (!strcmp(a, "arm64"))
		return "aarch64";
	return a;
}

/* Append arch to the array literal in m->arches_sql unless it is there. */
static void builder_msg__add_arch(struct builder_msg *m, const char *arch)
{
	size_t o = strlen(m->arches_sql), n = strlen(arch);
	const char *p = m->arches_sql + 1;

	while (*p && *p != '}') {
		size_t k = strcspn(p, ",}");
		if (k == n && !strncmp(p, arch, n))
			return;
		p += k + (p[k] == ',');
	}
	/* "{a,b}": drop the closing brace, add ",arch}" (sizes checked by the caller). */
	o--;
	if (o > 1)
		m->arches_sql[o++] = ',';
	memcpy(m->arches_sql + o, arch, n);
	o += n;
	m->arches_sql[o++] = '}';
	m->arches_sql[o] = '\0';
}

static int builder_msg__hello(struct builder_msg *m, struct kerr *e)
{
	const cJSON *running = NULL, *emulates = NULL, *it;
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
	    (rc = json_get_array(m->root, "emulates", &emulates, e)) ||
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
	if (*m->arch && !builder_msg__arch_ok(m->arch))
		return kerr_set(e, KERR_INVAL, "arch must be a machine name like x86_64 or aarch64");
	m->arch = builder_msg__arch_norm(m->arch);
	snprintf(m->arches_sql, sizeof(m->arches_sql), "{}");
	builder_msg__add_arch(m, m->arch);
	if (emulates && cJSON_GetArraySize(emulates) > BUILDER_MSG_MAX_EMULATES)
		return kerr_set(e, KERR_INVAL, "field 'emulates' lists more than %d architectures",
				BUILDER_MSG_MAX_EMULATES);
	if (emulates)
		cJSON_ArrayForEach(it, emulates) {
			if (!cJSON_IsString(it) || !builder_msg__arch_ok(it->valuestring))
				return kerr_set(e, KERR_INVAL, "field 'emulates' must list architecture "
						"names like aarch64");
			builder_msg__add_arch(m, builder_msg__arch_norm(it->valuestring));
		}
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
	free(m->report);
	memset(m, 0, sizeof(*m));
}
