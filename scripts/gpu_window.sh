#!/usr/bin/env bash
# The local side of a GPU window (docs/training.md, "A round on a lent GPU"). A device call sends the checkout plus
# carried paths, at most 64 MiB: the tracked state (~45 MB) and a 58 MB data shard do not
# fit one call together, so the state steps out of the checkout while the data travels.
#   bash scripts/gpu_window.sh prepare [DATA]  # pack local/gpu/train and local/gpu/test at the state's
#                                              # size (SIZE, default 64: the CPU model)
#   bash scripts/gpu_window.sh aside           # move the state out of the checkout (data calls)
#   bash scripts/gpu_window.sh back            # put it back (the round call)
#   bash scripts/gpu_window.sh sizes           # MiB the checkout sends now, and each data piece
set -euo pipefail
cd "$(dirname "$0")/.."
IS=${IS:-.venv/bin/infoscrub}
STATE_FILES=(src/infoscrub/assets/weights/editor.safetensors src/infoscrub/assets/weights/attacker.safetensors
             state/trainer.safetensors state/heldout_adversary.safetensors state/metrics.json)

mib() { awk '{printf "%.1f MiB", $1 / 1048576}'; }

case "${1:-}" in
  prepare)
    DATA=${2:-../shared/data/celebahq128}
    $IS data pack "$DATA" --split train --size "${SIZE:-64}" --out local/gpu/train --force
    $IS data pack "$DATA" --split test --size "${SIZE:-64}" --out local/gpu/test --force
    "$0" sizes ;;
  aside)
    for f in "${STATE_FILES[@]}"; do
      if [ -e "$f" ]; then
        mkdir -p "local/aside/$(dirname "$f")"
        mv "$f" "local/aside/$f"
        git rm -q --cached --ignore-unmatch -- "$f"  # neither in the index nor in the tree
      fi
    done
    "$0" sizes ;;
  back)
    for f in "${STATE_FILES[@]}"; do
      if [ -e "local/aside/$f" ]; then
        mv "local/aside/$f" "$f"
      fi
      git reset -q -- "$f" 2>/dev/null || true
    done
    "$0" sizes ;;
  sizes)
    echo "checkout: $(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null \
      | awk '{s += $1} END {print s + 0}' | mib)"
    for f in local/gpu/train/* local/gpu/test/*; do
      [ -e "$f" ] && echo "$f: $(stat -c %s "$f" | mib)"
    done
    true ;;
  *)
    sed -n 2,8p "$0"; exit 2 ;;
esac
