# Two commands on a fresh machine: `make run` starts Ignis, `make test` runs the suite.
# Both create .venv and install what they need; nothing else must be installed but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean sip-tools browser fhir-engine

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

# The staff app's browser tests drive Debian's Chromium through Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 \
	|| { $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	  || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; } \
	|| echo "Could not install chromium (apt-get); the staff app's browser tests will fail and say so." >&2

# Medplum's FHIR engine for the FHIR record mode's tests (tests/fhir_engine): @medplum/fhir-router 4.5.2 from
# npm, on Node.js >= 20. No node is an error, never a skip.
FHIR_ENGINE := tests/fhir_engine
fhir-engine: $(FHIR_ENGINE)/node_modules/.package-lock.json
$(FHIR_ENGINE)/node_modules/.package-lock.json: $(FHIR_ENGINE)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null \
	|| { echo "Node.js >= 20 with npm is needed for the FHIR tests (Medplum's FHIR engine): install nodejs and npm" >&2; exit 1; }
	cd $(FHIR_ENGINE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: $(STAMP) sip-tools browser fhir-engine typecheck
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

# Every benchmark, 60 s per run, then one table; shorter: make bench BENCH_ARGS="--seconds 10".
bench: $(STAMP)
	$(BIN)/python bench/all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .ignis .pytest_cache .typecheck .mypy_cache $(FHIR_ENGINE)/node_modules
