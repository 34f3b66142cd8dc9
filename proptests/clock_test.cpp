// The clock-step estimate (clock.hpp, detail::clock_step_ns) against
// synthetic clocks whose step is known: a clock that advances in bursts of
// s ns reads k·s rounded to whole ns, and the estimate must find s, not a
// divisor of it (s/2 fits every difference too), not a multiple (2s misses
// the odd multiples), and not 1 ns off. A clock that steps by 1 ns must not
// be taken for a coarse one.
#include <cmath>
#include <cstdint>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "qmesh/runtime/clock.hpp"

namespace qmesh::test {
namespace {

// A clock over a fake time line: each read costs `read_ns` plus up to 15 ns
// of jitter, wait(i) lets a varying time pass (as the bench's spin does), and
// a read shows the time rounded down to the step, in whole ns (a conversion
// from ticks rounds so). One difference in `outlier_every` takes a long
// pause (a preemption) of an arbitrary length.
struct fake_clock {
    double step;
    double read_ns = 20;
    unsigned outlier_every = 0;
    double t = 1e9;  // ns
    std::uint64_t rng = 0x9e3779b97f4a7c15u;

    std::uint64_t next() noexcept {  // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
    }
    std::uint64_t read() noexcept {
        t += read_ns + static_cast<double>(next() % 16);
        return static_cast<std::uint64_t>(std::llround(std::floor(t / step) * step));
    }
    void wait(std::size_t i) noexcept {
        t += static_cast<double>((i * 37) % 400);
        if (outlier_every != 0 && i % outlier_every == 0) t += static_cast<double>(next() % 100'000);
    }
};

double estimate(fake_clock& c, std::size_t pairs = 2001) {
    return rt::detail::clock_step_ns([&] { return c.read(); }, [&](std::size_t i) { c.wait(i); }, pairs);
}

TEST(clock_step, finds_the_steps_clocks_are_known_to_take) {
    // AMD Zen's TSC (10 ns), a 24 MHz counter (41.67), an HPET (69.84), 20 ns.
    for (const double s : {10.0, 1000.0 / 24.0, 69.84, 20.0}) {
        fake_clock c{s};
        EXPECT_NEAR(estimate(c), s, 0.01 * s) << "step " << s;
    }
}

TEST(clock_step, a_clock_finer_than_it_can_tell_reads_as_one_ns) {
    for (const double s : {1.0, 0.41, 2.0}) {
        fake_clock c{s};
        EXPECT_EQ(estimate(c), 1.0) << "step " << s;
    }
}

TEST(clock_step, rare_preemptions_do_not_hide_the_step) {
    fake_clock c{10.0};
    c.outlier_every = 50;  // 2 % of the differences
    EXPECT_NEAR(estimate(c), 10.0, 0.1);
}

TEST(clock_step, a_clock_that_stands_still_reads_as_one_ns) {
    EXPECT_EQ(rt::detail::clock_step_ns([] { return std::uint64_t{42}; }, [](std::size_t) {}, 1000), 1.0);
}

// Any step from 4 to 200 ns, read at any cost, is found to within 1 %.
RC_GTEST_PROP(clock_step, finds_any_step_it_claims_to_cover, ()) {
    const int hundredths = *rc::gen::inRange(400, 20'001);
    const int read_ns = *rc::gen::inRange(5, 60);
    fake_clock c{hundredths / 100.0, static_cast<double>(read_ns)};
    c.rng ^= static_cast<std::uint64_t>(*rc::gen::inRange(1, 1'000'000));
    const double got = estimate(c);
    RC_ASSERT(std::abs(got - c.step) <= 0.01 * c.step);
}

}  // namespace
}  // namespace qmesh::test
