// bench/tests/kv_test.cpp: the kv measurements (bench/src/kv_measure.hpp) on
// small configurations: the sharded design over two queue kinds and the three
// locked designs complete exactly their operations and pass their own check,
// and the check catches a store that keeps a wrong value.
//
// Two cores (the first two available; one core twice, yielding, on a
// one-core machine). Sizes shrink under QMESH_TEST_SCALE (the sanitizer test
// presets set it). The seed is fixed and printed; QMESH_KV_SEED replays another.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kv_measure.hpp"
#include "qmesh/queues/registry.hpp"
#include "test_cores.hpp"

using namespace qmesh;
using namespace qmesh::bench;
using qmesh::bench::test::scaled;

namespace {

std::uint64_t test_seed() {
    static const std::uint64_t seed = [] {
        const char* s = std::getenv("QMESH_KV_SEED");
        const std::uint64_t v = s != nullptr ? std::strtoull(s, nullptr, 10) : 20261127;
        std::printf("kv_test: seed %llu (QMESH_KV_SEED=%llu replays it)\n", static_cast<unsigned long long>(v),
                    static_cast<unsigned long long>(v));
        return v;
    }();
    return seed;
}

kv_params small_params() {
    const auto pus = test::two_reactor_pus();
    kv_params p;
    p.cores = pus.cores;
    p.oversubscribed = pus.oversubscribed;
    p.keys = 1000;
    p.ops_per_core = scaled(20000);
    p.write_fraction = 0.3;
    p.window = 8;
    p.sample_every = 4;
    p.stripes = 8;
    p.timeout = std::chrono::milliseconds(60000);
    p.seed = test_seed();
    return p;
}

void expect_exact(const kv_result& r, const kv_params& p) {
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.ops, p.ops_per_core * p.cores.size());
    EXPECT_GT(r.msgs_per_s, 0);
    EXPECT_LE(r.p50, r.p99);
    EXPECT_LE(r.p99, r.max);
}

}  // namespace

TEST(kv, sharded_lamport_completes_every_operation_and_checks) {
    const kv_params p = small_params();
    expect_exact(measure_kv_sharded<lamport_kind>(p), p);
}

TEST(kv, sharded_fastforward_completes_every_operation_and_checks) {
    const kv_params p = small_params();
    expect_exact(measure_kv_sharded<ff_ring_kind>(p), p);
}

TEST(kv, sharded_window_of_one_and_all_writes) {
    // One outstanding operation per core and puts only: the strictest order.
    kv_params p = small_params();
    p.window = 1;
    p.write_fraction = 1.0;
    p.ops_per_core = scaled(5000);
    expect_exact(measure_kv_sharded<lamport_kind>(p), p);
}

TEST(kv, locked_designs_complete_every_operation_and_check) {
    const kv_params p = small_params();
    for (kv_design d : {kv_design::mutex, kv_design::shared_mutex, kv_design::striped}) {
        SCOPED_TRACE(std::string(to_string(d)));
        expect_exact(measure_kv_locked(d, p), p);
    }
}

TEST(kv, the_check_catches_a_wrong_stored_value) {
    kv_params p = small_params();
    p.inject_fault = true;  // core 0's last put stores a wrong value
    const kv_result s = measure_kv_sharded<lamport_kind>(p);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.error.find("key"), std::string::npos) << s.error;
    std::printf("kv_test: sharded check caught: %s\n", s.error.c_str());
    for (kv_design d : {kv_design::mutex, kv_design::shared_mutex, kv_design::striped}) {
        SCOPED_TRACE(std::string(to_string(d)));
        const kv_result r = measure_kv_locked(d, p);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("key"), std::string::npos) << r.error;
        std::printf("kv_test: %s check caught: %s\n", std::string(to_string(d)).c_str(), r.error.c_str());
    }
}

TEST(kv, bad_parameters_are_refused_before_running) {
    kv_params p = small_params();
    p.keys = 1;  // fewer keys than cores: some core would have nothing to write
    const kv_result r = measure_kv_locked(kv_design::mutex, p);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("keys"), std::string::npos) << r.error;
    EXPECT_EQ(r.ops, 0u);
    kv_params q = small_params();
    q.write_fraction = 1.5;
    EXPECT_FALSE(measure_kv_sharded<lamport_kind>(q).ok);
}

TEST(kv, same_seed_same_workload_for_every_design) {
    const kv_params p = small_params();
    const auto a = kv_detail::make_workload(p);
    const auto b = kv_detail::make_workload(p);
    EXPECT_EQ(a.ops, b.ops);
    // Each key has one writer: every put of core c is of a key k with k % n == c.
    std::uint64_t puts = 0;
    for (unsigned c = 0; c < a.n; ++c)
        for (std::uint64_t op : a.ops[c])
            if ((op & kv_detail::put_bit) != 0) {
                ++puts;
                EXPECT_EQ((op & kv_detail::key_mask) % a.n, c);
            }
    EXPECT_GT(puts, 0u);
}
