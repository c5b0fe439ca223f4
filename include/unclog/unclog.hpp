// unclog: make a unit test fail when code blocks an event loop.
// The core API: the hub (run, spawn, yield, sleep_for), green I/O,
// synchronisation, and the blocking detector.
#pragma once
#include "unclog/hub.hpp"
#include "unclog/io.hpp"
#include "unclog/loops.hpp"
#include "unclog/sync.hpp"
#include "unclog/watch.hpp"
