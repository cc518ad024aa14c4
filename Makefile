# Porchlight: `make run` starts the provider, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Runtime and test dependencies are locked apart, with hashes (requirements/, `make lock`):
# `make run` installs only what the provider needs; the test targets add the test tools.
STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
# The Node relying parties of the e2e suite (openid-client), installed from their lock file.
NODE_DIR := tests/e2e/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
export PORCHLIGHT_BIND ?= 127.0.0.1:8000
# Python keeps compiled bytecode under __pycache__/ (ignored by git; the image is built from git's
# files alone), even where the shell sets PYTHONDONTWRITEBYTECODE: the suites start hundreds of
# Python processes (test workers, manage.py, server nodes), and without it each compiles the
# project and pytest rewrites every test module afresh, seconds of CPU apiece.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-sqlite test-postgres test-fast lint docs bench install clean chromium screenshots node lock redis image ldap-build slapd image-tools test-image gettext messages

$(STAMP): requirements/runtime.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/runtime.txt
	touch $(STAMP)

# The lock names every package with its version and hashes, so pip installs it as it is (--no-deps)
# instead of resolving again: a dependency asking for a package with extras (scim2-models wants
# pydantic[email]) would otherwise send pip's resolver after an unpinned release, which
# --require-hashes refuses. `pip check` then fails the install if the lock is not whole.
$(TEST_STAMP): requirements/test.txt $(STAMP) | ldap-build
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/test.txt
	$(PY) -m pip check
	touch $(TEST_STAMP)

install: $(STAMP)

# Recompile the lock files from pyproject.toml, keeping the pinned versions unless a bound
# changed (add --upgrade to the first line to move to the newest releases). The LDAP extra
# (python-ldap, built from source) is in the test lock and in ldap.txt (runtime + LDAP), never in
# runtime.txt, which the container image installs with no compiler (docs/ldap.md).
lock: $(TEST_STAMP)
	$(VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra test --extra ldap -o requirements/test.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links -c requirements/test.txt -o requirements/runtime.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra ldap -c requirements/test.txt -o requirements/ldap.txt pyproject.toml

$(NODE_STAMP): $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js 20+) is needed for tests/e2e/node"; exit 1; }
	npm ci --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# Browsers refuse passkeys (WebAuthn) on an IP address, so the quick start is served as localhost
# (on the bound port).
run: export PORCHLIGHT_ISSUER ?= http://localhost:$(lastword $(subst :, ,$(PORCHLIGHT_BIND)))
run: $(STAMP)
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py loaddata -v0 fixtures/demo.json
	$(PY) manage.py rotatekeys
	$(PY) manage.py housekeeping --schedule -v0
	@echo ""
	@echo "Porchlight is starting at $(PORCHLIGHT_ISSUER) (listening on $(PORCHLIGHT_BIND))"
	@echo "  Discovery:     $(PORCHLIGHT_ISSUER)/.well-known/openid-configuration"
	@echo "  Demo client:   client_id=porchlight-demo  client_secret=porchlight-demo-secret-not-for-production-2026"
	@echo "                 redirect_uri=http://127.0.0.1:8080/callback"
	@echo "  Demo user:     username=demo  password=porchlight-demo"
	@echo "  Admin:         $(PORCHLIGHT_ISSUER)/admin/ (create a superuser: $(PY) manage.py createsuperuser)"
	@echo ""
	@# The task worker (back-channel logout deliveries) runs beside the server and stops with it.
	@# `manage.py serve` becomes the server PORCHLIGHT_SERVER names: gunicorn (default) or granian.
	$(PY) manage.py db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py serve

# The browser tests need Debian's chromium; install it when missing (root on CI machines).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The two-node cluster tests (tests/clusters/) run a real Redis too: Debian's redis-server,
# started by the test on a free loopback port (installed when missing, as chromium is).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

# python-ldap (the LDAP extra, in the test lock) is built from source: it needs OpenLDAP's and
# Cyrus SASL's headers and a compiler (Debian's, installed when missing, as chromium is).
ldap-build:
	@command -v cc >/dev/null 2>&1 && [ -f /usr/include/ldap.h ] && [ -f /usr/include/sasl/sasl.h ] || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			build-essential libldap2-dev libsasl2-dev >/dev/null; }

# The directory sign-in tests (tests/directory/) run a real OpenLDAP server: Debian's slapd,
# started by the test on a free loopback port with its own fixture directory. Installed without
# its debconf questions; the system's own slapd service is never started or used.
slapd:
	@command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $$SUDO apt-get install -y -qq \
			slapd ldap-utils >/dev/null; }

# The translation catalogs (docs/languages.md) are made and checked with Debian's gettext
# (xgettext, msgmerge, msgfmt, msgcmp; installed when missing, as chromium is). The compiled
# catalogs (locale/*/LC_MESSAGES/django.mo) are committed: `make run` needs no gettext.
gettext:
	@command -v msgfmt >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gettext >/dev/null; }

# Every translatable string of the code and templates into each shipped language's django.po
# (settings.LANGUAGES but English), then compiled to django.mo. tests/i18n/ fails when a catalog
# misses a string this would add, or when a django.mo does not match its django.po.
MESSAGE_LANGUAGES := de es fr nl pt_BR
messages: $(STAMP) gettext
	$(PY) manage.py makemessages --no-obsolete --add-location file $(addprefix -l ,$(MESSAGE_LANGUAGES)) \
		--ignore tests --ignore bench --ignore deploy --ignore docs --ignore var --ignore static \
		--ignore fixtures --ignore node_modules
	$(PY) manage.py compilemessages -v0 $(addprefix -l ,$(MESSAGE_LANGUAGES))

# The checks (lint, docs), both databases' suites and the container image's test run at once
# (TEST_JOBS=1: one after the other), each suite on PYTEST_WORKERS processes (pytest-xdist): most of the suite waits on live
# servers, server nodes and Chromium, and the image build on Debian's mirror, so more processes
# than cores keep the cores busy. Each part's output is printed whole when it ends; any failing
# fails `make test`. The nodes tests start with `manage.py serve` (tests/cluster.py) run under
# gunicorn on SQLite and under Granian on PostgreSQL, so each runs under both servers once per
# `make test`.
TEST_JOBS ?= 5
PYTEST_WORKERS ?= 3
PYTEST := $(PY) -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --durations=25

test: $(TEST_STAMP) chromium redis slapd node image-tools gettext
	@# Both suites read the development secret key under var/: make it before they start together.
	$(PY) manage.py check -v0 >/dev/null
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target lint docs test-sqlite test-postgres test-image

# Django's deployment checks with a production configuration (https issuer, secrets set, debug
# off): any warning fails. The secrets are throwaway values made for this run.
DEPLOY_CHECK_ENV := PORCHLIGHT_ISSUER=https://id.example.com PORCHLIGHT_DEBUG=false \
	PORCHLIGHT_SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	PORCHLIGHT_KEY_ENCRYPTION_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')"

# mypy keeps its cache outside the tree, as the image build keeps its base (IMAGE_CACHE): on a fresh
# clone a cold check costs about 43 s of CPU, taken from the suites running beside it, a warm one 2 s;
# mypy checks again every module whose file or dependencies changed. MYPY_CACHE= checks from cold.
MYPY_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/porchlight/mypy

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(if $(MYPY_CACHE),--cache-dir "$(MYPY_CACHE)") .
	@# The layers, and no import cycles in any package ([tool.importlinter] in pyproject.toml).
	$(VENV)/bin/lint-imports
	$(DEPLOY_CHECK_ENV) $(PY) manage.py check --deploy --fail-level WARNING

# The documentation site (mkdocs.yml, docs/) into var/site/. --strict fails on any warning: a
# broken link or anchor, a page missing from the nav. Nothing is fetched while it builds; the
# variable silences mkdocs-material's notice about its future, which is not about this site.
docs: $(TEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

test-sqlite: $(TEST_STAMP) $(NODE_STAMP)
	@echo "=== test suite on SQLite, server nodes under gunicorn ==="
	PORCHLIGHT_TEST_SERVER=gunicorn $(PYTEST)

test-postgres: $(TEST_STAMP) $(NODE_STAMP)
	@echo "=== test suite on PostgreSQL 15 (throwaway cluster), server nodes under Granian ==="
	PORCHLIGHT_TEST_SERVER=granian $(PY) tests/pg_cluster.py $(PYTEST)

# The part that needs no server, browser or second node: seconds to a minute.
test-fast: $(TEST_STAMP) gettext
	$(PYTEST) -m "not e2e"

# Load figures per endpoint (bench/bench.py); `make bench PROFILE=token` profiles one endpoint,
# `make bench GROWTH=1` measures against 1,000,000 stored tokens and prunes them under load.
# node-oidc-provider, measured beside Porchlight, installed from bench/node/package-lock.json.
BENCH_NODE_STAMP := bench/node/node_modules/.installed
$(BENCH_NODE_STAMP): bench/node/package-lock.json bench/node/package.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js 20.19+) is needed for bench/node"; exit 1; }
	npm ci --prefix bench/node --no-audit --no-fund --loglevel=error
	touch $(BENCH_NODE_STAMP)

bench: $(TEST_STAMP) $(BENCH_NODE_STAMP)
	$(PY) bench/bench.py

# Every page of tests/e2e/pages.py at 1280 and 390 px, into docs/screenshots/; pngquant (Debian's,
# installed when missing, as chromium is) makes the files about a third of Chromium's size.
screenshots: $(TEST_STAMP) chromium
	@command -v pngquant >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pngquant >/dev/null; }
	$(PY) docs/screenshots.py

# The container image (docs/deployment.md, "Container image"): Debian packages made into a root
# filesystem with mmdebstrap, the venv from the hashed runtime lock, one layer committed by buildah.
# Needs root; Debian's mmdebstrap, buildah and podman are installed when missing, as chromium is.
# IMAGE=name:tag names it (default localhost/porchlight:<version>); DEBIAN_MIRROR=a snapshot.debian.org
# URL pins the Debian packages too.
# docker-compose (Debian's Compose 1.x) brings deploy/compose/ up on podman's Docker API
# (tests/deploy/test_compose_up.py, `-m image`).
image-tools:
	@command -v mmdebstrap >/dev/null 2>&1 && command -v buildah >/dev/null 2>&1 && command -v podman >/dev/null 2>&1 \
		&& command -v docker-compose >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mmdebstrap buildah podman runc docker-compose >/dev/null; }

image: image-tools
	sh deploy/image/build.sh

# The image built from this commit and run (tests/image, `-m image`): migrate, a relying party's
# code flow, a restart that keeps keys and sessions, the worker, non-root, no compiler. The image
# is tagged with a digest of its inputs (`build.sh --inputs`: the committed files it is made of,
# build.sh, suite, mirror), so one already on this machine from the same inputs is reused and
# only a change to what goes into it costs a build (about 100 s on 2 cores).
test-image: $(TEST_STAMP) image-tools
	@tag=localhost/porchlight:inputs-$$(sh deploy/image/build.sh --inputs); \
	if podman image exists $$tag; then echo "== reusing $$tag (built from the same inputs)"; \
	else echo "== building $$tag"; IMAGE=$$tag sh deploy/image/build.sh || exit 1; fi; \
	PORCHLIGHT_TEST_IMAGE=$$tag $(PY) -m pytest -p no:cacheprovider --durations=10 -m image tests/image

clean:
	rm -rf $(VENV) var $(NODE_DIR)/node_modules
