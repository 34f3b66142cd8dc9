// qmesh/queues/config.hpp: the one project-wide cache-line constant.
//
// Every padded field in qmesh is padded to `cache_line_bytes`, and every result
// file records the value in its context block, so two runs that differ only in
// padding can be told apart.
//
// Why 128 and not 64 on x86-64: the line is 64 bytes, but Intel's L2 "spatial"
// (adjacent-line) prefetcher pulls lines in aligned pairs, so two hot fields 64
// bytes apart still false-share under that prefetcher (Intel optimization
// manual, 3.7.3; the same reasoning is behind folly's hardware_destructive_
// interference_size = 128 and crossbeam's CachePadded). Queues take the padding
// as a template parameter, so a 64-byte variant can be measured side by side.
#pragma once

#include <cstddef>

namespace qmesh {

#ifndef QMESH_CACHE_LINE_BYTES
#if defined(__x86_64__) || defined(__aarch64__) || defined(__powerpc64__)
#define QMESH_CACHE_LINE_BYTES 128
#else
#define QMESH_CACHE_LINE_BYTES 64
#endif
#endif

inline constexpr std::size_t cache_line_bytes = QMESH_CACHE_LINE_BYTES;

static_assert(cache_line_bytes >= 64 && (cache_line_bytes & (cache_line_bytes - 1)) == 0,
              "QMESH_CACHE_LINE_BYTES must be a power of two of at least 64");

}  // namespace qmesh
