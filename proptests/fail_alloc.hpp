// proptests/fail_alloc.hpp: makes the calling thread's next allocations
// through the global operator new throw std::bad_alloc, to test the paths
// that must survive one (forward_to, then(), submit_to).
//
// Only where the runtime pools its blocks and no sanitizer replaces
// operator new (ASan and TSan intercept it; a second replacement would
// fight theirs): `available` is false there and the tests skip. A pooled
// block comes from ::operator new only when its thread's free list is empty,
// so a test arms the fault on a fresh thread, whose lists are.
#pragma once

#include "qmesh/runtime/pool.hpp"

namespace qmesh::test {

inline constexpr bool alloc_faults_available = QMESH_RT_POOL != 0;

// On this thread, the next `skip` allocations succeed and the `fail` after
// them throw std::bad_alloc (0, 0 disarms).
void fail_allocations(int skip, int fail) noexcept;
// Allocations still to fail on this thread (0 once every one armed was).
int allocations_left_to_fail() noexcept;

}  // namespace qmesh::test
