// The machine-specific boundary: three functions around Boost.Context's
// fcontext. Everything that must happen at every switch (sanitizer fiber
// annotations, later) goes here and nowhere else.
//
// Not thread-safe by nature: a context is resumed on the thread that runs it.
#pragma once
#include <boost/context/detail/fcontext.hpp>

#include "stack_pool.hpp"

namespace unclog::fiber {

using Context = boost::context::detail::fcontext_t;
using Transfer = boost::context::detail::transfer_t;
using Entry = void (*)(Transfer);

// A fresh context that will run `entry` on `stack` when first jumped to.
inline Context make_context(const Stack& stack, Entry entry) {
  return boost::context::detail::make_fcontext(stack.top(), stack.usable, entry);
}

// Suspends the running context and resumes `to`, handing it `data`. Returns
// when something jumps back here; Transfer::fctx is then the context that
// jumped, Transfer::data what it handed over.
inline Transfer jump(Context to, void* data) {
  return boost::context::detail::jump_fcontext(to, data);
}

}  // namespace unclog::fiber
