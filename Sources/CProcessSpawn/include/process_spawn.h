#ifndef RELAY_PROCESS_SPAWN_H
#define RELAY_PROCESS_SPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` as the leader of a new process group (its pgid is its pid), with
/// `stdin_fd`, `stdout_fd` and `stderr_fd` as its 0, 1 and 2, every other descriptor closed, every signal at its
/// default disposition and none blocked, in `directory` when it is not NULL. Returns 0 and sets `*pid`, or an
/// errno value.
///
/// Why C: posix_spawn sets the group before exec (POSIX_SPAWN_SETPGROUP), so nothing the child starts can run
/// outside it, which Foundation's Process cannot do; and the glibc extensions used here
/// (posix_spawn_file_actions_addchdir_np, _addclosefrom_np) are declared only under _GNU_SOURCE, which Swift's
/// Glibc module does not define.
int relay_spawn_process_group(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                              const char *directory, int stdin_fd, int stdout_fd, int stderr_fd);

/// Creates a pipe whose two ends are close-on-exec from the start (pipe2 with O_CLOEXEC where it exists, so no
/// process spawned meanwhile by another thread inherits them). Returns 0, or -1 with errno set.
int relay_pipe_cloexec(int descriptors[2]);

/// Names the calling thread (Linux keeps 15 bytes; longer names are cut), as debuggers and backtraces show it.
/// pthread_setname_np too is declared only under _GNU_SOURCE.
void relay_name_current_thread(const char *name);

#endif
