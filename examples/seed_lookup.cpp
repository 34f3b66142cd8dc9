// examples/seed_lookup.cpp: the example of shared/SEED.txt, runnable.
//
//   return conn->read_exactly(4).then([] (temporary_buffer<char> buf) {
//       int id = buf_to_id(buf);
//       return smp::submit_to(other_core, [id] { return lookup(id); });
//   }).then([this] (sstring result) {
//       return conn->write(result);
//   });
//
// Core 0 reads 4-byte ids from an in-process connection that delivers bytes
// late and split at random points, so read_exactly() is sometimes ready at
// once (then() runs inline) and sometimes not (then() stores the
// continuation and runs it when the bytes arrive). Each id is looked up on the
// core that owns it, in that core's own store; the result comes back to core
// 0 and is written out. The example checks every answer and prints how many
// reads took each path, and how many were split (their 4 bytes came in more
// than one delivery, so read_exactly() assembled them).
//
// Usage: qmesh_seed_example [REQUESTS] [SEED]
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "qmesh/queues/registry.hpp"
#include "qmesh/runtime/smp.hpp"
#include "qmesh/runtime/topology.hpp"

using namespace qmesh;

// A byte stream on one core. The "network" appends bytes with deliver();
// read_exactly(n) resolves once n bytes are there.
class connection {
public:
    std::function<void()> on_read;  // the network's hook: a read was issued
    bool waiting() const noexcept { return waiting_.has_value(); }

    rt::future<std::string> read_exactly(std::size_t n) {
        if (on_read) on_read();
        if (buffered_.size() >= n) {
            ++ready_reads;
            return rt::make_ready_future<std::string>(take(n));
        }
        ++deferred_reads;
        waiting_n_ = n;
        waiting_.emplace();
        return waiting_->get_future();
    }
    void deliver(const std::string& bytes) {
        buffered_ += bytes;
        if (!bytes.empty()) ends_.push_back(delivered_ += bytes.size());
        if (waiting_ && buffered_.size() >= waiting_n_) {
            auto p = std::move(*waiting_);
            waiting_.reset();
            p.set_value(take(waiting_n_));
        }
    }
    void write(const std::string& s) { written.push_back(s); }

    std::vector<std::string> written;
    std::uint64_t ready_reads = 0, deferred_reads = 0;
    std::uint64_t split_reads = 0;  // reads whose bytes came in more than one delivery

private:
    std::string take(std::size_t n) {
        // A delivery that ended strictly inside (taken_, taken_ + n): split.
        const std::uint64_t end = taken_ + n;
        bool split = false;
        while (!ends_.empty() && ends_.front() <= end) {
            split |= ends_.front() < end && ends_.front() > taken_;
            ends_.pop_front();
        }
        split_reads += split ? 1 : 0;
        taken_ = end;
        std::string r = buffered_.substr(0, n);
        buffered_.erase(0, n);
        return r;
    }
    std::string buffered_;
    std::deque<std::uint64_t> ends_;  // stream offset where each nonempty delivery ended
    std::uint64_t delivered_ = 0, taken_ = 0;
    std::optional<rt::promise<std::string>> waiting_;
    std::size_t waiting_n_ = 0;
};

static std::string value_of(std::uint32_t id) { return "value-" + std::to_string(id); }

// An argument quoted in a message, which stays one line.
static std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

// A decimal argument from lo to hi, or one line on stderr and exit status 2.
static unsigned long long number(const char* what, const char* s, unsigned long long lo, unsigned long long hi) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        std::fprintf(stderr, "seed_lookup: %s must be a number from %llu to %llu, not '%s' (usage: qmesh_seed_example [REQUESTS] [SEED])\n",
                     what, lo, hi, one_line(s).c_str());
        std::exit(2);
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
        std::printf("usage: qmesh_seed_example [REQUESTS] [SEED]\n  defaults: 10000 requests, seed 42\n");
        return 0;
    }
    if (argc > 3) {
        std::fprintf(stderr, "seed_lookup: too many arguments (usage: qmesh_seed_example [REQUESTS] [SEED])\n");
        return 2;
    }
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            std::fprintf(stderr, "seed_lookup: unknown option '%s' (usage: qmesh_seed_example [REQUESTS] [SEED])\n",
                         one_line(argv[i]).c_str());
            return 2;
        }
    const int requests = argc > 1 ? static_cast<int>(number("REQUESTS", argv[1], 1, 10000000)) : 10000;
    const unsigned seed = argc > 2 ? static_cast<unsigned>(number("SEED", argv[2], 0, UINT32_MAX)) : 42;
    const auto& avail = rt::topology::instance().available();
    rt::smp_config cfg;
    cfg.cores = avail;
    if (cfg.cores.size() < 2) cfg.cores = {avail.at(0), avail.at(0)};
    cfg.pin = avail.size() >= 2;
    cfg.yield_when_idle = avail.size() < 2;
    rt::smp<lamport_kind> mesh(cfg);
    const unsigned n = mesh.size();

    // Each core's store, touched only by that core once the mesh runs.
    std::vector<std::unordered_map<std::uint32_t, std::string>> store(n);
    for (std::uint32_t id = 0; id < 1000; ++id) store[id % n][id] = value_of(id);

    std::mt19937 rng(seed);
    std::vector<std::uint32_t> ids(static_cast<std::size_t>(requests));
    std::string wire;
    for (auto& id : ids) {
        id = static_cast<std::uint32_t>(rng() % 1000);
        for (int b = 0; b < 4; ++b) wire += static_cast<char>((id >> (8 * b)) & 0xff);
    }

    connection conn;
    // The network's state lives here, not in the coroutine's frame: the tick
    // scheduled by the last read can run after the coroutine has returned
    // (when that read was ready and its id is core 0's own, nothing suspends),
    // and it must not find its captures gone.
    std::size_t pos = 0;
    std::function<void()> tick;
    mesh.run([&]() -> rt::future<> {
        // The network: each tick delivers the next 0..7 bytes of the wire
        // (3.5 on average, less than one id), one tick per read issued and
        // more while a read waits: some reads find their 4 bytes already in,
        // others wait for later ticks.
        tick = [&] {
            const std::size_t k = std::min<std::size_t>(rng() % 8, wire.size() - pos);
            conn.deliver(wire.substr(pos, k));
            pos += k;
            if (conn.waiting() && pos < wire.size()) rt::schedule_fn([&] { tick(); });
        };
        conn.on_read = [&] { rt::schedule_fn([&] { tick(); }); };

        for (int i = 0; i < requests; ++i) {
            co_await conn.read_exactly(4)
                .then([&](std::string buf) {
                    std::uint32_t id = 0;
                    for (int b = 0; b < 4; ++b) id |= std::uint32_t(static_cast<unsigned char>(buf[b])) << (8 * b);
                    return mesh.submit_to(id % n, [&store, id] {
                        return store[static_cast<unsigned>(rt::this_core())].at(id);
                    });
                })
                .then([&](std::string result) { conn.write(result); });
        }
    });

    int wrong = 0;
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (i >= conn.written.size() || conn.written[i] != value_of(ids[i])) ++wrong;
    const auto t = mesh.totals();
    std::printf("seed_lookup: %d requests over %u cores: %llu reads ready at once (inline then), %llu deferred; "
                "%llu split across deliveries; %llu submit_to crossed the mesh; %d wrong answers\n",
                requests, n, static_cast<unsigned long long>(conn.ready_reads),
                static_cast<unsigned long long>(conn.deferred_reads), static_cast<unsigned long long>(conn.split_reads),
                static_cast<unsigned long long>(t.completed), wrong);
    if (wrong != 0 || conn.written.size() != ids.size()) return 1;
    if (conn.ready_reads == 0 || conn.deferred_reads == 0) {
        std::fprintf(stderr, "seed_lookup: every read took the %s path; use more REQUESTS (or another SEED) to exercise both\n",
                     conn.ready_reads == 0 ? "deferred" : "ready");
        return 1;
    }
    if (conn.split_reads == 0) {
        std::fprintf(stderr, "seed_lookup: no read was split across deliveries; use more REQUESTS (or another SEED)\n");
        return 1;
    }
    return 0;
}
