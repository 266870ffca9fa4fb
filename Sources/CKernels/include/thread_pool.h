#ifndef THREAD_POOL_H
#define THREAD_POOL_H

/// Runs `body(context, part)` once for every part in [0, parts) and returns when all have
/// finished, their writes visible to the caller. The calling thread takes parts too, and up to
/// `threads - 1` persistent workers help; parts are handed out one at a time as threads come
/// free, so a thread that another process keeps off its core delays only the part it holds.
///
/// Workers are started on first need (more when `threads` grows; surplus ones stay idle when it
/// shrinks). Between calls they poll for the next one for a short while (SPIN_NS in
/// thread_pool.c), so back-to-back calls cost no wake-up, then sleep: an idle process uses no CPU.
///
/// A call made while the pool is busy with another thread's call, or from inside a part, runs
/// its parts in order on the calling thread: never a deadlock, and (for split-invariant work)
/// the same result. The caller's floating-point environment (MXCSR) is left alone; workers start
/// from the default one, like any fresh thread (the kernels set theirs per call).
void thread_pool_run(int threads, int parts, void (*body)(void *context, int part), void *context);

#endif
