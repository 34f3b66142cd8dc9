// The runtime's per-thread pool (runtime/pool.hpp): blocks are reused on the
// thread that freed them, a list never holds more than pool_keep blocks, a
// block may be freed on another thread, and a thread's cached blocks go back
// to the C heap when it ends. Under ASan and TSan the pool is compiled out
// (so those tools still see every runtime object's allocation and free);
// there the tests check that pass-through instead.
#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "qmesh/runtime/pool.hpp"
#include "qmesh/runtime/smp.hpp"

namespace qmesh::rt {
namespace {

struct small : pooled {
    std::uint64_t words[5] = {};  // 40 bytes: class 48
};
struct alignas(64) lined : pooled {
    unsigned char bytes[100] = {};  // 128 bytes, aligned to a line: line class 128
};
struct big : pooled {
    unsigned char bytes[300] = {};  // over the largest class: never pooled
};

std::uint32_t cached(std::size_t bytes) { return detail::tl_pool.count[detail::pool_class(bytes)]; }
std::uint32_t cached_total() {
    std::uint32_t t = 0;
    for (std::size_t c = 0; c < detail::pool_classes; ++c) t += detail::tl_pool.count[c];
    return t;
}

TEST(pool, a_freed_block_is_reused_by_its_thread) {
    auto* a = new small;
    a->words[4] = 7;
    const std::uint32_t before = cached(sizeof(small));
    delete a;
    auto* b = new small;
#if QMESH_RT_POOL
    EXPECT_EQ(cached(sizeof(small)), before);  // taken straight back off the list
    EXPECT_EQ(static_cast<void*>(a), static_cast<void*>(b));  // last in, first out
#else
    EXPECT_EQ(cached(sizeof(small)), 0u);  // nothing is ever cached
    EXPECT_EQ(before, 0u);
#endif
    EXPECT_EQ(b->words[4], 0u);  // constructed afresh
    delete b;
}

TEST(pool, line_aligned_objects_have_lists_of_their_own) {
    static_assert(sizeof(lined) == 128 && alignof(lined) == detail::pool_line);
    const std::size_t c = detail::pool_line_class(sizeof(lined));
    auto* a = new lined;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % detail::pool_line, 0u);
    const std::uint32_t small_before = cached(sizeof(lined));  // the 16-byte-aligned class of the same size
    const std::uint32_t before = detail::tl_pool.count[c];
    delete a;
    auto* b = new lined;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % detail::pool_line, 0u);
#if QMESH_RT_POOL
    EXPECT_EQ(static_cast<void*>(a), static_cast<void*>(b));  // reused, last in, first out
#endif
    EXPECT_EQ(detail::tl_pool.count[c], before);
    EXPECT_EQ(cached(sizeof(lined)), small_before);  // never mixed with unaligned blocks
    delete b;
#if QMESH_RT_POOL
    EXPECT_EQ(detail::tl_pool.count[c], before + 1);
#else
    EXPECT_EQ(detail::tl_pool.count[c], 0u);
#endif
}

TEST(pool, large_objects_bypass_the_lists) {
    const std::uint32_t before = cached_total();
    delete new big;
    EXPECT_EQ(cached_total(), before);
}

TEST(pool, a_thread_freeing_others_blocks_keeps_a_bounded_number) {
    std::vector<small*> made;
    const std::size_t n = detail::pool_keep + 100;
    for (std::size_t i = 0; i < n; ++i) made.push_back(new small);
    std::uint32_t kept = 0;
    std::thread t([&] {
        for (small* p : made) delete p;
        kept = cached(sizeof(small));
    });
    t.join();
#if QMESH_RT_POOL
    EXPECT_EQ(kept, detail::pool_keep);
#else
    EXPECT_EQ(kept, 0u);
#endif
}

TEST(pool, a_thread_gives_its_cached_blocks_back_when_it_ends) {
    // What a thread caches is freed at its exit: the C heap's bytes in use
    // come back to where they were (give or take the allocator's own
    // bookkeeping), instead of growing by every cached block.
    constexpr std::size_t n = 2000;
    auto churn = [] {
        std::vector<small*> v;
        for (std::size_t i = 0; i < n; ++i) v.push_back(new small);
        for (small* p : v) delete p;
    };
    std::thread warm(churn);  // the first thread sets up the allocator's arena
    warm.join();
    const std::size_t before = detail::heap_bytes_in_use();
    std::thread t(churn);
    t.join();
    const std::size_t after = detail::heap_bytes_in_use();
    const std::size_t cached_bytes = n * detail::pool_block_bytes(detail::pool_class(sizeof(small)));
    EXPECT_LT(after, before + cached_bytes / 4) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace qmesh::rt
