"""The real RetinaFace verifier (src/faceanon/model/, models/build_verifier.py) and the veto it drives.

On the shipped sample photo it finds the hand-labelled face, confirms it even when CenterFace is unsure of it,
and scores boxes over the photo's background (suit, flag, sky) far below Verify().score, so unsure false faces
there are dropped while a sure face or a face under Verify().size px is never asked about.
"""

import hashlib

import numpy as np
import numpy.typing as npt
import pytest

from faceanon.detector import CenterFaceDetector, verified
from faceanon.model import SHIPPED_VERIFIER
from faceanon.nms import iou_matrix
from faceanon.retinaface import RetinaFace
from faceanon.service import anonymise
from faceanon.settings import Settings
from faceanon.strategy import STRATEGIES, Verify

FACE = np.array([178.0, 60.0, 272.0, 180.0])  # hand-labelled on src/faceanon/samples/astronaut.jpg
BACKGROUND = np.array([[350, 300, 430, 380], [20, 300, 100, 380], [400, 20, 480, 100]], np.float32)
BUILT_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"  # models/build_verifier.py


@pytest.fixture(scope="module")
def verifier() -> RetinaFace:
    return RetinaFace.from_path(SHIPPED_VERIFIER)


def _boxes(rows: npt.ArrayLike, score: float) -> npt.NDArray[np.float32]:
    rows = np.asarray(rows, np.float32).reshape(-1, 4)
    return np.concatenate([rows, np.full((len(rows), 1), score, np.float32)], axis=1)


def test_the_shipped_verifier_is_the_built_one() -> None:
    assert hashlib.sha256(SHIPPED_VERIFIER.read_bytes()).hexdigest() == BUILT_SHA256


def test_finds_the_sample_face(verifier: RetinaFace, sample_rgb: npt.NDArray[np.uint8]) -> None:
    found = verifier.detect(sample_rgb, threshold=0.5)
    assert found.shape == (1, 5)
    assert iou_matrix(FACE[None], found)[0, 0] >= 0.5


def test_confirms_the_face_and_not_the_background(verifier: RetinaFace, sample_rgb: npt.NDArray[np.uint8]) -> None:
    verify = Verify()
    face, *background = verifier.verify(
        sample_rgb, _boxes(np.vstack([FACE, BACKGROUND]), 0.3), context=verify.context, face_px=verify.face_px
    )
    assert face >= 0.9
    assert max(background) < verify.score / 2


def test_the_veto_keeps_the_unsure_real_face_and_drops_unsure_background(
    verifier: RetinaFace, sample_rgb: npt.NDArray[np.uint8]
) -> None:
    unsure = _boxes(np.vstack([FACE, BACKGROUND]), 0.3)
    sure = _boxes(BACKGROUND[:1], 0.9)  # CenterFace is sure: not asked about
    tiny = _boxes([[10, 10, 22, 22]], 0.3)  # under Verify().size: not asked about
    kept = verified(verifier, sample_rgb, np.vstack([unsure, sure, tiny]), Verify())
    np.testing.assert_array_equal(kept, np.vstack([unsure[:1], sure, tiny]))


def test_the_product_detector_loads_the_verifier_and_default_and_thorough_use_it(
    real_detector: CenterFaceDetector,
) -> None:
    assert isinstance(real_detector.verifier, RetinaFace)
    assert STRATEGIES["default"].verify == STRATEGIES["thorough"].verify == Verify()
    assert STRATEGIES["fast"].verify is None  # fast keeps its speed; its false masks are in BENCHMARKS.md


@pytest.mark.parametrize(("detection", "verified_by"), [("default", BUILT_SHA256), ("fast", "")])
def test_results_name_the_verifier_when_the_strategy_used_it(
    real_detector: CenterFaceDetector, detection: str, verified_by: str
) -> None:
    photo = (SHIPPED_VERIFIER.parents[1] / "samples" / "astronaut.jpg").read_bytes()
    result = anonymise(photo, Settings(detection=detection), detector=real_detector)
    assert result.verifier_sha256 == verified_by
    assert result.to_report()["verifier_sha256"] == verified_by
