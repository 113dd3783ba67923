import json
from pathlib import Path

import numpy as np
import pytest

from faceanon_tools.evaluation import (
    Dataset,
    Kind,
    LabelledImage,
    RecallTally,
    average_precision,
    face_free_set,
    face_pixel_coverage,
    height_bin,
    load_dataset,
    match_detections,
    split_of,
)


def _image(boxes: list[list[float]], ignore: list[bool] | None = None) -> LabelledImage:
    labels = np.asarray(boxes, dtype=float).reshape(-1, 4)
    flags = np.asarray(ignore if ignore is not None else [False] * len(labels), dtype=bool)
    return LabelledImage(Path("photo.jpg"), 200, 200, labels, flags)


def _dets(*rows: tuple[float, float, float, float, float]) -> np.ndarray:
    return np.asarray(rows, dtype=float).reshape(-1, 5)


@pytest.mark.parametrize(
    ("height", "expected"),
    [(0, "<10"), (9.9, "<10"), (10, "10-20"), (25, "20-40"), (40, "40-80"), (80, ">=80"), (500, ">=80")],
)
def test_height_bins(height: float, expected: str) -> None:
    assert height_bin(height) == expected


def test_a_match_needs_iou_of_one_half() -> None:
    labels = np.array([[0, 0, 10, 10], [100, 100, 120, 120]], dtype=float)
    # IoU 100/140 = 0.71 for the first; 400/900 = 0.44 for the second.
    dets = _dets((0, 0, 10, 14, 0.9), (100, 100, 130, 130, 0.9))
    matching = match_detections(labels, [False, False], dets)
    assert matching.face_matched.tolist() == [True, False]
    assert matching.kinds.tolist() == [Kind.TRUE, Kind.FALSE]
    assert matching.detection_face.tolist() == [0, -1]


def test_a_second_box_on_a_face_is_a_duplicate_not_a_second_find() -> None:
    image = _image([[0, 0, 20, 20], [100, 100, 120, 120]])
    tally = RecallTally()
    tally.add(image, _dets((0, 0, 20, 20, 0.9), (1, 0, 21, 20, 0.8), (0, 1, 20, 21, 0.7)))
    assert tally.found["20-40"] == 1  # one of two faces, however many boxes sit on the first
    assert tally.recall("20-40") == 0.5
    assert tally.duplicates == 2
    assert tally.duplicates_by_bin["20-40"] == 2
    assert tally.duplicates_per_matched_face == 2.0
    assert tally.false_on_labelled == 0
    assert tally.false_positives_on_labelled == 2
    assert tally.false_per_labelled_image == 2.0
    assert tally.boxes_per_face == 1.5  # 3 boxes, 2 labelled faces


def test_greedy_by_score_the_higher_scored_box_takes_the_face_even_when_placed_worse() -> None:
    labels = np.array([[0, 0, 20, 20]], dtype=float)
    worse_but_higher = (0, 0, 20, 28, 0.9)  # IoU 400/560 = 0.71
    better_but_lower = (0, 0, 20, 20, 0.6)  # IoU 1.0
    # Input order must not matter: the lower-scored box comes first here.
    matching = match_detections(labels, [False], _dets(better_but_lower, worse_but_higher))
    assert matching.kinds.tolist() == [Kind.DUPLICATE, Kind.TRUE]
    assert matching.face_matched.tolist() == [True]
    assert matching.face_duplicates.tolist() == [1]


def test_each_detection_takes_the_unmatched_face_it_overlaps_most() -> None:
    # Two faces side by side; the first (best-scored) box overlaps face B more than face A.
    labels = np.array([[0, 0, 20, 20], [4, 0, 24, 20]], dtype=float)  # A, B: IoU(A, B) = 320/480
    dets = _dets((4, 0, 24, 20, 0.9), (2, 0, 22, 20, 0.8), (30, 30, 50, 50, 0.7))
    matching = match_detections(labels, [False, False], dets)
    # Box 1 takes B (IoU 1). Box 2 overlaps A and B by 360/440 = 0.82 each: B is taken, so it takes A.
    assert matching.detection_face.tolist() == [1, 0, -1]
    assert matching.kinds.tolist() == [Kind.TRUE, Kind.TRUE, Kind.FALSE]
    assert matching.face_matched.tolist() == [True, True]


def test_ignore_boxes_are_neither_found_nor_false() -> None:
    image = _image([[0, 0, 20, 20], [100, 100, 140, 140]], ignore=[False, True])
    on_ignore = (100, 100, 140, 140, 0.95)
    on_face_and_ignore = (0, 0, 20, 20, 0.3)
    matching = match_detections(image.boxes, image.ignore, _dets(on_ignore, on_face_and_ignore))
    assert matching.kinds.tolist() == [Kind.IGNORED, Kind.TRUE]
    assert matching.face_matched.tolist() == [True, False]  # an ignore box is never "matched"

    tally = RecallTally()
    tally.add(image, _dets(on_ignore, on_ignore, on_face_and_ignore))
    assert tally.total == {"<10": 0, "10-20": 0, "20-40": 1, "40-80": 0, ">=80": 0}
    assert tally.found["20-40"] == 1
    assert tally.ignored_detections == 2
    assert tally.duplicates == 0  # a second box on an ignore box is not a duplicate either
    assert tally.false_positives_on_labelled == 0
    assert tally.boxes_per_face == 3.0  # every box counts here: 3 boxes, 1 face
    assert tally.average_precision() == 1.0  # ignore-box hits stay out of the precision


def test_a_face_preferred_over_an_ignore_box_that_overlaps_more() -> None:
    labels = np.array([[0, 0, 20, 20], [0, 0, 20, 24]], dtype=float)  # face; ignore box around it
    dets = _dets((0, 0, 20, 24, 0.9))  # IoU 1 with the ignore box, 400/480 = 0.83 with the face
    matching = match_detections(labels, [False, True], dets)
    assert matching.kinds.tolist() == [Kind.TRUE]
    assert matching.detection_face.tolist() == [0]


def test_after_the_face_is_taken_the_larger_overlap_decides_duplicate_or_ignored() -> None:
    labels = np.array([[0, 0, 20, 20], [0, 0, 20, 24]], dtype=float)
    dets = _dets((0, 0, 20, 20, 0.9), (0, 0, 20, 24, 0.8), (0, 0, 20, 21, 0.7))
    matching = match_detections(labels, [False, True], dets)
    # Box 2: ignore box 1.0 vs taken face 0.83 -> ignored. Box 3: taken face 0.95 vs ignore box 0.875 -> duplicate.
    assert matching.kinds.tolist() == [Kind.TRUE, Kind.IGNORED, Kind.DUPLICATE]


def test_no_detections_and_no_faces() -> None:
    empty = match_detections(np.zeros((0, 4)), np.zeros(0, dtype=bool), _dets((0, 0, 5, 5, 0.5)))
    assert empty.kinds.tolist() == [Kind.FALSE]
    none = match_detections(np.array([[0, 0, 5, 5]], dtype=float), [False], np.zeros((0, 5)))
    assert none.face_matched.tolist() == [False]
    assert none.kinds.shape == (0,)


def test_average_precision_by_hand() -> None:
    # 2 faces; by score: true, false, true. Points (recall, precision): (1/2, 1), (1/2, 1/2), (1, 2/3).
    # Envelope: 1 up to recall 1/2, then 2/3: AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], faces=2) == pytest.approx(5 / 6)
    # The same detections in another order give the same AP (sorted by score inside).
    assert average_precision([0.7, 0.9, 0.8], [True, True, False], faces=2) == pytest.approx(5 / 6)
    # A face never found caps recall: 3 faces, true then false -> 1/3 * 1.
    assert average_precision([0.9, 0.8], [True, False], faces=3) == pytest.approx(1 / 3)
    # A dip in precision is bridged by a later, higher one: t f f t t over 3 faces.
    # Points: (1/3, 1), (1/3, 1/2), (1/3, 1/3), (2/3, 1/2), (1, 3/5) -> envelope 1, 3/5, 3/5: AP = 1/3 + 2/3 * 3/5.
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    assert average_precision(scores, [True, False, False, True, True], 3) == pytest.approx(1 / 3 + 0.4)
    assert average_precision([], [], faces=2) == 0.0
    assert average_precision([0.5], [False], faces=0) is None


def test_average_precision_takes_tied_scores_together() -> None:
    # One threshold admits both boxes: recall 1, precision 1/2, whichever is listed first.
    assert average_precision([0.5, 0.5], [True, False], faces=1) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5], [False, True], faces=1) == pytest.approx(0.5)


def test_tally_average_precision_pools_photos_and_counts_duplicates_as_false() -> None:
    first = RecallTally()
    first.add(_image([[0, 0, 20, 20]]), _dets((0, 0, 20, 20, 0.9), (1, 1, 21, 21, 0.8)))  # true, duplicate
    second = RecallTally()
    second.add(_image([[0, 0, 20, 20]]), _dets((0, 0, 20, 20, 0.7)))  # true
    first.merge(second)
    # Pooled by score: true (0.9), duplicate (0.8), true (0.7) over 2 faces: the 5/6 case above.
    assert first.average_precision() == pytest.approx(5 / 6)
    assert first.labelled_images == 2
    assert first.matched == 2
    assert first.faces == 2
    assert first.boxes_per_face == 1.5
    assert first.duplicates_per_matched_face == 0.5


def test_boxes_per_face_counts_every_box_on_labelled_photos_only() -> None:
    tally = RecallTally()
    tally.add(_image([[0, 0, 20, 20], [50, 50, 62, 62]]), _dets((0, 0, 20, 20, 0.9), (150, 150, 160, 160, 0.4)))
    tally.add(_image([]), _dets((0, 0, 10, 10, 0.9), (20, 20, 30, 30, 0.9)))  # a face-free photo
    assert tally.boxes_per_face == 1.0  # 2 boxes over 2 faces; the face-free photo's boxes are false masks
    assert tally.false_on_labelled == 1
    assert tally.found == {"<10": 0, "10-20": 0, "20-40": 1, "40-80": 0, ">=80": 0}
    assert tally.total["10-20"] == 1
    assert tally.negative_images == 1
    assert tally.false_detections_on_negatives == 2
    assert tally.false_per_negative_image == 2.0
    empty = RecallTally()
    assert empty.boxes_per_face is None
    assert empty.duplicates_per_matched_face is None
    assert empty.average_precision() is None
    assert empty.false_per_negative_image is None


def test_tally_skips_ignored_boxes_and_counts_negatives(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    annotations = {
        "images": [
            {"file": "images/a.jpg", "width": 200, "height": 200, "boxes": [[0, 0, 10, 12, 0], [50, 50, 30, 30, 1]]}
        ]
    }
    (tmp_path / "annotations.json").write_text(json.dumps(annotations))
    dataset = load_dataset(tmp_path)
    tally = RecallTally()
    tally.add(dataset.images[0], np.array([[0, 0, 10, 12, 0.5]]))
    assert tally.total["10-20"] == 1
    assert tally.found["10-20"] == 1
    assert tally.total["20-40"] == 0  # the ignored box
    negative = load_dataset(tmp_path / "images")
    assert negative.is_negative


def test_coverage_of_the_inscribed_ellipse() -> None:
    changed = np.zeros((100, 100), dtype=bool)
    changed[:, :50] = True
    labels = np.array([[0, 0, 100, 100], [0, 0, 40, 40], [60, 60, 100, 100]], dtype=float)
    shares = face_pixel_coverage(changed, labels)
    assert shares[0] == pytest.approx(0.5, abs=0.01)
    assert shares[1] == 1.0
    assert shares[2] == 0.0


def _reference_matching(labels: np.ndarray, ignore: np.ndarray, dets: np.ndarray) -> list[int]:
    """The protocol written out box by box, without numpy, for a cross-check of match_detections."""

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    taken = [False] * len(labels)
    kinds = [int(Kind.FALSE)] * len(dets)
    for d in sorted(range(len(dets)), key=lambda i: -dets[i][4]):  # sorted() is stable
        overlaps = [iou(dets[d], box) for box in labels]
        free = [(o, f) for f, o in enumerate(overlaps) if o >= 0.5 and not ignore[f] and not taken[f]]
        if free:
            best = max(free, key=lambda pair: (pair[0], -pair[1]))[1]
            taken[best] = True
            kinds[d] = Kind.TRUE
            continue
        others = [(o, f) for f, o in enumerate(overlaps) if o >= 0.5]
        if others:
            best = max(others, key=lambda pair: (pair[0], -pair[1]))[1]
            kinds[d] = Kind.IGNORED if ignore[best] else Kind.DUPLICATE
    return kinds


def test_matching_agrees_with_a_box_by_box_reference_on_random_crowds() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        faces = rng.integers(0, 8)
        xy = rng.uniform(0, 60, (faces, 2))
        labels = np.concatenate([xy, xy + rng.uniform(5, 30, (faces, 2))], axis=1)
        ignore = rng.random(faces) < 0.2
        # Jittered copies of the faces plus random boxes; scores on a coarse grid so ties happen.
        source = labels[rng.integers(0, faces, rng.integers(0, 15))] if faces else np.zeros((0, 4))
        jittered = source + rng.normal(0, 2.5, source.shape)
        jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 1)
        xy = rng.uniform(0, 60, (rng.integers(0, 4), 2))
        noise = np.concatenate([xy, xy + rng.uniform(5, 30, xy.shape)], axis=1)
        boxes = np.concatenate([jittered, noise])
        dets = np.concatenate([boxes, rng.integers(1, 6, (len(boxes), 1)) / 5], axis=1)
        matching = match_detections(labels, ignore, dets)
        assert matching.kinds.tolist() == _reference_matching(labels, ignore, dets)
        assert int(matching.face_matched.sum()) == int(np.count_nonzero(matching.kinds == Kind.TRUE))
        assert int(matching.face_duplicates.sum()) == int(np.count_nonzero(matching.kinds == Kind.DUPLICATE))


def test_the_dev_test_split_is_fixed_by_dataset_and_file_name() -> None:
    def image(folder: str, name: str) -> LabelledImage:
        return LabelledImage(Path(folder) / "images" / name, 10, 10, np.zeros((1, 4)), np.zeros(1, dtype=bool))

    names = [f"photo_{i}.jpg" for i in range(200)]
    here = [split_of(image("/a/set", n)) for n in names]
    elsewhere = [split_of(image("/elsewhere/set", n)) for n in names]
    assert here == elsewhere  # the same on every machine, wherever the data lives
    assert 70 <= here.count("dev") <= 130  # about half each
    dataset = Dataset("set", tuple(image("/a/set", n) for n in names))
    dev, test = dataset.part("dev"), dataset.part("test")
    assert len(dev.images) + len(test.images) == len(names)
    assert {i.path for i in dev.images}.isdisjoint(i.path for i in test.images)
    face_free = face_free_set("none", [Path("/a/x.png")])
    assert face_free.part("dev") is face_free  # face-free sets are never split (never tuned on)
