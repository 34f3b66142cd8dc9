// bench/src/build_info.hpp: what built this binary, and from which source.
#pragma once

#include <string>

namespace qmesh::bench {

std::string git_sha();        // full sha of the sources it was built from, "unknown" if none
std::string git_sha_short();  // first 8 characters
bool git_dirty();             // they had uncommitted changes (results/ aside) when it was built
std::string compiler();       // e.g. "GCC 12.2.0"
std::string compiler_flags(); // CMAKE_CXX_FLAGS + the build type's flags
std::string build_type();     // Release, Debug, ...
std::string preset();         // the CMake preset that configured the build
std::string version();

}  // namespace qmesh::bench
