# Two commands matter: `make run` and `make test` (README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium
# `make test` runs the suite on one pytest-xdist worker per CPU (tests/conftest.py says
# how workers keep apart); PYTEST_WORKERS=0 runs it in one process. PYTEST_ARGS go to pytest.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: run test install chromium lint bench clean translations wheel-check

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

# Push alerts work locally too: a VAPID pair of this checkout's own is made once, in
# instance/push.env, unless VAPID_PUBLIC_KEY is set already (docs/phone.md).
run: install
	$(BIN)/crisis db upgrade
	$(BIN)/crisis demo
	@if [ -z "$$VAPID_PUBLIC_KEY" ] && [ ! -f instance/push.env ]; then \
		$(BIN)/crisis push keys | grep '^VAPID_' > instance/push.env.new && \
		echo "VAPID_SUBJECT=mailto:krisstod@demo.crisis.se" >> instance/push.env.new && \
		mv instance/push.env.new instance/push.env && echo "Made a VAPID key pair for push alerts: instance/push.env"; \
	fi
	@if [ -z "$$VAPID_PUBLIC_KEY" ]; then set -a; . ./instance/push.env; set +a; fi; \
		exec $(BIN)/crisis serve --host 127.0.0.1 --port 5000

test: install chromium
	$(BIN)/lint-imports && $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

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

# The wheel works outside the checkout: build it, install it into a fresh venv in a
# temporary directory, and from there run the console script, validate the playbooks,
# migrate a new SQLite database and serve a page, a static file and the PDF fonts
# (docs/architecture.md, "Packaging"). `.ci/run` calls it.
wheel-check: install
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	rm -rf build; \
	echo "== building the wheel"; \
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir "$$tmp/dist" .; \
	echo "== installing $$(cd "$$tmp/dist" && ls crisis-*.whl) into a fresh venv"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install --quiet "$$tmp"/dist/crisis-*.whl; \
	cd "$$tmp"; \
	export DATABASE_URL="sqlite:///$$tmp/wheel-check.sqlite3"; unset CRISIS_ENV REDIS_URL CRISIS_PLAYBOOK_DIR; \
	echo "== crisis --help"; venv/bin/crisis --help >/dev/null; \
	echo "== crisis playbooks validate (CRISIS_PLAYBOOK_DIR=$(CURDIR)/playbooks)"; \
	CRISIS_PLAYBOOK_DIR="$(CURDIR)/playbooks" venv/bin/crisis playbooks validate; \
	echo "== crisis playbooks validate (the playbooks in the wheel)"; venv/bin/crisis playbooks validate; \
	echo "== crisis db upgrade ($$DATABASE_URL)"; venv/bin/crisis db upgrade; \
	echo "== pages, static files and fonts from the installed package"; \
	venv/bin/python "$(CURDIR)/.ci/wheel_smoke.py"; \
	echo "wheel-check: ok"

clean:
	rm -rf $(VENV) instance .pytest_cache build
