import Foundation
import Model
import Testing

/// `generate` writes the same bytes whatever the batch size, the thread count and the CPU's
/// BLAS kernel (OPENBLAS_CORETYPE, read when OpenBLAS loads, so one process per setting): the
/// inference products run on our own kernel (gemm.c), not on OpenBLAS. Before it, OpenBLAS's
/// SKYLAKEX kernels gave batch 1 and batch 64 different samples.
@Suite struct BatchInvarianceTests {
    let dir = ToolTempDir()
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Problems of the demo task's form (the shipped base model's prompt is `Q{{problem}}:`).
    static let problems = ["18+4+7", "15*6+1-0-6", "14-3", "7*2-5", "19-9+3*2", "3+8", "12-4*3", "6*3-9+2",
                           "11+5-7", "0*9+4", "16-2-8+5", "9*2"]

    /// The shipped base model with two near-twin tokens: the rows of `Q` and `:` in the tied
    /// embedding become those of `1` and `2` times (1 + 1e-6 x a fixed pattern). Where the
    /// model predicts `1`, the logits of `1` and `Q` then differ by about the rounding error of
    /// a dot product, so the token picked, and the order of the sampling candidates, depend on
    /// the last bits of the logits: a kernel whose rounding changed with the batch would show.
    func makeTwinModel() throws -> String {
        let model = try Transformer.load(directory: Self.repository + "/demo/base")
        let embedding = model.tensors.first { $0.name == "model.embed_tokens.weight" }!
        let width = model.config.hiddenSize
        for (original, twin) in [(2, 17), (3, 18)] {
            for j in 0..<width {
                let pattern = Float((j * 37) % 19 - 9) / 9
                model.parameters[embedding.offset + twin * width + j] =
                    model.parameters[embedding.offset + original * width + j] * (1 + 1e-6 * pattern)
            }
        }
        let path = dir.path("twin")
        try model.save(directory: path, tokenizerSource: Self.repository + "/demo/base")
        return path
    }

    @Test func samplesAreTheSameForEveryBatchSizeThreadCountAndBLASKernel() throws {
        let model = try makeTwinModel()
        let lines = Self.problems.enumerated().map { #"{"id":"p\#($0.offset)","task":"math","problem":"\#($0.element)","answer":"0"}"# }
        try lines.joined(separator: "\n").write(to: dir.url("p.jsonl"), atomically: true, encoding: .utf8)
        try "Q{{problem}}:".write(to: dir.url("prompt.txt"), atomically: true, encoding: .utf8)
        let common = ["--model", model, dir.path("p.jsonl"), "--template", dir.path("prompt.txt"), "--max-tokens", "32", "-o", "-"]
        let modes = [("sampling", ["--samples", "4", "--temperature", "0.8", "--top-k", "5", "--seed", "3"]),
                     ("greedy", ["--temperature", "0"])]
        // A setting: environment variables (upper case) and the batch size and thread count.
        var settings: [[String: String]] = []
        for coretype in ["HASWELL", "SKYLAKEX", "ZEN"] {
            for batch in [1, 7, 64] {
                for threads in [1, 2] {
                    settings.append(["OPENBLAS_CORETYPE": coretype, "batch": "\(batch)", "threads": "\(threads)"])
                }
            }
        }
        // The kernel's narrower instruction sets (the CPU's best is the default), as a CPU without
        // AVX-512, or without AVX2 and FMA, runs them.
        settings += [["RESTEM_KERNEL_ISA": "avx2", "batch": "7", "threads": "2"],
                     ["RESTEM_KERNEL_ISA": "generic", "batch": "7", "threads": "1"]]
        for (mode, flags) in modes {
            var reference: (setting: [String: String], output: String)?
            for setting in settings {
                let arguments = common + flags + ["--batch-size", setting["batch"]!, "--threads", setting["threads"]!]
                let result = try runTool("generate", arguments, environment: setting.filter { $0.key.uppercased() == $0.key })
                #expect(result.status == 0, "\(result.stderr)")
                guard let first = reference else {
                    reference = (setting, result.stdout)
                    continue
                }
                #expect(result.stdout == first.output, "\(mode): \(describe(setting)) differs from \(describe(first.setting))")
            }
            // The test has teeth only if near-ties were decided: twin tokens appear in completions.
            let completions = reference!.output.split(separator: "\n").map { line in
                String(line[line.range(of: #""completion":""#)!.upperBound...].prefix { $0 != "\"" })
            }
            #expect(completions.count == Self.problems.count * (mode == "sampling" ? 4 : 1))
            #expect(completions.contains { $0.contains("Q") || $0.contains(":") }, "\(mode): no twin token was ever picked")
        }
    }

    /// Fine-tuning writes the same model bytes for every thread count, BLAS kernel setting and
    /// instruction set: training's products run on our own kernel (one fma chain per element in
    /// ascending k), the rest are loops in a fixed order. With OpenBLAS, the coretype changed
    /// every weight after the first step.
    @Test func finetuningIsTheSameForEveryThreadCountAndKernel() throws {
        let lines = Self.problems.enumerated().map { index, problem in
            #"{"id":"p\#(index)","task":"math","problem":"\#(problem)","answer":"0","completion":"\#(problem)=\#(index)"}"#
        }
        try lines.joined(separator: "\n").write(to: dir.url("d.jsonl"), atomically: true, encoding: .utf8)
        try "Q{{problem}}:".write(to: dir.url("prompt.txt"), atomically: true, encoding: .utf8)
        let common = ["--base", Self.repository + "/demo/base", "--data", dir.path("d.jsonl"), "--template", dir.path("prompt.txt"),
                      "--steps", "3", "--batch-size", "5", "--lr", "1e-3"]
        let settings: [[String: String]] = [
            ["OPENBLAS_CORETYPE": "HASWELL", "threads": "1"], ["OPENBLAS_CORETYPE": "SKYLAKEX", "threads": "2"],
            ["OPENBLAS_CORETYPE": "ZEN", "threads": "2"], ["RESTEM_KERNEL_ISA": "avx2", "threads": "2"],
            ["RESTEM_KERNEL_ISA": "generic", "threads": "1"],
        ]
        var reference: (setting: [String: String], weights: Data)?
        for (index, setting) in settings.enumerated() {
            let out = dir.path("m\(index)")
            let result = try runTool("finetune", common + ["--threads", setting["threads"]!, "--out", out],
                                     environment: setting.filter { $0.key.uppercased() == $0.key })
            #expect(result.status == 0, "\(result.stderr)")
            let weights = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
            guard let first = reference else {
                reference = (setting, weights)
                continue
            }
            #expect(weights == first.weights, "\(describe(setting)) differs from \(describe(first.setting))")
        }
        // Training moved the weights (the comparison is not of three copies of the base).
        let base = try Transformer.load(directory: Self.repository + "/demo/base")
        #expect(try Transformer.load(directory: dir.path("m0")).parameters != base.parameters)
    }

    func describe(_ setting: [String: String]) -> String {
        setting.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
