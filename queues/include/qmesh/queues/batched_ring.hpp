// qmesh/queues/batched_ring.hpp: an SPSC ring that publishes its indices in batches.
//
// Algorithm: batched index publication in the spirit of MCRingBuffer
// (P. P. C. Lee, T. Bu, G. Chandranmenon, "A Lock-Free, Cache-Efficient
// Multi-Core Synchronization Mechanism for Line-Rate Network Traffic
// Monitoring", IPDPS 2010) and B-Queue (J. Wang, K. Zhang, X. Tang, B. Hua,
// "B-Queue: Efficient and Practical Queuing for Fast Core-to-Core
// Communication", IJPP 2013). Each side works on a private index and tells
// the other side only every `batch` operations: the producer publishes its
// tail every `batch` pushes, the consumer returns slots (publishes its head)
// every `batch` pops. Each side also caches the other's last published index
// and re-reads it only when the cache says full (producer) or empty
// (consumer). So the shared index lines move once per batch, not once per
// element; the price is latency: an element is invisible until its batch is
// published.
//
// Nothing is stranded for good:
//   - flush() (producer) publishes everything pushed so far now;
//   - consumer_flush() (consumer) returns every slot popped so far now;
//   - a push that finds the ring full publishes its pending elements, and a
//     pop that finds it empty returns its pending slots, before failing: a
//     side that is stuck has always shown the other side all it has, so the
//     two can never wait on each other. What remains is a producer that goes
//     quiet with a partial batch: it (or the mesh, via qmesh::flush) must call
//     flush(), as the concept says.
// In a single thread, the ring behaves exactly as a bounded FIFO of
// capacity() elements if flush() is called before each try_pop and
// consumer_flush() before each try_push.
//
// The batch is a runtime parameter (default 32), clamped to at most half the
// capacity (and at least 1) so both sides can be inside the ring at once.
//
// Layout follows MCRingBuffer's "cache line protection": the two published
// indices each get a line, each side's private variables get a line, and the
// read-only configuration gets a line; polling a published index never pulls
// in the line the other side updates on every operation.
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
class batched_ring {
public:
    using value_type = T;
    static constexpr std::size_t default_batch = 32;

    explicit batched_ring(std::size_t capacity, std::size_t batch = default_batch)
        : cfg_{checked(capacity) + 1, effective_batch(capacity, batch),
               detail::slots<T>(capacity + 1)} {}
    batched_ring(const batched_ring&) = delete;
    batched_ring& operator=(const batched_ring&) = delete;

    // Destroys whatever is still queued, published or not; no thread may be
    // using the ring.
    ~batched_ring() {
        for (std::size_t h = cons_.next_head; h != prod_.next_tail; h = next(h))
            cfg_.slots.destroy(h);
    }

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        const std::size_t t = prod_.next_tail;
        const std::size_t n = next(t);
        if (n == prod_.head_cache) {
            // (P0) acquire: pairs with (C1); the consumer has finished with
            // every slot before the head it published.
            prod_.head_cache = head_.value.load(std::memory_order_acquire);
            if (n == prod_.head_cache) {
                flush();  // full: make sure the consumer can see all we have
                return false;
            }
        }
        cfg_.slots.construct(t, std::move(v));
        prod_.next_tail = n;
        if (++prod_.unpublished >= cfg_.batch) flush();
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        const std::size_t h = cons_.next_head;
        if (h == cons_.tail_cache) {
            // (C0) acquire: pairs with (P1); every slot before the published
            // tail holds a constructed element.
            cons_.tail_cache = tail_.value.load(std::memory_order_acquire);
            if (h == cons_.tail_cache) {
                consumer_flush();  // empty: give back every slot we have read
                return false;
            }
        }
        cfg_.slots.take(h, out);
        cons_.next_head = next(h);
        if (++cons_.unreleased >= cfg_.batch) consumer_flush();
        return true;
    }

    // Producer only: publishes every element pushed so far.
    void flush() noexcept {
        if (prod_.unpublished == 0) return;  // nothing new: do not dirty the line
        // (P1) release: publishes the elements in slots before next_tail;
        // pairs with (C0).
        tail_.value.store(prod_.next_tail, std::memory_order_release);
        prod_.unpublished = 0;
    }

    // Consumer only: returns every slot popped so far to the producer.
    void consumer_flush() noexcept {
        if (cons_.unreleased == 0) return;
        // (C1) release: the slots before next_head are free; pairs with (P0).
        head_.value.store(cons_.next_head, std::memory_order_release);
        cons_.unreleased = 0;
    }

    std::size_t capacity() const noexcept { return cfg_.size - 1; }
    std::size_t batch() const noexcept { return cfg_.batch; }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("batched_ring: capacity must be at least 1");
        if (capacity >= std::numeric_limits<std::size_t>::max() / sizeof(T))
            throw std::length_error("batched_ring: capacity too large");
        return capacity;
    }
    static std::size_t effective_batch(std::size_t capacity, std::size_t batch) noexcept {
        const std::size_t most = capacity / 2 == 0 ? 1 : capacity / 2;
        return batch == 0 ? 1 : batch < most ? batch : most;
    }
    std::size_t next(std::size_t i) const noexcept { return i + 1 == cfg_.size ? 0 : i + 1; }

    // A published index on a line of its own.
    struct alignas(Pad) published {
        Atom<std::size_t> value{0};
    };
    // Producer-private: no other thread reads these.
    struct alignas(Pad) producer_line {
        std::size_t next_tail = 0;    // the slot the next push writes
        std::size_t head_cache = 0;   // last published head read; lags the real one
        std::size_t unpublished = 0;  // pushes since tail_ was last stored; < batch
    };
    // Consumer-private: no other thread reads these.
    struct alignas(Pad) consumer_line {
        std::size_t next_head = 0;   // the slot the next pop reads
        std::size_t tail_cache = 0;  // last published tail read; lags the real one
        std::size_t unreleased = 0;  // pops since head_ was last stored; < batch
    };
    // Read-only after construction (both sides).
    struct alignas(Pad) config_line {
        std::size_t size;   // capacity + 1: one slot always stays empty
        std::size_t batch;  // publish every `batch` operations; 1..max(1, capacity/2)
        detail::slots<T> slots;
    };

    static_assert(alignof(published) == Pad && sizeof(published) == Pad,
                  "each published index must sit alone on one padded line");
    static_assert(alignof(producer_line) == Pad && sizeof(producer_line) % Pad == 0,
                  "producer-private fields must fill whole padded lines of their own");
    static_assert(alignof(consumer_line) == Pad && sizeof(consumer_line) % Pad == 0,
                  "consumer-private fields must fill whole padded lines of their own");
    static_assert(alignof(config_line) == Pad, "config must start on its own padded line");

    // Written by the producer only (P1), read by the consumer (C0).
    // Invariant: every slot from the consumer's head up to it holds an element;
    // it never passes prod_.next_tail.
    published tail_;
    // Written by the consumer only (C1), read by the producer (P0).
    // Invariant: every slot from it up to the published tail holds an element
    // or has been read and not yet returned; it never passes cons_.next_head.
    published head_;
    producer_line prod_;
    consumer_line cons_;
    config_line cfg_;
};

struct batched_ring_kind {
    static constexpr queue_traits traits{
        .name = "batched",
        .summary = "indices published every k ops (MCRingBuffer IPDPS'10 / B-Queue); needs flush()",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = batched_ring<T>;
};

}  // namespace qmesh
