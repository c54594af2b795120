#!/usr/bin/env bash
# A small end-to-end CPU run of the whole method on CelebA-HQ 128 (resized to 64 px so it
# fits two CPU cores in about 25 minutes): Stage I -> Stage II -> adversary ->
# evaluate. Numbers from a run this small are poor; they are real. Usage:
#   bash scripts/cpu_pipeline.sh [DATA] [OUT]
set -euo pipefail
DATA=${1:-../shared/data/celebahq128}
OUT=${2:-runs/cpu_pipeline}
IS=${IS:-infoscrub}
S1_STEPS=${S1_STEPS:-2500}
S2_STEPS=${S2_STEPS:-300}
ADV_STEPS=${ADV_STEPS:-800}
SMALL="data.image_size=64 generator.width=16 generator.max_channels=128 discriminator.width=16 discriminator.max_channels=128 discriminator.layers=5"
$IS train stage1 --data "$DATA" --out "$OUT/stage1" --steps "$S1_STEPS" --batch-size 16 $SMALL \
  d_warmup_steps=200 run.log_every=50 run.sample_every=500 run.checkpoint_every=500
$IS train stage2 --stage1 "$OUT/stage1/checkpoint.pt" --data "$DATA" --out "$OUT/stage2" \
  --steps "$S2_STEPS" --batch-size 16 data.image_size=64 mixer.width=16 run.log_every=50 run.sample_every=300
$IS train adversary --data "$DATA" --out "$OUT/adversary" --steps "$ADV_STEPS" --batch-size 64 \
  data.image_size=64 model.width=16 run.log_every=50
$IS evaluate --checkpoint "$OUT/stage2/checkpoint.pt" --adversary "$OUT/adversary/checkpoint.pt" \
  --data "$DATA" --split test --out "$OUT/eval" --per-attribute 50
