// qmesh/queues/detail/slots.hpp: uninitialised element storage for rings.
//
// Rings construct an element when it is pushed and destroy it when it is
// popped, so a slot that holds no element holds no object: constructions equal
// destructions, move-only types work, and T need not be default-constructible.
// The storage is plain memory; a ring's atomics are what order accesses to it,
// which is what lets ThreadSanitizer see a missing acquire/release as a race.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace qmesh::detail {

template <class T>
class slots {
public:
    // n * sizeof(T) must not wrap around: a wrapped size allocates a few
    // bytes for a ring that believes it has n slots, and the first pushes
    // write past them. Rings pass capacity (+ 1), so this is where a
    // capacity too large for memory becomes a clear exception.
    explicit slots(std::size_t n)
        : n_(checked(n)),
          mem_(static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{alignof(T)}))) {}
    slots(const slots&) = delete;
    slots& operator=(const slots&) = delete;
    ~slots() { ::operator delete(mem_, std::align_val_t{alignof(T)}); }

    template <class... A>
    void construct(std::size_t i, A&&... a) noexcept(std::is_nothrow_constructible_v<T, A...>) {
        std::construct_at(mem_ + i, std::forward<A>(a)...);
    }
    // Moves the element at i into out and ends its lifetime.
    void take(std::size_t i, T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        out = std::move(mem_[i]);
        std::destroy_at(mem_ + i);
    }
    void destroy(std::size_t i) noexcept { std::destroy_at(mem_ + i); }
    T& operator[](std::size_t i) noexcept { return mem_[i]; }
    std::size_t size() const noexcept { return n_; }

private:
    static std::size_t checked(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
            throw std::length_error("queue capacity too large: slot array size overflows");
        return n;
    }

    std::size_t n_;
    T* mem_;
};

}  // namespace qmesh::detail
