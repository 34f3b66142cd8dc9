// qmesh/runtime/histogram.hpp: the latency histogram of the runtime's
// sampled submit_to latency and of every benchmark.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace qmesh::rt {

// Log-linear histogram of non-negative integer values (nanoseconds): exact
// below 32, then 32 sub-buckets per power of two, so a bucket is at most
// 1/32 (3.1 %) of its value wide. Constant-time record, fixed 15 KiB.
class histogram {
public:
    static constexpr unsigned sub_bits = 5;
    static constexpr unsigned subs = 1u << sub_bits;
    static constexpr unsigned buckets = 64 * subs;

    void record(std::uint64_t v) noexcept {
        ++counts_[index(v)];
        ++n_;
        max_ = std::max(max_, v);
        min_ = std::min(min_, v);
    }
    void merge(const histogram& o) noexcept {
        for (unsigned i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
        n_ += o.n_;
        max_ = std::max(max_, o.max_);
        min_ = std::min(min_, o.min_);
    }
    std::uint64_t count() const noexcept { return n_; }
    std::uint64_t max() const noexcept { return n_ == 0 ? 0 : max_; }
    std::uint64_t min() const noexcept { return n_ == 0 ? 0 : min_; }

    // The value at quantile q (0..1): the midpoint of the bucket holding the
    // ceil(q * n)-th smallest sample; exact for values below 64.
    double quantile(double q) const noexcept {
        if (n_ == 0) return 0;
        const auto rank = static_cast<std::uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(n_))));
        std::uint64_t seen = 0;
        for (unsigned i = 0; i < buckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(midpoint(i), static_cast<double>(max_));
        }
        return static_cast<double>(max_);
    }

    static unsigned index(std::uint64_t v) noexcept {
        if (v < subs) return static_cast<unsigned>(v);
        const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= sub_bits
        const unsigned shift = e - sub_bits;
        return (e - sub_bits + 1) * subs + static_cast<unsigned>((v >> shift) & (subs - 1));
    }
    static double midpoint(unsigned i) noexcept {
        const unsigned octave = i / subs, sub = i % subs;
        if (octave == 0) return sub;
        const unsigned shift = octave - 1;
        const double lower = static_cast<double>((std::uint64_t{subs} + sub) << shift);
        const double width = static_cast<double>(std::uint64_t{1} << shift);
        return lower + (width - 1) / 2;
    }

private:
    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t n_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t min_ = UINT64_MAX;
};

}  // namespace qmesh::rt
