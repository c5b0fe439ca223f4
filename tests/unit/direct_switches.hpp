// A hub whose fibers only hand over to each other: "a", "b" and "c" yield
// 200 times each, so "b"'s steps begin and end by direct switches, never
// through the loop. At its 100th step "b" runs `in_the_middle`.
#pragma once
#include <functional>

#include "unclog/hub.hpp"

inline void run_direct_switches(const std::function<void()>& in_the_middle) {
  auto ping_pong = [&](bool middle) {
    for (int i = 0; i < 200; ++i) {
      if (middle && i == 100) in_the_middle();
      unclog::yield();
    }
  };
  unclog::run([&] {
    auto a = unclog::spawn({.name = "a"}, [&] { ping_pong(false); });
    auto b = unclog::spawn({.name = "b"}, [&] { ping_pong(true); });
    auto c = unclog::spawn({.name = "c"}, [&] { ping_pong(false); });
    a.join();
    b.join();
    c.join();
  });
}
