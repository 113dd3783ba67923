import json
from pathlib import Path

import numpy as np
import pytest

from faceanon.evaluation import (
    RecallTally,
    face_found,
    face_pixel_coverage,
    height_bin,
    load_dataset,
)


@pytest.mark.parametrize(
    ("height", "expected"),
    [(0, "<10"), (9.9, "<10"), (10, "10-20"), (25, "20-40"), (40, "40-80"), (80, ">=80"), (500, ">=80")],
)
def test_height_bins(height: float, expected: str) -> None:
    assert height_bin(height) == expected


def test_face_found_needs_iou_of_one_half() -> None:
    labels = np.array([[0, 0, 10, 10], [100, 100, 120, 120]], dtype=float)
    detections = np.array([[0, 0, 10, 14, 0.9], [100, 100, 130, 130, 0.9]], dtype=float)
    # IoU 100/140 = 0.71 for the first; 400/900 = 0.44 for the second.
    assert face_found(labels, detections).tolist() == [True, False]


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
