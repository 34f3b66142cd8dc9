#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>

#include "build_info.hpp"
#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/topology.hpp"
#include "run.hpp"

namespace qmesh::bench {

namespace fs = std::filesystem;

const std::vector<std::string>& known_suites() {
    static const std::vector<std::string> s{"floor", "pingpong", "submit", "stream", "load", "mesh", "kv", "pollscale"};
    return s;
}

unsigned parse_count(const std::string& s, const std::string& what, unsigned lo, unsigned hi) {
    unsigned v = 0;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v);
    // Digits too many for unsigned: a whole number, out of range.
    const bool too_big = ec == std::errc::result_out_of_range && p == end;
    if (s.empty() || (ec != std::errc{} && !too_big) || p != end)
        throw usage_error(what + " must be a whole number, not '" + s + "'");
    if (too_big || v < lo || v > hi)
        throw usage_error(what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " + s);
    return v;
}

namespace {

std::vector<std::string> split(const std::string& s, const std::string& what) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty()) throw usage_error("empty item in " + what + " list '" + s + "'");
        out.push_back(item);
    }
    if (out.empty()) throw usage_error(what + " list is empty");
    // getline drops a trailing empty item: "8," would pass for "8".
    if (s.back() == ',') throw usage_error("empty item in " + what + " list '" + s + "'");
    return out;
}

std::string join(const std::vector<std::string>& v) {
    std::string r;
    for (const auto& x : v) r += (r.empty() ? "" : ", ") + x;
    return r;
}

std::string sanitize(std::string s) {
    for (char& c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
    return s;
}

// The type of `p`, links followed; not_found when it is not there. Any other
// failure (a folder on the way not searchable, a name over NAME_MAX) is a
// usage error naming the path, not a filesystem_error escaping as status 1.
fs::file_type type_of(const fs::path& p, const std::string& what) {
    std::error_code ec;
    const fs::file_status s = fs::status(p, ec);
    if (s.type() == fs::file_type::not_found) return s.type();
    if (ec) throw usage_error("cannot look at " + what + " '" + p.string() + "': " + ec.message());
    return s.type();
}

// Fails unless a file can be created next to `path` and `path`, if it
// exists, is a regular file (the result replaces it by a rename, which would
// replace a device, a pipe or a symbolic link itself); leaves nothing behind.
// A symbolic link is followed: the result goes where it points.
void check_writable(run_options& o) {
    std::string& path = o.out;
    fs::path p(path);
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(p, ec))) {
        const fs::path target = fs::canonical(p, ec);
        if (ec) throw usage_error("cannot follow the symbolic link '" + path + "': " + ec.message());
        path = target.string();
        p = target;
    }
    const fs::file_type type = type_of(p, "output path");
    if (type == fs::file_type::directory) throw usage_error("output path '" + path + "' is a folder");
    if (type != fs::file_type::not_found && type != fs::file_type::regular)
        throw usage_error("output path '" + path + "' exists and is not a regular file");
    fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    if (type_of(dir, "output folder") != fs::file_type::directory)
        throw usage_error("output folder '" + dir.string() + "' does not exist");
    // Every name the result may go to must fit, or a run is lost at its end:
    // an interrupted one takes the longest (NAME.interrupted-9999.json).
    const long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
    const std::size_t longest = fs::path(result_name(o, max_result_number)).filename().string().size();
    if (name_max > 0 && longest > static_cast<std::size_t>(name_max))
        throw usage_error("output file name '" + p.filename().string() + "' is too long: an interrupted run would "
                          "write a name of " + std::to_string(longest) + " bytes beside it, over the folder's limit of " +
                          std::to_string(name_max));
    // O_EXCL (mkostemp): never through a link, never truncating a file
    // that happens to have the probe's name.
    std::string probe = (dir / ".qmesh-probe-XXXXXX").string();
    const int fd = ::mkostemp(probe.data(), O_CLOEXEC);
    if (fd < 0) throw usage_error("cannot write output file in '" + dir.string() + "'");
    ::close(fd);
    ::unlink(probe.c_str());
    if (type == fs::file_type::regular && ::access(p.c_str(), W_OK) != 0)
        throw usage_error("output file '" + path + "' exists and is not writable");
}

}  // namespace

run_options parse_run_options(const std::vector<std::string>& args, const std::string& command_line) {
    run_options o;
    o.command_line = command_line;
    bool have_suite = false, have_queues = false, have_cores = false, have_windows = false, have_bracket = false;
    bool have_setup = false, have_idle_poll = false;
    // Each option once: a second --cores used to add to the first (and
    // escape the duplicate-core check), a second --suite to replace it.
    std::set<std::string> given;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw usage_error("option " + a + " needs a value");
            return args[++i];
        };
        const std::string canonical = a == "--suites" ? "--suite" : a == "--queue" ? "--queues"
                                    : a == "--windows" ? "--window" : a;
        if (canonical.rfind("--", 0) == 0 && !given.insert(canonical).second)
            throw usage_error("option " + canonical + " is given twice");
        if (a == "--suite" || a == "--suites") {
            o.suites = split(value(), "suite");
            have_suite = true;
        } else if (a == "--queues" || a == "--queue") {
            o.queues = split(value(), "queue");
            have_queues = true;
        } else if (a == "--cores") {
            std::set<unsigned> seen;
            for (const auto& c : split(value(), "core")) {
                const unsigned pu = parse_count(c, "a core number", 0, 1u << 20);
                if (!seen.insert(pu).second) throw usage_error("core " + c + " is given twice");
                o.cores.push_back(pu);
            }
            have_cores = true;
        } else if (a == "--reps") {
            o.reps = parse_count(value(), "--reps", 1, 1000);
        } else if (a == "--window" || a == "--windows") {
            o.windows.clear();
            std::set<unsigned> seen;
            for (const auto& w : split(value(), "window")) {
                const unsigned v = parse_count(w, "a --window", 1, max_mesh_window);
                if (!seen.insert(v).second) throw usage_error("window " + w + " is given twice");
                o.windows.push_back(v);
            }
            have_windows = true;
        } else if (a == "--bracket-tolerance") {
            o.bracket_tolerance =
                parse_count(value(), "--bracket-tolerance (a percentage)", 1, max_bracket_tolerance_pct) / 100.0;
            have_bracket = true;
        } else if (a == "--bracket-tries") {
            o.bracket_attempts = parse_count(value(), "--bracket-tries", 1, max_bracket_attempts);
            have_bracket = true;
        } else if (a == "--numa") {
            const std::string& v = value();
            const auto p = parse_placement(v);
            if (!p) throw usage_error("unknown --numa placement '" + v + "' (known: receiver, sender, interleave)");
            o.setup.placement = *p;
            have_setup = true;
        } else if (a == "--idle") {
            const std::string& v = value();
            const auto p = parse_idle(v);
            if (!p) throw usage_error("unknown --idle policy '" + v + "' (known: busy-poll, sleep)");
            o.setup.idle = *p;
            have_setup = true;
        } else if (a == "--idle-poll") {
            o.setup.idle_poll = std::chrono::microseconds(
                parse_count(value(), "--idle-poll (microseconds)", 0, max_idle_poll_us));
            have_idle_poll = true;
        } else if (a == "--reply-quota") {
            o.setup.reply_quota = parse_count(value(), "--reply-quota", 0, max_reply_quota);
            have_setup = true;
        } else if (a == "--poll-budget") {
            o.setup.poll_budget = parse_count(value(), "--poll-budget", 1, max_poll_budget);
            have_setup = true;
        } else if (a == "--quick") {
            o.quick = true;
        } else if (a == "--oversubscribe") {
            o.oversubscribe = true;
        } else if (a == "--out") {
            o.out = value();
            if (o.out.empty()) throw usage_error("--out needs a file name");
            o.out_shown = o.out;
        } else {
            throw usage_error("unknown option '" + a + "' for run (see qmesh --help)");
        }
    }
    if (!have_suite) throw usage_error("run needs --suite (one or more of: " + join(known_suites()) + ")");
    std::set<std::string> seen_suites;
    for (const auto& s : o.suites) {
        if (std::find(known_suites().begin(), known_suites().end(), s) == known_suites().end())
            throw usage_error("unknown suite '" + s + "' (known: " + join(known_suites()) + ")");
        if (!seen_suites.insert(s).second) throw usage_error("suite '" + s + "' is given twice");
    }
    // Run in the canonical order, whatever order they were named in.
    std::vector<std::string> ordered;
    for (const auto& s : known_suites())
        if (seen_suites.count(s) != 0) ordered.push_back(s);
    o.suites = ordered;

    if (have_windows && seen_suites.count("mesh") == 0)
        throw usage_error("--window applies to the mesh suite, which is not among those asked for");
    if (have_setup && seen_suites.count("submit") == 0 && seen_suites.count("mesh") == 0 &&
        seen_suites.count("kv") == 0)
        throw usage_error("--numa, --idle, --reply-quota and --poll-budget apply to the suites that build meshes "
                          "(submit, mesh, kv), none of which is among those asked for");
    if (have_idle_poll && o.setup.idle != rt::idle_policy::sleep)
        throw usage_error("--idle-poll applies to --idle sleep (a busy-polling reactor never parks)");
    if (have_bracket && seen_suites.count("pingpong") == 0 && seen_suites.count("submit") == 0)
        throw usage_error("--bracket-tolerance and --bracket-tries apply to the pingpong and submit suites, "
                          "neither of which is among those asked for");

    if (have_queues) {
        std::set<std::string> seen;
        for (const auto& q : o.queues) {
            if (!all_queues::find(q)) {
                std::vector<std::string> names;
                all_queues::for_each([&]<class K>() { names.emplace_back(K::traits.name); });
                throw usage_error("unknown queue '" + q + "' (known: " + join(names) + ")");
            }
            if (!seen.insert(q).second) throw usage_error("queue '" + q + "' is given twice");
        }
    } else {
        all_queues::for_each([&]<class K>() { o.queues.emplace_back(K::traits.name); });
    }

    const auto& topo = rt::topology::instance();
    if (have_cores) {
        for (unsigned c : o.cores)
            if (!topo.is_available(c)) {
                std::string avail;
                for (unsigned a : topo.available()) avail += (avail.empty() ? "" : ",") + std::to_string(a);
                throw usage_error("core " + std::to_string(c) + " is not available to this process (available: " +
                                  avail + ")");
            }
    } else {
        o.cores = topo.available();
    }
    if (o.cores.size() < 2)
        throw usage_error("the suites measure pairs of cores and need at least 2, but " +
                          std::to_string(o.cores.size()) + " " + (have_cores ? "were given" : "are available"));

    if (o.out.empty()) {
        // results/<host>-<date>-<sha>-<suites>.json under the current folder.
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        const std::time_t t = std::time(nullptr);
        char date[32];
        std::strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
        std::string suites;
        for (const auto& s : o.suites) suites += (suites.empty() ? "" : "+") + s;
        std::error_code ec;
        fs::create_directories("results", ec);
        if (ec) throw usage_error("cannot create the output folder 'results': " + ec.message());
        o.out = "results/" + sanitize(host) + "-" + date + "-" + git_sha_short() + "-" + sanitize(suites) + ".json";
    }
    check_writable(o);
    return o;
}

}  // namespace qmesh::bench
