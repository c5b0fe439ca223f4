// BlockingReport::text() and ::json(): the short report a person reads, and
// one JSON line for machines.
#include <cstdio>
#include <string>

#include "unclog/watch.hpp"
#include "watch/format.hpp"

namespace unclog {

std::string watch::format_ms(std::chrono::nanoseconds d) {
  char buf[32];
  const double v = static_cast<double>(d.count()) / 1e6;
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f ms" : "%.0f ms", v);
  return buf;
}

// "void std::this_thread::sleep_for<long, std::ratio<1l, 1000l> >(std::chrono::...)"
// reads as "std::this_thread::sleep_for": no return type, template
// arguments or parameters. The JSON keeps the full name.
std::string watch::json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string watch::short_name(const std::string& name) {
  if (name.empty()) return "??";
  // A GCC clone ("f(int) [clone .isra.0]", as symbol tables name it) is the
  // function itself; its suffix read as the name once the return type went.
  std::string full = name;
  for (std::size_t at; (at = full.find(" [clone ")) != std::string::npos;) {
    const std::size_t end = full.find(']', at);
    full.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
  }
  static const std::string call_op = "operator()";
  std::string out;
  int angle = 0, paren = 0;
  for (std::size_t i = 0; i < full.size(); ++i) {
    if (full.compare(i, call_op.size(), call_op) == 0 && angle == 0 && paren == 0) {
      out += call_op;
      i += call_op.size() - 1;
      continue;
    }
    const char c = full[i];
    // A '<' opens template arguments unless it is the operator's own name
    // (operator<, operator<<, operator<=>).
    const bool operator_name = (i >= 8 && full.compare(i - 8, 8, "operator") == 0) ||
                               (i >= 9 && full.compare(i - 9, 9, "operator<") == 0);
    if (c == '<' && paren == 0 && !operator_name) ++angle;
    else if (c == '>' && angle > 0 && paren == 0) --angle;
    else if (c == '(' && angle == 0) ++paren;
    else if (c == ')' && paren > 0 && angle == 0) --paren;
    else if (angle == 0 && paren == 0) out += c;
  }
  // Drop a leading return type ("void ns::f") and trailing qualifiers.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  for (const char* q : {" const", " volatile", " &&", " &"}) {
    const std::string qs(q);
    if (out.size() > qs.size() && out.compare(out.size() - qs.size(), qs.size(), qs) == 0) out.erase(out.size() - qs.size());
  }
  // A leading return type ends at the last space outside a lambda's name.
  const std::size_t lambda = out.find("{lambda");
  const std::size_t space = out.rfind(' ', lambda == std::string::npos ? std::string::npos : lambda);
  if (space != std::string::npos) out.erase(0, space + 1);
  // "A::f::{lambda#1}::operator()" reads as "lambda in A::f": a test body's
  // callbacks are lambdas, and their enclosing function is what tells them
  // apart. Templates and parameters are gone already (above).
  if (const std::size_t at = out.find("::{lambda"); at != std::string::npos && at > 0) {
    std::string scope = out.substr(0, at);
    if (scope.rfind("::", 0) == 0) scope.erase(0, 2);  // an anonymous namespace's name was dropped
    out = "lambda in " + scope;
  }
  return out.empty() ? full : out;
}

namespace {

using watch::format_ms;
using watch::json_escape;
using watch::short_name;

std::string where(const StackFrame& f) {
  std::string s = short_name(f.function);
  if (!f.file.empty()) s += " at " + f.file + ":" + std::to_string(f.line);
  else if (!f.object.empty()) s += " (" + f.object + ")";
  return s;
}

// Frames innermost first; runs of frames that are not the user's are
// collapsed onto one line, never hidden.
void append_frames(std::string& out, const std::vector<StackFrame>& frames, const std::string& user_file,
                   int user_line) {
  bool marked = false;
  std::size_t i = 0;
  while (i < frames.size()) {
    if (frames[i].user) {
      out += "\n  #" + std::to_string(i) + " " + where(frames[i]);
      if (!marked && frames[i].file == user_file && frames[i].line == user_line) {
        out += "   <-- your code";
        marked = true;
      }
      ++i;
      continue;
    }
    std::size_t j = i;
    std::string names;
    while (j < frames.size() && !frames[j].user) {
      if (!names.empty()) names += " < ";
      names += short_name(frames[j].function);
      ++j;
    }
    out += "\n  #" + std::to_string(i) + (j - i > 1 ? "-#" + std::to_string(j - 1) : "") + " " + names;
    i = j;
  }
}


}  // namespace

std::string BlockingReport::text() const {
  std::string out = "blocking: ";
  out += runner + " \"" + fiber + "\" ";
  const std::string held = runner == "fiber" ? "the hub" : "the loop";  // Asio handlers, loop steps, StepGuards
  // How the step's time went (for a call report: only when it also overran).
  std::string time_split;
  if (kind != StallKind::call || timed) {
    time_split = (hang ? "has held " : "held ") + held + " for " + format_ms(duration) + " (resolution " +
                 format_ms(resolution) + "), ";
    const StallKind how = kind == StallKind::call ? time_kind : kind;
    switch (how) {
      case StallKind::blocked:
        time_split += "blocked off-CPU " + format_ms(off_cpu);
        if (!kernel_wait.empty()) time_split += ", in the kernel at " + kernel_wait;
        break;
      case StallKind::cpu: time_split += "cpu: on-CPU " + format_ms(on_cpu); break;
      case StallKind::preempted: time_split += "preempted: waited for a CPU " + format_ms(runqueue); break;
      case StallKind::call: break;
    }
    if (sched_stats && how != StallKind::preempted && runqueue >= std::chrono::milliseconds(1)) {
      time_split += ", waited for a CPU " + format_ms(runqueue);
    }
    if (!sched_stats) time_split += " (no scheduler statistics: kind not measured)";
  }
  if (kind == StallKind::call) {
    out += "made a blocking call (call): " + call;
    if (calls > 1) out += " and " + std::to_string(calls - 1) + " more in this step";
    if (!time_split.empty()) out += "; it " + time_split;
  } else {
    out += time_split;
  }
  if (!test.empty()) out += " in test " + test;
  if (!file.empty()) {
    out += "\n  at " + file + ":" + std::to_string(line) + " in " + short_name(function);
    if (!user_function.empty() && user_function != function) out += ", called from " + short_name(user_function);
  } else if (!function.empty()) {
    out += "\n  in " + short_name(function) + " (no frame of your code with debug information)";
  }
  if (samples.empty()) {
    out += "\n  (no stack from inside the step: it was not sampled, where a signal would have disturbed it (a debugger, "
           "the signal blocked or taken, ThreadSanitizer, a wait the kernel does not restart))";
  } else {
    append_frames(out, samples.front().frames, file, line);
  }
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const auto& fr = samples[i].frames;
    const StackFrame* top = nullptr;
    for (const auto& f : fr) {
      if (f.user) {
        top = &f;
        break;
      }
    }
    out += "\n  still there at +" + format_ms(samples[i].offset) + ": " +
           (top ? where(*top) : (fr.empty() ? std::string("??") : where(fr.front())));
  }
  if (!hint.empty()) out += "\n  hint: " + hint;
  if (library) out += "\n  (the loop's own work: no frame of your code ran inside the loop)";
  return out;
}

std::string BlockingReport::json() const {
  auto ns_ms = [](std::chrono::nanoseconds d) { return std::to_string(static_cast<double>(d.count()) / 1e6); };
  std::string out = "{\"kind\":\"" + std::string(to_string(kind)) + "\"";
  out += ",\"hang\":" + std::string(hang ? "true" : "false");
  out += ",\"duration_ms\":" + ns_ms(duration);
  out += ",\"on_cpu_ms\":" + ns_ms(on_cpu);
  out += ",\"off_cpu_ms\":" + ns_ms(off_cpu);
  out += ",\"runqueue_ms\":" + ns_ms(runqueue);
  out += ",\"resolution_ms\":" + ns_ms(resolution);
  out += ",\"fiber\":\"" + json_escape(fiber) + "\"";
  out += ",\"runner\":\"" + json_escape(runner) + "\"";
  out += ",\"loop\":\"" + json_escape(loop) + "\"";
  out += ",\"library\":" + std::string(library ? "true" : "false");
  out += ",\"thread\":" + std::to_string(thread);
  out += ",\"test\":\"" + json_escape(test) + "\"";
  out += ",\"call\":\"" + json_escape(call) + "\"";
  out += ",\"hint\":\"" + json_escape(hint) + "\"";
  out += ",\"kernel_wait\":\"" + json_escape(kernel_wait) + "\"";
  out += ",\"calls\":" + std::to_string(calls);
  out += ",\"function\":\"" + json_escape(function) + "\"";
  out += ",\"file\":\"" + json_escape(file) + "\"";
  out += ",\"line\":" + std::to_string(line);
  out += ",\"samples\":[";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i) out += ",";
    out += "{\"offset_ms\":" + ns_ms(samples[i].offset) + ",\"frames\":[";
    for (std::size_t j = 0; j < samples[i].frames.size(); ++j) {
      const StackFrame& f = samples[i].frames[j];
      if (j) out += ",";
      out += "{\"function\":\"" + json_escape(f.function) + "\",\"file\":\"" + json_escape(f.file) +
             "\",\"line\":" + std::to_string(f.line) + ",\"user\":" + (f.user ? "true" : "false") + "}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace unclog
