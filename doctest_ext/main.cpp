// unclog's replacement for DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN: doctest's
// implementation and a main that reads unclog's flags first. An archive
// member of its own, so a program with its own main does not get it.
#define DOCTEST_CONFIG_IMPLEMENT
#include "unclog/doctest.hpp"

namespace unclog::doctest {

int main_body(int argc, char** argv) {
  init(&argc, argv);
  ::doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}

}  // namespace unclog::doctest

int main(int argc, char** argv) { return unclog::doctest::main_body(argc, argv); }
