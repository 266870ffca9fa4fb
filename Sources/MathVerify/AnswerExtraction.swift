import Formats

/// Where an answer was found in a completion (kept for diagnostics and tests).
public enum AnswerSource: String, Sendable {
    case boxed, gsm8k, theAnswerIs = "the_answer_is", minerva
}

/// Finds the final answer in a model's completion. Tried in order: the last `\boxed{}` /
/// `\boxed X` / `\fbox{}`; GSM8K's `#### N`; "The answer is X"; the Minerva format
/// "Final Answer: The final answer is X. I hope it is correct." Each is a scan over the UTF-8
/// bytes, so a 10 MB completion costs milliseconds.
public func extractAnswer(from completion: String) -> (answer: String, source: AnswerSource)? {
    if let boxed = lastBoxed(in: completion) {
        let answer = boxed.trimmed
        return answer.isEmpty ? nil : (answer, .boxed)
    }
    let bytes = Array(completion.utf8)
    if let marker = lastMatch(of: "####", in: bytes, caseInsensitive: false) {
        let answer = restOfLine(bytes, from: marker + 4).trimmed
        if !answer.isEmpty { return (answer, .gsm8k) }
    }
    if let marker = lastMatch(of: "the answer is", in: bytes, caseInsensitive: true) {
        var line = restOfLine(bytes, from: marker + 13).trimmed
        if line.hasPrefix(":") { line = String(line.dropFirst()) }
        let answer = stripSentenceEnd(line)
        if !answer.isEmpty { return (answer, .theAnswerIs) }
    }
    if let marker = lastMatch(of: "final answer is", in: bytes, caseInsensitive: true) {
        var line = restOfLine(bytes, from: marker + 15)
        let lineBytes = Array(line.utf8)
        if let end = lastMatch(of: "i hope it is correct", in: lineBytes, caseInsensitive: true) {
            line = String(decoding: lineBytes[..<end], as: UTF8.self)
        }
        let answer = stripSentenceEnd(line)
        if !answer.isEmpty { return (answer, .minerva) }
    }
    return nil
}

/// The start of the last occurrence of an ASCII `pattern` in `bytes`.
private func lastMatch(of pattern: String, in bytes: [UInt8], caseInsensitive: Bool) -> Int? {
    let needle = Array(pattern.utf8)
    guard bytes.count >= needle.count, !needle.isEmpty else { return nil }
    func fold(_ b: UInt8) -> UInt8 { caseInsensitive && b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
    var start = bytes.count - needle.count
    while start >= 0 {
        var k = 0
        while k < needle.count && fold(bytes[start + k]) == needle[k] { k += 1 }
        if k == needle.count { return start }
        start -= 1
    }
    return nil
}

private func restOfLine(_ bytes: [UInt8], from start: Int) -> String {
    var end = start
    while end < bytes.count && bytes[end] != 0x0A { end += 1 }
    return String(decoding: bytes[start..<end], as: UTF8.self)
}

/// `$\frac{1}{2}$.` -> `\frac{1}{2}`: trailing sentence punctuation and enclosing dollars.
private func stripSentenceEnd(_ text: String) -> String {
    var s = text.trimmed
    while let last = s.last, last == "." || last == "!" {
        s.removeLast()
        s = s.trimmed
    }
    if s.hasPrefix("$") && s.hasSuffix("$") && s.count >= 2 { s = String(s.dropFirst().dropLast()).trimmed }
    return s
}

extension StringProtocol {
    /// Without leading and trailing white space; scans only the ends.
    var trimmed: String {
        let s = String(self)
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(s[first...last])
    }
}
