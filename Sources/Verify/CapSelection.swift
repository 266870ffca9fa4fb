import Formats

/// `--cap N`: keeps at most N correct samples per problem (the paper's cap of 10 stops easy
/// problems from dominating the fine-tuning set). The choice is reproducible from the seed and
/// independent of input order within a problem, and prefers distinct solutions. With
/// `Dedup.exact`, duplicates (same completion up to white space) are taken only when there are
/// fewer than N distinct; with `Dedup.normalized` never, so a repeated solution cannot weigh
/// double in fine-tuning (cap `Int.max`: deduplication alone).
public struct CapSelection {
    public let cap: Int
    public let seed: UInt64
    public let dedup: Dedup
    private var groups: [String: [(order: Int, record: Record)]] = [:]
    private var problemOrder: [String] = []
    private var count = 0

    public init(cap: Int, seed: UInt64, dedup: Dedup = .exact) {
        self.cap = cap
        self.seed = seed
        self.dedup = dedup
    }

    public mutating func add(_ record: Record, id: String) {
        if groups[id] == nil { problemOrder.append(id) }
        groups[id, default: []].append((count, record))
        count += 1
    }

    /// The selected records: problems in order of first appearance, samples in input order.
    public func selected() -> [Record] {
        var output: [Record] = []
        for id in problemOrder {
            let group = groups[id]!
            let ranked = group.sorted { rank($0.record, id) < rank($1.record, id) }
            var seen = Set<String>()
            var chosen: [(order: Int, record: Record)] = []
            var duplicates: [(order: Int, record: Record)] = []
            for entry in ranked {
                let key = dedup == .exact ? Self.solutionKey(entry.record) : CompletionKey.normalized(entry.record)
                if seen.insert(key).inserted {
                    chosen.append(entry)
                } else if dedup == .exact {
                    duplicates.append(entry)
                }
            }
            chosen = Array((chosen + duplicates).prefix(cap))
            output += chosen.sorted { $0.order < $1.order }.map(\.record)
        }
        return output
    }

    /// A pseudo-random rank from (seed, problem, sample index or completion).
    private func rank(_ record: Record, _ id: String) -> UInt64 {
        let sample = record["sample"].map { $0.serialized() } ?? Self.solutionKey(record)
        return stableHash(String(seed), id, sample)
    }

    static func solutionKey(_ record: Record) -> String {
        CompletionKey.whitespace(record["completion"]?.stringValue ?? "")
    }
}
