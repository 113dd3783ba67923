#!/usr/bin/env bash
# One command on a fresh machine: create .venv (Python 3.12, as Lambda's python3.12), install faceanon with
# everything its tests, model build and benchmark need, then anonymise the embedded sample photo.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python312() {
  if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=3.12.1 pyenv which python >/dev/null 2>&1; then
    PYENV_VERSION=3.12.1 pyenv which python
  elif command -v python3.12 >/dev/null 2>&1; then
    command -v python3.12
  else
    echo "setup: Python 3.12 not found (install it, or pyenv install 3.12.1)" >&2
    return 1
  fi
}

if [[ ! -x .venv/bin/python ]]; then
  "$(find_python312)" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,build]'
echo "setup: installed faceanon into .venv ($(.venv/bin/python --version))"
bash scripts/sam_tools.sh install  # aws-sam-cli + cfn-lint in .venv-sam (their pins clash with boto3)
bash scripts/security.sh install  # checkov in .venv-checkov (its pins clash with the project's)

# Debian's Chromium for the demo page's browser test (tests/e2e; Playwright drives it, no `playwright install`).
if [[ ! -x /usr/bin/chromium ]] && command -v apt-get >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "setup: /usr/bin/chromium missing; 'sudo apt-get install -y chromium' to run tests/e2e (else they skip)" >&2
  fi
fi

# The main job on the embedded default photo.
.venv/bin/faceanon demo
