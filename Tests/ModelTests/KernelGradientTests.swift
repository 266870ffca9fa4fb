import Testing
@testable import Model

/// Every kernel's backward pass against central finite differences of L = sum(out * r) for a
/// fixed random r, on tiny shapes.
@Suite struct KernelGradientTests {
    struct Random {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
        }
        mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
    }

    /// Compares `analytic` with finite differences of `loss` over `input`.
    func check(_ name: String, _ input: inout [Float], analytic: [Float], loss: ([Float]) -> Double,
               eps: Float = 3e-3, tolerance: Double = 3e-3) {
        #expect(analytic.count == input.count, "\(name): gradient size")
        var worst = 0.0
        for i in input.indices {
            let saved = input[i]
            input[i] = saved + eps
            let up = loss(input)
            input[i] = saved - eps
            let down = loss(input)
            input[i] = saved
            let numeric = (up - down) / Double(2 * eps)
            worst = max(worst, abs(numeric - Double(analytic[i])) / max(1, abs(numeric)))
        }
        #expect(worst < tolerance, "\(name): worst relative error \(worst)")
    }

    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    @Test func linear() {
        var rng = Random(state: 1)
        let n = 5, i = 4, o = 3
        var x = rng.array(n * i), w = rng.array(o * i), b = rng.array(o)
        let r = rng.array(n * o)
        func forward(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: n * o)
            Kernels.linearForward(y_NO: &y, x_NI: x, w_OI: w, b_O: b, n: n, i: i, o: o)
            return y
        }
        var dx = [Float](repeating: 0, count: n * i), dw = [Float](repeating: 0, count: o * i), db = [Float](repeating: 0, count: o)
        Kernels.linearBackward(dx_NI: &dx, dw_OI: &dw, db_O: &db, dy_NO: r, x_NI: x, w_OI: w, n: n, i: i, o: o)
        let (x0, w0, b0) = (x, w, b)
        check("linear x", &x, analytic: dx) { dot(forward($0, w0, b0), r) }
        check("linear w", &w, analytic: dw) { dot(forward(x0, $0, b0), r) }
        check("linear b", &b, analytic: db) { dot(forward(x0, w0, $0), r) }
    }

    @Test func rmsNorm() {
        var rng = Random(state: 2)
        let n = 3, c = 6
        var x = rng.array(n * c), w = rng.array(c)
        let r = rng.array(n * c)
        func forward(_ x: [Float], _ w: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: n * c), rstd = [Float](repeating: 0, count: n)
            Kernels.rmsNormForward(y_NC: &y, rstd_N: &rstd, x_NC: x, w_C: w, n: n, c: c, eps: 1e-5)
            return y
        }
        var rstd = [Float](repeating: 0, count: n), y = [Float](repeating: 0, count: n * c)
        Kernels.rmsNormForward(y_NC: &y, rstd_N: &rstd, x_NC: x, w_C: w, n: n, c: c, eps: 1e-5)
        var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c)
        Kernels.rmsNormBackward(dx_NC: &dx, dw_C: &dw, dy_NC: r, x_NC: x, w_C: w, rstd_N: rstd, n: n, c: c)
        let (x0, w0) = (x, w)
        check("rmsnorm x", &x, analytic: dx) { dot(forward($0, w0), r) }
        check("rmsnorm w", &w, analytic: dw) { dot(forward(x0, $0), r) }
    }

    @Test func layerNorm() {
        var rng = Random(state: 3)
        let n = 3, c = 6
        var x = rng.array(n * c), w = rng.array(c), b = rng.array(c)
        let r = rng.array(n * c)
        func forward(_ x: [Float], _ w: [Float], _ b: [Float]) -> ([Float], [Float], [Float]) {
            var y = [Float](repeating: 0, count: n * c), mean = [Float](repeating: 0, count: n), rstd = [Float](repeating: 0, count: n)
            Kernels.layerNormForward(y_NC: &y, mean_N: &mean, rstd_N: &rstd, x_NC: x, w_C: w, b_C: b, n: n, c: c, eps: 1e-5)
            return (y, mean, rstd)
        }
        let (_, mean, rstd) = forward(x, w, b)
        var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c), db = [Float](repeating: 0, count: c)
        Kernels.layerNormBackward(dx_NC: &dx, dw_C: &dw, db_C: &db, dy_NC: r, x_NC: x, w_C: w, mean_N: mean, rstd_N: rstd, n: n, c: c)
        let (x0, w0, b0) = (x, w, b)
        check("layernorm x", &x, analytic: dx) { dot(forward($0, w0, b0).0, r) }
        check("layernorm w", &w, analytic: dw) { dot(forward(x0, $0, b0).0, r) }
        check("layernorm b", &b, analytic: db) { dot(forward(x0, w0, $0).0, r) }
    }

    @Test func activations() {
        var rng = Random(state: 4)
        let count = 12
        var gate = rng.array(count, scale: 3), up = rng.array(count), x = rng.array(count, scale: 3)
        let r = rng.array(count)
        func swiglu(_ g: [Float], _ u: [Float]) -> [Float] {
            var h = [Float](repeating: 0, count: count)
            Kernels.swigluForward(h_NF: &h, gate_NF: g, up_NF: u, count: count)
            return h
        }
        var dgate = [Float](repeating: 0, count: count), dup = [Float](repeating: 0, count: count)
        Kernels.swigluBackward(dgate_NF: &dgate, dup_NF: &dup, dh_NF: r, gate_NF: gate, up_NF: up, count: count)
        let (g0, u0) = (gate, up)
        check("swiglu gate", &gate, analytic: dgate) { dot(swiglu($0, u0), r) }
        check("swiglu up", &up, analytic: dup) { dot(swiglu(g0, $0), r) }
        func gelu(_ x: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: count)
            Kernels.geluForward(y: &y, x: x, count: count)
            return y
        }
        var dx = [Float](repeating: 0, count: count)
        Kernels.geluBackward(dx: &dx, dy: r, x: x, count: count)
        check("gelu", &x, analytic: dx) { dot(gelu($0), r) }
    }

    @Test func ropeBackwardIsTheInverseRotation() {
        var rng = Random(state: 5)
        let rows = 4, heads = 2, dim = 8
        var x = rng.array(rows * heads * dim)
        let r = rng.array(rows * heads * dim)
        let positions = [0, 1, 5, 17]
        func forward(_ x: [Float]) -> [Float] {
            var y = x
            Kernels.rope(&y, positions: positions, heads: heads, headDim: dim, theta: 10_000)
            return y
        }
        var dx = r
        Kernels.rope(&dx, positions: positions, heads: heads, headDim: dim, theta: 10_000, inverse: true)
        check("rope", &x, analytic: dx) { dot(forward($0), r) }
        var roundTrip = forward(x)
        Kernels.rope(&roundTrip, positions: positions, heads: heads, headDim: dim, theta: 10_000, inverse: true)
        #expect(zip(roundTrip, x).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func groupedQueryAttention() {
        var rng = Random(state: 6)
        let batch = 2, seq = 4, heads = 4, kvHeads = 2, dim = 3
        var q = rng.array(batch * seq * heads * dim), k = rng.array(batch * seq * kvHeads * dim), v = rng.array(batch * seq * kvHeads * dim)
        let r = rng.array(batch * seq * heads * dim)
        func forward(_ q: [Float], _ k: [Float], _ v: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: batch * seq * heads * dim), probs = [Float](repeating: 0, count: batch * heads * seq * seq)
            Kernels.attentionForward(out: &out, probs_BHTT: &probs, q: q, k: k, v: v, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: dim)
            return (out, probs)
        }
        let (_, probs) = forward(q, k, v)
        var dq = [Float](repeating: 0, count: q.count), dk = [Float](repeating: 0, count: k.count), dv = [Float](repeating: 0, count: v.count)
        Kernels.attentionBackward(dq: &dq, dk: &dk, dv: &dv, dout: r, probs_BHTT: probs, q: q, k: k, v: v,
                                  batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: dim)
        let (q0, k0, v0) = (q, k, v)
        check("attention q", &q, analytic: dq) { dot(forward($0, k0, v0).0, r) }
        check("attention k", &k, analytic: dk) { dot(forward(q0, $0, v0).0, r) }
        check("attention v", &v, analytic: dv) { dot(forward(q0, k0, $0).0, r) }
        // Causality: the first position attends only to itself.
        #expect(probs[0] == 1 && probs[1] == 0)
    }

    @Test func crossEntropy() {
        var rng = Random(state: 7)
        let n = 4, vocab = 7
        var logits = rng.array(n * vocab, scale: 3)
        let targets = [2, -1, 6, 0]
        var d = [Float](repeating: 0, count: n * vocab)
        let (loss, count) = Kernels.crossEntropy(logits_NV: logits, targets: targets, dlogits_NV: &d, n: n, v: vocab)
        #expect(count == 3)
        // Reference: log-sum-exp computed directly in Double.
        var reference = 0.0
        for row in [0, 2, 3] {
            let l = (0..<vocab).map { Double(logits[row * vocab + $0]) }
            reference += Foundation.log(l.map { Foundation.exp($0) }.reduce(0, +)) - l[targets[row]]
        }
        #expect(abs(loss - reference / 3) < 1e-6)
        #expect(d[vocab..<(2 * vocab)].allSatisfy { $0 == 0 })
        check("cross-entropy", &logits, analytic: d) {
            Kernels.crossEntropy(logits_NV: $0, targets: targets, dlogits_NV: nil, n: n, v: vocab).loss
        }
    }
}

import Foundation
