// Turns on unclog's Boost.Asio handler tracking for a translation unit.
// The unclog-asio package force-includes it (-include
// unclog/asio/enable_tracking.hpp): a flag with nothing a shell, make or
// pkg-config would need to quote, unlike a -D whose value is <header>.
// It must come before any Asio header, which a forced include always does,
// whatever order the source includes Asio's headers in.
#pragma once
#ifdef __cplusplus
// Boost 1.74's awaitable.hpp uses std::exchange without including
// <utility>, which nothing else includes first under C++20 when a source
// starts with <boost/asio/co_spawn.hpp>.
#include <utility>
#define BOOST_ASIO_CUSTOM_HANDLER_TRACKING "unclog/asio/handler_tracking.hpp"
#endif
