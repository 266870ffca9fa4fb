import Foundation
import Testing

/// A loopback OpenAI-compatible completions server for the tests: it answers each request
/// according to a script (429, 500, a dropped connection, or a real answer whose texts echo
/// the prompt), and counts what it saw.
final class FakeCompletionsServer: @unchecked Sendable {
    enum Reply { case status(Int), drop, answer }
    let fd: Int32
    let port: UInt16
    private let lock = NSLock()
    private var script: [Reply]
    private(set) var requests = 0
    /// The bodies of the requests it answered.
    private(set) var bodies: [[String: Any]] = []

    init(script: [Reply]) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 64) == 0 else { throw NSError(domain: "server", code: 1) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    var url: String { "http://127.0.0.1:\(port)/v1" }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

    private func nextReply() -> Reply {
        lock.lock()
        defer { lock.unlock() }
        requests += 1
        return script.isEmpty ? .answer : script.removeFirst()
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            Thread.detachNewThread { [self] in handle(client) }
        }
    }

    private func handle(_ client: Int32) {
        defer { close(client) }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var bodyStart: Int?
        var contentLength = 0
        while true {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            data += buffer[0..<n]
            if bodyStart == nil, let range = String(decoding: data, as: UTF8.self).range(of: "\r\n\r\n") {
                let header = String(decoding: data, as: UTF8.self)[..<range.lowerBound]
                bodyStart = header.utf8.count + 4
                for line in header.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    contentLength = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let start = bodyStart, data.count - start >= contentLength { break }
        }
        let body = Data(data[bodyStart!...])
        func respond(_ status: Int, _ text: String) {
            let payload = Array(text.utf8)
            let head = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
            let all = Array(head.utf8) + payload
            _ = all.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        }
        switch nextReply() {
        case .drop: return
        case .status(let code): respond(code, #"{"error": "try later"}"#)
        case .answer:
            let request = try! JSONSerialization.jsonObject(with: body) as! [String: Any]
            lock.lock()
            bodies.append(request)
            lock.unlock()
            // Without `n` (transformers serve ignores it) a server draws one sample.
            let n = request["n"] as? Int ?? 1, prompt = request["prompt"] as! String
            let choices = (0..<n).reversed().map { i in ["index": i, "text": "echo \(prompt) #\(i)", "finish_reason": "stop"] as [String: Any] }
            let answer = try! JSONSerialization.data(withJSONObject: ["choices": choices])
            respond(200, String(decoding: answer, as: UTF8.self))
        }
    }
}

@Suite struct EndpointTests {
    let dir = ToolTempDir()

    func problems(_ count: Int) throws {
        let lines = (0..<count).map { #"{"id":"p\#($0)","task":"math","problem":"\#($0)+1=","answer":"\#($0 + 1)"}"# }
        try lines.joined(separator: "\n").write(to: dir.url("p.jsonl"), atomically: true, encoding: .utf8)
    }

    @Test func writesTheSameRecordShapeAndSurvivesServerTrouble() throws {
        try problems(20)
        let server = try FakeCompletionsServer(script: [.status(429), .status(500), .drop, .status(503)])
        defer { server.stop() }
        let result = try runTool("generate", ["--endpoint", server.url, "--model", "served-model", dir.path("p.jsonl"), "--samples", "3",
                                              "--temperature", "0.7", "--concurrency", "4", "-o", dir.path("s.jsonl.zst")])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try runTool("shards", ["cat", dir.path("s.jsonl.zst")]).stdout.split(separator: "\n")
        #expect(lines.count == 60)
        #expect(lines[0].hasPrefix(#"{"id":"p0","task":"math","problem":"0+1=","answer":"1","prompt":"0+1=","completion":"echo 0+1= #0","sample":0,"gen":{"model":"served-model","temperature":0.7"#), "\(lines[0])")
        #expect(lines[5].contains(#""completion":"echo 1+1= #2","sample":2"#))
        #expect(server.requests == 24)  // 20 problems, 4 of them retried once
    }

    @Test func givesUpCleanlyWithoutPartialOutput() throws {
        try problems(10)
        let server = try FakeCompletionsServer(script: Array(repeating: .status(500), count: 1000))
        defer { server.stop() }
        let result = try runTool("generate", ["--endpoint", server.url, "--model", "m", dir.path("p.jsonl"), "--retries", "2", "-o", dir.path("s.jsonl.zst")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("gave up after 2 attempts: HTTP 500"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("s.jsonl.zst")))
        let parts = (try? FileManager.default.contentsOfDirectory(atPath: dir.path("s.jsonl.zst.parts"))) ?? []
        #expect(parts.filter { $0.hasPrefix("chunk-") && !$0.contains(".tmp-") }.isEmpty)
    }

    @Test func unreachableEndpointIsAClearError() throws {
        try problems(2)
        let closed = try FakeCompletionsServer(script: [])
        let port = closed.port
        closed.stop()
        let result = try runTool("generate", ["--endpoint", "http://127.0.0.1:\(port)", "--model", "m", dir.path("p.jsonl"), "-o", dir.path("s.jsonl.zst")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot connect"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("s.jsonl.zst")))
    }

    /// --server-kind transformers (`transformers serve` ignores n and rejects a top_k field): a
    /// request per sample, each with the seed of its sample, top_k inside generation_config.
    @Test func transformersServerGetsARequestPerSampleWithTopKInGenerationConfig() throws {
        try problems(2)
        let server = try FakeCompletionsServer(script: [])
        defer { server.stop() }
        let result = try runTool("generate", ["--endpoint", server.url, "--model", "m", "--server-kind", "transformers",
                                              dir.path("p.jsonl"), "--samples", "3", "--temperature", "0.5", "--top-k", "40",
                                              "--concurrency", "1", "-o", dir.path("s.jsonl")])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: dir.path("s.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines[2].contains(#""completion":"echo 0+1= #0","sample":2"#), "\(lines[2])")
        #expect(server.bodies.count == 6)
        #expect(server.bodies.allSatisfy { $0["n"] == nil && $0["top_k"] == nil })
        #expect(server.bodies.allSatisfy { $0["generation_config"] as? String == #"{"top_k":40}"# })
        let seeds = server.bodies.filter { $0["prompt"] as? String == "0+1=" }.compactMap { $0["seed"] as? Int }
        #expect(Set(seeds).count == 3)
        let vllm = try runTool("generate", ["--endpoint", server.url, "--model", "m", dir.path("p.jsonl"), "--samples", "3",
                                            "--top-k", "40", "--temperature", "0.5", "-o", dir.path("v.jsonl")])
        #expect(vllm.status == 0)
        // The first request of a problem has the same seed either way: sample 0 starts it.
        #expect(server.bodies.suffix(2).allSatisfy { $0["n"] as? Int == 3 && $0["top_k"] as? Int == 40 })
        #expect(server.bodies.suffix(2).contains { $0["seed"] as? Int == seeds.first })
    }
}
