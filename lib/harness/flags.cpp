#include "unclog/detail/harness.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <limits>

#include "io/backend.hpp"

namespace unclog::harness {
namespace {

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

bool set_on_off(const std::string& v, bool& out) {
  if (v != "on" && v != "off") return false;
  out = v == "on";
  return true;
}

bool set_duration(const std::string& v, std::chrono::nanoseconds& out) {
  auto d = parse_duration(v);
  if (d) out = *d;
  return d.has_value();
}

bool set_path(const std::string& v, std::string& out) {
  out = v;
  return !v.empty();
}

// One flag: its name (after "--unclog_"), its variable, what its value looks
// like in the help and in an error, what it does, and how it is set. The
// parser, its messages and the help are all made from this table.
struct Spec {
  const char* name;
  const char* env;
  const char* usage;    // "=DUR", "[=true|false]"
  const char* expects;  // "a positive duration like 50ms, 250us or 2s"
  const char* help;     // lines of help, '\n'-separated
  bool (*set)(const std::string& value, Flags& out);  // false: a bad value
};

constexpr Spec kSpecs[] = {
    {"resolution", "UNCLOG_RESOLUTION", "=DUR", "a positive duration like 50ms, 250us or 2s",
     "A step that holds the loop longer than this is blocking (default 50ms).\n"
     "DUR is a number with a unit: 250us, 50ms, 2s; a bare number is ms.",
     [](const std::string& v, Flags& o) { return set_duration(v, o.resolution); }},
    {"mode", "UNCLOG_MODE", "=time|calls|call|all|off", "one of time, calls (or call), all, off",
     "What to detect: steps over the resolution (time), blocking calls however\n"
     "short (calls, or call as reports print it), both (all, the default);\n"
     "off runs tests unwatched.",
     [](const std::string& v, Flags& o) {
       auto m = parse_mode(v);
       if (m) o.mode = *m;
       return m.has_value();
     }},
    {"hang_timeout", "UNCLOG_HANG_TIMEOUT", "=DUR", "a positive duration like 20s, or 0 for none",
     "A step running this long ends the run with a report and the XML (default 20s, 0 = never).",
     [](const std::string& v, Flags& o) {
       if (v == "0") {
         o.hang_timeout = std::chrono::nanoseconds(0);
         return true;
       }
       return set_duration(v, o.hang_timeout);
     }},
    {"report", "UNCLOG_REPORT", "=PATH", "a file path", "Also append every report to PATH as JSON lines.",
     [](const std::string& v, Flags& o) { return set_path(v, o.report); }},
    {"folded", "UNCLOG_FOLDED", "=PATH", "a file path",
     "Write every report's stack to PATH as folded stacks (flamegraph.pl, inferno,\n"
     "speedscope), weighted by microseconds of blocked time, summed over the run.",
     [](const std::string& v, Flags& o) { return set_path(v, o.folded); }},
    {"trace", "UNCLOG_TRACE", "=PATH", "a file path",
     "Write a timeline to PATH (Chrome trace-event JSON: Perfetto's UI, chrome://tracing):\n"
     "a track per fiber with its steps, the hubs' waits, each test's span, each report.",
     [](const std::string& v, Flags& o) { return set_path(v, o.trace); }},
    {"trace_steps", "UNCLOG_TRACE_STEPS", "=N", "a whole number from 16 to 10000000",
     "Steps kept per thread between two writes of the trace (default 8192).",
     [](const std::string& v, Flags& o) {
       char* end = nullptr;
       errno = 0;
       const long n = std::strtol(v.c_str(), &end, 10);
       if (v.empty() || *end || errno || n < 16 || n > 10000000) return false;
       o.trace_steps = n;
       return true;
     }},
    {"report_preempted", "UNCLOG_REPORT_PREEMPTED", "[=true|false]", "true or false",
     "Also report steps that were slow only because the machine was busy.",
     [](const std::string& v, Flags& o) {
       auto b = parse_bool(v);
       if (b) o.report_preempted = *b;
       return b.has_value();
     }},
    {"allow", "UNCLOG_ALLOW", "=NAME,...", "a comma-separated list of function names",
     "Call mode: allow blocking calls made under functions whose names contain these.",
     [](const std::string& v, Flags& o) { return parse_list(v, o.allow); }},
    {"file_io", "UNCLOG_FILE_IO", "=allow|report", "allow or report",
     "Call mode: report regular-file I/O too (default allow).",
     [](const std::string& v, Flags& o) {
       auto b = parse_allow_report(v);
       if (b) o.file_io = *b;
       return b.has_value();
     }},
    {"std_streams", "UNCLOG_STD_STREAMS", "=allow|report", "allow or report",
     "Call mode: report writes to stdout and stderr too (default allow).",
     [](const std::string& v, Flags& o) {
       auto b = parse_allow_report(v);
       if (b) o.std_streams = *b;
       return b.has_value();
     }},
    {"annotations", "UNCLOG_ANNOTATIONS", "=github|off", "github or off",
     "Also print each report as a GitHub Actions ::error command, shown on the line\n"
     "in the pull request (default: github when GITHUB_ACTIONS=true).",
     [](const std::string& v, Flags& o) {
       if (v != "github" && v != "off") return false;
       o.github_annotations = v == "github";
       return true;
     }},
    {"syscalls", "UNCLOG_SYSCALLS", "=on|off", "on or off",
     "Call mode: also trap the system calls of watched steps (Syscall User Dispatch),\n"
     "catching blocking inside libc and raw system calls (default on where the kernel allows).",
     [](const std::string& v, Flags& o) { return set_on_off(v, o.syscalls); }},
    {"loops", "UNCLOG_LOOPS", "=on|off", "on or off",
     "Watch event loops with no code change (default on): each batch of callbacks\n"
     "between two waits of libuv, libevent, GLib, Qt, libev, sd-event or Asio is a step,\n"
     "the first pass of a run included.",
     [](const std::string& v, Flags& o) { return set_on_off(v, o.loops); }},
    {"loop_functions", "UNCLOG_LOOP_FUNCTIONS", "=NAME,...", "a comma-separated list of function names",
     "Your own loops: a wait (poll, epoll_wait, select) called from a function whose\n"
     "name contains one of these is a loop's wait (or mark it with unclog::LoopWait).",
     [](const std::string& v, Flags& o) { return parse_list(v, o.loop_functions); }},
};

std::string apply(const Spec& spec, const std::string& value, const std::string& origin, Flags& out) {
  if (spec.set(value, out)) return "";
  return "unclog: invalid value '" + value + "' for " + origin + ": expected " + spec.expects;
}

std::string make_help() {
  std::string out = "\nunclog (blocking detection):\n";
  for (const Spec& spec : kSpecs) {
    out += std::string("  --unclog_") + spec.name + spec.usage + " [" + spec.env + "]\n";
    std::string help = spec.help;
    for (std::size_t start = 0; start <= help.size();) {
      const std::size_t nl = help.find('\n', start);
      out += "      " + help.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  out += "  The command line wins over the environment.\n";
  return out;
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
      // Only a flag whose value is optional ("[=true|false]") stands alone.
      if (spec->usage[0] != '[') return "unclog: flag --unclog_" + name + " needs a value: --unclog_" + name + "=...";
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

const char* flags_help() noexcept {
  static const std::string help = make_help();
  return help.c_str();
}

void init_from_args(int* argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + *argc);
  Flags flags;
  std::string err = parse_flags(args, [](const char* n) -> const char* { return std::getenv(n); }, flags);
  if (err.empty()) err = io::backend_env_error();
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(2);
  }
  // Keep argv's own strings: remove the --unclog_* entries in place.
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], "--unclog_", 9) != 0) argv[out++] = argv[i];
  }
  argv[out] = nullptr;
  *argc = out;
  configure(flags);
}

}  // namespace unclog::harness
