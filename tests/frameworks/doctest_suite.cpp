// A doctest suite under unclog-doctest-main: which test cases must fail, and
// where, is checked by check_frameworks.py from the console and JUnit
// output. The blocking lines end with markers it looks for.
#include <unistd.h>

#include "cases.hpp"
#include "unclog/doctest.hpp"

TEST_CASE("clean statement") {
  CHECK_NO_BLOCKING(cases::yield_a_few());
}

TEST_CASE("sleep in a statement") {
  CHECK_NO_BLOCKING(usleep(80000));  // SLEEP
}

TEST_CASE("cpu in a statement") {
  CHECK_NO_BLOCKING(cases::burn_cpu_ms(80));  // SPIN
}

TEST_CASE("blocking read in a test case body") {
  REQUIRE_NO_BLOCKING(cases::read_ready_pipe());  // CALL
  FAIL("REQUIRE_NO_BLOCKING went on after it failed");
}

TEST_CASE("a libuv callback blocks") {
  cases::run_uv_timer([] { usleep(80000); });  // UV
}

TEST_CASE("expected to block") {
  CHECK_BLOCKING(usleep(80000));
}

TEST_CASE("expected to block, did not") {
  CHECK_BLOCKING(cases::yield_a_few());  // NOBLOCK
}

UNCLOG_TEST_CASE("watched body with sections") {
  SUBCASE("clean") { unclog::yield(); }
  SUBCASE("blocking") { usleep(80000); }  // BODY
}

TEST_CASE("hang") {
  CHECK_NO_BLOCKING(for (;;) usleep(1000000));  // HANG
}
