/*
 * log: leveled logging as logfmt lines on stderr, one line per event:
 *
 *   ts=2026-11-22T18:42:01.123Z level=info prog=kiln-backend msg="listening" port=8080
 *
 * The level comes from KILN_LOG (debug, info, warn, error; default info), read by
 * log_init. Lines are written with one write(2) each, so lines from several threads
 * or processes sharing a stderr do not interleave mid-line.
 *
 * Secrets (tokens, passwords) must never be passed to these functions.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/*
 * Set the program name shown in every line and the threshold from KILN_LOG
 * (invalid values fall back to info with a warning). Safe to call again.
 */
void log_init(const char *prog);

/* Set the threshold directly (tests, --verbose). */
void log_set_level(enum log_level level);

/* Parse "debug"/"info"/"warn"/"warning"/"error". 0 on success, KERR_INVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);

/* Is a line at this level going to be written? Use it to skip costly formatting. */
int log_enabled(enum log_level level);

/*
 * Write one line: msg is quoted and escaped for you; kvfmt (may be NULL) is a
 * printf format producing the remaining `key=value` pairs, space separated. Values
 * that may contain spaces or quotes should be passed through log_quote.
 */
void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Quote s as a logfmt value into out (size n, always NUL-terminated, truncated if
 * needed) and return out: `say "hi"` becomes `"say \"hi\""`, control bytes are
 * escaped. Returns out so it can be used inline as a %s argument.
 */
const char *log_quote(char *out, size_t n, const char *s);

#define log_debug(msg, ...) log_write(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

#endif
