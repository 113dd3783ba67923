"""Video benchmark: per-frame recall by face size, exposed face-frames, mask flicker and fps, beside deface.

Clips: faceanon_tools.video_clips (pans, zooms and slow drifts over labelled photos of ../shared/data, 720p and
1080p, known boxes in every frame), written once into build/video_clips/. Every configuration sees the same
clips in the same run, on one thread each:

    .venv/bin/python benchmarks/bench_video.py                       # 2 photos x 3 motions x 720p/1080p, 45 frames
    .venv/bin/python benchmarks/bench_video.py --photos 1 --frames 30 --configs default,no-tracking --json out.json

Configs: ``default`` (detection on every frame + faceanon.tracking.FaceTracker with its default options),
``no-tracking`` (the same detections, masked frame by frame: a tracker with hold_frames=0, which passes each
frame's detections through and holds nothing), ``fast`` (as the CLI's ``--fast``: the one-pass ``fast`` detection
strategy every --fast-every frames, default 3 = faceanon.video.FAST_EVERY, tracked between),
``deface`` (deface 1.5.0's video mode: deface.deface.video_detect with its CLI defaults -- threshold 0.2, blur,
ellipse, mask scale 1.3 -- on a one-thread session; its boxes are read by wrapping its anonymize_frame).

faceanon runs through faceanon.video.anonymise_video when it exists (``--runner product``: decode, detect,
track, mask, encode, with keep_boxes=True), else through ``DetectTrackLoop`` (``--runner loop``): a stand-in
that decodes with PyAV, detects with the product's detector and strategy, tracks with the product's
FaceTracker and masks with faceanon.masks.apply_masks, but does not encode (so its fps leave out encoding while
deface's include it, in ffmpeg subprocesses). In the loop ``default`` and ``no-tracking`` share one detection
pass (each is charged decode + detect + its own tracking + its own masking).

Scoring: faceanon_tools.video_scoring. Recall is one-to-one (IoU >= 0.5) of the masked boxes per labelled
face-frame; "exposed" counts labelled face-frames >= 20 px tall with < 90% of their inscribed ellipse masked
(faceanon's mask geometry from apply_masks; deface's from its own scale_bb + skimage ellipse); "flicker" counts
consecutive-frame pairs of one such face whose covered state changes. "fps" = frames / seconds of the loop on
the wall clock (the machine is shared, so this is pessimistic) and "fps cpu" = frames / CPU seconds: of the
benchmark's thread for the loop and deface (time.thread_time; ONNX Runtime's one intra-op thread runs in the
caller; deface's ffmpeg decode/encode subprocesses are outside it), of the whole process for the product
runner (time.process_time: the encoder may use threads of its own).
"""

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceanon.detector import CenterFaceDetector
from faceanon.masks import apply_masks
from faceanon.settings import Settings
from faceanon.tracking import FaceTracker, TrackerOptions
from faceanon_tools.deface_baseline import deface_centerface
from faceanon_tools.scoring import HEIGHT_BINS
from faceanon_tools.video_clips import build_clips, load_labels
from faceanon_tools.video_scoring import ClipScorer, VideoScore, deface_geometry, faceanon_geometry

NO_TRACKING = TrackerOptions(hold_frames=0, grow=0.0)
FAST_FPS_720P = 15.0


@dataclass
class Measured:
    """One config's scores and time over the clips of one resolution."""

    score: VideoScore = field(default_factory=VideoScore)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    detect_s: float = 0.0


def decoded_frames(path: Path) -> Iterator[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


class _Clock:
    """Wall and thread-CPU seconds, accumulated per name."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        yield
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
        self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - cpu


def detect_track_loop(
    clip: Path,
    labels_path: Path,
    detector: CenterFaceDetector,
    settings: Settings,
    every: int,
    trackers: dict[str, TrackerOptions],
    out: dict[str, Measured],
) -> None:
    """DetectTrackLoop: the stand-in for anonymise_video (decode, detect every Nth frame, track, mask; no encode).

    Several tracker options may share one detection pass; each is charged the shared decode + detect time."""
    labels = load_labels(labels_path)
    clock = _Clock()
    geometry = faceanon_geometry(settings.mask_scale, settings.shape)
    state = {
        name: (FaceTracker(options), ClipScorer(geometry, labels.height, labels.width))
        for name, options in trackers.items()
    }
    frames = iter(decoded_frames(clip))
    for index, truth in enumerate(labels.frames):
        with clock.time("decode"):
            rgb = next(frames)
        with clock.time("detect"):
            dets = None
            if index % every == 0:
                dets = detector.detect(rgb, threshold=settings.threshold, detection=settings.detection)
        for name, (tracker, scorer) in state.items():
            with clock.time(f"track:{name}"):
                masked = tracker.update(dets)
            with clock.time(f"mask:{name}"):
                apply_masks(
                    rgb,
                    masked,
                    method=settings.method,
                    shape=settings.shape,
                    fill=settings.fill,
                    mask_scale=settings.mask_scale,
                )
            scorer.frame(truth, masked)
    for name, (_, scorer) in state.items():
        keys = ("decode", "detect", f"track:{name}", f"mask:{name}")
        result = out.setdefault(name, Measured())
        result.score.add(scorer.score)
        result.wall_s += sum(clock.wall.get(k, 0.0) for k in keys)
        result.cpu_s += sum(clock.cpu.get(k, 0.0) for k in keys)
        result.detect_s += clock.wall.get("detect", 0.0)


def deface_runner(threads: int) -> Callable[[Path, Path, Measured], None]:
    """deface 1.5.0's video mode with its CLI defaults on a one-thread session; boxes captured per frame."""
    import deface.deface as deface_module  # type: ignore[import-untyped]

    centerface = deface_centerface(threads)
    original = deface_module.anonymize_frame

    def run(clip: Path, labels_path: Path, out: Measured) -> None:
        captured: list[np.ndarray] = []

        def capturing(dets: np.ndarray, frame: np.ndarray, **kwargs: Any) -> None:
            captured.append(np.asarray(dets, dtype=np.float32).reshape(-1, 5).copy())
            original(dets, frame, **kwargs)

        deface_module.anonymize_frame = capturing
        try:
            with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
                wall, cpu = time.perf_counter(), time.thread_time()
                deface_module.video_detect(
                    str(clip), str(Path(tmp) / clip.name), centerface, threshold=0.2, enable_preview=False,
                    cam=False, nested=False, replacewith="blur", mask_scale=1.3, ellipse=True, draw_scores=False,
                    ffmpeg_config={"codec": "libx264"}, keep_audio=False,
                )  # fmt: skip
                out.wall_s += time.perf_counter() - wall
                out.cpu_s += time.thread_time() - cpu
        finally:
            deface_module.anonymize_frame = original
        labels = load_labels(labels_path)
        if len(captured) != len(labels.frames):
            raise RuntimeError(f"deface saw {len(captured)} frames of {clip.name}, labels have {len(labels.frames)}")
        scorer = ClipScorer(deface_geometry(1.3), labels.height, labels.width)
        for truth, dets in zip(labels.frames, captured, strict=True):
            scorer.frame(truth, dets)
        out.score.add(scorer.score)

    return run


def product_run(
    clip: Path,
    labels_path: Path,
    detector: CenterFaceDetector,
    settings: Settings,
    every: int,
    options: TrackerOptions,
    out: Measured,
) -> None:
    """faceanon.video.anonymise_video end to end (decode, detect, track, mask, encode), boxes kept per frame.

    Its CPU time is the whole process's (time.process_time): the encoder may run threads of its own."""
    anonymise_video = importlib.import_module("faceanon.video").anonymise_video  # not in main yet: no static import
    labels = load_labels(labels_path)
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        result = anonymise_video(
            clip, Path(tmp) / clip.name, settings, detector=detector, every=every, tracker=options, keep_boxes=True
        )
        out.wall_s += time.perf_counter() - wall
        out.cpu_s += time.process_time() - cpu
    if result.boxes is None or len(result.boxes) != len(labels.frames):
        raise RuntimeError(f"anonymise_video gave no boxes or the wrong frame count for {clip.name}")
    scorer = ClipScorer(faceanon_geometry(settings.mask_scale, settings.shape), labels.height, labels.width)
    for truth, boxes in zip(labels.frames, result.boxes, strict=True):
        scorer.frame(truth, boxes)
    out.score.add(scorer.score)
    out.detect_s += result.timings_ms.get("detect", 0.0) / 1000


def product_available() -> bool:
    return importlib.util.find_spec("faceanon.video") is not None


def run(
    clips: list[tuple[Path, Path]], configs: list[str], fast_every: int, product: bool = False
) -> dict[str, dict[str, Measured]]:
    """resolution -> config -> Measured, every config on every clip; product: through anonymise_video (else the
    DetectTrackLoop stand-in)."""
    settings = Settings(intra_op_threads=1)
    fast_settings = Settings(intra_op_threads=1, detection="fast")
    detector = CenterFaceDetector(intra_op_threads=1)
    deface = deface_runner(1) if "deface" in configs else None
    every_frame = {
        name: opts for name, opts in (("default", TrackerOptions()), ("no-tracking", NO_TRACKING)) if name in configs
    }
    results: dict[str, dict[str, Measured]] = {}
    for clip, labels in clips:
        resolution = clip.stem.rsplit("_", 1)[1]
        out = results.setdefault(resolution, {})
        print(f"  {clip.name}", file=sys.stderr, flush=True)
        if product:
            for name, options in every_frame.items():
                product_run(clip, labels, detector, settings, 1, options, out.setdefault(name, Measured()))
            if "fast" in configs:
                fast_out = out.setdefault("fast", Measured())
                product_run(clip, labels, detector, fast_settings, fast_every, TrackerOptions(), fast_out)
        elif every_frame:
            detect_track_loop(clip, labels, detector, settings, 1, every_frame, out)
        if "fast" in configs and not product:
            fast = {"fast": TrackerOptions()}
            detect_track_loop(clip, labels, detector, fast_settings, fast_every, fast, out)
        if deface is not None:
            deface(clip, labels, out.setdefault("deface", Measured()))
    return {res: {name: by_config[name] for name in configs if name in by_config} for res, by_config in results.items()}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_tables(results: dict[str, dict[str, Measured]]) -> None:
    bins = [name for name, _, _ in HEIGHT_BINS if name != "<10"]
    print(
        "| res | config | frames | "
        + " | ".join(f"recall {b}" for b in bins)
        + " | exposed | flicker | boxes/frame | fps | fps cpu |"
    )
    print("|---" * (len(bins) + 8) + "|")
    for resolution, by_config in sorted(results.items()):
        for name, m in by_config.items():
            s = m.score
            recall = " | ".join(_fmt(s.recall(b)) for b in bins)
            exposed = f"{s.exposed}/{s.eligible}"
            flicker = f"{s.flips}/{s.pairs}"
            fps, fps_cpu = s.frames / max(m.wall_s, 1e-9), s.frames / max(m.cpu_s, 1e-9)
            boxes = s.masked_boxes / max(s.frames, 1)
            cells = [
                resolution,
                name,
                str(s.frames),
                recall,
                exposed,
                flicker,
                f"{boxes:.1f}",
                f"{fps:.1f}",
                f"{fps_cpu:.1f}",
            ]
            print("| " + " | ".join(cells) + " |")


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def goal_lines(results: dict[str, dict[str, Measured]]) -> list[str]:
    """The issue's goals, judged on what ran (a goal whose configs did not run is skipped)."""
    lines = []
    for resolution, by_config in sorted(results.items()):
        default, plain, deface, fast = (by_config.get(n) for n in ("default", "no-tracking", "deface", "fast"))
        for other, label in ((plain, "no-tracking"), (deface, "deface")):
            if default is not None and other is not None:
                ok = 2 * default.score.exposed <= other.score.exposed
                mine, theirs = default.score.exposed, other.score.exposed
                lines.append(f"{resolution}: exposed default {mine} <= half of {label} {theirs}: {_verdict(ok)}")
        if fast is not None and resolution == "720p":
            fps = fast.score.frames / max(fast.cpu_s, 1e-9)
            lines.append(
                f"720p: fast {fps:.1f} fps per CPU second >= {FAST_FPS_720P:.0f}: {_verdict(fps >= FAST_FPS_720P)}"
            )
        if default is not None and deface is not None:
            faster = default.cpu_s < deface.cpu_s
            found = sum(default.score.found.values()), sum(deface.score.found.values())
            passed = faster and found[0] > found[1]
            lines.append(
                f"{resolution}: default faster than deface (CPU {default.cpu_s:.1f} s vs {deface.cpu_s:.1f} s)"
                f" with more recall ({found[0]} vs {found[1]} face-frames found): {_verdict(passed)}"
            )
    return lines


def as_json(results: dict[str, dict[str, Measured]]) -> dict[str, Any]:
    return {
        res: {
            name: {**m.score.summary(), "wall_s": m.wall_s, "cpu_s": m.cpu_s, "detect_s": m.detect_s}
            for name, m in by.items()
        }
        for res, by in results.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--clips", type=Path, default=Path("build/video_clips"))
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=45)
    parser.add_argument("--resolutions", default="720p,1080p")
    parser.add_argument("--configs", default="default,no-tracking,fast,deface")
    parser.add_argument("--fast-every", type=int, default=3, help="detect every Nth frame in the fast config")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--runner",
        choices=("auto", "product", "loop"),
        default="auto",
        help="product: faceanon.video.anonymise_video end to end; loop: the DetectTrackLoop stand-in (no encode);"
        " auto: product when faceanon.video exists",
    )
    args = parser.parse_args(argv)
    if not (args.data / "wider_val_original").is_dir():
        print(f"no labelled photos under {args.data}", file=sys.stderr)
        return 2
    resolutions = tuple(args.resolutions.split(","))
    configs = args.configs.split(",")
    clips = build_clips(args.data, args.clips, photos=args.photos, resolutions=resolutions, frames=args.frames)
    started = time.perf_counter()
    product = args.runner == "product" or (args.runner == "auto" and product_available())
    print(f"faceanon runner: {'anonymise_video (end to end)' if product else 'DetectTrackLoop stand-in (no encode)'}")
    results = run(clips, configs, args.fast_every, product)
    seconds = time.perf_counter() - started
    every = args.fast_every
    print(f"{len(clips)} clips x {args.frames} frames; fast: fast detection every {every} frames; {seconds:.0f} s")
    print_tables(results)
    print("\nGoals")
    for line in goal_lines(results):
        print(f"- {line}")
    if args.json:
        args.json.write_text(json.dumps(as_json(results), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
