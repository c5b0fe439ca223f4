// The crawler's test once more, in Catch2 (crawler_test.cpp is GoogleTest's):
// the clean crawl runs on a hub and passes; the crawl with the blocking
// helper is expected to block.
#include <cstdio>
#include <fstream>
#include <string>

#include "crawler.hpp"
#include "unclog/catch2.hpp"

UNCLOG_TEST_CASE("a clean crawl does not block", "[crawler]") {
  crawler::Options o;
  o.results_path = "unclog_crawler_results_catch2.txt";
  const auto r = crawler::crawl(o);
  CHECK(r.pages == o.servers * o.pages_per_server);
  std::ifstream in(o.results_path);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) CHECK(line.find("localhost:") != std::string::npos);
  CHECK(lines == r.pages);
  std::remove(o.results_path.c_str());
}

TEST_CASE("the polite helper blocks the hub", "[crawler]") {
  crawler::Options o;
  o.polite_blocking = true;
  o.pages_per_server = 2;
  crawler::Result r;
  CHECK_BLOCKING(r = crawler::crawl(o));
  CHECK(r.pages == 6);
}
