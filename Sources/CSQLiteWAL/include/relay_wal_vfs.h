#ifndef RELAY_WAL_VFS_H
#define RELAY_WAL_VFS_H
#include <sqlite3.h>

// A VFS over SQLite's default one ("unix") that writes a transaction's WAL frames to the file in one write instead
// of two per page (each frame's 24-byte header, then its page: on this project's VMs a system call costs more than
// the copy of a page). Files other than a WAL and the main database are the default VFS's own.
//
// What a WAL file of this VFS is given to write is kept in memory while each write continues the one before it (up
// to 128 KiB - 1 bytes, the most the default VFS writes in one call), and written out, in order, before anything else
// is done with the file (a read, a write elsewhere, a sync, a truncation, its size asked, its close), as soon as the
// page of a commit frame (a frame whose header carries the database's size: the last of a transaction) is given,
// and before the connection's main database file publishes anything in the WAL index (its shared-memory barrier and
// locks): so a frame is in the file (the OS's page cache, as without this VFS with `synchronous=NORMAL`) before any
// connection, of this process or another, can learn of it, and a crash before then loses only a transaction that
// had not committed.
//
// A write that fails fails the call SQLite made (the commit, when it is the commit's frames), and after it every
// write, sync and read of what was lost, until the transaction ends (its WAL write lock is released): the
// transaction fails rather than commit frames the file lacks. Where a call cannot fail (the shared-memory barrier,
// reached with frames kept only under `synchronous=FULL` without power-safe overwrite, which Relay does not use),
// the process stops. Relay opens its files in SQLite's normal locking mode; in `locking_mode=EXCLUSIVE` (no
// shared-memory locks) a failure lasts until the connection is closed.
//
// Registers the VFS under `relay_wal_vfs_name` (not as the default); SQLITE_OK or SQLite's error. Idempotent.
int relay_wal_vfs_register(void);
extern const char *const relay_wal_vfs_name;

// What WAL files of this VFS were given to write and what they wrote: writes given by SQLite, writes made to the file
// (system calls), and of the writes given those that did not continue the one before (written as they came).
typedef struct relay_wal_vfs_counts {
    sqlite3_int64 writes_given;
    sqlite3_int64 writes_made;
    sqlite3_int64 writes_elsewhere;
} relay_wal_vfs_counts;
// Over the process (for `relay bench`).
relay_wal_vfs_counts relay_wal_vfs_counts_now(void);
// Of the WAL files of a connection's main database opened through this VFS, so far (for tests); SQLITE_NOTFOUND for
// a connection of another VFS.
int relay_wal_vfs_connection_counts(sqlite3 *db, relay_wal_vfs_counts *counts);
#endif
