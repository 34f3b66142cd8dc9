// proptests/fail_alloc.cpp: the replaceable global operator new of the
// proptests binary, which can fail on demand (fail_alloc.hpp). Otherwise
// it does what the default does: malloc, and bad_alloc when that fails.
// The default operator delete (free) pairs with it; the aligned forms are
// left to the library.
#include "fail_alloc.hpp"

#include <cstdlib>
#include <new>

namespace qmesh::test {
namespace {
thread_local int to_skip = 0;
thread_local int to_fail = 0;
}  // namespace

void fail_allocations(int skip, int fail) noexcept {
    to_skip = skip;
    to_fail = fail;
}
int allocations_left_to_fail() noexcept { return to_fail; }

}  // namespace qmesh::test

#if QMESH_RT_POOL
void* operator new(std::size_t n) {
    if (qmesh::test::to_fail > 0) {
        if (qmesh::test::to_skip > 0) {
            --qmesh::test::to_skip;
        } else {
            --qmesh::test::to_fail;
            throw std::bad_alloc();
        }
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
#endif
