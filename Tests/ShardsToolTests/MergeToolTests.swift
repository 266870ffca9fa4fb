import Foundation
import Testing

/// `shards merge`: the parts of shard jobs back in their problems' order.
@Suite struct MergeToolTests {
    let dir = ToolTempDir()

    func write(_ name: String, _ lines: [String]) throws {
        try lines.joined(separator: "\n").write(to: dir.url(name), atomically: true, encoding: .utf8)
    }

    @Test func partsGoBackInProblemOrderWithEachProblemsRecordsInOrder() throws {
        try write("problems.jsonl", (0..<5).map { #"{"id":"p\#($0)","problem":"q"}"# })
        // Part a holds p3 and p0 (in problem order within the part), part b p1 and p4; p2 has no records.
        try write("a.jsonl", [#"{"id":"p0","sample":0}"#, #"{"id":"p0","sample":1}"#, #"{"id":"p3","sample":0}"#])
        try write("b.jsonl", [#"{"id":"p1","sample":0}"#, #"{"id":"p4","sample":0}"#, #"{"id":"p4","sample":1}"#])
        for parts in [["a.jsonl", "b.jsonl"], ["b.jsonl", "a.jsonl"]] {
            let result = try runTool("shards", ["merge", "--order", dir.path("problems.jsonl")] + parts.map(dir.path) + ["-o", "-"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.split(separator: "\n") == [
                #"{"id":"p0","sample":0}"#, #"{"id":"p0","sample":1}"#, #"{"id":"p1","sample":0}"#,
                #"{"id":"p3","sample":0}"#, #"{"id":"p4","sample":0}"#, #"{"id":"p4","sample":1}"#])
        }
    }

    @Test func unknownDuplicateAndOverlappingProblemsAreErrors() throws {
        try write("problems.jsonl", [#"{"id":"p0"}"#, #"{"id":"p1"}"#])
        try write("twice.jsonl", [#"{"id":"p0"}"#, #"{"id":"p0"}"#])
        try write("a.jsonl", [#"{"id":"p0","sample":0}"#])
        try write("stranger.jsonl", [#"{"id":"p1"}"#, #"{"id":"p9"}"#])
        func merge(_ order: String, _ parts: [String]) throws -> ToolResult {
            try runTool("shards", ["merge", "--order", dir.path(order)] + parts.map(dir.path) + ["-o", dir.path("out.jsonl")])
        }
        let unknown = try merge("problems.jsonl", ["stranger.jsonl"])
        #expect(unknown.status == 1 && unknown.stderr.contains("stranger.jsonl:2") && unknown.stderr.contains("p9"))
        let duplicate = try merge("twice.jsonl", ["a.jsonl"])
        #expect(duplicate.status == 1 && duplicate.stderr.contains("twice.jsonl:2"))
        let overlap = try merge("problems.jsonl", ["a.jsonl", "a.jsonl"])
        #expect(overlap.status == 1 && overlap.stderr.contains("overlap"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("out.jsonl")))
    }
}
