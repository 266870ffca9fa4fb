// The module's umbrella header: every header of Sources/CKernels/include, named here so that a
// header added later invalidates builds that predate it (an umbrella directory does not).
#include "activations.h"
#include "fixed_order.h"
#include "gemm.h"
#include "thread_pool.h"
