// bench/src/stats.hpp: summary statistics (the histogram lives in the runtime).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "qmesh/runtime/histogram.hpp"

namespace qmesh::bench {

using rt::histogram;

// Every sample kept, for the closed-loop latencies (floor, pingpong, submit:
// a few thousand round trips each): their quantiles are exact, where the
// histogram's are bucket midpoints up to 3.1 % off. A floor_ratio divides
// two such medians, and 3 % steps were as large as the differences between
// the best queues. Same interface as histogram where the summaries read it;
// the same nearest-rank definition of a quantile.
class exact_samples {
public:
    explicit exact_samples(std::size_t expected = 0) { v_.reserve(expected); }
    void record(std::uint64_t x) {
        v_.push_back(x);
        sorted_ = false;
    }
    std::uint64_t count() const noexcept { return v_.size(); }
    std::uint64_t max() const noexcept { return v_.empty() ? 0 : *std::max_element(v_.begin(), v_.end()); }
    // The ceil(q * n)-th smallest sample.
    double quantile(double q) const {
        if (v_.empty()) return 0;
        if (!sorted_) {
            std::sort(v_.begin(), v_.end());
            sorted_ = true;
        }
        const auto n = static_cast<double>(v_.size());
        const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n)));
        return static_cast<double>(v_[std::min(rank, v_.size()) - 1]);
    }

private:
    mutable std::vector<std::uint64_t> v_;
    mutable bool sorted_ = true;
};

inline double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 != 0 ? v[m] : (v[m - 1] + v[m]) / 2;
}
inline double mean(const std::vector<double>& v) {
    return v.empty() ? NAN : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
// Sample standard deviation (n - 1), 0 for a single value.
inline double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 0;
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
}
// Median absolute deviation (unscaled).
inline double mad(const std::vector<double>& v) {
    const double m = median(v);
    std::vector<double> d;
    d.reserve(v.size());
    for (double x : v) d.push_back(std::fabs(x - m));
    return median(d);
}
// Half-width of the 95 % confidence interval of the mean (Student's t).
inline double ci95_half_width(const std::vector<double>& v) {
    static constexpr double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                   2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                   2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (v.size() < 2) return 0;
    const std::size_t df = v.size() - 1;
    const double tv = df < std::size(t) ? t[df] : 1.960;
    return tv * stddev(v) / std::sqrt(static_cast<double>(v.size()));
}

}  // namespace qmesh::bench
