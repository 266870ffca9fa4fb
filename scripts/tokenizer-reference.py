#!/usr/bin/env python3
"""Reference side of `make bench` (section tokenizer): HF `tokenizers` on the same files.

  tokenizer-reference.py make SIZE OUT.json    a synthetic byte-level BPE tokenizer.json of SIZE
                                               entries (GPT-2's byte alphabet, then random merges
                                               biased to common characters), deterministic
  tokenizer-reference.py run TOKENIZER CORPUS IDS
                                               prints {"load_seconds", "encode_seconds"} (best of
                                               3) and writes the ids of every corpus line, one
                                               JSON array per line, to IDS
"""
import json
import random
import sys
import time


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def make(size, out):
    rng = random.Random(0)
    table = bytes_to_unicode()
    tokens = list(table.values())
    vocab = {c: i for i, c in enumerate(tokens)}
    common = [table[b] for b in b" etaoinshrdlucmfwypvbgkqjxz0123456789.,"]
    merges = []
    while len(vocab) < size:
        a = rng.choice(tokens[-2000:] if len(tokens) > 3000 and rng.random() < 0.5 else tokens)
        b = rng.choice(common) if rng.random() < 0.7 else rng.choice(tokens)
        new = a + b
        if new in vocab or len(new) > 16:
            continue
        vocab[new] = len(vocab)
        tokens.append(new)
        merges.append(f"{a} {b}")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
             "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges}
    document = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
                "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level, "model": model}
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)


def run(tokenizer_path, corpus_path, ids_path):
    from tokenizers import Tokenizer
    load = encode = float("inf")
    lines = open(corpus_path, encoding="utf-8").read().split("\n")
    for _ in range(3):
        start = time.perf_counter()
        tokenizer = Tokenizer.from_file(tokenizer_path)
        load = min(load, time.perf_counter() - start)
        start = time.perf_counter()
        encodings = [tokenizer.encode(line, add_special_tokens=False).ids for line in lines]
        encode = min(encode, time.perf_counter() - start)
    with open(ids_path, "w") as handle:
        for ids in encodings:
            handle.write(json.dumps(ids) + "\n")
    print(json.dumps({"load_seconds": load, "encode_seconds": encode}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(int(sys.argv[2]), sys.argv[3])
    else:
        run(sys.argv[2], sys.argv[3], sys.argv[4])
