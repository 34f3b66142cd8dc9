#include "qmesh/runtime/clock.hpp"

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace qmesh::rt {

namespace {
#if defined(__x86_64__)
bool invariant_tsc() noexcept {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0) return false;
    return (d & (1u << 8)) != 0;
}

// The CPU's flag says each TSC ticks steadily, not that the TSCs of all
// CPUs agree: the kernel checks that, and keeps the TSC as its clock
// source only if they do (a VM or a multi-socket host may advertise the
// flag while the kernel has found the TSC unstable). A reactor's thread
// may move between CPUs when it is not pinned, so both are required.
bool kernel_trusts_tsc() {
    std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string name;
    return static_cast<bool>(f >> name) && name == "tsc";
}

struct reading {
    std::uint64_t ticks = 0;
    std::uint64_t ns = 0;
    bool tight = false;  // no pause between its two reads
};
// A steady_clock reading bracketed by two TSC reads, kept only if they are
// close (a pause between them would skew the pair by the pause's length).
reading paired_reading() noexcept {
    for (int attempt = 0; attempt < 100; ++attempt) {
        const std::uint64_t a = __rdtsc();
        const std::uint64_t n = detail::clock_ns();
        const std::uint64_t b = __rdtsc();
        if (b > a && b - a < 20'000) return {a + (b - a) / 2, n, true};
    }
    return {};
}

// ns per tick over about 5 ms of steady_clock, or 0 if no tight pairs
// could be taken.
double rate_once() noexcept {
    const reading r0 = paired_reading();
    reading r1;
    do {
        r1 = paired_reading();
    } while (r0.tight && r1.tight && r1.ns - r0.ns < 5'000'000);
    if (!r0.tight || !r1.tight || r1.ticks <= r0.ticks) return 0;
    return static_cast<double>(r1.ns - r0.ns) / static_cast<double>(r1.ticks - r0.ticks);
}
#endif

}  // namespace

const sample_clock& sample_clock::get() {
    static const sample_clock c;
    return c;
}

sample_clock sample_clock::steady() { return sample_clock(false); }

sample_clock::sample_clock() : sample_clock(true) {}

sample_clock::sample_clock(bool calibrate) {
#if defined(__x86_64__)
    if (calibrate && invariant_tsc() && kernel_trusts_tsc()) {
        // The median of five rates: one run spoiled by a pause the pairs
        // did not catch cannot move it.
        std::vector<double> rates;
        for (int i = 0; i < 5; ++i) rates.push_back(rate_once());
        std::nth_element(rates.begin(), rates.begin() + 2, rates.end());
        const double rate = rates[2];
        // A TSC ticks at 0.2 to 20 GHz; anything else is a broken reading
        // (or a counter a hypervisor froze), and steady_clock serves.
        if (rate > 0.05 && rate < 5.0) {
            tsc_ = true;
            ns_per_tick_ = rate;
        }
    }
#endif
    overhead_ns_ = detail::median_read_gap([this] { return now(); }, 1001) * (tsc_ ? ns_per_tick_ : 1.0);
}

}  // namespace qmesh::rt
