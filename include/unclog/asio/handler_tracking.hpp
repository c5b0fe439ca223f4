// unclog's Boost.Asio handler tracking: every handler invocation is one
// watched step, labelled with the operation that created it
// ("socket.async_read_some"), so a handler that blocks is reported at its
// line like a fiber that blocks the hub.
//
// Not included by hand. The unclog-asio package (pkg-config, meson
// dependency, CMake target unclog::asio) force-includes
// unclog/asio/enable_tracking.hpp in every translation unit, which defines
// BOOST_ASIO_CUSTOM_HANDLER_TRACKING to this header, and Asio includes it. The whole program must agree: Asio's operation
// types inherit tracked_handler below, so mixing translation units built
// with and without the flag breaks the one-definition rule.
//
// Detection stays off until something turns it on: our gtest main, or
// unclog::hub_blocking_detection(true). Off, a handler costs one load.
// Nested invocations (a handler run inline by dispatch, io.run() inside a
// hub step or another handler) are part of the enclosing step.
//
// Thread-safety: handlers may run on any thread; each thread marks its own
// steps. A handler that throws ends its step as the exception leaves it.
#pragma once
#include <cstdint>
// Boost 1.74's awaitable.hpp uses std::exchange without including
// <utility>; under C++20 nothing else brings it in first. Asio includes
// this header early, so including it here fixes `#include <boost/asio.hpp>`.
#include <utility>

namespace boost::asio {
class execution_context;
}

namespace unclog::asio_tracking {

// Every Asio operation carries where it came from.
class tracked_handler {
 public:
  const char* object_type_ = nullptr;  // "socket", "deadline_timer", "io_context", ...
  const char* op_name_ = nullptr;      // "async_read_some", "async_wait", "post", ...
  const void* object_ = nullptr;       // the I/O object, when Asio names one

 protected:
  tracked_handler() noexcept = default;
  ~tracked_handler() = default;
};

inline void creation(boost::asio::execution_context&, tracked_handler& h, const char* object_type, void* object,
                     std::uintmax_t /*native_handle*/, const char* op_name) noexcept {
  h.object_type_ = object_type;
  h.op_name_ = op_name;
  h.object_ = object;
}

// Begins a step for one handler invocation; returns a token for end_step(),
// or null when detection is off or a step already runs on this thread.
void* begin_step(const char* object_type, const char* op_name, const void* object) noexcept;
// Ends it: a blocking step is reported here, on the handler's thread.
void end_step(void* token) noexcept;

// One per completion; copies what it needs, since Asio frees the operation
// before the upcall.
class completion {
 public:
  explicit completion(const tracked_handler& h) noexcept
      : type_(h.object_type_), op_(h.op_name_), object_(h.object_) {}
  ~completion() {
    if (token_) end_step(token_);
  }
  completion(const completion&) = delete;
  completion& operator=(const completion&) = delete;

  template <class... Args>
  void invocation_begin(const Args&...) noexcept {
    token_ = begin_step(type_, op_, object_);
  }
  void invocation_end() noexcept {
    if (token_) end_step(token_);
    token_ = nullptr;
  }

 private:
  const char* type_;
  const char* op_;
  const void* object_;
  void* token_ = nullptr;
};

}  // namespace unclog::asio_tracking

#define BOOST_ASIO_INHERIT_TRACKED_HANDLER : public ::unclog::asio_tracking::tracked_handler
#define BOOST_ASIO_ALSO_INHERIT_TRACKED_HANDLER , public ::unclog::asio_tracking::tracked_handler
#define BOOST_ASIO_HANDLER_TRACKING_INIT (void)0
#define BOOST_ASIO_HANDLER_LOCATION(args) (void)0
#define BOOST_ASIO_HANDLER_CREATION(args) ::unclog::asio_tracking::creation args
#define BOOST_ASIO_HANDLER_COMPLETION(args) ::unclog::asio_tracking::completion unclog_tracked_completion args
#define BOOST_ASIO_HANDLER_INVOCATION_BEGIN(args) unclog_tracked_completion.invocation_begin args
#define BOOST_ASIO_HANDLER_INVOCATION_END unclog_tracked_completion.invocation_end()
#define BOOST_ASIO_HANDLER_OPERATION(args) (void)0
#define BOOST_ASIO_HANDLER_REACTOR_REGISTRATION(args) (void)0
#define BOOST_ASIO_HANDLER_REACTOR_DEREGISTRATION(args) (void)0
#define BOOST_ASIO_HANDLER_REACTOR_READ_EVENT 0
#define BOOST_ASIO_HANDLER_REACTOR_WRITE_EVENT 0
#define BOOST_ASIO_HANDLER_REACTOR_ERROR_EVENT 0
#define BOOST_ASIO_HANDLER_REACTOR_EVENTS(args) (void)0
#define BOOST_ASIO_HANDLER_REACTOR_OPERATION(args) (void)0
