"""Split a video at keyframes into segments and join segments back, by remuxing (no re-encoding).

Long videos on AWS are anonymised in parallel: ``plan_segments`` picks cut points at video keyframes about
``target_seconds`` apart, ``split_segments`` copies each span's packets (video and audio) into its own file
of the same container, its timestamps shifted back by the span's start, and ``join_segments`` concatenates
the anonymised segments, shifting each one's timestamps forward again so audio stays in step with video.
Streams other than the first video stream and the audio streams (data tracks such as GPS or device
telemetry, subtitles, attachments, cover art) are never copied, and no container or stream metadata is.

PyAV (``av``) is imported inside the functions: the photo layer imports this module (the upload queue
routes videos by extension) without carrying FFmpeg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequestError, UnsupportedVideoError

if TYPE_CHECKING:
    from collections.abc import Sequence

# Kept equal to faceanon.video.VIDEO_EXTENSIONS (tests/unit/test_video_segments.py checks it when that
# module is importable): this module must not import faceanon.video, which the photo layer does not ship.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm")
# FFmpeg muxer per extension: the same container out as in.
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


def is_video_key(key: str) -> bool:
    """Whether an object key or file name names a video faceanon handles (by extension, case-insensitive)."""
    return key.lower().endswith(VIDEO_EXTENSIONS)


@dataclass(frozen=True)
class Segment:
    start_s: float  # the keyframe the segment starts at (0 for the first)
    end_s: float  # the next segment's start, or the video's end
    index: int

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class VideoProbe:
    """What the plan step checks before any work: read from the container and packet headers only."""

    container: str
    video_codec: str
    width: int
    height: int
    duration_s: float
    audio_streams: int
    keyframes_s: tuple[float, ...]  # presentation times of the video keyframes, ascending
    # Times are the stream's own timestamps in seconds (a first frame may be at 0.033 s: B-frame delay);
    # segments are cut and shifted in the same clock, so a split and join gives the timestamps back.


def _open(path: Path) -> Any:
    import av

    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UnsupportedVideoError("the file is not a video faceanon can read") from exc


def _video_stream(container: Any) -> Any:
    if not container.streams.video:
        raise UnsupportedVideoError("the file has no video stream")
    return container.streams.video[0]


def _copied_streams(container: Any) -> list[Any]:
    return [_video_stream(container), *container.streams.audio]


def probe(path: Path) -> VideoProbe:
    """Container facts and keyframe times, demuxing packets without decoding any frame."""
    import av

    container = _open(path)
    try:
        video = _video_stream(container)
        base = video.time_base
        keyframes: list[float] = []
        last_end = 0.0
        try:
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                start = float(packet.pts * base)
                last_end = max(last_end, start + float((packet.duration or 0) * base))
                if packet.is_keyframe:
                    keyframes.append(start)
        except av.error.FFmpegError as exc:
            raise UnsupportedVideoError("the video is truncated or corrupt") from exc
        if not keyframes:
            raise UnsupportedVideoError("the video stream has no frames")
        return VideoProbe(
            container=path.suffix.lower(),
            video_codec=video.codec_context.name,
            width=int(video.codec_context.width),
            height=int(video.codec_context.height),
            duration_s=round(last_end, 6),
            audio_streams=len(container.streams.audio),
            keyframes_s=tuple(sorted(keyframes)),
        )
    finally:
        container.close()


def segments_of(keyframes_s: Sequence[float], duration_s: float, target_seconds: float) -> list[Segment]:
    """Cut at the first keyframe at least ``target_seconds`` after the current segment's start."""
    if not math.isfinite(target_seconds) or target_seconds <= 0:
        raise InvalidRequestError("target_seconds must be a positive number")
    cuts = [0.0]
    for keyframe in sorted(keyframes_s):
        if keyframe - cuts[-1] >= target_seconds and keyframe < duration_s:
            cuts.append(keyframe)
    ends = [*cuts[1:], duration_s]
    return [Segment(start, end, index) for index, (start, end) in enumerate(zip(cuts, ends, strict=True))]


def plan_segments(path: Path, target_seconds: float) -> list[Segment]:
    """Segments of about ``target_seconds`` each, starting at keyframes; one segment for a short video."""
    facts = probe(path)
    return segments_of(facts.keyframes_s, facts.duration_s, target_seconds)


def _muxer(path: Path) -> str:
    muxer = MUXERS.get(path.suffix.lower())
    if muxer is None:
        raise UnsupportedVideoError(f"unsupported video container {path.suffix or '(none)'}")
    return muxer


def _open_output(path: Path, template: Any, streams: list[Any]) -> tuple[Any, dict[int, Any]]:
    import av

    output = av.open(str(path), mode="w", format=_muxer(path))
    mapping = {}
    for stream in streams:
        copy = output.add_stream_from_template(stream)
        copy.metadata.clear()  # language, handler and encoder names, creation times: none carried over
        mapping[stream.index] = copy
    output.metadata.clear()
    return output, mapping


def _ticks(seconds: float, time_base: Fraction) -> int:
    return round(Fraction(seconds).limit_denominator(1_000_000) / time_base)


def _fill_dts(packet: Any, last_dts: dict[int, int], key: int) -> None:
    """Give a packet without dts (Matroska's demuxer leaves the first ones of a stream unset) one just
    after the stream's last, so the muxer never sees time going back at a segment boundary."""
    previous = last_dts.get(key)
    if packet.dts is None and previous is not None and packet.pts is not None:
        packet.dts = min(previous + 1, packet.pts)
    if packet.dts is not None:
        last_dts[key] = packet.dts


def split_segments(src: Path, segments: Sequence[Segment], out_dir: Path) -> list[Path]:
    """Write ``out_dir/segment-NNNNN<ext>`` per segment in one pass over the packets; returns the paths.

    A video packet belongs to the segment its decode-order run started in (a keyframe at a cut opens the
    next segment), an audio packet to the segment its presentation time falls in. Each segment's timestamps
    are shifted back by the segment's start.
    """
    import av

    if not segments:
        raise InvalidRequestError("no segments to split")
    out_dir.mkdir(parents=True, exist_ok=True)
    container = _open(src)
    paths = [out_dir / f"segment-{s.index:05d}{src.suffix.lower()}" for s in segments]
    outputs: list[tuple[Any, dict[int, Any]]] = []
    try:
        streams = _copied_streams(container)
        video = streams[0]
        outputs = [_open_output(path, container, streams) for path in paths]
        starts = [s.start_s for s in segments]
        current = 0  # the video's segment (decode order)
        for packet in container.demux(streams):
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's flush packet
            stream = packet.stream
            base = stream.time_base
            at = float((packet.pts if packet.pts is not None else packet.dts) * base)
            if stream.index == video.index:
                if packet.is_keyframe and current + 1 < len(starts) and at >= starts[current + 1] - 1e-6:
                    current += 1
                target = current
            else:
                target = max(i for i, start in enumerate(starts) if start <= max(at, 0.0) + 1e-6)
            output, mapping = outputs[target]
            shift = _ticks(starts[target], base)
            packet.pts = None if packet.pts is None else packet.pts - shift
            packet.dts = None if packet.dts is None else packet.dts - shift
            packet.stream = mapping[stream.index]
            output.mux(packet)
    except av.error.FFmpegError as exc:
        raise UnsupportedVideoError("the video is truncated or corrupt") from exc
    finally:
        for output, _ in outputs:
            output.close()
        container.close()
    return paths


def join_segments(parts: Sequence[Path], starts_s: Sequence[float], dst: Path) -> None:
    """Concatenate anonymised segments into ``dst`` (the container of ``dst``'s extension).

    Segment ``i``'s timestamps are shifted by ``starts_s[i]`` (its span's start in the source), so gaps or
    rounding in one segment never move the audio of the next. Every part must have the same streams.
    """
    import av

    if not parts or len(parts) != len(starts_s):
        raise InvalidRequestError("join needs one start time per segment")
    first = _open(parts[0])
    output: Any = None
    try:
        streams = _copied_streams(first)
        output, mapping = _open_output(dst, first, streams)
        layout = [(s.type, s.codec_context.name) for s in streams]
        last_dts: dict[int, int] = {}
        for part, start_s in zip(parts, starts_s, strict=True):
            container = first if part == parts[0] else _open(part)
            try:
                part_streams = _copied_streams(container)
                if [(s.type, s.codec_context.name) for s in part_streams] != layout:
                    raise UnsupportedVideoError("the segments do not have the same streams")
                targets = {own.index: mapping[joined.index] for own, joined in zip(part_streams, streams, strict=True)}
                for packet in container.demux(part_streams):
                    if packet.dts is None and packet.pts is None:
                        continue
                    stream = packet.stream
                    shift = _ticks(start_s, stream.time_base)
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts = None if packet.dts is None else packet.dts + shift
                    _fill_dts(packet, last_dts, stream.index)
                    packet.stream = targets[stream.index]
                    output.mux(packet)
            finally:
                if container is not first:
                    container.close()
    except av.error.FFmpegError as exc:
        raise UnsupportedVideoError("a segment is truncated or corrupt") from exc
    finally:
        if output is not None:
            output.close()
        first.close()
