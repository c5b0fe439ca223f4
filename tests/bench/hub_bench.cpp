// Step costs, measured side by side in one process:
// - yield() round trip between two hub fibers vs a raw Boost.Context
//   resume round trip, and a yield ping-pong with detection on vs off: the
//   three interleaved, each ratio the median of neighbouring pairs;
// - an Eventlet-style per-step alarm (arm and disarm setitimer) per step;
// - detection latency: first sample time minus step start, over the
//   resolution, p50 and p99, a fifth of the stalls waking a sleeping
//   watchdog; and beyond the lateness of a plain thread sleeping to the
//   same moment (TimerProbe), the part that is unclog's.
// Prints Google Benchmark's table, then one line per figure:
//   ratio NAME VALUE target OP LIMIT ok|MISS
#include <benchmark/benchmark.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <boost/context/detail/fcontext.hpp>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "unclog/unclog.hpp"
#include "watch/watch_internal.hpp"

namespace bctx = boost::context::detail;
using namespace std::chrono_literals;

namespace {

// --- raw Boost.Context: main resumes a context that jumps straight back ---
void raw_entry(bctx::transfer_t t) {
  for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void raw_round_trips(int n) {
  static char stack[64 * 1024];
  static bctx::fcontext_t ctx = bctx::make_fcontext(stack + sizeof stack, sizeof stack, raw_entry);
  for (int i = 0; i < n; ++i) ctx = bctx::jump_fcontext(ctx, nullptr).fctx;
}

// --- two hub fibers yielding to each other: one round trip = two yields ---
// Both run the same loop, as the raw benchmark's two sides make no call that
// returns: what is measured is the hub's switch. When the two fibers run
// different code, each switch also costs the user one mispredicted return
// (the CPU predicts the other fiber's return address): 40 ns per round trip
// on the machine of docs/PERFORMANCE.md.
void ping_pong(int round_trips) {
  auto body = [round_trips] {
    for (int i = 0; i < round_trips; ++i) unclog::yield();
  };
  auto a = unclog::spawn(body);
  auto b = unclog::spawn(body);
  a.join();
  b.join();
}

// The three sides, interleaved finely: many short chunks, each timed on
// its own, the sides' order rotating from one triple to the next. Each
// ratio is the median of the triples' ratios, so a moment when the guest
// runs slow hits both sides of a pair alike. (Google Benchmark runs of
// 0.2 s each, 15 triples, still put 0.5 s between the two sides of a pair:
// the on/off ratio read 0.998-1.016 from one process to the next against
// a target of 1.01.) A hub is started and stopped around each hub chunk,
// as detection is chosen when a hub starts; only the round trips inside it
// are timed, after a few to warm up: a hub's start (110-190 us of system
// calls on the AMD guest of docs/PERFORMANCE.md) flushes the TLB there.
enum Side { kRaw = 0, kHubOff = 1, kHubOn = 2 };
constexpr int kChunkRoundTrips = 20000;  // about 0.25 ms
constexpr int kWarmUpRoundTrips = 2000;
constexpr int kTriples = 600;

using Clock = std::chrono::steady_clock;
double ns_per_round_trip(Clock::duration d) {
  return std::chrono::duration<double, std::nano>(d).count() / kChunkRoundTrips;
}

double time_chunk(Side side) {
  if (side == kRaw) {
    raw_round_trips(kWarmUpRoundTrips);
    const auto t0 = Clock::now();
    raw_round_trips(kChunkRoundTrips);
    return ns_per_round_trip(Clock::now() - t0);
  }
  double ns = 0;
  unclog::hub_blocking_detection(side == kHubOn, 50ms);
  unclog::run([&ns] {
    ping_pong(kWarmUpRoundTrips);
    const auto t0 = Clock::now();
    ping_pong(kChunkRoundTrips);
    ns = ns_per_round_trip(Clock::now() - t0);
  });
  unclog::hub_blocking_detection(false);
  return ns;
}

struct RoundTrips {
  std::vector<double> ns[3];  // by Side, the i-th chunks of each a triple
};

RoundTrips interleaved_round_trips() {
  RoundTrips r;
  for (int i = 0; i < kTriples; ++i) {
    for (int k = 0; k < 3; ++k) {
      const auto side = static_cast<Side>((i + k) % 3);
      r.ns[side].push_back(time_chunk(side));
    }
  }
  return r;
}

// --- what detection adds to a step, alone: the marks the hub makes ---
void BM_UnclogStepMarks(benchmark::State& state) {
  constexpr int kSteps = 1000000;
  unclog::hub_blocking_detection(true, 50ms);
  unclog::watch::StepSlot* slot = unclog::watch::slot_for_new_hub();  // registered, watchdog running
  constexpr std::uint64_t kNoPassEnd = ~std::uint64_t{0};
  slot->check_at.store(kNoPassEnd);
  unclog::watch::step_begin(slot);
  for (auto _ : state) {
    for (int i = 0; i < kSteps; ++i) {
      benchmark::ClobberMemory();
      // What the hub does between two fibers: end one step, begin the next.
      if (!unclog::watch::step_switch(*slot)) {
        if (std::uint64_t s = unclog::watch::step_end(slot)) unclog::watch::finish_step(*slot, s, "bench");
        slot->check_at.store(kNoPassEnd);
        unclog::watch::step_begin(slot);
      }
    }
  }
  if (std::uint64_t s = unclog::watch::step_end(slot)) unclog::watch::finish_step(*slot, s, "bench");
  unclog::hub_blocking_detection(false);
  state.SetItemsProcessed(state.iterations() * kSteps);
}
BENCHMARK(BM_UnclogStepMarks)->Unit(benchmark::kMillisecond);

// --- Eventlet's way: arm an alarm before each step, disarm it after ---
void BM_SetitimerPerStep(benchmark::State& state) {
  constexpr int kSteps = 20000;
  itimerval arm{{0, 0}, {1, 0}}, disarm{{0, 0}, {0, 0}};
  for (auto _ : state) {
    for (int i = 0; i < kSteps; ++i) {
      setitimer(ITIMER_REAL, &arm, nullptr);
      benchmark::ClobberMemory();
      setitimer(ITIMER_REAL, &disarm, nullptr);
    }
  }
  state.SetItemsProcessed(state.iterations() * kSteps);
}
BENCHMARK(BM_SetitimerPerStep)->Unit(benchmark::kMillisecond);

// Keeps each benchmark's nanoseconds per item.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end() || it->second.value <= 0) continue;
      std::string name = r.run_name.function_name + (r.run_name.args.empty() ? "" : "/" + r.run_name.args);
      runs_ns[name].push_back(1e9 / it->second.value);
    }
  }
  // Every run's nanoseconds per item, in the order they ran.
  std::map<std::string, std::vector<double>> runs_ns;
};

void spin_for(std::chrono::nanoseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  volatile unsigned x = 0;
  while (std::chrono::steady_clock::now() < end) x = x + 1;
}

// A plain thread that sleeps, as the watchdog does (absolute deadline,
// timer slack 1 ns), to the moment a stall passes its resolution: how late
// the machine's timer woke a sleeping thread then. On a virtual machine an
// idle vCPU's wake is the host's to schedule, and is now and then late by
// milliseconds (docs/PERFORMANCE.md, "Seventh round"); the watchdog, asleep
// on the same vCPU at the same moment, is late with it.
class TimerProbe {
 public:
  TimerProbe() : thread_([this] { run(); }) {}
  ~TimerProbe() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void sleep_to(std::chrono::steady_clock::time_point deadline) {
    {
      std::lock_guard lk(mu_);
      deadline_ = deadline;
      late_.reset();
    }
    cv_.notify_one();
  }
  // How late the probe woke after its deadline; waits for it to wake.
  std::chrono::nanoseconds lateness() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return late_.has_value(); });
    return *late_;
  }

 private:
  void run() {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || deadline_.has_value(); });
      if (stop_) return;
      const auto deadline = *deadline_;
      deadline_.reset();
      lk.unlock();
      std::this_thread::sleep_until(deadline);
      const auto late = std::chrono::steady_clock::now() - deadline;
      lk.lock();
      late_ = late;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::optional<std::chrono::nanoseconds> late_;
  bool stop_ = false;
  std::thread thread_;
};

// Stalls of one and a half resolutions each (the first sample comes at
// about one); latency = first sample - step start.
// Per stall: how long after its start the first sample was taken, and how
// far the reported duration is from the stall's own measure of itself, both
// in resolutions. Every fifth stall follows three idle resolutions, long
// enough for the watchdog to fall asleep (two, watchdog.cpp's kIdleTicks):
// its step wakes it. Their latencies are also kept apart. Beside each
// stall a TimerProbe sleeps to its resolution: `timer_late` is how late it
// woke, `beyond_timer` the latency less that (what the watchdog adds to a
// plain timer's wake, the part unclog can change).
struct StallFigures {
  std::vector<double> latency, duration_error, latency_after_sleep, timer_late, beyond_timer, beyond_timer_after_sleep;
};

StallFigures stall_figures(std::chrono::milliseconds res, int stalls) {
  StallFigures out;
  std::mutex mu;
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::chrono::nanoseconds>> seen;
  unclog::set_stderr_reports(false);
  unclog::hub_blocking_detection(true, res);
  int id = unclog::add_report_sink([&](const unclog::BlockingReport& r) {
    std::lock_guard lk(mu);
    if (!r.samples.empty()) seen.emplace_back(r.samples.front().captured_at, r.duration);
  });
  const auto in_res = [&](auto d) { return std::chrono::duration<double>(d) / std::chrono::duration<double>(res); };
  TimerProbe probe;
  unclog::run([&] {
    for (int i = 0; i < stalls; ++i) {
      const bool after_sleep = i % 5 == 4;
      unclog::sleep_for(after_sleep ? 3 * res : res / 3);  // a third: desynchronise from the watchdog's ticks
      const auto start = std::chrono::steady_clock::now();
      std::size_t before;
      {
        std::lock_guard lk(mu);
        before = seen.size();
      }
      probe.sleep_to(start + res);
      spin_for(3 * res / 2);
      const auto end = std::chrono::steady_clock::now();
      const double timer_late = in_res(probe.lateness());
      unclog::yield();  // the step ends; its report is raised now
      std::lock_guard lk(mu);
      if (seen.size() > before) {
        out.latency.push_back(in_res(seen.back().first - start));
        out.timer_late.push_back(timer_late);
        out.beyond_timer.push_back(out.latency.back() - timer_late);
        if (after_sleep) {
          out.latency_after_sleep.push_back(out.latency.back());
          out.beyond_timer_after_sleep.push_back(out.beyond_timer.back());
        }
        out.duration_error.push_back(std::abs(in_res(seen.back().second - (end - start))));
      }
    }
  });
  unclog::remove_report_sink(id);
  unclog::hub_blocking_detection(false);
  unclog::set_stderr_reports(true);
  return out;
}

// Nearest rank: the smallest value with at least p of the values at or
// below it (p99 of 200 values is the 198th).
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}


}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  auto& runs = collector.runs_ns;
  const auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // The i-th chunk of one side over the i-th of the other: neighbours in time.
  const auto paired = [&](const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) r.push_back(a[i] / b[i]);
    return median(r);
  };
  const RoundTrips trips = interleaved_round_trips();
  const auto& raw = trips.ns[kRaw];
  const auto& off = trips.ns[kHubOff];
  const auto& on = trips.ns[kHubOn];
  const double itimer = median(runs["BM_SetitimerPerStep"]);
  const double marks = median(runs["BM_UnclogStepMarks"]);
  std::printf("\nper item (medians of %d interleaved chunks of %d): raw context round trip %.1f ns, hub yield round "
              "trip %.1f ns (detection off) / %.1f ns (on), detection marks per step %.2f ns, setitimer arm+disarm per "
              "step %.1f ns\n",
              kTriples, kChunkRoundTrips, median(raw), median(off), median(on), marks, itimer);
  bench::ratio("switch_hub_vs_raw_context", paired(off, raw), "<=", 1.3);
  bench::ratio("step_detection_on_vs_off", paired(on, off), "<=", 1.01);
  // What each detector adds to one step: our two marks vs Eventlet's alarm.
  if (itimer > 0 && marks > 0) bench::ratio("setitimer_step_vs_unclog_step", itimer / marks, ">=", 100);

  const StallFigures stalls = stall_figures(20ms, 500);
  const auto& lat = stalls.latency;
  const auto& woke = stalls.latency_after_sleep;
  std::printf("detection latency over %zu stalls (resolution 20 ms): p50 %.3f, p99 %.3f resolutions, beyond the "
              "timer p99 %.3f; the %zu that woke the watchdog: p50 %.3f, p99 %.3f, beyond the timer p99 %.3f\n",
              lat.size(), percentile(lat, 0.5), percentile(lat, 0.99), percentile(stalls.beyond_timer, 0.99),
              woke.size(), percentile(woke, 0.5), percentile(woke, 0.99),
              percentile(stalls.beyond_timer_after_sleep, 0.99));
  // Much of the tail is the machine's timer: many of the largest latencies
  // come with the plain thread beside them waking about as late. What the
  // watchdog adds beyond that is the target; the latency itself, which
  // swings with the host from run to run, is information.
  std::vector<std::size_t> order(lat.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lat[a] > lat[b]; });
  std::printf("a plain thread sleeping to each stall's resolution woke late by p50 %.3f, p99 %.3f resolutions; the "
              "five largest latencies, with its lateness then:",
              percentile(stalls.timer_late, 0.5), percentile(stalls.timer_late, 0.99));
  for (std::size_t i = 0; i < std::min<std::size_t>(5, order.size()); ++i) {
    std::printf(" %.3f (%.3f)", lat[order[i]], stalls.timer_late[order[i]]);
  }
  std::printf("\n");
  bench::ratio("detect_latency_p99_over_resolution", percentile(lat, 0.99), ">=", 0);
  bench::ratio("detect_latency_beyond_timer_p99_over_resolution", percentile(stalls.beyond_timer, 0.99), "<=", 1.10);
  // The watchdog ticks every resolution/20 and dates a step it first sees
  // halfway back to its last tick: at most 0.025 resolutions off.
  const auto& err = stalls.duration_error;
  std::printf("duration error over %zu stalls: p50 %.4f, p90 %.4f resolutions\n", err.size(), percentile(err, 0.5),
              percentile(err, 0.9));
  bench::ratio("stall_duration_error_p90_over_resolution", percentile(err, 0.9), "<=", 0.03);
  return 0;
}
