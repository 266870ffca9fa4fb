/// The content of the last `\\boxed{...}` (or `\\boxed X`, `\\fbox{...}`) in a LaTeX text, with
/// nested braces matched and escaped braces (`\\{`, `\\}`) skipped. nil when there is none.
/// Shared by the MATH importer (reference answers) and the math checker (model answers).
public func lastBoxed(in text: String) -> String? {
    let bytes = Array(text.utf8)
    return lastBoxedSpan(in: bytes, before: bytes.count).map { String(decoding: bytes[$0.content], as: UTF8.self) }
}

/// Where a box is in a text, as UTF-8 offsets: the whole command and its content.
public struct BoxedSpan: Sendable, Equatable {
    public let whole: Range<Int>
    public let content: Range<Int>
}

/// The last box that starts in `notBefore..<end` and has a well-formed argument.
public func lastBoxedSpan(in bytes: [UInt8], before end: Int, notBefore start: Int = 0) -> BoxedSpan? {
    var searchEnd = end
    while let (commandEnd, commandStart) = lastBoxCommand(in: bytes, before: searchEnd, notBefore: max(0, start)) {
        if let (content, after) = boxedArgument(bytes, from: commandEnd) {
            return BoxedSpan(whole: commandStart..<after, content: content)
        }
        searchEnd = commandStart
    }
    return nil
}

private let boxCommands: [[UInt8]] = [Array("\\boxed".utf8), Array("\\fbox".utf8)]

/// The last box command starting before `end`: (index after the command name, its start).
private func lastBoxCommand(in bytes: [UInt8], before end: Int, notBefore start: Int) -> (Int, Int)? {
    var i = end - 1
    while i >= start {
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

/// The content of a box's argument and the offset just after the argument.
private func boxedArgument(_ bytes: [UInt8], from start: Int) -> (Range<Int>, Int)? {
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
                if depth == 0 { return ((i + 1)..<j, j + 1) }
            default: break
            }
            j += 1
        }
        return nil
    }
    // `\\boxed 5` (no braces, a space after the command): the token up to `$` or whitespace.
    guard i > start else { return nil }
    var j = i
    while j < bytes.count, ![UInt8(ascii: "$"), 0x20, 0x0A, 0x09].contains(bytes[j]) { j += 1 }
    return j > i ? (i..<j, j) : nil
}
