import Formats

/// The files both embedded demos (math and code) give their tiny base model: a character-level
/// tokenizer and a llama config. One definition, so the two demos differ only in alphabet and
/// context length.
enum CharacterModel {
    /// A character-level tokenizer.json (Hugging Face tokenizers format): `<eos>` is id 0, then
    /// one token per character of `alphabet`, no merges, each written as ByteLevel
    /// pre-tokenization shows it (printable ASCII as itself; space `Ġ`, newline `Ċ`, tab `ĉ`), so
    /// the same file works here and in `tokenizers`.
    static func tokenizerJSON(alphabet: [Character]) -> String {
        var vocab = JSONObject([("<eos>", JSON.number(JSONNumber(0)))])
        for (i, c) in alphabet.enumerated() { vocab[byteLevel(c)] = .number(JSONNumber(i + 1)) }
        let byteLevel: JSON = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]
        let tokenizer: JSON = [
            "version": "1.0", "truncation": nil, "padding": nil,
            "added_tokens": [["id": 0, "content": "<eos>", "single_word": false, "lstrip": false, "rstrip": false,
                              "normalized": false, "special": true]],
            "normalizer": nil, "pre_tokenizer": byteLevel, "post_processor": nil, "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
                      "end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": .object(vocab), "merges": []],
        ]
        return tokenizer.serialized() + "\n"
    }

    /// GPT-2's byte-to-unicode map for one ASCII character: printable ones are themselves,
    /// bytes 0...32 are U+0100 + byte.
    static func byteLevel(_ c: Character) -> String {
        let byte = c.asciiValue!
        return byte > 32 && byte < 127 ? String(c) : String(Character(Unicode.Scalar(0x100 + UInt32(byte))!))
    }

    /// A llama-style decoder of about 335k parameters (width 96, 3 layers, 4 heads, tied
    /// embeddings) over `vocabularySize` tokens with a context of `context`.
    static func configJSON(vocabularySize: Int, context: Int) -> String {
        let config: JSON = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 96, "intermediate_size": 256,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
            "vocab_size": .number(JSONNumber(vocabularySize)), "max_position_embeddings": .number(JSONNumber(context)),
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu",
            "bos_token_id": nil, "eos_token_id": 0, "torch_dtype": "float32",
        ]
        return config.serialized() + "\n"
    }
}
