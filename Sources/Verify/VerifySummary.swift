import Formats

/// What `verify` reports on stderr: verdict counts, pass rate, and how many problems have at
/// least one correct sample (the coverage the E-step buys).
public struct VerifySummary {
    public private(set) var samples = 0
    public private(set) var verdicts: [String: Int] = [:]
    private var solved = Set<String>()
    private var problems = Set<String>()
    public var kept = 0
    /// False where nothing is selected (`--compare`), so the summary does not claim "kept 0".
    public var reportsKept = true
    public private(set) var sawCode = false

    public init() {}

    public mutating func add(_ scored: Record) {
        samples += 1
        if scored.task == "code" { sawCode = true }
        let verdict = scored["verdict"]?.stringValue ?? "?"
        verdicts[verdict, default: 0] += 1
        if let id = scored.id {
            problems.insert(id)
            if verdict == "correct" { solved.insert(id) }
        }
    }

    public var correct: Int { verdicts["correct"] ?? 0 }

    public func lines() -> [String] {
        func percent(_ a: Int, _ b: Int) -> String {
            b == 0 ? "-" : String(Double((a * 1000 + b / 2) / b) / 10) + "%"
        }
        let counts = verdicts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return [
            "verified \(samples) samples: \(counts)",
            "pass rate \(percent(correct, samples)); problems solved \(solved.count)/\(problems.count) "
                + "(\(percent(solved.count, problems.count)))" + (reportsKept ? "; kept \(kept)" : ""),
        ]
    }
}
