"""CenterFace face detector on ONNX Runtime.

Contract: ``detect(rgb) -> float32 [N, 5]`` rows of (x1, y1, x2, y2, score) in the pixels of the image
given, one row per face, best score first; an empty ``[0, 5]`` array when there is no face. Which passes run
is a detection strategy (faceanon.strategy): "default" (recall first) or "fast"; the boxes of all passes that
belong to one face become one row (faceanon.grouping).
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from .errors import InvalidRequestError, ModelError
from .grouping import group_faces
from .model import resolve_model_path
from .nms import FloatArray
from .strategy import Strategy, accept, get_strategy

STRIDE = 4  # CenterFace predicts one heatmap cell per 4x4 input pixels.
ALIGN = 32  # The backbone downsamples 32x: inputs are padded to a multiple of it.

DEFAULT_NMS_IOU = 0.3  # for single-pass NMS (models/build.py compares fp32 and int8 with it)

RGBImage = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class _Heads:
    """Output names of the session in the order heatmap, scale, offset (landmarks are not used)."""

    heatmap: str
    scale: str
    offset: str


def _find_heads(session: ort.InferenceSession) -> _Heads:
    outputs = session.get_outputs()
    by_name = {o.name: o for o in outputs}
    if {"heatmap", "scale", "offset"} <= by_name.keys():
        return _Heads("heatmap", "scale", "offset")
    # The upstream export names its outputs by node number; their order is heatmap, scale, offset, landmarks.
    if len(outputs) < 3:
        raise ModelError("detector model has fewer than three outputs")
    return _Heads(outputs[0].name, outputs[1].name, outputs[2].name)


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
    except (ort.capi.onnxruntime_pybind11_state.Fail, ort.capi.onnxruntime_pybind11_state.InvalidGraph) as exc:
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


def _resize(rgb: RGBImage, scale: float) -> RGBImage:
    if scale == 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    return np.asarray(Image.fromarray(rgb).resize(size, resample))


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
    # of an adjacent face, and NMS removes the duplicates (peaks alone lost 2-3 recall points at 10-40 px).
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


class CenterFaceDetector:
    """Holds one ONNX Runtime session; ``detect`` is safe to call many times (not from many threads)."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        intra_op_threads: int = 1,
        detection: "str | Strategy" = "default",
    ) -> None:
        self.detection = get_strategy(detection)
        self.model_path = resolve_model_path(model_path)
        self._attach(build_session(self.model_path, intra_op_threads=intra_op_threads))

    @classmethod
    def from_session(cls, session: ort.InferenceSession, *, detection: "str | Strategy" = "default") -> "Self":
        """A detector around an existing session (or any object with its run/get_inputs/get_outputs)."""
        detector = cls.__new__(cls)
        detector.detection = get_strategy(detection)
        detector.model_path = Path("<session>")
        detector._attach(session)
        return detector

    def _attach(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name: str = self.session.get_inputs()[0].name
        self._heads = _find_heads(self.session)

    def _run(self, blob: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], ...]:
        names = [self._heads.heatmap, self._heads.scale, self._heads.offset]
        try:
            heatmap, scale, offset = self.session.run(names, {self.input_name: blob})
        except ort.capi.onnxruntime_pybind11_state.RuntimeException as exc:
            raise ModelError("detector inference failed") from exc
        return heatmap, scale, offset

    def detect_at_scale(self, rgb: RGBImage, scale: float, *, threshold: float) -> FloatArray:
        """Raw candidates (before NMS) of one network pass over rgb resized by scale, in rgb's pixels."""
        return self._whole_pass(rgb, scale, threshold)[0]

    def _whole_pass(
        self, image: RGBImage, scale: float, threshold: float
    ) -> tuple[FloatArray, npt.NDArray[np.float32], npt.NDArray[np.float32], tuple[int, ...]]:
        """One untiled pass over image resized by scale: candidates in image pixels, plus the heatmap and scale
        heads and the network-input shape they belong to."""
        resized = _resize(image, scale)
        heatmap, box_scale, offset = self._run(to_blob(resized))
        dets = decode(heatmap, box_scale, offset, threshold=threshold)
        # Map back through the actual resize factors (rounding makes them differ slightly from scale).
        dets[:, [0, 2]] *= image.shape[1] / resized.shape[1]
        dets[:, [1, 3]] *= image.shape[0] / resized.shape[0]
        return dets, heatmap, box_scale, resized.shape[:2]

    def _tiled_candidates(self, resized: RGBImage, strategy: Strategy) -> FloatArray:
        """Candidates over a network-input image, in its pixels; tiles bound memory on large inputs."""
        height, width = resized.shape[:2]
        side = max(ALIGN, int(strategy.tile_pixels**0.5) // ALIGN * ALIGN)
        if height * width <= strategy.tile_pixels or (height <= side and width <= side):
            heatmap, box_scale, offset = self._run(to_blob(resized))
            return decode(heatmap, box_scale, offset, threshold=strategy.candidate_threshold)
        parts = []
        tops, tile_h = tile_starts(height, side, strategy.tile_overlap)
        lefts, tile_w = tile_starts(width, side, strategy.tile_overlap)
        for top in tops:
            for left in lefts:
                tile = resized[top : top + tile_h, left : left + tile_w]
                heatmap, box_scale, offset = self._run(to_blob(tile))
                found = decode(heatmap, box_scale, offset, threshold=strategy.candidate_threshold)
                found[:, [0, 2]] += left
                found[:, [1, 3]] += top
                parts.append(found)
        return np.concatenate(parts)

    def _coarse_pass(
        self, image: RGBImage, scale: float, gate_at: float | None, strategy: Strategy
    ) -> tuple[FloatArray, tuple[int, int, int, int] | None]:
        """The whole-image pass: candidates in image pixels, and, when gate_at (the first fine scale) is given,
        the gated region (y0, y1, x0, x1 at that scale) where the fine passes are needed; None otherwise."""
        dets, heatmap, box_scale, network_shape = self._whole_pass(image, scale, strategy.candidate_threshold)
        if gate_at is None or strategy.gate_score is None:
            return dets, None
        shape = image.shape[:2]
        return dets, fine_region(
            heatmap, box_scale, network_shape, shape, scale, gate_at, strategy, strategy.gate_score
        )

    def _fine_pass(
        self, image: RGBImage, scale: float, strategy: Strategy, region: tuple[int, int, int, int] | None
    ) -> FloatArray:
        """An upscaled pass over region (None: everywhere), tiled, as candidates in image pixels."""
        resized = _resize(image, scale)
        y0, y1, x0, x1 = region if region is not None else (0, resized.shape[0], 0, resized.shape[1])
        if y1 <= y0 or x1 <= x0:
            return np.empty((0, 5), dtype=np.float32)
        dets = self._tiled_candidates(resized[y0:y1, x0:x1], strategy)
        dets[:, [0, 2]] = (dets[:, [0, 2]] + x0) * (image.shape[1] / resized.shape[1])
        dets[:, [1, 3]] = (dets[:, [1, 3]] + y0) * (image.shape[0] / resized.shape[0])
        return dets

    def detect(
        self,
        rgb: npt.ArrayLike,
        *,
        threshold: float | None = None,
        detection: "str | Strategy | None" = None,
    ) -> FloatArray:
        """Faces in an H x W x 3 uint8 RGB image as float32 [N, 5] (x1, y1, x2, y2, score), best first.

        detection: "default" (recall first), "fast", or a Strategy; None means the detector's own.
        threshold: the acceptance threshold; None means the strategy's.
        """
        strategy = get_strategy(self.detection if detection is None else detection)
        if threshold is not None:
            strategy = strategy.with_threshold(threshold)
        image = as_rgb_uint8(rgb)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return np.empty((0, 5), dtype=np.float32)
        coarse, *fine = strategy.pass_scales(height, width)
        gated = strategy.gate_score is not None and bool(fine)
        dets, region = self._coarse_pass(image, coarse, fine[0] if gated else None, strategy)
        parts = [_with_pass_id(dets, 0)]
        # The gate only says where faces too small for the coarse pass may be: no such cell, no fine pass.
        gated_out = gated and region is None
        for index, scale in enumerate(() if gated_out else fine, start=1):
            parts.append(
                _with_pass_id(self._fine_pass(image, scale, strategy, _rescale(region, fine[0], scale)), index)
            )
        if coarse >= strategy.scales[0]:  # see _large_passes
            parts.append(_with_pass_id(self._large_passes(image, coarse, strategy), len(fine) + 1))
        faces = group_faces(np.concatenate(parts), strategy.grouping)
        return clip_boxes(accept(faces, strategy), width, height)

    def _large_passes(self, image: RGBImage, coarse: float, strategy: Strategy) -> FloatArray:
        """Candidates at least large_size px tall at the coarse scale from the downscaled (and mirrored)
        whole-image passes, in image pixels.

        Only run on photos the coarse pass sees unshrunk (up to coarse_max_pixels): on 12 WIDER photos
        upscaled to 4032 px wide they added 730 boxes away from any labelled face for 8 more faces found."""
        parts = [np.empty((0, 5), dtype=np.float32)]
        height, width = image.shape[:2]
        for factor in strategy.large_scales:
            small = _resize(image, coarse * factor)
            views = (small, np.ascontiguousarray(small[:, ::-1])) if strategy.large_flip else (small,)
            for mirrored, view in enumerate(views):
                dets, *_ = self._whole_pass(view, 1.0, strategy.candidate_threshold)
                dets[:, [0, 2]] *= width / view.shape[1]
                dets[:, [1, 3]] *= height / view.shape[0]
                if mirrored:
                    dets[:, [0, 2]] = width - dets[:, [2, 0]]
                parts.append(dets[dets[:, 3] - dets[:, 1] >= strategy.large_size / coarse])
        return np.concatenate(parts)


def _with_pass_id(dets: FloatArray, index: int) -> FloatArray:
    return np.concatenate([dets, np.full((len(dets), 1), index, dtype=np.float32)], axis=1)


def _rescale(
    region: tuple[int, int, int, int] | None, source: float, target: float
) -> tuple[int, int, int, int] | None:
    if region is None or source == target:
        return region
    ratio = target / source
    y0, y1, x0, x1 = region
    return int(y0 * ratio), int(np.ceil(y1 * ratio)), int(x0 * ratio), int(np.ceil(x1 * ratio))


def fine_region(
    heatmap: npt.NDArray[np.float32],
    box_scale: npt.NDArray[np.float32],
    coarse_shape: tuple[int, ...],
    image_shape: tuple[int, ...],
    coarse: float,
    fine: float,
    strategy: Strategy,
    gate_score: float,
) -> tuple[int, int, int, int] | None:
    """Where an upscaled pass can find what the coarse pass cannot: one crop (y0, y1, x0, x1, in pixels of
    the image resized by fine) around coarse heatmap cells that hint at a small face (score above
    gate_score, predicted height under gate_size px) or at an uncertain large one (a 3x3 peak scoring within
    gate_large); None when no cell does. One crop beats tiles: tile overlaps cost as much as they save."""
    rows_valid, cols_valid = -(-coarse_shape[0] // STRIDE), -(-coarse_shape[1] // STRIDE)
    cells = heatmap[0, 0, :rows_valid, :cols_valid]
    heights = np.exp(box_scale[0, 0, :rows_valid, :cols_valid]) * STRIDE / coarse  # in image pixels
    small = (cells > gate_score) & (heights < strategy.gate_size)
    padded = np.pad(cells, 1, constant_values=0.0)
    h, w = cells.shape
    neighbourhood = np.max(np.stack([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]), axis=0)
    low, high = strategy.gate_large
    unsure_large = (cells >= neighbourhood) & (cells > low) & (cells < high) & (heights >= strategy.gate_size)
    rows, cols = np.nonzero(small | unsure_large)
    if rows.size == 0:
        return None
    fine_h, fine_w = max(1, round(image_shape[0] * fine)), max(1, round(image_shape[1] * fine))
    centre_y = (rows + 0.5) * STRIDE * fine_h / coarse_shape[0]
    centre_x = (cols + 0.5) * STRIDE * fine_w / coarse_shape[1]
    margin = strategy.gate_margin
    return (
        max(0, int(centre_y.min()) - margin),
        min(fine_h, int(centre_y.max()) + margin),
        max(0, int(centre_x.min()) - margin),
        min(fine_w, int(centre_x.max()) + margin),
    )


def tile_starts(length: int, side: int, overlap: int) -> tuple[list[int], int]:
    """Evenly spread tiles over 0..length, at most side long, neighbours sharing at least overlap pixels.

    Returns (start offsets, tile length): as few tiles as the limit allows, each only as long as needed.
    """
    if length <= side:
        return [0], length
    count = -(-(length - overlap) // (side - overlap))
    tile = min(side, -(-(length + (count - 1) * overlap) // count))
    starts = [round(i * (length - tile) / (count - 1)) for i in range(count)]
    return starts, tile


def clip_boxes(dets: FloatArray, width: int, height: int) -> FloatArray:
    """Clip boxes to the image and drop any that end up empty."""
    if len(dets) == 0:
        return dets
    clipped = dets.copy()
    clipped[:, [0, 2]] = np.clip(dets[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(dets[:, [1, 3]], 0, height)
    keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    return clipped[keep]
