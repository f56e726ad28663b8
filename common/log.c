/* log: logfmt lines on stderr (contract in log.h). */
#include "common/log.h"

#include "common/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Process-wide by nature (stderr is too); written once at start-up. */
static enum log_level log__level = LOG_INFO;
static char log__prog[64] = "kiln";

static const char *const log__names[] = { "debug", "info", "warn", "error" };

int log_level_parse(const char *s, enum log_level *out)
{
	if (!strcasecmp(s, "debug"))
		*out = LOG_DEBUG;
	else if (!strcasecmp(s, "info"))
		*out = LOG_INFO;
	else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		*out = LOG_WARN;
	else if (!strcasecmp(s, "error"))
		*out = LOG_ERROR;
	else
		return KERR_INVAL;
	return 0;
}

void log_init(const char *prog)
{
	const char *env = getenv("KILN_LOG");
	enum log_level lvl;

	if (prog)
		snprintf(log__prog, sizeof(log__prog), "%s", prog);
	if (!env || !*env)
		return;
	if (log_level_parse(env, &lvl) == 0) {
		log__level = lvl;
	} else {
		char q[80];
		log__level = LOG_INFO;
		log_warn("unknown log level, using info", "KILN_LOG=%s",
			 log_quote(q, sizeof(q), env));
	}
}

void log_set_level(enum log_level level)
{
	log__level = level;
}

int log_enabled(enum log_level level)
{
	return level >= log__level;
}

const char *log_quote(char *out, size_t n, const char *s)
{
	size_t o = 0;

	if (n < 3) {
		if (n)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (; *s && o + 6 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
{
	char line[4096];
	char q[1024];
	struct timespec ts;
	struct tm tm;
	size_t o;
	int n;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s msg=%s",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
		     log__names[level], log__prog, log_quote(q, sizeof(q), msg));
	o = n < 0 ? 0 : (size_t)n;
	if (o >= sizeof(line) - 2)
		o = sizeof(line) - 2;
	if (kvfmt && *kvfmt) {
		va_list ap;
		line[o++] = ' ';
		va_start(ap, kvfmt);
		n = vsnprintf(line + o, sizeof(line) - o - 1, kvfmt, ap);
		va_end(ap);
		if (n > 0)
			o += (size_t)n < sizeof(line) - o - 1 ? (size_t)n : sizeof(line) - o - 2;
	}
	line[o++] = '\n';
	/* One write per line: a short write to stderr is not worth retrying. */
	if (write(STDERR_FILENO, line, o) < 0)
		return;
}
