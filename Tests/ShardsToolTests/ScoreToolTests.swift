import Foundation
import Testing

/// End-to-end tests of `score`: --best and the run report from a run folder.
@Suite struct ScoreToolTests {
    let dir = ToolTempDir()

    /// A verdict shard of `count` problems with one greedy sample each, the first `correct` right.
    func verdicts(_ path: String, correct: Int, of count: Int) throws {
        try FileManager.default.createDirectory(atPath: (dir.path(path) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let lines = (0..<count).map { i in
            #"{"id":"p\#(i)","difficulty":\#(i % 2 + 1),"solution_style":"\#(i % 3 == 0 ? "full" : "merged")","sample":0,"reward":\#(i < correct ? 1 : 0),"extracted":"1"}"#
        }
        #expect(try runTool("shards", ["cat", "-o", dir.path(path)], stdin: lines.joined(separator: "\n") + "\n").status == 0)
    }

    @Test func bestPrintsTheWinningLabelAndTheFirstOnTies() throws {
        try verdicts("a.jsonl", correct: 3, of: 10)
        try verdicts("b.jsonl", correct: 5, of: 10)
        try verdicts("c.jsonl", correct: 5, of: 10)
        let result = try runTool("score", ["--best", "100=\(dir.path("a.jsonl"))", "200=\(dir.path("b.jsonl"))", "300=\(dir.path("c.jsonl"))"])
        #expect(result.status == 0)
        #expect(result.stdout == "200\n")
    }

    @Test func runReportFromARunFolder() throws {
        for (model, scores) in [("base", (3, 6, 5)), ("sft", (4, 7, 9)), ("clean", (8, 9, 10)), ("iter1", (5, 8, 8)), ("iter2", (6, 9, 9))] {
            try verdicts("run/\(model)/validation.jsonl.zst", correct: scores.0, of: 10)
            try verdicts("run/\(model)/test.jsonl.zst", correct: scores.1, of: 10)
            try verdicts("run/\(model)/train.jsonl.zst", correct: scores.2, of: 10)
        }
        try verdicts("run/iter1/verdicts.jsonl.zst", correct: 4, of: 10)
        try verdicts("run/iter1/kept.jsonl.zst", correct: 4, of: 4)
        try "SAMPLES=16\nTEMP=0.5\nGENERATE_FLAGS=\n".write(toFile: dir.path("run/settings.txt"), atomically: true, encoding: .utf8)
        let result = try runTool("score", ["--run", dir.path("run"), "--by", "difficulty"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("| ReST^EM iteration 2 (best on validation) | 60.0 | 90.0 | 90.0 |"), "\(result.stdout)")
        #expect(result.stdout.contains("| 1 | 1 | 40.0 | 40.0 (k=1) | 40.0 | 4/10 | 4 |"))
        #expect(result.stdout.contains("Settings: `SAMPLES=16` `TEMP=0.5`\n"))
        for file in ["report.md", "report.svg", "scores.json"] { #expect(FileManager.default.fileExists(atPath: dir.path("run/\(file)"))) }
        #expect(try String(contentsOfFile: dir.path("run/report.md"), encoding: .utf8) == result.stdout)
        let missing = try runTool("score", ["--run", dir.path("nothing")])
        #expect(missing.status == 1 && missing.stderr.contains("no base model verdicts"))
        #expect(try runTool("score", []).status == 64)
    }
}
