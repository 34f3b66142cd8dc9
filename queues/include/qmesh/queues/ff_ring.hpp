// qmesh/queues/ff_ring.hpp: FastForward, an SPSC ring with no shared indices.
//
// Algorithm: J. Giacomoni, T. Moseley, M. Vachharajani, "FastForward for
// Efficient Pipeline Parallelism: A Cache-Optimized Concurrent Lock-Free
// Queue", PPoPP 2008. Producer and consumer each keep their index private;
// the slot itself says whether it is full or empty. The producer may write
// slot i when it is empty and marks it full; the consumer may read slot i
// when it is full and marks it empty. Neither side ever reads the other's
// index, so in steady state only the slot lines move between the cores.
//
// The paper marks an empty slot with a NULL pointer, which limits elements to
// non-null pointers. Here each slot carries its own full/empty flag next to
// uninitialised storage, so any T works (move-only too) and an empty slot
// holds no object. The flag and the element share the slot, so one line
// transfer usually brings both.
//
// Not done: the paper's "temporal slipping" (the consumer backs off until it
// is a few lines behind the producer, so the two do not write the same line).
// Slots are not padded either; when the ring runs nearly empty, producer and
// consumer work on neighbouring slots of one line and it bounces. That is
// the cost FastForward accepts, and what a benchmark of it should show.
//
// Roles: one producer thread, one consumer thread.
// Progress: wait-free (each operation is a bounded number of steps).
// Order: FIFO.
#pragma once

#include <atomic>
#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes, template <class> class Atom = std::atomic>
class ff_ring {
public:
    using value_type = T;

    explicit ff_ring(std::size_t capacity)
        : cfg_{checked(capacity), std::unique_ptr<slot[]>(new slot[capacity])} {}
    ff_ring(const ff_ring&) = delete;
    ff_ring& operator=(const ff_ring&) = delete;

    // Destroys whatever is still queued; no thread may be using the ring.
    ~ff_ring() {
        for (std::size_t i = 0; i < cfg_.size; ++i)
            if (cfg_.slots[i].full.load(std::memory_order_relaxed)) cfg_.slots[i].destroy();
    }

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        slot& s = cfg_.slots[prod_.tail];
        // (P0) acquire: pairs with (C1); the consumer's read of the slot's
        // previous element is over before we construct a new one in it.
        if (s.full.load(std::memory_order_acquire)) return false;
        s.construct(std::move(v));
        // (P1) release: publishes the element; pairs with (C0).
        s.full.store(true, std::memory_order_release);
        prod_.tail = next(prod_.tail);
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        slot& s = cfg_.slots[cons_.head];
        // (C0) acquire: pairs with (P1); the element in the slot is visible.
        if (!s.full.load(std::memory_order_acquire)) return false;
        s.take(out);
        // (C1) release: the slot is empty again; pairs with (P0).
        s.full.store(false, std::memory_order_release);
        cons_.head = next(cons_.head);
        return true;
    }

    // Every slot is usable: the flags, not the indices, tell full from empty.
    std::size_t capacity() const noexcept { return cfg_.size; }

private:
    // One element's place: a flag and storage for one T. Invariant: `full` is
    // true exactly while the storage holds a live T. The producer turns it
    // true, the consumer false; each only after seeing the other value.
    struct slot {
        Atom<bool> full{false};
        alignas(T) unsigned char storage[sizeof(T)];

        T* elem() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
        void construct(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
            ::new (static_cast<void*>(storage)) T(std::move(v));
        }
        void take(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
            out = std::move(*elem());
            std::destroy_at(elem());
        }
        void destroy() noexcept { std::destroy_at(elem()); }
    };

    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("ff_ring: capacity must be at least 1");
        if (capacity >= std::numeric_limits<std::size_t>::max() / sizeof(slot))
            throw std::length_error("ff_ring: capacity too large");
        return capacity;
    }
    std::size_t next(std::size_t i) const noexcept { return i + 1 == cfg_.size ? 0 : i + 1; }

    // Producer-private: the slot the next push tries. No other thread reads it.
    struct alignas(Pad) producer_line {
        std::size_t tail = 0;
    };
    // Consumer-private: the slot the next pop tries. No other thread reads it.
    struct alignas(Pad) consumer_line {
        std::size_t head = 0;
    };
    // Read-only after construction (both sides). The slots themselves are the
    // only shared, written memory.
    struct alignas(Pad) config_line {
        std::size_t size;
        std::unique_ptr<slot[]> slots;
    };

    static_assert(alignof(producer_line) == Pad && sizeof(producer_line) % Pad == 0,
                  "the producer's index must fill a padded line of its own");
    static_assert(alignof(consumer_line) == Pad && sizeof(consumer_line) % Pad == 0,
                  "the consumer's index must fill a padded line of its own");
    static_assert(alignof(config_line) == Pad, "config must start on its own padded line");

    producer_line prod_;
    consumer_line cons_;
    config_line cfg_;
};

struct ff_ring_kind {
    static constexpr queue_traits traits{
        .name = "fastforward",
        .summary = "FastForward (Giacomoni et al., PPoPP 2008): per-slot full flag, private indices",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = ff_ring<T>;
};

}  // namespace qmesh
