// The fixture of the call mode tests: detection on with a resolution no test
// reaches (whatever is reported is call mode's), reports collected.
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "unclog/unclog.hpp"

class CallMode : public ::testing::Test {
 protected:
  void SetUp() override {
    unclog::set_stderr_reports(false);
    unclog::hub_blocking_detection(true, std::chrono::seconds(10));
    unclog::set_call_detection(true);
    id_ = unclog::add_report_sink([this](const unclog::BlockingReport& r) {
      std::lock_guard lk(mu_);
      reports_.push_back(r);
    });
  }
  void TearDown() override {
    unclog::remove_report_sink(id_);
    unclog::set_call_detection(false);
    unclog::set_syscall_detection(true);
    unclog::set_file_io_reports(false);
    unclog::set_std_stream_reports(false);
    unclog::set_allowed_blocking_functions({});
    unclog::hub_blocking_detection(false);
    unclog::set_stderr_reports(true);
  }
  std::vector<unclog::BlockingReport> take() {
    std::lock_guard lk(mu_);
    return std::move(reports_);
  }

  int id_ = 0;
  std::mutex mu_;
  std::vector<unclog::BlockingReport> reports_;
};

struct Pipe {
  int r = -1, w = -1;
  explicit Pipe(int flags = 0) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | flags) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
};
