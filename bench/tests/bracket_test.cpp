// bench/tests/bracket_test.cpp: a round trip's reference measured on both
// sides of it (bracket.hpp). The agreement test at and past its tolerance,
// the reason written when there is no ratio, and the retry loop: measured
// again while the references disagree, at most `attempts` times, never
// again once the run is interrupted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bracket.hpp"

namespace qmesh::bench {
namespace {

latency_result measured(double p50) {
    latency_result r;
    r.ok = true;
    r.p50 = p50;
    return r;
}
latency_result failed(const char* why) {
    latency_result r;
    r.error = why;
    return r;
}

TEST(bracket, references_agree_up_to_the_tolerance_of_the_smaller_either_way) {
    const reference_pair same{measured(100), measured(100)};
    EXPECT_TRUE(same.agree(0.25));
    EXPECT_DOUBLE_EQ(same.p50(), 100);
    EXPECT_TRUE((reference_pair{measured(100), measured(125)}.agree(0.25)));   // at the tolerance
    EXPECT_TRUE((reference_pair{measured(125), measured(100)}.agree(0.25)));   // either order
    EXPECT_FALSE((reference_pair{measured(100), measured(126)}.agree(0.25)));  // past it
    EXPECT_FALSE((reference_pair{measured(126), measured(100)}.agree(0.25)));
    // The host moving the vCPUs: 130 ns, then 550 ns.
    const reference_pair moved{measured(130), measured(550)};
    EXPECT_FALSE(moved.agree(0.25));
    EXPECT_DOUBLE_EQ(moved.p50(), 340);
}

TEST(bracket, a_failed_reference_never_agrees_and_says_which_failed) {
    const reference_pair before_failed{failed("timed out"), measured(100)};
    EXPECT_FALSE(before_failed.ok());
    EXPECT_FALSE(before_failed.agree(10.0));
    EXPECT_EQ(before_failed.problem("the floor", 0.25, 1), "the floor before the entry failed: timed out");
    const reference_pair after_failed{measured(100), failed("interrupted")};
    EXPECT_FALSE(after_failed.agree(10.0));
    EXPECT_EQ(after_failed.problem("the floor", 0.25, 1), "the floor after the entry failed: interrupted");
    // A zero figure is no reference either (it would divide by zero).
    EXPECT_FALSE((reference_pair{measured(0), measured(0)}.agree(0.25)));
}

TEST(bracket, the_problem_of_references_that_moved_names_both_figures_and_the_tries) {
    const reference_pair moved{measured(131), measured(551)};
    EXPECT_EQ(moved.problem("the floor", 0.25, 3),
              "the floor moved from 131 to 551 ns across the entry in its last try, of 3 (more than 25 %: the "
              "host moved the threads), so it has no ratio");
    EXPECT_EQ((reference_pair{measured(100), measured(110)}.problem("the floor", 0.25, 1)), "");
}

// A scripted attempt: the i-th call returns script[i] (whether its
// references agree).
struct scripted {
    std::vector<bool> script;
    unsigned calls = 0;
    bool operator()() { return script.at(calls++); }
};

TEST(bracket, an_entry_is_measured_again_until_its_references_agree) {
    scripted s{{false, false, true}};
    auto [agreed, tries] = until_settled(3, [&] { return s(); }, [](bool a) { return a; }, [] { return false; });
    EXPECT_TRUE(agreed);
    EXPECT_EQ(tries, 3u);
    EXPECT_EQ(s.calls, 3u);

    scripted once{{true}};
    auto [a1, t1] = until_settled(3, [&] { return once(); }, [](bool a) { return a; }, [] { return false; });
    EXPECT_TRUE(a1);
    EXPECT_EQ(t1, 1u);
    EXPECT_EQ(once.calls, 1u);
}

TEST(bracket, an_entry_whose_references_never_agree_stops_after_the_last_attempt) {
    scripted s{{false, false, false, true}};
    auto [agreed, tries] = until_settled(3, [&] { return s(); }, [](bool a) { return a; }, [] { return false; });
    EXPECT_FALSE(agreed);  // the last outcome, unsettled
    EXPECT_EQ(tries, 3u);
    EXPECT_EQ(s.calls, 3u);  // never a fourth
}

TEST(bracket, an_interrupted_run_measures_nothing_again) {
    scripted s{{false, true}};
    auto [agreed, tries] = until_settled(3, [&] { return s(); }, [](bool a) { return a; }, [] { return true; });
    EXPECT_FALSE(agreed);
    EXPECT_EQ(tries, 1u);
    EXPECT_EQ(s.calls, 1u);
}

}  // namespace
}  // namespace qmesh::bench
