// The demo: crawl once cleanly, then with a helper that blocks, and show
// what unclog reports.
#include <cstdio>
#include <string>

#include "crawler.hpp"
#include "unclog/unclog.hpp"

using namespace std::chrono_literals;

// crawler-demo [TRACE.json]: with a path, also writes the timeline there
// (open it in Perfetto's UI or speedscope).
int main(int argc, char** argv) {
  unclog::hub_blocking_detection(true, 50ms);  // Eventlet's switch; reports go to stderr
  if (argc > 1) {
    std::string error;
    if (!unclog::set_trace_file(argv[1], 8192, &error)) {
      std::fprintf(stderr, "crawler-demo: %s\n", error.c_str());
      return 2;
    }
  }
  crawler::Options options;

  std::printf("== 1. clean crawl: throttle() waits with unclog::sleep_for ==\n");
  std::fflush(stdout);
  auto clean = unclog::run([&] { return crawler::crawl(options); });
  std::printf("   %d pages, %llu bytes, no blocking reports\n\n", clean.pages,
              static_cast<unsigned long long>(clean.bytes));

  std::printf("== 2. blocking crawl: throttle() calls std::this_thread::sleep_for ==\n");
  std::printf("   every wait now stalls all %d crawlers and %d servers; unclog reports each stall:\n\n",
              options.crawlers, options.servers);
  std::fflush(stdout);
  options.polite_blocking = true;
  options.pages_per_server = 2;
  auto blocking = unclog::run([&] { return crawler::crawl(options); });
  std::fflush(stderr);
  std::printf("\n   %d pages, but each report above points at the line in throttle() that blocked.\n",
              blocking.pages);
  return 0;
}
