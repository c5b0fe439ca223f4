// GoogleTest's adapter to the harness (adapter.cpp). Thread-safe.
#pragma once

namespace unclog::gtest_internal {

// Hands the harness GoogleTest's ways to fail a test and to report a hang.
// Idempotent; init() calls it, and so do the macros for programs without it.
void install_adapter();

}  // namespace unclog::gtest_internal
