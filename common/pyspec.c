/*
 * pyspec: PEP 440 version specifiers (contract in pyspec.h).
 *
 * python packaging 26 turns each clause into version ranges with "boundary"
 * points (just after V's local versions, just after V's post-releases). Kiln
 * evaluates each clause directly instead; the comments on clause_contains()
 * say which range each test reproduces. Working on comparisons rather than on
 * constructed bounds (V.dev(N+1), next prefix) also avoids overflowing a
 * segment that is INT64_MAX.
 */
#include "common/pyspec.h"

#include "common/buf.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct opname {
	const char *text;
	enum pyspec_op op;
};

/* Longest first, so "===" is not read as "==" and "<=" not as "<". */
static const struct opname opnames[] = {
	{ "===", PYSPEC_ARBITRARY }, { "~=", PYSPEC_COMPATIBLE }, { "==", PYSPEC_EQ },
	{ "!=", PYSPEC_NE },         { "<=", PYSPEC_LE },         { ">=", PYSPEC_GE },
	{ "<", PYSPEC_LT },          { ">", PYSPEC_GT },
};

/*
 * Parse one trimmed, non-empty clause. Returns NULL on success, else why the
 * clause is invalid (vmsg receives pyversion_parse's message when that failed).
 */
static const char *parse_clause(struct pyspec_clause *c, const char *s, size_t n,
	struct kerr *vmsg)
{
	const struct opname *on = NULL;
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(opnames) / sizeof(opnames[0]); i++) {
		size_t m = strlen(opnames[i].text);
		if (n >= m && memcmp(s, opnames[i].text, m) == 0) {
			on = &opnames[i];
			break;
		}
	}
	if (!on)
		return "unknown operator";
	c->op = on->op;
	s += strlen(on->text);
	n -= strlen(on->text);
	while (n && is_space(*s)) {
		s++;
		n--;
	}
	if (n == 0)
		return "missing version";
	for (i = 0; i < n; i++)
		if (is_space(s[i]))
			return "whitespace inside version";

	if (c->op == PYSPEC_ARBITRARY) {
		if (n > PYSPEC_ARBITRARY_MAX)
			return "arbitrary version too long";
		for (i = 0; i < n; i++)
			if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ';' || s[i] == ')')
				return "invalid character in arbitrary version";
		memcpy(c->arbitrary, s, n);
		c->arbitrary[n] = '\0';
		return NULL;
	}

	if ((c->op == PYSPEC_EQ || c->op == PYSPEC_NE) && n >= 2 &&
	    s[n - 2] == '.' && s[n - 1] == '*') {
		c->wildcard = 1;
		n -= 2;
	}
	if (pyversion_parse(&c->version, s, n, vmsg))
		return vmsg->msg;
	if (c->wildcard && (c->version.pre != PYVERSION_PRE_NONE ||
			    c->version.post >= 0 || c->version.dev >= 0 ||
			    c->version.local_len))
		return "'.*' must follow a release number only";
	if (c->version.local_len && c->op != PYSPEC_EQ && c->op != PYSPEC_NE)
		return "local version label only allowed with == and !=";
	if (c->op == PYSPEC_COMPATIBLE && c->version.nrelease < 2)
		return "'~=' needs at least two release segments";
	return NULL;
}

int pyspec_parse(struct pyspec *s, const char *text, size_t n, struct kerr *e)
{
	struct pyspec_clause *clauses = NULL;
	struct kerr vmsg;
	size_t count = 0, pos = 0;
	const char *why = NULL;
	const char *cs = text;
	size_t cn = 0;

	s->clauses = NULL;
	s->nclauses = 0;
	while (pos <= n) {
		size_t end = pos;

		while (end < n && text[end] != ',')
			end++;
		cs = text + pos;
		cn = end - pos;
		pos = end + 1;
		while (cn && is_space(*cs)) {
			cs++;
			cn--;
		}
		while (cn && is_space(cs[cn - 1]))
			cn--;
		if (cn == 0)
			continue;
		if (count == PYSPEC_MAX_CLAUSES) {
			why = "too many clauses";
			goto fail;
		}
		clauses = xrealloc(clauses, (count + 1) * sizeof(*clauses));
		why = parse_clause(&clauses[count], cs, cn, &vmsg);
		if (why)
			goto fail;
		count++;
	}
	s->clauses = clauses;
	s->nclauses = count;
	return 0;

fail:
	free(clauses);
	return kerr_set(e, KERR_INVAL, "invalid version specifier '%.*s': %s",
		(int)(cn > 100 ? 100 : cn), cs, why);
}

void pyspec_release(struct pyspec *s)
{
	free(s->clauses);
	s->clauses = NULL;
	s->nclauses = 0;
}

/* Same epoch, and v's release (zero-padded) starts with V's first k segments. */
static int prefix_match(const struct pyversion *v, const struct pyversion *V, size_t k)
{
	if (v->epoch != V->epoch)
		return 0;
	for (size_t i = 0; i < k; i++)
		if ((i < v->nrelease ? v->release[i] : 0) != V->release[i])
			return 0;
	return 1;
}

/* Same epoch, release (up to trailing zeros) and pre-release as V. */
static int same_base_and_pre(const struct pyversion *v, const struct pyversion *V)
{
	size_t n = v->nrelease > V->nrelease ? v->nrelease : V->nrelease;

	if (v->epoch != V->epoch || v->pre != V->pre)
		return 0;
	if (v->pre != PYVERSION_PRE_NONE && v->pre_num != V->pre_num)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((i < v->nrelease ? v->release[i] : 0) !=
		    (i < V->nrelease ? V->release[i] : 0))
			return 0;
	return 1;
}

static int arbitrary_match(const char *operand, const struct pyversion *v)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);
	int eq;

	eq = pyversion_normalize(v, &b) == 0 && strcasecmp(b.ptr, operand) == 0;
	buf_release(&b);
	return eq;
}

static int clause_contains(const struct pyspec_clause *c, const struct pyversion *v)
{
	const struct pyversion *V = &c->version;
	struct pyversion bound;
	int eq;

	switch (c->op) {
	case PYSPEC_COMPATIBLE:
		/* [V, P'.dev0) with P' the next prefix: given v >= V, a prefix test */
		return pyversion_cmp(v, V) >= 0 && prefix_match(v, V, V->nrelease - 1);
	case PYSPEC_EQ:
	case PYSPEC_NE:
		if (c->wildcard)
			eq = prefix_match(v, V, V->nrelease); /* [V.dev0, V'.dev0) */
		else if (V->local_len)
			eq = pyversion_cmp(v, V) == 0;
		else
			eq = pyversion_cmp_public(v, V) == 0; /* V up to V+any local */
		return c->op == PYSPEC_EQ ? eq : !eq;
	case PYSPEC_LE:
		return pyversion_cmp_public(v, V) <= 0;
	case PYSPEC_GE:
		return pyversion_cmp(v, V) >= 0;
	case PYSPEC_LT:
		/* below V.dev0 unless V is a pre-release itself */
		if (pyversion_is_prerelease(V))
			return pyversion_cmp(v, V) < 0;
		bound = *V;
		bound.dev = 0;
		return pyversion_cmp(v, &bound) < 0;
	case PYSPEC_GT:
		if (pyversion_cmp(v, V) <= 0)
			return 0;
		/*
		 * V.devN or V.postN: the next version up is V.dev(N+1) or
		 * V.post(N+1).dev0, so only V's local versions lie between.
		 * Otherwise V's whole post family (V+local, V.postN...) is out.
		 */
		if (V->dev >= 0 || V->post >= 0)
			return pyversion_cmp_public(v, V) != 0;
		return !same_base_and_pre(v, V);
	case PYSPEC_ARBITRARY:
		return arbitrary_match(c->arbitrary, v);
	}
	return 0;
}

int pyspec_contains(const struct pyspec *s, const struct pyversion *v)
{
	for (size_t i = 0; i < s->nclauses; i++)
		if (!clause_contains(&s->clauses[i], v))
			return 0;
	return 1;
}

int pyspec_prereleases(const struct pyspec *s)
{
	for (size_t i = 0; i < s->nclauses; i++) {
		const struct pyspec_clause *c = &s->clauses[i];
		struct pyversion v;

		if (c->op == PYSPEC_NE || (c->op == PYSPEC_EQ && c->wildcard))
			continue;
		if (c->op == PYSPEC_ARBITRARY) {
			if (pyversion_parse_str(&v, c->arbitrary, NULL) == 0 &&
			    pyversion_is_prerelease(&v))
				return 1;
			continue;
		}
		if (pyversion_is_prerelease(&c->version))
			return 1;
	}
	return 0;
}

int pyspec_contains_policy(const struct pyspec *s, const struct pyversion *v,
	enum pyspec_prerelease_policy policy)
{
	if (pyversion_is_prerelease(v)) {
		if (policy == PYSPEC_PRE_EXCLUDE)
			return 0;
		if (policy == PYSPEC_PRE_AUTO && !pyspec_prereleases(s))
			return 0;
	}
	return pyspec_contains(s, v);
}
