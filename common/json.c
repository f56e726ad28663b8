/* json: typed access and escaping over cJSON (contract in json.h). */
#include "common/json.h"
#include "common/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_parse(const char *p, size_t n, cJSON **out, struct kerr *e)
{
	const char *end = NULL;
	cJSON *j;

	*out = NULL;
	j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
	if (!j) {
		size_t at = end && end >= p ? (size_t)(end - p) : 0;
		return kerr_set(e, KERR_INVAL, "malformed JSON near byte %zu", at);
	}
	/* cJSON stops at the first complete value; only whitespace may follow. */
	while (end && (size_t)(end - p) < n &&
	       (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (end && (size_t)(end - p) < n && *end != '\0') {
		cJSON_Delete(j);
		return kerr_set(e, KERR_INVAL, "trailing data after JSON value at byte %zu",
				(size_t)(end - p));
	}
	*out = j;
	return 0;
}

int json_parse_object(const char *p, size_t n, cJSON **out, struct kerr *e)
{
	int rc = json_parse(p, n, out, e);
	if (rc)
		return rc;
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return kerr_set(e, KERR_INVAL, "expected a JSON object");
	}
	return 0;
}

static const cJSON *json__item(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNull(it) ? NULL : it;
}

int json_get_str(const cJSON *obj, const char *key, const char **out, struct kerr *e)
{
	const cJSON *it = json__item(obj, key);
	if (!it)
		return 0;
	if (!cJSON_IsString(it))
		return kerr_set(e, KERR_INVAL, "field '%s' must be a string", key);
	*out = it->valuestring;
	return 0;
}

int json_get_str_req(const cJSON *obj, const char *key, const char **out, struct kerr *e)
{
	if (!json__item(obj, key))
		return kerr_set(e, KERR_INVAL, "field '%s' is required", key);
	return json_get_str(obj, key, out, e);
}

int json_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out,
		 struct kerr *e)
{
	const cJSON *it = json__item(obj, key);
	double d;

	if (!it)
		return 0;
	if (!cJSON_IsNumber(it))
		return kerr_set(e, KERR_INVAL, "field '%s' must be an integer", key);
	d = it->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < -9007199254740992.0 || d > 9007199254740992.0)
		return kerr_set(e, KERR_INVAL, "field '%s' must be an integer", key);
	if ((int64_t)d < min || (int64_t)d > max)
		return kerr_set(e, KERR_INVAL,
				"field '%s' must be between %lld and %lld", key, (long long)min,
				(long long)max);
	*out = (int64_t)d;
	return 0;
}

int json_get_int_req(const cJSON *obj, const char *key, int64_t min, int64_t max,
		     int64_t *out, struct kerr *e)
{
	if (!json__item(obj, key))
		return kerr_set(e, KERR_INVAL, "field '%s' is required", key);
	return json_get_int(obj, key, min, max, out, e);
}

int json_get_bool(const cJSON *obj, const char *key, int *out, struct kerr *e)
{
	const cJSON *it = json__item(obj, key);
	if (!it)
		return 0;
	if (!cJSON_IsBool(it))
		return kerr_set(e, KERR_INVAL, "field '%s' must be true or false", key);
	*out = cJSON_IsTrue(it);
	return 0;
}

int json_get_array(const cJSON *obj, const char *key, const cJSON **out, struct kerr *e)
{
	const cJSON *it = json__item(obj, key);
	if (!it)
		return 0;
	if (!cJSON_IsArray(it))
		return kerr_set(e, KERR_INVAL, "field '%s' must be an array", key);
	*out = it;
	return 0;
}

int json_get_object(const cJSON *obj, const char *key, const cJSON **out, struct kerr *e)
{
	const cJSON *it = json__item(obj, key);
	if (!it)
		return 0;
	if (!cJSON_IsObject(it))
		return kerr_set(e, KERR_INVAL, "field '%s' must be an object", key);
	*out = it;
	return 0;
}

int json_append_strn(struct buf *out, const char *s, size_t n)
{
	size_t start = out->len;
	int rc = buf_putc(out, '"');

	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': rc = buf_append(out, "\\\"", 2); break;
		case '\\': rc = buf_append(out, "\\\\", 2); break;
		case '\n': rc = buf_append(out, "\\n", 2); break;
		case '\r': rc = buf_append(out, "\\r", 2); break;
		case '\t': rc = buf_append(out, "\\t", 2); break;
		default:
			if (c < 0x20) {
				rc = buf_printf(out, "\\u%04x", c);
			} else if (c < 0x80) {
				rc = buf_putc(out, (char)c);
			} else {
				/*
				 * JSON must be UTF-8: a message cut mid-character or bytes from
				 * a hostile peer become U+FFFD rather than an unparsable body.
				 */
				size_t len = utf8_seq_len((const unsigned char *)s + i, n - i);
				if (len) {
					rc = buf_append(out, s + i, len);
					i += len - 1;
				} else {
					rc = buf_append(out, "\\ufffd", 6);
				}
			}
		}
	}
	if (!rc)
		rc = buf_putc(out, '"');
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int json_append_str(struct buf *out, const char *s)
{
	return json_append_strn(out, s, strlen(s));
}

int json_print(const cJSON *j, struct buf *out)
{
	char *text = cJSON_PrintUnformatted(j);
	int rc;

	if (!text)
		return KERR_INTERNAL;
	rc = buf_puts(out, text);
	cJSON_free(text);
	return rc;
}
