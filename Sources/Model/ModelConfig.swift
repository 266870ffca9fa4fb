import Formats

public enum Architecture: String, Sendable {
    case llama, qwen2, gpt2
}

/// The hyperparameters of a model, read from a Hugging Face `config.json` with every key
/// mapped explicitly. Both transformers 4.x and 5.x layouts are read (`rope_theta` at the top
/// level or inside `rope_parameters` / `rope_scaling`; `head_dim` given or derived).
public struct ModelConfig: Sendable, Equatable {
    public var architecture: Architecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ropeTheta: Float
    public var normEps: Float
    public var tiedEmbeddings: Bool
    public var maxPositions: Int
    /// Bias on q/k/v projections (qwen2 has it; llama does not).
    public var attentionBias: Bool
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]

    public init(architecture: Architecture, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int,
                kvHeads: Int, headDim: Int? = nil, ropeTheta: Float = 10_000, normEps: Float = 1e-5, tiedEmbeddings: Bool = true,
                maxPositions: Int = 2048, attentionBias: Bool? = nil, bosTokenID: Int? = nil, eosTokenIDs: [Int] = []) {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim ?? hiddenSize / heads
        self.ropeTheta = ropeTheta
        self.normEps = normEps
        self.tiedEmbeddings = tiedEmbeddings
        self.maxPositions = maxPositions
        self.attentionBias = attentionBias ?? (architecture == .qwen2)
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
        if architecture == .gpt2 {
            // GPT-2 has no RoPE, always has biases, full attention heads and a tied head.
            self.ropeTheta = 0
            self.attentionBias = true
            self.kvHeads = heads
            self.tiedEmbeddings = true
        }
    }

    public init(json: JSON) throws {
        guard let c = json.objectValue else { throw DataError("config.json is not a JSON object") }
        func int(_ keys: String...) throws -> Int {
            for key in keys { if let v = c[key]?.intValue { return v } }
            throw DataError("config.json: field \"\(keys[0])\" missing")
        }
        func optionalInt(_ key: String) -> Int? { c[key]?.intValue }
        let type = c["model_type"]?.stringValue ?? ""
        switch type {
        case "llama", "mistral": architecture = .llama
        case "qwen2": architecture = .qwen2
        case "gpt2": architecture = .gpt2
        case "": throw DataError("config.json: field \"model_type\" missing")
        default: throw DataError("config.json: unsupported model_type \"\(type)\" (llama, mistral, qwen2, gpt2)")
        }
        vocabSize = try int("vocab_size")
        if architecture == .gpt2 {
            hiddenSize = try int("n_embd")
            layers = try int("n_layer")
            heads = try int("n_head")
            kvHeads = heads
            intermediateSize = optionalInt("n_inner") ?? 4 * hiddenSize
            maxPositions = try int("n_positions")
            normEps = Float(c["layer_norm_epsilon"]?.doubleValue ?? 1e-5)
            ropeTheta = 0
            tiedEmbeddings = true
            attentionBias = true
        } else {
            hiddenSize = try int("hidden_size")
            layers = try int("num_hidden_layers")
            heads = try int("num_attention_heads")
            kvHeads = optionalInt("num_key_value_heads") ?? heads
            intermediateSize = try int("intermediate_size")
            maxPositions = optionalInt("max_position_embeddings") ?? 2048
            normEps = Float(c["rms_norm_eps"]?.doubleValue ?? 1e-6)
            let theta = c["rope_theta"]?.doubleValue ?? c["rope_parameters"]?.objectValue?["rope_theta"]?.doubleValue
                ?? c["rope_scaling"]?.objectValue?["rope_theta"]?.doubleValue ?? 10_000
            ropeTheta = Float(theta)
            if let scaling = c["rope_scaling"]?.objectValue, let kind = scaling["rope_type"]?.stringValue ?? scaling["type"]?.stringValue,
               kind != "default" {
                throw DataError("config.json: rope scaling \"\(kind)\" is not supported")
            }
            tiedEmbeddings = c["tie_word_embeddings"]?.boolValue ?? (architecture == .qwen2 ? false : false)
            attentionBias = c["attention_bias"]?.boolValue ?? (architecture == .qwen2)
        }
        headDim = optionalInt("head_dim") ?? hiddenSize / heads
        guard hiddenSize > 0, heads > 0, kvHeads > 0, heads % kvHeads == 0, headDim % 2 == 0 || architecture == .gpt2 else {
            throw DataError("config.json: inconsistent sizes (hidden \(hiddenSize), heads \(heads), kv heads \(kvHeads), head_dim \(headDim))")
        }
        bosTokenID = optionalInt("bos_token_id")
        if let single = c["eos_token_id"]?.intValue { eosTokenIDs = [single] } else {
            eosTokenIDs = c["eos_token_id"]?.arrayValue?.compactMap(\.intValue) ?? []
        }
    }

    /// config.json as transformers writes it for this architecture.
    public func json() -> JSON {
        var c = JSONObject()
        func n(_ v: Int) -> JSON { .number(JSONNumber(v)) }
        // Shortest decimal of the Float (1e-05, not 9.999999747378752e-06).
        func f(_ v: Float) -> JSON { .number(JSONNumber(Double("\(v)")!)) }
        c["model_type"] = .string(architecture.rawValue)
        c["vocab_size"] = n(vocabSize)
        switch architecture {
        case .gpt2:
            c["architectures"] = ["GPT2LMHeadModel"]
            c["n_embd"] = n(hiddenSize); c["n_layer"] = n(layers); c["n_head"] = n(heads)
            c["n_inner"] = n(intermediateSize); c["n_positions"] = n(maxPositions); c["n_ctx"] = n(maxPositions)
            c["layer_norm_epsilon"] = f(normEps); c["activation_function"] = "gelu_new"
            // This engine trains without dropout; say so, so that other trainers match it.
            c["resid_pdrop"] = 0; c["embd_pdrop"] = 0; c["attn_pdrop"] = 0
        case .llama, .qwen2:
            c["architectures"] = .array([.string(architecture == .llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM")])
            c["hidden_size"] = n(hiddenSize); c["num_hidden_layers"] = n(layers); c["num_attention_heads"] = n(heads)
            c["num_key_value_heads"] = n(kvHeads); c["intermediate_size"] = n(intermediateSize); c["head_dim"] = n(headDim)
            c["max_position_embeddings"] = n(maxPositions); c["rms_norm_eps"] = f(normEps); c["rope_theta"] = f(ropeTheta)
            c["hidden_act"] = "silu"; c["tie_word_embeddings"] = .bool(tiedEmbeddings); c["attention_dropout"] = 0
            if architecture == .llama { c["attention_bias"] = .bool(attentionBias); c["mlp_bias"] = false }
        }
        if let bosTokenID { c["bos_token_id"] = n(bosTokenID) }
        if eosTokenIDs.count == 1 { c["eos_token_id"] = n(eosTokenIDs[0]) } else if !eosTokenIDs.isEmpty {
            c["eos_token_id"] = .array(eosTokenIDs.map(n))
        }
        c["torch_dtype"] = "float32"
        return .object(c)
    }
}
