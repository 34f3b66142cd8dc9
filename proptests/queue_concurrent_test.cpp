// Concurrent properties, generated from the registry and the traits: for
// every queue, producers and consumers (as many as its traits allow) move
// distinct values through it; after join, each value was delivered exactly
// once (per-value counters) and in the order the traits promise. Inputs
// (capacity, counts, seed) are chosen on the main thread; a failure prints
// them and the command that replays the configuration sequence.
#include <random>

#include "measure.hpp"
#include "mutants.hpp"
#include "qmesh/queues/lamport_ring.hpp"
#include "qmesh/runtime/topology.hpp"
#include "stream_measure.hpp"
#include "test_support.hpp"
#include "verify.hpp"

namespace qmesh::test {
namespace {

template <class K>
class queue_concurrent : public ::testing::Test {};
TYPED_TEST_SUITE(queue_concurrent, all_queue_types, kind_name);

TYPED_TEST(queue_concurrent, exactly_once_and_ordered) {
    using K = TypeParam;
    const std::uint64_t seed = std::random_device{}();
    std::mt19937_64 rng(seed);
    for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{64}}) {
        bench::stress_config c;
        c.producers = K::traits.producers == role::multi ? 2 : 1;
        c.consumers = K::traits.consumers == role::multi ? 2 : 1;
        c.capacity = cap;
        c.items_per_producer = scaled(20000 + rng() % 20000);
        c.seed = seed;
        c.timeout_ms = 60000;
        const auto r = bench::stress_queue<K>(c);
        ASSERT_TRUE(r.ok) << K::traits.name << " capacity " << cap << ", " << c.producers << "p/" << c.consumers
                          << "c, " << c.items_per_producer << " items each: " << r.violation
                          << "\n  reproduce: qmesh verify --queue " << K::traits.name << " --seed " << seed;
    }
}

// The concurrent tier catches real defects: a dropped element and a
// consumer that never returns slots (the deadline turns the stall into a
// failure instead of a hang).
TEST(queue_concurrent_mutants, each_defect_is_caught) {
    bench::stress_config c;
    c.capacity = 3;
    c.items_per_producer = 10000;
    c.timeout_ms = 2000;
    const auto dropped = bench::stress_queue<broken_lamport_kind<lamport_bug::pop_skips_slot_zero_once_wrapped>>(c);
    EXPECT_FALSE(dropped.ok);
    const auto stalled = bench::stress_queue<broken_lamport_kind<lamport_bug::head_never_published>>(c);
    EXPECT_FALSE(stalled.ok);
    EXPECT_NE(stalled.violation.find("arrived"), std::string::npos) << stalled.violation;
}

// Fault injection for the benchmarks' own checks (not a design mutant: it
// copies no queue, it wraps one): Lamport's ring whose 100th pop hands back
// a value one higher than the one it took, as a torn or misdirected slot
// read would.
template <class T>
class corrupting_ring : public lamport_ring<T> {
public:
    using lamport_ring<T>::lamport_ring;
    [[nodiscard]] bool try_pop(T& out) noexcept {
        if (!lamport_ring<T>::try_pop(out)) return false;
        if (++pops_ == 100) out = out + 1;
        return true;
    }

private:
    std::uint64_t pops_ = 0;  // consumer-private
};
struct corrupting_kind {
    static constexpr queue_traits traits = [] {
        queue_traits t = lamport_kind::traits;
        t.name = "corrupting";
        return t;
    }();
    template <class T>
    using type = corrupting_ring<T>;
};

// The benchmarks check what they carry too, and say what they found: the
// side that finds a wrong message stops its partner. (Before, the partner
// waited for the watchdog, and its "timed out" replaced the real error.)
// Stream shows it with a dropped value; pingpong, where one message in
// flight makes a dropped value a stall, with a corrupted one.
TEST(queue_concurrent_mutants, a_benchmark_reports_the_wrong_message_it_found) {
    const auto& av = rt::topology::instance().available();
    if (av.size() < 2) GTEST_SKIP() << "needs two available PUs";
    using dropping = broken_lamport_kind<lamport_bug::pop_skips_slot_zero_once_wrapped>;
    bench::stream_params sp;
    sp.messages = 1000;
    sp.capacity = 3;
    const auto st = bench::measure_stream<dropping, 16>(av[0], av[1], sp);
    EXPECT_FALSE(st.ok);
    EXPECT_NE(st.error.find("arrived as"), std::string::npos) << st.error;

    bench::latency_params lp;
    lp.warmup = 10;
    lp.samples = 1000;
    lp.capacity = 4;
    const auto pp = bench::measure_pingpong<corrupting_kind>(av[0], av[1], lp);
    EXPECT_FALSE(pp.ok);
    EXPECT_NE(pp.error.find("returned"), std::string::npos) << pp.error;
}

}  // namespace
}  // namespace qmesh::test
