# spot-failover — every target does its own set-up on a fresh machine (Python 3.11+, Go, Debian).
#
#   make test     ruff, mypy (strict), import contracts and the whole pytest suite on a real
#                 local control plane
#   make cluster  start that control plane by hand and print its kubeconfig path
#   make demo     a whole failover on the local control plane, told as a timeline
#                 (SCENARIO=leader-killed|failed-rollout|imds-unreachable|webhook-down|
#                 stuck-move|eks-timing)
#   make bench    benchmarks -> benchmarks/results/latest.json and BENCHMARKS.md
#   make audit    every identity's escalation attempts on the local control plane, and kube-score
#                 on the rendered manifests -> SECURITY-AUDIT.md, benchmarks/results/audit.json
#   make binaries build (or find) the control-plane binaries and print where they are
#   make promtool build (or find) promtool, which tests the alert rules
#   make kube-score build (or find) kube-score, which scans the rendered manifests
#   make helm     build (or find) helm, which lints, renders and installs the chart in tests
#   make images   build both images with buildah (no container engine needed; run as root), run
#                 their entry points as their own user on a read-only root, print their sizes
#
# Python tooling comes from uv, pinned below and bootstrapped into the cache; the control-plane
# binaries are built from Go modules into the same cache, keyed by version.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
UV_VERSION := 0.13.9
CACHE ?= $(or $(SPOT_FAILOVER_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/spot-failover)
export SPOT_FAILOVER_CACHE := $(CACHE)
UV := $(CACHE)/uv-$(UV_VERSION)/bin/uv
VENV := .venv
RUN := $(UV) run --locked --no-sync

.PHONY: test lint unit cluster binaries promtool kube-score helm bench audit demo clean sync images

test: lint binaries promtool kube-score helm
	$(RUN) pytest $(PYTEST_ARGS)

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

sync: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(CACHE)/uv-$(UV_VERSION)
	$(CACHE)/uv-$(UV_VERSION)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	touch $@

uv.lock: pyproject.toml | $(UV)
	$(UV) lock

binaries:
	@bash devtools/controlplane/build.sh >/dev/null

promtool:
	@bash devtools/monitoring/build_promtool.sh >/dev/null

kube-score:
	@bash devtools/security/build_kube_score.sh >/dev/null
helm:
	@bash devtools/helm/build.sh >/dev/null

cluster: sync binaries
	$(RUN) python -m devtools.controlplane

bench: sync binaries kube-score
	$(RUN) python -m benchmarks

audit: sync binaries kube-score
	$(RUN) python -m benchmarks --only audit

demo: sync binaries
	$(RUN) python -m devtools.demo $(if $(SCENARIO),--scenario $(SCENARIO))

images: sync
	bash devtools/images/build.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .cluster
