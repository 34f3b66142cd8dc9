#include "verify.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <random>
#include <thread>

#include "lincheck.hpp"
#include "pinned.hpp"
#include "qmesh/queues/registry.hpp"
#include "run.hpp"

namespace qmesh::bench {

namespace {
// An interrupt is not a verdict: says how far the checks got, and exits as
// the shell expects of an interrupted command.
int report_interrupted(const std::string& name, std::uint64_t rounds, std::uint64_t items) {
    std::printf("verify %s: interrupted in the concurrent rounds after %llu complete rounds, %llu values, none "
                "failing\n",
                name.c_str(), static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(items));
    return interrupted_exit_status();
}

// The command that replays this run, in a form --seconds reads back exactly:
// the shortest plain decimal that round-trips (%g gave 2e-05, which the
// parser refuses, and rounded to 6 digits).
std::string reproduce_command(const std::string& name, double seconds, std::uint64_t seed) {
    char text[512];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, seconds, std::chars_format::fixed);
    const std::string s = ec == std::errc{} ? std::string(text, end) : std::to_string(seconds);
    return "qmesh verify --queue " + name + " --seconds " + s + " --seed " + std::to_string(seed);
}
}  // namespace

int cmd_verify(const std::vector<std::string>& args) {
    std::string name;
    double seconds = 2;
    std::uint64_t seed = std::random_device{}();
    std::set<std::string> given;  // each option once, as for run
    for (std::size_t i = 0; i < args.size(); ++i) {
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw usage_error("option " + args[i] + " needs a value");
            return args[++i];
        };
        if (args[i].rfind("--", 0) == 0 && !given.insert(args[i]).second)
            throw usage_error("option " + args[i] + " is given twice");
        if (args[i] == "--queue") {
            name = value();
        } else if (args[i] == "--seconds") {
            const std::string& s = value();
            // from_chars reads plain decimal only: no blanks, no sign, no hexadecimal (stod took all three).
            const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds, std::chars_format::fixed);
            if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || !(seconds > 0) || seconds > 86400)
                throw usage_error("--seconds must be a positive number of seconds, not '" + s + "'");
        } else if (args[i] == "--seed") {
            const std::string& s = value();
            // from_chars takes digits only: no blanks, no sign (stoull read " -1" as 2^64 - 1).
            const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), seed);
            if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
                throw usage_error("--seed must be a whole number below 2^64, not '" + s + "'");
        } else {
            throw usage_error("unknown option '" + args[i] + "' for verify");
        }
    }
    if (name.empty()) throw usage_error("verify needs --queue NAME (see qmesh list)");
    const auto traits = all_queues::find(name);
    if (!traits) throw usage_error("unknown queue '" + name + "' (see qmesh list)");
    install_interrupt_handler();

    std::printf("verify %s: seed %llu (reproduce: %s)\n", name.c_str(), static_cast<unsigned long long>(seed),
                reproduce_command(name, seconds, seed).c_str());
    // Half the time goes to the stress rounds, half to the linearizability
    // pass; both are replayed from the same seed.
    std::mt19937_64 rng(seed);
    const std::size_t capacities[] = {1, 2, 3, 4, 5, 7, 16, 100, 1024};
    const auto end = clock::now() + std::chrono::duration<double>(seconds / 2);
    std::uint64_t rounds = 0, items = 0;
    bool ok = true;
    std::string violation;
    stress_config cfg;
    do {
        cfg.producers = traits->producers == role::multi ? 1 + static_cast<unsigned>(rng() % 3) : 1;
        cfg.consumers = traits->consumers == role::multi ? 1 + static_cast<unsigned>(rng() % 3) : 1;
        cfg.capacity = capacities[rng() % std::size(capacities)];
        cfg.items_per_producer = 1000 + rng() % 50000;
        cfg.seed = seed;
        stress_report r;
        all_queues::with(name, [&]<class K>() { r = stress_queue<K>(cfg); });
        if (r.interrupted) break;  // a round cut short proves nothing either way
        ++rounds;
        items += r.items;
        if (!r.ok) {
            ok = false;
            violation = r.violation;
            break;
        }
    } while (clock::now() < end && !interrupted());
    if (!ok) {
        std::printf("verify %s: FAILED in round %llu (%u producer(s), %u consumer(s), capacity %zu): %s\n",
                    name.c_str(), static_cast<unsigned long long>(rounds), cfg.producers, cfg.consumers,
                    cfg.capacity, violation.c_str());
        // With --seconds: the round count, and so the failing round, depends on it.
        std::printf("verify %s: reproduce with: %s\n", name.c_str(), reproduce_command(name, seconds, seed).c_str());
        return 1;
    }
    if (interrupted()) return report_interrupted(name, rounds, items);
    std::printf("verify %s: concurrent ok: %llu rounds, %llu values, each delivered exactly once%s\n", name.c_str(),
                static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(items),
                traits->order == order::none ? "" : " and in order");
    std::fflush(stdout);

    lincheck::result lr;
    all_queues::with(name, [&]<class K>() {
        lr = lincheck::tester<K>::check(seed, seconds / 2, 200, std::numeric_limits<std::uint64_t>::max(),
                                        &interrupted);
    });
    if (!lr.ok) {
        std::printf("verify %s: FAILED linearizability after %llu scenarios, %llu runs: %s", name.c_str(),
                    static_cast<unsigned long long>(lr.scenarios), static_cast<unsigned long long>(lr.runs),
                    lr.report.c_str());
        std::printf("verify %s: reproduce with: %s\n", name.c_str(), reproduce_command(name, seconds, seed).c_str());
        return 1;
    }
    if (interrupted()) {
        std::printf("verify %s: interrupted in the linearizability pass after %llu scenarios, %llu runs, none "
                    "failing\n",
                    name.c_str(), static_cast<unsigned long long>(lr.scenarios),
                    static_cast<unsigned long long>(lr.runs));
        return interrupted_exit_status();
    }
    std::printf("verify %s: linearizability ok: %llu scenarios, %llu runs, every history explained by a %s queue\n",
                name.c_str(), static_cast<unsigned long long>(lr.scenarios), static_cast<unsigned long long>(lr.runs),
                std::string(to_string(traits->order)).c_str());
    return 0;
}

}  // namespace qmesh::bench
