/*
 * fdio: Kiln's one loop that writes a whole buffer to a file descriptor
 * (spool files, downloads, archives, cached pages).
 */
#ifndef KILN_FDIO_H
#define KILN_FDIO_H

#include <stddef.h>

/*
 * Write all n bytes at p to fd, again after EINTR and short writes. 0, or -1
 * with errno set (a write that wrote nothing without an error sets EIO).
 */
int fdio_write_all(int fd, const void *p, size_t n);

#endif
