# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
CONFIG ?= configs/cmdline-distill.yaml
OUT ?= runs/cmdline-distill

.PHONY: setup run test lint bench clean

setup: $(VENV)/.installed

# torch first, pinned by constraints.txt, so that no other torch (e.g. GBs of CUDA wheels) is pulled.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt $(TORCH_PIP_ARGS) torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

run: setup
	$(VENV)/bin/distilsec run $(CONFIG) --out $(OUT)

test: setup
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check src tests benchmarks

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
