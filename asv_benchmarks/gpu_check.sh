#!/bin/bash
# Every GPU-side check of the package in one device call: the GPU tests, the
# run-to-run determinism bench and the GPU targets.  From the repository
# root on a machine with CuPy; wheels of packages missing there (dask,
# distributed, array-api-compat, ...) may lie in .whl/ and are installed
# into /tmp/site first.  Logs go to $OUT when it is set.
#
#   bash asv_benchmarks/gpu_check.sh          # everything
#   bash asv_benchmarks/gpu_check.sh fixed    # the fixed-number rule only (issue 14): its GPU
#                                             # tests, its conformance rows and its benchmark,
#                                             # within one 10-minute device call
export PYTHONUNBUFFERED=1
SECTION=${1:-all}
OUT=${OUT:-/tmp}
ROOT=$PWD
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$ROOT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
# pytest-xdist, where installed, spreads the tests over the CPU cores
# (CuPy's kernel cache on disk is shared by the workers).
XDIST=""
python3 -c "import xdist" 2>/dev/null && XDIST="-n 8"
if [ "$SECTION" = fixed ]; then
    echo "=== fixed-number rule on the GPU"; date
    timeout 240 python3 -m pytest -q -p no:cacheprovider -rs $XDIST tests/test_gpu_fixed_number.py \
        "tests/test_gpu.py::test_the_generator_record_has_the_same_layout_on_host_and_device" \
        "tests/test_gpu.py::test_first_call_compile_time_is_reported" 2>&1 \
        | tee "$OUT/tests_fixed_number.log" | tail -15
    echo "=== conformance suite, GPU backend, fixed-number rows"; date
    timeout 150 python3 -m pytest -q -p no:cacheprovider -rs $XDIST tests/test_backends.py -k "gpu and fixed" 2>&1 \
        | tee "$OUT/backends_fixed.log" | tail -8
    echo "=== fixed-number against Bernoulli products (issue 14: within 1.5x)"; date
    timeout 120 python3 asv_benchmarks/gpu_fixed_number.py --repeat 3 2>&1 | tee "$OUT/fixed_number_bench.log" | tail -20
    date
    exit 0
fi
echo "=== GPU tests"; date
timeout 300 python3 -m pytest -q -p no:cacheprovider -rs $XDIST tests/test_gpu_determinism.py tests/test_gpu.py \
    tests/test_dask_gpu.py tests/test_gpu_exp.py tests/test_composite_clients.py \
    tests/test_new_laws.py tests/test_clients.py tests/test_fixed_driver.py \
    "tests/test_composite.py::test_cupy_operands_run_on_the_leaves_gpu_kernels" 2>&1 \
    | tee "$OUT/tests.log" | tail -30
echo "=== fixed-number rule on the GPU"; date
# Its own call: its first calls compile about a hundred new kernel variants.
timeout 420 python3 -m pytest -q -p no:cacheprovider -rs $XDIST tests/test_gpu_fixed_number.py 2>&1 \
    | tee "$OUT/tests_fixed_number.log" | tail -15
# PyTorch's and JAX's allocators in 8 processes on one GPU run out of memory:
# the DLPack client tests run in one process.
timeout 120 python3 -m pytest -q -p no:cacheprovider -rs tests/test_gpu_clients.py 2>&1 \
    | tee "$OUT/tests_clients.log" | tail -5
echo "=== conformance suite, GPU backend"; date
timeout 360 python3 -m pytest -q -p no:cacheprovider -rs $XDIST tests/test_backends.py -k gpu 2>&1 \
    | tee "$OUT/backends.log" | tail -8
echo "=== fixed-number against Bernoulli products (issue 14: within 1.5x)"; date
timeout 240 python3 asv_benchmarks/gpu_fixed_number.py 2>&1 | tee "$OUT/fixed_number_bench.log" | tail -20
echo "=== determinism bench"; date
timeout 90 python3 asv_benchmarks/gpu_determinism.py 2>&1 | tee "$OUT/det.log" | tail -25
echo "=== GPU targets"; date
timeout 150 python3 asv_benchmarks/gpu_targets.py 2>&1 | tee "$OUT/targets.log" | tail -25
date
echo "=== the E/I demo on one GPU worker (lazyconn.distributed)"; date
timeout 120 python3 -c 'import sys; from lazyconn.cli import main; sys.exit(main(sys.argv[1:]))' \
    demo --gpus 1 --neurons 20000 --steps 300 --no-progress --out "$OUT/demo_gpus1" 2>&1 \
    | grep -v " - INFO - " | tee "$OUT/demo_gpus1.log" | tail -8
date
