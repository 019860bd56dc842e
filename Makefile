# Two commands matter: `make run` and `make test` (README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium

.PHONY: run test install chromium lint bench clean translations

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never
# downloads a browser of its own).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's chromium for browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

run: install
	$(BIN)/crisis db upgrade
	$(BIN)/crisis demo
	$(BIN)/crisis serve --host 127.0.0.1 --port 5000

test: install chromium
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check crisis tests bench

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o crisis/translations/messages.pot .
	$(BIN)/pybabel update -i crisis/translations/messages.pot -d crisis/translations --no-fuzzy-matching

# Benches need PostgreSQL (BENCH_POSTGRES_URL, default the local server) and
# make databases of their own; the JSON summary goes to instance/bench/.
BENCHES := sweep dispatch pages capacity fanout
bench: install
	@start=$$(date +%s); for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done; \
	$(BIN)/python bench/summary.py $$start

clean:
	rm -rf $(VENV) instance .pytest_cache
