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
// registered queue works. A queue kind that declares `shared_inbox` instead
// gets the classic mailbox design, the locked inbox baseline: one queue per
// core, its inbox, shared by all other cores, which carries both the requests
// for that core and the replies to its own requests (an item is a request on
// the core it names as `to`, a reply on the one it names as `from`). N
// queues, one place to poll. The mesh is a template over the queue kind:
// every push and pop is a direct, inlinable call; there is no virtual call on
// the queue.
//
// Flow control: at most `max_inflight` requests per ordered pair and submit
// group are in flight (pushed, and not yet completed on the origin). A
// submission beyond that waits, on the origin core, in a FIFO of its own; the
// reactor admits it when a reply frees a slot. Nothing blocks a reactor, and
// since in-flight requests never exceed the return queue's capacity, a reply
// always fits. Submissions from A to B in one group are pushed in submission
// order and B's queue is FIFO, so they run on B in the order A made them.
//
// Submit groups (`smp_config::groups`, `submit_group`) are Seastar's answer
// to a bounded window's one trap, smp_service_group: a request that, while
// it runs, waits on a nested submission holds its slot until that one comes
// back, so a cycle of such requests (A->B nests B->A nests A->B) with every
// slot held waits on itself forever. Each group has a window of its own on
// every pair, so nested submissions made in a group other than their
// parent's (one group per nesting level) never wait for a slot their parent
// holds.
//
// Finding work (`polling`): `scan` polls all 2(N-1) incoming queues every
// turn, so an idle core's turn costs O(N). `doorbell` gives each core a
// bitmap, one bit per source core, that a sender sets (after making its
// pushes visible: at the end of the turn, and, when continuations run on
// replies sent requests, once per 64 sources after their replies); the
// receiver polls only the sources whose bits it found, and, for
// `doorbell_linger_turns` empty polls, those that delivered lately, so an
// idle turn reads one word whatever N is. The price: on a busy pair the
// bell's line crosses between the cores on every turn, on top of the queue's
// own lines. Without the linger, a receiver saw each message only after a
// miss on the bell's line and then one on the queue's, and the submit_to
// round trip was markedly slower than with scan; lingering, the next message
// of an active source is seen on the queue's line (runtime/README.md). `scan`
// stays the default: the doorbell pays off where an idle scan costs more
// than a line transfer (on our VMs, past roughly 64 cores; `qmesh run
// --suite pollscale,mesh`).
//
// Idle policy: `busy_poll` spins; `sleep` parks a reactor on a futex once
// it has had `idle_turns_before_sleep` empty turns in a row and then, still
// finding nothing, polled on for `idle_poll_time`, and senders wake it. (The
// time, not turns alone: an empty doorbell turn takes about 10 ns and a scan
// of 255 queues microseconds, so 256 turns are anything from 3 us up, and a
// reactor that parks within microseconds of its last reply parks in every
// request/reply gap: parks and wakes, a futex call each, took 15-35 % off
// the mesh's throughput on 2 cores.) The doorbell's
// summary word carries a `sleeping` bit, and both sides use read-modify-writes
// on that one word, which are totally ordered: either the sleeper's
// compare-exchange (0 -> sleeping) comes first, and the ringer's fetch_or
// sees `sleeping` and wakes it, or the ring comes first and the
// compare-exchange fails. No wake-up is lost, and no fence is needed.
//
// Stall detection: a mesh has no source of work but its tasks and its
// messages (no timers, no outside input), so once every reactor is passive
// (no task, nothing unflushed) and no message is on its
// way, nothing can ever happen again: a nested cycle in one submit group, a
// future nobody can fulfil, a queue that stopped handing slots back. Reactor
// 0, after `stall_check_turns` idle turns in a row, finds out with Mattern's
// four-counter waves (F. Mattern, "Algorithms for distributed termination
// detection", Distributed Computing 2(3), 1987): it opens a wave; every
// reactor answers, on a passive turn, with how many messages it has pushed
// and popped so far; a second wave follows the first. If every reactor gave
// the same answer to both and pushes equal pops, the mesh was stuck when the
// first wave closed. Why: a passive reactor turns active only by popping a
// message, which would have changed its answer; so each stayed passive from
// its first answer to its second, which spans the first wave's close, and
// its counts held still in between, so at that instant every reactor was
// passive and every message pushed had been popped. (A core with a
// submission or a reply waiting for a ring slot can also turn active when
// the ring's consumer hands one back, which is no message; so it retries
// both after it sees a wave and before it answers, and sees every slot
// handed back before the wave before.) The reactors then stop
// and run() throws smp_deadlock naming what is stuck (what was in flight is
// leaked, as with `abort`). A run whose function has finished is stuck only
// while some reactor cannot quiesce; one that has not yet seen the stop is
// given another wave. Waves wake no one: a parked reactor answers at its
// sleep_timeout, so the detector cannot hide a lost wake-up.
//
// Reactor states: running (tasks, then polls, then flushes, in a loop) ->
// quiesced (stop requested, nothing of its own in flight, no task left; it
// still serves other cores) -> exited (every core quiesced: no request can be
// anywhere in the mesh). submit_to fails once a stop is requested, so a
// quiesced core stays quiesced.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sched.h>

#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/runtime/clock.hpp"
#include "qmesh/runtime/future.hpp"
#include "qmesh/runtime/histogram.hpp"
#include "qmesh/runtime/task.hpp"
#include "qmesh/runtime/topology.hpp"

namespace qmesh::rt {

enum class polling : std::uint8_t { scan, doorbell };
enum class idle_policy : std::uint8_t { busy_poll, sleep };
// Where each queue's memory goes: the consuming core's NUMA node, the
// producing core's, or interleaved over all nodes.
enum class numa_placement : std::uint8_t { receiver, sender, interleave };

std::string_view to_string(polling p) noexcept;
std::string_view to_string(idle_policy p) noexcept;
std::string_view to_string(numa_placement p) noexcept;

struct smp_config {
    std::vector<unsigned> cores;       // reactor i runs on PU cores[i]
    std::size_t queue_capacity = 128;  // elements per request / return queue (raised to groups * max_inflight if less)
    std::size_t max_inflight = 128;    // per ordered pair and group; at most queue_capacity
    // In-flight windows per ordered pair (submit_group 0 .. groups-1, each
    // max_inflight). A queue holds at least groups * max_inflight, so every
    // reply still fits.
    unsigned groups = 1;
    std::size_t task_quota = 64;       // tasks per loop turn before polling again
    std::size_t poll_budget = 64;      // messages taken from one queue per turn
    // Where the continuation waiting on a submit_to's future runs when its
    // reply is popped. true: right there, in the poll, before the next
    // reply is completed: the sender fulfils the promise, runs the continuation
    // and frees the request in one step, with no trip through the task
    // queue and the rest of the turn (measured side by side on 2 cores:
    // runtime/README.md). Such continuations jump the task queue, up to
    // reply_quota of them in one turn's poll; the next are scheduled, and
    // until the last of those has run so are later ones, so they run in
    // reply order. false: the continuation is scheduled like any other (FIFO
    // behind the tasks already queued), as Seastar's smp queue does. Either
    // way a continuation that resolves further futures schedules theirs:
    // nothing nests deeper than one.
    bool inline_replies = true;
    // Continuations a turn's poll runs inline (inline_replies) before it
    // schedules the rest. 0: no count of its own; the poll's budget bounds
    // them, as it bounds the requests' functions a poll runs (poll_budget
    // per queue, so at most poll_budget x (N - 1) a turn). A cap below what
    // a poll takes throttles the mesh: past it every reply is scheduled
    // until the scheduled ones have run (reply order), the task quota then
    // resumes at most task_quota waiting submitters a turn, and the rest of
    // the window waits in the task queue instead of in flight
    // (runtime/README.md, "The reply quota").
    std::size_t reply_quota = 0;
    polling poll = polling::scan;      // how a core finds work among its queues (see the header)
    idle_policy idle = idle_policy::busy_poll;
    std::size_t idle_turns_before_sleep = 256;  // empty turns before a sleeping reactor parks ...
    // ... after which it polls on for this long before it parks (0: at
    // once). 200 us: Seastar's default idle poll time (reactor.cc,
    // calculate_poll_time, "competitive with halt/unhalt"). The clock is
    // read once every idle_turns_before_sleep empty turns, not every turn.
    std::chrono::microseconds idle_poll_time{200};
    std::chrono::microseconds sleep_timeout{10000};  // a parked reactor rechecks `abort` this often
    // Batching of outgoing queues (what a staging queue publishes, and when
    // the receiver's doorbell is rung): a queue is flushed once it holds
    // `flush_threshold` unflushed pushes (0: no such limit), and at the end
    // of every turn when `flush_on_poll`, else at the end of an idle turn
    // and of every `flush_max_turns`-th busy turn that holds unflushed
    // pushes (so a busy core sends bigger batches, and a core that never
    // idles strands nothing).
    std::size_t flush_threshold = 0;
    bool flush_on_poll = true;
    std::size_t flush_max_turns = 16;  // at least 1
    numa_placement placement = numa_placement::receiver;
    unsigned latency_sample_every = 64;  // time one submit_to in this many (0: none), on sample_clock
    // Read a clock once per loop turn (turn_ticks, clock.hpp) to split each
    // reactor's loop time into busy turns and the rest (core_counters::
    // busy_ticks, loop_ticks). Off by default: a turn that finds nothing gets
    // a read longer, and a message arriving then waits that much more.
    bool time_turns = false;
    bool pin = true;                     // pin each reactor (hwloc) and verify
    bool yield_when_idle = false;        // sched_yield on idle turns (oversubscribed runs)
    // Idle turns in a row after which reactor 0 checks whether the mesh is
    // stuck (see the header; 0: never). Each check costs two waves of one
    // line per reactor; a mesh with work to do never completes the second.
    std::size_t stall_check_turns = 4096;
    // Doorbell polling: a source that delivered something stays polled for
    // this many turns that find nothing from it before its bit clears and
    // only a ring brings it back (0: polled only when rung). While it
    // lingers, its next message is seen on the queue's own line, as a scan
    // sees it, not after a miss on the doorbell's line first and one on the
    // queue's line then; a core that goes quiet is back to reading one word
    // an idle turn after this many turns. (Senders ring as before: a ring
    // that finds its message already taken costs the receiver one empty poll.)
    std::uint32_t doorbell_linger_turns = 64;
    // Watchdog hook: when *abort becomes true the reactors stop at once,
    // without draining (what was in flight is leaked), and run() throws.
    const std::atomic<bool>* abort = nullptr;
};

// Polls of a request queue that took 1, 2-3, 4-7, ..., 64-127, >= 128 messages.
inline constexpr std::size_t batch_buckets = 8;
inline constexpr unsigned batch_bucket(std::size_t k) noexcept {
    const auto b = static_cast<unsigned>(std::bit_width(k)) - 1;  // k >= 1
    return b < batch_buckets - 1 ? b : static_cast<unsigned>(batch_buckets - 1);
}

// Counters of one ordered pair (from -> to). Each is written by one core only
// (sent, completed, full_stalls by `from`; received, empty_polls, batches by
// `to`) and read after the reactors have joined.
struct pair_counters {
    std::uint64_t sent = 0;         // requests pushed on the request queue
    std::uint64_t received = 0;     // requests taken off it by the target
    std::uint64_t completed = 0;    // replies taken off the return queue, promise fulfilled
    std::uint64_t full_stalls = 0;  // submissions that had to wait for an in-flight slot or queue entry
    std::uint64_t empty_polls = 0;  // polls of the request queue that found it empty
    std::array<std::uint64_t, batch_buckets> batches{};  // non-empty polls by size
};

// Counters of one reactor, written by it, read after join.
struct core_counters {
    std::uint64_t turns = 0;       // loop turns
    std::uint64_t idle_turns = 0;  // turns that ran no task and found no message
    std::uint64_t sleeps = 0;      // times it parked (idle_policy::sleep)
    std::uint64_t wakeups = 0;     // futex wake calls it made for parked cores
    std::uint64_t cpu_ns = 0;      // CPU time the reactor's thread used in its loop
    std::uint64_t wall_ns = 0;     // wall time of its loop
    std::uint64_t unhandled_failures = 0;  // failed futures its thread dropped unobserved in its loop
    // Replies whose continuation joined the task queue instead of running in
    // the poll (inline_replies), because the turn's reply_quota was spent or
    // an earlier continuation was still queued for that reason.
    std::uint64_t deferred = 0;
    // With time_turns: turn_ticks in turns that ran a task or found a message
    // (each from the end of the turn before), and in the whole loop; their
    // ratio is the share of the loop's time that had work. 0 without.
    std::uint64_t busy_ticks = 0;
    std::uint64_t loop_ticks = 0;
};

// Where the mesh's queues ended up, as the kernel reports it.
struct numa_report {
    numa_placement placement = numa_placement::receiver;
    unsigned nodes = 1;                // NUMA nodes of the machine
    bool applied = false;              // false on single-node machines: a no-op
    std::uint64_t queues = 0;          // queues checked
    std::uint64_t on_intended = 0;     // of which on the intended node (interleave: any)
};

// A class of submissions with an in-flight window of its own on every ordered
// pair (smp_config::groups of them; submit_to without one uses group 0). Give
// a nested submission a group other than its parent's, e.g. its nesting
// depth, and nested requests can never deadlock on the window.
struct submit_group {
    unsigned id = 0;
};

// A request crossing the mesh: created on its origin core (from that core's
// pool, pool.hpp) and freed there, by whichever lets go of it last: the mesh
// after complete(), or the caller's future.
class work_item : public pooled {
public:
    virtual ~work_item() = default;
    // On the target core. True when the result is stored already; false when
    // it will be, later, and the item will be handed to respond_later().
    virtual bool process() noexcept = 0;
    // On the origin core: fulfils the future with the stored result and
    // gives up the mesh's hold on the item (which may free it: the caller
    // must not touch the item afterwards). Returns the continuation that
    // waited on the future, now due and not scheduled (null if none): the
    // caller runs it or schedules it.
    [[nodiscard]] virtual task* complete() noexcept = 0;

    // 16 bits each (a mesh has at most 1920 cores and 256 groups), so
    // that with lone, t0 and next the header takes 32 bytes of the line
    // that crosses.
    std::uint16_t from = 0;
    std::uint16_t to = 0;
    std::uint16_t group = 0;      // its submit_group (origin only)
    // Sent while its origin had no other request in flight: the origin is
    // likely waiting on it, and its next request likely reuses this block
    // (the pool is LIFO), so the target prefetches the block (smp.hpp,
    // drain_requests). In the header's padding: the line is no longer.
    bool lone = false;
    std::uint64_t t0 = 0;         // submit time (sample_clock ticks) when sampled, else 0 (origin only)
    work_item* next = nullptr;    // link in a waiting or pending-reply list (one core's)
};

namespace detail {
// Set by each reactor thread for the items whose result arrives later.
struct reactor_hooks {
    void* ctx = nullptr;
    void (*respond)(void*, work_item*) = nullptr;
    int core = -1;
};
// Trivially destructible and constant-initialised: reached with no guard
// and no call (this_core() is asked on every submit_to).
inline thread_local constinit reactor_hooks tl_hooks{};
inline reactor_hooks& local_hooks() noexcept { return tl_hooks; }
inline void respond_later(work_item* w) noexcept { local_hooks().respond(local_hooks().ctx, w); }

}  // namespace detail

// Index of the calling thread's reactor in its mesh, or -1 off the mesh.
inline int this_core() noexcept { return detail::tl_hooks.core; }

namespace detail {

// Intrusive FIFO of work items through work_item::next; one core's.
struct item_list {
    work_item* head = nullptr;
    work_item* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
    // Walks the list: for reports, not for the loop.
    std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const work_item* w = head; w != nullptr; w = w->next) ++n;
        return n;
    }
    void push_back(work_item* w) noexcept {
        w->next = nullptr;
        if (tail != nullptr) tail->next = w; else head = w;
        tail = w;
    }
    void pop_front() noexcept {
        head = head->next;
        if (head == nullptr) tail = nullptr;
    }
    // Puts back an item just popped, when it could not be sent: order kept.
    void push_front(work_item* w) noexcept {
        w->next = head;
        head = w;
        if (tail == nullptr) tail = w;
    }
};

// A core's doorbell: words[w] bit b means "source 64w + b has something for
// you"; summary bit w means "words[w] may be non-zero". Two cache lines,
// written by senders, read and cleared by the owner.
inline constexpr std::uint32_t bell_sleeping = 1u << 31;  // the owner is parked (or about to be)
inline constexpr std::uint32_t bell_poke = 1u << 30;      // wake up and look (stop, quiesce)
inline constexpr std::uint32_t bell_words_mask = bell_poke - 1;
inline constexpr unsigned bell_max_words = 30;  // so a mesh has at most 1920 cores
struct alignas(cache_line_bytes) doorbell {
    std::atomic<std::uint32_t> summary{0};
    std::array<std::atomic<std::uint64_t>, bell_max_words> words{};
};

// What a reactor tells the stall detector (smp's header) on a passive turn.
struct stall_view {
    std::uint64_t pushed = 0, popped = 0;  // messages so far, requests and replies alike
    std::uint64_t held = 0;                // its own requests in flight or waiting for a slot
    bool stop_seen = false, quiesced = false;
    bool operator==(const stall_view&) const = default;
};
// The stall detector's verdict on a wave every reactor has answered (`now`),
// given their answers to the wave just before it (`last`; empty: none), and
// whether run()'s function has finished (`stopping`). Stuck only if:
//   - there was a wave before, and every reactor answered both alike: each
//     stayed passive from its first answer to its second, and the first wave
//     closed in between (one wave is not enough: a reactor that answered
//     before it popped a request and one that answered after it popped the
//     reply add up to as many pushes as pops, with the reply on its way);
//   - pushes equal pops: at the first wave's close no message was on its
//     way;
//   - and the run cannot end: its function has not finished (it needs a
//     task on reactor 0), or it has and some reactor that has seen the stop
//     cannot quiesce (one that has not seen it yet may still).
inline bool stall_verdict(std::span<const stall_view> last, std::span<const stall_view> now, bool stopping) noexcept {
    if (last.size() != now.size() || now.empty()) return false;
    std::uint64_t pushed = 0, popped = 0;
    bool all_saw_stop = true, all_quiesced = true;
    for (std::size_t c = 0; c < now.size(); ++c) {
        if (!(now[c] == last[c])) return false;
        pushed += now[c].pushed;
        popped += now[c].popped;
        all_saw_stop = all_saw_stop && now[c].stop_seen;
        all_quiesced = all_quiesced && now[c].quiesced;
    }
    return pushed == popped && (!stopping || (all_saw_stop && !all_quiesced));
}

// A reactor's answer to a wave: `view` written by that reactor, then `wave`
// (S4); read by reactor 0 once it sees `wave` (S5). A reactor answers again
// only a newer wave, which reactor 0 opens after reading this answer, so
// `view` is never written and read at once.
struct alignas(cache_line_bytes) stall_answer {
    std::atomic<std::uint64_t> wave{0};
    stall_view view;
};

// futex(2) on the summary word: sleeps while it equals `expected` (at most
// `timeout`); wakes every sleeper on it.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::microseconds timeout) noexcept;
void futex_wake(std::atomic<std::uint32_t>& word) noexcept;

// NUMA placement (libnuma), a no-op on single-node machines: while a scope
// lives, the calling thread's allocations prefer `node` (or interleave).
class numa_scope {
public:
    numa_scope(numa_placement p, int node) noexcept;
    ~numa_scope();
    numa_scope(const numa_scope&) = delete;
    numa_scope& operator=(const numa_scope&) = delete;

private:
    bool active_ = false;
};
unsigned numa_node_count() noexcept;
int numa_node_of_pu(unsigned pu) noexcept;            // -1 if unknown
int numa_node_of_address(const void* p) noexcept;     // -1 if unknown
// Bytes the C heap has handed out (glibc's mallinfo2), for footprints.
std::size_t heap_bytes_in_use() noexcept;

// The request of one submit_to(fn). It also holds the state of the future
// submit_to returns (future.hpp), so a submission allocates one block: the
// mesh holds one reference from submit_to to complete(), the future the
// other.
//
// Its two parts sit on different hardware lines (the block is line-aligned,
// from the pool's line classes). The first crosses to the target and back:
// work_item's fields, the function, and the outcome, which the target writes
// and nothing else. The second, the future's state, is the origin's alone:
// while the request is in flight the origin may write it (a co_await stores
// its continuation there) without pulling away the line the target is
// working on, and it never leaves the origin's cache. The origin reads the
// outcome only after popping the reply (the return queue's release/acquire
// orders it) and moves it into the state. For a function of two words
// returning one, the first part is exactly one line (smp_test checks it).
template <class F>
class async_work_item final : public work_item {
    using Fut = futurize_t<std::invoke_result_t<F&>>;

public:
    using value_type = typename Fut::value_type;
    using state_type = state<value_type>;

    template <class G>
    explicit async_work_item(G&& g) : fn_(std::forward<G>(g)) {
        st_.owner = this;
        st_.destroy = [](state_type* s) noexcept { delete static_cast<origin_state*>(s)->owner; };
    }
    // result_ lives from the target's store to complete(), which destroys it.
    ~async_work_item() override {}
    async_work_item(const async_work_item&) = delete;
    async_work_item& operator=(const async_work_item&) = delete;

    // At most once: the future on this request's outcome.
    future<value_type> get_future() noexcept {
        ++st_.refs;
        return make_future<value_type>(&st_);
    }

    bool process() noexcept override {
        if constexpr (!returns_future) {
            // A plain function: its result goes straight into the request,
            // with no future (and no shared state) made on the target.
            store(fn_);
            return true;
        } else {
            Fut f = futurize_invoke(fn_);
            if (f.available()) {
                take(std::move(f));
                return true;
            }
            // Pending: the request's own task waits on it, so the wait
            // allocates nothing (a continuation and its future's state, two
            // blocks, before) and nothing here can fail.
            waiting_.task.owner = this;
            ::new (&waiting_.fut) Fut(std::move(f));
            wait_on(waiting_.fut, waiting_.task);
            return false;
        }
    }
    task* complete() noexcept override {
        // The outcome becomes the state's and is published, with the status
        // known here rather than read back from st_.ex.
        using status = typename state_type::status;
        status outcome = status::failed;
        if (ex_) [[unlikely]] {
            st_.ex = std::move(ex_);
        } else {
            // A move of the result that throws fails the future with what it
            // threw (complete() is noexcept: it must not escape).
            try {
                st_.value.emplace(std::move(result_));
                outcome = status::value;
            } catch (...) {
                st_.ex = std::current_exception();
            }
            result_.~result_type();
        }
        // A waiting continuation holds a reference of its own (or, a
        // coroutine's, its frame's future does): with one, this is not the
        // last, and the task outlives the item's release here.
        task* cont = st_.publish(outcome);
        if (--st_.refs == 0) delete this;  // the mesh's reference was the last
        return cont;
    }

    // Bytes of the part that crosses to the target, up to the origin's line.
    std::size_t crossing_bytes() const noexcept {
        return static_cast<std::size_t>(reinterpret_cast<const char*>(&st_) - reinterpret_cast<const char*>(this));
    }

private:
    using result_type = stored_t<value_type>;
    struct origin_state : state_type {
        async_work_item* owner = nullptr;
    };

    // Runs on the target: the outcome of calling g (a value, nothing for
    // void, or what it threw) goes into the request.
    template <class G>
    void store(G&& g) noexcept {
        try {
            if constexpr (std::is_void_v<value_type>) {
                std::forward<G>(g)();
                ::new (&result_) result_type();
            } else {
                ::new (&result_) result_type(std::forward<G>(g)());
            }
        } catch (...) {
            ex_ = std::current_exception();
        }
    }
    // On the target, for a function that returns a future: the task that
    // waits for it, embedded in the request (only such a request has one),
    // and the future it waits on while it does. The task queue does not own
    // the task: disposed of unrun (its reactor aborted), it lets go of the
    // future, and the request is left in flight, as every request of an
    // aborted mesh is.
    struct wait_task final : task {
        void run_and_dispose() noexcept override { owner->reply_when_done(); }
        void discard() noexcept override { owner->waiting_.fut.~Fut(); }
        async_work_item* owner = nullptr;
    };
    struct waiting_part {
        waiting_part() noexcept {}
        ~waiting_part() {}
        wait_task task;
        union {
            Fut fut;
        };
    };
    struct no_waiting_part {};
    static constexpr bool returns_future = is_future<std::invoke_result_t<F&>>::value;

    // The function's future is available: its outcome goes into the request,
    // and the reply goes back.
    void reply_when_done() noexcept {
        take(std::move(waiting_.fut));
        waiting_.fut.~Fut();
        respond_later(this);
    }

    // Runs on the target: moves the outcome out of the target's future state,
    // so nothing of the target's single-core state crosses back.
    void take(Fut&& f) noexcept {
        if (f.failed()) ex_ = f.get_exception();
        else store([&f]() -> decltype(auto) { return f.get(); });
    }

    // Crosses: written by the origin before the push, read by the target;
    // the outcome written by the target, read by the origin after the reply.
    F fn_;
    std::exception_ptr ex_;  // fn threw: the exception, and result_ was never made
    union {
        result_type result_;  // fn returned: its value
    };
    // Only for a function that returns a future (nothing for the others).
    [[no_unique_address]] std::conditional_t<returns_future, waiting_part, no_waiting_part> waiting_;
    // The origin's alone.
    alignas(pool_line) origin_state st_;
};

template <class K>
concept has_shared_inbox = requires { K::shared_inbox; } && K::shared_inbox;
}  // namespace detail

class smp_stopping : public std::runtime_error {
public:
    smp_stopping() : std::runtime_error("qmesh: submit_to after the mesh began shutting down") {}
};

// run() found the mesh stuck (stall detection, see the header): every
// reactor passive, no message on its way, and run()'s function unfinished or
// a reactor unable to quiesce. The message names each pair and group that
// still holds requests in flight or waiting.
class smp_deadlock : public std::runtime_error {
public:
    explicit smp_deadlock(const std::string& what) : std::runtime_error(what) {}
};

// An idle core's poll cost (see smp::measure_idle_poll).
struct idle_poll_result {
    double ns_per_turn = 0;        // one reactor turn with nothing to do
    std::size_t pair_bytes = 0;    // heap bytes of one ordered pair's request + return queue
    std::size_t bell_bytes = 0;    // the doorbell, per core
};

template <queue_kind K>
class smp {
    static_assert(spsc_capable<K>, "the mesh needs a queue that can serve one producer and one consumer");

public:
    using queue_type = typename K::template type<work_item*>;
    static constexpr bool shared_inbox = detail::has_shared_inbox<K>;

    explicit smp(smp_config cfg) : cfg_(std::move(cfg)), n_(static_cast<unsigned>(cfg_.cores.size())) {
        if (n_ == 0) throw std::invalid_argument("smp: no cores given");
        if (n_ > 64 * detail::bell_max_words)
            throw std::invalid_argument("smp: at most " + std::to_string(64 * detail::bell_max_words) + " cores");
        if (cfg_.pin)
            for (unsigned c : cfg_.cores)
                if (!topology::instance().is_available(c))
                    throw std::invalid_argument("smp: cores: core " + std::to_string(c) +
                                                " is not available to this process");
        // Checked before max_inflight is clamped to it: a capacity of 0 would
        // make the window 0 past the max_inflight check. The bound keeps every
        // size derived from it (groups * max_inflight, an inbox's
        // 2 * capacity * (n - 1)) from wrapping, and fits the 32-bit counts.
        if (cfg_.queue_capacity == 0 || cfg_.queue_capacity > max_capacity)
            throw std::invalid_argument("smp: queue_capacity must be between 1 and " + std::to_string(max_capacity));
        if (cfg_.max_inflight == 0) throw std::invalid_argument("smp: max_inflight must be at least 1");
        if (cfg_.max_inflight > cfg_.queue_capacity) cfg_.max_inflight = cfg_.queue_capacity;
        if (cfg_.groups == 0 || cfg_.groups > max_groups)
            throw std::invalid_argument("smp: groups must be between 1 and " + std::to_string(max_groups));
        pair_capacity_ = std::max(cfg_.queue_capacity, cfg_.groups * cfg_.max_inflight);
        if (cfg_.task_quota == 0) cfg_.task_quota = 1;
        if (cfg_.poll_budget == 0) cfg_.poll_budget = 1;
        if (cfg_.flush_max_turns == 0) cfg_.flush_max_turns = 1;
        words_ = (n_ + 63) / 64;
        ring_ = cfg_.poll == polling::doorbell || cfg_.idle == idle_policy::sleep;
        req_.resize(static_cast<std::size_t>(n_) * n_);
        rep_.resize(static_cast<std::size_t>(n_) * n_);
        counters_.resize(static_cast<std::size_t>(n_) * n_);
        core_counters_.resize(n_);
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
        // One run at a time: a second launch (from run()'s own function, or
        // another thread) would rebuild the state live reactors are using.
        if (running_.exchange(true, std::memory_order_acq_rel))
            throw std::logic_error("qmesh: smp::run called while the mesh is already running");
        struct run_guard {
            std::atomic<bool>& r;
            ~run_guard() { r.store(false, std::memory_order_release); }
        } guard{running_};
        std::optional<detail::stored_t<R>> result;
        std::exception_ptr ex;
        // (S1) release: pairs with (S2) in every reactor's loop.
        auto stop = [this] {
            stopping_.store(true, std::memory_order_release);
            poke_all(state(static_cast<unsigned>(this_core())));
        };
        std::function<void()> start = [&, f = std::forward<F>(fn)]() mutable {
            // Runs in a task, which must not throw. futurize_invoke does not;
            // then_wrapped may, when fn's future is pending and its task
            // cannot be allocated: the run then fails with that exception
            // (what fn started is left to the drain).
            try {
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
                    stop();
                });
            } catch (...) {
                ex = std::current_exception();
                stop();
            }
        };
        try {
            launch(start);
        } catch (const smp_deadlock& stuck) {
            // The function failed, then the mesh could not drain: both are
            // news; the function's failure rides nested in the deadlock.
            if (!ex) throw;
            try {
                std::rethrow_exception(ex);
            } catch (...) {
                std::throw_with_nested(stuck);
            }
        }
        if (ex) std::rethrow_exception(ex);
        if constexpr (!std::is_void_v<R>) return std::move(*result);
    }

    // From a reactor of this mesh: runs fn on reactor `core` and returns a
    // future of its result on the calling reactor. In submit group `g`
    // (default 0): it takes one of that group's in-flight slots to `core`.
    template <class F>
    auto submit_to(unsigned core, F&& fn) -> futurize_t<std::invoke_result_t<std::decay_t<F>&>> {
        return submit_to(core, submit_group{}, std::forward<F>(fn));
    }
    template <class F>
    auto submit_to(unsigned core, submit_group g, F&& fn) -> futurize_t<std::invoke_result_t<std::decay_t<F>&>> {
        using Fut = futurize_t<std::invoke_result_t<std::decay_t<F>&>>;
        // Only this mesh's reactors: another mesh's would use this one's
        // state from a thread that is not its owner.
        if (detail::tl_hooks.ctx != this || cores_ == nullptr)
            throw std::logic_error("qmesh: submit_to called off the mesh's reactors");
        const int me = this_core();
        if (core >= n_) return make_exception_future<typename Fut::value_type>(std::out_of_range("submit_to: no such core"));
        if (g.id >= cfg_.groups)
            return make_exception_future<typename Fut::value_type>(std::out_of_range("submit_to: no such submit group"));
        core_state& cs = state(static_cast<unsigned>(me));
        // Refused once the stop is seen, the local short-cut included.
        if (cs.stopping_seen) return make_exception_future<typename Fut::value_type>(smp_stopping{});
        if (static_cast<unsigned>(me) == core) {  // local short-cut: fn runs here, now
            if constexpr (is_future<std::invoke_result_t<std::decay_t<F>&>>::value) {
                // A coroutine lambda's frame reaches its captures through the
                // closure, which must outlive every suspension: the caller's
                // may be a temporary. The remote path's request keeps fn until
                // the reply; here a copy on the heap is kept until the future
                // resolves (as do_with keeps its function).
                auto held = std::make_unique<std::decay_t<F>>(std::forward<F>(fn));
                Fut f = futurize_invoke(*held);
                if (f.available()) return f;
                return std::move(f).finally([held = std::move(held)] {});
            } else {
                return futurize_invoke(fn);  // nothing suspends: nothing to keep
            }
        }
        auto* item = new detail::async_work_item<std::decay_t<F>>(std::forward<F>(fn));
        item->from = static_cast<std::uint16_t>(me);
        item->to = static_cast<std::uint16_t>(core);
        item->group = static_cast<std::uint16_t>(g.id);
        if (--cs.sample_left == 0) [[unlikely]] {
            cs.sample_left = cfg_.latency_sample_every;
            item->t0 = clk_.now();
        }
        auto fut = item->get_future();
        auto& w = cs.waiting[slot(core, g.id)];
        if (!w.empty() || !try_send(cs, item)) {
            w.push_back(item);
            ++cs.waiting_to[core];
            ++cs.total_waiting;
            ++cs.out[core].full_stalls;
        }
        return fut;
    }

    // Runs fn on every core (on_others: every core but this one), in submit
    // group `g` (default 0); the future resolves when all have run.
    template <class F>
    future<> invoke_on_all(F fn) {
        return invoke_on(fn, /*include_self=*/true, submit_group{});
    }
    template <class F>
    future<> invoke_on_all(submit_group g, F fn) {
        return invoke_on(fn, /*include_self=*/true, g);
    }
    template <class F>
    future<> invoke_on_others(F fn) {
        return invoke_on(fn, /*include_self=*/false, submit_group{});
    }
    template <class F>
    future<> invoke_on_others(submit_group g, F fn) {
        return invoke_on(fn, /*include_self=*/false, g);
    }

    // Runs mapper on every core and folds the results with reducer, in core
    // order. Like invoke_on_all it waits for every mapper, even after one
    // failed: the future fails only once nothing is left running, and
    // every other failure has been looked at. The failure is the first met
    // in core order: a mapper's, or the reducer's on an earlier value.
    template <class Mapper, class T, class Reducer>
    future<T> map_reduce(Mapper mapper, T init, Reducer reducer) {
        return map_reduce(submit_group{}, std::move(mapper), std::move(init), std::move(reducer));
    }
    template <class Mapper, class T, class Reducer>
    future<T> map_reduce(submit_group g, Mapper mapper, T init, Reducer reducer) {
        using Fut = futurize_t<std::invoke_result_t<Mapper&>>;
        std::vector<Fut> fs;
        fs.reserve(n_);
        for (unsigned c = 0; c < n_; ++c) fs.push_back(submit_to(c, g, mapper));
        std::exception_ptr first;
        for (auto& f : fs) {
            try {
                // Await first, then fold: the reduction sees values in core order.
                auto v = co_await std::move(f);
                if (!first) init = reducer(std::move(init), std::move(v));
            } catch (...) {
                if (!first) first = std::current_exception();
            }
        }
        if (first) std::rethrow_exception(first);
        co_return init;
    }

    // Whether reactor c is parked (or about to park, or just woken and not
    // yet past its futex call). Call it from a reactor of this mesh during
    // run(), or from the thread that owns the mesh while run() is not
    // executing (then false: there are no doorbells). Any other thread would
    // race with run() creating and freeing bells_. Relaxed: a snapshot of a
    // word other threads write, for tests and diagnostics; it orders nothing.
    bool parked(unsigned c) const noexcept {
        return bells_ && c < n_ &&
               (bells_[c].summary.load(std::memory_order_relaxed) & detail::bell_sleeping) != 0;
    }

    // After run(): the counters of pair from -> to, and of each reactor.
    const pair_counters& counters(unsigned from, unsigned to) const { return counters_[idx(from, to)]; }
    const core_counters& core_stats(unsigned c) const { return core_counters_.at(c); }
    pair_counters totals() const {
        pair_counters t;
        for (const auto& c : counters_) {
            t.sent += c.sent;
            t.received += c.received;
            t.completed += c.completed;
            t.full_stalls += c.full_stalls;
            t.empty_polls += c.empty_polls;
            for (std::size_t b = 0; b < batch_buckets; ++b) t.batches[b] += c.batches[b];
        }
        return t;
    }
    core_counters core_totals() const {
        core_counters t;
        for (const auto& c : core_counters_) {
            t.turns += c.turns;
            t.idle_turns += c.idle_turns;
            t.sleeps += c.sleeps;
            t.wakeups += c.wakeups;
            t.cpu_ns += c.cpu_ns;
            t.wall_ns += c.wall_ns;
            t.unhandled_failures += c.unhandled_failures;
            t.deferred += c.deferred;
            t.busy_ticks += c.busy_ticks;
            t.loop_ticks += c.loop_ticks;
        }
        return t;
    }
    // After run(): the least, over the reactors, of the CPU time a
    // reactor's thread got in its loop over that loop's wall time. About 1
    // for busy-polling reactors that had their cores to themselves; less
    // when another process shared a core (or the mesh was oversubscribed,
    // or reactors slept).
    double cpu_share() const noexcept {
        double least = 1.0;
        for (const auto& c : core_counters_)
            if (c.wall_ns > 0)
                least = std::min(least, static_cast<double>(c.cpu_ns) / static_cast<double>(c.wall_ns));
        return least;
    }
    // After run(): the sampled submit_to latency (submit to fulfilment, ns)
    // of every core, and where the queues' memory went.
    const histogram& latency() const noexcept { return latency_; }
    // The clock the sample is taken with: subtract its overhead_ns() from
    // each figure for the net latency. (steady_clock, uncalibrated, when
    // latency_sample_every is 0: there is no figure.)
    const sample_clock& latency_clock() const noexcept { return clk_; }
    const numa_report& numa() const noexcept { return numa_; }

    // An idle core's poll cost, for meshes larger than the machine: builds
    // core 0's side of an n-core mesh in memory (the 2(n-1) queues it polls,
    // its doorbell and its state) and runs `turns` of core 0's reactor turn
    // on the calling thread, with no other reactor and nothing to find. The
    // turn is the very code a running reactor executes. Also reports the
    // heap bytes one ordered pair's two queues take.
    static idle_poll_result measure_idle_poll(unsigned n, smp_config cfg, std::uint64_t turns) {
        if (n < 2) throw std::invalid_argument("measure_idle_poll: n must be at least 2");
        cfg.cores.assign(n, 0);
        cfg.pin = false;
        smp m(std::move(cfg));
        const std::size_t pair_bytes = pair_footprint(m.pair_capacity_);
        m.prepare_states();
        m.init_state(0);
        m.pu_nodes_.assign(n, detail::numa_node_of_pu(0));
        m.allocate_queues(0);  // the queues core 0 polls, as a running reactor builds them
        auto& hooks = detail::local_hooks();
        const auto saved = hooks;
        hooks = {&m, &smp::respond_cb, 0};
        core_state& cs = m.state(0);
        for (std::uint64_t i = 0; i < turns / 8 + 1; ++i) (void)m.turn(cs, 0);  // warm-up
        const std::uint64_t t0 = detail::clock_ns();
        std::uint64_t found = 0;
        for (std::uint64_t i = 0; i < turns; ++i) found += m.turn(cs, 0) ? 1 : 0;
        const std::uint64_t t1 = detail::clock_ns();
        hooks = saved;
        if (found != 0) throw std::logic_error("measure_idle_poll: an idle mesh found work");
        idle_poll_result r;
        r.ns_per_turn = static_cast<double>(t1 - t0) / static_cast<double>(turns);
        r.pair_bytes = pair_bytes;
        r.bell_bytes = sizeof(detail::doorbell);
        m.cores_.reset();
        return r;
    }

    // Heap bytes of one ordered pair's request and return queue (a shared
    // inbox: one pair's share of an inbox, room for its requests and its
    // replies), measured over 64 pairs so that allocator caches do not hide
    // any.
    static std::size_t pair_footprint(std::size_t capacity) {
        constexpr std::size_t pairs = 64;
        std::vector<std::unique_ptr<queue_type>> qs;
        qs.reserve(2 * pairs);
        const std::size_t before = detail::heap_bytes_in_use();
        for (std::size_t i = 0; i < pairs && !shared_inbox; ++i) {
            qs.push_back(std::make_unique<queue_type>(capacity));
            qs.push_back(std::make_unique<queue_type>(capacity));
        }
        if (shared_inbox) qs.push_back(std::make_unique<queue_type>(inbox_capacity(capacity, pairs)));
        const std::size_t after = detail::heap_bytes_in_use();
        return after > before ? (after - before) / pairs : 0;
    }

private:
    // Per-core state, touched only by that core's thread while running.
    struct alignas(cache_line_bytes) core_state {
        std::vector<detail::item_list> waiting;       // per target and group (slot()): not yet pushed, FIFO
        std::vector<std::uint32_t> inflight;          // per target and group (slot()): pushed, not completed
        std::vector<std::uint32_t> waiting_to;        // per target: submissions waiting, all groups together
        std::vector<std::uint32_t> unflushed;         // per target: pushes since its queue's last flush
        std::vector<std::uint8_t> dirty_flags;        // per peer: req_dirty | rep_dirty
        std::vector<unsigned> dirty;                  // peers with a flag set
        std::vector<std::uint64_t> pending;           // doorbell bits seen, sources not drained yet (or lingering)
        std::vector<std::uint32_t> linger;            // per source: empty polls left before its bit clears
        std::uint32_t pending_words = 0;              // bit w: pending[w] != 0 (so an idle turn reads no word)
        // Replies whose return queue was full, per origin, FIFO; and the
        // origins that have one (reserved for N: a push never allocates).
        // Per origin so that one full return queue holds up only the
        // replies to its own core.
        std::vector<detail::item_list> held;
        std::vector<unsigned> held_from;
        std::vector<pair_counters> out;               // per target: sent, completed, full_stalls
        std::vector<pair_counters> in;                // per source: received, empty_polls, batches
        core_counters counters;
        histogram latency;
        std::size_t total_inflight = 0;
        // The request in flight while it is this core's only one, else null:
        // each poll prefetches its line (see poll()).
        work_item* lone = nullptr;
        // Per source (a shared inbox: at `me`, for all): the block of the
        // last request it sent while it had no other in flight, the likely
        // block of its next one, for lone_prefetch_polls polls; else null.
        // Prefetched, never dereferenced: the block is the origin's once
        // the reply is pushed.
        struct lone_hint {
            const work_item* block = nullptr;
            std::uint32_t polls = 0;  // polls of the source left to prefetch it
        };
        std::vector<lone_hint> next_from;
        std::size_t total_waiting = 0;                // submissions waiting, all targets and groups
        std::uint64_t numa_checked = 0, numa_on_intended = 0;
        std::size_t idle_run = 0;
        std::uint64_t idle_since = 0;  // clock_ns() once idle_run first reached the turns (0: not yet)
        std::uint64_t pushed = 0, popped = 0;  // messages, for the stall detector
        std::uint64_t answered = 0;            // the last wave this core answered
        std::size_t quiet_turns = 0;           // reactor 0: idle turns in a row, to open a wave
        std::size_t held_turns = 0;  // busy turns that kept unflushed pushes (flush_on_poll = false)
        // Submissions until the next timed one (latency_sample_every; none:
        // the largest count, which no run counts down), a countdown so that an
        // untimed submit_to tests one counter.
        std::uint64_t sample_left = 0;
        bool stopping_seen = false;
        bool quiesced = false;
        bool ring_full_seen = false;  // a send found its ring full since the last retry_waiting
        // inline_replies: continuations this turn's poll may still run
        // inline (reply_quota; no limit: SIZE_MAX); and the place of the
        // last one scheduled instead because the quota ran out
        // (task_queue::pushed() once it was in). Until the FIFO has taken it
        // (deferring()), later ones queue behind it.
        std::size_t inline_left = 0;
        std::uint64_t deferred_mark = 0;
    };
    static constexpr std::uint8_t req_dirty = 1, rep_dirty = 2;
    static constexpr unsigned max_groups = 256;
    static constexpr std::size_t max_capacity = std::numeric_limits<std::uint32_t>::max();
    static constexpr std::size_t prefetch_batch = 16;  // items popped before any is touched
    // How long a target prefetches a lone origin's block (drain_requests):
    // its next request comes within a round trip, some tens of polls, and
    // an origin that has moved on may be writing the block for others.
    static constexpr std::uint32_t lone_prefetch_polls = 64;

    std::size_t idx(unsigned from, unsigned to) const noexcept { return static_cast<std::size_t>(from) * n_ + to; }
    // A core's in-flight count and waiting list for (target, group).
    std::size_t slot(unsigned to, unsigned group) const noexcept {
        return static_cast<std::size_t>(to) * cfg_.groups + group;
    }
    core_state& state(unsigned c) noexcept { return (*cores_)[c]; }
    // Where from's requests to `to` go, and where the replies to them come
    // back (a shared inbox: to's inbox, and from's).
    queue_type& req(unsigned from, unsigned to) noexcept {
        if constexpr (shared_inbox) return *req_[to];
        else return *req_[idx(from, to)];
    }
    queue_type& rep(unsigned from, unsigned to) noexcept {
        if constexpr (shared_inbox) return *req_[from];
        else return *rep_[idx(from, to)];
    }
    // A core's inbox holds at most groups * max_inflight (<= `capacity`, a
    // pair's) requests from each of its `peers` and as many replies to its
    // own requests to each: a request in flight is in one place at a time.
    // So a reply always fits, as with a return queue per pair.
    static std::size_t inbox_capacity(std::size_t capacity, std::size_t peers) noexcept {
        return 2 * capacity * std::max<std::size_t>(peers, 1);
    }

    template <class F>
    future<> invoke_on(F fn, bool include_self, submit_group g) {
        std::vector<future<>> fs;
        const unsigned me = static_cast<unsigned>(this_core());
        for (unsigned c = 0; c < n_; ++c)
            if (include_self || c != me) fs.push_back(submit_to(c, g, fn).discard_result());
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

    void mark_dirty(core_state& cs, unsigned peer, std::uint8_t flag) noexcept {
        if (cs.dirty_flags[peer] == 0) cs.dirty.push_back(peer);
        cs.dirty_flags[peer] |= flag;
    }

    // Tells core `to` that core `me` has made something visible to it.
    void ring(core_state& cs, unsigned to, unsigned me) noexcept {
        detail::doorbell& b = bells_[to];
        const unsigned w = me / 64;
        // (B1) release: our pushes before this ring happen-before the
        // receiver's polls after its exchange (B2) reads this value or a
        // later one of the word's read-modify-write chain. An RMW, never a
        // "skip if already set": a plain load seeing the bit set proves
        // nothing about whether the receiver's exchange has run.
        const std::uint64_t old = b.words[w].fetch_or(std::uint64_t{1} << (me % 64), std::memory_order_release);
        if (old != 0) return;  // whoever set the first bit publishes (or published) the summary bit
        // (B3) release: pairs with (B4).
        const std::uint32_t sold = b.summary.fetch_or(1u << w, std::memory_order_release);
        if ((sold & detail::bell_sleeping) != 0) {
            ++cs.counters.wakeups;
            detail::futex_wake(b.summary);
        }
    }
    // Makes core `to` look (stop requested, every core quiesced). Only a
    // parked core needs it; running ones see the flags on their next turn.
    void poke(core_state& cs, unsigned to) noexcept {
        const std::uint32_t sold = bells_[to].summary.fetch_or(detail::bell_poke, std::memory_order_release);
        if ((sold & detail::bell_sleeping) != 0) {
            ++cs.counters.wakeups;
            detail::futex_wake(bells_[to].summary);
        }
    }
    void poke_all(core_state& cs) noexcept {
        if (cfg_.idle != idle_policy::sleep) return;
        for (unsigned c = 0; c < n_; ++c) poke(cs, c);
    }

    bool try_send(core_state& cs, work_item* item) noexcept {
        const unsigned to = item->to;
        const unsigned from = item->from;  // once pushed, the item is the target's
        const std::size_t sl = slot(to, item->group);
        if (cs.inflight[sl] >= cfg_.max_inflight) return false;
        // The core's only request in flight once pushed: both sides prefetch
        // its line (poll, drain_requests). Told the target before the push:
        // then the item is the target's.
        const bool alone = cs.total_inflight == 0;
        item->lone = alone;
        if (!req(from, to).try_push(std::move(item))) {
            cs.ring_full_seen = true;  // retry_waiting
            return false;
        }
        ++cs.inflight[sl];
        ++cs.total_inflight;
        cs.lone = alone ? item : nullptr;
        ++cs.pushed;
        ++cs.out[to].sent;
        mark_dirty(cs, to, req_dirty);
        if (cfg_.flush_threshold != 0 && ++cs.unflushed[to] >= cfg_.flush_threshold) {
            cs.unflushed[to] = 0;
            (void)qmesh::flush(req(from, to));
            if (ring_) ring(cs, to, from);
        }
        return true;
    }

    // After a reply from `to`: sends what waits for `to`, each group's list
    // in order, while it can. Every group's: a reply of one group can make
    // room in the queue for another's. Counted per target, so an idle scan
    // reads one word per source, not `groups` lists.
    void admit_waiting(core_state& cs, unsigned to) noexcept {
        if (cs.waiting_to[to] == 0) return;
        for (std::size_t sl = slot(to, 0); sl < slot(to + 1, 0); ++sl) {
            auto& w = cs.waiting[sl];
            while (!w.empty()) {
                work_item* item = w.head;
                w.pop_front();
                if (!try_send(cs, item)) {
                    w.push_front(item);
                    break;
                }
                --cs.waiting_to[to];
                --cs.total_waiting;
            }
        }
    }

    // On the target: the reply travels back on the origin's return queue.
    void push_reply(core_state& cs, work_item* item) noexcept {
        const unsigned from = item->from, to = item->to;  // once pushed, the item is the origin's
        // Behind replies already held for this origin, it waits its turn.
        // (held_from.empty(): the common case reads no per-origin list.)
        if ((cs.held_from.empty() || cs.held[from].empty()) && rep(from, to).try_push(std::move(item))) {
            ++cs.pushed;
            mark_dirty(cs, from, rep_dirty);
            return;
        }
        detail::item_list& held = cs.held[from];
        if (held.empty()) cs.held_from.push_back(from);  // reserved for N: no allocation
        held.push_back(item);
    }
    static void respond_cb(void* ctx, work_item* item) noexcept {
        auto* self = static_cast<smp*>(ctx);
        self->push_reply(self->state(item->to), item);
    }

    // Takes up to poll_budget items off q and hands each to `each`, in
    // order; returns how many. Items come in batches of up to
    // prefetch_batch, popped in one operation where the queue offers one
    // (qmesh::try_pop_bulk: a locked inbox takes a batch under one lock
    // acquisition), and every item of a batch is prefetched before the
    // first is touched: the items were last written on the other core, so
    // each is a cache miss, and touching them one after another would pay
    // those misses in series. Asking for all of them first lets the misses
    // overlap (Seastar's smp_message_queue::process_queue prefetches its
    // batch the same way). Write intent: the target stores the result into
    // the request, and the origin recycles the block. (An explicit
    // PREFETCHW, which GCC does not emit for this builtin unless the build
    // targets PRFCHW, was measured side by side and made no difference.)
    template <class F>
    std::size_t drain_queue(queue_type& q, F&& each) noexcept {
        std::array<work_item*, prefetch_batch> items;
        std::size_t k = 0;
        while (k < cfg_.poll_budget) {
            const std::size_t want = std::min(items.size(), cfg_.poll_budget - k);
            const std::size_t got = qmesh::try_pop_bulk(q, std::span<work_item*>(items.data(), want));
            for (std::size_t i = 0; i < got; ++i) {
                // The request's first line, the one that crosses (a small
                // request's fields and its result). Not the next: that is
                // the origin's future state, and fetching it on the target
                // would take it from the origin for nothing.
                __builtin_prefetch(items[i], 1, 3);
            }
            for (std::size_t i = 0; i < got; ++i) each(items[i]);
            k += got;
            if (got < items.size()) break;
        }
        return k;
    }

    // A continuation deferred past the reply quota has yet to run (the
    // task queue is FIFO, so it has run once the queue has taken as many
    // tasks as it held with it). Not "the queue is not empty": a core whose
    // tasks reschedule themselves never empties it.
    static bool deferring(const core_state& cs) noexcept { return local_tasks().taken() < cs.deferred_mark; }

    // On the origin: a reply has come back. Its continuation runs now or
    // joins the task queue (smp_config::inline_replies). Run now, it may
    // submit (to this source too: a submission behind waiting ones joins
    // their list, so order holds) and schedule tasks, but it cannot poll,
    // so the drain that called us is not re-entered.
    void complete_reply(core_state& cs, work_item* item) noexcept {
        const unsigned s = item->to;
        const std::size_t sl = slot(s, item->group);
        ++cs.out[s].completed;
        --cs.inflight[sl];
        --cs.total_inflight;
        cs.lone = nullptr;  // one of several, or the last: none is alone now
        if (item->t0 != 0) cs.latency.record(clk_.elapsed_ns(item->t0, clk_.now()));
        task* cont = item->complete();  // may free the item
        if (cont == nullptr) return;
        if (!cfg_.inline_replies) {
            schedule(cont);
            return;
        }
        // This turn's reply quota is spent, or an earlier continuation is
        // still queued for that reason: behind it, in reply order.
        if (cs.inline_left == 0 || deferring(cs)) {
            schedule(cont);
            cs.deferred_mark = local_tasks().pushed();
            ++cs.counters.deferred;
            return;
        }
        --cs.inline_left;
        // The slot this reply freed goes first to what already waits for it,
        // as a scheduled continuation would find it (else every submission
        // the continuation makes waits behind them, counted as a stall).
        admit_waiting(cs, s);
        cont->run_and_dispose();
    }

    // Takes up to poll_budget replies from `s`; true if it hit the budget.
    bool drain_replies(core_state& cs, unsigned me, unsigned s, bool& found) noexcept {
        auto& q = rep(me, s);
        const std::size_t k = drain_queue(q, [&](work_item* item) { complete_reply(cs, item); });
        cs.popped += k;
        // Short of the budget, the queue was found empty: this core idles on
        // it, so it hands back every slot it has popped (consumer_flush), now
        // and not at a later empty poll, which a doorbell may never bring
        // (only a source that rings is polled again). So a passive core has
        // handed back all it popped, which the stall detector relies on.
        if (k < cfg_.poll_budget) consumer_flush(q);
        found |= k != 0;
        admit_waiting(cs, s);
        return k == cfg_.poll_budget;
    }
    // Takes up to poll_budget requests from source `s` (shared inbox: the
    // inbox, requests from anyone and replies, booked on the pair (me, me));
    // true if it hit the budget.
    bool drain_requests(core_state& cs, unsigned me, unsigned s, bool& found) noexcept {
        auto& q = shared_inbox ? req(0, me) : req(s, me);
        // The target's half of poll()'s prefetch. A request's line is read
        // here only after the slot that points to it: two misses in series.
        // An origin with one request in flight at a time most likely puts
        // its next one in the block of its last (its pool is LIFO), so that
        // block is asked for on every poll of the source, and once the
        // origin has written the request, the line comes alongside the
        // slot's miss. The cost: a copy fetched here before the origin is
        // done writing the request makes it invalidate ours again. Side by
        // side, the two halves together took submit_to's round trip over
        // fastforward to 1.35x the raw queue's (runtime/README.md).
        if (auto& h = cs.next_from[s]; h.block != nullptr) {
            __builtin_prefetch(h.block, 0, 3);
            if (--h.polls == 0) h.block = nullptr;
        }
        const std::size_t k = drain_queue(q, [&](work_item* item) {
            if constexpr (shared_inbox) {
                if (item->to != me) {  // a reply: this core is its origin
                    const unsigned t = item->to;
                    complete_reply(cs, item);
                    admit_waiting(cs, t);
                    return;
                }
            }
            ++cs.in[item->from].received;
            // Read now: once the reply is pushed, the item is not ours.
            auto& h = cs.next_from[s];
            h.block = item->lone ? item : nullptr;
            h.polls = lone_prefetch_polls;
            if (item->process()) push_reply(cs, item);
        });
        cs.popped += k;
        if (k < cfg_.poll_budget) consumer_flush(q);  // found empty: see drain_replies
        if (k == 0) {
            ++cs.in[s].empty_polls;
        } else {
            ++cs.in[s].batches[batch_bucket(k)];
        }
        found |= k != 0;
        return k == cfg_.poll_budget;
    }

    // One pass over the incoming queues; true if anything was found.
    bool poll(core_state& cs, unsigned me) noexcept {
        bool found = false;
        // A core waiting on one reply, the latency-bound case, reads two
        // lines the target wrote once it comes: the return queue's slot, and
        // then, through the pointer in it, the request with the outcome. In
        // series, that is two misses. Asked for on every poll, the request's
        // line is fetched once the target has written the outcome, alongside
        // the miss on the slot, or before it: submit_to's round trip over
        // fastforward fell from 1.61x to 1.43x the raw queue's on our 2-vCPU
        // VM (runtime/README.md, "Prefetching a lone request"). Before the
        // target writes, the line is still ours (we wrote the request) or
        // shared with it after its read, so the prefetch moves nothing.
        // With several in flight, replies come in batches, which
        // drain_queue prefetches, and a fetch here could take a line from
        // a target that is still writing it.
        if (cs.lone != nullptr) __builtin_prefetch(cs.lone, 1, 3);
        if (ring_) {
            detail::doorbell& b = bells_[me];
            // A relaxed peek first: an idle core reads one word and is done.
            // A stale zero only delays us to the next turn.
            if ((b.summary.load(std::memory_order_relaxed) & ~detail::bell_sleeping) != 0) {
                // (B4) acquire: pairs with (B3).
                const std::uint32_t sum = b.summary.exchange(0, std::memory_order_acquire) & detail::bell_words_mask;
                for (std::uint32_t m = sum; m != 0; m &= m - 1) {
                    const auto w = static_cast<unsigned>(std::countr_zero(m));
                    // (B2) acquire: pairs with (B1).
                    const std::uint64_t bits = b.words[w].exchange(0, std::memory_order_acquire);
                    // Scanning (rung only for sleep's sake) polls everything
                    // anyway, and so does a shared inbox (one queue).
                    if (cfg_.poll == polling::doorbell && !shared_inbox && bits != 0) {
                        cs.pending[w] |= bits;
                        cs.pending_words |= 1u << w;
                    }
                }
            }
        }
        if constexpr (shared_inbox) {
            // Everything sent to this core is in its one inbox: polled every
            // turn, whatever the strategy.
            (void)drain_requests(cs, me, me, found);
        } else if (cfg_.poll == polling::doorbell) {
            for (std::uint32_t wm = cs.pending_words; wm != 0; wm &= wm - 1) {
                const auto w = static_cast<unsigned>(std::countr_zero(wm));
                std::uint64_t bits = cs.pending[w];
                // Replies first, from every pending source of the word: they
                // free in-flight slots for waiting submissions, and what their
                // continuations send goes out (flush_inline_sends) before the
                // requests are served. Bit per source: hit the budget (more),
                // delivered anything (got).
                std::uint64_t more = 0, got = 0;
                for (std::uint64_t m = bits; m != 0; m &= m - 1) {
                    const auto b = static_cast<unsigned>(std::countr_zero(m));
                    const std::uint64_t bit = std::uint64_t{1} << b;
                    bool g = false;
                    if (drain_replies(cs, me, w * 64 + b, g)) more |= bit;
                    if (g) got |= bit;
                }
                flush_inline_sends(cs, me);
                for (std::uint64_t m = bits; m != 0; m &= m - 1) {
                    const auto b = static_cast<unsigned>(std::countr_zero(m));
                    const unsigned s = w * 64 + b;
                    const std::uint64_t bit = std::uint64_t{1} << b;
                    bool g = false;
                    if (drain_requests(cs, me, s, g)) more |= bit;
                    if (g) got |= bit;
                    // Its bit stays while the source hit the budget, and for
                    // doorbell_linger_turns empty polls after it last delivered.
                    if ((got & bit) != 0) cs.linger[s] = cfg_.doorbell_linger_turns;
                    if ((more & bit) == 0) {
                        if (cs.linger[s] == 0) bits &= ~bit;
                        else if ((got & bit) == 0) --cs.linger[s];
                    }
                }
                found |= got != 0;
                cs.pending[w] = bits;
                if (bits == 0) cs.pending_words &= ~(1u << w);
            }
        } else {
            for (unsigned s = 0; s < n_; ++s)
                if (s != me) (void)drain_replies(cs, me, s, found);
            flush_inline_sends(cs, me);
            for (unsigned s = 0; s < n_; ++s)
                if (s != me) (void)drain_requests(cs, me, s, found);
        }
        if (cfg_.poll == polling::doorbell) retry_waiting(cs);
        retry_replies(cs, me);
        return found;
    }

    // Continuations run inline on replies (smp_config::inline_replies) send
    // their next requests from inside the poll. Published with the replies
    // this turn's requests produce, at the end of the turn, they would reach
    // a doorbell or staging receiver in one batch with them: each side then
    // handles the other's whole window at once while the other waits, and
    // the two cores alternate (mesh throughput over a doorbell fell 30 % on
    // 2 cores). Flushed here, the requests go out first and the receiver
    // starts on them while this core serves its own requests.
    void flush_inline_sends(core_state& cs, unsigned me) noexcept {
        if (cfg_.inline_replies && cfg_.flush_on_poll && !cs.dirty.empty()) flush_outgoing(cs, me);
    }

    // A submission that found its ring full (not its window) waits for a
    // slot, and a consumer that hands slots back (consumer_flush, on its idle
    // poll) sends nothing and rings nothing: no reply need come to retry it.
    // A scan drains every source each turn, retrying as it goes
    // (drain_replies); a doorbell core polls only the sources that rang, so
    // it retries here, on every turn after a send found a ring full (a try
    // that finds one full again sets the flag again). O(N) only then: a core
    // whose waiting submissions wait only for their windows, or an idle
    // core, reads one flag. (A shared inbox never fills: inbox_capacity.)
    void retry_waiting(core_state& cs) noexcept {
        if (!cs.ring_full_seen) return;
        cs.ring_full_seen = false;
        admit_all_waiting(cs);
    }
    void admit_all_waiting(core_state& cs) noexcept {
        for (unsigned t = 0; t < n_ && cs.total_waiting != 0; ++t) admit_waiting(cs, t);
    }

    // Replies that did not fit earlier, in order per origin; an origin
    // whose return queue is still full keeps its place in held_from.
    void retry_replies(core_state& cs, unsigned me) noexcept {
        if (cs.held_from.empty()) return;
        std::size_t keep = 0;
        for (const unsigned from : cs.held_from) {
            detail::item_list& held = cs.held[from];
            while (!held.empty()) {
                work_item* item = held.head;
                held.pop_front();  // before the push: then the item is the origin's
                if (!rep(from, me).try_push(std::move(item))) {
                    held.push_front(item);
                    break;
                }
                ++cs.pushed;
                mark_dirty(cs, from, rep_dirty);
            }
            if (!held.empty()) cs.held_from[keep++] = from;
        }
        cs.held_from.resize(keep);
    }

    // Publishes what this core pushed (staging queues) and rings the
    // receivers' doorbells; O(queues pushed to), not O(N).
    void flush_outgoing(core_state& cs, unsigned me) noexcept {
        std::size_t keep = 0;
        for (std::size_t i = 0; i < cs.dirty.size(); ++i) {
            const unsigned d = cs.dirty[i];
            const std::uint8_t f = cs.dirty_flags[d];
            bool all = true;
            if ((f & req_dirty) != 0) {
                all &= qmesh::flush(req(me, d));
                cs.unflushed[d] = 0;
            }
            if ((f & rep_dirty) != 0) all &= qmesh::flush(rep(d, me));
            if (ring_) ring(cs, d, me);
            if (all) cs.dirty_flags[d] = 0;
            else cs.dirty[keep++] = d;  // what did not fit is retried next turn
        }
        cs.dirty.resize(keep);
    }

    // One reactor turn: tasks, polls, flushes. True if it did anything.
    bool turn(core_state& cs, unsigned me) noexcept {
        const std::size_t ran = run_tasks(cfg_.task_quota);
        cs.inline_left = cfg_.reply_quota != 0 ? cfg_.reply_quota : std::numeric_limits<std::size_t>::max();
        const bool found = poll(cs, me);
        const bool busy = ran != 0 || found;
        if (!cs.dirty.empty() && (cfg_.flush_on_poll || !busy || ++cs.held_turns >= cfg_.flush_max_turns)) {
            cs.held_turns = 0;
            flush_outgoing(cs, me);
        }
        ++cs.counters.turns;
        if (!busy) ++cs.counters.idle_turns;
        return busy;
    }

    bool nothing_pending(const core_state& cs) const noexcept {
        if (!cs.held_from.empty() || !cs.dirty.empty() || !local_tasks().empty()) return false;
        return cs.total_waiting == 0 && cs.pending_words == 0;
    }

    // Passive: nothing this core could do without a message first, or
    // without a ring slot handed back (what waits for a slot, a submission or
    // a held-back reply, is retried before the core answers: nothing_sent).
    // A lingering doorbell source (doorbell_linger_turns) is still pending:
    // the core turns passive, and can quiesce, once its linger has run out.
    bool passive(const core_state& cs) const noexcept {
        return local_tasks().empty() && cs.dirty.empty() && cs.pending_words == 0;
    }

    // Before answering a wave, seen: retries every held-back reply and
    // waiting submission. A passive core with one can send without popping
    // anything, once the consumer hands a slot of a full ring back
    // (consumer_flush, on its idle poll), so an earlier failed try proves
    // nothing. A consumer hands back what it popped before it answers the
    // wave before this one, so a try after seeing this wave sees every such
    // slot. True if nothing was sent (answer now); else the core answers on
    // a later turn, with its new count.
    bool nothing_sent(core_state& cs, unsigned me) noexcept {
        const std::uint64_t before = cs.pushed;
        retry_replies(cs, me);
        admit_all_waiting(cs);
        return cs.pushed == before;
    }

    void answer_wave(core_state& cs, unsigned me, std::uint64_t w) noexcept {
        detail::stall_answer& a = answers_[me];
        a.view = {cs.pushed, cs.popped, cs.total_inflight + cs.total_waiting, cs.stopping_seen, cs.quiesced};
        // (S4) release: pairs with (S5).
        a.wave.store(w, std::memory_order_release);
        cs.answered = w;
    }

    // Reactor 0, on a passive turn: opens a wave after stall_check_turns
    // idle turns, closes it once every reactor has answered, and stops the
    // mesh if stall_verdict says it is stuck.
    void check_stall(core_state& cs) noexcept {
        if (det_.open == 0) {
            if (++cs.quiet_turns < cfg_.stall_check_turns) return;
            det_.open = det_.closed + 1;
            // (S2) release: our reads of the last wave's answers happen-before
            // any answer to this one; pairs with (S3).
            wave_.store(det_.open, std::memory_order_release);
            // No poke: a parked reactor answers at its timeout. Waking it
            // would hide a lost wake-up, which must stay a hang the tests see.
            return;
        }
        // From the first reactor that had not answered: an idle turn here
        // reads one line while a busy reactor keeps the wave open.
        for (; det_.answered < n_; ++det_.answered)
            // (S5) acquire: pairs with (S4).
            if (answers_[det_.answered].wave.load(std::memory_order_acquire) != det_.open) return;
        for (unsigned c = 0; c < n_; ++c) det_.now[c] = answers_[c].view;
        // A mesh that moved since the last wave waits stall_check_turns
        // again before the next: waves do not follow each other back to back
        // while reactor 0 idles beside a mesh at work.
        const bool moved = det_.closed == 0 || det_.now != det_.last;
        // Waves go one at a time, so the last closed is the one just before.
        // Only reactor 0 sets stopping_ (run()'s function completes on it).
        const bool stuck =
            detail::stall_verdict(det_.closed != 0 ? std::span<const detail::stall_view>(det_.last)
                                                   : std::span<const detail::stall_view>(),
                                  det_.now, stopping_.load(std::memory_order_relaxed));
        det_.last.swap(det_.now);
        det_.closed = det_.open;
        det_.open = 0;
        det_.answered = 0;
        // Else quiet_turns is still past the threshold: the next wave opens
        // on the next idle turn.
        if (moved) cs.quiet_turns = 0;
        if (stuck) {
            // Relaxed: the reactors stop on it; they publish nothing.
            wave_.store(stalled_wave, std::memory_order_relaxed);
            poke_all(cs);
        }
    }

    // After a stall, joined: every pair and group that holds requests.
    std::string describe_stall() const {
        std::string held;
        std::size_t listed = 0, more = 0;
        for (unsigned a = 0; a < n_; ++a) {
            const core_state& cs = (*cores_)[a];
            for (unsigned b = 0; b < n_; ++b)
                for (unsigned g = 0; g < cfg_.groups; ++g) {
                    const std::size_t sl = slot(b, g);
                    const std::size_t waiting = cs.waiting[sl].size();
                    if (cs.inflight[sl] == 0 && waiting == 0) continue;
                    if (listed == 8) {
                        ++more;
                        continue;
                    }
                    held += (listed++ == 0 ? "" : "; ") + std::to_string(a) + "->" + std::to_string(b) + " group " +
                            std::to_string(g) + ": " + std::to_string(cs.inflight[sl]) + " in flight, " +
                            std::to_string(waiting) + " waiting to be sent";
                }
        }
        if (more != 0) held += "; and " + std::to_string(more) + " more pairs";
        // Replies a return queue would not take (a queue that keeps its
        // slots), per core and origin: each names the queue that holds it.
        std::size_t held_listed = 0, held_more = 0;
        for (unsigned a = 0; a < n_; ++a)
            for (const unsigned o : (*cores_)[a].held_from) {
                if (held_listed == 8) {
                    ++held_more;
                    continue;
                }
                ++held_listed;
                const std::size_t k = (*cores_)[a].held[o].size();
                held += (held.empty() ? "" : "; ") + ("core " + std::to_string(a)) + " holds back " +
                        std::to_string(k) + (k == 1 ? " reply" : " replies") + " for core " + std::to_string(o) +
                        " (return queue " + std::to_string(a) + "->" + std::to_string(o) + " full)";
            }
        if (held_more != 0) held += "; and " + std::to_string(held_more) + " more held-back reply queues";
        std::string what = "qmesh: deadlock: every reactor is idle and no message is on its way, ";
        what += stopping_.load(std::memory_order_relaxed) ? "but some requests can never complete"
                                                          : "yet run()'s function has not finished";
        return what + (held.empty() ? " (no request is held: a future waits for a promise nothing can fulfil)"
                                    : " (" + held + ")");
    }

    // A sleeping reactor's idle run has reached idle_turns_before_sleep empty
    // turns (again): true once it has also lasted idle_poll_time since it
    // first did.
    bool idle_long_enough(core_state& cs) const noexcept {
        if (cfg_.idle_poll_time.count() <= 0) return true;
        const std::uint64_t now = detail::clock_ns();
        if (cs.idle_since == 0) {
            cs.idle_since = now;
            return false;
        }
        return now - cs.idle_since >= static_cast<std::uint64_t>(cfg_.idle_poll_time.count()) * 1000u;
    }

    // Parks the calling reactor until a ring or a poke (or the timeout).
    void park(core_state& cs, unsigned me) noexcept {
        detail::doorbell& b = bells_[me];
        std::uint32_t expected = 0;
        // (B5) acq_rel: the compare-exchange and every ringer's fetch_or are
        // RMWs on one word, so one of them sees the other (see the header).
        if (!b.summary.compare_exchange_strong(expected, detail::bell_sleeping, std::memory_order_acq_rel,
                                               std::memory_order_relaxed))
            return;  // something arrived meanwhile
        ++cs.counters.sleeps;
        detail::futex_wait(b.summary, detail::bell_sleeping, cfg_.sleep_timeout);
        b.summary.fetch_and(~detail::bell_sleeping, std::memory_order_acq_rel);
    }

    void reactor_main(unsigned me, std::function<void()>* start) {
        auto& hooks = detail::local_hooks();
        hooks = {this, &smp::respond_cb, static_cast<int>(me)};
        try {
            if (cfg_.pin) topology::instance().pin_current_thread(cfg_.cores[me]);
            init_state(me);
            allocate_queues(me);
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
        const std::uint64_t cpu0 = thread_cpu_ns(), wall0 = detail::clock_ns();
        const std::uint64_t unhandled0 = local_unhandled_failures();
        // time_turns: the end of the last turn; a busy turn adds the time
        // since (the loop's own checks and parks fall to the turn after).
        const std::uint64_t first_tick = cfg_.time_turns ? turn_ticks() : 0;
        std::uint64_t last_tick = first_tick;
        for (;;) {
            const bool busy = turn(cs, me);
            if (cfg_.time_turns) {
                const std::uint64_t t = turn_ticks();
                if (busy) cs.counters.busy_ticks += t - last_tick;
                last_tick = t;
            }
            // (S2) acquire: pairs with (S1).
            if (!cs.stopping_seen && stopping_.load(std::memory_order_acquire)) cs.stopping_seen = true;
            if (cs.stopping_seen && !cs.quiesced && cs.total_inflight == 0 && nothing_pending(cs)) {
                cs.quiesced = true;
                // (Q1) release: our last pushes and counters happen-before any
                // core that sees the full count; pairs with (Q2).
                if (quiesced_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) poke_all(cs);
            }
            // (Q2) acquire: once all are quiesced no request is in flight.
            if (cs.quiesced && quiesced_.load(std::memory_order_acquire) == n_ && local_tasks().empty()) break;
            // Relaxed: a request to give up, it carries no data.
            if (cfg_.abort != nullptr && cfg_.abort->load(std::memory_order_relaxed)) break;
            if (busy) {
                cs.idle_run = 0;
                cs.idle_since = 0;
                cs.quiet_turns = 0;
                continue;
            }
            if (passive(cs)) {
                // (S3) acquire: pairs with (S2).
                const std::uint64_t w = wave_.load(std::memory_order_acquire);
                if (w == stalled_wave) break;
                if (w != cs.answered && nothing_sent(cs, me)) answer_wave(cs, me, w);
                if (me == 0 && cfg_.stall_check_turns != 0) check_stall(cs);
            }
            if (cfg_.yield_when_idle) sched_yield();
            if (cfg_.idle == idle_policy::sleep && ++cs.idle_run >= cfg_.idle_turns_before_sleep &&
                nothing_pending(cs)) {
                cs.idle_run = 0;
                if (idle_long_enough(cs)) {
                    cs.idle_since = 0;
                    park(cs, me);
                    cs.quiet_turns += cfg_.idle_turns_before_sleep;  // a park stands for the turns it saved
                }
            }
        }
        cs.counters.cpu_ns = thread_cpu_ns() - cpu0;
        cs.counters.wall_ns = detail::clock_ns() - wall0;
        cs.counters.loop_ticks = last_tick - first_tick;
        // Only an aborted loop leaves tasks (every other exit waits for an
        // empty queue). They never run: disposed of here, while this thread
        // is still this core's reactor, a failed future one of them held is
        // counted for this core, not only process-wide at thread exit.
        local_tasks().discard_all();
        cs.counters.unhandled_failures = local_unhandled_failures() - unhandled0;
        hooks = {};
    }

    // A core allocates the queues it consumes from, under the placement
    // policy, and records where each landed.
    void allocate_queues(unsigned me) {
        const int mine = pu_nodes_[me];
        auto make = [&](std::unique_ptr<queue_type>& slot, unsigned producer, std::size_t capacity) {
            const int node = cfg_.placement == numa_placement::sender ? pu_nodes_[producer] : mine;
            {
                detail::numa_scope scope(cfg_.placement, node);
                slot = std::make_unique<queue_type>(capacity);
            }
            const int got = detail::numa_node_of_address(slot.get());
            auto& cs = state(me);
            ++cs.numa_checked;
            if (cfg_.placement == numa_placement::interleave ? got >= 0 : got == node) ++cs.numa_on_intended;
        };
        for (unsigned s = 0; s < n_ && !shared_inbox; ++s) {
            if (s == me) continue;
            make(req_[idx(s, me)], s, pair_capacity_);
            make(rep_[idx(me, s)], s, pair_capacity_);
        }
        if (shared_inbox) make(req_[me], me, inbox_capacity(pair_capacity_, n_ - 1));
    }

    void prepare_states() {
        cores_ = std::make_unique<std::vector<core_state>>(n_);
        bells_ = std::make_unique<detail::doorbell[]>(n_);
        answers_ = std::make_unique<detail::stall_answer[]>(n_);
        det_ = {};
        det_.last.assign(n_, {});
        det_.now.assign(n_, {});
        wave_.store(0, std::memory_order_relaxed);
    }
    // Each core sizes its own state's per-peer arrays, on its own thread:
    // they come from that thread's heap (glibc gives each thread an arena of
    // its own) and are first touched on its NUMA node. Made by one thread
    // for all cores, one core's counters and in-flight counts could share a
    // line with another's, and every message would pull it across.
    void init_state(unsigned me) {
        core_state& cs = state(me);
        cs.waiting.resize(static_cast<std::size_t>(n_) * cfg_.groups);
        cs.inflight.assign(static_cast<std::size_t>(n_) * cfg_.groups, 0);
        cs.waiting_to.assign(n_, 0);
        cs.unflushed.assign(n_, 0);
        cs.next_from.assign(n_, {});
        cs.dirty_flags.assign(n_, 0);
        cs.dirty.reserve(n_);
        cs.held.resize(n_);
        cs.held_from.reserve(n_);
        cs.pending.assign(words_, 0);
        cs.sample_left = cfg_.latency_sample_every != 0 ? cfg_.latency_sample_every
                                                        : std::numeric_limits<std::uint64_t>::max();
        cs.linger.assign(cfg_.poll == polling::doorbell ? n_ : 0, 0);
        cs.out.assign(n_, {});
        cs.in.assign(n_, {});
    }

    void launch(std::function<void()>& start) {
        prepare_states();
        // Looked up here, once: libnuma fills its node cache without a lock,
        // so the reactors must not be its first callers all at once.
        pu_nodes_.clear();
        for (unsigned c : cfg_.cores) pu_nodes_.push_back(detail::numa_node_of_pu(c));
        const unsigned nodes = detail::numa_node_count();
        ready_.store(0, std::memory_order_relaxed);
        quiesced_.store(0, std::memory_order_relaxed);
        stopping_.store(false, std::memory_order_relaxed);
        start_failed_.store(false, std::memory_order_relaxed);
        std::vector<std::thread> threads;
        threads.reserve(n_);
        for (unsigned i = 0; i < n_; ++i) {
            try {
                threads.emplace_back([this, i, &start] { reactor_main(i, i == 0 ? &start : nullptr); });
            } catch (const std::exception& e) {
                // The reactors started wait at the barrier for all n: let
                // them through to see the failed start and return, so that
                // every thread started is joined (never std::terminate).
                if (!start_failed_.exchange(true, std::memory_order_acq_rel))
                    error_ = "qmesh: cannot start reactor " + std::to_string(i) + ": " + e.what();
                ready_.fetch_add(n_ - i, std::memory_order_acq_rel);
                break;
            }
        }
        for (auto& t : threads) t.join();
        // Joined: every core's counters are visible here.
        latency_ = histogram{};
        numa_ = {};
        numa_.placement = cfg_.placement;
        numa_.nodes = nodes;
        numa_.applied = numa_.nodes > 1;
        // A failed start may have left a core's arrays unsized: nothing ran.
        const bool started = !start_failed_.load(std::memory_order_relaxed);
        const bool stalled = started && wave_.load(std::memory_order_relaxed) == stalled_wave;
        const std::string stall = stalled ? describe_stall() : std::string();
        for (unsigned a = 0; a < n_ && started; ++a) {
            const core_state& cs = (*cores_)[a];
            core_counters_[a] = cs.counters;
            latency_.merge(cs.latency);
            numa_.queues += cs.numa_checked;
            numa_.on_intended += cs.numa_on_intended;
            for (unsigned b = 0; b < n_; ++b) {
                auto& c = counters_[idx(a, b)];
                const auto& o = cs.out[b];
                const auto& i = (*cores_)[b].in[a];
                c = {o.sent, i.received, o.completed, o.full_stalls, i.empty_polls, i.batches};
            }
        }
        cores_.reset();
        bells_.reset();
        answers_.reset();
        for (auto& q : req_) q.reset();
        for (auto& q : rep_) q.reset();
        if (!started) throw std::runtime_error(error_);
        if (stalled) throw smp_deadlock(stall);
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
    unsigned words_ = 1;  // doorbell words in use
    std::size_t pair_capacity_ = 0;  // each queue's capacity per pair: room for every group's window
    bool ring_ = false;   // senders ring doorbells (doorbell polling or sleeping reactors)
    std::vector<std::unique_ptr<queue_type>> req_;  // [from * n + to] (shared inbox: [to])
    std::vector<std::unique_ptr<queue_type>> rep_;  // [from * n + to]: replies for from's requests to `to`
    std::vector<pair_counters> counters_;
    std::vector<core_counters> core_counters_;
    // A copy: read on every sampled submit_to. Calibrated only for a mesh
    // that samples. (cfg_ is declared, so initialised, before it.)
    sample_clock clk_ = cfg_.latency_sample_every != 0 ? sample_clock::get() : sample_clock::steady();
    histogram latency_;
    numa_report numa_;
    std::unique_ptr<std::vector<core_state>> cores_;
    std::unique_ptr<detail::doorbell[]> bells_;
    std::unique_ptr<detail::stall_answer[]> answers_;  // per reactor
    // The stall detector's state, reactor 0's alone.
    struct stall_detector {
        std::uint64_t open = 0;    // the wave in progress (0: none)
        unsigned answered = 0;     // reactors 0 .. answered-1 have answered `open`
        std::uint64_t closed = 0;  // the last wave every reactor answered
        std::vector<detail::stall_view> last;  // their answers to it (closed != 0)
        std::vector<detail::stall_view> now;   // the answers to `open`, being read
    } det_;
    static constexpr std::uint64_t stalled_wave = ~std::uint64_t{0};
    alignas(cache_line_bytes) std::atomic<std::uint64_t> wave_{0};  // the newest wave, or stalled_wave
    std::vector<int> pu_nodes_;  // NUMA node of each reactor's PU
    alignas(cache_line_bytes) std::atomic<bool> stopping_{false};
    alignas(cache_line_bytes) std::atomic<unsigned> quiesced_{0};
    std::atomic<unsigned> ready_{0};
    std::atomic<bool> start_failed_{false};
    std::atomic<bool> running_{false};
    std::string error_;
};

}  // namespace qmesh::rt
