/// The content of the last `\boxed{...}` (or `\boxed X`, `\fbox{...}`) in a LaTeX text, with
/// nested braces matched and escaped braces (`\{`, `\}`) skipped. nil when there is none.
/// Shared by the MATH importer (reference answers) and the math checker (model answers).
public func lastBoxed(in text: String) -> String? {
    let bytes = Array(text.utf8)
    var searchEnd = bytes.count
    while let (commandEnd, commandStart) = lastBoxCommand(in: bytes, before: searchEnd) {
        if let content = boxedArgument(bytes, from: commandEnd) { return content }
        searchEnd = commandStart
    }
    return nil
}

private let boxCommands: [[UInt8]] = [Array("\\boxed".utf8), Array("\\fbox".utf8)]

/// The last box command starting before `end`: (index after the command name, its start).
private func lastBoxCommand(in bytes: [UInt8], before end: Int) -> (Int, Int)? {
    var i = end - 1
    while i >= 0 {
        if bytes[i] == UInt8(ascii: "\\") {
            for command in boxCommands where i + command.count <= bytes.count
                && bytes[i..<i + command.count].elementsEqual(command)
            {
                let after = i + command.count
                // `\boxedfoo` is another command, not \boxed.
                let isLetter = after < bytes.count && ((bytes[after] | 0x20) >= 0x61 && (bytes[after] | 0x20) <= 0x7A)
                if !isLetter { return (after, i) }
            }
        }
        i -= 1
    }
    return nil
}

private func boxedArgument(_ bytes: [UInt8], from start: Int) -> String? {
    var i = start
    while i < bytes.count, bytes[i] == 0x20 { i += 1 }
    guard i < bytes.count else { return nil }
    if bytes[i] == UInt8(ascii: "{") {
        var depth = 0
        var j = i
        while j < bytes.count {
            switch bytes[j] {
            case UInt8(ascii: "\\"): j += 1  // skip the escaped character
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return String(decoding: bytes[(i + 1)..<j], as: UTF8.self) }
            default: break
            }
            j += 1
        }
        return nil
    }
    // `\boxed 5` (no braces, a space after the command): the token up to `$` or whitespace.
    guard i > start else { return nil }
    var j = i
    while j < bytes.count, ![UInt8(ascii: "$"), 0x20, 0x0A, 0x09].contains(bytes[j]) { j += 1 }
    return j > i ? String(decoding: bytes[i..<j], as: UTF8.self) : nil
}
