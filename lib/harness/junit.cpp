// The JUnit XML a hang leaves behind: the tests finished so far and the
// hung one, failed with the hang report. GoogleTest's XML is this dialect
// too; Catch2's and doctest's JUnit reporters write the same elements.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "unclog/detail/harness.hpp"

namespace unclog::harness {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\n': out += "&#x0A;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') out += ' '; else out += c;
    }
  }
  return out;
}

std::string cdata(const std::string& s) {
  std::string out = "<![CDATA[";
  std::size_t pos = 0, hit;
  while ((hit = s.find("]]>", pos)) != std::string::npos) {
    out += s.substr(pos, hit - pos) + "]]>]]&gt;<![CDATA[";
    pos = hit + 3;
  }
  return out + s.substr(pos) + "]]>";
}

}  // namespace

bool write_junit(const std::string& path, const std::string& suite, const std::string& name,
                 const BlockingReport& report) {
  std::vector<FinishedTest> tests = finished_tests();
  FinishedTest h;
  h.suite = suite;
  h.name = name;
  h.seconds = static_cast<double>(report.duration.count()) / 1e9;
  h.failures.push_back("unclog: hang: the test did not finish within the hang timeout\n" + report.text());
  tests.push_back(h);

  std::map<std::string, std::vector<const FinishedTest*>> suites;
  std::vector<std::string> order;
  std::size_t failures = 0;
  for (const auto& t : tests) {
    if (!suites.count(t.suite)) order.push_back(t.suite);
    suites[t.suite].push_back(&t);
    failures += t.failures.empty() ? 0 : 1;
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "unclog: cannot write the XML report %s\n", path.c_str());
    return false;
  }
  std::fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  std::fprintf(f, "<testsuites tests=\"%zu\" failures=\"%zu\" disabled=\"0\" errors=\"0\" name=\"AllTests\">\n",
               tests.size(), failures);
  for (const auto& name : order) {
    const auto& list = suites[name];
    std::size_t suite_failures = 0;
    for (auto* t : list) suite_failures += t->failures.empty() ? 0 : 1;
    std::fprintf(f, "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" disabled=\"0\" skipped=\"0\" errors=\"0\">\n",
                 escape(name).c_str(), list.size(), suite_failures);
    for (auto* t : list) {
      std::fprintf(f, "    <testcase name=\"%s\" status=\"run\" result=\"%s\" time=\"%.3f\" classname=\"%s\"",
                   escape(t->name).c_str(), t->skipped ? "skipped" : "completed", t->seconds,
                   escape(t->suite).c_str());
      if (t->failures.empty() && !t->skipped) {
        std::fprintf(f, " />\n");
        continue;
      }
      std::fprintf(f, ">\n");
      if (t->skipped) std::fprintf(f, "      <skipped message=\"\" />\n");
      for (const auto& msg : t->failures) {
        const std::string first = msg.substr(0, msg.find('\n'));
        std::fprintf(f, "      <failure message=\"%s\" type=\"\">%s</failure>\n", escape(first).c_str(),
                     cdata(msg).c_str());
      }
      std::fprintf(f, "    </testcase>\n");
    }
    std::fprintf(f, "  </testsuite>\n");
  }
  std::fprintf(f, "</testsuites>\n");
  return std::fclose(f) == 0;
}

}  // namespace unclog::harness
