#!/bin/bash
# Several GPUs of one host (issue 16), in one device call: the distributed
# tests, then products and the E/I network on 1 and K GPUs
# (asv_benchmarks/multi_gpu_bench.py: speedup of K over 1 GPU for dense
# products at N = 2e6, 1% spikes, CuPy pool per worker, same values and same
# spikes as one GPU).  With one GPU it measures 1 worker and says so.
# From the repository root on a machine with CuPy; wheels of packages missing
# there (dask, distributed, ...) may lie in .whl/ and are installed into
# /tmp/site first.  Logs and multi_gpu.json go to $OUT when it is set.
#   bash asv_benchmarks/multi_gpu_check.sh [--neurons 4000000] [other multi_gpu_bench.py options]
# Through the device tool (a 2-GPU kind; it copies /work/main, so stage the branch first):
#   rsync -a --delete --exclude .git --exclude __pycache__ /work/wt-multigpu/ /work/main/.gpu_stage_multigpu/
#   run(command="cd .gpu_stage_multigpu && ln -sfn ../.whl .whl && bash asv_benchmarks/multi_gpu_check.sh",
#       kind="nvidia-h100-x2", carry=[".gpu_stage_multigpu", ".whl"], timeout_s=600)
# Not yet run on a GPU: its time is an estimate (a few minutes: cluster starts, kernel
# compiles on each worker, N = 2e6 products, a 1e6-neuron network); its timeouts cap it at 10 minutes.
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp}
ROOT=$PWD
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$ROOT
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpus.txt"
echo "=== distributed tests (CPU LocalCluster, GPU worker environment)"; date
timeout 120 python3 -m pytest -q -p no:cacheprovider -rs tests/test_distributed.py 2>&1 | tee "$OUT/tests_distributed.log" | tail -5
echo "=== products and network on 1 and K GPUs"; date
timeout 480 python3 asv_benchmarks/multi_gpu_bench.py --json "$OUT/multi_gpu.json" "$@" 2>&1 \
    | grep -v " - INFO - " | tee "$OUT/multi_gpu.log" | tail -40
date
