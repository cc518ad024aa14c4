# Porchlight: `make run` starts the provider, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PORCHLIGHT_BIND ?= 127.0.0.1:8000

.PHONY: run test test-sqlite test-postgres lint bench install clean chromium

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py loaddata -v0 fixtures/demo.json
	$(PY) manage.py rotatekeys
	@echo ""
	@echo "Porchlight is starting at http://$(PORCHLIGHT_BIND)"
	@echo "  Discovery:     http://$(PORCHLIGHT_BIND)/.well-known/openid-configuration"
	@echo "  Demo client:   client_id=porchlight-demo  client_secret=porchlight-demo-secret-not-for-production-2026"
	@echo "                 redirect_uri=http://127.0.0.1:8080/callback"
	@echo "  Demo user:     username=demo  password=porchlight-demo"
	@echo "  Admin:         create one with: $(PY) manage.py createsuperuser"
	@echo ""
	exec $(VENV)/bin/gunicorn -c porchlight/gunicorn.conf.py

# The browser tests need Debian's chromium; install it when missing (root on CI machines).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) chromium lint test-sqlite test-postgres

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-sqlite: $(STAMP)
	@echo "=== test suite on SQLite ==="
	$(PY) -m pytest -p no:cacheprovider

test-postgres: $(STAMP)
	@echo "=== test suite on PostgreSQL 15 (throwaway cluster) ==="
	$(PY) tests/pg_cluster.py $(PY) -m pytest -p no:cacheprovider

bench: $(STAMP)
	$(PY) bench/bench.py

clean:
	rm -rf $(VENV) var
