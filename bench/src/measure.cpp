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

}  // namespace qmesh::bench
