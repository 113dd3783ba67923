"""video_segments: keyframe plans, split and join by remux on generated clips (pixels and audio compared)."""

from pathlib import Path

import numpy as np
import pytest

from faceanon import video_segments
from faceanon.errors import InvalidRequestError, UnsupportedVideoError
from faceanon.video_segments import Segment, join_segments, plan_segments, probe, segments_of, split_segments

pytest.importorskip("av")

from support.aws_video import audio_seconds, decoded_frames, make_clip


def test_segments_cut_at_the_first_keyframe_after_the_target() -> None:
    plan = segments_of([0.0, 0.5, 1.0, 1.4, 2.1, 2.5], 3.0, 1.0)
    assert plan == [Segment(0.0, 1.0, 0), Segment(1.0, 2.1, 1), Segment(2.1, 3.0, 2)]


def test_a_short_video_is_one_segment() -> None:
    assert segments_of([0.0, 0.5], 0.9, 60.0) == [Segment(0.0, 0.9, 0)]


@pytest.mark.parametrize("target", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_target_is_refused(target: float) -> None:
    with pytest.raises(InvalidRequestError):
        segments_of([0.0], 1.0, target)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm"])
def test_split_then_join_gives_every_frame_back_with_its_audio(tmp_path: Path, suffix: str) -> None:
    clip = make_clip(tmp_path / f"clip{suffix}", frames=90, gop=15)
    plan = plan_segments(clip, 1.0)
    assert [s.index for s in plan] == [0, 1, 2]
    parts = split_segments(clip, plan, tmp_path / "parts")
    assert [len(decoded_frames(p)) for p in parts] == [30, 30, 30]
    joined = tmp_path / f"joined{suffix}"
    join_segments(parts, [s.start_s for s in plan], joined)
    before, after = decoded_frames(clip), decoded_frames(joined)
    assert len(after) == len(before) == 90
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # remux: the same pixels
    assert audio_seconds(joined) == pytest.approx(audio_seconds(clip), abs=0.03)
    facts = probe(joined)
    assert facts.duration_s == pytest.approx(3.0, abs=0.02)
    assert facts.audio_streams == 1


def test_segments_carry_no_metadata_and_no_data_streams(tmp_path: Path) -> None:
    import av

    clip = make_clip(tmp_path / "clip.mov", frames=30, audio=True)
    tagged = tmp_path / "tagged.mov"
    with av.open(str(clip)) as source, av.open(str(tagged), "w") as output:
        output.metadata.update({"location": "+48.8584+002.2945/", "comment": "serial 12345"})
        streams = {s.index: output.add_stream_from_template(s) for s in source.streams}
        for stream in streams.values():
            stream.metadata["handler_name"] = "DeviceSerial-12345"
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                output.mux(packet)
    with av.open(str(tagged)) as check:  # the input really carries them
        assert "12345" in repr(dict(check.metadata)) + "".join(repr(dict(s.metadata)) for s in check.streams)
    parts = split_segments(tagged, plan_segments(tagged, 60.0), tmp_path / "parts")
    joined = tmp_path / "joined.mov"
    join_segments(parts, [0.0], joined)
    for path in (*parts, joined):
        with av.open(str(path)) as result:
            text = repr(dict(result.metadata)) + "".join(repr(dict(s.metadata)) for s in result.streams)
            assert "12345" not in text
            assert "48.8584" not in text
            assert [s.type for s in result.streams] == ["video", "audio"]


def test_a_file_that_is_not_a_video_is_unsupported(tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"not a video at all" * 100)
    with pytest.raises(UnsupportedVideoError):
        plan_segments(bogus, 10.0)


def test_a_truncated_video_is_unsupported_or_shorter_never_a_crash(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", frames=60)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[:200])
    with pytest.raises(UnsupportedVideoError):
        plan_segments(cut, 10.0)


def test_join_refuses_segments_with_other_streams(tmp_path: Path) -> None:
    with_audio = make_clip(tmp_path / "a.mp4", frames=15)
    without = make_clip(tmp_path / "b.mp4", frames=15, audio=False)
    with pytest.raises(UnsupportedVideoError):
        join_segments([with_audio, without], [0.0, 0.5], tmp_path / "joined.mp4")


def test_video_keys_by_extension() -> None:
    assert video_segments.is_video_key("cams/Front.MP4")
    assert video_segments.is_video_key("a.webm")
    assert not video_segments.is_video_key("photo.jpg")
    assert not video_segments.is_video_key("mp4")


def test_extensions_match_the_video_module() -> None:
    video = pytest.importorskip("faceanon.video")
    assert video.VIDEO_EXTENSIONS == video_segments.VIDEO_EXTENSIONS
