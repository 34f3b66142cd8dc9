// qmesh/queues/moodycamel_rwq.hpp: adapter over moodycamel::ReaderWriterQueue (peer).
//
// Cameron Desrochers' SPSC queue (github.com/cameron314/readerwriterqueue,
// Debian libreaderwriterqueue-dev 1.0.6): a circular list of blocks, each a
// power-of-two ring with a padded front and tail and a private shadow copy of
// the other side's index (the cached-index idea). The library grows by
// adding blocks, but only from enqueue(); try_enqueue never allocates, so
// with try_enqueue the queue is bounded by what the constructor reserved.
//
// Capacity (what capacity() reports, from the library's max_capacity()):
// the constructor reserves one block of 2^k slots with 2^k >= capacity+1 when
// capacity+1 <= 2*MaxBlock (MaxBlock is the library's MAX_BLOCK_SIZE, 512 by
// default), so capacity() = 2^k - 1 >= capacity: rounded up, and exact.
// For larger capacities it reserves b blocks of MaxBlock slots and
// capacity() = b*(MaxBlock-1); a fresh queue accepts exactly that many, but
// while the consumer is part-way through a block the producer may not enter
// it, so the queue can report full with as few as (b-1)*(MaxBlock-1)
// elements (still >= the capacity asked for). The kind says so with
// exact_capacity = false.
//
// Atomics and ThreadSanitizer: atomicops.h's weak_atomic wraps std::atomic
// when AE_USE_STD_ATOMIC_FOR_WEAK_ATOMIC is defined, and volatile plus
// compiler fences otherwise. Version 1.0.6 already defines it for every
// compiler but old MSVC; we define it too, before the include, so that the
// choice does not depend on that. weak_atomic's loads and stores are
// relaxed; ordering comes from standalone std::atomic_thread_fence calls,
// which ThreadSanitizer does not model. Under clang the library annotates
// each fence for TSan (AnnotateHappensBefore/After on one global address);
// it detects TSan with __has_feature, which GCC 12 lacks, so for GCC
// (__SANITIZE_THREAD__) we supply the same two annotation macros. Without
// them GCC's TSan reports the element hand-off as a race. The annotations
// only ever add happens-before edges between moodycamel fences.
//
// Elements: moved in and out; any move-constructible, move-assignable T.
//
// Roles: one producer thread, one consumer thread.
// Progress: wait-free (try_enqueue and try_dequeue are bounded).
// Order: FIFO.
#pragma once

#ifndef AE_USE_STD_ATOMIC_FOR_WEAK_ATOMIC
#define AE_USE_STD_ATOMIC_FOR_WEAK_ATOMIC
#endif

#if defined(__SANITIZE_THREAD__) && !defined(AE_TSAN_ANNOTATE_RELEASE)
// GCC with -fsanitize=thread: the annotations atomicops.h only sets up for clang.
namespace qmesh::detail {
inline int moodycamel_tsan_sync;
}
extern "C" void AnnotateHappensBefore(const char*, int, void*);
extern "C" void AnnotateHappensAfter(const char*, int, void*);
#define AE_TSAN_ANNOTATE_RELEASE() \
    AnnotateHappensBefore(__FILE__, __LINE__, static_cast<void*>(&::qmesh::detail::moodycamel_tsan_sync))
#define AE_TSAN_ANNOTATE_ACQUIRE() \
    AnnotateHappensAfter(__FILE__, __LINE__, static_cast<void*>(&::qmesh::detail::moodycamel_tsan_sync))
#endif

// -Wtsan silenced for the library's own fences only (detail/wtsan_off.hpp).
#include "qmesh/queues/detail/wtsan_off.hpp"
#include <readerwriterqueue/readerwriterqueue.h>
#include "qmesh/queues/detail/wtsan_on.hpp"

#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"

namespace qmesh {

template <class T, std::size_t MaxBlock = 512, std::size_t Pad = cache_line_bytes>
class moodycamel_rwq {
public:
    using value_type = T;

    explicit moodycamel_rwq(std::size_t capacity)
        : q_(checked(capacity)), capacity_(q_.max_capacity()) {}
    moodycamel_rwq(const moodycamel_rwq&) = delete;
    moodycamel_rwq& operator=(const moodycamel_rwq&) = delete;

    [[nodiscard]] bool try_push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        return q_.try_enqueue(std::move(v));  // never allocates; v untouched when full
    }

    [[nodiscard]] bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        return q_.try_dequeue(out);
    }

    std::size_t capacity() const noexcept { return capacity_; }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0) throw std::invalid_argument("moodycamel_rwq: capacity must be at least 1");
        // The library computes size + 1 and size + 2 * MAX_BLOCK_SIZE - 3
        // unchecked; near SIZE_MAX they wrap and it builds a tiny queue whose
        // max_capacity() still claims SIZE_MAX.
        if (capacity > std::numeric_limits<std::size_t>::max() - 2 * MaxBlock)
            throw std::length_error("moodycamel_rwq: capacity too large");
        return capacity;
    }

    // The library pads its own front/tail block pointers and indices (64 bytes,
    // MOODYCAMEL_CACHE_LINE_SIZE); alignas keeps mesh neighbours off its lines.
    alignas(Pad) moodycamel::ReaderWriterQueue<T, MaxBlock> q_;
    std::size_t capacity_;  // read-only after construction
};

struct moodycamel_rwq_kind {
    static constexpr queue_traits traits{
        .name = "moodycamel_rwq",
        .summary = "moodycamel::ReaderWriterQueue via try_enqueue (no growth); capacity rounded up",
        .family = family::peer,
        .producers = role::single,
        .consumers = role::single,
        .progress = progress::wait_free,
        .bounded = true,
        .order = order::fifo,
    };
    // Full can come before capacity() elements for capacities above 1023
    // (see the header comment); exact for smaller ones.
    static constexpr bool exact_capacity = false;
    template <class T>
    using type = moodycamel_rwq<T>;
};

}  // namespace qmesh
