/* build_local: `kiln-builder build-local` (usage and exit codes in build_local.h). */
#include "builder/build_local.h"

#include "builder/contents.h"
#include "builder/crates.h"
#include "builder/derived.h"
#include "builder/docker.h"
#include "builder/failclass.h"
#include "builder/platform.h"
#include "builder/prefetch.h"
#include "builder/sandbox.h"
#include "builder/source.h"
#include "common/config.h"
#include "common/kerr.h"
#include "common/log.h"
#include "common/stopflag.h"
#include "common/xalloc.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The default owner label of build-local's Docker objects, for --reap.
 * --owner gives another, so that --reap (and a test counting what is left)
 * touches only one user's or one test run's objects on a shared daemon. */
#define BUILD_LOCAL__OWNER "build-local"

enum { EXIT_BUILT = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_ERROR = 3, EXIT_TRANSIENT = 4 };

/* Raised by SIGINT/SIGTERM (lock free: stopflag.h). */
static atomic_int build_local__cancel;

static void build_local__on_signal(int sig)
{
	(void)sig;
	stopflag_raise(&build_local__cancel);
}

static void build_local__usage(FILE *f)
{
	fprintf(f,
		"usage: kiln-builder build-local [--image IMG] --out DIR\n"
		"           (--sdist FILE | --sdist-url URL --sha256 HEX | --source-dir DIR\n"
		"            | --git URL --commit SHA)\n"
		"           [--timeout S] [--memory-mib N] [--cpus N] [--pids N]\n"
		"           [--log-cap BYTES] [--output-cap BYTES] [--wheels DIR] [--no-prefetch]\n"
		"           [--python PATH] [--docker-socket PATH] [--ca-file FILE] [--config FILE]\n"
		"           [--owner NAME] [--native-package PKG]... [--project NAME]\n"
		"           [--arch ARCH] [--glibc 2.NN] [--python-version X.Y]\n"
		"       kiln-builder build-local --reap [--owner NAME] [--docker-socket PATH]\n"
		"--owner labels the build's Docker objects (default build-local); --reap removes\n"
		"only that owner's leftovers. --native-package (repeatable, at most 16) builds in\n"
		"a derived image: the image plus those Debian packages, installed by apt outside\n"
		"the sandbox and kept for reuse by --project (default build-local).\n"
		"--no-prefetch fetches nothing on the host: no build requirements, no Rust crates.\n"
		"--arch, --glibc and --python-version describe the image's target for the build\n"
		"requirements (its platform ladder); defaults: the image's labels org.kiln.arch\n"
		"(else its Architecture), org.kiln.glibc (else 2.17) and org.kiln.python (else\n"
		"3.11). An image of another architecture runs under emulation.\n");
}

/* Did the build's stdout end mid-line? Then the summary starts a line of its own. */
static int build_local__midline;

/* Build output and notes as they come: stdout to stdout, the rest to stderr.
 * ctx, when set, is the failure classifier that reads the build's output. */
static void build_local__log(void *ctx, int stream, const char *p, size_t n)
{
	FILE *f = stream == SANDBOX_STDOUT ? stdout : stderr;

	if (ctx && (stream == SANDBOX_STDOUT || stream == SANDBOX_STDERR))
		failclass_feed(ctx, stream, p, n);
	fwrite(p, 1, n, f);
	fflush(f);
	if (stream == SANDBOX_STDOUT && n)
		build_local__midline = p[n - 1] != '\n';
}

static int build_local__num(const char *opt, const char *s, unsigned long long max,
			    unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out == 0 || *out > max) {
		fprintf(stderr, "kiln-builder: %s wants a number from 1 to %llu, got '%s'\n", opt, max, s);
		return -1;
	}
	return 0;
}

static int build_local__rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static int build_local__exit_for(int rc)
{
	return rc == KERR_AGAIN || rc == KERR_TIMEOUT ? EXIT_TRANSIENT : EXIT_ERROR;
}

struct build_local__args {
	const char *image, *out, *sdist, *sdist_url, *sha256, *source_dir, *git, *commit;
	const char *wheels, *python, *socket, *ca_file, *config, *owner, *project;
	const char *arch, *glibc, *python_version;
	const char *native[DERIVED_MAX_PACKAGES];
	size_t nnative;
	int no_prefetch, reap;
	struct sandbox_limits lim;
};

static int build_local__parse(int argc, char **argv, struct build_local__args *a)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "sdist", required_argument, NULL, 's' },
		{ "sdist-url", required_argument, NULL, 'u' },
		{ "sha256", required_argument, NULL, 'H' },
		{ "source-dir", required_argument, NULL, 'd' },
		{ "git", required_argument, NULL, 'g' },
		{ "commit", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "memory-mib", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "pids", required_argument, NULL, 'P' },
		{ "log-cap", required_argument, NULL, 'L' },
		{ "output-cap", required_argument, NULL, 'O' },
		{ "wheels", required_argument, NULL, 'w' },
		{ "no-prefetch", no_argument, NULL, 'n' },
		{ "python", required_argument, NULL, 'p' },
		{ "docker-socket", required_argument, NULL, 'S' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "config", required_argument, NULL, 'f' },
		{ "reap", no_argument, NULL, 'R' },
		{ "owner", required_argument, NULL, 'W' },
		{ "native-package", required_argument, NULL, 'N' },
		{ "project", required_argument, NULL, 'J' },
		{ "arch", required_argument, NULL, 'a' },
		{ "glibc", required_argument, NULL, 'G' },
		{ "python-version", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int ch, nsrc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': a->image = optarg; break;
		case 'o': a->out = optarg; break;
		case 's': a->sdist = optarg; break;
		case 'u': a->sdist_url = optarg; break;
		case 'H': a->sha256 = optarg; break;
		case 'd': a->source_dir = optarg; break;
		case 'g': a->git = optarg; break;
		case 'c': a->commit = optarg; break;
		case 'w': a->wheels = optarg; break;
		case 'n': a->no_prefetch = 1; break;
		case 'R': a->reap = 1; break;
		case 'W':
			if (!*optarg || strlen(optarg) > 64) {
				fprintf(stderr, "kiln-builder: --owner must be 1 to 64 characters\n");
				return -1;
			}
			a->owner = optarg;
			break;
		case 'N':
			if (!derived_package_valid(optarg)) {
				fprintf(stderr, "kiln-builder: bad Debian package name '%s' (want "
					"[a-z0-9][a-z0-9+.-]{0,63})\n", optarg);
				return -1;
			}
			if (a->nnative == DERIVED_MAX_PACKAGES) {
				fprintf(stderr, "kiln-builder: at most %d --native-package\n",
					DERIVED_MAX_PACKAGES);
				return -1;
			}
			a->native[a->nnative++] = optarg;
			break;
		case 'J':
			if (!*optarg || strlen(optarg) > 200) {
				fprintf(stderr, "kiln-builder: --project must be 1 to 200 characters\n");
				return -1;
			}
			a->project = optarg;
			break;
		case 'p': a->python = optarg; break;
		case 'a': a->arch = optarg; break;
		case 'G': a->glibc = optarg; break;
		case 'V': a->python_version = optarg; break;
		case 'S': a->socket = optarg; break;
		case 'A': a->ca_file = optarg; break;
		case 'f': a->config = optarg; break;
		case 't':
			if (build_local__num("--timeout", optarg, 7 * 86400, &v))
				return -1;
			a->lim.timeout_s = (unsigned)v;
			break;
		case 'm':
			if (build_local__num("--memory-mib", optarg, 1u << 20, &v))
				return -1;
			a->lim.memory_bytes = v << 20;
			break;
		case 'C':
			if (build_local__num("--cpus", optarg, 1024, &v))
				return -1;
			a->lim.nano_cpus = (int64_t)v * 1000000000;
			break;
		case 'P':
			if (build_local__num("--pids", optarg, 1u << 22, &v))
				return -1;
			a->lim.pids = (int64_t)v;
			break;
		case 'L':
			if (build_local__num("--log-cap", optarg, 1ull << 40, &v))
				return -1;
			a->lim.log_cap_bytes = v;
			break;
		case 'O':
			if (build_local__num("--output-cap", optarg, 1ull << 40, &v))
				return -1;
			a->lim.output_cap_bytes = v;
			break;
		case 'h':
			build_local__usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	nsrc = !!a->sdist + !!a->sdist_url + !!a->source_dir + !!a->git;
	if (a->reap && optind == argc && !nsrc && !a->out)
		return 0;
	if (optind != argc || !a->out || nsrc != 1 || !a->sdist_url != !a->sha256 ||
	    !a->git != !a->commit) {
		fprintf(stderr, "kiln-builder: build-local needs --out and exactly one source\n");
		return -1;
	}
	return 0;
}

/* Get the source named by the arguments; sets *sdist or *dir. */
static int build_local__source(const struct build_local__args *a, const char *work,
			       char **sdist, char **dir, long long *epoch, struct kerr *e)
{
	struct source_opts so;
	char path[4200];
	int rc;

	memset(&so, 0, sizeof(so));
	so.ca_file = a->ca_file;
	so.cancel = &build_local__cancel;
	if (a->sdist) {
		*sdist = xstrdup(a->sdist);
		return 0;
	}
	if (a->source_dir) {
		*dir = xstrdup(a->source_dir);
		return 0;
	}
	if (a->sdist_url) {
		fprintf(stderr, "kiln: downloading %s\n", a->sdist_url);
		return source_fetch_sdist(a->sdist_url, a->sha256, work, &so, sdist, e);
	}
	snprintf(path, sizeof(path), "%s/src", work);
	fprintf(stderr, "kiln: checking out %s at %s\n", a->git, a->commit);
	if ((rc = source_checkout_git(a->git, a->commit, path, &so, epoch, e)))
		return rc;
	*dir = xstrdup(path);
	return 0;
}

static int build_local__cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort the --native-package names and drop repeats: derived.h wants them so. */
static void build_local__sort_native(struct build_local__args *a)
{
	size_t k = 0;

	qsort(a->native, a->nnative, sizeof(a->native[0]), build_local__cmp);
	for (size_t i = 0; i < a->nnative; i++)
		if (!k || strcmp(a->native[k - 1], a->native[i]))
			a->native[k++] = a->native[i];
	a->nnative = k;
}

/* Answer queries from image's Contents index (cached under the data dir); "" if there is none. */
static void build_local__lookup(struct docker *d, const struct config *cfg, const char *image,
				const char *owner, struct contents_query *q, size_t n)
{
	char cache[1100], path[1300];
	struct kerr e;

	kerr_clear(&e);
	snprintf(cache, sizeof(cache), "%s/builder/contents", config_get(cfg, CONFIG_DATA_DIR));
	if (n && (contents_fetch(d, image, cache, owner, path, sizeof(path), &e) ||
		  contents_lookup(path, q, n, &e)))
		fprintf(stderr, "kiln: no Debian package names: %s\n", e.msg);
}

/* "failure class: ..." and, for native-dependency, which package ships each missing file. */
static void build_local__verdict(struct docker *d, const struct config *cfg,
				 const struct build_local__args *a, struct failclass *fc,
				 const struct sandbox_result *res)
{
	struct failclass_facts facts;
	struct contents_query q[FAILCLASS_MAX_MISSING];
	enum failclass_class cls;

	memset(&facts, 0, sizeof(facts));
	facts.stage = res->stage;
	facts.exit_code = res->exit_code;
	facts.oom = res->oom;
	facts.timed_out = res->timed_out;
	facts.log_capped = res->log_capped;
	cls = failclass_classify(fc, &facts);
	printf("failure class: %s\n", failclass_name(cls));
	if (cls != FAILCLASS_NATIVE_DEPENDENCY)
		return;
	memset(q, 0, sizeof(q));
	for (size_t i = 0; i < fc->nmissing; i++) {
		q[i].kind = (enum contents_kind)fc->missing[i].kind;
		q[i].name = fc->missing[i].name;
	}
	build_local__lookup(d, cfg, a->image, a->owner, q, fc->nmissing);
	for (size_t i = 0; i < fc->nmissing; i++) {
		if (q[i].package[0])
			printf("missing %s, shipped by %s (%s)\n"
			       "fix: rebuild with --native-package %s; for a project on Kiln: "
			       "kilnctl project deps add PROJECT %s\n",
			       fc->missing[i].name, q[i].package, failclass_kind_name(fc->missing[i].kind),
			       q[i].package, q[i].package);
		else
			printf("missing %s (%s): no Debian package in the suite ships it\n",
			       fc->missing[i].name, failclass_kind_name(fc->missing[i].kind));
	}
}

/* Per wheel: the platform tag the repair gave it and the Debian packages it needs at run time. */
static void build_local__wheels(struct docker *d, const struct config *cfg,
				const struct build_local__args *a, const struct sandbox_result *res)
{
	for (size_t i = 0; res->reports && i < res->nwheels; i++) {
		const struct sandbox_wheel_report *w = &res->reports[i];
		size_t n = w->nneeded < 32 ? w->nneeded : 32;
		struct contents_query q[32];

		memset(q, 0, sizeof(q));
		for (size_t k = 0; k < n; k++) {
			q[k].kind = CONTENTS_SONAME;
			q[k].name = w->needed[k];
		}
		build_local__lookup(d, cfg, a->image, a->owner, q, n);
		for (size_t k = 0; k < n; k++)
			printf("runtime: %s %s\n", w->needed[k], q[k].package[0] ? q[k].package : "-");
	}
}
/* What the build requirements are fetched for: the image's target. */
struct build_local__target {
	char arch[PLATFORM_ARCH_MAX], glibc[64], python_version[64], abi[24];
	struct platform_ladder ladder;
};

/* The options, else the image's labels, else the defaults (usage above). */
static int build_local__target(struct docker *d, const struct build_local__args *a,
			       struct build_local__target *t, struct kerr *e)
{
	struct docker_image img;
	const char *v;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = docker_image_inspect(d, a->image, "org.kiln.arch", &img, e)))
		return rc;
	v = a->arch ? a->arch : img.label[0] ? img.label : img.architecture;
	if (platform_arch_normalize(v, t->arch, e))
		return kerr_wrap(e, "--arch: ");
	if (!a->glibc && (rc = docker_image_inspect(d, a->image, "org.kiln.glibc", &img, e)))
		return rc;
	snprintf(t->glibc, sizeof(t->glibc), "%s", a->glibc ? a->glibc : img.label);
	if (!a->python_version && (rc = docker_image_inspect(d, a->image, "org.kiln.python", &img, e)))
		return rc;
	snprintf(t->python_version, sizeof(t->python_version), "%s",
		 a->python_version ? a->python_version : img.label[0] ? img.label : "3.11");
	{
		unsigned major = 0, minor = 0;
		char end = 0;
		if (sscanf(t->python_version, "%u.%u%c", &major, &minor, &end) != 2 || major != 3 ||
		    minor > 99)
			return kerr_set(e, KERR_INVAL, "bad Python version '%s' (3.13, ...)",
					t->python_version);
		snprintf(t->abi, sizeof(t->abi), "cp%u%u", major, minor);
	}
	if (platform_ladder(&t->ladder, t->arch, t->glibc, e))
		return kerr_wrap(e, "--glibc: ");
	return 0;
}

int build_local_main(int argc, char **argv)
{
	struct build_local__args a;
	struct config cfg;
	struct docker d;
	struct sandbox_spec spec;
	struct sandbox_result res;
	struct prefetch_opts po;
	struct crates_opts co;
	struct build_local__target target;
	struct kerr e;
	struct sigaction sa;
	char work[4096], reqs[4200], cargo_home[4200], cargo_dir[4200];
	char *sdist = NULL, *dir = NULL;
	long long epoch = 0; /* a git source's commit time: its SOURCE_DATE_EPOCH */
	char derived_ref[DERIVED_REF_MAX];
	struct failclass *fc = xcalloc(1, sizeof(*fc));
	const char *tmp = getenv("TMPDIR");
	int have_docker = 0, have_work = 0, have_crates = 0, rc, status = EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	a.owner = BUILD_LOCAL__OWNER;
	memset(&sa, 0, sizeof(sa));
	kerr_clear(&e);
	config_init(&cfg);
	sandbox_result_init(&res);
	log_init("kiln-builder");
	failclass_init(fc);
	if (build_local__parse(argc, argv, &a)) {
		build_local__usage(stderr);
		config_release(&cfg);
		free(fc);
		return EXIT_USAGE;
	}
	build_local__sort_native(&a);
	sa.sa_handler = build_local__on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed stdout (| head) must not kill us before the containers are removed. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (config_load(&cfg, a.config, &e)) {
		fprintf(stderr, "kiln-builder: %s\n", e.msg);
		goto out;
	}
	if (a.reap) {
		size_t n = 0;

		if ((rc = docker_init(&d, a.socket, &e))) {
			fprintf(stderr, "kiln-builder: %s\n", e.msg);
			goto out;
		}
		have_docker = 1;
		if ((rc = sandbox_reap(&d, a.owner, &n, &e))) {
			fprintf(stderr, "kiln-builder: %s\n", e.msg);
			goto out;
		}
		printf("removed %zu Docker objects left by earlier build-local runs\n", n);
		status = EXIT_BUILT;
		goto out;
	}
	if (!a.image)
		a.image = config_get(&cfg, CONFIG_BUILDER_IMAGE);
	if ((rc = docker_init(&d, a.socket, &e))) {
		fprintf(stderr, "kiln-builder: %s\n", e.msg);
		goto out;
	}
	have_docker = 1;
	if ((rc = build_local__target(&d, &a, &target, &e))) {
		fprintf(stderr, "kiln-builder: %s\n", e.msg);
		status = rc == KERR_INVAL ? EXIT_USAGE : build_local__exit_for(rc);
		goto out;
	}
	if (mkdir(a.out, 0755) && errno != EEXIST) {
		fprintf(stderr, "kiln-builder: could not create '%s': %s\n", a.out, strerror(errno));
		goto out;
	}
	snprintf(work, sizeof(work), "%s/kiln-build-local-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		fprintf(stderr, "kiln-builder: could not create a work directory: %s\n", strerror(errno));
		goto out;
	}
	have_work = 1;
	if ((rc = build_local__source(&a, work, &sdist, &dir, &epoch, &e))) {
		fprintf(stderr, "kiln-builder: %s\n", e.msg);
		status = build_local__exit_for(rc);
		goto out;
	}

	snprintf(reqs, sizeof(reqs), "%s/build-wheels", work);
	if (a.wheels) {
		snprintf(reqs, sizeof(reqs), "%s", a.wheels);
	} else if (mkdir(reqs, 0755)) {
		fprintf(stderr, "kiln-builder: could not create '%s': %s\n", reqs, strerror(errno));
		goto out;
	}
	memset(&po, 0, sizeof(po));
	if (!a.no_prefetch) {
		po.python = a.python;
		po.index_url = config_get(&cfg, CONFIG_BUILD_INDEX_URL);
		po.target.python_version = target.python_version;
		po.target.implementation = "cp";
		po.target.abi = target.abi;
		po.target.platforms = target.ladder.v;
		po.on_log = build_local__log;
		po.cancel = &build_local__cancel;
		if ((rc = prefetch_build_requires(&po, sdist, dir, reqs, &e))) {
			fprintf(stderr, "kiln-builder: %s\n", e.msg);
			status = build_local__exit_for(rc);
			goto out;
		}
		memset(&co, 0, sizeof(co));
		/* A cache of this run's own: build-local leaves nothing behind. */
		snprintf(cargo_home, sizeof(cargo_home), "%s/cargo-home", work);
		snprintf(cargo_dir, sizeof(cargo_dir), "%s/cargo", work);
		co.python = a.python;
		co.cargo_home = cargo_home;
		co.ca_file = a.ca_file;
		co.on_log = build_local__log;
		co.cancel = &build_local__cancel;
		if ((rc = crates_vendor(&co, sdist, dir, work, cargo_dir, &have_crates, &e))) {
			fprintf(stderr, "kiln-builder: %s\n", e.msg);
			status = build_local__exit_for(rc);
			goto out;
		}
	}

	memset(&spec, 0, sizeof(spec));
	spec.image = a.image;
	if (a.nnative) {
		struct derived_spec ds;
		char state[1100];

		snprintf(state, sizeof(state), "%s/builder/derived", config_get(&cfg, CONFIG_DATA_DIR));
		memset(&ds, 0, sizeof(ds));
		ds.base_image = a.image;
		ds.project = a.project ? a.project : "build-local";
		ds.packages = a.native;
		ds.npackages = a.nnative;
		ds.owner = a.owner;
		ds.state_dir = state;
		ds.network = config_get(&cfg, CONFIG_BUILDER_APT_NETWORK);
		ds.on_log = build_local__log;
		ds.cancel = &build_local__cancel;
		if ((rc = derived_ensure(&d, &ds, derived_ref, NULL, NULL, &e))) {
			fprintf(stderr, "kiln-builder: %s\n", e.msg);
			if (rc == KERR_NOTFOUND) {
				printf("result: failed: %s\nfailure class: %s\n", e.msg,
				       failclass_name(FAILCLASS_NATIVE_DEPENDENCY));
				status = EXIT_FAILED;
			} else {
				status = build_local__exit_for(rc);
			}
			goto out;
		}
		spec.image = derived_ref;
	}
	spec.sdist_path = sdist;
	spec.source_dir = dir;
	spec.wheels_dir = reqs;
	spec.cargo_dir = have_crates ? cargo_dir : NULL;
	spec.source_date_epoch = epoch;
	spec.out_dir = a.out;
	spec.limits = a.lim;
	spec.on_log = build_local__log;
	spec.log_ctx = fc;
	spec.cancel = &build_local__cancel;
	spec.owner = a.owner;
	spec.prefetch = a.no_prefetch ? NULL : &po;
	if ((rc = sandbox_build(&d, &spec, &res, &e))) {
		fprintf(stderr, "kiln-builder: %s\n", e.msg);
		status = build_local__exit_for(rc);
		goto out;
	}
	failclass_end(fc);
	fflush(stderr);
	if (build_local__midline)
		putchar('\n');
	if (res.reason[0]) {
		static const char *const stages[] = { "none", "requires", "build", "repair", "import" };
		printf("result: failed: %s\n", res.reason);
		if ((size_t)res.stage < sizeof(stages) / sizeof(stages[0]))
			printf("stage: %s\n", stages[res.stage]);
		build_local__verdict(&d, &cfg, &a, fc, &res);
		status = EXIT_FAILED;
	} else {
		printf("result: ok\n");
		for (size_t i = 0; i < res.nwheels; i++) {
			const struct sandbox_wheel_report *r = res.reports ? &res.reports[i] : NULL;
			printf("wheel: %s\n", res.wheels[i]);
			if (!r)
				continue;
			printf("policy: %s\n", r->policy[0] ? r->policy : "(pure)");
			for (size_t k = 0; k < r->nneeded; k++)
				printf("needs: %s\n", r->needed[k]);
		}
		build_local__wheels(&d, &cfg, &a, &res);
		status = EXIT_BUILT;
	}
	printf("exit code: %d, duration: %llu ms, log: %llu bytes%s%s\n", res.exit_code,
	       (unsigned long long)res.duration_ms, (unsigned long long)res.log_bytes,
	       res.oom ? ", oom" : "", res.timed_out ? ", timed out" : "");
	if (a.nnative) {
		/* As the daemon does after a job: this owner's derived images unused for long go. */
		char state[1100];
		size_t removed = 0;
		struct kerr ge;

		kerr_clear(&ge);
		snprintf(state, sizeof(state), "%s/builder/derived", config_get(&cfg, CONFIG_DATA_DIR));
		if (derived_gc(&d, a.owner, state,
			       (unsigned)config_get_int(&cfg, CONFIG_BUILDER_DERIVED_MAX_AGE_DAYS),
			       (unsigned)config_get_int(&cfg, CONFIG_BUILDER_DERIVED_MAX_COUNT), &removed,
			       &ge))
			fprintf(stderr, "kiln: derived image cleanup: %s\n", ge.msg);
		else if (removed)
			fprintf(stderr, "kiln: removed %zu unused derived image(s)\n", removed);
	}
out:
	fflush(stdout);
	if (have_docker)
		docker_release(&d);
	if (have_work)
		nftw(work, build_local__rm, 16, FTW_DEPTH | FTW_PHYS);
	sandbox_result_release(&res);
	free(sdist);
	free(dir);
	free(fc);
	config_release(&cfg);
	return status;
}
