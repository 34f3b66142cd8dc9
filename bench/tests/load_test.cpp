// bench/tests/load_test.cpp: the open-loop load measurement (load_measure.hpp)
// delivers every message exactly once and in order through real queues, and
// reports a violation when a queue drops or duplicates one. No assertion on
// any time or rate: those depend on the machine; the sweep test prints them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "faulty_queue.hpp"
#include "load_measure.hpp"
#include "qmesh/queues/batched_ring.hpp"
#include "qmesh/queues/lamport_ring.hpp"
#include "qmesh/runtime/topology.hpp"
#include "stream_measure.hpp"
#include "test_cores.hpp"

namespace qmesh::bench {
namespace {

using test::scaled;  // message counts shrink under the sanitizers

// A modest rate every build reaches, sanitizers included: 200 000 msgs/s.
load_params modest(std::uint64_t messages) {
    load_params p;
    p.messages = messages;
    p.rate = 2e5;
    p.capacity = 64;
    p.timer_overhead_ns = timer_overhead_ns();
    p.timeout = std::chrono::milliseconds(60000);
    return p;
}

using test::fault;
using test::faulty_kind;
using test::two_pus;

template <class K>
class load_delivery : public ::testing::Test {};
using delivery_kinds = ::testing::Types<lamport_kind, batched_ring_kind>;
struct kind_name {
    template <class K>
    static std::string GetName(int) {
        return std::string(K::traits.name);
    }
};
TYPED_TEST_SUITE(load_delivery, delivery_kinds, kind_name);

// Every message arrives exactly once and in order, under both flush policies.
TYPED_TEST(load_delivery, every_message_once_in_order) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    for (load_flush f : {load_flush::each_send, load_flush::when_idle}) {
        load_params p = modest(scaled(20000));
        p.flush = f;
        const load_result r = measure_load<TypeParam>(pus->first, pus->second, p);
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_TRUE(r.error.empty()) << r.error;
        EXPECT_EQ(r.received, p.messages);
        // Warm-up: the first 5 % are checked but not recorded.
        EXPECT_EQ(r.samples, p.messages - static_cast<std::uint64_t>(0.05 * static_cast<double>(p.messages)));
        EXPECT_EQ(r.offered_msgs_per_s, p.rate);
        EXPECT_GT(r.msgs_per_s, 0.0);
        EXPECT_LE(r.p50, r.p99);
        EXPECT_LE(r.p99, r.max);
    }
}

// A queue that drops element 100 or hands element 100 out twice is caught.
TEST(load, a_dropped_message_is_reported) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    const load_params p = modest(scaled(4000));
    const load_result r = measure_load<faulty_kind<fault::drop, 100>>(pus->first, pus->second, p);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "message 100 arrived as 101");
    EXPECT_EQ(r.received, 100u);
}

TEST(load, a_duplicated_message_is_reported) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    const load_params p = modest(scaled(4000));
    const load_result r = measure_load<faulty_kind<fault::duplicate, 100>>(pus->first, pus->second, p);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "message 101 arrived as 100");
    EXPECT_EQ(r.received, 101u);
}

TEST(load, bad_parameters_are_refused_before_any_work) {
    load_params p = modest(10);
    p.rate = 0;
    load_result r = measure_load<lamport_kind>(0, 0, p);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("rate"), std::string::npos) << r.error;
    EXPECT_EQ(r.received, 0u);
    p = modest(0);
    r = measure_load<lamport_kind>(0, 0, p);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("message"), std::string::npos) << r.error;
}

TEST(load, message_counts_follow_the_rate_within_bounds) {
    EXPECT_EQ(load_messages_for(1e6), 50000u);
    EXPECT_EQ(load_messages_for(1e9), 2'000'000u);
    EXPECT_EQ(load_messages_for(4e4), 2000u);
    EXPECT_EQ(load_messages_for(1e3), 500u);   // 0.5 s of schedule at most
    EXPECT_EQ(load_messages_for(400), 200u);
    EXPECT_EQ(load_messages_for(10), 100u);
    const load_params p = load_config(1e7, 0.5, 1024, 20, true);
    EXPECT_EQ(p.rate, 5e6);
    EXPECT_EQ(p.messages, 250000u);
    EXPECT_EQ(p.timeout, std::chrono::milliseconds(5000));
    // A slow reference stretches the deadline past the schedule.
    EXPECT_GE(load_config(100, 0.1, 1024, 20, false).timeout, std::chrono::milliseconds(2 * 10 * 1000));
}

// The round trips' percentiles are exact nearest-rank values (the histogram
// would give bucket midpoints: 16 ns wide around 550 ns).
TEST(stats, exact_samples_give_nearest_rank_quantiles) {
    exact_samples s(1000);
    histogram h;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        const std::uint64_t v = 1000 + (i * 7919) % 1000;  // 1000..1999, shuffled
        s.record(v);
        h.record(v);
    }
    EXPECT_EQ(s.count(), 1000u);
    EXPECT_EQ(s.quantile(0.5), 1499.0);   // the 500th smallest
    EXPECT_EQ(s.quantile(0.9), 1899.0);   // the 900th
    EXPECT_EQ(s.quantile(0.999), 1998.0); // the 999th
    EXPECT_EQ(s.quantile(0.0), 1000.0);   // rank at least 1
    EXPECT_EQ(s.max(), 1999u);
    EXPECT_NE(h.quantile(0.5), 1499.0);   // what the histogram gives instead: its bucket's midpoint
    s.record(0);  // recording after a quantile re-sorts
    EXPECT_EQ(s.quantile(0.0), 0.0);
    EXPECT_EQ(exact_samples{}.quantile(0.5), 0.0);
}

// The suite's sweep on lamport: every fraction of the stream rate (the
// reference the issue names), then of measure_load_capacity's rate. Prints
// the figures (so a person sees latency rise towards 100 %); asserts only
// delivery, never a time.
TEST(load, sweep_delivers_everything_and_prints_figures) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    stream_params sp;
    sp.messages = scaled(2'000'000);
    sp.capacity = 1024;
    sp.batch = 1;
    const stream_result s = measure_stream<lamport_kind, 16>(pus->first, pus->second, sp);
    ASSERT_TRUE(s.ok) << s.error;
    const double overhead = timer_overhead_ns();
    load_params cp = load_config(s.msgs_per_s, 1.0, 1024, overhead, false);
    cp.messages = std::max(scaled(cp.messages), std::min<std::uint64_t>(cp.messages, 2000));
    const load_result c = measure_load_capacity<lamport_kind>(pus->first, pus->second, cp);
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.received, cp.messages);
    std::printf("reference: lamport stream, 16-byte messages, batch 1: %.3g msgs/s; timer overhead %.0f ns\n",
                s.msgs_per_s, overhead);
    std::printf("capacity with a timestamp per message (measure_load_capacity): %.3g msgs/s\n", c.msgs_per_s);
    auto sweep = [&](const char* of, double reference) {
        std::printf("fractions of the %s:\n", of);
        std::printf("%8s %12s %12s %9s %9s %9s %9s %11s %9s %10s %10s\n", "fraction", "offered/s", "achieved/s",
                    "p50 ns", "p90 ns", "p99 ns", "p99.9 ns", "max ns", "messages", "stalls", "late");
        for (double f : load_fractions) {
            load_params p = load_config(reference, f, 1024, overhead, false);
            p.messages = std::max(scaled(p.messages), std::min<std::uint64_t>(p.messages, 2000));
            const load_result r = measure_load<lamport_kind>(pus->first, pus->second, p);
            ASSERT_TRUE(r.ok) << "fraction " << f << ": " << r.error;
            EXPECT_EQ(r.received, p.messages);
            std::printf("%8.2f %12.4g %12.4g %9.0f %9.0f %9.0f %9.0f %11.0f %9llu %10llu %10llu\n", f,
                        r.offered_msgs_per_s, r.msgs_per_s, r.p50, r.p90, r.p99, r.p999, r.max,
                        static_cast<unsigned long long>(r.received), static_cast<unsigned long long>(r.full_stalls),
                        static_cast<unsigned long long>(r.late_sends));
        }
    };
    sweep("stream rate", s.msgs_per_s);
    sweep("capacity with timestamps", c.msgs_per_s);
}

}  // namespace
}  // namespace qmesh::bench
