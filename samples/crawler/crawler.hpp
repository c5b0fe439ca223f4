// The crawler sample: N fibers crawl pages from M small HTTP servers that run
// as fibers on the same hub, over loopback ("localhost", resolved with
// unclog::io::resolve), with green I/O; results go to a file through green
// file I/O. The scenario
// unclog exists for: one helper that blocks stalls every other fiber.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crawler {

struct Options {
  int servers = 3;
  int crawlers = 4;
  int pages_per_server = 5;
  bool polite_blocking = false;  // the bug: throttle with the thread's sleep
  std::string results_path;      // a line per page crawled, written with green file I/O ("" for none)
};

struct Result {
  int pages = 0;
  std::uint64_t bytes = 0;
};

// Starts the servers, crawls every page, stops the servers. Runs inside a
// hub fiber (call it from unclog::run or an UNCLOG_TEST body).
Result crawl(const Options& options);

// Waits between two requests to one host. The blocking variant uses
// std::this_thread::sleep_for, which stalls the whole hub.
void throttle(bool blocking);

}  // namespace crawler
