// bench/src/bracket.hpp: a round trip measured between two measurements of
// its reference, so that a host that moves the threads mid-entry is caught.
//
// The pingpong and submit suites divide a round trip by a reference measured
// on the same pair: the bare cache-line floor, and for submit_to the raw
// queue's own round trip. On a virtual machine the host may move the two
// vCPUs between physical cores at any moment, and the round trip of a pair
// then jumps by 2x or more (on our 2-vCPU VMs the floor took the values 80,
// 130, 180 and 550 ns within one run). A reference measured only before the
// entry cannot tell whether such a jump fell between the two: the ratio was
// then 0.3 or 10 instead of 2. So the reference is measured before and after
// the entry; if the two disagree by more than `tolerance` the entry is
// measured again, up to `attempts` times in all, and if they never agree the
// entry keeps its own figures but has no ratio (and says why).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "measure.hpp"

namespace qmesh::bench {

// `qmesh run --bracket-tolerance / --bracket-tries` unless given.
inline constexpr double default_bracket_tolerance = 0.25;
inline constexpr unsigned default_bracket_attempts = 3;

struct bracket_params {
    double tolerance = default_bracket_tolerance;  // largest |after - before| / min(before, after) that counts as agreeing
    unsigned attempts = default_bracket_attempts;  // measurements of the whole bracket, at most
};

// A reference measured before and after an entry.
struct reference_pair {
    latency_result before, after;

    bool ok() const noexcept { return before.ok && after.ok && before.p50 > 0 && after.p50 > 0; }
    // Both measured, and neither more than `tolerance` above the other.
    bool agree(double tolerance) const noexcept {
        if (!ok()) return false;
        const double lo = std::min(before.p50, after.p50), hi = std::max(before.p50, after.p50);
        return hi - lo <= tolerance * lo;
    }
    // The reference the entry is divided by: the mean of the two.
    double p50() const noexcept { return (before.p50 + after.p50) / 2; }
    // Why there is no ratio ("" if there is one).
    std::string problem(const char* what, double tolerance, unsigned tries) const {
        if (!before.ok) return what + std::string(" before the entry failed: ") + before.error;
        if (!after.ok) return what + std::string(" after the entry failed: ") + after.error;
        if (agree(tolerance)) return "";
        return what + std::string(" moved from ") + std::to_string(std::lround(before.p50)) + " to " +
               std::to_string(std::lround(after.p50)) + " ns across the entry in its last try, of " +
               std::to_string(tries) + " (more than " + std::to_string(std::lround(tolerance * 100)) +
               " %: the host moved the threads), so it has no ratio";
    }
};

// Measures `attempt()` (which returns an outcome with its references) until
// `settled(outcome)` or `attempts` tries, or until `give_up()` (an
// interrupted run). Returns the last outcome and the number of tries.
template <class Attempt, class Settled, class GiveUp>
auto until_settled(unsigned attempts, Attempt&& attempt, Settled&& settled, GiveUp&& give_up) {
    auto out = attempt();
    unsigned tries = 1;
    while (tries < attempts && !settled(out) && !give_up()) {
        out = attempt();
        ++tries;
    }
    return std::pair{std::move(out), tries};
}

}  // namespace qmesh::bench
