// Atomic operations on 64-bit counters in memory shared between processes (a MAP_SHARED file), which
// Swift's own atomics do not reach, and the one-call open of that file. Every symbol carries the
// CCounters_ prefix.
#ifndef CCOUNTERS_H
#define CCOUNTERS_H

#include <stdbool.h>
#include <stdint.h>

/// Adds `amount` to `*slot` atomically; returns the value before.
uint64_t CCounters_add(uint64_t *slot, uint64_t amount);

/// Reads `*slot` atomically (acquire: what was written before the matching store is visible).
uint64_t CCounters_load(const uint64_t *slot);

/// Writes `*slot` atomically (release: what was written before is visible to a reader that loads it).
void CCounters_store(uint64_t *slot, uint64_t value);

/// Replaces `*slot` with `desired` when it holds `expected`; true when it did.
bool CCounters_compare_exchange(uint64_t *slot, uint64_t expected, uint64_t desired);

/// Opens `path` for reading and writing with openat2(2) without following any symbolic link on the way
/// (RESOLVE_NO_SYMLINKS) nor through /proc magic links; close-on-exec, non-blocking. Returns the
/// descriptor, or -errno (-ENOSYS where the kernel or a seccomp filter lacks openat2).
int CCounters_open_no_symlinks(const char *path);

#endif
