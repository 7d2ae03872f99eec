#!/usr/bin/env bash
# The GPU check: on a CUDA machine with no network (this project's lent GPU machine, say), rerun the
# device-aware behaviour tests on the GPU and the whole smoke study with device="auto", and keep the logs.
#
#   bash tools/gpu_check.sh WHEELS_DIR OUT_DIR
#
# WHEELS_DIR holds wheels of the packages the machine's python3 lacks (docs/reproducibility.md says how to make them
# here); OUT_DIR gets gpu.txt, pytest_cuda.log, smoke.log and smoke.tgz (the smoke results). Each step runs
# even when one before it failed; the script exits non-zero if any did. SKIP_STUDY=1 runs the tests only.
set -uo pipefail
WHEELS=${1:?usage: bash tools/gpu_check.sh WHEELS_DIR OUT_DIR}
OUT=${2:?usage: bash tools/gpu_check.sh WHEELS_DIR OUT_DIR}
mkdir -p "$OUT"
export PYTHONPATH=$PWD UNLEARN_PROGRESS=0 MPLBACKEND=Agg PYTHONUNBUFFERED=1
status=0
step() { echo "== $1 ($(date -u +%T))"; shift; "$@" || { echo "== failed: rc $?"; status=1; }; }

step "install wheels" python3 -m pip install --quiet --no-deps --no-index "$WHEELS"/*.whl
step "jupyter kernel" python3 -m ipykernel install --sys-prefix --name python3
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch; from unlearn_lib.utils import resolve_device; print('torch', torch.__version__, 'auto ->', resolve_device('auto'))"
  lscpu | grep -m1 'Model name'; } 2>&1 | tee "$OUT/gpu.txt"

step "behaviour tests on CUDA" bash -c "set -o pipefail; UNLEARN_TEST_DEVICE=cuda timeout ${PYTEST_TIMEOUT:-240} python3 -m pytest -q -p no:cacheprovider \
  -n ${PYTEST_WORKERS:-6} --dist loadfile --durations=10 tests/test_strategies_core.py tests/test_gan_cascade.py \
  tests/test_segmentation_unlearning.py 2>&1 | tee '$OUT/pytest_cuda.log'"
if [ -z "${SKIP_STUDY:-}" ]; then  # SKIP_STUDY=1: the tests only
  step "smoke study, device=auto" bash -c "set -o pipefail; UNLEARN_CACHE=/tmp/gpu-check-cache timeout ${STUDY_TIMEOUT:-300} python3 -m unlearn_lib.batch \
    --profile smoke --out /tmp/gpu-smoke --figures /tmp/gpu-smoke/figures --workers ${STUDY_WORKERS:-4} 2>&1 \
    | grep -v 'Kernel is running over TCP' | tee '$OUT/smoke.log'"
  step "pack smoke results" tar czf "$OUT/smoke.tgz" -C /tmp gpu-smoke
fi
exit $status
