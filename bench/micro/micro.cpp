// qmesh_micro: single-thread costs, with Google Benchmark: each registered
// queue's push + pop on one thread (no cross-core traffic: the instruction
// cost of the operations alone), and the f/p/c primitives.
//
//   build/release/bench/qmesh_micro [--benchmark_format=json] [--benchmark_filter=REGEX]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/future.hpp"

namespace {

template <class K>
void queue_push_pop(benchmark::State& state) {
    typename K::template type<std::uint64_t> q(1024);
    std::uint64_t v = 0, out = 0;
    for (auto _ : state) {
        std::uint64_t x = v++;
        if (!q.try_push(std::move(x))) state.SkipWithError("failed: push on an empty queue");
        (void)qmesh::flush(q);
        if (!q.try_pop(out)) state.SkipWithError("failed: pop after a flushed push");
        qmesh::consumer_flush(q);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
}

void ready_future_then(benchmark::State& state) {
    for (auto _ : state) {
        auto f = qmesh::rt::make_ready_future<int>(1).then([](int x) { return x + 1; });
        benchmark::DoNotOptimize(f.get());
    }
}

void promise_then_fulfil(benchmark::State& state) {
    for (auto _ : state) {
        qmesh::rt::promise<int> p;
        auto f = p.get_future().then([](int x) { return x + 1; });
        p.set_value(1);
        qmesh::rt::run_tasks();  // the continuation runs as a task
        benchmark::DoNotOptimize(f.get());
    }
}

// A continuation that returns a future: on a ready source, returning a ready
// future; on a pending source, returning one that waits on a second promise.
void ready_future_then_future(benchmark::State& state) {
    for (auto _ : state) {
        auto f = qmesh::rt::make_ready_future<int>(1).then([](int x) { return qmesh::rt::make_ready_future<int>(x + 1); });
        benchmark::DoNotOptimize(f.get());
    }
}

void promise_then_future_fulfil(benchmark::State& state) {
    for (auto _ : state) {
        qmesh::rt::promise<int> p, q;
        auto f = p.get_future().then([&q](int) { return q.get_future(); });
        p.set_value(1);
        qmesh::rt::run_tasks();  // the continuation runs, and waits on q
        q.set_value(2);
        qmesh::rt::run_tasks();  // q's outcome reaches f
        benchmark::DoNotOptimize(f.get());
    }
}

qmesh::rt::future<int> await_ready_twice() {
    const int a = co_await qmesh::rt::make_ready_future<int>(1);
    const int b = co_await qmesh::rt::make_ready_future<int>(2);
    co_return a + b;
}

void coroutine_await_ready(benchmark::State& state) {
    for (auto _ : state) {
        auto f = await_ready_twice();
        benchmark::DoNotOptimize(f.get());
    }
}

const bool registered = [] {
    qmesh::all_queues::for_each([]<class K>() {
        benchmark::RegisterBenchmark(("queue_push_pop/" + std::string(K::traits.name)).c_str(), queue_push_pop<K>);
    });
    benchmark::RegisterBenchmark("future/ready_then", ready_future_then);
    benchmark::RegisterBenchmark("future/promise_then_fulfil", promise_then_fulfil);
    benchmark::RegisterBenchmark("future/coroutine_await_ready_x2", coroutine_await_ready);
    benchmark::RegisterBenchmark("future/ready_then_future", ready_future_then_future);
    benchmark::RegisterBenchmark("future/promise_then_future_fulfil", promise_then_future_fulfil);
    return true;
}();

}  // namespace

BENCHMARK_MAIN();
