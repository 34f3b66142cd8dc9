// Runtime properties of futures, promises and continuations on one core.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "qmesh/runtime/combinators.hpp"
#include "qmesh/runtime/future.hpp"
#include "qmesh/runtime/smp.hpp"
#include "fail_alloc.hpp"
#include "test_support.hpp"

namespace qmesh::test {
namespace {

using rt::future;
using rt::make_exception_future;
using rt::make_ready_future;
using rt::promise;

TEST(future, ready_continuation_runs_inline_exactly_once) {
    int runs = 0;
    auto f = make_ready_future<int>(20).then([&](int v) {
        ++runs;
        return v + 1;
    });
    EXPECT_EQ(runs, 1);  // before any task ran
    ASSERT_TRUE(f.available());
    EXPECT_EQ(f.get(), 21);
    rt::run_tasks();
    EXPECT_EQ(runs, 1);
}

// co_await on a future with no state (moved from) fails the coroutine with
// logic_error, as get() on it throws; before, it suspended on a null state
// and crashed. wait_available on one does not suspend either.
TEST(future, awaiting_a_moved_from_future_fails_instead_of_crashing) {
    future<int> f = make_ready_future<int>(1);
    future<int> g = std::move(f);
    auto c = [](future<int>& empty) -> future<int> { co_return co_await std::move(empty); }(f);
    rt::run_tasks();
    ASSERT_TRUE(c.available());
    EXPECT_THROW(c.get(), std::logic_error);
    auto w = [](future<int>& empty) -> future<> { co_await rt::wait_available(empty); }(f);
    rt::run_tasks();
    ASSERT_TRUE(w.available());
    w.get();
    EXPECT_EQ(g.get(), 1);
}

TEST(future, pending_continuation_runs_once_as_a_task) {
    int runs = 0;
    promise<int> p;
    auto f = p.get_future().then([&](int v) {
        ++runs;
        return std::to_string(v);
    });
    EXPECT_FALSE(f.available());
    p.set_value(7);
    EXPECT_EQ(runs, 0);  // scheduled, not run inline
    rt::run_tasks();
    EXPECT_EQ(runs, 1);
    ASSERT_TRUE(f.available());
    EXPECT_EQ(f.get(), "7");
    rt::run_tasks();
    EXPECT_EQ(runs, 1);
}

TEST(future, future_returning_continuations_are_flattened) {
    promise<int> inner;
    auto f = make_ready_future<int>(1).then([&](int) { return inner.get_future(); }).then([](int v) { return v * 2; });
    EXPECT_FALSE(f.available());
    inner.set_value(21);
    rt::run_tasks();
    EXPECT_EQ(f.get(), 42);
}

TEST(future, exceptions_skip_then_and_reach_handlers) {
    int skipped = 0;
    promise<> p;
    auto f = p.get_future()
                 .then([&] { ++skipped; })
                 .then([&] {
                     ++skipped;
                     return 5;
                 })
                 .handle_exception([](std::exception_ptr e) {
                     try {
                         std::rethrow_exception(e);
                     } catch (const std::runtime_error& r) {
                         return std::string(r.what()) == "boom" ? 99 : -1;
                     }
                 });
    p.set_exception(std::runtime_error("boom"));
    rt::run_tasks();
    EXPECT_EQ(skipped, 0);
    EXPECT_EQ(f.get(), 99);
}

TEST(future, thrown_exception_becomes_failed_future) {
    auto f = make_ready_future<>().then([]() -> int { throw std::logic_error("x"); });
    ASSERT_TRUE(f.failed());
    EXPECT_THROW(f.get(), std::logic_error);
}

TEST(future, broken_promise_is_reported) {
    future<int> f = [] {
        promise<int> p;
        return p.get_future();
    }();
    ASSERT_TRUE(f.available());
    EXPECT_THROW(f.get(), rt::broken_promise);
}

// Seastar's `promise<T> p; p.set_value(v); return p.get_future();`: a promise
// fulfilled before its future is asked for keeps the outcome for it. A failure
// set early is unhandled only if nobody ever asks; a second outcome is
// ignored, as it is once the future exists.
TEST(future, a_promise_set_before_its_future_is_asked_for_keeps_the_outcome) {
    promise<int> p;
    p.set_value(5);
    future<int> f = p.get_future();
    ASSERT_TRUE(f.available());
    EXPECT_EQ(f.get(), 5);

    const auto before = rt::unhandled_failures();
    promise<int> q;
    q.set_exception(std::runtime_error("early"));
    EXPECT_EQ(rt::unhandled_failures(), before);
    future<int> g = q.get_future();
    ASSERT_TRUE(g.failed());
    EXPECT_THROW(g.get(), std::runtime_error);
    EXPECT_EQ(rt::unhandled_failures(), before);
    {
        promise<int> r;
        r.set_exception(std::runtime_error("nobody asked"));
    }
    EXPECT_EQ(rt::unhandled_failures(), before + 1);

    promise<int> s;
    s.set_value(1);
    s.set_value(2);
    s.set_exception(std::runtime_error("too late"));
    EXPECT_EQ(s.get_future().get(), 1);
    EXPECT_THROW((void)s.get_future(), std::logic_error);
}

TEST(future, unobserved_failure_is_counted) {
    const auto before = rt::unhandled_failures();
    { auto f = make_exception_future<int>(std::runtime_error("ignored")); }
    EXPECT_EQ(rt::unhandled_failures(), before + 1);
    {
        auto f = make_exception_future<int>(std::runtime_error("looked at"));
        EXPECT_THROW(f.get(), std::runtime_error);
    }
    EXPECT_EQ(rt::unhandled_failures(), before + 1);
}

// What the capturing handler below was given (one thread: the test's).
std::vector<std::string>& handed() {
    static std::vector<std::string> v;
    return v;
}
void capture_failure(const std::exception_ptr& ex) noexcept {
    try {
        std::rethrow_exception(ex);
    } catch (const std::exception& e) {
        handed().emplace_back(e.what());
    } catch (...) {
        handed().emplace_back("?");
    }
}

// Each unobserved failure reaches the handler once, with its exception, on
// the thread that dropped it; failures someone looked at (or ignored on
// purpose) never do.
TEST(future, each_unobserved_failure_is_handed_to_the_handler_with_its_exception) {
    handed().clear();
    const auto previous = rt::set_unhandled_failure_handler(&capture_failure);
    const auto before = rt::unhandled_failures();
    const auto local_before = rt::local_unhandled_failures();
    { auto f = make_exception_future<int>(std::runtime_error("dropped")); }
    {
        auto f = make_exception_future<int>(std::runtime_error("looked at"));
        EXPECT_THROW(f.get(), std::runtime_error);
    }
    make_exception_future<>(std::runtime_error("ignored on purpose")).ignore_ready_future();
    {
        // A promise that dies unfulfilled breaks its future; dropping that
        // future unlooked-at is an unhandled failure too.
        future<int> g = [] {
            promise<int> p;
            return p.get_future();
        }();
    }
    // A pending future dropped is no failure: nobody can fail it any more.
    {
        promise<int> p;
        auto f = p.get_future();
        (void)f;
    }
    EXPECT_EQ(rt::set_unhandled_failure_handler(previous), &capture_failure);
    EXPECT_EQ(rt::unhandled_failures(), before + 2);
    EXPECT_EQ(rt::local_unhandled_failures(), local_before + 2);
    EXPECT_EQ(handed(), (std::vector<std::string>{"dropped", rt::broken_promise{}.what()}));
}

TEST(future, ignore_ready_future_drops_a_ready_outcome_and_refuses_a_pending_one) {
    const auto before = rt::unhandled_failures();
    make_ready_future<int>(1).ignore_ready_future();
    auto f = make_exception_future<int>(std::runtime_error("on purpose"));
    f.ignore_ready_future();
    EXPECT_FALSE(f.valid());
    promise<int> p;
    auto g = p.get_future();
    EXPECT_THROW(g.ignore_ready_future(), std::logic_error);
    EXPECT_TRUE(g.valid());
    p.set_exception(std::runtime_error("later"));
    EXPECT_THROW(g.get(), std::runtime_error);
    EXPECT_EQ(rt::unhandled_failures(), before);
}

// The default handler prints the first 16 of the process, each with its
// what(), then one line, then nothing. Run in a fresh process (threadsafe
// death-test style re-executes the binary): the limit is process-wide.
TEST(future, the_default_handler_prints_the_first_sixteen_then_one_line) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            ::testing::internal::CaptureStderr();
            for (int i = 0; i < 20; ++i)
                (void)make_exception_future<>(std::runtime_error("drop #" + std::to_string(i) + ";"));
            const std::string err = ::testing::internal::GetCapturedStderr();
            bool ok = rt::unhandled_failures() == 20;
            for (int i = 0; i < 20; ++i)
                ok = ok && (err.find("drop #" + std::to_string(i) + ";") != std::string::npos) == (i < 16);
            const auto more = err.find("more failed futures");
            ok = ok && more != std::string::npos && err.find("more failed futures", more + 1) == std::string::npos;
            // Each printed line names what happened.
            ok = ok && err.find("a failed future was dropped without anyone looking at its exception: drop #0;\n") !=
                           std::string::npos;
            std::fputs(err.c_str(), stdout);  // for the log, if it fails
            std::_Exit(ok ? 0 : 3);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST(future, finally_runs_on_both_paths) {
    int n = 0;
    auto a = make_ready_future<int>(3).finally([&] { ++n; });
    auto b = make_exception_future<int>(std::runtime_error("e")).finally([&] { ++n; });
    EXPECT_EQ(n, 2);
    EXPECT_EQ(a.get(), 3);
    EXPECT_THROW(b.get(), std::runtime_error);
}

TEST(future, then_wrapped_sees_the_outcome) {
    promise<int> p;
    auto f = p.get_future().then_wrapped([](future<int> r) { return r.failed() ? -1 : r.get(); });
    p.set_value(4);
    rt::run_tasks();
    EXPECT_EQ(f.get(), 4);
}

TEST(future, discard_result) {
    auto f = make_ready_future<int>(1).discard_result();
    ASSERT_TRUE(f.available());
    EXPECT_NO_THROW(f.get());
}

future<int> add_later(future<int> a, future<int> b) {
    const int x = co_await std::move(a);
    const int y = co_await std::move(b);
    co_return x + y;
}

future<> throws_after_await(future<> a) {
    co_await std::move(a);
    throw std::runtime_error("after");
}

TEST(future, coroutines_await_and_propagate) {
    promise<int> pa, pb;
    auto f = add_later(pa.get_future(), pb.get_future());
    EXPECT_FALSE(f.available());
    pa.set_value(2);
    rt::run_tasks();
    EXPECT_FALSE(f.available());
    pb.set_value(40);
    rt::run_tasks();
    EXPECT_EQ(f.get(), 42);

    promise<> pc;
    auto g = throws_after_await(pc.get_future());
    pc.set_value();
    rt::run_tasks();
    EXPECT_THROW(g.get(), std::runtime_error);
}

// A coroutine is resumed by the task in its own frame: every co_await on a
// pending future schedules that one task, once per fulfilment, and a broken
// promise resumes it too.
future<int> await_three(future<int> a, future<int> b, future<int> c) {
    int sum = co_await std::move(a);
    sum += co_await std::move(b);
    try {
        sum += co_await std::move(c);
    } catch (const rt::broken_promise&) {
        sum += 1000;
    }
    co_return sum;
}

TEST(future, a_coroutine_is_resumed_once_per_await_by_its_frames_task) {
    promise<int> pa, pb;
    auto pc = std::make_unique<promise<int>>();
    auto f = await_three(pa.get_future(), pb.get_future(), pc->get_future());
    EXPECT_EQ(rt::local_tasks().size(), 0u);
    pa.set_value(1);
    EXPECT_EQ(rt::local_tasks().size(), 1u);  // the resumption, scheduled, not run inline
    rt::run_tasks();
    EXPECT_FALSE(f.available());
    pb.set_value(2);
    EXPECT_EQ(rt::local_tasks().size(), 1u);
    rt::run_tasks();
    pc.reset();  // broken: resumes the coroutine with broken_promise
    EXPECT_EQ(rt::local_tasks().size(), 1u);
    EXPECT_EQ(rt::run_tasks(), 1u);
    ASSERT_TRUE(f.available());
    EXPECT_EQ(f.get(), 1003);
}

// A thread that ends with a coroutine's resumption still queued discards the
// task without freeing it: it is part of the coroutine's frame, not a block
// of its own. (Deleting it, as the queue deletes the tasks it owns, is a free
// of a pointer into the frame: ASan reports it, and the pool would corrupt
// its lists.) The frame itself stays, as any never-resumed coroutine does,
// so LeakSanitizer is told to expect it.
future<int> waits_for(future<int> a) {
    co_return co_await std::move(a);
}

TEST(future, a_queued_coroutine_is_discarded_not_freed_when_its_thread_ends) {
    bool scheduled = false;
    std::thread t([&] {
#if defined(__SANITIZE_ADDRESS__)
        __lsan_disable();  // the frame below is left for ever, by design
#endif
        promise<int> p;
        auto f = waits_for(p.get_future());
        p.set_value(5);
        scheduled = rt::local_tasks().size() == 1;
        (void)f;  // the thread ends here: its task queue still holds the resumption
#if defined(__SANITIZE_ADDRESS__)
        __lsan_enable();
#endif
    });
    t.join();
    EXPECT_TRUE(scheduled);
}

// Counts its own destruction (moved-from copies do not count): a capture
// that tells whether a task was disposed of.
struct counted {
    int* destroyed;
    explicit counted(int* d) : destroyed(d) {}
    counted(counted&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
    counted(const counted&) = delete;
    ~counted() {
        if (destroyed != nullptr) ++*destroyed;
    }
};

// A thread that ends with tasks queued disposes of them without running
// them: a continuation gives back its reference to its state, so the state
// is freed once its future lets go too. (The queue is trivially destructible;
// a thread-exit hook, set up by the first push, does this.)
TEST(future, a_thread_that_ends_disposes_of_its_queued_tasks) {
    int destroyed = 0;
    bool ran = false;
    std::size_t queued = 0;
    std::thread t([&] {
        rt::schedule_fn([c = counted(&destroyed), &ran] { ran = true; });
        promise<int> p;
        auto f = p.get_future().then([c = counted(&destroyed), &ran](int) { ran = true; });
        p.set_value(1);  // schedules the continuation
        queued = rt::local_tasks().size();
    });
    t.join();
    EXPECT_EQ(queued, 2u);
    EXPECT_FALSE(ran);
    EXPECT_EQ(destroyed, 2);  // both tasks were disposed of, and took their captures with them
}

// Disposing of the last queued task can schedule another: the continuation
// dies with the promise of the next future in the chain, which breaks, and
// that future's continuation is scheduled. It is disposed of too.
TEST(future, a_task_scheduled_while_the_queue_is_disposed_of_is_disposed_of_too) {
    int second_destroyed = 0;
    bool ran = false;
    std::size_t queued = 0;
    std::thread t([&] {
        promise<int> p;
        auto f = p.get_future().then([&ran](int v) { ran = true; return v; });
        // Pending on f: runs (and is disposed of) only after f resolves or breaks.
        (void)std::move(f).then_wrapped([c = counted(&second_destroyed), &ran](future<int> r) {
            ran = true;
            if (r.failed()) (void)r.get_exception();
        });
        p.set_value(1);  // schedules f's continuation, which holds f's promise
        queued = rt::local_tasks().size();
    });
    t.join();
    EXPECT_EQ(queued, 1u);
    EXPECT_FALSE(ran);
    EXPECT_EQ(second_destroyed, 1);
}

// A chain that never failed, left queued when its thread ends, is disposed
// of without a report: each promise the discard breaks takes down only
// continuations that are disposed of too, so nobody could ever look. Before,
// every state down the chain was counted (three here). A failed future that a
// discarded task held is still counted: that failure was there before.
TEST(future, a_chain_disposed_of_unrun_is_no_failure_but_a_held_failure_still_is) {
    const auto before = rt::unhandled_failures();
    std::thread t([] {
        promise<int> p;
        (void)p.get_future()
            .then([](int v) { return v + 1; })
            .then([](int v) { return v + 1; })
            .then([](int v) { return v + 1; })
            .then([](int) {});
        p.set_value(1);  // the first continuation is queued, and never runs
    });
    t.join();
    EXPECT_EQ(rt::unhandled_failures(), before);
    std::thread u([] {
        rt::schedule_fn([f = rt::make_exception_future<>(std::runtime_error("held"))] {});
        promise<> p;
        (void)p.get_future().then([] {}).then([] {});
        rt::schedule_fn([p = std::move(p)] {});  // breaks the chain when disposed of
    });
    u.join();
    EXPECT_EQ(rt::unhandled_failures(), before + 1);
    // A future the discard broke but that outlives it (its holder was not
    // disposed of: here the thread goes on) is counted when it is dropped.
    {
        promise<> p;
        auto f = p.get_future();
        rt::schedule_fn([p = std::move(p)] {});
        rt::local_tasks().discard_all();
        ASSERT_TRUE(f.failed());
    }
    EXPECT_EQ(rt::unhandled_failures(), before + 2);
}

// A future with no state (moved from) fails the chain it meets with
// logic_error, like co_await and get() on it, whether a continuation returns
// it (the ready and the pending path) or it is given to then, then_wrapped or
// forward_to. Before, the pending path and then() dereferenced the null
// state (a crash inside a task), and the ready path returned a future with no
// state.
TEST(future, a_future_with_no_state_fails_the_chain_instead_of_crashing) {
    future<> gone = make_ready_future<>();
    future<> kept = std::move(gone);
    auto ready = make_ready_future<>().then([&] { return std::move(gone); });
    ASSERT_TRUE(ready.available());
    EXPECT_THROW(ready.get(), std::logic_error);
    promise<> p;
    auto pending = p.get_future().then([&] { return std::move(gone); });
    p.set_value();
    rt::run_tasks();
    ASSERT_TRUE(pending.available());
    EXPECT_THROW(pending.get(), std::logic_error);
    EXPECT_THROW((void)std::move(gone).then([] {}), std::logic_error);
    EXPECT_THROW((void)std::move(gone).then_wrapped([](future<>) {}), std::logic_error);
    promise<> q;
    auto forwarded = q.get_future();
    std::move(gone).forward_to(std::move(q));
    ASSERT_TRUE(forwarded.available());
    EXPECT_THROW(forwarded.get(), std::logic_error);
    kept.get();
}

}  // namespace
}  // namespace qmesh::test

namespace qmesh::test {
namespace {

TEST(combinators, when_all_waits_for_every_future_and_keeps_failures) {
    promise<int> a;
    promise<> b;
    auto all = rt::when_all(a.get_future(), b.get_future());
    EXPECT_FALSE(all.available());
    b.set_exception(std::runtime_error("b"));
    rt::run_tasks();
    EXPECT_FALSE(all.available());
    a.set_value(1);
    rt::run_tasks();
    ASSERT_TRUE(all.available());
    auto [fa, fb] = all.get();
    EXPECT_EQ(fa.get(), 1);
    EXPECT_THROW(fb.get(), std::runtime_error);
}

TEST(combinators, when_all_succeed_values_or_first_failure) {
    auto ok = rt::when_all_succeed(make_ready_future<int>(1), make_ready_future<std::string>("x"));
    rt::run_tasks();
    auto [i, s] = ok.get();
    EXPECT_EQ(i, 1);
    EXPECT_EQ(s, "x");

    const auto before = rt::unhandled_failures();
    std::vector<future<int>> v;
    v.push_back(make_ready_future<int>(1));
    v.push_back(make_exception_future<int>(std::logic_error("first")));
    v.push_back(make_exception_future<int>(std::runtime_error("second")));
    auto bad = rt::when_all_succeed(std::move(v));
    rt::run_tasks();
    EXPECT_THROW(bad.get(), std::logic_error);
    EXPECT_EQ(rt::unhandled_failures(), before);  // the second failure was observed too
}

// future<>s join in, and leave nothing in the tuple; one of them failing
// fails the whole, after all are available, every failure observed.
TEST(combinators, when_all_succeed_takes_void_futures_and_leaves_them_out) {
    promise<std::string> late;
    auto mixed = rt::when_all_succeed(make_ready_future<>(), make_ready_future<int>(2), late.get_future(),
                                      make_ready_future<>());
    static_assert(std::is_same_v<decltype(mixed), future<std::tuple<int, std::string>>>);
    rt::run_tasks();
    EXPECT_FALSE(mixed.available());  // waits for the pending one
    late.set_value("y");
    rt::run_tasks();
    auto [i, s] = mixed.get();
    EXPECT_EQ(i, 2);
    EXPECT_EQ(s, "y");

    auto none = rt::when_all_succeed(make_ready_future<>(), make_ready_future<>());
    static_assert(std::is_same_v<decltype(none), future<std::tuple<>>>);
    rt::run_tasks();
    ASSERT_TRUE(none.available());
    EXPECT_FALSE(none.failed());

    const auto before = rt::unhandled_failures();
    auto bad = rt::when_all_succeed(make_ready_future<int>(1), make_exception_future<>(std::logic_error("void")),
                                    make_exception_future<int>(std::runtime_error("int")));
    rt::run_tasks();
    EXPECT_THROW(bad.get(), std::logic_error);
    EXPECT_EQ(rt::unhandled_failures(), before);  // the int's failure was observed too
}

TEST(combinators, repeat_and_do_until_loop_without_growing_the_stack) {
    int n = 0;
    auto r = rt::repeat([&] { return ++n == 100000 ? rt::stop_iteration::yes : rt::stop_iteration::no; });
    rt::run_tasks();
    ASSERT_TRUE(r.available());
    r.get();
    EXPECT_EQ(n, 100000);

    int m = 0;
    promise<> gate;
    auto gated = gate.get_future();
    auto d = rt::do_until([&] { return m == 3; }, [&]() -> future<> {
        ++m;
        if (m == 2) return std::move(gated);  // one iteration waits
        return make_ready_future<>();
    });
    rt::run_tasks();
    EXPECT_EQ(m, 2);
    EXPECT_FALSE(d.available());
    gate.set_value();
    rt::run_tasks();
    EXPECT_EQ(m, 3);
    d.get();
}

TEST(combinators, parallel_for_each_starts_all_then_waits) {
    std::vector<promise<>> ps(3);
    int started = 0;
    auto f = rt::parallel_for_each(std::vector<int>{0, 1, 2}, [&](int i) {
        ++started;
        return ps[static_cast<std::size_t>(i)].get_future();
    });
    EXPECT_EQ(started, 3);
    ps[2].set_value();
    ps[0].set_value();
    rt::run_tasks();
    EXPECT_FALSE(f.available());
    ps[1].set_exception(std::runtime_error("one"));
    rt::run_tasks();
    EXPECT_THROW(f.get(), std::runtime_error);
}

// An lvalue range is the caller's: f changes its elements in place, also
// after a suspension (the do_with pattern). Before, the range was copied
// into the wait and every change was lost.
TEST(combinators, parallel_for_each_over_an_lvalue_changes_the_callers_elements) {
    std::vector<int> v{1, 1, 1, 1};
    auto f = rt::parallel_for_each(v, [](int& x) { ++x; });
    ASSERT_TRUE(f.available());
    f.get();
    EXPECT_EQ(v, (std::vector<int>{2, 2, 2, 2}));
    std::vector<promise<>> ps(2);
    std::size_t next = 0;
    auto g = rt::do_with(std::vector<int>{5, 6}, [&](std::vector<int>& w) {
        return rt::parallel_for_each(w, [&](int& x) { return ps[next++].get_future().then([&x] { x *= 10; }); })
            .then([&w] { return w[0] + w[1]; });
    });
    ps[1].set_value();
    ps[0].set_value();
    rt::run_tasks();
    ASSERT_TRUE(g.available());
    EXPECT_EQ(g.get(), 110);
}

// An rvalue range is moved into the wait: its elements live until the
// future resolves, after the caller's statement has ended (a reference kept
// to the temporary instead would read freed memory: ASan reports it).
TEST(combinators, parallel_for_each_over_an_rvalue_keeps_its_elements_until_done) {
    std::vector<promise<>> ps(3);
    std::size_t next = 0;
    int sum = 0;
    auto f = rt::parallel_for_each(std::vector<int>{1, 20, 300}, [&](int& x) {
        return ps[next++].get_future().then([&x, &sum] { sum += x; });
    });
    for (auto& p : ps) p.set_value();
    rt::run_tasks();
    ASSERT_TRUE(f.available());
    f.get();
    EXPECT_EQ(sum, 321);
}

TEST(combinators, do_with_keeps_the_object_alive_until_done) {
    promise<> later;
    auto counter = std::make_shared<int>(0);
    std::weak_ptr<int> watch = counter;
    auto f = rt::do_with(std::move(counter), [&](std::shared_ptr<int>& c) {
        return later.get_future().then([&c] { return ++*c; });
    });
    EXPECT_FALSE(watch.expired());
    later.set_value();
    rt::run_tasks();
    EXPECT_EQ(f.get(), 1);
    EXPECT_TRUE(watch.expired());
}

// A coroutine lambda's frame reaches its captures through its closure, so
// do_with must keep the function, not only the object, until the future is
// available. Observed through statics: with the closure gone, touching a
// capture after the resumption would itself be the use-after-free.
bool g_closure_alive = false;
bool g_alive_at_resume = false;
struct closure_sentinel {
    bool owner = true;
    closure_sentinel() = default;
    closure_sentinel(closure_sentinel&& o) noexcept : owner(std::exchange(o.owner, false)) {}
    closure_sentinel& operator=(closure_sentinel&&) = delete;
    ~closure_sentinel() {
        if (owner) g_closure_alive = false;
    }
};

TEST(combinators, do_with_keeps_a_coroutine_lambda_alive_until_done) {
    promise<> gate;
    static future<> gated = make_ready_future<>();  // static: the lambda reaches it without a capture
    gated = gate.get_future();
    g_closure_alive = true;
    g_alive_at_resume = false;
    auto f = rt::do_with(41, [s = closure_sentinel{}](int& v) -> future<int> {
        co_await std::move(gated);
        g_alive_at_resume = g_closure_alive;
        co_return v + 1;
    });
    EXPECT_FALSE(f.available());
    gate.set_value();
    rt::run_tasks();
    ASSERT_TRUE(f.available());
    EXPECT_EQ(f.get(), 42);
    EXPECT_TRUE(g_alive_at_resume) << "the closure died while its coroutine was suspended";
    EXPECT_FALSE(g_closure_alive) << "the closure outlived the future";
}

// then(), then_wrapped(), handle_exception() and finally() keep a
// continuation that returns a future until that future has resolved, on a
// ready source (the continuation runs inline) and on a pending one. Before,
// the continuation was destroyed as soon as it returned (as in Seastar), and
// a coroutine lambda's captures died while it was suspended: every case
// below failed its first check. settle() gives the source its outcome.
future<> g_gate = make_ready_future<>();  // what the coroutines wait on, reached without a capture
template <class Chain>
void expect_closure_outlives_its_suspension(void (*settle)(promise<int>&), Chain chain, int want) {
    for (const bool ready : {true, false}) {
        SCOPED_TRACE(ready ? "ready source" : "pending source");
        promise<> gate;
        g_gate = gate.get_future();
        g_closure_alive = true;
        g_alive_at_resume = false;
        promise<int> p;
        if (ready) settle(p);
        future<int> f = chain(p.get_future());
        if (!ready) settle(p);
        rt::run_tasks();
        ASSERT_FALSE(f.available()) << "the coroutine should wait on the gate";
        EXPECT_TRUE(g_closure_alive) << "the closure died while its coroutine was suspended";
        gate.set_value();
        rt::run_tasks();
        ASSERT_TRUE(f.available());
        EXPECT_TRUE(g_alive_at_resume);
        // Gone once the outcome is in, while f is still held: a future kept
        // by what the closure captured must not keep the closure (a cycle).
        EXPECT_FALSE(g_closure_alive) << "the closure outlived its outcome";
        EXPECT_EQ(f.get(), want);
    }
}
void settle_value(promise<int>& p) { p.set_value(41); }
void settle_failure(promise<int>& p) { p.set_exception(std::runtime_error("source")); }

TEST(future, then_keeps_a_coroutine_lambda_alive_until_its_future_resolves) {
    expect_closure_outlives_its_suspension(
        settle_value,
        [](future<int> src) {
            return std::move(src).then([s = closure_sentinel{}](int v) -> future<int> {
                co_await std::move(g_gate);
                g_alive_at_resume = g_closure_alive;
                co_return v + 1;
            });
        },
        42);
}

TEST(future, then_wrapped_keeps_a_coroutine_lambda_alive_until_its_future_resolves) {
    expect_closure_outlives_its_suspension(
        settle_value,
        [](future<int> src) {
            return std::move(src).then_wrapped([s = closure_sentinel{}](future<int> v) -> future<int> {
                co_await std::move(g_gate);
                g_alive_at_resume = g_closure_alive;
                co_return v.get() + 2;
            });
        },
        43);
}

TEST(future, handle_exception_keeps_a_coroutine_lambda_alive_until_its_future_resolves) {
    expect_closure_outlives_its_suspension(
        settle_failure,
        [](future<int> src) {
            return std::move(src).handle_exception([s = closure_sentinel{}](std::exception_ptr) -> future<int> {
                co_await std::move(g_gate);
                g_alive_at_resume = g_closure_alive;
                co_return 7;
            });
        },
        7);
}

TEST(future, finally_keeps_a_coroutine_lambda_alive_until_its_future_resolves) {
    expect_closure_outlives_its_suspension(
        settle_value,
        [](future<int> src) {
            return std::move(src).finally([s = closure_sentinel{}]() -> future<> {
                co_await std::move(g_gate);
                g_alive_at_resume = g_closure_alive;
            });
        },
        41);
}

// A failure skips then()'s continuation that returns a future, as it skips
// one that returns a value, and the exception reaches the returned future.
TEST(future, a_failure_skips_a_future_returning_continuation) {
    promise<int> p;
    bool called = false;
    auto f = p.get_future().then([&](int) -> future<int> {
        called = true;
        co_return 1;
    });
    p.set_exception(std::runtime_error("source"));
    rt::run_tasks();
    ASSERT_TRUE(f.failed());
    EXPECT_FALSE(called);
    EXPECT_THROW(f.get(), std::runtime_error);
}

// The task that keeps such a continuation is also its future's state: left
// queued when its thread ends (as the continuation of its source, or of the
// future it waits on), it is disposed of like any continuation: no leak
// (LSan), nothing counted, and a future still held fails with
// broken_promise.
TEST(future, a_kept_continuation_disposed_of_unrun_breaks_its_future_and_counts_nothing) {
    const auto before = rt::unhandled_failures();
    std::thread t([] {
        promise<int> p;
        (void)p.get_future().then([](int v) -> future<int> { co_return v + 1; }).then([](int) {});
        p.set_value(1);  // queued as the source's continuation, never run
        promise<int> inner;
        (void)make_ready_future<int>(1).then([&](int) { return inner.get_future(); }).then([](int) {});
        inner.set_value(2);  // queued as the continuation of the future it waits on
    });
    t.join();
    EXPECT_EQ(rt::unhandled_failures(), before);
    {
        promise<int> inner;
        auto f = make_ready_future<int>(1).then([&](int) { return inner.get_future(); });
        inner.set_value(2);
        rt::local_tasks().discard_all();
        ASSERT_TRUE(f.failed());
        EXPECT_THROW(f.get(), rt::broken_promise);
    }
    EXPECT_EQ(rt::unhandled_failures(), before);
}

}  // namespace
}  // namespace qmesh::test

// Moves of T (and of a continuation) that throw, in the places the runtime
// moves them on its own: each must fail the chain, leak nothing, and count
// nothing as unobserved.
namespace qmesh::test {
namespace {

using rt::future;
using rt::make_ready_future;
using rt::promise;

// The fuse-th move or copy from now on throws (fuse < 0: none does).
struct fuse {
    static inline int left = -1;
    static void tick() {
        if (left >= 0 && left-- == 0) throw std::runtime_error("move");
    }
};
struct fragile {
    explicit fragile(int x) : v(x) {}
    fragile(fragile&& o) : v(o.v) { fuse::tick(); }
    fragile& operator=(fragile&&) = default;
    int v;
};
struct fragile_fn {
    fragile_fn() = default;
    fragile_fn(const fragile_fn&) { fuse::tick(); }
    fragile_fn(fragile_fn&&) { fuse::tick(); }
    int operator()(const std::shared_ptr<int>& v) const { return *v; }
};

// then() on a ready future moved the value out of the state before calling
// f, outside futurize_apply's try: the move's exception escaped then() and
// the state was never released.
TEST(future_throwing_moves, a_ready_value_that_throws_when_moved_fails_the_chain) {
    auto f = make_ready_future<fragile>(fragile{1});
    fuse::left = 0;  // the next move throws
    future<int> g = make_ready_future<int>(0);
    EXPECT_NO_THROW(g = std::move(f).then([](fragile v) { return v.v; }));
    fuse::left = -1;
    ASSERT_TRUE(g.failed());
    EXPECT_THROW(g.get(), std::runtime_error);
    // make_ready_future's own move (into the state) throwing frees the state
    // (LSan checks this one).
    fuse::left = 0;
    EXPECT_THROW((void)make_ready_future<fragile>(fragile{2}), std::runtime_error);
    fuse::left = -1;
}

// forward_to (noexcept) moved the value into the promise unguarded: a
// continuation returning a pending future<T> whose T throws when moved ended
// the program.
TEST(future_throwing_moves, a_forwarded_value_that_throws_when_moved_fails_the_promise) {
    EXPECT_EXIT(
        {
            promise<fragile> p;
            promise<fragile> q;
            auto g = p.get_future().then([&](fragile&&) { return q.get_future(); });
            p.set_value(fragile{1});
            rt::run_tasks();  // the continuation returns q's pending future
            q.set_value(fragile{2});
            fuse::left = 0;
            rt::run_tasks();  // forwards q's value into then()'s promise
            fuse::left = -1;
            const bool ok = g.failed();
            if (ok) (void)g.get_exception();
            std::_Exit(ok ? 0 : 3);  // _Exit: LSan's exit check is the parent's business
        },
        ::testing::ExitedWithCode(0), "");
}

// async_work_item::complete() (noexcept) moved the result into the
// future's state unguarded.
TEST(future_throwing_moves, a_request_result_that_throws_when_moved_fails_the_future) {
    EXPECT_EXIT(
        {
            auto fn = [] { return fragile{7}; };
            auto* item = new rt::detail::async_work_item<decltype(fn)>(fn);
            auto f = item->get_future();
            (void)item->process();  // stores the result in place, no move
            fuse::left = 0;
            rt::task* cont = item->complete();  // nothing waits on f: none to run
            fuse::left = -1;
            if (cont != nullptr) std::_Exit(4);
            const bool ok = f.failed();
            if (ok) (void)f.get_exception();
            std::_Exit(ok ? 0 : 3);
        },
        ::testing::ExitedWithCode(0), "");
}

// A continuation whose move or copy throws while then() builds its task:
// attach() had already taken the future's reference (the state leaked, and
// the value in it), and the promise that died with the half-built task broke
// then()'s future, which was then counted as an unobserved failure.
TEST(future_throwing_moves, a_continuation_that_cannot_be_attached_leaks_and_counts_nothing) {
    int threw = 0;
    for (int n = 0; n < 4; ++n) {
        const auto before = rt::unhandled_failures();
        auto payload = std::make_shared<int>(1);
        std::weak_ptr<int> watch = payload;
        {
            promise<std::shared_ptr<int>> p;
            auto f = p.get_future();
            fuse::left = n;
            try {
                (void)std::move(f).then(fragile_fn{});
            } catch (const std::runtime_error&) {
                ++threw;
            }
            fuse::left = -1;
            p.set_value(std::move(payload));
            rt::run_tasks();
        }
        EXPECT_TRUE(watch.expired()) << "the state leaked (move " << n << " threw)";
        EXPECT_EQ(rt::unhandled_failures(), before) << "move " << n;
    }
    EXPECT_GE(threw, 2);  // the capture into the lambda, and the move into the task
}

// Allocation failures (fail_alloc.hpp), each on a fresh thread, whose pool
// lists are empty, so the block the test aims at comes from operator new.
// Each checks that the armed fault was spent, i.e. hit the call under test.
template <class Body>
void on_a_fresh_thread(Body body) {
    std::thread(body).join();
}

// forward_to allocates its task before p moves into it: a task that cannot
// be made leaves p with forward_to, which fails it with bad_alloc. (With p
// moved into the task's function first, the failed allocation destroyed it
// and the future broke with broken_promise, the wrong error.)
TEST(future_alloc_faults, forward_to_that_cannot_make_its_task_fails_the_promise_with_bad_alloc) {
    if (!alloc_faults_available) GTEST_SKIP() << "no allocation faults under a sanitizer";
    int left = -1;
    bool bad_alloc_seen = false, source_kept = false;
    int later = 0;
    on_a_fresh_thread([&] {
        promise<int> src;
        future<int> f = src.get_future();
        promise<int> dst;
        future<int> g = dst.get_future();
        fail_allocations(0, 1);
        std::move(f).forward_to(std::move(dst));
        left = allocations_left_to_fail();
        fail_allocations(0, 0);
        try {
            (void)g.get();
        } catch (const std::bad_alloc&) {
            bad_alloc_seen = true;
        } catch (...) {
        }
        // The source was left as it was: still waiting, and still usable.
        source_kept = f.valid() && !f.available();
        if (!source_kept) return;
        auto h = std::move(f).then([](int v) { return v + 1; });
        src.set_value(41);
        rt::run_tasks();
        later = h.get();
    });
    EXPECT_EQ(left, 0);
    EXPECT_TRUE(bad_alloc_seen);
    EXPECT_TRUE(source_kept);
    EXPECT_EQ(later, 42);
}

// then() with a continuation that returns a future, and with a plain one on
// a pending source: a task that cannot be made throws bad_alloc out of
// then() and leaves the source future as it was, to be used again.
TEST(future_alloc_faults, then_that_cannot_make_its_task_throws_and_leaves_the_source_usable) {
    if (!alloc_faults_available) GTEST_SKIP() << "no allocation faults under a sanitizer";
    struct outcome {
        int left = -1;
        bool threw = false, source_kept = false;
        int later = 0;
    };
    // skip: allocations then() makes before the task (the plain pending
    // path makes its promise's state first).
    auto attempt = [](auto&& make_then, int skip) {
        outcome o;
        on_a_fresh_thread([&] {
            promise<int> src;
            future<int> f = src.get_future();
            fail_allocations(skip, 1);
            try {
                (void)make_then(f);
            } catch (const std::bad_alloc&) {
                o.threw = true;
            }
            o.left = allocations_left_to_fail();
            fail_allocations(0, 0);
            o.source_kept = f.valid() && !f.available();
            if (!o.source_kept) return;
            auto h = make_then(f);
            src.set_value(41);
            rt::run_tasks();
            o.later = h.get();
        });
        return o;
    };
    const outcome chained = attempt(
        [](future<int>& f) { return std::move(f).then([](int v) { return make_ready_future<int>(v + 1); }); }, 0);
    const outcome plain = attempt([](future<int>& f) { return std::move(f).then([](int v) { return v + 1; }); }, 1);
    for (const auto& [name, o] : {std::pair{"chained", chained}, std::pair{"plain", plain}}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(o.left, 0);
        EXPECT_TRUE(o.threw);
        EXPECT_TRUE(o.source_kept);
        EXPECT_EQ(o.later, 42);
    }
}

}  // namespace
}  // namespace qmesh::test
