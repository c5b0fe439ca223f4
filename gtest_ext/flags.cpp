#include "flags.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace unclog::gtest_internal {
namespace {

struct Spec {
  const char* name;  // without "--unclog_"
  const char* env;
  const char* expects;
};

constexpr Spec kSpecs[] = {
    {"resolution", "UNCLOG_RESOLUTION", "a positive duration like 50ms, 250us or 2s"},
    {"mode", "UNCLOG_MODE", "one of time, calls (or call), all, off"},
    {"hang_timeout", "UNCLOG_HANG_TIMEOUT", "a positive duration like 20s, or 0 for none"},
    {"report", "UNCLOG_REPORT", "a file path"},
    {"folded", "UNCLOG_FOLDED", "a file path"},
    {"trace", "UNCLOG_TRACE", "a file path"},
    {"trace_steps", "UNCLOG_TRACE_STEPS", "a whole number from 16 to 10000000"},
    {"report_preempted", "UNCLOG_REPORT_PREEMPTED", "true or false"},
    {"allow", "UNCLOG_ALLOW", "a comma-separated list of function names"},
    {"file_io", "UNCLOG_FILE_IO", "allow or report"},
    {"std_streams", "UNCLOG_STD_STREAMS", "allow or report"},
    {"syscalls", "UNCLOG_SYSCALLS", "on or off"},
    {"annotations", "UNCLOG_ANNOTATIONS", "github or off"},
    {"loops", "UNCLOG_LOOPS", "on or off"},
    {"loop_functions", "UNCLOG_LOOP_FUNCTIONS", "a comma-separated list of function names"},
};

// "a,b,c": no empty items.
bool parse_list(const std::string& value, std::vector<std::string>& out) {
  out.clear();
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty() && value.size() > 0) return false;
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

std::optional<bool> parse_allow_report(const std::string& text) {
  if (text == "report") return true;
  if (text == "allow") return false;
  return std::nullopt;
}

std::string apply(const Spec& spec, const std::string& value, const std::string& origin, Flags& out) {
  const std::string name = spec.name;
  auto bad = [&] {
    return "unclog: invalid value '" + value + "' for " + origin + ": expected " + spec.expects;
  };
  if (name == "resolution") {
    auto d = parse_duration(value);
    if (!d) return bad();
    out.resolution = *d;
  } else if (name == "hang_timeout") {
    if (value == "0") {
      out.hang_timeout = std::chrono::nanoseconds(0);
    } else {
      auto d = parse_duration(value);
      if (!d) return bad();
      out.hang_timeout = *d;
    }
  } else if (name == "mode") {
    auto m = parse_mode(value);
    if (!m) return bad();
    out.mode = *m;
  } else if (name == "report" || name == "folded" || name == "trace") {
    if (value.empty()) return bad();
    (name == "report" ? out.report : name == "folded" ? out.folded : out.trace) = value;
  } else if (name == "trace_steps") {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end || errno || n < 16 || n > 10000000) return bad();
    out.trace_steps = n;
  } else if (name == "report_preempted") {
    auto b = parse_bool(value);
    if (!b) return bad();
    out.report_preempted = *b;
  } else if (name == "allow" || name == "loop_functions") {
    if (!parse_list(value, name == "allow" ? out.allow : out.loop_functions)) return bad();
  } else if (name == "file_io" || name == "std_streams") {
    auto b = parse_allow_report(value);
    if (!b) return bad();
    (name == "file_io" ? out.file_io : out.std_streams) = *b;
  } else if (name == "annotations") {
    if (value != "github" && value != "off") return bad();
    out.github_annotations = value == "github";
  } else if (name == "syscalls" || name == "loops") {
    if (value != "on" && value != "off") return bad();
    (name == "syscalls" ? out.syscalls : out.loops) = value == "on";
  }
  return "";
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.')) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || !std::isfinite(value) || value <= 0) return std::nullopt;
  const std::string unit(end);
  double scale;
  if (unit.empty() || unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ns") scale = 1;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else return std::nullopt;
  const double ns = value * scale;
  // Past a day nobody means it; past int64 it would wrap.
  if (ns < 1 || ns > 86400e9) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

std::optional<Mode> parse_mode(const std::string& text) {
  if (text == "time") return Mode::time;
  if (text == "calls" || text == "call") return Mode::calls;  // reports print "(call)"
  if (text == "all") return Mode::all;
  if (text == "off") return Mode::off;
  return std::nullopt;
}

std::optional<bool> parse_bool(const std::string& text) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

std::string parse_flags(std::vector<std::string>& args, const char* (*getenv_fn)(const char*), Flags& out) {
  // On GitHub Actions, annotations are on unless a flag says otherwise.
  if (const char* gh = getenv_fn("GITHUB_ACTIONS")) out.github_annotations = std::string(gh) == "true";
  for (const Spec& spec : kSpecs) {
    if (const char* v = getenv_fn(spec.env)) {
      std::string err = apply(spec, v, std::string("environment variable ") + spec.env, out);
      if (!err.empty()) return err;
    }
  }
  std::vector<std::string> kept;
  for (const std::string& arg : args) {
    if (arg.rfind("--unclog_", 0) != 0) {
      kept.push_back(arg);
      continue;
    }
    const std::size_t eq = arg.find('=');
    const std::string name = arg.substr(9, eq == std::string::npos ? std::string::npos : eq - 9);
    const Spec* spec = nullptr;
    for (const Spec& s : kSpecs) {
      if (name == s.name) spec = &s;
    }
    if (!spec) return "unclog: unknown flag '" + arg.substr(0, eq) + "' (see --help for the --unclog_* flags)";
    std::string value;
    if (eq == std::string::npos) {
      if (name != "report_preempted") return "unclog: flag --unclog_" + name + " needs a value: --unclog_" + name + "=...";
      value = "true";
    } else {
      value = arg.substr(eq + 1);
    }
    std::string err = apply(*spec, value, "--unclog_" + name, out);
    if (!err.empty()) return err;
  }
  args = std::move(kept);
  return "";
}

}  // namespace unclog::gtest_internal
