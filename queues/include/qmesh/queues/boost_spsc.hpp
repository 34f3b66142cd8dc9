// qmesh/queues/boost_spsc.hpp: adapter over boost::lockfree::spsc_queue (peer).
//
// The queue Seastar puts between each pair of cores (smp_message_queue's
// `_pending` and `_completed`). Boost's runtime-sized spsc_queue is Lamport's
// ring of capacity+1 slots with a padded read index and write index; each
// side reads the other's index on every operation (no cached copy).
// Capacity is exactly the number asked for.
//
// Elements: Boost 1.74's spsc_queue pushes by copy only, and its destructor
// default-constructs a T to pop leftovers into. So T is stored directly when
// it is trivially copyable and default-constructible (uint64_t, pointers:
// what the benchmarks use), and boxed otherwise (detail/boxed.hpp: an owning
// T* allocated per push, deleted on pop or when the adapter is destroyed).
// A boxed push first checks write_available(), so a push into a full queue
// neither allocates nor touches the caller's element.
//
// Roles: one producer thread, one consumer thread.
// Progress: wait-free (Boost documents push and pop as wait-free).
// Order: FIFO.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/boxed.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes>
class boost_spsc {
    static constexpr bool direct = detail::store_direct<T>;
    using stored = detail::stored_t<T>;

public:
    using value_type = T;

    explicit boost_spsc(std::size_t capacity) : capacity_(checked(capacity)), q_(capacity) {}
    boost_spsc(const boost_spsc&) = delete;
    boost_spsc& operator=(const boost_spsc&) = delete;

    // Frees leftover boxes (Boost destroys directly stored leftovers itself);
    // no thread may be using the queue.
    ~boost_spsc() {
        if constexpr (!direct) {
            stored b;
            while (q_.pop(b)) delete b;
        }
    }

    [[nodiscard]] bool try_push(T&& v) noexcept(direct) {
        if constexpr (direct) {
            return q_.push(v);
        } else {
            if (q_.write_available() == 0) return false;  // only we add, so push will succeed
            stored b = detail::box(std::move(v));
            if (q_.push(b)) return true;
            detail::unbox(b, v);  // unreachable with one producer; hand v back
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
        if (capacity == 0) throw std::invalid_argument("boost_spsc: capacity must be at least 1");
        // Boost sizes its ring of capacity + 1 slots without an overflow check:
        // SIZE_MAX wraps to 0, and the first push never returns.
        if (capacity >= std::numeric_limits<std::size_t>::max() / sizeof(stored))
            throw std::length_error("boost_spsc: capacity too large");
        return capacity;
    }

    const std::size_t capacity_;
    // Boost pads its read and write indices apart (BOOST_LOCKFREE_CACHELINE_BYTES);
    // alignas keeps the adapter's neighbours in the mesh off its lines.
    alignas(Pad) boost::lockfree::spsc_queue<stored> q_;
};

struct boost_spsc_kind {
    static constexpr queue_traits traits{
        .name = "boost_spsc",
        .summary = "boost::lockfree::spsc_queue (runtime capacity): the ring Seastar uses",
        .family = family::peer,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = boost_spsc<T>;
};

}  // namespace qmesh
