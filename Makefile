# The two commands a new user needs: `make lab` and `make test` (see README.md).
# Everything else here is what they depend on; each step is skipped when already done.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
PORT ?= 8888
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: a browser for the UI tests, the grader's sandbox, a database
# server, and a one-node Slurm for the cluster backend.
SYSTEM_PACKAGES := chromium bubblewrap postgresql slurm-wlm slurm-client munge util-linux

.PHONY: lab test install system-packages lint clean

lab: install
	$(BIN)/workbench db upgrade
	$(BIN)/workbench course add curricula/intro
	$(BIN)/workbench course add curricula/ai-compute-foundations
	$(BIN)/workbench serve --port $(PORT) --root-dir lab-home

test: install system-packages
	$(BIN)/python -m pytest

install: $(STAMPS)/venv

# torch first, pinned: 2.13.0 is a CPU build from local disk; any other spec pulls a CUDA build.
$(STAMPS)/venv: pyproject.toml labextension/package.json labextension/package-lock.json
	@mkdir -p $(STAMPS)
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,postgresql]"
	$(BIN)/jupyter labextension list 2>&1 | grep -q "aicc-workbench.*enabled.*OK"
	$(BIN)/jupyter server extension list 2>&1 | grep -q "workbench.server.*enabled"
	@touch $@

system-packages: $(STAMPS)/system-packages

$(STAMPS)/system-packages:
	@mkdir -p $(STAMPS)
	dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); }
	@touch $@

lint: install
	$(BIN)/ruff check workbench tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(STAMPS) workbench/labextension labextension/node_modules labextension/lib
