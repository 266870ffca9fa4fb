import Dispatch

/// Loops split over the tools' threads (`--threads`, via `BLAS.setThreads`) in contiguous
/// ranges. Only for work whose every result is independent of the split: per-row and
/// per-element loops, and sums over fixed-size chunks (`chunkedSum`), whose order is the same for
/// any thread count. So threads change speed, never a bit.
enum Parallel {
    /// Runs `body(part)` for every part in 0..<parts on Dispatch's pool and returns when all
    /// are done (one part runs on this thread). The one hand-off every parallel loop uses.
    static func run(parts: Int, _ body: (_ part: Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let task = UncheckedTask(body: body)
            DispatchQueue.concurrentPerform(iterations: parts) { part in task.body(part) }
        }
    }

    /// Runs `body` over `parts` contiguous ranges covering 0..<count.
    static func forRanges(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        run(parts: max(1, parts)) { part in body((count * part / parts)..<(count * (part + 1) / parts)) }
    }

    /// Runs `body` over contiguous ranges covering 0..<count, at least `grain` items each.
    static func forRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        forRanges(count, parts: max(1, min(FixedOrder.threads, count / max(grain, 1))), body)
    }

    /// Rows per chunk of a sum over rows: fixed, so the order of additions does not depend on
    /// the thread count.
    static let rowsPerChunk = 256

    /// Sums a per-row vector of `width` floats over `rows` rows into `total` (+=): `body(rows,
    /// partial)` adds the rows of one chunk into its zeroed `partial`, chunks run in parallel,
    /// and the partials are added into `total` in chunk order.
    static func chunkedSum(rows: Int, width: Int, into total: UnsafeMutablePointer<Float>,
                           _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: max(chunks * width, 1))
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: chunks * width)
        let shared = UncheckedPointer(pointer: partials)
        forRanges(chunks, grain: 1) { range in
            for chunk in range {
                body((chunk * rowsPerChunk)..<min(rows, (chunk + 1) * rowsPerChunk), shared.pointer + chunk * width)
            }
        }
        for chunk in 0..<chunks {
            let partial = partials + chunk * width
            for j in 0..<width { total[j] += partial[j] }
        }
    }
}

/// A closure handed to the worker threads of one `run` call, which returns only after they
/// finish (so nothing it captures outlives the call).
private struct UncheckedTask: @unchecked Sendable {
    let body: (Int) -> Void
}

private struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
}
