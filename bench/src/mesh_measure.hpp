// bench/src/mesh_measure.hpp: the runtime over one queue: every core submits
// to every other core through submit_to, with a bounded window of requests
// outstanding per ordered pair; aggregate throughput, sampled submit_to
// latency, the mesh's counters, and an exactly-once check.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "pinned.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/runtime/smp.hpp"
#include "stats.hpp"

namespace qmesh::bench {

struct mesh_params {
    std::vector<unsigned> cores;
    std::uint64_t msgs_per_pair = 20000;  // submissions per ordered pair
    std::size_t window = 16;              // outstanding per ordered pair
    std::size_t capacity = 64;            // per queue
    unsigned sample_every = 16;           // latency sample rate
    double timer_overhead_ns = 0;
    bool oversubscribed = false;
    std::chrono::milliseconds timeout{30000};
};

struct mesh_result {
    bool ok = false;
    std::string error;
    double seconds = 0;
    double msgs_per_s = 0;  // completed submit_to round trips per second, all cores
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // sampled submit_to latency
    rt::pair_counters totals;
    std::uint64_t executed = 0;  // functions that ran on their targets
};

// Per-core state of a mesh measurement, each written by its own core only,
// read after join.
struct alignas(cache_line_bytes) mesh_core_stats {
    std::uint64_t executed = 0;  // functions run here for others
    std::uint64_t start = 0, end = 0;
    std::uint64_t wrong = 0;  // replies that did not echo their request
    histogram lat;
};

// One outstanding request slot from core `me` to core `d`: sends `count`
// requests one after another, each echoing a tag. A free coroutine (not a
// lambda) so that its frame owns copies of its arguments.
template <class Mesh>
rt::future<> mesh_pump(Mesh& mesh, std::vector<mesh_core_stats>& pc, unsigned me, unsigned d, std::uint64_t count,
                       std::size_t w, const mesh_params& p) {
    mesh_core_stats& mine = pc[me];
    for (std::uint64_t i = 0; i < count; ++i) {
        const bool sample = (i % p.sample_every) == w % p.sample_every;
        const std::uint64_t t0 = sample ? now_ns() : 0;
        const std::uint64_t tag = (std::uint64_t{me} << 48) | (std::uint64_t{w} << 32) | i;
        const std::uint64_t got = co_await mesh.submit_to(d, [&pc, tag] {
            ++pc[static_cast<unsigned>(rt::this_core())].executed;
            return tag;
        });
        if (got != tag) ++mine.wrong;
        if (sample) {
            const double dt = static_cast<double>(now_ns() - t0) - p.timer_overhead_ns;
            mine.lat.record(dt > 0 ? static_cast<std::uint64_t>(dt) : 0);
        }
    }
}

template <queue_kind K>
mesh_result measure_mesh(const mesh_params& p) {
    const unsigned n = static_cast<unsigned>(p.cores.size());
    rt::smp_config cfg;
    cfg.cores = p.cores;
    cfg.queue_capacity = p.capacity;
    cfg.max_inflight = p.window;
    cfg.yield_when_idle = p.oversubscribed;

    std::vector<mesh_core_stats> pc(n);

    // Watchdog: a queue that deadlocks or starves aborts the mesh (its
    // reactors stop without draining) and the result is marked failed.
    std::atomic<bool> abort{false};
    watchdog dog(abort, p.timeout);
    cfg.abort = &abort;
    rt::smp<K> mesh(cfg);

    mesh_result r;
    try {
        mesh.run([&]() -> rt::future<> {
            co_await mesh.invoke_on_all([&]() -> rt::future<> {
                const unsigned me = static_cast<unsigned>(rt::this_core());
                mesh_core_stats& mine = pc[me];
                mine.start = now_ns();
                // One pump per outstanding slot per target: each awaits its
                // reply before sending the next, so `window` are in flight.
                std::vector<rt::future<>> pumps;
                for (unsigned d = 0; d < n; ++d) {
                    if (d == me) continue;
                    for (std::size_t w = 0; w < p.window; ++w) {
                        const std::uint64_t count =
                            p.msgs_per_pair / p.window + (w < p.msgs_per_pair % p.window ? 1 : 0);
                        pumps.push_back(mesh_pump(mesh, pc, me, d, count, w, p));
                    }
                }
                for (auto& f : pumps) co_await std::move(f);
                mine.end = now_ns();
            });
        });
    } catch (const std::exception& e) {
        dog.stop();
        r.error = abort.load() ? (interrupted() ? "interrupted" : "timed out after " +
                                  std::to_string(p.timeout.count()) + " ms (deadlock or starvation)")
                               : e.what();
        return r;
    }
    dog.stop();
    r.totals = mesh.totals();
    std::uint64_t start = UINT64_MAX, end = 0, wrong = 0;
    histogram all;
    for (const auto& c : pc) {
        start = std::min(start, c.start);
        end = std::max(end, c.end);
        r.executed += c.executed;
        wrong += c.wrong;
    }
    for (const auto& c : pc) all.merge(c.lat);
    r.p50 = all.quantile(0.5);
    r.p90 = all.quantile(0.9);
    r.p99 = all.quantile(0.99);
    r.p999 = all.quantile(0.999);
    r.max = static_cast<double>(all.max());
    r.seconds = static_cast<double>(end - start) / 1e9;
    const std::uint64_t expected = p.msgs_per_pair * n * (n - 1);
    r.msgs_per_s = r.seconds > 0 ? static_cast<double>(r.executed) / r.seconds : 0;
    r.ok = true;
    // invoke_on_all's own n - 1 submissions cross the mesh too.
    if (r.executed != expected || r.totals.completed != expected + (n - 1) || wrong != 0) {
        r.ok = false;
        r.error = "exactly-once violated: expected " + std::to_string(expected) + " submissions, " +
                  std::to_string(r.executed) + " ran, " + std::to_string(r.totals.completed) + " completed, " +
                  std::to_string(wrong) + " wrong replies";
    }
    return r;
}

}  // namespace qmesh::bench
