// bench/src/mesh_setup.hpp: what `qmesh run --numa`, `--idle`, `--idle-poll`,
// `--reply-quota` and `--poll-budget` set on every mesh a run builds (the
// submit, mesh and kv suites), and how an entry records it.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "qmesh/runtime/smp.hpp"

namespace qmesh::bench {

struct mesh_setup {
    // Where each queue's memory goes (a no-op on a single-node machine).
    rt::numa_placement placement = rt::smp_config{}.placement;
    // busy_poll: a reactor with nothing to do polls again at once, the
    // benchmarks' default. sleep: it parks after idle_turns_before_sleep
    // empty turns and idle_poll_time more of polling, and a sender wakes it
    // (the runtime's header).
    rt::idle_policy idle = rt::idle_policy::busy_poll;
    // sleep: how long a reactor polls on, after its empty turns, before it
    // parks (0: at once).
    std::chrono::microseconds idle_poll = rt::smp_config{}.idle_poll_time;
    // Continuations of replies a turn's poll runs inline before it schedules
    // the rest (0: as many as the poll takes; smp_config::reply_quota).
    std::size_t reply_quota = rt::smp_config{}.reply_quota;
    // Messages a poll takes from one queue (smp_config::poll_budget).
    std::size_t poll_budget = rt::smp_config{}.poll_budget;

    void apply(rt::smp_config& c) const noexcept {
        c.placement = placement;
        c.idle = idle;
        c.idle_poll_time = idle_poll;
        c.reply_quota = reply_quota;
        c.poll_budget = poll_budget;
    }
};

inline std::optional<rt::numa_placement> parse_placement(std::string_view s) noexcept {
    for (const auto p : {rt::numa_placement::receiver, rt::numa_placement::sender, rt::numa_placement::interleave})
        if (rt::to_string(p) == s) return p;
    return std::nullopt;
}
inline std::optional<rt::idle_policy> parse_idle(std::string_view s) noexcept {
    for (const auto p : {rt::idle_policy::busy_poll, rt::idle_policy::sleep})
        if (rt::to_string(p) == s) return p;
    return std::nullopt;
}

// What a measurement's mesh ran with, read back from the mesh (not from
// the options: an entry says what was done, not what was asked): its idle
// policy (with its poll time when it sleeps), its reply quota and poll
// budget, and where its queues went as the kernel reports it.
struct mesh_record {
    rt::idle_policy idle = rt::idle_policy::busy_poll;
    std::chrono::microseconds idle_poll{0};
    std::size_t reply_quota = 0;
    std::size_t poll_budget = 0;
    rt::numa_report numa;
};
template <class M>
mesh_record record_of(const M& mesh) {
    const rt::smp_config& c = mesh.config();
    return {c.idle, c.idle_poll_time, c.reply_quota, c.poll_budget, mesh.numa()};
}

// A mesh's idle policy, and its poll time when it sleeps (a busy-polling
// reactor never parks: a poll time would mean nothing); for an entry and
// for the context alike.
template <class Json>
void put_idle(Json& j, rt::idle_policy idle, std::chrono::microseconds poll) {
    j["idle_policy"] = std::string(rt::to_string(idle));
    if (idle == rt::idle_policy::sleep) j["idle_poll_us"] = poll.count();
}

// An entry's record of its mesh (numa.applied false: a single-node machine,
// where placement is a no-op; else on_intended of queues sit on the node the
// placement asked for, any node counting for interleave).
template <class Json>
void put_mesh_record(Json& e, const mesh_record& r) {
    put_idle(e, r.idle, r.idle_poll);
    e["reply_quota"] = r.reply_quota;
    e["poll_budget"] = r.poll_budget;
    e["numa"] = {{"placement", std::string(rt::to_string(r.numa.placement))},
                 {"applied", r.numa.applied},
                 {"queues", r.numa.queues},
                 {"on_intended", r.numa.on_intended}};
}

}  // namespace qmesh::bench
