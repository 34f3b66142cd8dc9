#include "build_info.hpp"

#include "qmesh_git_state.h"  // QMESH_GIT_SHA, QMESH_GIT_DIRTY: generated at build time

#ifndef QMESH_CXX_FLAGS
#define QMESH_CXX_FLAGS ""
#endif
#ifndef QMESH_BUILD_TYPE
#define QMESH_BUILD_TYPE ""
#endif
#ifndef QMESH_PRESET_NAME
#define QMESH_PRESET_NAME "custom"
#endif
#ifndef QMESH_VERSION
#define QMESH_VERSION "0.0.0"
#endif

namespace qmesh::bench {

// What the binary was built from (bench/cmake/git_state.cmake), not what the
// tree it runs beside holds now: a copy run on another machine, or a binary
// left unbuilt after a commit, still names its own sources.
std::string git_sha() { return QMESH_GIT_SHA; }
std::string git_sha_short() { return git_sha().substr(0, 8); }
bool git_dirty() { return QMESH_GIT_DIRTY != 0; }

std::string compiler() {
#if defined(__clang__)
    return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("GCC ") + __VERSION__;
#else
    return "unknown";
#endif
}
std::string compiler_flags() { return QMESH_CXX_FLAGS; }
std::string build_type() { return QMESH_BUILD_TYPE; }
std::string preset() { return QMESH_PRESET_NAME; }
std::string version() { return QMESH_VERSION; }

}  // namespace qmesh::bench
