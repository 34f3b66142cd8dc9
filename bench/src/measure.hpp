// bench/src/measure.hpp: the measurements every suite is built from. Each
// runs on pinned threads under the watchdog and returns figures, never prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "pinned.hpp"
#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "stats.hpp"

namespace qmesh::bench {

struct latency_params {
    std::uint64_t warmup = 1000;    // round trips discarded first
    std::uint64_t samples = 20000;  // round trips recorded
    std::size_t capacity = 1024;    // queue capacity (queue measurements)
    double timer_overhead_ns = 0;   // subtracted from every sample
    std::chrono::milliseconds timeout{10000};
};

struct latency_result {
    bool ok = false;
    std::string error;
    std::uint64_t samples = 0;
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
    double cpu_share = 1.0;  // see run_outcome
};

// Percentiles from a histogram or, exactly, from every sample.
template <class Samples>
latency_result summarise(const Samples& h, const run_outcome& o) {
    latency_result r;
    r.ok = o.ok;
    r.error = o.error;
    r.cpu_share = o.cpu_share;
    r.samples = h.count();
    if (r.ok && h.count() == 0) {
        r.ok = false;
        r.error = "no samples recorded";
    }
    r.p50 = h.quantile(0.50);
    r.p90 = h.quantile(0.90);
    r.p99 = h.quantile(0.99);
    r.p999 = h.quantile(0.999);
    r.max = static_cast<double>(h.max());
    return r;
}

inline std::uint64_t net(std::uint64_t t0, std::uint64_t t1, double overhead) noexcept {
    const double d = static_cast<double>(t1 - t0) - overhead;
    return d > 0 ? static_cast<std::uint64_t>(d) : 0;
}

// The hardware floor: one cache line handed back and forth between two cores
// (each round trip is two coherence transfers), timed like every queue's round
// trip so that the two divide fairly.
latency_result measure_floor(unsigned a, unsigned b, const latency_params& p);

// The floor of a request passed by reference: as the floor, but what crosses
// is a pointer to a one-line request that a has just written; b reads the
// request through it and writes its answer into it, and a reads the answer
// back. That is the least a runtime that passes requests by pointer, as
// submit_to does (runtime/README.md), can cost on top of the floor: the
// request's line is reached only once its pointer has arrived.
latency_result measure_pointer_floor(unsigned a, unsigned b, const latency_params& p);

// Round trip through a queue: a pushes i on a->b, b pops it and pushes it back
// on b->a, a pops it. Checks every value comes back in order.
template <queue_kind K>
latency_result measure_pingpong(unsigned a, unsigned b, const latency_params& p) {
    using Q = typename K::template type<std::uint64_t>;
    Q ab(p.capacity), ba(p.capacity);
    exact_samples h(p.samples);
    std::string bad;                  // written by a, read after the join
    // Raised by a with `bad`: b stops (see spinner). A line of its own, so
    // that b's occasional read never shares one with what a writes per sample.
    alignas(cache_line_bytes) std::atomic<bool> failed{false};
    const std::uint64_t total = p.warmup + p.samples;
    auto side_a = [&](const abort_flag& abort) {
        spinner s(abort);
        for (std::uint64_t i = 0; i < total; ++i) {
            const std::uint64_t t0 = now_ns();
            std::uint64_t v = i;
            while (!ab.try_push(std::move(v)))
                if (s.give_up()) return;
            while (!qmesh::flush(ab))
                if (s.give_up()) return;
            std::uint64_t got = 0;
            while (!ba.try_pop(got)) {
                qmesh::consumer_flush(ba);
                if (s.give_up()) return;
            }
            const std::uint64_t t1 = now_ns();
            if (got != i) {
                bad = "round trip " + std::to_string(i) + " returned " + std::to_string(got);
                failed.store(true, std::memory_order_relaxed);
                return;
            }
            if (i >= p.warmup) h.record(net(t0, t1, p.timer_overhead_ns));
        }
    };
    auto side_b = [&](const abort_flag& abort) {
        spinner s(abort, &failed);
        for (std::uint64_t i = 0; i < total; ++i) {
            std::uint64_t v = 0;
            while (!ab.try_pop(v)) {
                qmesh::consumer_flush(ab);
                if (s.give_up()) return;
            }
            while (!ba.try_push(std::move(v)))
                if (s.give_up()) return;
            while (!qmesh::flush(ba))
                if (s.give_up()) return;
        }
    };
    auto o = run_pinned({a, b}, {side_a, side_b}, p.timeout);
    if (!bad.empty()) o = {false, bad};  // what went wrong, not that b then gave up
    return summarise(h, o);
}

}  // namespace qmesh::bench
