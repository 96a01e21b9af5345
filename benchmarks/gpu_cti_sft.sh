#!/usr/bin/env bash
# SFT of the 0.5B on DATA (from `distilsec cti-data --out DATA`), then base vs SFT closed/open-book on the
# held-out MCQ; writes $OUT/gpu-cti-sft.json (see benchmarks/gpu_cti_sft.py). Finishes within --budget-s
# (default 530 s). GPU: bash benchmarks/gpu_cti_sft.sh runs/cti-data
# CPU smoke test: bash benchmarks/gpu_cti_sft.sh runs/cti-data --steps 2 --limit 3 --val-limit 8 --budget-s 1800
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
exec "$PY" benchmarks/gpu_cti_sft.py "$@"
