// qmesh/queues/spin_ring.hpp: a bounded ring behind a test-and-test-and-set spinlock.
//
// The locking baseline without the kernel: every push and pop takes one
// spinlock word. Taking it is an atomic exchange (a locked instruction that
// needs the line exclusive); a thread that finds it taken spins on plain
// loads, which hit its own shared copy of the line until the holder's
// release invalidates it, instead of hammering the line with exchanges
// (test-and-test-and-set: L. Rudolph, Z. Segall, ISCA 1984; analysed in
// T. E. Anderson, IEEE TPDS 1(1), 1990). The spin loop issues the CPU's
// spin-wait hint (detail/cpu_relax.hpp: `pause` on x86). No back-off, no
// fairness: a waiter may starve, and a holder preempted by the OS stalls
// everyone (on our 2-vCPU virtual machines the host can preempt a vCPU).
//
// Roles: any number of producers and consumers.
// Progress: blocking.
// Order: FIFO (operations are linearised by the lock).
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/cpu_relax.hpp"
#include "qmesh/queues/detail/plain_ring.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes, template <class> class Atom = std::atomic>
class spin_ring {
public:
    using value_type = T;

    explicit spin_ring(std::size_t capacity) : ring_(capacity) {}
    spin_ring(const spin_ring&) = delete;
    spin_ring& operator=(const spin_ring&) = delete;

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        guard g(locked_);
        if (ring_.full()) return false;
        ring_.push(std::move(v));
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        guard g(locked_);
        if (ring_.empty()) return false;
        ring_.pop(out);
        return true;
    }

    std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
    // Holds the lock for its lifetime (also when a move throws).
    class guard {
    public:
        explicit guard(Atom<bool>& l) noexcept : l_(l) {
            // (L0) acquire: pairs with (L1) of the previous holder; what it
            // did to the ring is visible to us.
            while (l_.exchange(true, std::memory_order_acquire)) {
                // Relaxed: only a hint that the lock may be free; the
                // exchange above re-checks and gives the ordering.
                while (l_.load(std::memory_order_relaxed)) detail::cpu_relax();
            }
        }
        ~guard() {
            // (L1) release: our changes to the ring are visible to the next
            // holder; pairs with (L0).
            l_.store(false, std::memory_order_release);
        }
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;

    private:
        Atom<bool>& l_;
    };

    // The lock word and the ring it guards share a line on purpose: whoever
    // holds the lock touches both. Padding keeps neighbours in the mesh off it.
    // Written by whichever thread takes or releases the lock.
    // Invariant: true while some thread is inside try_push or try_pop.
    alignas(Pad) Atom<bool> locked_{false};
    detail::plain_ring<T> ring_;  // guarded by locked_
};

struct spin_ring_kind {
    static constexpr queue_traits traits{
        .name = "spin",
        .summary = "bounded ring under a test-and-test-and-set spinlock with pause (locking baseline)",
        .family = family::lock,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = spin_ring<T>;
};

}  // namespace qmesh
