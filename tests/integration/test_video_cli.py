"""Video end to end with the real model: `faceanon anonymise clip.mp4`, tracking over missed frames, --fast,
every container and codec family in and out, audio copied untouched, no metadata carried over."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from faceanon.cli import main
from faceanon.detector import CenterFaceDetector
from faceanon.settings import Settings
from faceanon.tracking import TrackerOptions
from faceanon.video import anonymise_video
from support.fakes import BoxDetector
from support.videos import Clip, face_clip, frames_with_a_face, read_frames, write_clip

Box = tuple[float, float, float, float]


def _core(box: Box, fraction: float = 0.5) -> tuple[slice, slice]:
    """The central part of a face box (rows, columns): what any face mask must cover."""
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * fraction / 2, (y2 - y1) * fraction / 2
    return slice(round(cy - hh), round(cy + hh)), slice(round(cx - hw), round(cx + hw))


def _masked(frame: npt.NDArray[np.uint8], box: Box) -> bool:
    rows, cols = _core(box)
    return bool(frame[rows, cols].astype(float).mean() < 20)  # black fill, after a lossy codec


def _exposed_frames(clip: Clip, output: Path) -> list[int]:
    frames = read_frames(output)
    assert len(frames) == len(clip.faces)
    return [i for i, (frame, box) in enumerate(zip(frames, clip.faces, strict=True)) if box and not _masked(frame, box)]


class DroppingDetector:
    """The real detector, except that it misses every face in the frames listed (as detectors do for a frame
    or two when a face turns or blurs): what tracking must cover."""

    def __init__(self, real: CenterFaceDetector, drop: set[int]) -> None:
        self.real, self.drop, self.calls = real, drop, 0
        self.model_path = real.model_path

    def detect(self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str) -> npt.NDArray[np.float32]:
        index, self.calls = self.calls, self.calls + 1
        found = self.real.detect(rgb, threshold=threshold, detection=detection)
        return np.zeros((0, 5), dtype=np.float32) if index in self.drop else found


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    folder = tmp_path_factory.mktemp("video")
    metadata = {"creation_time": "2021-06-01T12:00:00Z", "location": "+48.8584+002.2945/", "comment": "serial 1234"}
    return face_clip(folder / "walk.mp4", audio=True, metadata=metadata)


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as source:
        return [bytes(p) for p in source.demux(audio=0) if p.size]


def test_cli_anonymises_a_clip_same_container_codec_timing_audio_no_metadata(clip: Clip, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = main(["anonymise", str(clip.path), "-o", str(tmp_path / "out"), "--report", str(report), "-j", "1", "-q"])
    assert code == 0
    output = tmp_path / "out" / "walk.mp4"
    assert _exposed_frames(clip, output) == []
    with av.open(str(clip.path)) as source, av.open(str(output)) as result:
        src_video, out_video = source.streams.video[0], result.streams.video[0]
        assert result.format.name == source.format.name
        assert out_video.codec_context.name == src_video.codec_context.name == "h264"
        assert out_video.average_rate == src_video.average_rate == 30
        assert out_video.frames == src_video.frames == 30
        assert out_video.duration * out_video.time_base == src_video.duration * src_video.time_base
        assert len(result.streams.audio) == 1
        assert "creation_time" not in result.metadata
        assert "location" not in result.metadata
        assert "comment" not in result.metadata
        assert all("creation_time" not in stream.metadata for stream in result.streams)
    assert "creation_time" in av.open(str(clip.path)).metadata  # the input had it: the check above can fail
    assert _audio_packets(output) == _audio_packets(clip.path)  # copied untouched
    row = json.loads(report.read_text())["files"][0]
    assert row["status"] == "anonymised"
    assert row["frames"] == 30
    assert row["face_count"] == 1  # one track
    assert len(row["faces_per_frame"]) == 30
    assert min(row["faces_per_frame"]) >= 1


def test_unmasked_pixels_stay_close_to_the_input(clip: Clip, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    anonymise_video(clip.path, output, Settings())
    before, after = read_frames(clip.path), read_frames(output)
    corner = (slice(0, 40), slice(0, 40))  # the face never comes near the top-left corner
    for src, out in zip(before, after, strict=True):
        assert np.abs(src[corner].astype(int) - out[corner].astype(int)).mean() < 4


def test_tracking_masks_the_frames_the_detector_misses(
    clip: Clip, tmp_path: Path, real_detector: CenterFaceDetector
) -> None:
    missed = {9, 10, 11, 20}
    with_tracking = anonymise_video(
        clip.path, tmp_path / "tracked.mp4", Settings(), detector=DroppingDetector(real_detector, missed)
    )
    assert _exposed_frames(clip, tmp_path / "tracked.mp4") == []
    assert with_tracking.tracks == 1
    assert with_tracking.detected_faces == 30 - len(missed)
    no_tracking = anonymise_video(
        clip.path,
        tmp_path / "per_frame.mp4",
        Settings(),
        detector=DroppingDetector(real_detector, missed),
        tracker=TrackerOptions(hold_frames=0),
    )
    assert _exposed_frames(clip, tmp_path / "per_frame.mp4") == sorted(missed)  # what tracking saved
    assert [no_tracking.faces_per_frame[i] for i in sorted(missed)] == [0, 0, 0, 0]


def test_fast_detects_every_third_frame_and_still_masks_every_frame(clip: Clip, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    out = tmp_path / "out"
    assert main(["anonymise", str(clip.path), "-o", str(out), "--fast", "--report", str(report), "-j", "1", "-q"]) == 0
    assert _exposed_frames(clip, out / "walk.mp4") == []
    row = json.loads(report.read_text())["files"][0]
    assert row["every"] == 3


def test_keep_boxes_and_the_report(clip: Clip, tmp_path: Path) -> None:
    result = anonymise_video(clip.path, tmp_path / "o.mp4", Settings(), every=2, keep_boxes=True)
    assert result.boxes is not None
    assert len(result.boxes) == result.frames == 30
    assert all(b.dtype == np.float32 and b.shape[1] == 6 for b in result.boxes)
    report = result.to_report()
    json.dumps(report)
    assert len(report["boxes"]) == 30
    assert set(result.timings_ms) == {"decode", "detect", "mask", "encode", "total"}
    plain = anonymise_video(clip.path, tmp_path / "p.mp4", Settings()).to_report()
    assert "boxes" not in plain


def test_creation_time_only_when_asked(clip: Clip, tmp_path: Path) -> None:
    anonymise_video(clip.path, tmp_path / "kept.mp4", Settings(), keep_creation_time=True)
    with av.open(str(tmp_path / "kept.mp4")) as kept:
        assert kept.metadata["creation_time"].startswith("2021-06-01T12:00:00")
        assert "location" not in kept.metadata
    out = tmp_path / "cli"
    flags = ["--every", "5", "--keep-creation-time", "-j", "1", "-q"]
    assert main(["anonymise", str(clip.path), "-o", str(out), *flags]) == 0
    with av.open(str(out / "walk.mp4")) as kept:
        assert kept.metadata["creation_time"].startswith("2021-06-01T12:00:00")
        assert "comment" not in kept.metadata


@pytest.mark.parametrize(
    ("name", "codec", "expected"),
    [
        ("clip.mkv", "libx264", ("matroska,webm", "h264")),
        ("clip.webm", "libvpx-vp9", ("matroska,webm", "vp9")),
        ("clip.webm", "libvpx", ("matroska,webm", "vp8")),
        ("clip.mov", "mpeg4", ("mov,mp4,m4a,3gp,3g2,mj2", "mpeg4")),
        ("clip.mp4", "libx265", ("mov,mp4,m4a,3gp,3g2,mj2", "hevc")),
        ("clip.mkv", "libsvtav1", ("matroska,webm", "av1")),
    ],
)
def test_every_container_and_codec_family_round_trips(
    tmp_path: Path, name: str, codec: str, expected: tuple[str, str]
) -> None:
    options = {"x265-params": "log-level=error"} if codec == "libx265" else None
    clip = face_clip(tmp_path / name, codec=codec, options=options)
    output = tmp_path / f"out{clip.path.suffix}"
    result = anonymise_video(clip.path, output, Settings(), every=3)
    assert _exposed_frames(clip, output) == []
    with av.open(str(output)) as out:
        video = out.streams.video[0]
        assert (out.format.name, video.codec_context.codec.canonical_name) == expected
        assert video.average_rate == 30
    assert result.frames == 30
    if name.endswith(".webm"):
        with av.open(str(output)) as out:
            assert out.format.name.startswith("matroska")  # FFmpeg names the webm family so
        assert output.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML


def test_a_folder_of_photos_and_videos(clip: Clip, tmp_path: Path, sample_bytes: bytes) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "walk.mp4").write_bytes(clip.path.read_bytes())
    (folder / "photo.jpg").write_bytes(sample_bytes)
    assert main(["anonymise", str(folder), "-j", "1", "-q"]) == 0
    assert (folder / "walk_anonymised.mp4").is_file()
    assert (folder / "photo_anonymised.jpg").is_file()
    assert main(["anonymise", str(folder / "walk.mp4"), "-o", "-", "-q"]) == 2  # a video never goes to stdout


def test_a_fast_face_with_detection_every_third_frame_stays_one_track(tmp_path: Path) -> None:
    fast = face_clip(tmp_path / "fast.mp4", count=16)  # 15 px a frame (a quarter of the face): IoU < 0.3 at 3 frames
    result = anonymise_video(fast.path, tmp_path / "out.mp4", Settings(detection="fast"), every=3, keep_boxes=True)
    assert result.tracks == 1
    assert _exposed_frames(fast, tmp_path / "out.mp4") == []
    assert result.boxes is not None
    assert {int(row[5]) for boxes in result.boxes for row in boxes} == {0}  # no stale copies of the face left behind
    assert result.faces_per_frame[::3] == (1,) * 6  # detected frames: the detection; between: + the backfilled box


def test_a_face_entering_between_detections_is_masked_before_it_is_detected(tmp_path: Path) -> None:
    frames, faces = frames_with_a_face(20, hide=(0,))  # frame 0 (detected): no face; frames 1 and 2: not detected
    clip = Clip(write_clip(tmp_path / "enter.mp4", frames), faces)
    result = anonymise_video(clip.path, tmp_path / "out.mp4", Settings(detection="fast"), every=3)
    assert result.faces_per_frame[0] == 0
    assert _exposed_frames(clip, tmp_path / "out.mp4") == []  # frames 1 and 2 backfilled from the detection at 3


def test_colour_tags_and_colours_are_kept(tmp_path: Path) -> None:
    source = tmp_path / "hd.mp4"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        context = stream.codec_context
        context.colorspace, context.color_primaries, context.color_trc, context.color_range = 1, 1, 1, 1  # BT.709
        for index in range(5):
            rgb = np.full((48, 64, 3), (200, 40, 60), np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p", dst_colorspace=1)
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    output = tmp_path / "out.mp4"
    anonymise_video(source, output, Settings(), detector=BoxDetector(((0.0, 0.0, 0.05, 0.05, 0.9),)))
    with av.open(str(output)) as result:
        context = result.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == (1, 1, 1, 1)
    for frame in read_frames(output):
        assert np.abs(frame[24, 32].astype(int) - (200, 40, 60)).max() <= 6


def test_cover_art_is_skipped_and_the_pixel_aspect_ratio_kept(tmp_path: Path) -> None:
    frames, _ = frames_with_a_face(10)
    source = tmp_path / "cover.mp4"
    with av.open(str(source), "w") as out:
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 320, 240, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.codec_context.sample_aspect_ratio = Fraction(4, 3)
        picture = av.VideoFrame.from_ndarray(frames[0], format="rgb24")
        picture.pts = 0
        out.mux(cover.encode(picture))
        out.mux(cover.encode(None))
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    with av.open(str(source)) as check:
        assert sorted(s.codec_context.name for s in check.streams.video) == ["h264", "mjpeg"]  # the cover is there
    output = tmp_path / "out.mp4"
    result = anonymise_video(source, output, Settings(), detector=BoxDetector())
    assert (result.frames, result.video_codec) == (10, "h264")
    with av.open(str(output)) as out:
        assert [s.codec_context.name for s in out.streams] == ["h264"]  # the cover (a picture of faces) is gone
        assert out.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
