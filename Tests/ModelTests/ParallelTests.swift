import Foundation
import Testing
@testable import Model

/// `Parallel.run` on the worker pool (Sources/CKernels/thread_pool.c): every part runs exactly
/// once whatever the part and thread counts, also when calls nest or come from several threads
/// at once (other suites call it concurrently too, so some of these calls find the pool busy).
@Suite struct ParallelTests {
    /// How many times each part of one call ran.
    static func runCounts(parts: Int, threads: Int, work: Int = 0) -> [Int] {
        var counts = [Int](repeating: 0, count: parts)
        counts.withUnsafeMutableBufferPointer { counts in
            Parallel.run(parts: parts, threads: threads) { part in
                if work > 0 { spin(work) }
                counts[part] += 1
            }
        }
        return counts
    }

    /// Some arithmetic the optimizer cannot drop, so parts overlap in time.
    static func spin(_ iterations: Int) {
        var x = 1.0
        for i in 0..<iterations { x = x * 1.000001 + Double(i & 1) }
        if x == 0 { print(x) }
    }

    @Test(arguments: [2, 3, 4, 8])
    func everyPartRunsOnce(threads: Int) {
        // Parts with a little work, so that the workers take some (empty ones all go to the caller).
        for parts in [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 64, 100, 257, 1000] {
            #expect(Self.runCounts(parts: parts, threads: threads, work: 300) == [Int](repeating: 1, count: parts),
                    "parts \(parts), threads \(threads)")
        }
        // Parts of unequal length: threads take them as they come free.
        let counts = Self.runCounts(parts: 37, threads: threads, work: 2_000)
        #expect(counts == [Int](repeating: 1, count: 37))
    }

    /// `run` returns only after the parts that workers hold have finished too: the caller takes
    /// part 0, a worker part 1, which takes twice as long; its write is seen on return.
    @Test func returnsWhenEveryPartIsDone() {
        for _ in 0..<50 {
            var finished = [false, false]
            finished.withUnsafeMutableBufferPointer { finished in
                Parallel.run(parts: 2, threads: 2) { part in
                    Self.spin(20_000 * (part + 1))
                    finished[part] = true
                }
            }
            #expect(finished == [true, true])
        }
    }

    @Test func zeroAndOnePart() {
        var calls = 0
        Parallel.run(parts: 0, threads: 4) { _ in calls += 1 }
        #expect(calls == 0)
        let caller = Thread.current
        var ranOnCaller = false
        Parallel.run(parts: 1, threads: 4) { part in
            calls += 1
            ranOnCaller = part == 0 && Thread.current == caller
        }
        #expect(calls == 1 && ranOnCaller)
    }

    /// The thread count may change between calls (`BLAS.setThreads`): more workers start, surplus
    /// ones stay out.
    @Test func changingThreadCounts() {
        for threads in [2, 5, 1, 3, 2, 6, 2] {
            #expect(Self.runCounts(parts: 50, threads: threads, work: 200) == [Int](repeating: 1, count: 50))
        }
    }

    /// A part that calls `run` again (the inner call runs serially on that part's thread).
    @Test func nestedCalls() {
        let outer = 12, inner = 9
        var grid = [Int](repeating: 0, count: outer * inner * inner)
        grid.withUnsafeMutableBufferPointer { grid in
            Parallel.run(parts: outer, threads: 3) { o in
                Parallel.run(parts: inner, threads: 3) { i in
                    Self.spin(300)
                    Parallel.run(parts: inner, threads: 3) { j in grid[(o * inner + i) * inner + j] += 1 }
                }
            }
        }
        #expect(grid == [Int](repeating: 1, count: outer * inner * inner))
    }

    /// Several threads calling at once: one gets the pool, the others run their parts alone;
    /// each call still runs its own parts exactly once, and none waits forever.
    @Test func concurrentCallers() {
        final class Failures: @unchecked Sendable {
            let lock = NSLock()
            var list: [String] = []
            func add(_ text: String) { lock.withLock { list.append(text) } }
        }
        let failures = Failures()
        let finished = DispatchSemaphore(value: 0)
        let callers = 6, calls = 300
        for caller in 0..<callers {
            Thread {
                for call in 0..<calls {
                    let parts = (call * 7 + caller) % 23
                    let counts = Self.runCounts(parts: parts, threads: 2 + caller % 3, work: call % 5 == 0 ? 500 : 0)
                    if counts != [Int](repeating: 1, count: parts) {
                        failures.add("caller \(caller) call \(call): \(counts)")
                    }
                }
                finished.signal()
            }.start()
        }
        for _ in 0..<callers { #expect(finished.wait(timeout: .now() + 300) == .success) }
        #expect(failures.list.isEmpty, "\(failures.list.prefix(5))")
    }

    /// The pool's workers do take parts: some call of a few tries puts parts on two threads. (A
    /// try can find the pool busy with another suite's call and run alone, hence the tries.)
    @Test func workersTakeParts() {
        var spread = false
        for _ in 0..<200 where !spread {
            var runners = [pthread_t?](repeating: nil, count: 16)
            runners.withUnsafeMutableBufferPointer { runners in
                Parallel.run(parts: 16, threads: 2) { part in
                    Self.spin(20_000)
                    runners[part] = pthread_self()
                }
            }
            spread = Set(runners.compactMap { $0 }).count > 1
        }
        #expect(spread)
    }
}
