// The module's umbrella header: every header of Sources/CKernels/include, named here so that a
// header added later invalidates builds that predate it (an umbrella directory does not).
#include "activations.h"
#include "attention.h"
#include "gemm.h"
#include "isa.h"
#include "rows.h"
#include "thread_pool.h"
