// When a hang ends the run, gtest never writes its XML. This writes one in
// the same JUnit shape (the tests finished so far, plus the hung test as
// failed with the report) to the file --gtest_output=xml:PATH names, so CI
// shows which test hung and where. Runs on the watchdog thread.
#pragma once
#include "unclog/watch.hpp"

namespace unclog::gtest_internal {

void write_hang_xml(const BlockingReport& report);

}  // namespace unclog::gtest_internal
