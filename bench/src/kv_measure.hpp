// bench/src/kv_measure.hpp: the workload of shared/SEED.txt at application
// level: a key-value store looked up and updated from every core, once
// sharded by message passing (each core owns the keys that hash to it and
// serves them to the others through submit_to) and once in the conventional
// threaded design (one map shared by all threads under std::mutex, under
// std::shared_mutex, or split into mutex-protected stripes). Same keys, same
// per-core operation sequences, same cores; every reply is checked.
//
// The workload. Keys are 0 .. keys-1, values 8 bytes. Core c runs
// ops_per_core operations, generated from the seed before anything is timed:
// a get of a uniformly drawn key, or (with probability write_fraction) a put
// of a uniformly drawn key among the keys c writes. Each key has exactly one
// writer core, key % n, so the final state is deterministic whatever the
// interleaving: a key ends with its writer's last put. Every store is filled
// with all keys before timing, so no operation allocates.
//
// Values say who wrote them: the initial value of key k is k; the value that
// put number i of core c stores is ((c + 1) << 40) | i. Each put returns the
// value it replaced. The check, after the run, replays every core's sequence
// against a sequential model:
//   - a put, and a get of a key the same core writes, must return exactly the
//     model's value (the core's own earlier puts of that key all ran before:
//     the locked designs run a core's operations in order; the sharded one
//     issues them in order, and submissions from one core to another run
//     there in submission order);
//   - a get of another core's key must return that key's initial value or a
//     value one of its writer's puts of that key stored;
//   - afterwards every key must hold its model value, and the stores exactly
//     the key set.
// A result also counts its operations: ok needs exactly cores x ops_per_core.
//
// Latency: every sample_every-th operation of each core is timed from issue
// to reply (net of the timer's overhead). In the sharded design a core keeps
// `window` operations outstanding, so a remote operation's latency includes
// queueing behind the window; a locked-design thread has one operation
// outstanding, so its latency is lock + lookup + unlock, including waiting
// for the lock. Throughput is all cores' operations over the span from the
// first core's start to the last core's end.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mesh_setup.hpp"
#include "pinned.hpp"
#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/runtime/smp.hpp"
#include "stats.hpp"

namespace qmesh::bench {

struct kv_params {
    std::vector<unsigned> cores;        // one client (and, sharded, one shard owner) per entry
    std::uint64_t keys = 100'000;       // key set 0 .. keys-1; at least cores.size(), below 2^40
    std::uint64_t ops_per_core = 100'000;  // operations each core runs; below 2^40
    double write_fraction = 0.1;        // share of puts, 0 .. 1
    std::size_t window = 16;            // sharded: operations outstanding per core
    unsigned sample_every = 16;         // latency sample rate
    double timer_overhead_ns = 0;
    bool oversubscribed = false;        // more reactors than PUs: reactors yield when idle
    mesh_setup setup;                   // sharded: NUMA placement, idle policy
    std::chrono::milliseconds timeout{20000};
    std::uint64_t seed = 1;
    std::size_t stripes = 64;           // striped design: number of stripes
    // Test only: core 0's last put stores a wrong value (its own value with
    // the lowest bit flipped), so the check must fail. Needs core 0 to put.
    bool inject_fault = false;
};

struct kv_result {
    bool ok = false;
    std::string error;
    double msgs_per_s = 0;  // operations per second, all cores
    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // sampled per-operation latency, ns
    std::uint64_t ops = 0;  // operations completed, all cores
    double seconds = 0;     // first start to last end
    double cpu_share = 1.0;  // see run_outcome (sharded: the reactors')
    mesh_record mesh;        // sharded: what the mesh ran with
};

enum class kv_design { mutex, shared_mutex, striped };

inline std::string_view to_string(kv_design d) noexcept {
    switch (d) {
        case kv_design::mutex: return "mutex";
        case kv_design::shared_mutex: return "shared_mutex";
        case kv_design::striped: return "striped";
    }
    return "?";
}

namespace kv_detail {

using map = std::unordered_map<std::uint64_t, std::uint64_t>;

// An operation is one word: the key in the low 40 bits, put_bit for a put,
// fault_bit on the one put that inject_fault corrupts.
inline constexpr std::uint64_t key_mask = (std::uint64_t{1} << 40) - 1;
inline constexpr std::uint64_t put_bit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t fault_bit = std::uint64_t{1} << 62;
// The reply of an operation whose key is not in the store (never expected:
// every key is there from the start).
inline constexpr std::uint64_t missing = ~std::uint64_t{0};

inline constexpr std::uint64_t initial_value(std::uint64_t key) noexcept { return key; }
inline constexpr std::uint64_t put_value(unsigned core, std::uint64_t i) noexcept {
    return ((std::uint64_t{core} + 1) << 40) | i;
}
// The value operation i of `core` carries to the store (a get ignores it).
inline constexpr std::uint64_t value_of(unsigned core, std::uint64_t i, std::uint64_t op) noexcept {
    return put_value(core, i) ^ ((op & fault_bit) != 0 ? 1 : 0);
}

// splitmix64's finaliser: spreads consecutive keys over shards and stripes
// independently of key % n, which picks the writer.
inline constexpr std::uint64_t mix(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// One get or put against one map; the caller holds whatever lock guards it.
inline std::uint64_t apply(map& m, std::uint64_t op, std::uint64_t v) {
    auto it = m.find(op & key_mask);
    if (it == m.end()) return missing;
    if ((op & put_bit) != 0) return std::exchange(it->second, v);
    return it->second;
}
inline std::uint64_t get(const map& m, std::uint64_t key) {
    auto it = m.find(key);
    return it == m.end() ? missing : it->second;
}

// Every core's operation sequence, generated before timing.
struct workload {
    unsigned n = 0;
    std::uint64_t keys = 0, per_core = 0;
    std::vector<std::vector<std::uint64_t>> ops;  // [core][i]; read-only once built
};

// An empty string, or why the parameters cannot run.
inline std::string check_params(const kv_params& p) {
    const std::size_t n = p.cores.size();
    if (n == 0) return "no cores given";
    if (p.keys < n) return "keys (" + std::to_string(p.keys) + ") must be at least the number of cores";
    if (p.keys > key_mask) return "keys must be below 2^40";
    if (p.ops_per_core == 0 || p.ops_per_core > key_mask) return "ops_per_core must be 1 .. 2^40-1";
    if (!(p.write_fraction >= 0 && p.write_fraction <= 1)) return "write_fraction must be within 0 .. 1";
    if (p.window == 0) return "window must be at least 1";
    if (p.sample_every == 0) return "sample_every must be at least 1";
    if (p.stripes == 0) return "stripes must be at least 1";
    return {};
}

inline workload make_workload(const kv_params& p) {
    workload w;
    w.n = static_cast<unsigned>(p.cores.size());
    w.keys = p.keys;
    w.per_core = p.ops_per_core;
    w.ops.resize(w.n);
    for (unsigned c = 0; c < w.n; ++c) {
        // One splitmix64 stream per core, from the seed.
        std::uint64_t s = p.seed ^ mix(c + 1);
        auto next = [&s] { return mix(s += 0x9e3779b97f4a7c15ULL); };
        const std::uint64_t own = (p.keys - c + w.n - 1) / w.n;  // keys k < keys with k % n == c
        auto& ops = w.ops[c];
        ops.resize(p.ops_per_core);
        std::uint64_t last_put = key_mask + 1;
        for (std::uint64_t i = 0; i < p.ops_per_core; ++i) {
            const double u = static_cast<double>(next() >> 11) * 0x1.0p-53;
            if (u < p.write_fraction) {
                ops[i] = (c + w.n * (next() % own)) | put_bit;
                last_put = i;
            } else {
                ops[i] = next() % p.keys;
            }
        }
        if (p.inject_fault && c == 0 && last_put <= key_mask) ops[last_put] |= fault_bit;
    }
    return w;
}

// Replays every core's sequence against the sequential model (see the top of
// this file). results[c][i] is what operation i of core c returned;
// `stored(k)` what key k holds at the end (missing if absent); `stored_keys`
// how many keys the stores hold. Returns an empty string, or the first
// mismatch.
template <class Lookup>
std::string check(const workload& w, const std::vector<std::vector<std::uint64_t>>& results, Lookup&& stored,
                  std::uint64_t stored_keys) {
    auto valid = [&w](std::uint64_t key, std::uint64_t v) {
        const std::uint64_t tag = v >> 40, i = v & key_mask;
        if (tag == 0) return i == initial_value(key);
        if (tag != key % w.n + 1 || i >= w.per_core) return false;
        const std::uint64_t op = w.ops[key % w.n][i];
        return (op & put_bit) != 0 && (op & key_mask) == key;
    };
    std::vector<std::uint64_t> model(w.keys);
    for (std::uint64_t k = 0; k < w.keys; ++k) model[k] = initial_value(k);
    // Each key has one writer, so replaying the cores one after another
    // gives every key its writer's order, which is all the model needs.
    for (unsigned c = 0; c < w.n; ++c)
        for (std::uint64_t i = 0; i < w.per_core; ++i) {
            const std::uint64_t op = w.ops[c][i], key = op & key_mask, got = results[c][i];
            const bool put = (op & put_bit) != 0;
            const bool exact = put || key % w.n == c;
            if (exact ? got != model[key] : !valid(key, got))
                return "core " + std::to_string(c) + " operation " + std::to_string(i) + " (" +
                       (put ? "put" : "get") + " of key " + std::to_string(key) + ") returned " + std::to_string(got) +
                       (exact ? ", expected " + std::to_string(model[key]) : ", a value no put of that key stored");
            if (put) model[key] = put_value(c, i);
        }
    if (stored_keys != w.keys)
        return "the stores hold " + std::to_string(stored_keys) + " keys, expected " + std::to_string(w.keys);
    for (std::uint64_t k = 0; k < w.keys; ++k) {
        const std::uint64_t v = stored(k);
        if (v != model[k])
            return "key " + std::to_string(k) + " ends with " + std::to_string(v) + ", expected " +
                   std::to_string(model[k]) + " (its writer's last put)";
    }
    return {};
}

// Per-core figures, each written by its own core (reactor or thread) only and
// read after the join.
struct alignas(cache_line_bytes) core_stats {
    std::uint64_t next = 0;  // sharded: index of the next operation to issue
    std::uint64_t done = 0;  // operations completed
    std::uint64_t start = 0, end = 0;
    histogram lat;
};

inline void summarise(kv_result& r, const std::vector<core_stats>& st) {
    std::uint64_t start = UINT64_MAX, end = 0;
    histogram all;
    r.ops = 0;
    for (const auto& c : st) {
        start = std::min(start, c.start);
        end = std::max(end, c.end);
        r.ops += c.done;
        all.merge(c.lat);
    }
    r.p50 = all.quantile(0.5);
    r.p90 = all.quantile(0.9);
    r.p99 = all.quantile(0.99);
    r.p999 = all.quantile(0.999);
    r.max = static_cast<double>(all.max());
    r.seconds = end > start ? static_cast<double>(end - start) / 1e9 : 0;
    r.msgs_per_s = r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0;
}

inline void record(histogram& h, std::uint64_t t0, double overhead) {
    const double dt = static_cast<double>(now_ns() - t0) - overhead;
    h.record(dt > 0 ? static_cast<std::uint64_t>(dt) : 0);
}

// The sharded store: shard c is created, filled and touched only by reactor c.
struct sharded_ctx {
    const workload& w;
    const kv_params& p;
    std::vector<std::unique_ptr<map>> shards;
    std::vector<std::vector<std::uint64_t>> results;  // [core][i], written by that core only
    std::vector<core_stats> stats;

    unsigned owner(std::uint64_t key) const noexcept { return static_cast<unsigned>(mix(key) % w.n); }
};

inline void fill_shard(sharded_ctx& x, unsigned me) {
    auto m = std::make_unique<map>();
    m->reserve(static_cast<std::size_t>(x.w.keys / x.w.n + 1));
    for (std::uint64_t k = 0; k < x.w.keys; ++k)
        if (x.owner(k) == me) m->emplace(k, initial_value(k));
    x.shards[me] = std::move(m);
    x.results[me].assign(x.w.per_core, missing);
}

// The submit group the clients' operations go in: group 0 carries the
// invoke_on_all that runs each core's clients and holds its slot from core 0
// to every core for the whole run, so in group 0 core 0 had one slot less
// than the window to each core (see bench/src/mesh_measure.hpp).
inline constexpr rt::submit_group kv_op_group{1};

// One outstanding-operation slot of core `me`. A free coroutine, not a
// lambda, so its frame owns its arguments. Every pump takes the next index
// and issues that operation without suspending in between, so a core issues
// its operations in index order whatever the number of pumps.
template <class Mesh>
rt::future<> pump(Mesh& mesh, sharded_ctx& x, unsigned me) {
    core_stats& st = x.stats[me];
    const auto& ops = x.w.ops[me];
    auto& res = x.results[me];
    map& local = *x.shards[me];
    for (;;) {
        const std::uint64_t i = st.next++;
        if (i >= x.w.per_core) break;
        const std::uint64_t op = ops[i], v = value_of(me, i, op);
        const unsigned to = x.owner(op & key_mask);
        const bool sample = i % x.p.sample_every == 0;
        const std::uint64_t t0 = sample ? now_ns() : 0;
        std::uint64_t got;
        if (to == me) {
            got = apply(local, op, v);  // its own key: no message
        } else {
            // The future first, then the co_await: no temporary of a
            // statement that suspends (see examples/kv_demo.cpp).
            rt::future<std::uint64_t> f = mesh.submit_to(to, kv_op_group, [&x, op, v] {
                return apply(*x.shards[static_cast<unsigned>(rt::this_core())], op, v);
            });
            got = co_await std::move(f);
        }
        res[i] = got;
        ++st.done;
        if (sample) record(st.lat, t0, x.p.timer_overhead_ns);
    }
}

template <class Mesh>
rt::future<> run_core(Mesh& mesh, sharded_ctx& x, unsigned me) {
    core_stats& st = x.stats[me];
    st.start = now_ns();
    std::vector<rt::future<>> pumps;
    pumps.reserve(x.p.window);
    for (std::size_t k = 0; k < x.p.window; ++k) pumps.push_back(pump(mesh, x, me));
    for (auto& f : pumps) co_await std::move(f);
    st.end = now_ns();
}

// The threaded designs: a store is a map and the lock(s) that guard it.
struct alignas(cache_line_bytes) mutex_store {
    std::mutex mu;
    map m;
    std::uint64_t apply(std::uint64_t op, std::uint64_t v) {
        std::lock_guard lock(mu);
        return kv_detail::apply(m, op, v);
    }
};

struct alignas(cache_line_bytes) shared_mutex_store {
    std::shared_mutex mu;
    map m;
    std::uint64_t apply(std::uint64_t op, std::uint64_t v) {
        if ((op & put_bit) != 0) {
            std::unique_lock lock(mu);
            return kv_detail::apply(m, op, v);
        }
        std::shared_lock lock(mu);  // readers share the map
        return get(m, op & key_mask);
    }
};

struct striped_store {
    explicit striped_store(std::size_t n) : stripes(n) {}
    std::vector<mutex_store> stripes;  // key k lives in stripe mix(k) % size
    std::uint64_t apply(std::uint64_t op, std::uint64_t v) {
        return stripes[mix(op & key_mask) % stripes.size()].apply(op, v);
    }
    map& map_of(std::uint64_t key) { return stripes[mix(key) % stripes.size()].m; }
};

template <class Store>
kv_result run_locked(Store& store, const workload& w, const kv_params& p,
                     std::vector<std::vector<std::uint64_t>>& results) {
    std::vector<core_stats> st(w.n);
    std::vector<std::function<void(const abort_flag&)>> fns;
    for (unsigned c = 0; c < w.n; ++c)
        fns.push_back([&, c](const abort_flag& abort) {
            core_stats& mine = st[c];
            const auto& ops = w.ops[c];
            auto& res = results[c];
            mine.start = now_ns();
            for (std::uint64_t i = 0; i < w.per_core; ++i) {
                if ((i & 1023) == 0 && abort.raised()) return;
                const std::uint64_t op = ops[i];
                const bool sample = i % p.sample_every == 0;
                const std::uint64_t t0 = sample ? now_ns() : 0;
                res[i] = store.apply(op, value_of(c, i, op));
                ++mine.done;
                if (sample) record(mine.lat, t0, p.timer_overhead_ns);
            }
            mine.end = now_ns();
        });
    const run_outcome o = run_pinned(p.cores, fns, p.timeout);
    kv_result r;
    if (!o.ok) {
        r.error = o.error;
        return r;
    }
    summarise(r, st);
    r.cpu_share = o.cpu_share;
    r.ok = true;
    return r;
}

inline std::string count_error(const kv_result& r, const workload& w) {
    const std::uint64_t expected = std::uint64_t{w.n} * w.per_core;
    if (r.ops == expected) return {};
    return "completed " + std::to_string(r.ops) + " operations, expected " + std::to_string(expected);
}

}  // namespace kv_detail

// The sharded design's queue capacity: at least both groups' windows (the
// setup's and kv_detail::kv_op_group's), so the window, not the queue, bounds what is
// in flight.
inline std::size_t kv_queue_capacity(std::size_t window) noexcept {
    return std::max<std::size_t>(64, std::bit_ceil(2 * window));
}

// The sharded design over queue kind K: one reactor per core, each owning the
// keys that hash to it in its own map; every core is also a client that keeps
// `window` operations outstanding, sending each to its key's owner with
// submit_to (an operation on its own shard runs in place).
template <queue_kind K>
kv_result measure_kv_sharded(const kv_params& p) {
    namespace d = kv_detail;
    kv_result r;
    if (std::string e = d::check_params(p); !e.empty()) {
        r.error = "kv: " + e;
        return r;
    }
    const d::workload w = d::make_workload(p);
    d::sharded_ctx x{w, p, {}, {}, {}};
    x.shards.resize(w.n);
    x.results.resize(w.n);
    x.stats = std::vector<d::core_stats>(w.n);

    rt::smp_config cfg;
    cfg.cores = p.cores;
    cfg.max_inflight = p.window;
    cfg.queue_capacity = kv_queue_capacity(p.window);
    cfg.groups = 2;  // the setup's group and kv_op_group
    cfg.yield_when_idle = p.oversubscribed;
    p.setup.apply(cfg);
    // The runtime's own latency sample off: this measurement takes its own
    // (sample_every), and the locked designs it is compared with have none.
    cfg.latency_sample_every = 0;
    // Watchdog: a queue that deadlocks or starves aborts the mesh (its
    // reactors stop without draining) and the result is marked failed.
    std::atomic<bool> abort{false};
    watchdog dog(abort, p.timeout);
    cfg.abort = &abort;
    rt::smp<K> mesh(cfg);
    try {
        mesh.run([&]() -> rt::future<> {
            // Fill first (each shard on its own core, so its memory is that
            // core's), then run: nothing is timed until every shard is full.
            co_await mesh.invoke_on_all([&x] { d::fill_shard(x, static_cast<unsigned>(rt::this_core())); });
            co_await mesh.invoke_on_all(
                [&mesh, &x] { return d::run_core(mesh, x, static_cast<unsigned>(rt::this_core())); });
        });
    } catch (const std::exception& e) {
        dog.stop();
        r.error = abort.load() ? (interrupted() ? "interrupted"
                                                : "timed out after " + std::to_string(p.timeout.count()) +
                                                      " ms (deadlock or starvation)")
                               : e.what();
        return r;
    }
    dog.stop();
    d::summarise(r, x.stats);
    r.cpu_share = mesh.cpu_share();
    r.mesh = record_of(mesh);
    r.error = d::count_error(r, w);
    if (r.error.empty()) r.error = dropped_failures_error(mesh);
    if (r.error.empty()) {
        std::uint64_t stored_keys = 0;
        for (const auto& s : x.shards) stored_keys += s->size();
        r.error = d::check(w, x.results, [&x](std::uint64_t k) { return d::get(*x.shards[x.owner(k)], k); },
                           stored_keys);
    }
    r.ok = r.error.empty();
    return r;
}

// The threaded designs: one pinned thread per core, all sharing one store.
inline kv_result measure_kv_locked(kv_design design, const kv_params& p) {
    namespace d = kv_detail;
    kv_result r;
    if (std::string e = d::check_params(p); !e.empty()) {
        r.error = "kv: " + e;
        return r;
    }
    const d::workload w = d::make_workload(p);
    std::vector<std::vector<std::uint64_t>> results(w.n);
    for (auto& v : results) v.assign(w.per_core, d::missing);
    auto fill = [&w](auto&& map_of) {
        for (std::uint64_t k = 0; k < w.keys; ++k) map_of(k).emplace(k, d::initial_value(k));
    };
    // After the run: the count, then the replay against the model.
    // `stored_keys` is called after the run, so a put that inserted shows.
    auto finish = [&](kv_result res, auto&& map_of, auto&& stored_keys) {
        if (!res.ok) return res;
        res.error = d::count_error(res, w);
        if (res.error.empty())
            res.error = d::check(w, results, [&map_of](std::uint64_t k) { return d::get(map_of(k), k); },
                                 stored_keys());
        res.ok = res.error.empty();
        return res;
    };
    // One map under one lock (std::mutex or std::shared_mutex).
    auto single_map = [&]<class Store>() {
        auto s = std::make_unique<Store>();
        s->m.reserve(static_cast<std::size_t>(w.keys));
        auto map_of = [&s](std::uint64_t) -> d::map& { return s->m; };
        fill(map_of);
        return finish(d::run_locked(*s, w, p, results), map_of, [&s] { return std::uint64_t{s->m.size()}; });
    };
    switch (design) {
        case kv_design::mutex: return single_map.template operator()<d::mutex_store>();
        case kv_design::shared_mutex: return single_map.template operator()<d::shared_mutex_store>();
        case kv_design::striped: {
            d::striped_store s(p.stripes);
            for (auto& st : s.stripes) st.m.reserve(static_cast<std::size_t>(w.keys / p.stripes + 1));
            auto map_of = [&s](std::uint64_t k) -> d::map& { return s.map_of(k); };
            fill(map_of);
            auto stored_keys = [&s] {
                std::uint64_t n = 0;
                for (const auto& st : s.stripes) n += st.m.size();
                return n;
            };
            return finish(d::run_locked(s, w, p, results), map_of, stored_keys);
        }
    }
    r.error = "kv: unknown design";
    return r;
}

}  // namespace qmesh::bench
