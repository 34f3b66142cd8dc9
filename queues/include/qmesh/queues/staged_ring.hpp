// qmesh/queues/staged_ring.hpp: Seastar's cross-core queue shape: a sender-side
// staging buffer in front of an SPSC ring.
//
// Algorithm: Seastar's smp_message_queue (seastar/src/core/reactor.cc):
// submit_item appends the message to a sender-private FIFO
// (`_tx.a.pending_fifo`); when that FIFO reaches `batch_size` (16), or when
// the sender's reactor polls (`flush_request_batch`), `move_pending` pushes
// it into the shared SPSC ring (`_pending`, a 128-slot
// boost::lockfree::spsc_queue) with one range push, i.e. one index store
// for the whole batch, so the receiver's core sees the ring's tail line
// change once per batch instead of once per message. Here the ring is our
// cached_ring (cached_ring.hpp), filled with cached_ring::try_push_bulk.
//
// One deliberate difference. Seastar's pending FIFO is unbounded and
// move_pending moves only what fits, leaving the rest for the next poll.
// Here a staged element *reserves* a ring slot: try_push stages an element
// only if the ring (as the producer last saw it) has a free slot for it and
// for every element already staged. So flush() always moves everything,
// which is what qmesh::flush promises ("makes everything pushed so far
// visible"), and nothing can be stranded in staging by a full ring.
//
// Semantics:
//   - try_push stages the element; when the staging buffer reaches the batch
//     size it is moved into the ring (one publication). try_push fails only
//     when the ring, counting staged elements, is full: capacity() elements.
//   - flush() (producer) moves the whole staging buffer into the ring now.
//     A producer that stops pushing must call it (qmesh::flush), or the
//     consumer never sees its last partial batch.
//   - try_pop takes from the ring only: staged elements are invisible to the
//     consumer until a flush.
//   - capacity() = the capacity asked for: ring slots, staged or published.
//     In one thread the queue is an exact bounded FIFO if flush() is called
//     after each try_push (or before each try_pop).
//
// Roles: one producer thread, one consumer thread.
// Progress: wait-free (bounded steps; a batch move is at most `batch` moves).
// Order: FIFO (staging is FIFO and drains into the ring in order).
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/cached_ring.hpp"
#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/slots.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes, template <class> class Atom = std::atomic>
class staged_ring {
public:
    using value_type = T;
    static constexpr std::size_t default_batch = 16;  // Seastar's smp batch_size

    explicit staged_ring(std::size_t capacity, std::size_t batch = default_batch)
        : ring_(capacity), stage_{batch_size(capacity, batch), capacity} {}
    staged_ring(const staged_ring&) = delete;
    staged_ring& operator=(const staged_ring&) = delete;

    // Destroys staged elements (the ring destroys its own); no thread may be
    // using the queue.
    ~staged_ring() { drop_oldest(stage_.count); }

    // If T's move throws: when staging v throws, v is not queued; when the
    // batch flush after staging throws, v is queued (staged), and the
    // element whose move into the ring failed (v or an older one) stays
    // staged for the next flush or push.
    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if constexpr (!std::is_nothrow_move_constructible_v<T>) {
            // A batch flush that threw leaves the stage full, and staging
            // into a full stage would construct over its oldest element
            // (stage_index(size) == head): that element lost, v sent twice.
            // Finish that flush first; if it throws again, v is untouched.
            if (stage_.count == stage_.size) flush();
        }
        if (stage_.unreserved == 0) {
            // Our view of the ring says no free slot: look again ((P0) inside).
            stage_.unreserved = ring_.producer_room() - stage_.count;
            if (stage_.unreserved == 0) return false;
        }
        stage_.slots.construct(stage_index(stage_.count), std::move(v));
        ++stage_.count;
        --stage_.unreserved;
        if (stage_.count == stage_.size) flush();
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        return ring_.try_pop(out);
    }

    // Producer only: moves every staged element into the ring, oldest first,
    // published with one release store (cached_ring's (P1)). Always complete:
    // each staged element holds a reserved ring slot.
    void flush() noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (stage_.count == 0) return;
        std::size_t calls = 0;
        auto next_elem = [&]() noexcept -> T&& { return std::move(stage_.slots[stage_index(calls++)]); };
        if constexpr (std::is_nothrow_move_constructible_v<T>) {
            const std::size_t moved = ring_.try_push_bulk(stage_.count, next_elem);
            assert(moved == stage_.count && "a staged element lost its reserved ring slot");
            drop_oldest(moved);
        } else {
            try {
                drop_oldest(ring_.try_push_bulk(stage_.count, next_elem));
            } catch (...) {
                // The ring published the calls-1 elements built before the
                // throwing move; their originals must not be sent twice.
                drop_oldest(calls - 1);
                throw;
            }
        }
    }

    std::size_t capacity() const noexcept { return ring_.capacity(); }
    std::size_t batch() const noexcept { return stage_.size; }

private:
    static std::size_t batch_size(std::size_t capacity, std::size_t batch) noexcept {
        // capacity >= 1 here: ring_ has already rejected 0.
        return batch == 0 ? 1 : batch < capacity ? batch : capacity;
    }
    std::size_t stage_next(std::size_t i) const noexcept {
        return i + 1 == stage_.size ? 0 : i + 1;
    }
    std::size_t stage_index(std::size_t k) const noexcept {
        const std::size_t i = stage_.head + k;
        return i >= stage_.size ? i - stage_.size : i;
    }
    // Ends the k oldest staged elements (already moved into the ring).
    void drop_oldest(std::size_t k) noexcept {
        for (std::size_t j = 0; j < k; ++j) {
            stage_.slots.destroy(stage_.head);
            stage_.head = stage_next(stage_.head);
        }
        stage_.count -= k;
    }

    // Producer-private: a small FIFO ring of up to `size` staged elements.
    // The consumer never touches it. Invariants: slots head .. head+count-1
    // (mod size) hold live elements, older first, and the others hold none;
    // count + unreserved <= the ring's free slots as the producer last saw
    // them (the consumer only ever frees more), so a flush always fits.
    struct alignas(Pad) staging {
        staging(std::size_t n, std::size_t ring_capacity)
            : size(n), unreserved(ring_capacity), slots(n) {}
        std::size_t size;  // the batch size; read-only after construction
        std::size_t head = 0;
        std::size_t count = 0;
        std::size_t unreserved;  // known-free ring slots not yet claimed by staging
        detail::slots<T> slots;
    };
    static_assert(alignof(staging) == Pad, "staging must start on its own padded line");

    // The shared ring; its own fields are laid out by owner (cached_ring.hpp).
    cached_ring<T, Pad, Atom> ring_;
    staging stage_;
};

struct staged_ring_kind {
    static constexpr queue_traits traits{
        .name = "seastar",
        .summary = "Seastar smp queue shape: sender staging buffer moved in batches into an SPSC ring",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = staged_ring<T>;
};

}  // namespace qmesh
