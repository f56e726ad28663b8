/* provenance: signed in-toto statements for published wheels (contract in provenance.h). */
#include "backend/provenance.h"

#include "backend/api.h"
#include "backend/pgpool.h"
#include "backend/server.h"
#include "common/config.h"
#include "common/dsse.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pyname.h"
#include "common/sha256.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef KILN_VERSION
#define KILN_VERSION "0.1.0"
#endif

struct provenance {
	const char *farm; /* KILN_PUBLIC_URL: who vouches, as users reach it (config-owned) */
	struct dsse_key *key;
	char key_id[SHA256_HEX_LEN + 1];
	struct buf public_pem;
};

/*
 * The facts of published artifacts, selected by filename ($1) or by build
 * ($2), with their stored signature if any. The source is the one the job was
 * given (jobs.c claims the release's first live sdist, or its git commit).
 */
static const char provenance__sql_facts[] =
	"select a.id, a.filename, a.sha256, a.size::text, a.metadata_sha256, p.normalized, r.version,"
	" coalesce(f.url, ''), coalesce(f.sha256, ''), coalesce(f.filename, ''),"
	" coalesce(gs.url, ''), coalesce(r.git_commit, ''),"
	" coalesce(t.name, ''), coalesce(t.image, ''), coalesce(t.arch, ''),"
	" coalesce(t.python_version, ''), coalesce(t.python_tag, ''), coalesce(t.platform, ''),"
	" coalesce(t.suite, ''), coalesce(t.glibc, ''),"
	" coalesce(bd.name, ''), coalesce(bd.version, ''),"
	" coalesce(a.job_id::text, ''), coalesce(b.id::text, ''), coalesce(b.attempt::text, ''),"
	" coalesce(array_to_json(b.native_packages)::text, '[]'),"
	" coalesce(" API_TS("b.started_at") ", " API_TS("a.created_at") "),"
	" coalesce(" API_TS("b.finished_at") ", " API_TS("a.published_at") "),"
	" " API_TS("a.published_at") ","
	" coalesce(b.exit_code::text, ''), coalesce(b.duration_ms::text, ''), coalesce(a.policy, ''),"
	" array_to_json(a.runtime_packages)::text,"
	/* 33..35: the stored envelope */
	" coalesce(pv.key_id, ''), coalesce(encode(pv.statement, 'hex'), ''),"
	" coalesce(encode(pv.signature, 'hex'), ''), r.version_normalized,"
	/* 37..42: how the build ran, as its builder reported it (migration 0017) */
	" coalesce(b.image_id, ''), coalesce(b.image_base, ''), coalesce(b.image_name, ''),"
	" coalesce(b.command::text, ''), coalesce(b.build_environment::text, ''),"
	" coalesce(b.build_requirements::text, '')"
	" from artifacts a join projects p on p.id = a.project_id"
	" join releases r on r.id = a.release_id"
	" left join jobs j on j.id = a.job_id left join targets t on t.id = j.target_id"
	" left join builds b on b.id = a.build_id left join builders bd on bd.id = b.builder_id"
	" left join git_sources gs on gs.id = r.git_source_id"
	" left join lateral (select uf.url, uf.sha256, uf.filename from upstream_files uf"
	"  where uf.release_id = r.id and uf.kind = 'sdist' and uf.deleted_at is null"
	"  order by uf.id limit 1) f on r.git_commit is null"
	" left join provenance pv on pv.artifact_id = a.id"
	" where a.published_at is not null and p.deleted_at is null and r.deleted_at is null"
	" and (a.filename = $1 or a.build_id = $2::bigint)";

enum {
	PV_COL_ID = 0,
	PV_COL_KEY_ID = 33,
	PV_COL_STATEMENT = 34,
	PV_COL_SIGNATURE = 35,
	PV_COL_VERSION_NORMALIZED = 36,
	PV_COL_IMAGE_ID = 37,
};

static const char provenance__sql_insert[] =
	"insert into provenance (artifact_id, key_id, statement, signature)"
	" values ($1::bigint, $2, decode($3, 'hex'), decode($4, 'hex'))"
	" on conflict (artifact_id) do nothing returning artifact_id";

static void provenance__facts_from_row(const PGresult *r, int i, struct provenance_facts *f)
{
	const char **slots[] = {
		&f->filename, &f->sha256, &f->size, &f->metadata_sha256, &f->project, &f->version,
		&f->sdist_url, &f->sdist_sha256, &f->sdist_filename, &f->git_url, &f->git_commit,
		&f->target, &f->image, &f->arch, &f->python, &f->python_tag, &f->platform,
		&f->suite, &f->glibc, &f->builder, &f->builder_version, &f->job, &f->build,
		&f->attempt, &f->native_packages, &f->started_on, &f->finished_on,
		&f->published_on, &f->exit_code, &f->duration_ms, &f->policy, &f->runtime_packages,
	};

	const char **reported[] = {
		&f->image_id, &f->image_base, &f->image_name, &f->command, &f->environment,
		&f->build_requirements,
	};

	for (size_t k = 0; k < sizeof(slots) / sizeof(slots[0]); k++)
		*slots[k] = PQgetvalue(r, i, (int)k + 1);
	for (size_t k = 0; k < sizeof(reported) / sizeof(reported[0]); k++)
		*reported[k] = PQgetvalue(r, i, PV_COL_IMAGE_ID + (int)k);
}

/* Add key: s as a string, or nothing when s is "" (unknown facts are left out, not faked). */
static void provenance__str(cJSON *o, const char *key, const char *s)
{
	if (s && *s)
		cJSON_AddStringToObject(o, key, s);
}

/* Add key: the integer in s, or nothing when s is "". */
static void provenance__int(cJSON *o, const char *key, const char *s)
{
	if (s && *s)
		cJSON_AddNumberToObject(o, key, (double)strtoll(s, NULL, 10));
}

/* Add key: the JSON array text s (or [] when it does not parse). */
static void provenance__array(cJSON *o, const char *key, const char *s)
{
	cJSON *a = s ? cJSON_Parse(s) : NULL;

	if (!cJSON_IsArray(a)) {
		cJSON_Delete(a);
		a = cJSON_CreateArray();
	}
	cJSON_AddItemToObject(o, key, a);
}

/*
 * The annotation of what rests on the builder's word alone inside
 * resolvedDependencies, where the backend's own facts (the source) also are.
 */
static void provenance__reported(cJSON *x)
{
	cJSON *a = cJSON_AddObjectToObject(x, "annotations");
	cJSON_AddStringToObject(a, "kiln:reported-by", "builder");
}

/* Add "digest": {"sha256": hex} for an image id "sha256:<hex>" (nothing when unknown). */
static void provenance__image_digest(cJSON *x, const char *id)
{
	cJSON *d;

	if (!id || strncmp(id, "sha256:", 7) || !id[7])
		return;
	d = cJSON_AddObjectToObject(x, "digest");
	cJSON_AddStringToObject(d, "sha256", id + 7);
	provenance__reported(x);
}

/* One resolvedDependencies entry per build-requirement file in the JSON array text s. */
static void provenance__requirements(cJSON *deps, const char *s)
{
	cJSON *a = *s ? cJSON_Parse(s) : NULL;
	const cJSON *it;

	cJSON_ArrayForEach(it, a) {
		const char *fn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "filename"));
		const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "sha256"));
		cJSON *x, *d;

		if (!fn || !sha)
			continue;
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", fn);
		d = cJSON_AddObjectToObject(x, "digest");
		cJSON_AddStringToObject(d, "sha256", sha);
		provenance__reported(x);
		cJSON_AddItemToArray(deps, x);
	}
	cJSON_Delete(a);
}

int provenance_statement(const struct provenance_facts *f, struct buf *out)
{
	cJSON *st = cJSON_CreateObject(), *subj, *d, *pred, *def, *ext, *src, *tgt, *inte, *deps;
	cJSON *run, *bld, *ver, *meta, *by, *verified, *reported, *x;
	int rc;

	cJSON_AddStringToObject(st, "_type", "https://in-toto.io/Statement/v1");
	subj = cJSON_AddArrayToObject(st, "subject");
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "name", f->filename);
	d = cJSON_AddObjectToObject(x, "digest");
	cJSON_AddStringToObject(d, "sha256", f->sha256);
	cJSON_AddItemToArray(subj, x);
	cJSON_AddStringToObject(st, "predicateType", "https://slsa.dev/provenance/v1");
	pred = cJSON_AddObjectToObject(st, "predicate");

	def = cJSON_AddObjectToObject(pred, "buildDefinition");
	cJSON_AddStringToObject(def, "buildType", PROVENANCE_BUILD_TYPE);
	ext = cJSON_AddObjectToObject(def, "externalParameters");
	cJSON_AddStringToObject(ext, "project", f->project);
	cJSON_AddStringToObject(ext, "version", f->version);
	src = cJSON_AddObjectToObject(ext, "source");
	if (*f->git_commit) {
		cJSON_AddStringToObject(src, "kind", "git");
		provenance__str(src, "url", f->git_url);
		cJSON_AddStringToObject(src, "commit", f->git_commit);
	} else {
		cJSON_AddStringToObject(src, "kind", "sdist");
		provenance__str(src, "url", f->sdist_url);
		provenance__str(src, "filename", f->sdist_filename);
		provenance__str(src, "sha256", f->sdist_sha256);
	}
	tgt = cJSON_AddObjectToObject(ext, "target");
	provenance__str(tgt, "name", f->target);
	provenance__str(tgt, "image", f->image);
	provenance__str(tgt, "arch", f->arch);
	provenance__str(tgt, "python", f->python);
	provenance__str(tgt, "python_tag", f->python_tag);
	provenance__str(tgt, "platform", f->platform);
	provenance__str(tgt, "suite", f->suite);
	provenance__str(tgt, "glibc", f->glibc);
	inte = cJSON_AddObjectToObject(def, "internalParameters");
	provenance__int(inte, "job", f->job);
	provenance__int(inte, "build", f->build);
	provenance__int(inte, "attempt", f->attempt);
	provenance__array(inte, "native_packages", f->native_packages);
	deps = cJSON_AddArrayToObject(def, "resolvedDependencies");
	x = cJSON_CreateObject();
	if (*f->git_commit) {
		cJSON_AddStringToObject(x, "name", "source");
		if (*f->git_url) {
			struct buf uri = BUF_INIT(BUF_NOLIMIT);
			buf_printf(&uri, "git+%s@%s", f->git_url, f->git_commit);
			cJSON_AddStringToObject(x, "uri", uri.ptr);
			buf_release(&uri);
		}
		d = cJSON_AddObjectToObject(x, "digest");
		cJSON_AddStringToObject(d, "gitCommit", f->git_commit);
	} else {
		provenance__str(x, "name", *f->sdist_filename ? f->sdist_filename : "source");
		provenance__str(x, "uri", f->sdist_url);
		if (*f->sdist_sha256) {
			d = cJSON_AddObjectToObject(x, "digest");
			cJSON_AddStringToObject(d, "sha256", f->sdist_sha256);
		}
	}
	cJSON_AddItemToArray(deps, x);
	if (*f->image) {
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", "build-image");
		cJSON_AddStringToObject(x, "uri", f->image);
		/* The target image's id: the base of a derived image, else the image itself. */
		provenance__image_digest(x, *f->image_base ? f->image_base : f->image_id);
		cJSON_AddItemToArray(deps, x);
	}
	if (*f->image_base && *f->image_id) {
		/* The target image plus the project's Debian packages (builder/derived.h). */
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", "derived-image");
		if (*f->image_name) {
			struct buf uri = BUF_INIT(BUF_NOLIMIT);
			buf_printf(&uri, "docker-image:%s", f->image_name);
			cJSON_AddStringToObject(x, "uri", uri.ptr);
			buf_release(&uri);
		}
		provenance__image_digest(x, f->image_id);
		cJSON_AddItemToArray(deps, x);
	}
	provenance__requirements(deps, f->build_requirements);

	run = cJSON_AddObjectToObject(pred, "runDetails");
	bld = cJSON_AddObjectToObject(run, "builder");
	/* The trusted platform is the farm that signs, not the machine that compiled. */
	cJSON_AddStringToObject(bld, "id", f->farm && *f->farm ? f->farm : "urn:kiln:farm");
	ver = cJSON_AddObjectToObject(bld, "version");
	cJSON_AddStringToObject(ver, "kiln-backend", KILN_VERSION);
	provenance__str(ver, "kiln-builder", f->builder_version);
	meta = cJSON_AddObjectToObject(run, "metadata");
	if (*f->build) {
		struct buf inv = BUF_INIT(BUF_NOLIMIT);
		buf_printf(&inv, "build/%s", f->build);
		cJSON_AddStringToObject(meta, "invocationId", inv.ptr);
		buf_release(&inv);
	}
	provenance__str(meta, "startedOn", f->started_on);
	provenance__str(meta, "finishedOn", f->finished_on);

	by = cJSON_AddArrayToObject(run, "byproducts");
	verified = cJSON_CreateObject();
	cJSON_AddStringToObject(verified, "name", "kiln:verified-by-backend");
	x = cJSON_AddObjectToObject(verified, "annotations");
	cJSON_AddStringToObject(x, "sha256", f->sha256);
	provenance__int(x, "size", f->size);
	provenance__str(x, "metadata_sha256", f->metadata_sha256);
	provenance__str(x, "uploaded_by_lease_holder", f->builder);
	cJSON_AddBoolToObject(x, "tags_fit_target", 1);
	provenance__str(x, "published_on", f->published_on);
	cJSON_AddItemToArray(by, verified);
	reported = cJSON_CreateObject();
	cJSON_AddStringToObject(reported, "name", "kiln:reported-by-builder");
	x = cJSON_AddObjectToObject(reported, "annotations");
	provenance__str(x, "builder", f->builder);
	provenance__str(x, "builder_version", f->builder_version);
	provenance__int(x, "exit_code", f->exit_code);
	provenance__int(x, "duration_ms", f->duration_ms);
	provenance__str(x, "policy", f->policy);
	provenance__array(x, "runtime_packages", f->runtime_packages);
	if (*f->image_id) {
		cJSON *img = cJSON_AddObjectToObject(x, "image");
		cJSON_AddStringToObject(img, "id", f->image_id);
		provenance__str(img, "base", f->image_base);
		provenance__str(img, "name", f->image_name);
	}
	if (*f->command)
		provenance__array(x, "command", f->command);
	if (*f->environment)
		provenance__array(x, "environment", f->environment);
	if (*f->build_requirements)
		provenance__array(x, "build_requirements", f->build_requirements);
	cJSON_AddItemToArray(by, reported);

	rc = json_print(st, out);
	cJSON_Delete(st);
	return rc ? KERR_INTERNAL : 0;
}

int provenance_document(const char *key_id, const void *statement, size_t n,
			const unsigned char sig[64], struct buf *out)
{
	int rc = 0;

	rc |= buf_puts(out, "{\"version\":1,\"attestation_bundles\":[{\"publisher\":{\"kind\":\"kiln\","
			    "\"claims\":{\"key_id\":\"");
	rc |= buf_puts(out, key_id);
	rc |= buf_puts(out, "\",\"public_key\":\"" PROVENANCE_KEY_PATH "\"}},\"attestations\":[{"
			    "\"version\":1,\"verification_material\":{\"key_id\":\"");
	rc |= buf_puts(out, key_id);
	rc |= buf_puts(out, "\",\"transparency_entries\":[]},\"envelope\":{\"statement\":\"");
	rc |= dsse_b64_encode(statement, n, out);
	rc |= buf_puts(out, "\",\"signature\":\"");
	rc |= dsse_b64_encode(sig, 64, out);
	/* The same envelope in DSSE's own JSON form, for in-toto tools. */
	rc |= buf_puts(out, "\"},\"dsse_envelope\":{\"payloadType\":\"" DSSE_INTOTO_TYPE "\",\"payload\":\"");
	rc |= dsse_b64_encode(statement, n, out);
	rc |= buf_puts(out, "\",\"signatures\":[{\"keyid\":\"");
	rc |= buf_puts(out, key_id);
	rc |= buf_puts(out, "\",\"sig\":\"");
	rc |= dsse_b64_encode(sig, 64, out);
	rc |= buf_puts(out, "\"}]}}]}]}");
	return rc ? KERR_TOOBIG : 0;
}

int provenance_init(struct server *srv, struct kerr *e)
{
	const char *path = config_get(srv->cfg, CONFIG_PROVENANCE_KEY);
	struct provenance *p;
	struct stat sb;
	int rc;

	srv->provenance = NULL;
	if (!*path) {
		log_info("provenance off", "reason=%s", "KILN_PROVENANCE_KEY is unset");
		return 0;
	}
	if (stat(path, &sb))
		return kerr_set(e, KERR_IO, "KILN_PROVENANCE_KEY: could not open '%s': %s", path,
				strerror(errno));
	if (sb.st_mode & 077)
		return kerr_set(e, KERR_INVAL, "KILN_PROVENANCE_KEY: '%s' is readable by others "
				"(mode %03o); chmod 600 it", path, (unsigned)(sb.st_mode & 0777));
	p = xcalloc(1, sizeof(*p));
	p->farm = config_get(srv->cfg, CONFIG_PUBLIC_URL);
	buf_init(&p->public_pem, BUF_NOLIMIT);
	rc = dsse_key_load(path, &p->key, e);
	if (!rc && !dsse_key_is_private(p->key))
		rc = kerr_set(e, KERR_INVAL, "'%s' holds a public key; the backend needs the private one",
			      path);
	if (!rc && (dsse_key_id(p->key, p->key_id) || dsse_key_public_pem(p->key, &p->public_pem)))
		rc = kerr_set(e, KERR_INTERNAL, "could not read the public half of '%s'", path);
	if (rc) {
		kerr_wrap(e, "KILN_PROVENANCE_KEY");
		dsse_key_free(p->key);
		buf_release(&p->public_pem);
		free(p);
		return rc;
	}
	srv->provenance = p;
	log_info("provenance on", "key_id=%s", p->key_id);
	return 0;
}

void provenance_release(struct server *srv)
{
	struct provenance *p = srv->provenance;

	if (!p)
		return;
	dsse_key_free(p->key);
	buf_release(&p->public_pem);
	free(p);
	srv->provenance = NULL;
}

int provenance_enabled(const struct server *srv)
{
	return srv->provenance != NULL;
}

/* Sign row i's statement into st/sig. 0 or a KERR code (logged by the caller). */
static int provenance__sign_row(struct provenance *p, const PGresult *r, int i, struct buf *st,
				unsigned char sig[64], struct kerr *e)
{
	struct provenance_facts f;

	provenance__facts_from_row(r, i, &f);
	f.farm = p->farm;
	if (provenance_statement(&f, st))
		return kerr_set(e, KERR_INTERNAL, "could not write the statement");
	return dsse_sign(p->key, DSSE_INTOTO_TYPE, st->ptr, st->len, sig, e);
}

static void provenance__hex(const void *p, size_t n, struct buf *out)
{
	buf_grow(out, 2 * n + 1);
	hex_encode(p, n, out->ptr + out->len);
	out->len += 2 * n;
}

static int provenance__unhex(const char *h, struct buf *out)
{
	size_t n = strlen(h);

	if (n % 2)
		return KERR_INVAL;
	for (size_t i = 0; i < n; i += 2) {
		unsigned v;
		if (sscanf(h + i, "%2x", &v) != 1)
			return KERR_INVAL;
		buf_putc(out, (char)v);
	}
	return 0;
}

/* ---- publish: sign at once ---- */

static void provenance__stored(void *ctx, PGresult *r, const char *err)
{
	(void)ctx;
	(void)r;
	if (err)
		log_warn("provenance not stored", "err=%s", err);
}

static void provenance__publish_facts(void *ctx, PGresult *r, const char *err)
{
	struct server *srv = ctx;
	struct provenance *p = srv->provenance;

	if (err || !p) {
		if (err)
			log_warn("provenance not written", "err=%s", err);
		return;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct buf st = BUF_INIT(BUF_NOLIMIT), sth = BUF_INIT(BUF_NOLIMIT),
			   sigh = BUF_INIT(BUF_NOLIMIT);
		unsigned char sig[64];
		struct kerr e;
		const char *params[4];

		if (*PQgetvalue(r, i, PV_COL_STATEMENT))
			continue; /* signed already */
		if (provenance__sign_row(p, r, i, &st, sig, &e)) {
			log_warn("provenance not signed", "file=%s err=%s", PQgetvalue(r, i, 1), e.msg);
		} else {
			provenance__hex(st.ptr, st.len, &sth);
			provenance__hex(sig, 64, &sigh);
			params[0] = PQgetvalue(r, i, PV_COL_ID);
			params[1] = p->key_id;
			params[2] = sth.ptr;
			params[3] = sigh.ptr;
			if (!pgpool_query(srv->db, provenance__sql_insert, 4, params, provenance__stored, NULL))
				log_warn("provenance not stored", "file=%s err=%s", PQgetvalue(r, i, 1),
					 "database busy");
			else
				log_info("provenance signed", "file=%s key_id=%.16s", PQgetvalue(r, i, 1),
					 p->key_id);
		}
		buf_release(&st);
		buf_release(&sth);
		buf_release(&sigh);
	}
}

void provenance_publish(struct server *srv, const char *build_id)
{
	const char *params[2] = { "", build_id };

	if (!srv->provenance)
		return;
	if (!pgpool_query(srv->db, provenance__sql_facts, 2, params, provenance__publish_facts, srv))
		log_warn("provenance not written", "build=%s err=%s", build_id, "database busy");
}

/* ---- GET /integrity/{project}/{version}/{filename}/provenance ---- */

struct provenance_get {
	struct api_call base;
	struct buf doc;   /* the answer once signed, while it is being stored */
};

static void provenance__get_release(struct api_call *c)
{
	buf_release(&((struct provenance_get *)c)->doc);
}

static void provenance__respond(struct http_req *req, struct buf *doc)
{
	http_respond(req, 200, PROVENANCE_MEDIA_TYPE,
		     "Cache-Control: max-age=300, public\r\nAccess-Control-Allow-Origin: *\r\n",
		     doc->ptr, doc->len);
}

static void provenance__get_stored(struct http_req *req, PGresult *r)
{
	struct provenance_get *g = req->state;

	if (PQntuples(r) != 1) {
		/* Another backend stored its signature first: ask for it again. */
		http_error(req, 503, KERR_AGAIN, "provenance is being written; retry");
		return;
	}
	provenance__respond(req, &g->doc);
}

static void provenance__get_facts(struct http_req *req, PGresult *r)
{
	struct server *srv = req->srv;
	struct provenance *p = srv->provenance;
	struct provenance_get *g = req->state; /* made in provenance_handle_get */
	struct buf st = BUF_INIT(BUF_NOLIMIT), sig = BUF_INIT(BUF_NOLIMIT);
	struct buf sth = BUF_INIT(BUF_NOLIMIT), sigh = BUF_INIT(BUF_NOLIMIT);
	unsigned char sigb[64];
	struct kerr e;
	const char *params[4];

	/* The version as the index links it, or as a wheel's filename spells it (normalized). */
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 5), req->params[0]) ||
	    (strcmp(PQgetvalue(r, 0, 6), req->params[1]) &&
	     strcmp(PQgetvalue(r, 0, PV_COL_VERSION_NORMALIZED), req->params[1]))) {
		http_error(req, 404, KERR_NOTFOUND, "no published file %.200s of %.200s %.100s",
			   req->params[2], req->params[0], req->params[1]);
		goto done;
	}
	if (*PQgetvalue(r, 0, PV_COL_STATEMENT)) {
		if (provenance__unhex(PQgetvalue(r, 0, PV_COL_STATEMENT), &st) ||
		    provenance__unhex(PQgetvalue(r, 0, PV_COL_SIGNATURE), &sig) || sig.len != 64 ||
		    provenance_document(PQgetvalue(r, 0, PV_COL_KEY_ID), st.ptr, st.len,
					(const unsigned char *)sig.ptr, &g->doc)) {
			http_error(req, 500, KERR_INTERNAL, "stored provenance is damaged");
			goto done;
		}
		provenance__respond(req, &g->doc);
		goto done;
	}
	/* Published before the farm had a key, or its signing was lost: sign it now. */
	if (provenance__sign_row(p, r, 0, &st, sigb, &e)) {
		http_error(req, 500, KERR_INTERNAL, "could not sign the provenance: %s", e.msg);
		goto done;
	}
	provenance_document(p->key_id, st.ptr, st.len, sigb, &g->doc);
	provenance__hex(st.ptr, st.len, &sth);
	provenance__hex(sigb, 64, &sigh);
	params[0] = PQgetvalue(r, 0, PV_COL_ID);
	params[1] = p->key_id;
	params[2] = sth.ptr;
	params[3] = sigh.ptr;
	api_query(req, provenance__sql_insert, 4, params, provenance__get_stored);
done:
	buf_release(&st);
	buf_release(&sig);
	buf_release(&sth);
	buf_release(&sigh);
}

void provenance_handle_get(struct http_req *req)
{
	struct buf norm = BUF_INIT(255);
	struct provenance_get *g;
	const char *params[2];

	if (!req->srv->provenance) {
		http_error(req, 404, KERR_NOTFOUND, "this farm signs no provenance (KILN_PROVENANCE_KEY is unset)");
		goto done;
	}
	/* Links name the normalized project: any other spelling is not one of ours. */
	if (pyname_normalize(req->params[0], strlen(req->params[0]), &norm, NULL) ||
	    strcmp(norm.ptr, req->params[0])) {
		http_error(req, 404, KERR_NOTFOUND, "no project '%.200s' (use its normalized name)",
			   req->params[0]);
		goto done;
	}
	/* The state at its full size now: growing it inside a callback would move it under api.c. */
	g = api_call_new(req, sizeof(*g));
	g->base.release = provenance__get_release;
	buf_init(&g->doc, BUF_NOLIMIT);
	params[0] = req->params[2];
	params[1] = NULL;
	api_query(req, provenance__sql_facts, 2, params, provenance__get_facts);
done:
	buf_release(&norm);
}

void provenance_handle_key(struct http_req *req)
{
	struct provenance *p = req->srv->provenance;
	char hdr[160];

	if (!p) {
		http_error(req, 404, KERR_NOTFOUND, "this farm signs no provenance (KILN_PROVENANCE_KEY is unset)");
		return;
	}
	snprintf(hdr, sizeof(hdr), "Cache-Control: max-age=300, public\r\nX-Kiln-Key-Id: %s\r\n", p->key_id);
	http_respond(req, 200, "application/x-pem-file", hdr, p->public_pem.ptr, p->public_pem.len);
}
