/*
 * crates: Rust crates vendored on the host (contract in crates.h). The project's
 * manifests are read by a small Python script (tomllib) and by cargo itself;
 * neither runs anything of the project: `cargo vendor` resolves and copies
 * crates, it compiles nothing and runs no build script.
 */
#include "builder/crates.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/kerr.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRATES__STREAM_NOTE 3
#define CRATES__MAX_ENTRIES 200000
#define CRATES__MAX_MANIFESTS 16
#define CRATES__SCAN_DEPTH 4 /* Cargo.toml this deep below the sdist's top directory */
#define CRATES__ENV_MAX 24

/*
 * argv: ROOT MODE. MODE "find": prints {"manifests": [...], "locked": bool}, the
 * Cargo manifests to vendor (relative to ROOT) and whether each has a Cargo.lock.
 * MODE "locks": checks every Cargo.lock (depth 3) names registry sources only.
 * Exit 3 with a one-line reason on stderr for what Kiln refuses.
 */
static const char crates__script[] =
	"import glob, json, os, re, sys, tomllib\n"
	"root = os.path.realpath(sys.argv[1])\n"
	"mode = sys.argv[2]\n"
	"searched = False\n"
	"def bad(msg):\n"
	"    if searched:\n"
	"        print(json.dumps({'manifests': [], 'locked': False, 'skipped': msg}))\n"
	"        sys.exit(0)\n"
	"    print(msg, file=sys.stderr)\n"
	"    sys.exit(3)\n"
	"def inside(p):\n"
	"    r = os.path.realpath(p)\n"
	"    return r == root or r.startswith(root + os.sep)\n"
	"def rel_ok(rel):\n"
	"    return not os.path.isabs(rel) and rel != '..' and not rel.startswith('../')\n"
	"def read(rel, limit=1 << 20):\n"
	"    p = os.path.join(root, rel)\n"
	"    if os.path.islink(p) or not os.path.isfile(p) or not inside(p):\n"
	"        bad('%s: not a regular file inside the project' % rel)\n"
	"    if os.path.getsize(p) > limit:\n"
	"        bad('%s: larger than %d bytes' % (rel, limit))\n"
	"    with open(p, 'rb') as f:\n"
	"        return f.read()\n"
	"def toml(rel):\n"
	"    try:\n"
	"        return tomllib.loads(read(rel).decode('utf-8'))\n"
	"    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:\n"
	"        bad('%s: %s' % (rel, e))\n"
	"def plain(rel):\n"
	"    p = os.path.join(root, rel)\n"
	"    return os.path.isfile(p) and not os.path.islink(p)\n"
	"if mode == 'locks':\n"
	"    for d, dirs, files in os.walk(root):\n"
	"        dirs[:] = [x for x in dirs if d.count(os.sep) - root.count(os.sep) < 3]\n"
	"        if 'Cargo.lock' in files:\n"
	"            rel = os.path.relpath(os.path.join(d, 'Cargo.lock'), root)\n"
	"            try:\n"
	"                lock = tomllib.loads(read(rel, 16 << 20).decode('utf-8'))\n"
	"            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:\n"
	"                bad('%s: %s' % (rel, e))\n"
	"            for pkg in lock.get('package', []):\n"
	"                src = pkg.get('source', '') if isinstance(pkg, dict) else ''\n"
	"                if isinstance(src, str) and src and not src.startswith(('registry+', 'sparse+')):\n"
	"                    bad('%s: crate %s comes from %s: Kiln fetches crates from the crate registry only'\n"
	"                        % (rel, pkg.get('name'), src.split('#')[0]))\n"
	"    sys.exit(0)\n"
	"cands = []\n"
	"def cand(path, why):\n"
	"    rel = os.path.normpath(path)\n"
	"    if not rel_ok(rel):\n"
	"        bad('%s names %r, outside the project' % (why, path))\n"
	"    if rel not in cands:\n"
	"        cands.append(rel)\n"
	"tool = {}\n"
	"if plain('pyproject.toml'):\n"
	"    tool = toml('pyproject.toml').get('tool') or {}\n"
	"    if not isinstance(tool, dict):\n"
	"        tool = {}\n"
	"mat = tool.get('maturin') or {}\n"
	"if isinstance(mat, dict) and isinstance(mat.get('manifest-path'), str):\n"
	"    cand(mat['manifest-path'], '[tool.maturin] manifest-path')\n"
	"sr = tool.get('setuptools-rust') or {}\n"
	"if isinstance(sr, dict):\n"
	"    for key in ('ext-modules', 'bins'):\n"
	"        for ext in sr.get(key) or []:\n"
	"            if isinstance(ext, dict):\n"
	"                p = ext.get('path', 'Cargo.toml')\n"
	"                if isinstance(p, str):\n"
	"                    cand(p, '[tool.setuptools-rust] ' + key)\n"
	"if plain('setup.py'):\n"
	"    text = read('setup.py').decode('utf-8', 'replace')\n"
	"    if 'Rust' in text:\n"
	"        for m in re.finditer(r'''path\\s*=\\s*['\"]([^'\"\\n]*Cargo\\.toml)['\"]''', text):\n"
	"            cand(m.group(1), 'setup.py')\n"
	"if os.path.lexists(os.path.join(root, 'Cargo.toml')):\n"
	"    cand('Cargo.toml', 'the top directory')\n"
	"if not cands:\n"
	"    searched = True\n"
	"    skip = {'target', 'vendor', 'tests', 'test', 'node_modules', 'docs', 'examples', 'benches'}\n"
	"    for d, dirs, files in os.walk(root):\n"
	"        depth = d.count(os.sep) - root.count(os.sep)\n"
	"        dirs[:] = sorted(x for x in dirs if depth < 2 and x not in skip and not x.startswith('.'))\n"
	"        if 'Cargo.toml' in files and len(cands) < 8:\n"
	"            cand(os.path.relpath(os.path.join(d, 'Cargo.toml'), root), 'the search')\n"
	"for c in cands:\n"
	"    if not os.path.lexists(os.path.join(root, c)):\n"
	"        bad('%s: no such file (named by the project)' % c)\n"
	"seen = set()\n"
	"DEPS = ('dependencies', 'dev-dependencies', 'build-dependencies', 'dev_dependencies', 'build_dependencies')\n"
	"def tables(doc):\n"
	"    for k in DEPS:\n"
	"        yield k, doc.get(k)\n"
	"    tg = doc.get('target')\n"
	"    if isinstance(tg, dict):\n"
	"        for t, v in tg.items():\n"
	"            if isinstance(v, dict):\n"
	"                for k in DEPS:\n"
	"                    yield 'target.%s.%s' % (t, k), v.get(k)\n"
	"    ws = doc.get('workspace')\n"
	"    if isinstance(ws, dict):\n"
	"        yield 'workspace.dependencies', ws.get('dependencies')\n"
	"    pt = doc.get('patch')\n"
	"    if isinstance(pt, dict):\n"
	"        for r, v in pt.items():\n"
	"            yield 'patch.' + r, v\n"
	"    yield 'replace', doc.get('replace')\n"
	"def check(rel):\n"
	"    if rel in seen or len(seen) > 500:\n"
	"        return\n"
	"    seen.add(rel)\n"
	"    doc = toml(rel)\n"
	"    base = os.path.dirname(rel)\n"
	"    for where, t in tables(doc):\n"
	"        if not isinstance(t, dict):\n"
	"            continue\n"
	"        for name, spec in t.items():\n"
	"            if not isinstance(spec, dict):\n"
	"                continue\n"
	"            if 'git' in spec:\n"
	"                bad('%s: [%s] %s comes from git (%s): Kiln fetches crates from the crate registry only'\n"
	"                    % (rel, where, name, spec['git']))\n"
	"            if 'registry' in spec or 'registry-index' in spec:\n"
	"                bad('%s: [%s] %s comes from another registry (%s): Kiln fetches crates from the crate registry only'\n"
	"                    % (rel, where, name, spec.get('registry') or spec.get('registry-index')))\n"
	"            p = spec.get('path')\n"
	"            if isinstance(p, str):\n"
	"                m = os.path.normpath(os.path.join(base, p, 'Cargo.toml'))\n"
	"                if not rel_ok(m) or not inside(os.path.join(root, os.path.dirname(m))):\n"
	"                    bad('%s: [%s] %s has path %r, outside the project' % (rel, where, name, p))\n"
	"                if os.path.lexists(os.path.join(root, m)):\n"
	"                    check(m)\n"
	"    ws = doc.get('workspace')\n"
	"    if isinstance(ws, dict):\n"
	"        for pat in ws.get('members') or []:\n"
	"            if not isinstance(pat, str):\n"
	"                continue\n"
	"            for d in sorted(glob.glob(os.path.join(root, base, pat)))[:200]:\n"
	"                m = os.path.relpath(os.path.join(d, 'Cargo.toml'), root)\n"
	"                if rel_ok(m) and inside(d) and os.path.lexists(os.path.join(root, m)):\n"
	"                    check(m)\n"
	"for c in cands:\n"
	"    check(c)\n"
	"def has_lock(rel):\n"
	"    d = os.path.dirname(rel)\n"
	"    while True:\n"
	"        if plain(os.path.join(d, 'Cargo.lock')):\n"
	"            return True\n"
	"        if not d:\n"
	"            return False\n"
	"        d = os.path.dirname(d)\n"
	"print(json.dumps({'manifests': cands, 'searched': searched,\n"
	"                  'locked': bool(cands) and all(has_lock(c) for c in cands)}))\n";

static void crates__note(const struct crates_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void crates__note(const struct crates_opts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!o->on_log)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	o->on_log(o->log_ctx, CRATES__STREAM_NOTE, line, (size_t)n);
}

/* --- the sdist's files ------------------------------------------------------ */

/* "name-1.0/a/b" -> "a/b" (NULL for the top directory itself or a bad path). */
static const char *crates__strip_top(const char *path)
{
	const char *p;

	if (!strncmp(path, "./", 2))
		path += 2;
	if (!(p = strchr(path, '/')) || p == path)
		return NULL;
	while (*p == '/')
		p++;
	return *p ? p : NULL;
}

/* Does any member of the sdist look like a Cargo manifest (bounded depth)? */
static int crates__sdist_has_manifest(const char *sdist, int *has, struct kerr *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	int r, rc = 0;

	*has = 0;
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	if (archive_read_open_filename(a, sdist, 64 * 1024) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		const char *p, *base;
		int depth = 0;

		if (r < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist,
				      archive_error_string(a));
			goto out;
		}
		if (!(p = archive_entry_pathname(ent)) || !(p = crates__strip_top(p)))
			continue;
		base = strrchr(p, '/');
		for (const char *s = p; *s; s++)
			depth += *s == '/';
		if (!strcmp(base ? base + 1 : p, "Cargo.toml") && depth < CRATES__SCAN_DEPTH) {
			*has = 1;
			break;
		}
	}
out:
	archive_read_free(a);
	return rc;
}

/*
 * The sdist's regular files and directories, below its top directory, into dest
 * (which exists). Symlinks, hard links and special files are left out: what the
 * manifests name must be a plain file of the project.
 */
static int crates__extract(const char *sdist, const char *dest, struct kerr *e)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *ent;
	uint64_t total = 0;
	size_t count = 0;
	char path[4096];
	int r, rc = 0;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	/*
	 * dest is ours and absolute; the member's part has no leading '/' (stripped) and
	 * no ".." (refused here). No symlink is ever written, so none can redirect one.
	 */
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
				       ARCHIVE_EXTRACT_NO_OVERWRITE);
	if (archive_read_open_filename(a, sdist, 64 * 1024) != ARCHIVE_OK) {
		rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		const char *p;
		int type;

		if (r < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist,
				      archive_error_string(a));
			goto out;
		}
		type = archive_entry_filetype(ent);
		if (!(p = archive_entry_pathname(ent)) || !(p = crates__strip_top(p)) ||
		    (type != AE_IFREG && type != AE_IFDIR) || archive_entry_hardlink(ent))
			continue;
		if (++count > CRATES__MAX_ENTRIES) {
			rc = kerr_set(e, KERR_TOOBIG, "the sdist has more than %d members",
				      CRATES__MAX_ENTRIES);
			goto out;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dest, p) >= sizeof(path))
			continue;
		archive_entry_set_pathname(ent, path);
		archive_entry_set_perm(ent, type == AE_IFDIR ? 0755 : 0644);
		if (archive_write_header(w, ent) < ARCHIVE_WARN)
			continue; /* refused by the secure flags (../, a duplicate): leave it out */
		if (type == AE_IFREG) {
			const void *blk;
			size_t len;
			la_int64_t off;

			while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
				/* Counted as it comes: a zip member's size may be unknown up front. */
				if ((total += len) > CRATES_EXTRACT_MAX) {
					rc = kerr_set(e, KERR_TOOBIG,
						      "the sdist unpacks to more than %llu bytes",
						      (unsigned long long)CRATES_EXTRACT_MAX);
					goto out;
				}
				if (archive_write_data_block(w, blk, len, off) < ARCHIVE_WARN) {
					rc = kerr_set(e, KERR_IO, "could not unpack '%s': %s", sdist,
						      archive_error_string(w));
					goto out;
				}
			}
			if (r != ARCHIVE_EOF) {
				rc = kerr_set(e, KERR_INVAL, "could not read '%s': %s", sdist,
					      archive_error_string(a));
				goto out;
			}
		}
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			rc = kerr_set(e, KERR_IO, "could not unpack '%s': %s", sdist,
				      archive_error_string(w));
			goto out;
		}
	}
out:
	archive_read_free(a);
	archive_write_free(w);
	return rc;
}

/* --- the host's tools ------------------------------------------------------- */

/* Is name an executable in our PATH (or, with a slash, itself)? */
static int crates__have(const char *name)
{
	const char *path = getenv("PATH"), *p, *q;
	char full[4096];

	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	for (p = path && *path ? path : "/usr/bin:/bin"; p; p = q ? q + 1 : NULL) {
		size_t n;

		q = strchr(p, ':');
		n = q ? (size_t)(q - p) : strlen(p);
		if ((size_t)snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? p : ".", name) <
		    sizeof(full) && access(full, X_OK) == 0)
			return 1;
	}
	return 0;
}

struct crates__env {
	char *v[CRATES__ENV_MAX + 1];
	size_t n;
};

static void crates__env_add(struct crates__env *env, const char *name, const char *value)
{
	struct buf b = BUF_INIT(BUF_NOLIMIT);

	if (!value || env->n >= CRATES__ENV_MAX)
		return;
	buf_printf(&b, "%s=%s", name, value);
	env->v[env->n++] = buf_detach(&b, NULL);
}

static void crates__env_release(struct crates__env *env)
{
	for (size_t i = 0; i < env->n; i++)
		free(env->v[i]);
	memset(env, 0, sizeof(*env));
}

/*
 * The subprocesses' whole environment: none of ours but the PATH, HOME (a rustup
 * proxy finds its toolchains there), the proxy and CA settings the host needs
 * to reach the registry, and cargo's own settings.
 */
static void crates__env_init(struct crates__env *env, const struct crates_opts *o)
{
	static const char *const keep[] = { "PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "http_proxy", "https_proxy", "HTTP_PROXY",
		"HTTPS_PROXY", "no_proxy", "NO_PROXY", NULL };

	memset(env, 0, sizeof(*env));
	for (const char *const *k = keep; *k; k++)
		crates__env_add(env, *k, getenv(*k));
	crates__env_add(env, "LANG", "C.UTF-8");
	crates__env_add(env, "CARGO_HOME", o->cargo_home);
	crates__env_add(env, "CARGO_TERM_COLOR", "never");
	crates__env_add(env, "CARGO_TERM_PROGRESS_WHEN", "never");
	/* Without a Cargo.lock, pick crate versions the package's rust-version allows. */
	crates__env_add(env, "CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS", "fallback");
	if (o->ca_file && *o->ca_file)
		crates__env_add(env, "CARGO_HTTP_CAINFO", o->ca_file);
	env->v[env->n] = NULL;
}

static void crates__popts(struct prefetch_opts *po, const struct crates_opts *o,
			  const struct crates__env *env)
{
	memset(po, 0, sizeof(*po));
	po->timeout_s = o->timeout_s;
	po->on_log = o->on_log;
	po->log_ctx = o->log_ctx;
	po->cancel = o->cancel;
	po->envp = env->v;
}

/* The last non-empty line of the output, for a message. */
static const char *crates__last_line(struct buf *tail)
{
	const char *last;

	while (tail->len && (tail->ptr[tail->len - 1] == '\n' || tail->ptr[tail->len - 1] == '\r'))
		buf_truncate(tail, tail->len - 1);
	last = strrchr(tail->ptr, '\n');
	return last ? last + 1 : tail->ptr;
}

/* The script in mode ("find", "locks") on root; its stdout into out (may be NULL). */
static int crates__script_run(const struct crates_opts *o, const struct crates__env *env,
			      const char *root, const char *mode, struct buf *out, struct kerr *e)
{
	struct prefetch_opts po;
	struct buf tail = BUF_INIT(BUF_NOLIMIT), sink = BUF_INIT(64 * 1024);
	char *argv[] = { (char *)(o->python ? o->python : "python3"), (char *)"-I", (char *)"-c",
			 (char *)crates__script, (char *)root, (char *)mode, NULL };
	int status = 0, rc;

	crates__popts(&po, o, env);
	if ((rc = prefetch_run(&po, argv, NULL, out ? out : &sink, &status, &tail, e)))
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *last = crates__last_line(&tail);

		/* Exit 3 is the script's verdict on the project; anything else, python's trouble. */
		rc = kerr_set(e, WIFEXITED(status) && WEXITSTATUS(status) == 3 ? KERR_INVAL : KERR_IO,
			      "%s", *last ? last : "could not run python3 to read the Cargo manifests");
	}
out:
	buf_release(&tail);
	buf_release(&sink);
	return rc;
}

struct crates__plan {
	char *manifests[CRATES__MAX_MANIFESTS];
	size_t n;
	int locked;
	int searched;             /* found by the search, not named by the project */
	char *skipped;            /* a searched manifest Kiln would refuse: why, or NULL */
};

static void crates__plan_release(struct crates__plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->manifests[i]);
	free(p->skipped);
	memset(p, 0, sizeof(*p));
}

static int crates__plan_parse(const struct buf *b, struct crates__plan *p, struct kerr *e)
{
	cJSON *j = NULL;
	const cJSON *arr = NULL, *it;
	const char *skipped = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = json_parse_object(b->ptr, b->len, &j, e)) ||
	    (rc = json_get_bool(j, "locked", &p->locked, e)) ||
	    (rc = json_get_bool(j, "searched", &p->searched, e)) ||
	    (rc = json_get_str(j, "skipped", &skipped, e)) ||
	    (rc = json_get_array(j, "manifests", &arr, e)))
		goto out;
	if (skipped)
		p->skipped = xstrdup(skipped);
	if (!arr) {
		rc = kerr_set(e, KERR_INTERNAL, "the manifest finder gave no list");
		goto out;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || !*it->valuestring || it->valuestring[0] == '-') {
			rc = kerr_set(e, KERR_INTERNAL, "the manifest finder gave a bad path");
			goto out;
		}
		if (p->n == CRATES__MAX_MANIFESTS) {
			rc = kerr_set(e, KERR_INVAL, "more than %d Cargo manifests to vendor",
				      CRATES__MAX_MANIFESTS);
			goto out;
		}
		p->manifests[p->n++] = xstrdup(it->valuestring);
	}
out:
	cJSON_Delete(j);
	if (rc)
		crates__plan_release(p);
	return rc;
}

/* Did cargo's output show trouble reaching the registry (not a verdict on the project)? */
static int crates__network_trouble(const struct buf *tail)
{
	static const char *const signs[] = { "spurious network error", "Could not resolve host",
		"Couldn't resolve host", "failed to connect", "Connection refused",
		"Connection reset", "Timeout was reached", "Operation timed out", "SSL connect error",
		"failed to query replaced source", "[35]", "[56]", "HTTP/2 stream", " 429 ",
		" 500 ", " 502 ", " 503 ", " 504 ", NULL };

	for (const char *const *s = signs; *s; s++)
		if (memmem(tail->ptr, tail->len, *s, strlen(*s)))
			return 1;
	return 0;
}

/* Bytes of the regular files below dir (symlinks not followed); stops past max. */
static uint64_t crates__du(const char *dir, uint64_t max, int depth)
{
	DIR *d;
	struct dirent *de;
	uint64_t total = 0;

	if (depth > 64 || !(d = opendir(dir)))
		return 0;
	while (total <= max && (de = readdir(d))) {
		char path[4096];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    lstat(path, &st))
			continue;
		if (S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode))
			total += crates__du(path, max - total, depth + 1);
	}
	closedir(d);
	return total;
}

static int crates__only_dirs(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* One note naming every vendored crate ("name-version", from --versioned-dirs). */
static void crates__list_note(const struct crates_opts *o, const char *vendor, uint64_t size)
{
	struct buf b = BUF_INIT(256 * 1024);
	struct dirent **names = NULL;
	int n = scandir(vendor, &names, crates__only_dirs, alphasort);

	if (n < 0 || !o->on_log)
		goto out;
	buf_printf(&b, "kiln: Rust crates: %d vendored (%.1f MB), handed in as %s:", n,
		   (double)size / 1e6, CRATES_SANDBOX_HOME);
	for (int i = 0; i < n; i++)
		buf_printf(&b, "%s %s", i ? "," : "", names[i]->d_name);
	buf_putc(&b, '\n');
	o->on_log(o->log_ctx, CRATES__STREAM_NOTE, b.ptr, b.len);
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_release(&b);
}

static int crates__write_config(const char *out_dir, struct kerr *e)
{
	static const char text[] =
		"# Written by Kiln (builder/crates.c): the crates of this build were\n"
		"# vendored on the builder host; cargo builds offline from them.\n"
		"[source.crates-io]\n"
		"replace-with = \"kiln-vendored\"\n"
		"\n"
		"[source.kiln-vendored]\n"
		"directory = \"" CRATES_SANDBOX_HOME "/vendor\"\n"
		"\n"
		"[net]\n"
		"offline = true\n";
	char path[4096];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/config.toml", out_dir);
	if (!(f = fopen(path, "wx")))
		return kerr_set(e, KERR_IO, "could not create '%s': %s", path, strerror(errno));
	if (fputs(text, f) == EOF)
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", path, strerror(errno));
	if (fclose(f) && !rc)
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", path, strerror(errno));
	return rc;
}

static int crates__mkdir(const char *path, struct kerr *e)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return kerr_set(e, KERR_IO, "could not create '%s': %s", path, strerror(errno));
	return 0;
}

int crates_vendor(const struct crates_opts *o, const char *sdist_path, const char *source_dir,
		  const char *work_dir, const char *out_dir, int *found, struct kerr *e)
{
	const char *cargo = o->cargo ? o->cargo : "cargo";
	struct crates__env env;
	struct crates__plan plan;
	struct prefetch_opts po;
	struct buf answer = BUF_INIT(64 * 1024), tail = BUF_INIT(BUF_NOLIMIT);
	char root[4096], run_dir[4096], vendor[4200];
	char *paths[CRATES__MAX_MANIFESTS] = { 0 };
	char *argv[2 * CRATES__MAX_MANIFESTS + 8];
	uint64_t size;
	size_t n = 0;
	int status = 0, rc = 0;

	*found = 0;
	memset(&plan, 0, sizeof(plan));
	crates__env_init(&env, o);
	if (!sdist_path == !source_dir) {
		rc = kerr_set(e, KERR_INVAL, "crates: give either an sdist or a source directory");
		goto out;
	}
	if (sdist_path) {
		int has;

		if ((rc = crates__sdist_has_manifest(sdist_path, &has, e)) || !has)
			goto out;
		snprintf(root, sizeof(root), "%s/cargo-src", work_dir);
		if ((rc = crates__mkdir(root, e)) || (rc = crates__extract(sdist_path, root, e)))
			goto out;
	} else {
		snprintf(root, sizeof(root), "%s", source_dir);
	}
	if ((rc = crates__script_run(o, &env, root, "find", &answer, e)) ||
	    (rc = crates__plan_parse(&answer, &plan, e)))
		goto out;
	if (plan.skipped) {
		/* Not named by the project: maybe not even part of its build. */
		crates__note(o, "kiln: Rust crates: none vendored: %s", plan.skipped);
		goto out;
	}
	if (!plan.n)
		goto out;
	*found = 1;
	crates__note(o, "kiln: Rust crates: vendoring on the host for %s%s%s", plan.manifests[0],
		     plan.n > 1 ? " and more" : "", plan.locked ? " (--locked: the project's Cargo.lock)" : "");
	if (!crates__have(cargo)) {
		rc = kerr_set(e, KERR_AGAIN, "this builder has no '%s' to fetch the project's Rust "
			      "crates: install cargo on the builder host (docs/builds.md)", cargo);
		goto out;
	}
	snprintf(run_dir, sizeof(run_dir), "%s/cargo-run", work_dir);
	snprintf(vendor, sizeof(vendor), "%s/vendor", out_dir);
	if ((rc = crates__mkdir(o->cargo_home, e)) || (rc = crates__mkdir(run_dir, e)))
		goto out;
	if (mkdir(out_dir, 0755)) {
		rc = kerr_set(e, KERR_IO, "could not create '%s': %s", out_dir, strerror(errno));
		goto out;
	}
	argv[n++] = (char *)cargo;
	argv[n++] = (char *)"vendor";
	/* Quiet: its chatter shows host paths; the note below names the crates. */
	argv[n++] = (char *)"--quiet";
	argv[n++] = (char *)"--versioned-dirs";
	for (size_t i = 0; i < plan.n; i++) {
		struct buf b = BUF_INIT(BUF_NOLIMIT);

		buf_printf(&b, "%s/%s", root, plan.manifests[i]);
		paths[i] = buf_detach(&b, NULL);
		argv[n++] = (char *)(i ? "--sync" : "--manifest-path");
		argv[n++] = paths[i];
	}
	if (plan.locked)
		argv[n++] = (char *)"--locked";
	argv[n++] = (char *)"--";
	argv[n++] = vendor;
	argv[n] = NULL;
	crates__popts(&po, o, &env);
	/* cwd outside the project: cargo reads .cargo/config.toml from there up. */
	if ((rc = prefetch_run(&po, argv, run_dir, NULL, &status, &tail, e))) {
		kerr_wrap(e, "cargo vendor: ");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *last = crates__last_line(&tail);

		rc = kerr_set(e, crates__network_trouble(&tail) ? KERR_AGAIN : KERR_INVAL,
			      "could not fetch the Rust crates: cargo vendor %s %d%s%.300s",
			      WIFEXITED(status) ? "exited with" : "killed by signal",
			      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			      *last ? ": " : "", last);
		if (rc == KERR_INVAL && plan.searched) {
			/* A manifest the project did not name: build without, as before Kiln knew Rust. */
			crates__note(o, "kiln: Rust crates: none vendored: %s", e->msg);
			kerr_clear(e);
			*found = 0;
			rc = 0;
		}
		goto out;
	}
	/* cargo vendor writes a Cargo.lock where there was none: it must name registry crates only. */
	if ((rc = crates__script_run(o, &env, root, "locks", NULL, e)))
		goto out;
	if ((size = crates__du(vendor, CRATES_VENDOR_MAX, 0)) > CRATES_VENDOR_MAX) {
		rc = kerr_set(e, KERR_TOOBIG, "the project's Rust crates take more than %llu bytes",
			      (unsigned long long)CRATES_VENDOR_MAX);
		goto out;
	}
	if ((rc = crates__write_config(out_dir, e)))
		goto out;
	crates__list_note(o, vendor, size);
out:
	for (size_t i = 0; i < CRATES__MAX_MANIFESTS; i++)
		free(paths[i]);
	crates__plan_release(&plan);
	crates__env_release(&env);
	buf_release(&answer);
	buf_release(&tail);
	return rc;
}
