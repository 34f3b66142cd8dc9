// proptests/test_support.hpp: what the test files share.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "qmesh/queues/registry.hpp"

namespace qmesh::test {

// Iteration counts divide by QMESH_TEST_SCALE (the asan and tsan test
// presets set it), so sanitizer runs stay within the CI budget.
inline std::uint64_t scaled(std::uint64_t n) {
    static const std::uint64_t scale = [] {
        const char* s = std::getenv("QMESH_TEST_SCALE");
        const long v = s != nullptr ? std::strtol(s, nullptr, 10) : 1;
        return static_cast<std::uint64_t>(v > 0 ? v : 1);
    }();
    return std::max<std::uint64_t>(1, n / scale);
}

// kind_list -> ::testing::Types, so every registered queue gets every typed test.
template <class L>
struct gtest_types;
template <class... Ks>
struct gtest_types<kind_list<Ks...>> {
    using type = ::testing::Types<Ks...>;
};
using all_queue_types = gtest_types<all_queues>::type;

struct kind_name {
    template <class K>
    static std::string GetName(int) {
        return std::string(K::traits.name);
    }
};

// An element that counts its constructions and destructions (rigtorp's
// TestType idea): after any sequence of operations and the queue's
// destruction, live() must be back to zero.
struct counted {
    static inline std::atomic<long> constructed{0};
    static inline std::atomic<long> destroyed{0};
    static long live() { return constructed.load() - destroyed.load(); }

    std::uint64_t v = 0;
    counted() noexcept { constructed.fetch_add(1, std::memory_order_relaxed); }
    explicit counted(std::uint64_t x) noexcept : v(x) { constructed.fetch_add(1, std::memory_order_relaxed); }
    counted(const counted& o) noexcept : v(o.v) { constructed.fetch_add(1, std::memory_order_relaxed); }
    counted(counted&& o) noexcept : v(o.v) { constructed.fetch_add(1, std::memory_order_relaxed); }
    counted& operator=(const counted&) noexcept = default;
    counted& operator=(counted&&) noexcept = default;
    ~counted() { destroyed.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace qmesh::test
