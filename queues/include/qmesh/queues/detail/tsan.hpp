// qmesh/queues/detail/tsan.hpp: whether this translation unit is built with
// ThreadSanitizer. GCC says so with __SANITIZE_THREAD__, clang with
// __has_feature(thread_sanitizer) (which GCC 12 lacks, so the test is nested).
#pragma once

#if defined(__SANITIZE_THREAD__)
#define QMESH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QMESH_TSAN 1
#endif
#endif
#ifndef QMESH_TSAN
#define QMESH_TSAN 0
#endif
