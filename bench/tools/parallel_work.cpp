// qmesh_parallel_work: what the machine itself takes from one core's rate
// when more of its cores are busy. Work that shares nothing (no data, no
// messages) runs alone on each available PU in turn, then at once on the
// first k PUs (k = 2, 4, 8, ..., every PU), and each thread's rate is divided
// by its PU's rate alone, measured in the same repetition. On dedicated cores
// at a fixed clock that ratio is 1 at every k. Below 1 it is the clock
// falling as more cores run (the all-core turbo), two busy threads on one
// core (SMT, or a host that puts two vCPUs on one core), the shared cache and
// on-die network under load, or a host taking time from its guest. For work
// bound by the core, as the mesh's is (runtime/README.md: at N = 16 a request
// costs the instructions it costs at N = 2, but more time), the ratio at k
// over the ratio at 2 is what the machine leaves at N = k of a core's rate at
// N = 2, before any message moves.
//
//   qmesh_parallel_work [MS_PER_STEP [REPS]]     (defaults: 100 ms, 3)
//
// Three workloads, a unit of 64 steps each:
//   alu:   multiply-adds, each waiting for the last: the core's clock, and
//          nothing else (a second thread on the core hardly slows it);
//   ilp:   eight independent chains of shift, xor and add, more than any
//          core issues at once: its clock, and slowed (up to halved) by a
//          second busy thread on the core;
//   chase: dependent loads through a private 4 MiB random cycle: beyond a
//          core's L2 on the machines we run on (2 MiB at most) and within
//          their L3 with every core at it, so each load crosses to the shared
//          L3 and back, as a transfer between cores does.
// Repetitions run round-robin (rep 1 of every step, then rep 2, ...), and a
// ratio divides by the same PU's lone thread of the same repetition and
// workload: hosts drift (../shared/DESIGN.md, "Measuring on noisy, virtual machines").
// A figure, not a test: the ctest run only checks that it runs and reports.
#include "pinned.hpp"
#include "run.hpp"
#include "stats.hpp"
#include "qmesh/runtime/topology.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace qmesh;

constexpr unsigned steps_per_unit = 64;
constexpr std::size_t line_bytes = 64;
constexpr std::size_t chase_bytes = std::size_t{4} << 20;
constexpr std::uint64_t multiplier = 0x9E3779B97F4A7C15ull;

enum class workload { alu, ilp, chase };
constexpr workload workloads[] = {workload::alu, workload::ilp, workload::chase};
const char* to_string(workload w) noexcept {
    return w == workload::alu ? "alu" : w == workload::ilp ? "ilp" : "chase";
}

// One node per cache line, so that every step of the chase is a line of its own.
struct alignas(line_bytes) node {
    node* next;
};
static_assert(sizeof(node) == line_bytes);

// A thread's private cycle through every node in a random order (Sattolo's
// shuffle: one cycle, no shorter loop), so that no prefetcher can guess the
// next line. Built on the thread that walks it: the memory is its node's.
class chase_cycle {
public:
    explicit chase_cycle(std::uint64_t seed) : nodes_(std::make_unique<node[]>(count)) {
        std::vector<std::size_t> order(count);
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::mt19937_64 rng(seed);
        for (std::size_t i = count - 1; i > 0; --i)
            std::swap(order[i], order[std::uniform_int_distribution<std::size_t>(0, i - 1)(rng)]);
        // order is one cycle: node order[i] is followed by order[i + 1].
        for (std::size_t i = 0; i < count; ++i) nodes_[order[i]].next = &nodes_[order[(i + 1) % count]];
        at_ = &nodes_[0];
    }
    // One unit: steps_per_unit dependent loads.
    void unit() noexcept {
        node* p = at_;
        for (unsigned i = 0; i < steps_per_unit; ++i) p = p->next;
        at_ = p;
    }
    const node* at() const noexcept { return at_; }

    static constexpr std::size_t count = chase_bytes / sizeof(node);

private:
    std::unique_ptr<node[]> nodes_;
    node* at_;
};

// One unit of alu: each multiply-add waits for the last. The empty asm keeps
// x in a register at every step, so that the compiler cannot fold the chain.
inline std::uint64_t alu_unit(std::uint64_t x) noexcept {
    for (unsigned i = 0; i < steps_per_unit; ++i) {
        x = x * multiplier + i;
        asm volatile("" : "+r"(x));
    }
    return x;
}

// One unit of ilp: eight chains side by side, each step of one independent
// of the others', in general-purpose registers (the asm: not vectorised, not folded). A
// step is three dependent one-cycle operations, so the chains offer eight
// operations a cycle, more than a core has ports for (and twice its shifts).
inline void ilp_unit(std::uint64_t (&x)[8]) noexcept {
    for (unsigned i = 0; i < steps_per_unit / 8; ++i) {
        for (std::uint64_t& v : x) {
            v = (v ^ (v >> 29)) + i;
            asm volatile("" : "+r"(v));
        }
    }
}

struct step_figure {
    std::vector<double> ns_per_step;  // per thread
    double cpu_share = 1;             // the least over the step's threads (run_pinned)
};

// One step: a thread on each of `cores`, each warms up for `warm_ns`, waits
// (working) until all have, counts units for `window_ns`, then keeps working
// until every thread has counted, so that every window runs with all busy.
// Nothing if an interrupt stopped it; a failure (pinning, the watchdog)
// throws.
std::optional<step_figure> run_step(const std::vector<unsigned>& cores, workload w, std::uint64_t window_ns,
                                    std::uint64_t warm_ns, unsigned rep) {
    const auto k = static_cast<unsigned>(cores.size());
    // Relaxed counters: they only say when to start and stop counting; the
    // figures are read after run_pinned has joined the threads.
    std::atomic<unsigned> ready{0}, counted{0};
    step_figure out;
    out.ns_per_step.resize(k);
    std::vector<std::function<void(const bench::abort_flag&)>> fns;
    for (unsigned t = 0; t < k; ++t)
        fns.push_back([&, t](const bench::abort_flag& abort) {
            std::unique_ptr<chase_cycle> cycle;
            if (w == workload::chase) cycle = std::make_unique<chase_cycle>(0x9E37u * (rep + 1) + t);
            std::uint64_t x[8] = {t + 1, t + 2, t + 3, t + 4, t + 5, t + 6, t + 7, t + 8}, units = 0;
            auto unit = [&] {
                if (w == workload::chase)
                    cycle->unit();
                else if (w == workload::ilp)
                    ilp_unit(x);
                else
                    x[0] = alu_unit(x[0]);
            };
            const std::uint64_t warm_end = bench::now_ns() + warm_ns;
            while (bench::now_ns() < warm_end && !abort.raised()) unit();
            ready.fetch_add(1, std::memory_order_relaxed);
            while (ready.load(std::memory_order_relaxed) < k && !abort.raised()) unit();
            const std::uint64_t t0 = bench::now_ns();
            std::uint64_t t1 = t0;
            while (t1 - t0 < window_ns && !abort.raised()) {
                for (int i = 0; i < 16; ++i) unit();
                units += 16;
                t1 = bench::now_ns();
            }
            counted.fetch_add(1, std::memory_order_relaxed);
            while (counted.load(std::memory_order_relaxed) < k && !abort.raised()) unit();
            out.ns_per_step[t] = static_cast<double>(t1 - t0) / static_cast<double>(units * steps_per_unit);
            // The chains' ends, used, or the chains are dead code.
            const node* end = cycle ? cycle->at() : nullptr;
            std::uint64_t sum = 0;
            for (std::uint64_t v : x) sum ^= v;
            asm volatile("" : : "r"(sum), "r"(end));
        });
    const bench::run_outcome r =
        bench::run_pinned(cores, fns, std::chrono::milliseconds(10 * (window_ns + warm_ns) / 1000000 + 5000));
    if (!r.ok && bench::interrupted()) return std::nullopt;
    if (!r.ok) throw std::runtime_error(std::string(to_string(w)) + " with " + std::to_string(k) + " PU(s) busy: " + r.error);
    out.cpu_share = r.cpu_share;
    return out;
}

// One repetition of one workload: a step alone on each PU (alone[p] on
// pus[p]), then one per busy count (busy[i] on the first ks[i] PUs).
struct workload_rep {
    std::vector<step_figure> alone, busy;
};

}  // namespace

int main(int argc, char** argv) {
    unsigned ms = 100, reps = 3;
    try {
        if (argc > 3) throw bench::usage_error("usage: qmesh_parallel_work [MS_PER_STEP [REPS]]");
        if (argc > 1) ms = bench::parse_count(argv[1], "MS_PER_STEP", 1, 60000);
        if (argc > 2) reps = bench::parse_count(argv[2], "REPS", 1, 1000);
    } catch (const bench::usage_error& e) {
        std::fprintf(stderr, "qmesh_parallel_work: %s\n", e.what());
        return 2;
    }
    const std::vector<unsigned>& pus = rt::topology::instance().available();
    if (pus.size() < 2) {
        std::fprintf(stderr, "qmesh_parallel_work: needs 2 PUs at least, %zu available to this process\n", pus.size());
        return 2;
    }
    // The busy steps: k = 2, 4, 8, ... and every PU.
    std::vector<unsigned> ks;
    for (unsigned k = 2; k < pus.size(); k *= 2) ks.push_back(k);
    ks.push_back(static_cast<unsigned>(pus.size()));
    bench::install_interrupt_handler();

    std::string list;
    for (unsigned p : pus) list += (list.empty() ? "" : ",") + std::to_string(p);
    std::printf("qmesh_parallel_work: %zu PUs available (%s); %u ms a step, %u repetitions round-robin.\n"
                "Work that shares nothing runs alone on each PU in turn (k = 1), then at once on the first k\n"
                "PUs; a thread's rate is divided by its PU's alone in the same repetition. Workloads: alu,\n"
                "dependent multiply-adds (the clock); ilp, eight chains at once (the core's issue); chase,\n"
                "dependent loads through a private %zu MiB cycle (the L3). At k = 1, slowest is the slowest PU\n"
                "alone over the median PU.\n",
                pus.size(), list.c_str(), ms, reps, chase_bytes >> 20);
    constexpr std::size_t nw = std::size(workloads);
    std::vector<std::array<workload_rep, nw>> done;  // the repetitions finished
    const std::uint64_t window_ns = std::uint64_t{ms} * 1000000, warm_ns = window_ns / 5;
    try {
        // A repetition an interrupt cut short is left out whole: its ratios
        // would lack their lone threads.
        for (unsigned rep = 0; rep < reps && !bench::interrupted(); ++rep) {
            std::array<workload_rep, nw> one;
            // No step starts once an interrupt has come (a step stops
            // within a tenth of a second of one: run_pinned's watchdog).
            auto step = [&](std::vector<unsigned> cores, workload w) -> std::optional<step_figure> {
                if (bench::interrupted()) return std::nullopt;
                return run_step(cores, w, window_ns, warm_ns, rep);
            };
            for (std::size_t w = 0; w < nw; ++w) {
                for (unsigned p : pus)
                    if (auto s = step({p}, workloads[w])) one[w].alone.push_back(*s);
                for (unsigned k : ks)
                    if (auto s = step(std::vector<unsigned>(pus.begin(), pus.begin() + k), workloads[w]))
                        one[w].busy.push_back(*s);
            }
            if (bench::interrupted()) break;
            done.push_back(std::move(one));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qmesh_parallel_work: %s\n", e.what());
        return 1;
    }
    if (done.empty()) {
        std::fprintf(stderr, "qmesh_parallel_work: interrupted before a repetition finished\n");
        return bench::interrupted_exit_status();
    }

    std::printf("%-6s %4s  %-12s %-30s %-30s %s\n", "work", "k", "ns/step", "median core (reps' range)",
                "slowest core (reps' range)", "least cpu_share");
    auto range = [](const std::vector<double>& v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f (%.3f-%.3f)", bench::median(v), *std::min_element(v.begin(), v.end()),
                      *std::max_element(v.begin(), v.end()));
        return std::string(buf);
    };
    double least_share = 1;
    auto row = [&](workload w, unsigned k, double ns, const std::vector<double>& mid, const std::vector<double>& slow,
                   double share) {
        least_share = std::min(least_share, share);
        std::printf("%-6s %4u  %-12.3f %-30s %-30s %.2f%s\n", to_string(w), k, ns, range(mid).c_str(),
                    range(slow).c_str(), share,
                    share < bench::low_cpu_share ? "  (shared: another process took CPU time)" : "");
    };
    for (std::size_t w = 0; w < nw; ++w) {
        std::vector<double> ns, mid, slow;
        double share = 1;
        for (const auto& r : done) {
            std::vector<double> a;
            for (const step_figure& s : r[w].alone) {
                a.push_back(s.ns_per_step[0]);
                share = std::min(share, s.cpu_share);
            }
            const double m = bench::median(a);
            ns.push_back(m);
            mid.push_back(1.0);
            slow.push_back(m / *std::max_element(a.begin(), a.end()));
        }
        row(workloads[w], 1, bench::median(ns), mid, slow, share);
        for (std::size_t i = 0; i < ks.size(); ++i) {
            ns.clear(), mid.clear(), slow.clear();
            share = 1;
            for (const auto& r : done) {
                const step_figure& s = r[w].busy[i];
                std::vector<double> ratio;
                for (std::size_t t = 0; t < s.ns_per_step.size(); ++t)
                    ratio.push_back(r[w].alone[t].ns_per_step[0] / s.ns_per_step[t]);
                ns.push_back(bench::median(s.ns_per_step));
                mid.push_back(bench::median(ratio));
                slow.push_back(*std::min_element(ratio.begin(), ratio.end()));
                share = std::min(share, s.cpu_share);
            }
            row(workloads[w], ks[i], bench::median(ns), mid, slow, share);
        }
    }
    std::printf("ok: %zu PUs alone and %zu busy steps per workload, %zu repetition%s%s, least cpu_share %.2f\n",
                pus.size(), ks.size(), done.size(), done.size() == 1 ? "" : "s", bench::interrupted() ? " (interrupted)" : "",
                least_share);
    return bench::interrupted() ? bench::interrupted_exit_status() : 0;
}
