// The libuv sample under unclog's gtest main, with no unclog code in the
// program: saving synchronously in a timer callback fails at the fsync,
// saving with uv_fs_* is quiet.
#include <gtest/gtest-spi.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "saver.hpp"
#include "unclog/gtest.hpp"

namespace {

std::string temp_path() {
  char name[] = "/tmp/uv_saver_XXXXXX";
  const int fd = mkstemp(name);
  if (fd >= 0) close(fd);
  return name;
}

// The line of the ::fsync call in saver.cpp, beside this file.
int fsync_line() {
  std::string path = __FILE__;
  path = path.substr(0, path.rfind('/') + 1) + "saver.cpp";
  std::ifstream in(path);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("::fsync(fd);") != std::string::npos) return n;
  }
  return -1;
}

}  // namespace

TEST(UvSaver, SyncSaveInACallbackFailsAtTheFsync) {
  const std::string path = temp_path();
  ::testing::TestPartResultArray failures;
  int saved = 0;
  {
    ::testing::ScopedFakeTestPartResultReporter capture(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    saved = saver::run_ticker(path, 10, saver::Save::sync);
  }
  unlink(path.c_str());
  EXPECT_EQ(saved, 9);
  ASSERT_GE(failures.size(), 1);  // one per save made while the loop ran
  // The first as a user's run prints it (README.md quotes it:
  // tests/e2e/check_readme.py).
  std::printf("%s\n", failures.GetTestPartResult(0).message());
  for (int i = 0; i < failures.size(); ++i) {
    const auto& f = failures.GetTestPartResult(i);
    const std::string text = f.message();
    EXPECT_EQ(f.line_number(), fsync_line()) << text;
    EXPECT_NE(text.find("libuv loop"), std::string::npos) << text;
    EXPECT_NE(text.find("fsync"), std::string::npos) << text;
    EXPECT_NE(text.find("hint: uv_queue_work() runs it on libuv's thread pool; uv_fs_*()"), std::string::npos) << text;
  }
}

TEST(UvSaver, AsyncSaveIsQuiet) {
  const std::string path = temp_path();
  EXPECT_EQ(saver::run_ticker(path, 10, saver::Save::async), 9);
  unlink(path.c_str());
}
