"""The video-on-AWS plan's inputs, measured on this machine: one segment's anonymise time at 1080p (and 720p),
default and --fast, and the remux cost of planning, splitting and joining; then the plan for a long video.

    PYTHONPATH=src:tests .venv/bin/python benchmarks/video_segment_time.py               # 4 s clips, 30 fps
    PYTHONPATH=src:tests .venv/bin/python benchmarks/video_segment_time.py --seconds 10 --video-minutes 30

The clip is synthetic (tests/support/videos.py: the shipped astronaut's face moving over a gradient, h264,
yuv420p), so the figures are for one face per frame. ``anonymise_video`` runs on one thread
(FACEANON_THREADS=1, the detector's one intra-op thread), as VideoFunction runs it per segment; CPU time
(``time.process_time``) is the figure to plan with on a shared machine, wall time is printed beside it.

The plan (a plan, not a measurement on AWS): wall time of an N-minute video = plan step (download + probe +
split, remux only) + one segment's anonymise time (all segments run at once, up to VideoMaxConcurrency) +
join (download segments, remux, upload): four transfers of the video's size at ``--s3-mb-per-s`` (assumed).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from faceanon.service import get_detector
from faceanon.settings import Settings
from faceanon.video import FAST_EVERY, anonymise_video
from faceanon.video_segments import join_segments, plan_segments, split_segments
from support.videos import frames_with_a_face, write_clip

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def _clip(folder: Path, name: str, size: tuple[int, int], frames: int) -> Path:
    width, height = size
    images, _ = frames_with_a_face(frames, width=width, height=height, face_height=height // 4)
    return write_clip(folder / f"{name}.mp4", images, audio=True, options={"g": "30"})


class Stopwatch:
    """Wall and CPU seconds of the block it times."""

    def __enter__(self) -> "Stopwatch":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each measured clip")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--video-minutes", type=float, default=30.0, help="the long video the plan is for")
    parser.add_argument("--segment-seconds", type=float, default=20.0, help="VideoSegmentSeconds")
    parser.add_argument("--s3-mb-per-s", type=float, default=80.0, help="assumed S3 throughput per function")
    parser.add_argument("--bitrate-mbps", type=float, default=8.0, help="assumed 1080p source bitrate")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = parser.parse_args(argv)
    settings = Settings(intra_op_threads=1)
    detector = get_detector(settings)
    frames = round(args.seconds * args.fps)
    per_frame_cpu: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        for size_name in args.sizes:
            clip = _clip(folder, size_name, SIZES[size_name], frames)
            for mode, every in (("default", 1), ("--fast", FAST_EVERY)):
                out = folder / f"{size_name}-{every}.mp4"
                with Stopwatch() as timed:
                    anonymise_video(clip, out, settings, detector=detector, every=every)
                wall, cpu = timed.wall, timed.cpu
                per_frame_cpu[(size_name, mode)] = cpu / frames
                print(
                    f"{size_name} {mode:8s}: {frames} frames in {wall:6.1f} s wall, {cpu:6.1f} s CPU -> "
                    f"{frames / cpu:5.1f} fps per CPU-second, {frames / wall:5.1f} fps wall"
                )
            if size_name == "1080p":
                plan = plan_segments(clip, 1.0)
                with Stopwatch() as split:
                    parts = split_segments(clip, plan, folder / "parts")
                with Stopwatch() as join:
                    join_segments(parts, [s.start_s for s in plan], folder / "joined.mp4")
                split_wall, join_wall = split.wall, join.wall
                remux_per_video_s = (split_wall + join_wall) / args.seconds
                print(
                    f"1080p remux: split {split_wall * 1000:.0f} ms + join {join_wall * 1000:.0f} ms for "
                    f"{args.seconds:g} s of video ({len(plan)} segments)"
                )
    if "1080p" not in args.sizes:
        return 0
    video_s = args.video_minutes * 60
    segment_frames = args.segment_seconds * args.fps
    size_mb = video_s * args.bitrate_mbps / 8
    transfer_s = size_mb / args.s3_mb_per_s
    remux_s = remux_per_video_s * video_s
    print(f"\nPLAN (not measured on AWS) for a {args.video_minutes:g}-minute 1080p video at {args.fps} fps:")
    count = video_s / args.segment_seconds
    print(
        f"  {count:.0f} segments of {args.segment_seconds:g} s (VideoMaxConcurrency >= {count:.0f}), ~{size_mb:.0f} MB"
    )
    for mode in ("default", "--fast"):
        segment_s = per_frame_cpu[("1080p", mode)] * segment_frames
        # plan: download the source, upload the raw segments; join: download the segments, upload the video.
        total = 4 * transfer_s + remux_s + segment_s
        print(
            f"  {mode:8s}: one segment {segment_s:5.0f} s (measured CPU per frame x {segment_frames:.0f}); "
            f"S3 transfers {4 * transfer_s:4.0f} s, remux {remux_s:4.1f} s -> ~{total / 60:4.1f} min wall"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
