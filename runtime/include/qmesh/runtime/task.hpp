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
    // Disposes of a task that will never run (its thread is ending). A task
    // the queue does not own (a coroutine's, embedded in its frame) overrides
    // this to do nothing.
    virtual void discard() noexcept { delete this; }

private:
    friend class task_queue;
    task* next_ = nullptr;
};

// Intrusive FIFO of tasks, owned by one thread; no synchronisation.
class task_queue {
public:
    task_queue() = default;
    task_queue(const task_queue&) = delete;
    task_queue& operator=(const task_queue&) = delete;
    ~task_queue();

    void push(task* t) noexcept {
        t->next_ = nullptr;
        if (tail_ != nullptr) tail_->next_ = t; else head_ = t;
        tail_ = t;
        ++size_;
    }
    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }

    // Runs at most `quota` tasks (tasks they schedule join the back of the
    // queue and count against the same quota); returns how many ran.
    std::size_t run(std::size_t quota = std::numeric_limits<std::size_t>::max()) noexcept;

private:
    task* head_ = nullptr;
    task* tail_ = nullptr;
    std::size_t size_ = 0;
};

// This thread's queue.
task_queue& local_tasks() noexcept;

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
