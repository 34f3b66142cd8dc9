// qmesh/runtime/future.hpp: futures, promises and continuations for one core.
//
// A promise<T> and its future<T> share one state that lives on one core: no
// atomics, no locks. Cross-core work never shares a state; it moves a request
// through the mesh and fulfils a promise on the core that made it (smp.hpp).
//
// State machine of a shared state:
//
//   pending --set_value--------> value     (promise fulfilled)
//   pending --set_exception----> failed    (promise failed, or destroyed
//                                            unfulfilled: broken_promise)
//
// A continuation attached to a pending state is stored as one task and
// scheduled on this core's task queue when the state leaves `pending`. A
// continuation attached to a ready future runs inline, before then() returns.
// A continuation that returns a future is kept (with its captures) until that
// future has resolved, so a coroutine lambda may use its captures after it
// suspends (detail::chained, which is also the returned future's state).
// A coroutine (returning future<T>) that awaits a pending future stores no
// new task: its frame carries one (detail::coroutine_task), reused by every
// co_await in it, so awaiting allocates nothing.
// A state that ends `failed` without anyone having looked at the exception
// (get(), then_wrapped, handle_exception, a co_await, or a continuation that
// propagated it) is counted in unhandled_failures() and reported when it is
// destroyed (see below), unless it was dropped with ignore_ready_future().
//
// A state is usually a block of its own (from the core's pool); the request
// of a submit_to carries its future's state instead (smp.hpp), so that a
// submission allocates one block, not two. `destroy` says how the last
// reference frees a state.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qmesh/runtime/pool.hpp"
#include "qmesh/runtime/task.hpp"

namespace qmesh::rt {

template <class T = void>
class future;
template <class T = void>
class promise;

// Thrown into a future whose promise was destroyed without a value.
class broken_promise : public std::logic_error {
public:
    broken_promise() : std::logic_error("qmesh: broken promise (destroyed without a value)") {}
};

// A failed future destroyed without its exception ever being looked at (nor
// dropped on purpose with ignore_ready_future) is a bug in the program.
// Each one is counted, process-wide and per thread, and handed to the
// unhandled-failure handler on the thread that dropped it. The default
// handler prints the first 16 of the process on stderr, each with its
// exception's what(), then one line saying the rest are only counted. smp
// records each reactor's count for its run (core_counters).
std::uint64_t unhandled_failures() noexcept;
// This thread's count: what a reactor reads before and after its loop.
std::uint64_t local_unhandled_failures() noexcept;
// Called once per unobserved failed future, on the thread that destroyed it,
// from inside a destructor: it must not throw. Any thread may call it.
using unhandled_failure_handler = void (*)(const std::exception_ptr&) noexcept;
// Installs h (null: the default, which prints) and returns the handler it
// replaces.
unhandled_failure_handler set_unhandled_failure_handler(unhandled_failure_handler h) noexcept;
namespace detail {
void count_unhandled_failure(const std::exception_ptr& ex) noexcept;
}

template <class T>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};

// futurize_t<R>: the future a continuation returning R turns into.
template <class R>
struct futurize {
    using type = future<R>;
};
template <class T>
struct futurize<future<T>> {
    using type = future<T>;
};
template <class R>
using futurize_t = typename futurize<R>::type;

namespace detail {

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct state : pooled {
    enum class status : std::uint8_t { pending, value, failed };

    status st = status::pending;
    bool observed = false;  // someone took the exception
    // Broken by a promise that died in a discard (task_queue::discard_all).
    // If the state dies within that discard too, nothing could have looked
    // (the continuations down its chain are disposed of with it), and it is
    // not counted; if it outlives the discard (a holder kept it), it is.
    bool broken_in_discard = false;
    std::uint32_t refs = 1;
    std::optional<stored_t<T>> value;
    std::exception_ptr ex;
    // Owns one reference to this state, except a coroutine's own task, which
    // needs none: the awaited future, alive in the suspended frame, holds one.
    task* continuation = nullptr;
    // How the last reference frees the state: null means `delete` (a block
    // of its own); else this is called (the state is part of a larger object).
    void (*destroy)(state*) noexcept = nullptr;

    ~state() {
        if (st == status::failed && !observed && !(broken_in_discard && discarding_tasks()))
            count_unhandled_failure(ex);
    }
    // The continuation waiting on this state, taken out (null if none).
    task* take_continuation() noexcept {
        task* t = continuation;
        continuation = nullptr;
        return t;
    }
    void fire() noexcept {
        if (task* t = take_continuation()) schedule(t);
    }
    void set_value(stored_t<T>&& v) noexcept(std::is_nothrow_move_constructible_v<stored_t<T>>) {
        value.emplace(std::move(v));
        st = status::value;
        fire();
    }
    void set_exception(std::exception_ptr e) noexcept {
        ex = std::move(e);
        st = status::failed;
        fire();
    }
    // The outcome was stored in place (`value`, or `ex` if it failed):
    // makes it the state's and returns the continuation, now due and not
    // scheduled (null if none), for the caller to run or schedule (smp's
    // reply path: smp_config::inline_replies).
    [[nodiscard]] task* publish() noexcept { return publish(ex ? status::failed : status::value); }
    // The same, for a caller that knows which it stored (smp's complete()).
    [[nodiscard]] task* publish(status outcome) noexcept {
        st = outcome;
        return take_continuation();
    }
    std::exception_ptr take_exception() noexcept {
        observed = true;
        return ex;
    }
    // What its producer leaves when it goes without an outcome while
    // someone still holds this state (a promise destroyed unfulfilled, a
    // chained task disposed of unrun), for the caller to store. Broken
    // because a task holding the producer is being disposed of unrun (its
    // thread is ending, or its reactor aborted), each state down a chain
    // that never failed would be counted: not if it dies within this
    // discard (broken_in_discard).
    std::exception_ptr broken() noexcept {
        if (discarding_tasks()) broken_in_discard = true;
        return std::make_exception_ptr(broken_promise{});
    }
};

template <class T>
void release(state<T>* s) noexcept {
    if (s != nullptr && --s->refs == 0) {
        if (s->destroy == nullptr) delete s;
        else s->destroy(s);
    }
}

// The task that resumes a coroutine returning future<T>, embedded in the
// coroutine's frame (its promise object derives from it). One coroutine waits
// on one future at a time, so one task per frame serves all its co_awaits.
// The queue does not own it: a frame is freed by running to its end, never
// while suspended, and a task left unrun when its thread ends leaves the
// frame as it is (as an unresumed coroutine always did).
class coroutine_task : public task {
public:
    void run_and_dispose() noexcept override { handle.resume(); }
    void discard() noexcept override {}

    std::coroutine_handle<> handle;
};

template <class T>
future<T> make_future(state<T>* s) noexcept;

// The continuation task: runs f(state&) once, then drops its reference.
template <class T, class F>
class continuation final : public task {
public:
    continuation(state<T>* s, F&& f) : s_(s), f_(std::move(f)) {}
    // A continuation destroyed without running (its core shut down first)
    // still gives back its reference.
    ~continuation() override { release(s_); }
    void run_and_dispose() noexcept override {
        f_(*s_);
        delete this;
    }

private:
    state<T>* s_;
    F f_;
};

// then() and then_wrapped() with a continuation that returns a future: one
// task that is also the state of the future they return (defined below).
template <class T, class U, class G, bool Wrapped>
class chained;

// The runtime's own embedded waiters (a request waiting on its function's
// future, smp.hpp): t runs once the pending future f is available. f keeps
// its reference (t takes none, as a coroutine's own task takes none), and t
// is not owned by the task queue (its discard() must not delete it).
template <class T>
void wait_on(future<T>& f, task& t) noexcept;

}  // namespace detail

template <class T>
future<T> make_ready_future(detail::stored_t<T> v);
template <class T = void>
future<T> make_ready_future();
template <class T = void>
future<T> make_exception_future(std::exception_ptr ex) noexcept;
template <class T = void, class E>
future<T> make_exception_future(E&& e) {
    return make_exception_future<T>(std::make_exception_ptr(std::forward<E>(e)));
}

// What a continuation f returns when given a T (nothing, if T is void).
template <class T, class F>
struct call_result {
    using type = std::invoke_result_t<F&, T&&>;
};
template <class F>
struct call_result<void, F> {
    using type = std::invoke_result_t<F&>;
};
template <class T, class F>
using call_result_t = typename call_result<T, F>::type;

namespace detail {
// Why an operation on a future with no state (moved from) fails.
inline std::exception_ptr no_state_error(const char* where) {
    return std::make_exception_ptr(
        std::logic_error(std::string("qmesh: a future with no state (moved from) ") + where));
}
}  // namespace detail

// Calls f (with the value, unless T is void) and turns what it returns, or
// throws, into a future.
template <class T, class F>
auto futurize_apply(F& f, detail::stored_t<T>&& v) noexcept {
    using R = call_result_t<T, F>;
    using Fut = futurize_t<R>;
    auto call = [&]() -> decltype(auto) {
        if constexpr (std::is_void_v<T>) {
            (void)v;
            return std::invoke(f);
        } else {
            return std::invoke(f, std::move(v));
        }
    };
    try {
        if constexpr (is_future<R>::value) {
            // A future with no state (moved from) would leave the chain
            // with nothing to wait on: it fails instead, as get() would.
            R r = call();
            if (!r.valid())
                return make_exception_future<typename Fut::value_type>(
                    detail::no_state_error("returned by a continuation"));
            return r;
        } else if constexpr (std::is_void_v<R>) {
            call();
            return make_ready_future<>();
        } else {
            return make_ready_future<R>(call());
        }
    } catch (...) {
        return make_exception_future<typename Fut::value_type>(std::current_exception());
    }
}

// Calls f() and turns its result or exception into a future.
template <class F>
auto futurize_invoke(F&& f) noexcept {
    return futurize_apply<void>(f, std::monostate{});
}

template <class T>
class promise {
public:
    using value_type = T;

    promise() : s_(new detail::state<T>) {}
    promise(promise&& o) noexcept : s_(std::exchange(o.s_, nullptr)), got_future_(o.got_future_) {}
    promise& operator=(promise&& o) noexcept {
        if (this != &o) {
            abandon();
            s_ = std::exchange(o.s_, nullptr);
            got_future_ = o.got_future_;
        }
        return *this;
    }
    promise(const promise&) = delete;
    promise& operator=(const promise&) = delete;
    ~promise() { abandon(); }

    // At most once per promise.
    future<T> get_future();

    // The first outcome counts; later ones are ignored. Set before
    // get_future(), the outcome waits in the state for the future.
    template <class... A>
    void set_value(A&&... a) {
        if (!settable()) return;
        s_->set_value(detail::stored_t<T>(std::forward<A>(a)...));
        if (got_future_) detail::release(std::exchange(s_, nullptr));
    }
    void set_exception(std::exception_ptr ex) noexcept {
        if (!settable()) return;
        s_->set_exception(std::move(ex));
        if (got_future_) detail::release(std::exchange(s_, nullptr));
    }
    template <class E>
    void set_exception(E&& e) {
        set_exception(std::make_exception_ptr(std::forward<E>(e)));
    }

private:
    // Once the future exists, setting drops the promise's reference (s_ is
    // null after); before, the state is kept and its status tells.
    bool settable() const noexcept { return s_ != nullptr && s_->st == detail::state<T>::status::pending; }
    void abandon() noexcept {
        // A promise destroyed while its future may still wait breaks it.
        // (Only if someone still holds the state: a future nobody kept
        // cannot observe it, and is not an unhandled failure.)
        if (s_ != nullptr) {
            if (got_future_ && s_->refs > 1) s_->set_exception(s_->broken());
            detail::release(std::exchange(s_, nullptr));
        }
    }

    detail::state<T>* s_;
    bool got_future_ = false;
};

template <class T>
class [[nodiscard]] future {
public:
    using value_type = T;
    using promise_type_ = promise<T>;

    future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    future& operator=(future&& o) noexcept {
        if (this != &o) {
            detail::release(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    future(const future&) = delete;
    future& operator=(const future&) = delete;
    ~future() { detail::release(s_); }

    bool valid() const noexcept { return s_ != nullptr; }
    bool available() const noexcept { return s_ != nullptr && s_->st != detail::state<T>::status::pending; }
    bool failed() const noexcept { return s_ != nullptr && s_->st == detail::state<T>::status::failed; }

    // The value of an available future, or its exception rethrown. Throws
    // std::logic_error if the future is not available yet: a reactor never
    // blocks; wait with then() or co_await instead.
    T get() {
        if (!available()) throw std::logic_error("qmesh: future::get() on a future that is not available");
        auto* s = std::exchange(s_, nullptr);
        // Gives the reference back however we leave (a stateless guard, so
        // the release inlines: this is on every co_await's path).
        struct hold {
            detail::state<T>* p;
            ~hold() { detail::release(p); }
        } h{s};
        if (s->st == detail::state<T>::status::failed) std::rethrow_exception(s->take_exception());
        if constexpr (!std::is_void_v<T>) return std::move(*s->value);
    }

    // Takes the exception of a failed, available future (marks it observed).
    std::exception_ptr get_exception() noexcept {
        auto* s = std::exchange(s_, nullptr);
        auto ex = s->take_exception();
        detail::release(s);
        return ex;
    }

    // Drops an available future's outcome, value or exception, on purpose:
    // a failure dropped this way is not an unhandled one. Throws
    // std::logic_error on a pending future (nothing to ignore yet; its
    // outcome would still arrive and be reported).
    void ignore_ready_future() {
        if (!available())
            throw std::logic_error("qmesh: ignore_ready_future() on a future that is not available");
        if (failed()) (void)get_exception();
        else detail::release(std::exchange(s_, nullptr));
    }

    // then(f): f receives the value; the returned future holds f's result
    // (flattened if f returns a future). An exception skips f and travels on.
    template <class F>
    auto then(F&& f) {
        using R = call_result_t<T, std::remove_reference_t<F>>;
        using Fut = futurize_t<R>;
        using U = typename Fut::value_type;
        if (!valid()) std::rethrow_exception(detail::no_state_error("given to then()"));
        if (available() && failed()) return make_exception_future<U>(get_exception());
        if constexpr (is_future<R>::value) {
            // f returns a future: it lives in the task until that future
            // resolves (detail::chained), so a coroutine lambda's captures
            // outlive its suspensions.
            return chain<U, /*wrapped=*/false>([f = std::forward<F>(f)](detail::state<T>& s) mutable -> Fut {
                return futurize_apply<T>(f, std::move(*s.value));
            });
        } else {
            if (available()) {
                // f takes the value straight from the state, which this holds
                // until f returns: a move of T that throws happens inside
                // futurize_apply, and fails the future it returns.
                holder h{std::exchange(s_, nullptr)};
                return futurize_apply<T>(f, std::move(*h.p->value));
            }
            promise<U> p;
            Fut r = p.get_future();
            // The try covers building the continuation too (a move of f that
            // throws), not only attach: so it stays here, around both.
            try {
                attach([p = std::move(p), f = std::forward<F>(f)](detail::state<T>& s) mutable {
                    if (s.st == detail::state<T>::status::failed) {
                        p.set_exception(s.take_exception());
                    } else {
                        futurize_apply<T>(f, std::move(*s.value)).forward_to(std::move(p));
                    }
                });
            } catch (...) {
                forget_broken(r);
                throw;
            }
            return r;
        }
    }

    // then_wrapped(f): f receives this future, available, value or exception.
    template <class F>
    auto then_wrapped(F&& f) {
        using R = std::invoke_result_t<F&, future<T>&&>;
        using Fut = futurize_t<R>;
        using U = typename Fut::value_type;
        if (!valid()) std::rethrow_exception(detail::no_state_error("given to then_wrapped()"));
        if constexpr (is_future<R>::value) {
            // As in then(): f lives until the future it returns resolves.
            return chain<U, /*wrapped=*/true>([f = std::forward<F>(f)](detail::state<T>& s) mutable -> Fut {
                ++s.refs;
                future<T> self(&s);
                return futurize_invoke([&]() -> R { return std::invoke(f, std::move(self)); });
            });
        } else {
            if (available()) {
                return futurize_invoke([&]() -> R { return std::invoke(f, std::move(*this)); });
            }
            promise<U> p;
            Fut r = p.get_future();
            try {  // around building the continuation too: see then()
                attach([p = std::move(p), f = std::forward<F>(f)](detail::state<T>& s) mutable {
                    ++s.refs;
                    future<T> self(&s);
                    futurize_invoke([&]() -> R { return std::invoke(f, std::move(self)); }).forward_to(std::move(p));
                });
            } catch (...) {
                forget_broken(r);
                throw;
            }
            return r;
        }
    }

    // handle_exception(f): on failure, f(exception_ptr) supplies the value.
    template <class F>
    future<T> handle_exception(F&& f) {
        return then_wrapped([f = std::forward<F>(f)](future<T> fut) mutable -> future<T> {
            if (!fut.failed()) return fut;
            return futurize_invoke([&] { return std::invoke(f, fut.get_exception()); });
        });
    }

    // finally(f): f runs whatever the outcome; the outcome travels on, unless
    // f throws or returns a failed future, whose failure then replaces it.
    template <class F>
    future<T> finally(F&& f) {
        return then_wrapped([f = std::forward<F>(f)](future<T> fut) mutable -> future<T> {
            auto g = futurize_invoke(f);
            return std::move(g).then_wrapped([fut = std::move(fut)](future<typename decltype(g)::value_type> gf) mutable {
                if (gf.failed()) {
                    if (fut.failed()) (void)fut.get_exception();  // superseded
                    return make_exception_future<T>(gf.get_exception());
                }
                return std::move(fut);
            });
        });
    }

    future<> discard_result() {
        return then([](auto&&...) {});
    }

    // Moves this future's eventual outcome into p (with no state: p fails).
    void forward_to(promise<T>&& p) noexcept {
        if (!valid()) {
            p.set_exception(detail::no_state_error("given to forward_to()"));
            return;
        }
        if (available()) {
            holder h{std::exchange(s_, nullptr)};
            pass_on(*h.p, p);
            return;
        }
        struct pass {
            promise<T> p;
            void operator()(detail::state<T>& s) noexcept { pass_on(s, p); }
        };
        // The task's block is allocated before p moves into it, so if that
        // fails p is still ours: it fails with bad_alloc (this future's
        // outcome is then nobody's). Nothing else here can throw.
        try {
            s_->continuation = new detail::continuation<T, pass>(s_, pass{std::move(p)});
            s_ = nullptr;
        } catch (...) {
            p.set_exception(std::current_exception());
        }
    }

    // Coroutine support: `co_await fut` inside a coroutine returning future<U>.
    // A future with no state (moved from) is "ready": await_resume's get()
    // then throws logic_error, as get() does, instead of suspending on nothing.
    bool await_ready() const noexcept { return !valid() || available(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
        resume_when_available(h);
    }
    T await_resume() { return get(); }

    // Resumes h once this (pending) future is available; keeps the outcome.
    // A coroutine returning future<U> is resumed by the task in its frame;
    // any other by a continuation task made here.
    template <class P>
    void resume_when_available(std::coroutine_handle<P> h) {
        if constexpr (std::is_base_of_v<detail::coroutine_task, P>) {
            s_->continuation = &static_cast<detail::coroutine_task&>(h.promise());
        } else {
            attach([h](detail::state<T>&) mutable { h.resume(); }, /*keep_ref=*/true);
        }
    }

private:
    template <class>
    friend class promise;
    template <class>
    friend class future;
    template <class U>
    friend future<U> make_ready_future(detail::stored_t<U>);
    template <class U>
    friend future<U> make_exception_future(std::exception_ptr) noexcept;
    template <class U>
    friend future<U> detail::make_future(detail::state<U>*) noexcept;
    template <class, class, class, bool>
    friend class detail::chained;
    template <class U>
    friend void detail::wait_on(future<U>&, task&) noexcept;

    explicit future(detail::state<T>* s) noexcept : s_(s) {}

    // then() and then_wrapped() for a continuation that returns a future
    // (g turns this future's outcome into that future; unless wrapped, a
    // failure skips g): one task, made before this future lets go of its
    // state, so a task that cannot be made (allocation, or a move of g,
    // throws) leaves this future as it was.
    template <class U, bool Wrapped, class G>
    future<U> chain(G&& g) {
        auto* t = new detail::chained<T, U, std::decay_t<G>, Wrapped>(std::forward<G>(g));
        const bool ready = available();
        return t->start(std::exchange(s_, nullptr), ready);
    }

    // Gives a state's reference back however the scope is left.
    struct holder {
        detail::state<T>* p;
        ~holder() { detail::release(p); }
    };

    // The outcome of an available state s into p. A move of T that throws
    // fails p with what it threw (p's state is still pending then).
    static void pass_on(detail::state<T>& s, promise<T>& p) noexcept {
        if (s.st == detail::state<T>::status::failed) {
            p.set_exception(s.take_exception());
        } else if constexpr (std::is_void_v<T>) {
            p.set_value();
        } else {
            try {
                p.set_value(std::move(*s.value));
            } catch (...) {
                p.set_exception(std::current_exception());
            }
        }
    }

    // r's promise died with a continuation that could not be attached: the
    // caller gets the exception, so r's broken_promise is nobody's failure.
    template <class Fut>
    static void forget_broken(Fut& r) noexcept {
        if (r.failed()) (void)r.get_exception();
    }

    // Stores f as the continuation of the pending state. The continuation
    // takes this future's reference unless keep_ref (co_await keeps the
    // future, which reads the outcome after resuming). If making the task
    // throws (allocation, or a move of f), this future keeps its reference.
    template <class F>
    void attach(F&& f, bool keep_ref = false) {
        auto* s = s_;
        s->continuation = new detail::continuation<T, std::decay_t<F>>(s, std::forward<F>(f));
        if (keep_ref) ++s->refs;
        else s_ = nullptr;
    }

    detail::state<T>* s_ = nullptr;
};

template <class T>
future<T> promise<T>::get_future() {
    if (got_future_ || s_ == nullptr) throw std::logic_error("qmesh: promise::get_future() called twice");
    got_future_ = true;
    ++s_->refs;
    future<T> f(s_);
    // Already set: the outcome is the future's now, and the promise is done.
    if (s_->st != detail::state<T>::status::pending) detail::release(std::exchange(s_, nullptr));
    return f;
}

// A future on a state made elsewhere (the caller gives it one reference).
template <class T>
future<T> detail::make_future(state<T>* s) noexcept {
    return future<T>(s);
}

template <class T>
future<T> make_ready_future(detail::stored_t<T> v) {
    // The future owns the state before the value moves in, so a move of T
    // that throws frees it.
    future<T> f(new detail::state<T>);
    f.s_->value.emplace(std::move(v));
    f.s_->st = detail::state<T>::status::value;
    return f;
}
template <class T>
future<T> make_ready_future() {
    static_assert(std::is_void_v<T> || std::is_default_constructible_v<T>);
    return make_ready_future<T>(detail::stored_t<T>{});
}
template <class T>
future<T> make_exception_future(std::exception_ptr ex) noexcept {
    auto* s = new detail::state<T>;
    s->ex = std::move(ex);
    s->st = detail::state<T>::status::failed;
    return future<T>(s);
}

namespace detail {

template <class T>
void wait_on(future<T>& f, task& t) noexcept {
    f.s_->continuation = &t;
}

// The task of a continuation g that returns a future (then(), then_wrapped()).
// It is also the state of the future those return (st_), so it costs one
// block where a continuation, its promise's state and a second task to
// forward the result (when g's future was pending) cost three. And it keeps
// g until g's future has resolved: g is the user's function, and a
// coroutine lambda reaches its captures through it after every suspension
// (the continuation before it was destroyed as soon as it returned, so such
// a lambda read freed captures, as a Seastar continuation would).
//
// Lifetime: g is destroyed as soon as the outcome is in st_ (finish(), or
// discard()), not later: a future kept by something g captured would
// otherwise keep g, a cycle (and captured resources, a semaphore's units
// say, would be held for as long as someone keeps the future). st_ counts
// its references, one of them this task's own until the outcome is in; the
// last one deletes the task.
//
// Roles, one at a time: the continuation of the source state (src_, whose
// reference it holds), then, if g's future is pending, the continuation of
// that future's state (inner_, likewise). Run in the first role it calls g
// (unless Wrapped is false and the source failed: then its exception is the
// outcome, as then() skips its function); in the second it delivers.
template <class T, class U, class G, bool Wrapped>
class chained final : public task {
public:
    explicit chained(G&& g) : g_(std::in_place, std::move(g)) {
        st_.owner = this;
        st_.destroy = [](state<U>* s) noexcept { delete static_cast<own_state*>(s)->owner; };
    }
    ~chained() override {
        release(src_);
        release(inner_);
    }
    chained(const chained&) = delete;
    chained& operator=(const chained&) = delete;

    // Takes the source state's reference. Ready: g runs now, before this
    // returns (a ready future's continuation runs inline); else this task
    // waits as its continuation.
    future<U> start(state<T>* src, bool ready) noexcept {
        ++st_.refs;
        future<U> out = make_future<U>(&st_);
        src_ = src;
        if (ready) step();
        else src_->continuation = this;
        return out;
    }

    void run_and_dispose() noexcept override {
        if (src_ != nullptr) step();
        else deliver();
    }

    // Disposed of unrun (its thread ended, or its reactor aborted): g goes
    // (breaking what it held, as the old continuation's destruction did),
    // and the returned future breaks if someone still holds it, as a
    // continuation's promise would.
    void discard() noexcept override {
        g_.reset();
        release(std::exchange(src_, nullptr));
        release(std::exchange(inner_, nullptr));
        if (st_.refs > 1) {
            st_.ex = st_.broken();
            finish();
        } else {
            release(static_cast<state<U>*>(&st_));
        }
    }

private:
    struct own_state : state<U> {
        chained* owner = nullptr;
    };

    // The source is available: g makes the next future.
    void step() noexcept {
        state<T>* src = std::exchange(src_, nullptr);
        if constexpr (!Wrapped) {
            if (src->st == state<T>::status::failed) {
                st_.ex = src->take_exception();
                release(src);
                finish();
                return;
            }
        }
        future<U> r = (*g_)(*src);  // g futurizes: it does not throw
        release(src);
        inner_ = std::exchange(r.s_, nullptr);
        if (inner_->st == state<U>::status::pending) {
            inner_->continuation = this;  // g's fresh future has none yet
            return;
        }
        deliver();
    }

    // g's future is available: its outcome moves into st_ (a move of U that
    // throws fails it with what it threw).
    void deliver() noexcept {
        state<U>& in = *inner_;
        if (in.st == state<U>::status::failed) {
            st_.ex = in.take_exception();
        } else {
            try {
                st_.value.emplace(std::move(*in.value));
            } catch (...) {
                st_.ex = std::current_exception();
            }
        }
        release(std::exchange(inner_, nullptr));
        finish();
    }

    // The outcome is in st_: g goes, the outcome is published and its
    // waiter scheduled, and this task lets go of its own reference (which
    // may delete it: the last step).
    void finish() noexcept {
        g_.reset();
        if (task* t = st_.publish()) schedule(t);
        release(static_cast<state<U>*>(&st_));
    }

    state<T>* src_ = nullptr;
    state<U>* inner_ = nullptr;
    std::optional<G> g_;
    own_state st_;
};

}  // namespace detail

// co_await wait_available(f): suspends until f is available, leaving its
// value or exception in f (a plain `co_await f` takes it out).
template <class T>
struct available_awaiter {
    future<T>& f;
    bool await_ready() const noexcept { return f.await_ready(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
        f.resume_when_available(h);
    }
    void await_resume() const noexcept {}
};
template <class T>
available_awaiter<T> wait_available(future<T>& f) noexcept {
    return {f};
}

}  // namespace qmesh::rt

// Coroutines returning future<T>: the coroutine's frame owns a promise<T>,
// and is the task that resumes it (detail::coroutine_task). Deriving from
// task makes the frame itself come from the core's pool (pool.hpp: the
// promise type's operator new allocates the frame).
template <class T, class... Args>
struct std::coroutine_traits<qmesh::rt::future<T>, Args...> {
    struct promise_type : qmesh::rt::detail::coroutine_task {
        qmesh::rt::promise<T> p;

        qmesh::rt::future<T> get_return_object() {
            handle = std::coroutine_handle<promise_type>::from_promise(*this);
            return p.get_future();
        }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void unhandled_exception() noexcept { p.set_exception(std::current_exception()); }

        template <class U = T>
            requires(!std::is_void_v<U>)
        void return_value(U&& v) {
            p.set_value(std::forward<U>(v));
        }
    };
};
template <class... Args>
struct std::coroutine_traits<qmesh::rt::future<void>, Args...> {
    struct promise_type : qmesh::rt::detail::coroutine_task {
        qmesh::rt::promise<void> p;

        qmesh::rt::future<void> get_return_object() {
            handle = std::coroutine_handle<promise_type>::from_promise(*this);
            return p.get_future();
        }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void unhandled_exception() noexcept { p.set_exception(std::current_exception()); }
        void return_void() noexcept { p.set_value(); }
    };
};
