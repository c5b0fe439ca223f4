// The listener and init(): test boundaries for the routing, the end-of-run
// summary, and the flags.
#include <cstdio>
#include <cstring>
#include <string>

#include "adapter.hpp"
#include "unclog/detail/harness.hpp"
#include "unclog/gtest.hpp"

namespace unclog::gtest_internal {
namespace {

class Listener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& info) override {
    harness::test_started(std::string(info.test_suite_name()) + "." + info.name());
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    harness::test_ended();
    harness::FinishedTest t;
    t.suite = info.test_suite_name();
    t.name = info.name();
    const ::testing::TestResult* r = info.result();
    t.seconds = static_cast<double>(r->elapsed_time()) / 1000.0;
    t.skipped = r->Skipped();
    for (int i = 0; i < r->total_part_count(); ++i) {
      const auto& part = r->GetTestPartResult(i);
      if (!part.failed()) continue;
      std::string where = part.file_name() ? std::string(part.file_name()) + ":" + std::to_string(part.line_number()) + "\n" : "";
      t.failures.push_back(where + part.message());
    }
    harness::record_finished(std::move(t));
  }

  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    std::printf("%s", harness::summary_text().c_str());
    std::fflush(stdout);
  }
};

bool wants_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h") || !std::strcmp(a, "-?") || !std::strcmp(a, "/?")) {
      return true;
    }
  }
  return false;
}

}  // namespace
}  // namespace unclog::gtest_internal

namespace unclog::gtest {

const char* flags_help() noexcept { return harness::flags_help(); }

void init(int* argc, char** argv) {
  using namespace gtest_internal;
  if (wants_help(*argc, argv)) {
    std::printf("%s", flags_help());
    return;
  }
  harness::init_from_args(argc, argv);
  install_adapter();
  ::testing::UnitTest::GetInstance()->listeners().Append(new Listener);
}

int main_body(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  init(&argc, argv);
  return RUN_ALL_TESTS();
}

}  // namespace unclog::gtest
