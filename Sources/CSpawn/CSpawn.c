// posix_spawn_file_actions_addclosefrom_np and POSIX_SPAWN_SETSID are GNU extensions.
#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

pid_t CSpawn_detached(const char *path, char *const argv[], char *const envp[], int stdin_fd, int passed_fd) {
  // dup2 onto its own number would keep close-on-exec: move such a descriptor out of the way first.
  int moved_stdin = -1, moved_passed = -1;
  if (stdin_fd >= 0 && stdin_fd <= 3) stdin_fd = moved_stdin = fcntl(stdin_fd, F_DUPFD_CLOEXEC, 10);
  if (passed_fd >= 0 && passed_fd <= 3) passed_fd = moved_passed = fcntl(passed_fd, F_DUPFD_CLOEXEC, 10);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  if (stdin_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  else
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  if (passed_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, passed_fd, 3);
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  } else {
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  }
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  pid_t pid = 0;
  int error = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (moved_stdin >= 0) close(moved_stdin);
  if (moved_passed >= 0) close(moved_passed);
  return error ? -error : pid;
}
