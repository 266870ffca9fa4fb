"""Reference loss trajectories for TrainingReferenceTests, computed with PyTorch and
Hugging Face transformers from the tiny model directories in models/ (written by this
toolkit). Run: PYTHONPATH=<torch+transformers> python3 reference_trajectory.py > reference-trajectories.json
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM

torch.use_deterministic_algorithms(True)
here = os.path.dirname(os.path.abspath(__file__))
tokens = [[3, 17, 5, 22, 9, 31, 2, 8], [11, 4, 39, 1, 0, 25, 6, 13]]
targets = [[17, 5, 22, 9, 31, 2, 8, -1], [-1, -1, 1, 0, 25, 6, 13, 7]]
out = {"tokens": tokens, "targets": targets, "lr": 0.01, "weight_decay": 0.1, "betas": [0.9, 0.999], "eps": 1e-8,
       "grad_clip": 1.0, "steps": 10, "models": {}}
for name in ["llama", "qwen2", "gpt2"]:
    model = AutoModelForCausalLM.from_pretrained(os.path.join(here, "models", name), torch_dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()  # no dropout: the engine has none (eval mode still computes gradients)
    ids = torch.tensor(tokens)
    labels = torch.tensor(targets)
    with torch.no_grad():
        first_logits = model(ids).logits[0, :, :].reshape(-1).tolist()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    losses = []
    for step in range(10):
        optimizer.zero_grad()
        logits = model(ids).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    out["models"][name] = {"losses": losses, "first_sequence_logits": first_logits}
json.dump(out, sys.stdout)
