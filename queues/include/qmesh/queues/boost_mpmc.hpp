// qmesh/queues/boost_mpmc.hpp: adapter over boost::lockfree::queue (peer).
//
// Boost's MPMC queue: the Michael-Scott linked queue (M. Michael, M. Scott,
// "Simple, Fast, and Practical Non-Blocking and Blocking Concurrent Queue
// Algorithms", PODC 1996) with nodes recycled through a lock-free free list
// and ABA-tagged pointers (on x86-64 the tag sits in the pointer's unused
// high 16 bits, so each CAS is 64 bits wide). The constructor preallocates
// capacity+1 nodes (one is always the dummy); bounded_push takes nodes only
// from that free list and fails when it is empty, so the queue holds exactly
// `capacity` elements and never allocates after construction.
//
// Elements: boost::lockfree::queue requires a trivially copyable (trivial
// assignment), trivially destructible T. T is stored directly when it is
// trivially copyable and default-constructible (uint64_t, pointers: what the
// benchmarks use) and boxed otherwise (detail/boxed.hpp: an owning T*
// allocated per push, deleted on pop or when the adapter is destroyed). With
// several producers there is no race-free "is there room" check, so a boxed
// push into a full queue allocates the box, fails, and moves the element
// back into the caller's v before freeing the box.
//
// ThreadSanitizer: pop copies the next node's payload before its CAS
// confirms the node is still the head (the classic MS-queue read); when
// another consumer has meanwhile popped and recycled that node, the copy is
// discarded, but it is a data race in C++ terms, and TSan may report it in
// runs with two or more consumers. With one consumer it cannot happen (only
// that consumer frees nodes).
//
// Roles: any number of producers and consumers.
// Progress: lock-free where the tagged-pointer CAS is: on x86-64 and AArch64
// the tag is packed into the pointer, so it is a 64-bit CAS (asserted below;
// calling q.is_lock_free() instead would need libatomic under clang).
// Order: FIFO (the MS queue is linearizable).
#pragma once

#include <boost/lockfree/queue.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/boxed.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes>
class boost_mpmc {
#if defined(__x86_64__) || defined(__aarch64__)
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "boost_mpmc is declared lock-free: its 64-bit tagged-pointer CAS must be");
#endif
    static constexpr bool direct = detail::store_direct<T>;
    using stored = detail::stored_t<T>;

public:
    using value_type = T;

    explicit boost_mpmc(std::size_t capacity) : capacity_(checked(capacity)), q_(capacity) {}
    boost_mpmc(const boost_mpmc&) = delete;
    boost_mpmc& operator=(const boost_mpmc&) = delete;

    // Frees leftover boxes (directly stored leftovers need no destruction);
    // no thread may be using the queue.
    ~boost_mpmc() {
        if constexpr (!direct) {
            stored b;
            while (q_.unsynchronized_pop(b)) delete b;
        }
    }

    [[nodiscard]] bool try_push(T&& v) noexcept(direct) {
        if constexpr (direct) {
            return q_.bounded_push(v);
        } else {
            stored b = detail::box(std::move(v));
            if (q_.bounded_push(b)) return true;
            detail::unbox(b, v);  // full: give the element back
            return false;
        }
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(direct || std::is_nothrow_move_assignable_v<T>) {
        if constexpr (direct) {
            return q_.pop(out);
        } else {
            stored b;
            if (!q_.pop(b)) return false;
            detail::unbox(b, out);
            return true;
        }
    }

    std::size_t capacity() const noexcept { return capacity_; }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("boost_mpmc: capacity must be at least 1");
        // Boost sizes its pool of capacity + 1 nodes without an overflow check:
        // SIZE_MAX wraps to 0, and every push fails while capacity() says
        // SIZE_MAX.
        if (capacity >= std::numeric_limits<std::size_t>::max() / sizeof(stored))
            throw std::length_error("boost_mpmc: capacity too large");
        return capacity;
    }

    const std::size_t capacity_;
    // Boost pads head and tail apart itself; alignas keeps mesh neighbours off.
    alignas(Pad) boost::lockfree::queue<stored> q_;
};

struct boost_mpmc_kind {
    static constexpr queue_traits traits{
        .name = "boost_mpmc",
        .summary = "boost::lockfree::queue (Michael-Scott + free list), bounded_push only",
        .family = family::peer,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::lock_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = boost_mpmc<T>;
};

}  // namespace qmesh
