#!/usr/bin/env bash
# Checks that `make` survives SIGKILL: runs the demo once uninterrupted, then again killing the
# whole make process group with SIGKILL during generate, verify and finetune in turn (rerunning
# make after each kill), and compares every verdict shard, the scores and the report.
# Usage: scripts/kill-and-resume.sh [make variables...]   (about two demo runs of time)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/restem-kill-check}
rm -rf "$WORK"
make build >/dev/null

run() { make --no-print-directory RUNS="$WORK/$1" RUN=demo "${@:2}" >>"$WORK/$1.log" 2>&1; }

# Starts make in its own process group, waits until `probe` succeeds, then SIGKILLs the group.
kill_when() {
  local what=$1 probe=$2; shift 2
  setsid make --no-print-directory RUNS="$WORK/killed" RUN=demo "$@" >>"$WORK/killed.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 12000); do
    if eval "$probe"; then kill -KILL -- "-$pid"; wait "$pid" || true; echo "killed make during $what"; return; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "make ended before $what was seen" >&2; exit 1; fi
    sleep 0.05
  done
  echo "timed out waiting for $what" >&2; exit 1
}

mkdir -p "$WORK"
echo "reference run..."
run ref "$@"
d="$WORK/killed/demo"
kill_when "generate (iter1)" "ls $d/iter1/samples.jsonl.zst.parts/chunk-* >/dev/null 2>&1" "$@"
kill_when "verify (iter2)" "pgrep -f 'verify $d/iter2/samples' >/dev/null" "$@"
kill_when "finetune (iter2)" "[ -f $d/iter2/steps/*.checkpoint/state.safetensors ] 2>/dev/null" "$@"
echo "finishing the interrupted run..."
run killed "$@"

status=0
while IFS= read -r file; do
  other="$d/${file#$WORK/ref/demo/}"
  cmp -s "$file" "$other" || { echo "differs: ${file#$WORK/ref/demo/}"; status=1; }
done < <(find "$WORK/ref/demo" -name '*.jsonl.zst' -o -name 'model.safetensors' -o -name report.svg)
# No path of the run folder is in them (settings are relative to it), so they compare as they are.
for f in report.md scores.json settings.txt; do
  diff "$WORK/ref/demo/$f" "$d/$f" || status=1
done
[ $status = 0 ] && echo "same verdicts, models, scores and report as the uninterrupted run"
exit $status
