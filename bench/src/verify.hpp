// bench/src/verify.hpp: `qmesh verify`: concurrent correctness checks of one queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <string>
#include <vector>

#include "pinned.hpp"
#include "qmesh/queues/concept.hpp"

namespace qmesh::bench {

struct stress_config {
    unsigned producers = 1;
    unsigned consumers = 1;
    std::uint64_t items_per_producer = 100000;
    std::size_t capacity = 16;
    std::uint64_t seed = 1;
    // A stall: no value popped for this long. Progress-based, not a deadline
    // for the whole round, so that a loaded machine that is merely slow (a
    // capacity-1 handoff through yield can take milliseconds per value when
    // every core is busy) does not pass for a queue that lost a value.
    unsigned timeout_ms = 10000;
};

struct stress_report {
    bool ok = true;
    std::string violation;  // first violation found, for people
    std::uint64_t items = 0;
    bool interrupted = false;  // cut short by SIGINT/SIGTERM: no verdict
};

// (stress_queue, below)
// Producers push distinct values (producer << 40 | sequence); consumers pop.
// Checks after join: every value delivered exactly once (per-value counters),
// order as the traits promise (each consumer sees each producer's values in
// increasing order unless order is `none`), nothing stranded after flush.
// `Q` is built with `capacity`; the thread counts must fit the traits.
template <queue_kind K>
stress_report stress_queue(const stress_config& c) {
    using Q = typename K::template type<std::uint64_t>;
    Q q(c.capacity);
    const std::uint64_t total = c.items_per_producer * c.producers;
    std::atomic<std::uint64_t> popped{0};
    std::atomic<bool> give_up{false};
    std::vector<std::vector<std::uint64_t>> seen(c.consumers);  // per consumer, in pop order
    std::vector<std::thread> threads;
    for (unsigned p = 0; p < c.producers; ++p)
        threads.emplace_back([&, p] {
            for (std::uint64_t i = 0; i < c.items_per_producer; ++i) {
                std::uint64_t v = (std::uint64_t{p} << 40) | i;
                while (!q.try_push(std::move(v))) {
                    qmesh::flush(q);  // a batching queue must make room visible
                    if (give_up.load(std::memory_order_relaxed)) return;
                    std::this_thread::yield();
                }
            }
            // Nothing may stay stranded: flush until everything is visible.
            while (!qmesh::flush(q)) {
                if (give_up.load(std::memory_order_relaxed)) return;
                std::this_thread::yield();
            }
        });
    for (unsigned k = 0; k < c.consumers; ++k)
        threads.emplace_back([&, k] {
            auto& mine = seen[k];
            mine.reserve(total / c.consumers + 16);
            std::uint64_t v = 0;
            // (V1) relaxed: a count only; the values themselves come through q.
            while (popped.load(std::memory_order_relaxed) < total) {
                if (q.try_pop(v)) {
                    mine.push_back(v);
                    popped.fetch_add(1, std::memory_order_relaxed);
                } else {
                    qmesh::consumer_flush(q);
                    if (give_up.load(std::memory_order_relaxed)) return;
                    std::this_thread::yield();
                }
            }
        });
    const auto stall = std::chrono::milliseconds(c.timeout_ms);
    std::uint64_t seen_popped = 0;
    auto last_progress = clock::now();
    for (;;) {
        const std::uint64_t now_popped = popped.load(std::memory_order_relaxed);
        if (now_popped >= total || interrupted()) break;
        const auto t = clock::now();
        if (now_popped != seen_popped) {
            seen_popped = now_popped;
            last_progress = t;
        } else if (t - last_progress >= stall) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (popped.load(std::memory_order_relaxed) < total) give_up.store(true, std::memory_order_relaxed);
    for (auto& t : threads) t.join();

    stress_report r;
    const std::uint64_t got = popped.load();
    r.items = got;
    if (got < total && interrupted()) {
        r.interrupted = true;
        return r;
    }
    if (got < total) {
        r.ok = false;
        r.violation = "only " + std::to_string(got) + " of " + std::to_string(total) +
                      " values arrived, then none for " + std::to_string(c.timeout_ms) + " ms (lost, stranded or stalled)";
        return r;
    }
    std::vector<std::vector<std::uint8_t>> count(c.producers, std::vector<std::uint8_t>(c.items_per_producer, 0));
    for (unsigned k = 0; k < c.consumers; ++k) {
        std::vector<std::int64_t> last(c.producers, -1);
        for (std::uint64_t v : seen[k]) {
            const std::uint64_t p = v >> 40, i = v & ((std::uint64_t{1} << 40) - 1);
            if (p >= c.producers || i >= c.items_per_producer) {
                r.ok = false;
                r.violation = "consumer " + std::to_string(k) + " popped a value never pushed: " + std::to_string(v);
                return r;
            }
            if (++count[p][i] > 1) {
                r.ok = false;
                r.violation = "value " + std::to_string(i) + " of producer " + std::to_string(p) + " delivered twice";
                return r;
            }
            if (K::traits.order != order::none && static_cast<std::int64_t>(i) < last[p]) {
                r.ok = false;
                r.violation = "order: consumer " + std::to_string(k) + " popped producer " + std::to_string(p) +
                              "'s value " + std::to_string(i) + " after " + std::to_string(last[p]);
                return r;
            }
            last[p] = static_cast<std::int64_t>(i);
        }
    }
    for (unsigned p = 0; p < c.producers; ++p)
        for (std::uint64_t i = 0; i < c.items_per_producer; ++i)
            if (count[p][i] != 1) {
                r.ok = false;
                r.violation = "value " + std::to_string(i) + " of producer " + std::to_string(p) + " never delivered";
                return r;
            }
    return r;
}

int cmd_verify(const std::vector<std::string>& args);

}  // namespace qmesh::bench
