"""Synthetic video clips: windows stay in the photo, boxes move with the camera, written frames match labels."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceanon_tools.datasets import LabelledImage
from faceanon_tools.video_clips import MOTIONS, boxes_in_frame, camera_windows, load_labels, write_clip


@pytest.mark.parametrize("motion", MOTIONS)
def test_windows_stay_inside_the_photo_at_the_output_aspect(motion: str) -> None:
    windows = camera_windows(1024, 700, 16 / 9, motion, 30)
    x, y, w, h = windows.T
    assert len(windows) == 30
    assert (x >= -1e-9).all()
    assert (y >= -1e-9).all()
    assert (x + w <= 1024 + 1e-6).all()
    assert (y + h <= 700 + 1e-6).all()
    np.testing.assert_allclose(w / h, 16 / 9)
    assert not np.allclose(windows[0], windows[-1])  # the camera moves


def test_boxes_move_and_scale_with_the_window() -> None:
    labels = np.array([[100.0, 100.0, 140.0, 150.0], [0.0, 0.0, 10.0, 10.0]])
    frame = boxes_in_frame(labels, np.array([False, True]), (80.0, 90.0, 320.0, 180.0), 1280, 720)
    np.testing.assert_allclose(frame.boxes, [[80.0, 40.0, 240.0, 240.0]])  # 4x: (100-80)*4, (100-90)*4, ...
    assert frame.ids.tolist() == [0]
    assert frame.ignore.tolist() == [False]


def test_a_face_half_out_of_the_frame_is_kept_clipped_and_one_mostly_out_is_dropped() -> None:
    labels = np.array([[-10.0, 10.0, 30.0, 50.0], [-30.0, 10.0, 10.0, 50.0]])  # 75% and 25% inside
    frame = boxes_in_frame(labels, np.zeros(2, dtype=bool), (0.0, 0.0, 160.0, 90.0), 160, 90)
    np.testing.assert_allclose(frame.boxes, [[0.0, 10.0, 30.0, 50.0]])
    assert frame.ids.tolist() == [0]


def test_written_clip_has_the_face_where_its_labels_say(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    photo = np.zeros((600, 1000, 3), dtype=np.uint8)
    photo[250:330, 450:510] = 255  # a white "face" on black
    Image.fromarray(photo).save(tmp_path / "photo.png")
    image = LabelledImage(
        tmp_path / "photo.png", 1000, 600, np.array([[450.0, 250.0, 510.0, 330.0]]), np.zeros(1, bool)
    )
    clip, labels_path = write_clip(image, "pan", "720p", 4, 30, tmp_path / "clips")
    labels = load_labels(labels_path)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        assert (stream.width, stream.height, rate.numerator / rate.denominator) == (1280, 720, 30)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == len(labels.frames) == 4
    xs = []
    for rgb, truth in zip(frames, labels.frames, strict=True):
        ((x1, y1, x2, y2),) = truth.boxes
        xs.append(x1)
        inner = rgb[int(y1) + 4 : int(y2) - 4, int(x1) + 4 : int(x2) - 4]
        assert inner.mean() > 240  # inside the labelled box: the face
        white = rgb.mean(axis=2) > 128
        white[int(y1) - 3 : int(y2) + 3, int(x1) - 3 : int(x2) + 3] = False
        assert not white.any()  # nowhere else
    assert xs[0] > xs[-1]  # the camera pans right, so the face moves left
