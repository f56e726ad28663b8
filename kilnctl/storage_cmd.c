/* storage_cmd: `kilnctl storage` (contract in storage_cmd.h). */
#include "kilnctl/storage_cmd.h"

#include "common/fdio.h"
#include "common/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where downloaded bytes go, and why writing them failed (errno), if it did. */
struct storage_cmd__out {
	int fd;
	int err;
};

struct storage_cmd__args {
	const char *pos[2]; /* positional words after the subcommand */
	int npos;
	const char *content_type;
	uint64_t multipart_mib;
	uint64_t offset;
	uint64_t length;
	long expires;
};

static int storage_cmd__sink(void *ctx, const void *p, size_t n)
{
	struct storage_cmd__out *o = ctx;

	if (fdio_write_all(o->fd, p, n)) {
		o->err = errno;
		return KERR_IO;
	}
	return 0;
}

static int storage_cmd__each(void *ctx, const char *key, uint64_t size)
{
	(void)ctx;
	printf("%s %llu\n", key, (unsigned long long)size);
	return 0;
}

static int storage_cmd__number(const char *opt, const char *s, uint64_t *out, struct kerr *e)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return kerr_set(e, STORAGE_CMD_USAGE, "%s takes a non-negative integer, got '%s'",
				opt, s);
	*out = v;
	return 0;
}

static int storage_cmd__allowed(const char *const allowed[3], const char *w)
{
	for (int i = 0; i < 3 && allowed[i]; i++)
		if (!strcmp(allowed[i], w))
			return 1;
	return 0;
}

/*
 * Split argv into options (those in `allowed`, each taking a value) and at most
 * two positional words. "--" ends the options, so a key may start with '-'.
 */
static int storage_cmd__parse(int argc, char **argv, const char *const allowed[3],
			      struct storage_cmd__args *a, struct kerr *e)
{
	int opts = 1, rc = 0;

	for (int i = 0; i < argc && !rc; i++) {
		const char *w = argv[i];
		uint64_t v = 0;

		if (opts && !strcmp(w, "--")) {
			opts = 0;
			continue;
		}
		if (!opts || strncmp(w, "--", 2)) {
			if (a->npos == 2)
				return kerr_set(e, STORAGE_CMD_USAGE, "too many arguments");
			a->pos[a->npos++] = w;
			continue;
		}
		if (!storage_cmd__allowed(allowed, w))
			return kerr_set(e, STORAGE_CMD_USAGE, "unknown option '%s'", w);
		if (i + 1 == argc)
			return kerr_set(e, STORAGE_CMD_USAGE, "option '%s' needs a value", w);
		if (!strcmp(w, "--content-type")) {
			a->content_type = argv[++i];
			continue;
		}
		rc = storage_cmd__number(w, argv[++i], &v, e);
		if (rc)
			break;
		if (!strcmp(w, "--multipart-mib"))
			a->multipart_mib = v;
		else if (!strcmp(w, "--offset"))
			a->offset = v;
		else if (!strcmp(w, "--length"))
			a->length = v;
		else if (!strcmp(w, "--expires"))
			a->expires = v > 604800 ? 604801 : (long)v;
	}
	return rc;
}

/* get into a file: a temporary file beside it, renamed over it on success. */
static int storage_cmd__get_file(struct storage *s, const struct storage_cmd__args *a,
				 const char *path, struct kerr *e)
{
	struct buf tmp = BUF_INIT(BUF_NOLIMIT);
	struct storage_cmd__out o = { -1, 0 };
	mode_t mask;
	int rc;

	/* Refuse a bad key before creating anything. */
	rc = storage_key_check(a->pos[0], e);
	if (rc)
		return rc;
	buf_printf(&tmp, "%s.kiln-XXXXXX", path);
	o.fd = mkstemp(tmp.ptr);
	if (o.fd < 0) {
		rc = kerr_set(e, KERR_IO, "could not create a file beside '%s': %s", path,
			      strerror(errno));
		goto fail;
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mask = umask(0);
	umask(mask);
	fchmod(o.fd, 0666 & ~mask);
	rc = storage_get(s, a->pos[0], a->offset, a->length, storage_cmd__sink, &o, e);
	if (rc && o.err)
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", path, strerror(o.err));
	if (rc)
		goto fail;
	if (close(o.fd) < 0) {
		o.fd = -1;
		rc = kerr_set(e, KERR_IO, "could not write '%s': %s", path, strerror(errno));
		goto fail;
	}
	o.fd = -1;
	if (rename(tmp.ptr, path) < 0) {
		rc = kerr_set(e, KERR_IO, "could not rename '%s' to '%s': %s", tmp.ptr, path,
			      strerror(errno));
		goto fail;
	}
	buf_reset(&tmp);
fail:
	if (o.fd >= 0)
		close(o.fd);
	if (tmp.len)
		unlink(tmp.ptr);
	buf_release(&tmp);
	return rc;
}

static int storage_cmd__get(struct storage *s, const struct storage_cmd__args *a,
			    struct kerr *e)
{
	struct storage_cmd__out o = { STDOUT_FILENO, 0 };
	int rc;

	if (a->npos == 2 && strcmp(a->pos[1], "-"))
		return storage_cmd__get_file(s, a, a->pos[1], e);
	fflush(stdout);
	rc = storage_get(s, a->pos[0], a->offset, a->length, storage_cmd__sink, &o, e);
	if (rc && o.err)
		rc = kerr_set(e, KERR_IO, "could not write to stdout: %s", strerror(o.err));
	return rc;
}

/* Each subcommand: the options it takes and how many positional words. */
static const struct storage_cmd__spec {
	const char *name;
	const char *const options[3];
	int min, max;
} storage_cmd__specs[] = {
	{ "put", { "--content-type", "--multipart-mib" }, 2, 2 },
	{ "get", { "--offset", "--length" }, 1, 2 },
	{ "stat", { NULL }, 1, 1 },
	{ "ls", { NULL }, 0, 1 },
	{ "rm", { NULL }, 1, 1 },
	{ "url", { "--expires" }, 1, 1 },
};

int storage_cmd_run(const struct config *cfg, int argc, char **argv, struct kerr *e)
{
	const struct storage_cmd__spec *spec = NULL;
	struct storage_cmd__args a;
	struct storage *s = NULL;
	struct buf url = BUF_INIT(BUF_NOLIMIT);
	const char *cmd;
	uint64_t size;
	int rc;

	memset(&a, 0, sizeof(a));
	for (size_t i = 0; argc > 0 && i < sizeof(storage_cmd__specs) / sizeof(*spec); i++)
		if (!strcmp(argv[0], storage_cmd__specs[i].name))
			spec = &storage_cmd__specs[i];
	if (!spec)
		return kerr_set(e, STORAGE_CMD_USAGE, "storage takes: put KEY FILE | get KEY "
				"[FILE|-] | stat KEY | ls [PREFIX] | rm KEY | url KEY");
	cmd = spec->name;
	rc = storage_cmd__parse(argc - 1, argv + 1, spec->options, &a, e);
	if (rc)
		return rc;
	if (a.npos < spec->min || a.npos > spec->max)
		return kerr_set(e, STORAGE_CMD_USAGE, "wrong number of arguments for 'storage %s'",
				cmd);

	rc = storage_open(cfg, &s, e);
	if (rc)
		goto fail;
	if (a.multipart_mib) {
		if (a.multipart_mib < STORAGE_PART_MIN >> 20 || a.multipart_mib > (1u << 20)) {
			rc = kerr_set(e, STORAGE_CMD_USAGE, "--multipart-mib must be %llu to %u",
				      STORAGE_PART_MIN >> 20, 1u << 20);
			goto fail;
		}
		rc = storage_set_multipart(s, a.multipart_mib << 20, a.multipart_mib << 20, e);
		if (rc)
			goto fail;
	}
	if (!strcmp(cmd, "put")) {
		rc = storage_put_file(s, a.pos[0], a.pos[1], a.content_type, e);
		if (!rc)
			printf("stored %s (%s)\n", a.pos[0], storage_driver_name(s));
	} else if (!strcmp(cmd, "get")) {
		rc = storage_cmd__get(s, &a, e);
	} else if (!strcmp(cmd, "stat")) {
		rc = storage_stat(s, a.pos[0], &size, e);
		if (!rc)
			printf("%s %llu\n", a.pos[0], (unsigned long long)size);
	} else if (!strcmp(cmd, "ls")) {
		rc = storage_list(s, a.npos ? a.pos[0] : "", storage_cmd__each, NULL, e);
	} else if (!strcmp(cmd, "rm")) {
		rc = storage_delete(s, a.pos[0], e);
		if (!rc)
			printf("deleted %s\n", a.pos[0]);
	} else {
		rc = storage_presign_get(s, a.pos[0], (int)a.expires, &url, e);
		if (!rc)
			printf("%s\n", url.ptr);
	}
fail:
	storage_free(s);
	buf_release(&url);
	return rc;
}
