// The x86-64 System V context switch (see context.hpp for why it is ours).
//
// A suspended context's stack holds, from its saved stack pointer up:
//   8 bytes   MXCSR (low 4) and x87 control word (next 2): callee-saved
//             by the ABI, so a fiber's rounding mode stays its own
//   6 × 8     r15, r14, r13, r12, rbx, rbp
//   8         the return address into the code that switched away
// How the resumed context gets its control words back depends on the CPU,
// chosen once at load (unclog_fiber_switch_reloads):
// - AMD: always reloaded. ldmxcsr and fldcw are cheap there, and reading
//   the just-stored MXCSR back to compare it is not (2.5 ns of a 13.5 ns
//   yield round trip on an AMD EPYC; tests/bench/hub_bench).
// - Others (Intel): reloaded only when the resumed context's MXCSR control
//   bits (mask 0xffc0: rounding, exception masks, FTZ, DAZ; not the sticky
//   status flags, which any FP arithmetic sets) differ from the ones just
//   saved: there ldmxcsr and fldcw cost more than the rest of the switch.
//   fesetround() and feenableexcept() change both words, so MXCSR tells; a
//   change of the x87 word alone (its precision field) is not noticed.
// The flag's load and branch are predicted; both paths read the same frame.
//
// No CFI: a sampling signal that lands mid-switch unwinds no further than
// this function, which is the truth about that instant.
#include <cpuid.h>

#include <cstring>

extern "C" {
__attribute__((visibility("hidden"))) unsigned char unclog_fiber_switch_reloads = 0;
}

namespace {
// Before any hub can run (a hub started by an earlier constructor compares,
// which is correct everywhere, only slower on AMD).
__attribute__((constructor)) void choose_control_word_path() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  unclog_fiber_switch_reloads = std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0;
}
}  // namespace

asm(R"(
  .text
  .globl unclog_fiber_switch
  .hidden unclog_fiber_switch
  .type unclog_fiber_switch, @function
  .p2align 4
unclog_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsp, %rax
  movq %rsi, %rsp
  cmpb $0, unclog_fiber_switch_reloads(%rip)
  je 3f
2:
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
1:
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
3:
  movl (%rax), %eax
  xorl (%rsp), %eax
  testl $0xffc0, %eax
  jnz 2b
  jmp 1b
  .size unclog_fiber_switch, .-unclog_fiber_switch

  .globl unclog_fiber_start
  .hidden unclog_fiber_start
  .type unclog_fiber_start, @function
  .p2align 4
unclog_fiber_start:
  .cfi_startproc
  .cfi_undefined rip
  callq *%r12
  ud2
  .cfi_endproc
  .size unclog_fiber_start, .-unclog_fiber_start
  .text
)");
