// bench/tests/mesh_test.cpp: the mesh measurement (bench/src/mesh_measure.hpp)
// on two cores: it completes exactly its requests, its counters balance, it
// reports when each core finished, and every ordered pair runs with the
// window the entry reports: no submission of a pump waits for a slot.
// (Before the pumps had a submit group of their own, the invoke_on_all that
// starts them held one of core 0's slots to every core for the whole run,
// and about every second submission of core 0 waited in its list.)
//
// Two cores (the first two available; one core twice, yielding, on a
// one-core machine). Sizes shrink under QMESH_TEST_SCALE.
#include <gtest/gtest.h>

#include <algorithm>

#include "mesh_measure.hpp"
#include "qmesh/queues/registry.hpp"
#include "test_cores.hpp"

using namespace qmesh;
using namespace qmesh::bench;
using qmesh::bench::test::scaled;

namespace {

mesh_params two_cores(mesh_state state, rt::polling poll) {
    const auto pus = test::two_reactor_pus();
    mesh_params p;
    p.cores = pus.cores;
    p.oversubscribed = pus.oversubscribed;
    p.state = state;
    p.poll = poll;
    p.window = 8;
    // Room for both groups' windows and for slots popped but not yet handed
    // back: only the window can make a pump wait.
    p.capacity = 64;
    p.msgs_per_pair = std::max<std::uint64_t>(8 * p.window, scaled(20000));
    p.busy_task_ns = 1000;
    p.timeout = std::chrono::milliseconds(60000);
    return p;
}

template <queue_kind K>
void expect_whole_window(mesh_state state, rt::polling poll) {
    const mesh_params p = two_cores(state, poll);
    const mesh_result r = measure_mesh<K>(p);
    ASSERT_TRUE(r.ok) << r.error;
    const std::uint64_t pairs = state == mesh_state::fan_in ? 1 : 2;
    EXPECT_EQ(r.executed, p.msgs_per_pair * pairs);
    // The setup's invoke_on_all crosses the mesh once too.
    EXPECT_EQ(r.totals.sent, r.executed + 1);
    EXPECT_EQ(r.totals.received, r.totals.sent);
    EXPECT_EQ(r.totals.completed, r.totals.sent);
    EXPECT_EQ(r.totals.full_stalls, 0u) << "a pump waited for a slot: some pair ran with less than the window";
    EXPECT_GT(r.msgs_per_s, 0);
    // Every core's finish, the last of which ends the measured span.
    ASSERT_EQ(r.finished_s.size(), p.cores.size());
    EXPECT_DOUBLE_EQ(*std::max_element(r.finished_s.begin(), r.finished_s.end()), r.seconds);
    if (state == mesh_state::fan_in) {
        EXPECT_EQ(r.finished_s[0], 0.0);  // core 0 sends nothing
    }
    for (const double f : r.finished_s) EXPECT_GE(f, 0.0);
}

}  // namespace

TEST(mesh, idle_all_to_all_runs_every_pair_at_its_whole_window) {
    expect_whole_window<ff_ring_kind>(mesh_state::idle, rt::polling::scan);
}

TEST(mesh, doorbell_all_to_all_runs_every_pair_at_its_whole_window) {
    expect_whole_window<lamport_kind>(mesh_state::idle, rt::polling::doorbell);
}

TEST(mesh, busy_receivers_run_every_pair_at_its_whole_window) {
    expect_whole_window<ff_ring_kind>(mesh_state::busy, rt::polling::scan);
}

TEST(mesh, fan_in_completes_every_request) {
    expect_whole_window<ff_ring_kind>(mesh_state::fan_in, rt::polling::scan);
}
