// The chat's tests, under our gtest main with unclog-asio: a clean run
// passes; each planted blocking call fails at its line.
#include <gtest/gtest-spi.h>

#include <fstream>
#include <string>
#include <vector>

#include "chat.hpp"
#include "unclog/gtest.hpp"

namespace {

// The line of `chat.cpp` that contains `text` (the tests check the
// reports' file:line against it).
std::string where(const std::string& text) {
  std::ifstream in(CHAT_SOURCE);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(text) != std::string::npos) return "chat.cpp:" + std::to_string(n);
  }
  return "chat.cpp:?";
}

// The failures `f` adds on this thread, as gtest would report them.
template <class F>
std::vector<std::string> failures_of(F&& f) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    f();
  }
  std::vector<std::string> out;
  for (int i = 0; i < results.size(); ++i) {
    const auto& r = results.GetTestPartResult(i);
    out.push_back(std::string(r.file_name() ? r.file_name() : "") + ":" + std::to_string(r.line_number()) + " " +
                  r.message());
  }
  return out;
}

}  // namespace

TEST(Chat, ThreeClientsHearEachOther) {
  const auto heard = chat::run_chat(3, {});
  ASSERT_EQ(heard.size(), 3u);
  for (const auto& lines : heard) {
    ASSERT_EQ(lines.size(), 2u);
    for (const auto& l : lines) EXPECT_NE(l.find(": hello"), std::string::npos) << l;
  }
}

// One failure per relayed line (two clients, one line each), each at the
// audit log's line, in a handler of the server's socket reads.
TEST(Chat, BlockingAuditLogInAHandlerFailsAtItsLine) {
  const auto failures = failures_of([] { chat::run_chat(2, {.blocking_audit = true}); });
  ASSERT_EQ(failures.size(), 2u);
  for (const auto& f : failures) {
    EXPECT_NE(f.find(where("usleep(2000")), std::string::npos) << f;
    EXPECT_NE(f.find("asio handler \"socket."), std::string::npos) << f;
  }
}

// One failure per client, at the lookup's line, in the coroutine.
TEST(Chat, BlockingUserLookupInTheCoroutineFailsAtItsLine) {
  const auto failures = failures_of([] { chat::run_chat(2, {.blocking_user_lookup = true}); });
  ASSERT_EQ(failures.size(), 2u);
  for (const auto& f : failures) {
    EXPECT_NE(f.find(where("getpwuid(getuid())")), std::string::npos) << f;
    EXPECT_NE(f.find("getpwuid"), std::string::npos) << f;
  }
}
