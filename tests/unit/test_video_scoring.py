"""Video scoring on hand-made boxes: recall by size, exposed face-frames, flicker, and both mask geometries."""

import numpy as np
import pytest

from faceanon_tools.video_clips import FrameLabels
from faceanon_tools.video_scoring import ClipScorer, deface_geometry, faceanon_geometry

H, W = 120, 160


def labels(*boxes: tuple[float, float, float, float], ignore: tuple[bool, ...] = ()) -> FrameLabels:
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    flags = np.asarray(ignore or (False,) * len(array), dtype=bool)
    return FrameLabels(array, flags, np.arange(len(array), dtype=np.int64))


def masked(*boxes: tuple[float, float, float, float]) -> np.ndarray:
    rows = [(*box, 0.9) for box in boxes]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


FACE = (40.0, 30.0, 70.0, 70.0)  # 40 px tall: bin 40-80, counted for exposure


def test_a_mask_on_the_face_finds_and_covers_it() -> None:
    scorer = ClipScorer(faceanon_geometry(1.5), H, W)
    coverage = scorer.frame(labels(FACE), masked(FACE))
    assert coverage[0] == pytest.approx(1.0)
    summary = scorer.score.summary()
    assert summary["found"]["40-80"] == 1
    assert summary["faces"]["40-80"] == 1
    assert summary["eligible_face_frames"] == 1
    assert summary["exposed_face_frames"] == 0


def test_no_mask_exposes_a_large_face_but_not_a_small_one() -> None:
    small = (100.0, 10.0, 110.0, 22.0)  # 12 px tall: scored for recall, never counted as exposed
    scorer = ClipScorer(faceanon_geometry(1.5), H, W)
    scorer.frame(labels(FACE, small), masked())
    summary = scorer.score.summary()
    assert summary["faces"]["10-20"] == 1
    assert summary["found"]["10-20"] == 0
    assert summary["found"]["40-80"] == 0
    assert (summary["eligible_face_frames"], summary["exposed_face_frames"]) == (1, 1)


def test_a_mask_half_off_the_face_neither_finds_nor_covers_it() -> None:
    scorer = ClipScorer(faceanon_geometry(1.0), H, W)
    coverage = scorer.frame(labels(FACE), masked((55.0, 30.0, 85.0, 70.0)))
    assert 0.2 < coverage[0] < 0.9
    assert scorer.score.found["40-80"] == 0
    assert scorer.score.exposed == 1


def test_mask_scale_widens_coverage() -> None:
    """A detection 20% smaller than the label covers it at the product's 1.5, not at 1.0."""
    small = (43.0, 34.0, 67.0, 66.0)
    tight, wide = ClipScorer(faceanon_geometry(1.0), H, W), ClipScorer(faceanon_geometry(1.5), H, W)
    assert tight.frame(labels(FACE), masked(small))[0] < 0.9
    assert wide.frame(labels(FACE), masked(small))[0] >= 0.9


def test_ignore_boxes_count_for_nothing() -> None:
    scorer = ClipScorer(faceanon_geometry(1.5), H, W)
    scorer.frame(labels(FACE, ignore=(True,)), masked())
    assert sum(scorer.score.faces.values()) == 0
    assert scorer.score.eligible == 0
    assert scorer.score.exposed == 0


def test_flicker_counts_state_changes_of_one_face_between_consecutive_frames() -> None:
    scorer = ClipScorer(faceanon_geometry(1.5), H, W)
    for mask in (masked(FACE), masked(), masked(FACE), masked(FACE)):
        scorer.frame(labels(FACE), mask)
    assert (scorer.score.pairs, scorer.score.flips) == (3, 2)
    assert scorer.score.exposed == 1
    assert scorer.score.frames == 4


def test_flicker_pairs_need_the_face_in_both_frames() -> None:
    """A face that leaves the frame and comes back starts a new run: no pair across the gap."""
    scorer = ClipScorer(faceanon_geometry(1.5), H, W)
    scorer.frame(labels(FACE), masked(FACE))
    scorer.frame(labels(), masked())
    scorer.frame(labels(FACE), masked())
    assert (scorer.score.pairs, scorer.score.flips) == (0, 0)


def test_one_mask_box_finds_one_face_only() -> None:
    """One-to-one: two labelled faces at the same place are not both found by one box."""
    scorer = ClipScorer(faceanon_geometry(1.5), H, W)
    scorer.frame(labels(FACE, FACE), masked(FACE))
    assert scorer.score.found["40-80"] == 1
    assert scorer.score.faces["40-80"] == 2


def test_faceanon_geometry_is_the_products_mask() -> None:
    from faceanon.masks import apply_masks

    boxes = masked(FACE, (100.0, 60.0, 130.0, 100.0))
    frame = np.full((H, W, 3), 128, dtype=np.uint8)
    changed = (apply_masks(frame, boxes, fill="#000000", mask_scale=1.5) != frame).any(axis=2)
    np.testing.assert_array_equal(faceanon_geometry(1.5)(boxes, H, W), changed)


def test_deface_geometry_matches_what_deface_blurs() -> None:
    """deface's own anonymize_frame on a noise frame changes (nearly) exactly the pixels the geometry says."""
    deface_module = pytest.importorskip("deface.deface")
    boxes = masked(FACE, (100.0, 60.0, 130.0, 100.0), (150.0, 100.0, 175.0, 130.0))  # the last one clipped
    frame = np.random.default_rng(1).integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    blurred = frame.copy()
    deface_module.anonymize_frame(
        boxes, blurred, mask_scale=1.3, replacewith="blur", ellipse=True, draw_scores=False, replaceimg=None,
        mosaicsize=20,
    )  # fmt: skip
    changed = (blurred != frame).any(axis=2)
    geometry = deface_geometry(1.3)(boxes, H, W)
    assert not (changed & ~geometry).any()  # deface never changes a pixel outside the geometry
    assert (geometry & ~changed).sum() <= 0.01 * geometry.sum()  # and changes nearly all inside (noise blurs)
