// qmesh/queues/detail/wtsan_off.hpp: include before a peer library's header
// (and wtsan_on.hpp after it). GCC 12+ with -fsanitize=thread warns
// (-Wtsan, an error under -Werror) at every std::atomic_thread_fence, which
// TSan does not model; a library's fences are inline code of its header, so
// the warning is silenced for that include only. No include guard: each
// use is one push, matched by wtsan_on.hpp's pop.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#define QMESH_SILENCED_WTSAN
#endif
