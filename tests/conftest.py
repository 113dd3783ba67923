"""Shared fixtures: the shipped sample photo, a session-wide real detector, a fake detector.

The helpers behind them (fakes, image builders, result factories, handler loading) live in tests/support.
"""

import io
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from faceanon.detector import CenterFaceDetector
from faceanon.errors import ModelError
from faceanon.model import resolve_model_path
from support.fakes import FakeDetector

REPO = Path(__file__).resolve().parents[1]
# Until the int8 model is built, a checkout may only have the cleaned fp32 model the build starts from.
_DEV_MODEL = REPO / "build" / "models" / "centerface_fp32.onnx"


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    """The shipped public-domain photo (NASA astronaut portrait, 512 x 512, one face)."""
    return resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()


@pytest.fixture(scope="session")
def sample_rgb(sample_bytes: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(sample_bytes)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="session")
def real_model_path() -> Path:
    try:
        return resolve_model_path()
    except ModelError:
        if _DEV_MODEL.is_file():
            return _DEV_MODEL
        pytest.skip("no detector model: build it (models/build.py) or set FACEANON_MODEL_PATH")


@pytest.fixture(scope="session")
def real_detector(real_model_path: Path) -> CenterFaceDetector:
    """One real CenterFace session for the whole test run (loading it takes ~0.3 s)."""
    return CenterFaceDetector(real_model_path)


@pytest.fixture
def fake_detector() -> FakeDetector:
    return FakeDetector()
