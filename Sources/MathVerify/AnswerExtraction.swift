import Formats

/// Where an answer was found in a completion (kept for diagnostics and tests).
public enum AnswerSource: String, Sendable {
    case boxed, gsm8k, theAnswerIs = "the_answer_is", minerva, finalAnswer = "final_answer"
}

/// Finds the final answer in a model's completion: the answer marker that comes last wins.
/// Markers: `\\boxed{}` / `\\boxed X` / `\\fbox{}` (a final group of boxes separated only by
/// commas, "and" or spacing is one list: `\\boxed{3}, \\boxed{5}` is `3, 5`); GSM8K's `#### N`;
/// "The answer is X"; the Minerva format "Final Answer: The final answer is X. I hope it is
/// correct."; and a free-form closing "Final Answer: ..." line, whose answer is the line itself
/// when it is only math, else its last `$...$` span or number. A marker without a digit or any
/// math after it ("the answer is correct") does not override an earlier box. Each is a scan
/// over the UTF-8 bytes, so a 10 MB completion costs milliseconds.
public func extractAnswer(from completion: String) -> (answer: String, source: AnswerSource)? {
    let bytes = Array(completion.utf8)
    var found: (position: Int, answer: String, source: AnswerSource)?
    var boxPosition: Int?
    if let (position, answer) = finalBoxGroup(bytes) {
        boxPosition = position
        found = (position, answer, .boxed)
    }
    func consider(_ position: Int, _ answer: String, _ source: AnswerSource) {
        guard !answer.isEmpty, position > found?.position ?? -1 else { return }
        if boxPosition != nil {
            // "The answer is ..." in running text (a remark, a check) never overrides a box; a
            // closing marker does, when it holds a number or math.
            if source == .theAnswerIs { return }
            if !answer.contains(where: { $0.isNumber || $0 == "\\" || $0 == "$" }) { return }
        }
        found = (position, answer, source)
    }
    if let marker = lastMatch(of: "####", in: bytes, caseInsensitive: false) {
        consider(marker, restOfLine(bytes, from: marker + 4).trimmed, .gsm8k)
    }
    if let marker = lastMatch(of: "the answer is", in: bytes, caseInsensitive: true) {
        var line = restOfLine(bytes, from: marker + 13).trimmed
        if line.hasPrefix(":") { line = String(line.dropFirst()) }
        consider(marker, freeFormAnswer(line), .theAnswerIs)
    }
    if let marker = lastMatch(of: "final answer is", in: bytes, caseInsensitive: true) {
        var line = restOfLine(bytes, from: marker + 15)
        let lineBytes = Array(line.utf8)
        if let end = lastMatch(of: "i hope it is correct", in: lineBytes, caseInsensitive: true) {
            line = String(decoding: lineBytes[..<end], as: UTF8.self)
        }
        consider(marker, freeFormAnswer(line), .minerva)
    }
    if let marker = lastMatch(of: "final answer:", in: bytes, caseInsensitive: true) {
        consider(marker, freeFormAnswer(restOfLine(bytes, from: marker + 13)), .finalAnswer)
    }
    return found.map { ($0.answer, $0.source) }
}

/// The last box, or the last boxes when only connectors stand between them: its start and the
/// contents joined as a list.
private func finalBoxGroup(_ bytes: [UInt8]) -> (Int, String)? {
    guard var box = lastBoxedSpan(in: bytes, before: bytes.count) else { return nil }
    // An empty box after a real one (`\\boxed{5}` then `\\boxed{}`) is not the answer.
    while box.content.allSatisfy({ bytes[$0] == 0x20 }), let earlier = lastBoxedSpan(in: bytes, before: box.whole.lowerBound) {
        box = earlier
    }
    // `\\boxed{\\boxed{3}, 5}`: the box is the outer one, not the last one to start.
    while let outer = lastBoxedSpan(in: bytes, before: box.whole.lowerBound), outer.whole.upperBound >= box.whole.upperBound {
        box = outer
    }
    var contents = [String(decoding: bytes[box.content], as: UTF8.self).trimmed]
    // A box of the group ends at most 40 bytes (the connector) before the next starts, and its
    // command starts at most 4,000 bytes before that: the search never rescans the completion.
    while contents.count < 64,
          let previous = lastBoxedSpan(in: bytes, before: box.whole.lowerBound, notBefore: box.whole.lowerBound - 4_040),
          previous.whole.upperBound <= box.whole.lowerBound,
          isConnector(String(decoding: bytes[previous.whole.upperBound..<box.whole.lowerBound], as: UTF8.self)) {
        contents.insert(String(decoding: bytes[previous.content], as: UTF8.self).trimmed, at: 0)
        box = previous
    }
    guard !contents.contains(where: \.isEmpty) else { return contents.count == 1 ? nil : (box.whole.lowerBound, "") }
    // `\\boxed{15\\frac{39}{40}} or \\boxed{\\frac{639}{40}}`: one value written twice is one answer.
    // Every pair must agree: `5`, `0.05`, `5\\%` each match their neighbour, not one another.
    if contents.count >= 2, contents.indices.allSatisfy({ i in
        contents.indices.allSatisfy { j in i >= j || MathEquivalence.equivalent(contents[i], contents[j]) }
    }) {
        return (box.whole.lowerBound, contents[contents.count - 1])
    }
    return (box.whole.lowerBound, contents.joined(separator: ", "))
}

/// Text that only joins boxes: commas, "and", "or" and other hedges, slashes, parentheses,
/// dollars, spacing and `\\text{}` around them. A hedge (`\\boxed{3} (or \\boxed{5})`) is thereby
/// judged as the list of its boxes, never as its last box.
private func isConnector(_ gap: String) -> Bool {
    guard gap.utf8.count <= 40 else { return false }
    var s = gap.lowercased()
    for token in ["\\textbf{", "\\text{", "\\mathrm{", "\\qquad", "\\quad", "\\lor", "\\(", "\\)", "\\[", "\\]",
                  "\\\\", "\\,", "\\;", "\\ ", "$", "{", "}", ",", ";", "&", "/", "(", ")"] {
        s = s.replacingOccurrences(of: token, with: " ")
    }
    let joiners: Set<Substring> = ["and", "or", "either", "possibly", "alternatively", "vs", "vs.", "maybe"]
    return s.split(whereSeparator: { $0.isWhitespace }).allSatisfy { joiners.contains($0) }
}

/// The answer in a closing line: the whole line (without sentence punctuation and enclosing
/// dollars) when it is only math (words inside `\\text{}` are units); otherwise its one math
/// span or number holding a digit (`Final Answer: the smallest $k$ is 12.` gives 12). Two or more
/// (`3, not 5`; `either 3 or 5`) are no answer: which one is meant is a guess.
func freeFormAnswer(_ line: String) -> String {
    let whole = stripSentenceEnd(line)
    guard hasWords(replacingTextCommands(in: whole, keepingArguments: false)) else { return whole }
    let chars = Array(whole)
    var candidates: [String] = []
    var i = 0
    while i < chars.count {
        if chars[i] == "$" {
            var end = i + 1
            while end < chars.count, chars[end] != "$" { end += 1 }
            guard end < chars.count else { break }
            let span = String(chars[(i + 1)..<end]).trimmed
            if !span.isEmpty { candidates.append(span) }
            i = end + 1
            continue
        }
        if chars[i] == "\\" {
            // A command outside dollars (`\\frac{1}{2} cup`): its digits are not numbers of the line.
            candidates.append("\\")
            i += 1
            while i < chars.count, chars[i].isLetter { i += 1 }
            continue
        }
        if chars[i].isASCIIDigit || (chars[i] == "-" && i + 1 < chars.count && chars[i + 1].isASCIIDigit) {
            var end = i + 1
            while end < chars.count, chars[end].isASCIIDigit
                    || ((chars[end] == "," || chars[end] == ".") && end + 1 < chars.count && chars[end + 1].isASCIIDigit) {
                end += 1
            }
            candidates.append(String(chars[i..<end]))
            i = end
            continue
        }
        i += 1
    }
    if candidates.contains("\\") { return "" }
    let numeric = candidates.filter { $0.contains(where: \.isNumber) }
    if numeric.count == 1 { return numeric[0] }
    return numeric.isEmpty && candidates.count == 1 ? candidates[0] : ""
}

/// Whether a text holds a word of three or more letters outside `$...$` and commands.
private func hasWords(_ text: String) -> Bool {
    var inMath = false, run = 0
    var previous: Character = " "
    for c in text {
        if c == "$" { inMath.toggle() }
        if !inMath, c.isLetter, c.isASCII, previous != "\\", run > 0 || !previous.isLetter {
            run += 1
            if run >= 3 { return true }
        } else if !(c.isLetter && c.isASCII) {
            run = 0
        }
        if previous == "\\" && c.isLetter { run = -1000 }
        previous = c
    }
    return false
}

/// The start of the last occurrence of an ASCII `pattern` in `bytes`; a pointer scan, so a 10 MB
/// completion is searched in milliseconds even in a debug build.
private func lastMatch(of pattern: String, in bytes: [UInt8], caseInsensitive: Bool) -> Int? {
    let needle = Array(pattern.utf8)
    guard bytes.count >= needle.count, !needle.isEmpty else { return nil }
    func fold(_ b: UInt8) -> UInt8 { caseInsensitive && b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
    let first = needle[0]
    return bytes.withUnsafeBufferPointer { buffer -> Int? in
        guard let base = buffer.baseAddress else { return nil }
        var start = bytes.count - needle.count
        while start >= 0 {
            if fold((base + start).pointee) == first {
                var k = 1
                while k < needle.count && fold((base + start + k).pointee) == needle[k] { k += 1 }
                if k == needle.count { return start }
            }
            start -= 1
        }
        return nil
    }
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
    // `$x = 3$` but not `$x=3$. Check: $x=3$` (whose ends are two different spans).
    if s.hasPrefix("$") && s.hasSuffix("$") && s.count >= 2 && s.filter({ $0 == "$" }).count == 2 {
        s = String(s.dropFirst().dropLast()).trimmed
    }
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
