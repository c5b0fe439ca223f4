// How reports print durations and names, so that every line that quotes
// one (the report, the end-of-run summary, a call's description) agrees.
#pragma once
#include <chrono>
#include <string>

namespace unclog::watch {

// "0.3 ms", "9.9 ms", "98 ms": one decimal under 10 ms, rounded above.
std::string format_ms(std::chrono::nanoseconds d);

// "void std::this_thread::sleep_for<long, std::ratio<1l, 1000l> >(...)" reads
// as "std::this_thread::sleep_for": no return type, template arguments or
// parameters; a lambda reads as "lambda in Suite_Test::TestBody". The JSON
// keeps full names.
std::string short_name(const std::string& full);

// `s` as the inside of a JSON string.
std::string json_escape(const std::string& s);

}  // namespace unclog::watch
