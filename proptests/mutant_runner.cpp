// qmesh_mutants: the mutant kill matrix (issue 6, item 6).
//
// Every mutant in mutants.hpp is named here with its defect and the tier that
// is expected to catch it. Under each preset this runner runs the mutants of
// the tiers that preset can run (dev: model, concurrent, linearizability;
// asan: asan; tsan: tsan), and runs the same tiers against the clean queue or
// runtime piece each mutant was copied from, to show the tier raises no false
// alarm. Each check runs in a child process (this program re-executed with
// --only NAME), so a sanitizer report or a crash is pinned on that check.
//
//   qmesh_mutants [--json FILE]     run this preset's part; exit 1 if a mutant
//                                   survives or a clean check is flagged
//   qmesh_mutants --list            print the whole matrix's rows
//   qmesh_mutants --only NAME [--clean]   one check in this process
//
// A child exits 1 when its tier reported a violation (model, concurrent,
// linearizability); a sanitizer tier's verdict is the sanitizer's report on
// the child's stderr. The part written to FILE is merged into
// results/mutants.json by proptests/merge_mutants.py (make mutants).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lincheck.hpp"
#include "model_check.hpp"
#include "mutants.hpp"
#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/task.hpp"
#include "verify.hpp"

namespace qmesh::test {
namespace {

// ---- the tiers, each run inside a child; 1 = violation found -------------

template <class K>
int model_tier() {
    return model_check<K>() ? 0 : 1;
}

// Producers and consumers as the traits allow (2 each where multi), tiny and
// roomy capacities; the deadline turns a stall into a violation.
template <class K>
int stress_tier(std::uint64_t items, unsigned timeout_ms) {
    const std::uint64_t seed = std::random_device{}();
    for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{64}}) {
        bench::stress_config c;
        c.producers = K::traits.producers == role::multi ? 2 : 1;
        c.consumers = K::traits.consumers == role::multi ? 2 : 1;
        c.capacity = cap;
        c.items_per_producer = items;
        c.seed = seed;
        c.timeout_ms = timeout_ms;
        const auto r = bench::stress_queue<K>(c);
        if (!r.ok) {
            std::printf("%s: capacity %zu, %up/%uc: %s\n", std::string(K::traits.name).c_str(), cap, c.producers,
                        c.consumers, r.violation.c_str());
            return 1;
        }
    }
    std::printf("%s: no violation\n", std::string(K::traits.name).c_str());
    return 0;
}

// The deadline is the same for a mutant and its clean original, and long
// enough that a clean run on a loaded 2-vCPU machine (ctest -j) never meets
// it: a clean lamport run takes well under a second unloaded.
template <class K>
int concurrent_tier() {
    return stress_tier<K>(10000, 10000);
}

// Under TSan the verdict is TSan's: a race report ends the process
// (halt_on_error=1 in the tsan test preset).
template <class K>
int tsan_tier() {
    return stress_tier<K>(2000, 20000);
}

template <class K>
int lincheck_tier() {
    const std::uint64_t seed = std::random_device{}();
    // Up to 60 s of scenarios; a mutant is usually caught in the first few.
    const auto r = lincheck::tester<K>::check(seed, 60, 200, 300);
    std::printf("%s: seed %llu, %llu scenarios, %llu runs: %s\n%s", std::string(K::traits.name).c_str(),
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(r.scenarios),
                static_cast<unsigned long long>(r.runs), r.ok ? "linearizable" : "VIOLATION", r.report.c_str());
    return r.ok ? 0 : 1;
}

// Under ASan: sequential rounds with heap-owning, move-only elements at
// capacities 1-4 (every round wraps), the queue dying non-empty. The verdict
// is ASan's (overflow, use-after-free) or LeakSanitizer's at exit.
template <class K>
int asan_tier() {
    using Q = typename K::template type<std::unique_ptr<int>>;
    for (std::size_t cap = 1; cap <= 4; ++cap) {
        Q q(cap);
        std::unique_ptr<int> out;
        for (int round = 0; round < 12; ++round) {
            for (std::size_t i = 0; i < cap; ++i) (void)q.try_push(std::make_unique<int>(round));
            qmesh::flush(q);
            for (int i = 0; i < round % 3; ++i) (void)q.try_pop(out);
            qmesh::consumer_flush(q);
        }
    }
    return 0;
}

// A continuation that owns a buffer and frees it when it runs.
struct owning_continuation {
    int* buf;
    void operator()() const {
        buf[0] = 1;
        delete[] buf;
    }
};

int continuation_twice_tier() {
    rt::schedule(new twice_task<owning_continuation>(owning_continuation{new int[4]}));
    rt::run_tasks();
    return 0;
}

int continuation_once_tier() {
    rt::schedule_fn(owning_continuation{new int[4]});
    rt::run_tasks();
    return 0;
}

// ---- the matrix ------------------------------------------------------------

struct row {
    std::string_view mutant;
    std::string_view defect;
    std::string_view tier;  // model | concurrent | linearizability | tsan | asan
    int (*run_mutant)();
    std::string_view clean;  // what the mutant was copied from
    int (*run_clean)();
};

using L = lamport_bug;
template <L B>
using BL = broken_lamport_kind<B>;

const row matrix[] = {
    {"mutant_full_check_at_wrap", "off-by-one full check: the push that wraps around skips it, so a full ring reads as empty",
     "model", model_tier<BL<L::full_check_skipped_at_wrap>>, "lamport", model_tier<lamport_kind>},
    {"mutant_drops_after_wrap", "wrong wrap-around: once wrapped, the pop at slot 0 drops that element", "model",
     model_tier<BL<L::pop_skips_slot_zero_once_wrapped>>, "lamport", model_tier<lamport_kind>},
    {"mutant_head_never_published", "the consumer never publishes its head: the producer sees the ring full for ever",
     "concurrent", concurrent_tier<BL<L::head_never_published>>, "lamport", concurrent_tier<lamport_kind>},
    {"mutant_stale_tail_cache", "a cached index that is never refreshed: the consumer trusts its first read of tail",
     "concurrent", concurrent_tier<BL<L::tail_cache_never_refreshed>>, "cached", concurrent_tier<cached_ring_kind>},
    {"mutant_flush_strands", "a flush that strands messages: it publishes whole batches only and reports success",
     "concurrent", concurrent_tier<BL<L::flush_strands_partial_batch>>, "batched", concurrent_tier<batched_ring_kind>},
    {"mutant_lanes_break_fifo",
     "an inbox with a lane per producer drained newest lane first: exactly-once and per-producer order hold, FIFO does not",
     "linearizability", lincheck_tier<lanes_inbox_kind>, "inbox", lincheck_tier<inbox_ring_kind>},
    {"mutant_pop_gives_up_on_busy_lock", "a locked ring whose pop reports empty when the lock is busy",
     "linearizability", lincheck_tier<broken_mutex_kind<mutex_bug::pop_gives_up_on_busy_lock>>, "mutex",
     lincheck_tier<mutex_ring_kind>},
    {"mutant_relaxed_publish", "a relaxed publishing store: the producer's tail store is relaxed, not release", "tsan",
     tsan_tier<BL<L::relaxed_publish>>, "lamport", tsan_tier<lamport_kind>},
    {"mutant_relaxed_consume",
     "a consumer reading the slot before the producer's store is visible: its tail load is relaxed, not acquire", "tsan",
     tsan_tier<BL<L::relaxed_consume>>, "lamport", tsan_tier<lamport_kind>},
    {"mutant_lock_removed", "a locked baseline with its lock removed (2 producers, 2 consumers)", "tsan",
     tsan_tier<broken_mutex_kind<mutex_bug::lock_removed>>, "mutex", tsan_tier<mutex_ring_kind>},
    {"mutant_leak_on_destroy", "the destructor forgets the elements still queued", "asan",
     asan_tier<BL<L::leaks_on_destroy>>, "lamport", asan_tier<lamport_kind>},
    {"mutant_wrap_past_end", "wrong wrap-around: the index wraps one slot too late, past the slot array", "asan",
     asan_tier<BL<L::wraps_one_past_end>>, "lamport", asan_tier<lamport_kind>},
    {"mutant_continuation_twice", "a continuation run twice: the task runs its callable again before disposing", "asan",
     continuation_twice_tier, "rt::lambda_task", continuation_once_tier},
};

// The tiers this build can run.
std::vector<std::string_view> tiers_of_this_build() {
#if defined(__SANITIZE_ADDRESS__)
    return {"asan"};
#elif defined(__SANITIZE_THREAD__)
    return {"tsan"};
#else
    return {"model", "concurrent", "linearizability"};
#endif
}

bool sanitizer_tier(std::string_view tier) { return tier == "tsan" || tier == "asan"; }

struct verdict {
    bool flagged = false;
    double seconds = 0;
    std::string how;
};

// Runs `self --only NAME [--clean]` with its output in a file, echoes the
// output's tail, and says whether the tier flagged it.
verdict run_child(const char* self, const row& r, bool clean) {
    char path[] = "/tmp/qmesh_mutant_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
        std::perror("qmesh_mutants: mkstemp");
        std::exit(2);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<const char*> argv{self, "--only", r.mutant.data()};
        if (clean) argv.push_back("--clean");
        argv.push_back(nullptr);
        execv("/proc/self/exe", const_cast<char* const*>(argv.data()));
        _exit(127);
    }
    close(fd);
    int status = 0;
    bool timed_out = false;
    const auto limit = t0 + std::chrono::seconds(300);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > limit) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    verdict v;
    v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::remove(path);
    const std::string out = ss.str();
    const bool exited = WIFEXITED(status);
    const int code = exited ? WEXITSTATUS(status) : -1;
    const bool sanitizer_report = out.find("Sanitizer") != std::string::npos;
    if (timed_out) {
        v.flagged = !sanitizer_tier(r.tier) ? false : sanitizer_report;
        v.how = "killed after 300 s";
        if (clean) v.flagged = true;
    } else if (sanitizer_tier(r.tier)) {
        v.flagged = sanitizer_report || (clean && code != 0);
        v.how = sanitizer_report ? "sanitizer report" : exited ? "exit " + std::to_string(code) : "signal";
    } else {
        v.flagged = clean ? code != 0 : code == 1;
        v.how = exited ? "exit " + std::to_string(code) : "signal " + std::to_string(WTERMSIG(status));
    }
    // The head of the child's output (a sanitizer's report line and first
    // stacks, RapidCheck's counterexample, the shrunk table), indented.
    const std::size_t keep = 2500;
    std::string tail = out.size() > keep ? out.substr(0, keep) + "\n..." : out;
    for (std::size_t at = 0; at < tail.size();) {
        std::size_t nl = tail.find('\n', at);
        if (nl == std::string::npos) nl = tail.size();
        std::printf("    | %.*s\n", static_cast<int>(nl - at), tail.data() + at);
        at = nl + 1;
    }
    return v;
}

int usage(const std::string& why) {
    std::fprintf(stderr, "qmesh_mutants: %s (usage: qmesh_mutants [--json FILE] | --list | --only NAME [--clean])\n",
                 why.c_str());
    return 2;
}

int main_impl(int argc, char** argv) {
    std::string json_path, only;
    bool clean = false, list = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--json" || a == "--only") && i + 1 < argc) (a == "--json" ? json_path : only) = argv[++i];
        else if (a == "--clean") clean = true;
        else if (a == "--list") list = true;
        else return usage("unknown or incomplete option '" + a + "'");
    }
    if (list) {
        for (const row& r : matrix)
            std::printf("%-34s %-16s %s (clean: %s)\n", r.mutant.data(), r.tier.data(), r.defect.data(), r.clean.data());
        return 0;
    }
    if (!only.empty()) {
        for (const row& r : matrix)
            if (r.mutant == only) {
                std::printf("%s %s, tier %s\n", clean ? "clean" : "mutant", clean ? r.clean.data() : r.mutant.data(),
                            r.tier.data());
                std::fflush(stdout);
                return clean ? r.run_clean() : r.run_mutant();
            }
        return usage("no mutant named '" + only + "' (see --list)");
    }
    if (!json_path.empty()) {
        std::ofstream probe(json_path, std::ios::app);
        if (!probe) return usage("cannot write '" + json_path + "'");
    }

    const auto tiers = tiers_of_this_build();
    nlohmann::ordered_json mutants = nlohmann::ordered_json::array(), cleans = nlohmann::ordered_json::array();
    std::vector<std::pair<std::string_view, std::string_view>> clean_done;  // (tier, clean)
    int survivors = 0, false_alarms = 0;
    for (const row& r : matrix) {
        if (std::find(tiers.begin(), tiers.end(), r.tier) == tiers.end()) continue;
        std::printf("%s (%s) ...\n", r.mutant.data(), r.tier.data());
        std::fflush(stdout);
        const verdict m = run_child(argv[0], r, false);
        std::printf("  %s: %s by %s in %.2f s (%s)\n", r.mutant.data(), m.flagged ? "caught" : "SURVIVED",
                    r.tier.data(), m.seconds, m.how.c_str());
        survivors += !m.flagged;
        mutants.push_back({{"mutant", r.mutant},
                           {"defect", r.defect},
                           {"tier", r.tier},
                           {"caught", m.flagged},
                           {"seconds", std::round(m.seconds * 100) / 100}});
        if (std::find(clean_done.begin(), clean_done.end(), std::pair{r.tier, r.clean}) != clean_done.end()) continue;
        clean_done.emplace_back(r.tier, r.clean);
        const verdict c = run_child(argv[0], r, true);
        std::printf("  clean %s: %s by %s in %.2f s (%s)\n", r.clean.data(), c.flagged ? "FLAGGED" : "passed",
                    r.tier.data(), c.seconds, c.how.c_str());
        false_alarms += c.flagged;
        cleans.push_back({{"queue", r.clean},
                          {"tier", r.tier},
                          {"flagged", c.flagged},
                          {"seconds", std::round(c.seconds * 100) / 100}});
        std::fflush(stdout);
    }
    if (!json_path.empty()) {
        const nlohmann::ordered_json part{{"tiers", tiers}, {"mutants", mutants}, {"clean", cleans}};
        const std::string tmp = json_path + ".tmp";
        std::ofstream(tmp) << part.dump(2) << "\n";
        std::rename(tmp.c_str(), json_path.c_str());
    }
    std::printf("qmesh_mutants: %zu mutants, %d survived; %zu clean checks, %d flagged\n", mutants.size(), survivors,
                cleans.size(), false_alarms);
    return survivors == 0 && false_alarms == 0 ? 0 : 1;
}

}  // namespace
}  // namespace qmesh::test

int main(int argc, char** argv) { return qmesh::test::main_impl(argc, argv); }
