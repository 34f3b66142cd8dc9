// qmesh/queues/cached_ring.hpp: an SPSC ring whose sides cache each other's index.
//
// Algorithm: Lamport's ring (see lamport_ring.hpp) with one change: each side
// keeps a private copy of the other side's index and re-reads the shared one
// only when the copy says "full" (producer) or "empty" (consumer). While the
// ring is neither nearly full nor nearly empty, a push touches only the
// producer's line and the slot, and a pop only the consumer's line and the
// slot, so the index lines stop bouncing on every operation. The idea is the
// one in E. Rigtorp's SPSCQueue (github.com/rigtorp/SPSCQueue, "readIdxCache_"
// and "writeIdxCache_") and folly's ProducerConsumerQueue lineage; this is our
// own code.
//
// Layout: each side's shared index and its private cache of the other side
// share one line, the line that side owns. The other side reads that line
// only when its own cache runs out; the owner writes its index on every
// operation anyway, so putting the cache beside it costs no extra transfer.
// (rigtorp gives all four fields their own lines; either works.)
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
class cached_ring {
public:
    using value_type = T;

    explicit cached_ring(std::size_t capacity)
        : cfg_{checked(capacity) + 1, detail::slots<T>(capacity + 1)} {}
    cached_ring(const cached_ring&) = delete;
    cached_ring& operator=(const cached_ring&) = delete;

    // Destroys whatever is still queued; no thread may be using the ring.
    ~cached_ring() {
        std::size_t h = cons_.head.load(std::memory_order_relaxed);
        const std::size_t t = prod_.tail.load(std::memory_order_relaxed);
        for (; h != t; h = next(h)) cfg_.slots.destroy(h);
    }

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        const std::size_t t = prod_.tail.load(std::memory_order_relaxed);  // owner-only
        const std::size_t n = next(t);
        if (n == prod_.head_cache) {
            // (P0) acquire: the consumer's release of head (C1) ended its read
            // of every slot before head, including slot t's previous element.
            prod_.head_cache = cons_.head.load(std::memory_order_acquire);
            if (n == prod_.head_cache) return false;
        }
        cfg_.slots.construct(t, std::move(v));
        // (P1) release: publishes the element in slot t; pairs with (C0).
        prod_.tail.store(n, std::memory_order_release);
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        const std::size_t h = cons_.head.load(std::memory_order_relaxed);  // owner-only
        if (h == cons_.tail_cache) {
            // (C0) acquire: pairs with (P1); every slot before tail is visible.
            cons_.tail_cache = prod_.tail.load(std::memory_order_acquire);
            if (h == cons_.tail_cache) return false;
        }
        cfg_.slots.take(h, out);
        // (C1) release: slot h is free again; pairs with (P0).
        cons_.head.store(next(h), std::memory_order_release);
        return true;
    }

    // Producer only. Moves up to n elements into the ring and publishes them
    // with one release store, the way a staging buffer hands over a batch.
    // `next_elem()` is called once per element taken and must return an
    // rvalue reference (or prvalue) of T; it is not called for elements that
    // do not fit. Returns how many were taken (0 when full). The elements
    // constructed before an exception from a throwing move are published.
    template <class Next>
    [[nodiscard]] std::size_t try_push_bulk(std::size_t n, Next&& next_elem) noexcept(
        std::is_nothrow_move_constructible_v<T> && noexcept(static_cast<T>(next_elem()))) {
        const std::size_t t0 = prod_.tail.load(std::memory_order_relaxed);  // owner-only
        std::size_t room = free_slots(t0, prod_.head_cache);
        if (room < n) {
            // (P0) acquire, as in try_push.
            prod_.head_cache = cons_.head.load(std::memory_order_acquire);
            room = free_slots(t0, prod_.head_cache);
        }
        const std::size_t m = n < room ? n : room;
        std::size_t t = t0;
        std::size_t done = 0;
        if constexpr (noexcept(static_cast<T>(next_elem())) &&
                      std::is_nothrow_move_constructible_v<T>) {
            for (; done < m; ++done, t = next(t)) cfg_.slots.construct(t, next_elem());
        } else {
            try {
                for (; done < m; ++done, t = next(t)) cfg_.slots.construct(t, next_elem());
            } catch (...) {
                // (P1) release: publish what was constructed, so nothing leaks.
                prod_.tail.store(t, std::memory_order_release);
                throw;
            }
        }
        // (P1) release: publishes slots t0..t-1 at once; pairs with (C0).
        if (m != 0) prod_.tail.store(t, std::memory_order_release);
        return m;
    }

    // Producer only: how many elements try_push / try_push_bulk can take now.
    // Re-reads the consumer's head, so the answer is as fresh as it can be;
    // it can only grow until the producer pushes.
    [[nodiscard]] std::size_t producer_room() noexcept {
        // (P0) acquire, as in try_push.
        prod_.head_cache = cons_.head.load(std::memory_order_acquire);
        return free_slots(prod_.tail.load(std::memory_order_relaxed), prod_.head_cache);  // owner-only
    }

    std::size_t capacity() const noexcept { return cfg_.size - 1; }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("cached_ring: capacity must be at least 1");
        if (capacity >= std::numeric_limits<std::size_t>::max() / sizeof(T))
            throw std::length_error("cached_ring: capacity too large");
        return capacity;
    }
    std::size_t next(std::size_t i) const noexcept { return i + 1 == cfg_.size ? 0 : i + 1; }
    // Slots the producer may fill when tail is t and head is h (one stays empty).
    std::size_t free_slots(std::size_t t, std::size_t h) const noexcept {
        return (h > t ? h - t : cfg_.size - t + h) - 1;
    }

    // Producer-owned line.
    struct alignas(Pad) producer_line {
        // Written by the producer only, read by the consumer (C0).
        // Invariant: the slot the next push writes; next(tail) != head after
        // a push, which would make full look empty.
        Atom<std::size_t> tail{0};
        // Producer-private: the last head the producer read. Lags the real
        // head, so it can only make the ring look fuller than it is.
        std::size_t head_cache = 0;
    };
    // Consumer-owned line.
    struct alignas(Pad) consumer_line {
        // Written by the consumer only, read by the producer (P0).
        // Invariant: the slot of the oldest element, or == tail if empty.
        Atom<std::size_t> head{0};
        // Consumer-private: the last tail the consumer read. Lags the real
        // tail, so it can only make the ring look emptier than it is.
        std::size_t tail_cache = 0;
    };
    // Read-only after construction (both sides).
    struct alignas(Pad) config_line {
        std::size_t size;  // capacity + 1: one slot always stays empty
        detail::slots<T> slots;
    };

    static_assert(alignof(producer_line) == Pad && sizeof(producer_line) % Pad == 0,
                  "producer fields must fill whole padded lines of their own");
    static_assert(alignof(consumer_line) == Pad && sizeof(consumer_line) % Pad == 0,
                  "consumer fields must fill whole padded lines of their own");
    static_assert(alignof(config_line) == Pad, "config must start on its own padded line");

    producer_line prod_;
    consumer_line cons_;
    config_line cfg_;
};

struct cached_ring_kind {
    static constexpr queue_traits traits{
        .name = "cached",
        .summary = "Lamport ring + private cached copy of the other index (rigtorp SPSCQueue idea)",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = cached_ring<T>;
};

}  // namespace qmesh
