// bench/src/submit_measure.hpp: the price of f/p/c: submit_to's round trip
// between two reactors, timed like the raw queue round trip (pingpong) and
// the floor, so the three divide fairly.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "measure.hpp"
#include "mesh_setup.hpp"
#include "pinned.hpp"
#include "qmesh/runtime/smp.hpp"

namespace qmesh::bench {

template <class Mesh>
rt::future<> submit_loop(Mesh& mesh, exact_samples& h, const latency_params& p) {
    const std::uint64_t total = p.warmup + p.samples;
    for (std::uint64_t i = 0; i < total; ++i) {
        const std::uint64_t t0 = now_ns();
        const std::uint64_t got = co_await mesh.submit_to(1, [i] { return i; });
        const std::uint64_t t1 = now_ns();
        if (got != i) throw std::runtime_error("submit_to " + std::to_string(i) + " returned " + std::to_string(got));
        if (i >= p.warmup) h.record(net(t0, t1, p.timer_overhead_ns));
    }
}

// The mesh's configuration. The runtime's own latency sample is off: it
// would read the clock twice and record a histogram entry inside one timed
// round trip in every latency_sample_every (64 by default), work that
// pingpong and the floor, which this is divided by, do not do (1.6 % of the
// samples, enough to move p99).
inline rt::smp_config submit_config(unsigned a, unsigned b, const latency_params& p, rt::polling poll) {
    rt::smp_config cfg;
    cfg.cores = {a, b};
    cfg.poll = poll;
    cfg.queue_capacity = p.capacity;
    cfg.max_inflight = 1;
    cfg.latency_sample_every = 0;
    return cfg;
}

// Reactor 0 on core a submits to reactor 1 on core b, one request at a time
// (the receiver idles between requests: busy-polling, unless `setup` says
// sleep). What the mesh ran with is stored in *record if given.
template <queue_kind K>
latency_result measure_submit(unsigned a, unsigned b, const latency_params& p, rt::polling poll = rt::polling::scan,
                              const mesh_setup& setup = {}, mesh_record* record = nullptr) {
    rt::smp_config cfg = submit_config(a, b, p, poll);
    setup.apply(cfg);
    std::atomic<bool> abort{false};
    cfg.abort = &abort;
    rt::smp<K> mesh(cfg);
    exact_samples h(p.samples);
    watchdog dog(abort, p.timeout);
    run_outcome o;
    try {
        mesh.run([&] { return submit_loop(mesh, h, p); });
    } catch (const std::exception& e) {
        o = {false, abort.load() ? std::string("timed out or interrupted") : std::string(e.what())};
    }
    dog.stop();
    o.cpu_share = mesh.cpu_share();
    if (record != nullptr) *record = record_of(mesh);
    if (o.ok) {
        o.error = dropped_failures_error(mesh);
        o.ok = o.error.empty();
    }
    return summarise(h, o);
}

}  // namespace qmesh::bench
