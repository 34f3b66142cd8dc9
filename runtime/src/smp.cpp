#include "qmesh/runtime/smp.hpp"

namespace qmesh::rt {

detail::reactor_hooks& detail::local_hooks() noexcept {
    static thread_local reactor_hooks h;
    return h;
}

int this_core() noexcept { return detail::local_hooks().core; }

}  // namespace qmesh::rt
