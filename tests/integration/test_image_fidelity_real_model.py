"""The real detector on animations and a 4:4:4 JPEG of the shipped sample photo: the face is found and masked in
the frame it is in (and only there), and the frames, their timing and the chroma subsampling come back as they
came in. The fake-detector version of all this, over the whole odd-file corpus, is tests/unit/test_image_fidelity.py.
"""

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, JpegImagePlugin

from faceanon.detector import CenterFaceDetector
from faceanon.service import AnonymiseResult, anonymise
from faceanon.settings import Settings
from hostile.raw_images import ApngFrame, raw_apng
from support.images import gradient, to_bytes

SETTINGS = Settings(method="fill", shape="box", mask_scale=1.0)  # black boxes: easy to find in the output
SIZE = 256


@pytest.fixture(scope="module")
def portrait(sample_rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.asarray(Image.fromarray(sample_rgb).resize((SIZE, SIZE), Image.Resampling.LANCZOS))


def _frames(data: bytes) -> list[npt.NDArray[np.int16]]:
    with Image.open(io.BytesIO(data)) as image:
        frames = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB"), dtype=np.int16))
        return frames


def _masked(frame: npt.NDArray[np.int16], result: AnonymiseResult, index: int) -> None:
    boxes = [face.box for face in result.faces if face.frame == index]
    assert boxes, f"no face found in frame {index}"
    for x1, y1, x2, y2 in boxes:
        inner = frame[int(y1) + 3 : int(y2) - 3, int(x1) + 3 : int(x2) - 3]
        assert inner.size
        assert inner.mean() <= 4, "the face is not masked"  # black; JPEG rings a little at the edges
        assert inner.max() <= 48


def test_a_face_in_frame_3_of_a_gif_is_masked_there_only(
    portrait: npt.NDArray[np.uint8], real_detector: CenterFaceDetector
) -> None:
    background = gradient(SIZE, SIZE)
    pictures = [background, background[::-1].copy(), portrait, background[:, ::-1].copy()]
    # Quantised to one palette up front, so the GIF writer and our frames agree pixel for pixel.
    quantised = [Image.fromarray(p).quantize(64) for p in pictures]
    data = to_bytes(
        quantised[0], "GIF", save_all=True, append_images=quantised[1:], duration=[80, 90, 100, 110], loop=0
    )
    before = _frames(data)
    result = anonymise(data, SETTINGS, real_detector)
    after = _frames(result.image)
    assert result.frames == len(after) == 4
    assert {face.frame for face in result.faces} == {2}
    _masked(after[2], result, 2)
    for index in (0, 1, 3):
        assert np.abs(after[index] - before[index]).mean() <= 1.0, f"frame {index} changed"
    with Image.open(io.BytesIO(result.image)) as output:
        durations = []
        for index in range(4):
            output.seek(index)
            durations.append(output.info["duration"])
        assert durations == [80, 90, 100, 110]


def test_an_apng_default_image_with_a_face_is_masked_and_stays_the_default_image(
    portrait: npt.NDArray[np.uint8], real_detector: CenterFaceDetector
) -> None:
    opaque = np.full((SIZE, SIZE, 1), 255, np.uint8)
    default = np.concatenate([portrait, opaque], axis=2)
    frames = [ApngFrame(np.concatenate([gradient(SIZE, SIZE), opaque], axis=2), delay=(1, 4))]
    frames.append(ApngFrame(np.concatenate([portrait[:, ::-1], opaque], axis=2), delay=(1, 3)))
    result = anonymise(raw_apng(SIZE, SIZE, frames, default=default), SETTINGS, real_detector)
    after = _frames(result.image)
    assert {face.frame for face in result.faces} == {0, 2}  # the default image and the mirrored frame
    _masked(after[0], result, 0)
    _masked(after[2], result, 2)
    with Image.open(io.BytesIO(result.image)) as output:
        assert output.n_frames == result.frames == 3
        assert output.info.get("default_image") is True
        output.seek(2)
        assert output.info["duration"] == pytest.approx(1000 / 3)


def test_a_444_jpeg_stays_444_and_is_masked(portrait: npt.NDArray[np.uint8], real_detector: CenterFaceDetector) -> None:
    data = to_bytes(Image.fromarray(portrait), "JPEG", quality=95, subsampling=0)
    result = anonymise(data, SETTINGS, real_detector)
    assert result.face_count == 1
    _masked(_frames(result.image)[0], result, 0)
    with Image.open(io.BytesIO(result.image)) as output:
        assert JpegImagePlugin.get_sampling(output) == 0
