import Foundation
import Testing

/// `shards pending`: the problems an adaptive E-step still samples.
@Suite struct PendingToolTests {
    let dir = ToolTempDir()

    @Test func keepsProblemsWithFewerThanCapCorrectSamples() throws {
        try (0..<4).map { #"{"id":"p\#($0)","problem":"q\#($0)"}"# }.joined(separator: "\n")
            .write(to: dir.url("problems.jsonl"), atomically: true, encoding: .utf8)
        // p0: 2 correct over two rounds, p1: 1 correct, p2: only wrong, p3: never sampled.
        try [#"{"id":"p0","reward":1}"#, #"{"id":"p1","reward":1}"#, #"{"id":"p2","reward":0}"#]
            .joined(separator: "\n").write(to: dir.url("r0.jsonl"), atomically: true, encoding: .utf8)
        try [#"{"id":"p0","reward":1}"#, #"{"id":"p2","reward":0}"#]
            .joined(separator: "\n").write(to: dir.url("r1.jsonl"), atomically: true, encoding: .utf8)
        func pending(_ cap: Int, _ rounds: [String]) throws -> [String] {
            let result = try runTool("shards", ["pending", dir.path("problems.jsonl"), "--cap", "\(cap)"]
                                     + rounds.flatMap { ["--verdicts", dir.path($0)] } + ["-o", "-"])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").map { String($0.dropFirst(7).prefix(2)) }
        }
        #expect(try pending(2, ["r0.jsonl", "r1.jsonl"]) == ["p1", "p2", "p3"])
        #expect(try pending(1, ["r0.jsonl", "r1.jsonl"]) == ["p2", "p3"])
        #expect(try pending(2, ["r0.jsonl"]) == ["p0", "p1", "p2", "p3"])
        #expect(try pending(1, []) == ["p0", "p1", "p2", "p3"])
        let summary = try runTool("shards", ["pending", dir.path("problems.jsonl"), "--verdicts", dir.path("r0.jsonl"),
                                             "--cap", "1", "-o", dir.path("todo.jsonl")]).stderr
        #expect(summary == "pending: 2 of 4 problems have fewer than 1 correct samples\n")
    }

    @Test func verdictsWithoutRewardAreAnError() throws {
        try #"{"id":"p0","problem":"q"}"#.write(to: dir.url("problems.jsonl"), atomically: true, encoding: .utf8)
        try "{\"id\":\"p0\",\"reward\":1}\n{\"id\":\"p0\"}".write(to: dir.url("v.jsonl"), atomically: true, encoding: .utf8)
        let result = try runTool("shards", ["pending", dir.path("problems.jsonl"), "--verdicts", dir.path("v.jsonl"),
                                            "-o", dir.path("todo.jsonl")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("v.jsonl:2"))
        #expect(result.stderr.contains("reward"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("todo.jsonl")))
    }
}
