// unclog's replacement for gtest_main: an archive member of its own, used
// only where the program defines no main. It includes no GoogleTest header,
// so compiling it in a user's tree costs nothing.
namespace unclog::gtest {
int main_body(int argc, char** argv);  // listener.cpp
}

int main(int argc, char** argv) { return unclog::gtest::main_body(argc, argv); }
