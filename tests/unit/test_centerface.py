"""The model wrapper alone, on synthetic tensors and a fake session: names, blob, decode, errors, one pass."""

import inspect
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from faceanon.centerface import (
    ALIGN,
    STRIDE,
    CenterFace,
    OutputNames,
    as_rgb_uint8,
    decode,
    output_names,
    to_blob,
)
from faceanon.errors import InvalidRequestError, ModelError

FloatArray = npt.NDArray[np.float32]
ORT_ERRORS = ort.capi.onnxruntime_pybind11_state


def _heads(h: int, w: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    return np.zeros((1, 1, h, w), np.float32), np.zeros((1, 2, h, w), np.float32), np.zeros((1, 2, h, w), np.float32)


@dataclass
class NamedSession:
    """A fake session with chosen input/output names; it puts one 24 x 16 px face on cells[] of each input."""

    outputs: tuple[str, ...] = ("heatmap", "scale", "offset", "landmarks")
    input: str = "input"
    cells: tuple[tuple[int, int, float], ...] = ((2, 3, 0.9),)  # (row, col, score)
    error: Exception | None = None
    calls: list[tuple[list[str], str, tuple[int, ...], np.dtype[np.generic]]] = field(default_factory=list)

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=self.input)]

    def get_outputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=name) for name in self.outputs]

    def run(self, names: list[str], feed: dict[str, FloatArray]) -> list[FloatArray]:
        ((input_name, blob),) = feed.items()
        self.calls.append((names, input_name, blob.shape, blob.dtype))
        if self.error is not None:
            raise self.error
        heatmap, scale, offset = _heads(blob.shape[2] // STRIDE, blob.shape[3] // STRIDE)
        for row, col, score in self.cells:
            heatmap[0, 0, row, col] = score
        scale[0, 0], scale[0, 1] = np.log(24 / STRIDE), np.log(16 / STRIDE)
        by_name = {"heatmap": heatmap, "scale": scale, "offset": offset}
        return [by_name.get(name, heatmap) for name in names]


def test_output_names_are_read_from_the_session_by_name_in_any_order() -> None:
    session = NamedSession(outputs=("landmarks", "offset", "heatmap", "scale"), input="data")
    model = CenterFace(session)  # type: ignore[arg-type]
    assert model.output_names == OutputNames("heatmap", "scale", "offset")
    assert model.input_name == "data"
    model.run(np.zeros((32, 32, 3), np.uint8), threshold=0.5)
    assert session.calls == [(["heatmap", "scale", "offset"], "data", (1, 3, 32, 32), np.dtype(np.float32))]


def test_unnamed_outputs_are_taken_in_the_upstream_order() -> None:
    session = NamedSession(outputs=("537", "538", "539", "540"))
    assert output_names(session) == OutputNames("537", "538", "539")  # type: ignore[arg-type]


@pytest.mark.parametrize("outputs", [(), ("heatmap", "scale")])
def test_a_session_with_too_few_outputs_is_a_model_error(outputs: tuple[str, ...]) -> None:
    with pytest.raises(ModelError, match="outputs"):
        CenterFace(NamedSession(outputs=outputs))  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [ORT_ERRORS.RuntimeException("kernel"), ORT_ERRORS.InvalidArgument("feed")])
def test_inference_failure_is_a_model_error(error: Exception) -> None:
    model = CenterFace(NamedSession(error=error))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="inference failed") as raised:
        model.detect(np.zeros((40, 40, 3), np.uint8), threshold=0.5)
    assert raised.value.__cause__ is error


def test_thresholds_are_keyword_only_and_there_are_no_kwargs() -> None:
    model = CenterFace(NamedSession())  # type: ignore[arg-type]
    rgb = np.zeros((32, 32, 3), np.uint8)
    for method in (model.run, model.detect):
        parameters = inspect.signature(method).parameters
        assert parameters["threshold"].kind is inspect.Parameter.KEYWORD_ONLY
        assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        with pytest.raises(TypeError):
            method(rgb, 0.5)  # type: ignore[misc]


def test_run_gives_every_cell_above_threshold_in_network_pixels() -> None:
    model = CenterFace(NamedSession(cells=((2, 3, 0.9), (2, 4, 0.6), (6, 6, 0.2))))  # type: ignore[arg-type]
    candidates = model.run(np.zeros((40, 40, 3), np.uint8), threshold=0.3)
    assert candidates.dtype == np.float32
    np.testing.assert_allclose(candidates[:, 4], [0.9, 0.6])
    centre_x = (candidates[:, 0] + candidates[:, 2]) / 2
    np.testing.assert_allclose(centre_x, [(3 + 0.5) * STRIDE, (4 + 0.5) * STRIDE])


def test_detect_gives_one_row_per_face_best_first_clipped_to_the_image() -> None:
    # Two neighbouring cells on one face, one face at the top-left corner (its box runs off the image).
    session = NamedSession(cells=((0, 0, 0.7), (5, 5, 0.8), (5, 6, 0.9)))
    model = CenterFace(session)  # type: ignore[arg-type]
    faces = model.detect(np.zeros((40, 50, 3), np.uint8), threshold=0.5)
    assert faces.dtype == np.float32
    assert faces.shape == (2, 5)
    np.testing.assert_allclose(faces[:, 4], [0.9, 0.7])
    assert (faces[:, :4] >= 0).all()
    assert (faces[:, [0, 2]] <= 50).all()
    assert (faces[:, [1, 3]] <= 40).all()
    assert session.calls[0][2] == (1, 3, 64, 64)  # padded to multiples of 32


def test_detect_on_an_empty_image_and_bad_thresholds() -> None:
    session = NamedSession()
    model = CenterFace(session)  # type: ignore[arg-type]
    assert model.detect(np.zeros((0, 7, 3), np.uint8), threshold=0.5).shape == (0, 5)
    assert session.calls == []
    for threshold in (0.0, 1.0):
        with pytest.raises(InvalidRequestError):
            model.detect(np.zeros((8, 8, 3), np.uint8), threshold=threshold)


def test_decode_places_one_cell_in_input_pixels() -> None:
    heatmap, scale, offset = _heads(8, 10)
    heatmap[0, 0, 3, 5] = 0.9
    scale[0, :, 3, 5] = [np.log(24 / STRIDE), np.log(16 / STRIDE)]  # 24 px tall, 16 px wide
    offset[0, :, 3, 5] = [0.25, -0.25]
    dets = decode(heatmap, scale, offset, threshold=0.5)
    centre_y, centre_x = (3 + 0.25 + 0.5) * STRIDE, (5 - 0.25 + 0.5) * STRIDE
    expected = [centre_x - 8, centre_y - 12, centre_x + 8, centre_y + 12, 0.9]
    np.testing.assert_allclose(dets, [expected], rtol=1e-5)
    assert dets.dtype == np.float32


@pytest.mark.parametrize(("threshold", "count"), [(0.95, 0), (0.5, 1), (0.05, 2)])
def test_decode_keeps_cells_strictly_above_threshold(threshold: float, count: int) -> None:
    heatmap, scale, offset = _heads(4, 4)
    heatmap[0, 0, 1, 1] = 0.9
    heatmap[0, 0, 2, 3] = 0.1
    dets = decode(heatmap, scale, offset, threshold=threshold)
    assert dets.shape == (count, 5)
    assert dets.dtype == np.float32


@pytest.mark.parametrize(("height", "width"), [(1, 1), (31, 33), (64, 64), (1, 20000)])
def test_to_blob_pads_to_a_multiple_of_32(height: int, width: int) -> None:
    rgb = np.full((height, width, 3), 7, np.uint8)
    blob = to_blob(rgb)
    assert blob.dtype == np.float32
    assert blob.shape[:2] == (1, 3)
    assert blob.shape[2] % ALIGN == 0
    assert blob.shape[3] % ALIGN == 0
    assert blob[0, :, :height, :width].min() == 7
    assert blob.sum() == 7 * 3 * height * width


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8), np.zeros((4,), np.uint8)]
)
def test_input_validation(bad: npt.NDArray[np.generic]) -> None:
    with pytest.raises(InvalidRequestError):
        as_rgb_uint8(bad)


def test_grey_input_is_widened() -> None:
    assert as_rgb_uint8(np.zeros((3, 5), np.uint8)).shape == (3, 5, 3)
