import Foundation

/// A LaTeX answer after the cosmetic rewrites that never change its meaning: delimiters,
/// sizing commands, spacing, `\dfrac`, degree marks, dollar signs, text wrappers and units,
/// thousands separators. `percent` remembers a removed `%` so that `50\%` can match `0.5`.
struct NormalizedAnswer: Equatable {
    var text: String
    var percent: Bool
}

/// Units and filler words removed after a number ("5 cm", "12 \text{ dollars}").
private let functionWords: Set<String> = ["sin", "cos", "tan", "sec", "csc", "cot", "log", "ln", "exp", "and", "or",
                                          "arcsin", "arccos", "arctan", "sqrt", "pi", "frac", "infty", "cup", "pm"]

private let textCommands = ["\\textbf", "\\textit", "\\textrm", "\\textnormal", "\\text", "\\mbox", "\\mathrm",
                            "\\mathbf", "\\mathit", "\\operatorname", "\\hbox"]

private let literalRewrites: [(String, String)] = [
    ("\\displaystyle", ""), ("\\bigcup", "\\cup"), ("\\left", ""), ("\\right", ""), ("\\bigl", ""), ("\\bigr", ""), ("\\Bigl", ""),
    ("\\Bigr", ""), ("\\big", ""), ("\\Big", ""),
    ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"),
    ("^{\\circ}", ""), ("^\\circ", ""), ("\\circ", ""), ("\\degree", ""), ("°", ""),
    ("\\!", ""), ("\\,", " "), ("\\;", " "), ("\\:", " "), ("\\ ", " "), ("~", " "), ("\\qquad", " "), ("\\quad", " "),
    ("{,}", ""), ("\\$", ""), ("$", ""), ("\\%", "%"),
    ("−", "-"), ("–", "-"), ("×", "\\times "), ("÷", "\\div "), ("·", "\\cdot "), ("π", "\\pi "), ("∞", "\\infty "),
    ("√", "\\sqrt"), ("≤", "\\le "), ("≥", "\\ge "), ("\\leq", "\\le"), ("\\geq", "\\ge"),
    ("\\varnothing", "\\emptyset"), ("\\{\\}", "\\emptyset"), ("\\{ \\}", "\\emptyset"), ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\lvert", "|"), ("\\rvert", "|"),
    ("\\vert", "|"), ("\\lbrack", "["), ("\\rbrack", "]"),
]

func normalize(_ raw: String) -> NormalizedAnswer {
    // `\\` (a matrix row break) must survive the rewrites of `\ ` and friends.
    var s = raw.replacingOccurrences(of: "\\\\", with: "\u{1}")
    for (from, to) in literalRewrites where s.contains(from) {
        s = s.replacingOccurrences(of: from, with: to)
    }
    s = s.replacingOccurrences(of: "\u{1}", with: "\\\\")
    var percent = false
    if s.contains("%") {
        percent = true
        s = s.replacingOccurrences(of: "%", with: "")
    }
    s = unwrapTextCommands(s)
    s = s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    s = stripTrailingWords(s)
    while let last = s.last, last == "." || last == " " { s.removeLast() }
    s = s.trimmed
    if isThousandsSeparated(s) { s = s.replacingOccurrences(of: ",", with: "") }
    return NormalizedAnswer(text: s, percent: percent)
}

/// `\text{cm}` -> ` cm `; nested braces inside the argument are kept.
private func unwrapTextCommands(_ input: String) -> String {
    guard input.contains("\\") else { return input }
    var s = input
    for command in textCommands {
        while let range = s.range(of: command + "{") {
            guard let close = matchingBrace(in: s, open: s.index(before: range.upperBound)) else { break }
            let inner = s[range.upperBound..<close]
            s.replaceSubrange(range.lowerBound...close, with: " " + inner + " ")
        }
    }
    return s
}

/// The index of the `}` matching the `{` at `open`, skipping escaped braces.
func matchingBrace(in s: String, open: String.Index) -> String.Index? {
    var depth = 0
    var i = open
    while i < s.endIndex {
        let c = s[i]
        if c == "\\" {
            i = s.index(after: i)
            if i < s.endIndex { i = s.index(after: i) }
            continue
        }
        if c == "{" { depth += 1 }
        if c == "}" {
            depth -= 1
            if depth == 0 { return i }
        }
        i = s.index(after: i)
    }
    return nil
}

/// "5 cm", "12 square units" -> "5", "12"; only after something with a digit, and never a
/// single letter (that is a variable: "2 x").
private func stripTrailingWords(_ s: String) -> String {
    var words = s.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    while words.count >= 2, let last = words.last, last.count >= 2, last.allSatisfy({ $0.isLetter && $0.isASCII }),
          !functionWords.contains(last.lowercased())
    {
        words.removeLast()
    }
    let kept = words.joined(separator: " ")
    return kept.contains(where: \.isNumber) ? kept : s
}

/// `1,234,567.5` (groups of exactly three digits) is one number, not a list.
private func isThousandsSeparated(_ s: String) -> Bool {
    var body = Substring(s)
    if body.first == "-" || body.first == "+" { body = body.dropFirst() }
    let parts = body.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy(\.isASCIIDigit)) else { return false }
    let groups = parts[0].split(separator: ",", omittingEmptySubsequences: false)
    guard groups.count >= 2, (1...3).contains(groups[0].count), groups[0].allSatisfy(\.isASCIIDigit) else { return false }
    return groups.dropFirst().allSatisfy { $0.count == 3 && $0.allSatisfy(\.isASCIIDigit) }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
