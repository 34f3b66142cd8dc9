// qmesh/queues/lamport_ring.hpp: Lamport's single-producer single-consumer ring.
//
// Algorithm: L. Lamport, "Specifying Concurrent Program Modules", ACM TOPLAS
// 5(2), 1983: a circular buffer of n+1 slots with a head index written only by
// the consumer and a tail index written only by the producer; head == tail is
// empty, tail+1 == head (mod n+1) is full. Each side reads the other's index on
// every operation, so every push and pop touches the other side's cache line:
// the baseline the cached-index and slot-flag designs improve on.
//
// Roles: one producer thread, one consumer thread.
// Progress: wait-free (each operation is a bounded number of steps).
// Order: FIFO.
#pragma once

#include <atomic>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/slots.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes, template <class> class Atom = std::atomic>
class lamport_ring {
public:
    using value_type = T;

    explicit lamport_ring(std::size_t capacity)
        : size_(checked(capacity) + 1), slots_(capacity + 1) {}
    lamport_ring(const lamport_ring&) = delete;
    lamport_ring& operator=(const lamport_ring&) = delete;

    // Destroys whatever is still queued; no thread may be using the ring.
    ~lamport_ring() {
        std::size_t h = head_.load(std::memory_order_relaxed);
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        for (; h != t; h = next(h)) slots_.destroy(h);
    }

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        const std::size_t t = tail_.load(std::memory_order_relaxed);  // owner-only
        const std::size_t n = next(t);
        // (P0) acquire: the consumer's release of head (C1) ended its read of
        // slot t's previous element before we construct a new one in it.
        if (n == head_.load(std::memory_order_acquire)) return false;
        slots_.construct(t, std::move(v));
        // (P1) release: publishes the element in slot t; pairs with (C0).
        tail_.store(n, std::memory_order_release);
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        const std::size_t h = head_.load(std::memory_order_relaxed);  // owner-only
        // (C0) acquire: pairs with (P1); the element in slot h is visible.
        if (h == tail_.load(std::memory_order_acquire)) return false;
        slots_.take(h, out);
        // (C1) release: slot h is free again; pairs with (P0).
        head_.store(next(h), std::memory_order_release);
        return true;
    }

    std::size_t capacity() const noexcept { return size_ - 1; }

private:
    // Before any member uses capacity + 1: SIZE_MAX would wrap it to 0 (a
    // ring of no slots that accepts pushes).
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("lamport_ring: capacity must be at least 1");
        if (capacity >= std::numeric_limits<std::size_t>::max() / sizeof(T))
            throw std::length_error("lamport_ring: capacity too large");
        return capacity;
    }
    std::size_t next(std::size_t i) const noexcept { return i + 1 == size_ ? 0 : i + 1; }

    // Consumer-owned: written by the consumer only, read by the producer.
    // Invariant: head is the slot of the oldest element, or == tail if empty.
    alignas(Pad) Atom<std::size_t> head_{0};
    // Producer-owned: written by the producer only, read by the consumer.
    // Invariant: tail is the slot the next push writes; never equals head - 1
    // (mod size) after a push, which would make full look empty.
    alignas(Pad) Atom<std::size_t> tail_{0};
    // Read-only after construction (both sides).
    alignas(Pad) const std::size_t size_;
    detail::slots<T> slots_;
};

struct lamport_kind {
    static constexpr queue_traits traits{
        .name = "lamport",
        .summary = "Lamport's ring (1983): shared head/tail read by both sides, acquire/release",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = lamport_ring<T>;
};

}  // namespace qmesh
