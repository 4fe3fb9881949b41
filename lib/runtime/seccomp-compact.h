/* A smaller seccomp program with the same decisions as a given one.
 *
 * libseccomp compiles Docker's profile for three x86 ABIs to about 1200
 * instructions, most of them one comparison per system call; the kernel
 * checks, converts and JIT-compiles all of them at every container start
 * (a fifth of a millisecond). The decision a program makes for a system
 * call number is the same over whole ranges of numbers: seccomp_compact()
 * finds those ranges by evaluating the program, and emits a binary search
 * over them per architecture, each range ending in its action, or, where
 * the decision looks at the arguments, in the original program's own
 * argument checks specialised to that number (partial evaluation).
 *
 * Safe by construction and by check: it handles only the instructions
 * libseccomp emits (loads of seccomp_data, AND, jumps against constants,
 * returns of constants) and refuses anything else, and before it returns
 * it runs both programs on every architecture it saw and a large set of
 * numbers and arguments (every range's ends, every constant in the
 * program and its neighbours, all small numbers, pseudo-random values)
 * and refuses on any difference. A caller that is refused keeps the
 * original program. */
#ifndef BERTH_RUNTIME_SECCOMP_COMPACT_H
#define BERTH_RUNTIME_SECCOMP_COMPACT_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

/* The action prog returns for d (a classic BPF interpreter of the
 * instructions seccomp_compact accepts; UINT32_MAX for any other
 * instruction or a jump out of the program). */
uint32_t seccomp_bpf_eval(const struct sock_fprog *prog, const struct seccomp_data *d);

/* The compact equivalent of prog in *ret (ret->filter malloc'd), or -1 with
 * the reason in why (the caller keeps prog). */
int seccomp_compact(const struct sock_fprog *prog, struct sock_fprog *ret, char *why,
                    size_t why_len);

#endif
