#include "pinned.hpp"

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "qmesh/runtime/clock.hpp"
#include "qmesh/runtime/topology.hpp"

namespace qmesh::bench {

double timer_overhead_ns() { return rt::detail::median_read_gap(now_ns, 2001); }

namespace {
// Waits of 0 to 300 turns of an empty loop (a cycle or less each), so that
// the differences clock_step_ns takes span the many steps it needs.
template <class Read>
double step_of(Read&& read) {
    auto wait = [](std::size_t i) {
        for (std::size_t k = 0, n = (i * 37) % 300; k < n; ++k) asm volatile("");
    };
    return rt::detail::clock_step_ns(std::forward<Read>(read), wait, 2001);
}
}  // namespace

double timer_step_ns() { return step_of(now_ns); }
double sample_clock_step_ns() {
    const rt::sample_clock& c = rt::sample_clock::get();
    return step_of([&c] { return c.to_ns(c.now()); });
}

namespace {
// The signal, 0 if none. An atomic, not a volatile sig_atomic_t: the
// watchdog threads read it while the handler writes it on another thread
// (lock-free, so safe in a handler). Relaxed: a request to stop, no data.
std::atomic<int> g_interrupted{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");
extern "C" void on_signal(int sig) { g_interrupted.store(sig, std::memory_order_relaxed); }
}  // namespace

bool interrupted() noexcept { return g_interrupted.load(std::memory_order_relaxed) != 0; }
int interrupted_exit_status() noexcept {
    const int sig = g_interrupted.load(std::memory_order_relaxed);
    return 128 + (sig != 0 ? sig : SIGINT);
}

struct watchdog::impl {
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    std::thread thread;
};

watchdog::watchdog(std::atomic<bool>& abort, std::chrono::milliseconds timeout) : impl_(std::make_unique<impl>()) {
    impl_->thread = std::thread([this, &abort, timeout] {
        std::unique_lock lock(impl_->mu);
        const auto deadline = clock::now() + timeout;
        while (!impl_->finished) {
            impl_->cv.wait_until(lock, std::min(deadline, clock::now() + std::chrono::milliseconds(100)));
            if (!impl_->finished && (clock::now() >= deadline || interrupted())) {
                // Relaxed: a request to give up, it carries no data.
                abort.store(true, std::memory_order_relaxed);
                return;
            }
        }
    });
}

watchdog::~watchdog() { stop(); }

void watchdog::stop() {
    if (!impl_->thread.joinable()) return;
    {
        std::lock_guard lock(impl_->mu);
        impl_->finished = true;
    }
    impl_->cv.notify_one();
    impl_->thread.join();
}

void install_interrupt_handler() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

run_outcome run_pinned(const std::vector<unsigned>& cores,
                       const std::vector<std::function<void(const abort_flag&)>>& fns,
                       std::chrono::milliseconds timeout) {
    const std::size_t n = cores.size();
    abort_flag abort;
    std::atomic<std::size_t> ready{0}, done{0};
    std::mutex mu;
    std::condition_variable cv;
    std::string first_error;
    auto fail = [&](std::string e) {
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = std::move(e);
        abort.flag.store(true, std::memory_order_relaxed);
    };
    std::vector<double> shares(n, 1.0);
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            try {
                rt::topology::instance().pin_current_thread(cores[i]);
            } catch (const std::exception& e) {
                fail(e.what());
            }
            // Start together: nobody measures while a partner is still being
            // created and pinned.
            ready.fetch_add(1, std::memory_order_acq_rel);
            while (ready.load(std::memory_order_acquire) < n) {
            }
            if (!abort.raised()) {
                const std::uint64_t cpu0 = rt::thread_cpu_ns(), wall0 = now_ns();
                try {
                    fns[i](abort);
                } catch (const std::exception& e) {
                    fail(e.what());
                }
                const std::uint64_t wall = now_ns() - wall0;
                // Written by thread i only, read after the join.
                if (wall > 0) shares[i] = static_cast<double>(rt::thread_cpu_ns() - cpu0) / static_cast<double>(wall);
            }
            std::lock_guard lock(mu);
            if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n) cv.notify_one();
        });
    }
    // The watchdog sleeps on a condition variable and wakes ten times a
    // second at most (to notice an interrupt), so on a machine with as many
    // cores as measuring threads it steals almost no time from them.
    const auto deadline = clock::now() + timeout;
    bool gave_up = false;
    {
        std::unique_lock lock(mu);
        while (done.load(std::memory_order_acquire) < n) {
            cv.wait_for(lock, std::chrono::milliseconds(100));
            if (!gave_up && (clock::now() > deadline || interrupted())) {
                gave_up = true;
                lock.unlock();
                fail(interrupted() ? std::string("interrupted")
                                   : "timed out after " + std::to_string(timeout.count()) +
                                         " ms (deadlock or starvation)");
                lock.lock();
            }
        }
    }
    for (auto& t : threads) t.join();
    run_outcome r;
    r.ok = first_error.empty();
    r.error = first_error;
    // A clock read's granularity can put a share a hair above 1.
    r.cpu_share = std::min(1.0, *std::min_element(shares.begin(), shares.end()));
    return r;
}

}  // namespace qmesh::bench
