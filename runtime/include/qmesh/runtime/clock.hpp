// qmesh/runtime/clock.hpp: the runtime's clocks, for its own counters and
// for benchmarks that measure beside it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

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

// Median of `pairs` differences between two back-to-back read()s, in
// read()'s units: the cost of one reading, which a sample (the difference
// of two) carries and which is subtracted from it.
template <class Read>
double median_read_gap(Read&& read, std::size_t pairs) {
    std::vector<std::uint64_t> d(pairs);
    for (auto& g : d) {
        const std::uint64_t a = read();
        const std::uint64_t b = read();
        g = b - a;
    }
    const auto mid = d.begin() + static_cast<std::ptrdiff_t>(pairs / 2);
    std::nth_element(d.begin(), mid, d.end());
    return static_cast<double>(*mid);
}

// The step of a clock read in ns: the least amount by which its readings
// advance, so every latency taken with it falls on a grid of that pitch. A
// clock may read in ns and still step coarsely: a time-stamp counter that
// a 100 MHz reference advances in bursts (AMD Zen's, which our EPYC VMs
// show as multiples of 10 ns, steady_clock included) or a 24 MHz system
// counter (41.67 ns). A figure near the floor then carries up to half a step
// of error, which a ratio of two such figures doubles.
//
// Estimated from `pairs` differences of two read()s taken wait(i) apart,
// for wait(i) of varying length so that the differences span many steps:
// the largest step s, from 4 to 250 ns in hundredths, for which at least
// 95 % of them lie within 1 ns of a multiple of s (1 ns: the rounding of a
// tick-to-ns conversion). A clock whose step is finer than about 4 ns
// leaves its differences spread over every residue, and none fits: 1 then
// means "1 ns or finer, as far as this can tell". Differences from 4 to 250
// steps long are needed to tell s from 2s (odd multiples) and from s plus
// a hundredth (which drifts off by 1 ns within 100 steps), so a wait should
// range over a few hundred ns.
template <class Read, class Wait>
double clock_step_ns(Read&& read, Wait&& wait, std::size_t pairs) {
    std::vector<std::uint64_t> d;
    d.reserve(pairs);
    for (std::size_t i = 0; i < pairs; ++i) {
        const std::uint64_t a = read();
        wait(i);
        const std::uint64_t b = read();
        if (b > a) d.push_back(b - a);
    }
    if (d.size() < 20) return 1.0;  // too few to judge (a clock that stood still)
    // Distinct differences with their counts: a stepping clock gives few.
    std::sort(d.begin(), d.end());
    std::vector<std::pair<double, std::size_t>> counts;
    for (const std::uint64_t x : d) {
        if (!counts.empty() && counts.back().first == static_cast<double>(x)) ++counts.back().second;
        else counts.emplace_back(static_cast<double>(x), 1);
    }
    const auto need = static_cast<std::size_t>(0.95 * static_cast<double>(d.size()));
    for (int h = 25'000; h >= 400; --h) {  // s in hundredths of a ns, largest first
        const double s = h / 100.0;
        std::size_t fit = 0, miss = 0;
        for (const auto& [x, c] : counts) {
            const double off = x - s * std::round(x / s);
            if (off <= 1.0 && off >= -1.0) fit += c;
            else if ((miss += c) > d.size() - need) break;  // cannot fit any more
        }
        if (fit >= need) return s;
    }
    return 1.0;
}
}  // namespace detail

// A reactor's turn clock (smp_config::time_turns): ticks of the time-stamp
// counter where there is one, else ns of steady_clock. Only ratios of its
// differences, taken on one pinned thread, are reported (the share of a
// loop's time spent in busy turns), so neither its rate nor whether it is
// invariant matters; what matters is that it is read once per turn, and the
// counter costs a fraction of steady_clock there (13 against 35 ns on our
// VMs, whose steady_clock is kvm-clock).
inline std::uint64_t turn_ticks() noexcept {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return detail::clock_ns();
#endif
}

// The clock of the runtime's latency sample (smp_config::latency_sample_every).
// Both readings of a sample are taken by the origin reactor's thread, one at
// submit_to and one at fulfilment, so a time-stamp counter serves, read
// without a fence, if it ticks at a constant rate through every power state
// (an invariant TSC, CPUID 0x80000007 EDX[8]) and the kernel has found the
// TSCs of all CPUs in step (it keeps `tsc` as its clock source): an unpinned
// thread may read the two on different CPUs. On our VMs a read costs about a
// third of steady_clock's (13 against 35 ns), and a mesh that samples one
// request in 16 spends that on two reads per sample. Elsewhere it is
// steady_clock, one tick per ns.
//
// Ticks are turned into ns with a rate measured once per process against
// steady_clock (five runs of about 5 ms, on the first sample_clock::get()),
// each end a steady_clock read bracketed by two TSC reads close together.
class sample_clock {
public:
    // The process's clock, calibrated on first use (thread-safe).
    static const sample_clock& get();
    // steady_clock alone, with nothing to calibrate: for a mesh that takes
    // no sample (its latency_sample_every is 0), so that it does not pay
    // get()'s calibration (about 25 ms, once per process) for nothing.
    static sample_clock steady();

    std::uint64_t now() const noexcept {
#if defined(__x86_64__)
        if (tsc_) return __rdtsc();
#endif
        return detail::clock_ns();
    }
    // ns from `from` to `to`, two readings of this clock; 0 if `to` is
    // earlier (it never is on one CPU; a guard, not a figure).
    std::uint64_t elapsed_ns(std::uint64_t from, std::uint64_t to) const noexcept {
        return to > from ? to_ns(to - from) : 0;
    }
    std::uint64_t to_ns(std::uint64_t ticks) const noexcept {
        if (!tsc_) return ticks;
        const double ns = static_cast<double>(ticks) * ns_per_tick_;
        // Saturates: a double at or past 2^64 has no uint64_t.
        return ns < 0x1p64 ? static_cast<std::uint64_t>(ns) : ~std::uint64_t{0};
    }
    const char* name() const noexcept { return tsc_ ? "tsc" : "steady_clock"; }
    double ns_per_tick() const noexcept { return ns_per_tick_; }
    // Median cost of one now(), ns: a sample is the difference of two
    // readings, so this is what to subtract from each (as the suites
    // subtract their own clock's).
    double overhead_ns() const noexcept { return overhead_ns_; }

private:
    sample_clock();
    explicit sample_clock(bool calibrate);
    bool tsc_ = false;
    double ns_per_tick_ = 1.0;
    double overhead_ns_ = 0.0;
};

}  // namespace qmesh::rt
