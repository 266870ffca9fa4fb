import Foundation
import Formats
import Testing
@testable import Model

let modelFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Reference encodings were made by Hugging Face `tokenizers` 0.23.3 from the tokenizer.json
/// files beside them (small byte-level BPE vocabularies trained for these tests on a mixed
/// unicode corpus), with the three pre-tokenizer styles.
@Suite struct TokenizerTests {
    struct Case { let text: String; let ids: [Int]; let decoded: String }

    func cases(_ kind: String) throws -> [Case] {
        let reader = try ShardReader(path: modelFixtures.appendingPathComponent("tokenizer-\(kind).expected.jsonl").path)
        var result: [Case] = []
        while let record = try reader.nextRecord() {
            result.append(Case(text: try record.string("text"), ids: record["ids"]!.arrayValue!.map { $0.intValue! },
                               decoded: try record.string("decoded")))
        }
        return result
    }

    @Test(arguments: ["gpt2", "llama3", "qwen2"])
    func encodesAndDecodesLikeTheReference(kind: String) throws {
        let tokenizer = try Tokenizer(path: modelFixtures.appendingPathComponent("tokenizer-\(kind).json").path)
        for c in try cases(kind) {
            #expect(tokenizer.encode(c.text) == c.ids, "\(kind): \(c.text.debugDescription)")
            #expect(tokenizer.decode(c.ids) == c.decoded, "\(kind): \(c.text.debugDescription)")
        }
    }

    @Test func bothMergeEncodingsGiveTheSameTokenizer() throws {
        let pairs = try Tokenizer(path: modelFixtures.appendingPathComponent("tokenizer-gpt2.json").path)
        let strings = try Tokenizer(path: modelFixtures.appendingPathComponent("tokenizer-gpt2-legacy-merges.json").path)
        for c in try cases("gpt2") { #expect(pairs.encode(c.text) == strings.encode(c.text)) }
    }

    @Test func longWordsEncodeQuicklyAndRoundTrip() throws {
        let tokenizer = try Tokenizer(path: modelFixtures.appendingPathComponent("tokenizer-llama3.json").path)
        let long = String(repeating: "answerdayeggs", count: 20_000)
        let ids = tokenizer.encode(long, addSpecialTokens: false)
        #expect(tokenizer.decode(ids) == long)
        #expect(ids.count < long.utf8.count / 2)
    }

    @Test func unsupportedKindsAreRefusedByName() throws {
        let wordPiece: JSON = ["model": ["type": "WordPiece", "vocab": ["a": 0]]]
        #expect(throws: DataError.self) { try Tokenizer(json: wordPiece) }
        let metaspace: JSON = ["model": ["type": "BPE", "vocab": ["a": 0], "merges": []], "pre_tokenizer": ["type": "Metaspace"]]
        do {
            _ = try Tokenizer(json: metaspace)
            Issue.record("accepted a Metaspace tokenizer")
        } catch let error as DataError {
            #expect(error.message.contains("Metaspace"))
        }
    }
}
