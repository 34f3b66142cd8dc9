// qmesh/queues/mutex_ring.hpp: a bounded ring behind one std::mutex.
//
// The textbook locking baseline: every push and pop takes the same mutex, so
// producers and consumers serialise on it and the lock's cache line bounces
// between them on every operation. Any number of producers and consumers.
//
// Roles: multi-producer, multi-consumer.
// Progress: blocking (a thread preempted inside the critical section stalls
// every other).
// Order: FIFO (operations are linearised by the mutex).
#pragma once

#include <cstddef>
#include <mutex>
#include <type_traits>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/plain_ring.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes>
class mutex_ring {
public:
    using value_type = T;

    explicit mutex_ring(std::size_t capacity) : ring_(capacity) {}

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        std::lock_guard lock(mu_);
        if (ring_.full()) return false;
        ring_.push(std::move(v));
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        std::lock_guard lock(mu_);
        if (ring_.empty()) return false;
        ring_.pop(out);
        return true;
    }

    std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
    // The mutex and the ring it guards share a line on purpose: whoever holds
    // the lock touches both. Padding keeps neighbours in the mesh off it.
    alignas(Pad) std::mutex mu_;
    detail::plain_ring<T> ring_;  // guarded by mu_
};

struct mutex_ring_kind {
    static constexpr queue_traits traits{
        .name = "mutex",
        .summary = "bounded ring under one std::mutex (locking baseline)",
        .family = family::lock,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = mutex_ring<T>;
};

}  // namespace qmesh
