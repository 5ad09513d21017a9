# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SERVICES := identity orders inventory notifications

.PHONY: run test test-gateway test-services bench fuzz check-config system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Debian tools the tests and the benchmark use (promtool/prometheus, wrk, nginx).
# Installed when we are root on Debian and they are missing; otherwise those tests say why they skip.
system-deps:
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "could not install$$missing"; \
	fi

run: $(STAMP)
	$(PY) -m demo_services.stack

test: $(STAMP) system-deps test-gateway test-services

test-gateway: $(STAMP)
	$(PY) -m pytest tests

test-services: $(STAMP)
	@set -e; for s in $(SERVICES); do \
	  if [ -d demo_services/$$s/tests ]; then \
	    echo "== demo service: $$s"; \
	    db=$${DATABASE_URL_TEMPLATE:-$$( if [ "$$CI" = true ]; then echo "postgres://postgres@127.0.0.1:5432/{name}"; fi )}; \
	    ( cd demo_services/$$s && if [ -n "$$db" ]; then export DATABASE_URL=$${db//\{name\}/$$s}; fi; \
	      ../../$(PY) -m pytest -q ); \
	  fi; \
	done

bench: $(STAMP) system-deps
	$(PY) -m bench

check-config: $(STAMP)
	$(PY) -m gateway check-config $${GATEWAY_CONFIG:-gateway/demo/gateway.yaml}

clean:
	rm -rf $(VENV) .run

fuzz: $(STAMP)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} $(PY) -m pytest tests/fuzz -q
