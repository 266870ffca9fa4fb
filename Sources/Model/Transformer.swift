import Foundation
import Formats

/// One tensor of the model as Hugging Face names and stores it, and where it lives in our flat
/// parameter buffer. Our matrices are [out, in]; GPT-2's Conv1D stores [in, out] on disk.
public struct ParameterTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let transposedOnDisk: Bool
    /// AdamW weight decay applies to matrices and embeddings, not to norms and biases.
    public let decays: Bool
    public var count: Int { shape.reduce(1, *) }
}

/// Offsets of one block's parameters (nil where the architecture has none).
struct BlockOffsets {
    var norm1W = 0, norm1B: Int?
    var q = 0, k = 0, v = 0, qB: Int?, kB: Int?, vB: Int?
    var o = 0, oB: Int?
    var norm2W = 0, norm2B: Int?
    var gate: Int?, up = 0, upB: Int?, down = 0, downB: Int?
}

/// A decoder-only transformer (llama / qwen2 / gpt2) with a full backward pass. Parameters and
/// gradients are two flat Float buffers; `tensors` maps Hugging Face names onto them.
public final class Transformer {
    public let config: ModelConfig
    public private(set) var tensors: [ParameterTensor] = []
    public var parameters: [Float] {
        didSet { packedInferenceWeights = nil }  // stale once a weight changes
    }
    public var gradients: [Float]
    var blocks: [BlockOffsets] = []
    var embedding = 0, positions: Int?, finalNormW = 0, finalNormB: Int?, head = 0
    /// The buffers of the last training step, reused by the next (see `TrainingWorkspace`).
    var trainingWorkspace: TrainingWorkspace?
    /// The weight matrices packed for inference's products, built on first use after any change.
    var packedInferenceWeights: InferenceWeights?
    let inferenceWeightsLock = NSLock()

    public var parameterCount: Int { parameters.count }

    public init(config: ModelConfig) {
        self.config = config
        parameters = []
        gradients = []
        var size = 0
        func add(_ name: String, _ shape: [Int], transposed: Bool = false, decays: Bool) -> Int {
            let tensor = ParameterTensor(name: name, shape: shape, offset: size, transposedOnDisk: transposed, decays: decays)
            tensors.append(tensor)
            size += tensor.count
            return tensor.offset
        }
        let d = config.hiddenSize, ff = config.intermediateSize, hd = config.headDim
        let qOut = config.heads * hd, kvOut = config.kvHeads * hd
        switch config.architecture {
        case .llama, .qwen2:
            embedding = add("model.embed_tokens.weight", [config.vocabSize, d], decays: true)
            for l in 0..<config.layers {
                let p = "model.layers.\(l)."
                var b = BlockOffsets()
                b.norm1W = add(p + "input_layernorm.weight", [d], decays: false)
                b.q = add(p + "self_attn.q_proj.weight", [qOut, d], decays: true)
                b.k = add(p + "self_attn.k_proj.weight", [kvOut, d], decays: true)
                b.v = add(p + "self_attn.v_proj.weight", [kvOut, d], decays: true)
                if config.attentionBias {
                    b.qB = add(p + "self_attn.q_proj.bias", [qOut], decays: false)
                    b.kB = add(p + "self_attn.k_proj.bias", [kvOut], decays: false)
                    b.vB = add(p + "self_attn.v_proj.bias", [kvOut], decays: false)
                }
                b.o = add(p + "self_attn.o_proj.weight", [d, qOut], decays: true)
                b.norm2W = add(p + "post_attention_layernorm.weight", [d], decays: false)
                b.gate = add(p + "mlp.gate_proj.weight", [ff, d], decays: true)
                b.up = add(p + "mlp.up_proj.weight", [ff, d], decays: true)
                b.down = add(p + "mlp.down_proj.weight", [d, ff], decays: true)
                blocks.append(b)
            }
            finalNormW = add("model.norm.weight", [d], decays: false)
            head = config.tiedEmbeddings ? embedding : add("lm_head.weight", [config.vocabSize, d], decays: true)
        case .gpt2:
            embedding = add("transformer.wte.weight", [config.vocabSize, d], decays: true)
            positions = add("transformer.wpe.weight", [config.maxPositions, d], decays: true)
            for l in 0..<config.layers {
                let p = "transformer.h.\(l)."
                var b = BlockOffsets()
                b.norm1W = add(p + "ln_1.weight", [d], decays: false)
                b.norm1B = add(p + "ln_1.bias", [d], decays: false)
                // c_attn is one [d, 3d] Conv1D on disk: q, k, v rows back to back here.
                b.q = add(p + "attn.c_attn.weight", [3 * d, d], transposed: true, decays: true)
                b.k = b.q + d * d
                b.v = b.k + d * d
                b.qB = add(p + "attn.c_attn.bias", [3 * d], decays: false)
                b.kB = b.qB! + d
                b.vB = b.kB! + d
                b.o = add(p + "attn.c_proj.weight", [d, d], transposed: true, decays: true)
                b.oB = add(p + "attn.c_proj.bias", [d], decays: false)
                b.norm2W = add(p + "ln_2.weight", [d], decays: false)
                b.norm2B = add(p + "ln_2.bias", [d], decays: false)
                b.up = add(p + "mlp.c_fc.weight", [ff, d], transposed: true, decays: true)
                b.upB = add(p + "mlp.c_fc.bias", [ff], decays: false)
                b.down = add(p + "mlp.c_proj.weight", [d, ff], transposed: true, decays: true)
                b.downB = add(p + "mlp.c_proj.bias", [d], decays: false)
                blocks.append(b)
            }
            finalNormW = add("transformer.ln_f.weight", [d], decays: false)
            finalNormB = add("transformer.ln_f.bias", [d], decays: false)
            head = embedding
        }
        parameters = [Float](repeating: 0, count: size)
        gradients = [Float](repeating: 0, count: size)
    }

    /// GPT-2-style initialization: N(0, 0.02) matrices and embeddings, unit norm weights, zero
    /// biases; deterministic in `seed`.
    public func initializeRandomly(seed: UInt64) {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        for tensor in tensors {
            let isNormWeight = !tensor.decays && tensor.name.hasSuffix("weight")
            for i in tensor.offset..<(tensor.offset + tensor.count) {
                if tensor.decays {
                    parameters[i] = Float((-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * .pi * uniform()) * 0.02)
                } else {
                    parameters[i] = isNormWeight ? 1 : 0
                }
            }
        }
    }
}

extension Transformer {
    /// The architecture's normalization (LayerNorm for gpt2, RMSNorm otherwise) over n rows;
    /// `mean` is only written for LayerNorm. `bias` is the LayerNorm bias offset.
    func normForward(_ y: Buffer, mean: Buffer, rstd: Buffer, x: ConstBuffer, weight: Int, bias: Int?, n: Int,
                     parameters p: ConstBuffer) {
        let d = config.hiddenSize
        if let bias {
            Kernels.layerNormForward(y_NC: y, mean_N: mean, rstd_N: rstd, x_NC: x, w_C: p + weight, b_C: p + bias, n: n, c: d, eps: config.normEps)
        } else {
            Kernels.rmsNormForward(y_NC: y, rstd_N: rstd, x_NC: x, w_C: p + weight, n: n, c: d, eps: config.normEps)
        }
    }

    /// `accumulate` adds the input gradient into `dx` (the residual stream's) instead of
    /// overwriting it.
    func normBackward(dx: Buffer, dy: ConstBuffer, x: ConstBuffer, mean: ConstBuffer, rstd: ConstBuffer, weight: Int, bias: Int?,
                      n: Int, parameters p: ConstBuffer, gradients g: Buffer, accumulate: Bool = false) {
        let d = config.hiddenSize
        if let bias {
            Kernels.layerNormBackward(dx_NC: dx, dw_C: g + weight, db_C: g + bias, dy_NC: dy, x_NC: x, w_C: p + weight,
                                      mean_N: mean, rstd_N: rstd, n: n, c: d, accumulate: accumulate)
        } else {
            Kernels.rmsNormBackward(dx_NC: dx, dw_C: g + weight, dy_NC: dy, x_NC: x, w_C: p + weight, rstd_N: rstd, n: n, c: d,
                                    accumulate: accumulate)
        }
    }
}
