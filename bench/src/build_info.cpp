#include "build_info.hpp"

#include <array>
#include <cstdio>
#include <memory>

#ifndef QMESH_GIT_SHA
#define QMESH_GIT_SHA "unknown"
#endif
#ifndef QMESH_GIT_DIRTY
#define QMESH_GIT_DIRTY 0
#endif
#ifndef QMESH_SOURCE_DIR
#define QMESH_SOURCE_DIR ""
#endif
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

namespace {

// Output of a git command run in the source folder, "" on any failure. The
// binary usually runs from the tree it was built from; when it does not (a
// copied binary), the sha recorded at configure time is used instead.
std::string git(const char* args) {
    const std::string dir = QMESH_SOURCE_DIR;
    if (dir.empty()) return "";
    const std::string cmd = "git -C '" + dir + "' " + args + " 2>/dev/null";
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
    if (!p) return "";
    std::string out;
    std::array<char, 256> buf;
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p.get()) != nullptr) out += buf.data();
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

struct git_state {
    std::string sha;
    bool dirty;
};

const git_state& state() {
    static const git_state s = [] {
        std::string sha = git("rev-parse HEAD");
        if (sha.size() != 40) return git_state{QMESH_GIT_SHA, QMESH_GIT_DIRTY != 0};
        return git_state{sha, !git("status --porcelain --untracked-files=no").empty()};
    }();
    return s;
}

}  // namespace

std::string git_sha() { return state().sha; }
std::string git_sha_short() { return state().sha.substr(0, 8); }
bool git_dirty() { return state().dirty; }

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
