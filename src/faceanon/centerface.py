"""The CenterFace model on ONNX Runtime: the session, the input blob, the output heads and their decoding.

One network pass over an image already at the scale it should be seen at. ``CenterFace.detect(rgb)`` is the
single-pass contract, float32 [N, 5] rows of (x1, y1, x2, y2, score), one row per face, best first;
``CenterFace.run`` gives the raw candidates (every heatmap cell above threshold, before NMS) and
``CenterFace.infer`` the heads themselves. Which passes to run over a photo, at which scales, and how their
candidates become faces is the search's business (faceanon.detector).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, Self

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .errors import InvalidRequestError, ModelError
from .nms import FloatArray, nms

STRIDE = 4  # CenterFace predicts one heatmap cell per 4x4 input pixels.
ALIGN = 32  # The backbone downsamples 32x: inputs are padded to a multiple of it.

DEFAULT_NMS_IOU = 0.3  # for single-pass NMS (models/build.py compares fp32 and int8 with it)

RGBImage = npt.NDArray[np.uint8]

_ORT_ERRORS = ort.capi.onnxruntime_pybind11_state
# Raised by InferenceSession.run on a failed kernel (RuntimeException), a bad feed (InvalidArgument) or others.
INFERENCE_ERRORS = (_ORT_ERRORS.RuntimeException, _ORT_ERRORS.InvalidArgument, _ORT_ERRORS.Fail)


class _NodeArg(Protocol):
    @property
    def name(self) -> str: ...


class Session(Protocol):
    """What CenterFace needs of an ``ort.InferenceSession`` (tests pass fakes)."""

    def get_inputs(self) -> Sequence[_NodeArg]: ...

    def get_outputs(self) -> Sequence[_NodeArg]: ...

    def run(
        self, output_names: list[str], input_feed: dict[str, npt.NDArray[np.float32]], /
    ) -> Sequence[npt.NDArray[np.float32]]: ...


class OutputNames(NamedTuple):
    """The session's output names for the heads used (landmarks are not)."""

    heatmap: str
    scale: str
    offset: str


class Heads(NamedTuple):
    """CenterFace's outputs for one blob: heatmap [1,1,h,w], scale [1,2,h,w] (log h, w), offset [1,2,h,w]."""

    heatmap: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    offset: npt.NDArray[np.float32]


def output_names(session: Session) -> OutputNames:
    """The heads by name ("heatmap", "scale", "offset"), else in the upstream export's order."""
    names = [output.name for output in session.get_outputs()]
    if {"heatmap", "scale", "offset"} <= set(names):
        return OutputNames("heatmap", "scale", "offset")
    # The upstream export names its outputs by node number; their order is heatmap, scale, offset, landmarks.
    if len(names) < 3:
        raise ModelError("detector model has fewer than three outputs")
    return OutputNames(names[0], names[1], names[2])


def input_name(session: Session, model: str) -> str:
    """The session's (first) input name; ``model`` names the model in the error."""
    inputs = session.get_inputs()
    if not inputs:
        raise ModelError(f"{model} model has no input")
    return inputs[0].name


def build_session(model_path: Path, *, intra_op_threads: int = 1) -> ort.InferenceSession:
    """One ONNX Runtime session; build it once per process (module level in Lambda)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the vCPU we share with decode/encode between runs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
    except (_ORT_ERRORS.Fail, _ORT_ERRORS.InvalidGraph) as exc:
        raise ModelError(f"cannot load detector model {model_path.name}") from exc


def as_rgb_uint8(image: npt.ArrayLike) -> RGBImage:
    """Validate the detector's input: an H x W x 3 uint8 array (grey H x W is widened)."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InvalidRequestError(f"detector input must be uint8, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise InvalidRequestError(f"detector input must be H x W x 3, got shape {array.shape}")
    return array


def to_blob(rgb: RGBImage) -> npt.NDArray[np.float32]:
    """NCHW float32 in 0..255 (the model normalises internally), zero-padded bottom/right to a multiple of 32."""
    height, width = rgb.shape[:2]
    padded_h = -(-height // ALIGN) * ALIGN
    padded_w = -(-width // ALIGN) * ALIGN
    blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
    blob[0, :, :height, :width] = rgb.transpose(2, 0, 1)
    return blob


def decode(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    *,
    threshold: float,
) -> FloatArray:
    """Turn CenterFace's heads ([1,1,h,w], [1,2,h,w], [1,2,h,w]) into boxes [N, 5] in network-input pixels."""
    # Every cell above threshold, not only local peaks: in crowds a neighbouring cell often carries the box
    # of an adjacent face, and grouping (or NMS, for one pass) merges the rest (peaks alone lost 2-3 recall
    # points at 10-40 px).
    rows, cols = np.nonzero(heatmap[0, 0] > threshold)
    if rows.size == 0:
        return np.empty((0, 5), dtype=np.float32)
    box_h = np.exp(scale[0, 0, rows, cols]) * STRIDE
    box_w = np.exp(scale[0, 1, rows, cols]) * STRIDE
    centre_y = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
    centre_x = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
    return np.stack(
        [
            centre_x - box_w / 2,
            centre_y - box_h / 2,
            centre_x + box_w / 2,
            centre_y + box_h / 2,
            heatmap[0, 0, rows, cols],
        ],
        axis=1,
    ).astype(np.float32)


def clip_boxes(dets: FloatArray, width: int, height: int) -> FloatArray:
    """Clip boxes to the image and drop any that end up empty."""
    if len(dets) == 0:
        return dets
    clipped = dets.copy()
    clipped[:, [0, 2]] = np.clip(dets[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(dets[:, [1, 3]], 0, height)
    keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    return clipped[keep]


class CenterFace:
    """One session and its input/output names; safe to call many times (not from many threads)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.input_name = input_name(session, "detector")
        self.output_names = output_names(session)

    @classmethod
    def from_path(cls, model_path: Path, *, intra_op_threads: int = 1) -> Self:
        return cls(build_session(model_path, intra_op_threads=intra_op_threads))

    def infer(self, rgb: RGBImage) -> Heads:
        """The heads for rgb (H x W x 3 uint8 at network scale; padded to a multiple of 32 here)."""
        try:
            heatmap, scale, offset = self.session.run(list(self.output_names), {self.input_name: to_blob(rgb)})
        except INFERENCE_ERRORS as exc:
            raise ModelError("detector inference failed") from exc
        return Heads(heatmap, scale, offset)

    def run(self, rgb: RGBImage, *, threshold: float) -> FloatArray:
        """Candidates [N, 5] in rgb's pixels: every heatmap cell scoring above threshold, before NMS."""
        return decode(*self.infer(rgb), threshold=threshold)

    def detect(self, rgb: npt.ArrayLike, *, threshold: float, nms_iou: float = DEFAULT_NMS_IOU) -> FloatArray:
        """Faces of one pass over rgb as it is: float32 [N, 5] (x1, y1, x2, y2, score), best first."""
        if not 0.0 < threshold < 1.0:
            raise InvalidRequestError("threshold must be between 0 and 1")
        image = as_rgb_uint8(rgb)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return np.empty((0, 5), dtype=np.float32)
        return clip_boxes(nms(self.run(image, threshold=threshold), nms_iou), width, height)
