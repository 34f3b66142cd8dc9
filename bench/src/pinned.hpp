// bench/src/pinned.hpp: run one function per core on pinned threads, under a
// watchdog, and the clock every latency figure is taken with.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qmesh::bench {

using clock = std::chrono::steady_clock;

inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count());
}

// Median cost of one now_ns() reading, measured on the calling thread. Each
// latency sample is the difference of two readings, so this is subtracted
// from every sample (and recorded in the results' context).
double timer_overhead_ns();
// The step of now_ns(), ns (rt::detail::clock_step_ns): every latency figure
// falls on a grid of that pitch; 1 if it steps by 1 ns or finer.
double timer_step_ns();
// ... and of the runtime's latency sample clock (rt::sample_clock::get()).
double sample_clock_step_ns();

// Set by the watchdog (or an interrupt) to make a measurement give up. Spin
// loops test it every few hundred turns; relaxed: it carries no data.
struct abort_flag {
    std::atomic<bool> flag{false};
    bool raised() const noexcept { return flag.load(std::memory_order_relaxed); }
};

// A spin-wait helper: true when the loop should give up: the watchdog's
// abort, or `partner_failed` (a side that found a wrong message raises it so
// that its partner stops at once instead of waiting for the watchdog, whose
// "timed out" would then hide the real error). Both are read once every 1024
// spins, relaxed: requests to stop, they carry no data.
class spinner {
public:
    explicit spinner(const abort_flag& a, const std::atomic<bool>* partner_failed = nullptr) noexcept
        : a_(a), partner_failed_(partner_failed) {}
    bool give_up() noexcept {
        return (++n_ & 1023u) == 0 &&
               (a_.raised() || (partner_failed_ != nullptr && partner_failed_->load(std::memory_order_relaxed)));
    }

private:
    const abort_flag& a_;
    const std::atomic<bool>* partner_failed_;
    std::uint32_t n_ = 0;
};

struct run_outcome {
    bool ok = true;
    std::string error;  // why not ok: pinning, timeout (deadlock / starvation), exception
    // The least, over the measuring threads, of the CPU time a thread got
    // while its function ran, over the wall time that took: about 1 for a
    // thread that had its core to itself, less when another process (or
    // another measuring thread) shared it. A spinning measurement that got
    // half a core measured the scheduler, not the queue.
    double cpu_share = 1.0;
};

// Why a mesh run that drained is still not a valid measurement: its
// reactors dropped failed futures unobserved (a request or continuation
// failed and nobody saw it), or "" if none did. M is an rt::smp after run().
template <class M>
std::string dropped_failures_error(const M& mesh) {
    const std::uint64_t n = mesh.core_totals().unhandled_failures;
    if (n == 0) return {};
    return std::to_string(n) + " failed future" + (n == 1 ? " was" : "s were") +
           " dropped unobserved on the reactors (first ones printed on stderr)";
}

// Entries whose cpu_share is below this are flagged (a context warning).
inline constexpr double low_cpu_share = 0.9;

// Runs fns[i] on a thread pinned to cores[i]; all start together after every
// thread is pinned. If they have not all returned by `timeout`, the abort flag
// is raised and the outcome says so (the functions must watch the flag).
run_outcome run_pinned(const std::vector<unsigned>& cores,
                       const std::vector<std::function<void(const abort_flag&)>>& fns,
                       std::chrono::milliseconds timeout);

// For measurements that cannot watch an abort_flag themselves (the mesh,
// which watches an atomic through smp_config::abort): raises `abort` once
// `timeout` has passed, or on an interrupt, unless stopped first. Sleeps on a
// condition variable, waking ten times a second at most.
class watchdog {
public:
    watchdog(std::atomic<bool>& abort, std::chrono::milliseconds timeout);
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog();
    void stop();  // idempotent; joins the watchdog thread

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Raised by SIGINT/SIGTERM: the run stops after the measurement in progress.
bool interrupted() noexcept;
// The shell's status for the interrupt: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
int interrupted_exit_status() noexcept;
void install_interrupt_handler();

}  // namespace qmesh::bench
