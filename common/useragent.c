/* useragent: installer and Python version from a User-Agent (contract in useragent.h). */
#include "common/useragent.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <strings.h>

static int useragent__space(char c)
{
	return c == ' ' || c == '\t';
}

static char useragent__lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static int useragent__alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Copy n bytes at s lowercased into dst (max bytes plus NUL) if all are allowed. */
static int useragent__copy(char *dst, size_t max, const char *s, size_t n, const char *extra)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!useragent__alnum(s[i]) && (!s[i] || !strchr(extra, s[i])))
			return 0;
	for (size_t i = 0; i < n; i++)
		dst[i] = useragent__lower(s[i]);
	dst[n] = '\0';
	return 1;
}

/* Set installer and version from name/version slices; 0 (nothing changed) if the name is odd. */
static int useragent__installer(struct useragent *ua, const char *name, size_t nl,
				const char *ver, size_t vl)
{
	char tmp[USERAGENT_NAME_MAX + 1];

	if (!useragent__copy(tmp, USERAGENT_NAME_MAX, name, nl, "._+-"))
		return 0;
	memcpy(ua->installer, tmp, sizeof(tmp));
	if (!ver || !useragent__copy(ua->installer_version, USERAGENT_VERSION_MAX, ver, vl, "._+!-"))
		ua->installer_version[0] = '\0';
	return 1;
}

/* "3.11.2", "3.13.0rc1", "3.12" -> "3.11" ...; 0 if s does not start like that. */
static int useragent__python(struct useragent *ua, const char *s, size_t n)
{
	size_t i = 0, maj, min;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	maj = i;
	if (maj < 1 || maj > 3 || i >= n || s[i] != '.')
		return 0;
	for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	min = i - maj - 1;
	if (min < 1 || min > 3)
		return 0;
	memcpy(ua->python, s, i);
	ua->python[i] = '\0';
	return 1;
}

static void useragent__json(struct useragent *ua, const char *s, size_t n)
{
	cJSON *root = cJSON_ParseWithLengthOpts(s, n, NULL, 0);
	const cJSON *inst, *name, *ver, *py;

	if (!cJSON_IsObject(root))
		goto done;
	inst = cJSON_GetObjectItemCaseSensitive(root, "installer");
	name = cJSON_GetObjectItemCaseSensitive(inst, "name");
	ver = cJSON_GetObjectItemCaseSensitive(inst, "version");
	if (cJSON_IsObject(inst) && cJSON_IsString(name))
		useragent__installer(ua, name->valuestring, strlen(name->valuestring),
				     cJSON_IsString(ver) ? ver->valuestring : NULL,
				     cJSON_IsString(ver) ? strlen(ver->valuestring) : 0);
	py = cJSON_GetObjectItemCaseSensitive(root, "python");
	if (cJSON_IsString(py))
		useragent__python(ua, py->valuestring, strlen(py->valuestring));
done:
	cJSON_Delete(root);
}

/* Old pip and other clients: "pip/1.5.6 CPython/2.7.6 Linux/3.13.0". */
static void useragent__python_token(struct useragent *ua, const char *p)
{
	while (*p) {
		const char *tok;
		size_t n;

		while (useragent__space(*p))
			p++;
		tok = p;
		while (*p && !useragent__space(*p))
			p++;
		n = (size_t)(p - tok);
		if (n > 8 && !strncasecmp(tok, "cpython/", 8) && useragent__python(ua, tok + 8, n - 8))
			return;
		if (n > 7 && !strncasecmp(tok, "python/", 7) && useragent__python(ua, tok + 7, n - 7))
			return;
	}
}

void useragent_parse(const char *s, size_t n, struct useragent *out)
{
	char in[USERAGENT_INPUT_MAX + 1];
	const char *p, *tok, *slash;
	size_t tl;

	memset(out, 0, sizeof(*out));
	memcpy(out->installer, "unknown", sizeof("unknown"));
	if (!s)
		n = 0;
	if (n > USERAGENT_INPUT_MAX)
		n = USERAGENT_INPUT_MAX;
	memcpy(in, s ? s : "", n);
	in[n] = '\0';

	p = in;
	while (useragent__space(*p))
		p++;
	tok = p;
	while (*p && !useragent__space(*p))
		p++;
	tl = (size_t)(p - tok);
	slash = memchr(tok, '/', tl);
	if (slash)
		useragent__installer(out, tok, (size_t)(slash - tok), slash + 1,
				     (size_t)(tok + tl - slash - 1));
	else
		useragent__installer(out, tok, tl, NULL, 0);

	while (useragent__space(*p))
		p++;
	if (*p == '{')
		useragent__json(out, p, strlen(p));
	if (!out->python[0])
		useragent__python_token(out, p);
}
