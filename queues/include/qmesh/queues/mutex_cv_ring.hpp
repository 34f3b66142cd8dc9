// qmesh/queues/mutex_cv_ring.hpp: a bounded ring under std::mutex, with a
// condition variable the consumer may sleep on.
//
// The textbook blocking queue (a monitor: C. A. R. Hoare, "Monitors: An
// Operating System Structuring Concept", CACM 17(10), 1974). try_push and
// try_pop stay non-blocking, as the concept requires (they only wait for the
// short critical section). A consumer that would rather sleep than poll
// calls pop_wait(out, timeout): it registers itself as a waiter and sleeps on
// the condition variable until an element arrives or the timeout passes.
// A push notifies only when a waiter is registered, so producers pay for
// the wake-up (a futex system call) only while a consumer is actually
// asleep; the count is read under the mutex, so a consumer that has
// registered cannot miss the notification.
//
// Roles: any number of producers and consumers.
// Progress: blocking.
// Order: FIFO (operations are linearised by the mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/queues/detail/plain_ring.hpp"

namespace qmesh {

template <class T, std::size_t Pad = cache_line_bytes>
class mutex_cv_ring {
public:
    using value_type = T;

    explicit mutex_cv_ring(std::size_t capacity) : ring_(capacity) {}
    mutex_cv_ring(const mutex_cv_ring&) = delete;
    mutex_cv_ring& operator=(const mutex_cv_ring&) = delete;

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        bool wake;
        {
            std::lock_guard lock(mu_);
            if (ring_.full()) return false;
            ring_.push(std::move(v));
            wake = waiters_ != 0;
        }
        // Notify after unlocking, so the woken consumer does not block on mu_.
        if (wake) cv_.notify_one();
        return true;
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        std::lock_guard lock(mu_);
        if (ring_.empty()) return false;
        ring_.pop(out);
        return true;
    }

    // Consumer: like try_pop, but if the queue is empty sleeps until an
    // element arrives or `timeout` has passed. False on timeout (out
    // untouched). Spurious wake-ups are absorbed here. Timeouts above a year
    // are cut to a year (steady_clock::now() + nanoseconds::max() overflows).
    [[nodiscard]] bool pop_wait(T& out, std::chrono::nanoseconds timeout) {
        constexpr std::chrono::nanoseconds longest = std::chrono::hours(24 * 365);
        if (timeout > longest) timeout = longest;
        std::unique_lock lock(mu_);
        if (ring_.empty()) {
            ++waiters_;
            const bool ready = cv_.wait_for(lock, timeout, [&] { return !ring_.empty(); });
            --waiters_;
            if (!ready) return false;
        }
        ring_.pop(out);
        return true;
    }

    std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
    // Mutex, waiter count and ring share lines on purpose: whoever holds the
    // lock touches all of them. Padding keeps neighbours in the mesh off.
    alignas(Pad) std::mutex mu_;
    std::size_t waiters_ = 0;     // guarded by mu_: consumers inside pop_wait
    detail::plain_ring<T> ring_;  // guarded by mu_
    std::condition_variable cv_;  // signalled when an element arrives and waiters_ > 0
};

struct mutex_cv_ring_kind {
    static constexpr queue_traits traits{
        .name = "mutex_cv",
        .summary = "bounded ring under std::mutex + condition_variable; consumer may sleep (pop_wait)",
        .family = family::lock,
        .producers = role::multi,
        .consumers = role::multi,
        .progress = progress::blocking,
        .bounded = true,
        .order = order::fifo,
    };
    template <class T>
    using type = mutex_cv_ring<T>;
};

}  // namespace qmesh
