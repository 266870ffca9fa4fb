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
    // A box whose brace never closes leaves every earlier box only the text before it: scanning
    // to the end again for each of 200K unclosed `\\boxed{` was quadratic (minutes).
    var scanEnd = bytes.count
    while let (commandEnd, commandStart) = lastBoxCommand(in: bytes, before: searchEnd, notBefore: max(0, start)) {
        switch boxedArgument(bytes, from: commandEnd, end: scanEnd) {
        case .found(let content, let after): return BoxedSpan(whole: commandStart..<after, content: content)
        case .unclosed: scanEnd = commandStart
        case .none: break
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

private enum BoxArgument {
    case found(content: Range<Int>, after: Int)
    /// A `{` that does not close before the end of the scan.
    case unclosed
    case none
}

/// The content of a box's argument and the offset just after the argument, scanning before `end`.
private func boxedArgument(_ bytes: [UInt8], from start: Int, end: Int) -> BoxArgument {
    var i = start
    while i < end, bytes[i] == 0x20 { i += 1 }
    guard i < end else { return .none }
    if bytes[i] == UInt8(ascii: "{") {
        var depth = 0
        var j = i
        while j < end {
            switch bytes[j] {
            case UInt8(ascii: "\\"): j += 1  // skip the escaped character
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return .found(content: (i + 1)..<j, after: j + 1) }
            default: break
            }
            j += 1
        }
        return .unclosed
    }
    // `\\boxed 5` (no braces, a space after the command): the token up to `$` or whitespace.
    guard i > start else { return .none }
    var j = i
    while j < end, ![UInt8(ascii: "$"), 0x20, 0x0A, 0x09].contains(bytes[j]) { j += 1 }
    return j > i ? .found(content: i..<j, after: j) : .none
}
