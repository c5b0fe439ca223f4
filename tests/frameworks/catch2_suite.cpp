// A Catch2 suite under unclog-catch2-main: which test cases must fail, and
// where, is checked by check_frameworks.py from the console and JUnit
// output. The blocking lines end with markers it looks for.
#include <unistd.h>

#include "cases.hpp"
#include "unclog/catch2.hpp"

TEST_CASE("clean statement", "[clean]") {
  CHECK_NO_BLOCKING(cases::yield_a_few());
}

TEST_CASE("sleep in a statement", "[blocking]") {
  CHECK_NO_BLOCKING(usleep(80000));  // SLEEP
}

TEST_CASE("cpu in a statement", "[blocking]") {
  CHECK_NO_BLOCKING(cases::burn_cpu_ms(80));  // SPIN
}

TEST_CASE("blocking read in a test case body", "[blocking]") {
  REQUIRE_NO_BLOCKING(cases::read_ready_pipe());  // CALL
  FAIL("REQUIRE_NO_BLOCKING went on after it failed");
}

TEST_CASE("a libuv callback blocks", "[blocking]") {
  cases::run_uv_timer([] { usleep(80000); });  // UV
}

TEST_CASE("expected to block", "[clean]") {
  CHECK_BLOCKING(usleep(80000));
}

TEST_CASE("expected to block, did not", "[blocking]") {
  CHECK_BLOCKING(cases::yield_a_few());  // NOBLOCK
}

UNCLOG_TEST_CASE("watched body with sections", "[blocking]") {
  SECTION("clean") { unclog::yield(); }
  SECTION("blocking") { usleep(80000); }  // BODY
}

TEST_CASE("hang", "[hang]") {
  CHECK_NO_BLOCKING(for (;;) usleep(1000000));  // HANG
}
