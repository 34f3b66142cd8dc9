// bench/tests/warnings_test.cpp: the context's warning about CPU share. Only
// entries whose threads never sleep by design count: a spinning queue's
// entry with less than low_cpu_share of a CPU is flagged; a blocking queue's,
// a locked kv design's, an oversubscribed one's, and one whose reactors park
// (--idle sleep) are not, whatever their share.
#include <gtest/gtest.h>

#include <string>

#include "pinned.hpp"
#include "run.hpp"

namespace qmesh::bench {
namespace {

json entry(const std::string& name, const std::string& queue, double share) {
    json e;
    e["run_name"] = name;
    e["queue"] = queue;
    e["valid"] = true;
    e["cpu_share"] = share;
    return e;
}

TEST(warnings, a_spinning_entry_short_of_a_cpu_is_flagged_and_named) {
    json b = json::array();
    b.push_back(entry("mesh/fastforward/n2", "fastforward", 1.0));
    EXPECT_EQ(cpu_share_warning(b), "");
    b.push_back(entry("mesh/fastforward/n4", "fastforward", 0.5));
    const std::string w = cpu_share_warning(b);
    EXPECT_NE(w.find("1 of 2 entries"), std::string::npos) << w;
    EXPECT_NE(w.find("least 0.50, mesh/fastforward/n4"), std::string::npos) << w;
}

TEST(warnings, threads_that_sleep_by_design_are_not_flagged) {
    json b = json::array();
    b.push_back(entry("mesh/fastforward/n2", "fastforward", 0.95));
    json parked = entry("mesh/fastforward/n16", "fastforward", 0.11);  // --idle sleep: parks
    parked["idle_policy"] = "sleep";
    b.push_back(parked);
    json spinning = entry("mesh/fastforward/n8", "fastforward", 0.99);
    spinning["idle_policy"] = "busy-poll";
    b.push_back(spinning);
    b.push_back(entry("mesh/mutex/n16", "mutex", 0.3));  // a blocking queue
    json locked = entry("kv/locked/n2", "", 0.2);        // a locked kv design
    locked["design"] = "locked";
    locked["queue"] = nullptr;
    b.push_back(locked);
    json over = entry("mesh/fastforward/n4", "fastforward", 0.4);
    over["oversubscribed"] = true;
    b.push_back(over);
    EXPECT_EQ(cpu_share_warning(b), "");
    // The same sleeping entry, busy-polling: flagged.
    b[1]["idle_policy"] = "busy-poll";
    const std::string w = cpu_share_warning(b);
    EXPECT_NE(w.find("1 of 3 entries"), std::string::npos) << w;
    EXPECT_NE(w.find("least 0.11"), std::string::npos) << w;
}

}  // namespace
}  // namespace qmesh::bench
