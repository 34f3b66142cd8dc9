// qmesh/queues/inbox_ring.hpp: the per-core locked inbox, one queue shared by
// all senders to one receiving core.
//
// The classic alternative to a mesh of SPSC queues: each core owns one inbox,
// a bounded ring behind a std::mutex, and every other core pushes into it:
// requests for the core, and replies to the core's own requests. N inboxes
// instead of 2·N×(N−1) queues, and a core polls one place instead of
// 2(N−1); the price is that everything sent to a core contends for one lock
// and one line. The kind says `shared_inbox = true`, and the mesh then
// builds one inbox per core and hands it to all N−1 other cores, instead of
// a request and a return queue per ordered pair.
//
// On its own it is simply an MPSC mutex ring. The receiver may take many
// elements under one lock acquisition with try_pop_bulk, which is how an
// inbox amortises its lock when several senders have queued work.
//
// Roles: any number of producers, one consumer (the mutex would allow more;
// one receiving core is the design).
// Progress: blocking.
// Order: FIFO (operations are linearised by the mutex).
#pragma once

#include <cstddef>
#include <mutex>
#include <span>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/plain_ring.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes>
class inbox_ring {
public:
    using value_type = T;

    explicit inbox_ring(std::size_t capacity) : ring_(capacity) {}
    inbox_ring(const inbox_ring&) = delete;
    inbox_ring& operator=(const inbox_ring&) = delete;

    // Any sender.
    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        std::lock_guard lock(mu_);
        if (ring_.full()) return false;
        ring_.push(std::move(v));
        return true;
    }

    // The receiver.
    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        std::lock_guard lock(mu_);
        if (ring_.empty()) return false;
        ring_.pop(out);
        return true;
    }

    // The receiver: moves up to out.size() of the oldest elements into out,
    // in order, under one lock acquisition. Returns how many (0 if empty).
    // Only for elements whose move cannot throw (see qmesh::try_pop_bulk).
    [[nodiscard]] std::size_t try_pop_bulk(std::span<T> out) noexcept
        requires std::is_nothrow_move_assignable_v<T>
    {
        std::lock_guard lock(mu_);
        std::size_t n = 0;
        for (; n < out.size() && !ring_.empty(); ++n) ring_.pop(out[n]);
        return n;
    }

    std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
    // The mutex and the ring it guards share a line on purpose: whoever holds
    // the lock touches both. Padding keeps neighbouring inboxes off it.
    alignas(Pad) std::mutex mu_;
    detail::plain_ring<T> ring_;  // guarded by mu_
};

struct inbox_ring_kind {
    static constexpr queue_traits traits{
        .name = "inbox",
        .summary = "per-core locked inbox: one mutex ring shared by all senders to a core (MPSC)",
        .family = family::lock,
        .producers = role::multi,
        .consumers = role::single,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::fifo,
    };
    // The mesh builds one per receiving core, shared by all senders.
    static constexpr bool shared_inbox = true;
    template <class T>
    using type = inbox_ring<T>;
};

}  // namespace qmesh
