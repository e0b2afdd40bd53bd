#!/usr/bin/env bash
# GPU checks for gghl, run on a CUDA machine with the system python (no venv, nothing installed):
#
#     scripts/gpu_check.sh REPORT_DIR
#
# The repo need not be pip-installed: PYTHONPATH points at the repo root.  Every section's output is
# tee'd into REPORT_DIR/report.txt; the script exits non-zero if any section failed.
# Set PYTHON=/path/to/python to choose the interpreter (default: python3).
#
# To add a check, append one line in the "Sections" block below:
#     section NAME SECONDS command args...
# Every section runs under `timeout SECONDS`; the limits add up to under 7 minutes so that the whole
# script, CUDA start-up included, stays inside the 8-minute budget of a device session.
set -u -o pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPORT_DIR="${1:?usage: $0 REPORT_DIR}"
mkdir -p "$REPORT_DIR"
REPORT_DIR="$(cd "$REPORT_DIR" && pwd)"
REPORT="$REPORT_DIR/report.txt"
PY="${PYTHON:-python3}"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
cd "$REPO"
# Optional: packages missing on the GPU image (hydra-core, omegaconf, antlr4, pycocotools, wandb) as wheels in a
# local folder: GGHL_WHEELS=.whl scripts/gpu_check.sh OUT. Installed from that folder only, never the network.
if [ -n "${GGHL_WHEELS:-}" ] && [ -d "$GGHL_WHEELS" ]; then
    "${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --target /tmp/gghl_site "$GGHL_WHEELS"/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/gghl_site"
fi
: >"$REPORT"

FAILED=()
PASSED=()

# section NAME SECONDS CMD...: run CMD under a time limit, tee stdout+stderr into the report, record
# pass/fail and duration (rc 124 = the limit was hit).
section() {
    local name="$1" limit="$2"
    shift 2
    local start rc
    start=$(date +%s)
    echo "=== [$name] (limit ${limit}s) $* ===" | tee -a "$REPORT"
    if declare -F "$1" >/dev/null; then  # a shell function: `timeout` cannot run it, it is quick anyway
        "$@" 2>&1 | tee -a "$REPORT"
    else
        timeout --kill-after=5 "$limit" "$@" 2>&1 | tee -a "$REPORT"
    fi
    rc=${PIPESTATUS[0]}
    echo "=== [$name] rc=$rc, $(($(date +%s) - start)) s ===" | tee -a "$REPORT"
    echo | tee -a "$REPORT"
    if [ "$rc" -eq 0 ]; then PASSED+=("$name"); else FAILED+=("$name"); fi
}

env_info() {
    date -u
    git -C "$REPO" log -1 --oneline 2>/dev/null || true
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$PY" - <<'PYEOF'
import importlib, sys
import torch
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| device", torch.cuda.get_device_name() if torch.cuda.is_available() else None)
for mod in ("triton", "torchvision", "shapely", "pytest", "numpy"):
    try:
        print(f"{mod} {importlib.import_module(mod).__version__}")
    except Exception as e:  # report, do not fail: tests decide what they need
        print(f"{mod} missing ({e})")
PYEOF
}

# ---- Sections (extend here) -------------------------------------------------------------------
section env 30 env_info
section ops-tests 90 "$PY" -m pytest -m gpu tests/gpu -q -p no:cacheprovider -rs --durations=8
section ops-bench 60 "$PY" scripts/bench_ops.py --device cuda --tune
section other-gpu-tests 90 "$PY" -m pytest -m gpu tests/structures tests/assigners tests/losses tests/stageinteractor \
    tests/evaluation/test_detection_metrics.py -q -p no:cacheprovider -rs
section assign-bench 45 "$PY" scripts/bench_assign.py --device cuda --repeats 10 --loop-images 1
section train-bench-bf16 60 "$PY" scripts/bench_train.py --device cuda --img-size 800 --batch-size 8 --steps 20 --amp bf16
section train-bench-fp32 40 "$PY" scripts/bench_train.py --device cuda --img-size 800 --batch-size 8 --steps 10 --amp none
# -----------------------------------------------------------------------------------------------

{
    echo "=== summary ==="
    echo "passed: ${PASSED[*]:-none}"
    echo "failed: ${FAILED[*]:-none}"
} | tee -a "$REPORT"
[ "${#FAILED[@]}" -eq 0 ]
