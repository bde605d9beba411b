#!/usr/bin/env bash
# One prepared run for a lent GPU (the device has torch, transformers, accelerate and peft, not trl or datasets).
# Here, once:   echo /.whl/ >> .git/info/exclude && python3 -m pip download --no-deps --only-binary=:all: \
#                 --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
#                 -d .whl trl==1.16.0 datasets==5.2.0 av==18.1.0 decord2==3.4.0 jsonschema==4.26.0 typer==0.29.2 ...
# (the packages `pip show` on the device lacks; see constraints.txt for the versions), then run this with carry [".whl"].
# Fits 8 minutes: SFT and GRPO steps on a tiny and a ~1B random Qwen3-VL, bf16, sdpa; results in $OUT/gpu_smoke.json.
set -euo pipefail
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 TRL_EXPERIMENTAL_SILENCE=1
nvidia-smi --query-gpu=name,memory.total --format=csv
timeout 480 python3 -m benchmarks.gpu_smoke --work /tmp/gpu_smoke "$@"
cp /tmp/gpu_smoke/results.json "${OUT:-.}/gpu_smoke.json"
