"""Bad and hostile video fails closed: a clear domain error, a failed CLI row (exit 1), and nothing on the output
side, neither the output nor a partial temporary file."""

import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from faceanon.cli import main
from faceanon.errors import FaceAnonError, ImageTooLargeError, ModelError, UnsupportedVideoError
from faceanon.settings import Settings
from faceanon.video import VideoLimits, anonymise_video
from support.fakes import BoxDetector
from support.videos import frames_with_a_face, write_clip

FRAMES, _ = frames_with_a_face(30)


def _truncated(path: Path, fraction: float, **options: object) -> Path:
    full = write_clip(path.with_name(f"full{path.suffix}"), FRAMES, **options)  # type: ignore[arg-type]
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    full.unlink()
    return path


def _faststart(path: Path) -> Path:
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index, rgb in enumerate(FRAMES):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _no_frames(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=48000)
        sound.layout = "mono"
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 48000, 0
        out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
    return path


def _hdr(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.color_trc = 16  # SMPTE ST 2084 (PQ)
        stream.codec_context.color_primaries = 9  # BT.2020
        for index, rgb in enumerate(FRAMES[:5]):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _truncated_faststart(path: Path, fraction: float) -> Path:
    full = _faststart(path.with_name("full.mp4"))
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _vfr_pts() -> list[int]:
    # 1/90 s ticks: steps of 3 (30 fps) and 6 (15 fps) alternate
    return [sum(3 if i % 2 else 6 for i in range(k)) for k in range(30)]


DAMAGED = "corrupt|truncated|could not be decoded"
Maker = Callable[[Path], Path]
CASES: list[tuple[str, str, Maker, type[FaceAnonError], str]] = [
    ("truncated mp4 (index at the end)", "t.mp4", lambda p: _truncated(p, 0.9), UnsupportedVideoError, "truncated"),
    ("truncated mp4 (index first)", "t.mp4", lambda p: _truncated_faststart(p, 0.9), UnsupportedVideoError, DAMAGED),
    ("truncated mp4, half", "t.mp4", lambda p: _truncated_faststart(p, 0.5), UnsupportedVideoError, DAMAGED),
    ("truncated mkv", "t.mkv", lambda p: _truncated(p, 0.8), UnsupportedVideoError, "truncated"),
    (
        "truncated webm",
        "t.webm",
        lambda p: _truncated(p, 0.8, codec="libvpx-vp9"),
        UnsupportedVideoError,
        "truncated",
    ),
    ("empty file", "e.mp4", lambda p: (p.write_bytes(b""), p)[1], UnsupportedVideoError, "not a video"),
    (
        "junk bytes",
        "j.mkv",
        lambda p: (p.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 999), p)[1],
        UnsupportedVideoError,
        "not a video",
    ),
    ("zero-length video stream", "z.mp4", _no_frames, UnsupportedVideoError, "not a video|no frames"),
    ("zero-length video stream mkv", "z.mkv", _no_frames, UnsupportedVideoError, "not a video|no frames"),
    ("no video stream", "a.mp4", _audio_only, UnsupportedVideoError, "no video stream"),
    (
        "unknown codec (motion JPEG)",
        "m.mkv",
        lambda p: write_clip(p, FRAMES, codec="mjpeg", pix_fmt="yuvj420p"),
        UnsupportedVideoError,
        "unsupported video codec 'mjpeg'",
    ),
    (
        "variable frame rate",
        "v.mp4",
        lambda p: write_clip(p, FRAMES, pts=_vfr_pts()),
        UnsupportedVideoError,
        "variable frame rate",
    ),
    (
        "rotation metadata",
        "r.mp4",
        lambda p: write_clip(p, FRAMES, rotation=90),
        UnsupportedVideoError,
        "rotation metadata",
    ),
    (
        "10-bit",
        "b.mp4",
        lambda p: write_clip(p, FRAMES, pix_fmt="yuv420p10le"),
        UnsupportedVideoError,
        "10-bit",
    ),
    ("HDR (PQ)", "h.mp4", _hdr, UnsupportedVideoError, "HDR"),
    (
        "odd frame size",
        "odd.mp4",
        lambda p: write_clip(p, [np.zeros((241, 321, 3), np.uint8)] * 3, pix_fmt="yuv444p"),
        UnsupportedVideoError,
        "odd frame size 321x241",
    ),
    (
        "over the resolution limit",
        "big.mp4",
        lambda p: write_clip(p, [np.zeros((2176, 3904, 3), np.uint8)]),
        ImageTooLargeError,
        "at most 3840x2160",
    ),
]


@pytest.mark.parametrize(("name", "file", "make", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_video_fails_closed(
    tmp_path: Path, name: str, file: str, make: Maker, error: type[FaceAnonError], message: str
) -> None:
    source = make(tmp_path / file)
    out_dir = tmp_path / "out"
    with pytest.raises(error, match=message):
        anonymise_video(source, out_dir / file, Settings(), detector=BoxDetector())
    assert not out_dir.exists() or list(out_dir.iterdir()) == []  # no output, no partial file


def test_over_the_duration_and_frame_limits(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "long.mp4", FRAMES)
    with pytest.raises(ImageTooLargeError, match=r"lasts 1 s; at most 0\.5 s"):
        anonymise_video(
            source, tmp_path / "o.mp4", Settings(), detector=BoxDetector(), limits=VideoLimits(max_seconds=0.5)
        )
    with pytest.raises(ImageTooLargeError, match="more than 10 frames"):
        anonymise_video(
            source, tmp_path / "o.mp4", Settings(), detector=BoxDetector(), limits=VideoLimits(max_frames=10)
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


class FailingDetector(BoxDetector):
    """Works for some frames, then the model fails: the frames already encoded must not reach the output."""

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        if self.calls >= 20:
            raise ModelError("inference failed")
        return super().detect(rgb, threshold=threshold, detection=detection)


def test_a_failure_mid_video_leaves_nothing_and_an_old_output_untouched(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "clip.mp4", FRAMES)
    target = tmp_path / "out" / "clip.mp4"
    target.parent.mkdir()
    target.write_bytes(b"earlier output")
    with pytest.raises(ModelError):
        anonymise_video(source, target, Settings(), detector=FailingDetector())
    assert target.read_bytes() == b"earlier output"
    assert [p.name for p in target.parent.iterdir()] == ["clip.mp4"]


def test_the_cli_reports_a_refused_video_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_clip(tmp_path / "phone.mp4", FRAMES[:5], rotation=90)
    assert main(["anonymise", str(source), "-o", str(tmp_path / "out"), "-j", "1", "-q"]) == 1
    assert "rotation metadata" in capsys.readouterr().err
    assert not (tmp_path / "out" / "phone.mp4").exists()


def test_output_over_input_and_bad_every_are_refused(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "clip.mp4", FRAMES[:3])
    with pytest.raises(FaceAnonError, match="over the input"):
        anonymise_video(source, source, Settings(), detector=BoxDetector())
    with pytest.raises(FaceAnonError, match="every"):
        anonymise_video(source, tmp_path / "o.mp4", Settings(), detector=BoxDetector(), every=0)


class _Pipe(io.RawIOBase):
    """A write-only stream that cannot seek: the muxer cannot go back to write the duration (as browsers do)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, chunk: Any) -> int:
        self.data += chunk
        return len(chunk)


def _live_webm(path: Path) -> Path:
    pipe = _Pipe()
    with av.open(pipe, "w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=30, options={"deadline": "realtime", "cpu-used": "8"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index, rgb in enumerate(FRAMES):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    path.write_bytes(bytes(pipe.data))
    return path


def test_a_webm_without_duration_is_anonymised_and_its_length_checked_per_frame(tmp_path: Path) -> None:
    source = _live_webm(tmp_path / "live.webm")
    with av.open(str(source)) as probe:
        assert probe.duration is None  # what this test is about
    result = anonymise_video(source, tmp_path / "out.webm", Settings(), detector=BoxDetector())
    assert result.frames == 30
    with pytest.raises(ImageTooLargeError, match=r"lasts more than 0\.5 s"):
        anonymise_video(
            source, tmp_path / "o2.webm", Settings(), detector=BoxDetector(), limits=VideoLimits(max_seconds=0.5)
        )
    assert not (tmp_path / "o2.webm").exists()


def test_frames_stream_through_in_bounded_memory(tmp_path: Path) -> None:
    frames, _ = frames_with_a_face(240)  # 240 RGB frames: 55 MB if they were all held at once
    source = write_clip(tmp_path / "long.mp4", frames)
    del frames
    tracemalloc.start()
    try:
        result = anonymise_video(source, tmp_path / "out.mp4", Settings(), detector=BoxDetector())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.frames == 240
    assert peak < 12 * 1024 * 1024  # a handful of frames (230 kB each) and their masks, not the whole video


@pytest.mark.parametrize("seed", range(6))
def test_corrupted_bytes_fail_with_a_domain_error_or_every_frame_masked(tmp_path: Path, seed: int) -> None:
    clean = write_clip(tmp_path / "clean.mp4", FRAMES, container="mp4" if seed % 2 else "matroska")
    data = bytearray(clean.read_bytes())
    rng = np.random.default_rng(seed)
    for offset in rng.integers(len(data) // 10, len(data), size=30):
        data[offset] ^= 0xFF
    source = tmp_path / ("bad.mp4" if seed % 2 else "bad.mkv")
    source.write_bytes(bytes(data))
    target = tmp_path / "out" / source.name
    try:
        result = anonymise_video(source, target, Settings(), detector=BoxDetector())
    except FaceAnonError:
        assert not target.exists()
    else:
        with av.open(str(target)) as out:
            assert sum(1 for _ in out.decode(video=0)) == result.frames
    assert [p.name for p in (tmp_path / "out").iterdir()] in ([], [source.name])
