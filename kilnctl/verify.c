/* verify: a wheel against its signed provenance (contract in verify.h). */
#include "kilnctl/verify.h"

#include "common/dsse.h"
#include "common/json.h"
#include "common/pyversion.h"
#include "common/sha256.h"
#include "common/wheelname.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VERIFY_MAX_DOC (4 * 1024 * 1024)

static size_t verify__write(char *p, size_t size, size_t n, void *ctx)
{
	return buf_append(ctx, p, size * n) ? 0 : size * n;
}

/* GET url into out; anything but 200 is an error naming the status. */
static int verify__fetch(const char *url, struct buf *out, struct kerr *e)
{
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode cc;
	int rc = 0;

	if (!c)
		return kerr_set(e, KERR_INTERNAL, "could not start libcurl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, verify__write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kilnctl-verify");
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		rc = kerr_set(e, KERR_IO, "could not fetch %s: %s", url, curl_easy_strerror(cc));
	else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), status != 200)
		rc = kerr_set(e, status == 404 ? KERR_NOTFOUND : KERR_IO, "%s answered HTTP %ld%s", url,
			      status, status == 404 ? ": the farm has no provenance for this file" : "");
	curl_easy_cleanup(c);
	return rc;
}

static int verify__read_file(const char *path, size_t max, struct buf *out, struct kerr *e)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t got;
	int rc = 0;

	if (!f)
		return kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (out->len + got > max || buf_append(out, chunk, got)) {
			rc = kerr_set(e, KERR_TOOBIG, "'%s' is too large", path);
			break;
		}
	if (!rc && ferror(f))
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", path, strerror(errno));
	fclose(f);
	return rc;
}

static int verify__sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], struct kerr *e)
{
	unsigned char chunk[65536];
	struct sha256 h = { 0 };
	FILE *f = fopen(path, "rb");
	size_t got;
	int rc = 0;

	if (!f)
		return kerr_set(e, KERR_IO, "could not open '%s': %s", path, strerror(errno));
	if (sha256_init(&h))
		rc = kerr_set(e, KERR_INTERNAL, "could not start SHA-256");
	while (!rc && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (sha256_update(&h, chunk, got))
			rc = kerr_set(e, KERR_INTERNAL, "SHA-256 failed");
	if (!rc && ferror(f))
		rc = kerr_set(e, KERR_IO, "could not read '%s': %s", path, strerror(errno));
	if (!rc && sha256_final_hex(&h, hex))
		rc = kerr_set(e, KERR_INTERNAL, "SHA-256 failed");
	sha256_release(&h);
	fclose(f);
	return rc;
}

/* Find attestation_bundles[0].attestations[0].envelope's two base64 strings. */
static int verify__envelope(const cJSON *doc, const char **stmt, const char **sig, struct kerr *e)
{
	const cJSON *bundles, *atts, *env, *b, *a;

	if (json_get_array(doc, "attestation_bundles", &bundles, e) || !bundles ||
	    !(b = cJSON_GetArrayItem(bundles, 0)) || json_get_array(b, "attestations", &atts, e) ||
	    !atts || !(a = cJSON_GetArrayItem(atts, 0)) || json_get_object(a, "envelope", &env, e) ||
	    !env || json_get_str_req(env, "statement", stmt, e) || json_get_str_req(env, "signature", sig, e))
		return kerr_set(e, KERR_INVAL, "not a PEP 740 provenance object (no "
				"attestation_bundles[0].attestations[0].envelope with statement and signature)");
	return 0;
}

int verify_run(int argc, char **argv, struct buf *out, struct kerr *e)
{
	const char *wheel = NULL, *base = NULL, *prov_file = NULL, *key_file = NULL, *fname;
	struct buf url = BUF_INIT(BUF_NOLIMIT), docb = BUF_INIT(VERIFY_MAX_DOC);
	struct buf keyb = BUF_INIT(64 * 1024), ver = BUF_INIT(256);
	struct buf stmt = BUF_INIT(VERIFY_MAX_DOC), sig = BUF_INIT(256);
	cJSON *doc = NULL, *st = NULL;
	struct dsse_key *key = NULL;
	struct wheelname wn;
	char sha[SHA256_HEX_LEN + 1], key_id[SHA256_HEX_LEN + 1];
	const char *s64, *g64, *type, *ptype, *sname, *ssha;
	const cJSON *subj, *s0, *dig, *pred;
	int rc = 0, key_from_server = 0;

	for (int i = 0; i < argc; i++) {
		const char **slot = !strcmp(argv[i], "--url") ? &base :
				    !strcmp(argv[i], "--provenance") ? &prov_file :
				    !strcmp(argv[i], "--key") ? &key_file : NULL;
		if (slot && i + 1 < argc)
			*slot = argv[++i];
		else if (!slot && !wheel && argv[i][0] != '-')
			wheel = argv[i];
		else
			return kerr_set(e, VERIFY_USAGE, "verify takes: WHEEL [--url BASE | --provenance FILE] [--key PEM]");
	}
	if (!wheel || (!base && !prov_file) || (base && prov_file) || (!base && !key_file))
		return kerr_set(e, VERIFY_USAGE, "verify takes: WHEEL --url BASE [--key PEM] | "
				"WHEEL --provenance FILE --key PEM");
	fname = strrchr(wheel, '/') ? strrchr(wheel, '/') + 1 : wheel;
	if (wheelname_parse(&wn, fname, strlen(fname), e)) {
		rc = kerr_wrap(e, "'%s' is not a wheel's file name", fname);
		goto fail;
	}
	if ((rc = verify__sha256_file(wheel, sha, e)))
		goto fail;

	/* The provenance and the key. */
	if (prov_file) {
		rc = verify__read_file(prov_file, VERIFY_MAX_DOC, &docb, e);
	} else {
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			bl--;
		if (bl >= 7 && !strncmp(base + bl - 7, "/simple", 7))
			bl -= 7;
		pyversion_normalize(&wn.version, &ver);
		buf_printf(&url, "%.*s/integrity/%s/%s/%s/provenance", (int)bl, base, wn.name, ver.ptr, fname);
		rc = verify__fetch(url.ptr, &docb, e);
		if (!rc && !key_file) {
			buf_reset(&url);
			buf_printf(&url, "%.*s/.well-known/kiln-provenance.pub", (int)bl, base);
			rc = verify__fetch(url.ptr, &keyb, e);
			key_from_server = 1;
		}
	}
	if (!rc && key_file)
		rc = verify__read_file(key_file, 64 * 1024, &keyb, e);
	if (rc)
		goto fail;
	if ((rc = dsse_key_from_pem(keyb.ptr, keyb.len, &key, e))) {
		kerr_wrap(e, "the farm's public key");
		goto fail;
	}
	dsse_key_id(key, key_id);

	/* The signature over the statement, then the statement's subject. */
	if ((rc = json_parse_object(docb.ptr, docb.len, &doc, e)) ||
	    (rc = verify__envelope(doc, &s64, &g64, e)))
		goto fail;
	if ((rc = dsse_b64_decode(s64, strlen(s64), &stmt, e)) ||
	    (rc = dsse_b64_decode(g64, strlen(g64), &sig, e))) {
		kerr_wrap(e, "the provenance's envelope");
		goto fail;
	}
	rc = dsse_verify(key, DSSE_INTOTO_TYPE, stmt.ptr, stmt.len, (const unsigned char *)sig.ptr,
			 sig.len, e);
	if (rc) {
		rc = kerr_set(e, KERR_AUTH, "%s: the provenance's signature does not match the farm's key "
			      "%.16s: the statement was altered or another key signed it", fname, key_id);
		goto fail;
	}
	if ((rc = json_parse_object(stmt.ptr, stmt.len, &st, e)) ||
	    (rc = json_get_str_req(st, "_type", &type, e)) ||
	    (rc = json_get_str_req(st, "predicateType", &ptype, e)) ||
	    (rc = json_get_array(st, "subject", &subj, e)) || !subj || !(s0 = cJSON_GetArrayItem(subj, 0)) ||
	    (rc = json_get_str_req(s0, "name", &sname, e)) ||
	    (rc = json_get_object(s0, "digest", &dig, e)) || !dig ||
	    (rc = json_get_str_req(dig, "sha256", &ssha, e))) {
		rc = kerr_set(e, KERR_INVAL, "the signed statement is not an in-toto statement with a "
			      "subject name and sha256");
		goto fail;
	}
	if (strcmp(type, "https://in-toto.io/Statement/v1")) {
		rc = kerr_set(e, KERR_INVAL, "the signed statement is of type '%.100s', not in-toto v1", type);
		goto fail;
	}
	if (strcmp(sname, fname)) {
		rc = kerr_set(e, KERR_AUTH, "the provenance is for '%.200s', not '%s'", sname, fname);
		goto fail;
	}
	if (strcmp(ssha, sha)) {
		rc = kerr_set(e, KERR_AUTH, "%s: sha256 %s, but its signed provenance says %.64s: the file "
			      "is not the one the farm built", fname, sha, ssha);
		goto fail;
	}
	buf_printf(out, "OK %s\n  sha256     %s (matches the signed statement)\n  signed by  key %s%s\n",
		   fname, sha, key_id, key_from_server ? " (fetched from the same server; pin it with --key)" : "");
	pred = cJSON_GetObjectItemCaseSensitive(st, "predicate");
	if (cJSON_IsObject(pred)) {
		const cJSON *def = cJSON_GetObjectItemCaseSensitive(pred, "buildDefinition");
		const cJSON *ext = def ? cJSON_GetObjectItemCaseSensitive(def, "externalParameters") : NULL;
		const cJSON *src = ext ? cJSON_GetObjectItemCaseSensitive(ext, "source") : NULL;
		const cJSON *tgt = ext ? cJSON_GetObjectItemCaseSensitive(ext, "target") : NULL;
		const cJSON *run = cJSON_GetObjectItemCaseSensitive(pred, "runDetails");
		const cJSON *meta = run ? cJSON_GetObjectItemCaseSensitive(run, "metadata") : NULL;
		const char *a = NULL, *b = NULL, *c = NULL;
		struct kerr ig;

		if (src) {
			json_get_str(src, "url", &a, &ig);
			json_get_str(src, "sha256", &b, &ig);
			json_get_str(src, "commit", &c, &ig);
			buf_printf(out, "  source     %s%s%s\n", a ? a : "?", b || c ? " " : "",
				   b ? b : c ? c : "");
		}
		if (tgt) {
			a = b = NULL;
			json_get_str(tgt, "name", &a, &ig);
			json_get_str(tgt, "image", &b, &ig);
			buf_printf(out, "  target     %s (image %s)\n", a ? a : "?", b ? b : "?");
		}
		if (meta) {
			a = b = NULL;
			json_get_str(meta, "startedOn", &a, &ig);
			json_get_str(meta, "finishedOn", &b, &ig);
			buf_printf(out, "  built      %s .. %s\n", a ? a : "?", b ? b : "?");
		}
	}
fail:
	cJSON_Delete(doc);
	cJSON_Delete(st);
	dsse_key_free(key);
	buf_release(&url);
	buf_release(&docb);
	buf_release(&keyb);
	buf_release(&ver);
	buf_release(&stmt);
	buf_release(&sig);
	return rc;
}
