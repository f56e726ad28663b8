/*
 * pyversion: PEP 440 version parsing, normalization and ordering (contract in
 * pyversion.h).
 *
 * The parser is a hand-written equivalent of python packaging's VERSION_PATTERN
 * (matched with re.VERBOSE | re.IGNORECASE inside "\s*...\s*"). That pattern's
 * optional groups are possessive, so a greedy left-to-right scan that never
 * backtracks out of a segment it has started gives the same answers.
 */
#include "common/pyversion.h"

#include "common/buf.h"
#include "common/kerr.h"

#include <string.h>

struct cursor {
	const char *p;
	const char *end;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_sep(char c)
{
	return c == '.' || c == '-' || c == '_';
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Is there a byte off positions ahead, and is it ch? */
static int at(const struct cursor *c, size_t off, char ch)
{
	return (size_t)(c->end - c->p) > off && c->p[off] == ch;
}

/* Is there a byte off positions ahead, and does pred hold for it? */
static int peek_is(const struct cursor *c, size_t off, int (*pred)(char))
{
	return (size_t)(c->end - c->p) > off && pred(c->p[off]);
}

/* Consume an optional '.', '-' or '_'. */
static void skip_sep(struct cursor *c)
{
	if (peek_is(c, 0, is_sep))
		c->p++;
}

/* Consume word if the input continues with it, ignoring case. */
static int take_word(struct cursor *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (to_lower(c->p[i]) != word[i])
			return 0;
	c->p += n;
	return 1;
}

/*
 * Consume a run of digits into *out. 1 on success, 0 if there is no digit here
 * (nothing consumed), -1 if the number does not fit int64_t.
 */
static int take_number(struct cursor *c, int64_t *out)
{
	int64_t v = 0;

	if (!peek_is(c, 0, is_digit))
		return 0;
	while (peek_is(c, 0, is_digit)) {
		int d = *c->p - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		c->p++;
	}
	*out = v;
	return 1;
}

/* An optional number after a pre/post/dev letter: implicit 0 when absent. */
static int take_opt_number(struct cursor *c, int64_t *out)
{
	int rc = take_number(c, out);

	if (rc == 0)
		*out = 0;
	return rc < 0 ? -1 : 0;
}

static void reset(struct pyversion *v)
{
	memset(v, 0, sizeof(*v));
	v->post = -1;
	v->dev = -1;
}

/* Where a parse failed and why, for the error message. */
struct failure {
	const char *why;
};

static int parse_release(struct cursor *c, struct pyversion *v, struct failure *f)
{
	int64_t num;
	int rc;

	rc = take_number(c, &num);
	if (rc <= 0) {
		f->why = rc < 0 ? "number too large" : "expected a release number";
		return -1;
	}
	if (at(c, 0, '!')) {
		c->p++;
		v->epoch = num;
		rc = take_number(c, &num);
		if (rc <= 0) {
			f->why = rc < 0 ? "number too large" : "expected a release number after the epoch";
			return -1;
		}
	}
	v->release[v->nrelease++] = num;
	while (at(c, 0, '.') && peek_is(c, 1, is_digit)) {
		c->p++;
		if (v->nrelease == PYVERSION_RELEASE_MAX) {
			f->why = "too many release segments";
			return -1;
		}
		if (take_number(c, &num) < 0) {
			f->why = "number too large";
			return -1;
		}
		v->release[v->nrelease++] = num;
	}
	return 0;
}

/* [._-]? (alpha|a|beta|b|preview|pre|c|rc) [._-]? N? */
static int parse_pre(struct cursor *c, struct pyversion *v, struct failure *f)
{
	static const struct {
		const char *word;
		enum pyversion_pre kind;
	} words[] = {
		/* packaging's alternation order: a longer spelling before its prefix */
		{ "alpha", PYVERSION_PRE_A }, { "a", PYVERSION_PRE_A },
		{ "beta", PYVERSION_PRE_B },  { "b", PYVERSION_PRE_B },
		{ "preview", PYVERSION_PRE_RC }, { "pre", PYVERSION_PRE_RC },
		{ "c", PYVERSION_PRE_RC },    { "rc", PYVERSION_PRE_RC },
	};
	struct cursor save = *c;

	skip_sep(c);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!take_word(c, words[i].word))
			continue;
		v->pre = words[i].kind;
		skip_sep(c);
		if (take_opt_number(c, &v->pre_num) < 0) {
			f->why = "number too large";
			return -1;
		}
		return 0;
	}
	*c = save;
	return 0;
}

/* -N | [._-]? (post|rev|r) [._-]? N? */
static int parse_post(struct cursor *c, struct pyversion *v, struct failure *f)
{
	static const char *const words[] = { "post", "rev", "r" };
	struct cursor save = *c;

	if (at(c, 0, '-') && peek_is(c, 1, is_digit)) {
		c->p++;
		if (take_number(c, &v->post) < 0) {
			f->why = "number too large";
			return -1;
		}
		return 0;
	}
	skip_sep(c);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!take_word(c, words[i]))
			continue;
		skip_sep(c);
		if (take_opt_number(c, &v->post) < 0) {
			f->why = "number too large";
			return -1;
		}
		return 0;
	}
	*c = save;
	return 0;
}

/* [._-]? dev [._-]? N? */
static int parse_dev(struct cursor *c, struct pyversion *v, struct failure *f)
{
	struct cursor save = *c;

	skip_sep(c);
	if (!take_word(c, "dev")) {
		*c = save;
		return 0;
	}
	skip_sep(c);
	if (take_opt_number(c, &v->dev) < 0) {
		f->why = "number too large";
		return -1;
	}
	return 0;
}

/* Append one local segment, normalized, to v->local. */
static int put_local_segment(struct pyversion *v, const char *s, size_t n)
{
	int numeric = 1;

	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			numeric = 0;
	if (numeric) {
		/* python's int(): "007" -> "7", "00" -> "0" */
		while (n > 1 && *s == '0') {
			s++;
			n--;
		}
	}
	if (v->local_len + (v->local_len ? 1 : 0) + n >= PYVERSION_LOCAL_MAX)
		return -1;
	if (v->local_len)
		v->local[v->local_len++] = '.';
	for (size_t i = 0; i < n; i++)
		v->local[v->local_len++] = to_lower(s[i]);
	v->local[v->local_len] = '\0';
	return 0;
}

/* \+ [a-z0-9]+ ([._-][a-z0-9]+)* ; the '+' is already consumed */
static int parse_local(struct cursor *c, struct pyversion *v, struct failure *f)
{
	for (;;) {
		const char *start = c->p;

		while (peek_is(c, 0, is_alnum))
			c->p++;
		if (c->p == start) {
			f->why = "empty local version segment";
			return -1;
		}
		if (put_local_segment(v, start, (size_t)(c->p - start))) {
			f->why = "local version label too long";
			return -1;
		}
		if (!(peek_is(c, 0, is_sep) && peek_is(c, 1, is_alnum)))
			return 0;
		c->p++;
	}
}

int pyversion_parse(struct pyversion *v, const char *s, size_t n, struct kerr *e)
{
	struct cursor c = { s, s + n };
	struct failure f = { "unexpected character" };

	reset(v);
	while (peek_is(&c, 0, is_space))
		c.p++;
	if (at(&c, 0, 'v') || at(&c, 0, 'V'))
		c.p++;
	if (parse_release(&c, v, &f))
		goto fail;
	if (parse_pre(&c, v, &f))
		goto fail;
	if (parse_post(&c, v, &f))
		goto fail;
	if (parse_dev(&c, v, &f))
		goto fail;
	if (at(&c, 0, '+')) {
		c.p++;
		if (parse_local(&c, v, &f))
			goto fail;
	}
	while (peek_is(&c, 0, is_space))
		c.p++;
	if (c.p != c.end)
		goto fail;
	return 0;

fail:
	reset(v);
	return kerr_set(e, KERR_INVAL, "invalid version '%.*s': %s",
		(int)(n > 100 ? 100 : n), s, f.why);
}

int pyversion_parse_str(struct pyversion *v, const char *s, struct kerr *e)
{
	return pyversion_parse(v, s, strlen(s), e);
}

int pyversion_normalize(const struct pyversion *v, struct buf *out)
{
	static const char *const pre_names[] = { "", "a", "b", "rc" };
	size_t oldlen = out->len;
	int rc = 0;

	if (v->epoch)
		rc = buf_printf(out, "%lld!", (long long)v->epoch);
	for (size_t i = 0; !rc && i < v->nrelease; i++)
		rc = buf_printf(out, i ? ".%lld" : "%lld", (long long)v->release[i]);
	if (!rc && v->pre != PYVERSION_PRE_NONE)
		rc = buf_printf(out, "%s%lld", pre_names[v->pre], (long long)v->pre_num);
	if (!rc && v->post >= 0)
		rc = buf_printf(out, ".post%lld", (long long)v->post);
	if (!rc && v->dev >= 0)
		rc = buf_printf(out, ".dev%lld", (long long)v->dev);
	if (!rc && v->local_len)
		rc = buf_printf(out, "+%s", v->local);
	if (rc)
		buf_truncate(out, oldlen);
	return rc;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

/*
 * The pre/post/dev part as packaging's _cmpkey suffix:
 * (pre_rank, pre_n, post_rank, post_n, dev_rank, dev_n), where a dev-only
 * release ranks below every pre-release and no pre-release above rc.
 */
static void suffix_key(const struct pyversion *v, int64_t key[6])
{
	if (v->pre == PYVERSION_PRE_NONE && v->post < 0 && v->dev >= 0)
		key[0] = -1;
	else if (v->pre == PYVERSION_PRE_NONE)
		key[0] = 3;
	else
		key[0] = (int64_t)v->pre - (int64_t)PYVERSION_PRE_A;
	key[1] = v->pre == PYVERSION_PRE_NONE ? 0 : v->pre_num;
	key[2] = v->post >= 0;
	key[3] = v->post >= 0 ? v->post : 0;
	key[4] = v->dev < 0;
	key[5] = v->dev >= 0 ? v->dev : 0;
}

int pyversion_cmp_public(const struct pyversion *a, const struct pyversion *b)
{
	size_t n = a->nrelease > b->nrelease ? a->nrelease : b->nrelease;
	int64_t ka[6], kb[6];
	int r;

	r = cmp_i64(a->epoch, b->epoch);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = cmp_i64(i < a->nrelease ? a->release[i] : 0,
			i < b->nrelease ? b->release[i] : 0);
		if (r)
			return r;
	}
	suffix_key(a, ka);
	suffix_key(b, kb);
	for (size_t i = 0; i < 6; i++) {
		r = cmp_i64(ka[i], kb[i]);
		if (r)
			return r;
	}
	return 0;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* Compare two normalized local segments. */
static int cmp_local_segment(const char *a, size_t na, const char *b, size_t nb)
{
	int da = all_digits(a, na), db = all_digits(b, nb);
	int r;

	if (da != db)
		return da - db; /* numeric sorts after alphanumeric */
	if (da && na != nb)
		return na < nb ? -1 : 1; /* no leading zeros: longer is larger */
	r = memcmp(a, b, na < nb ? na : nb);
	if (r)
		return r < 0 ? -1 : 1;
	return (na > nb) - (na < nb);
}

static int cmp_local(const struct pyversion *a, const struct pyversion *b)
{
	const char *pa = a->local, *ea = a->local + a->local_len;
	const char *pb = b->local, *eb = b->local + b->local_len;

	if (!a->local_len || !b->local_len)
		return (a->local_len != 0) - (b->local_len != 0);
	while (pa < ea && pb < eb) {
		const char *sa = memchr(pa, '.', (size_t)(ea - pa));
		const char *sb = memchr(pb, '.', (size_t)(eb - pb));
		int r;

		if (!sa)
			sa = ea;
		if (!sb)
			sb = eb;
		r = cmp_local_segment(pa, (size_t)(sa - pa), pb, (size_t)(sb - pb));
		if (r)
			return r;
		pa = sa < ea ? sa + 1 : ea;
		pb = sb < eb ? sb + 1 : eb;
	}
	return (pa < ea) - (pb < eb);
}

int pyversion_cmp(const struct pyversion *a, const struct pyversion *b)
{
	int r = pyversion_cmp_public(a, b);

	return r ? r : cmp_local(a, b);
}

int pyversion_is_prerelease(const struct pyversion *v)
{
	return v->pre != PYVERSION_PRE_NONE || v->dev >= 0;
}

int pyversion_is_postrelease(const struct pyversion *v)
{
	return v->post >= 0;
}

int pyversion_is_devrelease(const struct pyversion *v)
{
	return v->dev >= 0;
}

int pyversion_has_local(const struct pyversion *v)
{
	return v->local_len != 0;
}

int64_t pyversion_epoch(const struct pyversion *v)
{
	return v->epoch;
}

const int64_t *pyversion_release(const struct pyversion *v, size_t *n)
{
	*n = v->nrelease;
	return v->release;
}

void pyversion_public(const struct pyversion *v, struct pyversion *out)
{
	*out = *v;
	memset(out->local, 0, sizeof(out->local));
	out->local_len = 0;
}

void pyversion_base(const struct pyversion *v, struct pyversion *out)
{
	reset(out);
	out->epoch = v->epoch;
	out->nrelease = v->nrelease;
	memcpy(out->release, v->release, sizeof(out->release));
}
