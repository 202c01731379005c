#define _GNU_SOURCE
#include "CCounters.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t CCounters_add(uint64_t *slot, uint64_t amount) {
  return __atomic_fetch_add(slot, amount, __ATOMIC_RELAXED);
}

uint64_t CCounters_load(const uint64_t *slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

void CCounters_store(uint64_t *slot, uint64_t value) { __atomic_store_n(slot, value, __ATOMIC_RELEASE); }

bool CCounters_compare_exchange(uint64_t *slot, uint64_t expected, uint64_t desired) {
  return __atomic_compare_exchange_n(slot, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

int CCounters_open_no_symlinks(const char *path) {
#ifdef SYS_openat2
  struct open_how how = {
      .flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
      .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
#else
  (void)path;
  return -ENOSYS;
#endif
}
