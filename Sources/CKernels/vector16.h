// What the module's kernels share (a private header, not part of the module's interface): the
// 16-float vector every generic kernel body is written on, its unaligned load and store, and the
// code paths. Each .c file compiles its bodies once per code path (isa.h), so these are always
// inlined, and calls the path's copy through DISPATCH.
#ifndef VECTOR16_H
#define VECTOR16_H

#include "isa.h"

#include <string.h>

// Every multiply-add is an explicit fma; the compiler must not fuse anything else.
#pragma clang fp contract(off)
// The helpers take and return 16-lane vectors; they are always inlined, so no call ever passes
// one across the different register conventions of the code paths.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v16 __attribute__((ext_vector_type(16)));
#define INLINE static inline __attribute__((always_inline))
#define FMA __builtin_elementwise_fma

INLINE v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }

/// The code path of every kernel of the module (`kernel_isa_level`, RESTEM_KERNEL_ISA).
enum path { PATH_GENERIC, PATH_AVX2, PATH_AVX512 };

/// Calls NAME_avx512, NAME_avx2 or NAME_generic (each defined by the file's DEFINE_PATHS) by path.
#define DISPATCH(NAME, ...)                                                                                    \
    do {                                                                                                       \
        const enum path path = (enum path)kernel_isa_level();                                                  \
        if (path == PATH_AVX512) NAME##_avx512(__VA_ARGS__);                                                   \
        else if (path == PATH_AVX2) NAME##_avx2(__VA_ARGS__);                                                  \
        else NAME##_generic(__VA_ARGS__);                                                                      \
    } while (0)

#endif
