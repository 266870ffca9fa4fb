import Formats
import Foundation
import Testing

/// `verify --compare`: an old verdict shard re-scored by the current checkers.
@Suite struct VerifyCompareToolTests {
    let dir = ToolTempDir()

    /// Math and code samples, scored by the current checkers into `fresh.jsonl.zst`.
    func scoreFresh() throws -> String {
        func math(_ id: String, _ sample: Int, _ answer: String, _ completion: String) -> Record {
            Record(["id": .string(id), "task": "math", "answer": .string(answer), "completion": .string(completion),
                    "sample": .number(JSONNumber(sample))])
        }
        let samples = [
            math("p1", 0, "12", "so \\boxed{12}"),
            math("p1", 1, "12", "so \\boxed{5}"),
            math("p2", 0, "7", "The answer is 7"),
            math("p2", 1, "7", "no idea"),
            math("p3", 0, "4", "\\boxed{3}. Final Answer: The final answer is $4$. I hope it is correct."),
            math("p3", 1, "4", "so \\boxed{5}"),
            Record(["id": "c1", "task": "code", "completion": "print(input())\n", "sample": 0,
                    "tests": ["stdio": [["input": "9\n", "output": "9\n"]]]]),
        ]
        let writer = try ShardWriter(path: dir.path("samples.jsonl.zst"))
        try samples.forEach(writer.write)
        try writer.commit()
        let fresh = dir.path("fresh.jsonl.zst")
        let result = try runTool("verify", [dir.path("samples.jsonl.zst"), "-o", fresh])
        #expect(result.status == 0, "\(result.stderr)")
        return fresh
    }

    /// `fresh` as an older checker might have scored it: `edit` changes records by (id, sample).
    func olderShard(_ fresh: String, _ edit: (inout Record) -> Void) throws -> String {
        let reader = try ShardReader(path: fresh)
        let path = dir.path("old.jsonl.zst")
        let writer = try ShardWriter(path: path)
        while var record = try reader.nextRecord() {
            edit(&record)
            try writer.write(record)
        }
        try writer.commit()
        return path
    }

    @Test func listsExactlyTheChangedRecords() throws {
        let fresh = try scoreFresh()
        let old = try olderShard(fresh) { record in
            switch (record.id!, record["sample"]!.intValue!) {
            case ("p1", 0):  // a verdict the old checker got wrong
                record["reward"] = 0
                record["verdict"] = "wrong_answer"
                record["extracted"] = "1"
                record["verifier"] = "math/1"
            case ("p1", 1):
                record["reward"] = 1
                record["verdict"] = "correct"
                record["verifier"] = "math/1"
            case ("p2", 0):  // same verdict, older version: no change
                record["verifier"] = "math/1"
            case ("p2", 1):  // scored before verdicts named their checker: no change
                record["verifier"] = nil
            case ("p3", 0):  // the first box instead of the last marker
                record["reward"] = 0
                record["verdict"] = "wrong_answer"
                record["extracted"] = "3"
                record["verifier"] = nil
            case ("p3", 1):  // the same verdict from another extracted answer
                record["extracted"] = "05"
                record["verifier"] = nil
            case ("c1", 0):
                record["reward"] = 0
                record["verdict"] = "runtime_error"
                record["details"] = ["stderr": "Traceback"]
                record["verifier"] = nil
            default:
                break
            }
        }
        let rescored = dir.path("new.jsonl.zst")
        let result = try runTool("verify", ["--compare", old, "-o", rescored])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            compared 7 records: 5 changed, 2 unchanged
            wrong_answer -> correct: 2
            correct -> wrong_answer: 1
            runtime_error -> correct: 1
            wrong_answer -> wrong_answer: 1

            id\tsample\told verdict\tnew verdict\told extracted\tnew extracted\told verifier\tnew verifier
            p1\t0\twrong_answer\tcorrect\t"1"\t"12"\tmath/1\tmath/2
            p1\t1\tcorrect\twrong_answer\t"5"\t"5"\tmath/1\tmath/2
            p3\t0\twrong_answer\tcorrect\t"3"\t"4"\t-\tmath/2
            p3\t1\twrong_answer\twrong_answer\t"05"\t"5"\t-\tmath/2
            c1\t0\truntime_error\tcorrect\t-\t-\t-\tcode/2

            """)
        #expect(result.stderr.hasPrefix("verified 7 samples: correct 4, wrong_answer 2, no_answer 1\n"),
                "\(result.stderr)")
        // The re-scored shard is what scoring the samples today gives, stale details dropped.
        #expect(FileManager.default.contentsEqual(atPath: rescored, andPath: fresh))
        // Without -o only the report is written.
        let reportOnly = try runTool("verify", ["--compare", old])
        #expect(reportOnly.status == 0)
        #expect(reportOnly.stdout == result.stdout)
    }

    @Test func saysWhenNothingChanged() throws {
        let fresh = try scoreFresh()
        let result = try runTool("verify", ["--compare", fresh, "--jobs", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "compared 7 records: nothing changed\n")
    }

    @Test func badInputAndUsage() throws {
        let good = #"{"id":"a","task":"math","answer":"1","completion":"\\boxed{1}","reward":1,"verdict":"correct"}"#
        let samples = #"{"id":"b","task":"math","answer":"1","completion":"\\boxed{1}"}"#
        // Line 3 (after a blank line) is a sample, not a verdict record.
        try "\(good)\n\n\(samples)\n".write(to: dir.url("old.jsonl"), atomically: true, encoding: .utf8)
        let result = try runTool("verify", ["--compare", dir.path("old.jsonl"), "-o", dir.path("out.jsonl.zst")])
        #expect(result.status == 1)
        #expect(result.stderr
                == "verify: \(dir.path("old.jsonl")):3: field \"verdict\" missing (--compare re-scores verdict shards)\n")
        #expect(result.stdout.isEmpty)
        #expect(!dir.contents().contains { $0.hasPrefix("out") })

        try "\(good)\n{\"id\": \n".write(to: dir.url("broken.jsonl"), atomically: true, encoding: .utf8)
        let broken = try runTool("verify", ["--compare", dir.path("broken.jsonl")])
        #expect(broken.status == 1)
        #expect(broken.stderr.hasPrefix("verify: \(dir.path("broken.jsonl")):2: "), "\(broken.stderr)")

        for usage in [["-o", "-"], ["--keep", "correct"], ["--keep", "correct", "--cap", "2"]] {
            #expect(try runTool("verify", ["--compare", dir.path("old.jsonl")] + usage).status == 64, "\(usage)")
        }
        let help = try runTool("verify", ["--help"]).stdout
        #expect(help.contains("verify --compare old-verdicts.jsonl.zst -o new-verdicts.jsonl.zst"))
    }
}
