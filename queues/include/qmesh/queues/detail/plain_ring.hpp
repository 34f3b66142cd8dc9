// qmesh/queues/detail/plain_ring.hpp: a single-threaded bounded ring, the
// storage inside every locking baseline. Not thread-safe: the lock around it is.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <type_traits>

#include "qmesh/queues/detail/slots.hpp"

namespace qmesh::detail {

template <class T>
class plain_ring {
public:
    explicit plain_ring(std::size_t capacity) : slots_(capacity) {
        if (capacity == 0) throw std::invalid_argument("capacity must be at least 1");
    }
    plain_ring(const plain_ring&) = delete;
    plain_ring& operator=(const plain_ring&) = delete;
    ~plain_ring() {
        while (count_ != 0) {
            slots_.destroy(head_);
            head_ = next(head_);
            --count_;
        }
    }

    bool full() const noexcept { return count_ == slots_.size(); }
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }
    std::size_t capacity() const noexcept { return slots_.size(); }

    // Preconditions: !full() for push, !empty() for pop.
    void push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
        slots_.construct(tail_, std::move(v));
        tail_ = next(tail_);
        ++count_;
    }
    void pop(T& out) noexcept(std::is_nothrow_move_assignable_v<T>) {
        slots_.take(head_, out);
        head_ = next(head_);
        --count_;
    }

private:
    std::size_t next(std::size_t i) const noexcept { return i + 1 == slots_.size() ? 0 : i + 1; }

    slots<T> slots_;
    std::size_t head_ = 0;   // oldest element
    std::size_t tail_ = 0;   // next free slot
    std::size_t count_ = 0;  // elements held; 0..capacity
};

}  // namespace qmesh::detail
