#!/usr/bin/env bash
# `make bench-peers`: our training step and sampling beside PyTorch's and Hugging Face
# `generate`'s on the same configurations, same threads, same run. PyTorch is the CPU build
# (pinned +cpu: pip finds it through PIP_FIND_LINKS, or an index of CPU wheels), never CUDA;
# it and transformers live in a venv under .build/peers-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.build/peers-venv
TORCH_VERSION=${TORCH_VERSION:-2.13.0+cpu}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, transformers" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check transformers
fi
"$VENV/bin/python" -c "import torch; assert not torch.version.cuda, 'a CUDA build of torch: install the +cpu wheel'"
swift build -c release --product bench
PEERS_PYTHON="$VENV/bin/python" .build/release/bench peers
