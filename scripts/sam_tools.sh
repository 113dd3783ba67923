#!/usr/bin/env bash
# AWS SAM tooling, in a venv of its own (.venv-sam): aws-sam-cli pins clash with the project's boto3.
#
#   bash scripts/sam_tools.sh install        create/refresh .venv-sam (aws-sam-cli, cfn-lint)
#   bash scripts/sam_tools.sh lint           cfn-lint template.yaml + sam validate --lint
#   bash scripts/sam_tools.sh build [ARCH] [DIR]  sam build for arm64 or x86_64 (default: this machine's) into
#                                            DIR (.aws-sam/build), then assert the layer's size and architecture
#   bash scripts/sam_tools.sh check          lint + build for this machine (scripts/test.sh runs this)
#
# The layer ships the model faceanon itself resolves ($FACEANON_MODEL_PATH, else the package's src/faceanon/model/).
# The layer's unzipped size budget is LAYER_MAX_MB (default 125 MiB for arm64, 140 MiB for x86_64, whose
# wheels are bigger); Lambda allows 250 MB unzipped for a function and all its layers.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
SAM_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"

install() {
  if [[ ! -x .venv-sam/bin/python ]]; then
    "$(PYENV_VERSION=3.12.1 pyenv which python 2>/dev/null || command -v python3.12)" -m venv .venv-sam
  fi
  .venv-sam/bin/python -m pip install --quiet --disable-pip-version-check \
    "aws-sam-cli==${SAM_VERSION}" "cfn-lint==${CFN_LINT_VERSION}"
}

lint() {
  .venv-sam/bin/cfn-lint template.yaml
  .venv-sam/bin/sam validate --lint --region eu-west-1
}

host_arch() {
  case "$(uname -m)" in
    aarch64 | arm64) echo arm64 ;;
    *) echo x86_64 ;;
  esac
}

build() {
  local arch="${1:-$(host_arch)}" build_dir="${2:-.aws-sam/build}" layer_arch model budget
  case "$arch" in
    arm64) layer_arch=aarch64 budget="${LAYER_MAX_MB:-125}" ;;
    x86_64) layer_arch=x86_64 budget="${LAYER_MAX_MB:-140}" ;;
    *) echo "sam_tools: unknown architecture $arch (arm64 or x86_64)" >&2; return 2 ;;
  esac
  model="$(.venv/bin/python -c 'from faceanon.model import resolve_model_path; print(resolve_model_path())')"
  # sam's python3.12 workflow (the functions) wants python3.12 on PATH: .venv-sam's is one.
  mkdir -p .aws-sam
  local log=".aws-sam/build-$arch.log"
  # No LAYER_ARCH: layers/Makefile takes the architecture from the template (ModelLayer's WorkingDirectory).
  if ! PATH="$PWD/.venv-sam/bin:$PATH" MODEL="$model" PYTHON="$PWD/.venv-sam/bin/python" \
    .venv-sam/bin/sam build --region eu-west-1 --build-dir "$build_dir" --parameter-overrides "Architecture=$arch" \
    >"$log" 2>&1; then
    cat "$log" >&2
    echo "sam_tools: sam build ($arch) failed" >&2
    return 1
  fi
  local layer="$build_dir/ModelLayer/python" size_mib
  size_mib=$(( $(du -sb "$layer" | cut -f1) / 1048576 ))
  echo "sam_tools: ModelLayer ($arch) is ${size_mib} MiB unzipped (budget ${budget} MiB), model $(basename "$model")"
  if (( size_mib > budget )); then
    echo "sam_tools: the layer exceeds its ${budget} MiB budget" >&2
    return 1
  fi
  local shipped
  shipped="$(.venv/bin/python -c 'from faceanon.model import MODEL_FILENAME; print(MODEL_FILENAME)')"
  if [[ ! -f "$layer/faceanon/model/$shipped" ]] || compgen -G "$layer/onnxruntime/capi/libonnxruntime.so*" >/dev/null; then
    echo "sam_tools: layer content is wrong (model missing or onnxruntime C-API library present)" >&2
    return 1
  fi
  check_layer_arch "$layer" "$layer_arch"
  check_video_layer "$build_dir" "$layer_arch" "$size_mib"
}

# VideoLayer (PyAV, FFmpeg inside) is for the same architecture, and VideoFunction's code with both of its
# layers fits Lambda's unzipped limit (262,144,000 bytes: 250 MiB).
check_video_layer() {
  local build_dir="$1" layer_arch="$2" model_mib="$3" video="$1/VideoLayer/python" wrong video_mib code_mib total
  if [[ ! -f "$video/av/__init__.py" ]]; then
    echo "sam_tools: VideoLayer has no av package" >&2
    return 1
  fi
  wrong="$(grep -h '^Tag: ' "$video"/*.dist-info/WHEEL | grep -v -e "_${layer_arch}\$" || true)"
  if [[ -n "$wrong" ]]; then
    echo "sam_tools: VideoLayer's wheel is not for ${layer_arch}: $wrong" >&2
    return 1
  fi
  video_mib=$(( $(du -sb "$video" | cut -f1) / 1048576 ))
  code_mib=$(( $(du -sb "$build_dir/VideoFunction" | cut -f1) / 1048576 ))
  total=$(( model_mib + video_mib + code_mib ))
  echo "sam_tools: VideoLayer ($layer_arch) is ${video_mib} MiB unzipped; VideoFunction with its layers ${total} MiB (limit 250)"
  if (( total >= 250 )); then
    echo "sam_tools: VideoFunction and its layers exceed Lambda's 250 MiB unzipped" >&2
    return 1
  fi
}

# The layer's binaries are for the architecture the template was built for: every platform wheel's tag names
# it, and onnxruntime's extension module is an ELF file of that machine (e_machine 183 aarch64, 62 x86_64).
check_layer_arch() {
  local layer="$1" layer_arch="$2" wrong so machine expected
  wrong="$(grep -h '^Tag: ' "$layer"/*.dist-info/WHEEL | grep -v -e '-any$' -e "_${layer_arch}\$" || true)"
  if [[ -n "$wrong" ]]; then
    echo "sam_tools: wheels in the layer are not for ${layer_arch}:" >&2
    echo "$wrong" >&2
    return 1
  fi
  so="$(compgen -G "$layer/onnxruntime/capi/onnxruntime_pybind11_state*.so" | head -n 1 || true)"
  if [[ -z "$so" ]]; then
    echo "sam_tools: no onnxruntime extension module in the layer" >&2
    return 1
  fi
  machine="$(od -An -tu2 -j18 -N2 "$so" | tr -d ' ')"
  case "$layer_arch" in aarch64) expected=183 ;; *) expected=62 ;; esac
  if [[ "$machine" != "$expected" ]]; then
    echo "sam_tools: $(basename "$so") is ELF machine $machine, not $layer_arch ($expected)" >&2
    return 1
  fi
  echo "sam_tools: layer wheels and onnxruntime's $(basename "$so") are $layer_arch"
}

case "${1:-check}" in
  install) install ;;
  lint) lint ;;
  build) build "${2:-}" "${3:-}" ;;
  # The host-architecture build in .aws-sam/build is what `faceanon invoke` and the tests run; the arm64
  # (deployed) build is only size-checked.
  check) lint && build && { [[ "$(host_arch)" == arm64 ]] || build arm64 .aws-sam/build-arm64; } ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
