#define _GNU_SOURCE
#include "process_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

int relay_spawn_process_group(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                              const char *directory, int stdin_fd, int stdout_fd, int stderr_fd) {
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int status = posix_spawnattr_init(&attributes);
    if (status != 0) return status;
    status = posix_spawn_file_actions_init(&actions);
    if (status != 0) {
        posix_spawnattr_destroy(&attributes);
        return status;
    }

    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef __APPLE__
    // Darwin has no addclosefrom; this closes every descriptor not named in a file action instead.
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    // Group 0: the child's own pid becomes its group id. Signals the parent ignores (SIGPIPE) or blocks are
    // reset, so a plugin starts as it would from a shell.
    if ((status = posix_spawnattr_setflags(&attributes, flags)) != 0
        || (status = posix_spawnattr_setpgroup(&attributes, 0)) != 0
        || (status = posix_spawnattr_setsigmask(&attributes, &none)) != 0
        || (status = posix_spawnattr_setsigdefault(&attributes, &all)) != 0
        || (status = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0)) != 0
        || (status = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1)) != 0
        || (status = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2)) != 0
#ifndef __APPLE__
        || (status = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) != 0
#endif
        || (directory != NULL && (status = posix_spawn_file_actions_addchdir_np(&actions, directory)) != 0)) {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
        return status;
    }
    status = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return status;
}

int relay_pipe_cloexec(int descriptors[2]) {
#ifdef __linux__
    return pipe2(descriptors, O_CLOEXEC);
#else
    if (pipe(descriptors) != 0) return -1;
    fcntl(descriptors[0], F_SETFD, FD_CLOEXEC);
    fcntl(descriptors[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

void relay_name_current_thread(const char *name) {
    char kept[16];
    strncpy(kept, name, sizeof kept - 1);
    kept[sizeof kept - 1] = 0;
#ifdef __APPLE__
    pthread_setname_np(kept);
#else
    pthread_setname_np(pthread_self(), kept);
#endif
}
