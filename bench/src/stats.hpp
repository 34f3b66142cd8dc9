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
