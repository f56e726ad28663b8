/*
 * contents: which Debian package ships a file, from the suite's Contents index.
 *
 * scripts/image.sh fetches the suite's main/Contents-<arch>.gz and Contents-all.gz
 * when it builds the image, keeps only what lookups need (headers under
 * usr/include, pkgconfig/NAME.pc files, lib*.so* and lib*.a under lib dirs, programs
 * directly in bin and sbin dirs) and stores it in the image as
 * /opt/kiln/contents/<suite>-<arch>.tsv.gz: "path<TAB>pkg[,pkg...]" lines, '#'
 * lines are comments. The builder copies it out of the image (a container that is
 * created, never started, and removed) the first time it needs it and caches it,
 * decompressed, under the data dir keyed by the image id: lookups need no network.
 *
 * When several packages ship the file, the choice is deterministic; lower wins:
 *   1. for build files (header, pkg-config, library, program) a package whose
 *      name does not end in "-dev"; for a soname, a "-dev" or "-dbg" package;
 *   1b. a package not named by a "#prefer PKG" line at the top of the index
 *      (builder/image/contents-prefer.txt: libcurl4-openssl-dev, libkrb5-dev, ...);
 *   2. a path outside the standard place (usr/include[/<triplet>]/NAME;
 *      <lib dir>/pkgconfig or usr/share/pkgconfig; usr/lib, lib and their
 *      <triplet> dirs; usr/bin, bin, usr/sbin, sbin);
 *   3. a deeper path; 4. a longer package name; 5. the package name in byte order.
 * So pg_config is libpq-dev (not postgresql-common), yaml.h is libyaml-dev (not
 * libyaml-cpp-dev's yaml-cpp/yaml.h).
 */
#ifndef KILN_BUILDER_CONTENTS_H
#define KILN_BUILDER_CONTENTS_H

#include <stddef.h>

struct docker;
struct kerr;

#define CONTENTS_PACKAGE_MAX 65
#define CONTENTS_IMAGE_DIR "/opt/kiln/contents"

enum contents_kind {
	CONTENTS_HEADER = 0,  /* "yaml.h", "postgresql/libpq-fe.h": a path suffix under usr/include */
	CONTENTS_PKGCONFIG,   /* "yaml-0.1": yaml-0.1.pc */
	CONTENTS_LIBRARY,     /* "-lyaml" or "yaml": libyaml.so, else libyaml.a */
	CONTENTS_PROGRAM,     /* "pg_config" */
	CONTENTS_SONAME,      /* "libyaml-0.so.2": the runtime library */
};

struct contents_query {
	enum contents_kind kind;
	const char *name;                   /* borrowed */
	char package[CONTENTS_PACKAGE_MAX]; /* the answer; "" when no package ships it */
	long score_[5];                     /* private: the best candidate's rank */
};

/*
 * Answer n queries in one pass over the (decompressed) index at path. Each
 * q[i].package is set ("" when nothing matches). 0, or KERR_IO / KERR_NOTFOUND
 * with e when the index cannot be read.
 */
int contents_lookup(const char *path, struct contents_query *q, size_t n, struct kerr *e);

/*
 * The host path of image's index, copied out of the image into
 * cache_dir/<image id>.tsv the first time (cache_dir is created). owner (may be
 * NULL) labels the short-lived container (org.kiln.builder), so sandbox_reap
 * finds it after a crash. 0 with path set; KERR_NOTFOUND when the image carries
 * no index (built before it existed); other KERR_* when Docker or the disk failed.
 * Each call marks the cached file as used; when a new one is stored, cached
 * indexes of other images not used for 14 days are deleted.
 * Safe to call from several threads (a temporary file is renamed into place).
 */
int contents_fetch(struct docker *d, const char *image, const char *cache_dir, const char *owner,
		   char *path, size_t pathlen, struct kerr *e);

#endif
