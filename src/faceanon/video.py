"""Anonymise a video: every frame's faces masked, tracked across frames so a missed face stays masked.

``anonymise_video(src, dst, settings)`` streams the video once (bounded memory: a frame at a time, plus the
encoder's short lookahead): decode a frame, detect faces (every frame, or every ``every``-th with tracking in
between), let the FaceTracker (faceanon.tracking) add the boxes of faces missed recently, mask with the photo
path's masks (faceanon.masks, fill by default), encode with the same codec family into the same container.
Audio packets are copied untouched; nothing else is: no container or stream metadata (GPS, device, creation
time unless ``keep_creation_time``), no data, subtitle or attachment streams, no chapters.

Fail closed: the output goes to a temporary file beside dst, renamed only when every frame decoded was masked,
encoded and the container finished; on any error the temporary file is deleted and a domain error raised
(faceanon.video_io lists what is refused). PyAV is imported only when a video is processed.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import FaceAnonError, ImageTooLargeError, InvalidRequestError, UnsupportedVideoError
from .masks import apply_masks
from .service import Detector, detect_faces, detector_sha256, get_detector
from .settings import Settings
from .tracking import FaceTracker, TrackerOptions
from .video_io import (
    ENCODERS,
    VFR_TOLERANCE,
    VIDEO_EXTENSIONS,
    VideoLimits,
    VideoProbe,
    import_av,
    main_video_stream,
    open_input,
    probe,
)
from .video_lookahead import backfill

__all__ = ["FAST_EVERY", "VIDEO_EXTENSIONS", "VideoLimits", "VideoResult", "anonymise_video", "is_video"]

DEFAULT_LIMITS = VideoLimits()
# FFmpeg's colorspace values that say nothing about the matrix: RGB (0) and unspecified (2).
UNSPECIFIED_COLOUR = (0, 2)
# `--fast` detects every FAST_EVERY-th frame (one 1x pass) and tracks in between.
FAST_EVERY = 3


def is_video(name: str | os.PathLike[str]) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoResult:
    """One anonymised video and how it was made (the CLI report and the audit record read to_report())."""

    container: str
    video_codec: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    audio_streams: int
    tracks: int
    faces_per_frame: tuple[int, ...]  # boxes masked in each frame (detections plus held tracks)
    boxes: tuple[npt.NDArray[np.float32], ...] | None  # per frame float32 [M, 6] masked boxes, when keep_boxes
    timings_ms: dict[str, float]
    every: int = 1
    detection: str = "default"
    method: str = "fill"
    model_sha256: str = ""
    detected_faces: int = field(default=0)  # detector boxes over all frames (faces_per_frame adds the held ones)

    def to_report(self) -> dict[str, Any]:
        """JSON-able, for the audit record: no boxes unless they were kept."""
        report: dict[str, Any] = {
            "container": self.container,
            "video_codec": self.video_codec,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "frames": self.frames,
            "duration_s": round(self.duration_s, 3),
            "audio_streams": self.audio_streams,
            "tracks": self.tracks,
            "faces_per_frame": list(self.faces_per_frame),
            "max_faces_in_a_frame": max(self.faces_per_frame, default=0),
            "detected_faces": self.detected_faces,
            "every": self.every,
            "detection": self.detection,
            "method": self.method,
            "model_sha256": self.model_sha256,
            "timings_ms": dict(self.timings_ms),
        }
        if self.boxes is not None:
            report["boxes"] = [[[round(float(v), 1) for v in row] for row in frame] for frame in self.boxes]
        return report


def anonymise_video(
    src: Path,
    dst: Path,
    settings: Settings,
    *,
    detector: Detector | None = None,
    every: int = 1,
    tracker: TrackerOptions | None = None,
    limits: VideoLimits = DEFAULT_LIMITS,
    keep_boxes: bool = False,
    keep_creation_time: bool = False,
) -> VideoResult:
    """Mask every face in every frame of src into dst (same container and codec family); see the module doc.

    every: detect every Nth frame (1 = every frame). tracker: TrackerOptions (None: the defaults;
    TrackerOptions(hold_frames=0) with every=1 is per-frame detection without tracking).
    """
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 30:
        raise InvalidRequestError("every must be a whole number from 1 to 30")
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise InvalidRequestError("refusing to write the output over the input")
    active = detector if detector is not None else get_detector(settings)
    temporary = dst.with_name(f".{dst.stem}.{os.getpid()}.partial{dst.suffix}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    av = import_av()
    try:
        result = _Run(src, temporary, settings, active, every, tracker or TrackerOptions(), limits, keep_boxes).run(
            keep_creation_time
        )
        os.replace(temporary, dst)
    except FaceAnonError:
        raise
    except (av.FFmpegError, ValueError) as exc:  # PyAV raises ValueError for stream parameters it cannot take
        raise UnsupportedVideoError(f"the video could not be decoded or encoded ({type(exc).__name__})") from None
    finally:
        temporary.unlink(missing_ok=True)
    return result


class _Run:
    """One pass over one video: demux, decode, detect, track, mask, encode, mux."""

    def __init__(
        self,
        src: Path,
        out_path: Path,
        settings: Settings,
        detector: Detector,
        every: int,
        options: TrackerOptions,
        limits: VideoLimits,
        keep_boxes: bool,
    ) -> None:
        self.src, self.out_path, self.settings, self.detector = src, out_path, settings, detector
        self.every, self.limits, self.keep_boxes = every, limits, keep_boxes
        self.tracker = FaceTracker(options)
        self.stages = {"decode": 0.0, "detect": 0.0, "mask": 0.0, "encode": 0.0}
        self.faces_per_frame: list[int] = []
        self.boxes: list[npt.NDArray[np.float32]] = []
        self.detected = 0
        self.last_pts: int | None = None
        self.first_pts: int | None = None
        self.colour: dict[str, Any] = {}
        self.frames_seen = 0
        self.pending: list[tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.float32]]] = []  # between detections
        self.previous = np.zeros((0, 6), dtype=np.float32)  # the boxes of the last detected frame

    @contextmanager
    def clock(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.stages[stage] += (time.perf_counter() - began) * 1000

    def run(self, keep_creation_time: bool) -> VideoResult:
        av = import_av()
        started = time.perf_counter()
        with open_input(self.src) as source:
            info = probe(source, self.src.suffix, self.limits)
            video_in = main_video_stream(source)  # the only video stream written (cover art and others are dropped)
            video_in.thread_count = self.settings.intra_op_threads
            audio_in = list(source.streams.audio)
            with av.open(str(self.out_path), mode="w", format=info.container) as sink:
                if keep_creation_time and "creation_time" in source.metadata:
                    sink.metadata["creation_time"] = source.metadata["creation_time"]
                video_out = self._video_stream(sink, info, video_in.codec_context)
                audio_out = {stream.index: sink.add_stream_from_template(stream) for stream in audio_in}
                for stream in audio_out.values():
                    stream.metadata.clear()
                for packet in source.demux(video_in, *audio_in):
                    if packet.stream.type == "audio":
                        if packet.dts is not None:  # the demuxer's empty end-of-stream packet has none
                            packet.stream = audio_out[packet.stream.index]
                            sink.mux(packet)
                        continue
                    with self.clock("decode"):
                        frames = list(packet.decode())
                    for frame in frames:
                        self._frame(frame, info, video_out, sink)
                self._flush(info, video_out, sink)
                with self.clock("encode"):
                    sink.mux(video_out.encode(None))
        self._check_complete(info)
        timings = {key: round(value, 1) for key, value in self.stages.items()}
        timings["total"] = round((time.perf_counter() - started) * 1000, 1)
        return VideoResult(
            container=info.container,
            video_codec=info.codec,
            width=info.width,
            height=info.height,
            fps=float(info.fps),
            frames=len(self.faces_per_frame),
            duration_s=len(self.faces_per_frame) / float(info.fps),
            audio_streams=info.audio_streams,
            tracks=self.tracker.tracks_started,
            faces_per_frame=tuple(self.faces_per_frame),
            boxes=tuple(self.boxes) if self.keep_boxes else None,
            timings_ms=timings,
            every=self.every,
            detection=self.settings.detection,
            method=self.settings.method,
            model_sha256=detector_sha256(self.detector),
            detected_faces=self.detected,
        )

    def _video_stream(self, sink: Any, info: VideoProbe, decoder: Any) -> Any:
        """The encoder: the codec family's, 8-bit 4:2:0, the input's time base and colour tags."""
        encoder, options = ENCODERS[info.codec]
        stream = sink.add_stream(encoder, rate=info.fps, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        # Keep the input's colour description (BT.709 for HD, mostly) and convert RGB back with the same matrix
        # and range, so colours do not shift; unspecified stays unspecified (FFmpeg's BT.601 default).
        self.colour = {
            "dst_colorspace": decoder.colorspace if decoder.colorspace not in UNSPECIFIED_COLOUR else None,
            "dst_color_range": decoder.color_range if decoder.color_range else None,
        }
        for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
            setattr(stream.codec_context, name, getattr(decoder, name))
        if decoder.sample_aspect_ratio:  # anamorphic video keeps its display shape
            stream.codec_context.sample_aspect_ratio = decoder.sample_aspect_ratio
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        stream.thread_count = self.settings.intra_op_threads
        return stream

    def _frame(self, frame: Any, info: VideoProbe, video_out: Any, sink: Any) -> None:
        """One decoded frame: checked, detected (or not) and tracked; masked and encoded now, or (between
        detections) once the next detection has backfilled it (faceanon.video_lookahead)."""
        index = self.frames_seen
        self.frames_seen += 1
        self._check_frame(frame, info, index)
        with self.clock("decode"):
            rgb: npt.NDArray[np.uint8] = frame.to_ndarray(format="rgb24")
        with self.clock("detect"):
            if index % self.every:
                self.pending.append((frame.pts, rgb, self.tracker.update(None)))
                return
            dets = detect_faces(self.detector, rgb, self.settings)
            self.detected += len(dets)
            boxes = self.tracker.update(dets)
            extra = backfill(self.previous, boxes[: len(dets)], len(self.pending))  # detections come first
            self.previous = boxes
        for (pts, held_rgb, held), more in zip(self.pending, extra, strict=True):
            self._emit(pts, held_rgb, np.concatenate([held, more]), info, video_out, sink)
        self.pending.clear()
        self._emit(frame.pts, rgb, boxes, info, video_out, sink)

    def _flush(self, info: VideoProbe, video_out: Any, sink: Any) -> None:
        """The frames after the last detection: the tracker's boxes only (no later detection to backfill)."""
        for pts, rgb, boxes in self.pending:
            self._emit(pts, rgb, boxes, info, video_out, sink)
        self.pending.clear()

    def _emit(self, pts: int, rgb: Any, boxes: npt.NDArray[np.float32], info: VideoProbe, out: Any, sink: Any) -> None:
        """Mask one frame with its boxes, record them and encode it."""
        av = import_av()
        with self.clock("mask"):
            masked = apply_masks(
                rgb,
                boxes[:, :5],
                method=self.settings.method,
                shape=self.settings.shape,
                fill=self.settings.fill,
                mask_scale=self.settings.mask_scale,
            )
        self.faces_per_frame.append(len(boxes))
        if self.keep_boxes:
            self.boxes.append(boxes)
        with self.clock("encode"):
            frame = av.VideoFrame.from_ndarray(masked, format="rgb24").reformat(format="yuv420p", **self.colour)
            frame.pts, frame.time_base = pts, info.time_base
            sink.mux(out.encode(frame))

    def _check_frame(self, frame: Any, info: VideoProbe, index: int) -> None:
        if index >= self.limits.max_frames:
            raise UnsupportedVideoError(f"video has more than {self.limits.max_frames} frames")
        if frame.is_corrupt:
            raise UnsupportedVideoError(f"frame {index} is corrupt (damaged or truncated file)")
        if frame.width != info.width or frame.height != info.height:
            raise UnsupportedVideoError("the frame size changes within the video")
        if frame.rotation:
            raise UnsupportedVideoError(
                f"the video carries rotation metadata ({frame.rotation} degrees, as phones write):"
                " rotate it upright first"
            )
        if frame.pts is None:
            raise UnsupportedVideoError(f"frame {index} has no timestamp")
        if self.first_pts is None:
            self.first_pts = frame.pts
        if (frame.pts - self.first_pts) * info.time_base > self.limits.max_seconds:  # a segment may start late
            raise ImageTooLargeError(f"video lasts more than {self.limits.max_seconds:g} s")
        if self.last_pts is not None:
            step = Fraction(frame.pts - self.last_pts) * info.time_base * info.fps  # in frames: 1 at constant rate
            if abs(step - 1) > VFR_TOLERANCE:
                raise UnsupportedVideoError(
                    f"variable frame rate or dropped frames at frame {index}: convert to a constant frame rate first"
                )
        self.last_pts = frame.pts

    def _check_complete(self, info: VideoProbe) -> None:
        """Fail closed on a short read: fewer frames than the container promised means a truncated file."""
        frames = len(self.faces_per_frame)
        if frames == 0:
            raise UnsupportedVideoError("the video has no frames (zero-length stream)")
        if info.expected_frames is not None and frames < info.expected_frames - 1:
            raise UnsupportedVideoError(
                f"the video ended after {frames} of {info.expected_frames} frames (truncated file)"
            )
