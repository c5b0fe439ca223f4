// Loaded by blocking_suite's Trace.LoaderBusyAtFirstStep. Its constructor
// runs under the dynamic loader's lock and keeps it for 300 ms, after
// telling the test (a byte on the fd named by UNCLOG_TEST_LOADED_FD) that
// the lock is held.
#include <cstdlib>
#include <unistd.h>

__attribute__((constructor)) static void hold_the_loader() {
  const char* fd = std::getenv("UNCLOG_TEST_LOADED_FD");
  if (fd && write(std::atoi(fd), "x", 1) == 1) usleep(300000);
}
