#!/usr/bin/env bash
# Full developer / CI set-up, on top of scripts/setup.sh's .venv: the dev, build and tools extras (tests, lint,
# types, model build, benchmark, faceanon serve / invoke), aws-sam-cli + cfn-lint (.venv-sam), checkov
# (.venv-checkov), and Debian's Chromium for tests/e2e (apt; asked first unless CI=true or --yes).
#
#   bash scripts/setup_dev.sh [--yes]        install or refresh everything
#   bash scripts/setup_dev.sh --if-needed    only when pyproject.toml changed since the last full install
#                                            (scripts/test.sh runs this first)
set -euo pipefail
cd "$(dirname "$0")/.."

yes=false
if_needed=false
for arg in "$@"; do
  case "$arg" in
    --yes | -y) yes=true ;;
    --if-needed) if_needed=true ;;
    *) echo "setup_dev: unknown option $arg (--yes, --if-needed)" >&2; exit 2 ;;
  esac
done
[[ "${CI:-}" == true ]] && yes=true

stamp=.venv/.faceanon-dev-installed
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if $if_needed && [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] \
  && [[ -x .venv-sam/bin/sam && -x .venv-checkov/bin/checkov ]]; then
  exit 0
fi

[[ -x .venv/bin/python ]] || bash scripts/setup.sh
echo "setup_dev: installing the dev, build and tools extras, SAM and checkov (first run: a few minutes)" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,build,tools]'
bash scripts/sam_tools.sh install  # aws-sam-cli + cfn-lint in .venv-sam (their pins clash with boto3)
bash scripts/security.sh install  # checkov in .venv-checkov (its pins clash with the project's)

# Debian's Chromium for the demo page's browser test (tests/e2e; Playwright drives it, no `playwright install`).
if [[ ! -x /usr/bin/chromium ]] && command -v apt-get >/dev/null 2>&1; then
  if ! $yes; then
    if [[ -t 0 ]]; then
      read -r -p "setup_dev: apt-get install chromium (for tests/e2e; else they skip)? [y/N] " answer
      [[ "$answer" == [yY]* ]] && yes=true
    else
      echo "setup_dev: /usr/bin/chromium missing; rerun with --yes (or CI=true) to apt-get install it" >&2
    fi
  fi
  if $yes; then
    sudo=""
    [[ "$(id -u)" == 0 ]] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
  fi
fi
echo "$wanted" >"$stamp"
echo "setup_dev: done" >&2
