import Formats

/// What `shards stats` reports: counts of records, fields, tasks, verdicts, and mean reward.
struct ShardStats {
    var records = 0
    var fieldCounts: [String: Int] = [:]
    var fieldOrder: [String] = []
    var tasks: [String: Int] = [:]
    var verdicts: [String: Int] = [:]
    var rewardSum = 0.0
    var rewardCount = 0
    var ids = Set<String>()

    mutating func add(_ record: Record) {
        records += 1
        for (key, _) in record.fields {
            if fieldCounts[key] == nil { fieldOrder.append(key) }
            fieldCounts[key, default: 0] += 1
        }
        if let task = record.task { tasks[task, default: 0] += 1 }
        if let verdict = record["verdict"]?.stringValue { verdicts[verdict, default: 0] += 1 }
        if let reward = record["reward"]?.doubleValue {
            rewardSum += reward
            rewardCount += 1
        }
        if let id = record.id { ids.insert(id) }
    }

    var meanReward: Double? { rewardCount > 0 ? rewardSum / Double(rewardCount) : nil }

    private func sortedByCount(_ counts: [String: Int]) -> [(String, Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    func table() -> String {
        var lines = ["records   \(records)", "ids       \(ids.count) distinct"]
        func row(_ name: String, _ counts: [(String, Int)]) {
            if counts.isEmpty { return }
            lines.append(name.padding(10) + counts.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        }
        row("fields", fieldOrder.map { ($0, fieldCounts[$0]!) })
        row("tasks", sortedByCount(tasks))
        row("verdicts", sortedByCount(verdicts))
        if let meanReward {
            let rounded = (meanReward * 10000).rounded() / 10000
            lines.append("reward    mean \(rounded) over \(rewardCount) records")
        }
        return lines.joined(separator: "\n")
    }

    func json() -> JSON {
        func object(_ pairs: [(String, Int)]) -> JSON {
            .object(JSONObject(pairs.map { ($0.0, JSON.number(JSONNumber($0.1))) }))
        }
        var result = JSONObject()
        result["records"] = .number(JSONNumber(records))
        result["ids"] = .number(JSONNumber(ids.count))
        result["fields"] = object(fieldOrder.map { ($0, fieldCounts[$0]!) })
        result["tasks"] = object(sortedByCount(tasks))
        result["verdicts"] = object(sortedByCount(verdicts))
        result["mean_reward"] = meanReward.map { .number(JSONNumber($0)) } ?? .null
        return .object(result)
    }
}
