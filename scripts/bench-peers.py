"""PyTorch (CPU) and Hugging Face transformers on the configurations `bench peers` gives.

Reads one JSON object on stdin: {"threads": T, "train": [{name, hidden, layers, heads,
intermediate, vocab, batch, seq}], "sample": {model: {...}, prompt, new_tokens, sequences: [..]}}
and prints one JSON object: seconds per training step (forward, backward, AdamW; best of the
timed steps after a warm-up step) and seconds per `generate` call (best of the timed calls,
after one short warm-up generation).
"""
import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging

logging.set_verbosity_error()


def llama(spec):
    config = LlamaConfig(hidden_size=spec["hidden"], num_hidden_layers=spec["layers"],
                         num_attention_heads=spec["heads"], num_key_value_heads=spec["heads"],
                         intermediate_size=spec["intermediate"], vocab_size=spec["vocab"],
                         max_position_embeddings=1024, tie_word_embeddings=True, rms_norm_eps=1e-5,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).float()


def best(function, repetitions):
    fastest = float("inf")
    for _ in range(repetitions):
        start = time.perf_counter()
        function()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(job["threads"])
    result = {"torch": torch.__version__, "train": {}, "sample": {}}
    for spec in job["train"]:
        model = llama(spec)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
        tokens = torch.randint(0, spec["vocab"], (spec["batch"], spec["seq"]))

        def step():
            loss = model(input_ids=tokens, labels=tokens).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        step()  # warm-up
        print(f"peers: PyTorch warm-up step {spec['name']} done", file=sys.stderr, flush=True)
        result["train"][spec["name"]] = {
            "seconds": best(step, spec["repetitions"]),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
    sample = job["sample"]
    model = llama(sample["model"])
    model.eval()
    with torch.inference_mode():  # warm-up: one short generation
        model.generate(input_ids=torch.zeros((1, 4), dtype=torch.long), do_sample=True, max_new_tokens=4, pad_token_id=0)
    for sequences in sample["sequences"]:
        prompts = torch.randint(0, sample["model"]["vocab"], (sequences, sample["prompt"]))

        def generate():
            with torch.inference_mode():
                out = model.generate(input_ids=prompts, attention_mask=torch.ones_like(prompts), do_sample=True,
                                     temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=sample["new_tokens"],
                                     min_new_tokens=sample["new_tokens"], pad_token_id=0)
            assert out.shape == (sequences, sample["prompt"] + sample["new_tokens"]), out.shape

        result["sample"][str(sequences)] = best(generate, sample["repetitions"])
        print(f"peers: HF generate {sequences} sequences: {result['sample'][str(sequences)]:.2f} s", file=sys.stderr, flush=True)
    print(json.dumps(result))


main()
