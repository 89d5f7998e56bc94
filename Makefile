# nkhandout: set up and build.
#   make handout          set everything up, build the Spanish handout
#   make handout L=fr     ... another locale
#   make test             set everything up, run the tests
#   make lint             ruff and mypy (CI runs them)
#   make bench            set everything up, run the benchmark
# Setup installs Debian's packages (fonts, HarfBuzz subsetter, PDF tools,
# Chromium for the browser tests and GNU gettext's msgfmt for the catalog tests),
# a virtual environment in .venv with pinned Python packages, and the fonts.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
L ?= es
DEBIAN_PACKAGES := libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 \
	fonts-noto-core fonts-noto-cjk poppler-utils qpdf zbar-tools chromium gettext

.PHONY: setup system python fonts handout test lint bench clean

setup: system python fonts

system:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

python: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,web]'
	touch $@

fonts: python
	$(BIN)/nkhandout fonts

handout: setup
	$(BIN)/nkhandout build --lang $(L)

test: setup
	$(BIN)/python -m pytest

lint: python
	$(BIN)/ruff check nkhandout tests benchmarks setup.py
	$(BIN)/mypy nkhandout

# The modules compiled first, as pip does when it installs a package: with
# PYTHONDONTWRITEBYTECODE set, the checkout's would be compiled at every start.
bench: setup
	$(BIN)/python -m compileall -q nkhandout
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) templates/fonts .pytest_cache
