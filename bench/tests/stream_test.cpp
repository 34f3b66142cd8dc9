// bench/tests/stream_test.cpp: the exactly-once checks of the stream and
// load measurements (stream_measure.hpp, load_measure.hpp) against queues
// that misbehave at the edges the in-loop check cannot see: a message left
// over after the last expected one, and a message torn past its first bytes;
// and the CPU share every measurement reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>

#include "faulty_queue.hpp"
#include "load_measure.hpp"
#include "qmesh/queues/lamport_ring.hpp"
#include "qmesh/runtime/topology.hpp"
#include "stream_measure.hpp"
#include "submit_measure.hpp"
#include "test_cores.hpp"

namespace qmesh::bench {
namespace {

using test::fault;
using test::faulty_kind;
using test::two_pus;

constexpr std::uint64_t n_messages = 5000;

// The last message stored twice: every expected message arrives in order,
// and one more is left in the queue. That is not exactly once.
TEST(stream, a_trailing_duplicate_is_reported) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    stream_params p;
    p.messages = n_messages;
    p.capacity = 64;
    const stream_result r =
        measure_stream<faulty_kind<fault::duplicate_push, n_messages - 1>, 8>(pus->first, pus->second, p);
    EXPECT_FALSE(r.ok) << "an extra message left in the queue went unnoticed";
}

TEST(load, a_trailing_duplicate_is_reported) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    load_params p;
    p.messages = n_messages;
    p.rate = 2e5;
    p.capacity = 64;
    p.timeout = std::chrono::milliseconds(60000);
    const load_result r =
        measure_load<faulty_kind<fault::duplicate_push, n_messages - 1>>(pus->first, pus->second, p);
    EXPECT_FALSE(r.ok) << "an extra message left in the queue went unnoticed";
}

// A 64-byte message whose last payload byte is torn: README says stream
// checks every message "untorn".
TEST(stream, a_message_torn_past_its_first_byte_is_reported) {
    const auto pus = two_pus();
    if (!pus) GTEST_SKIP() << "needs two available PUs";
    stream_params p;
    p.messages = n_messages;
    p.capacity = 64;
    const stream_result r = measure_stream<faulty_kind<fault::tear_payload, 100>, 64>(pus->first, pus->second, p);
    EXPECT_FALSE(r.ok) << "a torn payload went unnoticed";
}

// submit_to's round trip is divided by pingpong's and the floor's: the
// runtime must not time and record one request in 64 inside it.
TEST(submit, the_runtime_samples_nothing_inside_the_timed_round_trip) {
    const latency_params lp;
    for (const rt::polling poll : {rt::polling::scan, rt::polling::doorbell})
        EXPECT_EQ(submit_config(0, 1, lp, poll).latency_sample_every, 0u);
}

// Two measuring threads pinned to one PU, each spinning for 100 ms of wall
// time, get about half a CPU each: the outcome must say so (the figure of
// such a run measures the scheduler). Apart, on a quiet machine, each would
// get about all of one; that is not asserted (machines here are shared).
TEST(pinned, cpu_share_says_when_two_threads_share_a_core) {
    const auto& av = rt::topology::instance().available();
    if (av.empty()) GTEST_SKIP() << "no available PU";
    auto spin = [](const abort_flag& abort) {
        const std::uint64_t until = now_ns() + 100'000'000;
        while (now_ns() < until && !abort.raised()) {
        }
    };
    const run_outcome o = run_pinned({av[0], av[0]}, {spin, spin}, std::chrono::milliseconds(30000));
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_LT(o.cpu_share, 0.8);
    EXPECT_GT(o.cpu_share, 0.0);
}

// The runtime reports the same for its reactors: two on one PU.
TEST(pinned, a_mesh_reports_the_cpu_share_of_its_reactors) {
    const auto& av = rt::topology::instance().available();
    if (av.empty()) GTEST_SKIP() << "no available PU";
    rt::smp_config cfg;
    cfg.cores = {av[0], av[0]};
    cfg.yield_when_idle = true;
    rt::smp<lamport_kind> mesh(cfg);
    mesh.run([&]() -> rt::future<> {
        const std::uint64_t until = now_ns() + 100'000'000;
        while (now_ns() < until) co_await mesh.submit_to(1, [] {});
    });
    EXPECT_LT(mesh.cpu_share(), 0.8);
    EXPECT_GT(mesh.cpu_share(), 0.0);
}

}  // namespace
}  // namespace qmesh::bench
