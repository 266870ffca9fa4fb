import Foundation

/// A LaTeX answer after the cosmetic rewrites that never change its meaning: delimiters,
/// sizing commands, spacing, `\dfrac`, degree marks, dollar signs, text wrappers and units,
/// thousands separators. `percent` remembers a removed `%` so that `50\%` can match `0.5`.
struct NormalizedAnswer: Equatable {
    var text: String
    var percent: Bool
    /// The unit words removed after the number (`cm^2`), lowercased: `30 minutes` is not `30 hours`.
    var units: [String] = []
    /// A dollar sign was removed: `\\$5` is not `5\\%`.
    var currency = false
}

/// Units and filler words removed after a number ("5 cm", "12 \text{ dollars}").
private let functionWords: Set<String> = ["sin", "cos", "tan", "sec", "csc", "cot", "log", "ln", "exp", "and", "or",
                                          "arcsin", "arccos", "arctan", "sqrt", "pi", "frac", "infty", "cup", "pm"]

private let textCommands = ["\\textbf", "\\textit", "\\textrm", "\\textnormal", "\\text", "\\mbox", "\\mathrm",
                            "\\mathbf", "\\mathit", "\\operatorname", "\\hbox"]

private let literalRewrites: [(String, String)] = [
    ("\\displaystyle", ""), ("\\bigcup", "\\cup"),
    ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"),
    ("^{\\circ}", ""), ("^\\circ", ""), ("\\degree", ""), ("°", ""),
    ("\\!", ""), ("\\,", " "), ("\\;", " "), ("\\:", " "), ("\\ ", " "), ("~", " "), ("\\qquad", " "), ("\\quad", " "),
    ("{,}", ","), ("\\$", ""), ("$", ""), ("\\%", "%"),
    ("−", "-"), ("–", "-"), ("×", "\\times "), ("÷", "\\div "), ("·", "\\cdot "), ("π", "\\pi "), ("∞", "\\infty "),
    ("√", "\\sqrt"), ("≤", "\\le "), ("≥", "\\ge "), ("≠", "\\ne "), ("<=", "\\le "), (">=", "\\ge "),
    ("\\not=", "\\ne "), ("\\not =", "\\ne "),
    ("\\varnothing", "\\emptyset"), ("\\{\\}", "\\emptyset"), ("\\{ \\}", "\\emptyset"), ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\lvert", "|"), ("\\rvert", "|"),
    ("\\vert", "|"), ("\\lbrack", "["), ("\\rbrack", "]"),
]

func normalize(_ raw: String) -> NormalizedAnswer {
    // `\\` (a matrix row break) must survive the rewrites of `\ ` and friends.
    let rowBreaks = hasSubstring(raw, "\\\\")
    var s = rowBreaks ? raw.replacingOccurrences(of: "\\\\", with: "\u{1}") : raw
    let currency = hasSubstring(s, "\\$")
    // Foundation's search is slow; a byte scan decides which rewrites apply at all.
    for (from, to) in literalRewrites where hasSubstring(s, from) {
        s = s.replacingOccurrences(of: from, with: to)
    }
    if rowBreaks { s = s.replacingOccurrences(of: "\u{1}", with: "\\\\") }
    if hasSubstring(s, "!=") || commandPrefixes.contains(where: { hasSubstring(s, $0) }) { s = rewriteCommands(s) }
    var percent = false
    if hasSubstring(s, "%") {
        percent = true
        s = s.replacingOccurrences(of: "%", with: "")
    }
    s = replacingTextCommands(in: s, keepingArguments: true)
    s = s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    let units: [String]
    (s, units) = stripTrailingWords(s)
    while let last = s.last, last == "." || last == " " { s.removeLast() }
    s = s.trimmed
    if isThousandsSeparated(s) { s = s.replacingOccurrences(of: ",", with: "") }
    s = joinSpaceSeparatedThousands(s)
    return NormalizedAnswer(text: s, percent: percent, units: units, currency: currency)
}

/// `\text{cm}` -> ` cm ` (nested braces inside the argument kept), or -> ` ` without the
/// argument (to see whether a closing line has words outside units).
func replacingTextCommands(in input: String, keepingArguments: Bool) -> String {
    guard hasSubstring(input, "\\") else { return input }
    var s = input
    for command in textCommands where hasSubstring(s, command) {
        while let range = s.range(of: command + "{") {
            guard let close = matchingBrace(in: s, open: s.index(before: range.upperBound)) else { break }
            let inner = keepingArguments ? s[range.upperBound..<close] : ""
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
private func stripTrailingWords(_ s: String) -> (String, [String]) {
    var words = s.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    // `36 cm^2`, `8 \\text{ m}^3`: a unit with a power is one word.
    if words.count >= 3, let last = words.last, ["^2", "^3", "^{2}", "^{3}"].contains(last) {
        words.removeLast()
        words[words.count - 1] += last
    }
    var removed: [String] = []
    while words.count >= 2, let last = words.last, isUnit(last), !functionWords.contains(unitBase(last).lowercased()) {
        removed.insert(words.removeLast().lowercased(), at: 0)
    }
    let kept = words.joined(separator: " ")
    return kept.contains(where: \.isNumber) ? (kept, removed) : (s, [])
}

/// Two-letter words that are units (`5 cm`); any other two letters are variables (`2 ab`).
private let shortUnits: Set<String> = ["cm", "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "lb", "oz", "hr", "ms", "mL"]

/// Words that change the value or say something about it: never stripped as units.
private let valueWords: Set<String> = ["million", "millions", "billion", "billions", "thousand", "thousands", "hundred",
                                       "hundreds", "dozen", "dozens", "squared", "cubed", "more", "less", "least", "most",
                                       "fewer", "greater", "times", "half", "twice", "percent", "not", "no", "than"]

/// A word, or a word with a square or cube (`cm^2`).
private func isUnit(_ word: String) -> Bool {
    let base = unitBase(word)
    guard base.count >= 2, base.allSatisfy({ $0.isLetter && $0.isASCII }), !valueWords.contains(base.lowercased()) else { return false }
    return base.count >= 3 || shortUnits.contains(base)
}

private func unitBase(_ word: String) -> String {
    for power in ["^2", "^3", "^{2}", "^{3}"] where word.hasSuffix(power) { return String(word.dropLast(power.count)) }
    return word
}

/// `1,234,567.5` (groups of exactly three digits) is one number, not a list.
private func isThousandsSeparated(_ s: String) -> Bool {
    var body = Substring(s)
    if body.first == "-" || body.first == "+" { body = body.dropFirst() }
    let parts = body.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy(\.isASCIIDigit)) else { return false }
    let groups = parts[0].split(separator: ",", omittingEmptySubsequences: false)
    guard groups.count >= 2, (1...3).contains(groups[0].count), groups[0].allSatisfy(\.isASCIIDigit),
          groups[0].first != "0" else { return false }
    return groups.dropFirst().allSatisfy { $0.count == 3 && $0.allSatisfy(\.isASCIIDigit) }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

private let commandRewrites: [String: String] = [
    "leq": "\\le", "leqslant": "\\le", "leqq": "\\le", "le": "\\le", "geq": "\\ge", "geqslant": "\\ge", "geqq": "\\ge",
    "ge": "\\ge", "neq": "\\ne", "ne": "\\ne", "lt": "<", "gt": ">",
    "left": "", "right": "", "big": "", "Big": "", "bigl": "", "bigr": "", "Bigl": "", "Bigr": "", "bigg": "", "Bigg": "",
    "biggl": "", "biggr": "",
]

/// A backslash and the first two letters of every rewritten command: a byte search decides
/// whether an answer needs the character scan of `rewriteCommands` at all.
private let commandPrefixes = Set(commandRewrites.keys.map { "\\" + $0.prefix(2) })

/// Whole commands only (`\\left(` goes, `\\leftarrow` stays): sizing commands removed, one spelling
/// per comparison (`\\leq`, `\\leqslant`, `\\leqq` -> `\\le`; `\\gt` -> `>`; `\\neq` -> `\\ne`), and
/// `x != 3` -> `x \\ne 3` (but `5! = 120` keeps its factorial).
private func rewriteCommands(_ input: String) -> String {
    let chars = Array(input)
    var out = ""
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if c == "\\" {
            var end = i + 1
            while end < chars.count, chars[end].isLetter, chars[end].isASCII { end += 1 }
            if end > i + 1, let replacement = commandRewrites[String(chars[(i + 1)..<end])] {
                out += replacement.isEmpty ? "" : " " + replacement + " "
                i = end
                continue
            }
            if end == i + 1, i + 1 < chars.count {
                out.append(c)
                out.append(chars[i + 1])
                i += 2
                continue
            }
            out += String(chars[i..<end])
            i = end
            continue
        }
        if c == "!", i + 1 < chars.count, chars[i + 1] == "=" {
            let previous = chars[..<i].last(where: { $0 != " " })
            if let previous, !(previous.isNumber || previous == ")" || previous == "}" || previous == "!") {
                out += " \\ne "
                i += 2
                continue
            }
        }
        out.append(c)
        i += 1
    }
    return out
}

/// `12 345` (a thin space or a space between groups of three digits, as `12\\,345` and
/// `12\\ 345` become) is one number. Only runs of a 1-3 digit group followed by 3-digit groups,
/// not touching other digits or a decimal point, are joined.
private func joinSpaceSeparatedThousands(_ s: String) -> String {
    guard hasSubstring(s, " "), s.utf8.count >= 5 else { return s }
    let chars = Array(s)
    var out: [Character] = []
    var i = 0
    while i < chars.count {
        // The start of a digit run that does not continue a number.
        let startsNumber = chars[i].isASCIIDigit && (i == 0 || !(chars[i - 1].isASCIIDigit || chars[i - 1] == "."))
        if startsNumber {
            var end = i
            while end < chars.count, chars[end].isASCIIDigit { end += 1 }
            var groups = end - i <= 3 && chars[i] != "0" ? [String(chars[i..<end])] : []
            var cursor = end
            while !groups.isEmpty, cursor + 3 < chars.count, chars[cursor] == " " {
                let group = chars[(cursor + 1)..<(cursor + 4)]
                let after = cursor + 4 < chars.count ? chars[cursor + 4] : nil
                guard group.count == 3, group.allSatisfy(\.isASCIIDigit),
                      after.map({ !$0.isASCIIDigit && $0 != "." }) ?? true else { break }
                groups.append(String(group))
                cursor += 4
            }
            if groups.count >= 2 {
                out += Array(groups.joined())
                i = cursor
                continue
            }
            out += chars[i..<end]
            i = end
            continue
        }
        out.append(chars[i])
        i += 1
    }
    return String(out)
}

/// Whether `needle` occurs in `text`, by a byte scan of their UTF-8 (exact for UTF-8).
func hasSubstring(_ text: String, _ needle: String) -> Bool {
    var text = text, needle = needle
    return text.withUTF8 { haystack in
        needle.withUTF8 { pattern in
            guard let first = pattern.first, haystack.count >= pattern.count else { return pattern.isEmpty }
            var i = 0
            let last = haystack.count - pattern.count
            while i <= last {
                if haystack[i] == first {
                    var k = 1
                    while k < pattern.count && haystack[i + k] == pattern[k] { k += 1 }
                    if k == pattern.count { return true }
                }
                i += 1
            }
            return false
        }
    }
}
