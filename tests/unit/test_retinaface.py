"""The verifier wrapper alone, on a fake session: anchors, decoding, crops, the overlap rule, and the veto."""

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import pytest

from faceanon.detector import verified
from faceanon.errors import InvalidRequestError, ModelError
from faceanon.retinaface import MEAN_BGR, RetinaFace, anchors, decode_boxes
from faceanon.strategy import Verify, needs_verifying

FloatArray = npt.NDArray[np.float32]


@dataclass
class FakeSession:
    """Scores 0.001 everywhere except ``hot`` anchors (index -> score); records each batch it is given."""

    hot: dict[int, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = ("loc", "conf", "landmarks")
    batches: list[FloatArray] = field(default_factory=list)

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="input")]

    def get_outputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=name) for name in self.outputs]

    def run(self, names: list[str], feed: dict[str, FloatArray]) -> list[FloatArray]:
        assert names == ["loc", "conf"]
        blob = feed["input"]
        self.batches.append(blob)
        count = len(anchors(blob.shape[2], blob.shape[3]))
        conf = np.zeros((blob.shape[0], count, 2), np.float32)
        conf[..., 1] = 0.001
        for index, score in self.hot.items():
            conf[:, index, 1] = score
        conf[..., 0] = 1 - conf[..., 1]
        return [np.zeros((blob.shape[0], count, 4), np.float32), conf]


def _anchor_index(centre_x: float, centre_y: float, size: int, side: int = 128) -> int:
    priors = anchors(side, side)
    (index,) = np.flatnonzero((priors[:, 0] == centre_x) & (priors[:, 1] == centre_y) & (priors[:, 2] == size))
    return int(index)


def test_anchors_are_cell_major_with_sizes_inner_per_level() -> None:
    priors = anchors(128, 128)
    assert len(priors) == 16 * 16 * 2 + 8 * 8 * 2 + 4 * 4 * 2
    np.testing.assert_array_equal(priors[:3], [[4, 4, 16, 16], [4, 4, 32, 32], [12, 4, 16, 16]])
    np.testing.assert_array_equal(priors[512], [8, 8, 64, 64])  # first cell of the stride-16 level
    np.testing.assert_array_equal(priors[-1], [112, 112, 512, 512])


def test_zero_offsets_decode_to_the_anchor_box_and_offsets_scale_by_the_variances() -> None:
    priors = np.array([[50.0, 40.0, 20.0, 10.0]], np.float32)
    np.testing.assert_allclose(decode_boxes(np.zeros((1, 4), np.float32), priors), [[40, 35, 60, 45]])
    moved = decode_boxes(np.array([[1.0, 0.0, 0.0, np.log(2) / 0.2]], np.float32), priors)
    np.testing.assert_allclose(moved, [[42, 30, 62, 50]], rtol=1e-6)  # x + 0.1 * 20, height x 2


def test_output_names_are_read_from_the_session() -> None:
    assert RetinaFace(FakeSession()).output_names == ["loc", "conf"]
    assert RetinaFace(FakeSession(outputs=("a", "b", "c"))).output_names == ["a", "b"]
    with pytest.raises(ModelError):
        RetinaFace(FakeSession(outputs=("only",)))


def test_verify_batches_one_crop_per_box_scaled_so_the_face_is_face_px_tall() -> None:
    session = FakeSession()
    rgb = np.full((300, 400, 3), 200, np.uint8)
    boxes = np.array([[100, 100, 140, 140, 0.4], [0, 0, 20, 30, 0.3]], np.float32)
    RetinaFace(session).verify(rgb, boxes, context=2.0, face_px=64)
    (blob,) = session.batches
    assert blob.shape == (2, 3, 128, 128)
    # Box 2 sits in the corner: most of its crop lies outside the photo, filled with the mean (0 after subtraction).
    assert np.all(blob[1, :, :10, :10] == 0)
    np.testing.assert_allclose(blob[0, :, 64, 64], 200 - MEAN_BGR)


def test_verify_takes_the_best_overlapping_score_only() -> None:
    rgb = np.zeros((200, 200, 3), np.uint8)
    boxes = np.array([[50, 50, 90, 90, 0.4]], np.float32)  # in the 128 px crop: (32, 32, 96, 96)
    inside = _anchor_index(60, 60, 16)  # centre inside the face box
    outside = _anchor_index(4, 4, 16)  # far corner, no overlap
    scores = RetinaFace(FakeSession(hot={inside: 0.6, outside: 0.99})).verify(rgb, boxes, context=2.0, face_px=64)
    np.testing.assert_allclose(scores, [0.6])
    scores = RetinaFace(FakeSession(hot={outside: 0.99})).verify(rgb, boxes, context=2.0, face_px=64)
    np.testing.assert_allclose(scores, [0.001])
    assert RetinaFace(FakeSession()).verify(rgb, boxes[:0], context=2.0, face_px=64).shape == (0,)


def test_detect_returns_rows_of_five_above_threshold() -> None:
    hot = _anchor_index(60, 60, 32, side=128)
    found = RetinaFace(FakeSession(hot={hot: 0.8})).detect(np.zeros((100, 120, 3), np.uint8), threshold=0.5)
    np.testing.assert_allclose(found, [[44, 44, 76, 76, 0.8]], rtol=1e-6)
    with pytest.raises(InvalidRequestError):
        RetinaFace(FakeSession()).detect(np.zeros((10, 10, 3), np.uint8), threshold=0)


def test_only_tall_unsure_faces_need_verifying() -> None:
    faces = np.array([[0, 0, 30, 30, 0.3], [0, 0, 30, 30, 0.9], [0, 0, 10, 10, 0.3]], np.float32)
    np.testing.assert_array_equal(needs_verifying(faces, Verify(size=20, sure=0.7)), [True, False, False])
    with pytest.raises(InvalidRequestError):
        Verify(score=0)
    with pytest.raises(InvalidRequestError):
        Verify(context=0.5)


class ScoringVerifier:
    """A stand-in for RetinaFace.verify: fixed scores for the boxes it is asked about."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = np.asarray(scores, np.float32)
        self.asked: list[FloatArray] = []

    def verify(self, rgb: npt.NDArray[np.uint8], boxes: FloatArray, *, context: float, face_px: int) -> FloatArray:
        self.asked.append(boxes)
        return self.scores[: len(boxes)]


def test_the_veto_drops_unconfirmed_unsure_faces_and_keeps_order() -> None:
    faces = np.array(
        [[0, 0, 50, 50, 0.95], [60, 0, 90, 30, 0.5], [0, 60, 30, 90, 0.4], [90, 90, 95, 95, 0.3]], np.float32
    )
    verifier = ScoringVerifier([0.5, 0.01])
    kept = verified(verifier, np.zeros((100, 100, 3), np.uint8), faces, Verify())
    np.testing.assert_array_equal(kept, faces[[0, 1, 3]])
    (asked,) = verifier.asked
    np.testing.assert_array_equal(asked, faces[[1, 2]])  # the sure face and the 5 px face are not asked about
