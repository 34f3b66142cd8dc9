// Runtime properties of the mesh, for every registered queue: submit_to runs
// on the target core and fulfils on the origin core; submissions from one
// core to another run in order; a tiny in-flight limit (backpressure) loses
// and duplicates nothing; shutdown drains everything (the mesh checks that
// its counters balance and throws if not).
#include <array>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "qmesh/queues/inbox_ring.hpp"
#include "qmesh/runtime/combinators.hpp"
#include "qmesh/runtime/smp.hpp"
#include "qmesh/runtime/topology.hpp"
#include "mutants.hpp"
#include "pinned.hpp"
#include "test_support.hpp"

namespace qmesh::test {
namespace {

// Keeps the calling reactor busy for `d` (no poll, no task switch): what a
// long task, or a preemption, looks like to the rest of the mesh.
void spin_for(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}

rt::smp_config two_cores(std::size_t capacity, std::size_t inflight) {
    rt::smp_config c;
    const auto& av = rt::topology::instance().available();
    c.cores = {av.at(0), av.size() > 1 ? av[1] : av[0]};
    c.pin = av.size() > 1;             // with one core, both reactors share it
    c.yield_when_idle = av.size() < 2 || std::getenv("QMESH_TEST_SCALE") != nullptr;
    c.queue_capacity = capacity;
    c.max_inflight = inflight;
    return c;
}

// Each property runs its meshes under a deadline: a message the runtime
// loses leaves run() waiting for ever, and the watchdog turns that into an
// aborted mesh (run() throws) within two minutes, instead of ctest's
// ten-minute timeout. (Seen: a batch pop that dropped the second of two
// requests hung per_pair_order_and_backpressure_without_loss.) And each runs
// the stall detector as eagerly as it goes, a wave after every idle turn of
// reactor 0, so that every property is also a check that it never calls a
// mesh with work left stuck (run() would throw smp_deadlock).
template <class K>
class smp_props : public ::testing::Test {
protected:
    rt::smp_config guarded(std::size_t capacity, std::size_t inflight) {
        rt::smp_config c = two_cores(capacity, inflight);
        c.abort = &abort_;
        c.stall_check_turns = 1;
        return c;
    }

private:
    std::atomic<bool> abort_{false};
    bench::watchdog dog_{abort_, std::chrono::minutes(2)};
};
TYPED_TEST_SUITE(smp_props, all_queue_types, kind_name);

TYPED_TEST(smp_props, submit_to_runs_on_target_and_completes_on_origin) {
    rt::smp<TypeParam> mesh(this->guarded(8, 8));
    std::thread::id origin, ran_on, completed_on;
    int target_core = -1;
    const int r = mesh.run([&] {
        origin = std::this_thread::get_id();
        return mesh.submit_to(1, [&] {
                   ran_on = std::this_thread::get_id();
                   target_core = rt::this_core();
                   return 41;
               })
            .then([&](int v) {
                completed_on = std::this_thread::get_id();
                return v + 1;
            });
    });
    EXPECT_EQ(r, 42);
    EXPECT_EQ(target_core, 1);
    EXPECT_NE(ran_on, origin);
    EXPECT_EQ(completed_on, origin);
    const auto t = mesh.totals();
    EXPECT_EQ(t.sent, 1u);
    EXPECT_EQ(t.received, 1u);
    EXPECT_EQ(t.completed, 1u);
}

TYPED_TEST(smp_props, per_pair_order_and_backpressure_without_loss) {
    // In-flight limit 2 on queues of 2: most submissions wait their turn.
    rt::smp<TypeParam> mesh(this->guarded(2, 2));
    const std::uint64_t n = scaled(20000);
    std::vector<std::uint64_t> order;  // written on core 1 only
    std::vector<int> done(n, 0);       // written on core 0 only
    mesh.run([&]() -> rt::future<> {
        std::vector<rt::future<>> fs;
        fs.reserve(n);
        for (std::uint64_t i = 0; i < n; ++i)
            fs.push_back(mesh.submit_to(1, [&order, i] { order.push_back(i); }).then([&done, i] { ++done[i]; }));
        for (auto& f : fs) co_await std::move(f);
    });
    ASSERT_EQ(order.size(), n);
    for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(order[i], i) << "submission " << i << " ran out of order";
    for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(done[i], 1) << "continuation " << i << " ran " << done[i] << " times";
    const auto t = mesh.totals();
    EXPECT_EQ(t.sent, n);
    EXPECT_EQ(t.completed, n);
    EXPECT_GT(t.full_stalls, 0u);  // the limit was actually reached
}

TYPED_TEST(smp_props, exceptions_cross_the_mesh) {
    rt::smp<TypeParam> mesh(this->guarded(4, 4));
    const bool caught = mesh.run([&] {
        return mesh.submit_to(1, []() -> int { throw std::runtime_error("remote"); })
            .then_wrapped([](rt::future<int> f) {
                try {
                    f.get();
                } catch (const std::runtime_error& e) {
                    return std::string(e.what()) == "remote";
                }
                return false;
            });
    });
    EXPECT_TRUE(caught);
}

TYPED_TEST(smp_props, shutdown_drains_in_flight_work) {
    // The main function returns at once, leaving work in flight both ways.
    // run() must still resolve every future: a nested submission made after
    // the stop was requested is refused (smp_stopping), never lost; the mesh
    // itself throws if its counters do not balance.
    rt::smp<TypeParam> mesh(this->guarded(16, 16));
    std::atomic<int> outer{0}, inner{0};
    int ok = 0, refused = 0, other = 0;  // core 0 only
    mesh.run([&] {
        for (int i = 0; i < 100; ++i)
            (void)mesh
                .submit_to(1,
                           [&] {
                               outer.fetch_add(1, std::memory_order_relaxed);
                               return mesh.submit_to(0, [&] { inner.fetch_add(1, std::memory_order_relaxed); });
                           })
                .then_wrapped([&](rt::future<> f) {
                    try {
                        f.get();
                        ++ok;
                    } catch (const rt::smp_stopping&) {
                        ++refused;
                    } catch (...) {
                        ++other;
                    }
                });
        return rt::make_ready_future<>();
    });
    EXPECT_EQ(outer.load(), 100);
    EXPECT_EQ(ok, inner.load());
    EXPECT_EQ(ok + refused, 100);
    EXPECT_EQ(other, 0);
    const auto t = mesh.totals();
    EXPECT_EQ(t.sent, static_cast<std::uint64_t>(100 + inner.load()));
    EXPECT_EQ(t.completed, t.sent);
}

// Every way of finding work, idling and batching delivers everything, once,
// in per-pair order, both directions at once.
struct strategy {
    const char* name;
    rt::polling poll;
    rt::idle_policy idle;
    bool flush_on_poll;
    std::size_t flush_threshold;
    bool inline_replies = true;
    std::uint32_t linger = 64;
};
constexpr strategy strategies[] = {
    {"scan", rt::polling::scan, rt::idle_policy::busy_poll, true, 0},
    {"doorbell", rt::polling::doorbell, rt::idle_policy::busy_poll, true, 0},
    {"doorbell+sleep", rt::polling::doorbell, rt::idle_policy::sleep, true, 0},
    {"scan+sleep", rt::polling::scan, rt::idle_policy::sleep, true, 0},
    {"doorbell, flush when idle or at 3", rt::polling::doorbell, rt::idle_policy::busy_poll, false, 3},
    {"scan, continuations scheduled", rt::polling::scan, rt::idle_policy::busy_poll, true, 0, false},
    {"doorbell, continuations scheduled, no linger", rt::polling::doorbell, rt::idle_policy::busy_poll, true, 0,
     false, 0},
    {"doorbell+sleep, no linger", rt::polling::doorbell, rt::idle_policy::sleep, true, 0, true, 0},
};

// The fewest and the most messages a batch histogram can stand for: a poll
// in bucket b took between 2^b and 2^(b+1) - 1 (the last bucket: any number
// from its floor up; a million stands for "unbounded").
std::pair<std::uint64_t, std::uint64_t> batch_bounds(const std::array<std::uint64_t, rt::batch_buckets>& h) {
    std::uint64_t lo = 0, hi = 0;
    for (std::size_t b = 0; b < rt::batch_buckets; ++b) {
        lo += h[b] << b;
        hi += b + 1 < rt::batch_buckets ? h[b] * ((std::uint64_t{2} << b) - 1) : h[b] * 1'000'000;
    }
    return {lo, hi};
}

TYPED_TEST(smp_props, every_strategy_delivers_once_in_order) {
    for (const strategy& st : strategies) {
        SCOPED_TRACE(st.name);
        auto cfg = this->guarded(8, 8);
        cfg.poll = st.poll;
        cfg.idle = st.idle;
        cfg.idle_turns_before_sleep = 1;
        cfg.idle_poll_time = std::chrono::microseconds(0);  // park at once: every round trip finds it parked
        cfg.flush_on_poll = st.flush_on_poll;
        cfg.flush_threshold = st.flush_threshold;
        cfg.inline_replies = st.inline_replies;
        cfg.doorbell_linger_turns = st.linger;
        cfg.latency_sample_every = 7;
        rt::smp<TypeParam> mesh(cfg);
        const std::uint64_t n = scaled(4000);
        std::vector<std::uint64_t> order[2];  // order[c] written on core c only
        mesh.run([&]() -> rt::future<> {
            co_await mesh.invoke_on_all([&]() -> rt::future<> {
                const unsigned me = static_cast<unsigned>(rt::this_core());
                std::vector<rt::future<>> fs;
                for (std::uint64_t i = 0; i < n; ++i)
                    fs.push_back(mesh.submit_to(1 - me, [&order, me, i] { order[1 - me].push_back(i); }));
                for (auto& f : fs) co_await std::move(f);
            });
        });
        for (unsigned c = 0; c < 2; ++c) {
            ASSERT_EQ(order[c].size(), n);
            for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(order[c][i], i) << "on core " << c;
        }
        // Counters: n each way, plus invoke_on_all's one submission to core 1.
        EXPECT_EQ(mesh.counters(0, 1).completed, n + 1);
        EXPECT_EQ(mesh.counters(1, 0).completed, n);
        // Batch sizes: every message was taken by some non-empty poll, and a
        // poll in bucket b took between 2^b and 2^(b+1) - 1 messages.
        // A shared inbox books every poll on (core, core), and it carries the
        // core's requests and the replies to its own: n + 1 and n either way.
        for (unsigned from = 0; from < 2; ++from) {
            const unsigned to = 1 - from;
            const auto& batches = rt::smp<TypeParam>::shared_inbox ? mesh.counters(to, to).batches
                                                                   : mesh.counters(from, to).batches;
            const std::uint64_t taken = rt::smp<TypeParam>::shared_inbox
                                            ? mesh.counters(from, to).received + mesh.counters(to, from).completed
                                            : mesh.counters(from, to).received;
            const auto [lo, hi] = batch_bounds(batches);
            EXPECT_LE(lo, taken);
            EXPECT_GE(hi, taken);
        }
        // Latency sample: one submission in 7 on each core.
        EXPECT_EQ(mesh.latency().count(), (n + 1) / 7 + n / 7);
        // ... in ns: no sample outlasts the run.
        EXPECT_LE(mesh.latency().max(), mesh.core_stats(0).wall_ns);
    }
}

// The sample clock's ticks, turned into ns, keep time with steady_clock
// (over 10 ms of spinning; the best of five tries, so that a preemption
// between two paired reads cannot fail it), and its overhead is a plausible
// cost of one read. Without the conversion a TSC at 1-5 GHz is 1-5 ticks per
// ns and fails by far.
TEST(sample_clock, its_ticks_turned_into_ns_keep_time_with_steady_clock) {
    const rt::sample_clock& c = rt::sample_clock::get();
    double best = 1e9;
    for (int attempt = 0; attempt < 5; ++attempt) {
        const std::uint64_t t0 = c.now(), n0 = rt::detail::clock_ns();
        std::uint64_t t1 = t0, n1 = n0;
        while (n1 - n0 < 10'000'000) {
            t1 = c.now();
            n1 = rt::detail::clock_ns();
        }
        const double err = std::abs(static_cast<double>(c.to_ns(t1 - t0)) / static_cast<double>(n1 - n0) - 1.0);
        best = std::min(best, err);
    }
    EXPECT_LT(best, 0.01) << c.name() << ", " << c.ns_per_tick() << " ns per tick";
    EXPECT_GT(c.overhead_ns(), 0.0);
    EXPECT_LT(c.overhead_ns(), 10'000.0);
}

// A mesh that samples nothing reads steady_clock uncalibrated (it never
// asks for the process's calibrated clock, which costs about 25 ms the first
// time); one that samples uses the process's clock. On a machine whose
// calibrated clock is steady_clock too the first check cannot tell them
// apart; here (x86-64 with a TSC the kernel trusts) it can.
TEST(sample_clock, a_mesh_that_samples_nothing_does_not_calibrate) {
    auto cfg = two_cores(8, 8);
    cfg.latency_sample_every = 0;
    const rt::smp<ff_ring_kind> quiet(cfg);
    EXPECT_STREQ(quiet.latency_clock().name(), "steady_clock");
    EXPECT_EQ(quiet.latency_clock().ns_per_tick(), 1.0);
    EXPECT_GE(quiet.latency_clock().overhead_ns(), 0.0);
    cfg.latency_sample_every = 16;
    const rt::smp<ff_ring_kind> sampling(cfg);
    const rt::sample_clock& process = rt::sample_clock::get();
    EXPECT_STREQ(sampling.latency_clock().name(), process.name());
    EXPECT_EQ(sampling.latency_clock().ns_per_tick(), process.ns_per_tick());
}

// latency_sample_every = 0 times no submission (submit_to counts down to
// the next timed one; with 0 there is none), and the mesh still runs.
TEST(sample_clock, a_mesh_that_samples_nothing_records_nothing) {
    auto cfg = two_cores(8, 8);
    cfg.latency_sample_every = 0;
    rt::smp<ff_ring_kind> mesh(cfg);
    const std::uint64_t n = 1000;
    mesh.run([&]() -> rt::future<> {
        for (std::uint64_t i = 0; i < n; ++i) co_await mesh.submit_to(1, [] {});
    });
    EXPECT_EQ(mesh.counters(0, 1).completed, n);
    EXPECT_EQ(mesh.latency().count(), 0u);
}

// A future fulfilled on the next turn: a task that gives the reactor back.
rt::future<> next_turn() {
    rt::promise<> p;
    auto f = p.get_future();
    rt::schedule_fn([p = std::move(p)]() mutable { p.set_value(); });
    return f;
}

// With flush_on_poll = false a core flushes (and rings) on idle turns, but a
// core that never idles must still send: here the origin spins on tasks until
// its reply arrives, so a push left unpublished in a staging queue, or a
// doorbell never rung, would wait for ever (seen: both hung until the
// watchdog fired, before the flush had a bound).
TYPED_TEST(smp_props, a_core_that_never_idles_still_sends) {
    for (const rt::polling poll : {rt::polling::scan, rt::polling::doorbell}) {
        SCOPED_TRACE(rt::to_string(poll));
        auto cfg = two_cores(8, 8);
        cfg.poll = poll;
        cfg.flush_on_poll = false;
        std::atomic<bool> abort{false};
        cfg.abort = &abort;
        bench::watchdog dog(abort, std::chrono::seconds(20));
        rt::smp<TypeParam> mesh(cfg);
        int got = 0;
        std::uint64_t spins = 0;
        EXPECT_NO_THROW(mesh.run([&]() -> rt::future<> {
            for (int i = 1; i <= 3; ++i) {
                bool back = false;
                (void)mesh.submit_to(1, [i] { return i; }).then([&](int v) {
                    got += v;
                    back = true;
                });
                while (!back) {
                    co_await next_turn();
                    ++spins;
                }
            }
        }));
        EXPECT_EQ(got, 6);
        EXPECT_GT(spins, 0u);
    }
}

// A request that bounces between the two cores: on its target it submits
// onward to its origin, `hops` times in all (A -> B -> A -> B ...), hop i in
// submit group first_group + i (all in group 0 when first_group is 0 and
// `one_group`), and the last answers v + hops.
template <class Mesh>
rt::future<std::uint64_t> bounce(Mesh& mesh, unsigned hops, unsigned group, bool one_group, std::uint64_t v) {
    if (hops == 0) return rt::make_ready_future<std::uint64_t>(v);
    const unsigned other = 1 - static_cast<unsigned>(rt::this_core());
    return mesh.submit_to(other, rt::submit_group{group}, [&mesh, hops, group, one_group, v] {
        return bounce(mesh, hops - 1, one_group ? group : group + 1, one_group, v + 1);
    });
}

// Nested submissions in a cycle (A -> B -> A -> B) with one slot per window:
// in one group they wait on the slots their parents hold (the next test);
// with one group per nesting level each waits only on a deeper level's
// window, so they all complete. Both cores run many chains at once, under an
// invoke_on_all that holds a group-0 slot on each pair for the whole run.
TYPED_TEST(smp_props, nested_cycles_complete_with_a_submit_group_per_level) {
    auto cfg = this->guarded(4, 1);
    cfg.groups = 4;  // 0: invoke_on_all; 1..3: the three hops
    rt::smp<TypeParam> mesh(cfg);
    constexpr unsigned hops = 3;
    const std::uint64_t k = scaled(200);
    std::array<std::uint64_t, 2> wrong{}, done{};
    mesh.run([&]() -> rt::future<> {
        co_await mesh.invoke_on_all(rt::submit_group{0}, [&]() -> rt::future<> {
            const unsigned me = static_cast<unsigned>(rt::this_core());
            std::vector<rt::future<std::uint64_t>> fs;
            for (std::uint64_t i = 0; i < k; ++i) fs.push_back(bounce(mesh, hops, 1, false, i * 10));
            for (std::uint64_t i = 0; i < k; ++i) {
                const std::uint64_t v = co_await std::move(fs[i]);
                if (v != i * 10 + hops) ++wrong[me];
                ++done[me];
            }
        });
    });
    EXPECT_EQ(done[0], k);
    EXPECT_EQ(done[1], k);
    EXPECT_EQ(wrong[0] + wrong[1], 0u);
    const auto t = mesh.totals();
    EXPECT_EQ(t.completed, 2 * k * hops + 1);  // and invoke_on_all's one request to the other core
    EXPECT_GT(t.full_stalls, 0u);              // the windows were full
}

// run() on a mesh that gets stuck: throws smp_deadlock, and its message is
// returned; the watchdog (a minute) is only the backstop for a detector that
// missed it, and fails the test.
template <class K, class F>
std::string deadlock_of(rt::smp_config cfg, F&& fn) {
    std::atomic<bool> abort{false};
    cfg.abort = &abort;
    rt::smp<K> mesh(cfg);
    bench::watchdog dog(abort, std::chrono::minutes(1));
    try {
        mesh.run([&] { return fn(mesh); });
    } catch (const rt::smp_deadlock& e) {
        EXPECT_FALSE(abort.load());
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not reported as a deadlock: " << e.what();
        return {};
    }
    ADD_FAILURE() << "run() returned";
    return {};
}

// The same cycle in one group is a deadlock, which is what the groups are
// for: core 0's request to core 1 holds the only slot 0 -> 1, its nested
// request back to core 0 submits to core 1 again and waits for that slot.
// The stall detector reports it, naming the stuck windows (before it, the
// watchdog ended it: every run of it, on every queue tried).
TEST(smp, a_nested_cycle_in_one_submit_group_deadlocks_on_its_window) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a stuck mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    auto cfg = two_cores(4, 1);
    std::atomic<bool> abort{false};
    cfg.abort = &abort;
    rt::smp<ff_ring_kind> mesh(cfg);
    bench::watchdog dog(abort, std::chrono::minutes(1));
    std::string what;
    try {
        mesh.run([&] { return bounce(mesh, 3, 0, true, 0); });
    } catch (const rt::smp_deadlock& e) {
        what = e.what();
    }
    EXPECT_FALSE(abort.load());
    EXPECT_EQ(what,
              "qmesh: deadlock: every reactor is idle and no message is on its way, yet run()'s function has not "
              "finished (0->1 group 0: 1 in flight, 1 waiting to be sent; 1->0 group 0: 1 in flight, 0 waiting "
              "to be sent)");
    const auto& c01 = mesh.counters(0, 1);
    EXPECT_EQ(c01.sent, 1u);         // the first hop, never completed
    EXPECT_EQ(c01.completed, 0u);
    EXPECT_EQ(c01.full_stalls, 1u);  // the third hop, waiting for its slot
#endif
}

// A two-core fastforward mesh under a one-minute watchdog: a test that
// hangs fails (the mesh aborts and run() throws) instead of stalling CI.
rt::smp_config aborted_by(rt::smp_config cfg, std::atomic<bool>& abort) {
    cfg.abort = &abort;
    return cfg;
}
struct watched_pair {
    std::atomic<bool> abort{false};
    bench::watchdog dog{abort, std::chrono::minutes(1)};
    rt::smp<ff_ring_kind> mesh{aborted_by(two_cores(8, 8), abort)};
};

// The local short-cut keeps a coroutine function alive until its future
// resolves, as the remote path's request does: the closure below is a
// temporary of its statement, and the coroutine reads its capture after a
// suspension (a round trip to core 1). Before, the temporary died at the end
// of the statement: the read gave 0 or garbage (ASan: stack-use-after-scope).
TEST(smp, a_coroutine_submitted_to_its_own_core_keeps_its_captures) {
    watched_pair w;
    auto& mesh = w.mesh;
    const std::size_t got = mesh.run([&]() -> rt::future<std::size_t> {
        auto f = mesh.submit_to(0, [&mesh, s = std::string(64, 'x')]() -> rt::future<std::size_t> {
            co_await mesh.submit_to(1, [] {});
            co_return s.size();
        });
        co_return co_await std::move(f);
    });
    EXPECT_EQ(got, 64u);
}

// A failed future dropped on a reactor is counted for that reactor's run,
// and reported (the default handler prints it; here a counting one stands
// in, so that it is checked to run on the dropping core).
std::atomic<int> dropped_on_core{-1};
void note_core(const std::exception_ptr&) noexcept { dropped_on_core = rt::this_core(); }

TEST(smp, a_failure_dropped_on_a_reactor_is_counted_for_its_core) {
    dropped_on_core = -1;
    watched_pair w;
    auto& mesh = w.mesh;
    const auto previous = rt::set_unhandled_failure_handler(&note_core);
    mesh.run([&]() -> rt::future<> {
        co_await mesh.submit_to(1, [] { (void)rt::make_exception_future<>(std::runtime_error("nobody looks")); });
        // Looked at on core 0: not counted.
        try {
            co_await mesh.submit_to(1, [] { throw std::runtime_error("looked at"); });
        } catch (const std::runtime_error&) {
        }
    });
    rt::set_unhandled_failure_handler(previous);
    EXPECT_EQ(mesh.core_stats(0).unhandled_failures, 0u);
    EXPECT_EQ(mesh.core_stats(1).unhandled_failures, 1u);
    EXPECT_EQ(mesh.core_totals().unhandled_failures, 1u);
    EXPECT_EQ(dropped_on_core.load(), 1);
    EXPECT_EQ(bench::dropped_failures_error(mesh),
              "1 failed future was dropped unobserved on the reactors (first ones printed on stderr)");
}

// An aborted reactor leaves its queued tasks unrun; a failed future one of
// them holds dies with it, and is counted for that core (before, it was
// disposed of at thread exit, after the core's count was taken: counted only
// process-wide, and its handler ran on no core). A chain the discard breaks
// is not counted (future_test says why). Deterministic: the tasks are
// scheduled while core 1 polls, and a reactor checks the abort flag between
// that poll and its next run of tasks.
TEST(smp, a_failure_left_in_an_aborted_reactors_tasks_is_counted_for_its_core) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "an aborted mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    dropped_on_core = -1;
    std::atomic<bool> abort{false};
    rt::smp<ff_ring_kind> mesh{aborted_by(two_cores(8, 8), abort)};
    const auto previous = rt::set_unhandled_failure_handler(&note_core);
    const std::uint64_t before = rt::unhandled_failures();
    EXPECT_THROW(mesh.run([&]() -> rt::future<> {
        co_await mesh.submit_to(1, [&abort] {
            rt::schedule_fn([f = rt::make_exception_future<>(std::runtime_error("left behind"))] {});
            // A chain that never failed, broken only by the discard: not counted.
            rt::promise<> p;
            (void)p.get_future().then([] {}).then([] {});
            rt::schedule_fn([p = std::move(p)] {});
            abort.store(true, std::memory_order_relaxed);
        });
    }),
                 std::runtime_error);
    rt::set_unhandled_failure_handler(previous);
    EXPECT_EQ(rt::unhandled_failures() - before, 1u);
    EXPECT_EQ(mesh.core_stats(1).unhandled_failures, 1u);
    EXPECT_EQ(mesh.core_totals().unhandled_failures, 1u);
    EXPECT_EQ(dropped_on_core.load(), 1);
#endif
}

// A loop whose body is always ready gives its core back now and then, so a
// loop that waits for a reply sees it come: the reactor polls between tasks.
// Before, repeat and do_until never suspended on a ready body and ran as one
// endless task; the bound on the spins (about a second of them) turns that
// hang into a failure.
TEST(smp, a_loop_of_ready_iterations_lets_its_reactor_poll) {
    watched_pair w;
    auto& mesh = w.mesh;
    constexpr std::uint64_t give_up = 200'000'000;
    std::uint64_t spins_repeat = 0, spins_until = 0;
    mesh.run([&]() -> rt::future<> {
        bool arrived = false;
        auto reply = mesh.submit_to(1, [] { return 1; }).then([&](int) { arrived = true; });
        co_await rt::repeat([&] {
            return arrived || ++spins_repeat == give_up ? rt::stop_iteration::yes : rt::stop_iteration::no;
        });
        co_await std::move(reply);
        arrived = false;
        reply = mesh.submit_to(1, [] { return 2; }).then([&](int) { arrived = true; });
        co_await rt::do_until([&] { return arrived || spins_until == give_up; },
                              [&] { ++spins_until; return rt::make_ready_future<>(); });
        co_await std::move(reply);
    });
    EXPECT_LT(spins_repeat, give_up);
    EXPECT_LT(spins_until, give_up);
}

// Where a reply's continuation runs (smp_config::inline_replies). Reactor 0
// queues `queued` tasks and runs one a turn (task_quota 1); the first lets
// core 1 answer and waits until its function has returned, so the reply is
// on its way and polled while most of the tasks still wait. Inline, its
// continuation runs in that poll, ahead of them; scheduled, it joins the
// queue behind every one of them. Returns how many had run when it did.
// (Inline fails only if core 1 takes longer to push a reply it has made than
// reactor 0 takes to run the rest: a million turns, 50 ms at least.)
std::size_t tasks_run_before_the_reply(bool inline_replies, std::size_t queued) {
    std::atomic<bool> abort{false};
    bench::watchdog dog{abort, std::chrono::minutes(1)};
    rt::smp_config c = aborted_by(two_cores(8, 8), abort);
    c.task_quota = 1;
    c.inline_replies = inline_replies;
    rt::smp<ff_ring_kind> mesh(c);
    std::atomic<bool> go{false}, answered{false};
    std::size_t ran = 0, at_reply = 0;
    mesh.run([&]() -> rt::future<> {
        auto reply = mesh.submit_to(1, [&] {
            while (!go.load(std::memory_order_relaxed)) std::this_thread::yield();
            answered.store(true, std::memory_order_relaxed);
            return 1;
        });
        auto seen = std::move(reply).then([&](int) { at_reply = ran; });
        for (std::size_t i = 0; i < queued; ++i)
            rt::schedule_fn([&go, &answered, &ran, i] {
                if (i == 0) {
                    go.store(true, std::memory_order_relaxed);
                    while (!answered.load(std::memory_order_relaxed)) std::this_thread::yield();
                }
                ++ran;
            });
        co_await std::move(seen);
    });
    EXPECT_EQ(ran, queued);
    return at_reply;
}

TEST(smp, a_replys_continuation_runs_in_the_poll_that_took_it_or_queues_when_told) {
    constexpr std::size_t queued = 1'000'000;
    EXPECT_LT(tasks_run_before_the_reply(true, queued), queued) << "inline: it waited behind the queue";
    EXPECT_EQ(tasks_run_before_the_reply(false, queued), queued) << "scheduled: it jumped the queue";
}

// Inline continuations are bounded by the reply quota. Reactor 0 sends
// `window` requests, then queues `queued` tasks and runs `quota` a turn
// (task_quota, and reply_quota `reply_quota`: `quota` unless given). Its
// first task lets core 1 answer and waits until core 1 has pushed every
// reply (the last function schedules the signal on core 1, which runs only
// after that reply is pushed), so one poll takes them all. The first `quota`
// continuations run in it; the rest are scheduled behind the queued tasks.
// The first continuation sends one more request: its reply comes back while
// those wait, and must queue behind them, not run first. Returns, per reply
// in order of submission, how many queued tasks had run when its
// continuation did, and the order the continuations ran in.
// Core 1's side of a burst of `window` requests that reaches reactor 0 in one
// poll: request 0 waits for `go`, and the last schedules, on core 1, the
// signal that every reply is pushed (it runs in core 1's next turn, after
// that reply went out). Release: pairs with the waiter's acquire, so reactor
// 0 then finds every reply.
auto burst_request(std::atomic<bool>& go, std::atomic<bool>& pushed, std::size_t i, std::size_t window) {
    return [&go, &pushed, i, window] {
        if (i == 0)
            while (!go.load(std::memory_order_relaxed)) std::this_thread::yield();
        if (i + 1 == window) rt::schedule_fn([&pushed] { pushed.store(true, std::memory_order_release); });
        return i;
    };
}

struct inline_quota_run {
    std::vector<std::size_t> at;
    std::vector<std::size_t> order;
    std::uint64_t deferred = 0;  // reactor 0's count
};
inline_quota_run run_inline_quota(std::size_t quota, std::size_t window, std::size_t queued,
                                  std::optional<std::size_t> reply_quota = std::nullopt) {
    std::atomic<bool> abort{false};
    bench::watchdog dog{abort, std::chrono::minutes(1)};
    rt::smp_config c = aborted_by(two_cores(window + 1, window + 1), abort);
    c.task_quota = quota;
    c.reply_quota = reply_quota.value_or(quota);
    rt::smp<ff_ring_kind> mesh(c);
    std::atomic<bool> go{false}, pushed{false};
    std::size_t ran = 0;
    inline_quota_run r;
    r.at.assign(window + 1, queued + 1);
    mesh.run([&]() -> rt::future<> {
        auto seen = [&](std::size_t i) {
            return [&r, &ran, i](std::size_t v) {
                EXPECT_EQ(v, i);
                r.at[i] = ran;
                r.order.push_back(i);
            };
        };
        std::vector<rt::future<>> replies;
        rt::future<> extra = rt::make_ready_future<>();
        for (std::size_t i = 0; i < window; ++i) {
            auto f = mesh.submit_to(1, burst_request(go, pushed, i, window));
            if (i == 0) {
                replies.push_back(std::move(f).then([&, i](std::size_t v) {
                    seen(i)(v);
                    extra = mesh.submit_to(1, [window] { return window; }).then(seen(window));
                }));
            } else {
                replies.push_back(std::move(f).then(seen(i)));
            }
        }
        for (std::size_t k = 0; k < queued; ++k)
            rt::schedule_fn([&go, &pushed, &ran, k] {
                if (k == 0) {
                    go.store(true, std::memory_order_relaxed);
                    while (!pushed.load(std::memory_order_acquire)) std::this_thread::yield();
                }
                ++ran;
            });
        for (auto& f : replies) co_await std::move(f);
        co_await std::move(extra);
    });
    EXPECT_EQ(ran, queued);
    r.deferred = mesh.core_stats(0).deferred;
    return r;
}

// The order run_inline_quota's continuations ran in when they kept reply
// order: the burst's `window` replies, then the extra request's.
std::vector<std::size_t> reply_order(std::size_t window) {
    std::vector<std::size_t> order(window + 1);
    std::iota(order.begin(), order.end(), std::size_t{0});
    return order;
}

TEST(smp, inline_continuations_stop_at_the_reply_quota_and_the_rest_keep_reply_order) {
    constexpr std::size_t window = 8, queued = 1'000'000;
    for (const std::size_t quota : {1u, 3u}) {
        const inline_quota_run r = run_inline_quota(quota, window, queued);
        for (std::size_t i = 0; i < window; ++i) {
            if (i < quota) EXPECT_LT(r.at[i], queued) << "quota " << quota << ": reply " << i << " was not run inline";
            else EXPECT_EQ(r.at[i], queued) << "quota " << quota << ": reply " << i << " ran inline past the quota";
        }
        EXPECT_EQ(r.order, reply_order(window)) << "quota " << quota;
        // The burst's replies past the quota were deferred, and so was the
        // extra request's if it came back before they had run.
        EXPECT_GE(r.deferred, window - quota) << "quota " << quota;
        EXPECT_LE(r.deferred, window - quota + 1) << "quota " << quota;
    }
}

// With no reply quota (the default) a poll runs the continuation of every
// reply it takes, however few tasks a turn runs: the task quota (1 here)
// does not throttle replies. Under the old rule (the task quota bounded them
// too) the burst's replies past the first were deferred, and in a mesh of
// many sources every reply was, once one poll had taken more than the quota
// (runtime/README.md, "The reply quota").
TEST(smp, without_a_reply_quota_every_reply_a_poll_takes_runs_inline) {
    constexpr std::size_t window = 8, queued = 1'000'000;
    const inline_quota_run r = run_inline_quota(1, window, queued, 0);
    for (std::size_t i = 0; i < window; ++i)
        EXPECT_LT(r.at[i], queued) << "reply " << i << " waited behind the queued tasks";
    EXPECT_EQ(r.order, reply_order(window));
    EXPECT_EQ(r.deferred, 0u);
}

// The deferral ends once the deferred continuations have run, not when the
// task queue is next empty: on a core whose tasks reschedule themselves (the
// mesh suite's busy receivers) it never is. Reactor 0 runs such a ticker, 3
// tasks a turn, while two bursts of 8 replies each arrive in one poll (as
// above). In each, the first 3 continuations run inline in that poll and see
// one tick count; the other 5 are deferred and run after the ticker's next
// run, so they see a later one. Returns the counts each burst saw.
std::array<std::vector<std::uint64_t>, 2> ticks_seen_by_two_bursts(std::size_t quota, std::size_t window) {
    std::atomic<bool> abort{false};
    bench::watchdog dog{abort, std::chrono::minutes(1)};
    rt::smp_config c = aborted_by(two_cores(window, window), abort);
    c.task_quota = quota;
    c.reply_quota = quota;
    rt::smp<ff_ring_kind> mesh(c);
    std::atomic<bool> go{false}, pushed{false};
    std::uint64_t ticks = 0;
    bool stop = false;
    std::array<std::vector<std::uint64_t>, 2> seen;
    struct ticker {
        std::uint64_t* ticks;
        const bool* stop;
        void operator()() const {
            ++*ticks;
            if (!*stop) rt::schedule_fn(*this);
        }
    };
    mesh.run([&]() -> rt::future<> {
        rt::schedule_fn(ticker{&ticks, &stop});
        for (auto& burst : seen) {
            go.store(false, std::memory_order_relaxed);
            pushed.store(false, std::memory_order_relaxed);
            std::vector<rt::future<>> replies;
            for (std::size_t i = 0; i < window; ++i)
                replies.push_back(mesh.submit_to(1, burst_request(go, pushed, i, window))
                                      .then([&burst, &ticks](std::size_t) { burst.push_back(ticks); }));
            rt::schedule_fn([&go, &pushed] {
                go.store(true, std::memory_order_relaxed);
                while (!pushed.load(std::memory_order_acquire)) std::this_thread::yield();
            });
            for (auto& f : replies) co_await std::move(f);
        }
        stop = true;
    });
    return seen;
}

TEST(smp, inline_continuations_resume_once_the_deferred_ones_have_run_though_tasks_never_run_out) {
    constexpr std::size_t quota = 3, window = 8;
    const auto seen = ticks_seen_by_two_bursts(quota, window);
    for (std::size_t b = 0; b < seen.size(); ++b) {
        const auto& t = seen[b];
        ASSERT_EQ(t.size(), window) << "burst " << b;
        for (std::size_t i = 1; i < quota; ++i) EXPECT_EQ(t[i], t[0]) << "burst " << b << ": reply " << i << " not in the poll";
        EXPECT_LT(t[quota - 1], t[quota]) << "burst " << b << ": reply " << quota << " ran inline past the quota, or "
                                          << "replies 0.." << quota - 1 << " were deferred";
        EXPECT_TRUE(std::is_sorted(t.begin(), t.end())) << "burst " << b;
    }
}

// time_turns splits each reactor's loop into busy turns and the rest.
// Reactor 0 spends 30 ms in one task, then sends core 1 one request; core 1
// has nothing to do meanwhile. So reactor 0's loop is mostly busy and core
// 1's mostly idle, whatever the machine's speed (a reactor descheduled
// while it waits loses idle time, not busy time). Without time_turns,
// nothing is counted.
TEST(smp, time_turns_counts_the_loop_time_of_busy_turns) {
    for (const bool timed : {true, false}) {
        auto cfg = two_cores(8, 8);
        cfg.time_turns = timed;
        rt::smp<ff_ring_kind> mesh(cfg);
        mesh.run([&]() -> rt::future<> {
            spin_for(std::chrono::milliseconds(30));
            co_await mesh.submit_to(1, [] { return 1; }).discard_result();
        });
        const rt::core_counters& c0 = mesh.core_stats(0);
        const rt::core_counters& c1 = mesh.core_stats(1);
        if (!timed) {
            EXPECT_EQ(c0.busy_ticks + c0.loop_ticks + c1.busy_ticks + c1.loop_ticks, 0u);
            continue;
        }
        for (const auto* c : {&c0, &c1}) {
            EXPECT_GT(c->busy_ticks, 0u);  // core 1 took a request, reactor 0 ran tasks
            EXPECT_LE(c->busy_ticks, c->loop_ticks);
        }
        const auto share = [](const rt::core_counters& c) {
            return static_cast<double>(c.busy_ticks) / static_cast<double>(c.loop_ticks);
        };
        EXPECT_GT(share(c0), 0.5) << "the 30 ms task was not counted busy";
        EXPECT_LT(share(c1), 0.5) << "core 1's idle turns were counted busy";
    }
}

// A doorbell core keeps polling a source that delivered for
// doorbell_linger_turns empty polls, then lets its bit go (so an idle core
// is back to one word a turn). Core 1 gets one request from core 0 and then
// nothing for 50 ms while core 0 keeps turning: its empty polls of that queue
// are the linger and the one that clears the bit; with no linger, none (the
// bit goes in the poll that took the request).
TEST(smp, a_doorbell_source_lingers_for_its_turns_and_then_lets_go) {
    for (const std::uint32_t linger : {0u, 100u}) {
        std::atomic<bool> abort{false};
        bench::watchdog dog{abort, std::chrono::minutes(1)};
        rt::smp_config c = aborted_by(two_cores(8, 8), abort);
        c.poll = rt::polling::doorbell;
        c.doorbell_linger_turns = linger;
        rt::smp<ff_ring_kind> mesh(c);
        mesh.run([&]() -> rt::future<> {
            co_await mesh.submit_to(1, [] {});
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
            co_await rt::do_until([&] { return std::chrono::steady_clock::now() >= until; },
                                  [] { return rt::make_ready_future<>(); });
        });
        EXPECT_EQ(mesh.counters(0, 1).received, 1u);
        EXPECT_EQ(mesh.counters(0, 1).empty_polls, linger == 0 ? 0u : linger + 1u) << "linger " << linger;
    }
}

// Stuck with nothing held: run()'s function waits on a future whose
// promise nothing will ever fulfil (it outlives the mesh, leaked: breaking
// it would run run()'s continuation after run() has gone).
TEST(smp, a_future_nothing_can_fulfil_is_a_deadlock) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a stuck mesh leaks what it holds by design; LeakSanitizer would report it";
#else
    for (auto idle : {rt::idle_policy::busy_poll, rt::idle_policy::sleep}) {
        auto cfg = two_cores(4, 4);
        cfg.idle = idle;
        auto* never = new rt::promise<int>;
        const std::string what = deadlock_of<ff_ring_kind>(cfg, [&](auto& mesh) {
            // Some traffic first: the answers are not all zero.
            return mesh.submit_to(1, [] { return 1; }).then([never](int) { return never->get_future(); });
        });
        EXPECT_EQ(what,
                  "qmesh: deadlock: every reactor is idle and no message is on its way, yet run()'s function has "
                  "not finished (no request is held: a future waits for a promise nothing can fulfil)")
            << rt::to_string(idle);
    }
#endif
}

// Stuck after run()'s function has finished: it leaves a nested cycle behind
// (its future dropped), which keeps core 0 and core 1 from quiescing. It
// returns once the third hop waits, not before: a core that has seen the
// stop refuses new submissions, which would have failed the cycle instead.
TEST(smp, requests_left_stuck_after_the_run_are_a_deadlock) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a stuck mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    rt::promise<> third_waits;  // core 0's
    const std::string what = deadlock_of<ff_ring_kind>(two_cores(4, 1), [&](auto& mesh) -> rt::future<> {
        (void)mesh.submit_to(1, [&] {
            return mesh.submit_to(0, [&] {
                auto third = mesh.submit_to(1, [] {});  // waits for the slot the first one holds
                third_waits.set_value();
                return third;
            });
        });
        co_await third_waits.get_future();
    });
    EXPECT_EQ(what,
              "qmesh: deadlock: every reactor is idle and no message is on its way, but some requests can never "
              "complete (0->1 group 0: 1 in flight, 1 waiting to be sent; 1->0 group 0: 1 in flight, 0 waiting to "
              "be sent)");
#endif
}

// A queue that stops handing slots back (its consumer never publishes its
// head) leaves a submission that can never be sent: stuck, and reported.
TEST(smp, a_queue_that_keeps_its_slots_is_a_deadlock) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a stuck mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    const std::string what =
        deadlock_of<broken_lamport_kind<lamport_bug::head_never_published>>(two_cores(2, 2), [](auto& mesh) {
            return [](auto& m) -> rt::future<> {
                for (int i = 0; i < 100; ++i) co_await m.submit_to(1, [] {});
            }(mesh);
        });
    EXPECT_NE(what.find("(0->1 group 0: 0 in flight, 1 waiting to be sent)"), std::string::npos) << what;
#endif
}

// The stall detector's rule, one condition at a time (the meshes above and
// below, run with it at its most eager, rarely meet the cases it guards
// against: each of the rule's conditions, dropped, left every mesh test
// passing; these fail).
TEST(stall_verdict, needs_two_waves_alike_with_pushes_equal_to_pops_and_a_run_that_cannot_end) {
    using v = rt::detail::stall_view;
    using views = std::vector<v>;
    auto verdict = [](const views& last, const views& now, bool stopping) {
        return rt::detail::stall_verdict(last, now, stopping);
    };
    // Core 0 sent a request and took its reply; core 1 holds a request of
    // its own that waits on a reply it can never get.
    const views stuck{{4, 4, 0, false, false}, {2, 2, 1, false, false}};
    EXPECT_TRUE(verdict(stuck, stuck, false));
    // One wave is not enough. Core 1 answered before it popped core 0's
    // request (and so before it pushed the reply); core 0 answered after it
    // popped that reply: 1 push, 1 pop, with the reply still on its way at
    // core 1's answer. The next wave tells.
    const views cut{{1, 1, 0, false, false}, {0, 0, 0, false, false}};
    EXPECT_FALSE(verdict({}, cut, false));
    EXPECT_FALSE(verdict(cut, views{{1, 1, 0, false, false}, {1, 1, 0, false, false}}, false));
    // Alike, but a message is on its way (pushed, not yet popped).
    const views in_transit{{3, 2, 1, false, false}, {2, 2, 0, false, false}};
    EXPECT_FALSE(verdict(in_transit, in_transit, false));
    // Any change between the waves, even one that keeps pushes equal to
    // pops: a reactor moved.
    const std::vector<void (*)(v&)> moves{[](v& m) { ++m.pushed, ++m.popped; }, [](v& m) { ++m.held; },
                                          [](v& m) { m.stop_seen = true; }, [](v& m) { m.quiesced = true; }};
    for (std::size_t i = 0; i < moves.size(); ++i) {
        views moved = stuck;
        moves[i](moved[1]);
        EXPECT_FALSE(verdict(stuck, moved, false)) << "move " << i;
    }
    // run()'s function has finished: stuck only while a reactor that has
    // seen the stop cannot quiesce.
    const views all_quiesced{{4, 4, 0, true, true}, {4, 4, 0, true, true}};
    EXPECT_FALSE(verdict(all_quiesced, all_quiesced, true));  // they are on their way out
    const views one_unaware{{4, 4, 1, true, false}, {4, 4, 1, false, false}};
    EXPECT_FALSE(verdict(one_unaware, one_unaware, true));  // it may yet see the stop
    const views held{{4, 4, 1, true, false}, {4, 4, 0, true, true}};
    EXPECT_TRUE(verdict(held, held, true));
    EXPECT_FALSE(verdict(views{}, views{}, false));
    EXPECT_FALSE(verdict(stuck, views{stuck[0]}, false));
}

// Not stuck: core 1 runs one long task while core 0, idle, waits for what
// core 1 will send when it is done. Core 0's counts then match whatever core
// 1 last said (core 0's request and its reply, pushed and popped, after core
// 1's last answer): a detector that read answers without waiting for every
// reactor to answer the current wave called this stuck (seen: every run).
TEST(smp, a_reactor_busy_for_long_is_not_stuck) {
    auto cfg = two_cores(4, 4);
    cfg.stall_check_turns = 1;
    rt::smp<ff_ring_kind> mesh(cfg);
    rt::promise<> done;  // core 0's
    bool fulfilled = false;
    mesh.run([&]() -> rt::future<> {
        co_await mesh.submit_to(1, [&] {
            rt::schedule_fn([&] {
                spin_for(std::chrono::milliseconds(50));
                (void)mesh.submit_to(0, [&] { done.set_value(); });
            });
        });
        co_await done.get_future();
        fulfilled = true;
    });
    EXPECT_TRUE(fulfilled);
}

TEST(smp, submit_groups_are_checked) {
    auto cfg = two_cores(4, 4);
    cfg.groups = 0;
    EXPECT_THROW(rt::smp<lamport_kind>{cfg}, std::invalid_argument);
    cfg.groups = 2;
    rt::smp<lamport_kind> mesh(cfg);
    std::string what;
    mesh.run([&]() -> rt::future<> {
        try {
            (void)co_await mesh.submit_to(1, rt::submit_group{2}, [] { return 1; });
        } catch (const std::out_of_range& e) {
            what = e.what();
        }
        EXPECT_EQ(co_await mesh.submit_to(1, rt::submit_group{1}, [] { return 7; }), 7);
    });
    EXPECT_EQ(what, "submit_to: no such submit group");
    EXPECT_EQ(mesh.totals().completed, 1u);
}

// map_reduce, like invoke_on_all, waits for every mapper: it fails only once
// all have finished, with the first failure in core order, and leaves none of
// the others unobserved.
TEST(smp, map_reduce_fails_after_every_mapper_has_finished) {
    rt::smp<lamport_kind> mesh(two_cores(8, 8));
    std::atomic<bool> slow_done{false};
    bool done_when_failed = false;
    std::string what;
    const auto before = rt::unhandled_failures();
    mesh.run([&]() -> rt::future<> {
        try {
            (void)co_await mesh.map_reduce(
                [&]() -> int {
                    if (rt::this_core() == 1) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(50));
                        slow_done = true;
                    }
                    throw std::runtime_error("mapper on core " + std::to_string(rt::this_core()));
                },
                0, [](int a, int b) { return a + b; });
        } catch (const std::runtime_error& e) {
            what = e.what();
            done_when_failed = slow_done.load();
        }
    });
    EXPECT_EQ(what, "mapper on core 0");
    EXPECT_TRUE(done_when_failed);
    EXPECT_EQ(rt::unhandled_failures(), before);
}

// A parked reactor is always woken: each round trip finds its target parked
// (it sleeps after one idle turn), and the futex timeout is far longer than
// the watchdog's, so one lost wake-up fails the run instead of being
// papered over by a timeout.
TEST(smp, a_parked_reactor_is_never_missed) {
    auto cfg = two_cores(8, 8);
    cfg.idle = rt::idle_policy::sleep;
    cfg.idle_turns_before_sleep = 1;
    cfg.idle_poll_time = std::chrono::microseconds(0);  // park at once: every round trip finds it parked
    cfg.sleep_timeout = std::chrono::seconds(120);
    std::atomic<bool> abort{false};
    cfg.abort = &abort;
    rt::smp<lamport_kind> mesh(cfg);
    bench::watchdog dog(abort, std::chrono::seconds(60));
    const std::uint64_t n = scaled(3000);
    std::uint64_t sum = 0;
    mesh.run([&]() -> rt::future<> {
        for (std::uint64_t i = 0; i < n; ++i) sum += co_await mesh.submit_to(1, [i] { return i; });
    });
    dog.stop();
    EXPECT_FALSE(abort.load());
    EXPECT_EQ(sum, n * (n - 1) / 2);
    EXPECT_GT(mesh.core_stats(1).sleeps, 0u) << "core 1 never parked: the test did not exercise the wake-up";
    EXPECT_GT(mesh.core_totals().wakeups, 0u);
}

// A sleeping reactor polls on for idle_poll_time after its empty turns
// before it parks. Core 0 keeps busy in a task between two requests (it
// cannot park) while core 1 idles. With a poll time of 1 ms core 1 parks:
// core 0 watches for it, with a generous deadline, since on a shared machine
// core 1's thread may get little CPU. With 60 s it must not park within 1 s
// (before the poll time it parked after 256 turns, microseconds, whatever
// the time), and core 1 must have had at least twice those turns, or the
// test would pass by starving it.
TEST(smp, a_sleeping_reactor_polls_for_its_idle_poll_time_before_it_parks) {
    for (const auto poll_time : {std::chrono::microseconds(1000), std::chrono::microseconds(60'000'000)}) {
        SCOPED_TRACE(std::to_string(poll_time.count()) + " us");
        const bool should_park = poll_time.count() < 300'000;
        auto cfg = two_cores(8, 8);
        cfg.idle = rt::idle_policy::sleep;
        cfg.idle_poll_time = poll_time;
        std::atomic<bool> abort{false};
        cfg.abort = &abort;
        rt::smp<lamport_kind> mesh(cfg);
        bench::watchdog dog(abort, std::chrono::seconds(60));
        bool seen_parked = false;
        mesh.run([&]() -> rt::future<> {
            co_await mesh.submit_to(1, [] {});
            const auto start = std::chrono::steady_clock::now();
            const auto watch = should_park ? std::chrono::seconds(30) : std::chrono::seconds(1);
            while (std::chrono::steady_clock::now() - start < watch && !(should_park && seen_parked))
                seen_parked = seen_parked || mesh.parked(1);
            co_await mesh.submit_to(1, [] {});
        });
        dog.stop();
        ASSERT_FALSE(abort.load());
        EXPECT_EQ(seen_parked, should_park);
        if (should_park) {
            EXPECT_GT(mesh.core_stats(1).sleeps, 0u);
        } else {
            EXPECT_EQ(mesh.core_stats(1).sleeps, 0u);
            EXPECT_GE(mesh.core_stats(1).idle_turns, 2 * cfg.idle_turns_before_sleep)
                << "core 1 barely ran: the test did not reach the turns rule";
        }
    }
}

TYPED_TEST(smp_props, idle_poll_measurement_runs_the_reactor_turn) {
    rt::smp_config cfg;
    for (const rt::polling p : {rt::polling::scan, rt::polling::doorbell}) {
        cfg.poll = p;
        for (unsigned n : {2u, 17u, 130u}) {
            const auto r = rt::smp<TypeParam>::measure_idle_poll(n, cfg, 200);
            EXPECT_GT(r.ns_per_turn, 0.0);
            EXPECT_GE(r.bell_bytes, sizeof(std::uint32_t) + 30 * sizeof(std::uint64_t));
        }
    }
    EXPECT_THROW((void)rt::smp<TypeParam>::measure_idle_poll(1, cfg, 10), std::invalid_argument);
}

TEST(smp, pair_footprint_counts_the_slots) {
    rt::smp_config cfg;
    cfg.queue_capacity = 1000;
    const auto r = rt::smp<lamport_kind>::measure_idle_poll(4, cfg, 10);
    // Two queues of 1000 pointer slots each, at least.
    EXPECT_GE(r.pair_bytes, 2 * 1000 * sizeof(void*));
    EXPECT_LT(r.pair_bytes, 4 * 1000 * sizeof(void*) + 4096);
}

TEST(smp, numa_report_accounts_for_every_queue) {
    for (const rt::numa_placement pl :
         {rt::numa_placement::receiver, rt::numa_placement::sender, rt::numa_placement::interleave}) {
        auto cfg = two_cores(8, 8);
        cfg.placement = pl;
        rt::smp<lamport_kind> mesh(cfg);
        mesh.run([&] { return mesh.submit_to(1, [] {}); });
        const auto& r = mesh.numa();
        EXPECT_EQ(r.placement, pl);
        EXPECT_EQ(r.queues, 4u);  // 2 request + 2 return queues
        EXPECT_EQ(r.applied, rt::detail::numa_node_count() > 1);
        // One node: every queue is on it, whatever was asked.
        if (rt::detail::numa_node_count() == 1) {
            EXPECT_EQ(r.on_intended, r.queues);
        }
    }
}

// The locked inbox baseline is the mailbox design: one queue per core, which
// carries the replies to that core's requests as well as the requests for
// it. Core 0 only submits and core 1 only serves, so every reply reaches
// core 0 through its inbox, and every request reaches core 1 through its.
// (Seen to fail on the earlier hybrid, whose replies came back on a locked
// return queue per pair: four queues, and no poll of core 0's inbox found
// anything.)
TEST(smp, the_inbox_baseline_is_one_queue_per_core_for_requests_and_replies) {
    rt::smp<inbox_ring_kind> mesh(two_cores(8, 8));
    const std::uint64_t k = scaled(2000);
    mesh.run([&]() -> rt::future<> {
        for (std::uint64_t i = 0; i < k; ++i) co_await mesh.submit_to(1, [] {});
    });
    EXPECT_EQ(mesh.numa().queues, 2u);
    EXPECT_EQ(mesh.counters(0, 1).completed, k);
    // Every poll of an inbox is booked on (core, core): each of the k
    // messages was taken by a non-empty poll of the inbox it names.
    for (unsigned c = 0; c < 2; ++c) {
        const auto [lo, hi] = batch_bounds(mesh.counters(c, c).batches);
        EXPECT_LE(lo, k) << "core " << c;
        EXPECT_GE(hi, k) << "core " << c;
    }
    // An inbox's share per pair holds that pair's requests and its replies.
    rt::smp_config cfg;
    cfg.queue_capacity = 1000;
    const auto r = rt::smp<inbox_ring_kind>::measure_idle_poll(4, cfg, 10);
    EXPECT_GE(r.pair_bytes, 2 * 1000 * sizeof(void*));
    EXPECT_LT(r.pair_bytes, 4 * 1000 * sizeof(void*) + 4096);
}

// A request's first line is all that crosses to the target: for a function
// of two words returning one, the function, the outcome and the routing fit
// one line, and the future's state (which the origin writes while the
// request is in flight) starts on the next.
TEST(smp, a_small_request_crosses_in_one_line) {
    int* where = nullptr;
    std::uint64_t tag = 7;
    auto fn = [where, tag] { return tag + (where != nullptr ? 1u : 0u); };
    static_assert(sizeof(fn) == 16);
    using item_t = rt::detail::async_work_item<decltype(fn)>;
    static_assert(alignof(item_t) == rt::detail::pool_line, "a request is line-aligned");
    auto* item = new item_t(fn);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(item) % rt::detail::pool_line, 0u);
    EXPECT_EQ(item->crossing_bytes(), rt::detail::pool_line);
    EXPECT_EQ(sizeof(item_t), 2 * rt::detail::pool_line);
    // Its lifetime: the mesh's reference and the future's.
    auto f = item->get_future();
    EXPECT_TRUE(item->process());
    EXPECT_FALSE(f.available());
    EXPECT_EQ(item->complete(), nullptr);  // publishes, drops the mesh's reference; nothing waits on f
    ASSERT_TRUE(f.available());
    EXPECT_EQ(f.get(), 7u);  // and the last reference frees it
}

TEST(smp, map_reduce_and_invoke_on_all) {
    rt::smp<lamport_kind> mesh(two_cores(8, 8));
    std::atomic<int> calls{0};
    const int sum = mesh.run([&]() -> rt::future<int> {
        co_await mesh.invoke_on_all([&] { calls.fetch_add(1); });
        co_return co_await mesh.map_reduce([] { return rt::this_core() + 10; }, 0, [](int a, int b) { return a + b; });
    });
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(sum, 10 + 11);
}

}  // namespace
}  // namespace qmesh::test

namespace qmesh::test {
namespace {

// A queue that stalls (its consumer never hands slots back) must not hang the
// mesh: the watchdog aborts it and run() reports the failure (with the stall
// detector off: it would report the stall first).
TEST(smp, watchdog_aborts_a_stalled_mesh) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "an aborted mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    auto cfg = two_cores(2, 2);
    cfg.stall_check_turns = 0;
    std::atomic<bool> abort{false};
    cfg.abort = &abort;
    rt::smp<broken_lamport_kind<lamport_bug::head_never_published>> mesh(cfg);
    bench::watchdog dog(abort, std::chrono::milliseconds(500));
    EXPECT_THROW(mesh.run([&]() -> rt::future<> {
        for (int i = 0; i < 100; ++i) co_await mesh.submit_to(1, [] {});
    }),
                 std::runtime_error);
    EXPECT_TRUE(abort.load());
#endif
}

}  // namespace
}  // namespace qmesh::test

namespace qmesh::test {
namespace {

// An SPSC ring that hands consumed slots back only at consumer_flush (the
// concept allows it: "returns them to the producer here, called when the
// consumer idles"), and whose producer, on finding the ring full, returns
// late, as if preempted between reading the consumer's index and going on.
// A thread that sets `refuse_here` never finds room again (a queue that
// lost its slots, seen from its producer); one that sets `refuse_next_ring`
// makes the next ring it pushes to refuse it for ever (only that ring).
template <class T>
class lazy_slow_ring {
public:
    using value_type = T;
    static inline thread_local bool refuse_here = false;
    static inline thread_local bool refuse_next_ring = false;
    // Failed pushes, by reactor; the tests run this ring on three reactors
    // (a fourth or later would go uncounted: no throw in a noexcept push).
    static inline std::array<std::atomic<std::uint64_t>, 3> found_full{};
    explicit lazy_slow_ring(std::size_t capacity) : size_(capacity + 1), slots_(capacity + 1) {}
    [[nodiscard]] bool try_push(T&& v) noexcept {
        if (refuse_here || refusing_) return false;
        if (refuse_next_ring) {
            refuse_next_ring = false;
            refusing_ = true;  // the producer's own flag: only it reads it
            return false;
        }
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        const std::size_t n = t + 1 == size_ ? 0 : t + 1;
        if (n == head_.load(std::memory_order_acquire)) {
            if (const auto c = static_cast<std::size_t>(rt::this_core()); c < found_full.size())
                found_full[c].fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a preemption, here
            return false;
        }
        slots_[t] = std::move(v);
        tail_.store(n, std::memory_order_release);
        return true;
    }
    [[nodiscard]] bool try_pop(T& out) noexcept {
        if (next_head_ == tail_.load(std::memory_order_acquire)) return false;
        out = std::move(slots_[next_head_]);
        next_head_ = next_head_ + 1 == size_ ? 0 : next_head_ + 1;
        return true;
    }
    void consumer_flush() noexcept { head_.store(next_head_, std::memory_order_release); }
    std::size_t capacity() const noexcept { return size_ - 1; }

private:
    const std::size_t size_;
    std::vector<T> slots_;
    alignas(64) std::atomic<std::size_t> head_{0};
    alignas(64) std::atomic<std::size_t> tail_{0};
    alignas(64) std::size_t next_head_ = 0;  // consumer's, published by consumer_flush
    bool refusing_ = false;                  // producer's: refuse_next_ring hit this ring
};
struct lazy_slow_ring_kind {
    static constexpr queue_traits traits{
        .name = "lazy_slow_ring",
        .summary = "SPSC ring that returns slots only at consumer_flush (tests only)",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = lazy_slow_ring<T>;
};

template <class M>
rt::future<> three_to_core_2(M& m) {
    auto a = m.submit_to(2, [] {});
    // Keeps core 2 busy (its slots unreturned) while core 1, its window
    // free but the ring full, answers waves.
    auto b = m.submit_to(2, [] {
        rt::schedule_fn([] { spin_for(std::chrono::milliseconds(100)); });
    });
    auto c = m.submit_to(2, [] {});  // waits: the window (2) is full
    co_await std::move(a);
    co_await std::move(b);
    co_await std::move(c);
}

// Runs `on_core_1` (a coroutine of the mesh, on reactor 1) in 20 meshes of
// three reactors over lazy_slow_ring, `slots` to a ring and a window (0 and
// 2 share a CPU; unpinned, yielding), with a wave after every idle turn of
// reactor 0: each must finish, and none be called stuck. By default a poll
// takes one message (poll_budget 1), so a consumer that pops one has hit
// its budget and hands the slot back only at its next poll, found empty.
template <class F>
void never_called_stuck(std::size_t slots, F on_core_1, rt::polling poll = rt::polling::scan,
                        std::size_t poll_budget = 1, std::size_t stall_check_turns = 1) {
    rt::smp_config cfg;
    cfg.poll = poll;
    cfg.poll_budget = poll_budget;
    const auto& av = rt::topology::instance().available();
    cfg.cores = {av.at(0), av.size() > 1 ? av[1] : av[0], av.at(0)};
    cfg.pin = false;
    cfg.yield_when_idle = true;
    cfg.queue_capacity = slots;
    cfg.max_inflight = slots;
    cfg.stall_check_turns = stall_check_turns;
    std::atomic<bool> abort{false};
    cfg.abort = &abort;
    bench::watchdog dog(abort, std::chrono::minutes(1));
    for (int rep = 0; rep < 20; ++rep) {
        rt::smp<lazy_slow_ring_kind> mesh(cfg);
        bool done = false;
        try {
            mesh.run([&] { return mesh.submit_to(1, [&] { return on_core_1(mesh); }).then([&] { done = true; }); });
        } catch (const std::exception& e) {  // called stuck, or aborted by the watchdog
            ADD_FAILURE() << rt::to_string(poll) << ", rep " << rep << ": " << e.what();
        }
        EXPECT_TRUE(done) << rt::to_string(poll) << ", rep " << rep;
        if (!done) break;
    }
}

// Not stuck: core 1's third request waits for a slot of a ring whose
// consumer (core 2) returns slots at its next idle poll. A passive core
// with a waiting submission can send without popping anything (it retries
// every turn), so its two equal answers do not prove it stayed passive.
TEST(smp, a_submission_waiting_for_a_returned_slot_is_not_stuck) {
    auto& full = lazy_slow_ring<rt::work_item*>::found_full;
    const std::uint64_t before = full[1].load();
    never_called_stuck(2, [](auto& m) { return three_to_core_2(m); });
    // The case under test happened: core 1 found its request ring full.
    EXPECT_GT(full[1].load(), before);
}

// Core 1 submits to core 2 through rings of one slot, and keeps the slot of
// the first reply (its return ring's only one) by not polling: it spins
// before its second submission (so core 2 hands the request slot back) and
// after it. Core 2's second reply finds the return ring full and is held
// back until core 1 polls again and hands the slot back.
template <class M>
rt::future<> a_reply_into_a_full_ring(M& m) {
    co_await m.submit_to(2, [] {});
    spin_for(std::chrono::milliseconds(1));
    auto second = m.submit_to(2, [] {});
    spin_for(std::chrono::milliseconds(100));
    co_await std::move(second);
}

// Not stuck: core 2 holds back a reply its return ring has no room for
// until core 1, busy, polls and hands the slot back (consumer_flush, no
// message); core 2's failed push returns late. A passive core with a reply
// held back can push without popping anything, so its equal answers do not
// prove it stayed passive: it retries its held-back replies after it sees a
// wave, before it answers.
TEST(smp, a_reply_held_back_for_a_returned_slot_is_not_stuck) {
    auto& full = lazy_slow_ring<rt::work_item*>::found_full;
    const std::uint64_t before = full[2].load();
    never_called_stuck(1, [](auto& m) { return a_reply_into_a_full_ring(m); });
    // The case under test happened: core 2, which pushes only replies, found
    // its return ring full.
    EXPECT_GT(full[2].load(), before);
}

// The same, polling by doorbell: a consumer polls only the sources that rang
// it, so a ring it drained (not empty) and whose producer has nothing more
// to ring about must still get its slots back when the consumer idles, or a
// correct program stalls (and, since held-back replies answer waves, is
// called stuck).
// (A poll within its budget: a poll that hits it keeps the source's bit.)
TEST(smp, a_slot_is_handed_back_when_polling_by_doorbell) {
    never_called_stuck(1, [](auto& m) { return a_reply_into_a_full_ring(m); }, rt::polling::doorbell, 64);
    never_called_stuck(2, [](auto& m) { return three_to_core_2(m); }, rt::polling::doorbell, 64);
}

// Not stuck, and not left to the stall detector: core 1's third request
// waits for a ring slot that core 2 hands back on its idle poll, which rings
// no one, after both replies have come back. Polling by doorbell, core 1
// polls only sources that ring, so only its per-turn retry of waiting
// submissions sends it. Before, only a wave retried it: with the detector
// off (stall_check_turns 0) the mesh hung until the watchdog aborted it, and
// with it on the request waited until reactor 0 happened to idle.
TEST(smp, a_submission_waiting_for_a_handed_back_slot_is_sent_without_a_wave) {
    auto& full = lazy_slow_ring<rt::work_item*>::found_full;
    const std::uint64_t before = full[1].load();
    never_called_stuck(2, [](auto& m) { return three_to_core_2(m); }, rt::polling::doorbell, 1, 0);
    // The case under test happened: core 1 found its request ring full.
    EXPECT_GT(full[1].load(), before);
}

// Stuck: core 2's return ring never takes its reply (its producer finds no
// room, ever), so core 1's request stays in flight. Core 2 holds the reply
// back and retries it every turn, to no avail: reported, not a hang.
TEST(smp, a_reply_its_return_queue_never_takes_is_a_deadlock) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a stuck mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    auto cfg = two_cores(2, 2);
    cfg.stall_check_turns = 1;
    const std::string what = deadlock_of<lazy_slow_ring_kind>(cfg, [](auto& mesh) {
        return mesh.submit_to(1, [] { lazy_slow_ring<rt::work_item*>::refuse_here = true; });
    });
    EXPECT_NE(what.find("(0->1 group 0: 1 in flight, 0 waiting to be sent; core 1 holds back 1 reply for core 0 (return queue 1->0 full))"),
              std::string::npos)
        << what;
#endif
}


// One full return queue holds up only the replies to its own core: core 2's
// return ring to core 0 refuses core 0's reply for ever, and core 1's
// request to core 2, sent after core 2 held that reply back, still comes
// back. (Held back in one list for all origins, core 1's reply waited behind
// core 0's, and the mesh stuck with run()'s function unfinished.) The mesh
// then sticks at the stop on core 0's request alone, and says so.
TEST(smp, a_full_return_queue_holds_up_only_its_own_cores_replies) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "a stuck mesh leaks what was in flight by design; LeakSanitizer would report it";
#else
    rt::smp_config cfg;
    const auto& av = rt::topology::instance().available();
    cfg.cores = {av.at(0), av.size() > 1 ? av[1] : av[0], av.at(0)};
    cfg.pin = false;
    cfg.yield_when_idle = true;
    cfg.queue_capacity = 4;
    cfg.max_inflight = 4;
    cfg.stall_check_turns = 1;
    std::atomic<bool> held{false};
    bool core_1_answered = false;
    const std::string what = deadlock_of<lazy_slow_ring_kind>(cfg, [&](auto& mesh) -> rt::future<> {
        // Core 2 pushes this reply right after the function returns: to the
        // ring 2->0, which from then on refuses it.
        (void)mesh.submit_to(2, [&] {
            lazy_slow_ring<rt::work_item*>::refuse_next_ring = true;
            held.store(true, std::memory_order_release);
        });
        co_await mesh.submit_to(1, [&] {
            while (!held.load(std::memory_order_acquire)) std::this_thread::yield();
            return mesh.submit_to(2, [] {});
        });
        core_1_answered = true;
    });
    EXPECT_TRUE(core_1_answered) << what;
    EXPECT_NE(what.find("but some requests can never complete"), std::string::npos) << what;
    EXPECT_NE(what.find("core 2 holds back 1 reply for core 0 (return queue 2->0 full)"), std::string::npos) << what;
    EXPECT_EQ(what.find("for core 1"), std::string::npos) << what;
#endif
}

}  // namespace
}  // namespace qmesh::test
