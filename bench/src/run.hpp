// bench/src/run.hpp: `qmesh run`: options, the suite driver, the JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "bracket.hpp"
#include "mesh_setup.hpp"

namespace qmesh::bench {

using json = nlohmann::ordered_json;

// Bad usage or environment: one line on stderr, exit status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The mesh suite's requests in flight per ordered pair unless --window says otherwise.
inline constexpr unsigned default_mesh_window = 16;
// The largest --window: a queue of this many entries per pair is built for it.
inline constexpr unsigned max_mesh_window = 4096;
// The largest --bracket-tolerance (a percentage) and --bracket-tries.
inline constexpr unsigned max_bracket_tolerance_pct = 1000, max_bracket_attempts = 20;
// --idle-poll: up to a minute; longer never parks in any run worth having.
inline constexpr unsigned max_idle_poll_us = 60'000'000;
// --reply-quota: up to 2^20, above what any poll takes (64 from each of at
// most 1919 sources).
inline constexpr unsigned max_reply_quota = 1u << 20;
// --poll-budget: a poll takes at most this many from one queue; 2^16 is
// over any queue the suites build (the deepest window's is 2 x 4096).
inline constexpr unsigned max_poll_budget = 1u << 16;

struct run_options {
    std::vector<std::string> suites;
    std::vector<std::string> queues;  // registry names; all when not given
    std::vector<unsigned> cores;      // PUs; all available when not given
    unsigned reps = 5;
    bool quick = false;
    bool oversubscribe = false;  // also run mesh/kv with more reactors than cores (marked)
    // Mesh: requests in flight per ordered pair, one set of configurations
    // per value (the first is the default; entries say it as "batch").
    std::vector<unsigned> windows{default_mesh_window};
    // pingpong, submit: a round trip is measured again while its reference
    // before and after it disagree by more than this fraction, up to this
    // many measurements in all (bracket.hpp).
    double bracket_tolerance = default_bracket_tolerance;
    unsigned bracket_attempts = default_bracket_attempts;
    // submit, mesh, kv: NUMA placement, idle policy, reply quota and poll
    // budget of every mesh built (--numa, --idle, --reply-quota,
    // --poll-budget; entries record them).
    mesh_setup setup;
    std::string out;         // path of the result file (a symbolic link given: where it points)
    std::string out_shown;   // --out as given (a link's name, not its target); empty without --out
    std::string command_line;

    // --out named the file (else a generated name under results/).
    bool out_given() const noexcept { return !out_shown.empty(); }
};

// The suites `qmesh run` knows, in the order they run.
const std::vector<std::string>& known_suites();

// The context's warning about entries whose spinning threads got less than
// low_cpu_share of a CPU (another process competed), or "" when none did.
std::string cpu_share_warning(const json& benchmarks);

// s as a whole number in [lo, hi]; else usage_error naming `what`.
unsigned parse_count(const std::string& s, const std::string& what, unsigned lo, unsigned hi);

// Parses and checks `qmesh run` arguments; throws usage_error before any work.
run_options parse_run_options(const std::vector<std::string>& args, const std::string& command_line);

// The context block of a result file.
json make_context(const run_options& o, double timer_overhead_ns);

// Runs the suites; returns the benchmarks array (iteration + aggregate
// entries). Stops early, keeping what it has, on an interrupt.
json run_suites(const run_options& o, json& context);

// Writes `doc` to `path` atomically (temporary file in the same folder,
// fsync, rename): a reader sees the old file or the whole new one. With
// `replace` false an existing file is left alone and false is returned.
bool write_atomically(const std::string& path, const json& doc, bool replace = true);

// Writes the result of a run and returns the path it went to. A complete run
// with --out replaces that file; otherwise nothing is replaced: a generated
// name already taken (two runs in one second) gets "-2", "-3", ..., and an
// interrupted run whose --out exists writes NAME.interrupted.json beside it
// (numbered likewise), so that earlier results stay intact.
std::string write_result(const run_options& o, const json& doc, bool interrupted);

// The highest number write_result gives a name ("-9999"); the options check
// that the longest such name fits the folder's NAME_MAX before any work.
inline constexpr unsigned max_result_number = 9999;

// The name write_result tries k-th: o.out for 0, else NAME.interrupted.json
// (k = 1), NAME.interrupted-K.json with --out, NAME-K.json without.
std::string result_name(const run_options& o, unsigned k);

}  // namespace qmesh::bench
