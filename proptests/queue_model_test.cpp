// Model-based tests, generated from the registry: every queue, driven by
// RapidCheck through random push/pop sequences against a std::deque model
// (model_check.hpp), plus move-only and counting element types.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <memory>

#include "model_check.hpp"
#include "mutants.hpp"
#include "test_support.hpp"

namespace qmesh::test {
namespace {

template <class K>
class queue_model : public ::testing::Test {};
TYPED_TEST_SUITE(queue_model, all_queue_types, kind_name);

TYPED_TEST(queue_model, behaves_as_bounded_fifo_model) { EXPECT_TRUE(model_check<TypeParam>()); }

// The model tier catches real defects (RapidCheck prints the shrunk
// counterexample it found for each; that output is expected here).
// (The full set of mutants, each against its own tier, is run by
// qmesh_mutants; these two show the model tier's part in this binary.)
TEST(queue_model_mutants, each_defect_is_caught) {
    EXPECT_FALSE(model_check<broken_lamport_kind<lamport_bug::full_check_skipped_at_wrap>>());
    EXPECT_FALSE(model_check<broken_lamport_kind<lamport_bug::pop_skips_slot_zero_once_wrapped>>());
}

TYPED_TEST(queue_model, move_only_elements) {
    using Q = typename TypeParam::template type<std::unique_ptr<int>>;
    Q q(3);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_push(std::make_unique<int>(i)));
    qmesh::flush(q);
    std::unique_ptr<int> out;
    ASSERT_TRUE(q.try_pop(out));
    ASSERT_NE(out, nullptr);
    if constexpr (TypeParam::traits.order != order::none) {
        EXPECT_EQ(*out, 0);
    }
    // Two left inside: the queue's destructor must free them (ASan checks).
}

TYPED_TEST(queue_model, constructions_equal_destructions) {
    using Q = typename TypeParam::template type<counted>;
    const long before = counted::live();
    for (std::size_t cap : {1u, 2u, 3u, 7u}) {
        Q q(cap);
        for (std::uint64_t round = 0; round < 20; ++round) {
            for (std::uint64_t i = 0; i < round % (cap + 2); ++i) (void)q.try_push(counted(i));
            qmesh::flush(q);
            counted out;
            for (std::uint64_t i = 0; i < round % 3; ++i) (void)q.try_pop(out);
            qmesh::consumer_flush(q);
        }
        // Destroyed while not empty.
    }
    EXPECT_EQ(counted::live(), before);
}

}  // namespace
}  // namespace qmesh::test
