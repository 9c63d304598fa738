# The README's two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The model repository: SERVICE_MODELS_DIR when set (what the service reads), else ./models.
MODELS_DIR ?= $(or $(SERVICE_MODELS_DIR),models)
SYSTEM_PACKAGES := nginx prometheus wrk nghttp2-client postgresql chromium default-jre-headless curl jq
export TF_CPP_MIN_LOG_LEVEL ?= 2
export TF_ENABLE_ONEDNN_OPTS ?= 0

.PHONY: run test install models train lint typecheck bench bench-book system-packages clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[train,spark,dev]"
	touch $(BIN)/activate

install: $(BIN)/activate

## Train the default models unless the repository already holds a version of each.
models: install
	@if ls $(MODELS_DIR)/risk_class/*/metadata.json >/dev/null 2>&1 && \
	    ls $(MODELS_DIR)/max_coverage/*/metadata.json >/dev/null 2>&1; then \
	  echo "models: found trained versions in $(MODELS_DIR)/, not retraining"; \
	else \
	  $(BIN)/python -m training --models-dir $(MODELS_DIR); \
	fi
	$(BIN)/python -m policy publish --if-none --models-dir $(MODELS_DIR)

## Train a new version into the staging repository; promote it to MODELS_DIR only if it passed
## the publication gate (training exits non-zero and sets it aside otherwise).
STAGING_DIR ?= models-staging
train: install
	$(BIN)/python -m training --models-dir $(STAGING_DIR)
	$(BIN)/python -m service.repository promote --from $(STAGING_DIR) --models-dir $(MODELS_DIR)

## Serve; nginx (the service's front) is the one Debian package it needs.
run: models
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) system-packages SYSTEM_PACKAGES=nginx
	SERVICE_MODELS_DIR=$(MODELS_DIR) $(BIN)/python -m service

## Debian packages the tests drive for real (installed when running as root).
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (install them as root)"; fi; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@! grep -rnE '# fmt: (skip|off)' --include='*.py' contract policy training service scoring bench tests \
	  || { echo "the formatter owns the layout: remove these markers"; exit 1; }
	$(BIN)/mypy
	$(BIN)/lint-imports

## The unit tier first, on its own (seconds; it also proves it never starts TensorFlow), then the rest.
test: install system-packages lint
	$(BIN)/python -m pytest tests/unit
	$(BIN)/python -m pytest tests/model tests/integration

bench: install system-packages models
	$(BIN)/python -m bench

## The batch scorer on a generated book of 1,000,000 applicants: local and Spark engines.
bench-book: install system-packages models
	$(BIN)/python -m bench.book --models-dir $(MODELS_DIR)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
