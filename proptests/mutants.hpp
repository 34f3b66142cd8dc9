// proptests/mutants.hpp: deliberately broken queues and runtime pieces,
// compiled only for the tests, to show that each verification tier catches
// the defects it claims to. Each mutant is a copy of a correct design (the
// queue or runtime piece it names) with one defect, described in its kind.
// Nothing here is registered in qmesh's registry; qmesh_mutants
// (mutant_runner.cpp) runs each against its tier and writes the kill matrix.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/plain_ring.hpp"
#include "qmesh/queues/detail/slots.hpp"
#include "qmesh/runtime/task.hpp"

namespace qmesh::test {

// ---------------------------------------------------------------------------
// Lamport's ring (queues/lamport_ring.hpp) with one of these defects.
enum class lamport_bug {
    full_check_skipped_at_wrap,        // model
    pop_skips_slot_zero_once_wrapped,  // model
    head_never_published,              // concurrent
    tail_cache_never_refreshed,        // concurrent
    flush_strands_partial_batch,       // concurrent
    relaxed_publish,                   // tsan
    relaxed_consume,                   // tsan
    leaks_on_destroy,                  // asan
    wraps_one_past_end,                // asan
};

constexpr std::string_view lamport_bug_name(lamport_bug b) {
    switch (b) {
        case lamport_bug::full_check_skipped_at_wrap: return "mutant_full_check_at_wrap";
        case lamport_bug::pop_skips_slot_zero_once_wrapped: return "mutant_drops_after_wrap";
        case lamport_bug::head_never_published: return "mutant_head_never_published";
        case lamport_bug::tail_cache_never_refreshed: return "mutant_stale_tail_cache";
        case lamport_bug::flush_strands_partial_batch: return "mutant_flush_strands";
        case lamport_bug::relaxed_publish: return "mutant_relaxed_publish";
        case lamport_bug::relaxed_consume: return "mutant_relaxed_consume";
        case lamport_bug::leaks_on_destroy: return "mutant_leak_on_destroy";
        case lamport_bug::wraps_one_past_end: return "mutant_wrap_past_end";
    }
    return "?";
}

template <class T, lamport_bug Bug>
class broken_lamport {
public:
    using value_type = T;
    // wraps_one_past_end allocates exactly `capacity + 1` slots like the
    // original but indexes slot capacity + 1 too.
    explicit broken_lamport(std::size_t capacity) : size_(capacity + 1), slots_(capacity + 1) {
        if (capacity == 0) throw std::invalid_argument("capacity must be at least 1");
    }
    ~broken_lamport() {
        // Defect (leaks_on_destroy): queued elements are never destroyed.
        if constexpr (Bug == lamport_bug::leaks_on_destroy) return;
        std::size_t h = head_.load(std::memory_order_relaxed);
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        for (; h != t; h = next(h)) slots_.destroy(h);
    }
    [[nodiscard]] bool try_push(T&& v) noexcept {
        const std::size_t t = Bug == lamport_bug::flush_strands_partial_batch ? next_tail_
                                                                              : tail_.load(std::memory_order_relaxed);
        const std::size_t n = next(t);
        // (P0) acquire, as in lamport_ring.
        const bool full = n == head_.load(std::memory_order_acquire);
        // Defect (full_check_skipped_at_wrap): the full check is skipped on
        // the push that wraps around; tail then catches up with head and a
        // full ring reads as empty.
        if (full && !(Bug == lamport_bug::full_check_skipped_at_wrap && n == 0)) {
            if constexpr (Bug == lamport_bug::flush_strands_partial_batch) flush();
            return false;
        }
        slots_.construct(t, std::move(v));
        if constexpr (Bug == lamport_bug::flush_strands_partial_batch) {
            next_tail_ = n;
            if (++unpublished_ == 2) flush();
        } else if constexpr (Bug == lamport_bug::relaxed_publish) {
            // Defect: the publishing store is relaxed, so the element's
            // construction is not ordered before it. Invisible on x86 (TSO).
            tail_.store(n, std::memory_order_relaxed);
        } else {
            // (P1) release: publishes slot t; pairs with (C0).
            tail_.store(n, std::memory_order_release);
        }
        return true;
    }
    [[nodiscard]] bool try_pop(T& out) noexcept {
        std::size_t h = Bug == lamport_bug::head_never_published ? pending_head_ : head_.load(std::memory_order_relaxed);
        if constexpr (Bug == lamport_bug::tail_cache_never_refreshed) {
            // Defect: the consumer reads the producer's index once and then
            // trusts its cached copy for ever (cached_ring re-reads it when
            // the copy says empty).
            if (!tail_cache_read_) {
                tail_cache_ = tail_.load(std::memory_order_acquire);
                tail_cache_read_ = true;
            }
            if (h == tail_cache_) return false;
        } else if constexpr (Bug == lamport_bug::relaxed_consume) {
            // Defect: the consumer's load of tail is relaxed, so it may read
            // the slot before the producer's construction is visible to it.
            if (h == tail_.load(std::memory_order_relaxed)) return false;
        } else {
            // (C0) acquire: pairs with (P1).
            if (h == tail_.load(std::memory_order_acquire)) return false;
        }
        // Defect (pop_skips_slot_zero_once_wrapped): after the first
        // wrap-around, slot 0's element is dropped.
        if (Bug == lamport_bug::pop_skips_slot_zero_once_wrapped && h == 0 && wrapped_) {
            slots_.destroy(h);
            h = next(h);
            head_.store(h, std::memory_order_release);
            if (h == tail_.load(std::memory_order_acquire)) return false;
        }
        slots_.take(h, out);
        if (next(h) == 0) wrapped_ = true;
        // Defect (head_never_published): the consumer never publishes its
        // progress, so the producer sees the ring full for ever after
        // `capacity` pushes.
        if (Bug != lamport_bug::head_never_published) head_.store(next(h), std::memory_order_release);  // (C1)
        else pending_head_ = next(h);  // kept privately, never stored
        return true;
    }
    // Only the batching mutant has a flush. Defect: it publishes whole
    // batches (pairs) only, so an odd last element is stranded, yet it
    // reports everything visible.
    bool flush() noexcept
        requires(Bug == lamport_bug::flush_strands_partial_batch)
    {
        if (unpublished_ >= 2) {
            tail_.store(next_tail_, std::memory_order_release);  // (P1)
            unpublished_ = 0;
        }
        return true;
    }
    std::size_t capacity() const noexcept { return size_ - 1; }

private:
    std::size_t next(std::size_t i) const noexcept {
        // Defect (wraps_one_past_end): wraps after index size_, not before
        // it, so slot size_ (one past the array) is used.
        if constexpr (Bug == lamport_bug::wraps_one_past_end) return i == size_ ? 0 : i + 1;
        else return i + 1 == size_ ? 0 : i + 1;
    }
    alignas(cache_line_bytes) std::atomic<std::size_t> head_{0};
    std::size_t pending_head_ = 0;  // consumer-private (head_never_published)
    bool wrapped_ = false;          // consumer-private
    std::size_t tail_cache_ = 0;    // consumer-private (tail_cache_never_refreshed)
    bool tail_cache_read_ = false;  // consumer-private
    alignas(cache_line_bytes) std::atomic<std::size_t> tail_{0};
    std::size_t next_tail_ = 0;    // producer-private (flush_strands_partial_batch)
    std::size_t unpublished_ = 0;  // producer-private
    const std::size_t size_;
    detail::slots<T> slots_;
};

template <lamport_bug Bug>
struct broken_lamport_kind {
    static constexpr queue_traits traits{
        .name = lamport_bug_name(Bug),
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

// ---------------------------------------------------------------------------
// The mutex ring (queues/mutex_ring.hpp) with one of these defects.
enum class mutex_bug {
    lock_removed,               // tsan
    pop_gives_up_on_busy_lock,  // linearizability
};

template <class T, mutex_bug Bug>
class broken_mutex_ring {
public:
    using value_type = T;
    explicit broken_mutex_ring(std::size_t capacity) : ring_(capacity) {}
    [[nodiscard]] bool try_push(T&& v) noexcept {
        // Defect (lock_removed): no lock at all; the ring is shared bare.
        std::unique_lock lock(mu_, std::defer_lock);
        if constexpr (Bug != mutex_bug::lock_removed) lock.lock();
        if (ring_.full()) return false;
        ring_.push(std::move(v));
        return true;
    }
    [[nodiscard]] bool try_pop(T& out) noexcept {
        std::unique_lock lock(mu_, std::defer_lock);
        if constexpr (Bug == mutex_bug::pop_gives_up_on_busy_lock) {
            // Defect: a pop that finds the lock busy reports "empty" instead
            // of waiting its turn: nothing is lost, the caller just retries,
            // but "empty" was never true.
            if (!lock.try_lock()) return false;
        } else if constexpr (Bug != mutex_bug::lock_removed) {
            lock.lock();
        }
        if (ring_.empty()) return false;
        ring_.pop(out);
        return true;
    }
    std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
    alignas(cache_line_bytes) std::mutex mu_;
    detail::plain_ring<T> ring_;  // guarded by mu_ (unless the defect removed it)
};

template <mutex_bug Bug>
struct broken_mutex_kind {
    static constexpr queue_traits traits{
        .name = Bug == mutex_bug::lock_removed ? "mutant_lock_removed" : "mutant_pop_gives_up_on_busy_lock",
        .summary = "deliberately broken mutex ring (tests only)",
        .family = family::lock,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = broken_mutex_ring<T, Bug>;
};

// ---------------------------------------------------------------------------
// An MPSC inbox (queues/inbox_ring.hpp) split into two lanes under its one
// lock: each producer thread always uses the same lane (by a per-thread
// number), and the consumer drains lane 1 before lane 0. Defect: every value
// arrives exactly once, each producer's values stay in order, and one thread
// alone sees a perfect FIFO of capacity() elements; but a value pushed after
// another producer's push has completed may come out first, so the queue is
// not FIFO, as its traits claim. Only the linearizability tier can see it.
inline unsigned lane_of_this_thread() noexcept {
    // Relaxed: a counter handing out numbers; nothing is published.
    static std::atomic<unsigned> next{0};
    thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine % 2;
}

template <class T>
class lanes_inbox {
public:
    using value_type = T;
    explicit lanes_inbox(std::size_t capacity) : capacity_(capacity), lanes_{detail::plain_ring<T>(capacity), detail::plain_ring<T>(capacity)} {}
    [[nodiscard]] bool try_push(T&& v) noexcept {
        std::lock_guard lock(mu_);
        if (lanes_[0].size() + lanes_[1].size() == capacity_) return false;
        lanes_[lane_of_this_thread()].push(std::move(v));
        return true;
    }
    [[nodiscard]] bool try_pop(T& out) noexcept {
        std::lock_guard lock(mu_);
        for (auto* l : {&lanes_[1], &lanes_[0]})
            if (!l->empty()) {
                l->pop(out);
                return true;
            }
        return false;
    }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    const std::size_t capacity_;
    alignas(cache_line_bytes) std::mutex mu_;
    // Guarded by mu_. Invariant: their sizes add up to at most capacity_.
    detail::plain_ring<T> lanes_[2];
};

struct lanes_inbox_kind {
    static constexpr queue_traits traits{
        .name = "mutant_lanes_break_fifo",
        .summary = "deliberately broken two-lane inbox (tests only)",
        .family = family::lock,
        .producers = role::multi,
        .consumers = role::single,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = lanes_inbox<T>;
};

// ---------------------------------------------------------------------------
// Runtime: rt::lambda_task (runtime/task.hpp) with one defect: it runs its
// continuation twice before disposing of itself, as a scheduler that
// re-queued a task it had already run would. A continuation that owns a
// resource frees it twice.
template <class F>
class twice_task final : public rt::task {
public:
    explicit twice_task(F f) : f_(std::move(f)) {}
    void run_and_dispose() noexcept override {
        f_();
        f_();  // the defect
        delete this;
    }

private:
    F f_;
};

}  // namespace qmesh::test
