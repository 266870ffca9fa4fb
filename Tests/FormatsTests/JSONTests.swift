import Testing
@testable import Formats
import TestSupport

@Suite struct JSONTests {
    @Test func keepsKeyOrderAndNumberText() throws {
        let text = #"{"z":1,"a":1.50,"m":-0.0,"big":123456789012345678901234567890,"e":1E+5,"n":null,"t":true,"f":false}"#
        let value = try JSON.parse(text)
        #expect(value.serialized() == text)
        #expect(value.objectValue?.keys == ["z", "a", "m", "big", "e", "n", "t", "f"])
    }

    @Test func decodesEscapesAndWritesMinimalEscapes() throws {
        let value = try JSON.parse(#"["\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\\u0001\u007f", "é😀"]"#)
        let strings = value.arrayValue!.map { $0.stringValue! }
        #expect(strings[0] == "é😀/\u{8}\u{C}\n\r\t\"\\\u{1}\u{7F}")
        #expect(strings[1] == "é😀")
        #expect(value.serialized() == #"["é😀/\b\f\n\r\t\"\\\u0001\u007f","é😀"]"#)
    }

    @Test func roundTripsHostileStrings() throws {
        let megabyte = String(repeating: "ab\"\\\n\u{0}é漢字🎉", count: 80_000)
        let samples: [JSON] = [
            .string(megabyte), .string(""), .string("\u{2028}\u{2029}\u{FEFF}"),
            ["nested": ["deep": [1, 2, ["x": nil]]], "": "empty key"],
        ]
        for sample in samples {
            #expect(try JSON.parse(sample.serialized()) == sample)
        }
    }

    @Test func duplicateKeysKeepTheLastValueInTheFirstPosition() throws {
        #expect(try JSON.parse(#"{"a":1,"b":2,"a":3}"#).serialized() == #"{"a":3,"b":2}"#)
    }

    @Test(arguments: [
        (#"{"a":}"#, "unexpected character"),
        (#"{"a":1,}"#, "expected a string key"),
        (#"[1 2]"#, "expected ',' or ']'"),
        (#""abc"#, "unterminated string"),
        (#"01"#, "unexpected text after the JSON value"),
        (#"1."#, "invalid number"),
        (#"-"#, "invalid number"),
        (#"tru"#, "invalid literal"),
        (#""\x""#, "invalid escape"),
        (#""\ud800""#, "lone surrogate"),
        (#""\udc00x""#, "lone surrogate"),
        ("\"a\tb\"", "control character"),
        (#"{"a":1} x"#, "unexpected text"),
    ])
    func rejectsMalformedJSON(text: String, message: String) {
        do {
            _ = try JSON.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(message), "\(text): \(error.message)")
        }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let bytes: [UInt8] = Array(#"{"a":"ok"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        do {
            _ = try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in try JSON.parse(buffer) }
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.message == "invalid UTF-8 in string")
            #expect(error.offset == 8)
        }
    }

    @Test func boundsNestingDepthInsteadOfOverflowingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSON.parse(fine)) != nil)
    }

    @Test func doubleNumbersPrintAsJSON() {
        #expect(JSONNumber(0.5).text == "0.5")
        #expect(JSONNumber(2.0).text == "2")
        #expect(JSONNumber(1e-7).text == "1e-07")
        #expect(JSONNumber(-3).text == "-3")
    }

    /// Objects with many keys (a tokenizer's vocabulary) keep their semantics past the size where
    /// lookups switch from a scan to an index: order, in-place duplicates, removal, re-adding.
    @Test func largeObjectsKeepOrderDuplicatesAndRemoval() throws {
        let count = 50_000
        let text = "{" + (0..<count).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","k7":-7,"k40000":-1}"#
        guard case .object(var object) = try JSON.parse(text) else { Issue.record("not an object"); return }
        #expect(object.count == count)
        #expect(object.keys.prefix(3) == ["k0", "k1", "k2"] && object.keys.last == "k49999")
        #expect(object["k7"] == .number(JSONNumber(-7)) && object["k40000"] == .number(JSONNumber(-1)))
        #expect(object["k49999"] == .number(JSONNumber(49999)) && object["missing"] == nil)
        object["k3"] = nil
        #expect(object.count == count - 1 && object["k3"] == nil && object["k4"] == .number(JSONNumber(4)))
        object["k3"] = .string("back")
        #expect(object.keys.last == "k3" && object["k3"] == .string("back"))
        var small = JSONObject()
        for k in 0..<20 { small["x\(k)"] = .number(JSONNumber(k)) }
        for k in 0..<18 { small["x\(k)"] = nil }
        #expect(small.keys == ["x18", "x19"] && small["x19"] == .number(JSONNumber(19)))
    }
}
