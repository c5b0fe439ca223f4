// unclog's replacement for CATCH_CONFIG_MAIN: Catch's implementation and a
// main that reads unclog's flags first. An archive member of its own, so a
// program with its own main (CATCH_CONFIG_RUNNER) does not get it.
#define CATCH_CONFIG_RUNNER
#include "unclog/catch2.hpp"

namespace unclog::catch2 {

int main_body(int argc, char** argv) {
  init(&argc, argv);
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  set_output(session.configData().reporterName, session.configData().outputFilename);
  return session.run();
}

}  // namespace unclog::catch2

int main(int argc, char** argv) { return unclog::catch2::main_body(argc, argv); }
