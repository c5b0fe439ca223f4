// The x86-64 System V context switch (see context.hpp for why it is ours).
//
// A suspended context's stack holds, from its saved stack pointer up:
//   8 bytes   MXCSR (low 4) and x87 control word (next 2): callee-saved
//             by the ABI, so a fiber's rounding mode stays its own
//   6 × 8     r15, r14, r13, r12, rbx, rbp
//   8         the return address into the code that switched away
// Both control words are reloaded only when the resumed context's MXCSR
// control bits (mask 0xffc0: rounding, exception masks, FTZ, DAZ; not the
// sticky status flags, which any FP arithmetic sets) differ from the ones
// just saved: ldmxcsr and fldcw cost more than the rest of the switch, and
// reading the x87 word back to compare it stalls on its store (2 ns per
// round trip). fesetround() and feenableexcept() change both words, so
// MXCSR tells; a change of the x87 word alone (its precision field) is not
// noticed.
//
// No CFI: a sampling signal that lands mid-switch unwinds no further than
// this function, which is the truth about that instant.
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
  movl (%rsp), %eax
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  movl (%rsp), %ecx
  xorl %ecx, %eax
  testl $0xffc0, %eax
  jnz 2f
1:
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
2:
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
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
