# The kiosk's two commands: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUNDLES := bundles/dist
PROFILE ?= science
KIOSK := $(BIN)/kiosk
BROWSER_DEPS := tests/browser/node_modules/.installed

.PHONY: run setup system-deps-run prepare extension bundle bundles-for-tests test test-deps lint bench clean help install uninstall usb pi-stick

help:
	@echo "make run    - set up, build the default bundle if missing, start the kiosk"
	@echo "make test   - set up everything the tests need (browser included) and run them"
	@echo "make setup | bundle | lint | bench | install | uninstall | clean"

# Two stamps: what running needs (`make run`), and the test tools on top (`make test`).
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
STEP := bash scripts/progress.sh
PIP := $(BIN)/python -m pip --disable-pip-version-check

system-deps-run:
	@$(STEP) "checking system packages (python3-venv, nodejs, npm)" "seconds; minutes if apt installs" \
	  bash scripts/system-deps.sh run

$(RUN_STAMP): pyproject.toml | system-deps-run
	@test -x $(BIN)/python || $(STEP) "creating the Python environment $(VENV)" "about 5 s" \
	  $(PYTHON) -m venv $(VENV)
	@$(STEP) "installing the kiosk and what it runs on (aiohttp, zeroconf, nbconvert, brotli, ...)" \
	  "about 1 minute; 3-5 minutes on a Raspberry Pi or without a pip cache" \
	  $(PIP) install -q -e .
	@touch $@

$(TEST_STAMP): $(RUN_STAMP)
	@$(STEP) "installing the test tools (pytest, hypothesis, mypy, ruff, ...)" "about 30 s" \
	  $(PIP) install -q -e '.[test]'
	@touch $@

setup: $(RUN_STAMP)

# The notebook extension (Share button, view-only links, the phone layout, each kernel's
# set-up: time.sleep and downloads through the kiosk; the plain-HTTP relay's page side is
# the kiosk's kiosk/relay/bridge.js), built into
# extension/dist/labextension; the bundle builder includes it in every profile. A build of
# the same committed sources is reused from ~/.cache/kiosk/extension (a fresh clone).
extension: system-deps-run
	@$(STEP) "building the notebook extension (npm, webpack; skipped when built before)" \
	  "seconds when built before; about a minute the first time" bash scripts/extension-cached.sh

# The kiosk's venv and the extension build need nothing of each other (the extension has
# its own small venv): on a fresh clone they run side by side, a minute sooner.
prepare:
	@$(MAKE) --no-print-directory -j2 setup extension

# Build both profiles (core first) and activate the default one. Downloads are cached in
# ~/.cache/kiosk/bundles, so a rebuild takes seconds.
bundle: prepare
	$(KIOSK) bundle build --profile core --bundles-dir $(BUNDLES)
	$(KIOSK) bundle build --profile $(PROFILE) --bundles-dir $(BUNDLES) --activate

# `make run` builds the default profile only when none is built yet.
run: prepare
	$(KIOSK) bundle build --profile $(PROFILE) --bundles-dir $(BUNDLES) --activate --if-missing
	$(KIOSK) serve --bundles-dir $(BUNDLES)

$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	@$(STEP) "installing the browser test driver (npm ci in tests/browser)" "about 30 s" \
	  bash -c 'cd tests/browser && npm ci --no-audit --no-fund --loglevel=error'
	@touch $@

test-deps: $(TEST_STAMP)
	@$(STEP) "checking the system packages the tests use (chromium, nginx, ...)" \
	  "seconds; several minutes if apt installs them" bash scripts/system-deps.sh test
	$(MAKE) $(BROWSER_DEPS)

# Both profiles, built once (a fresh clone builds them from the download cache).
bundles-for-tests: prepare
	$(KIOSK) bundle build --profile core --bundles-dir $(BUNDLES) --if-missing
	$(KIOSK) bundle build --profile science --bundles-dir $(BUNDLES) --activate --if-missing

test: test-deps bundles-for-tests
	$(BIN)/ruff check kiosk tests bench
	$(BIN)/mypy
	$(BIN)/pytest -p no:cacheprovider --durations=25

lint: $(TEST_STAMP)
	$(BIN)/ruff check kiosk tests bench
	$(BIN)/mypy
	@[ -f extension/node_modules/.package-lock.json ] && [ ! extension/package-lock.json -nt extension/node_modules/.package-lock.json ] \
	  || $(STEP) "installing the extension's tools (npm ci in extension)" "about 1 minute" \
	  bash -c 'cd extension && npm ci --no-audit --no-fund --loglevel=error'
	cd extension && npm run --silent lint

bench: test-deps bundles-for-tests
	$(BIN)/python bench/run_all.py

# Write a self-contained kiosk onto a USB stick (or any folder): make usb DEST=/media/me/STICK
usb: setup bundle
	@test -n "$(DEST)" || { echo "usage: make usb DEST=/media/<you>/<stick>"; exit 2; }
	$(KIOSK) usb make "$(DEST)" --bundles-dir $(BUNDLES)
	$(KIOSK) usb verify "$(DEST)"

# As root on Debian / Raspberry Pi OS: venv under /opt/kiosk, the systemd unit, /etc/kiosk/kiosk.toml.
# Pass DESTDIR, PREFIX, WHEELHOUSE (offline install) or PURGE=1 (uninstall: drop data) through.
install:
	bash scripts/install.sh

uninstall:
	bash scripts/uninstall.sh

clean:
	rm -rf $(VENV) tests/browser/node_modules .pytest_cache .mypy_cache .ruff_cache

# Everything a Raspberry Pi needs (source and the active bundle, no Node.js needed there),
# on a USB stick: make pi-stick DEST=/media/$USER/STICK   (docs/operations.md)
pi-stick:
	@test -n "$(DEST)" || { echo "usage: make pi-stick DEST=/media/<you>/<stick>"; exit 2; }
	bash scripts/pi-stick.sh "$(DEST)"
