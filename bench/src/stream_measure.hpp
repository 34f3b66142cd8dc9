// bench/src/stream_measure.hpp: one-way throughput through a queue between
// two pinned cores, with exactly-once and order checked on every message.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "drained.hpp"
#include "pinned.hpp"
#include "qmesh/queues/concept.hpp"

namespace qmesh::bench {

// A message of B bytes: a sequence number and payload.
template <std::size_t B>
struct message {
    static_assert(B >= 8, "a message carries at least its 8-byte sequence number");
    std::uint64_t seq = 0;
    std::array<unsigned char, B - 8> payload{};
};
template <>
struct message<8> {
    std::uint64_t seq = 0;
};

// Whether m is message i, payload included (no torn values): the payload's
// first and last bytes both carry i's low byte, so a message torn anywhere
// past its sequence number is caught at either end of the payload.
template <std::size_t B>
bool intact(const message<B>& m, std::uint64_t i) noexcept {
    if constexpr (B > 8)
        return m.seq == i && m.payload.front() == static_cast<unsigned char>(i) &&
               m.payload.back() == static_cast<unsigned char>(i);
    else return m.seq == i;
}

struct stream_params {
    std::uint64_t messages = 2'000'000;
    std::size_t capacity = 1024;
    std::size_t batch = 1;  // the producer flushes every `batch` pushes
    std::chrono::milliseconds timeout{20000};
};

struct stream_result {
    bool ok = false;
    std::string error;
    double seconds = 0;
    double msgs_per_s = 0;
    std::uint64_t full_stalls = 0;  // failed pushes
    std::uint64_t empty_polls = 0;  // failed pops
    std::uint64_t received = 0;
    double cpu_share = 1.0;  // see run_outcome
};

template <queue_kind K, std::size_t B>
stream_result measure_stream(unsigned a, unsigned b, const stream_params& p) {
    using M = message<B>;
    using Q = typename K::template type<M>;
    Q q(p.capacity);
    std::uint64_t t_start = 0, t_end = 0, stalls = 0, empties = 0, received = 0;
    std::string bad;
    // Raised by the consumer with `bad`: the producer stops (see spinner).
    alignas(cache_line_bytes) std::atomic<bool> failed{false};
    // Each side counts in its own locals and stores them once at the end:
    // the shared variables above sit on one stack line, and counting into
    // them per message would add false sharing to what is measured.
    auto producer = [&](const abort_flag& abort) {
        spinner s(abort, &failed);
        std::uint64_t my_stalls = 0;
        t_start = now_ns();
        for (std::uint64_t i = 0; i < p.messages; ++i) {
            M m;
            m.seq = i;
            if constexpr (B > 8) m.payload.front() = m.payload.back() = static_cast<unsigned char>(i);
            while (!q.try_push(std::move(m))) {
                ++my_stalls;
                qmesh::flush(q);
                if (s.give_up()) {
                    stalls = my_stalls;
                    return;
                }
            }
            if ((i + 1) % p.batch == 0) qmesh::flush(q);
        }
        while (!qmesh::flush(q))
            if (s.give_up()) break;
        stalls = my_stalls;
    };
    auto consumer = [&](const abort_flag& abort) {
        spinner s(abort);
        std::uint64_t my_empties = 0, my_received = 0;
        M m;
        for (std::uint64_t i = 0; i < p.messages; ++i) {
            while (!q.try_pop(m)) {
                ++my_empties;
                qmesh::consumer_flush(q);
                if (s.give_up()) {
                    empties = my_empties;
                    received = my_received;
                    return;
                }
            }
            // Exactly once and in order: the i-th message popped is message i.
            if (!intact(m, i)) {
                bad = "message " + std::to_string(i) + " arrived as " + std::to_string(m.seq);
                failed.store(true, std::memory_order_relaxed);
                empties = my_empties;
                received = my_received;
                return;
            }
            ++my_received;
        }
        t_end = now_ns();
        empties = my_empties;
        received = my_received;
    };
    const run_outcome o = run_pinned({a, b}, {producer, consumer}, p.timeout);
    // Exactly once also means nothing more: with both threads joined (the
    // join orders everything they did before this), the queue must be empty.
    if (o.ok && bad.empty() && received == p.messages) bad = left_in_queue<M>(q, p.messages);
    stream_result r;
    r.ok = o.ok && bad.empty() && received == p.messages;
    r.cpu_share = o.cpu_share;
    r.error = !bad.empty() ? bad : !o.ok ? o.error : (received != p.messages ? "messages lost" : "");
    r.full_stalls = stalls;
    r.empty_polls = empties;
    r.received = received;
    if (r.ok) {
        r.seconds = static_cast<double>(t_end - t_start) / 1e9;
        r.msgs_per_s = r.seconds > 0 ? static_cast<double>(p.messages) / r.seconds : 0;
    }
    return r;
}

}  // namespace qmesh::bench
