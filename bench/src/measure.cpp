#include "measure.hpp"

#include <atomic>

namespace qmesh::bench {

latency_result measure_floor(unsigned a, unsigned b, const latency_params& p) {
    // Two lines, each written by one side only: a writes `ping`, b writes
    // `pong`, and each spins reading the other's line. A round trip is then
    // exactly two line transfers with no write contention on either line,
    // the least any queue handing a message there and back can cost.
    struct alignas(cache_line_bytes) line {
        std::atomic<std::uint64_t> v{0};
    };
    line ping, pong;
    exact_samples h(p.samples);
    const std::uint64_t total = p.warmup + p.samples;
    auto side_a = [&](const abort_flag& abort) {
        spinner s(abort);
        for (std::uint64_t i = 1; i <= total; ++i) {
            const std::uint64_t t0 = now_ns();
            // (F1) release: hands i to b; pairs with (F2).
            ping.v.store(i, std::memory_order_release);
            // (F3) acquire: b's answer; pairs with (F4).
            while (pong.v.load(std::memory_order_acquire) != i)
                if (s.give_up()) return;
            const std::uint64_t t1 = now_ns();
            if (i > p.warmup) h.record(net(t0, t1, p.timer_overhead_ns));
        }
    };
    auto side_b = [&](const abort_flag& abort) {
        spinner s(abort);
        for (std::uint64_t i = 1; i <= total; ++i) {
            // (F2) acquire: pairs with (F1).
            while (ping.v.load(std::memory_order_acquire) != i)
                if (s.give_up()) return;
            // (F4) release: pairs with (F3).
            pong.v.store(i, std::memory_order_release);
        }
    };
    return summarise(h, run_pinned({a, b}, {side_a, side_b}, p.timeout));
}

latency_result measure_pointer_floor(unsigned a, unsigned b, const latency_params& p) {
    // The floor's two lines, each written by one side only, now carry a
    // pointer with the round trip's number; a third line holds the request.
    // One request, reused every round trip, as the runtime's pool hands the
    // block of the request just completed to the next one (pool.hpp). The
    // request's fields are written by one side at a time, ordered by the
    // numbers' release/acquire, so they need no atomics: b writes `answer`
    // only after it has seen round trip i, and a writes `arg` for i + 1 only
    // after it has seen b's answer to i.
    struct alignas(cache_line_bytes) request {
        std::uint64_t arg = 0;
        std::uint64_t answer = 0;
    };
    struct alignas(cache_line_bytes) line {
        std::atomic<std::uint64_t> i{0};
        request* ptr = nullptr;
    };
    line ping, pong;
    request req;
    exact_samples h(p.samples);
    std::string bad;                  // written by a, read after the join
    std::atomic<bool> failed{false};  // raised by a with `bad`: b stops (see spinner)
    const std::uint64_t total = p.warmup + p.samples;
    auto side_a = [&](const abort_flag& abort) {
        spinner s(abort);
        for (std::uint64_t i = 1; i <= total; ++i) {
            const std::uint64_t t0 = now_ns();
            req.arg = i;
            ping.ptr = &req;
            // (R1) release: the request and its pointer, then i; pairs with (R2).
            ping.i.store(i, std::memory_order_release);
            // (R3) acquire: b's answer and its pointer; pairs with (R4).
            while (pong.i.load(std::memory_order_acquire) != i)
                if (s.give_up()) return;
            const std::uint64_t got = pong.ptr->answer;
            const std::uint64_t t1 = now_ns();
            if (got != i + 1) {
                bad = "pointer floor: request " + std::to_string(i) + " came back answered " + std::to_string(got);
                failed.store(true, std::memory_order_relaxed);
                return;
            }
            if (i > p.warmup) h.record(net(t0, t1, p.timer_overhead_ns));
        }
    };
    auto side_b = [&](const abort_flag& abort) {
        spinner s(abort, &failed);
        for (std::uint64_t i = 1; i <= total; ++i) {
            // (R2) acquire: pairs with (R1); the request is visible.
            while (ping.i.load(std::memory_order_acquire) != i)
                if (s.give_up()) return;
            request* r = ping.ptr;
            r->answer = r->arg + 1;
            pong.ptr = r;
            // (R4) release: pairs with (R3).
            pong.i.store(i, std::memory_order_release);
        }
    };
    run_outcome o = run_pinned({a, b}, {side_a, side_b}, p.timeout);
    if (!bad.empty()) o = {false, bad};
    return summarise(h, o);
}

}  // namespace qmesh::bench
