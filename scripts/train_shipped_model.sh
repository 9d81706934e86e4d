#!/usr/bin/env bash
# Train the model shipped in styletransfer/pretrained/default (base + Bach adapter) from the default
# recipe on the bundled corpus, then run the training and sampling benchmarks. Runs on a CPU or a GPU:
#
#   mst data prepare && bash scripts/train_shipped_model.sh [OUT_DIR]
#
# The shipped model was made with exactly this script on one GPU (see docs/performance.md).
set -euo pipefail
OUT=${1:-runs/shipped}
STEPS=${STEPS:-3000}
DATA=${DATA:-data/prepared/music21}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1

$PY -m styletransfer pretrain --data "$DATA" --out "$OUT" --force \
    --set train.max_steps="$STEPS" --set train.batch_size=64 --set train.eval_interval=500 --set train.save_interval=1000
$PY -m styletransfer finetune --composer "Johann Sebastian Bach" --base "$OUT" --force \
    --set data.out="$DATA" --set finetune.max_steps=600
