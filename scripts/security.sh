#!/usr/bin/env bash
# Infrastructure security scan: checkov over template.yaml, in a venv of its own (.venv-checkov; checkov's
# pins clash with the project's and with aws-sam-cli's). Fails on any failed check; a check that does not
# apply is suppressed in template.yaml itself (Metadata: checkov: skip: - id, comment: the reason).
#
#   bash scripts/security.sh install    create/refresh .venv-checkov
#   bash scripts/security.sh            scan (installs first when .venv-checkov is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOV_VERSION="3.3.30"

install() {
  if [[ ! -x .venv-checkov/bin/python ]]; then
    "$(PYENV_VERSION=3.12.1 pyenv which python 2>/dev/null || command -v python3.12)" -m venv .venv-checkov
  fi
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check "checkov==${CHECKOV_VERSION}"
}

scan() {
  [[ -x .venv-checkov/bin/checkov ]] || install
  # --framework: the template is CloudFormation with the SAM transform (checkov expands SAM resources).
  .venv-checkov/bin/checkov --quiet --compact --framework cloudformation --file template.yaml \
    --skip-download --output cli
}

case "${1:-scan}" in
  install) install ;;
  scan) scan ;;
  *) sed -n '2,7p' "$0"; exit 2 ;;
esac
