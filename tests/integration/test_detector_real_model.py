"""The real CenterFace model (int8 when built) under each detection strategy, on the shipped sample photo.

The face box below was drawn by hand on src/faceanon/samples/astronaut.jpg (forehead to chin, cheek to
cheek); the detector's box must overlap it with IoU >= 0.5, the rule the benchmark scores by, and every face
must get exactly one box (one-to-one matching, as the benchmark scores).
"""

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from faceanon.detector import CenterFaceDetector
from faceanon.nms import iou_matrix
from faceanon_tools.evaluation import Kind, match_detections

FACE = np.array([178.0, 60.0, 272.0, 180.0])  # hand-labelled x1, y1, x2, y2 in the 512 x 512 sample
CROP = (138, 20, 312, 220)  # the face with some hair and neck around it
# Face heights (px) in the collage: the default and fast strategies find all of these on this background;
# 14 px and below are not reliably found by this model, so they are not promised.
COLLAGE_HEIGHTS = (160, 110, 80, 56, 40, 30, 24, 20)
DETECTIONS = ["default", "fast", "thorough"]


def _best_iou(labels: npt.NDArray[np.float64], dets: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    if len(dets) == 0:
        return np.zeros(len(labels))
    return np.asarray(iou_matrix(labels, dets).max(axis=1))


@pytest.mark.parametrize("detection", DETECTIONS)
def test_finds_the_one_face_in_the_sample(
    real_detector: CenterFaceDetector, sample_rgb: npt.NDArray[np.uint8], detection: str
) -> None:
    dets = real_detector.detect(sample_rgb, detection=detection)
    assert dets.dtype == np.float32
    assert dets.shape == (1, 5)
    assert _best_iou(FACE[None], dets)[0] >= 0.5
    assert 0.5 < dets[0, 4] <= 1.0


def _collage(sample_rgb: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
    """The sample's face pasted at each COLLAGE_HEIGHTS size onto mid-grey noise, with the scaled labels."""
    face = Image.fromarray(sample_rgb).crop(CROP)
    rng = np.random.default_rng(0)
    canvas = Image.fromarray(rng.integers(90, 170, (600, 900, 3), dtype=np.uint8))
    labels = []
    x, y = 10, 10
    for height in COLLAGE_HEIGHTS:
        s = height / (FACE[3] - FACE[1])
        w, h = round(face.width * s), round(face.height * s)
        if x + w > canvas.width - 10:
            x, y = 10, y + 200
        canvas.paste(face.resize((w, h), Image.Resampling.LANCZOS), (x, y))
        labels.append([x + (FACE[0] - CROP[0]) * s, y + (FACE[1] - CROP[1]) * s])
        labels[-1] += [x + (FACE[2] - CROP[0]) * s, y + (FACE[3] - CROP[1]) * s]
        x += w + 10
    return np.asarray(canvas), np.asarray(labels)


@pytest.mark.parametrize("detection", DETECTIONS)
def test_finds_every_face_of_a_collage_down_to_20_px_with_one_box_each(
    real_detector: CenterFaceDetector, sample_rgb: npt.NDArray[np.uint8], detection: str
) -> None:
    canvas, labels = _collage(sample_rgb)
    dets = real_detector.detect(canvas, detection=detection)
    matching = match_detections(labels, np.zeros(len(labels), dtype=bool), dets)
    missed = [h for h, ok in zip(COLLAGE_HEIGHTS, matching.face_matched, strict=True) if not ok]
    assert not missed, f"faces of these heights were missed: {missed}"
    # One box per face, and nothing but faces (no second box on a face, no false mask on the noise).
    assert (matching.kinds == Kind.TRUE).all(), f"{len(dets)} boxes for {len(labels)} faces"


@pytest.mark.parametrize("detection", DETECTIONS)
@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 20000), (20000, 1), (0, 64), (33, 31)])
def test_extreme_shapes_give_a_well_formed_answer(
    real_detector: CenterFaceDetector, detection: str, height: int, width: int
) -> None:
    rgb = np.full((height, width, 3), 128, np.uint8)
    dets = real_detector.detect(rgb, detection=detection)
    assert dets.dtype == np.float32
    assert dets.shape == (0, 5)  # a flat grey image has no face


def test_a_higher_threshold_never_adds_faces(
    real_detector: CenterFaceDetector, sample_rgb: npt.NDArray[np.uint8]
) -> None:
    canvas, _ = _collage(sample_rgb)
    counts = [len(real_detector.detect(canvas, threshold=t)) for t in (0.1, 0.3, 0.6, 0.9)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]
