// qmesh: the command. See README.md for the contract of each sub-command.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "pinned.hpp"
#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/topology.hpp"
#include "run.hpp"
#include "verify.hpp"

namespace qmesh::bench {
namespace {

constexpr const char* usage_text =
    R"(usage: qmesh <command> [options]

commands:
  list [--json]                 the registered queues and their traits
  topo [--json]                 the machine as hwloc sees it: cores, caches, NUMA nodes, pair relations
  run --suite S[,S...]          run benchmark suites and write one JSON result file
                                suites: floor pingpong submit stream load mesh kv pollscale
      [--queues Q[,Q...]]         queues to run (default: all registered)
      [--cores C[,C...]]          cores (OS PU numbers) to use (default: all available)
      [--reps N]                  repetitions, round-robin across configurations (default 5)
      [--quick]                   short measurements (smoke runs)
      [--oversubscribe]           also run mesh and kv with twice as many threads as
                                  cores (entries marked "oversubscribed": true)
      [--window W[,W...]]         mesh: requests in flight per ordered pair (default 16);
                                  each value is a configuration of its own
      [--bracket-tolerance PCT]   pingpong, submit: measure a round trip again while its
                                  reference before and after it differ by more than PCT %
                                  (default 25)
      [--bracket-tries N]         ... at most N times in all (default 3)
      [--numa P]                  submit, mesh, kv: where each queue's memory goes: receiver
                                  (default), sender or interleave (a no-op on one NUMA node)
      [--idle P]                  submit, mesh, kv: what an idle reactor does: busy-poll
                                  (default) or sleep (parks; a sender wakes it)
      [--idle-poll US]            with --idle sleep: how long a reactor polls on, after 256
                                  empty turns, before it parks (default 200; 0: at once)
      [--reply-quota N]           submit, mesh, kv: continuations of replies a reactor's poll
                                  runs inline before it queues the rest as tasks (default 0:
                                  every reply the poll takes)
      [--poll-budget N]           submit, mesh, kv: messages a reactor's poll takes from one
                                  queue (default 64)
      [--out FILE]                result file (default: results/<host>-<date>-<sha>-<suites>.json)
  verify --queue Q [--seconds S] [--seed N]
                                correctness of one queue: concurrent stress rounds, then the
                                linearizability check, half of S (default 2) each

exit status: 0 success; 1 a measurement or verification failed; 2 bad usage or environment
)";

// A message is one line on stderr, whatever the arguments it quotes hold
// (a line break in a name would start a second one), as plots/ does.
std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

json traits_json(const queue_traits& t) {
    return {{"name", t.name},
            {"family", to_string(t.family)},
            {"producers", to_string(t.producers)},
            {"consumers", to_string(t.consumers)},
            {"progress", to_string(t.progress)},
            {"bounded", t.bounded},
            {"order", to_string(t.order)},
            {"summary", t.summary}};
}

// list and topo take one option, --json, at most once.
bool json_option(const std::vector<std::string>& args, const char* cmd) {
    bool as_json = false;
    for (const auto& a : args) {
        if (a == "--json" && !as_json) as_json = true;
        else if (a == "--json") throw usage_error("option --json is given twice");
        else throw usage_error("unknown option '" + a + "' for " + cmd);
    }
    return as_json;
}

int cmd_list(const std::vector<std::string>& args) {
    const bool as_json = json_option(args, "list");
    json arr = json::array();
    all_queues::for_each([&]<class K>() { arr.push_back(traits_json(K::traits)); });
    if (as_json) {
        std::cout << arr.dump(2) << "\n";
        return 0;
    }
    std::printf("%-16s %-5s %-6s %-6s %-10s %-8s %-18s %s\n", "name", "fam", "prod", "cons", "progress", "bounded",
                "order", "summary");
    for (const auto& q : arr)
        std::printf("%-16s %-5s %-6s %-6s %-10s %-8s %-18s %s\n", q["name"].get<std::string>().c_str(),
                    q["family"].get<std::string>().c_str(), q["producers"].get<std::string>().c_str(),
                    q["consumers"].get<std::string>().c_str(), q["progress"].get<std::string>().c_str(),
                    q["bounded"].get<bool>() ? "yes" : "no", q["order"].get<std::string>().c_str(),
                    q["summary"].get<std::string>().c_str());
    return 0;
}

int cmd_topo(const std::vector<std::string>& args) {
    const bool as_json = json_option(args, "topo");
    const auto& t = rt::topology::instance();
    json j;
    j["cpu_model"] = t.cpu_model();
    j["summary"] = t.summary();
    j["packages"] = t.packages();
    j["numa_nodes"] = t.numa_nodes();
    j["cores"] = t.cores();
    j["smt"] = t.smt();
    j["available_pus"] = t.available();
    json pus = json::array();
    for (const auto& p : t.pus())
        pus.push_back({{"pu", p.os_index}, {"core", p.core}, {"package", p.package}, {"numa_node", p.numa_node},
                       {"available", t.is_available(p.os_index)}});
    j["pus"] = pus;
    json caches = json::array();
    for (const auto& c : t.caches())
        caches.push_back({{"level", c.level}, {"kind", c.kind}, {"bytes", c.bytes}, {"line_bytes", c.line_bytes},
                          {"pus_sharing", c.pus_sharing}, {"instances", c.instances}});
    j["caches"] = caches;
    json pairs = json::array();
    for (unsigned a : t.available())
        for (unsigned b : t.available())
            if (a < b) pairs.push_back({{"cores", {a, b}}, {"relation", std::string(rt::to_string(t.relation_of(a, b)))}});
    j["pairs"] = pairs;
    if (as_json) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("cpu:     %s\ntopology: %s\n", t.cpu_model().c_str(), t.summary().c_str());
    for (const auto& c : t.caches())
        std::printf("cache:   L%u %-11s %8llu KiB, %u B lines, shared by %u PU(s), %u instance(s)\n", c.level,
                    c.kind.c_str(), static_cast<unsigned long long>(c.bytes >> 10), c.line_bytes, c.pus_sharing,
                    c.instances);
    for (const auto& p : t.pus())
        std::printf("pu %-4u core %-4u package %-3u numa %-3d%s\n", p.os_index, p.core, p.package, p.numa_node,
                    t.is_available(p.os_index) ? "" : "  (not available)");
    for (const auto& pr : pairs)
        std::printf("pair %u-%u: %s\n", pr["cores"][0].get<unsigned>(), pr["cores"][1].get<unsigned>(),
                    pr["relation"].get<std::string>().c_str());
    return 0;
}

int cmd_run(const std::vector<std::string>& args, const std::string& command_line) {
    run_options o = parse_run_options(args, command_line);  // usage errors: before any work
    install_interrupt_handler();
    json context = make_context(o, timer_overhead_ns());
    json benchmarks = run_suites(o, context);
    // An interrupt after the last measurement still counts: --out is left
    // alone and the status says so, as the README promises.
    if (interrupted() && !context["interrupted"].get<bool>()) {
        context["interrupted"] = true;
        context["warnings"].push_back("the run was interrupted after its last measurement");
    }
    json doc;
    doc["context"] = context;
    doc["benchmarks"] = benchmarks;
    const bool cut_short = context["interrupted"].get<bool>();
    const std::string written = write_result(o, doc, cut_short);
    if (written != o.out && o.out_given())
        std::fprintf(stderr, "qmesh: interrupted: %s is left as it was; what was measured went to %s\n",
                     one_line(o.out_shown).c_str(), one_line(written).c_str());
    // The path as the user gave it (a symbolic link's name, where it is one).
    std::printf("%s\n", (o.out_given() && written == o.out ? o.out_shown : written).c_str());
    if (cut_short) return interrupted_exit_status();
    for (const auto& e : benchmarks)
        if (!e["valid"].get<bool>()) return 1;
    return 0;
}

}  // namespace
}  // namespace qmesh::bench

int main(int argc, char** argv) {
    using namespace qmesh::bench;
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string command_line = "qmesh";
    for (const auto& a : args) command_line += " " + a;
    try {
        if (args.empty()) throw usage_error("no command given (try qmesh --help)");
        if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
            std::fputs(usage_text, stdout);
            return 0;
        }
        const std::string cmd = args[0];
        args.erase(args.begin());
        const bool known = cmd == "list" || cmd == "topo" || cmd == "run" || cmd == "verify";
        // `qmesh CMD --help` (or -h) anywhere: the usage, and nothing run
        // (an unknown CMD is still a usage error).
        for (const auto& a : args)
            if (known && (a == "--help" || a == "-h")) {
                std::fputs(usage_text, stdout);
                return 0;
            }
        if (cmd == "list") return cmd_list(args);
        if (cmd == "topo") return cmd_topo(args);
        if (cmd == "run") return cmd_run(args, command_line);
        if (cmd == "verify") return cmd_verify(args);
        throw usage_error("unknown command '" + cmd + "' (try qmesh --help)");
    } catch (const usage_error& e) {
        std::fprintf(stderr, "qmesh: %s\n", one_line(e.what()).c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qmesh: error: %s\n", one_line(e.what()).c_str());
        return 1;
    }
}
