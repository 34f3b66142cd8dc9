// examples/kv_demo.cpp: a sharded key-value store over the runtime, the
// application shared/SEED.txt describes: no locks, only messages.
//
// Each core owns the keys that hash to it, in its own std::unordered_map that
// only its reactor ever touches. Every core is also a client: it runs a seeded
// mix of get, put and erase, and sends each operation to the key's owner with
//
//     mesh.submit_to(owner(key), [key, value] { return shard().put(key, value); })
//
// (an operation on the core's own shard runs in place: submit_to's local
// short-cut). Each client keeps a few operations outstanding.
//
// Checking it. Each key is written (put, erase) by one client only, key % N,
// and a client's submissions to one core run there in the order it made them,
// so every key goes through its writer's operations in order whatever the
// interleaving. A sequential model of the same operations therefore predicts
// exactly every reply a client gets for its own keys, and the final content of
// every shard. A get of another client's key can only be checked for
// consistency: absent, or a value that key's writer put. At the end every core
// compares its own shard with the model (map_reduce), and the demo prints a
// summary; exit 1 on any mismatch.
//
// Usage: qmesh_kv_demo [--queue NAME] [--cores N] [--keys K] [--ops M]
//                      [--window W] [--seed S] [--inject-fault]
// --inject-fault (for the test that shows the check can fail): a put of
// client 0 that a later get of its own reads, or that the final content
// keeps, stores a value the model does not expect, so the demo exits 1.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/smp.hpp"
#include "qmesh/runtime/topology.hpp"

using namespace qmesh;

namespace {

struct options {
    std::string queue = "fastforward";
    unsigned cores = 0;  // 0: every available PU
    std::uint64_t keys = 1000;
    std::uint64_t ops = 20000;  // per client core
    std::uint64_t window = 8;   // outstanding operations per client core
    std::uint64_t seed = 42;
    bool inject_fault = false;
};

enum class op_kind : std::uint8_t { get, put, erase };

struct op {
    op_kind kind;
    std::uint64_t key;
};

// What an operation returns: a get the value if present; a put whether it
// replaced a value; an erase whether it removed one.
struct reply {
    bool found = false;
    std::string value;  // get only
    bool operator==(const reply&) const = default;
};

// The value client `core` writes with its operation i: it names its key, its
// writer and the operation, so any value read can be traced to its put.
std::string value_for(std::uint64_t key, unsigned core, std::uint64_t i) {
    return "k" + std::to_string(key) + "/c" + std::to_string(core) + "/" + std::to_string(i);
}

// One core's shard: touched only by the reactor of the core that owns it.
using shard = std::unordered_map<std::uint64_t, std::string>;

struct demo {
    unsigned n;
    std::uint64_t window;
    std::vector<std::vector<op>> ops;                    // [core][i], read-only while running
    std::vector<std::vector<std::optional<reply>>> expected;  // [core][i]: the model's reply, own keys only
    std::unordered_map<std::uint64_t, std::unordered_set<std::string>> ever_put;  // key -> values its writer put
    std::vector<shard> shards;                           // [owner]
    std::uint64_t fault_at = UINT64_MAX;                 // --inject-fault: client 0's operation to corrupt

    // Per client core, written by that core's reactor only, read after run().
    struct client {
        std::uint64_t next = 0;  // next operation to issue
        std::uint64_t gets = 0, hits = 0, puts = 0, erases = 0, remote = 0, local = 0, wrong = 0;
        std::string first_wrong;
    };
    std::vector<client> clients;

    unsigned owner(std::uint64_t key) const noexcept {
        // A multiplicative hash, so ownership (key -> core) is independent of
        // which client writes the key (key % n).
        return static_cast<unsigned>((key * 0x9e3779b97f4a7c15ULL >> 32) % n);
    }
};

// The operation, as it runs on the owner.
reply execute(shard& s, const op& o, const std::string& value) {
    switch (o.kind) {
        case op_kind::get: {
            auto it = s.find(o.key);
            return it == s.end() ? reply{} : reply{true, it->second};
        }
        case op_kind::put: return {!s.insert_or_assign(o.key, value).second, {}};
        case op_kind::erase: return {s.erase(o.key) != 0, {}};
    }
    return {};
}

void check_reply(demo& d, unsigned me, std::uint64_t i, const reply& got) {
    auto& c = d.clients[me];
    const op& o = d.ops[me][i];
    const auto& want = d.expected[me][i];
    bool ok;
    if (want) {
        ok = got == *want;
    } else {  // a get of another client's key
        auto it = d.ever_put.find(o.key);
        ok = !got.found || (it != d.ever_put.end() && it->second.count(got.value) != 0);
    }
    if (o.kind == op_kind::get) {
        ++c.gets;
        c.hits += got.found ? 1 : 0;
    } else {
        ++(o.kind == op_kind::put ? c.puts : c.erases);
    }
    if (!ok && c.wrong++ == 0)
        c.first_wrong = "core " + std::to_string(me) + " operation " + std::to_string(i) + " on key " +
                        std::to_string(o.key) + " got " + (got.found ? "found '" + got.value + "'" : "not found");
}

// One outstanding-operation slot of client `me`. A free coroutine, not a
// lambda, so its frame owns its arguments. Taking the next index and
// submitting it happen without a suspension in between, so the client issues
// its operations in index order however many slots it runs.
template <class Mesh>
rt::future<> client_slot(Mesh& mesh, demo& d, unsigned me) {
    auto& c = d.clients[me];
    for (;;) {
        const std::uint64_t i = c.next++;
        if (i >= d.ops[me].size()) co_return;
        const op o = d.ops[me][i];
        const unsigned to = d.owner(o.key);
        ++(to == me ? c.local : c.remote);
        std::string value = o.kind == op_kind::put ? value_for(o.key, me, i) : std::string{};
        if (me == 0 && i == d.fault_at) value += "!";  // --inject-fault
        // The future first, then the co_await: the lambda (it owns a string)
        // is a temporary of this statement alone. Written as one statement,
        // `co_await mesh.submit_to(to, [.., value = std::move(value)] {..})`,
        // GCC 12 frees the lambda's string twice ("free(): invalid pointer",
        // seen here; the same GCC 12 bug: equeim/tremotesf2 pull request 551).
        rt::future<reply> f = mesh.submit_to(to, [&d, o, value = std::move(value)] {
            return execute(d.shards[static_cast<unsigned>(rt::this_core())], o, value);
        });
        const reply got = co_await std::move(f);
        check_reply(d, me, i, got);
    }
}

template <class Mesh>
rt::future<> run_client(Mesh& mesh, demo& d, unsigned me) {
    std::vector<rt::future<>> slots;
    for (std::uint64_t w = 0; w < d.window; ++w) slots.push_back(client_slot(mesh, d, me));
    for (auto& f : slots) co_await std::move(f);
}

// On its owner: how many keys of this core's shard differ from the model.
std::uint64_t compare_shard(const demo& d, const std::unordered_map<std::uint64_t, std::string>& model,
                            unsigned me) {
    const shard& s = d.shards[me];
    std::uint64_t bad = 0;
    for (const auto& [k, v] : s) {
        auto it = model.find(k);
        if (d.owner(k) != me || it == model.end() || it->second != v) ++bad;
    }
    for (const auto& [k, v] : model)
        if (d.owner(k) == me && s.find(k) == s.end()) ++bad;
    return bad;
}

template <queue_kind K>
int run_demo(const options& opt, demo& d, const std::unordered_map<std::uint64_t, std::string>& model) {
    const auto& avail = rt::topology::instance().available();
    rt::smp_config cfg;
    for (unsigned i = 0; i < d.n; ++i) cfg.cores.push_back(avail[i % avail.size()]);
    const bool oversubscribed = d.n > avail.size();
    cfg.pin = !oversubscribed;
    cfg.yield_when_idle = oversubscribed;
    cfg.max_inflight = std::max<std::size_t>(1, static_cast<std::size_t>(d.window));
    cfg.queue_capacity = std::max<std::size_t>(cfg.queue_capacity, cfg.max_inflight);
    rt::smp<K> mesh(cfg);

    const std::uint64_t mismatched = mesh.run([&]() -> rt::future<std::uint64_t> {
        co_await mesh.invoke_on_all([&mesh, &d] { return run_client(mesh, d, static_cast<unsigned>(rt::this_core())); });
        // Each core checks its own shard: the stores are never touched off
        // their reactors, not even for the final check.
        co_return co_await mesh.map_reduce(
            [&d, &model] { return compare_shard(d, model, static_cast<unsigned>(rt::this_core())); },
            std::uint64_t{0}, [](std::uint64_t a, std::uint64_t b) { return a + b; });
    });

    demo::client all;
    std::string first_wrong;
    for (const auto& c : d.clients) {
        all.gets += c.gets;
        all.hits += c.hits;
        all.puts += c.puts;
        all.erases += c.erases;
        all.remote += c.remote;
        all.local += c.local;
        all.wrong += c.wrong;
        if (first_wrong.empty()) first_wrong = c.first_wrong;
    }
    std::string sizes;
    std::uint64_t stored = 0;
    for (const auto& s : d.shards) {
        sizes += (sizes.empty() ? "" : " + ") + std::to_string(s.size());
        stored += s.size();
    }
    const std::uint64_t total = all.gets + all.puts + all.erases;
    std::printf("kv_demo: queue %s, %u cores%s, %llu keys, %llu operations per core (seed %llu)\n",
                opt.queue.c_str(), d.n, oversubscribed ? " (more than the PUs: reactors yield when idle)" : "",
                static_cast<unsigned long long>(opt.keys), static_cast<unsigned long long>(opt.ops),
                static_cast<unsigned long long>(opt.seed));
    std::printf("kv_demo: %llu gets (%llu found), %llu puts, %llu erases; %llu sent to another core, %llu ran on "
                "their own\n",
                static_cast<unsigned long long>(all.gets), static_cast<unsigned long long>(all.hits),
                static_cast<unsigned long long>(all.puts), static_cast<unsigned long long>(all.erases),
                static_cast<unsigned long long>(all.remote), static_cast<unsigned long long>(all.local));
    std::printf("kv_demo: final store %llu keys (%s per core), model %llu keys; %llu wrong replies, %llu keys "
                "differ from the model\n",
                static_cast<unsigned long long>(stored), sizes.c_str(), static_cast<unsigned long long>(model.size()),
                static_cast<unsigned long long>(all.wrong), static_cast<unsigned long long>(mismatched));
    const bool ok = all.wrong == 0 && mismatched == 0 && stored == model.size() &&
                    total == opt.ops * static_cast<std::uint64_t>(d.n);
    if (!first_wrong.empty()) std::printf("kv_demo: first wrong reply: %s\n", first_wrong.c_str());
    std::printf("kv_demo: %s\n", ok ? "every reply and every shard matches the sequential model" : "MISMATCH");
    return ok ? 0 : 1;
}

[[noreturn]] void usage_error(std::string msg) {
    for (char& c : msg)
        if (c == '\n' || c == '\r') c = ' ';  // an argument quoted in it keeps the message one line
    std::fprintf(stderr, "kv_demo: %s (usage: qmesh_kv_demo [--queue NAME] [--cores N] [--keys K] [--ops M] "
                         "[--window W] [--seed S] [--inject-fault])\n",
                 msg.c_str());
    std::exit(2);
}

std::uint64_t number(const char* flag, const char* s, std::uint64_t lo, std::uint64_t hi) {
    if (s == nullptr) usage_error(std::string(flag) + " needs a value");
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        usage_error(std::string(flag) + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    ", not '" + s + "'");
    return v;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--help" || a == "-h") {
            std::printf("usage: qmesh_kv_demo [--queue NAME] [--cores N] [--keys K] [--ops M] [--window W] "
                        "[--seed S] [--inject-fault]\n  defaults: --queue fastforward --cores <every available PU> "
                        "--keys 1000 --ops 20000 --window 8 --seed 42\n  --inject-fault: corrupt one put, to "
                        "see the check fail (exit 1)\n");
            std::exit(0);
        } else if (a == "--inject-fault") {
            o.inject_fault = true;
            continue;  // the one option without a value
        } else if (a == "--queue") {
            if (v == nullptr) usage_error("--queue needs a value");
            o.queue = v;
            if (!all_queues::find(o.queue)) usage_error("unknown queue '" + o.queue + "' (qmesh list shows them)");
        } else if (a == "--cores") {
            o.cores = static_cast<unsigned>(number("--cores", v, 1, 1024));
        } else if (a == "--keys") {
            o.keys = number("--keys", v, 1, std::uint64_t{1} << 32);
        } else if (a == "--ops") {
            o.ops = number("--ops", v, 1, std::uint64_t{1} << 32);
        } else if (a == "--window") {
            o.window = number("--window", v, 1, 4096);
        } else if (a == "--seed") {
            o.seed = number("--seed", v, 0, UINT64_MAX);
        } else {
            usage_error("unknown argument '" + std::string(a) + "'");
        }
        ++i;  // every other option takes a value
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    options opt = parse(argc, argv);
    const auto& avail = rt::topology::instance().available();
    if (opt.cores == 0) opt.cores = static_cast<unsigned>(avail.size());
    if (opt.keys < opt.cores)
        usage_error("--keys (" + std::to_string(opt.keys) + ") must be at least --cores (" +
                    std::to_string(opt.cores) + "): every client writes keys of its own");

    demo d;
    d.n = opt.cores;
    d.window = opt.window;
    d.shards.resize(d.n);
    d.clients.resize(d.n);
    d.ops.resize(d.n);
    d.expected.resize(d.n);

    // The workload and the sequential model, before anything runs. Client c
    // writes only keys k with k % n == c; it reads any key.
    std::unordered_map<std::uint64_t, std::string> model;
    // --inject-fault corrupts a put of client 0 whose value the check must
    // see: one a later get of client 0 reads, or one the model keeps to the
    // end. (Its last put may be erased unread; then nothing would fail.)
    std::unordered_map<std::uint64_t, std::uint64_t> last_put0;  // client 0's key -> its latest put
    std::optional<std::uint64_t> seen_put0;                       // the latest put a get read back
    for (unsigned c = 0; c < d.n; ++c) {
        std::uint64_t s = opt.seed * 0x9e3779b97f4a7c15ULL + c;  // splitmix64 stream per client
        auto next = [&s] {
            std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            return z ^ (z >> 31);
        };
        const std::uint64_t own = (opt.keys - c + d.n - 1) / d.n;
        for (std::uint64_t i = 0; i < opt.ops; ++i) {
            const std::uint64_t roll = next() % 100;
            op o{};
            if (roll < 50) o = {op_kind::get, next() % opt.keys};
            else o = {roll < 85 ? op_kind::put : op_kind::erase, c + d.n * (next() % own)};
            d.ops[c].push_back(o);
            std::optional<reply> want;
            if (o.key % d.n == c) {  // its own key: the model knows the reply
                auto it = model.find(o.key);
                const bool found = it != model.end();
                switch (o.kind) {
                    case op_kind::get:
                        want = reply{found, found ? it->second : std::string{}};
                        if (c == 0 && found) seen_put0 = std::max(seen_put0.value_or(0), last_put0.at(o.key));
                        break;
                    case op_kind::put:
                        want = reply{found, {}};
                        if (c == 0) last_put0[o.key] = i;
                        d.ever_put[o.key].insert(model[o.key] = value_for(o.key, c, i));
                        break;
                    case op_kind::erase:
                        want = reply{found, {}};
                        model.erase(o.key);
                        break;
                }
            }
            d.expected[c].push_back(std::move(want));
        }
    }

    if (opt.inject_fault) {
        std::optional<std::uint64_t> at = seen_put0;
        for (const auto& [key, i] : last_put0)
            if (model.count(key) != 0) at = std::max(at.value_or(0), i);
        if (!at) usage_error("--inject-fault: client 0 has no put that is read back or kept to the end; give more --ops");
        d.fault_at = *at;
    }

    int rc = 2;
    all_queues::with(opt.queue, [&]<class K>() { rc = run_demo<K>(opt, d, model); });
    return rc;
}
