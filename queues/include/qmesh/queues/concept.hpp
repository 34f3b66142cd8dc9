// qmesh/queues/concept.hpp: what every queue in qmesh is, and what it declares.
//
// A *queue* is a non-blocking container of `value_type` with `try_push`,
// `try_pop` and `capacity`. A *queue kind* is the registry's handle on a queue
// template: it names the queue, states its traits, and instantiates it for any
// element type (`kind::type<T>`). Benchmarks and verification only ever see
// kinds; they read the traits to decide which roles to run (how many producers
// and consumers) and which order to check. No queue is special-cased anywhere.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

namespace qmesh {

enum class family : std::uint8_t { own, peer, lock };
enum class role : std::uint8_t { single, multi };
enum class progress : std::uint8_t { wait_free, lock_free, blocking };
enum class order : std::uint8_t { fifo, per_producer_fifo, none };

constexpr std::string_view to_string(family f) noexcept {
    switch (f) {
        case family::own: return "own";
        case family::peer: return "peer";
        case family::lock: return "lock";
    }
    return "?";
}
constexpr std::string_view to_string(role r) noexcept {
    return r == role::single ? "single" : "multi";
}
constexpr std::string_view to_string(progress p) noexcept {
    switch (p) {
        case progress::wait_free: return "wait-free";
        case progress::lock_free: return "lock-free";
        case progress::blocking: return "blocking";
    }
    return "?";
}
constexpr std::string_view to_string(order o) noexcept {
    switch (o) {
        case order::fifo: return "fifo";
        case order::per_producer_fifo: return "per-producer-fifo";
        case order::none: return "none";
    }
    return "?";
}

// The record `qmesh list --json` prints, one per registered queue.
struct queue_traits {
    std::string_view name;     // registry name, used on the command line
    std::string_view summary;  // one line for people: algorithm and source
    qmesh::family family;
    role producers;
    role consumers;
    qmesh::progress progress;
    bool bounded;  // false: try_push fails only when memory runs out
    qmesh::order order;
};

// Capacity reported by queues that grow without a fixed bound.
inline constexpr std::size_t unbounded_capacity = std::numeric_limits<std::size_t>::max();

// The operations every queue offers. try_push takes an rvalue so that
// move-only elements work; try_pop move-assigns into `out` and leaves it
// untouched when the queue is empty. Both are non-blocking: they may spin on a
// short critical section (locking baselines) but never wait for the other side.
template <class Q>
concept queue = requires(Q& q, const Q& cq, typename Q::value_type& out,
                         typename Q::value_type&& in) {
    typename Q::value_type;
    { q.try_push(std::move(in)) } -> std::same_as<bool>;
    { q.try_pop(out) } -> std::same_as<bool>;
    { cq.capacity() } noexcept -> std::same_as<std::size_t>;
} && std::constructible_from<Q, std::size_t>;

// Queues that hold back published elements (batched publication, staging
// buffers) expose flush(); it makes what was pushed so far visible to the
// consumer, as much as fits. A flush() that returns bool says whether
// everything is visible now (false: the ring was full, call again later).
// Callers use qmesh::flush(q): a no-op returning true for other queues.
template <class Q>
concept flushable = requires(Q& q) { q.flush(); };

template <class Q>
concept consumer_flushable = requires(Q& q) { q.consumer_flush(); };

// Whether flushing Q can throw: only a queue that moves elements in its
// flush (a staging buffer) with an element whose move can throw. The
// wrappers below pass such an exception on, like the queue's own call,
// instead of ending the program.
template <queue Q>
inline constexpr bool nothrow_flush = [] {
    if constexpr (flushable<Q>) return noexcept(std::declval<Q&>().flush());
    else return true;
}();
template <queue Q>
inline constexpr bool nothrow_consumer_flush = [] {
    if constexpr (consumer_flushable<Q>) return noexcept(std::declval<Q&>().consumer_flush());
    else return true;
}();

template <queue Q>
inline bool flush(Q& q) noexcept(nothrow_flush<Q>) {
    if constexpr (flushable<Q>) {
        if constexpr (std::is_same_v<decltype(q.flush()), bool>) {
            return q.flush();
        } else {
            q.flush();
            return true;
        }
    } else {
        return true;
    }
}

// The consumer-side counterpart: a queue that releases consumed slots in
// batches returns them to the producer here (called when the consumer idles).
template <queue Q>
inline void consumer_flush(Q& q) noexcept(nothrow_consumer_flush<Q>) {
    if constexpr (consumer_flushable<Q>) q.consumer_flush();
}

// Queues that can hand the consumer several elements in one operation (a
// locked queue: under one lock acquisition) expose try_pop_bulk(span),
// returning how many of the oldest elements it moved into the span, in
// order. Callers use qmesh::try_pop_bulk(q, span): one try_pop at a time for
// other queues, so a baseline is never measured without its batching. Only
// for elements whose move assignment cannot throw: a throw after some
// elements had left the queue would lose their count, and with it them.
template <class Q>
concept bulk_poppable = requires(Q& q, std::span<typename Q::value_type> out) {
    { q.try_pop_bulk(out) } -> std::same_as<std::size_t>;
};

template <queue Q>
    requires std::is_nothrow_move_assignable_v<typename Q::value_type>
inline std::size_t try_pop_bulk(Q& q, std::span<typename Q::value_type> out) noexcept(
    noexcept(q.try_pop(out[0]))) {
    if constexpr (bulk_poppable<Q>) {
        return q.try_pop_bulk(out);
    } else {
        std::size_t n = 0;
        while (n < out.size() && q.try_pop(out[n])) ++n;
        return n;
    }
}

// A registry handle: traits plus a template that instantiates the queue.
template <class K>
concept queue_kind = requires {
    { K::traits } -> std::convertible_to<queue_traits>;
    typename K::template type<std::uint64_t>;
} && queue<typename K::template type<std::uint64_t>>;

// Whether a kind can serve as the single-producer single-consumer link of the
// mesh: every queue can, since one producer and one consumer is the weakest
// use. Kept as a named predicate so the mesh's requirement is written once.
template <queue_kind K>
inline constexpr bool spsc_capable = true;

}  // namespace qmesh
