#ifndef ISA_H
#define ISA_H

/// The code path every kernel of the module runs, chosen once per process from what the CPU and
/// the OS support: 2 = AVX-512, 1 = AVX2 + FMA, 0 = baseline x86-64 (libm's correctly rounded
/// fmaf per lane). The paths do the same IEEE operations in the same order, so they give the
/// same bits; only speed differs. The environment variable RESTEM_KERNEL_ISA ("avx512", "avx2",
/// "generic") forces a path, for tests and benchmarks; a path the CPU lacks falls back to the
/// best one it has.
int kernel_isa_level(void);

/// The chosen path's name: "avx512", "avx2" or "generic".
const char *kernel_isa_name(void);

#endif
