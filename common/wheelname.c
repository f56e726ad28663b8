/* wheelname: wheel and sdist filename parsing and tag matching (contract in wheelname.h). */
#include "common/wheelname.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/pyname.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A non-owning (pointer, length) view into the filename being parsed. */
struct slice {
	const char *p;
	size_t n;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int slice_has(struct slice s, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= s.n; i++)
		if (memcmp(s.p + i, needle, m) == 0)
			return 1;
	return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/*
 * The checks both filename kinds share: length, the character set, and "..".
 * Returns NULL if the name passes, else why it does not.
 */
static const char *check_filename(const char *s, size_t n)
{
	if (n == 0)
		return "empty filename";
	if (n > WHEELNAME_MAX_LEN)
		return "filename too long";
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != '-' &&
		    c != '+' && c != '!')
			return "forbidden character in filename";
	}
	if (slice_has((struct slice){ s, n }, ".."))
		return "'..' in filename";
	return NULL;
}

/* Normalize the project name at nm into dst (which holds WHEELNAME_MAX_LEN + 1). */
static int put_name(char *dst, struct slice nm)
{
	struct buf b = BUF_INIT(WHEELNAME_MAX_LEN);
	int rc;

	rc = pyname_normalize(nm.p, nm.n, &b, NULL);
	if (rc == 0)
		memcpy(dst, b.ptr, b.len + 1);
	buf_release(&b);
	return rc;
}

static int tag_char_ok(enum wheelname_tagkind kind, char c, int first)
{
	if (is_alpha(c) || c == '_')
		return 1;
	return is_digit(c) && !(kind == WHEELNAME_PYTHON && first);
}

/*
 * Split one tag (a compressed set) on '.', check and store its members.
 * *used is how much of w->tag_text is taken. NULL on success, else why not.
 */
static const char *put_tags(struct wheelname *w, enum wheelname_tagkind kind,
	struct slice tag, size_t *used)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;

		while (i < tag.n && tag.p[i] != '.') {
			if (!tag_char_ok(kind, tag.p[i], i == start))
				return "invalid character in tag";
			i++;
		}
		if (i == start)
			return "empty tag";
		if (w->ntags[kind] == WHEELNAME_MAX_TAGS)
			return "too many tags in a compressed tag set";
		/* the text fits: tags plus one NUL each are shorter than the filename */
		w->tag_off[kind][w->ntags[kind]++] = (uint16_t)*used;
		for (size_t j = start; j < i; j++)
			w->tag_text[(*used)++] = to_lower(tag.p[j]);
		w->tag_text[(*used)++] = '\0';
		if (i == tag.n)
			return NULL;
		i++; /* the '.' */
	}
}

static int put_build(struct wheelname *w, struct slice b)
{
	size_t i = 0;
	int64_t v = 0;

	if (!is_digit(b.p[0]))
		return -1;
	while (i < b.n && is_digit(b.p[i])) {
		int d = b.p[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		i++;
	}
	w->has_build = 1;
	w->build_num = v;
	memcpy(w->build_rest, b.p + i, b.n - i);
	w->build_rest[b.n - i] = '\0';
	return 0;
}

int wheelname_parse(struct wheelname *w, const char *s, size_t n, struct kerr *e)
{
	static const enum wheelname_tagkind kinds[3] = {
		WHEELNAME_PYTHON, WHEELNAME_ABI, WHEELNAME_PLATFORM
	};
	struct slice part[6];
	struct kerr sub;
	size_t nparts = 0, start = 0, used = 0, stem;
	const char *why;

	memset(w, 0, sizeof(*w));
	why = check_filename(s, n);
	if (why)
		goto fail;
	why = "missing '.whl' extension";
	if (!ends_with(s, n, ".whl"))
		goto fail;
	stem = n - 4;
	why = "wrong number of '-'-separated parts";
	for (size_t i = 0; i <= stem; i++) {
		if (i < stem && s[i] != '-')
			continue;
		if (nparts == 6)
			goto fail;
		part[nparts++] = (struct slice){ s + start, i - start };
		start = i + 1;
	}
	if (nparts != 5 && nparts != 6)
		goto fail;
	why = "empty part";
	for (size_t i = 0; i < nparts; i++)
		if (part[i].n == 0)
			goto fail;

	why = "invalid project name";
	if (!pyname_valid(part[0].p, part[0].n) || slice_has(part[0], "__") ||
	    put_name(w->name, part[0]))
		goto fail;
	why = sub.msg;
	if (pyversion_parse(&w->version, part[1].p, part[1].n, &sub))
		goto fail;
	why = "build tag must start with a digit and fit 64 bits";
	if (nparts == 6 && put_build(w, part[2]))
		goto fail;
	for (size_t k = 0; k < 3; k++) {
		why = put_tags(w, kinds[k], part[nparts - 3 + k], &used);
		if (why)
			goto fail;
	}
	return 0;

fail:
	memset(w, 0, sizeof(*w));
	return kerr_set(e, KERR_INVAL, "invalid wheel filename '%.*s': %s",
		(int)(n > WHEELNAME_MAX_LEN ? WHEELNAME_MAX_LEN : n), s, why);
}

size_t wheelname_ntags(const struct wheelname *w, enum wheelname_tagkind kind)
{
	return (unsigned)kind < 3 ? w->ntags[kind] : 0;
}

const char *wheelname_tag(const struct wheelname *w, enum wheelname_tagkind kind,
	size_t i)
{
	if ((unsigned)kind >= 3 || i >= w->ntags[kind])
		return NULL;
	return w->tag_text + w->tag_off[kind][i];
}

/* A parsed "cpXY" target. */
struct target {
	int major, minor;
	const char *platform;
	/*
	 * linux_ARCH takes manylinux tags of ARCH too: up to glibc 2.<glibc_minor>
	 * (manylinux1 is 2.5, manylinux2010 2.12, manylinux2014 2.17), or any
	 * glibc when glibc_minor is INT_MAX (Kiln's own wheels), or none when it
	 * is -1.
	 */
	int glibc_minor;
};

static int parse_interpreter(struct target *t, const char *s)
{
	long minor = 0;
	size_t i;

	if (!s || strncasecmp(s, "cp", 2) != 0 || !is_digit(s[2]) || s[2] == '0')
		return -1;
	t->major = s[2] - '0';
	if (!is_digit(s[3]) || (s[3] == '0' && s[4] != '\0'))
		return -1;
	for (i = 3; is_digit(s[i]); i++) {
		if (i > 5)
			return -1; /* at most three digits of minor */
		minor = minor * 10 + (s[i] - '0');
	}
	if (s[i] != '\0')
		return -1;
	t->minor = (int)minor;
	return 0;
}

/* Is tag exactly prefix followed by the decimal digits of a and (if b >= 0) b? */
static int tag_is(const char *tag, const char *prefix, int a, int b)
{
	char want[32];

	if (b >= 0)
		snprintf(want, sizeof(want), "%s%d%d", prefix, a, b);
	else
		snprintf(want, sizeof(want), "%s%d", prefix, a);
	return strcmp(tag, want) == 0;
}

/*
 * The glibc minor a manylinux tag of the architecture of a "linux_ARCH" target
 * needs: manylinux1_ARCH 5, manylinux2010_ARCH 12, manylinux2014_ARCH 17,
 * manylinux_2_N_ARCH N. -1 when plat is no manylinux tag of that ARCH (or the
 * target is not linux_ARCH). pip on a glibc 2.M system installs those with a
 * minor up to M (PEP 600).
 */
static int manylinux_minor(const char *plat, const char *target)
{
	static const struct {
		const char *prefix;
		int minor;
	} legacy[] = { { "manylinux1_", 5 }, { "manylinux2010_", 12 }, { "manylinux2014_", 17 } };
	const char *arch, *p;
	long major = 0, minor = 0;

	if (strncasecmp(target, "linux_", 6))
		return -1;
	arch = target + 6;
	for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++)
		if (!strncasecmp(plat, legacy[i].prefix, strlen(legacy[i].prefix)))
			return strcasecmp(plat + strlen(legacy[i].prefix), arch) ? -1 : legacy[i].minor;
	if (strncasecmp(plat, "manylinux_", 10))
		return -1;
	p = plat + 10;
	for (int part = 0; part < 2; part++) {
		long v = 0;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++)
			if ((v = v * 10 + (*p - '0')) > 9999)
				return -1;
		if (*p++ != '_')
			return -1;
		*(part ? &minor : &major) = v;
	}
	if (major != 2 || strcasecmp(p, arch))
		return -1;
	return (int)minor;
}

static int tag_supported(const struct target *t, const char *py, const char *abi,
	const char *plat)
{
	int ml = t->glibc_minor >= 0 ? manylinux_minor(plat, t->platform) : -1;
	int on_platform = strcasecmp(plat, t->platform) == 0 || (ml >= 0 && ml <= t->glibc_minor);
	int pre38 = t->major < 3 || (t->major == 3 && t->minor < 8);

	if (strcmp(abi, "none") == 0) {
		if (!on_platform && strcmp(plat, "any") != 0)
			return 0;
		if (tag_is(py, "cp", t->major, t->minor) || tag_is(py, "py", t->major, -1))
			return 1;
		for (int z = 0; z <= t->minor; z++)
			if (tag_is(py, "py", t->major, z))
				return 1;
		return 0;
	}
	if (!on_platform)
		return 0;
	if (strcmp(abi, "abi3") == 0) {
		if (t->major < 3 || (t->major == 3 && t->minor < 2))
			return 0;
		for (int z = 2; z <= t->minor; z++)
			if (tag_is(py, "cp", t->major, z))
				return 1;
		return 0;
	}
	if (!tag_is(py, "cp", t->major, t->minor))
		return 0;
	if (pre38) {
		char want[32];
		snprintf(want, sizeof(want), "cp%d%dm", t->major, t->minor);
		return strcmp(abi, want) == 0;
	}
	return tag_is(abi, "cp", t->major, t->minor);
}

static int matches(const struct wheelname *w, const char *interpreter, const char *platform,
	int glibc_minor)
{
	struct target t;

	if (parse_interpreter(&t, interpreter) || !platform || !*platform)
		return 0;
	t.platform = platform;
	t.glibc_minor = glibc_minor;
	for (size_t i = 0; i < w->ntags[WHEELNAME_PYTHON]; i++) {
		const char *py = w->tag_text + w->tag_off[WHEELNAME_PYTHON][i];

		for (size_t j = 0; j < w->ntags[WHEELNAME_ABI]; j++) {
			const char *abi = w->tag_text + w->tag_off[WHEELNAME_ABI][j];

			for (size_t k = 0; k < w->ntags[WHEELNAME_PLATFORM]; k++) {
				const char *plat = w->tag_text + w->tag_off[WHEELNAME_PLATFORM][k];

				if (tag_supported(&t, py, abi, plat))
					return 1;
			}
		}
	}
	return 0;
}

int wheelname_matches(const struct wheelname *w, const char *interpreter,
	const char *platform)
{
	return matches(w, interpreter, platform, -1);
}

int wheelname_matches_built(const struct wheelname *w, const char *interpreter,
	const char *platform)
{
	return matches(w, interpreter, platform, INT_MAX);
}

int wheelname_glibc_minor(const char *glibc)
{
	long minor = 0;
	const char *p;

	if (!glibc || strncmp(glibc, "2.", 2) || !is_digit(glibc[2]))
		return -1;
	for (p = glibc + 2; is_digit(*p); p++)
		if ((minor = minor * 10 + (*p - '0')) > 999)
			return -1;
	return *p ? -1 : (int)minor;
}

int wheelname_installs(const struct wheelname *w, const char *interpreter,
	const char *platform, const char *glibc)
{
	return matches(w, interpreter, platform, wheelname_glibc_minor(glibc));
}

int wheelname_list_installs(const char *names, const char *interpreter, const char *platform,
	const char *glibc, int built, char *first, size_t n)
{
	int minor = built && !(glibc && *glibc) ? INT_MAX : wheelname_glibc_minor(glibc);
	const char *p = names;

	while (p && *p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct wheelname w;

		if (!wheelname_parse(&w, p, len, NULL) && matches(&w, interpreter, platform, minor)) {
			if (first && n)
				snprintf(first, n, "%.*s", (int)len, p);
			return 1;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (first && n)
		first[0] = '\0';
	return 0;
}

int sdistname_parse(struct sdistname *d, const char *s, size_t n, struct kerr *e)
{
	struct slice nm, ver;
	struct kerr sub;
	size_t stem, dash;
	const char *why;

	memset(d, 0, sizeof(*d));
	why = check_filename(s, n);
	if (why)
		goto fail;
	if (ends_with(s, n, ".tar.gz")) {
		d->format = SDISTNAME_TAR_GZ;
		stem = n - 7;
	} else if (ends_with(s, n, ".zip")) {
		d->format = SDISTNAME_ZIP;
		stem = n - 4;
	} else {
		why = "extension must be '.tar.gz' or '.zip'";
		goto fail;
	}
	why = "no '-' between name and version";
	for (dash = stem; dash > 0 && s[dash - 1] != '-'; dash--)
		;
	if (dash == 0)
		goto fail;
	nm = (struct slice){ s, dash - 1 };
	ver = (struct slice){ s + dash, stem - dash };
	why = "invalid project name";
	if (!pyname_valid(nm.p, nm.n) || put_name(d->name, nm))
		goto fail;
	why = "empty version";
	if (ver.n == 0)
		goto fail;
	why = sub.msg;
	if (pyversion_parse(&d->version, ver.p, ver.n, &sub))
		goto fail;
	return 0;

fail:
	memset(d, 0, sizeof(*d));
	return kerr_set(e, KERR_INVAL, "invalid sdist filename '%.*s': %s",
		(int)(n > WHEELNAME_MAX_LEN ? WHEELNAME_MAX_LEN : n), s, why);
}
