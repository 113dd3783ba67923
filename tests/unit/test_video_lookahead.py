"""faceanon.video_lookahead: the frames between two detections get each detected face, interpolated or grown."""

import numpy as np
import pytest

from faceanon.tracking import NEW_TRACK_GROW
from faceanon.video_lookahead import backfill


def _row(x: float, track: int, size: float = 40.0) -> list[float]:
    return [x, 0.0, x + size, size, 0.9, float(track)]


def test_a_known_track_is_interpolated_between_its_two_detections() -> None:
    previous = np.array([_row(0, 7)], dtype=np.float32)
    detected = np.array([_row(30, 7)], dtype=np.float32)
    frames = backfill(previous, detected, gaps=2)
    assert [f.shape for f in frames] == [(1, 6), (1, 6)]
    assert [float(f[0, 0]) for f in frames] == pytest.approx([10.0, 20.0])
    assert all(f[0, 5] == 7 for f in frames)


def test_a_new_face_is_added_before_its_detection_grown_per_frame_back() -> None:
    previous = np.array([_row(0, 1)], dtype=np.float32)  # another face, not detected now: the tracker holds it
    detected = np.array([_row(100, 2)], dtype=np.float32)
    first, second = backfill(previous, detected, gaps=2)
    assert first[0, 5] == second[0, 5] == 2
    assert first[0, 2] - first[0, 0] == pytest.approx(40 * (1 + 2 * NEW_TRACK_GROW))  # two frames before
    assert second[0, 2] - second[0, 0] == pytest.approx(40 * (1 + NEW_TRACK_GROW))
    assert (first[0, 0] + first[0, 2]) / 2 == pytest.approx(120)  # about the same centre


def test_no_gap_or_no_detection_adds_nothing() -> None:
    previous = np.array([_row(0, 1)], dtype=np.float32)
    assert backfill(previous, previous, gaps=0) == []
    empty = backfill(previous, np.zeros((0, 6), dtype=np.float32), gaps=3)
    assert [f.shape for f in empty] == [(0, 6)] * 3
