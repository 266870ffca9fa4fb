import Foundation
import Formats

#if canImport(Glibc)
import Glibc
#endif

/// Hugging Face model directories: `config.json`, `model.safetensors` (or shards), and the
/// tokenizer files, read and written so that `transformers` loads what `finetune` writes.
extension Transformer {
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"]

    public static func load(directory: String) throws -> Transformer {
        let config = try ModelConfig.load(path: directory + "/config.json")
        let model = Transformer(config: config)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        for tensor in model.tensors {
            // GPT-2 checkpoints from GPT2Model have no "transformer." prefix.
            let candidates = [tensor.name, tensor.name.hasPrefix("transformer.") ? String(tensor.name.dropFirst(12)) : tensor.name]
            guard let name = candidates.first(where: { checkpoint.entry($0) != nil }), let entry = checkpoint.entry(name) else {
                throw DataError("tensor \"\(tensor.name)\" missing from the checkpoint", at: directory)
            }
            let expected = tensor.transposedOnDisk ? [tensor.shape[1], tensor.shape[0]] : tensor.shape
            guard entry.shape == expected else {
                throw DataError("tensor \"\(name)\" has shape \(entry.shape), config.json implies \(expected)", at: directory)
            }
            var values = try checkpoint.floats(name)
            if tensor.transposedOnDisk { values = transpose(values, rows: expected[0], columns: expected[1]) }
            model.parameters.replaceSubrange(tensor.offset..<(tensor.offset + tensor.count), with: values)
        }
        return model
    }

    /// Writes the model directory atomically: everything goes to `DIR.tmp-PID`, which replaces
    /// `DIR` only when complete. Tokenizer files are copied from `tokenizerSource` if given (a
    /// model directory, or a tokenizer.json file).
    public func save(directory: String, tokenizerSource: String? = nil, metadata: [String: String] = [:]) throws {
        try writeDirectoryAtomically(directory) { staging in
            var configBytes: [UInt8] = []
            config.json().write(to: &configBytes)
            try Data(configBytes + [0x0A]).write(to: URL(fileURLWithPath: staging + "/config.json"))
            var named: [NamedTensor] = []
            for tensor in tensors where !(config.tiedEmbeddings && tensor.name == "lm_head.weight") {
                var values = Array(parameters[tensor.offset..<(tensor.offset + tensor.count)])
                var shape = tensor.shape
                if tensor.transposedOnDisk {
                    values = Self.transpose(values, rows: shape[0], columns: shape[1])
                    shape = [shape[1], shape[0]]
                }
                named.append(NamedTensor(name: tensor.name, shape: shape, values: values))
            }
            try writeSafetensors(named, metadata: ["format": "pt"].merging(metadata) { $1 }, to: staging + "/model.safetensors")
            var isDirectory: ObjCBool = false
            if let tokenizerSource, FileManager.default.fileExists(atPath: tokenizerSource, isDirectory: &isDirectory) {
                if isDirectory.boolValue {
                    for file in Self.tokenizerFiles where FileManager.default.fileExists(atPath: tokenizerSource + "/" + file) {
                        try FileManager.default.copyItem(atPath: tokenizerSource + "/" + file, toPath: staging + "/" + file)
                    }
                } else {
                    try FileManager.default.copyItem(atPath: tokenizerSource, toPath: staging + "/tokenizer.json")
                }
            }
        }
    }

    static func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = values[r * columns + c] } }
        return out
    }
}

extension ModelConfig {
    /// Reads a config.json file; errors name the file.
    public static func load(path: String) throws -> ModelConfig {
        let json: JSON
        do { json = try JSON.parse(try readTextFile(path)) } catch let error as DataError { throw error } catch {
            throw DataError("malformed JSON: \(error)", at: path)
        }
        do { return try ModelConfig(json: json) } catch let error as DataError { throw error.located(path) }
    }

    /// The ids that end a sequence: config.json's eos_token_id, else the first end-of-text
    /// token the tokenizer knows. Empty when there is none.
    public func endOfSequenceIDs(tokenizer: Tokenizer) -> [Int] {
        if !eosTokenIDs.isEmpty { return eosTokenIDs }
        let conventional = ["<|endoftext|>", "</s>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<eos>"]
        return conventional.lazy.compactMap(tokenizer.id(of:)).first.map { [$0] } ?? []
    }
}

extension Tokenizer {
    /// The tokenizer of a model directory, or a tokenizer.json file given directly.
    public static func load(modelOrFile path: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        return try Tokenizer(path: isDirectory.boolValue ? path + "/tokenizer.json" : path)
    }
}
