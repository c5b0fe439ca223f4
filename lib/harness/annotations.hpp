// CI annotations: each report also printed as a GitHub Actions workflow
// command, so the failure shows on the line in the pull request:
//   ::error file=src/x.cpp,line=57,title=blocking::blocking: fiber "f" ...
// Paths are made relative to the repository root (GITHUB_WORKSPACE, else
// the working directory). Thread-safe.
#pragma once
#include <string>

#include "unclog/watch.hpp"

namespace unclog::harness {

// The workflow command for `r` (no trailing newline). `workspace` and `cwd`
// resolve the report's path (as the compiler saw it, often relative to
// the build directory).
std::string github_annotation(const BlockingReport& r, const std::string& workspace, const std::string& cwd);

// Prints it to stdout.
void print_github_annotation(const BlockingReport& r);

}  // namespace unclog::harness
