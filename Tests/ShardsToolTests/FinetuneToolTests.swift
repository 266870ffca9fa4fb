import Foundation
import Testing

/// End-to-end tests of the `finetune` executable on a tiny llama with the test tokenizer.
@Suite struct FinetuneToolTests {
    let dir = ToolTempDir()
    static let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelTests/Fixtures/tokenizer-llama3.json").path

    func setUp(hidden: Int = 32) throws -> [String] {
        try """
            {"model_type": "llama", "vocab_size": 600, "hidden_size": \(hidden), "intermediate_size": \(2 * hidden),
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
             "rms_norm_eps": 1e-5, "rope_theta": 10000, "tie_word_embeddings": true, "eos_token_id": 0}
            """.write(to: dir.url("tiny.json"), atomically: true, encoding: .utf8)
        var lines: [String] = []
        for a in 0..<10 { for b in 0..<10 { lines.append(#"{"id":"\#(a)+\#(b)","problem":"\#(a)+\#(b)=","completion":"\#((a + b) % 10)"}"#) } }
        try lines.joined(separator: "\n").write(to: dir.url("d.jsonl"), atomically: true, encoding: .utf8)
        return ["--init", "random", "--config", dir.path("tiny.json"), "--tokenizer", Self.tokenizer, "--data", dir.path("d.jsonl"),
                "--lr", "3e-3", "--batch-size", "16", "--threads", "1"]
    }

    @Test func trainsAndWritesALoadableModelDirectory() throws {
        let args = try setUp()
        let run = try runTool("finetune", args + ["--steps", "150", "--out", dir.path("m"), "--log", dir.path("log.jsonl")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("m")).sorted() == ["config.json", "model.safetensors", "tokenizer.json"])
        let log = try String(contentsOf: dir.url("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 150)  // one line per step (no validation data, so no eval lines)
        let first = try loss(of: String(log.first!)), last = try loss(of: String(log[149]))
        #expect(last < first / 2, "loss \(first) -> \(last)")
        let eval = try runTool("finetune", ["--base", dir.path("m"), "--data", dir.path("d.jsonl"), "--eval-only"])
        #expect(eval.status == 0)
        #expect(eval.stdout.hasPrefix(#"{"loss":"#) && eval.stdout.contains(#""tokens":200}"#), "\(eval.stdout)")
    }

    func loss(of line: String) throws -> Double {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return object["loss"] as! Double
    }

    /// SIGKILL mid-run, then --resume: the same final weights as an uninterrupted run.
    @Test func resumeAfterKillEndsAtTheSameWeights() throws {
        let args = try setUp(hidden: 64) + ["--steps", "300", "--checkpoint-every", "10"]
        #expect(try runTool("finetune", args + ["--out", dir.path("a"), "--snapshot-every", "100"]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("a.snapshots")).sorted() == ["100", "200"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: toolPath("finetune"))
        process.arguments = args + ["--out", dir.path("b"), "--snapshot-every", "100", "--snapshots", dir.path("b-steps")]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: dir.path("b.checkpoint/state.safetensors")) && Date() < deadline { usleep(5000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: dir.path("b")), "the run finished before it was killed")
        let resumed = try runTool("finetune", args + ["--out", dir.path("b"), "--resume", "--snapshot-every", "100", "--snapshots", dir.path("b-steps")])
        #expect(resumed.status == 0)
        #expect(resumed.stderr.contains("resuming from"))
        #expect(FileManager.default.contentsEqual(atPath: dir.path("a/model.safetensors"), andPath: dir.path("b/model.safetensors")))
        #expect(!FileManager.default.fileExists(atPath: dir.path("b.checkpoint")))
        for step in ["100", "200"] {
            #expect(FileManager.default.contentsEqual(atPath: dir.path("a.snapshots/\(step)/model.safetensors"),
                                                      andPath: dir.path("b-steps/\(step)/model.safetensors")))
        }
        #expect(!FileManager.default.contentsEqual(atPath: dir.path("a.snapshots/100/model.safetensors"),
                                                   andPath: dir.path("a.snapshots/200/model.safetensors")))
    }

    @Test func badInputFailsWithoutOutput() throws {
        let args = try setUp()
        let missing = try runTool("finetune", ["--base", dir.path("nope"), "--data", dir.path("d.jsonl"), "--out", dir.path("o")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope/config.json: cannot open"), "\(missing.stderr)")
        try "{\"id\":\"x\",\"problem\":\"1+1=\"}\n".write(to: dir.url("bad.jsonl"), atomically: true, encoding: .utf8)
        let noCompletion = try runTool("finetune", Array(args.prefix(6)) + ["--lr", "3e-3", "--data", dir.path("bad.jsonl"), "--out", dir.path("o"), "--steps", "1"])
        #expect(noCompletion.status == 1)
        #expect(noCompletion.stderr.contains("bad.jsonl:1: field \"completion\" missing"), "\(noCompletion.stderr)")
        try #"{"model_type": "llama", "vocab_size": 600}"#.write(to: dir.url("tiny.json"), atomically: true, encoding: .utf8)
        let badConfig = try runTool("finetune", args + ["--out", dir.path("o"), "--steps", "1"])
        #expect(badConfig.status == 1)
        #expect(badConfig.stderr.contains("tiny.json: config.json: field \"hidden_size\" missing"), "\(badConfig.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("o")))
        #expect(try runTool("finetune", ["--data", dir.path("d.jsonl")]).status == 64)
    }

    /// A text field holding a number or an object is an error naming file, line and field, with
    /// exit 1 and no model directory (a number in `problem` used to become the prompt silently).
    @Test func nonStringTextFieldsFailWithFileAndLine() throws {
        let args = try setUp()
        let cases: [(record: String, target: String, error: String)] = [
            (#"{"problem":3,"completion":"4"}"#, "completion", #"field "problem" must be a string, not a number"#),
            (#"{"problem":"1+3=","completion":4}"#, "completion", #"field "completion" must be a string, not a number"#),
            (#"{"prompt":{"text":"1+3="},"completion":"4"}"#, "completion",
             #"field "prompt" must be a string, not an object"#),
            (#"{"problem":"1+3=","solution":4}"#, "solution", #"field "solution" must be a string, not a number"#),
        ]
        for (record, target, error) in cases {
            try (#"{"problem":"1+1=","completion":"2","solution":"2"}"# + "\n" + record + "\n")
                .write(to: dir.url("bad.jsonl"), atomically: true, encoding: .utf8)
            var badArgs = args
            badArgs[badArgs.firstIndex(of: dir.path("d.jsonl"))!] = dir.path("bad.jsonl")
            let result = try runTool("finetune", badArgs + ["--target", target, "--out", dir.path("o"), "--steps", "1"])
            #expect(result.status == 1, "\(record)")
            #expect(result.stderr == "finetune: \(dir.path("bad.jsonl")):2: \(error)\n", "\(result.stderr)")
            #expect(!dir.contents().contains { $0.hasPrefix("o") }, "\(dir.contents())")
        }
    }
}
