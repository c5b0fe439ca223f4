// The remedies' cost:
// - offload_vs_std_async: round trips per second of an empty function
//   offloaded from 64 fibers, over std::async(std::launch::async) + get()
//   from 64 threads;
// - green_pread_vs_offload_pread: 4 KiB reads of a cached file from 64
//   fibers, unclog::io::pread (io_uring) over ::pread through offload.
// Best of five alternating rounds each.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "unclog/unclog.hpp"

namespace {

constexpr int kFibers = 64;
constexpr int kOffloadsEach = 200;
constexpr int kReadsEach = 500;
constexpr std::size_t kFile = 4 << 20;
constexpr std::size_t kBlock = 4096;

double offload_rate() {
  return unclog::run([] {
    return bench::per_second(long(kFibers) * kOffloadsEach, [] {
      std::vector<unclog::JoinHandle<void>> hs;
      for (int f = 0; f < kFibers; ++f) {
        hs.push_back(unclog::spawn([] {
          for (int i = 0; i < kOffloadsEach; ++i) unclog::offload([] {});
        }));
      }
      for (auto& h : hs) h.join();
    });
  });
}

double async_rate() {
  return bench::per_second(long(kFibers) * kOffloadsEach, [] {
    std::vector<std::thread> ts;
    for (int t = 0; t < kFibers; ++t) {
      ts.emplace_back([] {
        for (int i = 0; i < kOffloadsEach; ++i) std::async(std::launch::async, [] {}).get();
      });
    }
    for (auto& t : ts) t.join();
  });
}

// 64 fibers reading 4 KiB blocks of `fd` at spread offsets.
template <class Read>
double pread_rate(int fd, Read read) {
  return unclog::run([&] {
    return bench::per_second(long(kFibers) * kReadsEach, [&] {
      std::vector<unclog::JoinHandle<void>> hs;
      for (int f = 0; f < kFibers; ++f) {
        hs.push_back(unclog::spawn([&, f] {
          char buf[kBlock];
          for (int i = 0; i < kReadsEach; ++i) {
            const off_t at = off_t((f * 131 + i * 17) % (kFile / kBlock)) * kBlock;
            if (read(fd, buf, at) != static_cast<ssize_t>(kBlock)) throw std::runtime_error("short read");
          }
        }));
      }
      for (auto& h : hs) h.join();
    });
  });
}

}  // namespace

int main() {
  const std::string path = "/tmp/unclog_remedies_bench_" + std::to_string(getpid());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<char> data(kFile, 'x');
  if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) return 1;
  ::unlink(path.c_str());  // cached, and gone at exit
  auto green = [](int f, char* b, off_t at) { return unclog::io::pread(f, b, kBlock, at); };
  auto offloaded = [](int f, char* b, off_t at) { return unclog::offload([=] { return ::pread(f, b, kBlock, at); }); };

  double off = 0, async = 0, green_r = 0, off_r = 0;
  offload_rate();  // starts the pool's workers
  for (int round = 0; round < 5; ++round) {
    off = std::max(off, offload_rate());
    async = std::max(async, async_rate());
    green_r = std::max(green_r, pread_rate(fd, green));
    off_r = std::max(off_r, pread_rate(fd, offloaded));
  }
  ::close(fd);
  std::printf("offloaded round trips/s %.0f, std::async %.0f; 4 KiB cached reads/s: io_uring %.0f, offloaded %.0f\n",
              off, async, green_r, off_r);
  bench::ratio("offload_vs_std_async", off / async, ">=", 1.0);
  bench::ratio("green_pread_vs_offload_pread", green_r / off_r, ">=", 1.0);
  return 0;
}
