import Dispatch
import Formats
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// How a server reads the sampling settings beyond OpenAI's schema.
public enum ServerKind: String, Sendable, CaseIterable {
    /// vLLM, SGLang, llama.cpp: `n` samples per request, `top_k` as a field of its own.
    case vllm
    /// `transformers serve`: one sample per request (it ignores `n`), `top_k` only inside the
    /// `generation_config` JSON string (it rejects a `top_k` field; without one it samples with
    /// the model's generation config, top-k 50 by default).
    case transformers
}

/// One request to an OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp,
/// `transformers serve`).
public struct CompletionRequest: Sendable {
    public var model: String
    public var prompt: String
    public var n: Int
    public var temperature: Float
    public var topP: Float
    public var topK: Int
    public var maxTokens: Int
    public var stop: [String]
    public var seed: Int
    public var kind: ServerKind

    public init(model: String, prompt: String, n: Int, temperature: Float, topP: Float, topK: Int, maxTokens: Int,
                stop: [String], seed: Int, kind: ServerKind = .vllm) {
        self.model = model; self.prompt = prompt; self.n = n; self.temperature = temperature; self.topP = topP
        self.topK = topK; self.maxTokens = maxTokens; self.stop = stop; self.seed = seed; self.kind = kind
    }

    var body: JSON {
        var o = JSONObject()
        o["model"] = .string(model)
        o["prompt"] = .string(prompt)
        switch kind {
        case .vllm:
            o["n"] = .number(JSONNumber(n))
            if topK > 0 { o["top_k"] = .number(JSONNumber(topK)) }  // vLLM and SGLang read it
        case .transformers:
            precondition(n == 1, "transformers serve draws one sample per request")
            // 0 turns HF's top-k filter off, as --top-k 0 does here.
            o["generation_config"] = .string(JSON.object(JSONObject([("top_k", .number(JSONNumber(topK)))])).serialized())
        }
        o["temperature"] = .number(JSONNumber(Double("\(temperature)")!))
        o["top_p"] = .number(JSONNumber(Double("\(topP)")!))
        o["max_tokens"] = .number(JSONNumber(maxTokens))
        if !stop.isEmpty { o["stop"] = .array(stop.map(JSON.string)) }
        o["seed"] = .number(JSONNumber(seed))
        return .object(o)
    }
}

public struct EndpointChoice: Sendable, Equatable {
    public let text: String
    public let finish: String
}

/// A small synchronous client with retries: 429, 5xx, timeouts and dropped connections are
/// retried with exponential backoff; other answers fail at once with the server's message.
public final class CompletionsClient: @unchecked Sendable {
    public let url: URL
    public let maxAttempts: Int
    public let timeout: TimeInterval
    public let initialBackoff: TimeInterval
    private let session: URLSession

    /// `endpoint` may be the server (`http://host:8000`), its `/v1`, or the full completions URL.
    public init(endpoint: String, maxAttempts: Int = 6, timeout: TimeInterval = 600, initialBackoff: TimeInterval = 0.5) throws {
        var base = endpoint
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/completions") { base += base.hasSuffix("/v1") ? "/completions" : "/v1/completions" }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw DataError("invalid --endpoint \"\(endpoint)\" (expected http://host:port)")
        }
        self.url = url
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.initialBackoff = initialBackoff
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
    }

    enum Attempt { case success([EndpointChoice]), retry(String), fail(String) }

    public func complete(_ request: CompletionRequest) throws -> [EndpointChoice] {
        var body: [UInt8] = []
        request.body.write(to: &body)
        var lastProblem = ""
        for attempt in 0..<maxAttempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: initialBackoff * pow(2, Double(attempt - 1))) }
            switch send(Data(body), n: request.n) {
            case .success(let choices): return choices
            case .fail(let message): throw DataError(message, at: url.absoluteString)
            case .retry(let message): lastProblem = message
            }
        }
        throw DataError("gave up after \(maxAttempts) attempts: \(lastProblem)", at: url.absoluteString)
    }

    private func send(_ body: Data, n: Int) -> Attempt {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Attempt = .retry("no answer")
        session.dataTask(with: request) { data, response, error in
            defer { done.signal() }
            if let error {
                let code = (error as NSError).code
                // Refused or unresolvable: nothing is listening there; retrying will not help.
                if code == NSURLErrorCannotConnectToHost || code == NSURLErrorCannotFindHost {
                    result = .fail("cannot connect (\(error.localizedDescription))")
                } else {
                    result = .retry(error.localizedDescription)
                }
                return
            }
            guard let http = response as? HTTPURLResponse, let data else { result = .retry("no HTTP response"); return }
            let text = String(decoding: data.prefix(300), as: UTF8.self)
            if http.statusCode == 429 || http.statusCode >= 500 { result = .retry("HTTP \(http.statusCode): \(text)"); return }
            guard http.statusCode == 200 else { result = .fail("HTTP \(http.statusCode): \(text)"); return }
            guard let json = try? [UInt8](data).withUnsafeBufferPointer({ try JSON.parse($0) }),
                  let choices = json.objectValue?["choices"]?.arrayValue else {
                result = .retry("malformed answer: \(text)")
                return
            }
            var ordered = [EndpointChoice?](repeating: nil, count: n)
            for (position, choice) in choices.enumerated() {
                let object = choice.objectValue
                let index = object?["index"]?.intValue ?? position
                guard index >= 0, index < n, let text = object?["text"]?.stringValue else { continue }
                ordered[index] = EndpointChoice(text: text, finish: object?["finish_reason"]?.stringValue ?? "unknown")
            }
            let complete = ordered.compactMap { $0 }
            result = complete.count == n ? .success(complete) : .retry("answer had \(complete.count) of \(n) choices")
        }.resume()
        done.wait()
        return result
    }
}
