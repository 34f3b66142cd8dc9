#include "qmesh/runtime/smp.hpp"

#include <linux/futex.h>
#include <malloc.h>
#include <numa.h>
#include <numaif.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

namespace qmesh::rt {

std::string_view to_string(polling p) noexcept { return p == polling::scan ? "scan" : "doorbell"; }
std::string_view to_string(idle_policy p) noexcept { return p == idle_policy::busy_poll ? "busy-poll" : "sleep"; }
std::string_view to_string(numa_placement p) noexcept {
    switch (p) {
        case numa_placement::receiver: return "receiver";
        case numa_placement::sender: return "sender";
        case numa_placement::interleave: return "interleave";
    }
    return "?";
}

namespace detail {

// std::atomic<std::uint32_t> is a plain 32-bit word on Linux (lock-free,
// standard layout), which is what futex(2) needs.
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::microseconds timeout) noexcept {
    const auto us = timeout.count();
    timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
    // Returns at once if the word no longer equals `expected` (EAGAIN), on a
    // wake, on a signal, or at the timeout: the caller rechecks either way.
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word) noexcept {
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

unsigned numa_node_count() noexcept {
    if (::numa_available() < 0) return 1;
    const int n = ::numa_num_configured_nodes();
    return n > 0 ? static_cast<unsigned>(n) : 1;
}

int numa_node_of_pu(unsigned pu) noexcept {
    if (::numa_available() < 0) return 0;
    return ::numa_node_of_cpu(static_cast<int>(pu));
}

int numa_node_of_address(const void* p) noexcept {
    if (::numa_available() < 0) return 0;
    int node = -1;
    // MPOL_F_NODE | MPOL_F_ADDR: the node the page holding p is on (the
    // page is touched already: the queue's constructor wrote it).
    if (::get_mempolicy(&node, nullptr, 0, const_cast<void*>(p), MPOL_F_NODE | MPOL_F_ADDR) != 0) return -1;
    return node;
}

numa_scope::numa_scope(numa_placement p, int node) noexcept {
    if (numa_node_count() < 2) return;  // one node: nothing to choose
    if (p == numa_placement::interleave) {
        ::numa_set_interleave_mask(::numa_all_nodes_ptr);
    } else {
        if (node < 0) return;
        ::numa_set_preferred(node);
    }
    active_ = true;
}

numa_scope::~numa_scope() {
    if (active_) ::numa_set_localalloc();
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
}  // namespace detail
}  // namespace qmesh::rt
// The sanitizers replace malloc, and glibc's statistics then see nothing;
// their runtimes export this count instead.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
namespace qmesh::rt {
namespace detail {
std::size_t heap_bytes_in_use() noexcept { return __sanitizer_get_current_allocated_bytes(); }
#else
std::size_t heap_bytes_in_use() noexcept {
    const struct mallinfo2 mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;  // arena bytes in use + mmapped chunks
}
#endif

}  // namespace detail
}  // namespace qmesh::rt
