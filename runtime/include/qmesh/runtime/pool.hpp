// qmesh/runtime/pool.hpp: per-thread free lists for the runtime's small,
// short-lived objects (shared states, continuation tasks, requests).
//
// Every submit_to allocates a request, a promise state and, when awaited, a
// continuation, and frees them on the same core a few microseconds later;
// the target allocates and frees a little of its own. With a window of 16
// requests per pair more than glibc's per-thread cache (7 blocks a size)
// are live at once, so most of those frees took glibc's slower path
// (`_int_free` was 13 % of a mesh profile). A class that derives from
// `pooled` instead takes its blocks from, and gives them back to, a free
// list of the calling thread: one list per 16-byte size class up to 256
// bytes, no atomics, no locks. Objects aligned to a hardware line (a
// request, whose line crossing to the target must carry nothing the origin
// writes meanwhile: smp.hpp) have lists of their own, per 64-byte class up
// to 256 bytes.
//
// Contracts:
// - A block may be freed on another thread than the one that allocated it
//   (it joins the freeing thread's list; every block comes from ::operator
//   new, so either thread may hand it back to the C heap).
// - A list keeps at most `pool_keep` blocks; beyond that, and for sizes over
//   256 bytes or alignments over 16, blocks go straight to ::operator new /
//   delete (sizes over 256 bytes or alignments over 64: always). So a thread
//   that frees what others allocate holds a bounded amount.
// - When a thread ends, its lists are returned to the C heap; frees after
//   that (thread-local destructors that run later) go straight to it too.
// - Under ASan and TSan there is no pool at all: every block comes from and
//   goes back to the sanitizer's allocator, so a use after free or a double
//   free of a runtime object is still reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace qmesh::rt {
namespace detail {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QMESH_RT_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define QMESH_RT_POOL 0
#endif
#endif
#ifndef QMESH_RT_POOL
#define QMESH_RT_POOL 1
#endif

inline constexpr std::size_t pool_max_bytes = 256;  // the largest pooled block
inline constexpr std::size_t pool_granule = 16;     // ::operator new aligns to 16 on x86-64 and AArch64
inline constexpr std::size_t pool_line = 64;        // a hardware line: the line-aligned classes' alignment
inline constexpr std::size_t pool_small_classes = pool_max_bytes / pool_granule;  // 16, 32, ..., 256
inline constexpr std::size_t pool_line_classes = pool_max_bytes / pool_line;      // 64, ..., 256, line-aligned
inline constexpr std::size_t pool_classes = pool_small_classes + pool_line_classes;
inline constexpr std::size_t pool_keep = 4096;      // blocks kept per class per thread
static_assert(pool_max_bytes % pool_line == 0 && pool_line % pool_granule == 0,
              "the largest block must end both families of classes");
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= pool_granule,
              "pool blocks come from ::operator new and must be aligned to the granule");

// Whether an object of n bytes (aligned to at most 16) is pooled, its size
// class; the same for line-aligned objects (alignment 17 .. pool_line); and
// the bytes and alignment of a class's blocks (what ::operator new was
// asked for).
inline constexpr bool pool_fits(std::size_t n) noexcept { return n != 0 && n <= pool_max_bytes; }
inline constexpr std::size_t pool_class(std::size_t n) noexcept { return (n - 1) / pool_granule; }
inline constexpr bool pool_line_fits(std::size_t n, std::size_t align) noexcept {
    return pool_fits(n) && align <= pool_line;
}
inline constexpr std::size_t pool_line_class(std::size_t n) noexcept { return pool_small_classes + (n - 1) / pool_line; }
inline constexpr bool pool_class_is_line(std::size_t c) noexcept { return c >= pool_small_classes; }
inline constexpr std::size_t pool_block_bytes(std::size_t c) noexcept {
    return pool_class_is_line(c) ? (c - pool_small_classes + 1) * pool_line : (c + 1) * pool_granule;
}

struct pool_block {
    pool_block* next;
};
// One thread's lists. Trivially destructible and constant-initialised, so
// reaching it costs no guard, and it stays usable while other thread-local
// destructors run.
struct pool_lists {
    pool_block* head[pool_classes];
    std::uint32_t count[pool_classes];
    bool registered;  // the thread-exit drain is set up
    bool closed;      // the drain has run: no more caching
};
inline thread_local constinit pool_lists tl_pool{};

// Sets up the thread-exit drain (out of line, once per thread).
void pool_register() noexcept;

// A fresh block of class c from the C heap, and giving one back to it.
inline void* pool_new_block(std::size_t c) {
    if (pool_class_is_line(c)) return ::operator new(pool_block_bytes(c), std::align_val_t{pool_line});
    return ::operator new(pool_block_bytes(c));
}
inline void pool_delete_block(void* p, std::size_t c) noexcept {
    if (pool_class_is_line(c)) ::operator delete(p, pool_block_bytes(c), std::align_val_t{pool_line});
    else ::operator delete(p, pool_block_bytes(c));
}

// A block of class c: off the thread's list, else from the C heap.
inline void* pool_take(std::size_t c) {
    pool_lists& l = tl_pool;
    if (pool_block* b = l.head[c]) {
        l.head[c] = b->next;
        --l.count[c];
        return b;
    }
    return pool_new_block(c);
}
// Gives back a block of class c: onto the thread's list, unless it is full
// or the thread is ending.
inline void pool_give(void* p, std::size_t c) noexcept {
    pool_lists& l = tl_pool;
    if (!l.closed && l.count[c] < pool_keep) {
        if (!l.registered) pool_register();
        auto* b = static_cast<pool_block*>(p);
        b->next = l.head[c];
        l.head[c] = b;
        ++l.count[c];
        return;
    }
    pool_delete_block(p, c);
}

inline void* pool_alloc(std::size_t n) {
#if QMESH_RT_POOL
    if (pool_fits(n)) return pool_take(pool_class(n));
#endif
    return ::operator new(n);
}
inline void pool_free(void* p, std::size_t n) noexcept {
#if QMESH_RT_POOL
    if (p != nullptr && pool_fits(n)) return pool_give(p, pool_class(n));
#endif
    ::operator delete(p, n);
}
// Over-aligned objects: line-aligned classes, or straight to the C heap.
inline void* pool_alloc(std::size_t n, std::align_val_t a) {
#if QMESH_RT_POOL
    if (pool_line_fits(n, static_cast<std::size_t>(a))) return pool_take(pool_line_class(n));
#endif
    return ::operator new(n, a);
}
inline void pool_free(void* p, std::size_t n, std::align_val_t a) noexcept {
#if QMESH_RT_POOL
    if (p != nullptr && pool_line_fits(n, static_cast<std::size_t>(a))) return pool_give(p, pool_line_class(n));
#endif
    ::operator delete(p, n, a);
}

}  // namespace detail

// Derive from this to allocate through the calling thread's pool. The sized
// delete receives the dynamic type's size when deleting through a base with
// a virtual destructor, so a hierarchy may derive at its root.
struct pooled {
    static void* operator new(std::size_t n) { return detail::pool_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { detail::pool_free(p, n); }
    // Over-aligned types: line-aligned lists up to pool_line, else the C heap.
    static void* operator new(std::size_t n, std::align_val_t a) { return detail::pool_alloc(n, a); }
    static void operator delete(void* p, std::size_t n, std::align_val_t a) noexcept { detail::pool_free(p, n, a); }
};

}  // namespace qmesh::rt
