#!/usr/bin/env bash
# The GPU measurement the issues ask for, as one command on a machine with a GPU and JAX's CUDA
# build (nothing to install: it needs NumPy, SciPy, Numba, tqdm and JAX only). Run from the
# repository root; the results go to $OUT when set (else benchmarks/results/).
set -euo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 benchmarks/bench_device.py --out "${OUT:-benchmarks/results}"
