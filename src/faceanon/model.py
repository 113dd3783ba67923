"""Where the detector model lives, and its identity (sha256) for audit records."""

import hashlib
import os
from functools import cache
from pathlib import Path

from .errors import ModelError

MODEL_FILENAME = "centerface_int8.onnx"
MODEL_ENV = "FACEANON_MODEL_PATH"

# Looked up in order: the wheel / Lambda layer copy beside the package, then the repo's models/ folder
# (an editable install), so a checkout and a deployed layer find the same file without configuration.
_CANDIDATES = (
    Path(__file__).resolve().parent / "model" / MODEL_FILENAME,
    Path(__file__).resolve().parents[2] / "models" / MODEL_FILENAME,
)


def resolve_model_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the model file to load: an explicit path, else $FACEANON_MODEL_PATH, else the shipped int8 model."""
    chosen = explicit or os.environ.get(MODEL_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise ModelError(f"no {MODEL_FILENAME} beside the package or in models/; set {MODEL_ENV}")


@cache
def model_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
