#!/usr/bin/env bash
# StarGAN, the baseline, at the CPU round's size and budget, trained in pieces (docs/baselines.md).
#   bash scripts/stargan_cpu.sh UNTIL IMAGES [DATA] [extra train-stargan overrides...]
# UNTIL (local HH:MM): this piece stops then, keeping the last checkpoint (one every 100 steps,
# about a minute); the next call with the same IMAGES continues that run exactly (--resume).
# IMAGES: the run's budget in images seen (its learning-rate decay is the release's, scaled to
# it): a kept round's Stage I images in all (state/metrics.json, or that round's commit) for an
# equal-budget comparison with that round's editor. The run lives outside the repository, in
# ${BASELINES:-$HOME/infoscrub-baselines}/stargan-cpu-IMAGES.
set -euo pipefail
cd "$(dirname "$0")/.."
UNTIL=${1:?usage: stargan_cpu.sh UNTIL IMAGES [DATA] [overrides]}
IMAGES=${2:?usage: stargan_cpu.sh UNTIL IMAGES [DATA] [overrides]}
DATA=${3:-../shared/data/celebahq128}
shift $(( $# >= 3 ? 3 : 2 ))
OUT=${BASELINES:-$HOME/infoscrub-baselines}/stargan-cpu-$IMAGES
BATCH=32  # the CPU round's batch, so images seen count the same way
STEPS=$(( (IMAGES + BATCH - 1) / BATCH ))
RESUME=()
if [ -f "$OUT/checkpoint.pt" ]; then
  RESUME=(--resume)
fi
SECONDS_LEFT=$(( $(date -d "$UNTIL" +%s) - $(date +%s) ))
if [ "$SECONDS_LEFT" -le 0 ]; then
  SECONDS_LEFT=$(( SECONDS_LEFT + 86400 ))  # the next such time, as train round --until reads it
fi
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} PYTHONUNBUFFERED=1
# The CPU round's sizes: 64 px, width 32 (the official release's 64 halved, like the CPU
# editor's), five stride-2 discriminator convs so its realism map stays 2x2 at 64 px as the
# release's six give at 128 px, bf16 autocast where the CPU has it. No torch.compile: the
# gradient penalty's double backward does not compile.
nohup timeout "$SECONDS_LEFT" .venv/bin/infoscrub train stargan --device cpu --data "$DATA" \
  --out "$OUT" --steps "$STEPS" --batch-size "$BATCH" "${RESUME[@]}" \
  data.image_size=64 model.g_conv_dim=32 model.d_conv_dim=32 model.d_repeat_num=5 \
  run.bf16_cpu=true run.progress=false run.log_every=100 run.checkpoint_every=100 \
  run.sample_every=2000 "$@" >> "$OUT/console.log" 2>&1 &
echo $! > "$OUT/pid"
echo "StarGAN piece started (pid $(cat "$OUT/pid")), stops by $UNTIL; run: $OUT ($STEPS steps of $BATCH)"
echo "  then: .venv/bin/infoscrub evaluate --checkpoint $OUT/checkpoint.pt --adversary state/heldout_adversary.safetensors ..."
