import Foundation
import Formats

/// Where an answer was found in a completion (kept for diagnostics and tests).
public enum AnswerSource: String, Sendable {
    case boxed, gsm8k, theAnswerIs = "the_answer_is", minerva
}

/// Finds the final answer in a model's completion. Tried in order: the last `\boxed{}` /
/// `\boxed X` / `\fbox{}`; GSM8K's `#### N`; "The answer is X"; the Minerva format
/// "Final Answer: The final answer is X. I hope it is correct." Each is a linear scan, so a
/// 10 MB completion costs milliseconds.
public func extractAnswer(from completion: String) -> (answer: String, source: AnswerSource)? {
    if let boxed = lastBoxed(in: completion) { return (boxed.trimmed, .boxed) }
    if let marker = completion.range(of: "####", options: .backwards) {
        let line = completion[marker.upperBound...].prefix { $0 != "\n" }
        let answer = line.trimmed
        if !answer.isEmpty { return (answer, .gsm8k) }
    }
    if let answer = textAfterLast("the answer is", in: completion) { return (answer, .theAnswerIs) }
    if let answer = textAfterLast("final answer is", in: completion) {
        var text = answer
        if let end = text.range(of: "I hope it is correct", options: .caseInsensitive) {
            text = String(text[..<end.lowerBound])
        }
        let cleaned = stripSentenceEnd(text)
        if !cleaned.isEmpty { return (cleaned, .minerva) }
    }
    return nil
}

/// The rest of the line after the last case-insensitive `phrase`, without a closing period.
private func textAfterLast(_ phrase: String, in text: String) -> String? {
    guard let range = text.range(of: phrase, options: [.backwards, .caseInsensitive]) else { return nil }
    let line = String(text[range.upperBound...].prefix { $0 != "\n" })
    if phrase == "the answer is", text[..<range.lowerBound].lowercased().hasSuffix("final ") { return nil }
    let answer = stripSentenceEnd(line.trimmingPrefix(":"))
    return answer.isEmpty ? nil : answer
}

/// `$\frac{1}{2}$.` -> `\frac{1}{2}`: trailing sentence punctuation and enclosing dollars.
private func stripSentenceEnd(_ text: some StringProtocol) -> String {
    var s = text.trimmed
    while let last = s.last, ".!".contains(last) { s.removeLast(); s = s.trimmed }
    if s.hasPrefix("$") && s.hasSuffix("$") && s.count >= 2 { s = String(s.dropFirst().dropLast()).trimmed }
    return s
}

extension StringProtocol {
    var trimmed: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    func trimmingPrefix(_ prefix: String) -> String {
        let s = trimmed
        return s.hasPrefix(prefix) ? String(s.dropFirst(prefix.count)) : s
    }
}
