// What the module's kernels share (a private header, not part of the module's interface): the
// 16-float vector every generic kernel body is written on, and its unaligned load and store.
// Each .c file compiles its bodies once per code path (isa.h), so these are always inlined.
#ifndef VECTOR16_H
#define VECTOR16_H

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

#endif
