// qmesh/queues/detail/cpu_relax.hpp: the spin-wait hint.
//
// On x86 `pause` tells the core it is in a spin loop: it stops the loop from
// flooding the pipeline with speculative loads of the watched line (and the
// memory-order machine clear when the line changes), and yields issue slots
// to the sibling hyperthread. On AArch64 `yield` is the equivalent hint.
// Elsewhere this is a no-op.
#pragma once

namespace qmesh::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace qmesh::detail
