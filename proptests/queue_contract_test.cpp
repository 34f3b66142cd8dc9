// Contract tests, generated from the registry where they apply to every
// queue: bad capacities are a clear exception, never a ring that is smaller
// than it says; and exception safety where a queue moves elements for the
// caller (a staging buffer), with an element whose move constructor throws.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <new>
#include <span>
#include <stdexcept>
#include <vector>

#include "qmesh/queues/inbox_ring.hpp"
#include "qmesh/queues/staged_ring.hpp"
#include "test_support.hpp"

namespace qmesh::test {
namespace {

template <class K>
class queue_contract : public ::testing::Test {};
TYPED_TEST_SUITE(queue_contract, all_queue_types, kind_name);

TYPED_TEST(queue_contract, capacity_zero_is_rejected) {
    using Q = typename TypeParam::template type<std::uint64_t>;
    EXPECT_THROW(Q q(0), std::invalid_argument);
}

// A capacity whose slot array size overflows size_t must throw (length_error,
// or bad_alloc for "too big to allocate"), not wrap around to a small
// allocation that the ring then indexes past (a heap overflow on the first
// pushes) or to a queue that hangs or claims a capacity it lacks.
// SIZE_MAX: capacity + 1 wraps to 0. SIZE_MAX / 8 + 2: 8 * (capacity + 1)
// wraps to 24 bytes, room for 3 elements. Peer libraries get only SIZE_MAX:
// below it they may really try to allocate that much, block by block.
TYPED_TEST(queue_contract, overflowing_capacity_is_a_clear_exception) {
    using Q = typename TypeParam::template type<std::uint64_t>;
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> caps{max};
    if (TypeParam::traits.family != family::peer) caps.push_back(max / sizeof(std::uint64_t) + 2);
    for (const std::size_t cap : caps) {
        bool threw = false;
        try {
            Q q(cap);
            ADD_FAILURE() << "capacity " << cap << " accepted; capacity() = " << q.capacity();
        } catch (const std::length_error&) {
            threw = true;
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        EXPECT_TRUE(threw) << "capacity " << cap;
    }
}

// An element whose move constructor throws on the n-th move from now
// (moves_left), counting live objects.
struct throwing_move {
    static inline int moves_left = -1;  // < 0: never throw
    static inline long live = 0;
    int v = 0;
    explicit throwing_move(int x) noexcept : v(x) { ++live; }
    throwing_move(throwing_move&& o) : v(o.v) {
        if (moves_left > 0 && --moves_left == 0) throw std::runtime_error("move failed");
        ++live;
    }
    throwing_move& operator=(throwing_move&& o) noexcept {
        v = o.v;
        return *this;
    }
    ~throwing_move() { --live; }
};

// seastar (staged_ring): try_push stages the element and, when that fills the
// stage, moves the batch into the ring. If that move throws, the batch stays
// staged and the stage is full. The next try_push must not stage on top of
// it (stage_index(size) is the oldest element's slot: the element would be
// overwritten, never destroyed, and the new one sent twice).
TEST(staged_ring_exceptions, push_after_a_failed_batch_flush_loses_nothing) {
    using E = throwing_move;
    const long before = E::live;
    {
        staged_ring<E> q(4, 2);
        ASSERT_TRUE(q.try_push(E(1)));  // staged: one move
        E::moves_left = 2;              // staging 2 moves once; the batch flush's move of 1 throws
        EXPECT_THROW((void)q.try_push(E(2)), std::runtime_error);
        E::moves_left = -1;
        ASSERT_TRUE(q.try_push(E(3)));
        q.flush();
        std::vector<int> got;
        E out(0);
        while (q.try_pop(out)) got.push_back(out.v);
        // 2 was staged before the failing flush (the push's own move had
        // succeeded), so it is queued; what matters is no loss, no duplicate,
        // and FIFO.
        EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
    }
    EXPECT_EQ(E::live, before);
}

// qmesh::flush passes on what the queue's flush throws (it used to be
// noexcept whatever the queue, so this ended the program), and the element
// whose move failed stays staged for the next flush.
TEST(staged_ring_exceptions, a_flush_whose_move_throws_passes_the_exception_on) {
    using E = throwing_move;
    static_assert(!nothrow_flush<staged_ring<E>>);
    static_assert(nothrow_flush<staged_ring<std::uint64_t>>);
    const long before = E::live;
    {
        staged_ring<E> q(4, 2);
        ASSERT_TRUE(q.try_push(E(1)));  // staged, the stage not full: no flush yet
        E::moves_left = 1;              // the flush's move of 1 throws
        EXPECT_THROW((void)qmesh::flush(q), std::runtime_error);
        E::moves_left = -1;
        EXPECT_TRUE(qmesh::flush(q));
        E out(0);
        ASSERT_TRUE(q.try_pop(out));
        EXPECT_EQ(out.v, 1);
        EXPECT_FALSE(q.try_pop(out));
    }
    EXPECT_EQ(E::live, before);
}

// A bulk pop is offered only for elements whose move cannot throw: a throw
// after some elements had left the queue would lose their count.
template <class Q>
concept bulk_pop_offered = requires(Q& q, std::span<typename Q::value_type> out) { qmesh::try_pop_bulk(q, out); };
static_assert(bulk_pop_offered<inbox_ring<std::uint64_t>>);
static_assert(bulk_pop_offered<staged_ring<std::uint64_t>>);
struct throwing_assign {
    int v = 0;
    throwing_assign() = default;
    throwing_assign(throwing_assign&&) noexcept = default;
    throwing_assign& operator=(throwing_assign&& o) noexcept(false) {
        v = o.v;
        return *this;
    }
};
static_assert(!bulk_pop_offered<inbox_ring<throwing_assign>>);
static_assert(!bulk_pop_offered<staged_ring<throwing_assign>>);

}  // namespace
}  // namespace qmesh::test
