"""What faceanon.video needs from PyAV: probe a video, refuse what cannot be anonymised safely, pick the encoder.

PyAV (``av``, FFmpeg inside its wheel) is imported here only, and only when a function runs, so the photo path
(and the photo Lambda layer) never needs it. Every refusal is a domain error with a message safe for a client:
UnsupportedVideoError (not a video, truncated, unknown codec, no frames, variable frame rate, rotated, 10-bit or
HDR) or ImageTooLargeError (over VideoLimits).
"""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ImageTooLargeError, UnsupportedVideoError

if TYPE_CHECKING:
    import av.container
    import av.video.stream

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm")

# Decoder name -> (encoder, its options): the same codec family out, tuned for speed at good quality.
ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"preset": "veryfast", "crf": "20"}),
    "hevc": ("libx265", {"preset": "ultrafast", "crf": "24", "x265-params": "log-level=error"}),
    "vp8": ("libvpx", {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "4M"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0", "row-mt": "1"}),
    "av1": ("libsvtav1", {"preset": "10", "crf": "35"}),
    "mpeg4": ("mpeg4", {"qscale": "3"}),
}
# FFmpeg's transfer characteristics of HDR video (PQ and HLG): masks on tone-mapped frames are not trustworthy.
HDR_TRANSFERS = frozenset({16, 18})
# A frame's timestamp may differ from constant frame rate by this fraction of a frame before it counts as VFR.
VFR_TOLERANCE = 0.5


@dataclass(frozen=True)
class VideoLimits:
    """What anonymise_video accepts; anything over is refused before a frame is written."""

    max_width: int = 3840
    max_height: int = 2160
    max_seconds: float = 3600.0  # one hour: longer videos are split into segments on AWS (faceanon.video_segments)
    max_frames: int = 216_000  # one hour at 60 fps

    def __post_init__(self) -> None:
        if min(self.max_width, self.max_height, self.max_frames) < 1 or not self.max_seconds > 0:
            raise ValueError("video limits must be positive")


@dataclass(frozen=True)
class VideoProbe:
    """The one video stream and its container, as checked by probe()."""

    container: str  # the output muxer: mp4, mov, matroska or webm
    codec: str  # FFmpeg decoder name: h264, hevc, vp8, vp9, av1, mpeg4
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    expected_frames: int | None  # what the container says, when it says (for the truncation check)
    duration_s: float | None  # None when the container does not say (browser-recorded webm): checked per frame
    audio_streams: int


def import_av() -> Any:
    try:
        import av
    except ImportError:
        raise UnsupportedVideoError("video needs PyAV: pip install 'faceanon[video]'") from None
    return av


def open_input(src: Path) -> "av.container.InputContainer":
    pyav = import_av()
    try:
        container: av.container.InputContainer = pyav.open(str(src), mode="r")
    except pyav.FFmpegError:
        raise UnsupportedVideoError("not a video faceanon can read (unknown container or truncated file)") from None
    return container


def output_format(container_name: str, suffix: str) -> str:
    """The muxer for the input's container family, picked by the file's extension within that family."""
    names = set(container_name.split(","))
    if "mp4" in names or "mov" in names:
        return "mov" if suffix.lower() == ".mov" else "mp4"
    if "matroska" in names or "webm" in names:
        return "webm" if suffix.lower() == ".webm" else "matroska"
    raise UnsupportedVideoError("unsupported container: only mp4, mov, mkv and webm videos are accepted")


def probe(container: "av.container.InputContainer", suffix: str, limits: VideoLimits) -> VideoProbe:
    """Check the container and its first video stream against what can be anonymised safely and the limits."""
    stream = main_video_stream(container)
    codec = stream.codec_context.codec.canonical_name  # "av1" whether libdav1d or another decoder reads it
    if codec not in ENCODERS:
        raise UnsupportedVideoError(f"unsupported video codec {codec!r}: h264, hevc, vp8, vp9, av1 or mpeg4")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise UnsupportedVideoError("the video stream has no frame size (zero-length or corrupt stream)")
    if width % 2 or height % 2:
        raise UnsupportedVideoError(f"odd frame size {width}x{height} is not supported (4:2:0 needs even sizes)")
    if width > limits.max_width or height > limits.max_height:
        raise ImageTooLargeError(f"video is {width}x{height}; at most {limits.max_width}x{limits.max_height}")
    check_pixel_format(stream.codec_context.pix_fmt, stream.codec_context.color_trc)
    fps = _constant_rate(stream)
    if stream.time_base is None:
        raise UnsupportedVideoError("the video stream has no time base")
    time_base = Fraction(stream.time_base.numerator, stream.time_base.denominator)
    duration_s = _duration(container, stream)
    if duration_s is not None and duration_s > limits.max_seconds:
        raise ImageTooLargeError(f"video lasts {duration_s:.0f} s; at most {limits.max_seconds:g} s")
    expected = _expected_frames(stream, fps)
    if max(expected or 0, round((duration_s or 0) * fps)) > limits.max_frames:
        raise ImageTooLargeError(f"video has more than {limits.max_frames} frames")
    return VideoProbe(
        container=output_format(container.format.name, suffix),
        codec=codec,
        width=width,
        height=height,
        fps=fps,
        time_base=time_base,
        expected_frames=expected,
        duration_s=duration_s,
        audio_streams=len(container.streams.audio),
    )


def main_video_stream(container: "av.container.InputContainer") -> "av.video.stream.VideoStream":
    """The first video stream that is not a cover picture (MP4 cover art is an "attached picture" stream)."""
    pyav = import_av()
    for stream in container.streams.video:
        if not stream.disposition & pyav.stream.Disposition.attached_pic:
            return stream
    raise UnsupportedVideoError("the file has no video stream")


def check_pixel_format(pix_fmt: str | None, color_trc: int) -> None:
    av = import_av()
    if not pix_fmt:
        raise UnsupportedVideoError("the video stream has no pixel format (zero-length or corrupt stream)")
    try:
        bits = max(component.bits for component in av.VideoFormat(pix_fmt).components)
    except (ValueError, av.FFmpegError):
        raise UnsupportedVideoError(f"unsupported pixel format {pix_fmt!r}") from None
    if bits > 8:
        raise UnsupportedVideoError(f"{bits}-bit video ({pix_fmt}) is not supported: convert it to 8-bit first")
    if color_trc in HDR_TRANSFERS:
        raise UnsupportedVideoError("HDR video (PQ or HLG) is not supported: tone-map it to SDR first")


def _constant_rate(stream: "av.video.stream.VideoStream") -> Fraction:
    base, average = stream.base_rate, stream.average_rate
    if not base or base <= 0:
        raise UnsupportedVideoError("the video stream has no frame rate")
    if average and abs(float(average) - float(base)) > 0.01 * float(base):
        raise UnsupportedVideoError(
            f"variable frame rate video (average {float(average):.3f} fps, nominal {float(base):.3f} fps)"
            " is not supported: convert it to a constant frame rate first"
        )
    if not 1 <= float(base) <= 240:
        raise UnsupportedVideoError(f"frame rate {float(base):.3f} fps is out of range (1-240)")
    return Fraction(base.numerator, base.denominator)


def _duration(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream") -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    tagged = _tag_seconds(stream.metadata.get("DURATION", ""))  # Matroska keeps per-stream durations as tags
    if tagged is not None:
        return tagged
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None  # e.g. webm from a browser's MediaRecorder: the frame loop enforces max_seconds by timestamps


def _expected_frames(stream: "av.video.stream.VideoStream", fps: Fraction) -> int | None:
    if stream.frames:
        return int(stream.frames)
    tagged = _tag_seconds(stream.metadata.get("DURATION", ""))
    return round(tagged * fps) if tagged is not None else None


def _tag_seconds(tag: str) -> float | None:
    """Matroska's "HH:MM:SS.nnnnnnnnn" duration tag in seconds, or None."""
    parts = tag.split(":")
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    except ValueError:
        return None
