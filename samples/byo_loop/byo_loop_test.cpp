// The detector on a loop that is not ours: a blocking callback is reported
// at its line, quick callbacks are not.
#include <gtest/gtest-spi.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "epoll_loop.hpp"
#include "unclog/gtest.hpp"

namespace {

void on_message_blocking(int fd) {
  char c;
  (void)!::read(fd, &c, 1);
  usleep(120000);  // BLOCKS
}

int blocking_line() { return __LINE__ - 3; }

// Non-blocking, as the fds of an epoll loop are: a read on a blocking pipe
// is itself a blocking call (call mode reports it even when data is ready).
struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0); }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

}  // namespace

TEST(ByoLoop, QuickCallbacksAreQuiet) {
  Pipe p;
  byo::EpollLoop loop;
  int seen = 0;
  loop.add(p.fds[0], [&](int fd) {
    char c;
    (void)!::read(fd, &c, 1);
    if (++seen == 3) loop.remove(fd);
  });
  ASSERT_EQ(::write(p.fds[1], "abc", 3), 3);
  loop.run();
  EXPECT_EQ(seen, 3);
}

TEST(ByoLoop, BlockingCallbackFailsAtItsLine) {
  Pipe p;
  byo::EpollLoop loop;
  int seen = 0;
  loop.add(p.fds[0], [&](int fd) {
    if (++seen == 1) {
      on_message_blocking(fd);  // the step ends at the loop's next wait, where it is reported
      return;
    }
    char c;
    (void)!::read(fd, &c, 1);
    loop.remove(fd);
  });
  ASSERT_EQ(::write(p.fds[1], "xy", 2), 2);
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter capture(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    loop.run();
  }
  ASSERT_EQ(failures.size(), 1);
  const auto& f = failures.GetTestPartResult(0);
  EXPECT_EQ(f.line_number(), blocking_line()) << f.message();
  EXPECT_NE(std::string(f.message()).find("epoll loop"), std::string::npos) << f.message();
  EXPECT_NE(std::string(f.message()).find("usleep"), std::string::npos) << f.message();
}
