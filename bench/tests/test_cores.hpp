// bench/tests/test_cores.hpp: what the measurement tests share: sizes that
// shrink under the sanitizers, and the two cores they run on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "qmesh/runtime/topology.hpp"

namespace qmesh::bench::test {

// Counts divide by QMESH_TEST_SCALE (the asan and tsan test presets set it),
// as in proptests/.
inline std::uint64_t scaled(std::uint64_t n) {
    const char* s = std::getenv("QMESH_TEST_SCALE");
    const long v = s != nullptr ? std::strtol(s, nullptr, 10) : 1;
    return std::max<std::uint64_t>(1, n / static_cast<std::uint64_t>(v > 0 ? v : 1));
}

// Two distinct available PUs, or nothing (a test then skips: two spinning
// threads on one PU measure only the scheduler).
inline std::optional<std::pair<unsigned, unsigned>> two_pus() {
    const auto& av = rt::topology::instance().available();
    if (av.size() < 2) return std::nullopt;
    return std::pair{av[0], av[1]};
}

// For a mesh of two reactors: the first two available PUs, or on a one-core
// machine that one twice, `oversubscribed` (the reactors yield when idle).
struct reactor_pus {
    std::vector<unsigned> cores;
    bool oversubscribed = false;
};
inline reactor_pus two_reactor_pus() {
    const auto& avail = rt::topology::instance().available();
    if (avail.size() >= 2) return {{avail[0], avail[1]}, false};
    return {{avail[0], avail[0]}, true};
}

}  // namespace qmesh::bench::test
