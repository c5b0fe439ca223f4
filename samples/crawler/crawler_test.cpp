// The crawler under unclog: the clean crawl passes; the blocking one fails
// with reports that point at throttle()'s sleep.
#include <gtest/gtest-spi.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "crawler.hpp"
#include "unclog/gtest.hpp"

namespace {

int line_of(const std::string& needle) {
  std::ifstream in(CRAWLER_SOURCE);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(needle) != std::string::npos) return n;
  }
  return -1;
}

}  // namespace

// Resolving "localhost" (io::resolve) and writing the results file (green
// file I/O) block nothing; the file has a line per page.
UNCLOG_TEST(Crawler, CleanCrawlDoesNotBlock) {
  crawler::Options o;
  o.results_path = ::testing::TempDir() + "unclog_crawler_results.txt";
  auto r = crawler::crawl(o);
  EXPECT_EQ(r.pages, o.servers * o.pages_per_server);
  std::ifstream in(o.results_path);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) EXPECT_NE(line.find("localhost:"), std::string::npos) << line;
  EXPECT_EQ(lines, r.pages);
  std::remove(o.results_path.c_str());
}

TEST(Crawler, BlockingCrawlFailsAtTheHelpersLine) {
  const int line = line_of("BUG: stalls every fiber");
  ASSERT_GT(line, 0);
  ::testing::TestPartResultArray failures;
  crawler::Result r;
  {
    ::testing::ScopedFakeTestPartResultReporter capture(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    crawler::Options o;
    o.polite_blocking = true;
    o.pages_per_server = 2;
    EXPECT_NO_BLOCKING(r = crawler::crawl(o));
  }
  EXPECT_EQ(r.pages, 6);
  ASSERT_GE(failures.size(), 1);
  for (int i = 0; i < failures.size(); ++i) {
    const auto& f = failures.GetTestPartResult(i);
    EXPECT_EQ(f.line_number(), line) << f.message();
    EXPECT_NE(std::string(f.file_name()).find("crawler.cpp"), std::string::npos);
    EXPECT_NE(std::string(f.message()).find("throttle"), std::string::npos) << f.message();
    // Call mode (the default) names the call; time mode, the off-CPU wait.
    const std::string msg = f.message();
    EXPECT_TRUE(msg.find("(call): nanosleep") != std::string::npos || msg.find("blocked") != std::string::npos) << msg;
    EXPECT_NE(std::string(f.message()).find("crawler-"), std::string::npos) << f.message();
    EXPECT_NE(msg.find("hint: unclog::sleep_for()"), std::string::npos) << msg;
  }
}
