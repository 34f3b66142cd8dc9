// The linearizability tier (bench/src/lincheck.hpp): the checker itself on
// hand-written histories, then every registered queue under generated
// concurrent scenarios, then a mutant only this tier can see.
#include <cstdio>
#include <random>

#include "lincheck.hpp"
#include "mutants.hpp"
#include "test_support.hpp"
#include "verify.hpp"

namespace qmesh::test {
namespace {

using lincheck::event;
using lincheck::history;
using lincheck::linearizable;
using lincheck::op_kind;
using lincheck::spec;

event push(unsigned t, std::uint64_t v, std::uint64_t inv, std::uint64_t resp, bool ok = true) {
    return event{t, op_kind::push, v, ok, true, inv, resp};
}
event pop(unsigned t, std::uint64_t v, std::uint64_t inv, std::uint64_t resp, bool ok = true, bool strict = true) {
    return event{t, op_kind::pop, v, ok, strict, inv, resp};
}

TEST(lincheck_checker, sequential_fifo_is_accepted) {
    const history h{push(0, 1, 0, 1), push(0, 2, 2, 3), pop(1, 1, 4, 5), pop(1, 2, 6, 7), pop(1, 0, 8, 9, false)};
    EXPECT_TRUE(linearizable(h, spec{}));
}

TEST(lincheck_checker, pop_overtaking_a_completed_push_is_rejected) {
    // push(1) returned before push(2) began, so 1 must come out first.
    const history h{push(0, 1, 0, 1), push(1, 2, 2, 3), pop(2, 2, 4, 5), pop(2, 1, 6, 7)};
    EXPECT_FALSE(linearizable(h, spec{}));
    // The same values with overlapping pushes: either order is legal.
    const history overlap{push(0, 1, 0, 3), push(1, 2, 1, 2), pop(2, 2, 4, 5), pop(2, 1, 6, 7)};
    EXPECT_TRUE(linearizable(overlap, spec{}));
}

TEST(lincheck_checker, empty_while_holding_a_value_is_rejected_only_when_strict) {
    const history strict{push(0, 1, 0, 1), pop(1, 0, 2, 3, false, true), pop(1, 1, 4, 5)};
    EXPECT_FALSE(linearizable(strict, spec{}));
    const history lax{push(0, 1, 0, 1), pop(1, 0, 2, 3, false, false), pop(1, 1, 4, 5)};
    EXPECT_TRUE(linearizable(lax, spec{}));
}

TEST(lincheck_checker, capacity_bounds_pushes) {
    const history over{push(0, 1, 0, 1), push(0, 2, 2, 3), pop(1, 1, 4, 5)};
    EXPECT_FALSE(linearizable(over, spec{order::fifo, 1}));
    const history full{push(0, 1, 0, 1), push(0, 2, 2, 3, false), pop(1, 1, 4, 5)};
    EXPECT_TRUE(linearizable(full, spec{order::fifo, 1}));
    EXPECT_FALSE(linearizable(full, spec{order::fifo, 2}));
}

TEST(lincheck_checker, lost_and_invented_values_are_rejected) {
    const history invented{push(0, 1, 0, 1), pop(1, 7, 2, 3)};
    EXPECT_FALSE(linearizable(invented, spec{}));
    const history duplicated{push(0, 1, 0, 1), pop(1, 1, 2, 3), pop(1, 1, 4, 5)};
    EXPECT_FALSE(linearizable(duplicated, spec{}));
    const history lost{push(0, 1, 0, 1), pop(1, 0, 2, 3, false)};
    EXPECT_FALSE(linearizable(lost, spec{}));
}

TEST(lincheck_checker, weaker_orders) {
    // Values carry their producer in bits 32..: a1 < a2 from producer 1, b1 from producer 2.
    const std::uint64_t a1 = (1ull << 32) | 1, a2 = (1ull << 32) | 2, b1 = (2ull << 32) | 3;
    const history h{push(0, a1, 0, 1), push(0, a2, 2, 3), push(1, b1, 4, 5),
                    pop(2, b1, 6, 7), pop(2, a1, 8, 9), pop(2, a2, 10, 11)};
    EXPECT_FALSE(linearizable(h, spec{order::fifo}));
    EXPECT_TRUE(linearizable(h, spec{order::per_producer_fifo}));
    const history swapped{push(0, a1, 0, 1), push(0, a2, 2, 3), pop(2, a2, 6, 7), pop(2, a1, 8, 9)};
    EXPECT_FALSE(linearizable(swapped, spec{order::per_producer_fifo}));
    EXPECT_TRUE(linearizable(swapped, spec{order::none}));
}

template <class K>
class queue_lincheck : public ::testing::Test {};
TYPED_TEST_SUITE(queue_lincheck, all_queue_types, kind_name);

TYPED_TEST(queue_lincheck, every_history_is_linearizable) {
    using K = TypeParam;
    const std::uint64_t seed = std::random_device{}();
    const auto r = lincheck::tester<K>::check(seed, 0, scaled(100), scaled(12));
    EXPECT_TRUE(r.ok) << K::traits.name << ": " << r.report << "  reproduce: qmesh verify --queue " << K::traits.name
                      << " --seed " << seed;
    EXPECT_GT(r.runs, 0u);
}

// The mutant only this tier sees: exactly-once and per-producer order hold,
// so the concurrent tier passes it; FIFO across producers does not.
TEST(queue_lincheck_mutants, lanes_that_break_fifo_are_caught) {
    const std::uint64_t seed = std::random_device{}();
    const auto r = lincheck::tester<lanes_inbox_kind>::check(seed, 0, 200, 500);
    EXPECT_FALSE(r.ok) << "seed " << seed;
    std::printf("%s", r.report.c_str());  // the shrunk table, for people reading the log
    bench::stress_config c;
    c.producers = 2;
    c.items_per_producer = scaled(5000);
    c.capacity = 4;
    EXPECT_TRUE(bench::stress_queue<lanes_inbox_kind>(c).ok);
}

}  // namespace
}  // namespace qmesh::test
