#ifndef RELAY_CSQLITE_SHIM_H
#define RELAY_CSQLITE_SHIM_H
// The pre-update hook (Debian's SQLite is built with it; its header declares it only when asked).
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>
// SQLITE_TRANSIENT is a macro over a cast Swift cannot import: make SQLite copy bound text and blobs.
static inline void relay_sqlite3_bind_text(sqlite3_stmt *s, int i, const char *t, int n) { sqlite3_bind_text(s, i, t, n, SQLITE_TRANSIENT); }
static inline void relay_sqlite3_bind_blob(sqlite3_stmt *s, int i, const void *b, int n) { sqlite3_bind_blob(s, i, b, n, SQLITE_TRANSIENT); }
// sqlite3_config is variadic, which Swift cannot call: SQLite's memory statistics off (a global mutex taken at every
// allocation SQLite makes); only before SQLite is initialised, else SQLITE_MISUSE and nothing changes.
static inline int relay_sqlite3_disable_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

#include <string.h>

// The pre-update hook, filtered here: `callback` is called only for a row of one of `tables` (table names of the main
// database, at most four, NULL after the last) with the table's index and the operation (SQLITE_INSERT, _UPDATE,
// _DELETE). The rows of other tables (every message of the bus) cost a comparison of names, not a call into Swift.
typedef void (*relay_row_callback)(void *context, sqlite3 *db, int table, int operation);
typedef struct relay_row_hook {
    void *context;
    relay_row_callback callback;
    const char *tables[4];
} relay_row_hook;

static void relay_row_hook_fire(
    void *p, sqlite3 *db, int operation, char const *database, char const *table, sqlite3_int64 key1,
    sqlite3_int64 key2) {
    (void)key1;
    (void)key2;
    const relay_row_hook *hook = (const relay_row_hook *)p;
    if (strcmp(database, "main") != 0) return;
    for (int i = 0; i < 4 && hook->tables[i]; i++) {
        if (strcmp(table, hook->tables[i]) == 0) {
            hook->callback(hook->context, db, i, operation);
            return;
        }
    }
}

// Sets `hook` as the connection's pre-update hook (NULL: none).
static inline void relay_sqlite3_set_row_hook(sqlite3 *db, relay_row_hook *hook) {
    sqlite3_preupdate_hook(db, hook ? relay_row_hook_fire : NULL, hook);
}
#endif
