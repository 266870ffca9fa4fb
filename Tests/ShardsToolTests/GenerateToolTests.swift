import Foundation
import Testing

/// End-to-end tests of `generate` with a tiny random model made by `finetune`.
@Suite struct GenerateToolTests {
    let dir = ToolTempDir()

    func makeModel() throws {
        try """
            {"model_type": "llama", "vocab_size": 600, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
             "rope_theta": 10000, "tie_word_embeddings": true, "eos_token_id": 0}
            """.write(to: dir.url("tiny.json"), atomically: true, encoding: .utf8)
        try #"{"problem": "1+1=", "completion": "2"}"#.write(to: dir.url("d.jsonl"), atomically: true, encoding: .utf8)
        let made = try runTool("finetune", ["--init", "random", "--config", dir.path("tiny.json"), "--tokenizer", FinetuneToolTests.tokenizer,
                                            "--data", dir.path("d.jsonl"), "--out", dir.path("m"), "--steps", "1"])
        #expect(made.status == 0, "\(made.stderr)")
        let lines = (0..<200).map { #"{"id":"p\#($0)","task":"math","problem":"\#($0 % 10)+\#($0 % 7)=","answer":"\#($0 % 10 + $0 % 7)"}"# }
        try lines.joined(separator: "\n").write(to: dir.url("p.jsonl"), atomically: true, encoding: .utf8)
    }

    var sampling: [String] { ["--model", dir.path("m"), dir.path("p.jsonl"), "--samples", "3", "--temperature", "0.8", "--top-k", "40", "--max-tokens", "16", "--threads", "1"] }

    @Test func samplesAreIndependentOfBatchSizeAndShards() throws {
        try makeModel()
        let one = try runTool("generate", sampling + ["--batch-size", "1", "-o", dir.path("a.jsonl.zst")])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stderr.contains("generated 600 samples for 200 problems"))
        #expect(try runTool("generate", sampling + ["--batch-size", "64", "-o", dir.path("b.jsonl.zst")]).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: dir.path("a.jsonl.zst"), andPath: dir.path("b.jsonl.zst")))
        let whole = try runTool("shards", ["cat", dir.path("a.jsonl.zst")]).stdout.split(separator: "\n")
        #expect(whole.count == 600)
        #expect(whole[0].contains(#""prompt":"0+0=""#) && whole[0].contains(#""sample":0"#) && whole[0].contains(#""finish":"#))
        var parts: [Substring] = []
        for i in 0..<3 {
            let part = try runTool("generate", sampling + ["--shard", "\(i)/3", "-o", "-"])
            parts += part.stdout.split(separator: "\n")
        }
        #expect(parts.sorted() == whole.sorted())
        let otherSeed = try runTool("generate", sampling + ["--seed", "9", "-o", "-"]).stdout.split(separator: "\n")
        #expect(otherSeed != whole)
    }

    /// Rounds of an adaptive E-step: samples 0..<2 and then 2..<3 are the samples of one run of 3.
    @Test func roundsGiveTheSameSamplesAsOneRun() throws {
        try makeModel()
        let whole = try runTool("generate", sampling + ["-o", "-"]).stdout.split(separator: "\n")
        let rounds = ["--samples", "2", "--first-sample", "0", "--samples", "1", "--first-sample", "2"]
        var parts: [Substring] = []
        for r in 0..<2 {
            let round = try runTool("generate", sampling + Array(rounds[(4 * r)..<(4 * r + 4)]) + ["-o", "-"])
            #expect(round.status == 0, "\(round.stderr)")
            parts += round.stdout.split(separator: "\n")
        }
        #expect(parts.count == 600)
        #expect(parts.sorted() == whole.sorted())
        #expect(parts.contains { $0.contains(#""sample":2"#) })
        #expect(try runTool("generate", sampling + ["--first-sample", "-1", "-o", "-"]).status != 0)
    }

    /// The output name decides the format, as for every other tool: `-o x.jsonl` is plain JSONL
    /// (it used to be zstd bytes under a .jsonl name), with the same records as `-o x.jsonl.zst`
    /// and as stdout, over several chunks.
    @Test func outputNameDecidesTheFormat() throws {
        try makeModel()
        let args = sampling + ["--chunk", "64"]
        #expect(try runTool("generate", args + ["-o", dir.path("s.jsonl")]).status == 0)
        #expect(try runTool("generate", args + ["-o", dir.path("s.jsonl.zst")]).status == 0)
        let stdout = try runTool("generate", args + ["-o", "-"]).stdout
        let plain = try Data(contentsOf: dir.url("s.jsonl"))
        #expect(plain.prefix(4) != Data([0x28, 0xB5, 0x2F, 0xFD]), "zstd magic in a .jsonl output")
        #expect(String(decoding: plain, as: UTF8.self) == stdout)
        #expect(stdout.split(separator: "\n").count == 600)
        #expect(try Data(contentsOf: dir.url("s.jsonl.zst")).prefix(4) == Data([0x28, 0xB5, 0x2F, 0xFD]))
        #expect(try runTool("shards", ["cat", dir.path("s.jsonl.zst")]).stdout == stdout)
    }

    @Test func resumeAfterKillGivesTheSameOutput() throws {
        try makeModel()
        let args = sampling + ["--chunk", "10", "--max-tokens", "48"]
        #expect(try runTool("generate", args + ["-o", dir.path("a.jsonl.zst")]).status == 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: toolPath("generate"))
        process.arguments = args + ["-o", dir.path("b.jsonl.zst")]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while ((try? FileManager.default.contentsOfDirectory(atPath: dir.path("b.jsonl.zst.parts")))?.filter { $0.hasPrefix("chunk-") && !$0.contains(".tmp-") }.count ?? 0) < 2
                && Date() < deadline { usleep(2000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: dir.path("b.jsonl.zst")), "finished before the kill")
        let resumed = try runTool("generate", args + ["-o", dir.path("b.jsonl.zst")])
        #expect(resumed.status == 0)
        #expect(resumed.stderr.contains("chunks reused"), "\(resumed.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: dir.path("a.jsonl.zst"), andPath: dir.path("b.jsonl.zst")))
        #expect(!FileManager.default.fileExists(atPath: dir.path("b.jsonl.zst.parts")))
    }

    @Test func badInputFailsWithoutOutput() throws {
        try makeModel()
        let noModel = try runTool("generate", ["--model", dir.path("none"), dir.path("p.jsonl"), "-o", dir.path("o.jsonl.zst")])
        #expect(noModel.status == 1 && noModel.stderr.contains("none/config.json: cannot open"), "\(noModel.stderr)")
        try "{\"id\":\"a\",\"problem\":\"x\"}\n{\"id\":\"b\",\"question\":\"y\"}\n".write(to: dir.url("q.jsonl"), atomically: true, encoding: .utf8)
        let noProblem = try runTool("generate", ["--model", dir.path("m"), dir.path("q.jsonl"), "-o", dir.path("o.jsonl.zst")])
        #expect(noProblem.status == 1)
        #expect(noProblem.stderr.contains("q.jsonl:2: template placeholder {{problem}}: field \"problem\" missing"), "\(noProblem.stderr)")
        try "Q: {{question}}\nA:".write(to: dir.url("t.txt"), atomically: true, encoding: .utf8)
        let badTemplate = try runTool("generate", ["--model", dir.path("m"), dir.path("p.jsonl"), "--template", dir.path("t.txt"), "-o", dir.path("o.jsonl.zst")])
        #expect(badTemplate.status == 1 && badTemplate.stderr.contains("{{question}}"), "\(badTemplate.stderr)")
        #expect(!dir.contents().contains { $0.hasPrefix("o.jsonl.zst") }, "\(dir.contents())")
    }

    /// A text field holding a number or an object is an error naming file, line and field, with
    /// exit 1 and no output (a number in `problem` used to become the prompt silently).
    @Test func nonStringTextFieldsFailWithFileAndLine() throws {
        try makeModel()
        let cases: [(record: String, error: String)] = [
            (#"{"id":"b","problem":12}"#, #"field "problem" must be a string, not a number"#),
            (#"{"id":"b","problem":{"text":"1+1="}}"#, #"field "problem" must be a string, not an object"#),
            (#"{"id":"b","problem":"1+1=","answer":2}"#, #"field "answer" must be a string, not a number"#),
            (#"{"id":"b","problem":"1+1=","solution":[2]}"#, #"field "solution" must be a string, not an array"#),
        ]
        for (record, error) in cases {
            try (#"{"id":"a","problem":"1+1="}"# + "\n" + record + "\n")
                .write(to: dir.url("bad.jsonl"), atomically: true, encoding: .utf8)
            let result = try runTool("generate", ["--model", dir.path("m"), dir.path("bad.jsonl"), "--max-tokens", "4",
                                                  "-o", dir.path("o.jsonl.zst")])
            #expect(result.status == 1, "\(record)")
            #expect(result.stderr == "generate: \(dir.path("bad.jsonl")):2: \(error)\n", "\(result.stderr)")
            #expect(!dir.contents().contains { $0.hasPrefix("o.jsonl.zst") }, "\(dir.contents())")
        }
    }
}
