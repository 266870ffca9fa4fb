// The engine's one parallel hand-off (see thread_pool.h): a caller and persistent workers take
// the parts of one job from a shared counter. Workers poll for the next job for a bounded time,
// then sleep on a condition variable.
//
// Job protocol. `claim` packs the job's generation (high 32 bits) and its next unclaimed part
// (low 32 bits). The owner of the pool posts a job by storing a new generation with the counter
// CLOSED, writing the job's fields, then opening the counter at 0. A worker that sees an open
// generation g reads the fields, then claims a part with a compare-and-swap that expects g and a
// part below the count: it can only claim a part of the job whose fields it read (see `work`).
// The caller returns once `done`, the count of finished parts, reaches `parts`; a worker that
// arrives late finds every part claimed and touches nothing of the caller's.
#include "thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

// How an idle worker, or a caller waiting for the last parts, waits before it sleeps (measured
// on a 2-core VM; hand-offs come in bursts). Between the hand-offs of one burst the gaps are
// mostly under 4 us (products back to back), the rest under ~150 us (a token's norms, attention
// and sampling; training's gaps are under 32 us, or milliseconds between steps). So: pause-poll
// for PAUSE_NS, which catches the next job within ~0.1 us; then poll with sched_yield, which lets
// another runnable thread have this core (on a shared machine that is often our own caller:
// pure spinning for 200 us made one-sequence sampling 1.6x slower while another process held a
// core, yielding did not); sleep after SPIN_NS, so a burst's end costs at most 200 us of polling
// and an idle process uses no CPU. A wake-up from sleep costs ~5-50 us, hence the polling.
enum { PAUSE_NS = 5 * 1000, SPIN_NS = 200 * 1000 };
// Pauses between two reads of the clock while pause-polling (a pause is 10-150 cycles).
enum { POLLS_PER_CLOCK = 32 };
enum { MAX_WORKERS = 256 };
// The part counter of a generation whose fields are being written: no part can be claimed.
#define CLOSED UINT32_MAX

typedef void (*body_fn)(void *context, int part);

static struct {
    _Alignas(64) _Atomic uint64_t claim;  // generation << 32 | next unclaimed part
    _Atomic(body_fn) body;                // the current job's fields, stored (release) before
    _Atomic(void *) context;              // its generation is opened
    _Atomic int parts;
    _Atomic int helpers;                  // workers with an index below this one help (a hint)
    _Alignas(64) _Atomic int done;        // parts finished
    _Atomic int caller_sleeping;          // the owner is asleep or about to be, waiting for `done`
    _Alignas(64) _Atomic int busy;        // a caller owns the pool
    int started;                          // workers running (only the owner changes it)
    uint32_t generation;                  // the last generation posted (owner only)
    pthread_mutex_t lock;                 // for the sleeps below
    pthread_cond_t job_done;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .job_done = PTHREAD_COND_INITIALIZER,
};

// Each worker sleeps on its own condition, so a post wakes only the workers it wants.
static struct worker {
    _Alignas(64) _Atomic int sleeping;    // asleep or about to be
    pthread_cond_t wake;
} workers[MAX_WORKERS];

// Set on workers, and on a caller while it runs a job: a call from inside a part runs serially.
static _Thread_local int inside_pool;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// One step of a bounded wait that began at `since`: a pause, and every POLLS_PER_CLOCK pauses a
// look at the clock and, after PAUSE_NS, a yield; 0 once it is time to sleep. `polls` counts the
// steps since the last look (0 at the start).
static int poll_step(uint64_t since, int *polls) {
    if (++*polls >= POLLS_PER_CLOCK) {
        *polls = 0;
        uint64_t waited = now_ns() - since;
        if (waited >= SPIN_NS) return 0;
        if (waited >= PAUSE_NS) sched_yield();
    }
    CPU_RELAX();
    return 1;
}

static uint32_t generation_of(uint64_t claim) { return (uint32_t)(claim >> 32); }
static uint32_t part_of(uint64_t claim) { return (uint32_t)claim; }

// Parts of the job of generation `generation` (open: its fields are written), until none is
// left unclaimed; 1 if this thread ran any.
static int work(uint32_t generation) {
    // Acquire: if a read sees the fields of a later job, whose owner closed this generation
    // before writing them, the claims below see that and fail; a success means they are ours.
    body_fn body = atomic_load_explicit(&pool.body, memory_order_acquire);
    void *context = atomic_load_explicit(&pool.context, memory_order_acquire);
    uint32_t parts = (uint32_t)atomic_load_explicit(&pool.parts, memory_order_acquire);
    uint64_t claim = atomic_load_explicit(&pool.claim, memory_order_acquire);
    int ran = 0;
    while (generation_of(claim) == generation && part_of(claim) < parts) {
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &claim, claim + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        body(context, (int)part_of(claim));
        ran = 1;
        // Release: the part's writes are visible to the caller that sees the count. The last
        // part wakes the caller if it sleeps (the handshake of `thread_pool_run`'s wait).
        if ((uint32_t)atomic_fetch_add_explicit(&pool.done, 1, memory_order_seq_cst) + 1 == parts
            && atomic_load_explicit(&pool.caller_sleeping, memory_order_seq_cst)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_broadcast(&pool.job_done);
            pthread_mutex_unlock(&pool.lock);
        }
        claim = atomic_load_explicit(&pool.claim, memory_order_acquire);
    }
    return ran;
}

static void *worker_main(void *argument) {
    int index = (int)(intptr_t)argument;
    struct worker *self = &workers[index];
    inside_pool = 1;
#if defined(__x86_64__)
    // A new thread inherits its creator's MXCSR; start from the default, as any fresh thread.
    _mm_setcsr(0x1F80);
#endif
    uint32_t seen = generation_of(atomic_load_explicit(&pool.claim, memory_order_acquire));
    uint64_t idle_since = now_ns();
    int polls = 0;
    for (;;) {
        uint64_t claim = atomic_load_explicit(&pool.claim, memory_order_acquire);
        // A CLOSED generation is being posted: it opens in a moment (unless the owner is
        // preempted, so it is waited for like any job).
        if (generation_of(claim) != seen && part_of(claim) != CLOSED) {
            seen = generation_of(claim);
            if (index < atomic_load_explicit(&pool.helpers, memory_order_relaxed)) {
                work(seen);
                idle_since = now_ns();
                polls = 0;
            }
            continue;
        }
        if (poll_step(idle_since, &polls)) continue;
        // Sleep until a new generation opens. The owner opens it and then reads `sleeping`;
        // this thread sets `sleeping` and then reads `claim` (both seq_cst), so either it sees
        // the open job or the owner sees it asleep and signals it under the lock.
        pthread_mutex_lock(&pool.lock);
        atomic_store_explicit(&self->sleeping, 1, memory_order_seq_cst);
        for (;;) {
            claim = atomic_load_explicit(&pool.claim, memory_order_seq_cst);
            if (generation_of(claim) != seen && part_of(claim) != CLOSED) break;
            pthread_cond_wait(&self->wake, &pool.lock);
        }
        atomic_store_explicit(&self->sleeping, 0, memory_order_relaxed);
        pthread_mutex_unlock(&pool.lock);
    }
    return NULL;
}

static void run_serially(int parts, body_fn body, void *context) {
    for (int part = 0; part < parts; part++) body(context, part);
}

// Starts workers until `wanted` run (or a thread cannot be created); owner only.
static void start_workers(int wanted) {
    while (pool.started < wanted) {
        pthread_cond_init(&workers[pool.started].wake, NULL);
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attributes, 8u << 20);  // Swift code runs here; like a main thread's
        pthread_t thread;
        int failed = pthread_create(&thread, &attributes, worker_main, (void *)(intptr_t)pool.started);
        pthread_attr_destroy(&attributes);
        if (failed) {
            pthread_cond_destroy(&workers[pool.started].wake);
            return;
        }
        pool.started++;
    }
}

void thread_pool_run(int threads, int parts, body_fn body, void *context) {
    if (parts <= 0) return;
    int expected = 0;
    if (parts == 1 || threads <= 1 || inside_pool
        || !atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire,
                                                    memory_order_relaxed)) {
        run_serially(parts, body, context);
        return;
    }
    start_workers(threads - 1 < MAX_WORKERS ? threads - 1 : MAX_WORKERS);
    int helpers = threads - 1 < parts - 1 ? threads - 1 : parts - 1;
    if (helpers > pool.started) helpers = pool.started;
    if (helpers == 0) {
        atomic_store_explicit(&pool.busy, 0, memory_order_release);
        run_serially(parts, body, context);
        return;
    }

    // Post the job: close a new generation, write the fields, open it (see `work`).
    uint64_t generation = ++pool.generation;
    atomic_store_explicit(&pool.claim, generation << 32 | CLOSED, memory_order_relaxed);
    atomic_store_explicit(&pool.body, body, memory_order_release);
    atomic_store_explicit(&pool.context, context, memory_order_release);
    atomic_store_explicit(&pool.parts, parts, memory_order_release);
    atomic_store_explicit(&pool.helpers, helpers, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.claim, generation << 32, memory_order_seq_cst);
    for (int i = 0; i < helpers; i++) {
        if (atomic_load_explicit(&workers[i].sleeping, memory_order_seq_cst)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&workers[i].wake);
            pthread_mutex_unlock(&pool.lock);
        }
    }

    // Take parts like a worker; only this thread can end the generation, so a plain increment
    // claims (it overshoots `parts` by one at the end, which workers read as "none left").
    inside_pool = 1;
    int ran = 0;
    for (;;) {
        uint32_t part = part_of(atomic_fetch_add_explicit(&pool.claim, 1, memory_order_acq_rel));
        if (part >= (uint32_t)parts) break;
        body(context, (int)part);
        ran++;
    }
    inside_pool = 0;

    // Wait for the parts the workers hold: poll, then sleep (the same handshake as theirs).
    if (atomic_fetch_add_explicit(&pool.done, ran, memory_order_seq_cst) + ran != parts) {
        uint64_t since = now_ns();
        int polls = 0;
        while (atomic_load_explicit(&pool.done, memory_order_acquire) != parts) {
            if (poll_step(since, &polls)) continue;
            pthread_mutex_lock(&pool.lock);
            atomic_store_explicit(&pool.caller_sleeping, 1, memory_order_seq_cst);
            while (atomic_load_explicit(&pool.done, memory_order_seq_cst) != parts)
                pthread_cond_wait(&pool.job_done, &pool.lock);
            atomic_store_explicit(&pool.caller_sleeping, 0, memory_order_relaxed);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}
