"""The search on synthetic tensors and a fake session: NMS, grouping, strategies, passes, gate, tiles, shapes."""

import itertools
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import pytest

from faceanon.centerface import ALIGN, STRIDE
from faceanon.detector import CenterFaceDetector, tile_starts
from faceanon.errors import InvalidRequestError
from faceanon.grouping import Grouping, group_faces
from faceanon.nms import iou_matrix, nms
from faceanon.strategy import STRATEGIES, Budget, Gate, LargeFaces, Strategy, accept, get_strategy

FloatArray = npt.NDArray[np.float32]


def _heads(h: int, w: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    return np.zeros((1, 1, h, w), np.float32), np.zeros((1, 2, h, w), np.float32), np.zeros((1, 2, h, w), np.float32)


def test_nms_keeps_best_of_overlapping_and_all_of_disjoint() -> None:
    dets = np.array(
        [[0, 0, 10, 10, 0.6], [1, 1, 11, 11, 0.9], [50, 50, 60, 60, 0.7], [0, 0, 10, 10, 0.1]], dtype=np.float32
    )
    kept = nms(dets, 0.3)
    np.testing.assert_array_equal(kept[:, 4], np.float32([0.9, 0.7]))


@pytest.mark.parametrize("rows", [0, 1])
def test_nms_and_grouping_handle_tiny_inputs(rows: int) -> None:
    dets = np.tile(np.float32([[5, 5, 15, 25, 0.8, 0]]), (rows, 1))
    assert nms(dets[:, :5], 0.3).shape == (rows, 5)
    assert group_faces(dets, Grouping()).shape == (rows, 6)


def test_grouping_places_one_box_by_score_power_and_counts_distinct_passes() -> None:
    candidates = np.float32(
        [
            [0, 0, 10, 10, 0.6, 0],
            [2, 0, 12, 10, 0.3, 1],  # centre 2 px off on a 10 px face: the same face
            [100, 100, 110, 110, 0.3, 1],
        ]
    )
    faces = group_faces(candidates, Grouping(power=1.0))
    assert faces.shape == (2, 6)
    # Face 1: weights .6, .3 -> x1 = (0 * .6 + 2 * .3) / .9; best score .6; passes {0, 1}.
    np.testing.assert_allclose(faces[0], [0.6 / 0.9, 0, 10 + 0.6 / 0.9, 10, 0.6, 2], rtol=1e-5)
    np.testing.assert_allclose(faces[1], [100, 100, 110, 110, 0.3, 1], rtol=1e-5)
    # A higher power leans towards the best member.
    assert group_faces(candidates, Grouping(power=4.0))[0, 0] < faces[0, 0]


def test_jittered_boxes_of_one_small_face_become_one_face() -> None:
    """Six boxes on a 12 px face, 2-3 px apart in place and size (pairwise IoU under 0.6): one face."""
    rng = np.random.default_rng(3)
    centre = np.array([50.0, 40.0]) + rng.uniform(-2.5, 2.5, (6, 2))
    size = 12.0 * rng.uniform(0.8, 1.25, (6, 1))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    assert (iou_matrix(boxes, boxes)[np.triu_indices(6, 1)] < 0.6).any()
    candidates = np.concatenate([boxes, rng.uniform(0.2, 0.9, (6, 1)), np.arange(6)[:, None] % 2], axis=1)
    assert len(group_faces(candidates.astype(np.float32), Grouping())) == 1


def test_neighbouring_faces_in_a_crowd_stay_apart() -> None:
    """A row of touching 12 px faces (centres one face width apart) keeps every face."""
    lefts = np.arange(0, 120, 12, dtype=np.float32)
    candidates = np.stack([lefts, np.zeros(10), lefts + 12, np.full(10, 12), np.full(10, 0.5), np.zeros(10)], axis=1)
    assert len(group_faces(candidates.astype(np.float32), Grouping())) == 10


def test_a_box_of_another_size_is_another_face_unless_it_overlaps_a_better_one() -> None:
    candidates = np.float32([[0, 0, 20, 20, 0.9, 0], [0, 0, 40, 40, 0.5, 0], [100, 0, 140, 40, 0.5, 0]])
    assert len(group_faces(candidates, Grouping(suppress_iou=1.0))) == 3  # sizes 2x apart: not grouped
    assert len(group_faces(candidates, Grouping(suppress_iou=0.2))) == 2  # IoU 0.25 with the better face: dropped


def test_grouping_survives_degenerate_boxes() -> None:
    candidates = np.float32([[5, 5, 5, 5, 0.9, 0], [5, 5, 5, 5, 0.8, 0]])
    assert len(group_faces(candidates, Grouping())) >= 1


@pytest.mark.parametrize("kwargs", [{"reach": 0.0}, {"size_ratio": 1.0}, {"power": -1.0}, {"suppress_iou": 0.0}])
def test_grouping_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidRequestError, match="grouping"):
        Grouping(**kwargs)


@pytest.mark.parametrize(("score", "kept"), [(0.5, True), (0.2, True), (0.19, False)])
def test_accept_keeps_faces_scoring_the_threshold(score: float, kept: bool) -> None:
    strategy = Strategy("t", (1.0, 2.0), threshold=0.2, candidate_threshold=0.1)
    faces = np.float32([[0, 0, 10, 10, score, 2]])
    assert len(accept(faces, strategy)) == int(kept)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scales": ()},
        {"scales": (0.0,)},
        {"threshold": 0.05},  # below the candidate threshold
    ],
)
def test_strategy_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "name": "t",
        "scales": (1.0,),
        "threshold": 0.2,
        "candidate_threshold": 0.1,
    }
    with pytest.raises(InvalidRequestError):
        Strategy(**(base | kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("group", "kwargs"),
    [
        (Gate, {"score": 0.0}),
        (Gate, {"size": 0.0}),
        (Gate, {"margin": -1}),
        (Gate, {"large": (0.3, 0.05)}),
        (LargeFaces, {"scales": ()}),
        (LargeFaces, {"scales": (1.5,)}),
        (LargeFaces, {"size": -1.0}),
        (Budget, {"coarse_pixels": 0}),
        (Budget, {"tile_overlap": -1}),
        (Budget, {"tile_pixels": 1000}),
    ],
)
def test_strategy_option_groups_reject_bad_parameters(group: type, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequestError, match="strategy"):
        group(**kwargs)


def test_named_strategies_keep_their_option_groups() -> None:
    default, fast, thorough = (STRATEGIES[name] for name in ("default", "fast", "thorough"))
    assert default.gate == Gate(score=0.1, size=40.0, large=(0.05, 0.3), margin=128)
    assert default.large == LargeFaces(scales=(0.5,), flip=True, size=40.0)
    assert default.budget == fast.budget == Budget(4_000_000, 24_000_000, 4_194_304, 128)
    assert (fast.gate, fast.large) == (None, None)
    assert thorough == replace(default, name="thorough", scales=(1.0, 2.0))


def test_named_strategies_and_unknown_name() -> None:
    assert get_strategy("default") is STRATEGIES["default"]
    assert get_strategy(STRATEGIES["fast"]) is STRATEGIES["fast"]
    with pytest.raises(InvalidRequestError, match="detection"):
        get_strategy("slowest")


@pytest.mark.parametrize("threshold", [0.05, 0.5])
def test_with_threshold_keeps_candidates_at_or_below_it(threshold: float) -> None:
    strategy = STRATEGIES["default"].with_threshold(threshold)
    assert strategy.threshold == threshold
    assert 0 < strategy.candidate_threshold <= threshold


@pytest.mark.parametrize("size", [(480, 640), (3024, 4032), (8000, 8000)])
def test_pass_scales_stay_under_the_pixel_caps(size: tuple[int, int]) -> None:
    strategy = STRATEGIES["default"]
    pixels = size[0] * size[1]
    coarse, *fine = strategy.pass_scales(*size)
    assert coarse <= strategy.scales[0]
    assert coarse**2 * pixels <= strategy.budget.coarse_pixels * 1.0001
    assert all(s**2 * pixels <= strategy.budget.fine_pixels * 1.0001 for s in fine)
    small = pixels * max(strategy.scales) ** 2 <= strategy.budget.fine_pixels
    assert (coarse, *fine) == (strategy.scales if small else (coarse, *fine))
    assert fine  # a capped photo still gets a finer pass than its coarse one
    assert max(fine) > coarse


@pytest.mark.parametrize(
    ("length", "side", "overlap"), [(100, 2048, 128), (2048, 2048, 128), (2049, 2048, 128), (6100, 2048, 128)]
)
def test_tiles_cover_the_length_with_overlap(length: int, side: int, overlap: int) -> None:
    starts, tile = tile_starts(length, side, overlap)
    assert tile <= side
    assert starts[0] == 0
    assert starts[-1] + tile == length
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


def _group_reference(candidates: FloatArray, grouping: Grouping) -> FloatArray:
    """The plain O(N^2) greedy grouping the windowed one must reproduce."""
    dets = candidates[np.argsort(-candidates[:, 4], kind="stable")].astype(np.float64)
    width, height = dets[:, 2] - dets[:, 0], dets[:, 3] - dets[:, 1]
    cx, cy = (dets[:, 0] + dets[:, 2]) / 2, (dets[:, 1] + dets[:, 3]) / 2
    alive = np.ones(len(dets), dtype=bool)
    out = []
    for best in range(len(dets)):
        if not alive[best]:
            continue
        small_w, small_h = np.minimum(width, width[best]), np.minimum(height, height[best])
        same = (
            (np.abs(cx - cx[best]) < grouping.reach * small_w)
            & (np.abs(cy - cy[best]) < grouping.reach * small_h)
            & (np.maximum(height, height[best]) < grouping.size_ratio * small_h)
        )
        members = np.union1d(np.nonzero(alive & same)[0], [best])
        alive[members] = False
        weights = dets[members, 4] ** grouping.power
        box = (dets[members, :4] * weights[:, None]).sum(axis=0) / weights.sum()
        out.append((*box, dets[best, 4], np.unique(dets[members, 5]).size))
    return nms(np.asarray(out, dtype=np.float32).reshape(-1, 6), grouping.suppress_iou)


@pytest.mark.parametrize("reach", [0.3, 0.5, 0.8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windowed_grouping_matches_the_quadratic_reference(seed: int, reach: float) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    centres = rng.uniform(0, 500, (n, 2))
    sizes = rng.choice([6.0, 12.0, 30.0, 120.0], n)[:, None] * rng.uniform(0.8, 1.25, (n, 2))
    candidates = np.concatenate(
        [centres - sizes / 2, centres + sizes / 2, rng.uniform(0.1, 1, (n, 1)), rng.integers(0, 3, (n, 1))], axis=1
    ).astype(np.float32)
    grouping = Grouping(reach=reach)
    expected = _group_reference(candidates, grouping)
    np.testing.assert_allclose(group_faces(candidates, grouping), expected, rtol=1e-5, atol=1e-4)


@dataclass
class FakeSession:
    """Pretends to be CenterFace: one 40 x 32 px face centred on every network input it sees."""

    blobs: list[tuple[int, ...]] = field(default_factory=list)
    score: float = 0.9
    face_px: tuple[int, int] = (40, 32)  # height, width of the face in network-input pixels
    column: float = 0.5  # where across the network input the face's centre cell lies

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="input")]

    def get_outputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=n) for n in ("heatmap", "scale", "offset", "landmarks")]

    def run(self, names: list[str], feed: dict[str, FloatArray]) -> list[FloatArray]:
        blob = feed["input"]
        self.blobs.append(blob.shape)
        h, w = blob.shape[2] // STRIDE, blob.shape[3] // STRIDE
        heatmap, scale, offset = _heads(h, w)
        heatmap[0, 0, h // 2, int(w * self.column)] = self.score
        scale[0, 0], scale[0, 1] = np.log(self.face_px[0] / STRIDE), np.log(self.face_px[1] / STRIDE)
        return [heatmap, scale, offset]


@pytest.mark.parametrize("detection", ["default", "fast"])
@pytest.mark.parametrize(("height", "width"), [(0, 10), (10, 0), (1, 1), (1, 20000), (20000, 1), (97, 131)])
def test_detect_output_contract_on_odd_shapes(detection: str, height: int, width: int) -> None:
    detector = CenterFaceDetector.from_session(FakeSession(), detection=detection)  # type: ignore[arg-type]
    dets = detector.detect(np.zeros((height, width, 3), np.uint8))
    assert dets.dtype == np.float32
    assert dets.ndim == 2
    assert dets.shape[1] == 5
    if len(dets):
        assert (dets[:, 0] >= 0).all()
        assert (dets[:, 2] <= width).all()
        assert (dets[:, 1] >= 0).all()
        assert (dets[:, 3] <= height).all()
        assert (dets[:, 2] > dets[:, 0]).all()
        assert (dets[:, 3] > dets[:, 1]).all()
        assert (np.diff(dets[:, 4]) <= 0).all()


def test_detect_finds_the_fake_face_in_image_pixels() -> None:
    session = FakeSession()
    detector = CenterFaceDetector.from_session(session, detection="fast")  # type: ignore[arg-type]
    dets = detector.detect(np.zeros((256, 320, 3), np.uint8))
    assert len(dets) == 1
    x1, y1, x2, y2, score = dets[0]
    assert (x2 - x1, y2 - y1) == pytest.approx((32, 40), abs=1e-3)
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx((160 + 2, 128 + 2), abs=1e-3)  # cell centre
    assert score == pytest.approx(0.9)
    assert session.blobs == [(1, 3, 256, 320)]


def test_big_photo_runs_fine_passes_in_bounded_tiles() -> None:
    session = FakeSession()
    ungated = replace(STRATEGIES["default"], gate=None)
    detector = CenterFaceDetector.from_session(session, detection=ungated)  # type: ignore[arg-type]
    detector.detect(np.zeros((1500, 2000, 3), np.uint8))
    side = int(ungated.budget.tile_pixels**0.5)
    coarse, *tiles = session.blobs
    assert coarse[2] * coarse[3] >= 1500 * 2000 * 0.75**2  # the coarse pass is one whole-image run
    assert len(tiles) > 1
    assert all(t[2] <= side and t[3] <= side for t in tiles)


GATE_ONLY = replace(STRATEGIES["default"], large=None)  # the default without its large-face passes


def test_gate_skips_the_fine_pass_when_the_coarse_pass_sees_no_small_face() -> None:
    session = FakeSession(face_px=(80, 64))  # one large, sure face: nothing for an upscaled pass to find
    detector = CenterFaceDetector.from_session(session, detection=GATE_ONLY)  # type: ignore[arg-type]
    assert len(detector.detect(np.zeros((600, 800, 3), np.uint8))) == 1
    assert len(session.blobs) == 1


def test_gate_runs_the_fine_pass_only_around_small_faces() -> None:
    session = FakeSession(face_px=(16, 12))  # a small face at the centre of the photo
    detector = CenterFaceDetector.from_session(session, detection=GATE_ONLY)  # type: ignore[arg-type]
    detector.detect(np.zeros((600, 800, 3), np.uint8))
    coarse, fine = session.blobs
    gate = STRATEGIES["default"].gate
    assert gate is not None
    scale, margin = STRATEGIES["default"].scales[1], gate.margin
    assert coarse[2:] == (608, 800)
    # One crop: the gated cell plus the margin on each side (rounded up to the network's multiple of 32).
    assert fine[2] <= 2 * margin + 2 * ALIGN
    assert fine[3] <= 2 * margin + 2 * ALIGN
    assert fine[2] * fine[3] < 0.2 * (600 * scale) * (800 * scale)


def test_large_passes_run_at_half_scale_and_mirrored_and_map_back_to_the_photo() -> None:
    session = FakeSession(face_px=(40, 32), column=0.25)  # 40 px at 0.5x: an 80 px face in the photo
    detector = CenterFaceDetector.from_session(session)  # type: ignore[arg-type]
    found = detector._large_passes(np.zeros((600, 800, 3), np.uint8), 1.0, STRATEGIES["default"])
    assert session.blobs == [(1, 3, 320, 416)] * 2  # 300 x 400, padded to multiples of 32
    # The face sits a quarter across the padded 416 px input: cell 26, centre (26 + 0.5) * 4 = 106 px, i.e.
    # 212 px in the photo; the mirrored view puts the same cell at 800 - 212 px.
    centres = sorted(float(x1 + x2) / 2 for x1, _, x2, *_ in found)
    assert centres == pytest.approx([212, 588], abs=0.5)
    assert found[:, 3] - found[:, 1] == pytest.approx([80, 80])


@pytest.mark.parametrize(("size", "runs"), [((600, 800), 3), ((2100, 2100), 1)])
def test_large_passes_run_only_on_photos_the_coarse_pass_sees_unshrunk(size: tuple[int, int], runs: int) -> None:
    session = FakeSession(face_px=(80, 64))  # one sure large face: no fine pass
    detector = CenterFaceDetector.from_session(session)  # type: ignore[arg-type]
    detector.detect(np.zeros((*size, 3), np.uint8))
    assert len(session.blobs) == runs  # 4.4 MP is above the 4 MP coarse cap: coarse pass only


def test_large_passes_add_no_small_boxes() -> None:
    session = FakeSession(face_px=(16, 12))  # 32 px in the photo: below large_size
    detector = CenterFaceDetector.from_session(session)  # type: ignore[arg-type]
    found = detector._large_passes(np.zeros((600, 800, 3), np.uint8), 1.0, STRATEGIES["default"])
    assert len(session.blobs) == 2
    assert found.shape == (0, 5)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -1.0])
def test_detect_rejects_thresholds_outside_0_1(threshold: float) -> None:
    detector = CenterFaceDetector.from_session(FakeSession())  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError):
        detector.detect(np.zeros((8, 8, 3), np.uint8), threshold=threshold)


@pytest.mark.parametrize(("threshold", "found"), [(0.05, 1), (0.2, 1), (0.3, 1), (0.31, 0), (0.95, 0)])
def test_the_threshold_given_decides_which_faces_are_kept(threshold: float, found: int) -> None:
    # A face scoring 0.3 is kept at any threshold up to 0.3, whatever its size.
    session = FakeSession(score=0.3)
    detector = CenterFaceDetector.from_session(session, detection="fast")  # type: ignore[arg-type]
    assert len(detector.detect(np.zeros((64, 64, 3), np.uint8), threshold=threshold)) == found
