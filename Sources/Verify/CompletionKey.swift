import Formats

/// How `--cap` and `--dedup` tell two correct completions of one problem apart.
public enum Dedup: String, Sendable, CaseIterable {
    /// The behaviour from before `--dedup`: distinct completions (up to white space) are taken
    /// first and repeats only fill up the cap; nothing is dropped without `--cap`.
    case exact
    /// Completions equal after normalization (`CompletionKey.normalized`) count as one: the kept
    /// set never holds two of them for one problem, with or without `--cap`.
    case normalized
}

/// Keys under which completions count as the same solution.
public enum CompletionKey {
    /// Runs of white space collapsed to one space, ends trimmed.
    public static func whitespace(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// `--dedup normalized`: code completions compare as Python without comments and blank
    /// lines; everything else (math) by `whitespace`.
    public static func normalized(_ record: Record) -> String {
        let completion = record["completion"]?.stringValue ?? ""
        return record.task == "code" ? python(completion) : whitespace(completion)
    }

    /// Python source without comments (`#` to the end of the line, outside string literals) and
    /// blank lines, runs of white space inside a line collapsed to one space, trailing space
    /// dropped. Two things stay as written, because changing them changes the program: string
    /// literals (a `#` or double space there is data) and indentation (it is Python's syntax:
    /// collapsing it would make `if c:\n    a()\n    b()` equal `if c:\n    a()\nb()`).
    /// Prose around a fenced block goes through the same scan; a stray apostrophe there opens a
    /// string that ends with its line, as Python's tokenizer would report it.
    public static func python(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let newline = UInt8(ascii: "\n"), backslash = UInt8(ascii: "\\"), hash = UInt8(ascii: "#")
        let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'")
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0C }

        var lines: [[UInt8]] = []
        var line: [UInt8] = []
        var hasToken = false  // false while in the line's indentation
        var pendingSpace = false
        func endLine() {
            if hasToken { lines.append(line) }  // trailing space was never written
            line.removeAll(keepingCapacity: true)
            hasToken = false
            pendingSpace = false
        }
        func startToken() {
            if pendingSpace { line.append(0x20) }
            pendingSpace = false
            hasToken = true
        }

        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == newline {
                endLine()
                i += 1
            } else if isSpace(byte) {
                if hasToken { pendingSpace = true } else { line.append(byte) }
                i += 1
            } else if byte == hash {
                while i < bytes.count, bytes[i] != newline { i += 1 }
            } else if byte == quote || byte == apostrophe {
                // A string literal, copied verbatim (its prefix, r/b/f/u, was copied as a token).
                // A backslash always takes the next byte with it: even in a raw string `\"`
                // does not end the literal.
                startToken()
                let triple = i + 2 < bytes.count && bytes[i + 1] == byte && bytes[i + 2] == byte
                let delimiter = triple ? 3 : 1
                line += bytes[i..<(i + delimiter)]
                i += delimiter
                while i < bytes.count {
                    let inner = bytes[i]
                    if inner == backslash {
                        line += bytes[i..<min(i + 2, bytes.count)]
                        i += 2
                    } else if inner == byte, !triple || (i + 2 < bytes.count && bytes[i + 1] == byte
                                                         && bytes[i + 2] == byte) {
                        line += bytes[i..<(i + delimiter)]
                        i += delimiter
                        break
                    } else if inner == newline, !triple {
                        break  // unterminated: the line ends the literal
                    } else {
                        line.append(inner)
                        i += 1
                    }
                }
            } else {
                startToken()
                line.append(byte)
                i += 1
            }
        }
        endLine()
        return lines.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }
}
