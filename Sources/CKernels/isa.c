// The code path of the module's kernels (see isa.h), chosen once per process.
#include "isa.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum isa { ISA_GENERIC, ISA_AVX2, ISA_AVX512 };
static const char *const isa_names[] = {"generic", "avx2", "avx512"};
static enum isa chosen_isa = ISA_GENERIC;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

/// What the CPU and the OS support (the OS must save the wider registers: XCR0).
static enum isa best_isa(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return ISA_GENERIC;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (!fma || !osxsave) return ISA_GENERIC;
    unsigned xcr0_low, xcr0_high;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return ISA_GENERIC;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (avx512f && (xcr0_low & 0xE0) == 0xE0) return ISA_AVX512;
    return avx2 ? ISA_AVX2 : ISA_GENERIC;
}

static void choose_isa(void) {
    enum isa best = best_isa();
    chosen_isa = best;
    const char *forced = getenv("RESTEM_KERNEL_ISA");
    if (!forced) return;
    for (int candidate = ISA_GENERIC; candidate <= best; candidate++)
        if (strcmp(forced, isa_names[candidate]) == 0) chosen_isa = (enum isa)candidate;
}

int kernel_isa_level(void) {
    pthread_once(&choose_once, choose_isa);
    return (int)chosen_isa;
}

const char *kernel_isa_name(void) {
    pthread_once(&choose_once, choose_isa);
    return isa_names[chosen_isa];
}
