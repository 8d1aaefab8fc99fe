# The two commands a new user needs: `make lab` and `make test` (see README.md).
# Everything else here is what they depend on; each step is skipped when already done.

# Debian's own Python first: pyenv's lives under /root (0700), which the hub's user accounts cannot run.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) $(shell command -v python3.11 || command -v python3))
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
PORT ?= 8888
# Debian packages the tests use: a browser for the UI tests, the grader's sandbox, a database
# server, and a one-node Slurm for the cluster backend.
SYSTEM_PACKAGES := chromium bubblewrap postgresql slurm-wlm slurm-client munge util-linux

.PHONY: lab test hub install system-packages lint clean

lab: install
	$(BIN)/workbench db upgrade
	$(BIN)/workbench course add curricula/intro
	$(BIN)/workbench course add curricula/ai-compute-foundations
	$(BIN)/workbench event create events/digits-sprint
	$(BIN)/workbench serve --port $(PORT) --root-dir lab-home

test: install system-packages
	$(BIN)/python -m pytest

# A multi-user trial (docs/hub.md): JupyterHub on loopback with the workbench service, PostgreSQL
# and a sample class; root only, as it makes the class's Unix accounts. PORT=8000 by default.
hub: install system-packages
	PORT=$(if $(filter command line environment,$(origin PORT)),$(PORT),8000) $(BIN)/python -m workbench.service.trial

install: $(STAMPS)/venv $(STAMPS)/hub-proxy

# JupyterHub's proxy (npm configurable-http-proxy), for `make hub` and the hub tests; Node 20 is enough.
$(STAMPS)/hub-proxy:
	@mkdir -p $(STAMPS)
	npm install --silent --no-audit --no-fund --prefix .hub-proxy configurable-http-proxy@5.3.0
	@touch $@

# torch first, pinned: 2.13.0 is a CPU build from local disk; any other spec pulls a CUDA build.
# Every extra: the labs' libraries (torch, MindSpore, ...), JupyterHub, the tests' tools and the
# PostgreSQL driver; a role that needs less installs less (README.md, "Installing by role").
$(STAMPS)/venv: pyproject.toml labextension/package.json labextension/package-lock.json
	@mkdir -p $(STAMPS)
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[labs,hub,test,postgresql]"
	$(BIN)/jupyter labextension list 2>&1 | grep -q "aicc-workbench.*enabled.*OK"
	$(BIN)/jupyter server extension list 2>&1 | grep -q "workbench.server.*enabled"
	@touch $@

system-packages: $(STAMPS)/system-packages

# Installing Debian packages takes root. Not root: no sudo (a bare Debian has none), but one
# message naming the command an admin runs as root, and a failed make.
$(STAMPS)/system-packages:
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | xargs); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "apt-get install $$missing" && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "make test needs Debian packages that are missing; as root, run:" \
	    "apt-get update && apt-get install -y --no-install-recommends $$missing" >&2; \
	  exit 1; \
	fi
	@touch $@

lint: install
	$(BIN)/ruff check workbench tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(STAMPS) .hub-proxy workbench/labextension labextension/node_modules labextension/lib
