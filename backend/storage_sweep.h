/*
 * storage_sweep: deletes stored objects that no row references.
 *
 * Storage and the database cannot change together, so every object that may
 * end up without a row is named first in storage_pending
 * (migrations/0010_storage_sweep.sql):
 *   - an upload registers its key before it stores the object, due after
 *     KILN_STORAGE_SWEEP_GRACE (an hour): its artifact row is inserted before
 *     then (and the registration dropped with it), or never, if the backend died
 *     in between or the insert was refused. The insert takes the registration's
 *     row lock and needs the row: an upload slower than the grace, whose object
 *     a sweep deleted, gets no row (it is refused, to be retried) instead of a
 *     row without its object;
 *   - every statement that drops artifact rows (a failed finish, the reaper, a
 *     cancel) registers their keys in the same statement, due at once, and the
 *     replica that ran it asks for a sweep soon;
 *   - each sweep first drops the wheels of releases and projects deleted
 *     upstream more than KILN_DELETED_RETENTION ago (out of the index since
 *     their deletion), registering their keys due, in a statement of its own
 *     committed before it deletes anything.
 * Each replica sweeps every minute, and soon after a drop. A sweep is one
 * transaction on its own connection, on a worker thread: it locks the due rows
 * (FOR UPDATE SKIP LOCKED, so replicas share the work), deletes each object that
 * no artifact references, then the rows, and commits. An upload registering a
 * key the sweep holds waits for that commit (its upsert needs the row), so an
 * object is never deleted under an upload of the same bytes: keys are content
 * addressed, and a rebuild's identical wheel has the lost attempt's key.
 * A delete that fails (storage down) is tried again a minute later.
 */
#ifndef KILN_STORAGE_SWEEP_H
#define KILN_STORAGE_SWEEP_H

struct server;

/* Start the minute timer (service thread). 0. */
int storage_sweep_init(struct server *srv);
void storage_sweep_release(struct server *srv);

/* Sweep within a second or so (service thread): keys were just registered due. */
void storage_sweep_soon(struct server *srv);

#endif
