// The WAL-batching VFS: see include/relay_wal_vfs.h for what it does and why it is safe.
#include "relay_wal_vfs.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const relay_wal_vfs_name = "relay-wal";

// SQLite's default VFS, which every call ends in.
static sqlite3_vfs *base_vfs;
static sqlite3_vfs relay_vfs;

static _Atomic sqlite3_int64 writes_given;
static _Atomic sqlite3_int64 writes_made;
static _Atomic sqlite3_int64 writes_elsewhere;

// The file control through which `relay_wal_vfs_connection_counts` asks a main database file of this VFS.
#define COUNTS_FILE_CONTROL 0x72770001

typedef struct wal_file wal_file;

// A main database file: the default VFS's, with its WAL file known (to write what the WAL keeps before the WAL index
// publishes it).
typedef struct db_file {
    sqlite3_file base;
    wal_file *wal;
    // What its WAL files did (`relay_wal_vfs_connection_counts`).
    relay_wal_vfs_counts counts;
} db_file;

// A WAL file: the default VFS's, with the writes that continue each other kept until they must be written.
struct wal_file {
    sqlite3_file base;
    // The connection's main database file (NULL: not found, and then nothing is kept: every write goes through).
    db_file *db;
    // MAX_CAPACITY bytes, allocated at the first write kept.
    unsigned char *buffer;
    int length;
    // The file offset of buffer[0].
    sqlite3_int64 start;
    // Where the last write given ended (-1: none, or unknown since a truncation).
    sqlite3_int64 last_end;
    // The last write given was the 24-byte header of a commit frame: the write of its page ends the transaction.
    int commit_header;
    // A write of what was kept failed (SQLITE_OK: none): what was kept from `failed_from` on is lost, so until the
    // transaction ends (its WAL write lock released) nothing more is written, read from there on, synced or
    // committed: the transaction fails instead of committing frames that are not in the file.
    int failed;
    sqlite3_int64 failed_from;
};

// The space before the default VFS's own file object in each file object of this VFS (8-byte aligned).
#define WRAPPER_SIZE ((((sizeof(db_file) > sizeof(wal_file) ? sizeof(db_file) : sizeof(wal_file)) + 7) & ~(size_t)7))
// (SQLite's Unix VFS writes at most 128 KiB - 1 bytes in one call: it masks a write's length to 17 bits, never
// having been given more than a page of 64 KiB.)
#define MAX_CAPACITY 0x1ffff

// The default VFS's file object inside one of this VFS's.
static sqlite3_file *real_of(sqlite3_file *file) { return (sqlite3_file *)((char *)file + WRAPPER_SIZE); }

// MARK: - The WAL file

static void count_made(wal_file *f) {
    atomic_fetch_add_explicit(&writes_made, 1, memory_order_relaxed);
    if (f->db != NULL) f->db->counts.writes_made += 1;
}

// Writes what is kept; SQLite's error, which stays (`failed`) until the transaction ends.
static int wal_flush(wal_file *f) {
    if (f->failed != SQLITE_OK) return f->failed;
    if (f->length == 0) return SQLITE_OK;
    int length = f->length;
    f->length = 0;
    f->commit_header = 0;
    count_made(f);
    sqlite3_file *real = real_of(&f->base);
    int rc = real->pMethods->xWrite(real, f->buffer, length, f->start);
    if (rc != SQLITE_OK) {
        f->failed = rc;
        f->failed_from = f->start;
        f->last_end = -1;
    }
    return rc;
}

// The transaction's end (its WAL write lock released): what is still kept was never published, and is dropped (the
// next transaction writes over it); a failure is forgotten. (`last_end` stays: the next transaction's first frame
// usually continues the last commit's, and is kept with the rest; a write elsewhere is written as it comes.)
static void wal_end_transaction(wal_file *f) {
    f->length = 0;
    f->commit_header = 0;
    f->failed = SQLITE_OK;
}

// A frame's header: the page's number, then the database's size in pages after the commit (0 but in a commit frame).
static int is_commit_header(const void *data, int amount) {
    const unsigned char *header = data;
    return amount == 24 && (header[4] | header[5] | header[6] | header[7]) != 0;
}

// Writes `data` as it is given, after what is kept.
static int wal_write_through(wal_file *f, const void *data, int amount, sqlite3_int64 offset) {
    int rc = wal_flush(f);
    f->last_end = -1;
    if (rc != SQLITE_OK) return rc;
    count_made(f);
    sqlite3_file *real = real_of(&f->base);
    rc = real->pMethods->xWrite(real, data, amount, offset);
    // (A write that fails here fails its own call, with nothing kept lost: SQLite sees the error as without this
    // VFS.)
    if (rc == SQLITE_OK) {
        f->last_end = offset + amount;
        f->commit_header = is_commit_header(data, amount);
    }
    return rc;
}

static int wal_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    wal_file *f = (wal_file *)file;
    if (f->failed != SQLITE_OK) return f->failed;
    atomic_fetch_add_explicit(&writes_given, 1, memory_order_relaxed);
    if (f->db != NULL) f->db->counts.writes_given += 1;
    if (f->db == NULL || offset != f->last_end || amount > MAX_CAPACITY) {
        // Not a continuation of the last write (the WAL's header at a restart, a page rewritten in place, frames'
        // checksums rewritten): what is kept is written first, then this, in the order given.
        atomic_fetch_add_explicit(&writes_elsewhere, 1, memory_order_relaxed);
        if (f->db != NULL) f->db->counts.writes_elsewhere += 1;
        return wal_write_through(f, data, amount, offset);
    }
    if (f->buffer == NULL) f->buffer = sqlite3_malloc(MAX_CAPACITY);
    // (No memory for a buffer: written as it comes.)
    if (f->buffer == NULL) return wal_write_through(f, data, amount, offset);
    // (Whether this is the page of a commit frame, read before a flush below forgets it.)
    int completes_commit = f->commit_header;
    if (f->length + amount > MAX_CAPACITY) {
        int rc = wal_flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    if (f->length == 0) f->start = offset;
    memcpy(f->buffer + f->length, data, (size_t)amount);
    f->length += amount;
    f->last_end = offset + amount;
    if (completes_commit) {
        // The page of a commit frame: the transaction's last frame is complete, and the WAL index is about to
        // publish it. Written now, where an error can still fail the commit.
        return wal_flush(f);
    }
    f->commit_header = is_commit_header(data, amount);
    return SQLITE_OK;
}

static int wal_close(sqlite3_file *file) {
    wal_file *f = (wal_file *)file;
    int rc = wal_flush(f);
    sqlite3_free(f->buffer);
    f->buffer = NULL;
    if (f->db != NULL) f->db->wal = NULL;
    sqlite3_file *real = real_of(file);
    int closed = real->pMethods->xClose(real);
    return rc != SQLITE_OK ? rc : closed;
}

static int wal_read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset) {
    wal_file *f = (wal_file *)file;
    if (f->failed != SQLITE_OK) {
        // (What lies before the lost writes is as it was: a rollback reads committed frames back from there.)
        if (offset + amount > f->failed_from) return f->failed;
    } else {
        int rc = wal_flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    sqlite3_file *real = real_of(file);
    return real->pMethods->xRead(real, data, amount, offset);
}

static int wal_truncate(sqlite3_file *file, sqlite3_int64 size) {
    wal_file *f = (wal_file *)file;
    int rc = wal_flush(f);
    f->last_end = -1;
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = real_of(file);
    return real->pMethods->xTruncate(real, size);
}

static int wal_sync(sqlite3_file *file, int flags) {
    wal_file *f = (wal_file *)file;
    int rc = wal_flush(f);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = real_of(file);
    return real->pMethods->xSync(real, flags);
}

static int wal_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    wal_file *f = (wal_file *)file;
    int rc = wal_flush(f);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = real_of(file);
    return real->pMethods->xFileSize(real, size);
}

static int wal_file_control(sqlite3_file *file, int op, void *argument) {
    wal_file *f = (wal_file *)file;
    int rc = wal_flush(f);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = real_of(file);
    return real->pMethods->xFileControl(real, op, argument);
}

static int wal_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **pointer) {
    wal_file *f = (wal_file *)file;
    int rc = wal_flush(f);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *real = real_of(file);
    return real->pMethods->xFetch(real, offset, amount, pointer);
}

// MARK: - Calls passed through as they are (to either kind of file)

static int pass_read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xRead(real, data, amount, offset);
}

static int pass_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xWrite(real, data, amount, offset);
}

static int pass_truncate(sqlite3_file *file, sqlite3_int64 size) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xTruncate(real, size);
}

static int pass_sync(sqlite3_file *file, int flags) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xSync(real, flags);
}

static int pass_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xFileSize(real, size);
}

static int pass_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **pointer) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xFetch(real, offset, amount, pointer);
}

static int pass_lock(sqlite3_file *file, int lock) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xLock(real, lock);
}

static int pass_unlock(sqlite3_file *file, int lock) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xUnlock(real, lock);
}

static int pass_check_reserved_lock(sqlite3_file *file, int *out) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xCheckReservedLock(real, out);
}

static int pass_sector_size(sqlite3_file *file) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xSectorSize(real);
}

static int pass_device_characteristics(sqlite3_file *file) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xDeviceCharacteristics(real);
}

static int pass_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **pointer) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xShmMap(real, region, size, extend, pointer);
}

static int pass_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *pointer) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xUnfetch(real, offset, pointer);
}

static int pass_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xShmLock(real, offset, n, flags);
}

static void pass_shm_barrier(sqlite3_file *file) {
    sqlite3_file *real = real_of(file);
    real->pMethods->xShmBarrier(real);
}

static int pass_shm_unmap(sqlite3_file *file, int delete_flag) {
    sqlite3_file *real = real_of(file);
    return real->pMethods->xShmUnmap(real, delete_flag);
}

static const sqlite3_io_methods wal_methods = {
    3, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_file_size, pass_lock, pass_unlock,
    pass_check_reserved_lock, wal_file_control, pass_sector_size, pass_device_characteristics, pass_shm_map,
    pass_shm_lock, pass_shm_barrier, pass_shm_unmap, wal_fetch, pass_unfetch,
};

// MARK: - The main database file

static int db_close(sqlite3_file *file) {
    db_file *f = (db_file *)file;
    if (f->wal != NULL) f->wal->db = NULL;
    sqlite3_file *real = real_of(file);
    return real->pMethods->xClose(real);
}

static int db_file_control(sqlite3_file *file, int op, void *argument) {
    db_file *f = (db_file *)file;
    if (op == COUNTS_FILE_CONTROL) {
        *(relay_wal_vfs_counts *)argument = f->counts;
        return SQLITE_OK;
    }
    sqlite3_file *real = real_of(file);
    return real->pMethods->xFileControl(real, op, argument);
}

// The shared-memory lock that a WAL writer holds for its transaction (SQLite's WAL_WRITE_LOCK).
#define WAL_WRITE_LOCK 0

static int db_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    db_file *f = (db_file *)file;
    if (f->wal != NULL && (flags & SQLITE_SHM_UNLOCK)) {
        // What is kept when a lock is released has not been published (a commit's frames are written when its last
        // page is given, and in any case at the barrier before the WAL index is changed): written if it can be,
        // forgotten with the transaction when the write lock goes; the lock is released either way (SQLite does not
        // look at an unlock's result, and a lock kept would stop every writer).
        (void)wal_flush(f->wal);
        if (offset <= WAL_WRITE_LOCK && WAL_WRITE_LOCK < offset + n) wal_end_transaction(f->wal);
    } else if (f->wal != NULL && f->wal->failed == SQLITE_OK) {
        int rc = wal_flush(f->wal);
        if (rc != SQLITE_OK) return rc;
    }
    sqlite3_file *real = real_of(file);
    return real->pMethods->xShmLock(real, offset, n, flags);
}

static void db_shm_barrier(sqlite3_file *file) {
    db_file *f = (db_file *)file;
    // The WAL index may be about to publish what was written: it must be in the file first. (A commit's frames were
    // written when its last page was given, where an error fails the commit; this is for any other order of writes,
    // which Relay's settings do not make: `synchronous=FULL` without power-safe overwrite splits a commit's padding.
    // A barrier cannot fail: if the write does, no reader may be told of frames the file lacks. After an earlier
    // failure nothing is kept, and the transaction cannot commit.)
    if (f->wal != NULL && f->wal->failed == SQLITE_OK && wal_flush(f->wal) != SQLITE_OK) {
        fprintf(stderr, "relay: the WAL's frames could not be written before SQLite published them: stopping\n");
        abort();
    }
    sqlite3_file *real = real_of(file);
    real->pMethods->xShmBarrier(real);
}

static int db_shm_unmap(sqlite3_file *file, int delete_flag) {
    db_file *f = (db_file *)file;
    if (f->wal != NULL) {
        // (Closing the WAL, no transaction open: nothing kept is published any more; unmapped either way.)
        (void)wal_flush(f->wal);
        wal_end_transaction(f->wal);
    }
    sqlite3_file *real = real_of(file);
    return real->pMethods->xShmUnmap(real, delete_flag);
}

static const sqlite3_io_methods db_methods = {
    3, db_close, pass_read, pass_write, pass_truncate, pass_sync, pass_file_size, pass_lock, pass_unlock,
    pass_check_reserved_lock, db_file_control, pass_sector_size, pass_device_characteristics, pass_shm_map,
    db_shm_lock, db_shm_barrier, db_shm_unmap, pass_fetch, pass_unfetch,
};

// MARK: - The VFS

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    int kind = flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL);
    if (name == NULL || kind == 0) {
        // Anything else (journals, temporary files) is the default VFS's own object, in the same space.
        return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
    }
    sqlite3_file *real = real_of(file);
    memset(file, 0, WRAPPER_SIZE);
    int rc = base_vfs->xOpen(base_vfs, name, real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (real->pMethods != NULL) real->pMethods->xClose(real);
        file->pMethods = NULL;
        return rc;
    }
    if (real->pMethods->iVersion < 3) {
        // (The default VFS on Unix has version 3; with an older one, this VFS only passes its calls on.)
        real->pMethods->xClose(real);
        file->pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    if (flags & SQLITE_OPEN_MAIN_DB) {
        file->pMethods = &db_methods;
        return SQLITE_OK;
    }
    wal_file *f = (wal_file *)file;
    f->last_end = -1;
    // The main database file of the connection that opens this WAL (SQLite names a WAL after it), whose
    // shared-memory barrier and locks write what the WAL keeps; without one of this VFS's (never, as SQLite opens
    // files), nothing is kept.
    sqlite3_file *db = sqlite3_database_file_object(name);
    if (db != NULL && db->pMethods == &db_methods && ((db_file *)db)->wal == NULL) {
        f->db = (db_file *)db;
        f->db->wal = f;
    }
    file->pMethods = &wal_methods;
    return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return base_vfs->xFullPathname(base_vfs, name, size, out);
}

static void *vfs_dl_open(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return base_vfs->xDlOpen(base_vfs, name);
}

static void vfs_dl_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    base_vfs->xDlError(base_vfs, size, out);
}

static void (*vfs_dl_sym(sqlite3_vfs *vfs, void *library, const char *symbol))(void) {
    (void)vfs;
    return base_vfs->xDlSym(base_vfs, library, symbol);
}

static void vfs_dl_close(sqlite3_vfs *vfs, void *library) {
    (void)vfs;
    base_vfs->xDlClose(base_vfs, library);
}

static int vfs_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xRandomness(base_vfs, size, out);
}

static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return base_vfs->xSleep(base_vfs, microseconds);
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return base_vfs->xCurrentTime(base_vfs, out);
}

static int vfs_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, size, out) : 0;
}

static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

int relay_wal_vfs_register(void) {
    if (sqlite3_vfs_find(relay_wal_vfs_name) != NULL) return SQLITE_OK;
    int rc = sqlite3_initialize();
    if (rc != SQLITE_OK) return rc;
    base_vfs = sqlite3_vfs_find(NULL);
    if (base_vfs == NULL || base_vfs->iVersion < 2) return SQLITE_ERROR;
    memset(&relay_vfs, 0, sizeof relay_vfs);
    relay_vfs.iVersion = 2;
    relay_vfs.szOsFile = (int)(WRAPPER_SIZE) + base_vfs->szOsFile;
    relay_vfs.mxPathname = base_vfs->mxPathname;
    relay_vfs.zName = relay_wal_vfs_name;
    relay_vfs.xOpen = vfs_open;
    relay_vfs.xDelete = vfs_delete;
    relay_vfs.xAccess = vfs_access;
    relay_vfs.xFullPathname = vfs_full_pathname;
    relay_vfs.xDlOpen = vfs_dl_open;
    relay_vfs.xDlError = vfs_dl_error;
    relay_vfs.xDlSym = vfs_dl_sym;
    relay_vfs.xDlClose = vfs_dl_close;
    relay_vfs.xRandomness = vfs_randomness;
    relay_vfs.xSleep = vfs_sleep;
    relay_vfs.xCurrentTime = vfs_current_time;
    relay_vfs.xGetLastError = vfs_get_last_error;
    relay_vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    return sqlite3_vfs_register(&relay_vfs, 0);
}

relay_wal_vfs_counts relay_wal_vfs_counts_now(void) {
    relay_wal_vfs_counts counts = {
        atomic_load_explicit(&writes_given, memory_order_relaxed),
        atomic_load_explicit(&writes_made, memory_order_relaxed),
        atomic_load_explicit(&writes_elsewhere, memory_order_relaxed),
    };
    return counts;
}

int relay_wal_vfs_connection_counts(sqlite3 *db, relay_wal_vfs_counts *counts) {
    return sqlite3_file_control(db, "main", COUNTS_FILE_CONTROL, counts);
}
