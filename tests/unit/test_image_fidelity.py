"""Every image comes back as it came in: the odd-file corpus (tests/hostile/odd_images.py) through anonymise.

Each file goes through ``faceanon.service.anonymise`` with a detector that finds a face in the middle of every
frame. A valid file must come back in its format with the same frames (count, durations, disposal, loop,
default image, transparency), JPEG subsampling and TIFF compression, no metadata, the same pixels outside the
mask and the mask in every frame; anything else must be a clear domain error, never a crash.
"""

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, JpegImagePlugin

from faceanon.cli_inputs import discover
from faceanon.errors import ImageTooLargeError
from faceanon.image_formats import EXTENSIONS, FORMATS, MAX_FRAMES
from faceanon.images import decode
from faceanon.service import anonymise
from faceanon.settings import Settings
from hostile.odd_images import OddFile, gif_disposal, gif_frame_beyond_screen, odd_files, webp_identical_frames
from hostile.raw_images import ApngFrame, cube_palette, raw_apng, raw_gif
from support.fakes import BoxDetector, FakeDetector
from support.images import marked, to_bytes

FILL = "#ff00ff"
SETTINGS = Settings(method="fill", shape="box", mask_scale=1.0, fill=FILL)
# Mean absolute difference (0-255) allowed outside the mask, and distance to the fill inside it, per output.
TOLERANCE = {"JPEG": (6.0, 24.0), "WEBP": (6.0, 24.0), "AVIF": (6.0, 24.0), "HEIF": (6.0, 24.0)}
TIFF_KEPT = {"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "lzma", "zstd"}
METADATA_KEYS = {"exif", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "photoshop", "iptc", "Author"}


@dataclass(frozen=True)
class Shown:
    """One frame as a viewer sees it (Pillow composes animations), and how it is timed and disposed."""

    rgba: npt.NDArray[np.int16]
    duration: float | None
    disposal: int | None


def _shown(data: bytes) -> tuple[Image.Image, list[Shown]]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        image.load()
        disposal = image.disposal_method if image.format == "GIF" else image.info.get("disposal")
        frames.append(Shown(_rgba(image), image.info.get("duration"), disposal))
    image.seek(0)
    return image, frames


def _rgba(frame: Image.Image) -> npt.NDArray[np.int16]:
    if frame.mode.startswith("I;16"):  # Pillow clips 16-bit grey; faceanon keeps the high byte
        grey = (np.asarray(frame).astype(np.uint32) >> 8).astype(np.int16)
        return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return np.asarray(frame.convert("RGBA"), dtype=np.int16)


def _box(shape: tuple[int, ...], grow: int) -> tuple[slice, slice]:
    """BoxDetector's face (the middle half of the frame), grown (or shrunk, grow < 0) by grow pixels."""
    height, width = shape[:2]
    return (
        slice(max(int(height * 0.25) - grow, 0), int(np.ceil(height * 0.75)) + grow),
        slice(max(int(width * 0.25) - grow, 0), int(np.ceil(width * 0.75)) + grow),
    )


def _fill_value(mode: str, output_format: str) -> npt.NDArray[np.int16]:
    """The fill colour as the output holds it: grey output stays grey (a GIF is written from colour frames)."""
    fill = Image.new("RGB", (1, 1), FILL)
    if mode in ("L", "LA", "1", "I;16", "I;16B") and output_format != "GIF":
        fill = fill.convert("L").convert("RGB")
    return np.asarray(fill, dtype=np.int16)[0, 0]


def _lossless_webp(data: bytes) -> bool:
    return data[8:12] == b"WEBP" and b"VP8L" in data and b"VP8 " not in data


def _durations(frames: list[Shown]) -> list[float]:
    return [-1.0 if f.duration is None else float(f.duration) for f in frames]


VALID = [f for f in odd_files() if f.error is None]
INVALID = [f for f in odd_files() if f.error is not None]


@pytest.mark.parametrize("odd", VALID, ids=lambda f: f.name)
def test_every_frame_comes_back_as_it_came_in_and_masked(odd: OddFile) -> None:
    source, before = _shown(odd.data)
    detector = BoxDetector()
    result = anonymise(odd.data, SETTINGS, detector)
    output, after = _shown(result.image)

    assert output.format == source.format == result.format  # (MPO, which becomes JPEG, is not in the corpus)
    assert output.size == source.size
    assert len(after) == len(before) == result.frames == detector.calls  # no frame merged, dropped or added
    assert _durations(after) == pytest.approx(_durations(before))
    if source.format in ("GIF", "PNG") and len(before) > 1:
        assert [f.disposal for f in after] == [f.disposal for f in before]
    assert output.info.get("loop") == source.info.get("loop")
    assert bool(output.info.get("default_image")) == bool(source.info.get("default_image"))
    assert {face.frame for face in result.faces} == set(range(len(before)))

    outside, inside = TOLERANCE.get(result.format, (0.0, 0.0))
    if _lossless_webp(odd.data):  # written back lossless: exact
        assert _lossless_webp(result.image)
        outside, inside = 0.0, 0.0
    fill = _fill_value(source.mode, result.format)
    for index, (was, now) in enumerate(zip(before, after, strict=True)):
        alpha = odd.alpha[index] if odd.alpha else was.rgba[:, :, 3]
        np.testing.assert_array_equal(now.rgba[:, :, 3], alpha, err_msg=f"frame {index}: transparency changed")
        seen = alpha > 0  # hidden colour under transparent pixels is not part of the picture
        untouched = seen.copy()
        untouched[_box(was.rgba.shape, grow=2)] = False
        difference = np.abs(now.rgba[:, :, :3] - was.rgba[:, :, :3])[untouched]
        assert difference.size == 0 or difference.mean() <= outside, f"frame {index}: pixels changed outside"
        rows, cols = _box(was.rgba.shape, grow=-3 if result.format == "JPEG" else -1)
        masked = (now.rgba[rows, cols, :3] - fill)[seen[rows, cols]]
        assert masked.size == 0 or np.abs(masked).mean() <= inside, f"frame {index}: not masked"


@pytest.mark.parametrize("odd", VALID, ids=lambda f: f.name)
def test_no_metadata_comes_along(odd: OddFile) -> None:
    source = Image.open(io.BytesIO(odd.data))
    output = Image.open(io.BytesIO(anonymise(odd.data, SETTINGS, BoxDetector()).image))
    assert not [key for key in METADATA_KEYS if output.info.get(key)]  # (pillow_heif sets "exif": None)
    assert not dict(output.getexif()) or output.format == "TIFF"
    assert not {0x010F, 0x0110, 0x0131, 0x0132, 0x8769, 0x8825, 0x02BC, 0x83BB} & set(output.getexif())
    icc, kept = source.info.get("icc_profile"), output.info.get("icc_profile")
    assert kept in (None, icc)  # only the input's own colour profile, and only when it fits the output
    if source.format == "JPEG":
        assert JpegImagePlugin.get_sampling(output) == JpegImagePlugin.get_sampling(source)
        assert bool(output.info.get("progressive")) == bool(source.info.get("progressive"))
    if source.format == "TIFF":
        compression = source.info["compression"]
        assert output.info["compression"] == (compression if compression in TIFF_KEPT else "tiff_adobe_deflate")


def test_xmp_and_camera_text_of_a_real_photo_are_gone() -> None:
    chelsea = next((f for f in VALID if f.name == "sample_chelsea.png"), None)
    if chelsea is None:
        pytest.skip("scikit-image's sample photos are not installed")
    assert b"PENTAX" in chelsea.data
    output = anonymise(chelsea.data, SETTINGS, BoxDetector()).image
    assert b"PENTAX" not in output
    assert b"xmpmeta" not in output


def test_the_hubble_photo_keeps_its_adobe_rgb_profile() -> None:
    hubble = next((f for f in VALID if f.name == "sample_hubble_deep_field.jpg"), None)
    if hubble is None:
        pytest.skip("scikit-image's sample photos are not installed")
    profile = Image.open(io.BytesIO(hubble.data)).info["icc_profile"]
    output = Image.open(io.BytesIO(anonymise(hubble.data, SETTINGS, BoxDetector()).image))
    assert output.info.get("icc_profile") == profile  # the code keeps a matching colour profile (README)


@pytest.mark.parametrize("odd", INVALID, ids=lambda f: f.name)
def test_what_cannot_be_read_is_a_clear_domain_error(odd: OddFile) -> None:
    assert odd.error is not None
    detector = BoxDetector()
    with pytest.raises(odd.error, match=odd.message):
        anonymise(odd.data, SETTINGS, detector)
    assert detector.calls == 0


# -- a face in one frame only -----------------------------------------------------------------------------------

FACE = (10, 6, 22, 18)  # x1, y1, x2, y2 of the marker in frame 2


def _in_format(fmt: str) -> bytes:
    """Five frames on a 6-level colour cube palette, each with its own top row; the red marker in frame 2 only."""
    x1, y1, x2, y2 = FACE
    indices = []
    for index in range(5):
        frame = np.full((28, 36), 30, np.uint8)  # green
        frame[0, :] = 100 + index
        if index == 2:
            frame[y1:y2, x1:x2] = 250  # the palette's pure red: FakeDetector's face
        indices.append(frame)
    palette = cube_palette()
    if fmt == "GIF":
        return raw_gif(indices, palette, delays_cs=[5] * 5, disposals=[1] * 5, transparency=None)
    frames = [palette.reshape(-1, 3)[frame] for frame in indices]
    if fmt == "PNG":
        return raw_apng(36, 28, [ApngFrame(np.dstack([f, np.full(f.shape[:2], 255, np.uint8)])) for f in frames])
    pictures = [Image.fromarray(f) for f in frames]
    options = {"lossless": True} if fmt == "WEBP" else {}
    return to_bytes(pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=50, **options)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "TIFF"])
def test_a_face_in_frame_3_only_is_masked_in_frame_3_only(fmt: str) -> None:
    data = _in_format(fmt)
    _, before = _shown(data)
    result = anonymise(data, SETTINGS, FakeDetector())
    _, after = _shown(result.image)
    assert [face.frame for face in result.faces] == [2]
    assert len(after) == len(before) == 5
    lossy = 0.0  # every input here is lossless, so is every output (a lossless WebP stays lossless)
    x1, y1, x2, y2 = FACE
    for index, (was, now) in enumerate(zip(before, after, strict=True)):
        if index == 2:
            masked = now.rgba[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1, :3] - _fill_value("RGB", fmt)
            assert np.abs(masked).mean() <= (24.0 if lossy else 0.0)
            now.rgba[y1:y2, x1:x2], was.rgba[y1:y2, x1:x2] = 0, 0
        assert np.abs(now.rgba - was.rgba).mean() <= lossy, f"frame {index} changed"


# -- limits stay enforced ---------------------------------------------------------------------------------------


def test_apng_frames_count_towards_the_pixel_limit() -> None:
    data = raw_apng(20, 10, [ApngFrame(np.zeros((10, 20, 4), np.uint8) + i) for i in range(4)])
    with pytest.raises(ImageTooLargeError, match="4 frames"):
        decode(data, max_pixels=799, max_bytes=1_000_000)
    assert len(decode(data, max_pixels=800, max_bytes=1_000_000).frames) == 4


def test_a_gif_frame_beyond_the_screen_is_refused_before_pillow_allocates_it(monkeypatch: pytest.MonkeyPatch) -> None:
    allocations: list[int] = []
    fill = Image.core.fill

    def recording_fill(mode: str, size: tuple[int, int], *colour: object) -> object:
        allocations.append(size[0] * size[1])
        return fill(mode, size, *colour)

    monkeypatch.setattr(Image.core, "fill", recording_fill)
    with pytest.raises(ImageTooLargeError, match="18544x45834"):
        decode(gif_frame_beyond_screen(), max_pixels=50_000_000, max_bytes=1_000_000)
    assert max(allocations, default=0) <= 30 * 20


def test_more_frames_than_the_limit_is_refused() -> None:
    frames = [ApngFrame(np.full((1, 1, 4), i % 256, np.uint8)) for i in range(MAX_FRAMES + 1)]
    with pytest.raises(ImageTooLargeError, match=f"the limit is {MAX_FRAMES}"):
        decode(raw_apng(1, 1, frames), max_pixels=10_000_000, max_bytes=10_000_000)


def test_webp_identical_frames_stay_apart_with_their_durations() -> None:
    result = anonymise(webp_identical_frames(), SETTINGS, BoxDetector())
    image, frames = _shown(result.image)
    assert result.frames == image.n_frames == 5
    assert [f.duration for f in frames] == [100, 200, 300, 400, 500]
    assert image.info["loop"] == 3


def test_gif_restore_to_background_leaves_nothing_of_earlier_frames() -> None:
    _, frames = _shown(anonymise(gif_disposal(2), Settings(method="fill"), FakeDetector()).image)
    first_sprite = (slice(4, 20), slice(2, 12))
    assert frames[0].rgba[first_sprite][:, :, 3].min() == 255
    assert frames[1].rgba[first_sprite][:, :, 3].max() == 0  # disposed: transparent again in frame 2


# -- the folder search and the decoder accept the same files ----------------------------------------------------


def _example(fmt: str) -> bytes:
    picture = Image.fromarray(marked(24, 16, (0, 0, 0, 0)))
    if fmt == "MPO":
        return to_bytes(picture, "MPO", save_all=True, append_images=[picture])
    return to_bytes(picture, fmt)


def test_every_extension_the_folder_search_takes_is_an_image_the_decoder_reads(tmp_path: Path) -> None:
    by_extension = {ext: pillow for pillow, fmt in FORMATS.items() for ext in fmt.extensions}
    assert set(by_extension) == set(EXTENSIONS)
    for ext, pillow in by_extension.items():
        (tmp_path / f"x{ext.replace('.', '_')}{ext}").write_bytes(_example(pillow))
    (tmp_path / "still.dib").write_bytes(to_bytes(Image.new("RGB", (4, 4)), "BMP"))  # a .dib with a file header
    for ignored in ("x.ppm", "x.ico", "x.txt", "x.psd"):
        (tmp_path / ignored).write_bytes(to_bytes(Image.new("RGB", (4, 4)), "PPM"))
    jobs, missing = discover([str(tmp_path)], tmp_path / "out")
    assert not missing
    found = {job.source.name for job in jobs if not isinstance(job, str)}
    assert found == {p.name for p in tmp_path.iterdir() if p.suffix in EXTENSIONS}
    for name in found:
        decoded = decode((tmp_path / name).read_bytes(), max_pixels=10_000, max_bytes=1_000_000)
        assert decoded.format == ("BMP" if name == "still.dib" else EXTENSIONS[Path(name).suffix])


def test_a_headerless_dib_comes_back_as_a_dib() -> None:
    data = to_bytes(Image.fromarray(marked(24, 16, (4, 4, 10, 10))), "DIB")
    assert struct.unpack("<I", data[:4])[0] == 40  # starts with the info header, no "BM"
    result = anonymise(data, SETTINGS, FakeDetector())
    assert (result.format, result.content_type) == ("DIB", "image/bmp")
    assert result.image[:4] == data[:4]
