// The echo sample: a TCP echo server whose connections are fibers.
#pragma once
#include <netinet/in.h>

namespace echo {

// Listens on 127.0.0.1 on an ephemeral port; returns the socket and fills
// `addr`. Throws std::runtime_error when it cannot.
int listen_loopback(sockaddr_in& addr);

// Accepts `connections` clients on `listen_fd`, each served by its own fiber
// that echoes until the client closes. `blocking_bug` makes each reply go
// through a blocking ::send on the raw fd after a short thread sleep.
void serve(int listen_fd, int connections, bool blocking_bug = false);

}  // namespace echo
