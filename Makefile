# Two commands on a fresh machine: `make run` starts Ignis, `make test` runs the suite.
# Both create .venv and install what they need; nothing else must be installed but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean sip-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ignis up

# The SIP bridge's tests run the real Kamailio, sipp and rtpengine (Debian packages kamailio, sip-tester,
# rtpengine-daemon: the daemon alone, run in userspace; the kernel module package is not needed).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SIP_PACKAGES := kamailio kamailio-tls-modules sip-tester openssl rtpengine-daemon
sip-tools:
	@{ command -v kamailio && command -v kamcmd && command -v sipp && command -v rtpengine \
	  && ls /usr/lib/*/kamailio/modules/tls.so /usr/lib/*/kamailio/modules/rtpengine.so; } >/dev/null 2>&1 \
	|| { $(SUDO) apt-get install -y -qq --no-install-recommends $(SIP_PACKAGES) >/dev/null \
	  || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $(SIP_PACKAGES) >/dev/null; }; } \
	|| echo "Could not install $(SIP_PACKAGES) (apt-get); the SIP bridge tests will say so." >&2

test: $(STAMP) sip-tools typecheck
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# mypy resolves imports from folders; the import names ignis.<x> come from pyproject's package-dir table,
# so link that table into .typecheck/ignis/ first.
typecheck: $(STAMP)
	$(BIN)/python -c 'import pathlib, tomllib; \
	  root = pathlib.Path(".typecheck/ignis"); root.mkdir(parents=True, exist_ok=True); \
	  dirs = tomllib.load(open("pyproject.toml", "rb"))["tool"]["setuptools"]["package-dir"]; \
	  [(link := root / name.split(".", 1)[1]).unlink(missing_ok=True) or link.symlink_to(pathlib.Path(d).resolve()) \
	   for name, d in dirs.items()]'
	$(BIN)/mypy -p ignis

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/tool_latency.py

clean:
	rm -rf $(VENV) .ignis .pytest_cache .typecheck .mypy_cache
