// qmesh/runtime/clock.hpp: the runtime's two clocks, for its own counters
// and for benchmarks that measure beside it.
#pragma once

#include <chrono>
#include <cstdint>

#include <time.h>

namespace qmesh::rt {

// CPU time the calling thread has used, ns (CLOCK_THREAD_CPUTIME_ID): what
// a reactor, or a benchmark's measuring thread, got of its core.
inline std::uint64_t thread_cpu_ns() noexcept {
    timespec ts{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

namespace detail {
// Monotonic wall time, ns (steady_clock).
inline std::uint64_t clock_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}
}  // namespace detail

}  // namespace qmesh::rt
