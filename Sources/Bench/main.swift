// `make bench`: every figure beside a reference measured in the same run, because the machine
// is shared and noisy. Each timing is the best of several repetitions.
import Foundation
import Datasets
import Formats
import CodeVerify
import MathVerify
import Model
import Verify

struct Row {
    var name: String
    var value: Double
    var unit: String
    var reference: String
    var referenceValue: Double
}


func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func best(of repetitions: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    var fastest = Double.infinity
    for _ in 0..<repetitions { fastest = min(fastest, try seconds(body)) }
    return fastest
}

func shell(_ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw DataError("benchmark command failed: \(command)") }
}

/// A shell command's standard output.
func shellOutput(_ command: String) throws -> String {
    let process = Process()
    let pipe = Pipe()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw DataError("benchmark command failed: \(command)") }
    return String(decoding: data, as: UTF8.self)
}

// MARK: sgemm peak (the reference for every compute benchmark)

func sgemmGFLOPs(size n: Int, threads: Int) -> Double {
    BLAS.setThreads(threads)
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    let time = best(of: 5) { BLAS.gemm(m: n, n: n, k: n, a: a, b: b, c: &c) }
    return 2 * Double(n * n * n) / time / 1e9
}

func benchSgemm() -> [Row] {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let single = sgemmGFLOPs(size: 1024, threads: 1)
    let all = sgemmGFLOPs(size: 1024, threads: cores)
    return [Row(name: "sgemm 1024^3, \(cores) threads", value: all, unit: "GFLOP/s",
                    reference: "1 thread", referenceValue: single)]
}

// MARK: shards

/// GSM8K train imported and repeated to about 100 MB of JSONL, with unique ids.
func benchShards(scratch: String) throws -> [Row] {
    var problems: [Record] = []
    _ = try Importer.run(.gsm8k, path: "../shared/data/gsm8k/train.jsonl") { problems.append($0) }
    var records: [Record] = []
    var copy = 0
    var bytes = 0
    while bytes < 100_000_000 {
        for var record in problems {
            record["id"] = .string("\(record.id!)#\(copy)")
            bytes += record.jsonLine().utf8.count + 1
            records.append(record)
        }
        copy += 1
    }
    let megabytes = Double(bytes) / 1e6
    let zst = scratch + "/bench.jsonl.zst", plain = scratch + "/bench.jsonl"

    func write(_ path: String) throws -> Double {
        try best {
            try writeShard(to: path) { writer in for record in records { try writer.write(record) } }
        }
    }
    func read(_ path: String) throws -> Double {
        try best {
            let reader = try ShardReader(path: path)
            var count = 0
            while try reader.nextRecord() != nil { count += 1 }
            precondition(count == records.count)
        }
    }

    let writeZst = try write(zst)
    let writePlain = try write(plain)
    let zstdCompress = try best { try shell("zstd -q -3 -c '\(plain)' > /dev/null") }
    let readZst = try read(zst)
    let readPlain = try read(plain)
    let zstdDecompress = try best { try shell("zstd -q -dc '\(zst)' > /dev/null") }
    let lineCount = try best { try shell("wc -l '\(plain)' > /dev/null") }

    let size = String(format: "%.0f MB JSONL", megabytes)
    return [Row(name: "shard write .jsonl.zst (\(size))", value: megabytes / writeZst, unit: "MB/s",
                    reference: "zstd -3 CLI", referenceValue: megabytes / zstdCompress),
            Row(name: "shard write .jsonl", value: megabytes / writePlain, unit: "MB/s",
                    reference: "zstd -3 CLI", referenceValue: megabytes / zstdCompress),
            Row(name: "shard read+parse .jsonl.zst", value: megabytes / readZst, unit: "MB/s",
                    reference: "zstd -dc alone", referenceValue: megabytes / zstdDecompress),
            Row(name: "shard read+parse .jsonl", value: megabytes / readPlain, unit: "MB/s",
                    reference: "wc -l", referenceValue: megabytes / lineCount)]
}

// MARK: math verification

/// MATH500: each reference solution against its own answer (500 correct pairs) and against the
/// next problem's answer (500 mostly wrong pairs), checked single-threaded by our checker and
/// by math-verify from PyPI (installed under .build/ on first use) in the same run.
func benchMath(scratch: String) throws -> [Row] {
    var problems: [Record] = []
    _ = try Importer.run(.math, path: "../shared/data/math500/test.jsonl") { problems.append($0) }
    let solutions = problems.map { $0["solution"]!.stringValue! }, answers = problems.map { $0["answer"]!.stringValue! }
    let pairs = solutions.indices.map { (solutions[$0], answers[$0]) }
        + solutions.indices.map { (solutions[$0], answers[($0 + 1) % answers.count]) }

    var rows = try compareWithMathVerify(name: "math check, MATH500 pairs, 1 thread", pairs: pairs, labels: nil, scratch: scratch)

    // The project's labelled tables: every normalization and structure rule, and the traps.
    var labelled: [(String, String)] = []
    var labels: [Bool] = []
    for file in ["equivalence.tsv", "model-answers.tsv", "completions.tsv"] {
        let table = try String(contentsOfFile: "Tests/MathVerifyTests/Fixtures/" + file, encoding: .utf8)
        for line in table.split(separator: "\n") where !line.hasPrefix("#") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 4 else { continue }
            // Answers as completions, boxed the way a model states them; completions as written.
            let completion = file == "completions.tsv" ? columns[1].replacingOccurrences(of: "⏎", with: "\n")
                : "The answer is $\\boxed{\(columns[1])}$."
            labelled.append((completion, columns[2]))
            labels.append(columns[0] == "1")
        }
    }
    rows += try compareWithMathVerify(name: "math check, \(labelled.count) labelled pairs, 1 thread", pairs: labelled,
                                      labels: labels, scratch: scratch)
    return rows
}

func compareWithMathVerify(name: String, pairs: [(String, String)], labels: [Bool]?, scratch: String) throws -> [Row] {
    var ours: [Bool] = []
    let time = best {
        ours = pairs.map { MathChecker.check(completion: $0.0, reference: $0.1).verdict == .correct }
    }
    let rate = Double(pairs.count) / time
    let pairsFile = scratch + "/pairs.jsonl"
    try writeShard(to: pairsFile) { writer in
        for (completion, reference) in pairs {
            try writer.write(Record(["completion": .string(completion), "reference": .string(reference)]))
        }
    }
    guard let peer = try? runMathVerify(pairsFile: pairsFile, scratch: scratch) else {
        return [Row(name: name, value: rate, unit: "checks/s", reference: "math-verify unavailable", referenceValue: .nan)]
    }
    var message = "\(name): ours \(ours.filter { $0 }.count) correct, math-verify \(peer.verdicts.filter { $0 }.count); "
        + "they agree on \(zip(ours, peer.verdicts).filter { $0 == $1 }.count)/\(pairs.count)"
    if let labels {
        message += "; matching the labels: ours \(zip(ours, labels).filter { $0 == $1 }.count), "
            + "math-verify \(zip(peer.verdicts, labels).filter { $0 == $1 }.count)"
    }
    printError(message)
    return [Row(name: name, value: rate, unit: "checks/s", reference: "math-verify (PyPI)",
                referenceValue: Double(pairs.count) / peer.seconds)]
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func runMathVerify(pairsFile: String, scratch: String) throws -> (seconds: Double, verdicts: [Bool]) {
    let packages = FileManager.default.currentDirectoryPath + "/.build/bench-python"
    if !FileManager.default.fileExists(atPath: packages + "/math_verify") {
        try shell("python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target '\(packages)' math-verify >&2")
    }
    let script = scratch + "/math_verify_bench.py"
    try """
        import json, sys, time
        from math_verify import parse, verify
        pairs = [json.loads(line) for line in open(sys.argv[1])]
        start = time.perf_counter()
        verdicts = [bool(verify(parse("$" + p["reference"] + "$"), parse(p["completion"]))) for p in pairs]
        print(json.dumps({"seconds": time.perf_counter() - start, "verdicts": verdicts}))
        """.write(toFile: script, atomically: true, encoding: .utf8)
    let output = scratch + "/math_verify.json"
    try shell("PYTHONPATH='\(packages)' python3 '\(script)' '\(pairsFile)' > '\(output)'")
    let result = try JSON.parse(String(contentsOfFile: output, encoding: .utf8))
    guard let seconds = result.objectValue?["seconds"]?.doubleValue,
          let verdicts = result.objectValue?["verdicts"]?.arrayValue?.compactMap(\.boolValue) else {
        throw DataError("unexpected math-verify output")
    }
    return (seconds, verdicts)
}

// MARK: code verification

/// HumanEval's canonical solutions through the sandbox, warm and cold, at 1 and 2 jobs, beside the bare cost
/// of starting the same interpreter with `-c pass` as many times, one after another.
func benchCode() throws -> [Row] {
    guard let python = CodeChecker.defaultPython() else { return [] }
    var problems: [Record] = []
    _ = try Importer.run(.humaneval, path: "../shared/data/humaneval/HumanEval.jsonl.gz") { problems.append($0) }
    let samples = problems.map { problem -> Record in
        var record = problem
        record["completion"] = problem["solution"]
        return record
    }
    var rows: [Row] = []
    let bare = try seconds {
        // posix_spawn, not Foundation's Process (which costs ~50 ms a launch here).
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(python), strdup("-S"), strdup("-c"), strdup("pass"), nil]
        defer { argv.forEach { free($0) } }
        for _ in samples {
            var pid: pid_t = 0
            guard posix_spawn(&pid, python, nil, nil, argv, environ) == 0 else { throw DataError("cannot start \(python)") }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
    let reference = "python3 -S -c pass, serial"
    rows.append(Row(name: "python3 -S -c pass, serial starts", value: Double(samples.count) / bare, unit: "starts/s",
                    reference: reference, referenceValue: Double(samples.count) / bare))
    for mode in SandboxMode.allCases {
        // One checker per mode, as in a `verify` run: the best of three passes, so warm
        // interpreters are started in the first and replaced on their term as usual.
        let verifier = Verifier(code: CodeChecker(python: python, sandbox: mode))
        for jobs in [1, 2] {
            var failed: [String] = []
            let time = try best {
                failed = try verifier.score(batch: samples, jobs: jobs).filter { $0["reward"]?.intValue != 1 }.map {
                    "\($0.id ?? "?"): \($0["verdict"]?.stringValue ?? "?") \($0["details"].map { "\($0)" } ?? "")"
                }
            }
            precondition(failed.isEmpty,
                         "canonical HumanEval solutions failed, \(mode.rawValue), --jobs \(jobs): \(failed)")
            rows.append(Row(name: "code check, HumanEval canonical, \(mode.rawValue), --jobs \(jobs)",
                            value: Double(samples.count) / time, unit: "programs/s",
                            reference: reference, referenceValue: Double(samples.count) / bare))
        }
        if let note = verifier.code?.sandboxNote { printError(note) }
    }
    printError(SandboxPolicy.current.summary)
    return rows
}

// MARK: training throughput

/// One training step (forward, backward, AdamW) at 4096 tokens, as tokens/s and achieved
/// GFLOP/s (6 x parameters x tokens plus attention's 12 x layers x T x d per token), against
/// the sgemm peak of the same run.
func benchTraining(peak: Double) -> [Row] {
    // TRAINING_THREADS, TRAINING_ONLY (a part of a name: "0.86M") and TRAINING_REPEATS (steps timed,
    // the best counts) narrow it down for profiling.
    let environment = ProcessInfo.processInfo.environment
    BLAS.setThreads(environment["TRAINING_THREADS"].flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount)
    // The issue's configurations (the same as `bench peers`): a 25.6M llama at 16 x 256 tokens and
    // a 0.86M one at 32 x 128, vocabulary 512, tied embeddings.
    func llama(_ d: Int, _ layers: Int, _ heads: Int, _ ff: Int) -> ModelConfig {
        ModelConfig(architecture: .llama, vocabSize: 512, hiddenSize: d, intermediateSize: ff, layers: layers, heads: heads,
                    kvHeads: heads, maxPositions: 1024)
    }
    let models: [(String, ModelConfig, Int, Int)] = [
        ("llama 25.6M", llama(512, 8, 8, 1376), 16, 256), ("llama 0.86M", llama(128, 4, 4, 344), 32, 128),
    ]
    var rows: [Row] = []
    for (name, config, batch, seq) in models where environment["TRAINING_ONLY"].map(name.contains) ?? true {
        let model = Transformer(config: config)
        model.initializeRandomly(seed: 1)
        var optimizer = AdamW(parameterCount: model.parameterCount)
        let tokens = (0..<(batch * seq)).map { ($0 * 7 + 3) % config.vocabSize }
        let targets = (0..<(batch * seq)).map { ($0 * 7 + 10) % config.vocabSize }
        func step() {
            model.step(tokens: tokens, targets: targets, batch: batch, seq: seq)
            optimizer.update(model, learningRate: 1e-4)
        }
        step()  // warm-up: the first step allocates the workspace
        let time = best(of: environment["TRAINING_REPEATS"].flatMap(Int.init) ?? 3, step)
        let tokenCount = Double(batch * seq)
        let flops = tokenCount * (6 * Double(model.parameterCount) + 12 * Double(config.layers * seq * config.hiddenSize))
        let gflops = flops / time / 1e9
        // The parameters' bits after the steps: a kernel change that should not change them must not.
        let hash = model.parameters.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1.bitPattern)) &* 0x100_0000_01b3 }
        printError("train step, \(name): \(Int(tokenCount / time)) tokens/s at \(batch * seq) tokens per step, parameters hash "
                   + String(hash, radix: 16))
        rows.append(Row(name: "train step, \(name), \(Int(tokenCount / time)) tok/s", value: gflops, unit: "GFLOP/s",
                        reference: "sgemm peak", referenceValue: peak))
    }
    return rows
}

// MARK: decoding throughput

/// Tokens per second of batched decoding with KV caches at 1, 8, 32 and 128 live sequences (16
/// steps after a 16-token prefill, best of 3), beside the compute bound of the same run: sgemm peak / (2 x parameters) tokens per second.
func benchDecode(peak: Double) -> [Row] {
    BLAS.setThreads(ProcessInfo.processInfo.activeProcessorCount)
    let models: [(String, ModelConfig)] = [
        ("demo-size llama d=96", ModelConfig(architecture: .llama, vocabSize: 32, hiddenSize: 96, intermediateSize: 256, layers: 3,
                                             heads: 4, kvHeads: 4, maxPositions: 128)),
        ("llama d=512 (~25M)", ModelConfig(architecture: .llama, vocabSize: 8192, hiddenSize: 512, intermediateSize: 1376, layers: 6,
                                           heads: 8, kvHeads: 8, maxPositions: 512)),
    ]
    var rows: [Row] = []
    for (name, config) in models {
        let model = Transformer(config: config)
        model.initializeRandomly(seed: 2)
        let bound = peak * 1e9 / (2 * Double(model.parameterCount))
        for live in [1, 8, 32, 128] {
            let prompt = (0..<16).map { $0 % config.vocabSize }
            let steps = 16
            var time = Double.infinity
            let workspace = InferenceWorkspace()
            for _ in 0..<3 {  // best of 3, each from freshly prefilled caches
                let caches = (0..<live).map { _ in model.makeCache(capacity: 64) }
                for cache in caches {
                    _ = model.forward(tokens: prompt, caches: Array(repeating: cache, count: prompt.count), logitRows: [prompt.count - 1],
                                      workspace: workspace)
                }
                time = min(time, seconds {
                    for step in 0..<steps {
                        _ = model.forward(tokens: (0..<live).map { ($0 + step) % config.vocabSize }, caches: caches,
                                          logitRows: Array(0..<live), workspace: workspace)
                    }
                })
            }
            rows.append(Row(name: "decode, \(name), \(live) sequences", value: Double(live * steps) / time, unit: "tok/s",
                            reference: "bound peak/(2 params)", referenceValue: bound))
        }
    }
    return rows
}

// MARK: inference products: our kernel on packed weights against OpenBLAS

/// The matrix products of one decode step of the d=512 llama (q, k, v, o, gate, up, down per
/// layer, and the logits) at 1 to 128 rows, on the kernel inference uses (training's, weights
/// packed once) and on OpenBLAS sgemm (what inference used at first), interleaved in the same
/// run, best of 5 each, on one thread and on every core.
func benchProducts() -> [Row] {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let d = 512, ff = 1376, vocab = 8192, layers = 6
    // (out, in, count per step)
    let shapes = [(d, d, 4 * layers), (ff, d, 2 * layers), (d, ff, layers), (vocab, d, 1)]
    let weights = shapes.map { shape in (0..<(shape.0 * shape.1)).map { Float(($0 * 7919) % 2003) / 1001 - 1 } }
    // Ours on the weights packed once, as inference packs a model's weights once.
    let packed = zip(shapes, weights).map { shape, w in PackedMatrix(w_OI: w, outputs: shape.0, inputs: shape.1) }
    var rows: [Row] = []
    for (threads, n) in [(1, 1), (1, 32), (1, 128), (cores, 1), (cores, 8), (cores, 32), (cores, 128)] {
        BLAS.setThreads(threads)
        let x = (0..<(n * ff)).map { Float(($0 * 104_729) % 997) / 498 - 1 }
        var y = [Float](repeating: 0, count: n * vocab)
        let flops = shapes.reduce(0.0) { $0 + 2 * Double(n * $1.0 * $1.1 * $1.2) }
        /// `product(y, x, s)` for every product of a step, s the index of its shape.
        func run(_ product: (Buffer, ConstBuffer, Int) -> Void) -> Double {
            best(of: 5) {
                for (s, shape) in shapes.enumerated() {
                    for _ in 0..<shape.2 { product(&y, x, s) }
                }
            }
        }
        var ours = Double.infinity, blas = Double.infinity
        for _ in 0..<2 {
            ours = min(ours, run { y, x, s in InferenceProducts.linear(y_NO: y, x_NI: x, w: packed[s], b_O: nil, n: n) })
            blas = min(blas, run { y, x, s in
                BLAS.gemm(m: n, n: shapes[s].0, k: shapes[s].1, a: x, b: weights[s], transposeB: true, c: y)
            })
        }
        rows.append(Row(name: "decode products d=512, \(n) rows, \(threads) thr, ours (\(Kernels.instructionSet))",
                        value: flops / ours / 1e9, unit: "GFLOP/s", reference: "OpenBLAS sgemm, same shapes",
                        referenceValue: flops / blas / 1e9))
    }
    return rows
}

/// The three products of one linear layer in a training step of the 25.6M llama (16 x 256
/// tokens, 512 -> 1376): forward y = x W^T, backward dx = dy W and dW += dy^T x, on the kernel
/// training uses and on OpenBLAS sgemm (whichever kernel it picked for this CPU: set
/// OPENBLAS_CORETYPE to compare with another), on every core, best of 5, interleaved.
func benchTrainingProducts() -> [Row] {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    BLAS.setThreads(cores)
    let tokens = 4096, d = 512, ff = 1376
    let x = (0..<(tokens * d)).map { Float(($0 * 104_729) % 997) / 498 - 1 }
    let w = (0..<(ff * d)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
    let dy = (0..<(tokens * ff)).map { Float(($0 * 3571) % 1009) / 504 - 1 }
    var y = [Float](repeating: 0, count: tokens * ff), dx = [Float](repeating: 0, count: tokens * d)
    var dw = [Float](repeating: 0, count: ff * d)
    let flops = 3 * 2 * Double(tokens * d * ff)
    func ours() {
        TrainingGEMM.multiply(m: tokens, n: ff, k: d, a: x, b: w, transposeB: true, c: &y)
        TrainingGEMM.multiply(m: tokens, n: d, k: ff, a: dy, b: w, c: &dx)
        TrainingGEMM.multiply(m: ff, n: d, k: tokens, a: dy, transposeA: true, b: x, c: &dw, accumulate: true)
    }
    func blas() {
        BLAS.gemm(m: tokens, n: ff, k: d, a: x, b: w, transposeB: true, c: &y)
        BLAS.gemm(m: tokens, n: d, k: ff, a: dy, b: w, c: &dx)
        BLAS.gemm(m: ff, n: d, k: tokens, a: dy, transposeA: true, b: x, c: &dw, beta: 1)
    }
    for (name, body) in [("fwd", { TrainingGEMM.multiply(m: tokens, n: ff, k: d, a: x, b: w, transposeB: true, c: &y) }),
                         ("dx", { TrainingGEMM.multiply(m: tokens, n: d, k: ff, a: dy, b: w, c: &dx) }),
                         ("dw", { TrainingGEMM.multiply(m: ff, n: d, k: tokens, a: dy, transposeA: true, b: x, c: &dw, accumulate: true) })] as [(String, () -> Void)] {
        printError("\(name): \(2 * Double(tokens * d * ff) / best(of: 5, body) / 1e9)")
    }
    var oursTime = Double.infinity, blasTime = Double.infinity
    for _ in 0..<2 {
        oursTime = min(oursTime, best(of: 5, ours))
        blasTime = min(blasTime, best(of: 5, blas))
    }
    return [Row(name: "train products 4096x512x1376, \(cores) thr (\(Kernels.instructionSet))",
                value: flops / oursTime / 1e9, unit: "GFLOP/s", reference: "OpenBLAS sgemm, same shapes",
                referenceValue: flops / blasTime / 1e9)]
}

// MARK: peers: PyTorch training and Hugging Face generate

/// The issue's configurations: a 25.6M llama (hidden 512, 8 layers, 8 heads, intermediate 1376,
/// vocab 512, tied) trained at 16 x 256 tokens and sampled (32-token prompts, 128 new tokens,
/// temperature 1) at 1, 32 and 128 sequences, and a 0.86M llama (128, 4, 4, 344, 512) trained at
/// 32 x 128; ours beside PyTorch (AdamW) and `generate` of transformers, 2 threads each, run by
/// `scripts/bench-peers.py` in the venv `make bench-peers` makes (PEERS_PYTHON). The 25.6M step
/// and the sampling are timed once each after a warm-up (minutes per figure on 2 cores).
func benchPeers() throws -> [Row] {
    guard let python = ProcessInfo.processInfo.environment["PEERS_PYTHON"] else {
        throw DataError("bench peers: run it through `make bench-peers` (PEERS_PYTHON names the venv's python)")
    }
    let threads = 2
    BLAS.setThreads(threads)
    func llama(_ d: Int, _ layers: Int, _ heads: Int, _ ff: Int) -> ModelConfig {
        ModelConfig(architecture: .llama, vocabSize: 512, hiddenSize: d, intermediateSize: ff, layers: layers, heads: heads,
                    kvHeads: heads, maxPositions: 1024)
    }
    let big = llama(512, 8, 8, 1376), small = llama(128, 4, 4, 344)
    let training: [(name: String, config: ModelConfig, batch: Int, seq: Int, repetitions: Int)] = [
        ("llama 25.6M", big, 16, 256, 1), ("llama 0.86M", small, 32, 128, 3),
    ]
    let sequenceCounts = [1, 32, 128], promptTokens = 32, newTokens = 128, sampleRepetitions = 1

    var ourTrain: [Double] = []
    for run in training {
        let model = Transformer(config: run.config)
        model.initializeRandomly(seed: 1)
        var optimizer = AdamW(parameterCount: model.parameterCount)
        optimizer.weightDecay = 0.1
        var random = SplitMix(state: 1)
        let count = run.batch * run.seq
        let tokens = (0..<count).map { _ in random.below(run.config.vocabSize) }
        // Next-token targets within each sequence, as `labels` do in transformers.
        let targets = (0..<count).map { $0 % run.seq == run.seq - 1 ? -1 : tokens[$0 + 1] }
        func step() {
            model.step(tokens: tokens, targets: targets, batch: run.batch, seq: run.seq)
            optimizer.update(model, learningRate: 1e-4)
        }
        step()  // warm-up, as on the PyTorch side
        ourTrain.append(best(of: run.repetitions, step))
        printError("peers: ours, train step \(run.name): \(String(format: "%.2f", ourTrain.last!)) s (\(model.parameterCount) parameters)")
    }
    let sampler = Transformer(config: big)
    sampler.initializeRandomly(seed: 2)
    var ourSample: [Double] = []
    sampleLikeGenerate(sampler, sequences: 1, promptTokens: 4, newTokens: 4)  // warm-up, as on the other side
    for sequences in sequenceCounts {
        ourSample.append(best(of: sampleRepetitions) {
            sampleLikeGenerate(sampler, sequences: sequences, promptTokens: promptTokens, newTokens: newTokens)
        })
        printError("peers: ours, sample \(sequences) sequences: \(String(format: "%.2f", ourSample.last!)) s")
    }

    func spec(_ config: ModelConfig) -> String {
        #""hidden": \#(config.hiddenSize), "layers": \#(config.layers), "heads": \#(config.heads), "#
            + #""intermediate": \#(config.intermediateSize), "vocab": \#(config.vocabSize)"#
    }
    let trainJobs = training.map { #"{"name": "\#($0.name)", \#(spec($0.config)), "batch": \#($0.batch), "seq": \#($0.seq), "#
        + #""repetitions": \#($0.repetitions)}"# }
    let job = #"{"threads": \#(threads), "train": [\#(trainJobs.joined(separator: ", "))], "sample": {"model": {\#(spec(big))}, "#
        + #""prompt": \#(promptTokens), "new_tokens": \#(newTokens), "sequences": \#(sequenceCounts), "#
        + #""repetitions": \#(sampleRepetitions)}}"#
    let output = try shellOutput("echo '\(job)' | OMP_NUM_THREADS=\(threads) '\(python)' scripts/bench-peers.py")
    guard let peer = try JSON.parse(output).objectValue, let peerTrain = peer["train"]?.objectValue,
          let peerSample = peer["sample"]?.objectValue else {
        throw DataError("unexpected bench-peers.py output: \(output)")
    }
    let torch = peer["torch"]?.stringValue ?? "?"
    var rows: [Row] = []
    for (run, ours) in zip(training, ourTrain) {
        guard let theirs = peerTrain[run.name]?.objectValue?["seconds"]?.doubleValue else { throw DataError("no PyTorch time for \(run.name)") }
        let tokens = Double(run.batch * run.seq)
        rows.append(Row(name: "train step \(run.name), \(run.batch)x\(run.seq), \(threads) thr (\(String(format: "%.2f", ours)) s)",
                        value: tokens / ours, unit: "tok/s", reference: "PyTorch \(torch) AdamW", referenceValue: tokens / theirs))
    }
    for (sequences, ours) in zip(sequenceCounts, ourSample) {
        guard let theirs = peerSample[String(sequences)]?.doubleValue else { throw DataError("no generate time for \(sequences)") }
        let tokens = Double(sequences * newTokens)
        rows.append(Row(name: "sample llama 25.6M, \(sequences) seq x \(newTokens) new, \(threads) thr",
                        value: tokens / ours, unit: "tok/s", reference: "HF generate", referenceValue: tokens / theirs))
    }
    return rows
}

/// What `generate` does, without a tokenizer: each sequence's random prompt prefilled on its own
/// cache (prompts batched), then all sequences decoded together, one temperature-1 draw per
/// row per step (softmax over the vocabulary, one uniform number) until `newTokens` tokens;
/// each cache has room for `room` new tokens (default `newTokens`), as `--max-tokens` gives.
/// Returns a hash of every logit's bits and every drawn token (to check that an engine change
/// keeps the samples byte-identical).
@discardableResult
func sampleLikeGenerate(_ model: Transformer, sequences: Int, promptTokens: Int, newTokens: Int,
                        prefillRows: Int = Generator.prefillRows, room: Int? = nil) -> UInt64 {
    let vocab = model.config.vocabSize
    var random = SplitMix(state: 7)
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ value: UInt64) { hash = (hash ^ value) &* 0x100_0000_01b3 }
    func draw(_ logits: ArraySlice<Float>) -> Int {
        for logit in logits { mix(UInt64(logit.bitPattern)) }
        let maximum = logits.max()!
        let weights = logits.map { Foundation.exp(Double($0 - maximum)) }
        var target = random.uniform() * weights.reduce(0, +)
        for (token, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return token }
        }
        return vocab - 1
    }
    let caches = (0..<sequences).map { _ in model.makeCache(capacity: promptTokens + max(room ?? newTokens, newTokens)) }
    let workspace = InferenceWorkspace()
    let prompts = (0..<sequences).map { _ in (0..<promptTokens).map { _ in random.below(vocab) } }
    // Prefill as `generate` does: whole prompts together, up to `prefillRows` rows per call.
    var last: [Int] = [], first = 0
    while first < sequences {
        var end = first + 1
        while end < sequences && (end + 1 - first) * promptTokens <= prefillRows { end += 1 }
        let logits = model.forward(tokens: prompts[first..<end].flatMap { $0 },
                                   caches: caches[first..<end].flatMap { Array(repeating: $0, count: promptTokens) },
                                   logitRows: (1...(end - first)).map { $0 * promptTokens - 1 }, workspace: workspace)
        for s in 0..<(end - first) { last.append(draw(logits[(s * vocab)..<((s + 1) * vocab)])) }
        first = end
    }
    for _ in 1..<newTokens {
        let logits = model.forward(tokens: last, caches: caches, logitRows: Array(0..<sequences), workspace: workspace)
        last = (0..<sequences).map { draw(logits[($0 * vocab)..<(($0 + 1) * vocab)]) }
        for token in last { mix(UInt64(token)) }
    }
    return hash
}

/// `bench sampling [SEQUENCES...]`: only our side of the peers' sampling rows (the 25.6M llama,
/// 32-token prompts, 128 new tokens, 2 threads), with the hash of the samples and the peak
/// resident memory. SAMPLING_ROOM gives each cache room for that many new tokens (as
/// `generate --max-tokens` does), of which 128 are used.
func benchSampling(_ counts: [Int]) -> [Row] {
    BLAS.setThreads(Int(ProcessInfo.processInfo.environment["SAMPLING_THREADS"] ?? "") ?? 2)
    let room = Int(ProcessInfo.processInfo.environment["SAMPLING_ROOM"] ?? "")
    let config = ModelConfig(architecture: .llama, vocabSize: 512, hiddenSize: 512, intermediateSize: 1376, layers: 8,
                             heads: 8, kvHeads: 8, maxPositions: 1024)
    let sampler = Transformer(config: config)
    sampler.initializeRandomly(seed: 2)
    sampleLikeGenerate(sampler, sequences: 1, promptTokens: 4, newTokens: 4)
    return counts.map { sequences in
        var hash: UInt64 = 0
        let time = seconds { hash = sampleLikeGenerate(sampler, sequences: sequences, promptTokens: 32, newTokens: 128, room: room) }
        var usage = rusage(); getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        printError("sampling \(sequences): \(String(format: "%.2f", time)) s, hash \(String(hash, radix: 16)), peak RSS \(usage.ru_maxrss / 1024) MB")
        if ProcessInfo.processInfo.environment["PREFILL_CHECK"] != nil {
            let alone = sampleLikeGenerate(sampler, sequences: sequences, promptTokens: 32, newTokens: 128, prefillRows: 1)
            printError("  prompts prefilled one by one: hash \(String(alone, radix: 16))")
        }
        return Row(name: "sample llama 25.6M, \(sequences) seq x 128 new, 2 thr", value: Double(sequences * 128) / time,
                   unit: "tok/s", reference: "hash low bits", referenceValue: Double(hash & 0xffff))
    }
}

/// A small seeded generator for benchmark inputs.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

// MARK: tokenizer

/// Loading synthetic 50K- and 150K-entry byte-level BPE tokenizer.json files and encoding a real
/// corpus (GSM8K, MATH500 solutions, HumanEval code), beside Hugging Face `tokenizers` (PyPI,
/// installed under .build/ on first use) on the same files in the same run; the ids must agree.
func benchTokenizer(scratch: String) throws -> [Row] {
    let packages = FileManager.default.currentDirectoryPath + "/.build/bench-python"
    if !FileManager.default.fileExists(atPath: packages + "/tokenizers") {
        try shell("python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target '\(packages)' tokenizers >&2")
    }
    var lines: [String] = []
    func add(_ dataset: Dataset, _ path: String, _ fields: [String]) throws {
        _ = try Importer.run(dataset, path: path) { record in
            for field in fields { if let text = record[field]?.stringValue { lines.append(text) } }
        }
    }
    try add(.gsm8k, "../shared/data/gsm8k/test.jsonl", ["problem", "solution"])
    try add(.math, "../shared/data/math500/test.jsonl", ["problem", "solution"])
    try add(.humaneval, "../shared/data/humaneval/HumanEval.jsonl.gz", ["problem", "solution"])
    // One text per line for the reference script: newlines inside a text become spaces on both sides.
    lines = lines.map { $0.replacingOccurrences(of: "\n", with: " ") }
    let corpus = scratch + "/corpus.txt"
    try lines.joined(separator: "\n").write(toFile: corpus, atomically: true, encoding: .utf8)
    let megabytes = Double(lines.reduce(0) { $0 + $1.utf8.count }) / 1e6
    var rows: [Row] = []
    for size in [50_000, 150_000] {
        let file = scratch + "/tokenizer-\(size).json"
        try shell("/usr/bin/python3 -I -S scripts/tokenizer-reference.py make \(size) '\(file)'")
        let idsFile = scratch + "/ids-\(size).jsonl"
        let output = try shellOutput("PYTHONPATH='\(packages)' python3 scripts/tokenizer-reference.py run '\(file)' '\(corpus)' '\(idsFile)'")
        let reference = try JSON.parse(output).objectValue
        guard let peerLoad = reference?["load_seconds"]?.doubleValue, let peerEncode = reference?["encode_seconds"]?.doubleValue else {
            throw DataError("unexpected tokenizers output: \(output)")
        }
        var tokenizer: Tokenizer?
        let load = try best { tokenizer = try Tokenizer.load(modelOrFile: file) }
        var ids: [[Int]] = []
        let encode = best { ids = lines.map { tokenizer!.encode($0, addSpecialTokens: false) } }
        let expected = try String(contentsOfFile: idsFile, encoding: .utf8).split(separator: "\n")
        let same = zip(ids, expected).filter { ours, theirs in
            "[" + ours.map(String.init).joined(separator: ", ") + "]" == theirs
        }.count
        printError("tokenizer \(size): ids identical to tokenizers on \(same)/\(lines.count) texts (\(String(format: "%.1f", megabytes)) MB)")
        rows.append(Row(name: "tokenizer.json \(size / 1000)K entries: load", value: load, unit: "s",
                        reference: "HF tokenizers (s; lower wins)", referenceValue: peerLoad))
        rows.append(Row(name: "tokenizer \(size / 1000)K: encode \(same == lines.count ? "(same ids)" : "(IDS DIFFER)")",
                        value: megabytes / encode, unit: "MB/s", reference: "HF tokenizers", referenceValue: megabytes / peerEncode))
    }
    return rows
}

// MARK: main

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("restem-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

// `bench` runs every section; `bench math code` only those (engine, shards, math, code, tokenizer).
// `bench peers` (PyTorch and transformers beside ours) runs only when named: `make bench-peers`.
let arguments = CommandLine.arguments.dropFirst()
let sections = Set(arguments.filter { Int($0) == nil })
let known: Set<String> = ["products", "training", "engine", "shards", "math", "code", "tokenizer", "peers", "sampling"]
guard sections.isSubset(of: known) else {
    printError("bench: unknown section \(sections.subtracting(known).sorted()); sections: \(known.sorted())")
    exit(2)
}
func wanted(_ section: String) -> Bool { (sections.isEmpty && section != "peers" && section != "sampling") || sections.contains(section) }

var rows: [Row] = []
if wanted("engine") {
    let sgemm = benchSgemm()
    rows += sgemm + benchTraining(peak: sgemm[0].value) + benchDecode(peak: sgemm[0].value) + benchProducts()
        + benchTrainingProducts()
}
if sections.contains("products") { rows += benchTrainingProducts() }
if sections.contains("training") { rows += benchTraining(peak: benchSgemm()[0].value) }
if wanted("shards") { rows += try benchShards(scratch: scratch) }
if wanted("math") { rows += try benchMath(scratch: scratch) }
if wanted("code") { rows += try benchCode() }
if wanted("tokenizer") { rows += try benchTokenizer(scratch: scratch) }
if wanted("peers") { rows += try benchPeers() }
if wanted("sampling") { rows += benchSampling(arguments.compactMap { Int($0) }.isEmpty ? [1, 32, 128] : arguments.compactMap { Int($0) }) }

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func number(_ x: Double) -> String { x >= 100 ? String(format: "%.0f", x) : String(format: "%.1f", x) }

print("| " + pad("benchmark", 52) + " | " + pad("value", 18) + " | " + pad("reference (same run)", 30) + " | ratio |")
print("|" + String(repeating: "-", count: 54) + "|" + String(repeating: "-", count: 20) + "|" + String(repeating: "-", count: 32) + "|-------|")
for row in rows {
    let value = "\(number(row.value)) \(row.unit)"
    let reference = "\(row.reference): \(number(row.referenceValue))"
    print("| " + pad(row.name, 52) + " | " + pad(value, 18) + " | " + pad(reference, 30) + " | "
          + pad(String(format: "%.2fx", row.value / row.referenceValue), 5) + " |")
}
