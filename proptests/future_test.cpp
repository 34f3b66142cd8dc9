// Runtime properties of futures, promises and continuations on one core.
#include <stdexcept>
#include <string>

#include "qmesh/runtime/future.hpp"
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

}  // namespace
}  // namespace qmesh::test
