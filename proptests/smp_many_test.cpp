// Meshes of more than two reactors (the other smp tests use two): all-to-all
// traffic with nested submissions answered later, under every way of finding
// work, idling and batching, with tiny queues and in-flight limits. With
// N > 2 an inbox has several senders of requests and of replies, which two
// cores cannot show. Reactors share the machine's PUs (pin = false,
// yield_when_idle), so a mesh may have more reactors than PUs.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "qmesh/runtime/smp.hpp"
#include "qmesh/runtime/topology.hpp"
#include "pinned.hpp"
#include "test_support.hpp"

namespace qmesh::test {
namespace {

struct many_strategy {
    const char* name;
    rt::polling poll;
    rt::idle_policy idle;
    bool flush_on_poll;
    std::size_t flush_threshold;
    std::size_t flush_max_turns;
};
constexpr many_strategy many_strategies[] = {
    {"scan", rt::polling::scan, rt::idle_policy::busy_poll, true, 0, 16},
    {"doorbell", rt::polling::doorbell, rt::idle_policy::busy_poll, true, 0, 16},
    {"scan+sleep", rt::polling::scan, rt::idle_policy::sleep, true, 0, 16},
    {"doorbell+sleep", rt::polling::doorbell, rt::idle_policy::sleep, true, 0, 16},
    {"doorbell+sleep, flush when idle or at 3", rt::polling::doorbell, rt::idle_policy::sleep, false, 3, 4},
    {"scan, flush when idle or every 2nd turn", rt::polling::scan, rt::idle_policy::busy_poll, false, 0, 2},
};

// n unpinned, yielding reactors over the PUs there are, finding work, idling
// and flushing as `st` says.
rt::smp_config many_config(unsigned n, const many_strategy& st) {
    const auto& av = rt::topology::instance().available();
    rt::smp_config cfg;
    for (unsigned i = 0; i < n; ++i) cfg.cores.push_back(av[i % av.size()]);
    cfg.pin = false;
    cfg.yield_when_idle = true;
    cfg.poll = st.poll;
    cfg.idle = st.idle;
    cfg.idle_turns_before_sleep = 1;
    cfg.idle_poll_time = std::chrono::microseconds(0);  // park at once: every round trip finds it parked
    // A lost wake-up must hang (and the watchdog fail the run), not be
    // papered over by the futex timeout.
    cfg.sleep_timeout = std::chrono::seconds(120);
    // The stall detector as eager as it goes: it must never call these
    // meshes stuck (and, since it pokes no one, never wakes a parked core).
    cfg.stall_check_turns = 1;
    cfg.flush_on_poll = st.flush_on_poll;
    cfg.flush_threshold = st.flush_threshold;
    cfg.flush_max_turns = st.flush_max_turns;
    return cfg;
}

// Awaits one core's submissions, made in rounds of one to each other core,
// and counts the answers that are not twice their round.
rt::future<std::uint64_t> wrong_answers(std::vector<rt::future<std::uint64_t>>& fs, unsigned n) {
    std::uint64_t wrong = 0, j = 0;
    for (auto& f : fs) {
        if (co_await std::move(f) != (j / (n - 1)) * 2) ++wrong;
        ++j;
    }
    co_return wrong;
}

// seen[t][s]: what core t ran for core s, in order. Every core ran 0 .. k-1
// for every other core, once each, in order.
void expect_each_ran_in_order(const std::vector<std::vector<std::vector<std::uint64_t>>>& seen, std::uint64_t k) {
    const auto n = static_cast<unsigned>(seen.size());
    for (unsigned t = 0; t < n; ++t)
        for (unsigned s = 0; s < n; ++s) {
            if (s == t) continue;
            ASSERT_EQ(seen[t][s].size(), k) << s << " -> " << t;
            for (std::uint64_t i = 0; i < k; ++i) ASSERT_EQ(seen[t][s][i], i) << s << " -> " << t;
        }
}

// After the watchdog fired: each core's turns and sleeps, and the pairs still
// owed a reply (where it stuck).
template <class Mesh>
void print_stuck(const Mesh& mesh, unsigned n) {
    for (unsigned a = 0; a < n; ++a) {
        const auto& cc = mesh.core_stats(a);
        std::printf("  core %u: turns %llu idle %llu sleeps %llu wakeups %llu\n", a, (unsigned long long)cc.turns,
                    (unsigned long long)cc.idle_turns, (unsigned long long)cc.sleeps, (unsigned long long)cc.wakeups);
        for (unsigned b = 0; b < n; ++b) {
            const auto& c = mesh.counters(a, b);
            if (c.sent != c.completed || c.sent != c.received)
                std::printf("    %u->%u sent %llu received %llu completed %llu stalls %llu\n", a, b,
                            (unsigned long long)c.sent, (unsigned long long)c.received,
                            (unsigned long long)c.completed, (unsigned long long)c.full_stalls);
        }
    }
}

template <class K>
class smp_many : public ::testing::Test {};
TYPED_TEST_SUITE(smp_many, all_queue_types, kind_name);

// Every core submits k requests to every other core, in a pipeline bounded
// only by max_inflight; one request in three submits onward to the last core
// and answers when that one does (respond_later). Each target records what
// it ran, per source: exactly once, in submission order.
TYPED_TEST(smp_many, all_to_all_delivers_once_in_order) {
    for (const bool tight : {false, true})
    for (const unsigned n : {4u, 6u}) {
        for (const many_strategy& st : many_strategies) {
            SCOPED_TRACE(std::string(st.name) + ", " + std::to_string(n) + " reactors" + (tight ? ", full" : ""));
            rt::smp_config cfg = many_config(n, st);
            // Tiny queues; the second pass fills a pair's whole capacity, so
            // an inbox (2 * capacity * (n - 1)) can be exactly full.
            cfg.queue_capacity = tight ? 2 : 3;
            // 1 would deadlock in one group: invoke_on_all holds a credit all
            // along (the submit-group test below runs with 1).
            cfg.max_inflight = 2;
            cfg.poll_budget = tight ? 1 : 5;
            std::atomic<bool> abort{false};
            cfg.abort = &abort;
            bench::watchdog dog(abort, std::chrono::seconds(60));
            rt::smp<TypeParam> mesh(cfg);
            const std::uint64_t k = scaled(300);
            // seen[t][s]: what core t ran for core s, in order (written on t only).
            std::vector<std::vector<std::vector<std::uint64_t>>> seen(
                n, std::vector<std::vector<std::uint64_t>>(n));
            std::vector<std::uint64_t> nested(n, 0);  // nested[u]: runs on u only
            std::vector<std::uint64_t> wrong_on(n, 0);  // wrong answers, per origin
            EXPECT_NO_THROW(mesh.run([&]() -> rt::future<> {
                co_await mesh.invoke_on_all([&]() -> rt::future<> {
                    const unsigned me = static_cast<unsigned>(rt::this_core());
                    std::vector<rt::future<std::uint64_t>> fs;
                    for (std::uint64_t i = 0; i < k; ++i)
                        for (unsigned t = 0; t < n; ++t) {
                            if (t == me) continue;
                            fs.push_back(mesh.submit_to(t, [&, me, t, i]() -> rt::future<std::uint64_t> {
                                seen[t][me].push_back(i);
                                // Core n-1 answers at once, so a nested request
                                // never waits on a credit that waits on it (with
                                // nested requests in a cycle, bounded credits and
                                // FIFO waiting lists deadlock on any queue).
                                if (i % 3 != 0 || t == n - 1) return rt::make_ready_future<std::uint64_t>(i * 2);
                                const unsigned u = n - 1;
                                return mesh.submit_to(u, [&nested, u, i] {
                                    ++nested[u];
                                    return i * 2;
                                });
                            }));
                        }
                    wrong_on[me] = co_await wrong_answers(fs, n);
                });
            }));
            dog.stop();
            EXPECT_FALSE(abort.load()) << "the watchdog fired: a message or a wake-up was lost";
            if (abort.load()) {
                print_stuck(mesh, n);
                continue;
            }
            std::uint64_t wrong = 0;
            for (unsigned c = 0; c < n; ++c) wrong += wrong_on[c];
            EXPECT_EQ(wrong, 0u);
            ASSERT_NO_FATAL_FAILURE(expect_each_ran_in_order(seen, k));
            std::uint64_t nested_total = 0;
            for (auto x : nested) nested_total += x;
            EXPECT_EQ(nested_total, static_cast<std::uint64_t>(n - 1) * (n - 1) * ((k + 2) / 3));
            const auto tot = mesh.totals();
            EXPECT_EQ(tot.sent, tot.completed);
            EXPECT_EQ(tot.sent, tot.received);
        }
    }
}


// Submit groups on more than two reactors: every core sends k requests to
// every other core in group 1 (under an invoke_on_all that holds a group-0
// slot), each of which submits onward in group 2 to the next core (its
// origin included, so chains close cycles), and every third of those once
// more in group 3. One slot per window and queues of one element (each
// queue then holds exactly groups * 1): windows, queues and inboxes are all
// full at times, and a waiting submission of one group must still be
// admitted when replies of another group come back. Every level delivers
// once and, per source and group, in order.
TYPED_TEST(smp_many, nested_cycles_in_submit_groups_deliver_once_in_order) {
    for (const unsigned n : {4u, 6u}) {
        for (const many_strategy& st : many_strategies) {
            SCOPED_TRACE(std::string(st.name) + ", " + std::to_string(n) + " reactors");
            rt::smp_config cfg = many_config(n, st);
            cfg.queue_capacity = 1;
            cfg.max_inflight = 1;
            cfg.groups = 4;
            cfg.poll_budget = 1;
            std::atomic<bool> abort{false};
            cfg.abort = &abort;
            bench::watchdog dog(abort, std::chrono::seconds(60));
            rt::smp<TypeParam> mesh(cfg);
            const std::uint64_t k = scaled(100);
            // seen[g][t][s]: what core t ran for core s in group g, in order (written on t only).
            std::vector<std::vector<std::vector<std::vector<std::uint64_t>>>> seen(
                4, std::vector<std::vector<std::vector<std::uint64_t>>>(n, std::vector<std::vector<std::uint64_t>>(n)));
            std::vector<std::uint64_t> wrong_on(n, 0);
            EXPECT_NO_THROW(mesh.run([&]() -> rt::future<> {
                co_await mesh.invoke_on_all(rt::submit_group{0}, [&]() -> rt::future<> {
                    const unsigned me = static_cast<unsigned>(rt::this_core());
                    std::vector<rt::future<std::uint64_t>> fs;
                    for (std::uint64_t i = 0; i < k; ++i)
                        for (unsigned t = 0; t < n; ++t) {
                            if (t == me) continue;
                            fs.push_back(mesh.submit_to(t, rt::submit_group{1}, [&, me, t, i]() -> rt::future<std::uint64_t> {
                                seen[1][t][me].push_back(i);
                                const unsigned u = (t + 1) % n;
                                return mesh.submit_to(u, rt::submit_group{2}, [&, t, u, i]() -> rt::future<std::uint64_t> {
                                    seen[2][u][t].push_back(i);
                                    if (i % 3 != 0) return rt::make_ready_future<std::uint64_t>(i * 2);
                                    const unsigned w = (u + 1) % n;
                                    return mesh.submit_to(w, rt::submit_group{3}, [&, u, w, i] {
                                        seen[3][w][u].push_back(i);
                                        return i * 2;
                                    });
                                });
                            }));
                        }
                    wrong_on[me] = co_await wrong_answers(fs, n);
                });
            }));
            dog.stop();
            EXPECT_FALSE(abort.load()) << "the watchdog fired: a submission was stranded or a cycle deadlocked";
            if (abort.load()) {
                print_stuck(mesh, n);
                continue;
            }
            std::uint64_t wrong = 0;
            for (unsigned c = 0; c < n; ++c) wrong += wrong_on[c];
            EXPECT_EQ(wrong, 0u);
            // Group 1: k from each source; group 2: core s forwards all it
            // got (k from each of n-1 sources) to s+1 only.
            ASSERT_NO_FATAL_FAILURE(expect_each_ran_in_order(seen[1], k));
            for (unsigned s = 0; s < n; ++s) {
                const unsigned t = (s + 1) % n;
                ASSERT_EQ(seen[2][t][s].size(), (n - 1) * k) << s << " -> " << t;
                ASSERT_EQ(seen[3][(t + 1) % n][t].size(), (n - 1) * ((k + 2) / 3)) << t << " -> " << (t + 1) % n;
            }
            const auto tot = mesh.totals();
            EXPECT_EQ(tot.sent, tot.completed);
            EXPECT_EQ(tot.sent, tot.received);
            EXPECT_GT(tot.full_stalls, 0u);
        }
    }
}

}  // namespace
}  // namespace qmesh::test
