import CKernels

/// Loops split over the tools' threads (`--threads`, via `BLAS.setThreads`) in contiguous
/// ranges. Only for work whose every result is independent of the split: per-row and
/// per-element loops, and sums over fixed-size chunks (`chunkedSum`), whose order is the same for
/// any thread count. So threads change speed, never a bit.
enum Parallel {
    /// Threads for every parallel loop and product of the engine; `BLAS.setThreads` (the tools'
    /// `--threads`) sets it.
    nonisolated(unsafe) static var threads = 1

    /// Pieces per thread of a parallel loop. Threads take pieces as they come free, so when
    /// another process holds a core (a shared machine), this thread does the pieces the stalled
    /// one would have done instead of waiting for it; with one piece per thread it would wait.
    static let piecesPerThread = 4

    /// Runs `body(part)` for every part in 0..<parts and returns when all are done: the one
    /// hand-off every parallel loop uses. This thread takes parts too, the other threads of the
    /// worker pool in thread_pool.c the rest; they poll for the next call for a while before they
    /// sleep, because inference makes ~35 hand-offs per token of a few tens of microseconds of
    /// work each, about what waking a sleeping thread costs. A call from inside a part, or while
    /// another thread's call holds the pool, runs its parts here in order: the same bits, by the
    /// rule above. `threads` counts this thread; only the tests pass it.
    static func run(parts: Int, threads: Int = Parallel.threads, _ body: (_ part: Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        // The C pool takes a function and a context pointer; the closure cannot escape, since
        // `thread_pool_run` returns only after every part has run.
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: Parts(body: body)) { pointer in
                thread_pool_run(Int32(clamping: threads), Int32(parts), { context, part in
                    context!.assumingMemoryBound(to: Parts.self).pointee.body(Int(part))
                }, UnsafeMutableRawPointer(mutating: pointer))
            }
        }
    }

    /// Runs `body` over `parts` contiguous ranges covering 0..<count.
    static func forRanges(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        run(parts: max(1, parts)) { part in body((count * part / parts)..<(count * (part + 1) / parts)) }
    }

    /// Runs `body` over contiguous ranges covering 0..<count, at least `grain` items each.
    static func forRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        forRanges(count, parts: max(1, min(Parallel.threads * piecesPerThread, count / max(grain, 1))), body)
    }

    /// target[0..<count] = source[0..<count] in parallel pieces: a training step copies and
    /// clears (`zero`) megabytes of activations between its products.
    static func copy(_ target: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, count: Int) {
        pieces(of: target, count: count) { piece, range in piece.update(from: source + range.lowerBound, count: range.count) }
    }

    /// target[0..<count] = 0 in parallel pieces.
    static func zero(_ target: UnsafeMutablePointer<Float>, count: Int) {
        pieces(of: target, count: count) { piece, range in piece.update(repeating: 0, count: range.count) }
    }

    /// `body(target + range.lowerBound, range)` over parallel ranges of 0..<count.
    private static func pieces(of target: UnsafeMutablePointer<Float>, count: Int,
                               _ body: (UnsafeMutablePointer<Float>, Range<Int>) -> Void) {
        let shared = UncheckedPointer(pointer: target)
        forRanges(count, grain: 1 << 16) { range in body(shared.pointer + range.lowerBound, range) }
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

/// The closure of one `run` call, which the pool's threads reach through a pointer.
private struct Parts {
    let body: (Int) -> Void
}

private struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
}
