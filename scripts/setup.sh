#!/usr/bin/env bash
# Quick set-up, for anonymising photos: create .venv (Python 3.12 or 3.13, both Lambda runtimes), install
# faceanon's core (numpy, onnxruntime, Pillow, pillow-heif; the model ships inside the package), then
# anonymise the embedded sample photo. Seconds to a minute with a warm pip cache; no AWS, no apt.
# Developers and CI: `bash scripts/test.sh` installs the rest on first run (scripts/setup_dev.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local version
  if command -v pyenv >/dev/null 2>&1; then
    for version in 3.12.1 3.13.0; do
      if PYENV_VERSION=$version pyenv which python >/dev/null 2>&1; then
        PYENV_VERSION=$version pyenv which python
        return
      fi
    done
  fi
  for version in python3.12 python3.13; do
    if command -v "$version" >/dev/null 2>&1; then
      command -v "$version"
      return
    fi
  done
  echo "setup: Python 3.12 or 3.13 not found (install one, or pyenv install 3.12.1)" >&2
  return 1
}

if [[ ! -x .venv/bin/python ]]; then
  "$(find_python)" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
echo "setup: installed faceanon into .venv ($(.venv/bin/python --version))"

# The main job on the embedded default photo.
.venv/bin/faceanon demo
