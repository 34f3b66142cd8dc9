// qmesh_mesh_count: one mesh, all to all, idle receivers, over `batched`,
// with a fixed number of requests per ordered pair, for counting what the
// runtime does per request (instructions_per_request.sh runs it under
// callgrind at two counts and fits its instructions to the requests it
// completed and the idle turns it printed, so start-up, shutdown and the
// idle turns fall out). Not a benchmark: its rate is printed only to show
// the run did what it says; `qmesh run --suite mesh` is the measurement.
//
//   qmesh_mesh_count REACTORS WINDOW PER_PAIR [REPLY_QUOTA]
//
// Reactors take the available PUs in turn (more reactors than PUs: as a
// 16-core mesh on two), and yield when idle: valgrind runs one thread at a
// time, and a reactor that busy-polls holds the CPU until valgrind switches
// threads, so the count would be mostly empty polls.
#include "mesh_measure.hpp"
#include "run.hpp"
#include "qmesh/queues/batched_ring.hpp"
#include "qmesh/runtime/topology.hpp"

#include <cstdio>

int main(int argc, char** argv) {
    using namespace qmesh;
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: qmesh_mesh_count REACTORS WINDOW PER_PAIR [REPLY_QUOTA]\n");
        return 2;
    }
    unsigned reactors = 0, window = 0, per_pair = 0, quota = 0;
    try {
        reactors = bench::parse_count(argv[1], "REACTORS", 2, 256);
        window = bench::parse_count(argv[2], "WINDOW", 1, bench::max_mesh_window);
        per_pair = bench::parse_count(argv[3], "PER_PAIR", 1, 1u << 30);
        if (argc == 5) quota = bench::parse_count(argv[4], "REPLY_QUOTA", 0, bench::max_reply_quota);
    } catch (const bench::usage_error& e) {
        std::fprintf(stderr, "qmesh_mesh_count: %s\n", e.what());
        return 2;
    }
    const auto& pus = rt::topology::instance().available();
    if (pus.empty()) {
        std::fprintf(stderr, "qmesh_mesh_count: no PU available to this process\n");
        return 2;
    }
    bench::mesh_params p;
    for (unsigned i = 0; i < reactors; ++i) p.cores.push_back(pus[i % pus.size()]);
    p.msgs_per_pair = per_pair;
    p.window = window;
    p.capacity = bench::mesh_capacity(window);
    p.oversubscribed = true;  // yield when idle (see the header)
    p.setup.reply_quota = quota;
    p.timeout = std::chrono::minutes(10);  // callgrind runs it some fifty times slower
    const bench::mesh_result r = bench::measure_mesh<batched_ring_kind>(p);
    if (!r.ok) {
        std::fprintf(stderr, "qmesh_mesh_count: %s\n", r.error.c_str());
        return 1;
    }
    const double busy_turns = static_cast<double>(r.cores.turns - r.cores.idle_turns);
    std::printf("ok: %llu reactors on %zu PUs, window %llu, %llu completed, %.3f M requests/s, %llu deferred, "
                "%.1f sent per busy turn, %llu idle turns\n",
                static_cast<unsigned long long>(reactors), pus.size(), static_cast<unsigned long long>(window),
                static_cast<unsigned long long>(r.totals.completed), r.msgs_per_s / 1e6,
                static_cast<unsigned long long>(r.cores.deferred),
                busy_turns > 0 ? static_cast<double>(r.totals.sent) / busy_turns : 0.0,
                static_cast<unsigned long long>(r.cores.idle_turns));
    return 0;
}
