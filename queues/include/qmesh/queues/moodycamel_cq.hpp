// qmesh/queues/moodycamel_cq.hpp: adapter over moodycamel::ConcurrentQueue (peer).
//
// Cameron Desrochers' MPMC queue (github.com/cameron314/concurrentqueue,
// Debian libconcurrentqueue-dev 1.0.3): every producer thread gets its own
// sub-queue (an "implicit producer", found by thread id in a lock-free hash
// table and created on the thread's first push); a sub-queue is a list of
// 32-element blocks taken from a shared pool; consumers pick a non-empty
// sub-queue heuristically. The queue is not linearizable and is not FIFO
// across producers. The library's documented guarantee, which is what the
// kind declares, is FIFO per producer: two elements pushed by one thread
// are popped in push order. With one producer that is plain FIFO.
//
// Bounded: we only call try_enqueue, which never allocates blocks (it only
// allocates the one-time implicit producer of a new thread, and fails if
// that allocation fails). Blocks return to the shared pool only when all 32
// of their slots have been filled and popped, so a producer whose last push
// left its block part-filled keeps that block for the life of the queue.
// With a bare ConcurrentQueue(capacity) (ceil(capacity/32) blocks) that
// deadlocks easily: capacity <= 32 means one block, and once one producer
// thread stops mid-block no other producer can ever push again (seen in our
// tests with 3 producers at capacity 3). So the adapter reserves blocks with
// the library's own recipe for "at least `capacity` elements available at any
// time with up to P implicit producers", the three-argument constructor:
// B = ceil(capacity/32) - 1 + 2*P blocks, P = max_producers (default 4).
// That stays deadlock-free while at most B distinct threads ever push into
// one queue (each can strand one block); beyond that it can still starve.
//
// Capacity is block-granular and history-dependent:
//   - capacity() reports min(B, index_blocks) * 32, the most a fresh queue
//     accepts from one producer (so capacity(1) is 256 with P = 4).
//     index_blocks (the Traits' IMPLICIT_INITIAL_INDEX_SIZE) caps how many
//     blocks one producer can hold without allocating; the library's default,
//     32, would cap every queue at 1024 elements per producer, so our traits
//     raise it to 1024 (the library documents this knob as "how many full
//     blocks can be expected for a single implicit producer"; it costs ~24 KiB
//     of index per producer).
//   - Full can come long before capacity(): a block part-way through being
//     popped cannot take new elements, and other producers' part-filled
//     blocks are not available. The library guarantees `capacity` elements
//     fit (for up to P producers); the kind says exact_capacity = false, and
//     verification must not expect "full" at exactly capacity().

// ThreadSanitizer: the library uses std::atomic throughout, plus a few
// standalone acquire fences in its dequeue paths, each followed by an
// acquire load that TSan does see.
//
// Elements: moved in and out; any move-constructible, move-assignable T.
// Leftover elements are destroyed by the library's destructor.
//
// Roles: any number of producers and consumers.
// Progress: lock-free (as the library documents).
// Order: FIFO per producer.
#pragma once

// -Wtsan silenced for the library's own fences only (detail/wtsan_off.hpp).
#include "qmesh/queues/detail/wtsan_off.hpp"
#include <concurrentqueue/concurrentqueue.h>
#include "qmesh/queues/detail/wtsan_on.hpp"

#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"

namespace qmesh {

// The library's defaults, except for the per-producer block index (see above).
struct moodycamel_cq_traits : moodycamel::ConcurrentQueueDefaultTraits {
    static const std::size_t IMPLICIT_INITIAL_INDEX_SIZE = 1024;
};

template <class T, class Traits = moodycamel_cq_traits, std::size_t Pad = cache_line_bytes>
class moodycamel_cq {
    using queue_type = moodycamel::ConcurrentQueue<T, Traits>;

public:
    using value_type = T;
    static constexpr std::size_t block_size = queue_type::BLOCK_SIZE;
    static constexpr std::size_t index_blocks = queue_type::IMPLICIT_INITIAL_INDEX_SIZE;

    static constexpr std::size_t default_max_producers = 4;

    explicit moodycamel_cq(std::size_t capacity, std::size_t max_producers = default_max_producers)
        : q_(checked(capacity), 0, max_producers == 0 ? 1 : max_producers),
          capacity_(reported(capacity, max_producers == 0 ? 1 : max_producers)) {}
    moodycamel_cq(const moodycamel_cq&) = delete;
    moodycamel_cq& operator=(const moodycamel_cq&) = delete;

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        // Never allocates a block; v is untouched when the push fails.
        // noexcept: the one-time producer allocation reports failure by
        // returning false, not by throwing.
        return q_.try_enqueue(std::move(v));
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        return q_.try_dequeue(out);
    }

    std::size_t capacity() const noexcept { return capacity_; }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("moodycamel_cq: capacity must be at least 1");
        if (capacity > std::numeric_limits<std::size_t>::max() - block_size)
            throw std::length_error("moodycamel_cq: capacity too large");
        return capacity;
    }
    // The blocks the three-argument constructor reserves, capped by what one
    // producer's block index can hold.
    static std::size_t reported(std::size_t capacity, std::size_t producers) noexcept {
        const std::size_t blocks = (capacity + block_size - 1) / block_size - 1 + 2 * producers;
        return (blocks < index_blocks ? blocks : index_blocks) * block_size;
    }

    alignas(Pad) queue_type q_;
    std::size_t capacity_;  // read-only after construction
};

struct moodycamel_cq_kind {
    static constexpr queue_traits traits{
        .name = "moodycamel_cq",
        .summary = "moodycamel::ConcurrentQueue (MPMC, per-producer sub-queues) via try_enqueue",
        .family = family::peer,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::lock_free,
        .bounded = true,
        .order = order::per_producer_fifo,
    };
    // Full can come well before capacity() elements (see the header comment).
    static constexpr bool exact_capacity = false;
    template <class T>
    using type = moodycamel_cq<T>;
};

}  // namespace qmesh
