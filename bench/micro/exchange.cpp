// qmesh_micro's two-core benchmark: how a request should travel between two
// cores, measured without the runtime around it.
//
// The mesh sends a pointer to a request block: the target reads the block
// (its line crosses), writes the result into it, and sends the pointer back;
// the origin reads the result (the line crosses again) and reuses the block.
// The alternative is to carry a small request in the ring's slot itself and
// its result in the return ring's slot: no block, and several requests to a
// line (32-byte slots, two to a line; 16-byte replies, four). Counting lines,
// that is fewer transfers per request, and results/device-16core/README.md
// suggested it as the lever for the mesh's rate per core. This puts the two
// side by side on the mesh's best queue, `batched`, with the mesh's traffic
// pattern: both cores originate and serve, each keeps `window` requests in
// flight, replies are drained (and each frees a slot for the next request)
// before requests are served, and each side flushes after each drain.
//
//   exchange/<transport>/window:W   transport: pointer (the mesh's), value32,
//                                   value64 (one request per line)
//
// Reported: `per_core` (requests originated per second by each core, which
// serves as many) over manual time: the slower core's, from a common start
// to its last reply. Each iteration pins two threads: to the first PU this
// process may use and to the first on another core (pick_pair; the label
// names them and how they relate); it skips with an error without two PUs.
// The host's speed moves between runs, so compare transports within one
// run, repetitions interleaved:
//   qmesh_micro --benchmark_filter=exchange --benchmark_repetitions=15
//               --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "qmesh/queues/batched_ring.hpp"
#include "qmesh/runtime/topology.hpp"

namespace {

using u64 = std::uint64_t;

// What the target runs: behind a pointer, as the mesh's virtual process()
// is, so no transport gets its call inlined away.
[[gnu::noinline]] u64 echo(const u64* args) noexcept { return args[0] ^ args[1]; }
using fn_t = u64 (*)(const u64*) noexcept;

constexpr std::size_t drain_batch = 16;  // the mesh's prefetch_batch

// The mesh's transport: a pointer to a line-aligned block that crosses to
// the target and back. Blocks are the origin's, reused LIFO as its pool
// reuses them (pool.hpp).
class pointer_transport {
public:
    struct alignas(64) block {
        fn_t fn;
        u64 args[2];
        u64 result;
        u64 tag;  // the origin's copy of what the reply must echo
    };
    using request = block*;
    using reply = block*;

    explicit pointer_transport(std::size_t window) : blocks_(window) {
        for (auto& b : blocks_) free_.push_back(&b);
    }
    request make(u64 tag) {
        block* b = free_.back();
        free_.pop_back();
        *b = block{&echo, {tag, 0}, 0, tag};
        return b;
    }
    // Before a batch is touched, its blocks are asked for at once (so their
    // misses overlap), with write intent, as smp::drain_queue does.
    static void prefetch(block* b) noexcept { __builtin_prefetch(b, 1, 3); }
    static reply serve(block* b) noexcept {
        b->result = b->fn(b->args);
        return b;
    }
    bool complete(block* b) {
        const bool ok = b->result == b->tag;
        free_.push_back(b);
        return ok;
    }

private:
    std::vector<block> blocks_;
    std::vector<block*> free_;
};

// A request carried in the slot: the function, a token naming the origin's
// record of it, and two words of arguments, padded to Bytes (32: two to a
// line; 64: one). The reply is the token and the result.
template <std::size_t Bytes>
class value_transport {
public:
    struct alignas(Bytes) request {
        fn_t fn;
        u64 token;
        u64 args[2];
    };
    struct alignas(16) reply {
        u64 token;
        u64 value;
    };
    static_assert(sizeof(request) == Bytes && sizeof(reply) == 16);

    explicit value_transport(std::size_t window) : expect_(window) {
        for (std::size_t t = 0; t < window; ++t) free_.push_back(t);
    }
    request make(u64 tag) {
        const u64 t = free_.back();
        free_.pop_back();
        expect_[t] = tag;
        return request{&echo, t, {tag, 0}};
    }
    // The slots are the ring's and come in order; nothing to ask for.
    static void prefetch(const request&) noexcept {}
    static void prefetch(const reply&) noexcept {}
    static reply serve(const request& r) noexcept { return reply{r.token, r.fn(r.args)}; }
    bool complete(const reply& r) {
        const bool ok = r.value == expect_[r.token];
        free_.push_back(r.token);
        return ok;
    }

private:
    std::vector<u64> expect_;  // by token: the tag its reply must echo
    std::vector<u64> free_;
};

struct side_result {
    double seconds = 0;
    u64 wrong = 0;
    std::string error;
};

template <class T>
class exchange {
public:
    using request_ring = qmesh::batched_ring<typename T::request>;
    using reply_ring = qmesh::batched_ring<typename T::reply>;

    exchange(std::size_t window, u64 per_core)
        : window_(window), per_core_(per_core),
          // The mesh suite's rule (bench/src/suites.cpp): twice the window,
          // at least 64. With the ring's publication batch (32 at most)
          // that keeps every push from finding it full: an origin has at
          // most `window` requests out, plus slots popped and not yet
          // handed back.
          capacity_(std::max<std::size_t>(64, 2 * window)),
          req_{request_ring(capacity_), request_ring(capacity_)},
          rep_{reply_ring(capacity_), reply_ring(capacity_)} {}

    // Runs side `me` (0 or 1) pinned to PU `pu`, after both have arrived.
    // A side that fails raises `quit`, so the other does not wait on it.
    side_result run_side(unsigned me, unsigned pu, std::atomic<unsigned>& arrived, std::atomic<bool>& quit) noexcept {
        side_result r;
        auto fail = [&](std::string why) {
            r.error = "failed: " + std::move(why);
            quit.store(true, std::memory_order_relaxed);  // a flag: it orders nothing
        };
        try {
            qmesh::rt::topology::instance().pin_current_thread(pu);
        } catch (const std::exception& e) {
            fail(e.what());
        }
        arrived.fetch_add(1, std::memory_order_acq_rel);
        while (arrived.load(std::memory_order_acquire) < 2) {
        }
        if (quit.load(std::memory_order_relaxed)) return r;
        const unsigned peer = 1 - me;
        T t(window_);
        request_ring& out = req_[me];
        request_ring& in = req_[peer];
        reply_ring& back = rep_[me];   // replies to what the peer sent
        reply_ring& home = rep_[peer];  // replies to what this side sent
        const auto start = std::chrono::steady_clock::now();
        u64 sent = 0, done = 0, served = 0;
        auto send = [&] {
            if (!out.try_push(t.make(sent++))) fail("a request ring was full");
        };
        while (sent < std::min<u64>(window_, per_core_)) send();
        out.flush();
        std::array<typename T::reply, drain_batch> replies;
        std::array<typename T::request, drain_batch> requests;
        // Until every reply is home and every peer request served (the
        // peer's requests come as long as it has any to send).
        while ((done < per_core_ || served < per_core_) && !quit.load(std::memory_order_relaxed)) {
            std::size_t k;
            do {
                k = qmesh::try_pop_bulk(home, std::span(replies));
                for (std::size_t i = 0; i < k; ++i) T::prefetch(replies[i]);
                for (std::size_t i = 0; i < k; ++i) {
                    if (!t.complete(replies[i])) ++r.wrong;
                    ++done;
                    if (sent < per_core_) send();
                }
            } while (k == drain_batch);
            out.flush();
            do {
                k = qmesh::try_pop_bulk(in, std::span(requests));
                for (std::size_t i = 0; i < k; ++i) T::prefetch(requests[i]);
                for (std::size_t i = 0; i < k; ++i) {
                    if (!back.try_push(T::serve(requests[i]))) fail("a reply ring was full");
                    ++served;
                }
            } while (k == drain_batch);
            back.flush();
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return r;
    }

private:
    std::size_t window_;
    u64 per_core_;
    std::size_t capacity_;
    std::array<request_ring, 2> req_;  // req_[i]: from side i to the other
    std::array<reply_ring, 2> rep_;    // rep_[i]: replies from side i
};

// The first PU this process may use, and the first after it on another
// core (SMT siblings share a core's caches: no line would cross), else the
// second PU. Empty if there are fewer than two.
std::vector<unsigned> pick_pair() {
    const auto& topo = qmesh::rt::topology::instance();
    const auto& pus = topo.available();
    if (pus.size() < 2) return {};
    for (std::size_t j = 1; j < pus.size(); ++j) {
        const auto rel = topo.relation_of(pus[0], pus[j]);
        if (rel != qmesh::rt::relation::same_pu && rel != qmesh::rt::relation::smt) return {pus[0], pus[j]};
    }
    return {pus[0], pus[1]};
}

template <class T>
void exchange_bench(benchmark::State& state) {
    const std::vector<unsigned> pus = pick_pair();
    if (pus.empty()) {
        state.SkipWithError("skipped: needs two PUs to pin to");
        return;
    }
    const auto window = static_cast<std::size_t>(state.range(0));
    constexpr u64 per_core = 100'000;
    u64 total = 0;
    double seconds = 0;
    for (auto _ : state) {
        exchange<T> x(window, per_core);
        std::atomic<unsigned> arrived{0};
        std::atomic<bool> quit{false};
        side_result a;
        std::thread other([&] { a = x.run_side(1, pus[1], arrived, quit); });
        const side_result b = x.run_side(0, pus[0], arrived, quit);
        other.join();
        if (!a.error.empty() || !b.error.empty()) {
            state.SkipWithError((a.error.empty() ? b.error : a.error).c_str());
            return;
        }
        if (a.wrong + b.wrong != 0) {
            state.SkipWithError("failed: a reply did not echo its request");
            return;
        }
        const double s = std::max(a.seconds, b.seconds);
        state.SetIterationTime(s);
        seconds += s;
        total += per_core;
    }
    if (seconds > 0) state.counters["per_core"] = static_cast<double>(total) / seconds;
    // Which two PUs, and how they relate.
    const auto& topo = qmesh::rt::topology::instance();
    state.SetLabel("PUs " + std::to_string(pus[0]) + "," + std::to_string(pus[1]) + " " +
                   std::string(qmesh::rt::to_string(topo.relation_of(pus[0], pus[1]))));
}

template <class T>
void register_exchange(const char* name) {
    benchmark::RegisterBenchmark((std::string("exchange/") + name).c_str(), exchange_bench<T>)
        ->Arg(16)
        ->Arg(64)
        ->ArgName("window")
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
}

const bool registered = [] {
    register_exchange<pointer_transport>("pointer");
    register_exchange<value_transport<32>>("value32");
    register_exchange<value_transport<64>>("value64");
    return true;
}();

}  // namespace
