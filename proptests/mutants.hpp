// proptests/mutants.hpp: deliberately broken queues, compiled only for the
// tests, to show that the checks catch real bugs. Each is a copy of a
// correct design with one defect, named and described in its kind.
#pragma once

#include <atomic>
#include <cstddef>
#include <stdexcept>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/slots.hpp"

namespace qmesh::test {

// Lamport's ring with one of three defects, selected by Bug.
enum class lamport_bug { full_check_skipped_at_wrap, pop_skips_slot_zero_once_wrapped, head_never_published };

template <class T, lamport_bug Bug>
class broken_lamport {
public:
    using value_type = T;
    explicit broken_lamport(std::size_t capacity) : size_(capacity + 1), slots_(capacity + 1) {
        if (capacity == 0) throw std::invalid_argument("capacity must be at least 1");
    }
    ~broken_lamport() {
        std::size_t h = head_.load(std::memory_order_relaxed);
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        for (; h != t; h = next(h)) slots_.destroy(h);
    }
    [[nodiscard]] bool try_push(T&& v) noexcept {
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        const std::size_t n = next(t);
        const bool full = n == head_.load(std::memory_order_acquire);
        // Defect: the full check is skipped on the push that wraps around;
        // tail then catches up with head and a full ring reads as empty.
        if (full && !(Bug == lamport_bug::full_check_skipped_at_wrap && n == 0)) return false;
        slots_.construct(t, std::move(v));
        tail_.store(n, std::memory_order_release);
        return true;
    }
    [[nodiscard]] bool try_pop(T& out) noexcept {
        std::size_t h = Bug == lamport_bug::head_never_published ? pending_head_ : head_.load(std::memory_order_relaxed);
        if (h == tail_.load(std::memory_order_acquire)) return false;
        // Defect: after the first wrap-around, slot 0's element is dropped.
        if (Bug == lamport_bug::pop_skips_slot_zero_once_wrapped && h == 0 && wrapped_) {
            slots_.destroy(h);
            h = next(h);
            head_.store(h, std::memory_order_release);
            if (h == tail_.load(std::memory_order_acquire)) return false;
        }
        slots_.take(h, out);
        if (next(h) == 0) wrapped_ = true;
        // Defect: the consumer never publishes its progress, so the producer
        // sees the ring full forever after `capacity` pushes.
        if (Bug != lamport_bug::head_never_published) head_.store(next(h), std::memory_order_release);
        else pending_head_ = next(h);  // kept privately, never stored
        return true;
    }
    std::size_t capacity() const noexcept { return size_ - 1; }

private:
    std::size_t next(std::size_t i) const noexcept { return i + 1 == size_ ? 0 : i + 1; }
    alignas(cache_line_bytes) std::atomic<std::size_t> head_{0};
    std::size_t pending_head_ = 0;
    bool wrapped_ = false;
    alignas(cache_line_bytes) std::atomic<std::size_t> tail_{0};
    const std::size_t size_;
    detail::slots<T> slots_;
};

template <lamport_bug Bug>
struct broken_lamport_kind {
    static constexpr queue_traits traits{
        .name = Bug == lamport_bug::full_check_skipped_at_wrap         ? "mutant_full_check_at_wrap"
                : Bug == lamport_bug::pop_skips_slot_zero_once_wrapped ? "mutant_drops_after_wrap"
                                                                       : "mutant_head_never_published",
        .summary = "deliberately broken Lamport ring (tests only)",
        .family = family::own,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = broken_lamport<T, Bug>;
};

}  // namespace qmesh::test
