import Formats
import Testing
@testable import Verify

@Suite struct VerdictComparisonTests {
    func verdict(_ verdict: String, extracted: JSON? = nil, verifier: String? = nil) -> Record {
        var record = Record(["id": 17, "sample": 2, "verdict": .string(verdict)])
        record["extracted"] = extracted
        record["verifier"] = verifier.map(JSON.string)
        return record
    }

    @Test func changedMeansVerdictOrExtracted() throws {
        var comparison = VerdictComparison()
        // A new verifier alone, or an old record without `extracted`, is no change.
        try comparison.add(old: verdict("correct", verifier: "math/1"),
                           new: verdict("correct", extracted: "3", verifier: "math/2"))
        try comparison.add(old: verdict("no_answer", extracted: .null), new: verdict("no_answer", extracted: .null))
        #expect(comparison.lines() == ["compared 2 records: nothing changed"])
        try comparison.add(old: verdict("no_answer", extracted: .null), new: verdict("wrong_answer", extracted: "a\tb"))
        #expect(comparison.changes == [VerdictComparison.Change(
            id: "17", sample: "2", oldVerdict: "no_answer", newVerdict: "wrong_answer", oldExtracted: "null",
            newExtracted: #""a\tb""#, oldVerifier: nil, newVerifier: nil)])
        #expect(comparison.lines().first == "compared 3 records: 1 changed, 2 unchanged")
        #expect(comparison.lines().last == "17\t2\tno_answer\twrong_answer\tnull\t\"a\\tb\"\t-\t-")
    }

    @Test func oldRecordsNeedAVerdict() {
        var comparison = VerdictComparison()
        #expect(throws: DataError("field \"verdict\" missing (--compare re-scores verdict shards)")) {
            try comparison.add(old: Record(["id": "a"]), new: verdict("correct"))
        }
        #expect(throws: DataError("field \"verdict\" is a number, expected a string")) {
            try comparison.add(old: Record(["verdict": 1]), new: verdict("correct"))
        }
    }
}
