// qmesh/queues/tbb_bounded.hpp: adapter over tbb::concurrent_bounded_queue (peer).
//
// oneTBB's bounded MPMC queue (Debian libtbb-dev 2021.8). Pushers and
// poppers take tickets from a tail and a head counter (try_push/try_pop
// claim theirs with a compare-exchange after checking the bound); ticket k
// lives in micro-queue k mod 8, a list of pages allocated and freed as the
// queue fills and drains. A popper that has claimed ticket k spins until the
// pusher holding ticket k has finished writing it, so one preempted thread
// can stall another: blocking, not lock-free. Every successful push and pop
// also notifies the queue's monitors (a call into libtbb), which is what
// lets the library's blocking push/pop sleep; we use only try_push/try_pop.
//
// Capacity: set_capacity(capacity), exact. The page memory is allocated
// while elements are pushed, not reserved up front.
//
// Order: the implementation hands out elements in ticket order, but the
// guarantee oneTBB documents is that two elements pushed by one thread are
// popped in push order; the kind declares that (per-producer FIFO). With one
// producer it is plain FIFO.
//
// Link: the notifications live in libtbb, so users link TBB::tbb.
//
// ThreadSanitizer: TBB's default page allocator lives in uninstrumented
// libtbb, so TSan reports recycled pages as races; under TSan (only) the
// adapter gives the queue std::allocator instead (detail::tbb_allocator).
//
// Elements: moved in (try_push(T&&) moves only when there is room, so v is
// untouched when the queue is full) and moved out; leftovers are destroyed by
// the library's destructor.
//
// Roles: any number of producers and consumers.
// Progress: blocking (see above).
// Order: FIFO per producer.
#pragma once

#include <tbb/concurrent_queue.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/tsan.hpp"

namespace qmesh {

namespace detail {
#if QMESH_TSAN
// Under ThreadSanitizer the pages come from std::allocator: TBB's default
// cache_aligned_allocator lives in (uninstrumented) libtbb, so TSan cannot
// see a recycled page as freshly allocated and reports the page's
// construction as a race with whatever used that memory before.
template <class T>
using tbb_allocator = std::allocator<T>;
#else
template <class T>
using tbb_allocator = tbb::cache_aligned_allocator<T>;
#endif
}  // namespace detail

template <class T, std::size_t Pad = cache_line_bytes>
class tbb_bounded {
    using queue_type = tbb::concurrent_bounded_queue<T, detail::tbb_allocator<T>>;

public:
    using value_type = T;

    explicit tbb_bounded(std::size_t capacity) : capacity_(checked(capacity)) {
        q_.set_capacity(static_cast<typename queue_type::size_type>(capacity));
    }
    tbb_bounded(const tbb_bounded&) = delete;
    tbb_bounded& operator=(const tbb_bounded&) = delete;

    // Not noexcept: a push may allocate a page (std::bad_alloc).
    [[nodiscard]] bool try_push(T&& v) { return q_.try_push(std::move(v)); }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        return q_.try_pop(out);
    }

    std::size_t capacity() const noexcept { return capacity_; }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("tbb_bounded: capacity must be at least 1");
        if (capacity > static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max() / 2))
            throw std::length_error("tbb_bounded: capacity too large");
        return capacity;
    }

    const std::size_t capacity_;
    // The library keeps its counters in a separately allocated, padded
    // representation; alignas keeps mesh neighbours off the handle's line.
    alignas(Pad) queue_type q_;
};

struct tbb_bounded_kind {
    static constexpr queue_traits traits{
        .name = "tbb_bounded",
        .summary = "tbb::concurrent_bounded_queue (ticketed micro-queues) via try_push/try_pop",
        .family = family::peer,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::per_producer_fifo,
    };
    template <class T>
    using type = tbb_bounded<T>;
};

}  // namespace qmesh
