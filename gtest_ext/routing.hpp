// Where a report raised under GoogleTest goes: into the innermost
// EXPECT_*BLOCKING scope on this thread, else a failure of the running test
// (now on its own thread, at OnTestEnd from others), else stderr.
// Thread-safe.
#pragma once
#include <string>
#include <vector>

#include "flags.hpp"
#include "unclog/watch.hpp"

namespace unclog::gtest_internal {

// Configures the detector from `flags` and installs the routing sink and
// hang handler. Exits 2 with a message when the report file cannot be opened.
void configure(const Flags& flags);
// Without our main or init(): environment defaults, once.
void ensure_configured();
const Flags& active_flags();

void add_failure(const BlockingReport& r);

// Called by the listener.
void test_started(const std::string& full_name);
void test_ended();

struct Summary {
  std::uint64_t reports = 0;
  std::uint64_t tests = 0;
  std::uint64_t library_stalls = 0;  // loop libraries' own stalls: not failures
  bool have_worst = false;
  BlockingReport worst;
};
Summary summary();

// Tests finished so far, for the XML written when a hang ends the run.
struct FinishedTest {
  std::string suite, name;
  double seconds = 0;
  bool skipped = false;
  std::vector<std::string> failures;
};
void record_finished(FinishedTest t);
std::vector<FinishedTest> finished_tests();
std::string running_test();

}  // namespace unclog::gtest_internal
