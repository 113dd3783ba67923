#!/usr/bin/env bash
# The whole test suite: lint, types, then every pytest tier. Exits non-zero on any failure.
# First run (or after pyproject.toml changes): installs what the tests need beyond scripts/setup.sh
# (scripts/setup_dev.sh: dev/build/tools extras, SAM, checkov, Chromium -- asked first unless CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_dev.sh --if-needed
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
MYPYPATH=src .venv/bin/mypy functions/faceanon_lambda
# AWS SAM: cfn-lint, sam validate --lint, sam build (this machine's and arm64) with the layer size budget;
# the Lambda invoke tests then run the functions out of .aws-sam/build and must not skip.
bash scripts/sam_tools.sh check
# Infrastructure security scan: checkov over template.yaml, 0 failed checks (suppressions carry their reason).
bash scripts/security.sh
# Soak: sequential warm invocations in one process; fails on RSS growth > 5% after warm-up or fd growth.
.venv/bin/python benchmarks/soak.py --invocations 600 --check
export FACEANON_REQUIRE_SAM_BUILD=1
.venv/bin/python -m pytest "$@"
