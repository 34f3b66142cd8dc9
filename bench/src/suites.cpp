// The suite driver of `qmesh run`.
//
// Repetitions go round-robin across configurations (rep 1 of everything,
// then rep 2, ...), and each queue's round trip is measured right after a
// fresh floor measurement on the same pair, so that drift of the host (vCPUs
// moving between physical cores) hits numerator and denominator alike.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include <functional>

#include "bracket.hpp"
#include "kv_measure.hpp"
#include "load_measure.hpp"
#include "measure.hpp"
#include "mesh_measure.hpp"
#include "stream_measure.hpp"
#include "submit_measure.hpp"
#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/topology.hpp"
#include "run.hpp"

namespace qmesh::bench {

namespace {

using pair_t = std::pair<unsigned, unsigned>;

// Every ordered pair of distinct cores: the floor matrix.
std::vector<pair_t> ordered_pairs(const std::vector<unsigned>& cores) {
    std::vector<pair_t> r;
    for (unsigned a : cores)
        for (unsigned b : cores)
            if (a != b) r.emplace_back(a, b);
    return r;
}

// One pair per kind of relation (SMT siblings, shared L2, shared L3, same
// node, across nodes), the first in core order: the queue suites run there.
std::vector<pair_t> representative_pairs(const std::vector<unsigned>& cores) {
    const auto& topo = rt::topology::instance();
    std::map<rt::relation, pair_t> first;
    for (std::size_t i = 0; i < cores.size(); ++i)
        for (std::size_t j = i + 1; j < cores.size(); ++j) {
            const auto rel = topo.relation_of(cores[i], cores[j]);
            first.try_emplace(rel, pair_t{cores[i], cores[j]});
        }
    std::vector<pair_t> r;
    for (const auto& [rel, p] : first) r.push_back(p);
    return r;
}

std::string pair_name(pair_t p) { return std::to_string(p.first) + "-" + std::to_string(p.second); }

json base_entry(const std::string& suite, const json& queue, pair_t p, unsigned rep, unsigned reps) {
    const auto& topo = rt::topology::instance();
    const std::string run_name =
        suite + "/" + (queue.is_null() ? std::string() : queue.get<std::string>() + "/") + pair_name(p);
    json e;
    e["name"] = run_name;
    e["run_name"] = run_name;
    e["run_type"] = "iteration";
    e["repetitions"] = reps;
    e["repetition_index"] = rep;
    e["threads"] = 2;
    e["suite"] = suite;
    e["queue"] = queue;
    e["cores"] = {p.first, p.second};
    e["relation"] = std::string(rt::to_string(topo.relation_of(p.first, p.second)));
    return e;
}

// The percentile fields of any result that has p50 ... max (ns).
template <class R>
void put_percentiles(json& e, const R& r) {
    e["p50_ns"] = r.p50;
    e["p90_ns"] = r.p90;
    e["p99_ns"] = r.p99;
    e["p999_ns"] = r.p999;
    e["max_ns"] = r.max;
}

// A latency measurement (latency_result, load_result): real_time is the p50.
template <class R>
void put_latency(json& e, const R& r) {
    e["real_time"] = r.p50;
    e["cpu_time"] = r.p50;  // both sides spin: CPU time is wall time
    e["time_unit"] = "ns";
    e["iterations"] = r.samples;
    e["valid"] = r.ok;
    if (!r.ok) e["error_message"] = r.error;
    put_percentiles(e, r);
    e["cpu_share"] = r.cpu_share;
}

// The farthest relation between any two of `cores`: what a mesh run spans.
rt::relation widest_relation(const std::vector<unsigned>& cores) {
    const auto& topo = rt::topology::instance();
    rt::relation widest = rt::relation::same_pu;
    for (unsigned a : cores)
        for (unsigned b : cores)
            if (a != b) widest = std::max(widest, topo.relation_of(a, b));
    return widest;
}

// A reference measured before and after an entry (bracket.hpp), as the
// entry's fields `NAME_before_p50_ns`, `NAME_after_p50_ns`, and, when they
// agree, `NAME_p50_ns` (their mean) and `NAME_ratio` (r's p50 over it).
// Otherwise (either failed, or they disagree) `NAME_ratio` is null and
// `NAME_error` says why: the entry's own figures stand.
void put_reference(json& e, const std::string& name, const latency_result& r, const reference_pair& ref,
                   const char* what, const bracket_params& bp, unsigned tries) {
    if (ref.before.ok) e[name + "_before_p50_ns"] = ref.before.p50;
    if (ref.after.ok) e[name + "_after_p50_ns"] = ref.after.p50;
    const std::string why = ref.problem(what, bp.tolerance, tries);
    if (why.empty()) {
        e[name + "_p50_ns"] = ref.p50();
        e[name + "_ratio"] = r.ok ? json(r.p50 / ref.p50()) : json(nullptr);
        return;
    }
    e[name + "_error"] = why;
    e[name + "_ratio"] = nullptr;
}

// A one-at-a-time round trip of 8-byte messages on one pair, between two
// floors measured next to it. A floor cut short by the interrupt (the one
// after the entry) is no reference: the entry is marked invalid, and the
// driver drops it as it drops any entry the interrupt cut short.
void put_round_trip(json& e, const latency_result& r, const reference_pair& floor, const latency_params& lp,
                    const bracket_params& bp, unsigned tries) {
    put_latency(e, r);
    e["capacity"] = lp.capacity;
    e["msg_bytes"] = 8;
    e["batch"] = 1;
    e["tries"] = tries;
    put_reference(e, "floor", r, floor, "the floor", bp, tries);
    if (interrupted() && !floor.ok()) {
        e["valid"] = false;
        e["error_message"] = "interrupted";
    }
}

// The fields of a throughput measurement; real_time is ns per message.
void put_throughput(json& e, bool ok, const std::string& error, double msgs_per_s, std::uint64_t iterations) {
    const double ns_per_msg = ok && msgs_per_s > 0 ? 1e9 / msgs_per_s : 0;
    e["real_time"] = ns_per_msg;
    e["cpu_time"] = ns_per_msg;
    e["time_unit"] = "ns";
    e["iterations"] = iterations;
    e["valid"] = ok;
    if (!ok) e["error_message"] = error;
    e["msgs_per_s"] = msgs_per_s;
}

// Batch sizes as [{"le": upper bound, "count": n}]; the last bound is null
// (no upper bound).
json batch_hist_json(const std::array<std::uint64_t, rt::batch_buckets>& b) {
    json h = json::array();
    for (std::size_t i = 0; i < b.size(); ++i) {
        json x;
        x["le"] = i + 1 < b.size() ? json((std::uint64_t{2} << i) - 1) : json(nullptr);
        x["count"] = b[i];
        h.push_back(x);
    }
    return h;
}

// One mesh configuration: N reactors on the first N cores given (or, past
// the cores given, on them again: oversubscribed), one queue kind, `window`
// requests in flight per ordered pair.
json mesh_entry(const run_options& o, unsigned n, const std::string& qn, mesh_state state, rt::polling poll,
                unsigned window, unsigned rep) {
    mesh_params mp;
    mp.window = window;
    mp.capacity = mesh_capacity(window);
    const bool over = n > o.cores.size();
    for (unsigned i = 0; i < n; ++i) mp.cores.push_back(o.cores[i % o.cores.size()]);
    mp.state = state;
    mp.poll = poll;
    mp.oversubscribed = over;
    mp.setup = o.setup;
    // All to all, every core originates the same number of requests at any
    // N (150 000; --quick 50 000), so a run lasts about as long at N = 16 as
    // at 2: a fixed total left 16 cores about 5 ms, of the order of thread
    // start-up and one descheduling of a vCPU. Fan-in keeps a fixed total:
    // core 0 serves them all, so its time does not shrink with N.
    const std::uint64_t per_core = o.quick ? 50'000 : 150'000;
    const std::uint64_t total = state == mesh_state::fan_in ? 2 * per_core : per_core * n;
    const std::uint64_t pairs = state == mesh_state::fan_in ? n - 1 : std::uint64_t{n} * (n - 1);
    mp.msgs_per_pair = std::max<std::uint64_t>(500, total / pairs);
    // Busy receivers answer once per task quota (64 tasks of 1 us): fewer messages.
    if (state == mesh_state::busy) {
        mp.msgs_per_pair = std::max<std::uint64_t>(500, mp.msgs_per_pair / 16);
        mp.busy_task_ns = 1000;
    }
    const std::uint64_t budget = mp.msgs_per_pair;
    // Enough for every slot of the window to carry several requests.
    mp.msgs_per_pair = std::max<std::uint64_t>(mp.msgs_per_pair, std::uint64_t{8} * window);
    // The watchdog allows base_ms for a run of the default budget, longer
    // in proportion when a deep window adds requests per pair, so that is
    // not called a deadlock. (Not with N: each core's share is the same.)
    const std::uint64_t base_ms = o.quick ? 10000 : 30000;
    mp.timeout = std::chrono::milliseconds(base_ms * mp.msgs_per_pair / budget);
    mesh_result r;
    all_queues::with(qn, [&]<class K>() { r = measure_mesh<K>(mp); });
    json e = base_entry("mesh", qn, {mp.cores[0], mp.cores[1]}, rep, o.reps);
    std::string name = "mesh/" + qn + "/n" + std::to_string(n);
    if (state != mesh_state::idle) name += std::string("/") + to_string(state);
    if (poll != rt::smp_config{}.poll) name += "/" + std::string(rt::to_string(poll));
    if (window != default_mesh_window) name += "/w" + std::to_string(window);
    e["name"] = e["run_name"] = name;
    e["cores"] = mp.cores;
    e["threads"] = n;
    e["relation"] = std::string(rt::to_string(widest_relation(mp.cores)));
    // iterations: the measured submissions, the count msgs_per_s is made of
    // (the runtime's totals below also hold the setup's n - 1 messages).
    put_throughput(e, r.ok, r.error, r.msgs_per_s, r.executed);
    e["cpu_share"] = r.cpu_share;
    e["seconds"] = r.seconds;
    e["receiver_state"] = to_string(state);
    e["polling"] = std::string(rt::to_string(poll));
    e["oversubscribed"] = over;
    e["msg_bytes"] = 8;
    e["capacity"] = mp.capacity;
    e["batch"] = mp.window;
    // The runtime's own sample: one submit_to in sample_every, submit to fulfilment.
    put_percentiles(e, r);
    // The runtime's own counters, which balance: they include the n - 1
    // invoke_on_all messages that set the mesh up, so they exceed iterations by n - 1.
    e["sent"] = r.totals.sent;
    e["received"] = r.totals.received;
    e["completed"] = r.totals.completed;
    e["full_stalls"] = r.totals.full_stalls;
    e["empty_polls"] = r.totals.empty_polls;
    e["batch_hist"] = batch_hist_json(r.totals.batches);
    e["turns"] = r.cores.turns;
    e["idle_turns"] = r.cores.idle_turns;
    e["sleeps"] = r.cores.sleeps;
    e["deferred"] = r.cores.deferred;
    // The share of the reactors' loop time (all cores pooled) in turns that
    // had work: with idle_turns, whether the cores wait on each other or
    // are kept busy.
    if (r.cores.loop_ticks > 0)
        e["busy_share"] = static_cast<double>(r.cores.busy_ticks) / static_cast<double>(r.cores.loop_ticks);
    if (state == mesh_state::busy) e["busy_tasks"] = r.busy_tasks;
    if (r.ok) e["finished_s"] = r.finished_s;
    put_mesh_record(e, r.mesh);
    return e;
}

// One pollscale configuration.
json pollscale_entry(const run_options& o, unsigned n, const std::string& qn, rt::polling poll, unsigned rep) {
    rt::smp_config cfg;
    cfg.poll = poll;
    rt::idle_poll_result r;
    std::string error;
    // Enough turns for ~10 ms at the scan's O(N) cost, at least 20000.
    const std::uint64_t turns = std::max<std::uint64_t>(o.quick ? 5000 : 20000, (o.quick ? 200'000 : 1'000'000) / n);
    try {
        // Pinned to the first core given, like every other measurement.
        rt::topology::instance().pin_current_thread(o.cores[0]);
        all_queues::with(qn, [&]<class K>() { r = rt::smp<K>::measure_idle_poll(n, cfg, turns); });
    } catch (const std::exception& ex) {
        error = ex.what();
    }
    json e = base_entry("pollscale", qn, {o.cores[0], o.cores[0]}, rep, o.reps);
    e["name"] = e["run_name"] = "pollscale/" + qn + "/" + std::string(rt::to_string(poll)) + "/n" + std::to_string(n);
    e["cores"] = {o.cores[0]};
    e["threads"] = 1;
    e["real_time"] = r.ns_per_turn;
    e["cpu_time"] = r.ns_per_turn;
    e["time_unit"] = "ns";
    e["iterations"] = turns;
    e["valid"] = error.empty();
    if (!error.empty()) e["error_message"] = error;
    e["polling"] = std::string(rt::to_string(poll));
    e["virtual_cores"] = n;
    e["poll_ns"] = r.ns_per_turn;
    e["pair_bytes"] = r.pair_bytes;
    e["bell_bytes"] = r.bell_bytes;
    e["capacity"] = cfg.queue_capacity;
    return e;
}

// One load configuration: the rate the pair carries these 16-byte messages
// at when the producer never waits (offered far above capacity; the consumer
// still times every message, as in the load runs), measured right before,
// then open-loop latency at each offered fraction of it, in order; one entry
// per fraction. (A plain stream rate would overstate what the timed
// measurement can carry, and every fraction would be an overload.)
json load_entries(const run_options& o, pair_t p, const std::string& qn, double overhead, unsigned rep) {
    json out = json::array();
    load_params sat = load_config(1e12, 1.0, 1024, overhead, o.quick);
    sat.messages = o.quick ? 100'000 : 300'000;
    load_result ref;
    all_queues::with(qn, [&]<class K>() { ref = measure_load<K>(p.first, p.second, sat); });
    ref.ok = ref.ok && ref.msgs_per_s > 0;
    std::vector<double> fractions;
    if (o.quick) fractions.assign(load_fractions_quick.begin(), load_fractions_quick.end());
    else fractions.assign(load_fractions.begin(), load_fractions.end());
    for (double f : fractions) {
        char tag[16];
        std::snprintf(tag, sizeof tag, "f%.2f", f);
        json e = base_entry("load", qn, p, rep, o.reps);
        e["name"] = e["run_name"] = "load/" + qn + "/" + tag + "/" + pair_name(p);
        e["offered_fraction"] = f;
        e["msg_bytes"] = sizeof(load_message);
        e["capacity"] = sat.capacity;
        e["batch"] = 1;
        if (!ref.ok) {
            e["real_time"] = e["cpu_time"] = 0.0;
            e["time_unit"] = "ns";
            e["iterations"] = 0;
            e["valid"] = false;
            e["error_message"] = "reference (saturated) rate: " + (ref.error.empty() ? std::string("zero") : ref.error);
            out.push_back(std::move(e));
            continue;
        }
        const load_params lp = load_config(ref.msgs_per_s, f, sat.capacity, overhead, o.quick);
        load_result r;
        all_queues::with(qn, [&]<class K>() { r = measure_load<K>(p.first, p.second, lp); });
        put_latency(e, r);
        e["stream_msgs_per_s"] = ref.msgs_per_s;
        e["offered_msgs_per_s"] = r.offered_msgs_per_s;
        e["msgs_per_s"] = r.msgs_per_s;
        e["sent"] = lp.messages;
        e["received"] = r.received;
        e["seconds"] = r.seconds;
        e["full_stalls"] = r.full_stalls;
        e["empty_polls"] = r.empty_polls;
        e["late_sends"] = r.late_sends;  // sent over 1 us after their due time: the producer fell behind
        out.push_back(std::move(e));
    }
    return out;
}

// One kv configuration: `design` is "sharded" (over queue qn) or a lock design.
json kv_entry(const run_options& o, unsigned n, const std::string& design, const std::string& qn, double overhead,
              unsigned rep) {
    kv_params kp;
    for (unsigned i = 0; i < n; ++i) kp.cores.push_back(o.cores[i % o.cores.size()]);
    kp.oversubscribed = n > o.cores.size();
    kp.keys = o.quick ? 100'000 : 1'000'000;
    kp.ops_per_core = o.quick ? 50'000 : 200'000;
    kp.write_fraction = 0.1;
    kp.window = 16;
    kp.sample_every = 16;
    kp.timer_overhead_ns = overhead;
    kp.timeout = std::chrono::milliseconds(o.quick ? 10000 : 30000);
    kp.seed = 42 + rep;  // same seed for every design within a repetition
    kp.setup = o.setup;
    kv_result r;
    if (design == "sharded") {
        all_queues::with(qn, [&]<class K>() { r = measure_kv_sharded<K>(kp); });
    } else {
        const kv_design d = design == "mutex" ? kv_design::mutex
                            : design == "shared_mutex" ? kv_design::shared_mutex
                                                       : kv_design::striped;
        r = measure_kv_locked(d, kp);
    }
    json e = base_entry("kv", qn.empty() ? json(nullptr) : json(qn), {kp.cores[0], kp.cores[1]}, rep, o.reps);
    e["name"] = e["run_name"] = "kv/" + design + (qn.empty() ? "" : "/" + qn) + "/n" + std::to_string(n);
    e["cores"] = kp.cores;
    e["threads"] = n;
    e["relation"] = std::string(rt::to_string(widest_relation(kp.cores)));
    put_throughput(e, r.ok, r.error, r.msgs_per_s, r.ops);
    e["design"] = design;
    e["write_fraction"] = kp.write_fraction;
    e["oversubscribed"] = kp.oversubscribed;
    e["msg_bytes"] = 16;
    // Operations in flight per core: the window when sharded; a locked
    // design's thread has one at a time.
    e["batch"] = design == "sharded" ? kp.window : std::size_t{1};
    if (design == "sharded") {
        e["capacity"] = kv_queue_capacity(kp.window);
        put_mesh_record(e, r.mesh);
    }
    put_percentiles(e, r);
    e["completed"] = r.ops;
    e["seconds"] = r.seconds;
    e["cpu_share"] = r.cpu_share;
    return e;
}

class progress {
public:
    explicit progress(std::size_t total) : total_(total), tty_(::isatty(2) != 0), start_(clock::now()) {}
    void step(const std::string& what) {
        ++done_;
        if (!tty_) return;
        const double el = std::chrono::duration<double>(clock::now() - start_).count();
        const double left = done_ > 1 ? el / static_cast<double>(done_ - 1) * static_cast<double>(total_ - done_ + 1) : 0;
        std::fprintf(stderr, "\r\033[K[%zu/%zu] %s  (~%.0f s left)", done_, total_, what.c_str(), left);
        std::fflush(stderr);
    }
    ~progress() {
        if (tty_) std::fprintf(stderr, "\r\033[K");
    }

private:
    std::size_t total_, done_ = 0;
    bool tty_;
    clock::time_point start_;
};

// Aggregates per run_name over the valid repetitions, named and shaped like
// Google Benchmark's (mean, median, stddev, cv, min, max).
void add_aggregates(json& benchmarks) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<const json*>> groups;
    for (const auto& e : benchmarks) {
        const std::string rn = e["run_name"];
        if (groups.find(rn) == groups.end()) order.push_back(rn);
        groups[rn].push_back(&e);
    }
    json aggs = json::array();
    for (const auto& rn : order) {
        const auto& g = groups[rn];
        std::vector<double> t;
        bool all_valid = true;
        for (const json* e : g) {
            if ((*e)["valid"].get<bool>()) t.push_back((*e)["real_time"].get<double>());
            else all_valid = false;
        }
        if (t.empty()) continue;
        auto field_values = [&](const char* f) {
            std::vector<double> v;
            for (const json* e : g)
                if ((*e)["valid"].get<bool>() && e->contains(f) && (*e)[f].is_number()) v.push_back((*e)[f].get<double>());
            return v;
        };
        const double med = median(t), mn = mean(t), sd = stddev(t);
        const std::pair<const char*, double> stats[] = {
            {"mean", mn}, {"median", med}, {"stddev", sd}, {"cv", mn != 0 ? sd / mn : 0},
            {"min", *std::min_element(t.begin(), t.end())}, {"max", *std::max_element(t.begin(), t.end())}};
        for (const auto& [name, value] : stats) {
            json a;
            const json& first = *g.front();
            a["name"] = rn + "_" + name;
            a["run_name"] = rn;
            a["run_type"] = "aggregate";
            a["aggregate_name"] = name;
            a["aggregate_unit"] = std::string(name) == "cv" ? "percentage" : "time";
            a["repetitions"] = static_cast<int>(t.size());
            a["threads"] = first["threads"];
            a["real_time"] = value;
            a["cpu_time"] = value;
            a["time_unit"] = "ns";
            a["iterations"] = static_cast<int>(t.size());
            for (const char* f : {"suite", "queue", "cores", "relation", "capacity", "msg_bytes", "batch", "receiver_state",
                                  "polling", "idle_policy", "idle_poll_us", "oversubscribed", "virtual_cores", "design", "write_fraction",
                                  "offered_fraction"})
                if (first.contains(f)) a[f] = first[f];
            a["valid"] = all_valid;
            if (std::string(name) == "median") {
                for (const char* f : {"p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "floor_p50_ns", "floor_ratio",
                                      "raw_p50_ns", "raw_ratio", "pointer_p50_ns", "pointer_ratio", "msgs_per_s", "poll_ns", "pair_bytes", "bell_bytes",
                                      "offered_msgs_per_s", "stream_msgs_per_s"}) {
                    const std::vector<double> v = field_values(f);
                    if (v.empty()) continue;
                    const double m = median(v);
                    // Byte counts stay whole numbers (a median of two may end
                    // in .5), and do not vary: no spread.
                    if (std::string(f) == "pair_bytes" || std::string(f) == "bell_bytes") {
                        a[f] = static_cast<std::uint64_t>(std::llround(m));
                        continue;
                    }
                    a[f] = m;
                    // Every other figure carries its own spread (DESIGN.md: "the
                    // spread of every figure"): MAD / median over the valid
                    // repetitions, none from fewer than two.
                    if (v.size() >= 2 && m != 0) a[std::string(f) + "_spread"] = mad(v) / m;
                }
                // Batch sizes: summed over the valid repetitions.
                if (first.contains("batch_hist")) {
                    json h = first["batch_hist"];
                    for (auto& b : h) b["count"] = 0;
                    for (const json* e : g)
                        if ((*e)["valid"].get<bool>() && e->contains("batch_hist"))
                            for (std::size_t i = 0; i < h.size() && i < (*e)["batch_hist"].size(); ++i)
                                h[i]["count"] = h[i]["count"].get<std::uint64_t>() +
                                                (*e)["batch_hist"][i]["count"].get<std::uint64_t>();
                    a["batch_hist"] = h;
                }
                // From one valid repetition there is no spread and no
                // interval: none is written rather than a zero that would
                // claim certainty.
                if (t.size() >= 2) {
                    a["spread"] = med != 0 ? mad(t) / med : 0.0;
                    // 95 % confidence interval of the mean real_time (Student's t).
                    const double hw = ci95_half_width(t);
                    a["ci95_low"] = mn - hw;
                    a["ci95_high"] = mn + hw;
                }
            }
            aggs.push_back(std::move(a));
        }
    }
    for (auto& a : aggs) benchmarks.push_back(std::move(a));
}

}  // namespace

// Entries whose measuring threads only ever spin (no blocking queue, no
// locked kv design, no sleeping reactors, not oversubscribed) should have had
// their cores to themselves: a cpu_share below low_cpu_share there means
// another process took the CPU, and the figure measured the scheduler as much
// as the queue. (A blocking design's threads, and reactors that park under
// --idle sleep, may sleep in the kernel by design: their share says that, and
// is not flagged.)
std::string cpu_share_warning(const json& benchmarks) {
    std::size_t low = 0, spinning = 0;
    double least = 1.0;
    std::string worst;
    for (const auto& e : benchmarks) {
        if (!e.contains("cpu_share") || !e["valid"].get<bool>() || e.value("oversubscribed", false)) continue;
        if (e.value("design", std::string("sharded")) != "sharded") continue;
        if (e.value("idle_policy", std::string("busy-poll")) != "busy-poll") continue;
        if (e["queue"].is_string()) {
            const auto t = all_queues::find(e["queue"].get<std::string>());
            if (t && t->progress == qmesh::progress::blocking) continue;
        }
        ++spinning;
        const double s = e["cpu_share"].get<double>();
        if (s >= low_cpu_share) continue;
        ++low;
        if (s < least) {
            least = s;
            worst = e["run_name"].get<std::string>();
        }
    }
    if (low == 0) return {};
    char share[16];
    std::snprintf(share, sizeof share, "%.2f", least);
    return std::to_string(low) + " of " + std::to_string(spinning) +
           " entries whose threads only spin got less than " + std::to_string(static_cast<int>(low_cpu_share * 100)) +
           " % of a CPU per measuring thread (least " + share + ", " + worst +
           "): another process competed for their cores, so those figures include its time slices";
}

json run_suites(const run_options& o, json& context) {
    context["oversubscribe"] = o.oversubscribe;
    {
        // The meshes' queue placement (--numa; the runtime's default: the
        // receiver's node), a no-op on a single-node machine, their idle
        // policy (--idle) with, when they sleep, their poll time (--idle-poll),
        // their reply quota (--reply-quota) and poll budget (--poll-budget).
        json numa;
        numa["nodes"] = rt::detail::numa_node_count();
        numa["placement"] = std::string(rt::to_string(o.setup.placement));
        numa["applied"] = rt::detail::numa_node_count() > 1;
        context["numa"] = numa;
        put_idle(context, o.setup.idle, o.setup.idle_poll);
        context["reply_quota"] = o.setup.reply_quota;
        context["poll_budget"] = o.setup.poll_budget;
    }
    auto wants = [&](const char* s) { return std::find(o.suites.begin(), o.suites.end(), s) != o.suites.end(); };
    const double overhead = context["timer_overhead_ns"].get<double>();

    latency_params lp;
    lp.timer_overhead_ns = overhead;
    lp.warmup = o.quick ? 200 : 2000;
    lp.samples = o.quick ? 2000 : 20000;
    lp.timeout = std::chrono::milliseconds(o.quick ? 5000 : 20000);

    const auto floor_pairs = ordered_pairs(o.cores);
    const auto queue_pairs = representative_pairs(o.cores);
    std::map<pair_t, std::vector<double>> floors;  // every floor p50 measured, per pair
    // `adjacent`: measured next to a queue, to divide it (a failure then
    // leaves that entry without a ratio, which the context says; the floor
    // suite's own failures are invalid entries, listed like any other).
    auto floor_on = [&](pair_t p, bool adjacent) {
        latency_result r = measure_floor(p.first, p.second, lp);
        if (r.ok) floors[p].push_back(r.p50);
        else if (adjacent && !interrupted())  // an interrupted entry is dropped: no warning about it
            context["warnings"].push_back("a floor on pair " + pair_name(p) + " failed (" + r.error +
                                          "): the entry measured next to it was measured again, or has "
                                          "floor_ratio null and says why in floor_error");
        return r;
    };
    // Round trips are measured between two measurements of their reference
    // (bracket.hpp), and again while those disagree.
    const bracket_params bp{o.bracket_tolerance, o.bracket_attempts};
    // Measures an entry between two floors of pair p: `body(m)` fills an
    // outcome m (a copy of `blank`, with a reference_pair `floor`), and the
    // whole is measured again while `settled(m)` says no, at most
    // bp.attempts times. Returns the last outcome and the number of tries.
    auto between_floors = [&](pair_t p, const auto& blank, auto&& body, auto&& settled) {
        return until_settled(
            bp.attempts,
            [&] {
                auto m = blank;
                m.floor.before = floor_on(p, true);
                body(m);
                m.floor.after = floor_on(p, true);
                return m;
            },
            settled, interrupted);
    };

    // Every configuration of every suite, as a closure measuring one
    // repetition; the repetitions then go round-robin over this list.
    struct config {
        std::string label;
        std::function<json(unsigned rep)> measure;
    };
    std::vector<config> configs;

    if (wants("floor"))
        for (pair_t p : floor_pairs)
            configs.push_back({"floor " + pair_name(p), [&, p](unsigned rep) {
                                   json e = base_entry("floor", nullptr, p, rep, o.reps);
                                   const latency_result f = floor_on(p, false);
                                   put_latency(e, f);
                                   // Then the same pair with a request passed
                                   // by pointer (measure.hpp): an added figure,
                                   // whose failure leaves the floor valid.
                                   const latency_result r = measure_pointer_floor(p.first, p.second, lp);
                                   if (r.ok) {
                                       e["pointer_p50_ns"] = r.p50;
                                       if (f.ok && f.p50 > 0) e["pointer_ratio"] = r.p50 / f.p50;
                                   } else {
                                       e["pointer_error"] = r.error;
                                   }
                                   e["cpu_share"] = std::min(f.cpu_share, r.cpu_share);
                                   return e;
                               }});

    if (wants("pingpong"))
        for (pair_t p : queue_pairs)
            for (const auto& qn : o.queues)
                configs.push_back({"pingpong " + qn + " " + pair_name(p), [&, p, qn](unsigned rep) {
                                       struct outcome {
                                           reference_pair floor;
                                           latency_result r;
                                       };
                                       auto [out, tries] = between_floors(
                                           p, outcome{},
                                           [&](outcome& m) {
                                               all_queues::with(qn, [&]<class K>() {
                                                   m.r = measure_pingpong<K>(p.first, p.second, lp);
                                               });
                                           },
                                           // A failed round trip is not measured again.
                                           [&](const outcome& m) { return !m.r.ok || m.floor.agree(bp.tolerance); });
                                       json e = base_entry("pingpong", qn, p, rep, o.reps);
                                       put_round_trip(e, out.r, out.floor, lp, bp, tries);
                                       return e;
                                   }});

    if (wants("submit"))
        for (pair_t p : queue_pairs)
            for (const auto& qn : o.queues)
                for (const rt::polling pol : {rt::polling::scan, rt::polling::doorbell})
                    configs.push_back({"submit " + qn + " " + std::string(rt::to_string(pol)) + " " + pair_name(p),
                                       [&, p, qn, pol](unsigned rep) {
                                           // Floor, raw queue round trip, submit_to round trip,
                                           // raw, floor: adjacent, on the same pair, each
                                           // reference on both sides of what it divides.
                                           struct outcome {
                                               reference_pair floor, raw;
                                               latency_result sub;
                                               mesh_record mesh;
                                           };
                                           // A failed round trip, submit_to's or the raw
                                           // queue's, is the queue's failure: not measured
                                           // again, the entry stands as it is.
                                           auto settled = [&](const outcome& m) {
                                               return !m.sub.ok || !m.raw.before.ok || !m.raw.after.ok ||
                                                      (m.floor.agree(bp.tolerance) && m.raw.agree(bp.tolerance));
                                           };
                                           auto [out, tries] = between_floors(p, outcome{}, [&](outcome& m) {
                                               all_queues::with(qn, [&]<class K>() {
                                                   m.raw.before = measure_pingpong<K>(p.first, p.second, lp);
                                                   m.sub = measure_submit<K>(p.first, p.second, lp, pol, o.setup,
                                                                             &m.mesh);
                                                   m.raw.after = measure_pingpong<K>(p.first, p.second, lp);
                                               });
                                           }, settled);
                                           json e = base_entry("submit", qn, p, rep, o.reps);
                                           if (pol != rt::smp_config{}.poll)
                                               e["name"] = e["run_name"] = "submit/" + qn + "/" +
                                                                           std::string(rt::to_string(pol)) + "/" +
                                                                           pair_name(p);
                                           put_round_trip(e, out.sub, out.floor, lp, bp, tries);
                                           e["polling"] = std::string(rt::to_string(pol));
                                           put_mesh_record(e, out.mesh);
                                           // The raw round trip of the queue itself failing is
                                           // the queue's failure: the entry is invalid.
                                           for (const latency_result* raw : {&out.raw.before, &out.raw.after})
                                               if (!raw->ok && out.sub.ok && e["valid"].get<bool>()) {
                                                   e["valid"] = false;
                                                   e["error_message"] = "raw round trip: " + raw->error;
                                               }
                                           put_reference(e, "raw", out.sub, out.raw, "the raw round trip", bp, tries);
                                           return e;
                                       }});

    if (wants("stream")) {
        // Message size x batch at capacity 1024, and the capacity sweep at
        // 8 bytes, batch 32 (quick: one point).
        struct shape {
            std::size_t bytes, cap, batch;
        };
        std::vector<shape> shapes;
        if (o.quick) {
            shapes.push_back({8, 1024, 32});
        } else {
            static constexpr std::size_t sizes[] = {8, 64, 256}, batches[] = {1, 32}, caps[] = {64, 256, 4096};
            for (std::size_t bytes : sizes)
                for (std::size_t batch : batches) shapes.push_back({bytes, 1024, batch});
            for (std::size_t cap : caps) shapes.push_back({8, cap, 32});
        }
        for (pair_t p : queue_pairs)
            for (const auto& qn : o.queues)
                for (const shape sh : shapes) {
                    const std::size_t bytes = sh.bytes, cap = sh.cap, batch = sh.batch;
                    const std::string tag = qn + "/" + std::to_string(bytes) + "B/cap" + std::to_string(cap) +
                                            "/batch" + std::to_string(batch);
                    configs.push_back({"stream " + tag + " " + pair_name(p), [&, p, qn, bytes, cap, batch,
                                                                              tag](unsigned rep) {
                        stream_params sp;
                        sp.messages = o.quick ? 200'000 : 500'000;
                        sp.capacity = cap;
                        sp.batch = batch;
                        sp.timeout = std::chrono::milliseconds(o.quick ? 10000 : 30000);
                        stream_result r;
                        all_queues::with(qn, [&]<class K>() {
                            if (bytes == 8) r = measure_stream<K, 8>(p.first, p.second, sp);
                            else if (bytes == 64) r = measure_stream<K, 64>(p.first, p.second, sp);
                            else r = measure_stream<K, 256>(p.first, p.second, sp);
                        });
                        json e = base_entry("stream", qn, p, rep, o.reps);
                        e["name"] = e["run_name"] = "stream/" + tag + "/" + pair_name(p);
                        put_throughput(e, r.ok, r.error, r.msgs_per_s, r.received);
                        e["msg_bytes"] = bytes;
                        e["capacity"] = cap;
                        e["batch"] = batch;
                        e["sent"] = sp.messages;
                        e["received"] = r.received;
                        e["seconds"] = r.seconds;
                        e["cpu_share"] = r.cpu_share;
                        e["full_stalls"] = r.full_stalls;
                        e["empty_polls"] = r.empty_polls;
                        return e;
                    }});
                }
    }

    if (wants("load"))
        for (pair_t p : queue_pairs)
            for (const auto& qn : o.queues)
                configs.push_back({"load " + qn + " " + pair_name(p), [&, p, qn](unsigned rep) {
                                       return load_entries(o, p, qn, overhead, rep);
                                   }});

    if (wants("mesh")) {
        // N = 2, 4, 8, ... and all the cores given; with --oversubscribe also
        // twice as many reactors as cores (they share PUs and yield).
        std::vector<unsigned> ns;
        for (unsigned n = 2; n < o.cores.size(); n *= 2) ns.push_back(n);
        ns.push_back(static_cast<unsigned>(o.cores.size()));
        if (o.oversubscribe) ns.push_back(static_cast<unsigned>(o.cores.size() * 2));
        // Every queue idle under both polling strategies; busy and fan-in
        // receivers with the default, scan (quick: idle, scan only).
        struct variant {
            mesh_state state;
            rt::polling poll;
        };
        std::vector<variant> variants{{mesh_state::idle, rt::polling::scan}};
        if (!o.quick) {
            variants.push_back({mesh_state::idle, rt::polling::doorbell});
            variants.push_back({mesh_state::busy, rt::polling::scan});
            variants.push_back({mesh_state::fan_in, rt::polling::scan});
        }
        for (unsigned n : ns)
            for (const variant v : variants)
                for (unsigned w : o.windows)
                    for (const auto& qn : o.queues)
                        configs.push_back({"mesh " + qn + " n=" + std::to_string(n) + " " + to_string(v.state) + " " +
                                               std::string(rt::to_string(v.poll)) + " window=" + std::to_string(w),
                                           [&, n, qn, v, w](unsigned rep) {
                                               return mesh_entry(o, n, qn, v.state, v.poll, w, rep);
                                           }});
    }

    if (wants("kv")) {
        // The SEED workload at N = 2, 4, ... and all cores given (and twice
        // that with --oversubscribe): sharded over every queue, and the three
        // shared-map designs, same keys, same per-core operations, same cores.
        std::vector<unsigned> ns;
        for (unsigned n = 2; n < o.cores.size(); n *= 2) ns.push_back(n);
        ns.push_back(static_cast<unsigned>(o.cores.size()));
        if (o.oversubscribe) ns.push_back(static_cast<unsigned>(o.cores.size() * 2));
        for (unsigned n : ns) {
            for (const auto& qn : o.queues)
                configs.push_back({"kv sharded " + qn + " n=" + std::to_string(n), [&, n, qn](unsigned rep) {
                                       return kv_entry(o, n, "sharded", qn, overhead, rep);
                                   }});
            for (const kv_design d : {kv_design::mutex, kv_design::shared_mutex, kv_design::striped})
                configs.push_back({"kv " + std::string(to_string(d)) + " n=" + std::to_string(n),
                                   [&, n, d](unsigned rep) { return kv_entry(o, n, std::string(to_string(d)), "", overhead, rep); }});
        }
    }

    if (wants("pollscale")) {
        // Idle poll cost per reactor turn for N = 2 ... 256 virtual cores,
        // per polling strategy, built in memory on one core (see
        // smp::measure_idle_poll).
        std::vector<unsigned> ns;
        for (unsigned n = 2; n <= 256; n *= o.quick ? 8 : 2) ns.push_back(n);
        if (ns.back() != 256) ns.push_back(256);
        for (const auto& qn : o.queues)
            for (const rt::polling pol : {rt::polling::scan, rt::polling::doorbell})
                for (unsigned n : ns)
                    configs.push_back({"pollscale " + qn + " " + std::string(rt::to_string(pol)) + " n=" + std::to_string(n),
                                       [&, n, qn, pol](unsigned rep) { return pollscale_entry(o, n, qn, pol, rep); }});
    }

    progress prog(configs.size() * o.reps);
    json benchmarks = json::array();
    bool stopped = false;
    for (unsigned rep = 0; rep < o.reps && !stopped; ++rep)
        for (const auto& c : configs) {
            if ((stopped = interrupted())) break;
            prog.step(c.label + " rep " + std::to_string(rep + 1) + "/" + std::to_string(o.reps));
            json e = c.measure(rep);  // one entry, or an array of them
            if (!e.is_array()) e = json::array({std::move(e)});
            bool all_valid = true;
            for (const auto& x : e) all_valid &= x["valid"].get<bool>();
            if (interrupted() && !all_valid) {
                stopped = true;  // cut short by the interrupt: not a result
                break;
            }
            for (auto& x : e) benchmarks.push_back(std::move(x));
        }

    // Drift of the floor over the run: the largest (max - min) / median of
    // any pair's floor measurements.
    // Its spread, as DESIGN.md asks of every figure: the largest MAD / median.
    double drift = -1, spread = -1;
    for (const auto& [p, v] : floors) {
        if (v.size() < 2) continue;
        const double m = median(v);
        const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        if (m > 0) {
            drift = std::max(drift, (*hi - *lo) / m);
            spread = std::max(spread, mad(v) / m);
        }
    }
    if (drift >= 0) {
        context["floor_drift"] = drift;
        context["floor_spread"] = spread;
        if (drift > 0.20)
            context["warnings"].push_back("the floor drifted by " + std::to_string(static_cast<int>(drift * 100)) +
                                          " % during the run: absolute times moved; ratios to adjacent floors still hold");
    }
    // The clock's step against the least floor: every round trip is on its
    // grid, off by up to half a step, so a ratio of two near the floor is off
    // by up to a step over the floor (half a step over each).
    const double step = context.value("timer_step_ns", 1.0);
    double least = 0;
    for (const auto& [p, v] : floors)
        if (!v.empty() && (least == 0 || median(v) < least)) least = median(v);
    if (step > 1 && least > 0 && step / least > 0.02)
        context["warnings"].push_back(
            "the clock steps by " + std::to_string(std::lround(step)) + " ns: every latency falls on that grid, "
            "so a ratio of two round trips near the " + std::to_string(std::lround(least)) +
            " ns floor may be off by up to " + std::to_string(std::lround(100 * step / least)) + " %");
    // How many of the round trips kept took more than one try, and how many
    // have a ratio missing (references that never agreed, or failed).
    std::size_t bracketed = 0, retried = 0, unsettled = 0;
    for (const auto& e : benchmarks) {
        if (!e.contains("tries")) continue;
        ++bracketed;
        if (e["tries"].get<unsigned>() > 1) ++retried;
        if (e.contains("floor_error") || e.contains("raw_error")) ++unsettled;
    }
    if (bracketed != 0) {
        context["bracket"] = {{"tolerance", bp.tolerance}, {"attempts", bp.attempts}, {"entries", bracketed},
                              {"retried", retried}, {"unsettled", unsettled}};
        if (retried != 0)
            context["warnings"].push_back(
                std::to_string(retried) + " of " + std::to_string(bracketed) +
                " round-trip entries were measured again because a reference (floor, or raw round trip) "
                "measured before and after them disagreed by more than " +
                std::to_string(std::lround(bp.tolerance * 100)) + " % (the host moved the threads) or failed");
        if (unsettled != 0)
            context["warnings"].push_back(std::to_string(unsettled) + " of " + std::to_string(bracketed) +
                                          " round-trip entries have a ratio missing (floor_error, raw_error say why)");
    }
    if (stopped) {
        context["interrupted"] = true;
        context["warnings"].push_back("the run was interrupted: results are partial");
    }
    for (const auto& e : benchmarks)
        if (!e["valid"].get<bool>())
            context["warnings"].push_back(e["run_name"].get<std::string>() + " rep " +
                                          std::to_string(e["repetition_index"].get<int>()) +
                                          " invalid: " + e.value("error_message", std::string("?")));
    if (const std::string w = cpu_share_warning(benchmarks); !w.empty()) context["warnings"].push_back(w);
    add_aggregates(benchmarks);
    return benchmarks;
}

}  // namespace qmesh::bench
