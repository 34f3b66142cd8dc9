// bench/tests/faulty_queue.hpp: a Lamport ring that misbehaves once, at
// element `At`, for the measurement tests (load_test.cpp, stream_test.cpp):
// each fault is one the measurements' own checks must report. Test-only;
// never registered.
//   drop            the push reports success and stores nothing
//   duplicate       the pop hands the same element out twice
//   duplicate_push  the push stores it twice (one element more is queued)
//   tear_payload    the pop hands it out with its payload's last byte flipped
#pragma once

#include <cstdint>
#include <utility>

#include "qmesh/queues/lamport_ring.hpp"

namespace qmesh::bench::test {

enum class fault : std::uint8_t { drop, duplicate, duplicate_push, tear_payload };

template <fault F, std::uint64_t At>
struct faulty_kind {
    static constexpr queue_traits traits = [] {
        queue_traits t = lamport_kind::traits;
        t.name = F == fault::drop ? "faulty-drop"
               : F == fault::duplicate ? "faulty-duplicate"
               : F == fault::duplicate_push ? "faulty-duplicate-push"
                                            : "faulty-tear";
        t.summary = "test only: lamport ring that loses, repeats or tears one element";
        return t;
    }();
    template <class T>
    class type {
    public:
        using value_type = T;
        explicit type(std::size_t capacity) : inner_(capacity) {}
        [[nodiscard]] bool try_push(T&& v) noexcept {
            if (pushes_ == At) {  // producer-only counter
                if constexpr (F == fault::drop) {
                    ++pushes_;
                    return true;
                } else if constexpr (F == fault::duplicate_push) {
                    T copy = v;
                    if (!inner_.try_push(std::move(copy))) return false;
                    ++pushes_;
                    while (!inner_.try_push(std::move(v))) {
                    }
                    return true;
                }
            }
            if (!inner_.try_push(std::move(v))) return false;
            ++pushes_;
            return true;
        }
        [[nodiscard]] bool try_pop(T& out) noexcept {
            if constexpr (F == fault::duplicate)
                if (pops_ == At + 1) {  // consumer-only state: hand element At out again
                    ++pops_;
                    out = last_;
                    return true;
                }
            if (!inner_.try_pop(out)) return false;
            if constexpr (F == fault::tear_payload && requires { out.payload.back(); })
                if (pops_ == At) out.payload.back() ^= 1;
            if constexpr (F == fault::duplicate) last_ = out;
            ++pops_;
            return true;
        }
        std::size_t capacity() const noexcept { return inner_.capacity(); }

    private:
        lamport_ring<T> inner_;
        std::uint64_t pushes_ = 0;  // producer only
        std::uint64_t pops_ = 0;    // consumer only
        T last_{};                  // consumer only (duplicate)
    };
};
static_assert(queue_kind<faulty_kind<fault::drop, 1>>);

}  // namespace qmesh::bench::test
