#ifndef RELAY_CSQLITE_SHIM_H
#define RELAY_CSQLITE_SHIM_H
#include <sqlite3.h>
// SQLITE_TRANSIENT is a macro over a cast Swift cannot import: make SQLite copy bound text and blobs.
static inline void relay_sqlite3_bind_text(sqlite3_stmt *s, int i, const char *t, int n) { sqlite3_bind_text(s, i, t, n, SQLITE_TRANSIENT); }
static inline void relay_sqlite3_bind_blob(sqlite3_stmt *s, int i, const void *b, int n) { sqlite3_bind_blob(s, i, b, n, SQLITE_TRANSIENT); }
// sqlite3_config is variadic, which Swift cannot call: SQLite's memory statistics off (a global mutex taken at every
// allocation SQLite makes); only before SQLite is initialised, else SQLITE_MISUSE and nothing changes.
static inline int relay_sqlite3_disable_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
#endif
