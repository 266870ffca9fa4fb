import CKernels

/// The matrix products of inference (cached prefill and decode, the logits projection), whose
/// result for one row does not depend on the other rows in the batch, on the thread count or on
/// the CPU. They run on training's kernel (`Sources/CKernels/gemm.c`): every output element is
/// one fma chain in ascending k, tiled and split only for speed, so a row's outputs are the bits
/// training's forward gives it. The weights are packed once (`PackedMatrix`), not per call.
public enum InferenceProducts {
    /// Multiply-adds below which one thread does the whole product (a thread hand-off costs
    /// about as much as this many).
    static let workPerThread = 1 << 16

    /// How many pieces to cut `count` units into, for `work` multiply-adds in all (1: no threads),
    /// each of at least `atLeast` units if that leaves a piece per thread.
    static func pieces(count: Int, work: Int, atLeast: Int = 1) -> Int {
        let parts = max(1, min(Parallel.threads, work / workPerThread, count))
        return parts == 1 ? 1 : min(max(parts, count / atLeast), parts * Parallel.piecesPerThread)
    }

    /// Column panels per piece of a product, at least: a piece's first panel is read from memory
    /// without a prefetch (gemm.c), so pieces of 2 panels stall on half of theirs (32 rows
    /// against 512 outputs: 185 -> 200 GFLOP/s with 4).
    static let panelsPerPiece = 4

    /// y [n, o] = x W^T + b with W packed, x [n, i].
    public static func linear(y_NO: Buffer, x_NI: ConstBuffer, w: PackedMatrix, b_O: ConstBuffer?, n: Int) {
        linears([Product(y: y_NO, w: w, b: b_O)], x_NI: x_NI, n: n)
    }

    /// One product of `linears`: y [n, w.outputs] = x W^T + b for the shared x.
    public struct Product {
        public let y: Buffer, w: PackedMatrix, b: ConstBuffer?
        public init(y: Buffer, w: PackedMatrix, b: ConstBuffer?) { self.y = y; self.w = w; self.b = b }

        /// Columns `columns` of y for rows 0..<n: the chains, then the bias.
        func run(x: ConstBuffer, n: Int, columns: Range<Int>) {
            let o = w.outputs
            gemm_f32_prepacked(w.inputs, x, w.inputs, 0, w.panels, y, o, 0, 0, n, columns.lowerBound, columns.upperBound)
            guard let b else { return }
            for r in 0..<n {
                let row = y + r * o
                for c in columns { row[c] += b[c] }
            }
        }
    }

    /// Several products of the same x [n, i] (q, k and v; gate and up) in one hand-off to the
    /// threads: their column panels, laid end to end, are split among the threads as one range.
    /// Same bits as each product alone.
    public static func linears(_ products: [Product], x_NI: ConstBuffer, n: Int) {
        let panel = gemm_tile_columns()
        let panels = products.reduce(0) { $0 + ($1.w.outputs + panel - 1) / panel }
        let i = products[0].w.inputs
        let parts = pieces(count: panels, work: n * i * panels * panel, atLeast: panelsPerPiece)
        Parallel.run(parts: parts) { part in
            let first = panels * part / parts, end = panels * (part + 1) / parts
            var offset = 0  // the first panel of the current product
            for p in products {
                let count = (p.w.outputs + panel - 1) / panel
                let start = max(first, offset) - offset, stop = min(end, offset + count) - offset
                if start < stop { p.run(x: x_NI, n: n, columns: (start * panel)..<min(p.w.outputs, stop * panel)) }
                offset += count
            }
        }
    }

    /// Products of the same x with the same width whose outputs are combined column by column
    /// right after (SwiGLU's gate and up): pieces of column panels compute their columns of
    /// every product, then `combine` those columns while they are in cache; one hand-off where
    /// `linears` and a parallel loop would take two. Same bits as `linears`, then `combine`.
    public static func sideBySide(_ products: [Product], x_NI: ConstBuffer, n: Int, combine: (Range<Int>) -> Void) {
        let panel = gemm_tile_columns(), o = products[0].w.outputs, i = products[0].w.inputs
        let panels = (o + panel - 1) / panel
        let parts = pieces(count: panels, work: n * i * o * products.count, atLeast: panelsPerPiece)
        Parallel.run(parts: parts) { part in
            let columns = (panels * part / parts * panel)..<min(o, panels * (part + 1) / parts * panel)
            guard !columns.isEmpty else { return }
            for p in products { p.run(x: x_NI, n: n, columns: columns) }
            combine(columns)
        }
    }
}

/// A weight matrix W [outputs, inputs] (nn.Linear's layout) packed once into the column panels
/// training's kernel reads (`gemm_pack_b`), so that inference, which multiplies by the same
/// weights every step, never packs them again.
public final class PackedMatrix {
    public let outputs: Int, inputs: Int
    let panels: UnsafeMutablePointer<Float>

    public init(w_OI: ConstBuffer, outputs: Int, inputs: Int) {
        self.outputs = outputs
        self.inputs = inputs
        panels = .allocate(capacity: max(1, gemm_packed_b_floats(outputs, inputs)))
        gemm_pack_b(panels, w_OI, inputs, 1, outputs, inputs)
    }

    deinit { panels.deallocate() }
}
