// qmesh/queues/detail/boxed.hpp: how peer adapters carry elements a library
// cannot hold directly.
//
// Some peer queues only take copyable (boost::lockfree::spsc_queue in Boost
// 1.74 has no move push) or trivially copyable and trivially destructible
// (boost::lockfree::queue) elements, and need a default constructor to pop
// into. Their adapters store T itself when T is trivially copyable and
// default-constructible (the benchmarks' uint64_t and pointers), and
// otherwise a *box*: an owning T* allocated on push and deleted on pop or
// when the queue is destroyed. The box is an extra allocation and an extra
// indirection per element, so the boxed path is for correctness tests with
// move-only or counting elements, never for measurements.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace qmesh::detail {

template <class T>
inline constexpr bool store_direct =
    std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>;

// What the library queue holds for an element of type T.
template <class T>
using stored_t = std::conditional_t<store_direct<T>, T, T*>;

// Allocates a box holding v (moved). The caller owns it until it is pushed.
template <class T>
T* box(T&& v) {
    return new T(std::move(v));
}

// Moves the boxed element into out and frees the box (also when the move
// assignment throws).
template <class T>
void unbox(T* b, T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
    std::unique_ptr<T> owner(b);
    out = std::move(*owner);
}

}  // namespace qmesh::detail
