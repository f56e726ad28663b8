/*
 * builder_msg: the messages a builder sends on the builder channel, parsed and
 * checked without touching a connection, the database or the clock.
 *
 * builder_ws owns the connection state (authenticated yet? a hello pending?)
 * and what a message does; this module only says whether a message is well
 * formed and hands its fields over. Keeping the two apart lets a fuzz target
 * (tests/fuzz/fuzz_builder_msg.c) drive exactly the checks a hostile builder
 * meets. The rules are docs/protocol.md's "Builder -> backend" section.
 */
#ifndef KILN_BUILDER_MSG_H
#define KILN_BUILDER_MSG_H

#include "common/kerr.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define BUILDER_MSG_MAX_TARGETS 32
#define BUILDER_MSG_MAX_EMULATES 4     /* hello: entries of `emulates` */
#define BUILDER_MSG_MAX_SLOTS 64
#define BUILDER_MSG_MAX_LOG_CHUNK (256 * 1024)
#define BUILDER_MSG_MAX_REASON 4096
#define BUILDER_MSG_MAX_MISSING 8      /* finish: entries of `missing` */
#define BUILDER_MSG_MAX_WHEELS 256     /* finish: entries of `wheels` */
#define BUILDER_MSG_MAX_RUNTIME 32     /* finish: runtime_packages of one wheel */
#define BUILDER_MSG_MAX_ARGS 64        /* finish: entries of `command` */
#define BUILDER_MSG_MAX_ENV 64         /* finish: entries of `environment` */
#define BUILDER_MSG_MAX_ARG 1024       /* finish: bytes of one command or environment entry */
#define BUILDER_MSG_MAX_REQUIREMENTS 512 /* finish: entries of `build_requirements` */

enum builder_msg_type {
	BUILDER_MSG_UNKNOWN = 0, /* a type string this backend does not know */
	BUILDER_MSG_HELLO,
	BUILDER_MSG_PROGRESS,
	BUILDER_MSG_LOG,
	BUILDER_MSG_FINISH,
	BUILDER_MSG_DRAIN,
};

/*
 * One message. The strings borrow from root, which the struct owns: they live
 * until builder_msg_release. Fields not used by the message's type stay zero.
 */
struct builder_msg {
	cJSON *root;
	enum builder_msg_type type;
	const char *type_name;
	long long job;          /* progress, log, finish */
	/*
	 * progress, log, finish: the attempt of the job the message is about, as
	 * the job message gave it; 0 when absent (a builder from before the field:
	 * the message is about the job's current attempt).
	 */
	long long attempt;
	const char *phase;      /* progress: one of the five phases */
	long long seq;          /* log */
	const char *data;       /* log: at most BUILDER_MSG_MAX_LOG_CHUNK bytes */
	const char *status;     /* finish: succeeded, failed or retry */
	const char *reason;     /* finish: "" when absent */
	long long exit_code;    /* finish */
	long long duration_ms;  /* finish */
	/*
	 * finish: the optional failure_class, missing, requirement, wheels,
	 * image, command, environment and build_requirements, checked and
	 * written back as one JSON object {"failure_class": S|null, "missing":
	 * [...], "requirement": S|null (a project name, normalized), "wheels":
	 * [...], "image": {id, base?, name?}|null, "command": [...]|null,
	 * "environment": [...]|null, "build_requirements": [{filename,
	 * sha256}]|null} holding only the fields the protocol defines (absent
	 * ones as null or []), for jobs_finish to store. Owned; never NULL after
	 * a successful check of a finish.
	 */
	char *report;
	/* hello */
	long long protocol;
	const char *token;      /* well formed (token_well_formed), not yet checked */
	const char *name;       /* shorter than 64 bytes */
	const char *version;    /* "" when absent, at most 64 bytes */
	const char *arch;       /* "" when absent, at most 32 bytes */
	/*
	 * The architectures the builder serves, its own (absent: x86_64; amd64
	 * and arm64 read as x86_64 and aarch64) then those it emulates, each
	 * [a-z0-9_]{1,32}, without repeats, as a Postgres array literal:
	 * {x86_64,aarch64}. At most 1 + BUILDER_MSG_MAX_EMULATES.
	 */
	char arches_sql[256];
	int slots;              /* 1 to BUILDER_MSG_MAX_SLOTS */
	const cJSON *targets;   /* array of valid target names */
	char targets_sql[2048]; /* the same as a Postgres array literal: {a,b} */
	long long running[BUILDER_MSG_MAX_SLOTS];
	int nrunning;
};

/*
 * Parse the n bytes at p as a message: a JSON object with a string "type".
 * Fills m->root, m->type and m->type_name only (an unknown type is not an error
 * here, so the caller can first say "hello first" to an unauthenticated peer).
 * 0, or KERR_INVAL with e saying why. Either way m must be released.
 */
int builder_msg_parse(struct builder_msg *m, const char *p, size_t n, struct kerr *e);

/*
 * Check the fields of a parsed message against its type and fill the rest of
 * *m. 0, or a code with e's message meant for the builder:
 *   KERR_INVAL   a field is missing, mistyped or out of range; unknown type; a
 *                finish with an unknown failure_class, more than
 *                BUILDER_MSG_MAX_MISSING missing entries, an entry of an
 *                unknown kind, or a package name that is not a Debian one
 *                (common/debpkg.h); a wheels entry that is malformed; an
 *                image whose id or base is not sha256:<64 hex> or whose name
 *                is not an image reference; a command of 0 or more than
 *                BUILDER_MSG_MAX_ARGS entries, an environment of more than
 *                BUILDER_MSG_MAX_ENV, an entry that is not a string of at
 *                most BUILDER_MSG_MAX_ARG bytes without control characters
 *                (environment: NAME=value); more than
 *                BUILDER_MSG_MAX_REQUIREMENTS build_requirements, one whose
 *                filename is not a plain file name or whose sha256 is not 64
 *                lowercase hex digits
 *   KERR_TOOBIG  a log chunk or reason over its limit
 *   KERR_AUTH    a hello with a malformed token
 *   KERR_PROTO   a hello with a protocol number this backend does not speak
 */
int builder_msg_check(struct builder_msg *m, struct kerr *e);

/* The protocol's error code for a code builder_msg_* returned ("bad_message", ...). */
const char *builder_msg_error_code(int code);

/* Free root (and report) and zero *m. Safe on a zeroed or failed message. */
void builder_msg_release(struct builder_msg *m);

#endif
