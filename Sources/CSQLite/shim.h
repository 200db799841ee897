#ifndef RELAY_CSQLITE_SHIM_H
#define RELAY_CSQLITE_SHIM_H
#include <sqlite3.h>
// SQLITE_TRANSIENT is a macro over a cast Swift cannot import: make SQLite copy bound text and blobs.
static inline void relay_sqlite3_bind_text(sqlite3_stmt *s, int i, const char *t, int n) { sqlite3_bind_text(s, i, t, n, SQLITE_TRANSIENT); }
static inline void relay_sqlite3_bind_blob(sqlite3_stmt *s, int i, const void *b, int n) { sqlite3_bind_blob(s, i, b, n, SQLITE_TRANSIENT); }
#endif
