"""Video clips with known face boxes in every frame, made by moving a camera over a labelled photo.

A clip is a sequence of crop windows over one photo of ``../shared/data`` (a pan, a zoom, or a slow drift),
each resized to the output size (720p or 1080p) and written with PyAV (H.264, yuv420p). The photo's labelled
boxes are moved and scaled with the window, so every frame has its truth. A face is labelled in a frame while
at least half of its box is inside it (clipped to the frame); its ``id`` is its index in the photo's labels, so
a face keeps its id across frames (what flicker is scored on). Output goes to ``build/video_clips/`` (clip +
``<clip>.json`` labels); the photos are read, never copied.

    .venv/bin/python -m faceanon_tools.video_clips --data ../shared/data --out build/video_clips --photos 2

No video with faces ships in this project's installed packages (searched every video file in the venv: the
only one is pygame's ``examples/data/blue.mpg``, a 320x240 blue test pattern with no face), so every clip is
synthetic.
"""

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .datasets import LabelledImage, load_dataset, load_rgb

MOTIONS = ("pan", "zoom", "slow")
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
VISIBLE_SHARE = 0.5  # a face is labelled in a frame while at least this share of its box is inside it
DEFAULT_SET = "wider_val_original"  # 1024 px photos: the least upscaling to 720p / 1080p


@dataclass(frozen=True)
class FrameLabels:
    """One frame's truth: boxes [K, 4] (x1, y1, x2, y2, frame pixels), ignore [K], ids [K] (per photo face)."""

    boxes: npt.NDArray[np.float64]
    ignore: npt.NDArray[np.bool_]
    ids: npt.NDArray[np.int64]


@dataclass(frozen=True)
class ClipLabels:
    name: str
    width: int
    height: int
    fps: int
    frames: tuple[FrameLabels, ...]


def camera_windows(
    photo_width: int, photo_height: int, aspect: float, motion: str, frames: int
) -> npt.NDArray[np.float64]:
    """Crop windows [T, 4] (x, y, w, h) in photo pixels, all of the given aspect (w / h), inside the photo."""
    full_w = min(float(photo_width), photo_height * aspect)
    t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    if motion == "pan":  # 75% of the widest window, left to right and a little downwards
        w = np.full_like(t, 0.75 * full_w)
        x = t * (photo_width - w)
        y = (0.25 + 0.5 * t) * (photo_height - w / aspect)
    elif motion == "zoom":  # from the widest window to half of it, about the photo's centre
        w = full_w * (1.0 - 0.5 * t)
        x = (photo_width - w) / 2
        y = (photo_height - w / aspect) / 2
    elif motion == "slow":  # a slow drift (sub-pixel steps): a tenth of the free margin across the whole clip
        w = np.full_like(t, 0.8 * full_w)
        x = (0.45 + 0.1 * t) * (photo_width - w)
        y = np.full_like(t, (photo_height - w[0] / aspect) / 2)
    else:
        raise ValueError(f"motion must be one of {MOTIONS}")
    return np.stack([x, y, w, w / aspect], axis=1)


def boxes_in_frame(
    labels: npt.NDArray[np.float64],
    ignore: npt.NDArray[np.bool_],
    window: Sequence[float],
    width: int,
    height: int,
) -> FrameLabels:
    """The photo's boxes [N, 4] seen through window (x, y, w, h) resized to width x height."""
    x, y, w, h = (float(v) for v in window)
    scale = np.array([width / w, height / h, width / w, height / h])
    moved = (np.asarray(labels, dtype=np.float64).reshape(-1, 4) - np.array([x, y, x, y])) * scale
    clipped = np.clip(moved, 0.0, [width, height, width, height])
    area = np.prod(np.maximum(moved[:, 2:] - moved[:, :2], 0.0), axis=1)
    inside = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0.0), axis=1)
    keep = (area > 0) & (inside >= VISIBLE_SHARE * np.maximum(area, 1e-9))
    ids = np.flatnonzero(keep).astype(np.int64)
    return FrameLabels(clipped[keep], np.asarray(ignore, dtype=bool)[keep], ids)


def render_frame(photo: Image.Image, window: Sequence[float], width: int, height: int) -> npt.NDArray[np.uint8]:
    """The window (sub-pixel accurate) of photo resized to width x height, as H x W x 3 uint8."""
    x, y, w, h = (float(v) for v in window)
    frame = photo.resize((width, height), Image.Resampling.BILINEAR, box=(x, y, x + w, y + h))
    return np.asarray(frame, dtype=np.uint8)


def clip_frames(
    image: LabelledImage, motion: str, width: int, height: int, frames: int
) -> Iterator[tuple[npt.NDArray[np.uint8], FrameLabels]]:
    """Each frame of the clip with its labels, one at a time (a 1080p clip is never held whole)."""
    photo = Image.fromarray(load_rgb(image.path))
    windows = camera_windows(photo.width, photo.height, width / height, motion, frames)
    for window in windows:
        yield (
            render_frame(photo, window, width, height),
            boxes_in_frame(image.boxes, image.ignore, window, width, height),
        )


def write_clip(
    image: LabelledImage, motion: str, resolution: str, frames: int, fps: int, out_dir: Path
) -> tuple[Path, Path]:
    """Write ``<photo>_<motion>_<resolution>.mp4`` and its ``.json`` labels into out_dir; returns both paths."""
    import av  # the video extra: only the clip writer needs it

    width, height = RESOLUTIONS[resolution]
    name = f"{image.path.stem}_{motion}_{resolution}"
    out_dir.mkdir(parents=True, exist_ok=True)
    clip_path, labels_path = out_dir / f"{name}.mp4", out_dir / f"{name}.json"
    per_frame: list[list[dict[str, Any]]] = []
    with av.open(str(clip_path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for rgb, labels in clip_frames(image, motion, width, height, frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
            per_frame.append(
                [
                    {"id": int(i), "box": [round(float(v), 2) for v in box], "ignore": bool(ig)}
                    for box, ig, i in zip(labels.boxes, labels.ignore, labels.ids, strict=True)
                ]
            )
        for packet in stream.encode():
            container.mux(packet)
    source = f"{image.path.parent.parent.name}/{image.path.name}"  # a reference, not a copy
    document = {"clip": clip_path.name, "source": source, "motion": motion, "width": width, "height": height}
    document |= {"fps": fps, "frames": per_frame}
    labels_path.write_text(json.dumps(document))
    return clip_path, labels_path


def load_labels(path: Path) -> ClipLabels:
    """Read a clip's ``.json`` labels (write_clip's format)."""
    data = json.loads(path.read_text())
    frames = []
    for faces in data["frames"]:
        boxes = np.asarray([f["box"] for f in faces], dtype=np.float64).reshape(-1, 4)
        ignore = np.asarray([f["ignore"] for f in faces], dtype=bool)
        ids = np.asarray([f["id"] for f in faces], dtype=np.int64)
        frames.append(FrameLabels(boxes, ignore, ids))
    return ClipLabels(Path(data["clip"]).stem, data["width"], data["height"], data["fps"], tuple(frames))


def pick_photos(data_root: Path, set_name: str, count: int) -> list[LabelledImage]:
    """The first photos (by file name) of a labelled set that are landscape (a 16:9 window fits them best)."""
    images = sorted(load_dataset(data_root / set_name).images, key=lambda image: image.path.name)
    return [image for image in images if image.width >= image.height][:count]


def build_clips(
    data_root: Path,
    out_dir: Path,
    *,
    set_name: str = DEFAULT_SET,
    photos: int = 2,
    motions: Sequence[str] = MOTIONS,
    resolutions: Sequence[str] = tuple(RESOLUTIONS),
    frames: int = 45,
    fps: int = 30,
) -> list[tuple[Path, Path]]:
    """Every (photo, motion, resolution) clip; already written clips are kept (the labels are deterministic)."""
    written = []
    for image in pick_photos(data_root, set_name, photos):
        for motion in motions:
            for resolution in resolutions:
                name = f"{image.path.stem}_{motion}_{resolution}"
                clip, labels = out_dir / f"{name}.mp4", out_dir / f"{name}.json"
                if clip.is_file() and labels.is_file() and len(load_labels(labels).frames) == frames:
                    written.append((clip, labels))
                else:
                    written.append(write_clip(image, motion, resolution, frames, fps, out_dir))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("build/video_clips"))
    parser.add_argument("--set", default=DEFAULT_SET, help="labelled set under --data")
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=45)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args(argv)
    for clip, _ in build_clips(args.data, args.out, set_name=args.set, photos=args.photos, frames=args.frames):
        print(clip)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
