// The --unclog_* flags and UNCLOG_* environment: values, units, precedence
// and every kind of bad input.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "harness/annotations.hpp"
#include "unclog/detail/harness.hpp"

using namespace std::chrono_literals;
using unclog::harness::Flags;
using unclog::harness::Mode;
using unclog::harness::parse_duration;
using unclog::harness::parse_flags;

namespace {

std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

std::string parse(std::vector<std::string> args, Flags& out, std::map<std::string, std::string> env = {}) {
  g_env = std::move(env);
  return parse_flags(args, fake_getenv, out);
}

}  // namespace

TEST(Duration, Units) {
  EXPECT_EQ(parse_duration("250us"), std::chrono::nanoseconds(250us));
  EXPECT_EQ(parse_duration("50ms"), std::chrono::nanoseconds(50ms));
  EXPECT_EQ(parse_duration("2s"), std::chrono::nanoseconds(2s));
  EXPECT_EQ(parse_duration("100"), std::chrono::nanoseconds(100ms));  // bare number: ms
  EXPECT_EQ(parse_duration("1.5s"), std::chrono::nanoseconds(1500ms));
  EXPECT_EQ(parse_duration("500ns"), std::chrono::nanoseconds(500));
}

TEST(Duration, Rejects) {
  for (const char* bad : {"", "abc", "ms", "-5ms", "0", "0ms", "5 ms", "5mss", "5h", "1e400", "99999999999999s",
                          "nan", "inf", "+5ms", "0.0000001ns"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Flags, Defaults) {
  Flags f;
  EXPECT_EQ(parse({}, f), "");
  EXPECT_EQ(f.resolution, 50ms);
  EXPECT_EQ(f.mode, Mode::all);
  EXPECT_EQ(f.hang_timeout, 20s);
  EXPECT_EQ(f.report, "");
}

TEST(Flags, CommandLineIsReadAndRemoved) {
  Flags f;
  std::vector<std::string> args{"--unclog_resolution=10ms", "keep", "--unclog_mode=off", "--unclog_hang_timeout=0",
                                "--unclog_report=/tmp/r.jsonl", "--unclog_report_preempted"};
  g_env.clear();
  EXPECT_EQ(parse_flags(args, fake_getenv, f), "");
  EXPECT_EQ(args, std::vector<std::string>{"keep"});
  EXPECT_EQ(f.resolution, 10ms);
  EXPECT_EQ(f.mode, Mode::off);
  EXPECT_EQ(f.hang_timeout, 0ns);
  EXPECT_EQ(f.report, "/tmp/r.jsonl");
  EXPECT_TRUE(f.report_preempted);
}

TEST(Flags, EnvironmentGivesDefaultsAndTheCommandLineWins) {
  Flags f;
  EXPECT_EQ(parse({}, f, {{"UNCLOG_RESOLUTION", "2s"}, {"UNCLOG_MODE", "all"}}), "");
  EXPECT_EQ(f.resolution, 2s);
  EXPECT_EQ(f.mode, Mode::all);
  Flags g;
  EXPECT_EQ(parse({"--unclog_resolution=7ms"}, g, {{"UNCLOG_RESOLUTION", "2s"}}), "");
  EXPECT_EQ(g.resolution, 7ms);
}

TEST(Flags, BadValuesNameTheFlag) {
  Flags f;
  EXPECT_NE(parse({"--unclog_resolution=abc"}, f).find("--unclog_resolution"), std::string::npos);
  EXPECT_NE(parse({"--unclog_resolution=-1s"}, f).find("'-1s'"), std::string::npos);
  EXPECT_NE(parse({"--unclog_mode=sometimes"}, f).find("--unclog_mode"), std::string::npos);
  EXPECT_NE(parse({"--unclog_hang_timeout=soon"}, f).find("--unclog_hang_timeout"), std::string::npos);
  EXPECT_NE(parse({"--unclog_resolution"}, f).find("needs a value"), std::string::npos);
  EXPECT_NE(parse({"--unclog_report="}, f).find("--unclog_report"), std::string::npos);
  EXPECT_NE(parse({}, f, {{"UNCLOG_MODE", "x"}}).find("UNCLOG_MODE"), std::string::npos);
  EXPECT_NE(parse({}, f, {{"UNCLOG_RESOLUTION", "0"}}).find("UNCLOG_RESOLUTION"), std::string::npos);
}

TEST(Flags, SyscallsSwitch) {
  Flags f;
  EXPECT_TRUE(f.syscalls);
  EXPECT_EQ(parse({"--unclog_syscalls=off"}, f), "");
  EXPECT_FALSE(f.syscalls);
  Flags g;
  EXPECT_EQ(parse({}, g, {{"UNCLOG_SYSCALLS", "off"}}), "");
  EXPECT_FALSE(g.syscalls);
  Flags h;
  EXPECT_EQ(parse({"--unclog_syscalls=on"}, h, {{"UNCLOG_SYSCALLS", "off"}}), "");
  EXPECT_TRUE(h.syscalls);
  EXPECT_NE(parse({"--unclog_syscalls=maybe"}, f).find("--unclog_syscalls"), std::string::npos);
  EXPECT_NE(parse({}, f, {{"UNCLOG_SYSCALLS", "1"}}).find("UNCLOG_SYSCALLS"), std::string::npos);
}

TEST(Flags, LoopsSwitchAndLoopFunctions) {
  Flags f;
  EXPECT_TRUE(f.loops);
  EXPECT_TRUE(f.loop_functions.empty());
  EXPECT_EQ(parse({"--unclog_loops=off", "--unclog_loop_functions=my_loop::run,poll_once"}, f), "");
  EXPECT_FALSE(f.loops);
  EXPECT_EQ(f.loop_functions, (std::vector<std::string>{"my_loop::run", "poll_once"}));
  Flags g;
  EXPECT_EQ(parse({"--unclog_loops=on"}, g, {{"UNCLOG_LOOPS", "off"}, {"UNCLOG_LOOP_FUNCTIONS", "a"}}), "");
  EXPECT_TRUE(g.loops);
  EXPECT_EQ(g.loop_functions, std::vector<std::string>{"a"});
  EXPECT_NE(parse({"--unclog_loops=yes"}, f).find("--unclog_loops"), std::string::npos);
  EXPECT_NE(parse({"--unclog_loop_functions=a,,b"}, f).find("--unclog_loop_functions"), std::string::npos);
  EXPECT_NE(parse({}, f, {{"UNCLOG_LOOPS", "1"}}).find("UNCLOG_LOOPS"), std::string::npos);
}

TEST(Flags, AnnotationsFollowGithubActionsUnlessAsked) {
  Flags f;
  EXPECT_EQ(parse({}, f), "");
  EXPECT_FALSE(f.github_annotations);
  Flags g;
  EXPECT_EQ(parse({}, g, {{"GITHUB_ACTIONS", "true"}}), "");
  EXPECT_TRUE(g.github_annotations);
  Flags h;
  EXPECT_EQ(parse({"--unclog_annotations=off"}, h, {{"GITHUB_ACTIONS", "true"}}), "");
  EXPECT_FALSE(h.github_annotations);
  Flags i;
  EXPECT_EQ(parse({"--unclog_annotations=github"}, i), "");
  EXPECT_TRUE(i.github_annotations);
  EXPECT_NE(parse({"--unclog_annotations=gitlab"}, f).find("--unclog_annotations"), std::string::npos);
}

TEST(Annotations, GithubCommandPointsAtTheRepositoryPath) {
  unclog::BlockingReport r;
  r.kind = unclog::StallKind::call;
  r.call = "read(fd 5: pipe, blocking, 1 bytes)";
  r.fiber = "main";
  r.file = "../src/net/client.cpp";  // as the compiler saw it, from the build directory
  r.line = 57;
  r.test = "Client.Fetch";
  const std::string line = unclog::harness::github_annotation(r, "/home/runner/work/app", "/home/runner/work/app/build");
  EXPECT_EQ(line.rfind("::error file=src/net/client.cpp,line=57,title=blocking in Client.Fetch::blocking: fiber", 0), 0u)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line: newlines are %0A";
  EXPECT_NE(line.find("%0A"), std::string::npos);
  // A property's commas and colons are escaped; the message keeps its own.
  r.test = "Suite.Name,with:chars";
  const std::string esc = unclog::harness::github_annotation(r, "/w", "/w/b");
  EXPECT_NE(esc.find("title=blocking in Suite.Name%2Cwith%3Achars::"), std::string::npos) << esc;
  EXPECT_NE(esc.find("read(fd 5: pipe, blocking"), std::string::npos) << esc;
}

TEST(Flags, UnknownUnclogFlagIsAnError) {
  Flags f;
  std::string err = parse({"--unclog_resolutoin=5ms"}, f);
  EXPECT_NE(err.find("unknown flag '--unclog_resolutoin'"), std::string::npos) << err;
}

TEST(Flags, OtherArgumentsAreLeftAlone) {
  Flags f;
  std::vector<std::string> args{"--gtest_filter=x", "--other", "file.txt"};
  g_env.clear();
  EXPECT_EQ(parse_flags(args, fake_getenv, f), "");
  EXPECT_EQ(args.size(), 3u);
}
