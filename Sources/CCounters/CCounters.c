#include "CCounters.h"

uint64_t CCounters_add(uint64_t *slot, uint64_t amount) {
  return __atomic_fetch_add(slot, amount, __ATOMIC_RELAXED);
}

uint64_t CCounters_load(const uint64_t *slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

void CCounters_store(uint64_t *slot, uint64_t value) { __atomic_store_n(slot, value, __ATOMIC_RELEASE); }

bool CCounters_compare_exchange(uint64_t *slot, uint64_t expected, uint64_t desired) {
  return __atomic_compare_exchange_n(slot, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
