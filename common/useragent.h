/*
 * useragent: which installer, and which Python, sent a download request.
 *
 * pip and uv put a "linehaul" JSON object after their product token (pip's
 * network/session.py user_agent(), uv's crates/uv-client linehaul.rs):
 *
 *   pip/23.0.1 {"ci":null,"cpu":"x86_64",...,"installer":{"name":"pip","version":"23.0.1"},
 *               ...,"python":"3.11.2",...}
 *   uv/0.4.30 {"installer":{"name":"uv","version":"0.4.30"},"python":"3.12.7",...}
 *
 * The installer comes from the JSON's installer.name/version when present, else
 * from the product token ("pip/9.0.1", "curl/8.1.2"); the Python version
 * (major.minor only) from the JSON's "python", else from a "CPython/x.y.z" or
 * "Python/x.y" token. The header is outside input: any bytes are accepted, and
 * the result is always short, printable and safe as a database key.
 */
#ifndef KILN_USERAGENT_H
#define KILN_USERAGENT_H

#include <stddef.h>

#define USERAGENT_NAME_MAX 32
#define USERAGENT_VERSION_MAX 32
#define USERAGENT_PYTHON_MAX 7 /* "999.999" */
/* Longer headers are read up to this many bytes (a JSON part cut there is ignored). */
#define USERAGENT_INPUT_MAX 8192

struct useragent {
	/* Lowercase [a-z0-9._+-], 1..USERAGENT_NAME_MAX bytes; "unknown" when absent or odd. */
	char installer[USERAGENT_NAME_MAX + 1];
	/* Lowercase [a-z0-9._+!-], at most USERAGENT_VERSION_MAX bytes; "" when unknown. */
	char installer_version[USERAGENT_VERSION_MAX + 1];
	/* "3.11": major.minor, each 1-3 digits; "" when unknown. */
	char python[USERAGENT_PYTHON_MAX + 1];
};

/*
 * Parse the n bytes at s (a User-Agent value; NULL or n == 0 for none; NUL bytes
 * end it) into *out, which is always filled.
 */
void useragent_parse(const char *s, size_t n, struct useragent *out);

#endif
