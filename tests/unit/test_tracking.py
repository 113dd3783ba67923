"""faceanon.tracking: missed frames stay masked, masks hold then drop, ids stay put, --fast frames are predicted."""

import numpy as np
import pytest

from faceanon.errors import InvalidRequestError
from faceanon.tracking import NEW_TRACK_GROW, FaceTracker, TrackerOptions, iou_matrix


def _det(x: float, y: float, size: float = 40.0, score: float = 0.9) -> np.ndarray:
    return np.array([[x, y, x + size, y + size, score]], dtype=np.float32)


NONE = np.zeros((0, 5), dtype=np.float32)


def test_detections_are_masked_as_detected_with_a_track_id() -> None:
    tracker = FaceTracker()
    out = tracker.update(_det(10, 20))
    assert out.dtype == np.float32
    assert out.shape == (1, 6)
    np.testing.assert_array_equal(out[0, :5], _det(10, 20)[0])
    assert out[0, 5] == 0
    assert tracker.tracks_started == 1


def test_a_moving_face_keeps_its_track() -> None:
    tracker = FaceTracker()
    ids = {int(tracker.update(_det(10 + 5 * i, 20))[0, 5]) for i in range(20)}
    assert ids == {0}
    assert tracker.tracks_started == 1


def test_a_face_missed_for_two_frames_stays_masked_where_it_moved() -> None:
    tracker = FaceTracker()
    for i in range(5):
        tracker.update(_det(100 + 10 * i, 50))
    held = tracker.update(NONE)  # the detector misses frame 5: the face would be at x=150
    assert held.shape == (1, 6)
    centre = (held[0, 0] + held[0, 2]) / 2
    assert abs(centre - (150 + 20)) < 3  # predicted along its velocity
    assert held[0, 2] - held[0, 0] > 40  # grown: less sure where it is
    held2 = tracker.update(NONE)
    assert held2[0, 2] - held2[0, 0] > held[0, 2] - held[0, 0]
    back = tracker.update(_det(170, 50))
    assert back.shape == (1, 6)
    assert back[0, 5] == 0
    np.testing.assert_array_equal(back[0, :5], _det(170, 50)[0])  # the detection itself, not the held box


def test_a_lost_face_is_held_for_hold_frames_then_dropped() -> None:
    tracker = FaceTracker(TrackerOptions(hold_frames=3))
    tracker.update(_det(10, 10))
    counts = [len(tracker.update(NONE)) for _ in range(5)]
    assert counts == [1, 1, 1, 0, 0]


def test_frames_not_detected_move_tracks_without_counting_as_misses() -> None:
    tracker = FaceTracker(TrackerOptions(hold_frames=1, grow=0.03))
    tracker.update(_det(0, 0))
    tracker.update(_det(6, 0))
    for frame in range(1, 11):  # --fast: frames between detections
        out = tracker.update(None)
        assert len(out) == 1  # still held after 10 frames: not missed, just not looked at
        assert out[0, 2] - out[0, 0] == pytest.approx(40 * (1 + 0.03 * frame), abs=1e-3)
    centre = (out[0, 0] + out[0, 2]) / 2
    assert centre == pytest.approx(20 + 6 + 6 * 10, abs=0.5)  # moved along the velocity (6 px a frame)


def test_a_track_seen_once_grows_faster_while_its_velocity_is_unknown() -> None:
    options = TrackerOptions(grow=0.03)
    new = FaceTracker(options)
    new.update(_det(0, 0))
    known = FaceTracker(options)
    known.update(_det(0, 0))
    known.update(_det(0, 0))
    grown_new, grown_known = new.update(None), known.update(None)
    assert grown_known[0, 2] - grown_known[0, 0] == pytest.approx(40 * 1.03, abs=1e-3)
    assert grown_new[0, 2] - grown_new[0, 0] == pytest.approx(40 * (1 + 0.03 + NEW_TRACK_GROW), abs=1e-3)


def test_two_faces_two_tracks_and_a_new_face_a_new_track() -> None:
    tracker = FaceTracker()
    two = np.concatenate([_det(0, 0), _det(200, 0)])
    first = tracker.update(two)
    assert sorted(first[:, 5].tolist()) == [0, 1]
    three = np.concatenate([_det(202, 0), _det(2, 0), _det(400, 300)])
    out = tracker.update(three)
    by_x = {round(float(row[0])): int(row[5]) for row in out}
    assert by_x == {202: 1, 2: 0, 400: 2}
    assert tracker.tracks_started == 3


def test_a_face_that_moved_past_iou_between_detections_joins_its_track_by_distance() -> None:
    tracker = FaceTracker()
    tracker.update(_det(0, 0))
    tracker.update(None)  # --fast: frames 1 and 2 not detected
    tracker.update(None)
    out = tracker.update(_det(50, 0))  # no overlap with where it was, but within 1.5 sizes in 3 frames
    assert tracker.tracks_started == 1
    assert out[:, 5].tolist() == [0]


def test_a_nearby_face_of_another_size_or_too_far_starts_its_own_track() -> None:
    tracker = FaceTracker()
    tracker.update(_det(0, 0))
    tracker.update(np.concatenate([_det(45, 0, size=100), _det(200, 0)]))  # 2.5x as big; 5 sizes away
    assert tracker.tracks_started == 3


def test_no_hold_without_tracking_history_and_empty_frames() -> None:
    tracker = FaceTracker(TrackerOptions(hold_frames=0))
    tracker.update(_det(0, 0))
    assert tracker.update(NONE).shape == (0, 6)
    assert FaceTracker().update(None).shape == (0, 6)


def test_options_are_validated() -> None:
    for bad in ({"match_iou": 0.0}, {"hold_frames": -1}, {"grow": 2.0}, {"hold_frames": 1.5}):
        with pytest.raises(InvalidRequestError):
            TrackerOptions(**bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError):
        FaceTracker().update(np.array([[0, 0, np.nan, 1, 1]], dtype=np.float32))


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10]], dtype=np.float64)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=np.float64)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])
