// bench/src/lincheck.hpp: linearizability checking of recorded queue histories.
//
// In the manner of Kotlin's Lincheck (N. Koval, D. Tsitelov, R. Fedorov,
// "Lincheck: A Practical Framework for Testing Concurrent Data Structures on
// JVM", CAV 2023): generate a small concurrent scenario (a few operations per
// thread), run it many times on real threads, record each run's history, and
// ask whether some sequential execution of the FIFO-queue specification
// explains it; a scenario that fails is shrunk (operations and threads removed
// while it still fails) and printed as one column per thread.
//
// The check is Wing & Gong's backtracking search (J. M. Wing, C. Gong,
// "Testing and Verifying Concurrent Objects", JPDC 17(1), 1993) with Lowe's
// memoisation of visited configurations (G. Lowe, "Testing for
// linearizability", CCPE 29(4), 2017): linearize, one at a time, an operation
// that no pending operation precedes in real time, if the specification allows
// its result; backtrack otherwise. A configuration is (set of linearized
// operations, queue contents); one seen before is not explored again. With
// the ~10-25 operations of a scenario the search is instant.
//
// The specification, by the queue's traits:
//   - push(v) -> ok     legal iff size < capacity(); appends v;
//   - push(v) -> full   legal iff size == capacity();
//   - pop -> v          legal iff v is the front (order fifo), the oldest of
//                       its producer's values held (per-producer-fifo), or
//                       any held value (none); removes it;
//   - pop -> empty      legal iff the queue is empty.
// Failed operations are checked strictly ("full" and "empty" must be true at
// some instant inside the call) only for queues that promise it: queues that
// publish in batches (flush/consumer_flush) or promise less than FIFO may
// fail spuriously, and "full" is also lax where the capacity is not an exact
// element count (see strict_full); a lax failed operation is always legal
// and changes nothing. Every run ends with a sequential drain on the main
// thread (flushing before each pop) whose final "empty" is always strict: a
// value that was lost or stranded makes the history non-linearizable for
// every queue.
//
// Timestamps come from one atomic counter (a logical clock): each operation
// takes a ticket before it starts (invoke) and after it returns (response).
// If a's response ticket is below b's invoke ticket, a happened before b, so
// any correct queue must order a before b; the converse pairs overlap.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "qmesh/queues/concept.hpp"

namespace qmesh::lincheck {

enum class op_kind : std::uint8_t { push, pop };

// One operation of a scenario; `value` is what a push pushes (distinct
// across the scenario; bits 32.. name the pushing thread + 1, which the
// per-producer-fifo specification reads).
struct op {
    op_kind kind;
    std::uint64_t value = 0;
};

// A scenario: one list of operations per thread, run concurrently, on a queue
// built with `capacity`.
struct scenario {
    std::vector<std::vector<op>> threads;
    std::size_t capacity = 1;
    std::size_t size() const {
        std::size_t n = 0;
        for (const auto& t : threads) n += t.size();
        return n;
    }
};

// One completed operation in a history. thread == threads.size() is the
// sequential drain after the run.
struct event {
    unsigned thread = 0;
    op_kind kind = op_kind::push;
    std::uint64_t value = 0;  // pushed, or popped when ok
    bool ok = false;
    bool strict = false;  // a failure must be true at some instant
    std::uint64_t invoke = 0, response = 0;
};
using history = std::vector<event>;

struct spec {
    qmesh::order order = order::fifo;
    std::size_t capacity = unbounded_capacity;
};

inline unsigned producer_of(std::uint64_t v) { return static_cast<unsigned>(v >> 32); }

// Whether some sequential execution of `s` explains `h` (see the top).
inline bool linearizable(const history& h_in, const spec& s) {
    history h;
    for (const event& e : h_in)
        if (e.ok || e.strict) h.push_back(e);  // a lax failure is always legal and changes nothing
    if (h.size() > 64) return false;           // scenarios are far smaller; refuse rather than guess
    const std::size_t n = h.size();
    std::set<std::pair<std::uint64_t, std::vector<std::uint64_t>>> seen;
    std::vector<std::uint64_t> q;
    const std::uint64_t all = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    // Depth-first search; recursion depth is n <= 64.
    std::function<bool(std::uint64_t)> dfs = [&](std::uint64_t done) -> bool {
        if (done == all) return true;
        if (!seen.emplace(done, q).second) return false;
        std::uint64_t min_response = std::numeric_limits<std::uint64_t>::max();
        for (std::size_t i = 0; i < n; ++i)
            if (!(done >> i & 1)) min_response = std::min(min_response, h[i].response);
        for (std::size_t i = 0; i < n; ++i) {
            if (done >> i & 1) continue;
            const event& e = h[i];
            if (e.invoke > min_response) continue;  // some pending op finished before e began
            const std::uint64_t bit = std::uint64_t{1} << i;
            if (e.kind == op_kind::push) {
                if (e.ok) {
                    if (q.size() >= s.capacity) continue;
                    q.push_back(e.value);
                    if (dfs(done | bit)) return true;
                    q.pop_back();
                } else {
                    if (q.size() < s.capacity) continue;
                    if (dfs(done | bit)) return true;
                }
            } else if (!e.ok) {
                if (!q.empty()) continue;
                if (dfs(done | bit)) return true;
            } else {
                auto it = q.end();
                if (s.order == order::fifo) {
                    if (!q.empty() && q.front() == e.value) it = q.begin();
                } else if (s.order == order::per_producer_fifo) {
                    it = std::find_if(q.begin(), q.end(),
                                      [&](std::uint64_t v) { return producer_of(v) == producer_of(e.value); });
                    if (it != q.end() && *it != e.value) it = q.end();
                } else {
                    it = std::find(q.begin(), q.end(), e.value);
                }
                if (it == q.end()) continue;
                const auto pos = it - q.begin();
                q.erase(it);
                if (dfs(done | bit)) return true;
                q.insert(q.begin() + pos, e.value);
            }
        }
        return false;
    };
    return dfs(0);
}

// What a pass or a failure found.
struct result {
    bool ok = true;
    std::uint64_t scenarios = 0;  // scenarios generated
    std::uint64_t runs = 0;       // concurrent runs checked
    std::string report;           // on failure: the shrunk scenario, as a table
};

// A scenario's value as "tP.N": pushed by thread P, the N-th value generated.
inline std::string value_name(std::uint64_t v) {
    if (producer_of(v) == 0) return std::to_string(v);
    return "t" + std::to_string(producer_of(v) - 1) + "." + std::to_string(v & 0xffffffffu);
}

inline std::string describe(const event& e) {
    std::string s = e.kind == op_kind::push ? "push(" + value_name(e.value) + ")" : "pop()";
    if (e.kind == op_kind::push) s += e.ok ? " ok" : " full";
    else s += e.ok ? ": " + value_name(e.value) : ": empty";
    return s + " [" + std::to_string(e.invoke) + "," + std::to_string(e.response) + "]";
}

// One column per thread (the drain last), one row per operation, each cell
// "op: result [invoke,response]"; Lincheck prints its failures this way.
inline std::string table(const history& h, std::size_t nthreads) {
    std::vector<std::vector<std::string>> cols(nthreads + 1);
    for (const event& e : h) cols[std::min<std::size_t>(e.thread, nthreads)].push_back(describe(e));
    std::size_t rows = 0, width = 10;
    for (const auto& c : cols) {
        rows = std::max(rows, c.size());
        for (const auto& s : c) width = std::max(width, s.size());
    }
    auto cell = [&](std::string s) {
        s.resize(width, ' ');
        return "| " + s + " ";
    };
    std::string out;
    for (std::size_t t = 0; t <= nthreads; ++t)
        out += cell(t < nthreads ? "thread " + std::to_string(t) : "drain (after join)");
    out += "|\n";
    for (std::size_t t = 0; t <= nthreads; ++t) out += "|" + std::string(width + 2, '-');
    out += "|\n";
    for (std::size_t r = 0; r < rows; ++r) {
        for (const auto& c : cols) out += cell(r < c.size() ? c[r] : "");
        out += "|\n";
    }
    return out;
}

// Runs scenarios of kind K on real threads and checks every run.
template <queue_kind K>
class tester {
public:
    using Q = typename K::template type<std::uint64_t>;

    // "Empty" must be true for FIFO queues that publish every operation
    // at once (no flush, no consumer_flush).
    static constexpr bool strict_empty() {
        return K::traits.order == order::fifo && !flushable<Q> && !consumer_flushable<Q>;
    }
    // "Full" must be true, in addition, only where the capacity is an exact
    // element count: not for block-granular peers (exact_capacity = false),
    // nor for peer MPMC queues whose bound is a node pool that a pop returns
    // to after it has returned (Boost.Lockfree's fixed-size free list).
    static constexpr bool strict_full() {
        bool exact = true;
        if constexpr (requires { K::exact_capacity; }) exact = K::exact_capacity;
        return strict_empty() && exact && !(K::traits.family == family::peer && K::traits.producers == role::multi);
    }

    // Runs `sc` up to `runs` times; the first history that is not
    // linearizable, if any.
    static std::optional<history> run(const scenario& sc, std::uint64_t runs,
                                      std::chrono::steady_clock::time_point deadline, std::uint64_t* done_runs) {
        const unsigned nt = static_cast<unsigned>(sc.threads.size());
        std::atomic<std::uint64_t> ticket{0};
        // (G1) release by the main thread starts run `generation`; each
        // worker's acquire (G2) sees the freshly built queue. (G3) release by
        // a worker after its last operation pairs with the main thread's
        // acquire (G4): the worker's events and queue effects are visible.
        std::atomic<std::uint64_t> generation{0};
        std::atomic<unsigned> finished{0};
        std::atomic<bool> stop{false};
        std::optional<Q> q;
        std::vector<history> logs(nt);
        spec s{K::traits.order, K::traits.bounded ? std::size_t{0} : unbounded_capacity};
        std::vector<std::thread> workers;
        for (unsigned t = 0; t < nt; ++t)
            workers.emplace_back([&, t] {
                std::uint64_t seen_gen = 0;
                for (;;) {
                    std::uint64_t g;
                    while ((g = generation.load(std::memory_order_acquire)) == seen_gen)  // (G2)
                        // Relaxed: stop only ends the loop; nothing is published through it.
                        if (stop.load(std::memory_order_relaxed)) return; else std::this_thread::yield();
                    seen_gen = g;
                    history& log = logs[t];
                    log.clear();
                    for (const op& o : sc.threads[t]) {
                        event e;
                        e.thread = t;
                        e.kind = o.kind;
                        e.strict = o.kind == op_kind::push ? strict_full() : strict_empty();
                        // acq_rel: ticket order is happens-before order (see the top).
                        e.invoke = ticket.fetch_add(1, std::memory_order_acq_rel);
                        if (o.kind == op_kind::push) {
                            std::uint64_t v = o.value;
                            e.value = o.value;
                            e.ok = q->try_push(std::move(v));
                        } else {
                            e.ok = q->try_pop(e.value);
                        }
                        e.response = ticket.fetch_add(1, std::memory_order_acq_rel);
                        log.push_back(e);
                    }
                    finished.fetch_add(1, std::memory_order_release);  // (G3)
                }
            });
        std::optional<history> bad;
        std::uint64_t r = 0;
        for (; r < runs && !bad && std::chrono::steady_clock::now() < deadline; ++r) {
            q.emplace(sc.capacity);
            if (K::traits.bounded) s.capacity = q->capacity();
            ticket.store(0, std::memory_order_relaxed);
            finished.store(0, std::memory_order_relaxed);
            generation.store(r + 1, std::memory_order_release);  // (G1)
            while (finished.load(std::memory_order_acquire) != nt) std::this_thread::yield();  // (G4)
            history h;
            for (const auto& l : logs) h.insert(h.end(), l.begin(), l.end());
            // The drain: everything still held must come out, then "empty".
            // The main thread is now both sides, so it flushes before each
            // pop (a staging queue may publish only what fits).
            qmesh::consumer_flush(*q);
            for (std::size_t i = 0; i <= sc.size(); ++i) {
                qmesh::flush(*q);
                event e;
                e.thread = nt;
                e.kind = op_kind::pop;
                e.strict = true;
                e.invoke = ticket.fetch_add(1, std::memory_order_relaxed);
                e.ok = q->try_pop(e.value);
                e.response = ticket.fetch_add(1, std::memory_order_relaxed);
                h.push_back(e);
                if (!e.ok) break;
                qmesh::consumer_flush(*q);
            }
            q.reset();
            if (!linearizable(h, s)) bad = std::move(h);
        }
        stop.store(true, std::memory_order_relaxed);
        for (auto& w : workers) w.join();
        if (done_runs != nullptr) *done_runs += r;
        return bad;
    }

    // A random scenario the traits allow: one producer and one consumer for
    // SPSC kinds; 2 producers and the consumer for MPSC; 3 threads mixing
    // pushes and pops for MPMC. Small capacities force full and wrap-around.
    static scenario generate(std::mt19937_64& rng) {
        scenario sc;
        const std::size_t caps[] = {1, 2, 3, 4, 8};
        sc.capacity = caps[rng() % std::size(caps)];
        auto n = [&](unsigned lo, unsigned hi) { return lo + static_cast<unsigned>(rng() % (hi - lo + 1)); };
        std::uint64_t seq = 0;
        auto push = [&](unsigned t) { return op{op_kind::push, (std::uint64_t{t + 1} << 32) | ++seq}; };
        const bool mp = K::traits.producers == role::multi, mc = K::traits.consumers == role::multi;
        if (mp && mc) {
            sc.threads.resize(3);
            for (unsigned t = 0; t < 3; ++t)
                for (unsigned i = n(2, 5); i > 0; --i) sc.threads[t].push_back(rng() % 2 ? push(t) : op{op_kind::pop});
        } else {
            const unsigned producers = mp ? 2 : 1;
            sc.threads.resize(producers + (mc ? 2 : 1));
            for (unsigned t = 0; t < producers; ++t)
                for (unsigned i = n(1, mp ? 4 : 6); i > 0; --i) sc.threads[t].push_back(push(t));
            for (unsigned t = producers; t < sc.threads.size(); ++t)
                for (unsigned i = n(1, 6); i > 0; --i) sc.threads[t].push_back(op{op_kind::pop});
        }
        return sc;
    }

    // Removes operations, then whole threads, then capacity, while the
    // scenario still fails within `runs` runs; returns the smallest failing
    // scenario and its failing history.
    static std::pair<scenario, history> shrink(scenario sc, history h, std::uint64_t runs,
                                               std::chrono::steady_clock::time_point deadline) {
        bool progress = true;
        while (progress && std::chrono::steady_clock::now() < deadline) {
            progress = false;
            for (std::size_t t = 0; t < sc.threads.size() && !progress; ++t)
                for (std::size_t i = 0; i < sc.threads[t].size() && !progress; ++i) {
                    scenario c = sc;
                    c.threads[t].erase(c.threads[t].begin() + static_cast<std::ptrdiff_t>(i));
                    if (c.threads[t].empty()) continue;  // keep the thread layout the traits chose
                    if (auto bad = run(c, runs, deadline, nullptr)) {
                        sc = std::move(c);
                        h = std::move(*bad);
                        progress = true;
                    }
                }
            if (!progress && sc.capacity > 1) {
                scenario c = sc;
                --c.capacity;
                if (auto bad = run(c, runs, deadline, nullptr)) {
                    sc = std::move(c);
                    h = std::move(*bad);
                    progress = true;
                }
            }
        }
        return {std::move(sc), std::move(h)};
    }

    // Generates scenarios from `seed` for `seconds` (no limit if 0; at least
    // one scenario, at most `max_scenarios`), each run `runs_per_scenario` times. On a violation:
    // shrinks it and reports. Stops early, with no verdict beyond the scenarios
    // run, once `stop` (if given) says so.
    static result check(std::uint64_t seed, double seconds, std::uint64_t runs_per_scenario,
                        std::uint64_t max_scenarios = std::numeric_limits<std::uint64_t>::max(),
                        bool (*stop)() noexcept = nullptr) {
        result res;
        std::mt19937_64 rng(seed);
        const auto start = std::chrono::steady_clock::now();
        const auto far = start + std::chrono::hours(24 * 365);
        const auto end = seconds > 0 ? start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                   std::chrono::duration<double>(seconds))
                                     : far;
        do {
            const scenario sc = generate(rng);
            ++res.scenarios;
            if (auto bad = run(sc, runs_per_scenario, far, &res.runs)) {
                res.ok = false;
                const auto [small, h] = shrink(sc, std::move(*bad), 4 * runs_per_scenario + 1000,
                                               std::chrono::steady_clock::now() + std::chrono::seconds(20));
                res.report = "history not linearizable (" + std::string(to_string(K::traits.order)) +
                             " queue, capacity " + std::to_string(small.capacity) + ", \"full\" checked " +
                             (strict_full() ? "strictly" : "laxly") + ", \"empty\" " +
                             (strict_empty() ? "strictly" : "laxly") + "); shrunk scenario, [invoke,response]:\n" +
                             table(h, small.threads.size());
                break;
            }
        } while (std::chrono::steady_clock::now() < end && res.scenarios < max_scenarios &&
                 !(stop != nullptr && stop()));
        return res;
    }
};

}  // namespace qmesh::lincheck
