// proptests/model_check.hpp: the model tier, shared by the model tests and
// the mutant runner. RapidCheck drives a queue through random push/pop
// sequences against a std::deque model, with small capacities (1, 2, 3, ...)
// that force wrap-around.
//
// Sequential contract checked (after each push, and before each pop, the
// producer calls qmesh::flush; after each pop the consumer calls
// qmesh::consumer_flush; so batching queues have published everything): the
// queue behaves exactly as a bounded FIFO holding capacity() elements (or an
// unbounded one): try_push succeeds iff it is not full, try_pop succeeds iff
// it is not empty and returns the oldest element. Queues that promise no
// order are checked as multisets instead.
#pragma once

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <span>
#include <string>

#include "qmesh/queues/concept.hpp"

namespace qmesh::test {

struct model {
    std::deque<int> items;
    std::size_t capacity;  // pushes beyond this many are not attempted (see below)
};

// A kind with `exact_capacity = false` (block-granular peers) may report full
// anywhere between the capacity asked for and capacity(): for it the model
// asserts that the asked-for capacity is always accepted, and does not push
// past it.
template <class K>
constexpr bool exact_capacity() {
    if constexpr (requires { K::exact_capacity; }) return K::exact_capacity;
    else return true;
}

template <class K>
using sut = typename K::template type<int>;

template <class K>
struct push_cmd : rc::state::Command<model, sut<K>> {
    int v = *rc::gen::arbitrary<int>();
    void apply(model& m) const override {
        if (m.items.size() < m.capacity) m.items.push_back(v);
    }
    void run(const model& m, sut<K>& q) const override {
        if (!exact_capacity<K>() && m.items.size() >= m.capacity) return;
        int x = v;
        const bool ok = q.try_push(std::move(x));
        qmesh::flush(q);
        RC_ASSERT(ok == (m.items.size() < m.capacity));
    }
    void show(std::ostream& os) const override { os << "push(" << v << ")"; }
};

template <class K>
struct pop_cmd : rc::state::Command<model, sut<K>> {
    void apply(model& m) const override {
        if (!m.items.empty()) m.items.pop_front();
    }
    void run(const model& m, sut<K>& q) const override {
        int out = 0;
        qmesh::flush(q);  // a staging queue shows its consumer only what was flushed
        const bool ok = q.try_pop(out);
        qmesh::consumer_flush(q);
        RC_ASSERT(ok == !m.items.empty());
        if (!ok) return;
        if constexpr (K::traits.order != order::none) {
            RC_ASSERT(out == m.items.front());
        } else {
            RC_ASSERT(std::find(m.items.begin(), m.items.end(), out) != m.items.end());
        }
    }
    void show(std::ostream& os) const override { os << "pop"; }
};

// qmesh::try_pop_bulk: the queue's own bulk pop where it has one (the
// locked inbox), else one try_pop at a time. Either way it takes
// min(k, size) elements, oldest first.
template <class K>
struct pop_bulk_cmd : rc::state::Command<model, sut<K>> {
    std::size_t k = *rc::gen::inRange<std::size_t>(1, 5);
    void apply(model& m) const override {
        for (std::size_t i = 0; i < k && !m.items.empty(); ++i) m.items.pop_front();
    }
    void run(const model& m, sut<K>& q) const override {
        int out[4] = {};
        qmesh::flush(q);
        const std::size_t got = qmesh::try_pop_bulk(q, std::span<int>(out, k));
        qmesh::consumer_flush(q);
        RC_ASSERT(got == std::min(k, m.items.size()));
        for (std::size_t i = 0; i < got; ++i) {
            if constexpr (K::traits.order != order::none) {
                RC_ASSERT(out[i] == m.items[i]);
            } else {
                RC_ASSERT(std::find(m.items.begin(), m.items.end(), out[i]) != m.items.end());
            }
        }
    }
    void show(std::ostream& os) const override { os << "pop_bulk(" << k << ")"; }
};

template <class K>
bool model_check() {
    return rc::check(std::string(K::traits.name) + " against the deque model", [] {
        const auto requested = *rc::gen::inRange<std::size_t>(1, 9).as("capacity");
        sut<K> q(requested);
        const std::size_t cap = !K::traits.bounded         ? std::numeric_limits<std::size_t>::max()
                                 : exact_capacity<K>() ? q.capacity()
                                                       : requested;
        if (K::traits.bounded) {
            RC_ASSERT(q.capacity() >= requested);
        }
        model m{{}, cap};
        rc::state::check(m, q, rc::state::gen::execOneOfWithArgs<push_cmd<K>, pop_cmd<K>, pop_bulk_cmd<K>>());
    });
}

}  // namespace qmesh::test
