# gridline: `make run` serves the embedded default; `make test` runs everything on PostGIS + Redis.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgis://postgres@127.0.0.1:5432/gridline
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=

.PHONY: run test setup lint bench demo

setup:
	./infra/bootstrap.sh

run: setup
	@mkdir -p var
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  gridline on http://$(HOST):$(PORT)"
	@echo "    API docs   http://$(HOST):$(PORT)/api/v1/docs"
	@echo "    health     http://$(HOST):$(PORT)/api/v1/health"
	@echo "    admin      http://$(HOST):$(PORT)/admin/"
	@echo "    board      http://$(HOST):$(PORT)/board/ (supervisor 19900120001, TOTP below)"
	@echo "    websocket  ws://$(HOST):$(PORT)/ws/v1/stream?ticket=... (POST /api/v1/realtime/ticket)"
	@echo ""
	@echo "    alarm rx   SIA DC-09 on tcp/udp $(HOST):$${ALARM_RECEIVER_TCP_PORT:-7780} (manage.py dc09_send)"
	$(PY) manage.py seed_demo --print-logins
	ALARM_RECEIVER_EMBEDDED=1 ALARM_RECEIVER_HOST=$(HOST) $(VENV)/bin/uvicorn backend.config.asgi:application --host $(HOST) --port $(PORT)

lint:
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

test:
	./infra/bootstrap.sh --postgis --browser
	./infra/services.sh
	$(MAKE) lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	  $(VENV)/bin/pytest $(PYTEST_ARGS)

bench:
	./infra/bootstrap.sh --postgis
	./infra/services.sh
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m bench
