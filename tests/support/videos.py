"""Small video clips written with PyAV for the video tests: a real face (from the shipped astronaut photo)
moving over a smooth background, with its box in every frame, plus the knobs hostile tests turn (codec,
container, pixel format, rotation, timestamps, audio, metadata)."""

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from support.images import gradient

# A crop of astronaut.jpg around her face (the detector finds it at about x 179-272, y 56-180 of the photo).
FACE_CROP = (150, 20, 300, 210)
FACE_BOX_IN_CROP = (29.0, 36.0, 122.0, 160.0)


def face_patch(height: int) -> npt.NDArray[np.uint8]:
    """The face crop scaled to height px (the face itself about 65% of that)."""
    data = resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as photo:
        crop = photo.convert("RGB").crop(FACE_CROP)
    width = round(crop.width * height / crop.height)
    return np.asarray(crop.resize((width, height), Image.Resampling.LANCZOS))


@dataclass
class Clip:
    path: Path
    faces: list[tuple[float, float, float, float] | None] = field(default_factory=list)  # face box per frame


def frames_with_a_face(
    count: int, width: int = 320, height: int = 240, face_height: int = 120, hide: Sequence[int] = ()
) -> tuple[list[npt.NDArray[np.uint8]], list[tuple[float, float, float, float] | None]]:
    """count RGB frames with the face moving left to right (hidden, i.e. not pasted, in the frames in hide)."""
    background = gradient(width, height)
    patch = face_patch(face_height)
    scale = face_height / (FACE_CROP[3] - FACE_CROP[1])
    top = (height - patch.shape[0]) // 2
    frames, faces = [], []
    for index in range(count):
        frame = background.copy()
        left = round((width - patch.shape[1]) * index / max(1, count - 1))
        if index in hide:
            faces.append(None)
        else:
            frame[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
            x1, y1, x2, y2 = FACE_BOX_IN_CROP
            faces.append((left + x1 * scale, top + y1 * scale, left + x2 * scale, top + y2 * scale))
        frames.append(frame)
    return frames, faces


def write_clip(
    path: Path,
    frames: Sequence[npt.NDArray[np.uint8]],
    *,
    codec: str = "libx264",
    container: str | None = None,
    pix_fmt: str = "yuv420p",
    fps: int = 30,
    audio: bool = False,
    metadata: dict[str, str] | None = None,
    rotation: int | None = None,
    pts: Sequence[int] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode frames into path; pts (in 1/(fps*3) units when given) make a variable frame rate."""
    with av.open(str(path), mode="w", format=container) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        time_base = Fraction(1, fps * 3) if pts is not None else Fraction(1, fps)
        stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = (pts[index] if pts is not None else index), time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            samples = 48000 * len(frames) // fps
            tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, start
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def face_clip(path: Path, count: int = 30, **kwargs: object) -> Clip:
    """The standard test clip: count 320x240 frames, the face moving across; write_clip's options."""
    frames, faces = frames_with_a_face(count)
    write_clip(path, frames, **kwargs)  # type: ignore[arg-type]
    return Clip(path, faces)


def read_frames(path: Path) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(path)) as source:
        return [frame.to_ndarray(format="rgb24") for frame in source.decode(video=0)]
