// qmesh/runtime/task.hpp: the unit of deferred work on one core.
//
// Every thread has one task queue (a reactor's is its run queue). A fulfilled
// promise with a waiting continuation schedules that continuation here; the
// reactor runs the queue under a task quota, and code outside a reactor (unit
// tests, the main thread) drains it with run_tasks().
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "qmesh/runtime/pool.hpp"

namespace qmesh::rt {

// Tasks come from the calling thread's pool (pool.hpp): a continuation is
// created and run on one core, often thousands of times a second.
class task : public pooled {
public:
    virtual ~task() = default;
    // Runs the task and disposes of it (a task deletes itself when done).
    virtual void run_and_dispose() noexcept = 0;
    // Disposes of a task that will never run (its thread is ending, or its
    // reactor aborted). A task the queue does not own (a coroutine's,
    // embedded in its frame) overrides this to do nothing.
    virtual void discard() noexcept { delete this; }

private:
    friend class task_queue;
    task* next_ = nullptr;
};

// Intrusive FIFO of tasks, owned by one thread; no synchronisation.
//
// Each thread has one (local_tasks()), and no other may exist: it has no
// destructor of its own, and the exit hook drains the thread's queue, not
// `this`. It is trivially destructible and
// constant-initialised, so reaching it costs no guard and no call: every
// fulfilled promise with a continuation schedules through it. What a
// destructor would do, dispose of the tasks still queued when the thread
// ends, a thread-exit hook does instead, set up by the thread's first push.
class task_queue {
public:
    constexpr task_queue() = default;
    task_queue(const task_queue&) = delete;
    task_queue& operator=(const task_queue&) = delete;

    void push(task* t) noexcept {
        if (!exit_hook_) set_exit_hook();
        t->next_ = nullptr;
        if (tail_ != nullptr) tail_->next_ = t; else head_ = t;
        tail_ = t;
        ++size_;
        ++pushes_;
    }
    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }
    // Tasks ever pushed, and ever taken off the front (run or discarded).
    // The queue is FIFO, so the task that made pushed() equal to k has been
    // taken once taken() >= k.
    std::uint64_t pushed() const noexcept { return pushes_; }
    std::uint64_t taken() const noexcept { return pushes_ - size_; }

    // Runs at most `quota` tasks (tasks they schedule join the back of the
    // queue and count against the same quota); returns how many ran.
    std::size_t run(std::size_t quota = std::numeric_limits<std::size_t>::max()) noexcept;

    // Disposes of every queued task without running it (task::discard):
    // the thread is ending, or its reactor aborted, so they never will run.
    void discard_all() noexcept;

private:
    // Makes the calling thread discard_all() its queue when it ends (out of
    // line, once per thread).
    void set_exit_hook() noexcept;

    task* head_ = nullptr;
    task* tail_ = nullptr;
    std::size_t size_ = 0;
    std::uint64_t pushes_ = 0;
    bool exit_hook_ = false;
};
static_assert(std::is_trivially_destructible_v<task_queue>, "a thread's queue must need no guard");

namespace detail {
inline thread_local constinit task_queue tl_tasks{};
inline thread_local constinit bool tl_discarding = false;  // inside discard_all()
}  // namespace detail

// This thread's queue.
inline task_queue& local_tasks() noexcept { return detail::tl_tasks; }

// True while this thread's queue disposes of tasks that will never run
// (discard_all): a promise they break then, whose state dies within the same
// disposal, is no failure anyone could have seen (future.hpp).
inline bool discarding_tasks() noexcept { return detail::tl_discarding; }

inline void schedule(task* t) noexcept { local_tasks().push(t); }

// Runs this thread's queue until it is empty (or `quota` tasks have run).
inline std::size_t run_tasks(std::size_t quota = std::numeric_limits<std::size_t>::max()) noexcept {
    return local_tasks().run(quota);
}

// A task made from a callable.
template <class F>
class lambda_task final : public task {
public:
    template <class G>
    explicit lambda_task(G&& g) : f_(std::forward<G>(g)) {}
    void run_and_dispose() noexcept override {
        f_();
        delete this;
    }

private:
    F f_;
};

// Schedules a callable as a task.
template <class F>
void schedule_fn(F&& f) {
    schedule(static_cast<task*>(new lambda_task<std::decay_t<F>>(std::forward<F>(f))));
}

}  // namespace qmesh::rt
