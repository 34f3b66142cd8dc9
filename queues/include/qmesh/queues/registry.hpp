// qmesh/queues/registry.hpp: every queue qmesh knows, in one list.
//
// Adding a queue: write its header (queue + kind), include it here, and add the
// kind to `all_queues`. Benchmarks, the mesh and the verification suite all
// iterate this list, so nothing else changes. See queues/README.md.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include "qmesh/queues/batched_ring.hpp"
#include "qmesh/queues/boost_mpmc.hpp"
#include "qmesh/queues/boost_spsc.hpp"
#include "qmesh/queues/cached_ring.hpp"
#include "qmesh/queues/concept.hpp"
#include "qmesh/queues/ff_ring.hpp"
#include "qmesh/queues/inbox_ring.hpp"
#include "qmesh/queues/lamport_ring.hpp"
#include "qmesh/queues/moodycamel_cq.hpp"
#include "qmesh/queues/moodycamel_rwq.hpp"
#include "qmesh/queues/mutex_cv_ring.hpp"
#include "qmesh/queues/mutex_ring.hpp"
#include "qmesh/queues/spin_ring.hpp"
#include "qmesh/queues/staged_ring.hpp"
#include "qmesh/queues/tbb_bounded.hpp"

namespace qmesh {

template <queue_kind... Ks>
struct kind_list {
    static constexpr std::size_t size = sizeof...(Ks);

    // Calls f.template operator()<K>() for every kind, in order.
    template <class F>
    static void for_each(F&& f) {
        (f.template operator()<Ks>(), ...);
    }

    // Calls f.template operator()<K>() for the kind named `name`; false if none.
    // This is the only name-to-type step: everything after it is monomorphic.
    template <class F>
    static bool with(std::string_view name, F&& f) {
        return ((Ks::traits.name == name ? (f.template operator()<Ks>(), true) : false) || ...);
    }

    static std::optional<queue_traits> find(std::string_view name) {
        std::optional<queue_traits> r;
        ((Ks::traits.name == name ? (r = Ks::traits, true) : false) || ...);
        return r;
    }

    static constexpr bool names_unique() {
        constexpr std::string_view names[] = {Ks::traits.name...};
        for (std::size_t i = 0; i < size; ++i)
            for (std::size_t j = i + 1; j < size; ++j)
                if (names[i] == names[j]) return false;
        return true;
    }
};

// The registry. One line per queue.
using all_queues = kind_list<
    lamport_kind,
    cached_ring_kind,
    ff_ring_kind,
    batched_ring_kind,
    staged_ring_kind,
    boost_spsc_kind,
    moodycamel_rwq_kind,
    moodycamel_cq_kind,
    tbb_bounded_kind,
    boost_mpmc_kind,
    mutex_ring_kind,
    spin_ring_kind,
    mutex_cv_ring_kind,
    inbox_ring_kind>;

static_assert(all_queues::names_unique(), "two registered queues share a name");

}  // namespace qmesh
