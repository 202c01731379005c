// The door to process spawning: one detached posix_spawn, for the Event deliverer that outlives an
// admission. Every symbol carries the CSpawn_ prefix.
#ifndef CSPAWN_H
#define CSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` in a new session, fds 0-2 on /dev/null and every other fd
/// closed, so that it outlives the caller and holds no pipe of a CGI host open. Two exceptions, each
/// when not -1: `stdin_fd` becomes its fd 0 (a pipe it reads what it is handed), and `passed_fd` its fd 3
/// (a descriptor that carries a lock). Returns the child's pid, or -errno.
pid_t CSpawn_detached(const char *path, char *const argv[], char *const envp[], int stdin_fd, int passed_fd);

#endif
