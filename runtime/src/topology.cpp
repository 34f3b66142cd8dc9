#include "qmesh/runtime/topology.hpp"

#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace qmesh::rt {

std::string_view to_string(relation r) noexcept {
    switch (r) {
        case relation::same_pu: return "same-pu";
        case relation::smt: return "smt";
        case relation::shared_l2: return "shared-l2";
        case relation::shared_l3: return "shared-l3";
        case relation::same_numa: return "same-numa";
        case relation::cross_numa: return "cross-numa";
        case relation::unknown: return "unknown";
    }
    return "unknown";
}

namespace {

hwloc_topology_t as_topo(void* p) { return static_cast<hwloc_topology_t>(p); }

hwloc_obj_t pu_obj(hwloc_topology_t t, unsigned os_index) {
    return hwloc_get_pu_obj_by_os_index(t, os_index);
}

std::string cpu_model_from_proc() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    }
    return "unknown";
}

}  // namespace

const topology& topology::instance() {
    static const topology t;
    return t;
}

topology::topology() {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0) throw std::runtime_error("hwloc: cannot initialise a topology");
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        throw std::runtime_error("hwloc: cannot load the machine's topology");
    }
    topo_ = t;

    const int npu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    for (int i = 0; i < npu; ++i) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i));
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu);
        hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, pu);
        int node = pu->nodeset != nullptr ? hwloc_bitmap_first(pu->nodeset) : -1;
        pus_.push_back({pu->os_index, core != nullptr ? core->logical_index : pu->logical_index,
                        pkg != nullptr ? pkg->logical_index : 0, node});
    }
    std::sort(pus_.begin(), pus_.end(), [](const pu_info& a, const pu_info& b) { return a.os_index < b.os_index; });
    cores_ = static_cast<unsigned>(std::max(1, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE)));
    packages_ = static_cast<unsigned>(std::max(0, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE)));
    numa_nodes_ = static_cast<unsigned>(std::max(0, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE)));

    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
        for (const auto& p : pus_)
            if (p.os_index < CPU_SETSIZE && CPU_ISSET(p.os_index, &mask)) available_.push_back(p.os_index);
    }

    for (hwloc_obj_type_t ty = HWLOC_OBJ_L1CACHE; ty <= HWLOC_OBJ_L3ICACHE; ty = static_cast<hwloc_obj_type_t>(ty + 1)) {
        const int n = hwloc_get_nbobjs_by_type(t, ty);
        if (n <= 0) continue;
        hwloc_obj_t c = hwloc_get_obj_by_type(t, ty, 0);
        if (c->attr == nullptr) continue;
        const auto& ca = c->attr->cache;
        cache_info ci;
        ci.level = ca.depth;
        ci.kind = ca.type == HWLOC_OBJ_CACHE_DATA ? "data" : ca.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "instruction" : "unified";
        ci.bytes = ca.size;
        ci.line_bytes = ca.linesize;
        ci.pus_sharing = static_cast<unsigned>(std::max(1, hwloc_bitmap_weight(c->cpuset)));
        ci.instances = static_cast<unsigned>(n);
        caches_.push_back(ci);
    }

    hwloc_obj_t pkg0 = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, 0);
    const char* model = pkg0 != nullptr ? hwloc_obj_get_info_by_name(pkg0, "CPUModel") : nullptr;
    cpu_model_ = model != nullptr ? model : cpu_model_from_proc();
    while (!cpu_model_.empty() && std::isspace(static_cast<unsigned char>(cpu_model_.back()))) cpu_model_.pop_back();
}

topology::~topology() { hwloc_topology_destroy(as_topo(topo_)); }

bool topology::is_available(unsigned os_index) const noexcept {
    return std::binary_search(available_.begin(), available_.end(), os_index);
}

const pu_info* topology::find(unsigned os_index) const noexcept {
    for (const auto& p : pus_)
        if (p.os_index == os_index) return &p;
    return nullptr;
}

relation topology::relation_of(unsigned a, unsigned b) const noexcept {
    hwloc_topology_t t = as_topo(topo_);
    hwloc_obj_t pa = pu_obj(t, a), pb = pu_obj(t, b);
    if (pa == nullptr || pb == nullptr) return relation::unknown;
    if (pa == pb) return relation::same_pu;
    auto same = [&](hwloc_obj_type_t ty) {
        hwloc_obj_t x = hwloc_get_ancestor_obj_by_type(t, ty, pa);
        return x != nullptr && x == hwloc_get_ancestor_obj_by_type(t, ty, pb);
    };
    if (same(HWLOC_OBJ_CORE)) return relation::smt;
    if (same(HWLOC_OBJ_L2CACHE)) return relation::shared_l2;
    if (same(HWLOC_OBJ_L3CACHE)) return relation::shared_l3;
    if (pa->nodeset != nullptr && pb->nodeset != nullptr && hwloc_bitmap_intersects(pa->nodeset, pb->nodeset))
        return relation::same_numa;
    return relation::cross_numa;
}

std::string topology::summary() const {
    std::ostringstream s;
    s << packages_ << " package" << (packages_ == 1 ? "" : "s") << ", " << numa_nodes_ << " NUMA node"
      << (numa_nodes_ == 1 ? "" : "s") << ", " << cores_ << " core" << (cores_ == 1 ? "" : "s") << ", "
      << pus_.size() << " PU" << (pus_.size() == 1 ? "" : "s") << (smt() ? " (SMT)" : "");
    for (const auto& c : caches_)
        if (c.kind != "instruction")
            s << ", L" << c.level << " " << (c.bytes >> 10) << " KiB x" << c.instances;
    s << "; " << available_.size() << " available to this process";
    return s.str();
}

void topology::pin_current_thread(unsigned os_index) const {
    hwloc_topology_t t = as_topo(topo_);
    hwloc_obj_t pu = pu_obj(t, os_index);
    if (pu == nullptr || !is_available(os_index))
        throw std::runtime_error("cannot pin to core " + std::to_string(os_index) + ": not available to this process");
    if (hwloc_set_cpubind(t, pu->cpuset, HWLOC_CPUBIND_THREAD | HWLOC_CPUBIND_STRICT) != 0 &&
        hwloc_set_cpubind(t, pu->cpuset, HWLOC_CPUBIND_THREAD) != 0)
        throw std::runtime_error("cannot pin to core " + std::to_string(os_index) + ": hwloc_set_cpubind failed");
    // Verify: the binding reads back as this PU alone, and the kernel has
    // moved the thread there.
    hwloc_bitmap_t got = hwloc_bitmap_alloc();
    const bool bound = hwloc_get_cpubind(t, got, HWLOC_CPUBIND_THREAD) == 0 && hwloc_bitmap_isequal(got, pu->cpuset);
    hwloc_bitmap_free(got);
    sched_yield();
    if (!bound || sched_getcpu() != static_cast<int>(os_index))
        throw std::runtime_error("pinning to core " + std::to_string(os_index) + " did not take effect");
}

}  // namespace qmesh::rt
