#include "qmesh/runtime/clock.hpp"

#include <algorithm>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace qmesh::rt {

namespace {
bool invariant_tsc() noexcept {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0) return false;
    return (d & (1u << 8)) != 0;
#else
    return false;
#endif
}

template <class F>
double median_gap(F&& read) {
    std::vector<std::uint64_t> d(1001);
    for (auto& g : d) {
        const std::uint64_t a = read();
        const std::uint64_t b = read();
        g = b - a;
    }
    std::nth_element(d.begin(), d.begin() + 500, d.end());
    return static_cast<double>(d[500]);
}
}  // namespace

const sample_clock& sample_clock::get() {
    static const sample_clock c;
    return c;
}

sample_clock::sample_clock() : tsc_(invariant_tsc()) {
    if (tsc_) {
        // The rate over about 5 ms of steady_clock: a read's jitter (tens of
        // ns at each end) is then a few parts in 10^5 of it.
        const std::uint64_t n0 = detail::clock_ns();
        const std::uint64_t t0 = now();
        std::uint64_t n1 = n0, t1 = t0;
        while (n1 - n0 < 5'000'000) {
            n1 = detail::clock_ns();
            t1 = now();
        }
        // A counter that did not move (a hypervisor that freezes it) is no clock.
        if (t1 > t0) ns_per_tick_ = static_cast<double>(n1 - n0) / static_cast<double>(t1 - t0);
        else tsc_ = false;
    }
    overhead_ns_ = median_gap([this] { return now(); }) * (tsc_ ? ns_per_tick_ : 1.0);
}

}  // namespace qmesh::rt
