"""The committed detector model: loads, has the interface faceanon relies on, and is the one its card records."""

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from faceanon.model import SHIPPED_MODEL, model_sha256

MODEL = SHIPPED_MODEL  # the package data the wheel and the layer ship
CARD = Path(__file__).resolve().parents[2] / "models" / "MODEL_CARD.md"
REQUIRED_OUTPUTS = {"heatmap": 1, "scale": 2, "offset": 2}  # name -> channels


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def graph() -> onnx.ModelProto:
    return onnx.load(str(MODEL))


def test_input_is_named_input_with_dynamic_height_and_width(session: ort.InferenceSession) -> None:
    (model_input,) = session.get_inputs()
    assert model_input.name == "input"
    assert model_input.type == "tensor(float)"
    batch, channels, height, width = model_input.shape
    assert (batch, channels) == (1, 3)
    assert isinstance(height, str)
    assert isinstance(width, str)


@pytest.mark.parametrize(("name", "channels"), sorted(REQUIRED_OUTPUTS.items()))
def test_has_output(session: ort.InferenceSession, name: str, channels: int) -> None:
    outputs = {o.name: o for o in session.get_outputs()}
    assert name in outputs
    assert outputs[name].shape[1] == channels


@pytest.mark.parametrize(("height", "width"), [(32, 32), (64, 160), (96, 32)])
def test_runs_at_any_multiple_of_32(session: ort.InferenceSession, height: int, width: int) -> None:
    blob = np.full((1, 3, height, width), 128.0, dtype=np.float32)
    heatmap, scale, offset = session.run(["heatmap", "scale", "offset"], {"input": blob})
    for tensor, channels in zip((heatmap, scale, offset), (1, 2, 2), strict=True):
        assert tensor.shape == (1, channels, height // 4, width // 4)
    assert np.all((heatmap >= 0) & (heatmap <= 1))


def test_default_opset_is_at_least_13(graph: onnx.ModelProto) -> None:
    versions = {entry.domain: entry.version for entry in graph.opset_import}
    assert versions.get("", versions.get("ai.onnx", 0)) >= 13


def test_weights_are_mostly_int8(graph: onnx.ModelProto) -> None:
    sizes = {"int8": 0, "other": 0}
    for init in graph.graph.initializer:
        kind = "int8" if init.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) else "other"
        sizes[kind] += int(np.prod(init.dims))
    assert sizes["int8"] > 0.8 * (sizes["int8"] + sizes["other"])


def test_sha256_matches_model_card() -> None:
    match = re.search(rf"`src/faceanon/model/{re.escape(MODEL.name)}`\s*\|\s*`([0-9a-f]{{64}})`", CARD.read_text())
    assert match is not None, f"MODEL_CARD.md records no sha256 for {MODEL.name}"
    assert model_sha256(MODEL) == match.group(1)
