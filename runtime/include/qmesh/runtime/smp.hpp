// qmesh/runtime/smp.hpp: one reactor per core and the N x (N-1) queue mesh.
//
// Seastar's message passing (shared/SEED.txt), with the queue swappable:
//
//   origin core A                         target core B
//   submit_to(B, fn): allocate a request
//   holding fn and a promise; push it on
//   request queue A->B  ----------------> poll A->B; run fn; move its result
//                                         into the request; push the request
//   poll return queue B->A  <------------ on return queue B->A
//   fulfil the promise (continuations
//   run on A); destroy the request on A
//
// Every ordered pair of distinct cores has its own request queue and its own
// return queue, each with exactly one producer and one consumer thread, so any
// registered queue works (a queue kind that declares `shared_inbox` instead
// gets one request queue per target core, shared by all senders: the locked
// inbox baseline). The mesh is a template over the queue kind: every push and
// pop is a direct, inlinable call; there is no virtual call on the queue.
//
// Flow control: at most `max_inflight` requests per ordered pair are in
// flight (pushed, and not yet completed on the origin). A submission beyond
// that waits, on the origin core, in a FIFO of its own; the reactor admits it
// when a reply frees a slot. Nothing blocks a reactor, and since in-flight
// requests never exceed the return queue's capacity, a reply always fits.
// Submissions from A to B are pushed in submission order and B's queue is
// FIFO, so they run on B in the order A made them.
//
// Reactor states: running (tasks, then polls, then flushes, in a loop) ->
// quiesced (stop requested, nothing of its own in flight, no task left; it
// still serves other cores) -> exited (every core quiesced: no request can be
// anywhere in the mesh). submit_to fails once a stop is requested, so a
// quiesced core stays quiesced.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sched.h>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/runtime/future.hpp"
#include "qmesh/runtime/task.hpp"
#include "qmesh/runtime/topology.hpp"

namespace qmesh::rt {

struct smp_config {
    std::vector<unsigned> cores;       // reactor i runs on PU cores[i]
    std::size_t queue_capacity = 128;  // elements per request / return queue
    std::size_t max_inflight = 128;    // per ordered pair; at most queue_capacity
    std::size_t task_quota = 64;       // tasks per loop turn before polling again
    std::size_t poll_budget = 64;      // messages taken from one queue per turn
    bool pin = true;                   // pin each reactor (hwloc) and verify
    bool yield_when_idle = false;      // sched_yield on idle turns (oversubscribed runs)
    // Watchdog hook: when *abort becomes true the reactors stop at once,
    // without draining (what was in flight is leaked), and run() throws.
    const std::atomic<bool>* abort = nullptr;
};

// Counters of one ordered pair (from -> to). Each is written by one core only
// (sent, completed, full_stalls by `from`; received, empty_polls by `to`) and
// read after the reactors have joined.
struct pair_counters {
    std::uint64_t sent = 0;         // requests pushed on the request queue
    std::uint64_t received = 0;     // requests taken off it by the target
    std::uint64_t completed = 0;    // replies taken off the return queue, promise fulfilled
    std::uint64_t full_stalls = 0;  // submissions that had to wait for an in-flight slot or queue entry
    std::uint64_t empty_polls = 0;  // polls of the request queue that found it empty
};

// Index of the calling thread's reactor in its mesh, or -1 off the mesh.
int this_core() noexcept;

// A request crossing the mesh: created and destroyed on its origin core.
class work_item {
public:
    virtual ~work_item() = default;
    // On the target core. True when the result is stored already; false when
    // it will be, later, and the item will be handed to respond_later().
    virtual bool process() noexcept = 0;
    // On the origin core: fulfils the promise with the stored result.
    virtual void complete() noexcept = 0;

    unsigned from = 0;
    unsigned to = 0;
};

namespace detail {
// Set by each reactor thread for the items whose result arrives later.
struct reactor_hooks {
    void* ctx = nullptr;
    void (*respond)(void*, work_item*) = nullptr;
    int core = -1;
};
reactor_hooks& local_hooks() noexcept;
inline void respond_later(work_item* w) noexcept { local_hooks().respond(local_hooks().ctx, w); }

template <class F>
class async_work_item final : public work_item {
    using Fut = futurize_t<std::invoke_result_t<F&>>;

public:
    using value_type = typename Fut::value_type;

    template <class G>
    explicit async_work_item(G&& g) : fn_(std::forward<G>(g)) {}
    future<value_type> get_future() { return pr_.get_future(); }

    bool process() noexcept override {
        Fut f = futurize_invoke(fn_);
        if (f.available()) {
            take(std::move(f));
            return true;
        }
        (void)std::move(f).then_wrapped([this](Fut r) noexcept {
            take(std::move(r));
            respond_later(this);
        });
        return false;
    }
    void complete() noexcept override {
        if (ex_) pr_.set_exception(std::move(ex_));
        else if constexpr (std::is_void_v<value_type>) pr_.set_value();
        else pr_.set_value(std::move(*value_));
    }

private:
    // Runs on the target: moves the outcome out of the target's future state,
    // so nothing of the target's single-core state crosses back.
    void take(Fut&& f) noexcept {
        if (f.failed()) {
            ex_ = f.get_exception();
            return;
        }
        try {
            if constexpr (std::is_void_v<value_type>) f.get();
            else value_.emplace(f.get());
        } catch (...) {
            ex_ = std::current_exception();
        }
    }

    F fn_;
    promise<value_type> pr_;  // origin core only
    std::optional<stored_t<value_type>> value_;  // written on target, read on origin
    std::exception_ptr ex_;
};

template <class K>
concept has_shared_inbox = requires { K::shared_inbox; } && K::shared_inbox;
}  // namespace detail

class smp_stopping : public std::runtime_error {
public:
    smp_stopping() : std::runtime_error("qmesh: submit_to after the mesh began shutting down") {}
};

template <queue_kind K>
class smp {
    static_assert(spsc_capable<K>, "the mesh needs a queue that can serve one producer and one consumer");

public:
    using queue_type = typename K::template type<work_item*>;
    static constexpr bool shared_inbox = detail::has_shared_inbox<K>;

    explicit smp(smp_config cfg) : cfg_(std::move(cfg)), n_(static_cast<unsigned>(cfg_.cores.size())) {
        if (n_ == 0) throw std::invalid_argument("smp: no cores given");
        if (cfg_.max_inflight == 0) throw std::invalid_argument("smp: max_inflight must be at least 1");
        if (cfg_.max_inflight > cfg_.queue_capacity) cfg_.max_inflight = cfg_.queue_capacity;
        if (cfg_.task_quota == 0) cfg_.task_quota = 1;
        req_.resize(static_cast<std::size_t>(n_) * n_);
        rep_.resize(static_cast<std::size_t>(n_) * n_);
        counters_.resize(static_cast<std::size_t>(n_) * n_);
    }
    smp(const smp&) = delete;
    smp& operator=(const smp&) = delete;

    unsigned size() const noexcept { return n_; }
    const smp_config& config() const noexcept { return cfg_; }

    // Starts one reactor per core, runs fn on reactor 0, and returns fn's
    // result once it is available and the mesh has drained and joined.
    // Rethrows fn's exception. Throws std::logic_error if the counters do not
    // balance (sent == received == completed on every pair).
    template <class F>
    auto run(F&& fn) {
        using Fut = futurize_t<std::invoke_result_t<F&>>;
        using R = typename Fut::value_type;
        std::optional<detail::stored_t<R>> result;
        std::exception_ptr ex;
        std::function<void()> start = [&, f = std::forward<F>(fn)]() mutable {
            (void)futurize_invoke(f).then_wrapped([&](Fut r) noexcept {
                if (r.failed()) ex = r.get_exception();
                else {
                    try {
                        if constexpr (std::is_void_v<R>) r.get();
                        else result.emplace(r.get());
                    } catch (...) {
                        ex = std::current_exception();
                    }
                }
                // (S1) release: pairs with (S2) in every reactor's loop.
                stopping_.store(true, std::memory_order_release);
            });
        };
        launch(start);
        if (ex) std::rethrow_exception(ex);
        if constexpr (!std::is_void_v<R>) return std::move(*result);
    }

    // From a reactor of this mesh: runs fn on reactor `core` and returns a
    // future of its result on the calling reactor.
    template <class F>
    auto submit_to(unsigned core, F&& fn) -> futurize_t<std::invoke_result_t<std::decay_t<F>&>> {
        using Fut = futurize_t<std::invoke_result_t<std::decay_t<F>&>>;
        const int me = this_core();
        if (me < 0 || cores_ == nullptr) throw std::logic_error("qmesh: submit_to called off the mesh's reactors");
        if (core >= n_) return make_exception_future<typename Fut::value_type>(std::out_of_range("submit_to: no such core"));
        if (static_cast<unsigned>(me) == core) return futurize_invoke(fn);  // local short-cut
        core_state& cs = state(static_cast<unsigned>(me));
        if (cs.stopping_seen) return make_exception_future<typename Fut::value_type>(smp_stopping{});
        auto* item = new detail::async_work_item<std::decay_t<F>>(std::forward<F>(fn));
        item->from = static_cast<unsigned>(me);
        item->to = core;
        auto fut = item->get_future();
        auto& w = cs.waiting[core];
        if (!w.empty() || !try_send(cs, item)) {
            w.push_back(item);
            ++cs.out[core].full_stalls;
        }
        return fut;
    }

    // Runs fn on every core (on_others: every core but this one); the future
    // resolves when all have run.
    template <class F>
    future<> invoke_on_all(F fn) {
        return invoke_on(fn, /*include_self=*/true);
    }
    template <class F>
    future<> invoke_on_others(F fn) {
        return invoke_on(fn, /*include_self=*/false);
    }

    // Runs mapper on every core and folds the results with reducer, in core order.
    template <class Mapper, class T, class Reducer>
    future<T> map_reduce(Mapper mapper, T init, Reducer reducer) {
        using Fut = futurize_t<std::invoke_result_t<Mapper&>>;
        std::vector<Fut> fs;
        fs.reserve(n_);
        for (unsigned c = 0; c < n_; ++c) fs.push_back(submit_to(c, mapper));
        for (auto& f : fs) {
            // Await first, then fold: the reduction sees values in core order.
            auto v = co_await std::move(f);
            init = reducer(std::move(init), std::move(v));
        }
        co_return init;
    }

    // After run(): the counters of pair from -> to.
    const pair_counters& counters(unsigned from, unsigned to) const { return counters_[idx(from, to)]; }
    pair_counters totals() const {
        pair_counters t;
        for (const auto& c : counters_) {
            t.sent += c.sent;
            t.received += c.received;
            t.completed += c.completed;
            t.full_stalls += c.full_stalls;
            t.empty_polls += c.empty_polls;
        }
        return t;
    }
    // Bytes of memory one ordered pair's two queues occupy (object + slots,
    // as far as the kind reports it), for the footprint figures.
    static constexpr std::size_t queue_object_bytes = sizeof(queue_type);

private:
    // Per-core state, touched only by that core's thread while running.
    struct alignas(cache_line_bytes) core_state {
        std::vector<std::deque<work_item*>> waiting;  // per target: not yet pushed, FIFO
        std::vector<std::size_t> inflight;            // per target: pushed, not completed
        std::deque<work_item*> pending_replies;       // replies whose return queue was full
        std::vector<pair_counters> out;               // per target: sent, completed, full_stalls
        std::vector<pair_counters> in;                // per source: received, empty_polls
        std::size_t total_inflight = 0;
        bool stopping_seen = false;
        bool quiesced = false;
    };

    std::size_t idx(unsigned from, unsigned to) const noexcept { return static_cast<std::size_t>(from) * n_ + to; }
    core_state& state(unsigned c) noexcept { return (*cores_)[c]; }
    queue_type& req(unsigned from, unsigned to) noexcept {
        if constexpr (shared_inbox) return *req_[to];
        else return *req_[idx(from, to)];
    }
    queue_type& rep(unsigned from, unsigned to) noexcept { return *rep_[idx(from, to)]; }

    template <class F>
    future<> invoke_on(F fn, bool include_self) {
        std::vector<future<>> fs;
        const unsigned me = static_cast<unsigned>(this_core());
        for (unsigned c = 0; c < n_; ++c)
            if (include_self || c != me) fs.push_back(submit_to(c, fn).discard_result());
        std::exception_ptr first;
        for (auto& f : fs) {
            try {
                co_await std::move(f);
            } catch (...) {
                if (!first) first = std::current_exception();
            }
        }
        if (first) std::rethrow_exception(first);
    }

    bool try_send(core_state& cs, work_item* item) noexcept {
        const unsigned to = item->to;
        if (cs.inflight[to] >= cfg_.max_inflight) return false;
        if (!req(item->from, to).try_push(std::move(item))) return false;
        ++cs.inflight[to];
        ++cs.total_inflight;
        ++cs.out[to].sent;
        return true;
    }

    void admit_waiting(core_state& cs, unsigned me, unsigned to) noexcept {
        auto& w = cs.waiting[to];
        while (!w.empty()) {
            work_item* item = w.front();
            if (!try_send(cs, item)) break;
            w.pop_front();
        }
        (void)me;
    }

    void push_reply(core_state& cs, work_item* item) noexcept {
        if (!cs.pending_replies.empty() || !rep(item->from, item->to).try_push(std::move(item)))
            cs.pending_replies.push_back(item);
    }
    static void respond_cb(void* ctx, work_item* item) noexcept {
        auto* self = static_cast<smp*>(ctx);
        self->push_reply(self->state(item->to), item);
    }

    // One pass over every incoming queue; true if anything was found.
    bool poll(core_state& cs, unsigned me) noexcept {
        bool found = false;
        // Replies first: they free in-flight slots for waiting submissions.
        for (unsigned d = 0; d < n_; ++d) {
            if (d == me) continue;
            auto& q = rep(me, d);
            work_item* item = nullptr;
            std::size_t k = 0;
            while (k < cfg_.poll_budget && q.try_pop(item)) {
                ++k;
                ++cs.out[d].completed;
                --cs.inflight[d];
                --cs.total_inflight;
                item->complete();
                delete item;
            }
            if (k == 0) consumer_flush(q);
            found |= k != 0;
            if (!cs.waiting[d].empty()) admit_waiting(cs, me, d);
        }
        // Requests.
        const unsigned sources = shared_inbox ? 1 : n_;
        for (unsigned s = 0; s < sources; ++s) {
            if (!shared_inbox && s == me) continue;
            auto& q = shared_inbox ? req(0, me) : req(s, me);
            work_item* item = nullptr;
            std::size_t k = 0;
            while (k < cfg_.poll_budget && q.try_pop(item)) {
                ++k;
                ++cs.in[item->from].received;
                if (item->process()) push_reply(cs, item);
            }
            if (k == 0) {
                consumer_flush(q);
                // A shared inbox belongs to no one sender: its empty polls
                // are booked on the pair (me, me).
                ++cs.in[shared_inbox ? me : s].empty_polls;
            }
            found |= k != 0;
        }
        // Replies that did not fit earlier, in order.
        while (!cs.pending_replies.empty()) {
            work_item* item = cs.pending_replies.front();
            if (!rep(item->from, item->to).try_push(std::move(item))) break;
            cs.pending_replies.pop_front();
        }
        return found;
    }

    void flush_outgoing(unsigned me) noexcept {
        for (unsigned d = 0; d < n_; ++d) {
            if (d == me) continue;
            // A flush that could not move everything is retried next turn.
            (void)qmesh::flush(req(me, d));
            (void)qmesh::flush(rep(d, me));
        }
    }

    void reactor_main(unsigned me, std::function<void()>* start) {
        auto& hooks = detail::local_hooks();
        hooks = {this, &smp::respond_cb, static_cast<int>(me)};
        try {
            if (cfg_.pin) topology::instance().pin_current_thread(cfg_.cores[me]);
            // First touch: a core allocates the queues it consumes from, so
            // their memory lands on its NUMA node under the default policy.
            for (unsigned s = 0; s < n_; ++s) {
                if (s == me) continue;
                if (!shared_inbox) req_[idx(s, me)] = std::make_unique<queue_type>(cfg_.queue_capacity);
                rep_[idx(me, s)] = std::make_unique<queue_type>(cfg_.queue_capacity);
            }
            if (shared_inbox) req_[me] = std::make_unique<queue_type>(cfg_.queue_capacity * (n_ > 1 ? n_ - 1 : 1));
        } catch (const std::exception& e) {
            // (E1) release: pairs with (E2); error_ is written before the flag.
            if (!start_failed_.exchange(true, std::memory_order_acq_rel)) error_ = e.what();
        }
        // Start barrier: every queue exists before anyone pushes.
        ready_.fetch_add(1, std::memory_order_acq_rel);
        while (ready_.load(std::memory_order_acquire) < n_) std::this_thread::yield();
        // (E2) acquire: pairs with (E1).
        if (start_failed_.load(std::memory_order_acquire)) {
            hooks = {};
            return;
        }

        core_state& cs = state(me);
        // By pointer: run()'s function object must outlive the task, since a
        // coroutine lambda's frame refers to its closure.
        if (start != nullptr) schedule_fn([start] { (*start)(); });
        for (;;) {
            const std::size_t ran = run_tasks(cfg_.task_quota);
            const bool found = poll(cs, me);
            flush_outgoing(me);
            // (S2) acquire: pairs with (S1).
            if (!cs.stopping_seen && stopping_.load(std::memory_order_acquire)) cs.stopping_seen = true;
            if (cs.stopping_seen && !cs.quiesced && cs.total_inflight == 0 && all_empty(cs, me) &&
                local_tasks().empty()) {
                cs.quiesced = true;
                // (Q1) release: our last pushes and counters happen-before any
                // core that sees the full count; pairs with (Q2).
                quiesced_.fetch_add(1, std::memory_order_acq_rel);
            }
            // (Q2) acquire: once all are quiesced no request is in flight.
            if (cs.quiesced && quiesced_.load(std::memory_order_acquire) == n_ && local_tasks().empty()) break;
            if (ran == 0 && !found && cfg_.yield_when_idle) sched_yield();
            // Relaxed: a request to give up, it carries no data.
            if (cfg_.abort != nullptr && cfg_.abort->load(std::memory_order_relaxed)) break;
        }
        hooks = {};
    }

    bool all_empty(const core_state& cs, unsigned me) const noexcept {
        if (!cs.pending_replies.empty()) return false;
        for (unsigned d = 0; d < n_; ++d)
            if (d != me && !cs.waiting[d].empty()) return false;
        return true;
    }

    void launch(std::function<void()>& start) {
        cores_ = std::make_unique<std::vector<core_state>>(n_);
        for (auto& cs : *cores_) {
            cs.waiting.resize(n_);
            cs.inflight.assign(n_, 0);
            cs.out.assign(n_, {});
            cs.in.assign(n_, {});
        }
        ready_.store(0, std::memory_order_relaxed);
        quiesced_.store(0, std::memory_order_relaxed);
        stopping_.store(false, std::memory_order_relaxed);
        start_failed_.store(false, std::memory_order_relaxed);
        std::vector<std::thread> threads;
        threads.reserve(n_);
        for (unsigned i = 0; i < n_; ++i)
            threads.emplace_back([this, i, &start] { reactor_main(i, i == 0 ? &start : nullptr); });
        for (auto& t : threads) t.join();
        // Joined: every core's counters are visible here.
        for (unsigned a = 0; a < n_; ++a)
            for (unsigned b = 0; b < n_; ++b) {
                auto& c = counters_[idx(a, b)];
                const auto& o = (*cores_)[a].out[b];
                const auto& i = (*cores_)[b].in[a];
                c = {o.sent, i.received, o.completed, o.full_stalls, i.empty_polls};
            }
        cores_.reset();
        for (auto& q : req_) q.reset();
        for (auto& q : rep_) q.reset();
        if (start_failed_.load(std::memory_order_relaxed)) throw std::runtime_error(error_);
        if (cfg_.abort != nullptr && cfg_.abort->load(std::memory_order_relaxed))
            throw std::runtime_error("qmesh: the mesh was aborted before it drained");
        for (unsigned a = 0; a < n_; ++a)
            for (unsigned b = 0; b < n_; ++b) {
                const auto& c = counters(a, b);
                if (c.sent != c.received || c.received != c.completed)
                    throw std::logic_error("qmesh: mesh counters do not balance on pair " + std::to_string(a) + "->" +
                                           std::to_string(b) + ": sent " + std::to_string(c.sent) + ", received " +
                                           std::to_string(c.received) + ", completed " + std::to_string(c.completed));
            }
    }

    smp_config cfg_;
    unsigned n_;
    std::vector<std::unique_ptr<queue_type>> req_;  // [from * n + to] (shared inbox: [to])
    std::vector<std::unique_ptr<queue_type>> rep_;  // [from * n + to]: replies for from's requests to `to`
    std::vector<pair_counters> counters_;
    std::unique_ptr<std::vector<core_state>> cores_;
    alignas(cache_line_bytes) std::atomic<bool> stopping_{false};
    alignas(cache_line_bytes) std::atomic<unsigned> quiesced_{0};
    std::atomic<unsigned> ready_{0};
    std::atomic<bool> start_failed_{false};
    std::string error_;
};

}  // namespace qmesh::rt
