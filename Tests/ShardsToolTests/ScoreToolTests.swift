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
        #expect(result.stdout.contains("| 1 | 1 | - | 40.0 | 40.0 (k=1) | 40.0 | 4/10 | 4 |"))
        #expect(result.stdout.contains("Settings: `SAMPLES=16` `TEMP=0.5`\n"))
        for file in ["report.md", "report.svg", "scores.json"] { #expect(FileManager.default.fileExists(atPath: dir.path("run/\(file)"))) }
        #expect(try String(contentsOfFile: dir.path("run/report.md"), encoding: .utf8) == result.stdout)
        #expect(!FileManager.default.fileExists(atPath: dir.path("run/report-passk.svg")))
        let missing = try runTool("score", ["--run", dir.path("nothing")])
        #expect(missing.status == 1 && missing.stderr.contains("no base model verdicts"))
        #expect(try runTool("score", []).status == 64)
    }

    /// K samples per problem of one model on test: problem i has sample j right when j < i.
    func testSamples(_ path: String, problems: Int, samples: Int, shift: Int = 0) throws {
        try FileManager.default.createDirectory(atPath: (dir.path(path) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let lines = (0..<problems).flatMap { i in
            (0..<samples).map { j in
                #"{"id":"p\#(i)","sample":\#(j),"reward":\#(j < i + shift ? 1 : 0),"extracted":"\#(j < i + shift ? "right" : "wrong" + String(j))"}"#
            }
        }
        #expect(try runTool("shards", ["cat", "-o", dir.path(path)], stdin: lines.joined(separator: "\n") + "\n").status == 0)
    }

    /// The run's test samples give the pass@k / maj@k table, the plot and the JSON; the E-step's
    /// tokens are summed; score --runs compares two run folders.
    @Test func passAtKTableAndRunComparison() throws {
        for run in ["a", "b"] {
            for model in ["base", "iter1"] {
                try verdicts("\(run)/\(model)/validation.jsonl.zst", correct: 3, of: 10)
                try verdicts("\(run)/\(model)/test.jsonl.zst", correct: run == "a" ? 4 : 6, of: 10)
            }
        }
        try testSamples("a/passk/base.jsonl.zst", problems: 4, samples: 4)
        try testSamples("a/passk/final.jsonl.zst", problems: 4, samples: 4, shift: 1)
        let tokens = (0..<3).map { #"{"id":"p\#($0)","sample":0,"reward":1,"extracted":"1","gen":{"tokens":\#(10 + $0)}}"# }
        #expect(try runTool("shards", ["cat", "-o", dir.path("a/iter1/verdicts.jsonl.zst")], stdin: tokens.joined(separator: "\n")).status == 0)
        try verdicts("a/iter1/kept.jsonl.zst", correct: 3, of: 3)
        let more = (0..<3).map { #"{"id":"p\#($0)","sample":0,"reward":1,"extracted":"1","gen":{"tokens":\#(20 + 2 * $0)}}"# }
        #expect(try runTool("shards", ["cat", "-o", dir.path("b/iter1/verdicts.jsonl.zst")], stdin: more.joined(separator: "\n")).status == 0)
        try verdicts("b/iter1/kept.jsonl.zst", correct: 2, of: 2)
        try "SAMPLES=4\nCAP=4\n".write(toFile: dir.path("a/settings.txt"), atomically: true, encoding: .utf8)
        try "SAMPLES=4\nCAP=1\n".write(toFile: dir.path("b/settings.txt"), atomically: true, encoding: .utf8)
        let a = try runTool("score", ["--run", dir.path("a")])
        #expect(a.status == 0, "\(a.stderr)")
        // base: problems with 0..3 of 4 right; final: 1..4 of 4. pass@2 of c right of 4 is
        // 1 - C(4-c, 2)/6 (0, .5, .833, 1); a vote tied 1-1 goes to the answer seen first ("right").
        #expect(a.stdout.contains("## Test pass@k and maj@k (%): 4 samples per test problem"), "\(a.stdout)")
        #expect(a.stdout.contains("| model | pass@1 | pass@2 | pass@4 | maj@1 | maj@2 | maj@4 |"))
        #expect(a.stdout.contains("| base model | 37.5 | 58.3 | 75.0 | 75.0 | 75.0 | 75.0 |"), "\(a.stdout)")
        #expect(a.stdout.contains("| final ReST^EM model | 62.5 | 83.3 | 100.0 | 100.0 | 100.0 | 100.0 |"), "\(a.stdout)")
        #expect(a.stdout.contains("| 1 | 1 | 33 | 100.0 |"), "\(a.stdout)")
        let svg = try String(contentsOfFile: dir.path("a/report-passk.svg"), encoding: .utf8)
        #expect(svg.contains("final maj@k") && svg.contains("stroke-dasharray=\"8 5\""))
        #expect(try String(contentsOfFile: dir.path("a/scores.json"), encoding: .utf8).contains(#""maj@k":{"1":0.75,"2":0.75,"4":0.75}"#))
        #expect(try runTool("score", ["--run", dir.path("b")]).status == 0)
        let table = try runTool("score", ["--runs", dir.path("a"), dir.path("b")])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("| a | (reference) | iter1 | 40.0 | 40.0 | - | 33 | 3 | 100.0 (K=4) | 100.0 |"), "\(table.stdout)")
        #expect(table.stdout.contains("| b | `CAP=1` | iter1 | 60.0 | 60.0 | - | 66 (+100%) | 2 | - | - |"), "\(table.stdout)")
        let none = try runTool("score", ["--runs", dir.path("a"), dir.path("nothing")])
        #expect(none.status == 1 && none.stderr.contains("no scores.json"))
    }
}
