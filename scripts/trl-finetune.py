"""The M-step on TRL: `make TRAINER=trl` runs this instead of `finetune`, through `accelerate launch`.

It takes finetune's options (the ones the Makefile passes) and maps them one to one onto TRL's
SFTTrainer: the records become a prompt/completion dataset (the record's "prompt", or the
template rendered from it, as finetune does; the completion is the --target field), the loss
is on the completion tokens and the eos only, and every --snapshot-every steps the model is
saved as a Hugging Face model directory SNAPSHOTS/<step> that `generate` loads (the tokenizer
files are copied from the base, byte for byte). --eval-only prints {"loss": L, "tokens": N}
like `finetune --eval-only`: TRL's loss before any step, over the whole data in one batch.

Differences from finetune, by design of TRL: the data order comes from TRL's sampler (seeded),
and a sequence longer than --max-tokens loses its end, where finetune drops the prompt's start.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--data", required=True, action="append")
    p.add_argument("--out")
    p.add_argument("--target", default="completion")
    p.add_argument("--template")
    p.add_argument("--steps", type=int)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--schedule", default="cosine", choices=["constant", "linear", "cosine"])
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log")
    p.add_argument("--snapshot-every", type=int, default=0)
    p.add_argument("--snapshots")
    p.add_argument("--resume", action="store_true", help="accepted for finetune's sake: training restarts")
    p.add_argument("--eval-only", action="store_true")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="fp32 as finetune (default), or bf16 mixed precision on GPUs that have it")
    args = p.parse_args()
    if not args.eval_only and (args.out is None or args.steps is None):
        p.error("give --out and --steps")
    return args


def read_records(path):
    """The records of a JSONL or JSONL.zst shard (zstd -dcf passes plain files through)."""
    text = subprocess.run(["zstd", "-dcf", path], check=True, capture_output=True).stdout.decode("utf-8")
    records = []
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                sys.exit(f"trl-finetune: {path}:{number}: {error}")
    return records


def render(template, record, where):
    """finetune's PromptTemplate: {{field}} filled with the record's string or number field."""
    def field(match):
        name = match.group(1).strip()
        value = record.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return json.dumps(value)
        sys.exit(f"trl-finetune: {where}: template placeholder {{{{{name}}}}}: field \"{name}\" missing or not text")
    return re.sub(r"\{\{([^}]*)\}\}", field, template)


def examples(args):
    template = open(args.template, encoding="utf-8").read() if args.template else "{{problem}}"
    rows = []
    for path in args.data:
        for number, record in enumerate(read_records(path), 1):
            where = f"{path}:{number}"
            prompt = record["prompt"] if isinstance(record.get("prompt"), str) else render(template, record, where)
            target = record.get(args.target)
            if not isinstance(target, str):
                sys.exit(f"trl-finetune: {where}: field \"{args.target}\" missing or not a string")
            rows.append({"prompt": prompt, "completion": target})
    if not rows:
        sys.exit("trl-finetune: no training records")
    return rows


def save_model(model, base, directory):
    """A Hugging Face model directory, written beside and renamed into place (never half there)."""
    staging = directory + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(base, name)):
            shutil.copyfile(os.path.join(base, name), os.path.join(staging, name))
    shutil.rmtree(directory, ignore_errors=True)
    os.rename(staging, directory)


def main():
    args = parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    config = json.load(open(os.path.join(args.base, "config.json")))
    eos_id = config["eos_token_id"][0] if isinstance(config.get("eos_token_id"), list) else config.get("eos_token_id")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.base, "tokenizer.json"))
    eos = tokenizer.convert_ids_to_tokens(eos_id)
    tokenizer.eos_token = eos
    tokenizer.pad_token = eos
    model = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32)
    rows = examples(args)
    dataset = Dataset.from_list(rows)
    # --batch-size is the global batch, as finetune's: split over accelerate's processes.
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch_size % processes:
        sys.exit(f"trl-finetune: --batch-size {args.batch_size} is not a multiple of the {processes} processes")
    per_device_batch = args.batch_size // processes
    out = args.out or os.path.join(os.environ.get("TMPDIR", "/tmp"), f"trl-finetune-{os.getpid()}")
    sft = SFTConfig(
        output_dir=out + ".trainer", max_steps=args.steps or 1, learning_rate=args.lr,
        lr_scheduler_type={"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}[args.schedule],
        warmup_steps=args.warmup, per_device_train_batch_size=per_device_batch,
        max_length=args.max_tokens, seed=args.seed, data_seed=args.seed,
        weight_decay=args.weight_decay, adam_beta1=args.beta1, adam_beta2=args.beta2, adam_epsilon=args.eps,
        max_grad_norm=args.grad_clip if args.grad_clip > 0 else 0.0, completion_only_loss=True,
        packing=False, logging_steps=1, save_strategy="no", report_to=[],
        # TRL's default is bf16; the CPU has none, and fp32 is what finetune computes in.
        bf16=args.precision == "bf16", fp16=False, use_cpu=not torch.cuda.is_available(),
        dataloader_drop_last=False, eos_token=eos, pad_token=eos, disable_tqdm=True)

    snapshots = args.snapshots or (out + ".snapshots")
    log = open(args.log, "w") if args.log else None

    class Snapshots(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_):
            if log and logs and "loss" in logs:
                log.write(json.dumps({"step": state.global_step, "loss": logs["loss"],
                                      "lr": logs.get("learning_rate")}) + "\n")
                log.flush()

        def on_step_end(self, _args, state, _control, **_):
            step = state.global_step
            if args.snapshot_every and step % args.snapshot_every == 0 and step != args.steps:
                save_model(model, args.base, os.path.join(snapshots, str(step)))

    trainer = SFTTrainer(model=model, args=sft, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[Snapshots()])
    if args.eval_only:
        # TRL's loss (its tokenization, collator and compute_loss) on one batch of every record:
        # the mean over all completion tokens, as finetune's.
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
        tokens = int((batch["labels"][:, 1:] != -100).sum())
        model.eval()
        with torch.no_grad():
            loss = trainer.compute_loss(model, batch).item()
        print(json.dumps({"loss": loss, "tokens": tokens}))
        return
    trainer.train()
    save_model(model, args.base, args.out)
    shutil.rmtree(out + ".trainer", ignore_errors=True)
    last = trainer.state.log_history[-2]["loss"] if len(trainer.state.log_history) > 1 else float("nan")
    print(f"trl-finetune: wrote {args.out} ({args.steps} steps, last training loss {last:.4f})", file=sys.stderr)


if __name__ == "__main__":
    main()
