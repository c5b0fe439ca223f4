#include "annotations.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace unclog::harness {
namespace {

namespace fs = std::filesystem;

// Workflow commands: data escapes %, CR and LF; properties also : and ,.
std::string escape(const std::string& s, bool property) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '%': out += "%25"; break;
      case '\r': out += "%0D"; break;
      case '\n': out += "%0A"; break;
      case ':': out += property ? "%3A" : ":"; break;
      case ',': out += property ? "%2C" : ","; break;
      default: out += c;
    }
  }
  return out;
}

std::string repo_relative(const std::string& file, const std::string& workspace, const std::string& cwd) {
  std::error_code ec;
  fs::path p(file);
  if (p.is_relative()) p = fs::path(cwd) / p;
  p = p.lexically_normal();
  const fs::path root = fs::path(workspace.empty() ? cwd : workspace).lexically_normal();
  const fs::path rel = p.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return p.string();  // outside the repository: as it is
  return rel.string();
}

}  // namespace

std::string github_annotation(const BlockingReport& r, const std::string& workspace, const std::string& cwd) {
  std::string out = "::error ";
  if (!r.file.empty()) {
    out += "file=" + escape(repo_relative(r.file, workspace, cwd), true) + ",line=" + std::to_string(r.line) + ",";
  }
  out += "title=blocking";
  if (!r.test.empty()) out += escape(" in " + r.test, true);
  out += "::" + escape(r.text(), false);
  return out;
}

void print_github_annotation(const BlockingReport& r) {
  static std::mutex mu;
  const char* ws = std::getenv("GITHUB_WORKSPACE");
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).string();
  const std::string line = github_annotation(r, ws ? ws : "", cwd);
  std::lock_guard lk(mu);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace unclog::harness
