// qmesh/runtime/topology.hpp: the machine as hwloc sees it, and pinning.
//
// Cores are named by their operating system's PU (logical CPU) number, the
// number `taskset` and /proc/cpuinfo use; that is what --cores takes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qmesh::rt {

// How two PUs relate, nearest first. Every latency qmesh reports for a pair is
// labelled with this, since a round trip between SMT siblings and one across
// NUMA nodes differ by an order of magnitude.
enum class relation : std::uint8_t { same_pu, smt, shared_l2, shared_l3, same_numa, cross_numa, unknown };
std::string_view to_string(relation r) noexcept;

struct pu_info {
    unsigned os_index;  // the number users pass to --cores
    unsigned core;      // logical index of its core
    unsigned package;   // logical index of its package
    int numa_node;      // OS index of its (first) local NUMA node, -1 if unknown
};

struct cache_info {
    unsigned level;          // 1, 2, 3, ...
    std::string kind;        // "data", "instruction" or "unified"
    std::uint64_t bytes;     // size
    unsigned line_bytes;     // coherence line size reported by the OS
    unsigned pus_sharing;    // how many PUs share one instance
    unsigned instances;      // how many instances the machine has
};

class topology {
public:
    // Loaded once, on first use; read-only afterwards, safe from any thread.
    static const topology& instance();

    const std::vector<pu_info>& pus() const noexcept { return pus_; }
    // PUs this process may run on (its affinity mask), in increasing order.
    const std::vector<unsigned>& available() const noexcept { return available_; }
    bool is_available(unsigned os_index) const noexcept;
    const pu_info* find(unsigned os_index) const noexcept;

    relation relation_of(unsigned a, unsigned b) const noexcept;
    const std::vector<cache_info>& caches() const noexcept { return caches_; }

    unsigned packages() const noexcept { return packages_; }
    unsigned cores() const noexcept { return cores_; }
    unsigned numa_nodes() const noexcept { return numa_nodes_; }
    bool smt() const noexcept { return pus_.size() > cores_; }
    const std::string& cpu_model() const noexcept { return cpu_model_; }
    std::string summary() const;

    // Binds the calling thread to one PU and verifies the binding took
    // (the kernel reports the thread on that PU). Throws std::runtime_error
    // naming the PU when either step fails.
    void pin_current_thread(unsigned os_index) const;

    topology(const topology&) = delete;
    topology& operator=(const topology&) = delete;
    ~topology();

private:
    topology();

    void* topo_ = nullptr;  // hwloc_topology_t, kept out of this header
    std::vector<pu_info> pus_;
    std::vector<unsigned> available_;
    std::vector<cache_info> caches_;
    unsigned packages_ = 0, cores_ = 0, numa_nodes_ = 0;
    std::string cpu_model_;
};

}  // namespace qmesh::rt
