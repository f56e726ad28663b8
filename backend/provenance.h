/*
 * provenance: signed build provenance for every published wheel (issue 17,
 * part 3; docs/builds.md, "Provenance").
 *
 * For each published wheel the backend writes an in-toto Statement v1 whose
 * predicate is SLSA Provenance v1: the wheel (subject), the source (sdist URL
 * and sha256, or git URL and commit), the target, the builder, start and end
 * times. What the backend checked itself (the upload's sha256 and size, its
 * METADATA's hash, that the uploader held the job's lease) and what the builder
 * only reported (exit code, duration, auditwheel policy, runtime packages,
 * the image id, the container's command and environment, the build
 * requirements' files) go into two separate byproducts, so a reader knows
 * which claims rest on whom. The image digests and the build-requirement
 * files also appear in resolvedDependencies, each annotated
 * "kiln:reported-by": "builder".
 *
 * The statement is signed with the farm's Ed25519 key (KILN_PROVENANCE_KEY)
 * as a DSSE envelope (common/dsse.h) and stored once (table provenance). It is
 * served the PEP 740 way: GET /integrity/{project}/{version}/{filename}/provenance
 * answers a provenance object (application/vnd.pypi.integrity.v1+json), and
 * the index links it per file. The public key is at GET
 * /.well-known/kiln-provenance.pub. Builders never see the key.
 */
#ifndef KILN_PROVENANCE_H
#define KILN_PROVENANCE_H

#include "backend/http.h"
#include "common/buf.h"
#include "common/kerr.h"

struct server;

#define PROVENANCE_MEDIA_TYPE "application/vnd.pypi.integrity.v1+json"
#define PROVENANCE_KEY_PATH "/.well-known/kiln-provenance.pub"
/* Documented in docs/builds.md ("Provenance"); a URN, since no page of ours has a fixed address. */
#define PROVENANCE_BUILD_TYPE "urn:kiln:build-type:wheel:v1"

/* What a statement says, as text (numbers too); "" where unknown. */
struct provenance_facts {
	const char *filename, *sha256, *size, *metadata_sha256;
	const char *project, *version;
	const char *sdist_url, *sdist_sha256, *sdist_filename; /* "" when built from git */
	const char *git_url, *git_commit;                       /* "" when built from an sdist */
	const char *target, *image, *arch, *python, *python_tag, *platform, *suite, *glibc;
	const char *builder, *builder_version;
	const char *job, *build, *attempt;
	const char *native_packages;   /* JSON array text */
	const char *started_on, *finished_on, *published_on; /* RFC 3339 UTC */
	const char *exit_code, *duration_ms, *policy;
	const char *runtime_packages;  /* JSON array text */
	/* How the build ran, as the builder reported it (docs/protocol.md, finish): */
	const char *image_id, *image_base; /* "sha256:<hex>"; base: a derived image's target image */
	const char *image_name;        /* the reference the builder ran */
	const char *command;           /* JSON array text, or "" */
	const char *environment;       /* JSON array text, or "" */
	const char *build_requirements; /* JSON array text of {filename, sha256}, or "" */
	const char *farm;              /* runDetails.builder.id: KILN_PUBLIC_URL, or NULL/"" for
					  "urn:kiln:farm" */
};

/*
 * Append the in-toto statement of f to out (compact JSON, keys in a fixed
 * order, so the same facts give the same bytes). 0 or KERR_INTERNAL.
 */
int provenance_statement(const struct provenance_facts *f, struct buf *out);

/*
 * Append the PEP 740 provenance object for one signed statement: one bundle
 * (publisher kind "kiln", the key id) with one attestation whose envelope is
 * {statement, signature} in base64, plus the same as a standard DSSE envelope.
 */
int provenance_document(const char *key_id, const void *statement, size_t n,
			const unsigned char sig[64], struct buf *out);

/*
 * Load KILN_PROVENANCE_KEY into srv->provenance. Unset: provenance stays off
 * (logged), 0. Set but unreadable, not a private Ed25519 key, or readable by
 * group or others: an error, so a farm never runs unsigned by mistake.
 */
int provenance_init(struct server *srv, struct kerr *e);
void provenance_release(struct server *srv);

/* Is provenance on (a key loaded)? */
int provenance_enabled(const struct server *srv);

/*
 * Sign and store the statements of build_id's published wheels that have none
 * yet. Fire and forget: a failure is logged, and the first request for the
 * provenance signs it then.
 */
void provenance_publish(struct server *srv, const char *build_id);

/* GET /integrity/{project}/{version}/{filename}/provenance */
void provenance_handle_get(struct http_req *req);
/* GET /.well-known/kiln-provenance.pub: the public key, PEM. */
void provenance_handle_key(struct http_req *req);

#endif
