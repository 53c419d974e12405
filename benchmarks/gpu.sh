#!/usr/bin/env bash
# The prepared GPU check of lifting_dfer's benchmarks (issue 5), one command on a CUDA machine:
#
#   bash benchmarks/gpu.sh               # ~8-10 min on one H100/H200 (torch.compile of both models included)
#   bash benchmarks/gpu.sh --dry-run     # the same steps on CPU at tiny shapes (seconds); writes *-dry-run.json
#   RESULTS_DIR=/some/dir bash benchmarks/gpu.sh   # JSON records elsewhere (default benchmarks/results)
#   RUN_CUDA_BENCH=0 bash benchmarks/gpu.sh --no-compile   # shorter: skip step 2 and the compiled throughput
#
# Arguments go to python -m benchmarks.gpu (see --help: --models, --batch, --no-compile, --steps, ...).
# On a borrowed machine whose results come back from one folder: RESULTS_DIR=$OUT bash benchmarks/gpu.sh, then
# copy gpu.json, cuda.json and loader-gpu.json from there into benchmarks/results/ and run
# python -m benchmarks.make_docs here.
#
# 1. python -m benchmarks.gpu: CUDA == CPU (fp32, TF32 off), a bf16-autocast training step of ifdd_2dcnn and
#    ifdd_3dvit, training throughput (batch 16 of 16x224x224, bf16) eager and torch.compile-d, peak memory;
# 2. python -m benchmarks.run --device cuda: the library-vs-naive ratios and the full models on the GPU;
# 3. python -m benchmarks.loader --decode-device cuda: the training input per core of this machine, the DataLoader
#    with 1 and 2 workers, and batched JPEG decoding on the GPU (output="jpeg"), with the CUDA tests of the
#    device-side data path (tests/test_data_device_transform.py -k cuda; skipped on a machine without CUDA);
# 4. python -m benchmarks.make_docs: docs/performance.md from every record.
# Works without installing the package (PYTHONPATH=src). Each step writes its JSON as it goes, so a run cut
# short by a time limit keeps what it finished; set PYTHON to choose the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}
RESULTS_DIR=${RESULTS_DIR:-benchmarks/results}
mkdir -p "$RESULTS_DIR"

dry=0
for arg in "$@"; do
  [[ "$arg" == "--dry-run" ]] && dry=1
done

"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
    torch.cuda.get_device_name() if torch.cuda.is_available() else "")'
status=0
if [[ $dry == 1 ]]; then
  "$PYTHON" -m benchmarks.gpu --out "$RESULTS_DIR/gpu-dry-run.json" "$@" || status=$?
  "$PYTHON" -m benchmarks.run --tiny --device cpu --out "$RESULTS_DIR/cpu-tiny.json" || status=$?
  "$PYTHON" -m benchmarks.loader --tiny --decode-device cpu --models ifdd_2dcnn \
    --out "$RESULTS_DIR/loader-dry-run.json" || status=$?
else
  "$PYTHON" -m benchmarks.gpu --out "$RESULTS_DIR/gpu.json" "$@" || status=$?
  if [[ "${RUN_CUDA_BENCH:-1}" != 0 ]]; then
    "$PYTHON" -m benchmarks.run --device cuda --out "$RESULTS_DIR/cuda.json" || status=$?
  fi
  "$PYTHON" -m benchmarks.loader --decode-device cuda --out "$RESULTS_DIR/loader-gpu.json" || status=$?
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_data_device_transform.py -k cuda || status=$?
  if [[ "$RESULTS_DIR" != "benchmarks/results" ]]; then  # the docs page reads benchmarks/results
    cp "$RESULTS_DIR"/gpu.json "$RESULTS_DIR"/cuda.json "$RESULTS_DIR"/loader-gpu.json benchmarks/results/ \
      2>/dev/null || true
  fi
fi
"$PYTHON" -m benchmarks.make_docs || status=$?
[[ "$RESULTS_DIR" != "benchmarks/results" ]] && cp docs/performance.md "$RESULTS_DIR/" 2>/dev/null || true
exit $status
