/*
 * json: helpers over cJSON for the builder protocol and the REST API.
 *
 * Reading: the getters look a key up in an object and check its type, so a
 * message handler is a list of `if ((rc = json_get_str(...))) goto fail;` lines
 * and every wrong field yields a clear message ("field 'slots' must be an
 * integer"). Writing: json_append_str escapes a string for hand-built JSON on hot
 * paths; json_print appends a cJSON tree to a buf.
 */
#ifndef KILN_JSON_H
#define KILN_JSON_H

#include "common/buf.h"
#include "common/kerr.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/*
 * Parse n bytes of JSON into *out (caller frees with cJSON_Delete). The whole
 * input must be one value (trailing garbage is an error). KERR_INVAL on error.
 */
int json_parse(const char *p, size_t n, cJSON **out, struct kerr *e);

/* Parse and require an object at the top. */
int json_parse_object(const char *p, size_t n, cJSON **out, struct kerr *e);

/*
 * Typed getters. The *_req forms fail with KERR_INVAL when the key is missing;
 * the plain forms leave *out untouched and return 0 when it is missing or null.
 * Both fail with KERR_INVAL when the value has the wrong type. Strings are
 * borrowed from obj.
 */
int json_get_str(const cJSON *obj, const char *key, const char **out, struct kerr *e);
int json_get_str_req(const cJSON *obj, const char *key, const char **out, struct kerr *e);
/* Integers must be whole numbers within [min, max]. */
int json_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t *out,
		 struct kerr *e);
int json_get_int_req(const cJSON *obj, const char *key, int64_t min, int64_t max,
		     int64_t *out, struct kerr *e);
int json_get_bool(const cJSON *obj, const char *key, int *out, struct kerr *e);
/* Arrays and objects (borrowed). */
int json_get_array(const cJSON *obj, const char *key, const cJSON **out, struct kerr *e);
int json_get_object(const cJSON *obj, const char *key, const cJSON **out, struct kerr *e);

/*
 * Append s as a JSON string literal (quotes included) to out. Bytes that are
 * not valid UTF-8 are written as U+FFFD, so the result always parses. 0 or
 * KERR_TOOBIG (out is then unchanged).
 */
int json_append_str(struct buf *out, const char *s);
/* The same for n bytes that may contain NULs (encoded as \u0000). */
int json_append_strn(struct buf *out, const char *s, size_t n);

/* Append the compact text of j to out. 0, KERR_TOOBIG or KERR_INTERNAL. */
int json_print(const cJSON *j, struct buf *out);

#endif
