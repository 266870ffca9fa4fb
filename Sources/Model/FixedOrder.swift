import CKernels

/// The matrix products of inference (cached prefill and decode, the logits projection): our own
/// kernel, whose result for one row does not depend on the other rows in the batch, on the
/// thread count or on the CPU. Each output element is one dot product over k in a fixed order
/// (16 FMA lanes over k, then a fixed lane-reduction tree: `Sources/CKernels/fixed_order.c`);
/// rows and columns are tiled only for speed. OpenBLAS, which training keeps, picks its sgemm
/// kernel by CPU and matrix shape, so there a row's logits change with the batch it sits in.
public enum FixedOrder {
    /// Threads for the fixed-order products; `BLAS.setThreads` (the tools' `--threads`) sets both.
    nonisolated(unsafe) public internal(set) static var threads = 1

    /// The code path the kernel runs on this CPU: "avx512", "avx2" or "generic" (no FMA
    /// instruction: slow, same result). `RESTEM_KERNEL_ISA` can force a lesser one.
    public static var instructionSet: String { String(cString: fixed_order_isa()) }

    /// Multiply-adds below which one thread does the whole product (a thread hand-off costs
    /// about as much as this many).
    static let workPerThread = 1 << 16

    /// Pieces per thread of a parallel step. Threads take pieces as they come free, so when
    /// another process holds a core (a shared machine), this thread does the pieces the stalled
    /// one would have done instead of waiting for it; with one piece per thread it would wait.
    static let piecesPerThread = 4

    /// How many pieces to cut `count` units into, for `work` multiply-adds in all (1: no threads).
    static func pieces(count: Int, work: Int) -> Int {
        let parts = max(1, min(threads, work / workPerThread, count))
        return parts == 1 ? 1 : min(count, parts * piecesPerThread)
    }

    /// y = x W^T + b with W stored [out, in], like `Kernels.linearForward`, in a fixed order.
    /// Threads take disjoint ranges of output columns (multiples of 16), never parts of a sum.
    public static func linear(y_NO: Buffer, x_NI: ConstBuffer, w_OI: ConstBuffer, b_O: ConstBuffer?, n: Int, i: Int, o: Int) {
        linears([Product(y: y_NO, w: w_OI, b: b_O, o: o)], x_NI: x_NI, n: n, i: i)
    }

    /// One product of `linears`: y [n, o] = x W^T + b for the shared x.
    public struct Product {
        public let y: Buffer, w: ConstBuffer, b: ConstBuffer?, o: Int
        public init(y: Buffer, w: ConstBuffer, b: ConstBuffer?, o: Int) { self.y = y; self.w = w; self.b = b; self.o = o }
    }

    /// Several products of the same x [n, i] (q, k and v; gate and up) in one hand-off to the
    /// threads: their columns, in 16-column groups, are split among the threads as one range,
    /// so one dispatch does what `linear` would do in several. Same bits as `linear`.
    public static func linears(_ products: [Product], x_NI: ConstBuffer, n: Int, i: Int) {
        let groups = products.reduce(0) { $0 + ($1.o + 15) / 16 }
        let parts = pieces(count: groups, work: n * i * groups * 16)
        guard parts > 1 else {
            for p in products { fixed_order_linear(p.y, x_NI, p.w, p.b, n, i, p.o, 0, p.o) }
            return
        }
        let split = ProductSplit(products: products, x: x_NI, n: n, i: i, groups: groups, parts: parts)
        Parallel.run(parts: parts) { part in split.run(part) }
    }

    /// Products of the same x with the same width whose outputs are combined column by column
    /// right after (SwiGLU's gate and up): pieces of 16-column groups compute their columns of
    /// every product, then `combine` those columns while they are in cache; one hand-off where
    /// `linears` and a parallel loop would take two. Same bits as `linears`, then `combine`.
    public static func sideBySide(_ products: [Product], x_NI: ConstBuffer, n: Int, i: Int, o: Int,
                                  combine: (Range<Int>) -> Void) {
        let groups = (o + 15) / 16
        let parts = pieces(count: groups, work: n * i * o * products.count)
        withoutActuallyEscaping(combine) { combine in
            let split = SideBySide(products: products, x: x_NI, n: n, i: i, o: o, groups: groups, parts: parts, combine: combine)
            if parts == 1 {
                split.run(0)
            } else {
                Parallel.run(parts: parts) { part in split.run(part) }
            }
        }
    }

    private struct SideBySide: @unchecked Sendable {
        let products: [Product], x: ConstBuffer, n: Int, i: Int, o: Int, groups: Int, parts: Int
        let combine: (Range<Int>) -> Void

        func run(_ part: Int) {
            let start = groups * part / parts * 16, end = min(o, groups * (part + 1) / parts * 16)
            guard start < end else { return }
            for p in products { fixed_order_linear(p.y, x, p.w, p.b, n, i, o, start, end) }
            combine(start..<end)
        }
    }

    /// Part p computes the 16-column groups [groups * p / parts, groups * (p + 1) / parts) of
    /// the products' columns laid end to end.
    private struct ProductSplit: @unchecked Sendable {
        let products: [Product], x: ConstBuffer, n: Int, i: Int, groups: Int, parts: Int

        func run(_ part: Int) {
            let first = groups * part / parts, end = groups * (part + 1) / parts
            var offset = 0  // the first group of the current product
            for p in products {
                let count = (p.o + 15) / 16
                let start = max(first, offset) - offset, stop = min(end, offset + count) - offset
                if start < stop { fixed_order_linear(p.y, x, p.w, p.b, n, i, p.o, start * 16, min(p.o, stop * 16)) }
                offset += count
            }
        }
    }

    /// Attention scores of `rows` query heads (consecutive rows of `headDim` in `q_RD`) against
    /// `count` cached keys `stride` floats apart: scores_RT[r, t] = q[r] · key[t], in the same
    /// fixed order as `linear`.
    static func scores(_ scores_RT: Buffer, q_RD: ConstBuffer, keys: ConstBuffer, stride: Int, rows: Int, headDim: Int, count: Int) {
        fixed_order_linear_strided(scores_RT, q_RD, keys, stride, nil, rows, headDim, count, 0, count)
    }

    /// out[j] = sum over t < count of weights[t] * values[t * stride + j], each element summed in
    /// ascending t with fma (attention's weighted sum of the cached values).
    static func weightedSum(_ out_D: Buffer, weights_T: ConstBuffer, values: ConstBuffer, stride: Int, count: Int, width: Int) {
        fixed_order_weighted_sum(out_D, weights_T, values, stride, count, width)
    }
}
