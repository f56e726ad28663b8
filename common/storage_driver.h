/*
 * storage_driver: what storage.c shares with its two drivers (storage_fs.c,
 * storage_s3.c). Not for use outside common/storage*.c.
 *
 * storage.c checks keys and arguments and opens the file of a put_file before
 * calling a driver, so drivers may assume a valid key (or prefix) and a
 * regular file of known size.
 */
#ifndef KILN_STORAGE_DRIVER_H
#define KILN_STORAGE_DRIVER_H

#include "common/storage.h"

struct storage__s3;

struct storage__ops {
	const char *name;
	int (*put_fd)(struct storage *s, const char *key, int fd, uint64_t size,
		      const char *content_type, struct kerr *e);
	int (*put_mem)(struct storage *s, const char *key, const void *p, size_t n,
		       const char *content_type, struct kerr *e);
	int (*get)(struct storage *s, const char *key, uint64_t offset, uint64_t length,
		   storage_sink_fn sink, void *ctx, struct kerr *e);
	int (*stat)(struct storage *s, const char *key, uint64_t *size, struct kerr *e);
	int (*del)(struct storage *s, const char *key, struct kerr *e);
	int (*list)(struct storage *s, const char *prefix, storage_each_fn each, void *ctx,
		    struct kerr *e);
	int (*presign_get)(struct storage *s, const char *key, int expires,
			   struct buf *url_out, struct kerr *e);
	void (*release)(struct storage *s);
};

/* Never written after storage_open/storage_set_multipart: see storage.h. */
struct storage {
	const struct storage__ops *ops;
	uint64_t mp_threshold;
	uint64_t mp_part;
	int presign_ttl;
	char *fs_root;          /* fs: absolute path of the root, no trailing '/' */
	struct storage__s3 *s3; /* s3: endpoint, bucket, credentials */
};

/* Size of the pieces data is moved in (read buffers, sink calls). */
#define STORAGE__CHUNK (256u << 10)

/* Fill s's driver fields and ops from cfg. 0 or KERR_INVAL/KERR_IO. */
int storage__fs_open(struct storage *s, const struct config *cfg, struct kerr *e);
int storage__s3_open(struct storage *s, const struct config *cfg, struct kerr *e);

/* Is name possible as one segment of a key? (The fs driver's listing filter.) */
int storage__segment_valid(const char *name);

#endif
