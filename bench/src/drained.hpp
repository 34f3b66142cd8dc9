// bench/src/drained.hpp: the last half of "exactly once" for the two-thread
// suites (stream, load): once every message sent has been received, the
// queue must hold nothing more (a trailing duplicate would otherwise pass).
#pragma once

#include <cstdint>
#include <string>

#include "qmesh/queues/concept.hpp"

namespace qmesh::bench {

// Call after both threads have joined (the join orders everything they did
// before this call). Returns why the queue was not empty, or "" if it was.
// M is the suite's message type; it carries the producer's sequence number.
template <class M, class Q>
std::string left_in_queue(Q& q, std::uint64_t sent) {
    qmesh::consumer_flush(q);
    M extra;
    if (!q.try_pop(extra)) return {};
    return "a message more than the " + std::to_string(sent) + " sent was left in the queue (seq " +
           std::to_string(extra.seq) + ")";
}

}  // namespace qmesh::bench
