// bench/src/mesh_measure.hpp: the runtime over one queue: every core submits
// to every other core through submit_to (fan-in: every core to core 0), with a
// bounded window of requests outstanding per ordered pair; aggregate
// throughput, the runtime's sampled submit_to latency, its counters and batch
// sizes, and an exactly-once check.
//
// Receiver states: `idle` (a reactor does nothing but the mesh, so it polls
// between messages), `busy` (every reactor also runs a chain of CPU-bound
// tasks of `busy_task_ns` each, so messages wait for the task quota), and
// `fan-in` (cores 1..N-1 all submit to core 0, which only serves).
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

#include "mesh_setup.hpp"
#include "pinned.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/runtime/smp.hpp"
#include "stats.hpp"

namespace qmesh::bench {

enum class mesh_state { idle, busy, fan_in };
inline const char* to_string(mesh_state s) noexcept {
    return s == mesh_state::idle ? "idle" : s == mesh_state::busy ? "busy" : "fan-in";
}

// A mesh's queue capacity for `window` requests in flight per pair: each
// queue holds both submit groups' windows (the setup's and the pumps',
// measure_mesh), so the window, not the queue, bounds what is in flight (64,
// as before, for the default window; the runtime would raise a smaller one
// to that anyway, and an entry must say what ran).
inline std::size_t mesh_capacity(std::size_t window) noexcept {
    return std::max<std::size_t>(64, 2 * window);
}

struct mesh_params {
    std::vector<unsigned> cores;
    mesh_state state = mesh_state::idle;
    rt::polling poll = rt::polling::scan;
    std::uint64_t busy_task_ns = 2000;    // one CPU-bound task (busy state)
    std::uint64_t msgs_per_pair = 20000;  // submissions per ordered pair
    std::size_t window = 16;              // outstanding per ordered pair
    std::size_t capacity = 64;            // per queue (at least 2 windows: both groups')
    unsigned sample_every = 16;           // the runtime times one submit_to in this many
    bool oversubscribed = false;
    mesh_setup setup;                     // NUMA placement, idle policy
    std::chrono::milliseconds timeout{30000};
};

struct mesh_result {
    bool ok = false;
    std::string error;
    double seconds = 0;
    double msgs_per_s = 0;  // completed submit_to round trips per second, all cores
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // sampled submit_to latency
    rt::pair_counters totals;
    rt::core_counters cores;
    mesh_record mesh;  // what the mesh ran with
    std::uint64_t busy_tasks = 0;  // CPU-bound tasks run (busy state)
    std::uint64_t executed = 0;  // functions that ran on their targets
    double cpu_share = 1.0;      // the reactors' least (smp::cpu_share)
    // Per core, when its last request completed, in seconds from the first
    // core's start (fan-in: core 0, which sends nothing, has 0). The rate is
    // over the last of them, so a core that finishes late (a straggler, or
    // one its pairs treat worse) sets it.
    std::vector<double> finished_s;
};

// Per-core state of a mesh measurement, each written by its own core only,
// read after join.
struct alignas(cache_line_bytes) mesh_core_stats {
    std::uint64_t executed = 0;  // functions run here for others
    std::uint64_t start = 0, end = 0;
    std::uint64_t wrong = 0;  // replies that did not echo their request
    std::uint64_t busy_tasks = 0;
    bool done = false;        // this core's pumps have finished (ends its busy chain)
};

// The busy state's CPU-bound work: one task spins for `ns`, then schedules
// the next, until its core's pumps are done.
inline void busy_step(mesh_core_stats* mine, std::uint64_t ns) {
    const std::uint64_t until = now_ns() + ns;
    while (now_ns() < until) {
    }
    ++mine->busy_tasks;
    if (!mine->done) rt::schedule_fn([mine, ns] { busy_step(mine, ns); });
}

// The submit group the pumps send in. Group 0 carries the invoke_on_all
// that starts them, which holds its slot from core 0 to every core for the
// whole run: pumps in that group had one slot less than the window on core
// 0's pairs, and every other submission of core 0 waited in its list
// (counted as a full-queue stall: 133 141 of 300 000 at N = 2). A group of
// their own, as runtime/README.md tells a nested submission to take, gives
// every pair the window it says.
inline constexpr rt::submit_group pump_group{1};

// One outstanding request slot from core `me` to core `d`: sends `count`
// requests one after another, each echoing a tag. A free coroutine (not a
// lambda) so that its frame owns copies of its arguments.
template <class Mesh>
rt::future<> mesh_pump(Mesh& mesh, std::vector<mesh_core_stats>& pc, unsigned me, unsigned d, std::uint64_t count,
                       std::size_t w) {
    mesh_core_stats& mine = pc[me];
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t tag = (std::uint64_t{me} << 48) | (std::uint64_t{w} << 32) | i;
        const std::uint64_t got = co_await mesh.submit_to(d, pump_group, [&pc, tag] {
            ++pc[static_cast<unsigned>(rt::this_core())].executed;
            return tag;
        });
        if (got != tag) ++mine.wrong;
    }
}

template <queue_kind K>
mesh_result measure_mesh(const mesh_params& p) {
    const unsigned n = static_cast<unsigned>(p.cores.size());
    rt::smp_config cfg;
    cfg.cores = p.cores;
    cfg.queue_capacity = p.capacity;
    cfg.max_inflight = p.window;
    cfg.groups = 2;  // the setup's group and pump_group
    cfg.yield_when_idle = p.oversubscribed;
    cfg.poll = p.poll;
    cfg.latency_sample_every = p.sample_every;
    cfg.time_turns = true;  // busy_share: one clock read per reactor turn
    p.setup.apply(cfg);

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
                if (p.state == mesh_state::busy) busy_step(&mine, p.busy_task_ns);
                // One pump per outstanding slot per target: each awaits its
                // reply before sending the next, so `window` are in flight.
                std::vector<rt::future<>> pumps;
                for (unsigned d = 0; d < n; ++d) {
                    if (d == me || (p.state == mesh_state::fan_in && (me == 0 || d != 0))) continue;
                    for (std::size_t w = 0; w < p.window; ++w) {
                        const std::uint64_t count =
                            p.msgs_per_pair / p.window + (w < p.msgs_per_pair % p.window ? 1 : 0);
                        pumps.push_back(mesh_pump(mesh, pc, me, d, count, w));
                    }
                }
                for (auto& f : pumps) co_await std::move(f);
                mine.end = now_ns();
                mine.done = true;
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
    r.cores = mesh.core_totals();
    r.mesh = record_of(mesh);
    r.cpu_share = mesh.cpu_share();
    std::uint64_t start = UINT64_MAX, end = 0, wrong = 0;
    for (const auto& c : pc) start = std::min(start, c.start);
    for (const auto& c : pc) {
        const bool sends = p.state != mesh_state::fan_in || &c != &pc[0];
        r.finished_s.push_back(sends ? static_cast<double>(c.end - start) / 1e9 : 0.0);
        // Fan-in: core 0 sends nothing, its end marks no work.
        if (sends) end = std::max(end, c.end);
        r.executed += c.executed;
        r.busy_tasks += c.busy_tasks;
        wrong += c.wrong;
    }
    const histogram& all = mesh.latency();
    // The runtime times submit to fulfilment with two reads of its sample
    // clock: net of that clock's own cost, as every suite nets its own.
    const double overhead = mesh.latency_clock().overhead_ns();
    auto net_of = [&](double v) { return std::max(0.0, v - overhead); };
    r.p50 = net_of(all.quantile(0.5));
    r.p90 = net_of(all.quantile(0.9));
    r.p99 = net_of(all.quantile(0.99));
    r.p999 = net_of(all.quantile(0.999));
    r.max = net_of(static_cast<double>(all.max()));
    r.seconds = static_cast<double>(end - start) / 1e9;
    const std::uint64_t senders_pairs = p.state == mesh_state::fan_in ? n - 1 : std::uint64_t{n} * (n - 1);
    const std::uint64_t expected = p.msgs_per_pair * senders_pairs;
    r.msgs_per_s = r.seconds > 0 ? static_cast<double>(r.executed) / r.seconds : 0;
    r.ok = true;
    // invoke_on_all's own n - 1 submissions cross the mesh too.
    if (r.executed != expected || r.totals.completed != expected + (n - 1) || wrong != 0) {
        r.ok = false;
        r.error = "exactly-once violated: expected " + std::to_string(expected) + " submissions, " +
                  std::to_string(r.executed) + " ran, " + std::to_string(r.totals.completed) + " completed, " +
                  std::to_string(wrong) + " wrong replies";
    } else if (std::string e = dropped_failures_error(mesh); !e.empty()) {
        r.ok = false;
        r.error = std::move(e);
    }
    return r;
}

}  // namespace qmesh::bench
