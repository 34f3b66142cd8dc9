#include "qmesh/runtime/task.hpp"

#include <atomic>
#include <cstdio>
#include <exception>

#include "qmesh/runtime/future.hpp"

namespace qmesh::rt {

void task_queue::discard_all() noexcept {
    // Tasks left when a thread ends never run; disposing of them gives back
    // what they hold (a continuation's reference to its state).
    // Disposing of a task may schedule another (a continuation destroyed
    // with its promise breaks that promise's future, whose own continuation
    // is then scheduled): the queue is consistent before each discard, so
    // such a push lands in it and is disposed of in turn.
    // A thread has one queue (see the class), so the thread's flag is the
    // queue's. Restored, not cleared, in case a discard ever nests.
    const bool outer = detail::tl_discarding;
    detail::tl_discarding = true;
    while (head_ != nullptr) {
        task* t = head_;
        head_ = t->next_;
        if (head_ == nullptr) tail_ = nullptr;
        --size_;
        t->discard();
    }
    detail::tl_discarding = outer;
}

std::size_t task_queue::run(std::size_t quota) noexcept {
    std::size_t n = 0;
    while (n < quota && head_ != nullptr) {
        task* t = head_;
        head_ = t->next_;
        if (head_ == nullptr) tail_ = nullptr;
        --size_;
        t->run_and_dispose();
        ++n;
    }
    return n;
}

namespace {
// Disposes of the thread's queued tasks when the thread ends.
struct task_drain {
    task_drain() = default;
    task_drain(const task_drain&) = delete;
    task_drain& operator=(const task_drain&) = delete;
    ~task_drain() { local_tasks().discard_all(); }
};
}  // namespace

void task_queue::set_exit_hook() noexcept {
    // Constructed here, once per thread: its destructor runs at thread exit.
    static thread_local task_drain drain;
    (void)drain;
    exit_hook_ = true;
}

namespace {
// Gives a thread's pooled blocks back to the C heap when the thread ends,
// and closes its pool, so frees from thread-local destructors that run
// later (a task queue disposing of what never ran) bypass it.
struct pool_drain {
    pool_drain() = default;
    pool_drain(const pool_drain&) = delete;
    pool_drain& operator=(const pool_drain&) = delete;
    ~pool_drain() {
        detail::pool_lists& l = detail::tl_pool;
        l.closed = true;
        for (std::size_t c = 0; c < detail::pool_classes; ++c) {
            while (detail::pool_block* b = l.head[c]) {
                l.head[c] = b->next;
                detail::pool_delete_block(b, c);
            }
            l.count[c] = 0;
        }
    }
};

// Written by any core whose failed future dies unobserved; read by reports.
// Relaxed: a statistic, nothing is published through it.
std::atomic<std::uint64_t> g_unhandled{0};
thread_local std::uint64_t tl_unhandled = 0;
// How many the default handler has been given (it prints the first few).
std::atomic<std::uint64_t> g_printed{0};
constexpr std::uint64_t printed_max = 16;

// The default handler: the first printed_max with their what(), then one
// line saying the rest are only counted.
void print_unhandled_failure(const std::exception_ptr& ex) noexcept {
    const std::uint64_t k = g_printed.fetch_add(1, std::memory_order_relaxed);
    if (k > printed_max) return;
    if (k == printed_max) {
        std::fputs("qmesh: more failed futures were dropped unobserved: counted (unhandled_failures()), not printed\n",
                   stderr);
        return;
    }
    // One line each (fprintf writes it whole; stderr is unbuffered).
    const char* prefix = "qmesh: a failed future was dropped without anyone looking at its exception";
    if (!ex) {  // a promise failed with a null exception_ptr
        std::fprintf(stderr, "%s (a null exception)\n", prefix);
        return;
    }
    try {
        std::rethrow_exception(ex);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", prefix, e.what());
    } catch (...) {
        std::fprintf(stderr, "%s (not a std::exception)\n", prefix);
    }
}

// Relaxed: the handler is a plain function; installing one publishes
// nothing else (a handler that needs state synchronizes it itself).
std::atomic<unhandled_failure_handler> g_handler{&print_unhandled_failure};
}  // namespace

void detail::pool_register() noexcept {
    // Constructed here, once per thread: its destructor runs at thread exit.
    static thread_local pool_drain drain;
    (void)drain;
    tl_pool.registered = true;
}

std::uint64_t unhandled_failures() noexcept { return g_unhandled.load(std::memory_order_relaxed); }
std::uint64_t local_unhandled_failures() noexcept { return tl_unhandled; }

unhandled_failure_handler set_unhandled_failure_handler(unhandled_failure_handler h) noexcept {
    return g_handler.exchange(h != nullptr ? h : &print_unhandled_failure, std::memory_order_relaxed);
}

void detail::count_unhandled_failure(const std::exception_ptr& ex) noexcept {
    g_unhandled.fetch_add(1, std::memory_order_relaxed);
    ++tl_unhandled;
    g_handler.load(std::memory_order_relaxed)(ex);
}

}  // namespace qmesh::rt
