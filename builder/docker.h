/*
 * docker: a small client of the Docker Engine API over its unix socket (libcurl,
 * CURLOPT_UNIX_SOCKET_PATH), just what a sandboxed build needs: containers
 * (create, put/get archive, start, logs, wait, kill, inspect, remove) and volumes
 * (create, remove). Not the docker CLI.
 *
 * Requests go to /v<version>/..., the version negotiated once by docker_init with
 * the unversioned GET /version: the daemon's own API version, capped at
 * DOCKER_API_MAX and refused below DOCKER_API_MIN.
 *
 * Threads: after docker_init the struct is only read, and every call makes its
 * own curl easy handle, so job threads may share one struct docker.
 *
 * Errors: 0 or a negative KERR_* with a message in e that says what was asked and
 * what Docker answered: "docker: create container: No such image: x:1 (HTTP 404)".
 * HTTP 400 is KERR_INVAL, 404 KERR_NOTFOUND, 409 KERR_CONFLICT, other failures
 * (5xx, a daemon that cannot be reached, a broken answer) KERR_IO or KERR_PROTO.
 *
 * Long calls (logs, wait, archives) take a tick: called about once a second
 * (and whenever data moves) while the call blocks. Returning a negative code
 * from it aborts the call, which then returns that code (e says "interrupted").
 * That is how callers enforce wall-clock timeouts and cancellation.
 */
#ifndef KILN_BUILDER_DOCKER_H
#define KILN_BUILDER_DOCKER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct kerr;

#define DOCKER_API_MIN "1.41"
#define DOCKER_API_MAX "1.47"
#define DOCKER_SOCKET_DEFAULT "/var/run/docker.sock"
#define DOCKER_ID_MAX 128

struct docker {
	char *socket;             /* the unix socket path */
	char api[16];             /* API version in use: "1.41" */
	char engine[64];          /* the daemon's version: "20.10.24+dfsg1" */
	char arch[32];            /* the daemon's machine, Docker's name: "amd64", "arm64" */
	long request_timeout_s;   /* limit of the short calls (create, start, ...) */
};

/* Polled while a long call blocks; a negative return aborts the call with it. */
typedef int (*docker_tick_fn)(void *ctx);
/* Gets one frame of a container's output (stream 1 stdout, 2 stderr). */
typedef int (*docker_frame_fn)(void *ctx, int stream, const char *p, size_t n);

/*
 * Connect to the daemon at socket_path (NULL: $DOCKER_HOST if it is unix://...,
 * else DOCKER_SOCKET_DEFAULT), check it answers and negotiate the API version.
 * On failure d needs no release.
 */
int docker_init(struct docker *d, const char *socket_path, struct kerr *e);
void docker_release(struct docker *d);

/* GET /_ping: 0 if the daemon answers "OK". */
int docker_ping(const struct docker *d, struct kerr *e);

/*
 * POST /containers/create?name=name (name may be NULL) with config as the body.
 * On success id (DOCKER_ID_MAX bytes) holds the new container's id.
 */
int docker_create(const struct docker *d, const char *name, const cJSON *config,
		  char id[DOCKER_ID_MAX], struct kerr *e);

/*
 * The same with &platform=platform ("linux/arm64"; NULL or "": none), for a
 * container of an image of another architecture (run under emulation): without
 * it Docker warns that the image's platform does not match the host's. API 1.41,
 * Kiln's minimum, has the parameter.
 */
int docker_create_on(const struct docker *d, const char *name, const char *platform,
		     const cJSON *config, char id[DOCKER_ID_MAX], struct kerr *e);

/*
 * PUT /containers/{id}/archive?path=path: unpack the tar archive in fd (read from
 * the current offset to its end) into path, which must exist in the container.
 */
int docker_put_archive(const struct docker *d, const char *id, const char *path, int fd,
		       struct kerr *e);

/* POST /containers/{id}/start. Already started is not an error. */
int docker_start(const struct docker *d, const char *id, struct kerr *e);

/*
 * GET /containers/{id}/logs?stdout=1&stderr=1[&follow=1]: the container's output,
 * demultiplexed (dockerlog.h), one frame at a time to on_frame (a negative return
 * stops the call with that code). With follow the call returns when the container
 * has stopped and its output is drained. tick may be NULL.
 */
int docker_logs(const struct docker *d, const char *id, int follow, docker_frame_fn on_frame,
		docker_tick_fn tick, void *ctx, struct kerr *e);

/*
 * POST /containers/{id}/wait: block until the container is not running, then set
 * *status to its exit status. tick may be NULL (then it can block for ever).
 */
int docker_wait(const struct docker *d, const char *id, docker_tick_fn tick, void *ctx,
		long *status, struct kerr *e);

/* POST /containers/{id}/kill?signal=KILL. A container that is not running is fine. */
int docker_kill(const struct docker *d, const char *id, struct kerr *e);

struct docker_state {
	char status[32];  /* "created", "running", "exited", ... */
	int running;
	int oom_killed;   /* the kernel's OOM killer killed a process of the container */
	int exit_code;
	char error[256];  /* the daemon's error for this container, often "" */
	char image[DOCKER_ID_MAX]; /* the id ("sha256:...") of the image it was created from, or "" */
};

/* GET /containers/{id}/json: the State part, and the container's image id. */
int docker_inspect(const struct docker *d, const char *id, struct docker_state *st,
		   struct kerr *e);

/*
 * HEAD /containers/{id}/archive?path=path: does path exist in the container (as
 * docker_get_archive sees it)? *exists is 1 or 0; an error only when the daemon
 * could not say.
 */
int docker_path_exists(const struct docker *d, const char *id, const char *path, int *exists,
		       struct kerr *e);

/*
 * GET /containers/{id}/archive?path=path: write the tar archive of path into fd,
 * at most max bytes (more is KERR_TOOBIG). Works on a stopped container for paths
 * in its image layers and volumes (not in its tmpfs mounts, which are gone).
 */
int docker_get_archive(const struct docker *d, const char *id, const char *path, int fd,
		       uint64_t max, docker_tick_fn tick, void *ctx, struct kerr *e);

/* DELETE /containers/{id}?force=1&v=1. A container that is gone already is fine. */
int docker_remove(const struct docker *d, const char *id, struct kerr *e);

/*
 * POST /volumes/create: a volume of the local driver named name, with the driver
 * options in opts (an object of strings, may be NULL) and labels (may be NULL).
 */
int docker_volume_create(const struct docker *d, const char *name, const cJSON *opts,
			 const cJSON *labels, struct kerr *e);

/* DELETE /volumes/{name}?force=1. A volume that is gone already is fine. */
int docker_volume_remove(const struct docker *d, const char *name, struct kerr *e);

/*
 * The ids of all containers (GET /containers/json?all=1), or the names of all
 * volumes (GET /volumes), that carry label ("key" or "key=value"). *out is a
 * malloc'd array of malloc'd strings (free each, then the array), *n its length.
 */
int docker_list_containers(const struct docker *d, const char *label, char ***out, size_t *n,
			   struct kerr *e);
int docker_list_volumes(const struct docker *d, const char *label, char ***out, size_t *n,
			struct kerr *e);

/* GET /images/{ref}/json: the image's id ("sha256:..."). KERR_NOTFOUND if there is none. */
int docker_image_id(const struct docker *d, const char *ref, char id[DOCKER_ID_MAX],
		    struct kerr *e);

struct docker_image {
	char id[DOCKER_ID_MAX];   /* "sha256:..." */
	char os[16];              /* "linux" */
	char architecture[32];    /* Docker's name: "amd64", "arm64" */
	char variant[16];         /* "v8", often "" */
	char label[64];           /* the value of the label asked for, "" without it */
};

/*
 * GET /images/{ref}/json: the image's id, platform, and the value of label
 * (may be NULL). KERR_NOTFOUND if there is no such image.
 */
int docker_image_inspect(const struct docker *d, const char *ref, const char *label,
			 struct docker_image *out, struct kerr *e);

/*
 * The platform ("linux/arm64[/v8]") to create containers of image with: "" when
 * the image is of the daemon's own architecture (nothing to say), else the
 * image's. 0, or the inspect's error (KERR_NOTFOUND: no such image).
 */
int docker_image_platform(const struct docker *d, const char *image, char out[64],
			  struct kerr *e);

/*
 * POST /commit?container=..&repo=..&tag=..: a new image from the container's
 * filesystem, with config (may be NULL: {}) merged over the container's (set
 * Cmd, Labels, ... there). Sets id. Not bounded by request_timeout_s.
 */
int docker_commit(const struct docker *d, const char *container, const char *repo,
		  const char *tag, const cJSON *config, char id[DOCKER_ID_MAX], struct kerr *e);

/*
 * DELETE /images/{ref} (not forced): an image gone already is fine; one that a
 * container still uses is KERR_CONFLICT (HTTP 409).
 */
int docker_image_remove(const struct docker *d, const char *ref, struct kerr *e);

/* The ids of all images that carry label ("key" or "key=value"), like docker_list_volumes. */
int docker_list_images(const struct docker *d, const char *label, char ***out, size_t *n,
		       struct kerr *e);

#endif
