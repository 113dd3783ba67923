"""The multi-scale face search: which CenterFace passes run over a photo, and how their boxes become faces.

Contract: ``CenterFaceDetector.detect(rgb) -> float32 [N, 5]`` rows of (x1, y1, x2, y2, score) in the pixels of
the image given, one row per face, best score first; an empty ``[0, 5]`` array when there is no face.

The passes are a detection strategy's (faceanon.strategy): a coarse whole-image pass; finer, upscaled passes,
tiled, only over the crop the coarse heatmap gates (``Gate``); downscaled and mirrored large-face passes
(``LargeFaces``). The candidates of all passes that belong to one face become one row (faceanon.grouping). Each
pass is one run of the model wrapper (faceanon.centerface) over an image already at network scale.
"""

import os
from pathlib import Path
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt
from PIL import Image

from .centerface import (
    ALIGN,
    STRIDE,
    CenterFace,
    Heads,
    RGBImage,
    Session,
    as_rgb_uint8,
    clip_boxes,
    decode,
)
from .grouping import group_faces
from .model import SHIPPED_VERIFIER, resolve_model_path
from .nms import FloatArray
from .retinaface import RetinaFace
from .strategy import Gate, Strategy, Verify, accept, get_strategy, needs_verifying

Region = tuple[int, int, int, int]  # y0, y1, x0, x1 in the pixels of the photo resized by a fine scale


class Verifier(Protocol):
    """What the veto needs of faceanon.retinaface.RetinaFace (tests pass stand-ins)."""

    def verify(self, rgb: RGBImage, boxes: FloatArray, *, context: float, face_px: int) -> npt.NDArray[np.float32]: ...


class CenterFaceDetector:
    """Holds one CenterFace model; ``detect`` is safe to call many times (not from many threads)."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        intra_op_threads: int = 1,
        detection: "str | Strategy" = "default",
    ) -> None:
        self.detection = get_strategy(detection)
        self.model_path = resolve_model_path(model_path)
        self.model = CenterFace.from_path(self.model_path, intra_op_threads=intra_op_threads)
        self.verifier_path: Path | None = SHIPPED_VERIFIER
        self.verifier: Verifier | None = RetinaFace.from_path(SHIPPED_VERIFIER, intra_op_threads=intra_op_threads)

    @classmethod
    def from_session(
        cls,
        session: Session,
        *,
        detection: "str | Strategy" = "default",
        verifier: Session | None = None,
    ) -> Self:
        """A detector around an existing session (or any object with its run/get_inputs/get_outputs), and
        optionally a verifier session; without one, no face is verified (every strategy keeps its faces)."""
        detector = cls.__new__(cls)
        detector.detection = get_strategy(detection)
        detector.model_path = Path("<session>")
        detector.model = CenterFace(session)
        detector.verifier = RetinaFace(verifier) if verifier is not None else None
        detector.verifier_path = None
        return detector

    def detect(
        self,
        rgb: npt.ArrayLike,
        *,
        threshold: float | None = None,
        detection: "str | Strategy | None" = None,
    ) -> FloatArray:
        """Faces in an H x W x 3 uint8 RGB image as float32 [N, 5] (x1, y1, x2, y2, score), best first.

        detection: "default" (recall first), "fast", "thorough" or a Strategy; None means the detector's own.
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
        gate = strategy.gate if fine else None
        dets, region = self._coarse_pass(image, coarse, fine[0] if gate is not None else None, strategy)
        parts = [_with_pass_id(dets, 0)]
        # The gate only says where faces too small for the coarse pass may be: no such cell, no fine pass.
        gated_out = gate is not None and region is None
        for index, scale in enumerate(() if gated_out else fine, start=1):
            parts.append(
                _with_pass_id(self._fine_pass(image, scale, strategy, _rescale(region, fine[0], scale)), index)
            )
        if strategy.large is not None and coarse >= strategy.scales[0]:  # see _large_passes
            parts.append(_with_pass_id(self._large_passes(image, coarse, strategy), len(fine) + 1))
        faces = clip_boxes(accept(group_faces(np.concatenate(parts), strategy.grouping), strategy), width, height)
        if strategy.verify is not None and self.verifier is not None:
            faces = verified(self.verifier, image, faces, strategy.verify)
        return faces

    def detect_at_scale(self, rgb: RGBImage, scale: float, *, threshold: float) -> FloatArray:
        """Raw candidates (before NMS) of one network pass over rgb resized by scale, in rgb's pixels."""
        return self._whole_pass(rgb, scale, threshold)[0]

    def _whole_pass(self, image: RGBImage, scale: float, threshold: float) -> tuple[FloatArray, Heads, tuple[int, ...]]:
        """One untiled pass over image resized by scale: candidates in image pixels, plus the heads and the
        network-input shape they belong to."""
        resized = _resize(image, scale)
        heads = self.model.infer(resized)
        dets = decode(*heads, threshold=threshold)
        # Map back through the actual resize factors (rounding makes them differ slightly from scale).
        dets[:, [0, 2]] *= image.shape[1] / resized.shape[1]
        dets[:, [1, 3]] *= image.shape[0] / resized.shape[0]
        return dets, heads, resized.shape[:2]

    def _coarse_pass(
        self, image: RGBImage, scale: float, gate_at: float | None, strategy: Strategy
    ) -> tuple[FloatArray, Region | None]:
        """The whole-image pass: candidates in image pixels, and, when gate_at (the first fine scale) is given,
        the gated region (at that scale) where the fine passes are needed; None otherwise."""
        dets, heads, network_shape = self._whole_pass(image, scale, strategy.candidate_threshold)
        if gate_at is None or strategy.gate is None:
            return dets, None
        return dets, fine_region(heads, network_shape, image.shape[:2], scale, gate_at, strategy.gate)

    def _fine_pass(self, image: RGBImage, scale: float, strategy: Strategy, region: Region | None) -> FloatArray:
        """An upscaled pass over region (None: everywhere), tiled, as candidates in image pixels."""
        resized = _resize(image, scale)
        y0, y1, x0, x1 = region if region is not None else (0, resized.shape[0], 0, resized.shape[1])
        if y1 <= y0 or x1 <= x0:
            return np.empty((0, 5), dtype=np.float32)
        dets = self._tiled_candidates(resized[y0:y1, x0:x1], strategy)
        dets[:, [0, 2]] = (dets[:, [0, 2]] + x0) * (image.shape[1] / resized.shape[1])
        dets[:, [1, 3]] = (dets[:, [1, 3]] + y0) * (image.shape[0] / resized.shape[0])
        return dets

    def _tiled_candidates(self, resized: RGBImage, strategy: Strategy) -> FloatArray:
        """Candidates over a network-input image, in its pixels; tiles bound memory on large inputs."""
        budget, threshold = strategy.budget, strategy.candidate_threshold
        height, width = resized.shape[:2]
        side = max(ALIGN, int(budget.tile_pixels**0.5) // ALIGN * ALIGN)
        if height * width <= budget.tile_pixels or (height <= side and width <= side):
            return self.model.run(resized, threshold=threshold)
        parts = []
        tops, tile_h = tile_starts(height, side, budget.tile_overlap)
        lefts, tile_w = tile_starts(width, side, budget.tile_overlap)
        for top in tops:
            for left in lefts:
                found = self.model.run(resized[top : top + tile_h, left : left + tile_w], threshold=threshold)
                found[:, [0, 2]] += left
                found[:, [1, 3]] += top
                parts.append(found)
        return np.concatenate(parts)

    def _large_passes(self, image: RGBImage, coarse: float, strategy: Strategy) -> FloatArray:
        """Candidates at least large.size px tall at the coarse scale from the downscaled (and mirrored)
        whole-image passes, in image pixels.

        Only run on photos the coarse pass sees unshrunk (up to Budget.coarse_pixels): on 12 WIDER photos
        upscaled to 4032 px wide they added 730 boxes away from any labelled face for 8 more faces found."""
        parts = [np.empty((0, 5), dtype=np.float32)]
        large = strategy.large
        if large is None:
            return parts[0]
        height, width = image.shape[:2]
        for factor in large.scales:
            small = _resize(image, coarse * factor)
            views = (small, np.ascontiguousarray(small[:, ::-1])) if large.flip else (small,)
            for mirrored, view in enumerate(views):
                dets = self.model.run(view, threshold=strategy.candidate_threshold)
                dets[:, [0, 2]] *= width / view.shape[1]
                dets[:, [1, 3]] *= height / view.shape[0]
                if mirrored:
                    dets[:, [0, 2]] = width - dets[:, [2, 0]]
                parts.append(dets[dets[:, 3] - dets[:, 1] >= large.size / coarse])
        return np.concatenate(parts)


def verified(verifier: Verifier, image: RGBImage, faces: FloatArray, verify: Verify) -> FloatArray:
    """The faces [K, 5] the verifier confirms, or that need no confirming (faceanon.strategy.Verify); order kept."""
    unsure = needs_verifying(faces, verify)
    if not unsure.any():
        return faces
    scores = verifier.verify(image, faces[unsure], context=verify.context, face_px=verify.face_px)
    keep = ~unsure
    keep[np.flatnonzero(unsure)[scores >= verify.score]] = True
    return faces[keep]


def _resize(rgb: RGBImage, scale: float) -> RGBImage:
    if scale == 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    return np.asarray(Image.fromarray(rgb).resize(size, resample))


def _with_pass_id(dets: FloatArray, index: int) -> FloatArray:
    return np.concatenate([dets, np.full((len(dets), 1), index, dtype=np.float32)], axis=1)


def _rescale(region: Region | None, source: float, target: float) -> Region | None:
    if region is None or source == target:
        return region
    ratio = target / source
    y0, y1, x0, x1 = region
    return int(y0 * ratio), int(np.ceil(y1 * ratio)), int(x0 * ratio), int(np.ceil(x1 * ratio))


def fine_region(
    heads: Heads,
    coarse_shape: tuple[int, ...],
    image_shape: tuple[int, ...],
    coarse: float,
    fine: float,
    gate: Gate,
) -> Region | None:
    """Where an upscaled pass can find what the coarse pass cannot: one crop (y0, y1, x0, x1, in pixels of
    the image resized by fine) around coarse heatmap cells that hint at a small face (score above gate.score,
    predicted height under gate.size px) or at an uncertain large one (a 3x3 peak scoring within gate.large);
    None when no cell does. One crop beats tiles: tile overlaps cost as much as they save."""
    rows_valid, cols_valid = -(-coarse_shape[0] // STRIDE), -(-coarse_shape[1] // STRIDE)
    cells = heads.heatmap[0, 0, :rows_valid, :cols_valid]
    heights = np.exp(heads.scale[0, 0, :rows_valid, :cols_valid]) * STRIDE / coarse  # in image pixels
    small = (cells > gate.score) & (heights < gate.size)
    padded = np.pad(cells, 1, constant_values=0.0)
    h, w = cells.shape
    neighbourhood = np.max(np.stack([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]), axis=0)
    low, high = gate.large
    unsure_large = (cells >= neighbourhood) & (cells > low) & (cells < high) & (heights >= gate.size)
    rows, cols = np.nonzero(small | unsure_large)
    if rows.size == 0:
        return None
    fine_h, fine_w = max(1, round(image_shape[0] * fine)), max(1, round(image_shape[1] * fine))
    centre_y = (rows + 0.5) * STRIDE * fine_h / coarse_shape[0]
    centre_x = (cols + 0.5) * STRIDE * fine_w / coarse_shape[1]
    return (
        max(0, int(centre_y.min()) - gate.margin),
        min(fine_h, int(centre_y.max()) + gate.margin),
        max(0, int(centre_x.min()) - gate.margin),
        min(fine_w, int(centre_x.max()) + gate.margin),
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
