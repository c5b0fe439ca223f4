// unclog::io::resolve: getaddrinfo on the offload pool. Why not an
// asynchronous resolver (c-ares is in Debian): it answers from DNS and
// /etc/hosts only, while getaddrinfo goes through NSS (nsswitch.conf:
// files, DNS, mDNS, LDAP, systemd-resolved, containers' own modules), so
// offloading getaddrinfo is the only way to give exactly its answers.
#include <errno.h>
#include <netdb.h>

#include <optional>
#include <string>
#include <system_error>

#include "unclog/hub.hpp"
#include "unclog/io.hpp"

namespace unclog::io {
namespace {

// A lookup that owns its arguments and its answer, so that it can outlive
// a caller that stopped waiting (deadline).
struct Lookup {
  std::optional<std::string> node, service;
  std::optional<addrinfo> hints;
};

struct Answer {
  int rc = EAI_SYSTEM;
  int err = 0;
  addrinfo* list = nullptr;
  Answer() = default;
  Answer(Answer&& o) noexcept : rc(o.rc), err(o.err), list(std::exchange(o.list, nullptr)) {}
  Answer& operator=(Answer&&) = delete;
  ~Answer() {
    if (list) freeaddrinfo(list);  // dropped: the caller stopped waiting
  }
};

Answer look_up(const Lookup& l) {
  Answer a;
  a.rc = ::getaddrinfo(l.node ? l.node->c_str() : nullptr, l.service ? l.service->c_str() : nullptr,
                       l.hints ? &*l.hints : nullptr, &a.list);
  a.err = errno;
  return a;
}

int resolve_with(const char* node, const char* service, const addrinfo* hints, addrinfo** res,
                 std::optional<Timeout> timeout) {
  *res = nullptr;
  if (!in_fiber()) return ::getaddrinfo(node, service, hints, res);
  Lookup l;
  if (node) l.node = node;
  if (service) l.service = service;
  if (hints) {
    addrinfo h{};
    h.ai_flags = hints->ai_flags;
    h.ai_family = hints->ai_family;
    h.ai_socktype = hints->ai_socktype;
    h.ai_protocol = hints->ai_protocol;
    l.hints = h;  // getaddrinfo reads only these four
  }
  try {
    Answer a = timeout ? offload(*timeout, [l] { return look_up(l); }) : offload([l] { return look_up(l); });
    *res = std::exchange(a.list, nullptr);
    if (a.rc == EAI_SYSTEM) errno = a.err;
    return a.rc;
  } catch (const std::system_error& e) {
    errno = e.code().value();
    return EAI_SYSTEM;
  }
}

}  // namespace

int resolve(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  return resolve_with(node, service, hints, res, std::nullopt);
}

int resolve(const char* node, const char* service, const addrinfo* hints, addrinfo** res, Timeout timeout) {
  return resolve_with(node, service, hints, res, timeout);
}

}  // namespace unclog::io
