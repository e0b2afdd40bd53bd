# gghl developer commands. `make test` and `make train` work on a fresh clone: they create .venv first.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
# torch/torchvision pinned for this project's reference machine (pyproject keeps ranges for everyone else).
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1
export CUDA_HOME ?= $(firstword $(wildcard /usr/local/cuda /usr/local/cuda-13.0))

.PHONY: help install test test-full lint format bench train clean

help:
	@echo "make install   - create .venv with pinned torch and gghl[dev]"
	@echo "make test      - fast test suite (excludes slow and gpu markers)"
	@echo "make test-full - all CPU tests including slow ones"
	@echo "make train     - embedded default: train GGHL on the synthetic oriented set, evaluate, print mAP50"
	@echo "make lint      - ruff check, ruff format --check, lint-imports (the layer contracts in pyproject.toml)"
	@echo "make bench     - op, assigner, evaluation and data benchmarks (prints ratios)"

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q $(TORCH_PIN)
	$(VPY) -m pip install -q -e ".[dev]"

install: $(VPY)

test: $(VPY)
	$(VPY) -m pytest -q -m "not slow and not gpu" -p no:cacheprovider

test-full: $(VPY)
	$(VPY) -m pytest -q -m "not gpu" -p no:cacheprovider

# PYTHONPATH: lint-imports analyses this checkout even when the venv's editable install points elsewhere.
lint: $(VPY)
	$(VPY) -m ruff check gghl scripts tests
	$(VPY) -m ruff format --check gghl scripts tests
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports

format: $(VPY)
	$(VPY) -m ruff format gghl scripts tests

bench: $(VPY)
	$(VPY) scripts/bench_ops.py
	$(VPY) scripts/bench_assign.py
	$(VPY) scripts/bench_eval.py
	$(VPY) scripts/bench_data.py

train: $(VPY)
	$(VPY) scripts/train.py

clean:
	rm -rf build dist *.egg-info .pytest_cache logs outputs .import_linter_cache .grimp_cache
