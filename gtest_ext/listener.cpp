// The listener and init(): test boundaries for the routing, the end-of-run
// summary, and the flags.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "flags.hpp"
#include "routing.hpp"
#include "unclog/detail/gtest_support.hpp"
#include "unclog/gtest.hpp"

namespace unclog::gtest_internal {
namespace {

class Listener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& info) override {
    test_started(std::string(info.test_suite_name()) + "." + info.name());
    test_began_ns_ = gtest_support::trace_now_ns();
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    test_ended();
    if (gtest_support::tracing()) {
      gtest_support::trace_test(std::string(info.test_suite_name()) + "." + info.name(), test_began_ns_,
                                gtest_support::trace_now_ns());
      gtest_support::trace_flush_thread();
    }
    FinishedTest t;
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
    record_finished(std::move(t));
  }

  std::int64_t test_began_ns_ = 0;

  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    using gtest_support::format_ms;
    const Summary s = summary();
    if (!hub_blocking_detection_enabled()) {
      std::printf("unclog: detection off\n");
    } else if (s.reports == 0) {
      std::printf("unclog: no blocking reports (resolution %s)\n", format_ms(resolution()).c_str());
    } else {
      const BlockingReport& w = s.worst;
      std::string where = w.file.empty() ? "" : " at " + w.file + ":" + std::to_string(w.line);
      // An untimed call report has no duration worth printing: name the call.
      const std::string worst = w.timed ? format_ms(w.duration) + " " + to_string(w.kind) : "call " + w.call;
      std::printf("unclog: %llu blocking report%s in %llu test%s; worst %s in %s%s\n",
                  static_cast<unsigned long long>(s.reports), s.reports == 1 ? "" : "s",
                  static_cast<unsigned long long>(s.tests), s.tests == 1 ? "" : "s", worst.c_str(),
                  w.test.empty() ? "(no test)" : w.test.c_str(), where.c_str());
    }
    if (s.library_stalls) {
      std::printf("unclog: %llu stall%s of loop libraries' own work (no code of the tests inside the loop; "
                  "printed on stderr, not failures)\n",
                  static_cast<unsigned long long>(s.library_stalls), s.library_stalls == 1 ? "" : "s");
    }
    // Where unclog could not watch everything it was asked to (said once on
    // stderr when it happened): repeated beside the verdict it qualifies.
    for (const std::string& limit : watch_limitations()) std::printf("unclog: watched less: %s\n", limit.c_str());
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

const char* flags_help() noexcept {
  return "\nunclog (blocking detection):\n"
         "  --unclog_resolution=DUR [UNCLOG_RESOLUTION]\n"
         "      A step that holds the loop longer than this is blocking (default 50ms).\n"
         "      DUR is a number with a unit: 250us, 50ms, 2s; a bare number is ms.\n"
         "  --unclog_mode=time|calls|call|all|off [UNCLOG_MODE]\n"
         "      What to detect: steps over the resolution (time), blocking calls however\n"
         "      short (calls, or call as reports print it), both (all, the default);\n"
         "      off runs tests unwatched.\n"
         "  --unclog_hang_timeout=DUR [UNCLOG_HANG_TIMEOUT]\n"
         "      A step running this long ends the run with a report and the XML (default 20s, 0 = never).\n"
         "  --unclog_report=PATH [UNCLOG_REPORT]\n"
         "      Also append every report to PATH as JSON lines.\n"
         "  --unclog_folded=PATH [UNCLOG_FOLDED]\n"
         "      Write every report's stack to PATH as folded stacks (flamegraph.pl, inferno,\n"
         "      speedscope), weighted by microseconds of blocked time, summed over the run.\n"
         "  --unclog_trace=PATH [UNCLOG_TRACE]\n"
         "      Write a timeline to PATH (Chrome trace-event JSON: Perfetto's UI, chrome://tracing):\n"
         "      a track per fiber with its steps, the hubs' waits, each test's span, each report.\n"
         "  --unclog_trace_steps=N [UNCLOG_TRACE_STEPS]\n"
         "      Steps kept per thread between two writes of the trace (default 8192).\n"
         "  --unclog_report_preempted[=true|false] [UNCLOG_REPORT_PREEMPTED]\n"
         "      Also report steps that were slow only because the machine was busy.\n"
         "  --unclog_allow=NAME,... [UNCLOG_ALLOW]\n"
         "      Call mode: allow blocking calls made under functions whose names contain these.\n"
         "  --unclog_file_io=allow|report [UNCLOG_FILE_IO]\n"
         "      Call mode: report regular-file I/O too (default allow).\n"
         "  --unclog_std_streams=allow|report [UNCLOG_STD_STREAMS]\n"
         "      Call mode: report writes to stdout and stderr too (default allow).\n"
         "  --unclog_annotations=github|off [UNCLOG_ANNOTATIONS]\n"
         "      Also print each report as a GitHub Actions ::error command, shown on the line\n"
         "      in the pull request (default: github when GITHUB_ACTIONS=true).\n"
         "  --unclog_syscalls=on|off [UNCLOG_SYSCALLS]\n"
         "      Call mode: also trap the system calls of watched steps (Syscall User Dispatch),\n"
         "      catching blocking inside libc and raw system calls (default on where the kernel allows).\n"
         "  --unclog_loops=on|off [UNCLOG_LOOPS]\n"
         "      Watch event loops with no code change (default on): each batch of callbacks\n"
         "      between two waits of libuv, libevent, GLib, Qt, libev, sd-event or Asio is a step.\n"
         "  --unclog_loop_functions=NAME,... [UNCLOG_LOOP_FUNCTIONS]\n"
         "      Your own loops: a wait (poll, epoll_wait, select) called from a function whose\n"
         "      name contains one of these is a loop's wait (or mark it with unclog::LoopWait).\n"
         "  The command line wins over the environment.\n";
}

void init(int* argc, char** argv) {
  using namespace gtest_internal;
  if (wants_help(*argc, argv)) {
    std::printf("%s", flags_help());
    return;
  }
  std::vector<std::string> args(argv + 1, argv + *argc);
  Flags flags;
  std::string err = parse_flags(args, [](const char* n) -> const char* { return std::getenv(n); }, flags);
  if (err.empty()) err = gtest_support::backend_env_error();
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(2);
  }
  // Keep argv's own strings: remove the --unclog_* entries in place.
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], "--unclog_", 9) != 0) argv[out++] = argv[i];
  }
  argv[out] = nullptr;
  *argc = out;
  configure(flags);
  ::testing::UnitTest::GetInstance()->listeners().Append(new Listener);
}

int main_body(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  init(&argc, argv);
  return RUN_ALL_TESTS();
}

}  // namespace unclog::gtest
