// qmesh/runtime/combinators.hpp: waiting for several futures, loops, and
// keeping an object alive across a chain. All are coroutines over
// future<T>, so a loop whose body is ready at once does not grow the stack.
#pragma once

#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "qmesh/runtime/future.hpp"
#include "qmesh/runtime/task.hpp"

namespace qmesh::rt {

// when_all(f1, f2, ...): resolves when every future is available, with the
// futures themselves (each holds a value or an exception). Never fails.
template <class... T>
future<std::tuple<future<T>...>> when_all(future<T>... fs) {
    // Waiting on each in turn is enough: they all progress meanwhile.
    (co_await wait_available(fs), ...);
    co_return std::tuple<future<T>...>(std::move(fs)...);
}

template <class T>
future<std::vector<future<T>>> when_all(std::vector<future<T>> fs) {
    for (auto& f : fs) co_await wait_available(f);
    co_return std::move(fs);
}

namespace detail {
// What one future adds to when_all_succeed's tuple: its value, or nothing
// for a future<> (a void result has no place in a tuple).
template <class T>
using value_part_t = std::conditional_t<std::is_void_v<T>, std::tuple<>, std::tuple<T>>;
template <class T>
value_part_t<T> value_part(future<T>& f) {
    if constexpr (std::is_void_v<T>) {
        f.get();
        return {};
    } else {
        return value_part_t<T>(f.get());
    }
}
}  // namespace detail

// when_all_succeed(f1, f2, ...): the values, once all are available, in a
// tuple that leaves out the future<>s (as Seastar's does: when_all_succeed
// of a future<> and a future<int> is a future<std::tuple<int>>); fails with
// the first (in argument order) exception if any failed, after all are
// available, so no failure goes unobserved.
template <class... T>
future<decltype(std::tuple_cat(std::declval<detail::value_part_t<T>>()...))> when_all_succeed(future<T>... fs) {
    (co_await wait_available(fs), ...);
    std::exception_ptr first;
    auto take_failure = [&first](auto& f) {
        if (!f.failed()) return;
        auto e = f.get_exception();  // observed, even when not the first
        if (!first) first = e;
    };
    (take_failure(fs), ...);
    if (first) std::rethrow_exception(first);
    co_return std::tuple_cat(detail::value_part(fs)...);
}

template <class T>
auto when_all_succeed(std::vector<future<T>> fs)
    -> future<std::conditional_t<std::is_void_v<T>, void, std::vector<detail::stored_t<T>>>> {
    for (auto& f : fs) co_await wait_available(f);
    std::exception_ptr first;
    for (auto& f : fs)
        if (f.failed()) {
            auto e = f.get_exception();
            if (!first) first = e;
        }
    if (first) std::rethrow_exception(first);
    if constexpr (std::is_void_v<T>) {
        co_return;
    } else {
        std::vector<T> values;
        values.reserve(fs.size());
        for (auto& f : fs) values.push_back(f.get());
        co_return values;
    }
}

// later(): a future fulfilled by a task scheduled now, so whatever is queued
// before it runs first and, on a reactor, the task quota lets the reactor
// poll its queues before it resolves. (Seastar's later(), now yield().)
inline future<> later() {
    promise<> p;
    future<> f = p.get_future();
    schedule_fn([p = std::move(p)]() mutable { p.set_value(); });
    return f;
}

enum class stop_iteration : bool { no = false, yes = true };

// A loop whose body is ready at once never suspends (co_await on a ready
// future goes straight on), so it would run as one endless task: nothing
// else on its core, no poll, and a loop that waits for a reply never sees
// it. repeat and do_until give the core back (later()) after this many
// ready iterations in a row, as Seastar's repeat does when need_preempt().
inline constexpr unsigned loop_yield_every = 256;

namespace detail {
// Counts a loop's ready iterations in a row: says when to give the core back.
class loop_pacer {
public:
    bool should_yield(bool was_ready) noexcept {
        if (!was_ready) {
            ready_in_a_row_ = 0;  // it suspended: the core had its turn
            return false;
        }
        if (++ready_in_a_row_ < loop_yield_every) return false;
        ready_in_a_row_ = 0;
        return true;
    }

private:
    unsigned ready_in_a_row_ = 0;
};
}  // namespace detail

// repeat(f): calls f() (returning stop_iteration or a future of it) until it
// says yes.
template <class F>
future<> repeat(F f) {
    for (detail::loop_pacer pace;;) {
        auto fut = futurize_invoke(f);
        const bool was_ready = fut.available();
        if (co_await std::move(fut) == stop_iteration::yes) co_return;
        if (pace.should_yield(was_ready)) co_await later();
    }
}

// do_until(stop, f): while !stop(), waits for f().
template <class Stop, class F>
future<> do_until(Stop stop, F f) {
    for (detail::loop_pacer pace; !stop();) {
        auto fut = futurize_invoke(f);
        const bool was_ready = fut.available();
        co_await std::move(fut);
        if (pace.should_yield(was_ready)) co_await later();
    }
}

namespace detail {
// Range is a reference (the caller's range, iterated where it is) or a plain
// type (an rvalue the frame owns). f runs on every element before the first
// suspension; the frame keeps f and an owned range until all are done.
template <class Range, class F>
future<> parallel_for_each_over(Range range, F f) {
    std::vector<future<>> fs;
    for (auto&& x : range) fs.push_back(futurize_invoke([&] { return f(x); }).discard_result());
    co_await when_all_succeed(std::move(fs));
}
}  // namespace detail

// parallel_for_each(range, f): starts f(x) for every element at once, then
// waits for all; fails with the first exception after all have finished.
// An lvalue range is iterated in place, as Seastar's is: f(x) gets the
// caller's elements, so what it changes is changed there, and they must
// outlive the returned future if f's futures use them (do_with arranges
// that). An rvalue range is moved into the wait, and its elements live until
// the future resolves.
template <class Range, class F>
future<> parallel_for_each(Range&& range, F f) {
    return detail::parallel_for_each_over<Range>(std::forward<Range>(range), std::move(f));
}

// do_with(obj, f): moves obj and f somewhere stable, calls f(obj&), and keeps
// both alive until the future f returned is available. The function too: a
// coroutine lambda's frame reaches its captures through the closure, which
// must therefore outlive every suspension, not only the call. (Seastar's
// do_with keeps only the objects, and warns against capturing coroutine
// lambdas instead.)
template <class T, class F>
auto do_with(T&& obj, F f) {
    struct held_pair {
        std::decay_t<T> obj;
        F fn;
    };
    std::unique_ptr<held_pair> held(new held_pair{std::forward<T>(obj), std::move(f)});
    held_pair* h = held.get();
    return futurize_invoke([h] { return h->fn(h->obj); }).finally([held = std::move(held)] {});
}

}  // namespace qmesh::rt
