import Formats

/// The unbiased pass@k estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k) for n samples
/// of which c are correct, computed as a product so it never overflows. With no correct
/// sample it is 0; when every k-subset must contain a correct one (n - c < k), 1.
public func unbiasedPassAtK(n: Int, c: Int, k: Int) -> Double {
    precondition(k >= 1 && n >= k && c >= 0 && c <= n)
    if c == 0 { return 0 }
    if n - c < k { return 1 }
    var allWrong = 1.0
    for i in (n - c + 1)...n { allWrong *= 1 - Double(k) / Double(i) }
    return 1 - allWrong
}

/// The samples of one problem, as scored by `verify`.
public struct ProblemSamples: Sendable {
    public let id: String
    public var group: String?
    /// (sample index, reward, extracted answer) in sample order.
    public var samples: [(index: Int, reward: Int, extracted: String?)] = []

    public var n: Int { samples.count }
    public var correct: Int { samples.filter { $0.reward == 1 }.count }

    /// Majority vote over the first k samples' extracted answers (ties: the answer that
    /// appeared first); correct when the winning answer's samples are correct.
    public func majorityCorrect(k: Int) -> Bool {
        var counts: [String: (count: Int, first: Int, reward: Int)] = [:]
        for sample in samples.prefix(k) {
            guard let answer = sample.extracted else { continue }
            let key = answer.filter { !$0.isWhitespace }
            if let existing = counts[key] {
                counts[key] = (existing.count + 1, existing.first, max(existing.reward, sample.reward))
            } else {
                counts[key] = (1, sample.index, sample.reward)
            }
        }
        guard let winner = counts.values.max(by: { $0.count != $1.count ? $0.count < $1.count : $0.first > $1.first }) else { return false }
        return winner.reward == 1
    }
}

/// Groups verdict records by problem id (samples sorted by their index).
public func groupByProblem(_ records: [Record], groupField: String?) throws -> [ProblemSamples] {
    var order: [String] = []
    var problems: [String: ProblemSamples] = [:]
    for record in records {
        guard let id = record.id else { throw DataError("field \"id\" missing") }
        guard let reward = record["reward"]?.intValue else { throw DataError("field \"reward\" missing (run verify first)") }
        if problems[id] == nil {
            order.append(id)
            let group = groupField.flatMap { record[$0] }.map { $0.stringValue ?? $0.serialized() }
            problems[id] = ProblemSamples(id: id, group: group)
        }
        problems[id]!.samples.append((record["sample"]?.intValue ?? problems[id]!.n, reward, record["extracted"]?.stringValue))
    }
    return order.map { id in
        var problem = problems[id]!
        problem.samples.sort { $0.index < $1.index }
        return problem
    }
}

/// pass@1, pass@k and maj@k (as fractions) over a set of problems.
public struct Scores: Sendable {
    public let problems: Int
    public let samplesPerProblem: Int
    public let passAt1: Double
    public let passAtK: [Int: Double]
    public let majAtK: [Int: Double]

    public init(_ problems: [ProblemSamples], ks: [Int]) {
        self.problems = problems.count
        let n = problems.map(\.n).min() ?? 0
        samplesPerProblem = n
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        passAt1 = mean(problems.map { unbiasedPassAtK(n: $0.n, c: $0.correct, k: 1) })
        var pass: [Int: Double] = [:], maj: [Int: Double] = [:]
        for k in ks where k >= 1 && k <= n {
            pass[k] = mean(problems.map { unbiasedPassAtK(n: $0.n, c: $0.correct, k: k) })
            maj[k] = mean(problems.map { $0.majorityCorrect(k: k) ? 1 : 0 })
        }
        passAtK = pass
        majAtK = maj
    }
}
