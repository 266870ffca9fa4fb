import Foundation
import Formats

/// A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json`: the GPT-2, Llama-3 and
/// Qwen2 pre-tokenizers (ByteLevel with its regex, or a Split regex followed by ByteLevel), an
/// optional NFC normalizer, merges in either encoding ("a b" strings or [a, b] pairs), added
/// and special tokens, a TemplateProcessing post-processor (BOS), and byte-level decoding.
/// Anything else (WordPiece, SentencePiece/Metaspace, byte fallback) is refused by name.
public final class Tokenizer: @unchecked Sendable {
    public let vocabulary: [String: Int]
    private let tokens: [String]
    /// (left id, right id) -> (rank, merged id).
    private let merges: [UInt64: (rank: Int32, merged: Int32)]
    private let splitPatterns: [NSRegularExpression]
    private let addPrefixSpace: Bool
    private let normalizeNFC: Bool
    private let ignoreMerges: Bool
    /// Added tokens, longest first, so the longest match wins.
    private let added: [(content: String, id: Int, special: Bool)]
    private let specialIDs: Set<Int>
    private let prefixIDs: [Int]
    private let suffixIDs: [Int]
    private let lock = NSLock()
    private var cache: [String: [Int]] = [:]

    public var vocabularySize: Int { tokens.count }

    public func id(of token: String) -> Int? { vocabulary[token] ?? added.first { $0.content == token }?.id }

    public convenience init(path: String) throws {
        let text = try readTextFile(path)
        let json: JSON
        do { json = try JSON.parse(text) } catch { throw DataError("malformed JSON: \(error)", at: path) }
        do { try self.init(json: json) } catch let error as DataError { throw error.located(path) }
    }

    public init(json: JSON) throws {
        guard let root = json.objectValue, let model = root["model"]?.objectValue else {
            throw DataError("tokenizer.json has no \"model\" object")
        }
        let modelType = model["type"]?.stringValue ?? "BPE"
        guard modelType == "BPE" else { throw DataError("unsupported tokenizer model \"\(modelType)\" (byte-level BPE only)") }
        if model["byte_fallback"]?.boolValue == true {
            throw DataError("unsupported tokenizer: BPE with byte_fallback (SentencePiece-style); byte-level BPE only")
        }
        guard let vocab = model["vocab"]?.objectValue else { throw DataError("tokenizer model has no vocab") }
        var vocabulary: [String: Int] = [:]
        var maxID = -1
        for (token, id) in vocab {
            guard let id = id.intValue else { throw DataError("vocab entry \"\(token)\" has no integer id") }
            vocabulary[token] = id
            maxID = max(maxID, id)
        }
        var added: [(String, Int, Bool)] = []
        for item in root["added_tokens"]?.arrayValue ?? [] {
            guard let object = item.objectValue, let content = object["content"]?.stringValue, let id = object["id"]?.intValue else {
                throw DataError("added_tokens entries need content and id")
            }
            added.append((content, id, object["special"]?.boolValue ?? false))
            maxID = max(maxID, id)
        }
        var tokens = [String](repeating: "", count: maxID + 1)
        for (token, id) in vocabulary { tokens[id] = token }
        for (content, id, _) in added { tokens[id] = content }
        self.tokens = tokens
        self.vocabulary = vocabulary
        self.added = added.sorted { $0.0.count > $1.0.count }.map { (content: $0.0, id: $0.1, special: $0.2) }
        specialIDs = Set(added.filter(\.2).map(\.1))

        var merges: [UInt64: (Int32, Int32)] = [:]
        for (rank, item) in (model["merges"]?.arrayValue ?? []).enumerated() {
            let pair: [String]
            if let text = item.stringValue {
                pair = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            } else {
                pair = item.arrayValue?.compactMap(\.stringValue) ?? []
            }
            guard pair.count == 2, let left = vocabulary[pair[0]], let right = vocabulary[pair[1]],
                  let merged = vocabulary[pair[0] + pair[1]] else {
                throw DataError("merge \(rank) (\(item.serialized())) names tokens missing from the vocab")
            }
            let key = UInt64(left) << 32 | UInt64(right)
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(merged)) }
        }
        self.merges = merges.mapValues { (rank: $0.0, merged: $0.1) }
        ignoreMerges = model["ignore_merges"]?.boolValue ?? false

        // Normalizer: none or NFC (Qwen2).
        switch root["normalizer"] {
        case nil, .null?: normalizeNFC = false
        case .object(let normalizer)? where normalizer["type"]?.stringValue == "NFC": normalizeNFC = true
        case let other?: throw DataError("unsupported normalizer \(other.objectValue?["type"]?.stringValue ?? other.serialized())")
        }

        // Pre-tokenizer: ByteLevel (with the GPT-2 regex), or Sequence[Split(regex), ByteLevel(use_regex: false)].
        var patterns: [String] = []
        var prefixSpace = false
        var sawByteLevel = false
        func readPreTokenizer(_ value: JSON) throws {
            guard let object = value.objectValue, let type = object["type"]?.stringValue else { throw DataError("malformed pre_tokenizer") }
            switch type {
            case "Sequence":
                for item in object["pretokenizers"]?.arrayValue ?? [] { try readPreTokenizer(item) }
            case "Split":
                guard let pattern = object["pattern"]?.objectValue?["Regex"]?.stringValue,
                      object["behavior"]?.stringValue == "Isolated", object["invert"]?.boolValue != true else {
                    throw DataError("unsupported Split pre-tokenizer (a Regex pattern with behavior Isolated is supported)")
                }
                patterns.append(pattern)
            case "ByteLevel":
                sawByteLevel = true
                prefixSpace = object["add_prefix_space"]?.boolValue ?? false
                if object["use_regex"]?.boolValue ?? true { patterns.append(Self.gpt2Pattern) }
            default:
                throw DataError("unsupported pre-tokenizer \"\(type)\" (ByteLevel and Split are supported)")
            }
        }
        if let pre = root["pre_tokenizer"], pre != .null { try readPreTokenizer(pre) }
        guard sawByteLevel else { throw DataError("unsupported tokenizer: no ByteLevel pre-tokenizer (byte-level BPE only)") }
        addPrefixSpace = prefixSpace
        splitPatterns = try patterns.map { pattern in
            do { return try NSRegularExpression(pattern: pattern) } catch {
                throw DataError("pre-tokenizer regex does not compile: \(pattern)")
            }
        }

        // Post-processor: TemplateProcessing adds special tokens around the sequence.
        var prefix: [Int] = [], suffix: [Int] = []
        if let post = root["post_processor"]?.objectValue, post["type"]?.stringValue == "TemplateProcessing" {
            let specials = post["special_tokens"]?.objectValue ?? JSONObject()
            var seenSequence = false
            for piece in post["single"]?.arrayValue ?? [] {
                if piece.objectValue?["Sequence"] != nil { seenSequence = true; continue }
                guard let name = piece.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue,
                      let ids = specials[name]?.objectValue?["ids"]?.arrayValue?.compactMap(\.intValue) else {
                    throw DataError("TemplateProcessing names an undefined special token")
                }
                if seenSequence { suffix += ids } else { prefix += ids }
            }
        } else if let post = root["post_processor"]?.objectValue, let type = post["type"]?.stringValue,
                  !["ByteLevel", "Sequence"].contains(type) {
            throw DataError("unsupported post-processor \"\(type)\"")
        }
        prefixIDs = prefix
        suffixIDs = suffix
    }

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    // MARK: encoding

    /// Token ids of `text`; with `addSpecialTokens` the post-processor's tokens (BOS) too.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids = addSpecialTokens ? prefixIDs : []
        for (segment, addedID) in splitAddedTokens(text) {
            if let addedID { ids.append(addedID); continue }
            ids += encodeOrdinary(segment)
        }
        if addSpecialTokens { ids += suffixIDs }
        return ids
    }

    /// Text between added tokens, and the added tokens themselves.
    private func splitAddedTokens(_ text: String) -> [(String, Int?)] {
        guard !added.isEmpty else { return [(text, nil)] }
        var pieces: [(String, Int?)] = []
        var current = ""
        var index = text.startIndex
        outer: while index < text.endIndex {
            for token in added where text[index...].hasPrefix(token.content) && !token.content.isEmpty {
                if !current.isEmpty { pieces.append((current, nil)); current = "" }
                pieces.append((token.content, token.id))
                index = text.index(index, offsetBy: token.content.count)
                continue outer
            }
            current.append(text[index])
            index = text.index(after: index)
        }
        if !current.isEmpty { pieces.append((current, nil)) }
        return pieces
    }

    private func encodeOrdinary(_ raw: String) -> [Int] {
        var text = normalizeNFC ? raw.precomposedStringWithCanonicalMapping : raw
        if addPrefixSpace && !text.hasPrefix(" ") { text = " " + text }
        var ids: [Int] = []
        for word in preTokenize(text) { ids += encodeWord(word) }
        return ids
    }

    /// Applies each Split regex in turn (Isolated: matches and the text between both kept).
    private func preTokenize(_ text: String) -> [String] {
        var pieces = [text]
        for regex in splitPatterns {
            var next: [String] = []
            for piece in pieces {
                let ns = piece as NSString
                var last = 0
                for match in regex.matches(in: piece, range: NSRange(location: 0, length: ns.length)) where match.range.length > 0 {
                    if match.range.location > last { next.append(ns.substring(with: NSRange(location: last, length: match.range.location - last))) }
                    next.append(ns.substring(with: match.range))
                    last = match.range.location + match.range.length
                }
                if last < ns.length { next.append(ns.substring(from: last)) }
            }
            pieces = next
        }
        return pieces.filter { !$0.isEmpty }
    }

    /// BPE over one pre-token: symbols in a linked list, candidate merges in a min-heap keyed
    /// by (rank, position), stale entries skipped. O(n log n) for a word of n bytes.
    private func encodeWord(_ word: String) -> [Int] {
        lock.lock()
        if let cached = cache[word] { lock.unlock(); return cached }
        lock.unlock()
        let mapped = String(String.UnicodeScalarView(word.utf8.map { Self.byteToScalar[Int($0)] }))
        if ignoreMerges, let whole = vocabulary[mapped] { return remember(word, [whole]) }
        var symbols: [Int32] = mapped.unicodeScalars.map { Int32(vocabulary[String($0)] ?? -1) }
        if symbols.contains(-1) { return remember(word, symbols.filter { $0 >= 0 }.map(Int.init)) }
        let n = symbols.count
        var next = Array(1...max(1, n)).map(Int32.init), previous = (0..<n).map { Int32($0 - 1) }
        if n > 0 { next[n - 1] = -1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        func consider(_ i: Int) {
            let j = Int(next[i])
            guard j >= 0, let merge = merges[UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[j]))] else { return }
            heap.push((merge.rank, Int32(i), symbols[i], symbols[j]))
        }
        for i in 0..<max(0, n - 1) { consider(i) }
        while let (_, position, left, right) = heap.pop() {
            let i = Int(position)
            let j = Int(next[i])
            // Skip entries made stale by an earlier merge at this place.
            guard alive[i], j >= 0, symbols[i] == left, symbols[j] == right else { continue }
            symbols[i] = merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))]!.merged
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { previous[Int(next[j])] = Int32(i) }
            if previous[i] >= 0 { consider(Int(previous[i])) }
            consider(i)
        }
        var ids: [Int] = []
        var i = n > 0 ? 0 : -1
        while i >= 0 { ids.append(Int(symbols[i])); i = Int(next[i]) }
        return remember(word, ids)
    }

    private func remember(_ word: String, _ ids: [Int]) -> [Int] {
        lock.lock()
        if cache.count > 100_000 { cache.removeAll() }
        cache[word] = ids
        lock.unlock()
        return ids
    }

    // MARK: decoding

    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            if specialIDs.contains(id) {
                if !skipSpecialTokens { bytes += Array(tokens[id].utf8) }
                continue
            }
            for scalar in tokens[id].unicodeScalars {
                if let byte = Self.scalarToByte[scalar.value] { bytes.append(byte) } else { bytes += Array(String(scalar).utf8) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: the byte <-> character map of byte-level BPE (GPT-2's bytes_to_unicode)

    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable { table[b] = Unicode.Scalar(UInt32(b))! } else { table[b] = Unicode.Scalar(256 + extra)!; extra += 1 }
        }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, scalar) in byteToScalar.enumerated() { map[scalar.value] = UInt8(b) }
        return map
    }()
}

/// A binary min-heap of candidate merges ordered by (rank, position).
private struct MergeHeap {
    typealias Entry = (rank: Int32, position: Int32, left: Int32, right: Int32)
    private var items: [Entry] = []

    private static func less(_ a: Entry, _ b: Entry) -> Bool { (a.rank, a.position) < (b.rank, b.position) }

    mutating func push(_ entry: Entry) {
        items.append(entry)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && Self.less(items[l], items[smallest]) { smallest = l }
                if r < items.count && Self.less(items[r], items[smallest]) { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
