#!/usr/bin/env python3
"""Second opinion on the labelled fixtures: runs math-verify (PyPI) over every *.tsv under
Tests/MathVerifyTests/Fixtures/ and prints where it disagrees with our labels.

Answer tables (candidate, reference): the candidate is boxed the way the bench does it,
`The answer is $\\boxed{CANDIDATE}$.`, and checked as verify(parse("$" + ref + "$"), parse(completion)).
completions.tsv: column 2 is the whole completion, with each U+23CE turned back into a newline.

A report, not a test: always exits 0. Run it with `make compare-math-verify`.
"""
import glob
import os
import sys

try:
    from math_verify import parse, verify
except ImportError:
    sys.exit("math_verify not importable: run `make compare-math-verify` (or set PYTHONPATH to a folder "
             "with math-verify installed)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "MathVerifyTests", "Fixtures")
NEWLINE_MARK = "\u23ce"


def read_pairs(path):
    """Yields (line number, label, candidate-or-completion, reference, rule) for every data line."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            columns = line.split("\t")
            if len(columns) != 4 or columns[0] not in ("0", "1"):
                print(f"{os.path.relpath(path, ROOT)}:{number}  skipped: not 4 tab-separated columns", file=sys.stderr)
                continue
            yield number, int(columns[0]), columns[1], columns[2], columns[3]


def math_verify_verdict(completion, reference):
    """math-verify's verdict (0 or 1) and an error note; any exception or timeout counts as 0."""
    try:
        gold = parse("$" + reference + "$")
        answer = parse(completion)
        return (1 if verify(gold, answer) else 0), ""
    except BaseException as error:  # math-verify's own timeouts raise from signal handlers
        if isinstance(error, KeyboardInterrupt):
            raise
        return 0, f"error: {type(error).__name__}"


def main():
    files = sorted(glob.glob(os.path.join(FIXTURES, "*.tsv")))
    if not files:
        print(f"no *.tsv under {FIXTURES}")
        return 0
    false_positives, false_negatives = [], []
    total_pairs = total_agree = 0
    for path in files:
        name = os.path.relpath(path, ROOT)
        is_completions = os.path.basename(path) == "completions.tsv"
        pairs = agree = 0
        disagreements = []
        for number, label, candidate, reference, rule in read_pairs(path):
            if is_completions:
                completion = candidate.replace(NEWLINE_MARK, "\n")
            else:
                completion = "The answer is $\\boxed{" + candidate + "}$."
            verdict, note = math_verify_verdict(completion, reference)
            pairs += 1
            if verdict == label:
                agree += 1
                continue
            shown = f"{verdict} ({note})" if note else str(verdict)
            line = f"{name}:{number}  label={label}  math-verify={shown}  {rule}  {candidate}  ||  {reference}"
            disagreements.append(line)
            (false_positives if label == 0 else false_negatives).append(line)
        total_pairs += pairs
        total_agree += agree
        print(f"{name}: {pairs} pairs, math-verify agrees with the label on {agree}, disagrees on {pairs - agree}")
        for line in disagreements:
            print("  " + line)
        print()
    print(f"summary: {total_pairs} pairs in {len(files)} files; math-verify agrees on {total_agree}, "
          f"disagrees on {total_pairs - total_agree}")
    print(f"\nmath-verify false positives (label 0, it says 1): {len(false_positives)}")
    for line in false_positives:
        print("  " + line)
    print(f"\nmath-verify false negatives (label 1, it says 0 or fails): {len(false_negatives)}")
    for line in false_negatives:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
