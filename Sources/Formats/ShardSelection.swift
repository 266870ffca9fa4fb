/// `--shard i/n`: a stable subset of problems chosen by id, so that n runs (by `make -j` or a
/// cluster) cover every problem exactly once and concatenating their outputs equals one run.
/// Membership hashes the id with 64-bit FNV-1a and the splitmix64 finalizer (FNV's low bits
/// follow the last byte, so `x/0`, `x/1`, ... would otherwise cycle through the parts). Both
/// are fixed across platforms and versions; Swift's Hasher is seeded per process.
public struct ShardSelection: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let all = ShardSelection(uncheckedIndex: 0, count: 1)

    private init(uncheckedIndex: Int, count: Int) {
        index = uncheckedIndex
        self.count = count
    }

    /// Parses `i/n` with 0 <= i < n.
    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
            throw DataError("invalid shard \"\(text)\": expected i/n with 0 <= i < n, for example 0/4")
        }
        index = i
        count = n
    }

    public static func bucket(of id: String, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Int(hash % UInt64(count))
    }

    public func contains(id: String) -> Bool {
        count == 1 || Self.bucket(of: id, count: count) == index
    }

    public var description: String { "\(index)/\(count)" }
}

/// A 64-bit hash of strings that is the same on every platform and run: FNV-1a over the
/// parts (each followed by a 0 byte, so ("ab","c") != ("a","bc")) and a splitmix64 finalizer.
/// Random choices that must not depend on thread timing or batch size derive from it.
public func stableHash(_ parts: String...) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for part in parts {
        for byte in part.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        hash &*= 0x100_0000_01b3
    }
    hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
    hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
    return hash ^ (hash >> 31)
}
