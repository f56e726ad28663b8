/* sigv4: AWS Signature Version 4 (contract in sigv4.h). */
#include "common/sigv4.h"

#include "common/sha256.h"
#include "common/xalloc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* A header or query parameter in canonical form, for sorting. */
struct sigv4__item {
	struct buf name;
	struct buf value;
};

void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN + 1])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_DATE_LEN)
		memcpy(out, "19700101T000000Z", SIGV4_DATE_LEN + 1);
}

static int sigv4__date_valid(const char *d)
{
	if (!d || strlen(d) != SIGV4_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return 0;
	return 1;
}

int sigv4_uri_encode(struct buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
		    (ch == '/' && keep_slash)) {
			rc = buf_putc(out, (char)ch);
		} else {
			char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			rc = buf_append(out, esc, 3);
		}
	}
	return rc;
}

static int sigv4__item_cmp(const void *a, const void *b)
{
	const struct sigv4__item *x = a, *y = b;
	int c = strcmp(x->name.ptr, y->name.ptr);
	return c ? c : strcmp(x->value.ptr, y->value.ptr);
}

static struct sigv4__item *sigv4__items_new(size_t n)
{
	struct sigv4__item *it = xcalloc(n ? n : 1, sizeof(*it));
	for (size_t i = 0; i < n; i++) {
		buf_init(&it[i].name, BUF_NOLIMIT);
		buf_init(&it[i].value, BUF_NOLIMIT);
	}
	return it;
}

static void sigv4__items_free(struct sigv4__item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_release(&it[i].name);
		buf_release(&it[i].value);
	}
	free(it);
}

/* Query parameters: both lists (either may be empty) encoded, sorted, joined. */
static int sigv4__query(struct buf *out, const struct sigv4_pair *a, size_t na,
			const struct sigv4_pair *b, size_t nb)
{
	size_t n = na + nb;
	struct sigv4__item *it = sigv4__items_new(n);
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		const struct sigv4_pair *p = i < na ? &a[i] : &b[i - na];
		rc = sigv4_uri_encode(&it[i].name, p->name, 0);
		if (!rc)
			rc = sigv4_uri_encode(&it[i].value, p->value ? p->value : "", 0);
	}
	if (!rc)
		qsort(it, n, sizeof(*it), sigv4__item_cmp);
	for (size_t i = 0; i < n && !rc; i++)
		rc = buf_printf(out, "%s%s=%s", i ? "&" : "", it[i].name.ptr, it[i].value.ptr);
	sigv4__items_free(it, n);
	return rc;
}

int sigv4_canonical_query(struct buf *out, const struct sigv4_pair *q, size_t n)
{
	return sigv4__query(out, q, n, NULL, 0);
}

/* A header name is an HTTP token; we lowercase it for signing. */
static int sigv4__header_name_valid(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!isalnum(ch) && !strchr("!#$%&'*+-.^_`|~", ch))
			return 0;
	}
	return 1;
}

/* Lowercased name; value trimmed with inner runs of spaces collapsed (AWS "Trimall"). */
static int sigv4__header_put(struct sigv4__item *it, const char *name, const char *value,
			     struct kerr *e)
{
	const char *v = value ? value : "";
	int space = 0, rc = 0;

	if (!sigv4__header_name_valid(name))
		return kerr_set(e, KERR_INVAL, "invalid header name '%s'", name);
	for (const char *p = name; *p && !rc; p++)
		rc = buf_putc(&it->name, (char)tolower((unsigned char)*p));
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v && !rc; v++) {
		if (*v == '\r' || *v == '\n')
			return kerr_set(e, KERR_INVAL, "header '%s' has a line break in its value", name);
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space)
			rc = buf_putc(&it->value, ' ');
		space = 0;
		if (!rc)
			rc = buf_putc(&it->value, *v);
	}
	return rc;
}

/*
 * The canonical request. header_auth: sign host, x-amz-content-sha256,
 * x-amz-date and r's headers with r's payload hash; otherwise (presigning) sign
 * only host, the extra query parameters qx, and UNSIGNED-PAYLOAD.
 */
static int sigv4__canonical(const struct sigv4_req *r, int header_auth,
			    const struct sigv4_pair *qx, size_t nqx, struct buf *out,
			    struct buf *signed_headers, struct kerr *e)
{
	size_t n = header_auth ? r->nheaders + 3 : 1;
	struct sigv4__item *it = sigv4__items_new(n);
	int rc = 0;

	if (!sigv4__date_valid(r->amz_date)) {
		rc = kerr_set(e, KERR_INVAL, "invalid x-amz-date '%s'",
			      r->amz_date ? r->amz_date : "");
		goto fail;
	}
	if (!r->host || !*r->host || !r->path || r->path[0] != '/') {
		rc = kerr_set(e, KERR_INVAL, "a request to sign needs a host and an absolute path");
		goto fail;
	}
	rc = sigv4__header_put(&it[0], "host", r->host, e);
	if (!rc && header_auth) {
		rc = sigv4__header_put(&it[1], "x-amz-content-sha256", r->payload_hash, e);
		if (!rc)
			rc = sigv4__header_put(&it[2], "x-amz-date", r->amz_date, e);
		for (size_t i = 0; i < r->nheaders && !rc; i++)
			rc = sigv4__header_put(&it[3 + i], r->headers[i].name, r->headers[i].value, e);
	}
	if (rc)
		goto fail;
	qsort(it, n, sizeof(*it), sigv4__item_cmp);
	for (size_t i = 1; i < n; i++) {
		if (!strcmp(it[i - 1].name.ptr, it[i].name.ptr)) {
			rc = kerr_set(e, KERR_INVAL, "header '%s' given twice", it[i].name.ptr);
			goto fail;
		}
	}

	rc = buf_printf(out, "%s\n", r->method);
	if (!rc)
		rc = sigv4_uri_encode(out, r->path, 1);
	if (!rc)
		rc = buf_putc(out, '\n');
	if (!rc)
		rc = sigv4__query(out, r->query, r->nquery, qx, nqx);
	if (!rc)
		rc = buf_putc(out, '\n');
	for (size_t i = 0; i < n && !rc; i++)
		rc = buf_printf(out, "%s:%s\n", it[i].name.ptr, it[i].value.ptr);
	if (!rc)
		rc = buf_putc(out, '\n');
	for (size_t i = 0; i < n && !rc; i++) {
		rc = buf_printf(out, "%s%s", i ? ";" : "", it[i].name.ptr);
		if (!rc && signed_headers)
			rc = buf_printf(signed_headers, "%s%s", i ? ";" : "", it[i].name.ptr);
	}
	if (!rc)
		rc = buf_printf(out, "\n%s",
				header_auth ? r->payload_hash : SIGV4_UNSIGNED_PAYLOAD);
	if (rc && rc != KERR_INVAL)
		rc = kerr_set(e, rc, "could not build the canonical request");
fail:
	sigv4__items_free(it, n);
	return rc;
}

int sigv4_canonical_request(const struct sigv4_req *r, struct buf *out,
			    struct buf *signed_headers, struct kerr *e)
{
	if (!r->payload_hash || !*r->payload_hash)
		return kerr_set(e, KERR_INVAL, "a request to sign needs a payload hash");
	return sigv4__canonical(r, 1, NULL, 0, out, signed_headers, e);
}

static int sigv4__scope(struct buf *out, const struct sigv4_creds *c, const char *amz_date)
{
	return buf_printf(out, "%.8s/%s/%s/aws4_request", amz_date, c->region, c->service);
}

int sigv4_string_to_sign(const struct sigv4_creds *c, const char *amz_date,
			 const char *canonical_request, struct buf *out)
{
	char hash[SHA256_HEX_LEN + 1];
	int rc;

	rc = sha256_hex(canonical_request, strlen(canonical_request), hash);
	if (!rc)
		rc = buf_printf(out, SIGV4_ALGORITHM "\n%s\n", amz_date);
	if (!rc)
		rc = sigv4__scope(out, c, amz_date);
	if (!rc)
		rc = buf_printf(out, "\n%s", hash);
	return rc;
}

static int sigv4__hmac(const void *key, size_t keylen, const void *msg, size_t n,
		       unsigned char out[32])
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &outlen) || outlen != 32)
		return KERR_INTERNAL;
	return 0;
}

int sigv4_signature(const struct sigv4_creds *c, const char *amz_date,
		    const char *string_to_sign, char hex[65])
{
	struct buf secret = BUF_INIT(BUF_NOLIMIT);
	unsigned char k1[32], k2[32], sig[32];
	int rc;

	hex[0] = '\0';
	rc = buf_printf(&secret, "AWS4%s", c->secret_key);
	if (!rc)
		rc = sigv4__hmac(secret.ptr, secret.len, amz_date, 8, k1);
	if (!rc)
		rc = sigv4__hmac(k1, sizeof(k1), c->region, strlen(c->region), k2);
	if (!rc)
		rc = sigv4__hmac(k2, sizeof(k2), c->service, strlen(c->service), k1);
	if (!rc)
		rc = sigv4__hmac(k1, sizeof(k1), "aws4_request", 12, k2);
	if (!rc)
		rc = sigv4__hmac(k2, sizeof(k2), string_to_sign, strlen(string_to_sign), sig);
	if (!rc)
		hex_encode(sig, sizeof(sig), hex);
	/* The derived key is as good as the secret for a day: do not leave it around. */
	memset(k1, 0, sizeof(k1));
	memset(k2, 0, sizeof(k2));
	if (secret.cap)
		memset(secret.ptr, 0, secret.len);
	buf_release(&secret);
	return rc;
}

int sigv4_authorization(const struct sigv4_creds *c, const struct sigv4_req *r,
			struct buf *out, struct kerr *e)
{
	struct buf creq = BUF_INIT(BUF_NOLIMIT), sts = BUF_INIT(BUF_NOLIMIT);
	struct buf signed_headers = BUF_INIT(BUF_NOLIMIT);
	char sig[65];
	int rc;

	rc = sigv4_canonical_request(r, &creq, &signed_headers, e);
	if (rc)
		goto fail;
	rc = sigv4_string_to_sign(c, r->amz_date, creq.ptr, &sts);
	if (!rc)
		rc = sigv4_signature(c, r->amz_date, sts.ptr, sig);
	if (!rc)
		rc = buf_printf(out, SIGV4_ALGORITHM " Credential=%s/", c->access_key);
	if (!rc)
		rc = sigv4__scope(out, c, r->amz_date);
	if (!rc)
		rc = buf_printf(out, ",SignedHeaders=%s,Signature=%s", signed_headers.ptr, sig);
	if (rc)
		rc = kerr_set(e, rc, "could not compute the request signature");
fail:
	buf_release(&creq);
	buf_release(&sts);
	buf_release(&signed_headers);
	return rc;
}

int sigv4_presign(const struct sigv4_creds *c, const char *scheme, const struct sigv4_req *r,
		  int expires, struct buf *out, struct kerr *e)
{
	struct buf creq = BUF_INIT(BUF_NOLIMIT), sts = BUF_INIT(BUF_NOLIMIT);
	struct buf cred = BUF_INIT(BUF_NOLIMIT);
	char exp[16], sig[65];
	struct sigv4_pair qx[5];
	int rc;

	if (expires < 1 || expires > SIGV4_PRESIGN_MAX)
		return kerr_set(e, KERR_INVAL, "a presigned URL must expire in 1 to %d seconds, not %d",
				SIGV4_PRESIGN_MAX, expires);
	if (r->nheaders)
		return kerr_set(e, KERR_INVAL, "a presigned URL signs no headers but host");
	if (!sigv4__date_valid(r->amz_date))
		return kerr_set(e, KERR_INVAL, "invalid x-amz-date '%s'",
				r->amz_date ? r->amz_date : "");
	snprintf(exp, sizeof(exp), "%d", expires);
	rc = buf_printf(&cred, "%s/", c->access_key);
	if (!rc)
		rc = sigv4__scope(&cred, c, r->amz_date);
	if (rc)
		goto fail;
	qx[0] = (struct sigv4_pair){ "X-Amz-Algorithm", SIGV4_ALGORITHM };
	qx[1] = (struct sigv4_pair){ "X-Amz-Credential", cred.ptr };
	qx[2] = (struct sigv4_pair){ "X-Amz-Date", r->amz_date };
	qx[3] = (struct sigv4_pair){ "X-Amz-Expires", exp };
	qx[4] = (struct sigv4_pair){ "X-Amz-SignedHeaders", "host" };
	rc = sigv4__canonical(r, 0, qx, 5, &creq, NULL, e);
	if (rc)
		goto fail;
	rc = sigv4_string_to_sign(c, r->amz_date, creq.ptr, &sts);
	if (!rc)
		rc = sigv4_signature(c, r->amz_date, sts.ptr, sig);
	if (!rc)
		rc = buf_printf(out, "%s://%s", scheme, r->host);
	if (!rc)
		rc = sigv4_uri_encode(out, r->path, 1);
	if (!rc)
		rc = buf_putc(out, '?');
	if (!rc)
		rc = sigv4__query(out, r->query, r->nquery, qx, 5);
	if (!rc)
		rc = buf_printf(out, "&X-Amz-Signature=%s", sig);
fail:
	if (rc && rc != KERR_INVAL)
		rc = kerr_set(e, rc, "could not presign the URL");
	buf_release(&creq);
	buf_release(&sts);
	buf_release(&cred);
	return rc;
}
