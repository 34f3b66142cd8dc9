#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "build_info.hpp"
#include "qmesh/queues/config.hpp"
#include "qmesh/runtime/clock.hpp"
#include "qmesh/runtime/topology.hpp"
#include "run.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace qmesh::bench {

namespace {

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string s;
    if (!std::getline(in, s)) return "";
    return s;
}

// The hypervisor's vendor string (CPUID leaf 0x40000000), "" on bare metal.
std::string hypervisor_vendor() {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid(1, a, b, c, d);
    if ((c & (1u << 31)) == 0) return "";
    __cpuid(0x40000000, a, b, c, d);
    char v[13] = {};
    std::memcpy(v, &b, 4);
    std::memcpy(v + 4, &c, 4);
    std::memcpy(v + 8, &d, 4);
    std::string s(v);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s.empty() ? "unknown hypervisor" : s;
#else
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.find("hypervisor") != std::string::npos) return "unknown hypervisor";
    return "";
#endif
}

std::string iso_date_utc() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

}  // namespace

json make_context(const run_options& o, double timer_overhead_ns) {
    const auto& topo = rt::topology::instance();
    json warnings = json::array();

    json env;
    std::string governor = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    if (governor.empty()) governor = "unknown";
    env["governor"] = governor;
    const std::string smt = read_first_line("/sys/devices/system/cpu/smt/active");
    env["smt_active"] = smt == "1" || (smt.empty() && topo.smt());
    double load = 0;
    {
        std::ifstream in("/proc/loadavg");
        in >> load;
    }
    env["load_avg_1m"] = load;
    const std::string hv = hypervisor_vendor();
    env["virtualized"] = !hv.empty();
    if (!hv.empty()) env["hypervisor"] = hv;

    if (!hv.empty())
        warnings.push_back("virtual machine (" + hv +
                           "): the host may move vCPUs between physical cores; compare ratios, not absolute times");
    if (governor != "performance" && governor != "unknown")
        warnings.push_back("CPU frequency governor is '" + governor + "', not 'performance'");
    if (load > 0.5 * static_cast<double>(topo.available().size())) {
        char load_text[32];
        std::snprintf(load_text, sizeof load_text, "%.2f", load);  // as /proc/loadavg writes it
        warnings.push_back("load average " + std::string(load_text) + " is high for " +
                           std::to_string(topo.available().size()) + " available cores");
    }
    if (env["smt_active"].get<bool>())
        warnings.push_back("SMT is active: pairs of SMT siblings share a core's resources");
    if (build_type() != "Release")
        warnings.push_back("built as '" + build_type() + "' (preset " + preset() + "), not the release preset");

    char host[256] = {};
    ::gethostname(host, sizeof host - 1);

    json c;
    c["json_schema_version"] = 1;
    c["qmesh_version"] = version();
    c["date"] = iso_date_utc();
    c["host_name"] = host;
    c["executable"] = "qmesh";
    c["num_cpus"] = topo.pus().size();
    c["library_build_type"] = build_type() == "Release" ? "release" : "debug";
    c["cpu"] = {{"model", topo.cpu_model()}, {"logical_cpus", topo.pus().size()}};
    c["topology"] = {{"summary", topo.summary()},
                     {"packages", topo.packages()},
                     {"numa_nodes", topo.numa_nodes()},
                     {"cores", topo.cores()},
                     {"pus", topo.pus().size()},
                     {"smt", topo.smt()},
                     {"available_pus", topo.available()}};
    c["cache_line_bytes"] = cache_line_bytes;
    c["compiler"] = compiler();
    c["compiler_flags"] = compiler_flags();
    c["build_type"] = build_type();
    c["git_sha"] = git_sha();
    c["git_dirty"] = git_dirty();
    c["command_line"] = o.command_line;
    c["environment"] = env;
    c["warnings"] = warnings;
    c["timer_overhead_ns"] = timer_overhead_ns;
    // The grid every round trip falls on (the suites' check of it against
    // the floor is a warning: run_suites).
    c["timer_step_ns"] = timer_step_ns();
    // The runtime's latency sample (the mesh suite's percentiles) reads its
    // own clock; its overhead is what those figures are net of. Its step, as
    // now_ns()'s: a TSC may step coarsely too (AMD Zen's, by 10 ns).
    const rt::sample_clock& sc = rt::sample_clock::get();
    c["sample_clock"] = {{"name", sc.name()},
                         {"ns_per_tick", sc.ns_per_tick()},
                         {"overhead_ns", sc.overhead_ns()},
                         {"step_ns", sample_clock_step_ns()}};
    c["suites"] = o.suites;
    c["reps"] = o.reps;
    c["quick"] = o.quick;
    c["cores_used"] = o.cores;
    c["floor_drift"] = nullptr;
    c["interrupted"] = false;
    return c;
}

bool write_atomically(const std::string& path, const json& doc, bool replace) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    // A short temporary name: one built from the result's own name (".NAME.tmp.PID")
    // passed NAME_MAX for a long but valid NAME, and the run's result was lost.
    // mkostemp picks a name not taken (O_EXCL: never through a link or an
    // earlier file).
    std::string tmp_name = (p.parent_path() / ".qmesh-XXXXXX").string();
    // A name that is not UTF-8 (--out, the host name, an argument in the
    // command line) is written as U+FFFD in the JSON rather than throwing
    // after the run; the file itself still goes to the byte-exact path.
    const std::string text = doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    const int fd = ::mkostemp(tmp_name.data(), O_CLOEXEC);
    const fs::path tmp(tmp_name);
    if (fd < 0) throw std::runtime_error("cannot create " + tmp.string() + ": " + std::strerror(errno));
    // mkostemp makes the file 0600. A replaced result keeps its own
    // permission bits; a new one gets what open(0644) would have given.
    struct stat old {};
    mode_t mode = 0;
    if (replace && ::stat(p.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
        mode = old.st_mode & 07777;
    } else {
        // Read by setting it back at once; nothing else creates files now.
        const mode_t mask = ::umask(0);
        ::umask(mask);
        mode = 0644 & ~mask;
    }
    if (::fchmod(fd, mode) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot set the mode of " + tmp.string() + ": " + std::strerror(err));
    }
    std::size_t off = 0;
    while (off < text.size()) {
        const ssize_t w = ::write(fd, text.data() + off, text.size() - off);
        if (w <= 0) {
            ::close(fd);
            ::unlink(tmp.c_str());
            throw std::runtime_error("cannot write " + tmp.string());
        }
        off += static_cast<std::size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot flush " + tmp.string());
    }
    // From here the complete result is on disk: a failure keeps it and names it.
    auto keep = [&](int err) {
        return std::runtime_error("cannot create " + path + " (" + std::strerror(err) + "); the result is in " +
                                  tmp.string());
    };
    if (replace) {
        if (::rename(tmp.c_str(), p.c_str()) != 0) throw keep(errno);
        return true;
    }
    // Never replace: renameat2's RENAME_NOREPLACE, atomic; where the file
    // system lacks it, a hard link (which fails if the name is taken), then
    // the temporary's removal; where it lacks links too, check then rename
    // (a file made in between would be replaced; nothing better is portable).
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, p.c_str(), RENAME_NOREPLACE) == 0) return true;
    int err = errno;
    if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP) {
        if (::link(tmp.c_str(), p.c_str()) == 0) {
            ::unlink(tmp.c_str());
            return true;
        }
        err = errno;
        if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS) {
            std::error_code ec;
            if (!std::filesystem::exists(p, ec)) {
                if (::rename(tmp.c_str(), p.c_str()) == 0) return true;
                err = errno;
            } else {
                err = EEXIST;
            }
        }
    }
    if (err == EEXIST) {
        ::unlink(tmp.c_str());
        return false;
    }
    throw keep(err);
}

std::string result_name(const run_options& o, unsigned k) {
    namespace fs = std::filesystem;
    const fs::path p(o.out);
    if (k == 0) return o.out;
    const std::string stem = (p.parent_path() / p.stem()).string() + (o.out_given() ? ".interrupted" : "");
    return stem + (k > 1 ? "-" + std::to_string(k) : "") + p.extension().string();
}

std::string write_result(const run_options& o, const json& doc, bool interrupted) {
    if (o.out_given() && !interrupted) {
        write_atomically(o.out, doc);
        return o.out;
    }
    if (write_atomically(o.out, doc, /*replace=*/false)) return o.out;
    for (unsigned k = o.out_given() ? 1 : 2; k <= max_result_number; ++k) {
        const std::string name = result_name(o, k);
        if (write_atomically(name, doc, /*replace=*/false)) return name;
    }
    throw std::runtime_error("no free name next to " + o.out);
}

}  // namespace qmesh::bench
