import hashlib
import io
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageSequence

from faceanon import service
from faceanon.errors import ImageTooLargeError, ModelError, UnsupportedImageError
from faceanon.service import REVIEW_CROWD, REVIEW_SCORE_BAND, anonymise
from faceanon.settings import Settings
from support.fakes import MARKER, FakeDetector
from support.images import marked, to_bytes

MARK = (20, 10, 44, 34)


def _frames(data: bytes) -> list[npt.NDArray[np.int16]]:
    with Image.open(io.BytesIO(data)) as image:
        return [np.asarray(f.convert("RGB"), dtype=np.int16) for f in ImageSequence.Iterator(image)]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "BMP"])
def test_the_marked_face_is_masked_and_reported(fmt: str, fake_detector: FakeDetector) -> None:
    data = to_bytes(Image.fromarray(marked(80, 60, MARK)), fmt)
    result = anonymise(data, Settings(method="fill", shape="box", mask_scale=1.0), fake_detector)
    assert (result.format, result.width, result.height, result.frames) == (fmt, 80, 60, 1)
    assert result.content_type == f"image/{fmt.lower()}"
    assert result.face_count == 1
    assert result.faces[0].score == pytest.approx(0.9)
    assert np.allclose(result.faces[0].box, MARK, atol=1)
    (pixels,) = _frames(result.image)
    x1, y1, x2, y2 = MARK
    assert pixels[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1].max() <= 12  # black (lossy formats ring a little)
    assert result.model_sha256 == "fake-model"
    assert set(result.timings_ms) == {"decode", "detect", "mask", "encode", "total"}
    json.dumps(result.to_report())  # JSON-able


def test_settings_reach_the_detector_and_the_report(fake_detector: FakeDetector) -> None:
    settings = Settings(method="pixelate", shape="box", mask_scale=1.7, threshold=0.35)
    result = anonymise(to_bytes(Image.fromarray(marked(80, 60, MARK)), "PNG"), settings, fake_detector)
    assert fake_detector.calls == [((60, 80, 3), 0.35)]
    report = result.to_report()
    assert (report["method"], report["shape"], report["mask_scale"], report["threshold"]) == (
        "pixelate",
        "box",
        1.7,
        0.35,
    )
    assert report["faces"][0]["box"] == [20.0, 10.0, 44.0, 34.0]


def test_every_frame_of_an_animated_gif_is_masked(fake_detector: FakeDetector) -> None:
    marks = [(4, 4, 20, 20), (30, 10, 46, 26), (60, 30, 76, 46)]
    pictures = [Image.fromarray(marked(80, 60, m)) for m in marks]
    data = to_bytes(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    result = anonymise(data, Settings(shape="box", mask_scale=1.0), fake_detector)
    assert result.frames == 3
    assert [face.frame for face in result.faces] == [0, 1, 2]
    frames = _frames(result.image)
    assert len(frames) == 3
    for pixels, (x1, y1, x2, y2) in zip(frames, marks, strict=True):
        assert pixels[y1:y2, x1:x2].max() <= 8  # masked in this frame
        red = (pixels[:, :, 0] > 180) & (pixels[:, :, 1] < 80) & (pixels[:, :, 2] < 80)
        assert not red.any()  # and no marker left anywhere


def test_a_detector_failure_on_any_frame_fails_the_whole_image() -> None:
    class FailsOnSecondFrame(FakeDetector):
        def detect(
            self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
        ) -> npt.NDArray[np.float32]:
            if self.calls:
                raise ModelError("detector inference failed")
            return super().detect(rgb, threshold=threshold)

    pictures = [Image.fromarray(marked(40, 30, (5, 5, 15, 15))) for _ in range(2)]
    pictures[1].putpixel((0, 0), (0, 0, 255))  # keep the two frames distinct
    data = to_bytes(pictures[0], "GIF", save_all=True, append_images=pictures[1:])
    with pytest.raises(ModelError):
        anonymise(data, Settings(), FailsOnSecondFrame())


@pytest.mark.parametrize(
    "boxes", [[[0, 0, np.nan, 10, 0.9]], [[0, 0, 10]], [[0, 0, np.inf, 10, 0.9]]], ids=["nan", "short", "inf"]
)
def test_malformed_detector_output_is_a_model_error(boxes: list[list[float]]) -> None:
    class Broken(FakeDetector):
        def detect(
            self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
        ) -> npt.NDArray[np.float32]:
            return np.asarray(boxes, dtype=np.float32)

    with pytest.raises(ModelError):
        anonymise(to_bytes(Image.fromarray(marked(80, 60, MARK)), "PNG"), Settings(), Broken())


def test_limits_apply_before_the_detector_runs(fake_detector: FakeDetector) -> None:
    data = to_bytes(Image.fromarray(marked(80, 60, MARK)), "PNG")
    with pytest.raises(ImageTooLargeError):
        anonymise(data, Settings(max_pixels=80 * 60 - 1), fake_detector)
    with pytest.raises(UnsupportedImageError):
        anonymise(b"junk", Settings(), fake_detector)
    assert fake_detector.calls == []


@pytest.mark.parametrize(
    ("scores", "reasons"),
    [
        ([0.9], ()),
        ([0.9, 0.2 + REVIEW_SCORE_BAND / 2], ("low_score",)),
        ([0.9] * (REVIEW_CROWD + 1), ("crowded",)),
        ([0.9] * REVIEW_CROWD, ()),
        ([], ()),
    ],
    ids=["confident", "grey-band", "crowd", "just-not-a-crowd", "no-face"],
)
def test_review_flag(scores: list[float], reasons: tuple[str, ...]) -> None:
    boxes = [[2 * i, 0, 2 * i + 2, 2, score] for i, score in enumerate(scores)]
    detector = FakeDetector(boxes if boxes else np.zeros((0, 5)))
    result = anonymise(to_bytes(Image.new("RGB", (100, 10)), "PNG"), Settings(threshold=0.2), detector)
    assert result.review_reasons == reasons
    assert result.review == bool(reasons)


def test_default_detector_is_built_once_per_model_and_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[Path, int]] = []

    class Recording(FakeDetector):
        def __init__(self, model_path: Path, *, intra_op_threads: int) -> None:
            super().__init__()
            built.append((model_path, intra_op_threads))
            self.model_path = model_path

    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights")
    monkeypatch.setattr(service, "CenterFaceDetector", Recording)
    service._build_detector.cache_clear()
    try:
        first = service.get_detector(Settings(model_path=str(model)))
        assert service.get_detector(Settings(model_path=str(model), method="blur")) is first
        service.get_detector(Settings(model_path=str(model), intra_op_threads=2))
        assert built == [(model, 1), (model, 2)]
        data = to_bytes(Image.fromarray(marked(40, 30, (5, 5, 15, 15))), "PNG")
        result = anonymise(data, Settings(model_path=str(model)))
        assert result.face_count == 1
        assert len(built) == 2
        assert result.model_sha256 == hashlib.sha256(b"weights").hexdigest()
    finally:
        service._build_detector.cache_clear()


def test_marker_colour_is_what_the_fake_detects(fake_detector: FakeDetector) -> None:
    rgb = marked(80, 60, MARK)
    assert tuple(rgb[MARK[1], MARK[0]]) == MARKER
    assert fake_detector.detect(rgb, threshold=0.2)[0, :4].tolist() == list(MARK)
