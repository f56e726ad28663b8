/* kerr: the error convention's helpers. */
#include "common/kerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kerr_clear(struct kerr *e)
{
	if (!e)
		return;
	e->code = KERR_OK;
	e->msg[0] = '\0';
}

int kerr_set(struct kerr *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int kerr_wrap(struct kerr *e, const char *fmt, ...)
{
	char old[KERR_MSG_MAX];
	size_t n;
	va_list ap;
	int w;

	if (!e)
		return KERR_INTERNAL;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	w = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = w < 0 ? 0 : (size_t)w;
	if (n >= sizeof(e->msg) - 3)
		return e->code;
	memcpy(e->msg + n, ": ", 2);
	n += 2;
	/* Copy what fits of the old message; truncation is fine for a message. */
	for (size_t i = 0; old[i] && n < sizeof(e->msg) - 1; i++)
		e->msg[n++] = old[i];
	e->msg[n] = '\0';
	return e->code;
}

static const struct {
	int code;
	const char *name;
	int http;
} kerr__table[] = {
	{ KERR_OK, "ok", 200 },
	{ KERR_INVAL, "invalid", 400 },
	{ KERR_NOMEM, "no_memory", 503 },
	{ KERR_IO, "io", 502 },
	{ KERR_NOTFOUND, "not_found", 404 },
	{ KERR_CONFLICT, "conflict", 409 },
	{ KERR_TOOBIG, "too_big", 413 },
	{ KERR_DB, "database", 503 },
	{ KERR_PROTO, "protocol", 400 },
	{ KERR_AUTH, "unauthorized", 401 },
	{ KERR_TIMEOUT, "timeout", 504 },
	{ KERR_AGAIN, "unavailable", 503 },
	{ KERR_INTERNAL, "internal", 500 },
};

const char *kerr_name(int code)
{
	for (size_t i = 0; i < sizeof(kerr__table) / sizeof(kerr__table[0]); i++)
		if (kerr__table[i].code == code)
			return kerr__table[i].name;
	return "internal";
}

int kerr_http_status(int code)
{
	for (size_t i = 0; i < sizeof(kerr__table) / sizeof(kerr__table[0]); i++)
		if (kerr__table[i].code == code)
			return kerr__table[i].http;
	return 500;
}
